//! Step scaling: scenarios of 10,000, 100,000 and 1,000,000 steps of one kind, each parsed,
//! resolved and run once to its end (trace off, as exploration runs; no poll limit), reporting
//! wall time and peak memory per step. Both must stay flat as the step count grows: a cost that
//! grows with the number of steps done so far (quadratic time, memory kept per finished step)
//! shows up as a growing per-step figure.
//!
//! `cargo bench --bench steps` (all sizes and kinds), `cargo bench --bench steps -- 100000`
//! (sizes up to that), `cargo bench --bench steps -- Advance` (one kind). Peak memory is the
//! process's resident high-water mark (`VmHWM`) above its resident memory before the scenario,
//! the mark reset through `/proc/self/clear_refs` (Linux; elsewhere only time is reported).
//! Memory a scenario freed stays in the process, so a later scenario that fits in it shows a
//! lower peak than it has: for memory, run one kind per process.

use miracast_sim::runner::{self, RunOptions};
use miracast_sim::scenario;
use miracast_sim::sched::{RunEnd, RunLimits};
use std::time::Instant;

fn scenario_text(kind: &str, steps: usize) -> String {
    let step = match kind {
        "Advance" => r#"{"op": "Advance", "by": "1ms"}"#,
        "KmdSendMessage" => r#"{"op": "KmdSendMessage", "payload": "PING:1", "output_size": 64}"#,
        other => panic!("no step kind {other}"),
    };
    let mut text = String::with_capacity(steps * (step.len() + 3) + 256);
    text.push_str(r#"{"version": 1, "name": "steps", "steps": [{"op": "AdapterBringUp"}, {"op": "Connect", "expect_status": "STATUS_SUCCESS"}"#);
    for _ in 0..steps {
        text.push_str(",\n");
        text.push_str(step);
    }
    text.push_str(r#", {"op": "Disconnect"}], "expect": {}}"#);
    text
}

/// Resident memory now and its high-water mark, in KiB (Linux).
fn memory() -> Option<(u64, u64)> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let field = |name: &str| -> Option<u64> {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

fn main() {
    // `cargo bench` passes `--bench`; a bare number caps the sizes.
    let args: Vec<String> = std::env::args().skip(1).collect();
    let cap: usize = args
        .iter()
        .find_map(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let kinds: Vec<&str> = ["Advance", "KmdSendMessage"]
        .into_iter()
        .filter(|k| {
            !args.iter().any(|a| a == "Advance" || a == "KmdSendMessage")
                || args.iter().any(|a| a == k)
        })
        .collect();
    println!(
        "{:<15} {:>9} {:>9} {:>12} {:>11} {:>13}",
        "step", "steps", "time s", "time/step", "peak MiB", "peak/step"
    );
    for kind in kinds {
        for steps in [10_000usize, 100_000, 1_000_000] {
            if steps > cap {
                continue;
            }
            let text = scenario_text(kind, steps);
            let base = memory().map_or(0, |(rss, _)| rss);
            let peak_known = reset_peak();
            let started = Instant::now();
            let parsed = scenario::parse("steps.json", &text).expect("the bench scenario is valid");
            let result = runner::run_seeded(
                &parsed,
                &RunOptions {
                    trace: false,
                    // The default poll limit (2,000,000) would end a long scenario early.
                    limits: RunLimits {
                        max_steps: u64::MAX,
                        ..RunLimits::default()
                    },
                    ..RunOptions::default()
                },
            );
            let took = started.elapsed();
            assert_eq!(result.end, RunEnd::Completed, "{kind} x {steps}");
            assert!(
                result.steps.iter().all(|s| s.ran),
                "{kind} x {steps}: a step did not run"
            );
            assert!(result.violations.is_empty(), "{:?}", result.violations);
            let peak = memory()
                .filter(|_| peak_known)
                .map(|(_, hwm)| hwm.saturating_sub(base));
            drop(result);
            drop(parsed);
            println!(
                "{:<15} {:>9} {:>9.2} {:>10.2}µs {:>11} {:>13}",
                kind,
                steps,
                took.as_secs_f64(),
                took.as_secs_f64() * 1e6 / steps as f64,
                peak.map_or("-".to_owned(), |p| format!("{:.1}", p as f64 / 1024.0)),
                peak.map_or("-".to_owned(), |p| format!(
                    "{:.0} B",
                    p as f64 * 1024.0 / steps as f64
                )),
            );
        }
    }
}
