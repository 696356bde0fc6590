//! [`Shared`] cells: state the simulated OS shares between its threads, with every access
//! recorded as a [`super::Touch`] of the running step.
//!
//! The OS model's state, the RTSP link and the sink are read and written by several simulated
//! threads (the scenario's OS thread, driver threads inside callbacks, the sink pump, the
//! data-rate timer). They need no race detection, since the simulator runs one thread at a time
//! and the OS model is trusted, but exploration must know which steps touched them: two steps
//! that touch the same `Shared` cell, one of them writing, may not be commuted. Keeping such
//! state in a `Shared` makes that record complete by construction: there is no way to reach
//! the value without the touch.

use super::{ObjectId, Sched};
use std::cell::{Ref, RefCell, RefMut};

/// OS-side state shared between simulated threads; accesses are recorded as touches.
pub struct Shared<T> {
    sched: Sched,
    id: ObjectId,
    value: RefCell<T>,
}

impl<T> Shared<T> {
    /// A cell holding `value`, with a fresh object id.
    pub fn new(sched: &Sched, value: T) -> Self {
        Shared {
            sched: sched.clone(),
            id: sched.new_object_id(),
            value: RefCell::new(value),
        }
    }

    /// Reads the value (a read touch).
    pub fn borrow(&self) -> Ref<'_, T> {
        self.sched.touch(self.id, false);
        self.value.borrow()
    }

    /// Changes the value (a write touch).
    pub fn borrow_mut(&self) -> RefMut<'_, T> {
        self.sched.touch(self.id, true);
        self.value.borrow_mut()
    }

    /// The object id its touches carry.
    pub fn id(&self) -> ObjectId {
        self.id
    }
}

impl<T: Copy> Shared<T> {
    /// A copy of the value (a read touch).
    pub fn get(&self) -> T {
        *self.borrow()
    }

    /// Replaces the value (a write touch).
    pub fn set(&self, value: T) {
        *self.borrow_mut() = value;
    }
}
