//! Microsoft (MS-WFDPE, MS-WDHCE) and Intel extension parameters.

use std::fmt;

use super::{ParamError, clip, exact_fields, hex_exact, is_none, names, parse_port};

/// `microsoft_teardown_reason`: an HRESULT and free text (M8 body).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TeardownReason {
    /// The HRESULT, e.g. `0xC00D4278` (timeout waiting for keep-alive/RTP).
    pub code: u32,
    /// The free-text reason (may be empty).
    pub reason: String,
}

impl TeardownReason {
    /// `MF_E_NET_TIMEOUT`-style code MS-WFDPE predefines for keep-alive/RTP timeouts.
    pub const TIMEOUT: u32 = 0xC00D_4278;

    /// Parses a value.
    ///
    /// # Errors
    /// [`ParamError`] naming `code`.
    pub fn parse(value: &str) -> Result<TeardownReason, ParamError> {
        let (code, reason) = match value.split_once(' ') {
            Some((c, r)) => (c, r.trim()),
            None => (value, ""),
        };
        let code = hex_exact(code, 8, names::MS_TEARDOWN_REASON, "code")? as u32;
        Ok(TeardownReason {
            code,
            reason: reason.to_owned(),
        })
    }
}

impl fmt::Display for TeardownReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.reason.is_empty() {
            write!(f, "{:08X}", self.code)
        } else {
            write!(f, "{:08X} {}", self.code, self.reason)
        }
    }
}

/// `microsoft_latency_management_capability`: a capability (M3) or a requested mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LatencyManagement {
    /// `supported`.
    Supported,
    /// `none`.
    None,
    /// `low`: under 50 ms of buffering.
    Low,
    /// `normal`: under 100 ms.
    Normal,
    /// `high`: under 500 ms.
    High,
}

impl LatencyManagement {
    /// Parses a value.
    ///
    /// # Errors
    /// [`ParamError`] for any other word.
    pub fn parse(value: &str) -> Result<LatencyManagement, ParamError> {
        Ok(match value.to_ascii_lowercase().as_str() {
            "supported" => LatencyManagement::Supported,
            "none" => LatencyManagement::None,
            "low" => LatencyManagement::Low,
            "normal" => LatencyManagement::Normal,
            "high" => LatencyManagement::High,
            _ => {
                return Err(ParamError::new(
                    names::MS_LATENCY_MANAGEMENT,
                    "value",
                    format!(
                        "must be supported, none, low, normal or high ('{}' given)",
                        clip(value)
                    ),
                ));
            }
        })
    }
}

impl fmt::Display for LatencyManagement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LatencyManagement::Supported => "supported",
            LatencyManagement::None => "none",
            LatencyManagement::Low => "low",
            LatencyManagement::Normal => "normal",
            LatencyManagement::High => "high",
        })
    }
}

/// `microsoft_cursor` (MS-WDHCE) other than `none`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MicrosoftCursor {
    /// XOR cursor support: `false` is `none`, `true` is `full`.
    pub xor_full: bool,
    /// Maximum cursor width.
    pub max_width: u16,
    /// Maximum cursor height.
    pub max_height: u16,
    /// UDP port of the cursor channel (HEX(4) on the wire).
    pub port: u16,
}

impl MicrosoftCursor {
    /// Parses a value; a lone `none` gives `None`.
    ///
    /// # Errors
    /// [`ParamError`] naming the field.
    pub fn parse(value: &str) -> Result<Option<MicrosoftCursor>, ParamError> {
        const P: &str = names::MS_CURSOR;
        if is_none(value) {
            return Ok(None);
        }
        let fields = exact_fields(P, value, "xor width height port")?;
        let xor_full = if is_none(fields[0]) {
            false
        } else if fields[0].eq_ignore_ascii_case("full") {
            true
        } else {
            return Err(ParamError::new(
                P,
                "xor-support",
                format!("must be none or full ('{}' given)", clip(fields[0])),
            ));
        };
        Ok(Some(MicrosoftCursor {
            xor_full,
            max_width: hex_exact(fields[1], 4, P, "max width")? as u16,
            max_height: hex_exact(fields[2], 4, P, "max height")? as u16,
            port: hex_exact(fields[3], 4, P, "port")? as u16,
        }))
    }
}

impl fmt::Display for MicrosoftCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let xor = if self.xor_full { "full" } else { "none" };
        write!(
            f,
            "{xor} {:04x} {:04x} {:04x}",
            self.max_width, self.max_height, self.port
        )
    }
}

/// `intel_sink_version`: product id and hardware/software version tags.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IntelSinkVersion {
    /// `product_ID=` (1 to 16 visible characters).
    pub product_id: String,
    /// `hw_version=` tag, four dot-separated decimal groups.
    pub hw_version: String,
    /// `sw_version=` tag, four dot-separated decimal groups.
    pub sw_version: String,
}

impl IntelSinkVersion {
    /// Parses a value.
    ///
    /// # Errors
    /// [`ParamError`] naming the field.
    pub fn parse(value: &str) -> Result<IntelSinkVersion, ParamError> {
        const P: &str = names::INTEL_SINK_VERSION;
        let fields = exact_fields(P, value, "product_ID=.. hw_version=.. sw_version=..")?;
        let field = |i: usize, key: &str| -> Result<String, ParamError> {
            let v = fields[i].strip_prefix(key).ok_or_else(|| {
                ParamError::new(
                    P,
                    key.trim_end_matches('='),
                    format!("must start with {key}"),
                )
            })?;
            Ok(v.to_owned())
        };
        let product_id = field(0, "product_ID=")?;
        if product_id.is_empty() || product_id.len() > 16 {
            return Err(ParamError::new(
                P,
                "product_ID",
                "must be 1 to 16 characters",
            ));
        }
        let tag = |s: String, name: &str| -> Result<String, ParamError> {
            let parts: Vec<&str> = s.split('.').collect();
            let ok = parts.len() == 4
                && parts.iter().all(|p| {
                    !p.is_empty() && p.len() <= 8 && p.bytes().all(|b| b.is_ascii_digit())
                });
            if ok {
                Ok(s)
            } else {
                Err(ParamError::new(
                    P,
                    name,
                    format!("must be a d.d.d.d version tag ('{}' given)", clip(&s)),
                ))
            }
        };
        Ok(IntelSinkVersion {
            product_id,
            hw_version: tag(field(1, "hw_version=")?, "hw_version")?,
            sw_version: tag(field(2, "sw_version=")?, "sw_version")?,
        })
    }
}

impl fmt::Display for IntelSinkVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "product_ID={} hw_version={} sw_version={}",
            self.product_id, self.hw_version, self.sw_version
        )
    }
}

/// `intel_friendly_name`: one or more bytes, no `-`, no control characters.
pub(crate) fn parse_friendly_name(value: &str) -> Result<String, ParamError> {
    if value.is_empty() {
        return Err(ParamError::new(
            names::INTEL_FRIENDLY_NAME,
            "value",
            "must not be empty",
        ));
    }
    if value.contains('-') || value.chars().any(char::is_control) {
        return Err(ParamError::new(
            names::INTEL_FRIENDLY_NAME,
            "value",
            format!(
                "must not contain '-' or control characters ('{}' given)",
                clip(value)
            ),
        ));
    }
    Ok(value.to_owned())
}

/// `none` or 1 to `max` visible characters (spaces allowed, as real sinks send them).
pub(crate) fn parse_optional_text(
    value: &str,
    param: &str,
    max: usize,
) -> Result<Option<String>, ParamError> {
    if is_none(value) {
        return Ok(None);
    }
    let ok = !value.is_empty()
        && value.len() <= max
        && value.bytes().all(|b| (0x20..=0x7e).contains(&b));
    if ok {
        Ok(Some(value.to_owned()))
    } else {
        Err(ParamError::new(
            param,
            "value",
            format!(
                "must be 'none' or 1 to {max} visible ASCII characters ({} bytes given)",
                value.len()
            ),
        ))
    }
}

/// `none` or base64 text of 464 to 76800 characters.
pub(crate) fn parse_logo(value: &str) -> Result<Option<String>, ParamError> {
    if is_none(value) {
        return Ok(None);
    }
    let charset_ok = value
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'=');
    if !charset_ok {
        return Err(ParamError::new(
            names::INTEL_MANUFACTURER_LOGO,
            "value",
            "must be base64 text",
        ));
    }
    if !(464..=76800).contains(&value.len()) {
        return Err(ParamError::new(
            names::INTEL_MANUFACTURER_LOGO,
            "value",
            format!(
                "must be 464 to 76800 base64 characters ({} given)",
                value.len()
            ),
        ));
    }
    Ok(Some(value.to_owned()))
}

/// `intel_fast_cursor`: `port=` IPPORT.
pub(crate) fn parse_fast_cursor(value: &str) -> Result<u16, ParamError> {
    let port = value.strip_prefix("port=").ok_or_else(|| {
        ParamError::new(names::INTEL_FAST_CURSOR, "value", "must be written port=N")
    })?;
    parse_port(port, names::INTEL_FAST_CURSOR, "port")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_cursor_port_is_hex() {
        let c = MicrosoftCursor::parse("none 0100 0100 4abf")
            .unwrap()
            .unwrap();
        assert_eq!((c.max_width, c.max_height, c.port), (256, 256, 19135));
    }

    #[test]
    fn samsung_version_tags() {
        let v = IntelSinkVersion::parse(
            "product_ID=widicesdk hw_version=02.00.00.0000 sw_version=02.04.46.0000",
        )
        .unwrap();
        assert_eq!(v.product_id, "widicesdk");
        assert_eq!(v.sw_version, "02.04.46.0000");
    }

    #[test]
    fn teardown_reason_with_text() {
        let r = TeardownReason::parse("C00D4278 no RTP data for 2 minutes").unwrap();
        assert_eq!(r.code, TeardownReason::TIMEOUT);
        assert_eq!(r.to_string(), "C00D4278 no RTP data for 2 minutes");
    }
}
