//! Driver profiles: what a driver's private UMD-to-KMD formats mean, as its author describes them.
//!
//! The payloads of `MiracastIoControl` (UMD to KMD) and `DxgkCbMiracastSendMessage` (KMD to
//! UMD) are private to a vendor. A few rules concern what such a private message *means*: a
//! "monitor arrived" IOCTL must lead to an arrival indication (R11), must not come from inside
//! Start (R43), lets Plug and Play read the EDID (R15); a "monitor departed" IOCTL from Stop
//! needs a sink that reported the monitor gone (R13) and tells the KMD of a disconnect (R21); a
//! "request an I-frame" IOCTL follows a connection reset (R53). The simulator learns those
//! meanings only from a profile, a small JSON file (`miracast-sim schema --profile` prints its
//! schema; `profiles/reference.json` is the reference drivers' own), and judges every driver,
//! the reference drivers included, from it alone. Without a profile those checks have nothing
//! to judge, and a run says so.
//!
//! The profile describes frames that start with a fixed magic and carry a 32-bit little-endian
//! code at a fixed offset, with an optional 32-bit little-endian payload length, then the
//! payload. Scenario steps that name a payload (`"payload": "QUERY_STATUS"`, `"PING:7"`) are
//! written in the profile's framing (the payload bodies keep the layout `scenarios/README.md`
//! gives); a payload the profile does not name cannot be written, and the scenario is skipped
//! with that reason.

use crate::trace::IoctlMeaning;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::OnceLock;

/// A driver profile file, as written (format version 1).
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawProfile {
    /// Optional pointer to the JSON Schema, for editors; ignored.
    #[serde(rename = "$schema", default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// Format version; must be 1.
    pub version: u32,
    /// Whose drivers these are, for reports.
    pub name: String,
    /// The frames the UMD passes to `MiracastIoControl`.
    pub ioctl: RawFrame,
    /// The frames the KMD passes to `DxgkCbMiracastSendMessage` (optional: only scenarios
    /// that name a kernel message payload need it).
    #[serde(default)]
    pub message: Option<RawFrame>,
}

/// One direction's frame layout and codes.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawFrame {
    /// The bytes every frame starts with, `hex:...` (may be empty: `hex:`).
    pub magic: String,
    /// Byte offset of the 32-bit little-endian code.
    pub code_offset: u32,
    /// Byte offset of the 32-bit little-endian payload length, if the frame has one.
    #[serde(default)]
    pub length_offset: Option<u32>,
    /// Byte offset where the payload starts (the header's size).
    pub payload_offset: u32,
    /// Each operation's name and code. The names `MONITOR_ARRIVED`, `MONITOR_DEPARTED` and
    /// `REQUEST_IFRAME` (IOCTLs) carry the meanings the rules need; scenarios may also name
    /// `QUERY_STATUS` and `SINK_INFO` (IOCTLs) and `PING`, `POWER_OFF_MONITOR`,
    /// `POWER_ON_MONITOR` (kernel messages); other names only label traces.
    pub codes: BTreeMap<String, u32>,
}

/// A validated profile.
#[derive(Debug)]
pub struct DriverProfile {
    /// Whose drivers.
    pub name: String,
    /// The file it came from; `None` for the built-in reference profile.
    pub path: Option<std::path::PathBuf>,
    /// IOCTL frames.
    pub ioctl: Frame,
    /// Kernel message frames.
    pub message: Option<Frame>,
}

/// A validated frame layout.
#[derive(Debug)]
pub struct Frame {
    magic: Vec<u8>,
    code_offset: usize,
    length_offset: Option<usize>,
    payload_offset: usize,
    /// Code to name (names leaked once per profile, so traces can hold them).
    names: BTreeMap<u32, &'static str>,
}

impl Frame {
    /// The operation name of `bytes`, when they are a frame of this layout with a known code.
    pub fn name_of(&self, bytes: &[u8]) -> Option<&'static str> {
        self.split(bytes).map(|(name, _)| name)
    }

    /// The operation name and payload of a frame.
    fn split<'b>(&self, bytes: &'b [u8]) -> Option<(&'static str, &'b [u8])> {
        if bytes.len() < self.payload_offset || !bytes.starts_with(&self.magic) {
            return None;
        }
        let code = u32::from_le_bytes(
            bytes[self.code_offset..self.code_offset + 4]
                .try_into()
                .ok()?,
        );
        let name = self.names.get(&code)?;
        Some((name, &bytes[self.payload_offset..]))
    }

    /// The frame of operation `name` with `payload`, or `None` when the profile has no code
    /// for it.
    pub fn encode(&self, name: &str, payload: &[u8]) -> Option<Vec<u8>> {
        let code = self
            .names
            .iter()
            .find(|(_, n)| **n == name)
            .map(|(c, _)| *c)?;
        let mut out = vec![0u8; self.payload_offset];
        out[..self.magic.len()].copy_from_slice(&self.magic);
        out[self.code_offset..self.code_offset + 4].copy_from_slice(&code.to_le_bytes());
        if let Some(at) = self.length_offset {
            out[at..at + 4].copy_from_slice(&(payload.len() as u32).to_le_bytes());
        }
        out.extend_from_slice(payload);
        Some(out)
    }
}

/// The built-in profile of the reference drivers (`profiles/reference.json`).
pub fn reference() -> &'static DriverProfile {
    static REFERENCE: OnceLock<DriverProfile> = OnceLock::new();
    REFERENCE.get_or_init(|| {
        parse(include_str!("../profiles/reference.json"), None)
            .expect("the shipped reference profile is valid (tested)")
    })
}

impl DriverProfile {
    /// What an IOCTL payload means, when the profile names its code.
    pub fn ioctl_meaning(&self, input: &[u8]) -> Option<IoctlMeaning> {
        self.ioctl.name_of(input).map(IoctlMeaning::from_name)
    }

    /// A scenario's named payload, written by the reference profile, rewritten in this
    /// profile's framing: `Ok(None)` when it is not a named frame of the reference format
    /// (raw bytes pass unchanged), `Err(name)` when this profile has no code for it.
    pub fn translate(&self, reference_bytes: &[u8], ioctl: bool) -> Result<Vec<u8>, String> {
        let (from, to) = if ioctl {
            (&reference().ioctl, Some(&self.ioctl))
        } else {
            (
                reference()
                    .message
                    .as_ref()
                    .expect("the reference profile describes messages"),
                self.message.as_ref(),
            )
        };
        let Some((name, body)) = from.split(reference_bytes) else {
            return Ok(reference_bytes.to_vec());
        };
        to.and_then(|f| f.encode(name, body))
            .ok_or_else(|| name.to_owned())
    }

    /// The shown name (`reference drivers (built in)` or the file).
    pub fn shown(&self) -> String {
        match &self.path {
            Some(p) => format!("{} ({})", self.name, p.display()),
            None => format!("{} (built in)", self.name),
        }
    }
}

/// Loads a profile file once for the life of the process (its names are kept for traces).
///
/// # Errors
/// The file does not read, is not valid JSON for the format, or is inconsistent; the message
/// names the file, the place and the fix.
pub fn load(path: &Path) -> Result<&'static DriverProfile, String> {
    static LOADED: OnceLock<
        std::sync::Mutex<BTreeMap<std::path::PathBuf, &'static DriverProfile>>,
    > = OnceLock::new();
    let loaded = LOADED.get_or_init(Default::default);
    let mut loaded = loaded.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(p) = loaded.get(path) {
        return Ok(p);
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("{}: cannot read the driver profile: {e}", path.display()))?;
    let profile: &'static DriverProfile = Box::leak(Box::new(parse(&text, Some(path))?));
    loaded.insert(path.to_path_buf(), profile);
    Ok(profile)
}

/// Parses and checks a profile.
///
/// # Errors
/// As [`load`].
pub fn parse(text: &str, path: Option<&Path>) -> Result<DriverProfile, String> {
    let shown = path.map_or_else(|| "profile".to_owned(), |p| p.display().to_string());
    let raw: RawProfile = serde_json::from_str(text).map_err(|e| {
        format!(
            "{shown}:{}:{}: {e} (the format is `miracast-sim schema --profile`; profiles/reference.json is an example)",
            e.line(),
            e.column()
        )
    })?;
    if raw.version != 1 {
        return Err(format!(
            "{shown}: version: unsupported profile version {}; write \"version\": 1",
            raw.version
        ));
    }
    if raw.name.trim().is_empty() {
        return Err(format!(
            "{shown}: name: empty; say whose drivers the profile describes"
        ));
    }
    let ioctl = frame(&shown, "ioctl", &raw.ioctl)?;
    let message = raw
        .message
        .as_ref()
        .map(|m| frame(&shown, "message", m))
        .transpose()?;
    Ok(DriverProfile {
        name: raw.name,
        path: path.map(Path::to_path_buf),
        ioctl,
        message,
    })
}

fn frame(shown: &str, at: &str, raw: &RawFrame) -> Result<Frame, String> {
    let err =
        |field: &str, what: String, fix: &str| format!("{shown}: {at}.{field}: {what}; {fix}");
    let hex = raw.magic.strip_prefix("hex:").ok_or_else(|| {
        err(
            "magic",
            format!("`{}` is not `hex:<bytes>`", raw.magic),
            "write the bytes every frame starts with as hex, e.g. \"hex:4d43494f\"",
        )
    })?;
    let magic = decode_hex(hex).ok_or_else(|| {
        err(
            "magic",
            format!("`{hex}` is not hex"),
            "use an even number of hex digits (0-9, a-f)",
        )
    })?;
    let payload = raw.payload_offset as usize;
    let code = raw.code_offset as usize;
    if code + 4 > payload || code < magic.len() {
        return Err(err(
            "code_offset",
            format!(
                "the 4-byte code at {code} must lie after the {}-byte magic and before payload_offset {payload}",
                magic.len()
            ),
            "give the offset of the code inside the header",
        ));
    }
    if let Some(length) = raw.length_offset {
        let length = length as usize;
        if length + 4 > payload || length < magic.len() || length.abs_diff(code) < 4 {
            return Err(err(
                "length_offset",
                format!(
                    "the 4-byte length at {length} overlaps the magic, the code or the payload"
                ),
                "give the offset of the length inside the header, or leave it out",
            ));
        }
    }
    if raw.codes.is_empty() {
        return Err(err(
            "codes",
            "no operation named".to_owned(),
            "name at least the operations the rules need (MONITOR_ARRIVED, MONITOR_DEPARTED, REQUEST_IFRAME)",
        ));
    }
    let mut names: BTreeMap<u32, &'static str> = BTreeMap::new();
    for (name, code) in &raw.codes {
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        {
            return Err(err(
                "codes",
                format!("`{name}` is not an operation name"),
                "write names in capitals with underscores, e.g. MONITOR_ARRIVED",
            ));
        }
        if let Some(other) = names.get(code) {
            return Err(err(
                "codes",
                format!("code {code} is given to both {other} and {name}"),
                "give each operation its own code",
            ));
        }
        names.insert(*code, Box::leak(name.clone().into_boxed_str()));
    }
    Ok(Frame {
        magic,
        code_offset: code,
        length_offset: raw.length_offset.map(|l| l as usize),
        payload_offset: payload,
        names,
    })
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// The JSON Schema of the profile format (committed as `profiles/schema.json`).
pub fn schema() -> String {
    let schema = schemars::schema_for!(RawProfile);
    let mut text = serde_json::to_string_pretty(&schema).expect("a schema serializes");
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reference_profile_names_the_reference_protocol() {
        use crate::model::protocol::{IoctlRequest, KmdMessage};
        let p = reference();
        let departed = IoctlRequest::MonitorDeparted.encode();
        assert_eq!(
            p.ioctl_meaning(&departed),
            Some(IoctlMeaning::MonitorDeparted)
        );
        let ping = KmdMessage::Ping {
            seq: 7,
            data: vec![],
        }
        .encode();
        assert_eq!(p.translate(&ping, false).unwrap(), ping);
        assert_eq!(p.ioctl_meaning(b"garbage"), None);
    }

    #[test]
    fn a_profile_rewrites_named_payloads_and_rejects_clashes() {
        use crate::model::protocol::IoctlRequest;
        let p = parse(
            r#"{ "version": 1, "name": "v", "ioctl": { "magic": "hex:5644", "code_offset": 4, "payload_offset": 8, "codes": { "MONITOR_DEPARTED": 66 } } }"#,
            None,
        )
        .unwrap();
        let out = p
            .translate(&IoctlRequest::MonitorDeparted.encode(), true)
            .unwrap();
        assert_eq!(out, [0x56, 0x44, 0, 0, 66, 0, 0, 0]);
        assert_eq!(p.ioctl_meaning(&out), Some(IoctlMeaning::MonitorDeparted));
        assert_eq!(
            p.translate(&IoctlRequest::QueryStatus.encode(), true),
            Err("QUERY_STATUS".to_owned())
        );
        let clash = parse(
            r#"{ "version": 1, "name": "v", "ioctl": { "magic": "hex:", "code_offset": 0, "payload_offset": 4, "codes": { "A": 1, "B": 1 } } }"#,
            None,
        )
        .unwrap_err();
        assert!(
            clash.contains("ioctl.codes: code 1 is given to both A and B"),
            "{clash}"
        );
        let overlap = parse(
            r#"{ "version": 1, "name": "v", "ioctl": { "magic": "hex:41424344", "code_offset": 2, "payload_offset": 8, "codes": { "A": 1 } } }"#,
            None,
        )
        .unwrap_err();
        assert!(overlap.contains("ioctl.code_offset"), "{overlap}");
        let unknown = parse(
            r#"{ "version": 1, "name": "v", "ioctl": { "magik": "" } }"#,
            None,
        )
        .unwrap_err();
        assert!(unknown.contains("unknown field `magik`"), "{unknown}");
    }
}
