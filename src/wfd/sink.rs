//! The simulated WFD sink, sans-IO: capability personalities, fault behaviours, and the
//! state machine.
//!
//! # Configuration ([`SinkConfig`], embeddable in scenarios)
//!
//! ```json
//! {
//!   "personality": "1080p60",
//!   "capabilities": { "audio_codecs": "none", "monitor_present": false },
//!   "behaviour": { "drop_replies": ["M16"], "idr_storm": { "count": 5, "interval_ms": 100 } },
//!   "rtp_port": 19000
//! }
//! ```
//!
//! # Faults and their documented outcome at our source
//!
//! | Behaviour | Outcome at the source |
//! |---|---|
//! | `delay_replies` shorter than the reply timeout | session completes, later |
//! | `delay_replies` ≥ reply timeout, or `drop_replies` | [`Event::ReplyTimeout`] then [`CloseReason::ReplyTimeout`]; for M16 [`Event::KeepAliveMissed`] then [`CloseReason::KeepAliveMissed`] (UMD: `MIRACAST_STATUS_MISSING_KEEPALIVE`) |
//! | `malformed_replies` | [`Event::ProtocolError`] naming what is wrong, then [`CloseReason::ProtocolError`] |
//! | `wrong_cseq_replies` | [`Event::PeerWarning`] (reply matches no request), then the reply timeout as above |
//! | `extra_parameters` | tolerated, negotiation completes; kept verbatim |
//! | `close_after` | [`CloseReason::PeerClosed`] naming the phase |
//! | `idr_storm` | one [`Event::IdrRequested`] per M13, each answered 200 |
//! | `missed_keepalives` | [`Event::KeepAliveMissed`], [`CloseReason::KeepAliveMissed`] |
//! | `teardown_after_ms` | [`Event::SinkTeardownRequest`], [`CloseReason::SinkTeardown`] (UMD: `MIRACAST_STATUS_SINK_DISOCNNECT_REQUEST`) |
//! | `monitor_events` | [`Event::MonitorChanged`] per event |
//!
//! Monitor arrival/departure has no WFD message; the simulator's convention is a
//! sink-originated `SET_PARAMETER` to the presentation URL with `Session` and a
//! `wfd_display_edid` body (`none` for departure).

use std::time::Duration;

use rtsp_types::Method;

use super::Endpoint;
use super::conn::{Conn, ms};
use super::event::{CloseReason, Event, PlayInfo, SinkConfiguration};
use super::message::{
    LOCALHOST_URI, MessageKind, Role, RtspMessage, SessionHeader, TransportHeader, WFD_TOKEN,
    public_tokens,
};
use super::params::{
    AudioCodecs, ConnectorType, ContentProtection, DisplayEdid, ErrorList, HdcpVersion, ParamError,
    Parameter, ParameterList, PresentationUri, TriggerMethod, UibcCapability, VideoFormats,
    VideoTable, names,
};
use crate::time::SimTime;

/// A named capability set.
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
pub enum Personality {
    /// CEA up to 1280×720p60, levels 3.1/3.2, LPCM + AAC, HDMI monitor.
    #[serde(rename = "720p_only")]
    P720Only,
    /// CEA up to 1920×1080p60 (level 4.2), LPCM + AAC, HDMI monitor with EDID. The default.
    #[default]
    #[serde(rename = "1080p60")]
    P1080p60,
    /// Every R1 CEA/VESA/HH mode, plus the R2 `wfd2_video_formats` line a Windows 10 sink sent
    /// (kept raw: R1 cannot express 4K) and `microsoft_max_bitrate: 200000000`; EDID preferring
    /// 3840×2160.
    #[serde(rename = "4k")]
    P4k,
    /// CEA 640×480p60 (the mandatory fallback) plus every VESA mode.
    #[serde(rename = "vesa_only")]
    VesaOnly,
    /// Like `1080p60` but `wfd_display_edid: none` and `wfd_connector_type: none`.
    #[serde(rename = "no_monitor")]
    NoMonitor,
    /// Like `1080p60` but `wfd_audio_codecs: none`.
    #[serde(rename = "no_audio")]
    NoAudio,
    /// Like `1080p60` but `wfd_content_protection: HDCP2.1 port=1189`.
    #[serde(rename = "hdcp2_required")]
    Hdcp2Required,
}

impl Personality {
    /// Every personality, for `--help` and tests.
    pub const ALL: [Personality; 7] = [
        Personality::P720Only,
        Personality::P1080p60,
        Personality::P4k,
        Personality::VesaOnly,
        Personality::NoMonitor,
        Personality::NoAudio,
        Personality::Hdcp2Required,
    ];

    /// The name used in JSON and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Personality::P720Only => "720p_only",
            Personality::P1080p60 => "1080p60",
            Personality::P4k => "4k",
            Personality::VesaOnly => "vesa_only",
            Personality::NoMonitor => "no_monitor",
            Personality::NoAudio => "no_audio",
            Personality::Hdcp2Required => "hdcp2_required",
        }
    }

    /// Looks a personality up by [`Personality::name`].
    pub fn from_name(name: &str) -> Option<Personality> {
        Personality::ALL.into_iter().find(|p| p.name() == name)
    }
}

/// Overrides of a personality's capability set; any field left out keeps the personality's.
#[derive(
    Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(deny_unknown_fields, rename_all = "snake_case", default)]
pub struct CapabilityOverrides {
    /// `wfd_video_formats` value in wire grammar (e.g. `"00 00 02 04 000000FF 00000000 00000000 00 0000 0000 11 none none"`).
    pub video_formats: Option<String>,
    /// `wfd_audio_codecs` value in wire grammar (`"none"`, `"LPCM 00000002 00"`).
    pub audio_codecs: Option<String>,
    /// False removes EDID and connector type (no monitor); true keeps/adds them.
    pub monitor_present: Option<bool>,
    /// EDID bytes as hex (multiple of 128 bytes).
    pub edid_hex: Option<String>,
    /// HDCP announced in `wfd_content_protection` (`null` for none).
    pub hdcp: Option<HdcpVersion>,
    /// `wfd_connector_type` byte.
    pub connector_type: Option<u8>,
    /// `wfd_idr_request_capability`.
    pub idr_request_capability: Option<bool>,
    /// `wfd_uibc_capability` value in wire grammar.
    pub uibc_capability: Option<String>,
    /// `intel_friendly_name`.
    pub friendly_name: Option<String>,
    /// Extra parameters answered when the source asks for them by name.
    pub parameters: Vec<ExtraParameter>,
}

/// A `name: value` pair.
#[derive(
    Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(deny_unknown_fields)]
pub struct ExtraParameter {
    /// Parameter name.
    pub name: String,
    /// Value text.
    pub value: String,
}

/// Hold a reply for a while.
#[derive(
    Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct DelayReply {
    /// The request whose reply is delayed.
    pub message: MessageKind,
    /// The delay in milliseconds.
    pub delay_ms: u64,
}

/// Send a burst of IDR requests (M13) while streaming.
#[derive(
    Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct IdrStorm {
    /// How many M13.
    pub count: u32,
    /// Milliseconds between them.
    pub interval_ms: u64,
    /// Milliseconds after PLAY before the first.
    #[serde(default)]
    pub start_after_ms: u64,
}

/// A monitor arriving or leaving while streaming.
#[derive(
    Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct MonitorEvent {
    /// Milliseconds after PLAY.
    pub after_ms: u64,
    /// True: a monitor arrives (EDID sent); false: it leaves (`none`).
    pub present: bool,
}

/// Scripted behaviours and faults. Reply faults apply to replies to source-originated
/// requests (M1, M3, M4, M5, M10..M12, M14..M16).
#[derive(
    Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(deny_unknown_fields, rename_all = "snake_case", default)]
pub struct SinkBehaviour {
    /// Replies held back.
    pub delay_replies: Vec<DelayReply>,
    /// Replies never sent (the request is still acted on).
    pub drop_replies: Vec<MessageKind>,
    /// Replies sent malformed: M3 with a bad `wfd_audio_codecs`, others with a broken status
    /// line.
    pub malformed_replies: Vec<MessageKind>,
    /// Replies sent with CSeq + 1000.
    pub wrong_cseq_replies: Vec<MessageKind>,
    /// Unrequested unknown parameters appended to the M3 reply.
    pub extra_parameters: Vec<ExtraParameter>,
    /// Close the connection right after handling (or sending) this message.
    pub close_after: Option<MessageKind>,
    /// IDR request burst.
    pub idr_storm: Option<IdrStorm>,
    /// Leave this many keep-alives (M16) unanswered, from the first.
    pub missed_keepalives: Option<u32>,
    /// Tear down on our own this many milliseconds after PLAY.
    pub teardown_after_ms: Option<u64>,
    /// Monitor arrival/departure notifications.
    pub monitor_events: Vec<MonitorEvent>,
}

/// Configuration of the simulated sink. Embeddable in scenarios.
#[derive(
    Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(deny_unknown_fields, rename_all = "snake_case", default)]
pub struct SinkConfig {
    /// Base capability set.
    pub personality: Personality,
    /// Overrides of the personality.
    pub capabilities: CapabilityOverrides,
    /// Faults and scripted behaviour.
    pub behaviour: SinkBehaviour,
    /// The RTP port announced in `wfd_client_rtp_ports` and SETUP.
    pub rtp_port: u16,
    /// How long to wait for a reply, milliseconds.
    pub reply_timeout_ms: u64,
    /// How long to wait for the source's next request during negotiation, milliseconds.
    pub expect_timeout_ms: u64,
    /// End the session when the source sends nothing for `timeout` + reply timeout while
    /// streaming.
    pub keepalive_watchdog: bool,
    /// `User-Agent` on our requests.
    pub user_agent: Option<String>,
    /// Largest RTSP message accepted.
    pub max_message: usize,
}

impl Default for SinkConfig {
    fn default() -> Self {
        SinkConfig {
            personality: Personality::default(),
            capabilities: CapabilityOverrides::default(),
            behaviour: SinkBehaviour::default(),
            rtp_port: 19000,
            reply_timeout_ms: 5_000,
            expect_timeout_ms: 10_000,
            keepalive_watchdog: true,
            user_agent: Some("miracast-sim-sink/0.1".to_owned()),
            max_message: super::message::DEFAULT_MAX_MESSAGE,
        }
    }
}

/// A resolved capability set: what the sink answers in M3.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CapabilitySet {
    /// `wfd_video_formats`.
    pub video: Option<VideoFormats>,
    /// `wfd_audio_codecs`.
    pub audio: AudioCodecs,
    /// `wfd_display_edid`.
    pub edid: Option<DisplayEdid>,
    /// `wfd_connector_type`.
    pub connector: Option<ConnectorType>,
    /// `wfd_content_protection`.
    pub content_protection: Option<ContentProtection>,
    /// `wfd_uibc_capability`.
    pub uibc: Option<UibcCapability>,
    /// `wfd_idr_request_capability`.
    pub idr_request_capability: bool,
    /// `intel_friendly_name`.
    pub friendly_name: String,
    /// Further parameters answered when asked.
    pub extra: Vec<ExtraParameter>,
}

/// The R2 `wfd2_video_formats` value a Windows 10 sink sent (captured by lazycast); kept raw.
const WINDOWS_WFD2_VIDEO: &str = "40 01 04 0080 000001ffbdeb 000155557fff 000000000fff 10 0000 001f 11, 01 01 0080 000001ffbdeb 0001555557ff 000000000fff 10 0000 001f 11 00";

fn video(entries: &[(u8, u8, u32, u32, u32)], native: u8) -> VideoFormats {
    VideoFormats {
        native,
        preferred_display_mode_supported: 0,
        codecs: entries
            .iter()
            .map(|(profile, level, cea, vesa, hh)| super::params::H264Codec {
                profile: *profile,
                level: *level,
                cea: *cea,
                vesa: *vesa,
                hh: *hh,
                latency: 0,
                min_slice_size: 0,
                slice_enc_params: 0,
                frame_rate_control: 0x11,
                max_hres: None,
                max_vres: None,
            })
            .collect(),
    }
}

impl SinkConfig {
    /// The capability set: the personality with the overrides applied.
    ///
    /// # Errors
    /// [`ParamError`] when an override in wire grammar is malformed.
    pub fn capability_set(&self) -> Result<CapabilitySet, ParamError> {
        let lpcm_aac = AudioCodecs::parse("LPCM 00000003 00, AAC 00000001 00")?;
        let hdmi = Some(ConnectorType::HDMI);
        let edid_1080 = Some(DisplayEdid::from_bytes(synthetic_edid(
            "SIM 1080p60",
            1920,
            1080,
            60,
        )));
        let mut set = CapabilitySet {
            video: Some(video(
                &[
                    (0x02, 0x10, 0x0000_01FF, 0, 0),
                    (0x01, 0x10, 0x0000_01FF, 0, 0),
                ],
                0x40,
            )),
            audio: lpcm_aac,
            edid: edid_1080,
            connector: hdmi,
            content_protection: None,
            uibc: None,
            idr_request_capability: true,
            friendly_name: "MiracastSim".to_owned(),
            extra: Vec::new(),
        };
        match self.personality {
            Personality::P1080p60 => {}
            Personality::P720Only => {
                set.video = Some(video(
                    &[
                        (0x02, 0x02, 0x0000_006B, 0, 0),
                        (0x01, 0x02, 0x0000_006B, 0, 0),
                    ],
                    0x30,
                ));
                set.edid = Some(DisplayEdid::from_bytes(synthetic_edid(
                    "SIM 720p", 1280, 720, 60,
                )));
            }
            Personality::P4k => {
                set.video = Some(video(
                    &[
                        (0x02, 0x10, 0x0001_FFFF, 0x1FFF_FFFF, 0x0FFF),
                        (0x01, 0x10, 0x0001_FFFF, 0x1FFF_FFFF, 0x0FFF),
                    ],
                    0x40,
                ));
                set.edid = Some(DisplayEdid::from_bytes(synthetic_edid(
                    "SIM 4K", 3840, 2160, 30,
                )));
                set.extra.push(ExtraParameter {
                    name: "wfd2_video_formats".to_owned(),
                    value: WINDOWS_WFD2_VIDEO.to_owned(),
                });
                set.extra.push(ExtraParameter {
                    name: names::MS_MAX_BITRATE.to_owned(),
                    value: "200000000".to_owned(),
                });
            }
            Personality::VesaOnly => {
                set.video = Some(video(
                    &[
                        (0x02, 0x10, 0x0000_0001, 0x1FFF_FFFF, 0),
                        (0x01, 0x10, 0x0000_0001, 0x1FFF_FFFF, 0),
                    ],
                    0xE1,
                ));
                set.edid = Some(DisplayEdid::from_bytes(synthetic_edid(
                    "SIM VESA", 1920, 1200, 60,
                )));
                set.connector = Some(ConnectorType(0x0A));
            }
            Personality::NoMonitor => {
                set.edid = None;
                set.connector = None;
            }
            Personality::NoAudio => set.audio = AudioCodecs::default(),
            Personality::Hdcp2Required => {
                set.content_protection = Some(ContentProtection {
                    version: HdcpVersion::Hdcp2_1,
                    port: 1189,
                });
            }
        }
        let o = &self.capabilities;
        if let Some(v) = &o.video_formats {
            set.video = VideoFormats::parse(v)?;
        }
        if let Some(a) = &o.audio_codecs {
            set.audio = AudioCodecs::parse(a)?;
        }
        if let Some(hex) = &o.edid_hex {
            let bytes = super::params::device::decode_hex(hex.trim()).ok_or_else(|| {
                ParamError::new(
                    names::DISPLAY_EDID,
                    "edid_hex",
                    "must be an even number of hex digits",
                )
            })?;
            set.edid = Some(DisplayEdid::from_bytes(bytes));
        }
        if let Some(c) = o.connector_type {
            set.connector = Some(ConnectorType(c));
        }
        match o.monitor_present {
            Some(false) => {
                set.edid = None;
                set.connector = None;
            }
            Some(true) => {
                if set.edid.is_none() {
                    set.edid = Some(DisplayEdid::from_bytes(synthetic_edid(
                        "SIM", 1920, 1080, 60,
                    )));
                }
                set.connector = set.connector.or(Some(ConnectorType::HDMI));
            }
            None => {}
        }
        if let Some(h) = o.hdcp {
            set.content_protection = Some(ContentProtection {
                version: h,
                port: 1189,
            });
        }
        if let Some(b) = o.idr_request_capability {
            set.idr_request_capability = b;
        }
        if let Some(u) = &o.uibc_capability {
            set.uibc = UibcCapability::parse(u)?;
        }
        if let Some(n) = &o.friendly_name {
            set.friendly_name = super::params::vendor::parse_friendly_name(n)?;
        }
        set.extra.extend(o.parameters.iter().cloned());
        Ok(set)
    }
}

/// A plausible 128-byte EDID base block (manufacturer `SIM`, one detailed timing for the
/// preferred mode, a display-name descriptor) with a correct checksum.
pub fn synthetic_edid(name: &str, width: u16, height: u16, refresh_hz: u16) -> Vec<u8> {
    let mut e = vec![0u8; 128];
    e[..8].copy_from_slice(&[0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00]);
    let letter = |c: u8| u16::from(c - b'@');
    let id = (letter(b'S') << 10) | (letter(b'I') << 5) | letter(b'M');
    e[8..10].copy_from_slice(&id.to_be_bytes());
    e[10] = 0x01; // product code
    e[16] = 1; // week
    e[17] = 34; // 2024
    e[18] = 1;
    e[19] = 4; // EDID 1.4
    e[20] = 0xA5; // digital, 8 bpc, DisplayPort-ish; informational only
    e[21] = 0x3C; // 60 cm
    e[22] = 0x22; // 34 cm
    e[23] = 0x78; // gamma 2.2
    e[24] = 0x0A; // preferred timing in DTD 1, RGB
    for i in 0..8 {
        e[38 + i * 2] = 0x01;
        e[39 + i * 2] = 0x01;
    }
    // Detailed timing descriptor (offset 54) with CVT-like blanking.
    let hblank: u32 = 280;
    let vblank: u32 = 45;
    let clock_10khz =
        (u32::from(width) + hblank) * (u32::from(height) + vblank) * u32::from(refresh_hz) / 10_000;
    let clock = u16::try_from(clock_10khz.min(0xFFFF))
        .unwrap_or(u16::MAX)
        .to_le_bytes();
    let (w, h) = (u32::from(width), u32::from(height));
    let d = &mut e[54..72];
    d[0] = clock[0];
    d[1] = clock[1];
    d[2] = (w & 0xFF) as u8;
    d[3] = (hblank & 0xFF) as u8;
    d[4] = ((((w >> 8) & 0xF) << 4) | ((hblank >> 8) & 0xF)) as u8;
    d[5] = (h & 0xFF) as u8;
    d[6] = (vblank & 0xFF) as u8;
    d[7] = ((((h >> 8) & 0xF) << 4) | ((vblank >> 8) & 0xF)) as u8;
    d[8] = 88;
    d[9] = 44;
    d[10] = 0x45;
    d[17] = 0x1E;
    // Display product name descriptor (offset 72).
    let n = &mut e[72..90];
    n[3] = 0xFC;
    let mut text: Vec<u8> = name.bytes().filter(u8::is_ascii_graphic).take(13).collect();
    if name.contains(' ') {
        text = name
            .bytes()
            .filter(|b| b.is_ascii_graphic() || *b == b' ')
            .take(13)
            .collect();
    }
    let len = text.len();
    n[5..5 + len].copy_from_slice(&text);
    if len < 13 {
        n[5 + len] = b'\n';
        for b in &mut n[6 + len..18] {
            *b = b' ';
        }
    }
    // Two dummy descriptors (tag 0x10).
    e[93] = 0x10;
    e[111] = 0x10;
    let sum: u32 = e[..127].iter().map(|b| u32::from(*b)).sum();
    e[127] = ((256 - (sum % 256)) % 256) as u8;
    e
}

/// Where the sink is in the exchange.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SinkPhase {
    /// Connected, waiting for the source's M1.
    AwaitM1,
    /// M1 answered, M2 sent; M3/M4/M5 exchange.
    Negotiating,
    /// M6 SETUP sent.
    SetupSent,
    /// M7 PLAY sent.
    PlaySent,
    /// Streaming.
    Playing,
    /// Paused.
    Paused,
    /// M8 TEARDOWN sent.
    TearingDown,
    /// Over.
    Closed,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SinkTimer {
    Teardown,
    Idr { remaining: u32 },
    Monitor { present: bool },
}

/// The WFD sink state machine (sans-IO).
///
/// ```text
///   AwaitM1 ◀── M1 OPTIONS ── 200 Public ──▶ M2 OPTIONS ──▶ Negotiating
///   Negotiating ◀── M3 GET_PARAMETER ── 200 values      (may arrive before the M2 reply)
///               ◀── M4 SET_PARAMETER ── 200, Event::Configured
///               ◀── M5 SETUP trigger ── 200 ──▶ M6 SETUP ──▶ SetupSent
///   SetupSent ── 200 Session;timeout + Transport ──▶ M7 PLAY ──▶ PlaySent
///   PlaySent ── 200 ──▶ Playing (Event::Playing)   460: retry PLAY on the aggregate URL
///   Playing ◀── M16 ── 200 (Event::KeepAlive)        ── M13 (request_idr) ──▶ 200
///           ◀── M5 PAUSE/PLAY/TEARDOWN ── 200 ──▶ M9/M7/M8
///   request_teardown / M5 TEARDOWN ──▶ M8 TEARDOWN ──▶ TearingDown
///   TearingDown ── any final reply ──▶ Closed(TeardownComplete)
///              ── 460 ──▶ M8 again on the aggregate URL (gst-rtsp-server)
/// ```
///
/// The sink tolerates what GNOME Network Displays does (M3 before the M2 reply, extra
/// methods in `Public`, `RTP/AVP` without `/UDP`, 1080p30 chosen regardless of the offer,
/// audio announced when none was offered, 460 on per-stream TEARDOWN) and reports each
/// departure from the WFD grammar as [`Event::PeerWarning`] naming the peer's `Server`.
#[derive(Debug)]
pub struct Sink {
    config: SinkConfig,
    caps: CapabilitySet,
    conn: Conn,
    phase: SinkPhase,
    presentation: Option<PresentationUri>,
    session: Option<SessionHeader>,
    source_rtp_port: Option<u16>,
    expect: Option<(MessageKind, SimTime)>,
    timers: Vec<(SimTime, SinkTimer)>,
    last_source_request: SimTime,
    keepalives_answered: u32,
    keepalives_ignored: u32,
    negotiation_complete: bool,
    configured: Option<SinkConfiguration>,
}

impl Sink {
    /// A sink whose TCP connection is established at `now`; it waits for the source's M1.
    ///
    /// # Errors
    /// [`ParamError`] when a capability override is malformed.
    pub fn new(config: SinkConfig, now: SimTime) -> Result<Sink, ParamError> {
        let caps = config.capability_set()?;
        let conn = Conn::new(
            Role::Sink,
            config.max_message,
            ms(config.reply_timeout_ms),
            1,
        );
        let expect = Some((MessageKind::M1, now + ms(config.expect_timeout_ms)));
        Ok(Sink {
            config,
            caps,
            conn,
            phase: SinkPhase::AwaitM1,
            presentation: None,
            session: None,
            source_rtp_port: None,
            expect,
            timers: Vec::new(),
            last_source_request: now,
            keepalives_answered: 0,
            keepalives_ignored: 0,
            negotiation_complete: false,
            configured: None,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &SinkConfig {
        &self.config
    }

    /// The resolved capability set.
    pub fn capabilities(&self) -> &CapabilitySet {
        &self.caps
    }

    /// The current phase.
    pub fn phase(&self) -> SinkPhase {
        self.phase
    }

    /// True once PLAY was answered 200 (M1..M7 complete).
    pub fn negotiation_complete(&self) -> bool {
        self.negotiation_complete
    }

    /// Keep-alives answered.
    pub fn keepalives_answered(&self) -> u32 {
        self.keepalives_answered
    }

    /// What M4 configured.
    pub fn configuration(&self) -> Option<&SinkConfiguration> {
        self.configured.as_ref()
    }

    /// The session from the SETUP reply.
    pub fn session(&self) -> Option<&SessionHeader> {
        self.session.as_ref()
    }

    fn stream_uri(&self) -> String {
        self.presentation
            .map_or_else(|| LOCALHOST_URI.to_owned(), |p| p.to_string())
    }

    fn new_request(&mut self, method: Method, uri: &str) -> RtspMessage {
        let cseq = self.conn.alloc_cseq();
        let mut req = RtspMessage::request(method, uri, cseq);
        if let Some(ua) = &self.config.user_agent {
            req = req.with_header("User-Agent", ua.clone());
        }
        req
    }

    fn with_session(&self, req: RtspMessage) -> RtspMessage {
        match &self.session {
            Some(s) => req.with_header("Session", s.id.clone()),
            None => req,
        }
    }

    fn close(&mut self, reason: CloseReason) {
        self.phase = SinkPhase::Closed;
        self.expect = None;
        self.timers.clear();
        self.conn.close(reason);
    }

    fn after_message(&mut self, kind: MessageKind) {
        if self.config.behaviour.close_after == Some(kind) && !self.conn.closed {
            self.close(CloseReason::FaultInjected { after: kind });
        }
    }

    fn send_request(&mut self, now: SimTime, kind: MessageKind, req: RtspMessage) {
        self.conn.send_request(now, kind, req);
        self.after_message(kind);
    }

    /// Sends a reply to a source request, applying the configured reply faults.
    fn reply(&mut self, now: SimTime, kind: MessageKind, reply: RtspMessage) {
        let b = &self.config.behaviour;
        let cseq = reply.cseq().unwrap_or(0);
        if b.drop_replies.contains(&kind) {
            self.after_message(kind);
            return;
        }
        if b.malformed_replies.contains(&kind) {
            let bytes = if kind == MessageKind::M3 {
                let mut bad = reply.clone();
                let mut list = ParameterList::parse(&bad.body).unwrap_or_default();
                list.lines.retain(|l| !l.is(names::AUDIO_CODECS));
                list.push_raw(names::AUDIO_CODECS, "AAC FFFFFFFFFFFFFFFFF 00");
                bad = bad.with_params(&list);
                bad.to_bytes()
            } else {
                format!("RTSP/1.0 2OO OK\r\nCSeq: {cseq}\r\n\r\n").into_bytes()
            };
            self.conn.send_raw(now, kind, bytes, true);
            self.after_message(kind);
            return;
        }
        let reply = if b.wrong_cseq_replies.contains(&kind) {
            let mut r = reply;
            r.headers.retain(|(n, _)| !n.eq_ignore_ascii_case("CSeq"));
            r.headers
                .insert(0, ("CSeq".to_owned(), cseq.wrapping_add(1000).to_string()));
            r
        } else {
            reply
        };
        let delay = b
            .delay_replies
            .iter()
            .find(|d| d.message == kind)
            .map(|d| now + ms(d.delay_ms));
        self.conn.send_reply(now, kind, &reply, delay);
        self.after_message(kind);
    }

    // ---- commands ----------------------------------------------------------------------

    /// Asks the source for an IDR picture (M13). Only while streaming.
    pub fn request_idr(&mut self, now: SimTime) {
        if !matches!(self.phase, SinkPhase::Playing | SinkPhase::Paused) {
            return;
        }
        let mut list = ParameterList::new();
        list.push(&Parameter::IdrRequest);
        let uri = self.stream_uri();
        let req = self.new_request(Method::SetParameter, &uri);
        let req = self.with_session(req).with_params(&list);
        self.send_request(now, MessageKind::M13, req);
    }

    /// Tears the session down (M8 TEARDOWN). Before SETUP it just closes.
    pub fn request_teardown(&mut self, now: SimTime) {
        match self.phase {
            SinkPhase::SetupSent | SinkPhase::PlaySent | SinkPhase::Playing | SinkPhase::Paused => {
                let uri = self.stream_uri();
                let req = self.new_request(Method::Teardown, &uri);
                let req = self.with_session(req);
                self.phase = SinkPhase::TearingDown;
                self.timers.clear();
                self.send_request(now, MessageKind::M8, req);
            }
            SinkPhase::TearingDown | SinkPhase::Closed => {}
            _ => self.close(CloseReason::LocalClose),
        }
    }

    /// Reports a monitor arriving (`Some(edid)`) or leaving (`None`) — the simulator's
    /// convention, see the module doc.
    pub fn notify_monitor(&mut self, now: SimTime, edid: Option<DisplayEdid>) {
        if !matches!(self.phase, SinkPhase::Playing | SinkPhase::Paused) {
            return;
        }
        self.caps.edid.clone_from(&edid);
        let mut list = ParameterList::new();
        list.push(&Parameter::DisplayEdid(edid));
        let uri = self.stream_uri();
        let req = self.new_request(Method::SetParameter, &uri);
        let req = self.with_session(req).with_params(&list);
        self.send_request(now, MessageKind::Other, req);
    }

    // ---- input -------------------------------------------------------------------------

    fn on_message(&mut self, now: SimTime, msg: RtspMessage) {
        if msg.is_response() {
            self.on_reply(now, msg);
        } else {
            self.last_source_request = now;
            self.on_request(now, msg);
        }
    }

    fn m3_value(&self, name: &str) -> Option<Parameter> {
        let c = &self.caps;
        let canonical = names::canonical(name)?;
        Some(match canonical {
            names::VIDEO_FORMATS => Parameter::VideoFormats(c.video.clone()),
            names::AUDIO_CODECS => Parameter::AudioCodecs(c.audio.clone()),
            names::CLIENT_RTP_PORTS => {
                Parameter::ClientRtpPorts(super::params::ClientRtpPorts::udp(self.config.rtp_port))
            }
            names::DISPLAY_EDID => Parameter::DisplayEdid(c.edid.clone()),
            names::CONNECTOR_TYPE => Parameter::ConnectorType(c.connector),
            names::CONTENT_PROTECTION => Parameter::ContentProtection(c.content_protection),
            names::UIBC_CAPABILITY => Parameter::UibcCapability(c.uibc.clone()),
            names::IDR_REQUEST_CAPABILITY => {
                Parameter::IdrRequestCapability(c.idr_request_capability)
            }
            names::STANDBY_RESUME_CAPABILITY => Parameter::StandbyResumeCapability(false),
            names::COUPLED_SINK => Parameter::CoupledSink(None),
            names::VIDEO_3D_FORMATS => Parameter::Video3dFormats(None),
            names::I2C => Parameter::I2c(None),
            names::INTEL_FRIENDLY_NAME => Parameter::IntelFriendlyName(c.friendly_name.clone()),
            names::INTEL_MANUFACTURER_NAME => {
                Parameter::IntelSinkManufacturerName(Some("miracast-sim".to_owned()))
            }
            names::INTEL_MODEL_NAME => {
                Parameter::IntelSinkModelName(Some(self.config.personality.name().to_owned()))
            }
            names::INTEL_DEVICE_URL => Parameter::IntelSinkDeviceUrl(None),
            _ => return None,
        })
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
                let r = RtspMessage::response(400, cseq);
                self.conn.send_reply(now, MessageKind::Other, &r, None);
                return;
            }
        };
        let method = msg
            .method()
            .cloned()
            .unwrap_or(Method::Extension(String::new()));
        let kind = MessageKind::of_request(&method, Role::Source, &params);
        self.conn.log_received(now, &msg, kind);
        if kind != MessageKind::Other {
            self.expect = None;
        }
        let ok = RtspMessage::response(200, cseq);
        match kind {
            MessageKind::M1 => {
                let require_ok = msg.header("Require").is_some_and(|r| {
                    public_tokens(r)
                        .iter()
                        .any(|t| t.eq_ignore_ascii_case(WFD_TOKEN))
                });
                if !require_ok {
                    self.conn
                        .warn("M1 OPTIONS without 'Require: org.wfa.wfd1.0'");
                }
                let r = ok.with_header("Public", "org.wfa.wfd1.0, GET_PARAMETER, SET_PARAMETER");
                self.reply(now, kind, r);
                if self.phase == SinkPhase::AwaitM1 && !self.conn.closed {
                    self.phase = SinkPhase::Negotiating;
                    let req = self
                        .new_request(Method::Options, "*")
                        .with_header("Require", WFD_TOKEN);
                    self.send_request(now, MessageKind::M2, req);
                    self.expect = Some((MessageKind::M3, now + ms(self.config.expect_timeout_ms)));
                }
            }
            MessageKind::M3 => {
                let mut list = ParameterList::new();
                for name in params.names() {
                    if let Some(p) = self.m3_value(name) {
                        list.push(&p);
                    } else if let Some(extra) = self
                        .caps
                        .extra
                        .iter()
                        .find(|e| e.name.eq_ignore_ascii_case(name))
                    {
                        list.push_raw(&extra.name, &extra.value);
                    }
                }
                for extra in &self.config.behaviour.extra_parameters {
                    list.push_raw(&extra.name, &extra.value);
                }
                let r = ok.with_params(&list);
                self.reply(now, kind, r);
                if !self.conn.closed {
                    self.expect = Some((MessageKind::M4, now + ms(self.config.expect_timeout_ms)));
                }
            }
            MessageKind::M4 => self.on_m4(now, kind, ok, &params),
            MessageKind::M5 => {
                let trigger = match params.get(names::TRIGGER_METHOD) {
                    Ok(Some(Parameter::TriggerMethod(t))) => t,
                    other => {
                        let why = match other {
                            Err(e) => e.to_string(),
                            _ => "wfd_trigger_method missing".to_owned(),
                        };
                        self.conn
                            .events
                            .push_back(Event::ProtocolError { message: why });
                        let mut errors = ErrorList::default();
                        errors
                            .entries
                            .push((names::TRIGGER_METHOD.to_owned(), vec![400]));
                        let r = RtspMessage::response(303, cseq).with_params(&errors.to_list());
                        self.reply(now, kind, r);
                        return;
                    }
                };
                self.reply(now, kind, ok);
                if !self.conn.closed {
                    self.on_trigger(now, trigger);
                }
            }
            MessageKind::M16 => {
                let ignore = self.config.behaviour.missed_keepalives.unwrap_or(0);
                if self.keepalives_ignored < ignore {
                    self.keepalives_ignored += 1;
                    self.after_message(kind);
                    return;
                }
                let mut r = ok;
                if let Some(s) = &self.session {
                    r = r.with_header("Session", s.id.clone());
                }
                self.reply(now, kind, r);
                self.keepalives_answered += 1;
                self.conn.events.push_back(Event::KeepAlive);
            }
            _ if method == Method::SetParameter => {
                // M10/M11/M12/M14/M15 and vendor parameters: accept what parses.
                if let Err(e) = params.typed() {
                    self.conn.events.push_back(Event::ProtocolError {
                        message: e.to_string(),
                    });
                }
                self.reply(now, kind, ok);
            }
            _ if method == Method::GetParameter || method == Method::Options => {
                self.reply(now, kind, ok)
            }
            _ => {
                let r = RtspMessage::response(501, cseq);
                self.reply(now, kind, r);
            }
        }
    }

    fn on_m4(&mut self, now: SimTime, kind: MessageKind, ok: RtspMessage, params: &ParameterList) {
        let cseq = ok.cseq().unwrap_or(0);
        let mut errors = ErrorList::default();
        let mut config = SinkConfiguration {
            video: None,
            video_mode: None,
            chosen_mode: None,
            audio: None,
            presentation_url: None,
        };
        for line in &params.lines {
            match line.typed() {
                Err(e) => {
                    self.conn.events.push_back(Event::ProtocolError {
                        message: e.to_string(),
                    });
                    errors.entries.push((line.name.clone(), vec![400]));
                }
                Ok(Parameter::VideoFormats(Some(v))) => {
                    config.video = Some(v.to_string());
                    let modes: Vec<_> = v.codecs.iter().flat_map(|c| c.modes()).collect();
                    if v.codecs.len() != 1
                        || modes.len() != 1
                        || v.codecs[0].profile.count_ones() != 1
                    {
                        self.conn.warn(format!(
                            "M4 wfd_video_formats should carry one codec entry with one profile bit and one mode bit ('{v}')"
                        ));
                    }
                    if let Some((table, bit, mode)) = modes.first() {
                        config.video_mode = Some(mode.to_string());
                        config.chosen_mode = Some(*mode);
                        if !self.offers(*table, *bit) {
                            self.conn
                                .warn(format!("M4 selects {mode}, which this sink did not offer"));
                        }
                    }
                }
                Ok(Parameter::AudioCodecs(a)) => {
                    if !a.is_none() && self.caps.audio.is_none() {
                        self.conn.warn(format!(
                            "M4 announces audio '{a}' although the sink offered none"
                        ));
                    }
                    config.audio = Some(a.to_string());
                }
                Ok(Parameter::PresentationUrl(u)) => {
                    self.presentation = u.url0;
                    config.presentation_url = u.url0.map(|u| u.to_string());
                }
                Ok(Parameter::ClientRtpPorts(p)) => {
                    if p.port0 != self.config.rtp_port {
                        self.conn.warn(format!(
                            "M4 wfd_client_rtp_ports port0 {} differs from ours {}",
                            p.port0, self.config.rtp_port
                        ));
                    } else if p.port1 != 0 {
                        self.conn.warn(format!(
                            "M4 wfd_client_rtp_ports port1 is {} (a primary sink announced 0)",
                            p.port1
                        ));
                    }
                }
                Ok(_) => {}
            }
        }
        if !errors.entries.is_empty() {
            let r = RtspMessage::response(303, cseq).with_params(&errors.to_list());
            self.reply(now, kind, r);
            return;
        }
        self.reply(now, kind, ok);
        if params.contains(names::PRESENTATION_URL) {
            self.conn
                .events
                .push_back(Event::Configured(Box::new(config.clone())));
            self.configured = Some(config);
        }
        if !self.conn.closed && self.phase == SinkPhase::Negotiating {
            self.expect = Some((MessageKind::M5, now + ms(self.config.expect_timeout_ms)));
        }
    }

    fn offers(&self, table: VideoTable, bit: u8) -> bool {
        self.caps
            .video
            .iter()
            .flat_map(|v| v.codecs.iter())
            .any(|c| c.bitmap(table) & (1 << bit) != 0)
    }

    fn on_trigger(&mut self, now: SimTime, trigger: TriggerMethod) {
        match trigger {
            TriggerMethod::Setup => {
                if self.presentation.is_none() {
                    self.conn.warn(
                        "SETUP trigger before a presentation URL; using rtsp://localhost/wfd1.0",
                    );
                }
                let uri = self.stream_uri();
                let transport = format!("RTP/AVP/UDP;unicast;client_port={}", self.config.rtp_port);
                let req = self
                    .new_request(Method::Setup, &uri)
                    .with_header("Transport", transport);
                self.phase = SinkPhase::SetupSent;
                self.send_request(now, MessageKind::M6, req);
            }
            TriggerMethod::Play => {
                let uri = self.stream_uri();
                let req = self.new_request(Method::Play, &uri);
                let req = self.with_session(req);
                self.send_request(now, MessageKind::M7, req);
            }
            TriggerMethod::Pause => {
                let uri = self.stream_uri();
                let req = self.new_request(Method::Pause, &uri);
                let req = self.with_session(req);
                self.send_request(now, MessageKind::M9, req);
            }
            TriggerMethod::Teardown => self.request_teardown(now),
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
        // gst-rtsp-server (GNOME) answers 460 to PLAY/PAUSE/TEARDOWN on the stream URL:
        // retry once on the aggregate URL.
        if status == 460
            && matches!(
                pending.kind,
                MessageKind::M7 | MessageKind::M8 | MessageKind::M9
            )
            && let Some(p) = self.presentation
            && pending.request.uri() != Some(p.aggregate().as_str())
        {
            let aggregate = p.aggregate();
            self.conn.warn(format!(
                "{} on the stream URL answered 460 (only aggregate operation allowed); retrying on {aggregate}",
                pending.kind
            ));
            let mut retry = pending.request.clone();
            if let super::message::StartLine::Request { uri, .. } = &mut retry.start {
                *uri = aggregate;
            }
            let new_cseq = self.conn.alloc_cseq();
            for h in &mut retry.headers {
                if h.0.eq_ignore_ascii_case("CSeq") {
                    h.1 = new_cseq.to_string();
                }
            }
            self.conn.send_request(now, pending.kind, retry);
            return;
        }
        if pending.kind == MessageKind::M8 {
            // Any final reply ends the session (reference: a non-2xx still ends it in practice).
            if !(200..300).contains(&status) {
                self.conn.events.push_back(Event::ErrorReply {
                    to: pending.kind,
                    status,
                    parameters: ErrorList::default(),
                });
            }
            self.close(CloseReason::TeardownComplete);
            return;
        }
        if !(200..300).contains(&status) {
            let parameters = if status == 303 {
                msg.params()
                    .ok()
                    .and_then(|l| ErrorList::from_list(&l).ok())
                    .unwrap_or_default()
            } else {
                ErrorList::default()
            };
            self.conn.events.push_back(Event::ErrorReply {
                to: pending.kind,
                status,
                parameters,
            });
            if matches!(
                pending.kind,
                MessageKind::M2 | MessageKind::M6 | MessageKind::M7
            ) {
                self.close(CloseReason::ErrorReply {
                    to: pending.kind,
                    status,
                });
            }
            return;
        }
        match pending.kind {
            MessageKind::M2 => {
                let public = msg.header("Public").map(public_tokens).unwrap_or_default();
                let has = |t: &str| public.iter().any(|p| p.eq_ignore_ascii_case(t));
                if !has(WFD_TOKEN) {
                    let message = format!("M2 reply Public does not list {WFD_TOKEN}");
                    self.conn.events.push_back(Event::ProtocolError {
                        message: message.clone(),
                    });
                    self.close(CloseReason::ProtocolError { message });
                    return;
                }
                const REQUIRED: [&str; 6] = [
                    "GET_PARAMETER",
                    "SET_PARAMETER",
                    "SETUP",
                    "PLAY",
                    "PAUSE",
                    "TEARDOWN",
                ];
                let missing: Vec<&str> = REQUIRED.iter().copied().filter(|t| !has(t)).collect();
                if !missing.is_empty() {
                    self.conn
                        .warn(format!("M2 reply Public lacks {}", missing.join(", ")));
                }
                let extra: Vec<&str> = public
                    .iter()
                    .map(String::as_str)
                    .filter(|t| {
                        !t.eq_ignore_ascii_case(WFD_TOKEN)
                            && !REQUIRED.iter().any(|r| r.eq_ignore_ascii_case(t))
                    })
                    .collect();
                if !extra.is_empty() {
                    self.conn.warn(format!(
                        "M2 reply Public lists methods beyond WFD: {}",
                        extra.join(", ")
                    ));
                }
            }
            MessageKind::M6 => {
                let Some(session) = msg.session().filter(|s| !s.id.is_empty()) else {
                    let message = "SETUP reply has no Session header".to_owned();
                    self.conn.events.push_back(Event::ProtocolError {
                        message: message.clone(),
                    });
                    self.close(CloseReason::ProtocolError { message });
                    return;
                };
                match msg.header("Transport").and_then(TransportHeader::parse) {
                    Some(t) => {
                        if t.lower_transport_implied {
                            self.conn
                                .warn(format!("SETUP reply Transport '{t}' omits /UDP"));
                        }
                        self.source_rtp_port = t.server_port.map(|p| p.0);
                    }
                    None => self.conn.warn("SETUP reply has no usable Transport header"),
                }
                if session.timeout_s.is_none() {
                    self.conn
                        .warn("SETUP reply Session has no timeout; assuming 60 s (RFC 2326)");
                }
                self.session = Some(session);
                self.phase = SinkPhase::PlaySent;
                let uri = self.stream_uri();
                let req = self.new_request(Method::Play, &uri);
                let req = self.with_session(req);
                self.send_request(now, MessageKind::M7, req);
            }
            MessageKind::M7 => {
                let first = !self.negotiation_complete;
                self.phase = SinkPhase::Playing;
                self.negotiation_complete = true;
                if first {
                    let session = self.session.clone().unwrap_or(SessionHeader {
                        id: String::new(),
                        timeout_s: None,
                    });
                    self.conn.events.push_back(Event::Playing(PlayInfo {
                        session_id: session.id,
                        timeout_s: session.timeout_s.unwrap_or(60),
                        sink_rtp_port: self.config.rtp_port,
                        source_rtp_port: self.source_rtp_port,
                    }));
                    self.schedule_behaviour(now);
                }
            }
            MessageKind::M9 => {
                self.phase = SinkPhase::Paused;
                self.conn.events.push_back(Event::Paused);
            }
            MessageKind::M13 => self.conn.events.push_back(Event::IdrRequested),
            _ => {}
        }
    }

    fn schedule_behaviour(&mut self, now: SimTime) {
        let b = self.config.behaviour.clone();
        if let Some(after) = b.teardown_after_ms {
            self.timers.push((now + ms(after), SinkTimer::Teardown));
        }
        if let Some(storm) = &b.idr_storm
            && storm.count > 0
        {
            self.timers.push((
                now + ms(storm.start_after_ms),
                SinkTimer::Idr {
                    remaining: storm.count,
                },
            ));
        }
        for m in &b.monitor_events {
            self.timers.push((
                now + ms(m.after_ms),
                SinkTimer::Monitor { present: m.present },
            ));
        }
    }

    fn watchdog_deadline(&self) -> Option<SimTime> {
        if !self.config.keepalive_watchdog
            || !matches!(self.phase, SinkPhase::Playing | SinkPhase::Paused)
        {
            return None;
        }
        let timeout = self
            .session
            .as_ref()
            .and_then(|s| s.timeout_s)
            .unwrap_or(60);
        Some(
            self.last_source_request
                + Duration::from_secs(u64::from(timeout))
                + self.conn.reply_timeout,
        )
    }
}

impl Endpoint for Sink {
    fn role(&self) -> Role {
        Role::Sink
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
        if self.phase == SinkPhase::Closed {
            return;
        }
        if self.phase == SinkPhase::TearingDown {
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
        let timers = self.timers.iter().map(|t| t.0).min();
        [
            self.conn.next_deadline(),
            self.expect.map(|e| e.1),
            timers,
            self.watchdog_deadline(),
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
            if p.kind == MessageKind::M8 {
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
        if let Some((kind, deadline)) = self.expect
            && deadline <= now
        {
            self.conn
                .events
                .push_back(Event::ReplyTimeout { waiting_for: kind });
            self.close(CloseReason::ReplyTimeout { waiting_for: kind });
            return;
        }
        if self.watchdog_deadline().is_some_and(|d| d <= now) {
            self.close(CloseReason::KeepAliveTimeout);
            return;
        }
        let due: Vec<(SimTime, SinkTimer)> =
            self.timers.iter().copied().filter(|t| t.0 <= now).collect();
        self.timers.retain(|t| t.0 > now);
        for (_, timer) in due {
            if self.conn.closed {
                break;
            }
            match timer {
                SinkTimer::Teardown => self.request_teardown(now),
                SinkTimer::Idr { remaining } => {
                    self.request_idr(now);
                    if remaining > 1 {
                        let interval = self
                            .config
                            .behaviour
                            .idr_storm
                            .as_ref()
                            .map_or(0, |s| s.interval_ms);
                        self.timers.push((
                            now + ms(interval),
                            SinkTimer::Idr {
                                remaining: remaining - 1,
                            },
                        ));
                    }
                }
                SinkTimer::Monitor { present } => {
                    let edid = present.then(|| {
                        DisplayEdid::from_bytes(synthetic_edid("SIM hotplug", 1920, 1080, 60))
                    });
                    self.notify_monitor(now, edid);
                }
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
        Sink::request_teardown(self, now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_personality_resolves() {
        for p in Personality::ALL {
            let cfg = SinkConfig {
                personality: p,
                ..Default::default()
            };
            let caps = cfg.capability_set().unwrap();
            assert_eq!(Personality::from_name(p.name()), Some(p));
            assert_eq!(
                caps.edid.is_some(),
                p != Personality::NoMonitor,
                "{}",
                p.name()
            );
        }
    }

    #[test]
    fn synthetic_edid_has_a_valid_checksum_and_name() {
        let e = synthetic_edid("SIM 1080p60", 1920, 1080, 60);
        let sum: u32 = e.iter().map(|b| u32::from(*b)).sum();
        assert_eq!(sum % 256, 0);
        assert_eq!(
            DisplayEdid::from_bytes(e).monitor_name().as_deref(),
            Some("SIM 1080p60")
        );
    }

    #[test]
    fn configs_have_json_schemas_and_round_trip() {
        let schema = serde_json::to_value(schemars::schema_for!(SinkConfig)).unwrap();
        let text = schema.to_string();
        for needle in [
            "behaviour",
            "720p_only",
            "hdcp2_required",
            "idr_storm",
            "M16",
        ] {
            assert!(
                text.contains(needle),
                "{needle} missing from the sink schema"
            );
        }
        let source_schema =
            serde_json::to_value(schemars::schema_for!(crate::wfd::SourceConfig)).unwrap();
        assert!(source_schema.to_string().contains("min_bitrate_1024x768"));
        let cfg = SinkConfig {
            personality: Personality::P4k,
            ..Default::default()
        };
        let back: SinkConfig = serde_json::from_str(&serde_json::to_string(&cfg).unwrap()).unwrap();
        assert_eq!(back, cfg);
        let src = crate::wfd::SourceConfig::default();
        let back: crate::wfd::SourceConfig =
            serde_json::from_str(&serde_json::to_string(&src).unwrap()).unwrap();
        assert_eq!(back, src);
    }

    #[test]
    fn config_serde_shape() {
        let json = r#"{"personality":"720p_only","capabilities":{"audio_codecs":"none"},"behaviour":{"drop_replies":["M16"],"idr_storm":{"count":3,"interval_ms":10}}}"#;
        let cfg: SinkConfig = serde_json::from_str(json).unwrap();
        assert_eq!(cfg.personality, Personality::P720Only);
        assert_eq!(cfg.behaviour.drop_replies, vec![MessageKind::M16]);
        assert!(serde_json::from_str::<SinkConfig>(r#"{"personalty":"4k"}"#).is_err());
    }
}
