//! OS-model tests with minimal fake drivers: the documented OS behaviour (phases, message
//! hold/deliver/drop, IOCTL gating, budgets) independent of the reference models.

use super::*;
use crate::rules::Findings;
use crate::sched::{RandomStrategy, RunEnd, RunLimits};
use async_trait::async_trait;

/// A sink that never speaks.
struct SilentSink;
impl SinkPeer for SilentSink {
    fn handle_input(&mut self, _: SimTime, _: &[u8]) {}
    fn poll_transmit(&mut self, _: SimTime) -> Option<Vec<u8>> {
        None
    }
    fn poll_timeout(&self) -> Option<SimTime> {
        None
    }
    fn handle_timeout(&mut self, _: SimTime) {}
    fn poll_note(&mut self) -> Option<String> {
        None
    }
    fn is_closed(&self) -> bool {
        false
    }
}

#[derive(Default)]
struct FakeKmd {
    dxgkrnl: RefCell<Option<Rc<dyn DxgkrnlServices>>>,
    callbacks: RefCell<Option<Rc<dyn MiracastDisplayServices>>>,
    completions: RefCell<Vec<(Handle, NtStatus)>>,
    release_early: Cell<bool>,
}

#[async_trait(?Send)]
impl MiracastKmd for FakeKmd {
    async fn start_device(&self, dxgkrnl: Rc<dyn DxgkrnlServices>) -> (NtStatus, u32) {
        *self.dxgkrnl.borrow_mut() = Some(dxgkrnl);
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
        relations[0] = ChildDescriptor {
            child_device_type: ChildDeviceType::VideoOutput,
            interface_technology: VideoOutputTechnology::Miracast,
            hpd_awareness: HpdAwareness::Interruptible,
            acpi_uid: 0,
            child_uid: 7,
        };
        NtStatus::STATUS_SUCCESS
    }
    async fn query_child_status(&self, status: &mut ChildStatus, _: bool) -> NtStatus {
        status.status = ChildStatusKind::MiracastConnection {
            connected: false,
            monitor_type: VideoOutputTechnology::Miracast,
        };
        NtStatus::STATUS_SUCCESS
    }
    async fn query_device_descriptor(&self, _: u32) -> (NtStatus, Vec<u8>) {
        (NtStatus::STATUS_NOT_SUPPORTED, Vec::new())
    }
    async fn commit_vidpn(&self, _: VidPnCommit) -> NtStatus {
        NtStatus::STATUS_SUCCESS
    }
    async fn create_context(&self, _: &CreateContextArgs) -> (NtStatus, Handle) {
        (NtStatus::STATUS_SUCCESS, Handle(9))
    }
    async fn destroy_context(&self, _: Handle) -> NtStatus {
        NtStatus::STATUS_SUCCESS
    }
    async fn interrupt_routine(&self, _: HardwareEvent) -> bool {
        false
    }
    async fn dpc_routine(&self) {}
    async fn escape_send_message(&self, payload: &[u8], output_size: u32) -> NtStatus {
        let cb = self.callbacks.borrow().clone().expect("context");
        let buffers = MessageBuffers::new(payload.to_vec(), output_size as usize);
        let status = cb
            .send_message(
                cb.miracast_handle(),
                buffers.clone(),
                Some(Handle(payload.len() as u64)),
            )
            .await;
        if self.release_early.get() {
            buffers.release();
        }
        status
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
        *self.callbacks.borrow_mut() = Some(callbacks);
        (NtStatus::STATUS_SUCCESS, Handle(0x77), 7)
    }
    async fn miracast_io_control(
        &self,
        _: Handle,
        _: bool,
        _: &[u8],
        _: &mut [u8],
    ) -> (NtStatus, u32) {
        (NtStatus::STATUS_SUCCESS, 0)
    }
    async fn miracast_destroy_context(&self, _: Handle) {}
    async fn send_message_callback(&self, ctx: Handle, io: IoStatusBlock) {
        self.completions.borrow_mut().push((ctx, io.status));
    }
}

struct FakeUmd {
    sched: Sched,
    stop_delay: Duration,
}

#[async_trait(?Send)]
impl MiracastUmd for FakeUmd {
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
        _: Handle,
        _: Rc<dyn MiracastUmdServices>,
    ) -> (NtStatus, Handle) {
        (NtStatus::STATUS_SUCCESS, Handle(0x55))
    }
    async fn destroy_miracast_context(&self, _: Handle) {}
    async fn start_miracast_session(
        &self,
        _: Handle,
        _: Rc<dyn RtspSocket>,
        _: WfdConnectionStats,
    ) -> (NtStatus, SessionInfo) {
        // Negotiation takes a while: messages sent meanwhile must be held.
        self.sched.sleep(Duration::from_millis(200)).await;
        (NtStatus::STATUS_SUCCESS, SessionInfo::new(true, false))
    }
    async fn stop_miracast_session(&self, _: Handle) {
        self.sched.sleep(self.stop_delay).await;
    }
    async fn handle_kernel_mode_message(
        &self,
        _: Handle,
        input: &[u8],
        output: &mut [u8],
    ) -> (NtStatus, u32) {
        let n = input.len().min(output.len());
        output[..n].copy_from_slice(&input[..n]);
        (NtStatus::STATUS_SUCCESS, n as u32)
    }
    async fn data_rate_notify(&self, _: Handle, _: Option<DataRateStats>) {}
}

struct Rig {
    sched: Sched,
    os: Os,
    kmd: Rc<FakeKmd>,
}

fn rig(seed: u64, stop_delay: Duration) -> Rig {
    let sched = Sched::new(Box::new(RandomStrategy::new(seed)));
    let findings = Findings::default();
    let kmd = Rc::new(FakeKmd::default());
    let umd = Rc::new(FakeUmd {
        sched: sched.clone(),
        stop_delay,
    });
    let os = Os::new(&sched, &findings, OsConfig::default(), kmd.clone(), umd);
    os.attach_sink(
        Box::new(SilentSink),
        SinkFacts {
            monitor_present: true,
            supports_1024x768: true,
        },
    );
    Rig { sched, os, kmd }
}

#[test]
fn message_sent_during_start_is_held_then_delivered() {
    for seed in 0..16 {
        let r = rig(seed, Duration::ZERO);
        let os = r.os.clone();
        r.sched.spawn("os-main", false, async move {
            assert_eq!(os.bring_up_adapter().await, NtStatus::STATUS_SUCCESS);
            assert_eq!(
                os.kmd_create_context().await,
                Some(NtStatus::STATUS_SUCCESS)
            );
            assert_eq!(os.umd_load().await, NtStatus::STATUS_SUCCESS);
            assert_eq!(
                os.umd_create_context().await,
                Some(NtStatus::STATUS_SUCCESS)
            );
            let (a, b) = (os.clone(), os.clone());
            os.sched().spawn("os-start", false, async move {
                assert_eq!(a.start_session().await, Some(NtStatus::STATUS_SUCCESS));
            });
            os.sched().spawn("os-escape", false, async move {
                assert_eq!(
                    b.escape_send_message(b"ping", 8).await,
                    NtStatus::STATUS_PENDING
                );
            });
        });
        assert_eq!(
            r.sched.run(RunLimits::default()),
            RunEnd::Completed,
            "seed {seed}"
        );
        let trace = r.sched.take_trace();
        let text = trace.to_text();
        assert!(
            text.contains("message-delivered #1"),
            "seed {seed}:\n{text}"
        );
        let start_left = trace
            .events
            .iter()
            .position(|e| {
                matches!(
                    &e.kind,
                    EventKind::Leave {
                        ddi: Ddi::StartMiracastSession,
                        ..
                    }
                )
            })
            .unwrap();
        let delivered = trace
            .events
            .iter()
            .position(|e| matches!(e.kind, EventKind::MessageDelivered { id: 1 }))
            .unwrap();
        if text.contains("message-queued #1 (held until start returns)") {
            assert!(
                delivered > start_left,
                "seed {seed}: a held message was delivered before start returned"
            );
        }
        assert_eq!(
            r.kmd.completions.borrow().as_slice(),
            &[(Handle(4), NtStatus::STATUS_SUCCESS)]
        );
        assert!(
            r.os.findings().snapshot().is_empty(),
            "{:?}",
            r.os.findings().snapshot()
        );
    }
}

#[test]
fn message_after_stop_is_dropped_with_an_error_completion() {
    let r = rig(3, Duration::ZERO);
    let os = r.os.clone();
    r.sched.spawn("os-main", false, async move {
        os.bring_up_adapter().await;
        assert_eq!(os.connect().await, NtStatus::STATUS_SUCCESS);
        os.stop_session().await;
        assert_eq!(
            os.escape_send_message(b"late", 4).await,
            NtStatus::STATUS_PENDING
        );
        os.umd_destroy_context().await;
        os.kmd_destroy_context().await;
    });
    assert_eq!(r.sched.run(RunLimits::default()), RunEnd::Completed);
    assert_eq!(
        r.kmd.completions.borrow().as_slice(),
        &[(Handle(4), NtStatus::STATUS_CANCELLED)]
    );
    let text = r.sched.take_trace().to_text();
    assert!(
        text.contains("message-dropped #1 completion STATUS_CANCELLED"),
        "{text}"
    );
    assert!(!text.contains("message-delivered"));
}

#[test]
fn buffers_released_before_completion_are_reported() {
    let mut reported = 0;
    for seed in 0..32 {
        let r = rig(seed, Duration::ZERO);
        r.kmd.release_early.set(true);
        let os = r.os.clone();
        r.sched.spawn("os-main", false, async move {
            os.bring_up_adapter().await;
            os.connect().await;
            os.escape_send_message(b"data", 4).await;
            os.sched().sleep(Duration::from_millis(10)).await;
            os.disconnect().await;
        });
        r.sched.run(RunLimits::default());
        let trace = r.sched.take_trace();
        // The OS touches the buffers at delivery; R26 is due exactly when it does so after the
        // KMD released them (the KMD here releases right after the send returns).
        let released = trace
            .events
            .iter()
            .position(|e| matches!(e.kind, EventKind::BufferReleased { .. }));
        let touched_after = trace
            .events
            .iter()
            .any(|e| matches!(e.kind, EventKind::BufferUseAfterRelease { id: 1 }));
        assert_eq!(
            released, None,
            "the OS model does not trace KMD-side releases itself"
        );
        assert_eq!(r.os.findings().has(26), touched_after, "seed {seed}");
        reported += usize::from(touched_after);
    }
    assert!(
        reported > 0,
        "no seed delivered the message after the early release"
    );
}

#[test]
fn ioctl_from_another_thread_blocks_during_start_and_fails_during_stop() {
    let r = rig(11, Duration::from_millis(500));
    let os = r.os.clone();
    let results = Rc::new(RefCell::new(Vec::new()));
    let res = results.clone();
    r.sched.spawn("os-main", false, async move {
        os.bring_up_adapter().await;
        os.kmd_create_context().await;
        os.umd_load().await;
        os.umd_create_context().await;
        let (a, b, res2) = (os.clone(), os.clone(), res.clone());
        os.sched().spawn("os-start", false, async move {
            a.start_session().await;
        });
        os.sched().spawn("umd-ioctl-1", false, async move {
            b.sched().sleep(Duration::from_millis(50)).await;
            let got = b.io_control_from_umd_thread(false, b"q", 4).await;
            res2.borrow_mut().push(("start", got.map(|g| g.0), b.now()));
        });
        os.sched().sleep(Duration::from_millis(1_000)).await;
        let (c, res3) = (os.clone(), res.clone());
        os.sched().spawn("umd-ioctl-2", false, async move {
            c.sched().sleep(Duration::from_millis(100)).await;
            let got = c.io_control_from_umd_thread(false, b"q", 4).await;
            res3.borrow_mut().push(("stop", got.map(|g| g.0), c.now()));
        });
        os.disconnect().await;
    });
    assert_eq!(r.sched.run(RunLimits::default()), RunEnd::Completed);
    let results = results.borrow();
    // Blocked until start returned at 200 ms, then processed.
    assert_eq!(results[0].0, "start");
    assert_eq!(results[0].1, Some(NtStatus::STATUS_SUCCESS));
    assert!(results[0].2 >= SimTime::from_millis(200));
    // During the 500 ms stop: fails.
    assert_eq!(
        results[1],
        (
            "stop",
            Some(NtStatus::STATUS_INVALID_DEVICE_STATE),
            SimTime::from_millis(1_100)
        )
    );
}

#[test]
fn stop_over_budget_destroys_the_kmd_context_early() {
    let r = rig(1, Duration::from_secs(5));
    let os = r.os.clone();
    r.sched.spawn("os-main", false, async move {
        os.bring_up_adapter().await;
        os.connect().await;
        os.disconnect().await;
    });
    assert_eq!(r.sched.run(RunLimits::default()), RunEnd::Completed);
    assert!(r.os.findings().has(45));
    let text = r.sched.take_trace().to_text();
    let destroy = text.find("enter DxgkDdiMiracastDestroyContext").unwrap();
    let stop_left = text.find("leave StopMiracastSession").unwrap();
    assert!(destroy < stop_left, "{text}");
}
