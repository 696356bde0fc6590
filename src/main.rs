//! The `miracast-sim` binary: parses the command line and maps the result to an exit code.
//! Everything else lives in the library (`miracast_sim::cli`).

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = miracast_sim::cli::Cli::parse();
    ExitCode::from(miracast_sim::cli::run(cli))
}
