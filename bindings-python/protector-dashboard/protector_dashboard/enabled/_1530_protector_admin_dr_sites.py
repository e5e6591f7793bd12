"""Admin > Site Recovery > DR Sites."""

PANEL = "dr_sites"
PANEL_DASHBOARD = "admin"
PANEL_GROUP = "site_recovery"
ADD_PANEL = "protector_dashboard.dashboards.admin.dr_sites.panel.DrSites"
