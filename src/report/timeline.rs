//! A run as a timeline: the one adapter between the trace and every visual rendering (the HTML
//! page, the Mermaid sequence diagram, the Chrome trace-event export).
//!
//! It reads only the trace's structured fields (`seq`, `time`, `thread`, the event variant, the
//! DDI, the status) and each event's `Display` text for labels; it never parses argument
//! summaries. What it builds:
//!
//! - **lanes**: one per simulated thread (by id, named from the run's thread names), plus one
//!   for the Wi-Fi Display sink, which every `sink` event is drawn on;
//! - **spans**: each DDI or callback from its `enter` to its `leave` on the same thread
//!   (nested: a callback inside a DDI sits one level down), with its status, the lock the
//!   documented synchronization model has the OS hold around it, and whether it never returned;
//! - **suspensions**: stretches inside a span where the thread produced nothing while others
//!   ran (it waited for a lock, an event, a timer or the sink, or was preempted);
//! - **arrows**: a kernel message from `message-queued` to `message-delivered` (or
//!   `message-dropped`) and on to the completion routine; a thread from its creator;
//! - **phases**: the session phase over the run;
//! - **findings**: each broken rule with its title, culprit, sentence and events.
//!
//! The horizontal axis is the trace order (`seq`): most events share a virtual instant, so
//! virtual time is shown as labels where it advances.

use crate::ddi::{Ddi, Direction, SessionPhase};
use crate::explore::independence::{SyncClass, sync_class};
use crate::rules::Violation;
use crate::runner::RunResult;
use crate::trace::{EventKind, Trace};
use serde::Serialize;
use std::collections::BTreeMap;

/// The lane id of the simulated sink.
pub const SINK_LANE: u32 = u32::MAX;

/// One row of the timeline.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Lane {
    /// The simulated thread id, or [`SINK_LANE`].
    pub id: u32,
    /// `t3 umd-stream`, or `WFD sink`.
    pub name: String,
    /// The thread that created it, when known.
    pub parent: Option<u32>,
}

/// One trace event as drawn.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Mark {
    /// Its `seq`.
    pub seq: u32,
    /// Virtual time in microseconds.
    pub time_us: u64,
    /// The lane it is drawn on.
    pub lane: u32,
    /// `enter`, `leave`, `phase`, `message`, `sink`, `step`, `note`, `thread`, `time`, `chunk`,
    /// `buffer`.
    pub kind: &'static str,
    /// The event as the trace prints it.
    pub text: String,
}

/// A DDI or callback from entry to return.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Span {
    /// Lane (thread).
    pub lane: u32,
    /// Nesting depth on that lane (0: called by the OS thread itself).
    pub depth: u32,
    /// The documented name.
    pub ddi: String,
    /// Who calls whom: `os->kmd`, `kmd->os`, `os->umd`, `umd->os`.
    pub direction: &'static str,
    /// `seq` of the entry.
    pub enter: u32,
    /// `seq` of the return; `None` when it never returned.
    pub leave: Option<u32>,
    /// The returned status (`STATUS_SUCCESS (0x00000000)`), when it returns one.
    pub status: Option<String>,
    /// The status is not a success code (`NT_SUCCESS` is false).
    pub failed: bool,
    /// The lock the documented model has the OS hold around this call, when there is one.
    pub lock: Option<&'static str>,
}

/// A stretch of a span where its thread waited while other threads ran.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Suspension {
    /// Lane (thread).
    pub lane: u32,
    /// Last event of the thread before.
    pub from: u32,
    /// First event of the thread after (or the end of the trace).
    pub to: u32,
    /// The innermost DDI it was inside.
    pub inside: String,
}

/// An arrow between two events.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Arrow {
    /// `message`, `completion`, `dropped`, `spawn`.
    pub kind: &'static str,
    /// From (lane, seq).
    pub from: (u32, u32),
    /// To (lane, seq).
    pub to: (u32, u32),
    /// `message #3`.
    pub label: String,
}

/// The session phase from one event on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PhaseBand {
    /// First `seq` in this phase.
    pub from: u32,
    /// `Stopped`, `StartPending`, `Started`, `StopPending`.
    pub phase: String,
}

/// A finding to highlight.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Highlight {
    /// `R30`, or `deadlock`, `bugcheck`, ...
    pub rule: String,
    /// The rule's title.
    pub title: String,
    /// KMD, UMD, OS model, sink, driver binary.
    pub culprit: String,
    /// The finding in one sentence.
    pub text: String,
    /// The events that show it.
    pub events: Vec<u32>,
    /// Lanes it concerns when it has no events (blocked threads of a hang).
    pub lanes: Vec<u32>,
}

/// A run, ready to draw.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Timeline {
    /// `scenario-name`.
    pub title: String,
    /// `seed 0, backend model, random(seed=0)`.
    pub subtitle: String,
    /// How the run ended, in one sentence.
    pub end: String,
    /// Rows, threads by id then the sink.
    pub lanes: Vec<Lane>,
    /// Every trace event.
    pub marks: Vec<Mark>,
    /// DDI and callback spans, by entry.
    pub spans: Vec<Span>,
    /// Waits inside spans.
    pub suspensions: Vec<Suspension>,
    /// Messages and thread creations.
    pub arrows: Vec<Arrow>,
    /// The session phase over the run.
    pub phases: Vec<PhaseBand>,
    /// Findings, each with its events.
    pub findings: Vec<Highlight>,
}

fn direction(ddi: Ddi) -> &'static str {
    match ddi.direction() {
        Direction::OsToKmd => "os->kmd",
        Direction::KmdToOs => "kmd->os",
        Direction::OsToUmd => "os->umd",
        Direction::UmdToOs => "umd->os",
    }
}

/// The lock the documented synchronization model has the OS hold around an OS-to-driver call.
fn documented_lock(ddi: Ddi) -> Option<&'static str> {
    match (ddi.direction(), sync_class(ddi)) {
        (Direction::OsToKmd, SyncClass::MiracastClass) => {
            Some("Miracast class mutex (and the adapter lock, shared)")
        }
        (Direction::OsToKmd, SyncClass::Level3) => Some("adapter lock, exclusive (Level 3)"),
        (Direction::OsToKmd, _) => Some("adapter lock, shared"),
        (Direction::OsToUmd, SyncClass::UmdSerialized) => Some("UMD lock, exclusive"),
        (Direction::OsToUmd, SyncClass::UmdMessage) => Some("UMD lock, shared"),
        _ => None,
    }
}

fn phase_name(p: SessionPhase) -> String {
    format!("{p:?}")
}

fn kind_name(kind: &EventKind) -> &'static str {
    match kind {
        EventKind::ThreadStart { .. } | EventKind::ThreadExit => "thread",
        EventKind::Enter { .. } => "enter",
        EventKind::Leave { .. } => "leave",
        EventKind::Phase { .. } => "phase",
        EventKind::MessageQueued { .. }
        | EventKind::MessageDelivered { .. }
        | EventKind::MessageDropped { .. } => "message",
        EventKind::BufferReleased { .. } | EventKind::BufferUseAfterRelease { .. } => "buffer",
        EventKind::ChunkQueued { .. } | EventKind::ChunkOverflow { .. } => "chunk",
        EventKind::Sink { .. } => "sink",
        EventKind::TimeAdvance { .. } => "time",
        EventKind::Step { .. } => "step",
        EventKind::Note { .. } | EventKind::KnobsOn { .. } => "note",
    }
}

/// A finding of a violated rule.
pub fn highlight_of(v: &Violation) -> Highlight {
    Highlight {
        rule: v.rule.to_string(),
        title: v.rule.rule().title.to_owned(),
        culprit: v.culprit.to_string(),
        text: v.finding.clone(),
        events: v.events.clone(),
        lanes: Vec::new(),
    }
}

impl Timeline {
    /// The timeline of a finished run: its trace, thread names, violations, crashes and how it
    /// ended. `subtitle` says which run it is (seed, backend, strategy).
    pub fn of_run(result: &RunResult, subtitle: &str) -> Self {
        let mut findings: Vec<Highlight> = result.violations.iter().map(highlight_of).collect();
        for b in &result.driver_faults {
            findings.push(Highlight {
                rule: "bugcheck".to_owned(),
                title: b.to_string(),
                culprit: "driver binary".to_owned(),
                text: b.finding.clone(),
                events: Vec::new(),
                lanes: Vec::new(),
            });
        }
        let hang = |rule: &str, title: &str, chain: &[crate::sched::BlockedThread]| Highlight {
            rule: rule.to_owned(),
            title: title.to_owned(),
            culprit: "run end".to_owned(),
            text: crate::explore::liveness::describe_chain(chain),
            events: Vec::new(),
            lanes: chain.iter().map(|b| b.thread).collect(),
        };
        let end = match &result.end {
            crate::sched::RunEnd::Completed => "the run completed".to_owned(),
            crate::sched::RunEnd::Deadlock { chain } => {
                findings.push(hang("deadlock", "no thread can run", chain));
                "deadlock: no thread can run and no timer is pending".to_owned()
            }
            crate::sched::RunEnd::StepLimit => {
                findings.push(hang("hang", "the run hit the step limit", &result.blocked));
                "the run hit the step limit".to_owned()
            }
            crate::sched::RunEnd::TimeLimit => {
                findings.push(hang(
                    "hang",
                    "the run hit the virtual-time limit",
                    &result.blocked,
                ));
                "the run hit the virtual-time limit".to_owned()
            }
            crate::sched::RunEnd::Abandoned => "the run was abandoned".to_owned(),
        };
        let mut t = Self::of_trace(
            &result.trace,
            &result.thread_names,
            findings,
            &result.scenario,
            subtitle,
        );
        t.end = end;
        t
    }

    /// The timeline of a trace with `findings` to highlight.
    pub fn of_trace(
        trace: &Trace,
        thread_names: &[String],
        findings: Vec<Highlight>,
        title: &str,
        subtitle: &str,
    ) -> Self {
        let mut lanes: BTreeMap<u32, Lane> = BTreeMap::new();
        let lane = |id: u32, parent: Option<u32>, lanes: &mut BTreeMap<u32, Lane>| {
            lanes.entry(id).or_insert_with(|| Lane {
                id,
                name: format!(
                    "t{id} {}",
                    thread_names.get(id as usize).map_or("", String::as_str)
                )
                .trim_end()
                .to_owned(),
                parent,
            });
        };
        let mut marks = Vec::with_capacity(trace.events.len());
        let mut spans: Vec<Span> = Vec::new();
        let mut stacks: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
        let mut last_own: BTreeMap<u32, u32> = BTreeMap::new();
        let mut suspensions = Vec::new();
        let mut arrows = Vec::new();
        let mut phases = vec![PhaseBand {
            from: 0,
            phase: phase_name(SessionPhase::Stopped),
        }];
        let mut queued: BTreeMap<u64, (u32, u32)> = BTreeMap::new();
        // Delivered messages waiting for their completion routine: (message, delivery lane,
        // delivery seq).
        let mut awaiting: Vec<(u64, u32, u32)> = Vec::new();
        let mut has_sink = false;
        let mut started: u32 = 0;
        for e in &trace.events {
            let on = if matches!(e.kind, EventKind::Sink { .. }) {
                has_sink = true;
                SINK_LANE
            } else {
                e.thread
            };
            if on != SINK_LANE {
                lane(on, None, &mut lanes);
                // A stretch where this thread, inside a DDI, let others run.
                if let (Some(prev), Some(top)) = (
                    last_own.get(&on).copied(),
                    stacks.get(&on).and_then(|s| s.last().copied()),
                ) && e.seq > prev + 1
                {
                    suspensions.push(Suspension {
                        lane: on,
                        from: prev,
                        to: e.seq,
                        inside: spans[top].ddi.clone(),
                    });
                }
                last_own.insert(on, e.seq);
            }
            match &e.kind {
                EventKind::ThreadStart { parent, .. } => {
                    // Thread ids are given in creation order: the k-th thread-start creates
                    // thread k. The event itself is on the creator's thread.
                    let created = started;
                    started += 1;
                    if let Some(p) = parent {
                        lane(created, Some(*p), &mut lanes);
                        arrows.push(Arrow {
                            kind: "spawn",
                            from: (*p, e.seq),
                            to: (created, e.seq),
                            label: lanes[&created].name.clone(),
                        });
                    }
                }
                EventKind::Enter { ddi, .. } => {
                    let stack = stacks.entry(on).or_default();
                    spans.push(Span {
                        lane: on,
                        depth: stack.len() as u32,
                        ddi: ddi.name().to_owned(),
                        direction: direction(*ddi),
                        enter: e.seq,
                        leave: None,
                        status: None,
                        failed: false,
                        lock: documented_lock(*ddi),
                    });
                    stack.push(spans.len() - 1);
                    if *ddi == Ddi::DxgkCbMiracastSendMessageCallback
                        && let Some(i) = awaiting.iter().position(|(_, l, _)| {
                            *l == on || lanes.get(&on).and_then(|x| x.parent) == Some(*l)
                        })
                    {
                        let (id, l, s) = awaiting.remove(i);
                        arrows.push(Arrow {
                            kind: "completion",
                            from: (l, s),
                            to: (on, e.seq),
                            label: format!("completion of message #{id}"),
                        });
                    }
                }
                EventKind::Leave { ddi, status, .. } => {
                    let stack = stacks.entry(on).or_default();
                    if let Some(pos) = stack.iter().rposition(|i| spans[*i].ddi == ddi.name()) {
                        let i = stack[pos];
                        stack.truncate(pos);
                        spans[i].leave = Some(e.seq);
                        spans[i].status = status.map(|s| s.to_string());
                        spans[i].failed = status.is_some_and(|s| !s.nt_success());
                    }
                }
                EventKind::Phase { to, .. } => phases.push(PhaseBand {
                    from: e.seq,
                    phase: phase_name(*to),
                }),
                EventKind::MessageQueued { id, .. } => {
                    queued.insert(*id, (on, e.seq));
                }
                EventKind::MessageDelivered { id } => {
                    if let Some(from) = queued.get(id) {
                        arrows.push(Arrow {
                            kind: "message",
                            from: *from,
                            to: (on, e.seq),
                            label: format!("message #{id}"),
                        });
                    }
                    awaiting.push((*id, on, e.seq));
                }
                EventKind::MessageDropped { id, .. } => {
                    if let Some(from) = queued.get(id) {
                        arrows.push(Arrow {
                            kind: "dropped",
                            from: *from,
                            to: (on, e.seq),
                            label: format!("message #{id} dropped"),
                        });
                    }
                }
                _ => {}
            }
            marks.push(Mark {
                seq: e.seq,
                time_us: e.time.as_micros(),
                lane: on,
                kind: kind_name(&e.kind),
                text: e.to_string(),
            });
        }
        if has_sink {
            lanes.insert(
                SINK_LANE,
                Lane {
                    id: SINK_LANE,
                    name: "WFD sink".to_owned(),
                    parent: None,
                },
            );
        }
        // Spans that never returned: suspended from their thread's last event to the end.
        let end = trace.events.len() as u32;
        for (on, stack) in &stacks {
            if let (Some(top), Some(prev)) = (stack.last(), last_own.get(on))
                && *prev + 1 < end
            {
                suspensions.push(Suspension {
                    lane: *on,
                    from: *prev,
                    to: end,
                    inside: spans[*top].ddi.clone(),
                });
            }
        }
        suspensions.sort_by_key(|s| (s.lane, s.from));
        Timeline {
            title: title.to_owned(),
            subtitle: subtitle.to_owned(),
            end: String::new(),
            lanes: lanes.into_values().collect(),
            marks,
            spans,
            suspensions,
            arrows,
            phases,
            findings,
        }
    }

    /// Number of trace events.
    pub fn len(&self) -> u32 {
        self.marks.len() as u32
    }

    /// True when the trace is empty.
    pub fn is_empty(&self) -> bool {
        self.marks.is_empty()
    }

    /// The lane's display name.
    pub fn lane_name(&self, id: u32) -> &str {
        self.lanes
            .iter()
            .find(|l| l.id == id)
            .map_or("", |l| l.name.as_str())
    }
}
