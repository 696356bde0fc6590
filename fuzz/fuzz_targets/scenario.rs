//! The scenario parser and resolver: any text is a scenario or a located error, never a panic;
//! the rendered diagnostic of an error never panics either.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| miracast_sim::props::scenario(data));
