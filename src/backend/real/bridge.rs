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
use crate::sched::{Sched, ThreadId};
use crate::status::NtStatus;
use crate::trace::EventKind;
use std::any::Any;
use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, VecDeque};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
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
}

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
    /// The runtime is gone or refused the call.
    Refused,
}

impl CallbackReply {
    pub(crate) fn status(&self) -> NtStatus {
        match self {
            CallbackReply::Status(s) => *s,
            CallbackReply::IoControl { status, .. } => *status,
            CallbackReply::Chunks(c) => c.status,
            CallbackReply::Unit => NtStatus::STATUS_SUCCESS,
            CallbackReply::Refused => NtStatus::STATUS_INVALID_DEVICE_STATE,
        }
    }
}

/// The channels of the real thread the current OS thread is (set on real threads only).
struct Link {
    up: Sender<Up>,
    down: Receiver<Down>,
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
    let link = LINK.with(|l| l.borrow().clone());
    if let Some(link) = link {
        if link.up.send(Up::Callback(request)).is_err() {
            return CallbackReply::Refused;
        }
        return serve_down(&link).unwrap_or(CallbackReply::Refused);
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
        match link.down.recv() {
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
    fn spawn(name: &str, stack_size: usize) -> std::io::Result<RealThread> {
        let (down_tx, down_rx) = mpsc::channel::<Down>();
        let (up_tx, up_rx) = mpsc::channel::<Up>();
        let registered = name.to_owned();
        std::thread::Builder::new()
            .name(format!("driver:{name}"))
            .stack_size(stack_size)
            .spawn(move || {
                super::isolate::register_driver_thread(&registered);
                let link = Rc::new(Link {
                    up: up_tx,
                    down: down_rx,
                });
                LINK.with(|l| *l.borrow_mut() = Some(link.clone()));
                let _ = serve_down(&link);
                LINK.with(|l| *l.borrow_mut() = None);
            })?;
        Ok(RealThread {
            down: down_tx,
            up: up_rx,
        })
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
}

/// Driver pointers (contexts) as the OS model sees them: stable small handles, so that traces
/// do not depend on where the C heap put things.
#[derive(Default)]
struct PointerMap {
    to_os: BTreeMap<usize, Handle>,
    to_driver: BTreeMap<Handle, usize>,
}

/// The runtime shared by a loaded UMD and KMD: their real threads, the services their
/// trampolines reach, and the faults found. Cheap to clone.
#[derive(Clone)]
pub struct RealRuntime {
    pub(crate) inner: Rc<RuntimeInner>,
}

/// Bridge events kept for fault reports.
const JOURNAL_LEN: usize = 64;

impl RealRuntime {
    /// A runtime on `sched`.
    pub fn new(sched: &Sched, config: BridgeConfig) -> Self {
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
            }),
        }
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
        let h = Handle(0xD000 + 0x10 * map.to_os.len() as u64);
        map.to_os.insert(driver, h);
        map.to_driver.insert(h, driver);
        h
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
    /// serving its callbacks. `None` when the runtime is poisoned or the driver hung.
    pub(crate) async fn call<R: Send + 'static>(
        &self,
        ddi: Ddi,
        job: impl FnOnce() -> R + Send + 'static,
    ) -> Option<R> {
        if self.inner.poisoned.get() {
            self.note(format!(
                "{} not called: the driver stopped responding earlier in this run",
                ddi.name()
            ));
            return None;
        }
        self.serve_foreign().await;
        let thread = self.inner.sched.current();
        let real = self.real_thread(thread)?;
        self.journal(format!("enter {}", ddi.name()));
        let job: Job = Box::new(move || {
            DDI_STACK.with(|d| d.borrow_mut().push(ddi));
            let result = job();
            DDI_STACK.with(|d| d.borrow_mut().pop());
            Box::new(result) as Payload
        });
        if real.down.send(Down::Call(job)).is_err() {
            self.fault_panic(thread, ddi, "the real thread is gone".to_owned());
            return None;
        }
        // With an RTSP relay active the driver may be waiting for sink bytes only the relay
        // moves, so poll it often; otherwise the tick only bounds hang detection latency.
        let tick = if self.inner.pumps.borrow().is_empty() {
            Duration::from_millis(1)
        } else {
            Duration::from_micros(50)
        };
        let mut last_progress = Instant::now();
        loop {
            match real.up.recv_timeout(tick) {
                Ok(Up::Returned(payload)) => {
                    self.check_message_buffers();
                    self.pump_all();
                    self.journal(format!("leave {}", ddi.name()));
                    return payload.downcast::<R>().ok().map(|b| *b);
                }
                Ok(Up::Callback(request)) => {
                    self.check_message_buffers();
                    self.journal(format!("callback {}", request_name(&request)));
                    let reply = Box::pin(self.serve(request)).await;
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

    fn real_thread(&self, thread: ThreadId) -> Option<Rc<RealThread>> {
        if let Some(t) = self.inner.threads.borrow().get(&thread) {
            return Some(t.clone());
        }
        let name = self.inner.sched.thread_name(thread);
        match RealThread::spawn(&name, self.inner.config.stack_size) {
            Ok(t) => {
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

    fn fault_hang(&self, thread: ThreadId, ddi: Ddi, waited: Duration) {
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
            ddi: Some(ddi.name().to_owned()),
            detail: "the driver blocked outside the simulator's control while holding the turn (a wait on something the simulator does not model, or an endless loop)".to_owned(),
            last_events: self.last_events(),
        };
        self.note(fault.to_string());
        self.inner.faults.borrow_mut().push(fault);
    }

    fn fault_panic(&self, thread: ThreadId, ddi: Ddi, text: String) {
        let name = self.inner.sched.thread_name(thread);
        self.inner.threads.borrow_mut().remove(&thread);
        self.inner.poisoned.set(true);
        let fault = DriverFault {
            kind: DriverFaultKind::Crash {
                code: None,
                name: "bridge panic".to_owned(),
            },
            thread: name,
            ddi: Some(ddi.name().to_owned()),
            detail: text,
            last_events: self.last_events(),
        };
        self.note(fault.to_string());
        self.inner.faults.borrow_mut().push(fault);
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
        match request {
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
    }
}

/// The innermost DDI the current real thread is running (`None` on a thread the driver
/// created).
pub(crate) fn current_ddi() -> Option<Ddi> {
    DDI_STACK.with(|d| d.borrow().last().copied())
}
