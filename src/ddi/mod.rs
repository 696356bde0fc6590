//! The shared vocabulary: DDI names, Rust-named DDI types, and the driver and OS-service traits.
//!
//! Map:
//! - [`names`]: [`Ddi`], every DDI and callback by its documented name.
//! - [`types`]: the structs, enums and constants of the Miracast flow, values as documented.

pub mod names;
pub mod types;

pub use names::{Ddi, Direction};
pub use types::*;
