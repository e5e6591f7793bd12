"""The OpenStackClient plugin: ``plugin`` (registration and authentication) and ``v1``
(the commands)."""
