//! A run in the Chrome trace-event JSON format, which Perfetto (ui.perfetto.dev) and
//! `chrome://tracing` open: one track per simulated thread and one for the sink, each DDI and
//! callback as a slice (`B`/`E`) with its status, every other trace event as an instant, kernel
//! messages as flow arrows from send to delivery to completion, and each finding as a global
//! instant naming the rule.
//!
//! Time: one trace event is one microsecond (`ts` = `seq`), because most events of a run share
//! one virtual instant; each event's virtual time is in its `args`.

use super::timeline::{SINK_LANE, Timeline};
use serde_json::{Value, json};

/// The `tid` of a lane: the thread id, or one past the last thread for the sink.
fn tid(t: &Timeline, lane: u32) -> u32 {
    if lane == SINK_LANE {
        t.lanes
            .iter()
            .filter(|l| l.id != SINK_LANE)
            .map(|l| l.id + 1)
            .max()
            .unwrap_or(0)
    } else {
        lane
    }
}

/// The JSON document, pretty-printed with a trailing newline.
pub fn render(t: &Timeline) -> String {
    let mut events: Vec<Value> = vec![json!({
        "ph": "M", "pid": 1, "name": "process_name",
        "args": { "name": format!("miracast-sim: {}", t.title) }
    })];
    for (i, l) in t.lanes.iter().enumerate() {
        events.push(json!({"ph": "M", "pid": 1, "tid": tid(t, l.id), "name": "thread_name", "args": {"name": l.name}}));
        events.push(json!({"ph": "M", "pid": 1, "tid": tid(t, l.id), "name": "thread_sort_index", "args": {"sort_index": i}}));
    }
    let end = t.len();
    // Slices must nest per thread: emit begins and ends in trace order.
    let mut at: Vec<(u32, u8, Value)> = Vec::new();
    for s in &t.spans {
        let enter = &t.marks[s.enter as usize];
        at.push((
            s.enter,
            1,
            json!({"ph": "B", "pid": 1, "tid": tid(t, s.lane), "ts": s.enter, "name": s.ddi, "cat": s.direction,
                   "args": {"event": enter.text, "virtual_time_us": enter.time_us, "documented_lock": s.lock}}),
        ));
        let leave_ts = s.leave.unwrap_or(end);
        let args = match s.leave {
            Some(l) => json!({"event": t.marks[l as usize].text, "status": s.status}),
            None => json!({"event": "never returned"}),
        };
        at.push((
            leave_ts,
            0,
            json!({"ph": "E", "pid": 1, "tid": tid(t, s.lane), "ts": leave_ts, "args": args}),
        ));
    }
    for m in &t.marks {
        if m.kind == "enter" || m.kind == "leave" {
            continue;
        }
        at.push((
            m.seq,
            2,
            json!({"ph": "i", "s": "t", "pid": 1, "tid": tid(t, m.lane), "ts": m.seq, "name": m.text.splitn(4, ' ').nth(3).unwrap_or(&m.text),
                   "cat": m.kind, "args": {"event": m.text, "virtual_time_us": m.time_us}}),
        ));
    }
    for (id, a) in t
        .arrows
        .iter()
        .enumerate()
        .filter(|(_, a)| a.kind != "spawn")
    {
        at.push((
            a.from.1,
            3,
            json!({"ph": "s", "id": id, "pid": 1, "tid": tid(t, a.from.0), "ts": a.from.1, "name": a.label, "cat": a.kind}),
        ));
        at.push((
            a.to.1,
            3,
            json!({"ph": "f", "bp": "e", "id": id, "pid": 1, "tid": tid(t, a.to.0), "ts": a.to.1, "name": a.label, "cat": a.kind}),
        ));
    }
    for f in &t.findings {
        let ts = f.events.iter().min().copied().unwrap_or(end);
        at.push((
            ts,
            4,
            json!({"ph": "i", "s": "g", "pid": 1, "tid": 0, "ts": ts, "name": format!("{} {}", f.rule, f.title), "cat": "finding",
                   "args": {"culprit": f.culprit, "finding": f.text, "events": f.events}}),
        ));
    }
    // Stable order: by time, ends before begins at the same instant (a leave at `ts` closes
    // before the next enter opens), and begins in the order they were entered.
    at.sort_by_key(|(ts, order, _)| (*ts, *order));
    events.extend(at.into_iter().map(|(_, _, v)| v));
    let doc = json!({
        "displayTimeUnit": "ns",
        "otherData": {"title": t.title, "run": t.subtitle, "end": t.end, "time": "one trace event = 1 us; virtual time in args"},
        "traceEvents": events,
    });
    let mut text = serde_json::to_string_pretty(&doc).unwrap_or_default();
    text.push('\n');
    text
}
