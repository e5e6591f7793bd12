//! Hooks from Python: the arguments of `Protector.add_hook` as the core's [`HookSpec`] (the
//! HTTP client of URL hooks comes with `protector_connect`'s connectors).

use protector_core::engine::HookSpec;
use protector_core::model::{HookAction, HookMethod};
use protector_core::Result;

/// The action of `command` (argv) or `url` (with `method`); `None` when neither is given.
fn action(
    command: Option<Vec<String>>,
    url: Option<String>,
    method: &str,
) -> Result<Option<HookAction>> {
    let method: HookMethod = method.parse()?;
    Ok(match (command, url) {
        (Some(_), Some(_)) => {
            return Err(protector_core::Error::invalid(
                "give a hook either a command or a url, not both",
            ))
        }
        (Some(argv), None) => Some(HookAction::Command { argv }),
        (None, Some(url)) => Some(match HookAction::url(url) {
            HookAction::Url {
                url,
                status_min,
                status_max,
                ..
            } => HookAction::Url {
                method,
                url,
                status_min,
                status_max,
            },
            other => other,
        }),
        (None, None) => None,
    })
}

/// The arguments of `add_hook`, checked for their shape (the engine checks the rest).
#[allow(clippy::too_many_arguments)]
pub fn spec(
    name: String,
    at: &str,
    command: Option<Vec<String>>,
    url: Option<String>,
    method: &str,
    member: Option<String>,
    timeout: Option<u64>,
    on_failure: Option<String>,
    applies_to: &str,
    undo_command: Option<Vec<String>>,
    undo_url: Option<String>,
) -> Result<HookSpec> {
    let action = action(command, url, method)?.ok_or_else(|| {
        protector_core::Error::invalid(format!(
            "hook '{name}' has no action: give command=[...] or url=..."
        ))
    })?;
    Ok(HookSpec {
        at: at.parse()?,
        action,
        member,
        timeout_secs: timeout,
        on_failure: on_failure.map(|f| f.parse()).transpose()?,
        applies_to: applies_to.parse()?,
        undo: self::action(undo_command, undo_url, method)?,
        name,
    })
}
