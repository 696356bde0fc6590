//! Writing to stdout as a Unix tool does: a closed pipe (`| head`) ends the output quietly (and
//! everything else still happens: report files are still written), any other write error (a
//! full disk, `> /dev/full`) is said once on stderr and makes the exit code 2.

use super::exit_code;
use std::cell::Cell;
use std::io::{ErrorKind, Write};

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Open,
    Closed,
    Failed,
}

/// Standard output with its write errors remembered.
pub struct Stdout {
    state: Cell<State>,
}

impl Default for Stdout {
    fn default() -> Self {
        Stdout {
            state: Cell::new(State::Open),
        }
    }
}

impl Stdout {
    /// A fresh writer.
    pub fn new() -> Self {
        Stdout::default()
    }

    /// Writes `text` (nothing once the pipe is closed or a write failed).
    pub fn text(&self, text: &str) {
        if self.state.get() != State::Open {
            return;
        }
        let mut out = std::io::stdout().lock();
        let result = out.write_all(text.as_bytes()).and_then(|()| out.flush());
        match result {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::BrokenPipe => self.state.set(State::Closed),
            Err(e) => {
                eprintln!("error: cannot write to standard output: {e}");
                self.state.set(State::Failed);
            }
        }
    }

    /// Writes `text` and a newline.
    pub fn line(&self, text: impl std::fmt::Display) {
        self.text(&format!("{text}\n"));
    }

    /// True once a write failed for a reason other than a closed pipe.
    pub fn failed(&self) -> bool {
        self.state.get() == State::Failed
    }

    /// `code`, or 2 when a write failed (a closed pipe is not a failure).
    pub fn finish(&self, code: u8) -> u8 {
        if self.failed() {
            exit_code::INVALID
        } else {
            code
        }
    }
}
