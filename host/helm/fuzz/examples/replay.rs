//! Replays fuzz inputs (files named on the command line) through what the
//! fuzz targets run and prints each result or error, with its time: for
//! reading a crash, timeout or OOM artifact as text. `--strvals` replays
//! through the `--set` entry points instead of the template executor.
//! `cargo run --release --example replay -- [--strvals] FILE…`

use std::time::Instant;

use gantry_helm::template::{Limits, MissingKey, Templates};
use gantry_helm::values::strvals;

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let set = args.first().is_some_and(|a| a == "--strvals");
    if set {
        args.remove(0);
    }
    let mut t = Templates::new(gantry_helm::engine::funcs(None));
    t.set_limits(Limits { max_depth: 50, max_output: 64 << 10 });
    let dot = strvals::parse("Values.name=web,Values.replicas=3,Values.tags[0]=a,Values.tags[1]=b,Values.on=true,Values.port=8080.5,Values.nested.x.y=z,Release.Name=r")
        .unwrap_or_else(|e| panic!("the fixed data value: {e}"));
    for path in args {
        let data = match std::fs::read(&path) {
            Ok(d) => d,
            Err(e) => {
                println!("{path}: {e}");
                continue;
            }
        };
        let t0 = Instant::now();
        if set {
            let text = String::from_utf8_lossy(&data);
            let out = strvals::parse(&text).map(|v| format!("{v:?}")).map_err(|e| e.message);
            println!("{path} ({:?}): {text:?}\n  {out:?}", t0.elapsed());
            continue;
        }
        let Some((&mode, rest)) = data.split_first() else { continue };
        let text = String::from_utf8_lossy(rest);
        let mut t = t.clone();
        t.set_missing_key(match mode % 3 {
            0 => MissingKey::Default,
            1 => MissingKey::Zero,
            _ => MissingKey::Error,
        });
        let out = t.parse("fuzz", &text).and_then(|()| t.execute("fuzz", &dot)).map_err(|e| e.message);
        let shown = match &out {
            Ok(s) if s.len() > 300 => format!("Ok({} bytes: {:?}…)", s.len(), &s[..s.floor_char_boundary(300)]),
            Ok(s) => format!("Ok({s:?})"),
            Err(e) => format!("Err({:?})", &e[..e.floor_char_boundary(600)]),
        };
        println!("{path} ({:?}): {:?}\n  {shown}", t0.elapsed(), &text[..text.floor_char_boundary(200)]);
    }
}
