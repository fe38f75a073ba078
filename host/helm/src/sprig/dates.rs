//! Sprig's date family: `now`, `date`, `dateInZone`/`date_in_zone`,
//! `htmlDate`, `htmlDateInZone`, `dateModify`/`date_modify`,
//! `mustDateModify`/`must_date_modify`, `ago`, `duration`, `durationRound`,
//! `toDate`, `mustToDate`, `unixEpoch`, taking and giving `time.Time`
//! values ([`Value::Time`]) as Sprig's Go functions do: which argument types
//! each accepts, what it falls back to (the current time, a zero duration,
//! UTC for an unknown zone), and Go's layouts, durations and errors, which
//! `gotime.rs` implements. This file only registers and converts.
//!
//! `{{ now }}` prints through `template::fmt`, which should show a
//! `Value::Time` with `sprig::gotime::time_string` (Go's `Time.String`);
//! `toJson`/`toYaml` should write one with `sprig::gotime::rfc3339_nano`.

use crate::func::{arity, string_arg, FuncError, FuncMap};
use crate::value::{IntType, Time, Value};

use super::gotime::{self, Location};

#[cfg(test)]
use super::gotime::time_string;

pub fn register(m: &mut FuncMap) {
    m.add("now", |args| {
        arity("now", args, 0)?;
        Ok(Value::Time(gotime::now()))
    });
    m.add("date", |args| {
        arity("date", args, 2)?;
        Ok(Value::from(date_in_zone(string_arg(args, 0)?, &args[1], "Local")))
    });
    for name in ["dateInZone", "date_in_zone"] {
        m.add(name, move |args| {
            arity(name, args, 3)?;
            let (layout, zone) = (string_arg(args, 0)?, string_arg(args, 2)?);
            Ok(Value::from(date_in_zone(layout, &args[1], zone)))
        });
    }
    m.add("htmlDate", |args| {
        arity("htmlDate", args, 1)?;
        Ok(Value::from(date_in_zone("2006-01-02", &args[0], "Local")))
    });
    m.add("htmlDateInZone", |args| {
        arity("htmlDateInZone", args, 2)?;
        Ok(Value::from(date_in_zone("2006-01-02", &args[0], string_arg(args, 1)?)))
    });
    for name in ["dateModify", "date_modify"] {
        m.add(name, move |args| {
            arity(name, args, 2)?;
            let (d, t) = (string_arg(args, 0)?, time_arg(args, 1)?);
            Ok(Value::Time(match gotime::parse_duration(d) {
                Ok(n) => gotime::add(t, n),
                Err(_) => t.clone(),
            }))
        });
    }
    for name in ["mustDateModify", "must_date_modify"] {
        m.add(name, move |args| {
            arity(name, args, 2)?;
            let (d, t) = (string_arg(args, 0)?, time_arg(args, 1)?);
            let n = gotime::parse_duration(d).map_err(FuncError::call)?;
            Ok(Value::Time(gotime::add(t, n)))
        });
    }
    m.add("ago", |args| {
        arity("ago", args, 1)?;
        let now = gotime::now_unix_nanos();
        let t = match &args[0] {
            Value::Time(t) => t.unix_nanos,
            Value::Int(n, IntType::Int64 | IntType::Int) => i128::from(*n) * 1_000_000_000,
            _ => now,
        };
        let d = gotime::round_duration(gotime::sub(now, t), 1_000_000_000);
        Ok(Value::from(gotime::duration_string(d)))
    });
    m.add("duration", |args| {
        arity("duration", args, 1)?;
        let n = match &args[0] {
            Value::String(s) => parse_int(s),
            Value::Int(n, IntType::Int64) => *n,
            _ => 0,
        };
        Ok(Value::from(gotime::duration_string(n.wrapping_mul(1_000_000_000))))
    });
    m.add("durationRound", |args| {
        arity("durationRound", args, 1)?;
        let d = match &args[0] {
            Value::String(s) => gotime::parse_duration(s).unwrap_or(0),
            Value::Int(n, IntType::Int64) => *n,
            Value::Time(t) => gotime::sub(gotime::now_unix_nanos(), t.unix_nanos),
            _ => 0,
        };
        Ok(Value::from(duration_round(d)))
    });
    m.add("toDate", |args| {
        arity("toDate", args, 2)?;
        let (layout, s) = (string_arg(args, 0)?, string_arg(args, 1)?);
        Ok(Value::Time(gotime::parse(layout, s, gotime::local()).unwrap_or_else(|_| gotime::zero())))
    });
    m.add("mustToDate", |args| {
        arity("mustToDate", args, 2)?;
        let (layout, s) = (string_arg(args, 0)?, string_arg(args, 1)?);
        gotime::parse(layout, s, gotime::local()).map(Value::Time).map_err(FuncError::call)
    });
    m.add("unixEpoch", |args| {
        arity("unixEpoch", args, 1)?;
        Ok(Value::from(gotime::unix(time_arg(args, 0)?).to_string()))
    });
}

/// A `time.Time` parameter.
fn time_arg(args: &[Value], i: usize) -> Result<&Time, FuncError> {
    match args.get(i) {
        Some(Value::Time(t)) => Ok(t),
        Some(other) => Err(super::crypto::wrong_type("time.Time", other)),
        None => Err(FuncError::argument(format!("missing argument {}", i + 1))),
    }
}

/// Sprig's `dateInZone`: a `time.Time`, or seconds since the epoch as an
/// `int`, `int32` or `int64`; anything else means now. An unknown zone is UTC.
fn date_in_zone(layout: &str, date: &Value, zone: &str) -> String {
    let instant = match date {
        Value::Time(t) => t.unix_nanos,
        Value::Int(n, IntType::Int64 | IntType::Int | IntType::Int32) => i128::from(*n) * 1_000_000_000,
        _ => gotime::now_unix_nanos(),
    };
    let loc = gotime::load_location(zone).unwrap_or(Location::Utc);
    gotime::format(&loc.at(instant), layout)
}

/// `strconv.ParseInt(s, 10, 64)` with its error ignored, as Sprig does: 0
/// for bad syntax, the nearest bound when out of range.
fn parse_int(s: &str) -> i64 {
    if let Ok(n) = s.parse::<i64>() {
        return n;
    }
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        return if s.starts_with('-') { i64::MIN } else { i64::MAX };
    }
    0
}

/// Sprig's `durationRound`: the largest whole unit (y = 365d, mo = 30d).
fn duration_round(d: i64) -> String {
    let u = d.unsigned_abs();
    const SECOND: u64 = 1_000_000_000;
    let units: [(u64, &str); 6] = [
        (SECOND * 3600 * 24 * 365, "y"),
        (SECOND * 3600 * 24 * 30, "mo"),
        (SECOND * 3600 * 24, "d"),
        (SECOND * 3600, "h"),
        (SECOND * 60, "m"),
        (SECOND, "s"),
    ];
    for (size, name) in units {
        if u > size {
            return format!("{}{name}", u / size);
        }
    }
    "0s".into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sprig::crypto_testkit::{call, oracle, oracle_each, oracle_env, try_call};

    fn show(v: &Value) -> String {
        match v {
            Value::String(s) => s.to_string(),
            Value::Time(t) => time_string(t),
            other => format!("{other:?}"),
        }
    }

    fn to_date(layout: &str, s: &str) -> Value {
        call("toDate", &[layout.into(), s.into()])
    }

    /// Fixed instants formatted with every layout element, in several
    /// zones, against what Helm prints.
    #[test]
    fn formatting_matches_go() {
        let layouts = [
            "2006-01-02T15:04:05Z07:00",
            "Mon Jan _2 15:04:05 MST 2006",
            "Monday, 02-Jan-06 15:04:05 MST",
            "January 2, 2006 3:04:05.000 PM -0700",
            "Jan 2 '06 at 03:04pm -07 Z07 Z0700 -07:00:00 Z07:00:00 -070000 Z070000",
            "002 __2 _2 2 1 01 4 04 5 05 .9 .999999999 ,000000 .0 .00000000000",
            "06 2006 _2006 Janu Mond MSTX 15h",
            "2006-01-02 15:04:05.999999999 -0700 MST",
            "Jan01 Monday99 .9x 1504",
        ];
        let zones = ["UTC", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe", "Nope/Zone", "Local", ""];
        let instants = ["2024-02-29T23:59:58.123456789Z", "1969-12-31T00:00:00Z", "2001-07-04T12:00:00.5+02:00", "0999-03-01T01:02:03.000000001Z"];
        let mut tpl = String::new();
        let mut ours = String::new();
        for i in instants {
            let t = to_date("2006-01-02T15:04:05Z07:00", i);
            for z in zones {
                for l in layouts {
                    tpl.push_str(&format!("{{{{ dateInZone {l:?} (toDate \"2006-01-02T15:04:05Z07:00\" {i:?}) {z:?} }}}}\n"));
                    ours.push_str(&show(&call("dateInZone", &[l.into(), t.clone(), z.into()])));
                    ours.push('\n');
                }
            }
        }
        // Seconds since the epoch as an int; other types mean now (checked by shape).
        tpl.push_str("{{ date \"2006-01-02 15:04:05\" 86401 }}|{{ htmlDate 1700000000 }}|{{ htmlDateInZone 1700000000 \"Asia/Tokyo\" }}\n");
        ours.push_str(&format!(
            "{}|{}|{}\n",
            show(&call("date", &["2006-01-02 15:04:05".into(), Value::int(86401)])),
            show(&call("htmlDate", &[Value::int(1_700_000_000)])),
            show(&call("htmlDateInZone", &[Value::int(1_700_000_000), "Asia/Tokyo".into()]))
        ));
        let Some(go) = oracle(&tpl, serde_json::json!({})) else { return };
        for (g, o) in go.lines().zip(ours.lines()) {
            assert_eq!(g, o);
        }
        assert_eq!(go, ours);
    }

    #[test]
    fn parsing_matches_go() {
        let cases: &[(&str, &str)] = &[
            ("2006-01-02", "2024-03-05"),
            ("2006-01-02T15:04:05Z07:00", "2024-03-05T10:11:12+05:30"),
            ("2006-01-02T15:04:05Z07:00", "2024-03-05T10:11:12Z"),
            ("2006-01-02 15:04:05.999999999 -0700 MST", "2024-03-05 10:11:12.5 -0700 MST"),
            ("2006-01-02 15:04:05 MST", "2024-03-05 10:11:12 PDT"),
            ("2006-01-02 15:04:05 MST", "2024-03-05 10:11:12 GMT+3"),
            ("2006-01-02 15:04:05 MST", "2024-03-05 10:11:12 UTC"),
            ("Jan _2 2006 3:04PM", "feb  9 2020 12:30AM"),
            ("Monday January 2 2006", "tuesday MARCH 5 2024"),
            ("2006-01-02 15:04:05", "2024-03-05 10:11:12.123"),
            ("2006-01-02 15:04:05.000", "2024-03-05 10:11:12.12"),
            ("2006-01-02 15:04:05,999", "2024-03-05 10:11:12,1234567891"),
            ("2006 002", "2024 060"),
            ("2006 __2", "2023 365"),
            ("2006 002 Jan", "2024 061 Feb"),
            ("06-1-2", "69-1-2"),
            ("06-1-2", "68-12-31"),
            ("2006-01-02", "2023-02-29"),
            ("2006-01-02", "2024-13-01"),
            ("2006-01-02", "2024-03-05 extra"),
            ("2006-01-02", "24-03-05"),
            ("15:04", "24:00"),
            ("15:04:05", "10:60:00"),
            ("2006-01-02 -0700", "2024-03-05 +2500"),
            ("2006-01-02 -07:00", "2024-03-05 0530"),
            ("2006-01-02   15", "2024-03-05 7"),
            ("", ""),
            ("x", "ü\"\\"),
            ("2006 002", "2024 366"),
            ("2006 002", "2023 000"),
            ("é2006", "é2024"),
            ("é2006", "è2024"),
            ("2006 -0700", "2024 é0000"),
            ("2006 -07:00:00", "2024 +01:é0:00"),
            ("2006-01-02 MST", "2024-01-01 ÉST"),
            ("Jan 2006", "Ján 2024"),
            ("06 PM", "24 Pé"),
            ("2006 Z07", "2024 Zé"),
        ];
        let mut tpl = String::new();
        let mut ours = String::new();
        for (layout, value) in cases {
            tpl.push_str(&format!("{{{{ toDate {layout:?} {value:?} }}}}|{{{{ toDate {layout:?} {value:?} | unixEpoch }}}}\n"));
            let t = to_date(layout, value);
            ours.push_str(&format!("{}|{}\n", show(&t), show(&call("unixEpoch", std::slice::from_ref(&t)))));
        }
        let Some(go) = oracle(&tpl, serde_json::json!({})) else { return };
        // Go prints now's monotonic reading; a parsed time has none.
        for (g, o) in go.lines().zip(ours.lines()) {
            assert_eq!(g, o);
        }
        assert_eq!(go, ours);
        // The error words of mustToDate, one render each.
        let templates: Vec<String> = cases.iter().map(|(layout, value)| format!("{{{{ mustToDate {layout:?} {value:?} }}}}")).collect();
        let Some(answers) = oracle_each(&templates) else { return };
        for ((layout, value), go) in cases.iter().zip(answers) {
            let ours = try_call("mustToDate", &[(*layout).into(), (*value).into()]);
            match (go, ours) {
                (Ok(g), Ok(o)) => assert_eq!(g, show(&o)),
                (Err(g), Err(o)) => assert!(g.ends_with(&o.render("mustToDate")), "{g}\n{}", o.render("mustToDate")),
                (g, o) => panic!("{layout:?} {value:?}: Go {g:?}, ours {o:?}"),
            }
        }
    }

    /// Parsing where Local is a real zone: Helm run with TZ set, ours
    /// parsing in that location.
    #[test]
    fn parsing_in_a_local_zone_matches_go() {
        let cases: &[(&str, &str)] = &[
            ("2006-01-02 15:04:05", "2024-03-10 02:30:00"),
            ("2006-01-02 15:04:05", "2024-11-03 01:30:00"),
            ("2006-01-02 15:04:05", "2024-07-01 12:00:00"),
            ("2006-01-02 15:04:05 -0700", "2024-07-01 12:00:00 -0400"),
            ("2006-01-02 15:04:05 -0700", "2024-07-01 12:00:00 -0500"),
            ("2006-01-02 15:04:05 MST", "2024-07-01 12:00:00 EDT"),
            ("2006-01-02 15:04:05 MST", "2024-01-01 12:00:00 EST"),
            ("2006-01-02 15:04:05 MST", "2024-01-01 12:00:00 CET"),
            ("2006-01-02 15:04:05 MST", "2024-01-01 12:00:00 EDT"),
            ("2006-01-02 15:04:05 MST", "2024-07-01 12:00:00 EST"),
            ("2006-01-02 15:04:05 MST", "1800-07-01 12:00:00 LMT"),
            ("2006-01-02 15:04:05 MST", "1943-07-01 12:00:00 EWT"),
            ("2006-01-02 15:04:05 MST", "2024-07-01 12:00:00 UTC"),
        ];
        let loc = gotime::load_location("America/New_York").unwrap();
        let mut tpl = String::new();
        let mut ours = String::new();
        for (layout, value) in cases {
            tpl.push_str(&format!("{{{{ toDate {layout:?} {value:?} }}}}|{{{{ toDate {layout:?} {value:?} | dateModify \"2400h\" }}}}\n"));
            let t = gotime::parse(layout, value, &loc).unwrap();
            // Added in that location (`add` resolves Local; here it is New York).
            let later = loc.at(t.unix_nanos + 2400 * 3_600_000_000_000);
            let later = if t.zone.is_empty() || t.offset != loc.lookup(gotime::unix(&t)).1 { Time { unix_nanos: later.unix_nanos, ..t.clone() } } else { later };
            ours.push_str(&format!("{}|{}\n", time_string(&t), time_string(&later)));
        }
        let Some(Ok(go)) = oracle_env(&tpl, serde_json::json!({}), &[("TZ", "America/New_York")]) else { return };
        assert_eq!(go, ours);
    }

    #[test]
    fn durations_match_go() {
        let strings = ["1h2m3.5s", "-1.5h", "300ms", "1.0000000001s", "0", "+0", "-0", "", ".5m", "1µs", "1μs", "2us", "3ns", "1d", "1", "1h1", ".s", "9223372036854775807ns", "9223372036854775808ns", "2562047h47m16.854775807s", "2562048h", "1.5.5s", "1e3s", "0.000000001ms", "ü"];
        let mut tpl = String::new();
        let mut ours = String::new();
        for s in strings {
            tpl.push_str(&format!("{{{{ durationRound {s:?} }}}}|{{{{ toDate \"2006\" \"2000\" | dateModify {s:?} }}}}|{{{{ duration {s:?} }}}}\n"));
            let t = to_date("2006", "2000");
            ours.push_str(&format!(
                "{}|{}|{}\n",
                show(&call("durationRound", &[s.into()])),
                show(&call("dateModify", &[s.into(), t])),
                show(&call("duration", &[s.into()]))
            ));
        }
        for n in ["95", "-3600", "86400", "9999999999", "abc", "1.5", "9223372036854775807", "-9223372036854775809", "+7"] {
            tpl.push_str(&format!("{{{{ duration {n:?} }}}}\n"));
            ours.push_str(&format!("{}\n", show(&call("duration", &[n.into()]))));
        }
        for n in [0i64, 1, 999, 1000, 1_500_000, 59_999_999_999, 3_600_000_000_000, 90_061_000_000_001, -5_000_000_123, i64::MIN, i64::MAX] {
            tpl.push_str(&format!("{{{{ durationRound (int64 {n}) }}}}|{{{{ duration (int64 {}) }}}}\n", n / 1_000_000_000));
            ours.push_str(&format!("{}|{}\n", show(&call("durationRound", &[Value::int64(n)])), show(&call("duration", &[Value::int64(n / 1_000_000_000)]))));
        }
        // Other types: 0 (an int, not an int64, too).
        tpl.push_str("{{ duration 5 }}|{{ durationRound 5 }}|{{ duration 2.5 }}\n");
        ours.push_str(&format!("{}|{}|{}\n", show(&call("duration", &[Value::int(5)])), show(&call("durationRound", &[Value::int(5)])), show(&call("duration", &[Value::Float(2.5)]))));
        let Some(go) = oracle(&tpl, serde_json::json!({})) else { return };
        for (g, o) in go.lines().zip(ours.lines()) {
            assert_eq!(g, o);
        }
        assert_eq!(go, ours);
        let templates: Vec<String> = strings.iter().map(|s| format!("{{{{ toDate \"2006\" \"2000\" | mustDateModify {s:?} }}}}")).collect();
        let Some(answers) = oracle_each(&templates) else { return };
        for (s, go) in strings.iter().zip(answers) {
            let ours = try_call("mustDateModify", &[(*s).into(), to_date("2006", "2000")]);
            match (go, ours) {
                (Ok(g), Ok(o)) => assert_eq!(g, show(&o)),
                (Err(g), Err(o)) => assert!(g.ends_with(&o.render("mustDateModify")), "{g}\n{}", o.render("mustDateModify")),
                (g, o) => panic!("{s:?}: Go {g:?}, ours {o:?}"),
            }
        }
    }

    #[test]
    fn now_and_ago_have_gos_shape() {
        let Value::Time(t) = call("now", &[]) else { panic!("now is not a time.Time") };
        let wall = gotime::now_unix_nanos();
        assert!((wall - t.unix_nanos).abs() < 60 * 1_000_000_000);
        assert_eq!(call("ago", &[Value::Time(t.clone())]).as_str(), Some("0s"));
        let hour_ago = gotime::add(&t, -3_725_000_000_000);
        assert_eq!(call("ago", &[Value::Time(hour_ago)]).as_str(), Some("1h2m5s"));
        assert_eq!(call("ago", &[Value::Float(1.0)]).as_str(), Some("0s"));
        let unix = gotime::unix(&t);
        assert_eq!(call("unixEpoch", &[Value::Time(t)]).as_str(), Some(unix.to_string().as_str()));
        let Some(go) = oracle("{{ now | date \"2006\" }}|{{ ago 0 | len | lt 0 }}|{{ now | typeOf }}|{{ ago now }}", serde_json::json!({})) else { return };
        let year = gotime::civil(unix).year;
        assert_eq!(go, format!("{year}|true|time.Time|0s"));
    }

    #[test]
    fn argument_types_are_gos() {
        let e = try_call("dateModify", &["1h".into(), "2024".into()]).unwrap_err();
        assert_eq!(e.to_string(), "wrong type for value; expected time.Time; got string");
        let e = try_call("unixEpoch", &[Value::int(5)]).unwrap_err();
        assert_eq!(e.to_string(), "wrong type for value; expected time.Time; got int");
        // Helm's words for `dateModify "1h" .Values.missing`.
        let e = try_call("dateModify", &["1h".into(), Value::Nil]).unwrap_err();
        assert_eq!(e.to_string(), "wrong type for value; expected time.Time; got interface {}");
        // Zero time for what toDate cannot parse.
        assert_eq!(show(&to_date("2006", "x")), "0001-01-01 00:00:00 +0000 UTC");
        assert_eq!(show(&call("unixEpoch", &[to_date("2006", "x")])), "-62135596800");
    }

    #[test]
    fn times_marshal_as_go_json() {
        let values = ["2024-02-29T23:59:58.120Z", "2001-07-04T12:00:00+02:00", "1999-01-01T00:00:00.000000001-03:30"];
        let mut tpl = String::new();
        let mut ours = String::new();
        for v in values {
            tpl.push_str(&format!("{{{{ toDate \"2006-01-02T15:04:05Z07:00\" {v:?} | toJson }}}}\n"));
            let Value::Time(t) = to_date("2006-01-02T15:04:05Z07:00", v) else { unreachable!() };
            ours.push_str(&format!("\"{}\"\n", gotime::rfc3339_nano(&t).unwrap()));
        }
        let Some(go) = oracle(&tpl, serde_json::json!({})) else { return };
        assert_eq!(go, ours);
        let Value::Time(far) = to_date("2006", "2000") else { unreachable!() };
        let far = gotime::add(&far, i64::MAX);
        assert!(gotime::rfc3339_nano(&far).is_ok());
        let ancient = Time { unix_nanos: -70_000_000_000 * 1_000_000_000, offset: 0, zone: "UTC".into() };
        assert_eq!(gotime::rfc3339_nano(&ancient).unwrap_err(), "Time.MarshalJSON: year outside of range [0,9999]");
    }

    /// Random layouts built from Go's elements and some literal text: each
    /// formats a fixed instant in a zone, and the text is parsed back with
    /// the same layout; Go and we must print the same for all of them.
    #[test]
    fn generated_layouts_match_go() {
        const PIECES: &[&str] = &[
            "2006", "06", "01", "1", "Jan", "January", "02", "2", "_2", "002", "__2", "15", "03", "3", "04", "4", "05", "5", "PM", "pm", "MST", "-0700", "-07:00",
            "-07", "Z07:00", "Z0700", "Z07", "-07:00:00", "Z070000", ".000", ".999", ",9", ".0", "Mon", "Monday", " ", "-", ":", "T", "/", "x", "J", "0", "  ",
        ];
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let zones = ["UTC", "America/Sao_Paulo", "Asia/Kathmandu", "Europe/Dublin"];
        let instants = ["2024-02-29T23:59:58.123456789Z", "1987-10-25T01:30:00.5Z", "2038-01-19T03:14:08Z"];
        let mut tpl = String::new();
        let mut ours = String::new();
        for k in 0..240 {
            let n = 1 + (next() % 7) as usize;
            let layout: String = (0..n).map(|_| PIECES[(next() % PIECES.len() as u64) as usize]).collect();
            let (zone, instant) = (zones[k % zones.len()], instants[k % instants.len()]);
            let t = to_date("2006-01-02T15:04:05Z07:00", instant);
            tpl.push_str(&format!(
                "{{{{ $s := dateInZone {layout:?} (toDate \"2006-01-02T15:04:05Z07:00\" {instant:?}) {zone:?} }}}}{{{{ $s }}}}|{{{{ toDate {layout:?} $s }}}}\n"
            ));
            let text = show(&call("dateInZone", &[layout.as_str().into(), t, zone.into()]));
            let back = show(&to_date(&layout, &text));
            ours.push_str(&format!("{text}|{back}\n"));
        }
        let Some(go) = oracle(&tpl, serde_json::json!({})) else { return };
        for ((g, o), l) in go.lines().zip(ours.lines()).zip(tpl.lines()) {
            assert_eq!(g, o, "{l}");
        }
        assert_eq!(go, ours);
    }

    /// Any layout and any text: an answer or Go's error, never a panic.
    #[test]
    fn odd_layouts_and_values_never_crash() {
        let alphabet: Vec<char> = "2006010215040599.,:-+ZTMSTPMpmJanuaryMondayé✓_ \"\\0123456789".chars().collect();
        let mut seed = 0xdead_beef_cafe_f00du64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let t = to_date("2006", "2024");
        for _ in 0..3000 {
            let mut pick = |n: u64| -> String { (0..next() % n).map(|_| alphabet[(next() % alphabet.len() as u64) as usize]).collect() };
            let (layout, value, duration) = (pick(16), pick(24), pick(8));
            let _ = try_call("mustToDate", &[layout.as_str().into(), value.as_str().into()]);
            let _ = call("dateInZone", &[layout.as_str().into(), t.clone(), value.as_str().into()]);
            let _ = try_call("mustDateModify", &[duration.as_str().into(), t.clone()]);
            let _ = call("durationRound", &[duration.as_str().into()]);
        }
    }
}
