//! `run` and `validate`: find the scenario files, keep this partition's and the filtered ones,
//! run them on a thread pool, and write every report asked for.
//!
//! Each scenario's simulation is single-threaded and `Rc`-based, so it is built and run
//! entirely inside one worker thread (or, with `--isolate`, in a child process that worker
//! starts and waits for: see [`super::isolate`]); workers take the next file from a shared counter and put
//! the finished [`ScenarioReport`] in that file's slot, so the report order is the path order
//! whatever `--jobs` is.

use super::progress::{Progress, ReportFiles, interrupted};
use super::{exit_code, isolate};
use crate::report::escape::escape_text;
use crate::report::{self, Format, Outcome, RunReport, ScenarioReport};
use crate::runner::RunOptions;
use crate::scenario::{self, Backend, parse_duration};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Arguments of `run`.
#[derive(clap::Args, Debug, Clone)]
pub struct RunArgs {
    /// Scenario files or folders (searched recursively for *.json); default `scenarios`.
    pub paths: Vec<PathBuf>,
    /// Driver under test for every scenario: `model` or `real:PATH` (overrides the files).
    #[arg(long, value_parser = parse_backend)]
    pub backend: Option<Backend>,
    /// Scheduler seed for every scenario (overrides `setup.seed`).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Format of the report on stdout (or in --out).
    #[arg(long, value_enum, default_value = "human")]
    pub format: Format,
    /// Write the --format report to FILE instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Also write a report in FORMAT to FILE; repeatable (`--report junit=out/junit.xml`).
    #[arg(long, value_name = "FORMAT=FILE", value_parser = parse_report)]
    pub report: Vec<(Format, PathBuf)>,
    /// Scenarios run in parallel; default: every core.
    #[arg(long, short = 'j')]
    pub jobs: Option<usize>,
    /// Run only part K of N (1-based), split by a stable hash of each file's path.
    #[arg(long, value_name = "K/N", value_parser = parse_partition)]
    pub partition: Option<(u64, u64)>,
    /// Run only scenarios whose name or one of whose tags contains this text.
    #[arg(long)]
    pub filter: Option<String>,
    /// Do not record traces (faster; trace checks and trace expectations do not run unless a
    /// scenario's `expect` needs them).
    #[arg(long)]
    pub no_trace: bool,
    /// Run each scenario in a child process of its own, so that a driver binary that crashes
    /// (segmentation fault, abort, stack overflow) is reported as a bugcheck finding and the
    /// other scenarios still run. Default: on for scenarios whose backend is `real:...`.
    #[arg(long, overrides_with = "no_isolate")]
    pub isolate: bool,
    /// Run every scenario in this process, even against a driver binary.
    #[arg(long, overrides_with = "isolate")]
    pub no_isolate: bool,
    /// When stderr is not a terminal, print a progress line this often (`10s`, `1m`; `0s`:
    /// never). Report files are rewritten with the results so far at the same pace.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "10s")]
    pub progress_every: std::time::Duration,
    /// In an isolated run, how long loading the driver or one DDI call may go without
    /// returning or calling back before the child's whole process group is killed and the
    /// hang reported (`500ms`, `30s`, `2m`).
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_timeout)]
    pub driver_timeout: std::time::Duration,
    /// A driver profile (JSON, `miracast-sim schema --profile`): what your drivers' private
    /// IOCTL and message codes mean. Default: the reference drivers' own when a reference model
    /// plays one side, else none.
    #[arg(long, value_name = "FILE")]
    pub profile: Option<PathBuf>,
    /// Exploration of orderings (`--explore` and its flags).
    #[command(flatten)]
    pub explore: super::explore_args::ExploreArgs,
}

/// Arguments of `validate`.
#[derive(clap::Args, Debug, Clone)]
pub struct ValidateArgs {
    /// Scenario files or folders; default `scenarios`.
    pub paths: Vec<PathBuf>,
    /// Also say which scenarios this backend could not carry out (`real:UMD,KMD`), and why.
    #[arg(long, value_parser = parse_backend)]
    pub backend: Option<Backend>,
    /// The driver profile the run would use (`run --profile`).
    #[arg(long, value_name = "FILE")]
    pub profile: Option<PathBuf>,
}

fn parse_backend(s: &str) -> Result<Backend, String> {
    scenario::parse_backend(s)
}

fn parse_timeout(s: &str) -> Result<std::time::Duration, String> {
    let d = scenario::parse_duration(s)?;
    if d.is_zero() || d > std::time::Duration::from_secs(24 * 3600) {
        return Err(format!("`{s}` must be more than 0 and at most 24h"));
    }
    Ok(d)
}

fn parse_report(s: &str) -> Result<(Format, PathBuf), String> {
    // `coverage=FILE` is a report format like the others (`--coverage` fills it).
    let (format, file) = s
        .split_once('=')
        .ok_or_else(|| format!("`{s}` is not FORMAT=FILE (e.g. junit=out/junit.xml)"))?;
    let format = <Format as clap::ValueEnum>::from_str(format, true)
        .map_err(|_| format!("unknown report format `{format}` (human, json, junit, coverage)"))?;
    if file.is_empty() {
        return Err("the report file is empty".to_owned());
    }
    Ok((format, PathBuf::from(file)))
}

/// `K/N` with 1 <= K <= N.
pub fn parse_partition(s: &str) -> Result<(u64, u64), String> {
    let (k, n) = s
        .split_once('/')
        .ok_or_else(|| format!("`{s}` is not K/N (e.g. 2/4)"))?;
    let k: u64 = k
        .trim()
        .parse()
        .map_err(|_| format!("`{k}` is not a number"))?;
    let n: u64 = n
        .trim()
        .parse()
        .map_err(|_| format!("`{n}` is not a number"))?;
    if n == 0 || k == 0 || k > n {
        return Err(format!("partition {k}/{n} must have 1 <= K <= N"));
    }
    Ok((k, n))
}

/// The part (1-based) of `n` a scenario path falls in: FNV-1a of the path with `/` separators.
pub fn partition_of(path: &Path, n: u64) -> u64 {
    let text = path.to_string_lossy().replace('\\', "/");
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h % n + 1
}

/// The driver profile of `--profile`, if given; when it cannot be read or is invalid, the error
/// is printed and the exit code returned (every command that takes the flag refuses alike).
pub(super) fn profile_or_exit(
    path: Option<&Path>,
) -> Result<Option<&'static crate::profile::DriverProfile>, u8> {
    path.map(crate::profile::load).transpose().map_err(|e| {
        eprintln!("error: {e}");
        exit_code::INVALID
    })
}

fn default_paths(paths: &[PathBuf]) -> Vec<PathBuf> {
    if paths.is_empty() {
        vec![PathBuf::from("scenarios")]
    } else {
        paths.to_vec()
    }
}

fn stem(path: &Path) -> String {
    path.file_stem().map_or_else(
        || path.display().to_string(),
        |s| s.to_string_lossy().into_owned(),
    )
}

/// Runs or skips one file.
fn one(path: &Path, args: &RunArgs, options: &RunOptions) -> ScenarioReport {
    let shown = path.display().to_string();
    let mut entry = ScenarioReport {
        path: shown,
        name: stem(path),
        tags: Vec::new(),
        ..ScenarioReport::default()
    };
    if let Some((k, n)) = args.partition
        && partition_of(path, n) != k
    {
        entry.skip_reason = Some(format!("not in partition {k}/{n}"));
        return entry;
    }
    let scenario = match scenario::load_all(path) {
        Ok((s, _)) => s,
        Err(all) => {
            entry.outcome = Outcome::Invalid;
            entry.invalid = Some(crate::report::InvalidScenario::from_all(&all));
            return entry;
        }
    };
    entry.name = scenario.name.clone();
    entry.tags = scenario.tags.clone();
    if let Some(f) = &args.filter
        && !(scenario.name.contains(f.as_str())
            || scenario.tags.iter().any(|t| t.contains(f.as_str())))
    {
        entry.skip_reason = Some(format!("filtered out by `{f}`"));
        return entry;
    }
    if backend_skip(&mut entry, &scenario, options) {
        return entry;
    }
    let ran = if isolate::wanted(args.isolate, args.no_isolate, &scenario, options) {
        isolate::run_in_child(path, &scenario, options, args.driver_timeout)
    } else {
        isolate::run_here(&scenario, options)
    };
    entry.outcome = ran.outcome;
    entry.replay_token = ran.replay_token;
    entry.result = Some(ran.result);
    entry.verdict = Some(ran.verdict);
    entry
}

/// Marks `entry` skipped, with the reasons, when the backend cannot carry `scenario` out.
fn backend_skip(
    entry: &mut ScenarioReport,
    scenario: &scenario::Scenario,
    options: &RunOptions,
) -> bool {
    let backend = options
        .backend
        .clone()
        .unwrap_or_else(|| scenario.setup.backend.clone());
    let reasons = crate::runner::cannot_run(scenario, &backend, options.profile);
    if reasons.is_empty() {
        return false;
    }
    entry.outcome = Outcome::Skipped;
    entry.skip_reason = Some(format!("cannot run on {backend}: {}", reasons.join("; ")));
    entry.cannot_run = reasons;
    true
}

/// What has finished so far, in path order (for the report files while the run goes on).
fn finished_so_far(slots: &[Mutex<Option<ScenarioReport>>]) -> RunReport {
    RunReport {
        scenarios: slots
            .iter()
            .filter_map(|s| s.lock().ok().and_then(|s| s.clone()))
            .collect(),
        rule_coverage: None,
    }
}

/// Runs `paths` with `jobs` workers; reports in path order. `progress` counts finished
/// scenarios; `files` get the results so far as they come. After SIGINT no new scenario
/// starts; those not run are skipped as interrupted.
pub fn run_files(
    files: &[PathBuf],
    args: &RunArgs,
    jobs: usize,
    progress: &Progress,
    report_files: &ReportFiles,
) -> RunReport {
    let options = RunOptions {
        trace: !args.no_trace,
        backend: args.backend.clone(),
        seed: args.seed,
        profile: args
            .profile
            .as_deref()
            .and_then(|p| crate::profile::load(p).ok()),
        ..RunOptions::default()
    };
    let slots: Vec<Mutex<Option<ScenarioReport>>> =
        files.iter().map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    // A redrawn line only on a terminal, and only when there is something to wait for (piped
    // runs get progress lines from the ticker instead).
    let redraw =
        std::io::stderr().is_terminal() && std::env::var_os("CI").is_none() && files.len() > 1;
    let jobs = jobs.clamp(1, files.len().max(1));
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| {
                loop {
                    if interrupted() {
                        break;
                    }
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(path) = files.get(i) else { break };
                    progress.begin(&path.display().to_string());
                    let started = std::time::Instant::now();
                    let mut entry = one(path, args, &options);
                    entry.wall_time = Some(started.elapsed());
                    progress.scenario_done(matches!(
                        entry.outcome,
                        Outcome::Failed | Outcome::Invalid | Outcome::Unavailable
                    ));
                    if let Ok(mut slot) = slots[i].lock() {
                        *slot = Some(entry);
                    }
                    report_files.stream(|| finished_so_far(&slots));
                    let n = done.fetch_add(1, Ordering::SeqCst) + 1;
                    if redraw {
                        let mut err = std::io::stderr().lock();
                        let _ = write!(err, "\r[{n}/{}] {:<60.60}", files.len(), path.display());
                        let _ = err.flush();
                    }
                }
            });
        }
    });
    if redraw {
        eprint!("\r{:80}\r", "");
    }
    let stopped = interrupted();
    let scenarios = slots
        .into_iter()
        .zip(files)
        .map(|(slot, path)| {
            slot.into_inner()
                .ok()
                .flatten()
                .unwrap_or_else(|| not_run(path, stopped))
        })
        .collect();
    RunReport {
        scenarios,
        rule_coverage: None,
    }
}

/// The entry of a scenario that did not finish: skipped after SIGINT, a failure otherwise.
fn not_run(path: &Path, interrupted: bool) -> ScenarioReport {
    let mut entry = ScenarioReport {
        path: path.display().to_string(),
        name: stem(path),
        ..ScenarioReport::default()
    };
    if interrupted {
        entry.skip_reason = Some("not run: the run was interrupted".to_owned());
    } else {
        entry.outcome = Outcome::Failed;
        entry.verdict = Some(crate::runner::Verdict {
            reasons: vec!["the worker running this scenario stopped".to_owned()],
            ..Default::default()
        });
    }
    entry
}

/// `run --explore`: each scenario under many schedules (the explorer parallelizes and
/// partitions the schedules itself, so files run one after another and `--partition` splits
/// schedules, not files).
///
/// # Errors
/// When the exploration flags do not make a configuration.
pub fn explore_files(
    files: &[PathBuf],
    args: &RunArgs,
    jobs: usize,
    progress: &Progress,
    report_files: &ReportFiles,
) -> Result<RunReport, String> {
    use super::explore_args;
    let options = RunOptions {
        trace: !args.no_trace,
        backend: args.backend.clone(),
        seed: args.seed,
        profile: args
            .profile
            .as_deref()
            .and_then(|p| crate::profile::load(p).ok()),
        ..RunOptions::default()
    };
    let mut scenarios = Vec::new();
    for path in files {
        if interrupted() {
            scenarios.push(not_run(path, true));
            continue;
        }
        progress.begin(&path.display().to_string());
        let started = std::time::Instant::now();
        let mut entry = ScenarioReport {
            path: path.display().to_string(),
            name: stem(path),
            ..ScenarioReport::default()
        };
        let scenario = match scenario::load_all(path) {
            Ok((s, _)) => s,
            Err(all) => {
                entry.outcome = Outcome::Invalid;
                entry.invalid = Some(crate::report::InvalidScenario::from_all(&all));
                scenarios.push(entry);
                continue;
            }
        };
        entry.name = scenario.name.clone();
        entry.tags = scenario.tags.clone();
        if let Some(f) = &args.filter
            && !(scenario.name.contains(f.as_str())
                || scenario.tags.iter().any(|t| t.contains(f.as_str())))
        {
            entry.skip_reason = Some(format!("filtered out by `{f}`"));
            scenarios.push(entry);
            continue;
        }
        if backend_skip(&mut entry, &scenario, &options) {
            scenarios.push(entry);
            continue;
        }
        // Against a driver binary the exploration runs in a supervised child: a schedule
        // under which the driver crashes or hangs is a bugcheck finding, not the end of the run.
        if cfg!(feature = "real-driver")
            && isolate::wanted(args.isolate, args.no_isolate, &scenario, &options)
        {
            let (verdict, summary, explore, bugchecks) =
                match isolate::explore_in_child(path, &scenario, args, &options) {
                    isolate::Explored::Refused(why) => return Err(why),
                    isolate::Explored::Done { done, crashes } => {
                        let verdict = isolate::verdict_with_crashes(Some(done.verdict), &crashes);
                        let summary = crash_lines(&crashes, None) + &done.summary;
                        (verdict, summary, Some(done.explore), crashes)
                    }
                    isolate::Explored::Died {
                        crashes,
                        why,
                        completed,
                    } => {
                        let mut verdict = isolate::verdict_with_crashes(None, &crashes);
                        verdict.schedules += completed;
                        let summary = format!(
                            "{} ({})\n{}",
                            scenario.name,
                            scenario.path,
                            crash_lines(&crashes, Some(&why))
                        );
                        (verdict, summary, None, crashes)
                    }
                };
            entry.outcome = if verdict.passed {
                Outcome::Passed
            } else {
                Outcome::Failed
            };
            if !verdict.passed {
                entry.verdict = Some(crate::runner::Verdict {
                    reasons: verdict.reasons(),
                    bugchecks,
                    ..Default::default()
                });
                entry.replay_token = verdict.first_token().map(str::to_owned);
            }
            entry.explore_summary = Some(summary);
            entry.explore_verdict = Some(verdict);
            entry.explore = explore;
            entry.wall_time = Some(started.elapsed());
            progress.scenario_done(entry.outcome != Outcome::Passed);
            scenarios.push(entry);
            continue;
        }
        let report = explore_args::explore_scenario(
            &args.explore,
            &scenario,
            &options,
            (jobs, args.partition),
            &interrupted,
            &|failing| progress.schedule_done(failing),
        )?;
        let verdict = crate::explore::ExploreVerdict::of(&scenario, &report);
        entry.outcome = if verdict.passed {
            Outcome::Passed
        } else {
            Outcome::Failed
        };
        if !verdict.passed {
            entry.verdict = Some(crate::runner::Verdict {
                reasons: verdict.reasons(),
                ..Default::default()
            });
            entry.replay_token = verdict.first_token().map(str::to_owned);
        }
        entry.explore_summary = Some(explore_args::render(
            &args.explore,
            &scenario,
            &report,
            &verdict,
        ));
        if interrupted()
            && let Some(summary) = &mut entry.explore_summary
        {
            summary.push_str("interrupted (SIGINT): the exploration stopped early; the findings above are what it found\n");
        }
        entry.explore_verdict = Some(verdict);
        entry.explore = serde_json::to_value(&report).ok();
        entry.wall_time = Some(started.elapsed());
        progress.scenario_done(entry.outcome != Outcome::Passed);
        scenarios.push(entry);
        report_files.stream_now(|| RunReport {
            scenarios: scenarios.clone(),
            rule_coverage: None,
        });
    }
    Ok(RunReport {
        scenarios,
        rule_coverage: None,
    })
}

/// The human lines of the schedules under which a driver binary died during an exploration
/// (each with its replay token), and why the exploration ended there when it did.
fn crash_lines(crashes: &[crate::runner::Bugcheck], ended: Option<&str>) -> String {
    let mut out = String::new();
    for b in crashes {
        out.push_str(&format!("BUGCHECK {}\n", b.finding));
        match &b.replay_token {
            Some(t) => out.push_str(&format!("  replay: miracast-sim replay {t}\n")),
            None => out.push_str("  (no schedule had started: nothing to replay)\n"),
        }
    }
    if let Some(why) = ended {
        out.push_str(&format!("the exploration ended at the crash: {why}\n"));
    } else if !crashes.is_empty() {
        out.push_str(&format!(
            "the exploration went on in a new process without {} (every other schedule ran)\n",
            if crashes.len() == 1 {
                "that schedule".to_owned()
            } else {
                format!("those {} schedules", crashes.len())
            }
        ));
    }
    out
}

/// The exit code for a finished run.
pub fn exit_for(report: &RunReport) -> u8 {
    let c = report.counts();
    if c.failed > c.invalid + c.unavailable {
        exit_code::SCENARIO_FAILED
    } else if c.invalid > 0 {
        exit_code::INVALID
    } else if c.unavailable > 0 {
        exit_code::BACKEND_UNAVAILABLE
    } else {
        exit_code::OK
    }
}

/// `miracast-sim run`.
pub fn run(args: &RunArgs) -> u8 {
    let files = match scenario::discover(&default_paths(&args.paths)) {
        Ok(f) => f,
        Err((p, e)) => {
            eprintln!("error: cannot read {}: {e}", p.display());
            return exit_code::INVALID;
        }
    };
    if files.is_empty() {
        eprintln!("error: no scenario files (*.json) found");
        return exit_code::INVALID;
    }
    // After discovery (a report inside a scenario folder is not a scenario), before running.
    if let Err(e) = check_report_paths(args) {
        eprintln!("error: {e}");
        return exit_code::INVALID;
    }
    if let Err(code) = profile_or_exit(args.profile.as_deref()) {
        return code;
    }
    if args.profile.is_none()
        && let Some(Backend::Real(spec)) = &args.backend
        && crate::backend::real::probe_exports(spec).is_ok_and(|e| e.umd && e.kmd)
    {
        eprintln!(
            "note: no driver profile (--profile FILE): what your drivers' private IOCTL codes mean is unknown, so R11, R13, R15, R43, R53 and the IOCTL half of R21 are not judged, and scenarios that name a payload are skipped"
        );
    }
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    super::progress::catch_interrupt();
    let progress = Progress::new(files.len());
    let mut targets: Vec<(Format, PathBuf)> = args.report.clone();
    if let Some(out) = &args.out {
        targets.push((args.format, out.clone()));
    }
    let report_files = ReportFiles::new(targets, args.progress_every);
    // Progress lines when stderr is not a terminal (CI logs), or on CI.
    let ticking = !args.progress_every.is_zero()
        && (!std::io::stderr().is_terminal() || std::env::var_os("CI").is_some());
    let ran = std::thread::scope(|scope| {
        if ticking {
            progress.tick(scope, args.progress_every);
        }
        let ran = if args.explore.explore.is_some() {
            explore_files(&files, args, jobs, &progress, &report_files)
        } else {
            Ok(run_files(&files, args, jobs, &progress, &report_files))
        };
        progress.finish();
        ran
    });
    if ticking && progress.printed() {
        eprintln!("{}", progress.line());
    }
    let report = match ran {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return exit_code::INVALID;
        }
    };
    let mut report = report;
    // Rule coverage of plain runs (under --explore, --coverage is the DDI coverage).
    if args.explore.coverage && args.explore.explore.is_none() {
        report.rule_coverage = Some(report.compute_rule_coverage());
    }
    // Every report is written even when one cannot be, and even when stdout is a closed pipe;
    // a failure to write (stdout or a file) is said and makes the exit code 2.
    let stdout = super::output::Stdout::new();
    let mut write_failed = false;
    let mut write = |format: Format, file: Option<&Path>| {
        let text = report::render(&report, format);
        match file {
            None => stdout.text(&text),
            Some(f) => {
                if let Err(e) = super::progress::write_atomically(f, &text) {
                    eprintln!("error: cannot write {}: {e}", f.display());
                    write_failed = true;
                }
            }
        }
    };
    write(args.format, args.out.as_deref());
    for (format, file) in &args.report {
        write(*format, Some(file));
    }
    let code = exit_for(&report);
    if interrupted() {
        eprintln!(
            "interrupted: every report holds the {} scenarios that finished",
            progress.finished()
        );
    }
    if write_failed || stdout.failed() {
        exit_code::INVALID
    } else if code == exit_code::OK && interrupted() {
        exit_code::INTERRUPTED
    } else {
        code
    }
}

/// Checks, before anything runs, that every report file can be written: its folder is
/// created and the file opened for writing (an existing report is kept until the run
/// replaces it).
fn check_report_paths(args: &RunArgs) -> Result<(), String> {
    let files = args.out.iter().chain(args.report.iter().map(|(_, f)| f));
    for f in files {
        if let Some(dir) = f.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot create the folder of report {}: {e}", f.display()))?;
        }
        if std::fs::metadata(f).is_ok_and(|m| m.is_dir()) {
            return Err(format!("report {} is a directory", f.display()));
        }
        std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(f)
            .map_err(|e| format!("cannot write report {}: {e}", f.display()))?;
    }
    Ok(())
}

/// `miracast-sim validate`.
pub fn validate(args: &ValidateArgs) -> u8 {
    let files = match scenario::discover(&default_paths(&args.paths)) {
        Ok(f) => f,
        Err((p, e)) => {
            eprintln!("error: cannot read {}: {e}", p.display());
            return exit_code::INVALID;
        }
    };
    let profile = match profile_or_exit(args.profile.as_deref()) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let out = super::output::Stdout::new();
    let mut invalid = 0;
    let mut skipped = 0;
    let mut names: std::collections::BTreeMap<String, Vec<&Path>> = Default::default();
    for f in &files {
        match scenario::load_all(f) {
            Ok((s, _)) => {
                let backend = args
                    .backend
                    .clone()
                    .unwrap_or_else(|| s.setup.backend.clone());
                let reasons = crate::runner::cannot_run(&s, &backend, profile);
                let shown = escape_text(&f.display().to_string()).into_owned();
                if reasons.is_empty() {
                    out.line(format!("ok {shown} ({})", escape_text(&s.name)));
                } else {
                    skipped += 1;
                    out.line(format!(
                        "ok {shown} ({}), but {backend} would skip it: {}",
                        escape_text(&s.name),
                        escape_text(&reasons.join("; "))
                    ));
                }
                names.entry(s.name).or_default().push(f);
            }
            Err(all) => {
                invalid += 1;
                for e in &all {
                    out.line(e.render());
                }
                if all.len() > 1 {
                    out.line(format!(
                        "{}: {} mistakes",
                        escape_text(&f.display().to_string()),
                        all.len()
                    ));
                }
            }
        }
    }
    // Reports, filters and replay tokens name scenarios: two files with one name are a mistake.
    for (name, paths) in names.iter().filter(|(_, p)| p.len() > 1) {
        invalid += paths.len() - 1;
        out.line(format!(
            "error: the scenario name `{}` is used by {} files: {}; give each scenario its own name",
            escape_text(name),
            paths.len(),
            paths
                .iter()
                .map(|p| escape_text(&p.display().to_string()).into_owned())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if skipped > 0 {
        out.line(format!(
            "{} valid ({skipped} would be skipped on this backend), {invalid} invalid",
            files.len().saturating_sub(invalid)
        ));
    } else {
        out.line(format!(
            "{} valid, {invalid} invalid",
            files.len().saturating_sub(invalid)
        ));
    }
    out.finish(if invalid > 0 {
        exit_code::INVALID
    } else {
        exit_code::OK
    })
}
