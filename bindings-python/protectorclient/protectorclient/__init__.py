"""python-protectorclient: the ``openstack protector ...`` and ``openstack dr ...`` commands.

An OpenStackClient plugin on the ``protector`` Python module (distribution ``protector-dr``):
the DR engine runs in-process, this package only parses arguments, words errors and prints.
"""

__version__ = "0.1.0"
