//! A run as a Mermaid sequence diagram (renders in GitHub pull requests and Markdown viewers):
//! one participant per simulated thread, the KMD, the UMD and the sink; each DDI call and
//! return, kernel message and completion as an arrow; phases, steps and notes as notes; and
//! each finding's events boxed in red with the rule's text.
//!
//! By default it is trimmed to the trace events around the findings (`context` events before
//! the first and after the last), so a diagram of a long run stays readable.

use super::timeline::{SINK_LANE, Timeline};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

/// Text Mermaid accepts in a message or note: no line breaks, no `;` (a statement separator)
/// and `#` written as its entity.
fn clean(text: &str) -> String {
    text.replace(['\n', '\r'], " ")
        .replace(';', ",")
        .replace('#', "#35;")
}

/// The event's text after `#seq time tN `.
fn short(text: &str) -> &str {
    text.splitn(4, ' ').nth(3).unwrap_or(text)
}

fn participant(lane: u32) -> String {
    if lane == SINK_LANE {
        "Sink".to_owned()
    } else {
        format!("t{lane}")
    }
}

/// The diagram. `context`: `Some(n)` keeps `n` events around the findings, `None` the whole
/// run (as does a run without findings that point at events).
pub fn render(t: &Timeline, context: Option<u32>) -> String {
    let hl: BTreeMap<u32, Vec<usize>> = t
        .findings
        .iter()
        .enumerate()
        .flat_map(|(i, f)| f.events.iter().map(move |s| (*s, i)))
        .fold(BTreeMap::new(), |mut m, (s, i)| {
            m.entry(s).or_insert_with(Vec::new).push(i);
            m
        });
    let (lo, hi) = match (context, hl.keys().next(), hl.keys().next_back()) {
        (Some(c), Some(first), Some(last)) => (first.saturating_sub(c), last.saturating_add(c)),
        _ => (0, u32::MAX),
    };
    let spans_by_enter: BTreeMap<u32, usize> = t
        .spans
        .iter()
        .enumerate()
        .map(|(i, s)| (s.enter, i))
        .collect();
    let spans_by_leave: BTreeMap<u32, usize> = t
        .spans
        .iter()
        .enumerate()
        .filter_map(|(i, s)| s.leave.map(|l| (l, i)))
        .collect();
    let arrows_at: BTreeMap<u32, Vec<usize>> =
        t.arrows
            .iter()
            .enumerate()
            .fold(BTreeMap::new(), |mut m, (i, a)| {
                if a.kind != "spawn" {
                    m.entry(a.to.1).or_insert_with(Vec::new).push(i);
                }
                m
            });
    let mut body = String::new();
    let mut used: BTreeSet<String> = BTreeSet::new();
    let mut drivers: BTreeSet<&str> = BTreeSet::new();
    for m in t.marks.iter().filter(|m| m.seq >= lo && m.seq <= hi) {
        let me = participant(m.lane);
        let mut lines: Vec<String> = Vec::new();
        if let Some(i) = spans_by_enter.get(&m.seq) {
            let s = &t.spans[*i];
            let (from, to) = match s.direction {
                "os->kmd" => (me.clone(), "KMD".to_owned()),
                "kmd->os" => ("KMD".to_owned(), me.clone()),
                "os->umd" => (me.clone(), "UMD".to_owned()),
                _ => ("UMD".to_owned(), me.clone()),
            };
            let call = short(&m.text);
            lines.push(format!(
                "{from}->>{to}: {}",
                clean(call.strip_prefix("enter ").unwrap_or(call))
            ));
        } else if let Some(i) = spans_by_leave.get(&m.seq) {
            let s = &t.spans[*i];
            let (from, to) = match s.direction {
                "os->kmd" => ("KMD".to_owned(), me.clone()),
                "kmd->os" => (me.clone(), "KMD".to_owned()),
                "os->umd" => ("UMD".to_owned(), me.clone()),
                _ => (me.clone(), "UMD".to_owned()),
            };
            lines.push(match &s.status {
                Some(status) => format!("{from}-->>{to}: {} returns {}", s.ddi, clean(status)),
                None => format!("{from}-->>{to}: {} returns", s.ddi),
            });
        } else if let Some(arrows) = arrows_at.get(&m.seq) {
            for a in arrows {
                let a = &t.arrows[*a];
                let from = participant(a.from.0);
                used.insert(from.clone());
                let head = if a.kind == "dropped" { "-x" } else { "-)" };
                lines.push(format!("{from}{head}{me}: {}", clean(&a.label)));
            }
        } else if m.kind != "time" {
            lines.push(format!("Note over {me}: {}", clean(short(&m.text))));
        }
        if lines.is_empty() {
            continue;
        }
        for l in &lines {
            for p in ["KMD", "UMD"] {
                if l.starts_with(p) || l.contains(&format!(">{p}:")) {
                    drivers.insert(p);
                }
            }
        }
        used.insert(me.clone());
        match hl.get(&m.seq) {
            Some(findings) => {
                let _ = writeln!(body, "    rect rgba(224, 34, 60, 0.18)");
                for l in &lines {
                    let _ = writeln!(body, "    {l}");
                }
                for i in findings {
                    let f = &t.findings[*i];
                    let _ = writeln!(
                        body,
                        "    Note over {me}: {} {} ({}) at event {}",
                        f.rule,
                        clean(&f.title),
                        clean(&f.culprit),
                        m.seq
                    );
                }
                let _ = writeln!(body, "    end");
            }
            None => {
                for l in &lines {
                    let _ = writeln!(body, "    {l}");
                }
            }
        }
    }
    let mut out = String::from("sequenceDiagram\n");
    let _ = writeln!(
        out,
        "    %% {} - {}{}",
        clean(&t.title),
        clean(&t.subtitle),
        if hi == u32::MAX {
            String::new()
        } else {
            format!(
                " - events #{lo} to #{} of {}",
                hi.min(t.len().saturating_sub(1)),
                t.len()
            )
        }
    );
    for l in &t.lanes {
        let p = participant(l.id);
        if used.contains(&p) && l.id != SINK_LANE {
            let _ = writeln!(out, "    participant {p} as {}", clean(&l.name));
        }
    }
    for d in drivers {
        let _ = writeln!(out, "    participant {d} as {d} under test");
    }
    if used.contains("Sink") {
        let _ = writeln!(out, "    participant Sink as WFD sink");
    }
    for f in &t.findings {
        let _ = writeln!(
            out,
            "    %% {} {} ({}): {}",
            f.rule,
            clean(&f.title),
            clean(&f.culprit),
            clean(&f.text)
        );
    }
    out.push_str(&body);
    out
}
