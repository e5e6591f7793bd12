"""The DR Operations table: the CLI's ``operations`` columns, status cells refreshing while an
operation is pending or running."""

from django.utils.translation import gettext_lazy as _
from horizon import tables

from protector_dashboard import common
from protector_dashboard.api import protector as api

KIND = "operations"

STATUS_CHOICES = (
    ("completed", True),
    ("partial", False),
    ("failed", False),
    ("pending", None),
    ("running", None),
)


def operation_rows(operations):
    """``Operation`` records as table rows (row id: ``op-<uuid>`` as the CLI shows it)."""
    return common.view_rows(KIND, operations)


class UpdateRow(tables.Row):
    ajax = True

    def get_data(self, request, operation_id):
        return operation_rows([api.operation(request, operation_id)])[0]


def _column(key, **kwargs):
    return tables.Column(common.cell(key), verbose_name=common.heading(KIND, key), **kwargs)


class OperationsTable(tables.DataTable):
    id = _column("id", link="horizon:project:dr_operations:detail")
    operation_type = _column("operation_type")
    protection_group = _column("protection_group")
    status = _column("status", status=True, status_choices=STATUS_CHOICES)
    progress = _column("progress")
    source_site = _column("source_site")
    target_site = _column("target_site")
    started_at = _column("started_at")

    def get_object_id(self, datum):
        return datum.id

    class Meta:
        name = "dr_operations"
        verbose_name = _("DR Operations")
        status_columns = ("status",)
        row_class = UpdateRow
