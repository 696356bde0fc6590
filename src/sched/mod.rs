//! The scheduler: a deterministic single-threaded executor for simulated threads.
//!
//! Every simulated thread (an OS worker calling DDIs, the message-delivery worker, a UMD thread
//! issuing `MiracastIoControl`, a completion routine) is a future. Exactly one runs at a time,
//! and only when the scheduler gives it the turn. A thread gives the turn back at *choice points*:
//! DDI entry and exit, every OS-service call a driver makes, and every blocking operation. At a
//! choice point with more than one runnable thread, the [`Strategy`] picks; the pick is recorded
//! so the run can be replayed exactly.
//!
//! Why futures and not OS threads: a context switch here is one `poll`, so the reference drivers
//! pay no thread switch per choice (exploration runs hundreds of thousands of schedules a
//! second). A real driver binary runs on real threads whose every boundary is bridged into one
//! of these futures, so the same scheduler decides its order too.
//!
//! Map:
//! - [`clock`]: vector clocks (happens-before) for the race detector.
//! - [`op`]: operation descriptors (what a thread's next step does, what a step touched) for
//!   partial-order reduction in exploration.
//! - [`strategy`]: the [`Strategy`] trait; seeded random, replay and first-choice strategies.
//! - [`shared`]: [`Shared`] cells: OS-side state whose every access is recorded for exploration.
//! - [`sync`]: simulated mutexes and events (blocking, with virtual-time timeouts).
//! - [`tracked`]: [`Tracked`] cells that report unsynchronized concurrent access as a race.
//!
//! Time is virtual: it advances only when no thread can run and a timer is pending.

pub mod clock;
pub mod op;
pub mod shared;
pub mod strategy;
pub mod sync;
pub mod tracked;

pub use op::{ObjectId, Op, StepRecord, Touch, drivers, objects};
pub use shared::Shared;
pub use strategy::{
    Choice, ChoiceKind, Divergence, FirstStrategy, RandomStrategy, ReplayStrategy, Strategy,
    ThreadDecision,
};
pub use sync::{SimEvent, SimMutex, SimMutexGuard, SimRwGuard, SimRwLock, wait_any};
pub use tracked::{RaceReport, Tracked};

use crate::ddi::Ddi;
use crate::time::SimTime;
use crate::trace::{EventKind, Trace, TraceEvent};
use clock::VectorClock;
use std::cell::{Cell, RefCell};
use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

/// A simulated thread's id: its index in creation order.
pub type ThreadId = u32;

type TaskFuture = Pin<Box<dyn Future<Output = ()>>>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Status {
    Runnable,
    Blocked,
    Finished,
}

/// What a blocked thread waits for, for deadlock reports.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct WaitFor {
    /// The object (`mutex miracast-class`, `event start-finished`, ...).
    pub object: String,
    /// The thread holding it, when there is one.
    pub held_by: Option<ThreadId>,
}

struct ThreadInfo {
    name: String,
    status: Status,
    /// Daemon threads (OS workers waiting for work) do not keep a run alive.
    daemon: bool,
    clock: VectorClock,
    /// The thread's component in every vector clock. A finished thread's slot goes to a later
    /// thread whose creator has seen every epoch of it that escaped, which keeps clocks narrow
    /// where threads end seen by their successors' creators. A thread that ends after its last
    /// synchronization (a message-delivery thread) keeps its slot for good, so a long run's
    /// clocks grow with it; they are trees sharing their nodes ([`clock`]), so that width costs
    /// each clock operation only the tree's depth.
    slot: u32,
    /// The highest epoch of its own slot that escaped (see [`State::retired`]).
    escaped: u32,
    /// DDIs this thread is inside, outermost first.
    frames: Vec<Ddi>,
    waiting: Option<WaitFor>,
    /// Bumped at every block, so stale timers are ignored.
    block_epoch: u64,
    timed_out: bool,
    /// What the next step of this thread is declared to do (`None`: unknown).
    pending: Option<Op>,
    /// Whose code the thread runs outside any DDI frame ([`drivers`] bits): a thread a driver
    /// created inside one of its DDIs runs that driver's code.
    base_code: u8,
}

impl ThreadInfo {
    /// Whose code the thread runs now: a driver's inside a DDI the OS calls, the OS's inside a
    /// callback, its creator's outside any DDI.
    fn code(&self) -> u8 {
        match self.frames.last().map(|d| d.direction()) {
            Some(crate::ddi::Direction::OsToKmd) => drivers::KMD,
            Some(crate::ddi::Direction::OsToUmd) => drivers::UMD,
            Some(_) => 0,
            None => self.base_code,
        }
    }
}

/// Limits that turn a livelock into a reported end instead of a hang.
#[derive(Clone, Copy, Debug)]
pub struct RunLimits {
    /// Maximum number of polls.
    pub max_steps: u64,
    /// Maximum virtual time.
    pub max_time: SimTime,
}

impl Default for RunLimits {
    fn default() -> Self {
        RunLimits {
            max_steps: 2_000_000,
            max_time: SimTime::from_millis(3_600_000),
        }
    }
}

/// How a run ended.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "end", rename_all = "snake_case")]
pub enum RunEnd {
    /// Every non-daemon thread finished.
    Completed,
    /// Threads remain but none can run and no timer is pending.
    Deadlock {
        /// Each blocked thread, what it waits for, and who holds that.
        chain: Vec<BlockedThread>,
    },
    /// The step limit was hit.
    StepLimit,
    /// The virtual-time limit was hit.
    TimeLimit,
    /// The strategy ended the run early: exploration found that it repeats a schedule already
    /// explored (see [`Strategy::abandoned`]). Its findings are not judged.
    Abandoned,
}

/// A blocked thread in a deadlock report.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct BlockedThread {
    /// Thread id.
    pub thread: ThreadId,
    /// Thread name.
    pub name: String,
    /// DDIs it is inside.
    pub inside: Vec<Ddi>,
    /// What it waits for.
    pub waiting_for: Option<WaitFor>,
}

struct State {
    now: SimTime,
    threads: Vec<ThreadInfo>,
    current: Option<ThreadId>,
    last_ran: Option<ThreadId>,
    /// Armed timers by (due time, thread, block epoch). Timers due at the same instant fire
    /// together (the strategy picks who runs first), so the order they were armed in is not an
    /// ordering between threads: two steps that each arm one commute.
    timers: BTreeSet<(SimTime, ThreadId, u64)>,
    schedule: Vec<Choice>,
    trace: Vec<TraceEvent>,
    trace_enabled: bool,
    races: Vec<RaceReport>,
    steps: u64,
    /// Steps run since the last thread decision (entries past `steps_since_len` are reused
    /// buffers).
    steps_since: Vec<StepRecord>,
    steps_since_len: usize,
    /// Every piece of state the simulated threads share is recorded as touches (see
    /// [`Sched::set_accounted`]): a step without a declared op is then [`Op::Local`].
    accounted: bool,
    /// Drivers whose shared state is all in simulated objects ([`drivers`] bits; see
    /// [`Sched::set_transparent_drivers`]).
    transparent: u8,
    /// Vector-clock slots handed out so far.
    slots: u32,
    /// Slots of finished threads with the highest epoch of theirs that escaped (released,
    /// handed to a child, or stamped on an access), most recent last; see [`Sched::spawn`].
    retired: Vec<(u32, u32)>,
}

/// How many retired clock slots a new thread looks through (the most recent ones).
const RETIRED_SCAN: usize = 32;

struct Inner {
    state: RefCell<State>,
    strategy: RefCell<Box<dyn Strategy>>,
    spawned: RefCell<Vec<(ThreadId, TaskFuture)>>,
    next_id: Cell<u32>,
    next_object: Cell<ObjectId>,
}

/// A handle to the scheduler. Cheap to clone; everything simulated holds one.
#[derive(Clone)]
pub struct Sched {
    inner: Rc<Inner>,
}

impl Sched {
    /// A scheduler whose choices come from `strategy`.
    pub fn new(strategy: Box<dyn Strategy>) -> Self {
        Sched {
            inner: Rc::new(Inner {
                state: RefCell::new(State {
                    now: SimTime::ZERO,
                    threads: Vec::new(),
                    current: None,
                    last_ran: None,
                    timers: BTreeSet::new(),
                    schedule: Vec::new(),
                    trace: Vec::new(),
                    trace_enabled: true,
                    races: Vec::new(),
                    steps: 0,
                    steps_since: Vec::new(),
                    steps_since_len: 0,
                    accounted: false,
                    transparent: 0,
                    slots: 0,
                    retired: Vec::new(),
                }),
                strategy: RefCell::new(strategy),
                spawned: RefCell::new(Vec::new()),
                next_id: Cell::new(0),
                next_object: Cell::new(0),
            }),
        }
    }

    /// Turns trace recording off (exploration keeps only the schedule and findings).
    pub fn set_trace_enabled(&self, enabled: bool) {
        self.inner.state.borrow_mut().trace_enabled = enabled;
    }

    /// Promises that every piece of state the simulated threads of this run share is recorded
    /// as touches: the OS model's and the link's state, the scheduler's own objects
    /// ([`objects`]), simulated locks, events and [`Tracked`] cells; and that a driver's own
    /// state is touched only by steps that run its code ([`drivers`]). Steps with no declared
    /// op then count as [`Op::Local`] plus what they touched, so exploration may commute them.
    /// The scenario runner makes this promise; a hand-written model that shares plain
    /// `RefCell`s between threads must not.
    pub fn set_accounted(&self, accounted: bool) {
        self.inner.state.borrow_mut().accounted = accounted;
    }

    /// Declares that the given drivers ([`drivers`] bits) keep every piece of state their
    /// threads share in simulated objects ([`Tracked`] cells, [`SimMutex`], [`SimEvent`], ...),
    /// so the touches say all about their steps. The reference models do; a driver binary, or
    /// a user's Rust driver, is opaque by default: any two steps that run its code are taken
    /// to depend on each other.
    pub fn set_transparent_drivers(&self, bits: u8) {
        self.inner.state.borrow_mut().transparent = bits;
    }

    /// Current virtual time.
    pub fn now(&self) -> SimTime {
        self.inner.state.borrow().now
    }

    /// The running simulated thread. Panics outside a simulated thread (our bug, not the driver's).
    pub fn current(&self) -> ThreadId {
        self.inner
            .state
            .borrow()
            .current
            .expect("no simulated thread is running")
    }

    /// The running simulated thread, if any.
    pub fn try_current(&self) -> Option<ThreadId> {
        self.inner.state.borrow().current
    }

    /// A thread's name.
    pub fn thread_name(&self, thread: ThreadId) -> String {
        self.inner.state.borrow().threads[thread as usize]
            .name
            .clone()
    }

    /// The DDIs the given thread is inside, outermost first.
    pub fn frames(&self, thread: ThreadId) -> Vec<Ddi> {
        self.inner.state.borrow().threads[thread as usize]
            .frames
            .clone()
    }

    /// True while `thread` is inside `ddi`.
    pub fn is_inside(&self, thread: ThreadId, ddi: Ddi) -> bool {
        self.inner.state.borrow().threads[thread as usize]
            .frames
            .contains(&ddi)
    }

    /// Marks the current thread as inside `ddi` (the OS model calls this around each call).
    pub fn push_frame(&self, ddi: Ddi) {
        let mut st = self.inner.state.borrow_mut();
        let cur = st.current.expect("push_frame outside a simulated thread") as usize;
        st.threads[cur].frames.push(ddi);
        note_driver_code(&mut st);
    }

    /// Leaves the innermost frame.
    pub fn pop_frame(&self) {
        let mut st = self.inner.state.borrow_mut();
        let cur = st.current.expect("pop_frame outside a simulated thread") as usize;
        st.threads[cur].frames.pop();
        note_driver_code(&mut st);
    }

    /// Creates a simulated thread running `fut`. It starts runnable; it inherits the creator's
    /// happens-before knowledge.
    pub fn spawn(
        &self,
        name: impl Into<String>,
        daemon: bool,
        fut: impl Future<Output = ()> + 'static,
    ) -> ThreadId {
        let id = self.inner.next_id.get();
        self.inner.next_id.set(id + 1);
        let name = name.into();
        {
            let mut st = self.inner.state.borrow_mut();
            touch_in(&mut st, objects::THREADS, true);
            touch_in(&mut st, objects::TRACE, true);
            let parent = st.current;
            let base_code = parent.map_or(0, |p| st.threads[p as usize].code());
            let mut clock = VectorClock::default();
            if let Some(p) = parent {
                // The child sees what the parent did so far; the parent's later steps are in
                // its next epoch, which the child has not seen.
                let parent = &mut st.threads[p as usize];
                clock = parent.clock.clone();
                let ps = parent.slot as usize;
                parent.escaped = parent.escaped.max(parent.clock.get(ps));
                parent.clock.tick(ps);
            }
            // A retired slot whose every escaped epoch the new thread has seen (through its
            // creator) can be its own: the new thread's epochs there start above them, so no
            // clock mistakes the old thread's steps for the new one's or the other way round.
            let scan_from = st.retired.len().saturating_sub(RETIRED_SCAN);
            let reuse = st.retired[scan_from..]
                .iter()
                .rposition(|(slot, escaped)| clock.get(*slot as usize) >= *escaped)
                .map(|i| scan_from + i);
            let slot = match reuse {
                Some(i) => st.retired.remove(i).0,
                None => {
                    st.slots += 1;
                    st.slots - 1
                }
            };
            clock.tick(slot as usize);
            st.threads.push(ThreadInfo {
                name: name.clone(),
                status: Status::Runnable,
                daemon,
                clock,
                slot,
                escaped: 0,
                frames: Vec::new(),
                waiting: None,
                block_epoch: 0,
                timed_out: false,
                pending: None,
                base_code,
            });
            debug_assert_eq!(st.threads.len(), id as usize + 1);
            let (now, thread) = (st.now, parent.unwrap_or(id));
            if st.trace_enabled {
                push_event(
                    &mut st,
                    now,
                    thread,
                    EventKind::ThreadStart { name, parent },
                );
            }
        }
        self.inner.spawned.borrow_mut().push((id, Box::pin(fut)));
        id
    }

    /// Spawns a thread of the simulator's own (a socket relay) that runs no driver code, even
    /// when it is started from inside a driver call: it is never taken for a driver's thread.
    pub fn spawn_unowned(
        &self,
        name: impl Into<String>,
        daemon: bool,
        fut: impl Future<Output = ()> + 'static,
    ) -> ThreadId {
        let id = self.spawn(name, daemon, fut);
        self.inner.state.borrow_mut().threads[id as usize].base_code = 0;
        id
    }

    /// Live threads started by the code of `driver` (`drivers::UMD` or `drivers::KMD`): by one
    /// of its DDIs, or by a thread it started. Decided by who started the thread, never by its
    /// name.
    pub fn live_threads_of(&self, driver: u8) -> Vec<(ThreadId, String)> {
        let st = self.inner.state.borrow();
        st.threads
            .iter()
            .enumerate()
            .filter(|(_, t)| t.status != Status::Finished && t.base_code == driver)
            .map(|(i, t)| (i as ThreadId, t.name.clone()))
            .collect()
    }

    /// Appends a trace event for the current thread (or thread 0 outside threads).
    pub fn emit(&self, kind: EventKind) {
        self.record(None, kind, true);
    }

    /// Appends a trace event whose position relative to other threads' events no trace check
    /// compares: the bytes on the in-memory RTSP link (`umd-send`, `umd-recv`, `sink-send`).
    /// Unlike [`Sched::emit`] it does not touch [`objects::TRACE`], so a step that only moves
    /// bytes between the UMD and the sink commutes with OS and KMD work. (The one check that
    /// reads such events, R32, compares a UMD send with `StopMiracastSession`'s return; the
    /// link emits sends made once Stop has begun with [`Sched::emit`].)
    pub fn emit_traffic(&self, kind: EventKind) {
        self.record(None, kind, false);
    }

    /// Appends a trace event attributed to `thread`.
    pub fn emit_for(&self, thread: ThreadId, kind: EventKind) {
        self.record(Some(thread), kind, true);
    }

    /// Appends `kind` for `thread` (default: the current thread, or thread 0 outside threads);
    /// an `ordered` event is a write of [`objects::TRACE`], recorded even with the trace off so
    /// that footprints do not depend on it.
    fn record(&self, thread: Option<ThreadId>, kind: EventKind, ordered: bool) {
        let mut st = self.inner.state.borrow_mut();
        if ordered {
            touch_in(&mut st, objects::TRACE, true);
        }
        if !st.trace_enabled {
            return;
        }
        let (now, thread) = (st.now, thread.or(st.current).unwrap_or(0));
        push_event(&mut st, now, thread, kind);
    }

    /// Index the next trace event will get.
    pub fn trace_len(&self) -> u32 {
        self.inner.state.borrow().trace.len() as u32
    }

    /// A choice point: gives the turn back to the scheduler, which may run another thread first.
    pub fn yield_now(&self) -> YieldNow {
        YieldNow { yielded: false }
    }

    /// A choice point whose following step is declared to do `op` (for partial-order reduction
    /// in exploration; see [`op`]). Otherwise the same as [`Sched::yield_now`].
    pub fn yield_op(&self, op: Op) -> YieldNow {
        self.declare_current(op);
        YieldNow { yielded: false }
    }

    /// Declares what the current thread's next step does (the step after its next choice point).
    pub fn declare_current(&self, op: Op) {
        let mut st = self.inner.state.borrow_mut();
        if let Some(cur) = st.current {
            st.threads[cur as usize].pending = Some(op);
        }
    }

    /// Declares what `thread`'s next step does; used right after [`Sched::spawn`] to declare a
    /// thread's first step.
    pub fn declare_next(&self, thread: ThreadId, op: Op) {
        self.inner.state.borrow_mut().threads[thread as usize].pending = Some(op);
    }

    /// A fresh object id for [`Op`] and [`Touch`] (simulated locks, events and tracked cells
    /// take one each; a model may take its own for named state).
    pub fn new_object_id(&self) -> ObjectId {
        self.touch(objects::OBJECT_IDS, true);
        let id = self.inner.next_object.get();
        self.inner.next_object.set(id + 1);
        id
    }

    /// Records that the running step touched `object` (no-op outside a simulated thread).
    pub fn touch(&self, object: ObjectId, write: bool) {
        touch_in(&mut self.inner.state.borrow_mut(), object, write);
    }

    /// Suspends the current thread for `duration` of virtual time.
    pub fn sleep(&self, duration: Duration) -> Sleep {
        Sleep {
            sched: self.clone(),
            until: None,
            duration,
        }
    }

    /// A data choice among `options` values, recorded like thread choices. `label` says what is
    /// being chosen (for replay divergence messages).
    pub fn choose(&self, options: u32, label: &str) -> u32 {
        if options <= 1 {
            return 0;
        }
        let index = self.inner.state.borrow().schedule.len();
        let chosen = self
            .inner
            .strategy
            .borrow_mut()
            .pick_value(options, label, index);
        let chosen = chosen.min(options - 1);
        self.inner.state.borrow_mut().schedule.push(Choice {
            kind: ChoiceKind::Value,
            options,
            chosen,
        });
        chosen
    }

    /// Records a race found by a [`Tracked`] cell.
    pub(crate) fn report_race(&self, race: RaceReport) {
        self.inner.state.borrow_mut().races.push(race);
    }

    /// Races found so far.
    pub fn races(&self) -> Vec<RaceReport> {
        self.inner.state.borrow().races.clone()
    }

    /// The choices made so far, for replay.
    pub fn schedule(&self) -> Vec<Choice> {
        self.inner.state.borrow().schedule.clone()
    }

    /// The strategy's description.
    pub fn strategy_description(&self) -> String {
        self.inner.strategy.borrow().describe()
    }

    /// The replay divergence, if the strategy is replaying and the program no longer fits.
    pub fn divergence(&self) -> Option<Divergence> {
        self.inner.strategy.borrow().divergence().cloned()
    }

    /// Takes the trace out of the scheduler.
    pub fn take_trace(&self) -> Trace {
        Trace {
            events: std::mem::take(&mut self.inner.state.borrow_mut().trace),
        }
    }

    /// Number of polls so far.
    pub fn steps(&self) -> u64 {
        self.inner.state.borrow().steps
    }

    /// Names and frames of the threads that have not finished (for liveness reports).
    pub fn live_threads(&self) -> Vec<BlockedThread> {
        let st = self.inner.state.borrow();
        st.threads
            .iter()
            .enumerate()
            .filter(|(_, t)| t.status != Status::Finished)
            .map(|(i, t)| BlockedThread {
                thread: i as ThreadId,
                name: t.name.clone(),
                inside: t.frames.clone(),
                waiting_for: t.waiting.clone(),
            })
            .collect()
    }

    // ---- blocking support for `sync` ----

    /// The current thread's vector clock, for stamping an access (its epoch escapes).
    pub(crate) fn clock_of_current(&self) -> VectorClock {
        let mut st = self.inner.state.borrow_mut();
        let cur = st.current.expect("outside a simulated thread") as usize;
        let t = &mut st.threads[cur];
        t.escaped = t.escaped.max(t.clock.get(t.slot as usize));
        t.clock.clone()
    }

    /// The vector-clock component of `thread` (see [`Sched::spawn`]).
    pub(crate) fn clock_slot(&self, thread: ThreadId) -> usize {
        self.inner.state.borrow().threads[thread as usize].slot as usize
    }

    /// Joins `clock` into the current thread's clock (an acquire).
    pub(crate) fn acquire(&self, clock: &VectorClock) {
        let mut st = self.inner.state.borrow_mut();
        let cur = st.current.expect("outside a simulated thread") as usize;
        st.threads[cur].clock.join(clock);
    }

    /// Returns the current thread's clock and ticks it (a release): whoever acquires the
    /// returned clock has seen this thread's steps so far, and none of its steps after the
    /// release (those are in the next epoch).
    pub(crate) fn release(&self) -> VectorClock {
        let mut st = self.inner.state.borrow_mut();
        let cur = st.current.expect("outside a simulated thread") as usize;
        let t = &mut st.threads[cur];
        let slot = t.slot as usize;
        let released = t.clock.clone();
        t.escaped = t.escaped.max(t.clock.get(slot));
        t.clock.tick(slot);
        released
    }

    /// Blocks the current thread on `waiting`, optionally with a virtual-time timeout.
    pub(crate) fn block_current(&self, waiting: WaitFor, timeout: Option<Duration>) {
        let mut st = self.inner.state.borrow_mut();
        let cur = st.current.expect("block outside a simulated thread");
        let now = st.now;
        let t = &mut st.threads[cur as usize];
        t.status = Status::Blocked;
        t.waiting = Some(waiting);
        t.block_epoch += 1;
        t.timed_out = false;
        let epoch = t.block_epoch;
        if let Some(d) = timeout {
            st.timers.insert((now + d, cur, epoch));
        }
    }

    /// Takes (and clears) the current thread's timed-out flag.
    pub(crate) fn take_timed_out(&self) -> bool {
        let mut st = self.inner.state.borrow_mut();
        let cur = st.current.expect("outside a simulated thread") as usize;
        std::mem::take(&mut st.threads[cur].timed_out)
    }

    /// Makes a blocked thread runnable again.
    pub(crate) fn wake(&self, thread: ThreadId) {
        let mut st = self.inner.state.borrow_mut();
        let t = &mut st.threads[thread as usize];
        if t.status == Status::Blocked {
            t.status = Status::Runnable;
            t.waiting = None;
        }
    }

    // ---- the run loop ----

    /// Runs until every non-daemon thread has finished, a deadlock, or a limit.
    pub fn run(&self, limits: RunLimits) -> RunEnd {
        let mut tasks: Vec<Option<TaskFuture>> = Vec::new();
        let mut cx = Context::from_waker(Waker::noop());
        let mut runnable: Vec<ThreadId> = Vec::new();
        let mut pending: Vec<Option<Op>> = Vec::new();
        let mut since: Vec<StepRecord> = Vec::new();
        // The threads with a future not yet finished, in id order: only they can run, so a
        // long scenario's finished threads cost nothing at each decision.
        let mut live: Vec<ThreadId> = Vec::new();
        loop {
            for (id, fut) in self.inner.spawned.borrow_mut().drain(..) {
                if tasks.len() <= id as usize {
                    tasks.resize_with(id as usize + 1, || None);
                }
                tasks[id as usize] = Some(fut);
                if let Err(at) = live.binary_search(&id) {
                    live.insert(at, id);
                }
            }
            runnable.clear();
            let pick = {
                let st = self.inner.state.borrow();
                runnable.extend(
                    live.iter()
                        .copied()
                        .filter(|t| st.threads[*t as usize].status == Status::Runnable),
                );
                let last = st.last_ran.filter(|l| runnable.contains(l));
                let index = st.schedule.len();
                drop(st);
                if runnable.is_empty() {
                    None
                } else {
                    {
                        // Hand the strategy the pending ops and the steps since the last
                        // decision without copying: swap the buffers out of the state.
                        let mut st = self.inner.state.borrow_mut();
                        pending.clear();
                        pending.extend(runnable.iter().map(|t| st.threads[*t as usize].pending));
                        std::mem::swap(&mut since, &mut st.steps_since);
                        since.truncate(st.steps_since_len);
                        st.steps_since_len = 0;
                    }
                    let decision = strategy::ThreadDecision {
                        runnable: &runnable,
                        last,
                        index,
                        pending: &pending,
                        steps_since: &since,
                    };
                    let n = runnable.len();
                    let chosen = if n == 1 {
                        // Not a choice (not recorded), but exploration strategies see it.
                        self.inner.strategy.borrow_mut().observe_forced(&decision);
                        0
                    } else {
                        let chosen = self
                            .inner
                            .strategy
                            .borrow_mut()
                            .pick_thread(&decision)
                            .min(n - 1);
                        self.inner.state.borrow_mut().schedule.push(Choice {
                            kind: ChoiceKind::Thread,
                            options: n as u32,
                            chosen: chosen as u32,
                        });
                        chosen
                    };
                    std::mem::swap(&mut since, &mut self.inner.state.borrow_mut().steps_since);
                    if self.inner.strategy.borrow().abandoned() {
                        return RunEnd::Abandoned;
                    }
                    Some(runnable[chosen])
                }
            };
            let Some(thread) = pick else {
                match self.advance_time(limits) {
                    Some(end) => return end,
                    None => continue,
                }
            };
            {
                let mut st = self.inner.state.borrow_mut();
                st.steps += 1;
                if st.steps > limits.max_steps {
                    return RunEnd::StepLimit;
                }
                st.current = Some(thread);
                let declared = st.threads[thread as usize]
                    .pending
                    .take()
                    .or(st.accounted.then_some(Op::Local));
                let code = st.threads[thread as usize].code() & !st.transparent;
                let i = st.steps_since_len;
                if i < st.steps_since.len() {
                    let rec = &mut st.steps_since[i];
                    rec.thread = thread;
                    rec.declared = declared;
                    rec.touches.clear();
                    rec.drivers = code;
                } else {
                    st.steps_since.push(StepRecord {
                        thread,
                        declared,
                        touches: Vec::new(),
                        drivers: code,
                    });
                }
                st.steps_since_len = i + 1;
            }
            let fut = tasks[thread as usize]
                .as_mut()
                .expect("runnable thread without a future");
            let done = fut.as_mut().poll(&mut cx).is_ready();
            let mut st = self.inner.state.borrow_mut();
            st.current = None;
            st.last_ran = Some(thread);
            if done {
                st.threads[thread as usize].status = Status::Finished;
                // Nothing reads a finished thread's clock again (its releases were copied
                // into the objects it released); dropping it keeps memory linear in the
                // number of threads a long scenario starts. Its slot can go to a later thread.
                let t = &mut st.threads[thread as usize];
                t.clock = VectorClock::default();
                let retired = (t.slot, t.escaped);
                st.retired.push(retired);
                if let Ok(at) = live.binary_search(&thread) {
                    live.remove(at);
                }
                let now = st.now;
                // Not an ordered event: no check compares where a thread ended (so, unlike
                // `emit`, no touch of `objects::TRACE`).
                if st.trace_enabled {
                    push_event(&mut st, now, thread, EventKind::ThreadExit);
                }
                drop(st);
                tasks[thread as usize] = None;
            }
        }
    }

    /// No thread can run: fire the earliest timer, or report how the run ended.
    fn advance_time(&self, limits: RunLimits) -> Option<RunEnd> {
        let mut st = self.inner.state.borrow_mut();
        let armed = |st: &State, thread: ThreadId, epoch: u64| {
            let t = &st.threads[thread as usize];
            t.status == Status::Blocked && t.block_epoch == epoch
        };
        while let Some(&(at, thread, epoch)) = st.timers.first() {
            if !armed(&st, thread, epoch) {
                st.timers.pop_first(); // Stale: the thread was woken by something else.
                continue;
            }
            if at > limits.max_time {
                return Some(RunEnd::TimeLimit);
            }
            if at > st.now {
                st.now = at;
                if st.trace_enabled {
                    push_event(&mut st, at, thread, EventKind::TimeAdvance { to: at });
                }
            }
            // Every thread whose timer is due at this instant wakes: nothing orders
            // simultaneous expirations, so which runs first is the strategy's choice.
            while let Some(&(_, thread, epoch)) = st.timers.first().filter(|t| t.0 == at) {
                st.timers.pop_first();
                if armed(&st, thread, epoch) {
                    let t = &mut st.threads[thread as usize];
                    t.status = Status::Runnable;
                    t.waiting = None;
                    t.timed_out = true;
                }
            }
            return None;
        }
        let blocked_info = |i: usize, t: &ThreadInfo| BlockedThread {
            thread: i as ThreadId,
            name: t.name.clone(),
            inside: t.frames.clone(),
            waiting_for: t.waiting.clone(),
        };
        let mut blocked: Vec<BlockedThread> = st
            .threads
            .iter()
            .enumerate()
            .filter(|(_, t)| t.status == Status::Blocked && !t.daemon)
            .map(|(i, t)| blocked_info(i, t))
            .collect();
        // A blocked daemon thread (a driver's own thread, a DPC) holding what a listed thread
        // waits for is part of the wait-for chain.
        loop {
            let missing: BTreeSet<ThreadId> = blocked
                .iter()
                .filter_map(|b| b.waiting_for.as_ref()?.held_by)
                .filter(|h| !blocked.iter().any(|b| b.thread == *h))
                .filter(|h| st.threads[*h as usize].status == Status::Blocked)
                .collect();
            if missing.is_empty() || blocked.is_empty() {
                break;
            }
            for h in missing {
                blocked.push(blocked_info(h as usize, &st.threads[h as usize]));
            }
        }
        blocked.sort_by_key(|b| b.thread);
        if blocked.is_empty() {
            Some(RunEnd::Completed)
        } else {
            Some(RunEnd::Deadlock { chain: blocked })
        }
    }
}

/// Records a touch on the running step (no-op outside a simulated thread).
fn touch_in(st: &mut State, object: ObjectId, write: bool) {
    if st.current.is_none() || st.steps_since_len == 0 {
        return;
    }
    let i = st.steps_since_len - 1;
    st.steps_since[i].touches.push(Touch { object, write });
}

/// The running step's thread changed frames: note whose code it runs now, if opaque.
fn note_driver_code(st: &mut State) {
    if let Some(cur) = st.current
        && st.steps_since_len > 0
    {
        let code = st.threads[cur as usize].code() & !st.transparent;
        let i = st.steps_since_len - 1;
        st.steps_since[i].drivers |= code;
    }
}

fn push_event(st: &mut State, time: SimTime, thread: ThreadId, kind: EventKind) {
    let seq = st.trace.len() as u32;
    st.trace.push(TraceEvent {
        seq,
        time,
        thread,
        kind,
    });
}

/// Future returned by [`Sched::yield_now`].
#[must_use = "a choice point does nothing unless awaited"]
pub struct YieldNow {
    yielded: bool,
}

impl Future for YieldNow {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            Poll::Ready(())
        } else {
            self.yielded = true;
            Poll::Pending
        }
    }
}

/// Future returned by [`Sched::sleep`].
#[must_use = "a sleep does nothing unless awaited"]
pub struct Sleep {
    sched: Sched,
    until: Option<()>,
    duration: Duration,
}

impl Future for Sleep {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<()> {
        if self.until.is_some() {
            if self.sched.take_timed_out() {
                return Poll::Ready(());
            }
            return Poll::Pending;
        }
        self.until = Some(());
        let wait = WaitFor {
            object: format!("sleep {:?}", self.duration),
            held_by: None,
        };
        self.sched.block_current(wait, Some(self.duration));
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn two_threads_lock_steps(sched: &Sched, steps: u32) -> Rc<RefCell<Vec<u32>>> {
        let log = Rc::new(RefCell::new(Vec::new()));
        let mutex = SimMutex::new(sched, "m");
        for t in 0..2u32 {
            let (s, m, log) = (sched.clone(), mutex.clone(), log.clone());
            sched.spawn(format!("t{t}"), false, async move {
                for _ in 0..steps {
                    let _g = m.lock().await;
                    log.borrow_mut().push(t);
                    s.yield_now().await;
                }
            });
        }
        log
    }

    #[test]
    fn same_seed_same_order_different_seed_differs() {
        let order = |seed| {
            let sched = Sched::new(Box::new(RandomStrategy::new(seed)));
            let log = two_threads_lock_steps(&sched, 5);
            assert_eq!(sched.run(RunLimits::default()), RunEnd::Completed);
            let v = log.borrow().clone();
            (v, sched.take_trace().to_text())
        };
        assert_eq!(order(1), order(1));
        let distinct: std::collections::BTreeSet<_> = (0..16).map(|s| order(s).0).collect();
        assert!(distinct.len() > 1, "seeds never changed the order");
    }

    /// What a slot-reuse run saw: the slots of threads `a` and `b`, and the races found.
    struct ReuseRun {
        slot_a: usize,
        slot_b: usize,
        races: Vec<RaceReport>,
    }

    /// `main` first makes the clocks wide and deep, as a long run of kernel messages does:
    /// `fillers` threads each take a lock (the last one sets an event `main` waits for), then
    /// write after their release, so their slots are never free and every clock carries an
    /// entry per filler (4,200 of them make the clock tree four levels deep).
    /// Then `main` starts `a`, waits for the event `a` sets, and starts `b`; `bystander`, started
    /// before `a`, never synchronizes with `a` or `b`. `late_write`: `a` writes `x` once more
    /// after setting the event (an epoch `main` never sees). `b` writes `x` and `z` and sets
    /// `b-done`; the bystander writes `z` and, once `b-done` is set, reads `y`, which only `a`
    /// wrote (before its set).
    fn reuse_run(seed: u64, fillers: usize, late_write: bool) -> ReuseRun {
        let s = Sched::new(Box::new(RandomStrategy::new(seed)));
        let cells = |name: &str| Rc::new(Tracked::new(&s, name, 0u32));
        let (x, y, z) = (cells("x"), cells("y"), cells("z"));
        let (a_done, b_done) = (
            SimEvent::new(&s, "a-done", false),
            SimEvent::new(&s, "b-done", false),
        );
        let lock = SimMutex::new(&s, "fillers");
        let slots = Rc::new(Cell::new((0usize, 0usize)));
        let s2 = s.clone();
        let (slots2, b_done2) = (slots.clone(), b_done.clone());
        s.spawn("main", false, async move {
            let s = s2;
            let passed = Rc::new(Cell::new(0usize));
            let all_passed = SimEvent::new(&s, "fillers-passed", false);
            for i in 0..fillers {
                let (s3, lock, passed) = (s.clone(), lock.clone(), passed.clone());
                let all_passed = all_passed.clone();
                let own = Rc::new(Tracked::new(&s, format!("filler-{i}"), 0u32));
                s.spawn(format!("filler-{i}"), false, async move {
                    {
                        let _g = lock.lock().await;
                        own.write(|v| *v += 1);
                        passed.set(passed.get() + 1);
                        if passed.get() == fillers {
                            all_passed.set();
                        }
                    }
                    s3.yield_now().await;
                    own.write(|v| *v += 1);
                });
            }
            if fillers > 0 {
                all_passed.wait(None).await;
            }
            let (s3, z3, y3, b_done3) = (s.clone(), z.clone(), y.clone(), b_done2.clone());
            let y = y.clone();
            s.spawn("bystander", false, async move {
                z3.write(|v| *v += 1);
                b_done3.wait(None).await;
                y3.read(|v| *v);
                s3.yield_now().await;
            });
            let (x3, y3, a_done3) = (x.clone(), y.clone(), a_done.clone());
            let a = s.spawn("a", false, async move {
                x3.write(|v| *v += 1);
                y3.write(|v| *v += 1);
                a_done3.set();
                if late_write {
                    x3.write(|v| *v += 1);
                }
            });
            a_done.wait(None).await;
            // `a` ends in the step that sets the event, or the one after with its late write.
            s.yield_now().await;
            let b = s.spawn("b", false, async move {
                x.write(|v| *v += 1);
                z.write(|v| *v += 1);
                b_done2.set();
            });
            slots2.set((s.clock_slot(a), s.clock_slot(b)));
        });
        assert_eq!(s.run(RunLimits::default()), RunEnd::Completed);
        let (slot_a, slot_b) = slots.get();
        ReuseRun {
            slot_a,
            slot_b,
            races: s.races(),
        }
    }

    fn raced(run: &ReuseRun, cell: &str) -> bool {
        run.races.iter().any(|r| r.cell == cell)
    }

    #[test]
    fn a_reused_slot_keeps_ordered_accesses_ordered_and_unordered_ones_racing() {
        for (seed, fillers) in [(0, 0), (1, 40), (2, 300), (3, 4_200)] {
            let run = reuse_run(seed, fillers, false);
            // `main` saw every epoch of `a` that escaped, so `b` takes `a`'s slot.
            assert_eq!(run.slot_a, run.slot_b, "seed {seed}, {fillers} fillers");
            // `a` -> event -> `main` -> spawn -> `b`: ordered, although in one slot.
            assert!(!raced(&run, "x"), "seed {seed}: {:?}", run.races);
            // The bystander saw `b`'s set, so it saw `a`'s write too (`b` happens after `a`).
            assert!(!raced(&run, "y"), "seed {seed}: {:?}", run.races);
            // The bystander never synchronized with `b`: its write races `b`'s.
            let z: Vec<_> = run.races.iter().filter(|r| r.cell == "z").collect();
            assert_eq!(z.len(), 1, "seed {seed}: {:?}", run.races);
            let names = [
                z[0].first.thread_name.as_str(),
                z[0].second.thread_name.as_str(),
            ];
            assert!(
                names.contains(&"b") && names.contains(&"bystander"),
                "{names:?}"
            );
            // The fillers' late writes touch only their own cells.
            assert!(run.races.iter().all(|r| !r.cell.starts_with("filler")));
        }
    }

    #[test]
    fn a_slot_whose_last_epoch_its_successor_could_not_have_seen_is_not_reused() {
        for (seed, fillers) in [(0, 0), (1, 40), (2, 300), (3, 4_200)] {
            let run = reuse_run(seed, fillers, true);
            let x: Vec<_> = run.races.iter().filter(|r| r.cell == "x").collect();
            assert_eq!(x.len(), 1, "seed {seed}: {:?}", run.races);
            let names = [
                x[0].first.thread_name.as_str(),
                x[0].second.thread_name.as_str(),
            ];
            assert!(names.contains(&"a") && names.contains(&"b"), "{names:?}");
            assert!(
                raced(&run, "z") && !raced(&run, "y"),
                "seed {seed}: {:?}",
                run.races
            );
            // `a` wrote after its last release: `b`, in that slot, would start at the epoch of
            // that write and take it for its own past, hiding the race on `x`.
            assert_ne!(run.slot_a, run.slot_b, "seed {seed}, {fillers} fillers");
        }
    }

    #[test]
    fn sleep_advances_virtual_time_only() {
        let sched = Sched::new(Box::new(FirstStrategy));
        let s = sched.clone();
        let seen = Rc::new(Cell::new(SimTime::ZERO));
        let seen2 = seen.clone();
        sched.spawn("sleeper", false, async move {
            s.sleep(Duration::from_secs(3)).await;
            seen2.set(s.now());
        });
        assert_eq!(sched.run(RunLimits::default()), RunEnd::Completed);
        assert_eq!(seen.get(), SimTime::from_millis(3_000));
    }

    #[test]
    fn deadlock_reports_the_wait_for_chain() {
        // Two threads take two mutexes in opposite orders; some seed interleaves them.
        let found = (0..64).find_map(|seed| {
            let s = Sched::new(Box::new(RandomStrategy::new(seed)));
            let (a, b) = (SimMutex::new(&s, "a"), SimMutex::new(&s, "b"));
            for (first, second, name) in [(a.clone(), b.clone(), "x"), (b, a, "y")] {
                let s2 = s.clone();
                s.spawn(name, false, async move {
                    let _g1 = first.lock().await;
                    s2.yield_now().await;
                    let _g2 = second.lock().await;
                });
            }
            match s.run(RunLimits::default()) {
                RunEnd::Deadlock { chain } => Some(chain),
                _ => None,
            }
        });
        let chain = found.expect("no seed reached the lock-order deadlock");
        assert_eq!(chain.len(), 2);
        assert_eq!(chain[0].waiting_for.as_ref().unwrap().held_by, Some(1));
        assert_eq!(chain[1].waiting_for.as_ref().unwrap().held_by, Some(0));
    }

    #[test]
    fn taking_a_held_lock_again_is_a_deadlock_not_a_panic() {
        let s = Sched::new(Box::new(RandomStrategy::new(0)));
        let m = SimMutex::new(&s, "m");
        s.spawn("twice", false, async move {
            let _g = m.lock().await;
            let _again = m.lock().await;
        });
        match s.run(RunLimits::default()) {
            RunEnd::Deadlock { chain } => {
                assert_eq!(chain.len(), 1);
                assert_eq!(chain[0].waiting_for.as_ref().unwrap().held_by, Some(0));
            }
            other => panic!("expected a deadlock, got {other:?}"),
        }
        let s = Sched::new(Box::new(RandomStrategy::new(0)));
        let rw2 = SimRwLock::new(&s, "rw");
        s.spawn("writer-again", false, async move {
            let _w = rw2.write().await;
            let _r = rw2.read().await;
        });
        assert!(matches!(
            s.run(RunLimits::default()),
            RunEnd::Deadlock { .. }
        ));
    }
}
