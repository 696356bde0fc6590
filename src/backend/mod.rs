//! Driver backends: where the driver under test comes from.
//!
//! - the bundled reference models (`crate::model`), with bug knobs;
//! - a user's Rust implementation of the [`crate::ddi::MiracastKmd`] and
//!   [`crate::ddi::MiracastUmd`] traits (library use);
//! - [`real`]: a real driver binary through the C ABI (cargo feature `real-driver`).

pub mod real;
