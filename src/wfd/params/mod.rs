//! The WFD parameter codec: every `wfd_*`, `microsoft_*` and `intel_*` parameter of the
//! reference, typed, plus the `text/parameters` body that carries them.
//!
//! Map:
//! - [`video`]: `wfd_video_formats`, `wfd_3d_video_formats` and the CEA/VESA/HH mode tables.
//! - [`audio`]: `wfd_audio_codecs` and the LPCM/AAC/AC3 mode bitmaps.
//! - [`session`]: transport and session parameters (`wfd_client_rtp_ports`,
//!   `wfd_presentation_URL`, `wfd_trigger_method`, `wfd_route`, ...).
//! - [`device`]: sink description parameters (`wfd_display_edid`, `wfd_content_protection`,
//!   `wfd_uibc_capability`, `wfd_connector_type`, ...).
//! - [`vendor`]: the Microsoft (MS-WFDPE, MS-WDHCE) and Intel extensions.
//! - [`body`]: the `text/parameters` body ([`ParameterList`]) and 303 error bodies
//!   ([`ErrorList`]).
//!
//! Parsing is lenient where real peers are (case of `none` and of parameter names, whitespace
//! after commas) and strict where the grammar is unambiguous (digit counts, ranges). Every
//! typed value serialises back to the canonical spelling, and parsing that spelling gives the
//! same value again. Unknown parameters, `wfdx_video_formats` and `wfd2_*` are kept verbatim in
//! [`Parameter::Raw`], never rejected.

pub mod audio;
pub mod body;
pub mod device;
pub mod session;
pub mod vendor;
pub mod video;

use std::fmt;

pub use audio::{AudioCodec, AudioCodecs, AudioFormat};
pub use body::{ErrorList, ParamLine, ParameterList};
pub use device::{
    ConnectorType, ContentProtection, CoupledSink, DisplayEdid, HdcpVersion, HidcCapability,
    UibcCapability, UibcInputCategory, UibcSetting,
};
pub use session::{
    AvFormatChangeTiming, ClientRtpPorts, PresentationUri, PresentationUrl, Route, RtpProfile,
    TriggerMethod,
};
pub use vendor::{IntelSinkVersion, LatencyManagement, MicrosoftCursor, TeardownReason};
pub use video::{
    H264Codec, H264Codec3d, H264Level, H264Profile, Video3dFormats, VideoFormats, VideoMode,
    VideoTable,
};

/// A parameter value that does not follow its grammar.
///
/// Displayed as `"<parameter>: <field> <problem>"`, for example
/// `wfd_audio_codecs: modes of entry 1 must be exactly 8 hex digits (17 given)`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{parameter}: {field} {problem}")]
pub struct ParamError {
    /// The parameter name as written on the wire.
    pub parameter: String,
    /// Which part of the value is wrong (`"modes of entry 1"`, `"value"`, ...).
    pub field: String,
    /// Why it is wrong, as a lowercase sentence fragment.
    pub problem: String,
}

impl ParamError {
    /// A new error for `parameter`, naming the `field` and the `problem`.
    pub fn new(
        parameter: impl Into<String>,
        field: impl Into<String>,
        problem: impl Into<String>,
    ) -> Self {
        ParamError {
            parameter: parameter.into(),
            field: field.into(),
            problem: problem.into(),
        }
    }
}

/// One typed parameter (name and value).
///
/// `none` values map to `None`/empty variants so that "known, not supported" is kept apart
/// from "not present" (which is the absence of the parameter from a [`ParameterList`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Parameter {
    /// `wfd_audio_codecs`; an empty list is `none`.
    AudioCodecs(AudioCodecs),
    /// `wfd_video_formats`; `None` is `none`.
    VideoFormats(Option<VideoFormats>),
    /// `wfd_3d_video_formats`; `None` is `none`.
    Video3dFormats(Option<Video3dFormats>),
    /// `wfd_content_protection`; `None` is `none`.
    ContentProtection(Option<ContentProtection>),
    /// `wfd_display_edid`; `None` is `none` (no monitor).
    DisplayEdid(Option<DisplayEdid>),
    /// `wfd_coupled_sink`; `None` is `none`.
    CoupledSink(Option<CoupledSink>),
    /// `wfd_trigger_method` (M5).
    TriggerMethod(TriggerMethod),
    /// `wfd_presentation_URL` (M4).
    PresentationUrl(PresentationUrl),
    /// `wfd_client_rtp_ports`.
    ClientRtpPorts(ClientRtpPorts),
    /// `wfd_route` (M10).
    Route(Route),
    /// `wfd_I2C`: the sink's I2C TCP port; `None` is `none`.
    I2c(Option<u16>),
    /// `wfd_av_format_change_timing` (M4 mid-session).
    AvFormatChangeTiming(AvFormatChangeTiming),
    /// `wfd_preferred_display_mode`: `None` is `none`; otherwise its hex timing fields, kept as
    /// tokens because no peer uses them (AOSP has the code under `#if 0`).
    PreferredDisplayMode(Option<Vec<String>>),
    /// `wfd_uibc_capability`; `None` is `none`.
    UibcCapability(Option<UibcCapability>),
    /// `wfd_uibc_setting` (M15).
    UibcSetting(UibcSetting),
    /// `wfd_standby_resume_capability`: `supported` (true) or `none` (false).
    StandbyResumeCapability(bool),
    /// `wfd_standby` (M12, bare name).
    Standby,
    /// `wfd_connector_type`; `None` is `none`.
    ConnectorType(Option<ConnectorType>),
    /// `wfd_idr_request` (M13, bare name).
    IdrRequest,
    /// `wfd_idr_request_capability`: `1` (true, the sink sends M13) or `0`.
    IdrRequestCapability(bool),
    /// `microsoft_diagnostics_capability`: `supported` or `none`.
    MicrosoftDiagnosticsCapability(bool),
    /// `microsoft_teardown_reason` (M8 body).
    MicrosoftTeardownReason(TeardownReason),
    /// `microsoft_format_change_capability`: `supported` or `none`.
    MicrosoftFormatChangeCapability(bool),
    /// `microsoft_latency_management_capability`: capability or requested mode.
    MicrosoftLatencyManagement(LatencyManagement),
    /// `microsoft_rtcp_capability`: `supported` or `none`.
    MicrosoftRtcpCapability(bool),
    /// `microsoft_max_bitrate`: bits per second the source must not exceed.
    MicrosoftMaxBitrate(u64),
    /// `microsoft_multiscreen_projection`: `supported` or `none`.
    MicrosoftMultiscreenProjection(bool),
    /// `microsoft_audio_mute`: `supported` or `none`.
    MicrosoftAudioMute(bool),
    /// `microsoft_video_formats`: 48-bit bitmap of 3:2 modes (HEX(12)).
    MicrosoftVideoFormats(u64),
    /// `microsoft_cursor` (MS-WDHCE); `None` is `none`.
    MicrosoftCursor(Option<MicrosoftCursor>),
    /// `intel_friendly_name`.
    IntelFriendlyName(String),
    /// `intel_sink_manufacturer_name`; `None` is `none`.
    IntelSinkManufacturerName(Option<String>),
    /// `intel_sink_model_name`; `None` is `none`.
    IntelSinkModelName(Option<String>),
    /// `intel_sink_device_URL`; `None` is `none`.
    IntelSinkDeviceUrl(Option<String>),
    /// `intel_sink_version`.
    IntelSinkVersion(IntelSinkVersion),
    /// `intel_sink_manufacturer_logo` (base64); `None` is `none`.
    IntelSinkManufacturerLogo(Option<String>),
    /// `intel_fast_cursor`: `port=` IPPORT.
    IntelFastCursor(u16),
    /// Any other parameter (`wfdx_video_formats`, `wfd2_*`, unknown vendor ones), verbatim.
    /// `value` is `None` for a bare name.
    Raw {
        /// The name as written.
        name: String,
        /// The value as written, `None` for a bare name.
        value: Option<String>,
    },
}

/// Canonical parameter names, lowercase except `wfd_I2C`, `wfd_presentation_URL` and
/// `intel_sink_device_URL` which the grammar spells that way.
pub mod names {
    /// `wfd_audio_codecs`.
    pub const AUDIO_CODECS: &str = "wfd_audio_codecs";
    /// `wfd_video_formats`.
    pub const VIDEO_FORMATS: &str = "wfd_video_formats";
    /// `wfd_3d_video_formats`.
    pub const VIDEO_3D_FORMATS: &str = "wfd_3d_video_formats";
    /// `wfd_content_protection`.
    pub const CONTENT_PROTECTION: &str = "wfd_content_protection";
    /// `wfd_display_edid`.
    pub const DISPLAY_EDID: &str = "wfd_display_edid";
    /// `wfd_coupled_sink`.
    pub const COUPLED_SINK: &str = "wfd_coupled_sink";
    /// `wfd_trigger_method`.
    pub const TRIGGER_METHOD: &str = "wfd_trigger_method";
    /// `wfd_presentation_URL`.
    pub const PRESENTATION_URL: &str = "wfd_presentation_URL";
    /// `wfd_client_rtp_ports`.
    pub const CLIENT_RTP_PORTS: &str = "wfd_client_rtp_ports";
    /// `wfd_route`.
    pub const ROUTE: &str = "wfd_route";
    /// `wfd_I2C`.
    pub const I2C: &str = "wfd_I2C";
    /// `wfd_av_format_change_timing`.
    pub const AV_FORMAT_CHANGE_TIMING: &str = "wfd_av_format_change_timing";
    /// `wfd_preferred_display_mode`.
    pub const PREFERRED_DISPLAY_MODE: &str = "wfd_preferred_display_mode";
    /// `wfd_uibc_capability`.
    pub const UIBC_CAPABILITY: &str = "wfd_uibc_capability";
    /// `wfd_uibc_setting`.
    pub const UIBC_SETTING: &str = "wfd_uibc_setting";
    /// `wfd_standby_resume_capability`.
    pub const STANDBY_RESUME_CAPABILITY: &str = "wfd_standby_resume_capability";
    /// `wfd_standby`.
    pub const STANDBY: &str = "wfd_standby";
    /// `wfd_connector_type`.
    pub const CONNECTOR_TYPE: &str = "wfd_connector_type";
    /// `wfd_idr_request`.
    pub const IDR_REQUEST: &str = "wfd_idr_request";
    /// `wfd_idr_request_capability`.
    pub const IDR_REQUEST_CAPABILITY: &str = "wfd_idr_request_capability";
    /// `microsoft_diagnostics_capability`.
    pub const MS_DIAGNOSTICS_CAPABILITY: &str = "microsoft_diagnostics_capability";
    /// `microsoft_teardown_reason`.
    pub const MS_TEARDOWN_REASON: &str = "microsoft_teardown_reason";
    /// `microsoft_format_change_capability`.
    pub const MS_FORMAT_CHANGE_CAPABILITY: &str = "microsoft_format_change_capability";
    /// `microsoft_latency_management_capability`.
    pub const MS_LATENCY_MANAGEMENT: &str = "microsoft_latency_management_capability";
    /// `microsoft_rtcp_capability`.
    pub const MS_RTCP_CAPABILITY: &str = "microsoft_rtcp_capability";
    /// `microsoft_max_bitrate`.
    pub const MS_MAX_BITRATE: &str = "microsoft_max_bitrate";
    /// `microsoft_multiscreen_projection`.
    pub const MS_MULTISCREEN_PROJECTION: &str = "microsoft_multiscreen_projection";
    /// `microsoft_audio_mute`.
    pub const MS_AUDIO_MUTE: &str = "microsoft_audio_mute";
    /// `microsoft_video_formats`.
    pub const MS_VIDEO_FORMATS: &str = "microsoft_video_formats";
    /// `microsoft_cursor`.
    pub const MS_CURSOR: &str = "microsoft_cursor";
    /// `intel_friendly_name`.
    pub const INTEL_FRIENDLY_NAME: &str = "intel_friendly_name";
    /// `intel_sink_manufacturer_name`.
    pub const INTEL_MANUFACTURER_NAME: &str = "intel_sink_manufacturer_name";
    /// `intel_sink_model_name`.
    pub const INTEL_MODEL_NAME: &str = "intel_sink_model_name";
    /// `intel_sink_device_URL`.
    pub const INTEL_DEVICE_URL: &str = "intel_sink_device_URL";
    /// `intel_sink_version`.
    pub const INTEL_SINK_VERSION: &str = "intel_sink_version";
    /// `intel_sink_manufacturer_logo`.
    pub const INTEL_MANUFACTURER_LOGO: &str = "intel_sink_manufacturer_logo";
    /// `intel_fast_cursor`.
    pub const INTEL_FAST_CURSOR: &str = "intel_fast_cursor";

    /// Every name with a typed codec, in canonical spelling.
    pub const TYPED: &[&str] = &[
        AUDIO_CODECS,
        VIDEO_FORMATS,
        VIDEO_3D_FORMATS,
        CONTENT_PROTECTION,
        DISPLAY_EDID,
        COUPLED_SINK,
        TRIGGER_METHOD,
        PRESENTATION_URL,
        CLIENT_RTP_PORTS,
        ROUTE,
        I2C,
        AV_FORMAT_CHANGE_TIMING,
        PREFERRED_DISPLAY_MODE,
        UIBC_CAPABILITY,
        UIBC_SETTING,
        STANDBY_RESUME_CAPABILITY,
        STANDBY,
        CONNECTOR_TYPE,
        IDR_REQUEST,
        IDR_REQUEST_CAPABILITY,
        MS_DIAGNOSTICS_CAPABILITY,
        MS_TEARDOWN_REASON,
        MS_FORMAT_CHANGE_CAPABILITY,
        MS_LATENCY_MANAGEMENT,
        MS_RTCP_CAPABILITY,
        MS_MAX_BITRATE,
        MS_MULTISCREEN_PROJECTION,
        MS_AUDIO_MUTE,
        MS_VIDEO_FORMATS,
        MS_CURSOR,
        INTEL_FRIENDLY_NAME,
        INTEL_MANUFACTURER_NAME,
        INTEL_MODEL_NAME,
        INTEL_DEVICE_URL,
        INTEL_SINK_VERSION,
        INTEL_MANUFACTURER_LOGO,
        INTEL_FAST_CURSOR,
    ];

    /// The canonical spelling of `name` if it is a typed parameter (names are matched
    /// case-insensitively, as libwds does).
    pub fn canonical(name: &str) -> Option<&'static str> {
        TYPED
            .iter()
            .copied()
            .find(|known| known.eq_ignore_ascii_case(name))
    }
}

impl Parameter {
    /// Parses one parameter line's `name` and `value` (`None` for a bare name).
    ///
    /// A bare name is only a value for `wfd_standby` and `wfd_idr_request`; any other bare
    /// name (a GET_PARAMETER request line) is returned as [`Parameter::Raw`] with no value.
    ///
    /// # Errors
    /// [`ParamError`] naming the parameter, the field and why, when a known parameter's
    /// value breaks its grammar.
    pub fn parse(name: &str, value: Option<&str>) -> Result<Parameter, ParamError> {
        let Some(canonical) = names::canonical(name) else {
            return Ok(Parameter::Raw {
                name: name.to_owned(),
                value: value.map(str::to_owned),
            });
        };
        let Some(value) = value else {
            return Ok(match canonical {
                names::STANDBY => Parameter::Standby,
                names::IDR_REQUEST => Parameter::IdrRequest,
                _ => Parameter::Raw {
                    name: name.to_owned(),
                    value: None,
                },
            });
        };
        let value = value.trim();
        use names::*;
        let p = match canonical {
            AUDIO_CODECS => Parameter::AudioCodecs(AudioCodecs::parse(value)?),
            VIDEO_FORMATS => Parameter::VideoFormats(VideoFormats::parse(value)?),
            VIDEO_3D_FORMATS => Parameter::Video3dFormats(Video3dFormats::parse(value)?),
            CONTENT_PROTECTION => Parameter::ContentProtection(ContentProtection::parse(value)?),
            DISPLAY_EDID => Parameter::DisplayEdid(DisplayEdid::parse(value)?),
            COUPLED_SINK => Parameter::CoupledSink(CoupledSink::parse(value)?),
            TRIGGER_METHOD => Parameter::TriggerMethod(TriggerMethod::parse(value)?),
            PRESENTATION_URL => Parameter::PresentationUrl(PresentationUrl::parse(value)?),
            CLIENT_RTP_PORTS => Parameter::ClientRtpPorts(ClientRtpPorts::parse(value)?),
            ROUTE => Parameter::Route(Route::parse(value)?),
            I2C => Parameter::I2c(if is_none(value) {
                None
            } else {
                Some(parse_port(value, I2C, "port")?)
            }),
            AV_FORMAT_CHANGE_TIMING => {
                Parameter::AvFormatChangeTiming(AvFormatChangeTiming::parse(value)?)
            }
            PREFERRED_DISPLAY_MODE => Parameter::PreferredDisplayMode(parse_preferred(value)?),
            UIBC_CAPABILITY => Parameter::UibcCapability(UibcCapability::parse(value)?),
            UIBC_SETTING => Parameter::UibcSetting(UibcSetting::parse(value)?),
            STANDBY_RESUME_CAPABILITY => {
                Parameter::StandbyResumeCapability(parse_supported(value, canonical)?)
            }
            STANDBY => {
                return Err(ParamError::new(
                    STANDBY,
                    "value",
                    "must be empty (bare name)",
                ));
            }
            CONNECTOR_TYPE => Parameter::ConnectorType(ConnectorType::parse(value)?),
            IDR_REQUEST => {
                return Err(ParamError::new(
                    IDR_REQUEST,
                    "value",
                    "must be empty (bare name)",
                ));
            }
            IDR_REQUEST_CAPABILITY => Parameter::IdrRequestCapability(match value {
                "1" => true,
                "0" => false,
                other => {
                    return Err(ParamError::new(
                        IDR_REQUEST_CAPABILITY,
                        "value",
                        format!("must be 0 or 1 ('{other}' given)"),
                    ));
                }
            }),
            MS_DIAGNOSTICS_CAPABILITY => {
                Parameter::MicrosoftDiagnosticsCapability(parse_supported(value, canonical)?)
            }
            MS_TEARDOWN_REASON => Parameter::MicrosoftTeardownReason(TeardownReason::parse(value)?),
            MS_FORMAT_CHANGE_CAPABILITY => {
                Parameter::MicrosoftFormatChangeCapability(parse_supported(value, canonical)?)
            }
            MS_LATENCY_MANAGEMENT => {
                Parameter::MicrosoftLatencyManagement(LatencyManagement::parse(value)?)
            }
            MS_RTCP_CAPABILITY => {
                Parameter::MicrosoftRtcpCapability(parse_supported(value, canonical)?)
            }
            MS_MAX_BITRATE => Parameter::MicrosoftMaxBitrate(parse_decimal_u64(
                value,
                MS_MAX_BITRATE,
                "bit rate",
            )?),
            MS_MULTISCREEN_PROJECTION => {
                Parameter::MicrosoftMultiscreenProjection(parse_supported(value, canonical)?)
            }
            MS_AUDIO_MUTE => Parameter::MicrosoftAudioMute(parse_supported(value, canonical)?),
            MS_VIDEO_FORMATS => {
                Parameter::MicrosoftVideoFormats(hex_exact(value, 12, MS_VIDEO_FORMATS, "bitmap")?)
            }
            MS_CURSOR => Parameter::MicrosoftCursor(MicrosoftCursor::parse(value)?),
            INTEL_FRIENDLY_NAME => {
                Parameter::IntelFriendlyName(vendor::parse_friendly_name(value)?)
            }
            INTEL_MANUFACTURER_NAME => Parameter::IntelSinkManufacturerName(
                vendor::parse_optional_text(value, INTEL_MANUFACTURER_NAME, 32)?,
            ),
            INTEL_MODEL_NAME => Parameter::IntelSinkModelName(vendor::parse_optional_text(
                value,
                INTEL_MODEL_NAME,
                32,
            )?),
            INTEL_DEVICE_URL => Parameter::IntelSinkDeviceUrl(vendor::parse_optional_text(
                value,
                INTEL_DEVICE_URL,
                256,
            )?),
            INTEL_SINK_VERSION => Parameter::IntelSinkVersion(IntelSinkVersion::parse(value)?),
            INTEL_MANUFACTURER_LOGO => {
                Parameter::IntelSinkManufacturerLogo(vendor::parse_logo(value)?)
            }
            INTEL_FAST_CURSOR => Parameter::IntelFastCursor(vendor::parse_fast_cursor(value)?),
            _ => Parameter::Raw {
                name: name.to_owned(),
                value: Some(value.to_owned()),
            },
        };
        Ok(p)
    }

    /// The canonical name (or the verbatim name of a raw parameter).
    pub fn name(&self) -> &str {
        use names::*;
        match self {
            Parameter::AudioCodecs(_) => AUDIO_CODECS,
            Parameter::VideoFormats(_) => VIDEO_FORMATS,
            Parameter::Video3dFormats(_) => VIDEO_3D_FORMATS,
            Parameter::ContentProtection(_) => CONTENT_PROTECTION,
            Parameter::DisplayEdid(_) => DISPLAY_EDID,
            Parameter::CoupledSink(_) => COUPLED_SINK,
            Parameter::TriggerMethod(_) => TRIGGER_METHOD,
            Parameter::PresentationUrl(_) => PRESENTATION_URL,
            Parameter::ClientRtpPorts(_) => CLIENT_RTP_PORTS,
            Parameter::Route(_) => ROUTE,
            Parameter::I2c(_) => I2C,
            Parameter::AvFormatChangeTiming(_) => AV_FORMAT_CHANGE_TIMING,
            Parameter::PreferredDisplayMode(_) => PREFERRED_DISPLAY_MODE,
            Parameter::UibcCapability(_) => UIBC_CAPABILITY,
            Parameter::UibcSetting(_) => UIBC_SETTING,
            Parameter::StandbyResumeCapability(_) => STANDBY_RESUME_CAPABILITY,
            Parameter::Standby => STANDBY,
            Parameter::ConnectorType(_) => CONNECTOR_TYPE,
            Parameter::IdrRequest => IDR_REQUEST,
            Parameter::IdrRequestCapability(_) => IDR_REQUEST_CAPABILITY,
            Parameter::MicrosoftDiagnosticsCapability(_) => MS_DIAGNOSTICS_CAPABILITY,
            Parameter::MicrosoftTeardownReason(_) => MS_TEARDOWN_REASON,
            Parameter::MicrosoftFormatChangeCapability(_) => MS_FORMAT_CHANGE_CAPABILITY,
            Parameter::MicrosoftLatencyManagement(_) => MS_LATENCY_MANAGEMENT,
            Parameter::MicrosoftRtcpCapability(_) => MS_RTCP_CAPABILITY,
            Parameter::MicrosoftMaxBitrate(_) => MS_MAX_BITRATE,
            Parameter::MicrosoftMultiscreenProjection(_) => MS_MULTISCREEN_PROJECTION,
            Parameter::MicrosoftAudioMute(_) => MS_AUDIO_MUTE,
            Parameter::MicrosoftVideoFormats(_) => MS_VIDEO_FORMATS,
            Parameter::MicrosoftCursor(_) => MS_CURSOR,
            Parameter::IntelFriendlyName(_) => INTEL_FRIENDLY_NAME,
            Parameter::IntelSinkManufacturerName(_) => INTEL_MANUFACTURER_NAME,
            Parameter::IntelSinkModelName(_) => INTEL_MODEL_NAME,
            Parameter::IntelSinkDeviceUrl(_) => INTEL_DEVICE_URL,
            Parameter::IntelSinkVersion(_) => INTEL_SINK_VERSION,
            Parameter::IntelSinkManufacturerLogo(_) => INTEL_MANUFACTURER_LOGO,
            Parameter::IntelFastCursor(_) => INTEL_FAST_CURSOR,
            Parameter::Raw { name, .. } => name,
        }
    }

    /// The value in canonical spelling, `None` for bare-name parameters.
    pub fn value(&self) -> Option<String> {
        fn opt<T: fmt::Display>(v: &Option<T>) -> String {
            v.as_ref()
                .map_or_else(|| "none".to_owned(), ToString::to_string)
        }
        fn supported(b: bool) -> String {
            if b { "supported" } else { "none" }.to_owned()
        }
        let s = match self {
            Parameter::AudioCodecs(v) => v.to_string(),
            Parameter::VideoFormats(v) => opt(v),
            Parameter::Video3dFormats(v) => opt(v),
            Parameter::ContentProtection(v) => opt(v),
            Parameter::DisplayEdid(v) => opt(v),
            Parameter::CoupledSink(v) => opt(v),
            Parameter::TriggerMethod(v) => v.to_string(),
            Parameter::PresentationUrl(v) => v.to_string(),
            Parameter::ClientRtpPorts(v) => v.to_string(),
            Parameter::Route(v) => v.to_string(),
            Parameter::I2c(v) => opt(v),
            Parameter::AvFormatChangeTiming(v) => v.to_string(),
            Parameter::PreferredDisplayMode(v) => v
                .as_ref()
                .map_or_else(|| "none".to_owned(), |tokens| tokens.join(" ")),
            Parameter::UibcCapability(v) => opt(v),
            Parameter::UibcSetting(v) => v.to_string(),
            Parameter::StandbyResumeCapability(b) => supported(*b),
            Parameter::Standby | Parameter::IdrRequest => return None,
            Parameter::ConnectorType(v) => opt(v),
            Parameter::IdrRequestCapability(b) => if *b { "1" } else { "0" }.to_owned(),
            Parameter::MicrosoftDiagnosticsCapability(b)
            | Parameter::MicrosoftFormatChangeCapability(b)
            | Parameter::MicrosoftRtcpCapability(b)
            | Parameter::MicrosoftMultiscreenProjection(b)
            | Parameter::MicrosoftAudioMute(b) => supported(*b),
            Parameter::MicrosoftTeardownReason(v) => v.to_string(),
            Parameter::MicrosoftLatencyManagement(v) => v.to_string(),
            Parameter::MicrosoftMaxBitrate(v) => v.to_string(),
            Parameter::MicrosoftVideoFormats(v) => format!("{v:012x}"),
            Parameter::MicrosoftCursor(v) => opt(v),
            Parameter::IntelFriendlyName(v) => v.clone(),
            Parameter::IntelSinkManufacturerName(v)
            | Parameter::IntelSinkModelName(v)
            | Parameter::IntelSinkDeviceUrl(v)
            | Parameter::IntelSinkManufacturerLogo(v) => opt(v),
            Parameter::IntelSinkVersion(v) => v.to_string(),
            Parameter::IntelFastCursor(port) => format!("port={port}"),
            Parameter::Raw { value, .. } => return value.clone(),
        };
        Some(s)
    }
}

impl fmt::Display for Parameter {
    /// One body line without its CRLF: `name: value`, or the bare name.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.value() {
            Some(value) => write!(f, "{}: {}", self.name(), value),
            None => f.write_str(self.name()),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Shared lexical helpers.
/// The whitespace-separated fields of `value`, which must be exactly as many as `shape` has
/// (`shape` is the grammar shown in the error, e.g. `'PTS DTS'`).
pub(crate) fn exact_fields<'a>(
    parameter: &str,
    value: &'a str,
    shape: &str,
) -> Result<Vec<&'a str>, ParamError> {
    let fields: Vec<&str> = value.split_ascii_whitespace().collect();
    let expected = shape.split_ascii_whitespace().count();
    if fields.len() != expected {
        return Err(ParamError::new(
            parameter,
            "value",
            format!(
                "must be '{shape}' ({expected} fields, {} given)",
                fields.len()
            ),
        ));
    }
    Ok(fields)
}

/// `none`, compared case-insensitively (libwds accepts `noNE`).
pub(crate) fn is_none(s: &str) -> bool {
    s.eq_ignore_ascii_case("none")
}

/// Exactly `digits` hex digits, case-insensitive.
pub(crate) fn hex_exact(
    s: &str,
    digits: usize,
    param: &str,
    field: &str,
) -> Result<u64, ParamError> {
    let all_hex = !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit());
    if !all_hex {
        return Err(ParamError::new(
            param,
            field,
            format!("must be exactly {digits} hex digits ('{}' given)", clip(s)),
        ));
    }
    if s.len() != digits {
        return Err(ParamError::new(
            param,
            field,
            format!("must be exactly {digits} hex digits ({} given)", s.len()),
        ));
    }
    u64::from_str_radix(s, 16)
        .map_err(|_| ParamError::new(param, field, format!("must be exactly {digits} hex digits")))
}

/// An IPPORT: 1 to 5 decimal digits, 0..=65535.
pub(crate) fn parse_port(s: &str, param: &str, field: &str) -> Result<u16, ParamError> {
    let ok = (1..=5).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit());
    let parsed = if ok { s.parse::<u16>().ok() } else { None };
    parsed.ok_or_else(|| {
        ParamError::new(
            param,
            field,
            format!(
                "is not a valid port (IPPORT = 1*5DIGIT, 0..65535; '{}' given)",
                clip(s)
            ),
        )
    })
}

/// A decimal `u64`.
pub(crate) fn parse_decimal_u64(s: &str, param: &str, field: &str) -> Result<u64, ParamError> {
    let ok = !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let parsed = if ok { s.parse::<u64>().ok() } else { None };
    parsed.ok_or_else(|| {
        ParamError::new(
            param,
            field,
            format!("must be a decimal integer ('{}' given)", clip(s)),
        )
    })
}

/// `supported` (true) or `none` (false).
pub(crate) fn parse_supported(s: &str, param: &str) -> Result<bool, ParamError> {
    if s.eq_ignore_ascii_case("supported") {
        Ok(true)
    } else if is_none(s) {
        Ok(false)
    } else {
        Err(ParamError::new(
            param,
            "value",
            format!("must be 'supported' or 'none' ('{}' given)", clip(s)),
        ))
    }
}

fn parse_preferred(value: &str) -> Result<Option<Vec<String>>, ParamError> {
    if is_none(value) {
        return Ok(None);
    }
    let tokens: Vec<String> = value.split_ascii_whitespace().map(str::to_owned).collect();
    for (i, t) in tokens.iter().enumerate() {
        if !t.bytes().all(|b| b.is_ascii_hexdigit()) && !is_none(t) {
            return Err(ParamError::new(
                names::PREFERRED_DISPLAY_MODE,
                format!("field {}", i + 1),
                format!("must be hex digits or 'none' ('{}' given)", clip(t)),
            ));
        }
    }
    Ok(Some(tokens))
}

/// Splits a `", "`-separated list, tolerating any whitespace around the commas.
pub(crate) fn split_list(s: &str) -> impl Iterator<Item = &str> {
    s.split(',').map(str::trim)
}

/// Shortens text quoted in an error so a 64 KiB garbage value does not become the message.
pub(crate) fn clip(s: &str) -> String {
    const MAX: usize = 40;
    if s.chars().count() <= MAX {
        s.to_owned()
    } else {
        let head: String = s.chars().take(MAX).collect();
        format!("{head}...")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_message_names_parameter_field_and_reason() {
        let err =
            Parameter::parse("wfd_audio_codecs", Some("AAC FFFFFFFFFFFFFFFFF 00")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "wfd_audio_codecs: modes of entry 1 must be exactly 8 hex digits (17 given)"
        );
    }

    #[test]
    fn names_are_case_insensitive_and_none_too() {
        let p = Parameter::parse("wfd_uibc_capABILITY", Some("noNE")).unwrap();
        assert_eq!(p, Parameter::UibcCapability(None));
        assert_eq!(p.to_string(), "wfd_uibc_capability: none");
    }

    #[test]
    fn unknown_parameters_are_kept_verbatim() {
        let p = Parameter::parse("wfd2_video_formats", Some("40 01 04")).unwrap();
        assert_eq!(p.to_string(), "wfd2_video_formats: 40 01 04");
        let bare = Parameter::parse("intel_usboip", None).unwrap();
        assert_eq!(bare.to_string(), "intel_usboip");
    }

    #[test]
    fn bare_names_are_values_only_for_standby_and_idr() {
        assert_eq!(
            Parameter::parse("wfd_idr_request", None).unwrap(),
            Parameter::IdrRequest
        );
        assert_eq!(
            Parameter::parse("wfd_standby", None).unwrap(),
            Parameter::Standby
        );
        assert!(matches!(
            Parameter::parse("wfd_video_formats", None).unwrap(),
            Parameter::Raw { value: None, .. }
        ));
    }
}
