"""protector-dashboard: the Horizon panels of protector (Site Recovery)."""
