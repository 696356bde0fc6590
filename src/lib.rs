//! miracast-sim: a simulator of the Windows WDDM Miracast driver stack.

pub mod backend;
pub mod ddi;
pub mod model;
pub mod net;
pub mod os;
pub mod rules;
pub mod sched;
pub mod status;
pub mod time;
pub mod trace;
pub mod wfd;
