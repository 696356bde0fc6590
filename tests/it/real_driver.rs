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
use std::collections::BTreeMap;
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

/// Builds `source` (`umd.c` or `kmd.c`) with `defines` into a shared library, once per process.
fn build(source: &str, defines: &[&str]) -> PathBuf {
    static BUILT: OnceLock<Mutex<BTreeMap<String, PathBuf>>> = OnceLock::new();
    let key = format!("{source}{}", defines.join(""));
    let built = BUILT.get_or_init(|| Mutex::new(BTreeMap::new()));
    let mut built = built.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(path) = built.get(&key) {
        return path.clone();
    }
    let out_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("real_driver");
    std::fs::create_dir_all(&out_dir).expect("create the fixture output directory");
    let stem = source.trim_end_matches(".c");
    let suffix = defines
        .iter()
        .map(|d| d.trim_start_matches("BUG_").to_lowercase())
        .collect::<Vec<_>>()
        .join("-");
    let name = format!(
        "lib{stem}{}{}.{}",
        if suffix.is_empty() { "" } else { "-" },
        suffix,
        if cfg!(target_os = "macos") {
            "dylib"
        } else {
            "so"
        }
    );
    let out = out_dir.join(name);
    let include = Path::new(env!("CARGO_MANIFEST_DIR")).join("include");
    let mut cmd = Command::new(std::env::var("CC").unwrap_or_else(|_| "cc".to_owned()));
    cmd.args(["-std=c11", "-O1", "-g", "-Wall", "-shared", "-fPIC"])
        .arg("-I")
        .arg(&include)
        .arg("-I")
        .arg(fixture_dir());
    for d in defines {
        cmd.arg(format!("-D{d}"));
    }
    cmd.arg("-o")
        .arg(&out)
        .arg(fixture_dir().join(source))
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
    built.insert(key, out.clone());
    out
}

fn umd(defines: &[&str]) -> PathBuf {
    build("umd.c", defines)
}

fn kmd(defines: &[&str]) -> PathBuf {
    build("kmd.c", defines)
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

fn bridge_config() -> BridgeConfig {
    BridgeConfig {
        hang_timeout: Duration::from_secs(5),
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
    let sched = Sched::new(strategy);
    let findings = Findings::default();
    let (kmd, umd, runtime) =
        load_real_drivers(&sched, umd_path, kmd_path, config).expect("load the fixture drivers");
    let os = Os::new(&sched, &findings, os_config, kmd, umd);
    os.set_ioctl_describer(miracast_sim::model::protocol::ioctl_meaning);
    let probe = Sink::new(SinkConfig::default(), SimTime::ZERO).expect("sink config");
    let monitor_present =
        probe.capabilities().edid.is_some() || probe.capabilities().connector.is_some();
    let (sink, control) = SinkAdapter::new(SinkConfig::default());
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
    let o = run_real(
        &umd(&["BUG_CLOSE_RTSP_SOCKET"]),
        &kmd(&[]),
        OsConfig::default(),
        Box::new(FirstStrategy),
        bridge_config(),
        disconnect_only(),
    );
    assert_eq!(o.start, Some(NtStatus::STATUS_SUCCESS), "{}", o.trace);
    let r41: Vec<&Violation> = o
        .findings
        .iter()
        .filter(|v| v.rule.number() == 41)
        .collect();
    assert_eq!(r41.len(), 1, "{:#?}\n{}", o.findings, o.trace);
    assert!(r41[0].finding.contains("closed the OS-owned RTSP socket"));
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
fn loader_rejects_a_null_entry() {
    let e = load_umd_error(&["BUG_NULL_ENTRY"]);
    assert_eq!(
        e.to_string(),
        "MIRACAST_DRIVER_INTERFACE.StopMiracastSession is NULL"
    );
}

#[test]
fn loader_rejects_a_wrong_size() {
    let e = load_umd_error(&["BUG_WRONG_SIZE"]);
    assert_eq!(
        e.to_string(),
        "MIRACAST_DRIVER_INTERFACE.Size is 40; the simulator expects 48"
    );
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
