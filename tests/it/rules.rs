//! The rule catalogue and the trace checks: for every trace check a hand-built trace that keeps
//! the rule and one that breaks it (only that rule reported, with the right culprit and events),
//! the catalogue's shape, and a property test that the checks never panic.

use miracast_sim::ddi::{Ddi, SessionPhase};
use miracast_sim::rules::catalogue::{self, CATALOGUE, CheckKind, Severity};
use miracast_sim::rules::trace_checks::{self, TraceCheckConfig};
use miracast_sim::rules::{Culprit, RuleId, Violation};
use miracast_sim::status::NtStatus;
use miracast_sim::time::SimTime;
use miracast_sim::trace::{EventKind, Trace, TraceEvent};
use proptest::prelude::*;
use std::time::Duration;

const OK: Option<NtStatus> = Some(NtStatus::STATUS_SUCCESS);

/// Threads of the hand-built traces.
const OS: u32 = 0;
const OS2: u32 = 1;
const UMD: u32 = 2;
const UMD2: u32 = 3;
const MSG: u32 = 4;

/// Builds a trace event by event; every method returns the new event's `seq`.
#[derive(Default)]
struct Builder {
    events: Vec<TraceEvent>,
    now: SimTime,
}

impl Builder {
    fn event(&mut self, thread: u32, kind: EventKind) -> u32 {
        let seq = self.events.len() as u32;
        self.events.push(TraceEvent {
            seq,
            time: self.now,
            thread,
            kind,
        });
        seq
    }

    fn enter(&mut self, thread: u32, ddi: Ddi, args: &str) -> u32 {
        let args = args.to_owned();
        self.event(thread, EventKind::Enter { ddi, args })
    }

    fn leave(&mut self, thread: u32, ddi: Ddi, status: Option<NtStatus>) -> u32 {
        let out = String::new();
        self.event(thread, EventKind::Leave { ddi, status, out })
    }

    fn leave_out(&mut self, thread: u32, ddi: Ddi, status: Option<NtStatus>, out: &str) -> u32 {
        let out = out.to_owned();
        self.event(thread, EventKind::Leave { ddi, status, out })
    }

    /// A call with nothing inside it; returns the `Enter`'s seq.
    fn call(&mut self, thread: u32, ddi: Ddi, args: &str, status: Option<NtStatus>) -> u32 {
        let enter = self.enter(thread, ddi, args);
        self.leave(thread, ddi, status);
        enter
    }

    fn at_ms(&mut self, ms: u64) {
        self.now = SimTime::from_millis(ms);
    }

    /// Thread names, as the scheduler writes them.
    fn threads(&mut self) {
        self.event(
            0,
            EventKind::ThreadStart {
                name: "os-worker".into(),
                parent: None,
            },
        );
        for name in ["os-worker-2", "umd-main", "umd-ioctl-1", "msg-delivery-1"] {
            self.event(
                0,
                EventKind::ThreadStart {
                    name: name.into(),
                    parent: Some(0),
                },
            );
        }
    }

    /// Contexts created and a session started (no messages, no monitor).
    fn open_session(&mut self) {
        self.threads();
        self.call(OS, Ddi::DxgkDdiMiracastCreateContext, "", OK);
        self.call(OS, Ddi::CreateMiracastContext, "", OK);
        self.call(OS, Ddi::StartMiracastSession, "", OK);
    }

    /// Stop, UMD destroy and KMD destroy, in order.
    fn close_session(&mut self) {
        self.call(OS, Ddi::StopMiracastSession, "", None);
        self.call(OS, Ddi::DestroyMiracastContext, "", None);
        self.call(OS, Ddi::DxgkDdiMiracastDestroyContext, "", None);
    }

    /// The UMD's monitor-arrived IOCTL on `thread`, and the KMD's arrival indication inside it.
    fn monitor_arrives(&mut self, thread: u32) -> u32 {
        let args = "hardware_access=false input_size=16 output_size=0 op=MONITOR_ARRIVED";
        let m = self.enter(thread, Ddi::MiracastIoControl, args);
        self.enter(thread, Ddi::DxgkDdiMiracastIoControl, args);
        self.call(
            thread,
            Ddi::DxgkCbIndicateChildStatus,
            "type=StatusMiracastConnection child_uid=7 connected=true monitor_type=D3DKMDT_VOT_HDMI",
            OK,
        );
        self.leave(thread, Ddi::DxgkDdiMiracastIoControl, OK);
        self.leave(thread, Ddi::MiracastIoControl, OK);
        m
    }

    fn trace(&self) -> Trace {
        Trace {
            events: self.events.clone(),
        }
    }
}

fn check(b: &Builder) -> Vec<Violation> {
    trace_checks::check(&b.trace())
}

fn show(violations: &[Violation]) -> String {
    violations
        .iter()
        .map(|v| format!("{v} {:?}\n", v.events))
        .collect()
}

/// Asserts that the trace keeps every rule.
fn keeps(b: &Builder) {
    let found = check(b);
    assert!(
        found.is_empty(),
        "expected no violation, found:\n{}\ntrace:\n{}",
        show(&found),
        b.trace().to_text()
    );
}

/// Asserts that the trace breaks exactly `rule` (once), blamed on `culprit`, shown by `events`.
fn breaks(b: &Builder, rule: u8, culprit: Culprit, events: &[u32]) -> Violation {
    let found = check(b);
    assert_eq!(
        found.len(),
        1,
        "expected exactly one {}, found:\n{}\ntrace:\n{}",
        RuleId(rule),
        show(&found),
        b.trace().to_text()
    );
    let v = found[0].clone();
    assert_eq!(v.rule, RuleId(rule), "{}", show(&found));
    assert_eq!(v.culprit, culprit, "{}", show(&found));
    assert_eq!(v.events, events, "{}", show(&found));
    assert!(!v.finding.is_empty());
    assert_eq!(
        catalogue::rule(v.rule).check,
        CheckKind::Trace,
        "{} is reported over the trace",
        v.rule
    );
    v
}

// ---------------------------------------------------------------------------------------------
// The catalogue

#[test]
fn catalogue_has_74_rules_in_order_with_sources_and_reasons() {
    assert_eq!(CATALOGUE.len(), 74);
    for (i, r) in CATALOGUE.iter().enumerate() {
        assert_eq!(usize::from(r.id.0), i + 1, "rule at position {i}");
        assert!(!r.title.is_empty(), "{} title", r.id);
        assert!(!r.source.trim().is_empty(), "{} source", r.id);
        assert!(!r.statement.trim().is_empty(), "{} statement", r.id);
        assert!(
            r.source.contains("ddi:")
                || r.source.contains("ddi0:")
                || r.source.contains("con:")
                || r.source.contains("derived"),
            "{} source `{}` cites a doc as ddi-facts does",
            r.id,
            r.source
        );
        if let CheckKind::Unchecked(why) = r.check {
            assert!(why.trim().len() > 20, "{} needs a real reason", r.id);
        }
        assert_eq!(r.id.to_string().parse::<RuleId>().unwrap(), r.id);
    }
    assert!(
        catalogue::checked_count() >= 60,
        "checked: {}",
        catalogue::checked_count()
    );
}

#[test]
fn catalogue_marks_the_agreed_online_and_trace_rules() {
    let online = [
        1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 16, 17, 19, 23, 26, 27, 30, 33, 34, 36, 39, 40, 41, 45,
        46, 49, 51, 52, 53, 57, 58, 59, 61, 69, 71, 72,
    ];
    for r in CATALOGUE {
        let expected_online = online.contains(&r.id.0);
        assert_eq!(
            r.check == CheckKind::Online,
            expected_online,
            "{} is {}",
            r.id,
            r.check
        );
    }
    assert_eq!(catalogue::count(CheckKind::Trace), TRACE_RULES.len());
    for r in CATALOGUE.iter().filter(|r| r.check == CheckKind::Trace) {
        assert!(
            TRACE_RULES.contains(&r.id.0),
            "{} is marked Trace but has no break test here",
            r.id
        );
    }
    // The "should"s and lints are warnings.
    for id in [2, 43, 46, 55, 56] {
        assert_eq!(
            catalogue::rule(RuleId(id)).severity,
            Severity::Warning,
            "R{id}"
        );
    }
    let table = catalogue::table().to_string();
    assert!(table.contains("R56") && table.contains("why unchecked: lint only"));
    assert!(table.ends_with("unchecked"));
}

/// Every rule marked `Trace`, each with a breaking test below.
const TRACE_RULES: &[u8] = &[
    7, 9, 11, 13, 18, 20, 21, 22, 24, 25, 28, 29, 31, 32, 37, 38, 42, 43, 44, 47, 48, 50, 54, 55,
    67, 68, 70,
];

// ---------------------------------------------------------------------------------------------
// A whole correct connection keeps every rule.

#[test]
fn a_correct_connection_keeps_every_rule() {
    let mut b = Builder::default();
    b.threads();
    b.call(OS, Ddi::DxgkDdiAddDevice, "", OK);
    b.call(OS, Ddi::DxgkDdiQueryInterface, "", OK);
    b.call(OS, Ddi::DxgkDdiStartDevice, "", OK);
    b.call(OS, Ddi::DxgkDdiMiracastQueryCaps, "", OK);
    b.call(OS, Ddi::DxgkDdiQueryChildRelations, "", OK);
    b.enter(
        OS,
        Ddi::DxgkDdiQueryChildStatus,
        "type=StatusMiracastConnection child_uid=7",
    );
    b.leave_out(OS, Ddi::DxgkDdiQueryChildStatus, OK, "connected=false");
    b.call(OS, Ddi::DxgkDdiMiracastCreateContext, "", OK);
    b.call(OS, Ddi::CreateMiracastContext, "", OK);
    b.at_ms(100);
    b.enter(OS, Ddi::StartMiracastSession, "");
    b.call(
        OS,
        Ddi::RegisterForDataRateNotifications,
        "register=true",
        OK,
    );
    // The KMD sends during start: held.
    b.call(
        OS2,
        Ddi::DxgkCbMiracastSendMessage,
        "id=1 input_size=8 output_size=0 callback=true",
        Some(NtStatus::STATUS_PENDING),
    );
    b.event(OS2, EventKind::MessageQueued { id: 1, held: true });
    // Another UMD thread's IOCTL waits for start.
    b.enter(
        UMD2,
        Ddi::MiracastIoControl,
        "hardware_access=false input_size=4 output_size=0",
    );
    b.leave(OS, Ddi::StartMiracastSession, OK);
    b.event(
        OS,
        EventKind::Phase {
            from: SessionPhase::StartPending,
            to: SessionPhase::Started,
        },
    );
    b.call(
        UMD2,
        Ddi::DxgkDdiMiracastIoControl,
        "hardware_access=false input_size=4 output_size=0",
        OK,
    );
    b.leave(UMD2, Ddi::MiracastIoControl, OK);
    b.event(MSG, EventKind::MessageDelivered { id: 1 });
    b.call(MSG, Ddi::HandleKernelModeMessage, "id=1", OK);
    b.call(
        MSG,
        Ddi::DxgkCbMiracastSendMessageCallback,
        "id=1 status=STATUS_SUCCESS information=0",
        None,
    );
    b.monitor_arrives(UMD);
    b.call(
        OS,
        Ddi::DxgkDdiCommitVidPn,
        "target=7 monitor_power_off=false",
        OK,
    );
    b.event(
        UMD,
        EventKind::Sink {
            what: "umd-send RTSP/1.0 200 OK".into(),
        },
    );
    b.call(
        UMD,
        Ddi::GetNextChunkData,
        "timeout_ms=0 events=0 buffer_size=4096",
        Some(NtStatus::STATUS_TIMEOUT),
    );
    b.call(UMD, Ddi::ReportStatistic, "", None);
    b.at_ms(1100);
    b.call(9, Ddi::PfnDataRateNotify, "stats=present", None);
    b.at_ms(2150);
    b.call(9, Ddi::PfnDataRateNotify, "stats=present", None);
    // Power off: the KMD tells the UMD.
    b.enter(
        OS,
        Ddi::DxgkDdiCommitVidPn,
        "target=7 monitor_power_off=true",
    );
    b.call(
        OS,
        Ddi::DxgkCbMiracastSendMessage,
        "id=2 input_size=8 output_size=0 callback=false",
        Some(NtStatus::STATUS_PENDING),
    );
    b.event(OS, EventKind::MessageQueued { id: 2, held: false });
    b.leave(OS, Ddi::DxgkDdiCommitVidPn, OK);
    b.event(MSG, EventKind::MessageDelivered { id: 2 });
    b.call(MSG, Ddi::HandleKernelModeMessage, "id=2", OK);
    // The link fails: status, then teardown.
    b.call(
        UMD,
        Ddi::ReportSessionStatus,
        "status=MIRACAST_STATUS_MISSING_KEEPALIVE diagnostic=0x0",
        None,
    );
    b.enter(OS, Ddi::StopMiracastSession, "");
    b.call(
        OS,
        Ddi::RegisterForDataRateNotifications,
        "register=false",
        OK,
    );
    b.call(
        OS2,
        Ddi::DxgkCbMiracastSendMessage,
        "id=3 input_size=8 output_size=0 callback=true",
        Some(NtStatus::STATUS_PENDING),
    );
    b.event(OS2, EventKind::MessageQueued { id: 3, held: false });
    b.event(
        OS2,
        EventKind::MessageDropped {
            id: 3,
            status: NtStatus::STATUS_CANCELLED,
        },
    );
    b.call(
        OS2,
        Ddi::DxgkCbMiracastSendMessageCallback,
        "id=3 status=STATUS_CANCELLED information=0",
        None,
    );
    // Other threads' IOCTLs fail during stop; the stop thread's own are processed.
    b.call(
        UMD2,
        Ddi::MiracastIoControl,
        "hardware_access=false",
        Some(NtStatus::STATUS_INVALID_DEVICE_STATE),
    );
    b.enter(OS, Ddi::MiracastIoControl, "hardware_access=false");
    b.call(
        OS,
        Ddi::DxgkDdiMiracastIoControl,
        "hardware_access=false",
        OK,
    );
    b.leave(OS, Ddi::MiracastIoControl, OK);
    b.event(
        UMD,
        EventKind::Sink {
            what: "umd-recv RTSP/1.0 200 OK".into(),
        },
    );
    b.leave(OS, Ddi::StopMiracastSession, None);
    b.call(OS, Ddi::DestroyMiracastContext, "", None);
    b.enter(OS, Ddi::DxgkDdiMiracastDestroyContext, "");
    b.call(
        OS,
        Ddi::DxgkCbIndicateChildStatus,
        "type=StatusMiracastConnection child_uid=7 connected=false monitor_type=D3DKMDT_VOT_HDMI",
        OK,
    );
    b.leave(OS, Ddi::DxgkDdiMiracastDestroyContext, None);
    keeps(&b);
}

// ---------------------------------------------------------------------------------------------
// One keep/break pair per trace check.

#[test]
fn r7_query_caps_once_per_start() {
    let mut b = Builder::default();
    b.call(OS, Ddi::DxgkDdiStartDevice, "", OK);
    b.call(OS, Ddi::DxgkDdiMiracastQueryCaps, "", OK);
    // A restarted adapter is asked again.
    b.call(OS, Ddi::DxgkDdiStartDevice, "", OK);
    let after_restart = b.call(OS, Ddi::DxgkDdiMiracastQueryCaps, "", OK);
    keeps(&b);
    let again = b.call(OS, Ddi::DxgkDdiMiracastQueryCaps, "", OK);
    breaks(&b, 7, Culprit::OsModel, &[after_restart, again]);
}

#[test]
fn r9_no_monitor_before_start_returns() {
    let mut b = Builder::default();
    b.open_session();
    b.monitor_arrives(UMD);
    b.close_session();
    keeps(&b);

    // The KMD reports a monitor on its own before the session started.
    let mut b = Builder::default();
    b.threads();
    b.call(OS, Ddi::DxgkDdiMiracastCreateContext, "", OK);
    let indication = b.call(
        OS,
        Ddi::DxgkCbIndicateChildStatus,
        "type=StatusMiracastConnection child_uid=7 connected=true monitor_type=D3DKMDT_VOT_HDMI",
        OK,
    );
    breaks(&b, 9, Culprit::Kmd, &[indication]);

    // ... or answers QueryChildStatus with "connected".
    let mut b = Builder::default();
    let enter = b.enter(
        OS,
        Ddi::DxgkDdiQueryChildStatus,
        "type=StatusMiracastConnection child_uid=7",
    );
    let leave = b.leave_out(OS, Ddi::DxgkDdiQueryChildStatus, OK, "connected=true");
    breaks(&b, 9, Culprit::Kmd, &[enter, leave]);

    // The UMD asks for arrival between create and start: the UMD is the cause.
    let mut b = Builder::default();
    b.threads();
    b.call(OS, Ddi::DxgkDdiMiracastCreateContext, "", OK);
    b.call(OS, Ddi::CreateMiracastContext, "", OK);
    let m = b.monitor_arrives(UMD);
    let v = breaks(&b, 9, Culprit::Umd, &[m, m + 2]);
    assert!(v.finding.contains("MiracastIoControl"), "{v}");
}

#[test]
fn r18_no_io_control_after_kmd_destroy() {
    let mut b = Builder::default();
    b.open_session();
    b.close_session();
    b.call(OS, Ddi::DxgkDdiMiracastCreateContext, "", OK);
    b.call(
        OS,
        Ddi::DxgkDdiMiracastIoControl,
        "hardware_access=false",
        OK,
    );
    keeps(&b);

    let mut b = Builder::default();
    b.open_session();
    b.close_session();
    let destroy_leave = b.events.len() as u32 - 1;
    let ioctl = b.call(
        OS,
        Ddi::DxgkDdiMiracastIoControl,
        "hardware_access=false",
        OK,
    );
    breaks(&b, 18, Culprit::OsModel, &[destroy_leave, ioctl]);
}

#[test]
fn r20_umd_ioctls_blocked_after_early_kmd_destroy() {
    let mut b = Builder::default();
    b.open_session();
    b.call(OS, Ddi::StopMiracastSession, "", None);
    // The stop overran: the KMD context goes while the UMD context is alive.
    b.call(OS2, Ddi::DxgkDdiMiracastDestroyContext, "", None);
    b.call(
        UMD,
        Ddi::MiracastIoControl,
        "hardware_access=false",
        Some(NtStatus::STATUS_INVALID_DEVICE_STATE),
    );
    b.call(OS, Ddi::DestroyMiracastContext, "", None);
    keeps(&b);

    let mut b = Builder::default();
    b.open_session();
    b.call(OS, Ddi::StopMiracastSession, "", None);
    let destroy = b.call(OS2, Ddi::DxgkDdiMiracastDestroyContext, "", None);
    let m = b.enter(UMD, Ddi::MiracastIoControl, "hardware_access=false");
    let k = b.call(
        UMD,
        Ddi::DxgkDdiMiracastIoControl,
        "hardware_access=false",
        OK,
    );
    b.leave(UMD, Ddi::MiracastIoControl, OK);
    b.call(OS, Ddi::DestroyMiracastContext, "", None);
    breaks(&b, 20, Culprit::OsModel, &[destroy, m, k]);
}

/// A session with a monitor behind the sink, and a commit on the Miracast target.
fn commit_with_monitor(b: &mut Builder, power_off: bool) -> u32 {
    b.open_session();
    b.monitor_arrives(UMD);
    b.enter(
        OS,
        Ddi::DxgkDdiCommitVidPn,
        &format!("target=7 monitor_power_off={power_off}"),
    )
}

#[test]
fn r21_no_data_to_the_umd_after_a_disconnect_during_commit() {
    let mut b = Builder::default();
    commit_with_monitor(&mut b, false);
    b.call(
        UMD,
        Ddi::MiracastIoControl,
        "hardware_access=false op=MONITOR_DEPARTED",
        OK,
    );
    b.call(
        OS,
        Ddi::DxgkCbIndicateChildStatus,
        "type=StatusMiracastConnection child_uid=7 connected=false",
        OK,
    );
    b.leave(OS, Ddi::DxgkDdiCommitVidPn, OK);
    b.call(
        OS,
        Ddi::DxgkCbMiracastSendMessage,
        "id=1 callback=false",
        Some(NtStatus::STATUS_PENDING),
    );
    b.close_session();
    keeps(&b);

    let mut b = Builder::default();
    let commit = commit_with_monitor(&mut b, true);
    let departure = b.call(
        OS,
        Ddi::DxgkCbIndicateChildStatus,
        "type=StatusMiracastConnection child_uid=7 connected=false",
        OK,
    );
    let send = b.call(
        OS,
        Ddi::DxgkCbMiracastSendMessage,
        "id=1 callback=false",
        Some(NtStatus::STATUS_PENDING),
    );
    b.leave(OS, Ddi::DxgkDdiCommitVidPn, OK);
    b.close_session();
    breaks(&b, 21, Culprit::Kmd, &[commit, departure, send]);
}

#[test]
fn r31_power_off_commit_sends_a_message() {
    let mut b = Builder::default();
    commit_with_monitor(&mut b, true);
    b.call(
        OS,
        Ddi::DxgkCbMiracastSendMessage,
        "id=1 callback=false",
        Some(NtStatus::STATUS_PENDING),
    );
    b.leave(OS, Ddi::DxgkDdiCommitVidPn, OK);
    // A power-off commit of another target needs no message.
    b.call(
        OS,
        Ddi::DxgkDdiCommitVidPn,
        "target=1 monitor_power_off=true",
        OK,
    );
    b.close_session();
    keeps(&b);

    let mut b = Builder::default();
    let commit = commit_with_monitor(&mut b, true);
    let leave = b.leave(OS, Ddi::DxgkDdiCommitVidPn, OK);
    b.close_session();
    breaks(&b, 31, Culprit::Kmd, &[commit, leave]);
}

#[test]
fn r24_hardware_access_io_control_runs_alone() {
    let hw = "hardware_access=true input_size=4 output_size=0";
    let mut b = Builder::default();
    b.open_session();
    b.enter(UMD, Ddi::MiracastIoControl, hw);
    b.call(UMD, Ddi::DxgkDdiMiracastIoControl, hw, OK);
    b.call(OS, Ddi::DxgkDdiQueryChildStatus, "", OK); // the IOCTL is still in the OS, not the KMD
    b.leave(UMD, Ddi::MiracastIoControl, OK);
    b.close_session();
    keeps(&b);

    let mut b = Builder::default();
    b.open_session();
    b.enter(UMD, Ddi::MiracastIoControl, hw);
    let k = b.enter(UMD, Ddi::DxgkDdiMiracastIoControl, hw);
    let other = b.call(OS, Ddi::DxgkDdiQueryChildStatus, "", OK);
    b.leave(UMD, Ddi::DxgkDdiMiracastIoControl, OK);
    b.leave(UMD, Ddi::MiracastIoControl, OK);
    b.close_session();
    breaks(&b, 24, Culprit::OsModel, &[k, other]);
}

#[test]
fn r68_query_caps_runs_alone() {
    let mut b = Builder::default();
    b.call(OS, Ddi::DxgkDdiMiracastQueryCaps, "", OK);
    b.call(OS2, Ddi::DxgkDdiQueryChildStatus, "", OK);
    keeps(&b);

    let mut b = Builder::default();
    let caps = b.enter(OS, Ddi::DxgkDdiMiracastQueryCaps, "");
    let other = b.call(OS2, Ddi::DxgkDdiQueryChildStatus, "", OK);
    b.leave(OS, Ddi::DxgkDdiMiracastQueryCaps, OK);
    breaks(&b, 68, Culprit::OsModel, &[caps, other]);
}

#[test]
fn r28_messages_never_during_the_serialized_functions() {
    let mut b = Builder::default();
    b.open_session();
    b.event(OS2, EventKind::MessageQueued { id: 1, held: false });
    b.event(MSG, EventKind::MessageDelivered { id: 1 });
    let handler = b.enter(MSG, Ddi::HandleKernelModeMessage, "id=1");
    let stop = b.enter(OS, Ddi::StopMiracastSession, "");
    b.leave(MSG, Ddi::HandleKernelModeMessage, OK);
    b.leave(OS, Ddi::StopMiracastSession, None);
    b.call(OS, Ddi::DestroyMiracastContext, "", None);
    b.call(OS, Ddi::DxgkDdiMiracastDestroyContext, "", None);
    breaks(&b, 28, Culprit::OsModel, &[handler, stop]);
}

#[test]
fn r28_messages_held_until_start_returns() {
    let mut b = Builder::default();
    b.threads();
    b.call(OS, Ddi::DxgkDdiMiracastCreateContext, "", OK);
    b.call(OS, Ddi::CreateMiracastContext, "", OK);
    b.enter(OS, Ddi::StartMiracastSession, "");
    let queued = b.event(OS2, EventKind::MessageQueued { id: 1, held: true });
    b.leave(OS, Ddi::StartMiracastSession, OK);
    b.event(MSG, EventKind::MessageDelivered { id: 1 });
    b.call(MSG, Ddi::HandleKernelModeMessage, "id=1", OK);
    b.close_session();
    keeps(&b);

    let mut b = Builder::default();
    b.threads();
    b.call(OS, Ddi::DxgkDdiMiracastCreateContext, "", OK);
    b.call(OS, Ddi::CreateMiracastContext, "", OK);
    b.enter(OS, Ddi::StartMiracastSession, "");
    assert_eq!(
        b.event(OS2, EventKind::MessageQueued { id: 1, held: true }),
        queued
    );
    let delivered = b.event(MSG, EventKind::MessageDelivered { id: 1 });
    b.leave(OS, Ddi::StartMiracastSession, OK);
    b.close_session();
    breaks(&b, 28, Culprit::OsModel, &[queued, delivered]);
}

#[test]
fn r29_messages_after_stop_are_dropped_with_an_error() {
    // Delivered although sent after stop began.
    let mut b = Builder::default();
    b.open_session();
    let stop = b.enter(OS, Ddi::StopMiracastSession, "");
    let queued = b.event(OS2, EventKind::MessageQueued { id: 4, held: false });
    let delivered = b.event(MSG, EventKind::MessageDelivered { id: 4 });
    b.leave(OS, Ddi::StopMiracastSession, None);
    b.call(OS, Ddi::DestroyMiracastContext, "", None);
    b.call(OS, Ddi::DxgkDdiMiracastDestroyContext, "", None);
    breaks(&b, 29, Culprit::OsModel, &[stop, queued, delivered]);

    // Dropped with a success status.
    let mut b = Builder::default();
    b.open_session();
    b.enter(OS, Ddi::StopMiracastSession, "");
    b.event(OS2, EventKind::MessageQueued { id: 4, held: false });
    let dropped = b.event(
        OS2,
        EventKind::MessageDropped {
            id: 4,
            status: NtStatus::STATUS_SUCCESS,
        },
    );
    b.leave(OS, Ddi::StopMiracastSession, None);
    breaks(&b, 29, Culprit::OsModel, &[dropped]);

    // Dropped, but the completion routine never runs.
    let mut b = Builder::default();
    b.open_session();
    b.enter(OS, Ddi::StopMiracastSession, "");
    b.call(
        OS2,
        Ddi::DxgkCbMiracastSendMessage,
        "id=4 callback=true",
        Some(NtStatus::STATUS_PENDING),
    );
    b.event(OS2, EventKind::MessageQueued { id: 4, held: false });
    let dropped = b.event(
        OS2,
        EventKind::MessageDropped {
            id: 4,
            status: NtStatus::STATUS_CANCELLED,
        },
    );
    b.leave(OS, Ddi::StopMiracastSession, None);
    breaks(&b, 29, Culprit::OsModel, &[dropped]);
    // With its completion (an error), the rule holds.
    b.call(
        OS2,
        Ddi::DxgkCbMiracastSendMessageCallback,
        "id=4 status=STATUS_CANCELLED information=0",
        None,
    );
    keeps(&b);
    // A success in the completion routine breaks it again.
    let mut b2 = Builder {
        events: b.events[..b.events.len() - 2].to_vec(),
        now: b.now,
    };
    let completion = b2.call(
        OS2,
        Ddi::DxgkCbMiracastSendMessageCallback,
        "id=4 status=STATUS_SUCCESS information=0",
        None,
    );
    breaks(&b2, 29, Culprit::OsModel, &[dropped, completion]);
}

#[test]
fn r29_a_message_sent_after_stop_still_gets_its_completion() {
    let mut b = Builder::default();
    b.open_session();
    b.enter(OS, Ddi::StopMiracastSession, "");
    b.call(
        OS2,
        Ddi::DxgkCbMiracastSendMessage,
        "id=5 callback=true",
        Some(NtStatus::STATUS_PENDING),
    );
    let queued = b.event(OS2, EventKind::MessageQueued { id: 5, held: false });
    b.leave(OS, Ddi::StopMiracastSession, None);
    let v = breaks(&b, 29, Culprit::OsModel, &[queued]);
    assert!(v.finding.contains("never ran"), "{v}");
}

#[test]
fn r32_no_umd_send_after_stop() {
    let mut b = Builder::default();
    b.open_session();
    b.event(
        UMD,
        EventKind::Sink {
            what: "umd-send SET_PARAMETER".into(),
        },
    );
    let stop = b.call(OS, Ddi::StopMiracastSession, "", None);
    b.event(
        UMD,
        EventKind::Sink {
            what: "umd-recv RTSP/1.0 200 OK".into(),
        },
    );
    b.event(
        UMD,
        EventKind::Sink {
            what: "umd-close socket=5".into(),
        },
    );
    keeps(&b);
    let send = b.event(
        UMD,
        EventKind::Sink {
            what: "umd-send after-stop RTSP/1.0 200 OK".into(),
        },
    );
    b.event(
        UMD,
        EventKind::Sink {
            what: "umd-send after-stop again".into(),
        },
    );
    // The Leave of StopMiracastSession directly follows its Enter in this trace.
    breaks(&b, 32, Culprit::Umd, &[stop + 1, send]);
}

#[test]
fn r37_serialized_umd_functions_never_overlap() {
    let mut b = Builder::default();
    b.threads();
    b.call(OS, Ddi::DxgkDdiMiracastCreateContext, "", OK);
    b.call(OS, Ddi::CreateMiracastContext, "", OK);
    let start = b.enter(OS, Ddi::StartMiracastSession, "");
    let stop = b.enter(OS2, Ddi::StopMiracastSession, "");
    b.leave(OS, Ddi::StartMiracastSession, OK);
    b.leave(OS2, Ddi::StopMiracastSession, None);
    b.call(OS, Ddi::DestroyMiracastContext, "", None);
    b.call(OS, Ddi::DxgkDdiMiracastDestroyContext, "", None);
    breaks(&b, 37, Culprit::OsModel, &[start, stop]);
}

#[test]
fn r38_create_start_stop_destroy_in_order() {
    let mut b = Builder::default();
    b.open_session();
    b.close_session();
    // A failed start may be followed straight by destroy.
    b.call(OS, Ddi::DxgkDdiMiracastCreateContext, "", OK);
    b.call(OS, Ddi::CreateMiracastContext, "", OK);
    b.call(
        OS,
        Ddi::StartMiracastSession,
        "",
        Some(NtStatus::STATUS_DEVICE_INSUFFICIENT_RESOURCES),
    );
    b.call(OS, Ddi::DestroyMiracastContext, "", None);
    b.call(OS, Ddi::DxgkDdiMiracastDestroyContext, "", None);
    keeps(&b);

    let mut b = Builder::default();
    b.open_session();
    let start = b.events.len() as u32 - 2;
    let destroy = b.call(OS, Ddi::DestroyMiracastContext, "", None);
    let v = breaks(&b, 38, Culprit::OsModel, &[start, destroy]);
    assert!(v.finding.contains("without StopMiracastSession"), "{v}");
}

#[test]
fn r42_io_control_during_start() {
    // Another thread's IOCTL reaches the KMD while Start runs.
    let mut b = Builder::default();
    b.threads();
    b.call(OS, Ddi::DxgkDdiMiracastCreateContext, "", OK);
    b.call(OS, Ddi::CreateMiracastContext, "", OK);
    let start = b.enter(OS, Ddi::StartMiracastSession, "");
    let m = b.enter(UMD2, Ddi::MiracastIoControl, "hardware_access=false");
    let k = b.call(
        UMD2,
        Ddi::DxgkDdiMiracastIoControl,
        "hardware_access=false",
        OK,
    );
    b.leave(UMD2, Ddi::MiracastIoControl, OK);
    b.leave(OS, Ddi::StartMiracastSession, OK);
    b.close_session();
    breaks(&b, 42, Culprit::OsModel, &[start, m, k]);

    // The Start thread's own IOCTL is processed at once.
    let mut b = Builder::default();
    b.threads();
    b.call(OS, Ddi::DxgkDdiMiracastCreateContext, "", OK);
    b.call(OS, Ddi::CreateMiracastContext, "", OK);
    let start = b.enter(OS, Ddi::StartMiracastSession, "");
    b.enter(OS, Ddi::MiracastIoControl, "hardware_access=false");
    b.call(
        OS,
        Ddi::DxgkDdiMiracastIoControl,
        "hardware_access=false",
        OK,
    );
    b.leave(OS, Ddi::MiracastIoControl, OK);
    b.leave(OS, Ddi::StartMiracastSession, OK);
    b.close_session();
    keeps(&b);

    // ... and never left hanging.
    let mut b = Builder::default();
    b.threads();
    b.call(OS, Ddi::DxgkDdiMiracastCreateContext, "", OK);
    b.call(OS, Ddi::CreateMiracastContext, "", OK);
    assert_eq!(b.enter(OS, Ddi::StartMiracastSession, ""), start);
    let m = b.enter(OS, Ddi::MiracastIoControl, "hardware_access=false");
    breaks(&b, 42, Culprit::OsModel, &[start, m]);
}

#[test]
fn r43_monitor_arrival_requested_after_start_returns() {
    let mut b = Builder::default();
    b.threads();
    b.call(OS, Ddi::DxgkDdiMiracastCreateContext, "", OK);
    b.call(OS, Ddi::CreateMiracastContext, "", OK);
    let start = b.enter(OS, Ddi::StartMiracastSession, "");
    let m = b.monitor_arrives(OS);
    b.leave(OS, Ddi::StartMiracastSession, OK);
    b.close_session();
    let v = breaks(&b, 43, Culprit::Umd, &[start, m]);
    assert_eq!(v.rule.rule().severity, Severity::Warning);
}

#[test]
fn r44_io_control_during_stop() {
    let mut b = Builder::default();
    b.open_session();
    let stop = b.enter(OS, Ddi::StopMiracastSession, "");
    let m = b.call(UMD2, Ddi::MiracastIoControl, "hardware_access=false", OK);
    b.leave(OS, Ddi::StopMiracastSession, None);
    b.call(OS, Ddi::DestroyMiracastContext, "", None);
    b.call(OS, Ddi::DxgkDdiMiracastDestroyContext, "", None);
    breaks(&b, 44, Culprit::OsModel, &[stop, m, m + 1]);

    // From the thread running DestroyMiracastContext it is processed, and must return.
    let mut b = Builder::default();
    b.open_session();
    b.call(OS, Ddi::StopMiracastSession, "", None);
    let destroy = b.enter(OS, Ddi::DestroyMiracastContext, "");
    let m = b.enter(
        OS,
        Ddi::MiracastIoControl,
        "hardware_access=false op=MONITOR_DEPARTED",
    );
    breaks(&b, 44, Culprit::OsModel, &[destroy, m]);
}

#[test]
fn r47_session_status_tears_the_session_down() {
    let mut b = Builder::default();
    b.open_session();
    let report = b.call(
        UMD,
        Ddi::ReportSessionStatus,
        "status=MIRACAST_STATUS_CRITICAL_ERROR diagnostic=0xC0000001",
        None,
    );
    b.call(
        UMD,
        Ddi::ReportSessionStatus,
        "status=MIRACAST_STATUS_CRITICAL_ERROR diagnostic=0xC0000001",
        None,
    );
    let stop = b.call(OS, Ddi::StopMiracastSession, "", None);
    let destroy = b.call(OS, Ddi::DestroyMiracastContext, "", None);
    breaks(&b, 47, Culprit::OsModel, &[report, stop, destroy]);
    b.call(OS, Ddi::DxgkDdiMiracastDestroyContext, "", None);
    keeps(&b);
}

#[test]
fn r48_report_statistic_only_logs() {
    let mut b = Builder::default();
    b.open_session();
    b.call(UMD, Ddi::ReportStatistic, "", None);
    b.close_session();
    keeps(&b);

    let mut b = Builder::default();
    b.open_session();
    let rs = b.enter(UMD, Ddi::ReportStatistic, "");
    let phase = b.event(
        UMD,
        EventKind::Phase {
            from: SessionPhase::Started,
            to: SessionPhase::StopPending,
        },
    );
    b.leave(UMD, Ddi::ReportStatistic, None);
    b.close_session();
    breaks(&b, 48, Culprit::OsModel, &[rs, phase]);
}

#[test]
fn r50_data_rate_notifications() {
    let registered = |b: &mut Builder| {
        b.open_session();
        b.call(
            OS,
            Ddi::RegisterForDataRateNotifications,
            "register=true",
            OK,
        );
    };
    // About once a second, within the tolerance.
    let mut b = Builder::default();
    registered(&mut b);
    b.at_ms(1000);
    let first = b.call(9, Ddi::PfnDataRateNotify, "stats=present", None);
    b.at_ms(2090);
    b.call(9, Ddi::PfnDataRateNotify, "stats=present", None);
    b.at_ms(2100);
    b.call(9, Ddi::PfnDataRateNotify, "stats=null", None);
    keeps(&b);
    // Nothing after the NULL-stats call.
    b.at_ms(3100);
    let late = b.call(9, Ddi::PfnDataRateNotify, "stats=present", None);
    breaks(&b, 50, Culprit::OsModel, &[late - 2, late]);

    // Too far apart.
    let mut b = Builder::default();
    registered(&mut b);
    b.at_ms(1000);
    assert_eq!(
        b.call(9, Ddi::PfnDataRateNotify, "stats=present", None),
        first
    );
    b.at_ms(2500);
    let second = b.call(9, Ddi::PfnDataRateNotify, "stats=present", None);
    let v = breaks(&b, 50, Culprit::OsModel, &[first, second]);
    assert!(v.finding.contains("1500 ms"), "{v}");
    // A wider tolerance accepts it.
    let wide = TraceCheckConfig {
        datarate_tolerance: Duration::from_millis(600),
    };
    assert!(trace_checks::check_with(&b.trace(), &wide).is_empty());

    // Nothing after unregistering.
    let mut b = Builder::default();
    registered(&mut b);
    let unregister = b.call(
        OS,
        Ddi::RegisterForDataRateNotifications,
        "register=false",
        OK,
    ) + 1;
    b.at_ms(1000);
    let late = b.call(9, Ddi::PfnDataRateNotify, "stats=present", None);
    breaks(&b, 50, Culprit::OsModel, &[unregister, late]);
}

#[test]
fn r55_one_chunk_reader_at_a_time() {
    let args = "timeout_ms=4294967295 events=0 buffer_size=65536";
    let mut b = Builder::default();
    b.open_session();
    b.call(UMD, Ddi::GetNextChunkData, args, OK);
    b.call(UMD2, Ddi::GetNextChunkData, args, OK);
    b.close_session();
    keeps(&b);

    let mut b = Builder::default();
    b.open_session();
    let first = b.enter(UMD, Ddi::GetNextChunkData, args);
    let second = b.call(
        UMD2,
        Ddi::GetNextChunkData,
        args,
        Some(NtStatus::STATUS_TIMEOUT),
    );
    b.leave(UMD, Ddi::GetNextChunkData, OK);
    b.close_session();
    let v = breaks(&b, 55, Culprit::Umd, &[first, second]);
    assert_eq!(v.rule.rule().severity, Severity::Warning);
}

#[test]
fn r67_miracast_class_calls_never_overlap() {
    let mut b = Builder::default();
    b.open_session();
    let hw = "hardware_access=true";
    // A HardwareAccess IOCTL is Level 3, not of the class: it may not overlap anything (R24),
    // so keep it alone; two class calls in sequence are fine.
    b.call(UMD, Ddi::DxgkDdiMiracastIoControl, hw, OK);
    b.call(
        UMD,
        Ddi::DxgkDdiMiracastIoControl,
        "hardware_access=false",
        OK,
    );
    b.call(
        UMD2,
        Ddi::DxgkDdiMiracastIoControl,
        "hardware_access=false",
        OK,
    );
    b.close_session();
    keeps(&b);

    let mut b = Builder::default();
    b.open_session();
    let first = b.enter(UMD, Ddi::DxgkDdiMiracastIoControl, "hardware_access=false");
    let second = b.call(
        UMD2,
        Ddi::DxgkDdiMiracastIoControl,
        "hardware_access=false",
        OK,
    );
    b.leave(UMD, Ddi::DxgkDdiMiracastIoControl, OK);
    b.close_session();
    breaks(&b, 67, Culprit::OsModel, &[first, second]);
}

#[test]
fn findings_name_threads_and_are_capped_per_rule() {
    // A hung Miracast-class call overlaps every later one.
    let mut b = Builder::default();
    b.threads();
    b.enter(UMD, Ddi::DxgkDdiMiracastIoControl, "hardware_access=false");
    for _ in 0..40 {
        b.call(
            UMD2,
            Ddi::DxgkDdiMiracastIoControl,
            "hardware_access=false",
            OK,
        );
    }
    let found = check(&b);
    assert_eq!(
        found.len(),
        trace_checks::MAX_FINDINGS_PER_RULE + 1,
        "{}",
        show(&found)
    );
    assert!(found.iter().all(|v| v.rule == RuleId(67)));
    assert!(
        found[0].finding.contains("t3 (umd-ioctl-1)"),
        "{}",
        found[0]
    );
    assert!(
        found.last().unwrap().finding.starts_with("8 more R67"),
        "{}",
        found.last().unwrap()
    );
}

// ---------------------------------------------------------------------------------------------
// Arbitrary traces never make a check panic.

fn arb_kind() -> impl Strategy<Value = EventKind> {
    let ddi = prop::sample::select(Ddi::ALL.to_vec());
    let args = prop::sample::select(vec![
        "",
        "hardware_access=true",
        "hardware_access=false op=MONITOR_ARRIVED",
        "op=MONITOR_DEPARTED",
        "type=StatusMiracastConnection child_uid=7 connected=true",
        "type=StatusMiracastConnection child_uid=7 connected=false",
        "target=7 monitor_power_off=true",
        "id=1 callback=true",
        "id=2 status=STATUS_SUCCESS information=0",
        "id=x status=garbage",
        "stats=null",
        "stats=present",
        "register=false",
        "register=true",
        "status=MIRACAST_STATUS_CRITICAL_ERROR",
        "==",
        "id=18446744073709551615",
    ]);
    let status = prop::option::of(prop::sample::select(vec![
        NtStatus::STATUS_SUCCESS,
        NtStatus::STATUS_PENDING,
        NtStatus::STATUS_CANCELLED,
        NtStatus(-1),
    ]));
    prop_oneof![
        (ddi.clone(), args.clone()).prop_map(|(ddi, a)| EventKind::Enter {
            ddi,
            args: a.to_owned()
        }),
        (ddi, status.clone(), args).prop_map(|(ddi, status, a)| EventKind::Leave {
            ddi,
            status,
            out: a.to_owned()
        }),
        (0u64..4, any::<bool>()).prop_map(|(id, held)| EventKind::MessageQueued { id, held }),
        (0u64..4).prop_map(|id| EventKind::MessageDelivered { id }),
        (0u64..4).prop_map(|id| EventKind::MessageDropped {
            id,
            status: NtStatus::STATUS_SUCCESS
        }),
        prop::sample::select(vec!["umd-send x", "umd-recv y", "umd-close", "disconnect"])
            .prop_map(|w| EventKind::Sink { what: w.to_owned() }),
        (prop::option::of(0u32..6)).prop_map(|parent| EventKind::ThreadStart {
            name: "umd-x".into(),
            parent
        }),
        Just(EventKind::Phase {
            from: SessionPhase::Started,
            to: SessionPhase::Stopped
        }),
        Just(EventKind::ChunkQueued {
            frame: 1,
            part: 0,
            depth: 0
        }),
        Just(EventKind::ThreadExit),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn checks_never_panic(raw in prop::collection::vec((0u32..6, any::<u32>(), 0u64..5_000_000, arb_kind()), 0..120)) {
        let events: Vec<TraceEvent> = raw
            .into_iter()
            .map(|(thread, seq, micros, kind)| TraceEvent { seq, time: SimTime::from_micros(micros), thread, kind })
            .collect();
        let seqs: std::collections::BTreeSet<u32> = events.iter().map(|e| e.seq).collect();
        let trace = Trace { events };
        for v in trace_checks::check(&trace) {
            prop_assert!((1..=74).contains(&v.rule.0));
            prop_assert!(v.events.iter().all(|s| seqs.contains(s)));
            prop_assert!(!v.to_string().is_empty());
        }
    }
}

#[test]
fn r22_one_miracast_context_at_a_time() {
    let mut b = Builder::default();
    b.call(OS, Ddi::DxgkDdiMiracastCreateContext, "", OK);
    b.call(OS, Ddi::DxgkDdiMiracastDestroyContext, "", None);
    let live = b.call(OS, Ddi::DxgkDdiMiracastCreateContext, "", OK);
    keeps(&b);
    // Asking again is the fault, whatever the KMD answers.
    let second = b.call(
        OS,
        Ddi::DxgkDdiMiracastCreateContext,
        "",
        Some(NtStatus::STATUS_RESOURCE_IN_USE),
    );
    breaks(&b, 22, Culprit::OsModel, &[live, second]);
}

#[test]
fn r25_accepted_messages_are_pending() {
    let mut b = Builder::default();
    b.call(
        MSG,
        Ddi::DxgkCbMiracastSendMessage,
        "id=1 callback=true",
        Some(NtStatus::STATUS_PENDING),
    );
    keeps(&b);
    let send = b.call(
        MSG,
        Ddi::DxgkCbMiracastSendMessage,
        "id=2 callback=true",
        Some(NtStatus::STATUS_SUCCESS),
    );
    breaks(&b, 25, Culprit::OsModel, &[send, send + 1]);
}

#[test]
fn r54_success_carries_chunk_data() {
    let mut b = Builder::default();
    b.enter(
        UMD,
        Ddi::GetNextChunkData,
        "timeout_ms=0 events=1 buffer_size=64",
    );
    b.leave_out(
        UMD,
        Ddi::GetNextChunkData,
        OK,
        "size=0 outstanding=0 chunks=0",
    );
    b.enter(
        UMD,
        Ddi::GetNextChunkData,
        "timeout_ms=0 events=0 buffer_size=64",
    );
    b.leave_out(
        UMD,
        Ddi::GetNextChunkData,
        OK,
        "size=40 outstanding=0 chunks=1",
    );
    keeps(&b);
    let enter = b.enter(
        UMD,
        Ddi::GetNextChunkData,
        "timeout_ms=0 events=0 buffer_size=64",
    );
    b.leave_out(
        UMD,
        Ddi::GetNextChunkData,
        OK,
        "size=0 outstanding=0 chunks=0",
    );
    breaks(&b, 54, Culprit::OsModel, &[enter, enter + 1]);
}

#[test]
fn r70_pageable_ddis_run_at_passive_level() {
    let mut b = Builder::default();
    b.call(OS, Ddi::DxgkDdiCreateContext, "", OK);
    keeps(&b);
    let isr = b.enter(OS, Ddi::DxgkDdiInterruptRoutine, "");
    let create = b.call(OS, Ddi::DxgkDdiCreateContext, "", OK);
    b.leave(OS, Ddi::DxgkDdiInterruptRoutine, None);
    breaks(&b, 70, Culprit::OsModel, &[isr, create]);
}

#[test]
fn r11_monitor_arrived_ioctl_is_reported() {
    let arrived = "hardware_access=false op=MONITOR_ARRIVED";
    let connected =
        "type=StatusMiracastConnection child_uid=7 connected=true monitor_type=D3DKMDT_VOT_HDMI";
    let mut b = Builder::default();
    b.open_session();
    b.enter(UMD, Ddi::DxgkDdiMiracastIoControl, arrived);
    b.call(UMD, Ddi::DxgkCbIndicateChildStatus, connected, OK);
    b.leave(UMD, Ddi::DxgkDdiMiracastIoControl, OK);
    keeps(&b);
    let ioctl = b.enter(UMD, Ddi::DxgkDdiMiracastIoControl, arrived);
    let left = b.leave(UMD, Ddi::DxgkDdiMiracastIoControl, OK);
    b.call(
        UMD,
        Ddi::DxgkDdiMiracastIoControl,
        "hardware_access=false op=QUERY_STATUS",
        OK,
    );
    b.call(UMD, Ddi::DxgkCbIndicateChildStatus, connected, OK);
    breaks(&b, 11, Culprit::Kmd, &[ioctl, left]);
}

#[test]
fn r13_no_departure_request_in_stop_unless_the_sink_said_so() {
    let departed = "hardware_access=false op=MONITOR_DEPARTED";
    let mut b = Builder::default();
    b.open_session();
    b.event(
        OS,
        EventKind::Sink {
            what: "scenario: MonitorDeparts".into(),
        },
    );
    b.enter(OS, Ddi::StopMiracastSession, "");
    b.call(OS, Ddi::MiracastIoControl, departed, OK);
    b.leave(OS, Ddi::StopMiracastSession, None);
    keeps(&b);
    b.call(OS, Ddi::StartMiracastSession, "", OK);
    let stop = b.enter(OS, Ddi::StopMiracastSession, "");
    let ioctl = b.call(OS, Ddi::MiracastIoControl, departed, OK);
    b.leave(OS, Ddi::StopMiracastSession, None);
    breaks(&b, 13, Culprit::Umd, &[stop, ioctl]);
}
