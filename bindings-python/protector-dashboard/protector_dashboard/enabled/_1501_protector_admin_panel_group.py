"""The admin dashboard's panel group "Site Recovery"."""

PANEL_GROUP = "site_recovery"
PANEL_GROUP_NAME = "Site Recovery"
PANEL_GROUP_DASHBOARD = "admin"
