//! Operation descriptors: what a simulated thread's next step will do, and what a finished step
//! touched. Exploration uses them to decide which steps commute (partial-order reduction).
//!
//! A *step* is one poll of a simulated thread: from the choice point where it was picked to the
//! next choice point (or its end). Before the step, the thread may carry a *declared* [`Op`]
//! (set by [`super::Sched::yield_op`], by the simulated locks and events themselves, or by
//! [`super::Sched::declare_next`]); while the step runs, the scheduler records every
//! [`Touch`] of a simulated lock, event, [`super::Tracked`] or [`super::Shared`] cell, and of
//! the scheduler's own [`objects`], and which opaque drivers' code it ran ([`drivers`]). A step
//! without a declared op is *unknown*: an explorer must treat it as dependent on every other
//! step (sound), unless the run is *accounted* ([`super::Sched::set_accounted`]), where every
//! piece of shared state is recorded and an undeclared step is [`Op::Local`].
//!
//! The contract a declaration makes: besides what it names and what is recorded as touched,
//! the step touches only state no other simulated thread touches outside the same lock.

use crate::ddi::Ddi;
use serde::{Deserialize, Serialize};

/// A simulated object (lock, event, tracked cell, or a model's own named object); numbered per
/// scheduler in creation order, so ids are stable across runs of the same program.
pub type ObjectId = u64;

/// What a thread's next step will do, declared before it runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "op", content = "on", rename_all = "snake_case")]
pub enum Op {
    /// Touches nothing another thread sees (thread-local work, or state the thread owns).
    Local,
    /// Takes the [`super::SimMutex`] with this id.
    Lock(ObjectId),
    /// Takes the [`super::SimRwLock`] with this id, shared.
    ReadLock(ObjectId),
    /// Takes the [`super::SimRwLock`] with this id, exclusively.
    WriteLock(ObjectId),
    /// Waits on (and may consume) the [`super::SimEvent`] with this id.
    Wait(ObjectId),
    /// Reads the model object with this id.
    Read(ObjectId),
    /// Writes the model object with this id.
    Write(ObjectId),
    /// Enters a DDI or callback; what it may overlap follows the documented synchronization
    /// model (ddi-facts 3.0).
    Enter(Ddi),
    /// Leaves a DDI or callback.
    Leave(Ddi),
}

/// One access a running step made to a simulated object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Touch {
    /// The object.
    pub object: ObjectId,
    /// True when the step changed it (took or released a lock, set an event, wrote a cell).
    pub write: bool,
}

/// Scheduler-owned objects every run has, recorded as touches like the others.
///
/// They make the scheduler's own shared state part of a step's footprint: two steps that both
/// emit an ordered trace event, both create a thread or both allocate an object id would leave
/// a different run if swapped (event order, thread and object numbering), so they must not
/// commute. (Arming a timer needs no object: timers due at the same instant fire together,
/// whatever order they were armed in.)
pub mod objects {
    use super::ObjectId;
    /// The trace, for events whose relative order a trace check may compare.
    pub const TRACE: ObjectId = u64::MAX;
    /// Thread creation (ids are handed out in creation order).
    pub const THREADS: ObjectId = u64::MAX - 1;
    /// Object-id allocation.
    pub const OBJECT_IDS: ObjectId = u64::MAX - 2;
}

/// Which driver's code a step ran, as bits (a step that runs a driver's code may touch any of
/// that driver's state, which the simulator does not see).
pub mod drivers {
    /// The kernel-mode driver (inside an OS-to-KMD DDI).
    pub const KMD: u8 = 1;
    /// The user-mode driver (inside an OS-to-UMD DDI).
    pub const UMD: u8 = 2;
}

/// What one finished step was declared to do and what it touched.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepRecord {
    /// The thread that ran.
    pub thread: u32,
    /// Its declared op, `None` when unknown.
    pub declared: Option<Op>,
    /// Objects it touched, in order.
    pub touches: Vec<Touch>,
    /// Which drivers' code it ran ([`drivers`] bits): the innermost DDI frame of the thread
    /// at the step's start and after every frame pushed or popped during it.
    pub drivers: u8,
}
