//! `run --explore ...`: the exploration flags (flattened into `run`) and the helpers the CLI
//! calls. The only wall clock of the exploration is here, at the edge: `--explore-time`
//! becomes a `stop()` callback the sans-IO explorer polls between schedules.

use crate::explore::scenario_run::{ScenarioRunConfig, run_scenario};
use crate::explore::{
    Bounds, ExploreConfig, ExploreReport, ExploreVerdict, Mode, Partition, explore_observed, token,
};
use crate::runner::RunOptions;
use crate::scenario::{Scenario, parse_duration};
use crate::sched::Strategy;
use std::time::{Duration, Instant};

/// Strategy names for `--strategy`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum StrategyArg {
    /// Random, PCT d=2, PCT d=3 and bounded DFS, rotated per schedule.
    #[default]
    Portfolio,
    /// Seeded uniform random.
    Random,
    /// PCT with `--pct-depth`.
    Pct,
    /// Exhaustive depth-first search (sleep sets, `--max-preemptions`, `--max-depth`).
    Dfs,
}

/// How much `--explore` explores: its optional value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExploreAmount {
    /// `--explore` alone: 1000 schedules (unlimited for `--strategy dfs`), or `--schedules`.
    Default,
    /// `--explore N`: N schedules per scenario.
    Schedules(u64),
    /// `--explore exhaustive`: the depth-first search to its end (implies `--strategy dfs`).
    Exhaustive,
}

fn parse_explore_amount(text: &str) -> Result<ExploreAmount, String> {
    match text {
        "default" => Ok(ExploreAmount::Default),
        "exhaustive" => Ok(ExploreAmount::Exhaustive),
        n => match n.parse::<u64>() {
            Ok(0) => Err("0 schedules explores nothing; give at least 1".to_owned()),
            Ok(n) => Ok(ExploreAmount::Schedules(n)),
            Err(_) => Err(format!(
                "`{n}` is neither a number of schedules nor `exhaustive` (scenario paths go before \
                 `--explore`, or write `--explore=N`)"
            )),
        },
    }
}

/// Exploration flags of `run` (`#[command(flatten)] pub explore: ExploreArgs`).
#[derive(clap::Args, Debug, Clone, Default)]
pub struct ExploreArgs {
    /// Explore orderings: run each scenario under many schedules, report the failing ones
    /// (shrunk, with replay tokens). `--explore N`: N schedules per scenario;
    /// `--explore exhaustive`: every schedule (depth-first search with partial-order
    /// reduction, within `--max-preemptions`/`--max-depth` if given).
    #[arg(
        long,
        num_args = 0..=1,
        default_missing_value = "default",
        value_name = "N|exhaustive",
        value_parser = parse_explore_amount
    )]
    pub explore: Option<ExploreAmount>,
    /// Exploration strategy.
    #[arg(long, value_enum, default_value_t = StrategyArg::Portfolio, requires = "explore")]
    pub strategy: StrategyArg,
    /// PCT bug depth (`--strategy pct`).
    #[arg(long, default_value_t = 3, value_name = "D", value_parser = parse_pct_depth)]
    pub pct_depth: u32,
    /// Schedules per scenario (default 1000; unlimited for `--strategy dfs`); the same as
    /// `--explore N`.
    #[arg(long, value_name = "N", requires = "explore")]
    pub schedules: Option<u64>,
    /// Wall-clock budget per scenario for the exploration loop (`30s`, `5m`).
    #[arg(long, value_name = "DURATION", value_parser = parse_explore_time, requires = "explore")]
    pub explore_time: Option<Duration>,
    /// Most preemptions per schedule in DFS (portfolio default 2).
    #[arg(long, value_name = "N")]
    pub max_preemptions: Option<u32>,
    /// Most choices branched on per schedule in DFS.
    #[arg(long, value_name = "N")]
    pub max_depth: Option<u32>,
    /// Turn partial-order reduction (sleep sets) off.
    #[arg(long)]
    pub no_reduction: bool,
    /// Run every schedule twice and compare the trace hashes; name the first differing event.
    #[arg(long)]
    pub check_determinism: bool,
    /// Print which (DDI, session phase, message state) combinations were visited.
    #[arg(long)]
    pub coverage: bool,
    /// Do not shrink failing schedules.
    #[arg(long)]
    pub no_shrink: bool,
    /// Stop a scenario's exploration at its first failing schedule.
    #[arg(long)]
    pub first_failure: bool,
    /// Replay this token's choices at the start of every schedule, then explore on.
    #[arg(long, value_name = "TOKEN")]
    pub then_explore: Option<String>,
    /// Hot states (start/stop pending, a message in flight) must cool within this much virtual
    /// time.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "60s")]
    pub hot_bound: Duration,
}

/// The explorer configuration for `scenario` from the flags. `seed`, `jobs` and `partition`
/// are `run`'s own `--seed`, `--jobs` and `--partition K/N` (1-based); while exploring, the
/// partition splits the schedules (seeds or the DFS tree) instead of the files.
///
/// # Errors
/// When `--then-explore` is not a valid token.
pub fn explore_config(
    args: &ExploreArgs,
    scenario: &Scenario,
    seed: Option<u64>,
    jobs: usize,
    partition: Option<(u64, u64)>,
) -> Result<ExploreConfig, String> {
    let amount = args.explore.unwrap_or(ExploreAmount::Default);
    let mode = match args.strategy {
        _ if amount == ExploreAmount::Exhaustive => Mode::Dfs,
        StrategyArg::Portfolio => Mode::Portfolio,
        StrategyArg::Random => Mode::Random,
        StrategyArg::Pct => Mode::Pct {
            depth: args.pct_depth,
        },
        StrategyArg::Dfs => Mode::Dfs,
    };
    let prefix = match &args.then_explore {
        Some(t) => token::decode(t)?.choices,
        None => Vec::new(),
    };
    let schedules = match (amount, args.schedules) {
        (ExploreAmount::Schedules(a), Some(b)) if a != b => {
            return Err(format!(
                "--explore {a} and --schedules {b} disagree; give the number once"
            ));
        }
        (ExploreAmount::Exhaustive, Some(b)) => {
            return Err(format!(
                "--explore exhaustive explores every schedule; drop --schedules {b} (or use \
                 --explore {b})"
            ));
        }
        (ExploreAmount::Schedules(a), _) => Some(a),
        (_, b) => b,
    };
    let max_schedules = match (schedules, mode, args.explore_time) {
        (Some(n), _, _) => Some(n),
        (None, Mode::Dfs, _) | (None, _, Some(_)) => None,
        (None, _, None) => Some(1000),
    };
    Ok(ExploreConfig {
        mode,
        max_schedules,
        seed: seed.unwrap_or(scenario.setup.seed),
        bounds: Bounds {
            max_preemptions: args.max_preemptions,
            max_depth: args.max_depth,
        },
        reduction: !args.no_reduction,
        jobs: jobs.max(1),
        partition: partition.map_or(Partition::default(), |(k, n)| Partition {
            part: k - 1,
            parts: n,
        }),
        stop_at_first_failure: args.first_failure,
        check_determinism: args.check_determinism,
        shrink: !args.no_shrink,
        shrink_runs: 200,
        prefix,
        scenario: (scenario.path.clone(), scenario.content_hash.clone()),
        backend: String::new(),
        ..ExploreConfig::default()
    })
}

/// The wall-clock budget as the explorer's `stop()` (never stops without `--explore-time`).
pub fn budget(args: &ExploreArgs) -> impl Fn() -> bool + Sync {
    let deadline = args.explore_time.map(|d| Instant::now() + d);
    move || deadline.is_some_and(|d| Instant::now() >= d)
}

/// Explores one scenario as the flags say. `options` are `run`'s runner options (backend,
/// trace); with the trace on (the default) every schedule is judged by the trace checks too.
/// `interrupt()` stops the exploration between schedules like the time budget does (SIGINT);
/// `on_schedule(failing)` is called after every schedule (progress).
///
/// # Errors
/// When the flags do not make a configuration (see [`explore_config`]).
pub fn explore_scenario(
    args: &ExploreArgs,
    scenario: &Scenario,
    options: &RunOptions,
    (jobs, partition): (usize, Option<(u64, u64)>),
    interrupt: &(dyn Fn() -> bool + Sync),
    on_schedule: &(dyn Fn(bool) + Sync),
) -> Result<ExploreReport, String> {
    let hooks = ExploreHooks {
        tune: &|_| {},
        wrap: &|s| s,
    };
    explore_scenario_with(
        args,
        scenario,
        options,
        (jobs, partition),
        (interrupt, on_schedule),
        &hooks,
    )
}

/// How an isolated exploring child adjusts [`explore_scenario`]: `tune` changes the
/// configuration (resuming after a crashed schedule), `wrap` wraps every run's strategy (to
/// stream its choices to the parent).
pub struct ExploreHooks<'a> {
    /// Adjusts the configuration the flags made.
    pub tune: &'a dyn Fn(&mut ExploreConfig),
    /// Wraps the strategy of every run.
    pub wrap: &'a (dyn Fn(Box<dyn Strategy>) -> Box<dyn Strategy> + Sync),
}

/// The replay-token settings of an exploration of `scenario` under these flags: the
/// configuration [`explore_scenario`] would use (the parent of an isolated exploration makes
/// the tokens of crashed schedules with it).
///
/// # Errors
/// When the flags do not make a configuration (see [`explore_config`]).
pub fn token_config(
    args: &ExploreArgs,
    scenario: &Scenario,
    options: &RunOptions,
    (jobs, partition): (usize, Option<(u64, u64)>),
) -> Result<ExploreConfig, String> {
    // A driver library is loaded once per process: two workers running schedules at once
    // would share its global state, so a driver binary is explored on one worker.
    let real = matches!(
        options.backend.as_ref().unwrap_or(&scenario.setup.backend),
        crate::scenario::Backend::Real(_)
    );
    let jobs = if real { 1 } else { jobs };
    let mut config = explore_config(args, scenario, options.seed, jobs, partition)?;
    config.backend = crate::runner::replay::backend_stamp(
        &options
            .backend
            .clone()
            .unwrap_or_else(|| scenario.setup.backend.clone())
            .to_string(),
    );
    Ok(config)
}

/// [`explore_scenario`] with [`ExploreHooks`].
///
/// # Errors
/// When the flags do not make a configuration (see [`explore_config`]).
pub fn explore_scenario_with(
    args: &ExploreArgs,
    scenario: &Scenario,
    options: &RunOptions,
    (jobs, partition): (usize, Option<(u64, u64)>),
    (interrupt, on_schedule): (&(dyn Fn() -> bool + Sync), &(dyn Fn(bool) + Sync)),
    hooks: &ExploreHooks<'_>,
) -> Result<ExploreReport, String> {
    let mut config = token_config(args, scenario, options, (jobs, partition))?;
    (hooks.tune)(&mut config);
    let run_config = ScenarioRunConfig {
        // The trace stays on: the 27 rules checked over the trace are judged on every
        // explored schedule, not only the online ones.
        options: options.clone(),
        hot_bound: args.hot_bound,
        coverage: args.coverage,
        keep_trace: args.check_determinism,
    };
    let run = |s: Box<dyn Strategy>| run_scenario(scenario, &run_config, (hooks.wrap)(s));
    let budget = budget(args);
    let stop = || budget() || interrupt();
    Ok(explore_observed(&config, &run, &stop, on_schedule))
}

/// What to print for one scenario's exploration: the verdict's rendering (findings as
/// unexpected, found as expected or missing), the coverage table with `--coverage`. The JSON
/// report embeds [`ExploreReport`] (it is `Serialize`) and the verdict.
pub fn render(
    args: &ExploreArgs,
    scenario: &Scenario,
    report: &ExploreReport,
    verdict: &ExploreVerdict,
) -> String {
    let mut out = verdict.render(scenario, report);
    if args.coverage {
        out.push_str(&report.coverage.summary());
    }
    out
}

/// The deepest PCT bug depth accepted: the strategy keeps one priority change point per level.
pub const MAX_PCT_DEPTH: u32 = 64;

fn parse_pct_depth(s: &str) -> Result<u32, String> {
    let d: u32 = s
        .trim()
        .parse()
        .map_err(|_| format!("`{s}` is not a number"))?;
    if d > MAX_PCT_DEPTH {
        return Err(format!(
            "a PCT depth of {d} is more than the {MAX_PCT_DEPTH} this build accepts; bugs need few ordering constraints, try 1 to 5"
        ));
    }
    Ok(d)
}

fn parse_explore_time(s: &str) -> Result<Duration, String> {
    let d = parse_duration(s)?;
    if d.is_zero() {
        return Err(format!(
            "--explore-time {s} explores nothing; give a positive budget such as 30s"
        ));
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser, Debug)]
    struct Flags {
        #[command(flatten)]
        explore: ExploreArgs,
    }

    #[test]
    fn flags_parse_and_budget_is_off_without_a_time() {
        let f = Flags::try_parse_from([
            "x",
            "--explore",
            "--strategy",
            "dfs",
            "--max-preemptions",
            "2",
            "--explore-time",
            "30s",
            "--coverage",
        ])
        .expect("flags parse");
        assert!(f.explore.explore == Some(ExploreAmount::Default) && f.explore.coverage);
        assert_eq!(f.explore.strategy, StrategyArg::Dfs);
        assert_eq!(f.explore.max_preemptions, Some(2));
        assert_eq!(f.explore.explore_time, Some(Duration::from_secs(30)));
        assert!(!budget(&ExploreArgs::default())());
        assert!(
            Flags::try_parse_from(["x", "--schedules", "5"]).is_err(),
            "--schedules needs --explore"
        );
    }

    #[test]
    fn explore_takes_a_number_or_exhaustive() {
        let parse = |args: &[&str]| {
            Flags::try_parse_from(std::iter::once("x").chain(args.iter().copied()))
                .map(|f| f.explore.explore)
        };
        assert_eq!(
            parse(&["--explore", "250"]).unwrap(),
            Some(ExploreAmount::Schedules(250))
        );
        assert_eq!(
            parse(&["--explore=exhaustive"]).unwrap(),
            Some(ExploreAmount::Exhaustive)
        );
        assert_eq!(parse(&[]).unwrap(), None);
        let err = parse(&["--explore", "scenarios/x.json"])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("neither a number of schedules nor `exhaustive`"),
            "{err}"
        );
        assert!(parse(&["--explore", "0"]).is_err());
    }
}
