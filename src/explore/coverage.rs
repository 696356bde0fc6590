//! Coverage: which (DDI, session phase, message state) combinations the exploration visited,
//! derived from the traces of the schedules (Coyote's event coverage, for our DDI model).

use crate::ddi::{Ddi, SessionPhase};
use crate::trace::{EventKind, Trace};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// Kernel-to-user messages at the time of a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageState {
    /// No message in flight.
    None,
    /// At least one held until `StartMiracastSession` returns (R28).
    Held,
    /// At least one queued for delivery (none held).
    Pending,
}

/// One visited combination.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct CoverageKey {
    /// The DDI or callback entered.
    pub ddi: Ddi,
    /// The session phase at entry.
    #[serde(serialize_with = "phase_name")]
    pub phase: u8,
    /// Messages in flight at entry.
    pub messages: MessageState,
}

fn phase_name<S: serde::Serializer>(p: &u8, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(PHASES[*p as usize % 4])
}

const PHASES: [&str; 4] = ["Stopped", "StartPending", "Started", "StopPending"];

/// Visited combinations with how many schedules visited each; serializable for the JSON
/// report (`{"ddi": ..., "phase": ..., "messages": ..., "schedules": n}` entries).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Coverage {
    /// Combination → schedules that visited it.
    pub visited: BTreeMap<CoverageKey, u64>,
}

#[derive(Serialize)]
struct Entry {
    #[serde(flatten)]
    key: CoverageKey,
    schedules: u64,
}

impl Serialize for Coverage {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.visited.iter().map(|(k, n)| Entry {
            key: *k,
            schedules: *n,
        }))
    }
}

impl Coverage {
    /// Adds one schedule's visited set.
    pub fn add(&mut self, keys: &BTreeSet<CoverageKey>) {
        for k in keys {
            *self.visited.entry(*k).or_default() += 1;
        }
    }

    /// Merges another worker's coverage.
    pub fn merge(&mut self, other: &Coverage) {
        for (k, n) in &other.visited {
            *self.visited.entry(*k).or_default() += n;
        }
    }

    /// A text summary, one line per DDI: the (phase, messages) pairs seen.
    pub fn summary(&self) -> String {
        let mut by_ddi: BTreeMap<Ddi, Vec<String>> = BTreeMap::new();
        for k in self.visited.keys() {
            by_ddi.entry(k.ddi).or_default().push(format!(
                "{}/{}",
                PHASES[k.phase as usize % 4],
                match k.messages {
                    MessageState::None => "no-msg",
                    MessageState::Held => "msg-held",
                    MessageState::Pending => "msg-pending",
                }
            ));
        }
        let mut out = format!(
            "coverage: {} (DDI, phase, messages) combinations over {} DDIs\n",
            self.visited.len(),
            by_ddi.len()
        );
        for (ddi, seen) in by_ddi {
            out.push_str(&format!("  {:<40} {}\n", ddi.name(), seen.join(" ")));
        }
        out
    }
}

/// The combinations one trace visited.
pub fn keys_of_trace(trace: &Trace) -> BTreeSet<CoverageKey> {
    let mut phase = SessionPhase::Stopped;
    let mut held: BTreeSet<u64> = BTreeSet::new();
    let mut pending: BTreeSet<u64> = BTreeSet::new();
    let mut keys = BTreeSet::new();
    for e in &trace.events {
        match &e.kind {
            EventKind::Phase { to, .. } => phase = *to,
            EventKind::MessageQueued { id, held: h } => {
                if *h {
                    held.insert(*id);
                } else {
                    pending.insert(*id);
                }
            }
            EventKind::MessageDelivered { id } | EventKind::MessageDropped { id, .. } => {
                held.remove(id);
                pending.remove(id);
            }
            EventKind::Enter { ddi, .. } => {
                let messages = if !held.is_empty() {
                    MessageState::Held
                } else if !pending.is_empty() {
                    MessageState::Pending
                } else {
                    MessageState::None
                };
                keys.insert(CoverageKey {
                    ddi: *ddi,
                    phase: phase as u8,
                    messages,
                });
            }
            _ => {}
        }
    }
    keys
}
