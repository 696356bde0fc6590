//! Hostile drivers and hostile input: every case ends with a clear error or finding, the run
//! completes and every report is written.
//!
//! Drivers: the C fixtures of `tests/fixtures/hostile` (the correct fixture UMD wrapped so that
//! one thing goes wrong), built with the system C compiler, run through the built binary under
//! the supervisor.

use std::path::{Path, PathBuf};
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

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

// ---------------------------------------------------------------------------------------------
// Hostile drivers.
// ---------------------------------------------------------------------------------------------

/// Builds `source` (relative to `tests/fixtures`) with `defines`, once per test process.
#[cfg(feature = "real-driver")]
fn build(source: &str, defines: &[&str]) -> PathBuf {
    super::real_driver::fixture_library(source, defines, false)
}

/// A copy of the monitor-off scenario (Connect, a kernel message, Disconnect) named `name`,
/// against the hostile UMD built with `define` (or the correct one) and the fixture KMD.
#[cfg(feature = "real-driver")]
fn hostile_scenario(dir: &Path, name: &str, define: Option<&str>) -> PathBuf {
    let umd = match define {
        Some(d) => build("hostile/umd.c", &[d]),
        None => build("real_driver/umd.c", &[]),
    };
    let kmd = build("real_driver/kmd.c", &[]);
    let text = std::fs::read_to_string(
        "scenarios/conformance/hlk-preflight/wireless-display-verify-monitor-off.json",
    )
    .unwrap();
    let mut doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    doc["name"] = serde_json::json!(name);
    doc["setup"]["driver"]["backend"] =
        serde_json::json!(format!("real:{},{}", umd.display(), kmd.display()));
    let path = dir.join(format!("{name}.json"));
    std::fs::write(&path, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
    path
}

/// True when process `pid` is gone or a zombie (killed, waiting to be reaped by init).
#[cfg(feature = "real-driver")]
fn dead(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with('Z') || rest.starts_with('X')),
    }
}

/// Waits (bounded) until `pid` is dead; SIGKILL is asynchronous.
#[cfg(feature = "real-driver")]
fn eventually_dead(pid: u32) -> bool {
    for _ in 0..200 {
        if dead(pid) {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
    false
}

#[cfg(all(feature = "real-driver", target_os = "linux"))]
#[test]
fn hostile_drivers_each_give_their_finding_and_the_run_completes_with_every_report() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("a-correct", None),
        ("b-hang-in-constructor", Some("HOSTILE_HANG_IN_CONSTRUCTOR")),
        ("c-hang-in-query", Some("HOSTILE_HANG_IN_QUERY")),
        ("d-fork-in-start", Some("HOSTILE_FORK_IN_START")),
        ("e-stdout-spam", Some("HOSTILE_STDOUT_SPAM")),
        ("f-crash-on-own-thread", Some("HOSTILE_CRASH_ON_OWN_THREAD")),
        ("g-garbage-table", Some("HOSTILE_GARBAGE_TABLE")),
    ];
    for (name, define) in cases {
        hostile_scenario(dir.path(), name, define);
    }
    let json = dir.path().join("out/run.json");
    let junit = dir.path().join("out/junit.xml");
    let pid_file = dir.path().join("forked.pid");
    let o = Command::new(env!("CARGO_BIN_EXE_miracast-sim"))
        .args([
            "run",
            dir.path().to_str().unwrap(),
            "--jobs",
            "2",
            "--driver-timeout",
            "2s",
            "--report",
            &format!("json={}", json.display()),
            "--report",
            &format!("junit={}", junit.display()),
        ])
        .env("CI", "true")
        .env("HOSTILE_PID_FILE", &pid_file)
        .output()
        .unwrap();
    let out = text(&o.stdout);
    assert_eq!(code(&o), 1, "{out}\n{}", text(&o.stderr));
    assert!(out.contains("PASS a-correct ("), "{out}");
    // A fork keeps the pipes open; the run still ends, and the forked child is killed with
    // the child's process group.
    assert!(out.contains("PASS d-fork-in-start ("), "{out}");
    let forked: u32 = std::fs::read_to_string(&pid_file)
        .expect("the forked child wrote its pid")
        .trim()
        .parse()
        .unwrap();
    assert!(
        eventually_dead(forked),
        "the forked child {forked} lives on"
    );
    // 256 MiB on stdout: the run passes and keeps only a tail.
    assert!(out.contains("PASS e-stdout-spam ("), "{out}");
    assert_eq!(out.lines().last().unwrap(), "3 passed, 4 failed", "{out}");

    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("JSON report written"))
            .unwrap();
    let junit_text = std::fs::read_to_string(&junit).expect("JUnit report written");
    let scenarios = doc["scenarios"].as_array().unwrap();
    assert_eq!(scenarios.len(), cases.len());
    for (s, (name, _)) in scenarios.iter().zip(cases) {
        assert_eq!(s["name"], name, "{s}");
        assert!(junit_text.contains(name), "{name} missing from JUnit");
    }
    let bugcheck = |i: usize| scenarios[i]["verdict"]["bugchecks"][0].clone();
    for (i, what) in [(1, "constructor"), (2, "query")] {
        let b = bugcheck(i);
        assert_eq!(b["kind"], "hang", "{what}: {b}");
        assert_eq!(b["ddi"], "QueryMiracastDriverInterface", "{what}: {b}");
        assert!(
            b["finding"]
                .as_str()
                .unwrap()
                .contains("its process group was killed"),
            "{what}: {b}"
        );
    }
    let spam = &scenarios[4]["result"]["driver_output"];
    assert_eq!(spam["bytes"], 256 * 1024 * 1024 + 35, "{spam}");
    let tail = spam["tail"].as_str().unwrap();
    assert!(tail.len() <= 4096, "{}", tail.len());
    assert!(
        tail.ends_with("hostile: the last line of the spam\n"),
        "{tail}"
    );
    let own = bugcheck(5);
    assert_eq!(own["kind"], "crash", "{own}");
    assert!(own["ddi"].is_null(), "{own}");
    assert!(
        own["thread"]
            .as_str()
            .unwrap()
            .contains("umd-hostile_worker"),
        "{own}"
    );
    let garbage = bugcheck(6);
    assert_eq!(garbage["kind"], "crash", "{garbage}");
    assert_eq!(garbage["ddi"], "CreateMiracastContext", "{garbage}");
}

#[cfg(all(feature = "real-driver", target_os = "linux"))]
#[test]
fn a_crash_on_a_driver_thread_is_reported_the_same_way_on_every_run() {
    let dir = tempfile::tempdir().unwrap();
    let path = hostile_scenario(
        dir.path(),
        "own-thread",
        Some("HOSTILE_CRASH_ON_OWN_THREAD"),
    );
    let findings: Vec<String> = (0..3)
        .map(|_| {
            let o = sim(&["run", path.to_str().unwrap(), "--format", "json"]);
            assert_eq!(code(&o), 1);
            let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
            let b = &doc["scenarios"][0]["verdict"]["bugchecks"][0];
            format!(
                "{} {} {} {}",
                b["kind"], b["thread"], b["ddi"], b["finding"]
            )
        })
        .collect();
    assert!(findings.iter().all(|f| f == &findings[0]), "{findings:#?}");
    assert!(
        findings[0].contains("umd-hostile_worker"),
        "{}",
        findings[0]
    );
}

#[cfg(all(feature = "real-driver", target_os = "linux"))]
#[test]
fn a_daemon_that_leaves_the_group_and_holds_the_pipes_does_not_stall_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let path = hostile_scenario(dir.path(), "daemon", Some("HOSTILE_DAEMON_IN_START"));
    // The daemon keeps the pipes for 20 s; the run must not wait for it (it ends long before:
    // the supervisor stops listening shortly after the child exits).
    let started = std::time::Instant::now();
    let o = sim(&["run", path.to_str().unwrap()]);
    let took = started.elapsed();
    assert_eq!(code(&o), 0, "{}", text(&o.stdout));
    assert!(text(&o.stdout).contains("PASS daemon ("));
    assert!(
        took < std::time::Duration::from_secs(19),
        "the run waited for the daemon: {took:?}"
    );
}

#[cfg(all(feature = "real-driver", target_os = "linux"))]
#[test]
fn a_process_the_driver_forks_gets_the_c_library_back_and_ends_on_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let path = hostile_scenario(dir.path(), "fork-sleep", Some("HOSTILE_FORK_THEN_SLEEP"));
    let pid_file = dir.path().join("forked.pid");
    let o = Command::new(env!("CARGO_BIN_EXE_miracast-sim"))
        .args(["run", path.to_str().unwrap()])
        .env("CI", "true")
        .env("HOSTILE_PID_FILE", &pid_file)
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}{}", text(&o.stdout), text(&o.stderr));
    let forked: u32 = std::fs::read_to_string(&pid_file)
        .expect("the forked process wrote its pid")
        .trim()
        .parse()
        .unwrap();
    // It left the process group, so only its own 10 ms sleep ends it. Its thread was a bridge
    // thread in the parent; in the fork nothing answers the bridge, and a sleep that went to
    // the simulator would wait for ever.
    assert!(
        eventually_dead(forked),
        "the forked process {forked} still runs: its sleep waits for a simulator that is not there"
    );
}

#[cfg(all(feature = "real-driver", target_os = "linux"))]
#[test]
fn a_driver_crashing_under_explore_is_a_finding_and_the_exploration_run_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    hostile_scenario(dir.path(), "a-correct", None);
    // The crash fixture, through a hostile scenario file pointing at it.
    let crash = build("real_driver/umd.c", &["BUG_CRASH_IN_HANDLE_KMD_MESSAGE"]);
    let kmd = build("real_driver/kmd.c", &[]);
    let path = hostile_scenario(dir.path(), "b-crash", None);
    let mut doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    doc["setup"]["driver"]["backend"] =
        serde_json::json!(format!("real:{},{}", crash.display(), kmd.display()));
    std::fs::write(&path, serde_json::to_string(&doc).unwrap()).unwrap();
    hostile_scenario(dir.path(), "c-correct-again", None);
    let json = dir.path().join("out/run.json");
    let o = sim(&[
        "run",
        dir.path().to_str().unwrap(),
        "--report",
        &format!("json={}", json.display()),
        "--explore",
        "4",
    ]);
    let out = text(&o.stdout);
    assert_eq!(code(&o), 1, "{out}{}", text(&o.stderr));
    assert!(out.contains("PASS a-correct"), "{out}");
    assert!(out.contains("PASS c-correct-again"), "{out}");
    // It crashes under every schedule: each of the 4 is a crash with its token, each new
    // child leaves the crashed ones out.
    assert!(
        out.contains("FAIL b-crash (4 schedules explored; unexpected: bugcheck in 4)"),
        "{out}"
    );
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("JSON report written"))
            .unwrap();
    let bugchecks = doc["scenarios"][1]["verdict"]["bugchecks"]
        .as_array()
        .unwrap();
    assert_eq!(bugchecks.len(), 4, "{doc}");
    for b in bugchecks {
        assert_eq!(b["kind"], "crash", "{b}");
        assert_eq!(b["ddi"], "HandleKernelModeMessage", "{b}");
        assert!(b["replay_token"].as_str().unwrap().starts_with("m2"), "{b}");
    }
    assert!(
        doc["scenarios"][2]["explore"]["schedules"].as_u64() == Some(4),
        "{doc}"
    );
}

/// A driver that crashes under some orderings only: exploration finds it, gives the schedule's
/// replay token, goes on with the other schedules, and the token replays the crash on the same
/// backend (and is refused on another library).
#[cfg(all(feature = "real-driver", target_os = "linux"))]
#[test]
fn a_crash_under_some_schedules_has_a_token_that_replays_it_and_the_rest_is_explored() {
    let dir = tempfile::tempdir().unwrap();
    let crash = build("real_driver/umd.c", &["BUG_CRASH_IF_START_RETURNED_FIRST"]);
    let correct = build("real_driver/umd.c", &[]);
    let kmd = build("real_driver/kmd.c", &[]);
    let scenario = "scenarios/conformance/lifecycle/connect-disconnect.json";
    let backend = format!("real:{},{}", crash.display(), kmd.display());
    // A plain run takes an ordering under which it does not crash.
    let plain = sim(&["run", scenario, "--backend", &backend]);
    assert_eq!(code(&plain), 0, "{}", text(&plain.stdout));
    let json = dir.path().join("explore.json");
    let explore = |out: &Path| {
        sim(&[
            "run",
            scenario,
            "--backend",
            &backend,
            "--format",
            "json",
            "--out",
            out.to_str().unwrap(),
            "--explore",
            "12",
        ])
    };
    let o = explore(&json);
    assert_eq!(code(&o), 1, "{}", text(&o.stderr));
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let entry = &doc["scenarios"][0];
    let verdict = &entry["explore_verdict"];
    assert_eq!(verdict["schedules"], 12, "{verdict}");
    let crashed = verdict["unexpected"][0]["schedules"].as_u64().unwrap();
    assert_eq!(verdict["unexpected"][0]["key"], "bugcheck", "{verdict}");
    assert!((1..12).contains(&crashed), "{verdict}");
    // The other schedules ran in the child that went on.
    assert_eq!(
        entry["explore"]["schedules"].as_u64(),
        Some(12 - crashed),
        "{entry}"
    );
    let bugchecks = entry["verdict"]["bugchecks"].as_array().unwrap();
    assert_eq!(bugchecks.len() as u64, crashed);
    assert!(
        bugchecks.iter().all(|b| b["thread"]
            .as_str()
            .unwrap()
            .contains("umd-umd_session_worker")),
        "{entry}"
    );
    // The same exploration again: the same crashes, the same tokens.
    let again = dir.path().join("again.json");
    explore(&again);
    let doc2: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&again).unwrap()).unwrap();
    assert_eq!(
        doc2["scenarios"][0]["verdict"]["bugchecks"], entry["verdict"]["bugchecks"],
        "the crashes differ between two explorations with the same seed"
    );
    // The token replays the crash, on the same backend only.
    let token = bugchecks[0]["replay_token"].as_str().unwrap();
    let replay = sim(&["replay", token, "scenarios", "--backend", &backend]);
    let out = text(&replay.stdout);
    assert_eq!(code(&replay), 1, "{out}");
    assert!(out.contains("the driver died during the replay"), "{out}");
    assert!(
        out.contains("BUGCHECK the driver crashed: SIGSEGV"),
        "{out}"
    );
    let other = format!("real:{},{}", correct.display(), kmd.display());
    let refused = sim(&["replay", token, "scenarios", "--backend", &other]);
    assert_eq!(code(&refused), 2, "{}", text(&refused.stdout));
    assert!(
        text(&refused.stderr).contains("the driver library changed"),
        "{}",
        text(&refused.stderr)
    );
}

#[cfg(all(feature = "real-driver", target_os = "linux"))]
#[test]
fn sigterm_to_run_kills_the_isolated_child_and_its_group() {
    let dir = tempfile::tempdir().unwrap();
    let path = hostile_scenario(dir.path(), "hang", Some("HOSTILE_HANG_IN_QUERY"));
    let mut run = Command::new(env!("CARGO_BIN_EXE_miracast-sim"))
        .args(["run", path.to_str().unwrap(), "--driver-timeout", "10m"])
        .env("CI", "true")
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Find the isolated child (bounded wait: it starts at once).
    let children = |parent: u32| -> Vec<u32> {
        std::fs::read_dir("/proc")
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
            .filter(|pid| {
                std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
                    s.rsplit_once(") ")
                        .and_then(|(_, rest)| rest.split(' ').nth(1)?.parse::<u32>().ok())
                        == Some(parent)
                })
            })
            .collect()
    };
    let mut child = None;
    for _ in 0..400 {
        if let Some(c) = children(run.id()).first() {
            child = Some(*c);
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
    let child = child.expect("the isolated child started");
    // Once the hostile library is mapped the child is inside the load, long after the
    // supervisor registered its group.
    for _ in 0..400 {
        if std::fs::read_to_string(format!("/proc/{child}/maps"))
            .is_ok_and(|m| m.contains("hostile"))
        {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
    // The shell's built-in `kill` (no procps needed).
    let status = Command::new("sh")
        .args(["-c", &format!("kill -TERM {}", run.id())])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = run.wait().unwrap();
    assert!(!exit.success());
    assert!(
        eventually_dead(child),
        "the isolated child {child} lives on"
    );
}

// ---------------------------------------------------------------------------------------------
// The fuzz targets' properties (`miracast_sim::props`), on stable: every input libFuzzer found
// a bug with, kept as a regression, and random inputs through proptest.
// ---------------------------------------------------------------------------------------------

fn regressions(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/fuzz-regressions")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|d| d.filter_map(|e| Some(e.ok()?.path())).collect())
        .unwrap_or_default();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect()
}

#[test]
fn fuzz_regressions_keep_their_properties() {
    use miracast_sim::props;
    type Property = fn(&[u8]);
    let targets: [(&str, Property); 4] = [
        ("scenario", props::scenario),
        ("replay_token", props::replay_token),
        ("rtsp_message", props::rtsp_message),
        ("wfd_params", props::wfd_params),
    ];
    let mut checked = 0;
    for (target, property) in targets {
        for (path, bytes) in regressions(target) {
            let outcome = std::panic::catch_unwind(|| property(&bytes));
            assert!(outcome.is_ok(), "{} breaks {target}", path.display());
            checked += 1;
        }
    }
    assert!(checked >= 1, "no regression inputs found");
}

#[test]
fn the_seed_inputs_keep_the_fuzz_properties() {
    use miracast_sim::props;
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut scenarios = 0;
    for dir in ["scenarios", "tests/data/bad-scenarios"] {
        for f in miracast_sim::scenario::discover(&[root.join(dir)]).unwrap() {
            props::scenario(&std::fs::read(&f).unwrap());
            scenarios += 1;
        }
    }
    assert!(scenarios > 50, "{scenarios}");
    let vectors: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("tests/data/wfd-vectors-public.json")).unwrap(),
    )
    .unwrap();
    for v in vectors.as_array().unwrap() {
        let raw = v["raw"].as_str().unwrap_or_default().as_bytes();
        props::rtsp_message(raw);
        if let Some(i) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            props::wfd_params(&raw[i + 4..]);
        }
    }
}

mod props_on_stable {
    use miracast_sim::props;
    use proptest::prelude::*;

    /// Text that looks like RTSP: start lines, headers (some repeated, some Content-Length),
    /// bodies, and noise.
    fn rtspish() -> impl Strategy<Value = Vec<u8>> {
        let piece = prop_oneof![
            Just("OPTIONS * RTSP/1.0\r\n".to_owned()),
            Just("GET_PARAMETER rtsp://localhost/wfd1.0 RTSP/1.0\r\n".to_owned()),
            Just("RTSP/1.0 200 OK\r\n".to_owned()),
            (0u32..5).prop_map(|n| format!("CSeq: {n}\r\n")),
            (0u32..80).prop_map(|n| format!("Content-Length: {n}\r\n")),
            Just("Content-Type: text/parameters\r\n".to_owned()),
            Just("X-Dup: a\r\nX-Dup: b\r\n".to_owned()),
            Just("\r\n".to_owned()),
            Just(" continued\r\n".to_owned()),
            Just("wfd_video_formats: 00 00 02 04 0001FFFF 1FFFFFFF 00000FFF 00 0000 0000 00 none none\r\n".to_owned()),
            "[ -~\r\n\u{0}]{0,12}",
        ];
        proptest::collection::vec(piece, 0..16).prop_map(|p| p.concat().into_bytes())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn rtsp_framing_and_codec(bytes in rtspish()) {
            props::rtsp_message(&bytes);
        }

        #[test]
        fn rtsp_on_any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            props::rtsp_message(&bytes);
        }

        #[test]
        fn wfd_parameter_bodies(bytes in rtspish()) {
            props::wfd_params(&bytes);
        }

        #[test]
        fn replay_tokens(text in "[A-Za-z0-9_-]{0,200}") {
            props::replay_token(text.as_bytes());
        }

        #[test]
        fn scenario_texts(
            prefix in "[ \n]{0,3}",
            steps in proptest::collection::vec(
                prop_oneof![
                    Just(r#"{"op": "AdapterBringUp"}"#),
                    Just(r#"{"op": "Connect"}"#),
                    Just(r#"{"op": "Advance", "by": "1ms"}"#),
                    Just(r#"{"op": "KmdSendMessage", "payload": "PING:1", "output_size": 4294967295}"#),
                    Just(r#"{"op": "Disconnect", "bogus": 1}"#),
                    Just(r#"{"op": "Nope"}"#),
                    Just(r#"{"op": "#),
                ],
                0..8,
            ),
            pad in 0usize..70_000,
        ) {
            let text = format!(
                "{prefix}{}{{\"version\": 1, \"name\": \"p\", \"steps\": [{}], \"expect\": {{}}}}",
                " ".repeat(pad),
                steps.join(", ")
            );
            props::scenario(text.as_bytes());
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Hostile files and flags.
// ---------------------------------------------------------------------------------------------

fn scenario_json(name: &str, steps: &str) -> String {
    format!(
        r#"{{"version": 1, "name": {}, "steps": [{steps}], "expect": {{}}}}"#,
        serde_json::to_string(name).unwrap()
    )
}

const SEND: &str = r#"{"op": "AdapterBringUp"}, {"op": "Connect", "expect_status": "STATUS_SUCCESS"}, {"op": "KmdSendMessage", "payload": "PING:1", "output_size": 64}, {"op": "Disconnect"}"#;

#[cfg(unix)]
#[test]
fn a_folder_with_loops_fifos_duplicates_and_a_huge_line_is_walked_once_and_every_file_reported() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir(d.join("sub")).unwrap();
    std::fs::write(d.join("sub/a.json"), scenario_json("a", SEND)).unwrap();
    std::fs::write(d.join("b.json"), scenario_json("b", SEND)).unwrap();
    // The same name in another file.
    std::fs::write(d.join("c.json"), scenario_json("a", SEND)).unwrap();
    // Two directory loops.
    std::os::unix::fs::symlink("..", d.join("sub/up")).unwrap();
    std::os::unix::fs::symlink("../sub", d.join("sub/again")).unwrap();
    // A FIFO named like a scenario (nobody writes to it: reading it would block forever).
    let fifo = d.join("fifo.json");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    // An error past column 65,535 of a one-line file.
    let long = format!(
        "{}{}",
        " ".repeat(70_000),
        scenario_json("long", r#"{"op": "AdapterBringUp", "bogus": 1}"#)
    );
    std::fs::write(d.join("long.json"), long).unwrap();

    let o = sim(&["validate", d.to_str().unwrap()]);
    let out = text(&o.stdout).replace("\n  │ ", " ");
    assert_eq!(code(&o), 2, "{out}{}", text(&o.stderr));
    assert!(!text(&o.stderr).contains("panicked"), "{}", text(&o.stderr));
    // Each file once, whatever the loops.
    assert_eq!(out.matches("ok ").count(), 3, "{out}");
    assert!(out.contains("fifo.json is not a regular file"), "{out}");
    assert!(out.contains("long.json:1:70"), "{out}");
    assert!(out.contains("unknown field `bogus`"), "{out}");
    assert!(
        out.contains("the scenario name `a` is used by 2 files"),
        "{out}"
    );
    assert!(out.ends_with("2 valid, 3 invalid\n"), "{out}");

    // `run` over the same folder: every file once, the bad ones invalid, the others run.
    let o = sim(&["run", d.to_str().unwrap()]);
    let out = text(&o.stdout);
    assert_eq!(out.matches("PASS ").count(), 3, "{out}");
    assert_eq!(out.matches("INVALID ").count(), 2, "{out}");
}

#[test]
fn input_files_have_a_size_limit_that_names_how_to_raise_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.json");
    std::fs::write(&path, scenario_json("s", SEND)).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_miracast-sim"))
        .args(["validate", path.to_str().unwrap()])
        .env("MIRACAST_SIM_MAX_FILE_SIZE", "100")
        .output()
        .unwrap();
    // The diagnostic wraps long messages: read it as one line.
    let out = text(&o.stdout).replace("\n  │ ", " ");
    assert_eq!(code(&o), 2, "{out}");
    assert!(
        out.contains("larger than the 100-byte limit")
            && out.contains("MIRACAST_SIM_MAX_FILE_SIZE=BYTES"),
        "{out}"
    );
    // A device never ends: refused, not read.
    if Path::new("/dev/zero").exists() {
        let o = sim(&["validate", "/dev/zero"]);
        assert_eq!(code(&o), 2);
        assert!(
            text(&o.stdout)
                .replace("\n  │ ", " ")
                .contains("not a regular file"),
            "{}",
            text(&o.stdout)
        );
    }
}

#[test]
fn counts_a_file_or_flag_controls_are_capped_with_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let targets = dir.path().join("targets.json");
    std::fs::write(
        &targets,
        r#"{"version": 1, "name": "t", "setup": {"adapter": {"other_targets": 4294967295}}, "steps": [], "expect": {}}"#,
    )
    .unwrap();
    let o = sim(&["validate", targets.to_str().unwrap()]);
    assert_eq!(code(&o), 2);
    assert!(
        text(&o.stdout).contains("4294967295 other targets is more than the 64"),
        "{}",
        text(&o.stdout)
    );
    let ok = dir.path().join("ok.json");
    std::fs::write(&ok, scenario_json("ok", SEND)).unwrap();
    let o = sim(&[
        "run",
        ok.to_str().unwrap(),
        "--explore",
        "--strategy",
        "pct",
        "--pct-depth",
        "4294967295",
    ]);
    assert_eq!(code(&o), 2);
    assert!(
        text(&o.stderr).contains("more than the 64"),
        "{}",
        text(&o.stderr)
    );
    let o = sim(&[
        "run",
        ok.to_str().unwrap(),
        "--explore",
        "--explore-time",
        "0s",
    ]);
    assert_eq!(code(&o), 2);
    assert!(
        text(&o.stderr).contains("explores nothing"),
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn a_declared_4_gib_output_buffer_runs() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.json");
    std::fs::write(
        &path,
        scenario_json(
            "big",
            &SEND.replace("\"output_size\": 64", "\"output_size\": 4294967295"),
        ),
    )
    .unwrap();
    let o = sim(&["run", path.to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}{}", text(&o.stdout), text(&o.stderr));
}

#[test]
fn control_characters_in_names_are_escaped_in_human_output_and_exact_in_json() {
    let dir = tempfile::tempdir().unwrap();
    let name = "evil\u{1b}[2K\r\nPASS everything\u{0}";
    let path = dir.path().join("evil.json");
    std::fs::write(&path, scenario_json(name, SEND)).unwrap();
    let json = dir.path().join("run.json");
    let o = sim(&[
        "run",
        path.to_str().unwrap(),
        "--report",
        &format!("json={}", json.display()),
    ]);
    let out = text(&o.stdout);
    assert_eq!(code(&o), 0, "{out}");
    assert!(
        !out.contains('\u{1b}') && !out.contains('\r') && !out.contains('\0'),
        "{out:?}"
    );
    assert!(
        out.starts_with("PASS evil\\u{1b}[2K\\r\\nPASS everything\\u{0} ("),
        "{out}"
    );
    assert!(
        !out.lines().any(|l| l.starts_with("PASS everything")),
        "{out}"
    );
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(doc["scenarios"][0]["name"], name);
    let o = sim(&["validate", path.to_str().unwrap()]);
    assert!(!text(&o.stdout).contains('\u{1b}'), "{}", text(&o.stdout));
}

/// Runs the binary with its stdout on a pipe whose read end is already closed.
fn with_closed_stdout(args: &[&str]) -> Output {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    Command::new(env!("CARGO_BIN_EXE_miracast-sim"))
        .args(args)
        .env("CI", "true")
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap()
}

#[test]
fn a_closed_pipe_ends_every_subcommand_quietly_and_keeps_the_report_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.json");
    std::fs::write(&path, scenario_json("s", SEND)).unwrap();
    let capture = dir.path().join("capture.txt");
    std::fs::write(
        &capture,
        "OPTIONS * RTSP/1.0\r\nCSeq: 1\r\nRequire: org.wfa.wfd1.0\r\n\r\n",
    )
    .unwrap();
    let json = dir.path().join("out/run.json");
    let report = format!("json={}", json.display());
    let p = path.to_str().unwrap();
    let c = capture.to_str().unwrap();
    for args in [
        vec!["validate", p],
        vec!["schema"],
        vec!["rules", "--verbose"],
        vec!["wfd", "decode", c],
        vec!["run", p, "--report", &report],
    ] {
        let o = with_closed_stdout(&args);
        let err = text(&o.stderr);
        assert_eq!(code(&o), 0, "{args:?}: {err}");
        assert!(err.is_empty(), "{args:?}: {err}");
    }
    assert!(json.exists(), "the report file was lost");
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let token = doc["scenarios"][0]["replay_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let folder = dir.path().to_str().unwrap();
    for args in [
        vec!["explain", "R26"],
        vec!["replay", &token, folder, "--trace"],
    ] {
        let o = with_closed_stdout(&args);
        let err = text(&o.stderr);
        assert_eq!(code(&o), 0, "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}

#[cfg(target_os = "linux")]
#[test]
fn a_failed_write_to_stdout_is_exit_2_with_a_message() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.json");
    std::fs::write(&path, scenario_json("s", SEND)).unwrap();
    let json = dir.path().join("run.json");
    for args in [
        vec![
            "run",
            path.to_str().unwrap(),
            "--report",
            &format!("json={}", json.display()),
        ],
        vec!["validate", path.to_str().unwrap()],
        vec!["schema"],
    ] {
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        let o = Command::new(env!("CARGO_BIN_EXE_miracast-sim"))
            .args(&args)
            .env("CI", "true")
            .stdout(full)
            .output()
            .unwrap();
        assert_eq!(code(&o), 2, "{args:?}");
        assert!(
            text(&o.stderr).contains("cannot write to standard output"),
            "{args:?}: {}",
            text(&o.stderr)
        );
    }
    assert!(json.exists(), "the report file was lost");
}

#[test]
fn report_paths_are_checked_before_the_run_starts() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.json");
    std::fs::write(&path, scenario_json("s", SEND)).unwrap();
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, "").unwrap();
    let o = sim(&[
        "run",
        path.to_str().unwrap(),
        "--report",
        &format!("junit={}", blocker.join("junit.xml").display()),
    ]);
    assert_eq!(code(&o), 2);
    assert!(
        text(&o.stdout).is_empty(),
        "the run started: {}",
        text(&o.stdout)
    );
    assert!(text(&o.stderr).contains("junit.xml"), "{}", text(&o.stderr));
}

#[test]
fn wfd_decode_says_when_content_length_and_body_disagree() {
    let dir = tempfile::tempdir().unwrap();
    let capture = dir.path().join("capture.txt");
    std::fs::write(
        &capture,
        "SET_PARAMETER rtsp://localhost/wfd1.0 RTSP/1.0\r\nCSeq: 5\r\nX-A: 1\r\nX-A: 2\r\nContent-Type: text/parameters\r\nContent-Length: 40\r\n\r\nwfd_trigger_method: SETUP\r\n",
    )
    .unwrap();
    let o = sim(&["wfd", "decode", capture.to_str().unwrap()]);
    assert_eq!(code(&o), 1);
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let error = doc[0]["error"].as_str().unwrap();
    assert!(
        error.contains(
            "incomplete message: Content-Length announces 40 body bytes and the capture holds 27"
        ),
        "{error}"
    );
    let o = sim(&["wfd", "decode", "--lenient", capture.to_str().unwrap()]);
    assert_eq!(code(&o), 0);
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(doc[0]["warning"].as_str().unwrap().contains("announces 40"));
    // Repeated headers as they came, in wire order.
    let headers: Vec<String> = doc[0]["headers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| format!("{}: {}", h[0].as_str().unwrap(), h[1].as_str().unwrap()))
        .collect();
    assert_eq!(
        headers[..3],
        [
            "CSeq: 5".to_owned(),
            "X-A: 1".to_owned(),
            "X-A: 2".to_owned()
        ]
    );
}
