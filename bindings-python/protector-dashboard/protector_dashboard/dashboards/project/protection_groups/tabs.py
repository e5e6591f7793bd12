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


class MembersTab(tabs.Tab):
    name = _("Members")
    slug = "members"
    template_name = TEMPLATE

    def get_context_data(self, request):
        group = self.tab_group.kwargs["group"]
        try:
            members = api.members(request, str(group.id))
        except api.ProtectorError:
            common.engine_error(request)
            members = []
        return {
            "tables": [
                {
                    "table": common.view_table("members", members),
                    "id": "members",
                    "empty": _("No members yet."),
                }
            ]
        }


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


class MappingsTab(tabs.Tab):
    name = _("Mappings")
    slug = "mappings"
    template_name = TEMPLATE

    def get_context_data(self, request):
        group = self.tab_group.kwargs["group"]
        try:
            mappings = api.mappings(request, str(group.id))
        except api.ProtectorError:
            common.engine_error(request)
            mappings = []
        return {
            "tables": [
                {
                    "table": common.view_table("mappings", mappings),
                    "id": "mappings",
                    "empty": _("No resource mappings: names are kept as they are."),
                }
            ]
        }


class OperationsTab(tabs.Tab):
    name = _("Operations")
    slug = "operations"
    template_name = TEMPLATE

    def get_context_data(self, request):
        group = self.tab_group.kwargs["group"]
        try:
            ops = [o for o in api.operations(request) if str(o.group_id) == str(group.id)]
        except api.ProtectorError:
            common.engine_error(request)
            ops = []
        return {
            "tables": [
                {
                    "table": common.view_table("operations", ops, link=operation_url),
                    "id": "operations",
                    "empty": _("No operations yet."),
                }
            ]
        }


class GroupDetailTabs(tabs.TabGroup):
    slug = "protection_group_details"
    tabs = (OverviewTab, MembersTab, PolicyTab, MappingsTab, OperationsTab)
    sticky = True
