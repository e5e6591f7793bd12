//! Plain data into the records of `protector.types`: the enum fields looked up, the other
//! annotated fields converted, the dict set into a new record; as `Record.__init__` does, but
//! on the dicts the serializer just made (no copy) and without a Python-level loop.

use std::collections::HashMap;
use std::sync::Mutex;

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyList, PyString, PyTuple};

/// What `protector.types._record_class` says of each record type, by name.
static CLASSES: Mutex<Option<HashMap<String, Py<PyTuple>>>> = Mutex::new(None);
/// `object.__new__` and `protector.types._set_data` (the `_data` slot's setter).
static MAKE: PyOnceLock<(Py<PyAny>, Py<PyAny>)> = PyOnceLock::new();

/// A record type, ready to make records of.
struct RecordClass<'py> {
    class: Bound<'py, PyAny>,
    /// Enum fields: the name and the members by value.
    enums: Vec<(Bound<'py, PyString>, Bound<'py, PyDict>)>,
    /// Other converted fields: the name and the converter.
    converters: Vec<(Bound<'py, PyString>, Bound<'py, PyAny>)>,
    new: Bound<'py, PyAny>,
    set_data: Bound<'py, PyAny>,
}

/// `data` as records of type `name` (a list of them for a list); `"raw"` and `None` as they
/// are.
pub(super) fn wrap<'py>(
    py: Python<'py>,
    name: &str,
    data: Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    if name == "raw" || data.is_none() {
        return Ok(data);
    }
    let class = RecordClass::named(py, name)?;
    if let Ok(list) = data.cast::<PyList>() {
        for (i, item) in list.iter().enumerate() {
            list.set_item(i, class.record(item)?)?;
        }
        return Ok(data);
    }
    class.record(data)
}

impl<'py> RecordClass<'py> {
    fn named(py: Python<'py>, name: &str) -> PyResult<RecordClass<'py>> {
        let described = {
            let classes = CLASSES.lock().unwrap_or_else(|e| e.into_inner());
            classes
                .as_ref()
                .and_then(|c| c.get(name))
                .map(|d| d.bind(py).clone())
        };
        let described = match described {
            Some(described) => described,
            None => {
                let described = py
                    .import("protector.types")?
                    .getattr("_record_class")?
                    .call1((name,))?
                    .cast_into::<PyTuple>()?;
                CLASSES
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .get_or_insert_with(HashMap::new)
                    .insert(name.to_string(), described.clone().unbind());
                described
            }
        };
        let (class, enums, converters): (Bound<PyAny>, Vec<_>, Vec<_>) = described.extract()?;
        let (new, set_data) = MAKE.get_or_try_init(py, || -> PyResult<_> {
            Ok((
                py.import("builtins")?
                    .getattr("object")?
                    .getattr("__new__")?
                    .unbind(),
                py.import("protector.types")?.getattr("_set_data")?.unbind(),
            ))
        })?;
        Ok(RecordClass {
            class,
            enums,
            converters,
            new: new.bind(py).clone(),
            set_data: set_data.bind(py).clone(),
        })
    }

    fn record(&self, data: Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        let Ok(values) = data.cast::<PyDict>() else {
            // Not the data of a record: let the class say what is wrong.
            return self.class.call1((data,));
        };
        for (field, members) in &self.enums {
            if let Some(value) = values.get_item(field)? {
                match members.get_item(&value) {
                    Ok(Some(member)) => values.set_item(field, member)?,
                    // A value newer than the module stays the `str`; an unhashable one is no
                    // value of the enum either.
                    Ok(None) => {}
                    Err(e) if e.is_instance_of::<PyTypeError>(self.class.py()) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        for (field, convert) in &self.converters {
            if let Some(value) = values.get_item(field)? {
                values.set_item(field, convert.call1((value,))?)?;
            }
        }
        let record = self.new.call1((&self.class,))?;
        self.set_data.call1((&record, values))?;
        Ok(record)
    }
}
