//! Kernel routines for C drivers (`include/miracast_sim_kernel.h`, `include/wdm.h`): spin locks,
//! fast and guarded mutexes, events and waits, DPCs, timers, work items, pool, IRQL, time and
//! `DbgPrint`, implemented on the deterministic scheduler.
//!
//! How a driver reaches them: the header declares every routine weak and undefined, so the
//! library loads without them; the loader rewrites the library's import slots for these names
//! (as `interpose` does for the C library) to the `extern "C"` entry points below, as Windows
//! binds a driver's imports from ntoskrnl.
//!
//! Each entry point, on a bridge thread, becomes a [`KernelCall`] that the simulated thread owning
//! the real thread serves on the executor ([`serve`]): the state (locks, events, DPCs, timers,
//! pool blocks, the IRQL of every simulated thread) lives in [`Kernel`], on the executor, next
//! to the scheduler. So:
//!
//! - every acquire (a [`SimMutex`] per lock: a choice point, and a blocking wait when held),
//!   release, `KeSetEvent`, `KeResetEvent` and wait is a scheduling point, and a cycle through
//!   driver locks, OS locks and waits is the scheduler's deadlock with its wait-for chain;
//! - the IRQL of a simulated thread is the one the OS gives the DDI it runs (PASSIVE_LEVEL for the
//!   Miracast DDIs, DISPATCH_LEVEL for `DxgkDdiDpcRoutine` and DPCs, a device IRQL for
//!   `DxgkDdiInterruptRoutine`) changed by what the driver does; a routine called above its
//!   documented IRQL, a wait at DISPATCH_LEVEL or above, paged pool above APC_LEVEL, an OS callback
//!   above its level and a DDI left at another IRQL than it was entered at are findings (R69, R70)
//!   worded as Driver Verifier words them;
//! - pool comes from the OS model's memory budget (so R71 and R72 judge a binary's GPU contexts
//!   as they judge the reference KMD's), with the scenario's failure injection
//!   ([`crate::os::PoolFaults`]), tags, and leak detection when `DxgkDdiMiracastDestroyContext`
//!   returns (R12: it frees everything created for the context) and when the KMD is unloaded
//!   after `DxgkDdiRemoveDevice` (R72);
//! - time is virtual;
//! - a KMD or UMD built with `-fsanitize=thread` (and without the sanitizer's runtime, see
//!   `include/miracast_sim_race.h`) reports its loads and stores through
//!   `MiracastSimTsanAccess`, and `interpose` adds its heap blocks and pthread mutex releases and
//!   acquires; [`check_accesses`] checks the accesses to memory the driver owns against the
//!   scheduler's happens-before at every hand-back (R27 in the KMD's memory, R30 in the UMD's;
//!   see ARCHITECTURE.md, "Races in a C driver").
//!
//! Before the first DDI (`MiracastSimKmdEntry`, on the loader's thread) the routines that do not
//! schedule work on the runtime directly; lock and wait calls there do nothing (no other thread
//! exists yet).

#![allow(unsafe_code)]

use super::bridge::{HookReply, HookRequest, RealRuntime, hook_call, hook_shared};
use crate::ddi::{Ddi, Direction};
use crate::os::PoolFaults;
use crate::rules::{CheckId, Culprit, RuleId, Violation};
use crate::sched::clock::VectorClock;
use crate::sched::tracked::Access;
use crate::sched::{
    RaceReport, SimEvent, SimMutex, SimMutexGuard, SimRwGuard, SimRwLock, ThreadId,
};
use crate::status::NtStatus;
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// `PASSIVE_LEVEL`.
pub(crate) const PASSIVE_LEVEL: u8 = 0;
/// `APC_LEVEL`.
pub(crate) const APC_LEVEL: u8 = 1;
/// `DISPATCH_LEVEL`.
pub(crate) const DISPATCH_LEVEL: u8 = 2;
/// The device IRQL the simulated adapter's interrupt runs at (any value above DISPATCH_LEVEL;
/// Windows gives each device its own).
pub(crate) const DEVICE_IRQL: u8 = 5;

/// 100 ns units from 1601-01-01 to the simulator's fixed `CLOCK_REALTIME` epoch
/// (1 700 000 000 s after 1970-01-01, as `interpose` uses).
const SYSTEM_TIME_EPOCH: i64 = (11_644_473_600 + 1_700_000_000) * 10_000_000;
/// `KeQueryPerformanceCounter`'s frequency: 10 MHz.
const PERFORMANCE_FREQUENCY: i64 = 10_000_000;

/// The IRQL's name as `!irql` prints it.
pub(crate) fn irql_name(irql: u8) -> String {
    match irql {
        PASSIVE_LEVEL => "PASSIVE_LEVEL".to_owned(),
        APC_LEVEL => "APC_LEVEL".to_owned(),
        DISPATCH_LEVEL => "DISPATCH_LEVEL".to_owned(),
        n => format!("DIRQL ({n})"),
    }
}

/// The IRQL the OS calls a KMD DDI at (kernel-routines fact sheet §2; R69, R70).
pub(crate) fn ddi_irql(ddi: Ddi) -> u8 {
    match ddi {
        Ddi::DxgkDdiInterruptRoutine => DEVICE_IRQL,
        Ddi::DxgkDdiDpcRoutine => DISPATCH_LEVEL,
        _ => PASSIVE_LEVEL,
    }
}

// ---- requests --------------------------------------------------------------------------------

/// Which lock routine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LockHow {
    /// `KeAcquireSpinLock(RaiseToDpc)` / `KeReleaseSpinLock`.
    Spin,
    /// `KeAcquireSpinLockAtDpcLevel` / `KeReleaseSpinLockFromDpcLevel`.
    SpinAtDpc,
    /// `ExAcquireFastMutex` / `ExReleaseFastMutex`.
    Fast,
    /// `KeAcquireGuardedMutex` / `KeReleaseGuardedMutex`.
    Guarded,
}

impl LockHow {
    fn acquire_name(self) -> &'static str {
        match self {
            LockHow::Spin => "KeAcquireSpinLock",
            LockHow::SpinAtDpc => "KeAcquireSpinLockAtDpcLevel",
            LockHow::Fast => "ExAcquireFastMutex",
            LockHow::Guarded => "KeAcquireGuardedMutex",
        }
    }
    fn release_name(self) -> &'static str {
        match self {
            LockHow::Spin => "KeReleaseSpinLock",
            LockHow::SpinAtDpc => "KeReleaseSpinLockFromDpcLevel",
            LockHow::Fast => "ExReleaseFastMutex",
            LockHow::Guarded => "KeReleaseGuardedMutex",
        }
    }
    fn object(self) -> &'static str {
        match self {
            LockHow::Spin | LockHow::SpinAtDpc => "KSPIN_LOCK",
            LockHow::Fast => "FAST_MUTEX",
            LockHow::Guarded => "KGUARDED_MUTEX",
        }
    }
}

/// A kernel routine call of driver code, as plain data.
#[derive(Debug)]
pub(crate) enum KernelCall {
    InitLock {
        addr: usize,
        how: LockHow,
    },
    Acquire {
        addr: usize,
        how: LockHow,
    },
    /// `ExTryToAcquireFastMutex`: 1 when acquired.
    TryAcquire {
        addr: usize,
    },
    /// `KeEnterCriticalRegion` (true) or `KeLeaveCriticalRegion`.
    CriticalRegion {
        enter: bool,
    },
    InitResource {
        addr: usize,
    },
    DeleteResource {
        addr: usize,
    },
    /// `ExAcquireResource{Exclusive,Shared}Lite`: 1 when acquired.
    AcquireResource {
        addr: usize,
        exclusive: bool,
        wait: bool,
    },
    ReleaseResource {
        addr: usize,
    },
    Release {
        addr: usize,
        how: LockHow,
        new_irql: u8,
    },
    InitEvent {
        addr: usize,
        sync: bool,
        signaled: bool,
    },
    SetEvent {
        addr: usize,
    },
    ResetEvent {
        addr: usize,
        routine: &'static str,
    },
    ReadEvent {
        addr: usize,
    },
    Wait {
        addr: usize,
        timeout: Option<i64>,
    },
    Delay {
        interval: i64,
    },
    GetIrql,
    RaiseIrql {
        new: u8,
        routine: &'static str,
    },
    LowerIrql {
        new: u8,
    },
    InitDpc {
        addr: usize,
        routine: usize,
        context: usize,
    },
    InsertDpc {
        addr: usize,
        arg1: usize,
        arg2: usize,
    },
    RemoveDpc {
        addr: usize,
    },
    FlushQueuedDpcs,
    InitTimer {
        addr: usize,
        sync: bool,
    },
    SetTimer {
        addr: usize,
        due: i64,
        period_ms: i32,
        dpc: usize,
    },
    CancelTimer {
        addr: usize,
    },
    AllocWorkItem {
        device: usize,
    },
    QueueWorkItem {
        item: usize,
        routine: usize,
        queue: i32,
        context: usize,
    },
    FreeWorkItem {
        item: usize,
    },
    /// May the allocation go ahead (IRQL, flags, failure injection, the budget)? 1: yes.
    Alloc {
        api: &'static str,
        paged: bool,
        bytes: usize,
        tag: u32,
        valid: bool,
    },
    /// The calling thread allocated the approved block (`addr` 0: the C heap failed).
    Allocated {
        api: &'static str,
        paged: bool,
        bytes: usize,
        tag: u32,
        addr: usize,
    },
    /// May the calling thread free the block? 1: yes.
    Free {
        api: &'static str,
        addr: usize,
        tag: Option<u32>,
    },
    Stall {
        micros: u32,
    },
    Print {
        text: String,
    },
}

// ---- state -----------------------------------------------------------------------------------

/// An `ERESOURCE`: one lock between simulated threads, with the owners Windows tracks (an
/// exclusive owner's recursion count, or each shared owner's).
struct Resource {
    name: String,
    lock: SimRwLock,
    exclusive: Option<(ThreadId, u32, SimRwGuard)>,
    shared: BTreeMap<ThreadId, (u32, SimRwGuard)>,
}

struct Lock {
    name: String,
    mutex: SimMutex,
    guard: Option<SimMutexGuard>,
    owner: Option<ThreadId>,
    /// The IRQL a fast or guarded mutex restores.
    saved_irql: u8,
}

struct Event {
    name: String,
    event: SimEvent,
}

struct Dpc {
    name: String,
    routine: usize,
    context: usize,
    /// The queued run that has not started yet, by its number.
    queued: Option<u64>,
}

struct Timer {
    generation: u64,
    armed: bool,
}

struct WorkItem {
    queued: bool,
}

struct Block {
    bytes: u64,
    tag: u32,
    paged: bool,
    api: &'static str,
    /// Allocated inside a DDI of the Miracast context (its leak is judged at destroy).
    miracast: bool,
    place: String,
}

impl Block {
    /// `16 bytes tagged 'MCxt' from ExAllocatePool2 in thread t4 ..., inside ...`, for a leak.
    fn describe(&self) -> String {
        format!(
            "{} bytes tagged '{}' from {} in {}",
            self.bytes,
            tag_text(self.tag),
            self.api,
            self.place
        )
    }
}

/// One IRQL frame of a simulated thread: a DDI the OS called (or a DPC, a work item) with the
/// IRQL it was entered at, and the IRQL now.
struct Frame {
    base: u8,
    now: u8,
}

#[derive(Default)]
struct State {
    faults: PoolFaults,
    frames: BTreeMap<ThreadId, Vec<Frame>>,
    /// What a thread runs when it has no DDI frame (a DPC, a work item).
    roles: BTreeMap<ThreadId, String>,
    locks: BTreeMap<usize, Lock>,
    held: BTreeMap<ThreadId, Vec<usize>>,
    resources: BTreeMap<usize, Resource>,
    /// `KeEnterCriticalRegion` depth per thread.
    critical: BTreeMap<ThreadId, u32>,
    /// Lock-order edges (held, then acquired) by lock name, for Driver Verifier's deadlock
    /// detection.
    order: BTreeSet<(String, String)>,
    events: BTreeMap<usize, Event>,
    dpcs: BTreeMap<usize, Dpc>,
    /// The number the next queued DPC run gets.
    next_dpc_run: u64,
    /// DPC runs queued and not finished (nor taken off the queue).
    dpc_runs: BTreeSet<u64>,
    /// Threads in `KeFlushQueuedDpcs`: the runs before this number must end first.
    dpc_flushes: Vec<(u64, SimEvent)>,
    timers: BTreeMap<usize, Timer>,
    work_items: BTreeMap<usize, WorkItem>,
    blocks: BTreeMap<usize, Block>,
    allocations: u32,
    sites: BTreeSet<String>,
    next_object: u32,
    violations: Vec<Violation>,
    /// The race check's shadow memory: per byte, the last write and the reads since.
    shadow: BTreeMap<usize, Shadow>,
    /// Live C heap blocks a race-check build of a driver took with `malloc` and friends, by
    /// address (see `interpose`'s heap hooks).
    heap: BTreeMap<usize, HeapBlock>,
    /// The clock each driver `pthread_mutex_t` (by address) published at its last unlock.
    sync_clocks: BTreeMap<usize, VectorClock>,
    /// The loaded driver libraries: the base address `dladdr` gives for their code and data,
    /// and whose they are.
    libraries: Vec<(usize, DriverRole)>,
}

/// Which driver a library, and the heap blocks its code allocates, belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DriverRole {
    /// The user-mode driver.
    Umd,
    /// The kernel-mode driver.
    Kmd,
}

impl DriverRole {
    /// How a race report's cell name starts (`rules::race_violation` reads it).
    fn prefix(self) -> &'static str {
        match self {
            DriverRole::Umd => "umd",
            DriverRole::Kmd => "kmd",
        }
    }
}

/// A heap block a driver's code allocated on a bridge thread.
struct HeapBlock {
    bytes: usize,
    role: DriverRole,
    /// The DDI (or driver thread) that allocated it: names the block independently of where
    /// the heap put it.
    place: String,
}

/// What a driver's code did since its real thread got the turn, in order, as the race check
/// needs it: loads and stores (the ThreadSanitizer instrumentation), heap blocks taken and
/// given back, and its pthread mutexes' unlocks and locks (the happens-before they give).
#[derive(Clone, Copy, Debug)]
pub(crate) enum RaceEvent {
    /// A load or store of `size` bytes at `addr`.
    Access {
        addr: usize,
        size: usize,
        write: bool,
    },
    /// `malloc`/`calloc`/`realloc`/`posix_memalign`/`aligned_alloc` returned `addr`.
    HeapAllocated {
        addr: usize,
        bytes: usize,
        role: DriverRole,
    },
    /// `free` (or `realloc` moving the block) gave `addr` back.
    HeapFreed { addr: usize },
    /// The mutex at `sync` was unlocked, or an atomic read-modify-write at `sync` released: a
    /// release (joined into what `sync` published before).
    Released { sync: usize },
    /// An atomic store at `sync` released: it publishes this thread's past alone (a later
    /// acquire of `sync` reads this store, not the earlier ones).
    ReleasedByStore { sync: usize },
    /// The mutex at `sync` was locked, or an atomic at `sync` was read with acquire order: an
    /// acquire.
    Acquired { sync: usize },
}

/// Buffers `event` of the calling real thread for the next hand-back (nothing on a thread that
/// is not the bridge's).
pub(crate) fn note_race_event(event: RaceEvent) {
    if let Some(shared) = hook_shared()
        && let Ok(mut events) = shared.accesses.lock()
    {
        events.push(event);
    }
}

/// Records the library of `role` that holds `address` (an export), so that its static data is
/// checked and named after it.
pub(crate) fn note_library(rt: &RealRuntime, role: DriverRole, address: usize) {
    if let Some(base) = library_base(address) {
        rt.kernel().st.borrow_mut().libraries.push((base, role));
    }
}

/// The base `dladdr` gives for the loaded object holding `address`.
fn library_base(address: usize) -> Option<usize> {
    // SAFETY: Dl_info is plain data (all-zero is "nothing found"); dladdr only reads the
    // loader's tables for `address`.
    unsafe {
        let mut info: libc::Dl_info = std::mem::zeroed();
        (libc::dladdr(address as *const libc::c_void, &mut info) != 0)
            .then_some(info.dli_fbase as usize)
    }
}

/// What the race check remembers of one byte.
#[derive(Default)]
struct Shadow {
    last_write: Option<(Access, u32)>,
    reads: Vec<(Access, u32)>,
    reported: bool,
}

/// The kernel state of one runtime (executor side).
#[derive(Default)]
pub(crate) struct Kernel {
    st: RefCell<State>,
}

impl Drop for Kernel {
    fn drop(&mut self) {
        // Pool blocks still held when the run is over go back to the C heap (the driver's code is
        // unloaded with the run, as on Windows at unload).
        let blocks = std::mem::take(&mut self.st.get_mut().blocks);
        for addr in blocks.keys() {
            // SAFETY: every block in the table came from `libc::malloc`/`calloc` in `allocate`
            // and was not freed (a free removes it from the table first).
            unsafe { libc::free(*addr as *mut libc::c_void) };
        }
    }
}

impl Kernel {
    /// The scenario's pool failure injection.
    pub(crate) fn set_pool_faults(&self, faults: PoolFaults) {
        self.st.borrow_mut().faults = faults;
    }

    /// Findings so far.
    pub(crate) fn violations(&self) -> Vec<Violation> {
        self.st.borrow().violations.clone()
    }

    fn object_name(&self, kind: &str) -> String {
        let mut st = self.st.borrow_mut();
        st.next_object += 1;
        format!("{kind} #{}", st.next_object)
    }
}

fn thread_irql(st: &State, thread: ThreadId) -> u8 {
    st.frames
        .get(&thread)
        .and_then(|f| f.last())
        .map_or(PASSIVE_LEVEL, |f| f.now)
}

fn set_irql(st: &mut State, thread: ThreadId, irql: u8) {
    let frames = st.frames.entry(thread).or_default();
    match frames.last_mut() {
        Some(f) => f.now = irql,
        None => frames.push(Frame {
            base: PASSIVE_LEVEL,
            now: irql,
        }),
    }
}

// ---- hooks the bridge calls ------------------------------------------------------------------

/// The OS enters `ddi` on the current simulated thread: the thread runs at the DDI's IRQL.
pub(crate) fn ddi_entered(rt: &RealRuntime, ddi: Ddi) {
    if ddi.direction() != Direction::OsToKmd {
        return;
    }
    let thread = rt.sched().current();
    let base = ddi_irql(ddi);
    rt.kernel()
        .st
        .borrow_mut()
        .frames
        .entry(thread)
        .or_default()
        .push(Frame { base, now: base });
}

/// The driver returned from `ddi`: it must return at the IRQL it was called at; after
/// `DxgkDdiMiracastDestroyContext`, pool allocated for the Miracast context must be freed (R12);
/// after `DxgkDdiRemoveDevice`, every block (R72).
pub(crate) fn ddi_left(rt: &RealRuntime, ddi: Ddi) {
    if ddi.direction() != Direction::OsToKmd {
        return;
    }
    let thread = rt.sched().current();
    let frame = {
        let mut st = rt.kernel().st.borrow_mut();
        st.frames.get_mut(&thread).and_then(|f| f.pop())
    };
    if let Some(f) = frame
        && f.now != f.base
    {
        let held = held_names(rt, thread);
        violation(
            rt,
            CheckId::KernelIrql,
            RuleId::R69,
            format!(
                "IRQL not restored: {} returned at {} but was called at {}{} ({})",
                ddi.name(),
                irql_name(f.now),
                irql_name(f.base),
                if held.is_empty() {
                    String::new()
                } else {
                    format!(" while holding {}", held.join(", "))
                },
                place(rt, thread)
            ),
        );
    }
    if ddi == Ddi::DxgkDdiRemoveDevice {
        leaks_at_unload(rt);
    }
    if ddi == Ddi::DxgkDdiMiracastDestroyContext {
        let list: Vec<String> = {
            let mut st = rt.kernel().st.borrow_mut();
            let mut out = Vec::new();
            for b in st.blocks.values_mut().filter(|b| b.miracast) {
                b.miracast = false;
                out.push(b.describe());
            }
            out
        };
        if !list.is_empty() {
            violation(
                rt,
                CheckId::KernelPool,
                RuleId::R12,
                format!(
                    "DRIVER_VERIFIER_DETECTED_VIOLATION (C4/0x62, pool tracking): DxgkDdiMiracastDestroyContext returned with {} pool allocation(s) of the Miracast context still live: {}",
                    list.len(),
                    list.join("; ")
                ),
            );
        }
    }
}

/// Adapter stop: once `DxgkDdiRemoveDevice` has returned the OS unloads the KMD, so every pool
/// block still allocated is a leak, which Driver Verifier's pool tracking reports at unload
/// (C4/0x62). Judged as R72: the KMD did not free what it allocated.
fn leaks_at_unload(rt: &RealRuntime) {
    let leaked: Vec<String> = rt
        .kernel()
        .st
        .borrow()
        .blocks
        .values()
        .map(Block::describe)
        .collect();
    if !leaked.is_empty() {
        violation(
            rt,
            CheckId::KernelPool,
            RuleId::R72,
            format!(
                "DRIVER_VERIFIER_DETECTED_VIOLATION (C4/0x62, pool tracking): the KMD is unloaded after DxgkDdiRemoveDevice with {} pool allocation(s) still live: {}",
                leaked.len(),
                leaked.join("; ")
            ),
        );
    }
}

/// An OS callback at the current thread's IRQL: `DxgkCbMiracastSendMessage` only at
/// PASSIVE_LEVEL, `DxgkCbIndicateChildStatus` at DISPATCH_LEVEL or below (R69).
pub(crate) fn callback_made(rt: &RealRuntime, name: &'static str) {
    let max = match name {
        "DxgkCbMiracastSendMessage" => PASSIVE_LEVEL,
        "DxgkCbIndicateChildStatus" => DISPATCH_LEVEL,
        _ => return,
    };
    let Some(thread) = rt.sched().try_current() else {
        return;
    };
    let irql = thread_irql(&rt.kernel().st.borrow(), thread);
    if irql > max {
        let held = held_names(rt, thread);
        violation(
            rt,
            CheckId::KernelIrql,
            RuleId::R69,
            format!(
                "IRQL_NOT_LESS_OR_EQUAL: {name} called at {} (allowed: {} or below){} ({})",
                irql_name(irql),
                irql_name(max),
                if held.is_empty() {
                    String::new()
                } else {
                    format!(" while holding {}", held.join(", "))
                },
                place(rt, thread)
            ),
        );
    }
}

fn held_names(rt: &RealRuntime, thread: ThreadId) -> Vec<String> {
    let st = rt.kernel().st.borrow();
    st.held
        .get(&thread)
        .map(|h| {
            h.iter()
                .filter_map(|a| st.locks.get(a).map(|l| l.name.clone()))
                .collect()
        })
        .unwrap_or_default()
}

/// "thread t3 os-interrupt, inside DxgkDdiInterruptRoutine".
fn place(rt: &RealRuntime, thread: ThreadId) -> String {
    let sched = rt.sched();
    let name = sched.thread_name(thread);
    let frames = sched.frames(thread);
    let ddi = frames
        .iter()
        .rev()
        .find(|d| d.direction() == Direction::OsToKmd)
        .map(|d| d.name().to_owned());
    let role = rt.kernel().st.borrow().roles.get(&thread).cloned();
    match (ddi, role) {
        (Some(d), _) => format!("thread t{thread} {name}, inside {d}"),
        (None, Some(r)) => format!("thread t{thread} {name}, in {r}"),
        (None, None) => format!("thread t{thread} {name}, a driver thread"),
    }
}

fn violation(rt: &RealRuntime, check: CheckId, rule: RuleId, finding: String) {
    let sched = rt.sched();
    let seq = sched.trace_len();
    rt.note(finding.clone());
    let events = if sched.trace_len() > seq {
        vec![seq]
    } else {
        Vec::new()
    };
    rt.kernel().st.borrow_mut().violations.push(Violation {
        rule,
        check,
        culprit: Culprit::Kmd,
        finding,
        events,
    });
}

/// A call above the routine's IRQL limit: Driver Verifier's report.
fn check_max(rt: &RealRuntime, routine: &str, max: u8, code: u32, rule: RuleId) -> u8 {
    let thread = rt.sched().current();
    let irql = thread_irql(&rt.kernel().st.borrow(), thread);
    if irql > max {
        violation(
            rt,
            CheckId::KernelIrql,
            rule,
            format!(
                "DRIVER_VERIFIER_DETECTED_VIOLATION (C4/0x{code:X}): {routine} called at {} (allowed: {} or below) ({})",
                irql_name(irql),
                irql_name(max),
                place(rt, thread)
            ),
        );
    }
    irql
}

/// The name of a driver routine (`dladdr`), for thread names.
fn routine_name(address: usize) -> String {
    #[cfg(all(target_os = "linux", target_pointer_width = "64"))]
    return super::interpose::symbol_name(address);
    #[cfg(not(all(target_os = "linux", target_pointer_width = "64")))]
    return format!("{address:#x}");
}

fn tag_text(tag: u32) -> String {
    tag.to_le_bytes()
        .iter()
        .map(|b| {
            if (0x20..0x7f).contains(b) {
                *b as char
            } else {
                '?'
            }
        })
        .collect()
}

// ---- the executor side -----------------------------------------------------------------------

/// Serves one kernel routine call of driver code on the current simulated thread.
pub(crate) async fn serve(rt: &RealRuntime, call: KernelCall) -> HookReply {
    let sched = rt.sched().clone();
    match call {
        KernelCall::Acquire { addr, how } => acquire(rt, addr, how).await,
        KernelCall::TryAcquire { addr } => {
            let got = try_acquire(rt, addr);
            sched.yield_now().await;
            HookReply::Value(u64::from(got))
        }
        KernelCall::Release {
            addr,
            how,
            new_irql,
        } => {
            release(rt, addr, how, new_irql);
            sched.yield_now().await;
            HookReply::Done
        }
        KernelCall::SetEvent { addr } => {
            check_max(rt, "KeSetEvent", DISPATCH_LEVEL, 0x80, RuleId::R69);
            let event = event_of(rt, addr, "KEVENT");
            let was = event.is_set();
            event.set();
            sched.yield_now().await;
            HookReply::Value(u64::from(was))
        }
        KernelCall::AcquireResource {
            addr,
            exclusive,
            wait,
        } => {
            let got = acquire_resource(rt, addr, exclusive, wait).await;
            HookReply::Value(u64::from(got))
        }
        KernelCall::ReleaseResource { addr } => {
            release_resource(rt, addr);
            sched.yield_now().await;
            HookReply::Done
        }
        KernelCall::Wait { addr, timeout } => wait(rt, addr, timeout).await,
        KernelCall::FlushQueuedDpcs => {
            flush_queued_dpcs(rt).await;
            HookReply::Done
        }
        KernelCall::Delay { interval } => {
            check_max(
                rt,
                "KeDelayExecutionThread",
                APC_LEVEL,
                0x0002_000F,
                RuleId::R69,
            );
            sched.sleep(relative(rt, interval)).await;
            HookReply::Value(0)
        }
        KernelCall::InsertDpc { addr, arg1, arg2 } => {
            let queued = insert_dpc(rt, addr, arg1, arg2);
            if queued {
                sched.yield_now().await;
            }
            HookReply::Value(u64::from(queued))
        }
        KernelCall::SetTimer {
            addr,
            due,
            period_ms,
            dpc,
        } => {
            check_max(rt, "KeSetTimer", DISPATCH_LEVEL, 0x0002_0011, RuleId::R69);
            let was = set_timer(rt, addr, due, period_ms, dpc);
            sched.yield_now().await;
            HookReply::Value(u64::from(was))
        }
        KernelCall::QueueWorkItem {
            item,
            routine,
            queue,
            context,
        } => {
            queue_work_item(rt, item, routine, queue, context);
            sched.yield_now().await;
            HookReply::Done
        }
        KernelCall::Stall { micros } => {
            sched.sleep(Duration::from_micros(u64::from(micros))).await;
            HookReply::Done
        }
        other => serve_now(rt, other),
    }
}

/// The calls that neither wait nor hand the turn over (also served before the first DDI).
pub(crate) fn serve_now(rt: &RealRuntime, call: KernelCall) -> HookReply {
    let on_thread = rt.sched().try_current().is_some();
    match call {
        KernelCall::CriticalRegion { enter } => {
            // Before the first DDI (in MiracastSimKmdEntry) there is no simulated thread and
            // nothing to acquire, so the depth is not kept.
            if let Some(me) = rt.sched().try_current() {
                let mut st = rt.kernel().st.borrow_mut();
                let depth = st.critical.entry(me).or_default();
                if enter {
                    *depth += 1;
                } else if *depth == 0 {
                    drop(st);
                    rt.note(format!(
                        "KeLeaveCriticalRegion without KeEnterCriticalRegion ({})",
                        place(rt, me)
                    ));
                } else {
                    *depth -= 1;
                }
            }
            HookReply::Done
        }
        KernelCall::InitResource { addr } => {
            let live = rt.kernel().st.borrow().resources.get(&addr).map(|r| {
                (
                    r.name.clone(),
                    r.exclusive.is_some() || !r.shared.is_empty(),
                )
            });
            if let Some((name, true)) = live {
                rt.note(format!(
                    "DRIVER_VERIFIER_DETECTED_VIOLATION (C4/0xD0): ExInitializeResourceLite on {name}, which is owned"
                ));
            }
            let name = rt.kernel().object_name("ERESOURCE");
            init_resource(rt, addr, name);
            HookReply::Value(0)
        }
        KernelCall::DeleteResource { addr } => {
            let gone = rt.kernel().st.borrow_mut().resources.remove(&addr);
            match gone {
                None => rt.note(
                    "DRIVER_VERIFIER_DETECTED_VIOLATION (C4/0xD1): ExDeleteResourceLite of an ERESOURCE never initialized".to_owned(),
                ),
                Some(r) if r.exclusive.is_some() || !r.shared.is_empty() => rt.note(format!(
                    "Driver Verifier (C4/0x100B): ExDeleteResourceLite of {}, which is owned",
                    r.name
                )),
                Some(_) => {}
            }
            HookReply::Value(0)
        }
        KernelCall::InitLock { addr, how } => {
            let name = rt.kernel().object_name(how.object());
            let mutex = SimMutex::new(rt.sched(), name.clone());
            rt.kernel().st.borrow_mut().locks.insert(
                addr,
                Lock {
                    name,
                    mutex,
                    guard: None,
                    owner: None,
                    saved_irql: PASSIVE_LEVEL,
                },
            );
            HookReply::Done
        }
        KernelCall::InitEvent {
            addr,
            sync,
            signaled,
        } => {
            let name = rt.kernel().object_name("KEVENT");
            let event = SimEvent::new(rt.sched(), name.clone(), sync);
            if signaled {
                event.set();
            }
            rt.kernel()
                .st
                .borrow_mut()
                .events
                .insert(addr, Event { name, event });
            HookReply::Done
        }
        KernelCall::ResetEvent { addr, routine } => {
            if on_thread {
                check_max(rt, routine, DISPATCH_LEVEL, 0x0002_0011, RuleId::R69);
            }
            let event = event_of(rt, addr, "KEVENT");
            let was = event.is_set();
            event.reset();
            HookReply::Value(u64::from(was))
        }
        KernelCall::ReadEvent { addr } => {
            let event = event_of(rt, addr, "KEVENT");
            HookReply::Value(u64::from(event.is_set()))
        }
        KernelCall::GetIrql => {
            let irql = rt
                .sched()
                .try_current()
                .map_or(PASSIVE_LEVEL, |t| thread_irql(&rt.kernel().st.borrow(), t));
            HookReply::Value(u64::from(irql))
        }
        KernelCall::RaiseIrql { new, routine } => {
            let Some(thread) = rt.sched().try_current() else {
                return HookReply::Value(u64::from(PASSIVE_LEVEL));
            };
            let old = thread_irql(&rt.kernel().st.borrow(), thread);
            if new < old {
                violation(
                    rt,
                    CheckId::KernelIrql,
                    RuleId::R69,
                    format!(
                        "DRIVER_VERIFIER_DETECTED_VIOLATION (C4/0x30): {routine} to {} from the higher {} ({})",
                        irql_name(new),
                        irql_name(old),
                        place(rt, thread)
                    ),
                );
            }
            set_irql(&mut rt.kernel().st.borrow_mut(), thread, new);
            HookReply::Value(u64::from(old))
        }
        KernelCall::LowerIrql { new } => {
            let Some(thread) = rt.sched().try_current() else {
                return HookReply::Done;
            };
            let old = thread_irql(&rt.kernel().st.borrow(), thread);
            if new > old {
                violation(
                    rt,
                    CheckId::KernelIrql,
                    RuleId::R69,
                    format!(
                        "DRIVER_VERIFIER_DETECTED_VIOLATION (C4/0x31): KeLowerIrql to {} from the lower {} ({})",
                        irql_name(new),
                        irql_name(old),
                        place(rt, thread)
                    ),
                );
            }
            set_irql(&mut rt.kernel().st.borrow_mut(), thread, new);
            HookReply::Done
        }
        KernelCall::InitDpc {
            addr,
            routine,
            context,
        } => {
            let name = routine_name(routine);
            rt.kernel().st.borrow_mut().dpcs.insert(
                addr,
                Dpc {
                    name,
                    routine,
                    context,
                    queued: None,
                },
            );
            HookReply::Done
        }
        KernelCall::RemoveDpc { addr } => {
            // The run taken off the queue does not start (its thread sees it gone) and counts
            // as ended for KeFlushQueuedDpcs.
            let removed = rt
                .kernel()
                .st
                .borrow_mut()
                .dpcs
                .get_mut(&addr)
                .and_then(|d| d.queued.take());
            if let Some(run) = removed {
                dpc_run_ended(rt, run);
            }
            HookReply::Value(u64::from(removed.is_some()))
        }
        KernelCall::InitTimer { addr, sync } => {
            let name = rt.kernel().object_name("KTIMER");
            let event = SimEvent::new(rt.sched(), name.clone(), sync);
            let mut st = rt.kernel().st.borrow_mut();
            st.events.insert(addr, Event { name, event });
            st.timers.insert(
                addr,
                Timer {
                    generation: 0,
                    armed: false,
                },
            );
            HookReply::Done
        }
        KernelCall::CancelTimer { addr } => {
            if on_thread {
                check_max(
                    rt,
                    "KeCancelTimer",
                    DISPATCH_LEVEL,
                    0x0002_0011,
                    RuleId::R69,
                );
            }
            let mut st = rt.kernel().st.borrow_mut();
            let was = st.timers.get_mut(&addr).is_some_and(|t| {
                let was = t.armed;
                t.armed = false;
                t.generation += 1;
                was
            });
            HookReply::Value(u64::from(was))
        }
        KernelCall::AllocWorkItem { device } => {
            let _ = device;
            if on_thread {
                check_max(
                    rt,
                    "IoAllocateWorkItem",
                    DISPATCH_LEVEL,
                    0x0002_0011,
                    RuleId::R69,
                );
            }
            if inject_failure(rt, "IoAllocateWorkItem", 0) {
                return HookReply::Value(0);
            }
            // SAFETY: a fresh 64-byte block the simulator owns; the driver only passes it back.
            let item = unsafe { libc::calloc(1, 64) } as usize;
            if item != 0 {
                rt.kernel()
                    .st
                    .borrow_mut()
                    .work_items
                    .insert(item, WorkItem { queued: false });
            }
            HookReply::Value(item as u64)
        }
        KernelCall::FreeWorkItem { item } => {
            let entry = rt.kernel().st.borrow_mut().work_items.remove(&item);
            match entry {
                Some(w) if w.queued => {
                    rt.note(format!(
                        "IoFreeWorkItem of a work item still queued ({}): the simulator keeps it until its routine has run",
                        if on_thread {
                            place(rt, rt.sched().current())
                        } else {
                            String::new()
                        }
                    ));
                    rt.kernel().st.borrow_mut().work_items.insert(item, w);
                }
                Some(_) => {
                    // SAFETY: allocated by `calloc` in IoAllocateWorkItem and removed from the
                    // table just above, so freed once.
                    unsafe { libc::free(item as *mut libc::c_void) };
                }
                None => rt.note("IoFreeWorkItem of an unknown work item; ignored".to_owned()),
            }
            HookReply::Done
        }
        KernelCall::Alloc {
            api,
            paged,
            bytes,
            tag,
            valid,
        } => HookReply::Value(u64::from(approve(rt, api, paged, bytes, tag, valid))),
        KernelCall::Allocated {
            api,
            paged,
            bytes,
            tag,
            addr,
        } => {
            record(rt, api, paged, bytes, tag, addr);
            HookReply::Done
        }
        KernelCall::Free { api, addr, tag } => {
            HookReply::Value(u64::from(free(rt, api, addr, tag)))
        }
        KernelCall::Print { text } => {
            rt.note(format!("DbgPrint: {}", text.trim_end()));
            HookReply::Value(0)
        }
        // The scheduling calls before the first DDI (in MiracastSimKmdEntry): no other thread
        // exists, so there is nothing to order; work that would run later is not started.
        KernelCall::SetEvent { addr } => {
            let event = event_of(rt, addr, "KEVENT");
            let was = event.is_set();
            event.set();
            HookReply::Value(u64::from(was))
        }
        KernelCall::Acquire { .. } => HookReply::Value(u64::from(PASSIVE_LEVEL)),
        KernelCall::TryAcquire { .. } | KernelCall::AcquireResource { .. } => HookReply::Value(1),
        KernelCall::Wait { .. } | KernelCall::Delay { .. } => HookReply::Value(0),
        call @ (KernelCall::InsertDpc { .. }
        | KernelCall::SetTimer { .. }
        | KernelCall::QueueWorkItem { .. }) => {
            rt.note(format!(
                "{} in MiracastSimKmdEntry: DPCs, timers and work items start only from a DDI in the simulator; not started",
                match call {
                    KernelCall::InsertDpc { .. } => "KeInsertQueueDpc",
                    KernelCall::SetTimer { .. } => "KeSetTimer",
                    _ => "IoQueueWorkItem",
                }
            ));
            HookReply::Value(0)
        }
        // Before the first DDI no DPC has been queued (see above), so there is nothing to flush.
        KernelCall::Release { .. }
        | KernelCall::ReleaseResource { .. }
        | KernelCall::FlushQueuedDpcs
        | KernelCall::Stall { .. } => HookReply::Done,
    }
}

fn event_of(rt: &RealRuntime, addr: usize, kind: &str) -> SimEvent {
    if let Some(e) = rt.kernel().st.borrow().events.get(&addr) {
        return e.event.clone();
    }
    let name = rt.kernel().object_name(kind);
    rt.note(format!(
        "{name} used without KeInitializeEvent (Driver Verifier: C4/0x1003, uninitialized object); taken as an unsignaled notification event"
    ));
    let event = SimEvent::new(rt.sched(), name.clone(), false);
    rt.kernel().st.borrow_mut().events.insert(
        addr,
        Event {
            name,
            event: event.clone(),
        },
    );
    event
}

fn lock_of(rt: &RealRuntime, addr: usize, how: LockHow) -> (SimMutex, String) {
    if let Some(l) = rt.kernel().st.borrow().locks.get(&addr) {
        return (l.mutex.clone(), l.name.clone());
    }
    let name = rt.kernel().object_name(how.object());
    rt.note(format!(
        "{name} acquired without being initialized (Driver Verifier: C4/0x1003)"
    ));
    let mutex = SimMutex::new(rt.sched(), name.clone());
    rt.kernel().st.borrow_mut().locks.insert(
        addr,
        Lock {
            name: name.clone(),
            mutex: mutex.clone(),
            guard: None,
            owner: None,
            saved_irql: PASSIVE_LEVEL,
        },
    );
    (mutex, name)
}

async fn acquire(rt: &RealRuntime, addr: usize, how: LockHow) -> HookReply {
    let me = rt.sched().current();
    let irql = match how {
        LockHow::Spin => check_max(rt, how.acquire_name(), DISPATCH_LEVEL, 0x42, RuleId::R69),
        LockHow::Fast | LockHow::Guarded => {
            check_max(rt, how.acquire_name(), APC_LEVEL, 0x33, RuleId::R69)
        }
        LockHow::SpinAtDpc => {
            let irql = thread_irql(&rt.kernel().st.borrow(), me);
            if irql < DISPATCH_LEVEL {
                violation(
                    rt,
                    CheckId::KernelIrql,
                    RuleId::R69,
                    format!(
                        "DRIVER_VERIFIER_DETECTED_VIOLATION (C4/0x40): KeAcquireSpinLockAtDpcLevel called at {} (required: DISPATCH_LEVEL or above) ({})",
                        irql_name(irql),
                        place(rt, me)
                    ),
                );
            }
            irql
        }
    };
    let (mutex, name) = lock_of(rt, addr, how);
    // Driver Verifier's deadlock detection: a lock taken while holding another records an
    // order; the opposite order seen later is a potential deadlock, reported before any hang.
    let held = held_names(rt, me);
    let mut inverted = Vec::new();
    {
        let mut st = rt.kernel().st.borrow_mut();
        for h in &held {
            if st.order.contains(&(name.clone(), h.clone())) {
                inverted.push(h.clone());
            }
            st.order.insert((h.clone(), name.clone()));
        }
    }
    for h in inverted {
        rt.note(format!(
            "Driver Verifier deadlock detection (C4/0x1001): {name} acquired while holding {h}, and {h} was acquired while holding {name} before: the two orders can deadlock ({})",
            place(rt, me)
        ));
    }
    let guard = mutex.lock().await;
    let mut st = rt.kernel().st.borrow_mut();
    if let Some(l) = st.locks.get_mut(&addr) {
        l.guard = Some(guard);
        l.owner = Some(me);
        l.saved_irql = irql;
    }
    st.held.entry(me).or_default().push(addr);
    match how {
        LockHow::Spin => set_irql(&mut st, me, DISPATCH_LEVEL),
        LockHow::Fast | LockHow::Guarded => set_irql(&mut st, me, APC_LEVEL.max(irql)),
        LockHow::SpinAtDpc => {}
    }
    HookReply::Value(u64::from(irql))
}

/// The `ERESOURCE` at `addr`, made on first use when the driver skipped
/// `ExInitializeResourceLite` (noted in Driver Verifier's words).
fn resource_name(rt: &RealRuntime, addr: usize) -> (SimRwLock, String) {
    if let Some(r) = rt.kernel().st.borrow().resources.get(&addr) {
        return (r.lock.clone(), r.name.clone());
    }
    let name = rt.kernel().object_name("ERESOURCE");
    rt.note(format!(
        "{name} used without ExInitializeResourceLite (Driver Verifier: C4/0xD1)"
    ));
    init_resource(rt, addr, name)
}

fn init_resource(rt: &RealRuntime, addr: usize, name: String) -> (SimRwLock, String) {
    let lock = SimRwLock::new(rt.sched(), name.clone());
    rt.kernel().st.borrow_mut().resources.insert(
        addr,
        Resource {
            name: name.clone(),
            lock: lock.clone(),
            exclusive: None,
            shared: BTreeMap::new(),
        },
    );
    (lock, name)
}

/// `ExAcquireResource{Exclusive,Shared}Lite`. An exclusive owner acquires again (either way)
/// by counting; a shared owner acquires shared again by counting; a shared owner asking for
/// exclusive access waits for itself, a deadlock the scheduler reports, as Windows would hang.
async fn acquire_resource(rt: &RealRuntime, addr: usize, exclusive: bool, wait: bool) -> bool {
    let me = rt.sched().current();
    let routine = if exclusive {
        "ExAcquireResourceExclusiveLite"
    } else {
        "ExAcquireResourceSharedLite"
    };
    let irql = check_max(rt, routine, APC_LEVEL, 0x0002_0007, RuleId::R69);
    let critical = rt
        .kernel()
        .st
        .borrow()
        .critical
        .get(&me)
        .copied()
        .unwrap_or(0);
    if critical == 0 && irql < APC_LEVEL {
        violation(
            rt,
            CheckId::KernelIrql,
            RuleId::R69,
            format!(
                "DRIVER_VERIFIER_DETECTED_VIOLATION (C4/0x37): {routine} called with normal kernel APCs enabled at {}: call KeEnterCriticalRegion first ({})",
                irql_name(irql),
                place(rt, me)
            ),
        );
    }
    let (lock, _) = resource_name(rt, addr);
    {
        let mut st = rt.kernel().st.borrow_mut();
        if let Some(r) = st.resources.get_mut(&addr) {
            if let Some((owner, count, _)) = r.exclusive.as_mut()
                && *owner == me
            {
                *count += 1;
                return true;
            }
            if !exclusive && let Some((count, _)) = r.shared.get_mut(&me) {
                *count += 1;
                return true;
            }
        }
    }
    let guard = match (exclusive, wait) {
        (true, true) => Some(lock.write().await),
        (false, true) => Some(lock.read().await),
        (true, false) => lock.try_write(),
        (false, false) => lock.try_read(),
    };
    if !wait {
        rt.sched().yield_now().await;
    }
    let Some(guard) = guard else {
        return false;
    };
    let mut st = rt.kernel().st.borrow_mut();
    if let Some(r) = st.resources.get_mut(&addr) {
        if exclusive {
            r.exclusive = Some((me, 1, guard));
        } else {
            r.shared.insert(me, (1, guard));
        }
    }
    true
}

/// `ExReleaseResourceLite`: one acquisition of the calling thread's ends.
fn release_resource(rt: &RealRuntime, addr: usize) {
    let me = rt.sched().current();
    check_max(
        rt,
        "ExReleaseResourceLite",
        DISPATCH_LEVEL,
        0x38,
        RuleId::R69,
    );
    let (_, name) = resource_name(rt, addr);
    let guard: Option<SimRwGuard> = {
        let mut st = rt.kernel().st.borrow_mut();
        let Some(r) = st.resources.get_mut(&addr) else {
            return;
        };
        if let Some((owner, count, _)) = r.exclusive.as_mut()
            && *owner == me
        {
            *count -= 1;
            if *count == 0 {
                r.exclusive.take().map(|(_, _, g)| g)
            } else {
                return;
            }
        } else if let Some((count, _)) = r.shared.get_mut(&me) {
            *count -= 1;
            if *count == 0 {
                r.shared.remove(&me).map(|(_, g)| g)
            } else {
                return;
            }
        } else {
            drop(st);
            rt.note(format!(
                "RESOURCE_NOT_OWNED (bug check 0xE3): ExReleaseResourceLite of {name}, which this thread does not own ({})",
                place(rt, me)
            ));
            return;
        }
    };
    drop(guard);
}

/// `ExTryToAcquireFastMutex`: the mutex if it is free, without waiting.
fn try_acquire(rt: &RealRuntime, addr: usize) -> bool {
    let me = rt.sched().current();
    let irql = check_max(
        rt,
        "ExTryToAcquireFastMutex",
        APC_LEVEL,
        0x0002_0005,
        RuleId::R69,
    );
    let (mutex, _) = lock_of(rt, addr, LockHow::Fast);
    let Some(guard) = mutex.try_lock() else {
        return false;
    };
    let mut st = rt.kernel().st.borrow_mut();
    if let Some(l) = st.locks.get_mut(&addr) {
        l.guard = Some(guard);
        l.owner = Some(me);
        l.saved_irql = irql;
    }
    st.held.entry(me).or_default().push(addr);
    set_irql(&mut st, me, APC_LEVEL.max(irql));
    true
}

fn release(rt: &RealRuntime, addr: usize, how: LockHow, new_irql: u8) {
    let me = rt.sched().current();
    let irql = thread_irql(&rt.kernel().st.borrow(), me);
    let (required, code) = match how {
        LockHow::Spin => (DISPATCH_LEVEL, 0x32),
        LockHow::SpinAtDpc => (DISPATCH_LEVEL, 0x41),
        LockHow::Fast | LockHow::Guarded => (APC_LEVEL, 0x34),
    };
    if irql != required {
        violation(
            rt,
            CheckId::KernelIrql,
            RuleId::R69,
            format!(
                "DRIVER_VERIFIER_DETECTED_VIOLATION (C4/0x{code:X}): {} called at {} (required: {}) ({})",
                how.release_name(),
                irql_name(irql),
                irql_name(required),
                place(rt, me)
            ),
        );
    }
    let (guard, owner, saved, name) = {
        let mut st = rt.kernel().st.borrow_mut();
        match st.locks.get_mut(&addr) {
            Some(l) if l.owner == Some(me) => {
                l.owner = None;
                (l.guard.take(), Some(me), l.saved_irql, l.name.clone())
            }
            Some(l) => (None, l.owner, l.saved_irql, l.name.clone()),
            None => (None, None, PASSIVE_LEVEL, "an unknown lock".to_owned()),
        }
    };
    if owner != Some(me) {
        rt.note(format!(
            "Driver Verifier deadlock detection (C4/0x{:X}): {} of {name}, which {} ({})",
            if owner.is_some() { 0x1004 } else { 0x1007 },
            how.release_name(),
            match owner {
                Some(t) => format!("thread t{t} holds"),
                None => "is not held".to_owned(),
            },
            place(rt, me)
        ));
        return;
    }
    {
        let mut st = rt.kernel().st.borrow_mut();
        if let Some(h) = st.held.get_mut(&me)
            && let Some(i) = h.iter().rposition(|a| *a == addr)
        {
            h.remove(i);
        }
        match how {
            LockHow::Spin => set_irql(&mut st, me, new_irql),
            LockHow::Fast | LockHow::Guarded => set_irql(&mut st, me, saved),
            LockHow::SpinAtDpc => {}
        }
    }
    drop(guard);
}

/// A `LARGE_INTEGER` timeout or interval in 100 ns units as a duration from now: negative is
/// relative, positive is absolute system time.
fn relative(rt: &RealRuntime, t: i64) -> Duration {
    if t <= 0 {
        return Duration::from_nanos(t.unsigned_abs().saturating_mul(100));
    }
    let now = SYSTEM_TIME_EPOCH + rt.sched().now().as_micros() as i64 * 10;
    Duration::from_nanos((t - now).max(0) as u64 * 100)
}

async fn wait(rt: &RealRuntime, addr: usize, timeout: Option<i64>) -> HookReply {
    let me = rt.sched().current();
    let irql = thread_irql(&rt.kernel().st.borrow(), me);
    let code = match (irql, timeout) {
        (i, _) if i > DISPATCH_LEVEL => Some(0x120),
        (DISPATCH_LEVEL, None) => Some(0x121),
        (DISPATCH_LEVEL, Some(t)) if t != 0 => Some(0x122),
        _ => None,
    };
    if let Some(code) = code {
        let in_dpc = rt
            .kernel()
            .st
            .borrow()
            .roles
            .get(&me)
            .is_some_and(|r| r.starts_with("the DPC"))
            || rt.sched().frames(me).last() == Some(&Ddi::DxgkDdiDpcRoutine);
        violation(
            rt,
            CheckId::KernelIrql,
            RuleId::R69,
            format!(
                "DRIVER_VERIFIER_DETECTED_VIOLATION (C4/0x{code:X}): KeWaitForSingleObject called at {} with {}{} ({})",
                irql_name(irql),
                match timeout {
                    None => "a NULL timeout".to_owned(),
                    Some(t) => format!("a timeout of {t} (100 ns units)"),
                },
                if in_dpc {
                    "; in a DPC this is ATTEMPTED_SWITCH_FROM_DPC (0xB8)"
                } else {
                    ""
                },
                place(rt, me)
            ),
        );
    }
    let known = rt.kernel().st.borrow().events.contains_key(&addr);
    if !known {
        rt.note(format!(
            "KeWaitForSingleObject on an object that is not a KEVENT or KTIMER the driver initialized ({})",
            place(rt, me)
        ));
    }
    let event = event_of(rt, addr, "KEVENT");
    rt.sched().yield_now().await;
    let signaled = match timeout {
        Some(0) => event.wait(Some(Duration::ZERO)).await,
        None => event.wait(None).await,
        Some(t) => event.wait(Some(relative(rt, t))).await,
    };
    if signaled {
        HookReply::Value(NtStatus::STATUS_SUCCESS.0 as u32 as u64)
    } else {
        HookReply::TimedOut
    }
}

fn insert_dpc(rt: &RealRuntime, addr: usize, arg1: usize, arg2: usize) -> bool {
    let (name, routine, context, run) = {
        let mut st = rt.kernel().st.borrow_mut();
        let Some(d) = st.dpcs.get_mut(&addr) else {
            drop(st);
            rt.note(
                "KeInsertQueueDpc of a KDPC never initialized with KeInitializeDpc; ignored"
                    .to_owned(),
            );
            return false;
        };
        if d.queued.is_some() {
            return false;
        }
        let run = st.next_dpc_run;
        st.next_dpc_run += 1;
        st.dpc_runs.insert(run);
        if let Some(d) = st.dpcs.get_mut(&addr) {
            d.queued = Some(run);
        }
        let d = &st.dpcs[&addr];
        (d.name.clone(), d.routine, d.context, run)
    };
    let rt2 = rt.clone();
    let role = format!("the DPC {name}");
    let job = move || {
        type Routine = unsafe extern "C" fn(usize, usize, usize, usize);
        // SAFETY: `routine` is the PKDEFERRED_ROUTINE the driver gave KeInitializeDpc, called
        // with the documented arguments (the KDPC, its context, the two system arguments).
        let f: Routine = unsafe { std::mem::transmute::<usize, Routine>(routine) };
        // SAFETY: see above.
        unsafe { f(addr, context, arg1, arg2) };
    };
    spawn_routine(
        rt,
        format!("kmd-dpc-{name}"),
        role,
        DISPATCH_LEVEL,
        Box::new(job),
        Box::new(move || {
            // Dequeued as it starts, so the routine may queue itself again; a run taken off
            // the queue (KeRemoveQueueDpc, or the KDPC initialized again) does not start, and
            // has ended for KeFlushQueuedDpcs.
            let starts = match rt2.kernel().st.borrow_mut().dpcs.get_mut(&addr) {
                Some(d) if d.queued == Some(run) => {
                    d.queued = None;
                    true
                }
                _ => false,
            };
            if !starts {
                dpc_run_ended(&rt2, run);
            }
            starts
        }),
        Box::new(move |rt: &RealRuntime| dpc_run_ended(rt, run)),
    );
    true
}

/// A DPC run ended (or was taken off the queue): wake the `KeFlushQueuedDpcs` callers whose
/// earlier runs are now all done.
fn dpc_run_ended(rt: &RealRuntime, run: u64) {
    let ready: Vec<SimEvent> = {
        let mut st = rt.kernel().st.borrow_mut();
        st.dpc_runs.remove(&run);
        let oldest = st.dpc_runs.first().copied();
        let (ready, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut st.dpc_flushes)
            .into_iter()
            .partition(|(before, _)| oldest.is_none_or(|o| o >= *before));
        st.dpc_flushes = waiting;
        ready.into_iter().map(|(_, e)| e).collect()
    };
    for e in ready {
        e.set();
    }
}

/// `KeFlushQueuedDpcs`: returns once every DPC run queued before the call has ended.
async fn flush_queued_dpcs(rt: &RealRuntime) {
    let me = rt.sched().current();
    let irql = thread_irql(&rt.kernel().st.borrow(), me);
    if irql > PASSIVE_LEVEL {
        violation(
            rt,
            CheckId::KernelIrql,
            RuleId::R69,
            format!(
                "KeFlushQueuedDpcs called at {} (allowed: PASSIVE_LEVEL only; it waits) ({})",
                irql_name(irql),
                place(rt, me)
            ),
        );
    }
    // The call's choice point comes first: the DPC runs it waits for are those queued before
    // it takes effect.
    rt.sched().yield_now().await;
    let wait = {
        let mut st = rt.kernel().st.borrow_mut();
        let before = st.next_dpc_run;
        let pending = st.dpc_runs.range(..before).next().is_some();
        pending.then(|| {
            let e = SimEvent::new(
                rt.sched(),
                format!("the DPCs queued before KeFlushQueuedDpcs (t{me})"),
                false,
            );
            st.dpc_flushes.push((before, e.clone()));
            e
        })
    };
    if let Some(e) = wait {
        rt.note(format!(
            "KeFlushQueuedDpcs waits for the DPC runs queued before it ({})",
            place(rt, me)
        ));
        e.wait(None).await;
    }
}

/// Starts a simulated thread that runs a driver routine (a DPC, a work item) at `irql`.
/// `first` runs as it starts and may cancel it (false); `after` runs once the routine returned.
fn spawn_routine(
    rt: &RealRuntime,
    name: String,
    role: String,
    irql: u8,
    job: Box<dyn FnOnce() + Send>,
    first: Box<dyn FnOnce() -> bool>,
    after: Box<dyn FnOnce(&RealRuntime)>,
) {
    let rt2 = rt.clone();
    rt.spawn_kernel_thread(
        name,
        Box::new(move |thread| {
            if !first() {
                return false;
            }
            let mut st = rt2.kernel().st.borrow_mut();
            st.roles.insert(thread, role);
            st.frames.insert(
                thread,
                vec![Frame {
                    base: irql,
                    now: irql,
                }],
            );
            true
        }),
        job,
        Box::new(move |rt: &RealRuntime, thread| {
            let frame = rt
                .kernel()
                .st
                .borrow_mut()
                .frames
                .get_mut(&thread)
                .and_then(|f| f.pop());
            if let Some(f) = frame
                && f.now != f.base
            {
                let text = format!(
                    "{} returned at {} but runs at {} ({})",
                    rt.kernel()
                        .st
                        .borrow()
                        .roles
                        .get(&thread)
                        .cloned()
                        .unwrap_or_default(),
                    irql_name(f.now),
                    irql_name(f.base),
                    place(rt, thread)
                );
                violation(
                    rt,
                    CheckId::KernelIrql,
                    RuleId::R69,
                    format!(
                        "{} {text}",
                        if f.base == PASSIVE_LEVEL {
                            "WORKER_THREAD_RETURNED_AT_BAD_IRQL (0xE1):"
                        } else {
                            "DRIVER_VERIFIER_DETECTED_VIOLATION (C4/0x31):"
                        }
                    ),
                );
            }
            after(rt);
        }),
    );
}

fn set_timer(rt: &RealRuntime, addr: usize, due: i64, period_ms: i32, dpc: usize) -> bool {
    if !rt.kernel().st.borrow().timers.contains_key(&addr) {
        rt.note("KeSetTimer of a KTIMER never initialized; initialized now".to_owned());
        serve_now(rt, KernelCall::InitTimer { addr, sync: false });
    }
    let event = event_of(rt, addr, "KTIMER");
    event.reset();
    let (was, generation) = {
        let mut st = rt.kernel().st.borrow_mut();
        let t = st.timers.get_mut(&addr).expect("inserted above");
        let was = t.armed;
        t.armed = true;
        t.generation += 1;
        (was, t.generation)
    };
    let first = relative(rt, due);
    let period = Duration::from_millis(period_ms.max(0) as u64);
    let rt2 = rt.clone();
    let sched = rt.sched().clone();
    let name = event_name(rt, addr);
    sched
        .clone()
        .spawn(format!("os-timer-{name}"), true, async move {
            let mut wait = first;
            loop {
                sched.sleep(wait).await;
                let live = rt2
                    .kernel()
                    .st
                    .borrow()
                    .timers
                    .get(&addr)
                    .is_some_and(|t| t.generation == generation && t.armed);
                if !live {
                    return;
                }
                if period.is_zero()
                    && let Some(t) = rt2.kernel().st.borrow_mut().timers.get_mut(&addr)
                {
                    t.armed = false;
                }
                event.set();
                if dpc != 0 {
                    insert_dpc(&rt2, dpc, 0, 0);
                }
                sched.yield_now().await;
                if period.is_zero() {
                    return;
                }
                wait = period;
            }
        });
    was
}

fn event_name(rt: &RealRuntime, addr: usize) -> String {
    rt.kernel()
        .st
        .borrow()
        .events
        .get(&addr)
        .map(|e| e.name.replace(' ', ""))
        .unwrap_or_default()
}

fn queue_work_item(rt: &RealRuntime, item: usize, routine: usize, queue: i32, context: usize) {
    check_max(
        rt,
        "IoQueueWorkItem",
        DISPATCH_LEVEL,
        0x0002_0011,
        RuleId::R69,
    );
    {
        let mut st = rt.kernel().st.borrow_mut();
        match st.work_items.get_mut(&item) {
            Some(w) if w.queued => {
                drop(st);
                rt.note(format!(
                    "IoQueueWorkItem of a work item already queued (this corrupts system data on Windows); ignored ({})",
                    place(rt, rt.sched().current())
                ));
                return;
            }
            Some(w) => w.queued = true,
            None => {
                drop(st);
                rt.note(
                    "IoQueueWorkItem of a work item IoAllocateWorkItem never returned; ignored"
                        .to_owned(),
                );
                return;
            }
        }
    }
    if queue != 1 {
        rt.note(format!(
            "IoQueueWorkItem with QueueType {queue}: drivers must use DelayedWorkQueue (1)"
        ));
    }
    let name = routine_name(routine);
    let rt2 = rt.clone();
    let job = move || {
        type Routine = unsafe extern "C" fn(usize, usize);
        // SAFETY: `routine` is the PIO_WORKITEM_ROUTINE the driver gave IoQueueWorkItem, called
        // with the documented arguments (the device object, which the simulator does not model,
        // and the driver's context).
        let f: Routine = unsafe { std::mem::transmute::<usize, Routine>(routine) };
        // SAFETY: see above.
        unsafe { f(0, context) };
    };
    spawn_routine(
        rt,
        format!("kmd-work-{name}"),
        format!("the work item {name}"),
        PASSIVE_LEVEL,
        Box::new(job),
        Box::new(move || {
            // The item is dequeued before its routine runs, so the routine may requeue it.
            if let Some(w) = rt2.kernel().st.borrow_mut().work_items.get_mut(&item) {
                w.queued = false;
            }
            true
        }),
        Box::new(|_: &RealRuntime| {}),
    );
}

/// Driver Verifier's low-resources simulation, as the scenario asks (`os.pool_faults`).
fn inject_failure(rt: &RealRuntime, api: &str, tag: u32) -> bool {
    let sched = rt.sched();
    let site = {
        let ddi = sched
            .try_current()
            .and_then(|t| sched.frames(t).last().map(|d| d.name().to_owned()))
            .unwrap_or_else(|| "DriverEntry".to_owned());
        format!("{api} '{}' in {ddi}", tag_text(tag))
    };
    let (fail, why) = {
        let mut st = rt.kernel().st.borrow_mut();
        st.allocations += 1;
        let n = st.allocations;
        let f = &st.faults;
        if f.fail_every > 0 && n.is_multiple_of(f.fail_every) {
            (true, format!("every {}th allocation", f.fail_every))
        } else if f.fail_calls.contains(&n) {
            (true, format!("allocation {n}"))
        } else if f.systematic && !st.sites.contains(&site) {
            st.sites.insert(site.clone());
            (
                true,
                "the first allocation from this call site (systematic low resources simulation)"
                    .to_owned(),
            )
        } else {
            (false, String::new())
        }
    };
    if fail {
        rt.note(format!("low resources simulation: {site} fails ({why})"));
        // The OS model's pool accounting learns that memory ran out, so a driver that refuses
        // a GPU context with STATUS_NO_MEMORY now is within R71: no block can be this large.
        if let Some(d) = rt.inner.services.borrow().dxgkrnl.clone() {
            let _ = d.allocate_pool(u64::MAX);
        }
    }
    fail
}

/// Whether an allocation may go ahead; the memory itself is taken by the calling thread (so
/// the driver's heap use stays on its own thread, as with its own `malloc`, and addresses the
/// bridge maps to handles do not depend on which thread the executor ran on).
fn approve(
    rt: &RealRuntime,
    api: &'static str,
    paged: bool,
    bytes: usize,
    tag: u32,
    valid: bool,
) -> bool {
    let on_thread = rt.sched().try_current().is_some();
    if on_thread {
        if paged {
            check_max(rt, api, APC_LEVEL, 0x01, RuleId::R70);
        } else {
            check_max(rt, api, DISPATCH_LEVEL, 0x02, RuleId::R69);
        }
    }
    if !valid {
        rt.note(format!(
            "{api} with invalid pool flags or a zero tag: the allocation fails (NULL)"
        ));
        return false;
    }
    if bytes == 0 {
        rt.note(format!(
            "{api} of 0 bytes (Driver Verifier: C4/0x00); given a minimal block"
        ));
    }
    if inject_failure(rt, api, tag) {
        return false;
    }
    let dxgkrnl = rt.inner.services.borrow().dxgkrnl.clone();
    if let Some(d) = &dxgkrnl
        && !d.allocate_pool(bytes as u64)
    {
        rt.note(format!(
            "{api} of {bytes} bytes fails: the scenario's memory budget is spent"
        ));
        return false;
    }
    true
}

/// Records a block the calling thread allocated after [`approve`].
fn record(rt: &RealRuntime, api: &'static str, paged: bool, bytes: usize, tag: u32, p: usize) {
    if p == 0 {
        if let Some(d) = rt.inner.services.borrow().dxgkrnl.clone() {
            d.free_pool(bytes as u64);
        }
        return;
    }
    let sched = rt.sched();
    let frames = sched
        .try_current()
        .map(|t| sched.frames(t))
        .unwrap_or_default();
    let miracast = frames.iter().any(|d| {
        matches!(
            d,
            Ddi::DxgkDdiMiracastCreateContext
                | Ddi::DxgkDdiMiracastIoControl
                | Ddi::DxgkCbMiracastSendMessageCallback
        )
    });
    let place = match sched.try_current() {
        Some(t) => place(rt, t),
        None => "MiracastSimKmdEntry".to_owned(),
    };
    forget_shadow(rt, p, bytes);
    rt.kernel().st.borrow_mut().blocks.insert(
        p,
        Block {
            bytes: bytes as u64,
            tag,
            paged,
            api,
            miracast,
            place,
        },
    );
}

/// Whether the calling thread may free `addr` (a block the pool gave and did not take back).
fn free(rt: &RealRuntime, api: &'static str, addr: usize, tag: Option<u32>) -> bool {
    if addr == 0 {
        return false;
    }
    let on_thread = rt.sched().try_current().is_some();
    let block = rt.kernel().st.borrow_mut().blocks.remove(&addr);
    let Some(block) = block else {
        rt.note(format!(
            "DRIVER_VERIFIER_DETECTED_VIOLATION (C4/0x10): {api} of memory the pool never allocated or already freed; not freed again{}",
            if on_thread {
                format!(" ({})", place(rt, rt.sched().current()))
            } else {
                String::new()
            }
        ));
        return false;
    };
    if on_thread {
        if block.paged {
            check_max(rt, api, APC_LEVEL, 0x11, RuleId::R70);
        } else {
            check_max(rt, api, DISPATCH_LEVEL, 0x12, RuleId::R69);
        }
    }
    if let Some(t) = tag
        && t != block.tag
    {
        rt.note(format!(
            "BAD_POOL_CALLER (0xC2/0x0A): {api} with tag '{}' of a block allocated with tag '{}'",
            tag_text(t),
            tag_text(block.tag)
        ));
    }
    if let Some(d) = rt.inner.services.borrow().dxgkrnl.clone() {
        d.free_pool(block.bytes);
    }
    forget_shadow(rt, addr, block.bytes as usize);
    true
}

/// Memory given back or handed out anew has no access history.
fn forget_shadow(rt: &RealRuntime, addr: usize, bytes: usize) {
    let end = addr + bytes.max(1);
    let mut st = rt.kernel().st.borrow_mut();
    let keys: Vec<usize> = st.shadow.range(addr..end).map(|(k, _)| *k).collect();
    for k in keys {
        st.shadow.remove(&k);
    }
}

/// Forgets the pthread mutex clocks inside memory given back or handed out anew (a mutex
/// destroyed with its block publishes nothing to one that reuses the address).
fn forget_sync_clocks(rt: &RealRuntime, addr: usize, bytes: usize) {
    let mut st = rt.kernel().st.borrow_mut();
    let keys: Vec<usize> = st
        .sync_clocks
        .range(addr..addr + bytes.max(1))
        .map(|(k, _)| *k)
        .collect();
    for k in keys {
        st.sync_clocks.remove(&k);
    }
}

/// "StartMiracastSession": the innermost DDI of `thread`, or its name on a driver thread.
fn allocation_place(rt: &RealRuntime, thread: ThreadId) -> String {
    let sched = rt.sched();
    match sched.frames(thread).last() {
        Some(ddi) => ddi.name().to_owned(),
        None => sched.thread_name(thread),
    }
}

/// The race check (a driver built with `-fsanitize=thread`, see `include/miracast_sim_race.h`):
/// what the driver's code did since it got the turn, on the current simulated thread, in order.
/// Loads and stores of memory the driver owns are checked against the shadow memory; heap
/// blocks taken or given back change what it owns (and lose their history); a pthread mutex's
/// unlock is a release and its lock an acquire of the mutex's clock, as a `SimMutex` is. Two
/// accesses of different threads, one a write, that the scheduler's happens-before does not
/// order (the OS's documented synchronization, simulated locks and events, the kernel routines,
/// the driver's pthread mutexes; never the bridge's own hand-offs) are a race.
pub(crate) fn check_accesses(rt: &RealRuntime) {
    let events = match rt.inner.shared.accesses.lock() {
        Ok(mut a) if !a.is_empty() => std::mem::take(&mut *a),
        _ => return,
    };
    let sched = rt.sched();
    let Some(me) = sched.try_current() else {
        return;
    };
    let mut clock = sched.clock_of_current();
    let slot = sched.clock_slot(me);
    let mut epoch = clock.get(slot);
    let mut template: Option<Access> = None;
    let mut races = Vec::new();
    for event in events {
        let (addr, size, write) = match event {
            RaceEvent::Access { addr, size, write } => (addr, size, write),
            RaceEvent::HeapAllocated { addr, bytes, role } => {
                forget_shadow(rt, addr, bytes);
                forget_sync_clocks(rt, addr, bytes);
                let place = allocation_place(rt, me);
                rt.kernel()
                    .st
                    .borrow_mut()
                    .heap
                    .insert(addr, HeapBlock { bytes, role, place });
                continue;
            }
            RaceEvent::HeapFreed { addr } => {
                let block = rt.kernel().st.borrow_mut().heap.remove(&addr);
                if let Some(block) = block {
                    forget_shadow(rt, addr, block.bytes);
                    forget_sync_clocks(rt, addr, block.bytes);
                }
                continue;
            }
            RaceEvent::Released { sync } | RaceEvent::ReleasedByStore { sync } => {
                // Published before the tick: this thread's later accesses are in an epoch the
                // next acquirer has not seen.
                let released = sched.release();
                let mut st = rt.kernel().st.borrow_mut();
                if matches!(event, RaceEvent::ReleasedByStore { .. }) {
                    st.sync_clocks.insert(sync, released);
                } else {
                    st.sync_clocks.entry(sync).or_default().join(&released);
                }
                drop(st);
                clock = sched.clock_of_current();
                epoch = clock.get(slot);
                continue;
            }
            RaceEvent::Acquired { sync } => {
                let published = rt.kernel().st.borrow().sync_clocks.get(&sync).cloned();
                if let Some(published) = published {
                    sched.acquire(&published);
                    clock = sched.clock_of_current();
                }
                continue;
            }
        };
        if !driver_owned(rt, addr) {
            continue;
        }
        let access = template
            .get_or_insert_with(|| Access {
                thread: me,
                slot: slot as u32,
                thread_name: sched.thread_name(me),
                inside: sched.frames(me),
                write,
                trace_seq: sched.trace_len(),
            })
            .clone();
        let access = Access { write, ..access };
        // Byte by byte, so that neighbouring fields (an `int` written under a lock next to one
        // written without) are never taken for one another; one report per access.
        let mut race: Option<(usize, Access)> = None;
        let mut st = rt.kernel().st.borrow_mut();
        for byte in addr..addr + size.max(1) {
            let cell = st.shadow.entry(byte).or_default();
            let conflict = crate::sched::tracked::unordered_conflict(
                cell.last_write.as_ref(),
                &cell.reads,
                me,
                &clock,
                write,
            );
            if let Some(first) = conflict
                && !cell.reported
            {
                cell.reported = true;
                race.get_or_insert((byte, first));
            }
            if write {
                cell.last_write = Some((access.clone(), epoch));
                cell.reads.clear();
            } else {
                cell.reads.retain(|(a, _)| a.thread != me);
                cell.reads.push((access.clone(), epoch));
            }
        }
        drop(st);
        if let Some((byte, first)) = race {
            races.push((byte, first, access));
        }
    }
    for (byte, first, second) in races {
        let cell = memory_name(rt, byte);
        sched.report_race(RaceReport {
            cell,
            first,
            second,
        });
    }
}

/// The pool block or heap block holding `addr`, as (start, bytes).
fn owning_block(st: &State, addr: usize) -> Option<(usize, usize)> {
    let pool = st
        .blocks
        .range(..=addr)
        .next_back()
        .map(|(start, b)| (*start, b.bytes.max(1) as usize));
    let heap = st
        .heap
        .range(..=addr)
        .next_back()
        .map(|(start, b)| (*start, b.bytes.max(1)));
    [pool, heap]
        .into_iter()
        .flatten()
        .find(|(start, bytes)| addr < start + bytes)
}

/// The driver library holding `addr` (its static data), if any.
fn library_of(rt: &RealRuntime, addr: usize) -> Option<DriverRole> {
    let base = library_base(addr)?;
    let st = rt.kernel().st.borrow();
    st.libraries
        .iter()
        .find(|(b, _)| *b == base)
        .map(|(_, role)| *role)
}

/// Memory the driver owns: its pool blocks, the live heap blocks a race-check build allocated
/// on a bridge thread, and the static data of the driver libraries. The buffers the OS passes
/// to a DDI (fresh per call) and heap memory the simulator did not see allocated (whose reuse
/// by a later call would look like sharing) are left out.
fn driver_owned(rt: &RealRuntime, addr: usize) -> bool {
    owning_block(&rt.kernel().st.borrow(), addr).is_some() || library_of(rt, addr).is_some()
}

/// A name for driver memory that does not depend on where the heap put it: the pool block's
/// tag and the offset, the heap block's size, offset and allocating DDI, or the library and
/// offset of a global. It starts with whose memory it is (`kmd ...`, `umd ...`), which is what
/// `rules::race_violation` attributes the race by.
fn memory_name(rt: &RealRuntime, byte: usize) -> String {
    let st = rt.kernel().st.borrow();
    if let Some((start, b)) = st.blocks.range(..=byte).next_back()
        && byte < start + b.bytes.max(1) as usize
    {
        return format!(
            "kmd pool '{}' +{:#x} ({} bytes from {})",
            tag_text(b.tag),
            byte - start,
            b.bytes,
            b.api
        );
    }
    if let Some((start, b)) = st.heap.range(..=byte).next_back()
        && byte < start + b.bytes.max(1)
    {
        return format!(
            "{} heap block of {} bytes +{:#x} (allocated in {})",
            b.role.prefix(),
            b.bytes,
            byte - start,
            b.place
        );
    }
    drop(st);
    let role = library_of(rt, byte).unwrap_or(DriverRole::Kmd);
    format!("{} memory {}", role.prefix(), routine_name(byte))
}

// ---- the C entry points ----------------------------------------------------------------------

thread_local! {
    /// The runtime whose KMD runs `MiracastSimKmdEntry` on this (the loader's) thread.
    static LOADING: RefCell<Option<RealRuntime>> = const { RefCell::new(None) };
}

/// Runs `f` (the driver's entry) with kernel routines served by `rt` on this thread.
pub(crate) fn while_loading<R>(rt: &RealRuntime, f: impl FnOnce() -> R) -> R {
    LOADING.with(|l| *l.borrow_mut() = Some(rt.clone()));
    let r = f();
    LOADING.with(|l| *l.borrow_mut() = None);
    r
}

fn request(call: KernelCall) -> HookReply {
    if hook_shared().is_some() {
        return hook_call(HookRequest::Kernel(call));
    }
    let rt = LOADING.with(|l| l.borrow().clone());
    match rt {
        Some(rt) => serve_now(&rt, call),
        None => {
            // Neither a simulated thread nor the loader (a thread the driver started behind the
            // simulator's back): nothing is tracked. Pool still works.
            // Pool is approved (and taken untracked); frees of untracked blocks go ahead.
            match call {
                KernelCall::Alloc { valid: true, .. } | KernelCall::Free { .. } => {
                    HookReply::Value(1)
                }
                _ => HookReply::Unknown,
            }
        }
    }
}

fn value(reply: HookReply) -> u64 {
    match reply {
        HookReply::Value(v) => v,
        _ => 0,
    }
}

unsafe extern "C" fn ke_initialize_spin_lock(lock: *mut usize) {
    if !lock.is_null() {
        // SAFETY: the driver's KSPIN_LOCK; zero is its initial value on Windows.
        unsafe { *lock = 0 };
    }
    request(KernelCall::InitLock {
        addr: lock as usize,
        how: LockHow::Spin,
    });
}

unsafe extern "C" fn ke_acquire_spin_lock_raise_to_dpc(lock: *mut usize) -> u8 {
    value(request(KernelCall::Acquire {
        addr: lock as usize,
        how: LockHow::Spin,
    })) as u8
}

unsafe extern "C" fn ke_release_spin_lock(lock: *mut usize, new_irql: u8) {
    request(KernelCall::Release {
        addr: lock as usize,
        how: LockHow::Spin,
        new_irql,
    });
}

unsafe extern "C" fn ke_acquire_spin_lock_at_dpc_level(lock: *mut usize) {
    request(KernelCall::Acquire {
        addr: lock as usize,
        how: LockHow::SpinAtDpc,
    });
}

unsafe extern "C" fn ke_release_spin_lock_from_dpc_level(lock: *mut usize) {
    request(KernelCall::Release {
        addr: lock as usize,
        how: LockHow::SpinAtDpc,
        new_irql: DISPATCH_LEVEL,
    });
}

/// `KLOCK_QUEUE_HANDLE`: the simulator keeps the lock's address in `LockQueue[0]`.
#[repr(C)]
struct LockQueueHandle {
    lock_queue: [usize; 2],
    old_irql: u8,
}

unsafe extern "C" fn ke_acquire_in_stack_queued_spin_lock(
    lock: *mut usize,
    handle: *mut LockQueueHandle,
) {
    let old = value(request(KernelCall::Acquire {
        addr: lock as usize,
        how: LockHow::Spin,
    })) as u8;
    if !handle.is_null() {
        // SAFETY: the driver's KLOCK_QUEUE_HANDLE, which this routine fills (on its stack).
        unsafe {
            (*handle).lock_queue = [lock as usize, 0];
            (*handle).old_irql = old;
        }
    }
}

unsafe extern "C" fn ke_release_in_stack_queued_spin_lock(handle: *mut LockQueueHandle) {
    if handle.is_null() {
        return;
    }
    // SAFETY: the handle the driver passed to the matching acquire, which filled it.
    let (lock, old) = unsafe { ((*handle).lock_queue[0], (*handle).old_irql) };
    request(KernelCall::Release {
        addr: lock,
        how: LockHow::Spin,
        new_irql: old,
    });
}

unsafe extern "C" fn ke_acquire_in_stack_queued_spin_lock_at_dpc_level(
    lock: *mut usize,
    handle: *mut LockQueueHandle,
) {
    request(KernelCall::Acquire {
        addr: lock as usize,
        how: LockHow::SpinAtDpc,
    });
    if !handle.is_null() {
        // SAFETY: the driver's KLOCK_QUEUE_HANDLE, which this routine fills.
        unsafe {
            (*handle).lock_queue = [lock as usize, 0];
            (*handle).old_irql = DISPATCH_LEVEL;
        }
    }
}

unsafe extern "C" fn ke_release_in_stack_queued_spin_lock_from_dpc_level(
    handle: *mut LockQueueHandle,
) {
    if handle.is_null() {
        return;
    }
    // SAFETY: the handle the driver passed to the matching acquire, which filled it.
    let lock = unsafe { (*handle).lock_queue[0] };
    request(KernelCall::Release {
        addr: lock,
        how: LockHow::SpinAtDpc,
        new_irql: DISPATCH_LEVEL,
    });
}

unsafe extern "C" fn ex_try_to_acquire_fast_mutex(m: *mut libc::c_void) -> u8 {
    value(request(KernelCall::TryAcquire { addr: m as usize })) as u8
}

unsafe extern "C" fn ke_enter_critical_region() {
    request(KernelCall::CriticalRegion { enter: true });
}

unsafe extern "C" fn ke_leave_critical_region() {
    request(KernelCall::CriticalRegion { enter: false });
}

unsafe extern "C" fn ex_initialize_resource_lite(r: *mut libc::c_void) -> i32 {
    value(request(KernelCall::InitResource { addr: r as usize })) as i32
}

unsafe extern "C" fn ex_delete_resource_lite(r: *mut libc::c_void) -> i32 {
    value(request(KernelCall::DeleteResource { addr: r as usize })) as i32
}

unsafe extern "C" fn ex_acquire_resource_exclusive_lite(r: *mut libc::c_void, wait: u8) -> u8 {
    value(request(KernelCall::AcquireResource {
        addr: r as usize,
        exclusive: true,
        wait: wait != 0,
    })) as u8
}

unsafe extern "C" fn ex_acquire_resource_shared_lite(r: *mut libc::c_void, wait: u8) -> u8 {
    value(request(KernelCall::AcquireResource {
        addr: r as usize,
        exclusive: false,
        wait: wait != 0,
    })) as u8
}

unsafe extern "C" fn ex_release_resource_lite(r: *mut libc::c_void) {
    request(KernelCall::ReleaseResource { addr: r as usize });
}

unsafe extern "C" fn ex_initialize_fast_mutex(m: *mut libc::c_void) {
    request(KernelCall::InitLock {
        addr: m as usize,
        how: LockHow::Fast,
    });
}

unsafe extern "C" fn ex_acquire_fast_mutex(m: *mut libc::c_void) {
    request(KernelCall::Acquire {
        addr: m as usize,
        how: LockHow::Fast,
    });
}

unsafe extern "C" fn ex_release_fast_mutex(m: *mut libc::c_void) {
    request(KernelCall::Release {
        addr: m as usize,
        how: LockHow::Fast,
        new_irql: PASSIVE_LEVEL,
    });
}

unsafe extern "C" fn ke_initialize_guarded_mutex(m: *mut libc::c_void) {
    request(KernelCall::InitLock {
        addr: m as usize,
        how: LockHow::Guarded,
    });
}

unsafe extern "C" fn ke_acquire_guarded_mutex(m: *mut libc::c_void) {
    request(KernelCall::Acquire {
        addr: m as usize,
        how: LockHow::Guarded,
    });
}

unsafe extern "C" fn ke_release_guarded_mutex(m: *mut libc::c_void) {
    request(KernelCall::Release {
        addr: m as usize,
        how: LockHow::Guarded,
        new_irql: PASSIVE_LEVEL,
    });
}

unsafe extern "C" fn ke_initialize_event(e: *mut libc::c_void, kind: i32, state: u8) {
    request(KernelCall::InitEvent {
        addr: e as usize,
        sync: kind == 1,
        signaled: state != 0,
    });
}

unsafe extern "C" fn ke_set_event(e: *mut libc::c_void, _increment: i32, _wait: u8) -> i32 {
    value(request(KernelCall::SetEvent { addr: e as usize })) as i32
}

unsafe extern "C" fn ke_reset_event(e: *mut libc::c_void) -> i32 {
    value(request(KernelCall::ResetEvent {
        addr: e as usize,
        routine: "KeResetEvent",
    })) as i32
}

unsafe extern "C" fn ke_clear_event(e: *mut libc::c_void) {
    request(KernelCall::ResetEvent {
        addr: e as usize,
        routine: "KeClearEvent",
    });
}

unsafe extern "C" fn ke_read_state_event(e: *mut libc::c_void) -> i32 {
    value(request(KernelCall::ReadEvent { addr: e as usize })) as i32
}

unsafe extern "C" fn ke_wait_for_single_object(
    object: *mut libc::c_void,
    _reason: i32,
    _mode: i8,
    _alertable: u8,
    timeout: *const i64,
) -> i32 {
    let timeout = if timeout.is_null() {
        None
    } else {
        // SAFETY: a non-NULL PLARGE_INTEGER the driver passes.
        Some(unsafe { *timeout })
    };
    match request(KernelCall::Wait {
        addr: object as usize,
        timeout,
    }) {
        HookReply::TimedOut => NtStatus::STATUS_TIMEOUT.0,
        _ => NtStatus::STATUS_SUCCESS.0,
    }
}

unsafe extern "C" fn ke_delay_execution_thread(
    _mode: i8,
    _alertable: u8,
    interval: *const i64,
) -> i32 {
    if interval.is_null() {
        return NtStatus::STATUS_INVALID_PARAMETER.0;
    }
    // SAFETY: a non-NULL PLARGE_INTEGER the driver passes.
    let interval = unsafe { *interval };
    request(KernelCall::Delay { interval });
    NtStatus::STATUS_SUCCESS.0
}

unsafe extern "C" fn ke_get_current_irql() -> u8 {
    value(request(KernelCall::GetIrql)) as u8
}

unsafe extern "C" fn kf_raise_irql(new: u8) -> u8 {
    value(request(KernelCall::RaiseIrql {
        new,
        routine: "KeRaiseIrql",
    })) as u8
}

unsafe extern "C" fn ke_raise_irql_to_dpc_level() -> u8 {
    value(request(KernelCall::RaiseIrql {
        new: DISPATCH_LEVEL,
        routine: "KeRaiseIrqlToDpcLevel",
    })) as u8
}

unsafe extern "C" fn ke_lower_irql(new: u8) {
    request(KernelCall::LowerIrql { new });
}

unsafe extern "C" fn ke_initialize_dpc(dpc: *mut libc::c_void, routine: usize, context: usize) {
    request(KernelCall::InitDpc {
        addr: dpc as usize,
        routine,
        context,
    });
}

unsafe extern "C" fn ke_insert_queue_dpc(dpc: *mut libc::c_void, arg1: usize, arg2: usize) -> u8 {
    value(request(KernelCall::InsertDpc {
        addr: dpc as usize,
        arg1,
        arg2,
    })) as u8
}

unsafe extern "C" fn ke_remove_queue_dpc(dpc: *mut libc::c_void) -> u8 {
    value(request(KernelCall::RemoveDpc { addr: dpc as usize })) as u8
}

unsafe extern "C" fn ke_flush_queued_dpcs() {
    request(KernelCall::FlushQueuedDpcs);
}

unsafe extern "C" fn ke_initialize_timer(t: *mut libc::c_void) {
    request(KernelCall::InitTimer {
        addr: t as usize,
        sync: false,
    });
}

unsafe extern "C" fn ke_initialize_timer_ex(t: *mut libc::c_void, kind: i32) {
    request(KernelCall::InitTimer {
        addr: t as usize,
        sync: kind == 1,
    });
}

unsafe extern "C" fn ke_set_timer(t: *mut libc::c_void, due: i64, dpc: *mut libc::c_void) -> u8 {
    value(request(KernelCall::SetTimer {
        addr: t as usize,
        due,
        period_ms: 0,
        dpc: dpc as usize,
    })) as u8
}

unsafe extern "C" fn ke_set_timer_ex(
    t: *mut libc::c_void,
    due: i64,
    period: i32,
    dpc: *mut libc::c_void,
) -> u8 {
    value(request(KernelCall::SetTimer {
        addr: t as usize,
        due,
        period_ms: period,
        dpc: dpc as usize,
    })) as u8
}

unsafe extern "C" fn ke_cancel_timer(t: *mut libc::c_void) -> u8 {
    value(request(KernelCall::CancelTimer { addr: t as usize })) as u8
}

unsafe extern "C" fn ke_read_state_timer(t: *mut libc::c_void) -> u8 {
    value(request(KernelCall::ReadEvent { addr: t as usize })) as u8
}

unsafe extern "C" fn io_allocate_work_item(device: *mut libc::c_void) -> *mut libc::c_void {
    value(request(KernelCall::AllocWorkItem {
        device: device as usize,
    })) as usize as *mut libc::c_void
}

unsafe extern "C" fn io_queue_work_item(
    item: *mut libc::c_void,
    routine: usize,
    queue: i32,
    context: usize,
) {
    request(KernelCall::QueueWorkItem {
        item: item as usize,
        routine,
        queue,
        context,
    });
}

unsafe extern "C" fn io_free_work_item(item: *mut libc::c_void) {
    request(KernelCall::FreeWorkItem {
        item: item as usize,
    });
}

/// POOL_FLAGS bits (k:pool_flags).
const POOL_FLAG_UNINITIALIZED: u64 = 0x2;
const POOL_FLAG_NON_PAGED: u64 = 0x40;
const POOL_FLAG_NON_PAGED_EXECUTE: u64 = 0x80;
const POOL_FLAG_PAGED: u64 = 0x100;
/// The required (low 32) bits the simulator knows: USE_QUOTA, UNINITIALIZED, CACHE_ALIGNED,
/// RAISE_ON_FAILURE and the three kinds.
const POOL_FLAGS_KNOWN: u64 = 0x1 | 0x2 | 0x8 | 0x20 | 0x40 | 0x80 | 0x100;

/// Allocates pool on the calling thread once the simulator approved it, and records the block.
fn pool_allocate(
    api: &'static str,
    paged: bool,
    bytes: usize,
    tag: u32,
    zeroed: bool,
    valid: bool,
) -> *mut libc::c_void {
    let approved = request(KernelCall::Alloc {
        api,
        paged,
        bytes,
        tag,
        valid,
    });
    if value(approved) != 1 {
        return std::ptr::null_mut();
    }
    let size = bytes.max(1);
    // SAFETY: a plain C heap block; the simulator records it and it is freed exactly once (by
    // the driver through ExFreePool*, or by the kernel state at the end of the run).
    let p = unsafe {
        if zeroed {
            libc::calloc(1, size)
        } else {
            libc::malloc(size)
        }
    };
    request(KernelCall::Allocated {
        api,
        paged,
        bytes,
        tag,
        addr: p as usize,
    });
    p
}

/// Frees pool on the calling thread if the simulator knows the block.
fn pool_free(api: &'static str, p: *mut libc::c_void, tag: Option<u32>) {
    if value(request(KernelCall::Free {
        api,
        addr: p as usize,
        tag,
    })) == 1
    {
        // SAFETY: the block came from `pool_allocate` and the simulator just took it out of its
        // table (or it was never tracked: a thread the simulator does not know), so it is freed
        // once.
        unsafe { libc::free(p) };
    }
}

unsafe extern "C" fn ex_allocate_pool2(flags: u64, bytes: usize, tag: u32) -> *mut libc::c_void {
    let required = flags & 0xFFFF_FFFF;
    let kinds = [
        POOL_FLAG_NON_PAGED,
        POOL_FLAG_NON_PAGED_EXECUTE,
        POOL_FLAG_PAGED,
    ]
    .iter()
    .filter(|k| required & **k != 0)
    .count();
    let valid = tag != 0 && kinds == 1 && required & !POOL_FLAGS_KNOWN == 0;
    pool_allocate(
        "ExAllocatePool2",
        required & POOL_FLAG_PAGED != 0,
        bytes,
        tag,
        flags & POOL_FLAG_UNINITIALIZED == 0,
        valid,
    )
}

fn pool_type_paged(pool_type: i32) -> bool {
    // PagedPool (1), PagedPoolCacheAligned (5) and the session paged types (33, 37).
    matches!(pool_type & 0x1FF, 1 | 5 | 33 | 37)
}

unsafe extern "C" fn ex_allocate_pool_with_tag(
    pool_type: i32,
    bytes: usize,
    tag: u32,
) -> *mut libc::c_void {
    pool_allocate(
        "ExAllocatePoolWithTag",
        pool_type_paged(pool_type),
        bytes,
        tag,
        false,
        true,
    )
}

unsafe extern "C" fn ex_free_pool_with_tag(p: *mut libc::c_void, tag: u32) {
    pool_free("ExFreePoolWithTag", p, Some(tag));
}

unsafe extern "C" fn ex_free_pool(p: *mut libc::c_void) {
    pool_free("ExFreePool", p, None);
}

fn now_100ns() -> i64 {
    hook_shared().map_or(0, |s| s.now_us() as i64 * 10)
}

unsafe extern "C" fn ke_query_performance_counter(frequency: *mut i64) -> i64 {
    if !frequency.is_null() {
        // SAFETY: a non-NULL PLARGE_INTEGER the driver passes.
        unsafe { *frequency = PERFORMANCE_FREQUENCY };
    }
    now_100ns()
}

unsafe extern "C" fn ke_query_system_time(t: *mut i64) {
    if !t.is_null() {
        // SAFETY: a non-NULL PLARGE_INTEGER the driver passes.
        unsafe { *t = SYSTEM_TIME_EPOCH + now_100ns() };
    }
}

unsafe extern "C" fn ke_query_interrupt_time() -> u64 {
    now_100ns() as u64
}

unsafe extern "C" fn ke_stall_execution_processor(micros: u32) {
    request(KernelCall::Stall { micros });
}

thread_local! {
    /// This real thread's stack (its own locals are never shared).
    static STACK: std::cell::Cell<Option<(usize, usize)>> = const { std::cell::Cell::new(None) };
}

#[cfg(not(target_os = "linux"))]
fn own_stack() -> (usize, usize) {
    // The race check needs the loader's import binding, which is Linux-only.
    (0, 0)
}

#[cfg(target_os = "linux")]
fn own_stack() -> (usize, usize) {
    if let Some(s) = STACK.with(|s| s.get()) {
        return s;
    }
    let mut bounds = (0, 0);
    // SAFETY: `attr` is initialized by pthread_getattr_np for the calling thread, read with
    // pthread_attr_getstack and destroyed once.
    unsafe {
        let mut attr: libc::pthread_attr_t = std::mem::zeroed();
        if libc::pthread_getattr_np(libc::pthread_self(), &mut attr) == 0 {
            let mut base: *mut libc::c_void = std::ptr::null_mut();
            let mut size: libc::size_t = 0;
            if libc::pthread_attr_getstack(&attr, &mut base, &mut size) == 0 {
                bounds = (base as usize, base as usize + size);
            }
            libc::pthread_attr_destroy(&mut attr);
        }
    }
    STACK.with(|s| s.set(Some(bounds)));
    bounds
}

unsafe extern "C" fn miracast_sim_tsan_access(
    address: *const libc::c_void,
    size: usize,
    write: u8,
) {
    let Some(shared) = hook_shared() else {
        return;
    };
    let addr = address as usize;
    let (lo, hi) = own_stack();
    if (lo..hi).contains(&addr) {
        return;
    }
    if let Ok(mut a) = shared.accesses.lock() {
        a.push(RaceEvent::Access {
            addr,
            size,
            write: write != 0,
        });
    }
}

/// `MiracastSimTsanSync` kinds (`include/miracast_sim_race.h`).
const TSAN_ACQUIRE: u32 = 1;
const TSAN_RELEASE: u32 = 2;
const TSAN_STORE: u32 = 4;

/// An atomic operation of a race-check build that orders (`include/miracast_sim_race.h`): the
/// release and then the acquire it makes, in the thread's event order.
unsafe extern "C" fn miracast_sim_tsan_sync(address: *const libc::c_void, kind: u32) {
    let sync = address as usize;
    if kind & TSAN_RELEASE != 0 {
        note_race_event(if kind & TSAN_STORE != 0 {
            RaceEvent::ReleasedByStore { sync }
        } else {
            RaceEvent::Released { sync }
        });
    }
    if kind & TSAN_ACQUIRE != 0 {
        note_race_event(RaceEvent::Acquired { sync });
    }
}

unsafe extern "C" fn miracast_sim_dbg_print(text: *const libc::c_char) -> u32 {
    if text.is_null() {
        return 0;
    }
    // SAFETY: the header's DbgPrint passes a NUL-terminated line of at most 512 bytes.
    let text = unsafe { std::ffi::CStr::from_ptr(text) }
        .to_string_lossy()
        .into_owned();
    request(KernelCall::Print { text });
    0
}

/// The routines, by the name the driver imports, for the loader's import rewriting.
pub(crate) fn routines() -> Vec<(&'static str, usize)> {
    macro_rules! table {
        ($($name:literal => $f:ident,)*) => {
            vec![$(($name, $f as *const () as usize)),*]
        };
    }
    table! {
        "KeInitializeSpinLock" => ke_initialize_spin_lock,
        "KeAcquireSpinLockRaiseToDpc" => ke_acquire_spin_lock_raise_to_dpc,
        "KeReleaseSpinLock" => ke_release_spin_lock,
        "KeAcquireSpinLockAtDpcLevel" => ke_acquire_spin_lock_at_dpc_level,
        "KeReleaseSpinLockFromDpcLevel" => ke_release_spin_lock_from_dpc_level,
        "ExInitializeFastMutex" => ex_initialize_fast_mutex,
        "ExAcquireFastMutex" => ex_acquire_fast_mutex,
        "ExReleaseFastMutex" => ex_release_fast_mutex,
        "ExTryToAcquireFastMutex" => ex_try_to_acquire_fast_mutex,
        "KeAcquireInStackQueuedSpinLock" => ke_acquire_in_stack_queued_spin_lock,
        "KeReleaseInStackQueuedSpinLock" => ke_release_in_stack_queued_spin_lock,
        "KeAcquireInStackQueuedSpinLockAtDpcLevel" => ke_acquire_in_stack_queued_spin_lock_at_dpc_level,
        "KeReleaseInStackQueuedSpinLockFromDpcLevel" => ke_release_in_stack_queued_spin_lock_from_dpc_level,
        "KeEnterCriticalRegion" => ke_enter_critical_region,
        "KeLeaveCriticalRegion" => ke_leave_critical_region,
        "ExInitializeResourceLite" => ex_initialize_resource_lite,
        "ExDeleteResourceLite" => ex_delete_resource_lite,
        "ExAcquireResourceExclusiveLite" => ex_acquire_resource_exclusive_lite,
        "ExAcquireResourceSharedLite" => ex_acquire_resource_shared_lite,
        "ExReleaseResourceLite" => ex_release_resource_lite,
        "KeInitializeGuardedMutex" => ke_initialize_guarded_mutex,
        "KeAcquireGuardedMutex" => ke_acquire_guarded_mutex,
        "KeReleaseGuardedMutex" => ke_release_guarded_mutex,
        "KeInitializeEvent" => ke_initialize_event,
        "KeSetEvent" => ke_set_event,
        "KeResetEvent" => ke_reset_event,
        "KeClearEvent" => ke_clear_event,
        "KeReadStateEvent" => ke_read_state_event,
        "KeWaitForSingleObject" => ke_wait_for_single_object,
        "KeDelayExecutionThread" => ke_delay_execution_thread,
        "KeGetCurrentIrql" => ke_get_current_irql,
        "KfRaiseIrql" => kf_raise_irql,
        "KeRaiseIrqlToDpcLevel" => ke_raise_irql_to_dpc_level,
        "KeLowerIrql" => ke_lower_irql,
        "KeInitializeDpc" => ke_initialize_dpc,
        "KeInsertQueueDpc" => ke_insert_queue_dpc,
        "KeRemoveQueueDpc" => ke_remove_queue_dpc,
        "KeFlushQueuedDpcs" => ke_flush_queued_dpcs,
        "KeInitializeTimer" => ke_initialize_timer,
        "KeInitializeTimerEx" => ke_initialize_timer_ex,
        "KeSetTimer" => ke_set_timer,
        "KeSetTimerEx" => ke_set_timer_ex,
        "KeCancelTimer" => ke_cancel_timer,
        "KeReadStateTimer" => ke_read_state_timer,
        "IoAllocateWorkItem" => io_allocate_work_item,
        "IoQueueWorkItem" => io_queue_work_item,
        "IoFreeWorkItem" => io_free_work_item,
        "ExAllocatePool2" => ex_allocate_pool2,
        "ExAllocatePoolWithTag" => ex_allocate_pool_with_tag,
        "ExFreePoolWithTag" => ex_free_pool_with_tag,
        "ExFreePool" => ex_free_pool,
        "KeQueryPerformanceCounter" => ke_query_performance_counter,
        "KeQuerySystemTime" => ke_query_system_time,
        "KeQuerySystemTimePrecise" => ke_query_system_time,
        "KeQueryInterruptTime" => ke_query_interrupt_time,
        "KeStallExecutionProcessor" => ke_stall_execution_processor,
        "MiracastSimTsanAccess" => miracast_sim_tsan_access,
        "MiracastSimTsanSync" => miracast_sim_tsan_sync,
        "MiracastSimDbgPrint" => miracast_sim_dbg_print,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every routine `include/miracast_sim_kernel.h` declares is bound by the loader: an unbound
    /// weak import would be NULL in the driver.
    #[test]
    fn every_declared_routine_is_bound() {
        let read = |name: &str| {
            std::fs::read_to_string(
                std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("include")
                    .join(name),
            )
            .expect("read the header")
        };
        // The kernel routines, and the race check's one import.
        let header = read("miracast_sim_kernel.h") + &read("miracast_sim_race.h");
        let bound: BTreeSet<&str> = routines().iter().map(|(n, _)| *n).collect();
        let declared: Vec<String> = header
            .lines()
            .filter(|l| {
                l.starts_with("NTKERNELAPI ") || l.starts_with("__attribute__((weak)) VOID NTAPI ")
            })
            .filter_map(|l| {
                let l = l.trim_start_matches("__attribute__((weak)) ");
                let name = l.split('(').next()?.split_whitespace().last()?;
                Some(name.to_owned())
            })
            .collect();
        assert!(declared.len() >= 40, "{declared:?}");
        for name in &declared {
            assert!(
                bound.contains(name.as_str()),
                "{name} is declared but not bound"
            );
        }
        assert_eq!(bound.len(), declared.len(), "{bound:?} vs {declared:?}");
    }

    #[test]
    fn irql_names_and_ddi_levels() {
        assert_eq!(irql_name(PASSIVE_LEVEL), "PASSIVE_LEVEL");
        assert_eq!(irql_name(DISPATCH_LEVEL), "DISPATCH_LEVEL");
        assert_eq!(irql_name(DEVICE_IRQL), "DIRQL (5)");
        assert_eq!(ddi_irql(Ddi::DxgkDdiInterruptRoutine), DEVICE_IRQL);
        assert_eq!(ddi_irql(Ddi::DxgkDdiDpcRoutine), DISPATCH_LEVEL);
        assert_eq!(ddi_irql(Ddi::DxgkDdiMiracastIoControl), PASSIVE_LEVEL);
        assert_eq!(tag_text(0x7478_434d), "MCxt");
    }

    /// A heap block of the UMD, at an address no library maps.
    const BLOCK: usize = 0x7e57_0000_0000;
    /// A pthread mutex, inside the block.
    const MUTEX: usize = BLOCK + 32;

    fn allocated() -> RaceEvent {
        RaceEvent::HeapAllocated {
            addr: BLOCK,
            bytes: 64,
            role: DriverRole::Umd,
        }
    }

    fn write(offset: usize, size: usize) -> RaceEvent {
        RaceEvent::Access {
            addr: BLOCK + offset,
            size,
            write: true,
        }
    }

    /// Runs two simulated threads that nothing orders (`a` first, then `b`), each handing one
    /// turn's race events to the check, and returns the races found.
    fn two_threads(a: Vec<RaceEvent>, b: Vec<RaceEvent>) -> Vec<RaceReport> {
        let sched = crate::sched::Sched::new(Box::new(crate::sched::FirstStrategy));
        let rt = RealRuntime::new(&sched, super::super::bridge::BridgeConfig::default());
        for (name, events) in [("a", a), ("b", b)] {
            let rt = rt.clone();
            sched.spawn(name, false, async move {
                if let Ok(mut buffer) = rt.inner.shared.accesses.lock() {
                    buffer.extend(events);
                }
                check_accesses(&rt);
            });
        }
        sched.run(crate::sched::RunLimits::default());
        sched.races()
    }

    #[test]
    fn a_live_heap_block_written_by_two_unordered_threads_is_a_race_named_after_the_block() {
        let races = two_threads(vec![allocated(), write(8, 4)], vec![write(8, 4)]);
        assert_eq!(races.len(), 1, "{races:?}");
        assert_eq!(
            races[0].cell,
            "umd heap block of 64 bytes +0x8 (allocated in a)"
        );
        assert_eq!(
            (
                races[0].first.thread_name.as_str(),
                races[0].second.thread_name.as_str()
            ),
            ("a", "b")
        );
    }

    #[test]
    fn a_heap_block_freed_and_allocated_again_on_another_thread_is_not_a_race() {
        let races = two_threads(
            vec![
                allocated(),
                write(8, 4),
                RaceEvent::HeapFreed { addr: BLOCK },
            ],
            vec![allocated(), write(8, 4)],
        );
        assert!(races.is_empty(), "{races:?}");
    }

    #[test]
    fn memory_the_driver_never_allocated_is_not_checked() {
        let races = two_threads(vec![write(8, 4)], vec![write(8, 4)]);
        assert!(races.is_empty(), "{races:?}");
    }

    #[test]
    fn neighbouring_fields_are_not_one_another() {
        let races = two_threads(vec![allocated(), write(8, 4)], vec![write(12, 4)]);
        assert!(races.is_empty(), "{races:?}");
    }

    #[test]
    fn a_release_orders_what_came_before_for_the_next_acquire_of_the_same_object() {
        let locked = two_threads(
            vec![
                allocated(),
                write(8, 4),
                RaceEvent::Released { sync: MUTEX },
            ],
            vec![RaceEvent::Acquired { sync: MUTEX }, write(8, 4)],
        );
        assert!(locked.is_empty(), "{locked:?}");
        // A write after the unlock is in an epoch the next locker has not seen.
        let after_unlock = two_threads(
            vec![
                allocated(),
                RaceEvent::Released { sync: MUTEX },
                write(8, 4),
            ],
            vec![RaceEvent::Acquired { sync: MUTEX }, write(8, 4)],
        );
        assert_eq!(after_unlock.len(), 1, "{after_unlock:?}");
        // A release store publishes its own thread's past to an acquire load of the atomic.
        let atomic = two_threads(
            vec![
                allocated(),
                write(8, 4),
                RaceEvent::ReleasedByStore { sync: MUTEX },
            ],
            vec![RaceEvent::Acquired { sync: MUTEX }, write(8, 4)],
        );
        assert!(atomic.is_empty(), "{atomic:?}");
        // Another mutex orders nothing.
        let other = two_threads(
            vec![
                allocated(),
                write(8, 4),
                RaceEvent::Released { sync: MUTEX },
            ],
            vec![RaceEvent::Acquired { sync: MUTEX + 8 }, write(8, 4)],
        );
        assert_eq!(other.len(), 1, "{other:?}");
    }
}
