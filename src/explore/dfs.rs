//! Exhaustive search: depth-first over the choice tree, one run per leaf, each run replaying
//! the path to the branch being explored; with sleep sets over [`Footprint`]s, preemption and
//! depth bounds, and partitioning by the first choices.
//!
//! How a run and the tree talk: the explorer builds a [`DfsStrategy`] sharing the tree; the
//! strategy follows the tree's current path while it lasts, then extends it with new nodes,
//! taking at each the first option allowed (not asleep, within the bounds). After the run the
//! explorer calls [`DfsTree::backtrack`], which moves the deepest node with an unexplored
//! allowed option to that option; the next run replays up to it.
//!
//! Sleep sets (Godefroid): at a node, an option already explored, or asleep on arrival, stays
//! asleep in the next siblings' subtrees for as long as every step run is independent of its
//! step. An option asleep is never taken again. Where every runnable thread is asleep the run
//! is redundant ("sleep-blocked"): it finishes without branching and is not counted as a
//! schedule. Value choices mid-step clear the sleep set (their step is unfinished; sound).

use super::independence::{Footprint, dependent};
use crate::sched::{ChoiceKind, StepRecord, Strategy, ThreadDecision};
use std::cell::RefCell;
use std::rc::Rc;

/// Bounds on the search.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Bounds {
    /// Most preemptions per schedule (a preemption: switching away from the thread that ran
    /// last while it is still runnable). `None`: unbounded.
    pub max_preemptions: Option<u32>,
    /// Most choices branched on per schedule; past it the run continues without preemptions
    /// and without branching. `None`: unbounded.
    pub max_depth: Option<u32>,
}

#[derive(Clone, Debug)]
struct Node {
    kind: ChoiceKind,
    options: u32,
    /// Runnable thread ids (thread nodes).
    runnable: Vec<u32>,
    /// Index of the thread that ran last, when still runnable.
    last: Option<u32>,
    /// Threads asleep on arrival, with the footprint of their next step.
    sleep: Vec<(u32, Footprint)>,
    /// Options explored before `current`, with their step's footprint.
    done: Vec<(u32, Footprint)>,
    current: u32,
    /// Footprint of `current`'s step, once known.
    current_fp: Option<Footprint>,
    preemptions_before: u32,
}

impl Node {
    fn preempts(&self, option: u32) -> bool {
        self.kind == ChoiceKind::Thread && self.last.is_some_and(|l| l != option)
    }

    fn asleep(&self, option: u32) -> bool {
        if self.kind != ChoiceKind::Thread {
            return false;
        }
        let t = self.runnable[option as usize];
        self.sleep.iter().any(|(s, _)| *s == t)
    }

    fn allowed(&self, option: u32, bounds: &Bounds) -> bool {
        if self.asleep(option) || self.done.iter().any(|(d, _)| *d == option) {
            return false;
        }
        let p = self.preemptions_before + u32::from(self.preempts(option));
        bounds.max_preemptions.is_none_or(|b| p <= b)
    }
}

/// Counters of one tree's search.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct DfsStats {
    /// Choice nodes created (states visited, counted once each).
    pub nodes: u64,
    /// Runs cut short because every runnable thread was asleep.
    pub sleep_blocked: u64,
    /// Runs that reached the depth bound.
    pub depth_bounded: u64,
    /// Runs made only to discover subtrees another partition owns.
    pub partition_probes: u64,
}

/// The search tree shared by the explorer and the strategy of the current run.
pub struct DfsTree {
    path: Vec<Node>,
    bounds: Bounds,
    reduction: bool,
    /// (part, parts, split depth): subtrees under the first `split` choices belong to
    /// partitions by hash.
    partition: (u64, u64, usize),
    /// Set during a run when it became redundant or passed the depth bound.
    frozen: bool,
    sleep_blocked_run: bool,
    started: bool,
    finished: bool,
    stats: DfsStats,
}

impl DfsTree {
    /// A fresh search. `partition` = (this part, number of parts).
    pub fn new(bounds: Bounds, reduction: bool, partition: (u64, u64)) -> Rc<RefCell<Self>> {
        Rc::new(RefCell::new(DfsTree {
            path: Vec::new(),
            bounds,
            reduction,
            partition: (partition.0, partition.1.max(1), 3),
            frozen: false,
            sleep_blocked_run: false,
            started: false,
            finished: false,
            stats: DfsStats::default(),
        }))
    }

    /// True when every schedule of this partition was explored.
    pub fn finished(&self) -> bool {
        self.finished
    }

    /// Counters so far.
    pub fn stats(&self) -> DfsStats {
        self.stats
    }

    /// How far the search got: for each of the first levels, (option being explored, options),
    /// e.g. `[(1, 3), (0, 2)]`.
    pub fn progress(&self) -> Vec<(u32, u32)> {
        self.path
            .iter()
            .take(6)
            .map(|n| (n.current, n.options))
            .collect()
    }

    /// A strategy for the next run; `None` when the search is over.
    pub fn next_run(tree: &Rc<RefCell<Self>>) -> Option<DfsStrategy> {
        let mut t = tree.borrow_mut();
        if t.finished {
            return None;
        }
        t.started = true;
        t.frozen = false;
        t.sleep_blocked_run = false;
        Some(DfsStrategy {
            tree: tree.clone(),
            replay_len: t.path.len(),
            seen: 0,
            sleep_now: Vec::new(),
            awaiting_chosen_step: None,
        })
    }

    fn owned(&self) -> bool {
        let (part, parts, split) = self.partition;
        if parts <= 1 {
            return true;
        }
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for n in self.path.iter().take(split) {
            h ^= u64::from(n.current) + 1;
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        h % parts == part
    }

    /// After a run: whether it counts as a schedule of this partition (not sleep-blocked, not
    /// a probe of another partition's subtree). Then moves to the next branch, or marks the
    /// search finished.
    pub fn backtrack(&mut self) -> bool {
        let owned = self.owned();
        let counts = owned && !self.sleep_blocked_run;
        if self.sleep_blocked_run {
            self.stats.sleep_blocked += 1;
        } else if !owned {
            self.stats.partition_probes += 1;
        }
        let split = self.partition.2;
        while let Some(node) = self.path.last_mut() {
            let fp = node.current_fp.take().unwrap_or_else(Footprint::unknown);
            let cur = node.current;
            node.done.push((cur, fp));
            let depth = self.path.len() - 1;
            // Below the split depth, only the owner explores siblings.
            let may_branch = depth < split || self.partition.1 <= 1 || owned;
            let node = self.path.last_mut().expect("non-empty");
            let next = if may_branch {
                (0..node.options).find(|o| node.allowed(*o, &self.bounds))
            } else {
                None
            };
            if let Some(o) = next {
                node.current = o;
                return counts;
            }
            self.path.pop();
        }
        self.finished = true;
        counts
    }
}

/// The strategy of one DFS run (see [`DfsTree`]).
pub struct DfsStrategy {
    tree: Rc<RefCell<DfsTree>>,
    replay_len: usize,
    /// Decisions seen so far in this run (the node index; independent of any replayed prefix
    /// before the search took over).
    seen: usize,
    /// The sleep set after the last step processed.
    sleep_now: Vec<(u32, Footprint)>,
    /// The next step to process is the one chosen at this node.
    awaiting_chosen_step: Option<usize>,
}

impl DfsStrategy {
    /// Follows the steps run since the last call: records the footprint of the step chosen at
    /// the last node, wakes sleepers that a step depends on, and detects a sleeping thread
    /// being run (the run is then redundant).
    fn process_steps(&mut self, t: &mut DfsTree, steps: &[StepRecord]) {
        for s in steps {
            let fp = Footprint::of(s);
            if let Some(i) = self.awaiting_chosen_step.take() {
                if let Some(parent) = t.path.get_mut(i)
                    && parent.kind == ChoiceKind::Thread
                    && parent.runnable.get(parent.current as usize) == Some(&s.thread)
                {
                    parent.current_fp = Some(fp.clone());
                }
            } else if self.sleep_now.iter().any(|(th, _)| *th == s.thread) {
                // A forced step of a sleeping thread: everything from here was explored.
                t.frozen = true;
                t.sleep_blocked_run = true;
                return;
            }
            self.sleep_now
                .retain(|(th, f)| *th != s.thread && !dependent(f, &fp));
        }
    }

    fn decide(
        &mut self,
        kind: ChoiceKind,
        decision: Option<&ThreadDecision<'_>>,
        options: u32,
    ) -> u32 {
        let index = self.seen;
        self.seen += 1;
        let tree = self.tree.clone();
        let mut t = tree.borrow_mut();
        let no_preemption = decision
            .and_then(|d| d.last.and_then(|l| d.runnable.iter().position(|r| *r == l)))
            .unwrap_or(0) as u32;
        if t.frozen {
            return no_preemption;
        }
        if let Some(d) = decision {
            self.process_steps(&mut t, d.steps_since);
            if t.frozen {
                return no_preemption;
            }
        } else {
            // A value choice inside an unfinished step: its footprint is not known yet.
            self.awaiting_chosen_step = None;
            self.sleep_now.clear();
        }
        if index < self.replay_len {
            let node = &t.path[index];
            if node.kind == kind && node.options == options {
                let current = node.current;
                self.enter_node(&t, index);
                return current;
            }
            // The program did not repeat itself (nondeterminism): stop branching here.
            t.frozen = true;
            return no_preemption;
        }
        let preemptions_before = t.path.last().map_or(0, |p| {
            p.preemptions_before + u32::from(p.preempts(p.current))
        });
        let depth = t.path.len() as u32;
        if t.bounds.max_depth.is_some_and(|d| depth >= d) {
            t.frozen = true;
            t.stats.depth_bounded += 1;
            return no_preemption;
        }
        let sleep = if t.reduction && kind == ChoiceKind::Thread {
            self.sleep_now.clone()
        } else {
            Vec::new()
        };
        let mut node = Node {
            kind,
            options,
            runnable: decision.map(|d| d.runnable.to_vec()).unwrap_or_default(),
            last: decision
                .and_then(|d| d.last.and_then(|l| d.runnable.iter().position(|r| *r == l)))
                .map(|p| p as u32),
            sleep,
            done: Vec::new(),
            current: 0,
            current_fp: None,
            preemptions_before,
        };
        // Prefer not preempting, then the lowest option.
        let pick = std::iter::once(no_preemption)
            .chain(0..options)
            .find(|o| *o < options && node.allowed(*o, &t.bounds));
        t.stats.nodes += 1;
        match pick {
            Some(o) => {
                node.current = o;
                t.path.push(node);
                self.enter_node(&t, t.path.len() - 1);
                o
            }
            None => {
                // Every runnable thread asleep, or only asleep and over-the-bound ones: the
                // run is redundant.
                t.frozen = true;
                t.sleep_blocked_run = true;
                no_preemption
            }
        }
    }

    /// After taking `current` at node `i`: the sleep set for the step that follows.
    fn enter_node(&mut self, t: &DfsTree, i: usize) {
        let node = &t.path[i];
        self.sleep_now.clear();
        if node.kind == ChoiceKind::Thread && t.reduction {
            self.sleep_now.extend(node.sleep.iter().cloned());
            for (o, fp) in &node.done {
                self.sleep_now
                    .push((node.runnable[*o as usize], fp.clone()));
            }
        }
        self.awaiting_chosen_step = (node.kind == ChoiceKind::Thread).then_some(i);
    }
}

impl Strategy for DfsStrategy {
    fn pick_thread(&mut self, decision: &ThreadDecision<'_>) -> usize {
        let n = decision.runnable.len() as u32;
        self.decide(ChoiceKind::Thread, Some(decision), n) as usize
    }
    fn observe_forced(&mut self, decision: &ThreadDecision<'_>) {
        let tree = self.tree.clone();
        let mut t = tree.borrow_mut();
        if t.frozen {
            return;
        }
        self.process_steps(&mut t, decision.steps_since);
        if !t.frozen
            && t.reduction
            && decision
                .runnable
                .iter()
                .any(|r| self.sleep_now.iter().any(|(s, _)| s == r))
        {
            // The only thread that can run is asleep: this run repeats an explored one.
            t.frozen = true;
            t.sleep_blocked_run = true;
        }
    }
    fn pick_value(&mut self, options: u32, _label: &str, _index: usize) -> u32 {
        self.decide(ChoiceKind::Value, None, options)
    }
    fn abandoned(&self) -> bool {
        let t = self.tree.borrow();
        t.frozen && t.sleep_blocked_run
    }
    fn describe(&self) -> String {
        let t = self.tree.borrow();
        let b = t.bounds;
        format!(
            "dfs(preemptions<={},depth<={},reduction={})",
            b.max_preemptions
                .map_or("inf".to_owned(), |p| p.to_string()),
            b.max_depth.map_or("inf".to_owned(), |p| p.to_string()),
            if t.reduction { "sleep-sets" } else { "none" }
        )
    }
}
