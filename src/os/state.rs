//! The OS model's state, as separate pieces. Each lives in its own [`crate::sched::Shared`]
//! cell of [`super::Inner`], so a step's touches name exactly the pieces it read or wrote and
//! exploration commutes steps that touch disjoint pieces (or only read the same ones). Each
//! piece is changed only through its own methods.
//!
//! | piece | cell | written by |
//! |---|---|---|
//! | [`Adapter`] | `adapter` | bring-up |
//! | [`Indication`] | `indication` | `DxgkCbIndicateChildStatus`, the KMD context's destroy (R12) |
//! | [`Memory`] | `memory` | the pool callbacks, GPU-context create and destroy |
//! | handle counter | `handles` | every create and start that hands out a handle |
//! | [`KmdContext`] | `kmd` | `DxgkDdiMiracastCreateContext`/`DestroyContext`, a stop overrun |
//! | [`UmdHost`] | `umd` | `QueryMiracastDriverInterface`, `Create`/`DestroyMiracastContext` |
//! | [`Session`] | `session` | the four serialized UMD functions, `ReportSessionStatus` |
//! | IOCTL operations | `ioctl_ops` | `DxgkDdiMiracastIoControl` on each thread |
//! | [`DataRate`] | `datarate` | `RegisterForDataRateNotifications`, the end of a stop |
//! | [`MessageChannel`] | `messages` | `DxgkCbMiracastSendMessage`, delivery, completion |
//! | [`ChunkQueue`] | `chunks` | `DxgkCbNotifyInterrupt`, `DxgkCbNotifyDpc`, `GetNextChunkData` |
//! | [`ChunkIds`] | `chunk_ids` | the chunk stream checks (R58, R59) |
//!
//! No piece is borrowed across an `.await`.

use super::link::SimRtspLink;
use crate::ddi::*;
use crate::sched::ThreadId;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::rc::Rc;

/// What bring-up learned about the adapter; read-only once the adapter is up.
#[derive(Default)]
pub(super) struct Adapter {
    /// The OS obtained the Miracast interface and the KMD reported a Miracast target.
    pub(super) miracast_available: bool,
    /// The Miracast target's child id.
    pub(super) miracast_target: Option<u32>,
    /// What `DxgkDdiMiracastQueryCaps` answered.
    pub(super) caps: MiracastCaps,
    /// How many times the OS called `DxgkDdiMiracastQueryCaps` (R7).
    pub(super) query_caps_calls: u32,
}

impl Adapter {
    /// Bring-up finished: what the OS now knows of the Miracast target.
    pub(super) fn brought_up(&mut self, interface: bool, target: Option<u32>, caps: MiracastCaps) {
        self.miracast_available = interface && target.is_some();
        self.miracast_target = target;
        self.caps = caps;
    }
}

/// The last `StatusMiracastConnection` the KMD indicated for the Miracast target.
#[derive(Clone, Copy, Debug)]
pub(super) struct Indication {
    pub(super) connected: bool,
    pub(super) monitor_type: VideoOutputTechnology,
    /// Trace seq of the indication, for findings.
    pub(super) seq: u32,
}

/// Pool memory the KMD allocated (R71) and the GPU contexts it created (R72).
pub(super) struct Memory {
    used: u64,
    exhausted: bool,
    /// Pool bytes (allocated, freed) during each GPU-context call in progress, by the thread
    /// making it (R71, R72): calls on two threads at once each count only their own.
    calls: BTreeMap<ThreadId, (u64, u64)>,
    gpu_contexts: BTreeMap<u64, (Handle, u64)>,
    next_gpu_context: u64,
}

impl Default for Memory {
    fn default() -> Self {
        Memory {
            used: 0,
            exhausted: false,
            calls: BTreeMap::new(),
            gpu_contexts: BTreeMap::new(),
            next_gpu_context: 1,
        }
    }
}

impl Memory {
    /// An allocation of `bytes` against `budget` by `thread`; false (and exhausted) when it
    /// does not fit.
    pub(super) fn allocate(&mut self, thread: Option<ThreadId>, bytes: u64, budget: u64) -> bool {
        if self.used.saturating_add(bytes) > budget {
            self.exhausted = true;
            return false;
        }
        self.used += bytes;
        if let Some((allocated, _)) = thread.and_then(|t| self.calls.get_mut(&t)) {
            *allocated += bytes;
        }
        true
    }

    /// `bytes` given back by `thread`.
    pub(super) fn free(&mut self, thread: Option<ThreadId>, bytes: u64) {
        self.used = self.used.saturating_sub(bytes);
        self.exhausted = false;
        if let Some((_, freed)) = thread.and_then(|t| self.calls.get_mut(&t)) {
            *freed += bytes;
        }
    }

    /// A GPU-context call begins on `thread`: count what it allocates and frees.
    pub(super) fn begin_call(&mut self, thread: ThreadId) {
        self.calls.insert(thread, (0, 0));
    }

    /// The GPU-context call on `thread` ended: (allocated, freed) during it.
    pub(super) fn end_call(&mut self, thread: ThreadId) -> (u64, u64) {
        self.calls.remove(&thread).unwrap_or((0, 0))
    }

    /// The last allocation did not fit, and nothing was freed since.
    pub(super) fn exhausted(&self) -> bool {
        self.exhausted
    }

    /// A GPU context the KMD created, with the bytes it kept.
    pub(super) fn add_gpu_context(&mut self, handle: Handle, allocated: u64) {
        let id = self.next_gpu_context;
        self.next_gpu_context += 1;
        self.gpu_contexts.insert(id, (handle, allocated));
    }

    /// Every GPU context, in creation order, forgotten here.
    pub(super) fn take_gpu_contexts(&mut self) -> Vec<(Handle, u64)> {
        std::mem::take(&mut self.gpu_contexts)
            .into_values()
            .collect()
    }

    /// GPU contexts alive.
    pub(super) fn gpu_contexts(&self) -> usize {
        self.gpu_contexts.len()
    }
}

/// Where the KMD Miracast context is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum KmdPhase {
    /// No context: none created yet, the last creation failed, or it was destroyed.
    None,
    /// `DxgkDdiMiracastCreateContext` is running: its Miracast handle is live already (messages
    /// sent from inside the call are accepted); IOCTLs meanwhile carry context 0.
    Creating,
    /// The context exists.
    Live(Handle),
    /// `StopMiracastSession` overran its budget (R20): no IOCTL reaches the KMD until a new
    /// context is created. `Some` while the context still exists (the OS is destroying it).
    Overrun(Option<Handle>),
}

/// The KMD Miracast context.
pub(super) struct KmdContext {
    phase: KmdPhase,
    /// The Miracast handle of the latest `DxgkDdiMiracastCreateContext`; valid while a context
    /// exists (R19).
    miracast_handle: Handle,
    /// The context last destroyed; only the R18/R20 knobs pass IOCTLs to it.
    last_destroyed: Option<Handle>,
}

impl Default for KmdContext {
    fn default() -> Self {
        KmdContext {
            phase: KmdPhase::None,
            miracast_handle: Handle(0),
            last_destroyed: None,
        }
    }
}

impl KmdContext {
    /// The context IOCTLs go to, while one exists.
    pub(super) fn context(&self) -> Option<Handle> {
        match self.phase {
            KmdPhase::None => None,
            KmdPhase::Creating => Some(Handle(0)),
            KmdPhase::Live(c) => Some(c),
            KmdPhase::Overrun(c) => c,
        }
    }

    /// A context exists (or is being created).
    pub(super) fn exists(&self) -> bool {
        self.context().is_some()
    }

    /// `handle` is the Miracast handle of the context that exists (R19).
    pub(super) fn handle_valid(&self, handle: Handle) -> bool {
        self.exists() && self.miracast_handle == handle
    }

    /// A stop overran its budget since the last creation began (R20).
    pub(super) fn overrun(&self) -> bool {
        matches!(self.phase, KmdPhase::Overrun(_))
    }

    /// The context last destroyed (for the R18/R20 knobs).
    pub(super) fn last_destroyed(&self) -> Option<Handle> {
        self.last_destroyed
    }

    /// `DxgkDdiMiracastCreateContext` is called with `miracast_handle`.
    pub(super) fn begin_create(&mut self, miracast_handle: Handle) {
        self.miracast_handle = miracast_handle;
        self.phase = KmdPhase::Creating;
    }

    /// `DxgkDdiMiracastCreateContext` returned `context` (`None`: it failed).
    pub(super) fn created(&mut self, context: Option<Handle>) {
        self.phase = match (self.phase, context) {
            (KmdPhase::Overrun(_), c) => KmdPhase::Overrun(c),
            (_, Some(c)) => KmdPhase::Live(c),
            (_, None) => KmdPhase::None,
        };
    }

    /// The stop overran its budget (R20): IOCTLs are blocked from now on.
    pub(super) fn mark_overrun(&mut self) {
        self.phase = KmdPhase::Overrun(self.context());
    }

    /// `DxgkDdiMiracastDestroyContext` for `context` returned.
    pub(super) fn destroyed(&mut self, context: Handle) {
        self.phase = match self.phase {
            KmdPhase::Overrun(_) => KmdPhase::Overrun(None),
            _ => KmdPhase::None,
        };
        self.last_destroyed = Some(context);
    }
}

/// Where the UMD Miracast context is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum UmdPhase {
    /// No context: none created yet, or the last creation is running or failed.
    None,
    /// The context exists.
    Live(Handle),
    /// `DestroyMiracastContext` returned: callbacks are refused (R36) until the next creation.
    Destroyed,
    /// A context created by a `CreateMiracastContext` that overlapped a
    /// `DestroyMiracastContext` (only when the `umd_calls_not_serialized` knob lets them
    /// overlap): it exists, but callbacks are refused as after the destroy.
    LiveAfterDestroy(Handle),
}

/// The UMD host: the DLL and its Miracast context.
pub(super) struct UmdHost {
    /// `QueryMiracastDriverInterface` answered STATUS_SUCCESS (the DLL is loaded). A property
    /// of the DLL, not of the context: a later failing load clears it while a context lives.
    loaded: bool,
    /// The device handle of the latest `CreateMiracastContext`: the one callbacks carry (R36).
    device: Handle,
    phase: UmdPhase,
}

impl Default for UmdHost {
    fn default() -> Self {
        UmdHost {
            loaded: false,
            device: Handle(0),
            phase: UmdPhase::None,
        }
    }
}

impl UmdHost {
    /// The DLL is loaded.
    pub(super) fn loaded(&self) -> bool {
        self.loaded
    }

    /// `QueryMiracastDriverInterface` answered; `ok` when with STATUS_SUCCESS.
    pub(super) fn set_loaded(&mut self, ok: bool) {
        self.loaded = ok;
    }

    /// The device handle callbacks must carry.
    pub(super) fn device(&self) -> Handle {
        self.device
    }

    /// The context, while one exists.
    pub(super) fn context(&self) -> Option<Handle> {
        match self.phase {
            UmdPhase::Live(c) | UmdPhase::LiveAfterDestroy(c) => Some(c),
            UmdPhase::None | UmdPhase::Destroyed => None,
        }
    }

    /// `DestroyMiracastContext` returned since the last creation began (R36).
    pub(super) fn destroyed(&self) -> bool {
        matches!(
            self.phase,
            UmdPhase::Destroyed | UmdPhase::LiveAfterDestroy(_)
        )
    }

    /// `CreateMiracastContext` is called for `device`.
    pub(super) fn begin_create(&mut self, device: Handle) {
        self.device = device;
        self.phase = match self.phase {
            UmdPhase::Live(c) | UmdPhase::LiveAfterDestroy(c) => UmdPhase::Live(c),
            UmdPhase::None | UmdPhase::Destroyed => UmdPhase::None,
        };
    }

    /// `CreateMiracastContext` returned `context` with STATUS_SUCCESS.
    pub(super) fn created(&mut self, context: Handle) {
        self.phase = if self.destroyed() {
            UmdPhase::LiveAfterDestroy(context)
        } else {
            UmdPhase::Live(context)
        };
    }

    /// `DestroyMiracastContext` returned.
    pub(super) fn destroyed_now(&mut self) {
        self.phase = UmdPhase::Destroyed;
    }
}

/// The Miracast session.
pub(super) struct Session {
    pub(super) phase: SessionPhase,
    /// `StopMiracastSession` (or `DestroyMiracastContext`) has begun since the last create or
    /// start: messages are dropped (R29) and no chunk is handed out.
    pub(super) stop_begun: bool,
    /// The thread running one of the four serialized UMD functions, and which.
    pub(super) serialized_call: Option<(ThreadId, Ddi)>,
    /// The RTSP socket of the session.
    pub(super) link: Option<Rc<SimRtspLink>>,
    /// `ReportSessionStatus` started the OS teardown (R47).
    pub(super) teardown_requested: bool,
}

impl Default for Session {
    fn default() -> Self {
        Session {
            phase: SessionPhase::Stopped,
            stop_begun: false,
            serialized_call: None,
            link: None,
            teardown_requested: false,
        }
    }
}

/// The UMD's data-rate registration (R49, R50).
#[derive(Default)]
pub(super) struct DataRate {
    /// The registered notification context.
    context: Option<Handle>,
    /// Bumped on every change, so a notification thread knows when its registration ended.
    generation: u64,
    /// Notifications inside the UMD right now.
    in_flight: u32,
}

impl DataRate {
    /// The registration `generation` for `context` is the current one.
    pub(super) fn is_current(&self, context: Handle, generation: u64) -> bool {
        self.context == Some(context) && self.generation == generation
    }

    /// The registered context.
    pub(super) fn registered(&self) -> Option<Handle> {
        self.context
    }

    /// Registers `context`; returns the new generation.
    pub(super) fn register(&mut self, context: Handle) -> u64 {
        self.context = Some(context);
        self.generation += 1;
        self.generation
    }

    /// A notification enters the UMD.
    pub(super) fn enter(&mut self) {
        self.in_flight += 1;
    }

    /// A notification returned; true when none is left inside the UMD.
    pub(super) fn leave(&mut self) -> bool {
        self.in_flight = self.in_flight.saturating_sub(1);
        self.in_flight == 0
    }

    /// Notifications inside the UMD right now.
    pub(super) fn in_flight(&self) -> u32 {
        self.in_flight
    }

    /// Ends the registration; returns the context that was registered.
    pub(super) fn unregister(&mut self) -> Option<Handle> {
        self.generation += 1;
        self.context.take()
    }
}

/// One kernel-to-user message in flight.
pub(super) struct Message {
    pub(super) buffers: Rc<MessageBuffers>,
    pub(super) callback_context: Option<Handle>,
    /// Trace seq of the send, for findings.
    pub(super) sent_at: u32,
    /// The sender's clock at the send: the OS's own hand-off of the message orders everything
    /// the sender did before `DxgkCbMiracastSendMessage` before its delivery and completion
    /// (and nothing the sender does after the send returns, R27).
    pub(super) sent_clock: Option<crate::sched::clock::VectorClock>,
}

/// The kernel-to-user message channel.
pub(super) struct MessageChannel {
    messages: BTreeMap<u64, Message>,
    /// Messages held until `StartMiracastSession` returns (R28), oldest first.
    held: Vec<u64>,
    next_id: u64,
}

impl Default for MessageChannel {
    fn default() -> Self {
        MessageChannel {
            messages: BTreeMap::new(),
            held: Vec::new(),
            next_id: 1,
        }
    }
}

impl MessageChannel {
    /// A fresh message id.
    pub(super) fn next_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// Message `id` is in flight.
    pub(super) fn insert(&mut self, id: u64, message: Message) {
        self.messages.insert(id, message);
    }

    /// Message `id`, while in flight.
    pub(super) fn get(&self, id: u64) -> Option<&Message> {
        self.messages.get(&id)
    }

    /// Message `id` is done with.
    pub(super) fn remove(&mut self, id: u64) -> Option<Message> {
        self.messages.remove(&id)
    }

    /// Holds message `id` until the start returns.
    pub(super) fn hold(&mut self, id: u64) {
        self.held.push(id);
    }

    /// The held messages, oldest first, no longer held.
    pub(super) fn take_held(&mut self) -> Vec<u64> {
        std::mem::take(&mut self.held)
    }
}

/// Chunk-queue state (R53, R54).
#[derive(Default)]
pub(super) struct ChunkQueue {
    pub(super) queue: VecDeque<ChunkData>,
    pub(super) reset_pending: bool,
    pub(super) overflowed_in_isr: bool,
    pub(super) dpc_requested: bool,
    pub(super) getters: u32,
}

/// What the OS has seen of the KMD's chunk numbering (R58, R59).
#[derive(Default)]
pub(super) struct ChunkIds {
    /// (chunk type, frame, part) reported in the current encode pass of each frame.
    pub(super) seen: BTreeSet<(u32, u64, u64)>,
    /// Frames with a FRAME_START.
    pub(super) started: BTreeSet<u64>,
    /// Frames with colour conversion or encoding reported.
    pub(super) processed: BTreeSet<u64>,
    /// Frames with ENCODE_COMPLETE reported, and whether one had PartNumber 0.
    pub(super) encoded: BTreeMap<u64, bool>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The KMD context as the OS model kept it before it had phases: four loose fields.
    #[derive(Default)]
    struct FlatKmd {
        context: Option<Handle>,
        miracast_handle: Handle,
        early: bool,
        destroyed: Option<Handle>,
    }

    /// The UMD host as four loose fields.
    #[derive(Default)]
    struct FlatUmd {
        loaded: bool,
        context: Option<Handle>,
        destroyed: bool,
        device: Handle,
    }

    /// Every sequence of `len` operations out of `ops`, as indices.
    fn sequences(ops: usize, len: u32) -> impl Iterator<Item = Vec<usize>> {
        (0..ops.pow(len)).map(move |mut n| {
            (0..len)
                .map(|_| {
                    let op = n % ops;
                    n /= ops;
                    op
                })
                .collect()
        })
    }

    #[test]
    fn kmd_phases_answer_as_the_loose_fields_did_after_any_sequence() {
        for seq in sequences(6, 6) {
            let (mut flat, mut kmd) = (FlatKmd::default(), KmdContext::default());
            for (i, op) in seq.iter().enumerate() {
                let h = Handle(0x100 + i as u64);
                match op {
                    0 => {
                        flat.miracast_handle = h;
                        flat.context = Some(Handle(0));
                        flat.early = false;
                        kmd.begin_create(h);
                    }
                    1 => {
                        flat.context = Some(h);
                        kmd.created(Some(h));
                    }
                    2 => {
                        flat.context = None;
                        kmd.created(None);
                    }
                    3 => {
                        flat.early = true;
                        kmd.mark_overrun();
                    }
                    4 => {
                        flat.context = None;
                        flat.destroyed = Some(h);
                        kmd.destroyed(h);
                    }
                    _ => {}
                }
                assert_eq!(kmd.context(), flat.context, "{seq:?}");
                assert_eq!(kmd.overrun(), flat.early, "{seq:?}");
                assert_eq!(kmd.last_destroyed(), flat.destroyed, "{seq:?}");
                for probe in [flat.miracast_handle, Handle(0), h] {
                    assert_eq!(
                        kmd.handle_valid(probe),
                        flat.context.is_some() && flat.miracast_handle == probe,
                        "{seq:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn umd_phases_answer_as_the_loose_fields_did_after_any_sequence() {
        for seq in sequences(5, 6) {
            let (mut flat, mut umd) = (FlatUmd::default(), UmdHost::default());
            for (i, op) in seq.iter().enumerate() {
                let h = Handle(0x100 + i as u64);
                match op {
                    0 => {
                        flat.device = h;
                        flat.destroyed = false;
                        umd.begin_create(h);
                    }
                    1 => {
                        flat.context = Some(h);
                        umd.created(h);
                    }
                    2 => {
                        flat.context = None;
                        flat.destroyed = true;
                        umd.destroyed_now();
                    }
                    3 => {
                        flat.loaded = true;
                        umd.set_loaded(true);
                    }
                    _ => {
                        flat.loaded = false;
                        umd.set_loaded(false);
                    }
                }
                assert_eq!(umd.context(), flat.context, "{seq:?}");
                assert_eq!(umd.destroyed(), flat.destroyed, "{seq:?}");
                assert_eq!(umd.device(), flat.device, "{seq:?}");
                assert_eq!(umd.loaded(), flat.loaded, "{seq:?}");
            }
        }
    }
}
