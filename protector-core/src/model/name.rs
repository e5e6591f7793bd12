//! Names people give to sites, protection groups and FlashArray objects, and the ranges of a
//! replication policy.
//!
//! Names end up in terminals, logs, file names and array object names, so they are printable
//! words: no control characters, no escape sequences, no path separators.

use crate::error::{Error, Result};

/// Longest name accepted, in characters.
pub const MAX_NAME_LENGTH: usize = 255;

/// Checks a name given to a new site, protection group or FlashArray object (`what` says
/// which, e.g. `"protection group"`).
///
/// Accepted: 1 to [`MAX_NAME_LENGTH`] characters; letters and digits (any script), `-`, `_`,
/// `.` and spaces; starting with a letter or a digit and not ending with a space. So
/// `prod-web-app`, `site-a` and `Web tier 2` are names; `../x`, `a/b`, `.hidden`, `-x` and
/// anything with a newline, a tab or an escape character are not.
///
/// # Errors
/// `InvalidInput` naming the first character that is not allowed in its escaped form (`\n`,
/// `\u{1b}`), with the name itself escaped so that the message stays one line.
pub fn check_name(what: &str, name: &str) -> Result<()> {
    let shown = name.escape_debug();
    let rule = "use letters, digits, '-', '_', '.' and spaces, starting with a letter or a digit";
    if name.trim().is_empty() {
        return Err(Error::invalid(format!("{what} name must not be empty")));
    }
    let length = name.chars().count();
    if length > MAX_NAME_LENGTH {
        return Err(Error::invalid(format!(
            "{what} name \"{shown}\" is {length} characters long: at most {MAX_NAME_LENGTH} are allowed"
        )));
    }
    if let Some(bad) = name
        .chars()
        .find(|&c| !(c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | ' ')))
    {
        return Err(Error::invalid(format!(
            "{what} name \"{shown}\" contains the character '{}', which is not allowed: {rule}",
            bad.escape_debug()
        )));
    }
    let first = name.chars().next().unwrap_or(' ');
    if !first.is_alphanumeric() {
        return Err(Error::invalid(format!(
            "{what} name \"{shown}\" starts with '{first}': {rule}"
        )));
    }
    if name.ends_with(' ') {
        return Err(Error::invalid(format!(
            "{what} name \"{shown}\" ends with a space: remove it"
        )));
    }
    Ok(())
}

/// Shortest replication interval of an async policy, in seconds (one minute).
pub const MIN_REPLICATION_INTERVAL_SECS: u64 = 60;

/// Longest replication interval of an async policy, in seconds (one day).
pub const MAX_REPLICATION_INTERVAL_SECS: u64 = 24 * 60 * 60;

/// Largest RPO of an async policy, in minutes (seven days).
pub const MAX_RPO_MINUTES: u64 = 7 * 24 * 60;

/// Checks the schedule of an async replication policy: the interval is between
/// [`MIN_REPLICATION_INTERVAL_SECS`] and [`MAX_REPLICATION_INTERVAL_SECS`], and the RPO is at
/// least one interval (a snapshot every interval cannot hold a shorter RPO) and at most
/// [`MAX_RPO_MINUTES`].
///
/// # Errors
/// `InvalidInput` saying which value is out of range and what the range is.
pub fn check_replication_schedule(interval_secs: u64, rpo_minutes: u64) -> Result<()> {
    if !(MIN_REPLICATION_INTERVAL_SECS..=MAX_REPLICATION_INTERVAL_SECS).contains(&interval_secs) {
        return Err(Error::invalid(format!(
            "replication interval {interval_secs} s is out of range: give {MIN_REPLICATION_INTERVAL_SECS} to {MAX_REPLICATION_INTERVAL_SECS} seconds (one minute to one day)"
        )));
    }
    if rpo_minutes > MAX_RPO_MINUTES {
        return Err(Error::invalid(format!(
            "RPO of {rpo_minutes} minutes is out of range: give at most {MAX_RPO_MINUTES} minutes (seven days)"
        )));
    }
    if rpo_minutes.saturating_mul(60) < interval_secs {
        return Err(Error::invalid(format!(
            "RPO of {rpo_minutes} minutes is shorter than the replication interval of {interval_secs} s: a snapshot every {interval_secs} s cannot hold it; give an RPO of at least {} minutes or a shorter interval",
            interval_secs.div_ceil(60)
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    fn refusal(name: &str) -> String {
        let err = check_name("protection group", name).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
        assert!(!err.message().contains('\n'), "{err}");
        err.message().to_string()
    }

    #[test]
    fn printable_names_are_accepted() {
        for name in [
            "prod-web-app",
            "site-a",
            "site-b-tenant2",
            "pg-prod-web-app",
            "Web tier 2",
            "app_v1.2",
            "café",
            &"a".repeat(MAX_NAME_LENGTH),
        ] {
            assert!(
                check_name("protection group", name).is_ok(),
                "{name:?} refused"
            );
        }
    }

    #[test]
    fn control_characters_are_named_escaped() {
        assert_eq!(
            refusal("web\napp"),
            "protection group name \"web\\napp\" contains the character '\\n', which is not allowed: use letters, digits, '-', '_', '.' and spaces, starting with a letter or a digit"
        );
        assert!(refusal("red\u{1b}[31m").contains("the character '\\u{1b}'"));
        assert!(refusal("tab\there").contains("'\\t'"));
        assert!(refusal("del\u{7f}").contains("'\\u{7f}'"));
        // A right-to-left override reorders what a terminal shows.
        assert!(refusal("abc\u{202e}fed").contains("'\\u{202e}'"));
    }

    #[test]
    fn paths_and_leading_dots_are_refused() {
        assert!(refusal("a/b").contains("the character '/'"));
        assert!(refusal("../etc").contains("the character '/'"));
        assert!(refusal("..").contains("starts with '.'"));
        assert!(refusal(".hidden").contains("starts with '.'"));
        assert!(refusal("-x").contains("starts with '-'"));
        assert!(refusal("a\\b").contains("the character '\\\\'"));
    }

    #[test]
    fn empty_long_and_padded_names_are_refused() {
        assert!(refusal("").contains("must not be empty"));
        assert!(refusal("   ").contains("must not be empty"));
        assert!(refusal(&"a".repeat(MAX_NAME_LENGTH + 1)).contains("256 characters long"));
        assert!(refusal("web ").contains("ends with a space"));
        assert!(refusal(" web").contains("starts with ' '"));
    }

    #[test]
    fn replication_schedule_ranges() {
        assert!(check_replication_schedule(300, 15).is_ok());
        assert!(check_replication_schedule(60, 1).is_ok());
        assert!(check_replication_schedule(86_400, 1440).is_ok());
        assert!(check_replication_schedule(300, MAX_RPO_MINUTES).is_ok());
        let message = |interval, rpo| {
            let err = check_replication_schedule(interval, rpo).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidInput);
            err.message().to_string()
        };
        assert!(message(0, 15).contains("replication interval 0 s is out of range"));
        assert!(message(59, 15).contains("give 60 to 86400 seconds"));
        assert!(message(86_401, 10_000).contains("out of range"));
        assert!(message(300, u64::MAX).contains("RPO of 18446744073709551615 minutes"));
        assert!(message(300, MAX_RPO_MINUTES + 1).contains("at most 10080 minutes"));
        assert!(message(300, 4).contains("at least 5 minutes"));
        assert!(message(301, 5).contains("at least 6 minutes"));
        assert!(message(300, 0).contains("shorter than the replication interval"));
    }
}
