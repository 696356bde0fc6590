//! The replay-token decoder: any text decodes or is refused with a sentence, never a panic; a
//! decoded token encodes back to a token that decodes to the same thing.
#![no_main]

use libfuzzer_sys::fuzz_target;
use miracast_sim::explore::token;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(decoded) = token::decode(text) {
        let again = decoded.token.encode();
        let back = token::decode(&again).expect("a re-encoded token decodes");
        assert_eq!(back.token, decoded.token);
    }
});
