//! Where the Python module finds its state directory, and Python values taken as JSON.

use std::path::PathBuf;

use protector_core::error::Result;
use protector_core::store::StateDir;
use pyo3::prelude::*;

use crate::errors::engine_error;

/// A Python value (a Keystone catalog: lists and dicts) as JSON.
pub(crate) fn json_value(py: Python<'_>, value: &Bound<'_, PyAny>) -> PyResult<serde_json::Value> {
    let text: String = py
        .import("json")?
        .call_method1("dumps", (value,))
        .map_err(|e| {
            pyo3::exceptions::PyTypeError::new_err(format!(
                "catalog must be the token's catalog, a list of dicts as Keystone returns it: {e}"
            ))
        })?
        .extract()?;
    serde_json::from_str(&text).map_err(|e| {
        pyo3::exceptions::PyValueError::new_err(format!("catalog is not valid JSON data: {e}"))
    })
}

fn state_dir(given: Option<PathBuf>) -> Result<PathBuf> {
    Ok(StateDir::resolve(given)?.path().to_path_buf())
}

pub(crate) fn state_dir_or_error(py: Python<'_>, given: Option<PathBuf>) -> PyResult<PathBuf> {
    state_dir(given).map_err(|e| engine_error(py, &e))
}
