//! The shared vocabulary: DDI names, Rust-named DDI types, and the driver and OS-service traits.
//!
//! Map:
//! - [`names`]: [`Ddi`], every DDI and callback by its documented name.
//! - [`types`]: the structs, enums and constants of the Miracast flow, values as documented.
//! - [`kmd`]: the display miniport trait [`MiracastKmd`] and the dxgkrnl services it calls.
//! - [`umd`]: the Miracast UMD trait [`MiracastUmd`] and the `MIRACAST_CALLBACKS` it calls.

pub mod kmd;
pub mod names;
pub mod types;
pub mod umd;

pub use kmd::{
    DxgkrnlServices, HardwareEvent, IoStatusBlock, MessageBuffers, MiracastDisplayInterface,
    MiracastDisplayServices, MiracastKmd, VidPnCommit,
};
pub use names::{Ddi, Direction};
pub use types::*;
pub use umd::{
    ChunkDataResult, MiracastDriverInterface, MiracastUmd, MiracastUmdServices, RtspSocket,
    SocketError,
};
