//! The JUnit XML report (`quick-junit`): one test suite, one test case per scenario file.
//! Failures carry the rules broken, the findings and the replay command; invalid files are
//! errors; filtered or partitioned-out scenarios are skipped. Each test case, the suite and the
//! report carry `time`: the wall-clock seconds each scenario took.

use super::{Outcome, RunReport, human};
use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

/// The report as JUnit XML.
pub fn render(report: &RunReport) -> String {
    let mut suite = TestSuite::new("scenarios");
    for s in &report.scenarios {
        let status = match s.outcome {
            Outcome::Passed => TestCaseStatus::success(),
            Outcome::Skipped => {
                let mut st = TestCaseStatus::skipped();
                if let Some(r) = &s.skip_reason {
                    st.set_message(r.clone());
                }
                st
            }
            Outcome::Failed | Outcome::Unavailable => {
                let mut st = TestCaseStatus::non_success(NonSuccessKind::Failure);
                let verdict = s.verdict.as_ref();
                let rules: Vec<String> = verdict
                    .map(|v| {
                        v.unexpected
                            .iter()
                            .map(|x| format!("{} {}: {}", x.rule, x.rule.rule().title, x.finding))
                            .collect()
                    })
                    .unwrap_or_default();
                let message = match (
                    verdict
                        .and_then(|v| v.bugchecks.first())
                        .map(|b| &b.finding)
                        .or(rules.first()),
                    verdict.and_then(|v| v.missing.first()),
                    verdict.and_then(|v| v.reasons.first()),
                ) {
                    (Some(r), _, _) => r.clone(),
                    (None, Some(m), _) => format!("expected {m} to be broken, but it was not"),
                    (None, None, Some(reason)) => reason.clone(),
                    _ => "failed".to_owned(),
                };
                st.set_message(message);
                st.set_type(if s.outcome == Outcome::Unavailable {
                    "backend-unavailable"
                } else if verdict.is_some_and(|v| !v.bugchecks.is_empty()) {
                    "driver-bugcheck"
                } else {
                    "scenario-failed"
                });
                st.set_description(human::details(s));
                st
            }
            Outcome::Invalid => {
                let mut st = TestCaseStatus::non_success(NonSuccessKind::Error);
                if let Some(i) = &s.invalid {
                    st.set_message(i.message.clone());
                    st.set_description(i.rendered.clone());
                }
                st.set_type("invalid-scenario");
                st
            }
        };
        let mut case = TestCase::new(s.name.clone(), status);
        case.set_classname(s.path.clone());
        if let Some(t) = s.wall_time {
            case.set_time(t);
        }
        if let Some(r) = &s.result {
            case.add_property(quick_junit::Property::new("seed", r.seed().to_string()));
            case.add_property(quick_junit::Property::new("events", r.events().to_string()));
        }
        if let Some(cmd) = s.replay_command() {
            case.add_property(quick_junit::Property::new("replay", cmd));
        }
        suite.add_test_case(case);
    }
    let total: std::time::Duration = report.scenarios.iter().filter_map(|s| s.wall_time).sum();
    suite.set_time(total);
    let mut report_xml = Report::new("miracast-sim");
    report_xml.set_time(total);
    report_xml.add_test_suite(suite);
    report_xml.to_string().unwrap_or_default()
}
