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
    use std::collections::BTreeMap;
    use std::sync::{Mutex, OnceLock};
    static BUILT: OnceLock<Mutex<BTreeMap<String, PathBuf>>> = OnceLock::new();
    let key = format!("{source}{defines:?}");
    let mut built = BUILT
        .get_or_init(|| Mutex::new(BTreeMap::new()))
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if let Some(path) = built.get(&key) {
        return path.clone();
    }
    let out_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("hostile-drivers");
    std::fs::create_dir_all(&out_dir).unwrap();
    let name: String = source.replace(['/', '.'], "-")
        + &defines
            .iter()
            .map(|d| format!("-{}", d.to_lowercase()))
            .collect::<String>();
    let out = out_dir.join(format!("lib{name}.so"));
    let partial = out_dir.join(format!("lib{name}.so.{}", std::process::id()));
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let status = Command::new(std::env::var("CC").unwrap_or_else(|_| "cc".to_owned()))
        .args(["-std=c11", "-O1", "-shared", "-fPIC", "-w", "-I"])
        .arg(root.join("include"))
        .arg("-I")
        .arg(root.join("tests/fixtures/real_driver"))
        .args(defines.iter().map(|d| format!("-D{d}")))
        .arg("-o")
        .arg(&partial)
        .arg(root.join("tests/fixtures").join(source))
        .arg("-lpthread")
        .status()
        .expect("a C compiler (`cc`, Debian package gcc) builds the fixture drivers");
    assert!(status.success(), "building {source} {defines:?}");
    std::fs::rename(&partial, &out).unwrap();
    built.insert(key, out.clone());
    out
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
    let text =
        std::fs::read_to_string("scenarios/hlk-preflight/wireless-display-verify-monitor-off.json")
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
            .contains("a thread the driver created (`hostile-worker`)"),
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
    assert!(findings[0].contains("hostile-worker"), "{}", findings[0]);
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
    let status = Command::new("kill")
        .args(["-TERM", &run.id().to_string()])
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
