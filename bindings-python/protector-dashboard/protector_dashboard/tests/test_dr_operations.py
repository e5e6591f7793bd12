"""Project > Site Recovery > DR Operations: the list and an operation's progress."""

from unittest import mock

from django.urls import reverse
from protector import exceptions

from protector_dashboard.api import protector as api
from protector_dashboard.tests import records as r
from protector_dashboard.tests.base import TestCase, refusal

INDEX = reverse("horizon:project:dr_operations:index")
WEB = r.group("web", status="failing_over")
RUNNING = r.operation("running", WEB)
FAILED = r.operation(
    "failed",
    WEB,
    status="failed",
    steps_failed=["boot_instances"],
    error_message="nova on site-b refused to boot vm-1: quota exceeded for cores",
)


def op_id(operation):
    return api.rows("operations", [operation])[0]["id"]


def detail(operation):
    return reverse("horizon:project:dr_operations:detail", args=[op_id(operation)])


class OperationsTests(TestCase):
    @mock.patch.object(api, "operations")
    def test_the_list_shows_the_cli_columns(self, operations):
        operations.return_value = [RUNNING, FAILED]
        res = self.client.get(INDEX)
        self.assertEqual(res.status_code, 200)
        self.assertTemplateUsed(res, "project/dr_operations/index.html")
        operations.assert_called_once_with(mock.ANY)
        table = res.context["table"]
        headings = [
            str(c.verbose_name)
            for c in table.columns.values()
            if c.name not in ("multi_select", "actions")
        ]
        self.assertEqual(headings, [h for _, h in api.columns("operations")])
        self.assertContains(res, f'href="{detail(FAILED)}"')
        rows = {row.datum.id: row for row in table.get_rows()}
        self.assertIn("ajax-update", rows[op_id(RUNNING)].classes)
        self.assertIsNone(rows[op_id(RUNNING)].status)  # still refreshing
        self.assertFalse(rows[op_id(FAILED)].status)

    @mock.patch.object(api, "operation")
    def test_the_ajax_row_update_reads_one_operation(self, operation):
        operation.return_value = r.operation("running", WEB, status="completed")
        res = self.client.get(
            INDEX,
            {"action": "row_update", "table": "dr_operations", "obj_id": op_id(RUNNING)},
            HTTP_X_REQUESTED_WITH="XMLHttpRequest",
        )
        self.assertEqual(res.status_code, 200)
        operation.assert_called_once_with(mock.ANY, op_id(RUNNING))
        self.assertContains(res, "completed")

    @mock.patch.object(api, "operation")
    def test_a_running_operation_shows_its_progress_and_refreshes(self, operation):
        operation.return_value = RUNNING
        res = self.client.get(detail(RUNNING))
        self.assertEqual(res.status_code, 200)
        operation.assert_called_once_with(mock.ANY, op_id(RUNNING))
        self.assertContains(res, '<meta http-equiv="refresh" content="5">')
        self.assertContains(res, "Running: 45% (storage)")
        self.assertContains(res, "<li>promote_snapshot</li>")
        self.assertContains(
            res, reverse("horizon:project:protection_groups:detail", args=[str(WEB.id)])
        )

    @mock.patch.object(api, "operation")
    def test_a_failed_operation_shows_its_failed_steps_and_error(self, operation):
        operation.return_value = FAILED
        res = self.client.get(detail(FAILED))
        self.assertNotContains(res, 'http-equiv="refresh"')
        self.assertContains(res, "<li>boot_instances</li>")
        self.assertContains(res, "quota exceeded for cores")

    @mock.patch.object(api, "operation")
    def test_a_missing_operation_goes_back_to_the_list(self, operation):
        message = "operation op-00000000-0000-0000-0000-000000000000 not found"
        operation.side_effect = refusal(exceptions.NotFoundError, message)
        res = self.client.get(
            reverse(
                "horizon:project:dr_operations:detail",
                args=["op-00000000-0000-0000-0000-000000000000"],
            )
        )
        self.assertRedirectsNoFollow(res, INDEX)
        self.assertMessage(res, "error", message)

    @mock.patch.object(api, "operations")
    def test_an_engine_error_on_the_list_is_shown(self, operations):
        message = "the state directory /var/lib/protector is not readable: check its owner"
        operations.side_effect = refusal(exceptions.ConfigInvalidError, message)
        res = self.client.get(INDEX)
        self.assertEqual(res.status_code, 200)
        self.assertMessage(res, "error", message)
