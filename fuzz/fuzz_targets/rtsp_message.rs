//! RTSP/WFD message framing and codec: any byte stream, split anywhere, frames into messages
//! or errors without panicking, buffers at most the configured maximum, and every message
//! framed re-encodes to bytes that parse back to the same message.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| miracast_sim::props::rtsp_message(data));
