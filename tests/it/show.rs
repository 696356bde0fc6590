//! `miracast-sim show`: the HTML timeline of a shipped failing scenario loaded in headless
//! Chromium (lanes and highlighted finding events in the DOM the page's script built, and a
//! screenshot kept under `target/show/`), the Mermaid diagram, the Perfetto export, runs from
//! tokens and reports, and byte-identical renderings of the same run.

use miracast_sim::report::timeline::{SINK_LANE, Timeline};
use miracast_sim::runner::{RunOptions, run_seeded};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const FAILING: &str = "scenarios/self-test/rules/kernel-message-unlocked.json";

/// Runs the built binary (as CI does: `CI` set).
pub fn sim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_miracast-sim"))
        .args(args)
        .env("CI", "true")
        .output()
        .expect("the binary runs")
}

/// Its stdout as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The timeline the library builds for a scenario on its own seed.
fn timeline_of(path: &str) -> Timeline {
    let (scenario, _) = miracast_sim::scenario::load(Path::new(path)).unwrap();
    let result = run_seeded(&scenario, &RunOptions::default());
    Timeline::of_run(&result, "")
}

/// Debian's Chromium (`.ci/run` installs it), or the browser named by `MIRACAST_SIM_CHROMIUM`.
fn chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("MIRACAST_SIM_CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find_map(|name| {
            std::env::var_os("PATH").and_then(|paths| {
                std::env::split_paths(&paths)
                    .map(|d| d.join(name))
                    .find(|p| p.is_file())
            })
        })
}

fn headless(browser: &Path, profile: &Path, extra: &[&str], page: &Path) -> Output {
    Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--hide-scrollbars",
            "--window-size=1600,1000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(page)
        .output()
        .expect("chromium starts")
}

/// Width and height of a PNG, from its IHDR chunk.
fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    assert_eq!(&bytes[12..16], b"IHDR");
    let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    (be(&bytes[16..20]), be(&bytes[20..24]))
}

#[test]
fn the_timeline_of_a_failing_scenario_renders_in_headless_chromium() {
    let Some(browser) = chromium() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must have Chromium (`.ci/run` installs Debian's `chromium`)"
        );
        eprintln!("no Chromium on this machine: the browser check runs in CI (`bash .ci/run`)");
        return;
    };
    let out_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/show");
    std::fs::create_dir_all(&out_dir).unwrap();
    let page = out_dir.join("kernel-message-unlocked.html");
    let o = sim(&["show", FAILING, "--out", page.to_str().unwrap()]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let html = std::fs::read_to_string(&page).unwrap();
    // Self-contained: nothing to fetch (the SVG namespace is a name, not a request).
    for needle in ["src=", "href=", "@import", "url(http", "fetch("] {
        assert!(!html.contains(needle), "the page refers to `{needle}`");
    }
    assert_eq!(
        html.matches("http").count(),
        html.matches("http://www.w3.org/2000/svg").count()
    );

    let expected = timeline_of(FAILING);
    let finding = &expected.findings[0];
    assert_eq!(finding.rule, "R30");

    let profile = tempfile::tempdir().unwrap();
    let dump = headless(&browser, profile.path(), &["--dump-dom"], &page);
    let dom = stdout(&dump);
    assert!(
        dom.contains("data-ready=\"1\""),
        "the page's script did not finish: {}",
        String::from_utf8_lossy(&dump.stderr)
    );
    // One lane per simulated thread and one for the sink, each with its label.
    let lanes = dom.matches("class=\"lane-label\"").count();
    assert_eq!(lanes, expected.lanes.len(), "lanes in the DOM");
    assert!(expected.lanes.iter().any(|l| l.id == SINK_LANE));
    for l in &expected.lanes {
        assert!(
            dom.contains(&format!("data-lane=\"{}\"", l.id)),
            "lane {}",
            l.name
        );
        assert!(
            dom.contains(&format!(">{}</div>", l.name)),
            "label {}",
            l.name
        );
    }
    // Every DDI span is drawn, and the finding's events are highlighted.
    assert_eq!(
        dom.matches("class=\"span ").count(),
        expected.spans.len(),
        "spans in the DOM"
    );
    let highlighted: BTreeSet<u32> = dom
        .split("<div class=\"span ")
        .skip(1)
        .filter(|s| s.split('"').next().unwrap_or("").contains(" hl"))
        .filter_map(|s| {
            s.split("data-enter=\"")
                .nth(1)
                .and_then(|r| r.split('"').next())
                .and_then(|n| n.parse().ok())
        })
        .collect();
    for seq in &finding.events {
        let span = expected
            .spans
            .iter()
            .find(|s| s.enter == *seq || s.leave == Some(*seq))
            .expect("the finding's events are DDI events");
        assert!(
            highlighted.contains(&span.enter),
            "event #{seq} is not highlighted ({highlighted:?})"
        );
    }
    assert!(
        dom.contains("class=\"finding active\" data-rule=\"R30\""),
        "the finding list"
    );
    assert!(dom.contains(&finding.title), "the rule's text");
    assert!(dom.contains("class=\"hl-badge\" data-rule=\"R30\""));
    assert!(dom.contains("data-kind=\"message\""), "message arrows");
    assert!(
        dom.contains("data-kind=\"completion\""),
        "completion arrows"
    );
    assert!(dom.contains("phase ph-Started"), "the phase bar");

    // The screenshot: a CI artefact under target/show/.
    let png = out_dir.join("timeline.png");
    let _ = std::fs::remove_file(&png);
    let shot = headless(
        &browser,
        profile.path(),
        &[&format!("--screenshot={}", png.display())],
        &page,
    );
    let bytes = std::fs::read(&png)
        .unwrap_or_else(|_| panic!("no screenshot: {}", String::from_utf8_lossy(&shot.stderr)));
    assert_eq!(png_size(&bytes), (1600, 1000));
    assert!(
        bytes.len() > 20_000,
        "an empty screenshot ({} bytes)",
        bytes.len()
    );
}

#[test]
fn renderings_are_byte_identical_for_the_same_run() {
    for format in ["html", "mermaid", "perfetto"] {
        let a = sim(&["show", FAILING, "--format", format]);
        let b = sim(&["show", FAILING, "--format", format]);
        assert_eq!(a.status.code(), Some(0));
        assert!(!a.stdout.is_empty());
        assert_eq!(a.stdout, b.stdout, "{format} differs between two runs");
    }
    // Another seed is another run.
    let a = sim(&["show", FAILING, "--format", "perfetto", "--seed", "1"]);
    let b = sim(&["show", FAILING, "--format", "perfetto"]);
    assert_ne!(a.stdout, b.stdout);
}

#[test]
fn mermaid_is_trimmed_around_the_finding_and_boxes_it() {
    let t = timeline_of(FAILING);
    let events = &t.findings[0].events;
    let o = sim(&["show", FAILING, "--format", "mermaid", "--context", "5"]);
    let text = stdout(&o);
    assert!(text.starts_with("sequenceDiagram\n"), "{text}");
    let first = *events.iter().min().unwrap();
    let last = *events.iter().max().unwrap();
    assert!(
        text.contains(&format!("events #{} to #{} of", first - 5, last + 5)),
        "{text}"
    );
    assert_eq!(
        text.matches("rect rgba(224, 34, 60, 0.18)").count(),
        events.len()
    );
    assert_eq!(
        text.matches("    end\n").count(),
        events.len(),
        "every box is closed"
    );
    for seq in events {
        assert!(text.contains(&format!("R30 {} (UMD) at event {seq}", t.findings[0].title)));
    }
    // Every participant an arrow or note uses is declared, and no text breaks the syntax.
    let declared: BTreeSet<&str> = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("participant "))
        .filter_map(|l| l.split(' ').next())
        .collect();
    for l in text.lines().map(str::trim) {
        if l.starts_with("%%")
            || l.starts_with("participant")
            || l == "end"
            || l.starts_with("rect")
            || l == "sequenceDiagram"
        {
            continue;
        }
        let head = l.split(':').next().unwrap();
        let names: Vec<&str> = head
            .trim_start_matches("Note over ")
            .split(|c: char| !c.is_ascii_alphanumeric())
            .filter(|w| !w.is_empty())
            .collect();
        assert!(!names.is_empty(), "{l}");
        for n in names {
            assert!(declared.contains(n), "`{n}` is not declared: {l}");
        }
        assert!(!l.contains(';') || l.contains("#35;"), "{l}");
    }
    // --full keeps the whole run.
    let full = stdout(&sim(&["show", FAILING, "--format", "mermaid", "--full"]));
    assert!(full.lines().count() > text.lines().count() * 5);
}

#[test]
fn perfetto_export_nests_slices_and_pairs_flows() {
    let t = timeline_of(FAILING);
    let o = sim(&["show", FAILING, "--format", "perfetto"]);
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let events = doc["traceEvents"].as_array().unwrap();
    let mut stacks: BTreeMap<u64, Vec<String>> = BTreeMap::new();
    let mut flows: BTreeMap<u64, (u32, u32)> = BTreeMap::new();
    let mut last_ts = 0;
    let mut names = BTreeSet::new();
    for e in events {
        let ph = e["ph"].as_str().unwrap();
        if ph == "M" {
            if e["name"] == "thread_name" {
                names.insert(e["args"]["name"].as_str().unwrap().to_owned());
            }
            continue;
        }
        let ts = e["ts"].as_u64().unwrap();
        assert!(ts >= last_ts, "events are in time order");
        last_ts = ts;
        let tid = e["tid"].as_u64().unwrap();
        match ph {
            "B" => stacks
                .entry(tid)
                .or_default()
                .push(e["name"].as_str().unwrap().to_owned()),
            "E" => {
                assert!(
                    stacks.entry(tid).or_default().pop().is_some(),
                    "E without B on {tid}"
                );
            }
            "s" => flows.entry(e["id"].as_u64().unwrap()).or_default().0 += 1,
            "f" => flows.entry(e["id"].as_u64().unwrap()).or_default().1 += 1,
            "i" => {}
            other => panic!("unexpected phase {other}"),
        }
    }
    assert!(stacks.values().all(Vec::is_empty), "unclosed slices");
    assert!(flows.values().all(|(s, f)| *s == 1 && *f == 1));
    assert_eq!(
        flows.len(),
        t.arrows.iter().filter(|a| a.kind != "spawn").count()
    );
    assert_eq!(names.len(), t.lanes.len());
    assert_eq!(
        events.iter().filter(|e| e["ph"] == "B").count(),
        t.spans.len()
    );
    assert!(
        events
            .iter()
            .any(|e| e["cat"] == "finding" && e["name"].as_str().unwrap().starts_with("R30 "))
    );
}

#[test]
fn show_takes_a_token_or_a_report_and_says_which_run() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("run.json");
    // An ordering bug found by exploration: its report's failure is shown by replaying it.
    let o = sim(&[
        "run",
        "scenarios/self-test/orderings/completion-before-send-returns.json",
        "--explore=30",
        "--first-failure",
        "--format",
        "json",
        "--out",
        json.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    let shown = sim(&["show", json.to_str().unwrap(), "--format", "mermaid"]);
    let text = stdout(&shown);
    assert_eq!(
        shown.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&shown.stderr)
    );
    assert!(text.contains("replay of "), "{text}");
    assert!(text.contains("R27"), "{text}");
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let token = doc["scenarios"][0]["explore"]["failures"][0]["token"]
        .as_str()
        .unwrap();
    let by_token = sim(&["show", token, "--format", "mermaid"]);
    assert_eq!(stdout(&by_token), text);
    // Out of range, and a report without failures, say so.
    let bad = sim(&["show", json.to_str().unwrap(), "--failure", "9"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("out of range"));
}
