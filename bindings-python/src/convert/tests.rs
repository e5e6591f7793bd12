//! The serializer against its specification: the data of `serde_json::to_value`, converted
//! as the bindings did before it (timestamps by field name, secrets dropped), compared as
//! canonical JSON text (so `True` is not `1`, and a `datetime` shows its zone).

use std::collections::BTreeMap;

use chrono::{TimeZone, Utc};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use serde::Serialize;
use serde_json::{json, Value};
use uuid::Uuid;

use protector_core::model::{
    ArrayEndpoint, ConsistencyGroupBinding, GroupStatus, MetadataVersion, ProtectionGroup,
    ReplicationType, Secret,
};

use super::{serialize, to_python, DATETIME_FIELDS, SECRET_FIELDS};

/// The conversion by way of `serde_json::Value`, as the bindings had it.
fn reference<'py>(py: Python<'py>, value: &Value, key: Option<&str>) -> Bound<'py, PyAny> {
    match value {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => b.into_pyobject(py).unwrap().to_owned().into_any(),
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => i.into_pyobject(py).unwrap().into_any(),
            (None, Some(u)) => u.into_pyobject(py).unwrap().into_any(),
            _ => n.as_f64().unwrap().into_pyobject(py).unwrap().into_any(),
        },
        Value::String(s) => match key {
            Some(k) if DATETIME_FIELDS.contains(&k) => match s.parse::<chrono::DateTime<Utc>>() {
                Ok(at) => at.into_pyobject(py).unwrap().into_any(),
                Err(_) => s.into_pyobject(py).unwrap().into_any(),
            },
            _ => s.into_pyobject(py).unwrap().into_any(),
        },
        Value::Array(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(reference(py, item, None)).unwrap();
            }
            list.into_any()
        }
        Value::Object(fields) => {
            let dict = PyDict::new(py);
            for (k, v) in fields {
                if !SECRET_FIELDS.contains(&k.as_str()) {
                    dict.set_item(k, reference(py, v, Some(k))).unwrap();
                }
            }
            dict.into_any()
        }
    }
}

fn canonical(py: Python<'_>, value: &Bound<'_, PyAny>) -> String {
    let dumps = py.import("json").unwrap().getattr("dumps").unwrap();
    let kwargs = PyDict::new(py);
    kwargs.set_item("sort_keys", true).unwrap();
    kwargs
        .set_item("default", py.eval(c"repr", None, None).unwrap())
        .unwrap();
    dumps
        .call((value,), Some(&kwargs))
        .unwrap()
        .extract()
        .unwrap()
}

fn assert_same(value: &impl Serialize) {
    Python::initialize();
    Python::attach(|py| {
        let expected = reference(py, &serde_json::to_value(value).unwrap(), None);
        let converted = to_python(py, value).unwrap();
        assert_eq!(canonical(py, &converted), canonical(py, &expected));
    });
}

fn group() -> ProtectionGroup {
    let at = Utc.with_ymd_and_hms(2026, 12, 6, 5, 1, 28).unwrap()
        + chrono::Duration::nanoseconds(123_456_789);
    ProtectionGroup {
        id: Uuid::from_u128(1),
        name: "prod-web-app".into(),
        description: "three tiers".into(),
        project_id: "p1".into(),
        project_name: "web".into(),
        primary_site: "site-a".into(),
        secondary_site: "site-b".into(),
        current_primary_site: "site-b".into(),
        replication_type: ReplicationType::Async,
        volume_type: "replicated-ssd".into(),
        status: GroupStatus::FailedOver,
        failover_count: 2,
        last_failover_at: Some(at),
        consistency_group: ConsistencyGroupBinding {
            id: Uuid::from_u128(2),
            primary_cg_id: Some("cg-a".into()),
            secondary_cg_id: None,
            array_group: "protector-prod-web-app".into(),
            backend_name: None,
        },
        metadata: MetadataVersion {
            version: u64::MAX,
            checksum: "abc".into(),
            modified_at: Some(at),
        },
        active_operation_id: None,
        fence_required_on: Some("site-a".into()),
        last_operation_id: Some(Uuid::from_u128(3)),
        test_failover: None,
        recovery_point: None,
        hooks: Vec::new(),
        created_at: Utc.timestamp_opt(0, 0).unwrap(),
        updated_at: at,
    }
}

#[test]
fn a_protection_group_converts_as_through_json() {
    assert_same(&group());
    assert_same(&vec![group(), group()]);
}

#[test]
fn secrets_are_dropped_at_any_depth() {
    let endpoint = ArrayEndpoint {
        url: "https://array-a".into(),
        api_token: Secret::new("t0ken"),
        ca_file: None,
        allow_insecure_http: true,
    };
    assert_same(&endpoint);
    assert_same(&json!({"outer": {"password": "p", "token": "t", "kept": [{"secret": 1}]}}));
    Python::initialize();
    Python::attach(|py| {
        let text = canonical(py, &to_python(py, &endpoint).unwrap());
        assert!(!text.contains("t0ken"), "{text}");
    });
}

#[derive(Serialize)]
enum Shape {
    Unit,
    Newtype(u8),
    Tuple(i32, String),
    Struct {
        created_at: String,
        n: f64,
    },
    #[serde(rename = "at")]
    Timestamp(String),
    #[serde(rename = "token")]
    Secret(String),
}

#[derive(Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Tagged {
    Site { name: String, at: String },
    Array { url: String },
}

#[derive(Serialize)]
struct Zoo {
    shapes: Vec<Shape>,
    tagged: Tagged,
    tuple: (bool, char, Option<u8>),
    floats: Vec<f64>,
    ints: (i64, u64, i8, u128),
    bytes: serde_bytes_like::Bytes,
    by_number: BTreeMap<u32, &'static str>,
    by_flag: BTreeMap<bool, ()>,
    // Under a timestamp's name: RFC 3339 in any zone becomes a UTC datetime; anything else
    // stays a string, and a timestamp in a list stays a string.
    created_at: Vec<String>,
    updated_at: String,
    started_at: String,
    completed_at: Option<String>,
    #[serde(flatten)]
    extra: BTreeMap<String, Value>,
    unit: (),
    newtype: Newtype,
}

#[derive(Serialize)]
struct Newtype(&'static str);

mod serde_bytes_like {
    pub struct Bytes(pub Vec<u8>);

    impl serde::Serialize for Bytes {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_bytes(&self.0)
        }
    }
}

#[test]
fn every_shape_of_serde_converts_as_through_json() {
    assert_same(&Zoo {
        shapes: vec![
            Shape::Unit,
            Shape::Newtype(7),
            Shape::Tuple(-1, "x".into()),
            Shape::Struct {
                created_at: "2026-01-02T03:04:05+02:00".into(),
                n: 1.5,
            },
            Shape::Timestamp("2026-01-02T03:04:05.000001Z".into()),
            Shape::Secret("hidden".into()),
        ],
        tagged: Tagged::Site {
            name: "site-a".into(),
            at: "2026-01-02T03:04:05Z".into(),
        },
        tuple: (true, 'é', None),
        floats: vec![0.25, f64::NAN, f64::INFINITY, -0.0],
        ints: (i64::MIN, u64::MAX, -8, 5),
        bytes: serde_bytes_like::Bytes(vec![0, 255]),
        by_number: BTreeMap::from([(1, "one"), (20, "twenty")]),
        by_flag: BTreeMap::from([(true, ())]),
        created_at: vec!["2026-01-02T03:04:05Z".into()],
        updated_at: "2026-01-02 03:04:05Z".into(),
        started_at: "yesterday".into(),
        completed_at: Some("2026-12-31T23:59:59.999999999-00:30".into()),
        extra: BTreeMap::from([
            ("last_sync".into(), json!("2026-01-02T03:04:05Z")),
            (
                "nested".into(),
                json!({"at": "2026-01-02T03:04:05Z", "n": [1, 2.5, null]}),
            ),
        ]),
        unit: (),
        newtype: Newtype("inner"),
    });
}

#[test]
fn a_map_key_that_is_not_a_string_or_number_is_an_error() {
    Python::initialize();
    Python::attach(|py| {
        let value = BTreeMap::from([((1, 2), "pair")]);
        let error = serialize(py, &value).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("a map key is a list, not a string"),
            "{error}"
        );
    });
}

/// Two struct types of one name: what the dict of one looks like says nothing of the other.
mod first {
    #[derive(serde::Serialize)]
    pub struct Same {
        pub a: u8,
        pub b: u8,
    }
}

mod second {
    #[derive(serde::Serialize)]
    pub struct Same {
        pub b: u8,
        pub c: u8,
        pub token: &'static str,
    }
}

#[test]
fn structs_of_one_type_with_other_fields_convert_as_through_json() {
    let endpoint = |allow_insecure_http| ArrayEndpoint {
        url: "http://array-a".into(),
        api_token: Secret::new("t0ken"),
        ca_file: None,
        allow_insecure_http,
    };
    // `allow_insecure_http` is skipped when false: absent, present, absent.
    assert_same(&vec![endpoint(false), endpoint(true), endpoint(false)]);
    assert_same(&vec![endpoint(true), endpoint(false), endpoint(true)]);
    let site = || Tagged::Site {
        name: "a".into(),
        at: "2026-01-02T03:04:05Z".into(),
    };
    let array = || Tagged::Array { url: "u".into() };
    assert_same(&vec![site(), array(), site(), array()]);
    assert_same(&(
        first::Same { a: 1, b: 2 },
        second::Same {
            b: 3,
            c: 4,
            token: "t",
        },
        first::Same { a: 5, b: 6 },
        second::Same {
            b: 7,
            c: 8,
            token: "t",
        },
    ));
}

#[derive(Serialize)]
struct Stamps {
    at: Vec<Option<String>>,
    created_at: String,
    updated_at: String,
    modified_at: String,
    started_at: String,
    completed_at: String,
    last_sync: String,
}

#[test]
fn timestamps_python_or_chrono_alone_would_read_convert_as_through_json() {
    assert_same(&Stamps {
        at: vec![Some("2026-01-02T03:04:05Z".into()), None],
        // February 30th: neither reads it.
        created_at: "2026-02-30T03:04:05Z".into(),
        // A leap second: chrono reads it, `datetime` has none.
        updated_at: "2016-12-31T23:59:60.5Z".into(),
        // Lower case, and ten digits of fraction.
        modified_at: "2026-01-02t03:04:05.1234567891z".into(),
        started_at: "2026-01-02T03:04:05.Z".into(),
        completed_at: "2026-01-02T03:04:05.000000001Z".into(),
        last_sync: "2026-01-02T03:04:05+00:00".into(),
    });
}
