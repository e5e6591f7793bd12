//! Arguments that name several things (statuses, operation types, groups, sites): one string
//! or a sequence of strings, as Python callers write them (`status="failed"` or
//! `status=["failed", "partial"]`).

use std::ops::Deref;

use pyo3::prelude::*;
use pyo3::types::PyString;

/// One name or several. A `str` is one name, never its characters.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct NameList(Vec<String>);

impl NameList {
    /// The names, in the order given.
    pub(crate) fn into_vec(self) -> Vec<String> {
        self.0
    }
}

impl Deref for NameList {
    type Target = [String];

    fn deref(&self) -> &[String] {
        &self.0
    }
}

impl<'a, 'py> FromPyObject<'a, 'py> for NameList {
    type Error = PyErr;

    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        if let Ok(one) = obj.cast::<PyString>() {
            return Ok(NameList(vec![one.to_str()?.to_string()]));
        }
        obj.extract::<Vec<String>>().map(NameList).map_err(|_| {
            pyo3::exceptions::PyTypeError::new_err(format!(
                "expected a name (str) or a sequence of names, got {}",
                obj.get_type()
                    .name()
                    .map_or_else(|_| "an object".to_string(), |n| n.to_string())
            ))
        })
    }
}
