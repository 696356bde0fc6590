//! Transport and session parameters: `wfd_client_rtp_ports`, `wfd_presentation_URL`,
//! `wfd_trigger_method`, `wfd_route`, `wfd_av_format_change_timing`.

use std::fmt;
use std::net::Ipv4Addr;

use super::{ParamError, clip, exact_fields, hex_exact, is_none, names, parse_port};

/// The RTP profile token of `wfd_client_rtp_ports`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RtpProfile {
    /// `RTP/AVP/UDP;unicast`, the normal case.
    UdpUnicast,
    /// `RTP/AVP/TCP;unicast`.
    TcpUnicast,
    /// `RTP/AVP/TCP;interleaved`, written without ports (accepted by AOSP).
    TcpInterleaved,
}

impl fmt::Display for RtpProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RtpProfile::UdpUnicast => "RTP/AVP/UDP;unicast",
            RtpProfile::TcpUnicast => "RTP/AVP/TCP;unicast",
            RtpProfile::TcpInterleaved => "RTP/AVP/TCP;interleaved",
        })
    }
}

/// `wfd_client_rtp_ports`: profile, the sink's RTP port(s), `mode=play`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientRtpPorts {
    /// The RTP profile.
    pub profile: RtpProfile,
    /// RTP port of the primary sink (0 only for the interleaved form).
    pub port0: u16,
    /// RTP port of the coupled secondary sink; 0 for a primary sink.
    pub port1: u16,
}

impl ClientRtpPorts {
    /// A UDP unicast primary sink on `port`.
    pub fn udp(port: u16) -> Self {
        ClientRtpPorts {
            profile: RtpProfile::UdpUnicast,
            port0: port,
            port1: 0,
        }
    }

    /// Parses a value.
    ///
    /// # Errors
    /// [`ParamError`] naming the field (`profile`, `rtp-port0`, `rtp-port1`, `mode`).
    pub fn parse(value: &str) -> Result<ClientRtpPorts, ParamError> {
        const P: &str = names::CLIENT_RTP_PORTS;
        let fields: Vec<&str> = value.split_ascii_whitespace().collect();
        let profile_token = fields.first().copied().unwrap_or_default();
        let profile = if profile_token.eq_ignore_ascii_case("RTP/AVP/UDP;unicast") {
            RtpProfile::UdpUnicast
        } else if profile_token.eq_ignore_ascii_case("RTP/AVP/TCP;unicast") {
            RtpProfile::TcpUnicast
        } else if profile_token.eq_ignore_ascii_case("RTP/AVP/TCP;interleaved") {
            RtpProfile::TcpInterleaved
        } else {
            return Err(ParamError::new(
                P,
                "profile",
                format!(
                    "must be RTP/AVP/UDP;unicast, RTP/AVP/TCP;unicast or RTP/AVP/TCP;interleaved ('{}' given)",
                    clip(profile_token)
                ),
            ));
        };
        let check_mode = |m: &str| {
            if m.eq_ignore_ascii_case("mode=play") {
                Ok(())
            } else {
                Err(ParamError::new(
                    P,
                    "mode",
                    format!("must be mode=play ('{}' given)", clip(m)),
                ))
            }
        };
        match (profile, fields.len()) {
            (RtpProfile::TcpInterleaved, 2) => {
                check_mode(fields[1])?;
                Ok(ClientRtpPorts {
                    profile,
                    port0: 0,
                    port1: 0,
                })
            }
            (_, 4) => {
                let port0 = parse_port(fields[1], P, "rtp-port0")?;
                let port1 = parse_port(fields[2], P, "rtp-port1")?;
                check_mode(fields[3])?;
                Ok(ClientRtpPorts {
                    profile,
                    port0,
                    port1,
                })
            }
            (_, n) => Err(ParamError::new(
                P,
                "value",
                format!("must be 'profile port0 port1 mode=play' (4 fields, {n} given)"),
            )),
        }
    }
}

impl fmt::Display for ClientRtpPorts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.profile == RtpProfile::TcpInterleaved && self.port0 == 0 && self.port1 == 0 {
            write!(f, "{} mode=play", self.profile)
        } else {
            write!(
                f,
                "{} {} {} mode=play",
                self.profile, self.port0, self.port1
            )
        }
    }
}

/// One presentation URI: `rtsp://IPv4[:port]/wfd1.0/streamid=N`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PresentationUri {
    /// Source IPv4 address.
    pub host: Ipv4Addr,
    /// Port (not in the ABNF; GNOME and libwds use it).
    pub port: Option<u16>,
    /// Stream id (0 primary, 1 secondary).
    pub stream_id: u8,
}

impl PresentationUri {
    fn parse(s: &str, field: &str) -> Result<PresentationUri, ParamError> {
        const P: &str = names::PRESENTATION_URL;
        let bad = |why: &str| ParamError::new(P, field, format!("{why} ('{}' given)", clip(s)));
        let rest = s
            .strip_prefix("rtsp://")
            .ok_or_else(|| bad("must start with rtsp://"))?;
        let (authority, path) = rest.split_once('/').ok_or_else(|| bad("has no path"))?;
        let (host, port) = match authority.split_once(':') {
            Some((h, p)) => (h, Some(parse_port(p, P, &format!("port of {field}"))?)),
            None => (authority, None),
        };
        let host: Ipv4Addr = host.parse().map_err(|_| bad("must name an IPv4 address"))?;
        let stream = path
            .strip_prefix("wfd1.0/streamid=")
            .ok_or_else(|| bad("must end in /wfd1.0/streamid=N"))?;
        let stream_id =
            (!stream.is_empty() && stream.len() <= 3 && stream.bytes().all(|b| b.is_ascii_digit()))
                .then(|| stream.parse::<u8>().ok())
                .flatten()
                .ok_or_else(|| bad("must end in /wfd1.0/streamid=N with a small decimal N"))?;
        Ok(PresentationUri {
            host,
            port,
            stream_id,
        })
    }

    /// The aggregate URL (without `/streamid=N`), which gst-rtsp-server requires for
    /// PLAY and TEARDOWN.
    pub fn aggregate(&self) -> String {
        match self.port {
            Some(p) => format!("rtsp://{}:{}/wfd1.0", self.host, p),
            None => format!("rtsp://{}/wfd1.0", self.host),
        }
    }
}

impl fmt::Display for PresentationUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/streamid={}", self.aggregate(), self.stream_id)
    }
}

/// `wfd_presentation_URL`: exactly two tokens, each `none` or a presentation URI.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PresentationUrl {
    /// URL of the primary sink's stream.
    pub url0: Option<PresentationUri>,
    /// URL of the coupled secondary sink's stream.
    pub url1: Option<PresentationUri>,
}

impl PresentationUrl {
    /// Parses a value.
    ///
    /// # Errors
    /// [`ParamError`] naming `url0`/`url1`.
    pub fn parse(value: &str) -> Result<PresentationUrl, ParamError> {
        let fields: Vec<&str> = value.split_ascii_whitespace().collect();
        if fields.len() != 2 {
            return Err(ParamError::new(
                names::PRESENTATION_URL,
                "value",
                format!("must be exactly two tokens ({} given)", fields.len()),
            ));
        }
        let one = |s: &str, field: &str| {
            if is_none(s) {
                Ok(None)
            } else {
                PresentationUri::parse(s, field).map(Some)
            }
        };
        Ok(PresentationUrl {
            url0: one(fields[0], "url0")?,
            url1: one(fields[1], "url1")?,
        })
    }
}

impl fmt::Display for PresentationUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let one =
            |u: &Option<PresentationUri>| u.map_or_else(|| "none".to_owned(), |u| u.to_string());
        write!(f, "{} {}", one(&self.url0), one(&self.url1))
    }
}

/// `wfd_trigger_method` (M5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum TriggerMethod {
    /// Sink must send SETUP (M6).
    Setup,
    /// Sink must send PLAY (M7).
    Play,
    /// Sink must send PAUSE (M9).
    Pause,
    /// Sink must send TEARDOWN (M8).
    Teardown,
}

impl TriggerMethod {
    /// Parses a value.
    ///
    /// # Errors
    /// [`ParamError`] when the value is not one of the four methods.
    pub fn parse(value: &str) -> Result<TriggerMethod, ParamError> {
        Ok(match value.to_ascii_uppercase().as_str() {
            "SETUP" => TriggerMethod::Setup,
            "PLAY" => TriggerMethod::Play,
            "PAUSE" => TriggerMethod::Pause,
            "TEARDOWN" => TriggerMethod::Teardown,
            _ => {
                return Err(ParamError::new(
                    names::TRIGGER_METHOD,
                    "value",
                    format!(
                        "must be SETUP, PLAY, PAUSE or TEARDOWN ('{}' given)",
                        clip(value)
                    ),
                ));
            }
        })
    }
}

impl fmt::Display for TriggerMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TriggerMethod::Setup => "SETUP",
            TriggerMethod::Play => "PLAY",
            TriggerMethod::Pause => "PAUSE",
            TriggerMethod::Teardown => "TEARDOWN",
        })
    }
}

/// `wfd_route` (M10).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Route {
    /// Audio to the primary sink.
    Primary,
    /// Audio to the secondary (coupled) sink.
    Secondary,
}

impl Route {
    /// Parses a value.
    ///
    /// # Errors
    /// [`ParamError`] when the value is neither `primary` nor `secondary`.
    pub fn parse(value: &str) -> Result<Route, ParamError> {
        if value.eq_ignore_ascii_case("primary") {
            Ok(Route::Primary)
        } else if value.eq_ignore_ascii_case("secondary") {
            Ok(Route::Secondary)
        } else {
            Err(ParamError::new(
                names::ROUTE,
                "value",
                format!("must be primary or secondary ('{}' given)", clip(value)),
            ))
        }
    }
}

impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Route::Primary => "primary",
            Route::Secondary => "secondary",
        })
    }
}

/// `wfd_av_format_change_timing`: 33-bit PTS and DTS (HEX(10) each).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AvFormatChangeTiming {
    /// Presentation time stamp of the first sample in the new format.
    pub pts: u64,
    /// Decoding time stamp of the first sample in the new format.
    pub dts: u64,
}

impl AvFormatChangeTiming {
    /// Parses a value.
    ///
    /// # Errors
    /// [`ParamError`] naming `pts` or `dts`.
    pub fn parse(value: &str) -> Result<AvFormatChangeTiming, ParamError> {
        const P: &str = names::AV_FORMAT_CHANGE_TIMING;
        let fields = exact_fields(P, value, "PTS DTS")?;
        Ok(AvFormatChangeTiming {
            pts: hex_exact(fields[0], 10, P, "pts")?,
            dts: hex_exact(fields[1], 10, P, "dts")?,
        })
    }
}

impl fmt::Display for AvFormatChangeTiming {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:010X} {:010X}", self.pts, self.dts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rtp_ports_forms() {
        assert_eq!(
            ClientRtpPorts::parse("RTP/AVP/UDP;unicast 19000 0 mode=play").unwrap(),
            ClientRtpPorts::udp(19000)
        );
        let tcp = ClientRtpPorts::parse("RTP/AVP/TCP;interleaved mode=play").unwrap();
        assert_eq!(tcp.to_string(), "RTP/AVP/TCP;interleaved mode=play");
        let err = ClientRtpPorts::parse("RTP/AVP/UDP;unicast 92233720368547758079 0 mode=play")
            .unwrap_err();
        assert_eq!(err.field, "rtp-port0");
        assert!(err.problem.contains("not a valid port"));
    }

    #[test]
    fn presentation_url_with_port_and_aggregate() {
        let u = PresentationUrl::parse("rtsp://127.0.0.1:7236/wfd1.0/streamid=0 none").unwrap();
        let u0 = u.url0.unwrap();
        assert_eq!(u0.aggregate(), "rtsp://127.0.0.1:7236/wfd1.0");
        assert_eq!(
            u.to_string(),
            "rtsp://127.0.0.1:7236/wfd1.0/streamid=0 none"
        );
        assert!(PresentationUrl::parse("rtsp://x/wfd1.0/streamid=0").is_err());
    }
}
