//! The exploration loop: many schedules of one program, over every core, with a budget.

use super::coverage::Coverage;
use super::dfs::{Bounds, DfsStats, DfsTree};
use super::shrink::{Shrunk, shrink};
use super::strategies::PctStrategy;
use super::{Finding, Outcome, RunFn};
use crate::sched::{Choice, RandomStrategy, ReplayStrategy, Strategy};
use crate::trace::Trace;
use serde::Serialize;
use std::collections::{BTreeMap, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Which strategy chooses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum Mode {
    /// Seeded uniform random, seed = base seed + schedule index.
    Random,
    /// PCT of this depth, seed = base seed + schedule index.
    Pct {
        /// Bug depth `d` (d - 1 priority change points).
        depth: u32,
    },
    /// Exhaustive depth-first search (with the bounds and reduction of the config).
    Dfs,
    /// Rotated per schedule: random, PCT d=2, PCT d=3, bounded DFS (random once DFS is done).
    Portfolio,
}

/// `--partition K/N`: this machine explores part `part` (0-based) of `parts`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Partition {
    /// This part, `0..parts`.
    pub part: u64,
    /// Number of parts.
    pub parts: u64,
}

impl Default for Partition {
    fn default() -> Self {
        Partition { part: 0, parts: 1 }
    }
}

/// What to explore and how far.
#[derive(Clone, Debug)]
pub struct ExploreConfig {
    /// Strategy.
    pub mode: Mode,
    /// Most schedules to run (over all workers of this machine); `None`: until DFS is done or
    /// the budget stops it (random and PCT need one of the two).
    pub max_schedules: Option<u64>,
    /// Base seed.
    pub seed: u64,
    /// DFS bounds (the portfolio's DFS uses at most 2 preemptions unless set).
    pub bounds: Bounds,
    /// Sleep-set partial-order reduction in DFS.
    pub reduction: bool,
    /// Worker threads, each with its own simulation.
    pub jobs: usize,
    /// Split across machines.
    pub partition: Partition,
    /// Stop everything at the first failing schedule.
    pub stop_at_first_failure: bool,
    /// Replay each schedule and compare trace hashes.
    pub check_determinism: bool,
    /// Shrink each distinct failure.
    pub shrink: bool,
    /// Replay budget per shrink.
    pub shrink_runs: u32,
    /// Replay these choices at the start of every schedule, then explore (`--then-explore`).
    pub prefix: Vec<Choice>,
    /// Scenario file and content hash, for replay tokens.
    pub scenario: (String, String),
    /// The backend stamp for replay tokens (`model`, or `real` with library hashes).
    pub backend: String,
    /// Schedule indices not to run (the seeded schedules under which a driver binary crashed
    /// an isolated child: its replacement runs every other schedule, the same ones one process
    /// would have run, and finds again what the dead child had found).
    pub skip: Vec<u64>,
    /// Leave out depth-first search (its tree lives in the process that died; a portfolio then
    /// runs its seeded families only).
    pub skip_dfs: bool,
    /// Called with each schedule's index before it runs (the isolated child streams it).
    pub announce: Option<fn(u64)>,
}

impl Default for ExploreConfig {
    fn default() -> Self {
        ExploreConfig {
            mode: Mode::Portfolio,
            max_schedules: Some(1000),
            seed: 0,
            bounds: Bounds::default(),
            reduction: true,
            jobs: 1,
            partition: Partition::default(),
            stop_at_first_failure: false,
            check_determinism: false,
            shrink: true,
            shrink_runs: 200,
            prefix: Vec::new(),
            scenario: (String::new(), String::new()),
            backend: "model".to_owned(),
            skip: Vec::new(),
            skip_dfs: false,
            announce: None,
        }
    }
}

/// Distinct schedules are told apart by a hash each, kept up to this many per exploration, so
/// the memory of a run stays bounded whatever the schedule count (passing schedules are not
/// kept in any other form).
pub const DISTINCT_CAP: usize = 1 << 16;

/// One distinct failure (the first schedule that showed each finding key).
#[derive(Clone, Debug, Serialize)]
pub struct Failure {
    /// The finding.
    pub finding: Finding,
    /// The strategy that found it.
    pub strategy: String,
    /// Its seed (random and PCT; the base seed otherwise).
    pub seed: u64,
    /// Which schedule of the exploration (per worker order) it was.
    pub schedule_index: u64,
    /// The failing schedule as run.
    #[serde(skip)]
    pub choices: Vec<Choice>,
    /// The shrunk schedule, when shrinking ran.
    pub shrunk: Option<Shrunk>,
    /// Replay token of the smallest failing schedule (the shrunk one when there is one).
    pub token: String,
    /// Replay token of the original schedule.
    pub original_token: String,
}

/// A schedule whose two runs differed.
#[derive(Clone, Debug, Serialize)]
pub struct NondeterminismReport {
    /// The strategy of the schedule.
    pub strategy: String,
    /// Index of the first differing trace event.
    pub index: usize,
    /// The event in the first run.
    pub first: Option<String>,
    /// The event in the replay.
    pub second: Option<String>,
}

/// What an exploration did and found.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ExploreReport {
    /// Schedules run and counted (sleep-blocked runs and partition probes excluded).
    pub schedules: u64,
    /// Distinct schedules among them (by their choice lists), counted exactly up to
    /// [`DISTINCT_CAP`]; past it, at least that many.
    pub distinct_schedules: u64,
    /// More schedules than [`DISTINCT_CAP`] ran, so `distinct_schedules` is a lower bound.
    pub distinct_capped: bool,
    /// Schedules with at least one finding.
    pub failing_schedules: u64,
    /// Choice points passed, summed over counted schedules.
    pub choice_points: u64,
    /// DFS counters (nodes = states visited).
    pub dfs: DfsStats,
    /// The DFS finished every schedule within its bounds (only for `Mode::Dfs`).
    pub complete: bool,
    /// The wall-clock budget stopped the exploration.
    pub budget_exhausted: bool,
    /// How far the DFS got when it stopped: (option, options) at the first levels per worker.
    pub progress: Vec<Vec<(u32, u32)>>,
    /// Distinct failures, smallest schedule first.
    pub failures: Vec<Failure>,
    /// Schedules by strategy family.
    pub by_strategy: BTreeMap<String, u64>,
    /// Schedules that showed each finding key (`R27`, `deadlock`, `expect`, ...).
    pub by_finding: BTreeMap<String, u64>,
    /// Visited (DDI, phase, message) combinations.
    pub coverage: Coverage,
    /// Determinism self-check failures.
    pub nondeterminism: Vec<NondeterminismReport>,
}

impl ExploreReport {
    /// Human summary: the [`header`](Self::header), then every failure as `FAIL key ...`
    /// with its replay token, and any nondeterminism. A scenario's exploration is printed by
    /// [`super::verdict::ExploreVerdict::render`] instead, which knows what the scenario
    /// expects.
    pub fn summary(&self) -> String {
        let mut s = self.header();
        if self.failures.is_empty() {
            s.push_str("no failure found\n");
        }
        for f in &self.failures {
            s.push_str(&self.failure_text(f, "FAIL"));
        }
        s.push_str(&self.nondeterminism_text());
        s
    }

    /// `explored N schedules (...)`: how much was explored and how it ended, one line.
    pub fn header(&self) -> String {
        format!(
            "explored {} schedules ({}{} distinct, {} failing, {} choice points, {} DFS states{}){}{}\n",
            self.schedules,
            self.distinct_schedules,
            if self.distinct_capped { "+" } else { "" },
            self.failing_schedules,
            self.choice_points,
            self.dfs.nodes,
            if self.dfs.sleep_blocked > 0 {
                format!(", {} pruned by sleep sets", self.dfs.sleep_blocked)
            } else {
                String::new()
            },
            if self.complete {
                "; exhaustive within bounds: done"
            } else {
                ""
            },
            if self.budget_exhausted {
                let at: Vec<String> = self
                    .progress
                    .iter()
                    .map(|levels| {
                        let path: Vec<String> = levels
                            .iter()
                            .map(|(o, n)| format!("{}/{n}", o + 1))
                            .collect();
                        path.join(" > ")
                    })
                    .collect();
                format!(
                    "; the time budget ran out with the DFS at option {} of the first levels",
                    if at.is_empty() {
                        "-".to_owned()
                    } else {
                        at.join(" | ")
                    }
                )
            } else {
                String::new()
            }
        )
    }

    /// Schedules that showed the finding `key`.
    pub fn schedules_with(&self, key: &str) -> u64 {
        self.by_finding.get(key).copied().unwrap_or(0)
    }

    /// One failure: `LABEL key in N of M schedules [message] found by ...`, the shrinking and
    /// the replay token (three lines).
    pub fn failure_text(&self, f: &Failure, label: &str) -> String {
        format!(
            "{label} {} in {} of {} schedules [{}] found by {} (schedule {})\n  {}\n  replay: {}\n",
            f.finding.key,
            self.schedules_with(&f.finding.key),
            self.schedules,
            f.finding.message,
            f.strategy,
            f.schedule_index,
            f.shrunk
                .as_ref()
                .map_or("not shrunk".to_owned(), |x| x.describe()),
            f.token
        )
    }

    /// The determinism self-check's failures, one line each.
    pub fn nondeterminism_text(&self) -> String {
        self.nondeterminism
            .iter()
            .map(|n| {
                format!(
                    "NONDETERMINISM under {}: first difference at event {}: {:?} vs {:?}\n",
                    n.strategy, n.index, n.first, n.second
                )
            })
            .collect()
    }
}

struct WorkerResult {
    capped: bool,
    schedules: u64,
    failing: u64,
    choice_points: u64,
    hashes: HashSet<u64>,
    dfs: DfsStats,
    complete: bool,
    progress: Vec<(u32, u32)>,
    failures: Vec<Failure>,
    by_strategy: BTreeMap<String, u64>,
    by_finding: BTreeMap<String, u64>,
    coverage: Coverage,
    nondeterminism: Vec<NondeterminismReport>,
}

fn schedule_hash(choices: &[Choice]) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    choices.hash(&mut h);
    h.finish()
}

fn family(description: &str) -> String {
    description
        .split('(')
        .next()
        .unwrap_or(description)
        .to_owned()
}

/// Builds the replay token of a schedule (the runner's format, one format for the project).
pub fn token_for(
    config: &ExploreConfig,
    strategy: &str,
    seed: u64,
    choices: &[Choice],
    finding: &str,
) -> String {
    super::token::encode(
        &config.scenario.0,
        &config.scenario.1,
        strategy,
        seed,
        &config.bounds,
        choices,
        finding,
        &config.backend,
    )
}

/// Explores `run` under `config` until done, out of schedules, or `stop()` says so (the
/// caller's wall-clock budget: the core reads no clock).
pub fn explore(
    config: &ExploreConfig,
    run: &RunFn<'_>,
    stop: &(dyn Fn() -> bool + Sync),
) -> ExploreReport {
    explore_observed(config, run, stop, &|_| {})
}

/// [`explore`], calling `on_schedule(failed)` after every counted schedule (from the worker
/// that ran it), so the caller can show progress.
pub fn explore_observed(
    config: &ExploreConfig,
    run: &RunFn<'_>,
    stop: &(dyn Fn() -> bool + Sync),
    on_schedule: &(dyn Fn(bool) + Sync),
) -> ExploreReport {
    let jobs = config.jobs.max(1) as u64;
    let counted = AtomicU64::new(0);
    let halt = AtomicBool::new(false);
    let results: Mutex<Vec<WorkerResult>> = Mutex::new(Vec::new());
    let budget_hit = AtomicBool::new(false);
    std::thread::scope(|scope| {
        for w in 0..jobs {
            let (counted, halt, results, budget_hit) = (&counted, &halt, &results, &budget_hit);
            scope.spawn(move || {
                let part = (
                    config.partition.part * jobs + w,
                    config.partition.parts.max(1) * jobs,
                );
                let r = worker(
                    config,
                    run,
                    stop,
                    on_schedule,
                    part,
                    counted,
                    halt,
                    budget_hit,
                );
                results.lock().expect("worker results").push(r);
            });
        }
    });
    let mut report = ExploreReport {
        complete: config.mode == Mode::Dfs,
        budget_exhausted: budget_hit.load(Ordering::Relaxed),
        ..ExploreReport::default()
    };
    let mut hashes = HashSet::new();
    let mut failures: BTreeMap<String, Failure> = BTreeMap::new();
    for r in results.into_inner().expect("worker results") {
        report.schedules += r.schedules;
        report.failing_schedules += r.failing;
        report.choice_points += r.choice_points;
        report.distinct_capped |= r.capped;
        for h in r.hashes {
            if hashes.len() < DISTINCT_CAP {
                hashes.insert(h);
            } else if !hashes.contains(&h) {
                report.distinct_capped = true;
            }
        }
        report.dfs.nodes += r.dfs.nodes;
        report.dfs.sleep_blocked += r.dfs.sleep_blocked;
        report.dfs.depth_bounded += r.dfs.depth_bounded;
        report.dfs.partition_probes += r.dfs.partition_probes;
        report.complete &= r.complete;
        if !r.progress.is_empty() {
            report.progress.push(r.progress);
        }
        for (k, n) in r.by_strategy {
            *report.by_strategy.entry(k).or_default() += n;
        }
        for (k, n) in r.by_finding {
            *report.by_finding.entry(k).or_default() += n;
        }
        report.coverage.merge(&r.coverage);
        report.nondeterminism.extend(r.nondeterminism);
        for f in r.failures {
            let keep = failures
                .get(&f.finding.key)
                .is_none_or(|old| f.choices.len() < old.choices.len());
            if keep {
                failures.insert(f.finding.key.clone(), f);
            }
        }
    }
    report.distinct_schedules = hashes.len() as u64;
    for (_, mut f) in failures {
        if config.shrink {
            let s = shrink(run, &f.choices, &f.finding.key, config.shrink_runs);
            let shrunk_by = format!("{} shrunk", f.strategy);
            f.token = token_for(config, &shrunk_by, f.seed, &s.choices, &f.finding.key);
            f.shrunk = Some(s);
        }
        report.failures.push(f);
    }
    report.failures.sort_by_key(|f| {
        f.shrunk
            .as_ref()
            .map_or((usize::MAX, usize::MAX, usize::MAX, f.choices.len()), |s| {
                (s.preemptions, s.threads, s.deviations, s.significant_len)
            })
    });
    report
}

#[allow(clippy::too_many_arguments)]
fn worker(
    config: &ExploreConfig,
    run: &RunFn<'_>,
    stop: &(dyn Fn() -> bool + Sync),
    on_schedule: &(dyn Fn(bool) + Sync),
    (part, parts): (u64, u64),
    counted: &AtomicU64,
    halt: &AtomicBool,
    budget_hit: &AtomicBool,
) -> WorkerResult {
    let mut r = WorkerResult {
        capped: false,
        schedules: 0,
        failing: 0,
        choice_points: 0,
        hashes: HashSet::new(),
        dfs: DfsStats::default(),
        complete: false,
        progress: Vec::new(),
        failures: Vec::new(),
        by_strategy: BTreeMap::new(),
        by_finding: BTreeMap::new(),
        coverage: Coverage::default(),
        nondeterminism: Vec::new(),
    };
    let mut bounds = config.bounds;
    if config.mode == Mode::Portfolio && bounds.max_preemptions.is_none() {
        bounds.max_preemptions = Some(2);
    }
    let tree = DfsTree::new(bounds, config.reduction, (part, parts));
    let mut seen_keys: HashSet<String> = HashSet::new();
    let mut estimated_len: u64 = 50;
    let mut k: u64 = 0; // this worker's k-th schedule; global index = part + k * parts
    loop {
        if halt.load(Ordering::Relaxed) {
            break;
        }
        if stop() {
            budget_hit.store(true, Ordering::Relaxed);
            break;
        }
        if config.skip.contains(&(part + k * parts)) {
            k += 1;
            continue;
        }
        // Reserve this schedule's slot first, so workers together run exactly the maximum.
        // A refused reservation leaves the count alone: another worker may give back a slot
        // it reserved for an uncounted DFS probe, and runs it itself.
        if let Some(m) = config.max_schedules
            && counted
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |c| {
                    (c < m).then_some(c + 1)
                })
                .is_err()
        {
            break;
        }
        let index = part + k * parts;
        k += 1;
        let seed = config.seed.wrapping_add(index);
        let slot = match config.mode {
            // Rotate per schedule of this worker, so every worker runs every family.
            Mode::Portfolio => (k - 1) % 4,
            Mode::Random => 0,
            Mode::Pct { .. } => 1,
            Mode::Dfs => 3,
        };
        let mut is_dfs = false;
        let base: Box<dyn Strategy> = match (config.mode, slot) {
            (Mode::Pct { depth }, _) => Box::new(PctStrategy::new(seed, depth, estimated_len)),
            (_, 1) => Box::new(PctStrategy::new(seed, 2, estimated_len)),
            (_, 2) => Box::new(PctStrategy::new(seed, 3, estimated_len)),
            (_, 3) if config.skip_dfs && config.mode == Mode::Dfs => break,
            (_, 3) if config.skip_dfs => Box::new(RandomStrategy::new(seed)),
            (_, 3) => match DfsTree::next_run(&tree) {
                Some(s) => {
                    is_dfs = true;
                    Box::new(s)
                }
                None if config.mode == Mode::Dfs => {
                    r.complete = true;
                    break;
                }
                None => Box::new(RandomStrategy::new(seed)),
            },
            _ => Box::new(RandomStrategy::new(seed)),
        };
        let strategy: Box<dyn Strategy> = if config.prefix.is_empty() {
            base
        } else {
            Box::new(ReplayStrategy::new(config.prefix.clone(), base))
        };
        let description = strategy.describe();
        if let Some(announce) = config.announce {
            announce(index);
        }
        let outcome = run(strategy);
        // Only DFS runs may be uncounted (sleep-blocked, or another partition's probe); the
        // seeded strategies split by index instead.
        let counts = if is_dfs {
            tree.borrow_mut().backtrack()
        } else {
            true
        };
        if !counts {
            if config.max_schedules.is_some() {
                counted.fetch_sub(1, Ordering::Relaxed);
            }
            continue;
        }
        r.schedules += 1;
        r.choice_points += outcome.schedule.len() as u64;
        estimated_len = estimated_len.max(outcome.schedule.len() as u64);
        let h = schedule_hash(&outcome.schedule);
        if r.hashes.len() < DISTINCT_CAP {
            r.hashes.insert(h);
        } else if !r.hashes.contains(&h) {
            r.capped = true;
        }
        *r.by_strategy.entry(family(&description)).or_default() += 1;
        if let Some(keys) = &outcome.coverage {
            r.coverage.add(keys);
        }
        if config.check_determinism {
            let again = run(Box::new(ReplayStrategy::new(
                outcome.schedule.clone(),
                Box::new(crate::sched::FirstStrategy),
            )));
            if let Some(n) = compare_runs(&description, &outcome, &again) {
                r.nondeterminism.push(n);
            }
        }
        if !outcome.findings.is_empty() {
            r.failing += 1;
        }
        on_schedule(!outcome.findings.is_empty());
        let mut keys_here: Vec<&str> = outcome.findings.iter().map(|f| f.key.as_str()).collect();
        keys_here.sort_unstable();
        keys_here.dedup();
        for k in keys_here {
            *r.by_finding.entry(k.to_owned()).or_default() += 1;
        }
        for f in &outcome.findings {
            if seen_keys.insert(f.key.clone()) {
                let token = token_for(config, &description, seed, &outcome.schedule, &f.key);
                r.failures.push(Failure {
                    finding: f.clone(),
                    strategy: description.clone(),
                    seed,
                    schedule_index: index,
                    choices: outcome.schedule.clone(),
                    shrunk: None,
                    original_token: token.clone(),
                    token,
                });
            }
        }
        if config.stop_at_first_failure && !outcome.findings.is_empty() {
            halt.store(true, Ordering::Relaxed);
        }
    }
    let t = tree.borrow();
    r.dfs = t.stats();
    if config.mode == Mode::Dfs && t.finished() {
        r.complete = true;
    }
    if !t.finished() && matches!(config.mode, Mode::Dfs | Mode::Portfolio) {
        r.progress = t.progress();
    }
    r
}

fn compare_runs(strategy: &str, a: &Outcome, b: &Outcome) -> Option<NondeterminismReport> {
    let empty = Trace::default();
    match (a.trace_hash, b.trace_hash) {
        (Some(x), Some(y)) if x == y => None,
        (Some(_), Some(_)) => {
            let (ta, tb) = (
                a.trace.as_ref().unwrap_or(&empty),
                b.trace.as_ref().unwrap_or(&empty),
            );
            let (index, first, second) = ta.first_difference(tb).unwrap_or((0, None, None));
            Some(NondeterminismReport {
                strategy: strategy.to_owned(),
                index,
                first: first.map(|e| e.to_string()),
                second: second.map(|e| e.to_string()),
            })
        }
        _ if a.schedule != b.schedule => Some(NondeterminismReport {
            strategy: strategy.to_owned(),
            index: a
                .schedule
                .iter()
                .zip(&b.schedule)
                .position(|(x, y)| x != y)
                .unwrap_or(a.schedule.len().min(b.schedule.len())),
            first: Some("choice list of the first run".to_owned()),
            second: Some("differs in the replay".to_owned()),
        }),
        _ => None,
    }
}
