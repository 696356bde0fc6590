//! Real threads for driver code, bridged into the deterministic scheduler (see the module doc
//! of `backend::real` for the picture).
//!
//! Protocol between a simulated thread's future (on the executor) and its real thread:
//!
//! ```text
//!   executor (future of sim thread T)          real thread R(T)
//!   ─── Down::Call(job) ───────────────────▶  runs job (driver code)
//!                                              driver calls a trampoline
//!   ◀── Up::Callback(request) ──────────────   blocks in the trampoline
//!   awaits the OS service (choice point)
//!   ─── Down::Reply(answer) ───────────────▶  trampoline returns to the driver
//!   ◀── Up::Returned(result) ───────────────   job finished
//! ```
//!
//! While blocked in a trampoline, the real thread also accepts `Down::Call`: that is a nested
//! call into the driver made by the OS model while serving the callback (the completion routine
//! called from inside `DxgkCbMiracastSendMessage`, or the KMD's `DxgkDdiMiracastIoControl`
//! called from inside the UMD's `MiracastIoControl`). The protocol is a stack per thread.

#![allow(unsafe_code)]

use super::platform;
use crate::ddi::*;
use crate::sched::{Sched, SimEvent, ThreadId, wait_any};
use crate::status::NtStatus;
use crate::time::SimTime;
use crate::trace::EventKind;
use async_trait::async_trait;
use std::any::Any;
use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// How the runtime treats driver code.
#[derive(Clone, Debug)]
pub struct BridgeConfig {
    /// Wall-clock time a driver may run without returning or calling back before it is reported
    /// as blocked outside the simulator's control.
    pub hang_timeout: Duration,
    /// Stack size of each real thread that runs driver code.
    pub stack_size: usize,
}

impl Default for BridgeConfig {
    fn default() -> Self {
        BridgeConfig {
            hang_timeout: Duration::from_secs(5),
            stack_size: 8 << 20,
        }
    }
}

/// What went wrong with the driver binary itself (not a documented rule): a bugcheck-style
/// finding.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DriverFault {
    /// What happened.
    pub kind: DriverFaultKind,
    /// The simulated thread that was inside the driver.
    pub thread: String,
    /// The DDI it was inside (documented name), when known.
    pub ddi: Option<String>,
    /// One sentence for the report.
    pub detail: String,
    /// The last bridge events before the fault (DDI entries and exits, callbacks), oldest first.
    pub last_events: Vec<String>,
}

/// The kind of a [`DriverFault`].
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DriverFaultKind {
    /// The driver neither returned nor called back within the hang timeout.
    Hang {
        /// How long the simulator waited, ms.
        waited_ms: u64,
    },
    /// The process running the driver died (only seen from the parent of an isolated run).
    Crash {
        /// The signal number (Unix) or exception code (Windows), when there is one.
        code: Option<i64>,
        /// Its name (`SIGSEGV`, `STATUS_ACCESS_VIOLATION`, ...) or the exit status.
        name: String,
    },
}

impl std::fmt::Display for DriverFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let place = match &self.ddi {
            Some(ddi) => format!("inside {ddi} on thread {}", self.thread),
            None => format!("on thread {}", self.thread),
        };
        match &self.kind {
            DriverFaultKind::Hang { waited_ms } => write!(
                f,
                "driver hang: no return and no callback for {waited_ms} ms {place}: {}",
                self.detail
            ),
            DriverFaultKind::Crash { name, .. } => {
                write!(
                    f,
                    "bugcheck: the driver crashed ({name}) {place}: {}",
                    self.detail
                )
            }
        }
    }
}

/// A value moved to a real thread. Only used for plain data and for the driver's own pointers,
/// which the driver receives on whichever thread calls it anyway.
pub(crate) struct AssertSend<T>(pub T);
// SAFETY: `AssertSend` carries driver pointers (contexts, buffers the job owns) to the real
// thread that calls the driver. The executor never touches them while the real thread runs, and
// C code has no thread affinity for them; the protocol hands them over, it does not share them.
unsafe impl<T> Send for AssertSend<T> {}

pub(crate) type Payload = Box<dyn Any + Send>;
type Job = Box<dyn FnOnce() -> Payload + Send>;

enum Down {
    Call(Job),
    Reply(CallbackReply),
}

enum Up {
    Returned(Payload),
    Callback(CallbackRequest),
    Panicked(String),
}

/// A driver-to-OS callback, as plain data.
#[derive(Debug)]
pub(crate) enum CallbackRequest {
    ReportSessionStatus {
        device: Handle,
        status: Option<MiracastStatus>,
        raw_status: u32,
        diagnostic: NtStatus,
    },
    MiracastIoControl {
        device: Handle,
        hardware_access: bool,
        input: Vec<u8>,
        output_size: u32,
    },
    ReportStatistic {
        device: Handle,
        data: Option<StatisticData>,
    },
    GetNextChunkData {
        device: Handle,
        timeout_ms: u32,
        event_count: u32,
        buffer_size: u32,
    },
    RegisterForDataRateNotifications {
        device: Handle,
        context: usize,
        routine: super::ffi::PFN_DATARATE_NOTIFICATION,
    },
    IndicateChildStatus(ChildStatus),
    NotifyInterrupt(MiracastEncodeChunkCompleted),
    NotifyDpc,
    QueueDpc,
    SendMessage {
        handle: Handle,
        input: Vec<u8>,
        input_ptr: usize,
        output_ptr: usize,
        output_size: u32,
        routine: super::ffi::DXGKCB_MIRACAST_SEND_MESSAGE_CALLBACK,
        routine_context: usize,
    },
    ReportChunkInfo {
        handle: Handle,
        info: ChunkInfo,
        private_driver_data: Option<Vec<u8>>,
    },
    /// A handle the simulator never gave out.
    UnknownHandle(&'static str, usize),
    /// A callback the simulator does not model (with why).
    Unsupported(String),
    /// A C library call of driver code (see `interpose`).
    Hook(HookRequest),
}

/// What runs on a kernel routine's simulated thread after the driver's routine returned.
pub(crate) type AfterRoutine = Box<dyn FnOnce(&RealRuntime, ThreadId)>;

/// The OS's answer to a [`CallbackRequest`].
#[derive(Debug)]
pub(crate) enum CallbackReply {
    Unit,
    Status(NtStatus),
    IoControl {
        status: NtStatus,
        output: Vec<u8>,
        bytes_returned: u32,
    },
    Chunks(ChunkDataResult),
    /// The answer to a [`HookRequest`].
    Hook(HookReply),
    /// The runtime is gone or refused the call.
    Refused,
}

impl CallbackReply {
    pub(crate) fn status(&self) -> NtStatus {
        match self {
            CallbackReply::Status(s) => *s,
            CallbackReply::IoControl { status, .. } => *status,
            CallbackReply::Chunks(c) => c.status,
            CallbackReply::Unit | CallbackReply::Hook(_) => NtStatus::STATUS_SUCCESS,
            CallbackReply::Refused => NtStatus::STATUS_INVALID_DEVICE_STATE,
        }
    }
}

/// A C library call of driver code that the interposition layer turned into a request (see
/// `interpose`).
#[derive(Debug)]
pub(crate) enum HookRequest {
    /// `pthread_create`.
    Spawn {
        routine: extern "C" fn(*mut libc::c_void) -> *mut libc::c_void,
        arg: usize,
    },
    /// `pthread_join`.
    Join { thread: u64 },
    /// `pthread_detach`.
    Detach { thread: u64 },
    /// `pthread_exit`.
    Exit { value: usize },
    /// `nanosleep` and friends.
    Sleep { micros: u64 },
    /// `sched_yield`.
    Yield,
    /// `pthread_mutex_lock` found the mutex held by a simulated thread that is not running.
    MutexWait { addr: usize },
    /// `pthread_mutex_unlock` of a mutex some simulated thread waits for.
    MutexWake { addr: usize },
    /// `pthread_cond_wait`/`timedwait` (the mutex is released).
    CondWait {
        cond: usize,
        timeout_us: Option<u64>,
    },
    /// `pthread_cond_signal`/`broadcast`.
    CondWake { cond: usize, all: bool },
    /// `send`/`write` on the RTSP socket.
    SocketSend { fd: i32, bytes: Vec<u8> },
    /// `recv`/`read` on the RTSP socket.
    SocketRecv {
        fd: i32,
        max: usize,
        peek: bool,
        nonblocking: bool,
        timeout_us: Option<u64>,
    },
    /// `close` of the RTSP socket (R41).
    SocketClose { fd: i32 },
    /// `poll`/`select`, or a read of another descriptor that would block.
    Poll {
        fds: Vec<(i32, i16)>,
        timeout_us: Option<u64>,
    },
    /// A descriptor was written: pollers look again.
    FdActivity,
    /// A kernel routine (`include/wdm.h`, see `kernel`).
    Kernel(super::kernel::KernelCall),
}

/// The simulator's answer to a [`HookRequest`].
#[derive(Debug)]
pub(crate) enum HookReply {
    Done,
    Value(u64),
    TimedOut,
    Bytes(Vec<u8>),
    Errno(i32),
    Revents(Vec<i16>),
    /// Not the simulator's (a thread it did not create): the hook calls the real function.
    Unknown,
}

/// What real threads read without asking the executor. Only one real thread runs driver code
/// at a time (the one whose simulated thread holds the turn), so these never race in practice;
/// they are atomics and locks only to be shareable.
pub(crate) struct RealShared {
    /// Virtual time in microseconds, as of the last hand-over to a real thread (virtual time
    /// does not move while a real thread holds the turn).
    now_us: AtomicU64,
    /// The RTSP socket descriptors handed to the driver.
    rtsp: Mutex<BTreeSet<i32>>,
    /// Mutexes (by address) that simulated threads wait for.
    mutex_waiters: Mutex<BTreeMap<usize, u32>>,
    /// Simulated threads waiting for descriptor activity.
    fd_waiters: AtomicU32,
    /// What the race check needs of the driver's code since the last hand-back (memory
    /// accesses of a ThreadSanitizer-instrumented driver, heap blocks, pthread mutex releases
    /// and acquires), checked by `kernel` at every boundary.
    pub(crate) accesses: Mutex<Vec<super::kernel::RaceEvent>>,
}

impl RealShared {
    pub(crate) fn now_us(&self) -> u64 {
        self.now_us.load(Ordering::SeqCst)
    }

    pub(crate) fn is_rtsp(&self, fd: i32) -> bool {
        self.rtsp.lock().is_ok_and(|s| s.contains(&fd))
    }

    pub(crate) fn has_mutex_waiters(&self, addr: usize) -> bool {
        self.mutex_waiters
            .lock()
            .is_ok_and(|m| m.get(&addr).is_some_and(|n| *n > 0))
    }

    pub(crate) fn has_fd_waiters(&self) -> bool {
        self.fd_waiters.load(Ordering::SeqCst) > 0
    }
}

/// The RTSP socket as driver threads use it through the interposed calls.
#[async_trait(?Send)]
pub(crate) trait SimSocket {
    /// (bytes are waiting, the stream has ended).
    fn state(&self) -> (bool, bool);
    /// Set while bytes wait or the stream has ended.
    fn readable(&self) -> SimEvent;
    /// Takes (or, with `peek`, copies) up to `max` waiting bytes.
    fn take(&self, max: usize, peek: bool) -> Vec<u8>;
    /// Sends on the link; the byte count or an errno.
    async fn send(&self, bytes: Vec<u8>) -> Result<usize, i32>;
    /// The driver closed the OS's socket.
    fn closed_by_driver(&self);
}

/// The shared state of the current real thread, when it is one of the bridge's.
pub(crate) fn hook_shared() -> Option<Arc<RealShared>> {
    current_link().map(|l| l.shared.clone())
}

/// Sends a hook request from a bridge thread and waits for the answer (when the run is over,
/// [`callback`] parks the thread for good).
pub(crate) fn hook_call(request: HookRequest) -> HookReply {
    match callback(0, CallbackRequest::Hook(request)) {
        CallbackReply::Hook(reply) => reply,
        _ => HookReply::Unknown,
    }
}

/// The channels of the real thread the current OS thread is (set on real threads only).
struct Link {
    up: Sender<Up>,
    down: Receiver<Down>,
    shared: Arc<RealShared>,
}

/// The process whose runtimes serve callbacks (set when a runtime is made).
static BRIDGE_PROCESS: AtomicU32 = AtomicU32::new(0);

/// False in a process the driver forked: no runtime lives there to serve a call.
fn in_bridge_process() -> bool {
    BRIDGE_PROCESS.load(Ordering::Relaxed) == std::process::id()
}

/// The current thread's link, when it is a bridge thread. A driver that forks copies the
/// thread's link into the child, where nobody answers it: there the thread is no bridge thread,
/// and its C library calls are the C library's.
fn current_link() -> Option<Rc<Link>> {
    if !in_bridge_process() {
        return None;
    }
    LINK.try_with(|l| l.borrow().clone()).ok().flatten()
}

thread_local! {
    static LINK: RefCell<Option<Rc<Link>>> = const { RefCell::new(None) };
    /// The DDIs the current real thread is inside, outermost first.
    static DDI_STACK: RefCell<Vec<Ddi>> = const { RefCell::new(Vec::new()) };
}

/// Callbacks from threads the driver created itself, waiting for the executor.
pub(crate) struct ForeignQueue {
    queue: Mutex<VecDeque<(CallbackRequest, Sender<CallbackReply>)>>,
    closed: AtomicBool,
}

/// Handles the driver sees: unique process-wide values mapped to (OS handle, runtime queue), so
/// that a trampoline finds its runtime without reading driver memory.
type HandleTable = Mutex<BTreeMap<usize, (Handle, Arc<ForeignQueue>)>>;

fn handle_table() -> &'static HandleTable {
    static TABLE: OnceLock<HandleTable> = OnceLock::new();
    TABLE.get_or_init(|| Mutex::new(BTreeMap::new()))
}

/// The `pthread_t` of every real thread the bridge started for a driver's `pthread_create`, in
/// this process. They end only with their run (or park for good), so a `pthread_join` of one
/// from outside the bridge (a library destructor at unload) must not wait for it.
fn bridge_pthreads() -> &'static Mutex<BTreeSet<u64>> {
    static IDS: OnceLock<Mutex<BTreeSet<u64>>> = OnceLock::new();
    IDS.get_or_init(|| Mutex::new(BTreeSet::new()))
}

/// True for a thread the bridge started for the driver (see [`bridge_pthreads`]).
pub(crate) fn is_bridge_pthread(id: u64) -> bool {
    bridge_pthreads().lock().is_ok_and(|s| s.contains(&id))
}

/// Looks up a handle the driver passed back.
pub(crate) fn resolve_handle(driver_value: usize) -> Option<Handle> {
    handle_table()
        .lock()
        .ok()?
        .get(&driver_value)
        .map(|(h, _)| *h)
}

/// Sends a callback request from a trampoline and blocks until the OS answers. Runs driver
/// calls nested inside the callback meanwhile.
pub(crate) fn callback(driver_handle: usize, request: CallbackRequest) -> CallbackReply {
    if !in_bridge_process() {
        return CallbackReply::Refused;
    }
    if let Some(link) = current_link() {
        let reply = if link.up.send(Up::Callback(request)).is_ok() {
            serve_down(&link)
        } else {
            None
        };
        // No answer means the run is over (the runtime hung up): this thread never returns to
        // the driver's code, which may be unloaded or serve a later run. It parks for good.
        return reply.unwrap_or_else(|| {
            loop {
                std::thread::park();
            }
        });
    }
    // A thread the driver created: queue it for the runtime that owns the handle.
    let queue = handle_table()
        .lock()
        .ok()
        .and_then(|t| t.get(&driver_handle).map(|(_, q)| q.clone()));
    let Some(queue) = queue else {
        return CallbackReply::Refused;
    };
    if queue.closed.load(Ordering::SeqCst) {
        return CallbackReply::Refused;
    }
    let (tx, rx) = mpsc::channel();
    if let Ok(mut q) = queue.queue.lock() {
        q.push_back((request, tx));
    }
    rx.recv().unwrap_or(CallbackReply::Refused)
}

/// Serves `Down` messages on a real thread until a callback reply arrives (or, at the top level,
/// until the runtime hangs up).
fn serve_down(link: &Link) -> Option<CallbackReply> {
    loop {
        match recv_spinning(&link.down) {
            Ok(Down::Reply(r)) => return Some(r),
            Ok(Down::Call(job)) => {
                let up = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(job)) {
                    Ok(p) => Up::Returned(p),
                    Err(e) => Up::Panicked(panic_text(&e)),
                };
                if link.up.send(up).is_err() {
                    return None;
                }
            }
            Err(_) => return None,
        }
    }
}

/// How long a hand-off spins for the other side before it sleeps (see the module doc).
const SPIN: Duration = Duration::from_micros(200);
/// Spins before a hand-off starts yielding its core.
const SPINS_BEFORE_YIELD: u32 = 256;

/// The next message on `rx` if one comes within [`SPIN`]; `None` after that or when the sender
/// is gone (the caller's blocking receive then says which).
fn spin_for<T>(rx: &Receiver<T>) -> Option<T> {
    let start = Instant::now();
    let mut n = 0u32;
    loop {
        match rx.try_recv() {
            Ok(m) => return Some(m),
            Err(mpsc::TryRecvError::Disconnected) => return None,
            Err(mpsc::TryRecvError::Empty) => {}
        }
        n = n.saturating_add(1);
        if n < SPINS_BEFORE_YIELD {
            std::hint::spin_loop();
        } else {
            std::thread::yield_now();
            if start.elapsed() >= SPIN {
                return None;
            }
        }
    }
}

/// `rx.recv()`, spinning first.
fn recv_spinning<T>(rx: &Receiver<T>) -> Result<T, mpsc::RecvError> {
    match spin_for(rx) {
        Some(m) => Ok(m),
        None => rx.recv(),
    }
}

fn panic_text(e: &Box<dyn Any + Send>) -> String {
    e.downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| e.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic".to_owned())
}

struct RealThread {
    down: Sender<Down>,
    up: Receiver<Up>,
}

impl RealThread {
    /// Starts a real thread; returns it and its OS thread id (the `pthread_t` a driver sees).
    /// `label` is the simulated thread as the journal names it (`t4 umd-worker`), so that a
    /// crash on this thread is reported under the same words whether it came up exploring or
    /// replaying.
    fn spawn(
        label: &str,
        stack_size: usize,
        shared: Arc<RealShared>,
    ) -> std::io::Result<(RealThread, u64)> {
        let (down_tx, down_rx) = mpsc::channel::<Down>();
        let (up_tx, up_rx) = mpsc::channel::<Up>();
        let registered = label.to_owned();
        let handle = std::thread::Builder::new()
            .name(format!("driver:{label}"))
            .stack_size(stack_size)
            .spawn(move || {
                super::isolate::register_driver_thread(&registered);
                let link = Rc::new(Link {
                    up: up_tx,
                    down: down_rx,
                    shared,
                });
                LINK.with(|l| *l.borrow_mut() = Some(link.clone()));
                let _ = serve_down(&link);
                LINK.with(|l| *l.borrow_mut() = None);
            })?;
        let id = platform::os_thread_id(&handle);
        Ok((
            RealThread {
                down: down_tx,
                up: up_rx,
            },
            id,
        ))
    }
}

/// A source of bytes to move while the driver holds the turn (the RTSP relay).
pub(crate) trait Pump {
    /// Moves what is ready; true when the driver made visible progress (sent bytes).
    fn pump(&self) -> bool;
}

/// A message the KMD sent with `DxgkCbMiracastSendMessage`, as the runtime tracks it for R26.
pub(crate) struct SentMessage {
    pub(crate) buffers: Rc<MessageBuffers>,
    pub(crate) input_ptr: usize,
    pub(crate) output_ptr: usize,
    pub(crate) output_size: u32,
    pub(crate) routine: super::ffi::DXGKCB_MIRACAST_SEND_MESSAGE_CALLBACK,
    pub(crate) routine_context: usize,
    pub(crate) released_noted: bool,
}

#[derive(Default)]
pub(crate) struct Services {
    pub(crate) umd: BTreeMap<Handle, Rc<dyn MiracastUmdServices>>,
    pub(crate) dxgkrnl: Option<Rc<dyn DxgkrnlServices>>,
    pub(crate) display: BTreeMap<Handle, Rc<dyn MiracastDisplayServices>>,
    /// Registered `pfnDataRateNotify` by notification context.
    pub(crate) data_rate: BTreeMap<u64, super::ffi::PFN_DATARATE_NOTIFICATION>,
    /// Messages in flight by the callback context the OS knows them by.
    pub(crate) messages: BTreeMap<u64, SentMessage>,
    pub(crate) next_message: u64,
}

pub(crate) struct RuntimeInner {
    pub(crate) sched: Sched,
    pub(crate) config: BridgeConfig,
    threads: RefCell<BTreeMap<ThreadId, Rc<RealThread>>>,
    faults: RefCell<Vec<DriverFault>>,
    poisoned: Cell<bool>,
    pub(crate) services: RefCell<Services>,
    pumps: RefCell<Vec<Rc<dyn Pump>>>,
    foreign: Arc<ForeignQueue>,
    journal: RefCell<VecDeque<String>>,
    driver_handles: RefCell<Vec<usize>>,
    pointers: RefCell<PointerMap>,
    /// What real threads read directly.
    pub(crate) shared: Arc<RealShared>,
    /// True when the driver library's C library imports are interposed (`interpose`).
    pub(crate) interposed: Cell<bool>,
    hooks: RefCell<HookState>,
    /// Drivers ("umd"/"kmd") the OS has unloaded: their threads' next C library call freezes
    /// them (the code they run is gone on Windows).
    unloaded: RefCell<BTreeSet<&'static str>>,
    /// RTSP sockets by descriptor (interposed mode).
    sockets: RefCell<BTreeMap<i32, Rc<dyn SimSocket>>>,
    /// The kernel routines' state: locks, events, DPCs, timers, pool, IRQL per thread.
    kernel: super::kernel::Kernel,
}

/// The executor's side of interposed calls.
#[derive(Default)]
struct HookState {
    /// Threads the driver created, by the `pthread_t` it was given.
    threads: BTreeMap<u64, DriverThread>,
    /// Which driver ("umd"/"kmd") each of those simulated threads runs.
    sides: BTreeMap<ThreadId, &'static str>,
    /// How many threads got each name so far (names stay unique).
    names: BTreeMap<String, u32>,
    mutex_waiters: BTreeMap<usize, Vec<SimEvent>>,
    cond_waiters: BTreeMap<usize, VecDeque<SimEvent>>,
    fd_waiters: Vec<SimEvent>,
}

/// A thread the driver created with `pthread_create`.
#[derive(Clone)]
struct DriverThread {
    sim: ThreadId,
    name: String,
    done: SimEvent,
    value: Rc<Cell<Option<usize>>>,
    detached: bool,
}

/// A driver thread, as the loaders report it at unload time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DriverThreadInfo {
    /// Its simulated thread's name (`umd-worker_main`).
    pub name: String,
    /// Its simulated thread id.
    pub thread: ThreadId,
    /// True once its start routine returned (or it called `pthread_exit`).
    pub ended: bool,
}

/// Driver pointers (contexts) as the OS model sees them: stable small handles, so that traces
/// do not depend on where the C heap put things.
#[derive(Default)]
struct PointerMap {
    to_os: BTreeMap<usize, Handle>,
    to_driver: BTreeMap<Handle, usize>,
    /// Handles given out so far.
    next: u64,
}

/// The runtime shared by a loaded UMD and KMD: their real threads, the services their
/// trampolines reach, and the faults found. Cheap to clone.
#[derive(Clone)]
pub struct RealRuntime {
    pub(crate) inner: Rc<RuntimeInner>,
}

/// `poll` event bits (the POSIX values of Linux and macOS, which the hooks pass through).
const POLL_IN: i16 = 0x1;
const POLL_OUT: i16 = 0x4;
const POLL_HUP: i16 = 0x10;

/// A descriptor to poll for real (a `struct pollfd`, platform-neutral).
pub(crate) struct PollEntry {
    /// The descriptor; negative entries are skipped.
    pub(crate) fd: i32,
    /// Events asked for.
    pub(crate) events: i16,
    /// Events found.
    pub(crate) revents: i16,
}

/// Virtual time a non-waiting `poll` or a non-blocking `recv` that finds nothing takes.
const POLL_QUANTUM: Duration = Duration::from_micros(100);

/// Bridge events kept for fault reports.
const JOURNAL_LEN: usize = 64;

impl RealRuntime {
    /// A runtime on `sched`.
    pub fn new(sched: &Sched, config: BridgeConfig) -> Self {
        BRIDGE_PROCESS.store(std::process::id(), Ordering::Relaxed);
        RealRuntime {
            inner: Rc::new(RuntimeInner {
                sched: sched.clone(),
                config,
                threads: RefCell::new(BTreeMap::new()),
                faults: RefCell::new(Vec::new()),
                poisoned: Cell::new(false),
                services: RefCell::new(Services {
                    next_message: 1,
                    ..Services::default()
                }),
                pumps: RefCell::new(Vec::new()),
                foreign: Arc::new(ForeignQueue {
                    queue: Mutex::new(VecDeque::new()),
                    closed: AtomicBool::new(false),
                }),
                journal: RefCell::new(VecDeque::new()),
                driver_handles: RefCell::new(Vec::new()),
                pointers: RefCell::new(PointerMap::default()),
                shared: Arc::new(RealShared {
                    now_us: AtomicU64::new(0),
                    rtsp: Mutex::new(BTreeSet::new()),
                    mutex_waiters: Mutex::new(BTreeMap::new()),
                    fd_waiters: AtomicU32::new(0),
                    accesses: Mutex::new(Vec::new()),
                }),
                interposed: Cell::new(false),
                hooks: RefCell::new(HookState::default()),
                unloaded: RefCell::new(BTreeSet::new()),
                sockets: RefCell::new(BTreeMap::new()),
                kernel: super::kernel::Kernel::default(),
            }),
        }
    }

    /// Rule findings of the kernel routines so far (IRQL, pool).
    pub fn kernel_violations(&self) -> Vec<crate::rules::Violation> {
        self.inner.kernel.violations()
    }

    /// The scenario's pool failure injection for the kernel routines.
    pub fn set_pool_faults(&self, faults: crate::os::PoolFaults) {
        self.inner.kernel.set_pool_faults(faults);
    }

    pub(crate) fn kernel(&self) -> &super::kernel::Kernel {
        &self.inner.kernel
    }

    /// Starts a simulated daemon thread of the KMD (a DPC, a work item) that runs `job`, driver
    /// code, on a real thread of its own: `first` runs on the new simulated thread before the
    /// driver's code, `last` after it.
    pub(crate) fn spawn_kernel_thread(
        &self,
        name: String,
        first: Box<dyn FnOnce(ThreadId) -> bool>,
        job: Box<dyn FnOnce() + Send>,
        last: AfterRoutine,
    ) -> ThreadId {
        let rt = self.clone();
        let sim = self.inner.sched.spawn(name, true, async move {
            let thread = rt.inner.sched.current();
            if !first(thread) {
                // Cancelled before it ran (a DPC taken off its queue).
                return;
            }
            let Some(real) = rt.real_thread(thread) else {
                return;
            };
            let job: Job = Box::new(move || {
                job();
                Box::new(()) as Payload
            });
            if rt.drive(thread, None, &real, job).await.is_none() {
                return rt.never_returns("a kernel routine").await;
            }
            last(&rt, thread);
            // The routine is over: its real thread ends (a new DPC or work item gets a new one).
            rt.inner.threads.borrow_mut().remove(&thread);
        });
        self.inner.hooks.borrow_mut().sides.insert(sim, "kmd");
        sim
    }

    /// Faults found so far (hangs, Rust panics in the bridge).
    pub fn faults(&self) -> Vec<DriverFault> {
        self.inner.faults.borrow().clone()
    }

    /// The last bridge events, oldest first.
    pub fn last_events(&self) -> Vec<String> {
        self.inner.journal.borrow().iter().cloned().collect()
    }

    /// True once a fault stopped the runtime from calling into the driver.
    pub fn is_poisoned(&self) -> bool {
        self.inner.poisoned.get()
    }

    pub(crate) fn sched(&self) -> &Sched {
        &self.inner.sched
    }

    /// A handle value to give the driver for the OS handle `os`.
    pub(crate) fn driver_handle(&self, os: Handle) -> usize {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        // Distinctive, never NULL, never a plausible small integer.
        let value = 0x4d43_0000_0000_usize + NEXT.fetch_add(1, Ordering::SeqCst) as usize * 0x10;
        if let Ok(mut t) = handle_table().lock() {
            t.insert(value, (os, self.inner.foreign.clone()));
        }
        self.inner.driver_handles.borrow_mut().push(value);
        value
    }

    /// The OS-visible handle of a driver pointer (NULL stays 0).
    pub(crate) fn os_handle(&self, driver: usize) -> Handle {
        if driver == 0 {
            return Handle(0);
        }
        let mut map = self.inner.pointers.borrow_mut();
        if let Some(h) = map.to_os.get(&driver) {
            return *h;
        }
        let h = Handle(0xD000 + 0x10 * map.next);
        map.next += 1;
        map.to_os.insert(driver, h);
        map.to_driver.insert(h, driver);
        h
    }

    /// The driver destroyed the context behind `os`: a later context gets a handle of its own
    /// even if the heap gives it the same address (whether it does depends on allocations of
    /// other threads, so reusing the old handle would make traces depend on timing).
    /// The old handle still leads to the old pointer (a late call with it reaches the driver as
    /// the OS gave it).
    pub(crate) fn forget_handle(&self, os: Handle) {
        let mut map = self.inner.pointers.borrow_mut();
        if let Some(driver) = map.to_driver.get(&os).copied()
            && map.to_os.get(&driver) == Some(&os)
        {
            map.to_os.remove(&driver);
        }
    }

    /// The driver pointer behind an OS-visible handle (an unknown handle passes through, so a
    /// wrong handle reaches the driver as the OS gave it).
    pub(crate) fn driver_value(&self, os: Handle) -> usize {
        self.inner
            .pointers
            .borrow()
            .to_driver
            .get(&os)
            .copied()
            .unwrap_or(os.0 as usize)
    }

    pub(crate) fn add_pump(&self, pump: Rc<dyn Pump>) {
        self.inner.pumps.borrow_mut().push(pump);
    }

    pub(crate) fn remove_pump(&self, pump: &Rc<dyn Pump>) {
        self.inner
            .pumps
            .borrow_mut()
            .retain(|p| !Rc::ptr_eq(p, pump));
    }

    pub(crate) fn journal(&self, line: String) {
        let thread = self.inner.sched.try_current();
        let who = thread.map_or_else(
            || "-".to_owned(),
            |t| format!("t{t} {}", self.inner.sched.thread_name(t)),
        );
        let line = format!("{who}: {line}");
        super::isolate::stream_journal_line(&line);
        let mut j = self.inner.journal.borrow_mut();
        if j.len() == JOURNAL_LEN {
            j.pop_front();
        }
        j.push_back(line);
    }

    fn pump_all(&self) -> bool {
        let pumps: Vec<Rc<dyn Pump>> = self.inner.pumps.borrow().clone();
        pumps.iter().fold(false, |any, p| p.pump() | any)
    }

    /// Runs `job` (which calls the driver) on the real thread of the current simulated thread,
    /// serving its callbacks, and returns what the driver returned.
    ///
    /// A driver that never returns (a hang past the wall-clock safety net, a panic in the
    /// bridge, or a driver that stopped responding earlier in the run) never returns here
    /// either: the simulated thread stays blocked inside the DDI, as the OS thread would on
    /// Windows, and the run reports the fault and the blocked thread. The bridge never makes up
    /// a status for the driver.
    pub(crate) async fn call<R: Send + 'static>(
        &self,
        ddi: Ddi,
        job: impl FnOnce() -> R + Send + 'static,
    ) -> R {
        if self.inner.poisoned.get() {
            self.note(format!(
                "{} not called: the driver stopped responding earlier in this run",
                ddi.name()
            ));
            return self.never_returns(ddi.name()).await;
        }
        self.serve_foreign().await;
        let thread = self.inner.sched.current();
        let Some(real) = self.real_thread(thread) else {
            return self.never_returns(ddi.name()).await;
        };
        self.journal(format!("enter {}", ddi.name()));
        let job: Job = Box::new(move || {
            DDI_STACK.with(|d| d.borrow_mut().push(ddi));
            let result = job();
            DDI_STACK.with(|d| d.borrow_mut().pop());
            Box::new(result) as Payload
        });
        super::kernel::ddi_entered(self, ddi);
        let Some(payload) = self.drive(thread, Some(ddi), &real, job).await else {
            return self.never_returns(ddi.name()).await;
        };
        super::kernel::ddi_left(self, ddi);
        self.journal(format!("leave {}", ddi.name()));
        match payload.downcast::<R>() {
            Ok(r) => *r,
            Err(_) => {
                // `pthread_exit` on a thread the OS called the driver on.
                self.note(format!(
                    "the driver called pthread_exit inside {} on an OS thread",
                    ddi.name()
                ));
                self.never_returns(ddi.name()).await
            }
        }
    }

    /// Blocks the current simulated thread for good: the driver never returned from `what`.
    async fn never_returns<R>(&self, what: &str) -> R {
        let never = SimEvent::new(
            &self.inner.sched,
            format!("the driver to return from {what}"),
            false,
        );
        loop {
            never.wait(None).await;
        }
    }

    /// Hands `job` to `real` and serves what comes back until the job returns. `None` when the
    /// driver hung or the real thread is gone (a fault was recorded).
    async fn drive(
        &self,
        thread: ThreadId,
        ddi: Option<Ddi>,
        real: &RealThread,
        job: Job,
    ) -> Option<Payload> {
        self.publish_now();
        if real.down.send(Down::Call(job)).is_err() {
            self.fault_panic(thread, ddi, "the real thread is gone".to_owned());
            return None;
        }
        // With an RTSP relay active the driver may be waiting for sink bytes only the relay
        // moves, so poll it often; otherwise the tick only bounds hang detection latency and
        // serves callbacks from threads the driver started behind the simulator's back.
        let tick = if self.inner.pumps.borrow().is_empty() {
            Duration::from_millis(1)
        } else {
            Duration::from_micros(50)
        };
        let mut last_progress = Instant::now();
        loop {
            let message = match spin_for(&real.up) {
                Some(m) => Ok(m),
                None => real.up.recv_timeout(tick),
            };
            if message.is_ok() {
                // What the driver's code touched since it got the turn, under this thread's
                // happens-before as of now (it does not change while the driver holds the turn).
                super::kernel::check_accesses(self);
            }
            match message {
                Ok(Up::Returned(payload)) => {
                    self.check_message_buffers();
                    self.pump_all();
                    return Some(payload);
                }
                Ok(Up::Callback(CallbackRequest::Hook(HookRequest::Exit { value }))) => {
                    // The thread ends here; its real thread parks (it never answers again).
                    self.journal("pthread_exit".to_owned());
                    self.inner.threads.borrow_mut().remove(&thread);
                    return Some(Box::new(value));
                }
                Ok(Up::Callback(request)) => {
                    self.check_message_buffers();
                    if !matches!(request, CallbackRequest::Hook(_)) {
                        self.journal(format!("callback {}", request_name(&request)));
                    }
                    let reply = Box::pin(self.serve(request)).await;
                    self.publish_now();
                    if real.down.send(Down::Reply(reply)).is_err() {
                        self.fault_panic(thread, ddi, "the real thread is gone".to_owned());
                        return None;
                    }
                    last_progress = Instant::now();
                }
                Ok(Up::Panicked(text)) => {
                    self.fault_panic(thread, ddi, text);
                    return None;
                }
                Err(RecvTimeoutError::Timeout) => {
                    super::isolate::flush_protocol();
                    if self.pump_all() {
                        last_progress = Instant::now();
                    }
                    if self.serve_foreign().await {
                        last_progress = Instant::now();
                    }
                    let waited = last_progress.elapsed();
                    if waited >= self.inner.config.hang_timeout {
                        self.fault_hang(thread, ddi, waited);
                        return None;
                    }
                }
                Err(RecvTimeoutError::Disconnected) => {
                    self.fault_panic(thread, ddi, "the real thread ended".to_owned());
                    return None;
                }
            }
        }
    }

    /// Virtual time as real threads read it (it does not move while one of them runs).
    fn publish_now(&self) {
        self.inner
            .shared
            .now_us
            .store(self.inner.sched.now().as_micros(), Ordering::SeqCst);
    }

    fn real_thread(&self, thread: ThreadId) -> Option<Rc<RealThread>> {
        if let Some(t) = self.inner.threads.borrow().get(&thread) {
            return Some(t.clone());
        }
        let name = self.inner.sched.thread_name(thread);
        match RealThread::spawn(
            &format!("t{thread} {name}"),
            self.inner.config.stack_size,
            self.inner.shared.clone(),
        ) {
            Ok((t, _)) => {
                let t = Rc::new(t);
                self.inner.threads.borrow_mut().insert(thread, t.clone());
                Some(t)
            }
            Err(e) => {
                self.note(format!("cannot start a real thread for {name}: {e}"));
                None
            }
        }
    }

    pub(crate) fn note(&self, text: String) {
        self.inner.sched.emit(EventKind::Note { text });
    }

    fn fault_hang(&self, thread: ThreadId, ddi: Option<Ddi>, waited: Duration) {
        let name = self.inner.sched.thread_name(thread);
        // The real thread is stuck in driver code: forget it (it keeps the memory its job owns)
        // and call nothing else in this driver.
        self.inner.threads.borrow_mut().remove(&thread);
        self.inner.poisoned.set(true);
        let fault = DriverFault {
            kind: DriverFaultKind::Hang {
                waited_ms: waited.as_millis() as u64,
            },
            thread: name,
            ddi: ddi.map(|d| d.name().to_owned()),
            detail: "the driver blocked outside the simulator's control while holding the turn (a wait on something the simulator does not model, or an endless loop)".to_owned(),
            last_events: self.last_events(),
        };
        self.note(fault.to_string());
        self.inner.faults.borrow_mut().push(fault);
    }

    fn fault_panic(&self, thread: ThreadId, ddi: Option<Ddi>, text: String) {
        let name = self.inner.sched.thread_name(thread);
        self.inner.threads.borrow_mut().remove(&thread);
        self.inner.poisoned.set(true);
        let fault = DriverFault {
            kind: DriverFaultKind::Crash {
                code: None,
                name: "bridge panic".to_owned(),
            },
            thread: name,
            ddi: ddi.map(|d| d.name().to_owned()),
            detail: text,
            last_events: self.last_events(),
        };
        self.note(fault.to_string());
        self.inner.faults.borrow_mut().push(fault);
    }

    /// The OS unloads `side` ("umd"): its threads freeze at their next C library call.
    pub(crate) fn set_unloaded(&self, side: &'static str, unloaded: bool) {
        let mut u = self.inner.unloaded.borrow_mut();
        if unloaded {
            u.insert(side);
        } else {
            u.remove(side);
        }
    }

    /// A thread the driver created stops at its next wait once its driver is unloaded, or once
    /// a call into the driver hung (nothing it waits for can be trusted to come any more).
    fn is_frozen(&self, thread: ThreadId) -> bool {
        let side = self.inner.hooks.borrow().sides.get(&thread).copied();
        side.is_some_and(|s| self.inner.poisoned.get() || self.inner.unloaded.borrow().contains(s))
    }

    /// A thread the driver created that is about to wait (sleep, block, join, create a thread)
    /// after the OS unloaded its driver stops here for good: on Windows its code is gone. Until
    /// then it runs on, so what it does after Destroy (a callback: R36) is still seen.
    async fn freeze_if_unloaded(&self, what: &str) {
        let thread = self.inner.sched.current();
        if !self.is_frozen(thread) {
            return;
        }
        let name = self.inner.sched.thread_name(thread);
        self.note(if self.inner.poisoned.get() {
            format!(
                "{name} (t{thread}) is frozen at its {what}: a call into the driver hung earlier in this run"
            )
        } else {
            format!(
                "{name} (t{thread}) still runs the driver's code after the OS unloaded it (the last DestroyMiracastContext returned); the thread is frozen at its {what}"
            )
        });
        self.never_returns("code the OS unloaded").await
    }

    /// From now on a callback from a thread the simulator does not know (a library destructor
    /// at unload) is refused at once instead of waiting for a run that is over.
    pub(crate) fn close_foreign(&self) {
        self.inner.foreign.closed.store(true, Ordering::SeqCst);
    }

    /// Registers the RTSP socket `fd` for interposed calls.
    pub(crate) fn add_socket(&self, fd: i32, socket: Rc<dyn SimSocket>) {
        self.inner.sockets.borrow_mut().insert(fd, socket);
        if let Ok(mut s) = self.inner.shared.rtsp.lock() {
            s.insert(fd);
        }
    }

    /// Forgets the RTSP socket `fd` (the OS closed it, or the driver did).
    pub(crate) fn remove_socket(&self, fd: i32) {
        self.inner.sockets.borrow_mut().remove(&fd);
        if let Ok(mut s) = self.inner.shared.rtsp.lock() {
            s.remove(&fd);
        }
    }

    /// The threads the driver created so far, in creation order.
    pub fn driver_threads(&self) -> Vec<DriverThreadInfo> {
        let hooks = self.inner.hooks.borrow();
        let mut all: Vec<DriverThreadInfo> = hooks
            .threads
            .values()
            .map(|t| DriverThreadInfo {
                name: t.name.clone(),
                thread: t.sim,
                ended: t.value.get().is_some(),
            })
            .collect();
        all.sort_by_key(|t| t.thread);
        all
    }

    /// Which driver the current simulated thread runs: the innermost driver DDI it is inside,
    /// or, for a thread the driver created, the driver that created it.
    fn side_of_current(&self) -> &'static str {
        let cur = self.inner.sched.current();
        if let Some(side) = self.inner.hooks.borrow().sides.get(&cur) {
            return side;
        }
        self.inner
            .sched
            .frames(cur)
            .iter()
            .rev()
            .find_map(|d| match d.direction() {
                Direction::OsToUmd => Some("umd"),
                Direction::OsToKmd => Some("kmd"),
                _ => None,
            })
            .unwrap_or("driver")
    }

    /// `pthread_create`: a new simulated thread named after the start routine, with a real
    /// thread of its own; the driver gets that real thread's id.
    async fn spawn_driver_thread(
        &self,
        routine: extern "C" fn(*mut libc::c_void) -> *mut libc::c_void,
        arg: usize,
    ) -> HookReply {
        let side = self.side_of_current();
        let base = format!("{side}-{}", super::interpose::symbol_name(routine as usize));
        let name = {
            let mut hooks = self.inner.hooks.borrow_mut();
            let n = hooks.names.entry(base.clone()).or_insert(0);
            *n += 1;
            if *n == 1 { base } else { format!("{base}-{n}") }
        };
        let done = SimEvent::new(&self.inner.sched, format!("end of {name}"), false);
        let value = Rc::new(Cell::new(None));
        let (rt, done2, value2) = (self.clone(), done.clone(), value.clone());
        let arg = AssertSend(arg);
        let sim = self.inner.sched.spawn(name.clone(), true, async move {
            let thread = rt.inner.sched.current();
            let Some(real) = rt.real_thread(thread) else {
                return;
            };
            let job: Job = Box::new(move || {
                let arg = arg;
                Box::new(routine(arg.0 as *mut libc::c_void) as usize) as Payload
            });
            let Some(out) = rt.drive(thread, None, &real, job).await else {
                return rt.never_returns("a thread routine").await;
            };
            let v = out.downcast::<usize>().map(|b| *b).unwrap_or(0);
            rt.journal("thread routine returned".to_owned());
            value2.set(Some(v));
            done2.set();
        });
        let real = match RealThread::spawn(
            &format!("t{sim} {name}"),
            self.inner.config.stack_size,
            self.inner.shared.clone(),
        ) {
            Ok((t, id)) => (Rc::new(t), id),
            Err(e) => {
                self.note(format!("cannot start a real thread for {name}: {e}"));
                return HookReply::Errno(libc::EAGAIN);
            }
        };
        self.inner.threads.borrow_mut().insert(sim, real.0);
        if let Ok(mut ids) = bridge_pthreads().lock() {
            ids.insert(real.1);
        }
        {
            let mut hooks = self.inner.hooks.borrow_mut();
            hooks.sides.insert(sim, side);
            hooks.threads.insert(
                real.1,
                DriverThread {
                    sim,
                    name: name.clone(),
                    done,
                    value,
                    detached: false,
                },
            );
        }
        self.journal(format!("pthread_create: t{sim} {name}"));
        // Thread creation is a choice point: the new thread may run first.
        self.inner.sched.yield_now().await;
        HookReply::Value(real.1)
    }

    /// Answers one interposed C library call.
    async fn serve_hook(&self, request: HookRequest) -> HookReply {
        let sched = self.inner.sched.clone();
        match request {
            HookRequest::Spawn { routine, arg } => {
                self.freeze_if_unloaded("pthread_create").await;
                self.spawn_driver_thread(routine, arg).await
            }
            HookRequest::Join { thread } => {
                let target = self.inner.hooks.borrow().threads.get(&thread).cloned();
                let Some(t) = target else {
                    return HookReply::Unknown;
                };
                if t.sim == sched.current() {
                    return HookReply::Errno(libc::EDEADLK);
                }
                if t.detached {
                    return HookReply::Errno(libc::EINVAL);
                }
                if t.value.get().is_none() {
                    self.freeze_if_unloaded("pthread_join").await;
                }
                t.done.wait(None).await;
                HookReply::Value(t.value.get().unwrap_or(0) as u64)
            }
            HookRequest::Detach { thread } => {
                match self.inner.hooks.borrow_mut().threads.get_mut(&thread) {
                    Some(t) => {
                        t.detached = true;
                        HookReply::Done
                    }
                    None => HookReply::Unknown,
                }
            }
            // Handled by `drive` (the thread ends); never served.
            HookRequest::Exit { .. } => HookReply::Done,
            HookRequest::Sleep { micros } => {
                self.freeze_if_unloaded("sleep").await;
                if micros == 0 {
                    sched.yield_now().await;
                } else {
                    sched.sleep(Duration::from_micros(micros)).await;
                }
                HookReply::Done
            }
            HookRequest::Yield => {
                self.freeze_if_unloaded("sched_yield").await;
                sched.yield_now().await;
                HookReply::Done
            }
            HookRequest::MutexWait { addr } => {
                self.freeze_if_unloaded("pthread_mutex_lock").await;
                let ev = SimEvent::new(&sched, format!("driver mutex {addr:#x}"), false);
                self.inner
                    .hooks
                    .borrow_mut()
                    .mutex_waiters
                    .entry(addr)
                    .or_default()
                    .push(ev.clone());
                if let Ok(mut m) = self.inner.shared.mutex_waiters.lock() {
                    *m.entry(addr).or_insert(0) += 1;
                }
                ev.wait(None).await;
                HookReply::Done
            }
            HookRequest::MutexWake { addr } => {
                let waiters = self
                    .inner
                    .hooks
                    .borrow_mut()
                    .mutex_waiters
                    .remove(&addr)
                    .unwrap_or_default();
                if let Ok(mut m) = self.inner.shared.mutex_waiters.lock() {
                    m.remove(&addr);
                }
                for w in &waiters {
                    w.set();
                }
                sched.yield_now().await;
                HookReply::Done
            }
            HookRequest::CondWait { cond, timeout_us } => {
                self.freeze_if_unloaded("pthread_cond_wait").await;
                let ev = SimEvent::new(&sched, format!("driver condition {cond:#x}"), false);
                self.inner
                    .hooks
                    .borrow_mut()
                    .cond_waiters
                    .entry(cond)
                    .or_default()
                    .push_back(ev.clone());
                let woken = ev.wait(timeout_us.map(Duration::from_micros)).await;
                if woken {
                    HookReply::Done
                } else {
                    let id = ev.id();
                    if let Some(q) = self.inner.hooks.borrow_mut().cond_waiters.get_mut(&cond) {
                        q.retain(|w| w.id() != id);
                    }
                    HookReply::TimedOut
                }
            }
            HookRequest::CondWake { cond, all } => {
                let woken: Vec<SimEvent> = {
                    let mut hooks = self.inner.hooks.borrow_mut();
                    match hooks.cond_waiters.get_mut(&cond) {
                        Some(q) if all => q.drain(..).collect(),
                        Some(q) => q.pop_front().into_iter().collect(),
                        None => Vec::new(),
                    }
                };
                for w in &woken {
                    w.set();
                }
                sched.yield_now().await;
                HookReply::Done
            }
            HookRequest::SocketSend { fd, bytes } => {
                let socket = self.inner.sockets.borrow().get(&fd).cloned();
                match socket {
                    Some(s) => match s.send(bytes).await {
                        Ok(n) => HookReply::Value(n as u64),
                        Err(e) => HookReply::Errno(e),
                    },
                    None => HookReply::Errno(libc::EBADF),
                }
            }
            HookRequest::SocketRecv {
                fd,
                max,
                peek,
                nonblocking,
                timeout_us,
            } => {
                let socket = self.inner.sockets.borrow().get(&fd).cloned();
                let Some(s) = socket else {
                    return HookReply::Errno(libc::EBADF);
                };
                let deadline = timeout_us.map(|t| sched.now() + Duration::from_micros(t));
                loop {
                    let (data, eof) = s.state();
                    if data {
                        return HookReply::Bytes(s.take(max, peek));
                    }
                    if eof || max == 0 {
                        return HookReply::Bytes(Vec::new());
                    }
                    if nonblocking {
                        sched.sleep(POLL_QUANTUM).await;
                        return HookReply::Errno(libc::EAGAIN);
                    }
                    let left = deadline.map(|d| d - sched.now());
                    if left != Some(Duration::ZERO) {
                        self.freeze_if_unloaded("recv").await;
                    }
                    if left == Some(Duration::ZERO) || !s.readable().wait(left).await {
                        return HookReply::Errno(libc::EAGAIN);
                    }
                }
            }
            HookRequest::SocketClose { fd } => {
                let socket = self.inner.sockets.borrow().get(&fd).cloned();
                self.remove_socket(fd);
                if let Some(s) = socket {
                    s.closed_by_driver();
                }
                HookReply::Done
            }
            HookRequest::Poll { fds, timeout_us } => self.poll(fds, timeout_us).await,
            HookRequest::FdActivity => {
                let waiters = std::mem::take(&mut self.inner.hooks.borrow_mut().fd_waiters);
                for w in &waiters {
                    w.set();
                }
                sched.yield_now().await;
                HookReply::Done
            }
            HookRequest::Kernel(call) => super::kernel::serve(self, call).await,
        }
    }

    /// `poll`: RTSP sockets are ready from the link's state, other descriptors from a real poll
    /// with no timeout; when nothing is ready, waits in virtual time for link bytes, a write
    /// of any descriptor by a simulated thread, or the timeout.
    async fn poll(&self, fds: Vec<(i32, i16)>, timeout_us: Option<u64>) -> HookReply {
        let sched = self.inner.sched.clone();
        let deadline: Option<SimTime> = timeout_us.map(|t| sched.now() + Duration::from_micros(t));
        loop {
            let sockets: Vec<Option<Rc<dyn SimSocket>>> = {
                let all = self.inner.sockets.borrow();
                fds.iter().map(|(fd, _)| all.get(fd).cloned()).collect()
            };
            let mut real: Vec<PollEntry> = fds
                .iter()
                .zip(&sockets)
                .map(|((fd, events), s)| PollEntry {
                    fd: if s.is_some() { -1 } else { *fd },
                    events: *events,
                    revents: 0,
                })
                .collect();
            platform::poll_now(&mut real);
            let revents: Vec<i16> = fds
                .iter()
                .zip(&sockets)
                .zip(&real)
                .map(|(((_, events), s), p)| match s {
                    Some(s) => {
                        let (data, eof) = s.state();
                        let mut r = *events & POLL_OUT;
                        if data || eof {
                            r |= *events & POLL_IN;
                        }
                        if eof {
                            r |= POLL_HUP;
                        }
                        r
                    }
                    None if p.fd >= 0 => p.revents,
                    None => 0,
                })
                .collect();
            let left = deadline.map(|d| d - sched.now());
            if revents.iter().any(|r| *r != 0) {
                return HookReply::Revents(revents);
            }
            if left == Some(Duration::ZERO) {
                if timeout_us == Some(0) {
                    // A poll that does not wait still costs a little time, so a driver that
                    // polls in a loop lets virtual time (and the sink's timers) move.
                    sched.sleep(POLL_QUANTUM).await;
                }
                return HookReply::Revents(revents);
            }
            self.freeze_if_unloaded("poll").await;
            let activity = SimEvent::new(&sched, "descriptor activity", false);
            self.inner
                .hooks
                .borrow_mut()
                .fd_waiters
                .push(activity.clone());
            self.inner.shared.fd_waiters.fetch_add(1, Ordering::SeqCst);
            let readable: Vec<SimEvent> = sockets.iter().flatten().map(|s| s.readable()).collect();
            let mut events: Vec<&SimEvent> = readable.iter().collect();
            events.push(&activity);
            let woke = wait_any(&sched, &events, left).await;
            self.inner.shared.fd_waiters.fetch_sub(1, Ordering::SeqCst);
            let id = activity.id();
            self.inner
                .hooks
                .borrow_mut()
                .fd_waiters
                .retain(|w| w.id() != id);
            if woke.is_none() {
                return HookReply::Revents(vec![0; fds.len()]);
            }
        }
    }

    /// Serves callbacks from the driver's own threads. True when it served any.
    async fn serve_foreign(&self) -> bool {
        let mut any = false;
        loop {
            let next = self
                .inner
                .foreign
                .queue
                .lock()
                .ok()
                .and_then(|mut q| q.pop_front());
            let Some((request, reply_to)) = next else {
                return any;
            };
            any = true;
            self.journal(format!(
                "callback {} from a thread the driver created",
                request_name(&request)
            ));
            let reply = Box::pin(self.serve(request)).await;
            let _ = reply_to.send(reply);
        }
    }

    /// R26 for real buffers: a message's input buffer must stay as it was sent until the
    /// completion routine has run. A changed (freed, reused or poisoned) buffer is marked
    /// released, so the OS model reports the use after release when it next touches it.
    pub(crate) fn check_message_buffers(&self) {
        let mut changed = Vec::new();
        {
            let mut services = self.inner.services.borrow_mut();
            for (id, m) in services.messages.iter_mut() {
                if m.released_noted || m.buffers.input.is_empty() {
                    continue;
                }
                let now = platform::read_memory(m.input_ptr, m.buffers.input.len());
                if now.as_deref() != Some(&m.buffers.input[..]) {
                    m.buffers.release();
                    m.released_noted = true;
                    changed.push(*id);
                }
            }
        }
        for id in changed {
            self.note(format!(
                "the KMD's input buffer of DxgkCbMiracastSendMessage message {id} changed before its completion routine ran (freed or reused): the OS treats the buffers as released"
            ));
        }
    }

    /// Answers one callback by awaiting the OS model's service.
    async fn serve(&self, request: CallbackRequest) -> CallbackReply {
        if !matches!(request, CallbackRequest::Hook(_)) {
            super::kernel::callback_made(self, request_name(&request));
        }
        match request {
            CallbackRequest::Hook(hook) => CallbackReply::Hook(self.serve_hook(hook).await),
            CallbackRequest::UnknownHandle(what, value) => {
                self.note(format!(
                    "the driver called {what} with a handle the OS never gave out ({value:#x})"
                ));
                CallbackReply::Status(NtStatus::STATUS_INVALID_HANDLE)
            }
            CallbackRequest::Unsupported(what) => {
                self.note(what);
                CallbackReply::Status(NtStatus::STATUS_NOT_SUPPORTED)
            }
            CallbackRequest::ReportSessionStatus {
                device,
                status,
                raw_status,
                diagnostic,
            } => {
                let Some(s) = self.umd_services(device) else {
                    return CallbackReply::Refused;
                };
                match status {
                    Some(status) => s.report_session_status(device, status, diagnostic).await,
                    None => self.note(format!(
                        "ReportSessionStatus with MIRACAST_STATUS {raw_status}, which is not a documented value; ignored"
                    )),
                }
                CallbackReply::Unit
            }
            CallbackRequest::MiracastIoControl {
                device,
                hardware_access,
                input,
                output_size,
            } => {
                let Some(s) = self.umd_services(device) else {
                    return CallbackReply::Refused;
                };
                let mut output = vec![0u8; output_size as usize];
                let (status, bytes_returned) = s
                    .miracast_io_control(device, hardware_access, &input, &mut output)
                    .await;
                CallbackReply::IoControl {
                    status,
                    output,
                    bytes_returned,
                }
            }
            CallbackRequest::ReportStatistic { device, data } => {
                let Some(s) = self.umd_services(device) else {
                    return CallbackReply::Refused;
                };
                match data {
                    Some(data) => s.report_statistic(device, data).await,
                    None => self.note(
                        "ReportStatistic with an undocumented StatisticType; ignored".to_owned(),
                    ),
                }
                CallbackReply::Unit
            }
            CallbackRequest::GetNextChunkData {
                device,
                timeout_ms,
                event_count,
                buffer_size,
            } => {
                let Some(s) = self.umd_services(device) else {
                    return CallbackReply::Refused;
                };
                if event_count > 0 {
                    self.note(format!(
                        "GetNextChunkData with {event_count} additional wait events: real event handles are not modelled, the call waits on the chunk queue only"
                    ));
                }
                CallbackReply::Chunks(
                    s.get_next_chunk_data(device, timeout_ms, &[], buffer_size)
                        .await,
                )
            }
            CallbackRequest::RegisterForDataRateNotifications {
                device,
                context,
                routine,
            } => {
                let Some(s) = self.umd_services(device) else {
                    return CallbackReply::Refused;
                };
                let status = match routine {
                    Some(_) => {
                        let handle = self.os_handle(context);
                        let status = s
                            .register_for_data_rate_notifications(device, Some(handle))
                            .await;
                        if status == NtStatus::STATUS_SUCCESS {
                            self.inner
                                .services
                                .borrow_mut()
                                .data_rate
                                .insert(handle.0, routine);
                        }
                        status
                    }
                    None => s.register_for_data_rate_notifications(device, None).await,
                };
                CallbackReply::Status(status)
            }
            CallbackRequest::IndicateChildStatus(status) => {
                let Some(d) = self.dxgkrnl() else {
                    return CallbackReply::Refused;
                };
                CallbackReply::Status(d.indicate_child_status(status).await)
            }
            CallbackRequest::NotifyInterrupt(data) => {
                let Some(d) = self.dxgkrnl() else {
                    return CallbackReply::Refused;
                };
                CallbackReply::Status(d.notify_interrupt(data).await)
            }
            CallbackRequest::NotifyDpc | CallbackRequest::QueueDpc => {
                let Some(d) = self.dxgkrnl() else {
                    return CallbackReply::Refused;
                };
                d.notify_dpc().await;
                CallbackReply::Unit
            }
            CallbackRequest::SendMessage {
                handle,
                input,
                input_ptr,
                output_ptr,
                output_size,
                routine,
                routine_context,
            } => {
                let Some(s) = self.display_services(handle) else {
                    return CallbackReply::Refused;
                };
                let buffers = MessageBuffers::new(input, output_size as usize);
                let id = {
                    let mut sv = self.inner.services.borrow_mut();
                    let id = sv.next_message;
                    sv.next_message += 1;
                    sv.messages.insert(
                        id,
                        SentMessage {
                            buffers: buffers.clone(),
                            input_ptr,
                            output_ptr,
                            output_size,
                            routine,
                            routine_context,
                            released_noted: false,
                        },
                    );
                    id
                };
                let status = s
                    .send_message(handle, buffers, routine.map(|_| Handle(id)))
                    .await;
                if status != NtStatus::STATUS_PENDING || routine.is_none() {
                    // Not accepted, or no completion routine: nothing will come back for it.
                    self.inner.services.borrow_mut().messages.remove(&id);
                }
                CallbackReply::Status(status)
            }
            CallbackRequest::ReportChunkInfo {
                handle,
                info,
                private_driver_data,
            } => {
                let Some(s) = self.display_services(handle) else {
                    return CallbackReply::Refused;
                };
                CallbackReply::Status(s.report_chunk_info(handle, info, private_driver_data).await)
            }
        }
    }

    fn umd_services(&self, device: Handle) -> Option<Rc<dyn MiracastUmdServices>> {
        let s = self.inner.services.borrow().umd.get(&device).cloned();
        if s.is_none() {
            self.note(format!(
                "a UMD callback named device handle {:#x}, which has no context",
                device.0
            ));
        }
        s
    }

    fn dxgkrnl(&self) -> Option<Rc<dyn DxgkrnlServices>> {
        let s = self.inner.services.borrow().dxgkrnl.clone();
        if s.is_none() {
            self.note("a KMD callback arrived before DxgkDdiStartDevice".to_owned());
        }
        s
    }

    fn display_services(&self, handle: Handle) -> Option<Rc<dyn MiracastDisplayServices>> {
        let s = self.inner.services.borrow().display.get(&handle).cloned();
        if s.is_none() {
            self.note(format!(
                "a Miracast callback named MiracastHandle {:#x}, which has no context",
                handle.0
            ));
        }
        s
    }
}

impl Drop for RuntimeInner {
    fn drop(&mut self) {
        self.foreign.closed.store(true, Ordering::SeqCst);
        if let Ok(mut q) = self.foreign.queue.lock() {
            for (_, reply) in q.drain(..) {
                let _ = reply.send(CallbackReply::Refused);
            }
        }
        if let Ok(mut t) = handle_table().lock() {
            for h in self.driver_handles.borrow().iter() {
                t.remove(h);
            }
        }
        // Dropping the channels ends every idle real thread; a thread stuck in driver code
        // stays stuck (it was reported) and is not joined.
        self.threads.borrow_mut().clear();
    }
}

fn request_name(request: &CallbackRequest) -> &'static str {
    match request {
        CallbackRequest::ReportSessionStatus { .. } => "ReportSessionStatus",
        CallbackRequest::MiracastIoControl { .. } => "MiracastIoControl",
        CallbackRequest::ReportStatistic { .. } => "ReportStatistic",
        CallbackRequest::GetNextChunkData { .. } => "GetNextChunkData",
        CallbackRequest::RegisterForDataRateNotifications { .. } => {
            "RegisterForDataRateNotifications"
        }
        CallbackRequest::IndicateChildStatus(_) => "DxgkCbIndicateChildStatus",
        CallbackRequest::NotifyInterrupt(_) => "DxgkCbNotifyInterrupt",
        CallbackRequest::NotifyDpc => "DxgkCbNotifyDpc",
        CallbackRequest::QueueDpc => "DxgkCbQueueDpc",
        CallbackRequest::SendMessage { .. } => "DxgkCbMiracastSendMessage",
        CallbackRequest::ReportChunkInfo { .. } => "DxgkCbReportChunkInfo",
        CallbackRequest::UnknownHandle(what, _) => what,
        CallbackRequest::Unsupported(_) => "an unsupported callback",
        CallbackRequest::Hook(_) => "a C library call",
    }
}

/// The innermost DDI the current real thread is running (`None` on a thread the driver
/// created).
pub(crate) fn current_ddi() -> Option<Ddi> {
    DDI_STACK.with(|d| d.borrow().last().copied())
}
