//! The presentation data: a [`Record`] (one resource as named fields) and a [`List`] (several
//! as rows under [`Column`]s). Values are JSON values, so a front-end keeps numbers as numbers
//! and absent values as `null`.

use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};
use serde_json::Value;

use crate::error::{Error, Result};

/// One resource as named fields in display order. Serializes as an object in that order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Record {
    fields: Vec<(String, Value)>,
}

impl Record {
    /// An empty record.
    pub fn new() -> Self {
        Record::default()
    }

    /// Appends a field.
    #[must_use]
    pub fn field(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.fields.push((name.to_string(), value.into()));
        self
    }

    /// Field names in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.fields.iter().map(|(k, _)| k.as_str())
    }

    /// The fields, name and value, in display order.
    pub fn fields(&self) -> &[(String, Value)] {
        &self.fields
    }

    /// The fields, name and value, in display order.
    pub fn into_fields(self) -> Vec<(String, Value)> {
        self.fields
    }

    /// Only the named fields, in the order given (matched case-insensitively); no names keep
    /// every field.
    ///
    /// # Errors
    /// `InvalidInput` naming the unknown field and the valid ones.
    pub fn select(&self, names: &[&str]) -> Result<Record> {
        let columns: Vec<Column> = self.names().map(|n| Column::new(n, n)).collect();
        let picked = pick(&columns, names)?;
        Ok(Record {
            fields: picked.iter().map(|&i| self.fields[i].clone()).collect(),
        })
    }
}

impl Serialize for Record {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.fields.len()))?;
        for (k, v) in &self.fields {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

/// A column of a list: the field name (JSON/YAML key) and the table heading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// Field name, used as the key in JSON and YAML.
    pub key: String,
    /// Table heading (the spec's spelling, e.g. `Instance Name`).
    pub heading: String,
}

impl Column {
    /// A column whose heading differs from its key.
    pub fn new(key: &str, heading: &str) -> Self {
        Column {
            key: key.to_string(),
            heading: heading.to_string(),
        }
    }
}

/// Several resources as rows of values in column order. Serializes as an array of objects
/// keyed by column key.
#[derive(Debug, Clone, PartialEq)]
pub struct List {
    columns: Vec<Column>,
    rows: Vec<Vec<Value>>,
}

impl List {
    /// An empty list with these columns.
    pub fn new(columns: Vec<Column>) -> Self {
        List {
            columns,
            rows: Vec::new(),
        }
    }

    /// Columns whose heading is their key.
    pub fn with_keys(keys: &[&str]) -> Self {
        List::new(keys.iter().map(|k| Column::new(k, k)).collect())
    }

    /// Appends a row: one value per column, in column order.
    pub fn push(&mut self, mut row: Vec<Value>) {
        debug_assert_eq!(row.len(), self.columns.len(), "row width");
        row.resize(self.columns.len(), Value::Null);
        self.rows.push(row);
    }

    /// The columns in display order.
    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    /// The rows, each with one value per column.
    pub fn rows(&self) -> &[Vec<Value>] {
        &self.rows
    }

    /// The columns and the rows.
    pub fn into_parts(self) -> (Vec<Column>, Vec<Vec<Value>>) {
        (self.columns, self.rows)
    }

    /// Only the named columns, in the order given (matched on key or heading,
    /// case-insensitively); no names keep every column.
    ///
    /// # Errors
    /// `InvalidInput` naming the unknown column and the valid ones.
    pub fn select(&self, names: &[&str]) -> Result<List> {
        let picked = pick(&self.columns, names)?;
        Ok(List {
            columns: picked.iter().map(|&i| self.columns[i].clone()).collect(),
            rows: self
                .rows
                .iter()
                .map(|row| picked.iter().map(|&i| row[i].clone()).collect())
                .collect(),
        })
    }
}

/// Serializes one row as an object keyed by field name.
struct Row<'a>(&'a [Column], &'a [Value]);

impl Serialize for Row<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (c, v) in self.0.iter().zip(self.1) {
            map.serialize_entry(&c.key, v)?;
        }
        map.end()
    }
}

impl Serialize for List {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.rows.len()))?;
        for row in &self.rows {
            seq.serialize_element(&Row(&self.columns, row))?;
        }
        seq.end()
    }
}

/// Indices of the requested columns, matched on key or heading (case-insensitive), in the order
/// requested; an empty request keeps every column.
fn pick(columns: &[Column], names: &[&str]) -> Result<Vec<usize>> {
    if names.is_empty() {
        return Ok((0..columns.len()).collect());
    }
    names
        .iter()
        .map(|name| {
            columns
                .iter()
                .position(|c| {
                    c.key.eq_ignore_ascii_case(name) || c.heading.eq_ignore_ascii_case(name)
                })
                .ok_or_else(|| {
                    let valid: Vec<&str> = columns.iter().map(|c| c.key.as_str()).collect();
                    Error::invalid(format!(
                        "unknown column '{name}': choose from {}",
                        valid.join(", ")
                    ))
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use serde_json::json;

    fn record() -> Record {
        Record::new()
            .field("id", "op-1")
            .field("progress", 100)
            .field("completed_at", Value::Null)
    }

    #[test]
    fn record_selects_in_the_order_asked_and_names_the_valid_fields() {
        let picked = record().select(&["PROGRESS", "id"]).unwrap();
        assert_eq!(picked.names().collect::<Vec<_>>(), ["progress", "id"]);
        assert_eq!(picked.fields()[0].1, json!(100));
        assert_eq!(record().select(&[]).unwrap(), record());
        let err = record().select(&["nope"]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert_eq!(
            err.message(),
            "unknown column 'nope': choose from id, progress, completed_at"
        );
    }

    #[test]
    fn list_selects_on_key_or_heading() {
        let mut list = List::new(vec![
            Column::new("id", "ID"),
            Column::new("instance_name", "Instance Name"),
        ]);
        list.push(vec![json!("m-1"), json!("web-server-1")]);
        let picked = list.select(&["instance name", "ID"]).unwrap();
        assert_eq!(
            picked.columns(),
            [
                Column::new("instance_name", "Instance Name"),
                Column::new("id", "ID")
            ]
        );
        assert_eq!(picked.rows(), [vec![json!("web-server-1"), json!("m-1")]]);
        let err = list.select(&["name"]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert_eq!(
            err.message(),
            "unknown column 'name': choose from id, instance_name"
        );
    }

    #[test]
    fn serializes_in_display_order_with_keys() {
        assert_eq!(
            serde_json::to_string(&record()).unwrap(),
            r#"{"id":"op-1","progress":100,"completed_at":null}"#
        );
        let mut list = List::new(vec![Column::new("b", "B"), Column::new("a", "A")]);
        list.push(vec![json!(1), json!("x")]);
        assert_eq!(
            serde_json::to_string(&list).unwrap(),
            r#"[{"b":1,"a":"x"}]"#
        );
    }
}
