//! Exploration strategies behind the one [`Strategy`] interface: PCT (seeded random, replay
//! and first-choice live in [`crate::sched`]; DFS in [`super::dfs`]; the shrinker's deviation
//! replay in [`super::shrink`](mod@super::shrink)).

use crate::sched::{Strategy, ThreadDecision};
use rand_core::{RngCore, SeedableRng};
use rand_pcg::Pcg64Mcg;
use std::collections::BTreeMap;

/// Probabilistic concurrency testing (Burckhardt et al., ASPLOS'10) with bug depth `d`: every
/// thread gets a random priority when first seen (all above `d`); the highest-priority runnable
/// thread runs; at `d - 1` change points chosen uniformly over the estimated schedule length,
/// the thread about to run drops to priority `d - i`. Value choices are uniform random.
#[derive(Debug, Clone)]
pub struct PctStrategy {
    seed: u64,
    depth: u32,
    rng: Pcg64Mcg,
    priorities: BTreeMap<u32, u64>,
    change_points: Vec<u64>,
    decisions: u64,
}

impl PctStrategy {
    /// PCT of depth `depth` (at least 1) over schedules of about `estimated_len` thread choices.
    pub fn new(seed: u64, depth: u32, estimated_len: u64) -> Self {
        let mut rng = Pcg64Mcg::seed_from_u64(seed ^ 0x5043_5400);
        let depth = depth.max(1);
        let len = estimated_len.max(1);
        let change_points = (1..depth).map(|_| 1 + rng.next_u64() % len).collect();
        PctStrategy {
            seed,
            depth,
            rng,
            priorities: BTreeMap::new(),
            change_points,
            decisions: 0,
        }
    }

    fn priority(&mut self, thread: u32) -> u64 {
        let depth = u64::from(self.depth);
        let rng = &mut self.rng;
        *self
            .priorities
            .entry(thread)
            .or_insert_with(|| depth + 1 + (rng.next_u64() >> 8))
    }
}

impl Strategy for PctStrategy {
    fn pick_thread(&mut self, decision: &ThreadDecision<'_>) -> usize {
        self.decisions += 1;
        let best = |s: &mut Self| {
            (0..decision.runnable.len())
                .max_by_key(|i| s.priority(decision.runnable[*i]))
                .unwrap_or(0)
        };
        let mut pick = best(self);
        if let Some(i) = self.change_points.iter().position(|c| *c == self.decisions) {
            let low = u64::from(self.depth) - 1 - i as u64;
            self.priorities.insert(decision.runnable[pick], low);
            pick = best(self);
        }
        pick
    }
    fn pick_value(&mut self, options: u32, _label: &str, _index: usize) -> u32 {
        ((u64::from(self.rng.next_u32()) * u64::from(options)) >> 32) as u32
    }
    fn describe(&self) -> String {
        format!("pct(depth={},seed={})", self.depth, self.seed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pct_is_seeded_and_prefers_one_thread_until_a_change_point() {
        let picks = |seed| {
            let mut s = PctStrategy::new(seed, 2, 10);
            (0..20)
                .map(|i| {
                    s.pick_thread(&ThreadDecision {
                        runnable: &[0, 1, 2],
                        last: None,
                        index: i,
                        pending: &[None, None, None],
                        steps_since: &[],
                    })
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(picks(3), picks(3));
        let p = picks(3);
        let switches = p.windows(2).filter(|w| w[0] != w[1]).count();
        assert!(switches <= 1, "depth 2 changes priority once: {p:?}");
    }
}
