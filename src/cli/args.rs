//! Value parsers shared by the subcommands' options: step timeouts in seconds and run
//! deadlines with a unit.

use std::time::Duration;

use xmpp_interop::report::record::Verdict;

/// A number of seconds between 0.01 and 3600 (`--timeout`, `--case-timeout`).
pub fn parse_seconds(text: &str) -> Result<Duration, String> {
    let seconds: f64 = text
        .parse()
        .map_err(|_| format!("{text:?} is not a number of seconds"))?;
    if !(0.01..=3600.0).contains(&seconds) {
        return Err(format!("{seconds} s is outside 0.01..=3600"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// A duration such as `90s`, `20m`, `1h` or `1.5h`; a bare number is seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let trimmed = text.trim();
    let (number, unit) = match trimmed
        .char_indices()
        .find(|(_, c)| c.is_ascii_alphabetic())
    {
        Some((at, _)) => trimmed.split_at(at),
        None => (trimmed, "s"),
    };
    let scale = match unit {
        "ms" => 0.001,
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        _ => {
            return Err(format!(
                "{text:?}: unknown unit {unit:?}; expected a number with s, m or h (e.g. 90s, 20m)"
            ));
        }
    };
    let value: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a duration (e.g. 90s, 20m, 1h)"))?;
    let seconds = value * scale;
    if !(0.01..=7.0 * 86_400.0).contains(&seconds) {
        return Err(format!("{text:?} is outside 10ms..=7 days"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// A verdict as `--hide` names it: its matrix label in any case (`skip`, `unsupported`,
/// `not-run`, `xfail`...).
pub fn parse_verdict(name: &str) -> Result<Verdict, String> {
    Verdict::from_name(name).ok_or_else(|| {
        let names: Vec<String> = Verdict::ALL
            .iter()
            .map(|v| v.label().to_ascii_lowercase().replace(' ', "-"))
            .collect();
        format!(
            "{name:?} is no verdict; expected one of {}",
            names.join(", ")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deadline_takes_a_unit_and_a_bare_number_is_seconds() {
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("20m"), Ok(Duration::from_secs(1200)));
        assert_eq!(parse_duration("1.5h"), Ok(Duration::from_secs(5400)));
        assert!(parse_duration("3 weeks").is_err());
        assert!(parse_duration("8000h").is_err());
    }

    #[test]
    fn a_step_timeout_is_seconds_within_bounds() {
        assert_eq!(parse_seconds("2.5"), Ok(Duration::from_millis(2500)));
        assert!(parse_seconds("0").is_err());
        assert!(parse_seconds("ten").is_err());
    }

    #[test]
    fn hide_takes_a_verdict_in_any_case_and_names_the_choices_otherwise() {
        assert_eq!(parse_verdict("skip"), Ok(Verdict::Skip));
        assert_eq!(parse_verdict("NOT-RUN"), Ok(Verdict::NotRun));
        let error = parse_verdict("skipped").unwrap_err();
        assert!(error.contains("skip, error, not-run"), "{error}");
    }
}
