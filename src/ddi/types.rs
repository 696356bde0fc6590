//! Rust-named DDI types for every struct, enum and constant of the Miracast flow, values exactly
//! as documented (ddi-facts section 2). The C spellings live only in the FFI backend; each type's
//! doc names the C type it mirrors so it can be looked up.

use crate::status::NtStatus;
use serde::{Deserialize, Serialize};

/// `DXGKDDI_INTERFACE_VERSION_WDDM1_3` (0x4002): the first WDDM version with Miracast DDIs.
pub const DXGKDDI_INTERFACE_VERSION_WDDM1_3: u32 = 0x4002;
/// `DXGKDDI_INTERFACE_VERSION_WDDM2_0` (0x5023).
pub const DXGKDDI_INTERFACE_VERSION_WDDM2_0: u32 = 0x5023;
/// `DXGK_MIRACAST_DISPLAY_INTERFACE_VERSION_1`.
pub const DXGK_MIRACAST_DISPLAY_INTERFACE_VERSION_1: u16 = 1;
/// x64 `sizeof(DXGK_MIRACAST_DISPLAY_INTERFACE)` (derived in ddi-facts 2.1).
pub const DXGK_MIRACAST_DISPLAY_INTERFACE_SIZE: u16 = 64;
/// x64 `sizeof(DXGK_MIRACAST_CAPS)`.
pub const DXGK_MIRACAST_CAPS_SIZE: u32 = 8;
/// `MIRACAST_DRIVER_INTERFACE_VERSION_1`.
pub const MIRACAST_DRIVER_INTERFACE_VERSION_1: u32 = 1;
/// `MAX_ADDITIONAL_EVENTS`: extra wait events `GetNextChunkData` accepts.
pub const MAX_ADDITIONAL_EVENTS: u32 = 4;
/// Win32 `INFINITE` for `GetNextChunkData`'s timeout (G31).
pub const INFINITE: u32 = 0xFFFF_FFFF;
/// `GUID_DEVINTERFACE_MIRACAST_DISPLAY` {AF03F190-22AF-48CB-94BB-B78E76A25107}.
pub const GUID_DEVINTERFACE_MIRACAST_DISPLAY: Guid = Guid(
    0xAF03_F190,
    0x22AF,
    0x48CB,
    [0x94, 0xBB, 0xB7, 0x8E, 0x76, 0xA2, 0x51, 0x07],
);
/// x64 offset of `MIRACAST_CHUNK_DATA.PrivateDriverData`: a chunk record is this many bytes plus
/// its private data (G27: no padding between records).
pub const MIRACAST_CHUNK_DATA_HEADER_SIZE: u32 = 28;

/// The simulator's convention for `DXGKARG_CREATECONTEXT.pPrivateDriverData` coming from a
/// Direct3D UMD that does not match the KMD: a KMD answers it with
/// `STATUS_GRAPHICS_DRIVER_MISMATCH` (R71). Real private data is vendor-defined.
pub const INCOMPATIBLE_D3D_UMD_MARKER: &[u8] = b"D3DUMD-INCOMPATIBLE";

/// A GUID, as in `GUID` (Data1, Data2, Data3, Data4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Guid(pub u32, pub u16, pub u16, pub [u8; 8]);

/// `D3DKMDT_VIDEO_OUTPUT_TECHNOLOGY` (d3dkmdt.h), a 32-bit enum.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[allow(missing_docs)]
#[repr(i32)]
pub enum VideoOutputTechnology {
    Uninitialized = -2,
    Other = -1,
    Hd15 = 0,
    Svideo = 1,
    CompositeVideo = 2,
    ComponentVideo = 3,
    Dvi = 4,
    Hdmi = 5,
    Lvds = 6,
    DJpn = 8,
    Sdi = 9,
    DisplayportExternal = 10,
    DisplayportEmbedded = 11,
    UdiExternal = 12,
    UdiEmbedded = 13,
    Sdtvdongle = 14,
    /// `D3DKMDT_VOT_MIRACAST` = 15 (WDDM 1.3).
    Miracast = 15,
    IndirectWired = 16,
    Internal = i32::MIN,
}

impl VideoOutputTechnology {
    /// The monitor type for a Wi-Fi Display `wfd_connector_type` byte, as R10 asks the KMD to
    /// report it: the connector the sink reported, `D3DKMDT_VOT_MIRACAST` when the sink is the
    /// display itself (07), `D3DKMDT_VOT_OTHER` when the sink gave none or a reserved value.
    pub fn of_wfd_connector(connector: Option<u8>) -> VideoOutputTechnology {
        match connector {
            Some(0x00) => VideoOutputTechnology::Hd15,
            Some(0x01) => VideoOutputTechnology::Svideo,
            Some(0x02) => VideoOutputTechnology::CompositeVideo,
            Some(0x03) => VideoOutputTechnology::ComponentVideo,
            Some(0x04) => VideoOutputTechnology::Dvi,
            Some(0x05) => VideoOutputTechnology::Hdmi,
            Some(0x07) => VideoOutputTechnology::Miracast,
            Some(0x08) => VideoOutputTechnology::DJpn,
            Some(0x09) => VideoOutputTechnology::Sdi,
            Some(0x0A) => VideoOutputTechnology::DisplayportExternal,
            Some(0x0C) => VideoOutputTechnology::UdiExternal,
            _ => VideoOutputTechnology::Other,
        }
    }

    /// The documented C name, for traces and reports.
    pub fn c_name(self) -> &'static str {
        match self {
            Self::Uninitialized => "D3DKMDT_VOT_UNINITIALIZED",
            Self::Other => "D3DKMDT_VOT_OTHER",
            Self::Hd15 => "D3DKMDT_VOT_HD15",
            Self::Svideo => "D3DKMDT_VOT_SVIDEO",
            Self::CompositeVideo => "D3DKMDT_VOT_COMPOSITE_VIDEO",
            Self::ComponentVideo => "D3DKMDT_VOT_COMPONENT_VIDEO",
            Self::Dvi => "D3DKMDT_VOT_DVI",
            Self::Hdmi => "D3DKMDT_VOT_HDMI",
            Self::Lvds => "D3DKMDT_VOT_LVDS",
            Self::DJpn => "D3DKMDT_VOT_D_JPN",
            Self::Sdi => "D3DKMDT_VOT_SDI",
            Self::DisplayportExternal => "D3DKMDT_VOT_DISPLAYPORT_EXTERNAL",
            Self::DisplayportEmbedded => "D3DKMDT_VOT_DISPLAYPORT_EMBEDDED",
            Self::UdiExternal => "D3DKMDT_VOT_UDI_EXTERNAL",
            Self::UdiEmbedded => "D3DKMDT_VOT_UDI_EMBEDDED",
            Self::Sdtvdongle => "D3DKMDT_VOT_SDTVDONGLE",
            Self::Miracast => "D3DKMDT_VOT_MIRACAST",
            Self::IndirectWired => "D3DKMDT_VOT_INDIRECT_WIRED",
            Self::Internal => "D3DKMDT_VOT_INTERNAL",
        }
    }

    /// The 32-bit value as in the C enum.
    pub fn value(self) -> i32 {
        self as i32
    }
}

/// `DXGK_CHILD_DEVICE_HPD_AWARENESS`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[allow(missing_docs)]
pub enum HpdAwareness {
    Uninitialized = 0,
    AlwaysConnected = 1,
    None = 2,
    Polled = 3,
    /// `HpdAwarenessInterruptible` (4): the value required for the Miracast target (R5).
    Interruptible = 4,
}

/// `DXGK_CHILD_DEVICE_TYPE`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[allow(missing_docs)]
pub enum ChildDeviceType {
    Uninitialized = 0,
    VideoOutput = 1,
    Other = 2,
    IntegratedDisplay = 3,
}

/// `DXGK_CHILD_DESCRIPTOR` reduced to what the Miracast flow reads. A zeroed descriptor is
/// `ChildDescriptor::default()` (the terminator of `DxgkDdiQueryChildRelations`, R6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChildDescriptor {
    /// `ChildDeviceType`.
    pub child_device_type: ChildDeviceType,
    /// `ChildCapabilities.Type.VideoOutput.InterfaceTechnology`.
    pub interface_technology: VideoOutputTechnology,
    /// `ChildCapabilities.HpdAwareness`.
    pub hpd_awareness: HpdAwareness,
    /// `AcpiUid`.
    pub acpi_uid: u32,
    /// `ChildUid` (for video outputs, the VidPN target id).
    pub child_uid: u32,
}

impl Default for ChildDescriptor {
    fn default() -> Self {
        ChildDescriptor {
            child_device_type: ChildDeviceType::Uninitialized,
            interface_technology: VideoOutputTechnology::Hd15,
            hpd_awareness: HpdAwareness::Uninitialized,
            acpi_uid: 0,
            child_uid: 0,
        }
    }
}

impl ChildDescriptor {
    /// True when every field is zero, as the terminator entry must stay (R6).
    pub fn is_zeroed(&self) -> bool {
        *self == ChildDescriptor::default()
    }
}

/// `DXGK_CHILD_STATUS_TYPE`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[allow(missing_docs)]
pub enum ChildStatusType {
    Uninitialized = 0,
    Connection = 1,
    Rotation = 2,
    /// `StatusMiracastConnection` = 3 (the pages' "StatusMiracast" does not exist, G3).
    MiracastConnection = 3,
}

/// `DXGK_CHILD_STATUS` with the union arm that its `Type` selects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChildStatus {
    /// `ChildUid`.
    pub child_uid: u32,
    /// `Type` and the matching union member.
    pub status: ChildStatusKind,
}

/// The `DXGK_CHILD_STATUS` union, keyed by `Type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChildStatusKind {
    /// `StatusUninitialized`: the OS asks, the KMD fills.
    Uninitialized,
    /// `StatusConnection`: `HotPlug.Connected`.
    Connection {
        /// `HotPlug.Connected`.
        connected: bool,
    },
    /// `StatusRotation`: `Rotation.Angle`.
    Rotation {
        /// `Rotation.Angle`.
        angle: u8,
    },
    /// `StatusMiracastConnection`: `Miracast.Connected` and `Miracast.MiracastMonitorType`.
    MiracastConnection {
        /// `Miracast.Connected`.
        connected: bool,
        /// `Miracast.MiracastMonitorType`.
        monitor_type: VideoOutputTechnology,
    },
}

impl ChildStatusKind {
    /// The `DXGK_CHILD_STATUS_TYPE` of this arm.
    pub fn status_type(&self) -> ChildStatusType {
        match self {
            Self::Uninitialized => ChildStatusType::Uninitialized,
            Self::Connection { .. } => ChildStatusType::Connection,
            Self::Rotation { .. } => ChildStatusType::Rotation,
            Self::MiracastConnection { .. } => ChildStatusType::MiracastConnection,
        }
    }
}

/// `DXGK_MIRACAST_CAPS`.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(deny_unknown_fields)]
pub struct MiracastCaps {
    /// `MaxChunkPrivateDriverDataSize`.
    pub max_chunk_private_driver_data_size: u32,
    /// `Flags.Value`: bit 0 `HdcpSupport`, bits 1..31 `Reserved` (must be 0, R8).
    pub flags: u32,
}

impl MiracastCaps {
    /// `Flags.HdcpSupport`.
    pub fn hdcp_support(&self) -> bool {
        self.flags & 1 != 0
    }
    /// `Flags.Reserved`.
    pub fn reserved(&self) -> u32 {
        self.flags >> 1
    }
}

/// `MIRACAST_SESSION_INFO` (a 32-bit union of bit fields).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SessionInfo(pub u32);

impl SessionInfo {
    /// Builds the value from its two documented bits.
    pub fn new(monitor_connected: bool, reduced_mode_list_due_to_bandwidth: bool) -> Self {
        SessionInfo(
            u32::from(monitor_connected) | (u32::from(reduced_mode_list_due_to_bandwidth) << 1),
        )
    }
    /// `MonitorConnected`.
    pub fn monitor_connected(self) -> bool {
        self.0 & 1 != 0
    }
    /// `ReducedModeListDueToBandwidth`.
    pub fn reduced_mode_list_due_to_bandwidth(self) -> bool {
        self.0 & 2 != 0
    }
    /// `Reserved` (30 bits, must be 0, R40).
    pub fn reserved(self) -> u32 {
        self.0 >> 2
    }
}

/// `MIRACAST_WFD_CONNECTION_STATS`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WfdConnectionStats {
    /// `CurrentBitRate`: bit/s the OS recommends to the encoder.
    pub current_bit_rate: u64,
    /// `LocalMaxBitRate`.
    pub local_max_bit_rate: u64,
    /// `RemoteMaxBitRate`.
    pub remote_max_bit_rate: u64,
}

/// `MIRACAST_DATARATE_STATS`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct DataRateStats {
    pub encoder_bit_rate: u64,
    pub current_max_tx_data_rate: u64,
    pub transmitted_frame_count: u64,
    pub failed_frame_count: u64,
    pub retried_frame_count: u64,
    pub multiple_retry_frame_count: u64,
}

/// `MIRACAST_STATUS`, the reason given to `ReportSessionStatus`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[allow(missing_docs)]
pub enum MiracastStatus {
    CriticalError = 0,
    MissingKeepalive = 1,
    /// `MIRACAST_STATUS_SINK_DISOCNNECT_REQUEST` (sic).
    SinkDisocnnectRequest = 2,
    InsufficientBandwidth = 3,
    SinkFailedStandardModeChange = 4,
    CompanionDriverDisconnect = 5,
}

impl MiracastStatus {
    /// The documented C name.
    pub fn c_name(self) -> &'static str {
        match self {
            Self::CriticalError => "MIRACAST_STATUS_CRITICAL_ERROR",
            Self::MissingKeepalive => "MIRACAST_STATUS_MISSING_KEEPALIVE",
            Self::SinkDisocnnectRequest => "MIRACAST_STATUS_SINK_DISOCNNECT_REQUEST",
            Self::InsufficientBandwidth => "MIRACAST_STATUS_INSUFFICIENT_BANDWIDTH",
            Self::SinkFailedStandardModeChange => {
                "MIRACAST_STATUS_SINK_FAILED_STANDARD_MODE_CHANGE"
            }
            Self::CompanionDriverDisconnect => "MIRACAST_STATUS_COMPANION_DRIVER_DISCONNECT",
        }
    }
}

/// `MIRACAST_PROTOCOL_EVENT`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[allow(missing_docs)]
pub enum ProtocolEvent {
    IframeRq = 0,
    MonitorArrive = 1,
    MonitorDepart = 2,
    /// Reserved: drivers must not use it (R61).
    SinkFailedPreferredModeChange = 3,
}

/// `DXGK_MIRACAST_CHUNK_TYPE` / `MIRACAST_CHUNK_TYPE` (same values).
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[allow(missing_docs)]
#[repr(u32)]
pub enum ChunkType {
    Unknown = 0,
    ColorConvertComplete = 1,
    EncodeComplete = 2,
    FrameStart = 3,
    FrameDropped = 4,
    EncodeDriverDefined1 = 0x8000_0000,
    EncodeDriverDefined2 = 0x8000_0001,
}

/// `DXGK_MIRACAST_CHUNK_ID` / `MIRACAST_CHUNK_ID`: `FrameNumber : 40` (low bits), `PartNumber : 24`.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(transparent)]
pub struct ChunkId(pub u64);

impl ChunkId {
    /// Largest frame number the 40-bit field holds.
    pub const MAX_FRAME: u64 = (1 << 40) - 1;
    /// Largest part number the 24-bit field holds.
    pub const MAX_PART: u64 = (1 << 24) - 1;

    /// Packs a frame and part number; `None` when either overflows its bit field (R58).
    pub fn new(frame_number: u64, part_number: u64) -> Option<ChunkId> {
        (frame_number <= Self::MAX_FRAME && part_number <= Self::MAX_PART)
            .then_some(ChunkId(frame_number | (part_number << 40)))
    }
    /// `FrameNumber`.
    pub fn frame_number(self) -> u64 {
        self.0 & Self::MAX_FRAME
    }
    /// `PartNumber`.
    pub fn part_number(self) -> u64 {
        self.0 >> 40
    }
}

/// `DXGK_MIRACAST_CHUNK_INFO` / `MIRACAST_CHUNK_INFO`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ChunkInfo {
    /// `ChunkType`.
    pub chunk_type: ChunkType,
    /// `ChunkId`.
    pub chunk_id: ChunkId,
    /// `ProcessingTime` in microseconds.
    pub processing_time: u32,
    /// `EncodeRate` in kbit/s.
    pub encode_rate: u32,
}

/// `DXGKARGCB_NOTIFY_INTERRUPT_DATA.MiracastEncodeChunkCompleted` (interrupt type 8).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MiracastEncodeChunkCompleted {
    /// `VidPnTargetId`: must be the Miracast target (R51).
    pub vidpn_target_id: u32,
    /// `ChunkInfo`.
    pub chunk_info: ChunkInfo,
    /// `pPrivateDriverData` / `PrivateDataDriverSize`.
    pub private_driver_data: Vec<u8>,
}

/// One record of a `GetNextChunkData` buffer (`MIRACAST_CHUNK_DATA`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChunkData {
    /// `ChunkInfo`.
    pub chunk_info: ChunkInfo,
    /// `PrivateDriverData` (its length is `PrivateDriverDataSize`).
    pub private_driver_data: Vec<u8>,
}

impl ChunkData {
    /// Bytes this record takes in the `GetNextChunkData` buffer (G27: packed, no padding).
    pub fn record_size(&self) -> u32 {
        MIRACAST_CHUNK_DATA_HEADER_SIZE + self.private_driver_data.len() as u32
    }
}

/// `MIRACAST_STATISTIC_DATA`, keyed by `StatisticType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub enum StatisticData {
    /// `MIRACAST_STATISTIC_TYPE_CHUNK_PROCESSING_COMPLETE` with `EncodeComplete.ChunkInfo`.
    ChunkProcessingComplete(ChunkInfo),
    /// `MIRACAST_STATISTIC_TYPE_CHUNK_SENT` with `ChunkSent.ChunkId`.
    ChunkSent(ChunkId),
    /// `MIRACAST_STATISTIC_TYPE_EVENT` with `ProtocolEvent.Event`.
    Event(ProtocolEvent),
}

/// `D3DKMT_MIRACAST_DISPLAY_DEVICE_STATE`: the session phases of the OS model.
///
/// ```text
///            StartMiracastSession called          Start returned STATUS_SUCCESS
///   Stopped ─────────────────────────────▶ StartPending ─────────────────────▶ Started
///      ▲                                        │ Start failed                    │
///      │◀───────────────────────────────────────┘                               │
///      │           StopMiracastSession returned           StopMiracastSession called
///      └────────────────────────────── StopPending ◀──────────────────────────────┘
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
pub enum SessionPhase {
    /// `MiracastStopped` (0).
    Stopped = 0,
    /// `MiracastStartPending` (1).
    StartPending = 1,
    /// `MiracastStarted` (2).
    Started = 2,
    /// `MiracastStopPending` (3).
    StopPending = 3,
}

/// `DXGK_CREATECONTEXTFLAGS` bits used by the simulator.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateContextFlags(pub u32);

/// `DXGKARG_CREATECONTEXT` input fields (the GPU context DDI, not Miracast).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CreateContextArgs {
    /// `NodeOrdinal`.
    pub node_ordinal: u32,
    /// `EngineAffinity`.
    pub engine_affinity: u32,
    /// `Flags`.
    pub flags: CreateContextFlags,
    /// `pPrivateDriverData`: the D3D UMD's blob (a scenario may mark it as from an incompatible UMD).
    pub private_driver_data: Vec<u8>,
}

/// An opaque driver-side handle (`PVOID` context or `HANDLE`) as the OS sees it.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(transparent)]
pub struct Handle(pub u64);

/// What `StatusMiracastConnection` indications the simulator sees, for `NtStatus` results.
pub type DdiResult<T> = (NtStatus, T);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_id_packs_frame_low_part_high() {
        let id = ChunkId::new(101, 1).unwrap();
        assert_eq!(id.0, 0x0000_0100_0000_0065);
        assert_eq!((id.frame_number(), id.part_number()), (101, 1));
        assert!(ChunkId::new(1 << 40, 0).is_none());
        assert!(ChunkId::new(0, 1 << 24).is_none());
    }

    #[test]
    fn documented_enum_values() {
        assert_eq!(VideoOutputTechnology::Miracast.value(), 15);
        assert_eq!(VideoOutputTechnology::Internal.value() as u32, 0x8000_0000);
        assert_eq!(HpdAwareness::Interruptible as u32, 4);
        assert_eq!(ChildStatusType::MiracastConnection as u32, 3);
        assert_eq!(ChunkType::EncodeDriverDefined2 as u32, 0x8000_0001);
        assert_eq!(MiracastStatus::CompanionDriverDisconnect as u32, 5);
        assert_eq!(SessionPhase::StopPending as u32, 3);
        let info = SessionInfo::new(true, true);
        assert_eq!(info.0, 3);
        assert_eq!(info.reserved(), 0);
    }
}
