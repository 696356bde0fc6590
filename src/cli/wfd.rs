//! The `sink`, `source` and `wfd decode` commands: thin wrappers over [`crate::net`] and
//! [`crate::wfd::capture`]. Printing to the terminal happens only here.
//!
//! Exit statuses (all three commands):
//!
//! | Code | Meaning |
//! |---|---|
//! | 0 | success (see each command) |
//! | 1 | the run finished but did not meet its goal (negotiation incomplete, a `--require-*` check failed, a message did not decode) |
//! | 2 | usage or setup error (bad configuration, cannot connect/bind/read/write) |

use std::io::Read;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use crate::net::{RunOptions, RunOutcome};
use crate::wfd::capture::decode_capture_with;
use crate::wfd::params::{Parameter, ParameterList};
use crate::wfd::sink::Personality;
use crate::wfd::{ExchangeRecord, SinkConfig, SourceConfig};

/// Success.
pub const EXIT_OK: u8 = 0;
/// The run ended without meeting its goal.
pub const EXIT_GOAL_NOT_MET: u8 = 1;
/// Usage or setup error.
pub const EXIT_SETUP: u8 = 2;

/// Arguments of `sink`: run the simulated WFD sink against a real source.
#[derive(clap::Args, Debug, Clone)]
pub struct SinkArgs {
    /// Connect to a source at HOST:PORT (the usual direction: the WFD source listens on 7236).
    #[arg(
        long,
        value_name = "HOST:PORT",
        conflicts_with = "listen",
        required_unless_present = "listen"
    )]
    pub connect: Option<String>,
    /// Listen on ADDR and serve the first source that connects.
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// Capability set: 720p_only, 1080p60, 4k, vesa_only, no_monitor, no_audio, hdcp2_required.
    #[arg(long, default_value = "1080p60", value_parser = parse_personality)]
    pub personality: Personality,
    /// A full sink configuration (JSON, the scenario `sink` shape); replaces --personality.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Tear down this long after PLAY (e.g. `5s`, `1500ms`); default: until the source ends.
    #[arg(long, value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// RTP port to announce and listen on (0: any free port).
    #[arg(long)]
    pub rtp_port: Option<u16>,
    /// Address of the RTP socket.
    #[arg(long, default_value = "127.0.0.1")]
    pub rtp_bind: std::net::IpAddr,
    /// Write the exchange (every message, direction, timing, M-number; RTP count) as JSON.
    #[arg(long, value_name = "FILE")]
    pub exchange_log: Option<PathBuf>,
    /// Also require at least one keep-alive (M16) answered.
    #[arg(long)]
    pub require_keepalive: bool,
    /// Also require at least one RTP packet received.
    #[arg(long)]
    pub require_rtp: bool,
    /// Print only the summary.
    #[arg(long)]
    pub quiet: bool,
}

/// Arguments of `source`: run the simulated WFD source (the UMD side) against a real sink.
#[derive(clap::Args, Debug, Clone)]
pub struct SourceArgs {
    /// Listen on ADDR (e.g. 127.0.0.1:7236) and serve the first sink that connects.
    #[arg(
        long,
        value_name = "ADDR",
        conflicts_with = "connect",
        required_unless_present = "connect"
    )]
    pub listen: Option<SocketAddr>,
    /// Connect to a sink at HOST:PORT.
    #[arg(long, value_name = "HOST:PORT")]
    pub connect: Option<String>,
    /// Suggested bit rate in bit/s.
    #[arg(long, default_value_t = 20_000_000)]
    pub bitrate: u64,
    /// Override the bit rate a 1024x768 mode needs (bit/s).
    #[arg(long)]
    pub min_bitrate_1024x768: Option<u64>,
    /// A full source configuration (JSON); --bitrate and --min-bitrate-1024x768 still apply.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Tear down (M5 TEARDOWN) this long after PLAY; default: until the sink ends.
    #[arg(long, value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Do not send RTP packets while playing.
    #[arg(long)]
    pub no_rtp: bool,
    /// Write the exchange as JSON.
    #[arg(long, value_name = "FILE")]
    pub exchange_log: Option<PathBuf>,
    /// Also require at least one keep-alive (M16) answered by the sink.
    #[arg(long)]
    pub require_keepalive: bool,
    /// Print only the summary.
    #[arg(long)]
    pub quiet: bool,
}

/// Arguments of `wfd decode`: print the RTSP messages of a capture or log as JSON.
#[derive(clap::Args, Debug, Clone)]
pub struct DecodeArgs {
    /// A raw capture, or a text log (HLK `virtualsinklog` style) with messages in its lines;
    /// stdin when absent.
    pub file: Option<PathBuf>,
    /// Read a message whose `Content-Length` does not match its body with the body as found,
    /// and say so as a `warning` (without it, such a message is an error).
    #[arg(long)]
    pub lenient: bool,
}

fn parse_personality(s: &str) -> Result<Personality, String> {
    Personality::from_name(s).ok_or_else(|| {
        let names: Vec<&str> = Personality::ALL.iter().map(|p| p.name()).collect();
        format!(
            "unknown personality '{s}' (expected one of: {})",
            names.join(", ")
        )
    })
}

/// `1500ms`, `5s`, `2m`, or a bare number of seconds.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = match s.find(|c: char| !c.is_ascii_digit() && c != '.') {
        Some(i) => (&s[..i], &s[i..]),
        None => (s, "s"),
    };
    let n: f64 = num
        .parse()
        .map_err(|_| format!("'{s}' is not a duration (e.g. 5s, 1500ms)"))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        _ => return Err(format!("'{s}': unit must be ms, s or m")),
    };
    Duration::try_from_secs_f64(secs).map_err(|e| format!("'{s}': {e}"))
}

fn resolve(host_port: &str) -> Result<SocketAddr, String> {
    host_port
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve '{host_port}': {e}"))?
        .next()
        .ok_or_else(|| format!("'{host_port}' resolves to no address"))
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))
}

fn printer(quiet: bool) -> Option<crate::net::RecordHook> {
    // Each record holds the peer's text: escaped, and a closed pipe only stops the printing.
    (!quiet).then(|| {
        Box::new(|r: &ExchangeRecord| {
            use std::io::Write;
            let _ = writeln!(
                std::io::stdout(),
                "{}",
                crate::report::escape::escape_lines(&r.to_string())
            );
        }) as crate::net::RecordHook
    })
}

fn setup_error(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {msg}");
    ExitCode::from(EXIT_SETUP)
}

fn read_json<T: serde::de::DeserializeOwned>(path: &std::path::Path) -> Result<T, String> {
    let text = crate::scenario::read_input_text(path)?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// The JSON exchange log: outcome plus every message with direction, timing and M-number.
pub fn exchange_log_json(outcome: &RunOutcome) -> serde_json::Value {
    let messages: Vec<serde_json::Value> = outcome
        .exchange
        .iter()
        .map(|r| {
            serde_json::json!({
                "at_ms": r.at.as_micros() as f64 / 1000.0,
                "direction": r.direction,
                "message": r.label(),
                "cseq": r.cseq,
                "status": r.status,
                "first_line": r.first_line,
                "text": r.text,
            })
        })
        .collect();
    serde_json::json!({
        "role": outcome.role,
        "negotiation_completed": outcome.negotiation_completed,
        "close": outcome.close,
        "transport_error": outcome.transport_error,
        "keepalives": outcome.keepalives,
        "idr_requests": outcome.idr_requests,
        "rtp": outcome.rtp,
        "messages": messages,
    })
}

fn write_log(path: &Option<PathBuf>, outcome: &RunOutcome) -> Result<(), String> {
    let Some(path) = path else { return Ok(()) };
    let text =
        serde_json::to_string_pretty(&exchange_log_json(outcome)).map_err(|e| e.to_string())?;
    std::fs::write(path, text).map_err(|e| format!("writing {}: {e}", path.display()))
}

fn summary(outcome: &RunOutcome) {
    let close = outcome
        .close
        .as_ref()
        .map_or_else(|| "connection ended".to_owned(), |c| c.describe());
    let out = super::output::Stdout::new();
    out.line(crate::report::escape::escape_text(&format!(
        "{} negotiation {}; {} keep-alive(s); {} IDR request(s); {} RTP packet(s); ended: {close}{}",
        match outcome.role {
            crate::wfd::Role::Sink => "sink:",
            crate::wfd::Role::Source => "source:",
        },
        if outcome.negotiation_completed {
            "completed"
        } else {
            "NOT completed"
        },
        outcome.keepalives,
        outcome.idr_requests,
        outcome.rtp.packets,
        outcome
            .transport_error
            .as_ref()
            .map_or_else(String::new, |e| format!(" ({e})")),
    )));
    for e in &outcome.events {
        if let crate::wfd::Event::PeerWarning { peer, what } = e {
            out.line(crate::report::escape::escape_text(&format!(
                "warning: peer {}: {what}",
                peer.as_deref().unwrap_or("(no Server header)")
            )));
        }
    }
}

/// Runs `sink`.
///
/// Exit status: 0 when negotiation completed (M1..M7) and, with `--require-keepalive`, at
/// least one M16 was answered and, with `--require-rtp`, RTP packets were received; 1 when
/// the run ended without that; 2 on a usage or setup error (bad `--config`, cannot
/// connect/listen/bind the RTP port, cannot write `--exchange-log`).
pub fn run_sink(args: &SinkArgs) -> ExitCode {
    let mut config = match &args.config {
        Some(path) => match read_json::<SinkConfig>(path) {
            Ok(c) => c,
            Err(e) => return setup_error(e),
        },
        None => SinkConfig {
            personality: args.personality,
            ..Default::default()
        },
    };
    if let Some(p) = args.rtp_port {
        config.rtp_port = p;
    }
    if let Err(e) = config.capability_set() {
        return setup_error(format!("sink configuration: {e}"));
    }
    let opts = RunOptions {
        duration: args.duration,
        rtp_bind: args.rtp_bind,
        on_record: printer(args.quiet),
        ..Default::default()
    };
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(e) => return setup_error(e),
    };
    let result = rt.block_on(async {
        match (&args.connect, &args.listen) {
            (Some(target), _) => {
                let addr = resolve(target)?;
                crate::net::sink_connect(addr, config, opts)
                    .await
                    .map_err(|e| e.to_string())
            }
            (None, Some(addr)) => {
                let listener = tokio::net::TcpListener::bind(addr)
                    .await
                    .map_err(|e| format!("listening on {addr}: {e}"))?;
                crate::net::sink_listen(&listener, config, opts)
                    .await
                    .map_err(|e| e.to_string())
            }
            (None, None) => Err("one of --connect or --listen is required".to_owned()),
        }
    });
    let outcome = match result {
        Ok(o) => o,
        Err(e) => return setup_error(e),
    };
    summary(&outcome);
    if let Err(e) = write_log(&args.exchange_log, &outcome) {
        return setup_error(e);
    }
    let ok = outcome.negotiation_completed
        && (!args.require_keepalive || outcome.keepalives > 0)
        && (!args.require_rtp || outcome.rtp.packets > 0);
    ExitCode::from(if ok { EXIT_OK } else { EXIT_GOAL_NOT_MET })
}

/// Runs `source`.
///
/// Exit status: 0 when negotiation completed (the sink's PLAY was answered) and, with
/// `--require-keepalive`, the sink answered at least one M16; 1 otherwise (including the
/// insufficient-bit-rate outcome); 2 on a usage or setup error.
pub fn run_source(args: &SourceArgs) -> ExitCode {
    let mut config = match &args.config {
        Some(path) => match read_json::<SourceConfig>(path) {
            Ok(c) => c,
            Err(e) => return setup_error(e),
        },
        None => SourceConfig::default(),
    };
    config.selection.bitrate_bps = args.bitrate;
    if args.min_bitrate_1024x768.is_some() {
        config.selection.min_bitrate_1024x768 = args.min_bitrate_1024x768;
    }
    let opts = RunOptions {
        duration: args.duration,
        send_rtp: !args.no_rtp,
        on_record: printer(args.quiet),
        ..Default::default()
    };
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(e) => return setup_error(e),
    };
    let result = rt.block_on(async {
        match (&args.listen, &args.connect) {
            (Some(addr), _) => {
                let listener = tokio::net::TcpListener::bind(addr)
                    .await
                    .map_err(|e| format!("listening on {addr}: {e}"))?;
                crate::net::source_listen(&listener, config, opts)
                    .await
                    .map_err(|e| e.to_string())
            }
            (None, Some(target)) => {
                let addr = resolve(target)?;
                crate::net::source_connect(addr, config, opts)
                    .await
                    .map_err(|e| e.to_string())
            }
            (None, None) => Err("one of --listen or --connect is required".to_owned()),
        }
    });
    let outcome = match result {
        Ok(o) => o,
        Err(e) => return setup_error(e),
    };
    summary(&outcome);
    if let Err(e) = write_log(&args.exchange_log, &outcome) {
        return setup_error(e);
    }
    let ok = outcome.negotiation_completed && (!args.require_keepalive || outcome.keepalives > 0);
    ExitCode::from(if ok { EXIT_OK } else { EXIT_GOAL_NOT_MET })
}

/// A parameter's decoded meaning as JSON, for `wfd decode`.
pub fn describe_parameter(p: &Parameter) -> serde_json::Value {
    use serde_json::json;
    match p {
        Parameter::VideoFormats(Some(v)) => json!({
            "native": v.native_mode().map(|(t, i, m)| json!({"table": t.to_string(), "index": i, "mode": m.to_string()})),
            "preferred_display_mode_supported": v.preferred_display_mode_supported,
            "codecs": v.codecs.iter().map(|c| json!({
                "profiles": crate::wfd::params::H264Profile::from_bitmap(c.profile).iter().map(ToString::to_string).collect::<Vec<_>>(),
                "levels": crate::wfd::params::H264Level::from_bitmap(c.level).iter().map(ToString::to_string).collect::<Vec<_>>(),
                "modes": c.modes().iter().map(|(t, _, m)| format!("{t} {m}")).collect::<Vec<_>>(),
                "latency_ms": u32::from(c.latency) * 5,
                "min_slice_size": c.min_slice_size,
                "slice_enc_params": c.slice_enc_params,
                "frame_rate_control": c.frame_rate_control,
                "max_hres": c.max_hres,
                "max_vres": c.max_vres,
            })).collect::<Vec<_>>(),
        }),
        Parameter::AudioCodecs(a) => json!(
            a.0.iter()
                .map(|c| json!({
                    "format": c.format.to_string(),
                    "modes": c.mode_names(),
                    "latency_ms": u32::from(c.latency) * 5,
                }))
                .collect::<Vec<_>>()
        ),
        Parameter::DisplayEdid(Some(e)) => json!({
            "block_count": e.block_count,
            "bytes": e.payload.as_ref().map(Vec::len),
            "monitor_name": e.monitor_name(),
        }),
        Parameter::ConnectorType(Some(c)) => json!({"value": c.0, "name": c.name()}),
        Parameter::Raw { .. } => json!({"raw": p.value()}),
        other => json!({"value": other.value()}),
    }
}

/// Runs `wfd decode`.
///
/// Exit status: 0 when every message and parameter decoded; 1 when at least one did not
/// (each is still printed, with its error); 2 when the input could not be read or held no
/// RTSP message.
pub fn run_decode(args: &DecodeArgs) -> ExitCode {
    let mut input = Vec::new();
    let read = match &args.file {
        Some(path) => crate::scenario::read_input_file(path).map(|b| input = b),
        None => {
            let max = crate::scenario::max_file_size();
            std::io::stdin()
                .take(max.saturating_add(1))
                .read_to_end(&mut input)
                .map_err(|e| format!("reading stdin: {e}"))
                .and_then(|n| {
                    if n as u64 > max {
                        Err(format!(
                            "standard input is larger than the {max}-byte limit for captures; raise it with the environment variable {}=BYTES",
                            crate::scenario::MAX_FILE_SIZE_ENV
                        ))
                    } else {
                        Ok(())
                    }
                })
        }
    };
    if let Err(e) = read {
        return setup_error(e);
    }
    let messages = decode_capture_with(&input, args.lenient);
    if messages.is_empty() {
        return setup_error("no RTSP message found in the input");
    }
    let mut all_ok = true;
    let mut out = Vec::new();
    for m in &messages {
        let mut obj = serde_json::json!({
            "line": m.line,
            "direction": m.direction,
            "message": m.kind,
        });
        if let Some(w) = &m.warning {
            obj["warning"] = w.clone().into();
        }
        match &m.message {
            Err((first_line, e)) => {
                all_ok = false;
                obj["first_line"] = first_line.clone().into();
                obj["error"] = e.to_string().into();
            }
            Ok(msg) => {
                obj["reply"] = msg.is_response().into();
                obj["first_line"] = msg.first_line().into();
                obj["cseq"] = msg.cseq().ok().into();
                obj["headers"] = msg
                    .headers
                    .iter()
                    .map(|(n, v)| serde_json::json!([n, v]))
                    .collect::<Vec<_>>()
                    .into();
                let list = msg.params().unwrap_or_else(|e| {
                    all_ok = false;
                    obj["body_error"] = e.to_string().into();
                    ParameterList::new()
                });
                let is_303 = msg.status() == Some(303);
                let params: Vec<serde_json::Value> = list
                    .lines
                    .iter()
                    .map(|l| {
                        let mut p = serde_json::json!({"name": l.name, "value": l.value});
                        if is_303 {
                            return p;
                        }
                        match l.typed() {
                            Ok(Parameter::Raw { .. }) => {}
                            Ok(typed) => p["decoded"] = describe_parameter(&typed),
                            Err(e) => {
                                all_ok = false;
                                p["error"] = e.to_string().into();
                            }
                        }
                        p
                    })
                    .collect();
                obj["parameters"] = params.into();
            }
        }
        out.push(obj);
    }
    let stdout = super::output::Stdout::new();
    match serde_json::to_string_pretty(&out) {
        Ok(text) => stdout.line(text),
        Err(e) => return setup_error(e),
    }
    ExitCode::from(stdout.finish(if all_ok { EXIT_OK } else { EXIT_GOAL_NOT_MET }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(
            parse_duration("1500ms").unwrap(),
            Duration::from_millis(1500)
        );
        assert_eq!(parse_duration("5").unwrap(), Duration::from_secs(5));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert!(parse_duration("5h").is_err());
    }

    #[test]
    fn source_and_sink_commands_complete_a_session_over_loopback() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("exchange.json");
        let source_args = SourceArgs {
            listen: Some(SocketAddr::from(([127, 0, 0, 1], port))),
            connect: None,
            bitrate: 20_000_000,
            min_bitrate_1024x768: None,
            config: None,
            duration: None,
            no_rtp: false,
            exchange_log: None,
            require_keepalive: false,
            quiet: true,
        };
        let source = std::thread::spawn(move || run_source(&source_args));
        let sink_args = SinkArgs {
            connect: Some(format!("127.0.0.1:{port}")),
            listen: None,
            personality: Personality::P720Only,
            config: None,
            duration: Some(Duration::from_millis(500)),
            rtp_port: Some(0),
            rtp_bind: std::net::IpAddr::from([127, 0, 0, 1]),
            exchange_log: Some(log.clone()),
            require_keepalive: false,
            require_rtp: true,
            quiet: true,
        };
        // The source may not be listening yet: retry the connection a few times.
        let mut code = ExitCode::from(EXIT_SETUP);
        for _ in 0..50 {
            code = run_sink(&sink_args);
            if code != ExitCode::from(EXIT_SETUP) {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(code, ExitCode::from(EXIT_OK));
        assert_eq!(source.join().unwrap(), ExitCode::from(EXIT_OK));
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&log).unwrap()).unwrap();
        assert_eq!(json["negotiation_completed"], true);
        assert!(json["rtp"]["packets"].as_u64().unwrap() > 0);
        assert!(
            json["messages"]
                .as_array()
                .unwrap()
                .iter()
                .any(|m| m["message"] == "M7 reply")
        );
    }

    #[test]
    fn decode_exit_statuses() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("good.txt");
        std::fs::write(
            &good,
            "OPTIONS * RTSP/1.0\r\nCSeq: 1\r\nRequire: org.wfa.wfd1.0\r\n\r\n",
        )
        .unwrap();
        assert_eq!(
            run_decode(&DecodeArgs {
                file: Some(good),
                lenient: false,
            }),
            ExitCode::from(EXIT_OK)
        );
        let bad = dir.path().join("bad.txt");
        std::fs::write(&bad, "RTSP/1.0 200 OK\r\nCSeq: 2\r\nContent-Length: 27\r\n\r\nwfd_audio_codecs: AAC 1 00\r\n").unwrap();
        assert_eq!(
            run_decode(&DecodeArgs {
                file: Some(bad),
                lenient: false,
            }),
            ExitCode::from(EXIT_GOAL_NOT_MET)
        );
        let empty = dir.path().join("empty.txt");
        std::fs::write(&empty, "nothing here").unwrap();
        assert_eq!(
            run_decode(&DecodeArgs {
                file: Some(empty),
                lenient: false,
            }),
            ExitCode::from(EXIT_SETUP)
        );
    }

    #[test]
    fn personalities_parse() {
        assert_eq!(
            parse_personality("720p_only").unwrap(),
            Personality::P720Only
        );
        assert!(
            parse_personality("8k")
                .unwrap_err()
                .contains("expected one of")
        );
    }
}
