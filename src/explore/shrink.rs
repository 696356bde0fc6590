//! Shrinking a failing schedule: fewer preemptions first, then fewer choices, each candidate
//! verified by replay to fail with the same finding.
//!
//! A candidate is a list of choices replayed with [`ReplayStrategy`] whose fallback is
//! [`FirstStrategy`] (no preemption past the list, and past the first choice that no longer
//! fits). What the run then actually chose becomes the new current schedule when it still
//! fails the same way and is smaller: no more preemptions and no more choices, and fewer of one. Passes:
//! truncation (the shortest prefix that still fails), then delta debugging over the preempting
//! choices (replacing chunks of them, halving the chunk size down to single choices, by the
//! "no preemption" option), repeated until nothing improves or the run budget is spent.

use super::strategies::NoPreemptionRecorder;
use super::{Outcome, RunFn};
use crate::sched::{Choice, FirstStrategy, ReplayStrategy};
use serde::Serialize;
use std::cell::RefCell;
use std::rc::Rc;

/// What shrinking achieved.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Shrunk {
    /// The smallest failing schedule found.
    #[serde(skip)]
    pub choices: Vec<Choice>,
    /// Its length.
    pub choices_len: usize,
    /// Its preemptions.
    pub preemptions: usize,
    /// The original's length.
    pub original_len: usize,
    /// The original's preemptions.
    pub original_preemptions: usize,
    /// Replays spent.
    pub runs: u32,
}

impl Shrunk {
    /// `shrunk 41 -> 6 choices, 5 -> 1 preemptions (23 replays)`.
    pub fn describe(&self) -> String {
        format!(
            "shrunk {} -> {} choices, {} -> {} preemptions ({} replays)",
            self.original_len,
            self.choices_len,
            self.original_preemptions,
            self.preemptions,
            self.runs
        )
    }
}

struct Candidate {
    choices: Vec<Choice>,
    no_preemption: Vec<u32>,
}

impl Candidate {
    fn preemptions(&self) -> usize {
        self.choices
            .iter()
            .zip(&self.no_preemption)
            .filter(|(c, np)| c.kind == crate::sched::ChoiceKind::Thread && c.chosen != **np)
            .count()
    }
    fn size(&self) -> (usize, usize) {
        (self.preemptions(), self.choices.len())
    }
}

fn replay(run: &RunFn<'_>, choices: &[Choice]) -> (Outcome, Vec<u32>) {
    let log = Rc::new(RefCell::new(Vec::new()));
    let strategy = NoPreemptionRecorder::new(
        Box::new(ReplayStrategy::new(
            choices.to_vec(),
            Box::new(FirstStrategy),
        )),
        log.clone(),
    );
    let outcome = run(Box::new(strategy));
    let np = log.borrow().clone();
    (outcome, np)
}

/// Shrinks `choices`, which fail with finding `key`, spending at most `max_runs` replays.
pub fn shrink(run: &RunFn<'_>, choices: &[Choice], key: &str, max_runs: u32) -> Shrunk {
    let mut runs = 0u32;
    let (first, np) = replay(run, choices);
    runs += 1;
    let original = Candidate {
        choices: first.schedule.clone(),
        no_preemption: np,
    };
    let (original_preemptions, original_len) = original.size();
    let mut best = original;
    if !first.fails_with(key) {
        // Not reproducible by replay: nothing to shrink.
        return Shrunk {
            choices: choices.to_vec(),
            choices_len: choices.len(),
            preemptions: original_preemptions,
            original_len: choices.len(),
            original_preemptions,
            runs,
        };
    }
    let try_candidate = |cand: Vec<Choice>, best: &mut Candidate, runs: &mut u32| -> bool {
        if *runs >= max_runs {
            return false;
        }
        *runs += 1;
        let (out, np) = replay(run, &cand);
        if !out.fails_with(key) {
            return false;
        }
        let c = Candidate {
            choices: out.schedule,
            no_preemption: np,
        };
        let (cs, bs) = (c.size(), best.size());
        // Dominance: never longer, never more preemptions, and smaller in one of them.
        if cs.0 <= bs.0 && cs.1 <= bs.1 && cs != bs {
            *best = c;
            true
        } else {
            false
        }
    };
    loop {
        let before = best.size();
        // Truncation: the shortest failing prefix, by bisection (each probe verified).
        let (mut lo, mut hi) = (0usize, best.choices.len());
        while lo < hi && runs < max_runs {
            let mid = (lo + hi) / 2;
            let cand = best.choices[..mid].to_vec();
            if try_candidate(cand, &mut best, &mut runs) {
                hi = best.choices.len().min(mid);
            } else {
                lo = mid + 1;
            }
        }
        // Delta debugging over preempting choices.
        let mut chunk = best.preemptions().max(1);
        while chunk >= 1 && runs < max_runs {
            let preempting: Vec<usize> = (0..best.choices.len())
                .filter(|i| {
                    best.choices[*i].kind == crate::sched::ChoiceKind::Thread
                        && best.choices[*i].chosen != best.no_preemption[*i]
                })
                .collect();
            if preempting.is_empty() {
                break;
            }
            let mut improved = false;
            for group in preempting.chunks(chunk) {
                let mut cand = best.choices.clone();
                for &i in group {
                    cand[i].chosen = best.no_preemption[i];
                }
                if try_candidate(cand, &mut best, &mut runs) {
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
    let (preemptions, len) = best.size();
    Shrunk {
        choices: best.choices,
        choices_len: len,
        preemptions,
        original_len,
        original_preemptions,
        runs,
    }
}
