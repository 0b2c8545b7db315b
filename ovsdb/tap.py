"""twistd glue for ``twistd -n ovsdb-server [OPTIONS] [DBFILE]...``.

Options are shaped like ovsdb-server(1)'s. Builds a MultiService of: the
:class:`~ovsdb.server.OvsdbServer` (databases opened here, so a bad file fails twistd
with a one-line error), one :class:`~ovsdb.remotes.RemoteService` per ``--remote``, the
:class:`~ovsdb.db_remotes.DbRemotes` that serves the ``--remote=db:DB,TABLE,COLUMN``
remotes (and resolves ``db:`` TLS files), and the ovs-appctl control socket
(:mod:`ovsdb.unixctl`) with ``ovsdb-server/*`` commands.
"""

from __future__ import annotations

import gc
import os
import sys
from importlib.resources import files
from typing import Any

from twisted.application import service
from twisted.python import usage

from . import unixctl, vlog
from .db_remotes import (
    DB_PREFIX,
    DbRemotes,
    parse_db_column,
    query_db_string,
    resolve_db_column,
)
from .errors import OVSDBError
from .file import COMPACT_MIN_SIZE, DatabaseFile, DatabaseFileError
from .remotes import RemoteService, RemoteServiceError, SslOptions, parse_remote
from .schema import DatabaseSchema, load_schema_file
from .server import SERVER_DB, OvsdbServer

log = vlog.logger("ovsdb-server")

VERSION = "0.1.0"
PROGRAM = "ovsdb-server"


def default_rundir() -> str:
    """$OVS_RUNDIR, else /var/run/openvswitch (where OVS's tools look)."""
    return os.environ.get("OVS_RUNDIR", "/var/run/openvswitch")


def default_dbdir() -> str:
    """$OVS_DBDIR, else $OVS_SYSCONFDIR/openvswitch, else /etc/openvswitch."""
    if "OVS_DBDIR" in os.environ:
        return os.environ["OVS_DBDIR"]
    return os.path.join(os.environ.get("OVS_SYSCONFDIR", "/etc"), "openvswitch")


def bundled_schema_path() -> str:
    """The Open_vSwitch schema shipped with this package."""
    return str(files("ovsdb") / "schemas" / "vswitch.ovsschema")


class Options(usage.Options):
    """ovsdb-server's command line (the subset that applies here)."""

    synopsis = "[options] [DATABASE]..."
    longdesc = ("Serves each DATABASE file (default: $OVS_DBDIR/conf.db, created from the "
                "bundled Open_vSwitch schema if missing) over the OVSDB protocol.")
    optParameters = [
        ["schema", None, None,
         "create each DATABASE that does not exist from this schema file"],
        ["rundir", None, None, "run directory (default $OVS_RUNDIR or /var/run/openvswitch)"],
        ["pidfile", None, None, "pidfile (default RUNDIR/ovsdb-server.pid)"],
        ["unixctl", None, None, "control socket (default RUNDIR/ovsdb-server.PID.ctl)"],
        ["private-key", "p", None, "TLS private key file (or db:DB,TABLE,COLUMN)"],
        ["certificate", "c", None, "TLS certificate file (or db:DB,TABLE,COLUMN)"],
        ["ca-cert", "C", None, "TLS CA certificate file (or db:DB,TABLE,COLUMN)"],
        ["sync", None, "always",
         "when to fsync a commit before acknowledging it: always, or durable (only "
         "transactions with a durable commit operation, as OVS's ovsdb-server)"],
        ["compact-min-size", None, COMPACT_MIN_SIZE,
         "compact a log once it has at least this many bytes (and grew 4x)", int],
    ]

    def __init__(self) -> None:
        super().__init__()
        self["remote"] = []
        self["databases"] = []

    def opt_remote(self, value: str) -> None:
        """Listen or connect to a remote: punix:, ptcp:, pssl:, unix:, tcp:, ssl:,
        or db:DB,TABLE,COLUMN for the remotes kept in the database (repeatable;
        default punix:RUNDIR/db.sock)."""
        try:
            if value.startswith(DB_PREFIX):
                parse_db_column(value)
            else:
                parse_remote(value)
        except ValueError as e:
            raise usage.UsageError(str(e)) from e
        self["remote"].append(value)

    def parseArgs(self, *databases: str) -> None:  # noqa: N802 - Twisted API
        self["databases"] = list(databases)

    def postOptions(self) -> None:  # noqa: N802 - Twisted API
        if self["rundir"] is None:
            self["rundir"] = default_rundir()
        self["default-db"] = not self["databases"]
        if self["default-db"]:
            self["databases"] = [os.path.join(default_dbdir(), "conf.db")]
            if self["schema"] is None:
                self["schema"] = bundled_schema_path()
        if not self["remote"]:
            self["remote"] = ["punix:" + os.path.join(self["rundir"], "db.sock")]
        if self["pidfile"] is None:
            self["pidfile"] = unixctl.pidfile_path(PROGRAM, self["rundir"])
        if self["sync"] not in ("always", "durable"):
            raise usage.UsageError("--sync must be always or durable")
        tls = [self["private-key"], self["certificate"], self["ca-cert"]]
        if any(tls) and not all(tls):
            raise usage.UsageError("--private-key, --certificate and --ca-cert go together")


def ssl_files(config: Options) -> tuple[str, str, str] | None:
    """The three TLS options (paths or db: specs), or None without TLS."""
    if not config["private-key"]:
        return None
    return config["private-key"], config["certificate"], config["ca-cert"]


class OvsdbServerService(service.MultiService):
    """The server, its remotes and its control socket, with OVS's pidfile.

    :attr:`remotes` holds the command-line (and add-remote) remotes by name;
    :attr:`db_remotes` the ``db:`` specs and the remotes found through them.
    """

    def __init__(self, server: OvsdbServer, config: Options) -> None:
        super().__init__()
        self.server = server
        self.config = config
        self.remotes: dict[str, RemoteService] = {}
        self.db_remotes = DbRemotes(server, ssl_files=ssl_files(config),
                                    static=lambda: self.remotes)
        for remote in config["remote"]:
            self.add_remote(remote)
        self.db_remotes.setServiceParent(self)
        self.unixctl = unixctl.UnixctlServer(f"{PROGRAM} (vswitch-appliance) {VERSION}")
        self._register_commands()
        self.unixctl_service: unixctl.UnixctlService | None = None

    @property
    def ssl(self) -> SslOptions | None:
        """The TLS files in force (``db:`` ones as the database has them now)."""
        return self.db_remotes.ssl

    def add_remote(self, remote: str) -> RemoteService | None:
        """Adds (and, if running, starts) a remote; a ``db:`` spec goes to
        :attr:`db_remotes` (None is returned). Raises ValueError or RemoteServiceError
        for a bad one."""
        if remote.startswith(DB_PREFIX):
            self.db_remotes.add_spec(remote)
            return None
        if remote in self.remotes:
            return self.remotes[remote]
        svc = RemoteService(remote, self.server.protocol, ssl=self.ssl)
        self.remotes[remote] = svc
        svc.setServiceParent(self)
        return svc

    def startService(self) -> None:  # noqa: N802 - Twisted API
        rundir = self.config["rundir"]
        os.makedirs(rundir, exist_ok=True)
        unixctl.write_pidfile(self.config["pidfile"])
        path = self.config["unixctl"] or unixctl.default_path(PROGRAM, rundir, os.getpid())
        self.unixctl_service = unixctl.UnixctlService(path, self.unixctl)
        self.unixctl_service.setServiceParent(self)
        # Children start in order; a remote that cannot start is logged and skipped
        # (as ovsdb-server does) so the other remotes keep serving.
        service.Service.startService(self)
        for svc in list(self):
            try:
                svc.startService()
            except (RemoteServiceError, OSError) as e:
                log.error("{remote}: cannot start: {e}", remote=svc.name, e=e)
        for db in self.server.dbs:
            log.info("serving database {db}", db=db)
        log.info("listening on {remotes}; control socket {ctl}",
                 remotes=", ".join([*self.remotes, *self.db_remotes.specs]), ctl=path)
        for remote in self.remotes:
            if remote.startswith("punix:"):
                sock = remote[len("punix:"):]
                log.info("reach it with: ovs-vsctl --db=unix:{sock} --no-wait show | "
                         "ovsdb-client dump unix:{sock} | ovs-appctl -t {ctl} "
                         "list-commands", sock=sock, ctl=path)
                break

    def stopService(self) -> Any:  # noqa: N802 - Twisted API
        d = super().stopService()

        def done(result: Any) -> Any:
            self.server.close()
            unixctl.remove_pidfile(self.config["pidfile"])
            return result

        return d.addBoth(done)

    def _register_commands(self) -> None:
        u = self.unixctl
        u.register("exit", "", 0, 0, self._exit)
        u.register("ovsdb-server/compact", "[DB]...", 0, 2**31, self._compact)
        u.register("ovsdb-server/add-remote", "REMOTE", 1, 1, self._add_remote)
        u.register("ovsdb-server/remove-remote", "REMOTE", 1, 1, self._remove_remote)
        u.register("ovsdb-server/list-remotes", "", 0, 0,
                   lambda c, a: "".join(f"{r}\n" for r in sorted(
                       [*self.remotes, *self.db_remotes.specs])))
        u.register("ovsdb-server/list-dbs", "", 0, 0,
                   lambda c, a: "".join(f"{d}\n" for d in sorted(self.server.dbs)))

    def _exit(self, conn: Any, args: list[str]) -> None:
        from twisted.internet import reactor

        reactor.callLater(0, reactor.stop)

    def _compact(self, conn: Any, args: list[str]) -> str:
        names = args or [n for n in self.server.dbs if n != SERVER_DB]
        for name in names:
            served = self.server.dbs.get(name)
            if served is None or served.file is None:
                raise unixctl.UnixctlCommandError(f"{name}: unknown database")
            served.file.compact()
        return ""

    def _add_remote(self, conn: Any, args: list[str]) -> str:
        try:
            self.add_remote(args[0])
        except (ValueError, RemoteServiceError, OSError) as e:
            raise unixctl.UnixctlCommandError(str(e)) from e
        self.config["remote"].append(args[0])
        return ""

    def _remove_remote(self, conn: Any, args: list[str]) -> Any:
        if self.db_remotes.remove_spec(args[0]):
            return ""
        svc = self.remotes.pop(args[0], None)
        if svc is None:
            raise unixctl.UnixctlCommandError(f"{args[0]}: no such remote")
        return svc.disownServiceParent()


def open_databases(config: Options) -> OvsdbServer:
    """Opens every database named in ``config``; raises DatabaseFileError (with a
    one-line message) for a file or schema that cannot be used."""
    create_schema: DatabaseSchema | None = None
    if config["schema"] is not None:
        try:
            create_schema = load_schema_file(config["schema"])
        except (OSError, ValueError, OVSDBError) as e:
            raise DatabaseFileError(f"{config['schema']}: cannot read schema: {e}") from e
    if config["default-db"]:
        os.makedirs(default_dbdir(), exist_ok=True)
    server = OvsdbServer(sync_always=config["sync"] == "always")
    for path in config["databases"]:
        if create_schema is not None and not os.path.exists(path):
            parent = os.path.dirname(os.path.abspath(path))
            if not os.path.isdir(parent):
                raise DatabaseFileError(f"{path}: directory {parent} does not exist")
        try:
            server.add_database(DatabaseFile(path, create_schema,
                                             compact_min_size=config["compact-min-size"]))
        except ValueError as e:
            raise DatabaseFileError(str(e)) from e
    return server


def tune_gc() -> None:
    """Daemon GC settings: the long-lived heap (database rows, flow rules: a million
    objects at 100k flows) is frozen after start-up, and young collections run every
    50k allocations instead of 700, because each collection that reaches the oldest
    generation walks that whole heap."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)


def makeService(config: Options) -> service.IService:  # noqa: N802 - twistd API
    """twistd entry point: a bad database or schema ends twistd with one line."""
    try:
        server = open_databases(config)
        check_db_options(server, config)
        tune_gc()
        return OvsdbServerService(server, config)
    except (DatabaseFileError, RemoteServiceError) as e:
        print(f"{PROGRAM}: {e}", file=sys.stderr)
        raise SystemExit(1) from None


def check_db_options(server: OvsdbServer, config: Options) -> None:
    """Raises DatabaseFileError (one line) for a ``db:`` remote or TLS option that
    names no column of the opened databases, as ovsdb-server refuses to start."""
    dbs = {name: served.db for name, served in server.dbs.items()}
    try:
        for remote in config["remote"]:
            if remote.startswith(DB_PREFIX):
                resolve_db_column(dbs, remote)
        for value in ssl_files(config) or ():
            query_db_string(dbs, value)
    except ValueError as e:
        raise DatabaseFileError(str(e)) from None
