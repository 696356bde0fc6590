//! `#[repr(C)]` mirrors of the C types in `include/` (the Miracast DDIs as a driver sees them).
//!
//! This is the only place where the C names live (`MIRACAST_DRIVER_INTERFACE`,
//! `PFN_START_MIRACAST_SESSION`, `DXGK_CHILD_STATUS`, ...). They keep Microsoft's spelling,
//! mistakes included (`MICACAST`, `DISOCNNECT`), so that they can be searched in the headers and
//! in Microsoft's documentation. Code above this module speaks Rust names
//! ([`crate::status::NtStatus`] instead of `NTSTATUS`, and so on) and converts at the boundary.
//!
//! What is here, by header:
//! - `miracast_sim_wintypes.h`: the base types ([`ULONG`], [`HANDLE`], [`GUID`],
//!   [`IO_STATUS_BLOCK`], [`INTERFACE`], [`SOCKET`], ...).
//! - `d3dukmdt.h`, `d3dkmdt.h`, `d3dkmddi.h`: chunk ids and reports, output technologies,
//!   hot-plug awareness, the chunk-complete interrupt data, GPU context creation.
//! - `dispmprt.h`: child enumeration and status, the query-interface request, the Miracast
//!   display interface and callbacks.
//! - `netdispumdddi.h`: the Miracast UMD interface and the OS callbacks it receives.
//! - `miracast_sim_kmd.h`: miracast-sim's own entry point for a KMD built as a shared library.
//!
//! Conventions:
//! - Every function pointer is `Option<unsafe extern "system" fn(..)>`, so a NULL entry is `None`.
//!   `"system"` is `__stdcall` on 32-bit Windows and the C convention everywhere else, which
//!   matches the `APIENTRY`/`NTAPI` macros of the headers.
//! - A C enum is a `#[repr(transparent)]` newtype over its 32-bit integer, with the enumerators as
//!   module-level constants, because a driver may hand back values the enum does not list.
//! - A bit-field union (`struct { UINT A : 1; ... }; UINT Value;`) is a struct holding only
//!   `Value`, with one getter and one `set_` method per bit field. Other unions are Rust unions.
//! - Anonymous C unions become a field named `u`; C path `Miracast.Connected` is Rust path
//!   `u.Miracast.Connected`.
//! - NTSTATUS values are not repeated here; they are [`crate::status::NtStatus`] constants.
//!
//! The layout of every type is checked against the C compiler and against the documented x64
//! numbers by `tests/it/ffi_layout.rs`. This module holds types only, no `unsafe` code.

#![allow(
    non_camel_case_types,
    non_snake_case,
    non_upper_case_globals,
    clippy::upper_case_acronyms
)]

use core::ffi::{CStr, c_void};

// ---- Base types (miracast_sim_wintypes.h) ----------------------------------------------------

/// `UCHAR` (8-bit unsigned).
pub type UCHAR = u8;
/// `BYTE` (8-bit unsigned).
pub type BYTE = u8;
/// `USHORT` (16-bit unsigned).
pub type USHORT = u16;
/// `WCHAR` (UTF-16 code unit).
pub type WCHAR = u16;
/// `INT` (32-bit signed).
pub type INT = i32;
/// `UINT` (32-bit unsigned).
pub type UINT = u32;
/// `BOOL` (32-bit, nonzero is true).
pub type BOOL = i32;
/// `BOOLEAN` (one byte, nonzero is true).
pub type BOOLEAN = u8;
/// `LONG` (32-bit signed on Windows; the header uses `int` on LP64 systems).
pub type LONG = i32;
/// `ULONG` (32-bit unsigned on Windows; the header uses `unsigned int` on LP64 systems).
pub type ULONG = u32;
/// `DWORD` (32-bit unsigned).
pub type DWORD = u32;
/// `LONGLONG` (64-bit signed).
pub type LONGLONG = i64;
/// `ULONGLONG` (64-bit unsigned).
pub type ULONGLONG = u64;
/// `UINT64` (64-bit unsigned).
pub type UINT64 = u64;
/// `ULONG64` (64-bit unsigned).
pub type ULONG64 = u64;
/// `ULONG_PTR` (pointer-sized unsigned).
pub type ULONG_PTR = usize;
/// `LONG_PTR` (pointer-sized signed).
pub type LONG_PTR = isize;
/// `UINT_PTR` (pointer-sized unsigned).
pub type UINT_PTR = usize;
/// `SIZE_T` (pointer-sized unsigned).
pub type SIZE_T = usize;
/// `VOID`.
pub type VOID = c_void;
/// `PVOID`.
pub type PVOID = *mut c_void;
/// `HANDLE` (an opaque pointer).
pub type HANDLE = *mut c_void;
/// `NTSTATUS` (32-bit signed). See [`crate::status::NtStatus`] for the values.
pub type NTSTATUS = i32;

/// `SOCKET`: `UINT_PTR`, as in `winsock2.h`, on every platform (a driver's Windows source
/// builds unchanged). Off Windows its value is the POSIX socket descriptor, which C converts
/// to `int` implicitly when the driver passes it to the C library.
pub type SOCKET = UINT_PTR;
/// `INVALID_SOCKET`: `(SOCKET)(~0)`.
pub const INVALID_SOCKET: SOCKET = !0;

/// `LARGE_INTEGER` (`miracast_sim_wintypes.h`): a 64-bit value that C also exposes as
/// `LowPart`/`HighPart` halves.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LARGE_INTEGER {
    /// The whole value.
    pub QuadPart: LONGLONG,
}

/// `PHYSICAL_ADDRESS` (`miracast_sim_wintypes.h`).
pub type PHYSICAL_ADDRESS = LARGE_INTEGER;

/// `GUID` (`miracast_sim_wintypes.h`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct GUID {
    /// First 32 bits.
    pub Data1: ULONG,
    /// Next 16 bits.
    pub Data2: USHORT,
    /// Next 16 bits.
    pub Data3: USHORT,
    /// Last 64 bits, as bytes.
    pub Data4: [UCHAR; 8],
}

/// The anonymous union at the start of `IO_STATUS_BLOCK`.
#[repr(C)]
#[derive(Clone, Copy)]
pub union IO_STATUS_BLOCK_0 {
    /// Completion status.
    pub Status: NTSTATUS,
    /// Reserved (sizes the union to a pointer).
    pub Pointer: PVOID,
}

/// `IO_STATUS_BLOCK` (`miracast_sim_wintypes.h`): outcome of an asynchronous request; C path
/// `Status` is Rust path `u.Status`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct IO_STATUS_BLOCK {
    /// `Status` / `Pointer`.
    pub u: IO_STATUS_BLOCK_0,
    /// Request-specific value (bytes transferred for a Miracast message).
    pub Information: ULONG_PTR,
}

impl Default for IO_STATUS_BLOCK {
    fn default() -> Self {
        Self {
            u: IO_STATUS_BLOCK_0 {
                Pointer: core::ptr::null_mut(),
            },
            Information: 0,
        }
    }
}

/// `PIO_STATUS_BLOCK`.
pub type PIO_STATUS_BLOCK = *mut IO_STATUS_BLOCK;

/// `PINTERFACE_REFERENCE` (`miracast_sim_wintypes.h`): takes a reference on an interface.
pub type PINTERFACE_REFERENCE = Option<unsafe extern "system" fn(Context: PVOID)>;
/// `PINTERFACE_DEREFERENCE` (`miracast_sim_wintypes.h`): drops a reference.
pub type PINTERFACE_DEREFERENCE = Option<unsafe extern "system" fn(Context: PVOID)>;

/// `INTERFACE` (`miracast_sim_wintypes.h`): the header of every queried interface.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct INTERFACE {
    /// Size of the whole interface structure in bytes.
    pub Size: USHORT,
    /// Interface version.
    pub Version: USHORT,
    /// Provider context passed to the routines.
    pub Context: PVOID,
    /// Reference routine.
    pub InterfaceReference: PINTERFACE_REFERENCE,
    /// Dereference routine.
    pub InterfaceDereference: PINTERFACE_DEREFERENCE,
}

/// `PINTERFACE`.
pub type PINTERFACE = *mut INTERFACE;

/// Implements the getters and setters of a bit-field union modelled as `{ Value }`.
macro_rules! bitfields {
    ($ty:ident : $int:ty { $( $get:ident / $set:ident : $shift:literal, $width:literal; )+ }) => {
        impl $ty {
            $(
                #[doc = concat!("Bit field `", stringify!($get), "` (", stringify!($width),
                    " bit(s) at bit ", stringify!($shift), ").")]
                #[must_use]
                pub const fn $get(&self) -> $int {
                    (self.Value >> $shift) & (<$int>::MAX >> (<$int>::BITS - $width))
                }

                #[doc = concat!("Sets bit field `", stringify!($get), "`; extra high bits of `v` are dropped.")]
                pub const fn $set(&mut self, v: $int) {
                    let mask: $int = (<$int>::MAX >> (<$int>::BITS - $width)) << $shift;
                    self.Value = (self.Value & !mask) | ((v << $shift) & mask);
                }
            )+
        }
    };
}

// ---- d3dukmdt.h ----------------------------------------------------------------------------

/// `DXGKDDI_INTERFACE_VERSION_WDDM1_3` (`d3dukmdt.h`): first DDI version with Miracast.
pub const DXGKDDI_INTERFACE_VERSION_WDDM1_3: ULONG = 0x4002;
/// `DXGKDDI_INTERFACE_VERSION_WDDM2_0` (`d3dukmdt.h`).
pub const DXGKDDI_INTERFACE_VERSION_WDDM2_0: ULONG = 0x5023;

/// `D3DDDI_VIDEO_PRESENT_SOURCE_ID` (`d3dukmdt.h`).
pub type D3DDDI_VIDEO_PRESENT_SOURCE_ID = UINT;
/// `D3DDDI_VIDEO_PRESENT_TARGET_ID` (`d3dukmdt.h`).
pub type D3DDDI_VIDEO_PRESENT_TARGET_ID = UINT;

/// `DXGK_MIRACAST_CHUNK_TYPE` (`d3dukmdt.h`): the processing step a chunk report describes.
#[repr(transparent)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct DXGK_MIRACAST_CHUNK_TYPE(pub u32);
/// Unknown step.
pub const DXGK_MIRACAST_CHUNK_TYPE_UNKNOWN: DXGK_MIRACAST_CHUNK_TYPE = DXGK_MIRACAST_CHUNK_TYPE(0);
/// Colour conversion finished.
pub const DXGK_MIRACAST_CHUNK_TYPE_COLOR_CONVERT_COMPLETE: DXGK_MIRACAST_CHUNK_TYPE =
    DXGK_MIRACAST_CHUNK_TYPE(1);
/// Encode finished.
pub const DXGK_MIRACAST_CHUNK_TYPE_ENCODE_COMPLETE: DXGK_MIRACAST_CHUNK_TYPE =
    DXGK_MIRACAST_CHUNK_TYPE(2);
/// Frame processing started.
pub const DXGK_MIRACAST_CHUNK_TYPE_FRAME_START: DXGK_MIRACAST_CHUNK_TYPE =
    DXGK_MIRACAST_CHUNK_TYPE(3);
/// Frame (part) abandoned.
pub const DXGK_MIRACAST_CHUNK_TYPE_FRAME_DROPPED: DXGK_MIRACAST_CHUNK_TYPE =
    DXGK_MIRACAST_CHUNK_TYPE(4);
/// Driver-defined marker 1.
pub const DXGK_MIRACAST_CHUNK_TYPE_ENCODE_DRIVER_DEFINED_1: DXGK_MIRACAST_CHUNK_TYPE =
    DXGK_MIRACAST_CHUNK_TYPE(0x8000_0000);
/// Driver-defined marker 2.
pub const DXGK_MIRACAST_CHUNK_TYPE_ENCODE_DRIVER_DEFINED_2: DXGK_MIRACAST_CHUNK_TYPE =
    DXGK_MIRACAST_CHUNK_TYPE(0x8000_0001);

/// `DXGK_MIRACAST_CHUNK_ID` (`d3dukmdt.h`): `FrameNumber : 40` (low bits), `PartNumber : 24`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct DXGK_MIRACAST_CHUNK_ID {
    /// All 64 bits.
    pub Value: UINT64,
}
bitfields!(DXGK_MIRACAST_CHUNK_ID: u64 {
    FrameNumber / set_FrameNumber: 0, 40;
    PartNumber / set_PartNumber: 40, 24;
});

/// `DXGK_MIRACAST_CHUNK_INFO` (`d3dukmdt.h`): one chunk report.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DXGK_MIRACAST_CHUNK_INFO {
    /// Processing step.
    pub ChunkType: DXGK_MIRACAST_CHUNK_TYPE,
    /// Frame and part number.
    pub ChunkId: DXGK_MIRACAST_CHUNK_ID,
    /// Microseconds the step took.
    pub ProcessingTime: UINT,
    /// Encode rate in kbit/s.
    pub EncodeRate: UINT,
}

// ---- d3dkmdt.h -----------------------------------------------------------------------------

/// `D3DKMDT_VIDEO_OUTPUT_TECHNOLOGY` (`d3dkmdt.h`): connector type of a video output.
#[repr(transparent)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct D3DKMDT_VIDEO_OUTPUT_TECHNOLOGY(pub i32);
/// Not set.
pub const D3DKMDT_VOT_UNINITIALIZED: D3DKMDT_VIDEO_OUTPUT_TECHNOLOGY =
    D3DKMDT_VIDEO_OUTPUT_TECHNOLOGY(-2);
/// Other connector.
pub const D3DKMDT_VOT_OTHER: D3DKMDT_VIDEO_OUTPUT_TECHNOLOGY = D3DKMDT_VIDEO_OUTPUT_TECHNOLOGY(-1);
/// VGA (HD15).
pub const D3DKMDT_VOT_HD15: D3DKMDT_VIDEO_OUTPUT_TECHNOLOGY = D3DKMDT_VIDEO_OUTPUT_TECHNOLOGY(0);
/// S-Video (also `_4PIN`, `_7PIN`).
pub const D3DKMDT_VOT_SVIDEO: D3DKMDT_VIDEO_OUTPUT_TECHNOLOGY = D3DKMDT_VIDEO_OUTPUT_TECHNOLOGY(1);
/// Composite video (also `RF`).
pub const D3DKMDT_VOT_COMPOSITE_VIDEO: D3DKMDT_VIDEO_OUTPUT_TECHNOLOGY =
    D3DKMDT_VIDEO_OUTPUT_TECHNOLOGY(2);
/// Component video (also `RCA_3COMPONENT`, `BNC`).
pub const D3DKMDT_VOT_COMPONENT_VIDEO: D3DKMDT_VIDEO_OUTPUT_TECHNOLOGY =
    D3DKMDT_VIDEO_OUTPUT_TECHNOLOGY(3);
/// DVI.
pub const D3DKMDT_VOT_DVI: D3DKMDT_VIDEO_OUTPUT_TECHNOLOGY = D3DKMDT_VIDEO_OUTPUT_TECHNOLOGY(4);
/// HDMI.
pub const D3DKMDT_VOT_HDMI: D3DKMDT_VIDEO_OUTPUT_TECHNOLOGY = D3DKMDT_VIDEO_OUTPUT_TECHNOLOGY(5);
/// LVDS.
pub const D3DKMDT_VOT_LVDS: D3DKMDT_VIDEO_OUTPUT_TECHNOLOGY = D3DKMDT_VIDEO_OUTPUT_TECHNOLOGY(6);
/// D-Jpn.
pub const D3DKMDT_VOT_D_JPN: D3DKMDT_VIDEO_OUTPUT_TECHNOLOGY = D3DKMDT_VIDEO_OUTPUT_TECHNOLOGY(8);
/// SDI.
pub const D3DKMDT_VOT_SDI: D3DKMDT_VIDEO_OUTPUT_TECHNOLOGY = D3DKMDT_VIDEO_OUTPUT_TECHNOLOGY(9);
/// External DisplayPort.
pub const D3DKMDT_VOT_DISPLAYPORT_EXTERNAL: D3DKMDT_VIDEO_OUTPUT_TECHNOLOGY =
    D3DKMDT_VIDEO_OUTPUT_TECHNOLOGY(10);
/// Embedded DisplayPort.
pub const D3DKMDT_VOT_DISPLAYPORT_EMBEDDED: D3DKMDT_VIDEO_OUTPUT_TECHNOLOGY =
    D3DKMDT_VIDEO_OUTPUT_TECHNOLOGY(11);
/// External UDI.
pub const D3DKMDT_VOT_UDI_EXTERNAL: D3DKMDT_VIDEO_OUTPUT_TECHNOLOGY =
    D3DKMDT_VIDEO_OUTPUT_TECHNOLOGY(12);
/// Embedded UDI.
pub const D3DKMDT_VOT_UDI_EMBEDDED: D3DKMDT_VIDEO_OUTPUT_TECHNOLOGY =
    D3DKMDT_VIDEO_OUTPUT_TECHNOLOGY(13);
/// SDTV dongle.
pub const D3DKMDT_VOT_SDTVDONGLE: D3DKMDT_VIDEO_OUTPUT_TECHNOLOGY =
    D3DKMDT_VIDEO_OUTPUT_TECHNOLOGY(14);
/// Miracast (Windows 8.1).
pub const D3DKMDT_VOT_MIRACAST: D3DKMDT_VIDEO_OUTPUT_TECHNOLOGY =
    D3DKMDT_VIDEO_OUTPUT_TECHNOLOGY(15);
/// Indirect wired (WDDM 2.1).
pub const D3DKMDT_VOT_INDIRECT_WIRED: D3DKMDT_VIDEO_OUTPUT_TECHNOLOGY =
    D3DKMDT_VIDEO_OUTPUT_TECHNOLOGY(16);
/// Internal connection (0x80000000).
pub const D3DKMDT_VOT_INTERNAL: D3DKMDT_VIDEO_OUTPUT_TECHNOLOGY =
    D3DKMDT_VIDEO_OUTPUT_TECHNOLOGY(i32::MIN);

/// `D3DKMDT_MONITOR_ORIENTATION_AWARENESS` (`d3dkmdt.h`).
#[repr(transparent)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct D3DKMDT_MONITOR_ORIENTATION_AWARENESS(pub u32);
/// Not set.
pub const D3DKMDT_MOA_UNINITIALIZED: D3DKMDT_MONITOR_ORIENTATION_AWARENESS =
    D3DKMDT_MONITOR_ORIENTATION_AWARENESS(0);
/// No orientation awareness.
pub const D3DKMDT_MOA_NONE: D3DKMDT_MONITOR_ORIENTATION_AWARENESS =
    D3DKMDT_MONITOR_ORIENTATION_AWARENESS(1);
/// Polled.
pub const D3DKMDT_MOA_POLLED: D3DKMDT_MONITOR_ORIENTATION_AWARENESS =
    D3DKMDT_MONITOR_ORIENTATION_AWARENESS(2);
/// Interrupt-driven.
pub const D3DKMDT_MOA_INTERRUPTIBLE: D3DKMDT_MONITOR_ORIENTATION_AWARENESS =
    D3DKMDT_MONITOR_ORIENTATION_AWARENESS(3);

/// `DXGK_CHILD_DEVICE_HPD_AWARENESS` (`d3dkmdt.h`): how a child reports hot plug.
#[repr(transparent)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct DXGK_CHILD_DEVICE_HPD_AWARENESS(pub u32);
/// Not set.
pub const HpdAwarenessUninitialized: DXGK_CHILD_DEVICE_HPD_AWARENESS =
    DXGK_CHILD_DEVICE_HPD_AWARENESS(0);
/// Always connected.
pub const HpdAwarenessAlwaysConnected: DXGK_CHILD_DEVICE_HPD_AWARENESS =
    DXGK_CHILD_DEVICE_HPD_AWARENESS(1);
/// Cannot detect connection.
pub const HpdAwarenessNone: DXGK_CHILD_DEVICE_HPD_AWARENESS = DXGK_CHILD_DEVICE_HPD_AWARENESS(2);
/// Polled by the OS.
pub const HpdAwarenessPolled: DXGK_CHILD_DEVICE_HPD_AWARENESS = DXGK_CHILD_DEVICE_HPD_AWARENESS(3);
/// Reports changes itself (required for the Miracast target).
pub const HpdAwarenessInterruptible: DXGK_CHILD_DEVICE_HPD_AWARENESS =
    DXGK_CHILD_DEVICE_HPD_AWARENESS(4);

// ---- d3dkmddi.h ----------------------------------------------------------------------------

/// `DXGK_INTERRUPT_TYPE` (`d3dkmddi.h`).
#[repr(transparent)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct DXGK_INTERRUPT_TYPE(pub u32);
/// DMA buffer completed.
pub const DXGK_INTERRUPT_DMA_COMPLETED: DXGK_INTERRUPT_TYPE = DXGK_INTERRUPT_TYPE(1);
/// DMA buffer preempted.
pub const DXGK_INTERRUPT_DMA_PREEMPTED: DXGK_INTERRUPT_TYPE = DXGK_INTERRUPT_TYPE(2);
/// CRTC vertical sync.
pub const DXGK_INTERRUPT_CRTC_VSYNC: DXGK_INTERRUPT_TYPE = DXGK_INTERRUPT_TYPE(3);
/// DMA buffer faulted.
pub const DXGK_INTERRUPT_DMA_FAULTED: DXGK_INTERRUPT_TYPE = DXGK_INTERRUPT_TYPE(4);
/// Display-only vertical sync.
pub const DXGK_INTERRUPT_DISPLAYONLY_VSYNC: DXGK_INTERRUPT_TYPE = DXGK_INTERRUPT_TYPE(5);
/// Display-only present progress.
pub const DXGK_INTERRUPT_DISPLAYONLY_PRESENT_PROGRESS: DXGK_INTERRUPT_TYPE = DXGK_INTERRUPT_TYPE(6);
/// Vertical sync with multiplane overlay.
pub const DXGK_INTERRUPT_CRTC_VSYNC_WITH_MULTIPLANE_OVERLAY: DXGK_INTERRUPT_TYPE =
    DXGK_INTERRUPT_TYPE(7);
/// A Miracast encode chunk finished (Microsoft's spelling, "MICACAST").
pub const DXGK_INTERRUPT_MICACAST_CHUNK_PROCESSING_COMPLETE: DXGK_INTERRUPT_TYPE =
    DXGK_INTERRUPT_TYPE(8);
/// DMA page fault (WDDM 2.0).
pub const DXGK_INTERRUPT_DMA_PAGE_FAULTED: DXGK_INTERRUPT_TYPE = DXGK_INTERRUPT_TYPE(9);

/// `DXGKCB_NOTIFY_INTERRUPT_DATA_FLAGS` (`d3dkmddi.h`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DXGKCB_NOTIFY_INTERRUPT_DATA_FLAGS {
    /// All 32 bits.
    pub Value: UINT,
}
bitfields!(DXGKCB_NOTIFY_INTERRUPT_DATA_FLAGS: u32 {
    ValidPhysicalAdapterMask / set_ValidPhysicalAdapterMask: 0, 1;
    HsyncFlipCompletion / set_HsyncFlipCompletion: 1, 1;
    Reserved / set_Reserved: 2, 30;
});

/// `DmaCompleted` arm of `DXGKARGCB_NOTIFY_INTERRUPT_DATA`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DXGKARGCB_NOTIFY_INTERRUPT_DATA_DmaCompleted {
    /// Fence id of the completed DMA buffer.
    pub SubmissionFenceId: UINT,
    /// Node.
    pub NodeOrdinal: UINT,
    /// Engine.
    pub EngineOrdinal: UINT,
}

/// `DmaPreempted` arm of `DXGKARGCB_NOTIFY_INTERRUPT_DATA`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DXGKARGCB_NOTIFY_INTERRUPT_DATA_DmaPreempted {
    /// Fence id of the preempting request.
    pub PreemptionFenceId: UINT,
    /// Last completed fence id.
    pub LastCompletedFenceId: UINT,
    /// Node.
    pub NodeOrdinal: UINT,
    /// Engine.
    pub EngineOrdinal: UINT,
}

/// `DmaFaulted` arm of `DXGKARGCB_NOTIFY_INTERRUPT_DATA`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DXGKARGCB_NOTIFY_INTERRUPT_DATA_DmaFaulted {
    /// Fence id of the faulting command.
    pub FaultedFenceId: UINT,
    /// Fault status.
    pub Status: NTSTATUS,
    /// Node.
    pub NodeOrdinal: UINT,
    /// Engine.
    pub EngineOrdinal: UINT,
}

/// `CrtcVsync` arm of `DXGKARGCB_NOTIFY_INTERRUPT_DATA`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DXGKARGCB_NOTIFY_INTERRUPT_DATA_CrtcVsync {
    /// Target.
    pub VidPnTargetId: D3DDDI_VIDEO_PRESENT_TARGET_ID,
    /// Address being scanned out.
    pub PhysicalAddress: PHYSICAL_ADDRESS,
    /// Physical adapter mask.
    pub PhysicalAdapterMask: UINT,
}

/// `DisplayOnlyVsync` arm of `DXGKARGCB_NOTIFY_INTERRUPT_DATA`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DXGKARGCB_NOTIFY_INTERRUPT_DATA_DisplayOnlyVsync {
    /// Target.
    pub VidPnTargetId: D3DDDI_VIDEO_PRESENT_TARGET_ID,
}

/// `DXGK_MULTIPLANE_OVERLAY_VSYNC_INFO` (`d3dkmddi.h`), only pointed to here.
#[repr(C)]
pub struct DXGK_MULTIPLANE_OVERLAY_VSYNC_INFO {
    _opaque: [u8; 0],
}

/// `CrtcVsyncWithMultiPlaneOverlay` arm of `DXGKARGCB_NOTIFY_INTERRUPT_DATA`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct DXGKARGCB_NOTIFY_INTERRUPT_DATA_CrtcVsyncWithMultiPlaneOverlay {
    /// Target.
    pub VidPnTargetId: D3DDDI_VIDEO_PRESENT_TARGET_ID,
    /// Physical adapter mask.
    pub PhysicalAdapterMask: UINT,
    /// Number of entries behind the pointer.
    pub MultiPlaneOverlayVsyncInfoCount: UINT,
    /// Per-plane information.
    pub pMultiPlaneOverlayVsyncInfo: *mut DXGK_MULTIPLANE_OVERLAY_VSYNC_INFO,
}

/// `MiracastEncodeChunkCompleted` arm of `DXGKARGCB_NOTIFY_INTERRUPT_DATA`: one finished chunk.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct DXGKARGCB_NOTIFY_INTERRUPT_DATA_MiracastEncodeChunkCompleted {
    /// The Miracast target.
    pub VidPnTargetId: D3DDDI_VIDEO_PRESENT_TARGET_ID,
    /// The chunk report.
    pub ChunkInfo: DXGK_MIRACAST_CHUNK_INFO,
    /// Optional blob for the UMD.
    pub pPrivateDriverData: PVOID,
    /// Blob size, at most `DXGK_MIRACAST_CAPS.MaxChunkPrivateDriverDataSize`.
    pub PrivateDataDriverSize: UINT,
    /// Written by the OS: whether the chunk was queued.
    pub Status: NTSTATUS,
}

/// `Reserved` arm of `DXGKARGCB_NOTIFY_INTERRUPT_DATA`; it fixes the size of the union.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DXGKARGCB_NOTIFY_INTERRUPT_DATA_Reserved {
    /// Reserved.
    pub Reserved: [UINT; 16],
}

/// The anonymous union of `DXGKARGCB_NOTIFY_INTERRUPT_DATA` (same arms as the header).
#[repr(C)]
#[derive(Clone, Copy)]
pub union DXGKARGCB_NOTIFY_INTERRUPT_DATA_0 {
    /// For `DXGK_INTERRUPT_DMA_COMPLETED`.
    pub DmaCompleted: DXGKARGCB_NOTIFY_INTERRUPT_DATA_DmaCompleted,
    /// For `DXGK_INTERRUPT_DMA_PREEMPTED`.
    pub DmaPreempted: DXGKARGCB_NOTIFY_INTERRUPT_DATA_DmaPreempted,
    /// For `DXGK_INTERRUPT_DMA_FAULTED`.
    pub DmaFaulted: DXGKARGCB_NOTIFY_INTERRUPT_DATA_DmaFaulted,
    /// For `DXGK_INTERRUPT_CRTC_VSYNC`.
    pub CrtcVsync: DXGKARGCB_NOTIFY_INTERRUPT_DATA_CrtcVsync,
    /// For `DXGK_INTERRUPT_DISPLAYONLY_VSYNC`.
    pub DisplayOnlyVsync: DXGKARGCB_NOTIFY_INTERRUPT_DATA_DisplayOnlyVsync,
    /// For `DXGK_INTERRUPT_CRTC_VSYNC_WITH_MULTIPLANE_OVERLAY`.
    pub CrtcVsyncWithMultiPlaneOverlay:
        DXGKARGCB_NOTIFY_INTERRUPT_DATA_CrtcVsyncWithMultiPlaneOverlay,
    /// For `DXGK_INTERRUPT_MICACAST_CHUNK_PROCESSING_COMPLETE`.
    pub MiracastEncodeChunkCompleted: DXGKARGCB_NOTIFY_INTERRUPT_DATA_MiracastEncodeChunkCompleted,
    /// Sizes the union.
    pub Reserved: DXGKARGCB_NOTIFY_INTERRUPT_DATA_Reserved,
}

/// `DXGKARGCB_NOTIFY_INTERRUPT_DATA` (`d3dkmddi.h`): argument of `DxgkCbNotifyInterrupt`; C path
/// `MiracastEncodeChunkCompleted.Status` is Rust path `u.MiracastEncodeChunkCompleted.Status`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct DXGKARGCB_NOTIFY_INTERRUPT_DATA {
    /// Selects the arm of `u`.
    pub InterruptType: DXGK_INTERRUPT_TYPE,
    /// The per-type data.
    pub u: DXGKARGCB_NOTIFY_INTERRUPT_DATA_0,
    /// Flags.
    pub Flags: DXGKCB_NOTIFY_INTERRUPT_DATA_FLAGS,
}

impl Default for DXGKARGCB_NOTIFY_INTERRUPT_DATA {
    fn default() -> Self {
        Self {
            InterruptType: DXGK_INTERRUPT_TYPE(0),
            u: DXGKARGCB_NOTIFY_INTERRUPT_DATA_0 {
                Reserved: DXGKARGCB_NOTIFY_INTERRUPT_DATA_Reserved::default(),
            },
            Flags: DXGKCB_NOTIFY_INTERRUPT_DATA_FLAGS::default(),
        }
    }
}

/// `DXGKCB_NOTIFY_INTERRUPT` (`d3dkmddi.h`): `DxgkCbNotifyInterrupt`, called from the ISR.
pub type DXGKCB_NOTIFY_INTERRUPT = Option<
    unsafe extern "system" fn(
        hAdapter: HANDLE,
        NotifyInterruptData: *const DXGKARGCB_NOTIFY_INTERRUPT_DATA,
    ),
>;
/// `DXGKCB_NOTIFY_DPC` (`d3dkmddi.h`): `DxgkCbNotifyDpc`, called from the DPC.
pub type DXGKCB_NOTIFY_DPC = Option<unsafe extern "system" fn(hAdapter: HANDLE)>;

/// `DXGK_CREATECONTEXTFLAGS` (`d3dkmddi.h`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DXGK_CREATECONTEXTFLAGS {
    /// All 32 bits.
    pub Value: UINT,
}
bitfields!(DXGK_CREATECONTEXTFLAGS: u32 {
    SystemContext / set_SystemContext: 0, 1;
    GdiContext / set_GdiContext: 1, 1;
    VirtualAddressing / set_VirtualAddressing: 2, 1;
    SystemProtectedContext / set_SystemProtectedContext: 3, 1;
    HwQueueSupported / set_HwQueueSupported: 4, 1;
    Reserved / set_Reserved: 5, 27;
});

/// `DXGK_CONTEXTINFO_CAPS` (`d3dkmddi.h`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DXGK_CONTEXTINFO_CAPS {
    /// All 32 bits.
    pub Value: UINT,
}
bitfields!(DXGK_CONTEXTINFO_CAPS: u32 {
    NoPatchingRequired / set_NoPatchingRequired: 0, 1;
    DriverManagesResidency / set_DriverManagesResidency: 1, 1;
    UseIoMmu / set_UseIoMmu: 2, 1;
    Reserved / set_Reserved: 3, 29;
});

/// `DXGK_CONTEXTINFO` (`d3dkmddi.h`): what the KMD reports about a new GPU context.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DXGK_CONTEXTINFO {
    /// DMA buffer size.
    pub DmaBufferSize: UINT,
    /// DMA buffer segment set.
    pub DmaBufferSegmentSet: UINT,
    /// Private data per DMA buffer.
    pub DmaBufferPrivateDataSize: UINT,
    /// Allocation list size.
    pub AllocationListSize: UINT,
    /// Patch location list size.
    pub PatchLocationListSize: UINT,
    /// Reserved.
    pub Reserved: UINT,
    /// Optional features.
    pub Caps: DXGK_CONTEXTINFO_CAPS,
    /// Paging companion node.
    pub PagingCompanionNodeId: ULONG,
}

/// `DXGKARG_CREATECONTEXT` (`d3dkmddi.h`): argument of `DxgkDdiCreateContext`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct DXGKARG_CREATECONTEXT {
    /// In: runtime handle; out: the KMD's context handle.
    pub hContext: HANDLE,
    /// Node.
    pub NodeOrdinal: UINT,
    /// Engine affinity.
    pub EngineAffinity: UINT,
    /// Flags.
    pub Flags: DXGK_CREATECONTEXTFLAGS,
    /// Private data from the Direct3D UMD.
    pub pPrivateDriverData: PVOID,
    /// Its size.
    pub PrivateDriverDataSize: UINT,
    /// Out: context information.
    pub ContextInfo: DXGK_CONTEXTINFO,
}

impl Default for DXGKARG_CREATECONTEXT {
    fn default() -> Self {
        Self {
            hContext: core::ptr::null_mut(),
            NodeOrdinal: 0,
            EngineAffinity: 0,
            Flags: DXGK_CREATECONTEXTFLAGS::default(),
            pPrivateDriverData: core::ptr::null_mut(),
            PrivateDriverDataSize: 0,
            ContextInfo: DXGK_CONTEXTINFO::default(),
        }
    }
}

/// `PDXGKDDI_CREATECONTEXT` (`d3dkmddi.h`): `DxgkDdiCreateContext` (GPU context).
pub type PDXGKDDI_CREATECONTEXT = Option<
    unsafe extern "system" fn(
        hDevice: HANDLE,
        pCreateContext: *mut DXGKARG_CREATECONTEXT,
    ) -> NTSTATUS,
>;
/// `PDXGKDDI_DESTROYCONTEXT` (`d3dkmddi.h`): `DxgkDdiDestroyContext` (GPU context).
pub type PDXGKDDI_DESTROYCONTEXT = Option<unsafe extern "system" fn(hContext: HANDLE) -> NTSTATUS>;

/// `DXGKARG_COMMITVIDPN_FLAGS` (`d3dkmddi.h`). The C type has only the bit fields; `Value` here
/// is their 32 bits.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DXGKARG_COMMITVIDPN_FLAGS {
    /// All 32 bits.
    pub Value: UINT,
}
bitfields!(DXGKARG_COMMITVIDPN_FLAGS: u32 {
    PathPowerTransition / set_PathPowerTransition: 0, 1;
    PathPoweredOff / set_PathPoweredOff: 1, 1;
    Reserved / set_Reserved: 2, 30;
});

// ---- dispmprt.h ----------------------------------------------------------------------------

/// `QUERY_INTERFACE` (`dispmprt.h`): argument of `DxgkDdiQueryInterface`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct QUERY_INTERFACE {
    /// Which interface.
    pub InterfaceType: *const GUID,
    /// Size of the buffer at `Interface`.
    pub Size: USHORT,
    /// Requested version.
    pub Version: USHORT,
    /// Where the KMD writes the interface.
    pub Interface: PINTERFACE,
    /// Interface-specific data.
    pub InterfaceSpecificData: PVOID,
}

impl Default for QUERY_INTERFACE {
    fn default() -> Self {
        Self {
            InterfaceType: core::ptr::null(),
            Size: 0,
            Version: 0,
            Interface: core::ptr::null_mut(),
            InterfaceSpecificData: core::ptr::null_mut(),
        }
    }
}

/// `PQUERY_INTERFACE`.
pub type PQUERY_INTERFACE = *mut QUERY_INTERFACE;

/// `DXGK_VIDEO_OUTPUT_CAPABILITIES` (`dispmprt.h`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DXGK_VIDEO_OUTPUT_CAPABILITIES {
    /// Connector type (`D3DKMDT_VOT_MIRACAST` for the Miracast target).
    pub InterfaceTechnology: D3DKMDT_VIDEO_OUTPUT_TECHNOLOGY,
    /// Orientation awareness.
    pub MonitorOrientationAwareness: D3DKMDT_MONITOR_ORIENTATION_AWARENESS,
    /// SDTV modes supported.
    pub SupportsSdtvModes: BOOLEAN,
}

/// `DXGK_INTEGRATED_DISPLAY_CHILD` (`dispmprt.h`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DXGK_INTEGRATED_DISPLAY_CHILD {
    /// Connector type.
    pub InterfaceTechnology: D3DKMDT_VIDEO_OUTPUT_TECHNOLOGY,
    /// Descriptor length.
    pub DescriptorLength: USHORT,
}

/// `Type.Other` of `DXGK_CHILD_CAPABILITIES`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DXGK_CHILD_CAPABILITIES_Other {
    /// Must be zero.
    pub MustBeZero: UINT,
}

/// The `Type` union of `DXGK_CHILD_CAPABILITIES`.
#[repr(C)]
#[derive(Clone, Copy)]
pub union DXGK_CHILD_CAPABILITIES_Type {
    /// For `TypeVideoOutput`.
    pub VideoOutput: DXGK_VIDEO_OUTPUT_CAPABILITIES,
    /// For `TypeOther`.
    pub Other: DXGK_CHILD_CAPABILITIES_Other,
    /// For `TypeIntegratedDisplay`.
    pub IntegratedDisplayChild: DXGK_INTEGRATED_DISPLAY_CHILD,
}

/// `DXGK_CHILD_CAPABILITIES` (`dispmprt.h`).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct DXGK_CHILD_CAPABILITIES {
    /// Chosen by `DXGK_CHILD_DESCRIPTOR.ChildDeviceType`.
    pub Type: DXGK_CHILD_CAPABILITIES_Type,
    /// Hot-plug awareness.
    pub HpdAwareness: DXGK_CHILD_DEVICE_HPD_AWARENESS,
}

impl Default for DXGK_CHILD_CAPABILITIES {
    fn default() -> Self {
        Self {
            Type: DXGK_CHILD_CAPABILITIES_Type {
                VideoOutput: DXGK_VIDEO_OUTPUT_CAPABILITIES::default(),
            },
            HpdAwareness: HpdAwarenessUninitialized,
        }
    }
}

/// `DXGK_CHILD_DEVICE_TYPE` (`dispmprt.h`).
#[repr(transparent)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct DXGK_CHILD_DEVICE_TYPE(pub u32);
/// Not set (also the zero terminator of the child array).
pub const TypeUninitialized: DXGK_CHILD_DEVICE_TYPE = DXGK_CHILD_DEVICE_TYPE(0);
/// A video output (the Miracast target is one).
pub const TypeVideoOutput: DXGK_CHILD_DEVICE_TYPE = DXGK_CHILD_DEVICE_TYPE(1);
/// Another child.
pub const TypeOther: DXGK_CHILD_DEVICE_TYPE = DXGK_CHILD_DEVICE_TYPE(2);
/// An integrated display.
pub const TypeIntegratedDisplay: DXGK_CHILD_DEVICE_TYPE = DXGK_CHILD_DEVICE_TYPE(3);

/// `DXGK_CHILD_DESCRIPTOR` (`dispmprt.h`): one child from `DxgkDdiQueryChildRelations`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct DXGK_CHILD_DESCRIPTOR {
    /// Kind of child.
    pub ChildDeviceType: DXGK_CHILD_DEVICE_TYPE,
    /// Capabilities.
    pub ChildCapabilities: DXGK_CHILD_CAPABILITIES,
    /// ACPI id.
    pub AcpiUid: ULONG,
    /// Child id (the VidPN target id for a video output).
    pub ChildUid: ULONG,
}

/// `DXGK_DEVICE_DESCRIPTOR` (`dispmprt.h`): a slice of the EDID.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct DXGK_DEVICE_DESCRIPTOR {
    /// Offset into the descriptor.
    pub DescriptorOffset: ULONG,
    /// Bytes requested.
    pub DescriptorLength: ULONG,
    /// Buffer of `DescriptorLength` bytes.
    pub DescriptorBuffer: PVOID,
}

impl Default for DXGK_DEVICE_DESCRIPTOR {
    fn default() -> Self {
        Self {
            DescriptorOffset: 0,
            DescriptorLength: 0,
            DescriptorBuffer: core::ptr::null_mut(),
        }
    }
}

/// `DXGK_CHILD_STATUS_TYPE` (`dispmprt.h`).
#[repr(transparent)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct DXGK_CHILD_STATUS_TYPE(pub u32);
/// Not set.
pub const StatusUninitialized: DXGK_CHILD_STATUS_TYPE = DXGK_CHILD_STATUS_TYPE(0);
/// Monitor connection (`HotPlug` arm).
pub const StatusConnection: DXGK_CHILD_STATUS_TYPE = DXGK_CHILD_STATUS_TYPE(1);
/// Rotation (`Rotation` arm).
pub const StatusRotation: DXGK_CHILD_STATUS_TYPE = DXGK_CHILD_STATUS_TYPE(2);
/// Miracast monitor connection (`Miracast` arm, WDDM 1.3).
pub const StatusMiracastConnection: DXGK_CHILD_STATUS_TYPE = DXGK_CHILD_STATUS_TYPE(3);

/// `HotPlug` arm of `DXGK_CHILD_STATUS`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DXGK_CHILD_STATUS_HotPlug {
    /// Monitor connected.
    pub Connected: BOOLEAN,
}

/// `Rotation` arm of `DXGK_CHILD_STATUS`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DXGK_CHILD_STATUS_Rotation {
    /// Angle.
    pub Angle: UCHAR,
}

/// `Miracast` arm of `DXGK_CHILD_STATUS`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DXGK_CHILD_STATUS_Miracast {
    /// A monitor is behind the sink.
    pub Connected: BOOLEAN,
    /// Connector between sink and monitor (`D3DKMDT_VOT_MIRACAST` for a sink inside the display).
    pub MiracastMonitorType: D3DKMDT_VIDEO_OUTPUT_TECHNOLOGY,
}

/// The anonymous union of `DXGK_CHILD_STATUS`.
#[repr(C)]
#[derive(Clone, Copy)]
pub union DXGK_CHILD_STATUS_0 {
    /// For `StatusConnection`.
    pub HotPlug: DXGK_CHILD_STATUS_HotPlug,
    /// For `StatusRotation`.
    pub Rotation: DXGK_CHILD_STATUS_Rotation,
    /// For `StatusMiracastConnection`.
    pub Miracast: DXGK_CHILD_STATUS_Miracast,
}

/// `DXGK_CHILD_STATUS` (`dispmprt.h`); C path `Miracast.Connected` is Rust path
/// `u.Miracast.Connected`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct DXGK_CHILD_STATUS {
    /// Selects the arm of `u`.
    pub Type: DXGK_CHILD_STATUS_TYPE,
    /// The child.
    pub ChildUid: ULONG,
    /// The per-type status.
    pub u: DXGK_CHILD_STATUS_0,
}

impl Default for DXGK_CHILD_STATUS {
    fn default() -> Self {
        Self {
            Type: StatusUninitialized,
            ChildUid: 0,
            u: DXGK_CHILD_STATUS_0 {
                Miracast: DXGK_CHILD_STATUS_Miracast::default(),
            },
        }
    }
}

/// `PDXGKDDI_QUERY_INTERFACE` (`dispmprt.h`): `DxgkDdiQueryInterface`.
pub type PDXGKDDI_QUERY_INTERFACE = Option<
    unsafe extern "system" fn(
        MiniportDeviceContext: PVOID,
        QueryInterface: *mut QUERY_INTERFACE,
    ) -> NTSTATUS,
>;
/// `PDXGKDDI_QUERY_CHILD_RELATIONS` (`dispmprt.h`): `DxgkDdiQueryChildRelations`.
pub type PDXGKDDI_QUERY_CHILD_RELATIONS = Option<
    unsafe extern "system" fn(
        MiniportDeviceContext: PVOID,
        ChildRelations: *mut DXGK_CHILD_DESCRIPTOR,
        ChildRelationsSize: ULONG,
    ) -> NTSTATUS,
>;
/// `PDXGKDDI_QUERY_CHILD_STATUS` (`dispmprt.h`): `DxgkDdiQueryChildStatus`.
pub type PDXGKDDI_QUERY_CHILD_STATUS = Option<
    unsafe extern "system" fn(
        MiniportDeviceContext: PVOID,
        ChildStatus: *mut DXGK_CHILD_STATUS,
        NonDestructiveOnly: BOOLEAN,
    ) -> NTSTATUS,
>;
/// `PDXGKDDI_QUERY_DEVICE_DESCRIPTOR` (`dispmprt.h`): `DxgkDdiQueryDeviceDescriptor`.
pub type PDXGKDDI_QUERY_DEVICE_DESCRIPTOR = Option<
    unsafe extern "system" fn(
        MiniportDeviceContext: PVOID,
        ChildUid: ULONG,
        DeviceDescriptor: *mut DXGK_DEVICE_DESCRIPTOR,
    ) -> NTSTATUS,
>;
/// `PDXGKDDI_REMOVE_DEVICE` (`dispmprt.h`): `DxgkDdiRemoveDevice`.
pub type PDXGKDDI_REMOVE_DEVICE =
    Option<unsafe extern "system" fn(MiniportDeviceContext: PVOID) -> NTSTATUS>;
/// `PDXGKDDI_INTERRUPT_ROUTINE` (`dispmprt.h`): `DxgkDdiInterruptRoutine`.
pub type PDXGKDDI_INTERRUPT_ROUTINE = Option<
    unsafe extern "system" fn(MiniportDeviceContext: PVOID, MessageNumber: ULONG) -> BOOLEAN,
>;
/// `PDXGKDDI_DPC_ROUTINE` (`dispmprt.h`): `DxgkDdiDpcRoutine`.
pub type PDXGKDDI_DPC_ROUTINE = Option<unsafe extern "system" fn(MiniportDeviceContext: PVOID)>;

/// `DXGKCB_INDICATE_CHILD_STATUS` (`dispmprt.h`): `DxgkCbIndicateChildStatus`.
pub type DXGKCB_INDICATE_CHILD_STATUS = Option<
    unsafe extern "system" fn(
        DeviceHandle: HANDLE,
        ChildStatus: *mut DXGK_CHILD_STATUS,
    ) -> NTSTATUS,
>;
/// `DXGKCB_QUEUE_DPC` (`dispmprt.h`): `DxgkCbQueueDpc`.
pub type DXGKCB_QUEUE_DPC = Option<unsafe extern "system" fn(DeviceHandle: HANDLE) -> BOOLEAN>;

/// `GUID_DEVINTERFACE_MIRACAST_DISPLAY` (`dispmprt.h`): {AF03F190-22AF-48CB-94BB-B78E76A25107}.
pub const GUID_DEVINTERFACE_MIRACAST_DISPLAY: GUID = GUID {
    Data1: 0xaf03_f190,
    Data2: 0x22af,
    Data3: 0x48cb,
    Data4: [0x94, 0xbb, 0xb7, 0x8e, 0x76, 0xa2, 0x51, 0x07],
};

/// `DXGK_MIRACAST_DISPLAY_INTERFACE_VERSION_1` (`dispmprt.h`).
pub const DXGK_MIRACAST_DISPLAY_INTERFACE_VERSION_1: USHORT = 0x01;

/// The `Flags` union of `DXGK_MIRACAST_CAPS`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DXGK_MIRACAST_CAPS_FLAGS {
    /// All 32 bits.
    pub Value: UINT,
}
bitfields!(DXGK_MIRACAST_CAPS_FLAGS: u32 {
    HdcpSupport / set_HdcpSupport: 0, 1;
    Reserved / set_Reserved: 1, 31;
});

/// `DXGK_MIRACAST_CAPS` (`dispmprt.h`): filled by `DxgkDdiMiracastQueryCaps`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DXGK_MIRACAST_CAPS {
    /// Largest private blob per chunk interrupt.
    pub MaxChunkPrivateDriverDataSize: ULONG,
    /// `HdcpSupport`, `Reserved`.
    pub Flags: DXGK_MIRACAST_CAPS_FLAGS,
}

/// `DXGKDDI_MIRACAST_QUERY_CAPS` (`dispmprt.h`): `DxgkDdiMiracastQueryCaps`.
pub type DXGKDDI_MIRACAST_QUERY_CAPS = Option<
    unsafe extern "system" fn(
        DriverContext: PVOID,
        MiracastCapsSize: ULONG,
        MiracastCaps: *mut DXGK_MIRACAST_CAPS,
    ) -> NTSTATUS,
>;
/// `DXGKCB_MIRACAST_SEND_MESSAGE_CALLBACK` (`dispmprt.h`): the KMD's completion routine.
pub type DXGKCB_MIRACAST_SEND_MESSAGE_CALLBACK =
    Option<unsafe extern "system" fn(CallbackContext: PVOID, pIoStatusBlock: PIO_STATUS_BLOCK)>;
/// `DXGKCB_MIRACAST_SEND_MESSAGE` (`dispmprt.h`): `DxgkCbMiracastSendMessage`.
pub type DXGKCB_MIRACAST_SEND_MESSAGE = Option<
    unsafe extern "system" fn(
        MiracastHandle: HANDLE,
        InputBufferSize: ULONG,
        pInputBuffer: *mut VOID,
        OutputBufferSize: ULONG,
        pOutputBuffer: *mut VOID,
        pCallback: DXGKCB_MIRACAST_SEND_MESSAGE_CALLBACK,
        pCallbackContext: PVOID,
    ) -> NTSTATUS,
>;
/// `DXGKCB_MIRACAST_REPORT_CHUNK_INFO` (`dispmprt.h`): `DxgkCbReportChunkInfo`.
pub type DXGKCB_MIRACAST_REPORT_CHUNK_INFO = Option<
    unsafe extern "system" fn(
        MiracastHandle: HANDLE,
        pChunkInfo: *mut DXGK_MIRACAST_CHUNK_INFO,
        pPrivateDriverData: PVOID,
        PrivateDataDriverSize: UINT,
    ) -> NTSTATUS,
>;

/// `DXGK_MIRACAST_DISPLAY_CALLBACKS` (`dispmprt.h`): OS callbacks given to
/// `DxgkDdiMiracastCreateContext`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct DXGK_MIRACAST_DISPLAY_CALLBACKS {
    /// OS handle, first argument of both callbacks.
    pub MiracastHandle: HANDLE,
    /// `DxgkCbMiracastSendMessage`.
    pub DxgkCbMiracastSendMessage: DXGKCB_MIRACAST_SEND_MESSAGE,
    /// `DxgkCbReportChunkInfo`.
    pub DxgkCbReportChunkInfo: DXGKCB_MIRACAST_REPORT_CHUNK_INFO,
}

impl Default for DXGK_MIRACAST_DISPLAY_CALLBACKS {
    fn default() -> Self {
        Self {
            MiracastHandle: core::ptr::null_mut(),
            DxgkCbMiracastSendMessage: None,
            DxgkCbReportChunkInfo: None,
        }
    }
}

/// `DXGKDDI_MIRACAST_CREATE_CONTEXT` (`dispmprt.h`): `DxgkDdiMiracastCreateContext`.
pub type DXGKDDI_MIRACAST_CREATE_CONTEXT = Option<
    unsafe extern "system" fn(
        DriverContext: PVOID,
        MiracastCallbacks: *mut DXGK_MIRACAST_DISPLAY_CALLBACKS,
        MiracastContext: *mut PVOID,
        TargetId: *mut ULONG,
    ) -> NTSTATUS,
>;
/// `DXGKDDI_MIRACAST_HANDLE_IO_CONTROL` (`dispmprt.h`): `DxgkDdiMiracastIoControl`.
pub type DXGKDDI_MIRACAST_HANDLE_IO_CONTROL = Option<
    unsafe extern "system" fn(
        DriverContext: PVOID,
        MiracastContext: PVOID,
        InputBufferSize: ULONG,
        pInputBuffer: *mut VOID,
        OutputBufferSize: ULONG,
        pOutputBuffer: *mut VOID,
        BytesReturned: *mut ULONG,
    ) -> NTSTATUS,
>;
/// `DXGKDDI_MIRACAST_DESTROY_CONTEXT` (`dispmprt.h`): `DxgkDdiMiracastDestroyContext`.
pub type DXGKDDI_MIRACAST_DESTROY_CONTEXT =
    Option<unsafe extern "system" fn(DriverContext: PVOID, MiracastContext: PVOID)>;

/// `DXGK_MIRACAST_DISPLAY_INTERFACE` (`dispmprt.h`, tag `_DXGK_MIRACAST_INTERFACE`): what the
/// KMD returns for `GUID_DEVINTERFACE_MIRACAST_DISPLAY`. IoControl comes before DestroyContext.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct DXGK_MIRACAST_DISPLAY_INTERFACE {
    /// Size of this structure.
    pub Size: USHORT,
    /// `DXGK_MIRACAST_DISPLAY_INTERFACE_VERSION_1`.
    pub Version: USHORT,
    /// KMD context for the reference routines.
    pub Context: PVOID,
    /// Reference routine.
    pub InterfaceReference: PINTERFACE_REFERENCE,
    /// Dereference routine.
    pub InterfaceDereference: PINTERFACE_DEREFERENCE,
    /// `DxgkDdiMiracastQueryCaps`.
    pub DxgkDdiMiracastQueryCaps: DXGKDDI_MIRACAST_QUERY_CAPS,
    /// `DxgkDdiMiracastCreateContext`.
    pub DxgkDdiMiracastCreateContext: DXGKDDI_MIRACAST_CREATE_CONTEXT,
    /// `DxgkDdiMiracastIoControl`.
    pub DxgkDdiMiracastIoControl: DXGKDDI_MIRACAST_HANDLE_IO_CONTROL,
    /// `DxgkDdiMiracastDestroyContext`.
    pub DxgkDdiMiracastDestroyContext: DXGKDDI_MIRACAST_DESTROY_CONTEXT,
}

impl Default for DXGK_MIRACAST_DISPLAY_INTERFACE {
    fn default() -> Self {
        Self {
            Size: 0,
            Version: 0,
            Context: core::ptr::null_mut(),
            InterfaceReference: None,
            InterfaceDereference: None,
            DxgkDdiMiracastQueryCaps: None,
            DxgkDdiMiracastCreateContext: None,
            DxgkDdiMiracastIoControl: None,
            DxgkDdiMiracastDestroyContext: None,
        }
    }
}

// ---- netdispumdddi.h -----------------------------------------------------------------------

/// `MIRACAST_DRIVER_INTERFACE_VERSION_1` (`netdispumdddi.h`).
pub const MIRACAST_DRIVER_INTERFACE_VERSION_1: UINT = 0x01;
/// `MAX_ADDITIONAL_EVENTS` (`netdispumdddi.h`).
pub const MAX_ADDITIONAL_EVENTS: UINT = 4;
/// Name of the UMD's one export, `QueryMiracastDriverInterface`.
pub const QUERY_MIRACAST_DRIVER_INTERFACE_NAME: &CStr = c"QueryMiracastDriverInterface";

/// `QUERY_MIRACAST_DRIVER_INTERFACE` (`netdispumdddi.h`): type of the UMD export.
pub type QUERY_MIRACAST_DRIVER_INTERFACE = Option<
    unsafe extern "system" fn(
        MiracastDriverInterfaceVersion: UINT,
        MiracastDriverInterfaceSize: UINT,
        pMiracastDriverInterface: *mut VOID,
    ) -> NTSTATUS,
>;

/// `MIRACAST_STATUS` (`netdispumdddi.h`): why a session cannot continue.
#[repr(transparent)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct MIRACAST_STATUS(pub u32);
/// Unspecified fatal error.
pub const MIRACAST_STATUS_CRITICAL_ERROR: MIRACAST_STATUS = MIRACAST_STATUS(0);
/// Sink stopped answering keep-alives.
pub const MIRACAST_STATUS_MISSING_KEEPALIVE: MIRACAST_STATUS = MIRACAST_STATUS(1);
/// Sink asked to disconnect (Microsoft's spelling, "DISOCNNECT").
pub const MIRACAST_STATUS_SINK_DISOCNNECT_REQUEST: MIRACAST_STATUS = MIRACAST_STATUS(2);
/// Bandwidth no longer sustains the mode.
pub const MIRACAST_STATUS_INSUFFICIENT_BANDWIDTH: MIRACAST_STATUS = MIRACAST_STATUS(3);
/// Sink failed a standard mode change.
pub const MIRACAST_STATUS_SINK_FAILED_STANDARD_MODE_CHANGE: MIRACAST_STATUS = MIRACAST_STATUS(4);
/// Companion driver disconnected (undocumented).
pub const MIRACAST_STATUS_COMPANION_DRIVER_DISCONNECT: MIRACAST_STATUS = MIRACAST_STATUS(5);
/// Sizing value, never used.
pub const MIRACAST_STATUS_FORCE_UINT32: MIRACAST_STATUS = MIRACAST_STATUS(0xffff_ffff);

/// `PFN_REPORT_SESSION_STATUS` (`netdispumdddi.h`): `ReportSessionStatus`.
pub type PFN_REPORT_SESSION_STATUS = Option<
    unsafe extern "system" fn(
        hMiracastDeviceHandle: HANDLE,
        MiracastStatus: MIRACAST_STATUS,
        Status: NTSTATUS,
    ),
>;
/// `PFN_MIRACAST_IO_CONTROL` (`netdispumdddi.h`): `MiracastIoControl`.
pub type PFN_MIRACAST_IO_CONTROL = Option<
    unsafe extern "system" fn(
        hMiracastDeviceHandle: HANDLE,
        HardwareAccess: BOOL,
        InputBufferSize: UINT,
        pInputBuffer: *mut VOID,
        OutputBufferSize: UINT,
        pOutputBuffer: *mut VOID,
        pBytesReturned: *mut UINT,
    ) -> NTSTATUS,
>;

/// `MIRACAST_PROTOCOL_EVENT` (`netdispumdddi.h`).
#[repr(transparent)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct MIRACAST_PROTOCOL_EVENT(pub u32);
/// Sink asked for an IDR frame.
pub const MIRACAST_PROTOCOL_EVENT_IFRAME_RQ: MIRACAST_PROTOCOL_EVENT = MIRACAST_PROTOCOL_EVENT(0);
/// Monitor arrived behind the sink.
pub const MIRACAST_PROTOCOL_EVENT_MONITOR_ARRIVE: MIRACAST_PROTOCOL_EVENT =
    MIRACAST_PROTOCOL_EVENT(1);
/// Monitor departed.
pub const MIRACAST_PROTOCOL_EVENT_MONITOR_DEPART: MIRACAST_PROTOCOL_EVENT =
    MIRACAST_PROTOCOL_EVENT(2);
/// Reserved; drivers must not use it.
pub const MIRACAST_PROTOCOL_EVENT_SINK_FAILED_PREFERRED_MODE_CHANGE: MIRACAST_PROTOCOL_EVENT =
    MIRACAST_PROTOCOL_EVENT(3);
/// Sizing value, never used.
pub const MIRACAST_PROTOCOL_EVENT_FORCE_UINT32: MIRACAST_PROTOCOL_EVENT =
    MIRACAST_PROTOCOL_EVENT(0xffff_ffff);

/// `MIRACAST_STATISTIC_TYPE` (`netdispumdddi.h`): selects the arm of `MIRACAST_STATISTIC_DATA`.
#[repr(transparent)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct MIRACAST_STATISTIC_TYPE(pub u32);
/// The UMD finished processing a chunk (`EncodeComplete` arm).
pub const MIRACAST_STATISTIC_TYPE_CHUNK_PROCESSING_COMPLETE: MIRACAST_STATISTIC_TYPE =
    MIRACAST_STATISTIC_TYPE(0);
/// A chunk is about to be sent (`ChunkSent` arm).
pub const MIRACAST_STATISTIC_TYPE_CHUNK_SENT: MIRACAST_STATISTIC_TYPE = MIRACAST_STATISTIC_TYPE(1);
/// A protocol event (`ProtocolEvent` arm).
pub const MIRACAST_STATISTIC_TYPE_EVENT: MIRACAST_STATISTIC_TYPE = MIRACAST_STATISTIC_TYPE(2);
/// Sizing value, never used.
pub const MIRACAST_STATISTIC_TYPE_FORCE_UINT32: MIRACAST_STATISTIC_TYPE =
    MIRACAST_STATISTIC_TYPE(0xffff_ffff);

/// `MIRACAST_CHUNK_ID` (`netdispumdddi.h`): `FrameNumber : 40` (low bits), `PartNumber : 24`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct MIRACAST_CHUNK_ID {
    /// All 64 bits.
    pub Value: UINT64,
}
bitfields!(MIRACAST_CHUNK_ID: u64 {
    FrameNumber / set_FrameNumber: 0, 40;
    PartNumber / set_PartNumber: 40, 24;
});

/// `MIRACAST_CHUNK_TYPE` (`netdispumdddi.h`): same values as `DXGK_MIRACAST_CHUNK_TYPE`.
#[repr(transparent)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct MIRACAST_CHUNK_TYPE(pub u32);
/// Unknown step.
pub const MIRACAST_CHUNK_TYPE_UNKNOWN: MIRACAST_CHUNK_TYPE = MIRACAST_CHUNK_TYPE(0);
/// Colour conversion finished.
pub const MIRACAST_CHUNK_TYPE_COLOR_CONVERT_COMPLETE: MIRACAST_CHUNK_TYPE = MIRACAST_CHUNK_TYPE(1);
/// Encode finished.
pub const MIRACAST_CHUNK_TYPE_ENCODE_COMPLETE: MIRACAST_CHUNK_TYPE = MIRACAST_CHUNK_TYPE(2);
/// Frame processing started.
pub const MIRACAST_CHUNK_TYPE_FRAME_START: MIRACAST_CHUNK_TYPE = MIRACAST_CHUNK_TYPE(3);
/// Frame (part) abandoned.
pub const MIRACAST_CHUNK_TYPE_FRAME_DROPPED: MIRACAST_CHUNK_TYPE = MIRACAST_CHUNK_TYPE(4);
/// Driver-defined marker 1.
pub const MIRACAST_CHUNK_TYPE_ENCODE_DRIVER_DEFINED_1: MIRACAST_CHUNK_TYPE =
    MIRACAST_CHUNK_TYPE(0x8000_0000);
/// Driver-defined marker 2.
pub const MIRACAST_CHUNK_TYPE_ENCODE_DRIVER_DEFINED_2: MIRACAST_CHUNK_TYPE =
    MIRACAST_CHUNK_TYPE(0x8000_0001);
/// Sizing value, never used.
pub const MIRACAST_CHUNK_TYPE_ENCODE_FORCE_UINT32: MIRACAST_CHUNK_TYPE =
    MIRACAST_CHUNK_TYPE(0xffff_ffff);

/// `MIRACAST_CHUNK_INFO` (`netdispumdddi.h`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MIRACAST_CHUNK_INFO {
    /// Processing step.
    pub ChunkType: MIRACAST_CHUNK_TYPE,
    /// Frame and part number.
    pub ChunkId: MIRACAST_CHUNK_ID,
    /// Microseconds the step took.
    pub ProcessingTime: UINT,
    /// Encode rate in kbit/s.
    pub EncodeRate: UINT,
}

/// `EncodeComplete` arm of `MIRACAST_STATISTIC_DATA`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MIRACAST_STATISTIC_DATA_EncodeComplete {
    /// The chunk.
    pub ChunkInfo: MIRACAST_CHUNK_INFO,
}

/// `ChunkSent` arm of `MIRACAST_STATISTIC_DATA`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MIRACAST_STATISTIC_DATA_ChunkSent {
    /// The chunk.
    pub ChunkId: MIRACAST_CHUNK_ID,
}

/// `ProtocolEvent` arm of `MIRACAST_STATISTIC_DATA`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MIRACAST_STATISTIC_DATA_ProtocolEvent {
    /// The event.
    pub Event: MIRACAST_PROTOCOL_EVENT,
}

/// The anonymous union of `MIRACAST_STATISTIC_DATA`.
#[repr(C)]
#[derive(Clone, Copy)]
pub union MIRACAST_STATISTIC_DATA_0 {
    /// For `MIRACAST_STATISTIC_TYPE_CHUNK_PROCESSING_COMPLETE`.
    pub EncodeComplete: MIRACAST_STATISTIC_DATA_EncodeComplete,
    /// For `MIRACAST_STATISTIC_TYPE_CHUNK_SENT`.
    pub ChunkSent: MIRACAST_STATISTIC_DATA_ChunkSent,
    /// For `MIRACAST_STATISTIC_TYPE_EVENT`.
    pub ProtocolEvent: MIRACAST_STATISTIC_DATA_ProtocolEvent,
}

/// `MIRACAST_STATISTIC_DATA` (`netdispumdddi.h`); C path `ChunkSent.ChunkId` is Rust path
/// `u.ChunkSent.ChunkId`.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct MIRACAST_STATISTIC_DATA {
    /// Selects the arm of `u`.
    pub StatisticType: MIRACAST_STATISTIC_TYPE,
    /// The statistic.
    pub u: MIRACAST_STATISTIC_DATA_0,
}

impl Default for MIRACAST_STATISTIC_DATA {
    fn default() -> Self {
        Self {
            StatisticType: MIRACAST_STATISTIC_TYPE_CHUNK_PROCESSING_COMPLETE,
            u: MIRACAST_STATISTIC_DATA_0 {
                EncodeComplete: MIRACAST_STATISTIC_DATA_EncodeComplete::default(),
            },
        }
    }
}

/// `PFN_REPORT_STATISTIC` (`netdispumdddi.h`): `ReportStatistic`.
pub type PFN_REPORT_STATISTIC = Option<
    unsafe extern "system" fn(
        hMiracastDeviceHandle: HANDLE,
        pStatistics: *mut MIRACAST_STATISTIC_DATA,
    ),
>;

/// `MIRACAST_CHUNK_DATA` (`netdispumdddi.h`): one chunk record; `PrivateDriverData` really has
/// `PrivateDriverDataSize` bytes, and records are packed back to back.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MIRACAST_CHUNK_DATA {
    /// The chunk.
    pub ChunkInfo: MIRACAST_CHUNK_INFO,
    /// Bytes of private data.
    pub PrivateDriverDataSize: UINT,
    /// First byte of the private data.
    pub PrivateDriverData: [UCHAR; 1],
}

/// `PFN_GET_NEXT_CHUNK_DATA` (`netdispumdddi.h`): `GetNextChunkData`.
pub type PFN_GET_NEXT_CHUNK_DATA = Option<
    unsafe extern "system" fn(
        hMiracastDeviceHandle: HANDLE,
        TimeoutInMilliseconds: UINT,
        AdditionalWaitEventCount: UINT,
        pAdditionalWaitEvents: *mut HANDLE,
        pChunkDataBufferSize: *mut UINT,
        pChunkDataBuffer: *mut MIRACAST_CHUNK_DATA,
        pOutstandingChunksToProcess: *mut UINT,
    ) -> NTSTATUS,
>;

/// `MIRACAST_DATARATE_STATS` (`netdispumdddi.h`): a link-quality sample.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MIRACAST_DATARATE_STATS {
    /// Recommended encoder bit/s.
    pub EncoderBitRate: UINT64,
    /// Theoretical maximum from the Wi-Fi driver, bit/s.
    pub CurrentMaxTxDataRate: UINT64,
    /// Frames sent without retry.
    pub TransmittedFrameCount: UINT64,
    /// Frames that exhausted retries.
    pub FailedFrameCount: UINT64,
    /// Frames sent after one retry.
    pub RetriedFrameCount: UINT64,
    /// Frames sent after more than one retry.
    pub MultipleRetryFrameCount: UINT64,
}

/// `PFN_DATARATE_NOTIFICATION` (`netdispumdddi.h`): `pfnDataRateNotify`.
pub type PFN_DATARATE_NOTIFICATION =
    Option<unsafe extern "system" fn(context: PVOID, pDataRateStats: *mut MIRACAST_DATARATE_STATS)>;
/// `PFN_REGISTER_DATARATE_NOTIFICATIONS` (`netdispumdddi.h`): `RegisterForDataRateNotifications`.
pub type PFN_REGISTER_DATARATE_NOTIFICATIONS = Option<
    unsafe extern "system" fn(
        hMiracastDeviceHandle: HANDLE,
        pNotificationContext: PVOID,
        pfnDataRateNotify: PFN_DATARATE_NOTIFICATION,
    ) -> NTSTATUS,
>;

/// `MIRACAST_CALLBACKS` (`netdispumdddi.h`): OS callbacks given to `CreateMiracastContext`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct MIRACAST_CALLBACKS {
    /// `ReportSessionStatus`.
    pub ReportSessionStatus: PFN_REPORT_SESSION_STATUS,
    /// `MiracastIoControl`.
    pub MiracastIoControl: PFN_MIRACAST_IO_CONTROL,
    /// `ReportStatistic`.
    pub ReportStatistic: PFN_REPORT_STATISTIC,
    /// `GetNextChunkData`.
    pub GetNextChunkData: PFN_GET_NEXT_CHUNK_DATA,
    /// `RegisterForDataRateNotifications`.
    pub RegisterForDataRateNotifications: PFN_REGISTER_DATARATE_NOTIFICATIONS,
}

/// `PFN_CREATE_MIRACAST_CONTEXT` (`netdispumdddi.h`): `CreateMiracastContext`.
pub type PFN_CREATE_MIRACAST_CONTEXT = Option<
    unsafe extern "system" fn(
        hMiracastDeviceHandle: HANDLE,
        pMiracastCallbacks: *mut MIRACAST_CALLBACKS,
        ppMiracastContext: *mut PVOID,
    ) -> NTSTATUS,
>;
/// `PFN_DESTROY_MIRACAST_CONTEXT` (`netdispumdddi.h`): `DestroyMiracastContext`.
pub type PFN_DESTROY_MIRACAST_CONTEXT = Option<unsafe extern "system" fn(pMiracastContext: PVOID)>;

/// `MIRACAST_SESSION_INFO` (`netdispumdddi.h`): what `StartMiracastSession` reports.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MIRACAST_SESSION_INFO {
    /// All 32 bits.
    pub Value: UINT,
}
bitfields!(MIRACAST_SESSION_INFO: u32 {
    MonitorConnected / set_MonitorConnected: 0, 1;
    ReducedModeListDueToBandwidth / set_ReducedModeListDueToBandwidth: 1, 1;
    Reserved / set_Reserved: 2, 30;
});

/// `MIRACAST_WFD_CONNECTION_STATS` (`netdispumdddi.h`): bit rates known at session start.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MIRACAST_WFD_CONNECTION_STATS {
    /// Recommended encoder bit/s.
    pub CurrentBitRate: UINT64,
    /// Local Wi-Fi Direct maximum, bit/s.
    pub LocalMaxBitRate: UINT64,
    /// Sink maximum, bit/s.
    pub RemoteMaxBitRate: UINT64,
}

/// `PFN_START_MIRACAST_SESSION` (`netdispumdddi.h`): `StartMiracastSession`.
pub type PFN_START_MIRACAST_SESSION = Option<
    unsafe extern "system" fn(
        pMiracastContext: PVOID,
        MiracastRTSPSocket: SOCKET,
        pWfdConnectionStats: *mut MIRACAST_WFD_CONNECTION_STATS,
        pSessionInfo: *mut MIRACAST_SESSION_INFO,
    ) -> NTSTATUS,
>;
/// `PFN_STOP_MIRACAST_SESSION` (`netdispumdddi.h`): `StopMiracastSession`.
pub type PFN_STOP_MIRACAST_SESSION = Option<unsafe extern "system" fn(pMiracastContext: PVOID)>;
/// `PFN_HANDLE_KMD_MESSAGE` (`netdispumdddi.h`): `HandleKernelModeMessage`.
pub type PFN_HANDLE_KMD_MESSAGE = Option<
    unsafe extern "system" fn(
        pMiracastContext: PVOID,
        InputBufferSize: UINT,
        pInputBuffer: *mut VOID,
        OutputBufferSize: UINT,
        pOutputBuffer: *mut VOID,
        pBytesReturned: *mut UINT,
    ) -> NTSTATUS,
>;

/// `MIRACAST_DRIVER_INTERFACE` (`netdispumdddi.h`): the UMD's entry points.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct MIRACAST_DRIVER_INTERFACE {
    /// Bytes the UMD filled.
    pub Size: UINT,
    /// `CreateMiracastContext`.
    pub CreateMiracastContext: PFN_CREATE_MIRACAST_CONTEXT,
    /// `DestroyMiracastContext`.
    pub DestroyMiracastContext: PFN_DESTROY_MIRACAST_CONTEXT,
    /// `StartMiracastSession`.
    pub StartMiracastSession: PFN_START_MIRACAST_SESSION,
    /// `StopMiracastSession`.
    pub StopMiracastSession: PFN_STOP_MIRACAST_SESSION,
    /// `HandleKernelModeMessage`.
    pub HandleKernelModeMessage: PFN_HANDLE_KMD_MESSAGE,
}

// ---- miracast_sim_kmd.h --------------------------------------------------------------------

/// `MIRACAST_SIM_KMD_INTERFACE_VERSION_1` (`miracast_sim_kmd.h`).
pub const MIRACAST_SIM_KMD_INTERFACE_VERSION_1: ULONG = 1;
/// `MIRACAST_SIM_KMD_ENTRY_NAME` (`miracast_sim_kmd.h`): the KMD library's one export.
pub const MIRACAST_SIM_KMD_ENTRY_NAME: &CStr = c"MiracastSimKmdEntry";

/// `MIRACAST_SIM_KMD_OS_INTERFACE` (`miracast_sim_kmd.h`): the OS callbacks a simulated KMD
/// receives at `MiracastSimKmdEntry` (see the header for each member).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct MIRACAST_SIM_KMD_OS_INTERFACE {
    /// `sizeof` this structure.
    pub Size: ULONG,
    /// `MIRACAST_SIM_KMD_INTERFACE_VERSION_1`.
    pub Version: ULONG,
    /// `DXGKRNL_INTERFACE.DeviceHandle`: first argument of every callback below.
    pub DeviceHandle: HANDLE,
    /// `DxgkCbIndicateChildStatus`.
    pub DxgkCbIndicateChildStatus: DXGKCB_INDICATE_CHILD_STATUS,
    /// `DxgkCbNotifyInterrupt`.
    pub DxgkCbNotifyInterrupt: DXGKCB_NOTIFY_INTERRUPT,
    /// `DxgkCbNotifyDpc`.
    pub DxgkCbNotifyDpc: DXGKCB_NOTIFY_DPC,
    /// `DxgkCbQueueDpc`.
    pub DxgkCbQueueDpc: DXGKCB_QUEUE_DPC,
}

impl Default for MIRACAST_SIM_KMD_OS_INTERFACE {
    fn default() -> Self {
        Self {
            Size: 0,
            Version: 0,
            DeviceHandle: core::ptr::null_mut(),
            DxgkCbIndicateChildStatus: None,
            DxgkCbNotifyInterrupt: None,
            DxgkCbNotifyDpc: None,
            DxgkCbQueueDpc: None,
        }
    }
}

/// `PMIRACAST_SIM_DXGKDDI_START_DEVICE` (`miracast_sim_kmd.h`): reduced `DxgkDdiStartDevice`.
pub type PMIRACAST_SIM_DXGKDDI_START_DEVICE = Option<
    unsafe extern "system" fn(
        MiniportDeviceContext: PVOID,
        NumberOfVideoPresentSources: *mut ULONG,
        NumberOfChildren: *mut ULONG,
    ) -> NTSTATUS,
>;

/// `MIRACAST_SIM_DXGKARG_COMMITVIDPN` (`miracast_sim_kmd.h`): reduced `DXGKARG_COMMITVIDPN`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MIRACAST_SIM_DXGKARG_COMMITVIDPN {
    /// Source of the committed path.
    pub AffectedVidPnSourceId: D3DDDI_VIDEO_PRESENT_SOURCE_ID,
    /// The Miracast target.
    pub VidPnTargetId: D3DDDI_VIDEO_PRESENT_TARGET_ID,
    /// `PathPoweredOff` asks to power the Miracast monitor off.
    pub Flags: DXGKARG_COMMITVIDPN_FLAGS,
}

/// `PMIRACAST_SIM_DXGKDDI_COMMITVIDPN` (`miracast_sim_kmd.h`): reduced `DxgkDdiCommitVidPn`.
pub type PMIRACAST_SIM_DXGKDDI_COMMITVIDPN = Option<
    unsafe extern "system" fn(
        hAdapter: HANDLE,
        pCommitVidPn: *const MIRACAST_SIM_DXGKARG_COMMITVIDPN,
    ) -> NTSTATUS,
>;

/// `MIRACAST_SIM_KMD_DRIVER_INTERFACE` (`miracast_sim_kmd.h`): the DDIs a simulated KMD hands
/// back from `MiracastSimKmdEntry` (see the header for each member).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct MIRACAST_SIM_KMD_DRIVER_INTERFACE {
    /// In: bytes the OS provides.
    pub Size: ULONG,
    /// In: `MIRACAST_SIM_KMD_INTERFACE_VERSION_1`.
    pub Version: ULONG,
    /// Out: the `DXGKDDI_INTERFACE_VERSION` the driver was built for.
    pub DxgkDdiInterfaceVersion: ULONG,
    /// Must be 0.
    pub Reserved: ULONG,
    /// Out: the adapter context.
    pub MiniportDeviceContext: PVOID,
    /// Reduced `DxgkDdiStartDevice`.
    pub DxgkDdiStartDevice: PMIRACAST_SIM_DXGKDDI_START_DEVICE,
    /// `DxgkDdiRemoveDevice`.
    pub DxgkDdiRemoveDevice: PDXGKDDI_REMOVE_DEVICE,
    /// `DxgkDdiQueryInterface`.
    pub DxgkDdiQueryInterface: PDXGKDDI_QUERY_INTERFACE,
    /// `DxgkDdiQueryChildRelations`.
    pub DxgkDdiQueryChildRelations: PDXGKDDI_QUERY_CHILD_RELATIONS,
    /// `DxgkDdiQueryChildStatus`.
    pub DxgkDdiQueryChildStatus: PDXGKDDI_QUERY_CHILD_STATUS,
    /// `DxgkDdiQueryDeviceDescriptor`.
    pub DxgkDdiQueryDeviceDescriptor: PDXGKDDI_QUERY_DEVICE_DESCRIPTOR,
    /// Reduced `DxgkDdiCommitVidPn`.
    pub DxgkDdiCommitVidPn: PMIRACAST_SIM_DXGKDDI_COMMITVIDPN,
    /// `DxgkDdiCreateContext` (GPU context).
    pub DxgkDdiCreateContext: PDXGKDDI_CREATECONTEXT,
    /// `DxgkDdiDestroyContext` (GPU context).
    pub DxgkDdiDestroyContext: PDXGKDDI_DESTROYCONTEXT,
    /// `DxgkDdiInterruptRoutine`.
    pub DxgkDdiInterruptRoutine: PDXGKDDI_INTERRUPT_ROUTINE,
    /// `DxgkDdiDpcRoutine`.
    pub DxgkDdiDpcRoutine: PDXGKDDI_DPC_ROUTINE,
}

impl Default for MIRACAST_SIM_KMD_DRIVER_INTERFACE {
    fn default() -> Self {
        Self {
            Size: 0,
            Version: 0,
            DxgkDdiInterfaceVersion: 0,
            Reserved: 0,
            MiniportDeviceContext: core::ptr::null_mut(),
            DxgkDdiStartDevice: None,
            DxgkDdiRemoveDevice: None,
            DxgkDdiQueryInterface: None,
            DxgkDdiQueryChildRelations: None,
            DxgkDdiQueryChildStatus: None,
            DxgkDdiQueryDeviceDescriptor: None,
            DxgkDdiCommitVidPn: None,
            DxgkDdiCreateContext: None,
            DxgkDdiDestroyContext: None,
            DxgkDdiInterruptRoutine: None,
            DxgkDdiDpcRoutine: None,
        }
    }
}

/// `MiracastSimKmdTestSendMessage` (`miracast_sim_kmd.h`): send a payload to the UMD.
pub const MiracastSimKmdTestSendMessage: u32 = 1;
/// `MiracastSimKmdTestEncoderBusy` (`miracast_sim_kmd.h`): the encoder is busy (`Value` 1) or free.
pub const MiracastSimKmdTestEncoderBusy: u32 = 2;
/// `MiracastSimKmdTestMonitorDeparts` (`miracast_sim_kmd.h`): the monitor behind the Miracast
/// target is gone, as the driver's hardware would tell it.
pub const MiracastSimKmdTestMonitorDeparts: u32 = 3;

/// `MIRACAST_SIM_KMD_TEST_REQUEST` (`miracast_sim_kmd.h`): what the optional
/// `MiracastSimKmdTestHook` export is asked to do.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct MIRACAST_SIM_KMD_TEST_REQUEST {
    /// `sizeof(MIRACAST_SIM_KMD_TEST_REQUEST)`.
    pub Size: ULONG,
    /// `MIRACAST_SIM_KMD_TEST_REQUEST_TYPE`.
    pub Type: u32,
    /// The argument of `MiracastSimKmdTestEncoderBusy`.
    pub Value: ULONG,
    /// Bytes at `pInputBuffer`.
    pub InputBufferSize: ULONG,
    /// The payload of `MiracastSimKmdTestSendMessage`.
    pub pInputBuffer: PVOID,
    /// The output buffer size the driver passes with the message.
    pub OutputBufferSize: ULONG,
    /// 0.
    pub Reserved: ULONG,
}

/// `PFN_MIRACAST_SIM_KMD_TEST_HOOK` (`miracast_sim_kmd.h`): type of the optional
/// `MiracastSimKmdTestHook` export.
pub type PFN_MIRACAST_SIM_KMD_TEST_HOOK = Option<
    unsafe extern "system" fn(
        MiniportDeviceContext: PVOID,
        pRequest: *const MIRACAST_SIM_KMD_TEST_REQUEST,
    ) -> NTSTATUS,
>;

/// `PFN_MIRACAST_SIM_KMD_ENTRY` (`miracast_sim_kmd.h`): type of the `MiracastSimKmdEntry` export.
pub type PFN_MIRACAST_SIM_KMD_ENTRY = Option<
    unsafe extern "system" fn(
        pOsInterface: *const MIRACAST_SIM_KMD_OS_INTERFACE,
        pDriverInterface: *mut MIRACAST_SIM_KMD_DRIVER_INTERFACE,
    ) -> NTSTATUS,
>;
