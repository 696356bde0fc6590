//! Small things a new user trips over: one skipped count for `--filter`, JUnit `time`, short
//! replay tokens that name no path and know their backend.

use super::show::{sim, stdout};

#[test]
fn filter_reports_one_skipped_count_not_a_line_each() {
    let o = sim(&["run", "scenarios", "--filter", "R17"]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    let skips: Vec<&str> = out.lines().filter(|l| l.starts_with("SKIP")).collect();
    assert_eq!(skips.len(), 1, "{out}");
    let n: usize = skips[0]
        .strip_prefix("SKIP ")
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap();
    assert_eq!(
        skips[0],
        format!("SKIP {n} scenarios (filtered out by `R17`)")
    );
    let ran = out.lines().filter(|l| l.starts_with("PASS ")).count();
    assert_eq!(
        out.lines().last().unwrap(),
        format!("{ran} passed, 0 failed, {n} skipped")
    );
}

#[test]
fn junit_test_cases_carry_their_time() {
    let o = sim(&["run", "scenarios/lifecycle", "--format", "junit"]);
    let report = quick_junit::Report::deserialize_from_str(&stdout(&o)).expect("JUnit XML");
    let suite = &report.test_suites[0];
    assert_eq!(suite.test_cases.len(), 3);
    let total: std::time::Duration = suite
        .test_cases
        .iter()
        .map(|c| c.time.expect("a test case without time"))
        .sum();
    assert!(total > std::time::Duration::ZERO);
    // The suite's time is the sum of its cases' (each written to the millisecond).
    let suite_time = suite.time.expect("the suite's time");
    let ms = |d: std::time::Duration| d.as_millis().abs_diff(total.as_millis());
    assert!(ms(suite_time) <= 3, "{suite_time:?} vs {total:?}");
}

#[test]
fn tokens_are_short_name_no_path_and_know_their_backend() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("run.json");
    // A whole session (hundreds of choices), run from another folder than its scenario.
    let copy = dir.path().join("elsewhere/kmu.json");
    std::fs::create_dir_all(copy.parent().unwrap()).unwrap();
    std::fs::copy("scenarios/rules/kernel-message-unlocked.json", &copy).unwrap();
    let mut doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&copy).unwrap()).unwrap();
    doc["expect"]["violations"] = serde_json::json!([]);
    std::fs::write(&copy, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
    let o = sim(&[
        "run",
        copy.to_str().unwrap(),
        "--format",
        "json",
        "--out",
        json.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let token = report["scenarios"][0]["replay_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let events = report["scenarios"][0]["result"]["trace"]
        .as_array()
        .unwrap()
        .len();
    assert!(events > 400, "a whole session");
    assert!(
        token.starts_with("m2") && token.len() < 200,
        "{} characters: {token}",
        token.len()
    );
    assert!(!token.contains("json"));
    // Found by its content among the paths given, from any working directory.
    let r = sim(&["replay", &token, dir.path().to_str().unwrap()]);
    let out = stdout(&r);
    assert_eq!(r.status.code(), Some(1), "{out}");
    assert!(out.contains("the replay followed all"), "{out}");
    assert!(out.contains(copy.to_str().unwrap()), "{out}");
    // A report finds its own scenarios.
    let r = sim(&["replay", json.to_str().unwrap()]);
    assert!(
        stdout(&r).contains("the replay followed all"),
        "{}",
        stdout(&r)
    );
    // Another backend: said, and refused unless forced.
    let other = sim(&[
        "replay",
        &token,
        dir.path().to_str().unwrap(),
        "--backend",
        "real:/nonexistent/lib.so",
    ]);
    assert_eq!(other.status.code(), Some(2));
    let err = String::from_utf8_lossy(&other.stderr);
    assert!(
        err.contains("recorded on backend `model`") && err.contains("--force"),
        "{err}"
    );
}
