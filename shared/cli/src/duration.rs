//! kubectl's durations (`30s`, `5m`, `1h30m`, `250ms`, bare seconds), bounded at parse time.
//!
//! Every duration flag has a maximum: a wait of "99999999999999999999h" would overflow the clock
//! or be sent to the API server as a Job deadline of 292 billion years. Above the maximum the value
//! is refused at parse time (exit 2), before anything is created.

use std::time::Duration;

/// The largest value any duration flag of the plugins accepts, unless a flag sets a lower one.
pub const MAX: Duration = Duration::from_secs(7 * 24 * 3600);

/// Parses a duration of at most [`MAX`].
pub fn parse(text: &str) -> Result<Duration, String> {
    parse_max(text, MAX)
}

/// Parses a duration of at most 24 hours (waits, timeouts).
pub fn parse_wait(text: &str) -> Result<Duration, String> {
    parse_max(text, Duration::from_secs(24 * 3600))
}

/// Parses a duration and refuses one above `max`.
pub fn parse_max(text: &str, max: Duration) -> Result<Duration, String> {
    let value = parse_unbounded(text)?;
    if value > max {
        return Err(format!("duration {:?} is longer than the maximum of {}", text.trim(), show(max)));
    }
    Ok(value)
}

/// `1h30m`, `90s`, `250ms`: the shortest kubectl-style spelling, for messages.
pub fn show(value: Duration) -> String {
    let secs = value.as_secs();
    if secs == 0 {
        return format!("{}ms", value.as_millis());
    }
    let (d, h, m, s) = (secs / 86400, secs % 86400 / 3600, secs % 3600 / 60, secs % 60);
    let mut out = String::new();
    for (n, unit) in [(d, "d"), (h, "h"), (m, "m"), (s, "s")] {
        if n > 0 {
            out.push_str(&format!("{n}{unit}"));
        }
    }
    out
}

fn parse_unbounded(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("empty duration".into());
    }
    if text.starts_with('-') {
        return Err(format!("duration {text:?} is negative; give a positive one such as 30s or 1h"));
    }
    if text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse::<u64>().map(Duration::from_secs).map_err(|_| format!("duration {text:?} is too long"));
    }
    let mut total_ms: u128 = 0;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(rest.len());
        if digits == 0 {
            return Err(format!("invalid duration {text:?}: expected a number such as 30s, 5m or 1h"));
        }
        let number = &rest[..digits];
        rest = &rest[digits..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let unit_ms: u128 = match unit {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "" => return Err(format!("invalid duration {text:?}: missing unit (s, m, h)")),
            other => return Err(format!("invalid duration {text:?}: unknown unit {other:?} (use ms, s, m, h or d)")),
        };
        total_ms = total_ms
            .checked_add(scaled(number, unit_ms).ok_or_else(|| format!("invalid duration {text:?}"))?)
            .ok_or_else(|| format!("duration {text:?} is too long"))?;
        // Far beyond any maximum: stop before the number grows further.
        if total_ms > u128::from(u64::MAX) {
            return Err(format!("duration {text:?} is too long"));
        }
    }
    let ms = u64::try_from(total_ms).map_err(|_| format!("duration {text:?} is too long"))?;
    Ok(Duration::from_millis(ms))
}

/// `number` (digits, at most one '.') times `unit_ms`, in whole milliseconds, without floats.
fn scaled(number: &str, unit_ms: u128) -> Option<u128> {
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if fraction.contains('.') || (whole.is_empty() && fraction.is_empty()) {
        return None;
    }
    // Anything with more than 30 digits is out of every range; refuse before parsing.
    if whole.len() > 30 {
        return Some(u128::MAX);
    }
    let whole: u128 = if whole.is_empty() { 0 } else { whole.parse().ok()? };
    let mut value = whole.checked_mul(unit_ms)?;
    let mut scale = unit_ms;
    for digit in fraction.bytes().take(12) {
        scale /= 10;
        value = value.checked_add(u128::from(digit - b'0') * scale)?;
    }
    Some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_like_kubectl() {
        assert_eq!(parse("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse("1.5h").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse("12").unwrap(), Duration::from_secs(12));
        assert!(parse("-1h").is_err());
        assert!(parse("1x").is_err());
        assert!(parse("h").is_err());
        assert!(parse("1..5s").is_err());
    }

    /// Issue 12: these panicked ("cannot convert float seconds to Duration") or overflowed.
    #[test]
    fn huge_durations_are_refused_not_panicked_on() {
        for text in [
            "99999999999999999999h",
            "18446744073709551616",
            "1e309s",
            "9999999999999999999999999999999999d",
            "4294967296h",
            "100000000000000000000000000000000000000000000000ms",
        ] {
            let err = parse(text).unwrap_err();
            assert!(err.contains("too long") || err.contains("maximum") || err.contains("invalid"), "{text}: {err}");
        }
        assert!(parse_wait("25h").unwrap_err().contains("maximum of 1d"), "{}", parse_wait("25h").unwrap_err());
        assert_eq!(parse_wait("24h").unwrap(), Duration::from_secs(86400));
    }

    #[test]
    fn show_is_short() {
        assert_eq!(show(Duration::from_secs(5400)), "1h30m");
        assert_eq!(show(Duration::from_millis(250)), "250ms");
        assert_eq!(show(MAX), "7d");
    }
}
