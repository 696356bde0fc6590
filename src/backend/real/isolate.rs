//! One child process per scenario, under a supervisor, so that a driver that crashes
//! (segmentation fault, abort, stack overflow), hangs, forks, or floods its output becomes a
//! reported finding and the other scenarios still run.
//!
//! Protocol (the child's stdout, one line each, other lines ignored):
//!
//! ```text
//! @@miracast-sim-event t3 msg-delivery-1: enter HandleKernelModeMessage     (streamed)
//! @@miracast-sim-thread 4242 msg-delivery-1        (a real thread that runs driver calls)
//! @@miracast-sim-crash 11 4250 worker              (from the child's fault handler)
//! @@miracast-sim-schedule 17                       (exploration: schedule 17 starts)
//! @@miracast-sim-run random(seed=1234)             (a run starts, with this strategy)
//! @@miracast-sim-choice t 3 1                      (its choices: thread/value, options, taken)
//! @@miracast-sim-done                              (a schedule was counted)
//! @@miracast-sim-result {"...": ...}                                          (once, at the end)
//! ```
//!
//! The child sends lines in batches, at most [`FLUSH_EVERY`] apart while it makes progress, at
//! once when driver code keeps the turn for a tick, and from its fault handler and at `exit`
//! before it dies, so the parent's view is never older than that and a crash loses nothing.
//!
//! The child moves that protocol to a descriptor of its own at start and points its stdout at
//! its stderr, so whatever the driver prints never mixes with the protocol: the parent reads
//! the driver's output (stdout and stderr together) from the child's stderr, keeps the last
//! [`SupervisorConfig::output_tail`] bytes and counts the rest.
//!
//! The supervisor (the parent):
//! - starts the child in a process group of its own and kills the whole group when the child
//!   ends (a forked grandchild that kept the pipes open dies with it), when a deadline passes,
//!   and when the parent itself gets SIGINT or SIGTERM;
//! - gives loading (opening the library, `QueryMiracastDriverInterface`, the KMD entry) and
//!   every DDI call [`SupervisorConfig::deadline`] without a sign of progress (an event on the
//!   protocol) before killing the group and reporting a hang where it was;
//! - never waits on a pipe after the child is gone: the pipes are read by threads that report
//!   to the supervisor loop, which stops listening shortly after the child ends;
//! - bounds every line it reads ([`MAX_LINE`]).
//!
//! If the child dies before the result line, the parent builds a [`DriverFault`] from how it
//! died (signal or exception code), the crash record of the child's fault handler (which thread
//! faulted: a thread the simulator runs driver calls on, or a thread the driver created
//! itself), and the last streamed events: the innermost DDI still entered on the faulting
//! thread is where it crashed.
//!
//! Under exploration the child streams each run's schedule as it is made (every choice is
//! written before the step it selects runs), so when the driver crashes under some schedule
//! the parent holds exactly the choices that led there: [`CrashedSchedule`] becomes a replay
//! token, and the parent starts a new child that resumes after that schedule.
//!
//! This is containment, not a sandbox: the driver runs with the user's rights, can read and
//! write their files, open sockets, and escape the process group with `setsid()`. Run drivers
//! you would run anyway.

#![allow(unsafe_code)]

use super::bridge::{DriverFault, DriverFaultKind};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};
use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Set in the child's environment; the child side checks it.
pub const ISOLATED_CHILD_ENV: &str = "MIRACAST_SIM_ISOLATED_CHILD";

const EVENT_PREFIX: &str = "@@miracast-sim-event ";
const RESULT_PREFIX: &str = "@@miracast-sim-result ";
const THREAD_PREFIX: &str = "@@miracast-sim-thread ";
const CRASH_PREFIX: &str = "@@miracast-sim-crash ";
const SCHEDULE_PREFIX: &str = "@@miracast-sim-schedule ";
const RUN_PREFIX: &str = "@@miracast-sim-run ";
const CHOICE_PREFIX: &str = "@@miracast-sim-choice ";
const DONE_LINE: &str = "@@miracast-sim-done";
/// The most choices of one run the parent keeps (a longer run's crash has no token).
const MAX_STREAMED_CHOICES: usize = 1 << 22;
const KEEP_EVENTS: usize = 64;
/// The longest protocol line the parent keeps (the result of a very long scenario is one
/// line); longer lines are dropped whole.
pub const MAX_LINE: usize = 256 << 20;
/// How long the parent keeps listening to the pipes after the child has ended.
const DRAIN_GRACE: Duration = Duration::from_millis(300);

static STREAMING: AtomicBool = AtomicBool::new(false);
static PROTOCOL: Mutex<Option<Protocol>> = Mutex::new(None);

/// Protocol bytes written and not yet sent to the parent. A fixed array that is never moved,
/// so the fault handler can send what is pending before its crash record without taking a
/// lock: a crash loses no event and no choice. (`AtomicU8` has the layout of `u8`.)
static PENDING: [AtomicU8; PENDING_CAPACITY] = [const { AtomicU8::new(0) }; PENDING_CAPACITY];
/// How many bytes of [`PENDING`] are pending; written under the [`PROTOCOL`] lock.
static PENDING_LEN: AtomicUsize = AtomicUsize::new(0);
const PENDING_CAPACITY: usize = 64 << 10;
/// The longest protocol lines wait before they are sent while the child makes progress. A
/// pipe write per line woke the parent for every DDI call and every choice, which cost an
/// isolated scenario of 20,000 DDI calls more than it spent in the driver.
const FLUSH_EVERY: Duration = Duration::from_millis(20);

/// The child's end of the protocol.
struct Protocol {
    file: std::fs::File,
    last_flush: Instant,
}

impl Protocol {
    /// Sends the pending bytes.
    fn flush(&mut self) {
        self.last_flush = Instant::now();
        let n = PENDING_LEN.load(Ordering::Acquire);
        if n == 0 {
            return;
        }
        let bytes: Vec<u8> = PENDING[..n]
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .collect();
        PENDING_LEN.store(0, Ordering::Release);
        let _ = self.file.write_all(&bytes);
    }

    /// Appends `line` (newline included) to the pending bytes, sending first if it does not fit.
    fn push(&mut self, line: &[u8]) {
        let n = PENDING_LEN.load(Ordering::Acquire);
        if n + line.len() > PENDING_CAPACITY {
            self.flush();
        }
        if line.len() > PENDING_CAPACITY {
            let _ = self.file.write_all(line);
            return;
        }
        let n = PENDING_LEN.load(Ordering::Acquire);
        for (slot, b) in PENDING[n..].iter().zip(line) {
            slot.store(*b, Ordering::Relaxed);
        }
        PENDING_LEN.store(n + line.len(), Ordering::Release);
    }
}

/// In an isolated child, sends the protocol lines still pending. The bridge calls it whenever
/// driver code has held the turn for a tick without answering, so the supervisor sees where a
/// slow or hung driver is before its deadline.
pub(crate) fn flush_protocol() {
    if !STREAMING.load(Ordering::Relaxed) {
        return;
    }
    if let Some(p) = PROTOCOL.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
        p.flush();
    }
}

/// How the supervisor treats an isolated child.
#[derive(Clone, Debug)]
pub struct SupervisorConfig {
    /// Wall-clock time loading the driver or one DDI call may go without progress (a return or
    /// a callback) before the child's process group is killed and a hang reported.
    pub deadline: Duration,
    /// Bytes of the driver's output (stdout and stderr) kept, the last ones.
    pub output_tail: usize,
}

impl Default for SupervisorConfig {
    fn default() -> Self {
        SupervisorConfig {
            deadline: Duration::from_secs(30),
            output_tail: 4096,
        }
    }
}

/// In an isolated child, writes one bridge event to the parent at once (no-op elsewhere).
pub fn stream_journal_line(line: &str) {
    protocol_line(EVENT_PREFIX, line);
}

/// Writes one protocol line. Lines wait in [`PENDING`] for at most [`FLUSH_EVERY`] while the
/// child makes progress; a thread registration and the result go at once, the fault handler
/// sends what is pending before the crash record, and the bridge flushes when driver code keeps
/// the turn ([`flush_protocol`]), so buffering hides nothing from the supervisor.
fn protocol_line(prefix: &str, text: &str) {
    if !STREAMING.load(Ordering::Relaxed) {
        return;
    }
    let mut guard = PROTOCOL.lock().unwrap_or_else(|e| e.into_inner());
    match guard.as_mut() {
        Some(p) => {
            p.push(format!("{prefix}{text}\n").as_bytes());
            if prefix == THREAD_PREFIX
                || prefix == RESULT_PREFIX
                || p.last_flush.elapsed() >= FLUSH_EVERY
            {
                p.flush();
            }
        }
        None => {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{prefix}{text}");
            let _ = out.flush();
        }
    }
}

/// In an isolated exploring child: the explorer starts its schedule number `index`.
pub fn stream_schedule_start(index: u64) {
    protocol_line(SCHEDULE_PREFIX, &index.to_string());
}

/// In an isolated exploring child: a run starts with `strategy` (its description); the
/// choices streamed next are its own.
pub fn stream_run_start(strategy: &str) {
    protocol_line(RUN_PREFIX, strategy);
}

/// In an isolated exploring child: the current run took `choice`.
pub fn stream_choice(choice: crate::sched::Choice) {
    let kind = match choice.kind {
        crate::sched::ChoiceKind::Thread => 't',
        crate::sched::ChoiceKind::Value => 'v',
    };
    protocol_line(
        CHOICE_PREFIX,
        &format!("{kind} {} {}", choice.options, choice.chosen),
    );
}

/// In an isolated exploring child: the explorer counted a schedule.
pub fn stream_schedule_done() {
    protocol_line(DONE_LINE, "");
}

/// The schedule an exploring child was running when it died.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct CrashedSchedule {
    /// The explorer's index of the last schedule it started (`None`: it started none).
    pub index: Option<u64>,
    /// Schedules the child counted before it died.
    pub completed: u64,
    /// The dying run's strategy, as its description says.
    pub strategy: String,
    /// Its choices up to the crash (`None`: too many to keep, or no run started).
    pub choices: Option<Vec<crate::sched::Choice>>,
}

/// In an isolated child, tells the parent that the calling real thread runs driver calls for
/// the simulated thread `name`, so a crash on it is attributed to that thread's DDI (a crash on
/// any other thread but the main one is on a thread the driver created itself).
pub fn register_driver_thread(name: &str) {
    if STREAMING.load(Ordering::Relaxed) {
        protocol_line(THREAD_PREFIX, &format!("{} {name}", platform::thread_id()));
    }
}

/// Journals `enter WHAT` now and `leave WHAT` when dropped, so loading a library (its
/// initializers and entry export) has the supervisor's deadline like a DDI call.
pub(crate) struct LoadSpan<'a> {
    rt: &'a super::bridge::RealRuntime,
    what: &'static str,
}

impl<'a> LoadSpan<'a> {
    pub(crate) fn new(rt: &'a super::bridge::RealRuntime, what: &'static str) -> Self {
        rt.journal(format!("enter {what}"));
        // Loading runs the library's initializers on this thread, outside the bridge's
        // hand-offs, so the supervisor must see the entry now to give a hang its deadline.
        flush_protocol();
        LoadSpan { rt, what }
    }
}

impl Drop for LoadSpan<'_> {
    fn drop(&mut self) {
        self.rt.journal(format!("leave {}", self.what));
    }
}

/// What an isolated run produced.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct IsolatedOutcome<T> {
    /// The child's result, when it finished.
    pub result: Option<T>,
    /// The crash or hang, when the child did not finish.
    pub fault: Option<DriverFault>,
    /// The last events the child streamed, oldest first.
    pub last_events: Vec<String>,
    /// How the child ended (`exit status: 0`, `signal: 11 (SIGSEGV)`, ...).
    pub exit: String,
    /// The last bytes the driver (or the child) wrote to stdout and stderr, lossily decoded.
    pub output_tail: String,
    /// Every byte it wrote there.
    pub output_bytes: u64,
    /// Under exploration, the schedule the child was in when it died (with `fault`).
    pub schedule: Option<CrashedSchedule>,
}

/// Runs `command` as a supervised child with `input` on its stdin and the default
/// [`SupervisorConfig`].
///
/// # Errors
/// The child could not be started.
pub fn run_isolated<T: DeserializeOwned>(
    command: &mut Command,
    input: &[u8],
) -> std::io::Result<IsolatedOutcome<T>> {
    run_supervised(command, input, &SupervisorConfig::default())
}

enum Report {
    Line(Vec<u8>),
    LineDropped(usize),
    ProtocolEnd,
    OutputEnd,
}

/// The driver's output: a bounded tail and a count.
#[derive(Default)]
struct Tail {
    keep: usize,
    bytes: VecDeque<u8>,
    total: u64,
}

impl Tail {
    fn push(&mut self, chunk: &[u8]) {
        self.total += chunk.len() as u64;
        let chunk = &chunk[chunk.len().saturating_sub(self.keep)..];
        let over = (self.bytes.len() + chunk.len()).saturating_sub(self.keep);
        self.bytes.drain(..over.min(self.bytes.len()));
        self.bytes.extend(chunk);
    }
}

/// Splits a byte stream into lines of at most `max` bytes (longer lines are reported as
/// dropped) and sends them.
fn read_lines(mut from: impl Read, max: usize, to: &mpsc::Sender<Report>) {
    let mut line = Vec::new();
    let mut dropped = 0usize;
    let mut chunk = vec![0u8; 64 << 10];
    loop {
        let n = match from.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        for part in chunk[..n].split_inclusive(|b| *b == b'\n') {
            let (body, ends) = match part.strip_suffix(b"\n") {
                Some(b) => (b, true),
                None => (part, false),
            };
            if dropped > 0 || line.len() + body.len() > max {
                dropped += line.len() + body.len();
                line.clear();
            } else {
                line.extend_from_slice(body);
            }
            if ends {
                let report = if dropped > 0 {
                    Report::LineDropped(std::mem::take(&mut dropped))
                } else {
                    Report::Line(std::mem::take(&mut line))
                };
                if to.send(report).is_err() {
                    return;
                }
            }
        }
    }
    let _ = to.send(Report::ProtocolEnd);
}

/// What the supervisor learnt from the protocol.
#[derive(Default)]
struct Seen {
    events: VecDeque<String>,
    /// Per journal thread (`t3 name`), the DDIs entered and not left.
    stacks: BTreeMap<String, Vec<String>>,
    /// Real thread id -> simulated thread name, for threads that run driver calls.
    threads: BTreeMap<String, String>,
    crash: Option<(String, String, String)>,
    result: Option<Vec<u8>>,
    dropped: usize,
    schedule: Option<CrashedSchedule>,
}

impl Seen {
    fn take(&mut self, line: &[u8]) {
        let Ok(text) = std::str::from_utf8(line) else {
            return;
        };
        let text = text.trim_end_matches('\r');
        if let Some(event) = text.strip_prefix(EVENT_PREFIX) {
            if self.events.len() == KEEP_EVENTS {
                self.events.pop_front();
            }
            if let Some((thread, what)) = event.split_once(": ") {
                let stack = self.stacks.entry(thread.to_owned()).or_default();
                if let Some(ddi) = what.strip_prefix("enter ") {
                    stack.push(ddi.to_owned());
                } else if let Some(ddi) = what.strip_prefix("leave ")
                    && let Some(i) = stack.iter().rposition(|d| d == ddi)
                {
                    stack.truncate(i);
                }
            }
            self.events.push_back(event.chars().take(1024).collect());
        } else if let Some(choice) = text.strip_prefix(CHOICE_PREFIX) {
            let s = self.schedule.get_or_insert_with(CrashedSchedule::default);
            let parsed = parse_choice(choice);
            match (&mut s.choices, parsed) {
                (Some(list), Some(c)) if list.len() < MAX_STREAMED_CHOICES => list.push(c),
                (choices, _) => *choices = None,
            }
        } else if let Some(run) = text.strip_prefix(RUN_PREFIX) {
            let s = self.schedule.get_or_insert_with(CrashedSchedule::default);
            s.strategy = run.chars().take(256).collect();
            s.choices = Some(Vec::new());
        } else if let Some(index) = text.strip_prefix(SCHEDULE_PREFIX) {
            let s = self.schedule.get_or_insert_with(CrashedSchedule::default);
            s.index = index.parse().ok();
        } else if text == DONE_LINE {
            self.schedule
                .get_or_insert_with(CrashedSchedule::default)
                .completed += 1;
        } else if let Some(json) = text.strip_prefix(RESULT_PREFIX) {
            self.result = Some(json.as_bytes().to_vec());
        } else if let Some(rest) = text.strip_prefix(THREAD_PREFIX) {
            if let Some((tid, name)) = rest.split_once(' ')
                && self.threads.len() < 4096
            {
                self.threads.insert(tid.to_owned(), name.to_owned());
            }
        } else if let Some(rest) = text.strip_prefix(CRASH_PREFIX) {
            let mut parts = rest.splitn(3, ' ');
            let signal = parts.next().unwrap_or_default().to_owned();
            let tid = parts.next().unwrap_or_default().to_owned();
            let comm = parts.next().unwrap_or_default().to_owned();
            self.crash.get_or_insert((signal, tid, comm));
        }
    }

    /// True while loading or a DDI call is in progress.
    fn inside(&self) -> bool {
        self.stacks.values().any(|s| !s.is_empty())
    }
}

fn parse_choice(text: &str) -> Option<crate::sched::Choice> {
    let mut parts = text.split(' ');
    let kind = match parts.next()? {
        "t" => crate::sched::ChoiceKind::Thread,
        "v" => crate::sched::ChoiceKind::Value,
        _ => return None,
    };
    let options = parts.next()?.parse().ok()?;
    let chosen = parts.next()?.parse().ok()?;
    Some(crate::sched::Choice {
        kind,
        options,
        chosen,
    })
}

/// Runs `command` as a supervised child with `input` on its stdin and returns its result, or
/// the crash or hang that ended it.
///
/// # Errors
/// The child could not be started.
pub fn run_supervised<T: DeserializeOwned>(
    command: &mut Command,
    input: &[u8],
    config: &SupervisorConfig,
) -> std::io::Result<IsolatedOutcome<T>> {
    command
        .env(ISOLATED_CHILD_ENV, "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    platform::own_group(command);
    let mut child = command.spawn()?;
    let group = Group::register(&child);
    let (tx, rx) = mpsc::channel::<Report>();
    if let Some(mut stdin) = child.stdin.take() {
        let input = input.to_vec();
        std::thread::spawn(move || {
            let _ = stdin.write_all(&input);
        });
    }
    if let Some(stdout) = child.stdout.take() {
        let tx = tx.clone();
        std::thread::spawn(move || read_lines(stdout, MAX_LINE, &tx));
    }
    let tail = Arc::new(Mutex::new(Tail {
        keep: config.output_tail,
        ..Tail::default()
    }));
    if let Some(mut stderr) = child.stderr.take() {
        let tx = tx.clone();
        let tail = tail.clone();
        std::thread::spawn(move || {
            let mut chunk = vec![0u8; 64 << 10];
            while let Ok(n) = stderr.read(&mut chunk) {
                if n == 0 {
                    break;
                }
                tail.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(&chunk[..n]);
            }
            let _ = tx.send(Report::OutputEnd);
        });
    }
    drop(tx);

    let mut seen = Seen::default();
    let mut last_progress = Instant::now();
    let mut timed_out: Option<Duration> = None;
    let mut ended_at: Option<Instant> = None;
    let mut status = None;
    let (mut protocol_open, mut output_open) = (true, true);
    loop {
        if status.is_none()
            && let Ok(Some(s)) = child.try_wait()
        {
            status = Some(s);
            ended_at = Some(Instant::now());
            // Whatever the child left behind in its group goes with it.
            group.kill();
        }
        if let Some(at) = ended_at
            && ((!protocol_open && !output_open) || at.elapsed() >= DRAIN_GRACE)
        {
            break;
        }
        if status.is_none() && timed_out.is_none() {
            let waited = last_progress.elapsed();
            // Loading and DDI calls have a deadline; so has a child that sent its result and
            // does not exit (a library destructor that hangs).
            if (seen.inside() || seen.result.is_some()) && waited >= config.deadline {
                timed_out = Some(waited);
                group.kill();
                let _ = child.kill();
            }
        }
        match rx.recv_timeout(Duration::from_millis(20)) {
            Ok(Report::Line(line)) => {
                seen.take(&line);
                last_progress = Instant::now();
            }
            Ok(Report::LineDropped(n)) => seen.dropped += n,
            Ok(Report::ProtocolEnd) => protocol_open = false,
            Ok(Report::OutputEnd) => output_open = false,
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => {
                protocol_open = false;
                output_open = false;
                if status.is_none() {
                    status = child.wait().ok();
                    ended_at = Some(Instant::now());
                    group.kill();
                }
            }
        }
    }
    drop(group);
    let status = match status {
        Some(s) => s,
        None => child.wait()?,
    };
    let (output_tail, output_bytes) = {
        let t = tail.lock().unwrap_or_else(|e| e.into_inner());
        let bytes: Vec<u8> = t.bytes.iter().copied().collect();
        (String::from_utf8_lossy(&bytes).into_owned(), t.total)
    };
    let last_events: Vec<String> = seen.events.iter().cloned().collect();
    let result = seen
        .result
        .as_deref()
        .and_then(|json| serde_json::from_slice::<T>(json).ok());
    let death = super::platform::death_of(&status);
    let mut exit = match &death {
        Some((_, name)) => name.clone(),
        None => status.to_string(),
    };
    let output_note = output_note(&output_tail, output_bytes);
    let fault = if let Some(waited) = timed_out.filter(|_| result.is_none()) {
        let (thread, ddi) = innermost_inside(&seen);
        exit = format!("killed by the supervisor after {} ms", waited.as_millis());
        Some(DriverFault {
            kind: DriverFaultKind::Hang {
                waited_ms: u64::try_from(waited.as_millis()).unwrap_or(u64::MAX),
            },
            thread: thread.unwrap_or_else(|| "(unknown)".to_owned()),
            ddi,
            detail: format!(
                "the driver made no progress for {} s (the supervisor's deadline, `--driver-timeout`), so its process group was killed{output_note}",
                config.deadline.as_secs_f64()
            ),
            last_events: last_events.clone(),
        })
    } else if result.is_none() {
        let (thread, ddi, place) = crash_place(&seen, &last_events);
        let why = if seen.result.is_some() {
            "the isolated child's result could not be read"
        } else {
            "the process running the driver died before the scenario finished"
        };
        Some(DriverFault {
            kind: DriverFaultKind::Crash {
                code: death.as_ref().map(|(c, _)| *c),
                name: exit.clone(),
            },
            thread,
            ddi,
            detail: format!("{why}{place}{output_note}"),
            last_events: last_events.clone(),
        })
    } else {
        if timed_out.is_some() {
            exit = format!("{exit} (killed: it did not exit after sending its result)");
        }
        None
    };
    let schedule = seen.schedule.take().filter(|_| fault.is_some());
    Ok(IsolatedOutcome {
        result,
        fault,
        last_events,
        exit,
        output_tail,
        output_bytes,
        schedule,
    })
}

/// `; output (N bytes, last lines): ...` for a finding, bounded and one line.
fn output_note(tail: &str, total: u64) -> String {
    let lines: Vec<&str> = tail
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    if lines.is_empty() {
        return String::new();
    }
    let last: Vec<&str> = lines[lines.len().saturating_sub(3)..].to_vec();
    let mut text = last.join(" | ");
    if text.chars().count() > 300 {
        text = text.chars().skip(text.chars().count() - 300).collect();
    }
    format!("; output ({total} bytes, the last lines): {text}")
}

/// The journal thread and innermost DDI of whoever is inside the driver (the most recent
/// event's thread first).
fn innermost_inside(seen: &Seen) -> (Option<String>, Option<String>) {
    for e in seen.events.iter().rev() {
        if let Some((thread, _)) = e.split_once(": ")
            && let Some(ddi) = seen.stacks.get(thread).and_then(|s| s.last())
        {
            return (Some(thread.to_owned()), Some(ddi.clone()));
        }
    }
    match seen.stacks.iter().find(|(_, s)| !s.is_empty()) {
        Some((t, s)) => (Some(t.clone()), s.last().cloned()),
        None => innermost_entered(&seen.events.iter().cloned().collect::<Vec<_>>()),
    }
}

/// Where a crash happened: from the fault handler's record when there is one, else the
/// innermost DDI of the last event's thread.
fn crash_place(seen: &Seen, events: &[String]) -> (String, Option<String>, String) {
    if let Some((_, tid, comm)) = &seen.crash {
        match seen.threads.get(tid) {
            Some(name) if name == MAIN_THREAD => {}
            Some(label) => {
                // Real threads register under the journal's label of their simulated thread.
                let ddi = seen.stacks.get(label).and_then(|s| s.last().cloned());
                return (label.clone(), ddi, String::new());
            }
            None => {
                let comm = crate::report::escape::escape_text(comm);
                return (
                    format!("a thread the driver created (`{comm}`)"),
                    None,
                    "; it faulted on a thread the driver started itself, outside any DDI call the OS made".to_owned(),
                );
            }
        }
    }
    let (thread, ddi) = innermost_entered(events);
    (
        thread.unwrap_or_else(|| "(unknown)".to_owned()),
        ddi,
        String::new(),
    )
}

/// The name the child's main thread registers under.
const MAIN_THREAD: &str = "(simulator main thread)";

/// The thread of the last event and the innermost DDI it had entered and not left.
fn innermost_entered(events: &[String]) -> (Option<String>, Option<String>) {
    let mut stacks: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut last_thread = None;
    for e in events {
        let Some((thread, what)) = e.split_once(": ") else {
            continue;
        };
        let stack = stacks.entry(thread.to_owned()).or_default();
        if let Some(ddi) = what.strip_prefix("enter ") {
            stack.push(ddi.to_owned());
        } else if let Some(ddi) = what.strip_prefix("leave ")
            && let Some(i) = stack.iter().rposition(|d| d == ddi)
        {
            stack.truncate(i);
        }
        last_thread = Some(thread.to_owned());
    }
    let ddi = last_thread
        .as_ref()
        .and_then(|t| stacks.get(t))
        .and_then(|s| s.last().cloned());
    (last_thread, ddi)
}

/// A child's process group, registered so that SIGINT or SIGTERM to the parent kills it too.
struct Group {
    slot: Option<usize>,
    pid: u32,
}

impl Group {
    fn register(child: &Child) -> Group {
        Group {
            slot: platform::register_group(child.id()),
            pid: child.id(),
        }
    }

    fn kill(&self) {
        platform::kill_group(self.pid);
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        self.kill();
        if let Some(slot) = self.slot {
            platform::unregister_group(slot);
        }
    }
}

/// The child side: moves the protocol to a descriptor of its own (the driver's stdout goes to
/// stderr), installs the fault handler that names the faulting thread, streams bridge events,
/// reads the whole input from stdin, runs `run`, and writes its result line. Returns the
/// process exit code to use.
pub fn isolated_child_main<T: Serialize>(run: impl FnOnce(&[u8]) -> T) -> i32 {
    if let Some(file) = platform::take_stdout_for_protocol() {
        *PROTOCOL.lock().unwrap_or_else(|e| e.into_inner()) = Some(Protocol {
            file,
            last_flush: Instant::now(),
        });
    }
    platform::install_fault_handler();
    STREAMING.store(true, Ordering::Relaxed);
    register_driver_thread(MAIN_THREAD);
    let mut input = Vec::new();
    if std::io::stdin().read_to_end(&mut input).is_err() {
        return 2;
    }
    let result = run(&input);
    let Ok(json) = serde_json::to_string(&result) else {
        return 2;
    };
    protocol_line(RESULT_PREFIX, &json);
    0
}

#[cfg(unix)]
mod platform {
    //! Process groups, the SIGINT/SIGTERM relay and the fault handler (Unix).

    use std::os::fd::FromRawFd;
    use std::os::unix::process::CommandExt;
    use std::process::Command;
    use std::sync::Once;
    use std::sync::atomic::{AtomicI32, Ordering};

    const SLOTS: usize = 256;
    static GROUPS: [AtomicI32; SLOTS] = [const { AtomicI32::new(0) }; SLOTS];
    static RELAY: Once = Once::new();
    static PROTOCOL_FD: AtomicI32 = AtomicI32::new(-1);
    /// The isolated child itself (not a process its driver forked).
    static CHILD_PROCESS: AtomicI32 = AtomicI32::new(-1);

    pub(super) fn own_group(command: &mut Command) {
        command.process_group(0);
    }

    /// Records `pid`'s group so the signal relay can kill it; installs the relay once.
    pub(super) fn register_group(pid: u32) -> Option<usize> {
        RELAY.call_once(install_relay);
        let pid = i32::try_from(pid).ok()?;
        GROUPS.iter().position(|g| {
            g.compare_exchange(0, pid, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
        })
    }

    pub(super) fn unregister_group(slot: usize) {
        GROUPS[slot].store(0, Ordering::SeqCst);
    }

    pub(super) fn kill_group(pid: u32) {
        if let Ok(pid) = i32::try_from(pid)
            && pid > 0
        {
            // SAFETY: killpg only sends a signal; the group id is the child's pid, which leads
            // a group of its own (`process_group(0)`); the child has not been reaped when this
            // runs for a live child, and after reaping the group may only still hold its
            // descendants.
            unsafe {
                libc::killpg(pid, libc::SIGKILL);
            }
        }
    }

    extern "C" fn relay(signal: libc::c_int) {
        for g in &GROUPS {
            let pid = g.load(Ordering::SeqCst);
            if pid > 0 {
                // SAFETY: killpg is async-signal-safe; the ids are groups this process started.
                unsafe {
                    libc::killpg(pid, libc::SIGKILL);
                }
            }
        }
        // SAFETY: signal and raise are async-signal-safe; the default action then ends this
        // process the way the signal would have without the relay.
        unsafe {
            libc::signal(signal, libc::SIG_DFL);
            libc::raise(signal);
        }
    }

    fn install_relay() {
        for signal in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
            // SAFETY: `relay` is an `extern "C" fn(c_int)` that only calls async-signal-safe
            // functions and reads atomics. An ignored signal stays ignored.
            unsafe {
                let previous = libc::signal(signal, relay as *const () as libc::sighandler_t);
                if previous == libc::SIG_IGN {
                    libc::signal(signal, libc::SIG_IGN);
                }
            }
        }
    }

    /// The calling thread's kernel id.
    pub(super) fn thread_id() -> i64 {
        #[cfg(target_os = "linux")]
        {
            // SAFETY: gettid takes no arguments and cannot fail.
            i64::from(unsafe { libc::gettid() })
        }
        #[cfg(not(target_os = "linux"))]
        {
            0
        }
    }

    /// Duplicates stdout to a new close-on-exec descriptor for the protocol and points stdout
    /// at stderr, so the driver's printing goes to the captured output stream.
    pub(super) fn take_stdout_for_protocol() -> Option<std::fs::File> {
        // SAFETY: F_DUPFD_CLOEXEC duplicates descriptor 1 (open: the parent gave a pipe) to the
        // lowest free descriptor >= 3; dup2 then replaces descriptor 1 with a copy of 2. Both
        // only touch the descriptor table.
        let fd = unsafe { libc::fcntl(1, libc::F_DUPFD_CLOEXEC, 3) };
        if fd < 0 {
            return None;
        }
        let _ = std::io::Write::flush(&mut std::io::stdout());
        // SAFETY: see above.
        if unsafe { libc::dup2(2, 1) } < 0 {
            // SAFETY: `fd` is the descriptor just created and owned by nobody else.
            unsafe { libc::close(fd) };
            return None;
        }
        PROTOCOL_FD.store(fd, Ordering::SeqCst);
        // SAFETY: `fd` is a fresh descriptor this function owns; the File takes it over. The
        // fault handler writes to it by number too, which is a plain write(2).
        Some(unsafe { std::fs::File::from_raw_fd(fd) })
    }

    /// Writes `\n@@miracast-sim-crash SIGNAL TID COMM\n` to the protocol, then lets the fault
    /// take its default course (the handler is reset before it runs).
    extern "C" fn on_fault(signal: libc::c_int) {
        if let Some(fd) = protocol_fd_here() {
            send_pending(fd);
            let mut buf = [0u8; 128];
            let mut n = 0;
            let mut put = |bytes: &[u8]| {
                for b in bytes {
                    if n < buf.len() {
                        buf[n] = *b;
                        n += 1;
                    }
                }
            };
            put(b"\n");
            put(super::CRASH_PREFIX.as_bytes());
            put_number(&mut put, i64::from(signal));
            put(b" ");
            put_number(&mut put, thread_id());
            put(b" ");
            let mut comm = [0u8; 17];
            #[cfg(target_os = "linux")]
            // SAFETY: PR_GET_NAME writes at most 16 bytes (NUL included) into `comm`.
            unsafe {
                libc::prctl(libc::PR_GET_NAME, comm.as_mut_ptr());
            }
            for b in comm.iter().take_while(|b| **b != 0) {
                put(&[if b.is_ascii_graphic() { *b } else { b'?' }]);
            }
            put(b"\n");
            // SAFETY: write(2) is async-signal-safe; `buf[..n]` is initialized.
            unsafe {
                libc::write(fd, buf.as_ptr().cast(), n);
            }
        }
    }

    /// The protocol's descriptor, in the isolated child itself: a process its driver forked
    /// must not repeat the child's protocol. Async-signal-safe.
    fn protocol_fd_here() -> Option<i32> {
        let fd = PROTOCOL_FD.load(Ordering::SeqCst);
        // SAFETY: getpid is async-signal-safe and cannot fail.
        let here = unsafe { libc::getpid() } == CHILD_PROCESS.load(Ordering::SeqCst);
        (fd >= 0 && here).then_some(fd)
    }

    /// Sends the protocol bytes still pending to `fd`, without a lock (from the fault handler,
    /// or at `exit` when the driver ends the process).
    fn send_pending(fd: i32) {
        let pending = super::PENDING_LEN
            .swap(0, Ordering::AcqRel)
            .min(super::PENDING_CAPACITY);
        // SAFETY: write(2) is async-signal-safe; PENDING is a static array of AtomicU8, which
        // has the layout of u8, and its first `pending` bytes are initialized.
        unsafe {
            libc::write(fd, super::PENDING.as_ptr().cast(), pending);
        }
    }

    extern "C" fn send_pending_at_exit() {
        if let Some(fd) = protocol_fd_here() {
            send_pending(fd);
        }
    }

    fn put_number(put: &mut impl FnMut(&[u8]), value: i64) {
        let mut digits = [0u8; 20];
        let mut i = digits.len();
        let mut v = value.unsigned_abs();
        loop {
            i -= 1;
            digits[i] = b'0' + (v % 10) as u8;
            v /= 10;
            if v == 0 || i == 0 {
                break;
            }
        }
        if value < 0 {
            put(b"-");
        }
        put(&digits[i..]);
    }

    /// Installs [`on_fault`] for the fault signals, one shot each, on the alternate signal
    /// stack when the thread has one (so a stack overflow on a simulator thread is caught).
    pub(super) fn install_fault_handler() {
        // SAFETY: getpid cannot fail.
        CHILD_PROCESS.store(unsafe { libc::getpid() }, Ordering::SeqCst);
        // SAFETY: atexit registers a plain function; it runs when driver code calls exit().
        unsafe {
            libc::atexit(send_pending_at_exit);
        }
        for signal in [
            libc::SIGSEGV,
            libc::SIGBUS,
            libc::SIGILL,
            libc::SIGFPE,
            libc::SIGABRT,
        ] {
            // SAFETY: a zeroed sigaction is a valid empty one; the handler only formats into a
            // stack buffer and calls write(2) and prctl(2). SA_RESETHAND restores the default
            // action before it runs, so the fault, re-raised or re-executed, ends the process
            // with the same signal.
            unsafe {
                let mut action: libc::sigaction = std::mem::zeroed();
                action.sa_sigaction = on_fault as *const () as libc::sighandler_t;
                action.sa_flags = libc::SA_ONSTACK | libc::SA_RESETHAND | libc::SA_NODEFER;
                libc::sigemptyset(&mut action.sa_mask);
                libc::sigaction(signal, &action, std::ptr::null_mut());
            }
        }
    }
}

#[cfg(not(unix))]
mod platform {
    //! Without Unix process groups the supervisor kills the child only.

    use std::process::Command;

    pub(super) fn own_group(_command: &mut Command) {}
    pub(super) fn register_group(_pid: u32) -> Option<usize> {
        None
    }
    pub(super) fn unregister_group(_slot: usize) {}
    pub(super) fn kill_group(_pid: u32) {}
    pub(super) fn thread_id() -> i64 {
        0
    }
    pub(super) fn take_stdout_for_protocol() -> Option<std::fs::File> {
        None
    }
    pub(super) fn install_fault_handler() {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_output_tail_keeps_the_last_bytes_and_counts_all() {
        let mut t = Tail {
            keep: 4,
            ..Tail::default()
        };
        t.push(b"abc");
        t.push(b"defgh");
        t.push(b"i");
        assert_eq!(t.bytes.iter().copied().collect::<Vec<u8>>(), b"fghi");
        assert_eq!(t.total, 9);
    }

    #[test]
    fn lines_longer_than_the_cap_are_dropped_whole() {
        let (tx, rx) = mpsc::channel();
        read_lines(&b"short\nway too long a line\nok\n"[..], 8, &tx);
        let got: Vec<String> = rx
            .try_iter()
            .map(|r| match r {
                Report::Line(l) => String::from_utf8(l).unwrap(),
                Report::LineDropped(n) => format!("dropped {n}"),
                Report::ProtocolEnd => "end".to_owned(),
                Report::OutputEnd => "output end".to_owned(),
            })
            .collect();
        assert_eq!(got, ["short", "dropped 19", "ok", "end"]);
    }
}
