//! `run --isolate`: each scenario in a child process of its own, so that a driver binary that
//! crashes (segmentation fault, abort, stack overflow) becomes a reported bugcheck-style finding
//! and every other scenario still runs and every report is still written.
//!
//! The parent re-executes its own binary with the hidden subcommand `__run-isolated`, writes an
//! [`IsolatedInput`] (the scenario file and the run options, JSON) to the child's stdin, and
//! reads back an [`IsolatedScenario`] (the run as the reports need it, its verdict and replay
//! token) through `backend::real::run_isolated` (feature `real-driver`). When the child dies
//! first, the parent builds the finding from how it died and the last bridge events it
//! streamed: the signal, the DDI it was inside, the thread, and those events.
//!
//! Isolation needs the `real-driver` feature (that is where the process protocol lives); a build
//! without it runs every scenario in this process (`--isolate` is accepted and has no effect).

use crate::report::{IsolatedRecord, Outcome, RunRecord};
use crate::runner::{self, RunOptions, Verdict};
use crate::scenario::{self, Backend, Scenario};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The name of the hidden subcommand the parent starts its children with.
pub const CHILD_COMMAND: &str = "__run-isolated";

/// What the parent writes to an isolated child's stdin.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct IsolatedInput {
    /// The scenario file, as given to `run`.
    pub path: PathBuf,
    /// [`RunOptions::trace`].
    pub trace: bool,
    /// [`RunOptions::backend`], as `model` or `real:SPEC`.
    pub backend: Option<String>,
    /// [`RunOptions::seed`].
    pub seed: Option<u64>,
    /// For an exploration: the parent's command line, whose `run` flags the child re-reads
    /// (empty for a plain run).
    #[serde(default)]
    pub explore_argv: Vec<String>,
    /// Worker threads for an exploration.
    #[serde(default)]
    pub jobs: usize,
    /// For an exploration resumed after crashes: what the new child leaves out.
    #[serde(default)]
    pub resume: Resume,
    /// For a replay: the recorded choices to follow (then the seed's random strategy).
    #[serde(default)]
    pub replay: Option<Vec<crate::sched::Choice>>,
    /// The file of [`RunOptions::profile`].
    #[serde(default)]
    pub profile: Option<PathBuf>,
}

/// What an exploring child restarted after a crash leaves out, so it runs every schedule the
/// dead one would have run but those that crashed (and finds again what the dead one found).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Resume {
    /// Seeded schedules under which the driver crashed.
    pub skip: Vec<u64>,
    /// Depth-first search crashed: its tree cannot be rebuilt in a new process.
    pub skip_dfs: bool,
    /// Shrinking (or the determinism check) crashed: leave it out.
    pub no_shrink: bool,
    /// Schedules still to run (`None`: as the flags say).
    pub max_schedules: Option<u64>,
    /// Time still left of `--explore-time`, in milliseconds.
    pub time_left_ms: Option<u64>,
}

impl IsolatedInput {
    /// The input that runs `path` with `options`.
    pub fn new(path: &Path, options: &RunOptions) -> Self {
        IsolatedInput {
            path: path.to_path_buf(),
            trace: options.trace,
            backend: options.backend.as_ref().map(ToString::to_string),
            seed: options.seed,
            explore_argv: Vec::new(),
            jobs: 1,
            resume: Resume::default(),
            replay: None,
            profile: options.profile.and_then(|p| p.path.clone()),
        }
    }

    /// The run options it carries.
    ///
    /// # Errors
    /// The backend does not parse.
    pub fn options(&self) -> Result<RunOptions, String> {
        Ok(RunOptions {
            trace: self.trace,
            backend: self
                .backend
                .as_deref()
                .map(scenario::parse_backend)
                .transpose()?,
            seed: self.seed,
            profile: self
                .profile
                .as_deref()
                .map(crate::profile::load)
                .transpose()?,
            ..RunOptions::default()
        })
    }
}

/// What an isolated child sends back for a scenario it ran to the end.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct IsolatedScenario {
    /// The run, as the reports need it.
    pub record: IsolatedRecord,
    /// Its judgement.
    pub verdict: Verdict,
    /// Its replay token (none when the backend was unavailable).
    pub replay_token: Option<String>,
}

/// The child's answer: the finished scenario, or why it could not run it at all.
pub type ChildAnswer = Result<IsolatedScenario, String>;

/// What an isolated child sends back for a scenario it explored to the end.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ExploredScenario {
    /// Whether the exploration passed.
    pub passed: bool,
    /// Its human summary.
    pub summary: String,
    /// The one verdict over all its schedules.
    pub verdict: crate::explore::ExploreVerdict,
    /// The exploration report (JSON).
    pub explore: serde_json::Value,
}

/// The exploring child's answer.
pub type ExploreAnswer = Result<ExploredScenario, String>;

/// One scenario, run: what its report entry needs.
#[derive(Clone, Debug)]
pub struct Ran {
    /// How it came out.
    pub outcome: Outcome,
    /// The run.
    pub result: RunRecord,
    /// Its judgement.
    pub verdict: Verdict,
    /// Its replay token.
    pub replay_token: Option<String>,
}

/// Passed, failed or unavailable, from the verdict.
pub fn outcome_of(verdict: &Verdict) -> Outcome {
    if verdict.unavailable {
        Outcome::Unavailable
    } else if verdict.passed {
        Outcome::Passed
    } else {
        Outcome::Failed
    }
}

/// Runs `scenario` in this process.
pub fn run_here(scenario: &Scenario, options: &RunOptions) -> Ran {
    judged(scenario, runner::run_seeded(scenario, options))
}

/// A finished run of `scenario`, judged, with its replay token when the backend was there.
fn judged(scenario: &Scenario, result: runner::RunResult) -> Ran {
    let verdict = runner::judge(scenario, &result);
    Ran {
        outcome: outcome_of(&verdict),
        replay_token: (!verdict.unavailable).then(|| result.replay_token()),
        result: result.into(),
        verdict,
    }
}

/// True when `scenario` runs in a child process: `--isolate`, or neither flag and its
/// backend (`--backend` or the file's) is a driver binary.
pub fn wanted(isolate: bool, no_isolate: bool, scenario: &Scenario, options: &RunOptions) -> bool {
    let backend = options.backend.as_ref().unwrap_or(&scenario.setup.backend);
    isolate || (!no_isolate && matches!(backend, Backend::Real(_)))
}

/// The child side of `__run-isolated`: the input is an [`IsolatedInput`]; the answer a
/// [`ChildAnswer`], or an [`ExploreAnswer`] for an exploration.
/// What the child sends: a [`ChildAnswer`] or an [`ExploreAnswer`], written as that type
/// itself (untagged), so the parent reads the one it asked for.
#[derive(Serialize)]
#[serde(untagged)]
enum ChildOutput {
    Once(ChildAnswer),
    Explore(ExploreAnswer),
}

fn child_run(input: &[u8]) -> ChildOutput {
    let input: IsolatedInput = match serde_json::from_slice(input) {
        Ok(i) => i,
        Err(e) => return ChildOutput::Once(Err(format!("bad isolated-run input: {e}"))),
    };
    if input.explore_argv.is_empty() {
        ChildOutput::Once(child_run_once(&input))
    } else {
        ChildOutput::Explore(child_explore(&input))
    }
}

fn child_run_once(input: &IsolatedInput) -> ChildAnswer {
    let options = input.options()?;
    let (scenario, _) = scenario::load(&input.path).map_err(|e| e.to_string())?;
    let ran = match &input.replay {
        None => runner::run_seeded(&scenario, &options),
        Some(choices) => {
            let seed = options.seed.unwrap_or(scenario.setup.seed);
            let strategy = crate::sched::ReplayStrategy::new(
                choices.clone(),
                Box::new(crate::sched::RandomStrategy::new(seed)),
            );
            runner::run_once(&scenario, &options, Box::new(strategy))
        }
    };
    let verdict = runner::judge(&scenario, &ran);
    Ok(IsolatedScenario {
        record: RunRecord::isolated(&ran),
        replay_token: (!verdict.unavailable).then(|| ran.replay_token()),
        verdict,
    })
}

fn child_explore(input: &IsolatedInput) -> ExploreAnswer {
    use clap::Parser;
    let options = input.options()?;
    let cli = super::Cli::try_parse_from(&input.explore_argv).map_err(|e| e.to_string())?;
    let super::Command::Run(mut args) = cli.command else {
        return Err("an isolated exploration needs the `run` command line".to_owned());
    };
    let resume = &input.resume;
    if let Some(ms) = resume.time_left_ms {
        args.explore.explore_time = Some(std::time::Duration::from_millis(ms.max(1)));
    }
    let (scenario, _) = scenario::load(&input.path).map_err(|e| e.to_string())?;
    let tune = |c: &mut crate::explore::ExploreConfig| {
        c.skip = resume.skip.clone();
        c.skip_dfs = resume.skip_dfs;
        if resume.no_shrink {
            c.shrink = false;
            c.check_determinism = false;
        }
        if resume.max_schedules.is_some() {
            c.max_schedules = resume.max_schedules;
        }
        c.announce = Some(stream::schedule_start);
    };
    let wrap = |s: Box<dyn crate::sched::Strategy>| -> Box<dyn crate::sched::Strategy> {
        stream::run_start(&s.describe());
        Box::new(Streamed { inner: s })
    };
    let hooks = super::explore_args::ExploreHooks {
        tune: &tune,
        wrap: &wrap,
    };
    // One worker: the parent reads one schedule's choices at a time.
    let report = super::explore_args::explore_scenario_with(
        &args.explore,
        &scenario,
        &options,
        (1, args.partition),
        (&|| false, &|_| stream::schedule_done()),
        &hooks,
    )?;
    let verdict = crate::explore::ExploreVerdict::of(&scenario, &report);
    Ok(ExploredScenario {
        passed: verdict.passed,
        summary: super::explore_args::render(&args.explore, &scenario, &report, &verdict),
        verdict,
        explore: serde_json::to_value(&report).unwrap_or_default(),
    })
}

/// The streaming half of the exploring child (the protocol lives in the real-driver backend).
mod stream {
    #[cfg(feature = "real-driver")]
    pub use crate::backend::real::{
        stream_choice as choice, stream_run_start as run_start,
        stream_schedule_done as schedule_done, stream_schedule_start as schedule_start,
    };
    #[cfg(not(feature = "real-driver"))]
    pub fn choice(_: crate::sched::Choice) {}
    #[cfg(not(feature = "real-driver"))]
    pub fn run_start(_: &str) {}
    #[cfg(not(feature = "real-driver"))]
    pub fn schedule_done() {}
    #[cfg(not(feature = "real-driver"))]
    pub fn schedule_start(_: u64) {}
}

/// A strategy that streams every choice it makes to the parent before the step it selects
/// runs, so a crash under it leaves the parent the exact schedule that led there.
struct Streamed {
    inner: Box<dyn crate::sched::Strategy>,
}

impl crate::sched::Strategy for Streamed {
    fn pick_thread(&mut self, decision: &crate::sched::ThreadDecision<'_>) -> usize {
        let n = decision.runnable.len().max(1);
        let chosen = self.inner.pick_thread(decision).min(n - 1);
        stream::choice(crate::sched::Choice {
            kind: crate::sched::ChoiceKind::Thread,
            options: u32::try_from(n).unwrap_or(u32::MAX),
            chosen: u32::try_from(chosen).unwrap_or(u32::MAX),
        });
        chosen
    }
    fn observe_forced(&mut self, decision: &crate::sched::ThreadDecision<'_>) {
        self.inner.observe_forced(decision);
    }
    fn pick_value(&mut self, options: u32, label: &str, index: usize) -> u32 {
        let chosen = self
            .inner
            .pick_value(options, label, index)
            .min(options.max(1) - 1);
        stream::choice(crate::sched::Choice {
            kind: crate::sched::ChoiceKind::Value,
            options,
            chosen,
        });
        chosen
    }
    fn describe(&self) -> String {
        self.inner.describe()
    }
    fn divergence(&self) -> Option<&crate::sched::Divergence> {
        self.inner.divergence()
    }
    fn abandoned(&self) -> bool {
        self.inner.abandoned()
    }
}

/// The most schedules under which a driver may crash or hang one scenario's exploration; at
/// that many the exploration of the scenario ends there.
pub const MAX_CRASHED_SCHEDULES: usize = 8;

/// How an exploration in child processes ended.
pub enum Explored {
    /// Explored to the end; `crashes` are the schedules under which the driver crashed or hung
    /// a child (each with its replay token), left out by the child that went on.
    Done {
        /// The last child's exploration.
        done: ExploredScenario,
        /// The schedules that killed a child.
        crashes: Vec<crate::runner::Bugcheck>,
    },
    /// The flags or the file did not make an exploration.
    Refused(String),
    /// The driver ended the exploration at a crash it could not go on after.
    Died {
        /// The schedules that killed a child, the last one included.
        crashes: Vec<crate::runner::Bugcheck>,
        /// Why the exploration could not go on.
        why: String,
        /// Schedules the last child finished before it died.
        completed: u64,
    },
}

/// The verdict of an exploration with the schedules that crashed the driver: a `bugcheck`
/// finding (unexpected, with the first crash's replay token) over the child's verdict.
pub fn verdict_with_crashes(
    verdict: Option<crate::explore::ExploreVerdict>,
    crashes: &[crate::runner::Bugcheck],
) -> crate::explore::ExploreVerdict {
    let mut verdict = verdict.unwrap_or_default();
    let crashed_schedules = crashes.iter().filter(|b| b.replay_token.is_some()).count() as u64;
    verdict.schedules += crashed_schedules;
    if let Some(first) = crashes.first() {
        verdict.unexpected.insert(
            0,
            crate::explore::VerdictFinding {
                key: "bugcheck".to_owned(),
                schedules: crashes.len() as u64,
                message: first.finding.clone(),
                token: first.replay_token.clone().unwrap_or_else(|| {
                    "(none: the driver died before any schedule was recorded)".to_owned()
                }),
            },
        );
        verdict.passed = false;
    }
    verdict
}

/// Explores `scenario` (from `path`) in supervised child processes. A driver that crashes or
/// hangs under some schedule kills its child; the parent then holds that schedule (the child
/// streamed it), makes its replay token, and starts a new child that runs every other
/// schedule, up to [`MAX_CRASHED_SCHEDULES`].
#[cfg(feature = "real-driver")]
pub fn explore_in_child(
    path: &Path,
    scenario: &Scenario,
    args: &super::run::RunArgs,
    options: &RunOptions,
) -> Explored {
    use crate::backend::real::{SupervisorConfig, run_supervised};
    use crate::explore::Mode;
    let token_config = match super::explore_args::token_config(
        &args.explore,
        scenario,
        options,
        (1, args.partition),
    ) {
        Ok(c) => c,
        Err(e) => return Explored::Refused(e),
    };
    let program = match std::env::current_exe() {
        Ok(p) => p,
        Err(e) => return Explored::Refused(format!("cannot find this program: {e}")),
    };
    let supervisor = SupervisorConfig {
        deadline: args.driver_timeout,
        ..SupervisorConfig::default()
    };
    let started = std::time::Instant::now();
    let mut resume = Resume::default();
    let mut crashes: Vec<crate::runner::Bugcheck> = Vec::new();
    loop {
        let mut input = IsolatedInput::new(path, options);
        input.explore_argv = std::env::args().collect();
        input.resume = resume.clone();
        let Ok(bytes) = serde_json::to_vec(&input) else {
            return Explored::Refused("cannot encode the isolated exploration".to_owned());
        };
        let mut command = std::process::Command::new(&program);
        command.arg(CHILD_COMMAND);
        let outcome = match run_supervised::<ExploreAnswer>(&mut command, &bytes, &supervisor) {
            Ok(o) => o,
            Err(e) => {
                return Explored::Refused(format!("cannot start the isolated child process: {e}"));
            }
        };
        let fault = match (outcome.result, outcome.fault) {
            (Some(Ok(done)), _) => return Explored::Done { done, crashes },
            (Some(Err(why)), _) => return Explored::Refused(why),
            (None, None) => {
                return Explored::Refused(format!(
                    "the isolated child ended ({}) without a result",
                    outcome.exit
                ));
            }
            (None, Some(fault)) => fault,
        };
        let mut bugcheck = crate::runner::Bugcheck::from(&fault);
        let schedule = outcome.schedule.unwrap_or_default();
        if let (Some(choices), Some(index)) = (&schedule.choices, schedule.index) {
            bugcheck.replay_token = Some(crate::explore::token_for(
                &token_config,
                &schedule.strategy,
                token_config.seed.wrapping_add(index),
                choices,
                "bugcheck",
            ));
        }
        crashes.push(bugcheck);
        let stop = if crashes.len() >= MAX_CRASHED_SCHEDULES {
            Some(format!(
                "the driver died under {MAX_CRASHED_SCHEDULES} schedules; the exploration of this scenario stops there"
            ))
        } else if schedule.strategy.starts_with("replay(") {
            // Shrinking or the determinism check replays a schedule after the exploration.
            if resume.no_shrink {
                Some("the driver died again after shrinking was left out".to_owned())
            } else {
                resume.no_shrink = true;
                None
            }
        } else if schedule.strategy.starts_with("dfs") {
            if token_config.mode == Mode::Dfs || resume.skip_dfs {
                Some("depth-first search cannot go on after a crash: its search tree was in the process that died".to_owned())
            } else {
                // The portfolio's DFS slot of that index is used up; its later DFS slots run
                // seeded schedules instead.
                resume.skip_dfs = true;
                resume.skip.extend(schedule.index);
                None
            }
        } else {
            match schedule.index {
                Some(i) if !resume.skip.contains(&i) => {
                    resume.skip.push(i);
                    None
                }
                Some(_) => {
                    Some("the driver died again under a schedule that was left out".to_owned())
                }
                None => Some("the driver died before the first schedule started".to_owned()),
            }
        };
        resume.max_schedules = token_config
            .max_schedules
            .map(|m| m.saturating_sub(resume.skip.len() as u64));
        if let Some(budget) = args.explore.explore_time {
            let left = budget.saturating_sub(started.elapsed());
            if left.is_zero() {
                return Explored::Died {
                    crashes,
                    why: "the --explore-time budget ran out".to_owned(),
                    completed: schedule.completed,
                };
            }
            resume.time_left_ms = Some(u64::try_from(left.as_millis()).unwrap_or(u64::MAX));
        }
        if let Some(why) = stop {
            return Explored::Died {
                crashes,
                why,
                completed: schedule.completed,
            };
        }
    }
}

/// Without the `real-driver` feature the exploration runs in this process.
#[cfg(not(feature = "real-driver"))]
pub fn explore_in_child(
    _path: &Path,
    _scenario: &Scenario,
    _args: &super::run::RunArgs,
    _options: &RunOptions,
) -> Explored {
    Explored::Refused("isolated exploration needs a build with `--features real-driver`".to_owned())
}

/// `miracast-sim __run-isolated`: reads an [`IsolatedInput`] on stdin, runs it, and writes the
/// result line for the parent. Returns the exit code.
#[cfg(feature = "real-driver")]
pub fn child_main() -> u8 {
    let code = crate::backend::real::isolated_child_main(child_run);
    u8::try_from(code).unwrap_or(super::exit_code::INVALID)
}

/// Without the `real-driver` feature there is no isolated run.
#[cfg(not(feature = "real-driver"))]
pub fn child_main() -> u8 {
    let _ = child_run;
    eprintln!("error: isolated runs need a build with `--features real-driver`");
    super::exit_code::INVALID
}

/// Runs `scenario` (from the file `path`) in a child process of this binary; a child that dies
/// becomes a failed run whose finding is the crash.
pub fn run_in_child(
    path: &Path,
    scenario: &Scenario,
    options: &RunOptions,
    deadline: std::time::Duration,
) -> Ran {
    run_in_child_replaying(path, scenario, options, deadline, None)
}

/// [`run_in_child`], following `replay`'s recorded choices first when given (then the seed's
/// random strategy, as `replay` does in process).
#[cfg(feature = "real-driver")]
pub fn run_in_child_replaying(
    path: &Path,
    scenario: &Scenario,
    options: &RunOptions,
    deadline: std::time::Duration,
    replay: Option<Vec<crate::sched::Choice>>,
) -> Ran {
    use crate::backend::real::{SupervisorConfig, run_supervised};
    use crate::runner::Bugcheck;
    let seed = options.seed.unwrap_or(scenario.setup.seed);
    let failed = |reason: String| Ran {
        outcome: Outcome::Failed,
        result: RunRecord::Isolated(IsolatedRecord {
            seed,
            events: Vec::new(),
            json: serde_json::json!({
                "scenario": scenario.name,
                "path": scenario.path,
                "content_hash": scenario.content_hash,
                "seed": seed,
            }),
            died: None,
        }),
        verdict: Verdict {
            reasons: vec![reason],
            ..Verdict::default()
        },
        replay_token: None,
    };
    let mut input = IsolatedInput::new(path, options);
    input.replay = replay;
    let input = match serde_json::to_vec(&input) {
        Ok(i) => i,
        Err(e) => return failed(format!("cannot encode the isolated run: {e}")),
    };
    let program = match std::env::current_exe() {
        Ok(p) => p,
        Err(e) => return failed(format!("cannot find this program to isolate the run: {e}")),
    };
    let mut command = std::process::Command::new(program);
    command.arg(CHILD_COMMAND);
    let supervisor = SupervisorConfig {
        deadline,
        ..SupervisorConfig::default()
    };
    let outcome = match run_supervised::<ChildAnswer>(&mut command, &input, &supervisor) {
        Ok(o) => o,
        Err(e) => return failed(format!("cannot start the isolated child process: {e}")),
    };
    let output = (outcome.output_bytes > 0).then(|| {
        serde_json::json!({
            "bytes": outcome.output_bytes,
            "tail": outcome.output_tail,
        })
    });
    let mut ran = match (outcome.result, outcome.fault) {
        (Some(Ok(done)), _) => Ran {
            outcome: outcome_of(&done.verdict),
            result: RunRecord::Isolated(done.record),
            verdict: done.verdict,
            replay_token: done.replay_token,
        },
        (Some(Err(why)), _) => failed(format!("the isolated child could not run it: {why}")),
        (None, None) => failed(format!(
            "the isolated child ended ({}) without a result",
            outcome.exit
        )),
        (None, Some(fault)) => {
            let bugcheck = Bugcheck::from(&fault);
            let mut ran = failed(String::new());
            ran.verdict.reasons.clear();
            if let RunRecord::Isolated(record) = &mut ran.result {
                record.died = Some(outcome.exit.clone());
                if let Some(obj) = record.json.as_object_mut() {
                    obj.insert("died".to_owned(), outcome.exit.clone().into());
                    obj.insert(
                        "driver_faults".to_owned(),
                        serde_json::to_value([&bugcheck]).unwrap_or_default(),
                    );
                }
            }
            ran.verdict.bugchecks.push(bugcheck);
            ran
        }
    };
    // What the driver printed (stdout and stderr, a bounded tail) goes with the run.
    if let (Some(output), RunRecord::Isolated(record)) = (output, &mut ran.result)
        && let Some(obj) = record.json.as_object_mut()
    {
        obj.insert("driver_output".to_owned(), output);
    }
    ran
}

/// Without the `real-driver` feature the scenario runs in this process.
#[cfg(not(feature = "real-driver"))]
pub fn run_in_child_replaying(
    _path: &Path,
    scenario: &Scenario,
    options: &RunOptions,
    _deadline: std::time::Duration,
    replay: Option<Vec<crate::sched::Choice>>,
) -> Ran {
    let Some(choices) = replay else {
        return run_here(scenario, options);
    };
    let seed = options.seed.unwrap_or(scenario.setup.seed);
    let strategy = crate::sched::ReplayStrategy::new(
        choices,
        Box::new(crate::sched::RandomStrategy::new(seed)),
    );
    judged(
        scenario,
        runner::run_once(scenario, options, Box::new(strategy)),
    )
}
