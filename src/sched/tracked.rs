//! [`Tracked`] cells: driver state whose accesses are checked for races between simulated
//! threads.
//!
//! A driver model keeps its shared state in `Tracked` cells. Every read and write records the
//! thread, its vector clock and the DDIs it is inside. Two accesses from different threads, at
//! least one a write, with neither happening before the other (no mutex, event, spawn or
//! OS-documented ordering between them) are a race, whatever order this particular schedule
//! happened to run them in. That is how "`HandleKernelModeMessage` without its lock" and "state
//! written after `DxgkCbMiracastSendMessage` returns, read by the completion routine" are
//! found on every schedule, not only on the unlucky one.

use super::clock::VectorClock;
use super::{Sched, ThreadId};
use crate::ddi::Ddi;
use std::cell::RefCell;

/// One access in a race report.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Access {
    /// The thread.
    pub thread: ThreadId,
    /// Its vector-clock component (threads that never ran at once may share one).
    #[serde(skip)]
    pub slot: u32,
    /// Its name.
    pub thread_name: String,
    /// The DDIs it was inside, outermost first.
    pub inside: Vec<Ddi>,
    /// True for a write.
    pub write: bool,
    /// The trace position at the time of the access.
    pub trace_seq: u32,
}

/// The earlier access (the last write, or for a write any read since) that a new access by
/// `me` conflicts with and `clock` does not order: the race detector's one test, for `Tracked`
/// cells and for the shadow memory of the C race check.
pub(crate) fn unordered_conflict(
    last_write: Option<&(Access, u32)>,
    reads: &[(Access, u32)],
    me: ThreadId,
    clock: &VectorClock,
    write: bool,
) -> Option<Access> {
    let unordered = |(prev, epoch): &&(Access, u32)| {
        prev.thread != me && clock.get(prev.slot as usize) < *epoch
    };
    last_write
        .filter(unordered)
        .or_else(|| {
            if write {
                reads.iter().find(unordered)
            } else {
                None
            }
        })
        .map(|(a, _)| a.clone())
}

/// Two unordered accesses to the same tracked state, at least one a write.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct RaceReport {
    /// The cell's name (`umd.session_state`).
    pub cell: String,
    /// The earlier access.
    pub first: Access,
    /// The later access.
    pub second: Access,
}

struct Meta {
    last_write: Option<(Access, u32)>,
    reads: Vec<(Access, u32)>,
    reported: bool,
}

/// Shared driver state with race detection. Not `Sync`: simulated threads are futures on one
/// OS thread; the checking is about the *simulated* concurrency.
pub struct Tracked<T> {
    sched: Sched,
    id: super::ObjectId,
    name: String,
    value: RefCell<T>,
    meta: RefCell<Meta>,
}

impl<T> Tracked<T> {
    /// A cell named `name` (appears in race reports).
    pub fn new(sched: &Sched, name: impl Into<String>, value: T) -> Self {
        Tracked {
            sched: sched.clone(),
            id: sched.new_object_id(),
            name: name.into(),
            value: RefCell::new(value),
            meta: RefCell::new(Meta {
                last_write: None,
                reads: Vec::new(),
                reported: false,
            }),
        }
    }

    /// Reads the value.
    pub fn read<R>(&self, f: impl FnOnce(&T) -> R) -> R {
        self.record(false);
        f(&self.value.borrow())
    }

    /// Writes the value.
    pub fn write<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        self.record(true);
        f(&mut self.value.borrow_mut())
    }

    /// Reads without recording (for the OS model's own end-of-run inspection).
    pub fn peek<R>(&self, f: impl FnOnce(&T) -> R) -> R {
        f(&self.value.borrow())
    }

    fn record(&self, write: bool) {
        let Some(me) = self.sched.try_current() else {
            return;
        };
        self.sched.touch(self.id, write);
        let clock: VectorClock = self.sched.clock_of_current();
        let slot = self.sched.clock_slot(me);
        let my_epoch = clock.get(slot);
        let access = Access {
            thread: me,
            slot: slot as u32,
            thread_name: self.sched.thread_name(me),
            inside: self.sched.frames(me),
            write,
            trace_seq: self.sched.trace_len(),
        };
        let mut meta = self.meta.borrow_mut();
        let conflict = unordered_conflict(meta.last_write.as_ref(), &meta.reads, me, &clock, write);
        if let Some(first) = conflict
            && !meta.reported
        {
            meta.reported = true;
            self.sched.report_race(RaceReport {
                cell: self.name.clone(),
                first,
                second: access.clone(),
            });
        }
        if write {
            meta.reads.clear();
            meta.last_write = Some((access, my_epoch));
        } else {
            meta.reads.retain(|(a, _)| a.thread != me);
            meta.reads.push((access, my_epoch));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sched::{RandomStrategy, RunLimits, SimMutex};
    use std::rc::Rc;

    fn run(locked: bool, seed: u64) -> Vec<RaceReport> {
        let sched = Sched::new(Box::new(RandomStrategy::new(seed)));
        let cell = Rc::new(Tracked::new(&sched, "counter", 0u32));
        let mutex = SimMutex::new(&sched, "m");
        for t in 0..2 {
            let (s, c, m) = (sched.clone(), cell.clone(), mutex.clone());
            sched.spawn(format!("t{t}"), false, async move {
                let _g = if locked { Some(m.lock().await) } else { None };
                let v = c.read(|v| *v);
                s.yield_now().await;
                c.write(|x| *x = v + 1);
            });
        }
        sched.run(RunLimits::default());
        sched.races()
    }

    #[test]
    fn unlocked_read_modify_write_races_on_every_schedule() {
        for seed in 0..8 {
            let races = run(false, seed);
            assert_eq!(races.len(), 1, "seed {seed}");
            assert_eq!(races[0].cell, "counter");
        }
    }

    #[test]
    fn locked_read_modify_write_never_races() {
        for seed in 0..8 {
            assert!(run(true, seed).is_empty(), "seed {seed}");
        }
    }
}
