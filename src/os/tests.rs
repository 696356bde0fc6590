//! OS-model tests with minimal fake drivers: the documented OS behaviour (phases, message
//! hold/deliver/drop, IOCTL gating, budgets) independent of the reference models.

use super::*;
use crate::rules::Findings;
use crate::sched::{RandomStrategy, RunEnd, RunLimits};
use async_trait::async_trait;
use std::cell::RefCell;

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
    fn poll_note(&mut self) -> Option<crate::trace::SinkActivity> {
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
    /// The context of every `DxgkDdiMiracastIoControl`.
    io_contexts: RefCell<Vec<Handle>>,
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
        context: Handle,
        _: bool,
        _: &[u8],
        _: &mut [u8],
    ) -> (NtStatus, u32) {
        self.io_contexts.borrow_mut().push(context);
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
    /// The callbacks of the context, for `ioctl_in_stop`.
    callbacks: RefCell<Option<(Handle, Rc<dyn MiracastUmdServices>)>>,
    /// Stop issues a `MiracastIoControl` from its own thread after its delay (the R20 path).
    ioctl_in_stop: Cell<bool>,
    /// The status of that IOCTL.
    stop_ioctl: Cell<Option<NtStatus>>,
}

#[async_trait(?Send)]
impl MiracastUmd for FakeUmd {
    fn query_driver_interface(
        &self,
        version: u32,
        size: u32,
    ) -> Option<(NtStatus, MiracastDriverInterface)> {
        let status = if version != MIRACAST_DRIVER_INTERFACE_VERSION_1 {
            NtStatus::STATUS_NOT_SUPPORTED
        } else if size < MiracastDriverInterface::SIZE {
            NtStatus::STATUS_BUFFER_TOO_SMALL
        } else {
            NtStatus::STATUS_SUCCESS
        };
        Some((status, MiracastDriverInterface::complete()))
    }
    async fn create_miracast_context(
        &self,
        device: Handle,
        callbacks: Rc<dyn MiracastUmdServices>,
    ) -> (NtStatus, Handle) {
        *self.callbacks.borrow_mut() = Some((device, callbacks));
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
        let callbacks = self.callbacks.borrow().clone();
        if let (true, Some((device, callbacks))) = (self.ioctl_in_stop.get(), callbacks) {
            let mut output = [0u8; 4];
            let (status, _) = callbacks
                .miracast_io_control(device, false, b"q", &mut output)
                .await;
            self.stop_ioctl.set(Some(status));
        }
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
    umd: Rc<FakeUmd>,
}

fn rig(seed: u64, stop_delay: Duration) -> Rig {
    rig_with(seed, stop_delay, OsKnobs::default())
}

fn rig_with(seed: u64, stop_delay: Duration, knobs: OsKnobs) -> Rig {
    let sched = Sched::new(Box::new(RandomStrategy::new(seed)));
    let findings = Findings::default();
    let kmd = Rc::new(FakeKmd::default());
    let umd = Rc::new(FakeUmd {
        sched: sched.clone(),
        stop_delay,
        callbacks: RefCell::new(None),
        ioctl_in_stop: Cell::new(false),
        stop_ioctl: Cell::new(None),
    });
    let config = OsConfig {
        knobs,
        ..OsConfig::default()
    };
    let os = Os::new(&sched, &findings, config, kmd.clone(), umd.clone());
    os.attach_sink(
        Box::new(SilentSink),
        SinkFacts {
            monitor_present: true,
            supports_1024x768: true,
            monitor_type: None,
        },
    );
    Rig {
        sched,
        os,
        kmd,
        umd,
    }
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
        let _ = os.bring_up_adapter().await;
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
            let _ = os.bring_up_adapter().await;
            let _ = os.connect().await;
            let _ = os.escape_send_message(b"data", 4).await;
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
        assert_eq!(
            r.os.findings().has(RuleId::R26),
            touched_after,
            "seed {seed}"
        );
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
        let _ = os.bring_up_adapter().await;
        os.kmd_create_context().await;
        let _ = os.umd_load().await;
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
        let _ = os.bring_up_adapter().await;
        let _ = os.connect().await;
        os.disconnect().await;
    });
    assert_eq!(r.sched.run(RunLimits::default()), RunEnd::Completed);
    assert!(r.os.findings().has(RuleId::R45));
    let text = r.sched.take_trace().to_text();
    let destroy = text.find("enter DxgkDdiMiracastDestroyContext").unwrap();
    let stop_left = text.find("leave StopMiracastSession").unwrap();
    assert!(destroy < stop_left, "{text}");
}

/// Position of the first trace event matching `f`.
fn first(trace: &crate::trace::Trace, f: impl Fn(&EventKind) -> bool) -> Option<usize> {
    trace.events.iter().position(|e| f(&e.kind))
}

fn entered(ddi: Ddi) -> impl Fn(&EventKind) -> bool {
    move |k| matches!(k, EventKind::Enter { ddi: d, .. } if *d == ddi)
}

fn left(ddi: Ddi) -> impl Fn(&EventKind) -> bool {
    move |k| matches!(k, EventKind::Leave { ddi: d, .. } if *d == ddi)
}

#[test]
fn os_knobs_are_off_by_default_and_spelled_exactly() {
    assert_eq!(OsConfig::default().knobs, OsKnobs::default());
    assert!(OsKnobs::default().enabled().is_empty());
    let config: OsConfig = serde_json::from_str(
        r#"{ "knobs": { "deliver_held_messages_early": true, "datarate_interval_ms": 400 } }"#,
    )
    .unwrap();
    assert_eq!(
        config.knobs.enabled(),
        ["datarate_interval_ms=400", "deliver_held_messages_early"]
    );
    // Every knob shows in the trace's list, the two the hand-written list once missed too.
    let all: OsKnobs = serde_json::from_value(serde_json::json!({
        "create_context_twice": true,
        "empty_chunk_success": true,
    }))
    .unwrap();
    assert_eq!(
        all.enabled(),
        ["create_context_twice", "empty_chunk_success"]
    );
    assert!(serde_json::from_str::<OsConfig>(r#"{ "knobs": { "hold_messages": true } }"#).is_err());
}

#[test]
fn knob_query_caps_twice_calls_query_caps_again_without_a_new_start() {
    let r = rig_with(
        0,
        Duration::ZERO,
        OsKnobs {
            query_caps_twice: true,
            ..OsKnobs::default()
        },
    );
    let os = r.os.clone();
    r.sched.spawn("os-main", false, async move {
        assert_eq!(os.bring_up_adapter().await, NtStatus::STATUS_SUCCESS);
    });
    assert_eq!(r.sched.run(RunLimits::default()), RunEnd::Completed);
    let trace = r.sched.take_trace();
    let caps = entered(Ddi::DxgkDdiMiracastQueryCaps);
    assert_eq!(trace.events.iter().filter(|e| caps(&e.kind)).count(), 2);
    assert_eq!(r.os.inner.adapter_state.borrow().query_caps_calls, 2);
    assert!(
        trace
            .to_text()
            .contains("OS-model knobs on: query_caps_twice")
    );
}

#[test]
fn knob_deliver_held_messages_early_delivers_inside_start() {
    for seed in 0..8 {
        let r = rig_with(
            seed,
            Duration::ZERO,
            OsKnobs {
                deliver_held_messages_early: true,
                ..OsKnobs::default()
            },
        );
        let os = r.os.clone();
        r.sched.spawn("os-main", false, async move {
            let _ = os.bring_up_adapter().await;
            os.kmd_create_context().await;
            let _ = os.umd_load().await;
            os.umd_create_context().await;
            let (a, b) = (os.clone(), os.clone());
            os.sched().spawn("os-start", false, async move {
                assert_eq!(a.start_session().await, Some(NtStatus::STATUS_SUCCESS));
            });
            os.sched().spawn("os-escape", false, async move {
                // The fake UMD's start takes 200 ms: the message comes in the middle.
                b.sched().sleep(Duration::from_millis(100)).await;
                let _ = b.escape_send_message(b"ping", 8).await;
            });
        });
        assert_eq!(r.sched.run(RunLimits::default()), RunEnd::Completed);
        let trace = r.sched.take_trace();
        let delivered = first(&trace, |k| {
            matches!(k, EventKind::MessageDelivered { id: 1 })
        });
        let start_left = first(&trace, left(Ddi::StartMiracastSession));
        assert!(delivered.is_some() && delivered < start_left, "seed {seed}");
        assert!(!trace.to_text().contains("held until start returns"));
        assert_eq!(
            r.kmd.completions.borrow().as_slice(),
            &[(Handle(4), NtStatus::STATUS_SUCCESS)]
        );
    }
}

#[test]
fn knobs_after_stop_deliver_or_complete_with_success() {
    for (knobs, delivered) in [
        (
            OsKnobs {
                deliver_after_stop: true,
                ..OsKnobs::default()
            },
            true,
        ),
        (
            OsKnobs {
                drop_with_success_status: true,
                ..OsKnobs::default()
            },
            false,
        ),
    ] {
        let r = rig_with(3, Duration::ZERO, knobs);
        let os = r.os.clone();
        r.sched.spawn("os-main", false, async move {
            let _ = os.bring_up_adapter().await;
            let _ = os.connect().await;
            os.stop_session().await;
            let _ = os.escape_send_message(b"late", 4).await;
            os.sched().sleep(Duration::from_millis(10)).await;
            os.umd_destroy_context().await;
            os.kmd_destroy_context().await;
        });
        assert_eq!(r.sched.run(RunLimits::default()), RunEnd::Completed);
        // Either way the completion routine sees a success status, which R29 forbids.
        assert_eq!(
            r.kmd.completions.borrow().as_slice(),
            &[(Handle(4), NtStatus::STATUS_SUCCESS)]
        );
        let text = r.sched.take_trace().to_text();
        assert_eq!(text.contains("message-delivered #1"), delivered, "{text}");
        assert_eq!(
            text.contains("message-dropped #1 completion STATUS_SUCCESS"),
            !delivered,
            "{text}"
        );
    }
}

#[test]
fn knob_ioctl_after_kmd_destroy_reaches_the_destroyed_context() {
    for (knob, reaches) in [(false, false), (true, true)] {
        let r = rig_with(
            5,
            Duration::ZERO,
            OsKnobs {
                ioctl_after_kmd_destroy: knob,
                ..OsKnobs::default()
            },
        );
        let os = r.os.clone();
        let got = Rc::new(Cell::new(None));
        let got2 = got.clone();
        r.sched.spawn("os-main", false, async move {
            let _ = os.bring_up_adapter().await;
            let _ = os.connect().await;
            os.disconnect().await;
            os.umd_create_context().await;
            got2.set(os.io_control_from_umd_thread(false, b"q", 4).await);
            os.umd_destroy_context().await;
        });
        assert_eq!(r.sched.run(RunLimits::default()), RunEnd::Completed);
        let expected = if reaches {
            vec![Handle(0x77)]
        } else {
            Vec::new()
        };
        assert_eq!(*r.kmd.io_contexts.borrow(), expected, "knob {knob}");
        let status = got.get().map(|(s, _)| s);
        assert_eq!(
            status,
            Some(if reaches {
                NtStatus::STATUS_SUCCESS
            } else {
                NtStatus::STATUS_INVALID_DEVICE_STATE
            })
        );
    }
}

#[test]
fn knobs_on_ioctl_gating_let_other_threads_through_during_start_and_stop() {
    let r = rig_with(
        11,
        Duration::from_millis(500),
        OsKnobs {
            ioctl_not_blocked_during_start: true,
            ioctl_succeeds_during_stop: true,
            ..OsKnobs::default()
        },
    );
    let os = r.os.clone();
    let results = Rc::new(RefCell::new(Vec::new()));
    let res = results.clone();
    r.sched.spawn("os-main", false, async move {
        let _ = os.bring_up_adapter().await;
        os.kmd_create_context().await;
        let _ = os.umd_load().await;
        os.umd_create_context().await;
        let (a, b, res2) = (os.clone(), os.clone(), res.clone());
        os.sched().spawn("os-start", false, async move {
            a.start_session().await;
        });
        os.sched().spawn("umd-ioctl-1", false, async move {
            b.sched().sleep(Duration::from_millis(50)).await;
            let got = b.io_control_from_umd_thread(false, b"q", 4).await;
            res2.borrow_mut().push((got.map(|g| g.0), b.now()));
        });
        os.sched().sleep(Duration::from_millis(1_000)).await;
        let (c, res3) = (os.clone(), res.clone());
        os.sched().spawn("umd-ioctl-2", false, async move {
            c.sched().sleep(Duration::from_millis(100)).await;
            let got = c.io_control_from_umd_thread(false, b"q", 4).await;
            res3.borrow_mut().push((got.map(|g| g.0), c.now()));
        });
        os.disconnect().await;
    });
    assert_eq!(r.sched.run(RunLimits::default()), RunEnd::Completed);
    // Not held until the 200 ms start returned, and not failed during the 500 ms stop.
    assert_eq!(
        *results.borrow(),
        [
            (Some(NtStatus::STATUS_SUCCESS), SimTime::from_millis(50)),
            (Some(NtStatus::STATUS_SUCCESS), SimTime::from_millis(1_100)),
        ]
    );
    assert_eq!(r.kmd.io_contexts.borrow().len(), 2);
}

#[test]
fn knob_ioctl_passes_after_stop_overrun_forwards_the_stop_threads_ioctl() {
    for knob in [false, true] {
        let r = rig_with(
            1,
            Duration::from_secs(5),
            OsKnobs {
                ioctl_passes_after_stop_overrun: knob,
                ..OsKnobs::default()
            },
        );
        r.umd.ioctl_in_stop.set(true);
        let os = r.os.clone();
        let other = Rc::new(Cell::new(None));
        let other2 = other.clone();
        r.sched.spawn("os-main", false, async move {
            let _ = os.bring_up_adapter().await;
            let _ = os.connect().await;
            let b = os.clone();
            os.sched().spawn("umd-ioctl", false, async move {
                // After the 3 s budget, while the 5 s Stop still runs on another thread.
                b.sched().sleep(Duration::from_millis(4_000)).await;
                other2.set(b.io_control_from_umd_thread(false, b"q", 4).await);
            });
            os.disconnect().await;
        });
        assert_eq!(r.sched.run(RunLimits::default()), RunEnd::Completed);
        // Another thread's IOCTL still fails during the stop (R44), knob or not.
        assert_eq!(
            other.get().map(|(s, _)| s),
            Some(NtStatus::STATUS_INVALID_DEVICE_STATE)
        );
        // The Stop thread's own IOCTL after the early destroy: blocked (R20), or with the
        // knob passed to the destroyed context.
        let (status, contexts) = if knob {
            (NtStatus::STATUS_SUCCESS, vec![Handle(0x77)])
        } else {
            (NtStatus::STATUS_INVALID_DEVICE_STATE, Vec::new())
        };
        assert_eq!(r.umd.stop_ioctl.get(), Some(status), "knob {knob}");
        assert_eq!(*r.kmd.io_contexts.borrow(), contexts, "knob {knob}");
    }
}

#[test]
fn knob_destroy_without_stop_never_calls_stop() {
    let r = rig_with(
        2,
        Duration::ZERO,
        OsKnobs {
            destroy_without_stop: true,
            ..OsKnobs::default()
        },
    );
    let os = r.os.clone();
    r.sched.spawn("os-main", false, async move {
        let _ = os.bring_up_adapter().await;
        let _ = os.connect().await;
        os.umd_destroy_context().await;
        os.kmd_destroy_context().await;
    });
    assert_eq!(r.sched.run(RunLimits::default()), RunEnd::Completed);
    let trace = r.sched.take_trace();
    assert!(first(&trace, entered(Ddi::DestroyMiracastContext)).is_some());
    assert_eq!(first(&trace, entered(Ddi::StopMiracastSession)), None);
    assert_eq!(r.os.phase(), SessionPhase::Started);
}

#[test]
fn knob_send_returns_success_answers_success_and_delivers_as_before() {
    for (knob, answer) in [
        (false, NtStatus::STATUS_PENDING),
        (true, NtStatus::STATUS_SUCCESS),
    ] {
        let r = rig_with(
            2,
            Duration::ZERO,
            OsKnobs {
                send_returns_success: knob,
                ..OsKnobs::default()
            },
        );
        let os = r.os.clone();
        let got = Rc::new(Cell::new(None));
        let got2 = got.clone();
        r.sched.spawn("os-main", false, async move {
            let _ = os.bring_up_adapter().await;
            let _ = os.connect().await;
            got2.set(Some(os.escape_send_message(b"ping", 8).await));
            os.sched().sleep(Duration::from_millis(10)).await;
            os.disconnect().await;
        });
        assert_eq!(r.sched.run(RunLimits::default()), RunEnd::Completed);
        assert_eq!(got.get(), Some(answer), "knob {knob}");
        let text = r.sched.take_trace().to_text();
        assert!(
            text.contains("message-delivered #1"),
            "knob {knob}:\n{text}"
        );
        assert_eq!(
            r.kmd.completions.borrow().as_slice(),
            &[(Handle(4), NtStatus::STATUS_SUCCESS)],
            "knob {knob}"
        );
    }
}

#[test]
fn knob_pageable_from_isr_nests_query_child_status_in_the_interrupt_routine() {
    for knob in [false, true] {
        let r = rig_with(
            4,
            Duration::ZERO,
            OsKnobs {
                pageable_from_isr: knob,
                ..OsKnobs::default()
            },
        );
        let os = r.os.clone();
        r.sched.spawn("os-main", false, async move {
            let _ = os.bring_up_adapter().await;
            let _ = os.connect().await;
            let info = ChunkInfo {
                chunk_type: ChunkType::FrameStart,
                chunk_id: ChunkId::new(1, 0).expect("valid chunk id"),
                processing_time: 1_000,
                encode_rate: 0,
            };
            os.raise_chunk_interrupt(info, Vec::new()).await;
            os.disconnect().await;
        });
        assert_eq!(r.sched.run(RunLimits::default()), RunEnd::Completed);
        let trace = r.sched.take_trace();
        let isr_enter = first(&trace, entered(Ddi::DxgkDdiInterruptRoutine)).expect("ISR ran");
        let isr_leave = first(&trace, left(Ddi::DxgkDdiInterruptRoutine)).expect("ISR ended");
        let isr_thread = trace.events[isr_enter].thread;
        let nested: Vec<&crate::trace::TraceEvent> = trace.events[isr_enter..isr_leave]
            .iter()
            .filter(|e| entered(Ddi::DxgkDdiQueryChildStatus)(&e.kind))
            .collect();
        if knob {
            assert_eq!(nested.len(), 1, "{}", trace.to_text());
            assert_eq!(nested[0].thread, isr_thread);
        } else {
            assert!(nested.is_empty(), "{}", trace.to_text());
        }
        // The OS's own R16 check is satisfied by the fake KMD's answer either way.
        assert!(r.os.findings().snapshot().is_empty(), "knob {knob}");
    }
}
