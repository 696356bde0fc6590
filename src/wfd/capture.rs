//! Reading RTSP messages out of captures: raw byte streams, text logs whose lines carry
//! the messages after a prefix (HLK `virtualsinklog`-style: timestamp and tags, then the RTSP
//! line), and logs that print a whole message on one line with escaped `\r\n`. Lenient by
//! design: whatever cannot be read is reported and skipped, never fatal.
//!
//! [`decode_capture`] also labels each message with its M-number, pairing a reply with the
//! latest unanswered request carrying the same CSeq, and inferring the sender from the
//! method (OPTIONS: the first is the source's M1, later ones the sink's M2).

use super::message::{
    Direction, MessageError, MessageKind, Role, RtspMessage, StartLine, guess_reply_kind,
};

/// One message found in a capture.
#[derive(Clone, Debug)]
pub struct CapturedMessage {
    /// 1-based line of the capture where it starts.
    pub line: usize,
    /// The message, or why it could not be read (with its first line).
    pub message: Result<RtspMessage, (String, MessageError)>,
    /// Who sent it, when it could be inferred.
    pub direction: Option<Direction>,
    /// Which M-message it is or answers.
    pub kind: MessageKind,
    /// A problem read past with `lenient` (a `Content-Length` that does not match the body).
    pub warning: Option<String>,
}

/// One message cut out of a capture, as it came.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Extracted {
    /// 1-based line where it starts.
    pub line: usize,
    /// Its bytes: the header block as written and the body lines that followed it.
    pub bytes: Vec<u8>,
    /// The `Content-Length` it announced (`None` when it has none).
    pub declared: Option<usize>,
    /// The body bytes the capture holds for it.
    pub found: usize,
}

const METHODS: [&str; 11] = [
    "OPTIONS",
    "GET_PARAMETER",
    "SET_PARAMETER",
    "SETUP",
    "PLAY",
    "PAUSE",
    "TEARDOWN",
    "DESCRIBE",
    "ANNOUNCE",
    "RECORD",
    "REDIRECT",
];

/// Where a start line begins inside `line`, if it contains one.
fn start_line_at(line: &str) -> Option<usize> {
    if let Some(i) = line.find("RTSP/1.0 ") {
        let rest = &line[i + 9..];
        if rest.len() >= 3 && rest.as_bytes()[..3].iter().all(u8::is_ascii_digit) {
            return Some(i);
        }
    }
    if line.trim_end().ends_with(" RTSP/1.0") {
        for m in METHODS {
            let mut search = 0;
            while let Some(j) = line[search..].find(m) {
                let at = search + j;
                let boundary = at == 0 || !line.as_bytes()[at - 1].is_ascii_alphanumeric();
                if boundary && line[at + m.len()..].starts_with(' ') {
                    return Some(at);
                }
                search = at + m.len();
            }
        }
        // Case-variant methods (`OptionS`) are still messages; the parser will name the error.
        let trimmed = line.trim_end();
        let words: Vec<&str> = trimmed.rsplitn(3, ' ').collect();
        if words.len() == 3 {
            let method_word = words[2]
                .rsplit(|c: char| c.is_whitespace() || c == ']' || c == ':')
                .next()
                .unwrap_or("");
            if METHODS.iter().any(|m| m.eq_ignore_ascii_case(method_word)) {
                return Some(
                    trimmed.len() - words[0].len() - words[1].len() - method_word.len() - 2,
                );
            }
        }
    }
    None
}

/// Equal length, and equal characters except that any digit matches any digit.
fn same_shape(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .all(|(x, y)| x == y || (x.is_ascii_digit() && y.is_ascii_digit()))
}

fn unescape(text: &str) -> String {
    if text.contains("\\r\\n") {
        text.replace("\\r\\n", "\r\n").replace("\\n", "\n")
    } else {
        text.to_owned()
    }
}

/// Reconstructs the messages of a capture as bytes, each with its starting line number.
///
/// Each message is as the capture wrote it: a `Content-Length` that does not match the body
/// that follows is kept (see [`extract`] for both numbers).
pub fn extract_messages(input: &[u8]) -> Vec<(usize, Vec<u8>)> {
    extract(input)
        .into_iter()
        .map(|e| (e.line, e.bytes))
        .collect()
}

/// Cuts the messages out of a capture with what each announced and held.
pub fn extract(input: &[u8]) -> Vec<Extracted> {
    let text = unescape(&String::from_utf8_lossy(input));
    let lines: Vec<&str> = text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect();
    let mut out: Vec<Extracted> = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let Some(at) = start_line_at(lines[i]) else {
            i += 1;
            continue;
        };
        let start = i;
        let prefix = &lines[i][..at];
        let mut msg = String::new();
        msg.push_str(&lines[i][at..]);
        msg.push_str("\r\n");
        let strip = |l: &'_ str| -> String {
            if !prefix.is_empty() && l.starts_with(prefix) {
                l[prefix.len()..].to_owned()
            } else if !prefix.is_empty()
                && l.is_char_boundary(prefix.len().min(l.len()))
                && same_shape(&l[..prefix.len().min(l.len())], prefix)
            {
                // The same log prefix with a different timestamp.
                l[prefix.len()..].to_owned()
            } else {
                l.to_owned()
            }
        };
        i += 1;
        let mut content_length = 0usize;
        let mut declared = None;
        while i < lines.len() {
            let l = strip(lines[i]);
            i += 1;
            if l.trim().is_empty() {
                break;
            }
            if start_line_at(&l) == Some(0) {
                i -= 1;
                break;
            }
            if let Some((n, v)) = l.split_once(':')
                && n.trim().eq_ignore_ascii_case("Content-Length")
            {
                content_length = v.trim().parse().unwrap_or(0);
                declared = v.trim().parse().ok();
            }
            msg.push_str(&l);
            msg.push_str("\r\n");
        }
        msg.push_str("\r\n");
        let mut body = String::new();
        while body.len() < content_length && i < lines.len() {
            let l = strip(lines[i]);
            if start_line_at(&l).is_some() || (i + 1 == lines.len() && l.is_empty()) {
                // The next message, or the nothing after the input's last line end.
                break;
            }
            body.push_str(&l);
            body.push_str("\r\n");
            i += 1;
        }
        // Lines are cut at line ends: a body that did not end with one gained a CRLF here.
        if body.len() == content_length + 2 && body.ends_with("\r\n") {
            body.truncate(content_length);
        }
        let found = body.len();
        msg.push_str(&body);
        out.push(Extracted {
            line: start + 1,
            bytes: msg.into_bytes(),
            declared,
            found,
        });
    }
    out
}

/// Extracts, parses and labels every message of a capture.
///
/// A message whose `Content-Length` does not match the body the capture holds for it is an
/// error (an incomplete message when the body is shorter), or with `lenient` is read with the
/// body as found and a warning.
pub fn decode_capture(input: &[u8]) -> Vec<CapturedMessage> {
    decode_capture_with(input, false)
}

/// [`decode_capture`], choosing whether a `Content-Length` mismatch is an error.
pub fn decode_capture_with(input: &[u8], lenient: bool) -> Vec<CapturedMessage> {
    let mut out: Vec<CapturedMessage> = Vec::new();
    let mut seen_options = 0usize;
    // (cseq, kind, sender) of requests not answered yet.
    let mut open: Vec<(u32, MessageKind, Role)> = Vec::new();
    for e in extract(input) {
        let line = e.line;
        let mismatch = e.declared.filter(|d| *d != e.found).map(|declared| {
            if declared > e.found {
                format!(
                    "incomplete message: Content-Length announces {declared} body bytes and the capture holds {}",
                    e.found
                )
            } else {
                format!(
                    "Content-Length announces {declared} body bytes but {} follow",
                    e.found
                )
            }
        });
        let bytes = match (&mismatch, e.declared) {
            (Some(_), Some(declared)) if lenient => String::from_utf8_lossy(&e.bytes)
                .replacen(
                    &format!("Content-Length: {declared}"),
                    &format!("Content-Length: {}", e.found),
                    1,
                )
                .into_bytes(),
            _ => e.bytes.clone(),
        };
        let parsed = match &mismatch {
            Some(why) if !lenient => Err(MessageError::Malformed {
                first_line: crate::wfd::params::clip(&String::from_utf8_lossy(
                    bytes.split(|b| *b == b'\r').next().unwrap_or_default(),
                )),
                detail: why.clone(),
            }),
            _ => RtspMessage::parse_one(&bytes).and_then(|m| m.cseq().map(|_| m)),
        };
        let warning = mismatch.filter(|_| lenient);
        let first_line =
            String::from_utf8_lossy(bytes.split(|b| *b == b'\r').next().unwrap_or_default())
                .into_owned();
        let (direction, kind) = match &parsed {
            Ok(m) => match &m.start {
                StartLine::Request { method, .. } => {
                    let params = m.params().unwrap_or_default();
                    let sender = if *method == rtsp_types::Method::Options {
                        seen_options += 1;
                        if seen_options == 1 {
                            Role::Source
                        } else {
                            Role::Sink
                        }
                    } else {
                        MessageKind::of_request(method, Role::Source, &params)
                            .sender()
                            .unwrap_or(Role::Source)
                    };
                    let kind = MessageKind::of_request(method, sender, &params);
                    open.push((m.cseq().unwrap_or(0), kind, sender));
                    (Some(Direction::from_sender(sender)), kind)
                }
                StartLine::Response { .. } => {
                    let cseq = m.cseq().unwrap_or(0);
                    match open.iter().rposition(|o| o.0 == cseq) {
                        Some(i) => {
                            let (_, kind, sender) = open.remove(i);
                            (Some(Direction::from_sender(sender.peer())), kind)
                        }
                        None => (None, guess_reply_kind(Direction::SinkToSource, m)),
                    }
                }
            },
            Err(_) => (None, MessageKind::Other),
        };
        out.push(CapturedMessage {
            line,
            message: parsed.map_err(|e| (first_line, e)),
            direction,
            kind,
            warning,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_capture_with_interleaving() {
        let raw = b"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\nRequire: org.wfa.wfd1.0\r\n\r\nOPTIONS * RTSP/1.0\r\nCSeq: 1\r\nRequire: org.wfa.wfd1.0\r\n\r\nRTSP/1.0 200 OK\r\nCSeq: 1\r\nPublic: org.wfa.wfd1.0, SETUP\r\n\r\n";
        let msgs = decode_capture(raw);
        assert_eq!(msgs.len(), 3);
        assert_eq!(msgs[0].kind, MessageKind::M1);
        assert_eq!(msgs[1].kind, MessageKind::M2);
        assert_eq!(
            msgs[2].kind,
            MessageKind::M2,
            "reply pairs with the latest open CSeq 1"
        );
        assert_eq!(msgs[2].direction, Some(Direction::SourceToSink));
    }

    #[test]
    fn log_lines_with_prefixes_and_bodies() {
        let log = "12:00:01.001 [VirtualSink] INFO: GET_PARAMETER rtsp://localhost/wfd1.0 RTSP/1.0\n\
                   12:00:01.001 [VirtualSink] INFO: CSeq: 2\n\
                   12:00:01.001 [VirtualSink] INFO: Content-Type: text/parameters\n\
                   12:00:01.001 [VirtualSink] INFO: Content-Length: 36\n\
                   12:00:01.001 [VirtualSink] INFO: \n\
                   12:00:01.001 [VirtualSink] INFO: wfd_video_formats\n\
                   12:00:01.001 [VirtualSink] INFO: wfd_audio_codecs\n\
                   unrelated line\n\
                   12:00:01.050 [VirtualSink] INFO: RTSP/1.0 200 OK\n\
                   12:00:01.050 [VirtualSink] INFO: CSeq: 2\n\n";
        // The log's Content-Length (36) is one short of its body (37 bytes): an error, or
        // with `lenient` a warning and the body as found.
        let strict = decode_capture(log.as_bytes());
        let err = strict[0].message.as_ref().unwrap_err().1.to_string();
        assert!(
            err.contains("Content-Length announces 36 body bytes but 37 follow"),
            "{err}"
        );
        let msgs = decode_capture_with(log.as_bytes(), true);
        assert_eq!(msgs.len(), 2, "{msgs:?}");
        assert_eq!(
            msgs[0].warning.as_deref(),
            Some("Content-Length announces 36 body bytes but 37 follow")
        );
        let m3 = msgs[0].message.as_ref().unwrap();
        assert_eq!(msgs[0].kind, MessageKind::M3);
        assert_eq!(m3.params().unwrap().lines.len(), 2);
        assert_eq!(msgs[1].kind, MessageKind::M3);
        assert!(msgs[1].message.is_ok());
    }

    #[test]
    fn escaped_single_line_messages() {
        let log = r"sent: SET_PARAMETER rtsp://localhost/wfd1.0 RTSP/1.0\r\nCSeq: 5\r\nContent-Type: text/parameters\r\nContent-Length: 27\r\n\r\nwfd_trigger_method: SETUP\r\n";
        let msgs = decode_capture(log.as_bytes());
        assert_eq!(msgs.len(), 1);
        assert_eq!(msgs[0].kind, MessageKind::M5);
    }

    #[test]
    fn bad_messages_are_reported_not_fatal() {
        let raw = b"OptionS * RTSP/1.0\r\nCSeq: 0\r\n\r\nOPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n";
        let msgs = decode_capture(raw);
        assert_eq!(msgs.len(), 2);
        assert!(msgs[0].message.is_err());
        assert!(msgs[1].message.is_ok());
    }
}
