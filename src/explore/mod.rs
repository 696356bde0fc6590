//! Exploration: run one program under many schedules, find the orderings that break a rule,
//! replay them exactly, and shrink them.
//!
//! Map:
//! - [`strategies`]: PCT (seeded random, replay and first-choice come from [`crate::sched`]).
//! - [`dfs`]: exhaustive depth-first search over the choice tree by replaying prefixes, with
//!   sleep-set partial-order reduction, preemption and depth bounds, and partitioning.
//! - [`independence`]: which steps commute (declared ops, touched objects, and the documented
//!   synchronization classes of the DDIs).
//! - [`explorer`]: the loop over schedules (strategy modes and portfolio, `--jobs` workers,
//!   `--partition K/N`, a caller-supplied budget, determinism self-check), and its report.
//! - [`shrink`](mod@shrink): shrinking of a failing schedule's deviations from the
//!   no-preemption schedule (fewer threads switched to, truncation, delta debugging), every
//!   candidate verified by replay.
//! - [`models`]: small reference programs on a bare scheduler (tests, benches).
//! - [`liveness`]: deadlock, terminated-hot, hot-too-long, step-cap and time-cap findings.
//! - [`coverage`]: visited (DDI, session phase, message state) combinations.
//! - [`token`]: replay tokens (the runner's format, with bounds and finding in the strategy).
//! - [`verdict`]: what an exploration means for the scenario explored (found as expected,
//!   unexpected, expected but never found): one verdict for the line, the reports and the exit
//!   code.
//! - [`scenario_run`]: a scenario run ([`crate::runner::run_once`]) as an exploration outcome.
//!
//! The explorer drives any `Fn(Box<dyn Strategy>) -> Outcome` ([`RunFn`]): a hand-written
//! model on a bare [`crate::sched::Sched`] (tests, benches) or a scenario. Each worker thread
//! calls it with its own strategy and the closure builds a fresh simulation per call
//! (everything simulated is `Rc`, so a simulation never leaves its OS thread). The core reads
//! no clock: the wall-clock budget (`--explore-time`) is a `stop()` callback the CLI builds.
//!
//! ## Scheduling points: what is and is not explored
//!
//! Simulated threads are futures; one runs at a time. The scheduler chooses only at
//! *choice points*, where the running thread gives the turn back:
//! - every DDI entry and exit, and every OS service a driver calls (entry and exit; the exit
//!   point is what lets a `DxgkCbMiracastSendMessage` completion routine run before the send
//!   returns, R27);
//! - taking a simulated lock (`SimMutex`, `SimRwLock`) and blocking on one or on an event;
//! - every explicit `yield_now`/`yield_op` in the OS model (message delivery, IOCTL threads,
//!   chunk producer, sink I/O);
//! - data choices the OS documents as free (`Sched::choose`), recorded like thread choices.
//!
//! A choice is recorded only when two or more options exist, so a schedule is exactly its
//! list of recorded choices. Between choice points a thread runs alone: interleavings *inside*
//! a step are not explored. A driver that shares plain memory between threads without going
//! through a choice point is not interleaved there, but its accesses are still checked by the
//! race detector (`Tracked` cells report unordered accesses on every schedule, whatever order
//! ran). Time is virtual: timers fire only when no thread can run, so orderings that depend on
//! real-time speed are explored only as far as the OS model yields around its waits.
//!
//! Partial-order reduction: a step may be declared ([`crate::sched::Op`], by
//! `Sched::yield_op`, by the simulated locks and events themselves, or `Sched::declare_next`)
//! and the scheduler records what it touched. Two steps commute when both are declared and
//! neither the declared ops (DDI classes from the WDDM levels and the Miracast class), nor the
//! touched objects, nor the opaque drivers whose code they ran conflict. Undeclared steps
//! conflict with everything (sound). A scenario run is *accounted*
//! (`Sched::set_accounted`): the OS model's state, the RTSP link and the sink live in
//! `Shared` cells, the scheduler records its own shared objects (the trace, thread creation,
//! object ids), the reference drivers keep their shared state in `Tracked` cells and
//! simulated locks, and a driver binary is opaque (two steps running its code conflict). So
//! every step of a scenario is known, and what commutes is what touches disjoint state: the
//! RTSP exchange between the UMD and the sink against OS and KMD work, read-only looks at
//! driver state against each other, a step against another thread's lock-free work. Every
//! trace event a trace check may order writes the trace object, so no two steps whose order
//! a check compares are ever commuted. The bytes on the link are the exception: no check orders
//! them, except R32 (a UMD send after `StopMiracastSession` returned), and a send once Stop has
//! begun is an ordered event while one before reads the flag Stop's entry writes.
//! Sleep sets follow every step,
//! including the ones where a single thread could run (`Strategy::observe_forced`), so a run
//! that would repeat an explored ordering is recognized and not counted. Bounds: preemptions
//! (switching away from a thread that is still runnable; switches at blocking points are free)
//! and depth (choices branched on, counted from the start of the run); sleep sets with a
//! preemption bound may skip schedules the unbounded search would reach, as with any bounded
//! search.

pub mod coverage;
pub mod dfs;
pub mod explorer;
pub mod independence;
pub mod liveness;
pub mod models;
pub mod scenario_run;
pub mod shrink;
pub mod strategies;
pub mod token;
pub mod verdict;

pub use coverage::{Coverage, CoverageKey, MessageState};
pub use dfs::{Bounds, DfsStrategy, DfsTree};
pub use explorer::{
    ExploreConfig, ExploreReport, Failure, Mode, Partition, explore, explore_observed, token_for,
};
pub use shrink::{DeviationStrategy, Shrunk, shrink};
pub use strategies::PctStrategy;
pub use verdict::{ExploreVerdict, VerdictFinding};

use crate::sched::{Choice, Divergence, RunEnd, Strategy};
use crate::trace::Trace;
use serde::Serialize;
use std::collections::BTreeSet;

/// Something wrong with one schedule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// What kind: a rule id (`R27`), `deadlock`, `liveness:terminated-hot`,
    /// `liveness:hot-too-long`, `liveness:step-cap`, `liveness:time-cap`, `panic`, or a
    /// model's own key. Shrinking keeps the key.
    pub key: String,
    /// One sentence.
    pub message: String,
}

/// What one run of the explored program produced.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// The recorded choices.
    pub schedule: Vec<Choice>,
    /// What went wrong (empty: the schedule passed).
    pub findings: Vec<Finding>,
    /// How the run ended.
    pub end: RunEnd,
    /// Hash of the trace, when recorded.
    pub trace_hash: Option<u64>,
    /// The trace itself, when kept.
    pub trace: Option<Trace>,
    /// Coverage keys of this run, when collected.
    pub coverage: Option<BTreeSet<CoverageKey>>,
    /// Replay divergence, when a replayed schedule no longer fit.
    pub divergence: Option<Divergence>,
    /// Scheduler polls.
    pub polls: u64,
}

impl Outcome {
    /// An outcome with just a schedule, an end and findings.
    pub fn new(schedule: Vec<Choice>, end: RunEnd, findings: Vec<Finding>) -> Self {
        Outcome {
            schedule,
            findings,
            end,
            trace_hash: None,
            trace: None,
            coverage: None,
            divergence: None,
            polls: 0,
        }
    }

    /// True when a finding with `key` is among the findings.
    pub fn fails_with(&self, key: &str) -> bool {
        self.findings.iter().any(|f| f.key == key)
    }
}

/// The program being explored: one run per call, under the given strategy.
pub type RunFn<'a> = dyn Fn(Box<dyn Strategy>) -> Outcome + Sync + 'a;

#[cfg(test)]
mod tests;
