"""Project > Site Recovery > DR Operations."""

import horizon
from django.utils.translation import gettext_lazy as _


class DrOperations(horizon.Panel):
    name = _("DR Operations")
    slug = "dr_operations"
    permissions = ()
