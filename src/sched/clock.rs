//! Vector clocks: the happens-before order between simulated threads, used by the race detector
//! in [`super::tracked`].

/// One counter per simulated thread.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VectorClock(Vec<u32>);

impl VectorClock {
    /// This thread's component.
    pub fn get(&self, thread: usize) -> u32 {
        self.0.get(thread).copied().unwrap_or(0)
    }

    /// Advances this thread's component (at every release-like operation).
    pub fn tick(&mut self, thread: usize) {
        if self.0.len() <= thread {
            self.0.resize(thread + 1, 0);
        }
        self.0[thread] += 1;
    }

    /// Pointwise maximum: everything `other` has seen, this clock has now seen.
    pub fn join(&mut self, other: &VectorClock) {
        if self.0.len() < other.0.len() {
            self.0.resize(other.0.len(), 0);
        }
        for (mine, theirs) in self.0.iter_mut().zip(&other.0) {
            *mine = (*mine).max(*theirs);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_and_tick() {
        let mut a = VectorClock::default();
        let mut b = VectorClock::default();
        a.tick(0);
        b.tick(1);
        b.tick(1);
        a.join(&b);
        assert_eq!((a.get(0), a.get(1), a.get(7)), (1, 2, 0));
    }
}
