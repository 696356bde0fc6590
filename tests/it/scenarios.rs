//! The shipped corpus passes; each negative scenario fails for exactly its rules without its
//! expectation; broken scenario files give located errors with hints; the schema is current.

use miracast_sim::rules::RuleId;
use miracast_sim::runner::{self, RunOptions};
use miracast_sim::scenario::{self, Scenario, ScenarioErrorKind};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn corpus() -> Vec<(PathBuf, Scenario)> {
    let files = scenario::discover(&[PathBuf::from("scenarios")]).expect("scenarios/ is readable");
    assert!(
        files.len() >= 60,
        "the corpus shrank to {} files",
        files.len()
    );
    files
        .into_iter()
        .map(|f| {
            let (s, _) = scenario::load(&f).unwrap_or_else(|e| panic!("{}", e.render()));
            (f, s)
        })
        .collect()
}

#[test]
fn every_shipped_scenario_passes() {
    let mut failures = Vec::new();
    for (path, s) in corpus() {
        let result = runner::run_seeded(&s, &RunOptions::default());
        let verdict = runner::judge(&s, &result);
        if !verdict.passed {
            failures.push(format!(
                "{}: unexpected {:?}, missing {:?}, {:?}",
                path.display(),
                verdict.unexpected,
                verdict.missing,
                verdict.reasons
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "failing scenarios:\n{}",
        failures.join("\n")
    );
}

#[test]
fn every_negative_scenario_fails_for_exactly_its_rules_without_its_expectation() {
    let mut checked = 0;
    let mut problems = Vec::new();
    for (path, s) in corpus() {
        if s.expect.violations.is_empty() {
            continue;
        }
        checked += 1;
        let expected = s.expect.violations.clone();
        let mut stripped = s.clone();
        stripped.expect.violations.clear();
        let result = runner::run_seeded(&stripped, &RunOptions::default());
        let verdict = runner::judge(&stripped, &result);
        let reported: BTreeSet<RuleId> = verdict.unexpected.iter().map(|v| v.rule).collect();
        if verdict.passed || reported != expected {
            problems.push(format!(
                "{}: expected {expected:?}, reported {reported:?}",
                path.display()
            ));
        }
    }
    assert!(checked >= 40, "only {checked} negative scenarios");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn online_findings_survive_with_the_trace_off() {
    let (s, _) = scenario::load(Path::new(
        "scenarios/self-test/rules/no-departure-at-kmd-destroy.json",
    ))
    .unwrap();
    let options = RunOptions {
        trace: false,
        ..RunOptions::default()
    };
    let result = runner::run_seeded(&s, &options);
    assert!(result.trace.events.is_empty());
    assert!(
        result.violations.iter().any(|v| v.rule == RuleId::R12),
        "{:?}",
        result.violations
    );
}

#[test]
fn the_committed_schema_is_current() {
    let committed =
        std::fs::read_to_string("scenarios/schema.json").expect("scenarios/schema.json");
    assert!(
        committed == scenario::schema(),
        "scenarios/schema.json is stale: regenerate it with `cargo run -- schema > scenarios/schema.json`"
    );
}

#[test]
fn the_committed_trace_schema_is_current() {
    let committed =
        std::fs::read_to_string("docs/trace-schema.json").expect("docs/trace-schema.json");
    assert!(
        committed == miracast_sim::trace::schema(),
        "docs/trace-schema.json is stale: regenerate it with `cargo run -- schema --trace > docs/trace-schema.json`"
    );
}

/// (file, kind, line, column, text the message or hint must contain)
const BAD: &[(&str, ScenarioErrorKind, usize, usize, &str)] = &[
    (
        "malformed-json.json",
        ScenarioErrorKind::Syntax,
        6,
        5,
        "missing comma",
    ),
    (
        "unknown-field.json",
        ScenarioErrorKind::UnknownField,
        6,
        24,
        "did you mean `expect_status`? valid fields here: `id`, `expect_status`",
    ),
    (
        "wrong-type.json",
        ScenarioErrorKind::WrongType,
        6,
        46,
        "expected u32",
    ),
    (
        "unknown-op.json",
        ScenarioErrorKind::UnknownOp,
        6,
        13,
        "did you mean `DxgkDdiMiracastCreateContext`?",
    ),
    (
        "unknown-ddi.json",
        ScenarioErrorKind::UnknownDdi,
        9,
        27,
        "did you mean DxgkCbMiracastSendMessage?",
    ),
    (
        "unknown-status.json",
        ScenarioErrorKind::UnknownStatus,
        7,
        48,
        "did you mean STATUS_PENDING?",
    ),
    (
        "unknown-rule.json",
        ScenarioErrorKind::UnknownRule,
        7,
        37,
        "rules are R1 to R74",
    ),
    (
        "wrong-phase.json",
        ScenarioErrorKind::Phase,
        7,
        13,
        "add `StartMiracastSession` or `Connect` before it",
    ),
    (
        "remove-with-live-context.json",
        ScenarioErrorKind::Phase,
        7,
        13,
        "add `Disconnect` (or `StopMiracastSession` and the destroys) before it",
    ),
    (
        "wrong-version.json",
        ScenarioErrorKind::Version,
        2,
        14,
        "\"version\": 1",
    ),
];

#[test]
fn broken_scenarios_name_file_line_column_and_the_fix() {
    let dir = Path::new("tests/data/bad-scenarios");
    let on_disk = scenario::discover(&[dir.to_path_buf()]).unwrap();
    assert_eq!(
        on_disk.len(),
        BAD.len(),
        "every bad scenario file has a row here"
    );
    for (file, kind, line, column, hint) in BAD {
        let path = dir.join(file);
        let err = scenario::load(&path).map(|_| ()).expect_err(file);
        assert_eq!(
            (err.kind, err.line, err.column),
            (*kind, *line, *column),
            "{file}: {}",
            err.render()
        );
        let rendered = err.render();
        assert!(
            rendered.starts_with(&format!("{}:{line}:{column}", path.display())),
            "{rendered}"
        );
        assert!(
            rendered.contains(hint),
            "{file}: hint `{hint}` missing from\n{rendered}"
        );
    }
}

#[test]
fn garbage_never_panics_the_loader() {
    for text in [
        "",
        "[]",
        "null",
        "{\"version\":1}",
        "{\"version\":1,\"name\":\"x\",\"steps\":[{}]}",
        "{\"version\":1,\"name\":\"x\",\"steps\":[{\"op\":1}]}",
        "\u{feff}{}",
    ] {
        assert!(scenario::parse("inline.json", text).is_err(), "{text}");
    }
}

/// Every shipped scenario lies under `conformance/` or `self-test/` and says so; the folder and
/// the `kind` field cannot disagree, and a conformance scenario cannot use what only the
/// reference drivers or a faulty OS do.
#[test]
fn the_corpus_is_split_by_kind_and_the_folder_must_agree() {
    for (path, s) in corpus() {
        let folder = scenario::folder_kind(&path.to_string_lossy());
        assert!(
            folder.is_some(),
            "{} is outside conformance/ and self-test/",
            path.display()
        );
        assert_eq!(s.kind, folder, "{}", path.display());
    }
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("conformance");
    std::fs::create_dir_all(&conf).unwrap();
    let write = |name: &str, text: &str| {
        let p = conf.join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    let steps = r#""steps": [ { "op": "AdapterBringUp" } ]"#;
    let cases = [
        (
            write(
                "missing.json",
                &format!(r#"{{ "version": 1, "name": "m", {steps} }}"#),
            ),
            "must say its kind",
        ),
        (
            write(
                "wrong.json",
                &format!(r#"{{ "version": 1, "name": "w", "kind": "self-test", {steps} }}"#),
            ),
            "lies under a `conformance/` folder",
        ),
        (
            write(
                "knob.json",
                &format!(
                    r#"{{ "version": 1, "name": "k", "kind": "conformance", "setup": {{ "os": {{ "knobs": {{ "query_caps_twice": true }} }} }}, {steps} }}"#
                ),
            ),
            "cannot use OS-model knobs",
        ),
        (
            write(
                "expects.json",
                &format!(
                    r#"{{ "version": 1, "name": "e", "kind": "conformance", {steps}, "expect": {{ "violations": ["R7"] }} }}"#
                ),
            ),
            "cannot use expected violations",
        ),
        (
            write(
                "adapter.json",
                &format!(
                    r#"{{ "version": 1, "name": "a", "kind": "conformance", "setup": {{ "adapter": {{ "miracast_target_id": 7 }} }}, {steps} }}"#
                ),
            ),
            "adapter settings of the reference KMD",
        ),
        (
            write(
                "relies.json",
                &format!(
                    r#"{{ "version": 1, "name": "r", "kind": "conformance", "relies_on": {{ "kmd": "its pool sizes" }}, {steps} }}"#
                ),
            ),
            "only a self-test scenario may rely on what the reference drivers do",
        ),
        (
            write(
                "relies-empty.json",
                &format!(
                    r#"{{ "version": 1, "name": "re", "relies_on": {{ "umd": " " }}, {steps} }}"#
                ),
            ),
            "`relies_on.umd` is empty",
        ),
    ];
    for (path, want) in cases {
        let errors = scenario::load_all(&path).expect_err("must be refused");
        let text: String = errors.iter().map(|e| format!("{e}\n")).collect();
        assert!(text.contains(want), "{}: {text}", path.display());
        assert!(text.contains(&path.display().to_string()), "{text}");
        assert!(
            errors.iter().all(|e| e.line > 0 && e.help.is_some()),
            "{text}"
        );
    }
    // A busy encoder is something a binary is told through the test hook: allowed.
    let ok = write(
        "busy.json",
        &format!(
            r#"{{ "version": 1, "name": "b", "kind": "conformance", "setup": {{ "adapter": {{ "hardware_busy": true }} }}, {steps} }}"#
        ),
    );
    scenario::load_all(&ok).unwrap_or_else(|e| panic!("{}", e[0].render()));
}

/// The committed driver-profile schema is what `schema --profile` prints, and the shipped
/// profiles are valid.
#[test]
fn the_committed_profile_schema_is_current_and_the_profiles_load() {
    let committed = std::fs::read_to_string("profiles/schema.json").unwrap();
    assert_eq!(committed, miracast_sim::profile::schema());
    for p in [
        "profiles/reference.json",
        "tests/fixtures/real_driver/profile.json",
        "tests/fixtures/real_driver/profile-alt.json",
    ] {
        miracast_sim::profile::load(Path::new(p)).unwrap_or_else(|e| panic!("{e}"));
    }
    let bad = miracast_sim::profile::parse(
        r#"{ "version": 1, "name": "x",
  "ioctl": { "magic": "MCIO", "code_offset": 4, "payload_offset": 12, "codes": { "MONITOR_ARRIVED": 1 } } }"#,
        Some(Path::new("my-profile.json")),
    )
    .unwrap_err();
    assert!(
        bad.starts_with("my-profile.json: ioctl.magic: `MCIO` is not `hex:<bytes>`;"),
        "{bad}"
    );
}
