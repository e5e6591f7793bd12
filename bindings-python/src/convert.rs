//! Engine values to Python: serde's data model straight to `dict`/`list`/`str`/`int`
//! ([`PythonSerializer`]), timestamps to `datetime`, then made into the typed records of
//! `protector.types` (immutable objects with attributes, `str`-valued enums, `to_dict()`).
//!
//! The serializer builds the Python objects as serde walks the value, with no intermediate
//! `serde_json::Value`: a list of a thousand groups costs its Python objects and little else
//! ([`session`]: each struct's dict is copied from a template of its type, field names are
//! Python strings made once per call, equal timestamps share one `datetime`). The data is what
//! `serde_json::to_value` would give (the same rules for enums, options, maps and non-finite
//! floats), secrets dropped, with each dict's keys in field order; [`record`] then makes the
//! records from it without a Python-level loop.

mod key;
mod record;
mod serializer;
mod session;
mod timestamp;

use std::fmt;

use pyo3::prelude::*;
use serde::ser::{self, Serialize};

use crate::errors::engine_error;
use serializer::PythonSerializer;
use session::Session;

/// Fields that hold a timestamp (RFC 3339 in serde's model), given to Python as `datetime`.
const DATETIME_FIELDS: &[&str] = &[
    "at",
    "created_at",
    "updated_at",
    "modified_at",
    "started_at",
    "completed_at",
    "last_failover_at",
    "last_modified",
    "last_sync",
    "last_replicated_at",
    "replicated_at",
    "array_time",
    "commit_deadline",
    "committed_at",
];

/// Fields that hold a secret: never handed to Python (serializing a `Secret` writes its value
/// for the encrypted store).
const SECRET_FIELDS: &[&str] = &["api_token", "password", "token", "secret"];

/// `value` as the record type `record` of `protector.types` (a list of them when `value`
/// is a list; `"raw"` for plain data).
pub fn to_record(py: Python<'_>, record: &str, value: &impl Serialize) -> PyResult<Py<PyAny>> {
    let data = to_python(py, value)?;
    Ok(record::wrap(py, record, data)?.unbind())
}

/// `value` as plain Python data.
pub fn to_python<'py>(py: Python<'py>, value: &impl Serialize) -> PyResult<Bound<'py, PyAny>> {
    serialize(py, value).map_err(|e| match e {
        ConvertError::Python(e) => e,
        ConvertError::Unsupported(message) => engine_error(
            py,
            &protector_core::Error::unexpected(format!(
                "a result could not be converted for Python: {message}"
            )),
        ),
    })
}

fn serialize<'py>(py: Python<'py>, value: &impl Serialize) -> Converted<'py> {
    value.serialize(PythonSerializer::new(&Session::new(py)))
}

/// How the value of a field is converted, by the field's name.
#[derive(Clone, Copy, PartialEq)]
enum Field {
    Plain,
    /// A string that parses as a timestamp becomes a `datetime`.
    Timestamp,
}

impl Field {
    fn of(name: &str) -> Field {
        if DATETIME_FIELDS.contains(&name) {
            Field::Timestamp
        } else {
            Field::Plain
        }
    }
}

fn is_secret(name: &str) -> bool {
    SECRET_FIELDS.contains(&name)
}

#[derive(Debug)]
enum ConvertError {
    Python(PyErr),
    /// Something serde's data model allows that Python data cannot be (a map key that is
    /// not a string, number or boolean), or the value's own `Serialize` refused.
    Unsupported(String),
}

impl fmt::Display for ConvertError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConvertError::Python(e) => write!(f, "{e}"),
            ConvertError::Unsupported(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for ConvertError {}

impl ser::Error for ConvertError {
    fn custom<T: fmt::Display>(message: T) -> Self {
        ConvertError::Unsupported(message.to_string())
    }
}

impl From<std::convert::Infallible> for ConvertError {
    fn from(never: std::convert::Infallible) -> Self {
        match never {}
    }
}

impl From<PyErr> for ConvertError {
    fn from(e: PyErr) -> Self {
        ConvertError::Python(e)
    }
}

type Converted<'py> = Result<Bound<'py, PyAny>, ConvertError>;

#[cfg(test)]
mod tests;
