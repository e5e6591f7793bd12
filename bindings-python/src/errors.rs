//! `protector_core::Error` as the Python exception of its kind (`protector.exceptions`), with
//! its kind, retry status, resource, operation id, context and structured hint as attributes.

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyList};
use pyo3::PyErr;

use protector_core::error::{Error, ErrorKind, RetryStatus};

static EXCEPTIONS: PyOnceLock<Py<PyModule>> = PyOnceLock::new();

/// Context keys that name the resource an error is about, most specific first.
const RESOURCE_KEYS: &[&str] = &[
    "server",
    "volume",
    "array_volume",
    "network",
    "object",
    "group",
    "site",
    "array",
    "cloud",
];

/// The class name in `protector.exceptions` of each kind.
pub fn class_name(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::NotFound => "NotFoundError",
        ErrorKind::AlreadyExists => "AlreadyExistsError",
        ErrorKind::Conflict => "ConflictError",
        ErrorKind::PermissionDenied => "PermissionDeniedError",
        ErrorKind::Unauthenticated => "UnauthenticatedError",
        ErrorKind::InvalidInput => "InvalidInputError",
        ErrorKind::ValidationFailed => "ValidationFailedError",
        ErrorKind::Unsupported => "UnsupportedError",
        ErrorKind::RateLimited => "RateLimitedError",
        ErrorKind::Unavailable => "UnavailableError",
        ErrorKind::Timeout => "TimeoutError",
        ErrorKind::OutOfSync => "OutOfSyncError",
        ErrorKind::ConfigInvalid => "ConfigInvalidError",
        _ => "ProtectorError",
    }
}

fn retry_name(retry: RetryStatus) -> &'static str {
    match retry {
        RetryStatus::Permanent => "permanent",
        RetryStatus::Temporary => "temporary",
        RetryStatus::Persistent => "persistent",
    }
}

/// The Python exception for `error`.
pub fn engine_error(py: Python<'_>, error: &Error) -> PyErr {
    match build(py, error) {
        Ok(err) => err,
        // The exceptions module itself failed to load: say so rather than lose the error.
        Err(import_error) => import_error,
    }
}

fn build(py: Python<'_>, error: &Error) -> PyResult<PyErr> {
    let module = EXCEPTIONS.get_or_try_init(py, || -> PyResult<Py<PyModule>> {
        Ok(py.import("protector.exceptions")?.unbind())
    })?;
    let class = module.bind(py).getattr(class_name(error.kind()))?;
    let kwargs = PyDict::new(py);
    kwargs.set_item("kind", error.kind().as_str())?;
    kwargs.set_item("retry", retry_name(error.retry_status()))?;
    let context = PyDict::new(py);
    for (key, value) in error.context() {
        context.set_item(*key, value)?;
    }
    kwargs.set_item("context", &context)?;
    let resource = RESOURCE_KEYS.iter().find_map(|k| error.context_value(k));
    kwargs.set_item("resource", resource)?;
    let operation = error
        .context_value("operation")
        .map(|op| op.strip_prefix("op-").unwrap_or(op).to_string());
    kwargs.set_item("operation_id", operation)?;
    let hint = match error.hint() {
        Some(hint) => {
            let value = serde_json::to_value(hint).unwrap_or(serde_json::Value::Null);
            Some(crate::convert::to_record(py, "raw", &value)?)
        }
        None => None,
    };
    kwargs.set_item("hint", hint)?;
    let findings = PyList::empty(py);
    for finding in error.findings() {
        findings.append(finding.to_string())?;
    }
    kwargs.set_item("findings", findings)?;
    let instance = class.call((error.to_string(),), Some(&kwargs))?;
    Ok(PyErr::from_value(instance))
}

/// A panic's payload as an `unexpected` error: a bug, but the interpreter goes on.
pub fn panic_error(payload: Box<dyn std::any::Any + Send>) -> Error {
    let what = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_string());
    Error::unexpected(format!(
        "protector's engine failed internally ({what}): this is a bug; the operation, if one was running, can be recovered"
    ))
}

/// `ErrorKind` by its stable name (for tests and callers that raise protector's errors).
pub fn kind_from_name(name: &str) -> Option<ErrorKind> {
    [
        ErrorKind::NotFound,
        ErrorKind::AlreadyExists,
        ErrorKind::Conflict,
        ErrorKind::PermissionDenied,
        ErrorKind::Unauthenticated,
        ErrorKind::InvalidInput,
        ErrorKind::ValidationFailed,
        ErrorKind::Unsupported,
        ErrorKind::RateLimited,
        ErrorKind::Unavailable,
        ErrorKind::Timeout,
        ErrorKind::OutOfSync,
        ErrorKind::ConfigInvalid,
        ErrorKind::Unexpected,
    ]
    .into_iter()
    .find(|k| k.as_str() == name)
}
