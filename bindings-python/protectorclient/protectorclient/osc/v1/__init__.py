"""The commands of the plugin (API version 1)."""
