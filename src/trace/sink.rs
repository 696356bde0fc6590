//! What the RTSP link and the simulated sink did, as typed trace data.

use serde::Serialize;
use std::fmt;

/// A scenario action on the sink.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, schemars::JsonSchema)]
pub enum SinkAction {
    /// A monitor is attached behind the sink.
    MonitorArrives,
    /// The monitor is unplugged: the sink reports it physically removed (R13).
    MonitorDeparts,
    /// The sink asks for an IDR picture (M13).
    IdrRequest,
    /// The sink tears the session down (M8).
    Teardown,
}

/// One RTSP message on the wire, summarized: its first line and its size.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct WireSummary {
    /// The request or status line.
    pub first_line: String,
    /// Bytes on the wire.
    pub bytes: usize,
}

impl WireSummary {
    /// The summary of `bytes` as they went over the socket.
    pub fn of(bytes: &[u8]) -> Self {
        let text = String::from_utf8_lossy(bytes);
        let mut first_line = text.lines().next().unwrap_or("").trim().to_owned();
        // A hostile or broken peer's line is capped: the trace is for reading.
        if first_line.len() > 200 {
            let mut end = 200;
            while !first_line.is_char_boundary(end) {
                end -= 1;
            }
            first_line.truncate(end);
        }
        WireSummary {
            first_line,
            bytes: bytes.len(),
        }
    }
}

impl fmt::Display for WireSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({} bytes)", self.first_line, self.bytes)
    }
}

/// What the RTSP link or the sink did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(tag = "activity", rename_all = "snake_case")]
pub enum SinkActivity {
    /// The UMD began a send on the OS's socket.
    UmdSend {
        /// `StopMiracastSession` had already begun (R32).
        after_stop: bool,
        /// The message.
        message: WireSummary,
    },
    /// The UMD received bytes from the sink.
    UmdRecv {
        /// The message.
        message: WireSummary,
    },
    /// The sink sent bytes to the UMD.
    SinkSend {
        /// The message.
        message: WireSummary,
    },
    /// The OS closed its socket.
    OsClose {
        /// The socket.
        socket: u64,
    },
    /// The UMD closed the OS's socket (R41).
    UmdClose {
        /// The socket.
        socket: u64,
    },
    /// The sink carried out a scenario action.
    Action {
        /// Which.
        action: SinkAction,
    },
    /// The source's M4 set the sink up.
    Configured {
        /// The video mode chosen, as `1920x1080p60`, when exactly one was given.
        mode: Option<String>,
        /// The bit rate that mode needs under the documented estimate (0.14 bit per pixel).
        required_bitrate: Option<u64>,
    },
    /// Any other change in the sink, in words (`sink: playing`).
    Event {
        /// The sentence.
        text: String,
    },
}

impl fmt::Display for SinkActivity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SinkActivity::UmdSend {
                after_stop,
                message,
            } => write!(
                f,
                "umd-send{} {message}",
                if *after_stop { " after-stop" } else { "" }
            ),
            SinkActivity::UmdRecv { message } => write!(f, "umd-recv {message}"),
            SinkActivity::SinkSend { message } => write!(f, "sink-send {message}"),
            SinkActivity::OsClose { socket } => write!(f, "os-close socket={socket}"),
            SinkActivity::UmdClose { socket } => write!(f, "umd-close socket={socket}"),
            SinkActivity::Action { action } => write!(f, "scenario: {action:?}"),
            SinkActivity::Configured { mode, .. } => match mode {
                Some(mode) => write!(f, "sink: configured by M4 ({mode})"),
                None => f.write_str("sink: configured by M4"),
            },
            SinkActivity::Event { text } => f.write_str(text),
        }
    }
}
