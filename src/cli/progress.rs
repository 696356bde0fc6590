//! Progress of a long `run` on stderr, and the interrupt flag.
//!
//! On a terminal, `run` redraws one status line (as before). When stderr is not a terminal
//! (CI logs are piped), a ticker thread prints one line at a steady interval (`--progress-every`,
//! default 10 s): scenarios done and failed, schedules explored and their rate, failing
//! schedules, the scenario being explored, elapsed time and the process's memory, e.g.
//!
//! ```text
//! progress: 3/12 scenarios (1 failed), 41250 schedules (812/s), 57 failing, now lifecycle/connect-disconnect.json, 50s, memory 9.1 MB (peak 9.4 MB)
//! ```
//!
//! SIGINT sets [`interrupted`]: the workers take no new scenario, the explorer stops between
//! schedules, and `run` writes every report with what was found so far. A second SIGINT ends the
//! process at once.

use std::io::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

static INTERRUPT: OnceLock<Arc<AtomicBool>> = OnceLock::new();

/// Installs the SIGINT handler (once per process): the first SIGINT sets the flag, a second one
/// terminates.
pub fn catch_interrupt() {
    INTERRUPT.get_or_init(|| {
        let flag = Arc::new(AtomicBool::new(false));
        #[cfg(unix)]
        {
            use signal_hook::consts::SIGINT;
            // The conditional shutdown is registered first, so it sees the flag as it was
            // before this signal: set (a second SIGINT) means exit now.
            let _ = signal_hook::flag::register_conditional_shutdown(SIGINT, 130, flag.clone());
            let _ = signal_hook::flag::register(SIGINT, flag.clone());
        }
        flag
    });
}

/// True once SIGINT arrived (after [`catch_interrupt`]).
pub fn interrupted() -> bool {
    INTERRUPT.get().is_some_and(|f| f.load(Ordering::Relaxed))
}

/// The process's resident memory and its peak, in bytes (Linux; `None` elsewhere).
pub fn memory() -> Option<(u64, u64)> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let field = |name: &str| -> Option<u64> {
        let line = status.lines().find(|l| l.starts_with(name))?;
        let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kb * 1024)
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

fn mb(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1_048_576.0)
}

fn elapsed(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

/// Counters of a run, shared by the workers, the explorer's observer and the ticker.
pub struct Progress {
    start: Instant,
    total: usize,
    done: AtomicUsize,
    failed: AtomicUsize,
    schedules: AtomicU64,
    failing: AtomicU64,
    current: Mutex<String>,
    /// Set by [`Progress::finish`]; the condition variable wakes the ticker at once, so a short
    /// run does not wait out a tick before it exits.
    finished: (Mutex<bool>, Condvar),
    printed: AtomicBool,
}

impl Progress {
    /// Counters for a run of `total` scenario files.
    pub fn new(total: usize) -> Self {
        Progress {
            start: Instant::now(),
            total,
            done: AtomicUsize::new(0),
            failed: AtomicUsize::new(0),
            schedules: AtomicU64::new(0),
            failing: AtomicU64::new(0),
            current: Mutex::new(String::new()),
            finished: (Mutex::new(false), Condvar::new()),
            printed: AtomicBool::new(false),
        }
    }

    /// A scenario began (the one `progress` names as `now`).
    pub fn begin(&self, name: &str) {
        if let Ok(mut c) = self.current.lock() {
            name.clone_into(&mut c);
        }
    }

    /// A scenario finished.
    pub fn scenario_done(&self, failed: bool) {
        self.done.fetch_add(1, Ordering::Relaxed);
        if failed {
            self.failed.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// One explored schedule finished.
    pub fn schedule_done(&self, failing: bool) {
        self.schedules.fetch_add(1, Ordering::Relaxed);
        if failing {
            self.failing.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The progress line.
    pub fn line(&self) -> String {
        let secs = self.start.elapsed().as_secs_f64().max(1e-3);
        let done = self.done.load(Ordering::Relaxed);
        let schedules = self.schedules.load(Ordering::Relaxed);
        let mut line = format!(
            "progress: {done}/{} scenarios ({} failed)",
            self.total,
            self.failed.load(Ordering::Relaxed)
        );
        if schedules > 0 {
            line.push_str(&format!(
                ", {schedules} schedules ({:.0}/s), {} failing",
                schedules as f64 / secs,
                self.failing.load(Ordering::Relaxed)
            ));
        } else {
            line.push_str(&format!(" ({:.1}/s)", done as f64 / secs));
        }
        if let Ok(c) = self.current.lock()
            && !c.is_empty()
            && done < self.total
        {
            line.push_str(&format!(", now {c}"));
        }
        line.push_str(&format!(", {}", elapsed(self.start.elapsed())));
        if let Some((rss, peak)) = memory() {
            line.push_str(&format!(", memory {} (peak {})", mb(rss), mb(peak)));
        }
        line
    }

    /// Prints a line every `every` until [`Progress::finish`], from a thread of `scope`.
    pub fn tick<'scope>(
        &'scope self,
        scope: &'scope std::thread::Scope<'scope, '_>,
        every: Duration,
    ) {
        scope.spawn(move || {
            let mut next = Instant::now() + every;
            let (finished, wake) = &self.finished;
            let Ok(mut done) = finished.lock() else {
                return;
            };
            while !*done {
                let wait = next.saturating_duration_since(Instant::now());
                done = match wake.wait_timeout(done, wait) {
                    Ok((guard, _)) => guard,
                    Err(_) => return,
                };
                if !*done && Instant::now() >= next {
                    let mut err = std::io::stderr().lock();
                    let _ = writeln!(err, "{}", self.line());
                    let _ = err.flush();
                    self.printed.store(true, Ordering::Relaxed);
                    next += every;
                    // After a stall (a suspended machine), do not print the missed lines.
                    next = next.max(Instant::now());
                }
            }
        });
    }

    /// True when the ticker printed at least one line (the run then ends with a last one).
    pub fn printed(&self) -> bool {
        self.printed.load(Ordering::Relaxed)
    }

    /// Scenarios finished.
    pub fn finished(&self) -> usize {
        self.done.load(Ordering::Relaxed)
    }

    /// Stops the ticker.
    pub fn finish(&self) {
        let (finished, wake) = &self.finished;
        if let Ok(mut done) = finished.lock() {
            *done = true;
        }
        wake.notify_all();
    }
}

/// The report files of a run (`--out` and `--report`), rewritten with the scenarios finished
/// so far while the run goes on, so a run that is killed or interrupted leaves its results.
/// Each write goes to a temporary file renamed over the report, so a reader never sees half a
/// file. Writes are at most one per `every`, except the last.
pub struct ReportFiles {
    files: Vec<(crate::report::Format, std::path::PathBuf)>,
    every: Duration,
    last: Mutex<Option<Instant>>,
}

impl ReportFiles {
    /// The files to keep current.
    pub fn new(files: Vec<(crate::report::Format, std::path::PathBuf)>, every: Duration) -> Self {
        ReportFiles {
            files,
            every,
            last: Mutex::new(None),
        }
    }

    /// Writes what `so_far()` builds (the scenarios finished so far) if the last write was at
    /// least the interval ago; builds nothing otherwise, or when there are no report files.
    pub fn stream(&self, so_far: impl FnOnce() -> crate::report::RunReport) {
        if self.files.is_empty() || self.every.is_zero() {
            return;
        }
        let Ok(mut last) = self.last.lock() else {
            return;
        };
        if last.is_some_and(|t| t.elapsed() < self.every) {
            return;
        }
        *last = Some(Instant::now());
        self.write(&so_far());
    }

    /// Writes what `so_far()` builds now (after a scenario of an exploration, which takes long
    /// anyway).
    pub fn stream_now(&self, so_far: impl FnOnce() -> crate::report::RunReport) {
        if self.files.is_empty() || self.every.is_zero() {
            return;
        }
        if let Ok(mut last) = self.last.lock() {
            *last = Some(Instant::now());
        }
        self.write(&so_far());
    }

    fn write(&self, report: &crate::report::RunReport) {
        for (format, file) in &self.files {
            let _ = write_atomically(file, &crate::report::render(report, *format));
        }
    }
}

/// Writes `text` to `file` through a temporary file in the same folder, renamed over it.
///
/// # Errors
/// When the folder cannot be created or the file cannot be written.
pub fn write_atomically(file: &std::path::Path, text: &str) -> std::io::Result<()> {
    if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut tmp = file.as_os_str().to_owned();
    tmp.push(".partial");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, file)
}
