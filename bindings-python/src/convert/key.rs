//! Map keys: the `str` JSON would make of a key.

use serde::ser::{self, Serialize};

use super::ConvertError;

/// A map key as the `str` JSON would make of it: strings, numbers, booleans, unit variants.
pub(super) struct KeySerializer;

fn key_unsupported(what: &str) -> ConvertError {
    ConvertError::Unsupported(format!("a map key is {what}, not a string"))
}

impl ser::Serializer for KeySerializer {
    type Ok = String;
    type Error = ConvertError;
    type SerializeSeq = ser::Impossible<String, ConvertError>;
    type SerializeTuple = ser::Impossible<String, ConvertError>;
    type SerializeTupleStruct = ser::Impossible<String, ConvertError>;
    type SerializeTupleVariant = ser::Impossible<String, ConvertError>;
    type SerializeMap = ser::Impossible<String, ConvertError>;
    type SerializeStruct = ser::Impossible<String, ConvertError>;
    type SerializeStructVariant = ser::Impossible<String, ConvertError>;

    fn serialize_bool(self, v: bool) -> Result<String, ConvertError> {
        Ok(v.to_string())
    }

    fn serialize_i8(self, v: i8) -> Result<String, ConvertError> {
        Ok(v.to_string())
    }

    fn serialize_i16(self, v: i16) -> Result<String, ConvertError> {
        Ok(v.to_string())
    }

    fn serialize_i32(self, v: i32) -> Result<String, ConvertError> {
        Ok(v.to_string())
    }

    fn serialize_i64(self, v: i64) -> Result<String, ConvertError> {
        Ok(v.to_string())
    }

    fn serialize_i128(self, v: i128) -> Result<String, ConvertError> {
        Ok(v.to_string())
    }

    fn serialize_u8(self, v: u8) -> Result<String, ConvertError> {
        Ok(v.to_string())
    }

    fn serialize_u16(self, v: u16) -> Result<String, ConvertError> {
        Ok(v.to_string())
    }

    fn serialize_u32(self, v: u32) -> Result<String, ConvertError> {
        Ok(v.to_string())
    }

    fn serialize_u64(self, v: u64) -> Result<String, ConvertError> {
        Ok(v.to_string())
    }

    fn serialize_u128(self, v: u128) -> Result<String, ConvertError> {
        Ok(v.to_string())
    }

    fn serialize_f32(self, _v: f32) -> Result<String, ConvertError> {
        Err(key_unsupported("a float"))
    }

    fn serialize_f64(self, _v: f64) -> Result<String, ConvertError> {
        Err(key_unsupported("a float"))
    }

    fn serialize_char(self, v: char) -> Result<String, ConvertError> {
        Ok(v.to_string())
    }

    fn serialize_str(self, v: &str) -> Result<String, ConvertError> {
        Ok(v.to_string())
    }

    fn serialize_bytes(self, _v: &[u8]) -> Result<String, ConvertError> {
        Err(key_unsupported("bytes"))
    }

    fn serialize_none(self) -> Result<String, ConvertError> {
        Err(key_unsupported("None"))
    }

    fn serialize_some<T: ?Sized + Serialize>(self, _value: &T) -> Result<String, ConvertError> {
        Err(key_unsupported("an option"))
    }

    fn serialize_unit(self) -> Result<String, ConvertError> {
        Err(key_unsupported("None"))
    }

    fn serialize_unit_struct(self, _name: &'static str) -> Result<String, ConvertError> {
        Err(key_unsupported("None"))
    }

    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<String, ConvertError> {
        Ok(variant.to_string())
    }

    fn serialize_newtype_struct<T: ?Sized + Serialize>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<String, ConvertError> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _value: &T,
    ) -> Result<String, ConvertError> {
        Err(key_unsupported("an enum with data"))
    }

    fn serialize_seq(self, _len: Option<usize>) -> Result<Self::SerializeSeq, ConvertError> {
        Err(key_unsupported("a list"))
    }

    fn serialize_tuple(self, _len: usize) -> Result<Self::SerializeTuple, ConvertError> {
        Err(key_unsupported("a list"))
    }

    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleStruct, ConvertError> {
        Err(key_unsupported("a list"))
    }

    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleVariant, ConvertError> {
        Err(key_unsupported("an enum with data"))
    }

    fn serialize_map(self, _len: Option<usize>) -> Result<Self::SerializeMap, ConvertError> {
        Err(key_unsupported("a map"))
    }

    fn serialize_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStruct, ConvertError> {
        Err(key_unsupported("a struct"))
    }

    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStructVariant, ConvertError> {
        Err(key_unsupported("an enum with data"))
    }
}
