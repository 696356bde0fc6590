//! One verdict under `run --explore`: a scenario's line, its findings, the JSON report and the
//! exit code agree, over the whole shipped corpus and for the three cases that used to
//! contradict each other (expected rules found, an expected rule never found, a failure that is
//! not a rule).

use super::show::{sim, stdout};
use std::collections::BTreeSet;
use std::path::Path;

/// A copy of a shipped scenario with its `expect` changed by `edit`.
fn edited(dir: &Path, from: &str, name: &str, edit: impl Fn(&mut serde_json::Value)) -> String {
    let mut doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(from).unwrap()).unwrap();
    doc["name"] = serde_json::json!(name);
    edit(&mut doc);
    let path = dir.join(format!("{name}.json"));
    std::fs::write(&path, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
    path.to_string_lossy().into_owned()
}

/// The scenario lines of a human report: (PASS or FAIL, name, the rest).
fn lines(out: &str) -> Vec<(String, String, String)> {
    out.lines()
        .filter(|l| l.starts_with("PASS ") || l.starts_with("FAIL "))
        .map(|l| {
            let (word, rest) = l.split_once(' ').unwrap();
            let (name, tail) = rest.split_once(' ').unwrap_or((rest, ""));
            (word.to_owned(), name.to_owned(), tail.to_owned())
        })
        .collect()
}

#[test]
fn every_shipped_scenario_line_verdict_and_exit_code_agree_under_explore() {
    let dir = tempfile::tempdir().unwrap();
    let json_path = dir.path().join("run.json");
    let o = sim(&[
        "run",
        "scenarios",
        "--explore=8",
        "--report",
        &format!("json={}", json_path.display()),
    ]);
    let out = stdout(&o);
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json_path).unwrap()).unwrap();
    let scenarios = doc["scenarios"].as_array().unwrap();
    let shown = lines(&out);
    assert_eq!(shown.len(), scenarios.len(), "{out}");
    let mut failed = 0;
    for ((word, name, tail), s) in shown.iter().zip(scenarios) {
        let v = &s["explore_verdict"];
        let passed = v["passed"].as_bool().unwrap();
        assert_eq!(s["name"].as_str().unwrap(), name);
        assert_eq!(word == "PASS", passed, "{name}: line {word} {tail} vs {v}");
        assert_eq!(
            s["outcome"].as_str().unwrap(),
            if passed { "passed" } else { "failed" },
            "{name}"
        );
        let keys = |field: &str| -> BTreeSet<String> {
            v[field]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f["key"].as_str().unwrap().to_owned())
                .collect()
        };
        let (unexpected, found) = (keys("unexpected"), keys("found_as_expected"));
        let missing: BTreeSet<String> = v["missing"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_str().unwrap().to_owned())
            .collect();
        // The verdict is exactly "nothing unexpected, nothing missing".
        assert_eq!(
            passed,
            unexpected.is_empty() && missing.is_empty(),
            "{name}: {v}"
        );
        // Found-as-expected keys are exactly the expected rules that some schedule broke.
        let expected: BTreeSet<String> = std::fs::read_to_string(s["path"].as_str().unwrap())
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .and_then(|d| {
                let list = d["expect"]["violations"]
                    .as_array()
                    .or(d["expect"]["expect_violations"].as_array())
                    .cloned();
                list.map(|l| {
                    l.iter()
                        .map(|r| r.as_str().unwrap().to_owned())
                        .collect::<BTreeSet<String>>()
                })
            })
            .unwrap_or_default();
        assert!(found.is_subset(&expected), "{name}: {found:?} {expected:?}");
        assert!(unexpected.is_disjoint(&expected), "{name}");
        assert_eq!(
            found.union(&missing).cloned().collect::<BTreeSet<_>>(),
            expected,
            "{name}"
        );
        // The line says what the verdict says.
        for k in &unexpected {
            assert!(
                tail.contains("unexpected: ") && tail.contains(k.as_str()),
                "{tail}"
            );
        }
        for r in &missing {
            assert!(
                tail.contains(&format!("expected {r}, not found in ")),
                "{tail}"
            );
        }
        for k in &found {
            assert!(tail.contains("found as expected: ") && tail.contains(k.as_str()));
        }
        // The details under the line: FAIL only for unexpected findings.
        let block: Vec<&str> = out
            .lines()
            .skip_while(|l| !l.starts_with(&format!("{word} {name} ")))
            .skip(1)
            .take_while(|l| l.starts_with("    "))
            .collect();
        for l in &block {
            if let Some(k) = l.trim_start().strip_prefix("FAIL ") {
                let key = k.split(' ').next().unwrap();
                assert!(unexpected.contains(key), "{name}: {l}");
            }
            if let Some(k) = l.trim_start().strip_prefix("FOUND (expected) ") {
                let key = k.split(' ').next().unwrap();
                assert!(found.contains(key), "{name}: {l}");
            }
        }
        failed += usize::from(!passed);
    }
    let summary = out.lines().last().unwrap();
    assert_eq!(
        summary,
        format!("{} passed, {failed} failed", scenarios.len() - failed)
    );
    assert_eq!(doc["summary"].as_str().unwrap(), summary);
    assert_eq!(
        o.status.code(),
        Some(if failed > 0 { 1 } else { 0 }),
        "{summary}"
    );
}

#[test]
fn expected_rules_found_pass_and_say_so() {
    let o = sim(&[
        "run",
        "scenarios/self-test/rules/no-departure-at-kmd-destroy.json",
        "--explore=5",
    ]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    let first = out.lines().next().unwrap();
    assert!(
        first.starts_with("PASS ") && first.contains("found as expected: R12 in 5"),
        "{first}"
    );
    assert!(
        out.contains("FOUND (expected) R12 in 5 of 5 schedules"),
        "{out}"
    );
    assert!(
        !out.lines().any(|l| l.trim_start().starts_with("FAIL ")),
        "{out}"
    );
}

#[test]
fn an_expected_rule_no_schedule_broke_fails() {
    let dir = tempfile::tempdir().unwrap();
    let path = edited(
        dir.path(),
        "scenarios/conformance/create-context/hardware-busy.json",
        "expects-r17",
        |d| {
            // Expecting a violation makes it a self-test scenario.
            d["kind"] = serde_json::json!("self-test");
            d["expect"]["violations"] = serde_json::json!(["R17"]);
        },
    );
    let o = sim(&["run", &path, "--explore=4"]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    let first = out.lines().next().unwrap();
    assert!(
        first.starts_with("FAIL expects-r17 ")
            && first.contains("expected R17, not found in 4 schedules"),
        "{first}"
    );
    assert!(
        out.contains("MISSING expected R17, not found in 4 schedules"),
        "{out}"
    );
    assert_eq!(out.lines().last().unwrap(), "0 passed, 1 failed");
}

#[test]
fn a_knob_scenario_that_fails_a_plain_run_fails_under_explore() {
    let dir = tempfile::tempdir().unwrap();
    // The knob breaks R12; without the expectation a plain run fails, and so must exploration.
    let rule = edited(
        dir.path(),
        "scenarios/self-test/rules/no-departure-at-kmd-destroy.json",
        "knob-unexpected",
        |d| d["expect"]["violations"] = serde_json::json!([]),
    );
    assert_eq!(sim(&["run", &rule]).status.code(), Some(1));
    let o = sim(&["run", &rule, "--explore=4"]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.lines().next().unwrap().contains("unexpected: R12 in 4"),
        "{out}"
    );
    // A failure that is not a rule: a step status the driver does not return.
    let status = edited(
        dir.path(),
        "scenarios/conformance/create-context/hardware-busy.json",
        "wrong-status",
        |d| d["steps"][1]["expect_status"] = serde_json::json!("STATUS_SUCCESS"),
    );
    assert_eq!(sim(&["run", &status]).status.code(), Some(1));
    let o = sim(&["run", &status, "--explore=3"]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("unexpected: expect in 3"), "{out}");
    assert!(out.contains("expected STATUS_SUCCESS"), "{out}");
}

/// The conformance corpus holds on every ordering the reference drivers are explored in: its
/// expectations say what any correct driver shows, not what one schedule happens to show.
#[test]
fn the_conformance_corpus_passes_explored_on_the_reference_drivers() {
    let n = miracast_sim::scenario::discover(&[std::path::PathBuf::from("scenarios/conformance")])
        .unwrap()
        .len();
    let o = sim(&["run", "scenarios/conformance", "--explore=100"]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.ends_with(&format!("{n} passed, 0 failed\n")), "{out}");
}

#[test]
fn expectations_that_show_one_ordering_pass_when_some_schedule_shows_it_and_fail_when_none_does() {
    const SHOWN: &str = "scenarios/self-test/os-model/completion-before-send-returns.json";
    let dir = tempfile::tempdir().unwrap();
    let o = sim(&["run", SHOWN, "--explore=50"]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    let (word, _, tail) = &lines(&out)[0];
    assert_eq!(word, "PASS", "{out}");
    assert!(tail.contains("its ordering shown in "), "{tail}");
    // The other schedules are listed, with a token, as another ordering, not as a failure.
    assert!(
        out.contains("OTHER ORDERING (expected: holds_on some) expect in "),
        "{out}"
    );
    assert!(out.contains("SHOWN the expected ordering in "), "{out}");

    // Without `holds_on: some`, the same exploration fails on the orderings it does not show.
    let every = edited(dir.path(), SHOWN, "every-ordering", |doc| {
        doc["expect"].as_object_mut().unwrap().remove("holds_on");
    });
    let o = sim(&["run", &every, "--explore=50"]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(lines(&out)[0].2.contains("unexpected: expect in "), "{out}");

    // An ordering no schedule can show (the completion before the message was even sent)
    // fails with the schedules it was looked for in.
    let never = edited(dir.path(), SHOWN, "impossible-ordering", |doc| {
        doc["expect"]["before"] = serde_json::json!([{
            "first": { "ddi": "DxgkCbMiracastSendMessageCallback" },
            "then": { "ddi": "DxgkCbMiracastSendMessage" }
        }]);
    });
    let o = sim(&["run", &never, "--explore=50"]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    let (word, _, tail) = &lines(&out)[0];
    assert_eq!(word, "FAIL", "{out}");
    assert!(tail.contains("its ordering shown in 0"), "{tail}");
    assert!(
        out.contains("NOT SHOWN the expected ordering in 0 of "),
        "{out}"
    );
}
