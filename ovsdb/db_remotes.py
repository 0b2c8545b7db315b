"""Remotes and TLS files read out of the database: ovsdb-server's ``db:DB,TABLE,COLUMN``.

ovsdb-server(1): ``--remote=db:DB,TABLE,COLUMN`` makes every value of COLUMN, in every
row of TABLE, a remote of the server. COLUMN is a string or set of strings (each a
connection method, :func:`ovsdb.remotes.parse_remote`), or a reference or set of
references to rows with a ``target`` column, such as the Open_vSwitch schema's Manager
table; such a row may also give ``inactivity_probe`` and ``max_backoff`` (ms) for its
remote. ``--private-key``, ``--certificate`` and ``--ca-cert`` accept the same form and
take the first non-empty string of the column (the SSL table). This is how ovs-ctl
starts OVS's server (``--remote=db:Open_vSwitch,Open_vSwitch,manager_options``), so
``ovs-vsctl set-manager`` / ``del-manager`` open and close listeners at run time.

Two halves. The functions (:func:`parse_db_column`, :func:`resolve_db_column`,
:func:`query_db_remotes`, :func:`query_db_string`, :func:`remote_status`,
:func:`status_transaction`) only read a :class:`~ovsdb.database.Database` or a
:class:`~ovsdb.remotes.RemoteService` and compute; :class:`DbRemotes` is the twistd
service ``ovsdb/tap.py`` runs: after every commit (a listener on
:class:`~ovsdb.server.OvsdbServer`) it re-reads the specs and starts, stops or re-tunes
one RemoteService per target, and every :data:`STATUS_INTERVAL` seconds it writes each
referenced row's ``is_connected`` and ``status`` back, as ovsdb-server's
``update_remote_status`` does.

Facts taken from OVS (ovsdb/ovsdb-server.c: ``parse_db_column``, ``query_db_remotes``,
``add_manager_options``, ``update_remote_row``; ovsdb/jsonrpc-server.c:
``ovsdb_jsonrpc_server_get_remote_status``): a column of any other type yields no
remotes, silently; a referenced row without a string ``target`` is skipped; the status
of a passive remote is its ``bound_port`` (TCP and TLS) and ``n_connections`` (only
when more than one), ``is_connected`` meaning at least one session; an active remote
reports its reconnect ``state``, ``sec_since_connect``, ``sec_since_disconnect`` and
the ``locks_held`` / ``locks_waiting`` of its session; status is written every 2.5 s in
a transaction of the server's own. Specs are re-read after every commit here (OVS
re-reads them on every pass of its main loop), and a target that cannot be used is
logged once per distinct error rather than rate-limited.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from twisted.application import service
from twisted.internet import defer, task
from twisted.internet.protocol import Protocol

from . import reconnect, vlog
from .database import Change, Database, Row
from .errors import OVSDBError
from .remotes import Remote, RemoteService, RemoteServiceError, SslOptions, parse_remote
from .schema import ColumnSchema, TableSchema
from .server import OvsdbServer, ServedDatabase
from .transaction import Transaction

__all__ = [
    "DB_PREFIX",
    "STATUS_INTERVAL",
    "DbColumn",
    "DbRemotes",
    "RemoteOptions",
    "parse_db_column",
    "query_db_remotes",
    "query_db_string",
    "remote_status",
    "resolve_db_column",
    "status_transaction",
]

log = vlog.logger("ovsdb-server")

DB_PREFIX = "db:"
#: Seconds between two writes of remote status into the database (OVS: 2.5 s).
STATUS_INTERVAL = 2.5


@dataclass(frozen=True)
class DbColumn:
    """A parsed ``db:DB,TABLE,COLUMN`` spec; ``str()`` gives the spec back."""

    db: str
    table: str
    column: str

    def __str__(self) -> str:
        return f"{DB_PREFIX}{self.db},{self.table},{self.column}"


def parse_db_column(spec: str) -> DbColumn:
    """Parses ``db:DB,TABLE,COLUMN`` (syntax only; see :func:`resolve_db_column`).

    :raises ValueError: ``"SPEC": invalid syntax`` (OVS's wording).
    """
    parts = spec[len(DB_PREFIX):].split(",") if spec.startswith(DB_PREFIX) else []
    if len(parts) != 3 or not all(parts):
        raise ValueError(f'"{spec}": invalid syntax')
    return DbColumn(*parts)


def resolve_db_column(dbs: Mapping[str, Database], spec: str
                      ) -> tuple[Database, TableSchema, ColumnSchema]:
    """The database, table and column a spec names, among ``dbs`` (name -> database).

    :raises ValueError: bad syntax, or ``"SPEC": no database named DB`` / ``no table
        named TABLE`` / ``table "TABLE" has no column "COLUMN"`` (OVS's wording).
    """
    dc = parse_db_column(spec)
    db = dbs.get(dc.db)
    if db is None:
        raise ValueError(f'"{spec}": no database named {dc.db}')
    ts = db.schema.tables.get(dc.table)
    if ts is None:
        raise ValueError(f'"{spec}": no table named {dc.table}')
    col = ts.columns.get(dc.column)
    if col is None:
        raise ValueError(f'"{spec}": table "{dc.table}" has no column "{dc.column}"')
    return db, ts, col


@dataclass(frozen=True)
class RemoteOptions:
    """A remote found in the database, with what its row says about it.

    ``probe_interval`` (inactivity probe) and ``max_backoff`` are in ms; None means
    the row does not set them, so the server's defaults apply (5 s, 8 s).
    """

    target: str
    probe_interval: int | None = None
    max_backoff: int | None = None


def _is_set_of(col: ColumnSchema, atom: str) -> bool:
    return col.type.key.type == atom and col.type.value is None


def _optional_scalar(ts: TableSchema, row: Row, name: str, atom: str) -> Any:
    """The value of an optional scalar column of type ``atom``, else None (OVS's
    read_*_column: a column missing or of another type reads as unset)."""
    col = ts.columns.get(name)
    if col is None or not _is_set_of(col, atom) or col.type.n_max != 1:
        return None
    datum = row.fields[name]
    return datum[0] if datum else None


def query_db_remotes(dbs: Mapping[str, Database], spec: str) -> dict[str, RemoteOptions]:
    """Every remote a ``db:`` spec yields now, by target (first row wins a duplicate).

    Targets are returned as written in the database, unchecked: the caller parses
    them and reports the bad ones.

    :raises ValueError: for a spec that does not name a column (see
        :func:`resolve_db_column`).
    """
    db, ts, col = resolve_db_column(dbs, spec)
    rows = db.tables[ts.name].rows.values()
    found: dict[str, RemoteOptions] = {}
    if _is_set_of(col, "string"):
        for row in rows:
            for target in row.fields[col.name]:
                found.setdefault(target, RemoteOptions(target))
    elif _is_set_of(col, "uuid") and col.type.key.ref_table is not None:
        ref_table = db.tables[col.type.key.ref_table]
        for row in rows:
            for u in row.fields[col.name]:
                ref = ref_table.rows.get(u)
                if ref is None:
                    continue
                target = _optional_scalar(ref_table.schema, ref, "target", "string")
                if target is None:
                    continue
                found.setdefault(target, RemoteOptions(
                    target,
                    _optional_scalar(ref_table.schema, ref, "inactivity_probe", "integer"),
                    _optional_scalar(ref_table.schema, ref, "max_backoff", "integer")))
    return found


def query_db_string(dbs: Mapping[str, Database], value: str | None) -> str | None:
    """``value`` itself unless it is a ``db:`` spec; then the first non-empty string of
    that column in any row, or None if there is none (OVS's query_db_string).

    :raises ValueError: for a spec that does not name a column, or names one that is
        not a string or set of strings.
    """
    if value is None or not value.startswith(DB_PREFIX):
        return value
    db, ts, col = resolve_db_column(dbs, value)
    if not _is_set_of(col, "string"):
        raise ValueError(f'"{value}": table "{ts.name}" column "{col.name}" is not '
                         "string or set of strings")
    for row in db.tables[ts.name].rows.values():
        for s in row.fields[col.name]:
            if s:
                return s
    return None


def remote_status(svc: RemoteService, now: int) -> tuple[bool, dict[str, str]]:
    """``(is_connected, status)`` of a remote, as ovsdb-server writes them into the
    row that configures it. ``now`` is the current time in ms (the service's clock)."""
    conns = svc.connections()
    status: dict[str, str] = {}
    if svc.remote.passive:
        addr = svc.bound_address
        if isinstance(addr, tuple):
            status["bound_port"] = str(addr[1])
        if len(conns) > 1:
            status["n_connections"] = str(len(conns))
        return bool(conns), status
    fsm = svc.fsm
    status["state"] = fsm.state.value
    for key, elapsed in (("sec_since_connect", fsm.last_connect_elapsed(now)),
                         ("sec_since_disconnect", fsm.last_disconnect_elapsed(now))):
        if elapsed is not None:
            status[key] = str(elapsed // 1000)
    for proto in conns[:1]:
        session = getattr(proto, "handler", None)
        names = sorted(getattr(session, "lock_names", ()))
        held = [n for n in names if session.owns_lock(n)]
        waiting = [n for n in names if not session.owns_lock(n)]
        if held:
            status["locks_held"] = " ".join(held)
        if waiting:
            status["locks_waiting"] = " ".join(waiting)
    return fsm.is_connected(), status


def status_transaction(db: Database, specs: Iterable[str],
                       status_of: Callable[[str], tuple[bool, dict[str, str]]]
                       ) -> Transaction:
    """A transaction writing ``is_connected`` and ``status`` into every row that the
    reference-column ``specs`` (of ``db``) point at, from ``status_of(target)``.

    Specs naming another database, a string column, or a table without those columns
    contribute nothing; a column of another type is left alone, as in OVS. Rows are
    read now, so one deleted since the last call is simply not there.
    """
    txn = Transaction(db)
    for spec in specs:
        try:
            _, ts, col = resolve_db_column({db.name: db}, spec)
        except ValueError:
            continue
        if not (_is_set_of(col, "uuid") and col.type.key.ref_table is not None):
            continue
        ref_table = db.tables[col.type.key.ref_table]
        rs = ref_table.schema
        bool_col = rs.columns.get("is_connected")
        map_col = rs.columns.get("status")
        write_bool = bool_col is not None and bool_col.type.is_scalar \
            and bool_col.type.key.type == "boolean"
        write_map = map_col is not None and map_col.type.key.type == "string" \
            and map_col.type.value is not None and map_col.type.value.type == "string"
        if not (write_bool or write_map):
            continue
        for row in db.tables[ts.name].rows.values():
            for u in row.fields[col.name]:
                ref = ref_table.rows.get(u)
                target = None if ref is None else _optional_scalar(rs, ref, "target",
                                                                   "string")
                if target is None:
                    continue
                is_connected, status = status_of(target)
                w = txn.modify(rs.name, ref)
                if write_bool:
                    w.fields["is_connected"] = (is_connected,)
                if write_map:
                    w.fields["status"] = tuple(sorted(status.items()))
    return txn


class DbRemotes(service.Service):
    """The remotes ``db:`` specs yield, kept in step with the database.

    :param server: the server whose databases are read and whose sessions the remotes
        carry.
    :param ssl_files: ``(private_key, certificate, ca_cert)`` as given on the command
        line, each a path or a ``db:`` spec, or None without TLS.
    :param static: the command-line remotes (name -> service), consulted so that a
        target they already serve is not opened twice (its status is reported from
        them) and restarted when ``db:`` TLS files change.
    :param status_interval: seconds between status writes (and retries of remotes that
        could not be started).
    :param reactor: IReactorTime + IReactorTCP/UNIX (default: the global reactor).

    :attr:`specs` are the ``db:`` specs (ovs-appctl list-remotes shows them);
    :attr:`services` the running remotes by target; :attr:`ssl` the TLS files in force.
    """

    def __init__(self, server: OvsdbServer, *,
                 ssl_files: tuple[str, str, str] | None = None,
                 static: Callable[[], Mapping[str, RemoteService]] = dict,
                 status_interval: float = STATUS_INTERVAL, reactor: Any = None) -> None:
        if reactor is None:
            from twisted.internet import reactor as global_reactor

            reactor = global_reactor
        self.server = server
        self.reactor = reactor
        self.specs: list[str] = []
        self.services: dict[str, RemoteService] = {}
        self.options: dict[str, RemoteOptions] = {}
        self._ssl_files = ssl_files
        self._static = static
        self._status_interval = status_interval
        self._stopping: dict[Remote, defer.Deferred[Any]] = {}
        # Errors logged during the last pass, and during this one: each is logged once
        # for as long as it persists.
        self._reported: set[str] = set()
        self._current_errors: set[str] = set()
        self._writing_status = False
        self._loop: task.LoopingCall | None = None
        self.ssl = self._resolve_ssl()

    # ------------------------------------------------------------ configuration

    def _dbs(self) -> dict[str, Database]:
        return {name: served.db for name, served in self.server.dbs.items()}

    def add_spec(self, spec: str) -> None:
        """Adds a ``db:`` spec and, if running, applies it now. Raises ValueError (OVS's
        wording) unless ``spec`` names a column of a served database."""
        resolve_db_column(self._dbs(), spec)
        if spec not in self.specs:
            self.specs.append(spec)
        if self.running:
            self.reconcile()

    def remove_spec(self, spec: str) -> bool:
        """Drops a spec (closing the remotes only it yielded); False if unknown."""
        if spec not in self.specs:
            return False
        self.specs.remove(spec)
        if self.running:
            self.reconcile()
        return True

    # --------------------------------------------------------------- lifecycle

    def startService(self) -> None:  # noqa: N802 - Twisted API
        super().startService()
        self.server.commit_listeners.append(self._committed)
        self.reconcile()
        self._loop = task.LoopingCall(self._tick)
        self._loop.clock = self.reactor
        self._loop.start(self._status_interval, now=False)

    def stopService(self) -> defer.Deferred[Any]:  # noqa: N802 - Twisted API
        super().stopService()
        if self._committed in self.server.commit_listeners:
            self.server.commit_listeners.remove(self._committed)
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        self._loop = None
        waits = [self._stop(target) for target in list(self.services)]
        waits.extend(self._stopping.values())
        return defer.DeferredList(waits, consumeErrors=True)

    def _committed(self, served: ServedDatabase, changes: list[Change]) -> None:
        # Our own status writes change only is_connected/status, never a remote.
        if self._writing_status or not self.running:
            return
        try:
            self.reconcile()
        except Exception:  # a bug here must not fail the client's committed transaction
            log.failure("cannot reconfigure remotes")

    def _tick(self) -> None:
        try:
            self.reconcile()  # retries remotes that could not be started
            self.write_status()
        except Exception:  # keep the loop (and the status) alive past a bug
            log.failure("cannot reconfigure remotes or write their status")

    # ----------------------------------------------------------- reconciliation

    def _report(self, text: str) -> None:
        """Logs an error once for as long as it persists (OVS rate-limits instead)."""
        if text not in self._reported:
            log.warn("{text}", text=text)
            self._reported.add(text)
        self._current_errors.add(text)

    def reconcile(self) -> None:
        """Brings the running remotes in line with the database: starts the new
        targets, stops the vanished ones, re-tunes the others; restarts TLS remotes if
        ``db:`` TLS files changed. Errors are logged, never raised."""
        self._current_errors = set()
        self._reconfigure_ssl()
        wanted: dict[str, RemoteOptions] = {}
        dbs = self._dbs()
        for spec in self.specs:
            try:
                for target, opts in query_db_remotes(dbs, spec).items():
                    wanted.setdefault(target, opts)
            except ValueError as e:
                self._report(str(e))
        static = {svc.remote for svc in self._static().values()}
        for target in list(self.services):
            if target not in wanted:
                self._stop(target)
        for target, opts in wanted.items():
            if target in self.services:
                self._retune(target, opts)
                continue
            try:
                remote = parse_remote(target)
            except ValueError as e:
                self._report(str(e))
                continue
            if remote in static:
                continue
            pending = self._stopping.get(remote)
            if pending is not None:
                # The same address is still being released: try again once it is.
                pending.addBoth(lambda r: self.reconcile() if self.running else None)
                continue
            self._start(target, remote, opts)
        self._reported &= self._current_errors

    def _start(self, target: str, remote: Remote, opts: RemoteOptions) -> None:
        self.options[target] = opts
        try:
            svc = RemoteService(remote, lambda: self._protocol(target), ssl=self.ssl,
                                probe_interval=None, reactor=self.reactor,
                                max_backoff=opts.max_backoff or reconnect.DEFAULT_MAX_BACKOFF)
            svc.startService()
        except (RemoteServiceError, OSError) as e:
            del self.options[target]
            self._report(f"{target}: cannot start: {e}")
            return
        self.services[target] = svc

    def _protocol(self, target: str) -> Protocol:
        proto = self.server.protocol()
        opts = self.options.get(target)
        if opts is not None and opts.probe_interval is not None:
            proto.set_probe_interval(opts.probe_interval)
        return proto

    def _retune(self, target: str, opts: RemoteOptions) -> None:
        """Applies changed options without dropping the remote's connections."""
        old = self.options[target]
        if opts == old:
            return
        self.options[target] = opts
        svc = self.services[target]
        if opts.max_backoff != old.max_backoff:
            svc.fsm.set_backoff(svc.fsm.min_backoff,
                                opts.max_backoff or reconnect.DEFAULT_MAX_BACKOFF)
        if opts.probe_interval != old.probe_interval and svc.remote.kind != "unix":
            probe = reconnect.DEFAULT_PROBE_INTERVAL if opts.probe_interval is None \
                else opts.probe_interval
            for proto in svc.connections():
                proto.set_probe_interval(probe)  # type: ignore[attr-defined]

    def _stop(self, target: str) -> defer.Deferred[Any]:
        svc = self.services.pop(target)
        self.options.pop(target, None)
        return self._track_stop(svc)

    def _track_stop(self, svc: RemoteService) -> defer.Deferred[Any]:
        d = defer.maybeDeferred(svc.stopService)
        self._stopping[svc.remote] = d

        def released(result: Any) -> Any:
            if self._stopping.get(svc.remote) is d:
                del self._stopping[svc.remote]
            return result

        return d.addBoth(released)

    # ---------------------------------------------------------------------- TLS

    def _resolve_ssl(self) -> SslOptions | None:
        if self._ssl_files is None:
            return None
        dbs = self._dbs()
        files = []
        for value in self._ssl_files:
            try:
                files.append(query_db_string(dbs, value))
            except ValueError as e:
                self._report(str(e))
                files.append(None)
        if not all(files):
            return None
        return SslOptions(*files)  # type: ignore[arg-type]

    def _reconfigure_ssl(self) -> None:
        ssl = self._resolve_ssl()
        if ssl == self.ssl:
            return
        self.ssl = ssl
        for svc in [*self._static().values(), *self.services.values()]:
            if svc.remote.kind == "ssl":
                self._restart(svc)

    def _restart(self, svc: RemoteService) -> None:
        """Restarts a TLS remote so that it uses the new files (existing sessions are
        closed: their context cannot change)."""
        svc.ssl = self.ssl

        def start(_: Any) -> None:
            still_wanted = any(s is svc for s in [*self._static().values(),
                                                  *self.services.values()])
            if not self.running or not still_wanted:
                return
            try:
                svc.startService()
            except (RemoteServiceError, OSError) as e:
                self._report(f"{svc.name}: cannot start: {e}")

        if svc.running:
            self._track_stop(svc).addCallback(start)
        else:
            start(None)

    # ------------------------------------------------------------------- status

    def _status_of(self, target: str) -> tuple[bool, dict[str, str]]:
        svc = self.services.get(target)
        if svc is None:
            try:
                remote = parse_remote(target)
            except ValueError:
                return False, {}
            svc = next((s for s in self._static().values() if s.remote == remote), None)
        if svc is None or not svc.running:
            return False, {}
        return remote_status(svc, int(self.reactor.seconds() * 1000))

    def write_status(self) -> None:
        """Writes ``is_connected`` and ``status`` of the rows the reference-column
        specs point at, one transaction per database; a commit that changes nothing
        is a no-op (no notification, no new transaction id)."""
        for name in sorted({parse_db_column(spec).db for spec in self.specs}):
            served = self.server.dbs.get(name)
            if served is None or served.file is None:
                continue
            txn = status_transaction(served.db, self.specs, self._status_of)
            self._writing_status = True
            try:
                self.server.commit(served, txn)
            except OVSDBError as e:
                log.error("{db}: cannot update remote status: {e}", db=name, e=e)
            finally:
                self._writing_status = False

