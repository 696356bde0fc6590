//! One child process per scenario, so that a driver that crashes (segmentation fault, abort,
//! stack overflow) becomes a reported bugcheck-style finding and the other scenarios still run.
//!
//! Protocol (stdout of the child, one line each, other lines ignored):
//!
//! ```text
//! @@miracast-sim-event t3 msg-delivery-1: enter HandleKernelModeMessage     (streamed, flushed)
//! @@miracast-sim-result {"...": ...}                                          (once, at the end)
//! ```
//!
//! The parent re-executes a program it chooses (the CLI: its own binary with the hidden
//! subcommand; a test: its own test binary filtered to one test), writes the input to the
//! child's stdin, and reads the stream as it comes. If the child dies before the result line,
//! the parent builds a [`DriverFault`] from how it died (signal or exception code) and the last
//! streamed events: the innermost DDI still entered is where it crashed.

use super::bridge::{DriverFault, DriverFaultKind};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};

/// Set in the child's environment; the child side checks it.
pub const ISOLATED_CHILD_ENV: &str = "MIRACAST_SIM_ISOLATED_CHILD";

const EVENT_PREFIX: &str = "@@miracast-sim-event ";
const RESULT_PREFIX: &str = "@@miracast-sim-result ";
const KEEP_EVENTS: usize = 64;

static STREAMING: AtomicBool = AtomicBool::new(false);

/// In an isolated child, writes one bridge event to the parent at once (no-op elsewhere).
pub fn stream_journal_line(line: &str) {
    if STREAMING.load(Ordering::Relaxed) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{EVENT_PREFIX}{line}");
        let _ = out.flush();
    }
}

/// What an isolated run produced.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct IsolatedOutcome<T> {
    /// The child's result, when it finished.
    pub result: Option<T>,
    /// The crash, when the child died first.
    pub fault: Option<DriverFault>,
    /// The last events the child streamed, oldest first.
    pub last_events: Vec<String>,
    /// How the child ended (`exit status: 0`, `signal: 11 (SIGSEGV)`, ...).
    pub exit: String,
}

/// Runs `command` as an isolated child with `input` on its stdin and returns its result, or the
/// crash it died of.
///
/// # Errors
/// The child could not be started or its pipes failed.
pub fn run_isolated<T: DeserializeOwned>(
    command: &mut Command,
    input: &[u8],
) -> std::io::Result<IsolatedOutcome<T>> {
    let mut child = command
        .env(ISOLATED_CHILD_ENV, "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(input)?;
    }
    let stderr = child.stderr.take();
    let stderr_reader = std::thread::spawn(move || {
        let mut text = String::new();
        if let Some(mut e) = stderr {
            let _ = e.read_to_string(&mut text);
        }
        text
    });
    let mut events: VecDeque<String> = VecDeque::new();
    let mut result = None;
    if let Some(stdout) = child.stdout.take() {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(event) = line.strip_prefix(EVENT_PREFIX) {
                if events.len() == KEEP_EVENTS {
                    events.pop_front();
                }
                events.push_back(event.to_owned());
            } else if let Some(json) = line.strip_prefix(RESULT_PREFIX) {
                result = serde_json::from_str::<T>(json).ok();
            }
        }
    }
    let status = child.wait()?;
    let stderr_text = stderr_reader.join().unwrap_or_default();
    let last_events: Vec<String> = events.into_iter().collect();
    let death = super::platform::death_of(&status);
    let exit = match &death {
        Some((_, name)) => name.clone(),
        None => status.to_string(),
    };
    let fault = if result.is_some() {
        None
    } else {
        let (thread, ddi) = innermost_entered(&last_events);
        let tail: String = stderr_text
            .lines()
            .rev()
            .take(3)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join(" | ");
        Some(DriverFault {
            kind: DriverFaultKind::Crash {
                code: death.as_ref().map(|(c, _)| *c),
                name: exit.clone(),
            },
            thread: thread.unwrap_or_else(|| "(unknown)".to_owned()),
            ddi,
            detail: if tail.is_empty() {
                "the process running the driver died before the scenario finished".to_owned()
            } else {
                format!(
                    "the process running the driver died before the scenario finished; stderr: {tail}"
                )
            },
            last_events: last_events.clone(),
        })
    };
    Ok(IsolatedOutcome {
        result,
        fault,
        last_events,
        exit,
    })
}

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

/// The child side: streams bridge events to stdout, reads the whole input from stdin, runs
/// `run`, and writes its result line. Returns the process exit code to use.
pub fn isolated_child_main<T: Serialize>(run: impl FnOnce(&[u8]) -> T) -> i32 {
    STREAMING.store(true, Ordering::Relaxed);
    let mut input = Vec::new();
    if std::io::stdin().read_to_end(&mut input).is_err() {
        return 2;
    }
    let result = run(&input);
    let Ok(json) = serde_json::to_string(&result) else {
        return 2;
    };
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{RESULT_PREFIX}{json}");
    let _ = out.flush();
    0
}
