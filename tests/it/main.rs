//! The one integration-test binary. Each module has a one-line scope.

/// Layout of the C headers in `include/` against the Rust FFI mirrors and the documented x64 sizes.
mod ffi_layout;
