//! The catalogue of every DDI and callback of the Miracast flow, by its documented name.
//!
//! Human-facing output (traces, findings, scenario steps) uses these names so that they can be
//! looked up in Microsoft's documentation and lined up with the HLK's `WirelessDisplay.etl`.

use std::fmt;
use std::str::FromStr;

/// Who calls whom.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub enum Direction {
    /// dxgkrnl calls the display miniport.
    OsToKmd,
    /// The display miniport calls dxgkrnl.
    KmdToOs,
    /// The Miracast user-mode host calls the Miracast UMD.
    OsToUmd,
    /// The Miracast UMD calls the user-mode host (`MIRACAST_CALLBACKS`).
    UmdToOs,
}

macro_rules! ddis {
    ($( $(#[$doc:meta])* $name:ident => $dir:ident, $sig:literal ),+ $(,)?) => {
        /// A DDI or callback of the Miracast flow, named as documented.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[allow(missing_docs)]
        pub enum Ddi { $( $(#[$doc])* $name ),+ }

        impl Ddi {
            /// Every DDI and callback, in catalogue order.
            pub const ALL: &'static [Ddi] = &[ $( Ddi::$name ),+ ];

            /// The documented name, e.g. `DxgkDdiMiracastCreateContext`.
            pub fn name(self) -> &'static str {
                match self { $( Ddi::$name => stringify!($name) ),+ }
            }

            /// Who calls whom.
            pub fn direction(self) -> Direction {
                match self { $( Ddi::$name => Direction::$dir ),+ }
            }

            /// The header typedef (or export) name.
            pub fn c_type(self) -> &'static str {
                match self { $( Ddi::$name => $sig ),+ }
            }
        }
    };
}

ddis! {
    DxgkDdiAddDevice => OsToKmd, "DXGKDDI_ADD_DEVICE",
    DxgkDdiStartDevice => OsToKmd, "DXGKDDI_START_DEVICE",
    DxgkDdiRemoveDevice => OsToKmd, "DXGKDDI_REMOVE_DEVICE",
    DxgkDdiQueryInterface => OsToKmd, "DXGKDDI_QUERY_INTERFACE",
    DxgkDdiQueryChildRelations => OsToKmd, "DXGKDDI_QUERY_CHILD_RELATIONS",
    DxgkDdiQueryChildStatus => OsToKmd, "DXGKDDI_QUERY_CHILD_STATUS",
    DxgkDdiQueryDeviceDescriptor => OsToKmd, "DXGKDDI_QUERY_DEVICE_DESCRIPTOR",
    DxgkDdiCommitVidPn => OsToKmd, "DXGKDDI_COMMITVIDPN",
    DxgkDdiSetPowerState => OsToKmd, "DXGKDDI_SET_POWER_STATE",
    /// Used by the simulator for the test escape `D3DKMT_ESCAPE_MIRACAST_DISPLAY_REQUEST` (20,
    /// "test only"): the scenario asks the KMD to send a message to the UMD.
    DxgkDdiEscape => OsToKmd, "DXGKDDI_ESCAPE",
    DxgkDdiCreateContext => OsToKmd, "DXGKDDI_CREATECONTEXT",
    DxgkDdiDestroyContext => OsToKmd, "DXGKDDI_DESTROYCONTEXT",
    DxgkDdiInterruptRoutine => OsToKmd, "DXGKDDI_INTERRUPT_ROUTINE",
    DxgkDdiDpcRoutine => OsToKmd, "DXGKDDI_DPC_ROUTINE",
    DxgkDdiMiracastQueryCaps => OsToKmd, "DXGKDDI_MIRACAST_QUERY_CAPS",
    DxgkDdiMiracastCreateContext => OsToKmd, "DXGKDDI_MIRACAST_CREATE_CONTEXT",
    DxgkDdiMiracastIoControl => OsToKmd, "DXGKDDI_MIRACAST_HANDLE_IO_CONTROL",
    DxgkDdiMiracastDestroyContext => OsToKmd, "DXGKDDI_MIRACAST_DESTROY_CONTEXT",
    /// The KMD's completion routine passed to `DxgkCbMiracastSendMessage` (called by the OS).
    DxgkCbMiracastSendMessageCallback => OsToKmd, "DXGKCB_MIRACAST_SEND_MESSAGE_CALLBACK",
    DxgkCbMiracastSendMessage => KmdToOs, "DXGKCB_MIRACAST_SEND_MESSAGE",
    DxgkCbReportChunkInfo => KmdToOs, "DXGKCB_MIRACAST_REPORT_CHUNK_INFO",
    DxgkCbIndicateChildStatus => KmdToOs, "DXGKCB_INDICATE_CHILD_STATUS",
    DxgkCbNotifyInterrupt => KmdToOs, "DXGKCB_NOTIFY_INTERRUPT",
    DxgkCbNotifyDpc => KmdToOs, "DXGKCB_NOTIFY_DPC",
    QueryMiracastDriverInterface => OsToUmd, "QUERY_MIRACAST_DRIVER_INTERFACE",
    CreateMiracastContext => OsToUmd, "PFN_CREATE_MIRACAST_CONTEXT",
    DestroyMiracastContext => OsToUmd, "PFN_DESTROY_MIRACAST_CONTEXT",
    StartMiracastSession => OsToUmd, "PFN_START_MIRACAST_SESSION",
    StopMiracastSession => OsToUmd, "PFN_STOP_MIRACAST_SESSION",
    HandleKernelModeMessage => OsToUmd, "PFN_HANDLE_KMD_MESSAGE",
    /// The UMD's `pfnDataRateNotify`, registered through `RegisterForDataRateNotifications`.
    PfnDataRateNotify => OsToUmd, "PFN_DATARATE_NOTIFICATION",
    ReportSessionStatus => UmdToOs, "PFN_REPORT_SESSION_STATUS",
    MiracastIoControl => UmdToOs, "PFN_MIRACAST_IO_CONTROL",
    ReportStatistic => UmdToOs, "PFN_REPORT_STATISTIC",
    GetNextChunkData => UmdToOs, "PFN_GET_NEXT_CHUNK_DATA",
    RegisterForDataRateNotifications => UmdToOs, "PFN_REGISTER_DATARATE_NOTIFICATIONS",
}

impl Ddi {
    /// True for the three KMD DDIs of the "Miracast class" (R67); `DxgkDdiMiracastIoControl`
    /// belongs to it only with `HardwareAccess == FALSE`.
    pub fn is_miracast_class(self) -> bool {
        matches!(
            self,
            Ddi::DxgkDdiMiracastCreateContext
                | Ddi::DxgkDdiMiracastDestroyContext
                | Ddi::DxgkDdiMiracastIoControl
        )
    }

    /// True for the four UMD functions the OS serializes (R37).
    pub fn is_umd_serialized(self) -> bool {
        matches!(
            self,
            Ddi::CreateMiracastContext
                | Ddi::DestroyMiracastContext
                | Ddi::StartMiracastSession
                | Ddi::StopMiracastSession
        )
    }

    /// The closest documented name, for "did you mean" hints.
    pub fn closest_name(text: &str) -> Option<&'static str> {
        Ddi::ALL
            .iter()
            .map(|d| (strsim::jaro_winkler(text, d.name()), d.name()))
            .filter(|(score, _)| *score > 0.75)
            .max_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, n)| n)
    }
}

impl fmt::Display for Ddi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a text is not a DDI name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown DDI `{text}`{}", match .suggestion { Some(s) => format!(" (did you mean {s}?)"), None => String::new() })]
pub struct ParseDdiError {
    /// The text that did not parse.
    pub text: String,
    /// The nearest documented name.
    pub suggestion: Option<&'static str>,
}

impl FromStr for Ddi {
    type Err = ParseDdiError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Ddi::ALL
            .iter()
            .copied()
            .find(|d| d.name() == text)
            .ok_or_else(|| ParseDdiError {
                text: text.to_owned(),
                suggestion: Ddi::closest_name(text),
            })
    }
}

impl serde::Serialize for Ddi {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> serde::Deserialize<'de> for Ddi {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl schemars::JsonSchema for Ddi {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Ddi".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let names: Vec<&str> = Ddi::ALL.iter().map(|d| d.name()).collect();
        schemars::json_schema!({ "description": "A DDI or callback by its documented name.", "type": "string", "enum": names })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_suggest() {
        for d in Ddi::ALL {
            assert_eq!(d.name().parse::<Ddi>().unwrap(), *d);
        }
        let err = "DxgkDdiMiracastCreateContxt".parse::<Ddi>().unwrap_err();
        assert_eq!(err.suggestion, Some("DxgkDdiMiracastCreateContext"));
    }
}
