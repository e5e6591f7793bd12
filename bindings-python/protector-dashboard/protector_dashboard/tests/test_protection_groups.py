"""Project > Site Recovery > Protection Groups: the table, the detail page and its tabs, the
create workflow and every action, with the api module mocked."""

from unittest import mock

from django.urls import reverse
from protector import exceptions

from protector_dashboard.api import protector as api
from protector_dashboard.tests import records as r
from protector_dashboard.tests.base import TestCase, refusal

INDEX = reverse("horizon:project:protection_groups:index")
CREATE = reverse("horizon:project:protection_groups:create")
WEB = r.group("web")
DB = r.group("db", status="failed_over")
MOVING = r.group("moving", status="failing_over")


def url(name, group=WEB):
    return reverse(f"horizon:project:protection_groups:{name}", args=[str(group.id)])


def action(name, group):
    return f"protection_groups__{name}__{group.id}"


class IndexTests(TestCase):
    @mock.patch.object(api, "group_overviews")
    def test_index_shows_the_engine_columns_and_values(self, group_overviews):
        op = r.operation("last", WEB, status="completed")
        group_overviews.return_value = [
            r.overview(WEB, member_count=3, last_operation=op),
            r.overview(DB, sync_status="FAILED"),
        ]
        res = self.client.get(INDEX)
        self.assertEqual(res.status_code, 200)
        self.assertTemplateUsed(res, "project/protection_groups/index.html")
        group_overviews.assert_called_once_with(mock.ANY)
        table = res.context["table"]
        shown = [
            str(c.verbose_name)
            for c in table.columns.values()
            if c.name not in ("multi_select", "actions") and not getattr(c, "hidden", False)
        ]
        expected = [h for k, h in api.columns("group_overviews") if k != "id"]
        self.assertEqual(shown, expected)
        rows = {row.id: row for row in table.data}
        values = dict(
            zip(
                (k for k, _ in api.columns("group_overviews")),
                api.rows("group_overviews", [r.overview(DB, sync_status="FAILED")])[0].values(),
                strict=True,
            )
        )
        self.assertEqual(rows[str(DB.id)].values, values)
        self.assertContains(res, f'href="{url("detail", WEB)}"')
        self.assertContains(res, "FAILED")

    @mock.patch.object(api, "group_overviews")
    def test_row_actions_follow_the_group_status(self, group_overviews):
        group_overviews.return_value = [r.overview(WEB), r.overview(DB)]
        res = self.client.get(INDEX)
        # active: failover, not failback; failed_over: failback, not failover.
        self.assertContains(res, url("failover", WEB))
        self.assertContains(res, url("unplanned_failover", WEB))
        self.assertNotContains(res, url("failback", WEB))
        self.assertContains(res, url("failback", DB))
        self.assertNotContains(res, url("failover", DB))
        self.assertContains(res, url("test_failover", WEB))
        self.assertContains(res, url("add_members", WEB))
        self.assertContains(res, url("set_mappings", WEB))
        self.assertContains(res, f'value="{action("sync_force", WEB)}"')
        self.assertContains(res, f'value="{action("delete", DB)}"')

    @mock.patch.object(api, "group_overviews")
    def test_cleanup_is_offered_while_a_test_failover_is_recorded(self, group_overviews):
        drilled = r.group("drilled", test_failover=r.drill("drilled"))
        group_overviews.return_value = [r.overview(WEB), r.overview(drilled)]
        res = self.client.get(INDEX)
        self.assertContains(res, url("test_failover", WEB))
        self.assertNotContains(res, url("test_cleanup", WEB))
        self.assertContains(res, url("test_cleanup", drilled))
        self.assertNotContains(res, url("test_failover", drilled))

    @mock.patch.object(api, "group_overviews")
    def test_refused_credentials_are_horizons_not_authorized(self, group_overviews):
        # UnauthenticatedError is registered as "unauthorized": Horizon's own handling (its
        # not-authorized page, from which the user logs in again), not a table error.
        group_overviews.side_effect = refusal(
            exceptions.UnauthenticatedError, "Keystone of site site-a refused the token"
        )
        res = self.client.get(INDEX)
        self.assertEqual(res.status_code, 403)
        self.assertTemplateUsed(res, "not_authorized.html")

    @mock.patch.object(api, "group_overviews")
    def test_an_in_flight_group_refreshes_and_offers_no_action(self, group_overviews):
        group_overviews.return_value = [r.overview(MOVING)]
        res = self.client.get(INDEX)
        row = res.context["table"].get_rows()[0]
        self.assertIn("ajax-update", row.classes)
        self.assertIsNone(row.status)  # in flight: polled until it settles
        for name in (
            "failover",
            "failback",
            "add_members",
            "remove_members",
            "create_policy",
            "test_failover",
        ):
            self.assertNotContains(res, url(name, MOVING))
        self.assertNotContains(res, action("delete", MOVING))
        self.assertNotContains(res, action("sync_force", MOVING))

    @mock.patch.object(api, "group_overview")
    def test_the_ajax_row_update_reads_one_group(self, group_overview):
        group_overview.return_value = r.overview(r.group("moving", status="failed_over"))
        res = self.client.get(
            INDEX,
            {"action": "row_update", "table": "protection_groups", "obj_id": str(MOVING.id)},
            HTTP_X_REQUESTED_WITH="XMLHttpRequest",
        )
        self.assertEqual(res.status_code, 200)
        group_overview.assert_called_once_with(mock.ANY, str(MOVING.id))
        self.assertContains(res, "failed_over")
        self.assertContains(res, url("failback", MOVING))

    @mock.patch.object(api, "group_overviews")
    def test_an_engine_error_is_shown_in_its_own_words(self, group_overviews):
        message = "site site-b is unreachable: check its Keystone endpoint"
        group_overviews.side_effect = refusal(exceptions.UnavailableError, message)
        res = self.client.get(INDEX)
        self.assertEqual(res.status_code, 200)
        self.assertMessage(res, "error", message)
        self.assertNotContains(res, "Traceback")


class DeleteAndSyncTests(TestCase):
    @mock.patch.object(api, "group_delete")
    @mock.patch.object(api, "group_overviews")
    def test_delete_calls_the_engine(self, group_overviews, group_delete):
        group_overviews.return_value = [r.overview(WEB)]
        group_delete.return_value = WEB
        res = self.client.post(INDEX, {"action": action("delete", WEB)})
        self.assertRedirectsNoFollow(res, INDEX)
        group_delete.assert_called_once_with(mock.ANY, str(WEB.id))
        self.assertMessage(res, "success", "Deleted Protection Group: web")

    @mock.patch.object(api, "group_delete")
    @mock.patch.object(api, "group_overviews")
    def test_a_refused_delete_shows_the_engine_message(self, group_overviews, group_delete):
        message = "protection group web has members: remove them first"
        group_overviews.return_value = [r.overview(WEB)]
        group_delete.side_effect = refusal(exceptions.ConflictError, message)
        res = self.client.post(INDEX, {"action": action("delete", WEB)})
        self.assertRedirectsNoFollow(res, INDEX)
        group_delete.assert_called_once_with(mock.ANY, str(WEB.id))
        self.assertMessage(res, "error", message)
        self.assertNoMessage(res, "success")

    @mock.patch.object(api, "group_delete")
    @mock.patch.object(api, "group_overviews")
    def test_delete_is_not_offered_while_in_flight(self, group_overviews, group_delete):
        group_overviews.return_value = [r.overview(MOVING)]
        res = self.client.post(INDEX, {"action": action("delete", MOVING)})
        self.assertRedirectsNoFollow(res, INDEX)
        group_delete.assert_not_called()

    @mock.patch.object(api, "sync_force")
    @mock.patch.object(api, "group_overviews")
    def test_sync_force_calls_the_engine(self, group_overviews, sync_force):
        group_overviews.return_value = [r.overview(WEB)]
        res = self.client.post(INDEX, {"action": action("sync_force", WEB)})
        self.assertRedirectsNoFollow(res, INDEX)
        sync_force.assert_called_once_with(mock.ANY, str(WEB.id))
        self.assertMessage(res, "success", "Pushed metadata of: web")

    @mock.patch.object(api, "sync_force")
    @mock.patch.object(api, "group_overviews")
    def test_a_refused_sync_force_shows_the_engine_message(self, group_overviews, sync_force):
        message = "site site-b is unreachable: the metadata stays PENDING until it answers"
        group_overviews.return_value = [r.overview(WEB)]
        sync_force.side_effect = refusal(exceptions.UnavailableError, message)
        res = self.client.post(INDEX, {"action": action("sync_force", WEB)})
        self.assertMessage(res, "error", message)
        self.assertNoMessage(res, "success")


class DetailTests(TestCase):
    """The detail page loads every tab: each test mocks them all and checks its own."""

    def setUp(self):
        super().setUp()
        self.mocks = {
            name: mock.patch.object(api, name, return_value=value).start()
            for name, value in {
                "group": WEB,
                "sync_status": r.sync_status(WEB),
                "members": [],
                "policy": None,
                "consistency_group": r.consistency_group(WEB),
                "mappings": [],
                "operations": [],
            }.items()
        }

    def test_overview_tab(self):
        res = self.client.get(url("detail"))
        self.assertEqual(res.status_code, 200)
        self.mocks["group"].assert_called_once_with(mock.ANY, str(WEB.id))
        self.mocks["sync_status"].assert_called_once_with(mock.ANY, str(WEB.id))
        for field, _ in api.show("group", WEB):
            self.assertContains(res, f"<dt>{field}</dt>")
        self.assertContains(res, "<dd>pure-replicated</dd>")
        self.assertContains(res, "<dd>IN SYNC</dd>")

    def test_members_tab_shows_where_each_vm_runs(self):
        self.mocks["members"].return_value = [r.member("vm-1", WEB), r.member("vm-2", WEB)]
        res = self.client.get(url("detail") + "?tab=protection_group_details__members")
        self.mocks["members"].assert_called_once_with(mock.ANY, str(WEB.id))
        for _, heading in api.columns("members"):
            self.assertContains(res, f"<th>{heading}</th>")
        self.assertContains(res, "vm-2")
        self.assertContains(res, "<td>site-a</td>")

    def test_policy_tab_shows_the_policy_and_the_lag(self):
        self.mocks["policy"].return_value = r.policy(WEB)
        res = self.client.get(url("detail") + "?tab=protection_group_details__policy")
        self.assertEqual(res.status_code, 200)
        self.mocks["consistency_group"].assert_called_once_with(mock.ANY, str(WEB.id))
        self.assertContains(res, "https://array-a.example.com")
        self.assertContains(res, "<dd>rpo_exceeded</dd>")
        self.assertContains(res, "<dd>1260</dd>")

    def test_policy_tab_without_a_policy(self):
        res = self.client.get(url("detail") + "?tab=protection_group_details__policy")
        self.assertContains(res, "no replication policy yet")
        self.mocks["consistency_group"].assert_not_called()

    def test_mappings_tab(self):
        self.mocks["mappings"].return_value = [r.mappings(WEB)]
        res = self.client.get(url("detail") + "?tab=protection_group_details__mappings")
        self.mocks["mappings"].assert_called_once_with(mock.ANY, str(WEB.id))
        self.assertContains(res, "<td>web-net-dr</td>")

    def test_operations_tab_lists_this_groups_operations(self):
        # The engine selects the group's operations (no filtering here).
        mine = r.operation("mine", WEB)
        self.mocks["operations"].return_value = [mine]
        res = self.client.get(url("detail") + "?tab=protection_group_details__operations")
        self.mocks["operations"].assert_called_once_with(mock.ANY, group=str(WEB.id))
        op_id = api.rows("operations", [mine])[0]["id"]
        self.assertContains(res, reverse("horizon:project:dr_operations:detail", args=[op_id]))

    def test_a_tab_refused_by_the_engine_shows_its_message(self):
        message = "site site-b is unreachable: the sync status is unknown"
        self.mocks["sync_status"].side_effect = refusal(exceptions.UnavailableError, message)
        res = self.client.get(url("detail"))
        self.assertEqual(res.status_code, 200)
        self.assertMessage(res, "error", message)

    def test_a_missing_group_goes_back_to_the_index(self):
        message = "protection group nope not found: list them with the Protection Groups panel"
        self.mocks["group"].side_effect = refusal(exceptions.NotFoundError, message)
        res = self.client.get(reverse("horizon:project:protection_groups:detail", args=["nope"]))
        self.assertRedirectsNoFollow(res, INDEX)
        self.assertMessage(res, "error", message)


class CreateTests(TestCase):
    def setUp(self):
        super().setUp()
        self.sites = mock.patch.object(
            api, "sites", return_value=[r.site("site-a"), r.site("site-b", "secondary")]
        ).start()
        self.volume_types = mock.patch.object(
            api, "volume_types", return_value=[r.volume_type("pure-replicated")]
        ).start()

    def form(self, **changes):
        data = {
            "name": "web",
            "description": "web tier",
            "replication_type": "async",
            "primary_site": "site-a",
            "secondary_site": "site-b",
            "volume_type": "pure-replicated",
        }
        data.update(changes)
        return data

    def test_the_workflow_offers_the_sites_and_eligible_volume_types(self):
        res = self.client.get(CREATE)
        self.assertEqual(res.status_code, 200)
        self.volume_types.assert_called_once_with(mock.ANY, "site-a")
        self.assertContains(res, '<option value="pure-replicated"')
        self.assertContains(res, '<option value="site-b"')
        for field in (
            "name",
            "description",
            "replication_type",
            "primary_site",
            "secondary_site",
            "volume_type",
        ):
            self.assertContains(res, f'name="{field}"')

    @mock.patch.object(api, "group_create")
    def test_create_calls_the_engine(self, group_create):
        group_create.return_value = WEB
        res = self.client.post(CREATE, self.form(replication_type="sync"))
        self.assertNoFormErrors(res)
        self.assertRedirectsNoFollow(res, INDEX)
        group_create.assert_called_once_with(
            mock.ANY,
            "web",
            primary_site="site-a",
            secondary_site="site-b",
            volume_type="pure-replicated",
            replication_type="sync",
            description="web tier",
        )
        self.assertMessage(res, "success", 'Created protection group "web".')

    @mock.patch.object(api, "group_create")
    def test_a_refused_create_keeps_the_form(self, group_create):
        message = "a protection group named web already exists in this project: pick another name"
        group_create.side_effect = refusal(exceptions.AlreadyExistsError, message)
        res = self.client.post(CREATE, self.form())
        self.assertEqual(res.status_code, 200)
        group_create.assert_called_once()
        self.assertMessage(res, "error", message)
        self.assertNoMessage(res, "success")
        self.assertContains(res, "web tier")


class AddMembersTests(TestCase):
    def setUp(self):
        super().setUp()
        mock.patch.object(api, "group", return_value=WEB).start()
        self.ok1 = r.candidate("app-1")
        self.ok2 = r.candidate("app-2")
        self.bad = r.candidate(
            "legacy",
            eligible=False,
            reason="instance legacy has volume legacy-boot of type lvm, not pure-replicated: "
            "retype it first",
        )
        self.candidates = mock.patch.object(
            api, "member_candidates", return_value=[self.ok1, self.ok2, self.bad]
        ).start()

    def test_candidates_are_listed_and_ineligible_ones_disabled_with_the_reason(self):
        res = self.client.get(url("add_members"))
        self.assertEqual(res.status_code, 200)
        self.candidates.assert_called_once_with(mock.ANY, str(WEB.id))
        choices = res.context["form"].fields["instances"].widget
        self.assertEqual(choices.disabled, {str(self.bad.instance_id)})
        self.assertContains(res, "legacy (")
        self.assertContains(res, f"ACTIVE): not eligible: {self.bad.reason}</span>")
        self.assertContains(res, self.bad.reason)
        content = res.content.decode()
        bad_input = content[content.index(f'value="{self.bad.instance_id}"') - 200 :]
        self.assertIn("disabled", bad_input[:400])
        ok_input = content[content.index(f'value="{self.ok1.instance_id}"') :]
        self.assertNotIn("disabled", ok_input[: ok_input.index(">")])

    @mock.patch.object(api, "member_add")
    def test_each_chosen_instance_is_added(self, member_add):
        res = self.client.post(
            url("add_members"),
            {"instances": [str(self.ok1.instance_id), str(self.ok2.instance_id)]},
        )
        self.assertNoFormErrors(res)
        self.assertRedirectsNoFollow(res, url("detail"))
        self.assertEqual(
            member_add.call_args_list,
            [
                mock.call(mock.ANY, str(WEB.id), str(self.ok1.instance_id)),
                mock.call(mock.ANY, str(WEB.id), str(self.ok2.instance_id)),
            ],
        )
        self.assertMessage(res, "success", "Added to the group: app-1, app-2")

    @mock.patch.object(api, "member_add")
    def test_a_partial_failure_is_reported_per_instance(self, member_add):
        message = "instance app-2 is already protected by group db: remove it there first"
        member_add.side_effect = [
            r.member("app-1", WEB),
            refusal(exceptions.ConflictError, message),
        ]
        res = self.client.post(
            url("add_members"),
            {"instances": [str(self.ok1.instance_id), str(self.ok2.instance_id)]},
        )
        self.assertRedirectsNoFollow(res, url("detail"))
        self.assertEqual(member_add.call_count, 2)
        self.assertMessage(res, "success", "Added to the group: app-1")
        self.assertMessage(res, "error", f"app-2 was not added: {message}")

    @mock.patch.object(api, "member_add")
    def test_every_add_refused_keeps_the_form(self, member_add):
        message = "protection group web is failing_over: wait for its operation to end"
        member_add.side_effect = refusal(exceptions.ConflictError, message)
        res = self.client.post(url("add_members"), {"instances": [str(self.ok1.instance_id)]})
        self.assertEqual(res.status_code, 200)
        self.assertMessage(res, "error", f"app-1 was not added: {message}")
        self.assertNoMessage(res, "success")

    @mock.patch.object(api, "member_add")
    def test_an_ineligible_instance_cannot_be_chosen(self, member_add):
        res = self.client.post(
            url("add_members"),
            {"instances": [str(self.ok1.instance_id), str(self.bad.instance_id)]},
        )
        self.assertEqual(res.status_code, 200)
        self.assertFormErrors(res, 1)
        self.assertContains(res, self.bad.reason)
        member_add.assert_not_called()


class RemoveMembersTests(TestCase):
    def setUp(self):
        super().setUp()
        mock.patch.object(api, "group", return_value=WEB).start()
        self.vm1 = r.member("vm-1", WEB)
        mock.patch.object(api, "members", return_value=[self.vm1, r.member("vm-2", WEB)]).start()

    @mock.patch.object(api, "member_remove")
    def test_the_form_lists_the_members_and_removes_the_chosen(self, member_remove):
        res = self.client.get(url("remove_members"))
        self.assertContains(res, "vm-2")
        res = self.client.post(url("remove_members"), {"members": [str(self.vm1.id)]})
        self.assertRedirectsNoFollow(res, url("detail"))
        member_remove.assert_called_once_with(mock.ANY, str(WEB.id), str(self.vm1.id))
        self.assertMessage(res, "success", "Removed from the group: vm-1")

    @mock.patch.object(api, "member_remove")
    def test_a_refused_removal_keeps_the_form(self, member_remove):
        message = "protection group web is failed_over: fail it back before removing members"
        member_remove.side_effect = refusal(exceptions.ConflictError, message)
        res = self.client.post(url("remove_members"), {"members": [str(self.vm1.id)]})
        self.assertEqual(res.status_code, 200)
        self.assertMessage(res, "error", f"vm-1 was not removed: {message}")


class PolicyTests(TestCase):
    def setUp(self):
        super().setUp()
        mock.patch.object(api, "group", return_value=WEB).start()
        self.data = {
            "pure_pg_name": "pg-web",
            "primary_array_url": "https://array-a.example.com",
            "primary_array_token": "secret-token-a",
            "secondary_array_url": "https://array-b.example.com",
            "secondary_array_token": "secret-token-b",
            "replication_interval": "600",
            "rpo_minutes": "30",
        }

    def test_the_form_has_password_inputs_for_the_tokens(self):
        res = self.client.get(url("create_policy"))
        self.assertEqual(res.status_code, 200)
        self.assertContains(res, 'type="password" name="primary_array_token"')
        self.assertContains(res, 'type="password" name="secondary_array_token"')

    @mock.patch.object(api, "policy_create")
    def test_create_policy_calls_the_engine(self, policy_create):
        policy_create.return_value = r.policy(WEB)
        res = self.client.post(
            url("create_policy"),
            {**self.data, "allow_insecure_http": "on", "primary_array_ca_file": "/etc/pki/a.pem"},
        )
        self.assertNoFormErrors(res)
        self.assertRedirectsNoFollow(res, url("detail"))
        policy_create.assert_called_once_with(
            mock.ANY,
            str(WEB.id),
            pure_pg_name="pg-web",
            primary_array_url="https://array-a.example.com",
            primary_array_token="secret-token-a",
            secondary_array_url="https://array-b.example.com",
            secondary_array_token="secret-token-b",
            primary_array_ca_file="/etc/pki/a.pem",
            secondary_array_ca_file=None,
            allow_insecure_http=True,
            replication_interval=600,
            rpo_minutes=30,
        )

    @mock.patch.object(api, "policy_create")
    def test_a_refused_policy_keeps_the_form_and_never_renders_the_tokens(self, policy_create):
        message = (
            "array https://array-a.example.com refused the API token: check the token "
            "of the array's user"
        )
        policy_create.side_effect = refusal(exceptions.PermissionDeniedError, message)
        res = self.client.post(url("create_policy"), self.data)
        self.assertEqual(res.status_code, 200)
        self.assertMessage(res, "error", message)
        self.assertNotContains(res, "secret-token-a")
        self.assertNotContains(res, "secret-token-b")
        self.assertContains(res, 'value="pg-web"')


class MappingsTests(TestCase):
    def setUp(self):
        super().setUp()
        mock.patch.object(api, "group", return_value=WEB).start()
        self.stored = mock.patch.object(api, "mappings", return_value=[r.mappings(WEB)]).start()

    def test_the_form_shows_the_stored_mappings(self):
        res = self.client.get(url("set_mappings"))
        self.assertEqual(res.status_code, 200)
        self.stored.assert_called_once_with(mock.ANY, str(WEB.id))
        self.assertEqual(res.context["form"].initial["networks"], "web-net=web-net-dr")
        self.assertContains(res, "web-net=web-net-dr")

    @mock.patch.object(api, "set_mappings")
    def test_the_mappings_are_parsed_and_stored(self, set_mappings):
        set_mappings.return_value = r.mappings(WEB)
        res = self.client.post(
            url("set_mappings"),
            {
                "networks": "net-a = net-b\r\n\r\nnet-c=net-d",
                "flavors": "m1.large=m2.large",
                "security_groups": "",
                "replace": "on",
            },
        )
        self.assertNoFormErrors(res)
        self.assertRedirectsNoFollow(res, url("detail"))
        set_mappings.assert_called_once_with(
            mock.ANY,
            str(WEB.id),
            networks={"net-a": "net-b", "net-c": "net-d"},
            flavors={"m1.large": "m2.large"},
            security_groups={},
            replace=True,
        )
        self.assertMessage(res, "success", "Mappings from site-a to site-b stored.")

    @mock.patch.object(api, "set_mappings")
    def test_a_line_without_a_target_is_refused(self, set_mappings):
        res = self.client.post(url("set_mappings"), {"networks": "net-a"})
        self.assertEqual(res.status_code, 200)
        self.assertFormErrors(res, 1)
        set_mappings.assert_not_called()

    @mock.patch.object(api, "set_mappings")
    def test_refused_mappings_keep_the_form(self, set_mappings):
        message = "network net-zz does not exist on site-b: create it or map to another one"
        set_mappings.side_effect = refusal(exceptions.InvalidInputError, message)
        res = self.client.post(url("set_mappings"), {"networks": "net-a=net-zz"})
        self.assertEqual(res.status_code, 200)
        self.assertMessage(res, "error", message)
        self.assertNoMessage(res, "success")


class FailoverTests(TestCase):
    def setUp(self):
        super().setUp()
        mock.patch.object(api, "group", return_value=WEB).start()
        self.plan = mock.patch.object(api, "plan_failover").start()
        self.plan.side_effect = lambda request, group_id, unplanned: r.plan(WEB, unplanned)
        self.op_id = api.rows("operations", [r.operation("fo", WEB)])[0]["id"]

    def test_the_planned_form_shows_the_plan(self):
        res = self.client.get(url("failover"))
        self.assertEqual(res.status_code, 200)
        self.plan.assert_called_once_with(mock.ANY, str(WEB.id), unplanned=False)
        self.assertContains(res, "Promote the latest replicated snapshot")
        self.assertContains(res, "flavor m1.small is mapped by name")
        self.assertContains(res, 'name="confirm"')

    @mock.patch.object(api, "failover")
    def test_a_planned_failover_starts_and_names_its_operation(self, failover):
        failover.return_value = r.Handle(self.op_id)
        res = self.client.post(url("failover"), {"confirm": "on"})
        self.assertRedirectsNoFollow(res, url("detail"))
        failover.assert_called_once_with(mock.ANY, str(WEB.id), unplanned=False)
        self.assertTrue(
            any(self.op_id in t for lvl, t in self.messages(res) if lvl == "success"),
            self.messages(res),
        )

    @mock.patch.object(api, "failover")
    def test_a_planned_failover_needs_the_confirmation(self, failover):
        res = self.client.post(url("failover"), {})
        self.assertEqual(res.status_code, 200)
        self.assertFormErrors(res, 1)
        failover.assert_not_called()

    @mock.patch.object(api, "failover")
    def test_a_refused_failover_keeps_the_form(self, failover):
        message = "protection group web has no replication policy: create one before failing over"
        failover.side_effect = refusal(exceptions.ValidationFailedError, message)
        res = self.client.post(url("failover"), {"confirm": "on"})
        self.assertEqual(res.status_code, 200)
        self.assertMessage(res, "error", message)
        self.assertNoMessage(res, "success")

    def test_the_unplanned_form_shows_the_data_at_risk(self):
        res = self.client.get(url("unplanned_failover"))
        self.assertEqual(res.status_code, 200)
        self.plan.assert_called_once_with(mock.ANY, str(WEB.id), unplanned=True)
        self.assertContains(res, "about 4 minutes of writes (1.0 MiB changed)")
        self.assertContains(res, "pg-web.42")
        self.assertContains(res, 'name="confirm_data_loss"')

    @mock.patch.object(api, "failover")
    def test_an_unplanned_failover_without_the_confirmation_is_refused(self, failover):
        res = self.client.post(url("unplanned_failover"), {})
        self.assertEqual(res.status_code, 200)
        self.assertFormErrors(
            res,
            1,
            "An unplanned failover loses the data written after the "
            "recovery point: check the box to accept it.",
        )
        failover.assert_not_called()

    @mock.patch.object(api, "failover")
    def test_an_unplanned_failover_with_the_confirmation_starts(self, failover):
        failover.return_value = r.Handle(self.op_id)
        res = self.client.post(url("unplanned_failover"), {"confirm_data_loss": "on"})
        self.assertRedirectsNoFollow(res, url("detail"))
        failover.assert_called_once_with(mock.ANY, str(WEB.id), unplanned=True)


class FailbackAndTestTests(TestCase):
    def setUp(self):
        super().setUp()
        mock.patch.object(api, "group", return_value=DB).start()
        self.plan = mock.patch.object(api, "plan_failback", return_value=r.plan(DB)).start()
        self.op_id = api.rows("operations", [r.operation("fb", DB)])[0]["id"]

    @mock.patch.object(api, "failback")
    def test_failback_reverses_replication_by_default(self, failback):
        res = self.client.get(url("failback", DB))
        self.assertEqual(res.status_code, 200)
        self.assertTrue(res.context["form"].initial["reverse_replication"])
        self.assertContains(res, 'name="force"')
        self.assertContains(res, "The plan is that of the default choices")
        self.plan.assert_called_once_with(
            mock.ANY, str(DB.id), reverse_replication=True, force=False
        )
        failback.return_value = r.Handle(self.op_id)
        res = self.client.post(url("failback", DB), {"reverse_replication": "on"})
        self.assertRedirectsNoFollow(res, url("detail", DB))
        failback.assert_called_once_with(
            mock.ANY, str(DB.id), reverse_replication=True, force=False
        )

    @mock.patch.object(api, "failback")
    def test_failback_without_reverse_replication_and_forced(self, failback):
        failback.return_value = r.Handle(self.op_id)
        self.client.post(url("failback", DB), {"force": "on"})
        failback.assert_called_once_with(
            mock.ANY, str(DB.id), reverse_replication=False, force=True
        )

    @mock.patch.object(api, "failback")
    def test_a_refused_failback_keeps_the_form(self, failback):
        message = "site site-a is unreachable: failback needs both sites"
        failback.side_effect = refusal(exceptions.UnavailableError, message)
        res = self.client.post(url("failback", DB), {"reverse_replication": "on"})
        self.assertEqual(res.status_code, 200)
        self.assertMessage(res, "error", message)

    @mock.patch.object(api, "test_failover")
    def test_test_failover_starts(self, test_failover):
        test_failover.return_value = r.Handle(self.op_id)
        res = self.client.get(url("test_failover", DB))
        self.assertEqual(res.status_code, 200)
        res = self.client.post(
            url("test_failover", DB),
            {"networks": "net-primary-db = dr-test-net\n\nnet-primary-web=dr-test-net\n"},
        )
        self.assertRedirectsNoFollow(res, url("detail", DB))
        test_failover.assert_called_once_with(
            mock.ANY,
            str(DB.id),
            networks={"net-primary-db": "dr-test-net", "net-primary-web": "dr-test-net"},
            flavors=None,
        )
        self.assertTrue(any(self.op_id in t for _, t in self.messages(res)))

    @mock.patch.object(api, "test_failover")
    def test_a_test_failover_needs_its_isolated_networks(self, test_failover):
        res = self.client.post(url("test_failover", DB), {"networks": ""})
        self.assertEqual(res.status_code, 200)
        self.assertFormErrors(res, 1)
        res = self.client.post(url("test_failover", DB), {"networks": "net-primary-db"})
        self.assertEqual(res.status_code, 200)
        self.assertContains(res, "is not source=target")
        test_failover.assert_not_called()

    @mock.patch.object(api, "test_failover_cleanup")
    def test_test_cleanup_starts(self, cleanup):
        cleanup.return_value = r.Handle(self.op_id)
        res = self.client.get(url("test_cleanup", DB))
        self.assertEqual(res.status_code, 200)
        self.assertContains(res, "Removes the test VMs, volumes and ports")
        cleanup.assert_not_called()
        res = self.client.post(url("test_cleanup", DB), {})
        self.assertRedirectsNoFollow(res, url("detail", DB))
        cleanup.assert_called_once_with(mock.ANY, str(DB.id))

    @mock.patch.object(api, "test_failover")
    def test_a_refused_test_failover_keeps_the_form(self, test_failover):
        message = "a test failover of group db is already running: clean it up first"
        test_failover.side_effect = refusal(exceptions.ConflictError, message)
        res = self.client.post(url("test_failover", DB), {"networks": "a=b"})
        self.assertEqual(res.status_code, 200)
        self.assertMessage(res, "error", message)
        self.assertNoMessage(res, "success")
