//! Long runs in CI: progress lines on a piped stderr, report files that hold the results so far
//! while the run goes on and after SIGINT, and memory that does not grow with the schedule count.

use super::show::stdout;
use std::process::{Command, Stdio};

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_miracast-sim"));
    c.env("CI", "true");
    c
}

/// The peak memory the last progress line reports, in MB.
fn peak_mb(stderr: &str) -> f64 {
    let line = stderr
        .lines()
        .rfind(|l| l.starts_with("progress: "))
        .unwrap_or_else(|| panic!("no progress line: {stderr}"));
    let peak = line
        .split("(peak ")
        .nth(1)
        .expect("a peak")
        .split(' ')
        .next()
        .unwrap();
    peak.parse().unwrap()
}

#[test]
fn a_piped_run_prints_progress_lines_with_counts_and_rate() {
    let o = bin()
        .args([
            "run",
            "scenarios/conformance/lifecycle",
            "--explore=150",
            "--progress-every",
            "100ms",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    let lines: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("progress: "))
        .collect();
    assert!(lines.len() >= 2, "{err}");
    let lifecycle = miracast_sim::scenario::discover(&[std::path::PathBuf::from(
        "scenarios/conformance/lifecycle",
    )])
    .expect("scenarios/conformance/lifecycle")
    .len();
    for l in &lines {
        assert!(l.contains(&format!("/{lifecycle} scenarios (")), "{l}");
        assert!(l.contains(" schedules (") && l.contains("/s), "), "{l}");
    }
    // The last line is the whole run: its schedules are the ones the scenario lines report.
    let explored: u64 = stdout(&o)
        .lines()
        .filter_map(|l| {
            l.split(" (")
                .nth(1)?
                .split(" schedules explored")
                .next()?
                .parse::<u64>()
                .ok()
        })
        .sum();
    assert!(explored > 400, "{}", stdout(&o));
    assert!(
        lines.last().unwrap().starts_with(&format!(
            "progress: {lifecycle}/{lifecycle} scenarios (0 failed), {explored} schedules ("
        )),
        "{err}"
    );
    // Progress never goes to stdout, whose report is unchanged.
    assert!(!stdout(&o).contains("progress: "));
    assert_eq!(
        stdout(&o).lines().last().unwrap(),
        format!("{lifecycle} passed, 0 failed")
    );
    // `0s` turns it off.
    let quiet = bin()
        .args([
            "run",
            "scenarios/conformance/lifecycle",
            "--explore=20",
            "--progress-every",
            "0s",
        ])
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&quiet.stderr).contains("progress: "));
}

#[test]
fn memory_does_not_grow_with_the_schedule_count() {
    let peak = |n: u32| {
        let o = bin()
            .args([
                "run",
                "scenarios/conformance/lifecycle/connect-disconnect.json",
                &format!("--explore={n}"),
                "--progress-every",
                "20ms",
                "--jobs",
                "1",
            ])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
        peak_mb(&String::from_utf8_lossy(&o.stderr))
    };
    let (small, large) = (peak(60), peak(900));
    // Fifteen times the schedules: passing schedules are not kept, so the peak stays within a
    // few megabytes (allocator noise), far below what keeping 900 traces would take.
    assert!(
        large <= small + 4.0,
        "peak memory {small} MB for 60 schedules, {large} MB for 900"
    );
}

#[test]
fn sigint_writes_what_finished_and_exits_130() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("run.json");
    let junit = dir.path().join("junit.xml");
    let mut child = bin()
        .args([
            "run",
            "scenarios",
            "--explore=300",
            "--jobs",
            "1",
            "--progress-every",
            "50ms",
            "--report",
            &format!("json={}", json.display()),
            "--report",
            &format!("junit={}", junit.display()),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The report file appears with the first finished scenario, while the run goes on.
    let finished = |path: &std::path::Path| -> usize {
        std::fs::read_to_string(path)
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .map_or(0, |d| d["scenarios"].as_array().map_or(0, Vec::len))
    };
    while finished(&json) == 0 {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before streaming"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let o = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(130), "{err}");
    assert!(
        err.contains("interrupted: every report holds the "),
        "{err}"
    );
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let scenarios = doc["scenarios"].as_array().unwrap();
    let files = miracast_sim::scenario::discover(&["scenarios".into()])
        .unwrap()
        .len();
    assert_eq!(scenarios.len(), files, "the final report lists every file");
    let ran = scenarios
        .iter()
        .filter(|s| s["outcome"] == "passed")
        .count();
    let skipped: Vec<_> = scenarios
        .iter()
        .filter(|s| s["skip_reason"] == "not run: the run was interrupted")
        .collect();
    assert!(ran >= 1 && !skipped.is_empty(), "{}", doc["summary"]);
    assert_eq!(ran + skipped.len(), files, "{}", doc["summary"]);
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("<skipped"), "{xml}");
    assert_eq!(
        stdout(&o).lines().last().unwrap(),
        doc["summary"].as_str().unwrap()
    );
}
