"""twistd plugins: ``twistd -n vswitch`` (the whole appliance) and ``twistd -n vswitchd``."""

from twisted.application.service import ServiceMaker

vswitch = ServiceMaker(
    "vswitch-appliance",
    "appliance.vswitch_tap",
    "The whole appliance: OVSDB server, vswitchd and the DPDK datapath in one process.",
    "vswitch",
)

vswitchd = ServiceMaker(
    "vswitch-appliance vswitchd",
    "appliance.tap",
    "vswitchd: runs the bridges configured in an Open_vSwitch OVSDB database.",
    "vswitchd",
)
