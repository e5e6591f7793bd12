"""The DR Sites table: the CLI's ``sites`` columns; site failover for ``dr_site_admin``."""

from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from horizon import tables

from protector_dashboard import common

KIND = "sites"
#: The role that may fail a whole site over (checked by the action and by its view).
SITE_ADMIN_ROLE = "openstack.roles.dr_site_admin"


def site_rows(sites):
    """``Site`` records as table rows (row id: the site's name)."""
    return common.view_rows(KIND, sites, id_field="name")


def is_site_admin(request):
    return request.user.has_perms([SITE_ADMIN_ROLE])


class SiteFailover(tables.LinkAction):
    name = "site_failover"
    verbose_name = _("Site Failover")
    url = "horizon:admin:dr_sites:site_failover"
    classes = ("ajax-modal", "btn-danger")
    permissions = (SITE_ADMIN_ROLE,)

    def get_link_url(self, datum):
        return reverse(self.url, args=[datum.id])

    def allowed(self, request, datum=None):
        return is_site_admin(request)


def _column(key, **kwargs):
    return tables.Column(common.cell(key), verbose_name=common.heading(KIND, key), **kwargs)


class SitesTable(tables.DataTable):
    id = _column("id", hidden=True)
    name = _column("name", link="horizon:admin:dr_sites:detail")
    site_type = _column("site_type")
    auth_url = _column("auth_url")
    region_name = _column("region_name")
    status = _column("status")

    def get_object_id(self, datum):
        return datum.id

    class Meta:
        name = "dr_sites"
        verbose_name = _("DR Sites")
        row_actions = (SiteFailover,)
