//! Scheduling strategies: who runs next at a choice point, and which value a data choice takes.
//!
//! One interface, [`Strategy`]; this module ships seeded random and replay. Exploration
//! strategies (PCT, exhaustive search) implement the same trait.

use rand_core::{RngCore, SeedableRng};
use rand_pcg::Pcg64Mcg;
use serde::{Deserialize, Serialize};

/// What the scheduler is deciding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ChoiceKind {
    /// Which runnable simulated thread runs next.
    Thread,
    /// A documented OS freedom that is a value rather than a thread (for example: does the
    /// completion routine run on the sending thread or on another one).
    Value,
}

/// One decision, as recorded for replay.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Choice {
    /// Thread or value.
    pub kind: ChoiceKind,
    /// How many options there were (at least 2; single-option points are not recorded).
    pub options: u32,
    /// The index taken. For threads: the position in the ascending list of runnable thread ids.
    pub chosen: u32,
}

/// What a strategy sees at a thread choice.
#[derive(Debug)]
pub struct ThreadDecision<'a> {
    /// Runnable thread ids, ascending.
    pub runnable: &'a [u32],
    /// The thread that ran last, if it is still runnable (not switching to another thread is
    /// then "no preemption").
    pub last: Option<u32>,
    /// How many choices were recorded before this one.
    pub index: usize,
    /// What each runnable thread's next step is declared to do (parallel to `runnable`;
    /// `None`: unknown).
    pub pending: &'a [Option<super::Op>],
    /// The steps run since the previous call to the strategy (thread decision or forced
    /// observation), in order; what each was declared to do and what it touched.
    pub steps_since: &'a [super::StepRecord],
}

/// Picks threads and values at choice points. Must be deterministic given its construction.
pub trait Strategy {
    /// Index into `decision.runnable` of the thread to run.
    fn pick_thread(&mut self, decision: &ThreadDecision<'_>) -> usize;
    /// Called where only one thread can run (not a choice, nothing recorded): lets exploration
    /// strategies follow every step (`decision.runnable` has one entry).
    fn observe_forced(&mut self, _decision: &ThreadDecision<'_>) {}
    /// A value in `0..options` for a data choice; `label` says what is being chosen.
    fn pick_value(&mut self, options: u32, label: &str, index: usize) -> u32;
    /// A short description for reports and replay tokens (`random(seed=7)`).
    fn describe(&self) -> String;
    /// Set when a replayed schedule no longer fits the program; `None` for other strategies.
    fn divergence(&self) -> Option<&Divergence> {
        None
    }
    /// True when the rest of this run can teach nothing (an exhaustive search found it repeats
    /// an explored one); the scheduler then ends it with [`super::RunEnd::Abandoned`].
    fn abandoned(&self) -> bool {
        false
    }
}

/// Seeded uniform random choice, with a portable generator (PCG, stable across platforms and
/// versions, so a seed means the same schedule everywhere).
#[derive(Debug, Clone)]
pub struct RandomStrategy {
    seed: u64,
    rng: Pcg64Mcg,
}

impl RandomStrategy {
    /// A strategy whose every choice follows from `seed`.
    pub fn new(seed: u64) -> Self {
        RandomStrategy {
            seed,
            rng: Pcg64Mcg::seed_from_u64(seed),
        }
    }

    fn below(&mut self, n: u32) -> u32 {
        // Lemire's multiply-shift; n is small, the bias is negligible and, above all, stable.
        ((u64::from(self.rng.next_u32()) * u64::from(n)) >> 32) as u32
    }
}

impl Strategy for RandomStrategy {
    fn pick_thread(&mut self, decision: &ThreadDecision<'_>) -> usize {
        self.below(decision.runnable.len() as u32) as usize
    }
    fn pick_value(&mut self, options: u32, _label: &str, _index: usize) -> u32 {
        self.below(options)
    }
    fn describe(&self) -> String {
        format!("random(seed={})", self.seed)
    }
}

/// Where a replayed schedule stopped fitting the program.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Divergence {
    /// Index of the first choice that did not fit.
    pub index: usize,
    /// What the recording says.
    pub expected: Choice,
    /// What the program offered: kind and number of options.
    pub found_kind: ChoiceKind,
    /// Number of options the program offered.
    pub found_options: u32,
}

/// Replays a recorded list of choices; past its end (or after a divergence) it hands over to a
/// fallback strategy, so "replay, then explore" is the same mechanism.
pub struct ReplayStrategy {
    choices: Vec<Choice>,
    next: usize,
    divergence: Option<Divergence>,
    fallback: Box<dyn Strategy>,
}

impl ReplayStrategy {
    /// Replays `choices`, then continues with `fallback`.
    pub fn new(choices: Vec<Choice>, fallback: Box<dyn Strategy>) -> Self {
        ReplayStrategy {
            choices,
            next: 0,
            divergence: None,
            fallback,
        }
    }

    /// True when every recorded choice was consumed without divergence.
    pub fn completed(&self) -> bool {
        self.divergence.is_none() && self.next >= self.choices.len()
    }

    fn take(&mut self, kind: ChoiceKind, options: u32) -> Option<u32> {
        if self.divergence.is_some() {
            return None;
        }
        let expected = *self.choices.get(self.next)?;
        if expected.kind != kind || expected.options != options || expected.chosen >= options {
            self.divergence = Some(Divergence {
                index: self.next,
                expected,
                found_kind: kind,
                found_options: options,
            });
            return None;
        }
        self.next += 1;
        Some(expected.chosen)
    }
}

impl Strategy for ReplayStrategy {
    fn pick_thread(&mut self, decision: &ThreadDecision<'_>) -> usize {
        match self.take(ChoiceKind::Thread, decision.runnable.len() as u32) {
            Some(chosen) => chosen as usize,
            None => self.fallback.pick_thread(decision),
        }
    }
    fn pick_value(&mut self, options: u32, label: &str, index: usize) -> u32 {
        match self.take(ChoiceKind::Value, options) {
            Some(chosen) => chosen,
            None => self.fallback.pick_value(options, label, index),
        }
    }
    fn observe_forced(&mut self, decision: &ThreadDecision<'_>) {
        self.fallback.observe_forced(decision);
    }
    fn describe(&self) -> String {
        format!(
            "replay({} choices, then {})",
            self.choices.len(),
            self.fallback.describe()
        )
    }
    fn divergence(&self) -> Option<&Divergence> {
        self.divergence.as_ref()
    }
    fn abandoned(&self) -> bool {
        self.fallback.abandoned()
    }
}

/// Always takes the first option: the thread that ran last keeps running when it can, else the
/// lowest id. The "no preemption" baseline schedule.
#[derive(Debug, Default, Clone, Copy)]
pub struct FirstStrategy;

impl Strategy for FirstStrategy {
    fn pick_thread(&mut self, decision: &ThreadDecision<'_>) -> usize {
        decision
            .last
            .and_then(|l| decision.runnable.iter().position(|r| *r == l))
            .unwrap_or(0)
    }
    fn pick_value(&mut self, _options: u32, _label: &str, _index: usize) -> u32 {
        0
    }
    fn describe(&self) -> String {
        "first".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_is_reproducible_and_seed_dependent() {
        let picks = |seed| {
            let mut s = RandomStrategy::new(seed);
            (0..64).map(|i| s.pick_value(5, "x", i)).collect::<Vec<_>>()
        };
        assert_eq!(picks(7), picks(7));
        assert_ne!(picks(7), picks(8));
        assert!(picks(7).iter().all(|v| *v < 5));
    }

    #[test]
    fn replay_reports_the_first_divergent_choice() {
        let rec = vec![Choice {
            kind: ChoiceKind::Value,
            options: 2,
            chosen: 1,
        }];
        let mut r = ReplayStrategy::new(rec, Box::new(FirstStrategy));
        let d = ThreadDecision {
            runnable: &[0, 1, 2],
            last: None,
            index: 0,
            pending: &[None, None, None],
            steps_since: &[],
        };
        assert_eq!(r.pick_thread(&d), 0);
        let div = r.divergence().unwrap();
        assert_eq!(
            (div.index, div.found_kind, div.found_options),
            (0, ChoiceKind::Thread, 3)
        );
    }
}
