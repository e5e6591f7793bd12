//! One page of a Nova, Cinder or Neutron list, read straight into its items: the collection
//! (`servers`, `volumes`, …) is deserialized as `Vec<T>` while the body is parsed, without
//! building a `serde_json::Value` of the whole page first (at a thousand servers that tree
//! was most of a listing's cost); the links are kept as values to find the `next` one.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::{Map, Value};

/// What a page holds: its items (`None` when it has no such collection) and its link lists
/// (`<collection>_links`, `links`), as the service wrote them.
pub(crate) struct Page<T> {
    pub(crate) items: Option<Vec<T>>,
    pub(crate) links: Value,
}

/// Reads a page whose items are under `collection`.
pub(crate) struct PageSeed<'c, T> {
    collection: &'c str,
    item: PhantomData<fn() -> T>,
}

impl<'c, T> PageSeed<'c, T> {
    pub(crate) fn new(collection: &'c str) -> Self {
        PageSeed {
            collection,
            item: PhantomData,
        }
    }
}

impl<'de, T: Deserialize<'de>> DeserializeSeed<'de> for PageSeed<'_, T> {
    type Value = Page<T>;

    fn deserialize<D: serde::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Page<T>, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de, T: Deserialize<'de>> Visitor<'de> for PageSeed<'_, T> {
    type Value = Page<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "an object with a '{}' list", self.collection)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Page<T>, A::Error> {
        let links_key = format!("{}_links", self.collection);
        let mut items = None;
        let mut links = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if key == self.collection {
                items = Some(map.next_value::<Vec<T>>()?);
            } else if key == links_key || key == "links" {
                links.insert(key, map.next_value::<Value>()?);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(Page {
            items,
            links: Value::Object(links),
        })
    }
}

/// Reads one member of an object (`{"server": {…}, …}`) as `T` while the body is parsed,
/// skipping the others; `None` when the object has no such member.
pub(crate) struct Field<'k, T> {
    key: &'k str,
    value: PhantomData<fn() -> T>,
}

impl<'k, T> Field<'k, T> {
    pub(crate) fn new(key: &'k str) -> Self {
        Field {
            key,
            value: PhantomData,
        }
    }
}

impl<'de, T: Deserialize<'de>> DeserializeSeed<'de> for Field<'_, T> {
    type Value = Option<T>;

    fn deserialize<D: serde::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Option<T>, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de, T: Deserialize<'de>> Visitor<'de> for Field<'_, T> {
    type Value = Option<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "an object with a '{}' member", self.key)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Option<T>, A::Error> {
        let mut value = None;
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            if key == self.key {
                // The last one counts, as in a `Value` of the body.
                value = Some(map.next_value::<T>()?);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Item {
        id: String,
    }

    fn page(body: &str) -> serde_json::Result<Page<Item>> {
        let mut deserializer = serde_json::Deserializer::from_str(body);
        let page = PageSeed::<Item>::new("servers").deserialize(&mut deserializer)?;
        deserializer.end()?;
        Ok(page)
    }

    #[test]
    fn items_and_links_are_read_and_everything_else_skipped() {
        let read = page(
            r#"{"other": {"deep": [1, 2, {"x": null}]}, "servers": [{"id": "a", "name": "n"}, {"id": "b"}],
                "servers_links": [{"rel": "next", "href": "http://h/servers?marker=b"}], "links": []}"#,
        )
        .unwrap();
        assert_eq!(
            read.items.unwrap(),
            [Item { id: "a".into() }, Item { id: "b".into() }]
        );
        assert_eq!(read.links["servers_links"][0]["rel"], "next");
        assert_eq!(read.links["links"], serde_json::json!([]));
    }

    #[test]
    fn a_page_without_the_collection_has_no_items_and_a_bad_item_is_an_error() {
        assert!(page(r#"{"volumes": []}"#).unwrap().items.is_none());
        assert!(page(r#"{"servers": [{"name": "no id"}]}"#).is_err());
        assert!(page(r#"{"servers": {}}"#).is_err());
        assert!(page(r#"[]"#).is_err());
        assert!(page(r#"{"servers": []} trailing"#).is_err());
    }

    fn field(body: &str) -> serde_json::Result<Option<Item>> {
        let mut deserializer = serde_json::Deserializer::from_str(body);
        let read = Field::<Item>::new("server").deserialize(&mut deserializer)?;
        deserializer.end()?;
        Ok(read)
    }

    #[test]
    fn a_field_is_read_alone_as_a_value_of_the_body_has_it() {
        assert_eq!(
            field(r#"{"links": [{"x": [1, {}]}], "server": {"id": "a", "name": "n"}}"#).unwrap(),
            Some(Item { id: "a".into() })
        );
        // An escaped key is the same key; of two, the last counts.
        assert_eq!(
            field(r#"{"ser\u0076er": {"id": "a"}, "server": {"id": "b"}}"#).unwrap(),
            Some(Item { id: "b".into() })
        );
        assert_eq!(field(r#"{"servers": [{"id": "a"}]}"#).unwrap(), None);
        assert!(field(r#"{"server": {"name": "no id"}}"#).is_err());
        assert!(field(r#"{"server": []}"#).is_err());
        assert!(field(r#"[{"id": "a"}]"#).is_err());
    }
}
