//! The scenario file exactly as written in JSON (format version 1).
//!
//! Every struct denies unknown fields, steps are an internally tagged enum on `"op"`, and
//! nothing here checks meaning: `resolve` turns these into a validated
//! [`super::Scenario`]. The JSON Schema (`miracast-sim schema`, `scenarios/schema.json`) is
//! generated from these types, so their doc comments are the field reference.

use crate::ddi::{ChunkType, SessionPhase};
use crate::model::{KmdConfig, Knobs, UmdConfig};
use crate::os::OsConfig;
use crate::rules::RuleId;
use crate::status::NtStatus;
use crate::wfd::SinkConfig;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A scenario file: what the OS and the sink do, and what must come of it.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawScenario {
    /// Optional pointer to the JSON Schema, for editors; ignored by the simulator.
    #[serde(rename = "$schema", default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// Format version; must be 1.
    pub version: u32,
    /// Short unique name, shown in reports (`create-context-busy`).
    pub name: String,
    /// What the scenario checks and why it passes, for the driver author reading it.
    #[serde(default)]
    pub description: String,
    /// What kind of scenario this is: `conformance` (what any correct driver must show; it
    /// passes on every correct driver, reference model or binary, so it uses no bug knob, no
    /// OS-model knob, no reference-driver setting and expects no violation) or `self-test` (it
    /// proves a check fires: bug knobs of the reference drivers, OS-model knobs, settings only
    /// the reference drivers honour). A file under a `conformance/` folder must say
    /// `conformance`, one under `self-test/` must say `self-test`; elsewhere it is optional.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<ScenarioKind>,
    /// HLK job names (`Wireless Display Verify Sleep`) and rule ids (`R25`) this scenario covers;
    /// `miracast-sim run --filter` matches them.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Self-test scenarios only: behaviour of the reference drivers beyond the documented
    /// contract that the expectation relies on (how much pool a GPU context costs, that the UMD
    /// reports statistics, the choice points of a pinned seed). On a driver binary for that side
    /// the scenario is skipped with this sentence as the reason, never failed for it.
    #[serde(default, skip_serializing_if = "RawReliesOn::is_empty")]
    pub relies_on: RawReliesOn,
    /// The adapter, sink, driver under test and OS.
    #[serde(default)]
    pub setup: RawSetup,
    /// What the OS and the sink do, in order.
    pub steps: Vec<RawStep>,
    /// What must come of it.
    #[serde(default)]
    pub expect: RawExpect,
}

/// What a self-test relies on of each reference driver (`relies_on`), one sentence each.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawReliesOn {
    /// What the expectation needs the reference UMD to do (skipped on a UMD binary).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub umd: Option<String>,
    /// What the expectation needs the reference KMD to do (skipped on a KMD binary).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kmd: Option<String>,
}

impl RawReliesOn {
    /// Neither side named.
    pub fn is_empty(&self) -> bool {
        self.umd.is_none() && self.kmd.is_none()
    }
}

/// What kind of scenario a file is (`kind`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ScenarioKind {
    /// What any correct driver must show, judged through the documented interfaces only.
    Conformance,
    /// Proves a check fires (bug knobs, OS-model knobs, reference-driver settings).
    SelfTest,
}

impl ScenarioKind {
    /// `conformance` or `self-test`, as written in files and folder names.
    pub fn name(self) -> &'static str {
        match self {
            ScenarioKind::Conformance => "conformance",
            ScenarioKind::SelfTest => "self-test",
        }
    }
}

/// The world a scenario runs in.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawSetup {
    /// The display adapter as the reference KMD presents it: Miracast support, the Miracast
    /// target id, other targets, caps, a busy encoder.
    #[serde(default)]
    pub adapter: KmdConfig,
    /// The Wi-Fi Display sink at the far end of the RTSP connection: personality, capability
    /// overrides (monitor, EDID, HDCP, audio) and faults.
    #[serde(default)]
    pub sink: SinkConfig,
    /// The driver under test.
    #[serde(default)]
    pub driver: RawDriver,
    /// The simulated operating system.
    #[serde(default)]
    pub os: OsConfig,
    /// Seed of the scheduler's random choices; `--seed` overrides it; default 0.
    #[serde(default)]
    pub seed: Option<u64>,
}

/// Which driver runs and how.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawDriver {
    /// `"model"` (the bundled reference drivers) or `"real:PATH"` (a driver binary through the
    /// C ABI; needs a build with the `real-driver` feature).
    #[serde(default = "default_backend")]
    pub backend: String,
    /// Bug knobs of the reference drivers; each breaks the rules its doc names.
    #[serde(default)]
    pub knobs: Knobs,
    /// Configuration of the reference Miracast UMD.
    #[serde(default)]
    pub umd: UmdConfig,
}

fn default_backend() -> String {
    "model".to_owned()
}

impl Default for RawDriver {
    fn default() -> Self {
        RawDriver {
            backend: default_backend(),
            knobs: Knobs::default(),
            umd: UmdConfig::default(),
        }
    }
}

/// One step. `op` names the DDI the OS calls (documented name) or the event that happens.
/// Every step may carry `id` (a name for reports and expectations) and `expect_status` (the
/// exact NTSTATUS the step's DDI must return).
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "op", deny_unknown_fields)]
pub enum RawStep {
    /// Adapter start: `DxgkDdiQueryInterface` (Miracast), `DxgkDdiStartDevice`,
    /// `DxgkDdiMiracastQueryCaps`, `DxgkDdiQueryChildRelations`, `DxgkDdiQueryChildStatus`.
    AdapterBringUp {
        /// Step name.
        #[serde(default)]
        id: Option<String>,
        /// Exact status the bring-up must end with.
        #[serde(default)]
        expect_status: Option<NtStatus>,
    },
    /// Adapter stop: `DxgkDdiRemoveDevice`, after which the OS unloads the KMD. Every context
    /// must be gone by then; for a KMD on the kernel routines, pool still allocated is a leak
    /// (R72, as Driver Verifier's pool tracking reports it at unload). The last step.
    AdapterRemove {
        /// Step name.
        #[serde(default)]
        id: Option<String>,
        /// Exact status `DxgkDdiRemoveDevice` must return.
        #[serde(default)]
        expect_status: Option<NtStatus>,
    },
    /// `DxgkDdiMiracastCreateContext`: the KMD's Miracast context and TargetId.
    DxgkDdiMiracastCreateContext {
        /// Step name.
        #[serde(default)]
        id: Option<String>,
        /// Exact status the DDI must return.
        #[serde(default)]
        expect_status: Option<NtStatus>,
    },
    /// The OS loads the Miracast UMD and calls `QueryMiracastDriverInterface`.
    QueryMiracastDriverInterface {
        /// Step name.
        #[serde(default)]
        id: Option<String>,
        /// Exact status the export must return.
        #[serde(default)]
        expect_status: Option<NtStatus>,
    },
    /// `CreateMiracastContext`.
    CreateMiracastContext {
        /// Step name.
        #[serde(default)]
        id: Option<String>,
        /// Exact status the function must return.
        #[serde(default)]
        expect_status: Option<NtStatus>,
    },
    /// `StartMiracastSession` over a new RTSP connection to the sink.
    StartMiracastSession {
        /// Step name.
        #[serde(default)]
        id: Option<String>,
        /// Exact status the function must return.
        #[serde(default)]
        expect_status: Option<NtStatus>,
    },
    /// `StopMiracastSession` (with the OS's stop budget); the OS closes the RTSP socket after.
    StopMiracastSession {
        /// Step name.
        #[serde(default)]
        id: Option<String>,
    },
    /// `DestroyMiracastContext` (stops a started session first).
    DestroyMiracastContext {
        /// Step name.
        #[serde(default)]
        id: Option<String>,
    },
    /// `DxgkDdiMiracastDestroyContext`.
    DxgkDdiMiracastDestroyContext {
        /// Step name.
        #[serde(default)]
        id: Option<String>,
    },
    /// The whole connection: `DxgkDdiMiracastCreateContext`, `QueryMiracastDriverInterface`
    /// (first time), `CreateMiracastContext`, `StartMiracastSession`.
    Connect {
        /// Step name.
        #[serde(default)]
        id: Option<String>,
        /// Exact status of the first call that does not return `STATUS_SUCCESS` (or success).
        #[serde(default)]
        expect_status: Option<NtStatus>,
    },
    /// The whole teardown: `StopMiracastSession`, `DestroyMiracastContext`,
    /// `DxgkDdiMiracastDestroyContext`.
    Disconnect {
        /// Step name.
        #[serde(default)]
        id: Option<String>,
    },
    /// The test escape (`D3DKMT_ESCAPE_MIRACAST_DISPLAY_REQUEST`) asking the KMD to send a
    /// message to the UMD with `DxgkCbMiracastSendMessage`.
    KmdSendMessage {
        /// Step name.
        #[serde(default)]
        id: Option<String>,
        /// Exact status of `DxgkDdiEscape`.
        #[serde(default)]
        expect_status: Option<NtStatus>,
        /// The message: `PING`, `PING:7`, `POWER_OFF_MONITOR`, `POWER_ON_MONITOR` (the reference
        /// drivers' protocol), `hex:4d434b4d...` (raw bytes), or bytes by size and pattern
        /// (`{"size": 1048576, "fill": "counter"}`).
        #[serde(default)]
        payload: Option<RawPayload>,
        /// `OutputBufferSize` the UMD may answer into; default 64.
        #[serde(default)]
        output_size: Option<u32>,
    },
    /// The test request telling the KMD that the monitor behind the Miracast target is gone, as
    /// its hardware or firmware would (not through the UMD): the KMD reports the departure.
    KmdMonitorDeparts {
        /// Step name.
        #[serde(default)]
        id: Option<String>,
        /// Exact status of the request: `STATUS_SUCCESS` when the KMD reported a departure,
        /// `STATUS_INVALID_DEVICE_STATE` when no monitor was connected.
        #[serde(default)]
        expect_status: Option<NtStatus>,
    },
    /// `MiracastIoControl` issued by a UMD thread of its own (named `umd-ioctl-...`), not from
    /// inside a UMD function: during start it waits, after stop it fails (R42, R44).
    MiracastIoControl {
        /// Step name.
        #[serde(default)]
        id: Option<String>,
        /// Exact status `MiracastIoControl` must return.
        #[serde(default)]
        expect_status: Option<NtStatus>,
        /// `HardwareAccess`: true runs the KMD at Level 3.
        #[serde(default)]
        hardware_access: bool,
        /// The request: `QUERY_STATUS`, `REQUEST_IFRAME`, `MONITOR_DEPARTED` (the reference
        /// drivers' protocol), `hex:...`, or bytes by size and pattern (`{"size": 4096, "fill":
        /// "zero"}`); default `QUERY_STATUS`.
        #[serde(default)]
        payload: Option<RawPayload>,
        /// `OutputBufferSize`; default 16.
        #[serde(default)]
        output_size: Option<u32>,
    },
    /// `DxgkDdiCreateContext` (GPU contexts, not Miracast) `count` times.
    DxgkDdiCreateContext {
        /// Step name.
        #[serde(default)]
        id: Option<String>,
        /// Exact status of the first refusal, or `STATUS_SUCCESS` when all were created.
        #[serde(default)]
        expect_status: Option<NtStatus>,
        /// How many contexts; default 1.
        #[serde(default)]
        count: Option<u32>,
        /// The calling D3D UMD is incompatible with the KMD (`STATUS_GRAPHICS_DRIVER_MISMATCH`).
        #[serde(default)]
        incompatible_umd: bool,
    },
    /// `DxgkDdiDestroyContext` for every GPU context alive.
    DxgkDdiDestroyContext {
        /// Step name.
        #[serde(default)]
        id: Option<String>,
        /// Exact status of the first failure, or `STATUS_SUCCESS`.
        #[serde(default)]
        expect_status: Option<NtStatus>,
    },
    /// `DxgkDdiCommitVidPn` for the Miracast target.
    DxgkDdiCommitVidPn {
        /// Step name.
        #[serde(default)]
        id: Option<String>,
        /// Exact status of the commit.
        #[serde(default)]
        expect_status: Option<NtStatus>,
        /// True powers the Miracast monitor off (the KMD must tell the UMD, R31); false on.
        #[serde(default)]
        monitor_power_off: bool,
    },
    /// The encoder finishes chunks: one `DxgkDdiInterruptRoutine` per chunk (and the DPC the
    /// KMD asks for).
    EncodeChunks {
        /// Step name.
        #[serde(default)]
        id: Option<String>,
        /// Desktop frames; default 1.
        #[serde(default)]
        frames: Option<u32>,
        /// Slices per frame for `ENCODE_COMPLETE`; the last has PartNumber 0; default 1.
        #[serde(default)]
        parts: Option<u32>,
        /// Chunk types per frame, in order; default `["FRAME_START", "ENCODE_COMPLETE"]`.
        #[serde(default)]
        chunk_types: Option<Vec<ChunkType>>,
        /// Private driver bytes the hardware gives with each chunk; default 0.
        #[serde(default)]
        private_data_size: Option<u32>,
        /// First frame number; default 1.
        #[serde(default)]
        first_frame: Option<u64>,
    },
    /// The sink's monitor arrives (EDID sent to the source).
    SinkMonitorArrives {
        /// Step name.
        #[serde(default)]
        id: Option<String>,
    },
    /// The sink's monitor departs.
    SinkMonitorDeparts {
        /// Step name.
        #[serde(default)]
        id: Option<String>,
    },
    /// The sink asks for an IDR picture (M13).
    SinkIdrRequest {
        /// Step name.
        #[serde(default)]
        id: Option<String>,
    },
    /// The sink tears the session down on its own (M8).
    SinkDisconnect {
        /// Step name.
        #[serde(default)]
        id: Option<String>,
    },
    /// The system sleeps (S3 or connected standby): the OS tears the session down.
    Sleep {
        /// Step name.
        #[serde(default)]
        id: Option<String>,
    },
    /// The system resumes: the OS connects the session again (as `Connect`).
    Resume {
        /// Step name.
        #[serde(default)]
        id: Option<String>,
        /// Exact status of the reconnection.
        #[serde(default)]
        expect_status: Option<NtStatus>,
    },
    /// Virtual time passes on this thread.
    Advance {
        /// Step name.
        #[serde(default)]
        id: Option<String>,
        /// How long: `"2s"`, `"500ms"`, `"1.5s"`.
        by: String,
    },
    /// Branches run as separate simulated threads that the scheduler interleaves; the step
    /// ends when every branch has.
    #[serde(alias = "parallel")]
    Parallel {
        /// Step name.
        #[serde(default)]
        id: Option<String>,
        /// Each branch is a list of steps.
        branches: Vec<Vec<RawStep>>,
    },
}

/// A message or IOCTL payload: a name or `hex:...`, or bytes by size and pattern.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum RawPayload {
    /// `PING`, `QUERY_STATUS`, `hex:...`, ...
    Text(String),
    /// `size` bytes filled by a pattern.
    Sized {
        /// Number of bytes.
        size: u64,
        /// `zero` (every byte 0), `counter` (byte i is i mod 256), or `hex:<bytes>` repeated.
        #[serde(default = "default_fill")]
        fill: String,
    },
}

fn default_fill() -> String {
    "zero".to_owned()
}

/// What must come of the run.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawExpect {
    /// Exactly these rules must be broken, and no other (a set: order and repeats do not
    /// matter). Empty (the default): no rule may be broken.
    #[serde(default, alias = "expect_violations")]
    pub violations: Vec<RuleId>,
    /// The session phase at the end.
    #[serde(default)]
    pub final_phase: Option<SessionPhase>,
    /// Whether the Miracast monitor is reported connected at the end.
    #[serde(default)]
    pub final_monitor_connected: Option<bool>,
    /// GPU contexts alive at the end.
    #[serde(default)]
    pub final_gpu_contexts: Option<u32>,
    /// Each matcher must match at least one trace event.
    #[serde(default)]
    pub happens: Vec<RawMatcher>,
    /// In each pair, some event matching `first` comes before some event matching `then`.
    #[serde(default)]
    pub before: Vec<RawBefore>,
    /// No trace event may match any of these.
    #[serde(default)]
    pub never: Vec<RawMatcher>,
    /// Under `--explore`: whether the expectations above (everything but `violations`) must
    /// hold on every schedule (`every`, the default) or describe one ordering the OS may
    /// produce (`some`: exploration passes them when at least one schedule shows it; a plain
    /// run still checks them on its seed). Rules broken are judged on every schedule either way.
    #[serde(default)]
    pub holds_on: HoldsOn,
}

/// On which schedules a scenario's expectations must hold under exploration.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum HoldsOn {
    /// On every schedule.
    #[default]
    Every,
    /// On at least one: the scenario shows one ordering the OS may produce.
    Some,
}

/// "A happens before B".
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawBefore {
    /// The earlier event.
    pub first: RawMatcher,
    /// The later event.
    pub then: RawMatcher,
}

/// Matches trace events. Every field given must match.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawMatcher {
    /// The DDI or callback, by its documented name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ddi: Option<String>,
    /// `enter` or `leave` (of `ddi`), or another event kind: `message_queued`,
    /// `message_delivered`, `message_dropped`, `buffer_released`, `phase`, `sink`, `note`,
    /// `chunk_queued`, `chunk_overflow`. Default: `leave` when `status` is given, else `enter`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
    /// Prefix of the simulated thread's name (`os-`, `umd-`, `msg-`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread: Option<String>,
    /// Exact NTSTATUS the DDI returned (implies `leave`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<NtStatus>,
    /// A `key=value` pair of the event's arguments or out-values (`op=MONITOR_ARRIVED`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arg: Option<String>,
    /// Text the event's rendered line must contain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}
