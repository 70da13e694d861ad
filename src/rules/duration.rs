//! Human durations for `max_age`: `26h`, `7d`, `1d12h`, `90m`, `2w`.

use std::fmt;

/// A whole number of seconds, parsed from and displayed as a human duration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Duration {
    pub seconds: i64,
}

const UNITS: [(&str, i64); 5] = [
    ("w", 604_800),
    ("d", 86_400),
    ("h", 3_600),
    ("m", 60),
    ("s", 1),
];

/// Parses `<number><unit>` terms (units `s`, `m`, `h`, `d`, `w`), at least one, each unit at most once and
/// from largest to smallest. Returns a message that says what is wrong.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let duration = parse_duration_or_zero(text)?;
    if duration.seconds == 0 {
        return Err(format!(
            "`{}` is zero; a duration here must be positive",
            text.trim()
        ));
    }
    Ok(duration)
}

/// [`parse_duration`], zero allowed (`grace = "0s"`: no grace at all).
pub fn parse_duration_or_zero(text: &str) -> Result<Duration, String> {
    let hint = "expected a duration such as `26h`, `7d` or `1d12h` (units: s, m, h, d, w)";
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(format!("empty duration; {hint}"));
    }
    let mut rest = trimmed;
    let mut total: i64 = 0;
    let mut last_unit_index: Option<usize> = None;
    while !rest.is_empty() {
        let digits = rest.chars().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 {
            return Err(format!("`{text}` is not a duration; {hint}"));
        }
        let (number, after) = rest.split_at(digits);
        let after = after.trim_start();
        let value: i64 = number
            .parse()
            .map_err(|_| format!("`{text}`: number `{number}` is too large"))?;
        let unit_len = after
            .chars()
            .take_while(|c| c.is_ascii_alphabetic())
            .count();
        if unit_len == 0 {
            return Err(format!("`{text}`: `{number}` has no unit; {hint}"));
        }
        let (unit, after_unit) = after.split_at(unit_len);
        let Some(index) = UNITS.iter().position(|(name, _)| *name == unit) else {
            return Err(format!("`{text}`: unknown unit `{unit}`; {hint}"));
        };
        if last_unit_index.is_some_and(|last| index <= last) {
            return Err(format!(
                "`{text}`: units must go from largest to smallest, each once; {hint}"
            ));
        }
        last_unit_index = Some(index);
        let term = value
            .checked_mul(UNITS[index].1)
            .ok_or_else(|| format!("`{text}` is too large"))?;
        total = total
            .checked_add(term)
            .ok_or_else(|| format!("`{text}` is too large"))?;
        rest = after_unit;
    }
    // Ten years is far beyond any RPO and keeps arithmetic with timestamps safe.
    if total > 10 * 366 * 86_400 {
        return Err(format!("`{text}` is longer than ten years"));
    }
    Ok(Duration { seconds: total })
}

impl fmt::Display for Duration {
    /// The shortest exact form, largest unit first: `1d2h`, `26h` displays as `1d2h`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", format_seconds(self.seconds))
    }
}

/// Formats a number of seconds for people: `1d2h`, `45m`, `0s`; negative values get a leading `-`.
pub fn format_seconds(seconds: i64) -> String {
    if seconds == 0 {
        return "0s".to_string();
    }
    let mut out = String::new();
    if seconds < 0 {
        out.push('-');
    }
    let mut rest = seconds.unsigned_abs();
    // Weeks are skipped on display: "9d" reads better than "1w2d" in an age column.
    for (name, size) in UNITS.iter().skip(1) {
        let size = size.unsigned_abs();
        if rest >= size {
            out.push_str(&format!("{}{}", rest / size, name));
            rest %= size;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_forms() {
        assert_eq!(parse_duration("26h").map(|d| d.seconds), Ok(26 * 3600));
        assert_eq!(parse_duration("7d").map(|d| d.seconds), Ok(7 * 86_400));
        assert_eq!(parse_duration("1d12h").map(|d| d.seconds), Ok(36 * 3600));
        assert_eq!(parse_duration("2w").map(|d| d.seconds), Ok(14 * 86_400));
        assert_eq!(parse_duration(" 90m ").map(|d| d.seconds), Ok(5400));
        assert_eq!(parse_duration("26 h").map(|d| d.seconds), Ok(26 * 3600));
    }

    #[test]
    fn rejects_with_a_reason() {
        for (input, needle) in [
            ("26 parsecs", "unknown unit"),
            ("26parsecs", "unknown unit"),
            ("1d 12h", "not a duration"),
            ("", "empty"),
            ("h", "not a duration"),
            ("26", "no unit"),
            ("0h", "zero"),
            ("12h1d", "largest to smallest"),
            ("1h1h", "largest to smallest"),
            ("-5h", "not a duration"),
            ("99999999999999999999h", "too large"),
            ("4000d", "ten years"),
        ] {
            let err = parse_duration(input).expect_err(input);
            assert!(err.contains(needle), "{input:?}: {err}");
        }
    }

    #[test]
    fn displays_compactly_and_round_trips() {
        assert_eq!(format_seconds(26 * 3600), "1d2h");
        assert_eq!(format_seconds(-90), "-1m30s");
        assert_eq!(format_seconds(0), "0s");
        for text in ["1d2h", "45m", "3d", "1h1m1s"] {
            let parsed = parse_duration(text).expect(text);
            assert_eq!(parsed.to_string(), text);
        }
    }
}
