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
    let o = sim(&[
        "run",
        "scenarios/conformance/lifecycle",
        "--format",
        "junit",
    ]);
    let report = quick_junit::Report::deserialize_from_str(&stdout(&o)).expect("JUnit XML");
    let suite = &report.test_suites[0];
    let lifecycle = miracast_sim::scenario::discover(&[std::path::PathBuf::from(
        "scenarios/conformance/lifecycle",
    )])
    .expect("scenarios/conformance/lifecycle")
    .len();
    assert_eq!(suite.test_cases.len(), lifecycle);
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
    std::fs::copy(
        "scenarios/self-test/rules/kernel-message-unlocked.json",
        &copy,
    )
    .unwrap();
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

#[test]
fn payloads_by_size_and_pattern() {
    use miracast_sim::scenario::{StepOp, parse};
    let with = |payload: &str| {
        format!(
            r#"{{"version": 1, "name": "p", "steps": [
                {{"op": "AdapterBringUp"}},
                {{"op": "KmdSendMessage", "payload": {payload}}}]}}"#
        )
    };
    let bytes = |payload: &str| -> Vec<u8> {
        let s = parse("p.json", &with(payload)).unwrap();
        match &s.steps[1].op {
            StepOp::KmdSendMessage { payload, .. } => payload.clone(),
            other => panic!("{other:?}"),
        }
    };
    let counter = bytes(r#"{"size": 1048576, "fill": "counter"}"#);
    assert_eq!(counter.len(), 1 << 20);
    assert_eq!(&counter[254..258], &[254, 255, 0, 1]);
    assert_eq!(bytes(r#"{"size": 3}"#), vec![0, 0, 0]);
    assert_eq!(
        bytes(r#"{"size": 5, "fill": "hex:abcd"}"#),
        vec![0xab, 0xcd, 0xab, 0xcd, 0xab]
    );
    assert_eq!(bytes(r#""hex:0102""#), vec![1, 2]);
    // Mistakes are located, with the accepted fills named.
    let e = parse("p.json", &with(r#"{"size": 4, "fill": "random"}"#)).unwrap_err();
    assert!(
        e.to_string()
            .contains("not a fill: write zero, counter or hex:<bytes>"),
        "{e}"
    );
    assert!(e.line > 1, "{e}");
    let e = parse("p.json", &with(r#"{"size": 999999999999}"#)).unwrap_err();
    assert!(e.to_string().contains("byte limit"), "{e}");
    // A 1 MiB message runs end to end.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("big.json");
    std::fs::write(
        &file,
        r#"{"version": 1, "name": "big-message", "steps": [
            {"op": "AdapterBringUp"},
            {"op": "Connect", "expect_status": "STATUS_SUCCESS"},
            {"op": "KmdSendMessage", "payload": {"size": 1048576, "fill": "counter"}, "output_size": 16},
            {"op": "Advance", "by": "100ms"},
            {"op": "Disconnect"}]}"#,
    )
    .unwrap();
    let o = sim(&["run", file.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
}

#[test]
fn the_schema_lists_every_accepted_alias() {
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string("scenarios/schema.json").unwrap()).unwrap();
    let expect = &schema["$defs"]["RawExpect"]["properties"];
    assert!(expect.get("expect_violations").is_some());
    assert!(expect.get("violations").is_some());
    let ops = serde_json::to_string(&schema["$defs"]["RawStep"]).unwrap();
    assert!(ops.contains(r#"["Parallel","parallel"]"#), "{ops}");
}

#[test]
fn validation_reports_every_mistake_of_a_file_in_one_run() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("many.json");
    std::fs::write(
        &file,
        r#"{
  "version": 1, "name": "many-mistakes",
  "steps": [
    { "op": "KmdSendMessage" },
    { "op": "AdapterBringUp" },
    { "op": "KmdSendMessage", "payload": "PNG" },
    { "op": "Advance", "by": "soon" },
    { "op": "Disconnect" },
    { "op": "Advance", "by": "1s" }
  ]
}
"#,
    )
    .unwrap();
    let all = match miracast_sim::scenario::parse_all(
        "many.json",
        &std::fs::read_to_string(&file).unwrap(),
    ) {
        Err(all) => all,
        Ok(_) => panic!("the file is invalid"),
    };
    let lines: Vec<usize> = all.iter().map(|e| e.line).collect();
    assert_eq!(lines, vec![4, 6, 7, 8], "{all:#?}");
    let v = sim(&["validate", file.to_str().unwrap()]);
    let out = stdout(&v);
    assert_eq!(v.status.code(), Some(2), "{out}");
    assert!(out.contains("4 mistakes"), "{out}");
    // Each mistake located (the rendering may wrap the sentences).
    for line in [4, 6, 7, 8] {
        assert!(
            out.contains(&format!("many.json:{line}:")),
            "line {line}: {out}"
        );
    }
    let r = sim(&["run", file.to_str().unwrap()]);
    let out = stdout(&r);
    assert_eq!(r.status.code(), Some(2), "{out}");
    assert!(
        out.contains("many.json:8:"),
        "every mistake in the run report too: {out}"
    );
    // The first mistake alone is what `parse` returns.
    let first =
        miracast_sim::scenario::parse("many.json", &std::fs::read_to_string(&file).unwrap())
            .unwrap_err();
    assert_eq!(first.line, 4);
}
