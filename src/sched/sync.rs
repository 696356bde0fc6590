//! Simulated synchronization: mutexes and events that block simulated threads, carry
//! happens-before edges, and time out in virtual time.

use super::clock::VectorClock;
use super::{ObjectId, Op, Sched, ThreadId, WaitFor};
use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

struct MutexState {
    id: ObjectId,
    name: String,
    owner: Option<ThreadId>,
    waiters: Vec<ThreadId>,
    released: VectorClock,
}

/// A mutex between simulated threads. Taking it is a choice point.
#[derive(Clone)]
pub struct SimMutex {
    sched: Sched,
    state: Rc<RefCell<MutexState>>,
}

impl SimMutex {
    /// A new, free mutex; `name` appears in deadlock reports.
    pub fn new(sched: &Sched, name: impl Into<String>) -> Self {
        SimMutex {
            sched: sched.clone(),
            state: Rc::new(RefCell::new(MutexState {
                id: sched.new_object_id(),
                name: name.into(),
                owner: None,
                waiters: Vec::new(),
                released: VectorClock::default(),
            })),
        }
    }

    /// Takes the mutex, waiting while another thread holds it.
    pub async fn lock(&self) -> SimMutexGuard {
        self.sched.yield_op(Op::Lock(self.id())).await;
        LockFuture { mutex: self }.await;
        SimMutexGuard {
            mutex: self.clone(),
        }
    }

    /// Takes the mutex if it is free, without waiting.
    pub fn try_lock(&self) -> Option<SimMutexGuard> {
        let me = self.sched.current();
        let mut st = self.state.borrow_mut();
        if st.owner.is_some() {
            return None;
        }
        st.owner = Some(me);
        let (released, id) = (st.released.clone(), st.id);
        drop(st);
        self.sched.touch(id, true);
        self.sched.acquire(&released);
        Some(SimMutexGuard {
            mutex: self.clone(),
        })
    }

    /// Its object id (for [`Op`]s).
    pub fn id(&self) -> ObjectId {
        self.state.borrow().id
    }

    /// The thread holding it.
    pub fn owner(&self) -> Option<ThreadId> {
        self.state.borrow().owner
    }
}

struct LockFuture<'a> {
    mutex: &'a SimMutex,
}

impl Future for LockFuture<'_> {
    type Output = ();
    fn poll(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<()> {
        let sched = &self.mutex.sched;
        let me = sched.current();
        let mut st = self.mutex.state.borrow_mut();
        match st.owner {
            None => {
                st.owner = Some(me);
                st.waiters.retain(|w| *w != me);
                let (released, id) = (st.released.clone(), st.id);
                drop(st);
                sched.touch(id, true);
                sched.acquire(&released);
                Poll::Ready(())
            }
            Some(owner) => {
                // A thread taking a mutex it holds (a driver calling back into a path that
                // takes a lock its own caller holds) waits for itself, as on Windows: the
                // scheduler reports the deadlock with its wait-for chain. Never a panic.
                if !st.waiters.contains(&me) {
                    st.waiters.push(me);
                }
                let wait = WaitFor {
                    object: format!("mutex {}", st.name),
                    held_by: Some(owner),
                };
                let id = st.id;
                drop(st);
                sched.touch(id, false);
                sched.declare_current(Op::Lock(id));
                sched.block_current(wait, None);
                Poll::Pending
            }
        }
    }
}

/// Holds a [`SimMutex`]; releases it when dropped.
#[must_use = "dropping the guard releases the mutex at once"]
pub struct SimMutexGuard {
    mutex: SimMutex,
}

impl Drop for SimMutexGuard {
    fn drop(&mut self) {
        // Outside a simulated thread (a run abandoned at a deadlock drops its futures) there is
        // no clock to publish.
        let clock = self
            .mutex
            .sched
            .try_current()
            .map(|_| self.mutex.sched.release());
        let waiters = {
            let mut st = self.mutex.state.borrow_mut();
            self.mutex.sched.touch(st.id, true);
            st.owner = None;
            if let Some(clock) = clock {
                st.released = clock;
            }
            std::mem::take(&mut st.waiters)
        };
        // Every waiter retries; which one wins is the scheduler's choice.
        for w in waiters {
            self.mutex.sched.wake(w);
        }
    }
}

struct EventState {
    id: ObjectId,
    name: String,
    signalled: bool,
    auto_reset: bool,
    waiters: Vec<ThreadId>,
    released: VectorClock,
}

/// An event between simulated threads (like a Win32 event): threads wait until it is set.
#[derive(Clone)]
pub struct SimEvent {
    sched: Sched,
    state: Rc<RefCell<EventState>>,
}

impl SimEvent {
    /// A new, unset event. An auto-reset event lets one waiter through per `set`.
    pub fn new(sched: &Sched, name: impl Into<String>, auto_reset: bool) -> Self {
        SimEvent {
            sched: sched.clone(),
            state: Rc::new(RefCell::new(EventState {
                id: sched.new_object_id(),
                name: name.into(),
                signalled: false,
                auto_reset,
                waiters: Vec::new(),
                released: VectorClock::default(),
            })),
        }
    }

    /// Sets the event and wakes its waiters. Callable from a simulated thread.
    pub fn set(&self) {
        let clock = self.sched.try_current().map(|_| self.sched.release());
        let waiters = {
            let mut st = self.state.borrow_mut();
            self.sched.touch(st.id, true);
            st.signalled = true;
            if let Some(c) = clock {
                st.released.join(&c);
            }
            std::mem::take(&mut st.waiters)
        };
        for w in waiters {
            self.sched.wake(w);
        }
    }

    /// Clears the event.
    pub fn reset(&self) {
        let mut st = self.state.borrow_mut();
        self.sched.touch(st.id, true);
        st.signalled = false;
    }

    /// True while set.
    pub fn is_set(&self) -> bool {
        let st = self.state.borrow();
        self.sched.touch(st.id, false);
        st.signalled
    }

    /// Its object id (for [`Op`]s).
    pub fn id(&self) -> ObjectId {
        self.state.borrow().id
    }

    /// Waits until set. With `timeout`, gives up after that much virtual time and returns false.
    pub async fn wait(&self, timeout: Option<Duration>) -> bool {
        WaitFuture {
            event: self,
            timeout,
            blocked: false,
        }
        .await
    }
}

struct WaitFuture<'a> {
    event: &'a SimEvent,
    timeout: Option<Duration>,
    blocked: bool,
}

impl Future for WaitFuture<'_> {
    type Output = bool;
    fn poll(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<bool> {
        let sched = self.event.sched.clone();
        let me = sched.current();
        let mut st = self.event.state.borrow_mut();
        sched.touch(st.id, true);
        if st.signalled {
            if st.auto_reset {
                st.signalled = false;
            }
            st.waiters.retain(|w| *w != me);
            let released = st.released.clone();
            drop(st);
            sched.acquire(&released);
            if self.blocked {
                let _ = sched.take_timed_out();
            }
            return Poll::Ready(true);
        }
        if self.blocked && sched.take_timed_out() {
            st.waiters.retain(|w| *w != me);
            return Poll::Ready(false);
        }
        if !st.waiters.contains(&me) {
            st.waiters.push(me);
        }
        let wait = WaitFor {
            object: format!("event {}", st.name),
            held_by: None,
        };
        let id = st.id;
        drop(st);
        sched.declare_current(Op::Wait(id));
        // Re-blocking after a spurious wake keeps the remaining timeout approximately: the
        // scheduler only wakes a waiter when the event is set or its timer fires, so the
        // first block is the one that counts.
        let timeout = if self.blocked { None } else { self.timeout };
        self.blocked = true;
        sched.block_current(wait, timeout);
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sched::{FirstStrategy, RunEnd, RunLimits};
    use crate::time::SimTime;
    use std::cell::Cell;

    #[test]
    fn event_wait_times_out_in_virtual_time() {
        let sched = Sched::new(Box::new(FirstStrategy));
        let ev = SimEvent::new(&sched, "never", false);
        let (s, e) = (sched.clone(), ev.clone());
        let got = Rc::new(Cell::new(None));
        let g = got.clone();
        sched.spawn("waiter", false, async move {
            let ok = e.wait(Some(Duration::from_secs(5))).await;
            g.set(Some((ok, s.now())));
        });
        assert_eq!(sched.run(RunLimits::default()), RunEnd::Completed);
        assert_eq!(got.get(), Some((false, SimTime::from_millis(5_000))));
    }

    #[test]
    fn event_set_wakes_waiter() {
        let sched = Sched::new(Box::new(FirstStrategy));
        let ev = SimEvent::new(&sched, "go", true);
        let got = Rc::new(Cell::new(false));
        let (e, g) = (ev.clone(), got.clone());
        sched.spawn("waiter", false, async move { g.set(e.wait(None).await) });
        let (e, s) = (ev.clone(), sched.clone());
        sched.spawn("setter", false, async move {
            s.sleep(Duration::from_millis(10)).await;
            e.set();
        });
        assert_eq!(sched.run(RunLimits::default()), RunEnd::Completed);
        assert!(got.get());
    }
}

struct RwState {
    id: ObjectId,
    name: String,
    readers: Vec<ThreadId>,
    writer: Option<ThreadId>,
    waiters: Vec<ThreadId>,
    /// Clock of the exclusive releases: what a reader acquires.
    released: VectorClock,
    /// Clocks of the shared releases: what a writer acquires besides. Readers do not
    /// synchronize with each other, so two read sections commute for the race detector too.
    read_released: VectorClock,
}

/// A reader-writer lock between simulated threads. The OS model uses it for rules of the form
/// "these calls never overlap those, but may overlap each other" (Level 3 vs. the rest;
/// `HandleKernelModeMessage` vs. the four serialized UMD functions).
#[derive(Clone)]
pub struct SimRwLock {
    sched: Sched,
    state: Rc<RefCell<RwState>>,
}

impl SimRwLock {
    /// A new, free lock.
    pub fn new(sched: &Sched, name: impl Into<String>) -> Self {
        SimRwLock {
            sched: sched.clone(),
            state: Rc::new(RefCell::new(RwState {
                id: sched.new_object_id(),
                name: name.into(),
                readers: Vec::new(),
                writer: None,
                waiters: Vec::new(),
                released: VectorClock::default(),
                read_released: VectorClock::default(),
            })),
        }
    }

    /// Takes the lock shared.
    pub async fn read(&self) -> SimRwGuard {
        self.sched.yield_op(Op::ReadLock(self.id())).await;
        RwFuture {
            lock: self,
            exclusive: false,
        }
        .await;
        SimRwGuard {
            lock: self.clone(),
            exclusive: false,
        }
    }

    /// Takes the lock exclusively.
    pub async fn write(&self) -> SimRwGuard {
        self.sched.yield_op(Op::WriteLock(self.id())).await;
        RwFuture {
            lock: self,
            exclusive: true,
        }
        .await;
        SimRwGuard {
            lock: self.clone(),
            exclusive: true,
        }
    }

    /// Takes the lock shared if no thread holds it exclusively, without waiting.
    pub fn try_read(&self) -> Option<SimRwGuard> {
        self.try_take(false)
    }

    /// Takes the lock exclusively if no thread holds it at all, without waiting.
    pub fn try_write(&self) -> Option<SimRwGuard> {
        self.try_take(true)
    }

    fn try_take(&self, exclusive: bool) -> Option<SimRwGuard> {
        let me = self.sched.current();
        let mut st = self.state.borrow_mut();
        let free = st.writer.is_none() && (!exclusive || st.readers.is_empty());
        if !free {
            return None;
        }
        if exclusive {
            st.writer = Some(me);
        } else {
            st.readers.push(me);
        }
        let mut released = st.released.clone();
        if exclusive {
            released.join(&st.read_released);
        }
        let id = st.id;
        drop(st);
        self.sched.touch(id, exclusive);
        self.sched.acquire(&released);
        Some(SimRwGuard {
            lock: self.clone(),
            exclusive,
        })
    }

    /// Its object id (for [`Op`]s).
    pub fn id(&self) -> ObjectId {
        self.state.borrow().id
    }

    /// True while some thread holds it exclusively.
    pub fn writer(&self) -> Option<ThreadId> {
        self.state.borrow().writer
    }
}

struct RwFuture<'a> {
    lock: &'a SimRwLock,
    exclusive: bool,
}

impl Future for RwFuture<'_> {
    type Output = ();
    fn poll(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<()> {
        let sched = &self.lock.sched;
        let me = sched.current();
        let mut st = self.lock.state.borrow_mut();
        sched.touch(st.id, self.exclusive);
        let free = if self.exclusive {
            st.writer.is_none() && st.readers.is_empty()
        } else {
            st.writer.is_none()
        };
        if free {
            if self.exclusive {
                st.writer = Some(me);
            } else {
                st.readers.push(me);
            }
            st.waiters.retain(|w| *w != me);
            let mut released = st.released.clone();
            if self.exclusive {
                released.join(&st.read_released);
            }
            drop(st);
            sched.acquire(&released);
            return Poll::Ready(());
        }
        // Re-entered by its own writer (or a reader upgrading): the thread waits for itself and
        // the scheduler reports the deadlock, as Windows would hang. Never a panic.
        if !st.waiters.contains(&me) {
            st.waiters.push(me);
        }
        let held_by = st.writer.or_else(|| st.readers.first().copied());
        let wait = WaitFor {
            object: format!(
                "{} {}",
                if self.exclusive {
                    "exclusive"
                } else {
                    "shared"
                },
                st.name
            ),
            held_by,
        };
        let op = if self.exclusive {
            Op::WriteLock(st.id)
        } else {
            Op::ReadLock(st.id)
        };
        drop(st);
        sched.declare_current(op);
        sched.block_current(wait, None);
        Poll::Pending
    }
}

/// Holds a [`SimRwLock`]; releases it when dropped.
#[must_use = "dropping the guard releases the lock at once"]
pub struct SimRwGuard {
    lock: SimRwLock,
    exclusive: bool,
}

impl Drop for SimRwGuard {
    fn drop(&mut self) {
        let clock = self
            .lock
            .sched
            .try_current()
            .map(|_| self.lock.sched.release());
        let waiters = {
            let mut st = self.lock.state.borrow_mut();
            self.lock.sched.touch(st.id, self.exclusive);
            if self.exclusive {
                st.writer = None;
            } else if let Some(me) = self.lock.sched.try_current() {
                if let Some(pos) = st.readers.iter().position(|r| *r == me) {
                    st.readers.remove(pos);
                } else {
                    st.readers.pop();
                }
            } else {
                st.readers.pop();
            }
            if let Some(c) = clock {
                if self.exclusive {
                    st.released.join(&c);
                } else {
                    st.read_released.join(&c);
                }
            }
            std::mem::take(&mut st.waiters)
        };
        for w in waiters {
            self.lock.sched.wake(w);
        }
    }
}

/// Waits until any of `events` is set (consuming it if auto-reset), or `timeout` of virtual time
/// passes. Returns the index of the event, or `None` on timeout.
pub async fn wait_any(
    sched: &Sched,
    events: &[&SimEvent],
    timeout: Option<Duration>,
) -> Option<usize> {
    WaitAny {
        sched: sched.clone(),
        events,
        timeout,
        blocked: false,
    }
    .await
}

struct WaitAny<'a> {
    sched: Sched,
    events: &'a [&'a SimEvent],
    timeout: Option<Duration>,
    blocked: bool,
}

impl Future for WaitAny<'_> {
    type Output = Option<usize>;
    fn poll(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Option<usize>> {
        let me = self.sched.current();
        for (i, ev) in self.events.iter().enumerate() {
            let mut st = ev.state.borrow_mut();
            self.sched.touch(st.id, true);
            if st.signalled {
                if st.auto_reset {
                    st.signalled = false;
                }
                let released = st.released.clone();
                drop(st);
                for other in self.events {
                    other.state.borrow_mut().waiters.retain(|w| *w != me);
                }
                self.sched.acquire(&released);
                if self.blocked {
                    let _ = self.sched.take_timed_out();
                }
                return Poll::Ready(Some(i));
            }
        }
        if self.blocked && self.sched.take_timed_out() {
            for ev in self.events {
                ev.state.borrow_mut().waiters.retain(|w| *w != me);
            }
            return Poll::Ready(None);
        }
        let mut names = Vec::new();
        for ev in self.events {
            let mut st = ev.state.borrow_mut();
            if !st.waiters.contains(&me) {
                st.waiters.push(me);
            }
            names.push(st.name.clone());
        }
        let timeout = if self.blocked { None } else { self.timeout };
        self.blocked = true;
        self.sched.block_current(
            WaitFor {
                object: format!("any of events {}", names.join(", ")),
                held_by: None,
            },
            timeout,
        );
        Poll::Pending
    }
}
