//! `engine_calls!`: the blocking call and its `_async` twin of every `Protector` method, from
//! one definition each (used by `protector.rs`, where the names it expands to are in scope).

/// Declares each engine call twice: `name` (blocking, GIL released) and `name_async`.
macro_rules! engine_calls {
    ({ $($extra:item)* } $(
        $(#[doc = $doc:literal])*
        fn $name:ident / $name_async:ident ($($arg:ident : $ty:ty),*) signature ($($sig:tt)*)
            -> $convert:expr, |$engine:ident| $body:expr;
    )*) => {
        #[pymethods]
        impl PyProtector {
            $($extra)*
        $(
            $(#[doc = $doc])*
            #[pyo3(signature = ($($sig)*))]
            // The Python signature (keyword arguments) decides the arity.
            #[allow(clippy::too_many_arguments)]
            fn $name(&self, py: Python<'_>, $($arg: $ty),*) -> PyResult<Py<PyAny>> {
                let $engine = self.engine();
                let result = block_on(py, detached(guarded(async move { $body })))?;
                finish(py, result, $convert)
            }

            $(#[doc = $doc])*
            ///
            /// Awaitable twin of the blocking call.
            #[pyo3(signature = ($($sig)*))]
            #[allow(clippy::too_many_arguments)]
            fn $name_async<'py>(&self, py: Python<'py>, $($arg: $ty),*) -> PyResult<Bound<'py, PyAny>> {
                let $engine = self.engine();
                awaitable(py, async move {
                    let result = detached(guarded(async move { $body })).await;
                    Python::attach(|py| finish(py, result, $convert))
                })
            }
        )* }
    };
}
