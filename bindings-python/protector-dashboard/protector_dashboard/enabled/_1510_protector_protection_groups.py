"""Project > Site Recovery > Protection Groups."""

PANEL = "protection_groups"
PANEL_DASHBOARD = "project"
PANEL_GROUP = "site_recovery"
ADD_PANEL = "protector_dashboard.dashboards.project.protection_groups.panel.ProtectionGroups"
