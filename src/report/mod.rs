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
//! - [`timeline`]: one run as lanes, spans, arrows, phases and findings: the only adapter
//!   between the trace and the visual renderings below.
//! - [`html`]: a run as a self-contained HTML page (`miracast-sim show`).
//! - [`mermaid`]: a run as a Mermaid sequence diagram, trimmed around its findings.
//! - [`perfetto`]: a run as Chrome trace-event JSON (Perfetto, `chrome://tracing`).

pub mod escape;
pub mod html;
pub mod human;
pub mod json;
pub mod junit;
pub mod mermaid;
pub mod perfetto;
pub mod timeline;

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

impl InvalidScenario {
    /// Every mistake of one file: the first one's location and message (with `(and N more)`),
    /// and all of them rendered.
    pub fn from_all(errors: &[ScenarioError]) -> Self {
        let Some(first) = errors.first() else {
            return InvalidScenario {
                message: "invalid scenario".to_owned(),
                rendered: String::new(),
                kind: crate::scenario::ScenarioErrorKind::Invalid,
                line: 1,
                column: 1,
            };
        };
        let mut i = InvalidScenario::from(first);
        if errors.len() > 1 {
            i.message.push_str(&format!(
                " (and {} more mistakes in this file)",
                errors.len() - 1
            ));
            i.rendered = errors
                .iter()
                .map(ScenarioError::render)
                .collect::<Vec<_>>()
                .join("\n");
        }
        i
    }
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
    /// What the backend could not carry out, one reason each, when that is why it was skipped.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cannot_run: Vec<String>,
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
    /// With `run --explore`: the scenario's verdict over every schedule (what its line, its
    /// outcome and the exit code say).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explore_verdict: Option<crate::explore::ExploreVerdict>,
    /// Wall-clock time the scenario took (JUnit `time`; not in the JSON report, which stays a
    /// pure function of the runs).
    #[serde(skip)]
    pub wall_time: Option<std::time::Duration>,
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
    /// With `run --coverage`: which rules the runs broke, exercised or never reached.
    #[serde(skip)]
    pub rule_coverage: Option<crate::explore::coverage::RuleCoverage>,
}

/// The DDIs a run entered and the rules it broke, for rule coverage: from the trace of a run
/// in this process, or from the JSON an isolated child sent back.
fn run_facts(
    record: &RunRecord,
) -> (
    std::collections::BTreeSet<crate::ddi::Ddi>,
    std::collections::BTreeSet<crate::rules::RuleId>,
) {
    match record {
        RunRecord::Local(r) => (
            crate::explore::coverage::entered_ddis(&r.trace),
            r.violations.iter().map(|v| v.rule).collect(),
        ),
        RunRecord::Isolated(r) => {
            let entered = r.json["trace"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|e| e["kind"]["event"] == "enter")
                .filter_map(|e| e["kind"]["ddi"].as_str()?.parse().ok())
                .collect();
            let broken = r.json["violations"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|v| v["rule"].as_str()?.parse().ok())
                .collect();
            (entered, broken)
        }
    }
}

impl RunReport {
    /// Rule coverage of every scenario that ran (each run counted once, by scenario name).
    pub fn compute_rule_coverage(&self) -> crate::explore::coverage::RuleCoverage {
        let mut c = crate::explore::coverage::RuleCoverage::default();
        for s in &self.scenarios {
            if let Some(r) = &s.result {
                let (entered, broken) = run_facts(r);
                c.add_run(&s.name, &entered, &broken);
            }
        }
        c
    }
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
    /// Rule coverage alone, as stable JSON (needs `--coverage`; empty coverage otherwise).
    Coverage,
}

/// Renders `report` in `format`.
pub fn render(report: &RunReport, format: Format) -> String {
    match format {
        Format::Human => human::render(report),
        Format::Json => json::render(report),
        Format::Junit => junit::render(report),
        Format::Coverage => report
            .rule_coverage
            .clone()
            .unwrap_or_else(|| report.compute_rule_coverage())
            .to_json(),
    }
}
