//! Fuzz target: parse, then execute, any template text with Helm's whole
//! function map, a small data value as dot and tight limits (nesting 50,
//! output 64 KiB). Execution must end in output or a `TemplateError`:
//! never a panic, a stack overflow, an abort, an out-of-memory or a hang.
#![no_main]

use std::sync::OnceLock;

use gantry_helm::template::{Limits, MissingKey, Templates};
use gantry_helm::value::Value;
use libfuzzer_sys::fuzz_target;

fn base() -> &'static (Templates, Value) {
    static BASE: OnceLock<(Templates, Value)> = OnceLock::new();
    BASE.get_or_init(|| {
        let mut t = Templates::new(gantry_helm::engine::funcs(None));
        t.set_limits(Limits { max_depth: 50, max_output: 64 << 10 });
        let data = gantry_helm::values::strvals::parse(
            "Values.name=web,Values.replicas=3,Values.tags[0]=a,Values.tags[1]=b,Values.on=true,Values.port=8080.5,Values.nested.x.y=z,Release.Name=r",
        )
        .expect("the fixed data value parses");
        (t, data)
    })
}

fuzz_target!(|data: &[u8]| {
    // The first byte picks missingkey; the rest is the template.
    let Some((&mode, rest)) = data.split_first() else { return };
    let Ok(text) = std::str::from_utf8(rest) else { return };
    let (base, dot) = base();
    let mut t = base.clone();
    t.set_missing_key(match mode % 3 {
        0 => MissingKey::Default,
        1 => MissingKey::Zero,
        _ => MissingKey::Error,
    });
    // A copy per run: maps are shared references, and a template may `set`
    // on `.Values`; runs must not see each other's changes.
    let Some(dot) = dot.deep_copy(64) else { return };
    if t.parse("fuzz", text).is_ok() {
        let _ = t.execute("fuzz", &dot);
    }
});
