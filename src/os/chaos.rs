//! Driver behaviour is never a panic: a fake KMD and UMD call the OS back with random
//! arguments from inside random DDIs (stale handles, foreign devices, odd sizes, too many wait
//! events, reserved values, double registrations) and once more after the run's OS is gone.
//! Every run must end, every finding must name a rule its check may report, and nothing may
//! panic.

use super::*;
use crate::rules::Findings;
use crate::sched::{RandomStrategy, RunLimits};
use async_trait::async_trait;
use proptest::prelude::*;
use std::cell::RefCell;

/// One call a chaos driver makes back into the OS.
#[derive(Clone, Debug)]
enum Poke {
    Send {
        stale: bool,
        input: usize,
        output: usize,
        callback: bool,
        release: bool,
    },
    ChunkInfo {
        stale: bool,
        kind: u8,
        frame: u64,
        part: u64,
        private: bool,
    },
    ChildStatus {
        child_uid: u32,
        arm: u8,
        connected: bool,
    },
    Interrupt {
        target: u32,
        kind: u8,
        private: usize,
    },
    Dpc,
    Pool {
        allocate: bool,
        bytes: u64,
    },
    SessionStatus {
        foreign: bool,
    },
    IoControl {
        foreign: bool,
        hardware_access: bool,
        input: usize,
        output: usize,
    },
    Statistic {
        kind: u8,
    },
    ChunkData {
        timeout_ms: u32,
        events: usize,
        buffer: u32,
    },
    DataRate {
        register: bool,
    },
}

fn poke() -> impl Strategy<Value = Poke> {
    prop_oneof![
        (
            any::<bool>(),
            0usize..64,
            0usize..64,
            any::<bool>(),
            any::<bool>()
        )
            .prop_map(|(stale, input, output, callback, release)| Poke::Send {
                stale,
                input,
                output,
                callback,
                release
            }),
        (any::<bool>(), 0u8..7, 0u64..4, 0u64..3, any::<bool>()).prop_map(
            |(stale, kind, frame, part, private)| Poke::ChunkInfo {
                stale,
                kind,
                frame,
                part,
                private
            }
        ),
        (
            prop::sample::select(vec![7u32, 3, 99]),
            0u8..4,
            any::<bool>()
        )
            .prop_map(|(child_uid, arm, connected)| Poke::ChildStatus {
                child_uid,
                arm,
                connected
            }),
        (prop::sample::select(vec![7u32, 4]), 0u8..7, 0usize..200).prop_map(
            |(target, kind, private)| Poke::Interrupt {
                target,
                kind,
                private
            }
        ),
        Just(Poke::Dpc),
        (any::<bool>(), 0u64..(1 << 40))
            .prop_map(|(allocate, bytes)| Poke::Pool { allocate, bytes }),
        any::<bool>().prop_map(|foreign| Poke::SessionStatus { foreign }),
        (any::<bool>(), any::<bool>(), 0usize..32, 0usize..32).prop_map(
            |(foreign, hardware_access, input, output)| Poke::IoControl {
                foreign,
                hardware_access,
                input,
                output
            }
        ),
        (0u8..6).prop_map(|kind| Poke::Statistic { kind }),
        (
            prop::sample::select(vec![0u32, 5, INFINITE]),
            0usize..7,
            0u32..200
        )
            .prop_map(|(timeout_ms, events, buffer)| Poke::ChunkData {
                timeout_ms,
                events,
                buffer
            }),
        any::<bool>().prop_map(|register| Poke::DataRate { register }),
    ]
}

const CHUNK_TYPES: [ChunkType; 7] = [
    ChunkType::Unknown,
    ChunkType::ColorConvertComplete,
    ChunkType::EncodeComplete,
    ChunkType::FrameStart,
    ChunkType::FrameDropped,
    ChunkType::EncodeDriverDefined1,
    ChunkType::EncodeDriverDefined2,
];

/// The services both fake drivers were handed, and the pokes still to make.
#[derive(Default)]
struct Chaos {
    pokes: RefCell<Vec<Poke>>,
    dxgkrnl: RefCell<Option<Rc<dyn DxgkrnlServices>>>,
    miracast: RefCell<Option<Rc<dyn MiracastDisplayServices>>>,
    umd: RefCell<Option<(Handle, Rc<dyn MiracastUmdServices>)>>,
    sched: RefCell<Option<Sched>>,
}

impl Chaos {
    /// Makes the next `n` pokes (every DDI makes a couple).
    async fn poke(&self, n: usize) {
        for _ in 0..n {
            let Some(p) = self.pokes.borrow_mut().pop() else {
                return;
            };
            self.apply(p).await;
        }
    }

    async fn apply(&self, p: Poke) {
        let dxgkrnl = self.dxgkrnl.borrow().clone();
        let miracast = self.miracast.borrow().clone();
        let umd = self.umd.borrow().clone();
        match p {
            Poke::Send {
                stale,
                input,
                output,
                callback,
                release,
            } => {
                if let Some(cb) = miracast {
                    let handle = miracast_handle(cb.as_ref(), stale);
                    let buffers = MessageBuffers::new(vec![7; input], output);
                    let _ = cb
                        .send_message(handle, buffers.clone(), callback.then_some(Handle(1)))
                        .await;
                    if release {
                        buffers.release();
                    }
                }
            }
            Poke::ChunkInfo {
                stale,
                kind,
                frame,
                part,
                private,
            } => {
                if let Some(cb) = miracast {
                    let handle = miracast_handle(cb.as_ref(), stale);
                    let info = chunk(kind, frame, part);
                    let _ = cb
                        .report_chunk_info(handle, info, private.then(|| vec![1; 8]))
                        .await;
                }
            }
            Poke::ChildStatus {
                child_uid,
                arm,
                connected,
            } => {
                if let Some(d) = dxgkrnl {
                    let status = match arm {
                        0 => ChildStatusKind::Uninitialized,
                        1 => ChildStatusKind::Connection { connected },
                        2 => ChildStatusKind::Rotation { angle: 90 },
                        _ => ChildStatusKind::MiracastConnection {
                            connected,
                            monitor_type: VideoOutputTechnology::Uninitialized,
                        },
                    };
                    let _ = d
                        .indicate_child_status(ChildStatus { child_uid, status })
                        .await;
                }
            }
            Poke::Interrupt {
                target,
                kind,
                private,
            } => {
                if let Some(d) = dxgkrnl {
                    let _ = d
                        .notify_interrupt(MiracastEncodeChunkCompleted {
                            vidpn_target_id: target,
                            chunk_info: chunk(kind, 1, 0),
                            private_driver_data: vec![0; private],
                        })
                        .await;
                }
            }
            Poke::Dpc => {
                if let Some(d) = dxgkrnl {
                    d.notify_dpc().await;
                }
            }
            Poke::Pool { allocate, bytes } => {
                if let Some(d) = dxgkrnl {
                    if allocate {
                        let _ = d.allocate_pool(bytes);
                    } else {
                        d.free_pool(bytes);
                    }
                }
            }
            Poke::SessionStatus { foreign } => {
                if let Some((device, cb)) = umd {
                    let device = device_handle(device, foreign);
                    cb.report_session_status(
                        device,
                        MiracastStatus::CriticalError,
                        NtStatus::STATUS_UNSUCCESSFUL,
                    )
                    .await;
                }
            }
            Poke::IoControl {
                foreign,
                hardware_access,
                input,
                output,
            } => {
                if let Some((device, cb)) = umd {
                    let device = device_handle(device, foreign);
                    let mut out = vec![0; output];
                    let _ = cb
                        .miracast_io_control(device, hardware_access, &vec![3; input], &mut out)
                        .await;
                }
            }
            Poke::Statistic { kind } => {
                if let Some((device, cb)) = umd {
                    let data = match kind {
                        0 => StatisticData::ChunkSent(ChunkId(1)),
                        1 => StatisticData::ChunkProcessingComplete(chunk(2, 1, 0)),
                        2 => StatisticData::Event(ProtocolEvent::SinkFailedPreferredModeChange),
                        3 => StatisticData::Event(ProtocolEvent::MonitorArrive),
                        4 => StatisticData::ChunkSent(ChunkId(u64::MAX)),
                        _ => StatisticData::Event(ProtocolEvent::IframeRq),
                    };
                    cb.report_statistic(device, data).await;
                }
            }
            Poke::ChunkData {
                timeout_ms,
                events,
                buffer,
            } => {
                let sched = self.sched.borrow().clone();
                if let (Some((device, cb)), Some(sched)) = (umd, sched) {
                    let extra: Vec<SimEvent> = (0..events)
                        .map(|i| SimEvent::new(&sched, format!("chaos-{i}"), i % 2 == 0))
                        .collect();
                    let _ = cb
                        .get_next_chunk_data(device, timeout_ms, &extra, buffer)
                        .await;
                }
            }
            Poke::DataRate { register } => {
                if let Some((device, cb)) = umd {
                    let _ = cb
                        .register_for_data_rate_notifications(device, register.then_some(Handle(5)))
                        .await;
                }
            }
        }
    }
}

/// The context's own `MiracastHandle`, or a stale one.
fn miracast_handle(cb: &dyn MiracastDisplayServices, stale: bool) -> Handle {
    if stale {
        Handle(0xdead)
    } else {
        cb.miracast_handle()
    }
}

/// The UMD's own device handle, or a foreign one.
fn device_handle(device: Handle, foreign: bool) -> Handle {
    if foreign { Handle(0xbad) } else { device }
}

fn chunk(kind: u8, frame: u64, part: u64) -> ChunkInfo {
    ChunkInfo {
        chunk_type: CHUNK_TYPES[usize::from(kind) % CHUNK_TYPES.len()],
        chunk_id: ChunkId::new(frame, part).unwrap_or(ChunkId(0)),
        processing_time: u32::from(kind),
        encode_rate: u32::from(kind % 2),
    }
}

struct ChaosKmd(Rc<Chaos>);

#[async_trait(?Send)]
impl MiracastKmd for ChaosKmd {
    async fn start_device(&self, dxgkrnl: Rc<dyn DxgkrnlServices>) -> (NtStatus, u32) {
        *self.0.dxgkrnl.borrow_mut() = Some(dxgkrnl);
        (NtStatus::STATUS_SUCCESS, 1)
    }
    async fn query_miracast_interface(
        &self,
        _: u16,
        _: u16,
    ) -> (NtStatus, Option<MiracastDisplayInterface>) {
        (
            NtStatus::STATUS_SUCCESS,
            Some(MiracastDisplayInterface::complete(Handle(1))),
        )
    }
    async fn query_child_relations(&self, relations: &mut [ChildDescriptor]) -> NtStatus {
        if let Some(first) = relations.first_mut() {
            *first = ChildDescriptor {
                child_device_type: ChildDeviceType::VideoOutput,
                interface_technology: VideoOutputTechnology::Miracast,
                hpd_awareness: HpdAwareness::Interruptible,
                acpi_uid: 0,
                child_uid: 7,
            };
        }
        NtStatus::STATUS_SUCCESS
    }
    async fn query_child_status(&self, _: &mut ChildStatus, _: bool) -> NtStatus {
        self.0.poke(1).await;
        NtStatus::STATUS_SUCCESS
    }
    async fn query_device_descriptor(&self, _: u32) -> (NtStatus, Vec<u8>) {
        (NtStatus::STATUS_SUCCESS, vec![0; 128])
    }
    async fn commit_vidpn(&self, _: VidPnCommit) -> NtStatus {
        self.0.poke(2).await;
        NtStatus::STATUS_SUCCESS
    }
    async fn create_context(&self, _: &CreateContextArgs) -> (NtStatus, Handle) {
        (NtStatus::STATUS_SUCCESS, Handle(9))
    }
    async fn destroy_context(&self, _: Handle) -> NtStatus {
        NtStatus::STATUS_SUCCESS
    }
    async fn interrupt_routine(&self, _: HardwareEvent) -> bool {
        self.0.poke(2).await;
        true
    }
    async fn dpc_routine(&self) {
        self.0.poke(1).await;
    }
    async fn escape_send_message(&self, _: &[u8], _: u32) -> NtStatus {
        self.0.poke(3).await;
        NtStatus::STATUS_SUCCESS
    }
    async fn miracast_query_caps(&self, _: u32) -> (NtStatus, MiracastCaps, u32) {
        (
            NtStatus::STATUS_SUCCESS,
            MiracastCaps {
                max_chunk_private_driver_data_size: 64,
                flags: 1,
            },
            8,
        )
    }
    async fn miracast_create_context(
        &self,
        callbacks: Rc<dyn MiracastDisplayServices>,
    ) -> (NtStatus, Handle, u32) {
        *self.0.miracast.borrow_mut() = Some(callbacks);
        self.0.poke(1).await;
        (NtStatus::STATUS_SUCCESS, Handle(0x77), 7)
    }
    async fn miracast_io_control(
        &self,
        _: Handle,
        _: bool,
        _: &[u8],
        output: &mut [u8],
    ) -> (NtStatus, u32) {
        self.0.poke(2).await;
        // Overstates on purpose, now and then (R23).
        (NtStatus::STATUS_SUCCESS, output.len() as u32 + 1)
    }
    async fn miracast_destroy_context(&self, _: Handle) {
        self.0.poke(2).await;
    }
    async fn send_message_callback(&self, _: Handle, _: IoStatusBlock) {
        self.0.poke(1).await;
    }
}

struct ChaosUmd(Rc<Chaos>);

#[async_trait(?Send)]
impl MiracastUmd for ChaosUmd {
    fn query_driver_interface(
        &self,
        _: u32,
        _: u32,
    ) -> Option<(NtStatus, MiracastDriverInterface)> {
        Some((
            NtStatus::STATUS_SUCCESS,
            MiracastDriverInterface::complete(),
        ))
    }
    async fn create_miracast_context(
        &self,
        device: Handle,
        callbacks: Rc<dyn MiracastUmdServices>,
    ) -> (NtStatus, Handle) {
        *self.0.umd.borrow_mut() = Some((device, callbacks));
        self.0.poke(2).await;
        (NtStatus::STATUS_SUCCESS, Handle(0x55))
    }
    async fn destroy_miracast_context(&self, _: Handle) {
        self.0.poke(2).await;
    }
    async fn start_miracast_session(
        &self,
        _: Handle,
        _: Rc<dyn RtspSocket>,
        _: WfdConnectionStats,
    ) -> (NtStatus, SessionInfo) {
        self.0.poke(3).await;
        (NtStatus::STATUS_SUCCESS, SessionInfo::new(true, false))
    }
    async fn stop_miracast_session(&self, _: Handle) {
        self.0.poke(3).await;
    }
    async fn handle_kernel_mode_message(
        &self,
        _: Handle,
        _: &[u8],
        output: &mut [u8],
    ) -> (NtStatus, u32) {
        self.0.poke(2).await;
        (NtStatus::STATUS_SUCCESS, output.len() as u32 + 3)
    }
    async fn data_rate_notify(&self, _: Handle, _: Option<DataRateStats>) {
        self.0.poke(1).await;
    }
}

struct Quiet;
impl SinkPeer for Quiet {
    fn handle_input(&mut self, _: SimTime, _: &[u8]) {}
    fn poll_transmit(&mut self, _: SimTime) -> Option<Vec<u8>> {
        None
    }
    fn poll_timeout(&self) -> Option<SimTime> {
        None
    }
    fn handle_timeout(&mut self, _: SimTime) {}
    fn poll_note(&mut self) -> Option<crate::trace::SinkActivity> {
        None
    }
    fn is_closed(&self) -> bool {
        false
    }
}

/// One run of the chaos drivers; returns the findings, the late ones included.
fn chaos_run(seed: u64, pokes: Vec<Poke>, late: Vec<Poke>) -> Vec<crate::rules::Violation> {
    let sched = Sched::new(Box::new(RandomStrategy::new(seed)));
    let findings = Findings::default();
    let chaos = Rc::new(Chaos::default());
    // Pokes are made first to last.
    *chaos.pokes.borrow_mut() = pokes.into_iter().rev().collect();
    *chaos.sched.borrow_mut() = Some(sched.clone());
    let kmd = Rc::new(ChaosKmd(chaos.clone()));
    let umd = Rc::new(ChaosUmd(chaos.clone()));
    {
        let os = Os::new(&sched, &findings, OsConfig::default(), kmd, umd);
        os.attach_sink(Box::new(Quiet), SinkFacts::default());
        let os2 = os.clone();
        sched.spawn("os-main", false, async move {
            if os2.bring_up_adapter().await != NtStatus::STATUS_SUCCESS {
                return;
            }
            let _ = os2.connect().await;
            let _ = os2.escape_send_message(b"x", 4).await;
            let info = chunk(2, 1, 0);
            let _ = os2.raise_chunk_interrupt(info, vec![0; 8]).await;
            let _ = os2.commit_vidpn(true).await;
            os2.disconnect().await;
        });
        let _ = sched.run(RunLimits {
            max_steps: 200_000,
            max_time: SimTime::from_millis(60_000),
        });
    }
    // The run is over and its OS gone; the drivers call back anyway, on a scheduler of their
    // own (the run's is dropped with everything it still held).
    drop(sched);
    let after = Sched::new(Box::new(RandomStrategy::new(seed)));
    *chaos.sched.borrow_mut() = Some(after.clone());
    *chaos.pokes.borrow_mut() = late.into_iter().rev().collect();
    let chaos2 = chaos.clone();
    after.spawn("after-the-run", false, async move {
        let n = chaos2.pokes.borrow().len();
        chaos2.poke(n).await;
    });
    let _ = after.run(RunLimits {
        max_steps: 50_000,
        max_time: SimTime::from_millis(120_000),
    });
    findings.snapshot()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_driver_callbacks_never_panic(
        seed in 0u64..1_000,
        pokes in prop::collection::vec(poke(), 0..40),
        late in prop::collection::vec(poke(), 0..6),
    ) {
        for v in chaos_run(seed, pokes, late) {
            prop_assert!(v.check.may_report(v.rule), "{v}");
            prop_assert!(!v.finding.is_empty());
        }
    }
}

#[test]
fn a_callback_after_the_run_is_a_finding() {
    let late = vec![
        Poke::Send {
            stale: false,
            input: 4,
            output: 4,
            callback: true,
            release: false,
        },
        Poke::IoControl {
            foreign: false,
            hardware_access: false,
            input: 4,
            output: 4,
        },
    ];
    let found = chaos_run(1, Vec::new(), late);
    let late: Vec<_> = found
        .iter()
        .filter(|v| v.check == crate::rules::CheckId::LateCallback)
        .collect();
    assert_eq!(late.len(), 2, "{found:#?}");
    assert_eq!(late[0].rule, RuleId::R19);
    assert_eq!(late[1].rule, RuleId::R36);
}
