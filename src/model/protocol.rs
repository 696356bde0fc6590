//! The private UMD<->KMD protocol of the reference drivers.
//!
//! The payloads of `MiracastIoControl` (UMD -> KMD) and `DxgkCbMiracastSendMessage`
//! (KMD -> UMD) are private to a vendor (ddi-facts G12). This module defines ours, so that the
//! reference drivers can talk to each other and scenarios can script raw messages.
//!
//! # Wire format
//!
//! Every frame, in both directions, is little-endian:
//!
//! ```text
//! offset 0  magic   [u8; 4]   b"MCIO" for IOCTLs (UMD -> KMD), b"MCKM" for kernel messages
//! offset 4  op      u32       the operation or message kind (tables below)
//! offset 8  len     u32       payload length in bytes; the frame is exactly 12 + len bytes
//! offset 12 payload [u8; len]
//! ```
//!
//! IOCTL operations (`MiracastIoControl` input), each valid with `HardwareAccess` TRUE or FALSE:
//!
//! | op | name | payload | KMD output |
//! |---|---|---|---|
//! | 1 | `MONITOR_ARRIVED` | `i32` monitor type (`D3DKMDT_VIDEO_OUTPUT_TECHNOLOGY`), `u32` EDID length, EDID bytes | none |
//! | 2 | `MONITOR_DEPARTED` | empty | none |
//! | 3 | `SINK_INFO` | `u32` width, `u32` height, `u32` refresh Hz, `u32` flags (bit 0 HDCP, bit 1 reduced mode list), `u64` encoder bit/s | none |
//! | 4 | `QUERY_STATUS` | empty | [`KmdStatusReply`], 16 bytes |
//! | 5 | `REQUEST_IFRAME` | empty | none |
//!
//! Kernel messages (`DxgkCbMiracastSendMessage` input, delivered to `HandleKernelModeMessage`):
//!
//! | kind | name | payload | UMD output |
//! |---|---|---|---|
//! | 1 | `POWER_OFF_MONITOR` | empty | none |
//! | 2 | `POWER_ON_MONITOR` | empty | none |
//! | 3 | `PING` | `u32` seq, then any bytes | the whole input frame echoed, truncated to the output buffer |
//!
//! Decoding is strict: a wrong magic, an unknown op, a length that disagrees with the frame, a
//! short payload or trailing bytes are all [`ProtocolError`]s, which the drivers answer with
//! `STATUS_INVALID_PARAMETER` (R23: the KMD checks sizes itself).

use crate::ddi::VideoOutputTechnology;
use thiserror::Error;

/// Magic of a UMD -> KMD IOCTL frame.
pub const IOCTL_MAGIC: [u8; 4] = *b"MCIO";
/// Magic of a KMD -> UMD message frame.
pub const MESSAGE_MAGIC: [u8; 4] = *b"MCKM";
/// Bytes of the frame header (magic, op, length).
pub const HEADER_SIZE: usize = 12;
/// Largest payload either side accepts (an EDID has at most 256 blocks of 128 bytes).
pub const MAX_PAYLOAD: usize = 256 * 128 + 64;

/// Why a frame did not decode.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum ProtocolError {
    /// Fewer bytes than a header.
    #[error("frame of {got} bytes is shorter than the {HEADER_SIZE}-byte header")]
    ShortHeader {
        /// Bytes received.
        got: usize,
    },
    /// The magic is not the one of this direction.
    #[error("bad magic {found:02x?}")]
    BadMagic {
        /// The first four bytes.
        found: [u8; 4],
    },
    /// An op or kind this protocol does not define.
    #[error("unknown operation {0}")]
    UnknownOp(u32),
    /// The header's length disagrees with the bytes after it.
    #[error("header says {declared} payload bytes, frame carries {actual}")]
    LengthMismatch {
        /// Length in the header.
        declared: u32,
        /// Bytes after the header.
        actual: usize,
    },
    /// The payload is larger than [`MAX_PAYLOAD`].
    #[error("payload of {0} bytes exceeds the limit")]
    TooLarge(usize),
    /// The payload is too short for its operation.
    #[error("{op} payload needs {need} bytes, has {got}")]
    ShortPayload {
        /// Operation name.
        op: &'static str,
        /// Bytes needed.
        need: usize,
        /// Bytes present.
        got: usize,
    },
    /// The payload has bytes after its last field.
    #[error("{op} payload has {extra} trailing bytes")]
    TrailingBytes {
        /// Operation name.
        op: &'static str,
        /// Extra bytes.
        extra: usize,
    },
    /// A monitor type that is not a `D3DKMDT_VIDEO_OUTPUT_TECHNOLOGY` value, or that cannot
    /// describe a connected monitor (R10: never `UNINITIALIZED`).
    #[error("monitor type {0} is not a valid connector")]
    BadMonitorType(i32),
}

/// What the sink reported about itself and the chosen mode (`SINK_INFO`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SinkInfo {
    /// Width of the chosen mode.
    pub width: u32,
    /// Height of the chosen mode.
    pub height: u32,
    /// Refresh rate of the chosen mode in Hz.
    pub refresh_hz: u32,
    /// The sink supports HDCP.
    pub hdcp: bool,
    /// The UMD trimmed the mode list because of the encode rate.
    pub reduced_mode_list: bool,
    /// Encoder bit rate the UMD uses, bit/s.
    pub encoder_bit_rate: u64,
}

/// A `MiracastIoControl` request of the reference UMD.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IoctlRequest {
    /// A monitor is behind the sink (R11): the KMD reports arrival (R10) and keeps the EDID
    /// for `DxgkDdiQueryDeviceDescriptor` (R15).
    MonitorArrived {
        /// The connector between sink and monitor (`D3DKMDT_VOT_MIRACAST` if built in).
        monitor_type: VideoOutputTechnology,
        /// The monitor's EDID (may be empty when the sink gave none).
        edid: Vec<u8>,
    },
    /// The monitor behind the sink went away: the KMD reports departure.
    MonitorDeparted,
    /// The negotiated sink description.
    SinkInfo(SinkInfo),
    /// Asks the KMD for its view, answered with a [`KmdStatusReply`].
    QueryStatus,
    /// Asks the encoder for a fresh IDR frame (after `STATUS_CONNECTION_RESET`, R53, or a sink
    /// request).
    RequestIframe,
}

/// The KMD's answer to `QUERY_STATUS`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KmdStatusReply {
    /// The KMD has reported the monitor connected.
    pub monitor_connected: bool,
    /// The last monitor type reported.
    pub monitor_type: VideoOutputTechnology,
    /// Kernel messages sent whose completion routine has not run yet.
    pub messages_in_flight: u32,
    /// I-frame requests received.
    pub iframe_requests: u32,
}

impl KmdStatusReply {
    /// Encoded size.
    pub const SIZE: usize = 16;

    /// Encodes the reply.
    pub fn encode(&self) -> [u8; Self::SIZE] {
        let mut out = [0u8; Self::SIZE];
        out[0..4].copy_from_slice(&u32::from(self.monitor_connected).to_le_bytes());
        out[4..8].copy_from_slice(&self.monitor_type.value().to_le_bytes());
        out[8..12].copy_from_slice(&self.messages_in_flight.to_le_bytes());
        out[12..16].copy_from_slice(&self.iframe_requests.to_le_bytes());
        out
    }

    /// Decodes a reply.
    pub fn decode(bytes: &[u8]) -> Result<Self, ProtocolError> {
        let mut r = Reader::new("QUERY_STATUS reply", bytes);
        let connected = r.u32()?;
        let monitor_type = vot_from_value(r.i32()?)?;
        let reply = KmdStatusReply {
            monitor_connected: connected != 0,
            monitor_type,
            messages_in_flight: r.u32()?,
            iframe_requests: r.u32()?,
        };
        r.finish()?;
        Ok(reply)
    }
}

/// A kernel message of the reference KMD.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KmdMessage {
    /// A VidPN commit powered the Miracast monitor off (R31): put the sink into standby.
    PowerOffMonitor,
    /// A VidPN commit powered it on again: wake the sink.
    PowerOnMonitor,
    /// A test message (scenario escapes): the UMD echoes the frame into the output buffer.
    Ping {
        /// Sequence number chosen by the sender.
        seq: u32,
        /// Extra bytes, echoed too.
        data: Vec<u8>,
    },
}

const OP_MONITOR_ARRIVED: u32 = 1;
const OP_MONITOR_DEPARTED: u32 = 2;
const OP_SINK_INFO: u32 = 3;
const OP_QUERY_STATUS: u32 = 4;
const OP_REQUEST_IFRAME: u32 = 5;

const KIND_POWER_OFF_MONITOR: u32 = 1;
const KIND_POWER_ON_MONITOR: u32 = 2;
const KIND_PING: u32 = 3;

fn ioctl_name(op: u32) -> Option<&'static str> {
    Some(match op {
        OP_MONITOR_ARRIVED => "MONITOR_ARRIVED",
        OP_MONITOR_DEPARTED => "MONITOR_DEPARTED",
        OP_SINK_INFO => "SINK_INFO",
        OP_QUERY_STATUS => "QUERY_STATUS",
        OP_REQUEST_IFRAME => "REQUEST_IFRAME",
        _ => return None,
    })
}

fn message_name(kind: u32) -> Option<&'static str> {
    Some(match kind {
        KIND_POWER_OFF_MONITOR => "POWER_OFF_MONITOR",
        KIND_POWER_ON_MONITOR => "POWER_ON_MONITOR",
        KIND_PING => "PING",
        _ => return None,
    })
}

/// The operation name of an IOCTL frame (`MONITOR_ARRIVED`, ...), for traces (`op=...`).
/// `None` when the header is not one of ours; a known header with a bad payload still names
/// its operation.
pub fn describe_ioctl(input: &[u8]) -> Option<&'static str> {
    header(input, IOCTL_MAGIC)
        .ok()
        .and_then(|(op, _)| ioctl_name(op))
}

/// The kind name of a kernel message frame (`POWER_OFF_MONITOR`, ...), for traces.
pub fn describe_message(input: &[u8]) -> Option<&'static str> {
    header(input, MESSAGE_MAGIC)
        .ok()
        .and_then(|(kind, _)| message_name(kind))
}

/// Checks magic and length; returns the op and the payload.
fn header(bytes: &[u8], magic: [u8; 4]) -> Result<(u32, &[u8]), ProtocolError> {
    if bytes.len() < HEADER_SIZE {
        return Err(ProtocolError::ShortHeader { got: bytes.len() });
    }
    let found: [u8; 4] = bytes[0..4].try_into().expect("four bytes");
    if found != magic {
        return Err(ProtocolError::BadMagic { found });
    }
    let op = u32::from_le_bytes(bytes[4..8].try_into().expect("four bytes"));
    let declared = u32::from_le_bytes(bytes[8..12].try_into().expect("four bytes"));
    let payload = &bytes[HEADER_SIZE..];
    if declared as usize != payload.len() {
        return Err(ProtocolError::LengthMismatch {
            declared,
            actual: payload.len(),
        });
    }
    if payload.len() > MAX_PAYLOAD {
        return Err(ProtocolError::TooLarge(payload.len()));
    }
    Ok((op, payload))
}

fn frame(magic: [u8; 4], op: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_SIZE + payload.len());
    out.extend_from_slice(&magic);
    out.extend_from_slice(&op.to_le_bytes());
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(payload);
    out
}

/// Every `D3DKMDT_VIDEO_OUTPUT_TECHNOLOGY` value, for decoding.
const ALL_VOT: [VideoOutputTechnology; 19] = [
    VideoOutputTechnology::Uninitialized,
    VideoOutputTechnology::Other,
    VideoOutputTechnology::Hd15,
    VideoOutputTechnology::Svideo,
    VideoOutputTechnology::CompositeVideo,
    VideoOutputTechnology::ComponentVideo,
    VideoOutputTechnology::Dvi,
    VideoOutputTechnology::Hdmi,
    VideoOutputTechnology::Lvds,
    VideoOutputTechnology::DJpn,
    VideoOutputTechnology::Sdi,
    VideoOutputTechnology::DisplayportExternal,
    VideoOutputTechnology::DisplayportEmbedded,
    VideoOutputTechnology::UdiExternal,
    VideoOutputTechnology::UdiEmbedded,
    VideoOutputTechnology::Sdtvdongle,
    VideoOutputTechnology::Miracast,
    VideoOutputTechnology::IndirectWired,
    VideoOutputTechnology::Internal,
];

fn vot_from_value(value: i32) -> Result<VideoOutputTechnology, ProtocolError> {
    ALL_VOT
        .into_iter()
        .find(|v| v.value() == value)
        .ok_or(ProtocolError::BadMonitorType(value))
}

/// A bounds-checked little-endian reader over a payload.
struct Reader<'a> {
    op: &'static str,
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn new(op: &'static str, bytes: &'a [u8]) -> Self {
        Reader { op, bytes, at: 0 }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], ProtocolError> {
        let end = self.at.checked_add(n).filter(|e| *e <= self.bytes.len());
        let Some(end) = end else {
            return Err(ProtocolError::ShortPayload {
                op: self.op,
                need: self.at.saturating_add(n),
                got: self.bytes.len(),
            });
        };
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }

    fn u32(&mut self) -> Result<u32, ProtocolError> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().expect("four bytes"),
        ))
    }

    fn i32(&mut self) -> Result<i32, ProtocolError> {
        Ok(i32::from_le_bytes(
            self.take(4)?.try_into().expect("four bytes"),
        ))
    }

    fn u64(&mut self) -> Result<u64, ProtocolError> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().expect("eight bytes"),
        ))
    }

    fn rest(&mut self) -> &'a [u8] {
        let out = &self.bytes[self.at..];
        self.at = self.bytes.len();
        out
    }

    fn finish(self) -> Result<(), ProtocolError> {
        match self.bytes.len() - self.at {
            0 => Ok(()),
            extra => Err(ProtocolError::TrailingBytes { op: self.op, extra }),
        }
    }
}

impl IoctlRequest {
    /// The operation name, as [`describe_ioctl`] gives it.
    pub fn name(&self) -> &'static str {
        ioctl_name(self.op()).expect("every request has a name")
    }

    fn op(&self) -> u32 {
        match self {
            Self::MonitorArrived { .. } => OP_MONITOR_ARRIVED,
            Self::MonitorDeparted => OP_MONITOR_DEPARTED,
            Self::SinkInfo(_) => OP_SINK_INFO,
            Self::QueryStatus => OP_QUERY_STATUS,
            Self::RequestIframe => OP_REQUEST_IFRAME,
        }
    }

    /// Encodes the request as an IOCTL frame.
    pub fn encode(&self) -> Vec<u8> {
        let mut payload = Vec::new();
        match self {
            Self::MonitorArrived { monitor_type, edid } => {
                payload.extend_from_slice(&monitor_type.value().to_le_bytes());
                payload.extend_from_slice(&(edid.len() as u32).to_le_bytes());
                payload.extend_from_slice(edid);
            }
            Self::SinkInfo(info) => {
                let flags = u32::from(info.hdcp) | (u32::from(info.reduced_mode_list) << 1);
                for v in [info.width, info.height, info.refresh_hz, flags] {
                    payload.extend_from_slice(&v.to_le_bytes());
                }
                payload.extend_from_slice(&info.encoder_bit_rate.to_le_bytes());
            }
            Self::MonitorDeparted | Self::QueryStatus | Self::RequestIframe => {}
        }
        frame(IOCTL_MAGIC, self.op(), &payload)
    }

    /// Decodes an IOCTL frame.
    pub fn decode(bytes: &[u8]) -> Result<Self, ProtocolError> {
        let (op, payload) = header(bytes, IOCTL_MAGIC)?;
        let name = ioctl_name(op).ok_or(ProtocolError::UnknownOp(op))?;
        let mut r = Reader::new(name, payload);
        let request = match op {
            OP_MONITOR_ARRIVED => {
                let value = r.i32()?;
                let monitor_type = vot_from_value(value)?;
                if monitor_type == VideoOutputTechnology::Uninitialized {
                    return Err(ProtocolError::BadMonitorType(value));
                }
                let len = r.u32()? as usize;
                let edid = r.take(len)?.to_vec();
                Self::MonitorArrived { monitor_type, edid }
            }
            OP_MONITOR_DEPARTED => Self::MonitorDeparted,
            OP_SINK_INFO => {
                let (width, height, refresh_hz, flags) = (r.u32()?, r.u32()?, r.u32()?, r.u32()?);
                Self::SinkInfo(SinkInfo {
                    width,
                    height,
                    refresh_hz,
                    hdcp: flags & 1 != 0,
                    reduced_mode_list: flags & 2 != 0,
                    encoder_bit_rate: r.u64()?,
                })
            }
            OP_QUERY_STATUS => Self::QueryStatus,
            OP_REQUEST_IFRAME => Self::RequestIframe,
            _ => unreachable!("ioctl_name accepted only known ops"),
        };
        r.finish()?;
        Ok(request)
    }
}

impl KmdMessage {
    /// The kind name, as [`describe_message`] gives it.
    pub fn name(&self) -> &'static str {
        message_name(self.kind()).expect("every message has a name")
    }

    fn kind(&self) -> u32 {
        match self {
            Self::PowerOffMonitor => KIND_POWER_OFF_MONITOR,
            Self::PowerOnMonitor => KIND_POWER_ON_MONITOR,
            Self::Ping { .. } => KIND_PING,
        }
    }

    /// Encodes the message as a kernel message frame.
    pub fn encode(&self) -> Vec<u8> {
        let mut payload = Vec::new();
        if let Self::Ping { seq, data } = self {
            payload.extend_from_slice(&seq.to_le_bytes());
            payload.extend_from_slice(data);
        }
        frame(MESSAGE_MAGIC, self.kind(), &payload)
    }

    /// Decodes a kernel message frame.
    pub fn decode(bytes: &[u8]) -> Result<Self, ProtocolError> {
        let (kind, payload) = header(bytes, MESSAGE_MAGIC)?;
        let name = message_name(kind).ok_or(ProtocolError::UnknownOp(kind))?;
        let mut r = Reader::new(name, payload);
        let message = match kind {
            KIND_POWER_OFF_MONITOR => Self::PowerOffMonitor,
            KIND_POWER_ON_MONITOR => Self::PowerOnMonitor,
            KIND_PING => Self::Ping {
                seq: r.u32()?,
                data: r.rest().to_vec(),
            },
            _ => unreachable!("message_name accepted only known kinds"),
        };
        r.finish()?;
        Ok(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monitor_arrived_layout_is_documented() {
        let bytes = IoctlRequest::MonitorArrived {
            monitor_type: VideoOutputTechnology::Hdmi,
            edid: vec![0xAA, 0xBB],
        }
        .encode();
        assert_eq!(
            bytes,
            [
                b'M', b'C', b'I', b'O', 1, 0, 0, 0, 10, 0, 0, 0, 5, 0, 0, 0, 2, 0, 0, 0, 0xAA, 0xBB
            ]
        );
        assert_eq!(describe_ioctl(&bytes), Some("MONITOR_ARRIVED"));
    }

    #[test]
    fn uninitialized_monitor_type_is_rejected() {
        let mut bytes = IoctlRequest::MonitorArrived {
            monitor_type: VideoOutputTechnology::Hdmi,
            edid: vec![],
        }
        .encode();
        bytes[12..16].copy_from_slice(&(-2i32).to_le_bytes());
        assert_eq!(
            IoctlRequest::decode(&bytes),
            Err(ProtocolError::BadMonitorType(-2))
        );
        // The op is still named for traces.
        assert_eq!(describe_ioctl(&bytes), Some("MONITOR_ARRIVED"));
    }

    #[test]
    fn directions_do_not_mix() {
        let ping = KmdMessage::Ping {
            seq: 7,
            data: vec![],
        }
        .encode();
        assert_eq!(describe_ioctl(&ping), None);
        assert_eq!(describe_message(&ping), Some("PING"));
        assert!(matches!(
            IoctlRequest::decode(&ping),
            Err(ProtocolError::BadMagic { .. })
        ));
    }
}
