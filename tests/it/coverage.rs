//! Rule coverage (`run --coverage` without `--explore`): the table in the human report, the
//! stable JSON, and the committed snapshot of the shipped corpus, which fails with a diff when
//! the corpus's coverage changes.

use super::show::{sim, stdout};

const SNAPSHOT: &str = "tests/snapshots/rule-coverage.json";

/// The lines of `a` and `b` that differ, as `- old` / `+ new` with line numbers.
fn diff(a: &str, b: &str) -> String {
    let (a, b): (Vec<&str>, Vec<&str>) = (a.lines().collect(), b.lines().collect());
    let mut out = String::new();
    for i in 0..a.len().max(b.len()) {
        let (x, y) = (a.get(i), b.get(i));
        if x != y {
            if let Some(x) = x {
                out.push_str(&format!("{:>5} - {x}\n", i + 1));
            }
            if let Some(y) = y {
                out.push_str(&format!("{:>5} + {y}\n", i + 1));
            }
        }
    }
    out
}

#[test]
fn the_corpus_coverage_matches_the_committed_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let now = dir.path().join("coverage.json");
    let o = sim(&[
        "run",
        "scenarios",
        "--coverage",
        "--report",
        &format!("coverage={}", now.display()),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    let now = std::fs::read_to_string(now).unwrap();
    let committed = std::fs::read_to_string(SNAPSHOT).unwrap();
    assert!(
        now == committed,
        "the rule coverage of scenarios/ changed (- committed, + now):\n{}\nIf the change is \
         intended, commit the new snapshot: cargo run -- run scenarios --coverage --report \
         coverage={SNAPSHOT}",
        diff(&committed, &now)
    );
    // Every checked rule of the catalogue is broken by some shipped scenario (the corpus is
    // the rules' executable documentation).
    let doc: serde_json::Value = serde_json::from_str(&now).unwrap();
    for r in doc["rules"].as_array().unwrap() {
        if r["check"] != "unchecked" {
            assert_eq!(r["status"], "broken", "{r}");
        }
    }
}

#[test]
fn coverage_without_explore_prints_a_table_and_counts_reach() {
    let o = sim(&[
        "run",
        "scenarios/conformance/create-context/hardware-busy.json",
        "--coverage",
        "--format",
        "json",
    ]);
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let c = &doc["rule_coverage"];
    assert_eq!(c["runs"], 1);
    let rule = |id: &str| {
        c["rules"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["rule"] == id)
            .unwrap()
            .clone()
    };
    // The scenario creates a context on a busy encoder: R17 is judged and kept; nothing sends
    // a data-rate notification, so R50 is never reached.
    assert_eq!(rule("R17")["status"], "exercised");
    assert_eq!(rule("R17")["kept"], 1);
    assert_eq!(rule("R50")["status"], "never_reached");
    assert_eq!(rule("R35")["status"], "unchecked");
    assert_eq!(c["broken"], 0);
    let human = stdout(&sim(&[
        "run",
        "scenarios/self-test/rules/kernel-message-unlocked.json",
        "--coverage",
    ]));
    assert!(
        human.contains("rule coverage over 1 runs: 1 broken, "),
        "{human}"
    );
    assert!(
        human
            .lines()
            .any(|l| l.trim_start().starts_with("R30   broken")
                && l.contains("[broken by knob-kernel-message-unlocked]")),
        "{human}"
    );
    assert!(
        human
            .lines()
            .any(|l| l.trim_start().starts_with("R50   never reached"))
    );
    assert_eq!(human.lines().last().unwrap(), "1 passed, 0 failed");
}
