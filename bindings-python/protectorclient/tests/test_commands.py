"""Each command: its arguments become the right engine call, and what it prints is exactly
what ``protector.views`` gives (columns and rows of a list, fields of a record)."""

from __future__ import annotations

import json

from helpers import CommandTest
from osc_lib import exceptions
from protector import records, views

from protectorclient.osc import display
from protectorclient.osc.v1 import consistency_group, dr, operation, protection_group, site


def as_objects(kind, records_):
    """What `-f json` prints for a list: objects keyed by field name, as the CLI's."""
    keys_and_headings = views.columns(kind)
    return [
        {key: value for (key, _), value in zip(keys_and_headings, row, strict=True)}
        for row in views.rows(kind, records_)
    ]


class TestSite(CommandTest):
    def test_create_registers_the_site_as_the_spec_writes_it(self):
        self.engine.create_site.return_value = records.site()
        out = self.run_json(
            site.CreateSite,
            [
                "--name",
                "site-a",
                "--description",
                "Primary datacenter - Boston",
                "--site-type",
                "primary",
                "--auth-url",
                "http://10.0.1.10:5000/v3",
                "--region-name",
                "RegionOne",
            ],
        )
        self.engine.create_site.assert_called_once_with(
            "site-a",
            site_type="primary",
            auth_url="http://10.0.1.10:5000/v3",
            region_name="RegionOne",
            cloud=None,
            description="Primary datacenter - Boston",
        )
        self.assertEqual(dict(views.show("site", records.site())), out)

    def test_list_columns_and_rows_come_from_the_view(self):
        sites = [records.site(), records.site(name="site-b", site_type="secondary")]
        self.engine.sites.return_value = sites
        command, parsed = self.parse(site.ListSite, [])
        columns, rows = command.take_action(parsed)
        self.assertEqual([h for _, h in views.columns("sites")], list(columns))
        self.assertEqual(views.rows("sites", sites), [tuple(r) for r in rows])
        # The table shows the spec's headings (spec/004 example 1: `type`).
        self.run_command(site.ListSite, [])
        header = self.stdout.splitlines()[1]
        self.assertEqual(
            ["id", "name", "type", "auth_url", "region_name", "status"],
            [h.strip() for h in header.strip("|").split("|")],
        )

    def test_show_and_list_volume_types(self):
        self.engine.site.return_value = records.site()
        self.assertEqual(
            dict(views.show("site", records.site())), self.run_json(site.ShowSite, ["site-a"])
        )
        self.engine.site.assert_called_once_with("site-a")

        self.app.stdout.seek(0)
        self.app.stdout.truncate()
        self.engine.volume_types.return_value = [records.volume_type()]
        out = self.run_json(site.ListVolumeTypes, ["site-b"])
        self.engine.volume_types.assert_called_once_with("site-b")
        self.assertEqual(as_objects("volume_types", [records.volume_type()]), out)

    def test_validate_prints_the_checks_and_fails_when_not_active(self):
        self.engine.validate_site.return_value = records.site_validation(
            status="error", cinder="error: volume manage denied"
        )
        error = self.assertRaises(
            exceptions.CommandError, self.run_command, site.ValidateSite, ["site-b"]
        )
        self.engine.validate_site.assert_called_once_with("site-b")
        self.assertIn("| cinder", self.stdout)  # printed first
        self.assertEqual(
            "site 'site-a' is not ready for DR\n  - cinder: error: volume manage denied", str(error)
        )

    def test_validate_unreachable_and_refused_credentials(self):
        self.engine.validate_site.return_value = records.site_validation(
            status="unreachable", keystone="error: connection refused"
        )
        error = self.assertRaises(
            exceptions.CommandError, self.run_command, site.ValidateSite, ["site-a"]
        )
        self.assertEqual("site 'site-a' is unreachable: error: connection refused", str(error))
        self.engine.validate_site.return_value = records.site_validation(
            status="error",
            keystone="error: 401 The request you have made requires authentication",
            keystone_error="unauthenticated",
        )
        error = self.assertRaises(
            exceptions.CommandError, self.run_command, site.ValidateSite, ["site-a"]
        )
        self.assertEqual(
            "site 'site-a' refused the credentials of its clouds.yaml entry: 401 The request you "
            "have made requires authentication",
            str(error),
        )

    def test_validate_active_succeeds(self):
        self.engine.validate_site.return_value = records.site_validation()
        self.assertEqual(0, self.run_command(site.ValidateSite, ["site-a"]))


class TestProtectionGroup(CommandTest):
    def test_create_as_in_spec_003(self):
        self.engine.create_group.return_value = records.group(status="creating")
        out = self.run_json(
            protection_group.CreateProtectionGroup,
            [
                "--name",
                "prod-web-app",
                "--description",
                "Production web application tier",
                "--replication-type",
                "async",
                "--primary-site",
                "site-a",
                "--secondary-site",
                "site-b",
                "--volume-type",
                "replicated-ssd",
            ],
        )
        self.engine.create_group.assert_called_once_with(
            "prod-web-app",
            primary_site="site-a",
            secondary_site="site-b",
            volume_type="replicated-ssd",
            replication_type="async",
            description="Production web application tier",
        )
        self.assertEqual("creating", out["status"])
        self.assertEqual(dict(views.show("group", records.group(status="creating"))), out)

    def test_replication_type_is_one_of_the_spec_values(self):
        self.assertRaises(
            SystemExit,
            self.parse,
            protection_group.CreateProtectionGroup,
            [
                "--name",
                "a",
                "--replication-type",
                "semi",
                "--primary-site",
                "a",
                "--secondary-site",
                "b",
                "--volume-type",
                "t",
            ],
        )

    def test_list_show_delete_fence(self):
        groups = [records.group(), records.group(name="db", id="g2")]
        self.engine.groups.return_value = groups
        self.assertEqual(
            as_objects("groups", groups), self.run_json(protection_group.ListProtectionGroup, [])
        )
        for cls, method in (
            (protection_group.ShowProtectionGroup, "group"),
            (protection_group.DeleteProtectionGroup, "delete_group"),
            (protection_group.FenceProtectionGroup, "fence"),
        ):
            self.app.stdout.seek(0)
            self.app.stdout.truncate()
            getattr(self.engine, method).return_value = records.group(status="failed_over")
            out = self.run_json(cls, ["prod-web-app"])
            getattr(self.engine, method).assert_called_once_with("prod-web-app")
            self.assertEqual(dict(views.show("group", records.group(status="failed_over"))), out)

    def test_member_commands(self):
        member = records.member()
        self.engine.add_member.return_value = member
        out = self.run_json(
            protection_group.AddMember,
            ["prod-web-app", "--instance-id", "a1b2c3d4-1111-2222-3333-aabbccddeeff"],
        )
        self.engine.add_member.assert_called_once_with(
            "prod-web-app", "a1b2c3d4-1111-2222-3333-aabbccddeeff"
        )
        # spec/003 example 2's fields.
        self.assertEqual(
            ["id", "instance_id", "instance_name", "status", "volumes_added"], list(out)
        )
        self.assertEqual(dict(views.show("member_added", member)), out)

        self.engine.members.return_value = [member]
        command, parsed = self.parse(protection_group.ListMember, ["prod-web-app"])
        columns, rows = command.take_action(parsed)
        self.assertEqual(
            ["ID", "Instance Name", "Instance ID", "Status", "Volumes"], list(columns)[:5]
        )
        # Lists (depends_on) reach cliff as formattable columns, as every list value does.
        self.assertEqual(
            [tuple(display.cell(v) for v in r) for r in views.rows("members", [member])],
            [tuple(r) for r in rows],
        )

        self.engine.member.return_value = member
        command, parsed = self.parse(protection_group.ShowMember, ["prod-web-app", "m-1"])
        command.take_action(parsed)
        self.engine.member.assert_called_once_with("prod-web-app", "m-1")

        self.engine.remove_member.return_value = member
        command, parsed = self.parse(
            protection_group.RemoveMember, ["prod-web-app", "--member-id", "m-1"]
        )
        fields, values = command.take_action(parsed)
        self.engine.remove_member.assert_called_once_with("prod-web-app", "m-1")
        self.assertEqual([f for f, _ in views.show("member", member)], list(fields))

    def test_member_add_resolves_a_server_name_on_the_site_it_stands_on(self):
        self.engine.group.return_value = records.group(current_primary_site="site-a")
        server = type("Server", (), {"id": "a1b2c3d4-1111-2222-3333-aabbccddeeff"})()
        compute = self.app.client_manager.compute = type("Compute", (), {})()
        calls = []
        compute.servers = lambda **query: calls.append(query) or [server]
        self.engine.add_member.return_value = records.member()
        self.run_command(protection_group.AddMember, ["prod-web-app", "--instance-id", "web.1"])
        self.assertEqual([{"name": "^web\\.1$"}], calls)
        self.engine.add_member.assert_called_once_with("prod-web-app", server.id)

        compute.servers = lambda **query: [server, server]
        error = self.assertRaises(
            exceptions.CommandError,
            self.run_command,
            protection_group.AddMember,
            ["prod-web-app", "--instance-id", "web"],
        )
        self.assertEqual(
            "2 servers are named 'web' on site-a: give the Nova id instead", str(error)
        )

        self.engine.group.return_value = records.group(current_primary_site="site-b")
        error = self.assertRaises(
            exceptions.CommandError,
            self.run_command,
            protection_group.AddMember,
            ["prod-web-app", "--instance-id", "web"],
        )
        self.assertIn("run the command with --os-cloud site-b", str(error))

    def test_policy_create_with_the_spec_options(self):
        self.engine.create_policy.return_value = records.policy()
        self.engine.group.return_value = records.group()
        out = self.run_json(
            protection_group.CreatePolicy,
            [
                "prod-web-app",
                "--primary-fa-url",
                "https://flasharray-a.example.com",
                "--primary-fa-token",
                "T-1234",
                "--secondary-fa-url",
                "https://flasharray-b.example.com",
                "--secondary-fa-token",
                "T-8765",
                "--pure-pg-name",
                "pg-prod-web-app",
                "--replication-interval",
                "300",
                "--rpo-minutes",
                "15",
            ],
        )
        self.engine.create_policy.assert_called_once_with(
            "prod-web-app",
            pure_pg_name="pg-prod-web-app",
            primary_array_url="https://flasharray-a.example.com",
            primary_array_token="T-1234",
            secondary_array_url="https://flasharray-b.example.com",
            secondary_array_token="T-8765",
            primary_array_ca_file=None,
            secondary_array_ca_file=None,
            allow_insecure_http=False,
            replication_interval=300,
            rpo_minutes=15,
        )
        self.assertEqual(dict(views.show("policy", records.policy(), group=records.group())), out)
        self.assertNotIn("T-1234", self.stdout)

    def test_policy_tokens_from_files_environment_and_stdin(self):
        self.engine.create_policy.return_value = records.policy()
        self.engine.group.return_value = records.group()
        token_file = f"{self.state_dir}/a.token"
        with open(token_file, "w") as f:
            f.write("  T-from-file\n")
        self.useFixture(
            __import__("fixtures").EnvironmentVariable("PROTECTOR_SECONDARY_FA_TOKEN", "T-env")
        )
        base = [
            "prod-web-app",
            "--primary-fa-url",
            "https://a",
            "--secondary-fa-url",
            "https://b",
            "--pure-pg-name",
            "pg",
        ]
        self.run_command(
            protection_group.CreatePolicy, [*base, "--primary-fa-token-file", token_file]
        )
        kwargs = self.engine.create_policy.call_args.kwargs
        self.assertEqual(
            ("T-from-file", "T-env"),
            (kwargs["primary_array_token"], kwargs["secondary_array_token"]),
        )

        self.engine.create_policy.reset_mock()
        error = self.assertRaises(
            exceptions.CommandError,
            self.run_command,
            protection_group.CreatePolicy,
            [*base, "--primary-fa-token-file", "-", "--secondary-fa-token-file", "-"],
        )
        self.assertIn("only one token can be read from stdin", str(error))
        empty = f"{self.state_dir}/empty.token"
        open(empty, "w").close()
        error = self.assertRaises(
            exceptions.CommandError,
            self.run_command,
            protection_group.CreatePolicy,
            [*base, "--primary-fa-token-file", empty],
        )
        self.assertIn(
            f"the primary FlashArray's API token from --primary-fa-token-file {empty} is empty",
            str(error),
        )
        self.engine.create_policy.assert_not_called()

    def test_sync_status_prints_the_spec_text_and_fails_when_out_of_sync(self):
        self.engine.sync_status.return_value = records.sync_status()
        self.run_command(protection_group.SyncStatus, ["prod-web-app"])
        self.engine.sync_status.assert_called_once_with("prod-web-app")
        self.assertTrue(
            self.stdout.startswith("Sync Status: ✅ IN SYNC\n\nLocal Metadata:\n  Version: 4\n"),
            self.stdout,
        )
        self.assertIn("  Last Sync: 2025-01-15T09:15:05Z (", self.stdout)
        self.assertIn("  ✅ Versions match (4 = 4)\n", self.stdout)
        self.assertTrue(self.stdout.endswith("Both sites have identical metadata.\n"))

        self.app.stdout.seek(0)
        self.app.stdout.truncate()
        self.engine.sync_status.return_value = records.sync_status(
            in_sync=False, remote_status="FAILED", remote_version=3, error="Connection timeout"
        )
        error = self.assertRaises(
            exceptions.CommandError, self.run_command, protection_group.SyncStatus, ["prod-web-app"]
        )
        self.assertIn("Sync Status: ❌ OUT OF SYNC\n", self.stdout)
        self.assertIn("  Error: Connection timeout\n", self.stdout)
        self.assertIn("openstack protector protection-group sync-force prod-web-app\n", self.stdout)
        self.assertEqual(
            "protection group 'prod-web-app' is OUT OF SYNC (local version 4 on site-a, remote "
            "version 3 on site-b): run "
            "`openstack protector protection-group sync-force prod-web-app`",
            str(error),
        )

    def test_sync_status_as_data(self):
        self.engine.sync_status.return_value = records.sync_status()
        out = self.run_json(protection_group.SyncStatus, ["prod-web-app"])
        self.assertEqual(dict(views.show("sync_status", records.sync_status())), out)

    def test_sync_force_text_and_data(self):
        self.engine.sync_force.return_value = records.sync_force()
        self.run_command(protection_group.SyncForce, ["prod-web-app"])
        self.assertIn("  ✅ site-b is reachable\n", self.stdout)
        self.assertIn("  Pushing to site-b... ✓\n", self.stdout)
        self.assertTrue(self.stdout.endswith("Both sites now at version 5\n"))
        self.app.stdout.seek(0)
        self.app.stdout.truncate()
        out = self.run_json(protection_group.SyncForce, ["prod-web-app"])
        self.assertEqual(dict(views.show("sync_force", records.sync_force())), out)

    def test_sync_log_with_limit(self):
        entries = [records.sync_log_entry()]
        self.engine.sync_log.return_value = entries
        out = self.run_json(protection_group.SyncLog, ["prod-web-app", "--limit", "3"])
        self.engine.sync_log.assert_called_once_with("prod-web-app", limit=3)
        self.assertEqual(as_objects("sync_log", entries), out)

    def test_mapping_set_and_list(self):
        stored = records.group_mappings()
        self.engine.set_mappings.return_value = stored
        out = self.run_json(
            protection_group.SetMapping,
            [
                "prod-web-app",
                "--network-mapping",
                "net-primary-web=net-secondary-web",
                "net-primary-db=net-secondary-db",
                "--flavor-mapping",
                "m1.large=m2.large",
            ],
        )
        self.engine.set_mappings.assert_called_once_with(
            "prod-web-app",
            from_site=None,
            replace=False,
            networks={"net-primary-web": "net-secondary-web", "net-primary-db": "net-secondary-db"},
            flavors={"m1.large": "m2.large"},
            security_groups={},
        )
        self.assertEqual(as_objects("mappings", [stored]), out)

        self.engine.mappings.return_value = [stored]
        self.app.stdout.seek(0)
        self.app.stdout.truncate()
        self.assertEqual(
            as_objects("mappings", [stored]),
            self.run_json(protection_group.ListMapping, ["prod-web-app"]),
        )

    def test_mapping_set_needs_a_mapping_or_replace(self):
        error = self.assertRaises(
            exceptions.CommandError, self.run_command, protection_group.SetMapping, ["prod-web-app"]
        )
        self.assertIn("no mapping given", str(error))
        self.engine.set_mappings.return_value = records.group_mappings()
        self.run_command(
            protection_group.SetMapping, ["prod-web-app", "--replace", "--from-site", "site-b"]
        )
        self.engine.set_mappings.assert_called_once_with(
            "prod-web-app",
            from_site="site-b",
            replace=True,
            networks={},
            flavors={},
            security_groups={},
        )


class TestConsistencyGroupAndTenants(CommandTest):
    def test_consistency_group_show(self):
        self.engine.consistency_group.return_value = records.consistency_group()
        out = self.run_json(consistency_group.ShowConsistencyGroup, ["prod-web-app"])
        self.engine.consistency_group.assert_called_once_with("prod-web-app")
        self.assertEqual(dict(views.show("consistency_group", records.consistency_group())), out)

    def test_tenant_mapping_create_and_list(self):
        self.engine.create_tenant_mapping.return_value = records.tenant_mapping()
        out = self.run_json(
            dr.CreateTenantMapping,
            [
                "--local-tenant",
                "p-a",
                "--remote-site",
                "site-b",
                "--remote-tenant",
                "p-b",
                "--description",
                "Production tenant mapping",
            ],
        )
        self.engine.create_tenant_mapping.assert_called_once_with(
            "p-a", "site-b", "p-b", description="Production tenant mapping"
        )
        self.assertEqual(dict(views.show("tenant_mapping", records.tenant_mapping())), out)
        self.engine.tenant_mappings.return_value = [records.tenant_mapping()]
        self.app.stdout.seek(0)
        self.app.stdout.truncate()
        self.assertEqual(
            as_objects("tenant_mappings", [records.tenant_mapping()]),
            self.run_json(dr.ListTenantMapping, []),
        )


class TestOperation(CommandTest):
    def test_list_and_show(self):
        ops = [records.operation(), records.operation(id="b2", operation_type="failback")]
        self.engine.operations.return_value = ops
        self.assertEqual(as_objects("operations", ops), self.run_json(operation.ListOperation, []))
        self.engine.operations.assert_called_once_with(
            group=None, status=[], operation_type=[], limit=None
        )
        self.engine.operations.reset_mock()
        self.app.stdout.seek(0)
        self.app.stdout.truncate()
        self.run_json(
            operation.ListOperation,
            [
                "--protection-group",
                "prod-web-app",
                "--status",
                "failed,partial",
                "--status",
                "running",
                "--type",
                "failover",
                "--limit",
                "5",
            ],
        )
        self.engine.operations.assert_called_once_with(
            group="prod-web-app",
            status=["failed,partial", "running"],
            operation_type=["failover"],
            limit=5,
        )

        op = records.operation(
            status="running", progress=45, steps_completed=["validate_sites", "create_dr_record"]
        )
        self.engine.operation.return_value = op
        self.app.stdout.seek(0)
        self.app.stdout.truncate()
        out = self.run_json(operation.ShowOperation, [f"op-{records.OP_ID}"])
        self.engine.operation.assert_called_once_with(f"op-{records.OP_ID}")
        self.assertEqual(dict(views.show("operation", op, id_field="id")), out)
        # spec/000 example 3: a JSON-style list in the table, `null` for what is absent.
        self.app.stdout.seek(0)
        self.app.stdout.truncate()
        self.run_command(operation.ShowOperation, [records.OP_ID])
        self.assertIn('["validate_sites", "create_dr_record"]', self.stdout)
        self.assertRegex(self.stdout, r"\| completed_at +\| null +\|")

    def test_site_failover_record_has_one_row_per_group(self):
        op = records.operation(
            operation_type="site_failover",
            group_id=None,
            group_name=None,
            status="partial",
            group_results=[
                records.group_result(status="completed", operation_id="o1"),
                records.group_result(
                    group_name="db", group_id="g2", status="failed", error_message="boom"
                ),
            ],
        )
        self.engine.operation.return_value = op
        out = self.run_json(operation.ShowOperation, ["x"])
        self.assertEqual(
            [
                dict(zip([k for k, _ in views.columns("group_results")], row, strict=True))
                for row in views.rows("group_results", [op])
            ],
            out["group_results"],
        )
        # The table form prints the groups as a table after the record.
        self.app.stdout.seek(0)
        self.app.stdout.truncate()
        self.run_command(operation.ShowOperation, ["x"])
        record, groups = self.stdout.split("\n\n")
        self.assertRegex(record, r"\| operation_type +\| site_failover")
        self.assertIn("| protection_group | group_id", groups)
        self.assertIn("| db ", groups)

    def test_cancel_recover_and_wait(self):
        self.engine.cancel_operation.return_value = records.operation(status="running")
        self.run_command(operation.CancelOperation, ["op-1"])
        self.engine.cancel_operation.assert_called_once_with("op-1")
        self.assertIn(
            f"follow it with `openstack protector operation wait op-{records.OP_ID}`", self.stderr
        )

        self.engine.recover_operation.return_value = records.operation(status="completed")
        self.run_command(operation.RecoverOperation, ["op-1", "--rollback"])
        self.engine.recover_operation.assert_called_once_with("op-1", roll_back=True)

    def test_wait_shows_progress_and_fails_when_the_operation_failed(self):
        handle = self.engine.follow.return_value
        handle.status.return_value = records.operation(steps_completed=["validate_sites"])

        def wait(timeout=None, on_progress=None):
            on_progress(
                records.operation(
                    progress=20, phase="storage", steps_completed=["validate_sites", "identify"]
                )
            )
            return records.operation(status="failed", error_message="volume manage denied\nmore")

        handle.wait.side_effect = wait
        error = self.assertRaises(
            exceptions.CommandError, self.run_command, operation.WaitOperation, ["op-1"]
        )
        self.engine.follow.assert_called_once_with("op-1")
        # Only what happened after the command started following it.
        self.assertEqual("[ 20%] storage: identify\n", self.stderr)
        self.assertIn("| status ", self.stdout)
        self.assertEqual(
            "failover of protection group 'prod-web-app' ended failed (volume manage denied…): "
            f"see `openstack protector operation show op-{records.OP_ID}`",
            str(error),
        )


class TestViewsAreTheOnlySource(CommandTest):
    """The plugin adds no column of its own: a view that changes changes the output."""

    def test_a_new_column_in_the_view_shows_up(self):
        import protector

        original = protector.views.columns

        def columns(kind):
            return [*original(kind), ("extra", "Extra")] if kind == "groups" else original(kind)

        original_rows = protector.views.rows

        def rows(kind, recs):
            return (
                [(*r, "x") for r in original_rows(kind, recs)]
                if kind == "groups"
                else original_rows(kind, recs)
            )

        self.useFixture(__import__("fixtures").MonkeyPatch("protector.views.columns", columns))
        self.useFixture(__import__("fixtures").MonkeyPatch("protector.views.rows", rows))
        self.engine.groups.return_value = [records.group()]
        out = self.run_json(protection_group.ListProtectionGroup, [])
        self.assertEqual("x", out[0]["extra"])
        json.dumps(out)

    def test_a_table_shows_headings_and_c_takes_a_key_or_a_heading(self):
        import protector

        self.engine.members.return_value = [records.member()]
        columns = protector.views.columns("members")
        (key, heading) = next((k, h) for k, h in columns if k != h)
        self.run_command(protection_group.ListMember, ["prod-web-app"])
        self.assertIn(heading, self.stdout)
        self.assertNotIn(key, self.stdout)
        for name in (key, heading, heading.upper()):
            self.app.stdout.seek(0)
            self.app.stdout.truncate()
            out = self.run_json(protection_group.ListMember, ["prod-web-app", "-c", name])
            self.assertEqual([key], list(out[0]))
        error = self.assertRaises(
            exceptions.CommandError,
            self.run_command,
            protection_group.ListMember,
            ["prod-web-app", "-c", "no-such-column"],
        )
        self.assertIn("no column 'no-such-column'", str(error))


class TestSiteFailoverResultsFromEitherViewShape(CommandTest):
    """The views contract leaves two details open for a site failover's groups: whether
    `rows("group_results", ...)` takes the operation or its results, and whether the
    `operation` view already carries them as a field. The plugin shows them once either way."""

    def setUp(self):
        super().setUp()
        self.op = records.operation(
            operation_type="site_failover",
            group_name=None,
            group_results=[records.group_result(status="completed")],
        )
        self.engine.operation.return_value = self.op
        self.expected = [
            dict(zip([k for k, _ in views.columns("group_results")], row, strict=True))
            for row in views.rows("group_results", [self.op])
        ]

    def test_rows_over_the_results_themselves(self):
        import fixtures
        import protector

        original = protector.views.rows

        def rows(kind, recs):
            if kind == "group_results":
                if any(isinstance(r, protector.types.Operation) for r in recs):
                    raise TypeError("expected GroupResult records")
                return [
                    (r.group_name, r.group_id, r.project_id, str(r.status), None, None)
                    for r in recs
                ]
            return original(kind, recs)

        self.useFixture(fixtures.MonkeyPatch("protector.views.rows", rows))
        out = self.run_json(operation.ShowOperation, ["x"])
        self.assertEqual(self.expected, out["group_results"])

    def test_an_operation_view_that_carries_the_results(self):
        import fixtures
        import protector

        original = protector.views.show

        def show(kind, record, **context):
            pairs = original(kind, record, **context)
            return [*pairs, ("group_results", self.expected)] if kind == "operation" else pairs

        self.useFixture(fixtures.MonkeyPatch("protector.views.show", show))
        out = self.run_json(operation.ShowOperation, ["x"])
        self.assertEqual(self.expected, out["group_results"])
        self.app.stdout.seek(0)
        self.app.stdout.truncate()
        self.run_command(operation.ShowOperation, ["x"])
        record, groups = self.stdout.split("\n\n")
        self.assertNotIn("group_results", record)
        self.assertIn("| prod-web-app ", groups)


def test_lists_in_a_table_wrap_between_items_as_in_spec_000():
    from protectorclient.osc.display import ValueColumn, wrap_list

    steps = ["validate_sites", "create_dr_record", "identify_snapshot", "create_volumes_site_b"]
    assert wrap_list(steps) == (
        '["validate_sites", "create_dr_record",\n "identify_snapshot", "create_volumes_site_b"]'
    )
    assert wrap_list([]) == "[]"
    assert ValueColumn(None).human_readable() == "null"
    assert ValueColumn(True).human_readable() == "true"
    assert ValueColumn({"a": 1}).human_readable() == '{"a":1}'
    assert ValueColumn(steps).machine_readable() == steps


class TestValueFormat(CommandTest):
    """`-f value` writes what the CLI's does: nothing for an absent value, `true`/`false`."""

    def test_absent_values_and_booleans_as_the_cli_writes_them(self):
        self.engine.group.return_value = records.group()
        self.run_command(protection_group.ShowProtectionGroup, ["prod-web-app", "-f", "value"])
        lines = self.stdout.splitlines()
        self.assertNotIn("None", lines)
        self.assertNotIn("True", lines)
        self.assertNotIn("False", lines)
