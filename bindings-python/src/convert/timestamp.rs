//! Timestamps as `datetime` (UTC), through `datetime.fromisoformat`: one call with one string,
//! where the constructor takes eight arguments under the stable ABI.

use std::fmt::Write as _;

use chrono::{DateTime, Datelike, Timelike, Utc};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;

use super::Converted;

static FROM_ISO_FORMAT: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

fn from_iso_format(py: Python<'_>) -> PyResult<&Bound<'_, PyAny>> {
    Ok(FROM_ISO_FORMAT
        .get_or_try_init(py, || -> PyResult<Py<PyAny>> {
            Ok(py
                .import("datetime")?
                .getattr("datetime")?
                .getattr("fromisoformat")?
                .unbind())
        })?
        .bind(py))
}

/// `text` as a `datetime` if chrono reads it as an RFC 3339 timestamp, else `None`.
pub(super) fn parse<'py>(py: Python<'py>, text: &str) -> Option<Converted<'py>> {
    if is_utc_rfc3339(text) {
        // What chrono writes for a `DateTime<Utc>`: Python reads it alike (both keep whole
        // microseconds). A date Python refuses (February 30) is for chrono to judge below.
        match from_iso_format(py).and_then(|f| f.call1((text,))) {
            Ok(at) => return Some(Ok(at)),
            Err(e) if e.is_instance_of::<PyValueError>(py) => {}
            Err(e) => return Some(Err(e.into())),
        }
    }
    let at = text.parse::<DateTime<Utc>>().ok()?;
    Some(from_chrono(py, &at))
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction]Z`, the fraction of 1 to 9 digits.
fn is_utc_rfc3339(text: &str) -> bool {
    let bytes = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| bytes[range].iter().all(u8::is_ascii_digit);
    if bytes.len() < 20 || !bytes.is_ascii() {
        return false;
    }
    let fixed = digits(0..4)
        && bytes[4] == b'-'
        && digits(5..7)
        && bytes[7] == b'-'
        && digits(8..10)
        && bytes[10] == b'T'
        && digits(11..13)
        && bytes[13] == b':'
        && digits(14..16)
        && bytes[16] == b':'
        && digits(17..19);
    let rest = &bytes[19..];
    let zone = rest.last() == Some(&b'Z');
    let fraction = match &rest[..rest.len() - 1] {
        [] => true,
        [b'.', digits @ ..] => {
            (1..=9).contains(&digits.len()) && digits.iter().all(u8::is_ascii_digit)
        }
        _ => false,
    };
    fixed && zone && fraction
}

/// A parsed timestamp, through its canonical text; a leap second (which `datetime` has not)
/// as the second before, like PyO3's conversion.
fn from_chrono<'py>(py: Python<'py>, at: &DateTime<Utc>) -> Converted<'py> {
    let micros = at.nanosecond() % 1_000_000_000 / 1_000;
    let mut text = String::with_capacity(32);
    write!(
        text,
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{micros:06}+00:00",
        at.year(),
        at.month(),
        at.day(),
        at.hour(),
        at.minute(),
        at.second()
    )
    .expect("writing to a String");
    Ok(from_iso_format(py)?.call1((text,))?)
}
