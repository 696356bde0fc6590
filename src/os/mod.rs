//! The OS model: dxgkrnl and the Miracast user-mode host, sans-IO, in virtual time.
//!
//! [`Os`] plays Windows against a driver: it brings the adapter up, creates and destroys the KMD
//! and UMD Miracast contexts, starts and stops sessions, carries kernel-to-user messages, queues
//! encode chunks, sends data-rate notifications, and implements every service a driver calls
//! back (`DxgkCbMiracastSendMessage`, `MIRACAST_CALLBACKS`, ...). It does no I/O, reads no clock
//! and owns no OS thread: each of its activities is a simulated thread on the [`Sched`].
//!
//! Session phases (`D3DKMT_MIRACAST_DISPLAY_DEVICE_STATE`):
//!
//! ```text
//!            StartMiracastSession entered            Start left with STATUS_SUCCESS
//!   Stopped ─────────────────────────────▶ StartPending ───────────────────────▶ Started
//!      ▲                                        │ Start failed: held messages       │
//!      │◀───────────────────────────────────────┘ dropped, socket closed            │
//!      │          StopMiracastSession left                 StopMiracastSession entered
//!      └──────────────────────────────── StopPending ◀────────────────────────────────┘
//!
//!   while StartPending: KMD messages are held; other threads' MiracastIoControl block (R28, R42)
//!   while Started:      messages are delivered to HandleKernelModeMessage (R30)
//!   from StopPending:   messages are dropped, completion gets STATUS_CANCELLED; other threads'
//!                       MiracastIoControl fail with STATUS_INVALID_DEVICE_STATE (R29, R44)
//! ```
//!
//! Synchronization the model enforces (and [`crate::rules::trace_checks`] verifies from the trace):
//! the Miracast class mutex (R67); the adapter lock taken exclusively by Level-3 calls (R68);
//! the UMD lock taken exclusively by Create/Destroy/Start/Stop and shared by
//! `HandleKernelModeMessage` (R28, R37).
//!
//! Map:
//! - [`link`]: the in-memory RTSP socket to a sans-IO sink.
//! - `state`: the OS state as separate pieces, one [`Shared`] cell each, so exploration sees
//!   which piece each step touched.
//! - `kmd_side`: the services the KMD calls (messages, chunks, child status, memory).
//! - `umd_side`: `MIRACAST_CALLBACKS` (IOCTL gating, session status, chunks, data rate).
//! - `actions`: what a scenario asks the OS to do (bring-up, contexts, start, stop, power, ...).

mod actions;
mod kmd_side;
mod knobs;
pub mod link;
mod state;
mod umd_side;

pub use knobs::OsKnobs;
pub use link::{SimRtspLink, SinkPeer};

use crate::ddi::*;
use crate::rules::{CheckId, Culprit, Findings, RuleId};
use crate::sched::{Sched, Shared, SimEvent, SimMutex, SimRwLock, ThreadId};
use crate::status::NtStatus;
use crate::time::SimTime;
use crate::trace::{CallArgs, CallOut, EventKind, IoctlMeaning, KnobOwner};
use serde::{Deserialize, Serialize};
use std::cell::Cell;
use std::collections::BTreeMap;
use std::future::Future;
use std::rc::Rc;
use std::time::Duration;

/// What the scenario says about the simulated operating system.
#[derive(Clone, Debug, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct OsConfig {
    /// The driver's `DXGKDDI_INTERFACE_VERSION`; below 0x4002 (WDDM 1.3) the OS never asks for
    /// the Miracast interface (R74).
    pub wddm_version: u32,
    /// The OS supports Miracast and queries the interface (false models an OS without it, R3).
    pub queries_miracast: bool,
    /// How long the OS waits for `StopMiracastSession` before destroying the KMD context anyway
    /// (R20; the docs give no number, G7).
    pub stop_budget_ms: u64,
    /// `DestroyMiracastContext` should finish within this (3 s documented, R46).
    pub destroy_budget_ms: u64,
    /// Free chunk packets in the chunk queue before overflow (R53).
    pub chunk_queue_capacity: u32,
    /// System memory the KMD may allocate, in bytes (R71).
    pub memory_budget_bytes: u64,
    /// Bit rate the OS suggests to `StartMiracastSession` (`CurrentBitRate`), bit/s.
    pub suggested_bitrate: u64,
    /// `LocalMaxBitRate`, bit/s.
    pub local_max_bitrate: u64,
    /// `RemoteMaxBitRate`, bit/s.
    pub remote_max_bitrate: u64,
    /// Bit rate a 1024x768 mode needs, bit/s, for checking R39; `None` uses the Wi-Fi Display
    /// source's documented table.
    pub min_bitrate_1024x768: Option<u64>,
    /// Allowed distance of data-rate notifications from one virtual second (R50), ms.
    pub datarate_tolerance_ms: u64,
    /// Deliberate faults of the OS model (all off by default); each breaks the OS-owned rule
    /// its doc names, so that scenarios can show the trace checks catch it.
    pub knobs: OsKnobs,
    /// Driver Verifier's low-resources simulation for a driver binary's pool allocations
    /// (the kernel routines of `include/wdm.h`); all off by default.
    pub pool_faults: PoolFaults,
}

/// Failure injection for a driver binary's allocations (`ExAllocatePool2`,
/// `ExAllocatePoolWithTag`, `IoAllocateWorkItem`), as Driver Verifier's low-resources
/// simulation does it. An injected failure also counts as memory exhausted for R71.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct PoolFaults {
    /// Fail every Nth allocation of the run (0: never).
    pub fail_every: u32,
    /// Fail these allocations, counted from 1 in the run.
    pub fail_calls: Vec<u32>,
    /// Systematic low-resources simulation: fail the first allocation from each call site (the
    /// routine, the tag and the DDI it is made in) and pass every repeat.
    pub systematic: bool,
}

impl Default for OsConfig {
    fn default() -> Self {
        OsConfig {
            wddm_version: DXGKDDI_INTERFACE_VERSION_WDDM1_3,
            queries_miracast: true,
            stop_budget_ms: 3_000,
            destroy_budget_ms: 3_000,
            chunk_queue_capacity: 64,
            memory_budget_bytes: 8 << 30,
            suggested_bitrate: 20_000_000,
            local_max_bitrate: 300_000_000,
            remote_max_bitrate: 300_000_000,
            min_bitrate_1024x768: None,
            datarate_tolerance_ms: 100,
            knobs: OsKnobs::default(),
            pool_faults: PoolFaults::default(),
        }
    }
}

/// What the OS knows about the sink at the far end, for checks (R39, R40).
#[derive(Clone, Debug, Default)]
pub struct SinkFacts {
    /// A monitor is behind the sink.
    pub monitor_present: bool,
    /// The largest mode the sink supports is at least 1024x768.
    pub supports_1024x768: bool,
    /// The monitor type the sink's `wfd_connector_type` calls for, when it announced one (R10).
    pub monitor_type: Option<VideoOutputTechnology>,
}

/// The attached sink, shared with each session's RTSP link.
type SharedSink = Rc<Shared<Box<dyn SinkPeer>>>;

pub(crate) struct Inner {
    sched: Sched,
    findings: Findings,
    config: OsConfig,
    kmd: Rc<dyn MiracastKmd>,
    umd: Rc<dyn MiracastUmd>,
    sink: Shared<Option<SharedSink>>,
    sink_facts: Shared<SinkFacts>,
    // The OS state, one piece per cell (`state`): a step touches only the pieces it uses.
    adapter_state: Shared<state::Adapter>,
    indication: Shared<Option<state::Indication>>,
    memory: Shared<state::Memory>,
    /// The last handle the OS handed out.
    handles: Shared<u64>,
    kmd_context: Shared<state::KmdContext>,
    umd_host: Shared<state::UmdHost>,
    session: Shared<state::Session>,
    /// The private IOCTL operation each thread is inside (`op=MONITOR_ARRIVED`), when known.
    ioctl_ops: Shared<BTreeMap<ThreadId, Option<IoctlMeaning>>>,
    datarate: Shared<state::DataRate>,
    messages: Shared<state::MessageChannel>,
    chunks: Shared<state::ChunkQueue>,
    chunk_ids: Shared<state::ChunkIds>,
    /// Miracast-class mutex (R67).
    miracast_class: SimMutex,
    /// Adapter lock: shared by every KMD call, exclusive for Level 3 (R68).
    adapter: SimRwLock,
    /// UMD lock: exclusive for the four serialized calls, shared for HandleKernelModeMessage.
    umd_lock: SimRwLock,
    start_finished: SimEvent,
    chunk_arrived: SimEvent,
    session_gone: SimEvent,
    /// Set while no data-rate notification is inside the UMD.
    datarate_idle: SimEvent,
    /// The driver profile: what the drivers' private IOCTL and message codes mean.
    profile: Cell<Option<&'static crate::profile::DriverProfile>>,
    /// The scenario made the Miracast encoder busy, and the driver under test was told (R17).
    hardware_busy: Cell<bool>,
}

/// The simulated operating system. Cheap to clone.
#[derive(Clone)]
pub struct Os {
    pub(crate) inner: Rc<Inner>,
}

/// The session-level view the scenario checks at the end.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OsSnapshot {
    /// The session phase.
    pub phase: SessionPhase,
    /// A KMD Miracast context exists.
    pub kmd_context: bool,
    /// A UMD Miracast context exists.
    pub umd_context: bool,
    /// The Miracast target id the KMD reported.
    pub miracast_target: Option<u32>,
    /// The last Miracast connection state the KMD indicated.
    pub monitor_connected: bool,
    /// GPU contexts alive.
    pub gpu_contexts: usize,
    /// Chunk packets waiting.
    pub chunks_waiting: usize,
}

impl Os {
    /// An OS for `kmd` and `umd` on `sched`. Violations go to `findings`.
    pub fn new(
        sched: &Sched,
        findings: &Findings,
        config: OsConfig,
        kmd: Rc<dyn MiracastKmd>,
        umd: Rc<dyn MiracastUmd>,
    ) -> Self {
        let faults = config.knobs.enabled();
        if !faults.is_empty() {
            sched.emit(EventKind::KnobsOn {
                owner: KnobOwner::OsModel,
                knobs: faults,
                ignored: false,
            });
        }
        Os {
            inner: Rc::new(Inner {
                sched: sched.clone(),
                findings: findings.clone(),
                config,
                kmd,
                umd,
                sink: Shared::new(sched, None),
                sink_facts: Shared::new(sched, SinkFacts::default()),
                adapter_state: Shared::new(sched, state::Adapter::default()),
                indication: Shared::new(sched, None),
                memory: Shared::new(sched, state::Memory::default()),
                handles: Shared::new(sched, 0x100),
                kmd_context: Shared::new(sched, state::KmdContext::default()),
                umd_host: Shared::new(sched, state::UmdHost::default()),
                session: Shared::new(sched, state::Session::default()),
                ioctl_ops: Shared::new(sched, BTreeMap::new()),
                datarate: Shared::new(sched, state::DataRate::default()),
                messages: Shared::new(sched, state::MessageChannel::default()),
                chunks: Shared::new(sched, state::ChunkQueue::default()),
                chunk_ids: Shared::new(sched, state::ChunkIds::default()),
                miracast_class: SimMutex::new(sched, "miracast-class"),
                adapter: SimRwLock::new(sched, "adapter-level3"),
                umd_lock: SimRwLock::new(sched, "umd-serialized"),
                start_finished: SimEvent::new(sched, "start-finished", false),
                chunk_arrived: SimEvent::new(sched, "chunk-arrived", false),
                session_gone: SimEvent::new(sched, "session-gone", false),
                datarate_idle: {
                    let idle = SimEvent::new(sched, "datarate-idle", false);
                    idle.set();
                    idle
                },
                profile: Cell::new(None),
                hardware_busy: Cell::new(false),
            }),
        }
    }

    /// Attaches the sink the RTSP socket of each session connects to, and what the OS may
    /// assume about it for checks.
    pub fn attach_sink(&self, peer: Box<dyn SinkPeer>, facts: SinkFacts) {
        *self.inner.sink.borrow_mut() = Some(Rc::new(Shared::new(&self.inner.sched, peer)));
        *self.inner.sink_facts.borrow_mut() = facts;
    }

    /// The driver profile that names the drivers' private IOCTL operations (`op=MONITOR_ARRIVED`)
    /// for traces and the checks that need them (R11, R13, R15, R21, R43, R53); without one
    /// those checks have nothing to judge.
    pub fn set_profile(&self, profile: Option<&'static crate::profile::DriverProfile>) {
        self.inner.profile.set(profile);
    }

    /// The driver profile of this run, if any.
    pub fn profile(&self) -> Option<&'static crate::profile::DriverProfile> {
        self.inner.profile.get()
    }

    /// A scenario payload in the profile's framing: a payload given by name is rewritten (and
    /// left as it is, with a note, when the profile has no code for it); raw bytes pass.
    pub fn in_profile_framing(&self, payload: &[u8], named: bool, ioctl: bool) -> Vec<u8> {
        let Some(profile) = self.profile().filter(|_| named) else {
            return payload.to_vec();
        };
        match profile.translate(payload, ioctl) {
            Ok(bytes) => bytes,
            Err(name) => {
                self.note(format!(
                    "the driver profile {} has no code for {name}: the payload is sent in the reference format",
                    profile.shown()
                ));
                payload.to_vec()
            }
        }
    }

    /// Tells the OS that the scenario made the Miracast encoder busy and the driver under test
    /// knows it, so `DxgkDdiMiracastCreateContext` must answer exactly
    /// `STATUS_RESOURCE_IN_USE` (R17). Set before the run starts.
    pub fn set_hardware_busy(&self, busy: bool) {
        self.inner.hardware_busy.set(busy);
    }

    /// The scheduler.
    pub fn sched(&self) -> &Sched {
        &self.inner.sched
    }

    /// The violation list.
    pub fn findings(&self) -> &Findings {
        &self.inner.findings
    }

    /// The OS configuration.
    pub fn config(&self) -> &OsConfig {
        &self.inner.config
    }

    /// The end-of-run view.
    pub fn snapshot(&self) -> OsSnapshot {
        OsSnapshot {
            phase: self.phase(),
            kmd_context: self.inner.kmd_context.borrow().exists(),
            umd_context: self.inner.umd_host.borrow().context().is_some(),
            miracast_target: self.miracast_target(),
            monitor_connected: self.inner.indication.get().is_some_and(|i| i.connected),
            gpu_contexts: self.inner.memory.borrow().gpu_contexts(),
            chunks_waiting: self.inner.chunks.borrow().queue.len(),
        }
    }

    /// The current session phase.
    pub fn phase(&self) -> SessionPhase {
        self.inner.session.borrow().phase
    }

    /// The Miracast target's child id, once bring-up found one.
    fn miracast_target(&self) -> Option<u32> {
        self.inner.adapter_state.borrow().miracast_target
    }

    fn set_phase(&self, to: SessionPhase) {
        let from = std::mem::replace(&mut self.inner.session.borrow_mut().phase, to);
        if from != to {
            self.inner.sched.emit(EventKind::Phase { from, to });
        }
    }

    fn new_handle(&self) -> Handle {
        let mut last = self.inner.handles.borrow_mut();
        *last += 0x10;
        Handle(*last)
    }

    fn report(
        &self,
        check: CheckId,
        rule: RuleId,
        culprit: Culprit,
        finding: impl Into<String>,
        events: Vec<u32>,
    ) {
        self.inner
            .findings
            .report(check, rule, culprit, finding, events);
    }

    /// Calls into a driver: a choice point on entry, `Enter`, the call inside the DDI's frame,
    /// `Leave` with what `summarize` says, a choice point on exit.
    async fn call<T>(
        &self,
        ddi: Ddi,
        args: CallArgs,
        fut: impl Future<Output = T>,
        summarize: impl FnOnce(&T) -> (Option<NtStatus>, CallOut),
    ) -> (T, u32, u32) {
        self.inner.sched.yield_now().await;
        self.call_after_choice(ddi, args, fut, summarize).await
    }

    /// [`Os::call`] for a caller that has just passed a choice point and decided, after it,
    /// that the call happens (so nothing can change the decision between it and `Enter`).
    async fn call_after_choice<T>(
        &self,
        ddi: Ddi,
        args: CallArgs,
        fut: impl Future<Output = T>,
        summarize: impl FnOnce(&T) -> (Option<NtStatus>, CallOut),
    ) -> (T, u32, u32) {
        let sched = &self.inner.sched;
        let enter = sched.trace_len();
        sched.emit(EventKind::Enter { ddi, args });
        sched.push_frame(ddi);
        let result = fut.await;
        sched.pop_frame();
        let (status, out) = summarize(&result);
        let leave = sched.trace_len();
        sched.emit(EventKind::Leave { ddi, status, out });
        sched.yield_now().await;
        (result, enter, leave)
    }

    /// Entry half of a driver-to-OS callback: a choice point, then `Enter`.
    async fn service_enter(&self, ddi: Ddi, args: CallArgs) -> u32 {
        let sched = &self.inner.sched;
        sched.yield_now().await;
        let seq = sched.trace_len();
        sched.emit(EventKind::Enter { ddi, args });
        sched.push_frame(ddi);
        seq
    }

    /// Exit half of a driver-to-OS callback: `Leave`, then a choice point (so, for example, a
    /// completion routine can run before `DxgkCbMiracastSendMessage` returns).
    async fn service_leave(&self, ddi: Ddi, status: Option<NtStatus>, out: CallOut) -> u32 {
        let sched = &self.inner.sched;
        sched.pop_frame();
        let seq = sched.trace_len();
        sched.emit(EventKind::Leave { ddi, status, out });
        sched.yield_now().await;
        seq
    }

    /// The simulated IRQL of the current thread, from the DDI it is inside (R69).
    fn current_irql(&self) -> Irql {
        let frames = self.inner.sched.frames(self.inner.sched.current());
        if frames.contains(&Ddi::DxgkDdiInterruptRoutine) {
            Irql::Dirql
        } else if frames.contains(&Ddi::DxgkDdiDpcRoutine) {
            Irql::Dispatch
        } else {
            Irql::Passive
        }
    }

    /// The OS-model knobs (all off unless a scenario turns one on).
    fn knobs(&self) -> &OsKnobs {
        &self.inner.config.knobs
    }

    /// The adapter lock as a Level-3 call takes it: exclusively, or shared with the
    /// `level3_not_exclusive` knob (R24, R68).
    async fn level3_lock(&self) -> crate::sched::SimRwGuard {
        if self.knobs().level3_not_exclusive {
            // OS-model knob (R24, R68): Level 3 no longer keeps other KMD calls out.
            self.inner.adapter.read().await
        } else {
            self.inner.adapter.write().await
        }
    }

    /// The Miracast-class mutex, or nothing with the `no_miracast_class_lock` knob (R67).
    async fn miracast_class_lock(&self) -> Option<crate::sched::SimMutexGuard> {
        if self.knobs().no_miracast_class_lock {
            // OS-model knob (R67): Miracast-class calls are not serialized.
            None
        } else {
            Some(self.inner.miracast_class.lock().await)
        }
    }

    /// The UMD lock as the four serialized UMD functions take it: exclusively, or shared with
    /// the `umd_calls_not_serialized` knob (R37).
    async fn umd_serialized_lock(&self) -> crate::sched::SimRwGuard {
        if self.knobs().umd_calls_not_serialized {
            // OS-model knob (R37): Create/Destroy/Start/Stop may overlap.
            self.inner.umd_lock.read().await
        } else {
            self.inner.umd_lock.write().await
        }
    }

    /// How long the run's virtual clock says it is.
    pub fn now(&self) -> SimTime {
        self.inner.sched.now()
    }

    /// A duration in ms of virtual time.
    fn ms(ms: u64) -> Duration {
        Duration::from_millis(ms)
    }
}

/// Simulated interrupt request levels (R69).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Irql {
    Passive,
    Dispatch,
    Dirql,
}

impl Irql {
    fn name(self) -> &'static str {
        match self {
            Irql::Passive => "PASSIVE_LEVEL",
            Irql::Dispatch => "DISPATCH_LEVEL",
            Irql::Dirql => "DIRQL",
        }
    }
}

#[cfg(test)]
mod chaos;
#[cfg(test)]
mod tests;
