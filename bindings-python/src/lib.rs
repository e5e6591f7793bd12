//! The Python module `protector` (built by maturin as `protector._protector`).
//!
//! This first version exposes the package version and the exception base class that every
//! later binding raises; the engine API arrives with the Python bindings issue. It exports
//! nothing that pretends to work.

use pyo3::create_exception;
use pyo3::prelude::*;

create_exception!(
    _protector,
    ProtectorError,
    pyo3::exceptions::PyException,
    "Base class of every error raised by protector."
);

/// The version of the Rust engine behind the module.
#[pyfunction]
fn engine_version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

/// The `protector._protector` extension module.
#[pymodule]
fn _protector(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("ProtectorError", m.py().get_type::<ProtectorError>())?;
    m.add_function(wrap_pyfunction!(engine_version, m)?)?;
    Ok(())
}
