//! Hangs explained: when a run stops at the time or step limit, or deadlocks, the finding names
//! every thread still alive, the driver frame it is in and what it waits for (a timer, the
//! sink, an event, a lock), in the verdict, the exploration finding and the timeline.

use miracast_sim::explore::scenario_run::findings_of;
use miracast_sim::report::timeline::Timeline;
use miracast_sim::runner::{RunOptions, judge, run_seeded};
use miracast_sim::sched::{RunEnd, RunLimits};
use miracast_sim::time::SimTime;

/// A session that is started and then left waiting for longer than the run may last.
const HANG: &str = r#"{
  "version": 1,
  "name": "session-left-waiting",
  "steps": [
    { "op": "AdapterBringUp" },
    { "op": "DxgkDdiMiracastCreateContext" },
    { "op": "QueryMiracastDriverInterface" },
    { "op": "CreateMiracastContext" },
    { "op": "StartMiracastSession" },
    { "op": "Advance", "by": "60s" }
  ]
}"#;

#[test]
fn a_run_at_the_time_limit_names_each_thread_its_frame_and_its_wait() {
    let scenario = miracast_sim::scenario::parse("hang.json", HANG).unwrap();
    let options = RunOptions {
        limits: RunLimits {
            max_time: SimTime::from_millis(2_000),
            ..RunLimits::default()
        },
        ..RunOptions::default()
    };
    let result = run_seeded(&scenario, &options);
    assert_eq!(result.end, RunEnd::TimeLimit);
    let names: Vec<&str> = result.blocked.iter().map(|b| b.name.as_str()).collect();
    assert!(
        names.contains(&"os-scenario") && names.contains(&"umd-session"),
        "{names:?}"
    );

    let verdict = judge(&scenario, &result);
    let reason = verdict
        .reasons
        .iter()
        .find(|r| r.starts_with("the run hit the virtual-time limit"))
        .expect("a time-limit reason");
    assert!(!reason.contains("something waits forever"), "{reason}");
    // Every live thread is named with its id, and what it waits for is said in words.
    for b in &result.blocked {
        assert!(
            reason.contains(&format!("{} (t{})", b.name, b.thread)),
            "{reason}"
        );
    }
    assert!(
        reason.contains("os-scenario (t0) (no DDI on its stack) sleeps on a timer (60s)"),
        "{reason}"
    );
    assert!(
        reason.contains("umd-session (t2) (no DDI on its stack) waits for the sink: a reply or request on the RTSP link that never came"),
        "{reason}"
    );
    assert!(
        reason.contains("umd-stream (t3) (a UMD thread) calling GetNextChunkData waits for any of events chunk-arrived"),
        "{reason}"
    );

    // Exploration's finding says the same, and the timeline highlights the blocked lanes.
    let findings = findings_of(
        Some(&scenario),
        &result,
        std::time::Duration::from_secs(3600),
    );
    let cap = findings
        .iter()
        .find(|f| f.key == "liveness:time-cap")
        .expect("a time-cap finding");
    assert!(
        cap.message.contains("sleeps on a timer (60s)"),
        "{}",
        cap.message
    );
    let t = Timeline::of_run(&result, "");
    let hang = t
        .findings
        .iter()
        .find(|f| f.rule == "hang")
        .expect("a hang highlight");
    assert_eq!(
        hang.lanes,
        result.blocked.iter().map(|b| b.thread).collect::<Vec<_>>()
    );
}

#[test]
fn driver_frames_name_the_ddi_the_os_called_into() {
    use miracast_sim::ddi::Ddi;
    use miracast_sim::explore::liveness::{driver_frame, explain_thread};
    use miracast_sim::sched::{BlockedThread, WaitFor};
    let b = BlockedThread {
        thread: 4,
        name: "msg-delivery-1".to_owned(),
        inside: vec![Ddi::HandleKernelModeMessage, Ddi::MiracastIoControl],
        waiting_for: Some(WaitFor {
            object: "mutex umd-lock".to_owned(),
            held_by: Some(2),
        }),
    };
    assert_eq!(
        driver_frame(&b).unwrap(),
        "in the UMD's HandleKernelModeMessage, calling MiracastIoControl"
    );
    assert_eq!(
        explain_thread(&b),
        "msg-delivery-1 (t4) in the UMD's HandleKernelModeMessage, calling MiracastIoControl waits for the lock `umd-lock`, held by t2"
    );
    let returned_never = BlockedThread {
        thread: 1,
        name: "os-worker".to_owned(),
        inside: vec![Ddi::DxgkDdiMiracastIoControl],
        waiting_for: None,
    };
    assert_eq!(
        explain_thread(&returned_never),
        "os-worker (t1) in the KMD's DxgkDdiMiracastIoControl has not returned from DxgkDdiMiracastIoControl (it was runnable when the run stopped)"
    );
}
