//! Fuzz target: Go template parsing (`Templates::parse`) of any text, with
//! Helm's whole function map known to the parser (so the fuzzer reaches
//! past "function not defined"). Parsing must end in `Ok` or a
//! `TemplateError`: never a panic, a stack overflow or a hang.
#![no_main]

use std::sync::OnceLock;

use gantry_helm::template::Templates;
use libfuzzer_sys::fuzz_target;

fn base() -> &'static Templates {
    static BASE: OnceLock<Templates> = OnceLock::new();
    BASE.get_or_init(|| Templates::new(gantry_helm::engine::funcs(None)))
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut t = base().clone();
    let _ = t.parse("fuzz", text);
});
