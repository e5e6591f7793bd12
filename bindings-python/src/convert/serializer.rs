//! The serde `Serializer` that builds Python objects: structs and maps as `dict`, sequences
//! and tuples as `list`, enums tagged externally as JSON has them.

use std::fmt::{self, Write as _};
use std::rc::Rc;

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyList, PyString};
use serde::ser::{self, Serialize};

use super::key::KeySerializer;
use super::session::{Session, Template, TEMPLATE_FIELDS};
use super::{is_secret, ConvertError, Converted, Field};

/// Serializes into Python objects; `field` says how a string is read.
pub(super) struct PythonSerializer<'s, 'py> {
    session: &'s Session<'py>,
    field: Field,
}

impl<'s, 'py> PythonSerializer<'s, 'py> {
    pub fn new(session: &'s Session<'py>) -> PythonSerializer<'s, 'py> {
        PythonSerializer {
            session,
            field: Field::Plain,
        }
    }

    fn py(&self) -> Python<'py> {
        self.session.py
    }

    fn nested(&self, field: Field) -> PythonSerializer<'s, 'py> {
        PythonSerializer {
            session: self.session,
            field,
        }
    }

    /// `{variant: value}`, serde's external tagging.
    fn tagged(&self, variant: &'static str, value: Bound<'py, PyAny>) -> Converted<'py> {
        let dict = PyDict::new(self.py());
        if !is_secret(variant) {
            dict.set_item(self.session.field_name(variant), value)?;
        }
        Ok(dict.into_any())
    }
}

impl<'s, 'py> ser::Serializer for PythonSerializer<'s, 'py> {
    type Ok = Bound<'py, PyAny>;
    type Error = ConvertError;
    type SerializeSeq = ListBuilder<'s, 'py>;
    type SerializeTuple = ListBuilder<'s, 'py>;
    type SerializeTupleStruct = ListBuilder<'s, 'py>;
    type SerializeTupleVariant = ListBuilder<'s, 'py>;
    type SerializeMap = DictBuilder<'s, 'py>;
    type SerializeStruct = DictBuilder<'s, 'py>;
    type SerializeStructVariant = DictBuilder<'s, 'py>;

    fn serialize_bool(self, v: bool) -> Converted<'py> {
        Ok(PyBool::new(self.py(), v).to_owned().into_any())
    }

    fn serialize_i8(self, v: i8) -> Converted<'py> {
        self.serialize_i64(v.into())
    }

    fn serialize_i16(self, v: i16) -> Converted<'py> {
        self.serialize_i64(v.into())
    }

    fn serialize_i32(self, v: i32) -> Converted<'py> {
        self.serialize_i64(v.into())
    }

    fn serialize_i64(self, v: i64) -> Converted<'py> {
        Ok(v.into_pyobject(self.py())?.into_any())
    }

    fn serialize_i128(self, v: i128) -> Converted<'py> {
        Ok(v.into_pyobject(self.py())?.into_any())
    }

    fn serialize_u8(self, v: u8) -> Converted<'py> {
        self.serialize_u64(v.into())
    }

    fn serialize_u16(self, v: u16) -> Converted<'py> {
        self.serialize_u64(v.into())
    }

    fn serialize_u32(self, v: u32) -> Converted<'py> {
        self.serialize_u64(v.into())
    }

    fn serialize_u64(self, v: u64) -> Converted<'py> {
        Ok(v.into_pyobject(self.py())?.into_any())
    }

    fn serialize_u128(self, v: u128) -> Converted<'py> {
        Ok(v.into_pyobject(self.py())?.into_any())
    }

    fn serialize_f32(self, v: f32) -> Converted<'py> {
        self.serialize_f64(v.into())
    }

    /// Like JSON, NaN and the infinities become `None`.
    fn serialize_f64(self, v: f64) -> Converted<'py> {
        if v.is_finite() {
            Ok(PyFloat::new(self.py(), v).into_any())
        } else {
            Ok(self.py().None().into_bound(self.py()))
        }
    }

    fn serialize_char(self, v: char) -> Converted<'py> {
        self.serialize_str(v.encode_utf8(&mut [0; 4]))
    }

    fn serialize_str(self, v: &str) -> Converted<'py> {
        if self.field == Field::Timestamp {
            if let Some(at) = self.session.timestamp(v) {
                return at;
            }
        }
        Ok(PyString::new(self.py(), v).into_any())
    }

    /// Text serde has as `Display` (a timestamp), written into the session's buffer rather
    /// than a new `String` each time.
    fn collect_str<T: ?Sized + fmt::Display>(self, value: &T) -> Converted<'py> {
        let session = self.session;
        let mut buffer = session.take_buffer();
        write!(buffer, "{value}").map_err(|_| {
            ConvertError::Unsupported("a value's Display implementation failed".into())
        })?;
        let converted = self.serialize_str(&buffer);
        session.give_back(buffer);
        converted
    }

    /// Like JSON, a list of the byte values.
    fn serialize_bytes(self, v: &[u8]) -> Converted<'py> {
        Ok(PyList::new(self.py(), v)?.into_any())
    }

    fn serialize_none(self) -> Converted<'py> {
        self.serialize_unit()
    }

    fn serialize_some<T: ?Sized + Serialize>(self, value: &T) -> Converted<'py> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Converted<'py> {
        Ok(self.py().None().into_bound(self.py()))
    }

    fn serialize_unit_struct(self, _name: &'static str) -> Converted<'py> {
        self.serialize_unit()
    }

    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Converted<'py> {
        Ok(self.session.field_name(variant).into_any())
    }

    fn serialize_newtype_struct<T: ?Sized + Serialize>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Converted<'py> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Converted<'py> {
        if is_secret(variant) {
            // Dropped like a secret field: not even made into a Python object first.
            return Ok(PyDict::new(self.py()).into_any());
        }
        let inner = value.serialize(self.nested(Field::of(variant)))?;
        self.tagged(variant, inner)
    }

    fn serialize_seq(self, len: Option<usize>) -> Result<ListBuilder<'s, 'py>, ConvertError> {
        Ok(ListBuilder {
            serializer: self.nested(Field::Plain),
            items: Vec::with_capacity(len.unwrap_or(0)),
            variant: None,
        })
    }

    fn serialize_tuple(self, len: usize) -> Result<ListBuilder<'s, 'py>, ConvertError> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        len: usize,
    ) -> Result<ListBuilder<'s, 'py>, ConvertError> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<ListBuilder<'s, 'py>, ConvertError> {
        let mut builder = self.serialize_seq(Some(len))?;
        builder.variant = Some(variant);
        Ok(builder)
    }

    fn serialize_map(self, _len: Option<usize>) -> Result<DictBuilder<'s, 'py>, ConvertError> {
        Ok(DictBuilder {
            dict: PyDict::new(self.py()),
            serializer: self.nested(Field::Plain),
            key: None,
            variant: None,
            shape: None,
        })
    }

    fn serialize_struct(
        self,
        name: &'static str,
        _len: usize,
    ) -> Result<DictBuilder<'s, 'py>, ConvertError> {
        let template = self.session.template(name);
        let dict = match &template {
            Some(template) => template.dict.copy()?,
            None => PyDict::new(self.py()),
        };
        Ok(DictBuilder {
            dict,
            serializer: self.nested(Field::Plain),
            key: None,
            variant: None,
            shape: Some(StructShape {
                name,
                template,
                position: 0,
                set: 0,
                names: Vec::new(),
            }),
        })
    }

    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<DictBuilder<'s, 'py>, ConvertError> {
        let mut builder = self.serialize_struct(variant, len)?;
        builder.variant = Some(variant);
        Ok(builder)
    }
}

/// A sequence, tuple or tuple variant being built: a `list`.
pub(super) struct ListBuilder<'s, 'py> {
    serializer: PythonSerializer<'s, 'py>,
    items: Vec<Bound<'py, PyAny>>,
    /// A tuple variant's name: the list is wrapped as `{variant: list}`.
    variant: Option<&'static str>,
}

impl<'s, 'py> ListBuilder<'s, 'py> {
    fn push<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), ConvertError> {
        let item = value.serialize(self.serializer.nested(Field::Plain))?;
        self.items.push(item);
        Ok(())
    }

    fn finish(self) -> Converted<'py> {
        let list = PyList::new(self.serializer.py(), self.items)?.into_any();
        match self.variant {
            Some(variant) => self.serializer.tagged(variant, list),
            None => Ok(list),
        }
    }
}

impl<'py> ser::SerializeSeq for ListBuilder<'_, 'py> {
    type Ok = Bound<'py, PyAny>;
    type Error = ConvertError;

    fn serialize_element<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), ConvertError> {
        self.push(value)
    }

    fn end(self) -> Converted<'py> {
        self.finish()
    }
}

impl<'py> ser::SerializeTuple for ListBuilder<'_, 'py> {
    type Ok = Bound<'py, PyAny>;
    type Error = ConvertError;

    fn serialize_element<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), ConvertError> {
        self.push(value)
    }

    fn end(self) -> Converted<'py> {
        self.finish()
    }
}

impl<'py> ser::SerializeTupleStruct for ListBuilder<'_, 'py> {
    type Ok = Bound<'py, PyAny>;
    type Error = ConvertError;

    fn serialize_field<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), ConvertError> {
        self.push(value)
    }

    fn end(self) -> Converted<'py> {
        self.finish()
    }
}

impl<'py> ser::SerializeTupleVariant for ListBuilder<'_, 'py> {
    type Ok = Bound<'py, PyAny>;
    type Error = ConvertError;

    fn serialize_field<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), ConvertError> {
        self.push(value)
    }

    fn end(self) -> Converted<'py> {
        self.finish()
    }
}

/// A map, struct or struct variant being built: a `dict` without the secret fields.
pub(super) struct DictBuilder<'s, 'py> {
    dict: Bound<'py, PyDict>,
    serializer: PythonSerializer<'s, 'py>,
    /// A map's key, between `serialize_key` and `serialize_value`.
    key: Option<String>,
    /// A struct variant's name: the dict is wrapped as `{variant: dict}`.
    variant: Option<&'static str>,
    /// A struct's: its fields against the template of its type.
    shape: Option<StructShape<'py>>,
}

/// The fields of a struct being built, against its type's [`Template`]: the dict starts as a
/// copy of the template's and each field replaces a value, in order; a field the template
/// has and this struct does not (`skip_serializing_if`) is removed at the end.
struct StructShape<'py> {
    name: &'static str,
    template: Option<Rc<Template<'py>>>,
    /// The template's next field.
    position: usize,
    /// The template's fields this struct set, a bit each.
    set: u64,
    /// Without a template: the fields, in order, to make one of.
    names: Vec<&'static str>,
}

impl<'py> StructShape<'py> {
    /// The key of field `name`: the template's (its next field, or any other), or the
    /// session's.
    fn key(&mut self, session: &Session<'py>, name: &'static str) -> Bound<'py, PyString> {
        let Some(template) = &self.template else {
            self.names.push(name);
            return session.field_name(name);
        };
        let same = |i: usize| {
            template
                .names
                .get(i)
                .is_some_and(|n| std::ptr::eq(*n, name) || *n == name)
        };
        let found = if same(self.position) {
            Some(self.position)
        } else {
            (0..template.names.len()).find(|i| same(*i))
        };
        match found {
            Some(i) => {
                self.position = i + 1;
                self.set |= 1 << i;
                template.keys[i].clone()
            }
            None => session.field_name(name),
        }
    }

    /// Removes what the template had and this struct did not; records the template of the
    /// first struct of its type.
    fn finish(self, session: &Session<'py>, dict: &Bound<'py, PyDict>) -> PyResult<()> {
        match self.template {
            Some(template) => {
                let fields = template.names.len();
                let all = u64::MAX
                    .checked_shr((TEMPLATE_FIELDS - fields) as u32)
                    .unwrap_or(0);
                if self.set != all {
                    for (i, key) in template.keys.iter().enumerate() {
                        if self.set & (1 << i) == 0 {
                            dict.del_item(key)?;
                        }
                    }
                }
                Ok(())
            }
            None => session.remember(self.name, self.names, dict),
        }
    }
}

impl<'py> DictBuilder<'_, 'py> {
    fn finish(self) -> Converted<'py> {
        if let Some(shape) = self.shape {
            shape.finish(self.serializer.session, &self.dict)?;
        }
        let dict = self.dict.into_any();
        match self.variant {
            Some(variant) => self.serializer.tagged(variant, dict),
            None => Ok(dict),
        }
    }

    fn field<T: ?Sized + Serialize>(
        &mut self,
        name: &'static str,
        value: &T,
    ) -> Result<(), ConvertError> {
        if is_secret(name) {
            return Ok(());
        }
        let value = value.serialize(self.serializer.nested(Field::of(name)))?;
        let session = self.serializer.session;
        let key = match &mut self.shape {
            Some(shape) => shape.key(session, name),
            None => session.field_name(name),
        };
        self.dict.set_item(key, value)?;
        Ok(())
    }
}

impl<'py> ser::SerializeMap for DictBuilder<'_, 'py> {
    type Ok = Bound<'py, PyAny>;
    type Error = ConvertError;

    fn serialize_key<T: ?Sized + Serialize>(&mut self, key: &T) -> Result<(), ConvertError> {
        self.key = Some(key.serialize(KeySerializer)?);
        Ok(())
    }

    fn serialize_value<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), ConvertError> {
        let key = self.key.take().ok_or_else(|| {
            ConvertError::Unsupported("a map value was given before its key".into())
        })?;
        if is_secret(&key) {
            return Ok(());
        }
        let value = value.serialize(self.serializer.nested(Field::of(&key)))?;
        self.dict.set_item(key, value)?;
        Ok(())
    }

    fn end(self) -> Converted<'py> {
        self.finish()
    }
}

impl<'py> ser::SerializeStruct for DictBuilder<'_, 'py> {
    type Ok = Bound<'py, PyAny>;
    type Error = ConvertError;

    fn serialize_field<T: ?Sized + Serialize>(
        &mut self,
        name: &'static str,
        value: &T,
    ) -> Result<(), ConvertError> {
        self.field(name, value)
    }

    fn end(self) -> Converted<'py> {
        self.finish()
    }
}

impl<'py> ser::SerializeStructVariant for DictBuilder<'_, 'py> {
    type Ok = Bound<'py, PyAny>;
    type Error = ConvertError;

    fn serialize_field<T: ?Sized + Serialize>(
        &mut self,
        name: &'static str,
        value: &T,
    ) -> Result<(), ConvertError> {
        self.field(name, value)
    }

    fn end(self) -> Converted<'py> {
        self.finish()
    }
}
