//! The replay-token decoder: any text decodes or is refused with a sentence, never a panic; a
//! decoded token encodes back to a token that decodes to the same thing.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| miracast_sim::props::replay_token(data));
