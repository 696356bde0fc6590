//! The built `miracast-sim` binary: exit codes, reports (human, JSON, JUnit), `--partition`,
//! `--jobs`, `replay`, `explain`, errors for broken scenario files, and (feature `real-driver`)
//! scenarios against driver binaries, isolated in child processes by default.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output};

fn sim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_miracast-sim"))
        .args(args)
        .env("CI", "true")
        .output()
        .expect("the binary runs")
}

fn code(o: &Output) -> i32 {
    o.status.code().expect("exited normally")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A copy of a negative scenario with its expectation removed: it fails.
fn failing_scenario(dir: &Path) -> std::path::PathBuf {
    let text =
        std::fs::read_to_string("scenarios/self-test/rules/no-departure-at-kmd-destroy.json")
            .unwrap();
    let mut doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    doc["expect"]["violations"] = serde_json::json!([]);
    doc["name"] = serde_json::json!("failing-copy");
    let path = dir.join("failing.json");
    std::fs::write(&path, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
    path
}

#[test]
fn passing_corpus_exits_0_with_the_summary_last() {
    let o = sim(&[
        "run",
        "scenarios/conformance/lifecycle",
        "scenarios/conformance/start-session",
    ]);
    assert_eq!(code(&o), 0, "{}", stdout(&o));
    let out = stdout(&o);
    let last = out.lines().last().unwrap();
    let n = out.lines().filter(|l| l.starts_with("PASS ")).count();
    assert_eq!(last, format!("{n} passed, 0 failed"));
    assert!(
        out.lines().next().unwrap().contains(" events, seed 0)"),
        "{out}"
    );
}

#[test]
fn a_failure_exits_1_and_prints_rule_finding_events_and_replay_command() {
    let dir = tempfile::tempdir().unwrap();
    let path = failing_scenario(dir.path());
    let o = sim(&["run", path.to_str().unwrap()]);
    assert_eq!(code(&o), 1);
    let out = stdout(&o);
    assert!(out.contains("FAIL failing-copy"), "{out}");
    assert!(out.contains("R12 "), "{out}");
    assert!(out.contains("finding: "), "{out}");
    assert!(out.contains("culprit: KMD"), "{out}");
    assert!(
        out.lines().any(|l| l.trim_start().starts_with('#')),
        "no trace excerpt: {out}"
    );
    let replay = out
        .lines()
        .find_map(|l| l.trim().strip_prefix("replay: miracast-sim replay "))
        .expect("replay command")
        .to_owned();
    assert_eq!(out.lines().last().unwrap(), "0 passed, 1 failed");

    // The token names no path: the scenario is found by its content hash where it is told to
    // look, and without a place to look it says so.
    let lost = sim(&["replay", &replay]);
    assert_eq!(code(&lost), 2, "{}", stdout(&lost));
    assert!(String::from_utf8_lossy(&lost.stderr).contains("no scenario with content hash"));
    let r = sim(&["replay", &replay, dir.path().to_str().unwrap()]);
    assert_eq!(code(&r), 1, "{}", stdout(&r));
    assert!(
        stdout(&r).contains("the replay followed all"),
        "{}",
        stdout(&r)
    );
}

#[test]
fn invalid_scenarios_exit_2_with_located_errors_but_a_failure_wins() {
    let o = sim(&["run", "tests/data/bad-scenarios"]);
    assert_eq!(code(&o), 2);
    let out = stdout(&o);
    assert!(
        out.contains("tests/data/bad-scenarios/unknown-status.json:7:48"),
        "{out}"
    );
    assert!(out.contains("did you mean STATUS_PENDING?"), "{out}");
    assert!(
        out.contains("tests/data/bad-scenarios/wrong-phase.json:7:13"),
        "{out}"
    );

    let v = sim(&["validate", "tests/data/bad-scenarios"]);
    assert_eq!(code(&v), 2);
    let bad =
        miracast_sim::scenario::discover(&[std::path::PathBuf::from("tests/data/bad-scenarios")])
            .expect("tests/data/bad-scenarios")
            .len();
    assert!(
        stdout(&v).ends_with(&format!("0 valid, {bad} invalid\n")),
        "{}",
        stdout(&v)
    );

    // One invalid file does not stop the others, and a failed scenario orders before it.
    let dir = tempfile::tempdir().unwrap();
    failing_scenario(dir.path());
    std::fs::copy(
        "tests/data/bad-scenarios/unknown-op.json",
        dir.path().join("unknown-op.json"),
    )
    .unwrap();
    std::fs::copy(
        "scenarios/conformance/lifecycle/connect-disconnect.json",
        dir.path().join("ok.json"),
    )
    .unwrap();
    let mixed = sim(&["run", dir.path().to_str().unwrap()]);
    assert_eq!(code(&mixed), 1);
    let out = stdout(&mixed);
    assert!(
        out.contains("PASS connect-disconnect")
            && out.contains("INVALID ")
            && out.contains("FAIL failing-copy"),
        "{out}"
    );
}

#[test]
fn an_unavailable_backend_has_its_own_exit_code() {
    let o = sim(&[
        "run",
        "scenarios/conformance/lifecycle/connect-disconnect.json",
        "--backend",
        "real:/nonexistent/driver.so",
    ]);
    assert_eq!(code(&o), 3, "{}", stdout(&o));
    assert!(stdout(&o).contains("backend unavailable"), "{}", stdout(&o));
    let usage = sim(&["run", "--backend", "sim"]);
    assert_eq!(code(&usage), 2);
}

#[test]
fn junit_and_json_reports_come_from_one_run_and_parse_back() {
    let dir = tempfile::tempdir().unwrap();
    let junit = dir.path().join("out/junit.xml");
    let json = dir.path().join("run.json");
    let o = sim(&[
        "run",
        "scenarios/conformance/messages",
        "--format",
        "junit",
        "--report",
        &format!("junit={}", junit.display()),
        "--report",
        &format!("json={}", json.display()),
    ]);
    assert_eq!(code(&o), 0);
    let report = quick_junit::Report::deserialize_from_str(&stdout(&o)).expect("valid JUnit XML");
    let cases: usize = report.test_suites.iter().map(|s| s.test_cases.len()).sum();
    let files = std::fs::read_dir("scenarios/conformance/messages")
        .unwrap()
        .count();
    assert_eq!(cases, files);
    assert_eq!(std::fs::read_to_string(&junit).unwrap(), stdout(&o));
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let first = &doc["scenarios"][0];
    assert!(
        first["replay_token"].is_string()
            && first["trace_text"].is_string()
            && first["result"]["seed"].is_u64(),
        "{first}"
    );
}

#[test]
fn partitions_are_disjoint_and_cover_everything() {
    let ran = |part: &str| -> BTreeSet<String> {
        let o = sim(&["run", "scenarios", "--partition", part, "--format", "json"]);
        assert_eq!(code(&o), 0);
        let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        doc["scenarios"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["outcome"] != "skipped")
            .map(|s| s["path"].as_str().unwrap().to_owned())
            .collect()
    };
    let parts: Vec<BTreeSet<String>> = ["1/3", "2/3", "3/3"].iter().map(|p| ran(p)).collect();
    let all = ran("1/1");
    let mut union = BTreeSet::new();
    for (i, p) in parts.iter().enumerate() {
        for q in &parts[i + 1..] {
            assert!(p.is_disjoint(q));
        }
        union.extend(p.iter().cloned());
    }
    assert_eq!(union, all);
    let o = sim(&["run", "scenarios", "--partition", "1/3"]);
    assert!(
        stdout(&o).lines().last().unwrap().ends_with(" skipped"),
        "{}",
        stdout(&o)
    );
    assert_eq!(code(&sim(&["run", "scenarios", "--partition", "4/3"])), 2);
}

#[test]
fn jobs_do_not_change_the_results() {
    let one = sim(&["run", "scenarios", "--jobs", "1", "--format", "json"]);
    let two = sim(&["run", "scenarios", "--jobs", "2", "--format", "json"]);
    assert_eq!(code(&one), 0);
    assert_eq!(one.stdout, two.stdout);
}

#[test]
fn filter_skips_by_name_or_tag() {
    let o = sim(&[
        "run",
        "scenarios",
        "--filter",
        "Wireless Display Verify Sleep",
    ]);
    assert_eq!(code(&o), 0);
    let out = stdout(&o);
    assert_eq!(
        out.lines().filter(|l| l.starts_with("PASS ")).count(),
        1,
        "{out}"
    );
    assert!(
        out.lines()
            .last()
            .unwrap()
            .starts_with("1 passed, 0 failed, "),
        "{out}"
    );
}

#[test]
fn help_lists_exit_codes_and_every_command() {
    let o = sim(&["--help"]);
    assert_eq!(code(&o), 0);
    let out = stdout(&o);
    for needle in [
        "Exit codes:",
        "  3  ",
        "run",
        "validate",
        "schema",
        "rules",
        "explain",
        "replay",
        "sink",
        "source",
        "wfd",
    ] {
        assert!(
            out.contains(needle),
            "`{needle}` missing from --help:\n{out}"
        );
    }
}

#[test]
fn rules_explain_and_schema() {
    let rules = sim(&["rules"]);
    assert_eq!(code(&rules), 0);
    assert!(
        stdout(&rules)
            .lines()
            .filter(|l| l.starts_with('R'))
            .count()
            >= 74
    );
    // Per backend: every checked rule on the reference drivers, and how binaries are judged.
    let table = stdout(&rules);
    assert!(
        table.starts_with("rule grp severity check      reference binaries  title"),
        "{table}"
    );
    let r11 = table.lines().find(|l| l.starts_with("R11 ")).unwrap();
    assert!(r11.contains(" yes       profile "), "{r11}");
    // R30 is judged on a C UMD built for the race check; the Tracked-cell check still says
    // why it alone does not reach binaries.
    let r30 = table.lines().find(|l| l.starts_with("R30 ")).unwrap();
    assert!(r30.contains(" yes       yes "), "{r30}");
    assert!(!table.contains("not on binaries:"), "{table}");
    let explain = stdout(&sim(&["explain", "R30"]));
    assert!(explain.contains("  binaries: yes\n"), "{explain}");
    assert!(
        explain.contains("check:    UmdRace (race, binaries: all)")
            && explain
                .contains("not on binaries: it sees state a Rust driver keeps in Tracked cells"),
        "{explain}"
    );
    let explain = sim(&["explain", "R71"]);
    assert!(
        stdout(&explain).contains("  binaries: yes\n"),
        "{}",
        stdout(&explain)
    );
    let explain = sim(&["explain", "R26"]);
    assert_eq!(code(&explain), 0);
    assert!(
        stdout(&explain).contains("  reference drivers: yes\n  binaries: linux\n"),
        "{}",
        stdout(&explain)
    );
    assert!(
        stdout(&explain).contains(
            "on binaries on Linux only: a binary's buffers are compared through process_vm_readv"
        ),
        "{}",
        stdout(&explain)
    );
    let r42 = table.lines().find(|l| l.starts_with("R42 ")).unwrap();
    assert!(r42.contains(" yes       yes "), "{r42}");
    assert!(
        stdout(&explain).contains("scenarios/self-test/rules/message-buffer-released-early.json"),
        "{}",
        stdout(&explain)
    );
    assert_eq!(code(&sim(&["explain", "R99"])), 2);
    let schema = sim(&["schema"]);
    assert_eq!(
        stdout(&schema),
        std::fs::read_to_string("scenarios/schema.json").unwrap()
    );
}

#[test]
fn explore_runs_many_schedules_and_its_failures_replay() {
    let o = sim(&[
        "run",
        "scenarios/conformance/messages/two-at-once.json",
        "--explore",
        "--schedules",
        "50",
    ]);
    assert_eq!(code(&o), 0, "{}", stdout(&o));
    assert!(stdout(&o).contains("explored "), "{}", stdout(&o));
    // A bug-knob scenario that finds exactly the rules it expects passes under exploration.
    let knob = sim(&[
        "run",
        "scenarios/self-test/rules/kernel-message-unlocked.json",
        "--explore",
        "--schedules",
        "20",
    ]);
    assert_eq!(code(&knob), 0, "{}", stdout(&knob));
    // A bug that only some orderings show: seed 0 passes, exploration must find it.
    let bad = sim(&[
        "run",
        "scenarios/self-test/orderings/completion-before-send-returns.json",
        "--explore",
        "--schedules",
        "50",
        "--first-failure",
    ]);
    assert_eq!(code(&bad), 1, "{}", stdout(&bad));
    let out = stdout(&bad);
    let token = out
        .split_whitespace()
        .skip_while(|w| *w != "replay:")
        .nth(1)
        .expect("a replay token");
    let r = sim(&["replay", token]);
    assert!(
        stdout(&r).contains("the replay followed all"),
        "{}",
        stdout(&r)
    );
}

/// The C fixture drivers of the real-driver tests, built with the system C compiler.
#[cfg(feature = "real-driver")]
fn c_fixture(stem: &str) -> std::path::PathBuf {
    c_fixture_with(stem, &[])
}

/// A C fixture driver built with seeded bugs (`BUG_...` defines), once per test process.
#[cfg(feature = "real-driver")]
fn c_fixture_with(stem: &str, defines: &[&str]) -> std::path::PathBuf {
    super::real_driver::build(&format!("{stem}.c"), defines)
}

/// A copy of the monitor-off scenario (its power-off commit makes the KMD send a kernel
/// message, so the UMD's `HandleKernelModeMessage` runs) named `name`, against `umd` and `kmd`.
#[cfg(feature = "real-driver")]
fn real_scenario(dir: &Path, file: &str, name: &str, umd: &Path, kmd: &Path) -> std::path::PathBuf {
    let text = std::fs::read_to_string(
        "scenarios/conformance/hlk-preflight/wireless-display-verify-monitor-off.json",
    )
    .unwrap();
    let mut doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    doc["name"] = serde_json::json!(name);
    doc["setup"]["driver"]["backend"] =
        serde_json::json!(format!("real:{},{}", umd.display(), kmd.display()));
    let path = dir.join(file);
    std::fs::write(&path, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
    path
}

#[cfg(feature = "real-driver")]
#[test]
fn a_crashing_driver_is_a_bugcheck_finding_and_every_other_scenario_and_report_still_happens() {
    let (umd, kmd) = (c_fixture("umd"), c_fixture("kmd"));
    let crash = c_fixture_with("umd", &["BUG_CRASH_IN_HANDLE_KMD_MESSAGE"]);
    let dir = tempfile::tempdir().unwrap();
    real_scenario(dir.path(), "1.json", "correct", &umd, &kmd);
    real_scenario(dir.path(), "2.json", "crash", &crash, &kmd);
    real_scenario(dir.path(), "3.json", "correct-again", &umd, &kmd);
    let json = dir.path().join("out/run.json");
    let junit = dir.path().join("out/junit.xml");
    // Isolation is the default for `real:` backends; `--jobs 2` runs two children at a time.
    let o = sim(&[
        "run",
        dir.path().to_str().unwrap(),
        "--jobs",
        "2",
        "--report",
        &format!("json={}", json.display()),
        "--report",
        &format!("junit={}", junit.display()),
    ]);
    let out = stdout(&o);
    assert_eq!(code(&o), 1, "{out}");
    assert!(out.contains("PASS correct ("), "{out}");
    assert!(out.contains("PASS correct-again ("), "{out}");
    assert!(out.contains("FAIL crash ("), "{out}");
    let signal = if cfg!(windows) {
        "STATUS_ACCESS_VIOLATION"
    } else {
        "SIGSEGV"
    };
    let finding = out
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("finding: bugcheck: the driver crashed")
        })
        .unwrap_or_else(|| panic!("no bugcheck finding: {out}"));
    assert!(
        finding.contains(signal) && finding.contains("inside HandleKernelModeMessage on thread"),
        "{finding}"
    );
    assert!(out.contains("  BUGCHECK the driver crashed: "), "{out}");
    assert!(
        out.contains("culprit: the driver binary (thread ")
            && out.contains(": enter HandleKernelModeMessage"),
        "{out}"
    );
    assert_eq!(out.lines().last().unwrap(), "2 passed, 1 failed", "{out}");

    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("JSON report written"))
            .expect("the JSON report parses");
    let scenarios = doc["scenarios"].as_array().unwrap();
    let outcomes: Vec<&str> = scenarios
        .iter()
        .map(|s| s["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, ["passed", "failed", "passed"]);
    for passed in [&scenarios[0], &scenarios[2]] {
        assert!(
            passed["replay_token"].is_string()
                && passed["result"]["seed"].is_u64()
                && passed["trace_text"].as_str().is_some_and(|t| !t.is_empty()),
            "{passed}"
        );
    }
    let bugcheck = &scenarios[1]["verdict"]["bugchecks"][0];
    assert_eq!(bugcheck["kind"], "crash", "{bugcheck}");
    assert_eq!(bugcheck["ddi"], "HandleKernelModeMessage", "{bugcheck}");
    assert!(
        bugcheck["what"].as_str().unwrap().contains(signal)
            && bugcheck["finding"]
                .as_str()
                .unwrap()
                .starts_with("bugcheck: the driver crashed")
            && bugcheck["thread"]
                .as_str()
                .unwrap()
                .contains("msg-delivery")
            && bugcheck["last_events"]
                .as_array()
                .unwrap()
                .last()
                .and_then(|e| e.as_str())
                .is_some_and(|e| e.ends_with("enter HandleKernelModeMessage")),
        "{bugcheck}"
    );

    let report = quick_junit::Report::deserialize_from_str(
        &std::fs::read_to_string(&junit).expect("JUnit report written"),
    )
    .expect("the JUnit report parses");
    let cases: Vec<_> = report
        .test_suites
        .iter()
        .flat_map(|s| s.test_cases.iter())
        .collect();
    assert_eq!(cases.len(), 3);
    let failed: Vec<_> = cases
        .iter()
        .filter(|c| !matches!(c.status, quick_junit::TestCaseStatus::Success { .. }))
        .collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].name.as_str(), "crash");
    let quick_junit::TestCaseStatus::NonSuccess { message, ty, .. } = &failed[0].status else {
        panic!("not a failure: {:?}", failed[0].status);
    };
    let message = message.as_ref().map(|m| m.as_str()).unwrap_or_default();
    assert!(
        message.starts_with("bugcheck: the driver crashed")
            && message.contains(signal)
            && message.contains("HandleKernelModeMessage"),
        "{message}"
    );
    assert_eq!(ty.as_ref().map(|t| t.as_str()), Some("driver-bugcheck"));
}

#[cfg(feature = "real-driver")]
#[test]
fn no_isolate_runs_the_driver_in_process() {
    let (umd, kmd) = (c_fixture("umd"), c_fixture("kmd"));
    let dir = tempfile::tempdir().unwrap();
    let path = real_scenario(dir.path(), "ok.json", "correct", &umd, &kmd);
    let o = sim(&["run", path.to_str().unwrap(), "--no-isolate"]);
    assert_eq!(code(&o), 0, "{}", stdout(&o));
    assert!(stdout(&o).starts_with("PASS correct ("), "{}", stdout(&o));
    // The last of `--isolate` / `--no-isolate` wins.
    let o = sim(&["run", path.to_str().unwrap(), "--isolate", "--no-isolate"]);
    assert_eq!(code(&o), 0, "{}", stdout(&o));
    // A run that finishes reports the same results in a child process as in this one. (Not the
    // same trace bytes: with a real driver the RTSP bytes cross a real TCP socket, and how the
    // C UMD's reads split the sink's messages depends on real timing.)
    let json = |flag: &str| sim(&["run", path.to_str().unwrap(), flag, "--format", "json"]);
    let (here, child) = (json("--no-isolate"), json("--isolate"));
    assert_eq!(code(&here), 0, "{}", stdout(&here));
    let results = |o: &std::process::Output| {
        let v: serde_json::Value = serde_json::from_str(&stdout(o)).expect("a JSON report");
        let s = &v["scenarios"][0];
        (
            s["outcome"].clone(),
            s["verdict"].clone(),
            s["result"]["steps"].clone(),
            s["result"]["violations"].clone(),
        )
    };
    assert_eq!(results(&here), results(&child));
    // In process, nothing contains a crash: the driver takes the whole run down with it.
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        let crash = c_fixture_with("umd", &["BUG_CRASH_IN_HANDLE_KMD_MESSAGE"]);
        let path = real_scenario(dir.path(), "crash.json", "crash", &crash, &kmd);
        let o = sim(&["run", path.to_str().unwrap(), "--no-isolate"]);
        assert_eq!(o.status.signal(), Some(11), "{:?}", o.status);
        let isolated = sim(&["run", path.to_str().unwrap(), "--no-isolate", "--isolate"]);
        assert_eq!(code(&isolated), 1, "{}", stdout(&isolated));
    }
}

#[cfg(feature = "real-driver")]
#[test]
fn scenarios_run_against_a_real_driver_binary() {
    let spec = format!(
        "real:{},{}",
        c_fixture("umd").display(),
        c_fixture("kmd").display()
    );
    let o = sim(&[
        "run",
        "scenarios/conformance/lifecycle/connect-disconnect.json",
        "scenarios/conformance/start-session",
        "--backend",
        &spec,
    ]);
    assert_eq!(code(&o), 0, "{}", stdout(&o));
    assert!(
        stdout(&o).ends_with("5 passed, 0 failed\n"),
        "{}",
        stdout(&o)
    );
}
