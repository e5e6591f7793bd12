//! What one conversion shares: the Python strings of the field names, the shape of each
//! struct's dict, and a buffer for values serde hands over as `Display`.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::rc::Rc;

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};

use super::{timestamp, Converted};

/// Keys by the address and length of a `&'static str`: two words, no text to hash.
type ByAddress<V> = HashMap<(usize, usize), V, BuildHasherDefault<AddressHasher>>;

fn address(name: &'static str) -> (usize, usize) {
    (name.as_ptr() as usize, name.len())
}

/// A multiply-rotate hash of machine words (the keys are addresses, not attacker input).
#[derive(Default)]
pub(super) struct AddressHasher(u64);

impl Hasher for AddressHasher {
    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.write_usize(usize::from(*byte));
        }
    }

    fn write_usize(&mut self, word: usize) {
        self.0 = (self.0.rotate_left(5) ^ word as u64).wrapping_mul(0x517c_c1b7_2722_0a95);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// The dict of a struct as the first one of its type came out: its field names, their Python
/// strings and a dict with those keys to copy. A copy of a dict with the keys in place costs
/// one allocation; inserting them one by one grows the table several times.
pub(super) struct Template<'py> {
    pub names: Vec<&'static str>,
    pub keys: Vec<Bound<'py, PyString>>,
    pub dict: Bound<'py, PyDict>,
}

/// Templates are kept for structs of at most this many fields (a bit each in a `u64`).
pub(super) const TEMPLATE_FIELDS: usize = 64;

pub(super) struct Session<'py> {
    pub py: Python<'py>,
    names: RefCell<ByAddress<Bound<'py, PyString>>>,
    templates: RefCell<ByAddress<Rc<Template<'py>>>>,
    buffer: RefCell<String>,
    /// The last timestamps converted, by their text: a record often holds one instant
    /// twice (`updated_at` and its metadata's `modified_at`), and `datetime`s are immutable.
    timestamps: RefCell<[(String, Option<Bound<'py, PyAny>>); 2]>,
    /// The entry of `timestamps` to replace next.
    oldest: Cell<usize>,
}

impl<'py> Session<'py> {
    pub fn new(py: Python<'py>) -> Session<'py> {
        Session {
            py,
            names: RefCell::default(),
            templates: RefCell::default(),
            buffer: RefCell::default(),
            timestamps: RefCell::default(),
            oldest: Cell::new(0),
        }
    }

    /// The Python string of a field name (interned: shared with Python's own names).
    pub fn field_name(&self, name: &'static str) -> Bound<'py, PyString> {
        self.names
            .borrow_mut()
            .entry(address(name))
            .or_insert_with(|| PyString::intern(self.py, name))
            .clone()
    }

    /// The template of the struct type `name`, once one of them was converted.
    pub fn template(&self, name: &'static str) -> Option<Rc<Template<'py>>> {
        self.templates.borrow().get(&address(name)).cloned()
    }

    /// Records the fields `names` of struct type `name`, as converted into `dict`.
    pub fn remember(
        &self,
        name: &'static str,
        names: Vec<&'static str>,
        dict: &Bound<'py, PyDict>,
    ) -> PyResult<()> {
        if names.len() > TEMPLATE_FIELDS {
            return Ok(());
        }
        let template = Template {
            keys: names.iter().map(|n| self.field_name(n)).collect(),
            names,
            dict: dict.copy()?,
        };
        self.templates
            .borrow_mut()
            .insert(address(name), Rc::new(template));
        Ok(())
    }

    /// `text` as a `datetime` if it reads as a timestamp (see [`timestamp::parse`]).
    pub fn timestamp(&self, text: &str) -> Option<Converted<'py>> {
        let mut recent = self.timestamps.borrow_mut();
        if let Some((_, Some(at))) = recent.iter().find(|(seen, _)| seen == text) {
            return Some(Ok(at.clone()));
        }
        let at = match timestamp::parse(self.py, text)? {
            Ok(at) => at,
            Err(e) => return Some(Err(e)),
        };
        let oldest = self.oldest.get();
        recent[oldest].0.clear();
        recent[oldest].0.push_str(text);
        recent[oldest].1 = Some(at.clone());
        self.oldest.set(1 - oldest);
        Some(Ok(at))
    }

    /// The buffer for text serde hands over as `Display` (timestamps), taken until
    /// [`Session::give_back`].
    pub fn take_buffer(&self) -> String {
        std::mem::take(&mut *self.buffer.borrow_mut())
    }

    pub fn give_back(&self, mut buffer: String) {
        buffer.clear();
        *self.buffer.borrow_mut() = buffer;
    }
}
