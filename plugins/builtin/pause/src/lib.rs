//! `builtin:pause`: wait a set period, reporting progress — the `pause:
//! {duration: 10m}` step of an Argo Rollouts canary. The wait is a host
//! sleep (no busy loop) and ends cleanly: a pause longer than the stage's
//! deadline fails at once with a hint instead of being killed at the end.

use gantry_sdk::cap::clock;
use gantry_sdk::{Failure, Input, Output, Stage};

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    /// `30s`, `10m`, `1h30m`, `500ms`.
    duration: String,
    /// How often to report progress; default a tenth of the duration.
    #[serde(default)]
    interval: Option<String>,
}

/// Parse `1h30m`, `10m`, `30s`, `250ms` into milliseconds.
fn parse_duration(text: &str) -> Result<u64, String> {
    let s = text.trim();
    if s.is_empty() {
        return Err("empty duration".into());
    }
    let mut total: u64 = 0;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        if digits == 0 {
            return Err(format!("`{text}` is not a duration like `30s`, `10m` or `1h30m`"));
        }
        let n: u64 = rest[..digits].parse().map_err(|_| format!("`{text}`: number too large"))?;
        rest = &rest[digits..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
        let factor = match &rest[..unit_len] {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "" => return Err(format!("`{text}` needs a unit: ms, s, m or h")),
            other => return Err(format!("`{text}`: unknown unit `{other}` (use ms, s, m or h)")),
        };
        total = total.saturating_add(n.saturating_mul(factor));
        rest = &rest[unit_len..];
    }
    Ok(total)
}

struct Pause;

impl Stage for Pause {
    type Settings = Settings;

    fn run(input: Input<Settings>) -> Result<Output, Failure> {
        let total = parse_duration(&input.settings.duration)
            .map_err(|e| Failure::new(format!("with.duration: {e}")))?;
        let step = match &input.settings.interval {
            Some(i) => parse_duration(i).map_err(|e| Failure::new(format!("with.interval: {e}")))?,
            None => (total / 10).max(1),
        }
        .max(1);
        let remaining = clock::remaining_ms();
        if total > remaining {
            return Err(Failure::new(format!(
                "a pause of {} does not fit in the {} ms left before the stage's deadline",
                input.settings.duration, remaining
            ))
            .hint("raise the stage's `timeout:` above the pause duration"));
        }
        let mut waited = 0;
        gantry_sdk::progress("paused", 0, total);
        while waited < total {
            let nap = step.min(total - waited);
            clock::sleep_ms(nap);
            waited += nap;
            gantry_sdk::progress("paused", waited, total);
        }
        Ok(Output::new(format!("paused {}", input.settings.duration)).with("paused-ms", total))
    }
}

gantry_sdk::export_stage!(Pause);

#[cfg(test)]
mod tests {
    use super::parse_duration;

    #[test]
    fn durations_parse_like_go_and_argo() {
        assert_eq!(parse_duration("30s"), Ok(30_000));
        assert_eq!(parse_duration("10m"), Ok(600_000));
        assert_eq!(parse_duration("1h30m"), Ok(5_400_000));
        assert_eq!(parse_duration("250ms"), Ok(250));
        assert!(parse_duration("10").is_err());
        assert!(parse_duration("ten minutes").is_err());
        assert!(parse_duration("5d").is_err());
    }
}
