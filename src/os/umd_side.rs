//! `MIRACAST_CALLBACKS`: the services the UMD calls. `MiracastIoControl` is gated by the session
//! phase and the calling thread (R42, R44, R20); `ReportSessionStatus` tears the session down
//! (R47); `GetNextChunkData` implements every outcome of R54; data-rate notifications run once
//! per virtual second (R50).

use super::{Inner, Os};
use crate::ddi::*;
use crate::rules::{CheckId, Culprit, Findings, RuleId};
use crate::sched::{SimEvent, wait_any};
use crate::status::NtStatus;
use crate::trace::{CallArgs, CallOut, EventKind, IoctlMeaning};
use async_trait::async_trait;
use std::rc::{Rc, Weak};
use std::time::Duration;

/// `MIRACAST_CALLBACKS` for one UMD context. Holds the OS weakly: the UMD keeps these for the
/// context's life, and the OS owns the UMD.
pub(crate) struct UmdServices {
    os: Weak<Inner>,
    /// The run's findings, kept so a call made after the OS is gone is still recorded.
    findings: Findings,
}

impl UmdServices {
    pub(crate) fn new(os: &Os) -> Rc<Self> {
        Rc::new(UmdServices {
            os: Rc::downgrade(&os.inner),
            findings: os.inner.findings.clone(),
        })
    }

    /// The OS, or `None` and an R36 finding when the UMD calls `ddi` after the simulated OS
    /// (and so its context) is gone: driver behaviour, never a panic.
    fn os(&self, ddi: Ddi) -> Option<Os> {
        let os = self.os.upgrade().map(|inner| Os { inner });
        if os.is_none() {
            self.findings.report(
                CheckId::LateCallback,
                RuleId::R36,
                Culprit::Umd,
                format!(
                    "{ddi} called after the run's OS, and with it the Miracast context, was gone"
                ),
                Vec::new(),
            );
        }
        os
    }
}

impl Os {
    /// R36: callbacks are valid only during the life of the context (and with its handle).
    fn check_umd_callback(&self, ddi: Ddi, device: Handle, enter: u32) -> bool {
        let (destroyed, current) = {
            let umd = self.inner.umd_host.borrow();
            (umd.destroyed(), umd.device())
        };
        if destroyed {
            self.report(
                CheckId::UmdCallbackLifetime,
                RuleId::R36,
                Culprit::Umd,
                format!("{ddi} called after DestroyMiracastContext returned"),
                vec![enter],
            );
            return false;
        }
        if device != current {
            self.report(
                CheckId::UmdCallbackLifetime,
                RuleId::R36,
                Culprit::Umd,
                format!("{ddi} called with a foreign device handle {:#x}", device.0),
                vec![enter],
            );
            return false;
        }
        true
    }

    /// Starts the OS teardown after `ReportSessionStatus` (R47): Stop, UMD destroy, KMD destroy.
    fn request_teardown(&self) {
        if std::mem::replace(
            &mut self.inner.session.borrow_mut().teardown_requested,
            true,
        ) {
            return;
        }
        let os = self.clone();
        self.inner.sched.spawn("os-teardown", false, async move {
            os.stop_session().await;
            if os.knobs().teardown_stops_only {
                // OS-model knob (R47): the teardown ends after the stop.
                os.note("OS-model knob teardown_stops_only: neither DestroyMiracastContext nor DxgkDdiMiracastDestroyContext follows");
                return;
            }
            os.umd_destroy_context().await;
            os.kmd_destroy_context().await;
        });
    }

    /// Spawns the `datarate` thread for the registration `generation`.
    fn start_datarate_thread(&self, context: Handle, generation: u64) {
        let os = self.clone();
        // OS-model knob (R50): another period than about once a second.
        let period = self
            .knobs()
            .datarate_interval_ms
            .map_or(Duration::from_secs(1), Duration::from_millis);
        self.inner.sched.spawn("datarate", true, async move {
            loop {
                os.inner.sched.sleep(period).await;
                // The choice point of the notification's entry comes before the look at the
                // registration, so a Stop (and its final NULL call) cannot slip in between.
                os.inner.sched.yield_now().await;
                let registered = os.inner.datarate.borrow().is_current(context, generation);
                let phase = os.phase();
                if !registered || phase != SessionPhase::Started {
                    return;
                }
                let stats = DataRateStats {
                    encoder_bit_rate: os.inner.config.suggested_bitrate,
                    current_max_tx_data_rate: os.inner.config.local_max_bitrate,
                    transmitted_frame_count: 1_000,
                    ..DataRateStats::default()
                };
                let umd = os.inner.umd.clone();
                os.inner.datarate.borrow_mut().enter();
                os.inner.datarate_idle.reset();
                os.call_after_choice(
                    Ddi::PfnDataRateNotify,
                    CallArgs::DataRateNotify { stats: true },
                    umd.data_rate_notify(context, Some(stats)),
                    |_| (None, CallOut::None),
                )
                .await;
                if os.inner.datarate.borrow_mut().leave() {
                    os.inner.datarate_idle.set();
                }
            }
        });
    }

    /// The `datarate_after_unregister` knob (R50): a notification with statistics to a
    /// registration the UMD has just removed.
    fn spawn_late_datarate(&self, context: Handle) {
        let os = self.clone();
        self.inner.sched.spawn("datarate-late", false, async move {
            let stats = DataRateStats {
                encoder_bit_rate: os.inner.config.suggested_bitrate,
                current_max_tx_data_rate: os.inner.config.local_max_bitrate,
                transmitted_frame_count: 1_000,
                ..DataRateStats::default()
            };
            let umd = os.inner.umd.clone();
            os.call(
                Ddi::PfnDataRateNotify,
                CallArgs::DataRateNotify { stats: true },
                umd.data_rate_notify(context, Some(stats)),
                |_| (None, CallOut::None),
            )
            .await;
        });
    }

    /// Waits until no data-rate notification is inside the UMD. A notification may overlap
    /// StopMiracastSession (it comes from a thread of its own, and nothing documented orders
    /// the two), but the NULL-stats call is documented as the last call, so it cannot overlap
    /// an earlier one, and after DestroyMiracastContext returns the OS unloads the UMD, which
    /// it cannot do while its own call is still running the UMD's code (R36, R46, R50).
    pub(crate) async fn datarate_quiesce(&self) {
        while self.inner.datarate.borrow().in_flight() > 0 {
            self.inner.datarate_idle.wait(None).await;
        }
    }

    /// At stop: the last data-rate call, with no stats (R50), once no earlier one is running.
    pub(crate) async fn finish_datarate(&self) {
        let context = self.inner.datarate.borrow_mut().unregister();
        if context.is_some() {
            self.datarate_quiesce().await;
        }
        if let Some(context) = context {
            let umd = self.inner.umd.clone();
            self.call(
                Ddi::PfnDataRateNotify,
                CallArgs::DataRateNotify { stats: false },
                umd.data_rate_notify(context, None),
                |_| (None, CallOut::None),
            )
            .await;
        }
    }

    /// `DxgkDdiMiracastIoControl` with the locks its level needs.
    pub(crate) async fn kmd_io_control(
        &self,
        hardware_access: bool,
        input: &[u8],
        output: &mut [u8],
        op: Option<IoctlMeaning>,
    ) -> (NtStatus, u32) {
        let (context, destroyed, early) = {
            let kmd = self.inner.kmd_context.borrow();
            (kmd.context(), kmd.last_destroyed(), kmd.overrun())
        };
        // OS-model knobs (R18, R20): the IOCTL goes to the destroyed KMD context.
        let stale = self.knobs().ioctl_after_kmd_destroy
            || (self.knobs().ioctl_passes_after_stop_overrun && early);
        let Some(context) = context.or(destroyed.filter(|_| stale)) else {
            return (NtStatus::STATUS_INVALID_DEVICE_STATE, 0);
        };
        let kmd = self.inner.kmd.clone();
        let args = CallArgs::IoControl {
            hardware_access,
            input_size: input.len() as u32,
            output_size: output.len() as u32,
            op,
        };
        let output_size = output.len() as u32;
        // Which private operation the KMD is serving on this thread, for checks of what it
        // reports from inside (R15: an arrival the UMD described, EDID included).
        let me = self.inner.sched.current();
        self.inner.ioctl_ops.borrow_mut().insert(me, op);
        let ((status, bytes), _, leave) = if hardware_access {
            let _level3 = self.level3_lock().await;
            self.call(
                Ddi::DxgkDdiMiracastIoControl,
                args,
                kmd.miracast_io_control(context, true, input, output),
                |(s, b)| (Some(*s), CallOut::BytesReturned { bytes_returned: *b }),
            )
            .await
        } else {
            let _class = self.miracast_class_lock().await;
            let _adapter = self.inner.adapter.read().await;
            self.call(
                Ddi::DxgkDdiMiracastIoControl,
                args,
                kmd.miracast_io_control(context, false, input, output),
                |(s, b)| (Some(*s), CallOut::BytesReturned { bytes_returned: *b }),
            )
            .await
        };
        self.inner.ioctl_ops.borrow_mut().remove(&me);
        if bytes > output_size {
            self.report(
                CheckId::BytesReturned,
                RuleId::R23,
                Culprit::Kmd,
                format!("DxgkDdiMiracastIoControl set *BytesReturned to {bytes}, larger than OutputBufferSize {output_size}"),
                vec![leave],
            );
        }
        (status, bytes.min(output_size))
    }
}

#[async_trait(?Send)]
impl MiracastUmdServices for UmdServices {
    async fn report_session_status(
        &self,
        device: Handle,
        status: MiracastStatus,
        diagnostic: NtStatus,
    ) {
        let Some(os) = self.os(Ddi::ReportSessionStatus) else {
            return;
        };
        let enter = os
            .service_enter(
                Ddi::ReportSessionStatus,
                CallArgs::ReportSessionStatus { status, diagnostic },
            )
            .await;
        if os.check_umd_callback(Ddi::ReportSessionStatus, device, enter) {
            // G18: every MIRACAST_STATUS value is a termination cause.
            let started = os.inner.umd_host.borrow().context().is_some();
            if started {
                os.request_teardown();
            }
        }
        os.service_leave(Ddi::ReportSessionStatus, None, CallOut::None)
            .await;
    }

    async fn miracast_io_control(
        &self,
        device: Handle,
        hardware_access: bool,
        input: &[u8],
        output: &mut [u8],
    ) -> (NtStatus, u32) {
        let Some(os) = self.os(Ddi::MiracastIoControl) else {
            return (NtStatus::STATUS_INVALID_HANDLE, 0);
        };
        let op = os.inner.profile.get().and_then(|p| p.ioctl_meaning(input));
        let args = CallArgs::IoControl {
            hardware_access,
            input_size: input.len() as u32,
            output_size: output.len() as u32,
            op,
        };
        let enter = os.service_enter(Ddi::MiracastIoControl, args).await;
        let me = os.inner.sched.current();
        let result = 'call: {
            if !os.check_umd_callback(Ddi::MiracastIoControl, device, enter) {
                break 'call (NtStatus::STATUS_INVALID_HANDLE, 0);
            }
            loop {
                let (phase, serialized) = {
                    let session = os.inner.session.borrow();
                    (session.phase, session.serialized_call)
                };
                let early = os.inner.kmd_context.borrow().overrun();
                let own_thread = serialized.is_some_and(|(t, _)| t == me);
                // OS-model knob (R20): the block after a stop overrun is forgotten.
                let early = early && !os.knobs().ioctl_passes_after_stop_overrun;
                if early {
                    // R20: after a stop overrun the OS destroyed the KMD context; no IOCTL may
                    // reach the KMD any more.
                    break 'call (NtStatus::STATUS_INVALID_DEVICE_STATE, 0);
                }
                let knobs = os.knobs();
                match phase {
                    // OS-model knob (R42): other threads do not wait for the start.
                    SessionPhase::StartPending
                        if !own_thread && knobs.ioctl_not_blocked_during_start => {}
                    // OS-model knob (R44): other threads are not failed during the stop.
                    SessionPhase::StopPending
                        if !own_thread && knobs.ioctl_succeeds_during_stop => {}
                    SessionPhase::StartPending if !own_thread => {
                        // R42: other threads block until the start finishes.
                        os.inner.sched.emit(EventKind::Note {
                            text: "MiracastIoControl from another thread blocks until StartMiracastSession returns".to_owned(),
                        });
                        os.inner.start_finished.wait(None).await;
                        continue;
                    }
                    SessionPhase::StopPending if !own_thread => {
                        // R44: other threads fail during stop (code: simulator choice, G6).
                        break 'call (NtStatus::STATUS_INVALID_DEVICE_STATE, 0);
                    }
                    _ => {}
                }
                let stop_done = {
                    let session = os.inner.session.borrow();
                    session.stop_begun
                        && !own_thread
                        && session.phase == SessionPhase::Stopped
                        && os.inner.umd_host.borrow().context().is_some()
                };
                if stop_done {
                    // Between stop and destroy only the destroying thread's calls go through.
                    break 'call (NtStatus::STATUS_INVALID_DEVICE_STATE, 0);
                }
                break;
            }
            os.kmd_io_control(hardware_access, input, output, op).await
        };
        os.service_leave(
            Ddi::MiracastIoControl,
            Some(result.0),
            CallOut::BytesReturned {
                bytes_returned: result.1,
            },
        )
        .await;
        result
    }

    async fn report_statistic(&self, device: Handle, data: StatisticData) {
        let Some(os) = self.os(Ddi::ReportStatistic) else {
            return;
        };
        let enter = os
            .service_enter(Ddi::ReportStatistic, CallArgs::ReportStatistic(data))
            .await;
        let valid = os.check_umd_callback(Ddi::ReportStatistic, device, enter);
        if valid && data == StatisticData::Event(ProtocolEvent::SinkFailedPreferredModeChange) {
            os.report(
                CheckId::StatisticEvent,
                RuleId::R61,
                Culprit::Umd,
                "ReportStatistic used the reserved MIRACAST_PROTOCOL_EVENT_SINK_FAILED_PREFERRED_MODE_CHANGE",
                vec![enter],
            );
        }
        let target = os.miracast_target();
        if let (true, true, StatisticData::Event(_), Some(target)) =
            (valid, os.knobs().statistic_changes_state, data, target)
        {
            // OS-model knob (R48): a logged protocol event makes the OS re-read the target.
            let _ = os
                .query_child_status(
                    target,
                    ChildStatusKind::MiracastConnection {
                        connected: false,
                        monitor_type: VideoOutputTechnology::Uninitialized,
                    },
                )
                .await;
        }
        // Logging only (R48): no OS state changes here.
        os.service_leave(Ddi::ReportStatistic, None, CallOut::None)
            .await;
    }

    async fn get_next_chunk_data(
        &self,
        device: Handle,
        timeout_ms: u32,
        additional_wait_events: &[SimEvent],
        buffer_size: u32,
    ) -> ChunkDataResult {
        let Some(os) = self.os(Ddi::GetNextChunkData) else {
            return ChunkDataResult {
                status: NtStatus::STATUS_INSTANCE_NOT_AVAILABLE,
                size: 0,
                chunks: Vec::new(),
                outstanding: 0,
            };
        };
        let args = CallArgs::GetNextChunkData {
            timeout_ms,
            events: additional_wait_events.len() as u32,
            buffer_size,
        };
        let enter = os.service_enter(Ddi::GetNextChunkData, args).await;
        let result = if !os.check_umd_callback(Ddi::GetNextChunkData, device, enter) {
            ChunkDataResult {
                status: NtStatus::STATUS_INSTANCE_NOT_AVAILABLE,
                size: 0,
                chunks: Vec::new(),
                outstanding: 0,
            }
        } else if additional_wait_events.len() as u32 > MAX_ADDITIONAL_EVENTS {
            ChunkDataResult {
                status: NtStatus::STATUS_INVALID_PARAMETER,
                size: 0,
                chunks: Vec::new(),
                outstanding: 0,
            }
        } else {
            os.inner.chunks.borrow_mut().getters += 1;
            let r = os
                .next_chunks(timeout_ms, additional_wait_events, buffer_size)
                .await;
            os.inner.chunks.borrow_mut().getters -= 1;
            r
        };
        let out = CallOut::Chunks {
            size: result.size,
            outstanding: result.outstanding,
            chunks: result.chunks.len() as u32,
            ids: result
                .chunks
                .iter()
                .map(|c| c.chunk_info.chunk_id)
                .collect(),
        };
        os.service_leave(Ddi::GetNextChunkData, Some(result.status), out)
            .await;
        result
    }

    async fn register_for_data_rate_notifications(
        &self,
        device: Handle,
        notification_context: Option<Handle>,
    ) -> NtStatus {
        let Some(os) = self.os(Ddi::RegisterForDataRateNotifications) else {
            return NtStatus::STATUS_INVALID_HANDLE;
        };
        let enter = os
            .service_enter(
                Ddi::RegisterForDataRateNotifications,
                CallArgs::RegisterDataRate {
                    register: notification_context.is_some(),
                },
            )
            .await;
        let me = os.inner.sched.current();
        let status = 'call: {
            if !os.check_umd_callback(Ddi::RegisterForDataRateNotifications, device, enter) {
                break 'call NtStatus::STATUS_INVALID_HANDLE;
            }
            let serialized = os.inner.session.borrow().serialized_call;
            let on_start_or_stop = serialized.is_some_and(|(t, ddi)| {
                t == me && matches!(ddi, Ddi::StartMiracastSession | Ddi::StopMiracastSession)
            });
            if !on_start_or_stop {
                os.report(
                    CheckId::DataRateRegistration,
                    RuleId::R49,
                    Culprit::Umd,
                    "RegisterForDataRateNotifications called on a thread that is not running StartMiracastSession or StopMiracastSession",
                    vec![enter],
                );
                break 'call NtStatus::STATUS_NOT_SUPPORTED;
            }
            let mut datarate = os.inner.datarate.borrow_mut();
            match (notification_context, datarate.registered()) {
                // Double register / double unregister fail (code unstated: simulator choice, G6).
                (Some(_), Some(_)) | (None, None) => NtStatus::STATUS_INVALID_DEVICE_STATE,
                (Some(ctx), None) => {
                    let generation = datarate.register(ctx);
                    drop(datarate);
                    os.start_datarate_thread(ctx, generation);
                    NtStatus::STATUS_SUCCESS
                }
                (None, Some(old)) => {
                    datarate.unregister();
                    drop(datarate);
                    if os.knobs().datarate_after_unregister {
                        // OS-model knob (R50): one more notification after unregistering.
                        os.spawn_late_datarate(old);
                    }
                    NtStatus::STATUS_SUCCESS
                }
            }
        };
        os.service_leave(
            Ddi::RegisterForDataRateNotifications,
            Some(status),
            CallOut::None,
        )
        .await;
        status
    }
}

impl Os {
    /// The body of `GetNextChunkData` (R53, R54).
    async fn next_chunks(
        &self,
        timeout_ms: u32,
        events: &[SimEvent],
        buffer_size: u32,
    ) -> ChunkDataResult {
        let deadline = (timeout_ms != INFINITE)
            .then(|| self.inner.sched.now() + Duration::from_millis(u64::from(timeout_ms)));
        loop {
            {
                let gone = self.inner.umd_host.borrow().context().is_none()
                    || self.inner.session.borrow().stop_begun;
                if gone {
                    return ChunkDataResult {
                        status: NtStatus::STATUS_INSTANCE_NOT_AVAILABLE,
                        size: 0,
                        chunks: Vec::new(),
                        outstanding: 0,
                    };
                }
                let mut waiting = self.inner.chunks.borrow_mut();
                if std::mem::take(&mut waiting.reset_pending) {
                    return ChunkDataResult {
                        status: NtStatus::STATUS_CONNECTION_RESET,
                        size: 0,
                        chunks: Vec::new(),
                        outstanding: 0,
                    };
                }
                if let Some(first) = waiting.queue.front() {
                    if first.record_size() > buffer_size {
                        return ChunkDataResult {
                            status: NtStatus::STATUS_BUFFER_TOO_SMALL,
                            size: 0,
                            chunks: Vec::new(),
                            outstanding: waiting.queue.len() as u32,
                        };
                    }
                    let mut size = 0;
                    let mut chunks = Vec::new();
                    while let Some(next) = waiting.queue.front() {
                        if size + next.record_size() > buffer_size {
                            break;
                        }
                        size += next.record_size();
                        chunks.push(waiting.queue.pop_front().expect("front exists"));
                    }
                    return ChunkDataResult {
                        status: NtStatus::STATUS_SUCCESS,
                        size,
                        chunks,
                        outstanding: waiting.queue.len() as u32,
                    };
                }
            }
            if let Some(i) = events.iter().position(SimEvent::is_set) {
                events[i].reset();
                return ChunkDataResult {
                    status: NtStatus(i as i32),
                    size: 0,
                    chunks: Vec::new(),
                    outstanding: 0,
                };
            }
            let remaining = match deadline {
                Some(d) if d <= self.inner.sched.now() => {
                    // OS-model knob (R54): a timeout reported as success with no data.
                    let status = if self.knobs().empty_chunk_success {
                        NtStatus::STATUS_SUCCESS
                    } else {
                        NtStatus::STATUS_TIMEOUT
                    };
                    return ChunkDataResult {
                        status,
                        size: 0,
                        chunks: Vec::new(),
                        outstanding: 0,
                    };
                }
                Some(d) => Some(d.saturating_since(self.inner.sched.now())),
                None => None,
            };
            self.inner.chunk_arrived.reset();
            let mut waits: Vec<&SimEvent> =
                vec![&self.inner.chunk_arrived, &self.inner.session_gone];
            waits.extend(events.iter());
            if let Some(i) = wait_any(&self.inner.sched, &waits, remaining).await
                && i >= 2
            {
                // Extra event i-2 fired: STATUS_WAIT_n with size 0 (WAIT_0 equals SUCCESS).
                return ChunkDataResult {
                    status: NtStatus((i - 2) as i32),
                    size: 0,
                    chunks: Vec::new(),
                    outstanding: 0,
                };
            }
        }
    }
}
