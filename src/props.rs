//! Properties every parser keeps on any input, shared by the cargo-fuzz targets in `fuzz/`
//! (libFuzzer, many millions of inputs) and the property tests of the normal test suite
//! (proptest, on stable). Each function takes arbitrary bytes and panics when a property
//! breaks; a panic is a bug to fix.

use crate::explore::token;
use crate::wfd::message::{Framer, RtspMessage};
use crate::wfd::params::{Parameter, ParameterList};

/// The scenario parser and resolver: any text is a scenario or an error located inside the
/// text, and rendering that error never panics and keeps it one diagnostic.
pub fn scenario(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(e) = crate::scenario::parse("fuzz.json", text) {
        assert!(
            e.line <= text.split('\n').count().max(1),
            "line {} of a {}-line text",
            e.line,
            text.split('\n').count()
        );
        let rendered = e.render();
        assert!(rendered.starts_with("fuzz.json:"), "{rendered}");
    }
}

/// The replay-token decoder: any text decodes or is refused with a sentence; a decoded token
/// encodes back to a token that decodes to the same thing.
pub fn replay_token(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(decoded) = token::decode(text) {
        let again = decoded.token.encode();
        let back = token::decode(&again).expect("a re-encoded token decodes");
        assert_eq!(back.token, decoded.token);
        assert_eq!(back.choices, decoded.choices);
    }
}

/// The most a framer in [`rtsp_message`] buffers.
pub const FRAMER_MAX: usize = 64 * 1024;

/// RTSP/WFD framing and the message codec: any byte stream, split anywhere, frames into
/// messages or errors without panicking and never buffers more than the maximum plus one read;
/// every message framed re-encodes to bytes that frame back to the same bytes.
pub fn rtsp_message(data: &[u8]) {
    let split = data.first().map_or(0, |b| usize::from(*b)).min(data.len());
    let (a, b) = data.split_at(split);
    let mut framer = Framer::new(FRAMER_MAX);
    for part in [a, b] {
        framer.push(part);
        for _ in 0..64 {
            match framer.next_message() {
                Ok(Some(m)) => {
                    let bytes = m.to_bytes();
                    let again = RtspMessage::parse_one(&bytes).expect("re-encoded message parses");
                    assert_eq!(
                        String::from_utf8_lossy(&again.to_bytes()),
                        String::from_utf8_lossy(&bytes)
                    );
                    let _ = m.params();
                    let _ = m.session();
                }
                Ok(None) => break,
                Err(_) => {
                    if !framer.skip_line() {
                        break;
                    }
                }
            }
        }
        assert!(framer.buffered() <= FRAMER_MAX + data.len());
    }
    let _ = RtspMessage::parse_one(data);
    for lenient in [false, true] {
        let _ = crate::wfd::capture::decode_capture_with(data, lenient);
    }
}

/// The Wi-Fi Display parameter codec: any body parses or is refused; every typed parameter
/// that parses prints a value that parses back to the same parameter.
pub fn wfd_params(data: &[u8]) {
    let Ok(list) = ParameterList::parse(data) else {
        return;
    };
    for line in &list.lines {
        if let Ok(p) = Parameter::parse(&line.name, line.value.as_deref()) {
            let value = p.value();
            let again =
                Parameter::parse(p.name(), value.as_deref()).expect("a printed value parses");
            assert_eq!(again, p);
        }
    }
}
