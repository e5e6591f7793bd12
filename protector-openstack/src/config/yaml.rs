//! clouds.yaml documents as JSON values: one tree type for YAML and JSON files, merged alike.

use serde_json::{Map, Number, Value};
use yaml_rust2::{Yaml, YamlLoader};

/// Parses the first YAML document of `text`; an empty file is an empty mapping.
pub(crate) fn parse(text: &str) -> Result<Value, yaml_rust2::ScanError> {
    let docs = YamlLoader::load_from_str(text)?;
    Ok(docs.into_iter().next().map_or_else(
        || Value::Object(Map::new()),
        |doc| match to_json(doc) {
            Value::Null => Value::Object(Map::new()),
            other => other,
        },
    ))
}

fn to_json(node: Yaml) -> Value {
    match node {
        Yaml::Real(text) => text
            .parse::<f64>()
            .ok()
            .and_then(Number::from_f64)
            .map_or(Value::String(text), Value::Number),
        Yaml::Integer(i) => Value::Number(i.into()),
        Yaml::String(s) => Value::String(s),
        Yaml::Boolean(b) => Value::Bool(b),
        Yaml::Array(items) => Value::Array(items.into_iter().map(to_json).collect()),
        Yaml::Hash(hash) => Value::Object(
            hash.into_iter()
                .filter_map(|(k, v)| scalar_text(&to_json(k)).map(|k| (k, to_json(v))))
                .collect(),
        ),
        Yaml::Alias(_) | Yaml::Null | Yaml::BadValue => Value::Null,
    }
}

/// A scalar as the text the CLI would see (`project_id: 1234` is the string "1234").
pub(crate) fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Merges `over` into `base`: mappings recursively, anything else replaced (secure.yaml over
/// clouds.yaml, as openstacksdk does).
pub(crate) fn merge(base: &mut Value, over: Value) {
    match (base, over) {
        (Value::Object(base), Value::Object(over)) => {
            for (key, value) in over {
                match base.get_mut(&key) {
                    Some(slot) => merge(slot, value),
                    None => {
                        base.insert(key, value);
                    }
                }
            }
        }
        (slot, over) => *slot = over,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn yaml_scalars_and_anchors_become_json() {
        let value = parse(
            "a: &x {n: 1, f: 1.5, b: true, s: text, z: ~}\nb: *x\n1: numeric key\nl: [1, two]\n",
        )
        .unwrap();
        assert_eq!(
            value,
            json!({"a": {"n": 1, "f": 1.5, "b": true, "s": "text", "z": null},
                   "b": {"n": 1, "f": 1.5, "b": true, "s": "text", "z": null},
                   "1": "numeric key", "l": [1, "two"]})
        );
        assert_eq!(parse("").unwrap(), json!({}));
        assert!(parse("a: [unclosed").is_err());
    }

    #[test]
    fn merge_is_deep_and_later_wins() {
        let mut base = json!({"clouds": {"a": {"auth": {"username": "u", "password": "old"}}}});
        merge(
            &mut base,
            json!({"clouds": {"a": {"auth": {"password": "new"}}, "b": {}}}),
        );
        assert_eq!(
            base,
            json!({"clouds": {"a": {"auth": {"username": "u", "password": "new"}}, "b": {}}})
        );
    }
}
