//! The JSON report: the whole run, machine-readable. Each scenario carries its outcome, verdict,
//! violations, seed, replay token and trace (as structured events and as the stable text).

use super::RunReport;
use serde_json::{Value, json};

/// Format version of the JSON report: 2 adds the check of every violation and typed trace
/// events (`trace_format`, described by `miracast-sim schema --trace`).
pub const REPORT_VERSION: u32 = 2;

/// The report as pretty JSON with a trailing newline.
pub fn render(report: &RunReport) -> String {
    let scenarios: Vec<Value> = report
        .scenarios
        .iter()
        .map(|s| {
            let mut v = serde_json::to_value(s).unwrap_or(Value::Null);
            if let (Some(obj), Some(result)) = (v.as_object_mut(), &s.result) {
                obj.insert("trace_text".to_owned(), Value::String(result.trace_text()));
            }
            v
        })
        .collect();
    let counts = report.counts();
    let mut doc = json!({
        "version": REPORT_VERSION,
        "trace_format": crate::trace::TRACE_FORMAT_VERSION,
        "summary": report.summary_line(),
        "counts": counts,
        "scenarios": scenarios,
    });
    if let (Some(c), Some(obj)) = (&report.rule_coverage, doc.as_object_mut()) {
        let value = serde_json::from_str(&c.to_json()).unwrap_or(Value::Null);
        obj.insert("rule_coverage".to_owned(), value);
    }
    let mut text = serde_json::to_string_pretty(&doc).unwrap_or_default();
    text.push('\n');
    text
}
