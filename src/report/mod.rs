//! Reports of a run of many scenarios: human text, JSON, JUnit XML.
//!
//! The CLI collects one [`ScenarioReport`] per scenario file (passed, failed, invalid, skipped
//! or backend unavailable) into a [`RunReport`], then renders it in every format asked for.
//! Every renderer is a pure function of the report, so `--jobs 1` and `--jobs 8` give the same
//! bytes.
//!
//! Map:
//! - [`human`]: one line per scenario, failure details with trace excerpts and the replay
//!   command, and the `N passed, N failed` summary line.
//! - [`json`]: the whole run, each scenario with its trace, violations, seed and replay token.
//! - [`junit`]: JUnit XML through `quick-junit`, one test case per scenario.

pub mod escape;
pub mod human;
pub mod json;
pub mod junit;

use crate::runner::{RunResult, Verdict};
use crate::scenario::ScenarioError;
use serde::{Deserialize, Serialize};

/// How one scenario file came out.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Ran, and everything expected happened.
    Passed,
    /// Ran, and something else happened.
    Failed,
    /// The file is not a valid scenario.
    Invalid,
    /// Not run: filtered or partitioned out.
    #[default]
    Skipped,
    /// Not run: its backend is not in this build.
    Unavailable,
}

/// A scenario file that did not validate, as reports show it.
#[derive(Clone, Debug, Serialize)]
pub struct InvalidScenario {
    /// `path:line:column: message`.
    pub message: String,
    /// The full diagnostic with the offending lines and the hint.
    pub rendered: String,
    /// The kind of mistake.
    pub kind: crate::scenario::ScenarioErrorKind,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
}

impl From<&ScenarioError> for InvalidScenario {
    fn from(e: &ScenarioError) -> Self {
        InvalidScenario {
            message: e.to_string(),
            rendered: e.render(),
            kind: e.kind,
            line: e.line,
            column: e.column,
        }
    }
}

/// A finished run as the reports show it: the [`RunResult`] of a run in this process, or what
/// an isolated child process sent back (`run --isolate`). Both serialize the same way (the
/// `RunResult` as JSON).
#[derive(Clone, Debug)]
pub enum RunRecord {
    /// Ran in this process.
    Local(Box<RunResult>),
    /// Ran in an isolated child process, or died there.
    Isolated(IsolatedRecord),
}

/// The part of a run the reports need, as an isolated child sends it back (or as the parent
/// builds it when the child died).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct IsolatedRecord {
    /// The seed of the strategy.
    pub seed: u64,
    /// The trace events, rendered, one per `seq` (empty when recording was off or the child
    /// died).
    pub events: Vec<String>,
    /// The run as the JSON report carries it (the `RunResult`, serialized).
    pub json: serde_json::Value,
    /// How the child died (`SIGSEGV`, ...), when it did not finish.
    #[serde(default)]
    pub died: Option<String>,
}

impl From<RunResult> for RunRecord {
    fn from(r: RunResult) -> Self {
        RunRecord::Local(Box::new(r))
    }
}

impl RunRecord {
    /// The record an isolated child sends back for a finished run.
    pub fn isolated(r: &RunResult) -> IsolatedRecord {
        IsolatedRecord {
            seed: r.seed,
            events: r.trace.events.iter().map(ToString::to_string).collect(),
            json: serde_json::to_value(r).unwrap_or(serde_json::Value::Null),
            died: None,
        }
    }

    /// The seed of the strategy.
    pub fn seed(&self) -> u64 {
        match self {
            RunRecord::Local(r) => r.seed,
            RunRecord::Isolated(r) => r.seed,
        }
    }

    /// Number of trace events.
    pub fn events(&self) -> usize {
        match self {
            RunRecord::Local(r) => r.events(),
            RunRecord::Isolated(r) => r.events.len(),
        }
    }

    /// Trace event `seq`, rendered as in the trace.
    pub fn event(&self, seq: u32) -> Option<String> {
        match self {
            RunRecord::Local(r) => r.trace.events.get(seq as usize).map(ToString::to_string),
            RunRecord::Isolated(r) => r.events.get(seq as usize).cloned(),
        }
    }

    /// The trace as text, one event per line.
    pub fn trace_text(&self) -> String {
        match self {
            RunRecord::Local(r) => r.trace.to_text(),
            RunRecord::Isolated(r) => r.events.iter().map(|e| format!("{e}\n")).collect(),
        }
    }

    /// How an isolated child died, when it did.
    pub fn died(&self) -> Option<&str> {
        match self {
            RunRecord::Local(_) => None,
            RunRecord::Isolated(r) => r.died.as_deref(),
        }
    }
}

impl Serialize for RunRecord {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            RunRecord::Local(r) => r.serialize(s),
            RunRecord::Isolated(r) => r.json.serialize(s),
        }
    }
}

/// One scenario file's entry in a report.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ScenarioReport {
    /// The file.
    pub path: String,
    /// The scenario's name (the file stem when it did not parse).
    pub name: String,
    /// Its tags.
    pub tags: Vec<String>,
    /// How it came out.
    pub outcome: Outcome,
    /// Why it was skipped, when it was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skip_reason: Option<String>,
    /// The run, when it ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<RunRecord>,
    /// The judgement, when it ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verdict: Option<Verdict>,
    /// The replay token, when it ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replay_token: Option<String>,
    /// The validation error, when invalid.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invalid: Option<InvalidScenario>,
    /// With `run --explore`: the exploration's summary (failures with their replay tokens).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explore_summary: Option<String>,
    /// With `run --explore`: the whole exploration report.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explore: Option<serde_json::Value>,
}

impl ScenarioReport {
    /// The exact command that replays this run.
    pub fn replay_command(&self) -> Option<String> {
        self.replay_token
            .as_ref()
            .map(|t| format!("miracast-sim replay {t}"))
    }
}

/// A whole run.
#[derive(Clone, Debug, Default, Serialize)]
pub struct RunReport {
    /// Every scenario file, in path order.
    pub scenarios: Vec<ScenarioReport>,
}

/// Counts per outcome.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Passed.
    pub passed: usize,
    /// Failed (including invalid files and unavailable backends: none of them passed).
    pub failed: usize,
    /// Skipped.
    pub skipped: usize,
    /// Of the failed: invalid files.
    pub invalid: usize,
    /// Of the failed: backend unavailable.
    pub unavailable: usize,
}

impl RunReport {
    /// Counts per outcome.
    pub fn counts(&self) -> Counts {
        let mut c = Counts::default();
        for s in &self.scenarios {
            match s.outcome {
                Outcome::Passed => c.passed += 1,
                Outcome::Failed => c.failed += 1,
                Outcome::Invalid => {
                    c.failed += 1;
                    c.invalid += 1;
                }
                Outcome::Unavailable => {
                    c.failed += 1;
                    c.unavailable += 1;
                }
                Outcome::Skipped => c.skipped += 1,
            }
        }
        c
    }

    /// `N passed, N failed`, with `, N skipped` when any were.
    pub fn summary_line(&self) -> String {
        let c = self.counts();
        let mut line = format!("{} passed, {} failed", c.passed, c.failed);
        if c.skipped > 0 {
            line.push_str(&format!(", {} skipped", c.skipped));
        }
        line
    }
}

/// The output formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Text for people.
    Human,
    /// The whole run as JSON.
    Json,
    /// JUnit XML.
    Junit,
}

/// Renders `report` in `format`.
pub fn render(report: &RunReport, format: Format) -> String {
    match format {
        Format::Human => human::render(report),
        Format::Json => json::render(report),
        Format::Junit => junit::render(report),
    }
}
