//! Shrinking a failing schedule to the smallest one that still fails with the same finding,
//! every candidate verified by replay.
//!
//! A schedule is seen as its *deviations* from the default schedule: at each choice the
//! default is "no preemption" (the thread that ran last when it is still runnable, else the
//! lowest runnable id; value 0 for data choices), and a deviation names the choice index and
//! the thread id (or value) taken instead. A deviation that switches away from a still-runnable
//! thread is a preemption. Candidates are replayed by [`DeviationStrategy`], which takes each
//! named thread when it is runnable at that index and the default otherwise, so removing an
//! early deviation does not scramble the meaning of the later ones (thread ids, not option
//! positions).
//!
//! Passes, repeated until nothing improves or the replay budget is spent:
//! 1. fewer threads: drop every deviation that switches to one thread (the thread then runs
//!    only where the default schedule runs it), thread by thread, the least used first;
//! 2. truncation: drop every deviation after a point (bisection on the shortest failing
//!    prefix of deviations);
//! 3. delta debugging: remove chunks of deviations, preemptions first, halving the chunk size
//!    down to single deviations.
//!
//! A candidate replaces the current schedule only when it fails with the same finding, has no
//! more preemptions, no more threads switched to and no more deviations, and fewer of one of
//! them, and its *significant length*
//! (choices up to the last deviation; after it the schedule is the default) is no longer than
//! the original's. The total number of recorded choices is not minimized: that is how many
//! choice points the program passed, not information in the schedule (the default schedule can
//! pass more points than a preempted one).
//! The result is replayable with the plain recorded choices.

use super::{Outcome, RunFn};
use crate::sched::{Choice, Strategy, ThreadDecision};
use serde::Serialize;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

/// What shrinking achieved.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Shrunk {
    /// The smallest failing schedule found (recorded choices, replayable as they are).
    #[serde(skip)]
    pub choices: Vec<Choice>,
    /// Its length.
    pub choices_len: usize,
    /// Its preemptions.
    pub preemptions: usize,
    /// Its deviations from the no-preemption schedule (preemptions included).
    pub deviations: usize,
    /// Distinct threads its deviations switch to (the threads whose interleaving matters).
    pub threads: usize,
    /// Its significant length: choices up to and including the last deviation (past it, the
    /// schedule is the default one).
    pub significant_len: usize,
    /// The original's length.
    pub original_len: usize,
    /// The original's significant length.
    pub original_significant_len: usize,
    /// The original's preemptions.
    pub original_preemptions: usize,
    /// The original's deviations.
    pub original_deviations: usize,
    /// The original's threads switched to.
    pub original_threads: usize,
    /// Replays spent.
    pub runs: u32,
}

impl Shrunk {
    /// `shrunk 46 -> 2 preemptions, 5 -> 1 threads switched to, 52 -> 2 deviations, significant
    /// prefix 88 -> 31 choices (14 replays)`.
    pub fn describe(&self) -> String {
        format!(
            "shrunk {} -> {} preemptions, {} -> {} threads switched to, {} -> {} deviations from the no-preemption schedule, significant prefix {} -> {} choices ({} replays)",
            self.original_preemptions,
            self.preemptions,
            self.original_threads,
            self.threads,
            self.original_deviations,
            self.deviations,
            self.original_significant_len,
            self.significant_len,
            self.runs
        )
    }
}

/// One deviation from the default schedule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Deviation {
    index: usize,
    /// Thread id for thread choices, value for data choices.
    take: u32,
    preemption: bool,
    /// A thread choice (not a data choice).
    thread: bool,
}

/// Replays a deviation list: at choice `i`, the thread (or value) a deviation names when it is
/// available, else the default.
pub struct DeviationStrategy {
    deviations: BTreeMap<usize, u32>,
    index: usize,
}

/// The no-preemption choice at a thread decision: the thread that ran last when it is still
/// runnable, else the lowest id.
fn default_pick(d: &ThreadDecision<'_>) -> usize {
    d.last
        .and_then(|l| d.runnable.iter().position(|r| *r == l))
        .unwrap_or(0)
}

impl Strategy for DeviationStrategy {
    fn pick_thread(&mut self, d: &ThreadDecision<'_>) -> usize {
        let i = self.index;
        self.index += 1;
        self.deviations
            .get(&i)
            .and_then(|t| d.runnable.iter().position(|r| r == t))
            .unwrap_or_else(|| default_pick(d))
    }
    fn pick_value(&mut self, options: u32, _label: &str, _index: usize) -> u32 {
        let i = self.index;
        self.index += 1;
        self.deviations
            .get(&i)
            .copied()
            .unwrap_or(0)
            .min(options - 1)
    }
    fn describe(&self) -> String {
        format!("deviations({})", self.deviations.len())
    }
}

/// Runs `inner` and writes down where it deviated from the default schedule.
struct Observed {
    inner: Box<dyn Strategy>,
    index: usize,
    observed: Rc<RefCell<Vec<Deviation>>>,
}

impl Strategy for Observed {
    fn pick_thread(&mut self, d: &ThreadDecision<'_>) -> usize {
        let i = self.index;
        self.index += 1;
        let pick = self.inner.pick_thread(d);
        if pick != default_pick(d) {
            self.observed.borrow_mut().push(Deviation {
                index: i,
                take: d.runnable[pick],
                preemption: d.last.is_some(),
                thread: true,
            });
        }
        pick
    }
    fn pick_value(&mut self, options: u32, label: &str, index: usize) -> u32 {
        let i = self.index;
        self.index += 1;
        let v = self.inner.pick_value(options, label, index);
        if v != 0 {
            self.observed.borrow_mut().push(Deviation {
                index: i,
                take: v,
                preemption: false,
                thread: false,
            });
        }
        v
    }
    fn describe(&self) -> String {
        self.inner.describe()
    }
}

/// Runs `inner`, returning the outcome and the deviations it took.
fn observe(run: &RunFn<'_>, inner: Box<dyn Strategy>) -> (Outcome, Vec<Deviation>) {
    let observed = Rc::new(RefCell::new(Vec::new()));
    let outcome = run(Box::new(Observed {
        inner,
        index: 0,
        observed: observed.clone(),
    }));
    let seen = observed.borrow().clone();
    (outcome, seen)
}

fn replay(run: &RunFn<'_>, deviations: &[Deviation]) -> (Outcome, Vec<Deviation>) {
    let strategy = DeviationStrategy {
        deviations: deviations.iter().map(|d| (d.index, d.take)).collect(),
        index: 0,
    };
    observe(run, Box::new(strategy))
}

/// The deviations of a recorded schedule, found by replaying it once.
fn deviations_of(run: &RunFn<'_>, choices: &[Choice]) -> (Outcome, Vec<Deviation>) {
    let replay =
        crate::sched::ReplayStrategy::new(choices.to_vec(), Box::new(crate::sched::FirstStrategy));
    observe(run, Box::new(replay))
}

#[derive(Clone)]
struct Candidate {
    choices: Vec<Choice>,
    deviations: Vec<Deviation>,
}

impl Candidate {
    fn preemptions(&self) -> usize {
        self.deviations.iter().filter(|d| d.preemption).count()
    }
    /// Threads the deviations switch to, least used first.
    fn threads(&self) -> Vec<u32> {
        let mut uses: BTreeMap<u32, usize> = BTreeMap::new();
        for d in self.deviations.iter().filter(|d| d.thread) {
            *uses.entry(d.take).or_default() += 1;
        }
        let mut threads: Vec<(u32, usize)> = uses.into_iter().collect();
        threads.sort_by_key(|(t, n)| (*n, *t));
        threads.into_iter().map(|(t, _)| t).collect()
    }
    /// (preemptions, threads switched to, deviations): each must not grow, one must shrink.
    fn size(&self) -> (usize, usize, usize) {
        (
            self.preemptions(),
            self.threads().len(),
            self.deviations.len(),
        )
    }
    fn significant_len(&self) -> usize {
        self.deviations.last().map_or(0, |d| d.index + 1)
    }
}

/// Shrinks `choices`, which fail with finding `key`, spending at most `max_runs` replays.
pub fn shrink(run: &RunFn<'_>, choices: &[Choice], key: &str, max_runs: u32) -> Shrunk {
    let mut runs = 1u32;
    let (first, devs) = deviations_of(run, choices);
    let original = Candidate {
        choices: first.schedule.clone(),
        deviations: devs,
    };
    let original_len = original.choices.len();
    let original_significant_len = original.significant_len();
    let (original_preemptions, original_threads, original_deviations) = original.size();
    let mut best = original;
    if first.fails_with(key) {
        let attempt = |cand: Vec<Deviation>, best: &mut Candidate, runs: &mut u32| -> bool {
            if *runs >= max_runs {
                return false;
            }
            *runs += 1;
            let (out, seen) = replay(run, &cand);
            if !out.fails_with(key) {
                return false;
            }
            let c = Candidate {
                choices: out.schedule,
                deviations: seen,
            };
            let (cs, bs) = (c.size(), best.size());
            if cs.0 <= bs.0 && cs.1 <= bs.1 && cs.2 <= bs.2 && cs != bs {
                *best = c;
                true
            } else {
                false
            }
        };
        loop {
            let before = best.size();
            // 1. Fewer threads: let one thread run only where the default schedule runs it.
            for thread in best.threads() {
                if runs >= max_runs {
                    break;
                }
                let cand: Vec<Deviation> = best
                    .deviations
                    .iter()
                    .filter(|d| !(d.thread && d.take == thread))
                    .copied()
                    .collect();
                if cand.len() < best.deviations.len() {
                    attempt(cand, &mut best, &mut runs);
                }
            }
            // 2. Truncation: the shortest failing prefix of the deviations.
            let (mut lo, mut hi) = (0usize, best.deviations.len());
            while lo < hi && runs < max_runs {
                let mid = (lo + hi) / 2;
                let cand = best.deviations[..mid].to_vec();
                if attempt(cand, &mut best, &mut runs) {
                    hi = best.deviations.len().min(mid);
                } else {
                    lo = mid + 1;
                }
            }
            // 3. Delta debugging: remove chunks, preemptions before other deviations.
            let mut chunk = (best.deviations.len() / 2).max(1);
            loop {
                if runs >= max_runs || best.deviations.is_empty() {
                    break;
                }
                let mut order: Vec<usize> = (0..best.deviations.len()).collect();
                order.sort_by_key(|i| !best.deviations[*i].preemption);
                let mut improved = false;
                for group in order.chunks(chunk) {
                    let cand: Vec<Deviation> = best
                        .deviations
                        .iter()
                        .enumerate()
                        .filter(|(i, _)| !group.contains(i))
                        .map(|(_, d)| *d)
                        .collect();
                    if attempt(cand, &mut best, &mut runs) {
                        improved = true;
                        break;
                    }
                }
                if !improved {
                    if chunk == 1 {
                        break;
                    }
                    chunk /= 2;
                }
            }
            if best.size() >= before || runs >= max_runs {
                break;
            }
        }
    }
    let (preemptions, threads, deviations) = best.size();
    Shrunk {
        threads,
        original_threads,
        significant_len: best.significant_len(),
        original_significant_len,
        choices_len: best.choices.len(),
        choices: best.choices,
        preemptions,
        deviations,
        original_len,
        original_preemptions,
        original_deviations,
        runs,
    }
}
