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
    /// Use this scenario file instead of the path recorded in the token.
    #[arg(long)]
    pub scenario: Option<PathBuf>,
    /// Print the whole trace of the replayed run.
    #[arg(long)]
    pub trace: bool,
}

fn tokens_from(arg: &str) -> Result<Vec<String>, String> {
    let path = std::path::Path::new(arg);
    if arg.len() < 4096 && path.is_file() {
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {arg}: {e}"))?;
        if let Ok(doc) = serde_json::from_str::<serde_json::Value>(&text) {
            let tokens: Vec<String> = doc["scenarios"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|s| s["outcome"] == "failed")
                .filter_map(|s| s["replay_token"].as_str().map(str::to_owned))
                .collect();
            if tokens.is_empty() {
                return Err(format!(
                    "{arg} is a JSON report with no failed scenario to replay"
                ));
            }
            return Ok(tokens);
        }
        return Ok(text.split_whitespace().map(str::to_owned).collect());
    }
    Ok(vec![arg.to_owned()])
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
    for text in tokens {
        let code = replay_one(&text, args);
        if worst == exit_code::OK || (code != exit_code::OK && code < worst) {
            worst = code;
        }
    }
    worst
}

fn replay_one(text: &str, args: &ReplayArgs) -> u8 {
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
    let path = args
        .scenario
        .clone()
        .unwrap_or_else(|| PathBuf::from(&token.scenario));
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
    // A closed pipe ends the output quietly; another failed write is exit code 2.
    let out = super::output::Stdout::new();
    out.line(escape_text(&format!(
        "replaying {} with {} recorded choices from {}",
        path.display(),
        choices.len(),
        token.strategy
    )));
    let n = choices.len();
    let strategy = ReplayStrategy::new(choices, Box::new(RandomStrategy::new(token.seed)));
    let options = RunOptions {
        seed: Some(token.seed),
        ..RunOptions::default()
    };
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
    let report = RunReport {
        scenarios: vec![entry],
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
