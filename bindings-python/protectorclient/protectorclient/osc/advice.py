"""The plugin's wording of the engine's hints: what to run next, as ``openstack protector ...``
and ``openstack dr ...`` commands and options.

The engine's messages say what is wrong in words every front-end can show; each front-end
words the hint (``ProtectorError.hint``, a dict with an ``action``) its own way. This module
mirrors the Rust CLI's ``cli/src/advice.rs`` action for action; keep the two in step.
"""

from __future__ import annotations

from typing import Any

# The option that maps each kind of resource (`MappedResource`, serialized snake_case).
MAPPING_OPTIONS = {
    "network": "--network-mapping",
    "flavor": "--flavor-mapping",
    "security_group": "--security-group-mapping",
}

_RESOURCE_WORDS = {
    "network": "network",
    "flavor": "flavor",
    "security_group": "security group",
}


def advice(hint: dict[str, Any] | None) -> str | None:
    """The advice for ``hint`` as ``openstack`` commands; ``None`` for no hint or an action
    added to the engine after this plugin (the engine's own neutral words then stand)."""
    if not hint:
        return None
    action = hint.get("action")
    group = hint.get("group", "")
    site = hint.get("site", "")
    operation = hint.get("operation", "")
    match action:
        case "use_site":
            if site:
                return f"run the command with --os-cloud {site}"
            return "choose it with --os-cloud (or OS_CLOUD)"
        case "list_groups":
            return "list groups with `openstack protector protection-group list`"
        case "list_operations":
            return "list them with `openstack protector operation list`"
        case "follow_operation":
            return f"follow it with `openstack protector operation show {operation}`"
        case "recover_operation":
            return f"finish or undo it with `openstack protector operation recover {operation}`"
        case "register_site":
            return f"register it with `openstack protector site create --name {site} ...`"
        case "check_site":
            return (
                "check --os-cloud (OS_CLOUD) or --protector-site, or register the site with "
                f"`openstack protector site create --name {site} ...`"
            )
        case "use_state_dir":
            return "choose another state directory with --protector-state-dir (PROTECTOR_STATE_DIR)"
        case "show_site":
            return f"see `openstack protector site show {site}`"
        case "validate_site":
            return f"run `openstack protector site validate {site}`"
        case "sync_force":
            return f"run `openstack protector protection-group sync-force {group}`"
        case "sync_status":
            return f"check `openstack protector protection-group sync-status {group}`"
        case "create_policy":
            return f"re-run `openstack protector protection-group policy-create {group} ...`"
        case "list_members":
            return f"see `openstack protector protection-group member-list {group}`"
        case "add_members":
            return f"add VMs with `openstack protector protection-group member-add {group} ...`"
        case "cleanup_drill":
            return f"run `openstack dr test failover cleanup {group}`"
        case "map_resource":
            resource = hint.get("resource", "")
            option = MAPPING_OPTIONS.get(resource)
            if option is None:
                return None
            if resource == "network" and hint.get("isolated"):
                target = f"isolated network on {site}"
            else:
                target = f"{site} {_RESOURCE_WORDS[resource]}"
            return f"pass {option} {hint.get('source', '')}=<{target}>"
        case "check_mapping":
            option = MAPPING_OPTIONS.get(hint.get("resource", ""))
            return f"check {option}" if option else None
        case "unplanned_failover":
            return (
                "run an unplanned failover with "
                f"`openstack protector protection-group failover {group} --force`"
            )
        case "planned_failover":
            return (
                f"run a planned failover of '{group}' (without --force), which stops the VMs "
                "first and loses no data"
            )
        case "list_tenant_mappings":
            return "see `openstack dr tenant mapping list`"
        case _:
            return None
