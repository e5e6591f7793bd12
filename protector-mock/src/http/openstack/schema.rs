//! Request-body validation the way Nova, Cinder and Keystone do it: a Draft 4 JSON schema per
//! request (and per microversion range), the first violation reported in the message style of
//! Python's `jsonschema` wrapped by the service (`Invalid input for field/attribute server.
//! Value: {...}. 'flavorRef' is a required property`).
//!
//! The schemas themselves are written here from the services' published request schemas; the
//! services' own formats (`uuid`, Nova's `name`, IP addresses) are registered as custom formats.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::Validator;
use serde_json::Value;

use super::common::python_repr;

/// One violation of a schema.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Violation {
    /// The JSON path of the offending value (keys and indexes as text).
    pub path: Vec<String>,
    /// The offending value.
    pub value: Value,
    /// The message in Python `jsonschema`'s words.
    pub message: String,
    /// A `name`-format failure (Nova reports those in its own words).
    pub invalid_name: bool,
    /// The unexpected keys of an `additionalProperties` failure.
    pub unexpected: Vec<String>,
}

impl Violation {
    /// Nova's and Cinder's message: `Invalid input for field/attribute <last path element>.
    /// Value: <repr>. <message>`, or the bare message at the top level.
    pub(crate) fn openstack_message(&self) -> String {
        if self.invalid_name {
            return "An invalid 'name' value was provided. The name must be: printable characters. Can not start or end with whitespace.".to_string();
        }
        match self.path.last() {
            Some(last) => format!(
                "Invalid input for field/attribute {last}. Value: {}. {}",
                python_repr(&self.value),
                self.message
            ),
            None => self.message.clone(),
        }
    }

    /// Keystone's message: `Invalid input for field '<path>': <message>`.
    pub(crate) fn keystone_message(&self) -> String {
        if self.path.is_empty() {
            self.message.clone()
        } else {
            format!(
                "Invalid input for field '{}': {}",
                self.path.join("/"),
                self.message
            )
        }
    }
}

fn uuid_format(value: &str) -> bool {
    uuid::Uuid::parse_str(value).is_ok()
}

/// Nova's `name` format: printable, no leading or trailing whitespace.
fn name_format(value: &str) -> bool {
    value == value.trim() && value.chars().all(|c| !c.is_control())
}

fn ipv4_format(value: &str) -> bool {
    value.parse::<std::net::Ipv4Addr>().is_ok()
}

fn ipv6_format(value: &str) -> bool {
    value.parse::<std::net::Ipv6Addr>().is_ok()
}

fn compile(schema: &Value) -> Validator {
    jsonschema::draft4::options()
        .should_validate_formats(true)
        .with_format("uuid", uuid_format)
        .with_format("name", name_format)
        .with_format("name_with_leading_trailing_spaces", |_: &str| true)
        .with_format("ipv4", ipv4_format)
        .with_format("ipv6", ipv6_format)
        .build(schema)
        .unwrap_or_else(|e| panic!("built-in request schema does not compile: {e}"))
}

/// The validator of a named schema, compiled once.
pub(crate) fn validator(name: &str, schema: impl FnOnce() -> Value) -> Arc<Validator> {
    static CACHE: OnceLock<Mutex<HashMap<String, Arc<Validator>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    let mut cache = cache.lock().unwrap_or_else(|e| e.into_inner());
    cache
        .entry(name.to_string())
        .or_insert_with(|| Arc::new(compile(&schema())))
        .clone()
}

/// Where a schema keyword comes in the services' schemas, which Python's `jsonschema` walks in
/// the order they are written: `type` first, then the value checks, `properties` (descending
/// into each property), `items`, `required`, `additionalProperties`, and the combinators.
fn keyword_rank(keyword: &str) -> u8 {
    match keyword {
        "type" => 0,
        "enum" | "format" | "pattern" | "minLength" | "maxLength" | "minimum" | "maximum"
        | "minItems" | "maxItems" | "uniqueItems" | "minProperties" | "maxProperties" => 1,
        "properties" => 2,
        "patternProperties" | "items" => 3,
        "required" => 4,
        "additionalProperties" => 5,
        "oneOf" | "anyOf" | "allOf" | "not" => 6,
        _ => 7,
    }
}

/// The order in which Python's `jsonschema` would report an error at `schema_path`.
fn report_order(schema_path: &str) -> Vec<(u8, String)> {
    let mut key = Vec::new();
    let mut after_container = false;
    for segment in schema_path.split('/').skip(1) {
        if after_container {
            // A property name or an index inside `properties` / `oneOf` / `items`.
            key.push((0, segment.to_string()));
            after_container = false;
        } else {
            key.push((keyword_rank(segment), segment.to_string()));
            after_container = matches!(
                segment,
                "properties" | "patternProperties" | "oneOf" | "anyOf" | "allOf"
            );
        }
    }
    key
}

/// The violation of `body` against `validator` that Python's `jsonschema` would report first
/// (the services report only the first one), if any.
pub(crate) fn first_violation(validator: &Validator, body: &Value) -> Option<Violation> {
    let error = validator
        .iter_errors(body)
        .min_by_key(|e| report_order(e.schema_path().as_str()))?;
    let path: Vec<String> = error
        .instance_path()
        .as_str()
        .split('/')
        .skip(1)
        .map(|s| s.replace("~1", "/").replace("~0", "~"))
        .collect();
    let value: Value = error.instance().clone().into_owned();
    let repr = python_repr(&value);
    let mut unexpected = Vec::new();
    let mut invalid_name = false;
    let message = match error.kind() {
        ValidationErrorKind::AdditionalProperties { unexpected: keys } => {
            unexpected = keys.clone();
            let quoted: Vec<String> = keys.iter().map(|k| format!("'{k}'")).collect();
            let verb = if keys.len() == 1 { "was" } else { "were" };
            format!(
                "Additional properties are not allowed ({} {verb} unexpected)",
                quoted.join(", ")
            )
        }
        ValidationErrorKind::Required { property } => {
            format!("{} is a required property", python_repr(property))
        }
        ValidationErrorKind::Type { kind } => match kind {
            TypeKind::Single(t) => format!("{repr} is not of type '{t}'"),
            TypeKind::Multiple(types) => {
                let names: Vec<String> = types.into_iter().map(|t| format!("'{t}'")).collect();
                format!("{repr} is not of type {}", names.join(", "))
            }
        },
        ValidationErrorKind::Enum { options } => {
            format!("{repr} is not one of {}", python_repr(options))
        }
        ValidationErrorKind::Pattern { pattern } => format!("{repr} does not match '{pattern}'"),
        ValidationErrorKind::MinLength { .. } | ValidationErrorKind::MinItems { .. } => {
            format!("{repr} is too short")
        }
        ValidationErrorKind::MaxLength { .. } | ValidationErrorKind::MaxItems { .. } => {
            format!("{repr} is too long")
        }
        ValidationErrorKind::Minimum { limit } => {
            format!("{repr} is less than the minimum of {limit}")
        }
        ValidationErrorKind::Maximum { limit } => {
            format!("{repr} is greater than the maximum of {limit}")
        }
        ValidationErrorKind::AnyOf { .. } | ValidationErrorKind::OneOfNotValid { .. } => {
            format!("{repr} is not valid under any of the given schemas")
        }
        ValidationErrorKind::OneOfMultipleValid { .. } => {
            format!("{repr} is valid under each of the given schemas")
        }
        ValidationErrorKind::Format { format } => {
            invalid_name = format == "name";
            format!("{repr} is not a '{format}'")
        }
        ValidationErrorKind::MinProperties { .. } => {
            format!("{repr} does not have enough properties")
        }
        ValidationErrorKind::MaxProperties { .. } => format!("{repr} has too many properties"),
        ValidationErrorKind::UniqueItems => format!("{repr} has non-unique elements"),
        _ => error.to_string(),
    };
    Some(Violation {
        path,
        value,
        message,
        invalid_name,
        unexpected,
    })
}

/// Reusable pieces of the services' schemas (`parameter_types.py`).
pub(crate) mod types {
    use serde_json::{json, Value};

    /// A boolean or the strings Nova and Cinder accept as one.
    pub(crate) fn boolean() -> Value {
        json!({"type": ["boolean", "string"], "enum": [
            true, "True", "TRUE", "true", "1", "ON", "On", "on", "YES", "Yes", "yes", "y", "t",
            false, "False", "FALSE", "false", "0", "OFF", "Off", "off", "NO", "No", "no", "n", "f"
        ]})
    }

    /// A name: 1–255 printable characters, no surrounding whitespace.
    pub(crate) fn name() -> Value {
        json!({"type": "string", "minLength": 1, "maxLength": 255, "format": "name"})
    }

    /// A free-text description (may be null).
    pub(crate) fn description() -> Value {
        json!({"type": ["string", "null"], "minLength": 0, "maxLength": 255})
    }

    /// Metadata: string keys (1–255) to string values (0–255).
    pub(crate) fn metadata() -> Value {
        json!({
            "type": "object",
            "patternProperties": {
                "^[a-zA-Z0-9-_:. /]{1,255}$": {"type": "string", "maxLength": 255}
            },
            "additionalProperties": false
        })
    }

    /// A UUID string.
    pub(crate) fn uuid() -> Value {
        json!({"type": "string", "format": "uuid"})
    }

    /// An IPv4 or IPv6 address.
    pub(crate) fn ip_address() -> Value {
        json!({"type": "string", "oneOf": [{"format": "ipv4"}, {"format": "ipv6"}]})
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn messages_read_like_the_services() {
        let schema = json!({
            "type": "object",
            "properties": {"server": {
                "type": "object",
                "properties": {"name": types::name(), "flavorRef": {"type": ["string", "integer"]}},
                "required": ["name", "flavorRef"],
                "additionalProperties": false
            }},
            "required": ["server"],
            "additionalProperties": false
        });
        let v = compile(&schema);
        let missing = first_violation(&v, &json!({"server": {"name": "s"}})).unwrap();
        assert_eq!(
            missing.openstack_message(),
            "Invalid input for field/attribute server. Value: {'name': 's'}. 'flavorRef' is a required property"
        );
        let extra = first_violation(
            &v,
            &json!({"server": {"name": "s", "flavorRef": "1", "bogus": 1}}),
        )
        .unwrap();
        assert!(extra
            .openstack_message()
            .ends_with("Additional properties are not allowed ('bogus' was unexpected)"));
        let top = first_violation(&v, &json!({"nope": 1})).unwrap();
        assert_eq!(top.openstack_message(), "'server' is a required property");
        let name =
            first_violation(&v, &json!({"server": {"name": " s", "flavorRef": "1"}})).unwrap();
        assert!(name
            .openstack_message()
            .starts_with("An invalid 'name' value"));
        assert!(first_violation(&v, &json!({"server": {"name": "s", "flavorRef": 1}})).is_none());
    }
}
