//! The command line (clap derive): `run`, `validate`, `schema`, `rules`, `explain`, `replay`,
//! and the Wi-Fi Display tools `sink`, `source`, `wfd decode`.
//!
//! Printing happens only in `cli` and `report`. Every command returns one of the documented
//! [`exit_code`] values.
//!
//! Map:
//! - [`exit_code`]: the exit-code constants and their table.
//! - [`run`](mod@run): `run` (discovery, filter, partition, thread pool, reports) and `validate`.
//! - [`isolate`]: `run --isolate`: one child process per scenario, crashes as findings.
//! - [`progress`]: progress lines on stderr during long runs, and the SIGINT flag.
//! - [`explore_args`]: `run --explore`: the exploration flags and helpers.
//! - [`replay`]: `replay TOKEN|FILE`.
//! - [`show`]: `show SCENARIO|TOKEN|REPORT`: a run as HTML, Mermaid or Perfetto JSON.
//! - [`wfd`]: `sink`, `source`, `wfd decode`.

pub mod exit_code;
pub mod explore_args;
pub mod isolate;
pub mod output;
pub mod progress;
pub mod replay;
pub mod run;
pub mod show;
pub mod wfd;

use crate::report::escape::escape_text;
use crate::rules::{CATALOGUE, RuleId};
use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// Simulates the Windows WDDM Miracast driver stack: plays the OS and a Wi-Fi Display sink
/// against a driver, checks every documented rule, replays failures exactly.
#[derive(Parser, Debug)]
#[command(name = "miracast-sim", version, after_help = exit_code::TABLE, after_long_help = exit_code::TABLE)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
// Parsed once per process and matched at once: the size of the largest variant costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run scenario files (files or folders, recursively, in path order).
    Run(run::RunArgs),
    /// Check scenario files without running them.
    Validate(run::ValidateArgs),
    /// Print the JSON Schema of the scenario format (committed as scenarios/schema.json).
    Schema {
        /// Print the schema of one trace event of JSON reports instead (committed as
        /// docs/trace-schema.json).
        #[arg(long)]
        trace: bool,
        /// Print the schema of a driver profile (`run --profile`) instead (committed as
        /// profiles/schema.json).
        #[arg(long, conflicts_with = "trace")]
        profile: bool,
    },
    /// List every rule of the catalogue, checked or not and why.
    Rules {
        /// Also print each rule's statement and source document.
        #[arg(long)]
        verbose: bool,
    },
    /// Explain one rule: what it says, where it comes from, and a shipped scenario breaking it.
    Explain {
        /// The rule id, e.g. R25.
        rule: String,
        /// Where to look for scenarios that break it.
        #[arg(long, default_value = "scenarios")]
        scenarios: PathBuf,
    },
    /// Re-run a failure exactly from its replay token (or a file holding tokens or a JSON report).
    Replay(replay::ReplayArgs),
    /// Draw one run: an HTML timeline, a Mermaid sequence diagram or a Perfetto trace.
    Show(show::ShowArgs),
    /// Run the simulated Wi-Fi Display sink against a real source over TCP.
    Sink(wfd::SinkArgs),
    /// Run the simulated Wi-Fi Display source against a real sink over TCP.
    Source(wfd::SourceArgs),
    /// Wi-Fi Display tools.
    Wfd {
        /// The tool.
        #[command(subcommand)]
        tool: WfdTool,
    },
    /// Internal: the child process of `run --isolate` (reads its job on stdin).
    #[command(name = isolate::CHILD_COMMAND, hide = true)]
    RunIsolated,
}

/// `wfd` tools.
#[derive(Subcommand, Debug)]
pub enum WfdTool {
    /// Print the RTSP messages of a capture or log as JSON.
    Decode(wfd::DecodeArgs),
}

/// Runs a parsed command line; returns the exit code.
pub fn run(cli: Cli) -> u8 {
    match cli.command {
        Command::Run(args) => run::run(&args),
        Command::Validate(args) => run::validate(&args),
        Command::Schema { trace, profile } => {
            let out = output::Stdout::new();
            out.text(&if profile {
                crate::profile::schema()
            } else if trace {
                crate::trace::schema()
            } else {
                crate::scenario::schema()
            });
            out.finish(exit_code::OK)
        }
        Command::Rules { verbose } => {
            let table = crate::rules::catalogue::table();
            let out = output::Stdout::new();
            out.line(if verbose {
                table.verbose().to_string()
            } else {
                table.to_string()
            });
            out.finish(exit_code::OK)
        }
        Command::Explain { rule, scenarios } => explain(&rule, &scenarios),
        Command::Replay(args) => replay::replay(&args),
        Command::Show(args) => show::show(&args),
        Command::RunIsolated => isolate::child_main(),
        Command::Sink(args) => exit_of(wfd::run_sink(&args)),
        Command::Source(args) => exit_of(wfd::run_source(&args)),
        Command::Wfd {
            tool: WfdTool::Decode(args),
        } => exit_of(wfd::run_decode(&args)),
    }
}

/// The wfd commands return a `std::process::ExitCode`, whose value cannot be read back; they
/// only use 0, 1 and 2, so compare against those.
fn exit_of(code: std::process::ExitCode) -> u8 {
    [
        exit_code::OK,
        exit_code::SCENARIO_FAILED,
        exit_code::INVALID,
    ]
    .into_iter()
    .find(|c| std::process::ExitCode::from(*c) == code)
    .unwrap_or(exit_code::INVALID)
}

fn explain(rule: &str, scenarios: &std::path::Path) -> u8 {
    let id: RuleId = match rule.parse() {
        Ok(id) => id,
        Err(e) => {
            eprintln!("error: {e}");
            return exit_code::INVALID;
        }
    };
    let Some(r) = CATALOGUE.iter().find(|r| r.id == id) else {
        eprintln!("error: unknown rule `{rule}`");
        return exit_code::INVALID;
    };
    let out = output::Stdout::new();
    out.line(format!("{} {}", r.id, r.title));
    out.line(format!("  group:    {} ({})", r.group, r.group.title()));
    out.line(format!("  severity: {}", r.severity));
    out.line(format!("  checked:  {}", r.check));
    out.line(format!(
        "  reference drivers: {}",
        if matches!(r.check, crate::rules::CheckKind::Unchecked(_)) {
            "no (unchecked)"
        } else {
            "yes"
        }
    ));
    out.line(format!(
        "  binaries: {}",
        crate::rules::catalogue::binaries(r.id).label()
    ));
    if let Some(why) = crate::rules::catalogue::kernel_routines_reason(r.id) {
        out.line(format!(
            "            waits for the kernel routines for C drivers: {why}"
        ));
    }
    out.line(format!("  source:   {}", r.source));
    out.line(format!("  rule:     {}", r.statement));
    for c in crate::rules::registry::checks_for(r.id) {
        out.line(format!(
            "  check:    {:?} ({}, binaries: {}) in {}",
            c.id,
            c.place,
            c.reach.label(),
            c.name
        ));
        match c.reach {
            crate::rules::Reach::ModelOnly(why) => {
                out.line(format!("            not on binaries: {why}"));
            }
            crate::rules::Reach::LinuxBinaries(why) => {
                out.line(format!("            on binaries on Linux only: {why}"));
            }
            _ => {}
        }
    }
    let files = crate::scenario::discover(&[scenarios.to_path_buf()]).unwrap_or_default();
    let mut breaking = Vec::new();
    let mut keeping = Vec::new();
    for f in files {
        let Ok((s, _)) = crate::scenario::load(&f) else {
            continue;
        };
        let tag = id.to_string();
        if s.expect.violations.contains(&id) {
            breaking.push(format!("{} ({})", f.display(), s.name));
        } else if s.tags.contains(&tag) {
            keeping.push(format!("{} ({})", f.display(), s.name));
        }
    }
    if breaking.is_empty() {
        out.line("  no shipped scenario breaks it");
    } else {
        out.line("  broken by:");
        breaking
            .iter()
            .for_each(|b| out.line(format!("    {}", escape_text(b))));
        out.line(format!(
            "  run one with: miracast-sim run {}",
            escape_text(breaking[0].split(" (").next().unwrap_or_default())
        ));
    }
    if !keeping.is_empty() {
        out.line("  kept by:");
        keeping
            .iter()
            .for_each(|k| out.line(format!("    {}", escape_text(k))));
    }
    out.finish(exit_code::OK)
}
