//! Small reference programs on a bare scheduler, for tests and benches: the same shapes the
//! loom and shuttle comparisons use.

use super::{Finding, Outcome};
use crate::sched::{Op, RunEnd, RunLimits, Sched, SimMutex, Strategy};
use std::cell::Cell;
use std::rc::Rc;

/// `threads` threads each do `steps` times `*mutex.lock() += 1`; at the end the total must be
/// `threads * steps`. With `lost_update`, each step reads in one critical section and writes in
/// another (the classic lost update), which some orderings break (finding `lost-update`).
/// Every step is declared (a thread's first step is local, each lock step is the lock), so
/// partial-order reduction sees that only the order of the lock acquisitions matters.
pub fn lock_steps(
    threads: u32,
    steps: u32,
    lost_update: bool,
    strategy: Box<dyn Strategy>,
) -> Outcome {
    let sched = Sched::new(strategy);
    sched.set_trace_enabled(false);
    let mutex = SimMutex::new(&sched, "m");
    let value = Rc::new(Cell::new(0u32));
    for t in 0..threads {
        let (m, v) = (mutex.clone(), value.clone());
        let id = sched.spawn(format!("t{t}"), false, async move {
            for _ in 0..steps {
                if lost_update {
                    let read = {
                        let _g = m.lock().await;
                        v.get()
                    };
                    let _g = m.lock().await;
                    v.set(read + 1);
                } else {
                    let _g = m.lock().await;
                    v.set(v.get() + 1);
                }
            }
        });
        sched.declare_next(id, Op::Local);
    }
    let end = sched.run(RunLimits::default());
    let mut findings = Vec::new();
    if value.get() != threads * steps {
        findings.push(Finding {
            key: "lost-update".to_owned(),
            message: format!("total is {}, expected {}", value.get(), threads * steps),
        });
    }
    findings.extend(super::liveness::end_findings(&end, &sched.live_threads()));
    let mut out = Outcome::new(sched.schedule(), end, findings);
    out.polls = sched.steps();
    out
}

/// Two threads take two mutexes in opposite orders (finding `deadlock` on some orderings).
pub fn lock_order_inversion(strategy: Box<dyn Strategy>) -> Outcome {
    let sched = Sched::new(strategy);
    sched.set_trace_enabled(false);
    let (a, b) = (SimMutex::new(&sched, "a"), SimMutex::new(&sched, "b"));
    for (first, second, name) in [(a.clone(), b.clone(), "x"), (b, a, "y")] {
        let id = sched.spawn(name, false, async move {
            let _g1 = first.lock().await;
            let _g2 = second.lock().await;
        });
        sched.declare_next(id, Op::Local);
    }
    let end = sched.run(RunLimits::default());
    let findings = super::liveness::end_findings(&end, &sched.live_threads());
    Outcome::new(sched.schedule(), end, findings)
}

/// `RunEnd` of a model run, for assertions.
pub fn completed(o: &Outcome) -> bool {
    o.end == RunEnd::Completed
}
