//! Typed arguments and results of the DDIs and callbacks the trace records.
//!
//! Every `Enter` carries a [`CallArgs`] and every `Leave` a [`CallOut`]: one variant per shape
//! of call, with statuses as [`NtStatus`], handles as [`Handle`], sizes as numbers and
//! enumerations as their Rust types. Checks match on the variants; the text trace, the JSON
//! trace and scenario expectations (`"arg": "op=MONITOR_ARRIVED"`) all render from
//! [`CallArgs::fields`] / [`CallOut::fields`], so the names a scenario writes are the names the
//! types give, and a renamed field is a compile error, not a check that silently stops firing.

use crate::ddi::{
    ChildStatus, ChildStatusKind, ChunkId, ChunkInfo, ChunkType, Handle, MiracastStatus,
};
use crate::ddi::{ProtocolEvent, StatisticData, VideoOutputTechnology};
use crate::status::NtStatus;
use serde::Serialize;
use std::fmt;

/// What a UMD's private `MiracastIoControl` payload means, when a driver profile (or the
/// reference drivers' own protocol) says so. Vendors' payloads are private: without a profile
/// the meaning is unknown and no check depends on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum IoctlMeaning {
    /// A monitor appeared behind the sink (R11, R43).
    MonitorArrived,
    /// The monitor behind the sink went away (R13).
    MonitorDeparted,
    /// The UMD asks the encoder for a new I-frame (R53).
    RequestIframe,
    /// Another operation, named by the profile.
    Other(&'static str),
}

impl IoctlMeaning {
    /// The name written in traces (`MONITOR_ARRIVED`).
    pub fn name(self) -> &'static str {
        match self {
            IoctlMeaning::MonitorArrived => "MONITOR_ARRIVED",
            IoctlMeaning::MonitorDeparted => "MONITOR_DEPARTED",
            IoctlMeaning::RequestIframe => "REQUEST_IFRAME",
            IoctlMeaning::Other(name) => name,
        }
    }

    /// The meaning of a name a profile gives.
    pub fn from_name(name: &'static str) -> Self {
        match name {
            "MONITOR_ARRIVED" => IoctlMeaning::MonitorArrived,
            "MONITOR_DEPARTED" => IoctlMeaning::MonitorDeparted,
            "REQUEST_IFRAME" => IoctlMeaning::RequestIframe,
            other => IoctlMeaning::Other(other),
        }
    }
}

/// The arguments of a DDI or callback call, as the trace records them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(tag = "shape", rename_all = "snake_case")]
pub enum CallArgs {
    /// No arguments worth recording (`DxgkDdiStartDevice`, `DxgkCbNotifyDpc`, ...).
    None,
    /// `DxgkDdiQueryInterface` for `GUID_DEVINTERFACE_MIRACAST_DISPLAY`.
    QueryInterface {
        /// `Size` of the interface buffer.
        size: u32,
        /// `Version` asked for.
        version: u32,
    },
    /// `DxgkDdiMiracastQueryCaps`.
    QueryCaps {
        /// `MiracastCapsSize`.
        caps_size: u32,
    },
    /// `DxgkDdiQueryChildRelations`.
    QueryChildRelations {
        /// Descriptors in the buffer (children + the zero terminator).
        descriptors: u32,
    },
    /// `DxgkDdiQueryChildStatus`.
    QueryChildStatus {
        /// `ChildUid`.
        child_uid: u32,
        /// `NonDestructiveOnly`.
        non_destructive_only: bool,
    },
    /// `DxgkDdiMiracastCreateContext`.
    MiracastCreateContext {
        /// The `MiracastHandle` in the callbacks.
        miracast_handle: Handle,
    },
    /// A call naming one context (`DxgkDdiMiracastDestroyContext`, `StopMiracastSession`,
    /// `DestroyMiracastContext`, `DxgkDdiDestroyContext`).
    Context {
        /// The context.
        context: Handle,
    },
    /// `QueryMiracastDriverInterface`.
    QueryDriverInterface {
        /// `MiracastVersion`.
        version: u32,
        /// `MiracastDriverInterfaceSize`.
        size: u32,
    },
    /// `CreateMiracastContext`.
    CreateMiracastContext {
        /// `hMiracastDeviceHandle`.
        device: Handle,
    },
    /// `StartMiracastSession`.
    StartSession {
        /// The RTSP socket the OS hands over.
        socket: u64,
        /// `CurrentBitRate`, bit/s.
        current_bit_rate: u64,
        /// `LocalMaxBitRate`, bit/s.
        local_max: u64,
        /// `RemoteMaxBitRate`, bit/s.
        remote_max: u64,
    },
    /// `DxgkDdiCreateContext` (a GPU context).
    CreateGpuContext {
        /// `NodeOrdinal`.
        node_ordinal: u32,
        /// `PrivateDriverDataSize`.
        private_size: u32,
    },
    /// `DxgkDdiCommitVidPn` for the Miracast target.
    CommitVidPn {
        /// The target.
        target: u32,
        /// The commit powers the monitor off.
        monitor_power_off: bool,
    },
    /// `DxgkDdiEscape` with `D3DKMT_ESCAPE_MIRACAST_DISPLAY_REQUEST`.
    Escape {
        /// Bytes of payload.
        payload_size: u32,
        /// Bytes of output the message asks for.
        output_size: u32,
    },
    /// `DxgkDdiInterruptRoutine` for an encoder chunk.
    InterruptRoutine {
        /// The chunk the encoder finished.
        chunk: ChunkInfo,
    },
    /// `DxgkCbIndicateChildStatus`, or what `DxgkDdiQueryChildStatus` answered.
    ChildStatus(ChildStatusRecord),
    /// `DxgkCbNotifyInterrupt` with `DXGK_INTERRUPT_MICACAST_CHUNK_PROCESSING_COMPLETE`.
    NotifyInterrupt {
        /// `VidPnTargetId`.
        target: u32,
        /// `ChunkInfo`.
        chunk: ChunkInfo,
        /// `PrivateDataDriverSize`.
        private_size: u32,
    },
    /// `DxgkCbMiracastSendMessage`.
    SendMessage {
        /// The simulator's message id.
        id: u64,
        /// `InputBufferSize`.
        input_size: u32,
        /// `OutputBufferSize`.
        output_size: u32,
        /// A completion routine was passed.
        callback: bool,
    },
    /// `DxgkCbReportChunkInfo`.
    ReportChunkInfo {
        /// `ChunkInfo`.
        chunk: ChunkInfo,
        /// `PrivateDataDriverSize` (reserved: must be 0, R57).
        private: u32,
    },
    /// `DxgkDdiQueryDeviceDescriptor`.
    QueryDeviceDescriptor {
        /// `ChildUid`.
        child_uid: u32,
    },
    /// `HandleKernelModeMessage`.
    HandleKernelModeMessage {
        /// The simulator's message id.
        id: u64,
        /// `InputBufferSize`.
        input_size: u32,
        /// `OutputBufferSize`.
        output_size: u32,
    },
    /// The KMD's completion routine for a message.
    SendMessageCallback {
        /// The simulator's message id.
        id: u64,
        /// `IO_STATUS_BLOCK.Status`.
        status: NtStatus,
        /// `IO_STATUS_BLOCK.Information`.
        information: u64,
    },
    /// `PFN_DATA_RATE_NOTIFY`.
    DataRateNotify {
        /// Statistics were passed (`false`: the final call with NULL, R50).
        stats: bool,
    },
    /// `MiracastIoControl` (UMD to OS) or `DxgkDdiMiracastIoControl` (OS to KMD).
    IoControl {
        /// `HardwareAccess`.
        hardware_access: bool,
        /// `InputBufferSize`.
        input_size: u32,
        /// `OutputBufferSize`.
        output_size: u32,
        /// What the private payload means, when a profile says.
        op: Option<IoctlMeaning>,
    },
    /// `ReportSessionStatus`.
    ReportSessionStatus {
        /// `MiracastStatus`.
        status: MiracastStatus,
        /// `Status` (the diagnostic NTSTATUS).
        diagnostic: NtStatus,
    },
    /// `ReportStatistic`.
    ReportStatistic(StatisticData),
    /// `GetNextChunkData`.
    GetNextChunkData {
        /// `TimeoutInMilliseconds`.
        timeout_ms: u32,
        /// `AdditionalWaitEventCount`.
        events: u32,
        /// `*pChunkDataBufferSize` on entry.
        buffer_size: u32,
    },
    /// `RegisterForDataRateNotifications`.
    RegisterDataRate {
        /// `pNotificationContext` is set (register) or NULL (unregister).
        register: bool,
    },
}

/// `DXGK_CHILD_STATUS` as recorded: the child and the union arm its `Type` selects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct ChildStatusRecord {
    /// `ChildUid`.
    pub child_uid: u32,
    /// `Type` and its arm.
    #[serde(flatten)]
    pub arm: ChildStatusArm,
}

/// The arm of `DXGK_CHILD_STATUS`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(tag = "type")]
pub enum ChildStatusArm {
    /// `StatusUninitialized`.
    StatusUninitialized,
    /// `StatusConnection`.
    StatusConnection {
        /// `HotPlug.Connected`.
        connected: bool,
    },
    /// `StatusRotation`.
    StatusRotation {
        /// `Rotation.Angle`.
        angle: u8,
    },
    /// `StatusMiracastConnection`.
    StatusMiracastConnection {
        /// `Miracast.Connected`.
        connected: bool,
        /// `Miracast.MiracastMonitorType`.
        monitor_type: VideoOutputTechnology,
    },
}

impl From<&ChildStatus> for ChildStatusRecord {
    fn from(s: &ChildStatus) -> Self {
        let arm = match s.status {
            ChildStatusKind::Uninitialized => ChildStatusArm::StatusUninitialized,
            ChildStatusKind::Connection { connected } => {
                ChildStatusArm::StatusConnection { connected }
            }
            ChildStatusKind::Rotation { angle } => ChildStatusArm::StatusRotation { angle },
            ChildStatusKind::MiracastConnection {
                connected,
                monitor_type,
            } => ChildStatusArm::StatusMiracastConnection {
                connected,
                monitor_type,
            },
        };
        ChildStatusRecord {
            child_uid: s.child_uid,
            arm,
        }
    }
}

impl ChildStatusRecord {
    /// `Some(connected)` for a `StatusMiracastConnection`.
    pub fn miracast_connected(&self) -> Option<bool> {
        match self.arm {
            ChildStatusArm::StatusMiracastConnection { connected, .. } => Some(connected),
            _ => None,
        }
    }
}

/// What a DDI or callback handed back besides its status.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(tag = "shape", rename_all = "snake_case")]
pub enum CallOut {
    /// Nothing besides the status.
    None,
    /// `DxgkDdiQueryInterface`: the interface's `Size` and `Version`.
    Interface {
        /// `Size`.
        size: u32,
        /// `Version`.
        version: u32,
    },
    /// `DxgkDdiStartDevice`: `NumberOfChildren`.
    StartDevice {
        /// `NumberOfChildren`.
        number_of_children: u32,
    },
    /// `DxgkDdiMiracastQueryCaps`.
    Caps {
        /// Bytes the KMD wrote.
        bytes_written: u32,
        /// `MaxChunkPrivateDriverDataSize`.
        max_chunk_private: u32,
        /// `Flags.HdcpSupport`.
        hdcp: bool,
    },
    /// `DxgkDdiQueryChildStatus`: what the KMD filled in.
    ChildStatus(ChildStatusRecord),
    /// `DxgkDdiMiracastCreateContext`.
    MiracastContext {
        /// `MiracastContext`.
        context: Handle,
        /// `TargetId`.
        target_id: u32,
    },
    /// A context created (`CreateMiracastContext`, `DxgkDdiCreateContext`).
    Context {
        /// The context.
        context: Handle,
    },
    /// `StartMiracastSession`: `MIRACAST_SESSION_INFO`.
    SessionInfo {
        /// `MonitorConnected`.
        monitor_connected: bool,
        /// `ReducedModeListDueToBandwidth`.
        reduced_mode_list: bool,
        /// `Reserved` bits.
        reserved: u32,
    },
    /// `DxgkDdiInterruptRoutine`: the KMD claimed the interrupt.
    Claimed {
        /// The routine returned TRUE.
        claimed: bool,
    },
    /// IOCTLs and `HandleKernelModeMessage`: `*BytesReturned`.
    BytesReturned {
        /// `*BytesReturned`.
        bytes_returned: u32,
    },
    /// `DxgkDdiQueryDeviceDescriptor`: the descriptor's bytes.
    Descriptor {
        /// Bytes returned.
        bytes: u32,
    },
    /// `GetNextChunkData`.
    Chunks {
        /// `*pChunkDataBufferSize` on return.
        size: u32,
        /// `*pOutstandingChunksToProcess`.
        outstanding: u32,
        /// Records copied.
        chunks: u32,
        /// The `ChunkId`s of the records, in buffer order (JSON only; the text gives the count).
        ids: Vec<ChunkId>,
    },
}

/// One rendered value of a field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    /// A decimal number.
    Num(u64),
    /// A handle, in hex.
    Hex(u64),
    /// A flag.
    Bool(bool),
    /// A documented name.
    Name(&'static str),
    /// A status, by name where it has one.
    Status(NtStatus),
    /// A status as 8 hex digits.
    StatusHex(NtStatus),
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Field::Num(n) => write!(f, "{n}"),
            Field::Hex(n) => write!(f, "{n:#x}"),
            Field::Bool(b) => write!(f, "{b}"),
            Field::Name(s) => f.write_str(s),
            Field::Status(s) => match s.name() {
                Some(name) => f.write_str(name),
                None => write!(f, "0x{:08X}", s.as_u32()),
            },
            Field::StatusHex(s) => write!(f, "0x{:08X}", s.as_u32()),
        }
    }
}

/// Named fields, in rendering order.
pub type Fields = Vec<(&'static str, Field)>;

fn chunk_fields(out: &mut Fields, chunk: &ChunkInfo) {
    out.push(("chunk_type", Field::Name(chunk_type_name(chunk.chunk_type))));
    out.push(("frame", Field::Num(chunk.chunk_id.frame_number())));
    out.push(("part", Field::Num(chunk.chunk_id.part_number())));
    out.push(("processing_time", Field::Num(chunk.processing_time.into())));
    out.push(("encode_rate", Field::Num(chunk.encode_rate.into())));
}

/// The Rust name of a chunk type, as the trace has always written it.
fn chunk_type_name(t: ChunkType) -> &'static str {
    match t {
        ChunkType::Unknown => "Unknown",
        ChunkType::ColorConvertComplete => "ColorConvertComplete",
        ChunkType::EncodeComplete => "EncodeComplete",
        ChunkType::FrameStart => "FrameStart",
        ChunkType::FrameDropped => "FrameDropped",
        ChunkType::EncodeDriverDefined1 => "EncodeDriverDefined1",
        ChunkType::EncodeDriverDefined2 => "EncodeDriverDefined2",
    }
}

fn protocol_event_name(e: ProtocolEvent) -> &'static str {
    match e {
        ProtocolEvent::IframeRq => "IframeRq",
        ProtocolEvent::MonitorArrive => "MonitorArrive",
        ProtocolEvent::MonitorDepart => "MonitorDepart",
        ProtocolEvent::SinkFailedPreferredModeChange => "SinkFailedPreferredModeChange",
    }
}

fn child_status_fields(out: &mut Fields, s: &ChildStatusRecord) {
    let (name, rest): (&'static str, Fields) = match s.arm {
        ChildStatusArm::StatusUninitialized => ("StatusUninitialized", vec![]),
        ChildStatusArm::StatusConnection { connected } => (
            "StatusConnection",
            vec![("connected", Field::Bool(connected))],
        ),
        ChildStatusArm::StatusRotation { angle } => {
            ("StatusRotation", vec![("angle", Field::Num(angle.into()))])
        }
        ChildStatusArm::StatusMiracastConnection {
            connected,
            monitor_type,
        } => (
            "StatusMiracastConnection",
            vec![
                ("connected", Field::Bool(connected)),
                ("monitor_type", Field::Name(monitor_type.c_name())),
            ],
        ),
    };
    out.push(("type", Field::Name(name)));
    out.push(("child_uid", Field::Num(s.child_uid.into())));
    out.extend(rest);
}

impl CallArgs {
    /// The fields in rendering order.
    pub fn fields(&self) -> Fields {
        use Field::*;
        let mut f: Fields = Vec::new();
        match self {
            CallArgs::None => {}
            CallArgs::QueryInterface { size, version } => {
                f.push(("guid", Name("GUID_DEVINTERFACE_MIRACAST_DISPLAY")));
                f.push(("size", Num((*size).into())));
                f.push(("version", Num((*version).into())));
            }
            CallArgs::QueryCaps { caps_size } => f.push(("caps_size", Num((*caps_size).into()))),
            CallArgs::QueryChildRelations { descriptors } => {
                f.push(("descriptors", Num((*descriptors).into())))
            }
            CallArgs::QueryChildStatus {
                child_uid,
                non_destructive_only,
            } => {
                f.push(("child_uid", Num((*child_uid).into())));
                f.push(("non_destructive_only", Bool(*non_destructive_only)));
            }
            CallArgs::MiracastCreateContext { miracast_handle } => {
                f.push(("miracast_handle", Hex(miracast_handle.0)))
            }
            CallArgs::Context { context } => f.push(("context", Hex(context.0))),
            CallArgs::QueryDriverInterface { version, size } => {
                f.push(("version", Num((*version).into())));
                f.push(("size", Num((*size).into())));
            }
            CallArgs::CreateMiracastContext { device } => f.push(("device", Hex(device.0))),
            CallArgs::StartSession {
                socket,
                current_bit_rate,
                local_max,
                remote_max,
            } => {
                f.push(("socket", Num(*socket)));
                f.push(("current_bit_rate", Num(*current_bit_rate)));
                f.push(("local_max", Num(*local_max)));
                f.push(("remote_max", Num(*remote_max)));
            }
            CallArgs::CreateGpuContext {
                node_ordinal,
                private_size,
            } => {
                f.push(("node_ordinal", Num((*node_ordinal).into())));
                f.push(("private_size", Num((*private_size).into())));
            }
            CallArgs::CommitVidPn {
                target,
                monitor_power_off,
            } => {
                f.push(("target", Num((*target).into())));
                f.push(("monitor_power_off", Bool(*monitor_power_off)));
            }
            CallArgs::Escape {
                payload_size,
                output_size,
            } => {
                f.push(("type", Name("D3DKMT_ESCAPE_MIRACAST_DISPLAY_REQUEST")));
                f.push(("payload_size", Num((*payload_size).into())));
                f.push(("output_size", Num((*output_size).into())));
            }
            CallArgs::InterruptRoutine { chunk } => chunk_fields(&mut f, chunk),
            CallArgs::ChildStatus(s) => child_status_fields(&mut f, s),
            CallArgs::NotifyInterrupt {
                target,
                chunk,
                private_size,
            } => {
                f.push((
                    "type",
                    Name("DXGK_INTERRUPT_MICACAST_CHUNK_PROCESSING_COMPLETE"),
                ));
                f.push(("target", Num((*target).into())));
                chunk_fields(&mut f, chunk);
                f.push(("private_size", Num((*private_size).into())));
            }
            CallArgs::SendMessage {
                id,
                input_size,
                output_size,
                callback,
            } => {
                f.push(("id", Num(*id)));
                f.push(("input_size", Num((*input_size).into())));
                f.push(("output_size", Num((*output_size).into())));
                f.push(("callback", Bool(*callback)));
            }
            CallArgs::ReportChunkInfo { chunk, private } => {
                chunk_fields(&mut f, chunk);
                f.push(("private", Num((*private).into())));
            }
            CallArgs::QueryDeviceDescriptor { child_uid } => {
                f.push(("child_uid", Num((*child_uid).into())))
            }
            CallArgs::HandleKernelModeMessage {
                id,
                input_size,
                output_size,
            } => {
                f.push(("id", Num(*id)));
                f.push(("input_size", Num((*input_size).into())));
                f.push(("output_size", Num((*output_size).into())));
            }
            CallArgs::SendMessageCallback {
                id,
                status,
                information,
            } => {
                f.push(("id", Num(*id)));
                f.push(("status", Status(*status)));
                f.push(("information", Num(*information)));
            }
            CallArgs::DataRateNotify { stats } => {
                f.push(("stats", Name(if *stats { "present" } else { "null" })))
            }
            CallArgs::IoControl {
                hardware_access,
                input_size,
                output_size,
                op,
            } => {
                f.push(("hardware_access", Bool(*hardware_access)));
                f.push(("input_size", Num((*input_size).into())));
                f.push(("output_size", Num((*output_size).into())));
                if let Some(op) = op {
                    f.push(("op", Name(op.name())));
                }
            }
            CallArgs::ReportSessionStatus { status, diagnostic } => {
                f.push(("status", Name(status.c_name())));
                f.push(("diagnostic", StatusHex(*diagnostic)));
            }
            CallArgs::ReportStatistic(data) => match data {
                StatisticData::ChunkProcessingComplete(info) => {
                    f.push(("type", Name("CHUNK_PROCESSING_COMPLETE")));
                    chunk_fields(&mut f, info);
                }
                StatisticData::ChunkSent(id) => {
                    f.push(("type", Name("CHUNK_SENT")));
                    f.push(("frame", Num(id.frame_number())));
                    f.push(("part", Num(id.part_number())));
                }
                StatisticData::Event(e) => {
                    f.push(("type", Name("EVENT")));
                    f.push(("event", Name(protocol_event_name(*e))));
                }
            },
            CallArgs::GetNextChunkData {
                timeout_ms,
                events,
                buffer_size,
            } => {
                f.push(("timeout_ms", Num((*timeout_ms).into())));
                f.push(("events", Num((*events).into())));
                f.push(("buffer_size", Num((*buffer_size).into())));
            }
            CallArgs::RegisterDataRate { register } => f.push(("register", Bool(*register))),
        }
        f
    }

    /// The value of one field, rendered (`"MONITOR_ARRIVED"` for `op`), for scenario
    /// expectations.
    pub fn field(&self, key: &str) -> Option<String> {
        self.fields()
            .into_iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.to_string())
    }
}

impl CallOut {
    /// The fields in rendering order.
    pub fn fields(&self) -> Fields {
        use Field::*;
        let mut f: Fields = Vec::new();
        match self {
            CallOut::None => {}
            CallOut::Interface { size, version } => {
                f.push(("size", Num((*size).into())));
                f.push(("version", Num((*version).into())));
            }
            CallOut::StartDevice { number_of_children } => {
                f.push(("number_of_children", Num((*number_of_children).into())))
            }
            CallOut::Caps {
                bytes_written,
                max_chunk_private,
                hdcp,
            } => {
                f.push(("bytes_written", Num((*bytes_written).into())));
                f.push(("max_chunk_private", Num((*max_chunk_private).into())));
                f.push(("hdcp", Bool(*hdcp)));
            }
            CallOut::ChildStatus(s) => child_status_fields(&mut f, s),
            CallOut::MiracastContext { context, target_id } => {
                f.push(("context", Hex(context.0)));
                f.push(("target_id", Num((*target_id).into())));
            }
            CallOut::Context { context } => f.push(("context", Hex(context.0))),
            CallOut::SessionInfo {
                monitor_connected,
                reduced_mode_list,
                reserved,
            } => {
                f.push(("monitor_connected", Bool(*monitor_connected)));
                f.push(("reduced_mode_list", Bool(*reduced_mode_list)));
                f.push(("reserved", Num((*reserved).into())));
            }
            CallOut::Claimed { claimed } => f.push(("claimed", Bool(*claimed))),
            CallOut::BytesReturned { bytes_returned } => {
                f.push(("bytes_returned", Num((*bytes_returned).into())))
            }
            CallOut::Descriptor { bytes } => f.push(("bytes", Num((*bytes).into()))),
            CallOut::Chunks {
                size,
                outstanding,
                chunks,
                ids: _,
            } => {
                f.push(("size", Num((*size).into())));
                f.push(("outstanding", Num((*outstanding).into())));
                f.push(("chunks", Num((*chunks).into())));
            }
        }
        f
    }

    /// The value of one field, rendered, for scenario expectations.
    pub fn field(&self, key: &str) -> Option<String> {
        self.fields()
            .into_iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.to_string())
    }

    /// True when nothing besides the status is recorded.
    pub fn is_empty(&self) -> bool {
        matches!(self, CallOut::None)
    }
}

/// Renders fields as `key=value` pairs separated by spaces.
pub struct Rendered<'a>(pub &'a Fields);

impl fmt::Display for Rendered<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (k, v)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{k}={v}")?;
        }
        Ok(())
    }
}

impl fmt::Display for CallArgs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Rendered(&self.fields()).fmt(f)
    }
}

impl fmt::Display for CallOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Rendered(&self.fields()).fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_the_documented_names() {
        let args = CallArgs::IoControl {
            hardware_access: true,
            input_size: 8,
            output_size: 4,
            op: Some(IoctlMeaning::MonitorArrived),
        };
        assert_eq!(
            args.to_string(),
            "hardware_access=true input_size=8 output_size=4 op=MONITOR_ARRIVED"
        );
        assert_eq!(args.field("op").as_deref(), Some("MONITOR_ARRIVED"));
        let cb = CallArgs::SendMessageCallback {
            id: 3,
            status: NtStatus::STATUS_CANCELLED,
            information: 0,
        };
        assert_eq!(cb.to_string(), "id=3 status=STATUS_CANCELLED information=0");
        let chunk = ChunkInfo {
            chunk_type: ChunkType::EncodeComplete,
            chunk_id: ChunkId::new(7, 0).expect("in range"),
            processing_time: 100,
            encode_rate: 2_000,
        };
        assert_eq!(
            CallArgs::ReportChunkInfo { chunk, private: 0 }.to_string(),
            "chunk_type=EncodeComplete frame=7 part=0 processing_time=100 encode_rate=2000 private=0"
        );
        assert_eq!(CallOut::None.to_string(), "");
    }

    #[test]
    fn json_is_tagged_by_shape() {
        let v = serde_json::to_value(CallArgs::RegisterDataRate { register: true }).unwrap();
        assert_eq!(v["shape"], "register_data_rate");
        assert_eq!(v["register"], true);
        let status = ChildStatusRecord {
            child_uid: 7,
            arm: ChildStatusArm::StatusMiracastConnection {
                connected: true,
                monitor_type: VideoOutputTechnology::Hdmi,
            },
        };
        let v = serde_json::to_value(CallArgs::ChildStatus(status)).unwrap();
        assert_eq!(v["type"], "StatusMiracastConnection");
        assert_eq!(v["connected"], true);
    }
}
