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
    /// The file of [`RunOptions::profile`].
    #[serde(default)]
    pub profile: Option<PathBuf>,
}

impl IsolatedInput {
    /// The input that runs `path` with `options`.
    pub fn new(path: &Path, options: &RunOptions) -> Self {
        IsolatedInput {
            path: path.to_path_buf(),
            trace: options.trace,
            backend: options.backend.as_ref().map(ToString::to_string),
            seed: options.seed,
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

/// The child side of `__run-isolated`: the input is an [`IsolatedInput`].
fn child_run(input: &[u8]) -> ChildAnswer {
    let input: IsolatedInput =
        serde_json::from_slice(input).map_err(|e| format!("bad isolated-run input: {e}"))?;
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
pub fn run_in_child(path: &Path, scenario: &Scenario, options: &RunOptions) -> Ran {
    use crate::backend::real::run_isolated;
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
    let outcome = match run_isolated::<ChildAnswer>(&mut command, &input) {
        Ok(o) => o,
        Err(e) => return failed(format!("cannot start the isolated child process: {e}")),
    };
    match (outcome.result, outcome.fault) {
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
    }
}

/// Without the `real-driver` feature the scenario runs in this process.
#[cfg(not(feature = "real-driver"))]
pub fn run_in_child(_path: &Path, scenario: &Scenario, options: &RunOptions) -> Ran {
    run_here(scenario, options)
}
