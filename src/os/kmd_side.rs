//! The services the KMD calls: `DXGKRNL_INTERFACE` (child status, interrupts, DPC, pool memory)
//! and `DXGK_MIRACAST_DISPLAY_CALLBACKS` (send message, report chunk info), plus the delivery of
//! kernel-to-user messages and the completion routine.

use super::state::{Indication, Message};
use super::{Inner, Irql, Os};
use crate::ddi::*;
use crate::rules::{CheckId, Culprit, Findings, RuleId};
use crate::status::NtStatus;
use crate::trace::{CallArgs, CallOut, EventKind, IoctlMeaning};
use async_trait::async_trait;
use std::rc::{Rc, Weak};

/// The OS side of the KMD's callbacks. Holds the OS weakly: the KMD keeps these for its whole
/// life, and the OS owns the KMD.
pub(crate) struct KmdServices {
    os: Weak<Inner>,
    /// The run's findings, kept so a call made after the OS is gone is still recorded.
    findings: Findings,
}

impl KmdServices {
    pub(crate) fn new(os: &Os) -> Rc<Self> {
        Rc::new(KmdServices {
            os: Rc::downgrade(&os.inner),
            findings: os.inner.findings.clone(),
        })
    }

    /// The OS, or `None` (and a finding) when the KMD calls `ddi` after the simulated OS,
    /// and with it every Miracast context, is gone.
    fn os(&self, callback: &str) -> Option<Os> {
        let os = self.os.upgrade().map(|inner| Os { inner });
        if os.is_none() {
            late_callback(&self.findings, callback);
        }
        os
    }
}

/// Records a KMD callback made after the run's OS was dropped (R19: no Miracast context lives
/// any more). Driver behaviour, so a finding and an error status, never a panic.
fn late_callback(findings: &Findings, callback: &str) {
    findings.report(
        CheckId::LateCallback,
        RuleId::R19,
        Culprit::Kmd,
        format!("{callback} called after the simulated adapter was gone (every Miracast context had been destroyed)"),
        Vec::new(),
    );
}

#[async_trait(?Send)]
impl DxgkrnlServices for KmdServices {
    async fn indicate_child_status(&self, status: ChildStatus) -> NtStatus {
        let Some(os) = self.os(Ddi::DxgkCbIndicateChildStatus.name()) else {
            return NtStatus::STATUS_INVALID_DEVICE_STATE;
        };
        let args = CallArgs::ChildStatus((&status).into());
        let enter = os.service_enter(Ddi::DxgkCbIndicateChildStatus, args).await;
        let irql = os.current_irql();
        if irql > Irql::Dispatch {
            os.report(
                CheckId::ChildStatusIndication,
                RuleId::R69,
                Culprit::Kmd,
                format!(
                    "DxgkCbIndicateChildStatus called at {}; it requires IRQL <= DISPATCH_LEVEL",
                    irql.name()
                ),
                vec![enter],
            );
        }
        let target = os.miracast_target();
        let mut result = NtStatus::STATUS_SUCCESS;
        if Some(status.child_uid) == target {
            match status.status {
                ChildStatusKind::MiracastConnection {
                    connected,
                    monitor_type,
                } => {
                    // The connector is known once the UMD has talked to the sink: judged for
                    // arrivals in a started session.
                    let expected = os
                        .inner
                        .sink_facts
                        .borrow()
                        .monitor_type
                        .filter(|_| os.phase() == SessionPhase::Started);
                    if let Some(expected) = expected.filter(|e| {
                        connected
                            && *e != monitor_type
                            && monitor_type != VideoOutputTechnology::Uninitialized
                    }) {
                        os.report(
                            CheckId::ChildStatusIndication,
                            RuleId::R10,
                            Culprit::Kmd,
                            format!(
                                "monitor arrival indicated with MiracastMonitorType {}, but the sink reported a {} connector; the KMD reports the connector the sink gave",
                                monitor_type.c_name(),
                                expected.c_name()
                            ),
                            vec![enter],
                        );
                    }
                    if connected && monitor_type == VideoOutputTechnology::Uninitialized {
                        os.report(
                            CheckId::ChildStatusIndication,
                            RuleId::R10,
                            Culprit::Kmd,
                            "monitor arrival indicated with MiracastMonitorType D3DKMDT_VOT_UNINITIALIZED",
                            vec![enter],
                        );
                    }
                    os.inner.indication.set(Some(Indication {
                        connected,
                        monitor_type,
                        seq: enter,
                    }));
                    let me = os.inner.sched.current();
                    let described = os
                        .inner
                        .ioctl_ops
                        .borrow()
                        .get(&me)
                        .is_some_and(|op| *op == Some(IoctlMeaning::MonitorArrived));
                    if connected && described {
                        // Plug and Play reads the new monitor's EDID (lifecycle step 11, R15).
                        // Checked when the UMD's IOCTL described the monitor (EDID included),
                        // so the KMD knows it.
                        os.spawn_edid_read(status.child_uid, enter);
                    }
                }
                ChildStatusKind::Connection { .. } => {
                    os.report(
                        CheckId::ChildStatusIndication,
                        RuleId::R10,
                        Culprit::Kmd,
                        format!(
                            "the Miracast target {} was reported with StatusConnection; it must use StatusMiracastConnection",
                            status.child_uid
                        ),
                        vec![enter],
                    );
                }
                _ => {}
            }
        } else if target.is_none()
            && matches!(status.status, ChildStatusKind::MiracastConnection { .. })
        {
            result = NtStatus::STATUS_INVALID_PARAMETER;
        }
        os.service_leave(Ddi::DxgkCbIndicateChildStatus, Some(result), CallOut::None)
            .await;
        result
    }

    async fn notify_interrupt(&self, data: MiracastEncodeChunkCompleted) -> NtStatus {
        let Some(os) = self.os(Ddi::DxgkCbNotifyInterrupt.name()) else {
            return NtStatus::STATUS_INVALID_DEVICE_STATE;
        };
        let args = CallArgs::NotifyInterrupt {
            target: data.vidpn_target_id,
            chunk: data.chunk_info,
            private_size: data.private_driver_data.len() as u32,
        };
        let enter = os.service_enter(Ddi::DxgkCbNotifyInterrupt, args).await;
        let status = os.queue_chunk(&data, enter);
        os.service_leave(Ddi::DxgkCbNotifyInterrupt, Some(status), CallOut::None)
            .await;
        status
    }

    async fn notify_dpc(&self) {
        let Some(os) = self.os(Ddi::DxgkCbNotifyDpc.name()) else {
            return;
        };
        let enter = os.service_enter(Ddi::DxgkCbNotifyDpc, CallArgs::None).await;
        if os.current_irql() != Irql::Dirql {
            os.report(
                CheckId::ChunkOverflowDpc,
                RuleId::R69,
                Culprit::Kmd,
                "DxgkCbNotifyDpc called outside the KMD's interrupt routine",
                vec![enter],
            );
        }
        os.inner.chunks.borrow_mut().dpc_requested = true;
        os.service_leave(Ddi::DxgkCbNotifyDpc, None, CallOut::None)
            .await;
    }

    fn allocate_pool(&self, bytes: u64) -> bool {
        let Some(os) = self.os("the pool allocation callback") else {
            return false;
        };
        let thread = os.inner.sched.try_current();
        os.inner
            .memory
            .borrow_mut()
            .allocate(thread, bytes, os.inner.config.memory_budget_bytes)
    }

    fn free_pool(&self, bytes: u64) {
        let Some(os) = self.os("the pool free callback") else {
            return;
        };
        let thread = os.inner.sched.try_current();
        os.inner.memory.borrow_mut().free(thread, bytes);
    }
}

/// `DXGK_MIRACAST_DISPLAY_CALLBACKS` for one KMD Miracast context.
pub(crate) struct MiracastCallbacks {
    os: Weak<Inner>,
    findings: Findings,
    handle: Handle,
}

impl MiracastCallbacks {
    pub(crate) fn new(os: &Os, handle: Handle) -> Rc<Self> {
        Rc::new(MiracastCallbacks {
            os: Rc::downgrade(&os.inner),
            findings: os.inner.findings.clone(),
            handle,
        })
    }

    /// The OS, or `None` (and a finding) after the simulated OS is gone.
    fn os(&self, callback: &str) -> Option<Os> {
        let os = self.os.upgrade().map(|inner| Os { inner });
        if os.is_none() {
            late_callback(&self.findings, callback);
        }
        os
    }
}

#[async_trait(?Send)]
impl MiracastDisplayServices for MiracastCallbacks {
    fn miracast_handle(&self) -> Handle {
        self.handle
    }

    async fn send_message(
        &self,
        miracast_handle: Handle,
        buffers: Rc<MessageBuffers>,
        callback_context: Option<Handle>,
    ) -> NtStatus {
        let Some(os) = self.os(Ddi::DxgkCbMiracastSendMessage.name()) else {
            return NtStatus::STATUS_INVALID_HANDLE;
        };
        let id = os.inner.messages.borrow_mut().next_id();
        let args = CallArgs::SendMessage {
            id,
            input_size: buffers.input.len() as u32,
            output_size: buffers.output.borrow().len() as u32,
            callback: callback_context.is_some(),
        };
        let enter = os.service_enter(Ddi::DxgkCbMiracastSendMessage, args).await;
        let status = os.accept_message(id, miracast_handle, buffers, callback_context, enter);
        os.service_leave(Ddi::DxgkCbMiracastSendMessage, Some(status), CallOut::None)
            .await;
        status
    }

    async fn report_chunk_info(
        &self,
        miracast_handle: Handle,
        chunk_info: ChunkInfo,
        private_driver_data: Option<Vec<u8>>,
    ) -> NtStatus {
        let Some(os) = self.os(Ddi::DxgkCbReportChunkInfo.name()) else {
            return NtStatus::STATUS_INVALID_HANDLE;
        };
        let args = CallArgs::ReportChunkInfo {
            chunk: chunk_info,
            private: private_driver_data.as_ref().map_or(0, Vec::len) as u32,
        };
        let enter = os.service_enter(Ddi::DxgkCbReportChunkInfo, args).await;
        let mut status = NtStatus::STATUS_SUCCESS;
        if !os.miracast_handle_valid(miracast_handle) {
            os.report(
                CheckId::ReportChunkInfo,
                RuleId::R19,
                Culprit::Kmd,
                format!(
                    "DxgkCbReportChunkInfo with stale MiracastHandle {:#x}",
                    miracast_handle.0
                ),
                vec![enter],
            );
            status = NtStatus::STATUS_INVALID_HANDLE;
        } else if private_driver_data.is_some() {
            os.report(
                CheckId::ReportChunkInfo,
                RuleId::R57,
                Culprit::Kmd,
                "DxgkCbReportChunkInfo called with pPrivateDriverData/PrivateDataDriverSize set; both are reserved (NULL, 0)",
                vec![enter],
            );
            status = NtStatus::STATUS_INVALID_PARAMETER;
        } else {
            os.check_chunk_identity(&chunk_info, enter);
        }
        // Logging only: never queued for GetNextChunkData (R57).
        os.service_leave(Ddi::DxgkCbReportChunkInfo, Some(status), CallOut::None)
            .await;
        status
    }
}

impl Os {
    /// The `os-pnp` thread after a Miracast arrival: `DxgkDdiQueryDeviceDescriptor` must return
    /// the EDID the sink gave (R15) while that monitor is still reported connected.
    fn spawn_edid_read(&self, child_uid: u32, arrival: u32) {
        let os = self.clone();
        self.inner.sched.spawn("os-pnp", false, async move {
            let kmd = os.inner.kmd.clone();
            let adapter = os.inner.adapter.read().await;
            let ((status, edid), _, leave) = os
                .call(
                    Ddi::DxgkDdiQueryDeviceDescriptor,
                    CallArgs::QueryDeviceDescriptor { child_uid },
                    kmd.query_device_descriptor(child_uid),
                    |(s, e)| (Some(*s), CallOut::Descriptor { bytes: e.len() as u32 }),
                )
                .await;
            drop(adapter);
            let still_connected = os
                .inner
                .indication
                .get()
                .is_some_and(|i| i.connected && i.seq == arrival);
            let sink_gave_edid = os.inner.sink_facts.borrow().monitor_present;
            if still_connected && sink_gave_edid && (status != NtStatus::STATUS_SUCCESS || edid.is_empty()) {
                os.report(
                    CheckId::EdidRead,
                    RuleId::R15,
                    Culprit::Kmd,
                    format!(
                        "DxgkDdiQueryDeviceDescriptor for the Miracast target returned {status} with {} bytes after a monitor arrived whose EDID the sink gave",
                        edid.len()
                    ),
                    vec![arrival, leave],
                );
            }
        });
    }

    pub(crate) fn miracast_handle_valid(&self, handle: Handle) -> bool {
        self.inner.kmd_context.borrow().handle_valid(handle)
    }

    /// `DxgkCbMiracastSendMessage` after its entry: decide hold / deliver / drop.
    fn accept_message(
        &self,
        id: u64,
        handle: Handle,
        buffers: Rc<MessageBuffers>,
        callback_context: Option<Handle>,
        enter: u32,
    ) -> NtStatus {
        let irql = self.current_irql();
        if irql != Irql::Passive {
            self.report(
                CheckId::MessageSend,
                RuleId::R69,
                Culprit::Kmd,
                format!(
                    "DxgkCbMiracastSendMessage called at {}; it requires PASSIVE_LEVEL",
                    irql.name()
                ),
                vec![enter],
            );
            return NtStatus::STATUS_INVALID_DEVICE_STATE;
        }
        if !self.miracast_handle_valid(handle) {
            self.report(
                CheckId::MessageSend,
                RuleId::R19,
                Culprit::Kmd,
                format!("DxgkCbMiracastSendMessage with a MiracastHandle ({:#x}) that is not a live Miracast context's", handle.0),
                vec![enter],
            );
            return NtStatus::STATUS_INVALID_HANDLE;
        }
        if !buffers.input.is_empty() && callback_context.is_none() {
            self.inner.sched.emit(EventKind::Note {
                text: format!("message #{id} passes buffers without a completion routine: their lifetime is undefined (G15)"),
            });
        }
        let (phase, stop_begun) = {
            let session = self.inner.session.borrow();
            (session.phase, session.stop_begun)
        };
        self.inner.messages.borrow_mut().insert(
            id,
            Message {
                buffers,
                callback_context,
                sent_at: enter,
                sent_clock: self
                    .inner
                    .sched
                    .try_current()
                    .map(|_| self.inner.sched.release()),
            },
        );
        if stop_begun && self.knobs().deliver_after_stop {
            // OS-model knob (R29): delivered although StopMiracastSession has been called.
            self.inner
                .sched
                .emit(EventKind::MessageQueued { id, held: false });
            self.spawn_delivery(id, false);
        } else if stop_begun {
            // R29: dropped; the completion routine gets an error status.
            self.inner.sched.emit(EventKind::MessageDropped {
                id,
                status: self.drop_status(),
            });
            self.spawn_completion_for_drop(id);
        } else if phase == SessionPhase::Started {
            self.inner
                .sched
                .emit(EventKind::MessageQueued { id, held: false });
            self.spawn_delivery(id, false);
        } else if phase == SessionPhase::StartPending && self.knobs().deliver_held_messages_early {
            // OS-model knob (R28): not held; delivered at once, past the UMD lock Start holds.
            self.inner
                .sched
                .emit(EventKind::MessageQueued { id, held: false });
            self.spawn_delivery(id, true);
        } else {
            // R28: held until StartMiracastSession has returned.
            self.inner
                .sched
                .emit(EventKind::MessageQueued { id, held: true });
            self.inner.messages.borrow_mut().hold(id);
        }
        if self.knobs().send_returns_success {
            // OS-model knob (R25): the accepted message is answered STATUS_SUCCESS instead of
            // STATUS_PENDING; its hold, delivery or drop above is unchanged.
            NtStatus::STATUS_SUCCESS
        } else {
            NtStatus::STATUS_PENDING
        }
    }

    /// Delivers held messages (FIFO, G13) after a successful start.
    pub(crate) fn release_held_messages(&self) {
        let held = self.inner.messages.borrow_mut().take_held();
        for id in held {
            self.spawn_delivery(id, false);
        }
    }

    /// Drops held messages after a failed start or a stop (G13, R29).
    pub(crate) fn drop_held_messages(&self) {
        let held = self.inner.messages.borrow_mut().take_held();
        for id in held {
            self.inner.sched.emit(EventKind::MessageDropped {
                id,
                status: self.drop_status(),
            });
            self.spawn_completion_for_drop(id);
        }
    }

    /// The completion status of a dropped message: `STATUS_CANCELLED` (G6), or
    /// `STATUS_SUCCESS` with the `drop_with_success_status` knob (R29).
    fn drop_status(&self) -> NtStatus {
        if self.knobs().drop_with_success_status {
            // OS-model knob (R29): a dropped message completes with a success status.
            NtStatus::STATUS_SUCCESS
        } else {
            NtStatus::STATUS_CANCELLED
        }
    }

    /// Spawns the delivery of message `id`; `skip_umd_lock` delivers it without the UMD lock
    /// (only the R28 knobs do).
    fn spawn_delivery(&self, id: u64, skip_umd_lock: bool) {
        let os = self.clone();
        self.inner
            .sched
            .spawn(format!("msg-delivery-{id}"), false, async move {
                os.deliver(id, skip_umd_lock).await
            });
    }

    fn spawn_completion_for_drop(&self, id: u64) {
        let os = self.clone();
        let status = self.drop_status();
        self.inner
            .sched
            .spawn(format!("completion-{id}"), false, async move {
                os.complete(
                    id,
                    IoStatusBlock {
                        status,
                        information: 0,
                    },
                )
                .await;
            });
    }

    /// Checks that the KMD still owns the buffers of message `id` when the OS touches them (R26).
    fn touch_buffers(&self, id: u64, what: &str) -> bool {
        let Some((released, sent_at)) = self
            .inner
            .messages
            .borrow()
            .get(id)
            .map(|m| (m.buffers.is_released(), m.sent_at))
        else {
            return false;
        };
        if released {
            let seq = self.inner.sched.trace_len();
            self.inner
                .sched
                .emit(EventKind::BufferUseAfterRelease { id });
            self.report(
                CheckId::MessageBuffers,
                RuleId::R26,
                Culprit::Kmd,
                format!(
                    "the KMD released the buffers of message #{id} before its completion routine ran; the OS {what} freed memory"
                ),
                vec![sent_at, seq],
            );
        }
        !released
    }

    /// The `msg-delivery-N` thread: `HandleKernelModeMessage`, then the completion routine.
    async fn deliver(&self, id: u64, skip_umd_lock: bool) {
        self.acquire_send(id);
        let guard = if skip_umd_lock || self.knobs().no_umd_lock_for_kernel_messages {
            // OS-model knobs (R28): no UMD lock, so the handler can overlap the four
            // serialized UMD functions.
            None
        } else {
            Some(self.inner.umd_lock.read().await)
        };
        let stop_begun = self.inner.session.borrow().stop_begun;
        let context = self.inner.umd_host.borrow().context();
        // OS-model knob (R29): deliver_after_stop ignores that Stop has begun.
        let stopped = stop_begun && !self.knobs().deliver_after_stop;
        let Some(context) = context.filter(|_| !stopped) else {
            drop(guard);
            let status = self.drop_status();
            self.inner
                .sched
                .emit(EventKind::MessageDropped { id, status });
            self.complete(
                id,
                IoStatusBlock {
                    status,
                    information: 0,
                },
            )
            .await;
            return;
        };
        let readable = self.touch_buffers(id, "read the input of");
        let (input, output_size) = {
            let messages = self.inner.messages.borrow();
            let m = messages
                .get(id)
                .expect("a message being delivered is in flight until its completion");
            (
                if readable {
                    m.buffers.input.clone()
                } else {
                    vec![0xDD; m.buffers.input.len()]
                },
                m.buffers.output.borrow().len(),
            )
        };
        self.inner.sched.emit(EventKind::MessageDelivered { id });
        let mut output = vec![0u8; output_size];
        let umd = self.inner.umd.clone();
        let ((status, bytes), _, leave) = self
            .call(
                Ddi::HandleKernelModeMessage,
                CallArgs::HandleKernelModeMessage {
                    id,
                    input_size: input.len() as u32,
                    output_size: output_size as u32,
                },
                umd.handle_kernel_mode_message(context, &input, &mut output),
                |(s, b)| (Some(*s), CallOut::BytesReturned { bytes_returned: *b }),
            )
            .await;
        drop(guard);
        let mut information = u64::from(bytes);
        if bytes as usize > output_size {
            self.inner.sched.emit(EventKind::Note {
                text: format!(
                    "HandleKernelModeMessage returned *pBytesReturned={bytes} for a {output_size}-byte output buffer; the OS copies {output_size}"
                ),
            });
            self.report(
                CheckId::BytesReturned,
                RuleId::R23,
                Culprit::Umd,
                format!("HandleKernelModeMessage set *pBytesReturned to {bytes}, larger than OutputBufferSize {output_size}"),
                vec![leave],
            );
            information = output_size as u64;
        }
        if self.touch_buffers(id, "wrote the UMD's output into")
            && let Some(m) = self.inner.messages.borrow().get(id)
        {
            let mut out = m.buffers.output.borrow_mut();
            let n = (information as usize).min(out.len());
            out[..n].copy_from_slice(&output[..n]);
        }
        // Documented freedom (R27): the completion routine runs on this thread or another one.
        if self.inner.sched.choose(
            2,
            "completion routine on the delivery thread (0) or another thread (1)",
        ) == 0
        {
            self.complete(
                id,
                IoStatusBlock {
                    status,
                    information,
                },
            )
            .await;
        } else {
            let os = self.clone();
            self.inner
                .sched
                .spawn(format!("completion-{id}"), false, async move {
                    os.complete(
                        id,
                        IoStatusBlock {
                            status,
                            information,
                        },
                    )
                    .await;
                });
        }
    }

    /// The current thread has seen message `id`'s send (the OS's queue hands it over).
    fn acquire_send(&self, id: u64) {
        let clock = self
            .inner
            .messages
            .borrow()
            .get(id)
            .and_then(|m| m.sent_clock.clone());
        if let Some(clock) = clock
            && self.inner.sched.try_current().is_some()
        {
            self.inner.sched.acquire(&clock);
        }
    }

    /// Calls the KMD's completion routine for message `id`, if it passed one.
    async fn complete(&self, id: u64, io_status: IoStatusBlock) {
        self.acquire_send(id);
        let Some(message) = self.inner.messages.borrow_mut().remove(id) else {
            return;
        };
        let Some(callback_context) = message.callback_context else {
            return;
        };
        // Put it back while the routine runs so buffer checks still see it.
        self.inner.messages.borrow_mut().insert(id, message);
        let kmd = self.inner.kmd.clone();
        let guard = self.inner.adapter.read().await;
        let args = CallArgs::SendMessageCallback {
            id,
            status: io_status.status,
            information: io_status.information,
        };
        self.call(
            Ddi::DxgkCbMiracastSendMessageCallback,
            args,
            kmd.send_message_callback(callback_context, io_status),
            |_| (None, CallOut::None),
        )
        .await;
        drop(guard);
        self.inner.messages.borrow_mut().remove(id);
    }

    /// `DxgkCbNotifyInterrupt` body: checks and the chunk queue (R51, R52, R53).
    fn queue_chunk(&self, data: &MiracastEncodeChunkCompleted, enter: u32) -> NtStatus {
        if self.current_irql() != Irql::Dirql {
            self.report(
                CheckId::ChunkInterrupt,
                RuleId::R51,
                Culprit::Kmd,
                "DxgkCbNotifyInterrupt called outside the KMD's interrupt routine (IRQL is not DIRQL)",
                vec![enter],
            );
        }
        let (target, max_private) = {
            let adapter = self.inner.adapter_state.borrow();
            (
                adapter.miracast_target,
                adapter.caps.max_chunk_private_driver_data_size,
            )
        };
        let capacity = self.inner.config.chunk_queue_capacity;
        let session_up = self.inner.umd_host.borrow().context().is_some();
        if Some(data.vidpn_target_id) != target {
            self.report(
                CheckId::ChunkInterrupt,
                RuleId::R51,
                Culprit::Kmd,
                format!(
                    "chunk-complete interrupt for VidPnTargetId {} which is not the Miracast target {}",
                    data.vidpn_target_id,
                    target.map_or("(none)".to_owned(), |t| t.to_string())
                ),
                vec![enter],
            );
            return NtStatus::STATUS_INVALID_PARAMETER;
        }
        if data.private_driver_data.len() as u64 > u64::from(max_private) {
            self.report(
                CheckId::ChunkInterrupt,
                RuleId::R52,
                Culprit::Kmd,
                format!(
                    "PrivateDataDriverSize {} exceeds DXGK_MIRACAST_CAPS.MaxChunkPrivateDriverDataSize {max_private}",
                    data.private_driver_data.len()
                ),
                vec![enter],
            );
            return NtStatus::STATUS_INVALID_PARAMETER;
        }
        self.check_chunk_identity(&data.chunk_info, enter);
        if !session_up {
            return NtStatus::STATUS_INVALID_PARAMETER;
        }
        let mut chunks = self.inner.chunks.borrow_mut();
        if chunks.queue.len() as u32 >= capacity {
            let discarded = chunks.queue.len() as u32;
            chunks.queue.clear();
            chunks.reset_pending = true;
            chunks.overflowed_in_isr = true;
            drop(chunks);
            self.inner
                .sched
                .emit(EventKind::ChunkOverflow { discarded });
            self.inner.chunk_arrived.set();
            return NtStatus::STATUS_NO_MEMORY;
        }
        chunks.queue.push_back(ChunkData {
            chunk_info: data.chunk_info,
            private_driver_data: data.private_driver_data.clone(),
        });
        let depth = chunks.queue.len() as u32;
        drop(chunks);
        self.inner.sched.emit(EventKind::ChunkQueued {
            frame: data.chunk_info.chunk_id.frame_number(),
            part: data.chunk_info.chunk_id.part_number(),
            depth,
        });
        self.inner.chunk_arrived.set();
        NtStatus::STATUS_SUCCESS
    }

    /// R58/R59 on the chunk stream the KMD reports (interrupts and `DxgkCbReportChunkInfo`).
    pub(crate) fn check_chunk_identity(&self, info: &ChunkInfo, seq: u32) {
        let frame = info.chunk_id.frame_number();
        let part = info.chunk_id.part_number();
        if info.chunk_type == ChunkType::EncodeComplete && info.encode_rate == 0 {
            self.report(
                CheckId::ChunkStream,
                RuleId::R59,
                Culprit::Kmd,
                format!("ENCODE_COMPLETE for frame {frame} part {part} reported with EncodeRate 0"),
                vec![seq],
            );
        }
        let mut findings = Vec::new();
        {
            let mut ids = self.inner.chunk_ids.borrow_mut();
            match info.chunk_type {
                ChunkType::FrameStart => {
                    // A new pass over `frame`: its ids may repeat (G33). Earlier frames are done:
                    // the last slice of each must have been part 0 (R58).
                    ids.seen.retain(|(_, f, _)| *f != frame);
                    ids.started.insert(frame);
                    let done: Vec<u64> = ids.encoded.range(..frame).map(|(f, _)| *f).collect();
                    for f in done {
                        if ids.encoded.remove(&f) == Some(false) {
                            findings.push((RuleId::R58, format!("frame {f} was encoded but no ENCODE_COMPLETE had PartNumber 0 (the last slice of every frame has PartNumber 0)")));
                        }
                    }
                }
                ChunkType::FrameDropped
                    if ids.processed.contains(&frame) && !ids.started.contains(&frame) =>
                {
                    findings.push((RuleId::R59, format!("FRAME_DROPPED for frame {frame}, which had partial processing but no FRAME_START")));
                }
                ChunkType::EncodeComplete | ChunkType::ColorConvertComplete => {
                    ids.processed.insert(frame);
                    if info.chunk_type == ChunkType::EncodeComplete {
                        *ids.encoded.entry(frame).or_insert(false) |= part == 0;
                    }
                }
                _ => {}
            }
            if !ids.seen.insert((info.chunk_type as u32, frame, part))
                && info.chunk_type != ChunkType::FrameStart
            {
                findings.push((
                    RuleId::R58,
                    format!(
                        "chunk {:?} frame {frame} part {part} reported twice in one encode pass",
                        info.chunk_type
                    ),
                ));
            }
        }
        for (rule, finding) in findings {
            self.report(CheckId::ChunkStream, rule, Culprit::Kmd, finding, vec![seq]);
        }
    }
}
