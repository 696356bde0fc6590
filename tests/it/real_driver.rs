//! Real driver binaries through the loader: the C fixture drivers of `tests/fixtures/real_driver`
//! (built here with the system C compiler) under the OS model and the Wi-Fi Display sink, every
//! seeded bug caught, a crash contained by an isolated child process, and the loader's errors.
#![cfg(feature = "real-driver")]

use miracast_sim::backend::real::{
    BridgeConfig, DriverFaultKind, ISOLATED_CHILD_ENV, LoadError, RealRuntime, RealUmd,
    isolated_child_main, load_real_drivers, run_isolated,
};
use miracast_sim::ddi::*;
use miracast_sim::os::{Os, OsConfig, SinkFacts};
use miracast_sim::rules::{Findings, Violation, trace_checks};
use miracast_sim::scenario::sink::SinkAdapter;
use miracast_sim::sched::{FirstStrategy, RandomStrategy, RunEnd, RunLimits, Sched, Strategy};
use miracast_sim::status::NtStatus;
use miracast_sim::time::SimTime;
use miracast_sim::wfd::{Sink, SinkConfig};
use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::Command;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

// ---------------------------------------------------------------------------------------------
// Building the fixtures.
// ---------------------------------------------------------------------------------------------

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/real_driver")
}

/// Builds the fixture `source` (`umd.c` or `kmd.c` of `tests/fixtures/real_driver`) with
/// `defines` into a shared library, once per process.
pub(crate) fn build(source: &str, defines: &[&str]) -> PathBuf {
    fixture_library(&format!("real_driver/{source}"), defines, false)
}

/// Builds `source` (a path under `tests/fixtures`: `real_driver/umd.c`, `hostile/umd.c`) with
/// `defines` into a shared library, once per test process, for every test module; with
/// `race_check`, with ThreadSanitizer's instrumentation and without its runtime
/// (`-fsanitize=thread -nodefaultlibs -lc`), as `include/miracast_sim_race.h` says a driver is
/// built for the race check.
pub(crate) fn fixture_library(source: &str, defines: &[&str], race_check: bool) -> PathBuf {
    static BUILT: OnceLock<Mutex<BTreeMap<String, PathBuf>>> = OnceLock::new();
    let key = format!("{source}{defines:?}{race_check}");
    let built = BUILT.get_or_init(|| Mutex::new(BTreeMap::new()));
    let mut built = built.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(path) = built.get(&key) {
        return path.clone();
    }
    let out_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("real_driver");
    std::fs::create_dir_all(&out_dir).expect("create the fixture output directory");
    // `real_driver/umd.c` is `libumd`, another folder's file `libhostile-umd`.
    let stem = source
        .trim_start_matches("real_driver/")
        .trim_end_matches(".c")
        .replace('/', "-");
    let suffix = defines
        .iter()
        .map(|d| d.trim_start_matches("BUG_").to_lowercase())
        .collect::<Vec<_>>()
        .join("-");
    let name = format!(
        "lib{stem}{}{}{}.{}",
        if race_check { "-race" } else { "" },
        if suffix.is_empty() { "" } else { "-" },
        suffix,
        if cfg!(target_os = "macos") {
            "dylib"
        } else {
            "so"
        }
    );
    let out = out_dir.join(name);
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut cmd = Command::new(std::env::var("CC").unwrap_or_else(|_| "cc".to_owned()));
    cmd.args(["-std=c11", "-O1", "-g", "-Wall", "-shared", "-fPIC"])
        .arg("-I")
        .arg(root.join("include"))
        .arg("-I")
        .arg(fixture_dir());
    if race_check {
        cmd.args(["-fsanitize=thread", "-nodefaultlibs", "-lc"]);
    }
    for d in defines {
        cmd.arg(format!("-D{d}"));
    }
    // Built under a name of this process's own and renamed into place: another test process
    // may be loading the library at `out` meanwhile, and a rename never shows it half written.
    let partial = out.with_extension(format!("{}.partial", std::process::id()));
    cmd.arg("-o")
        .arg(&partial)
        .arg(root.join("tests/fixtures").join(source))
        .arg("-lpthread");
    let output = match cmd.output() {
        Ok(o) => o,
        Err(e) => panic!(
            "cannot run the C compiler `cc` ({e}); the real-driver tests build their fixture drivers with it: install the Debian package `gcc` (or set CC)"
        ),
    };
    assert!(
        output.status.success(),
        "building {source} {defines:?} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    std::fs::rename(&partial, &out).expect("move the built fixture into place");
    built.insert(key, out.clone());
    out
}

pub(crate) fn umd(defines: &[&str]) -> PathBuf {
    build("umd.c", defines)
}

pub(crate) fn kmd(defines: &[&str]) -> PathBuf {
    build("kmd.c", defines)
}

/// The fixture UMD built for the race check.
pub(crate) fn race_check_umd(defines: &[&str]) -> PathBuf {
    fixture_library("real_driver/umd.c", defines, true)
}

/// The fixture KMD built for the race check.
pub(crate) fn race_check_kmd(defines: &[&str]) -> PathBuf {
    fixture_library("real_driver/kmd.c", defines, true)
}

// ---------------------------------------------------------------------------------------------
// Harness: the OS model, the loaded drivers and a Wi-Fi Display sink.
// ---------------------------------------------------------------------------------------------

type Script = Box<dyn FnOnce(Os) -> Pin<Box<dyn Future<Output = ()>>>>;

struct Outcome {
    end: RunEnd,
    findings: Vec<Violation>,
    start: Option<NtStatus>,
    runtime: RealRuntime,
    trace: String,
}

impl Outcome {
    fn rules(&self) -> Vec<u8> {
        let mut r: Vec<u8> = self.findings.iter().map(|v| v.rule.number()).collect();
        r.sort_unstable();
        r.dedup();
        r
    }
}

/// The bridge's settings for tests in which no call hangs: a hang deadline far above any real
/// stall of a loaded CI machine, so that only a real hang ever trips it (the hang tests set
/// their own short deadline).
fn bridge_config() -> BridgeConfig {
    BridgeConfig {
        hang_timeout: Duration::from_secs(60),
        ..BridgeConfig::default()
    }
}

/// Brings the adapter up, connects, runs `script`, and collects what the run found.
fn run_real(
    umd_path: &Path,
    kmd_path: &Path,
    os_config: OsConfig,
    strategy: Box<dyn Strategy>,
    config: BridgeConfig,
    script: Script,
) -> Outcome {
    run_real_with_sink(
        umd_path,
        kmd_path,
        os_config,
        SinkConfig::default(),
        strategy,
        config,
        script,
    )
}

/// [`run_real`] with a sink configuration of its own.
fn run_real_with_sink(
    umd_path: &Path,
    kmd_path: &Path,
    os_config: OsConfig,
    sink_config: SinkConfig,
    strategy: Box<dyn Strategy>,
    config: BridgeConfig,
    script: Script,
) -> Outcome {
    let sched = Sched::new(strategy);
    let findings = Findings::default();
    let (kmd, umd, runtime) =
        load_real_drivers(&sched, umd_path, kmd_path, config).expect("load the fixture drivers");
    let os = Os::new(&sched, &findings, os_config, kmd, umd);
    os.set_profile(Some(miracast_sim::profile::reference()));
    let probe = Sink::new(sink_config.clone(), SimTime::ZERO).expect("sink config");
    let monitor_present =
        probe.capabilities().edid.is_some() || probe.capabilities().connector.is_some();
    let (sink, control) = SinkAdapter::new(sink_config);
    os.attach_sink(
        Box::new(sink),
        SinkFacts {
            monitor_present,
            supports_1024x768: true,
            monitor_type: None,
        },
    );
    let start = std::rc::Rc::new(std::cell::Cell::new(None));
    let (os2, start2) = (os.clone(), start.clone());
    sched.spawn("os-main", false, async move {
        if os2.bring_up_adapter().await != NtStatus::STATUS_SUCCESS {
            return;
        }
        control
            .reconnect(os2.now())
            .expect("a fresh sink for the connection");
        start2.set(Some(os2.connect().await));
        script(os2).await;
    });
    let end = sched.run(RunLimits::default());
    let trace = sched.take_trace();
    let mut all = findings.snapshot();
    all.extend(trace_checks::check(&trace));
    Outcome {
        end,
        findings: all,
        start: start.get(),
        runtime,
        trace: trace.to_text(),
    }
}

fn sleep(os: &Os, ms: u64) -> impl Future<Output = ()> + use<> {
    os.sched().sleep(Duration::from_millis(ms))
}

/// The whole life of a session: data-rate notifications (the UMD reports the monitor from the
/// first one), a power-off and power-on commit (kernel messages with completion routines), GPU
/// contexts, an encode interrupt, and the disconnection.
fn full_session() -> Script {
    Box::new(|os: Os| {
        Box::pin(async move {
            sleep(&os, 2_500).await;
            let target = os.snapshot().miracast_target.expect("a Miracast target");
            let _ = os
                .query_child_status(
                    target,
                    ChildStatusKind::MiracastConnection {
                        connected: false,
                        monitor_type: VideoOutputTechnology::Uninitialized,
                    },
                )
                .await;
            os.commit_vidpn(true).await;
            sleep(&os, 100).await;
            os.commit_vidpn(false).await;
            sleep(&os, 100).await;
            let _ = os.create_gpu_contexts(2, false).await;
            let _ = os.destroy_gpu_contexts().await;
            os.raise_chunk_interrupt(
                ChunkInfo {
                    chunk_type: ChunkType::EncodeComplete,
                    chunk_id: ChunkId::new(0, 0).unwrap(),
                    processing_time: 500,
                    encode_rate: 8_000,
                },
                Vec::new(),
            )
            .await;
            os.disconnect().await;
        })
    })
}

fn disconnect_only() -> Script {
    Box::new(|os: Os| {
        Box::pin(async move {
            sleep(&os, 1_500).await;
            os.disconnect().await;
        })
    })
}

/// Connects with the UMD built with `defines`; returns the outcome.
fn connect_with(defines: &[&str]) -> Outcome {
    run_real(
        &umd(defines),
        &kmd(&[]),
        OsConfig::default(),
        Box::new(FirstStrategy),
        bridge_config(),
        disconnect_only(),
    )
}

/// The one finding of `rule` in `o` (fails the test unless there is exactly one).
fn one_finding(o: &Outcome, rule: u8) -> &Violation {
    let found: Vec<&Violation> = o
        .findings
        .iter()
        .filter(|v| v.rule.number() == rule)
        .collect();
    assert_eq!(found.len(), 1, "R{rule}: {:#?}\n{}", o.findings, o.trace);
    found[0]
}

// ---------------------------------------------------------------------------------------------
// The correct pair.
// ---------------------------------------------------------------------------------------------

#[test]
fn correct_fixture_pair_keeps_every_rule_over_a_whole_session() {
    for seed in [1, 7, 42] {
        let o = run_real(
            &umd(&[]),
            &kmd(&[]),
            OsConfig::default(),
            Box::new(RandomStrategy::new(seed)),
            bridge_config(),
            full_session(),
        );
        assert_eq!(o.end, RunEnd::Completed, "seed {seed}:\n{}", o.trace);
        assert_eq!(
            o.start,
            Some(NtStatus::STATUS_SUCCESS),
            "seed {seed}:\n{}",
            o.trace
        );
        assert!(
            o.findings.is_empty(),
            "seed {seed}: {:#?}\n{}",
            o.findings,
            o.trace
        );
        assert!(o.runtime.faults().is_empty(), "{:?}", o.runtime.faults());
        // The C source negotiated M1..M7 with the sink over the loopback socket.
        assert!(o.trace.contains("PLAY"), "seed {seed}:\n{}", o.trace);
        // The monitor arrival went UMD IOCTL -> KMD -> DxgkCbIndicateChildStatus, nested on
        // the thread of the data-rate notification.
        assert!(
            o.trace.contains("enter DxgkCbIndicateChildStatus"),
            "seed {seed}:\n{}",
            o.trace
        );
        // The power-off message reached HandleKernelModeMessage and its completion routine.
        assert!(
            o.trace.contains("enter HandleKernelModeMessage"),
            "seed {seed}:\n{}",
            o.trace
        );
        assert!(
            o.trace.contains("enter DxgkCbMiracastSendMessageCallback"),
            "seed {seed}:\n{}",
            o.trace
        );
    }
}

#[test]
fn other_c_library_calls_serve_the_same_session() {
    // select, a non-blocking recv before each wait, sched_yield and pthread_exit.
    for seed in [2, 9] {
        let o = run_real(
            &umd(&["ALT_LIBC_CALLS"]),
            &kmd(&[]),
            OsConfig::default(),
            Box::new(RandomStrategy::new(seed)),
            bridge_config(),
            full_session(),
        );
        assert_eq!(o.end, RunEnd::Completed, "seed {seed}: {}", o.trace);
        assert_eq!(o.start, Some(NtStatus::STATUS_SUCCESS), "{}", o.trace);
        assert!(o.findings.is_empty(), "seed {seed}: {:#?}", o.findings);
        assert!(o.runtime.faults().is_empty(), "{:?}", o.runtime.faults());
        let threads = o.runtime.driver_threads();
        assert_eq!(threads.len(), 1, "{threads:?}");
        // It ended through pthread_exit, and Stop's pthread_join saw it end.
        assert!(threads[0].ended, "{threads:?}");
        assert!(o.trace.contains("PLAY"), "{}", o.trace);
    }
}

#[test]
fn a_worker_ioctl_during_stop_fails_and_stop_still_joins_it() {
    // The worker's IOCTL while Stop runs on another thread is failed by the OS (R44), not let
    // through under Stop's own exemption, and Stop's pthread_join then finds the worker ended.
    for seed in [1, 4, 8] {
        let o = run_real(
            &umd(&["IOCTL_WHILE_STOPPING"]),
            &kmd(&[]),
            OsConfig::default(),
            Box::new(RandomStrategy::new(seed)),
            bridge_config(),
            disconnect_only(),
        );
        assert_eq!(o.end, RunEnd::Completed, "seed {seed}: {}", o.trace);
        assert!(o.findings.is_empty(), "seed {seed}: {:#?}", o.findings);
        let threads = o.runtime.driver_threads();
        assert!(threads[0].ended, "{threads:?}");
        let worker = format!(" t{} ", threads[0].thread);
        let refused = o.trace.lines().any(|l| {
            l.contains(&worker)
                && l.contains("leave MiracastIoControl -> STATUS_INVALID_DEVICE_STATE")
        });
        assert!(refused, "seed {seed}: {}", o.trace);
        assert!(
            !o.trace
                .lines()
                .any(|l| l.contains("enter DxgkDdiMiracastIoControl")
                    && l.contains("op=MONITOR_DEPARTED")),
            "seed {seed}: {}",
            o.trace
        );
    }
}

#[test]
fn same_seed_same_trace_with_the_real_drivers() {
    let run = || {
        run_real(
            &umd(&[]),
            &kmd(&[]),
            OsConfig::default(),
            Box::new(RandomStrategy::new(5)),
            bridge_config(),
            full_session(),
        )
        .trace
    };
    assert_eq!(run(), run());
}

#[test]
fn too_low_a_bit_rate_fails_start_with_the_documented_status() {
    let config = OsConfig {
        suggested_bitrate: 2_000_000,
        min_bitrate_1024x768: Some(3_303_015),
        ..OsConfig::default()
    };
    let o = run_real(
        &umd(&[]),
        &kmd(&[]),
        config,
        Box::new(FirstStrategy),
        bridge_config(),
        disconnect_only(),
    );
    assert_eq!(
        o.start,
        Some(NtStatus::STATUS_DEVICE_INSUFFICIENT_RESOURCES),
        "{}",
        o.trace
    );
    assert!(!o.rules().contains(&39), "{:#?}", o.findings);
}

// ---------------------------------------------------------------------------------------------
// Seeded bugs.
// ---------------------------------------------------------------------------------------------

#[test]
fn generic_insufficient_resources_status_breaks_r39() {
    let config = OsConfig {
        suggested_bitrate: 2_000_000,
        min_bitrate_1024x768: Some(3_303_015),
        ..OsConfig::default()
    };
    let o = run_real(
        &umd(&["BUG_GENERIC_INSUFFICIENT_STATUS"]),
        &kmd(&[]),
        config,
        Box::new(FirstStrategy),
        bridge_config(),
        disconnect_only(),
    );
    assert_eq!(o.start, Some(NtStatus::STATUS_INSUFFICIENT_RESOURCES));
    assert!(o.rules().contains(&39), "{:#?}", o.findings);
}

#[test]
fn closing_the_rtsp_socket_breaks_r41() {
    let o = connect_with(&["BUG_CLOSE_RTSP_SOCKET"]);
    assert_eq!(o.start, Some(NtStatus::STATUS_SUCCESS), "{}", o.trace);
    let r41 = one_finding(&o, 41);
    assert!(r41.finding.contains("closed the OS-owned RTSP socket"));
}

#[test]
fn buffers_released_before_the_completion_routine_break_r26() {
    let mut caught = 0;
    for seed in 0..12 {
        let o = run_real(
            &umd(&[]),
            &kmd(&["BUG_RELEASE_BEFORE_COMPLETION"]),
            OsConfig::default(),
            Box::new(RandomStrategy::new(seed)),
            bridge_config(),
            full_session(),
        );
        assert_eq!(o.end, RunEnd::Completed, "seed {seed}");
        let r26 = o.rules().contains(&26);
        // The OS notices exactly when it touches the message after the release: the note
        // about the changed buffer comes first.
        if r26 {
            assert!(
                o.trace
                    .contains("changed before its completion routine ran"),
                "{}",
                o.trace
            );
        }
        caught += usize::from(r26);
        assert!(
            o.rules().iter().all(|r| *r == 26),
            "seed {seed}: {:#?}",
            o.findings
        );
    }
    assert!(
        caught > 0,
        "no seed delivered a message after its early release"
    );
}

#[test]
fn a_driver_blocked_outside_the_simulator_is_a_hang_finding_not_a_hang() {
    let o = run_real(
        &umd(&["BUG_HANG_IN_STOP"]),
        &kmd(&[]),
        OsConfig::default(),
        Box::new(FirstStrategy),
        BridgeConfig {
            hang_timeout: Duration::from_millis(300),
            ..BridgeConfig::default()
        },
        disconnect_only(),
    );
    let faults = o.runtime.faults();
    assert_eq!(faults.len(), 1, "{faults:?}");
    let fault = &faults[0];
    assert!(matches!(fault.kind, DriverFaultKind::Hang { .. }));
    assert_eq!(fault.ddi.as_deref(), Some("StopMiracastSession"));
    assert_eq!(fault.thread, "os-stop");
    assert!(o.runtime.is_poisoned());
    assert!(
        fault.to_string().contains("inside StopMiracastSession"),
        "{fault}"
    );
    // The bridge made up no answer: Stop never left, the driver's worker stopped at its next
    // wait, and the run ends with the OS's threads waiting on the one still inside Stop.
    assert!(
        !o.trace.contains("leave StopMiracastSession"),
        "{}",
        o.trace
    );
    assert!(
        o.trace.contains("a call into the driver hung"),
        "{}",
        o.trace
    );
    let RunEnd::Deadlock { chain } = &o.end else {
        panic!("{:?}\n{}", o.end, o.trace);
    };
    assert!(
        chain
            .iter()
            .any(|b| b.name == "os-stop" && b.inside.contains(&Ddi::StopMiracastSession)),
        "{chain:#?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Threads, time and blocking inside driver code.
// ---------------------------------------------------------------------------------------------

#[test]
fn a_thread_the_driver_creates_is_a_simulated_thread_named_after_its_routine() {
    let mut asked_during_start = 0;
    for seed in 0..12 {
        let o = run_real(
            &umd(&[]),
            &kmd(&[]),
            OsConfig::default(),
            Box::new(RandomStrategy::new(seed)),
            bridge_config(),
            full_session(),
        );
        assert_eq!(o.end, RunEnd::Completed, "seed {seed}: {}", o.trace);
        assert!(
            o.findings.is_empty(),
            "seed {seed}: {:#?}\n{}",
            o.findings,
            o.trace
        );
        assert!(
            o.runtime.faults().is_empty(),
            "seed {seed}: {:?}\n{}",
            o.runtime.faults(),
            o.trace
        );
        assert_eq!(
            o.start,
            Some(NtStatus::STATUS_SUCCESS),
            "seed {seed}: {}",
            o.trace
        );
        let threads = o.runtime.driver_threads();
        assert_eq!(threads.len(), 1, "seed {seed}: {threads:?}\n{}", o.trace);
        assert_eq!(threads[0].name, "umd-umd_session_worker");
        // Stop joined it.
        assert!(threads[0].ended, "{threads:?}");
        // Its MiracastIoControl is its own: entered on its thread, and when that was before
        // Start returned, held by the OS until then (R42).
        let worker = format!(" t{} ", threads[0].thread);
        let lines: Vec<&str> = o.trace.lines().collect();
        let ioctl = lines
            .iter()
            .position(|l| l.contains(&worker) && l.contains("enter MiracastIoControl"))
            .unwrap_or_else(|| panic!("no MiracastIoControl on{worker}:\n{}", o.trace));
        let start_left = lines
            .iter()
            .position(|l| l.contains("leave StartMiracastSession"))
            .expect("Start returned");
        let kmd_ioctl = lines[ioctl..]
            .iter()
            .position(|l| l.contains(&worker) && l.contains("enter DxgkDdiMiracastIoControl"))
            .map(|p| p + ioctl)
            .unwrap_or_else(|| panic!("the worker's IOCTL never reached the KMD:\n{}", o.trace));
        assert!(kmd_ioctl > start_left, "seed {seed}: {}", o.trace);
        asked_during_start += usize::from(ioctl < start_left);
    }
    assert!(
        asked_during_start > 0,
        "no schedule ran the worker before Start returned"
    );
}

#[test]
fn a_slow_stop_takes_its_sleep_in_virtual_time_and_breaks_r45() {
    let o = connect_with(&["BUG_SLOW_STOP"]);
    assert_eq!(o.end, RunEnd::Completed, "{}", o.trace);
    assert!(o.rules().contains(&45), "{:#?}\n{}", o.findings, o.trace);
    // The driver's own sleep(4) is exactly 4 s of virtual time.
    assert!(
        o.trace
            .contains("StopMiracastSession returned after 4000 ms"),
        "{}",
        o.trace
    );
    assert!(o.runtime.faults().is_empty(), "{:?}", o.runtime.faults());
}

#[test]
fn a_slow_destroy_takes_its_sleep_in_virtual_time_and_breaks_r46() {
    let o = connect_with(&["BUG_SLOW_DESTROY"]);
    assert_eq!(o.end, RunEnd::Completed, "{}", o.trace);
    let r46 = one_finding(&o, 46);
    // The driver's own nanosleep of 4 s, exactly.
    assert!(
        r46.finding.contains("DestroyMiracastContext took 4000 ms"),
        "{:#?}",
        r46
    );
}

#[test]
fn a_thread_left_running_after_destroy_breaks_r46() {
    let o = connect_with(&["BUG_THREAD_LEFT_BEHIND"]);
    assert_eq!(o.end, RunEnd::Completed, "{}", o.trace);
    let r46 = one_finding(&o, 46);
    assert!(r46.finding.contains("umd-umd_session_worker"), "{:#?}", r46);
    assert!(o.rules().iter().all(|r| *r == 46), "{:#?}", o.findings);
    // It was stopped at its next wait after the unload (its timed condition wait), not left
    // to run on.
    assert!(
        o.trace
            .contains("the thread is frozen at its pthread_cond_wait"),
        "{}",
        o.trace
    );
}

#[test]
fn a_status_report_after_destroy_breaks_r36() {
    let o = connect_with(&["BUG_STATUS_AFTER_DESTROY"]);
    assert_eq!(o.end, RunEnd::Completed, "{}", o.trace);
    let r36 = one_finding(&o, 36);
    assert!(
        r36.finding
            .contains("ReportSessionStatus called after DestroyMiracastContext"),
        "{:#?}",
        r36
    );
}

#[test]
fn a_start_that_waits_for_its_own_threads_ioctl_deadlocks_as_r42_says() {
    let o = connect_with(&["BUG_THREAD_RACES_START"]);
    let RunEnd::Deadlock { chain } = &o.end else {
        panic!("not a deadlock: {:?}\n{}", o.end, o.trace);
    };
    let start = chain
        .iter()
        .find(|b| b.inside.contains(&Ddi::StartMiracastSession))
        .unwrap_or_else(|| panic!("{chain:#?}"));
    let waits = start.waiting_for.as_ref().map(|w| w.object.clone());
    assert!(
        waits
            .as_deref()
            .is_some_and(|w| w.contains("driver condition")),
        "{chain:#?}"
    );
    // The worker's IOCTL entered and is held by the OS (R42) while Start waits for it.
    assert!(o.trace.contains("enter MiracastIoControl"), "{}", o.trace);
    assert!(
        !o.trace.contains("enter DxgkDdiMiracastIoControl"),
        "{}",
        o.trace
    );
    assert!(o.runtime.faults().is_empty(), "{:?}", o.runtime.faults());
    // And the finding names the rule and the UMD, not only the deadlock.
    let r42 = one_finding(&o, 42);
    assert_eq!(r42.culprit, miracast_sim::rules::Culprit::Umd, "{r42:?}");
    assert!(
        r42.finding
            .contains("Start waits for an IOCTL of its own driver's thread"),
        "{r42:?}"
    );
}

#[test]
fn sink_reply_delays_are_virtual_time_inside_start() {
    use miracast_sim::wfd::MessageKind;
    use miracast_sim::wfd::sink::DelayReply;
    for (message, delay_ms) in [
        (MessageKind::M1, 50),
        (MessageKind::M3, 2_000),
        (MessageKind::M4, 900),
    ] {
        let mut sink = SinkConfig::default();
        sink.behaviour
            .delay_replies
            .push(DelayReply { message, delay_ms });
        let o = run_real_with_sink(
            &umd(&[]),
            &kmd(&[]),
            OsConfig::default(),
            sink,
            Box::new(FirstStrategy),
            bridge_config(),
            disconnect_only(),
        );
        assert_eq!(o.end, RunEnd::Completed, "{message:?}: {}", o.trace);
        assert_eq!(
            o.start,
            Some(NtStatus::STATUS_SUCCESS),
            "{message:?}: {}",
            o.trace
        );
        assert!(o.findings.is_empty(), "{message:?}: {:#?}", o.findings);
        assert!(o.runtime.faults().is_empty(), "{:?}", o.runtime.faults());
        // Start lasted at least the sink's delay, in virtual time.
        let at = |what: &str| -> f64 {
            let line = o
                .trace
                .lines()
                .find(|l| l.contains(what))
                .unwrap_or_else(|| panic!("{what}:\n{}", o.trace));
            let t = line
                .split_whitespace()
                .find(|w| w.ends_with('s') && w.contains('.'))
                .expect("a time");
            t.trim_end_matches('s').parse().expect("seconds")
        };
        let took = at("leave StartMiracastSession") - at("enter StartMiracastSession");
        assert!(
            took >= delay_ms as f64 / 1000.0,
            "{message:?}: Start took {took} s:\n{}",
            o.trace
        );
        assert!(
            took < delay_ms as f64 / 1000.0 + 0.5,
            "{message:?}: Start took {took} s:\n{}",
            o.trace
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Crashes: isolated child processes.
// ---------------------------------------------------------------------------------------------

/// What the isolated child runs: the two library paths, on stdin.
#[derive(serde::Serialize, serde::Deserialize)]
struct ChildJob {
    umd: PathBuf,
    kmd: PathBuf,
}

/// The child's report.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct ChildReport {
    start: Option<i32>,
    rules: Vec<u8>,
}

/// Not a test of its own: the body of the isolated child process. It does nothing unless the
/// parent started this binary with the child marker set.
#[test]
fn isolated_child_entry() {
    if std::env::var_os(ISOLATED_CHILD_ENV).is_none() {
        return;
    }
    let code = isolated_child_main(|input| {
        let job: ChildJob = serde_json::from_slice(input).expect("child job");
        let o = run_real(
            &job.umd,
            &job.kmd,
            OsConfig::default(),
            Box::new(FirstStrategy),
            bridge_config(),
            full_session(),
        );
        ChildReport {
            start: o.start.map(|s| s.0),
            rules: o.rules(),
        }
    });
    std::process::exit(code);
}

fn run_in_child(
    umd: PathBuf,
    kmd: PathBuf,
) -> miracast_sim::backend::real::IsolatedOutcome<ChildReport> {
    let job = serde_json::to_vec(&ChildJob { umd, kmd }).unwrap();
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "real_driver::isolated_child_entry",
        "--exact",
        "--nocapture",
        "--test-threads=1",
    ]);
    run_isolated(&mut cmd, &job).expect("start the isolated child")
}

#[test]
fn a_crash_in_handle_kernel_mode_message_is_a_bugcheck_and_the_run_continues() {
    let reports_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("real_driver_reports");
    std::fs::create_dir_all(&reports_dir).unwrap();
    let scenarios = [
        ("correct", umd(&[])),
        ("crash", umd(&["BUG_CRASH_IN_HANDLE_KMD_MESSAGE"])),
        ("correct-again", umd(&[])),
    ];
    let mut written = Vec::new();
    for (name, umd_path) in scenarios {
        let outcome = run_in_child(umd_path, kmd(&[]));
        let report = reports_dir.join(format!("{name}.json"));
        std::fs::write(&report, serde_json::to_vec_pretty(&outcome).unwrap()).unwrap();
        written.push((name, outcome));
    }
    for (name, _) in &written {
        assert!(
            reports_dir.join(format!("{name}.json")).exists(),
            "report for {name} not written"
        );
    }
    let (_, correct) = &written[0];
    let report = correct.result.as_ref().expect("the correct pair finished");
    assert_eq!(report.start, Some(0));
    assert!(report.rules.is_empty(), "{report:?}");
    let (_, crashed) = &written[1];
    assert!(crashed.result.is_none());
    let fault = crashed.fault.as_ref().expect("a bugcheck finding");
    match &fault.kind {
        DriverFaultKind::Crash { name, .. } => assert!(name.contains("SIGSEGV"), "{name}"),
        other => panic!("not a crash: {other:?}"),
    }
    assert_eq!(
        fault.ddi.as_deref(),
        Some("HandleKernelModeMessage"),
        "{fault:#?}"
    );
    assert!(fault.thread.contains("msg-delivery"), "{fault:#?}");
    assert!(
        fault
            .last_events
            .last()
            .is_some_and(|e| e.ends_with("enter HandleKernelModeMessage")),
        "{:#?}",
        fault.last_events
    );
    assert!(
        fault
            .to_string()
            .starts_with("bugcheck: the driver crashed")
    );
    let (_, after) = &written[2];
    assert_eq!(after.result.as_ref().map(|r| r.start), Some(Some(0)));
}

// ---------------------------------------------------------------------------------------------
// Loader errors.
// ---------------------------------------------------------------------------------------------

fn load_umd_error(defines: &[&str]) -> LoadError {
    let sched = Sched::new(Box::new(FirstStrategy));
    let rt = RealRuntime::new(&sched, BridgeConfig::default());
    match RealUmd::load(&rt, &umd(defines)) {
        Ok(_) => panic!("{defines:?} loaded"),
        Err(e) => e,
    }
}

#[test]
fn loader_rejects_a_library_without_the_export() {
    let e = load_umd_error(&["BUG_NO_EXPORT"]);
    assert!(matches!(e, LoadError::MissingExport { .. }), "{e:?}");
    assert!(
        e.to_string()
            .ends_with("does not export QueryMiracastDriverInterface"),
        "{e}"
    );
}

#[test]
fn a_null_entry_in_the_interface_breaks_r34() {
    let o = connect_with(&["BUG_NULL_ENTRY"]);
    assert_eq!(
        o.start,
        Some(NtStatus::STATUS_INVALID_PARAMETER),
        "{}",
        o.trace
    );
    let r34 = one_finding(&o, 34);
    assert!(r34.finding.contains("StopMiracastSession"), "{:#?}", r34);
    assert!(
        !o.trace.contains("enter CreateMiracastContext"),
        "{}",
        o.trace
    );
}

#[test]
fn a_wrong_interface_size_breaks_r34() {
    let o = connect_with(&["BUG_WRONG_SIZE"]);
    assert_eq!(
        o.start,
        Some(NtStatus::STATUS_INVALID_PARAMETER),
        "{}",
        o.trace
    );
    let r34 = one_finding(&o, 34);
    assert!(r34.finding.contains("Size 40"), "{:#?}", r34);
}

#[test]
fn a_query_that_ignores_the_buffer_size_breaks_r34() {
    let o = connect_with(&["BUG_QUERY_IGNORES_SIZE"]);
    let r34 = one_finding(&o, 34);
    assert!(
        r34.finding.contains("size=40) returned STATUS_SUCCESS"),
        "{:#?}",
        r34
    );
    // The guard bytes after the short buffer show the overrun, without corrupting anything.
    assert!(
        o.trace.contains("wrote past the 40-byte buffer"),
        "{}",
        o.trace
    );
    // The full-size query was fine, so the session itself runs.
    assert_eq!(o.start, Some(NtStatus::STATUS_SUCCESS), "{}", o.trace);
}

#[test]
fn the_correct_query_answers_a_short_buffer_and_another_version_with_failures() {
    let o = connect_with(&[]);
    assert!(o.findings.is_empty(), "{:#?}", o.findings);
    assert!(!o.trace.contains("wrote past"), "{}", o.trace);
}

#[test]
fn loader_reports_a_missing_file() {
    let sched = Sched::new(Box::new(FirstStrategy));
    let rt = RealRuntime::new(&sched, BridgeConfig::default());
    let e = RealUmd::load(&rt, Path::new("/nonexistent/libnothing.so"))
        .err()
        .expect("a missing file does not load");
    assert!(
        e.to_string()
            .starts_with("cannot open driver library /nonexistent/libnothing.so: "),
        "{e}"
    );
}

// ---------------------------------------------------------------------------------------------
// The command line on the shipped corpus: determinism, exploration, half drivers.
// ---------------------------------------------------------------------------------------------

pub(crate) fn sim_binary() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_miracast-sim"));
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"));
    cmd
}

/// The conformance corpus: what any correct driver must show, so the correct fixtures pass all
/// of it (nothing skipped: their KMD exports the optional test hook).
pub(crate) const FIXTURE_CORPUS: [&str; 1] = ["scenarios/conformance"];

/// How many conformance scenarios there are.
pub(crate) fn conformance_count() -> usize {
    miracast_sim::scenario::discover(&[PathBuf::from("scenarios/conformance")])
        .expect("scenarios/conformance is readable")
        .len()
}

/// Runs `args` and returns, per scenario, (name, outcome, trace) from the JSON report.
fn corpus_results(backend: &str, extra: &[&str]) -> Vec<(String, String, String)> {
    let out = sim_binary()
        .arg("run")
        .args(FIXTURE_CORPUS)
        .args(["--backend", backend, "--format", "json", "--jobs", "2"])
        .arg("--profile")
        .arg(fixture_dir().join("profile.json"))
        .args(extra)
        .output()
        .expect("run miracast-sim");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not a JSON report ({e}):\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    report["scenarios"]
        .as_array()
        .expect("scenarios")
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap_or_default().to_owned(),
                s["outcome"].to_string(),
                s["trace_text"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

fn both_fixtures() -> String {
    format!("real:{},{}", umd(&[]).display(), kmd(&[]).display())
}

#[test]
fn the_fixture_corpus_passes_with_byte_identical_traces_over_five_runs() {
    let backend = both_fixtures();
    let first = corpus_results(&backend, &["--seed", "7"]);
    assert_eq!(first.len(), conformance_count(), "{first:?}");
    for (name, outcome, trace) in &first {
        assert!(outcome.contains("pass"), "{name}: {outcome}\n{trace}");
        assert!(!trace.is_empty(), "{name}: no trace");
    }
    for run in 2..=5 {
        let again = corpus_results(&backend, &["--seed", "7"]);
        assert_eq!(again.len(), first.len());
        for (a, b) in first.iter().zip(&again) {
            assert_eq!(a.0, b.0);
            assert_eq!(a.1, b.1, "run {run}: {} changed verdict", a.0);
            if a.2 != b.2 {
                let at = a.2.lines().zip(b.2.lines()).position(|(x, y)| x != y);
                panic!("run {run}: {} trace differs at line {at:?}", a.0);
            }
        }
    }
}

#[test]
fn the_fixture_corpus_passes_explored_and_explores_the_same_way_twice() {
    // Each explored schedule is a whole run in this one process: the libraries are unloaded
    // and loaded again between runs, so every run starts from the driver's initial state. With
    // one exploration worker the whole report (schedules, choice points, states) repeats.
    let backend = both_fixtures();
    let explore = || {
        let out = sim_binary()
            .arg("run")
            .args([
                "scenarios/conformance/start-session",
                "scenarios/conformance/lifecycle/ioctl-during-start-waits.json",
                "scenarios/conformance/orderings/ioctl-racing-start.json",
                "scenarios/conformance/hlk-preflight/wireless-display-verify-monitor-arrival-departure.json",
                "scenarios/conformance/os-model/session-status-tears-down.json",
            ])
            .args(["--backend", &backend, "--explore=40", "--jobs", "1"])
            .arg("--profile")
            .arg(fixture_dir().join("profile.json"))
            .output()
            .expect("run miracast-sim");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert_eq!(out.status.code(), Some(0), "{text}");
        assert!(text.ends_with("8 passed, 0 failed\n"), "{text}");
        text
    };
    let first = explore();
    assert!(first.contains("explored 40 schedules"), "{first}");
    assert_eq!(first, explore());
}

#[test]
fn the_whole_corpus_passes_on_the_correct_fixtures_plain_and_explored_wherever_it_can_run() {
    let backend = both_fixtures();
    let total = miracast_sim::scenario::discover(&[PathBuf::from("scenarios")])
        .expect("scenarios/ is readable")
        .len();
    for extra in [&[][..], &["--explore=20"][..]] {
        let out = sim_binary()
            .args(["run", "scenarios", "--backend", &backend, "--jobs", "2"])
            .arg("--profile")
            .arg(fixture_dir().join("profile.json"))
            .args(extra)
            .output()
            .expect("run miracast-sim");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert_eq!(out.status.code(), Some(0), "{extra:?}: {text}");
        let last = text.lines().last().unwrap_or_default();
        let counts: Vec<usize> = last
            .split(", ")
            .filter_map(|part| part.split(' ').next()?.parse().ok())
            .collect();
        let [passed, failed, skipped] = counts[..] else {
            panic!("{extra:?}: not a summary line: {last}");
        };
        assert_eq!(failed, 0, "{extra:?}: {text}");
        assert_eq!(passed + skipped, total, "{extra:?}: {last}");
        // Every conformance scenario runs on a binary; what is skipped is a self-test that
        // asks for the reference drivers (knobs, settings), each with its reason.
        assert!(passed >= conformance_count(), "{extra:?}: {last}");
        for line in text.lines().filter(|l| l.starts_with("SKIP ")) {
            assert!(line.contains("(cannot run on real:"), "{extra:?}: {line}");
        }
    }
}

/// The human report's `SKIP name (...)` line for the scenario `name`.
fn skip_line<'a>(text: &'a str, name: &str) -> &'a str {
    text.lines()
        .find(|l| l.starts_with(&format!("SKIP {name} ")))
        .unwrap_or_else(|| panic!("no SKIP line for {name}:\n{text}"))
}

/// A scenario a binary cannot carry out is skipped with its reason in every report format and
/// the summary line, and `validate --backend` says so in advance; never a silent pass.
#[test]
fn what_a_binary_cannot_do_is_skipped_with_the_reason_in_every_format() {
    let no_hook = format!(
        "real:{},{}",
        umd(&[]).display(),
        kmd(&["WITHOUT_TEST_HOOK"]).display()
    );
    let files = [
        "scenarios/self-test/rules/slow-stop.json",
        "scenarios/conformance/messages/send-message-pending.json",
        "scenarios/conformance/create-context/hardware-busy.json",
        "scenarios/conformance/lifecycle/connect-disconnect.json",
    ];
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("r.json");
    let junit = dir.path().join("r.xml");
    let out = sim_binary()
        .arg("run")
        .args(files)
        .args(["--backend", &no_hook])
        .arg("--report")
        .arg(format!("json={}", json.display()))
        .arg("--report")
        .arg(format!("junit={}", junit.display()))
        .output()
        .expect("run miracast-sim");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.ends_with("1 passed, 0 failed, 3 skipped\n"), "{text}");
    // Both sides binaries and no profile: the run says what is not judged.
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("note: no driver profile (--profile FILE)"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for (name, why) in [
        (
            "knob-slow-stop",
            "bug knobs of the reference drivers (slow_stop)",
        ),
        (
            "send-message-returns-pending",
            "KmdSendMessage (line 10) asks the KMD to send a message through its optional MiracastSimKmdTestHook",
        ),
        (
            "create-context-hardware-busy",
            "`hardware_busy` is told to a binary KMD through its optional MiracastSimKmdTestHook",
        ),
    ] {
        let line = skip_line(&text, name);
        assert!(line.contains(why), "{line}");
    }
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let skipped: Vec<&serde_json::Value> = report["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["outcome"] == "skipped")
        .collect();
    assert_eq!(skipped.len(), 3, "{report}");
    assert!(
        skipped
            .iter()
            .all(|s| s["cannot_run"].as_array().is_some_and(|r| !r.is_empty()))
    );
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert_eq!(
        xml.matches("<skipped message=\"cannot run on real:")
            .count(),
        3,
        "{xml}"
    );
    // The same, said in advance.
    let out = sim_binary()
        .arg("validate")
        .args(files)
        .args(["--backend", &no_hook])
        .output()
        .expect("run miracast-sim");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert_eq!(text.matches("would skip it: ").count(), 3, "{text}");
    assert!(
        text.ends_with("4 valid (3 would be skipped on this backend), 0 invalid\n"),
        "{text}"
    );
}

/// Through the test hook `KmdSendMessage` drives a binary KMD: a KMD that releases its message
/// buffers before the completion routine has run fails the message scenarios with R26 and no
/// other rule.
#[test]
fn the_message_scenarios_catch_a_binary_kmd_that_releases_buffers_early() {
    let backend = format!(
        "real:{},{}",
        umd(&[]).display(),
        kmd(&["BUG_RELEASE_BEFORE_COMPLETION"]).display()
    );
    let out = sim_binary()
        .args([
            "run",
            "scenarios/conformance/messages/buffers-held-until-completion.json",
            "scenarios/conformance/messages/send-message-pending.json",
            "--backend",
            &backend,
            "--format",
            "json",
        ])
        .arg("--profile")
        .arg(fixture_dir().join("profile.json"))
        .output()
        .expect("run miracast-sim");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for s in report["scenarios"].as_array().unwrap() {
        assert_eq!(s["outcome"], "failed", "{s}");
        let rules: BTreeSet<String> = s["verdict"]["unexpected"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["rule"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(rules, BTreeSet::from(["R26".to_owned()]), "{s}");
    }
}

/// The rules a run of `scenario` breaks beyond what it expects, with `profile`.
fn unexpected_rules(scenario: &str, backend: &str, profile: Option<&str>) -> BTreeSet<String> {
    let mut cmd = sim_binary();
    cmd.args(["run", scenario, "--backend", backend, "--format", "json"]);
    if let Some(p) = profile {
        cmd.args(["--profile", p]);
    }
    let out = cmd.output().expect("run miracast-sim");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    report["scenarios"][0]["verdict"]["unexpected"]
        .as_array()
        .map(|v| {
            v.iter()
                .map(|v| v["rule"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// R11, R13, R15, R21 and R43 concern what a private IOCTL means. The fixtures built with
/// `-DPROTO_ALT` speak another private format (other magics, other codes); given its profile,
/// each seeded bug is caught with exactly the rule it breaks, as it is in the reference format
/// with the reference profile. Without a profile the meaning is unknown: the rule is not
/// judged (and the run's trace says so).
#[test]
fn a_driver_with_its_own_private_codes_is_judged_through_its_profile() {
    let dir = fixture_dir();
    let reference = dir.join("profile.json").display().to_string();
    let alt = dir.join("profile-alt.json").display().to_string();
    let scenario = "scenarios/conformance/lifecycle/connect-disconnect.json";
    let cases: [(&str, &str, &str); 4] = [
        ("kmd", "BUG_IGNORE_MONITOR_ARRIVAL", "R11"),
        ("kmd", "BUG_NO_EDID", "R15"),
        ("umd", "BUG_ARRIVAL_INSIDE_START", "R43"),
        ("umd", "BUG_DEPARTURE_IN_STOP", "R13"),
    ];
    for (side, bug, rule) in cases {
        let pair = |format: &[&str]| {
            let with_bug: Vec<&str> = format.iter().copied().chain([bug]).collect();
            let (u, k) = if side == "umd" {
                (umd(&with_bug), kmd(format))
            } else {
                (umd(format), kmd(&with_bug))
            };
            format!("real:{},{}", u.display(), k.display())
        };
        let want = BTreeSet::from([rule.to_owned()]);
        let plain = pair(&[]);
        let other = pair(&["PROTO_ALT"]);
        assert_eq!(
            unexpected_rules(scenario, &plain, Some(&reference)),
            want,
            "{bug}"
        );
        assert_eq!(
            unexpected_rules(scenario, &other, Some(&alt)),
            want,
            "{bug} (own codes)"
        );
        assert!(
            !unexpected_rules(scenario, &other, None).contains(rule),
            "{bug}: judged without knowing what the codes mean"
        );
    }
    // R21: a "monitor departed" IOCTL during a power-off commit (whose hardware takes 50 ms,
    // SLOW_COMMIT) forbids the commit's message to the UMD.
    let dir_tmp = tempfile::tempdir().unwrap();
    let r21 = dir_tmp.path().join("departure-during-commit.json");
    std::fs::write(
        &r21,
        r#"{ "version": 1, "name": "departure-during-power-off-commit",
  "steps": [
    { "op": "AdapterBringUp" },
    { "op": "Connect", "expect_status": "STATUS_SUCCESS" },
    { "op": "Advance", "by": "200ms" },
    { "op": "Parallel", "branches": [
      [ { "op": "DxgkDdiCommitVidPn", "monitor_power_off": true } ],
      [ { "op": "Advance", "by": "10ms" }, { "op": "MiracastIoControl", "payload": "MONITOR_DEPARTED", "output_size": 0 } ]
    ] },
    { "op": "Advance", "by": "100ms" },
    { "op": "Disconnect" }
  ] }"#,
    )
    .unwrap();
    let r21 = r21.display().to_string();
    for (format, profile) in [(&[][..], &reference), (&["PROTO_ALT"][..], &alt)] {
        let with = |extra: &[&str]| {
            let defines: Vec<&str> = format
                .iter()
                .copied()
                .chain(extra.iter().copied())
                .collect();
            format!("real:{},{}", umd(format).display(), kmd(&defines).display())
        };
        assert_eq!(
            unexpected_rules(&r21, &with(&["SLOW_COMMIT"]), Some(profile)),
            BTreeSet::new(),
            "{format:?}"
        );
        assert_eq!(
            unexpected_rules(
                &r21,
                &with(&["SLOW_COMMIT", "BUG_SEND_AFTER_DEPARTURE"]),
                Some(profile)
            ),
            BTreeSet::from(["R21".to_owned()]),
            "{format:?}"
        );
    }
    // The correct drivers in their own format pass the whole conformance corpus.
    let correct = format!(
        "real:{},{}",
        umd(&["PROTO_ALT"]).display(),
        kmd(&["PROTO_ALT"]).display()
    );
    let out = sim_binary()
        .args([
            "run",
            "scenarios/conformance",
            "--backend",
            &correct,
            "--profile",
            &alt,
        ])
        .output()
        .expect("run miracast-sim");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        text.ends_with(&format!("{} passed, 0 failed\n", conformance_count())),
        "{text}"
    );
}

/// May the OS stop and destroy the session while a data-rate notification is still inside the
/// UMD? Stop may overlap it (notifications come from a thread of their own; nothing documented
/// orders the two), but the NULL-stats call is documented as the last call
/// (PFN_DATARATE_NOTIFICATION), and after DestroyMiracastContext returns the OS unloads the UMD
/// (PFN_DESTROY_MIRACAST_CONTEXT), which it cannot do while its own call still runs the UMD's
/// code. So the OS model waits for a running notification before both; a correct UMD whose
/// notification is slow passes a sleep that comes in the middle of it, and the trace shows the
/// order (the trace check for R50 reports an OS that does not wait).
#[test]
fn a_sleep_during_a_data_rate_notification_waits_for_it_before_the_last_call_and_destroy() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("sleep-during-notification.json");
    std::fs::write(
        &scenario,
        r#"{ "version": 1, "name": "sleep-during-datarate-notification",
  "steps": [
    { "op": "AdapterBringUp" },
    { "op": "Connect", "expect_status": "STATUS_SUCCESS" },
    { "op": "Advance", "by": "1100ms" },
    { "op": "Sleep" },
    { "op": "Advance", "by": "1s" },
    { "op": "Resume", "expect_status": "STATUS_SUCCESS" },
    { "op": "Disconnect" }
  ],
  "expect": { "final_phase": "Stopped" } }"#,
    )
    .unwrap();
    let backend = format!(
        "real:{},{}",
        umd(&["SLOW_DATARATE_NOTIFY"]).display(),
        kmd(&[]).display()
    );
    let out = sim_binary()
        .arg("run")
        .arg(&scenario)
        .args(["--backend", &backend, "--format", "json", "--profile"])
        .arg(fixture_dir().join("profile.json"))
        .output()
        .expect("run miracast-sim");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let s = &report["scenarios"][0];
    let trace = s["trace_text"].as_str().unwrap();
    assert_eq!(s["outcome"], "passed", "{}", s["verdict"]);
    let lines: Vec<&str> = trace.lines().collect();
    let at = |pat: &str| {
        lines
            .iter()
            .position(|l| l.contains(pat))
            .unwrap_or_else(|| panic!("no `{pat}` in\n{trace}"))
    };
    // Stop came while the notification ran; the last call and Destroy waited for it.
    let first_leave = at("leave PfnDataRateNotify");
    assert!(at("enter StopMiracastSession") < first_leave, "{trace}");
    assert!(
        first_leave < at("enter PfnDataRateNotify(stats=null)"),
        "{trace}"
    );
    assert!(first_leave < at("enter DestroyMiracastContext"), "{trace}");
    // The shipped sleep scenario passes on the correct fixtures, plainly and explored.
    let out = sim_binary()
        .args([
            "run",
            "scenarios/conformance/hlk-preflight/wireless-display-verify-sleep.json",
            "--backend",
            &backend,
            "--explore=300",
            "--profile",
        ])
        .arg(fixture_dir().join("profile.json"))
        .output()
        .expect("run miracast-sim");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.ends_with("1 passed, 0 failed\n"), "{text}");
}

#[test]
fn half_a_driver_runs_against_the_reference_driver_for_the_other_half() {
    let u = umd(&[]);
    let k = kmd(&[]);
    for backend in [
        format!("real:{},model", u.display()),
        format!("real:model,{}", k.display()),
        // One library with only the UMD export: the reference KMD plays the miniport.
        format!("real:{}", u.display()),
    ] {
        let out = sim_binary()
            .args([
                "run",
                "scenarios/conformance/lifecycle/connect-disconnect.json",
                "scenarios/conformance/start-session",
                "--backend",
                &backend,
            ])
            .output()
            .expect("run miracast-sim");
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{backend}: {text}");
        assert!(text.ends_with("5 passed, 0 failed\n"), "{backend}: {text}");
    }
    // `model` on both sides is no driver binary: the backend is unavailable (exit 3).
    let out = sim_binary()
        .args([
            "run",
            "scenarios/conformance/start-session",
            "--backend",
            "real:model,model",
        ])
        .output()
        .expect("run miracast-sim");
    assert_eq!(out.status.code(), Some(3), "{out:?}");
}

#[test]
fn a_umd_written_against_winsock_and_ntstatus_builds_unchanged() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("real_driver");
    std::fs::create_dir_all(&dir).unwrap();
    let source = dir.join("winsock_umd.c");
    std::fs::write(
        &source,
        r#"
#include <winsock2.h>
#include <ntstatus.h>
#include <netdispumdddi.h>

/* What a UMD's Windows source does with the RTSP socket, unchanged. */
NTSTATUS wait_for_sink(SOCKET s, char *buffer, int capacity) {
    if (s == INVALID_SOCKET) return STATUS_INVALID_PARAMETER;
    unsigned long nonblocking = 1;
    if (ioctlsocket(s, FIONBIO, &nonblocking) == SOCKET_ERROR) return STATUS_UNSUCCESSFUL;
    WSAPOLLFD pfd = {0};
    pfd.fd = s;
    pfd.events = POLLIN;
    int ready = WSAPoll(&pfd, 1, 3000);
    if (ready == 0) return STATUS_IO_TIMEOUT;
    if (ready == SOCKET_ERROR) return WSAGetLastError() == WSAECONNRESET ? STATUS_CONNECTION_RESET : STATUS_UNSUCCESSFUL;
    int n = recv(s, buffer, capacity, 0);
    if (n == 0) return STATUS_CONNECTION_DISCONNECTED;
    if (n == SOCKET_ERROR && WSAGetLastError() == WSAEWOULDBLOCK) return STATUS_RETRY;
    shutdown(s, SD_SEND);
    return n > 0 ? STATUS_SUCCESS : STATUS_CONNECTION_ABORTED;
}

int release(SOCKET s) { return closesocket(s); }
_Static_assert(sizeof(SOCKET) == sizeof(void *), "SOCKET is UINT_PTR");
"#,
    )
    .unwrap();
    let include = Path::new(env!("CARGO_MANIFEST_DIR")).join("include");
    let out = Command::new(std::env::var("CC").unwrap_or_else(|_| "cc".to_owned()))
        .args([
            "-std=c11", "-Wall", "-Wextra", "-Werror", "-c", "-fPIC", "-I",
        ])
        .arg(&include)
        .arg("-o")
        .arg(dir.join("winsock_umd.o"))
        .arg(&source)
        .output()
        .expect("run the C compiler");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The test hook's third request: the KMD's hardware says the monitor is gone. The correct
/// fixture KMD reports the departure at once; one that only forgets the monitor fails the
/// conformance scenario (no departure before Stop) and breaks R12 at DestroyContext (the target
/// is still reported connected); one without the hook is skipped with the reason.
#[test]
fn a_kmd_told_its_monitor_is_gone_must_report_the_departure() {
    let scenario = "scenarios/conformance/lifecycle/monitor-departs-at-the-kmd.json";
    let run = |kmd_defines: &[&str]| {
        let backend = format!("real:{},{}", umd(&[]).display(), kmd(kmd_defines).display());
        let out = sim_binary()
            .args(["run", scenario, "--backend", &backend, "--format", "json"])
            .arg("--profile")
            .arg(fixture_dir().join("profile.json"))
            .output()
            .expect("run miracast-sim");
        let report: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
        (out.status.code(), report["scenarios"][0].clone())
    };
    let (code, correct) = run(&[]);
    assert_eq!(code, Some(0), "{correct:#}");
    assert_eq!(correct["outcome"], "passed", "{correct:#}");
    let trace = correct["trace_text"].as_str().unwrap_or_default();
    let departure = trace
        .lines()
        .position(|l| {
            l.contains("enter DxgkCbIndicateChildStatus") && l.contains("connected=false")
        })
        .unwrap_or_else(|| panic!("no departure:\n{trace}"));
    let stop = trace
        .lines()
        .position(|l| l.contains("enter StopMiracastSession"))
        .expect("the session was stopped");
    assert!(departure < stop, "{trace}");

    let (code, silent) = run(&["BUG_SILENT_UNPLUG"]);
    assert_eq!(code, Some(1), "{silent:#}");
    assert_eq!(silent["outcome"], "failed", "{silent:#}");
    let rules: BTreeSet<String> = silent["result"]["violations"]
        .as_array()
        .expect("violations")
        .iter()
        .filter_map(|v| v["rule"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(rules, BTreeSet::from(["R12".to_owned()]), "{silent:#}");
    let reasons = silent["verdict"]["reasons"].to_string();
    assert!(
        reasons.contains(r#"expected an event matching {\"ddi\":\"DxgkCbIndicateChildStatus\",\"arg\":\"connected=false\"}"#),
        "{reasons}"
    );

    let (code, without) = run(&["WITHOUT_TEST_HOOK"]);
    assert_eq!(code, Some(0), "{without:#}");
    assert_eq!(without["outcome"], "skipped", "{without:#}");
    assert!(
        without["skip_reason"]
            .as_str()
            .is_some_and(|r| r.contains("KmdMonitorDeparts (unplug)")
                && r.contains("MiracastSimKmdTestHook")),
        "{without:#}"
    );
}

/// The self-test corpus on the correct C fixtures: a self-test the binaries can carry out (an
/// OS-model knob, nothing the reference drivers alone do) passes on them, and every other one
/// is skipped with its reason; none fails for relying on the reference drivers.
#[test]
fn the_self_test_corpus_on_the_fixtures_passes_or_says_why_it_cannot_run() {
    let out = sim_binary()
        .args([
            "run",
            "scenarios/self-test",
            "--backend",
            &both_fixtures(),
            "--jobs",
            "2",
        ])
        .arg("--profile")
        .arg(fixture_dir().join("profile.json"))
        .output()
        .expect("run miracast-sim");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(0), "{text}");
    let ran = text.lines().filter(|l| l.starts_with("PASS ")).count();
    let skipped: Vec<&str> = text.lines().filter(|l| l.starts_with("SKIP ")).collect();
    assert!(
        ran >= 10,
        "the OS-model knob self-tests run on binaries:\n{text}"
    );
    assert!(
        text.ends_with(&format!(
            "{ran} passed, 0 failed, {} skipped\n",
            skipped.len()
        )),
        "{text}"
    );
    assert!(
        skipped.iter().all(|l| l.contains("(cannot run on real:")),
        "{text}"
    );
    for name in [
        "gpu-contexts-no-memory-when-budget-spent",
        "os-knob-statistic-changes-state",
        "os-knob-kernel-messages-without-umd-lock",
    ] {
        let line = skip_line(&text, name);
        assert!(line.contains("relies on the reference"), "{line}");
    }
    assert!(
        text.contains("PASS os-knob-destroy-without-stop "),
        "a Destroy without Stop ends the data-rate notifications for any UMD:\n{text}"
    );
}
