//! `show`: one run drawn as a self-contained HTML timeline, a Mermaid sequence diagram, or a
//! Chrome trace-event (Perfetto) JSON file.
//!
//! The run is a scenario file on a seed and backend, or one failure of a replay token, a file
//! of tokens, or a JSON report (`--failure N` picks which). Every rendering is a pure function
//! of the run, so the same run gives the same bytes.

use super::exit_code;
use crate::report::timeline::Timeline;
use crate::report::{html, mermaid, perfetto};
use crate::runner::{self, ReplayToken, RunOptions, RunResult};
use crate::scenario::{self, Backend, Scenario};
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// Output formats of `show`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ShowFormat {
    /// A self-contained HTML page: lanes per thread, spans, arrows, findings (default).
    Html,
    /// A Mermaid sequence diagram (renders in GitHub and Markdown viewers).
    Mermaid,
    /// Chrome trace-event JSON (opens in Perfetto and chrome://tracing).
    Perfetto,
}

/// Arguments of `show`.
#[derive(clap::Args, Debug, Clone)]
pub struct ShowArgs {
    /// A scenario file, a replay token, a file holding tokens, or a `--format json` report.
    pub what: String,
    /// Scheduler seed when showing a scenario file (default: its `setup.seed`).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Driver under test (overrides the scenario's): `model` or `real:PATH`.
    #[arg(long, value_parser = scenario::parse_backend)]
    pub backend: Option<Backend>,
    /// The scenario file of a token (its content hash is checked).
    #[arg(long)]
    pub scenario: Option<PathBuf>,
    /// Where to find a token's scenario by its content hash (files or folders; repeatable;
    /// default `scenarios`).
    #[arg(long = "in", value_name = "PATH")]
    pub search: Vec<PathBuf>,
    /// Which failure of a report or token file to show (1-based).
    #[arg(long, default_value_t = 1)]
    pub failure: usize,
    /// What to write.
    #[arg(long, value_enum, default_value = "html")]
    pub format: ShowFormat,
    /// Write to FILE instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Mermaid: the whole run instead of the events around the first finding.
    #[arg(long)]
    pub full: bool,
    /// Mermaid: trace events kept before and after the finding's events.
    #[arg(long, default_value_t = 12, value_name = "N")]
    pub context: u32,
}

/// The run `show` draws, with the line that says which run it is.
pub struct Shown {
    /// The run.
    pub result: RunResult,
    /// `seed 3, backend model, replay of pct(depth=3,seed=4) ...`.
    pub subtitle: String,
}

/// The replay tokens in a JSON report: each failed scenario's, and each failure of an
/// exploration, with the scenario path the report gives (a place to search by hash).
pub fn report_tokens(doc: &serde_json::Value) -> Vec<(String, Option<PathBuf>)> {
    let mut out = Vec::new();
    for s in doc["scenarios"].as_array().into_iter().flatten() {
        if s["outcome"] != "failed" {
            continue;
        }
        let hint = s["path"].as_str().map(PathBuf::from);
        if let Some(fails) = s["explore"]["failures"].as_array() {
            out.extend(
                fails
                    .iter()
                    .filter_map(|f| f["token"].as_str().map(|t| (t.to_owned(), hint.clone()))),
            );
        } else if let Some(t) = s["replay_token"].as_str() {
            out.push((t.to_owned(), hint));
        }
    }
    out
}

fn load(path: &Path) -> Result<Scenario, String> {
    scenario::load(path).map(|(s, _)| s).map_err(|e| e.render())
}

/// Runs what `args.what` names.
///
/// # Errors
/// A sentence (or a rendered scenario error) saying why nothing can be shown.
pub fn resolve(args: &ShowArgs) -> Result<Shown, String> {
    let options = RunOptions {
        backend: args.backend.clone(),
        seed: args.seed,
        ..RunOptions::default()
    };
    let path = Path::new(&args.what);
    let mut tokens = Vec::new();
    if args.what.len() < 4096 && path.is_file() {
        let text = crate::scenario::read_input_text(path)?;
        match serde_json::from_str::<serde_json::Value>(&text) {
            Ok(doc) if doc.get("scenarios").is_some() => {
                tokens = report_tokens(&doc);
                if tokens.is_empty() {
                    return Err(format!(
                        "{} is a JSON report with no failure to show",
                        args.what
                    ));
                }
            }
            Ok(_) => {
                let scenario = load(path)?;
                let result = runner::run_seeded(&scenario, &options);
                let backend = options
                    .backend
                    .clone()
                    .unwrap_or_else(|| scenario.setup.backend.clone());
                return Ok(Shown {
                    subtitle: format!(
                        "{} - seed {}, backend {backend}, {}",
                        scenario.path, result.seed, result.strategy
                    ),
                    result,
                });
            }
            Err(_) => {
                tokens = text
                    .split_whitespace()
                    .map(|t| (t.to_owned(), None))
                    .collect();
            }
        }
    } else {
        tokens.push((args.what.clone(), None));
    }
    let n = tokens.len();
    let (text, hint) = tokens.get(args.failure.saturating_sub(1)).ok_or_else(|| {
        format!(
            "--failure {} is out of range: there are {n} failures",
            args.failure
        )
    })?;
    let token = ReplayToken::decode(text)?;
    let scenario_path = super::replay::scenario_for(
        &token,
        args.scenario.as_deref(),
        &args.search,
        hint.as_deref(),
    )?;
    let scenario = load(&scenario_path)?;
    let stamp = runner::replay::backend_stamp(
        &options
            .backend
            .clone()
            .unwrap_or_else(|| scenario.setup.backend.clone())
            .to_string(),
    );
    if let Some(why) = runner::replay::backend_mismatch(&token.backend, &stamp) {
        return Err(format!(
            "{why}; the drawing would not be the recorded run (give --backend)"
        ));
    }
    let result = runner::replay::replay_run(&token, &scenario, &options)?;
    let backend = options
        .backend
        .clone()
        .unwrap_or_else(|| scenario.setup.backend.clone());
    Ok(Shown {
        subtitle: format!(
            "{} - seed {}, backend {backend}, replay of a recorded schedule{}{}",
            scenario.path,
            token.seed,
            if token.strategy.is_empty() {
                String::new()
            } else {
                format!(" ({})", token.strategy)
            },
            match &result.divergence {
                Some(d) => format!(" (diverged at choice {})", d.index),
                None => String::new(),
            }
        ),
        result,
    })
}

/// `miracast-sim show`.
pub fn show(args: &ShowArgs) -> u8 {
    let shown = match resolve(args) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return exit_code::INVALID;
        }
    };
    let timeline = Timeline::of_run(&shown.result, &shown.subtitle);
    let text = match args.format {
        ShowFormat::Html => html::render(&timeline),
        ShowFormat::Mermaid => mermaid::render(&timeline, (!args.full).then_some(args.context)),
        ShowFormat::Perfetto => perfetto::render(&timeline),
    };
    match &args.out {
        Some(f) => {
            if let Some(dir) = f.parent().filter(|d| !d.as_os_str().is_empty()) {
                let _ = std::fs::create_dir_all(dir);
            }
            if let Err(e) = std::fs::write(f, text) {
                eprintln!("error: cannot write {}: {e}", f.display());
                return exit_code::INVALID;
            }
            eprintln!(
                "wrote {} ({} events, {} findings)",
                f.display(),
                timeline.len(),
                timeline.findings.len()
            );
        }
        None => {
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(text.as_bytes());
            let _ = out.flush();
        }
    }
    exit_code::OK
}
