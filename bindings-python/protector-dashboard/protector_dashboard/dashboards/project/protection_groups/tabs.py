"""The group's detail page: overview, members, policy and consistency group, mappings,
operations. Each tab shows the CLI's view of its records."""

from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from horizon import tabs

from protector_dashboard import common
from protector_dashboard.api import protector as api

TEMPLATE = "project/protection_groups/_tab.html"


def operation_url(values):
    return reverse("horizon:project:dr_operations:detail", args=[values["id"]])


class OverviewTab(tabs.Tab):
    name = _("Overview")
    slug = "overview"
    template_name = TEMPLATE

    def get_context_data(self, request):
        group = self.tab_group.kwargs["group"]
        sections = [{"title": _("Protection Group"), "fields": common.view_show("group", group)}]
        try:
            sync = api.sync_status(request, str(group.id))
            sections.append(
                {"title": _("Metadata Sync"), "fields": common.view_show("sync_status", sync)}
            )
        except api.ProtectorError:
            common.engine_error(request)
        return {"sections": sections}


class ListTab(tabs.Tab):
    """A tab showing one list view of ``protector.views`` over what :meth:`records` fetches;
    an engine error shows as a message and an empty list."""

    template_name = TEMPLATE
    kind = ""
    empty = ""
    link = None

    def records(self, request, group):
        raise NotImplementedError

    def get_context_data(self, request):
        group = self.tab_group.kwargs["group"]
        try:
            records = self.records(request, group)
        except api.ProtectorError:
            common.engine_error(request)
            records = []
        table = common.view_table(self.kind, records, link=self.link)
        return {"tables": [{"table": table, "id": self.kind, "empty": self.empty}]}


class MembersTab(ListTab):
    name = _("Members")
    slug = "members"
    kind = "members"
    empty = _("No members yet.")

    def records(self, request, group):
        return api.members(request, str(group.id))


class PolicyTab(tabs.Tab):
    name = _("Policy")
    slug = "policy"
    template_name = TEMPLATE

    def get_context_data(self, request):
        group = self.tab_group.kwargs["group"]
        sections = []
        notes = []
        try:
            policy = api.policy(request, str(group.id))
        except api.ProtectorError:
            common.engine_error(request)
            policy = None
        if policy is None:
            notes.append(
                _("The group has no replication policy yet: create one to replicate its volumes.")
            )
        else:
            sections.append(
                {
                    "title": _("Replication Policy"),
                    "fields": common.view_show("policy", policy, group=group),
                }
            )
            try:
                cg = api.consistency_group(request, str(group.id))
                sections.append(
                    {
                        "title": _("Consistency Group"),
                        "fields": common.view_show("consistency_group", cg),
                    }
                )
            except api.ProtectorError:
                common.engine_error(request)
        return {"sections": sections, "notes": notes}


class MappingsTab(ListTab):
    name = _("Mappings")
    slug = "mappings"
    kind = "mappings"
    empty = _("No resource mappings: names are kept as they are.")

    def records(self, request, group):
        return api.mappings(request, str(group.id))


class OperationsTab(ListTab):
    name = _("Operations")
    slug = "operations"
    kind = "operations"
    empty = _("No operations yet.")
    link = staticmethod(operation_url)

    def records(self, request, group):
        return api.operations(request, group=str(group.id))


class GroupDetailTabs(tabs.TabGroup):
    slug = "protection_group_details"
    tabs = (OverviewTab, MembersTab, PolicyTab, MappingsTab, OperationsTab)
    sticky = True
