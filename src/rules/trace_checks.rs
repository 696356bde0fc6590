//! Checks over a finished trace.
//!
//! These hold the OS model (and, for a few rules, the drivers) to the documented ordering
//! contract by reading only the event list: they never trust the model's own phase bookkeeping.
//! Every check is a pure function of the trace and never panics, whatever the events are.
//!
//! Map (rule: what is looked for; who is blamed):
//! - R7: a second `DxgkDdiMiracastQueryCaps` with no `DxgkDdiStartDevice` between; OS model.
//! - R9: a Miracast `connected=true` (indication or `DxgkDdiQueryChildStatus` answer) before
//!   `StartMiracastSession` has returned `STATUS_SUCCESS` for the current KMD context; KMD, or
//!   the UMD when its own early IOCTL made the KMD report it.
//! - R18 / R20: `DxgkDdiMiracastIoControl` after `DxgkDdiMiracastDestroyContext` (R20 when the
//!   destroy came while the UMD context was still alive); OS model.
//! - R21 / R31: during a `DxgkDdiCommitVidPn`, data to the UMD after the KMD learnt of a
//!   disconnect (R21), or a power-off commit of the connected Miracast monitor with no
//!   `DxgkCbMiracastSendMessage` (R31); KMD.
//! - R24 / R68: a Level-3 call overlapping any other KMD DDI on another thread; OS model.
//! - R28 / R29: message holding during start, never during Create/Destroy/Start/Stop, and
//!   dropping after stop with an error completion; OS model.
//! - R32: a UMD network send after `StopMiracastSession` returned; UMD.
//! - R37 / R38: the four serialized UMD functions overlapping or out of order; OS model.
//! - R42 / R44: `MiracastIoControl` gating during start and stop; OS model.
//! - R43: a monitor-arrived IOCTL from inside `StartMiracastSession` (warning); UMD.
//! - R47: `ReportSessionStatus` not followed by the teardown; OS model.
//! - R48: the OS changing state inside `ReportStatistic`; OS model.
//! - R50: data-rate notifications after NULL stats or unregistering, or not about 1 s apart;
//!   OS model.
//! - R55: `GetNextChunkData` on two threads at once (warning); UMD.
//! - R67: two Miracast-class KMD calls overlapping; OS model.
//! - R22: a `DxgkDdiMiracastCreateContext` while a context created before was not destroyed; OS
//!   model.
//! - R25: `DxgkCbMiracastSendMessage` returning `STATUS_SUCCESS` (accepted is exactly
//!   `STATUS_PENDING`); OS model.
//! - R54: `GetNextChunkData` returning success with size 0 and no extra event, or chunks after
//!   a `STATUS_INSTANCE_NOT_AVAILABLE` without a new session; OS model.
//! - R70: a pageable DDI called from interrupt or DPC context; OS model.
//! - R11: a successful `op=MONITOR_ARRIVED` IOCTL not followed by a Miracast `connected=true`
//!   indication before the next Miracast IOCTL or the KMD destroy; KMD.
//! - R13: an `op=MONITOR_DEPARTED` IOCTL from inside `StopMiracastSession` when the sink never
//!   reported the monitor gone (a `Sink` event naming `MonitorDeparts` or `connected: false`); UMD.
//!
//! Event conventions relied on (what the OS model writes):
//! - every call is an `Enter` and a `Leave` on one thread; a call made from inside another
//!   (a callback from inside a DDI) nests between them; overlap across threads is one call's
//!   `Enter` falling between another's `Enter` and `Leave` (a call never left runs to the end);
//! - `DxgkCbIndicateChildStatus` args and `DxgkDdiQueryChildStatus` args or out carry
//!   `type=StatusMiracastConnection child_uid=N connected=true|false`;
//! - `DxgkDdiCommitVidPn` args: `target=N monitor_power_off=true|false`;
//! - `MiracastIoControl` and `DxgkDdiMiracastIoControl` args: `hardware_access=true|false` and,
//!   for the reference protocol, `op=MONITOR_ARRIVED|MONITOR_DEPARTED|...`;
//! - `DxgkCbMiracastSendMessage` args `id=N callback=true|false`; `HandleKernelModeMessage` and
//!   `DxgkCbMiracastSendMessageCallback` args `id=N` (the callback also `status=STATUS_...`);
//!   the same id in `MessageQueued`, `MessageDelivered` and `MessageDropped`;
//! - `ReportSessionStatus` args `status=MIRACAST_STATUS_...`; `PfnDataRateNotify` args
//!   `stats=present|null`; `RegisterForDataRateNotifications` args `register=true|false`;
//! - the UMD's network sends are `Sink` events whose text starts with `umd-send`;
//! - the KMD "learns of a disconnect" (R21, G32) by indicating `connected=false` itself or by
//!   receiving a `DxgkDdiMiracastIoControl` with `op=MONITOR_DEPARTED`.
//!
//! A hung call overlaps everything after it, so one fault can produce hundreds of identical
//! findings; each rule reports at most [`MAX_FINDINGS_PER_RULE`] and then one summary line.

use super::trace_index::{Call, Index, is_error};
use super::{CheckId, Culprit, RuleId, Violation};
use crate::ddi::{Ddi, Direction};
use crate::status::NtStatus;
use crate::trace::{CallArgs, CallOut, EventKind, IoctlMeaning, SinkAction, SinkActivity, Trace};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// The period of `pfnDataRateNotify` calls: "about once per second" (R50).
pub const DATARATE_PERIOD: Duration = Duration::from_secs(1);

/// How far consecutive data-rate notifications may be from [`DATARATE_PERIOD`] by default
/// (the docs say only "about"; this matches the OS model's default `datarate_tolerance_ms`).
pub const DATARATE_TOLERANCE: Duration = Duration::from_millis(100);

/// The most findings one rule contributes before the rest are summarized in one line.
pub const MAX_FINDINGS_PER_RULE: usize = 32;

/// Parameters of the trace checks that a scenario may change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TraceCheckConfig {
    /// Allowed distance of consecutive data-rate notifications from one second (R50).
    pub datarate_tolerance: Duration,
}

impl Default for TraceCheckConfig {
    fn default() -> Self {
        TraceCheckConfig {
            datarate_tolerance: DATARATE_TOLERANCE,
        }
    }
}

/// Every trace-level check, in rule order, with the default parameters.
pub fn check(trace: &Trace) -> Vec<Violation> {
    check_with(trace, &TraceCheckConfig::default())
}

/// Every trace-level check, in rule order.
pub fn check_with(trace: &Trace, config: &TraceCheckConfig) -> Vec<Violation> {
    let ix = Index::new(trace);
    let mut out = Findings {
        found: Vec::new(),
        current: CheckId::QueryCapsOnce,
    };
    for (id, check) in TRACE_CHECKS {
        out.current = *id;
        check(&ix, config, &mut out);
    }
    out.finish()
}

/// One check over the trace.
type TraceCheck = fn(&Index<'_>, &TraceCheckConfig, &mut Findings);

/// Every trace check with its registry id, in the order they run.
const TRACE_CHECKS: &[(CheckId, TraceCheck)] = &[
    (CheckId::QueryCapsOnce, |ix, _, out| {
        query_caps_once(ix, out)
    }),
    (CheckId::TargetDisconnectedUntilStarted, |ix, _, out| {
        target_disconnected_until_started(ix, out)
    }),
    (CheckId::IoControlAfterDestroy, |ix, _, out| {
        no_io_control_after_destroy(ix, out)
    }),
    (CheckId::CommitVidPnMessages, |ix, _, out| {
        commit_vidpn_messages(ix, out)
    }),
    (CheckId::Level3Alone, |ix, _, out| level3_alone(ix, out)),
    (CheckId::MessageHoldingAndDropping, |ix, _, out| {
        message_holding_and_dropping(ix, out)
    }),
    (CheckId::NoSendAfterStop, |ix, _, out| {
        no_send_after_stop(ix, out)
    }),
    (CheckId::UmdSerialization, |ix, _, out| {
        umd_serialization(ix, out)
    }),
    (CheckId::UmdCallOrder, |ix, _, out| umd_call_order(ix, out)),
    (CheckId::IoControlDuringStart, |ix, _, out| {
        io_control_during_start(ix, out)
    }),
    (CheckId::ArrivalAfterStart, |ix, _, out| {
        for m in ix.calls_of(Ddi::MiracastIoControl) {
            monitor_arrival_inside_start(ix, m, out);
        }
    }),
    (CheckId::IoControlDuringStop, |ix, _, out| {
        io_control_during_stop(ix, out)
    }),
    (CheckId::SessionStatusTeardown, |ix, _, out| {
        session_status_teardown(ix, out)
    }),
    (CheckId::StatisticOnlyLogs, |ix, _, out| {
        statistic_only_logs(ix, out)
    }),
    (CheckId::DataRateNotifications, datarate_notifications),
    (CheckId::ChunkReaderAlone, |ix, _, out| {
        chunk_reader_alone(ix, out)
    }),
    (CheckId::MiracastClassAlone, |ix, _, out| {
        miracast_class_alone(ix, out)
    }),
    (CheckId::OneMiracastContext, |ix, _, out| {
        one_miracast_context(ix, out)
    }),
    (CheckId::SendMessagePending, |ix, _, out| {
        send_message_pending(ix, out)
    }),
    (CheckId::ChunkDataOutcomes, |ix, _, out| {
        chunk_data_outcomes(ix, out)
    }),
    (CheckId::PageableAtPassive, |ix, _, out| {
        pageable_at_passive(ix, out)
    }),
    (CheckId::ArrivalReported, |ix, _, out| {
        arrival_reported(ix, out)
    }),
    (CheckId::NoDepartureInStop, |ix, _, out| {
        no_departure_in_stop(ix, out)
    }),
    (CheckId::ChunkStageOrder, |ix, _, out| {
        chunk_stage_order(ix, out)
    }),
    (CheckId::IframeAfterReset, |ix, _, out| {
        iframe_after_reset(ix, out)
    }),
    (CheckId::ModeWithinBandwidth, |ix, _, out| {
        mode_within_bandwidth(ix, out)
    }),
];

/// The registry ids of the checks [`check_with`] runs, for the registry's tests.
pub fn trace_check_ids() -> impl Iterator<Item = CheckId> {
    TRACE_CHECKS.iter().map(|(id, _)| *id)
}

/// The violations found so far, and the check running now.
struct Findings {
    found: Vec<Violation>,
    current: CheckId,
}

impl Findings {
    fn push(
        &mut self,
        ix: &Index<'_>,
        rule: RuleId,
        culprit: Culprit,
        finding: String,
        positions: &[usize],
    ) {
        debug_assert!(
            self.current.may_report(rule),
            "{} reported {rule}, which its registry entry does not list",
            self.current
        );
        let events: BTreeSet<u32> = positions.iter().map(|&p| ix.seq(p)).collect();
        self.found.push(Violation {
            rule,
            check: self.current,
            culprit,
            finding,
            events: events.into_iter().collect(),
        });
    }

    /// Rule order (stable within a rule), at most [`MAX_FINDINGS_PER_RULE`] per rule.
    fn finish(mut self) -> Vec<Violation> {
        self.found.sort_by_key(|v| v.rule);
        let mut out: Vec<Violation> = Vec::with_capacity(self.found.len());
        let mut per_rule: BTreeMap<RuleId, usize> = BTreeMap::new();
        for v in self.found {
            let n = per_rule.entry(v.rule).or_default();
            *n += 1;
            if *n <= MAX_FINDINGS_PER_RULE {
                out.push(v);
            }
        }
        for (rule, n) in per_rule {
            if n > MAX_FINDINGS_PER_RULE {
                let (culprit, check) = out
                    .iter()
                    .rfind(|v| v.rule == rule)
                    .map_or((Culprit::OsModel, CheckId::QueryCapsOnce), |v| {
                        (v.culprit, v.check)
                    });
                let at = out
                    .iter()
                    .rposition(|v| v.rule == rule)
                    .map_or(out.len(), |i| i + 1);
                out.insert(
                    at,
                    Violation {
                        rule,
                        check,
                        culprit,
                        finding: format!(
                            "{} more {rule} violations like the ones above are not listed",
                            n - MAX_FINDINGS_PER_RULE
                        ),
                        events: Vec::new(),
                    },
                );
            }
        }
        out
    }
}

fn is_ddi(e: &EventKind, want: Ddi) -> bool {
    matches!(e, EventKind::Enter { ddi, .. } | EventKind::Leave { ddi, .. } if *ddi == want)
}

fn entered(e: &EventKind, want: Ddi) -> bool {
    matches!(e, EventKind::Enter { ddi, .. } if *ddi == want)
}

fn left(e: &EventKind, want: Ddi) -> bool {
    matches!(e, EventKind::Leave { ddi, .. } if *ddi == want)
}

fn left_with(e: &EventKind, want: Ddi, status: NtStatus) -> bool {
    matches!(e, EventKind::Leave { ddi, status: Some(s), .. } if *ddi == want && *s == status)
}

/// R7: `DxgkDdiMiracastQueryCaps` once per adapter start.
fn query_caps_once(ix: &Index<'_>, out: &mut Findings) {
    let mut first: Option<usize> = None;
    for call in &ix.calls {
        match call.ddi {
            Ddi::DxgkDdiStartDevice => first = None,
            Ddi::DxgkDdiMiracastQueryCaps => match first {
                Some(earlier) => out.push(
                    ix,
                    RuleId::R7,
                    Culprit::OsModel,
                    format!(
                        "the OS called DxgkDdiMiracastQueryCaps again (#{}) after #{} with no DxgkDdiStartDevice between; it is called once per adapter start and its answer is kept",
                        ix.seq(call.enter),
                        ix.seq(earlier)
                    ),
                    &[earlier, call.enter],
                ),
                None => first = Some(call.enter),
            },
            _ => {}
        }
    }
}

/// R9: no Miracast monitor reported before `StartMiracastSession` returned `STATUS_SUCCESS`.
fn target_disconnected_until_started(ix: &Index<'_>, out: &mut Findings) {
    let mut started = false;
    for (pos, e) in ix.events.iter().enumerate() {
        let k = &e.kind;
        if left_with(k, Ddi::StartMiracastSession, NtStatus::STATUS_SUCCESS) {
            started = true;
        } else if entered(k, Ddi::DxgkDdiMiracastCreateContext)
            || entered(k, Ddi::CreateMiracastContext)
            || entered(k, Ddi::StartMiracastSession)
            || left(k, Ddi::DxgkDdiMiracastDestroyContext)
        {
            started = false;
        }
        if started {
            continue;
        }
        // A connected=true indication (its Enter) or QueryChildStatus answer (its Leave).
        let report = match k {
            EventKind::Enter {
                ddi: Ddi::DxgkCbIndicateChildStatus,
                ..
            } => ix.call_entered_at(pos),
            EventKind::Leave {
                ddi: Ddi::DxgkDdiQueryChildStatus,
                ..
            } => ix.call_left_at(pos),
            _ => None,
        };
        let Some(call) =
            report.filter(|c| c.miracast_status().is_some_and(|(_, connected)| connected))
        else {
            continue;
        };
        let how = if call.ddi == Ddi::DxgkCbIndicateChildStatus {
            "indicated a connected Miracast monitor with DxgkCbIndicateChildStatus"
        } else {
            "answered DxgkDdiQueryChildStatus with a connected Miracast monitor"
        };
        // When the KMD only followed the UMD's IOCTL, the IOCTL is the cause.
        let ioctl = ix
            .enclosing(call, Ddi::DxgkDdiMiracastIoControl)
            .and_then(|k| ix.enclosing(k, Ddi::MiracastIoControl));
        match ioctl {
            Some(m) => {
                let during_start = ix
                    .calls_of(Ddi::StartMiracastSession)
                    .any(|s| ix.running_at(s, m.enter));
                // Inside Start on the Start thread is R43; from another thread it is R42.
                if !during_start {
                    out.push(
                        ix,
                        RuleId::R9,
                        Culprit::Umd,
                        format!(
                            "the UMD's MiracastIoControl (#{}) made the KMD report a monitor before StartMiracastSession had returned STATUS_SUCCESS; the Miracast target stays disconnected until a session has started",
                            ix.seq(m.enter)
                        ),
                        &[m.enter, pos],
                    );
                }
            }
            None => out.push(
                ix,
                RuleId::R9,
                Culprit::Kmd,
                format!(
                    "the KMD {how} (#{}) before StartMiracastSession had returned STATUS_SUCCESS; the Miracast target stays disconnected until a session has started",
                    ix.seq(pos)
                ),
                &[call.enter, pos],
            ),
        }
    }
}

/// R18 and R20: no `DxgkDdiMiracastIoControl` after `DxgkDdiMiracastDestroyContext`.
fn no_io_control_after_destroy(ix: &Index<'_>, out: &mut Findings) {
    let mut destroyed: Option<usize> = None;
    let mut early_destroy: Option<usize> = None;
    let mut umd_alive = false;
    for (pos, e) in ix.events.iter().enumerate() {
        let k = &e.kind;
        if entered(k, Ddi::CreateMiracastContext) {
            umd_alive = true;
        } else if left(k, Ddi::DestroyMiracastContext) {
            umd_alive = false;
            early_destroy = None;
        } else if left_with(
            k,
            Ddi::DxgkDdiMiracastCreateContext,
            NtStatus::STATUS_SUCCESS,
        ) {
            destroyed = None;
            early_destroy = None;
        } else if entered(k, Ddi::DxgkDdiMiracastDestroyContext) && umd_alive {
            early_destroy = Some(pos);
        } else if left(k, Ddi::DxgkDdiMiracastDestroyContext) {
            destroyed = Some(pos);
        } else if entered(k, Ddi::DxgkDdiMiracastIoControl) {
            let Some(call) = ix.call_entered_at(pos) else {
                continue;
            };
            let from_umd = ix.enclosing(call, Ddi::MiracastIoControl);
            if let (Some(d), Some(m)) = (early_destroy, from_umd) {
                out.push(
                    ix,
                    RuleId::R20,
                    Culprit::OsModel,
                    format!(
                        "the UMD's MiracastIoControl (#{}, on {}) reached DxgkDdiMiracastIoControl after the OS destroyed the KMD context (#{}) while the UMD context was still alive; from then on the UMD's IOCTLs are blocked",
                        ix.seq(m.enter),
                        ix.thread_label(m.thread),
                        ix.seq(d)
                    ),
                    &[d, m.enter, pos],
                );
            } else if let Some(d) = destroyed {
                out.push(
                    ix,
                    RuleId::R18,
                    Culprit::OsModel,
                    format!(
                        "the OS called DxgkDdiMiracastIoControl (#{}) after DxgkDdiMiracastDestroyContext returned (#{}) with no successful DxgkDdiMiracastCreateContext since",
                        ix.seq(pos),
                        ix.seq(d)
                    ),
                    &[d, pos],
                );
            }
        }
    }
}

/// The point inside `[from, to)` where the KMD learnt that the Miracast monitor or device went
/// away: its own departure indication, or a departure IOCTL it was handed (G32: the docs do
/// not say how it learns; these are the two ways the simulator's KMD can).
fn kmd_learns_disconnect(ix: &Index<'_>, from: usize, to: usize) -> Option<usize> {
    ix.calls
        .iter()
        .filter(|c| c.enter > from && c.enter < to)
        .find_map(|c| match c.ddi {
            Ddi::DxgkCbIndicateChildStatus
                if c.miracast_status().is_some_and(|(_, connected)| !connected) =>
            {
                Some(c.enter)
            }
            Ddi::DxgkDdiMiracastIoControl
                if c.ioctl_op() == Some(IoctlMeaning::MonitorDeparted) =>
            {
                Some(c.enter)
            }
            _ => None,
        })
}

/// R21 and R31: what the KMD sends the UMD during `DxgkDdiCommitVidPn`.
fn commit_vidpn_messages(ix: &Index<'_>, out: &mut Findings) {
    for commit in ix.calls_of(Ddi::DxgkDdiCommitVidPn) {
        let end = commit.end(ix.trace_len());
        // The Miracast monitor's last reported state before the commit.
        let last_status = ix.calls.iter().rev().find(|c| {
            c.ddi == Ddi::DxgkCbIndicateChildStatus
                && c.miracast_status().is_some()
                && c.enter < commit.enter
        });
        let miracast_uid = last_status
            .and_then(|c| c.miracast_status())
            .map(|(uid, _)| uid);
        let (target, power_off) = match commit.args {
            CallArgs::CommitVidPn {
                target,
                monitor_power_off,
            } => (Some(*target), *monitor_power_off),
            _ => (None, false),
        };
        if let (Some(uid), Some(target)) = (miracast_uid, target)
            && uid != target
        {
            continue; // a commit for another target
        }
        let disconnect = kmd_learns_disconnect(ix, commit.enter, end);
        let data_to_umd = |after: usize| -> Option<usize> {
            ix.events
                .iter()
                .enumerate()
                .take(end)
                .skip(after + 1)
                .find(|(_, e)| {
                    entered(&e.kind, Ddi::DxgkCbMiracastSendMessage)
                        || matches!(e.kind, EventKind::ChunkQueued { .. })
                })
                .map(|(p, _)| p)
        };
        if let Some(d) = disconnect
            && let Some(p) = data_to_umd(d)
        {
            let what = if ix
                .events
                .get(p)
                .is_some_and(|e| is_ddi(&e.kind, Ddi::DxgkCbMiracastSendMessage))
            {
                "called DxgkCbMiracastSendMessage"
            } else {
                "queued an encode chunk for the UMD"
            };
            out.push(
                    ix,
                    RuleId::R21,
                    Culprit::Kmd,
                    format!(
                        "the KMD {what} (#{}) after it learnt of the Miracast disconnect (#{}) while DxgkDdiCommitVidPn (#{}) was still running; no data may go to the UMD then",
                        ix.seq(p),
                        ix.seq(d),
                        ix.seq(commit.enter)
                    ),
                    &[commit.enter, d, p],
                );
        }
        let monitor_connected = last_status
            .and_then(|c| c.miracast_status())
            .is_some_and(|(_, connected)| connected);
        if power_off && monitor_connected {
            let Some(leave) = commit.leave else { continue };
            let sent = ix
                .calls_of(Ddi::DxgkCbMiracastSendMessage)
                .any(|s| s.enter > commit.enter && s.enter < leave);
            // A disconnect during the commit forbids the message (R21) instead.
            if !sent && disconnect.is_none() {
                out.push(
                    ix,
                    RuleId::R31,
                    Culprit::Kmd,
                    format!(
                        "DxgkDdiCommitVidPn (#{}) powered off the connected Miracast monitor and returned (#{}) without the KMD calling DxgkCbMiracastSendMessage to tell the UMD",
                        ix.seq(commit.enter),
                        ix.seq(leave)
                    ),
                    &[commit.enter, leave],
                );
            }
        }
    }
}

/// The KMD DDIs that run at Level 3 in the Miracast flow: (rule, call) pairs.
fn level3_rule(call: &Call<'_>) -> Option<RuleId> {
    match call.ddi {
        Ddi::DxgkDdiMiracastIoControl if call.hardware_access() => Some(RuleId::R24),
        Ddi::DxgkDdiMiracastQueryCaps
        | Ddi::DxgkDdiAddDevice
        | Ddi::DxgkDdiStartDevice
        | Ddi::DxgkDdiRemoveDevice
        | Ddi::DxgkDdiQueryChildRelations
        | Ddi::DxgkDdiSetPowerState => Some(RuleId::R68),
        _ => None,
    }
}

/// R24 and R68: a Level-3 call runs with no other KMD DDI on another thread.
///
/// The interrupt and DPC routines are not counted: the synchronization levels do not cover
/// them (they run at raised IRQL and the driver synchronizes with them itself).
fn level3_alone(ix: &Index<'_>, out: &mut Findings) {
    let kmd: Vec<usize> = (0..ix.calls.len())
        .filter(|&i| {
            let c = &ix.calls[i];
            c.is_kmd_ddi()
                && !matches!(c.ddi, Ddi::DxgkDdiInterruptRoutine | Ddi::DxgkDdiDpcRoutine)
        })
        .collect();
    for &l in &kmd {
        let level3 = &ix.calls[l];
        let Some(rule) = level3_rule(level3) else {
            continue;
        };
        for &o in &kmd {
            let other = &ix.calls[o];
            // A pair of Level-3 calls is reported once, by the earlier one.
            if o == l || other.thread == level3.thread || (level3_rule(other).is_some() && o < l) {
                continue;
            }
            if !ix.overlap(level3, other) {
                continue;
            }
            let what = if rule == RuleId::R24 {
                format!(
                    "DxgkDdiMiracastIoControl with HardwareAccess TRUE (#{})",
                    ix.seq(level3.enter)
                )
            } else {
                format!("{} (#{})", level3.ddi, ix.seq(level3.enter))
            };
            out.push(
                ix,
                rule,
                Culprit::OsModel,
                format!(
                    "{what} on {} overlapped {} (#{}) on {}; a Level-3 call runs with no other thread in the KMD",
                    ix.thread_label(level3.thread),
                    other.ddi,
                    ix.seq(other.enter),
                    ix.thread_label(other.thread)
                ),
                &[level3.enter, other.enter],
            );
        }
    }
}

/// How a kernel-to-user message was classified when it was queued.
#[derive(Clone, Copy, PartialEq, Eq)]
enum MessageClass {
    /// Queued before `StartMiracastSession` returned: held until it does (R28).
    Held,
    /// Queued once `StopMiracastSession` had been called (the position): dropped (R29).
    AfterStop(usize),
    /// Queued during a started session.
    Free,
}

/// R28 and R29: holding, delivery and dropping of kernel-to-user messages.
fn message_holding_and_dropping(ix: &Index<'_>, out: &mut Findings) {
    // HandleKernelModeMessage never overlaps the four serialized UMD functions.
    let selected: Vec<usize> = (0..ix.calls.len())
        .filter(|&i| {
            let d = ix.calls[i].ddi;
            d == Ddi::HandleKernelModeMessage || d.is_umd_serialized()
        })
        .collect();
    for (a, b) in ix.overlapping_pairs(&selected, false) {
        let (a, b) = (&ix.calls[a], &ix.calls[b]);
        let (handler, other) = match (a.ddi, b.ddi) {
            (Ddi::HandleKernelModeMessage, d) if d.is_umd_serialized() => (a, b),
            (d, Ddi::HandleKernelModeMessage) if d.is_umd_serialized() => (b, a),
            _ => continue,
        };
        out.push(
            ix,
            RuleId::R28,
            Culprit::OsModel,
            format!(
                "HandleKernelModeMessage (#{}, on {}) ran while {} (#{}, on {}) was running; the OS never delivers a message during CreateMiracastContext, DestroyMiracastContext, StartMiracastSession or StopMiracastSession",
                ix.seq(handler.enter),
                ix.thread_label(handler.thread),
                other.ddi,
                ix.seq(other.enter),
                ix.thread_label(other.thread)
            ),
            &[a.enter, b.enter],
        );
    }

    // Classify messages when queued, judge them when delivered.
    let mut start_returned = false;
    let mut stop_begun: Option<usize> = None;
    let mut messages: BTreeMap<u64, (usize, MessageClass)> = BTreeMap::new();
    let mut delivered: BTreeSet<u64> = BTreeSet::new();
    for (pos, e) in ix.events.iter().enumerate() {
        let k = &e.kind;
        if entered(k, Ddi::DxgkDdiMiracastCreateContext)
            || entered(k, Ddi::CreateMiracastContext)
            || entered(k, Ddi::StartMiracastSession)
        {
            start_returned = false;
            stop_begun = None;
        } else if left(k, Ddi::StartMiracastSession) {
            start_returned = true;
            for (_, class) in messages.values_mut() {
                if *class == MessageClass::Held {
                    *class = MessageClass::Free;
                }
            }
        } else if entered(k, Ddi::StopMiracastSession) {
            stop_begun.get_or_insert(pos);
        }
        let delivery = match k {
            EventKind::MessageQueued { id, .. } => {
                let class = match stop_begun {
                    Some(stop) => MessageClass::AfterStop(stop),
                    None if !start_returned => MessageClass::Held,
                    None => MessageClass::Free,
                };
                messages.entry(*id).or_insert((pos, class));
                None
            }
            EventKind::MessageDelivered { id } => Some(*id),
            EventKind::Enter {
                ddi: Ddi::HandleKernelModeMessage,
                args: CallArgs::HandleKernelModeMessage { id, .. },
            } => Some(*id),
            _ => None,
        };
        let Some(id) = delivery else { continue };
        if !delivered.insert(id) {
            continue;
        }
        match messages.get(&id) {
            Some(&(queued, MessageClass::Held)) => out.push(
                ix,
                RuleId::R28,
                Culprit::OsModel,
                format!(
                    "message #{id}, sent by the KMD with DxgkCbMiracastSendMessage before StartMiracastSession returned (#{}), was delivered (#{}) before StartMiracastSession returned",
                    ix.seq(queued),
                    ix.seq(pos)
                ),
                &[queued, pos],
            ),
            Some(&(queued, MessageClass::AfterStop(stop))) => out.push(
                ix,
                RuleId::R29,
                Culprit::OsModel,
                format!(
                    "message #{id}, sent with DxgkCbMiracastSendMessage (#{}) after StopMiracastSession was called (#{}), reached HandleKernelModeMessage (#{}); it must be dropped",
                    ix.seq(queued),
                    ix.seq(stop),
                    ix.seq(pos)
                ),
                &[stop, queued, pos],
            ),
            _ => {}
        }
    }

    // Dropped messages (and messages sent after stop) complete with an error.
    let mut completions: BTreeMap<u64, &Call<'_>> = BTreeMap::new();
    for c in ix.calls_of(Ddi::DxgkCbMiracastSendMessageCallback) {
        if let Some(id) = c.message_id() {
            completions.entry(id).or_insert(c); // the first completion of each message
        }
    }
    let wants_callback: BTreeMap<u64, bool> = ix
        .calls_of(Ddi::DxgkCbMiracastSendMessage)
        .filter_map(|c| match c.args {
            CallArgs::SendMessage { id, callback, .. } => Some((*id, *callback)),
            _ => None,
        })
        .collect();
    let mut dropped: BTreeMap<u64, usize> = BTreeMap::new();
    for (pos, e) in ix.events.iter().enumerate() {
        if let EventKind::MessageDropped { id, status } = &e.kind {
            dropped.entry(*id).or_insert(pos);
            if !is_error(*status) {
                out.push(
                    ix,
                    RuleId::R29,
                    Culprit::OsModel,
                    format!(
                        "message #{id} was dropped (#{}) with completion status {status}, which is not an error; a dropped message's completion routine must get an error",
                        ix.seq(pos)
                    ),
                    &[pos],
                );
            }
        }
    }
    let after_stop = messages
        .iter()
        .filter(|(id, (_, class))| {
            matches!(class, MessageClass::AfterStop(_)) && !delivered.contains(id)
        })
        .map(|(id, (queued, _))| (*id, *queued));
    // A dropped message is judged at its drop; one sent after stop and never dropped, at its
    // queueing.
    let mut must_fail: BTreeMap<u64, usize> = dropped.clone();
    for (id, queued) in after_stop {
        must_fail.entry(id).or_insert(queued);
    }
    for (id, pos) in must_fail {
        let what = if dropped.contains_key(&id) {
            "was dropped"
        } else {
            "was sent after StopMiracastSession was called"
        };
        if wants_callback.get(&id) != Some(&true) {
            continue; // no completion routine to call (G14/G15)
        }
        match completions.get(&id) {
            None => out.push(
                ix,
                RuleId::R29,
                Culprit::OsModel,
                format!(
                    "message #{id} {what} (#{}) but the KMD's completion routine (DxgkCbMiracastSendMessageCallback) never ran by the end of the trace; it must get an error",
                    ix.seq(pos)
                ),
                &[pos],
            ),
            Some(c) => {
                let status = match c.args {
                    CallArgs::SendMessageCallback { status, .. } => Some(*status),
                    _ => None,
                };
                let dropped_with_error = ix.events.get(pos).is_some_and(|e| {
                    matches!(e.kind, EventKind::MessageDropped { status, .. } if is_error(status))
                });
                if let Some(status) = status.filter(|s| !is_error(*s)) {
                    // The dropped event's own status was already reported if it was wrong.
                    if dropped_with_error || !dropped.contains_key(&id) {
                        out.push(
                            ix,
                            RuleId::R29,
                            Culprit::OsModel,
                            format!(
                                "message #{id} {what} (#{}) but its completion routine got {status} (#{}), not an error",
                                ix.seq(pos),
                                ix.seq(c.enter)
                            ),
                            &[pos, c.enter],
                        );
                    }
                }
            }
        }
    }
}

/// R32: no UMD network send once `StopMiracastSession` has returned. Stop "stops all
/// communication": when it returns, nothing may go out any more. A send that a UMD thread began
/// while Stop was still running (before the UMD's own Stop code had signalled that thread) is
/// not reported: the OS enters Stop before the UMD can know, so no driver could avoid it.
fn no_send_after_stop(ix: &Index<'_>, out: &mut Findings) {
    let mut stopped: Option<usize> = None;
    let mut reported = false;
    for (pos, e) in ix.events.iter().enumerate() {
        match &e.kind {
            EventKind::Leave {
                ddi: Ddi::StopMiracastSession,
                ..
            } if stopped.is_none() => {
                stopped = Some(pos);
                reported = false;
            }
            EventKind::Enter {
                ddi: Ddi::StartMiracastSession,
                ..
            } => stopped = None,
            EventKind::Sink {
                what: what @ SinkActivity::UmdSend { .. },
            } => {
                if let (Some(s), false) = (stopped, reported) {
                    reported = true;
                    out.push(
                        ix,
                        RuleId::R32,
                        Culprit::Umd,
                        format!(
                            "the UMD sent on the network (#{}: {what}) after StopMiracastSession returned (#{}); Stop must end all communication",
                            ix.seq(pos),
                            ix.seq(s)
                        ),
                        &[s, pos],
                    );
                }
            }
            _ => {}
        }
    }
}

/// R37: the four serialized UMD functions never overlap.
fn umd_serialization(ix: &Index<'_>, out: &mut Findings) {
    let selected: Vec<usize> = (0..ix.calls.len())
        .filter(|&i| ix.calls[i].ddi.is_umd_serialized())
        .collect();
    for (a, b) in ix.overlapping_pairs(&selected, false) {
        let (a, b) = (&ix.calls[a], &ix.calls[b]);
        out.push(
            ix,
            RuleId::R37,
            Culprit::OsModel,
            format!(
                "{} (#{}, on {}) was called while {} (#{}, on {}) was running; the OS runs one of CreateMiracastContext, DestroyMiracastContext, StartMiracastSession and StopMiracastSession at a time",
                b.ddi,
                ix.seq(b.enter),
                ix.thread_label(b.thread),
                a.ddi,
                ix.seq(a.enter),
                ix.thread_label(a.thread)
            ),
            &[a.enter, b.enter],
        );
    }
}

/// The UMD context's life as R38 sees it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum UmdState {
    NoContext,
    /// Created; `true` once a `StartMiracastSession` failed.
    Created(bool),
    Starting,
    Started,
    Stopped,
}

/// R38: Create before Start before Stop before Destroy.
fn umd_call_order(ix: &Index<'_>, out: &mut Findings) {
    use UmdState::*;
    let mut state = NoContext;
    let mut last: Option<usize> = None;
    for (pos, e) in ix.events.iter().enumerate() {
        let ddi = match &e.kind {
            EventKind::Enter { ddi, .. } if ddi.is_umd_serialized() => *ddi,
            EventKind::Leave {
                ddi: Ddi::StartMiracastSession,
                status,
                ..
            } => {
                if state == Starting {
                    state = if *status == Some(NtStatus::STATUS_SUCCESS) {
                        Started
                    } else {
                        Created(true)
                    };
                }
                continue;
            }
            _ => continue,
        };
        // Overlapping calls (state Starting) are R37's to report.
        let (problem, next) = match (ddi, state) {
            (Ddi::CreateMiracastContext, NoContext) => (None, Created(false)),
            (Ddi::CreateMiracastContext, _) => (
                Some("CreateMiracastContext was called while a UMD context already existed"),
                Created(false),
            ),
            (Ddi::StartMiracastSession, Created(_) | Stopped) => (None, Starting),
            (Ddi::StartMiracastSession, NoContext) => (
                Some(
                    "StartMiracastSession was called with no UMD context (no CreateMiracastContext before it)",
                ),
                Starting,
            ),
            (Ddi::StartMiracastSession, Started) => (
                Some(
                    "StartMiracastSession was called for a session that was already started and not stopped",
                ),
                Starting,
            ),
            (Ddi::StopMiracastSession, Started | Starting | Created(true)) => (None, Stopped),
            (Ddi::StopMiracastSession, Created(false)) => (
                Some("StopMiracastSession was called with no StartMiracastSession before it"),
                Stopped,
            ),
            (Ddi::StopMiracastSession, Stopped) => (
                Some("StopMiracastSession was called twice with no StartMiracastSession between"),
                Stopped,
            ),
            (Ddi::StopMiracastSession, NoContext) => (
                Some("StopMiracastSession was called with no UMD context"),
                NoContext,
            ),
            (Ddi::DestroyMiracastContext, Created(_) | Stopped | Starting) => (None, NoContext),
            (Ddi::DestroyMiracastContext, Started) => (
                Some(
                    "DestroyMiracastContext was called for a started session without StopMiracastSession first",
                ),
                NoContext,
            ),
            (Ddi::DestroyMiracastContext, NoContext) => (
                Some("DestroyMiracastContext was called with no UMD context"),
                NoContext,
            ),
            (_, s) => (None, s),
        };
        if let Some(problem) = problem {
            let mut events = vec![pos];
            let earlier = last
                .map(|l| format!(" (previous call #{})", ix.seq(l)))
                .unwrap_or_default();
            events.extend(last);
            out.push(
                ix,
                RuleId::R38,
                Culprit::OsModel,
                format!("{problem} (#{}){earlier}", ix.seq(pos)),
                &events,
            );
        }
        state = next;
        last = Some(pos);
    }
}

/// R42: `MiracastIoControl` while the OS starts a session. The rule is about IOCTLs *issued*
/// while Start runs: one issued before Start began went through the OS's gate already and may
/// reach the KMD during Start (exploration found that ordering).
fn io_control_during_start(ix: &Index<'_>, out: &mut Findings) {
    for m in ix.calls_of(Ddi::MiracastIoControl) {
        if let Some(k) = ix.nested(m, Ddi::DxgkDdiMiracastIoControl).next()
            && let Some(s) = ix.calls_of(Ddi::StartMiracastSession).find(|s| {
                s.thread != m.thread && ix.running_at(s, m.enter) && ix.running_at(s, k.enter)
            })
        {
            out.push(
                    ix,
                    RuleId::R42,
                    Culprit::OsModel,
                    format!(
                        "a MiracastIoControl from {} (#{}) reached DxgkDdiMiracastIoControl (#{}) while StartMiracastSession (#{}) was running on {}; IOCTLs from other threads wait until Start returns",
                        ix.thread_label(m.thread),
                        ix.seq(m.enter),
                        ix.seq(k.enter),
                        ix.seq(s.enter),
                        ix.thread_label(s.thread)
                    ),
                    &[s.enter, m.enter, k.enter],
                );
        }
        // The UMD's side of R42: a Start that waits for an IOCTL it issued from another of
        // its threads waits for what the OS holds until Start returns. Neither ever returns.
        if m.leave.is_none()
            && let Some(s) = ix
                .calls_of(Ddi::StartMiracastSession)
                .find(|s| s.thread != m.thread && s.leave.is_none() && ix.running_at(s, m.enter))
        {
            out.push(
                ix,
                RuleId::R42,
                Culprit::Umd,
                format!(
                    "StartMiracastSession (#{}) on {} never returned while a MiracastIoControl from {} (#{}), which the OS holds until Start returns, never returned either: Start waits for an IOCTL of its own driver's thread, a deadlock the OS's gating makes certain",
                    ix.seq(s.enter),
                    ix.thread_label(s.thread),
                    ix.thread_label(m.thread),
                    ix.seq(m.enter)
                ),
                &[s.enter, m.enter],
            );
        }
        if m.leave.is_none() {
            let owner = ix
                .enclosing(m, Ddi::StartMiracastSession)
                .or_else(|| ix.enclosing(m, Ddi::CreateMiracastContext));
            if let Some(s) = owner {
                out.push(
                    ix,
                    RuleId::R42,
                    Culprit::OsModel,
                    format!(
                        "the MiracastIoControl issued from inside {} on its own thread {} (#{}) never returned; IOCTLs from that thread are processed at once",
                        s.ddi,
                        ix.thread_label(m.thread),
                        ix.seq(m.enter)
                    ),
                    &[s.enter, m.enter],
                );
            }
        }
    }
}

/// R43: monitor arrival requested from inside `StartMiracastSession` (warning).
fn monitor_arrival_inside_start(ix: &Index<'_>, m: &Call<'_>, out: &mut Findings) {
    if m.ioctl_op() != Some(IoctlMeaning::MonitorArrived) {
        return;
    }
    if let Some(s) = ix.enclosing(m, Ddi::StartMiracastSession) {
        out.push(
            ix,
            RuleId::R43,
            Culprit::Umd,
            format!(
                "the UMD asked the KMD to signal monitor arrival (MiracastIoControl #{}) from inside StartMiracastSession (#{}); it should return from Start first, since kernel-to-user messages cannot be delivered while Start runs",
                ix.seq(m.enter),
                ix.seq(s.enter)
            ),
            &[s.enter, m.enter],
        );
    }
}

/// R44 (and R43, which looks at the same calls): `MiracastIoControl` while the OS stops a
/// session.
fn io_control_during_stop(ix: &Index<'_>, out: &mut Findings) {
    for m in ix.calls_of(Ddi::MiracastIoControl) {
        let exempt = ix.enclosing(m, Ddi::StopMiracastSession).is_some()
            || ix.enclosing(m, Ddi::DestroyMiracastContext).is_some();
        if exempt {
            if m.leave.is_none() {
                let owner = ix
                    .enclosing(m, Ddi::StopMiracastSession)
                    .or_else(|| ix.enclosing(m, Ddi::DestroyMiracastContext));
                if let Some(s) = owner {
                    out.push(
                        ix,
                        RuleId::R44,
                        Culprit::OsModel,
                        format!(
                            "the MiracastIoControl issued from inside {} on its own thread {} (#{}) never returned; IOCTLs from that thread are processed",
                            s.ddi,
                            ix.thread_label(m.thread),
                            ix.seq(m.enter)
                        ),
                        &[s.enter, m.enter],
                    );
                }
            }
            continue;
        }
        let Some(stop) = ix
            .calls_of(Ddi::StopMiracastSession)
            .find(|s| s.thread != m.thread && ix.running_at(s, m.enter))
        else {
            continue;
        };
        let reached = ix.nested(m, Ddi::DxgkDdiMiracastIoControl).next();
        let succeeded = m.status.filter(|s| s.nt_success());
        let (what, mut events) = match (reached, succeeded) {
            (Some(k), _) => (
                format!("reached DxgkDdiMiracastIoControl (#{})", ix.seq(k.enter)),
                vec![k.enter],
            ),
            (None, Some(s)) => (format!("returned {s}"), vec![]),
            (None, None) => continue,
        };
        events.extend([stop.enter, m.enter]);
        events.extend(m.leave);
        out.push(
            ix,
            RuleId::R44,
            Culprit::OsModel,
            format!(
                "a MiracastIoControl from {} (#{}) issued while StopMiracastSession (#{}) was running on {} {what}; IOCTLs from other threads fail during stop",
                ix.thread_label(m.thread),
                ix.seq(m.enter),
                ix.seq(stop.enter),
                ix.thread_label(stop.thread)
            ),
            &events,
        );
    }
}

/// R47: `ReportSessionStatus` during a started session is followed by the teardown.
fn session_status_teardown(ix: &Index<'_>, out: &mut Findings) {
    let first_after =
        |ddi: Ddi, after: usize| ix.calls_of(ddi).map(|c| c.enter).find(|&p| p > after);
    let mut session_open: Option<usize> = None;
    let mut handled_session: Option<usize> = None;
    for (pos, e) in ix.events.iter().enumerate() {
        let k = &e.kind;
        if left_with(k, Ddi::StartMiracastSession, NtStatus::STATUS_SUCCESS) {
            session_open = Some(pos);
        } else if entered(k, Ddi::StopMiracastSession) || entered(k, Ddi::StartMiracastSession) {
            session_open = None;
        }
        if !entered(k, Ddi::ReportSessionStatus) {
            continue;
        }
        let Some(session) = session_open else {
            continue;
        };
        if handled_session == Some(session) {
            continue; // one teardown answers every report of a session
        }
        handled_session = Some(session);
        let status = match ix.call_entered_at(pos).map(|c| c.args) {
            Some(CallArgs::ReportSessionStatus { status, .. }) => status.c_name(),
            _ => "a status",
        };
        let stop = first_after(Ddi::StopMiracastSession, pos);
        let destroy = stop.and_then(|s| first_after(Ddi::DestroyMiracastContext, s));
        let kmd_destroy = destroy.and_then(|d| first_after(Ddi::DxgkDdiMiracastDestroyContext, d));
        let missing = match (stop, destroy, kmd_destroy) {
            (None, _, _) => "StopMiracastSession",
            (Some(_), None, _) => "DestroyMiracastContext after StopMiracastSession",
            (Some(_), Some(_), None) => {
                "DxgkDdiMiracastDestroyContext after DestroyMiracastContext"
            }
            (Some(_), Some(_), Some(_)) => continue,
        };
        let mut events = vec![pos];
        events.extend(stop);
        events.extend(destroy);
        out.push(
            ix,
            RuleId::R47,
            Culprit::OsModel,
            format!(
                "the UMD called ReportSessionStatus ({status}, #{}) during a started session, but the OS never called {missing}; a reported status tears the session down",
                ix.seq(pos)
            ),
            &events,
        );
    }
}

/// R48: the OS changes no state inside `ReportStatistic`.
fn statistic_only_logs(ix: &Index<'_>, out: &mut Findings) {
    for rs in ix.calls_of(Ddi::ReportStatistic) {
        let end = rs.end(ix.trace_len());
        let effect = ix
            .events
            .iter()
            .enumerate()
            .take(end)
            .skip(rs.enter + 1)
            .find(|(_, e)| {
                e.thread == rs.thread
                    && match &e.kind {
                        EventKind::Phase { .. } => true,
                        EventKind::Enter { ddi, .. } => {
                            matches!(ddi.direction(), Direction::OsToKmd | Direction::OsToUmd)
                        }
                        _ => false,
                    }
            });
        if let Some((p, e)) = effect {
            let what = match &e.kind {
                EventKind::Enter { ddi, .. } => format!("called {ddi}"),
                _ => "changed the session phase".to_owned(),
            };
            out.push(
                ix,
                RuleId::R48,
                Culprit::OsModel,
                format!(
                    "inside ReportStatistic (#{}) the OS {what} (#{}); a statistic is only logged and changes no OS state",
                    ix.seq(rs.enter),
                    ix.seq(p)
                ),
                &[rs.enter, p],
            );
        }
    }
}

/// R50: data-rate notifications.
fn datarate_notifications(ix: &Index<'_>, config: &TraceCheckConfig, out: &mut Findings) {
    let low = DATARATE_PERIOD.saturating_sub(config.datarate_tolerance);
    let high = DATARATE_PERIOD.saturating_add(config.datarate_tolerance);
    let mut registered = false;
    let mut unregistered_at: Option<usize> = None;
    let mut null_at: Option<usize> = None;
    let mut previous: Option<usize> = None;
    for (pos, e) in ix.events.iter().enumerate() {
        if let Some(reg) = ix
            .call_left_at(pos)
            .filter(|c| c.ddi == Ddi::RegisterForDataRateNotifications)
        {
            if reg.status == Some(NtStatus::STATUS_SUCCESS) {
                if matches!(reg.args, CallArgs::RegisterDataRate { register: false }) {
                    registered = false;
                    unregistered_at = Some(pos);
                } else {
                    registered = true;
                    unregistered_at = None;
                    null_at = None;
                }
                previous = None;
            }
            continue;
        }
        if !entered(&e.kind, Ddi::PfnDataRateNotify) {
            continue;
        }
        let is_null = ix
            .call_entered_at(pos)
            .is_some_and(|c| matches!(c.args, CallArgs::DataRateNotify { stats: false }));
        let problem = if let Some(n) = null_at {
            Some((
                format!(
                    "after the call with NULL stats (#{}), which is the last one",
                    ix.seq(n)
                ),
                Some(n),
            ))
        } else if let Some(u) = unregistered_at {
            Some((
                format!("after the UMD unregistered (#{})", ix.seq(u)),
                Some(u),
            ))
        } else if !registered {
            Some((
                "without a successful RegisterForDataRateNotifications".to_owned(),
                None,
            ))
        } else {
            None
        };
        if let Some((why, at)) = problem {
            let mut events = vec![pos];
            events.extend(at);
            out.push(
                ix,
                RuleId::R50,
                Culprit::OsModel,
                format!("the OS called pfnDataRateNotify (#{}) {why}", ix.seq(pos)),
                &events,
            );
            continue;
        }
        if let (Some(prev), false) = (previous, is_null) {
            let gap = ix.time(pos).saturating_since(ix.time(prev));
            if gap < low || gap > high {
                out.push(
                    ix,
                    RuleId::R50,
                    Culprit::OsModel,
                    format!(
                        "pfnDataRateNotify came {} ms after the previous one (#{} then #{}); it is called about once a second (1000 ms +/- {} ms)",
                        gap.as_millis(),
                        ix.seq(prev),
                        ix.seq(pos),
                        config.datarate_tolerance.as_millis()
                    ),
                    &[prev, pos],
                );
            }
        }
        previous = Some(pos);
        if is_null {
            null_at = Some(pos);
        }
    }
    // The NULL-stats call is the last one, and after DestroyMiracastContext the OS unloads the
    // UMD: neither may come while an earlier notification is still inside the UMD.
    let notifications: Vec<&Call<'_>> = ix.calls_of(Ddi::PfnDataRateNotify).collect();
    let ends = ix
        .calls
        .iter()
        .filter(|c| {
            c.ddi == Ddi::DestroyMiracastContext
                || (c.ddi == Ddi::PfnDataRateNotify
                    && matches!(c.args, CallArgs::DataRateNotify { stats: false }))
        })
        .collect::<Vec<_>>();
    for end in ends {
        if let Some(running) = notifications
            .iter()
            .find(|n| n.enter != end.enter && ix.running_at(n, end.enter))
        {
            let what = if end.ddi == Ddi::DestroyMiracastContext {
                "DestroyMiracastContext (after which the OS unloads the UMD)"
            } else {
                "the NULL-stats pfnDataRateNotify, documented as the last call,"
            };
            out.push(
                ix,
                RuleId::R50,
                Culprit::OsModel,
                format!(
                    "the OS called {what} (#{}) while an earlier pfnDataRateNotify (#{}) was still inside the UMD",
                    ix.seq(end.enter),
                    ix.seq(running.enter)
                ),
                &[running.enter, end.enter],
            );
        }
    }
}

/// R55: one `GetNextChunkData` caller at a time (warning).
fn chunk_reader_alone(ix: &Index<'_>, out: &mut Findings) {
    let selected: Vec<usize> = (0..ix.calls.len())
        .filter(|&i| ix.calls[i].ddi == Ddi::GetNextChunkData)
        .collect();
    for (a, b) in ix.overlapping_pairs(&selected, true) {
        let (a, b) = (&ix.calls[a], &ix.calls[b]);
        out.push(
            ix,
            RuleId::R55,
            Culprit::Umd,
            format!(
                "GetNextChunkData was called on {} (#{}) while another call on {} (#{}) was waiting; with two callers, which one gets a chunk is unpredictable",
                ix.thread_label(b.thread),
                ix.seq(b.enter),
                ix.thread_label(a.thread),
                ix.seq(a.enter)
            ),
            &[a.enter, b.enter],
        );
    }
}

/// R67: the Miracast-class KMD calls never overlap.
fn miracast_class_alone(ix: &Index<'_>, out: &mut Findings) {
    let selected: Vec<usize> = (0..ix.calls.len())
        .filter(|&i| {
            let c = &ix.calls[i];
            c.ddi.is_miracast_class()
                && !(c.ddi == Ddi::DxgkDdiMiracastIoControl && c.hardware_access())
        })
        .collect();
    for (a, b) in ix.overlapping_pairs(&selected, true) {
        let (a, b) = (&ix.calls[a], &ix.calls[b]);
        out.push(
            ix,
            RuleId::R67,
            Culprit::OsModel,
            format!(
                "{} (#{}, on {}) was called while {} (#{}, on {}) was running; Miracast-class calls (DxgkDdiMiracastCreateContext, DxgkDdiMiracastDestroyContext, DxgkDdiMiracastIoControl without HardwareAccess) run one at a time",
                b.ddi,
                ix.seq(b.enter),
                ix.thread_label(b.thread),
                a.ddi,
                ix.seq(a.enter),
                ix.thread_label(a.thread)
            ),
            &[a.enter, b.enter],
        );
    }
}

/// R22: one Miracast context per target at a time: the OS never asks for a second one while
/// the first (created successfully) has not been destroyed, whatever the KMD answers.
fn one_miracast_context(ix: &Index<'_>, out: &mut Findings) {
    let mut live: Option<usize> = None;
    for call in &ix.calls {
        match call.ddi {
            Ddi::DxgkDdiMiracastCreateContext => {
                if let Some(first) = live {
                    out.push(
                        ix,
                        RuleId::R22,
                        Culprit::OsModel,
                        format!(
                            "DxgkDdiMiracastCreateContext (#{}) asked for a second Miracast context while the one from #{} was never destroyed",
                            ix.seq(call.enter),
                            ix.seq(first)
                        ),
                        &[first, call.enter],
                    );
                } else if call.status == Some(NtStatus::STATUS_SUCCESS) {
                    live = Some(call.enter);
                }
            }
            Ddi::DxgkDdiMiracastDestroyContext => live = None,
            _ => {}
        }
    }
}

/// R25: an accepted message is answered exactly `STATUS_PENDING`, never `STATUS_SUCCESS`.
/// R73: a KMD that reads `STATUS_PENDING` as a failure sends the same message again: inside
/// the same DDI call on the same thread, a second `DxgkCbMiracastSendMessage` with the same
/// buffer sizes follows an accepted one before that message's completion routine ran, and the
/// OS found the first message's buffers already released (R26). Pending is success for a send.
fn send_message_pending(ix: &Index<'_>, out: &mut Findings) {
    let released: BTreeSet<u64> = ix
        .events
        .iter()
        .filter_map(|e| match e.kind {
            EventKind::BufferUseAfterRelease { id } => Some(id),
            _ => None,
        })
        .collect();
    let completed_at = |id: u64| {
        ix.calls_of(Ddi::DxgkCbMiracastSendMessageCallback)
            .find(|c| c.message_id() == Some(id))
            .map_or(ix.trace_len(), |c| c.enter)
    };
    let sends: Vec<&Call<'_>> = ix.calls_of(Ddi::DxgkCbMiracastSendMessage).collect();
    for (i, first) in sends.iter().enumerate() {
        let CallArgs::SendMessage {
            id,
            input_size,
            output_size,
            ..
        } = first.args
        else {
            continue;
        };
        if first.status != Some(NtStatus::STATUS_PENDING) || !released.contains(id) {
            continue;
        }
        let Some(first_leave) = first.leave else {
            continue;
        };
        let until = completed_at(*id);
        let retry = sends[i + 1..].iter().find(|again| {
            again.thread == first.thread
                && again.parent == first.parent
                && again.enter > first_leave
                && again.enter < until
                && matches!(again.args, CallArgs::SendMessage { input_size: a, output_size: b, .. } if a == input_size && b == output_size)
        });
        if let Some(again) = retry {
            out.push(
                ix,
                RuleId::R73,
                Culprit::Kmd,
                format!(
                    "DxgkCbMiracastSendMessage accepted message #{id} with STATUS_PENDING (#{}), yet the KMD released its buffers and sent the same message again (#{}) before its completion routine ran: STATUS_PENDING was read as a failure",
                    ix.seq(first_leave),
                    ix.seq(again.enter)
                ),
                &[first_leave, again.enter],
            );
        }
    }
    for call in &ix.calls {
        if call.ddi == Ddi::DxgkCbMiracastSendMessage
            && call.status == Some(NtStatus::STATUS_SUCCESS)
        {
            let at = call.leave.unwrap_or(call.enter);
            out.push(
                ix,
                RuleId::R25,
                Culprit::OsModel,
                format!(
                    "DxgkCbMiracastSendMessage (#{}) returned STATUS_SUCCESS; an accepted message is answered exactly STATUS_PENDING",
                    ix.seq(call.enter)
                ),
                &[call.enter, at],
            );
        }
    }
}

/// R54: `GetNextChunkData`'s documented outcomes: success carries data; size 0 with a success
/// code is only `STATUS_WAIT_0` (extra event 0 fired), which needs at least one extra event;
/// a call made once the session is being stopped or destroyed gets exactly
/// `STATUS_INSTANCE_NOT_AVAILABLE`; an `INFINITE` wait never times out; `STATUS_WAIT_i` names
/// an extra event that exists; success never stores more than the buffer holds.
fn chunk_data_outcomes(ix: &Index<'_>, out: &mut Findings) {
    // Positions where the session went away (StopMiracastSession or DestroyMiracastContext
    // entered) and where a new one began (StartMiracastSession entered).
    let mut gone_since: Option<usize> = None;
    for (pos, e) in ix.events.iter().enumerate() {
        match &e.kind {
            EventKind::Enter {
                ddi: Ddi::StopMiracastSession | Ddi::DestroyMiracastContext,
                ..
            } => {
                gone_since.get_or_insert(pos);
            }
            EventKind::Enter {
                ddi: Ddi::StartMiracastSession,
                ..
            } => gone_since = None,
            EventKind::Enter {
                ddi: Ddi::GetNextChunkData,
                args:
                    CallArgs::GetNextChunkData {
                        timeout_ms,
                        events,
                        buffer_size,
                    },
            } => {
                let Some(call) = ix.call_entered_at(pos) else {
                    continue;
                };
                let (Some(status), Some(leave)) = (call.status, call.leave) else {
                    continue;
                };
                let size = match call.out {
                    CallOut::Chunks { size, .. } => *size,
                    _ => 0,
                };
                let problem = if let Some(gone) =
                    gone_since.filter(|_| status != NtStatus::STATUS_INSTANCE_NOT_AVAILABLE)
                {
                    Some(format!(
                        "was called after the session began to go away (#{}) and returned {status}; it must return STATUS_INSTANCE_NOT_AVAILABLE",
                        ix.seq(gone)
                    ))
                } else if status == NtStatus::STATUS_TIMEOUT && *timeout_ms == crate::ddi::INFINITE
                {
                    Some("returned STATUS_TIMEOUT for an INFINITE wait".to_owned())
                } else if (1..=3).contains(&status.0) && status.0 as u32 >= *events {
                    Some(format!(
                        "returned {status} with only {events} extra wait event(s)"
                    ))
                } else if status == NtStatus::STATUS_SUCCESS && size > *buffer_size {
                    Some(format!(
                        "returned STATUS_SUCCESS with {size} bytes for a {buffer_size}-byte buffer"
                    ))
                } else {
                    None
                };
                if let Some(problem) = problem {
                    out.push(
                        ix,
                        RuleId::R54,
                        Culprit::OsModel,
                        format!("GetNextChunkData (#{}) {problem}", ix.seq(pos)),
                        &[pos, leave],
                    );
                }
            }
            _ => {}
        }
    }
    for call in &ix.calls {
        if call.ddi != Ddi::GetNextChunkData || call.status != Some(NtStatus::STATUS_SUCCESS) {
            continue;
        }
        let (CallOut::Chunks { size, .. }, CallArgs::GetNextChunkData { events, .. }) =
            (call.out, call.args)
        else {
            continue;
        };
        let (size, events) = (*size, *events);
        if size == 0 && events == 0 {
            let at = call.leave.unwrap_or(call.enter);
            out.push(
                ix,
                RuleId::R54,
                Culprit::OsModel,
                format!(
                    "GetNextChunkData (#{}) returned STATUS_SUCCESS with size 0 and no extra wait event; success means chunk data was stored",
                    ix.seq(call.enter)
                ),
                &[call.enter, at],
            );
        }
    }
}

/// R70: the pageable DDIs run at `PASSIVE_LEVEL`: never from interrupt or DPC context.
fn pageable_at_passive(ix: &Index<'_>, out: &mut Findings) {
    let pageable = [
        Ddi::DxgkDdiQueryInterface,
        Ddi::DxgkDdiQueryChildRelations,
        Ddi::DxgkDdiQueryChildStatus,
        Ddi::DxgkDdiCreateContext,
        Ddi::DxgkDdiDestroyContext,
    ];
    for call in &ix.calls {
        if !pageable.contains(&call.ddi) {
            continue;
        }
        if let Some(outer) = ancestor(
            ix,
            call,
            &[Ddi::DxgkDdiInterruptRoutine, Ddi::DxgkDdiDpcRoutine],
        ) {
            out.push(
                ix,
                RuleId::R70,
                Culprit::OsModel,
                format!(
                    "{} (#{}) was called from inside {} (#{}); pageable DDIs run at PASSIVE_LEVEL",
                    call.ddi,
                    ix.seq(call.enter),
                    outer.ddi,
                    ix.seq(outer.enter)
                ),
                &[outer.enter, call.enter],
            );
        }
    }
}

/// R11: a "monitor arrived" IOCTL makes the KMD report arrival (R10).
fn arrival_reported(ix: &Index<'_>, out: &mut Findings) {
    let kmd_ioctls: Vec<&Call<'_>> = ix
        .calls
        .iter()
        .filter(|c| {
            matches!(
                c.ddi,
                Ddi::DxgkDdiMiracastIoControl | Ddi::DxgkDdiMiracastDestroyContext
            )
        })
        .collect();
    for (i, call) in kmd_ioctls.iter().enumerate() {
        if call.ddi != Ddi::DxgkDdiMiracastIoControl
            || call.ioctl_op() != Some(IoctlMeaning::MonitorArrived)
            || call.status != Some(NtStatus::STATUS_SUCCESS)
        {
            continue;
        }
        let until = kmd_ioctls
            .get(i + 1)
            .map_or(ix.events.len(), |next| next.enter);
        let reported = ix.calls.iter().any(|c| {
            c.ddi == Ddi::DxgkCbIndicateChildStatus
                && c.enter > call.enter
                && c.enter < until
                && c.miracast_status().is_some_and(|(_, connected)| connected)
        });
        if !reported {
            let at = call.leave.unwrap_or(call.enter);
            out.push(
                ix,
                RuleId::R11,
                Culprit::Kmd,
                format!(
                    "the UMD told the KMD a monitor arrived (DxgkDdiMiracastIoControl #{}) and the KMD never reported it with DxgkCbIndicateChildStatus (StatusMiracastConnection, Connected = TRUE)",
                    ix.seq(call.enter)
                ),
                &[call.enter, at],
            );
        }
    }
}

/// R13: in Stop, the UMD asks for monitor removal only when the sink reported the monitor gone.
fn no_departure_in_stop(ix: &Index<'_>, out: &mut Findings) {
    let mut session_start = 0;
    for call in &ix.calls {
        match call.ddi {
            Ddi::StartMiracastSession => session_start = call.enter,
            Ddi::MiracastIoControl if call.ioctl_op() == Some(IoctlMeaning::MonitorDeparted) => {
                let Some(stop) = ancestor(ix, call, &[Ddi::StopMiracastSession]) else {
                    continue;
                };
                let sink_said_gone = ix.events[session_start..call.enter].iter().any(|e| {
                    matches!(
                        &e.kind,
                        EventKind::Sink {
                            what: SinkActivity::Action {
                                action: SinkAction::MonitorDeparts
                            }
                        }
                    )
                });
                if !sink_said_gone {
                    out.push(
                        ix,
                        RuleId::R13,
                        Culprit::Umd,
                        format!(
                            "StopMiracastSession (#{}) asked the KMD to remove the monitor (MiracastIoControl #{}) although the sink never reported it gone",
                            ix.seq(stop.enter),
                            ix.seq(call.enter)
                        ),
                        &[stop.enter, call.enter],
                    );
                }
            }
            _ => {}
        }
    }
}

/// The closest enclosing call on the same thread that is one of `ddis`, if any.
fn ancestor<'a, 't>(ix: &'a Index<'t>, call: &Call<'t>, ddis: &[Ddi]) -> Option<&'a Call<'t>> {
    let mut parent = call.parent;
    while let Some(p) = parent {
        let outer = &ix.calls[p];
        if ddis.contains(&outer.ddi) {
            return Some(outer);
        }
        parent = outer.parent;
    }
    None
}

/// R59 on what the UMD reports: a `CHUNK_SENT` statistic announces the first network send of a
/// chunk the UMD received from `GetNextChunkData`, once per chunk: `CHUNK_SENT` for a chunk never
/// handed to the UMD, or more `CHUNK_SENT`s for a frame/part than records of it received, is a
/// violation (UMD).
fn chunk_stage_order(ix: &Index<'_>, out: &mut Findings) {
    use crate::ddi::{ChunkId, StatisticData};
    // Per ChunkId: records handed to the UMD, and CHUNK_SENT reports made (with the first).
    let mut received: BTreeMap<ChunkId, usize> = BTreeMap::new();
    let mut sent: BTreeMap<ChunkId, (usize, usize)> = BTreeMap::new();
    for call in &ix.calls {
        match (call.ddi, call.args, call.out) {
            (Ddi::GetNextChunkData, _, CallOut::Chunks { ids, .. })
                if call.status == Some(NtStatus::STATUS_SUCCESS) =>
            {
                for id in ids {
                    *received.entry(*id).or_default() += 1;
                }
            }
            (Ddi::ReportStatistic, CallArgs::ReportStatistic(StatisticData::ChunkSent(id)), _) => {
                let (frame, part) = (id.frame_number(), id.part_number());
                let got = received.get(id).copied().unwrap_or(0);
                let (reports, first) = sent.entry(*id).or_insert((0, call.enter));
                *reports += 1;
                if got == 0 {
                    out.push(
                        ix,
                        RuleId::R59,
                        Culprit::Umd,
                        format!(
                            "CHUNK_SENT for frame {frame} part {part} (#{}), a chunk GetNextChunkData never handed to the UMD; CHUNK_SENT announces the first network send of a received chunk",
                            ix.seq(call.enter)
                        ),
                        &[call.enter],
                    );
                } else if *reports > got {
                    out.push(
                        ix,
                        RuleId::R59,
                        Culprit::Umd,
                        format!(
                            "CHUNK_SENT number {reports} for frame {frame} part {part} (#{}, first #{}) although the UMD received that chunk {got} time(s); CHUNK_SENT is reported once, before the first send of each chunk",
                            ix.seq(call.enter),
                            ix.seq(*first)
                        ),
                        &[*first, call.enter],
                    );
                }
            }
            _ => {}
        }
    }
}

/// R53: after a chunk-queue overflow every outstanding chunk is lost and the next
/// `GetNextChunkData` returns `STATUS_CONNECTION_RESET`; the driver should produce a new I-frame.
/// The UMD asks for it through its private IOCTL (a profile names it `REQUEST_IFRAME`): a reset
/// followed by a successful `GetNextChunkData` on the same session with no I-frame request in
/// between is a violation (UMD).
fn iframe_after_reset(ix: &Index<'_>, out: &mut Findings) {
    let mut reset_at: Option<usize> = None;
    for call in &ix.calls {
        match call.ddi {
            Ddi::StartMiracastSession | Ddi::StopMiracastSession => reset_at = None,
            Ddi::GetNextChunkData => match (call.status, reset_at) {
                (Some(NtStatus::STATUS_CONNECTION_RESET), _) => {
                    reset_at = call.leave.or(Some(call.enter));
                }
                (Some(NtStatus::STATUS_SUCCESS), Some(reset)) if call.enter > reset => {
                    out.push(
                        ix,
                        RuleId::R53,
                        Culprit::Umd,
                        format!(
                            "GetNextChunkData returned STATUS_CONNECTION_RESET (#{}) and the UMD read chunks again (#{}) without asking the encoder for a new I-frame",
                            ix.seq(reset),
                            ix.seq(call.enter)
                        ),
                        &[reset, call.enter],
                    );
                    reset_at = None;
                }
                _ => {}
            },
            Ddi::MiracastIoControl if call.ioctl_op() == Some(IoctlMeaning::RequestIframe) => {
                reset_at = None;
            }
            _ => {}
        }
    }
}

/// R62, where the OS can see it: the video mode the source chose in M4 needs no more bit rate
/// than the `CurrentBitRate` the OS passed to `StartMiracastSession` (the documented estimate of
/// 0.14 bit per pixel); a source that ignores the bandwidth breaks it (UMD).
fn mode_within_bandwidth(ix: &Index<'_>, out: &mut Findings) {
    let mut suggested: Option<(usize, u64)> = None;
    for (pos, e) in ix.events.iter().enumerate() {
        match &e.kind {
            EventKind::Enter {
                ddi: Ddi::StartMiracastSession,
                args:
                    CallArgs::StartSession {
                        current_bit_rate, ..
                    },
            } => suggested = Some((pos, *current_bit_rate)),
            EventKind::Sink {
                what:
                    SinkActivity::Configured {
                        mode: Some(mode),
                        required_bitrate: Some(needed),
                    },
            } => {
                if let Some((start, rate)) = suggested.filter(|(_, rate)| needed > rate) {
                    out.push(
                        ix,
                        RuleId::R62,
                        Culprit::Umd,
                        format!(
                            "the source chose {mode} in M4 (#{}), which needs about {needed} bit/s, although StartMiracastSession (#{}) offered {rate} bit/s",
                            ix.seq(pos),
                            ix.seq(start)
                        ),
                        &[start, pos],
                    );
                }
            }
            _ => {}
        }
    }
}
