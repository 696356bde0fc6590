//! The rule catalogue and the trace checks: for every trace check a hand-built trace that keeps
//! the rule and one that breaks it (only that rule reported, with the right culprit and events),
//! the catalogue's shape, and a property test that the checks never panic.

use miracast_sim::ddi::{Ddi, Handle, MiracastStatus, SessionPhase, VideoOutputTechnology};
use miracast_sim::rules::catalogue::{self, CATALOGUE, CheckKind, Severity};
use miracast_sim::rules::trace_checks::{self, TraceCheckConfig};
use miracast_sim::rules::{Culprit, Place, RuleId, Violation, registry};
use miracast_sim::status::NtStatus;
use miracast_sim::time::SimTime;
use miracast_sim::trace::{
    CallArgs, CallOut, ChildStatusArm, ChildStatusRecord, EventKind, IoctlMeaning, SinkAction,
    SinkActivity, Trace, TraceEvent, WireSummary,
};
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

    fn enter(&mut self, thread: u32, ddi: Ddi, args: CallArgs) -> u32 {
        self.event(thread, EventKind::Enter { ddi, args })
    }

    fn leave(&mut self, thread: u32, ddi: Ddi, status: Option<NtStatus>) -> u32 {
        let out = CallOut::None;
        self.event(thread, EventKind::Leave { ddi, status, out })
    }

    fn leave_out(&mut self, thread: u32, ddi: Ddi, status: Option<NtStatus>, out: CallOut) -> u32 {
        self.event(thread, EventKind::Leave { ddi, status, out })
    }

    /// A call with nothing inside it; returns the `Enter`'s seq.
    fn call(&mut self, thread: u32, ddi: Ddi, args: CallArgs, status: Option<NtStatus>) -> u32 {
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
        self.call(OS, Ddi::DxgkDdiMiracastCreateContext, none(), OK);
        self.call(OS, Ddi::CreateMiracastContext, none(), OK);
        self.call(OS, Ddi::StartMiracastSession, none(), OK);
    }

    /// Stop, UMD destroy and KMD destroy, in order.
    fn close_session(&mut self) {
        self.call(OS, Ddi::StopMiracastSession, none(), None);
        self.call(OS, Ddi::DestroyMiracastContext, none(), None);
        self.call(OS, Ddi::DxgkDdiMiracastDestroyContext, none(), None);
    }

    /// The UMD's monitor-arrived IOCTL on `thread`, and the KMD's arrival indication inside it.
    fn monitor_arrives(&mut self, thread: u32) -> u32 {
        let args = io(false, Some(IoctlMeaning::MonitorArrived));
        let m = self.enter(thread, Ddi::MiracastIoControl, args);
        self.enter(thread, Ddi::DxgkDdiMiracastIoControl, args);
        self.call(thread, Ddi::DxgkCbIndicateChildStatus, miracast(true), OK);
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

// Typed arguments of the hand-built traces.

fn none() -> CallArgs {
    CallArgs::None
}

fn io(hardware_access: bool, op: Option<IoctlMeaning>) -> CallArgs {
    CallArgs::IoControl {
        hardware_access,
        input_size: 16,
        output_size: 0,
        op,
    }
}

fn status_record(connected: bool) -> ChildStatusRecord {
    ChildStatusRecord {
        child_uid: 7,
        arm: ChildStatusArm::StatusMiracastConnection {
            connected,
            monitor_type: if connected {
                VideoOutputTechnology::Hdmi
            } else {
                VideoOutputTechnology::Uninitialized
            },
        },
    }
}

/// `DxgkCbIndicateChildStatus` for the Miracast target (ChildUid 7).
fn miracast(connected: bool) -> CallArgs {
    CallArgs::ChildStatus(status_record(connected))
}

/// `DxgkDdiQueryChildStatus` for the Miracast target.
fn query_status() -> CallArgs {
    CallArgs::QueryChildStatus {
        child_uid: 7,
        non_destructive_only: true,
    }
}

/// What `DxgkDdiQueryChildStatus` answered.
fn answered(connected: bool) -> CallOut {
    CallOut::ChildStatus(status_record(connected))
}

fn send(id: u64, callback: bool) -> CallArgs {
    CallArgs::SendMessage {
        id,
        input_size: 8,
        output_size: 0,
        callback,
    }
}

fn handled(id: u64) -> CallArgs {
    CallArgs::HandleKernelModeMessage {
        id,
        input_size: 8,
        output_size: 0,
    }
}

fn completion(id: u64, status: NtStatus) -> CallArgs {
    CallArgs::SendMessageCallback {
        id,
        status,
        information: 0,
    }
}

fn chunk_args(timeout_ms: u32, events: u32, buffer_size: u32) -> CallArgs {
    CallArgs::GetNextChunkData {
        timeout_ms,
        events,
        buffer_size,
    }
}

fn chunks_out(size: u32, chunks: u32) -> CallOut {
    CallOut::Chunks {
        size,
        outstanding: 0,
        chunks,
        ids: Vec::new(),
    }
}

fn commit(target: u32, monitor_power_off: bool) -> CallArgs {
    CallArgs::CommitVidPn {
        target,
        monitor_power_off,
    }
}

fn session_status(status: MiracastStatus, diagnostic: NtStatus) -> CallArgs {
    CallArgs::ReportSessionStatus { status, diagnostic }
}

fn wire(kind: &str) -> SinkActivity {
    let message = WireSummary {
        first_line: "RTSP/1.0 200 OK".to_owned(),
        bytes: 17,
    };
    match kind {
        "umd-send" => SinkActivity::UmdSend {
            after_stop: false,
            message,
        },
        "umd-send after-stop" => SinkActivity::UmdSend {
            after_stop: true,
            message,
        },
        "umd-recv" => SinkActivity::UmdRecv { message },
        _ => SinkActivity::UmdClose { socket: 5 },
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
fn breaks(b: &Builder, rule: RuleId, culprit: Culprit, events: &[u32]) -> Violation {
    let found = check(b);
    assert_eq!(
        found.len(),
        1,
        "expected exactly one {}, found:\n{}\ntrace:\n{}",
        rule,
        show(&found),
        b.trace().to_text()
    );
    let v = found[0].clone();
    assert_eq!(v.rule, rule, "{}", show(&found));
    assert_eq!(v.culprit, culprit, "{}", show(&found));
    assert_eq!(v.events, events, "{}", show(&found));
    assert!(!v.finding.is_empty());
    assert_eq!(
        v.check.def().place,
        Place::Trace,
        "{} is reported over the trace",
        v.rule
    );
    assert!(v.check.may_report(v.rule));
    v
}

// ---------------------------------------------------------------------------------------------
// The catalogue

#[test]
fn catalogue_has_74_rules_in_order_with_sources_and_reasons() {
    assert_eq!(CATALOGUE.len(), 74);
    for (i, r) in CATALOGUE.iter().enumerate() {
        assert_eq!(usize::from(r.id.number()), i + 1, "rule at position {i}");
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
fn catalogue_marks_agree_with_the_check_registry() {
    for r in CATALOGUE {
        let places: std::collections::BTreeSet<String> = registry::checks_for(r.id)
            .map(|c| c.place.to_string())
            .collect();
        let expected = match r.check {
            CheckKind::Unchecked(_) => vec![],
            CheckKind::Online => vec!["online"],
            CheckKind::Trace => vec!["trace"],
            CheckKind::Both => vec!["online", "trace"],
        };
        // The race detector reports R27 and R30 next to their online marks.
        let places: Vec<&str> = places
            .iter()
            .map(|p| if p == "race" { "online" } else { p.as_str() })
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        assert_eq!(places, expected, "{} is marked {}", r.id, r.check);
    }
    for r in CATALOGUE
        .iter()
        .filter(|r| matches!(r.check, CheckKind::Trace | CheckKind::Both))
    {
        assert!(
            TRACE_RULES.contains(&r.id),
            "{} is checked over the trace but has no break test here",
            r.id
        );
    }
    // The "should"s and lints are warnings.
    for id in [
        RuleId::R2,
        RuleId::R43,
        RuleId::R46,
        RuleId::R55,
        RuleId::R56,
    ] {
        assert_eq!(catalogue::rule(id).severity, Severity::Warning, "{id}");
    }
    let table = catalogue::table().to_string();
    assert!(table.contains("R56") && table.contains("why unchecked: lint only"));
    assert!(table.ends_with("unchecked"));
}

/// Every rule checked over the trace, each with a breaking test below.
const TRACE_RULES: &[RuleId] = &[
    RuleId::R7,
    RuleId::R9,
    RuleId::R11,
    RuleId::R13,
    RuleId::R18,
    RuleId::R20,
    RuleId::R21,
    RuleId::R22,
    RuleId::R24,
    RuleId::R25,
    RuleId::R28,
    RuleId::R29,
    RuleId::R31,
    RuleId::R32,
    RuleId::R37,
    RuleId::R38,
    RuleId::R42,
    RuleId::R43,
    RuleId::R44,
    RuleId::R47,
    RuleId::R48,
    RuleId::R50,
    RuleId::R53,
    RuleId::R54,
    RuleId::R55,
    RuleId::R59,
    RuleId::R62,
    RuleId::R67,
    RuleId::R68,
    RuleId::R70,
    RuleId::R73,
];

// ---------------------------------------------------------------------------------------------
// A whole correct connection keeps every rule.

#[test]
fn a_correct_connection_keeps_every_rule() {
    let mut b = Builder::default();
    b.threads();
    b.call(OS, Ddi::DxgkDdiAddDevice, none(), OK);
    b.call(OS, Ddi::DxgkDdiQueryInterface, none(), OK);
    b.call(OS, Ddi::DxgkDdiStartDevice, none(), OK);
    b.call(OS, Ddi::DxgkDdiMiracastQueryCaps, none(), OK);
    b.call(OS, Ddi::DxgkDdiQueryChildRelations, none(), OK);
    b.enter(OS, Ddi::DxgkDdiQueryChildStatus, query_status());
    b.leave_out(OS, Ddi::DxgkDdiQueryChildStatus, OK, answered(false));
    b.call(OS, Ddi::DxgkDdiMiracastCreateContext, none(), OK);
    b.call(OS, Ddi::CreateMiracastContext, none(), OK);
    b.at_ms(100);
    b.enter(OS, Ddi::StartMiracastSession, none());
    b.call(
        OS,
        Ddi::RegisterForDataRateNotifications,
        CallArgs::RegisterDataRate { register: true },
        OK,
    );
    // The KMD sends during start: held.
    b.call(
        OS2,
        Ddi::DxgkCbMiracastSendMessage,
        send(1, true),
        Some(NtStatus::STATUS_PENDING),
    );
    b.event(OS2, EventKind::MessageQueued { id: 1, held: true });
    // Another UMD thread's IOCTL waits for start.
    b.enter(UMD2, Ddi::MiracastIoControl, io(false, None));
    b.leave(OS, Ddi::StartMiracastSession, OK);
    b.event(
        OS,
        EventKind::Phase {
            from: SessionPhase::StartPending,
            to: SessionPhase::Started,
        },
    );
    b.call(UMD2, Ddi::DxgkDdiMiracastIoControl, io(false, None), OK);
    b.leave(UMD2, Ddi::MiracastIoControl, OK);
    b.event(MSG, EventKind::MessageDelivered { id: 1 });
    b.call(MSG, Ddi::HandleKernelModeMessage, handled(1), OK);
    b.call(
        MSG,
        Ddi::DxgkCbMiracastSendMessageCallback,
        completion(1, NtStatus::STATUS_SUCCESS),
        None,
    );
    b.monitor_arrives(UMD);
    b.call(OS, Ddi::DxgkDdiCommitVidPn, commit(7, false), OK);
    b.event(
        UMD,
        EventKind::Sink {
            what: wire("umd-send"),
        },
    );
    b.call(
        UMD,
        Ddi::GetNextChunkData,
        chunk_args(0, 0, 4096),
        Some(NtStatus::STATUS_TIMEOUT),
    );
    b.call(UMD, Ddi::ReportStatistic, none(), None);
    b.at_ms(1100);
    b.call(
        9,
        Ddi::PfnDataRateNotify,
        CallArgs::DataRateNotify { stats: true },
        None,
    );
    b.at_ms(2150);
    b.call(
        9,
        Ddi::PfnDataRateNotify,
        CallArgs::DataRateNotify { stats: true },
        None,
    );
    // Power off: the KMD tells the UMD.
    b.enter(OS, Ddi::DxgkDdiCommitVidPn, commit(7, true));
    b.call(
        OS,
        Ddi::DxgkCbMiracastSendMessage,
        send(2, false),
        Some(NtStatus::STATUS_PENDING),
    );
    b.event(OS, EventKind::MessageQueued { id: 2, held: false });
    b.leave(OS, Ddi::DxgkDdiCommitVidPn, OK);
    b.event(MSG, EventKind::MessageDelivered { id: 2 });
    b.call(MSG, Ddi::HandleKernelModeMessage, handled(2), OK);
    // The link fails: status, then teardown.
    b.call(
        UMD,
        Ddi::ReportSessionStatus,
        session_status(MiracastStatus::MissingKeepalive, NtStatus::STATUS_SUCCESS),
        None,
    );
    b.enter(OS, Ddi::StopMiracastSession, none());
    b.call(
        OS,
        Ddi::RegisterForDataRateNotifications,
        CallArgs::RegisterDataRate { register: false },
        OK,
    );
    b.call(
        OS2,
        Ddi::DxgkCbMiracastSendMessage,
        send(3, true),
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
        completion(3, NtStatus::STATUS_CANCELLED),
        None,
    );
    // Other threads' IOCTLs fail during stop; the stop thread's own are processed.
    b.call(
        UMD2,
        Ddi::MiracastIoControl,
        io(false, None),
        Some(NtStatus::STATUS_INVALID_DEVICE_STATE),
    );
    b.enter(OS, Ddi::MiracastIoControl, io(false, None));
    b.call(OS, Ddi::DxgkDdiMiracastIoControl, io(false, None), OK);
    b.leave(OS, Ddi::MiracastIoControl, OK);
    b.event(
        UMD,
        EventKind::Sink {
            what: wire("umd-recv"),
        },
    );
    b.leave(OS, Ddi::StopMiracastSession, None);
    b.call(OS, Ddi::DestroyMiracastContext, none(), None);
    b.enter(OS, Ddi::DxgkDdiMiracastDestroyContext, none());
    b.call(OS, Ddi::DxgkCbIndicateChildStatus, miracast(false), OK);
    b.leave(OS, Ddi::DxgkDdiMiracastDestroyContext, None);
    keeps(&b);
}

// ---------------------------------------------------------------------------------------------
// One keep/break pair per trace check.

#[test]
fn r7_query_caps_once_per_start() {
    let mut b = Builder::default();
    b.call(OS, Ddi::DxgkDdiStartDevice, none(), OK);
    b.call(OS, Ddi::DxgkDdiMiracastQueryCaps, none(), OK);
    // A restarted adapter is asked again.
    b.call(OS, Ddi::DxgkDdiStartDevice, none(), OK);
    let after_restart = b.call(OS, Ddi::DxgkDdiMiracastQueryCaps, none(), OK);
    keeps(&b);
    let again = b.call(OS, Ddi::DxgkDdiMiracastQueryCaps, none(), OK);
    breaks(&b, RuleId::R7, Culprit::OsModel, &[after_restart, again]);
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
    b.call(OS, Ddi::DxgkDdiMiracastCreateContext, none(), OK);
    let indication = b.call(OS, Ddi::DxgkCbIndicateChildStatus, miracast(true), OK);
    breaks(&b, RuleId::R9, Culprit::Kmd, &[indication]);

    // ... or answers QueryChildStatus with "connected".
    let mut b = Builder::default();
    let enter = b.enter(OS, Ddi::DxgkDdiQueryChildStatus, query_status());
    let leave = b.leave_out(OS, Ddi::DxgkDdiQueryChildStatus, OK, answered(true));
    breaks(&b, RuleId::R9, Culprit::Kmd, &[enter, leave]);

    // The UMD asks for arrival between create and start: the UMD is the cause.
    let mut b = Builder::default();
    b.threads();
    b.call(OS, Ddi::DxgkDdiMiracastCreateContext, none(), OK);
    b.call(OS, Ddi::CreateMiracastContext, none(), OK);
    let m = b.monitor_arrives(UMD);
    let v = breaks(&b, RuleId::R9, Culprit::Umd, &[m, m + 2]);
    assert!(v.finding.contains("MiracastIoControl"), "{v}");
}

#[test]
fn r18_no_io_control_after_kmd_destroy() {
    let mut b = Builder::default();
    b.open_session();
    b.close_session();
    b.call(OS, Ddi::DxgkDdiMiracastCreateContext, none(), OK);
    b.call(OS, Ddi::DxgkDdiMiracastIoControl, io(false, None), OK);
    keeps(&b);

    let mut b = Builder::default();
    b.open_session();
    b.close_session();
    let destroy_leave = b.events.len() as u32 - 1;
    let ioctl = b.call(OS, Ddi::DxgkDdiMiracastIoControl, io(false, None), OK);
    breaks(&b, RuleId::R18, Culprit::OsModel, &[destroy_leave, ioctl]);
}

#[test]
fn r20_umd_ioctls_blocked_after_early_kmd_destroy() {
    let mut b = Builder::default();
    b.open_session();
    b.call(OS, Ddi::StopMiracastSession, none(), None);
    // The stop overran: the KMD context goes while the UMD context is alive.
    b.call(OS2, Ddi::DxgkDdiMiracastDestroyContext, none(), None);
    b.call(
        UMD,
        Ddi::MiracastIoControl,
        io(false, None),
        Some(NtStatus::STATUS_INVALID_DEVICE_STATE),
    );
    b.call(OS, Ddi::DestroyMiracastContext, none(), None);
    keeps(&b);

    let mut b = Builder::default();
    b.open_session();
    b.call(OS, Ddi::StopMiracastSession, none(), None);
    let destroy = b.call(OS2, Ddi::DxgkDdiMiracastDestroyContext, none(), None);
    let m = b.enter(UMD, Ddi::MiracastIoControl, io(false, None));
    let k = b.call(UMD, Ddi::DxgkDdiMiracastIoControl, io(false, None), OK);
    b.leave(UMD, Ddi::MiracastIoControl, OK);
    b.call(OS, Ddi::DestroyMiracastContext, none(), None);
    breaks(&b, RuleId::R20, Culprit::OsModel, &[destroy, m, k]);
}

/// A session with a monitor behind the sink, and a commit on the Miracast target.
fn commit_with_monitor(b: &mut Builder, power_off: bool) -> u32 {
    b.open_session();
    b.monitor_arrives(UMD);
    b.enter(OS, Ddi::DxgkDdiCommitVidPn, commit(7, power_off))
}

#[test]
fn r21_no_data_to_the_umd_after_a_disconnect_during_commit() {
    let mut b = Builder::default();
    commit_with_monitor(&mut b, false);
    b.call(
        UMD,
        Ddi::MiracastIoControl,
        io(false, Some(IoctlMeaning::MonitorDeparted)),
        OK,
    );
    b.call(OS, Ddi::DxgkCbIndicateChildStatus, miracast(false), OK);
    b.leave(OS, Ddi::DxgkDdiCommitVidPn, OK);
    b.call(
        OS,
        Ddi::DxgkCbMiracastSendMessage,
        send(1, false),
        Some(NtStatus::STATUS_PENDING),
    );
    b.close_session();
    keeps(&b);

    let mut b = Builder::default();
    let commit = commit_with_monitor(&mut b, true);
    let departure = b.call(OS, Ddi::DxgkCbIndicateChildStatus, miracast(false), OK);
    let send = b.call(
        OS,
        Ddi::DxgkCbMiracastSendMessage,
        send(1, false),
        Some(NtStatus::STATUS_PENDING),
    );
    b.leave(OS, Ddi::DxgkDdiCommitVidPn, OK);
    b.close_session();
    breaks(&b, RuleId::R21, Culprit::Kmd, &[commit, departure, send]);
}

#[test]
fn r31_power_off_commit_sends_a_message() {
    let mut b = Builder::default();
    commit_with_monitor(&mut b, true);
    b.call(
        OS,
        Ddi::DxgkCbMiracastSendMessage,
        send(1, false),
        Some(NtStatus::STATUS_PENDING),
    );
    b.leave(OS, Ddi::DxgkDdiCommitVidPn, OK);
    // A power-off commit of another target needs no message.
    b.call(OS, Ddi::DxgkDdiCommitVidPn, commit(1, true), OK);
    b.close_session();
    keeps(&b);

    let mut b = Builder::default();
    let commit = commit_with_monitor(&mut b, true);
    let leave = b.leave(OS, Ddi::DxgkDdiCommitVidPn, OK);
    b.close_session();
    breaks(&b, RuleId::R31, Culprit::Kmd, &[commit, leave]);
}

#[test]
fn r24_hardware_access_io_control_runs_alone() {
    let hw = io(true, None);
    let mut b = Builder::default();
    b.open_session();
    b.enter(UMD, Ddi::MiracastIoControl, hw);
    b.call(UMD, Ddi::DxgkDdiMiracastIoControl, hw, OK);
    b.call(OS, Ddi::DxgkDdiQueryChildStatus, none(), OK); // the IOCTL is still in the OS, not the KMD
    b.leave(UMD, Ddi::MiracastIoControl, OK);
    b.close_session();
    keeps(&b);

    let mut b = Builder::default();
    b.open_session();
    b.enter(UMD, Ddi::MiracastIoControl, hw);
    let k = b.enter(UMD, Ddi::DxgkDdiMiracastIoControl, hw);
    let other = b.call(OS, Ddi::DxgkDdiQueryChildStatus, none(), OK);
    b.leave(UMD, Ddi::DxgkDdiMiracastIoControl, OK);
    b.leave(UMD, Ddi::MiracastIoControl, OK);
    b.close_session();
    breaks(&b, RuleId::R24, Culprit::OsModel, &[k, other]);
}

#[test]
fn r68_query_caps_runs_alone() {
    let mut b = Builder::default();
    b.call(OS, Ddi::DxgkDdiMiracastQueryCaps, none(), OK);
    b.call(OS2, Ddi::DxgkDdiQueryChildStatus, none(), OK);
    keeps(&b);

    let mut b = Builder::default();
    let caps = b.enter(OS, Ddi::DxgkDdiMiracastQueryCaps, none());
    let other = b.call(OS2, Ddi::DxgkDdiQueryChildStatus, none(), OK);
    b.leave(OS, Ddi::DxgkDdiMiracastQueryCaps, OK);
    breaks(&b, RuleId::R68, Culprit::OsModel, &[caps, other]);
}

#[test]
fn r28_messages_never_during_the_serialized_functions() {
    let mut b = Builder::default();
    b.open_session();
    b.event(OS2, EventKind::MessageQueued { id: 1, held: false });
    b.event(MSG, EventKind::MessageDelivered { id: 1 });
    let handler = b.enter(MSG, Ddi::HandleKernelModeMessage, handled(1));
    let stop = b.enter(OS, Ddi::StopMiracastSession, none());
    b.leave(MSG, Ddi::HandleKernelModeMessage, OK);
    b.leave(OS, Ddi::StopMiracastSession, None);
    b.call(OS, Ddi::DestroyMiracastContext, none(), None);
    b.call(OS, Ddi::DxgkDdiMiracastDestroyContext, none(), None);
    breaks(&b, RuleId::R28, Culprit::OsModel, &[handler, stop]);
}

#[test]
fn r28_messages_held_until_start_returns() {
    let mut b = Builder::default();
    b.threads();
    b.call(OS, Ddi::DxgkDdiMiracastCreateContext, none(), OK);
    b.call(OS, Ddi::CreateMiracastContext, none(), OK);
    b.enter(OS, Ddi::StartMiracastSession, none());
    let queued = b.event(OS2, EventKind::MessageQueued { id: 1, held: true });
    b.leave(OS, Ddi::StartMiracastSession, OK);
    b.event(MSG, EventKind::MessageDelivered { id: 1 });
    b.call(MSG, Ddi::HandleKernelModeMessage, handled(1), OK);
    b.close_session();
    keeps(&b);

    let mut b = Builder::default();
    b.threads();
    b.call(OS, Ddi::DxgkDdiMiracastCreateContext, none(), OK);
    b.call(OS, Ddi::CreateMiracastContext, none(), OK);
    b.enter(OS, Ddi::StartMiracastSession, none());
    assert_eq!(
        b.event(OS2, EventKind::MessageQueued { id: 1, held: true }),
        queued
    );
    let delivered = b.event(MSG, EventKind::MessageDelivered { id: 1 });
    b.leave(OS, Ddi::StartMiracastSession, OK);
    b.close_session();
    breaks(&b, RuleId::R28, Culprit::OsModel, &[queued, delivered]);
}

#[test]
fn r29_messages_after_stop_are_dropped_with_an_error() {
    // Delivered although sent after stop began.
    let mut b = Builder::default();
    b.open_session();
    let stop = b.enter(OS, Ddi::StopMiracastSession, none());
    let queued = b.event(OS2, EventKind::MessageQueued { id: 4, held: false });
    let delivered = b.event(MSG, EventKind::MessageDelivered { id: 4 });
    b.leave(OS, Ddi::StopMiracastSession, None);
    b.call(OS, Ddi::DestroyMiracastContext, none(), None);
    b.call(OS, Ddi::DxgkDdiMiracastDestroyContext, none(), None);
    breaks(
        &b,
        RuleId::R29,
        Culprit::OsModel,
        &[stop, queued, delivered],
    );

    // Dropped with a success status.
    let mut b = Builder::default();
    b.open_session();
    b.enter(OS, Ddi::StopMiracastSession, none());
    b.event(OS2, EventKind::MessageQueued { id: 4, held: false });
    let dropped = b.event(
        OS2,
        EventKind::MessageDropped {
            id: 4,
            status: NtStatus::STATUS_SUCCESS,
        },
    );
    b.leave(OS, Ddi::StopMiracastSession, None);
    breaks(&b, RuleId::R29, Culprit::OsModel, &[dropped]);

    // Dropped, but the completion routine never runs.
    let mut b = Builder::default();
    b.open_session();
    b.enter(OS, Ddi::StopMiracastSession, none());
    b.call(
        OS2,
        Ddi::DxgkCbMiracastSendMessage,
        send(4, true),
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
    breaks(&b, RuleId::R29, Culprit::OsModel, &[dropped]);
    // With its completion (an error), the rule holds.
    b.call(
        OS2,
        Ddi::DxgkCbMiracastSendMessageCallback,
        completion(4, NtStatus::STATUS_CANCELLED),
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
        completion(4, NtStatus::STATUS_SUCCESS),
        None,
    );
    breaks(&b2, RuleId::R29, Culprit::OsModel, &[dropped, completion]);
}

#[test]
fn r29_a_message_sent_after_stop_still_gets_its_completion() {
    let mut b = Builder::default();
    b.open_session();
    b.enter(OS, Ddi::StopMiracastSession, none());
    b.call(
        OS2,
        Ddi::DxgkCbMiracastSendMessage,
        send(5, true),
        Some(NtStatus::STATUS_PENDING),
    );
    let queued = b.event(OS2, EventKind::MessageQueued { id: 5, held: false });
    b.leave(OS, Ddi::StopMiracastSession, None);
    let v = breaks(&b, RuleId::R29, Culprit::OsModel, &[queued]);
    assert!(v.finding.contains("never ran"), "{v}");
}

#[test]
fn r32_no_umd_send_after_stop() {
    let mut b = Builder::default();
    b.open_session();
    b.event(
        UMD,
        EventKind::Sink {
            what: wire("umd-send"),
        },
    );
    let stop = b.call(OS, Ddi::StopMiracastSession, none(), None);
    b.event(
        UMD,
        EventKind::Sink {
            what: wire("umd-recv"),
        },
    );
    b.event(
        UMD,
        EventKind::Sink {
            what: wire("umd-close"),
        },
    );
    keeps(&b);
    let send = b.event(
        UMD,
        EventKind::Sink {
            what: wire("umd-send after-stop"),
        },
    );
    b.event(
        UMD,
        EventKind::Sink {
            what: wire("umd-send after-stop"),
        },
    );
    // The Leave of StopMiracastSession directly follows its Enter in this trace.
    breaks(&b, RuleId::R32, Culprit::Umd, &[stop + 1, send]);
}

#[test]
fn r37_serialized_umd_functions_never_overlap() {
    let mut b = Builder::default();
    b.threads();
    b.call(OS, Ddi::DxgkDdiMiracastCreateContext, none(), OK);
    b.call(OS, Ddi::CreateMiracastContext, none(), OK);
    let start = b.enter(OS, Ddi::StartMiracastSession, none());
    let stop = b.enter(OS2, Ddi::StopMiracastSession, none());
    b.leave(OS, Ddi::StartMiracastSession, OK);
    b.leave(OS2, Ddi::StopMiracastSession, None);
    b.call(OS, Ddi::DestroyMiracastContext, none(), None);
    b.call(OS, Ddi::DxgkDdiMiracastDestroyContext, none(), None);
    breaks(&b, RuleId::R37, Culprit::OsModel, &[start, stop]);
}

#[test]
fn r38_create_start_stop_destroy_in_order() {
    let mut b = Builder::default();
    b.open_session();
    b.close_session();
    // A failed start may be followed straight by destroy.
    b.call(OS, Ddi::DxgkDdiMiracastCreateContext, none(), OK);
    b.call(OS, Ddi::CreateMiracastContext, none(), OK);
    b.call(
        OS,
        Ddi::StartMiracastSession,
        none(),
        Some(NtStatus::STATUS_DEVICE_INSUFFICIENT_RESOURCES),
    );
    b.call(OS, Ddi::DestroyMiracastContext, none(), None);
    b.call(OS, Ddi::DxgkDdiMiracastDestroyContext, none(), None);
    keeps(&b);

    let mut b = Builder::default();
    b.open_session();
    let start = b.events.len() as u32 - 2;
    let destroy = b.call(OS, Ddi::DestroyMiracastContext, none(), None);
    let v = breaks(&b, RuleId::R38, Culprit::OsModel, &[start, destroy]);
    assert!(v.finding.contains("without StopMiracastSession"), "{v}");
}

#[test]
fn r42_io_control_during_start() {
    // Another thread's IOCTL reaches the KMD while Start runs.
    let mut b = Builder::default();
    b.threads();
    b.call(OS, Ddi::DxgkDdiMiracastCreateContext, none(), OK);
    b.call(OS, Ddi::CreateMiracastContext, none(), OK);
    let start = b.enter(OS, Ddi::StartMiracastSession, none());
    let m = b.enter(UMD2, Ddi::MiracastIoControl, io(false, None));
    let k = b.call(UMD2, Ddi::DxgkDdiMiracastIoControl, io(false, None), OK);
    b.leave(UMD2, Ddi::MiracastIoControl, OK);
    b.leave(OS, Ddi::StartMiracastSession, OK);
    b.close_session();
    breaks(&b, RuleId::R42, Culprit::OsModel, &[start, m, k]);

    // The Start thread's own IOCTL is processed at once.
    let mut b = Builder::default();
    b.threads();
    b.call(OS, Ddi::DxgkDdiMiracastCreateContext, none(), OK);
    b.call(OS, Ddi::CreateMiracastContext, none(), OK);
    let start = b.enter(OS, Ddi::StartMiracastSession, none());
    b.enter(OS, Ddi::MiracastIoControl, io(false, None));
    b.call(OS, Ddi::DxgkDdiMiracastIoControl, io(false, None), OK);
    b.leave(OS, Ddi::MiracastIoControl, OK);
    b.leave(OS, Ddi::StartMiracastSession, OK);
    b.close_session();
    keeps(&b);

    // ... and never left hanging.
    let mut b = Builder::default();
    b.threads();
    b.call(OS, Ddi::DxgkDdiMiracastCreateContext, none(), OK);
    b.call(OS, Ddi::CreateMiracastContext, none(), OK);
    assert_eq!(b.enter(OS, Ddi::StartMiracastSession, none()), start);
    let m = b.enter(OS, Ddi::MiracastIoControl, io(false, None));
    breaks(&b, RuleId::R42, Culprit::OsModel, &[start, m]);
}

#[test]
fn r43_monitor_arrival_requested_after_start_returns() {
    let mut b = Builder::default();
    b.threads();
    b.call(OS, Ddi::DxgkDdiMiracastCreateContext, none(), OK);
    b.call(OS, Ddi::CreateMiracastContext, none(), OK);
    let start = b.enter(OS, Ddi::StartMiracastSession, none());
    let m = b.monitor_arrives(OS);
    b.leave(OS, Ddi::StartMiracastSession, OK);
    b.close_session();
    let v = breaks(&b, RuleId::R43, Culprit::Umd, &[start, m]);
    assert_eq!(v.rule.rule().severity, Severity::Warning);
}

#[test]
fn r44_io_control_during_stop() {
    let mut b = Builder::default();
    b.open_session();
    let stop = b.enter(OS, Ddi::StopMiracastSession, none());
    let m = b.call(UMD2, Ddi::MiracastIoControl, io(false, None), OK);
    b.leave(OS, Ddi::StopMiracastSession, None);
    b.call(OS, Ddi::DestroyMiracastContext, none(), None);
    b.call(OS, Ddi::DxgkDdiMiracastDestroyContext, none(), None);
    breaks(&b, RuleId::R44, Culprit::OsModel, &[stop, m, m + 1]);

    // From the thread running DestroyMiracastContext it is processed, and must return.
    let mut b = Builder::default();
    b.open_session();
    b.call(OS, Ddi::StopMiracastSession, none(), None);
    let destroy = b.enter(OS, Ddi::DestroyMiracastContext, none());
    let m = b.enter(
        OS,
        Ddi::MiracastIoControl,
        io(false, Some(IoctlMeaning::MonitorDeparted)),
    );
    breaks(&b, RuleId::R44, Culprit::OsModel, &[destroy, m]);
}

#[test]
fn r47_session_status_tears_the_session_down() {
    let mut b = Builder::default();
    b.open_session();
    let report = b.call(
        UMD,
        Ddi::ReportSessionStatus,
        session_status(MiracastStatus::CriticalError, NtStatus::STATUS_UNSUCCESSFUL),
        None,
    );
    b.call(
        UMD,
        Ddi::ReportSessionStatus,
        session_status(MiracastStatus::CriticalError, NtStatus::STATUS_UNSUCCESSFUL),
        None,
    );
    let stop = b.call(OS, Ddi::StopMiracastSession, none(), None);
    let destroy = b.call(OS, Ddi::DestroyMiracastContext, none(), None);
    breaks(&b, RuleId::R47, Culprit::OsModel, &[report, stop, destroy]);
    b.call(OS, Ddi::DxgkDdiMiracastDestroyContext, none(), None);
    keeps(&b);
}

#[test]
fn r48_report_statistic_only_logs() {
    let mut b = Builder::default();
    b.open_session();
    b.call(UMD, Ddi::ReportStatistic, none(), None);
    b.close_session();
    keeps(&b);

    let mut b = Builder::default();
    b.open_session();
    let rs = b.enter(UMD, Ddi::ReportStatistic, none());
    let phase = b.event(
        UMD,
        EventKind::Phase {
            from: SessionPhase::Started,
            to: SessionPhase::StopPending,
        },
    );
    b.leave(UMD, Ddi::ReportStatistic, None);
    b.close_session();
    breaks(&b, RuleId::R48, Culprit::OsModel, &[rs, phase]);
}

#[test]
fn r50_data_rate_notifications() {
    let registered = |b: &mut Builder| {
        b.open_session();
        b.call(
            OS,
            Ddi::RegisterForDataRateNotifications,
            CallArgs::RegisterDataRate { register: true },
            OK,
        );
    };
    // About once a second, within the tolerance.
    let mut b = Builder::default();
    registered(&mut b);
    b.at_ms(1000);
    let first = b.call(
        9,
        Ddi::PfnDataRateNotify,
        CallArgs::DataRateNotify { stats: true },
        None,
    );
    b.at_ms(2090);
    b.call(
        9,
        Ddi::PfnDataRateNotify,
        CallArgs::DataRateNotify { stats: true },
        None,
    );
    b.at_ms(2100);
    b.call(
        9,
        Ddi::PfnDataRateNotify,
        CallArgs::DataRateNotify { stats: false },
        None,
    );
    keeps(&b);
    // Nothing after the NULL-stats call.
    b.at_ms(3100);
    let late = b.call(
        9,
        Ddi::PfnDataRateNotify,
        CallArgs::DataRateNotify { stats: true },
        None,
    );
    breaks(&b, RuleId::R50, Culprit::OsModel, &[late - 2, late]);

    // Too far apart.
    let mut b = Builder::default();
    registered(&mut b);
    b.at_ms(1000);
    assert_eq!(
        b.call(
            9,
            Ddi::PfnDataRateNotify,
            CallArgs::DataRateNotify { stats: true },
            None
        ),
        first
    );
    b.at_ms(2500);
    let second = b.call(
        9,
        Ddi::PfnDataRateNotify,
        CallArgs::DataRateNotify { stats: true },
        None,
    );
    let v = breaks(&b, RuleId::R50, Culprit::OsModel, &[first, second]);
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
        CallArgs::RegisterDataRate { register: false },
        OK,
    ) + 1;
    b.at_ms(1000);
    let late = b.call(
        9,
        Ddi::PfnDataRateNotify,
        CallArgs::DataRateNotify { stats: true },
        None,
    );
    breaks(&b, RuleId::R50, Culprit::OsModel, &[unregister, late]);
}

#[test]
fn r55_one_chunk_reader_at_a_time() {
    let args = chunk_args(u32::MAX, 0, 65536);
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
        Some(NtStatus::STATUS_BUFFER_TOO_SMALL),
    );
    b.leave(UMD, Ddi::GetNextChunkData, OK);
    b.close_session();
    let v = breaks(&b, RuleId::R55, Culprit::Umd, &[first, second]);
    assert_eq!(v.rule.rule().severity, Severity::Warning);
}

#[test]
fn r67_miracast_class_calls_never_overlap() {
    let mut b = Builder::default();
    b.open_session();
    let hw = io(true, None);
    // A HardwareAccess IOCTL is Level 3, not of the class: it may not overlap anything (R24),
    // so keep it alone; two class calls in sequence are fine.
    b.call(UMD, Ddi::DxgkDdiMiracastIoControl, hw, OK);
    b.call(UMD, Ddi::DxgkDdiMiracastIoControl, io(false, None), OK);
    b.call(UMD2, Ddi::DxgkDdiMiracastIoControl, io(false, None), OK);
    b.close_session();
    keeps(&b);

    let mut b = Builder::default();
    b.open_session();
    let first = b.enter(UMD, Ddi::DxgkDdiMiracastIoControl, io(false, None));
    let second = b.call(UMD2, Ddi::DxgkDdiMiracastIoControl, io(false, None), OK);
    b.leave(UMD, Ddi::DxgkDdiMiracastIoControl, OK);
    b.close_session();
    breaks(&b, RuleId::R67, Culprit::OsModel, &[first, second]);
}

#[test]
fn findings_name_threads_and_are_capped_per_rule() {
    // A hung Miracast-class call overlaps every later one.
    let mut b = Builder::default();
    b.threads();
    b.enter(UMD, Ddi::DxgkDdiMiracastIoControl, io(false, None));
    for _ in 0..40 {
        b.call(UMD2, Ddi::DxgkDdiMiracastIoControl, io(false, None), OK);
    }
    let found = check(&b);
    assert_eq!(
        found.len(),
        trace_checks::MAX_FINDINGS_PER_RULE + 1,
        "{}",
        show(&found)
    );
    assert!(found.iter().all(|v| v.rule == RuleId::R67));
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

fn arb_args() -> impl Strategy<Value = CallArgs> {
    prop_oneof![
        Just(CallArgs::None),
        any::<bool>().prop_map(|hw| io(hw, None)),
        Just(io(false, Some(IoctlMeaning::MonitorArrived))),
        Just(io(false, Some(IoctlMeaning::MonitorDeparted))),
        any::<bool>().prop_map(miracast),
        Just(query_status()),
        any::<bool>().prop_map(|off| commit(7, off)),
        (0u64..4, any::<bool>()).prop_map(|(id, cb)| send(id, cb)),
        (0u64..4).prop_map(|id| completion(id, NtStatus::STATUS_SUCCESS)),
        Just(handled(u64::MAX)),
        any::<bool>().prop_map(|stats| CallArgs::DataRateNotify { stats }),
        any::<bool>().prop_map(|register| CallArgs::RegisterDataRate { register }),
        Just(session_status(MiracastStatus::CriticalError, NtStatus(-1))),
        (any::<u32>(), 0u32..6, any::<u32>()).prop_map(|(t, e, b)| chunk_args(t, e, b)),
        Just(CallArgs::Context {
            context: Handle(0x10)
        }),
    ]
}

fn arb_out() -> impl Strategy<Value = CallOut> {
    prop_oneof![
        Just(CallOut::None),
        any::<bool>().prop_map(answered),
        (any::<u32>(), 0u32..3).prop_map(|(size, n)| chunks_out(size, n)),
        any::<u32>().prop_map(|b| CallOut::BytesReturned { bytes_returned: b }),
    ]
}

fn arb_kind() -> impl Strategy<Value = EventKind> {
    let ddi = prop::sample::select(Ddi::ALL.to_vec());
    let status = prop::option::of(prop::sample::select(vec![
        NtStatus::STATUS_SUCCESS,
        NtStatus::STATUS_PENDING,
        NtStatus::STATUS_CANCELLED,
        NtStatus::STATUS_TIMEOUT,
        NtStatus(2),
        NtStatus(-1),
    ]));
    prop_oneof![
        (ddi.clone(), arb_args()).prop_map(|(ddi, args)| EventKind::Enter { ddi, args }),
        (ddi, status.clone(), arb_out()).prop_map(|(ddi, status, out)| EventKind::Leave {
            ddi,
            status,
            out
        }),
        (0u64..4, any::<bool>()).prop_map(|(id, held)| EventKind::MessageQueued { id, held }),
        (0u64..4).prop_map(|id| EventKind::MessageDelivered { id }),
        (0u64..4).prop_map(|id| EventKind::MessageDropped {
            id,
            status: NtStatus::STATUS_SUCCESS
        }),
        (0u64..4).prop_map(|id| EventKind::BufferUseAfterRelease { id }),
        prop::sample::select(vec![
            "umd-send",
            "umd-recv",
            "umd-close",
            "umd-send after-stop"
        ])
        .prop_map(|w| EventKind::Sink { what: wire(w) }),
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
            prop_assert!((1..=74).contains(&v.rule.number()));
            prop_assert!(v.check.may_report(v.rule));
            prop_assert!(v.events.iter().all(|s| seqs.contains(s)));
            prop_assert!(!v.to_string().is_empty());
        }
    }
}

#[test]
fn r22_one_miracast_context_at_a_time() {
    let mut b = Builder::default();
    b.call(OS, Ddi::DxgkDdiMiracastCreateContext, none(), OK);
    b.call(OS, Ddi::DxgkDdiMiracastDestroyContext, none(), None);
    let live = b.call(OS, Ddi::DxgkDdiMiracastCreateContext, none(), OK);
    keeps(&b);
    // Asking again is the fault, whatever the KMD answers.
    let second = b.call(
        OS,
        Ddi::DxgkDdiMiracastCreateContext,
        none(),
        Some(NtStatus::STATUS_RESOURCE_IN_USE),
    );
    breaks(&b, RuleId::R22, Culprit::OsModel, &[live, second]);
}

#[test]
fn r25_accepted_messages_are_pending() {
    let mut b = Builder::default();
    b.call(
        MSG,
        Ddi::DxgkCbMiracastSendMessage,
        send(1, true),
        Some(NtStatus::STATUS_PENDING),
    );
    keeps(&b);
    let send = b.call(
        MSG,
        Ddi::DxgkCbMiracastSendMessage,
        send(2, true),
        Some(NtStatus::STATUS_SUCCESS),
    );
    breaks(&b, RuleId::R25, Culprit::OsModel, &[send, send + 1]);
}

#[test]
fn r54_success_carries_chunk_data() {
    let mut b = Builder::default();
    b.enter(UMD, Ddi::GetNextChunkData, chunk_args(0, 1, 64));
    b.leave_out(UMD, Ddi::GetNextChunkData, OK, chunks_out(0, 0));
    b.enter(UMD, Ddi::GetNextChunkData, chunk_args(0, 0, 64));
    b.leave_out(UMD, Ddi::GetNextChunkData, OK, chunks_out(40, 1));
    keeps(&b);
    let enter = b.enter(UMD, Ddi::GetNextChunkData, chunk_args(0, 0, 64));
    b.leave_out(UMD, Ddi::GetNextChunkData, OK, chunks_out(0, 0));
    breaks(&b, RuleId::R54, Culprit::OsModel, &[enter, enter + 1]);
}

#[test]
fn r70_pageable_ddis_run_at_passive_level() {
    let mut b = Builder::default();
    b.call(OS, Ddi::DxgkDdiCreateContext, none(), OK);
    keeps(&b);
    let isr = b.enter(OS, Ddi::DxgkDdiInterruptRoutine, none());
    let create = b.call(OS, Ddi::DxgkDdiCreateContext, none(), OK);
    b.leave(OS, Ddi::DxgkDdiInterruptRoutine, None);
    breaks(&b, RuleId::R70, Culprit::OsModel, &[isr, create]);
}

#[test]
fn r11_monitor_arrived_ioctl_is_reported() {
    let arrived = io(false, Some(IoctlMeaning::MonitorArrived));
    let connected = miracast(true);
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
        io(false, Some(IoctlMeaning::Other("QUERY_STATUS"))),
        OK,
    );
    b.call(UMD, Ddi::DxgkCbIndicateChildStatus, connected, OK);
    breaks(&b, RuleId::R11, Culprit::Kmd, &[ioctl, left]);
}

#[test]
fn r13_no_departure_request_in_stop_unless_the_sink_said_so() {
    let departed = io(false, Some(IoctlMeaning::MonitorDeparted));
    let mut b = Builder::default();
    b.open_session();
    b.event(
        OS,
        EventKind::Sink {
            what: SinkActivity::Action {
                action: SinkAction::MonitorDeparts,
            },
        },
    );
    b.enter(OS, Ddi::StopMiracastSession, none());
    b.call(OS, Ddi::MiracastIoControl, departed, OK);
    b.leave(OS, Ddi::StopMiracastSession, None);
    keeps(&b);
    b.call(OS, Ddi::StartMiracastSession, none(), OK);
    let stop = b.enter(OS, Ddi::StopMiracastSession, none());
    let ioctl = b.call(OS, Ddi::MiracastIoControl, departed, OK);
    b.leave(OS, Ddi::StopMiracastSession, None);
    breaks(&b, RuleId::R13, Culprit::Umd, &[stop, ioctl]);
}

#[test]
fn r53_a_connection_reset_is_followed_by_an_iframe_request() {
    let reset = Some(NtStatus::STATUS_CONNECTION_RESET);
    let mut b = Builder::default();
    b.open_session();
    b.call(UMD, Ddi::GetNextChunkData, chunk_args(0, 0, 64), reset);
    b.call(
        UMD,
        Ddi::MiracastIoControl,
        io(false, Some(IoctlMeaning::RequestIframe)),
        OK,
    );
    b.enter(UMD, Ddi::GetNextChunkData, chunk_args(0, 0, 64));
    b.leave_out(UMD, Ddi::GetNextChunkData, OK, chunks_out(40, 1));
    b.close_session();
    keeps(&b);

    let mut b = Builder::default();
    b.open_session();
    let first = b.enter(UMD, Ddi::GetNextChunkData, chunk_args(0, 0, 64));
    let left = b.leave(UMD, Ddi::GetNextChunkData, reset);
    let again = b.enter(UMD, Ddi::GetNextChunkData, chunk_args(0, 0, 64));
    b.leave_out(UMD, Ddi::GetNextChunkData, OK, chunks_out(40, 1));
    b.close_session();
    assert!(first < left);
    breaks(&b, RuleId::R53, Culprit::Umd, &[left, again]);
}

fn chunk_sent(frame: u64) -> CallArgs {
    use miracast_sim::ddi::{ChunkId, StatisticData};
    CallArgs::ReportStatistic(StatisticData::ChunkSent(
        ChunkId::new(frame, 0).expect("in range"),
    ))
}

fn chunks_with(frames: &[u64]) -> CallOut {
    use miracast_sim::ddi::ChunkId;
    CallOut::Chunks {
        size: 40 * frames.len() as u32,
        outstanding: 0,
        chunks: frames.len() as u32,
        ids: frames
            .iter()
            .map(|f| ChunkId::new(*f, 0).expect("in range"))
            .collect(),
    }
}

#[test]
fn r59_chunk_sent_once_per_received_chunk() {
    let mut b = Builder::default();
    b.open_session();
    b.enter(UMD, Ddi::GetNextChunkData, chunk_args(0, 0, 4096));
    b.leave_out(UMD, Ddi::GetNextChunkData, OK, chunks_with(&[1, 2]));
    b.call(UMD, Ddi::ReportStatistic, chunk_sent(1), None);
    b.call(UMD, Ddi::ReportStatistic, chunk_sent(2), None);
    b.close_session();
    keeps(&b);

    // Announced twice for one record.
    let mut b = Builder::default();
    b.open_session();
    b.enter(UMD, Ddi::GetNextChunkData, chunk_args(0, 0, 4096));
    b.leave_out(UMD, Ddi::GetNextChunkData, OK, chunks_with(&[1]));
    let first = b.call(UMD, Ddi::ReportStatistic, chunk_sent(1), None);
    let second = b.call(UMD, Ddi::ReportStatistic, chunk_sent(1), None);
    b.close_session();
    breaks(&b, RuleId::R59, Culprit::Umd, &[first, second]);

    // Announced for a chunk never received.
    let mut b = Builder::default();
    b.open_session();
    let never = b.call(UMD, Ddi::ReportStatistic, chunk_sent(9), None);
    b.close_session();
    breaks(&b, RuleId::R59, Culprit::Umd, &[never]);
}

#[test]
fn r62_the_chosen_mode_fits_the_suggested_bit_rate() {
    let start = |b: &mut Builder, rate: u64| {
        b.threads();
        b.call(OS, Ddi::DxgkDdiMiracastCreateContext, none(), OK);
        b.call(OS, Ddi::CreateMiracastContext, none(), OK);
        let s = b.enter(
            OS,
            Ddi::StartMiracastSession,
            CallArgs::StartSession {
                socket: 5,
                current_bit_rate: rate,
                local_max: rate,
                remote_max: rate,
            },
        );
        let m4 = b.event(
            UMD,
            EventKind::Sink {
                what: SinkActivity::Configured {
                    mode: Some("1920x1080p30".to_owned()),
                    required_bitrate: Some(8_709_120),
                },
            },
        );
        b.leave(OS, Ddi::StartMiracastSession, OK);
        (s, m4)
    };
    let mut b = Builder::default();
    start(&mut b, 20_000_000);
    b.close_session();
    keeps(&b);

    let mut b = Builder::default();
    let (s, m4) = start(&mut b, 5_000_000);
    b.close_session();
    breaks(&b, RuleId::R62, Culprit::Umd, &[s, m4]);
}

#[test]
fn r73_pending_read_as_a_failure_is_the_kmds_fault() {
    let pending = Some(NtStatus::STATUS_PENDING);
    // Two different messages in one DDI, each accepted: fine.
    let mut b = Builder::default();
    b.open_session();
    b.enter(OS, Ddi::DxgkDdiCommitVidPn, commit(7, true));
    b.call(OS, Ddi::DxgkCbMiracastSendMessage, send(1, true), pending);
    b.call(OS, Ddi::DxgkCbMiracastSendMessage, send(2, true), pending);
    b.leave(OS, Ddi::DxgkDdiCommitVidPn, OK);
    b.close_session();
    let found: Vec<Violation> = check(&b)
        .into_iter()
        .filter(|v| v.rule == RuleId::R73)
        .collect();
    assert!(found.is_empty(), "{}", show(&found));

    // The same message again after its buffers were released: PENDING read as a failure.
    let mut b = Builder::default();
    b.open_session();
    b.enter(OS, Ddi::DxgkDdiEscape, none());
    b.enter(OS, Ddi::DxgkCbMiracastSendMessage, send(1, true));
    let accepted = b.leave(OS, Ddi::DxgkCbMiracastSendMessage, pending);
    b.event(OS, EventKind::BufferUseAfterRelease { id: 1 });
    let again = b.call(OS, Ddi::DxgkCbMiracastSendMessage, send(2, true), pending);
    b.leave(OS, Ddi::DxgkDdiEscape, OK);
    let found: Vec<Violation> = check(&b)
        .into_iter()
        .filter(|v| v.rule == RuleId::R73)
        .collect();
    assert_eq!(found.len(), 1, "{}", show(&found));
    assert_eq!(found[0].culprit, Culprit::Kmd);
    assert_eq!(found[0].events, [accepted, again]);
}

#[test]
fn r54_instance_not_available_once_the_session_goes() {
    let mut b = Builder::default();
    b.open_session();
    b.enter(OS, Ddi::StopMiracastSession, none());
    b.call(
        UMD,
        Ddi::GetNextChunkData,
        chunk_args(0, 0, 64),
        Some(NtStatus::STATUS_INSTANCE_NOT_AVAILABLE),
    );
    b.leave(OS, Ddi::StopMiracastSession, None);
    b.call(OS, Ddi::DestroyMiracastContext, none(), None);
    b.call(OS, Ddi::DxgkDdiMiracastDestroyContext, none(), None);
    keeps(&b);

    let mut b = Builder::default();
    b.open_session();
    b.enter(OS, Ddi::StopMiracastSession, none());
    let call = b.enter(UMD, Ddi::GetNextChunkData, chunk_args(0, 0, 64));
    let left = b.leave(UMD, Ddi::GetNextChunkData, Some(NtStatus::STATUS_TIMEOUT));
    b.leave(OS, Ddi::StopMiracastSession, None);
    b.call(OS, Ddi::DestroyMiracastContext, none(), None);
    b.call(OS, Ddi::DxgkDdiMiracastDestroyContext, none(), None);
    breaks(&b, RuleId::R54, Culprit::OsModel, &[call, left]);

    // An INFINITE wait never times out.
    let mut b = Builder::default();
    b.open_session();
    let call = b.enter(UMD, Ddi::GetNextChunkData, chunk_args(u32::MAX, 0, 64));
    let left = b.leave(UMD, Ddi::GetNextChunkData, Some(NtStatus::STATUS_TIMEOUT));
    b.close_session();
    breaks(&b, RuleId::R54, Culprit::OsModel, &[call, left]);
}
