"""The long operations: the spec's command lines become the right engine calls (and the spec's
flag quirks the documented safe meaning), ``--wait`` shows live progress on stderr and prints
the final record, and without ``--wait`` the operation runs in a detached background process."""

from __future__ import annotations

import json
import os
from types import SimpleNamespace

from helpers import CommandTest
from osc_lib import exceptions
from protector import exceptions as engine_errors
from protector import records, views

from protectorclient.osc.v1 import dr, protection_group

NO_MAPPINGS = {"networks": {}, "flavors": {}, "security_groups": {}}


class OperationTest(CommandTest):
    def setUp(self):
        super().setUp()
        self.final = records.operation(status="completed", progress=100, phase="finalization")
        self.updates = []

        def wait(timeout=None, on_progress=None):
            for update in self.updates:
                on_progress(update)
            return self.final

        for method in (
            "failover",
            "failback",
            "test_failover",
            "test_failover_cleanup",
            "site_failover",
        ):
            handle = getattr(self.engine, method).return_value
            handle.id = records.OP_ID
            handle.plan = None
            handle.wait.side_effect = wait
            handle.status.return_value = records.operation(status="pending")


class TestSpecCommandLines(OperationTest):
    def test_planned_failover_with_the_spec_mappings(self):
        # spec/000 example 2: several pairs after one option, options repeated.
        self.run_command(
            protection_group.Failover,
            [
                "prod-three-tier-app",
                "--network-mapping",
                "net-primary-web=net-secondary-web",
                "net-primary-db=net-secondary-db",
                "--flavor-mapping",
                "m1.large=m2.large",
                "m1.xlarge=m2.xlarge",
                "--network-mapping",
                "net-primary-mgmt=net-secondary-mgmt",
                "--wait",
            ],
        )
        self.engine.failover.assert_called_once_with(
            "prod-three-tier-app",
            unplanned=False,
            networks={
                "net-primary-web": "net-secondary-web",
                "net-primary-db": "net-secondary-db",
                "net-primary-mgmt": "net-secondary-mgmt",
            },
            flavors={"m1.large": "m2.large", "m1.xlarge": "m2.xlarge"},
            security_groups={},
        )

    def test_failover_force_is_the_unplanned_failover_never_skipped_checks(self):
        # spec/000 describes --force as "skip the pre-flight checks"; the plugin keeps the
        # engine's safe meaning: an unplanned failover, refused while the source answers.
        for flag in ("--force", "--unplanned"):
            self.engine.failover.reset_mock()
            self.run_command(protection_group.Failover, ["prod-web-app", flag, "--wait"])
            self.engine.failover.assert_called_once_with(
                "prod-web-app", unplanned=True, **NO_MAPPINGS
            )

    def test_failover_refused_because_the_source_answers_says_to_run_a_planned_one(self):
        self.engine.failover.side_effect = engine_errors.ValidationFailedError(
            "failover of protection group 'prod-web-app' refused: site-a and its FlashArray "
            "answer: run a planned failover of protection group 'prod-web-app', which stops the "
            "VMs first and loses no data",
            kind="validation_failed",
            hint={"action": "planned_failover", "group": "prod-web-app"},
        )
        error = self.assertRaises(
            exceptions.CommandError,
            self.run_command,
            protection_group.Failover,
            ["prod-web-app", "--force", "--wait"],
        )
        self.assertEqual(
            "failover of protection group 'prod-web-app' refused: site-a and its FlashArray "
            "answer: run a planned failover of 'prod-web-app' (without --force), which stops the "
            "VMs first and loses no data",
            str(error),
        )

    def test_quoted_pairs_and_bad_pairs(self):
        self.run_command(protection_group.Failover, ["g", "--network-mapping", "a=b c=d", "--wait"])
        self.assertEqual({"a": "b", "c": "d"}, self.engine.failover.call_args.kwargs["networks"])
        self.engine.failover.reset_mock()
        for pairs, message in (
            (
                ["net-a"],
                "network mapping 'net-a' is not SOURCE=TARGET: write it as <source>=<target>",
            ),
            (["a="], "network mapping 'a=' has an empty side: write it as <source>=<target>"),
            (["a=b", "a=c"], "network 'a' is mapped twice (b and c): give one target"),
        ):
            error = self.assertRaises(
                exceptions.CommandError,
                self.run_command,
                protection_group.Failover,
                ["g", "--network-mapping", *pairs, "--wait"],
            )
            self.assertEqual(message, str(error))
        self.engine.failover.assert_not_called()

    def test_failback_as_in_spec_001(self):
        self.run_command(
            protection_group.Failback,
            [
                "prod-web-app",
                "--reverse-replication",
                "--network-mapping",
                "net-secondary-web=net-primary-web",
                "net-secondary-db=net-primary-db",
                "--flavor-mapping",
                "m2.large=m1.large",
                "--wait",
            ],
        )
        self.engine.failback.assert_called_once_with(
            "prod-web-app",
            reverse_replication=True,
            force=False,
            networks={"net-secondary-web": "net-primary-web", "net-secondary-db": "net-primary-db"},
            flavors={"m2.large": "m1.large"},
            security_groups={},
        )

    def test_failback_defaults_are_the_specs(self):
        # spec/001: --reverse-replication and --force default to false (the Python API's
        # reverse_replication defaults to true: the plugin passes the spec's value).
        self.run_command(protection_group.Failback, ["prod-web-app", "--force", "--wait"])
        self.engine.failback.assert_called_once_with(
            "prod-web-app", reverse_replication=False, force=True, **NO_MAPPINGS
        )

    def test_drill_and_cleanup_as_in_spec_002(self):
        self.run_command(
            dr.TestFailover,
            [
                "prod-ecommerce-db",
                "--network-mapping",
                "prod-net=dr-test-net",
                "--all-projects",
                "--wait",
            ],
        )
        self.engine.test_failover.assert_called_once_with(
            "prod-ecommerce-db",
            networks={"prod-net": "dr-test-net"},
            flavors={},
            security_groups={},
        )
        self.run_command(dr.TestFailoverCleanup, ["prod-ecommerce-db", "--wait"])
        self.engine.test_failover_cleanup.assert_called_once_with("prod-ecommerce-db")

    def test_site_failover_as_in_spec_002(self):
        self.run_command(
            dr.SiteFailover, ["cluster1", "--failover-type", "unplanned", "--force", "--wait"]
        )
        # Without --concurrency, the engine's own default (not one repeated here).
        self.engine.site_failover.assert_called_once_with("cluster1", unplanned=True, groups=[])
        self.engine.site_failover.reset_mock()
        self.run_command(
            dr.SiteFailover,
            [
                "site-a",
                "--failover-type",
                "planned",
                "--group",
                "a",
                "--group",
                "b",
                "--concurrency",
                "2",
                "--wait",
            ],
        )
        self.engine.site_failover.assert_called_once_with(
            "site-a", unplanned=False, concurrency=2, groups=["a", "b"]
        )

    def test_unplanned_site_failover_needs_force(self):
        error = self.assertRaises(
            exceptions.CommandError,
            self.run_command,
            dr.SiteFailover,
            ["cluster1", "--failover-type", "unplanned", "--wait"],
        )
        self.assertIn("confirm with --force", str(error))
        self.engine.site_failover.assert_not_called()
        self.assertRaises(
            SystemExit,
            self.parse,
            dr.SiteFailover,
            ["s", "--failover-type", "planned", "--concurrency", "0"],
        )
        self.assertRaises(
            SystemExit, self.parse, dr.SiteFailover, ["s", "--failover-type", "maybe"]
        )


class TestWait(OperationTest):
    def test_progress_lines_on_stderr_and_the_final_record_on_stdout(self):
        self.updates = [
            records.operation(progress=20, phase="storage", steps_completed=["validate_sites"]),
            records.operation(
                progress=45,
                phase="storage",
                steps_completed=["validate_sites", "create_volumes_site_b"],
                steps_failed=["attach\x1b[2J"],
            ),
        ]
        out = self.run_json(protection_group.Failover, ["prod-web-app", "--wait"])
        self.assertEqual(
            "[ 20%] storage: validate_sites\n"
            "[ 45%] storage: create_volumes_site_b\n"
            "[ 45%] storage: attach\\u{1b}[2J FAILED\n",
            self.stderr,
        )
        # spec/000 example 1: the record's id field is operation_id.
        self.assertEqual(dict(views.show("operation", self.final, id_field="operation_id")), out)
        self.assertEqual(f"op-{records.OP_ID}", out["operation_id"])

    def test_an_operation_that_ended_failed_prints_then_fails(self):
        self.final = records.operation(
            status="failed", error_message="Policy does not allow volume_extension:volume_manage"
        )
        error = self.assertRaises(
            exceptions.CommandError,
            self.run_command,
            protection_group.Failback,
            ["prod-web-app", "--wait"],
        )
        self.assertIn("| status ", self.stdout)
        self.assertEqual(
            "failover of protection group 'prod-web-app' ended failed (Policy does not allow "
            "volume_extension:volume_manage): see "
            f"`openstack protector operation show op-{records.OP_ID}`",
            str(error),
        )

    def test_data_at_risk_of_an_unplanned_failover(self):
        handle = self.engine.failover.return_value
        handle.plan = SimpleNamespace(
            recovery_point=SimpleNamespace(data_at_risk="writes of the last 4 minutes")
        )
        self.run_command(protection_group.Failover, ["prod-web-app", "--force", "--wait"])
        self.assertTrue(self.stderr.startswith("Data at risk: writes of the last 4 minutes\n"))

    def test_ctrl_c_says_how_to_recover(self):
        self.engine.failover.return_value.wait.side_effect = KeyboardInterrupt
        self.assertRaises(
            KeyboardInterrupt,
            self.run_command,
            protection_group.Failover,
            ["prod-web-app", "--wait"],
        )
        self.assertIn(
            f"finish or undo it with `openstack protector operation recover op-{records.OP_ID}`",
            self.stderr,
        )

    def test_site_failover_progress_per_group(self):
        result = records.group_result
        self.updates = [
            records.operation(
                operation_type="site_failover",
                progress=10,
                group_results=[result(status="running"), result(group_id="g2", group_name="db")],
            ),
            records.operation(
                operation_type="site_failover",
                progress=50,
                group_results=[
                    result(status="completed"),
                    result(
                        group_id="g2",
                        group_name="db",
                        status="failed",
                        error_message="boom\nsecond line",
                    ),
                ],
            ),
        ]
        self.final = records.operation(
            operation_type="site_failover",
            group_id=None,
            group_name=None,
            status="partial",
            group_results=[
                result(status="completed"),
                result(group_id="g2", group_name="db", status="failed", error_message="boom"),
            ],
        )
        self.assertRaises(
            exceptions.CommandError,
            self.run_command,
            dr.SiteFailover,
            ["site-a", "--failover-type", "planned", "--wait"],
        )
        self.assertEqual(
            "[ 10%] group prod-web-app: running\n"
            "[ 50%] group prod-web-app: completed\n"
            "[ 50%] group db: failed (boom)\n",
            self.stderr,
        )
        record, groups = self.stdout.split("\n\n")
        self.assertIn("| db ", groups)


class TestBackground(OperationTest):
    """Without --wait: a real fork, as in OSC. The test learns that the background process has
    ended from a pipe it inherited (EOF once it exits), never by sleeping."""

    def run_in_background(self, cls, argv):
        read_end, write_end = os.pipe()
        try:
            self.run_command(cls, argv)
        finally:
            os.close(write_end)
            with os.fdopen(read_end, "rb") as pipe:
                pipe.read()  # returns once every process holding the write end has ended

    def test_the_pending_record_is_printed_and_the_operation_runs_on_after_the_command(self):
        self.updates = [
            records.operation(
                progress=45, phase="storage", steps_completed=["create_volumes_site_b"]
            )
        ]
        self.run_in_background(
            protection_group.Failover, ["prod-web-app", "--network-mapping", "a=b", "-f", "json"]
        )
        pending = records.operation(status="pending")
        self.assertEqual(
            dict(views.show("operation", pending, id_field="operation_id")), json.loads(self.stdout)
        )
        # Started in the background process, not in this one.
        self.engine.failover.assert_not_called()
        log = os.path.join(self.state_dir, "operations", f"op-{records.OP_ID}.log")
        self.assertIn(f"runs in the background (output: {log})", self.stderr)
        with open(log) as f:
            text = f.read()
        self.assertTrue(text.startswith(f"Background run of operation op-{records.OP_ID}\n"), text)
        self.assertIn("[ 45%] storage: create_volumes_site_b\n", text)
        # The final record, in the command's format.
        final = json.loads(text[text.index("{") :])
        self.assertEqual("completed", final["status"])

    def test_a_refusal_is_this_commands_error_and_nothing_runs(self):
        self.engine.failover.side_effect = engine_errors.OutOfSyncError(
            "protection group 'prod-web-app' is out of sync with site-b: force a metadata sync "
            "(sync-force) of protection group 'prod-web-app'",
            kind="out_of_sync",
            hint={"action": "sync_force", "group": "prod-web-app"},
        )
        error = self.assertRaises(
            exceptions.CommandError,
            self.run_in_background,
            protection_group.Failover,
            ["prod-web-app"],
        )
        self.assertEqual(
            "protection group 'prod-web-app' is out of sync with site-b: run "
            "`openstack protector protection-group sync-force prod-web-app`",
            str(error),
        )
        self.assertEqual("", self.stdout)
        self.assertFalse(os.path.exists(os.path.join(self.state_dir, "operations")))

    def test_a_background_process_that_dies_before_reporting(self):
        self.engine.test_failover_cleanup.side_effect = lambda *a, **k: os._exit(3)
        error = self.assertRaises(
            exceptions.CommandError, self.run_in_background, dr.TestFailoverCleanup, ["g"]
        )
        self.assertIn("ended before it reported whether the operation started", str(error))

    def test_where_fork_is_missing_the_operation_runs_in_the_foreground(self):
        import fixtures

        self.useFixture(
            fixtures.MonkeyPatch("protectorclient.osc.longrun.can_detach", lambda: False)
        )
        out = self.run_json(protection_group.Failover, ["prod-web-app"])
        self.engine.failover.assert_called_once_with("prod-web-app", unplanned=False, **NO_MAPPINGS)
        self.assertEqual("completed", out["status"])
        self.assertIn("cannot run the operation in the background", self.stderr)
