//! Conversions between the C values of [`super::ffi`] and the Rust types of
//! [`crate::ddi::types`]. Values a driver may hand back outside the documented enumerators map to
//! the closest "not set" value; the caller notes it when it matters.

#![allow(unsafe_code)]

use super::ffi;
use crate::ddi::*;

pub(crate) fn chunk_type(value: u32) -> ChunkType {
    match value {
        1 => ChunkType::ColorConvertComplete,
        2 => ChunkType::EncodeComplete,
        3 => ChunkType::FrameStart,
        4 => ChunkType::FrameDropped,
        0x8000_0000 => ChunkType::EncodeDriverDefined1,
        0x8000_0001 => ChunkType::EncodeDriverDefined2,
        _ => ChunkType::Unknown,
    }
}

pub(crate) fn chunk_info_from_kmd(c: &ffi::DXGK_MIRACAST_CHUNK_INFO) -> ChunkInfo {
    ChunkInfo {
        chunk_type: chunk_type(c.ChunkType.0),
        chunk_id: ChunkId(c.ChunkId.Value),
        processing_time: c.ProcessingTime,
        encode_rate: c.EncodeRate,
    }
}

pub(crate) fn chunk_info_from_umd(c: &ffi::MIRACAST_CHUNK_INFO) -> ChunkInfo {
    ChunkInfo {
        chunk_type: chunk_type(c.ChunkType.0),
        chunk_id: ChunkId(c.ChunkId.Value),
        processing_time: c.ProcessingTime,
        encode_rate: c.EncodeRate,
    }
}

pub(crate) fn chunk_info_to_umd(c: &ChunkInfo) -> ffi::MIRACAST_CHUNK_INFO {
    ffi::MIRACAST_CHUNK_INFO {
        ChunkType: ffi::MIRACAST_CHUNK_TYPE(c.chunk_type as u32),
        ChunkId: ffi::MIRACAST_CHUNK_ID {
            Value: c.chunk_id.0,
        },
        ProcessingTime: c.processing_time,
        EncodeRate: c.encode_rate,
    }
}

pub(crate) fn video_output_technology(value: i32) -> Option<VideoOutputTechnology> {
    use VideoOutputTechnology as V;
    Some(match value {
        -2 => V::Uninitialized,
        -1 => V::Other,
        0 => V::Hd15,
        1 => V::Svideo,
        2 => V::CompositeVideo,
        3 => V::ComponentVideo,
        4 => V::Dvi,
        5 => V::Hdmi,
        6 => V::Lvds,
        8 => V::DJpn,
        9 => V::Sdi,
        10 => V::DisplayportExternal,
        11 => V::DisplayportEmbedded,
        12 => V::UdiExternal,
        13 => V::UdiEmbedded,
        14 => V::Sdtvdongle,
        15 => V::Miracast,
        16 => V::IndirectWired,
        i32::MIN => V::Internal,
        _ => return None,
    })
}

pub(crate) fn miracast_status(value: u32) -> Option<MiracastStatus> {
    use MiracastStatus as M;
    Some(match value {
        0 => M::CriticalError,
        1 => M::MissingKeepalive,
        2 => M::SinkDisocnnectRequest,
        3 => M::InsufficientBandwidth,
        4 => M::SinkFailedStandardModeChange,
        5 => M::CompanionDriverDisconnect,
        _ => return None,
    })
}

pub(crate) fn protocol_event(value: u32) -> Option<ProtocolEvent> {
    Some(match value {
        0 => ProtocolEvent::IframeRq,
        1 => ProtocolEvent::MonitorArrive,
        2 => ProtocolEvent::MonitorDepart,
        3 => ProtocolEvent::SinkFailedPreferredModeChange,
        _ => return None,
    })
}

fn child_device_type(value: u32) -> ChildDeviceType {
    match value {
        1 => ChildDeviceType::VideoOutput,
        2 => ChildDeviceType::Other,
        3 => ChildDeviceType::IntegratedDisplay,
        _ => ChildDeviceType::Uninitialized,
    }
}

fn hpd_awareness(value: u32) -> HpdAwareness {
    match value {
        1 => HpdAwareness::AlwaysConnected,
        2 => HpdAwareness::None,
        3 => HpdAwareness::Polled,
        4 => HpdAwareness::Interruptible,
        _ => HpdAwareness::Uninitialized,
    }
}

/// A child descriptor as the KMD wrote it. A terminator the KMD wrote into with values outside
/// the enumerators still compares as not zeroed (R6): the raw bytes decide.
pub(crate) fn child_descriptor(c: &ffi::DXGK_CHILD_DESCRIPTOR, raw_zero: bool) -> ChildDescriptor {
    // SAFETY: every arm of the `Type` union starts with a 32-bit integer, and the descriptors
    // were zeroed before the driver wrote them, so these four bytes are initialized whatever arm
    // the driver used; any bit pattern is a valid `i32`.
    let technology = unsafe { c.ChildCapabilities.Type.VideoOutput.InterfaceTechnology.0 };
    let d = ChildDescriptor {
        child_device_type: child_device_type(c.ChildDeviceType.0),
        interface_technology: video_output_technology(technology)
            .unwrap_or(VideoOutputTechnology::Other),
        hpd_awareness: hpd_awareness(c.ChildCapabilities.HpdAwareness.0),
        acpi_uid: c.AcpiUid,
        child_uid: c.ChildUid,
    };
    if !raw_zero && d.is_zeroed() {
        ChildDescriptor {
            acpi_uid: u32::MAX,
            ..d
        }
    } else {
        d
    }
}

/// The bytes of a C structure that was zeroed before C code wrote it (so padding is
/// initialized too).
pub(crate) fn bytes_of_zeroed<T: Copy>(t: &T) -> Vec<u8> {
    let mut out = vec![0u8; std::mem::size_of::<T>()];
    // SAFETY: `t` is a valid `T`, `out` has exactly `size_of::<T>()` bytes, and every byte of
    // `t` is initialized because the caller zeroed the whole structure before the driver wrote
    // into it.
    unsafe {
        std::ptr::copy_nonoverlapping((t as *const T).cast::<u8>(), out.as_mut_ptr(), out.len());
    }
    out
}

pub(crate) fn child_status_to_c(s: &ChildStatus) -> ffi::DXGK_CHILD_STATUS {
    let mut c = ffi::DXGK_CHILD_STATUS {
        ChildUid: s.child_uid,
        ..Default::default()
    };
    match s.status {
        ChildStatusKind::Uninitialized => c.Type = ffi::DXGK_CHILD_STATUS_TYPE(0),
        ChildStatusKind::Connection { connected } => {
            c.Type = ffi::DXGK_CHILD_STATUS_TYPE(1);
            c.u.HotPlug = ffi::DXGK_CHILD_STATUS_HotPlug {
                Connected: u8::from(connected),
            };
        }
        ChildStatusKind::Rotation { angle } => {
            c.Type = ffi::DXGK_CHILD_STATUS_TYPE(2);
            c.u.Rotation = ffi::DXGK_CHILD_STATUS_Rotation { Angle: angle };
        }
        ChildStatusKind::MiracastConnection {
            connected,
            monitor_type,
        } => {
            c.Type = ffi::DXGK_CHILD_STATUS_TYPE(3);
            c.u.Miracast = ffi::DXGK_CHILD_STATUS_Miracast {
                Connected: u8::from(connected),
                MiracastMonitorType: ffi::D3DKMDT_VIDEO_OUTPUT_TECHNOLOGY(monitor_type.value()),
            };
        }
    }
    c
}

pub(crate) fn child_status_from_c(c: &ffi::DXGK_CHILD_STATUS) -> ChildStatus {
    // SAFETY: the arms are plain integers (any bit pattern is valid) and the structure comes
    // either from C memory the driver filled or from `child_status_to_c`, which starts from a
    // default value that writes the widest arm (`Miracast`), so the bytes read are initialized.
    let miracast = unsafe { c.u.Miracast };
    let connected = miracast.Connected != 0;
    let monitor = miracast.MiracastMonitorType.0;
    let status = match c.Type.0 {
        1 => ChildStatusKind::Connection { connected },
        2 => ChildStatusKind::Rotation {
            angle: miracast.Connected,
        },
        3 => ChildStatusKind::MiracastConnection {
            connected,
            monitor_type: video_output_technology(monitor)
                .unwrap_or(VideoOutputTechnology::Uninitialized),
        },
        _ => ChildStatusKind::Uninitialized,
    };
    ChildStatus {
        child_uid: c.ChildUid,
        status,
    }
}
