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
use miracast_sim::os::{Os, OsConfig, SinkFacts, SinkPeer};
use miracast_sim::rules::{Findings, Violation};
use miracast_sim::sched::{RaceReport, RandomStrategy, RunEnd, RunLimits, Sched};
use miracast_sim::status::NtStatus;
use miracast_sim::time::SimTime;
use miracast_sim::wfd::sink::{MonitorEvent, Personality};
use miracast_sim::wfd::{Endpoint, Sink, SinkConfig};
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::time::Duration;

// ---------------------------------------------------------------------------------------------
// Harness: the OS model, the reference drivers and a Wi-Fi Display sink.
// ---------------------------------------------------------------------------------------------

/// The Wi-Fi Display sink state machine as the OS link's peer.
struct WfdPeer(Sink);

impl SinkPeer for WfdPeer {
    fn handle_input(&mut self, now: SimTime, bytes: &[u8]) {
        self.0.handle_input(now, bytes);
    }
    fn poll_transmit(&mut self, _now: SimTime) -> Option<Vec<u8>> {
        self.0.poll_transmit()
    }
    fn poll_timeout(&self) -> Option<SimTime> {
        self.0.poll_timeout()
    }
    fn handle_timeout(&mut self, now: SimTime) {
        self.0.handle_timeout(now);
    }
    fn poll_note(&mut self) -> Option<String> {
        self.0.poll_event().map(|e| format!("{e:?}"))
    }
    fn is_closed(&self) -> bool {
        self.0.is_closed()
    }
}

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
}

impl Outcome {
    fn rules(&self) -> Vec<u8> {
        let mut rules: Vec<u8> = self.findings.iter().map(|v| v.rule.0).collect();
        rules.sort_unstable();
        rules.dedup();
        rules
    }
}

type Script = Box<dyn FnOnce(Os, Rc<ReferenceDrivers>) -> Pin<Box<dyn Future<Output = ()>>>>;

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
    let monitor_present = sink.capabilities().edid.is_some() || sink.capabilities().connector.is_some();
    os.attach_sink(
        Box::new(WfdPeer(sink)),
        SinkFacts {
            monitor_present,
            supports_1024x768: true,
        },
    );
    let drivers = Rc::new(drivers);
    let start = Rc::new(Cell::new(None));
    let (os2, drivers2, start2) = (os.clone(), drivers.clone(), start.clone());
    sched.spawn("os-main", false, async move {
        let status = os2.bring_up_adapter().await;
        assert_eq!(status, NtStatus::STATUS_SUCCESS, "adapter bring-up");
        start2.set(Some(os2.connect().await));
        script(os2, drivers2).await;
    });
    let end = sched.run(RunLimits::default());
    let drivers = Rc::try_unwrap(drivers).ok().expect("drivers still shared");
    Outcome {
        end,
        findings: findings.snapshot(),
        races: sched.races(),
        drivers,
        start: start.get(),
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
        os.raise_chunk_interrupt(chunk(frame, part, chunk_type), vec![0xAB; 16])
            .await;
    }
}

/// The whole life of a session: streaming, a power-off commit, a test message, power on,
/// GPU contexts, then disconnection.
fn full_session() -> Script {
    Box::new(|os, _drivers| {
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
        assert_eq!(umd.standby_sent, 1, "seed {seed}: power-off reached the sink (R31)");
        assert_eq!(kmd.pending_messages(), 0, "seed {seed}");
        let names: Vec<_> = kmd.completed_messages().iter().map(|m| m.name).collect();
        assert_eq!(names, ["POWER_OFF_MONITOR", "PING", "POWER_ON_MONITOR"], "seed {seed}");
        let ping = &kmd.completed_messages()[1];
        assert_eq!(ping.io_status.status, NtStatus::STATUS_SUCCESS);
        assert_eq!(&ping.output[12..21], b"\x07\0\0\0hello");
        assert!(umd.data_rate_notifications >= 1, "seed {seed}");
        assert_eq!(kmd.monitor().0, false, "seed {seed}: departure reported (R12)");
        assert_eq!(kmd.live_gpu_contexts(), 0, "seed {seed}");
        assert!(!out.drivers.umd.has_context());
    }
}
