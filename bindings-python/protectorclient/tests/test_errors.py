"""Engine errors become one clear ``CommandError``: the engine's message with its hint worded as
``openstack`` commands (the wording of cli/src/advice.rs, with the `openstack` prefix)."""

from __future__ import annotations

import pytest
from helpers import CommandTest
from osc_lib import exceptions
from protector import exceptions as engine_errors
from protector import records

from protectorclient.osc.advice import advice
from protectorclient.osc.errors import describe
from protectorclient.osc.v1 import protection_group


def engine_error(
    cls, message, neutral=None, hint=None, findings=(), request_id=None, kind="conflict"
):
    """An error as the extension raises it: its message is the engine's Display (message, the
    neutral hint after ": ", each finding on a line, the request id)."""
    text = message + (f": {neutral}" if neutral else "")
    text += "".join(f"\n  - {f}" for f in findings)
    context = {}
    if request_id:
        text += f" (request id {request_id})"
        context["request_id"] = request_id
    return cls(text, kind=kind, hint=hint, findings=list(findings), context=context)


@pytest.mark.parametrize(
    ("hint", "expected"),
    [
        ({"action": "use_site", "site": "site-b"}, "run the command with --os-cloud site-b"),
        ({"action": "use_site", "site": None}, "choose it with --os-cloud (or OS_CLOUD)"),
        ({"action": "list_groups"}, "list groups with `openstack protector protection-group list`"),
        ({"action": "list_operations"}, "list them with `openstack protector operation list`"),
        (
            {"action": "follow_operation", "operation": "op-1"},
            "follow it with `openstack protector operation show op-1`",
        ),
        (
            {"action": "recover_operation", "operation": "op-1"},
            "finish or undo it with `openstack protector operation recover op-1`",
        ),
        (
            {"action": "register_site", "site": "site-c"},
            "register it with `openstack protector site create --name site-c ...`",
        ),
        (
            {"action": "check_site", "site": "site-c"},
            "check --os-cloud (OS_CLOUD) or --protector-site, or register the site with "
            "`openstack protector site create --name site-c ...`",
        ),
        (
            {"action": "use_state_dir"},
            "choose another state directory with --protector-state-dir (PROTECTOR_STATE_DIR)",
        ),
        ({"action": "show_site", "site": "site-a"}, "see `openstack protector site show site-a`"),
        (
            {"action": "validate_site", "site": "site-b"},
            "run `openstack protector site validate site-b`",
        ),
        (
            {"action": "sync_force", "group": "web"},
            "run `openstack protector protection-group sync-force web`",
        ),
        (
            {"action": "sync_status", "group": "web"},
            "check `openstack protector protection-group sync-status web`",
        ),
        (
            {"action": "create_policy", "group": "web"},
            "re-run `openstack protector protection-group policy-create web ...`",
        ),
        (
            {"action": "list_members", "group": "web"},
            "see `openstack protector protection-group member-list web`",
        ),
        (
            {"action": "add_members", "group": "web"},
            "add VMs with `openstack protector protection-group member-add web ...`",
        ),
        (
            {"action": "cleanup_drill", "group": "web"},
            "run `openstack dr test failover cleanup web`",
        ),
        (
            {
                "action": "map_resource",
                "resource": "network",
                "source": "net-web",
                "site": "site-b",
                "isolated": False,
            },
            "pass --network-mapping net-web=<site-b network>",
        ),
        (
            {
                "action": "map_resource",
                "resource": "network",
                "source": "net-web",
                "site": "site-b",
                "isolated": True,
            },
            "pass --network-mapping net-web=<isolated network on site-b>",
        ),
        (
            {
                "action": "map_resource",
                "resource": "flavor",
                "source": "m1.large",
                "site": "site-b",
            },
            "pass --flavor-mapping m1.large=<site-b flavor>",
        ),
        (
            {
                "action": "map_resource",
                "resource": "security_group",
                "source": "web",
                "site": "site-b",
            },
            "pass --security-group-mapping web=<site-b security group>",
        ),
        ({"action": "check_mapping", "resource": "flavor"}, "check --flavor-mapping"),
        (
            {"action": "unplanned_failover", "group": "web"},
            "run an unplanned failover with "
            "`openstack protector protection-group failover web --force`",
        ),
        (
            {"action": "planned_failover", "group": "web"},
            "run a planned failover of 'web' (without --force), which stops the VMs first and "
            "loses no data",
        ),
        ({"action": "list_tenant_mappings"}, "see `openstack dr tenant mapping list`"),
    ],
)
def test_every_hint_is_worded_as_openstack_commands(hint, expected):
    assert advice(hint) == expected


def test_an_unknown_hint_keeps_the_engines_words():
    assert advice({"action": "something_new", "group": "web"}) is None
    error = engine_error(
        engine_errors.ConflictError, "refused", "do the new thing", hint={"action": "something_new"}
    )
    assert describe(error) == "refused: do the new thing"


def test_the_neutral_hint_is_replaced_and_findings_and_request_id_kept():
    error = engine_error(
        engine_errors.ValidationFailedError,
        "failover of protection group 'web' refused: the peer site is behind",
        "force a metadata sync (sync-force) of protection group 'web'",
        hint={"action": "sync_force", "group": "web"},
        findings=["network 'net-a' has no mapping: map network 'net-a' to a network on site-b"],
        request_id="req-7",
        kind="validation_failed",
    )
    assert describe(error) == (
        "failover of protection group 'web' refused: the peer site is behind: run "
        "`openstack protector protection-group sync-force web`\n"
        "  - network 'net-a' has no mapping: map network 'net-a' to a network on site-b"
        " (request id req-7)"
    )


def test_a_message_without_hint_stays_and_control_characters_are_escaped():
    error = engine_error(
        engine_errors.NotFoundError, "no protection group 'a\nb\x1b[2J'", kind="not_found"
    )
    assert describe(error) == "no protection group 'a\\nb\\u{1b}[2J'"


class TestRefusalsAreCommandErrors(CommandTest):
    def test_an_engine_refusal_is_one_line_with_openstack_advice(self):
        self.engine.member.side_effect = engine_error(
            engine_errors.UnavailableError,
            "Cannot modify protection group - remote site unreachable",
            "force a metadata sync (sync-force) of protection group 'prod-web-app'",
            hint={"action": "sync_force", "group": "prod-web-app"},
            kind="unavailable",
        )
        error = self.assertRaises(
            exceptions.CommandError,
            self.run_command,
            protection_group.ShowMember,
            ["prod-web-app", "m-1"],
        )
        self.assertEqual(
            "Cannot modify protection group - remote site unreachable: run "
            "`openstack protector protection-group sync-force prod-web-app`",
            str(error),
        )
        self.assertEqual("", self.stdout)

    def test_every_kind_is_a_command_error(self):
        for cls in (
            engine_errors.NotFoundError,
            engine_errors.PermissionDeniedError,
            engine_errors.InvalidInputError,
            engine_errors.OutOfSyncError,
            engine_errors.ConfigInvalidError,
            engine_errors.TimeoutError,
            engine_errors.ProtectorError,
        ):
            self.engine.groups.side_effect = cls("refused", kind="x")
            error = self.assertRaises(
                exceptions.CommandError, self.run_command, protection_group.ListProtectionGroup, []
            )
            self.assertEqual("refused", str(error))

    def test_an_error_opening_the_engine_is_worded_too(self):
        def refuse():
            raise engine_error(
                engine_errors.NotFoundError,
                "site 'site-x' is not known here",
                "check the site you act as, or register site 'site-x'",
                hint={"action": "check_site", "site": "site-x"},
                kind="not_found",
            )

        self.client._open_engine = refuse
        self.client._engine = None
        error = self.assertRaises(
            exceptions.CommandError, self.run_command, protection_group.ListProtectionGroup, []
        )
        self.assertEqual(
            "site 'site-x' is not known here: check --os-cloud (OS_CLOUD) or --protector-site, or "
            "register the site with `openstack protector site create --name site-x ...`",
            str(error),
        )

    def test_other_exceptions_are_not_swallowed(self):
        self.engine.groups.side_effect = RuntimeError("a bug")
        self.assertRaises(RuntimeError, self.run_command, protection_group.ListProtectionGroup, [])

    def test_records_print_after_a_refusal_nothing(self):
        self.engine.groups.return_value = [records.group()]
        self.assertEqual(0, self.run_command(protection_group.ListProtectionGroup, []))
