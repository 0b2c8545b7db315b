"""twistd plugin: ``twistd -n ovsdb-server [--remote=METHOD]... [DBFILE]...``."""

from twisted.application.service import ServiceMaker

ovsdb_server = ServiceMaker(
    "vswitch-appliance OVSDB server",
    "ovsdb.tap",
    "An RFC 7047 OVSDB server speaking the Open vSwitch extensions.",
    "ovsdb-server",
)
