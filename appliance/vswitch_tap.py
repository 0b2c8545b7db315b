"""twistd glue for ``twistd -n vswitch``: the whole appliance in one process.

The OVSDB server of :mod:`ovsdb.tap` (same options; by default ``$OVS_DBDIR/conf.db``
created from the bundled schema, ``punix:RUNDIR/db.sock`` and the
``db:Open_vSwitch,Open_vSwitch,manager_options`` remotes, so ``ovs-vsctl set-manager``
works) plus vswitchd
(:class:`appliance.tap.VswitchdService`) connected to it over that Unix socket, like OVS's
two daemons started by ovs-ctl. OVS_RUNDIR, OVS_DBDIR and OVS_SYSCONFDIR move the files as
they do for OVS, so the OVS tools find a private instance with no arguments.
"""

from __future__ import annotations

from twisted.application import service
from twisted.python import usage

from ovsdb import tap as ovsdb_tap

from .tap import VswitchdService, fill_vswitchd_defaults

#: Where OVS's start-up scripts (ovs-ctl) point ovsdb-server for Manager targets.
MANAGER_REMOTE = "db:Open_vSwitch,Open_vSwitch,manager_options"


class Options(ovsdb_tap.Options):
    """ovsdb-server's options; vswitchd follows the first ``punix:`` remote."""

    longdesc = ("Runs the whole appliance: the OVSDB server (options as ovsdb-server's; "
                "default database $OVS_DBDIR/conf.db) and vswitchd on it.")

    def postOptions(self) -> None:  # noqa: N802 - Twisted API
        default_remotes = not self["remote"]
        super().postOptions()
        if default_remotes:
            self["remote"].append(MANAGER_REMOTE)
        sockets = [r[len("punix:"):] for r in self["remote"] if r.startswith("punix:")]
        if not sockets:
            raise usage.UsageError("vswitch needs a punix: remote for vswitchd to use")
        self["database"] = "unix:" + sockets[0]
        fill_vswitchd_defaults(self)


def makeService(config: Options) -> service.IService:  # noqa: N802 - twistd API
    """The OVSDB server service with vswitchd as its last child (started after the
    server listens, stopped before it closes)."""
    top = ovsdb_tap.makeService(config)
    VswitchdService(config["database"], config["rundir"], config["vswitchd-pidfile"]
                    ).setServiceParent(top)
    return top
