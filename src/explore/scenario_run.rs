//! Exploration of scenarios: the runner's [`run_once`] as an exploration closure.

use super::coverage::keys_of_trace;
use super::liveness::{end_findings, hot_findings};
use super::{Finding, Outcome};
use crate::runner::{RunOptions, RunResult, run_once};
use crate::scenario::Scenario;
use crate::sched::Strategy;
use std::collections::BTreeSet;
use std::time::Duration;

/// How scenario runs are turned into outcomes.
#[derive(Clone, Debug)]
pub struct ScenarioRunConfig {
    /// Runner options (trace on or off, limits).
    pub options: RunOptions,
    /// Hot states must cool within this much virtual time.
    pub hot_bound: Duration,
    /// Collect coverage (needs the trace; turns it on).
    pub coverage: bool,
    /// Keep each run's trace in the outcome (determinism check names the first difference).
    pub keep_trace: bool,
}

impl Default for ScenarioRunConfig {
    fn default() -> Self {
        ScenarioRunConfig {
            // Traced, so every schedule is judged by the trace checks as well.
            options: RunOptions::default(),
            hot_bound: Duration::from_secs(60),
            coverage: false,
            keep_trace: false,
        }
    }
}

/// The findings of one scenario run: each broken rule once (key `R<n>`), the end of the run
/// (deadlock, caps), hot states, a panic of the simulation (`panic`), a crash or hang of a
/// driver binary (`bugcheck`), and, when `scenario` is given, every expectation of the
/// scenario beyond the rules that this schedule does not meet (`expect`: a step status, the
/// final state, a trace assertion), so a schedule is judged as a plain run is.
///
/// Rules the scenario expects to be broken are findings too (the explorer keeps a replay
/// token for each); [`super::verdict`] decides what they mean for the scenario.
pub fn findings_of(
    scenario: Option<&Scenario>,
    result: &RunResult,
    hot_bound: Duration,
) -> Vec<Finding> {
    let mut out: Vec<Finding> = Vec::new();
    if result.end == crate::sched::RunEnd::Abandoned {
        // A prefix of a schedule explored elsewhere: whatever it found, that one finds too.
        return out;
    }
    let mut seen = BTreeSet::new();
    for v in &result.violations {
        if seen.insert(v.rule) {
            out.push(Finding {
                key: v.rule.to_string(),
                message: v.to_string(),
            });
        }
    }
    if let Some(e) = &result.error {
        out.push(Finding {
            key: "panic".to_owned(),
            message: e.to_string(),
        });
    }
    if let Some(b) = result.driver_faults.first() {
        out.push(Finding {
            key: "bugcheck".to_owned(),
            message: b.finding.clone(),
        });
    }
    if let Some(scenario) = scenario
        && result.error.is_none()
    {
        let reasons = crate::runner::judge::expectation_reasons(scenario, result);
        if !reasons.is_empty() {
            out.push(Finding {
                key: "expect".to_owned(),
                message: reasons.join("; "),
            });
        }
    }
    out.extend(end_findings(&result.end, &result.blocked));
    out.extend(hot_findings(
        &result.end,
        result.snapshot.as_ref(),
        &result.trace,
        hot_bound,
        &[],
    ));
    out
}

/// One run of `scenario` under `strategy`, as an exploration outcome.
pub fn run_scenario(
    scenario: &Scenario,
    config: &ScenarioRunConfig,
    strategy: Box<dyn Strategy>,
) -> Outcome {
    let mut options = config.options.clone();
    options.trace |= config.coverage || config.keep_trace;
    let result = run_once(scenario, &options, strategy);
    let findings = findings_of(Some(scenario), &result, config.hot_bound);
    let traced = !result.trace.events.is_empty();
    Outcome {
        coverage: (config.coverage && traced).then(|| keys_of_trace(&result.trace)),
        trace_hash: traced.then(|| result.trace.hash()),
        trace: (config.keep_trace && traced).then(|| result.trace.clone()),
        schedule: result.schedule,
        findings,
        end: result.end,
        divergence: result.divergence,
        polls: result.polls,
    }
}
