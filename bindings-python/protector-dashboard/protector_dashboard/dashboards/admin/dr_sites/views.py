"""DR Sites (admin): the registered sites, a site's validation and eligible volume types,
site failover (role ``dr_site_admin``) and its per-group results."""

from django.core.exceptions import PermissionDenied
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from horizon import forms, tables, views
from horizon.utils import memoized

from protector_dashboard import common
from protector_dashboard.api import protector as api
from protector_dashboard.dashboards.admin.dr_sites import forms as site_forms
from protector_dashboard.dashboards.admin.dr_sites import tables as site_tables
from protector_dashboard.dashboards.project.dr_operations.views import operation_context

INDEX_URL = "horizon:admin:dr_sites:index"


class IndexView(tables.DataTableView):
    table_class = site_tables.SitesTable
    template_name = "admin/dr_sites/index.html"
    page_title = _("DR Sites")

    def get_data(self):
        try:
            sites = api.sites(self.request)
        except api.ProtectorError:
            common.engine_error(self.request)
            return []
        return site_tables.site_rows(sites)


class DetailView(views.HorizonTemplateView):
    template_name = "admin/dr_sites/detail.html"
    page_title = _("Site {{ site_name }}")

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        name = self.kwargs["site_name"]
        try:
            site = api.site(self.request, name)
        except api.ProtectorError:
            common.engine_error(self.request, redirect=reverse(INDEX_URL))
        context["fields"] = common.view_show("site", site)
        try:
            context["validation"] = common.view_show(
                "site_validation", api.validate_site(self.request, name)
            )
        except api.ProtectorError:
            common.engine_error(self.request)
        try:
            context["volume_types"] = common.view_table(
                "volume_types", api.volume_types(self.request, name)
            )
        except api.ProtectorError:
            common.engine_error(self.request)
        context["site_admin"] = site_tables.is_site_admin(self.request)
        context["site_failover_url"] = reverse("horizon:admin:dr_sites:site_failover", args=[name])
        context["url"] = reverse(INDEX_URL)
        return context


class SiteFailoverView(forms.ModalFormView):
    form_class = site_forms.SiteFailoverForm
    form_id = "site_failover_form"
    modal_id = "site_failover_modal"
    modal_header = page_title = _("Site Failover")
    submit_label = _("Start Site Failover")
    template_name = "admin/dr_sites/site_failover.html"

    def dispatch(self, request, *args, **kwargs):
        # The row action is hidden from others; the URL refuses them too.
        if not site_tables.is_site_admin(request):
            raise PermissionDenied("Site failover needs the role dr_site_admin.")
        return super().dispatch(request, *args, **kwargs)

    def get_initial(self):
        return {"site_name": self.kwargs["site_name"]}

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["site_name"] = self.kwargs["site_name"]
        context["submit_url"] = reverse(
            "horizon:admin:dr_sites:site_failover", args=[self.kwargs["site_name"]]
        )
        context["cancel_url"] = reverse(INDEX_URL)
        return context

    def get_success_url_from_handled(self, operation_id):
        return reverse(
            "horizon:admin:dr_sites:operation", args=[self.kwargs["site_name"], operation_id]
        )

    def get_success_url(self):
        return reverse(INDEX_URL)


class OperationView(views.HorizonTemplateView):
    """A site failover's progress and per-group results (refreshing while it runs)."""

    template_name = "admin/dr_sites/operation.html"
    page_title = _("Site failover {{ operation_id }}")

    @memoized.memoized_method
    def get_data(self):
        try:
            return api.operation(self.request, self.kwargs["operation_id"])
        except api.ProtectorError:
            common.engine_error(self.request, redirect=reverse(INDEX_URL))

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(operation_context(self.request, self.get_data(), group_link=False))
        context["url"] = reverse(INDEX_URL)
        return context
