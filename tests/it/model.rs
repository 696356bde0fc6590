//! The reference drivers: under the OS model and a Wi-Fi Display sink they keep every rule on
//! many seeds; each bug knob breaks the rule it names; and driver details checked against
//! small fake OS services (GPU contexts, caps, child relations, races).

use async_trait::async_trait;
use miracast_sim::ddi::*;
use miracast_sim::model::protocol::{
    self, IoctlRequest, KmdMessage, KmdStatusReply, ProtocolError, SinkInfo,
};
use miracast_sim::model::{
    ChunkIdFault, KmdConfig, Knobs, ReferenceDrivers, ReferenceKmd, ReferenceUmd, UmdConfig,
};
use miracast_sim::os::{Os, OsConfig, SinkFacts};
use miracast_sim::rules::{Findings, Violation, trace_checks};
use miracast_sim::sched::{RaceReport, RandomStrategy, RunEnd, RunLimits, Sched};
use miracast_sim::status::NtStatus;
use miracast_sim::time::SimTime;
use miracast_sim::wfd::select::DEFAULT_MIN_BITRATE_1024X768;
use miracast_sim::wfd::sink::{MonitorEvent, Personality};
use miracast_sim::wfd::{Sink, SinkConfig};
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::time::Duration;

// ---------------------------------------------------------------------------------------------
// Harness: the OS model, the reference drivers and a Wi-Fi Display sink.
// ---------------------------------------------------------------------------------------------

/// Everything a run is set up with.
#[derive(Clone)]
struct Setup {
    kmd: KmdConfig,
    umd: UmdConfig,
    knobs: Knobs,
    os: OsConfig,
    sink: SinkConfig,
}

impl Default for Setup {
    fn default() -> Self {
        Setup {
            kmd: KmdConfig::default(),
            umd: UmdConfig {
                register_data_rate_notifications: true,
                ..UmdConfig::default()
            },
            knobs: Knobs::default(),
            os: OsConfig::default(),
            sink: SinkConfig::default(),
        }
    }
}

/// What a run produced.
struct Outcome {
    end: RunEnd,
    findings: Vec<Violation>,
    races: Vec<RaceReport>,
    drivers: ReferenceDrivers,
    start: Option<NtStatus>,
    notes: Vec<String>,
}

impl Outcome {
    fn rules(&self) -> Vec<u8> {
        let mut rules: Vec<u8> = self.findings.iter().map(|v| v.rule.0).collect();
        rules.sort_unstable();
        rules.dedup();
        rules
    }
}

/// Lines a script writes for the checks to read.
type Notes = Rc<RefCell<Vec<String>>>;

type Script = Box<dyn FnOnce(Os, Rc<ReferenceDrivers>, Notes) -> Pin<Box<dyn Future<Output = ()>>>>;

/// Runs `script` as the OS's main thread on seed `seed`.
fn run(setup: &Setup, seed: u64, script: Script) -> Outcome {
    let sched = Sched::new(Box::new(RandomStrategy::new(seed)));
    let findings = Findings::default();
    let drivers = ReferenceDrivers::new(&sched, setup.kmd.clone(), setup.umd.clone(), &setup.knobs);
    let os = Os::new(
        &sched,
        &findings,
        setup.os.clone(),
        drivers.kmd.clone(),
        drivers.umd.clone(),
    );
    os.set_ioctl_describer(protocol::describe_ioctl);
    let sink = Sink::new(setup.sink.clone(), SimTime::ZERO).expect("sink config");
    let monitor_present =
        sink.capabilities().edid.is_some() || sink.capabilities().connector.is_some();
    os.attach_sink(
        Box::new(sink),
        SinkFacts {
            monitor_present,
            supports_1024x768: true,
        },
    );
    let drivers = Rc::new(drivers);
    let start = Rc::new(Cell::new(None));
    let notes: Notes = Rc::default();
    let (os2, drivers2, start2, notes2) =
        (os.clone(), drivers.clone(), start.clone(), notes.clone());
    sched.spawn("os-main", false, async move {
        if os2.bring_up_adapter().await != NtStatus::STATUS_SUCCESS {
            return;
        }
        start2.set(Some(os2.connect().await));
        script(os2, drivers2, notes2).await;
    });
    let end = sched.run(RunLimits::default());
    let drivers = Rc::try_unwrap(drivers).ok().expect("drivers still shared");
    let mut all = findings.snapshot();
    all.extend(trace_checks::check(&sched.take_trace()));
    Outcome {
        end,
        findings: all,
        races: sched.races(),
        drivers,
        start: start.get(),
        notes: notes.take(),
    }
}

fn sleep(os: &Os, ms: u64) -> impl Future<Output = ()> + use<> {
    os.sched().sleep(Duration::from_millis(ms))
}

fn chunk(frame: u64, part: u64, chunk_type: ChunkType) -> ChunkInfo {
    ChunkInfo {
        chunk_type,
        chunk_id: ChunkId::new(frame, part).unwrap(),
        processing_time: 500,
        encode_rate: if chunk_type == ChunkType::EncodeComplete {
            8_000
        } else {
            0
        },
    }
}

/// One frame the way the hardware reports it: start, colour conversion, two encoded slices
/// (the last one part 0, R58).
async fn encode_frame(os: &Os, frame: u64) {
    for (part, chunk_type) in [
        (0, ChunkType::FrameStart),
        (0, ChunkType::ColorConvertComplete),
        (1, ChunkType::EncodeComplete),
        (0, ChunkType::EncodeComplete),
    ] {
        os.raise_chunk_interrupt(chunk(frame, part, chunk_type), vec![0xAB; 96])
            .await;
    }
}

/// The whole life of a session: streaming, a power-off commit, a test message, power on,
/// GPU contexts, then disconnection.
fn full_session() -> Script {
    Box::new(|os, _drivers, _notes| {
        Box::pin(async move {
            sleep(&os, 200).await;
            for frame in 1..=3 {
                encode_frame(&os, frame).await;
                sleep(&os, 16).await;
            }
            let _ = os.create_gpu_contexts(8, false).await;
            let _ = os.commit_vidpn(true).await;
            sleep(&os, 50).await;
            let ping = KmdMessage::Ping {
                seq: 7,
                data: b"hello".to_vec(),
            }
            .encode();
            let _ = os.escape_send_message(&ping, 64).await;
            sleep(&os, 50).await;
            let _ = os.commit_vidpn(false).await;
            sleep(&os, 1_500).await;
            let _ = os.destroy_gpu_contexts().await;
            os.disconnect().await;
        })
    })
}

#[test]
fn reference_drivers_keep_every_rule_on_many_seeds() {
    let setup = Setup::default();
    for seed in 0..24 {
        let out = run(&setup, seed, full_session());
        assert_eq!(out.end, RunEnd::Completed, "seed {seed}");
        assert_eq!(out.start, Some(NtStatus::STATUS_SUCCESS), "seed {seed}");
        assert!(out.findings.is_empty(), "seed {seed}: {:#?}", out.findings);
        assert!(out.races.is_empty(), "seed {seed}: {:#?}", out.races);
        let kmd = &out.drivers.kmd;
        let umd = out.drivers.umd.observations();
        // Two EncodeComplete slices per frame went out, each after its CHUNK_SENT (R59).
        assert_eq!(umd.chunks_sent.len(), 6, "seed {seed}");
        assert_eq!(
            umd.standby_sent, 1,
            "seed {seed}: power-off reached the sink (R31)"
        );
        assert_eq!(kmd.pending_messages(), 0, "seed {seed}");
        let names: Vec<_> = kmd.completed_messages().iter().map(|m| m.name).collect();
        assert_eq!(
            names,
            ["POWER_OFF_MONITOR", "PING", "POWER_ON_MONITOR"],
            "seed {seed}"
        );
        let ping = &kmd.completed_messages()[1];
        assert_eq!(ping.io_status.status, NtStatus::STATUS_SUCCESS);
        assert_eq!(&ping.output[12..21], b"\x07\0\0\0hello");
        assert!(umd.data_rate_notifications >= 1, "seed {seed}");
        assert_eq!(
            kmd.monitor().0,
            false,
            "seed {seed}: departure reported (R12)"
        );
        assert_eq!(kmd.live_gpu_contexts(), 0, "seed {seed}");
        assert!(!out.drivers.umd.has_context());
    }
}

/// A session exercising every path a knob can break: a chunk burst, two test messages back to
/// back, power off/on, GPU contexts, descriptor and child status queries, disconnection.
fn knob_session() -> Script {
    Box::new(|os, drivers, notes| {
        Box::pin(async move {
            sleep(&os, 200).await;
            for frame in 1..=4 {
                encode_frame(&os, frame).await;
            }
            sleep(&os, 16).await;
            let _ = os.commit_vidpn(true).await;
            for seq in 0..2 {
                let ping = KmdMessage::Ping {
                    seq,
                    data: Vec::new(),
                }
                .encode();
                let _ = os.escape_send_message(&ping, 16).await;
            }
            sleep(&os, 50).await;
            let _ = os.commit_vidpn(false).await;
            let _ = os.create_gpu_contexts(16, false).await;
            let _ = os.destroy_gpu_contexts().await;
            let target = drivers.kmd.config().miracast_target_id;
            let (status, _) = drivers.kmd.query_device_descriptor(target).await;
            notes.borrow_mut().push(format!("descriptor {status}"));
            sleep(&os, 1_200).await;
            os.disconnect().await;
        })
    })
}

/// How a knob shows.
enum Shows {
    /// A finding of one of these rules, online or from the trace.
    Rule(&'static [u8]),
    /// A race report on this tracked cell.
    Race(&'static str),
    /// A driver observation, described.
    Observed(&'static str, fn(&Outcome) -> bool),
}

struct KnobCase {
    knob: serde_json::Value,
    setup: fn(&mut Setup),
    shows: Shows,
}

fn nothing(_: &mut Setup) {}

fn low_bitrate(s: &mut Setup) {
    s.os.suggested_bitrate = 2_000_000;
    s.os.min_bitrate_1024x768 = Some(DEFAULT_MIN_BITRATE_1024X768);
}

fn tiny_chunk_queue(s: &mut Setup) {
    s.os.chunk_queue_capacity = 1;
}

fn case(knob: serde_json::Value, setup: fn(&mut Setup), shows: Shows) -> KnobCase {
    KnobCase { knob, setup, shows }
}

fn knob_cases() -> Vec<KnobCase> {
    use Shows::*;
    use serde_json::json;
    vec![
        case(
            json!({"incomplete_miracast_interface": true}),
            nothing,
            Rule(&[1]),
        ),
        case(
            json!({"miracast_target_before_interface_query": true}),
            |s| s.os.queries_miracast = false,
            Rule(&[3]),
        ),
        case(json!({"two_miracast_targets": true}), nothing, Rule(&[4])),
        case(json!({"miracast_hpd_polled": true}), nothing, Rule(&[5])),
        case(
            json!({"nonzero_child_relations_terminator": true}),
            nothing,
            Rule(&[6]),
        ),
        case(
            json!({"caps_written_past_buffer": true}),
            nothing,
            Rule(&[8]),
        ),
        case(json!({"caps_reserved_bits": true}), nothing, Rule(&[8])),
        case(
            json!({"monitor_before_session": true}),
            nothing,
            Rule(&[9, 16]),
        ),
        case(
            json!({"no_departure_at_kmd_destroy": true}),
            nothing,
            Rule(&[12]),
        ),
        case(
            json!({"departure_ioctl_in_stop": true}),
            nothing,
            Observed(
                "MONITOR_DEPARTED sent although the sink reported none",
                |o| {
                    o.drivers
                        .umd
                        .observations()
                        .ioctls
                        .iter()
                        .any(|(op, _)| *op == "MONITOR_DEPARTED")
                },
            ),
        ),
        case(
            json!({"edid_not_returned": true}),
            nothing,
            Observed("QueryDeviceDescriptor failed after an EDID arrived", |o| {
                o.notes
                    .iter()
                    .any(|n| n.starts_with("descriptor ") && !n.contains("STATUS_SUCCESS"))
            }),
        ),
        case(
            json!({"child_status_wrong_arm": true}),
            nothing,
            Rule(&[16]),
        ),
        case(
            json!({"wrong_miracast_target_id": true}),
            nothing,
            Rule(&[17]),
        ),
        case(
            json!({"busy_wrong_status": true}),
            |s| s.kmd.hardware_busy = true,
            Observed(
                "busy hardware answered with STATUS_INSUFFICIENT_RESOURCES",
                |o| o.start == Some(NtStatus::STATUS_INSUFFICIENT_RESOURCES),
            ),
        ),
        case(
            json!({"io_control_overstates_bytes_returned": true}),
            nothing,
            Rule(&[23]),
        ),
        case(
            json!({"send_pending_treated_as_failure": true}),
            nothing,
            Rule(&[25, 26]),
        ),
        case(
            json!({"message_buffer_released_early": true}),
            nothing,
            Rule(&[26]),
        ),
        case(
            json!({"pending_state_recorded_after_send": true}),
            nothing,
            Race("kmd.messages"),
        ),
        case(
            json!({"kernel_message_unlocked": true}),
            nothing,
            Race("umd.state"),
        ),
        case(json!({"no_power_off_message": true}), nothing, Rule(&[31])),
        case(
            json!({"network_send_after_stop": true}),
            nothing,
            Rule(&[32]),
        ),
        case(
            json!({"no_query_interface_export": true}),
            nothing,
            Rule(&[33]),
        ),
        case(
            json!({"null_handle_kmd_message_entry": true}),
            nothing,
            Rule(&[34]),
        ),
        case(
            json!({"callbacks_after_destroy": true}),
            nothing,
            Rule(&[36]),
        ),
        case(
            json!({"start_stop_state_unlocked": true}),
            nothing,
            Race("umd.state"),
        ),
        case(
            json!({"insufficient_bitrate_ignored": true}),
            low_bitrate,
            Rule(&[39]),
        ),
        case(
            json!({"insufficient_bitrate_generic_status": true}),
            low_bitrate,
            Rule(&[39]),
        ),
        case(
            json!({"session_info_reserved_bits": true}),
            nothing,
            Rule(&[40]),
        ),
        case(
            json!({"session_info_wrong_monitor_connected": true}),
            nothing,
            Rule(&[40]),
        ),
        case(json!({"close_rtsp_socket": true}), nothing, Rule(&[41])),
        case(
            json!({"monitor_arrival_inside_start": true}),
            nothing,
            Rule(&[43]),
        ),
        case(json!({"slow_stop": true}), nothing, Rule(&[45, 20])),
        case(
            json!({"destroy_leaves_thread_alive": true}),
            nothing,
            Rule(&[46]),
        ),
        case(json!({"slow_destroy": true}), nothing, Rule(&[46])),
        case(
            json!({"register_data_rate_off_thread": true}),
            nothing,
            Rule(&[49]),
        ),
        case(
            json!({"chunk_interrupt_wrong_target": true}),
            nothing,
            Rule(&[51]),
        ),
        case(
            json!({"chunk_private_data_over_caps": true}),
            nothing,
            Rule(&[52]),
        ),
        case(
            json!({"no_notify_dpc_on_overflow": true}),
            tiny_chunk_queue,
            Rule(&[53]),
        ),
        case(
            json!({"no_iframe_after_connection_reset": true}),
            tiny_chunk_queue,
            Observed("a connection reset without a REQUEST_IFRAME", |o| {
                let umd = o.drivers.umd.observations();
                umd.connection_resets > 0 && o.drivers.kmd.iframe_requests() == 0
            }),
        ),
        case(
            json!({"report_chunk_info_private_data": true}),
            nothing,
            Rule(&[57]),
        ),
        case(
            json!({"chunk_id_fault": "duplicate"}),
            nothing,
            Rule(&[58, 59]),
        ),
        case(
            json!({"chunk_id_fault": "overflow"}),
            nothing,
            Rule(&[58, 59]),
        ),
        case(
            json!({"reserved_protocol_event": true}),
            nothing,
            Rule(&[61]),
        ),
        case(
            json!({"mode_ignores_bandwidth": true}),
            |s| s.os.suggested_bitrate = 5_000_000,
            Observed("1080p chosen at 5 Mbit/s, mode list not reduced", |o| {
                let umd = o.drivers.umd.observations();
                let n = umd.negotiated.expect("negotiated");
                n.video.mode.height == 1080
                    && !o
                        .drivers
                        .kmd
                        .sink_info()
                        .is_some_and(|i| i.reduced_mode_list)
            }),
        ),
        case(
            json!({"monitor_type_always_miracast": true}),
            nothing,
            Observed("an HDMI monitor reported as D3DKMDT_VOT_MIRACAST", |o| {
                o.drivers.kmd.monitor().1 == VideoOutputTechnology::Miracast
            }),
        ),
        case(json!({"send_message_from_isr": true}), nothing, Rule(&[69])),
        case(json!({"gpu_context_cap": 4}), nothing, Rule(&[71])),
        case(
            json!({"gpu_context_leaked_on_destroy": true}),
            nothing,
            Rule(&[72]),
        ),
    ]
}

const KNOB_SEEDS: std::ops::Range<u64> = 0..8;

fn shows(out: &Outcome, shows: &Shows) -> bool {
    match shows {
        Shows::Rule(rules) => out.findings.iter().any(|v| rules.contains(&v.rule.0)),
        Shows::Race(cell) => out.races.iter().any(|r| r.cell == *cell),
        Shows::Observed(_, f) => f(out),
    }
}

#[test]
fn every_knob_breaks_the_rule_it_names_and_the_reference_does_not() {
    let cases = knob_cases();
    let covered: Vec<String> = cases
        .iter()
        .flat_map(|c| c.knob.as_object().unwrap().keys().cloned())
        .collect();
    for info in miracast_sim::model::knobs::KNOB_CATALOGUE {
        assert!(
            covered.iter().any(|k| k == info.name),
            "knob {} has no case",
            info.name
        );
    }
    let mut failures = Vec::new();
    for case in &cases {
        let knobs: Knobs = serde_json::from_value(case.knob.clone()).unwrap();
        let mut setup = Setup::default();
        (case.setup)(&mut setup);
        // The same setup without the knob keeps the rule on every seed...
        for seed in KNOB_SEEDS {
            let out = run(&setup, seed, knob_session());
            if shows(&out, &case.shows) || !out.races.is_empty() {
                failures.push(format!(
                    "{}: the reference shows it on seed {seed}: {:#?} {:#?}",
                    case.knob, out.findings, out.races
                ));
            }
        }
        // ...and the knob breaks it on at least one.
        setup.knobs = knobs;
        let broke = KNOB_SEEDS
            .into_iter()
            .any(|seed| shows(&run(&setup, seed, knob_session()), &case.shows));
        let what = match &case.shows {
            Shows::Rule(r) => format!("rule(s) {r:?}"),
            Shows::Race(c) => format!("a race on {c}"),
            Shows::Observed(d, _) => (*d).to_owned(),
        };
        if !broke {
            failures.push(format!("{}: never showed {what}", case.knob));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
