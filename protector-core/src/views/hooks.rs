//! The hooks of a protection group (`hook-add`, `hook-list`). URLs show without their query
//! string or credentials.

use serde_json::{json, Value};

use super::{Column, List, Record};
use crate::model::{Hook, HookAction, Member};

fn action(a: &HookAction) -> String {
    a.describe()
}

/// The member a hook names, by instance name when `members` holds it, else by id; `-` for a
/// group hook.
fn member_of(hook: &Hook, members: &[Member]) -> String {
    match hook.member {
        None => "-".to_string(),
        Some(id) => members
            .iter()
            .find(|m| m.id == id)
            .map_or_else(|| id.to_string(), |m| m.instance_name.clone()),
    }
}

/// `hook-add`: one hook.
pub fn hook(h: &Hook, members: &[Member]) -> Record {
    Record::new()
        .field("name", h.name.as_str())
        .field("member", member_of(h, members))
        .field("at", h.at.as_str())
        .field("action", action(&h.action))
        .field("timeout_secs", h.timeout_secs)
        .field("on_failure", h.on_failure.as_str())
        .field("applies_to", h.applies_to.as_str())
        .field(
            "undo",
            h.undo.as_ref().map_or(Value::Null, |u| json!(action(u))),
        )
}

/// `hook-list`: the group's hooks in the order they were added.
pub fn hooks(hooks: &[Hook], members: &[Member]) -> List {
    let mut list = List::new(vec![
        Column::new("name", "Name"),
        Column::new("member", "Member"),
        Column::new("at", "At"),
        Column::new("action", "Action"),
        Column::new("timeout_secs", "Timeout (s)"),
        Column::new("on_failure", "On Failure"),
        Column::new("applies_to", "Applies To"),
        Column::new("undo", "Undo"),
    ]);
    for h in hooks {
        list.push(vec![
            json!(h.name),
            json!(member_of(h, members)),
            json!(h.at.as_str()),
            json!(action(&h.action)),
            json!(h.timeout_secs),
            json!(h.on_failure.as_str()),
            json!(h.applies_to.as_str()),
            h.undo.as_ref().map_or(Value::Null, |u| json!(action(u))),
        ]);
    }
    list
}
