//! The scenario parser and resolver: any text is a scenario or a located error, never a panic;
//! the rendered diagnostic of an error never panics either.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(e) = miracast_sim::scenario::parse("fuzz.json", text) {
        assert!(e.line <= text.lines().count() + 1);
        let _ = e.render();
    }
});
