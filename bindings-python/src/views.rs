//! `protector.views`: the columns and values of `protector_core::views` for Python, so that
//! the CLI and the OpenStack client plugin show resources from one definition.
//!
//! A record of `protector.types` carries the serde data of its engine value (secrets withheld).
//! A view reads it back: `to_dict()` turned into JSON (timestamps as RFC 3339), withheld secrets
//! given a placeholder that no view shows, deserialized into the core type, then rendered by
//! the very function the CLI calls. Values come back JSON-plain, as `-f json` prints them.

use protector_core::api::VolumeType;
use protector_core::engine::{
    ConsistencyGroupReport, GroupOverview, MemberCandidate, SiteValidation, SyncForceReport,
    SyncStatusReport,
};
use protector_core::model::{
    GroupResult, Member, Operation, ProtectionGroup, ReplicationPolicy, Site, TenantMapping,
};
use protector_core::store::{GroupMappings, SyncLogEntry};
use protector_core::views::{self, List, Record};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{
    PyBool, PyDateTime, PyDict, PyFloat, PyInt, PyList, PyModule, PyString, PyTuple,
};
use serde::de::DeserializeOwned;
use serde_json::{Map, Number, Value};

/// Registers the view functions (`_view_columns`, `_view_rows`, `_view_show`) and the kind
/// names (`_VIEW_LIST_KINDS`, `_VIEW_SHOW_KINDS`) on the extension module; `protector/views.py`
/// is their public face.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(_view_columns, m)?)?;
    m.add_function(wrap_pyfunction!(_view_rows, m)?)?;
    m.add_function(wrap_pyfunction!(_view_show, m)?)?;
    m.add(
        "_VIEW_LIST_KINDS",
        LIST_VIEWS.iter().map(|v| v.kind).collect::<Vec<_>>(),
    )?;
    m.add(
        "_VIEW_SHOW_KINDS",
        SHOW_VIEWS.iter().map(|v| v.kind).collect::<Vec<_>>(),
    )?;
    Ok(())
}

// ---------------------------------------------------------------------------------- the kinds

/// Why a record's data could not be read back into its engine type.
#[derive(Debug)]
struct ReadError {
    /// The position of the record in the sequence given, for a list view.
    index: Option<usize>,
    message: String,
}

/// A list view: its name, the `protector.types` class of its records, and the core view.
struct ListView {
    kind: &'static str,
    record: &'static str,
    render: fn(Vec<Value>) -> Result<List, ReadError>,
}

/// Context a show view takes beyond its record.
#[derive(Debug, Default)]
struct ShowContext {
    /// `policy`: the group the policy belongs to.
    group: Option<ProtectionGroup>,
    /// `operation`: the name of the id field (`id`, or `operation_id` as `failover` prints).
    id_field: Option<String>,
}

/// A show view: its name, the `protector.types` class of its record, the keywords of context
/// it takes, and the core view.
struct ShowView {
    kind: &'static str,
    record: &'static str,
    keywords: &'static [Keyword],
    render: fn(Value, &ShowContext) -> Result<Record, ReadError>,
}

/// A keyword of a show view's context.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Keyword {
    /// `group=<ProtectionGroup>`, required.
    Group,
    /// `id_field=<str>`, optional.
    IdField,
}

impl Keyword {
    fn name(self) -> &'static str {
        match self {
            Keyword::Group => "group",
            Keyword::IdField => "id_field",
        }
    }

    fn takes(self) -> &'static str {
        match self {
            Keyword::Group => "group=<ProtectionGroup>",
            Keyword::IdField => "id_field=<str>",
        }
    }

    fn required(self) -> bool {
        self == Keyword::Group
    }
}

const LIST_VIEWS: &[ListView] = &[
    ListView {
        kind: "sites",
        record: "Site",
        render: |v| Ok(views::sites(&read_all::<Site>(v)?)),
    },
    ListView {
        kind: "volume_types",
        record: "VolumeType",
        render: |v| Ok(views::volume_types(&read_all::<VolumeType>(v)?)),
    },
    ListView {
        kind: "groups",
        record: "ProtectionGroup",
        render: |v| Ok(views::groups(&read_all::<ProtectionGroup>(v)?)),
    },
    ListView {
        kind: "group_overviews",
        record: "GroupOverview",
        render: |v| Ok(views::group_overviews(&read_all::<GroupOverview>(v)?)),
    },
    ListView {
        kind: "member_candidates",
        record: "MemberCandidate",
        render: |v| Ok(views::member_candidates(&read_all::<MemberCandidate>(v)?)),
    },
    ListView {
        kind: "members",
        record: "Member",
        render: |v| Ok(views::members(&read_all::<Member>(v)?)),
    },
    ListView {
        kind: "mappings",
        record: "GroupMappings",
        render: |v| Ok(views::mappings(&read_all::<GroupMappings>(v)?)),
    },
    ListView {
        kind: "sync_log",
        record: "SyncLogEntry",
        render: |v| Ok(views::sync_log(&read_all::<SyncLogEntry>(v)?)),
    },
    ListView {
        kind: "operations",
        record: "Operation",
        render: |v| Ok(views::operations(&read_all::<Operation>(v)?)),
    },
    ListView {
        kind: "group_results",
        record: "Operation",
        render: |v| {
            let results: Vec<GroupResult> = read_all::<Operation>(v)?
                .into_iter()
                .flat_map(|op| op.group_results)
                .collect();
            Ok(views::group_results(&results))
        },
    },
    ListView {
        kind: "tenant_mappings",
        record: "TenantMapping",
        render: |v| Ok(views::tenant_mappings(&read_all::<TenantMapping>(v)?)),
    },
];

const SHOW_VIEWS: &[ShowView] = &[
    ShowView {
        kind: "site",
        record: "Site",
        keywords: &[],
        render: |v, _| Ok(views::site(&read(v)?)),
    },
    ShowView {
        kind: "site_validation",
        record: "SiteValidation",
        keywords: &[],
        render: |v, _| Ok(views::site_validation(&read::<SiteValidation>(v)?)),
    },
    ShowView {
        kind: "group",
        record: "ProtectionGroup",
        keywords: &[],
        render: |v, _| Ok(views::group(&read(v)?)),
    },
    ShowView {
        kind: "member",
        record: "Member",
        keywords: &[],
        render: |v, _| Ok(views::member(&read(v)?)),
    },
    ShowView {
        kind: "member_added",
        record: "Member",
        keywords: &[],
        render: |v, _| Ok(views::member_added(&read(v)?)),
    },
    ShowView {
        kind: "consistency_group",
        record: "ConsistencyGroup",
        keywords: &[],
        render: |v, _| {
            Ok(views::consistency_group(&read::<ConsistencyGroupReport>(
                v,
            )?))
        },
    },
    ShowView {
        kind: "policy",
        record: "ReplicationPolicy",
        keywords: &[Keyword::Group],
        render: |v, context| {
            let policy: ReplicationPolicy = read(with_placeholder_tokens(v))?;
            let group = context.group.as_ref().ok_or_else(|| ReadError {
                index: None,
                message: "the policy's group is missing".to_string(),
            })?;
            if policy.group_id != group.id {
                return Err(ReadError {
                    index: None,
                    message: format!(
                        "the policy belongs to group {}, not to '{}' ({})",
                        policy.group_id, group.name, group.id
                    ),
                });
            }
            Ok(views::policy(group, &policy))
        },
    },
    ShowView {
        kind: "sync_status",
        record: "SyncStatus",
        keywords: &[],
        render: |v, _| Ok(views::sync_status(&read::<SyncStatusReport>(v)?)),
    },
    ShowView {
        kind: "sync_force",
        record: "SyncForceResult",
        keywords: &[],
        render: |v, _| Ok(views::sync_force(&read::<SyncForceReport>(v)?)),
    },
    ShowView {
        kind: "operation",
        record: "Operation",
        keywords: &[Keyword::IdField],
        render: |v, context| {
            let id_field = context.id_field.as_deref().unwrap_or("id");
            Ok(views::operation_with_results(&read(v)?, id_field))
        },
    },
    ShowView {
        kind: "tenant_mapping",
        record: "TenantMapping",
        keywords: &[],
        render: |v, _| Ok(views::tenant_mapping(&read(v)?)),
    },
];

fn read<T: DeserializeOwned>(value: Value) -> Result<T, ReadError> {
    serde_json::from_value(value).map_err(|e| ReadError {
        index: None,
        message: e.to_string(),
    })
}

fn read_all<T: DeserializeOwned>(values: Vec<Value>) -> Result<Vec<T>, ReadError> {
    values
        .into_iter()
        .enumerate()
        .map(|(i, value)| {
            serde_json::from_value(value).map_err(|e| ReadError {
                index: Some(i),
                message: e.to_string(),
            })
        })
        .collect()
}

/// The API token withheld from a `ReplicationPolicy` record (see `convert.rs`), given an empty
/// placeholder so the policy deserializes: no view shows a token.
fn with_placeholder_tokens(mut value: Value) -> Value {
    for array in ["primary_array", "secondary_array"] {
        if let Some(Value::Object(endpoint)) = value.get_mut(array) {
            endpoint
                .entry("api_token")
                .or_insert_with(|| Value::String(String::new()));
        }
    }
    value
}

fn list_kinds() -> String {
    kinds(LIST_VIEWS.iter().map(|v| v.kind))
}

fn show_kinds() -> String {
    kinds(SHOW_VIEWS.iter().map(|v| v.kind))
}

fn kinds<'a>(names: impl Iterator<Item = &'a str>) -> String {
    names
        .map(|k| format!("'{k}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn list_view(kind: &str, function: &str) -> PyResult<&'static ListView> {
    LIST_VIEWS.iter().find(|v| v.kind == kind).ok_or_else(|| {
        let hint = if SHOW_VIEWS.iter().any(|v| v.kind == kind) {
            format!(" ('{kind}' is a show view: use views.show())")
        } else {
            String::new()
        };
        PyValueError::new_err(format!(
            "views.{function}: '{}' is not a list view{hint}; list views are {}",
            kind.escape_debug(),
            list_kinds()
        ))
    })
}

fn show_view(kind: &str) -> PyResult<&'static ShowView> {
    SHOW_VIEWS.iter().find(|v| v.kind == kind).ok_or_else(|| {
        let hint = if LIST_VIEWS.iter().any(|v| v.kind == kind) {
            format!(" ('{kind}' is a list view: use views.rows())")
        } else {
            String::new()
        };
        PyValueError::new_err(format!(
            "views.show: '{}' is not a show view{hint}; show views are {}",
            kind.escape_debug(),
            show_kinds()
        ))
    })
}

fn read_error(call: &str, record: &str, e: &ReadError) -> PyErr {
    let which = e
        .index
        .map_or_else(|| "the record".to_string(), |i| format!("record {i}"));
    PyValueError::new_err(format!(
        "{call}: {which} cannot be shown as a {record}: {}; pass the records protector returned",
        e.message
    ))
}

// ---------------------------------------------------------------------------------- functions

/// `(field key, heading)` of each column of list view `kind`, in display order.
#[pyfunction]
fn _view_columns(kind: &str) -> PyResult<Vec<(String, String)>> {
    let view = list_view(kind, "columns")?;
    let list =
        (view.render)(Vec::new()).map_err(|e| read_error("views.columns", view.record, &e))?;
    Ok(list
        .into_parts()
        .0
        .into_iter()
        .map(|c| (c.key, c.heading))
        .collect())
}

/// One tuple per row of list view `kind` over `records`, values in column order.
#[pyfunction]
fn _view_rows<'py>(
    py: Python<'py>,
    kind: &str,
    records: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyList>> {
    let view = list_view(kind, "rows")?;
    let call = format!("views.rows('{kind}')");
    let class = record_class(py, view.record)?;
    let mut values = Vec::new();
    if view.kind == "group_results" && records.is_instance(&class)? {
        // One operation's results: the record itself is accepted as well as a sequence.
        values.push(record_data(records)?);
    } else {
        let not_a_sequence = || {
            PyTypeError::new_err(format!(
                "{call} takes a sequence of {} records, got a {}",
                view.record,
                type_name(records)
            ))
        };
        // A str, or one record, iterates (or fails to) as something else entirely.
        if records.is_instance_of::<PyString>() || records.hasattr(intern!(py, "to_dict"))? {
            return Err(not_a_sequence());
        }
        let items = records.try_iter().map_err(|_| not_a_sequence())?;
        for (i, item) in items.enumerate() {
            let item = item?;
            if !item.is_instance(&class)? {
                return Err(PyTypeError::new_err(format!(
                    "{call} takes {} records (protector.types.{}): item {i} is a {}",
                    view.record,
                    view.record,
                    type_name(&item)
                )));
            }
            values.push(record_data(&item)?);
        }
    }
    let list = (view.render)(values).map_err(|e| read_error(&call, view.record, &e))?;
    let rows = PyList::empty(py);
    for row in list.rows() {
        let cells = row
            .iter()
            .map(|v| to_python(py, v))
            .collect::<PyResult<Vec<_>>>()?;
        rows.append(PyTuple::new(py, cells)?)?;
    }
    Ok(rows)
}

/// `(field, value)` pairs of show view `kind` of `record`; `context` holds the view's keywords.
#[pyfunction]
#[pyo3(signature = (kind, record, context=None))]
fn _view_show<'py>(
    py: Python<'py>,
    kind: &str,
    record: &Bound<'py, PyAny>,
    context: Option<&Bound<'py, PyDict>>,
) -> PyResult<Bound<'py, PyList>> {
    let view = show_view(kind)?;
    let call = format!("views.show('{kind}')");
    let class = record_class(py, view.record)?;
    if !record.is_instance(&class)? {
        return Err(PyTypeError::new_err(format!(
            "{call} takes a {} record (protector.types.{}), got a {}",
            view.record,
            view.record,
            type_name(record)
        )));
    }
    let context = show_context(py, view, &call, context)?;
    let value = record_data(record)?;
    let shown = (view.render)(value, &context).map_err(|e| read_error(&call, view.record, &e))?;
    let pairs = PyList::empty(py);
    for (name, value) in shown.into_fields() {
        pairs.append((name, to_python(py, &value)?))?;
    }
    Ok(pairs)
}

/// The keywords of `view` from `context`: each known, of its type, the required ones present.
fn show_context(
    py: Python<'_>,
    view: &ShowView,
    call: &str,
    context: Option<&Bound<'_, PyDict>>,
) -> PyResult<ShowContext> {
    let takes = || {
        if view.keywords.is_empty() {
            "no keywords".to_string()
        } else {
            let all: Vec<&str> = view.keywords.iter().map(|k| k.takes()).collect();
            all.join(", ")
        }
    };
    let mut out = ShowContext::default();
    for (key, value) in context.into_iter().flat_map(|c| c.iter()) {
        let key: String = key.extract()?;
        let Some(keyword) = view.keywords.iter().find(|k| k.name() == key) else {
            return Err(PyTypeError::new_err(format!(
                "{call} got an unexpected keyword '{}': it takes {}",
                key.escape_debug(),
                takes()
            )));
        };
        match keyword {
            Keyword::Group => {
                let class = record_class(py, "ProtectionGroup")?;
                if !value.is_instance(&class)? {
                    return Err(PyTypeError::new_err(format!(
                        "{call}: group must be a ProtectionGroup record \
                         (protector.types.ProtectionGroup), got a {}",
                        type_name(&value)
                    )));
                }
                let group = read(record_data(&value)?)
                    .map_err(|e| read_error(call, "ProtectionGroup", &e))?;
                out.group = Some(group);
            }
            Keyword::IdField => {
                let text = value.cast::<PyString>().map_err(|_| {
                    PyTypeError::new_err(format!(
                        "{call}: id_field must be a str, got a {}",
                        type_name(&value)
                    ))
                })?;
                let text = text.to_str()?;
                if text.is_empty() {
                    return Err(PyValueError::new_err(format!(
                        "{call}: id_field must not be empty"
                    )));
                }
                out.id_field = Some(text.to_string());
            }
        }
    }
    for keyword in view.keywords.iter().filter(|k| k.required()) {
        let given = match keyword {
            Keyword::Group => out.group.is_some(),
            Keyword::IdField => out.id_field.is_some(),
        };
        if !given {
            return Err(PyTypeError::new_err(format!("{call} needs {}", takes())));
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------- conversion

static TYPES: PyOnceLock<Py<PyModule>> = PyOnceLock::new();

/// The class `name` of `protector.types`.
fn record_class<'py>(py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
    let types = TYPES.get_or_try_init(py, || -> PyResult<Py<PyModule>> {
        Ok(py.import("protector.types")?.unbind())
    })?;
    types.bind(py).getattr(name)
}

fn type_name(value: &Bound<'_, PyAny>) -> String {
    value
        .get_type()
        .name()
        .map_or_else(|_| "?".to_string(), |n| n.to_string())
}

/// A record's data as JSON, timestamps as RFC 3339: what `to_dict()` gives, read in place from
/// the record's `_data` (enums as their `str`, nested records as theirs) rather than copied
/// first; through `to_dict()` for a record kept some other way.
fn record_data(record: &Bound<'_, PyAny>) -> PyResult<Value> {
    let py = record.py();
    if let Ok(data) = record.getattr(intern!(py, "_data")) {
        if data.is_instance_of::<PyDict>() {
            return to_json(&data);
        }
    }
    to_json(&record.call_method0(intern!(py, "to_dict"))?)
}

/// Plain Python data (what `Record.to_dict()` gives) as JSON.
fn to_json(value: &Bound<'_, PyAny>) -> PyResult<Value> {
    if let Ok(s) = value.cast::<PyString>() {
        return Ok(Value::String(s.to_str()?.to_string()));
    }
    if value.is_none() {
        return Ok(Value::Null);
    }
    if let Ok(b) = value.cast::<PyBool>() {
        return Ok(Value::Bool(b.is_true()));
    }
    if value.is_instance_of::<PyInt>() {
        if let Ok(i) = value.extract::<i64>() {
            return Ok(Value::from(i));
        }
        return Ok(Value::from(value.extract::<u64>()?));
    }
    if let Ok(f) = value.cast::<PyFloat>() {
        let f = f.value();
        return Number::from_f64(f)
            .map(Value::Number)
            .ok_or_else(|| PyValueError::new_err(format!("views: {f} cannot be a field's value")));
    }
    if let Ok(dict) = value.cast::<PyDict>() {
        let mut object = Map::new();
        for (k, v) in dict.iter() {
            let key = k.cast::<PyString>().map_err(|_| {
                PyTypeError::new_err(format!(
                    "views: a record's keys are str, got a {}",
                    type_name(&k)
                ))
            })?;
            object.insert(key.to_str()?.to_string(), to_json(&v)?);
        }
        return Ok(Value::Object(object));
    }
    if let Ok(list) = value.cast::<PyList>() {
        return list.iter().map(|v| to_json(&v)).collect();
    }
    if let Ok(tuple) = value.cast::<PyTuple>() {
        return tuple.iter().map(|v| to_json(&v)).collect();
    }
    if value.is_instance_of::<PyDateTime>() {
        let text: String = value
            .call_method0(intern!(value.py(), "isoformat"))?
            .extract()?;
        // A naive datetime (none comes from protector) is taken as UTC.
        let aware = text.len() > 6 && matches!(text.as_bytes()[text.len() - 6], b'+' | b'-');
        return Ok(Value::String(if aware { text } else { text + "Z" }));
    }
    if value.hasattr(intern!(value.py(), "to_dict"))? {
        return record_data(value);
    }
    Err(PyTypeError::new_err(format!(
        "views: a {} cannot be read as a field's value",
        type_name(value)
    )))
}

/// JSON as plain Python: `None`, `bool`, `int`, `float`, `str`, `list`, `dict`.
fn to_python<'py>(py: Python<'py>, value: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match value {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                i.into_pyobject(py)?.into_any()
            } else if let Some(u) = n.as_u64() {
                u.into_pyobject(py)?.into_any()
            } else {
                n.as_f64().unwrap_or(f64::NAN).into_pyobject(py)?.into_any()
            }
        }
        Value::String(s) => PyString::new(py, s).into_any(),
        Value::Array(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(to_python(py, item)?)?;
            }
            list.into_any()
        }
        Value::Object(fields) => {
            let dict = PyDict::new(py);
            for (k, v) in fields {
                dict.set_item(k, to_python(py, v)?)?;
            }
            dict.into_any()
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_list_view_has_columns_without_records() {
        for view in LIST_VIEWS {
            let list = (view.render)(Vec::new()).unwrap();
            assert!(!list.columns().is_empty(), "{}", view.kind);
        }
        let kinds: Vec<&str> = LIST_VIEWS.iter().map(|v| v.kind).collect();
        assert_eq!(kinds.len(), 11);
    }

    #[test]
    fn a_policy_without_its_tokens_is_shown_and_the_placeholder_never_is() {
        let group_id = uuid::Uuid::from_u128(1);
        let policy = json!({
            "group_id": group_id,
            "primary_array": {"url": "https://fa-a", "api_token": "T-secret-a"},
            "secondary_array": {"url": "https://fa-b", "api_token": "T-secret-b"},
            "pure_pg_name": "pg-web", "replication_interval_secs": 300, "rpo_minutes": 15
        });
        let full: ReplicationPolicy = serde_json::from_value(policy.clone()).unwrap();
        // What Python holds: the tokens withheld (convert.rs drops every `api_token`).
        let mut withheld = policy;
        for array in ["primary_array", "secondary_array"] {
            withheld[array].as_object_mut().unwrap().remove("api_token");
        }
        assert!(serde_json::from_value::<ReplicationPolicy>(withheld.clone()).is_err());
        let restored: ReplicationPolicy =
            serde_json::from_value(with_placeholder_tokens(withheld)).unwrap();
        assert_eq!(restored.primary_array.url, full.primary_array.url);
        assert!(restored.primary_array.api_token.is_empty());

        let group: ProtectionGroup = serde_json::from_value(json!({
            "id": group_id, "name": "web", "description": "", "project_id": "p",
            "project_name": "p", "primary_site": "site-a", "secondary_site": "site-b",
            "current_primary_site": "site-a", "replication_type": "async",
            "volume_type": "replicated-ssd", "status": "active", "failover_count": 0,
            "last_failover_at": null,
            "consistency_group": {"id": uuid::Uuid::from_u128(2), "array_group": "pg-web"},
            "metadata": {"version": 1, "checksum": ""},
            "created_at": "2025-06-01T09:00:00Z", "updated_at": "2025-06-01T09:00:00Z"
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        let context = ShowContext {
            group: Some(group.clone()),
            id_field: None,
        };
        assert_eq!(
            SHOW_VIEWS
                .iter()
                .find(|v| v.kind == "policy")
                .unwrap()
                .keywords,
            [Keyword::Group]
        );
        let view = SHOW_VIEWS.iter().find(|v| v.kind == "policy").unwrap();
        let shown = (view.render)(
            with_placeholder_tokens(serde_json::to_value(&restored).unwrap()),
            &context,
        )
        .unwrap();
        assert_eq!(shown, views::policy(&group, &full));
        let text = serde_json::to_string(&shown).unwrap();
        assert!(
            !text.contains("api_token") && !text.contains("T-secret"),
            "{text}"
        );
    }
}
