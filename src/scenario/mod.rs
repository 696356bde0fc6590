//! Scenario files: the JSON format (version 1), its validation, and the sink adapter.
//!
//! A scenario says what the OS and the Wi-Fi Display sink do (`steps`), in which world
//! (`setup`: adapter, sink, driver under test, OS) and what must come of it (`expect`). Loading
//! is two stages: [`raw`] mirrors the JSON exactly (serde, `deny_unknown_fields`, steps tagged
//! by `"op"`), then `resolve` checks meaning and yields a [`Scenario`] that everything after
//! can trust. Every mistake is a [`ScenarioError`] naming file, line and column, with a hint.
//!
//! Map:
//! - [`raw`]: the serde structs; the JSON Schema is generated from them ([`schema`]).
//! - `resolve`: raw -> [`Scenario`]: defaults, payloads, durations, names, phase reachability.
//! - [`error`]: [`ScenarioError`], a miette diagnostic with the JSON span.
//! - [`span`]: a spanned JSON parse used to point semantic errors at their line.
//! - [`sink`]: [`SinkAdapter`], the Wi-Fi Display sink state machine behind
//!   [`crate::os::SinkPeer`].

#![expect(
    clippy::result_large_err,
    reason = "one error per invalid file, on the cold path; reports and tests read its fields directly"
)]

pub mod error;
pub mod raw;
mod resolve;
pub mod sink;
pub mod span;

pub use error::{ScenarioError, ScenarioErrorKind};
pub use raw::{HoldsOn, ScenarioKind};
pub use resolve::{content_hash, folder_kind, parse_backend, parse_duration};
pub use sink::SinkAdapter;

use crate::ddi::{ChunkType, Ddi, SessionPhase};
use crate::model::{KmdConfig, Knobs, UmdConfig};
use crate::os::OsConfig;
use crate::rules::RuleId;
use crate::status::NtStatus;
use crate::trace::{EventKind, TraceEvent};
use crate::wfd::SinkConfig;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A validated scenario.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// The file it came from, as given.
    pub path: String,
    /// Its name.
    pub name: String,
    /// `conformance` or `self-test`, when the file says.
    pub kind: Option<raw::ScenarioKind>,
    /// What it checks.
    pub description: String,
    /// HLK job names and rule ids.
    pub tags: Vec<String>,
    /// What a self-test needs the reference drivers to do beyond the contract (`relies_on`).
    pub relies_on: raw::RawReliesOn,
    /// First 16 hex digits of the SHA-256 of the file text (replay tokens check it).
    pub content_hash: String,
    /// The world.
    pub setup: Setup,
    /// The steps, nested for `Parallel`.
    pub steps: Vec<Step>,
    /// Number of steps including nested ones; step indexes run `0..step_count`.
    pub step_count: usize,
    /// What must come of it.
    pub expect: Expect,
}

/// The resolved `setup` section.
#[derive(Clone, Debug)]
pub struct Setup {
    /// The adapter as the reference KMD presents it.
    pub adapter: KmdConfig,
    /// The sink.
    pub sink: SinkConfig,
    /// What the OS may assume about the sink, derived from its capabilities.
    pub sink_facts: SinkFacts,
    /// Which driver runs.
    pub backend: Backend,
    /// Reference-driver faults.
    pub knobs: Knobs,
    /// Reference-UMD configuration.
    pub umd: UmdConfig,
    /// The OS.
    pub os: OsConfig,
    /// Default seed.
    pub seed: u64,
}

/// What the OS may assume about the sink (for R39, R40).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SinkFacts {
    /// A monitor is behind the sink (it announces an EDID).
    pub monitor_present: bool,
    /// The sink decodes a mode of at least 1024x768.
    pub supports_1024x768: bool,
    /// The `wfd_connector_type` the sink announces, if any (R10).
    pub connector_type: Option<u8>,
}

/// Which driver a scenario runs against.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Backend {
    /// The bundled reference drivers.
    Model,
    /// A driver binary through the C ABI (feature `real-driver`).
    Real(PathBuf),
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Backend::Model => f.write_str("model"),
            Backend::Real(p) => write!(f, "real:{}", p.display()),
        }
    }
}

/// One resolved step.
#[derive(Clone, Debug)]
pub struct Step {
    /// Position in pre-order over all steps (nested ones included), from 0.
    pub index: usize,
    /// The `id` the author gave.
    pub id: Option<String>,
    /// What it does.
    pub op: StepOp,
    /// The exact status its DDI must return.
    pub expect_status: Option<NtStatus>,
    /// 1-based line of the step in the file (0 if unknown).
    pub line: usize,
}

impl Step {
    /// `#3 StartMiracastSession (start)` for reports.
    pub fn label(&self) -> String {
        match &self.id {
            Some(id) => format!("step {} {} ({id})", self.index, self.op.name()),
            None => format!("step {} {}", self.index, self.op.name()),
        }
    }
}

/// What a step does.
#[derive(Clone, Debug)]
pub enum StepOp {
    /// Adapter start.
    AdapterBringUp,
    /// `DxgkDdiMiracastCreateContext`.
    KmdCreateContext,
    /// `QueryMiracastDriverInterface`.
    UmdLoad,
    /// `CreateMiracastContext`.
    UmdCreateContext,
    /// `StartMiracastSession`.
    StartSession,
    /// `StopMiracastSession`.
    StopSession,
    /// `DestroyMiracastContext`.
    UmdDestroyContext,
    /// `DxgkDdiMiracastDestroyContext`.
    KmdDestroyContext,
    /// The whole connection.
    Connect,
    /// The whole teardown.
    Disconnect,
    /// The test escape.
    KmdSendMessage {
        /// Given by name: the bytes are the reference format, rewritten in the driver
        /// profile's framing at run time.
        named: bool,
        /// Message bytes.
        payload: Vec<u8>,
        /// Output buffer size.
        output_size: u32,
    },
    /// `MiracastIoControl` from a UMD thread of its own.
    MiracastIoControl {
        /// `HardwareAccess`.
        hardware_access: bool,
        /// Given by name (see `KmdSendMessage`).
        named: bool,
        /// Input bytes.
        payload: Vec<u8>,
        /// Output buffer size.
        output_size: u32,
    },
    /// `DxgkDdiCreateContext` `count` times.
    CreateGpuContexts {
        /// How many.
        count: u32,
        /// The D3D UMD is incompatible.
        incompatible_umd: bool,
    },
    /// `DxgkDdiDestroyContext` for all.
    DestroyGpuContexts,
    /// `DxgkDdiCommitVidPn`.
    CommitVidPn {
        /// Power the monitor off.
        monitor_power_off: bool,
    },
    /// Encoder interrupts.
    EncodeChunks {
        /// Frames.
        frames: u32,
        /// Parts per encoded frame.
        parts: u32,
        /// Chunk types per frame.
        chunk_types: Vec<ChunkType>,
        /// Private bytes per chunk.
        private_data_size: u32,
        /// First frame number.
        first_frame: u64,
    },
    /// The sink's monitor arrives.
    SinkMonitorArrives,
    /// The sink's monitor departs.
    SinkMonitorDeparts,
    /// The KMD's hardware says the monitor is gone (test request).
    KmdMonitorDeparts,
    /// The sink asks for an IDR picture.
    SinkIdrRequest,
    /// The sink tears down.
    SinkDisconnect,
    /// System sleep.
    Sleep,
    /// System resume.
    Resume,
    /// `DxgkDdiRemoveDevice`, then the KMD is unloaded.
    AdapterRemove,
    /// Virtual time passes.
    Advance(Duration),
    /// Concurrent branches.
    Parallel(Vec<Vec<Step>>),
}

impl StepOp {
    /// The `op` as written in JSON.
    pub fn name(&self) -> &'static str {
        match self {
            StepOp::AdapterBringUp => "AdapterBringUp",
            StepOp::KmdCreateContext => "DxgkDdiMiracastCreateContext",
            StepOp::UmdLoad => "QueryMiracastDriverInterface",
            StepOp::UmdCreateContext => "CreateMiracastContext",
            StepOp::StartSession => "StartMiracastSession",
            StepOp::StopSession => "StopMiracastSession",
            StepOp::UmdDestroyContext => "DestroyMiracastContext",
            StepOp::KmdDestroyContext => "DxgkDdiMiracastDestroyContext",
            StepOp::Connect => "Connect",
            StepOp::Disconnect => "Disconnect",
            StepOp::KmdSendMessage { .. } => "KmdSendMessage",
            StepOp::MiracastIoControl { .. } => "MiracastIoControl",
            StepOp::CreateGpuContexts { .. } => "DxgkDdiCreateContext",
            StepOp::DestroyGpuContexts => "DxgkDdiDestroyContext",
            StepOp::CommitVidPn { .. } => "DxgkDdiCommitVidPn",
            StepOp::EncodeChunks { .. } => "EncodeChunks",
            StepOp::SinkMonitorArrives => "SinkMonitorArrives",
            StepOp::SinkMonitorDeparts => "SinkMonitorDeparts",
            StepOp::KmdMonitorDeparts => "KmdMonitorDeparts",
            StepOp::SinkIdrRequest => "SinkIdrRequest",
            StepOp::SinkDisconnect => "SinkDisconnect",
            StepOp::Sleep => "Sleep",
            StepOp::Resume => "Resume",
            StepOp::AdapterRemove => "AdapterRemove",
            StepOp::Advance(_) => "Advance",
            StepOp::Parallel(_) => "Parallel",
        }
    }
}

/// The resolved `expect` section.
#[derive(Clone, Debug, Default)]
pub struct Expect {
    /// Exactly these rules must be broken.
    pub violations: BTreeSet<RuleId>,
    /// Session phase at the end.
    pub final_phase: Option<SessionPhase>,
    /// Monitor connected at the end.
    pub final_monitor_connected: Option<bool>,
    /// GPU contexts alive at the end.
    pub final_gpu_contexts: Option<u32>,
    /// Must each match some event.
    pub happens: Vec<Matcher>,
    /// (A, B): some A before some B.
    pub before: Vec<(Matcher, Matcher)>,
    /// Must match no event.
    pub never: Vec<Matcher>,
    /// Under exploration: on every schedule, or on at least one.
    pub holds_on: HoldsOn,
}

impl Expect {
    /// True when the expectations read the trace (so the runner must record it).
    pub fn needs_trace(&self) -> bool {
        !(self.happens.is_empty() && self.before.is_empty() && self.never.is_empty())
    }
}

/// Which kind of trace event a matcher looks at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Event {
    Any,
    Enter,
    Leave,
    MessageQueued,
    MessageDelivered,
    MessageDropped,
    BufferReleased,
    Phase,
    Sink,
    Note,
    ChunkQueued,
    ChunkOverflow,
}

impl Event {
    /// The names a matcher's `event` accepts.
    pub const NAMES: &'static [&'static str] = &[
        "any",
        "enter",
        "leave",
        "message_queued",
        "message_delivered",
        "message_dropped",
        "buffer_released",
        "phase",
        "sink",
        "note",
        "chunk_queued",
        "chunk_overflow",
    ];

    fn from_name(name: &str) -> Option<Event> {
        Some(match name {
            "any" => Event::Any,
            "enter" => Event::Enter,
            "leave" => Event::Leave,
            "message_queued" => Event::MessageQueued,
            "message_delivered" => Event::MessageDelivered,
            "message_dropped" => Event::MessageDropped,
            "buffer_released" => Event::BufferReleased,
            "phase" => Event::Phase,
            "sink" => Event::Sink,
            "note" => Event::Note,
            "chunk_queued" => Event::ChunkQueued,
            "chunk_overflow" => Event::ChunkOverflow,
            _ => return None,
        })
    }
}

/// A resolved trace-event matcher.
#[derive(Clone, Debug)]
pub struct Matcher {
    /// DDI.
    pub ddi: Option<Ddi>,
    /// Event kind.
    pub event: Event,
    /// Thread-name prefix.
    pub thread: Option<String>,
    /// Exact status.
    pub status: Option<NtStatus>,
    /// `key=value` in args or out.
    pub arg: Option<String>,
    /// Substring of the rendered event.
    pub text: Option<String>,
    /// The matcher as written, for failure reasons.
    pub source: String,
}

impl Matcher {
    /// True when `event` (on a thread called `thread_name`) matches.
    pub fn matches(&self, event: &TraceEvent, thread_name: &str) -> bool {
        if self
            .thread
            .as_deref()
            .is_some_and(|p| !thread_name.starts_with(p))
        {
            return false;
        }
        let (ddi, status, summary) = match &event.kind {
            EventKind::Enter { ddi, args } => (Some(*ddi), None, Some(args.fields())),
            EventKind::Leave { ddi, status, out } => (Some(*ddi), *status, Some(out.fields())),
            _ => (None, None, None),
        };
        let kind_ok = match self.event {
            Event::Any => true,
            Event::Enter => matches!(event.kind, EventKind::Enter { .. }),
            Event::Leave => matches!(event.kind, EventKind::Leave { .. }),
            Event::MessageQueued => matches!(event.kind, EventKind::MessageQueued { .. }),
            Event::MessageDelivered => matches!(event.kind, EventKind::MessageDelivered { .. }),
            Event::MessageDropped => matches!(event.kind, EventKind::MessageDropped { .. }),
            Event::BufferReleased => matches!(event.kind, EventKind::BufferReleased { .. }),
            Event::Phase => matches!(event.kind, EventKind::Phase { .. }),
            Event::Sink => matches!(event.kind, EventKind::Sink { .. }),
            Event::Note => matches!(event.kind, EventKind::Note { .. }),
            Event::ChunkQueued => matches!(event.kind, EventKind::ChunkQueued { .. }),
            Event::ChunkOverflow => matches!(event.kind, EventKind::ChunkOverflow { .. }),
        };
        if !kind_ok {
            return false;
        }
        if self.ddi.is_some() && self.ddi != ddi {
            return false;
        }
        if self.status.is_some() && self.status != status {
            return false;
        }
        if let Some(pair) = &self.arg {
            let Some((key, value)) = pair.split_once('=') else {
                return false;
            };
            let found = summary
                .as_ref()
                .and_then(|fields| fields.iter().find(|(k, _)| *k == key))
                .map(|(_, v)| v.to_string());
            if found.as_deref() != Some(value) {
                return false;
            }
        }
        if let Some(text) = &self.text
            && !event.to_string().contains(text.as_str())
        {
            return false;
        }
        true
    }
}

/// Parses and validates scenario text. `path` names it in errors.
///
/// # Errors
/// A [`ScenarioError`] locating the first problem.
pub fn parse(path: &str, text: &str) -> Result<Scenario, ScenarioError> {
    parse_all(path, text).map_err(|mut all| all.remove(0))
}

/// Parses and validates scenario text, reporting every mistake found in one pass: a JSON or
/// type error stops the reading (it is the only one reported), otherwise every step and
/// expectation is checked and each mistake is located.
///
/// # Errors
/// Every mistake, in file order; never empty.
pub fn parse_all(path: &str, text: &str) -> Result<Scenario, Vec<ScenarioError>> {
    let tree = span::parse(text);
    let raw: raw::RawScenario = serde_json::from_str(text)
        .map_err(|e| vec![ScenarioError::from_serde(path, text, &e, tree.as_ref())])?;
    resolve::resolve_all(raw, path, text, tree.as_ref())
}

/// Reads, parses and validates a scenario file, reporting every mistake found ([`parse_all`]).
///
/// # Errors
/// Every mistake; never empty.
pub fn load_all(path: &Path) -> Result<(Scenario, String), Vec<ScenarioError>> {
    let shown = path.display().to_string();
    let text = read_text(path).map_err(|e| vec![e])?;
    let scenario = parse_all(&shown, &text)?;
    Ok((scenario, text))
}

/// A scenario file's text, read with the limits of [`read_input_file`].
fn read_text(path: &Path) -> Result<String, ScenarioError> {
    let shown = path.display().to_string();
    let bytes = read_input_file(path).map_err(|e| ScenarioError::unreadable(&shown, e))?;
    String::from_utf8(bytes).map_err(|e| {
        ScenarioError::unreadable(
            &shown,
            format!(
                "{shown} is not UTF-8 text (invalid byte at offset {}); scenario files are JSON in UTF-8",
                e.utf8_error().valid_up_to()
            ),
        )
    })
}

/// The largest scenario or capture file read by default (16 MiB); the environment variable
/// [`MAX_FILE_SIZE_ENV`] raises or lowers it.
pub const DEFAULT_MAX_FILE_SIZE: u64 = 16 << 20;

/// Environment variable holding the largest input file size in bytes (`MIRACAST_SIM_MAX_FILE_SIZE=67108864`).
pub const MAX_FILE_SIZE_ENV: &str = "MIRACAST_SIM_MAX_FILE_SIZE";

/// The largest input file this run reads.
pub fn max_file_size() -> u64 {
    std::env::var(MAX_FILE_SIZE_ENV)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(DEFAULT_MAX_FILE_SIZE)
}

/// Reads an input file (a scenario or a capture) with the limits every input has: a regular
/// file (not a FIFO, a device or a directory: those could block or never end) of at most
/// [`max_file_size`] bytes.
///
/// # Errors
/// A sentence naming the file, what is wrong and how to fix it.
pub fn read_input_file(path: &Path) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let shown = path.display();
    let meta = std::fs::metadata(path).map_err(|e| format!("cannot read {shown}: {e}"))?;
    if !meta.is_file() {
        let what = if meta.is_dir() {
            "a directory"
        } else {
            "not a regular file (a FIFO, socket or device)"
        };
        return Err(format!(
            "{shown} is {what}; only regular files are read (a FIFO or device could block or never end)"
        ));
    }
    let max = max_file_size();
    let too_big = |size: u64| {
        format!(
            "{shown} is {size} bytes, larger than the {max}-byte limit for input files; raise it with the environment variable {MAX_FILE_SIZE_ENV}=BYTES"
        )
    };
    if meta.len() > max {
        return Err(too_big(meta.len()));
    }
    // Open without blocking: a file swapped for a FIFO after the check must not hang the run.
    let file = std::fs::File::open(path).map_err(|e| format!("cannot read {shown}: {e}"))?;
    let mut bytes = Vec::new();
    file.take(max.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read {shown}: {e}"))?;
    if bytes.len() as u64 > max {
        return Err(too_big(bytes.len() as u64));
    }
    Ok(bytes)
}

/// [`read_input_file`] as UTF-8 text (a report, a capture, a token file).
///
/// # Errors
/// A sentence naming the file and what is wrong.
pub fn read_input_text(path: &Path) -> Result<String, String> {
    String::from_utf8(read_input_file(path)?)
        .map_err(|_| format!("{} is not UTF-8 text", path.display()))
}

/// Reads, parses and validates a scenario file.
///
/// # Errors
/// A [`ScenarioError`] when the file cannot be read or is invalid.
pub fn load(path: &Path) -> Result<(Scenario, String), ScenarioError> {
    let shown = path.display().to_string();
    let text = read_text(path)?;
    let scenario = parse(&shown, &text)?;
    Ok((scenario, text))
}

/// Every `*.json` scenario under `paths` (files as given, folders recursively), sorted and
/// without duplicates. `schema.json` files are not scenarios and are skipped.
///
/// Each file is found once, however many links lead to it: directories are entered once per
/// (device, inode), so a symlink loop ends, and a file reached by two paths is listed under the
/// first. Files that are not regular files are listed so that loading them reports why.
///
/// # Errors
/// The first path that does not exist or cannot be listed.
pub fn discover(paths: &[PathBuf]) -> Result<Vec<PathBuf>, (PathBuf, std::io::Error)> {
    let mut found = BTreeSet::new();
    let mut seen = Seen::default();
    for p in paths {
        let meta = std::fs::metadata(p).map_err(|e| (p.clone(), e))?;
        if meta.is_dir() {
            walk(p, &mut found, &mut seen).map_err(|e| (p.clone(), e))?;
        } else if seen.first_visit(&meta) {
            found.insert(p.clone());
        }
    }
    Ok(found.into_iter().collect())
}

/// (device, inode) pairs already visited.
#[derive(Default)]
struct Seen(BTreeSet<(u64, u64)>);

impl Seen {
    #[cfg(unix)]
    fn first_visit(&mut self, meta: &std::fs::Metadata) -> bool {
        use std::os::unix::fs::MetadataExt;
        self.0.insert((meta.dev(), meta.ino()))
    }

    #[cfg(not(unix))]
    fn first_visit(&mut self, _meta: &std::fs::Metadata) -> bool {
        true
    }
}

/// Folders nested deeper than this are not entered (a loop through a link the inode check
/// cannot see, or a pathological tree).
const MAX_DEPTH: usize = 64;

fn walk(dir: &Path, found: &mut BTreeSet<PathBuf>, seen: &mut Seen) -> std::io::Result<()> {
    let mut stack = vec![(dir.to_path_buf(), 0usize)];
    if let Ok(meta) = std::fs::metadata(dir) {
        seen.first_visit(&meta);
    }
    while let Some((dir, depth)) = stack.pop() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(&dir)?
            .map(|e| e.map(|e| e.path()))
            .collect::<std::io::Result<_>>()?;
        entries.sort();
        for path in entries {
            // Follows links; a dangling link is listed so loading it says so.
            let Ok(meta) = std::fs::metadata(&path) else {
                if path.extension().is_some_and(|e| e == "json") {
                    found.insert(path);
                }
                continue;
            };
            if meta.is_dir() {
                if depth < MAX_DEPTH && seen.first_visit(&meta) {
                    stack.push((path, depth + 1));
                }
            } else if path.extension().is_some_and(|e| e == "json")
                && path.file_name().is_some_and(|n| n != "schema.json")
                && seen.first_visit(&meta)
            {
                found.insert(path);
            }
        }
    }
    Ok(())
}

/// The JSON Schema of the format, generated from [`raw::RawScenario`], pretty-printed with a
/// trailing newline (what `scenarios/schema.json` holds).
pub fn schema() -> String {
    let mut schema = schemars::schema_for!(raw::RawScenario);
    if let Some(object) = schema.as_object_mut() {
        add_aliases(object);
    }
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}

/// Every field alias the raw format accepts (`#[serde(alias)]` in `raw.rs`): (definition,
/// alias, canonical field). schemars does not list serde aliases, so [`schema`] adds them; a
/// test keeps this table and `raw.rs` in step.
const FIELD_ALIASES: &[(&str, &str, &str)] = &[("RawExpect", "expect_violations", "violations")];

/// Every `op` alias: (alias, canonical op).
const OP_ALIASES: &[(&str, &str)] = &[("parallel", "Parallel")];

/// Adds the accepted aliases to the schema: an alias field is the canonical field's schema
/// with a note; an alias op is an `enum` of both spellings.
fn add_aliases(schema: &mut serde_json::Map<String, serde_json::Value>) {
    let Some(defs) = schema.get_mut("$defs") else {
        return;
    };
    for (def, alias, canonical) in FIELD_ALIASES {
        let Some(props) = defs[*def]
            .get_mut("properties")
            .and_then(serde_json::Value::as_object_mut)
        else {
            continue;
        };
        if let Some(mut field) = props.get(*canonical).cloned() {
            field["description"] = serde_json::Value::String(format!(
                "Another spelling of `{canonical}` (give one of the two)."
            ));
            props.insert((*alias).to_owned(), field);
        }
    }
    if let Some(variants) = defs["RawStep"]["oneOf"].as_array_mut() {
        for v in variants {
            let op = &mut v["properties"]["op"];
            if let Some((alias, canonical)) = OP_ALIASES
                .iter()
                .find(|(_, c)| op.get("const").and_then(|x| x.as_str()) == Some(*c))
            {
                *op = serde_json::json!({ "type": "string", "enum": [canonical, alias] });
            }
        }
    }
}

#[cfg(test)]
mod alias_tests {
    /// Every `#[serde(alias = "...")]` of the raw format is in the alias tables, and so in the
    /// schema.
    #[test]
    fn every_alias_of_the_raw_format_is_in_the_schema() {
        let source = include_str!("raw.rs");
        let aliases: Vec<&str> = source
            .split("alias = \"")
            .skip(1)
            .filter_map(|rest| rest.split('"').next())
            .collect();
        assert!(!aliases.is_empty());
        let schema = super::schema();
        for a in aliases {
            assert!(
                super::FIELD_ALIASES.iter().any(|(_, x, _)| *x == a)
                    || super::OP_ALIASES.iter().any(|(x, _)| *x == a),
                "alias `{a}` is not in the alias tables"
            );
            assert!(
                schema.contains(&format!("\"{a}\"")),
                "alias `{a}` is not in the schema"
            );
        }
    }
}
