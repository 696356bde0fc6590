//! The Wi-Fi Display parameter codec: any body parses or is refused; every typed parameter
//! that parses prints a value that parses back to the same parameter.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| miracast_sim::props::wfd_params(data));
