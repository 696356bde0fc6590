//! RTSP/WFD message framing and codec: any byte stream, split anywhere, frames into messages
//! or errors without panicking, buffers at most the configured maximum, and every message
//! framed re-encodes to bytes that parse back to the same message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use miracast_sim::wfd::message::{Framer, RtspMessage};

const MAX: usize = 64 * 1024;

fuzz_target!(|data: &[u8]| {
    let split = data.first().map_or(0, |b| usize::from(*b)).min(data.len());
    let (a, b) = data.split_at(split);
    let mut framer = Framer::new(MAX);
    for part in [a, b] {
        framer.push(part);
        for _ in 0..64 {
            match framer.next_message() {
                Ok(Some(m)) => {
                    let bytes = m.to_bytes();
                    let again = RtspMessage::parse_one(&bytes).expect("re-encoded message parses");
                    assert_eq!(again.to_bytes(), bytes);
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
    }
    let _ = RtspMessage::parse_one(data);
});
