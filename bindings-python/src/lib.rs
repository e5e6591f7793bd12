//! The Python module `protector` (built by maturin as `protector._protector`).
//!
//! `protector.Protector` drives the engine of protector-core: blocking calls that release the
//! GIL and `_async` twins, on one lazily created, fork-aware runtime ([`runtime`]). Results
//! become the typed records of `protector.types`; errors the exception of their kind in
//! `protector.exceptions` ([`errors`]). The bindings parse, call and convert: no logic of
//! their own.

#[macro_use]
mod calls;
mod convert;
mod errors;
mod evidence;
mod hooks;
mod locations;
mod names;
mod operation;
mod protector;
mod runtime;
mod views;

use pyo3::prelude::*;

/// The version of the Rust engine behind the module.
#[pyfunction]
fn engine_version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

/// Raises the exception of error kind `kind` (its stable name, such as `not_found`) with
/// `message`: how tests and callers see the mapping of every kind.
#[pyfunction]
fn _raise_error(py: Python<'_>, kind: &str, message: &str) -> PyResult<()> {
    let Some(kind) = errors::kind_from_name(kind) else {
        return Err(pyo3::exceptions::PyValueError::new_err(format!(
            "'{kind}' is not an error kind of protector"
        )));
    };
    Err(errors::engine_error(
        py,
        &protector_core::Error::new(kind, message.to_string())
            .with_context("operation", "op-00000000-0000-0000-0000-000000000000")
            .with_context("group", "g"),
    ))
}

/// A panic inside the engine: how tests see that one becomes an exception.
#[pyfunction]
fn _panic(py: Python<'_>) -> PyResult<()> {
    let result = runtime::block_on(py, async {
        futures::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(async {
            panic!("a deliberate panic")
        }))
        .await
    })?;
    match result {
        Ok(()) => Ok(()),
        Err(payload) => Err(errors::engine_error(py, &errors::panic_error(payload))),
    }
}

/// The `protector._protector` extension module.
#[pymodule(gil_used = false)]
fn _protector(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<protector::PyProtector>()?;
    m.add_class::<operation::OperationHandle>()?;
    m.add_class::<operation::ProgressIterator>()?;
    m.add_function(wrap_pyfunction!(engine_version, m)?)?;
    m.add_function(wrap_pyfunction!(_raise_error, m)?)?;
    m.add_function(wrap_pyfunction!(_panic, m)?)?;
    views::register(m)?;
    // How many groups a site failover runs at once unless told otherwise.
    m.add(
        "DEFAULT_SITE_FAILOVER_CONCURRENCY",
        protector_core::engine::DEFAULT_SITE_FAILOVER_CONCURRENCY,
    )?;
    // The engine's own classification of statuses, for `protector.types`.
    m.add(
        "_GROUP_STATUSES_IN_FLIGHT",
        protector_core::model::GroupStatus::ALL
            .iter()
            .filter(|s| s.is_in_flight())
            .map(|s| s.as_str())
            .collect::<Vec<_>>(),
    )?;
    m.add(
        "_OPERATION_STATUSES_TERMINAL",
        protector_core::model::OperationStatus::ALL
            .iter()
            .filter(|s| s.is_terminal())
            .map(|s| s.as_str())
            .collect::<Vec<_>>(),
    )?;
    Ok(())
}
