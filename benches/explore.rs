//! Exploration throughput and reduction, side by side with loom and shuttle on the same model.
//!
//! Model (a): two threads each do five lock-protected steps (`*mutex.lock() += 1`), the main
//! thread checks the total. Written once for our explorer (`explore::models::lock_steps`, on
//! `Sched` + `SimMutex`), once for loom (`loom::model`, exhaustive DPOR) and once for shuttle
//! (`check_random`, `check_pct`, `check_dfs`). Model (b): the scenario corpus under
//! exploration (random schedules through `run_once`), when `scenarios/` holds scenarios, and
//! exhaustive search on corpus scenarios with and without partial-order reduction (states
//! explored, whether the search finished under a schedule cap).
//!
//! The comparison table is printed first (wall-clock rates, one run per row, best of three),
//! then criterion times the per-schedule cost.
//!
//! `cargo bench --all-features --bench explore` (add `-- --quick` for a short criterion pass).

use criterion::{Criterion, Throughput};
use miracast_sim::explore::{self, ExploreConfig, Mode, models};
use miracast_sim::sched::{RandomStrategy, Strategy};
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const THREADS: u32 = 2;
const STEPS: u32 = 5;

static EXECUTIONS: AtomicU64 = AtomicU64::new(0);

fn never() -> bool {
    false
}

/// (schedules counted, DFS states, runs made including sleep-blocked ones).
fn ours(mode: Mode, schedules: Option<u64>, reduction: bool) -> (u64, u64, u64) {
    let run = |s: Box<dyn Strategy>| models::lock_steps(THREADS, STEPS, false, s);
    let config = ExploreConfig {
        mode,
        max_schedules: schedules,
        reduction,
        shrink: false,
        ..ExploreConfig::default()
    };
    let r = explore::explore(&config, &run, &never);
    assert!(r.failures.is_empty());
    (r.schedules, r.dfs.nodes, r.schedules + r.dfs.sleep_blocked)
}

/// loom's exhaustive check, on a fresh OS thread: shuttle and loom both run their simulated
/// threads on the `generator` crate, and a thread that ran shuttle leaves state behind that
/// makes loom's generators panic (and crawl).
fn loom_model() -> u64 {
    std::thread::spawn(loom_model_here)
        .join()
        .expect("loom model thread")
}

fn loom_model_here() -> u64 {
    use loom::sync::{Arc, Mutex};
    EXECUTIONS.store(0, Ordering::Relaxed);
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = None;
    builder.check(|| {
        EXECUTIONS.fetch_add(1, Ordering::Relaxed);
        let m = Arc::new(Mutex::new(0u32));
        let hs: Vec<_> = (0..THREADS)
            .map(|_| {
                let m = m.clone();
                loom::thread::spawn(move || {
                    for _ in 0..STEPS {
                        *m.lock().unwrap() += 1;
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        assert_eq!(*m.lock().unwrap(), THREADS * STEPS);
    });
    EXECUTIONS.load(Ordering::Relaxed)
}

fn shuttle_body() {
    use shuttle::sync::{Arc, Mutex};
    EXECUTIONS.fetch_add(1, Ordering::Relaxed);
    let m = Arc::new(Mutex::new(0u32));
    let hs: Vec<_> = (0..THREADS)
        .map(|_| {
            let m = m.clone();
            shuttle::thread::spawn(move || {
                for _ in 0..STEPS {
                    *m.lock().unwrap() += 1;
                }
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    assert_eq!(*m.lock().unwrap(), THREADS * STEPS);
}

fn shuttle_run(which: &str, n: usize) -> u64 {
    EXECUTIONS.store(0, Ordering::Relaxed);
    // Shuttle replaces the panic hook and leaves its own installed; loom relies on the hook it
    // found (its generators unwind by panicking when an execution ends), so put it back.
    let saved = std::panic::take_hook();
    match which {
        "random" => shuttle::check_random(shuttle_body, n),
        "pct3" => shuttle::check_pct(shuttle_body, n, 3),
        _ => shuttle::check_dfs(shuttle_body, Some(n)),
    }
    drop(std::panic::take_hook());
    std::panic::set_hook(saved);
    EXECUTIONS.load(Ordering::Relaxed)
}

/// Best of three wall-clock timings of `f`, with what it returned.
fn timed<T>(mut f: impl FnMut() -> T) -> (T, Duration) {
    let mut best = None;
    let mut out = None;
    for _ in 0..3 {
        let t = Instant::now();
        let v = f();
        let d = t.elapsed();
        if best.is_none_or(|b| d < b) {
            best = Some(d);
        }
        out = Some(v);
    }
    (out.expect("ran"), best.expect("ran"))
}

/// One table row: `executions` counted schedules, `runs` program runs made for them.
fn row(
    tool: &str,
    mode: &str,
    executions: u64,
    runs: u64,
    states: Option<u64>,
    time: Duration,
    complete: &str,
) {
    let rate = executions as f64 / time.as_secs_f64();
    println!(
        "| {tool:<10} | {mode:<40} | {executions:>9} | {runs:>9} | {:>9} | {:>9.1} ms | {:>12.0} | {complete:<8} |",
        states.map_or("-".to_owned(), |s| s.to_string()),
        time.as_secs_f64() * 1e3,
        rate
    );
}

const HEADER: &str = "| tool       | mode                                     | schedules | runs      | states    | wall time    | schedules/s  | complete |";
const RULE: &str = "|------------|------------------------------------------|-----------|-----------|-----------|--------------|--------------|----------|";

fn comparison() {
    println!(
        "\nExploration comparison, {THREADS} threads x {STEPS} lock steps (best of 3 runs):\n"
    );
    println!("{HEADER}");
    println!("{RULE}");
    let ((n, states, runs), t) = timed(|| ours(Mode::Dfs, None, true));
    row(
        "ours",
        "dfs + sleep sets (exhaustive)",
        n,
        runs,
        Some(states),
        t,
        "yes",
    );
    let ((n, states, runs), t) = timed(|| ours(Mode::Dfs, None, false));
    row(
        "ours",
        "dfs, no reduction (exhaustive)",
        n,
        runs,
        Some(states),
        t,
        "yes",
    );
    let ((n, _, runs), t) = timed(|| ours(Mode::Random, Some(20_000), true));
    row("ours", "random, 20k", n, runs, None, t, "-");
    let ((n, _, runs), t) = timed(|| ours(Mode::Pct { depth: 3 }, Some(20_000), true));
    row("ours", "pct d=3, 20k", n, runs, None, t, "-");
    let ((n, _, runs), t) = timed(|| ours(Mode::Portfolio, Some(20_000), true));
    row(
        "ours",
        "portfolio (random, pct 2/3, dfs), 20k",
        n,
        runs,
        None,
        t,
        "-",
    );
    let (n, t) = timed(loom_model);
    row("loom 0.7", "model (DPOR, exhaustive)", n, n, None, t, "yes");
    let (n, t) = timed(|| shuttle_run("random", 20_000));
    row("shuttle", "check_random, 20k", n, n, None, t, "-");
    let (n, t) = timed(|| shuttle_run("pct3", 20_000));
    row("shuttle", "check_pct d=3, 20k", n, n, None, t, "-");
    let (n, t) = timed(|| shuttle_run("dfs", 100_000));
    row(
        "shuttle",
        "check_dfs, first 100k of 1.95M",
        n,
        n,
        None,
        t,
        "no",
    );
    corpus_rows();
    println!();
    corpus_exhaustive_rows();
}

/// Exhaustive search on corpus scenarios (reference drivers, no knobs), with and without
/// partial-order reduction, one run each (capped at `CAP` schedules).
fn corpus_exhaustive_rows() {
    const CAP: u64 = 20_000;
    let cases: [(&str, Option<u32>); 6] = [
        (
            "scenarios/conformance/start-session/bitrate-too-low.json",
            None,
        ),
        (
            "scenarios/conformance/start-session/no-monitor.json",
            Some(1),
        ),
        (
            "scenarios/conformance/lifecycle/connect-disconnect.json",
            Some(1),
        ),
        (
            "scenarios/conformance/lifecycle/connect-disconnect.json",
            Some(2),
        ),
        (
            "scenarios/self-test/os-model/umd-calls-serialized.json",
            Some(1),
        ),
        (
            "scenarios/conformance/orderings/ioctl-racing-start.json",
            Some(1),
        ),
    ];
    println!(
        "\nExhaustive search on corpus scenarios, reference drivers (one run each, cap {CAP} schedules):\n"
    );
    println!(
        "| scenario | preemptions | reduction | schedules | DFS states | wall time | finished |"
    );
    println!("|---|---|---|---|---|---|---|");
    let config = explore::scenario_run::ScenarioRunConfig::default();
    for (path, preemptions) in cases {
        let Ok((scenario, _)) = miracast_sim::scenario::load(std::path::Path::new(path)) else {
            println!("| {path} | (not found) | | | | | |");
            continue;
        };
        for reduction in [true, false] {
            let run =
                |st: Box<dyn Strategy>| explore::scenario_run::run_scenario(&scenario, &config, st);
            let c = ExploreConfig {
                mode: Mode::Dfs,
                max_schedules: Some(CAP),
                bounds: explore::Bounds {
                    max_preemptions: preemptions,
                    max_depth: None,
                },
                reduction,
                shrink: false,
                ..ExploreConfig::default()
            };
            let t = Instant::now();
            let r = explore::explore(&c, &run, &never);
            let time = t.elapsed();
            assert!(r.failures.is_empty(), "{path}: {}", r.summary());
            println!(
                "| {} | {} | {} | {} | {} | {:.2} s | {} |",
                path.trim_start_matches("scenarios/"),
                preemptions.map_or("any".to_owned(), |p| p.to_string()),
                if reduction { "sleep sets" } else { "none" },
                r.schedules,
                r.dfs.nodes,
                time.as_secs_f64(),
                if r.complete { "yes" } else { "no (cap)" }
            );
        }
    }
}

fn corpus() -> Vec<miracast_sim::scenario::Scenario> {
    let mut out = Vec::new();
    let mut dirs = vec![std::path::PathBuf::from("scenarios")];
    while let Some(d) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        let mut entries: Vec<_> = entries.flatten().map(|e| e.path()).collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|e| e == "json")
                && let Ok((s, _)) = miracast_sim::scenario::load(&p)
            {
                out.push(s);
            }
        }
    }
    out
}

fn corpus_rows() {
    let scenarios = corpus();
    if scenarios.is_empty() {
        println!("| corpus     | (no scenarios found under scenarios/)    |");
        return;
    }
    let config = explore::scenario_run::ScenarioRunConfig::default();
    let per = 100u64;
    let (n, t) = timed(|| {
        let mut n = 0;
        for s in &scenarios {
            let run = |st: Box<dyn Strategy>| explore::scenario_run::run_scenario(s, &config, st);
            let c = ExploreConfig {
                mode: Mode::Portfolio,
                max_schedules: Some(per),
                shrink: false,
                ..ExploreConfig::default()
            };
            n += explore::explore(&c, &run, &never).schedules;
        }
        n
    });
    row(
        "ours",
        &format!("corpus: {} scenarios x {per} (portfolio)", scenarios.len()),
        n,
        n,
        None,
        t,
        "-",
    );
}

fn criterion_benches(c: &mut Criterion) {
    let mut g = c.benchmark_group("explore-2x5");
    g.throughput(Throughput::Elements(1));
    let mut seed = 0;
    g.bench_function("ours: one random schedule", |b| {
        b.iter(|| {
            seed += 1;
            black_box(models::lock_steps(
                THREADS,
                STEPS,
                false,
                Box::new(RandomStrategy::new(seed)),
            ))
        })
    });
    g.throughput(Throughput::Elements(252));
    g.bench_function("ours: exhaustive dfs + sleep sets (252 schedules)", |b| {
        b.iter(|| black_box(ours(Mode::Dfs, None, true)))
    });
    g.throughput(Throughput::Elements(100));
    g.bench_function("shuttle: check_random 100", |b| {
        b.iter(|| black_box(shuttle_run("random", 100)))
    });
    g.sample_size(10);
    g.throughput(Throughput::Elements(4_158));
    g.bench_function("loom: model exhaustive (4158 executions)", |b| {
        b.iter(|| black_box(loom_model()))
    });
    g.finish();
}

fn main() {
    comparison();
    let mut c = Criterion::default().configure_from_args();
    criterion_benches(&mut c);
    c.final_summary();
}
