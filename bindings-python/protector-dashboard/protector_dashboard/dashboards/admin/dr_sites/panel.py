"""Admin > Site Recovery > DR Sites."""

from django.utils.translation import gettext_lazy as _

import horizon


class DrSites(horizon.Panel):
    name = _("DR Sites")
    slug = "dr_sites"
    permissions = ("openstack.roles.admin",)
