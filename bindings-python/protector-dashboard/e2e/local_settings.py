"""Horizon's local_settings for the end-to-end test: a Horizon from PyPI served by Django's
development server on 127.0.0.1, logging in to the Keystone of `protector sim serve`.

scripts/test-horizon-e2e copies this file to openstack_dashboard/local/local_settings.py in its
venv (where Horizon reads it, as a deployment's /etc/openstack-dashboard/local_settings.py) and
the plugin's enabled files to openstack_dashboard/local/enabled/. Everything that changes per run
comes from the environment the test fixture starts the server with:

- HORIZON_E2E_KEYSTONE_URL: site-a's identity v3 URL from the simulator's clouds.yaml.
- HORIZON_E2E_SECRET_KEY: a fresh secret per run.
- HORIZON_E2E_SESSION_DIR: where the sessions are kept.
- PROTECTOR_SITE, PROTECTOR_STATE_DIR: read by the plugin (see its README); the peer site's
  credentials come from OS_CLIENT_CONFIG_FILE, as for the CLI.
"""

import importlib.util
import os

# As Horizon's local_settings.py.example does: the dict settings.py is building (this file is
# imported from it), updated in place.
from openstack_dashboard.settings import HORIZON_CONFIG

DEBUG = True
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
SECRET_KEY = os.environ["HORIZON_E2E_SECRET_KEY"]

# The project-scoped token with its catalog is far larger than a signed cookie can carry: the
# sessions live in files of the run's output directory. (A process-local cache would do for one
# runserver process, but django-compressor fills the same cache with an entry per static file
# and culls the session with them.)
SESSION_ENGINE = "django.contrib.sessions.backends.file"
SESSION_FILE_PATH = os.environ["HORIZON_E2E_SESSION_DIR"]
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "OPTIONS": {"MAX_ENTRIES": 100000},
    },
}

# Static files come from the finders (runserver serves them with DEBUG); SCSS is compiled on
# the first page that needs it.
COMPRESS_OFFLINE = False

WEBROOT = "/"
OPENSTACK_KEYSTONE_URL = os.environ["HORIZON_E2E_KEYSTONE_URL"]
OPENSTACK_KEYSTONE_DEFAULT_DOMAIN = "Default"
OPENSTACK_KEYSTONE_MULTIDOMAIN_SUPPORT = False
OPENSTACK_ENDPOINT_TYPE = "publicURL"

PROTECTOR_SITE = os.environ.get("PROTECTOR_SITE", "site-a")
PROTECTOR_STATE_DIR = os.environ.get("PROTECTOR_STATE_DIR")

# The login lands on the Protection Groups panel rather than the Overview (whose usage charts
# ask Nova and Cinder for quotas and usage the test does not need); without the plugin (before
# it is installed) on API Access, which lists the catalog of the scoped token.
if importlib.util.find_spec("protector_dashboard") is not None:
    HORIZON_CONFIG["user_home"] = "/project/protection_groups/"
else:
    HORIZON_CONFIG["user_home"] = "/project/api_access/"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": "INFO"},
    "loggers": {
        "django.request": {"level": "INFO"},
        "openstack_auth": {"level": "DEBUG"},
        "keystoneauth": {"level": "DEBUG"},
        "cinderclient": {"level": "DEBUG"},
        "novaclient": {"level": "DEBUG"},
        "horizon": {"level": "INFO"},
        "openstack_dashboard": {"level": "DEBUG"},
    },
}
