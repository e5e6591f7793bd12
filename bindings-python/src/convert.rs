//! Engine values to Python: serde's data model to `dict`/`list`/`str`/`int`, timestamps to
//! `datetime`, then wrapped into the typed records of `protector.types` (immutable objects
//! with attributes, `str`-valued enums, `to_dict()`).

use chrono::{DateTime, Utc};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyList};
use serde::Serialize;
use serde_json::Value;

use crate::errors::engine_error;

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
];

/// Fields that hold a secret: never handed to Python (serializing a `Secret` writes its value
/// for the encrypted store).
const SECRET_FIELDS: &[&str] = &["api_token", "password", "token", "secret"];

static WRAP: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// `value` as the record type `record` of `protector.types` (a list of them when `value`
/// is a list; `"raw"` for plain data).
pub fn to_record(py: Python<'_>, record: &str, value: &impl Serialize) -> PyResult<Py<PyAny>> {
    let value = serde_json::to_value(value).map_err(|e| {
        engine_error(
            py,
            &protector_core::Error::unexpected(format!(
                "a result could not be converted for Python: {e}"
            )),
        )
    })?;
    let data = to_python(py, &value, None)?;
    let wrap = WRAP.get_or_try_init(py, || -> PyResult<Py<PyAny>> {
        Ok(py.import("protector.types")?.getattr("_wrap")?.unbind())
    })?;
    Ok(wrap.bind(py).call1((record, data))?.unbind())
}

fn to_python(py: Python<'_>, value: &Value, key: Option<&str>) -> PyResult<Py<PyAny>> {
    Ok(match value {
        Value::Null => py.None(),
        Value::Bool(b) => b.into_pyobject(py)?.to_owned().into_any().unbind(),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                i.into_pyobject(py)?.into_any().unbind()
            } else if let Some(u) = n.as_u64() {
                u.into_pyobject(py)?.into_any().unbind()
            } else {
                n.as_f64()
                    .unwrap_or(f64::NAN)
                    .into_pyobject(py)?
                    .into_any()
                    .unbind()
            }
        }
        Value::String(s) => match key {
            Some(k) if DATETIME_FIELDS.contains(&k) => match s.parse::<DateTime<Utc>>() {
                Ok(at) => at.into_pyobject(py)?.into_any().unbind(),
                Err(_) => s.into_pyobject(py)?.into_any().unbind(),
            },
            _ => s.into_pyobject(py)?.into_any().unbind(),
        },
        Value::Array(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(to_python(py, item, None)?)?;
            }
            list.into_any().unbind()
        }
        Value::Object(fields) => {
            let dict = PyDict::new(py);
            for (k, v) in fields {
                if SECRET_FIELDS.contains(&k.as_str()) {
                    continue;
                }
                dict.set_item(k, to_python(py, v, Some(k))?)?;
            }
            dict.into_any().unbind()
        }
    })
}
