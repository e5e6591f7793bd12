"""Admin > Site Recovery > DR Sites."""

import horizon
from django.utils.translation import gettext_lazy as _


class DrSites(horizon.Panel):
    name = _("DR Sites")
    slug = "dr_sites"
    permissions = ("openstack.roles.admin",)
