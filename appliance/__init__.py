"""vswitchd's job: reconcile the OVSDB configuration into ofproto bridges and datapath ports.

:mod:`appliance.dpif` is the datapath provider interface; :mod:`appliance.vswitchd` follows
the database (as an :mod:`ovsdb.idl` client) and drives :mod:`ofproto` bridges over it;
:mod:`appliance.status` writes state back; :mod:`appliance.tap` is the twistd glue.
"""

from importlib.metadata import version

__version__ = version("vswitch-appliance")
