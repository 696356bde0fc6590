//! Judging a [`RunResult`] against the scenario's `expect`: pass or fail, with every reason.

use super::{Bugcheck, RunError, RunResult};
use crate::rules::{CheckId, Culprit, RuleId, Violation};
use crate::scenario::{Matcher, Scenario, Step, StepOp};
use crate::sched::RunEnd;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// Pass or fail, and why.
///
/// It crosses the process boundary of an isolated run (`run --isolate`), so it reads back from
/// its own JSON.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Verdict {
    /// Everything the scenario expects happened, and nothing else was broken.
    pub passed: bool,
    /// The driver binary crashed or hung: bugcheck-style findings (not documented rules).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bugchecks: Vec<Bugcheck>,
    /// Violations of rules the scenario does not expect (one per rule: the first).
    #[serde(deserialize_with = "violations_from_json")]
    pub unexpected: Vec<Violation>,
    /// Rules the scenario expects to be broken that were not.
    pub missing: Vec<RuleId>,
    /// Every other reason (step statuses, end state, trace assertions, run end), one sentence
    /// each.
    pub reasons: Vec<String>,
    /// The run could not happen (backend unavailable).
    pub unavailable: bool,
}

/// Compares `result` with `scenario.expect` and the steps' `expect_status`.
pub fn judge(scenario: &Scenario, result: &RunResult) -> Verdict {
    let mut v = Verdict::default();
    match &result.error {
        Some(RunError::BackendUnavailable(m)) => {
            v.unavailable = true;
            v.reasons.push(format!("backend unavailable: {m}"));
            return v;
        }
        Some(e @ RunError::Panic(_)) => {
            v.reasons.push(e.to_string());
            return v;
        }
        None => {}
    }
    v.bugchecks.clone_from(&result.driver_faults);
    match &result.end {
        RunEnd::Completed => {}
        RunEnd::Deadlock { chain } => v.reasons.push(format!(
            "the run deadlocked (no thread can run and no timer is pending): {}",
            crate::explore::liveness::describe_chain(chain)
        )),
        RunEnd::StepLimit => v.reasons.push(format!(
            "the run hit the scheduler's step limit (a livelock, or a scenario too long for the limit); still alive: {}",
            crate::explore::liveness::describe_chain(&result.blocked)
        )),
        RunEnd::TimeLimit => v.reasons.push(format!(
            "the run hit the virtual-time limit: nothing finished the run; still alive: {}",
            crate::explore::liveness::describe_chain(&result.blocked)
        )),
        RunEnd::Abandoned => v.reasons.push("the run was abandoned by an exploration strategy (it repeated an explored schedule) and is not judged".to_owned()),
    }

    let found: BTreeSet<RuleId> = result.violations.iter().map(|x| x.rule).collect();
    let mut seen = BTreeSet::new();
    for x in &result.violations {
        if !scenario.expect.violations.contains(&x.rule) && seen.insert(x.rule) {
            v.unexpected.push(x.clone());
        }
    }
    v.missing = scenario
        .expect
        .violations
        .difference(&found)
        .copied()
        .collect();

    v.reasons.extend(expectation_reasons(scenario, result));
    v.passed = v.bugchecks.is_empty()
        && v.unexpected.is_empty()
        && v.missing.is_empty()
        && v.reasons.is_empty();
    v
}

/// What the scenario's own expectations say about `result`, beyond the rules: the steps'
/// `expect_status`, the final state (`final_phase`, ...) and the trace assertions (`happens`,
/// `before`, `never`), one sentence each. How the run ended and which rules were broken are
/// not included ([`judge`] adds those); exploration judges every schedule with this.
pub fn expectation_reasons(scenario: &Scenario, result: &RunResult) -> Vec<String> {
    let mut reasons = Vec::new();
    check_steps(&scenario.steps, result, &mut reasons);

    if let Some(snapshot) = &result.snapshot {
        let expect = &scenario.expect;
        if let Some(phase) = expect.final_phase
            && snapshot.phase != phase
        {
            reasons.push(format!(
                "the session ended in phase {:?}, expected {phase:?}",
                snapshot.phase
            ));
        }
        if let Some(connected) = expect.final_monitor_connected
            && snapshot.monitor_connected != connected
        {
            reasons.push(format!(
                "the Miracast monitor ended {}, expected {}",
                connected_word(snapshot.monitor_connected),
                connected_word(connected)
            ));
        }
        if let Some(n) = expect.final_gpu_contexts
            && snapshot.gpu_contexts != n as usize
        {
            reasons.push(format!(
                "{} GPU contexts alive at the end, expected {n}",
                snapshot.gpu_contexts
            ));
        }
    }

    if scenario.expect.needs_trace() {
        check_trace(scenario, result, &mut reasons);
    }
    reasons
}

/// A [`Violation`] as it is written in JSON, read back.
#[derive(Deserialize)]
struct ViolationJson {
    rule: RuleId,
    check: CheckId,
    culprit: String,
    finding: String,
    events: Vec<u32>,
}

fn violations_from_json<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Vec<Violation>, D::Error> {
    Vec::<ViolationJson>::deserialize(d)?
        .into_iter()
        .map(|v| {
            let culprit = match v.culprit.as_str() {
                "Kmd" => Culprit::Kmd,
                "Umd" => Culprit::Umd,
                "OsModel" => Culprit::OsModel,
                "Sink" => Culprit::Sink,
                other => {
                    return Err(serde::de::Error::custom(format!(
                        "unknown culprit `{other}`"
                    )));
                }
            };
            Ok(Violation {
                rule: v.rule,
                check: v.check,
                culprit,
                finding: v.finding,
                events: v.events,
            })
        })
        .collect()
}

fn connected_word(c: bool) -> &'static str {
    if c { "connected" } else { "not connected" }
}

fn check_steps(steps: &[Step], result: &RunResult, reasons: &mut Vec<String>) {
    for step in steps {
        if let StepOp::Parallel(branches) = &step.op {
            branches
                .iter()
                .for_each(|b| check_steps(b, result, reasons));
        }
        let Some(want) = step.expect_status else {
            continue;
        };
        let Some(outcome) = result.steps.get(step.index) else {
            continue;
        };
        if !outcome.ran {
            reasons.push(format!(
                "{} (line {}) expected {want} but the run ended before the step",
                step.label(),
                step.line
            ));
            continue;
        }
        match outcome.status {
            Some(got) if got == want => {}
            Some(got) => reasons.push(format!("{} (line {}) returned {got}, expected {want}", step.label(), step.line)),
            None => reasons.push(format!("{} (line {}) expected {want} but the OS did not make the call (see the trace note at the step)", step.label(), step.line)),
        }
    }
}

fn check_trace(scenario: &Scenario, result: &RunResult, reasons: &mut Vec<String>) {
    let name = |t: u32| {
        result
            .thread_names
            .get(t as usize)
            .map_or("", String::as_str)
    };
    let first = |m: &Matcher| {
        result
            .trace
            .events
            .iter()
            .find(|e| m.matches(e, name(e.thread)))
            .map(|e| e.seq)
    };
    let last = |m: &Matcher| {
        result
            .trace
            .events
            .iter()
            .rev()
            .find(|e| m.matches(e, name(e.thread)))
            .map(|e| e.seq)
    };
    for m in &scenario.expect.happens {
        if first(m).is_none() {
            reasons.push(format!(
                "expected an event matching {} but none happened",
                m.source
            ));
        }
    }
    for (a, b) in &scenario.expect.before {
        match (first(a), last(b)) {
            (Some(x), Some(y)) if x < y => {}
            (None, _) => reasons.push(format!("`before`: no event matches {}", a.source)),
            (_, None) => reasons.push(format!("`before`: no event matches {}", b.source)),
            (Some(x), Some(y)) => reasons.push(format!(
                "`before`: the first {} (#{x}) is not before the last {} (#{y})",
                a.source, b.source
            )),
        }
    }
    for m in &scenario.expect.never {
        if let Some(e) = result
            .trace
            .events
            .iter()
            .find(|e| m.matches(e, name(e.thread)))
        {
            reasons.push(format!("`never` {} matched: {e}", m.source));
        }
    }
}
