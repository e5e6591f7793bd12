"""Django settings of the dashboard's unit tests: Horizon's own test settings
(openstack_dashboard.test.settings) with the plugin's enabled files added the way a deployment
adds them (openstack_dashboard.utils.settings.update_dashboards)."""

import openstack_dashboard.enabled
from horizon.test.settings import *  # noqa: F403
from openstack_dashboard.test.settings import *  # noqa: F403
from openstack_dashboard.utils import settings as dashboard_settings

import protector_dashboard.enabled

# The site the engine stands on (the api module is mocked in these tests).
PROTECTOR_SITE = "site-a"

# openstack_dashboard.test.settings already ran update_dashboards over Horizon's own enabled
# files into INSTALLED_APPS; running it again into INSTALLED_APPS would insert Horizon's apps a
# second time ("Application labels aren't unique"). So it runs over a copy, and only the apps
# that copy gained (the plugin's ADD_INSTALLED_APPS) are appended, in place.
_APPS = list(INSTALLED_APPS)  # noqa: F405
dashboard_settings.update_dashboards(
    [protector_dashboard.enabled, openstack_dashboard.enabled],
    HORIZON_CONFIG,  # noqa: F405
    _APPS,
)
INSTALLED_APPS.extend(app for app in dict.fromkeys(_APPS) if app not in INSTALLED_APPS)  # noqa: F405
