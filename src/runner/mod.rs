//! The runner: plays one scenario against a driver under one scheduling strategy, collects what
//! happened, and judges it against the scenario's `expect`.
//!
//! [`run_once`] builds a fresh world per call (scheduler, findings, drivers, OS, sink), runs the
//! steps as simulated OS threads, then gathers the online findings, the trace checks, the races
//! the scheduler saw, the step statuses and the end state into a [`RunResult`]. It is
//! deterministic (same scenario, options and strategy: byte-identical trace text), never panics
//! on driver behaviour (a panic inside the simulation becomes a failed result), and can run
//! with the trace off for exploration ([`RunOptions::trace`]).
//!
//! Map:
//! - `drivers`: the reference models, or a driver binary (`real:PATH`, feature `real-driver`).
//! - `exec`: the step interpreter (one simulated thread per step list).
//! - [`judge`](mod@judge): [`RunResult`] + `expect` -> [`Verdict`].
//! - [`replay`]: replay tokens (`miracast-sim replay TOKEN`).

mod drivers;
mod exec;
pub mod judge;
pub mod replay;
pub mod support;

pub use judge::{Verdict, judge};
pub use replay::ReplayToken;
pub use support::cannot_run;

use crate::os::{Os, OsSnapshot};
use crate::rules::trace_checks::{self, TraceCheckConfig};
use crate::rules::{Findings, Violation, race_violation};
use crate::scenario::{Backend, Scenario, SinkAdapter};
use crate::sched::{Choice, Divergence, RandomStrategy, RunEnd, RunLimits, Sched, Strategy};
use crate::status::NtStatus;
use crate::trace::{EventKind, Trace};
use serde::{Deserialize, Serialize};
use std::rc::Rc;
use std::time::Duration;

/// How to run.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Record the trace. Off, the run is faster and still yields online findings and races,
    /// but neither trace checks nor trace expectations (`happens`, `before`, `never`) run.
    pub trace: bool,
    /// Overrides the scenario's `setup.driver.backend`.
    pub backend: Option<Backend>,
    /// The seed the strategy was built from, for reports and replay tokens; `None` means the
    /// scenario's `setup.seed`.
    pub seed: Option<u64>,
    /// Step and virtual-time limits.
    pub limits: RunLimits,
    /// The driver profile (`run --profile`); `None`: the reference drivers' own when a
    /// reference model plays a side, else none.
    pub profile: Option<&'static crate::profile::DriverProfile>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            trace: true,
            backend: None,
            seed: None,
            limits: RunLimits::default(),
            profile: None,
        }
    }
}

/// What one step did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StepOutcome {
    /// Step index (pre-order).
    pub index: usize,
    /// `step 3 StartMiracastSession (start)`.
    pub label: String,
    /// The step ran (it was reached before the run ended).
    pub ran: bool,
    /// The status of the step's DDI; `None` when it returns none or was not called because
    /// the state did not allow it.
    pub status: Option<NtStatus>,
}

/// Everything one run produced.
#[derive(Clone, Debug, Serialize)]
pub struct RunResult {
    /// Scenario name.
    pub scenario: String,
    /// Scenario file.
    pub path: String,
    /// Scenario content hash.
    pub content_hash: String,
    /// The seed of the strategy.
    pub seed: u64,
    /// The strategy, as it describes itself (`random(seed=7)`).
    pub strategy: String,
    /// The backend it ran on (`model`, `real:PATHS`).
    pub backend: String,
    /// How the scheduler's run ended.
    pub end: RunEnd,
    /// When the run hit the step or time limit: every thread still alive, the DDIs it is inside
    /// and what it waits for (a deadlock carries its own chain in `end`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub blocked: Vec<crate::sched::BlockedThread>,
    /// Every rule broken: online findings, trace checks, races.
    pub violations: Vec<Violation>,
    /// Per-step outcome, by step index.
    pub steps: Vec<StepOutcome>,
    /// The OS's view at the end.
    pub snapshot: Option<OsSnapshot>,
    /// Every choice the scheduler made, for replay.
    #[serde(skip)]
    pub schedule: Vec<Choice>,
    /// The trace (empty when recording was off).
    pub trace: Trace,
    /// Simulated thread names by id.
    pub thread_names: Vec<String>,
    /// Where a replay stopped fitting, when replaying.
    pub divergence: Option<Divergence>,
    /// Scheduler polls.
    pub polls: u64,
    /// Faults of a real driver binary (hangs, panics in the bridge): bugcheck-style findings.
    pub driver_faults: Vec<Bugcheck>,
    /// Set when the run could not happen at all (backend unavailable) or the simulator
    /// itself failed; the text says why.
    pub error: Option<RunError>,
}

/// A bugcheck-style finding: the driver binary itself crashed (segmentation fault, abort, stack
/// overflow: seen from the parent of an isolated run), hung outside the simulator's control, or
/// panicked in the bridge. Not a documented rule; reports print it like one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bugcheck {
    /// Crash or hang.
    pub kind: BugcheckKind,
    /// What happened, short: the signal or exception name (`SIGSEGV (segmentation fault),
    /// signal 11`, `bridge panic`), or how long a hang was waited for.
    pub what: String,
    /// The signal number (Unix) or exception code (Windows) of a crash, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<i64>,
    /// The simulated thread that was inside the driver.
    pub thread: String,
    /// The DDI it was inside (documented name), when known.
    pub ddi: Option<String>,
    /// The whole finding in one sentence (`bugcheck: the driver crashed (SIGSEGV) inside
    /// HandleKernelModeMessage on thread t5 msg-delivery-1: ...`).
    pub finding: String,
    /// The last bridge events before the fault (DDI entries and exits, callbacks), oldest first.
    pub last_events: Vec<String>,
    /// Under exploration: the token that replays the schedule the driver died under.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replay_token: Option<String>,
}

/// The kind of a [`Bugcheck`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BugcheckKind {
    /// The driver crashed (or panicked in the bridge).
    Crash,
    /// The driver neither returned nor called back within the hang timeout.
    Hang,
}

impl std::fmt::Display for Bugcheck {
    /// `the driver crashed: SIGSEGV ...` / `the driver hung: ...`: the title of the finding.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.kind {
            BugcheckKind::Crash => write!(f, "the driver crashed: {}", self.what),
            BugcheckKind::Hang => write!(f, "the driver hung: {}", self.what),
        }
    }
}

#[cfg(feature = "real-driver")]
impl From<&crate::backend::real::DriverFault> for Bugcheck {
    fn from(f: &crate::backend::real::DriverFault) -> Self {
        use crate::backend::real::DriverFaultKind;
        let (kind, what, code) = match &f.kind {
            DriverFaultKind::Hang { waited_ms } => (
                BugcheckKind::Hang,
                format!("no return and no callback for {waited_ms} ms"),
                None,
            ),
            DriverFaultKind::Crash { code, name } => (BugcheckKind::Crash, name.clone(), *code),
        };
        Bugcheck {
            kind,
            what,
            code,
            thread: f.thread.clone(),
            ddi: f.ddi.clone(),
            finding: f.to_string(),
            last_events: f.last_events.clone(),
            replay_token: None,
        }
    }
}

/// A run that did not produce a meaningful result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "message", rename_all = "snake_case")]
pub enum RunError {
    /// The requested backend is not in this build.
    BackendUnavailable(String),
    /// The simulator panicked (a bug in miracast-sim or in a Rust driver under test).
    Panic(String),
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunError::BackendUnavailable(m) => write!(f, "backend unavailable: {m}"),
            RunError::Panic(m) => write!(f, "the simulation panicked: {m}"),
        }
    }
}

impl RunResult {
    /// The replay token of this run.
    pub fn replay_token(&self) -> String {
        ReplayToken::from_result(self).encode()
    }

    /// Number of trace events.
    pub fn events(&self) -> usize {
        self.trace.events.len()
    }
}

/// Runs `scenario` with the seeded random strategy (`options.seed`, else the scenario's seed).
pub fn run_seeded(scenario: &Scenario, options: &RunOptions) -> RunResult {
    let seed = options.seed.unwrap_or(scenario.setup.seed);
    let options = RunOptions {
        seed: Some(seed),
        ..options.clone()
    };
    run_once(scenario, &options, Box::new(RandomStrategy::new(seed)))
}

/// Plays `scenario` once with `strategy` choosing at every choice point.
pub fn run_once(
    scenario: &Scenario,
    options: &RunOptions,
    strategy: Box<dyn Strategy>,
) -> RunResult {
    let seed = options.seed.unwrap_or(scenario.setup.seed);
    let description = strategy.describe();
    let mut result = RunResult {
        scenario: scenario.name.clone(),
        path: scenario.path.clone(),
        content_hash: scenario.content_hash.clone(),
        seed,
        strategy: description,
        backend: String::new(),
        end: RunEnd::Completed,
        blocked: Vec::new(),
        violations: Vec::new(),
        steps: Vec::new(),
        snapshot: None,
        schedule: Vec::new(),
        trace: Trace::default(),
        thread_names: Vec::new(),
        divergence: None,
        polls: 0,
        driver_faults: Vec::new(),
        error: None,
    };
    let backend = options
        .backend
        .clone()
        .unwrap_or_else(|| scenario.setup.backend.clone());
    result.backend = backend.to_string();
    // The simulation is single-threaded and `Rc`-based; a panic inside it (a bug in the
    // simulator or in a Rust driver) must not take the other scenarios of the run down.
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        simulate(scenario, options, &backend, strategy)
    }));
    match outcome {
        Ok(Err(unavailable)) => result.error = Some(RunError::BackendUnavailable(unavailable)),
        Ok(Ok(sim)) => {
            result.end = sim.end;
            result.blocked = sim.blocked;
            result.violations = sim.violations;
            result.steps = sim.steps;
            result.snapshot = Some(sim.snapshot);
            result.schedule = sim.schedule;
            result.thread_names = thread_names(&sim.trace);
            result.trace = sim.trace;
            result.divergence = sim.divergence;
            result.polls = sim.polls;
            result.driver_faults = sim.driver_faults;
        }
        Err(payload) => {
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_owned());
            result.error = Some(RunError::Panic(message));
        }
    }
    result
}

struct Simulated {
    end: RunEnd,
    blocked: Vec<crate::sched::BlockedThread>,
    violations: Vec<Violation>,
    steps: Vec<StepOutcome>,
    snapshot: OsSnapshot,
    schedule: Vec<Choice>,
    trace: Trace,
    divergence: Option<Divergence>,
    polls: u64,
    driver_faults: Vec<Bugcheck>,
}

fn simulate(
    scenario: &Scenario,
    options: &RunOptions,
    backend: &Backend,
    strategy: Box<dyn Strategy>,
) -> Result<Simulated, String> {
    let sched = Sched::new(strategy);
    sched.set_trace_enabled(options.trace || scenario.expect.needs_trace());
    // Everything the threads of a scenario run share is recorded as touches (the OS model,
    // the link and the sink live in `Shared` cells), so exploration may commute steps that
    // touch disjoint state. The reference drivers keep their shared state in `Tracked` cells
    // and simulated locks; a driver binary's state is unseen, so any two steps running its
    // code are taken as dependent.
    sched.set_accounted(true);
    if *backend == Backend::Model {
        sched.set_transparent_drivers(crate::sched::drivers::KMD | crate::sched::drivers::UMD);
    }
    let findings = Findings::default();
    let setup = &scenario.setup;
    let drivers = drivers::load(&sched, backend, setup)?;
    let os = Os::new(
        &sched,
        &findings,
        setup.os.clone(),
        drivers.kmd.clone(),
        drivers.umd.clone(),
    );
    // The driver profile: the one given, else the reference drivers' when a reference model
    // plays one side (it speaks that format), else none: the checks that need private meanings
    // then have nothing to judge, and the trace says so.
    let profile = options
        .profile
        .or_else(|| (!(drivers.kmd_binary && drivers.umd_binary)).then(crate::profile::reference));
    os.set_profile(profile);
    if profile.is_none() {
        sched.emit(EventKind::Note {
            text: "no driver profile (run --profile FILE): the meanings of the drivers' private IOCTLs are unknown, so R11, R13, R15, R43, R53 and the IOCTL half of R21 are not judged".to_owned(),
        });
    }
    // The reference KMD learns of a busy encoder from its configuration; a binary KMD is told
    // through its test hook before the first step, and the OS expects STATUS_RESOURCE_IN_USE
    // (R17) only once the KMD has accepted that.
    let tell_busy = drivers.kmd_binary && setup.adapter.hardware_busy;
    os.set_hardware_busy(!drivers.kmd_binary && setup.adapter.hardware_busy);
    let (adapter, sink) = SinkAdapter::new(setup.sink.clone());
    let facts = crate::os::SinkFacts {
        monitor_present: setup.sink_facts.monitor_present,
        supports_1024x768: setup.sink_facts.supports_1024x768,
        monitor_type: setup
            .sink_facts
            .connector_type
            .map(|c| crate::ddi::VideoOutputTechnology::of_wfd_connector(Some(c))),
    };
    os.attach_sink(Box::new(adapter), facts);
    let enabled = setup.knobs.enabled();
    if !enabled.is_empty() {
        sched.emit(EventKind::KnobsOn {
            owner: crate::trace::KnobOwner::Drivers,
            knobs: enabled.iter().map(|k| (*k).to_owned()).collect(),
            ignored: !matches!(backend, Backend::Model),
        });
    }

    let exec = Rc::new(exec::Exec::new(os.clone(), sink, scenario));
    let steps = Rc::new(scenario.steps.clone());
    let runner = exec.clone();
    let os_first = os.clone();
    sched.spawn("os-scenario", false, async move {
        if tell_busy {
            let _ = os_first.tell_encoder_busy().await;
        }
        exec::run_steps(runner, steps).await
    });
    let end = sched.run(options.limits);
    let blocked = if matches!(end, RunEnd::StepLimit | RunEnd::TimeLimit) {
        sched.live_threads()
    } else {
        Vec::new()
    };

    // With recording off the scheduler still logs thread starts; a partial trace is neither
    // checked nor reported.
    let recorded = sched.take_trace();
    let trace = if options.trace || scenario.expect.needs_trace() {
        recorded
    } else {
        Trace::default()
    };
    let mut violations = findings.snapshot();
    if !trace.events.is_empty() {
        let config = TraceCheckConfig {
            datarate_tolerance: Duration::from_millis(setup.os.datarate_tolerance_ms),
        };
        violations.extend(trace_checks::check_with(&trace, &config));
    }
    violations.extend(sched.races().iter().map(race_violation));
    violations.extend((drivers.violations)());
    Ok(Simulated {
        end,
        blocked,
        violations,
        steps: exec.outcomes(),
        snapshot: os.snapshot(),
        schedule: sched.schedule(),
        trace,
        divergence: sched.divergence(),
        polls: sched.steps(),
        driver_faults: (drivers.faults)(),
    })
}

fn thread_names(trace: &Trace) -> Vec<String> {
    let mut names = Vec::new();
    for e in &trace.events {
        if let EventKind::ThreadStart { name, .. } = &e.kind {
            // Thread ids are dense and assigned in creation order; the start event of thread n
            // is attributed to its parent, so count starts instead of reading `e.thread`.
            names.push(name.clone());
        }
    }
    names
}
