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
    let result = runner::run_seeded(scenario, options);
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
fn child_run(input: &[u8]) -> serde_json::Value {
    let input: IsolatedInput = match serde_json::from_slice(input) {
        Ok(i) => i,
        Err(e) => return serde_json::json!({ "Err": format!("bad isolated-run input: {e}") }),
    };
    if input.explore_argv.is_empty() {
        serde_json::to_value(child_run_once(&input)).unwrap_or_default()
    } else {
        serde_json::to_value(child_explore(&input)).unwrap_or_default()
    }
}

fn child_run_once(input: &IsolatedInput) -> ChildAnswer {
    let options = input.options()?;
    let (scenario, _) = scenario::load(&input.path).map_err(|e| e.to_string())?;
    let ran = runner::run_seeded(&scenario, &options);
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
    let super::Command::Run(args) = cli.command else {
        return Err("an isolated exploration needs the `run` command line".to_owned());
    };
    let (scenario, _) = scenario::load(&input.path).map_err(|e| e.to_string())?;
    let report = super::explore_args::explore_scenario(
        &args.explore,
        &scenario,
        &options,
        input.jobs.max(1),
        args.partition,
    )?;
    Ok(ExploredScenario {
        passed: super::explore_args::passed_for(&scenario, &report),
        summary: super::explore_args::render(&args.explore, &scenario, &report),
        explore: serde_json::to_value(&report).unwrap_or_default(),
    })
}

/// How an exploration in a child process ended: explored, refused, or the bugcheck that ended
/// it (the driver crashed or hung under some schedule).
pub enum Explored {
    /// The child explored the scenario to the end.
    Done(ExploredScenario),
    /// The flags or the file did not make an exploration.
    Refused(String),
    /// The driver ended the child first.
    Died(crate::runner::Bugcheck),
}

/// Explores `path` in a supervised child process: a driver that crashes or hangs under some
/// schedule ends that scenario's exploration with a bugcheck finding, and the run goes on.
#[cfg(feature = "real-driver")]
pub fn explore_in_child(
    path: &Path,
    options: &RunOptions,
    jobs: usize,
    deadline: std::time::Duration,
) -> Explored {
    use crate::backend::real::{SupervisorConfig, run_supervised};
    let mut input = IsolatedInput::new(path, options);
    input.explore_argv = std::env::args().collect();
    input.jobs = jobs;
    let Ok(bytes) = serde_json::to_vec(&input) else {
        return Explored::Refused("cannot encode the isolated exploration".to_owned());
    };
    let program = match std::env::current_exe() {
        Ok(p) => p,
        Err(e) => return Explored::Refused(format!("cannot find this program: {e}")),
    };
    let mut command = std::process::Command::new(program);
    command.arg(CHILD_COMMAND);
    let supervisor = SupervisorConfig {
        deadline,
        ..SupervisorConfig::default()
    };
    match run_supervised::<ExploreAnswer>(&mut command, &bytes, &supervisor) {
        Err(e) => Explored::Refused(format!("cannot start the isolated child process: {e}")),
        Ok(outcome) => match (outcome.result, outcome.fault) {
            (Some(Ok(done)), _) => Explored::Done(done),
            (Some(Err(why)), _) => Explored::Refused(why),
            (None, Some(fault)) => Explored::Died(crate::runner::Bugcheck::from(&fault)),
            (None, None) => Explored::Refused(format!(
                "the isolated child ended ({}) without a result",
                outcome.exit
            )),
        },
    }
}

/// Without the `real-driver` feature the exploration runs in this process.
#[cfg(not(feature = "real-driver"))]
pub fn explore_in_child(
    _path: &Path,
    _options: &RunOptions,
    _jobs: usize,
    _deadline: std::time::Duration,
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
#[cfg(feature = "real-driver")]
pub fn run_in_child(
    path: &Path,
    scenario: &Scenario,
    options: &RunOptions,
    deadline: std::time::Duration,
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
    let input = match serde_json::to_vec(&IsolatedInput::new(path, options)) {
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
pub fn run_in_child(
    _path: &Path,
    scenario: &Scenario,
    options: &RunOptions,
    _deadline: std::time::Duration,
) -> Ran {
    run_here(scenario, options)
}
