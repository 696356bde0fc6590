//! The WFD source (the Windows UMD side), sans-IO.

use std::net::Ipv4Addr;
use std::time::Duration;

use rtsp_types::Method;

use super::Endpoint;
use super::conn::{Conn, Pending, ms};
use super::event::{CloseReason, Event, PlayInfo};
use super::message::{
    LOCALHOST_URI, MessageKind, Role, RtspMessage, TransportHeader, WFD_TOKEN, public_tokens,
};
use super::params::body::WINDOWS_M3_REQUEST;
use super::params::{
    ClientRtpPorts, ConnectorType, ErrorList, Parameter, ParameterList, PresentationUri,
    PresentationUrl, Route, TriggerMethod, UibcCapability, UibcInputCategory, UibcSetting, names,
};
use super::select::{
    ExcludedMode, NegotiatedSession, SelectionOutcome, SelectionPolicy, SinkCapabilities,
    m4_rejections, select,
};
use crate::time::SimTime;

/// What the source does when the sink announces HDCP (the simulator never runs HDCP).
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum HdcpPolicy {
    /// Proceed without HDCP, as AOSP does when it cannot instantiate HDCP.
    #[default]
    ProceedWithout,
    /// Refuse the session ([`CloseReason::HdcpRequired`]).
    Refuse,
}

/// Configuration of the simulated source. Embeddable in scenarios.
#[derive(
    Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(deny_unknown_fields, rename_all = "snake_case", default)]
pub struct SourceConfig {
    /// Our address, written into `wfd_presentation_URL`.
    pub local_ip: Ipv4Addr,
    /// Our RTSP port, written into the presentation URL when set (as GNOME does).
    pub rtsp_port: Option<u16>,
    /// Suggested bit rate, 1024×768 threshold, encoder capabilities, audio preference.
    pub selection: SelectionPolicy,
    /// HDCP policy.
    pub hdcp: HdcpPolicy,
    /// Enable UIBC in M4 when the sink offers it.
    pub uibc: bool,
    /// Our UIBC TCP port for M4.
    pub uibc_port: u16,
    /// Parameters asked in M3 (default: what Windows 10 asks, plus `microsoft_rtcp_capability`
    /// and `microsoft_max_bitrate`).
    pub m3_parameters: Vec<String>,
    /// Session id returned in the SETUP reply.
    pub session_id: String,
    /// `timeout=` announced in the SETUP reply, seconds (Windows and libwds use 60).
    pub session_timeout_s: u32,
    /// Keep-alive period in milliseconds; default `timeout − 5 s` (reference section 3).
    pub keepalive_interval_ms: Option<u64>,
    /// How long to wait for any reply, milliseconds (libwds: 5000).
    pub reply_timeout_ms: u64,
    /// How long to wait for M8 after our TEARDOWN trigger, milliseconds (AOSP: 2000).
    pub teardown_wait_ms: u64,
    /// Our RTP port written as `server_port` in the SETUP reply.
    pub server_rtp_port: u16,
    /// `Server` header on our replies (MS-WFDPE 2.5.1.1 shape).
    pub server_header: Option<String>,
    /// M4 attempts when the sink answers 303 (each excludes what it refused).
    pub max_m4_attempts: u8,
    /// Largest RTSP message accepted.
    pub max_message: usize,
}

impl Default for SourceConfig {
    fn default() -> Self {
        SourceConfig {
            local_ip: Ipv4Addr::LOCALHOST,
            rtsp_port: None,
            selection: SelectionPolicy::default(),
            hdcp: HdcpPolicy::default(),
            uibc: false,
            uibc_port: 7239,
            // What Windows 10 asks, plus the two MS-WFDPE capabilities (2.8, 2.10) whose
            // answers shape the SETUP reply and the bit rate.
            m3_parameters: WINDOWS_M3_REQUEST
                .iter()
                .chain(&[names::MS_RTCP_CAPABILITY, names::MS_MAX_BITRATE])
                .map(|s| (*s).to_owned())
                .collect(),
            session_id: "6B8B4567".to_owned(),
            session_timeout_s: 60,
            keepalive_interval_ms: None,
            reply_timeout_ms: 5_000,
            teardown_wait_ms: 2_000,
            server_rtp_port: 5000,
            server_header: Some("MSMiracastSource/10.00 miracast-sim".to_owned()),
            max_m4_attempts: 3,
            max_message: super::message::DEFAULT_MAX_MESSAGE,
        }
    }
}

impl SourceConfig {
    fn keepalive_interval(&self) -> Duration {
        match self.keepalive_interval_ms {
            Some(v) => ms(v.max(1)),
            None => Duration::from_secs(u64::from(self.session_timeout_s.saturating_sub(5).max(1))),
        }
    }
}

/// Where the source is in the exchange.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SourcePhase {
    /// M1 sent; waiting for its reply and for the sink's M2.
    Options,
    /// M3 sent.
    Capabilities,
    /// M4 sent.
    Configure,
    /// M5 SETUP sent; waiting for its reply and for M6.
    Setup,
    /// SETUP answered; waiting for PLAY.
    AwaitPlay,
    /// Streaming.
    Playing,
    /// Paused by the sink (M9).
    Paused,
    /// Our M5 TEARDOWN sent; waiting for M8.
    TearingDown,
    /// Over.
    Closed,
}

/// What the source expects the sink to send next, and by when.
#[derive(Clone, Copy, Debug)]
struct Expect {
    kind: MessageKind,
    deadline: SimTime,
}

/// The WFD source state machine (sans-IO, quinn-proto style).
///
/// ```text
///            new(now): M1 OPTIONS ─────────────┐
///                                              ▼
///   ┌─────────── Options ◀── M2 OPTIONS ── answered 200 (any time)
///   │  M1 200 + M2 answered
///   ▼
///   Capabilities ── M3 GET_PARAMETER ──▶ 200 ──select──┬─ insufficient ─▶ Closed(InsufficientBitRate)
///                                                      ▼
///   Configure ── M4 SET_PARAMETER ──▶ 200 (303: exclude, retry ≤ max_m4_attempts)
///   │   Event::Negotiated
///   ▼
///   Setup ── M5 trigger SETUP ──▶ 200, then ◀── M6 SETUP ── 200 Session;timeout + Transport
///   ▼
///   AwaitPlay ◀── M7 PLAY ── 200 ──▶ Playing ──(every timeout−5 s)── M16 ──▶ 200 / KeepAliveMissed
///                                     │  ◀── M13 ── 200, Event::IdrRequested
///                                     │  ◀── M9 ── Paused ◀── M7 ── Playing
///                                     │  ◀── M8 (unprompted) ── 200, SinkTeardownRequest ─▶ Closed
///   request_teardown: M5 TEARDOWN ──▶ TearingDown ◀── M8 ── 200 ─▶ Closed(TeardownComplete)
///                                     (no M8 within teardown_wait: Closed(TeardownComplete))
/// ```
///
/// Requests and replies interleave: input is dispatched by its first line, a reply is matched
/// to an outstanding CSeq, and M3 is only sent once both the M1 reply arrived and the sink's
/// M2 was answered. Any reply missing for `reply_timeout_ms` ends the session
/// ([`CloseReason::ReplyTimeout`]; for M16, [`CloseReason::KeepAliveMissed`]).
///
/// Error replies (reference sections 7 and 8):
///
/// | Reply | Handling |
/// |---|---|
/// | M1 not 200 (551: not a WFD sink), or `Public` without `org.wfa.wfd1.0` | [`CloseReason::ErrorReply`] / [`CloseReason::ProtocolError`] |
/// | M3 303 (per-parameter codes in [`Event::ErrorReply`]) or other non-200 | close with [`CloseReason::ErrorReply`] |
/// | M4 303 | exclude the refused video mode (or audio), select again, resend M4; after `max_m4_attempts` close |
/// | M5 non-200 (403 from an ActionTec dongle) | close with [`CloseReason::ErrorReply`]; for a TEARDOWN trigger the session ends anyway |
/// | M16 non-200 | close with [`CloseReason::ErrorReply`] |
/// | M10..M15, vendor SET_PARAMETER non-200 | [`Event::ErrorReply`] only |
///
/// Requests we refuse: 454 for a wrong `Session` (M7, M8, M9, M13), 455 for SETUP/PLAY/PAUSE
/// out of order, 461 for a SETUP without a usable `Transport`, 551 for an M2 that requires
/// something other than `org.wfa.wfd1.0`, 501 for methods WFD does not use.
///
/// Drive it with `handle_input`/`handle_timeout`/`handle_peer_closed`, and after each call
/// drain `poll_transmit` and `poll_event`; ask `poll_timeout` when to call `handle_timeout`.
#[derive(Debug)]
pub struct Source {
    config: SourceConfig,
    conn: Conn,
    phase: SourcePhase,
    m1_done: bool,
    m2_answered: bool,
    expect: Option<Expect>,
    caps: Option<SinkCapabilities>,
    negotiated: Option<NegotiatedSession>,
    excluded: Vec<ExcludedMode>,
    exclude_audio: bool,
    m4_attempts: u8,
    sink_rtp_port: Option<u16>,
    next_keepalive: Option<SimTime>,
    teardown_deadline: Option<SimTime>,
    n_keepalives: u32,
    n_idr_requests: u32,
}

impl Source {
    /// A source whose TCP connection is established at `now`; M1 is queued at once.
    pub fn new(config: SourceConfig, now: SimTime) -> Self {
        let conn = Conn::new(
            Role::Source,
            config.max_message,
            ms(config.reply_timeout_ms),
            1,
        );
        let mut s = Source {
            config,
            conn,
            phase: SourcePhase::Options,
            m1_done: false,
            m2_answered: false,
            expect: None,
            caps: None,
            negotiated: None,
            excluded: Vec::new(),
            exclude_audio: false,
            m4_attempts: 0,
            sink_rtp_port: None,
            next_keepalive: None,
            teardown_deadline: None,
            n_keepalives: 0,
            n_idr_requests: 0,
        };
        let cseq = s.conn.alloc_cseq();
        let m1 = RtspMessage::request(Method::Options, "*", cseq).with_header("Require", WFD_TOKEN);
        s.conn.send_request(now, MessageKind::M1, m1);
        s
    }

    /// The configuration.
    pub fn config(&self) -> &SourceConfig {
        &self.config
    }

    /// The current phase.
    pub fn phase(&self) -> SourcePhase {
        self.phase
    }

    /// The negotiated session, once M4 was accepted.
    pub fn negotiated(&self) -> Option<&NegotiatedSession> {
        self.negotiated.as_ref()
    }

    /// Keep-alives answered so far.
    pub fn keepalives_answered(&self) -> u32 {
        self.n_keepalives
    }

    /// IDR requests (M13) received so far.
    pub fn idr_requests(&self) -> u32 {
        self.n_idr_requests
    }

    /// The sink's RTP port (from SETUP), once known.
    pub fn sink_rtp_port(&self) -> Option<u16> {
        self.sink_rtp_port
    }

    fn presentation_uri(&self) -> PresentationUri {
        PresentationUri {
            host: self.config.local_ip,
            port: self.config.rtsp_port,
            stream_id: 0,
        }
    }

    fn reply(&self, status: u16, cseq: u32) -> RtspMessage {
        let mut r = RtspMessage::response(status, cseq);
        if let Some(server) = &self.config.server_header {
            r = r.with_header("Server", server.clone());
        }
        r
    }

    fn close(&mut self, reason: CloseReason) {
        self.phase = SourcePhase::Closed;
        self.expect = None;
        self.next_keepalive = None;
        self.teardown_deadline = None;
        self.conn.close(reason);
    }

    fn send_set_parameter(
        &mut self,
        now: SimTime,
        kind: MessageKind,
        list: &ParameterList,
        with_session: bool,
    ) {
        let cseq = self.conn.alloc_cseq();
        let mut req = RtspMessage::request(Method::SetParameter, LOCALHOST_URI, cseq);
        if with_session {
            req = req.with_header("Session", self.config.session_id.clone());
        }
        self.conn.send_request(now, kind, req.with_params(list));
    }

    fn maybe_send_m3(&mut self, now: SimTime) {
        if self.phase != SourcePhase::Options || !self.m1_done || !self.m2_answered {
            return;
        }
        self.expect = None;
        self.phase = SourcePhase::Capabilities;
        let mut list = ParameterList::new();
        for name in &self.config.m3_parameters {
            list.push_name(name);
        }
        let cseq = self.conn.alloc_cseq();
        let req =
            RtspMessage::request(Method::GetParameter, LOCALHOST_URI, cseq).with_params(&list);
        self.conn.send_request(now, MessageKind::M3, req);
    }

    fn send_m4(&mut self, now: SimTime) {
        let Some(caps) = self.caps.clone() else {
            return;
        };
        let mut policy = self.config.selection.clone();
        if self.exclude_audio {
            policy.audio_preference.clear();
        }
        let outcome = select(&caps, &policy, &self.excluded, self.config.uibc);
        self.conn
            .events
            .push_back(Event::Selection(Box::new(outcome.clone())));
        let session = match outcome {
            SelectionOutcome::Selected(s) => s,
            SelectionOutcome::InsufficientBitRate {
                required_bps,
                available_bps,
            } => {
                self.close(CloseReason::InsufficientBitRate {
                    required_bps,
                    available_bps,
                });
                return;
            }
            SelectionOutcome::NoCommonVideoMode => {
                self.close(CloseReason::NoCommonFormat {
                    detail: "no video mode in common".to_owned(),
                });
                return;
            }
        };
        if session.hdcp.is_some() && self.config.hdcp == HdcpPolicy::Refuse {
            self.close(CloseReason::HdcpRequired);
            return;
        }
        let mut list = ParameterList::new();
        list.push(&Parameter::VideoFormats(Some(session.video.to_m4())));
        if let Some(audio) = session.audio {
            list.push(&Parameter::AudioCodecs(audio.to_m4()));
        }
        list.push(&Parameter::PresentationUrl(PresentationUrl {
            url0: Some(self.presentation_uri()),
            url1: None,
        }));
        list.push(&Parameter::ClientRtpPorts(ClientRtpPorts::udp(
            session.sink_rtp_port,
        )));
        if session.uibc_enabled {
            let offered = caps.uibc.clone().unwrap_or(UibcCapability {
                categories: vec![UibcInputCategory::Generic],
                generic: Some(Vec::new()),
                hidc: None,
                port: None,
            });
            list.push(&Parameter::UibcCapability(Some(UibcCapability {
                port: Some(self.config.uibc_port),
                ..offered
            })));
            list.push(&Parameter::UibcSetting(UibcSetting::Enable));
        }
        self.negotiated = Some(*session);
        self.m4_attempts += 1;
        self.phase = SourcePhase::Configure;
        self.send_set_parameter(now, MessageKind::M4, &list, false);
    }

    fn send_trigger(&mut self, now: SimTime, method: TriggerMethod) {
        let mut list = ParameterList::new();
        list.push(&Parameter::TriggerMethod(method));
        let with_session = !matches!(method, TriggerMethod::Setup);
        self.send_set_parameter(now, MessageKind::M5, &list, with_session);
    }

    fn send_keepalive(&mut self, now: SimTime) {
        let cseq = self.conn.alloc_cseq();
        let req = RtspMessage::request(Method::GetParameter, LOCALHOST_URI, cseq)
            .with_header("Session", self.config.session_id.clone());
        self.conn.send_request(now, MessageKind::M16, req);
        self.next_keepalive = Some(now + self.config.keepalive_interval());
    }

    // ---- commands ----------------------------------------------------------------------

    /// Asks the sink to tear down (M5 TEARDOWN), then waits up to `teardown_wait_ms` for M8.
    /// Before a session exists it just closes ([`CloseReason::LocalClose`]).
    pub fn request_teardown(&mut self, now: SimTime) {
        match self.phase {
            SourcePhase::AwaitPlay | SourcePhase::Playing | SourcePhase::Paused => {
                self.phase = SourcePhase::TearingDown;
                self.next_keepalive = None;
                self.send_trigger(now, TriggerMethod::Teardown);
                self.teardown_deadline = Some(now + ms(self.config.teardown_wait_ms));
            }
            SourcePhase::TearingDown | SourcePhase::Closed => {}
            _ => self.close(CloseReason::LocalClose),
        }
    }

    /// Asks the sink to pause (M5 PAUSE) or resume (M5 PLAY).
    pub fn request_trigger(&mut self, now: SimTime, method: TriggerMethod) {
        if matches!(
            self.phase,
            SourcePhase::Playing | SourcePhase::Paused | SourcePhase::AwaitPlay
        ) {
            self.send_trigger(now, method);
        }
    }

    /// Sends M10 (`wfd_route`).
    pub fn set_route(&mut self, now: SimTime, route: Route) {
        self.command(now, MessageKind::M10, Parameter::Route(route));
    }

    /// Sends M11 (`wfd_connector_type`).
    pub fn set_connector_type(&mut self, now: SimTime, connector: ConnectorType) {
        self.command(
            now,
            MessageKind::M11,
            Parameter::ConnectorType(Some(connector)),
        );
    }

    /// Sends M12 (`wfd_standby`).
    pub fn request_standby(&mut self, now: SimTime) {
        self.command(now, MessageKind::M12, Parameter::Standby);
    }

    /// Sends M15 (`wfd_uibc_setting`).
    pub fn set_uibc(&mut self, now: SimTime, enable: bool) {
        let v = if enable {
            UibcSetting::Enable
        } else {
            UibcSetting::Disable
        };
        self.command(now, MessageKind::M15, Parameter::UibcSetting(v));
    }

    fn command(&mut self, now: SimTime, kind: MessageKind, p: Parameter) {
        if self.phase == SourcePhase::Closed {
            return;
        }
        let mut list = ParameterList::new();
        list.push(&p);
        let with_session = matches!(
            self.phase,
            SourcePhase::Playing | SourcePhase::Paused | SourcePhase::AwaitPlay
        );
        self.send_set_parameter(now, kind, &list, with_session);
    }

    // ---- input -------------------------------------------------------------------------

    fn on_message(&mut self, now: SimTime, msg: RtspMessage) {
        if msg.is_response() {
            self.on_reply(now, msg);
        } else {
            self.on_request(now, msg);
        }
    }

    fn on_reply(&mut self, now: SimTime, msg: RtspMessage) {
        let cseq = msg.cseq().unwrap_or(u32::MAX);
        let Some(pending) = self.conn.take_pending(cseq) else {
            self.conn.log_received(now, &msg, MessageKind::Other);
            self.conn.warn(format!(
                "reply with CSeq {cseq} matches no outstanding request; ignored"
            ));
            return;
        };
        self.conn.log_received(now, &msg, pending.kind);
        let status = msg.status().unwrap_or(0);
        let params = msg.params().unwrap_or_default();
        if !(200..300).contains(&status) {
            let parameters = if status == 303 {
                ErrorList::from_list(&params).unwrap_or_default()
            } else {
                ErrorList::default()
            };
            self.conn.events.push_back(Event::ErrorReply {
                to: pending.kind,
                status,
                parameters: parameters.clone(),
            });
            self.on_error_reply(now, &pending, status, &parameters);
            return;
        }
        match pending.kind {
            MessageKind::M1 => {
                let public = msg.header("Public").map(public_tokens).unwrap_or_default();
                let has = |t: &str| public.iter().any(|p| p.eq_ignore_ascii_case(t));
                if !has(WFD_TOKEN) {
                    self.close(CloseReason::ProtocolError {
                        message: format!("M1 reply Public does not list {WFD_TOKEN}"),
                    });
                    return;
                }
                if !has("GET_PARAMETER") || !has("SET_PARAMETER") {
                    self.conn
                        .warn("M1 reply Public lacks GET_PARAMETER or SET_PARAMETER");
                }
                self.m1_done = true;
                if !self.m2_answered {
                    self.expect = Some(Expect {
                        kind: MessageKind::M2,
                        deadline: now + self.conn.reply_timeout,
                    });
                }
                self.maybe_send_m3(now);
            }
            MessageKind::M3 => {
                let list = match msg.params() {
                    Ok(l) => l,
                    Err(e) => {
                        let message = format!("M3 reply body: {e}");
                        self.conn.events.push_back(Event::ProtocolError {
                            message: message.clone(),
                        });
                        self.close(CloseReason::ProtocolError { message });
                        return;
                    }
                };
                match SinkCapabilities::from_m3_reply(&list) {
                    Ok(caps) => {
                        self.caps = Some(caps);
                        self.send_m4(now);
                    }
                    Err(e) => {
                        let message = e.to_string();
                        self.conn.events.push_back(Event::ProtocolError {
                            message: message.clone(),
                        });
                        let reason = match e {
                            super::select::CapabilityError::Unusable(_) => {
                                CloseReason::NoCommonFormat { detail: message }
                            }
                            super::select::CapabilityError::Malformed(_) => {
                                CloseReason::ProtocolError { message }
                            }
                        };
                        self.close(reason);
                    }
                }
            }
            MessageKind::M4 if self.phase == SourcePhase::Configure => {
                if let Some(n) = &self.negotiated {
                    self.conn
                        .events
                        .push_back(Event::Negotiated(Box::new(n.clone())));
                }
                self.phase = SourcePhase::Setup;
                self.send_trigger(now, TriggerMethod::Setup);
            }
            MessageKind::M5 => {
                let trigger = pending.request.params().ok().and_then(|l| {
                    match l.get(names::TRIGGER_METHOD) {
                        Ok(Some(Parameter::TriggerMethod(t))) => Some(t),
                        _ => None,
                    }
                });
                if trigger == Some(TriggerMethod::Setup) && self.phase == SourcePhase::Setup {
                    self.expect = Some(Expect {
                        kind: MessageKind::M6,
                        deadline: now + self.conn.reply_timeout,
                    });
                }
            }
            MessageKind::M16 => {
                self.n_keepalives += 1;
                self.conn.events.push_back(Event::KeepAlive);
            }
            _ => {}
        }
    }

    fn on_error_reply(&mut self, now: SimTime, pending: &Pending, status: u16, errors: &ErrorList) {
        match pending.kind {
            MessageKind::M4 if status == 303 && self.m4_attempts < self.config.max_m4_attempts => {
                let (video, audio) = m4_rejections(errors);
                if let Some(n) = &self.negotiated {
                    if video || !audio {
                        self.excluded.push((n.video.table, n.video.bit));
                    }
                    if audio {
                        self.exclude_audio = true;
                    }
                }
                self.send_m4(now);
            }
            MessageKind::M5 if self.phase == SourcePhase::TearingDown => {
                // A refused TEARDOWN trigger still ends the session in practice.
                self.close(CloseReason::TeardownComplete);
            }
            MessageKind::M10
            | MessageKind::M11
            | MessageKind::M12
            | MessageKind::M14
            | MessageKind::M15
            | MessageKind::Other => {}
            kind => self.close(CloseReason::ErrorReply { to: kind, status }),
        }
    }

    fn check_session(&self, msg: &RtspMessage) -> bool {
        msg.session()
            .is_some_and(|s| s.id == self.config.session_id)
    }

    fn on_request(&mut self, now: SimTime, msg: RtspMessage) {
        let cseq = msg.cseq().unwrap_or(0);
        let params = match msg.params() {
            Ok(p) => p,
            Err(e) => {
                self.conn.log_received(now, &msg, MessageKind::Other);
                self.conn.events.push_back(Event::ProtocolError {
                    message: e.to_string(),
                });
                let r = self.reply(400, cseq);
                self.conn.send_reply(now, MessageKind::Other, &r, None);
                return;
            }
        };
        let method = msg
            .method()
            .cloned()
            .unwrap_or(Method::Extension(String::new()));
        let kind = MessageKind::of_request(&method, Role::Sink, &params);
        self.conn.log_received(now, &msg, kind);
        if self.expect.is_some_and(|e| e.kind == kind) {
            self.expect = None;
        }
        match kind {
            MessageKind::M2 => {
                let require_ok = msg.header("Require").is_none_or(|r| {
                    public_tokens(r)
                        .iter()
                        .any(|t| t.eq_ignore_ascii_case(WFD_TOKEN))
                });
                if !require_ok {
                    let r = self
                        .reply(551, cseq)
                        .with_header("Unsupported", msg.header("Require").unwrap_or_default());
                    self.conn.send_reply(now, kind, &r, None);
                    return;
                }
                let r = self.reply(200, cseq).with_header(
                    "Public",
                    "org.wfa.wfd1.0, GET_PARAMETER, SET_PARAMETER, SETUP, PLAY, PAUSE, TEARDOWN",
                );
                self.conn.send_reply(now, kind, &r, None);
                self.m2_answered = true;
                self.maybe_send_m3(now);
            }
            MessageKind::M6 => self.on_setup(now, &msg, cseq),
            MessageKind::M7 => {
                if !self.check_session(&msg) {
                    let r = self.reply(454, cseq);
                    self.conn.send_reply(now, kind, &r, None);
                    return;
                }
                if !matches!(
                    self.phase,
                    SourcePhase::AwaitPlay | SourcePhase::Paused | SourcePhase::Playing
                ) {
                    let r = self.reply(455, cseq);
                    self.conn.send_reply(now, kind, &r, None);
                    return;
                }
                let r = self
                    .reply(200, cseq)
                    .with_header("Session", self.config.session_id.clone())
                    .with_header("Range", "npt=now-");
                self.conn.send_reply(now, kind, &r, None);
                let was_paused = self.phase == SourcePhase::Paused;
                self.phase = SourcePhase::Playing;
                if self.next_keepalive.is_none() {
                    self.next_keepalive = Some(now + self.config.keepalive_interval());
                }
                if !was_paused {
                    self.conn.events.push_back(Event::Playing(PlayInfo {
                        session_id: self.config.session_id.clone(),
                        timeout_s: self.config.session_timeout_s,
                        sink_rtp_port: self.sink_rtp_port.unwrap_or(0),
                        source_rtp_port: Some(self.config.server_rtp_port),
                    }));
                }
            }
            MessageKind::M9 => {
                let status = if !self.check_session(&msg) {
                    454
                } else if self.phase == SourcePhase::Playing {
                    self.phase = SourcePhase::Paused;
                    self.conn.events.push_back(Event::Paused);
                    200
                } else {
                    455
                };
                let r = self
                    .reply(status, cseq)
                    .with_header("Session", self.config.session_id.clone());
                self.conn.send_reply(now, kind, &r, None);
            }
            MessageKind::M8 => {
                if msg
                    .session()
                    .is_some_and(|s| s.id != self.config.session_id)
                {
                    let r = self.reply(454, cseq);
                    self.conn.send_reply(now, kind, &r, None);
                    return;
                }
                let r = self.reply(200, cseq).with_header("Connection", "close");
                self.conn.send_reply(now, kind, &r, None);
                if self.phase == SourcePhase::TearingDown {
                    self.close(CloseReason::TeardownComplete);
                } else {
                    let reason = match params.get(names::MS_TEARDOWN_REASON) {
                        Ok(Some(Parameter::MicrosoftTeardownReason(r))) => Some(r.into()),
                        _ => None,
                    };
                    self.conn
                        .events
                        .push_back(Event::SinkTeardownRequest { reason });
                    self.close(CloseReason::SinkTeardown);
                }
            }
            MessageKind::M13 => {
                let status = if msg
                    .session()
                    .is_some_and(|s| s.id != self.config.session_id)
                {
                    454
                } else {
                    200
                };
                let r = self.reply(status, cseq);
                self.conn.send_reply(now, kind, &r, None);
                if status == 200 {
                    self.n_idr_requests += 1;
                    self.conn.events.push_back(Event::IdrRequested);
                }
            }
            _ if method == Method::SetParameter => {
                // Sink-originated SET_PARAMETER: the monitor arrive/depart convention, or vendor.
                let r = self.reply(200, cseq);
                self.conn.send_reply(now, kind, &r, None);
                if let Ok(Some(Parameter::DisplayEdid(edid))) = params.get(names::DISPLAY_EDID) {
                    let bytes = edid.as_ref().and_then(|e| e.payload.clone());
                    let connected = edid.is_some();
                    if let Some(n) = &mut self.negotiated {
                        n.monitor_connected = connected;
                        n.edid.clone_from(&bytes);
                    }
                    self.conn.events.push_back(Event::MonitorChanged {
                        connected,
                        edid: bytes,
                    });
                }
            }
            _ if method == Method::GetParameter || method == Method::Options => {
                let r = self.reply(200, cseq);
                self.conn.send_reply(now, kind, &r, None);
            }
            _ => {
                let r = self.reply(501, cseq);
                self.conn.send_reply(now, kind, &r, None);
            }
        }
    }

    fn on_setup(&mut self, now: SimTime, msg: &RtspMessage, cseq: u32) {
        let kind = MessageKind::M6;
        if !matches!(self.phase, SourcePhase::Setup | SourcePhase::AwaitPlay) {
            let r = self.reply(455, cseq);
            self.conn.send_reply(now, kind, &r, None);
            return;
        }
        let uri = msg.uri().unwrap_or_default();
        let expected = self.presentation_uri().to_string();
        if uri != expected {
            // Samsung used rtsp://localhost/wfd1.0 and Windows accepted it (reference §7.7).
            self.conn.warn(format!(
                "SETUP on '{uri}' instead of the presentation URL '{expected}'"
            ));
        }
        let Some(transport) = msg.header("Transport").and_then(TransportHeader::parse) else {
            let r = self.reply(461, cseq);
            self.conn.send_reply(now, kind, &r, None);
            return;
        };
        let Some((client_port, _)) = transport.client_port else {
            let r = self.reply(461, cseq);
            self.conn.send_reply(now, kind, &r, None);
            return;
        };
        self.sink_rtp_port = Some(client_port);
        let rtcp = self.caps.as_ref().is_some_and(|c| c.rtcp);
        let server = self.config.server_rtp_port;
        let reply_transport = TransportHeader {
            profile: "RTP/AVP/UDP".to_owned(),
            unicast: true,
            client_port: Some((client_port, None)),
            server_port: Some((server, rtcp.then(|| server.saturating_add(1)))),
            ..Default::default()
        };
        let r = self
            .reply(200, cseq)
            .with_header(
                "Session",
                format!(
                    "{};timeout={}",
                    self.config.session_id, self.config.session_timeout_s
                ),
            )
            .with_header("Transport", reply_transport.to_string());
        self.conn.send_reply(now, kind, &r, None);
        self.phase = SourcePhase::AwaitPlay;
        self.expect = Some(Expect {
            kind: MessageKind::M7,
            deadline: now + self.conn.reply_timeout,
        });
    }
}

impl Endpoint for Source {
    fn role(&self) -> Role {
        Role::Source
    }

    fn handle_input(&mut self, now: SimTime, bytes: &[u8]) {
        self.conn.push_input(bytes);
        loop {
            match self.conn.next_message() {
                Ok(Some(msg)) => self.on_message(now, msg),
                Ok(None) => break,
                Err(message) => {
                    self.close(CloseReason::ProtocolError { message });
                    break;
                }
            }
        }
    }

    fn handle_peer_closed(&mut self, _now: SimTime) {
        if self.phase == SourcePhase::Closed {
            return;
        }
        if self.phase == SourcePhase::TearingDown {
            self.close(CloseReason::TeardownComplete);
        } else {
            let during = format!("{:?}", self.phase);
            self.close(CloseReason::PeerClosed { during });
        }
    }

    fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.conn.poll_transmit()
    }

    fn poll_timeout(&self) -> Option<SimTime> {
        if self.conn.closed {
            return None;
        }
        [
            self.conn.next_deadline(),
            self.expect.map(|e| e.deadline),
            self.next_keepalive,
            self.teardown_deadline,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    fn handle_timeout(&mut self, now: SimTime) {
        if self.conn.closed {
            return;
        }
        self.conn.release_delayed(now);
        if let Some(p) = self.conn.expired(now).into_iter().next() {
            if p.kind == MessageKind::M16 {
                self.conn.events.push_back(Event::KeepAliveMissed);
                self.close(CloseReason::KeepAliveMissed);
            } else if self.phase == SourcePhase::TearingDown && p.kind == MessageKind::M5 {
                self.close(CloseReason::TeardownComplete);
            } else {
                self.conn.events.push_back(Event::ReplyTimeout {
                    waiting_for: p.kind,
                });
                self.close(CloseReason::ReplyTimeout {
                    waiting_for: p.kind,
                });
            }
            return;
        }
        if let Some(e) = self.expect
            && e.deadline <= now
        {
            self.conn.events.push_back(Event::ReplyTimeout {
                waiting_for: e.kind,
            });
            self.close(CloseReason::ReplyTimeout {
                waiting_for: e.kind,
            });
            return;
        }
        if self.teardown_deadline.is_some_and(|d| d <= now) {
            self.close(CloseReason::TeardownComplete);
            return;
        }
        if self.next_keepalive.is_some_and(|k| k <= now) {
            if matches!(self.phase, SourcePhase::Playing | SourcePhase::Paused) {
                self.send_keepalive(now);
            } else {
                self.next_keepalive = None;
            }
        }
    }

    fn poll_event(&mut self) -> Option<Event> {
        self.conn.events.pop_front()
    }

    fn is_closed(&self) -> bool {
        self.conn.closed
    }

    fn has_partial_input(&self) -> bool {
        self.conn.has_partial_input()
    }

    fn request_teardown(&mut self, now: SimTime) {
        Source::request_teardown(self, now);
    }
}
