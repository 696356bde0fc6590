//! The real-driver backend: drives a driver binary through the C ABI of the Miracast DDIs.
//!
//! - [`ffi`]: `#[repr(C)]` mirrors of the C headers in `include/` (types only, C names). The
//!   loader that resolves `QueryMiracastDriverInterface` / `MiracastSimKmdEntry` and calls
//!   through these tables is added next to it.

pub mod ffi;
