//! The trace: every DDI enter/leave, OS-service call and return, message queued/delivered/dropped,
//! chunk, notification and time step, with the simulated thread and virtual time.
//!
//! Events are named with the documented DDI names, as the HLK's own event logs are. The text
//! rendering ([`TraceEvent`]'s `Display`) is stable: it is what determinism tests compare byte
//! for byte and what reports quote.

mod call;
mod sink;

pub use call::{
    CallArgs, CallOut, ChildStatusArm, ChildStatusRecord, Field, Fields, IoctlMeaning, Rendered,
};
pub use sink::{SinkAction, SinkActivity, WireSummary};

use crate::ddi::Ddi;
use crate::status::NtStatus;
use crate::time::SimTime;
use serde::Serialize;
use std::fmt;

/// One trace entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct TraceEvent {
    /// Position in the trace, from 0.
    pub seq: u32,
    /// Virtual time of the event.
    pub time: SimTime,
    /// The simulated thread that produced it.
    pub thread: u32,
    /// What happened.
    pub kind: EventKind,
}

/// What happened.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum EventKind {
    /// A simulated thread was created.
    ThreadStart {
        /// Its name (`os-worker`, `msg-delivery-3`, ...).
        name: String,
        /// The thread that created it.
        parent: Option<u32>,
    },
    /// A simulated thread returned.
    ThreadExit,
    /// A DDI or callback was entered (by the thread of the event).
    Enter {
        /// Which one.
        ddi: Ddi,
        /// Its arguments.
        args: CallArgs,
    },
    /// A DDI or callback returned.
    Leave {
        /// Which one.
        ddi: Ddi,
        /// Its NTSTATUS, for the ones that return one.
        status: Option<NtStatus>,
        /// Out-values.
        out: CallOut,
    },
    /// The session phase changed.
    Phase {
        /// Old phase.
        from: crate::ddi::SessionPhase,
        /// New phase.
        to: crate::ddi::SessionPhase,
    },
    /// A kernel-to-user message was accepted by `DxgkCbMiracastSendMessage`.
    MessageQueued {
        /// Simulator message id.
        id: u64,
        /// Held until `StartMiracastSession` returns (R28).
        held: bool,
    },
    /// A message was handed to `HandleKernelModeMessage`.
    MessageDelivered {
        /// Simulator message id.
        id: u64,
    },
    /// A message was dropped because stop had begun (R29).
    MessageDropped {
        /// Simulator message id.
        id: u64,
        /// The status its completion routine receives.
        status: NtStatus,
    },
    /// The KMD released a message buffer (given to `DxgkCbMiracastSendMessage`).
    BufferReleased {
        /// Simulator message id.
        id: u64,
    },
    /// The OS touched a message buffer after the KMD released it (R26).
    BufferUseAfterRelease {
        /// Simulator message id.
        id: u64,
    },
    /// A chunk packet was queued for `GetNextChunkData`.
    ChunkQueued {
        /// `FrameNumber`.
        frame: u64,
        /// `PartNumber`.
        part: u64,
        /// Chunks waiting after this one.
        depth: u32,
    },
    /// The chunk queue overflowed; every outstanding chunk was discarded (R53).
    ChunkOverflow {
        /// How many were discarded.
        discarded: u32,
    },
    /// The simulated sink or the RTSP link did something.
    Sink {
        /// What.
        what: SinkActivity,
    },
    /// Deliberate faults switched on for this run (bug knobs of the reference drivers, or
    /// OS-model knobs), so that every trace says which faults it ran with.
    KnobsOn {
        /// Whose knobs.
        owner: KnobOwner,
        /// Their names as a scenario writes them (`slow_stop`, `datarate_interval_ms=400`).
        knobs: Vec<String>,
        /// The driver under test is a binary, which ignores bug knobs.
        ignored: bool,
    },
    /// Virtual time jumped forward because every thread was waiting.
    TimeAdvance {
        /// The new time.
        to: SimTime,
    },
    /// A scenario step began.
    Step {
        /// Its index in the scenario.
        index: usize,
        /// Its operation, as written in the scenario.
        op: String,
    },
    /// A driver- or OS-side fact worth seeing in the trace (lock taken, knob applied, ...).
    Note {
        /// The sentence.
        text: String,
    },
}

impl fmt::Display for TraceEvent {
    /// `#12 0.000000s t2 enter DxgkDdiMiracastCreateContext()`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{} {} t{} ", self.seq, self.time, self.thread)?;
        match &self.kind {
            EventKind::ThreadStart { name, parent } => match parent {
                Some(p) => write!(f, "thread-start {name} (from t{p})"),
                None => write!(f, "thread-start {name}"),
            },
            EventKind::ThreadExit => write!(f, "thread-exit"),
            EventKind::Enter { ddi, args } => write!(f, "enter {ddi}({args})"),
            EventKind::Leave { ddi, status, out } => {
                write!(f, "leave {ddi}")?;
                if let Some(s) = status {
                    write!(f, " -> {s}")?;
                }
                if !out.is_empty() {
                    write!(f, " [{out}]")?;
                }
                Ok(())
            }
            EventKind::Phase { from, to } => write!(f, "phase {from:?} -> {to:?}"),
            EventKind::MessageQueued { id, held } => {
                write!(
                    f,
                    "message-queued #{id}{}",
                    if *held {
                        " (held until start returns)"
                    } else {
                        ""
                    }
                )
            }
            EventKind::MessageDelivered { id } => write!(f, "message-delivered #{id}"),
            EventKind::MessageDropped { id, status } => {
                write!(f, "message-dropped #{id} completion {status}")
            }
            EventKind::BufferReleased { id } => write!(f, "buffer-released #{id}"),
            EventKind::BufferUseAfterRelease { id } => write!(f, "buffer-use-after-release #{id}"),
            EventKind::ChunkQueued { frame, part, depth } => {
                write!(f, "chunk-queued frame={frame} part={part} depth={depth}")
            }
            EventKind::ChunkOverflow { discarded } => {
                write!(f, "chunk-overflow discarded={discarded}")
            }
            EventKind::Sink { what } => write!(f, "sink {what}"),
            EventKind::TimeAdvance { to } => write!(f, "time -> {to}"),
            EventKind::Step { index, op } => write!(f, "step {index} {op}"),
            EventKind::Note { text } => write!(f, "note {text}"),
            EventKind::KnobsOn {
                owner,
                knobs,
                ignored,
            } => {
                let list = knobs.join(", ");
                match (owner, ignored) {
                    (KnobOwner::OsModel, _) => write!(f, "note OS-model knobs on: {list}"),
                    (KnobOwner::Drivers, false) => write!(f, "note bug knobs on: {list}"),
                    (KnobOwner::Drivers, true) => write!(
                        f,
                        "note bug knobs {list} apply to the reference drivers only; the driver binary ignores them"
                    ),
                }
            }
        }
    }
}

/// Whose deliberate faults a [`EventKind::KnobsOn`] lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum KnobOwner {
    /// Bug knobs of the reference drivers.
    Drivers,
    /// OS-model knobs.
    OsModel,
}

/// The JSON Schema of one trace event as JSON reports carry it (`miracast-sim schema --trace`,
/// committed as `docs/trace-schema.json`), titled with [`TRACE_FORMAT_VERSION`].
pub fn schema() -> String {
    let mut schema = schemars::schema_for!(TraceEvent);
    schema.insert(
        "title".to_owned(),
        format!("miracast-sim trace event, format {TRACE_FORMAT_VERSION}").into(),
    );
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}

/// The version of the JSON trace format ([`TraceEvent`] serialized): 2 has typed `args`/`out`
/// objects tagged by `shape` and typed sink activity; 1 had `key=value` strings.
pub const TRACE_FORMAT_VERSION: u32 = 2;

/// A whole trace with a stable text form and a hash for determinism checks.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(transparent)]
pub struct Trace {
    /// The events in order.
    pub events: Vec<TraceEvent>,
}

impl Trace {
    /// The trace as text, one event per line.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for e in &self.events {
            use std::fmt::Write as _;
            let _ = writeln!(out, "{e}");
        }
        out
    }

    /// A stable 64-bit FNV-1a hash of the text form.
    pub fn hash(&self) -> u64 {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in self.to_text().bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        h
    }

    /// The first position where two traces differ, for determinism reports.
    pub fn first_difference<'a>(
        &'a self,
        other: &'a Trace,
    ) -> Option<(usize, Option<&'a TraceEvent>, Option<&'a TraceEvent>)> {
        let n = self.events.len().max(other.events.len());
        (0..n).find_map(|i| {
            let (a, b) = (self.events.get(i), other.events.get(i));
            (a != b).then_some((i, a, b))
        })
    }
}
