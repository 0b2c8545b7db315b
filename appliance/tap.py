"""twistd glue for ``twistd -n vswitchd [DATABASE]``: OVS's ovs-vswitchd.

It follows the Open_vSwitch database at DATABASE (an
active OVSDB connection method, default ``unix:RUNDIR/db.sock``) and runs the bridges
(:class:`~appliance.vswitchd.Vswitchd`), with OVS's pidfile ``RUNDIR/ovs-vswitchd.pid`` and
control socket ``RUNDIR/ovs-vswitchd.PID.ctl`` (the commands of :mod:`appliance.appctl`),
so ``ovs-appctl`` finds it with no ``-t``. OVS_RUNDIR moves the run directory, as for
OVS. :mod:`appliance.vswitch_tap` runs this service next to the OVSDB server.
"""

from __future__ import annotations

import os
from typing import Any

from twisted.application import service
from twisted.internet import defer
from twisted.python import usage

from ovsdb import tap as ovsdb_tap
from ovsdb import unixctl, vlog
from ovsdb.remotes import parse_remote

from . import __version__

log = vlog.logger("vswitchd")

PROGRAM = "ovs-vswitchd"
LOCK = "ovs_vswitchd"


class Options(usage.Options):
    """ovs-vswitchd's command line (the subset that applies here)."""

    synopsis = "[options] [DATABASE]"
    longdesc = ("Runs the bridges configured in the Open_vSwitch database DATABASE (an "
                "active connection method; default unix:RUNDIR/db.sock).")
    optParameters = [
        ["rundir", None, None, "run directory (default $OVS_RUNDIR or /var/run/openvswitch)"],
        ["pidfile", None, None, "pidfile (default RUNDIR/ovs-vswitchd.pid)"],
        ["unixctl", None, None, "control socket (default RUNDIR/ovs-vswitchd.PID.ctl)"],
    ]

    def parseArgs(self, database: str | None = None) -> None:  # noqa: N802 - Twisted API
        self["database"] = database

    def postOptions(self) -> None:  # noqa: N802 - Twisted API
        fill_vswitchd_defaults(self)


def fill_vswitchd_defaults(config: usage.Options) -> None:
    if config["rundir"] is None:
        config["rundir"] = ovsdb_tap.default_rundir()
    if config.get("database") is None:
        config["database"] = "unix:" + os.path.join(config["rundir"], "db.sock")
    try:
        parse_remote(config["database"])
    except ValueError as e:
        raise usage.UsageError(str(e)) from e
    if config.get("vswitchd-pidfile") is None:
        config["vswitchd-pidfile"] = unixctl.pidfile_path(PROGRAM, config["rundir"])


class VswitchdService(service.Service):
    """vswitchd, its pidfile and its control socket."""

    def __init__(self, database: str, rundir: str, pidfile: str,
                 unixctl_path: str | None = None) -> None:
        self.database = database
        self.rundir = rundir
        self.pidfile = pidfile
        self.unixctl_path = unixctl_path
        self.vswitchd: Any = None
        self.unixctl_service: unixctl.UnixctlService | None = None

    def startService(self) -> None:  # noqa: N802 - Twisted API
        from twisted.internet import reactor

        from ovsdb.idl import Idl

        from .appctl import register
        from .vswitchd import Vswitchd

        super().startService()
        os.makedirs(self.rundir, exist_ok=True)
        unixctl.write_pidfile(self.pidfile)
        idl = Idl(self.database, lock=LOCK, reactor=reactor)
        self.vswitchd = Vswitchd(idl, self.rundir, reactor)
        server = unixctl.UnixctlServer(f"{PROGRAM} (vswitch-appliance) {__version__}")
        register(server, self.vswitchd)
        path = self.unixctl_path or unixctl.default_path(PROGRAM, self.rundir, os.getpid())
        self.unixctl_service = unixctl.UnixctlService(path, server)
        self.unixctl_service.startService()
        self.vswitchd.start()
        log.info("following {db}; control socket {ctl}", db=self.database, ctl=path)

    def stopService(self) -> Any:  # noqa: N802 - Twisted API
        super().stopService()
        d = self.vswitchd.stop()

        def close_control(result: Any) -> Any:
            if self.unixctl_service is None:
                return result
            return defer.maybeDeferred(self.unixctl_service.stopService).addBoth(
                lambda _: result)

        def done(result: Any) -> Any:
            unixctl.remove_pidfile(self.pidfile)
            return result

        return d.addBoth(close_control).addBoth(done)


def makeService(config: Options) -> service.IService:  # noqa: N802 - twistd API
    ovsdb_tap.tune_gc()
    return VswitchdService(config["database"], config["rundir"], config["vswitchd-pidfile"],
                           config["unixctl"])
