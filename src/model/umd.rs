//! The reference Miracast UMD: negotiates with the sink through the Wi-Fi Display source of
//! [`crate::wfd`], reports the monitor to the KMD after Start, serves the RTSP connection and
//! pulls encode chunks, keeping every documented UMD rule unless a [`Knobs`] fault is on.
//!
//! Threads. Start runs on the OS's thread and drives the [`Source`] until the sink accepted
//! M4 (capabilities and monitor known). It then hands the source to a `umd-session` thread,
//! which first sends `MONITOR_ARRIVED` (after Start returned, R43: the OS holds that IOCTL
//! until then, R42) and then serves RTSP: keep-alives, IDR requests, monitor changes, teardown.
//! A `umd-stream` thread pulls `GetNextChunkData`. Stop signals both and joins them;
//! Destroy makes sure none is left (R46).
//!
//! State shared between those threads, `HandleKernelModeMessage` (which may run on several
//! threads at once, R30) and the four serialized context functions lives in one [`Tracked`]
//! cell behind one [`SimRwLock`], taken shared by the read-only looks (the session and stream
//! threads' "are we stopping?" polls) and exclusively by everything that writes; the lock is
//! never held across a call into the OS or the socket.

use super::knobs::{Knobs, UmdConfig};
use super::protocol::{IoctlRequest, KmdMessage, SinkInfo};
use crate::ddi::*;
use crate::sched::{Sched, SimEvent, SimRwLock, ThreadId, Tracked};
use crate::status::NtStatus;
use crate::wfd::params::TriggerMethod;
use crate::wfd::select::DEFAULT_MIN_BITRATE_1024X768;
use crate::wfd::source::{Source, SourceConfig};
use crate::wfd::{CloseReason, Endpoint, Event, NegotiatedSession};
use async_trait::async_trait;
use std::rc::Rc;
use std::time::Duration;

/// First `MiracastContext` handle value of the UMD.
const UMD_CONTEXT_BASE: u64 = 0x554D_0000;
/// Largest `GetNextChunkData` buffer the stream thread grows to.
const MAX_CHUNK_BUFFER: u32 = 1 << 20;
/// How long the stream thread waits for a chunk before checking for a stop again; the stop
/// event normally wakes it first (`STATUS_WAIT_0`).
const CHUNK_WAIT_MS: u32 = 250;
/// How long Stop waits for its threads (R45: Stop returns promptly; a thread stuck in an OS
/// call is joined by Destroy).
const STOP_JOIN: Duration = Duration::from_millis(200);
/// How long Destroy waits for its threads, inside its 3 s budget (R46).
const DESTROY_JOIN: Duration = Duration::from_millis(2_000);
/// Sleep of the `slow_stop` fault.
const SLOW_STOP: Duration = Duration::from_secs(5);
/// Sleep of the `slow_destroy` fault.
const SLOW_DESTROY: Duration = Duration::from_secs(4);
/// Lifetime of the thread the `destroy_leaves_thread_alive` fault leaves behind.
const LEFTOVER_THREAD: Duration = Duration::from_secs(10);

/// The `D3DKMDT_VIDEO_OUTPUT_TECHNOLOGY` for a `wfd_connector_type` byte (R10).
pub fn monitor_type_of_connector(connector: Option<u8>) -> VideoOutputTechnology {
    VideoOutputTechnology::of_wfd_connector(connector)
}

/// What one running session shares between its threads and the OS-called functions.
struct SessionState {
    rtsp: Rc<dyn RtspSocket>,
    monitor_type: VideoOutputTechnology,
    /// Set by Stop (or Destroy); the threads leave and nothing more goes on the network.
    stopping: bool,
    /// A power change a kernel message asked for, for the session thread to carry out
    /// (`Some(true)` standby, `Some(false)` resume).
    power_request: Option<bool>,
    /// The monitor the KMD was told about is present.
    monitor_reported: bool,
    /// The sink itself said the monitor left (the only case where departure may be asked
    /// for, R13).
    sink_reported_departure: bool,
    /// The UMD's own (simulated) streaming socket is open (closed by Stop, R45).
    stream_socket_open: bool,
    /// A session status was reported (only the first cause is).
    status_reported: bool,
    threads: Vec<(ThreadId, SimEvent)>,
    stop_event: SimEvent,
}

struct ContextState {
    handle: Handle,
    device: Handle,
    callbacks: Rc<dyn MiracastUmdServices>,
    session: Option<SessionState>,
    data_rate_registered: bool,
}

/// What tests and reports can read back.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UmdObservations {
    /// Chunk ids "sent" on the streaming socket, in order (one `CHUNK_SENT` each, R59).
    pub chunks_sent: Vec<ChunkId>,
    /// Chunks dropped because the session was stopping (R32).
    pub chunks_discarded: u32,
    /// `HandleKernelModeMessage` calls that decoded.
    pub kernel_messages: u32,
    /// Standby (M12) requests sent to the sink after `POWER_OFF_MONITOR` (R31).
    pub standby_sent: u32,
    /// Data-rate notifications received, and whether the last one said QoS ended.
    pub data_rate_notifications: u32,
    /// The last data-rate statistics.
    pub last_data_rate: Option<DataRateStats>,
    /// QoS data ended (a notification without statistics, R50).
    pub data_rate_ended: bool,
    /// Status of `RegisterForDataRateNotifications`, when called.
    pub data_rate_register_status: Option<NtStatus>,
    /// The last negotiated session.
    pub negotiated: Option<NegotiatedSession>,
    /// Connection resets seen by the stream thread (R53).
    pub connection_resets: u32,
    /// The session thread's RTSP source ended, and why.
    pub session_closed: Option<CloseReason>,
    /// Every `MiracastIoControl` the UMD issued (operation name) and its status.
    pub ioctls: Vec<(&'static str, NtStatus)>,
}

struct UmdState {
    context: Option<ContextState>,
    contexts_created: u64,
    observed: UmdObservations,
}

struct Shared {
    sched: Sched,
    config: UmdConfig,
    knobs: Knobs,
    lock: SimRwLock,
    state: Tracked<UmdState>,
}

/// The reference Miracast UMD. Build it with [`ReferenceUmd::new`] or
/// [`super::reference_drivers`].
pub struct ReferenceUmd {
    shared: Rc<Shared>,
}

/// What Start hands the `umd-session` thread.
struct SessionThreadStart {
    source: Source,
    rtsp: Rc<dyn RtspSocket>,
    callbacks: Rc<dyn MiracastUmdServices>,
    device: Handle,
    context: Handle,
    /// `MONITOR_ARRIVED` to send first, when the sink reported a monitor.
    arrival: Option<IoctlRequest>,
    /// Register for data-rate notifications on this thread (the R49 fault).
    register_here: bool,
}

/// Why Start failed, before it becomes a status.
enum StartFailure {
    Insufficient,
    Status(NtStatus),
}

impl ReferenceUmd {
    /// A UMD whose threads run on `sched`.
    pub fn new(sched: &Sched, config: UmdConfig, knobs: Knobs) -> Self {
        ReferenceUmd {
            shared: Rc::new(Shared {
                sched: sched.clone(),
                lock: SimRwLock::new(sched, "umd.lock"),
                state: Tracked::new(
                    sched,
                    "umd.state",
                    UmdState {
                        context: None,
                        contexts_created: 0,
                        observed: UmdObservations::default(),
                    },
                ),
                config,
                knobs,
            }),
        }
    }

    /// What the UMD did so far.
    pub fn observations(&self) -> UmdObservations {
        self.shared.state.peek(|s| s.observed.clone())
    }

    /// True while a session is started (between a successful Start and Stop).
    pub fn session_active(&self) -> bool {
        self.shared
            .state
            .peek(|s| s.context.as_ref().is_some_and(|c| c.session.is_some()))
    }

    /// True while a context exists.
    pub fn has_context(&self) -> bool {
        self.shared.state.peek(|s| s.context.is_some())
    }
}

impl Shared {
    /// Runs `f` on the state, under the lock unless `unlocked`.
    async fn with_state<R>(&self, unlocked: bool, f: impl FnOnce(&mut UmdState) -> R) -> R {
        if unlocked {
            return self.state.write(f);
        }
        let _g = self.lock.write().await;
        self.state.write(f)
    }

    /// Reads the state under the lock taken shared.
    async fn read_state<R>(&self, f: impl FnOnce(&UmdState) -> R) -> R {
        let _g = self.lock.read().await;
        self.state.read(f)
    }

    async fn callbacks_of(&self, context: Handle) -> Option<(Handle, Rc<dyn MiracastUmdServices>)> {
        let _g = self.lock.read().await;
        self.state.read(|s| {
            s.context
                .as_ref()
                .filter(|c| c.handle == context)
                .map(|c| (c.device, c.callbacks.clone()))
        })
    }

    async fn stopping(&self) -> bool {
        let _g = self.lock.read().await;
        self.state.read(|s| {
            s.context
                .as_ref()
                .and_then(|c| c.session.as_ref())
                .is_none_or(|x| x.stopping)
        })
    }

    async fn ioctl(
        &self,
        callbacks: &Rc<dyn MiracastUmdServices>,
        device: Handle,
        request: &IoctlRequest,
    ) -> NtStatus {
        let mut output = [0u8; 0];
        let (status, _) = callbacks
            .miracast_io_control(device, false, &request.encode(), &mut output)
            .await;
        self.with_state(false, |s| {
            s.observed.ioctls.push((request.name(), status));
        })
        .await;
        status
    }

    /// The source's policy: the suggested bit rate, and who applies the 1024x768 rule.
    fn source_config(&self, stats: &WfdConnectionStats) -> SourceConfig {
        let mut config = SourceConfig::default();
        config.selection.bitrate_bps = stats.current_bit_rate;
        config.selection.min_bitrate_1024x768 = self.config.min_bitrate_1024x768;
        if self.knobs.insufficient_bitrate_ignored {
            config.selection.min_bitrate_1024x768 = Some(0);
        }
        if self.knobs.mode_ignores_bandwidth {
            // The fault picks the best common mode as if bandwidth were unlimited (R62).
            config.selection.bitrate_bps = u64::MAX;
            config.selection.min_bitrate_1024x768 = Some(0);
        }
        config
    }

    fn min_bitrate_1024x768(&self) -> u64 {
        self.config
            .min_bitrate_1024x768
            .unwrap_or(DEFAULT_MIN_BITRATE_1024X768)
    }

    /// Drives the source until the sink accepted M4 (capabilities and monitor known).
    async fn negotiate(
        &self,
        source: &mut Source,
        rtsp: &dyn RtspSocket,
    ) -> Result<NegotiatedSession, StartFailure> {
        let mut negotiated = None;
        loop {
            while let Some(bytes) = source.poll_transmit() {
                if rtsp.send(&bytes).await.is_err() {
                    return Err(StartFailure::Status(NtStatus::STATUS_UNSUCCESSFUL));
                }
            }
            while let Some(event) = source.poll_event() {
                match event {
                    Event::Negotiated(session) => negotiated = Some(*session),
                    Event::Closed(reason) => return Err(start_failure(&reason)),
                    _ => {}
                }
            }
            if let Some(session) = negotiated {
                return Ok(session);
            }
            let now = self.sched.now();
            let timeout = source
                .poll_timeout()
                .map_or(Duration::from_secs(5), |t| t.saturating_since(now));
            match rtsp.recv(Some(timeout)).await {
                Ok(bytes) => source.handle_input(self.sched.now(), &bytes),
                Err(SocketError::TimedOut) => source.handle_timeout(self.sched.now()),
                Err(SocketError::Closed) => source.handle_peer_closed(self.sched.now()),
                Err(SocketError::ClosedLocally) => {
                    return Err(StartFailure::Status(NtStatus::STATUS_UNSUCCESSFUL));
                }
            }
        }
    }

    /// Reports a session status once per session (R47: the OS tears the session down).
    async fn report_status(
        &self,
        callbacks: &Rc<dyn MiracastUmdServices>,
        device: Handle,
        status: MiracastStatus,
        diagnostic: NtStatus,
    ) {
        let first = self
            .with_state(false, |s| {
                let session = s.context.as_mut().and_then(|c| c.session.as_mut());
                match session {
                    Some(x) if !x.stopping && !x.status_reported => {
                        x.status_reported = true;
                        true
                    }
                    _ => false,
                }
            })
            .await;
        if first {
            callbacks
                .report_session_status(device, status, diagnostic)
                .await;
        }
    }

    /// Sends the source's queued bytes unless the session is stopping (R32).
    async fn flush(&self, source: &mut Source, rtsp: &dyn RtspSocket) -> bool {
        while let Some(bytes) = source.poll_transmit() {
            if self.stopping().await {
                return false;
            }
            if rtsp.send(&bytes).await.is_err() {
                return false;
            }
        }
        true
    }

    /// The `umd-session` thread: monitor arrival after Start (R43), then RTSP service.
    async fn session_thread(self: Rc<Self>, start: SessionThreadStart) {
        let SessionThreadStart {
            mut source,
            rtsp,
            callbacks,
            device,
            context,
            arrival,
            register_here,
        } = start;
        if register_here {
            // The R49 fault: registration from a thread the OS is not running Start on.
            let status = callbacks
                .register_for_data_rate_notifications(device, Some(context))
                .await;
            self.with_state(false, |s| {
                s.observed.data_rate_register_status = Some(status);
                if let Some(c) = s.context.as_mut() {
                    c.data_rate_registered = status == NtStatus::STATUS_SUCCESS;
                }
            })
            .await;
        }
        if let Some(arrival) = arrival {
            self.report_monitor(&callbacks, device, arrival).await;
        }
        if self.knobs.reserved_protocol_event {
            callbacks
                .report_statistic(
                    device,
                    StatisticData::Event(ProtocolEvent::SinkFailedPreferredModeChange),
                )
                .await;
        }
        let poll = Duration::from_millis(self.config.rtsp_poll_ms.max(1));
        loop {
            if self.stopping().await {
                break;
            }
            // Looked at under the shared lock first: the poll loop then only reads, and its
            // rounds commute with the other UMD threads' reads.
            let power_requested = self
                .read_state(|s| {
                    s.context
                        .as_ref()
                        .and_then(|c| c.session.as_ref())
                        .is_some_and(|x| x.power_request.is_some())
                })
                .await;
            let power = if power_requested {
                self.with_state(false, |s| {
                    s.context
                        .as_mut()
                        .and_then(|c| c.session.as_mut())
                        .and_then(|x| x.power_request.take())
                })
                .await
            } else {
                None
            };
            match power {
                Some(true) => {
                    source.request_standby(self.sched.now());
                    self.with_state(false, |s| s.observed.standby_sent += 1)
                        .await;
                }
                Some(false) => source.request_trigger(self.sched.now(), TriggerMethod::Play),
                None => {}
            }
            if !self.flush(&mut source, &*rtsp).await {
                break;
            }
            let mut closed = None;
            while let Some(event) = source.poll_event() {
                match event {
                    Event::IdrRequested => {
                        // R61: the protocol event is reported; the encoder gets the request.
                        callbacks
                            .report_statistic(device, StatisticData::Event(ProtocolEvent::IframeRq))
                            .await;
                        let _ = self
                            .ioctl(&callbacks, device, &IoctlRequest::RequestIframe)
                            .await;
                    }
                    Event::KeepAliveMissed => {
                        self.report_status(
                            &callbacks,
                            device,
                            MiracastStatus::MissingKeepalive,
                            NtStatus::STATUS_UNSUCCESSFUL,
                        )
                        .await;
                    }
                    Event::SinkTeardownRequest { .. } => {
                        self.report_status(
                            &callbacks,
                            device,
                            MiracastStatus::SinkDisocnnectRequest,
                            NtStatus::STATUS_SUCCESS,
                        )
                        .await;
                    }
                    Event::MonitorChanged { connected, edid } => {
                        if connected {
                            let monitor_type = self
                                .with_state(false, |s| {
                                    s.context
                                        .as_ref()
                                        .and_then(|c| c.session.as_ref())
                                        .map_or(VideoOutputTechnology::Other, |x| x.monitor_type)
                                })
                                .await;
                            let request = IoctlRequest::MonitorArrived {
                                monitor_type,
                                edid: edid.unwrap_or_default(),
                            };
                            self.report_monitor(&callbacks, device, request).await;
                        } else {
                            self.report_departure(&callbacks, device).await;
                        }
                    }
                    Event::Closed(reason) => closed = Some(reason),
                    _ => {}
                }
            }
            if let Some(reason) = closed {
                let status = match reason {
                    CloseReason::KeepAliveMissed => Some(MiracastStatus::MissingKeepalive),
                    CloseReason::SinkTeardown => Some(MiracastStatus::SinkDisocnnectRequest),
                    CloseReason::TeardownComplete => None,
                    _ => Some(MiracastStatus::CriticalError),
                };
                if let Some(status) = status {
                    self.report_status(&callbacks, device, status, NtStatus::STATUS_UNSUCCESSFUL)
                        .await;
                }
                self.with_state(false, |s| s.observed.session_closed = Some(reason))
                    .await;
                break;
            }
            let now = self.sched.now();
            let wait = source
                .poll_timeout()
                .map_or(poll, |t| t.saturating_since(now).min(poll));
            match rtsp.recv(Some(wait)).await {
                Ok(bytes) => source.handle_input(self.sched.now(), &bytes),
                Err(SocketError::TimedOut) => {
                    let now = self.sched.now();
                    if source.poll_timeout().is_some_and(|t| t <= now) {
                        source.handle_timeout(now);
                    }
                }
                Err(SocketError::Closed) => source.handle_peer_closed(self.sched.now()),
                Err(SocketError::ClosedLocally) => break,
            }
        }
        if self.knobs.network_send_after_stop {
            // The R32 fault: the thread outlives Stop's join and writes once more after Stop
            // has returned.
            self.sched
                .sleep(STOP_JOIN + Duration::from_millis(100))
                .await;
            let _ = rtsp
                .send(b"GET_PARAMETER rtsp://localhost/wfd1.0 RTSP/1.0\r\nCSeq: 9999\r\n\r\n")
                .await;
        }
    }

    async fn report_monitor(
        &self,
        callbacks: &Rc<dyn MiracastUmdServices>,
        device: Handle,
        request: IoctlRequest,
    ) {
        // R11: the KMD hears of the monitor through our IOCTL and reports arrival.
        let status = self.ioctl(callbacks, device, &request).await;
        if status == NtStatus::STATUS_SUCCESS {
            self.with_state(false, |s| {
                if let Some(x) = s.context.as_mut().and_then(|c| c.session.as_mut()) {
                    x.monitor_reported = true;
                    x.sink_reported_departure = false;
                }
            })
            .await;
            callbacks
                .report_statistic(device, StatisticData::Event(ProtocolEvent::MonitorArrive))
                .await;
        }
    }

    async fn report_departure(&self, callbacks: &Rc<dyn MiracastUmdServices>, device: Handle) {
        let was_reported = self
            .with_state(false, |s| {
                s.context
                    .as_mut()
                    .and_then(|c| c.session.as_mut())
                    .map(|x| {
                        x.sink_reported_departure = true;
                        std::mem::replace(&mut x.monitor_reported, false)
                    })
                    .unwrap_or(false)
            })
            .await;
        callbacks
            .report_statistic(device, StatisticData::Event(ProtocolEvent::MonitorDepart))
            .await;
        if was_reported {
            // R13: departure is asked for because the sink said the monitor left.
            let _ = self
                .ioctl(callbacks, device, &IoctlRequest::MonitorDeparted)
                .await;
        }
    }

    /// The `umd-stream` thread: pulls chunks and "sends" them (R54, R59, R53).
    async fn stream_thread(
        self: Rc<Self>,
        callbacks: Rc<dyn MiracastUmdServices>,
        device: Handle,
        stop_event: SimEvent,
    ) {
        let mut buffer = self
            .config
            .chunk_buffer_size
            .max(MIRACAST_CHUNK_DATA_HEADER_SIZE);
        loop {
            if self.stopping().await {
                break;
            }
            let extra_events = if self.config.chunk_wait_on_stop_event {
                std::slice::from_ref(&stop_event)
            } else {
                &[]
            };
            let result = callbacks
                .get_next_chunk_data(device, CHUNK_WAIT_MS, extra_events, buffer)
                .await;
            match result.status {
                NtStatus::STATUS_SUCCESS if result.size > 0 => {
                    for chunk in result.chunks {
                        self.send_chunk(&callbacks, device, &chunk).await;
                    }
                }
                // STATUS_WAIT_0 (size 0) .. STATUS_WAIT_3: an extra event, our stop event.
                NtStatus::STATUS_SUCCESS
                | NtStatus::STATUS_WAIT_1
                | NtStatus::STATUS_WAIT_2
                | NtStatus::STATUS_WAIT_3
                | NtStatus::STATUS_TIMEOUT => {}
                NtStatus::STATUS_BUFFER_TOO_SMALL => {
                    buffer = buffer.saturating_mul(2).min(MAX_CHUNK_BUFFER);
                }
                NtStatus::STATUS_CONNECTION_RESET => {
                    self.with_state(false, |s| s.observed.connection_resets += 1)
                        .await;
                    if !self.knobs.no_iframe_after_connection_reset {
                        // R53: everything queued is gone; the sink needs a fresh I-frame.
                        let _ = self
                            .ioctl(&callbacks, device, &IoctlRequest::RequestIframe)
                            .await;
                    }
                }
                NtStatus::STATUS_INSTANCE_NOT_AVAILABLE => break,
                other => {
                    if !self.stopping().await {
                        self.report_status(
                            &callbacks,
                            device,
                            MiracastStatus::CriticalError,
                            other,
                        )
                        .await;
                    }
                    break;
                }
            }
        }
    }

    async fn send_chunk(
        &self,
        callbacks: &Rc<dyn MiracastUmdServices>,
        device: Handle,
        chunk: &ChunkData,
    ) {
        if chunk.chunk_info.chunk_type != ChunkType::EncodeComplete {
            return;
        }
        if self.stopping().await {
            // R32: stream data after Stop is discarded.
            self.with_state(false, |s| s.observed.chunks_discarded += 1)
                .await;
            return;
        }
        // R59: CHUNK_SENT right before the first network send of the frame/part.
        callbacks
            .report_statistic(device, StatisticData::ChunkSent(chunk.chunk_info.chunk_id))
            .await;
        self.with_state(false, |s| {
            s.observed.chunks_sent.push(chunk.chunk_info.chunk_id)
        })
        .await;
    }

    /// Signals the session's threads and joins them (at most `join` of virtual time each).
    /// Returns the session's RTSP socket and the callbacks, for the caller's last steps.
    async fn stop_session(&self, context: Handle, join: Duration) -> Option<Rc<dyn RtspSocket>> {
        let unlocked = self.knobs.start_stop_state_unlocked;
        let threads = self
            .with_state(unlocked, |s| {
                let session = s
                    .context
                    .as_mut()
                    .filter(|c| c.handle == context)
                    .and_then(|c| c.session.as_mut())?;
                session.stopping = true;
                session.stop_event.set();
                Some((session.threads.clone(), session.rtsp.clone()))
            })
            .await;
        let (threads, rtsp) = threads?;
        let me = self.sched.try_current();
        for (thread, done) in threads {
            if Some(thread) != me {
                done.wait(Some(join)).await;
            }
        }
        Some(rtsp)
    }
}

fn start_failure(reason: &CloseReason) -> StartFailure {
    match reason {
        CloseReason::InsufficientBitRate { .. } => StartFailure::Insufficient,
        CloseReason::NoCommonFormat { .. } | CloseReason::HdcpRequired => {
            StartFailure::Status(NtStatus::STATUS_NOT_SUPPORTED)
        }
        _ => StartFailure::Status(NtStatus::STATUS_UNSUCCESSFUL),
    }
}

#[async_trait(?Send)]
impl MiracastUmd for ReferenceUmd {
    fn query_driver_interface(
        &self,
        version: u32,
        size: u32,
    ) -> Option<(NtStatus, MiracastDriverInterface)> {
        if self.shared.knobs.no_query_interface_export {
            return None;
        }
        let mut interface = MiracastDriverInterface::complete();
        if self.shared.knobs.null_handle_kmd_message_entry {
            interface.has_handle_kernel_mode_message = false;
        }
        // R34: only version 1, and only into a buffer that holds the whole structure.
        let status = if version != MIRACAST_DRIVER_INTERFACE_VERSION_1 {
            NtStatus::STATUS_NOT_SUPPORTED
        } else if size < MiracastDriverInterface::SIZE {
            NtStatus::STATUS_BUFFER_TOO_SMALL
        } else {
            NtStatus::STATUS_SUCCESS
        };
        Some((status, interface))
    }

    async fn create_miracast_context(
        &self,
        device: Handle,
        callbacks: Rc<dyn MiracastUmdServices>,
    ) -> (NtStatus, Handle) {
        let shared = &self.shared;
        shared
            .with_state(false, |s| {
                if s.context.is_some() {
                    return (NtStatus::STATUS_INVALID_DEVICE_STATE, Handle(0));
                }
                s.contexts_created += 1;
                let handle = Handle(UMD_CONTEXT_BASE + s.contexts_created);
                s.context = Some(ContextState {
                    handle,
                    device,
                    callbacks,
                    session: None,
                    data_rate_registered: false,
                });
                (NtStatus::STATUS_SUCCESS, handle)
            })
            .await
    }

    async fn destroy_miracast_context(&self, context: Handle) {
        let shared = self.shared.clone();
        if shared.knobs.slow_destroy {
            shared.sched.sleep(SLOW_DESTROY).await;
        }
        // A session the OS never stopped is stopped here; no thread may outlive Destroy (R46).
        let _ = shared.stop_session(context, DESTROY_JOIN).await;
        let removed = shared
            .with_state(false, |s| {
                if s.context.as_ref().is_some_and(|c| c.handle == context) {
                    s.context.take()
                } else {
                    None
                }
            })
            .await;
        let Some(removed) = removed else {
            return;
        };
        if shared.knobs.destroy_leaves_thread_alive {
            let sched = shared.sched.clone();
            shared.sched.spawn("umd-leftover", false, async move {
                sched.sleep(LEFTOVER_THREAD).await;
            });
        }
        if shared.knobs.callbacks_after_destroy {
            let (callbacks, device, sched) = (
                removed.callbacks.clone(),
                removed.device,
                shared.sched.clone(),
            );
            shared.sched.spawn("umd-late-callback", false, async move {
                // A moment later, so the call comes after Destroy returned on every schedule.
                sched.sleep(Duration::from_millis(1)).await;
                // The R36 fault: the callbacks died with the context.
                callbacks
                    .report_statistic(device, StatisticData::Event(ProtocolEvent::MonitorDepart))
                    .await;
            });
        }
    }

    async fn start_miracast_session(
        &self,
        context: Handle,
        rtsp: Rc<dyn RtspSocket>,
        stats: WfdConnectionStats,
    ) -> (NtStatus, SessionInfo) {
        let shared = self.shared.clone();
        let Some((device, callbacks)) = shared.callbacks_of(context).await else {
            return (NtStatus::STATUS_INVALID_HANDLE, SessionInfo::default());
        };
        let mut source = Source::new(shared.source_config(&stats), shared.sched.now());
        let negotiated = match shared.negotiate(&mut source, &*rtsp).await {
            Ok(n)
                if n.monitor_connected
                    && stats.current_bit_rate < shared.min_bitrate_1024x768()
                    && !shared.knobs.insufficient_bitrate_ignored =>
            {
                // The source was told to ignore bandwidth (R62 fault); the 1024x768 rule
                // still holds.
                Err(StartFailure::Insufficient)
            }
            other => other,
        };
        let negotiated = match negotiated {
            Ok(n) => n,
            Err(StartFailure::Insufficient) => {
                // R39: exactly STATUS_DEVICE_INSUFFICIENT_RESOURCES.
                let status = if shared.knobs.insufficient_bitrate_generic_status {
                    NtStatus::STATUS_INSUFFICIENT_RESOURCES
                } else {
                    NtStatus::STATUS_DEVICE_INSUFFICIENT_RESOURCES
                };
                return (status, SessionInfo::default());
            }
            Err(StartFailure::Status(status)) => return (status, SessionInfo::default()),
        };
        // The M5 SETUP trigger queued behind the M4 reply goes out now.
        while let Some(bytes) = source.poll_transmit() {
            if rtsp.send(&bytes).await.is_err() {
                return (NtStatus::STATUS_UNSUCCESSFUL, SessionInfo::default());
            }
        }
        let monitor_type = monitor_type_of_connector(negotiated.connector_type);
        let arrival = negotiated
            .monitor_connected
            .then(|| IoctlRequest::MonitorArrived {
                monitor_type,
                edid: negotiated.edid.clone().unwrap_or_default(),
            });
        let reduced =
            negotiated.mode_list_reduced_for_bandwidth && !shared.knobs.mode_ignores_bandwidth;
        let sink_info = IoctlRequest::SinkInfo(SinkInfo {
            width: u32::from(negotiated.video.mode.width),
            height: u32::from(negotiated.video.mode.height),
            refresh_hz: u32::from(negotiated.video.mode.refresh_hz),
            hdcp: negotiated.hdcp.is_some(),
            reduced_mode_list: reduced,
            encoder_bit_rate: stats.current_bit_rate,
        });
        // SINK_INFO is not a monitor arrival; the Start thread may send it (R42: processed at
        // once on this thread).
        let _ = shared.ioctl(&callbacks, device, &sink_info).await;
        let early_arrival = shared.knobs.monitor_arrival_inside_start;
        if early_arrival && let Some(arrival) = arrival.clone() {
            // The R43 fault: arrival asked for from inside Start.
            let _ = shared.ioctl(&callbacks, device, &arrival).await;
        }
        let register = shared.config.register_data_rate_notifications;
        if register && !shared.knobs.register_data_rate_off_thread {
            // R49: on the thread running Start.
            let status = callbacks
                .register_for_data_rate_notifications(device, Some(context))
                .await;
            shared
                .with_state(false, |s| {
                    s.observed.data_rate_register_status = Some(status);
                    if let Some(c) = s.context.as_mut() {
                        c.data_rate_registered = status == NtStatus::STATUS_SUCCESS;
                    }
                })
                .await;
        }
        let stop_event = SimEvent::new(&shared.sched, "umd-stop", false);
        let session_done = SimEvent::new(&shared.sched, "umd-session-done", false);
        let stream_done = SimEvent::new(&shared.sched, "umd-stream-done", false);
        let unlocked = shared.knobs.start_stop_state_unlocked;
        shared
            .with_state(unlocked, |s| {
                s.observed.negotiated = Some(negotiated.clone());
                if let Some(c) = s.context.as_mut() {
                    c.session = Some(SessionState {
                        rtsp: rtsp.clone(),
                        monitor_type,
                        stopping: false,
                        power_request: None,
                        monitor_reported: early_arrival && arrival.is_some(),
                        sink_reported_departure: false,
                        stream_socket_open: true,
                        status_reported: false,
                        threads: Vec::new(),
                        stop_event: stop_event.clone(),
                    });
                }
            })
            .await;
        let session_thread = {
            let (shared2, rtsp2, callbacks2, done) = (
                shared.clone(),
                rtsp.clone(),
                callbacks.clone(),
                session_done.clone(),
            );
            let arrival = if early_arrival { None } else { arrival };
            let register_here = register && shared.knobs.register_data_rate_off_thread;
            shared.sched.spawn("umd-session", false, async move {
                let start = SessionThreadStart {
                    source,
                    rtsp: rtsp2,
                    callbacks: callbacks2,
                    device,
                    context,
                    arrival,
                    register_here,
                };
                shared2.session_thread(start).await;
                done.set();
            })
        };
        let stream_thread = {
            let (shared2, callbacks2, done, stop) = (
                shared.clone(),
                callbacks.clone(),
                stream_done.clone(),
                stop_event.clone(),
            );
            shared.sched.spawn("umd-stream", false, async move {
                shared2.stream_thread(callbacks2, device, stop).await;
                done.set();
            })
        };
        let mut threads = vec![(session_thread, session_done), (stream_thread, stream_done)];
        if shared.knobs.two_chunk_readers {
            // The R55 fault: a second streaming thread, so two GetNextChunkData calls overlap.
            // It is joined like the others (Stop, Destroy).
            let (shared2, callbacks2, stop) =
                (shared.clone(), callbacks.clone(), stop_event.clone());
            let done = SimEvent::new(&shared.sched, "umd-stream-2-done", false);
            let done2 = done.clone();
            let thread = shared.sched.spawn("umd-stream-2", false, async move {
                shared2.stream_thread(callbacks2, device, stop).await;
                done2.set();
            });
            threads.push((thread, done));
        }
        shared
            .with_state(unlocked, |s| {
                if let Some(x) = s.context.as_mut().and_then(|c| c.session.as_mut()) {
                    x.threads = threads;
                }
            })
            .await;
        // R40: MonitorConnected from the sink, the bandwidth flag, Reserved zero.
        let mut monitor_connected = negotiated.monitor_connected;
        if shared.knobs.session_info_wrong_monitor_connected {
            monitor_connected = !monitor_connected;
        }
        let mut info = SessionInfo::new(monitor_connected, reduced);
        if shared.knobs.session_info_reserved_bits {
            info.0 |= 1 << 7;
        }
        (NtStatus::STATUS_SUCCESS, info)
    }

    async fn stop_miracast_session(&self, context: Handle) {
        let shared = self.shared.clone();
        if shared.knobs.slow_stop {
            shared.sched.sleep(SLOW_STOP).await;
        }
        let Some(rtsp) = shared.stop_session(context, STOP_JOIN).await else {
            return;
        };
        let Some((device, callbacks)) = shared.callbacks_of(context).await else {
            return;
        };
        let registered = shared
            .with_state(false, |s| {
                s.context
                    .as_mut()
                    .map(|c| std::mem::replace(&mut c.data_rate_registered, false))
                    .unwrap_or(false)
            })
            .await;
        if registered {
            // R49: Stop's thread may unregister.
            let _ = callbacks
                .register_for_data_rate_notifications(device, None)
                .await;
        }
        if shared.knobs.departure_ioctl_in_stop {
            // The R13 fault: the sink never said the monitor left.
            let _ = shared
                .ioctl(&callbacks, device, &IoctlRequest::MonitorDeparted)
                .await;
        }
        if shared.knobs.close_rtsp_socket {
            // The R41 fault.
            rtsp.close();
        }
        // R45: our own resources go; the RTSP socket stays with the OS (R41).
        let unlocked = shared.knobs.start_stop_state_unlocked;
        shared
            .with_state(unlocked, |s| {
                if let Some(c) = s.context.as_mut() {
                    if let Some(x) = c.session.as_mut() {
                        x.stream_socket_open = false;
                    }
                    c.session = None;
                }
            })
            .await;
    }

    async fn handle_kernel_mode_message(
        &self,
        context: Handle,
        input: &[u8],
        output: &mut [u8],
    ) -> (NtStatus, u32) {
        let shared = &self.shared;
        let message = match KmdMessage::decode(input) {
            Ok(message) => message,
            Err(_) => return (NtStatus::STATUS_INVALID_PARAMETER, 0),
        };
        // R30: several deliveries may run at once; the state is taken under the lock.
        let unlocked = shared.knobs.kernel_message_unlocked;
        let guard = if unlocked {
            None
        } else {
            Some(shared.lock.write().await)
        };
        let valid = shared
            .state
            .read(|s| s.context.as_ref().is_some_and(|c| c.handle == context));
        if !valid {
            return (NtStatus::STATUS_INVALID_HANDLE, 0);
        }
        let handled = shared.state.read(|s| s.observed.kernel_messages);
        // Decoding and acting take time; another delivery may run meanwhile.
        shared.sched.yield_now().await;
        shared.state.write(|s| {
            s.observed.kernel_messages = handled + 1;
            let session = s.context.as_mut().and_then(|c| c.session.as_mut());
            match (&message, session) {
                (KmdMessage::PowerOffMonitor, Some(x)) => x.power_request = Some(true),
                (KmdMessage::PowerOnMonitor, Some(x)) => x.power_request = Some(false),
                _ => {}
            }
        });
        drop(guard);
        match message {
            KmdMessage::Ping { .. } => {
                // Echo, never more than the output buffer holds.
                let n = input.len().min(output.len());
                output[..n].copy_from_slice(&input[..n]);
                (NtStatus::STATUS_SUCCESS, n as u32)
            }
            KmdMessage::PowerOffMonitor | KmdMessage::PowerOnMonitor => {
                (NtStatus::STATUS_SUCCESS, 0)
            }
        }
    }

    async fn data_rate_notify(&self, notification_context: Handle, stats: Option<DataRateStats>) {
        self.shared
            .with_state(false, |s| {
                if s.context.as_ref().map(|c| c.handle) != Some(notification_context) {
                    return;
                }
                s.observed.data_rate_notifications += 1;
                match stats {
                    Some(stats) => s.observed.last_data_rate = Some(stats),
                    None => {
                        // R50: the last call; QoS data is gone.
                        s.observed.data_rate_ended = true;
                        if let Some(c) = s.context.as_mut() {
                            c.data_rate_registered = false;
                        }
                    }
                }
            })
            .await;
    }
}
