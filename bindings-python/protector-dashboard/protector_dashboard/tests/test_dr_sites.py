"""Admin > Site Recovery > DR Sites: the sites, a site's validation and volume types, and
site failover (role ``dr_site_admin`` only) with its per-group results."""

from unittest import mock

import protector
from django.urls import reverse
from protector import exceptions

from protector_dashboard.api import protector as api
from protector_dashboard.tests import records as r
from protector_dashboard.tests.base import AdminTestCase, TestCase, refusal

INDEX = reverse("horizon:admin:dr_sites:index")
SITES = [r.site("site-a"), r.site("site-b", "secondary")]
FAILOVER_A = reverse("horizon:admin:dr_sites:site_failover", args=["site-a"])
DETAIL_A = reverse("horizon:admin:dr_sites:detail", args=["site-a"])


class SitesTests(AdminTestCase):
    @mock.patch.object(api, "sites")
    def test_the_list_shows_the_cli_columns(self, sites):
        sites.return_value = SITES
        res = self.client.get(INDEX)
        self.assertEqual(res.status_code, 200)
        self.assertTemplateUsed(res, "admin/dr_sites/index.html")
        sites.assert_called_once_with(mock.ANY)
        table = res.context["table"]
        headings = [
            str(c.verbose_name)
            for c in table.columns.values()
            if c.name not in ("multi_select", "actions") and not c.hidden
        ]
        self.assertEqual(headings, [h for k, h in api.columns("sites") if k != "id"])
        self.assertContains(res, f'href="{DETAIL_A}"')
        self.assertContains(res, "http://site-b.example.com:5000/v3")

    @mock.patch.object(api, "sites")
    def test_an_admin_without_dr_site_admin_sees_no_site_failover(self, sites):
        sites.return_value = SITES
        res = self.client.get(INDEX)
        self.assertNotContains(res, FAILOVER_A)
        self.assertNotContains(res, "Site Failover")

    @mock.patch.object(api, "sites")
    def test_a_dr_site_admin_sees_site_failover(self, sites):
        self.as_site_admin()
        sites.return_value = SITES
        res = self.client.get(INDEX)
        self.assertContains(res, FAILOVER_A)

    @mock.patch.object(api, "volume_types")
    @mock.patch.object(api, "validate_site")
    @mock.patch.object(api, "site")
    def test_the_detail_shows_validation_and_volume_types(self, site, validate, volume_types):
        site.return_value = SITES[0]
        validate.return_value = r.validation("site-a")
        volume_types.return_value = [r.volume_type("pure-replicated")]
        res = self.client.get(DETAIL_A)
        self.assertEqual(res.status_code, 200)
        site.assert_called_once_with(mock.ANY, "site-a")
        validate.assert_called_once_with(mock.ANY, "site-a")
        volume_types.assert_called_once_with(mock.ANY, "site-a")
        self.assertContains(res, "<dt>volume_manage</dt>")
        self.assertContains(res, "<td>pure-replicated</td>")
        self.assertNotContains(res, FAILOVER_A)

    @mock.patch.object(api, "volume_types")
    @mock.patch.object(api, "validate_site")
    @mock.patch.object(api, "site")
    def test_a_failed_validation_is_shown_in_the_engines_words(self, site, validate, volume_types):
        message = "Keystone of site site-a refused the token: log in again"
        site.return_value = SITES[0]
        validate.side_effect = refusal(exceptions.PermissionDeniedError, message)
        volume_types.return_value = []
        res = self.client.get(DETAIL_A)
        self.assertEqual(res.status_code, 200)
        self.assertMessage(res, "error", message)

    @mock.patch.object(api, "site_failover")
    def test_site_failover_is_refused_without_dr_site_admin(self, site_failover):
        res = self.client.get(FAILOVER_A)
        self.assertEqual(res.status_code, 403)
        res = self.client.post(FAILOVER_A, {"concurrency": "2", "confirm": "on"})
        self.assertEqual(res.status_code, 403)
        site_failover.assert_not_called()

    @mock.patch.object(api, "site_failover")
    def test_site_failover_starts_and_goes_to_its_results(self, site_failover):
        self.as_site_admin()
        op = r.operation("site", None, operation_type="site_failover")
        operation_id = api.rows("operations", [op])[0]["id"]
        site_failover.return_value = r.Handle(operation_id)
        res = self.client.get(FAILOVER_A)
        self.assertEqual(res.status_code, 200)
        for field in ("unplanned", "concurrency", "confirm"):
            self.assertContains(res, f'name="{field}"')
        # Groups at once starts at the engine's own default.
        self.assertEqual(
            res.context["form"].fields["concurrency"].initial,
            protector.DEFAULT_SITE_FAILOVER_CONCURRENCY,
        )
        res = self.client.post(FAILOVER_A, {"unplanned": "on", "concurrency": "2", "confirm": "on"})
        self.assertRedirectsNoFollow(
            res, reverse("horizon:admin:dr_sites:operation", args=["site-a", operation_id])
        )
        site_failover.assert_called_once_with(mock.ANY, "site-a", unplanned=True, concurrency=2)
        self.assertTrue(any(operation_id in t for lvl, t in self.messages(res) if lvl == "success"))

    @mock.patch.object(api, "site_failover")
    def test_site_failover_needs_the_confirmation(self, site_failover):
        self.as_site_admin()
        res = self.client.post(FAILOVER_A, {"concurrency": "2"})
        self.assertEqual(res.status_code, 200)
        self.assertFormErrors(res, 1)
        site_failover.assert_not_called()

    @mock.patch.object(api, "site_failover")
    def test_a_refused_site_failover_keeps_the_form(self, site_failover):
        self.as_site_admin()
        message = "site site-a has no protection group running on it: nothing to fail over"
        site_failover.side_effect = refusal(exceptions.InvalidInputError, message)
        res = self.client.post(FAILOVER_A, {"concurrency": "2", "confirm": "on"})
        self.assertEqual(res.status_code, 200)
        self.assertMessage(res, "error", message)
        self.assertNoMessage(res, "success")

    @mock.patch.object(api, "operation")
    def test_the_operation_page_shows_per_group_results(self, operation):
        web, db = r.group("web"), r.group("db")
        op = r.operation(
            "site",
            None,
            status="partial",
            operation_type="site_failover",
            group_results=[r.group_result(web), r.group_result(db, "failed", "array b is full")],
        )
        operation_id = api.rows("operations", [op])[0]["id"]
        operation.return_value = op
        res = self.client.get(
            reverse("horizon:admin:dr_sites:operation", args=["site-a", operation_id])
        )
        self.assertEqual(res.status_code, 200)
        operation.assert_called_once_with(mock.ANY, operation_id)
        for _, heading in api.columns("group_results"):
            self.assertContains(res, f"<th>{heading}</th>")
        self.assertContains(res, "<td>array b is full</td>")
        self.assertNotContains(res, "<dt>group_results</dt>")  # the table shows them
        self.assertNotContains(res, 'http-equiv="refresh"')


class MemberTests(TestCase):
    """A project member (no admin role, no dr_site_admin)."""

    @mock.patch.object(api, "sites")
    def test_a_member_cannot_open_the_admin_panel(self, sites):
        res = self.client.get(INDEX)
        self.assertEqual(res.status_code, 403)  # Horizon's not-authorized page
        self.assertTemplateUsed(res, "not_authorized.html")
        sites.assert_not_called()

    @mock.patch.object(api, "site_failover")
    def test_a_member_is_refused_on_the_site_failover_url(self, site_failover):
        res = self.client.post(FAILOVER_A, {"concurrency": "2", "confirm": "on"})
        self.assertEqual(res.status_code, 403)
        site_failover.assert_not_called()
