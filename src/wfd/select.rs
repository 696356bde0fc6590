//! Capability selection in the source: the best common video mode and audio codec from an M3
//! reply (reference sections 5 and 7), the bit-rate rule for 1024×768, and the negotiated
//! result the Windows UMD needs to fill `MIRACAST_SESSION_INFO`.
//!
//! # Bit-rate estimate
//!
//! Microsoft requires that, when a monitor is attached to the sink, the suggested bit rate
//! carries at least a 1024×768 mode (WDK `PFN_START_MIRACAST_SESSION` remarks), and gives no
//! number. Our documented choice is the "Kush gauge" published by Kush Amerasinghe in Adobe's
//! *H.264 For the Rest of Us* (2009): bit rate ≈ width × height × frame rate × motion rank ×
//! 0.07 bits per pixel, with motion rank 1 (low), 2 (medium) or 4 (high). Desktop projection
//! mixes static text with video, so we use rank 2: **0.14 bits per pixel** of coded pixel rate
//! (interlaced modes code half the lines per field). That makes 1024×768p30 need
//! 3,303,015 bit/s ([`DEFAULT_MIN_BITRATE_1024X768`]) and 1920×1080p60 need 17,418,240 bit/s.
//! A scenario can override the 1024×768 threshold with
//! [`SelectionPolicy::min_bitrate_1024x768`].

use super::params::{
    AudioCodec, AudioCodecs, AudioFormat, ConnectorType, ContentProtection, DisplayEdid, H264Level,
    H264Profile, Parameter, ParameterList, UibcCapability, VideoFormats, VideoMode, VideoTable,
    names,
};

/// Bits per coded pixel of the estimate, in thousandths (Kush gauge 0.07 × motion rank 2).
pub const BITS_PER_PIXEL_MILLI: u64 = 140;

/// The bit rate 1024×768p30 needs under [`required_bitrate`]: 3,303,015 bit/s.
pub const DEFAULT_MIN_BITRATE_1024X768: u64 = 3_303_015;

/// Bit rate (bit/s) a mode needs under our documented estimate, rounded up.
pub fn required_bitrate(mode: VideoMode) -> u64 {
    (mode.pixel_rate() * BITS_PER_PIXEL_MILLI).div_ceil(1000)
}

/// What the source itself can encode.
#[derive(
    Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct LocalVideoCaps {
    /// CEA bitmap the encoder supports.
    pub cea: u32,
    /// VESA bitmap the encoder supports.
    pub vesa: u32,
    /// HH bitmap the encoder supports.
    pub hh: u32,
    /// Constrained High supported (otherwise Constrained Baseline only).
    pub constrained_high: bool,
    /// Highest level, as a level bitmap bit (0x01 = 3.1 .. 0x10 = 4.2).
    pub max_level_bit: u8,
}

impl Default for LocalVideoCaps {
    fn default() -> Self {
        LocalVideoCaps {
            cea: 0x0001_FFFF,
            vesa: 0x1FFF_FFFF,
            hh: 0x0000_0FFF,
            constrained_high: true,
            max_level_bit: 0x10,
        }
    }
}

/// Knobs of the selection.
#[derive(
    Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct SelectionPolicy {
    /// The suggested bit rate (bit/s) the UMD may use.
    pub bitrate_bps: u64,
    /// Bit rate a 1024×768 mode needs; `None` uses [`DEFAULT_MIN_BITRATE_1024X768`].
    #[serde(default)]
    pub min_bitrate_1024x768: Option<u64>,
    /// What the encoder supports.
    #[serde(default)]
    pub video: LocalVideoCaps,
    /// Audio formats the source can send, most preferred first.
    #[serde(default = "default_audio_preference")]
    pub audio_preference: Vec<AudioFormat>,
}

fn default_audio_preference() -> Vec<AudioFormat> {
    vec![AudioFormat::Aac, AudioFormat::Lpcm, AudioFormat::Ac3]
}

impl Default for SelectionPolicy {
    fn default() -> Self {
        SelectionPolicy {
            bitrate_bps: 20_000_000,
            min_bitrate_1024x768: None,
            video: LocalVideoCaps::default(),
            audio_preference: default_audio_preference(),
        }
    }
}

/// The chosen video format, as it goes into M4.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SelectedVideo {
    /// Resolution and refresh.
    pub mode: VideoMode,
    /// Table of the mode.
    pub table: VideoTable,
    /// Bit of the mode in its table.
    pub bit: u8,
    /// H.264 profile.
    pub profile: H264Profile,
    /// H.264 level.
    pub level: H264Level,
    /// Bit rate the mode needs under [`required_bitrate`].
    pub required_bitrate_bps: u64,
}

impl SelectedVideo {
    /// The M4 `wfd_video_formats` value (reference section 5 rule 5).
    pub fn to_m4(&self) -> VideoFormats {
        VideoFormats {
            native: 0,
            preferred_display_mode_supported: 0,
            codecs: vec![super::params::H264Codec::single(
                self.profile,
                self.level,
                self.table,
                self.bit,
            )],
        }
    }
}

/// The chosen audio format: one codec, one mode bit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SelectedAudio {
    /// Format.
    pub format: AudioFormat,
    /// The single mode bit chosen.
    pub mode_bit: u8,
}

impl SelectedAudio {
    /// The M4 `wfd_audio_codecs` value.
    pub fn to_m4(&self) -> AudioCodecs {
        AudioCodecs(vec![AudioCodec {
            format: self.format,
            modes: 1 << self.mode_bit,
            latency: 0,
        }])
    }
}

/// What the sink said about itself in M3, typed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SinkCapabilities {
    /// `wfd_video_formats` (`None` when absent or `none`).
    pub video: Option<VideoFormats>,
    /// True when `wfd_video_formats` was absent but `wfd2_video_formats` present (R2-only).
    pub r2_only: bool,
    /// `wfd_audio_codecs` (empty when absent or `none`).
    pub audio: AudioCodecs,
    /// `wfd_client_rtp_ports` port0.
    pub rtp_port: u16,
    /// `wfd_display_edid` when present and not `none`.
    pub edid: Option<DisplayEdid>,
    /// `wfd_connector_type` when present and not `none`.
    pub connector: Option<ConnectorType>,
    /// `wfd_content_protection` when present and not `none`.
    pub content_protection: Option<ContentProtection>,
    /// `wfd_uibc_capability` when present and not `none`.
    pub uibc: Option<UibcCapability>,
    /// `wfd_idr_request_capability`.
    pub idr_request_capability: Option<bool>,
    /// `microsoft_rtcp_capability: supported`.
    pub rtcp: bool,
    /// `microsoft_max_bitrate`.
    pub max_bitrate_bps: Option<u64>,
    /// `intel_friendly_name`.
    pub friendly_name: Option<String>,
    /// `wfd_standby_resume_capability: supported`.
    pub standby_resume: bool,
}

/// Why an M3 reply cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CapabilityError {
    /// A present value breaks its grammar.
    #[error(transparent)]
    Malformed(#[from] super::params::ParamError),
    /// A mandatory parameter is missing or unusable.
    #[error("M3 reply: {0}")]
    Unusable(String),
}

impl SinkCapabilities {
    /// Reads an M3 reply body (reference section 7 item 3).
    ///
    /// # Errors
    /// [`CapabilityError`] for malformed values, a missing/unusable `wfd_client_rtp_ports`,
    /// or a missing `wfd_video_formats` (with a hint when the sink is R2-only).
    pub fn from_m3_reply(list: &ParameterList) -> Result<SinkCapabilities, CapabilityError> {
        let mut caps = SinkCapabilities::default();
        let mut have_rtp = false;
        let mut have_video = false;
        for line in &list.lines {
            match line.typed()? {
                Parameter::VideoFormats(v) => {
                    have_video = true;
                    caps.video = v;
                }
                Parameter::AudioCodecs(a) => caps.audio = a,
                Parameter::ClientRtpPorts(p) => {
                    if p.profile != super::params::RtpProfile::UdpUnicast {
                        return Err(CapabilityError::Unusable(format!(
                            "wfd_client_rtp_ports profile {} is not RTP/AVP/UDP;unicast",
                            p.profile
                        )));
                    }
                    if p.port0 == 0 {
                        return Err(CapabilityError::Unusable(
                            "wfd_client_rtp_ports rtp-port0 is 0".to_owned(),
                        ));
                    }
                    have_rtp = true;
                    caps.rtp_port = p.port0;
                }
                Parameter::DisplayEdid(e) => caps.edid = e,
                Parameter::ConnectorType(c) => caps.connector = c,
                Parameter::ContentProtection(c) => caps.content_protection = c,
                Parameter::UibcCapability(u) => caps.uibc = u,
                Parameter::IdrRequestCapability(b) => caps.idr_request_capability = Some(b),
                Parameter::MicrosoftRtcpCapability(b) => caps.rtcp = b,
                Parameter::MicrosoftMaxBitrate(b) => caps.max_bitrate_bps = Some(b),
                Parameter::IntelFriendlyName(n) => caps.friendly_name = Some(n),
                Parameter::StandbyResumeCapability(b) => caps.standby_resume = b,
                Parameter::Raw {
                    name,
                    value: Some(_),
                } if name.eq_ignore_ascii_case("wfd2_video_formats") => {
                    caps.r2_only = true;
                }
                _ => {}
            }
        }
        if have_video {
            caps.r2_only = false;
        }
        if !have_rtp {
            return Err(CapabilityError::Unusable(
                "wfd_client_rtp_ports is missing".to_owned(),
            ));
        }
        if !have_video {
            let why = if caps.r2_only {
                "wfd_video_formats is missing (the sink answered wfd2_video_formats only: it is R2-only)"
            } else {
                "wfd_video_formats is missing"
            };
            return Err(CapabilityError::Unusable(why.to_owned()));
        }
        Ok(caps)
    }

    /// The sink reported a monitor: an EDID other than `none`, or a connector type.
    pub fn monitor_connected(&self) -> bool {
        self.edid.is_some() || self.connector.is_some()
    }
}

/// Everything the UMD needs to fill `MIRACAST_SESSION_INFO` after a successful negotiation.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NegotiatedSession {
    /// The sink reported a monitor (EDID present, or a connector type).
    pub monitor_connected: bool,
    /// The chosen video format.
    pub video: SelectedVideo,
    /// True when modes the sink and source share were left out because the suggested bit
    /// rate cannot carry them.
    pub mode_list_reduced_for_bandwidth: bool,
    /// The suggested bit rate the selection used.
    pub bitrate_bps: u64,
    /// EDID bytes from `wfd_display_edid`, if the sink sent them.
    pub edid: Option<Vec<u8>>,
    /// Connector type byte, if reported.
    pub connector_type: Option<u8>,
    /// HDCP the sink announced (`None` for `none`/absent); the simulator never runs HDCP.
    pub hdcp: Option<ContentProtection>,
    /// The chosen audio format, `None` for no audio.
    pub audio: Option<SelectedAudio>,
    /// The sink offered UIBC.
    pub uibc_supported: bool,
    /// UIBC was enabled in M4.
    pub uibc_enabled: bool,
    /// The sink's RTP port.
    pub sink_rtp_port: u16,
    /// `wfd_idr_request_capability`, when reported.
    pub idr_request_capability: Option<bool>,
    /// `microsoft_max_bitrate`, when reported.
    pub sink_max_bitrate_bps: Option<u64>,
    /// `intel_friendly_name`, when reported.
    pub friendly_name: Option<String>,
}

/// Result of selection: a session, or why not (each maps to a distinct UMD status).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum SelectionOutcome {
    /// A usable format was found.
    Selected(Box<NegotiatedSession>),
    /// A monitor is attached and the suggested bit rate cannot carry 1024×768: the UMD
    /// returns `STATUS_DEVICE_INSUFFICIENT_RESOURCES`.
    InsufficientBitRate {
        /// Bit rate a 1024×768 mode needs.
        required_bps: u64,
        /// The suggested bit rate.
        available_bps: u64,
    },
    /// No video mode is common to sink and source.
    NoCommonVideoMode,
}

/// One (table, bit) the source must not offer again (after a 303 on M4).
pub type ExcludedMode = (VideoTable, u8);

/// Picks the best common mode and codec (reference section 5 rule 4, section 7 item 4).
///
/// Modes are ranked by width × height × rate, doubled for progressive scan; ties go to CEA
/// before VESA before HH and then to the lower bit. Among the modes whose estimated bit rate
/// fits `policy.bitrate_bps` the best wins; when none fits, the cheapest common mode is used and
/// the list counts as reduced.
pub fn select(
    caps: &SinkCapabilities,
    policy: &SelectionPolicy,
    excluded: &[ExcludedMode],
    uibc_wanted: bool,
) -> SelectionOutcome {
    let min_1024 = policy
        .min_bitrate_1024x768
        .unwrap_or(DEFAULT_MIN_BITRATE_1024X768);
    let monitor_connected = caps.monitor_connected();
    if monitor_connected && policy.bitrate_bps < min_1024 {
        return SelectionOutcome::InsufficientBitRate {
            required_bps: min_1024,
            available_bps: policy.bitrate_bps,
        };
    }
    let local = &policy.video;
    let local_profiles = if local.constrained_high { 0x03 } else { 0x01 };
    let local_level = H264Level::from_bitmap(local.max_level_bit)
        .into_iter()
        .max()
        .unwrap_or(H264Level::L3_1);
    let mut candidates: Vec<SelectedVideo> = Vec::new();
    for codec in caps.video.iter().flat_map(|v| v.codecs.iter()) {
        let common_profiles = codec.profile & local_profiles;
        let Some(profile) = H264Profile::from_bitmap(common_profiles).into_iter().max() else {
            continue;
        };
        let remote_level = H264Level::from_bitmap(codec.level)
            .into_iter()
            .max()
            .unwrap_or(H264Level::L3_1);
        let level = remote_level.min(local_level);
        for (table, bit, mode) in codec.modes() {
            let local_bitmap = match table {
                VideoTable::Cea => local.cea,
                VideoTable::Vesa => local.vesa,
                VideoTable::Hh => local.hh,
            };
            if local_bitmap & (1 << bit) == 0 || excluded.contains(&(table, bit)) {
                continue;
            }
            let candidate = SelectedVideo {
                mode,
                table,
                bit,
                profile,
                level,
                required_bitrate_bps: required_bitrate(mode),
            };
            match candidates
                .iter_mut()
                .find(|c| c.table == table && c.bit == bit)
            {
                Some(existing) => {
                    if (candidate.profile, candidate.level) > (existing.profile, existing.level) {
                        *existing = candidate;
                    }
                }
                None => candidates.push(candidate),
            }
        }
    }
    if candidates.is_empty() {
        return SelectionOutcome::NoCommonVideoMode;
    }
    let rank = |c: &SelectedVideo| (std::cmp::Reverse(c.mode.score()), c.table, c.bit);
    candidates.sort_by_key(rank);
    let fitting: Vec<&SelectedVideo> = candidates
        .iter()
        .filter(|c| c.required_bitrate_bps <= policy.bitrate_bps)
        .collect();
    let reduced = fitting.len() < candidates.len();
    let video = match fitting.first() {
        Some(best) => **best,
        None => *candidates
            .iter()
            .min_by_key(|c| (c.required_bitrate_bps, c.table, c.bit))
            .unwrap_or(&candidates[0]),
    };
    let audio = select_audio(&caps.audio, &policy.audio_preference);
    SelectionOutcome::Selected(Box::new(NegotiatedSession {
        monitor_connected,
        video,
        mode_list_reduced_for_bandwidth: reduced,
        bitrate_bps: policy.bitrate_bps,
        edid: caps.edid.as_ref().and_then(|e| e.payload.clone()),
        connector_type: caps.connector.map(|c| c.0),
        hdcp: caps.content_protection,
        audio,
        uibc_supported: caps.uibc.is_some(),
        uibc_enabled: uibc_wanted && caps.uibc.is_some(),
        sink_rtp_port: caps.rtp_port,
        idr_request_capability: caps.idr_request_capability,
        sink_max_bitrate_bps: caps.max_bitrate_bps,
        friendly_name: caps.friendly_name.clone(),
    }))
}

/// Picks one audio codec and mode: the first format of `preference` the sink offers with a
/// mode, taking its 2-channel 48 kHz mode when offered (LPCM bit 1, AAC/AC3 bit 0), else its
/// lowest mode bit.
pub fn select_audio(sink: &AudioCodecs, preference: &[AudioFormat]) -> Option<SelectedAudio> {
    for format in preference {
        let Some(codec) = sink.0.iter().find(|c| c.format == *format && c.modes != 0) else {
            continue;
        };
        let preferred_bit = if *format == AudioFormat::Lpcm { 1 } else { 0 };
        let known = format.mode_names().len() as u32;
        let usable = codec.modes & ((1u32 << known) - 1);
        if usable == 0 {
            continue;
        }
        let bit = if usable & (1 << preferred_bit) != 0 {
            preferred_bit
        } else {
            usable.trailing_zeros() as u8
        };
        return Some(SelectedAudio {
            format: *format,
            mode_bit: bit,
        });
    }
    None
}

/// The parameters a 303 on M4 blames, mapped to what to exclude next time.
pub fn m4_rejections(errors: &super::params::ErrorList) -> (bool, bool) {
    let video = errors.codes(names::VIDEO_FORMATS).is_some();
    let audio = errors.codes(names::AUDIO_CODECS).is_some();
    (video, audio)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(video: &str, audio: &str, edid: bool) -> SinkCapabilities {
        let mut list = ParameterList::new();
        list.push_raw(names::VIDEO_FORMATS, video)
            .push_raw(names::AUDIO_CODECS, audio)
            .push_raw(
                names::CLIENT_RTP_PORTS,
                "RTP/AVP/UDP;unicast 19000 0 mode=play",
            );
        if edid {
            list.push_raw(names::CONNECTOR_TYPE, "05");
        }
        SinkCapabilities::from_m3_reply(&list).unwrap()
    }

    #[test]
    fn estimate_table_matches_the_documented_numbers() {
        assert_eq!(
            required_bitrate(crate::wfd::params::video::VESA_MODES[2]),
            DEFAULT_MIN_BITRATE_1024X768
        );
        assert_eq!(
            required_bitrate(crate::wfd::params::video::CEA_MODES[8]),
            17_418_240
        );
    }

    #[test]
    fn samsung_offer_ranks_by_pixel_rate_and_never_trusts_native() {
        let c = caps(
            "40 00 02 04 0001DEFF 053C7FFF 00000FFF 00 0000 0000 11 none none, 01 04 0001DEFF 053C7FFF 00000FFF 00 0000 0000 11 none none",
            "LPCM 00000003 00, AAC 00000001 00",
            true,
        );
        let SelectionOutcome::Selected(s) = select(&c, &SelectionPolicy::default(), &[], false)
        else {
            panic!("expected a selection");
        };
        // Native claims 1080p60 but the CEA bitmap lacks it; by width x height x rate (x2 for
        // progressive) VESA 1600x900p60 (172.8 M) beats CEA 1920x1080p30 (124.4 M).
        assert_eq!(s.video.mode.to_string(), "1600x900p60");
        assert_eq!(s.video.profile, H264Profile::Chp);
        assert_eq!(
            s.audio,
            Some(SelectedAudio {
                format: AudioFormat::Aac,
                mode_bit: 0
            })
        );
        assert!(s.monitor_connected);
    }

    #[test]
    fn low_bitrate_with_monitor_is_insufficient() {
        let c = caps(
            "00 00 01 01 0000007F 00000000 00000000 00 0000 0000 00 none none",
            "none",
            true,
        );
        let policy = SelectionPolicy {
            bitrate_bps: 2_000_000,
            ..Default::default()
        };
        assert!(matches!(
            select(&c, &policy, &[], false),
            SelectionOutcome::InsufficientBitRate { .. }
        ));
        let override_policy = SelectionPolicy {
            min_bitrate_1024x768: Some(1_000_000),
            ..policy
        };
        let SelectionOutcome::Selected(s) = select(&c, &override_policy, &[], false) else {
            panic!("expected a selection");
        };
        assert!(s.mode_list_reduced_for_bandwidth);
        assert!(s.video.required_bitrate_bps <= 2_000_000);
    }

    #[test]
    fn r2_only_sink_is_named() {
        let mut list = ParameterList::new();
        list.push_raw(
            names::CLIENT_RTP_PORTS,
            "RTP/AVP/UDP;unicast 1028 0 mode=play",
        )
        .push_raw("wfd2_video_formats", "40 01 04");
        let err = SinkCapabilities::from_m3_reply(&list).unwrap_err();
        assert!(err.to_string().contains("R2-only"), "{err}");
    }
}
