"""Project > Site Recovery > DR Operations."""

from django.utils.translation import gettext_lazy as _

import horizon


class DrOperations(horizon.Panel):
    name = _("DR Operations")
    slug = "dr_operations"
    permissions = ()
