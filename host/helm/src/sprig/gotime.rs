//! Go's `time` package as Sprig's date functions need it: the calendar
//! (civil fields of an instant), the clock, zones by name (Go's
//! `time.LoadLocation` over the system zoneinfo, `Local` from `TZ` or
//! /etc/localtime), layouts for formatting and parsing
//! (`2006-01-02T15:04:05Z07:00`), `Duration`'s `String` and
//! `ParseDuration`, and `Time.String`. It must not register template
//! functions: `dates.rs` does.

/// The civil fields of an instant, in UTC or after an offset is applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Civil {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    /// 0 = Sunday.
    pub weekday: u32,
    /// 1-based day of the year.
    pub yday: u32,
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (i64::from(m) + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (the
/// inverse of [`days_from_civil`]). Also `fmt`'s and JSON's time printing.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// The civil fields of `secs` seconds after the epoch.
pub fn civil(secs: i64) -> Civil {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    let jan1 = days_from_civil(year, 1, 1);
    Civil {
        year,
        month,
        day,
        hour: (rem / 3600) as u32,
        minute: (rem / 60 % 60) as u32,
        second: (rem % 60) as u32,
        weekday: (days + 4).rem_euclid(7) as u32,
        yday: (days - jan1 + 1) as u32,
    }
}

/// The wall clock, in nanoseconds since the epoch.
pub fn now_unix_nanos() -> i128 {
    match std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => d.as_nanos() as i128,
        Err(e) => -(e.duration().as_nanos() as i128),
    }
}

use std::sync::{Arc, OnceLock};

use crate::value::Time;

/// A Go `*time.Location`: UTC or a zone from tzdata. (Fixed zones from
/// parsing live in the [`Time`] itself.)
#[derive(Clone, Debug)]
pub enum Location {
    Utc,
    /// The zone, and its zone types (abbreviation, offset) in the file's
    /// order, which Go's parsing of abbreviations searches.
    Zone(jiff::tz::TimeZone, Arc<Vec<(String, i32)>>),
}

/// The directories Go's `LoadLocation` reads zone files from on Unix.
const ZONE_DIRS: &[&str] = &["/usr/share/zoneinfo/", "/usr/share/lib/zoneinfo/", "/usr/lib/locale/TZ/", "/etc/zoneinfo/"];

fn load_file(name: &str, path: &str) -> Option<Location> {
    let data = std::fs::read(path).ok()?;
    let tz = jiff::tz::TimeZone::tzif(name, &data).ok()?;
    Some(Location::Zone(tz, Arc::new(tzif_zone_types(&data).unwrap_or_default())))
}

/// The zone types of a TZif file (the v2+ block when there is one, as Go
/// reads it): each abbreviation and offset, in order.
fn tzif_zone_types(data: &[u8]) -> Option<Vec<(String, i32)>> {
    let header = |at: usize| -> Option<[usize; 6]> {
        let h = data.get(at..at + 44)?;
        if &h[..4] != b"TZif" {
            return None;
        }
        let n = |i: usize| u32::from_be_bytes([h[20 + 4 * i], h[21 + 4 * i], h[22 + 4 * i], h[23 + 4 * i]]) as usize;
        Some([n(0), n(1), n(2), n(3), n(4), n(5)])
    };
    let [isut, isstd, leap, time, types, chars] = header(0)?;
    let (mut at, mut counts, mut time_size) = (0, [isut, isstd, leap, time, types, chars], 4);
    if data.get(4).is_some_and(|&v| v >= b'2') {
        // Skip the 32-bit block to the 64-bit one.
        at = 44 + time * 5 + types * 6 + chars + leap * 8 + isstd + isut;
        counts = header(at)?;
        time_size = 8;
    }
    let [_, _, _, time, types, chars] = counts;
    let start = at + 44 + time * (time_size + 1);
    let infos = data.get(start..start + types * 6)?;
    let abbrevs = data.get(start + types * 6..start + types * 6 + chars)?;
    Some(
        infos
            .chunks(6)
            .map(|t| {
                let offset = i32::from_be_bytes([t[0], t[1], t[2], t[3]]);
                let from = usize::from(t[5]).min(abbrevs.len());
                let end = abbrevs[from..].iter().position(|&c| c == 0).map_or(abbrevs.len(), |p| from + p);
                (String::from_utf8_lossy(&abbrevs[from..end]).into_owned(), offset)
            })
            .collect(),
    )
}

/// Go's `time.Local`: `TZ` unset means /etc/localtime, empty means UTC,
/// otherwise a zone file by path or name; anything unreadable is UTC.
pub fn local() -> &'static Location {
    static LOCAL: OnceLock<Location> = OnceLock::new();
    LOCAL.get_or_init(|| {
        let found = match std::env::var("TZ") {
            Err(_) => load_file("Local", "/etc/localtime"),
            Ok(tz) => {
                let tz = tz.strip_prefix(':').unwrap_or(&tz).to_string();
                if tz.starts_with('/') {
                    load_file(&tz, &tz)
                } else if !tz.is_empty() && tz != "UTC" {
                    ZONE_DIRS.iter().find_map(|d| load_file(&tz, &format!("{d}{tz}")))
                } else {
                    None
                }
            }
        };
        found.unwrap_or(Location::Utc)
    })
}

/// Go's `time.LoadLocation`: None where Go answers an error.
pub fn load_location(name: &str) -> Option<Location> {
    match name {
        "" | "UTC" => return Some(Location::Utc),
        "Local" => return Some(local().clone()),
        _ => {}
    }
    if name.starts_with('/') || name.starts_with('\\') || name.contains("..") {
        return None;
    }
    if let Ok(dir) = std::env::var("ZONEINFO") {
        if !dir.is_empty() {
            if let Some(l) = load_file(name, &format!("{dir}/{name}")) {
                return Some(l);
            }
        }
    }
    ZONE_DIRS.iter().find_map(|d| load_file(name, &format!("{d}{name}")))
}

impl Location {
    /// The zone in effect at `unix` seconds: its abbreviation and offset.
    pub fn lookup(&self, unix: i64) -> (Arc<str>, i32) {
        match self {
            Location::Utc => (Arc::from("UTC"), 0),
            Location::Zone(tz, _) => {
                let ts = jiff::Timestamp::from_second(unix).unwrap_or(if unix < 0 { jiff::Timestamp::MIN } else { jiff::Timestamp::MAX });
                let info = tz.to_offset_info(ts);
                (Arc::from(info.abbreviation()), info.offset().seconds())
            }
        }
    }

    /// Go's `Location.lookupName`: the offset of a zone type called `name`,
    /// preferring one in effect at `unix - offset`.
    fn lookup_name(&self, name: &str, unix: i64) -> Option<i32> {
        // Go's UTC has no zone types to search.
        let Location::Zone(_, types) = self else { return None };
        for (zone, offset) in types.iter() {
            if zone == name && &*self.lookup(unix - i64::from(*offset)).0 == zone.as_str() {
                return Some(self.lookup(unix - i64::from(*offset)).1);
            }
        }
        types.iter().find(|(zone, _)| zone == name).map(|(_, offset)| *offset)
    }

    /// The instant `t` shown in this location (`t.In(loc)`).
    pub fn at(&self, unix_nanos: i128) -> Time {
        let (zone, offset) = self.lookup(unix_nanos.div_euclid(NANOS) as i64);
        Time { unix_nanos, offset, zone }
    }

    /// Go's `time.Date` in this location for civil seconds `local`
    /// (seconds since the epoch as if the wall clock were UTC).
    pub fn time_at_wall(&self, local: i64, nanos: i64) -> Time {
        let (_, mut offset) = self.lookup(local);
        if offset != 0 {
            offset = self.lookup(local - i64::from(offset)).1;
        }
        self.at(i128::from(local - i64::from(offset)) * NANOS + i128::from(nanos))
    }
}

const NANOS: i128 = 1_000_000_000;

/// `time.Now()` in Local.
pub fn now() -> Time {
    local().at(now_unix_nanos())
}

/// Go's zero `time.Time`: January 1, year 1, 00:00:00 UTC.
pub fn zero() -> Time {
    Time { unix_nanos: i128::from(days_from_civil(1, 1, 1)) * 86_400 * NANOS, offset: 0, zone: Arc::from("UTC") }
}

/// `t.Add(d)`: the same location, whose zone may differ at the new
/// instant. A `Time` keeps no location, so one is found: a time whose zone
/// is Local's at its instant is Local's (every `time.Time` Sprig makes is
/// in Local, UTC or a fixed zone), else its zone is fixed.
pub fn add(t: &Time, nanos: i64) -> Time {
    let unix_nanos = t.unix_nanos + i128::from(nanos);
    match location_of(t) {
        Some(loc) => loc.at(unix_nanos),
        None => Time { unix_nanos, ..t.clone() },
    }
}

fn location_of(t: &Time) -> Option<&'static Location> {
    let loc = local();
    let (zone, offset) = loc.lookup(t.unix_nanos.div_euclid(NANOS) as i64);
    (zone == t.zone && offset == t.offset).then_some(loc)
}

/// `t.Unix()`.
pub fn unix(t: &Time) -> i64 {
    t.unix_nanos.div_euclid(NANOS) as i64
}

const LONG_DAYS: [&str; 7] = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];
const LONG_MONTHS: [&str; 12] = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];

/// One element of a Go layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Std {
    LongMonth,
    Month,
    NumMonth,
    ZeroMonth,
    LongWeekDay,
    WeekDay,
    Day,
    UnderDay,
    ZeroDay,
    UnderYearDay,
    ZeroYearDay,
    Hour,
    Hour12,
    ZeroHour12,
    Minute,
    ZeroMinute,
    Second,
    ZeroSecond,
    LongYear,
    Year,
    PM,
    Pm,
    Tz,
    Iso8601Tz,
    Iso8601SecondsTz,
    Iso8601ShortTz,
    Iso8601ColonTz,
    Iso8601ColonSecondsTz,
    NumTz,
    NumSecondsTz,
    NumShortTz,
    NumColonTz,
    NumColonSecondsTz,
    /// `.000` (exactly n digits) with its separator.
    Frac0(usize, u8),
    /// `.999` (trailing zeros trimmed) with its separator.
    Frac9(usize, u8),
}

fn starts_lower(s: &[u8]) -> bool {
    s.first().is_some_and(|c| c.is_ascii_lowercase())
}

/// Go's `nextStdChunk`: the literal prefix, the element, the rest.
fn next_std_chunk(layout: &str) -> (&str, Option<Std>, &str) {
    let l = layout.as_bytes();
    let has = |i: usize, s: &str| l.get(i..i + s.len()) == Some(s.as_bytes());
    for i in 0..l.len() {
        let found: Option<(Std, usize)> = match l[i] {
            b'J' if has(i, "Jan") => {
                if has(i, "January") {
                    Some((Std::LongMonth, 7))
                } else if !starts_lower(&l[i + 3..]) {
                    Some((Std::Month, 3))
                } else {
                    None
                }
            }
            b'M' if has(i, "Mon") => {
                if has(i, "Monday") {
                    Some((Std::LongWeekDay, 6))
                } else if !starts_lower(&l[i + 3..]) {
                    Some((Std::WeekDay, 3))
                } else {
                    None
                }
            }
            b'M' if has(i, "MST") => Some((Std::Tz, 3)),
            b'0' if l.get(i + 1).is_some_and(|c| (b'1'..=b'6').contains(c)) => {
                let std = [Std::ZeroMonth, Std::ZeroDay, Std::ZeroHour12, Std::ZeroMinute, Std::ZeroSecond, Std::Year][usize::from(l[i + 1] - b'1')];
                Some((std, 2))
            }
            b'0' if has(i + 1, "02") => Some((Std::ZeroYearDay, 3)),
            b'1' => Some(if has(i + 1, "5") { (Std::Hour, 2) } else { (Std::NumMonth, 1) }),
            b'2' => Some(if has(i, "2006") { (Std::LongYear, 4) } else { (Std::Day, 1) }),
            b'_' if has(i + 1, "2") => {
                if has(i + 1, "2006") {
                    // `_2006` is a literal `_` and a long year.
                    return (&layout[..i + 1], Some(Std::LongYear), &layout[i + 5..]);
                }
                Some((Std::UnderDay, 2))
            }
            b'_' if has(i + 1, "_2") => Some((Std::UnderYearDay, 3)),
            b'3' => Some((Std::Hour12, 1)),
            b'4' => Some((Std::Minute, 1)),
            b'5' => Some((Std::Second, 1)),
            b'P' if has(i + 1, "M") => Some((Std::PM, 2)),
            b'p' if has(i + 1, "m") => Some((Std::Pm, 2)),
            b'-' => {
                if has(i, "-070000") {
                    Some((Std::NumSecondsTz, 7))
                } else if has(i, "-07:00:00") {
                    Some((Std::NumColonSecondsTz, 9))
                } else if has(i, "-0700") {
                    Some((Std::NumTz, 5))
                } else if has(i, "-07:00") {
                    Some((Std::NumColonTz, 6))
                } else if has(i, "-07") {
                    Some((Std::NumShortTz, 3))
                } else {
                    None
                }
            }
            b'Z' => {
                if has(i, "Z070000") {
                    Some((Std::Iso8601SecondsTz, 7))
                } else if has(i, "Z07:00:00") {
                    Some((Std::Iso8601ColonSecondsTz, 9))
                } else if has(i, "Z0700") {
                    Some((Std::Iso8601Tz, 5))
                } else if has(i, "Z07:00") {
                    Some((Std::Iso8601ColonTz, 6))
                } else if has(i, "Z07") {
                    Some((Std::Iso8601ShortTz, 3))
                } else {
                    None
                }
            }
            c @ (b'.' | b',') if l.get(i + 1).is_some_and(|&d| d == b'0' || d == b'9') => {
                let ch = l[i + 1];
                let mut j = i + 1;
                while j < l.len() && l[j] == ch {
                    j += 1;
                }
                if l.get(j).is_some_and(u8::is_ascii_digit) {
                    None
                } else {
                    let n = j - (i + 1);
                    Some((if ch == b'0' { Std::Frac0(n, c) } else { Std::Frac9(n, c) }, n + 1))
                }
            }
            _ => None,
        };
        if let Some((std, len)) = found {
            return (&layout[..i], Some(std), &layout[i + len..]);
        }
    }
    (layout, None, "")
}

/// Go's `appendInt(b, x, width)`: zero-padded to `width`.
fn pad(out: &mut String, x: i64, width: usize) {
    if x < 0 {
        out.push('-');
    }
    let digits = x.unsigned_abs().to_string();
    for _ in digits.len()..width {
        out.push('0');
    }
    out.push_str(&digits);
}

/// Go's `Time.Format(layout)` of `t` in its own zone.
pub fn format(t: &Time, layout: &str) -> String {
    let secs = t.unix_nanos.div_euclid(NANOS) as i64;
    let nanos = t.unix_nanos.rem_euclid(NANOS) as i64;
    let c = civil(secs.saturating_add(i64::from(t.offset)));
    let mut out = String::with_capacity(layout.len() + 10);
    let mut rest = layout;
    loop {
        let (prefix, std, suffix) = next_std_chunk(rest);
        out.push_str(prefix);
        let Some(std) = std else { break };
        rest = suffix;
        match std {
            Std::Year => pad(&mut out, (c.year % 100).abs(), 2),
            Std::LongYear => pad(&mut out, c.year, 4),
            Std::Month => out.push_str(&LONG_MONTHS[c.month as usize - 1][..3]),
            Std::LongMonth => out.push_str(LONG_MONTHS[c.month as usize - 1]),
            Std::NumMonth => pad(&mut out, i64::from(c.month), 0),
            Std::ZeroMonth => pad(&mut out, i64::from(c.month), 2),
            Std::WeekDay => out.push_str(&LONG_DAYS[c.weekday as usize][..3]),
            Std::LongWeekDay => out.push_str(LONG_DAYS[c.weekday as usize]),
            Std::Day => pad(&mut out, i64::from(c.day), 0),
            Std::UnderDay => {
                if c.day < 10 {
                    out.push(' ');
                }
                pad(&mut out, i64::from(c.day), 0);
            }
            Std::ZeroDay => pad(&mut out, i64::from(c.day), 2),
            Std::UnderYearDay => {
                if c.yday < 100 {
                    out.push(' ');
                    if c.yday < 10 {
                        out.push(' ');
                    }
                }
                pad(&mut out, i64::from(c.yday), 0);
            }
            Std::ZeroYearDay => pad(&mut out, i64::from(c.yday), 3),
            Std::Hour => pad(&mut out, i64::from(c.hour), 2),
            Std::Hour12 | Std::ZeroHour12 => {
                let hr = match c.hour % 12 {
                    0 => 12,
                    h => h,
                };
                pad(&mut out, i64::from(hr), if std == Std::Hour12 { 0 } else { 2 });
            }
            Std::Minute => pad(&mut out, i64::from(c.minute), 0),
            Std::ZeroMinute => pad(&mut out, i64::from(c.minute), 2),
            Std::Second => pad(&mut out, i64::from(c.second), 0),
            Std::ZeroSecond => pad(&mut out, i64::from(c.second), 2),
            Std::PM => out.push_str(if c.hour >= 12 { "PM" } else { "AM" }),
            Std::Pm => out.push_str(if c.hour >= 12 { "pm" } else { "am" }),
            Std::Iso8601Tz
            | Std::Iso8601ColonTz
            | Std::Iso8601SecondsTz
            | Std::Iso8601ShortTz
            | Std::Iso8601ColonSecondsTz
            | Std::NumTz
            | Std::NumColonTz
            | Std::NumSecondsTz
            | Std::NumShortTz
            | Std::NumColonSecondsTz => {
                let iso = matches!(std, Std::Iso8601Tz | Std::Iso8601ColonTz | Std::Iso8601SecondsTz | Std::Iso8601ShortTz | Std::Iso8601ColonSecondsTz);
                if iso && t.offset == 0 {
                    out.push('Z');
                    continue;
                }
                let mut zone = i64::from(t.offset) / 60;
                let mut abs = i64::from(t.offset);
                if zone < 0 {
                    out.push('-');
                    zone = -zone;
                    abs = -abs;
                } else {
                    out.push('+');
                }
                pad(&mut out, zone / 60, 2);
                if matches!(std, Std::Iso8601ColonTz | Std::NumColonTz | Std::Iso8601ColonSecondsTz | Std::NumColonSecondsTz) {
                    out.push(':');
                }
                if !matches!(std, Std::NumShortTz | Std::Iso8601ShortTz) {
                    pad(&mut out, zone % 60, 2);
                }
                if matches!(std, Std::Iso8601SecondsTz | Std::NumSecondsTz | Std::NumColonSecondsTz | Std::Iso8601ColonSecondsTz) {
                    if matches!(std, Std::NumColonSecondsTz | Std::Iso8601ColonSecondsTz) {
                        out.push(':');
                    }
                    pad(&mut out, abs % 60, 2);
                }
            }
            Std::Tz => {
                if !t.zone.is_empty() {
                    out.push_str(&t.zone);
                } else {
                    let mut zone = i64::from(t.offset) / 60;
                    if zone < 0 {
                        out.push('-');
                        zone = -zone;
                    } else {
                        out.push('+');
                    }
                    pad(&mut out, zone / 60, 2);
                    pad(&mut out, zone % 60, 2);
                }
            }
            Std::Frac0(n, sep) | Std::Frac9(n, sep) => {
                let trim = matches!(std, Std::Frac9(..));
                if trim && (n == 0 || nanos == 0) {
                    continue;
                }
                let mut digits = format!("{nanos:09}");
                digits.truncate(n.min(9));
                if trim {
                    let kept = digits.trim_end_matches('0');
                    if kept.is_empty() {
                        continue;
                    }
                    digits = kept.to_string();
                }
                out.push(sep as char);
                out.push_str(&digits);
            }
        }
    }
    out
}

/// `t.String()` without the monotonic clock reading Go appends to `now`'s
/// (`m=+0.0123`): a `Time` does not carry one.
pub fn time_string(t: &Time) -> String {
    format(t, "2006-01-02 15:04:05.999999999 -0700 MST")
}

/// Go's `Time.MarshalJSON` (and so `toJson`/`toYaml` of a time): RFC 3339
/// with nanoseconds, for years 0 to 9999 only.
pub fn rfc3339_nano(t: &Time) -> Result<String, String> {
    let year = civil((t.unix_nanos.div_euclid(NANOS) as i64).saturating_add(i64::from(t.offset))).year;
    if !(0..=9999).contains(&year) {
        return Err("Time.MarshalJSON: year outside of range [0,9999]".into());
    }
    Ok(format(t, "2006-01-02T15:04:05.999999999Z07:00"))
}

/// Go's `time.quote`: ASCII printable as is (`"` and `\\` escaped), other
/// bytes as `\xNN`.
pub fn quote(s: &str) -> String {
    quote_bytes(s.as_bytes())
}

/// [`quote`] of bytes that may end or start inside a character: a byte
/// that is not part of a valid character is one `\xNN`, as Go ranges it.
fn quote_bytes(b: &[u8]) -> String {
    let mut out = String::from("\"");
    let mut i = 0;
    while i < b.len() {
        let width = match b[i] {
            0x00..=0x7f => 1,
            0xc0..=0xdf => 2,
            0xe0..=0xef => 3,
            0xf0..=0xf7 => 4,
            _ => 0,
        };
        let valid = width > 0 && b.get(i..i + width).is_some_and(|c| std::str::from_utf8(c).is_ok());
        let n = if valid { width } else { 1 };
        let c = b[i];
        if n == 1 && (0x20..0x80).contains(&c) {
            if c == b'"' || c == b'\\' {
                out.push('\\');
            }
            out.push(c as char);
        } else {
            for x in &b[i..i + n] {
                out.push_str(&format!("\\x{x:02x}"));
            }
        }
        i += n;
    }
    out.push('"');
    out
}

/// Go's `Duration.String()`.
pub fn duration_string(d: i64) -> String {
    let neg = d < 0;
    let mut u = d.unsigned_abs();
    let mut out = String::new();
    let frac = |u: u64, prec: u32| -> (String, u64) {
        let p = 10u64.pow(prec);
        let f = u % p;
        if f == 0 {
            return (String::new(), u / p);
        }
        let s = format!("{f:0width$}", width = prec as usize);
        (format!(".{}", s.trim_end_matches('0')), u / p)
    };
    if u < 1_000_000_000 {
        let (prec, unit) = match u {
            0 => return "0s".into(),
            1..=999 => (0, "ns"),
            1_000..=999_999 => (3, "µs"),
            _ => (6, "ms"),
        };
        let (f, whole) = frac(u, prec);
        out.push_str(&format!("{whole}{f}{unit}"));
    } else {
        let (f, secs) = frac(u, 9);
        u = secs;
        let s = format!("{}{f}s", u % 60);
        u /= 60;
        if u > 0 {
            let m = u % 60;
            u /= 60;
            if u > 0 {
                out.push_str(&format!("{u}h"));
            }
            out.push_str(&format!("{m}m"));
        }
        out.push_str(&s);
    }
    if neg {
        out.insert(0, '-');
    }
    out
}

/// Go's `time.ParseDuration`, with its error words.
pub fn parse_duration(orig: &str) -> Result<i64, String> {
    let invalid = || format!("time: invalid duration {}", quote(orig));
    let mut s = orig.as_bytes();
    let mut neg = false;
    if let Some(&c) = s.first() {
        if c == b'-' || c == b'+' {
            neg = c == b'-';
            s = &s[1..];
        }
    }
    if s == b"0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err(invalid());
    }
    const LIMIT: u64 = 1 << 63;
    let mut d: u64 = 0;
    while !s.is_empty() {
        if !(s[0] == b'.' || s[0].is_ascii_digit()) {
            return Err(invalid());
        }
        // [0-9]*
        let mut v: u64 = 0;
        let mut i = 0;
        while i < s.len() && s[i].is_ascii_digit() {
            if v > LIMIT / 10 {
                return Err(invalid());
            }
            v = v * 10 + u64::from(s[i] - b'0');
            if v > LIMIT {
                return Err(invalid());
            }
            i += 1;
        }
        let pre = i > 0;
        s = &s[i..];
        // (\.[0-9]*)?
        let (mut f, mut scale, mut post) = (0u64, 1f64, false);
        if s.first() == Some(&b'.') {
            s = &s[1..];
            let mut overflow = false;
            let mut i = 0;
            while i < s.len() && s[i].is_ascii_digit() {
                if !overflow {
                    if f > (LIMIT - 1) / 10 {
                        overflow = true;
                    } else {
                        let y = f * 10 + u64::from(s[i] - b'0');
                        if y > LIMIT {
                            overflow = true;
                        } else {
                            f = y;
                            scale *= 10.0;
                        }
                    }
                }
                i += 1;
            }
            post = i > 0;
            s = &s[i..];
        }
        if !pre && !post {
            return Err(invalid());
        }
        let i = s.iter().position(|&c| c == b'.' || c.is_ascii_digit()).unwrap_or(s.len());
        if i == 0 {
            return Err(format!("time: missing unit in duration {}", quote(orig)));
        }
        let unit_bytes = &s[..i];
        s = &s[i..];
        let unit_name = String::from_utf8_lossy(unit_bytes);
        let unit: u64 = match unit_bytes {
            b"ns" => 1,
            b"us" => 1_000,
            b"\xc2\xb5s" | b"\xce\xbcs" => 1_000,
            b"ms" => 1_000_000,
            b"s" => 1_000_000_000,
            b"m" => 60_000_000_000,
            b"h" => 3_600_000_000_000,
            _ => return Err(format!("time: unknown unit {} in duration {}", quote(&unit_name), quote(orig))),
        };
        if v > LIMIT / unit {
            return Err(invalid());
        }
        v *= unit;
        if f > 0 {
            v += (f as f64 * (unit as f64 / scale)) as u64;
            if v > LIMIT {
                return Err(invalid());
            }
        }
        d += v;
        if d > LIMIT {
            return Err(invalid());
        }
    }
    if neg {
        return Ok((d as i64).wrapping_neg());
    }
    if d > LIMIT - 1 {
        return Err(invalid());
    }
    Ok(d as i64)
}

/// Go's `Duration.Round(m)`.
pub fn round_duration(d: i64, m: i64) -> i64 {
    if m <= 0 {
        return d;
    }
    let less_than_half = |x: i64, y: i64| (x as u64).wrapping_add(x as u64) < y as u64;
    let mut r = d % m;
    if d < 0 {
        r = -r;
        if less_than_half(r, m) {
            return d + r;
        }
        return d.checked_sub(m - r).unwrap_or(i64::MIN);
    }
    if less_than_half(r, m) {
        return d - r;
    }
    d.checked_add(m - r).unwrap_or(i64::MAX)
}

/// `t.Sub(u)`, saturating as Go's does.
pub fn sub(t: i128, u: i128) -> i64 {
    (t - u).clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

fn parse_error(layout: &str, value: &str, layout_elem: &str, value_elem: &str, message: &str) -> String {
    parse_error_at(layout, value, layout_elem, value_elem.as_bytes(), message)
}

fn parse_error_at(layout: &str, value: &str, layout_elem: &str, value_elem: &[u8], message: &str) -> String {
    if message.is_empty() {
        format!("parsing time {} as {}: cannot parse {} as {}", quote(value), quote(layout), quote_bytes(value_elem), quote(layout_elem))
    } else {
        format!("parsing time {}{message}", quote(value))
    }
}

/// Go's `time.leadingInt`, returning the value and the rest.
fn leading_int(s: &str) -> Option<(u64, &str)> {
    let mut x: u64 = 0;
    let mut i = 0;
    for &c in s.as_bytes() {
        if !c.is_ascii_digit() {
            break;
        }
        if x > (1 << 63) / 10 {
            return None;
        }
        x = x * 10 + u64::from(c - b'0');
        if x > 1 << 63 {
            return None;
        }
        i += 1;
    }
    Some((x, &s[i..]))
}

/// Go's `time.atoi`: an optional sign, then digits only.
fn atoi(s: &str) -> Option<i64> {
    let (neg, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let (q, rem) = leading_int(digits)?;
    if !rem.is_empty() {
        return None;
    }
    let x = q as i64;
    Some(if neg { x.wrapping_neg() } else { x })
}

fn is_digit(s: &str, i: usize) -> bool {
    s.as_bytes().get(i).is_some_and(u8::is_ascii_digit)
}

fn getnum(s: &str, fixed: bool) -> Option<(i64, &str)> {
    if !is_digit(s, 0) {
        return None;
    }
    let b = s.as_bytes();
    if !is_digit(s, 1) {
        if fixed {
            return None;
        }
        return Some((i64::from(b[0] - b'0'), &s[1..]));
    }
    Some((i64::from(b[0] - b'0') * 10 + i64::from(b[1] - b'0'), &s[2..]))
}

fn getnum3(s: &str, fixed: bool) -> Option<(i64, &str)> {
    let mut n = 0i64;
    let mut i = 0;
    while i < 3 && is_digit(s, i) {
        n = n * 10 + i64::from(s.as_bytes()[i] - b'0');
        i += 1;
    }
    if i == 0 || fixed && i != 3 {
        return None;
    }
    Some((n, &s[i..]))
}

/// Case-insensitive (ASCII) prefix lookup in a name table.
fn lookup_name<'a>(table: &[&str], value: &'a str) -> Option<(usize, &'a str)> {
    for (i, name) in table.iter().enumerate() {
        if let Some(head) = value.get(..name.len()) {
            if head.eq_ignore_ascii_case(name) {
                return Some((i, &value[name.len()..]));
            }
        }
    }
    None
}

/// Go's `skip`: the layout's literal text must be next in the value (a
/// space matches any run of spaces).
fn skip<'a>(value: &'a str, prefix: &str) -> Result<&'a str, &'a [u8]> {
    let (v, p) = (value.as_bytes(), prefix.as_bytes());
    let (mut i, mut j) = (0, 0);
    while j < p.len() {
        if p[j] == b' ' {
            if i < v.len() && v[i] != b' ' {
                return Err(&v[i..]);
            }
            while j < p.len() && p[j] == b' ' {
                j += 1;
            }
            while i < v.len() && v[i] == b' ' {
                i += 1;
            }
            continue;
        }
        // Bytes, as Go compares them: a mismatch may fall inside a character.
        if i >= v.len() || v[i] != p[j] {
            return Err(&v[i..]);
        }
        i += 1;
        j += 1;
    }
    // The whole (valid UTF-8) prefix matched, so `i` ends a character.
    Ok(value.get(i..).unwrap_or_default())
}

fn parse_nanoseconds(value: &str, nbytes: usize) -> Result<i64, Option<&'static str>> {
    if !matches!(value.as_bytes().first(), Some(b'.' | b',')) {
        return Err(None);
    }
    let nbytes = nbytes.min(10);
    let ns = atoi(value.get(1..nbytes).ok_or(None)?).ok_or(None)?;
    if ns < 0 {
        return Err(Some("fractional second"));
    }
    Ok(ns * 10i64.pow((10 - nbytes) as u32))
}

fn parse_signed_offset(value: &str) -> usize {
    if !matches!(value.as_bytes().first(), Some(b'-' | b'+')) {
        return 0;
    }
    match leading_int(&value[1..]) {
        Some((x, rem)) if rem.len() != value.len() - 1 && x <= 23 => value.len() - rem.len(),
        _ => 0,
    }
}

/// Go's `parseTimeZone`: how long the zone abbreviation at the front is.
fn parse_time_zone(value: &str) -> Option<usize> {
    let b = value.as_bytes();
    if b.len() < 3 {
        return None;
    }
    if value.starts_with("ChST") || value.starts_with("MeST") {
        return Some(4);
    }
    if let Some(rest) = value.strip_prefix("GMT") {
        return Some(if rest.is_empty() { 3 } else { 3 + parse_signed_offset(rest) });
    }
    if b[0] == b'+' || b[0] == b'-' {
        let n = parse_signed_offset(value);
        return (n > 0).then_some(n);
    }
    let upper = b.iter().take(6).take_while(|c| c.is_ascii_uppercase()).count();
    match upper {
        5 if b[4] == b'T' => Some(5),
        4 if b[3] == b'T' || value.starts_with("WITA") => Some(4),
        3 => Some(3),
        _ => None,
    }
}

fn days_in(month: i64, year: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Go's `time.ParseInLocation(layout, value, loc)`, with Go's errors.
pub fn parse(layout: &str, value_in: &str, loc: &Location) -> Result<Time, String> {
    let (alayout, avalue) = (layout, value_in);
    let mut layout = layout;
    let mut value = value_in;
    let (mut am, mut pm) = (false, false);
    let (mut year, mut month, mut day, mut yday) = (0i64, -1i64, -1i64, -1i64);
    let (mut hour, mut min, mut sec, mut nsec) = (0i64, 0i64, 0i64, 0i64);
    let mut utc = false;
    let mut zone_offset: Option<i64> = None;
    let mut zone_name = "";
    loop {
        let (prefix, std, suffix) = next_std_chunk(layout);
        let stdstr = &layout[prefix.len()..layout.len() - suffix.len()];
        value = skip(value, prefix).map_err(|v| parse_error_at(alayout, avalue, prefix, v, ""))?;
        let Some(std) = std else {
            if !value.is_empty() {
                return Err(parse_error(alayout, avalue, "", value, &format!(": extra text: {}", quote(value))));
            }
            break;
        };
        layout = suffix;
        let hold = value;
        let mut range_err: Option<&str> = None;
        let ok: Option<()> = (|| {
            match std {
                Std::Year => {
                    let p = value.get(..2)?;
                    value = value.get(2..)?;
                    year = atoi(p)?;
                    year += if year >= 69 { 1900 } else { 2000 };
                }
                Std::LongYear => {
                    if value.len() < 4 || !is_digit(value, 0) {
                        return None;
                    }
                    let p = value.get(..4)?;
                    value = &value[4..];
                    year = atoi(p)?;
                }
                Std::Month => {
                    let short: Vec<&str> = LONG_MONTHS.iter().map(|m| &m[..3]).collect();
                    let (m, rest) = lookup_name(&short, value)?;
                    month = m as i64 + 1;
                    value = rest;
                }
                Std::LongMonth => {
                    let (m, rest) = lookup_name(&LONG_MONTHS, value)?;
                    month = m as i64 + 1;
                    value = rest;
                }
                Std::NumMonth | Std::ZeroMonth => {
                    let (m, rest) = getnum(value, std == Std::ZeroMonth)?;
                    month = m;
                    value = rest;
                    if !(1..=12).contains(&month) {
                        range_err = Some("month");
                    }
                }
                Std::WeekDay => {
                    let short: Vec<&str> = LONG_DAYS.iter().map(|d| &d[..3]).collect();
                    value = lookup_name(&short, value)?.1;
                }
                Std::LongWeekDay => value = lookup_name(&LONG_DAYS, value)?.1,
                Std::Day | Std::UnderDay | Std::ZeroDay => {
                    if std == Std::UnderDay && value.starts_with(' ') {
                        value = &value[1..];
                    }
                    let (d, rest) = getnum(value, std == Std::ZeroDay)?;
                    day = d;
                    value = rest;
                }
                Std::UnderYearDay | Std::ZeroYearDay => {
                    for _ in 0..2 {
                        if std == Std::UnderYearDay && value.starts_with(' ') {
                            value = &value[1..];
                        }
                    }
                    let (d, rest) = getnum3(value, std == Std::ZeroYearDay)?;
                    yday = d;
                    value = rest;
                }
                Std::Hour => {
                    let (h, rest) = getnum(value, false)?;
                    hour = h;
                    value = rest;
                    if !(0..24).contains(&hour) {
                        range_err = Some("hour");
                    }
                }
                Std::Hour12 | Std::ZeroHour12 => {
                    let (h, rest) = getnum(value, std == Std::ZeroHour12)?;
                    hour = h;
                    value = rest;
                    if !(0..=12).contains(&hour) {
                        range_err = Some("hour");
                    }
                }
                Std::Minute | Std::ZeroMinute => {
                    let (m, rest) = getnum(value, std == Std::ZeroMinute)?;
                    min = m;
                    value = rest;
                    if !(0..60).contains(&min) {
                        range_err = Some("minute");
                    }
                }
                Std::Second | Std::ZeroSecond => {
                    let (s, rest) = getnum(value, std == Std::ZeroSecond)?;
                    sec = s;
                    value = rest;
                    if !(0..60).contains(&sec) {
                        range_err = Some("second");
                        return Some(());
                    }
                    // A fraction in the value that the layout does not name.
                    if value.len() >= 2 && matches!(value.as_bytes()[0], b'.' | b',') && is_digit(value, 1) {
                        if matches!(next_std_chunk(layout).1, Some(Std::Frac0(..) | Std::Frac9(..))) {
                            return Some(());
                        }
                        let mut n = 2;
                        while is_digit(value, n) {
                            n += 1;
                        }
                        match parse_nanoseconds(value, n) {
                            Ok(ns) => nsec = ns,
                            Err(Some(r)) => range_err = Some(r),
                            Err(None) => return None,
                        }
                        value = &value[n..];
                    }
                }
                Std::PM | Std::Pm => {
                    let p = value.get(..2)?;
                    value = value.get(2..)?;
                    match (std, p) {
                        (Std::PM, "PM") | (Std::Pm, "pm") => pm = true,
                        (Std::PM, "AM") | (Std::Pm, "am") => am = true,
                        _ => return None,
                    }
                }
                Std::Iso8601Tz
                | Std::Iso8601ShortTz
                | Std::Iso8601ColonTz
                | Std::Iso8601SecondsTz
                | Std::Iso8601ColonSecondsTz
                | Std::NumTz
                | Std::NumShortTz
                | Std::NumColonTz
                | Std::NumSecondsTz
                | Std::NumColonSecondsTz => {
                    let iso = matches!(std, Std::Iso8601Tz | Std::Iso8601ShortTz | Std::Iso8601ColonTz | Std::Iso8601SecondsTz | Std::Iso8601ColonSecondsTz);
                    if iso && value.starts_with('Z') {
                        value = &value[1..];
                        utc = true;
                        return Some(());
                    }
                    let b = value.as_bytes();
                    let (sign, h, m, s, rest) = match std {
                        Std::Iso8601ColonTz | Std::NumColonTz => {
                            if b.len() < 6 || b[3] != b':' {
                                return None;
                            }
                            (value.get(..1)?, value.get(1..3)?, value.get(4..6)?, "00", value.get(6..)?)
                        }
                        Std::NumShortTz | Std::Iso8601ShortTz => {
                            if b.len() < 3 {
                                return None;
                            }
                            (value.get(..1)?, value.get(1..3)?, "00", "00", value.get(3..)?)
                        }
                        Std::Iso8601ColonSecondsTz | Std::NumColonSecondsTz => {
                            if b.len() < 9 || b[3] != b':' || b[6] != b':' {
                                return None;
                            }
                            (value.get(..1)?, value.get(1..3)?, value.get(4..6)?, value.get(7..9)?, value.get(9..)?)
                        }
                        Std::Iso8601SecondsTz | Std::NumSecondsTz => {
                            if b.len() < 7 {
                                return None;
                            }
                            (value.get(..1)?, value.get(1..3)?, value.get(3..5)?, value.get(5..7)?, value.get(7..)?)
                        }
                        _ => {
                            if b.len() < 5 {
                                return None;
                            }
                            (value.get(..1)?, value.get(1..3)?, value.get(3..5)?, "00", value.get(5..)?)
                        }
                    };
                    value = rest;
                    let hr = getnum(h, true)?.0;
                    let mm = getnum(m, true)?.0;
                    let ss = getnum(s, true)?.0;
                    if hr > 24 {
                        range_err = Some("time zone offset hour");
                    }
                    if mm > 60 {
                        range_err = Some("time zone offset minute");
                    }
                    if ss > 60 {
                        range_err = Some("time zone offset second");
                    }
                    let off = (hr * 60 + mm) * 60 + ss;
                    zone_offset = Some(match sign {
                        "+" => off,
                        "-" => -off,
                        _ => return None,
                    });
                }
                Std::Tz => {
                    if value.starts_with("UTC") {
                        utc = true;
                        value = &value[3..];
                        return Some(());
                    }
                    let n = parse_time_zone(value)?;
                    zone_name = &value[..n];
                    value = &value[n..];
                }
                Std::Frac0(n, _) => {
                    let ndigit = 1 + n;
                    if value.len() < ndigit {
                        return None;
                    }
                    match parse_nanoseconds(value, ndigit) {
                        Ok(ns) => nsec = ns,
                        Err(Some(r)) => range_err = Some(r),
                        Err(None) => return None,
                    }
                    value = value.get(ndigit..)?;
                }
                Std::Frac9(..) => {
                    let b = value.as_bytes();
                    if b.len() < 2 || !matches!(b[0], b'.' | b',') || !b[1].is_ascii_digit() {
                        return Some(());
                    }
                    let mut i = 0;
                    while i + 1 < b.len() && b[i + 1].is_ascii_digit() {
                        i += 1;
                    }
                    match parse_nanoseconds(value, 1 + i) {
                        Ok(ns) => nsec = ns,
                        Err(Some(r)) => range_err = Some(r),
                        Err(None) => return None,
                    }
                    value = &value[1 + i..];
                }
            }
            Some(())
        })();
        if let Some(r) = range_err {
            return Err(parse_error(alayout, avalue, stdstr, value, &format!(": {r} out of range")));
        }
        if ok.is_none() {
            return Err(parse_error(alayout, avalue, stdstr, hold, ""));
        }
    }
    if pm && hour < 12 {
        hour += 12;
    } else if am && hour == 12 {
        hour = 0;
    }
    if yday >= 0 {
        let leap = days_in(2, year) == 29;
        let (mut m, mut d) = (0i64, 0i64);
        if leap {
            if yday == 31 + 29 {
                m = 2;
                d = 29;
            } else if yday > 31 + 29 {
                yday -= 1;
            }
        }
        if !(1..=365).contains(&yday) {
            return Err(parse_error(alayout, avalue, "", value, ": day-of-year out of range"));
        }
        if m == 0 {
            const BEFORE: [i64; 13] = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334, 365];
            m = (yday - 1) / 31 + 1;
            if BEFORE[m as usize] < yday {
                m += 1;
            }
            d = yday - BEFORE[m as usize - 1];
        }
        if month >= 0 && month != m {
            return Err(parse_error(alayout, avalue, "", value, ": day-of-year does not match month"));
        }
        month = m;
        if day >= 0 && day != d {
            return Err(parse_error(alayout, avalue, "", value, ": day-of-year does not match day"));
        }
        day = d;
    } else {
        if month < 0 {
            month = 1;
        }
        if day < 0 {
            day = 1;
        }
    }
    if day < 1 || day > days_in(month, year) {
        return Err(parse_error(alayout, avalue, "", value, ": day out of range"));
    }
    let wall = days_from_civil(year, month as u32, day as u32) * 86_400 + hour * 3600 + min * 60 + sec;
    if utc {
        return Ok(Location::Utc.at(i128::from(wall) * NANOS + i128::from(nsec)));
    }
    if let Some(off) = zone_offset {
        let unix = wall - off;
        let (name, offset) = loc.lookup(unix);
        let t = i128::from(unix) * NANOS + i128::from(nsec);
        if i64::from(offset) == off && (zone_name.is_empty() || &*name == zone_name) {
            return Ok(loc.at(t));
        }
        return Ok(Time { unix_nanos: t, offset: off as i32, zone: Arc::from(zone_name) });
    }
    if !zone_name.is_empty() {
        if let Some(off) = loc.lookup_name(zone_name, wall) {
            return Ok(loc.at(i128::from(wall - i64::from(off)) * NANOS + i128::from(nsec)));
        }
        let mut off = 0i64;
        if zone_name.len() > 3 && zone_name.starts_with("GMT") {
            off = atoi(&zone_name[3..]).unwrap_or(0) * 3600;
        }
        return Ok(Time { unix_nanos: i128::from(wall) * NANOS + i128::from(nsec), offset: off as i32, zone: Arc::from(zone_name) });
    }
    Ok(loc.time_at_wall(wall, nsec))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates_round_trip() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(civil_from_days(days_from_civil(2000, 2, 29)), (2000, 2, 29));
        assert_eq!(civil_from_days(days_from_civil(0, 1, 1)), (0, 1, 1));
        assert_eq!(civil_from_days(days_from_civil(-1, 12, 31) + 1), (0, 1, 1));
        for d in (-1_000_000..1_000_000).step_by(997) {
            let (y, m, dd) = civil_from_days(d);
            assert_eq!(days_from_civil(y, m, dd), d, "{y}-{m}-{dd}");
        }
    }
}
