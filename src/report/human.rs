//! The human report: `PASS name (N events, seed S)` / `FAIL ...` per scenario, one `SKIP N
//! scenarios (reason)` line per reason scenarios were left out, failure details, and the summary
//! line.
//!
//! A failure shows, for each crash or hang of a driver binary (a bugcheck-style finding): what
//! happened, the one-sentence finding (signal, DDI, thread), the culprit, and the last bridge
//! events before it; for each rule broken that the scenario does not expect: the rule id and
//! title, the one-sentence finding, the culprit, and the trace events that show it (by seq,
//! rendered as in the trace); then expected rules that were not broken, every other reason,
//! and the exact replay command.

use super::escape::{escape_lines, escape_text};
use super::{Outcome, RunReport, ScenarioReport};
use std::fmt::Write as _;

/// Trace events shown per violation.
const EVENTS_PER_VIOLATION: usize = 6;

/// The whole report as text.
///
/// Text from files, drivers and peers is untrusted: control characters anywhere in the report
/// are escaped ([`escape_lines`]), and names and paths are kept to one line.
pub fn render(report: &RunReport) -> String {
    escape_lines(&render_unescaped(report)).into_owned()
}

fn render_unescaped(report: &RunReport) -> String {
    let mut out = String::new();
    // Skipped scenarios (filtered, partitioned out, not run after an interrupt) get one line per
    // reason with their count, not a line each.
    let mut skipped: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
    for s in &report.scenarios {
        if s.outcome == Outcome::Skipped && s.cannot_run.is_empty() {
            *skipped
                .entry(s.skip_reason.as_deref().unwrap_or("skipped"))
                .or_default() += 1;
            continue;
        }
        out.push_str(&scenario_line(s));
        out.push('\n');
        if let Some(summary) = &s.explore_summary {
            for line in summary.lines() {
                out.push_str("    ");
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    for (reason, n) in &skipped {
        let _ = writeln!(
            out,
            "SKIP {n} scenario{} ({reason})",
            if *n == 1 { "" } else { "s" }
        );
    }
    let failures: Vec<&ScenarioReport> = report
        .scenarios
        .iter()
        .filter(|s| {
            matches!(
                s.outcome,
                Outcome::Failed | Outcome::Invalid | Outcome::Unavailable
            )
        })
        .collect();
    for s in failures {
        out.push('\n');
        out.push_str(&details(s));
    }
    if let Some(c) = &report.rule_coverage {
        out.push('\n');
        out.push_str(&c.table());
    }
    out.push('\n');
    out.push_str(&report.summary_line());
    out.push('\n');
    out
}

/// The one line of a scenario.
pub fn scenario_line(s: &ScenarioReport) -> String {
    let stats = s
        .result
        .as_ref()
        .map(|r| match r.died() {
            Some(how) => format!(" (the driver process died: {how}, seed {})", r.seed()),
            None => format!(" ({} events, seed {})", r.events(), r.seed()),
        })
        .unwrap_or_default();
    let stats = match &s.explore_verdict {
        Some(v) => format!(" {}", v.line_suffix()),
        None => stats,
    };
    // Names and paths come from files: one line each, control characters escaped.
    let name = escape_text(&s.name);
    let path = escape_text(&s.path);
    match s.outcome {
        Outcome::Passed => format!("PASS {name}{stats}"),
        Outcome::Failed => format!("FAIL {name}{stats}"),
        Outcome::Invalid => format!("INVALID {name} ({path})"),
        Outcome::Unavailable => format!("UNAVAILABLE {name} ({path})"),
        Outcome::Skipped => format!(
            "SKIP {name}{}",
            s.skip_reason
                .as_ref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default()
        ),
    }
}

/// The failure block of a scenario.
pub fn details(s: &ScenarioReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "--- {} ({})",
        escape_text(&s.name),
        escape_text(&s.path)
    );
    if let Some(invalid) = &s.invalid {
        out.push_str(&invalid.rendered);
        if !invalid.rendered.ends_with('\n') {
            out.push('\n');
        }
        return out;
    }
    let Some(verdict) = &s.verdict else {
        return out;
    };
    let Some(result) = &s.result else {
        // An exploration (or a run that never started): its reasons carry everything.
        for reason in &verdict.reasons {
            let _ = writeln!(out, "  {reason}");
        }
        return out;
    };
    for b in &verdict.bugchecks {
        let _ = writeln!(out, "  BUGCHECK {b}");
        let _ = writeln!(out, "    finding: {}", b.finding);
        let _ = writeln!(
            out,
            "    culprit: the driver binary (thread {}{})",
            b.thread,
            b.ddi
                .as_ref()
                .map(|d| format!(", inside {d}"))
                .unwrap_or_default()
        );
        let skip = b.last_events.len().saturating_sub(EVENTS_PER_VIOLATION);
        if !b.last_events.is_empty() {
            let _ = writeln!(out, "    last events:");
        }
        for e in &b.last_events[skip..] {
            let _ = writeln!(out, "      {e}");
        }
    }
    for v in &verdict.unexpected {
        let _ = writeln!(out, "  {} {}", v.rule, v.rule.rule().title);
        let _ = writeln!(out, "    finding: {}", v.finding);
        let _ = writeln!(out, "    culprit: {}", v.culprit);
        for seq in v.events.iter().take(EVENTS_PER_VIOLATION) {
            if let Some(e) = result.event(*seq) {
                let _ = writeln!(out, "      {e}");
            }
        }
    }
    for r in &verdict.missing {
        let _ = writeln!(
            out,
            "  expected {} ({}) to be broken, but it was not",
            r,
            r.rule().title
        );
    }
    for reason in &verdict.reasons {
        let _ = writeln!(out, "  {reason}");
    }
    if let Some(cmd) = s.replay_command() {
        let _ = writeln!(out, "  replay: {cmd}");
    }
    out
}
