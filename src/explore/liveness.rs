//! Deadlocks and liveness as findings.
//!
//! Verdicts are kept apart, because they mean different things:
//! - `deadlock`: no simulated thread can run, no timer is pending, work is outstanding; the
//!   finding carries the wait-for chain (who waits on what, held by whom).
//! - `liveness:terminated-hot`: the run ended while a hot state was still hot (start pending,
//!   stop pending, a kernel message neither delivered nor dropped, a chunk never fetched while
//!   the session runs).
//! - `liveness:hot-too-long`: a hot state cooled, but later than the bound in virtual time.
//! - `liveness:step-cap` / `liveness:time-cap`: the run hit the scheduler's step or time limit
//!   (a livelock, or a bound too small), not proof of a hot state.

use super::Finding;
use crate::ddi::SessionPhase;
use crate::os::OsSnapshot;
use crate::sched::{BlockedThread, RunEnd};
use crate::time::SimTime;
use crate::trace::{EventKind, Trace};
use std::collections::BTreeMap;
use std::time::Duration;

/// Hot states still hot at the end (what, since when), and hot states that cooled too late
/// (what, how long).
type HotIntervals = (Vec<(String, SimTime)>, Vec<(String, Duration)>);

/// What a thread waits for, in words: a lock (and who holds it), an event, the sink (the RTSP
/// link's events), a timer (a sleep), or nothing (it could run, or had not returned).
pub fn explain_wait(b: &BlockedThread) -> String {
    let Some(w) = &b.waiting_for else {
        return match b.inside.last() {
            Some(d) => format!("has not returned from {d} (it was runnable when the run stopped)"),
            None => "was runnable when the run stopped".to_owned(),
        };
    };
    let held = w
        .held_by
        .map(|h| format!(", held by t{h}"))
        .unwrap_or_default();
    let o = w.object.as_str();
    if let Some(name) = o
        .strip_prefix("mutex ")
        .or_else(|| o.strip_prefix("rwlock "))
    {
        format!("waits for the lock `{name}`{held}")
    } else if o.contains("rtsp-") && o.contains("-to-umd") {
        format!("waits for the sink: a reply or request on the RTSP link that never came ({o})")
    } else if o.contains("rtsp-") && o.contains("-to-sink") {
        format!("waits for the UMD to write to the RTSP link ({o})")
    } else if let Some(name) = o.strip_prefix("event ") {
        format!("waits for the event `{name}`{held}")
    } else if let Some(d) = o.strip_prefix("sleep ") {
        format!("sleeps on a timer ({d})")
    } else {
        format!("waits for {o}{held}")
    }
}

/// The driver frame a thread is in: the innermost DDI the OS called into a driver, and the OS
/// service that driver code is calling, if any (`in the UMD's StartMiracastSession, calling
/// MiracastIoControl`).
pub fn driver_frame(b: &BlockedThread) -> Option<String> {
    use crate::ddi::Direction;
    let into_driver = b
        .inside
        .iter()
        .rposition(|d| matches!(d.direction(), Direction::OsToKmd | Direction::OsToUmd))?;
    let ddi = b.inside[into_driver];
    let who = if ddi.direction() == Direction::OsToKmd {
        "KMD"
    } else {
        "UMD"
    };
    let calling = b.inside[into_driver + 1..]
        .iter()
        .map(|d| d.name())
        .collect::<Vec<_>>();
    Some(if calling.is_empty() {
        format!("in the {who}'s {ddi}")
    } else {
        format!("in the {who}'s {ddi}, calling {}", calling.join(" > "))
    })
}

/// One blocked thread in one line: `umd-session (t2) in the UMD's StartMiracastSession waits
/// for the sink (...)`.
pub fn explain_thread(b: &BlockedThread) -> String {
    let frame = driver_frame(b).map_or_else(
        || match b.inside.first().map(|d| d.direction()) {
            None => " (no DDI on its stack)".to_owned(),
            // A driver's own thread, inside an OS service it called.
            Some(d) => format!(
                " (a {} thread) calling {}",
                if d == crate::ddi::Direction::KmdToOs {
                    "KMD"
                } else {
                    "UMD"
                },
                b.inside
                    .iter()
                    .map(|d| d.name())
                    .collect::<Vec<_>>()
                    .join(" > ")
            ),
        },
        |f| format!(" {f}"),
    );
    format!("{} (t{}){frame} {}", b.name, b.thread, explain_wait(b))
}

/// Every blocked thread, one clause each.
pub fn describe_chain(chain: &[BlockedThread]) -> String {
    chain
        .iter()
        .map(explain_thread)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Findings from how the run ended (deadlock, step cap, time cap). `live` is
/// `sched.live_threads()` at the end, dumped with the caps.
pub fn end_findings(end: &RunEnd, live: &[BlockedThread]) -> Vec<Finding> {
    match end {
        RunEnd::Completed | RunEnd::Abandoned => Vec::new(),
        RunEnd::Deadlock { chain } => vec![Finding {
            key: "deadlock".to_owned(),
            message: format!("deadlock: {}", describe_chain(chain)),
        }],
        RunEnd::StepLimit => vec![Finding {
            key: "liveness:step-cap".to_owned(),
            message: format!(
                "the run hit the step cap; threads still alive: {}",
                describe_chain(live)
            ),
        }],
        RunEnd::TimeLimit => vec![Finding {
            key: "liveness:time-cap".to_owned(),
            message: format!(
                "the run hit the virtual-time cap; threads still alive: {}",
                describe_chain(live)
            ),
        }],
    }
}

/// Hot states seen in a trace: (what, since) still hot at the end, and (what, for how long)
/// for those that cooled later than `bound`.
fn hot_intervals(trace: &Trace, bound: Duration) -> HotIntervals {
    let mut open: BTreeMap<String, SimTime> = BTreeMap::new();
    let mut late = Vec::new();
    let mut close = |open: &mut BTreeMap<String, SimTime>, key: String, now: SimTime| {
        if let Some(since) = open.remove(&key) {
            let took = now.saturating_since(since);
            if took > bound {
                late.push((key, took));
            }
        }
    };
    for e in &trace.events {
        match &e.kind {
            EventKind::Phase { from, to } => {
                for (p, name) in [
                    (SessionPhase::StartPending, "start pending"),
                    (SessionPhase::StopPending, "stop pending"),
                ] {
                    if *from == p {
                        close(&mut open, name.to_owned(), e.time);
                    }
                    if *to == p {
                        open.insert(name.to_owned(), e.time);
                    }
                }
            }
            EventKind::MessageQueued { id, .. } => {
                open.insert(format!("message #{id} pending"), e.time);
            }
            EventKind::MessageDelivered { id } | EventKind::MessageDropped { id, .. } => {
                close(&mut open, format!("message #{id} pending"), e.time);
            }
            _ => {}
        }
    }
    (open.into_iter().collect(), late)
}

/// Liveness findings of a finished run: hot at the end (from the trace and the OS snapshot),
/// or hot for longer than `bound` of virtual time. Only meaningful for runs that completed;
/// deadlocks and caps are reported by [`end_findings`].
pub fn hot_findings(
    end: &RunEnd,
    snapshot: Option<&OsSnapshot>,
    trace: &Trace,
    bound: Duration,
    live: &[BlockedThread],
) -> Vec<Finding> {
    let mut out = Vec::new();
    let (mut still, late) = hot_intervals(trace, bound);
    if let Some(s) = snapshot {
        let phase_hot = match s.phase {
            SessionPhase::StartPending => Some("start pending"),
            SessionPhase::StopPending => Some("stop pending"),
            _ => None,
        };
        if let Some(p) = phase_hot
            && !still.iter().any(|(k, _)| k == p)
        {
            still.push((p.to_owned(), SimTime::ZERO));
        }
        if s.phase == SessionPhase::Started && s.chunks_waiting > 0 && *end == RunEnd::Completed {
            // A running session whose chunks nobody fetched: only hot if the UMD stopped
            // fetching, which a completed run with the session still up shows.
            still.push((
                format!("{} chunk(s) undelivered", s.chunks_waiting),
                SimTime::ZERO,
            ));
        }
    }
    if *end == RunEnd::Completed && !still.is_empty() {
        let what: Vec<String> = still
            .iter()
            .map(|(k, since)| format!("{k} (since {since})"))
            .collect();
        out.push(Finding {
            key: "liveness:terminated-hot".to_owned(),
            message: format!(
                "the run ended hot: {}; state: {}; live threads: {}",
                what.join(", "),
                snapshot.map_or("n/a".to_owned(), |s| format!("{s:?}")),
                if live.is_empty() {
                    "none".to_owned()
                } else {
                    describe_chain(live)
                }
            ),
        });
    }
    for (k, took) in late {
        out.push(Finding {
            key: "liveness:hot-too-long".to_owned(),
            message: format!("{k} stayed hot for {took:?}, over the bound of {bound:?}"),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::TraceEvent;

    fn ev(seq: u32, ms: u64, kind: EventKind) -> TraceEvent {
        TraceEvent {
            seq,
            time: SimTime::from_millis(ms),
            thread: 0,
            kind,
        }
    }

    #[test]
    fn terminated_hot_and_hot_too_long_are_separate_verdicts() {
        let phase = |from, to| EventKind::Phase { from, to };
        let trace = Trace {
            events: vec![
                ev(
                    0,
                    0,
                    phase(SessionPhase::Stopped, SessionPhase::StartPending),
                ),
                ev(
                    1,
                    5_000,
                    phase(SessionPhase::StartPending, SessionPhase::Started),
                ),
                ev(2, 6_000, EventKind::MessageQueued { id: 1, held: false }),
            ],
        };
        let found = hot_findings(
            &RunEnd::Completed,
            None,
            &trace,
            Duration::from_secs(1),
            &[],
        );
        let keys: Vec<&str> = found.iter().map(|f| f.key.as_str()).collect();
        assert_eq!(keys, ["liveness:terminated-hot", "liveness:hot-too-long"]);
        assert!(
            found[0].message.contains("message #1 pending"),
            "{}",
            found[0].message
        );
        assert!(
            found[1].message.contains("start pending"),
            "{}",
            found[1].message
        );
        // A run cut by the step cap is reported as such, not as terminated hot.
        assert!(
            hot_findings(
                &RunEnd::StepLimit,
                None,
                &trace,
                Duration::from_secs(10),
                &[]
            )
            .is_empty()
        );
        assert_eq!(
            end_findings(&RunEnd::StepLimit, &[])[0].key,
            "liveness:step-cap"
        );
        assert_eq!(
            end_findings(&RunEnd::TimeLimit, &[])[0].key,
            "liveness:time-cap"
        );
        assert!(end_findings(&RunEnd::Completed, &[]).is_empty());
    }
}
