//! Fuzz target: the `--set` grammar, every entry point (`parse`,
//! `parse_set`, `parse_set_string`, `parse_set_json`, `parse_set_file`,
//! `parse_set_literal`), each into a fresh map and then into the map the
//! previous ones built (as Helm's CLI parses one flag after another). Each
//! must end in `Ok` or a `StrvalsError`: never a panic, an overflow or a
//! runaway allocation (`a[99999999]=x`).
#![no_main]

use gantry_helm::value::Value;
use gantry_helm::values::strvals;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(expr) = std::str::from_utf8(data) else { return };
    let read = |path: &str| -> Result<Vec<u8>, String> {
        if path.contains("missing") {
            Err(format!("open {path}: no such file or directory"))
        } else {
            Ok(path.as_bytes().to_vec())
        }
    };
    let _ = strvals::parse(expr);
    let mut acc = Value::map(Default::default());
    type Entry = fn(&str, &mut Value) -> Result<(), strvals::StrvalsError>;
    let entries: [Entry; 4] = [strvals::parse_set, strvals::parse_set_string, strvals::parse_set_json, strvals::parse_set_literal];
    for f in entries {
        let mut fresh = Value::map(Default::default());
        let _ = f(expr, &mut fresh);
        let _ = f(expr, &mut acc);
    }
    let mut fresh = Value::map(Default::default());
    let _ = strvals::parse_set_file(expr, &mut fresh, &read);
    let _ = strvals::parse_set_file(expr, &mut acc, &read);
});
