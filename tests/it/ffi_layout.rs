//! Layout of the C headers in `include/` against the Rust mirrors in `src/backend/real/ffi.rs`,
//! and of both against the documented x64 numbers.
//!
//! The tests compile small C programs with the system C compiler (`$CC`, else `cc`; a missing
//! compiler is a failure that names the Debian package `gcc`) and, where one exists, the C++
//! compiler (`$CXX`, else `c++`; skipped with a note when absent):
//! - [`layout_matches_c_and_documented_x64`]: a generated program prints `sizeof`, `_Alignof`,
//!   `offsetof`, enumerator values and bit-field positions of every mirrored type; each number
//!   must equal the Rust side, and on x86_64 the documented sizes and offsets too.
//! - [`each_header_compiles_alone`]: every header on its own, as C11, C99 and C++17, with
//!   `-Wall -Wextra -Werror`.
//! - [`driver_like_source_compiles`]: a small UMD + KMD source that includes `netdispumdddi.h`,
//!   `dispmprt.h` and `miracast_sim_kmd.h` together, same flags; on Linux it is also linked as a
//!   shared library.

use miracast_sim::backend::real::ffi;

use std::ffi::OsString;
use std::fmt::Write as _;
use std::mem::{align_of, offset_of, size_of};
use std::path::{Path, PathBuf};
use std::process::Command;

use miracast_sim::status::NtStatus;

/// Sizes and offsets stated in the project's DDI fact sheet (ddi-facts, section 2;
/// all marked "(derived)" there: computed for x64 from the header declarations). Offsets inside
/// an anonymous arm are relative to the arm.
const X64_DOCUMENTED: &[(&str, i64)] = &[
    // 2.1 dispmprt.h
    ("sizeof(DXGK_MIRACAST_CAPS)", 8),
    ("sizeof(DXGK_MIRACAST_DISPLAY_CALLBACKS)", 24),
    ("sizeof(DXGK_MIRACAST_DISPLAY_INTERFACE)", 64),
    (
        "offsetof(DXGK_MIRACAST_DISPLAY_INTERFACE, DxgkDdiMiracastQueryCaps)",
        32,
    ),
    ("sizeof(DXGK_CHILD_STATUS)", 16),
    (
        "offsetof(DXGK_CHILD_STATUS, Miracast.MiracastMonitorType)",
        12,
    ),
    ("offsetof(DXGK_CHILD_CAPABILITIES, HpdAwareness)", 12),
    // 2.3 d3dukmdt.h
    ("sizeof(DXGK_MIRACAST_CHUNK_ID)", 8),
    (
        "DXGK_MIRACAST_CHUNK_ID{FrameNumber=101,PartNumber=1}.Value",
        0x0000_0100_0000_0065,
    ),
    ("sizeof(DXGK_MIRACAST_CHUNK_INFO)", 24),
    ("offsetof(DXGK_MIRACAST_CHUNK_INFO, ChunkId)", 8),
    ("offsetof(DXGK_MIRACAST_CHUNK_INFO, ProcessingTime)", 16),
    ("offsetof(DXGK_MIRACAST_CHUNK_INFO, EncodeRate)", 20),
    // 2.4 d3dkmddi.h
    (
        "sizeof(DXGKARGCB_NOTIFY_INTERRUPT_DATA.MiracastEncodeChunkCompleted)",
        48,
    ),
    (
        "offsetof(DXGKARGCB_NOTIFY_INTERRUPT_DATA.MiracastEncodeChunkCompleted, ChunkInfo)",
        8,
    ),
    (
        "offsetof(DXGKARGCB_NOTIFY_INTERRUPT_DATA.MiracastEncodeChunkCompleted, pPrivateDriverData)",
        32,
    ),
    (
        "offsetof(DXGKARGCB_NOTIFY_INTERRUPT_DATA.MiracastEncodeChunkCompleted, PrivateDataDriverSize)",
        40,
    ),
    (
        "offsetof(DXGKARGCB_NOTIFY_INTERRUPT_DATA.MiracastEncodeChunkCompleted, Status)",
        44,
    ),
    // 2.5 netdispumdddi.h
    ("sizeof(MIRACAST_CHUNK_ID)", 8),
    ("sizeof(MIRACAST_CHUNK_INFO)", 24),
    ("sizeof(MIRACAST_CHUNK_DATA)", 32),
    ("offsetof(MIRACAST_CHUNK_DATA, PrivateDriverData)", 28),
    ("sizeof(MIRACAST_STATISTIC_DATA)", 32),
    ("offsetof(MIRACAST_STATISTIC_DATA, EncodeComplete)", 8),
    ("sizeof(MIRACAST_SESSION_INFO)", 4),
    ("sizeof(MIRACAST_WFD_CONNECTION_STATS)", 24),
    ("sizeof(MIRACAST_DATARATE_STATS)", 48),
    ("sizeof(MIRACAST_CALLBACKS)", 40),
    ("sizeof(MIRACAST_DRIVER_INTERFACE)", 48),
];

/// Sizes of miracast-sim's own KMD entry structures as designed in `include/miracast_sim_kmd.h`
/// (x64, no hidden padding). Not Microsoft facts; listed so that a layout change is deliberate.
const X64_DESIGNED: &[(&str, i64)] = &[
    ("sizeof(MIRACAST_SIM_KMD_OS_INTERFACE)", 48),
    ("sizeof(MIRACAST_SIM_DXGKARG_COMMITVIDPN)", 12),
    ("sizeof(MIRACAST_SIM_KMD_DRIVER_INTERFACE)", 112),
    ("sizeof(MIRACAST_SIM_KMD_TEST_REQUEST)", 32),
    (
        "offsetof(MIRACAST_SIM_KMD_DRIVER_INTERFACE, DxgkDdiStartDevice)",
        24,
    ),
];

/// One number that the C program prints and the Rust side computes.
struct Probe {
    label: String,
    c_expr: String,
    rust: i64,
}

/// The C program: its probes, plus helper functions some probes call.
#[derive(Default)]
struct Probes {
    list: Vec<Probe>,
    helpers: String,
}

impl Probes {
    fn push(&mut self, label: impl Into<String>, c_expr: impl Into<String>, rust: usize) {
        self.push_i64(
            label,
            c_expr,
            i64::try_from(rust).expect("layout number fits i64"),
        );
    }

    fn push_i64(&mut self, label: impl Into<String>, c_expr: impl Into<String>, rust: i64) {
        self.list.push(Probe {
            label: label.into(),
            c_expr: c_expr.into(),
            rust,
        });
    }

    /// A bit field of `c_type` (reached through `holder`, e.g. `.Flags` or empty) set to all
    /// ones in an otherwise zeroed object; the probe is the integer value of the holder.
    fn bits(&mut self, c_type: &str, holder: &str, field: &str, width: u32, rust: i64) {
        let n = self.list.len();
        let ones = if width == 64 {
            "~0ULL".to_owned()
        } else {
            format!("((1ULL << {width}) - 1ULL)")
        };
        writeln!(
            self.helpers,
            "static long long probe_{n}(void) {{\n    {c_type} x;\n    unsigned long long v = 0;\n    \
             memset(&x, 0, sizeof x);\n    x{holder}.{field} = {ones};\n    \
             memcpy(&v, &x{holder}, sizeof(x{holder}));\n    return (long long)v;\n}}"
        )
        .expect("write to String");
        self.push_i64(
            format!("{c_type}{holder}.{field} (all ones)"),
            format!("probe_{n}()"),
            rust,
        );
    }
}

/// The C path of a field: given explicitly, or the Rust path.
fn c_path(rust: &[&str], explicit: Option<&str>) -> String {
    explicit.map_or_else(|| rust.join("."), str::to_owned)
}

/// `sizeof`, `_Alignof` and `offsetof` of every listed field of a named C type.
macro_rules! ty {
    ($p:ident, $t:ident { $( $($rf:ident).+ $(=> $c:literal)? ),* $(,)? }) => {{
        let name = stringify!($t);
        $p.push(format!("sizeof({name})"), format!("sizeof({name})"), size_of::<ffi::$t>());
        $p.push(format!("alignof({name})"), format!("_Alignof({name})"), align_of::<ffi::$t>());
        $(
            let path = c_path(&[$(stringify!($rf)),+], None $(.or(Some($c)))?);
            $p.push(
                format!("offsetof({name}, {path})"),
                format!("offsetof({name}, {path})"),
                offset_of!(ffi::$t, $($rf).+),
            );
        )*
    }};
}

/// Size and field offsets (relative to the arm) of an unnamed C arm `$outer.$arm`, mirrored by
/// the Rust type `$t`.
macro_rules! arm {
    ($p:ident, $t:ident = $outer:literal . $arm:literal { $($f:ident),* $(,)? }) => {{
        let (outer, arm) = ($outer, $arm);
        $p.push(
            format!("sizeof({outer}.{arm})"),
            format!("sizeof((({outer} *)0)->{arm})"),
            size_of::<ffi::$t>(),
        );
        $(
            let field = stringify!($f);
            $p.push(
                format!("offsetof({outer}.{arm}, {field})"),
                format!("(offsetof({outer}, {arm}.{field}) - offsetof({outer}, {arm}))"),
                offset_of!(ffi::$t, $f),
            );
        )*
    }};
}

/// Values of enumerators and constants (`ffi::NAME.0` for enum newtypes, `ffi::NAME` otherwise).
macro_rules! values {
    ($p:ident, enum [$($name:ident),* $(,)?]) => {$(
        $p.push_i64(stringify!($name), format!("(long long)({})", stringify!($name)), i64::from(ffi::$name.0));
    )*};
    ($p:ident, const [$($name:ident),* $(,)?]) => {$(
        $p.push_i64(stringify!($name), format!("(long long)({})", stringify!($name)), i64::from(ffi::$name));
    )*};
}

/// `sizeof` of function pointer types (each an `Option<fn>` on the Rust side).
macro_rules! fn_pointers {
    ($p:ident, [$($name:ident),* $(,)?]) => {$(
        $p.push(concat!("sizeof(", stringify!($name), ")"), concat!("sizeof(", stringify!($name), ")"),
            size_of::<ffi::$name>());
    )*};
}

/// Bit fields of a `{ Value }` mirror: every field set to all ones on its own.
macro_rules! bits {
    ($p:ident, $t:ident as $c_type:literal $holder:literal [$($get:ident / $set:ident : $w:literal),* $(,)?]) => {$(
        let mut v = ffi::$t::default();
        v.$set(!0);
        assert_eq!(u64::from(v.$get()).count_ones(), $w, "getter of {}", stringify!($get));
        #[allow(clippy::cast_possible_wrap)]
        let value = v.Value as i64;
        $p.bits($c_type, $holder, stringify!($get), $w, value);
    )*};
}

fn probes() -> Probes {
    let mut p = Probes::default();

    // miracast_sim_wintypes.h
    ty!(
        p,
        GUID {
            Data1,
            Data2,
            Data3,
            Data4
        }
    );
    ty!(p, LARGE_INTEGER { QuadPart });
    ty!(p, IO_STATUS_BLOCK { u.Status => "Status", u.Pointer => "Pointer", Information });
    ty!(
        p,
        INTERFACE {
            Size,
            Version,
            Context,
            InterfaceReference,
            InterfaceDereference
        }
    );
    for (name, rust) in [
        ("UCHAR", size_of::<ffi::UCHAR>()),
        ("USHORT", size_of::<ffi::USHORT>()),
        ("UINT", size_of::<ffi::UINT>()),
        ("ULONG", size_of::<ffi::ULONG>()),
        ("LONG", size_of::<ffi::LONG>()),
        ("BOOL", size_of::<ffi::BOOL>()),
        ("BOOLEAN", size_of::<ffi::BOOLEAN>()),
        ("UINT64", size_of::<ffi::UINT64>()),
        ("ULONGLONG", size_of::<ffi::ULONGLONG>()),
        ("ULONG_PTR", size_of::<ffi::ULONG_PTR>()),
        ("SIZE_T", size_of::<ffi::SIZE_T>()),
        ("PVOID", size_of::<ffi::PVOID>()),
        ("HANDLE", size_of::<ffi::HANDLE>()),
        ("NTSTATUS", size_of::<ffi::NTSTATUS>()),
        ("SOCKET", size_of::<ffi::SOCKET>()),
        (
            "PINTERFACE_REFERENCE",
            size_of::<ffi::PINTERFACE_REFERENCE>(),
        ),
    ] {
        p.push(format!("sizeof({name})"), format!("sizeof({name})"), rust);
    }
    p.push_i64(
        "(SOCKET)-1 < 0",
        "(long long)((SOCKET)-1 < 0)",
        i64::from(ffi::SOCKET::MIN != 0),
    );

    // d3dukmdt.h
    ty!(p, DXGK_MIRACAST_CHUNK_TYPE {});
    ty!(p, DXGK_MIRACAST_CHUNK_ID { Value });
    ty!(
        p,
        DXGK_MIRACAST_CHUNK_INFO {
            ChunkType,
            ChunkId,
            ProcessingTime,
            EncodeRate
        }
    );
    values!(p, enum [
        DXGK_MIRACAST_CHUNK_TYPE_UNKNOWN,
        DXGK_MIRACAST_CHUNK_TYPE_COLOR_CONVERT_COMPLETE,
        DXGK_MIRACAST_CHUNK_TYPE_ENCODE_COMPLETE,
        DXGK_MIRACAST_CHUNK_TYPE_FRAME_START,
        DXGK_MIRACAST_CHUNK_TYPE_FRAME_DROPPED,
        DXGK_MIRACAST_CHUNK_TYPE_ENCODE_DRIVER_DEFINED_1,
        DXGK_MIRACAST_CHUNK_TYPE_ENCODE_DRIVER_DEFINED_2,
    ]);
    values!(p, const [DXGKDDI_INTERFACE_VERSION_WDDM1_3, DXGKDDI_INTERFACE_VERSION_WDDM2_0]);
    bits!(p, DXGK_MIRACAST_CHUNK_ID as "DXGK_MIRACAST_CHUNK_ID" "" [
        FrameNumber / set_FrameNumber: 40,
        PartNumber / set_PartNumber: 24,
    ]);
    {
        let mut id = ffi::DXGK_MIRACAST_CHUNK_ID::default();
        id.set_FrameNumber(101);
        id.set_PartNumber(1);
        let n = p.list.len();
        writeln!(
            p.helpers,
            "static long long probe_{n}(void) {{\n    DXGK_MIRACAST_CHUNK_ID id;\n    \
             memset(&id, 0, sizeof id);\n    id.FrameNumber = 101;\n    id.PartNumber = 1;\n    \
             return (long long)id.Value;\n}}"
        )
        .expect("write to String");
        p.push_i64(
            "DXGK_MIRACAST_CHUNK_ID{FrameNumber=101,PartNumber=1}.Value",
            format!("probe_{n}()"),
            i64::try_from(id.Value).expect("fits"),
        );
    }

    // d3dkmdt.h
    ty!(p, D3DKMDT_VIDEO_OUTPUT_TECHNOLOGY {});
    ty!(p, D3DKMDT_MONITOR_ORIENTATION_AWARENESS {});
    ty!(p, DXGK_CHILD_DEVICE_HPD_AWARENESS {});
    values!(p, enum [
        D3DKMDT_VOT_UNINITIALIZED, D3DKMDT_VOT_OTHER, D3DKMDT_VOT_HD15, D3DKMDT_VOT_SVIDEO,
        D3DKMDT_VOT_COMPOSITE_VIDEO, D3DKMDT_VOT_COMPONENT_VIDEO, D3DKMDT_VOT_DVI, D3DKMDT_VOT_HDMI,
        D3DKMDT_VOT_LVDS, D3DKMDT_VOT_D_JPN, D3DKMDT_VOT_SDI, D3DKMDT_VOT_DISPLAYPORT_EXTERNAL,
        D3DKMDT_VOT_DISPLAYPORT_EMBEDDED, D3DKMDT_VOT_UDI_EXTERNAL, D3DKMDT_VOT_UDI_EMBEDDED,
        D3DKMDT_VOT_SDTVDONGLE, D3DKMDT_VOT_MIRACAST, D3DKMDT_VOT_INDIRECT_WIRED, D3DKMDT_VOT_INTERNAL,
        D3DKMDT_MOA_UNINITIALIZED, D3DKMDT_MOA_NONE, D3DKMDT_MOA_POLLED, D3DKMDT_MOA_INTERRUPTIBLE,
        HpdAwarenessUninitialized, HpdAwarenessAlwaysConnected, HpdAwarenessNone, HpdAwarenessPolled,
        HpdAwarenessInterruptible,
    ]);

    // d3dkmddi.h
    ty!(p, DXGK_INTERRUPT_TYPE {});
    ty!(p, DXGKCB_NOTIFY_INTERRUPT_DATA_FLAGS { Value });
    ty!(p, DXGKARGCB_NOTIFY_INTERRUPT_DATA {
        InterruptType,
        u.DmaCompleted.SubmissionFenceId => "DmaCompleted.SubmissionFenceId",
        u.DmaCompleted.EngineOrdinal => "DmaCompleted.EngineOrdinal",
        u.DmaPreempted.EngineOrdinal => "DmaPreempted.EngineOrdinal",
        u.DmaFaulted.Status => "DmaFaulted.Status",
        u.DmaFaulted.EngineOrdinal => "DmaFaulted.EngineOrdinal",
        u.CrtcVsync.PhysicalAddress => "CrtcVsync.PhysicalAddress",
        u.CrtcVsync.PhysicalAdapterMask => "CrtcVsync.PhysicalAdapterMask",
        u.DisplayOnlyVsync.VidPnTargetId => "DisplayOnlyVsync.VidPnTargetId",
        u.CrtcVsyncWithMultiPlaneOverlay.pMultiPlaneOverlayVsyncInfo =>
            "CrtcVsyncWithMultiPlaneOverlay.pMultiPlaneOverlayVsyncInfo",
        u.MiracastEncodeChunkCompleted => "MiracastEncodeChunkCompleted",
        u.Reserved.Reserved => "Reserved.Reserved",
        Flags,
    });
    arm!(p, DXGKARGCB_NOTIFY_INTERRUPT_DATA_MiracastEncodeChunkCompleted =
        "DXGKARGCB_NOTIFY_INTERRUPT_DATA" . "MiracastEncodeChunkCompleted" {
        VidPnTargetId, ChunkInfo, pPrivateDriverData, PrivateDataDriverSize, Status,
    });
    arm!(p, DXGKARGCB_NOTIFY_INTERRUPT_DATA_CrtcVsync =
        "DXGKARGCB_NOTIFY_INTERRUPT_DATA" . "CrtcVsync" { VidPnTargetId, PhysicalAddress, PhysicalAdapterMask });
    arm!(p, DXGKARGCB_NOTIFY_INTERRUPT_DATA_CrtcVsyncWithMultiPlaneOverlay =
        "DXGKARGCB_NOTIFY_INTERRUPT_DATA" . "CrtcVsyncWithMultiPlaneOverlay" {
        VidPnTargetId, PhysicalAdapterMask, MultiPlaneOverlayVsyncInfoCount, pMultiPlaneOverlayVsyncInfo,
    });
    arm!(p, DXGKARGCB_NOTIFY_INTERRUPT_DATA_Reserved = "DXGKARGCB_NOTIFY_INTERRUPT_DATA" . "Reserved" { Reserved });
    values!(p, enum [
        DXGK_INTERRUPT_DMA_COMPLETED, DXGK_INTERRUPT_DMA_PREEMPTED, DXGK_INTERRUPT_CRTC_VSYNC,
        DXGK_INTERRUPT_DMA_FAULTED, DXGK_INTERRUPT_DISPLAYONLY_VSYNC,
        DXGK_INTERRUPT_DISPLAYONLY_PRESENT_PROGRESS, DXGK_INTERRUPT_CRTC_VSYNC_WITH_MULTIPLANE_OVERLAY,
        DXGK_INTERRUPT_MICACAST_CHUNK_PROCESSING_COMPLETE, DXGK_INTERRUPT_DMA_PAGE_FAULTED,
    ]);
    bits!(p, DXGKCB_NOTIFY_INTERRUPT_DATA_FLAGS as "DXGKCB_NOTIFY_INTERRUPT_DATA_FLAGS" "" [
        ValidPhysicalAdapterMask / set_ValidPhysicalAdapterMask: 1,
        HsyncFlipCompletion / set_HsyncFlipCompletion: 1,
        Reserved / set_Reserved: 30,
    ]);
    ty!(p, DXGK_CREATECONTEXTFLAGS { Value });
    bits!(p, DXGK_CREATECONTEXTFLAGS as "DXGK_CREATECONTEXTFLAGS" "" [
        SystemContext / set_SystemContext: 1,
        GdiContext / set_GdiContext: 1,
        VirtualAddressing / set_VirtualAddressing: 1,
        SystemProtectedContext / set_SystemProtectedContext: 1,
        HwQueueSupported / set_HwQueueSupported: 1,
        Reserved / set_Reserved: 27,
    ]);
    ty!(p, DXGK_CONTEXTINFO_CAPS { Value });
    bits!(p, DXGK_CONTEXTINFO_CAPS as "DXGK_CONTEXTINFO_CAPS" "" [
        NoPatchingRequired / set_NoPatchingRequired: 1,
        DriverManagesResidency / set_DriverManagesResidency: 1,
        UseIoMmu / set_UseIoMmu: 1,
        Reserved / set_Reserved: 29,
    ]);
    ty!(
        p,
        DXGK_CONTEXTINFO {
            DmaBufferSize,
            DmaBufferSegmentSet,
            DmaBufferPrivateDataSize,
            AllocationListSize,
            PatchLocationListSize,
            Reserved,
            Caps,
            PagingCompanionNodeId,
        }
    );
    ty!(
        p,
        DXGKARG_CREATECONTEXT {
            hContext,
            NodeOrdinal,
            EngineAffinity,
            Flags,
            pPrivateDriverData,
            PrivateDriverDataSize,
            ContextInfo,
        }
    );
    ty!(p, DXGKARG_COMMITVIDPN_FLAGS {});
    bits!(p, DXGKARG_COMMITVIDPN_FLAGS as "DXGKARG_COMMITVIDPN_FLAGS" "" [
        PathPowerTransition / set_PathPowerTransition: 1,
        PathPoweredOff / set_PathPoweredOff: 1,
        Reserved / set_Reserved: 30,
    ]);

    // dispmprt.h
    ty!(
        p,
        QUERY_INTERFACE {
            InterfaceType,
            Size,
            Version,
            Interface,
            InterfaceSpecificData
        }
    );
    ty!(
        p,
        DXGK_VIDEO_OUTPUT_CAPABILITIES {
            InterfaceTechnology,
            MonitorOrientationAwareness,
            SupportsSdtvModes
        }
    );
    ty!(
        p,
        DXGK_INTEGRATED_DISPLAY_CHILD {
            InterfaceTechnology,
            DescriptorLength
        }
    );
    ty!(p, DXGK_CHILD_CAPABILITIES {
        Type.VideoOutput.SupportsSdtvModes,
        Type.Other.MustBeZero,
        Type.IntegratedDisplayChild.DescriptorLength,
        HpdAwareness,
    });
    ty!(p, DXGK_CHILD_DEVICE_TYPE {});
    ty!(
        p,
        DXGK_CHILD_DESCRIPTOR {
            ChildDeviceType,
            ChildCapabilities,
            AcpiUid,
            ChildUid
        }
    );
    ty!(
        p,
        DXGK_DEVICE_DESCRIPTOR {
            DescriptorOffset,
            DescriptorLength,
            DescriptorBuffer
        }
    );
    ty!(p, DXGK_CHILD_STATUS_TYPE {});
    ty!(p, DXGK_CHILD_STATUS {
        Type,
        ChildUid,
        u.HotPlug.Connected => "HotPlug.Connected",
        u.Rotation.Angle => "Rotation.Angle",
        u.Miracast.Connected => "Miracast.Connected",
        u.Miracast.MiracastMonitorType => "Miracast.MiracastMonitorType",
    });
    values!(p, enum [
        TypeUninitialized, TypeVideoOutput, TypeOther, TypeIntegratedDisplay,
        StatusUninitialized, StatusConnection, StatusRotation, StatusMiracastConnection,
    ]);
    ty!(
        p,
        DXGK_MIRACAST_CAPS {
            MaxChunkPrivateDriverDataSize,
            Flags
        }
    );
    bits!(p, DXGK_MIRACAST_CAPS_FLAGS as "DXGK_MIRACAST_CAPS" ".Flags" [
        HdcpSupport / set_HdcpSupport: 1,
        Reserved / set_Reserved: 31,
    ]);
    ty!(
        p,
        DXGK_MIRACAST_DISPLAY_CALLBACKS {
            MiracastHandle,
            DxgkCbMiracastSendMessage,
            DxgkCbReportChunkInfo
        }
    );
    ty!(
        p,
        DXGK_MIRACAST_DISPLAY_INTERFACE {
            Size,
            Version,
            Context,
            InterfaceReference,
            InterfaceDereference,
            DxgkDdiMiracastQueryCaps,
            DxgkDdiMiracastCreateContext,
            DxgkDdiMiracastIoControl,
            DxgkDdiMiracastDestroyContext,
        }
    );
    values!(p, const [DXGK_MIRACAST_DISPLAY_INTERFACE_VERSION_1]);
    {
        let g = ffi::GUID_DEVINTERFACE_MIRACAST_DISPLAY;
        p.push_i64(
            "GUID_DEVINTERFACE_MIRACAST_DISPLAY.Data1",
            "(long long)GUID_DEVINTERFACE_MIRACAST_DISPLAY.Data1",
            i64::from(g.Data1),
        );
        p.push_i64(
            "GUID_DEVINTERFACE_MIRACAST_DISPLAY.Data2",
            "(long long)GUID_DEVINTERFACE_MIRACAST_DISPLAY.Data2",
            i64::from(g.Data2),
        );
        p.push_i64(
            "GUID_DEVINTERFACE_MIRACAST_DISPLAY.Data3",
            "(long long)GUID_DEVINTERFACE_MIRACAST_DISPLAY.Data3",
            i64::from(g.Data3),
        );
        for (i, b) in g.Data4.iter().enumerate() {
            p.push_i64(
                format!("GUID_DEVINTERFACE_MIRACAST_DISPLAY.Data4[{i}]"),
                format!("(long long)GUID_DEVINTERFACE_MIRACAST_DISPLAY.Data4[{i}]"),
                i64::from(*b),
            );
        }
    }

    // netdispumdddi.h
    fn_pointers!(
        p,
        [
            QUERY_MIRACAST_DRIVER_INTERFACE,
            PFN_REPORT_SESSION_STATUS,
            PFN_MIRACAST_IO_CONTROL,
            PFN_REPORT_STATISTIC,
            PFN_GET_NEXT_CHUNK_DATA,
            PFN_DATARATE_NOTIFICATION,
            PFN_REGISTER_DATARATE_NOTIFICATIONS,
            PFN_CREATE_MIRACAST_CONTEXT,
            PFN_DESTROY_MIRACAST_CONTEXT,
            PFN_START_MIRACAST_SESSION,
            PFN_STOP_MIRACAST_SESSION,
            PFN_HANDLE_KMD_MESSAGE,
            DXGKDDI_MIRACAST_QUERY_CAPS,
            DXGKCB_MIRACAST_SEND_MESSAGE_CALLBACK,
            DXGKCB_MIRACAST_SEND_MESSAGE,
            DXGKCB_MIRACAST_REPORT_CHUNK_INFO,
            DXGKDDI_MIRACAST_CREATE_CONTEXT,
            DXGKDDI_MIRACAST_HANDLE_IO_CONTROL,
            DXGKDDI_MIRACAST_DESTROY_CONTEXT,
            DXGKCB_INDICATE_CHILD_STATUS,
            DXGKCB_QUEUE_DPC,
            DXGKCB_NOTIFY_INTERRUPT,
            DXGKCB_NOTIFY_DPC,
            PDXGKDDI_QUERY_INTERFACE,
            PDXGKDDI_QUERY_CHILD_RELATIONS,
            PDXGKDDI_QUERY_CHILD_STATUS,
            PDXGKDDI_QUERY_DEVICE_DESCRIPTOR,
            PDXGKDDI_REMOVE_DEVICE,
            PDXGKDDI_INTERRUPT_ROUTINE,
            PDXGKDDI_DPC_ROUTINE,
            PDXGKDDI_CREATECONTEXT,
            PDXGKDDI_DESTROYCONTEXT,
            PMIRACAST_SIM_DXGKDDI_START_DEVICE,
            PMIRACAST_SIM_DXGKDDI_COMMITVIDPN,
            PFN_MIRACAST_SIM_KMD_ENTRY,
        ]
    );
    ty!(p, MIRACAST_STATUS {});
    ty!(p, MIRACAST_PROTOCOL_EVENT {});
    ty!(p, MIRACAST_STATISTIC_TYPE {});
    ty!(p, MIRACAST_CHUNK_TYPE {});
    ty!(p, MIRACAST_CHUNK_ID { Value });
    bits!(p, MIRACAST_CHUNK_ID as "MIRACAST_CHUNK_ID" "" [
        FrameNumber / set_FrameNumber: 40,
        PartNumber / set_PartNumber: 24,
    ]);
    ty!(
        p,
        MIRACAST_CHUNK_INFO {
            ChunkType,
            ChunkId,
            ProcessingTime,
            EncodeRate
        }
    );
    ty!(p, MIRACAST_STATISTIC_DATA {
        StatisticType,
        u.EncodeComplete => "EncodeComplete",
        u.EncodeComplete.ChunkInfo.EncodeRate => "EncodeComplete.ChunkInfo.EncodeRate",
        u.ChunkSent.ChunkId => "ChunkSent.ChunkId",
        u.ProtocolEvent.Event => "ProtocolEvent.Event",
    });
    ty!(
        p,
        MIRACAST_CHUNK_DATA {
            ChunkInfo,
            PrivateDriverDataSize,
            PrivateDriverData
        }
    );
    ty!(
        p,
        MIRACAST_DATARATE_STATS {
            EncoderBitRate,
            CurrentMaxTxDataRate,
            TransmittedFrameCount,
            FailedFrameCount,
            RetriedFrameCount,
            MultipleRetryFrameCount,
        }
    );
    ty!(
        p,
        MIRACAST_CALLBACKS {
            ReportSessionStatus,
            MiracastIoControl,
            ReportStatistic,
            GetNextChunkData,
            RegisterForDataRateNotifications,
        }
    );
    ty!(p, MIRACAST_SESSION_INFO { Value });
    bits!(p, MIRACAST_SESSION_INFO as "MIRACAST_SESSION_INFO" "" [
        MonitorConnected / set_MonitorConnected: 1,
        ReducedModeListDueToBandwidth / set_ReducedModeListDueToBandwidth: 1,
        Reserved / set_Reserved: 30,
    ]);
    ty!(
        p,
        MIRACAST_WFD_CONNECTION_STATS {
            CurrentBitRate,
            LocalMaxBitRate,
            RemoteMaxBitRate
        }
    );
    ty!(
        p,
        MIRACAST_DRIVER_INTERFACE {
            Size,
            CreateMiracastContext,
            DestroyMiracastContext,
            StartMiracastSession,
            StopMiracastSession,
            HandleKernelModeMessage,
        }
    );
    values!(p, enum [
        MIRACAST_STATUS_CRITICAL_ERROR, MIRACAST_STATUS_MISSING_KEEPALIVE,
        MIRACAST_STATUS_SINK_DISOCNNECT_REQUEST, MIRACAST_STATUS_INSUFFICIENT_BANDWIDTH,
        MIRACAST_STATUS_SINK_FAILED_STANDARD_MODE_CHANGE, MIRACAST_STATUS_COMPANION_DRIVER_DISCONNECT,
        MIRACAST_STATUS_FORCE_UINT32,
        MIRACAST_PROTOCOL_EVENT_IFRAME_RQ, MIRACAST_PROTOCOL_EVENT_MONITOR_ARRIVE,
        MIRACAST_PROTOCOL_EVENT_MONITOR_DEPART, MIRACAST_PROTOCOL_EVENT_SINK_FAILED_PREFERRED_MODE_CHANGE,
        MIRACAST_PROTOCOL_EVENT_FORCE_UINT32,
        MIRACAST_STATISTIC_TYPE_CHUNK_PROCESSING_COMPLETE, MIRACAST_STATISTIC_TYPE_CHUNK_SENT,
        MIRACAST_STATISTIC_TYPE_EVENT, MIRACAST_STATISTIC_TYPE_FORCE_UINT32,
        MIRACAST_CHUNK_TYPE_UNKNOWN, MIRACAST_CHUNK_TYPE_COLOR_CONVERT_COMPLETE,
        MIRACAST_CHUNK_TYPE_ENCODE_COMPLETE, MIRACAST_CHUNK_TYPE_FRAME_START, MIRACAST_CHUNK_TYPE_FRAME_DROPPED,
        MIRACAST_CHUNK_TYPE_ENCODE_DRIVER_DEFINED_1, MIRACAST_CHUNK_TYPE_ENCODE_DRIVER_DEFINED_2,
        MIRACAST_CHUNK_TYPE_ENCODE_FORCE_UINT32,
    ]);
    values!(p, const [MIRACAST_DRIVER_INTERFACE_VERSION_1, MAX_ADDITIONAL_EVENTS]);

    // miracast_sim_kmd.h
    ty!(
        p,
        MIRACAST_SIM_KMD_OS_INTERFACE {
            Size,
            Version,
            DeviceHandle,
            DxgkCbIndicateChildStatus,
            DxgkCbNotifyInterrupt,
            DxgkCbNotifyDpc,
            DxgkCbQueueDpc,
        }
    );
    ty!(
        p,
        MIRACAST_SIM_DXGKARG_COMMITVIDPN {
            AffectedVidPnSourceId,
            VidPnTargetId,
            Flags
        }
    );
    ty!(
        p,
        MIRACAST_SIM_KMD_DRIVER_INTERFACE {
            Size,
            Version,
            DxgkDdiInterfaceVersion,
            Reserved,
            MiniportDeviceContext,
            DxgkDdiStartDevice,
            DxgkDdiRemoveDevice,
            DxgkDdiQueryInterface,
            DxgkDdiQueryChildRelations,
            DxgkDdiQueryChildStatus,
            DxgkDdiQueryDeviceDescriptor,
            DxgkDdiCommitVidPn,
            DxgkDdiCreateContext,
            DxgkDdiDestroyContext,
            DxgkDdiInterruptRoutine,
            DxgkDdiDpcRoutine,
        }
    );
    ty!(
        p,
        MIRACAST_SIM_KMD_TEST_REQUEST {
            Size,
            Type,
            Value,
            InputBufferSize,
            pInputBuffer,
            OutputBufferSize,
            Reserved,
        }
    );
    values!(p, const [MIRACAST_SIM_KMD_INTERFACE_VERSION_1]);
    values!(p, const [MiracastSimKmdTestSendMessage, MiracastSimKmdTestEncoderBusy]);

    // miracast_sim_ntstatus.h against the crate's NtStatus constants.
    for (name, status) in [
        ("STATUS_SUCCESS", NtStatus::STATUS_SUCCESS),
        ("STATUS_WAIT_0", NtStatus::STATUS_SUCCESS),
        ("STATUS_WAIT_1", NtStatus::STATUS_WAIT_1),
        ("STATUS_WAIT_2", NtStatus::STATUS_WAIT_2),
        ("STATUS_WAIT_3", NtStatus::STATUS_WAIT_3),
        ("STATUS_TIMEOUT", NtStatus::STATUS_TIMEOUT),
        ("STATUS_PENDING", NtStatus::STATUS_PENDING),
        (
            "STATUS_GRAPHICS_DRIVER_MISMATCH",
            NtStatus::STATUS_GRAPHICS_DRIVER_MISMATCH,
        ),
        ("STATUS_BUFFER_OVERFLOW", NtStatus::STATUS_BUFFER_OVERFLOW),
        ("STATUS_UNSUCCESSFUL", NtStatus::STATUS_UNSUCCESSFUL),
        ("STATUS_NOT_IMPLEMENTED", NtStatus::STATUS_NOT_IMPLEMENTED),
        ("STATUS_INVALID_HANDLE", NtStatus::STATUS_INVALID_HANDLE),
        (
            "STATUS_INVALID_PARAMETER",
            NtStatus::STATUS_INVALID_PARAMETER,
        ),
        ("STATUS_NO_MEMORY", NtStatus::STATUS_NO_MEMORY),
        ("STATUS_BUFFER_TOO_SMALL", NtStatus::STATUS_BUFFER_TOO_SMALL),
        (
            "STATUS_INSUFFICIENT_RESOURCES",
            NtStatus::STATUS_INSUFFICIENT_RESOURCES,
        ),
        (
            "STATUS_INSTANCE_NOT_AVAILABLE",
            NtStatus::STATUS_INSTANCE_NOT_AVAILABLE,
        ),
        ("STATUS_NOT_SUPPORTED", NtStatus::STATUS_NOT_SUPPORTED),
        ("STATUS_CANCELLED", NtStatus::STATUS_CANCELLED),
        (
            "STATUS_INVALID_DEVICE_STATE",
            NtStatus::STATUS_INVALID_DEVICE_STATE,
        ),
        ("STATUS_CONNECTION_RESET", NtStatus::STATUS_CONNECTION_RESET),
        (
            "STATUS_DEVICE_INSUFFICIENT_RESOURCES",
            NtStatus::STATUS_DEVICE_INSUFFICIENT_RESOURCES,
        ),
        ("STATUS_RESOURCE_IN_USE", NtStatus::STATUS_RESOURCE_IN_USE),
    ] {
        p.push_i64(name, format!("(long long){name}"), i64::from(status.0));
    }
    p
}

// ---- Running the C compiler ------------------------------------------------------------------

fn include_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("include")
}

/// The headers a driver may include, each of which must compile on its own.
const HEADERS: &[&str] = &[
    "miracast_sim_wintypes.h",
    "miracast_sim_ntstatus.h",
    "d3dukmdt.h",
    "d3dkmdt.h",
    "d3dkmddi.h",
    "dispmprt.h",
    "netdispumdddi.h",
    "miracast_sim_kmd.h",
    "initguid.h",
];

/// `$VAR` split on whitespace (so `CC="ccache gcc"` works), else `default`.
fn tool(var: &str, default: &str) -> Vec<OsString> {
    match std::env::var(var) {
        Ok(v) if !v.trim().is_empty() => v.split_whitespace().map(OsString::from).collect(),
        _ => vec![OsString::from(default)],
    }
}

fn runs(cmd: &[OsString]) -> bool {
    Command::new(&cmd[0])
        .args(&cmd[1..])
        .arg("--version")
        .output()
        .is_ok()
}

/// The C compiler; its absence is a test failure.
fn c_compiler() -> Vec<OsString> {
    let cc = tool("CC", "cc");
    assert!(
        runs(&cc),
        "no C compiler: `{}` could not be run. The layout test needs one; set CC or install the \
         Debian package `gcc` (apt-get install gcc)",
        cc[0].to_string_lossy()
    );
    cc
}

/// The C++ compiler, or `None` (with a note) when there is none.
fn cxx_compiler() -> Option<Vec<OsString>> {
    let cxx = tool("CXX", "c++");
    if runs(&cxx) {
        Some(cxx)
    } else {
        eprintln!(
            "note: no C++ compiler (`{}`); skipping the C++ checks (Debian package `g++`)",
            cxx[0].to_string_lossy()
        );
        None
    }
}

/// Runs `compiler flags... -I include -c src -o obj`, failing the test with the compiler output.
fn compile(compiler: &[OsString], flags: &[&str], src: &Path, out: &Path, what: &str) {
    let output = Command::new(&compiler[0])
        .args(&compiler[1..])
        .args(flags)
        .arg("-I")
        .arg(include_dir())
        .arg(src)
        .arg("-o")
        .arg(out)
        .output()
        .expect("run the compiler");
    assert!(
        output.status.success(),
        "{what}: `{} {}` failed\n--- stdout ---\n{}\n--- stderr ---\n{}",
        compiler[0].to_string_lossy(),
        flags.join(" "),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
}

const STRICT_C11: &[&str] = &["-std=c11", "-Wall", "-Wextra", "-Werror", "-c"];
const STRICT_C99: &[&str] = &["-std=c99", "-Wall", "-Wextra", "-Werror", "-c"];
const STRICT_CXX17: &[&str] = &[
    "-x",
    "c++",
    "-std=c++17",
    "-Wall",
    "-Wextra",
    "-Werror",
    "-c",
];

// ---- The tests ------------------------------------------------------------------------------

#[test]
fn layout_matches_c_and_documented_x64() {
    let cc = c_compiler();
    let probes = probes();
    let dir = tempfile::tempdir().expect("temp dir");

    let mut src = String::from(
        "#include <stdio.h>\n#include <stddef.h>\n#include <string.h>\n#include \"initguid.h\"\n\
         #include \"netdispumdddi.h\"\n#include \"dispmprt.h\"\n#include \"miracast_sim_kmd.h\"\n\n",
    );
    src.push_str(&probes.helpers);
    src.push_str("\nint main(void) {\n");
    for probe in &probes.list {
        writeln!(
            src,
            "    printf(\"%lld\\n\", (long long)({}));",
            probe.c_expr
        )
        .expect("write to String");
    }
    src.push_str("    return 0;\n}\n");

    let c_file = dir.path().join("layout.c");
    let exe = dir.path().join("layout");
    std::fs::write(&c_file, &src).expect("write layout.c");
    let build = Command::new(&cc[0])
        .args(&cc[1..])
        .args(["-std=c11", "-Wall"])
        .arg("-I")
        .arg(include_dir())
        .arg(&c_file)
        .arg("-o")
        .arg(&exe)
        .output()
        .expect("run the C compiler");
    assert!(
        build.status.success(),
        "the layout probe did not compile:\n{}\n--- program ---\n{src}",
        String::from_utf8_lossy(&build.stderr)
    );
    let run = Command::new(&exe).output().expect("run the layout probe");
    assert!(run.status.success(), "the layout probe failed: {run:?}");
    let stdout = String::from_utf8(run.stdout).expect("utf-8 output");
    let c_values: Vec<i64> = stdout
        .lines()
        .map(|line| line.trim().parse().expect("a number per line"))
        .collect();
    assert_eq!(c_values.len(), probes.list.len(), "one line per probe");

    let mut mismatches = Vec::new();
    for (probe, c) in probes.list.iter().zip(&c_values) {
        if probe.rust != *c {
            mismatches.push(format!(
                "{:<80} C {:>12}  Rust {:>12}",
                probe.label, c, probe.rust
            ));
        }
    }
    assert!(
        mismatches.is_empty(),
        "C and Rust disagree:\n{}",
        mismatches.join("\n")
    );

    if cfg!(target_arch = "x86_64") {
        for (table, source) in [
            (X64_DOCUMENTED, "fact sheet"),
            (X64_DESIGNED, "miracast_sim_kmd.h design"),
        ] {
            for (label, expected) in table {
                let probe = probes
                    .list
                    .iter()
                    .position(|p| p.label == *label)
                    .unwrap_or_else(|| panic!("no probe for the {source} entry `{label}`"));
                let (c, rust) = (c_values[probe], probes.list[probe].rust);
                assert!(
                    c == *expected && rust == *expected,
                    "{label}: {source} says {expected}, C gives {c}, Rust gives {rust}"
                );
            }
        }
    } else {
        eprintln!("note: not x86_64; compared Rust with C only, not with the documented x64 table");
    }
}

#[test]
fn each_header_compiles_alone() {
    let cc = c_compiler();
    let cxx = cxx_compiler();
    let dir = tempfile::tempdir().expect("temp dir");
    for header in HEADERS {
        let src = dir
            .path()
            .join(format!("only_{}.c", header.trim_end_matches(".h")));
        std::fs::write(
            &src,
            format!("#include \"{header}\"\nint miracast_sim_unit_is_not_empty;\n"),
        )
        .expect("write source");
        let obj = dir.path().join("only.o");
        compile(&cc, STRICT_C11, &src, &obj, &format!("{header} as C11"));
        compile(&cc, STRICT_C99, &src, &obj, &format!("{header} as C99"));
        if let Some(cxx) = &cxx {
            compile(cxx, STRICT_CXX17, &src, &obj, &format!("{header} as C++17"));
        }
    }
}

/// A UMD and a KMD in one file, written the way driver sources use these headers.
const DRIVER_LIKE: &str = r#"
#include <initguid.h>
#include <netdispumdddi.h>
#include <dispmprt.h>
#include <miracast_sim_kmd.h>

#ifdef __cplusplus
#define DRIVER_EXTERN_C extern "C"
#else
#define DRIVER_EXTERN_C
#endif

/* ---- UMD ---- */

typedef struct {
    HANDLE Device;
    MIRACAST_CALLBACKS Callbacks;
    SOCKET Rtsp;
    MIRACAST_SESSION_INFO Info;
} UMD_CONTEXT;

static UMD_CONTEXT g_umd;

static NTSTATUS NTAPI UmdCreate(HANDLE hMiracastDeviceHandle, MIRACAST_CALLBACKS *pMiracastCallbacks,
                                PVOID *ppMiracastContext) {
    g_umd.Device = hMiracastDeviceHandle;
    g_umd.Callbacks = *pMiracastCallbacks;
    *ppMiracastContext = &g_umd;
    return STATUS_SUCCESS;
}

static VOID NTAPI UmdDestroy(PVOID pMiracastContext) { (void)pMiracastContext; }

static NTSTATUS NTAPI UmdStart(PVOID pMiracastContext, SOCKET MiracastRTSPSocket,
                               MIRACAST_WFD_CONNECTION_STATS *pWfdConnectionStats,
                               MIRACAST_SESSION_INFO *pSessionInfo) {
    UMD_CONTEXT *ctx = (UMD_CONTEXT *)pMiracastContext;
    ctx->Rtsp = MiracastRTSPSocket;
    if (pWfdConnectionStats->CurrentBitRate < 1000000ULL) {
        return STATUS_DEVICE_INSUFFICIENT_RESOURCES;
    }
    pSessionInfo->Value = 0;
    pSessionInfo->MonitorConnected = 1;
    ctx->Info = *pSessionInfo;
    return STATUS_SUCCESS;
}

static VOID NTAPI UmdStop(PVOID pMiracastContext) {
    UMD_CONTEXT *ctx = (UMD_CONTEXT *)pMiracastContext;
    MIRACAST_STATISTIC_DATA stat;
    memset(&stat, 0, sizeof stat);
    stat.StatisticType = MIRACAST_STATISTIC_TYPE_EVENT;
    stat.ProtocolEvent.Event = MIRACAST_PROTOCOL_EVENT_MONITOR_DEPART;
    if (ctx->Callbacks.ReportStatistic) {
        ctx->Callbacks.ReportStatistic(ctx->Device, &stat);
    }
}

static NTSTATUS NTAPI UmdHandleKmdMessage(PVOID pMiracastContext, UINT InputBufferSize, VOID *pInputBuffer,
                                          UINT OutputBufferSize, VOID *pOutputBuffer, UINT *pBytesReturned) {
    UMD_CONTEXT *ctx = (UMD_CONTEXT *)pMiracastContext;
    UCHAR chunks[256];
    UINT size = sizeof chunks;
    UINT outstanding = 0;
    (void)InputBufferSize;
    (void)pInputBuffer;
    (void)OutputBufferSize;
    (void)pOutputBuffer;
    *pBytesReturned = 0;
    if (ctx->Callbacks.GetNextChunkData) {
        NTSTATUS status = ctx->Callbacks.GetNextChunkData(ctx->Device, 0, 0, NULL, &size,
                                                          (MIRACAST_CHUNK_DATA *)chunks, &outstanding);
        if (status == STATUS_CONNECTION_RESET) {
            ctx->Callbacks.ReportSessionStatus(ctx->Device, MIRACAST_STATUS_SINK_DISOCNNECT_REQUEST, status);
        }
    }
    return STATUS_SUCCESS;
}

DRIVER_EXTERN_C MIRACAST_SIM_UMD_EXPORT NTSTATUS NTAPI QueryMiracastDriverInterface(
    UINT MiracastDriverInterfaceVersion, UINT MiracastDriverInterfaceSize, VOID *pMiracastDriverInterface) {
    MIRACAST_DRIVER_INTERFACE *iface = (MIRACAST_DRIVER_INTERFACE *)pMiracastDriverInterface;
    if (MiracastDriverInterfaceVersion != MIRACAST_DRIVER_INTERFACE_VERSION_1) {
        return STATUS_NOT_SUPPORTED;
    }
    if (MiracastDriverInterfaceSize < sizeof(MIRACAST_DRIVER_INTERFACE)) {
        return STATUS_BUFFER_TOO_SMALL;
    }
    iface->Size = sizeof(MIRACAST_DRIVER_INTERFACE);
    iface->CreateMiracastContext = UmdCreate;
    iface->DestroyMiracastContext = UmdDestroy;
    iface->StartMiracastSession = UmdStart;
    iface->StopMiracastSession = UmdStop;
    iface->HandleKernelModeMessage = UmdHandleKmdMessage;
    return STATUS_SUCCESS;
}

/* ---- KMD ---- */

typedef struct {
    MIRACAST_SIM_KMD_OS_INTERFACE Os;
    DXGK_MIRACAST_DISPLAY_CALLBACKS Miracast;
    ULONG MiracastTarget;
    DXGK_MIRACAST_CHUNK_ID NextChunk;
} ADAPTER;

static ADAPTER g_adapter;

static VOID NTAPI KmdReference(PVOID Context) { (void)Context; }
static VOID NTAPI KmdDereference(PVOID Context) { (void)Context; }

static NTSTATUS APIENTRY KmdQueryCaps(PVOID DriverContext, ULONG MiracastCapsSize, DXGK_MIRACAST_CAPS *MiracastCaps) {
    (void)DriverContext;
    if (MiracastCapsSize < sizeof(DXGK_MIRACAST_CAPS)) {
        return STATUS_INVALID_PARAMETER;
    }
    MiracastCaps->MaxChunkPrivateDriverDataSize = 64;
    MiracastCaps->Flags.Value = 0;
    MiracastCaps->Flags.HdcpSupport = 1;
    return STATUS_SUCCESS;
}

static VOID APIENTRY KmdMessageDone(PVOID CallbackContext, PIO_STATUS_BLOCK pIoStatusBlock) {
    (void)CallbackContext;
    (void)pIoStatusBlock->Status;
    (void)pIoStatusBlock->Information;
}

static NTSTATUS APIENTRY KmdMiracastCreate(PVOID DriverContext, DXGK_MIRACAST_DISPLAY_CALLBACKS *MiracastCallbacks,
                                           PVOID *MiracastContext, ULONG *TargetId) {
    ADAPTER *adapter = (ADAPTER *)DriverContext;
    adapter->Miracast = *MiracastCallbacks;
    *MiracastContext = adapter;
    *TargetId = adapter->MiracastTarget;
    return STATUS_SUCCESS;
}

static NTSTATUS APIENTRY KmdMiracastIoControl(PVOID DriverContext, PVOID MiracastContext, ULONG InputBufferSize,
                                              VOID *pInputBuffer, ULONG OutputBufferSize, VOID *pOutputBuffer,
                                              ULONG *BytesReturned) {
    ADAPTER *adapter = (ADAPTER *)DriverContext;
    DXGK_CHILD_STATUS status;
    (void)MiracastContext;
    (void)pInputBuffer;
    (void)OutputBufferSize;
    (void)pOutputBuffer;
    *BytesReturned = 0;
    if (InputBufferSize == 0) {
        return STATUS_INVALID_PARAMETER;
    }
    memset(&status, 0, sizeof status);
    status.Type = StatusMiracastConnection;
    status.ChildUid = adapter->MiracastTarget;
    status.Miracast.Connected = TRUE;
    status.Miracast.MiracastMonitorType = D3DKMDT_VOT_HDMI;
    return adapter->Os.DxgkCbIndicateChildStatus(adapter->Os.DeviceHandle, &status);
}

static VOID APIENTRY KmdMiracastDestroy(PVOID DriverContext, PVOID MiracastContext) {
    ADAPTER *adapter = (ADAPTER *)DriverContext;
    DXGK_CHILD_STATUS status;
    (void)MiracastContext;
    memset(&status, 0, sizeof status);
    status.Type = StatusMiracastConnection;
    status.ChildUid = adapter->MiracastTarget;
    status.Miracast.Connected = FALSE;
    status.Miracast.MiracastMonitorType = D3DKMDT_VOT_MIRACAST;
    (void)adapter->Os.DxgkCbIndicateChildStatus(adapter->Os.DeviceHandle, &status);
}

static DXGKDDI_QUERY_INTERFACE KmdQueryInterface;
NTSTATUS APIENTRY KmdQueryInterface(CONST PVOID MiniportDeviceContext, PQUERY_INTERFACE QueryInterface) {
    DXGK_MIRACAST_DISPLAY_INTERFACE *iface;
    if (!IsEqualGUID(*QueryInterface->InterfaceType, GUID_DEVINTERFACE_MIRACAST_DISPLAY)) {
        return STATUS_NOT_SUPPORTED;
    }
    if (QueryInterface->Size < sizeof(DXGK_MIRACAST_DISPLAY_INTERFACE)) {
        return STATUS_BUFFER_TOO_SMALL;
    }
    iface = (DXGK_MIRACAST_DISPLAY_INTERFACE *)QueryInterface->Interface;
    iface->Size = sizeof(DXGK_MIRACAST_DISPLAY_INTERFACE);
    iface->Version = DXGK_MIRACAST_DISPLAY_INTERFACE_VERSION_1;
    iface->Context = MiniportDeviceContext;
    iface->InterfaceReference = KmdReference;
    iface->InterfaceDereference = KmdDereference;
    iface->DxgkDdiMiracastQueryCaps = KmdQueryCaps;
    iface->DxgkDdiMiracastCreateContext = KmdMiracastCreate;
    iface->DxgkDdiMiracastIoControl = KmdMiracastIoControl;
    iface->DxgkDdiMiracastDestroyContext = KmdMiracastDestroy;
    return STATUS_SUCCESS;
}

static DXGKDDI_QUERY_CHILD_RELATIONS KmdQueryChildRelations;
NTSTATUS APIENTRY KmdQueryChildRelations(CONST PVOID MiniportDeviceContext, PDXGK_CHILD_DESCRIPTOR ChildRelations,
                                         ULONG ChildRelationsSize) {
    ADAPTER *adapter = (ADAPTER *)MiniportDeviceContext;
    if (ChildRelationsSize < 2 * sizeof(DXGK_CHILD_DESCRIPTOR)) {
        return STATUS_BUFFER_TOO_SMALL;
    }
    ChildRelations[0].ChildDeviceType = TypeVideoOutput;
    ChildRelations[0].ChildCapabilities.Type.VideoOutput.InterfaceTechnology = D3DKMDT_VOT_MIRACAST;
    ChildRelations[0].ChildCapabilities.Type.VideoOutput.MonitorOrientationAwareness = D3DKMDT_MOA_NONE;
    ChildRelations[0].ChildCapabilities.Type.VideoOutput.SupportsSdtvModes = FALSE;
    ChildRelations[0].ChildCapabilities.HpdAwareness = HpdAwarenessInterruptible;
    ChildRelations[0].AcpiUid = 0;
    ChildRelations[0].ChildUid = adapter->MiracastTarget;
    return STATUS_SUCCESS;
}

static DXGKDDI_QUERY_CHILD_STATUS KmdQueryChildStatus;
NTSTATUS APIENTRY KmdQueryChildStatus(CONST PVOID MiniportDeviceContext, PDXGK_CHILD_STATUS ChildStatus,
                                      BOOLEAN NonDestructiveOnly) {
    (void)MiniportDeviceContext;
    (void)NonDestructiveOnly;
    if (ChildStatus->Type == StatusMiracastConnection) {
        ChildStatus->Miracast.Connected = FALSE;
        ChildStatus->Miracast.MiracastMonitorType = D3DKMDT_VOT_MIRACAST;
        return STATUS_SUCCESS;
    }
    return STATUS_NOT_SUPPORTED;
}

static DXGKDDI_QUERY_DEVICE_DESCRIPTOR KmdQueryDeviceDescriptor;
NTSTATUS APIENTRY KmdQueryDeviceDescriptor(CONST PVOID MiniportDeviceContext, ULONG ChildUid,
                                           PDXGK_DEVICE_DESCRIPTOR DeviceDescriptor) {
    (void)MiniportDeviceContext;
    (void)ChildUid;
    if (DeviceDescriptor->DescriptorOffset != 0 || DeviceDescriptor->DescriptorLength < 128) {
        return STATUS_NOT_SUPPORTED;
    }
    memset(DeviceDescriptor->DescriptorBuffer, 0, 128);
    return STATUS_SUCCESS;
}

static NTSTATUS APIENTRY KmdStartDevice(CONST PVOID MiniportDeviceContext, PULONG NumberOfVideoPresentSources,
                                        PULONG NumberOfChildren) {
    (void)MiniportDeviceContext;
    *NumberOfVideoPresentSources = 1;
    *NumberOfChildren = 1;
    return STATUS_SUCCESS;
}

static DXGKDDI_REMOVE_DEVICE KmdRemoveDevice;
NTSTATUS APIENTRY KmdRemoveDevice(CONST PVOID MiniportDeviceContext) {
    (void)MiniportDeviceContext;
    return STATUS_SUCCESS;
}

static NTSTATUS APIENTRY KmdCommitVidPn(CONST HANDLE hAdapter, CONST MIRACAST_SIM_DXGKARG_COMMITVIDPN *pCommitVidPn) {
    ADAPTER *adapter = (ADAPTER *)hAdapter;
    static UCHAR message[4] = {1, 0, 0, 0};
    if (pCommitVidPn->Flags.PathPoweredOff && adapter->Miracast.DxgkCbMiracastSendMessage) {
        NTSTATUS status = adapter->Miracast.DxgkCbMiracastSendMessage(adapter->Miracast.MiracastHandle,
                                                                      sizeof message, message, 0, NULL,
                                                                      KmdMessageDone, adapter);
        return status == STATUS_PENDING ? STATUS_SUCCESS : status;
    }
    return STATUS_SUCCESS;
}

static DXGKDDI_CREATECONTEXT KmdCreateContext;
NTSTATUS APIENTRY KmdCreateContext(CONST HANDLE hDevice, INOUT_PDXGKARG_CREATECONTEXT pCreateContext) {
    (void)hDevice;
    pCreateContext->ContextInfo.DmaBufferSize = 4096;
    return pCreateContext->Flags.SystemContext ? STATUS_SUCCESS : STATUS_SUCCESS;
}

static DXGKDDI_DESTROYCONTEXT KmdDestroyContext;
NTSTATUS APIENTRY KmdDestroyContext(CONST HANDLE hContext) {
    (void)hContext;
    return STATUS_SUCCESS;
}

static DXGKDDI_INTERRUPT_ROUTINE KmdInterrupt;
BOOLEAN APIENTRY KmdInterrupt(CONST PVOID MiniportDeviceContext, ULONG MessageNumber) {
    ADAPTER *adapter = (ADAPTER *)MiniportDeviceContext;
    DXGKARGCB_NOTIFY_INTERRUPT_DATA data;
    (void)MessageNumber;
    memset(&data, 0, sizeof data);
    data.InterruptType = DXGK_INTERRUPT_MICACAST_CHUNK_PROCESSING_COMPLETE;
    data.MiracastEncodeChunkCompleted.VidPnTargetId = adapter->MiracastTarget;
    data.MiracastEncodeChunkCompleted.ChunkInfo.ChunkType = DXGK_MIRACAST_CHUNK_TYPE_ENCODE_COMPLETE;
    data.MiracastEncodeChunkCompleted.ChunkInfo.ChunkId = adapter->NextChunk;
    data.MiracastEncodeChunkCompleted.ChunkInfo.ProcessingTime = 1500;
    data.MiracastEncodeChunkCompleted.ChunkInfo.EncodeRate = 8000;
    adapter->NextChunk.FrameNumber++;
    adapter->NextChunk.PartNumber = 0;
    adapter->Os.DxgkCbNotifyInterrupt(adapter->Os.DeviceHandle, &data);
    if (data.MiracastEncodeChunkCompleted.Status == STATUS_NO_MEMORY) {
        (void)adapter->Os.DxgkCbQueueDpc(adapter->Os.DeviceHandle);
    }
    return TRUE;
}

static DXGKDDI_DPC_ROUTINE KmdDpc;
VOID APIENTRY KmdDpc(CONST PVOID MiniportDeviceContext) {
    ADAPTER *adapter = (ADAPTER *)MiniportDeviceContext;
    adapter->Os.DxgkCbNotifyDpc(adapter->Os.DeviceHandle);
}

DRIVER_EXTERN_C MIRACAST_SIM_KMD_EXPORT NTSTATUS APIENTRY MiracastSimKmdEntry(
    const MIRACAST_SIM_KMD_OS_INTERFACE *pOsInterface, MIRACAST_SIM_KMD_DRIVER_INTERFACE *pDriverInterface) {
    if (pOsInterface->Version != MIRACAST_SIM_KMD_INTERFACE_VERSION_1 ||
        pDriverInterface->Version != MIRACAST_SIM_KMD_INTERFACE_VERSION_1) {
        return STATUS_NOT_SUPPORTED;
    }
    if (pOsInterface->Size < sizeof(MIRACAST_SIM_KMD_OS_INTERFACE) ||
        pDriverInterface->Size < sizeof(MIRACAST_SIM_KMD_DRIVER_INTERFACE)) {
        return STATUS_BUFFER_TOO_SMALL;
    }
    g_adapter.Os = *pOsInterface;
    g_adapter.MiracastTarget = 7;
    g_adapter.NextChunk.Value = 0;
    pDriverInterface->DxgkDdiInterfaceVersion = DXGKDDI_INTERFACE_VERSION_WDDM1_3;
    pDriverInterface->MiniportDeviceContext = &g_adapter;
    pDriverInterface->DxgkDdiStartDevice = KmdStartDevice;
    pDriverInterface->DxgkDdiRemoveDevice = KmdRemoveDevice;
    pDriverInterface->DxgkDdiQueryInterface = KmdQueryInterface;
    pDriverInterface->DxgkDdiQueryChildRelations = KmdQueryChildRelations;
    pDriverInterface->DxgkDdiQueryChildStatus = KmdQueryChildStatus;
    pDriverInterface->DxgkDdiQueryDeviceDescriptor = KmdQueryDeviceDescriptor;
    pDriverInterface->DxgkDdiCommitVidPn = KmdCommitVidPn;
    pDriverInterface->DxgkDdiCreateContext = KmdCreateContext;
    pDriverInterface->DxgkDdiDestroyContext = KmdDestroyContext;
    pDriverInterface->DxgkDdiInterruptRoutine = KmdInterrupt;
    pDriverInterface->DxgkDdiDpcRoutine = KmdDpc;
    return STATUS_SUCCESS;
}
"#;

#[test]
fn driver_like_source_compiles() {
    let cc = c_compiler();
    let cxx = cxx_compiler();
    let dir = tempfile::tempdir().expect("temp dir");
    let src = dir.path().join("driver.c");
    std::fs::write(&src, DRIVER_LIKE).expect("write driver.c");
    let obj = dir.path().join("driver.o");
    compile(&cc, STRICT_C11, &src, &obj, "driver-like source as C11");
    compile(&cc, STRICT_C99, &src, &obj, "driver-like source as C99");
    if let Some(cxx) = &cxx {
        compile(cxx, STRICT_CXX17, &src, &obj, "driver-like source as C++17");
    }
    if cfg!(target_os = "linux") {
        let lib = dir.path().join("libdriver.so");
        compile(
            &cc,
            &[
                "-std=c11",
                "-Wall",
                "-Wextra",
                "-Werror",
                "-shared",
                "-fPIC",
                "-fvisibility=hidden",
            ],
            &src,
            &lib,
            "driver-like source linked as a shared library",
        );
    }
}
