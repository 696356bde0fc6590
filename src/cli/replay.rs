//! `replay TOKEN|FILE`: re-runs a recorded run with [`ReplayStrategy`] and says whether the
//! recorded schedule still fits the program.

use super::exit_code;
use crate::report::escape::{escape_lines, escape_text};
use crate::report::{Outcome, RunReport, ScenarioReport, human};
use crate::runner::{self, ReplayToken, RunOptions};
use crate::sched::{ChoiceKind, RandomStrategy, ReplayStrategy};
use std::path::PathBuf;

/// Arguments of `replay`.
#[derive(clap::Args, Debug, Clone)]
pub struct ReplayArgs {
    /// A replay token, or a file holding one (or a `--format json` report: its failed
    /// scenarios are replayed).
    pub token: String,
    /// Where to find the token's scenario, by its content hash: files or folders (default
    /// `scenarios`; a JSON report's own scenario paths are searched too).
    pub paths: Vec<PathBuf>,
    /// Use this scenario file (its content hash is checked against the token's).
    #[arg(long)]
    pub scenario: Option<PathBuf>,
    /// Driver under test (default: the scenario's): `model` or `real:PATH`.
    #[arg(long, value_parser = crate::scenario::parse_backend)]
    pub backend: Option<crate::scenario::Backend>,
    /// Replay even on another backend than the token's, or with a changed driver library.
    #[arg(long)]
    pub force: bool,
    /// Print the whole trace of the replayed run.
    #[arg(long)]
    pub trace: bool,
    /// The driver profile the run used (`run --profile`).
    #[arg(long, value_name = "FILE")]
    pub profile: Option<PathBuf>,
    /// Replay in this process even against a driver binary (for a debugger; a crash then ends
    /// the replay). By default a driver binary is replayed in a supervised child process, so
    /// a recorded crash is reported as the bugcheck it was.
    #[arg(long)]
    pub no_isolate: bool,
}

/// The tokens `arg` names, each with the scenario path a JSON report gives for it (a place to
/// look for the scenario by hash, never a path taken from the token).
fn tokens_from(arg: &str) -> Result<Vec<(String, Option<PathBuf>)>, String> {
    let path = std::path::Path::new(arg);
    if arg.len() < 4096 && path.is_file() {
        let text = crate::scenario::read_input_text(path)?;
        if let Ok(doc) = serde_json::from_str::<serde_json::Value>(&text) {
            let mut tokens = Vec::new();
            for s in doc["scenarios"].as_array().into_iter().flatten() {
                if s["outcome"] != "failed" {
                    continue;
                }
                let hint = s["path"].as_str().map(PathBuf::from);
                match s["explore"]["failures"].as_array() {
                    Some(fails) => tokens.extend(
                        fails
                            .iter()
                            .filter_map(|f| f["token"].as_str())
                            .map(|t| (t.to_owned(), hint.clone())),
                    ),
                    None => tokens.extend(
                        s["replay_token"]
                            .as_str()
                            .map(|t| (t.to_owned(), hint.clone())),
                    ),
                }
            }
            if tokens.is_empty() {
                return Err(format!(
                    "{arg} is a JSON report with no failed scenario to replay"
                ));
            }
            return Ok(tokens);
        }
        return Ok(text
            .split_whitespace()
            .map(|t| (t.to_owned(), None))
            .collect());
    }
    Ok(vec![(arg.to_owned(), None)])
}

/// The scenario a token replays on: `--scenario FILE`, or the file among `paths` (and the
/// report's `hint`) whose content hash is the token's.
///
/// # Errors
/// A sentence when neither finds it.
pub fn scenario_for(
    token: &ReplayToken,
    explicit: Option<&std::path::Path>,
    paths: &[PathBuf],
    hint: Option<&std::path::Path>,
) -> Result<PathBuf, String> {
    if let Some(p) = explicit {
        return Ok(p.to_path_buf());
    }
    let mut search: Vec<PathBuf> = hint.iter().map(|h| h.to_path_buf()).collect();
    search.extend(paths.iter().cloned());
    if paths.is_empty() {
        search.push(PathBuf::from("scenarios"));
    }
    search.retain(|p| p.exists());
    if search.is_empty() {
        return Err(format!(
            "the token's scenario (content hash {}) is found by its content, and there is nothing to search here: give the file or folder it came from (`miracast-sim replay TOKEN path/to/scenarios`) or `--scenario FILE`",
            token.hash
        ));
    }
    runner::replay::find_scenario(&token.hash, &search)
}

/// `miracast-sim replay`.
pub fn replay(args: &ReplayArgs) -> u8 {
    let tokens = match tokens_from(&args.token) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {e}");
            return exit_code::INVALID;
        }
    };
    let mut worst = exit_code::OK;
    for (text, hint) in tokens {
        let code = replay_one(&text, hint.as_deref(), args);
        if worst == exit_code::OK || (code != exit_code::OK && code < worst) {
            worst = code;
        }
    }
    worst
}

fn replay_one(text: &str, hint: Option<&std::path::Path>, args: &ReplayArgs) -> u8 {
    let token = match ReplayToken::decode(text) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {e}");
            return exit_code::INVALID;
        }
    };
    let choices = match token.choices() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return exit_code::INVALID;
        }
    };
    let path = match scenario_for(&token, args.scenario.as_deref(), &args.paths, hint) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return exit_code::INVALID;
        }
    };
    let scenario = match crate::scenario::load(&path) {
        Ok((s, _)) => s,
        Err(e) => {
            eprintln!("{}", e.render());
            return exit_code::INVALID;
        }
    };
    if scenario.content_hash != token.hash {
        eprintln!(
            "warning: {} changed since the token was made (hash {} then, {} now); the replay may diverge",
            path.display(),
            token.hash,
            scenario.content_hash
        );
    }
    let backend = args
        .backend
        .clone()
        .unwrap_or_else(|| scenario.setup.backend.clone());
    let stamp = runner::replay::backend_stamp(&backend.to_string());
    if let Some(why) = runner::replay::backend_mismatch(&token.backend, &stamp) {
        if !args.force {
            eprintln!(
                "error: {why}; the replay would not be the recorded run (pass --force to replay anyway)"
            );
            return exit_code::INVALID;
        }
        eprintln!("warning: {why}; replaying anyway (--force)");
    }
    // A closed pipe ends the output quietly; another failed write is exit code 2.
    let out = super::output::Stdout::new();
    out.line(escape_text(&format!(
        "replaying {} with {} recorded choices (seed {}{})",
        path.display(),
        choices.len(),
        token.seed,
        if token.strategy.is_empty() {
            String::new()
        } else {
            format!(", {}", token.strategy)
        }
    )));
    let n = choices.len();
    let strategy = ReplayStrategy::new(choices, Box::new(RandomStrategy::new(token.seed)));
    let profile = match super::run::profile_or_exit(args.profile.as_deref()) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let options = RunOptions {
        seed: Some(token.seed),
        backend: Some(backend),
        profile,
        ..RunOptions::default()
    };
    if cfg!(feature = "real-driver")
        && !args.no_isolate
        && matches!(options.backend, Some(crate::scenario::Backend::Real(_)))
    {
        drop(strategy);
        return replay_isolated(&out, &path, &scenario, &options, (&token, n), args.trace);
    }
    let result = runner::run_once(&scenario, &options, Box::new(strategy));
    let verdict = runner::judge(&scenario, &result);
    match &result.divergence {
        None => out.line(format!("the replay followed all {n} recorded choices")),
        Some(d) => out.line(format!(
            "the replay diverged at choice {}: the recording has a {} choice among {}, the program offered a {} choice among {} (the scenario or the driver changed)",
            d.index,
            kind(d.expected.kind),
            d.expected.options,
            kind(d.found_kind),
            d.found_options
        )),
    }
    if args.trace {
        out.text(&escape_lines(&result.trace.to_text()));
    }
    let outcome = if verdict.unavailable {
        Outcome::Unavailable
    } else if verdict.passed {
        Outcome::Passed
    } else {
        Outcome::Failed
    };
    let entry = ScenarioReport {
        path: path.display().to_string(),
        name: scenario.name.clone(),
        tags: scenario.tags.clone(),
        outcome,
        replay_token: Some(result.replay_token()),
        result: Some(result.into()),
        verdict: Some(verdict),
        ..ScenarioReport::default()
    };
    print_one(&out, entry)
}

/// Replays a driver binary's schedule in a supervised child: a crash under it is the bugcheck
/// finding it was when the schedule was explored.
fn replay_isolated(
    out: &super::output::Stdout,
    path: &std::path::Path,
    scenario: &crate::scenario::Scenario,
    options: &RunOptions,
    (token, n): (&ReplayToken, usize),
    trace: bool,
) -> u8 {
    let choices = token.choices().unwrap_or_default();
    let ran = super::isolate::run_in_child_replaying(
        path,
        scenario,
        options,
        std::time::Duration::from_secs(30),
        Some(choices),
    );
    let record = match &ran.result {
        crate::report::RunRecord::Isolated(r) => Some(r),
        crate::report::RunRecord::Local(_) => None,
    };
    let divergence = record.and_then(|r| r.json.get("divergence").filter(|d| !d.is_null()));
    if let Some(how) = record.and_then(|r| r.died.as_deref()) {
        out.line(escape_text(&format!(
            "the driver died during the replay ({how}), after the recorded choices it reached"
        )));
    } else if let Some(d) = divergence {
        out.line(escape_text(&format!(
            "the replay diverged from the {n} recorded choices (the scenario or the driver changed): {d}"
        )));
    } else {
        out.line(format!("the replay followed all {n} recorded choices"));
    }
    if trace && let Some(r) = record {
        for e in &r.events {
            out.line(escape_text(e));
        }
    }
    let entry = ScenarioReport {
        path: path.display().to_string(),
        name: scenario.name.clone(),
        tags: scenario.tags.clone(),
        outcome: ran.outcome,
        replay_token: ran.replay_token.clone(),
        result: Some(ran.result),
        verdict: Some(ran.verdict),
        ..ScenarioReport::default()
    };
    print_one(out, entry)
}

/// Prints the human report of the one replayed scenario; returns the exit code it earns.
fn print_one(out: &super::output::Stdout, entry: ScenarioReport) -> u8 {
    let report = RunReport {
        scenarios: vec![entry],
        rule_coverage: None,
    };
    out.text(&human::render(&report));
    out.finish(super::run::exit_for(&report))
}

fn kind(k: ChoiceKind) -> &'static str {
    match k {
        ChoiceKind::Thread => "thread",
        ChoiceKind::Value => "value",
    }
}
