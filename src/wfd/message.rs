//! RTSP messages as WFD uses them: framing on `rtsp-types`' incremental parser with a bounded
//! size, the M1..M16 classification, header helpers (`Session`, `Transport`, `Public`), and
//! the exchange log record.
//!
//! Parsing goes through [`rtsp_types::Message::parse`], whose errors are opaque; [`Framer`]
//! checks sizes before calling it and wraps its failures in [`MessageError`] with the first
//! line and a diagnosis. Writing is done here ([`RtspMessage::to_bytes`]) so that header order
//! (CSeq first) and spelling are under our control; everything written parses back through
//! `rtsp-types`.

use std::fmt;

use rtsp_types::Method;

use super::params::{ParameterList, body::BodyError};
use crate::time::SimTime;

/// Default bound on one RTSP message (headers + body). The largest real message in the
/// vectors is a 1.2 KB M3 reply; an EDID of 4 blocks adds 1 KB. 64 KiB leaves ample room.
pub const DEFAULT_MAX_MESSAGE: usize = 64 * 1024;

/// The `Require`/`Public` token that identifies Wi-Fi Display.
pub const WFD_TOKEN: &str = "org.wfa.wfd1.0";

/// The request URI of source-originated requests.
pub const LOCALHOST_URI: &str = "rtsp://localhost/wfd1.0";

/// Which WFD message a request is (M-numbers are not on the wire; this is libwds'
/// classification by method and parameters, reference section 2).
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
pub enum MessageKind {
    /// OPTIONS, source to sink.
    M1,
    /// OPTIONS, sink to source.
    M2,
    /// GET_PARAMETER with a body (capability query).
    M3,
    /// SET_PARAMETER with `wfd_presentation_URL` or `wfd_av_format_change_timing`.
    M4,
    /// SET_PARAMETER with `wfd_trigger_method`.
    M5,
    /// SETUP.
    M6,
    /// PLAY.
    M7,
    /// TEARDOWN.
    M8,
    /// PAUSE.
    M9,
    /// SET_PARAMETER with `wfd_route`.
    M10,
    /// SET_PARAMETER with `wfd_connector_type`.
    M11,
    /// SET_PARAMETER with `wfd_standby`.
    M12,
    /// SET_PARAMETER with `wfd_idr_request`.
    M13,
    /// SET_PARAMETER with `wfd_uibc_capability`.
    M14,
    /// SET_PARAMETER with `wfd_uibc_setting`.
    M15,
    /// GET_PARAMETER without a body (keep-alive).
    M16,
    /// Anything else (vendor SET_PARAMETER/GET_PARAMETER, unknown methods).
    #[serde(rename = "other")]
    Other,
}

impl MessageKind {
    /// Who sends this request in a conforming session (`None` for `Other`).
    pub fn sender(self) -> Option<Role> {
        use MessageKind::*;
        match self {
            M1 | M3 | M4 | M5 | M10 | M11 | M12 | M14 | M15 | M16 => Some(Role::Source),
            M2 | M6 | M7 | M8 | M9 | M13 => Some(Role::Sink),
            Other => None,
        }
    }

    /// Classifies a request by method, sender (needed only for OPTIONS) and body.
    pub fn of_request(method: &Method, sender: Role, params: &ParameterList) -> MessageKind {
        use super::params::names as n;
        match method {
            Method::Options => match sender {
                Role::Source => MessageKind::M1,
                Role::Sink => MessageKind::M2,
            },
            Method::GetParameter if params.is_empty() => MessageKind::M16,
            Method::GetParameter => MessageKind::M3,
            Method::Setup => MessageKind::M6,
            Method::Play => MessageKind::M7,
            Method::Teardown => MessageKind::M8,
            Method::Pause => MessageKind::M9,
            Method::SetParameter => {
                let has = |name| params.contains(name);
                if has(n::PRESENTATION_URL) || has(n::AV_FORMAT_CHANGE_TIMING) {
                    MessageKind::M4
                } else if has(n::TRIGGER_METHOD) {
                    MessageKind::M5
                } else if has(n::ROUTE) {
                    MessageKind::M10
                } else if has(n::CONNECTOR_TYPE) {
                    MessageKind::M11
                } else if has(n::STANDBY) {
                    MessageKind::M12
                } else if has(n::IDR_REQUEST) {
                    MessageKind::M13
                } else if has(n::UIBC_CAPABILITY) {
                    MessageKind::M14
                } else if has(n::UIBC_SETTING) {
                    MessageKind::M15
                } else {
                    MessageKind::Other
                }
            }
            _ => MessageKind::Other,
        }
    }
}

impl fmt::Display for MessageKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MessageKind::Other => f.write_str("other"),
            other => write!(f, "{other:?}"),
        }
    }
}

/// The two WFD roles.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The WFD source (the Windows UMD side).
    Source,
    /// The WFD sink (the display).
    Sink,
}

impl Role {
    /// The other role.
    pub fn peer(self) -> Role {
        match self {
            Role::Source => Role::Sink,
            Role::Sink => Role::Source,
        }
    }
}

/// Direction of one message on the wire.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
pub enum Direction {
    /// Source to sink.
    #[serde(rename = "source->sink")]
    SourceToSink,
    /// Sink to source.
    #[serde(rename = "sink->source")]
    SinkToSource,
}

impl Direction {
    /// The direction of a message sent by `sender`.
    pub fn from_sender(sender: Role) -> Direction {
        match sender {
            Role::Source => Direction::SourceToSink,
            Role::Sink => Direction::SinkToSource,
        }
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Direction::SourceToSink => "source->sink",
            Direction::SinkToSource => "sink->source",
        })
    }
}

/// One RTSP message in the exchange log.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ExchangeRecord {
    /// When it was sent or received (virtual time since the start of the run).
    pub at: SimTime,
    /// Who sent it.
    pub direction: Direction,
    /// The WFD message it is or answers.
    pub kind: MessageKind,
    /// True for a reply.
    pub reply: bool,
    /// CSeq, when it had a readable one.
    pub cseq: Option<u32>,
    /// Status code of a reply.
    pub status: Option<u16>,
    /// The first line (`GET_PARAMETER rtsp://localhost/wfd1.0 RTSP/1.0`).
    pub first_line: String,
    /// The whole message as text (lossy UTF-8).
    pub text: String,
}

impl ExchangeRecord {
    /// `M3`, `M3 reply`, `other`.
    pub fn label(&self) -> String {
        if self.reply {
            format!("{} reply", self.kind)
        } else {
            self.kind.to_string()
        }
    }
}

impl fmt::Display for ExchangeRecord {
    /// `1.250000s source->sink M3 (CSeq 2): GET_PARAMETER rtsp://localhost/wfd1.0 RTSP/1.0`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.at, self.direction, self.label())?;
        if let Some(c) = self.cseq {
            write!(f, " (CSeq {c})")?;
        }
        write!(f, ": {}", self.first_line)
    }
}

/// An RTSP message that could not be framed or read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    /// Headers or announced body exceed the configured bound.
    #[error("RTSP message exceeds the {max}-byte limit ({size} bytes buffered or announced)")]
    TooLarge {
        /// Bytes buffered or announced.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// `rtsp-types` refused the message; `detail` is our diagnosis.
    #[error("malformed RTSP message '{first_line}': {detail}")]
    Malformed {
        /// The first line (shortened).
        first_line: String,
        /// What looks wrong.
        detail: String,
    },
    /// A method spelled in the wrong case (`OptionS`).
    #[error("method names are case-sensitive; '{given}' is not {expected}")]
    MethodCase {
        /// The method as sent.
        given: String,
        /// The method it resembles.
        expected: String,
    },
    /// No CSeq header.
    #[error("'{first_line}' has no CSeq header")]
    MissingCSeq {
        /// The first line.
        first_line: String,
    },
    /// A CSeq that is not a 32-bit unsigned integer.
    #[error("CSeq '{value}' does not fit a 32-bit integer")]
    BadCSeq {
        /// The header value (shortened).
        value: String,
    },
    /// `Content-Length` is not a decimal number.
    #[error("Content-Length '{value}' is not a number")]
    BadContentLength {
        /// The header value (shortened).
        value: String,
    },
    /// RTSP interleaved binary data (`$`), which WFD never uses on the control connection.
    #[error("interleaved binary data ('$' frame) on the WFD control connection")]
    Interleaved,
}

/// First line of an RTSP message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StartLine {
    /// A request.
    Request {
        /// The method.
        method: Method,
        /// The request URI as written (`*` for none).
        uri: String,
    },
    /// A reply.
    Response {
        /// Status code.
        status: u16,
        /// Reason phrase.
        reason: String,
    },
}

/// One RTSP/1.0 message: start line, headers in order, body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RtspMessage {
    /// Request or status line.
    pub start: StartLine,
    /// Headers (name, value) in wire order, a repeated header once per line; built ones in
    /// insertion order. `Content-Length` is computed when writing.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl RtspMessage {
    /// A request with a CSeq; `uri` is `*` or an absolute URI.
    pub fn request(method: Method, uri: &str, cseq: u32) -> Self {
        RtspMessage {
            start: StartLine::Request {
                method,
                uri: uri.to_owned(),
            },
            headers: vec![("CSeq".to_owned(), cseq.to_string())],
            body: Vec::new(),
        }
    }

    /// A reply echoing `cseq`, with the standard reason phrase.
    pub fn response(status: u16, cseq: u32) -> Self {
        RtspMessage {
            start: StartLine::Response {
                status,
                reason: reason_phrase(status).to_owned(),
            },
            headers: vec![("CSeq".to_owned(), cseq.to_string())],
            body: Vec::new(),
        }
    }

    /// Adds a header.
    #[must_use]
    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_owned(), value.into()));
        self
    }

    /// Sets a `text/parameters` body.
    #[must_use]
    pub fn with_params(mut self, params: &ParameterList) -> Self {
        self.body = params.to_body();
        if !self.body.is_empty() && self.header("Content-Type").is_none() {
            self.headers
                .push(("Content-Type".to_owned(), "text/parameters".to_owned()));
        }
        self
    }

    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The CSeq.
    ///
    /// # Errors
    /// [`MessageError::MissingCSeq`] or [`MessageError::BadCSeq`].
    pub fn cseq(&self) -> Result<u32, MessageError> {
        let value = self
            .header("CSeq")
            .ok_or_else(|| MessageError::MissingCSeq {
                first_line: self.first_line(),
            })?;
        let v = value.trim();
        let digits_ok = !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit());
        let parsed = if digits_ok {
            v.parse::<u32>().ok()
        } else {
            None
        };
        parsed.ok_or_else(|| MessageError::BadCSeq {
            value: super::params::clip(value),
        })
    }

    /// True for a reply.
    pub fn is_response(&self) -> bool {
        matches!(self.start, StartLine::Response { .. })
    }

    /// The status of a reply.
    pub fn status(&self) -> Option<u16> {
        match self.start {
            StartLine::Response { status, .. } => Some(status),
            StartLine::Request { .. } => None,
        }
    }

    /// The method of a request.
    pub fn method(&self) -> Option<&Method> {
        match &self.start {
            StartLine::Request { method, .. } => Some(method),
            StartLine::Response { .. } => None,
        }
    }

    /// The request URI of a request.
    pub fn uri(&self) -> Option<&str> {
        match &self.start {
            StartLine::Request { uri, .. } => Some(uri),
            StartLine::Response { .. } => None,
        }
    }

    /// The body as a parameter list (empty body gives an empty list).
    ///
    /// # Errors
    /// [`BodyError`] when the body is not a `text/parameters` list.
    pub fn params(&self) -> Result<ParameterList, BodyError> {
        ParameterList::parse(&self.body)
    }

    /// `Session` header split into id and `timeout=` seconds.
    pub fn session(&self) -> Option<SessionHeader> {
        self.header("Session").map(SessionHeader::parse)
    }

    /// The first line without CRLF.
    pub fn first_line(&self) -> String {
        match &self.start {
            StartLine::Request { method, uri } => {
                let m: &str = method.into();
                format!("{m} {uri} RTSP/1.0")
            }
            // Three digits as on the wire (`043` parses as 43).
            StartLine::Response { status, reason } => format!("RTSP/1.0 {status:03} {reason}"),
        }
    }

    /// The wire bytes. `Content-Length` is written for a non-empty body.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.first_line().into_bytes();
        out.extend_from_slice(b"\r\n");
        for (n, v) in &self.headers {
            if n.eq_ignore_ascii_case("Content-Length") {
                continue;
            }
            out.extend_from_slice(format!("{n}: {v}\r\n").as_bytes());
        }
        if !self.body.is_empty() {
            out.extend_from_slice(format!("Content-Length: {}\r\n", self.body.len()).as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&self.body);
        out
    }

    /// Converts a parsed `rtsp-types` message.
    ///
    /// # Errors
    /// [`MessageError::MethodCase`] for a known method in the wrong case,
    /// [`MessageError::Interleaved`] for data frames.
    pub fn from_rtsp(msg: rtsp_types::Message<Vec<u8>>) -> Result<Self, MessageError> {
        match msg {
            rtsp_types::Message::Request(req) => {
                let method = req.method().clone();
                if let Method::Extension(given) = &method {
                    let upper = given.to_ascii_uppercase();
                    let known = Method::from(upper.as_str());
                    if !matches!(known, Method::Extension(_)) {
                        return Err(MessageError::MethodCase {
                            given: given.clone(),
                            expected: upper,
                        });
                    }
                }
                let uri = req
                    .request_uri()
                    .map_or_else(|| "*".to_owned(), |u| u.as_str().to_owned());
                let headers = req
                    .headers()
                    .map(|(n, v)| (n.as_str().to_owned(), v.as_str().to_owned()))
                    .collect();
                Ok(RtspMessage {
                    start: StartLine::Request { method, uri },
                    headers,
                    body: req.into_body(),
                })
            }
            rtsp_types::Message::Response(resp) => {
                let headers = resp
                    .headers()
                    .map(|(n, v)| (n.as_str().to_owned(), v.as_str().to_owned()))
                    .collect();
                Ok(RtspMessage {
                    start: StartLine::Response {
                        status: u16::from(resp.status()),
                        reason: resp.reason_phrase().to_owned(),
                    },
                    headers,
                    body: resp.into_body(),
                })
            }
            rtsp_types::Message::Data(_) => Err(MessageError::Interleaved),
        }
    }

    /// Parses exactly one complete message from `bytes` (a convenience over [`Framer`]).
    ///
    /// # Errors
    /// [`MessageError`] when it is malformed, too large or incomplete.
    pub fn parse_one(bytes: &[u8]) -> Result<RtspMessage, MessageError> {
        let mut framer = Framer::new(bytes.len().max(DEFAULT_MAX_MESSAGE));
        framer.push(bytes);
        match framer.next_message()? {
            Some(m) => Ok(m),
            None => Err(MessageError::Malformed {
                first_line: first_line_of(bytes),
                detail: "message is incomplete".to_owned(),
            }),
        }
    }
}

impl fmt::Display for RtspMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.to_bytes()))
    }
}

/// A `Session` header: `id[;timeout=N]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionHeader {
    /// The opaque session id, without parameters.
    pub id: String,
    /// The `timeout=` value in seconds.
    pub timeout_s: Option<u32>,
}

impl SessionHeader {
    /// Splits a header value. Never fails: a bad timeout is ignored (`None`).
    pub fn parse(value: &str) -> SessionHeader {
        let mut parts = value.split(';');
        let id = parts.next().unwrap_or_default().trim().to_owned();
        let timeout_s = parts
            .filter_map(|p| p.trim().split_once('='))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case("timeout"))
            .and_then(|(_, v)| v.trim().parse::<u32>().ok());
        SessionHeader { id, timeout_s }
    }
}

/// A `Transport` header as WFD uses it (lenient: `RTP/AVP` without `/UDP` is accepted and
/// reported in [`TransportHeader::lower_transport_implied`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TransportHeader {
    /// The profile token as written (`RTP/AVP/UDP`, `RTP/AVP`, ...).
    pub profile: String,
    /// True when the profile omitted the lower transport (`RTP/AVP`), which RFC 2326 defines
    /// as UDP.
    pub lower_transport_implied: bool,
    /// True when TCP.
    pub tcp: bool,
    /// `unicast` present.
    pub unicast: bool,
    /// `client_port=a[-b]`.
    pub client_port: Option<(u16, Option<u16>)>,
    /// `server_port=a[-b]`.
    pub server_port: Option<(u16, Option<u16>)>,
    /// Other parameters, verbatim.
    pub other: Vec<String>,
}

impl TransportHeader {
    /// Parses a header value; `None` when it is not an RTP/AVP transport.
    pub fn parse(value: &str) -> Option<TransportHeader> {
        let mut parts = value.split(';').map(str::trim);
        let profile = parts.next()?.to_owned();
        let upper = profile.to_ascii_uppercase();
        let (implied, tcp) = match upper.as_str() {
            "RTP/AVP" => (true, false),
            "RTP/AVP/UDP" => (false, false),
            "RTP/AVP/TCP" => (false, true),
            _ => return None,
        };
        let mut t = TransportHeader {
            profile,
            lower_transport_implied: implied,
            tcp,
            ..Default::default()
        };
        let range = |v: &str| -> Option<(u16, Option<u16>)> {
            match v.split_once('-') {
                Some((a, b)) => Some((a.trim().parse().ok()?, Some(b.trim().parse().ok()?))),
                None => Some((v.trim().parse().ok()?, None)),
            }
        };
        for p in parts {
            if p.eq_ignore_ascii_case("unicast") {
                t.unicast = true;
            } else if let Some((k, v)) = p.split_once('=') {
                match k.trim().to_ascii_lowercase().as_str() {
                    "client_port" => t.client_port = range(v),
                    "server_port" => t.server_port = range(v),
                    _ => t.other.push(p.to_owned()),
                }
            } else if !p.is_empty() {
                t.other.push(p.to_owned());
            }
        }
        Some(t)
    }
}

impl fmt::Display for TransportHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.profile)?;
        if self.unicast {
            f.write_str(";unicast")?;
        }
        let range = |r: (u16, Option<u16>)| match r.1 {
            Some(b) => format!("{}-{}", r.0, b),
            None => r.0.to_string(),
        };
        if let Some(c) = self.client_port {
            write!(f, ";client_port={}", range(c))?;
        }
        if let Some(s) = self.server_port {
            write!(f, ";server_port={}", range(s))?;
        }
        for o in &self.other {
            write!(f, ";{o}")?;
        }
        Ok(())
    }
}

/// Guesses which request a reply answers when the request itself is not at hand (a lone
/// reply in a capture): `Public` → M1/M2 by direction, `Transport` + `Session` → M6, a
/// parameter body from the sink → M3, `Session` alone from the source → M7. `Other` when
/// nothing fits. With the request known, use its kind instead.
pub fn guess_reply_kind(direction: Direction, reply: &RtspMessage) -> MessageKind {
    let from_sink = direction == Direction::SinkToSource;
    if reply.header("Public").is_some() {
        return if from_sink {
            MessageKind::M1
        } else {
            MessageKind::M2
        };
    }
    if reply.header("Transport").is_some() && reply.header("Session").is_some() {
        return MessageKind::M6;
    }
    if from_sink && !reply.body.is_empty() && reply.status() == Some(200) {
        return MessageKind::M3;
    }
    if !from_sink && reply.header("Session").is_some() && reply.body.is_empty() {
        return MessageKind::M7;
    }
    MessageKind::Other
}

/// The tokens of a `Public` header.
pub fn public_tokens(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The standard reason phrase of an RTSP status code.
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        200 => "OK",
        303 => "See Other",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        415 => "Unsupported Media Type",
        451 => "Parameter Not Understood",
        454 => "Session Not Found",
        455 => "Method Not Valid in This State",
        457 => "Invalid Range",
        459 => "Aggregate Operation Not Allowed",
        460 => "Only Aggregate Operation Allowed",
        461 => "Unsupported Transport",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        505 => "RTSP Version Not Supported",
        551 => "Option not supported",
        _ => "Unknown",
    }
}

/// Incremental framing over `rtsp-types`: push bytes as they arrive, pull whole messages.
///
/// Bounded: a message whose headers or announced `Content-Length` exceed `max_message` is an
/// error, and so is buffering more than `max_message` bytes without completing a message.
#[derive(Clone, Debug)]
pub struct Framer {
    buf: Vec<u8>,
    max_message: usize,
}

impl Framer {
    /// A framer that accepts messages of up to `max_message` bytes.
    pub fn new(max_message: usize) -> Self {
        Framer {
            buf: Vec::new(),
            max_message,
        }
    }

    /// Appends received bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Bytes buffered but not yet part of a whole message.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Drops everything buffered (after an unrecoverable error).
    pub fn clear(&mut self) {
        self.buf.clear();
    }

    /// The next whole message, `Ok(None)` when more bytes are needed.
    ///
    /// On error the offending bytes stay buffered; callers either give up on the connection
    /// or call [`Framer::skip_line`] to resynchronise (the decode command does).
    ///
    /// # Errors
    /// [`MessageError`] for a malformed or oversized message.
    pub fn next_message(&mut self) -> Result<Option<RtspMessage>, MessageError> {
        // Leading empty lines between messages are legal (RFC 2326 tolerates them).
        let skip = self
            .buf
            .iter()
            .take_while(|b| **b == b'\r' || **b == b'\n')
            .count();
        if skip > 0 {
            self.buf.drain(..skip);
        }
        if self.buf.is_empty() {
            return Ok(None);
        }
        if self.buf[0] == b'$' {
            return Err(MessageError::Interleaved);
        }
        let Some(header_end) = find(&self.buf, b"\r\n\r\n").map(|i| i + 4) else {
            if self.buf.len() > self.max_message {
                return Err(MessageError::TooLarge {
                    size: self.buf.len(),
                    max: self.max_message,
                });
            }
            return Ok(None);
        };
        let content_length = announced_length(&self.buf[..header_end])?;
        let total = header_end.saturating_add(content_length);
        if total > self.max_message {
            return Err(MessageError::TooLarge {
                size: total,
                max: self.max_message,
            });
        }
        if self.buf.len() < total {
            return Ok(None);
        }
        match rtsp_types::Message::<Vec<u8>>::parse(&self.buf[..total]) {
            Ok((msg, consumed)) => {
                let consumed = consumed.min(total).max(1);
                let parsed = RtspMessage::from_rtsp(msg);
                let parsed = parsed.map(|mut m| {
                    // `rtsp-types` sorts headers and merges repeated ones (and, found by
                    // fuzzing, headers one of whose names is a prefix of another's); keep
                    // them as they came whenever the header block reads line by line.
                    if let Some(raw) = raw_headers(&self.buf[..header_end]) {
                        m.headers = raw;
                    }
                    m
                });
                if parsed.is_ok() {
                    self.buf.drain(..consumed);
                }
                let parsed = parsed?;
                parsed.cseq()?;
                Ok(Some(parsed))
            }
            Err(rtsp_types::ParseError::Incomplete(_)) => Err(MessageError::Malformed {
                first_line: first_line_of(&self.buf),
                detail: diagnose(&self.buf[..header_end]),
            }),
            Err(rtsp_types::ParseError::Error) => Err(MessageError::Malformed {
                first_line: first_line_of(&self.buf),
                detail: diagnose(&self.buf[..header_end]),
            }),
        }
    }

    /// Drops buffered bytes up to and including the next line end, to resynchronise after
    /// an error. Returns false when nothing could be skipped.
    pub fn skip_line(&mut self) -> bool {
        match self.buf.iter().position(|b| *b == b'\n') {
            Some(i) => {
                self.buf.drain(..=i);
                true
            }
            None => {
                let had = !self.buf.is_empty();
                self.buf.clear();
                had
            }
        }
    }

    /// Bytes after a CSeq-less or otherwise unreadable message were consumed: drop the
    /// first whole message regardless of its content (used after a non-framing error such as
    /// a bad CSeq, so the connection can continue).
    pub fn discard_message(&mut self) {
        if let Some(header_end) = find(&self.buf, b"\r\n\r\n").map(|i| i + 4) {
            let len = announced_length(&self.buf[..header_end]).unwrap_or(0);
            let total = header_end.saturating_add(len).min(self.buf.len());
            self.buf.drain(..total);
        } else {
            self.buf.clear();
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The header lines of a header block (start line excluded) as (name, value), in wire order,
/// repeated names kept; continuation lines are joined to their header with one space.
fn raw_headers(head: &[u8]) -> Option<Vec<(String, String)>> {
    let text = std::str::from_utf8(head).ok()?;
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in text.split("\r\n").skip(1) {
        if line.is_empty() {
            break;
        }
        if line.starts_with([' ', '\t']) {
            let (_, value) = headers.last_mut()?;
            let more = line.trim();
            if !value.is_empty() && !more.is_empty() {
                value.push(' ');
            }
            value.push_str(more);
            continue;
        }
        let (name, value) = line.split_once(':')?;
        headers.push((name.trim().to_owned(), value.trim().to_owned()));
    }
    Some(headers)
}

fn announced_length(head: &[u8]) -> Result<usize, MessageError> {
    let text = String::from_utf8_lossy(head);
    for line in text.split("\r\n").skip(1) {
        if let Some((name, value)) = line.split_once(':')
            && name.trim().eq_ignore_ascii_case("Content-Length")
        {
            let v = value.trim();
            return v
                .parse::<usize>()
                .map_err(|_| MessageError::BadContentLength {
                    value: super::params::clip(v),
                });
        }
    }
    Ok(0)
}

fn first_line_of(buf: &[u8]) -> String {
    let end = buf
        .iter()
        .position(|b| *b == b'\r' || *b == b'\n')
        .unwrap_or(buf.len());
    super::params::clip(&String::from_utf8_lossy(&buf[..end.min(200)]))
}

/// Says what is wrong with a header block `rtsp-types` refused (it reports no detail).
fn diagnose(head: &[u8]) -> String {
    let Ok(text) = std::str::from_utf8(head) else {
        return "headers are not UTF-8".to_owned();
    };
    let mut lines = text.split("\r\n");
    let first = lines.next().unwrap_or_default();
    let words: Vec<&str> = first.split(' ').collect();
    if first.starts_with("RTSP/") {
        if !matches!(words.first(), Some(&"RTSP/1.0") | Some(&"RTSP/2.0")) {
            return "status line has an unsupported RTSP version".to_owned();
        }
        let code_ok = words
            .get(1)
            .is_some_and(|c| c.len() == 3 && c.bytes().all(|b| b.is_ascii_digit()));
        if !code_ok {
            return "status code must be 3 digits".to_owned();
        }
        if words.len() < 3 {
            return "status line has no reason phrase".to_owned();
        }
    } else {
        if words.len() != 3 {
            return "first line is neither 'METHOD URI RTSP/1.0' nor 'RTSP/1.0 CODE REASON'"
                .to_owned();
        }
        if !matches!(words[2], "RTSP/1.0" | "RTSP/2.0") {
            return format!(
                "request line ends in '{}', not RTSP/1.0",
                super::params::clip(words[2])
            );
        }
        if words[1] != "*" && !words[1].contains("://") {
            return format!(
                "request URI '{}' is not absolute",
                super::params::clip(words[1])
            );
        }
        if words[1] != "*" {
            return format!(
                "request URI '{}' is not a valid URL",
                super::params::clip(words[1])
            );
        }
    }
    for (i, line) in lines.enumerate() {
        if line.is_empty() {
            continue;
        }
        if !line.contains(':') {
            return format!("header line {} has no ':'", i + 2);
        }
    }
    "rtsp-types rejected the message".to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coalesced_and_split_messages_frame() {
        let m1 = b"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\nRequire: org.wfa.wfd1.0\r\n\r\n";
        let m3 = b"GET_PARAMETER rtsp://localhost/wfd1.0 RTSP/1.0\r\nCSeq: 2\r\nContent-Type: text/parameters\r\nContent-Length: 18\r\n\r\nwfd_video_formats\r\n";
        let mut all = m1.to_vec();
        all.extend_from_slice(m3);
        let mut framer = Framer::new(DEFAULT_MAX_MESSAGE);
        for chunk in all.chunks(7) {
            framer.push(chunk);
        }
        let a = framer.next_message().unwrap().unwrap();
        let b = framer.next_message().unwrap().unwrap();
        assert_eq!(a.cseq().unwrap(), 1);
        assert_eq!(
            b.params().unwrap().names().collect::<Vec<_>>(),
            vec!["wfd_video_formats"]
        );
        assert!(framer.next_message().unwrap().is_none());
    }

    #[test]
    fn oversized_content_length_is_refused_before_buffering() {
        let mut framer = Framer::new(1024);
        framer.push(b"RTSP/1.0 200 OK\r\nCSeq: 1\r\nContent-Length: 999999\r\n\r\n");
        assert!(matches!(
            framer.next_message(),
            Err(MessageError::TooLarge { .. })
        ));
    }

    #[test]
    fn wrong_method_case_is_named() {
        let err = RtspMessage::parse_one(b"OptionS * RTSP/1.0\r\nCSeq: 0\r\n\r\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "method names are case-sensitive; 'OptionS' is not OPTIONS"
        );
    }

    #[test]
    fn written_messages_parse_back() {
        let mut list = ParameterList::new();
        list.push_name("wfd_idr_request");
        let m = RtspMessage::request(Method::SetParameter, "rtsp://10.0.0.1/wfd1.0/streamid=0", 9)
            .with_header("Session", "abc")
            .with_params(&list);
        let back = RtspMessage::parse_one(&m.to_bytes()).unwrap();
        assert_eq!(back.cseq().unwrap(), 9);
        assert_eq!(back.body, b"wfd_idr_request\r\n");
        assert_eq!(back.session().unwrap().id, "abc");
    }

    #[test]
    fn transport_without_udp_is_lenient() {
        let t = TransportHeader::parse(
            "RTP/AVP;unicast;client_port=19000;server_port=5000-5001;ssrc=00000001;mode=\"PLAY\"",
        )
        .unwrap();
        assert!(t.lower_transport_implied);
        assert_eq!(t.server_port, Some((5000, Some(5001))));
        assert_eq!(t.other.len(), 2);
    }
}
