"""DR Operations: the project's operations, and one operation's progress, steps and errors
(the page refreshes itself while the operation runs)."""

from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from horizon import tables, views
from horizon.utils import memoized

from protector_dashboard import common
from protector_dashboard.api import protector as api
from protector_dashboard.dashboards.project.dr_operations import tables as operation_tables

INDEX_URL = "horizon:project:dr_operations:index"
#: Seconds between two reloads of a running operation's page.
REFRESH_SECONDS = 5


class IndexView(tables.DataTableView):
    table_class = operation_tables.OperationsTable
    template_name = "project/dr_operations/index.html"
    page_title = _("DR Operations")

    def get_data(self):
        try:
            operations = api.operations(self.request)
        except api.ProtectorError:
            common.engine_error(self.request)
            return []
        return operation_tables.operation_rows(operations)


def operation_context(request, operation, group_link=True):
    """What the operation page shows: the CLI's fields, the steps, the per-group results of
    a site failover, and whether it is still running (the page then reloads itself)."""
    results = list(getattr(operation, "group_results", ()) or ())
    context = {
        "operation": operation,
        "fields": common.view_show("operation", operation, id_field="id"),
        "steps_completed": list(operation.steps_completed or ()),
        "steps_failed": list(operation.steps_failed or ()),
        "error_message": operation.error_message,
        "running": not api.is_terminal(operation.status),
        "refresh_seconds": REFRESH_SECONDS,
        "group_results": common.view_table("group_results", operation) if results else None,
    }
    if group_link and operation.group_id:
        context["group_url"] = reverse(
            "horizon:project:protection_groups:detail", args=[str(operation.group_id)]
        )
    return context


class DetailView(views.HorizonTemplateView):
    template_name = "project/dr_operations/detail.html"
    page_title = _("Operation {{ operation_id }}")

    @memoized.memoized_method
    def get_data(self):
        try:
            return api.operation(self.request, self.kwargs["operation_id"])
        except api.ProtectorError:
            common.engine_error(self.request, redirect=reverse(INDEX_URL))

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(operation_context(self.request, self.get_data()))
        context["url"] = reverse(INDEX_URL)
        return context
