"""Project > Site Recovery > Protection Groups."""

import horizon
from django.utils.translation import gettext_lazy as _


class ProtectionGroups(horizon.Panel):
    name = _("Protection Groups")
    slug = "protection_groups"
    # The engine runs in Horizon's process (there is no protector service in the catalog):
    # any logged-in user of a project may open the panel; the engine checks the rest.
    permissions = ()
