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

use std::cell::Cell;
use std::fmt;
use std::rc::Rc;

/// Bits of a slot index per tree level.
const BITS: u32 = 4;
/// Entries per node.
const WIDTH: usize = 1 << BITS;
const MASK: usize = WIDTH - 1;

/// A tree node and an id no other node content ever had: a node is never changed in place
/// under an id it had ([`Node::edit`] gives it a new one), so an id names one content for good.
#[derive(Clone)]
struct Node {
    id: u64,
    kind: Kind,
}

#[derive(Clone)]
enum Kind {
    Leaf([u32; WIDTH]),
    /// Boxed: a leaf is a tenth of a branch's size.
    Branch(Box<Branch>),
}

/// The children, their ids beside them, and for each child the last node it was joined with
/// and how that came out (see [`join_nodes`]): comparing two branches' children by id reads
/// only the two branches, not the children, which a long run keeps all over memory.
#[derive(Clone)]
struct Branch {
    ids: [u64; WIDTH],
    children: [Option<Rc<Node>>; WIDTH],
    seen: [Cell<(u64, Outcome)>; WIDTH],
}

thread_local! {
    /// The last node id handed out.
    static NODE_IDS: Cell<u64> = const { Cell::new(0) };
}

fn node_id() -> u64 {
    NODE_IDS.with(|ids| {
        let id = ids.get() + 1;
        ids.set(id);
        id
    })
}

impl Node {
    fn new(kind: Kind) -> Rc<Node> {
        Rc::new(Node {
            id: node_id(),
            kind,
        })
    }

    fn empty(level: u32) -> Rc<Node> {
        Node::new(if level == 0 {
            Kind::Leaf([0; WIDTH])
        } else {
            Kind::Branch(Box::new(Branch {
                ids: [0; WIDTH],
                children: Default::default(),
                seen: Default::default(),
            }))
        })
    }

    /// The node at `at` (made at `level` if absent), for writing: copied first if another
    /// clock shares it, and given a new id since its content changes (the caller writes the
    /// id into the parent, [`Node::edit_child`]).
    fn edit(at: &mut Option<Rc<Node>>, level: u32) -> &mut Node {
        let node = Rc::make_mut(at.get_or_insert_with(|| Node::empty(level)));
        node.id = node_id();
        node
    }

    /// Child `i` of this branch, for writing (see [`Node::edit`]), with its id kept beside it.
    fn edit_child(&mut self, i: usize, level: u32) -> &mut Node {
        let Kind::Branch(b) = &mut self.kind else {
            unreachable!("a node above level 0 is a branch")
        };
        let Branch {
            ids,
            children,
            seen,
        } = &mut **b;
        let child = Node::edit(&mut children[i], level - 1);
        ids[i] = child.id;
        seen[i] = Cell::default();
        child
    }
}

/// How two subtrees compare, remembered beside a child (ids start at 1, so the default,
/// partner 0, is never found).
#[derive(Clone, Copy, Default, PartialEq, Eq)]
enum Outcome {
    /// Same counters.
    #[default]
    Equal,
    /// The first has seen everything the second has, and more.
    A,
    /// The second has seen everything the first has, and more.
    B,
}

impl Outcome {
    fn flipped(self) -> Outcome {
        match self {
            Outcome::Equal => Outcome::Equal,
            Outcome::A => Outcome::B,
            Outcome::B => Outcome::A,
        }
    }
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

impl Joined {
    fn outcome(&self) -> Option<Outcome> {
        match self {
            Joined::Equal => Some(Outcome::Equal),
            Joined::A => Some(Outcome::A),
            Joined::B => Some(Outcome::B),
            Joined::New(_) => None,
        }
    }
}

impl From<Outcome> for Joined {
    fn from(o: Outcome) -> Joined {
        match o {
            Outcome::Equal => Joined::Equal,
            Outcome::A => Joined::A,
            Outcome::B => Joined::B,
        }
    }
}

/// Joins subtree `b` into subtree `a` (nodes at one level).
///
/// Two branches' children are compared by id first (the same id: the same subtree), then by
/// what each child remembers of its last join: two clocks may differ over much of their width
/// for a long time, and in the same way. A rw-lock's clock of shared releases, for instance,
/// holds every message thread's last epoch, while the clock of the thread sending messages
/// holds an earlier epoch of each (what it acquired through the driver's lock); joining each
/// new message thread's clock into the former would compare the whole of both, join after
/// join. The subtrees that differ are the same nodes every time, so the outcome is read beside
/// the child, on both sides, without reading the children. Only dominance is remembered (a join
/// where each side has seen more makes a new node, whose id no one has compared yet).
fn join_nodes(a: &Node, b: &Node) -> Joined {
    match (&a.kind, &b.kind) {
        (Kind::Leaf(x), Kind::Leaf(y)) => {
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
                    Joined::New(Node::new(Kind::Leaf(m)))
                }
            }
        }
        (Kind::Branch(xb), Kind::Branch(yb)) => {
            let Branch {
                ids: xi,
                children: x,
                seen: xs,
            } = &**xb;
            let Branch {
                ids: yi,
                children: y,
                seen: ys,
            } = &**yb;
            let (mut a_ge, mut b_ge) = (true, true);
            // Children that need more than keeping `a`'s: adopted from `b` or new.
            let mut from_b: u32 = 0;
            let mut new: [Option<Rc<Node>>; WIDTH] = Default::default();
            for i in 0..WIDTH {
                let j = match (&x[i], &y[i]) {
                    (Some(_), None) => Joined::A,
                    (None, None) => Joined::Equal,
                    (None, Some(_)) => Joined::B,
                    (Some(_), Some(_)) if xi[i] == yi[i] => Joined::Equal,
                    (Some(p), Some(q)) => {
                        let (mine, theirs) = (xs[i].get(), ys[i].get());
                        if mine.0 == yi[i] {
                            mine.1.into()
                        } else if theirs.0 == xi[i] {
                            theirs.1.flipped().into()
                        } else {
                            let j = join_nodes(p, q);
                            if let Some(o) = j.outcome() {
                                xs[i].set((yi[i], o));
                                ys[i].set((xi[i], o.flipped()));
                            }
                            j
                        }
                    }
                };
                match j {
                    Joined::Equal => {}
                    Joined::A => b_ge = false,
                    Joined::B => {
                        a_ge = false;
                        from_b |= 1 << i;
                    }
                    Joined::New(n) => {
                        (a_ge, b_ge) = (false, false);
                        new[i] = Some(n);
                    }
                }
            }
            match (a_ge, b_ge) {
                (true, true) => Joined::Equal,
                (true, false) => Joined::A,
                (false, true) => Joined::B,
                (false, false) => {
                    let (mut ids, mut children, seen) = (*xi, x.clone(), xs.clone());
                    for (i, n) in new.into_iter().enumerate() {
                        if let Some(n) = n {
                            ids[i] = n.id;
                            children[i] = Some(n);
                            seen[i].set(Default::default());
                        } else if from_b & (1 << i) != 0 {
                            ids[i] = yi[i];
                            children[i] = y[i].clone();
                            seen[i].set(ys[i].get());
                        }
                    }
                    Joined::New(Node::new(Kind::Branch(Box::new(Branch {
                        ids,
                        children,
                        seen,
                    }))))
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
            let mut ids = [0; WIDTH];
            ids[0] = root.id;
            let mut children: [Option<Rc<Node>>; WIDTH] = Default::default();
            children[0] = Some(root);
            self.root = Some(Node::new(Kind::Branch(Box::new(Branch {
                ids,
                children,
                seen: Default::default(),
            }))));
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
            match &node.kind {
                Kind::Leaf(v) => return v[thread & MASK],
                Kind::Branch(b) => match &b.children[(thread >> (BITS * level)) & MASK] {
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
        let mut level = self.height;
        let mut node = Node::edit(&mut self.root, level);
        while level > 0 {
            node = node.edit_child((thread >> (BITS * level)) & MASK, level);
            level -= 1;
        }
        match &mut node.kind {
            Kind::Leaf(v) => v[thread & MASK] += 1,
            Kind::Branch { .. } => unreachable!("a node at level 0 is a leaf"),
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
            mine = match mine.map(|n| &n.kind) {
                Some(Kind::Branch(b)) => b.children[0].as_ref(),
                _ => None,
            };
        }
        let joined = match mine {
            None => theirs.clone(),
            Some(mine) if Rc::ptr_eq(mine, theirs) => return,
            Some(mine) => match join_nodes(mine, theirs) {
                Joined::Equal | Joined::A => return,
                Joined::B => theirs.clone(),
                Joined::New(n) => n,
            },
        };
        if self.height == other.height {
            self.root = Some(joined);
            return;
        }
        let mut level = self.height;
        let mut node = Node::edit(&mut self.root, level);
        while level > other.height + 1 {
            node = node.edit_child(0, level);
            level -= 1;
        }
        let Kind::Branch(b) = &mut node.kind else {
            unreachable!("a node above level 0 is a branch")
        };
        b.ids[0] = joined.id;
        b.children[0] = Some(joined);
        b.seen[0] = Cell::default();
    }

    /// The counters above 0 with their slots, in slot order (for comparisons and debugging).
    fn entries(&self) -> Vec<(usize, u32)> {
        fn walk(node: &Node, base: usize, level: u32, out: &mut Vec<(usize, u32)>) {
            match &node.kind {
                Kind::Leaf(v) => out.extend(
                    v.iter()
                        .enumerate()
                        .filter(|(_, c)| **c > 0)
                        .map(|(i, c)| (base + i, *c)),
                ),
                Kind::Branch(b) => {
                    let span = 1usize << (BITS * level);
                    for (i, child) in b.children.iter().enumerate() {
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
        let (Kind::Branch(ba), Kind::Branch(bb)) = (&ra.kind, &rb.kind) else {
            panic!("wide clocks have branches at the top")
        };
        assert!(Rc::ptr_eq(
            ba.children[1].as_ref().unwrap(),
            bb.children[1].as_ref().unwrap()
        ));
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
