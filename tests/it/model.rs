//! The reference drivers: under the OS model and a Wi-Fi Display sink they keep every rule on
//! many seeds; each bug knob breaks the rule it names; and driver details checked against
//! small fake OS services (GPU contexts, caps, child relations, races).

use async_trait::async_trait;
use miracast_sim::ddi::*;
use miracast_sim::model::knobs::KNOB_CATALOGUE;
use miracast_sim::model::protocol::{
    self, IoctlRequest, KmdMessage, KmdStatusReply, ProtocolError, SinkInfo,
};
use miracast_sim::model::{
    ChunkIdFault, KmdConfig, Knobs, ReferenceDrivers, ReferenceKmd, ReferenceUmd, UmdConfig,
};
use miracast_sim::os::{Os, OsConfig, SinkFacts, SinkPeer};
use miracast_sim::rules::{Findings, RuleId, Violation, race_violation, trace_checks};
use miracast_sim::scenario::sink::sink_activity;
use miracast_sim::sched::{RaceReport, RandomStrategy, RunEnd, RunLimits, Sched};
use miracast_sim::status::NtStatus;
use miracast_sim::time::SimTime;
use miracast_sim::trace::SinkActivity;
use miracast_sim::wfd::select::DEFAULT_MIN_BITRATE_1024X768;
use miracast_sim::wfd::{Endpoint, Sink, SinkConfig};
use std::cell::{Cell, RefCell};
use std::collections::BTreeSet;
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
        Endpoint::handle_input(&mut self.0, now, bytes);
    }
    fn poll_transmit(&mut self, _now: SimTime) -> Option<Vec<u8>> {
        Endpoint::poll_transmit(&mut self.0)
    }
    fn poll_timeout(&self) -> Option<SimTime> {
        Endpoint::poll_timeout(&self.0)
    }
    fn handle_timeout(&mut self, now: SimTime) {
        Endpoint::handle_timeout(&mut self.0, now);
    }
    fn poll_note(&mut self) -> Option<SinkActivity> {
        // Events that show nothing are skipped, as the scenario sink does.
        while let Some(event) = Endpoint::poll_event(&mut self.0) {
            if let Some(activity) = sink_activity(&event) {
                return Some(activity);
            }
        }
        None
    }
    fn is_closed(&self) -> bool {
        Endpoint::is_closed(&self.0)
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
    os.set_profile(Some(miracast_sim::profile::reference()));
    os.set_hardware_busy(setup.kmd.hardware_busy);
    let sink = Sink::new(setup.sink.clone(), SimTime::ZERO).expect("sink config");
    let monitor_present =
        sink.capabilities().edid.is_some() || sink.capabilities().connector.is_some();
    let connector = sink.capabilities().connector;
    os.attach_sink(
        Box::new(WfdPeer(sink)),
        SinkFacts {
            monitor_present,
            supports_1024x768: true,
            monitor_type: connector.map(|c| VideoOutputTechnology::of_wfd_connector(Some(c.0))),
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
/// The encoder finishes one frame; it encodes only for a started Miracast session.
async fn encode_frame(os: &Os, frame: u64) {
    if os.phase() != SessionPhase::Started {
        return;
    }
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
        assert!(!kmd.monitor().0, "seed {seed}: departure reported (R12)");
        assert_eq!(kmd.live_gpu_contexts(), 0, "seed {seed}");
        assert!(!out.drivers.umd.has_context());
    }
}

/// A session exercising every path a knob can break: a chunk burst, two test messages back to
/// back, power off/on, GPU contexts, descriptor and child status queries, disconnection.
fn knob_session() -> Script {
    Box::new(|os, _drivers, _notes| {
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
            sleep(&os, 1_200).await;
            os.disconnect().await;
        })
    })
}

struct KnobCase {
    knob: serde_json::Value,
    setup: fn(&mut Setup),
    /// Rules the knob's fault also breaks in this harness's session, each a documented
    /// consequence of the fault (see [`consequences`]).
    also: &'static [RuleId],
}

fn nothing(_: &mut Setup) {}

fn low_bitrate(s: &mut Setup) {
    s.os.suggested_bitrate = 2_000_000;
    s.os.min_bitrate_1024x768 = Some(DEFAULT_MIN_BITRATE_1024X768);
}

fn tiny_chunk_queue(s: &mut Setup) {
    s.os.chunk_queue_capacity = 1;
}

fn case(knob: serde_json::Value, setup: fn(&mut Setup)) -> KnobCase {
    let name = knob.as_object().and_then(|o| o.keys().next().cloned());
    KnobCase {
        also: consequences(name.as_deref().unwrap_or("")),
        knob,
        setup,
    }
}

/// What else a knob's fault breaks in [`knob_session`], and why.
fn consequences(knob: &str) -> &'static [RuleId] {
    match knob {
        // The KMD still reports its Miracast target although the OS never obtained the
        // interface (R3).
        "incomplete_miracast_interface" => &[RuleId::R3],
        // UMD threads still at work after Stop keep DestroyMiracastContext waiting for them.
        "network_send_after_stop" | "callbacks_after_destroy" => &[RuleId::R46],
        _ => &[],
    }
}

/// Every knob with the setup that lets it show; the rules it must break are the knob
/// catalogue's, exactly.
fn knob_cases() -> Vec<KnobCase> {
    use serde_json::json;
    let mut cases: Vec<KnobCase> = KNOB_CATALOGUE
        .iter()
        .filter(|k| !matches!(k.name, "chunk_id_fault" | "gpu_context_cap"))
        .map(|k| {
            let setup: fn(&mut Setup) = match k.name {
                "miracast_target_before_interface_query" => |s| s.os.queries_miracast = false,
                "busy_wrong_status" => |s| s.kmd.hardware_busy = true,
                "insufficient_bitrate_ignored" | "insufficient_bitrate_generic_status" => {
                    low_bitrate
                }
                "no_notify_dpc_on_overflow" | "no_iframe_after_connection_reset" => {
                    tiny_chunk_queue
                }
                "mode_ignores_bandwidth" => |s| s.os.suggested_bitrate = 5_000_000,
                _ => nothing,
            };
            case(json!({ k.name: true }), setup)
        })
        .collect();
    cases.push(case(json!({"chunk_id_fault": "duplicate"}), nothing));
    cases.push(case(json!({"chunk_id_fault": "overflow"}), nothing));
    cases.push(case(json!({"gpu_context_cap": 4}), nothing));
    cases
}

const KNOB_SEEDS: std::ops::Range<u64> = 0..8;

/// Every rule a run reported: its findings and its races, as the runner maps them to rules.
fn reported(out: &Outcome) -> BTreeSet<RuleId> {
    out.findings
        .iter()
        .map(|v| v.rule)
        .chain(out.races.iter().map(|r| race_violation(r).rule))
        .collect()
}

#[test]
fn every_knob_breaks_exactly_the_rules_it_names_and_the_reference_none() {
    let cases = knob_cases();
    let covered: Vec<String> = cases
        .iter()
        .flat_map(|c| c.knob.as_object().unwrap().keys().cloned())
        .collect();
    for info in KNOB_CATALOGUE {
        assert!(
            covered.iter().any(|k| k == info.name),
            "knob {} has no case",
            info.name
        );
    }
    let mut failures = Vec::new();
    for case in &cases {
        let name = case
            .knob
            .as_object()
            .unwrap()
            .keys()
            .next()
            .unwrap()
            .clone();
        let expected: BTreeSet<RuleId> = Knobs::info(&name)
            .expect("catalogued")
            .rules
            .iter()
            .chain(case.also)
            .copied()
            .collect();
        let knobs: Knobs = serde_json::from_value(case.knob.clone()).unwrap();
        let mut setup = Setup::default();
        (case.setup)(&mut setup);
        // The same setup without the knob keeps every rule on every seed...
        for seed in KNOB_SEEDS {
            let out = run(&setup, seed, knob_session());
            if !reported(&out).is_empty() {
                failures.push(format!(
                    "{}: the reference breaks rules on seed {seed}: {:#?} {:#?}",
                    case.knob, out.findings, out.races
                ));
            }
        }
        // ...and with the knob the seeds together report exactly the knob's rules.
        setup.knobs = knobs;
        let mut union = BTreeSet::new();
        for seed in KNOB_SEEDS {
            union.extend(reported(&run(&setup, seed, knob_session())));
        }
        if union != expected {
            failures.push(format!(
                "{}: expected exactly {expected:?}, reported {union:?}",
                case.knob
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

// ---------------------------------------------------------------------------------------------
// Driver details against small fake OS services.
// ---------------------------------------------------------------------------------------------

/// dxgkrnl with a pool budget, recording indications and interrupts.
struct FakeDxgkrnl {
    pool_left: Cell<u64>,
    indications: RefCell<Vec<ChildStatus>>,
    interrupts: RefCell<Vec<MiracastEncodeChunkCompleted>>,
    interrupt_answer: Cell<NtStatus>,
    dpcs: Cell<u32>,
}

impl FakeDxgkrnl {
    fn new(pool: u64) -> Rc<Self> {
        Rc::new(FakeDxgkrnl {
            pool_left: Cell::new(pool),
            indications: RefCell::default(),
            interrupts: RefCell::default(),
            interrupt_answer: Cell::new(NtStatus::STATUS_SUCCESS),
            dpcs: Cell::new(0),
        })
    }
}

#[async_trait(?Send)]
impl DxgkrnlServices for FakeDxgkrnl {
    async fn indicate_child_status(&self, status: ChildStatus) -> NtStatus {
        self.indications.borrow_mut().push(status);
        NtStatus::STATUS_SUCCESS
    }
    async fn notify_interrupt(&self, data: MiracastEncodeChunkCompleted) -> NtStatus {
        self.interrupts.borrow_mut().push(data);
        self.interrupt_answer.get()
    }
    async fn notify_dpc(&self) {
        self.dpcs.set(self.dpcs.get() + 1);
    }
    fn allocate_pool(&self, bytes: u64) -> bool {
        match self.pool_left.get().checked_sub(bytes) {
            Some(left) => {
                self.pool_left.set(left);
                true
            }
            None => false,
        }
    }
    fn free_pool(&self, bytes: u64) {
        self.pool_left.set(self.pool_left.get() + bytes);
    }
}

/// `DXGK_MIRACAST_DISPLAY_CALLBACKS` whose completion routine runs on a new thread, possibly
/// before `send_message` returns (R27).
struct FakeDisplay {
    sched: Sched,
    kmd: RefCell<Option<Rc<ReferenceKmd>>>,
    sent: RefCell<Vec<Rc<MessageBuffers>>>,
}

#[async_trait(?Send)]
impl MiracastDisplayServices for FakeDisplay {
    fn miracast_handle(&self) -> Handle {
        Handle(0x99)
    }
    async fn send_message(
        &self,
        _: Handle,
        buffers: Rc<MessageBuffers>,
        callback_context: Option<Handle>,
    ) -> NtStatus {
        self.sent.borrow_mut().push(buffers.clone());
        if let (Some(context), Some(kmd)) = (callback_context, self.kmd.borrow().clone()) {
            self.sched.spawn("completion", false, async move {
                let io = IoStatusBlock {
                    status: NtStatus::STATUS_SUCCESS,
                    information: 0,
                };
                kmd.send_message_callback(context, io).await;
            });
        }
        self.sched.yield_now().await;
        NtStatus::STATUS_PENDING
    }
    async fn report_chunk_info(&self, _: Handle, _: ChunkInfo, _: Option<Vec<u8>>) -> NtStatus {
        NtStatus::STATUS_SUCCESS
    }
}

/// Runs `body` as one simulated thread next to the KMD on `seed`; returns the races.
fn with_kmd<F, Fut>(
    seed: u64,
    config: KmdConfig,
    knobs: Knobs,
    pool: u64,
    body: F,
) -> Vec<RaceReport>
where
    F: FnOnce(Rc<ReferenceKmd>, Rc<FakeDxgkrnl>, Rc<FakeDisplay>) -> Fut + 'static,
    Fut: Future<Output = ()> + 'static,
{
    let sched = Sched::new(Box::new(RandomStrategy::new(seed)));
    let kmd = Rc::new(ReferenceKmd::new(&sched, config, knobs));
    let dxgkrnl = FakeDxgkrnl::new(pool);
    let display = Rc::new(FakeDisplay {
        sched: sched.clone(),
        kmd: RefCell::new(Some(kmd.clone())),
        sent: RefCell::default(),
    });
    sched.spawn("os", false, async move {
        let (status, _) = kmd.start_device(dxgkrnl.clone()).await;
        assert_eq!(status, NtStatus::STATUS_SUCCESS);
        body(kmd.clone(), dxgkrnl, display.clone()).await;
        // Break the KMD <-> display cycle.
        display.kmd.borrow_mut().take();
    });
    assert_eq!(sched.run(RunLimits::default()), RunEnd::Completed);
    sched.races()
}

#[test]
fn ten_thousand_gpu_contexts_and_no_memory_exactly_when_the_pool_refuses() {
    let config = KmdConfig {
        bytes_per_gpu_context: 1024,
        ..KmdConfig::default()
    };
    with_kmd(
        1,
        config.clone(),
        Knobs::default(),
        10_000 * 1024,
        |kmd, dxgkrnl, _| async move {
            let args = CreateContextArgs::default();
            let mut handles = Vec::new();
            for _ in 0..10_000 {
                let (status, handle) = kmd.create_context(&args).await;
                assert_eq!(status, NtStatus::STATUS_SUCCESS);
                handles.push(handle);
            }
            assert_eq!(dxgkrnl.pool_left.get(), 0);
            // The pool is spent: exactly STATUS_NO_MEMORY (R71).
            assert_eq!(
                kmd.create_context(&args).await.0,
                NtStatus::STATUS_NO_MEMORY
            );
            let incompatible = CreateContextArgs {
                private_driver_data: miracast_sim::model::kmd::INCOMPATIBLE_D3D_UMD_MARKER.to_vec(),
                ..CreateContextArgs::default()
            };
            assert_eq!(
                kmd.create_context(&incompatible).await.0,
                NtStatus::STATUS_GRAPHICS_DRIVER_MISMATCH
            );
            for handle in handles {
                assert_eq!(kmd.destroy_context(handle).await, NtStatus::STATUS_SUCCESS);
            }
            // R72: everything came back.
            assert_eq!(dxgkrnl.pool_left.get(), 10_000 * 1024);
            assert_eq!(kmd.live_gpu_contexts(), 0);
            assert_eq!(
                kmd.destroy_context(Handle(1)).await,
                NtStatus::STATUS_INVALID_HANDLE
            );
        },
    );
}

#[test]
fn caps_size_is_checked_and_relations_keep_their_terminator() {
    with_kmd(
        2,
        KmdConfig::default(),
        Knobs::default(),
        1 << 20,
        |kmd, _, _| async move {
            let (status, _, written) = kmd.miracast_query_caps(4).await;
            assert_eq!((status, written), (NtStatus::STATUS_BUFFER_TOO_SMALL, 0));
            let (status, caps, written) = kmd.miracast_query_caps(64).await;
            assert_eq!(
                (status, written),
                (NtStatus::STATUS_SUCCESS, DXGK_MIRACAST_CAPS_SIZE)
            );
            assert!(caps.hdcp_support());
            assert_eq!(caps.reserved(), 0);
            // Before the interface query the counted child is not yet a Miracast target (R3).
            let mut relations = vec![ChildDescriptor::default(); 4];
            assert_eq!(
                kmd.query_child_relations(&mut relations).await,
                NtStatus::STATUS_SUCCESS
            );
            assert!(
                relations
                    .iter()
                    .all(|c| c.interface_technology != VideoOutputTechnology::Miracast)
            );
            let (status, interface) = kmd.query_miracast_interface(64, 1).await;
            assert_eq!(status, NtStatus::STATUS_SUCCESS);
            assert!(interface.unwrap().null_entries().is_empty());
            assert_eq!(
                kmd.query_child_relations(&mut relations[..3]).await,
                NtStatus::STATUS_BUFFER_TOO_SMALL
            );
            assert_eq!(
                kmd.query_child_relations(&mut relations).await,
                NtStatus::STATUS_SUCCESS
            );
            let miracast: Vec<_> = relations
                .iter()
                .filter(|c| c.interface_technology == VideoOutputTechnology::Miracast)
                .collect();
            assert_eq!(miracast.len(), 1);
            assert_eq!(miracast[0].child_uid, 4);
            assert_eq!(miracast[0].hpd_awareness, HpdAwareness::Interruptible);
            assert_eq!(miracast[0].child_device_type, ChildDeviceType::VideoOutput);
            assert!(relations[3].is_zeroed(), "R6 terminator");
        },
    );
    // Without Miracast: no interface, no caps, no Miracast child.
    let config = KmdConfig {
        miracast_supported: false,
        ..KmdConfig::default()
    };
    with_kmd(
        3,
        config,
        Knobs::default(),
        1 << 20,
        |kmd, _, _| async move {
            assert_eq!(
                kmd.query_miracast_interface(64, 1).await,
                (NtStatus::STATUS_NOT_SUPPORTED, None)
            );
            assert_eq!(
                kmd.miracast_query_caps(8).await.0,
                NtStatus::STATUS_NOT_SUPPORTED
            );
        },
    );
}

#[test]
fn arrival_departure_and_context_lifetime() {
    with_kmd(
        4,
        KmdConfig::default(),
        Knobs::default(),
        1 << 20,
        |kmd, dxgkrnl, display| async move {
            let _ = kmd.query_miracast_interface(64, 1).await;
            let mut status = ChildStatus {
                child_uid: 4,
                status: ChildStatusKind::Uninitialized,
            };
            let _ = kmd.query_child_status(&mut status, true).await;
            assert!(matches!(
                status.status,
                ChildStatusKind::MiracastConnection {
                    connected: false,
                    ..
                }
            ));
            kmd.set_hardware_busy(true);
            assert_eq!(
                kmd.miracast_create_context(display.clone()).await.0,
                NtStatus::STATUS_RESOURCE_IN_USE
            );
            kmd.set_hardware_busy(false);
            let (status, context, target) = kmd.miracast_create_context(display.clone()).await;
            assert_eq!((status, target), (NtStatus::STATUS_SUCCESS, 4));
            let arrived = IoctlRequest::MonitorArrived {
                monitor_type: VideoOutputTechnology::Hdmi,
                edid: vec![0, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0],
            };
            let mut out = [0u8; 32];
            let (st, n) = kmd
                .miracast_io_control(context, false, &arrived.encode(), &mut out)
                .await;
            assert_eq!((st, n), (NtStatus::STATUS_SUCCESS, 0));
            assert_eq!(
                dxgkrnl.indications.borrow().last().unwrap().status,
                ChildStatusKind::MiracastConnection {
                    connected: true,
                    monitor_type: VideoOutputTechnology::Hdmi
                }
            );
            assert_eq!(
                kmd.query_device_descriptor(4).await.0,
                NtStatus::STATUS_SUCCESS
            );
            // R16: the last reported connector is repeated.
            let mut status = ChildStatus {
                child_uid: 4,
                status: ChildStatusKind::Uninitialized,
            };
            let _ = kmd.query_child_status(&mut status, true).await;
            assert_eq!(
                status.status,
                ChildStatusKind::MiracastConnection {
                    connected: true,
                    monitor_type: VideoOutputTechnology::Hdmi
                }
            );
            // R23: malformed and short input, tiny output buffers.
            let mut bad = arrived.encode();
            bad.pop();
            assert_eq!(
                kmd.miracast_io_control(context, false, &bad, &mut out)
                    .await,
                (NtStatus::STATUS_INVALID_PARAMETER, 0)
            );
            let query = IoctlRequest::QueryStatus.encode();
            assert_eq!(
                kmd.miracast_io_control(context, true, &query, &mut out[..8])
                    .await,
                (NtStatus::STATUS_BUFFER_TOO_SMALL, 0)
            );
            let (st, n) = kmd
                .miracast_io_control(context, true, &query, &mut out)
                .await;
            assert_eq!(
                (st, n as usize),
                (NtStatus::STATUS_SUCCESS, KmdStatusReply::SIZE)
            );
            let reply = KmdStatusReply::decode(&out[..KmdStatusReply::SIZE]).unwrap();
            assert!(reply.monitor_connected);
            assert_eq!(
                kmd.miracast_io_control(Handle(1), false, &query, &mut out)
                    .await
                    .0,
                NtStatus::STATUS_INVALID_HANDLE
            );
            // R12: destroy reports departure and frees the context's pool.
            let before = dxgkrnl.pool_left.get();
            kmd.miracast_destroy_context(context).await;
            assert_eq!(
                dxgkrnl.indications.borrow().last().unwrap().status,
                ChildStatusKind::MiracastConnection {
                    connected: false,
                    monitor_type: VideoOutputTechnology::Hdmi
                }
            );
            assert!(dxgkrnl.pool_left.get() > before);
            assert!(!kmd.has_miracast_context());
        },
    );
}

#[test]
fn chunk_interrupts_follow_the_caps_and_overflow_asks_for_a_dpc() {
    let knobs = Knobs {
        chunk_id_fault: Some(ChunkIdFault::Overflow),
        ..Knobs::default()
    };
    for (knobs, corrupt) in [(Knobs::default(), false), (knobs, true)] {
        with_kmd(
            5,
            KmdConfig::default(),
            knobs,
            1 << 20,
            move |kmd, dxgkrnl, _| async move {
                dxgkrnl.interrupt_answer.set(NtStatus::STATUS_NO_MEMORY);
                let event = HardwareEvent::ChunkProcessed {
                    chunk_info: chunk(9, 0, ChunkType::EncodeComplete),
                    private_driver_data: vec![1; 200],
                };
                assert!(kmd.interrupt_routine(event).await);
                let sent = dxgkrnl.interrupts.borrow()[0].clone();
                assert_eq!(sent.vidpn_target_id, 4);
                assert_eq!(sent.private_driver_data.len(), 64, "R52");
                assert_eq!(sent.chunk_info.chunk_id.part_number() != 0, corrupt, "R58");
                assert_eq!(dxgkrnl.dpcs.get(), 1, "R53");
            },
        );
    }
}

#[test]
fn completion_state_races_only_with_the_r27_knob() {
    let session = |kmd: Rc<ReferenceKmd>, _: Rc<FakeDxgkrnl>, display: Rc<FakeDisplay>| async move {
        let _ = kmd.query_miracast_interface(64, 1).await;
        let (_, _, _) = kmd.miracast_create_context(display.clone()).await;
        for seq in 0..3 {
            let ping = KmdMessage::Ping { seq, data: vec![] }.encode();
            assert_eq!(
                kmd.escape_send_message(&ping, 16).await,
                NtStatus::STATUS_PENDING
            );
        }
        let _ = kmd
            .commit_vidpn(VidPnCommit {
                target_id: 4,
                monitor_power_off: true,
            })
            .await;
        for _ in 0..8 {
            display.sched.yield_now().await;
        }
    };
    for seed in 0..32 {
        let races = with_kmd(
            seed,
            KmdConfig::default(),
            Knobs::default(),
            1 << 20,
            session,
        );
        assert!(races.is_empty(), "seed {seed}: {races:#?}");
    }
    let knobs = Knobs {
        pending_state_recorded_after_send: true,
        ..Knobs::default()
    };
    let racy = (0..32)
        .filter(|seed| {
            let races = with_kmd(*seed, KmdConfig::default(), knobs.clone(), 1 << 20, session);
            races.iter().any(|r| r.cell == "kmd.messages")
        })
        .count();
    assert!(racy > 0, "the R27 knob never raced");
}

/// `MIRACAST_CALLBACKS` that accept everything.
struct QuietUmdServices;

#[async_trait(?Send)]
impl MiracastUmdServices for QuietUmdServices {
    async fn report_session_status(&self, _: Handle, _: MiracastStatus, _: NtStatus) {}
    async fn miracast_io_control(
        &self,
        _: Handle,
        _: bool,
        _: &[u8],
        _: &mut [u8],
    ) -> (NtStatus, u32) {
        (NtStatus::STATUS_SUCCESS, 0)
    }
    async fn report_statistic(&self, _: Handle, _: StatisticData) {}
    async fn get_next_chunk_data(
        &self,
        _: Handle,
        _: u32,
        _: &[miracast_sim::sched::SimEvent],
        _: u32,
    ) -> ChunkDataResult {
        ChunkDataResult {
            status: NtStatus::STATUS_INSTANCE_NOT_AVAILABLE,
            size: 0,
            chunks: Vec::new(),
            outstanding: 0,
        }
    }
    async fn register_for_data_rate_notifications(&self, _: Handle, _: Option<Handle>) -> NtStatus {
        NtStatus::STATUS_SUCCESS
    }
}

/// Delivers two kernel messages to the UMD at once on two threads (R30); returns the races.
fn concurrent_messages(seed: u64, knobs: Knobs) -> Vec<RaceReport> {
    let sched = Sched::new(Box::new(RandomStrategy::new(seed)));
    let umd = Rc::new(ReferenceUmd::new(&sched, UmdConfig::default(), knobs));
    let (u, s) = (umd.clone(), sched.clone());
    sched.spawn("os", false, async move {
        let (status, context) = u
            .create_miracast_context(Handle(5), Rc::new(QuietUmdServices))
            .await;
        assert_eq!(status, NtStatus::STATUS_SUCCESS);
        for seq in 0..2 {
            let u = u.clone();
            s.spawn(format!("deliver-{seq}"), false, async move {
                let input = KmdMessage::Ping {
                    seq,
                    data: vec![1, 2, 3],
                }
                .encode();
                let mut output = [0u8; 8];
                let (status, n) = u
                    .handle_kernel_mode_message(context, &input, &mut output)
                    .await;
                assert_eq!(
                    (status, n),
                    (NtStatus::STATUS_SUCCESS, 8),
                    "echo truncated to the output"
                );
                assert_eq!(&output[..4], b"MCKM");
            });
        }
    });
    assert_eq!(sched.run(RunLimits::default()), RunEnd::Completed);
    assert!(umd.observations().kernel_messages > 0);
    sched.races()
}

#[test]
fn kernel_messages_race_only_without_the_lock() {
    for seed in 0..32 {
        let races = concurrent_messages(seed, Knobs::default());
        assert!(races.is_empty(), "seed {seed}: {races:#?}");
    }
    let knobs = Knobs {
        kernel_message_unlocked: true,
        ..Knobs::default()
    };
    for seed in 0..32 {
        let races = concurrent_messages(seed, knobs.clone());
        assert!(
            races.iter().any(|r| r.cell == "umd.state"),
            "seed {seed}: no race without the lock"
        );
    }
}

#[test]
fn protocol_round_trips_and_rejects_malformed_frames() {
    let requests = [
        IoctlRequest::MonitorArrived {
            monitor_type: VideoOutputTechnology::DisplayportExternal,
            edid: (0..=255).collect(),
        },
        IoctlRequest::MonitorDeparted,
        IoctlRequest::SinkInfo(SinkInfo {
            width: 1920,
            height: 1080,
            refresh_hz: 60,
            hdcp: true,
            reduced_mode_list: true,
            encoder_bit_rate: 17_418_240,
        }),
        IoctlRequest::QueryStatus,
        IoctlRequest::RequestIframe,
    ];
    for request in &requests {
        let bytes = request.encode();
        assert_eq!(IoctlRequest::decode(&bytes).as_ref(), Ok(request));
        assert_eq!(protocol::describe_ioctl(&bytes), Some(request.name()));
        // Every truncation and one trailing byte are errors, never panics.
        for cut in 0..bytes.len() {
            assert!(
                IoctlRequest::decode(&bytes[..cut]).is_err(),
                "{} cut at {cut}",
                request.name()
            );
        }
        let mut long = bytes.clone();
        long.push(0);
        assert!(IoctlRequest::decode(&long).is_err());
    }
    for message in [
        KmdMessage::PowerOffMonitor,
        KmdMessage::PowerOnMonitor,
        KmdMessage::Ping {
            seq: 3,
            data: b"abc".to_vec(),
        },
    ] {
        let bytes = message.encode();
        assert_eq!(KmdMessage::decode(&bytes), Ok(message.clone()));
        assert_eq!(protocol::describe_message(&bytes), Some(message.name()));
    }
    let mut unknown = IoctlRequest::QueryStatus.encode();
    unknown[4] = 99;
    assert_eq!(
        IoctlRequest::decode(&unknown),
        Err(ProtocolError::UnknownOp(99))
    );
    assert_eq!(protocol::describe_ioctl(&unknown), None);
    assert_eq!(protocol::describe_ioctl(b"garbage"), None);
    // Pseudo-random bytes never decode into a panic.
    let mut x: u32 = 12345;
    for len in 0..200 {
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                (x >> 16) as u8
            })
            .collect();
        let _ = IoctlRequest::decode(&bytes);
        let _ = KmdMessage::decode(&bytes);
    }
}
