"""Protection Groups: the table, the detail page, the create workflow and the action forms."""

from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from horizon import forms, tables, tabs, workflows
from horizon.utils import memoized

from protector_dashboard import common
from protector_dashboard.api import protector as api
from protector_dashboard.dashboards.project.protection_groups import forms as group_forms
from protector_dashboard.dashboards.project.protection_groups import tables as group_tables
from protector_dashboard.dashboards.project.protection_groups import tabs as group_tabs
from protector_dashboard.dashboards.project.protection_groups import (
    workflows as group_workflows,
)

INDEX_URL = "horizon:project:protection_groups:index"
DETAIL_URL = "horizon:project:protection_groups:detail"


class IndexView(tables.DataTableView):
    table_class = group_tables.ProtectionGroupsTable
    template_name = "project/protection_groups/index.html"
    page_title = _("Protection Groups")

    def get_data(self):
        try:
            overviews = api.group_overviews(self.request)
        except api.ProtectorError:
            common.engine_error(self.request)
            return []
        return group_tables.group_rows(self.request, overviews)


class DetailView(tabs.TabView):
    tab_group_class = group_tabs.GroupDetailTabs
    template_name = "horizon/common/_detail.html"
    page_title = "{{ group.name }}"

    @memoized.memoized_method
    def get_data(self):
        try:
            return api.group(self.request, self.kwargs["group_id"])
        except api.ProtectorError:
            common.engine_error(self.request, redirect=reverse(INDEX_URL))

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        group = self.get_data()
        context["group"] = group
        context["url"] = reverse(INDEX_URL)
        return context

    def get_tabs(self, request, *args, **kwargs):
        return self.tab_group_class(request, group=self.get_data(), **kwargs)


class CreateView(workflows.WorkflowView):
    workflow_class = group_workflows.CreateProtectionGroup
    page_title = _("Create Protection Group")


class GroupFormView(forms.ModalFormView):
    """A form about one group; on success back to the group's detail page."""

    template_name = "project/protection_groups/form.html"
    submit_label = _("Submit")
    url_name = ""

    @memoized.memoized_method
    def get_group(self):
        try:
            return api.group(self.request, self.kwargs["group_id"])
        except api.ProtectorError:
            common.engine_error(self.request, redirect=reverse(INDEX_URL))

    def get_success_url(self):
        return reverse(DETAIL_URL, args=[self.kwargs["group_id"]])

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["group"] = self.get_group()
        context["submit_url"] = reverse(self.url_name, args=[self.kwargs["group_id"]])
        context["cancel_url"] = reverse(DETAIL_URL, args=[self.kwargs["group_id"]])
        return context

    def get_initial(self):
        return {"group_id": self.kwargs["group_id"]}


class AddMembersView(GroupFormView):
    form_class = group_forms.AddMembersForm
    form_id = "add_members_form"
    modal_id = "add_members_modal"
    modal_header = page_title = _("Add Members")
    submit_label = _("Add Members")
    url_name = "horizon:project:protection_groups:add_members"

    @memoized.memoized_method
    def get_candidates(self):
        try:
            return api.member_candidates(self.request, self.kwargs["group_id"])
        except api.ProtectorError:
            common.engine_error(self.request, redirect=self.get_success_url())

    def get_initial(self):
        return {**super().get_initial(), "candidates": self.get_candidates()}


class RemoveMembersView(GroupFormView):
    form_class = group_forms.RemoveMembersForm
    form_id = "remove_members_form"
    modal_id = "remove_members_modal"
    modal_header = page_title = _("Remove Members")
    submit_label = _("Remove Members")
    url_name = "horizon:project:protection_groups:remove_members"

    def get_initial(self):
        try:
            members = api.members(self.request, self.kwargs["group_id"])
        except api.ProtectorError:
            common.engine_error(self.request, redirect=self.get_success_url())
        return {**super().get_initial(), "members": members}


class CreatePolicyView(GroupFormView):
    form_class = group_forms.CreatePolicyForm
    form_id = "create_policy_form"
    modal_id = "create_policy_modal"
    modal_header = page_title = _("Create Replication Policy")
    submit_label = _("Create Policy")
    url_name = "horizon:project:protection_groups:create_policy"


class SetMappingsView(GroupFormView):
    form_class = group_forms.SetMappingsForm
    form_id = "set_mappings_form"
    modal_id = "set_mappings_modal"
    modal_header = page_title = _("Set Resource Mappings")
    submit_label = _("Save Mappings")
    url_name = "horizon:project:protection_groups:set_mappings"
    description = _(
        "The names a failover uses on the other site for the group's networks, flavors and "
        "security groups, for the direction from the group's current primary site; a name "
        "that exists there as it is needs no mapping. The failover form's plan lists what is "
        "missing."
    )

    def get_initial(self):
        initial = super().get_initial()
        group = self.get_group()
        try:
            stored = api.mappings(self.request, self.kwargs["group_id"])
        except api.ProtectorError:
            common.engine_error(self.request)
            stored = []
        for entry in stored:
            if entry.from_site == group.current_primary_site:
                for kind in ("networks", "flavors", "security_groups"):
                    initial[kind] = group_forms.mapping_text(getattr(entry.mappings, kind))
        return initial


class PlanFormView(GroupFormView):
    """A DR operation's form showing its plan (steps, findings, recovery point)."""

    unplanned = False

    @memoized.memoized_method
    def get_plan(self):
        try:
            return self.plan()
        except api.ProtectorError:
            common.engine_error(self.request)
            return None

    def plan(self):
        return api.plan_failover(self.request, self.kwargs["group_id"], unplanned=self.unplanned)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        plan = self.get_plan()
        context["plan"] = plan
        if plan is not None:
            context["steps"] = [
                {"phase": str(s.phase), "name": s.name, "description": s.description}
                for s in plan.steps
            ]
            context["findings"] = [
                {"severity": str(f.severity), "message": f.message} for f in plan.findings
            ]
            context["recovery_point"] = plan.recovery_point
        return context


class FailoverView(PlanFormView):
    form_class = group_forms.FailoverForm
    form_id = "failover_form"
    modal_id = "failover_modal"
    modal_header = page_title = _("Failover")
    submit_label = _("Start Failover")
    url_name = "horizon:project:protection_groups:failover"


class UnplannedFailoverView(PlanFormView):
    form_class = group_forms.UnplannedFailoverForm
    form_id = "unplanned_failover_form"
    modal_id = "unplanned_failover_modal"
    modal_header = page_title = _("Unplanned Failover")
    submit_label = _("Start Unplanned Failover")
    url_name = "horizon:project:protection_groups:unplanned_failover"
    unplanned = True


class FailbackView(PlanFormView):
    form_class = group_forms.FailbackForm
    form_id = "failback_form"
    modal_id = "failback_modal"
    modal_header = page_title = _("Failback")
    submit_label = _("Start Failback")
    url_name = "horizon:project:protection_groups:failback"
    plan_note = _(
        "The plan is that of the default choices (replication re-enabled, no force); the "
        "failback runs with the choices below, and the engine checks them again when it starts."
    )

    def plan(self):
        return api.plan_failback(
            self.request, self.kwargs["group_id"], reverse_replication=True, force=False
        )

    def get_initial(self):
        return {**super().get_initial(), "reverse_replication": True, "force": False}


class TestFailoverView(GroupFormView):
    __test__ = False
    form_class = group_forms.TestFailoverForm
    form_id = "test_failover_form"
    modal_id = "test_failover_modal"
    modal_header = page_title = _("Test Failover")
    submit_label = _("Start Test Failover")
    url_name = "horizon:project:protection_groups:test_failover"
    description = _(
        "Boots copies of the group's VMs on the other site from the latest "
        "replicated snapshot, on isolated networks; production keeps running."
    )


class TestCleanupView(GroupFormView):
    __test__ = False
    form_class = group_forms.TestCleanupForm
    form_id = "test_cleanup_form"
    modal_id = "test_cleanup_modal"
    modal_header = page_title = _("Clean Up Test Failover")
    submit_label = _("Clean Up")
    url_name = "horizon:project:protection_groups:test_cleanup"
    description = _(
        "Removes the test VMs, volumes and ports the test failover created on the other site, "
        "and nothing else; what cannot be removed is listed and stays for the next cleanup."
    )
