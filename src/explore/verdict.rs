//! The one verdict of a scenario under exploration, so its line, its findings and the exit code
//! never say two different things.
//!
//! Every schedule is judged as a plain run is ([`super::scenario_run::findings_of`]): rules
//! broken, how the run ended, hot states, and the scenario's own expectations (step statuses,
//! final state, trace assertions, as the finding `expect`). Then, over all schedules:
//!
//! - a finding of a rule the scenario lists in `expect.violations` is **found as expected**:
//!   it does not fail the scenario;
//! - any other finding fails it (`R27`, `deadlock`, `expect`, `bugcheck`, ...);
//! - a rule the scenario expects that **no** schedule broke fails it: "expected R17, not
//!   found in N schedules";
//! - with `expect.holds_on: some`, the scenario's own expectations show one ordering the OS may
//!   produce: their finding `expect` fails it only when no schedule showed that ordering
//!   ([`ExploreVerdict::ordering_shown_in`]);
//! - a nondeterministic schedule (`--check-determinism`) fails it.
//!
//! The scenario passes exactly when none of these fail it; the human line, the JSON report's
//! `outcome` and the exit code are all derived from [`ExploreVerdict::passed`].

use super::explorer::{ExploreReport, Failure};
use crate::scenario::{HoldsOn, Scenario};

/// The finding key of a scenario's own expectations not holding.
const EXPECT: &str = "expect";
use serde::{Deserialize, Serialize};

/// A finding as the verdict reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerdictFinding {
    /// The finding key (`R27`, `deadlock`, `expect`, ...).
    pub key: String,
    /// Schedules that showed it.
    pub schedules: u64,
    /// One sentence (from the first schedule that showed it).
    pub message: String,
    /// Replay token of the smallest schedule showing it.
    pub token: String,
}

/// What an exploration means for the scenario explored.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExploreVerdict {
    /// No unexpected finding, no expected rule missing, no nondeterminism.
    pub passed: bool,
    /// Schedules explored.
    pub schedules: u64,
    /// Findings of rules the scenario expects to be broken.
    pub found_as_expected: Vec<VerdictFinding>,
    /// Findings the scenario does not expect.
    pub unexpected: Vec<VerdictFinding>,
    /// Rules the scenario expects to be broken that no schedule broke.
    pub missing: Vec<String>,
    /// Schedules whose two runs differed (`--check-determinism`).
    pub nondeterministic: usize,
    /// For a scenario whose expectations show one ordering (`expect.holds_on: some`): the
    /// schedules on which they held. Its `expect` findings on the other schedules fail it only
    /// when no schedule showed the ordering.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ordering_shown_in: Option<u64>,
}

fn finding(report: &ExploreReport, f: &Failure) -> VerdictFinding {
    VerdictFinding {
        key: f.finding.key.clone(),
        schedules: report.schedules_with(&f.finding.key),
        message: f.finding.message.clone(),
        token: f.token.clone(),
    }
}

fn count(keys: &[VerdictFinding]) -> String {
    keys.iter()
        .map(|f| format!("{} in {}", f.key, f.schedules))
        .collect::<Vec<_>>()
        .join(", ")
}

impl ExploreVerdict {
    /// Judges `report`, an exploration of `scenario`.
    pub fn of(scenario: &Scenario, report: &ExploreReport) -> Self {
        let expected: Vec<String> = scenario
            .expect
            .violations
            .iter()
            .map(ToString::to_string)
            .collect();
        let mut v = ExploreVerdict {
            schedules: report.schedules,
            nondeterministic: report.nondeterminism.len(),
            ..ExploreVerdict::default()
        };
        let some_ordering = scenario.expect.holds_on == HoldsOn::Some;
        if some_ordering {
            v.ordering_shown_in = Some(
                report
                    .schedules
                    .saturating_sub(report.schedules_with(EXPECT)),
            );
        }
        for f in &report.failures {
            if expected.contains(&f.finding.key) {
                v.found_as_expected.push(finding(report, f));
            } else if !v.other_ordering(f) {
                v.unexpected.push(finding(report, f));
            }
        }
        v.missing = expected
            .into_iter()
            .filter(|r| !v.found_as_expected.iter().any(|f| &f.key == r))
            .collect();
        v.passed = v.unexpected.is_empty() && v.missing.is_empty() && v.nondeterministic == 0;
        v
    }

    /// What the scenario's line shows after its name: `(50 schedules explored; found as
    /// expected: R26 in 34)`, `(50 schedules explored; unexpected: R27 in 18; expected R17,
    /// not found in 50 schedules)`.
    pub fn line_suffix(&self) -> String {
        let mut parts = vec![format!("{} schedules explored", self.schedules)];
        if !self.unexpected.is_empty() {
            parts.push(format!("unexpected: {}", count(&self.unexpected)));
        }
        for r in &self.missing {
            parts.push(self.missing_sentence(r));
        }
        if self.nondeterministic > 0 {
            parts.push(format!(
                "{} nondeterministic schedules",
                self.nondeterministic
            ));
        }
        if !self.found_as_expected.is_empty() {
            parts.push(format!(
                "found as expected: {}",
                count(&self.found_as_expected)
            ));
        }
        if let Some(n) = self.ordering_shown_in {
            parts.push(format!("its ordering shown in {n}"));
        }
        if parts.len() == 1 {
            parts.push("no finding".to_owned());
        }
        format!("({})", parts.join("; "))
    }

    fn missing_sentence(&self, rule: &str) -> String {
        format!("expected {rule}, not found in {} schedules", self.schedules)
    }

    /// Why the scenario failed, one sentence per reason (empty when it passed): each
    /// unexpected finding with its replay command, each expected rule never broken,
    /// nondeterminism.
    pub fn reasons(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .unexpected
            .iter()
            .map(|f| {
                format!(
                    "{} (not expected) in {} of {} schedules: {}\n    replay: miracast-sim replay {}",
                    f.key, f.schedules, self.schedules, f.message, f.token
                )
            })
            .collect();
        out.extend(self.missing.iter().map(|r| self.missing_sentence(r)));
        if self.nondeterministic > 0 {
            out.push(format!(
                "{} schedules ran differently when replayed (nondeterminism)",
                self.nondeterministic
            ));
        }
        out
    }

    /// The exploration as the human report prints it under the scenario's line: the header,
    /// each unexpected finding as `FAIL`, each expected one as `FOUND ... (expected)`, each
    /// missing expected rule as `MISSING`, nondeterminism; every finding with its replay token.
    pub fn render(&self, scenario: &Scenario, report: &ExploreReport) -> String {
        let mut out = format!("{} ({})\n{}", scenario.name, scenario.path, report.header());
        let expected = |f: &Failure| {
            self.found_as_expected
                .iter()
                .any(|x| x.key == f.finding.key)
        };
        for f in report
            .failures
            .iter()
            .filter(|f| !expected(f) && !self.other_ordering(f))
        {
            out.push_str(&report.failure_text(f, "FAIL"));
        }
        for f in report.failures.iter().filter(|f| self.other_ordering(f)) {
            out.push_str(&report.failure_text(f, "OTHER ORDERING (expected: holds_on some)"));
        }
        if let Some(n) = self.ordering_shown_in {
            out.push_str(&format!(
                "{} the expected ordering in {n} of {} schedules\n",
                if n > 0 { "SHOWN" } else { "NOT SHOWN" },
                self.schedules
            ));
        }
        for f in report.failures.iter().filter(|f| expected(f)) {
            out.push_str(&report.failure_text(f, "FOUND (expected)"));
        }
        for r in &self.missing {
            out.push_str(&format!("MISSING {}\n", self.missing_sentence(r)));
        }
        out.push_str(&report.nondeterminism_text());
        if report.failures.is_empty() && self.missing.is_empty() {
            out.push_str("no finding\n");
        }
        out
    }

    /// A failure of the scenario's own expectations on a schedule that shows another ordering
    /// than the one it describes (`holds_on: some`, and some schedule showed it): not a failure.
    fn other_ordering(&self, f: &Failure) -> bool {
        f.finding.key == EXPECT && self.ordering_shown_in.is_some_and(|n| n > 0)
    }

    /// The replay token of the first unexpected finding (what `replay REPORT.json` replays).
    pub fn first_token(&self) -> Option<&str> {
        self.unexpected.first().map(|f| f.token.as_str())
    }
}
