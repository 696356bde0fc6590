//! The Wi-Fi Display parameter codec: any body parses or is refused; every typed parameter
//! that parses prints a value that parses back to the same parameter.
#![no_main]

use libfuzzer_sys::fuzz_target;
use miracast_sim::wfd::params::{Parameter, ParameterList};

fuzz_target!(|data: &[u8]| {
    let Ok(list) = ParameterList::parse(data) else {
        return;
    };
    for line in &list.lines {
        if let Ok(p) = Parameter::parse(&line.name, line.value.as_deref()) {
            let value = p.value();
            let again = Parameter::parse(p.name(), value.as_deref()).expect("printed value parses");
            assert_eq!(again, p);
        }
    }
});
