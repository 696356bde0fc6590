//! `NtStatus`: the NTSTATUS codes of the Miracast DDIs, as data to compare exactly.
//!
//! Several codes that the Miracast pages use are *not* errors under `NT_SUCCESS`
//! (`STATUS_PENDING`, `STATUS_TIMEOUT`, `STATUS_WAIT_1..3`, `STATUS_GRAPHICS_DRIVER_MISMATCH`),
//! so the simulator compares exact values wherever a page names one exact code (rule R73).
//! [`NtStatus::nt_success`] exists for the few places where Windows itself uses `NT_SUCCESS`,
//! and its doc says so.

use std::fmt;
use std::str::FromStr;

/// An NTSTATUS value. Transparent over `i32`, like the C type.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(transparent)]
#[must_use = "an NTSTATUS is the outcome of a call and must be compared"]
pub struct NtStatus(pub i32);

macro_rules! statuses {
    ($( $(#[$doc:meta])* $name:ident = $value:literal ),+ $(,)?) => {
        impl NtStatus {
            $( $(#[$doc])* pub const $name: NtStatus = NtStatus($value as u32 as i32); )+
        }
        /// Every named code, in declaration order, with its documented name.
        const NAMED: &[(&str, NtStatus)] = &[ $( (stringify!($name), NtStatus::$name) ),+ ];
    };
}

statuses! {
    /// 0x00000000. Mirrors `STATUS_SUCCESS` (ntstatus.h).
    STATUS_SUCCESS = 0x0000_0000,
    /// 0x00000001: extra wait event 1 was signalled (`GetNextChunkData`).
    STATUS_WAIT_1 = 0x0000_0001,
    /// 0x00000002: extra wait event 2 was signalled (`GetNextChunkData`).
    STATUS_WAIT_2 = 0x0000_0002,
    /// 0x00000003: extra wait event 3 was signalled (`GetNextChunkData`).
    STATUS_WAIT_3 = 0x0000_0003,
    /// 0x00000102, success severity: nothing arrived in time (`GetNextChunkData`).
    STATUS_TIMEOUT = 0x0000_0102,
    /// 0x00000103, success severity: `DxgkCbMiracastSendMessage` accepted the message.
    STATUS_PENDING = 0x0000_0103,
    /// 0x401E0117, informational severity (passes `NT_SUCCESS`): the KMD and the calling
    /// Direct3D UMD are incompatible (`DxgkDdiCreateContext`).
    STATUS_GRAPHICS_DRIVER_MISMATCH = 0x401E_0117,
    /// 0x80000005, warning severity. Listed for contrast; no Miracast page uses it.
    STATUS_BUFFER_OVERFLOW = 0x8000_0005,
    /// 0xC0000001: generic failure.
    STATUS_UNSUCCESSFUL = 0xC000_0001,
    /// 0xC0000002: generic "not implemented".
    STATUS_NOT_IMPLEMENTED = 0xC000_0002,
    /// 0xC0000008: a stale or foreign handle (simulator choice for calls with stale handles, G6).
    STATUS_INVALID_HANDLE = 0xC000_0008,
    /// 0xC000000D: bad arguments.
    STATUS_INVALID_PARAMETER = 0xC000_000D,
    /// 0xC0000017: out of memory (`DxgkDdiCreateContext`, chunk-queue overflow).
    STATUS_NO_MEMORY = 0xC000_0017,
    /// 0xC0000023: a chunk is waiting but does not fit (`GetNextChunkData`).
    STATUS_BUFFER_TOO_SMALL = 0xC000_0023,
    /// 0xC000009A: generic resource shortage; *not* the code `StartMiracastSession` must use.
    STATUS_INSUFFICIENT_RESOURCES = 0xC000_009A,
    /// 0xC00000AB: the connected session is gone (`GetNextChunkData`).
    STATUS_INSTANCE_NOT_AVAILABLE = 0xC000_00AB,
    /// 0xC00000BB: not supported (`DxgkDdiQueryInterface`, `RegisterForDataRateNotifications`).
    STATUS_NOT_SUPPORTED = 0xC000_00BB,
    /// 0xC0000120: cancelled. The simulator's status for dropped kernel-to-user messages (G6).
    STATUS_CANCELLED = 0xC000_0120,
    /// 0xC0000184: the simulator's status for a call in the wrong phase (G6).
    STATUS_INVALID_DEVICE_STATE = 0xC000_0184,
    /// 0xC000020D: chunk packets ran out and were discarded (`GetNextChunkData`).
    STATUS_CONNECTION_RESET = 0xC000_020D,
    /// 0xC0000468: the suggested bit rate cannot carry a 1024x768 mode (`StartMiracastSession`).
    STATUS_DEVICE_INSUFFICIENT_RESOURCES = 0xC000_0468,
    /// 0xC0000708: hardware needed for a session is busy (`DxgkDdiMiracastCreateContext`).
    STATUS_RESOURCE_IN_USE = 0xC000_0708,
}

impl NtStatus {
    /// `STATUS_WAIT_0` is the same value as `STATUS_SUCCESS`; `GetNextChunkData` callers tell
    /// them apart by the returned size.
    pub const STATUS_WAIT_0: NtStatus = NtStatus::STATUS_SUCCESS;

    /// `NT_SUCCESS(status)`: true for success, informational and the non-error "pending" or
    /// "timeout" codes. Use it only where Windows itself does (for example, the OS deciding
    /// whether `DxgkDdiCreateContext` produced a context); everywhere a page names one exact
    /// code, compare with `==` (R73).
    pub const fn nt_success(self) -> bool {
        self.0 >= 0
    }

    /// The value as the unsigned hex that the documentation prints.
    pub const fn as_u32(self) -> u32 {
        self.0 as u32
    }

    /// The documented name, if this value has one.
    pub fn name(self) -> Option<&'static str> {
        NAMED.iter().find(|(_, s)| *s == self).map(|(n, _)| *n)
    }

    /// Every documented name (aliases included), for validation messages and schemas.
    pub fn all_names() -> impl Iterator<Item = &'static str> {
        NAMED
            .iter()
            .map(|(n, _)| *n)
            .chain(std::iter::once("STATUS_WAIT_0"))
    }

    /// The closest documented name to `text`, for "did you mean" hints.
    pub fn closest_name(text: &str) -> Option<&'static str> {
        let upper = text.to_ascii_uppercase();
        Self::all_names()
            .map(|n| (strsim::jaro_winkler(&upper, n), n))
            .filter(|(score, _)| *score > 0.8)
            .max_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, n)| n)
    }
}

impl fmt::Display for NtStatus {
    /// `STATUS_PENDING (0x00000103)`, or just the hex for an unnamed value.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "{name} (0x{:08X})", self.as_u32()),
            None => write!(f, "0x{:08X}", self.as_u32()),
        }
    }
}

impl fmt::Debug for NtStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Why a text is not an NTSTATUS.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown status `{text}`{}", match .suggestion { Some(s) => format!(" (did you mean {s}?)"), None => String::from(" (use a documented name such as STATUS_PENDING, or hex such as 0xC0000468)") })]
pub struct ParseStatusError {
    /// The text that did not parse.
    pub text: String,
    /// The nearest documented name, when one is close.
    pub suggestion: Option<&'static str>,
}

impl FromStr for NtStatus {
    type Err = ParseStatusError;

    /// Parses a documented name (`STATUS_PENDING`, `STATUS_WAIT_0`) or hex (`0xC0000468`).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let trimmed = text.trim();
        if trimmed == "STATUS_WAIT_0" {
            return Ok(NtStatus::STATUS_WAIT_0);
        }
        if let Some((_, status)) = NAMED.iter().find(|(n, _)| *n == trimmed) {
            return Ok(*status);
        }
        if let Some(hex) = trimmed
            .strip_prefix("0x")
            .or_else(|| trimmed.strip_prefix("0X"))
            && let Ok(value) = u32::from_str_radix(&hex.replace('_', ""), 16)
        {
            return Ok(NtStatus(value as i32));
        }
        Err(ParseStatusError {
            text: trimmed.to_owned(),
            suggestion: NtStatus::closest_name(trimmed),
        })
    }
}

impl serde::Serialize for NtStatus {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.name() {
            Some(name) => serializer.serialize_str(name),
            None => serializer.serialize_str(&format!("0x{:08X}", self.as_u32())),
        }
    }
}

impl<'de> serde::Deserialize<'de> for NtStatus {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl schemars::JsonSchema for NtStatus {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "NtStatus".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let names: Vec<&str> = NtStatus::all_names().collect();
        schemars::json_schema!({
            "description": "An NTSTATUS by its documented name, or as hex (0xC0000468).",
            "anyOf": [
                { "type": "string", "enum": names },
                { "type": "string", "pattern": "^0[xX][0-9A-Fa-f]{1,8}$" }
            ]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_the_code_and_its_hex() {
        assert_eq!(
            NtStatus::STATUS_DEVICE_INSUFFICIENT_RESOURCES.to_string(),
            "STATUS_DEVICE_INSUFFICIENT_RESOURCES (0xC0000468)"
        );
        assert_eq!(NtStatus(0x1234).to_string(), "0x00001234");
    }

    #[test]
    fn parses_names_aliases_and_hex() {
        assert_eq!(
            "STATUS_PENDING".parse::<NtStatus>().unwrap(),
            NtStatus::STATUS_PENDING
        );
        assert_eq!(
            "STATUS_WAIT_0".parse::<NtStatus>().unwrap(),
            NtStatus::STATUS_SUCCESS
        );
        assert_eq!(
            "0xC0000708".parse::<NtStatus>().unwrap(),
            NtStatus::STATUS_RESOURCE_IN_USE
        );
        let err = "STATUS_PENDNG".parse::<NtStatus>().unwrap_err();
        assert_eq!(err.suggestion, Some("STATUS_PENDING"));
        assert!(err.to_string().contains("did you mean STATUS_PENDING?"));
    }

    #[test]
    fn non_error_codes_pass_nt_success_but_are_distinct() {
        for s in [
            NtStatus::STATUS_PENDING,
            NtStatus::STATUS_TIMEOUT,
            NtStatus::STATUS_WAIT_3,
            NtStatus::STATUS_GRAPHICS_DRIVER_MISMATCH,
        ] {
            assert!(s.nt_success());
            assert_ne!(s, NtStatus::STATUS_SUCCESS);
        }
        assert!(!NtStatus::STATUS_CONNECTION_RESET.nt_success());
        assert_eq!(
            NtStatus::STATUS_GRAPHICS_DRIVER_MISMATCH.as_u32(),
            0x401E_0117
        );
    }

    #[test]
    fn serde_uses_names() {
        let json = serde_json::to_string(&NtStatus::STATUS_PENDING).unwrap();
        assert_eq!(json, "\"STATUS_PENDING\"");
        let back: NtStatus = serde_json::from_str("\"0xC000020D\"").unwrap();
        assert_eq!(back, NtStatus::STATUS_CONNECTION_RESET);
    }
}
