"""The project dashboard's panel group "Site Recovery", the plugin's Django app and the
engine's exceptions (Horizon shows them as messages with the engine's wording)."""

from protector_dashboard.api import protector as api

PANEL_GROUP = "site_recovery"
PANEL_GROUP_NAME = "Site Recovery"
PANEL_GROUP_DASHBOARD = "project"

ADD_INSTALLED_APPS = ["protector_dashboard"]

ADD_EXCEPTIONS = {
    "not_found": api.NOT_FOUND,
    "unauthorized": api.UNAUTHORIZED,
    "recoverable": api.RECOVERABLE,
}
