"""The Protection Groups table: the CLI's ``group_overviews`` columns, status cells that
refresh while an operation is in flight, and the group's actions."""

from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy
from horizon import tables

from protector_dashboard import common
from protector_dashboard.api import protector as api

KIND = "group_overviews"

#: Settled statuses (True: fine, False: needs attention); the in-flight ones are None, which
#: keeps their rows refreshing.
STATUS_CHOICES = (
    ("active", True),
    ("failed_over", True),
    ("failed_over_partial", False),
    ("error", False),
    ("creating", None),
    ("failing_over", None),
    ("failing_back", None),
    ("deleting", None),
)

FAILOVER_FROM = ("active", "error")
FAILBACK_FROM = ("failed_over", "failed_over_partial", "error")
# `deleting` too: running the deletion again finishes one that was interrupted.
DELETE_FROM = ("active", "error", "failed_over", "failed_over_partial", "deleting")


def group_rows(request, overviews):
    """``GroupOverview`` records as table rows (row id: the group's id)."""
    rows = common.view_rows(KIND, overviews)
    for row in rows:
        row.id = str(row.record.group.id)
    return rows


def _status(row):
    return str(row.record.group.status)


def _drill(row):
    """The group's test failover record (``None`` when there is none)."""
    return getattr(row.record.group, "test_failover", None)


def _settled(row):
    return row is not None and not api.in_flight(_status(row))


class CreateGroup(tables.LinkAction):
    name = "create"
    verbose_name = _("Create Protection Group")
    url = "horizon:project:protection_groups:create"
    classes = ("ajax-modal",)
    icon = "plus"


class GroupLink(tables.LinkAction):
    """A row action opening one of the group's forms."""

    classes = ("ajax-modal",)
    allowed_from: tuple[str, ...] | None = None

    def get_link_url(self, datum):
        return reverse(self.url, args=[datum.id])

    def allowed(self, request, datum=None):
        if datum is None:
            return True
        if self.allowed_from is not None:
            return _status(datum) in self.allowed_from
        return _settled(datum)


class AddMembers(GroupLink):
    name = "add_members"
    verbose_name = _("Add Members")
    url = "horizon:project:protection_groups:add_members"


class RemoveMembers(GroupLink):
    name = "remove_members"
    verbose_name = _("Remove Members")
    url = "horizon:project:protection_groups:remove_members"

    def allowed(self, request, datum=None):
        if datum is None:
            return True
        return _settled(datum) and int(datum.values.get("member_count") or 0) > 0


class CreatePolicy(GroupLink):
    name = "create_policy"
    verbose_name = _("Create Replication Policy")
    url = "horizon:project:protection_groups:create_policy"


class SetMappings(GroupLink):
    name = "set_mappings"
    verbose_name = _("Set Resource Mappings")
    url = "horizon:project:protection_groups:set_mappings"


class Failover(GroupLink):
    name = "failover"
    verbose_name = _("Failover")
    url = "horizon:project:protection_groups:failover"
    allowed_from = FAILOVER_FROM


class UnplannedFailover(GroupLink):
    name = "unplanned_failover"
    verbose_name = _("Unplanned Failover")
    url = "horizon:project:protection_groups:unplanned_failover"
    allowed_from = FAILOVER_FROM
    classes = ("ajax-modal", "btn-danger")


class Failback(GroupLink):
    name = "failback"
    verbose_name = _("Failback")
    url = "horizon:project:protection_groups:failback"
    allowed_from = FAILBACK_FROM


class TestFailover(GroupLink):
    __test__ = False
    name = "test_failover"
    verbose_name = _("Test Failover")
    url = "horizon:project:protection_groups:test_failover"

    def allowed(self, request, datum=None):
        # One drill at a time: offered while no test failover is recorded on the group.
        return datum is None or (_status(datum) == "active" and not _drill(datum))


class TestCleanup(GroupLink):
    __test__ = False
    name = "test_cleanup"
    verbose_name = _("Clean Up Test Failover")
    url = "horizon:project:protection_groups:test_cleanup"

    def allowed(self, request, datum=None):
        # Offered while a test failover is recorded (running, ready, failed or left over).
        return datum is None or (_settled(datum) and bool(_drill(datum)))


class SyncForce(tables.BatchAction):
    name = "sync_force"
    help_text = _("Pushes the group's metadata to the peer site now.")

    @staticmethod
    def action_present(count):
        return ngettext_lazy("Force Metadata Sync", "Force Metadata Sync", count)

    @staticmethod
    def action_past(count):
        return ngettext_lazy("Pushed metadata of", "Pushed metadata of", count)

    def allowed(self, request, datum=None):
        return datum is None or _settled(datum)

    def action(self, request, obj_id):
        try:
            api.sync_force(request, obj_id)
        except api.ProtectorError:
            common.engine_error(request, escalate=True)


class DeleteGroup(tables.DeleteAction):
    name = "delete"
    help_text = _(
        "Removes the group's consistency groups and array protection group on both sites; "
        "the VMs and their volumes are untouched."
    )

    @staticmethod
    def action_present(count):
        return ngettext_lazy("Delete Protection Group", "Delete Protection Groups", count)

    @staticmethod
    def action_past(count):
        return ngettext_lazy("Deleted Protection Group", "Deleted Protection Groups", count)

    def allowed(self, request, datum=None):
        return datum is None or _status(datum) in DELETE_FROM

    def delete(self, request, obj_id):
        try:
            api.group_delete(request, obj_id)
        except api.ProtectorError:
            common.engine_error(request, escalate=True)


class UpdateRow(tables.Row):
    """Refreshes a row (its status cell) while the group's operation is in flight."""

    ajax = True

    def get_data(self, request, group_id):
        return group_rows(request, [api.group_overview(request, group_id)])[0]


def _column(key, **kwargs):
    return tables.Column(common.cell(key), verbose_name=common.heading(KIND, key), **kwargs)


class ProtectionGroupsTable(tables.DataTable):
    id = _column("id", hidden=True)
    name = _column("name", link="horizon:project:protection_groups:detail")
    status = _column("status", status=True, status_choices=STATUS_CHOICES)
    replication_type = _column("replication_type")
    primary_site = _column("primary_site")
    current_primary_site = _column("current_primary_site")
    member_count = _column("member_count")
    replication_lag = _column("replication_lag")
    replication_status = _column("replication_status")
    sync_status = _column("sync_status")
    last_operation = _column("last_operation")

    def get_object_id(self, datum):
        return datum.id

    def get_object_display(self, datum):
        return str(datum.record.group.name)

    class Meta:
        name = "protection_groups"
        verbose_name = _("Protection Groups")
        status_columns = ("status",)
        row_class = UpdateRow
        table_actions = (CreateGroup, DeleteGroup)
        row_actions = (
            AddMembers,
            RemoveMembers,
            CreatePolicy,
            SetMappings,
            SyncForce,
            Failover,
            UnplannedFailover,
            Failback,
            TestFailover,
            TestCleanup,
            DeleteGroup,
        )
