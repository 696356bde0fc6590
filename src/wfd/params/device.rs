//! Sink description parameters: `wfd_display_edid`, `wfd_content_protection`,
//! `wfd_coupled_sink`, `wfd_connector_type`, `wfd_uibc_capability`, `wfd_uibc_setting`.

use std::fmt;

use super::{ParamError, clip, exact_fields, hex_exact, is_none, names, parse_port, split_list};

/// `wfd_display_edid` other than `none`: block count and the EDID bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DisplayEdid {
    /// Number of 128-byte EDID blocks (HEX(4), hexadecimal on the wire).
    pub block_count: u16,
    /// The EDID bytes (`block_count` × 128), `None` when the sink wrote `none`.
    pub payload: Option<Vec<u8>>,
}

impl DisplayEdid {
    /// An EDID value carrying `bytes` (whose length should be a multiple of 128).
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        let block_count = u16::try_from(bytes.len() / 128).unwrap_or(u16::MAX);
        let payload = (!bytes.is_empty()).then_some(bytes);
        DisplayEdid {
            block_count,
            payload,
        }
    }

    /// Parses a value; `none` gives `None`.
    ///
    /// # Errors
    /// [`ParamError`] naming `block count` or `payload`.
    pub fn parse(value: &str) -> Result<Option<DisplayEdid>, ParamError> {
        const P: &str = names::DISPLAY_EDID;
        if is_none(value) {
            return Ok(None);
        }
        let fields = exact_fields(P, value, "block-count payload")?;
        let block_count = hex_exact(fields[0], 4, P, "block count")? as u16;
        if is_none(fields[1]) {
            return Ok(Some(DisplayEdid {
                block_count,
                payload: None,
            }));
        }
        let expected = usize::from(block_count) * 128 * 2;
        if fields[1].len() != expected {
            return Err(ParamError::new(
                P,
                "payload",
                format!(
                    "must be {expected} hex digits for {block_count} blocks ({} given)",
                    fields[1].len()
                ),
            ));
        }
        let bytes = decode_hex(fields[1])
            .ok_or_else(|| ParamError::new(P, "payload", "must be hex digits"))?;
        Ok(Some(DisplayEdid {
            block_count,
            payload: Some(bytes),
        }))
    }

    /// The monitor name from the EDID's display-product-name descriptor (tag 0xFC), if any.
    pub fn monitor_name(&self) -> Option<String> {
        let bytes = self.payload.as_deref()?;
        // The four 18-byte descriptors of the base block start at offset 54.
        (0..4).find_map(|i| {
            let d = bytes.get(54 + i * 18..54 + (i + 1) * 18)?;
            if d[0] == 0 && d[1] == 0 && d[3] == 0xFC {
                let text: String = d[5..]
                    .iter()
                    .take_while(|b| **b != b'\n')
                    .map(|b| char::from(*b))
                    .collect();
                Some(text.trim_end().to_owned())
            } else {
                None
            }
        })
    }
}

impl fmt::Display for DisplayEdid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04X} ", self.block_count)?;
        match &self.payload {
            // An empty payload has no hex spelling; `none` is how the grammar says it.
            Some(bytes) if !bytes.is_empty() => f.write_str(&encode_hex(bytes)),
            _ => f.write_str("none"),
        }
    }
}

/// Lowercase hex of `bytes` (the spelling real sinks use for EDIDs).
pub fn encode_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0F)]));
    }
    out
}

/// Bytes of an even-length hex string, `None` if it is not one.
pub fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// HDCP version announced in `wfd_content_protection`.
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
pub enum HdcpVersion {
    /// `HDCP2.0`.
    Hdcp2_0,
    /// `HDCP2.1` (also sent by 2.2+ sinks).
    Hdcp2_1,
}

impl fmt::Display for HdcpVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HdcpVersion::Hdcp2_0 => "HDCP2.0",
            HdcpVersion::Hdcp2_1 => "HDCP2.1",
        })
    }
}

/// `wfd_content_protection` other than `none`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ContentProtection {
    /// HDCP version.
    pub version: HdcpVersion,
    /// TCP port the sink's HDCP service listens on.
    pub port: u16,
}

impl ContentProtection {
    /// Parses a value; `none` gives `None`.
    ///
    /// # Errors
    /// [`ParamError`] naming `version` or `port`.
    pub fn parse(value: &str) -> Result<Option<ContentProtection>, ParamError> {
        const P: &str = names::CONTENT_PROTECTION;
        if is_none(value) {
            return Ok(None);
        }
        let fields = exact_fields(P, value, "HDCP2.x port=N")?;
        let version = if fields[0].eq_ignore_ascii_case("HDCP2.0") {
            HdcpVersion::Hdcp2_0
        } else if fields[0].eq_ignore_ascii_case("HDCP2.1") {
            HdcpVersion::Hdcp2_1
        } else {
            return Err(ParamError::new(
                P,
                "version",
                format!("must be HDCP2.0 or HDCP2.1 ('{}' given)", clip(fields[0])),
            ));
        };
        let port = fields[1]
            .strip_prefix("port=")
            .ok_or_else(|| ParamError::new(P, "port", "must be written port=N"))?;
        Ok(Some(ContentProtection {
            version,
            port: parse_port(port, P, "port")?,
        }))
    }
}

impl fmt::Display for ContentProtection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} port={}", self.version, self.port)
    }
}

/// `wfd_coupled_sink` other than `none`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CoupledSink {
    /// Coupling status byte.
    pub status: u8,
    /// MAC address of the coupled peer, `None` is `none`.
    pub mac: Option<[u8; 6]>,
}

impl CoupledSink {
    /// Parses a value; `none` gives `None`.
    ///
    /// # Errors
    /// [`ParamError`] naming `status` or `address`.
    pub fn parse(value: &str) -> Result<Option<CoupledSink>, ParamError> {
        const P: &str = names::COUPLED_SINK;
        if is_none(value) {
            return Ok(None);
        }
        let fields = exact_fields(P, value, "status address")?;
        let status = hex_exact(fields[0], 2, P, "status")? as u8;
        let mac = if is_none(fields[1]) {
            None
        } else {
            let v = hex_exact(fields[1], 12, P, "address")?;
            let b = v.to_be_bytes();
            Some([b[2], b[3], b[4], b[5], b[6], b[7]])
        };
        Ok(Some(CoupledSink { status, mac }))
    }
}

impl fmt::Display for CoupledSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02X} ", self.status)?;
        match self.mac {
            Some(mac) => f.write_str(&encode_hex(&mac)),
            None => f.write_str("none"),
        }
    }
}

/// `wfd_connector_type` other than `none` (reference table, section 4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct ConnectorType(pub u8);

impl ConnectorType {
    /// HDMI (05).
    pub const HDMI: ConnectorType = ConnectorType(0x05);
    /// Miracast/WFD embedded display (07).
    pub const MIRACAST: ConnectorType = ConnectorType(0x07);

    /// The connector's name, `reserved` for unlisted values.
    pub fn name(self) -> &'static str {
        match self.0 {
            0x00 => "VGA",
            0x01 => "S-Video",
            0x02 => "Composite",
            0x03 => "Component",
            0x04 => "DVI",
            0x05 => "HDMI",
            0x07 => "Miracast",
            0x08 => "Japanese D",
            0x09 => "SDI",
            0x0A => "DisplayPort",
            0x0C => "UDI",
            0xFF => "other",
            _ => "reserved",
        }
    }

    /// Parses a value; `none` gives `None`.
    ///
    /// # Errors
    /// [`ParamError`] when the value is not 2 hex digits.
    pub fn parse(value: &str) -> Result<Option<ConnectorType>, ParamError> {
        if is_none(value) {
            return Ok(None);
        }
        Ok(Some(ConnectorType(
            hex_exact(value, 2, names::CONNECTOR_TYPE, "value")? as u8,
        )))
    }
}

impl fmt::Display for ConnectorType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02X}", self.0)
    }
}

/// UIBC input category.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UibcInputCategory {
    /// Generic input events.
    Generic,
    /// HID class reports.
    Hidc,
}

/// One `type/path` item of `hidc_cap_list`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct HidcCapability {
    /// Input type (`Keyboard`, `Mouse`, ...).
    pub input_type: String,
    /// Input path (`USB`, `BT`, ...).
    pub path: String,
}

/// UIBC input types of the R1 grammar.
pub const UIBC_INPUT_TYPES: [&str; 8] = [
    "Keyboard",
    "Mouse",
    "SingleTouch",
    "MultiTouch",
    "Joystick",
    "Camera",
    "Gesture",
    "RemoteControl",
];

/// UIBC input paths of the R1 grammar.
pub const UIBC_INPUT_PATHS: [&str; 6] = ["Infrared", "USB", "BT", "Zigbee", "Wi-Fi", "No-SP"];

/// `wfd_uibc_capability` other than `none`.
///
/// `generic` and `hidc` are `None` when the field is omitted (Windows omits
/// `generic_cap_list=` when only HIDC is offered; the strict R1 grammar would reject that, we
/// accept it), and `Some(empty)` when written `none`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UibcCapability {
    /// `input_category_list`; empty is `none`.
    pub categories: Vec<UibcInputCategory>,
    /// `generic_cap_list` input types.
    pub generic: Option<Vec<String>>,
    /// `hidc_cap_list` items.
    pub hidc: Option<Vec<HidcCapability>>,
    /// `port=`: the source's UIBC TCP port, `None` is `none` (as a sink writes it in M3).
    pub port: Option<u16>,
}

fn canonical_of(list: &[&'static str], s: &str) -> Option<&'static str> {
    list.iter().copied().find(|k| k.eq_ignore_ascii_case(s))
}

impl UibcCapability {
    /// Parses a value; `none` gives `None`.
    ///
    /// # Errors
    /// [`ParamError`] when the value is neither `none` nor a capability list, or a list item
    /// is unknown.
    pub fn parse(value: &str) -> Result<Option<UibcCapability>, ParamError> {
        const P: &str = names::UIBC_CAPABILITY;
        if is_none(value) {
            return Ok(None);
        }
        let garbage = || {
            ParamError::new(
                P,
                "value",
                format!(
                    "is neither 'none' nor a capability list ('{}' given)",
                    clip(value)
                ),
            )
        };
        let mut categories = None;
        let mut generic = None;
        let mut hidc = None;
        let mut port = None;
        for segment in value.split(';') {
            let (key, val) = segment.trim().split_once('=').ok_or_else(garbage)?;
            let val = val.trim();
            let list_or_none = |val: &str| -> Vec<String> {
                if is_none(val) {
                    Vec::new()
                } else {
                    split_list(val).map(str::to_owned).collect()
                }
            };
            match key.trim().to_ascii_lowercase().as_str() {
                "input_category_list" if categories.is_none() => {
                    let mut cats = Vec::new();
                    for item in list_or_none(val) {
                        cats.push(match item.to_ascii_uppercase().as_str() {
                            "GENERIC" => UibcInputCategory::Generic,
                            "HIDC" => UibcInputCategory::Hidc,
                            _ => {
                                return Err(ParamError::new(
                                    P,
                                    "input_category_list",
                                    format!(
                                        "items must be GENERIC or HIDC ('{}' given)",
                                        clip(&item)
                                    ),
                                ));
                            }
                        });
                    }
                    categories = Some(cats);
                }
                "generic_cap_list" if generic.is_none() => {
                    let mut items = Vec::new();
                    for item in list_or_none(val) {
                        let known = canonical_of(&UIBC_INPUT_TYPES, &item).ok_or_else(|| {
                            ParamError::new(
                                P,
                                "generic_cap_list",
                                format!("has an unknown input type '{}'", clip(&item)),
                            )
                        })?;
                        items.push(known.to_owned());
                    }
                    generic = Some(items);
                }
                "hidc_cap_list" if hidc.is_none() => {
                    let mut items = Vec::new();
                    for item in list_or_none(val) {
                        let bad = || {
                            ParamError::new(
                                P,
                                "hidc_cap_list",
                                format!("items must be type/path ('{}' given)", clip(&item)),
                            )
                        };
                        let (t, p) = item.split_once('/').ok_or_else(bad)?;
                        let t = canonical_of(&UIBC_INPUT_TYPES, t.trim()).ok_or_else(bad)?;
                        let p = canonical_of(&UIBC_INPUT_PATHS, p.trim()).ok_or_else(bad)?;
                        items.push(HidcCapability {
                            input_type: t.to_owned(),
                            path: p.to_owned(),
                        });
                    }
                    hidc = Some(items);
                }
                "port" if port.is_none() => {
                    port = Some(if is_none(val) {
                        None
                    } else {
                        Some(parse_port(val, P, "port")?)
                    });
                }
                _ => return Err(garbage()),
            }
        }
        let categories = categories.ok_or_else(garbage)?;
        let port =
            port.ok_or_else(|| ParamError::new(P, "port", "is missing (port=none or port=N)"))?;
        Ok(Some(UibcCapability {
            categories,
            generic,
            hidc,
            port,
        }))
    }
}

impl fmt::Display for UibcCapability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn list<T>(items: &[T], one: impl Fn(&T) -> String) -> String {
            if items.is_empty() {
                "none".to_owned()
            } else {
                items.iter().map(one).collect::<Vec<_>>().join(", ")
            }
        }
        let cats = list(&self.categories, |c| {
            match c {
                UibcInputCategory::Generic => "GENERIC",
                UibcInputCategory::Hidc => "HIDC",
            }
            .to_owned()
        });
        write!(f, "input_category_list={cats}")?;
        if let Some(g) = &self.generic {
            write!(f, ";generic_cap_list={}", list(g, Clone::clone))?;
        }
        if let Some(h) = &self.hidc {
            write!(
                f,
                ";hidc_cap_list={}",
                list(h, |c| format!("{}/{}", c.input_type, c.path))
            )?;
        }
        match self.port {
            Some(p) => write!(f, ";port={p}"),
            None => f.write_str(";port=none"),
        }
    }
}

/// `wfd_uibc_setting` (M4/M15).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UibcSetting {
    /// `enable`.
    Enable,
    /// `disable`.
    Disable,
}

impl UibcSetting {
    /// Parses a value.
    ///
    /// # Errors
    /// [`ParamError`] when the value is neither `enable` nor `disable`.
    pub fn parse(value: &str) -> Result<UibcSetting, ParamError> {
        if value.eq_ignore_ascii_case("enable") {
            Ok(UibcSetting::Enable)
        } else if value.eq_ignore_ascii_case("disable") {
            Ok(UibcSetting::Disable)
        } else {
            Err(ParamError::new(
                names::UIBC_SETTING,
                "value",
                format!("must be enable or disable ('{}' given)", clip(value)),
            ))
        }
    }
}

impl fmt::Display for UibcSetting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UibcSetting::Enable => "enable",
            UibcSetting::Disable => "disable",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_uibc_without_generic_list_is_accepted() {
        let v = "input_category_list=HIDC;hidc_cap_list=Keyboard/USB, Mouse/USB, MultiTouch/USB, Gesture/USB, RemoteControl/USB, Joystick/USB;port=none";
        let cap = UibcCapability::parse(v).unwrap().unwrap();
        assert_eq!(cap.generic, None);
        assert_eq!(cap.hidc.as_ref().unwrap().len(), 6);
        assert_eq!(cap.to_string(), v);
    }

    #[test]
    fn uibc_garbage_is_rejected() {
        let err = UibcCapability::parse("none and something completely different").unwrap_err();
        assert!(
            err.problem.contains("neither 'none' nor a capability list"),
            "{err}"
        );
    }

    #[test]
    fn edid_length_must_match_block_count() {
        let err = DisplayEdid::parse("0002 00ff").unwrap_err();
        assert_eq!(err.field, "payload");
        let ok = DisplayEdid::parse("0000 none").unwrap().unwrap();
        assert_eq!(ok.block_count, 0);
    }
}
