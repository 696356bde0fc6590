//! Vector clocks: the happens-before order between simulated threads, used by the race detector
//! in [`super::tracked`].
//!
//! A clock is a persistent radix tree of counters (16 per node) whose nodes are shared between
//! clocks: a copy is one reference count, a [`VectorClock::tick`] copies the nodes on one path
//! (at most 8 nodes of 16 entries), and a [`VectorClock::join`] skips every subtree the two
//! clocks share and adopts the other clock's subtree wherever that one has seen everything.
//! A long run's clocks are as wide as the slots it ever handed out (one per message-delivery
//! thread whose slot could not be reused, see [`super::Sched::spawn`]), but the clocks copied
//! at every thread start, lock release and event differ only on the few paths their threads
//! touched since, so each of those operations costs the depth of the tree, not its width.
//!
//! The representation changes nothing in what a clock says: [`VectorClock::get`] returns what
//! the dense vector of counters it replaces returned after the same operations (the tests
//! below compare the two on random operation sequences).

use std::cell::{Cell, RefCell};
use std::fmt;
use std::rc::Rc;

/// Bits of a slot index per tree level.
const BITS: u32 = 4;
/// Entries per node.
const WIDTH: usize = 1 << BITS;
const MASK: usize = WIDTH - 1;

#[derive(Clone)]
enum Node {
    Leaf([u32; WIDTH]),
    /// Children and an id no other branch content ever had (see [`MEMO`]).
    Branch(u64, [Option<Rc<Node>>; WIDTH]),
}

thread_local! {
    /// The last branch id handed out.
    static BRANCH_IDS: Cell<u64> = const { Cell::new(0) };
    /// Recent outcomes of joining two branches, by their ids (a direct-mapped cache).
    static MEMO: RefCell<Vec<(u64, u64, Outcome)>> = const { RefCell::new(Vec::new()) };
}

/// Entries in [`MEMO`].
const MEMO_SIZE: usize = 1 << 12;

fn branch_id() -> u64 {
    BRANCH_IDS.with(|ids| {
        let id = ids.get() + 1;
        ids.set(id);
        id
    })
}

impl Node {
    fn empty(level: u32) -> Node {
        if level == 0 {
            Node::Leaf([0; WIDTH])
        } else {
            Node::Branch(branch_id(), Default::default())
        }
    }

    /// The node at `at` (made at `level` if absent), for writing: copied first if another
    /// clock shares it; a branch written gets a new id, since its content changes.
    fn edit(at: &mut Option<Rc<Node>>, level: u32) -> &mut Node {
        let node = Rc::make_mut(at.get_or_insert_with(|| Rc::new(Node::empty(level))));
        if let Node::Branch(id, _) = node {
            *id = branch_id();
        }
        node
    }
}

/// How two subtrees compare.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Same counters.
    Equal,
    /// The first has seen everything the second has, and more.
    A,
    /// The second has seen everything the first has, and more.
    B,
    /// Each has seen something the other has not.
    Neither,
}

/// The outcome of joining branches `a` and `b`, if it is remembered.
///
/// Why a cache: two clocks may differ in a large part of their width for a long time, and
/// in the same way. A rw-lock's clock of shared releases, for instance, holds every message
/// thread's last epoch, while the clock of the thread sending messages holds an earlier epoch
/// of each (what it acquired through the driver's lock); joining each new message thread's
/// clock into the former would compare the whole of both. The subtrees that differ are the
/// same nodes every time, and a branch's id names its content for good (a branch is never
/// changed in place under an id it had: [`Node::edit`]), so the outcome is looked up instead.
fn remembered(a: u64, b: u64) -> Option<Outcome> {
    MEMO.with(|m| {
        let m = m.borrow();
        let e = m.get(memo_index(a, b))?;
        (e.0 == a && e.1 == b).then_some(e.2)
    })
}

fn remember(a: u64, b: u64, outcome: Outcome) {
    MEMO.with(|m| {
        let mut m = m.borrow_mut();
        if m.is_empty() {
            m.resize(MEMO_SIZE, (0, 0, Outcome::Equal));
        }
        m[memo_index(a, b)] = (a, b, outcome);
    });
}

fn memo_index(a: u64, b: u64) -> usize {
    let h = (a ^ b.rotate_left(29)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (h >> 52) as usize & (MEMO_SIZE - 1)
}

/// How `a` joined with `b` came out, for one subtree.
enum Joined {
    /// Same counters: keep `a`.
    Equal,
    /// `a` has seen everything `b` has and more: keep `a`.
    A,
    /// `b` has seen everything `a` has and more: adopt `b`'s subtree.
    B,
    /// Each has seen something the other has not: a new subtree of the maxima.
    New(Rc<Node>),
}

fn join_nodes(a: &Rc<Node>, b: &Rc<Node>) -> Joined {
    if Rc::ptr_eq(a, b) {
        return Joined::Equal;
    }
    match (&**a, &**b) {
        (Node::Leaf(x), Node::Leaf(y)) => {
            let (mut a_ge, mut b_ge) = (true, true);
            for (p, q) in x.iter().zip(y) {
                a_ge &= p >= q;
                b_ge &= q >= p;
            }
            match (a_ge, b_ge) {
                (true, true) => Joined::Equal,
                (true, false) => Joined::A,
                (false, true) => Joined::B,
                (false, false) => {
                    let mut m = *x;
                    for (p, q) in m.iter_mut().zip(y) {
                        *p = (*p).max(*q);
                    }
                    Joined::New(Rc::new(Node::Leaf(m)))
                }
            }
        }
        (Node::Branch(ia, x), Node::Branch(ib, y)) => {
            match remembered(*ia, *ib) {
                Some(Outcome::Equal) => return Joined::Equal,
                Some(Outcome::A) => return Joined::A,
                Some(Outcome::B) => return Joined::B,
                Some(Outcome::Neither) | None => {}
            }
            let (mut a_ge, mut b_ge) = (true, true);
            let mut merged: [Option<Joined>; WIDTH] = Default::default();
            for (i, (p, q)) in x.iter().zip(y).enumerate() {
                let j = match (p, q) {
                    (_, None) if p.is_some() => Joined::A,
                    (_, None) => Joined::Equal,
                    (None, Some(_)) => Joined::B,
                    (Some(p), Some(q)) => join_nodes(p, q),
                };
                match &j {
                    Joined::Equal => {}
                    Joined::A => b_ge = false,
                    Joined::B => a_ge = false,
                    Joined::New(_) => (a_ge, b_ge) = (false, false),
                }
                merged[i] = Some(j);
            }
            let outcome = match (a_ge, b_ge) {
                (true, true) => Outcome::Equal,
                (true, false) => Outcome::A,
                (false, true) => Outcome::B,
                (false, false) => Outcome::Neither,
            };
            remember(*ia, *ib, outcome);
            match outcome {
                Outcome::Equal => Joined::Equal,
                Outcome::A => Joined::A,
                Outcome::B => Joined::B,
                Outcome::Neither => {
                    let mut children: [Option<Rc<Node>>; WIDTH] = Default::default();
                    for (i, j) in merged.into_iter().enumerate() {
                        children[i] = match j {
                            Some(Joined::New(n)) => Some(n),
                            Some(Joined::B) => y[i].clone(),
                            _ => x[i].clone(),
                        };
                    }
                    Joined::New(Rc::new(Node::Branch(branch_id(), children)))
                }
            }
        }
        _ => unreachable!("nodes at one level are all leaves or all branches"),
    }
}

/// One counter per clock slot (see [`super::Sched::spawn`]); slots never written read 0.
#[derive(Clone, Default)]
pub struct VectorClock {
    /// Branch levels above the leaves: the tree covers slots `0..WIDTH^(height + 1)`.
    height: u32,
    /// `None`: every counter is 0. A node present has at least one counter above 0 (nodes are
    /// made only by `tick`, and `join` only adopts or merges nodes that exist).
    root: Option<Rc<Node>>,
}

impl VectorClock {
    /// Slots the tree covers at `height`.
    fn covers(height: u32, slot: usize) -> bool {
        let bits = BITS * (height + 1);
        bits >= usize::BITS || slot >> bits == 0
    }

    /// Adds a level above the root (the old tree becomes its first child).
    fn grow(&mut self) {
        if let Some(root) = self.root.take() {
            let mut children: [Option<Rc<Node>>; WIDTH] = Default::default();
            children[0] = Some(root);
            self.root = Some(Rc::new(Node::Branch(branch_id(), children)));
        }
        self.height += 1;
    }

    /// This thread's component.
    pub fn get(&self, thread: usize) -> u32 {
        if !Self::covers(self.height, thread) {
            return 0;
        }
        let mut node = match &self.root {
            Some(n) => n,
            None => return 0,
        };
        let mut level = self.height;
        loop {
            match &**node {
                Node::Leaf(v) => return v[thread & MASK],
                Node::Branch(_, c) => match &c[(thread >> (BITS * level)) & MASK] {
                    Some(n) => node = n,
                    None => return 0,
                },
            }
            level -= 1;
        }
    }

    /// Advances this thread's component (at every release-like operation).
    pub fn tick(&mut self, thread: usize) {
        while !Self::covers(self.height, thread) {
            self.grow();
        }
        let mut at = &mut self.root;
        let mut level = self.height;
        loop {
            match Node::edit(at, level) {
                Node::Leaf(v) => {
                    v[thread & MASK] += 1;
                    return;
                }
                Node::Branch(_, c) => at = &mut c[(thread >> (BITS * level)) & MASK],
            }
            level -= 1;
        }
    }

    /// Pointwise maximum: everything `other` has seen, this clock has now seen.
    pub fn join(&mut self, other: &VectorClock) {
        let Some(theirs) = &other.root else {
            return;
        };
        if self.root.is_none() && self.height <= other.height {
            *self = other.clone();
            return;
        }
        while self.height < other.height {
            self.grow();
        }
        // `other`'s tree is the subtree of this one along the path of slot 0 at its height.
        let mut mine = self.root.as_ref();
        for _ in other.height..self.height {
            mine = match mine.map(|n| &**n) {
                Some(Node::Branch(_, c)) => c[0].as_ref(),
                _ => None,
            };
        }
        let joined = match mine {
            None => theirs.clone(),
            Some(mine) => match join_nodes(mine, theirs) {
                Joined::Equal | Joined::A => return,
                Joined::B => theirs.clone(),
                Joined::New(n) => n,
            },
        };
        let mut at = &mut self.root;
        for level in (other.height + 1..=self.height).rev() {
            match Node::edit(at, level) {
                Node::Branch(_, c) => at = &mut c[0],
                Node::Leaf(_) => unreachable!("a node above level 0 is a branch"),
            }
        }
        *at = Some(joined);
    }

    /// The counters above 0 with their slots, in slot order (for comparisons and debugging).
    fn entries(&self) -> Vec<(usize, u32)> {
        fn walk(node: &Node, base: usize, level: u32, out: &mut Vec<(usize, u32)>) {
            match node {
                Node::Leaf(v) => out.extend(
                    v.iter()
                        .enumerate()
                        .filter(|(_, c)| **c > 0)
                        .map(|(i, c)| (base + i, *c)),
                ),
                Node::Branch(_, c) => {
                    let span = 1usize << (BITS * level);
                    for (i, child) in c.iter().enumerate() {
                        if let Some(child) = child {
                            walk(child, base + i * span, level - 1, out);
                        }
                    }
                }
            }
        }
        let mut out = Vec::new();
        if let Some(root) = &self.root {
            walk(root, 0, self.height, &mut out);
        }
        out
    }
}

impl PartialEq for VectorClock {
    fn eq(&self, other: &Self) -> bool {
        self.entries() == other.entries()
    }
}

impl Eq for VectorClock {}

impl fmt::Debug for VectorClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("VectorClock").field(&self.entries()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

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

    #[test]
    fn wide_clocks_share_what_they_did_not_change() {
        let mut a = VectorClock::default();
        for slot in 0..5_000 {
            a.tick(slot);
        }
        let mut b = a.clone();
        b.tick(4_999);
        b.tick(70_000);
        a.tick(3);
        let before = a.clone();
        a.join(&b);
        assert_eq!((a.get(3), a.get(4_999), a.get(70_000)), (2, 2, 1));
        assert_eq!(before.get(3), 2);
        assert_eq!(before.get(70_000), 0);
        // `b` had seen everything `a` had except slot 3's second tick; the result shares
        // every subtree away from slots 3, 4,999 and 70,000 with both.
        let (Some(ra), Some(rb)) = (&a.root, &b.root) else {
            panic!("both clocks have counters")
        };
        let (Node::Branch(_, ca), Node::Branch(_, cb)) = (&**ra, &**rb) else {
            panic!("wide clocks have branches at the top")
        };
        assert!(Rc::ptr_eq(ca[1].as_ref().unwrap(), cb[1].as_ref().unwrap()));
        assert_eq!(a, {
            let mut m = before;
            m.join(&b);
            m
        });
    }

    #[test]
    fn equality_ignores_the_shape() {
        let mut a = VectorClock::default();
        let mut b = VectorClock::default();
        a.tick(3);
        b.tick(100_000);
        b.join(&a);
        let mut c = VectorClock::default();
        c.tick(3);
        assert_ne!(b, c);
        c.tick(100_000);
        assert_eq!(b, c);
        assert_eq!(VectorClock::default(), {
            let mut d = VectorClock::default();
            d.join(&VectorClock::default());
            d
        });
    }

    #[derive(Clone, Debug)]
    enum ClockOp {
        Tick(usize, usize),
        Join(usize, usize),
        Copy(usize, usize),
    }

    fn slot() -> impl Strategy<Value = usize> {
        prop_oneof![
            0usize..40,
            0usize..5_000,
            Just(65_535),
            Just(65_536),
            0usize..2_000_000
        ]
    }

    fn op() -> impl Strategy<Value = ClockOp> {
        prop_oneof![
            (0usize..4, slot()).prop_map(|(c, s)| ClockOp::Tick(c, s)),
            (0usize..4, 0usize..4).prop_map(|(a, b)| ClockOp::Join(a, b)),
            (0usize..4, 0usize..4).prop_map(|(a, b)| ClockOp::Copy(a, b)),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]
        /// Ticks, joins and copies give the counters a dense vector gives.
        #[test]
        fn same_counters_as_a_dense_vector(ops in proptest::collection::vec(op(), 0..200)) {
            let mut tree: Vec<VectorClock> = vec![VectorClock::default(); 4];
            let mut dense: Vec<std::collections::BTreeMap<usize, u32>> = vec![Default::default(); 4];
            let mut seen = std::collections::BTreeSet::from([0usize, 7, 65_536]);
            for op in ops {
                match op {
                    ClockOp::Tick(c, s) => {
                        tree[c].tick(s);
                        *dense[c].entry(s).or_default() += 1;
                        seen.insert(s);
                    }
                    ClockOp::Join(a, b) => {
                        let other = tree[b].clone();
                        tree[a].join(&other);
                        let other = dense[b].clone();
                        for (s, v) in other {
                            let e = dense[a].entry(s).or_default();
                            *e = (*e).max(v);
                        }
                    }
                    ClockOp::Copy(a, b) => {
                        tree[a] = tree[b].clone();
                        dense[a] = dense[b].clone();
                    }
                }
                for c in 0..4 {
                    for &s in &seen {
                        prop_assert_eq!(tree[c].get(s), dense[c].get(&s).copied().unwrap_or(0));
                    }
                }
            }
            for c in 0..4 {
                let expect: Vec<(usize, u32)> = dense[c].iter().map(|(s, v)| (*s, *v)).collect();
                prop_assert_eq!(tree[c].entries(), expect);
            }
        }
    }
}
