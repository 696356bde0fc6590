//! What the source and sink state machines report ([`Event`]), and why a session ended
//! ([`CloseReason`]). One vocabulary for both roles; each variant says who emits it.
//!
//! How the UMD model maps these (WDK `MIRACAST_STATUS`):
//!
//! | Event / close reason at the source | UMD status |
//! |---|---|
//! | [`Event::KeepAliveMissed`], [`CloseReason::KeepAliveMissed`] | `MIRACAST_STATUS_MISSING_KEEPALIVE` |
//! | [`Event::SinkTeardownRequest`], [`CloseReason::SinkTeardown`] | `MIRACAST_STATUS_SINK_DISOCNNECT_REQUEST` |
//! | [`CloseReason::InsufficientBitRate`] | `StartMiracastSession` returns `STATUS_DEVICE_INSUFFICIENT_RESOURCES` |
//! | [`CloseReason::ReplyTimeout`], [`CloseReason::ErrorReply`], [`CloseReason::ProtocolError`], [`CloseReason::PeerClosed`] | `MIRACAST_STATUS_CRITICAL_ERROR` (or the start fails) |

use super::message::{ExchangeRecord, MessageKind};
use super::params::{ErrorList, TeardownReason};
use super::select::{NegotiatedSession, SelectionOutcome};

/// Something a state machine reports. Drained with `poll_event`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// Both: one RTSP message was sent or received.
    Exchange(ExchangeRecord),
    /// Source: the M3 reply was read and a format chosen (or refused). A `Selected` outcome
    /// is followed by M4; the others by [`Event::Closed`].
    Selection(Box<SelectionOutcome>),
    /// Source: M4 was accepted; capability negotiation is complete.
    Negotiated(Box<NegotiatedSession>),
    /// Sink: the source's M4 was accepted; what it chose.
    Configured(Box<SinkConfiguration>),
    /// Both: PLAY (M7) was answered 200; RTP may flow.
    Playing(PlayInfo),
    /// Both: PAUSE (M9) was answered 200.
    Paused,
    /// Source: the sink asked for an IDR picture (M13). Sink: its M13 was answered 200.
    IdrRequested,
    /// Source: a keep-alive (M16) was answered. Sink: it answered one.
    KeepAlive,
    /// Source: the sink did not answer a keep-alive in time.
    KeepAliveMissed,
    /// Source: the sink tore the session down on its own (M8 not prompted by our M5).
    SinkTeardownRequest {
        /// `microsoft_teardown_reason` from the M8 body, if any.
        reason: Option<TeardownReasonInfo>,
    },
    /// Source: the sink reported a monitor arriving or leaving. Simulator convention (no WFD
    /// message exists): a sink-originated SET_PARAMETER carrying `wfd_display_edid`, `none`
    /// for departure.
    MonitorChanged {
        /// True when a monitor is now attached.
        connected: bool,
        /// The new EDID bytes.
        edid: Option<Vec<u8>>,
    },
    /// Both: a request was not answered within the reply timeout.
    ReplyTimeout {
        /// The request.
        waiting_for: MessageKind,
    },
    /// Both: the peer answered a request with a non-2xx status.
    ErrorReply {
        /// The request.
        to: MessageKind,
        /// The status.
        status: u16,
        /// Per-parameter codes of a 303 body (empty otherwise).
        parameters: ErrorList,
    },
    /// Both: the peer sent something unreadable or unusable.
    ProtocolError {
        /// What was wrong.
        message: String,
    },
    /// Both: the peer departed from the WFD grammar and we tolerated it.
    PeerWarning {
        /// The peer's `Server` (or `User-Agent`) header, when it sent one.
        peer: Option<String>,
        /// What it did.
        what: String,
    },
    /// Both: the session is over; nothing more will be sent. Always the last event.
    Closed(CloseReason),
}

/// `microsoft_teardown_reason`, serialisable.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TeardownReasonInfo {
    /// The HRESULT.
    pub code: u32,
    /// The text.
    pub reason: String,
}

impl From<TeardownReason> for TeardownReasonInfo {
    fn from(r: TeardownReason) -> Self {
        TeardownReasonInfo {
            code: r.code,
            reason: r.reason,
        }
    }
}

/// What the sink was told in M4.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SinkConfiguration {
    /// `wfd_video_formats` as chosen (canonical text), if sent.
    pub video: Option<String>,
    /// The chosen mode, when exactly one was given.
    pub video_mode: Option<String>,
    /// The same mode, typed.
    #[serde(default)]
    pub chosen_mode: Option<super::params::VideoMode>,
    /// `wfd_audio_codecs` as chosen, if sent.
    pub audio: Option<String>,
    /// The presentation URL for M6..M9.
    pub presentation_url: Option<String>,
}

/// Facts about a started stream.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PlayInfo {
    /// Session id from the SETUP reply.
    pub session_id: String,
    /// Session timeout in seconds.
    pub timeout_s: u32,
    /// The sink's RTP port.
    pub sink_rtp_port: u16,
    /// The source's RTP port (`server_port`), when known.
    pub source_rtp_port: Option<u16>,
}

/// Why a session ended.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum CloseReason {
    /// Orderly teardown (M5 TEARDOWN and/or M8 answered), or the source's 2 s wait for M8
    /// after its trigger ran out.
    TeardownComplete,
    /// Source: the sink sent TEARDOWN unprompted.
    SinkTeardown,
    /// The TCP connection closed.
    PeerClosed {
        /// The phase we were in.
        during: String,
    },
    /// A reply never came.
    ReplyTimeout {
        /// The request.
        waiting_for: MessageKind,
    },
    /// Source: a keep-alive was not answered.
    KeepAliveMissed,
    /// Sink: the source stopped sending keep-alives for longer than the session timeout.
    KeepAliveTimeout,
    /// The peer answered with an error status we cannot continue after.
    ErrorReply {
        /// The request.
        to: MessageKind,
        /// The status.
        status: u16,
    },
    /// The peer sent something unreadable or unusable.
    ProtocolError {
        /// What was wrong.
        message: String,
    },
    /// Source: a monitor is attached and the bit rate cannot carry 1024×768.
    InsufficientBitRate {
        /// Bit rate 1024×768 needs.
        required_bps: u64,
        /// The suggested bit rate.
        available_bps: u64,
    },
    /// Source: no usable common format.
    NoCommonFormat {
        /// Why.
        detail: String,
    },
    /// Source: the sink requires HDCP and the policy says to refuse.
    HdcpRequired,
    /// Sink: a configured fault closed the connection after a message.
    FaultInjected {
        /// The message after which it closed.
        after: MessageKind,
    },
    /// The local side asked to stop before a session existed.
    LocalClose,
}

impl CloseReason {
    /// Short text for logs.
    pub fn describe(&self) -> String {
        match self {
            CloseReason::TeardownComplete => "teardown complete".to_owned(),
            CloseReason::SinkTeardown => "sink requested teardown".to_owned(),
            CloseReason::PeerClosed { during } => {
                format!("peer closed the connection during {during}")
            }
            CloseReason::ReplyTimeout { waiting_for } => format!("no reply to {waiting_for}"),
            CloseReason::KeepAliveMissed => "keep-alive (M16) not answered".to_owned(),
            CloseReason::KeepAliveTimeout => "no keep-alive from the source".to_owned(),
            CloseReason::ErrorReply { to, status } => format!("{to} answered {status}"),
            CloseReason::ProtocolError { message } => format!("protocol error: {message}"),
            CloseReason::InsufficientBitRate {
                required_bps,
                available_bps,
            } => format!(
                "insufficient bit rate for 1024x768 ({available_bps} bit/s offered, {required_bps} needed)"
            ),
            CloseReason::NoCommonFormat { detail } => format!("no common format: {detail}"),
            CloseReason::HdcpRequired => {
                "sink requires HDCP, which the source does not do".to_owned()
            }
            CloseReason::FaultInjected { after } => format!("fault: sink closed after {after}"),
            CloseReason::LocalClose => "closed locally".to_owned(),
        }
    }
}
