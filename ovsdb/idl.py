"""The client IDL: an in-memory replica of a remote OVSDB database, kept current.

What OVS's ``lib/ovsdb-idl.c`` (and ``python/ovs/db/idl.py``) is to ovs-vswitchd,
:class:`Idl` is to ``appliance/vswitchd.py``: it connects to an OVSDB server, fetches the
schema, monitors the tables it was asked for, applies every update notification to
:attr:`Idl.tables`, holds a named lock, and sends transactions.

Built from the generic pieces of this package: :class:`ovsdb.remotes.RemoteService`
opens the connection and reconnects with the backoff of :class:`ovsdb.reconnect.Reconnect`;
:class:`ovsdb.jsonrpc.JsonRpcProtocol` frames the session, answers the server's "echo"
requests and sends inactivity probes; :mod:`ovsdb.schema`, :mod:`ovsdb.types` and
:mod:`ovsdb.data` parse the schema and every datum.  The server side of the same
protocol is :mod:`ovsdb.server`.

Per connection (RFC 7047 section 4.1 plus the extensions in OVS's ovsdb-server(7)):

1. ``get_schema`` for the database (default ``Open_vSwitch``), and ``lock`` if a lock
   name was given;
2. ``monitor_cond_since`` with ``[true]`` conditions and the last transaction id seen,
   so that a reconnect to a server that still has that id in its history gets only the
   changes since (``found`` true); otherwise the reply is a full dump that replaces the
   replica.  Only on the exact error ``"unknown method"`` does the IDL fall back to
   ``monitor_cond`` and then to ``monitor``, whose replies always replace the replica;
3. ``update3`` / ``update2`` / ``update`` notifications (whichever matches the monitor
   method that worked) are applied as they arrive; ``locked`` and ``stolen`` change
   :attr:`Idl.has_lock`.

A malformed update (unknown table or column, bad UUID, a datum of the wrong type, a
"modify" of a row the replica lacks, a notification the monitor cannot produce) is never
half applied: the IDL logs it, forgets its last transaction id and reconnects, so the
next monitor reply is a full resync.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from twisted.internet import defer
from twisted.python.failure import Failure

from . import reconnect, vlog
from .data import (
    Datum,
    SymbolTable,
    apply_diff,
    datum_from_json,
    default_datum,
    parse_uuid_string,
)
from .errors import OVSDBError
from .jsonrpc import JsonRpcProtocol, Message, MessageKind, RemoteError, SessionHandler
from .remotes import RemoteService, SslOptions, parse_remote
from .schema import DatabaseSchema
from .types import UINT_MAX, Type

__all__ = ["Idl", "Row", "TransactionError", "python_value", "value_to_json"]

log = vlog.logger("idl")

ZERO_TXN_ID = str(uuid.UUID(int=0))

#: Monitor methods from the newest down, with the notification each one produces.
_MONITOR_METHODS = (("monitor_cond_since", "update3"),
                    ("monitor_cond", "update2"),
                    ("monitor", "update"))


class TransactionError(Exception):
    """A transaction sent with :meth:`Idl.transact` did not succeed.

    ``detail`` is what the IDL knows about the failure:

    * the server's result list (RFC 7047 section 4.1.3: one entry per operation, the
      failed operation's entry an ``{"error": ..., "details": ...}`` object, later
      entries null, plus one more entry for an error found at commit time);
    * the error member of a JSON-RPC error reply, unchanged;
    * the server's error object for the lock assertion the IDL adds (``"not owner"``);
    * a string for local conditions: ``"not connected"`` (no monitored connection when
      called), ``"not locked"`` (a lock was configured and is not held),
      ``"connection lost"`` (the connection dropped before the reply).
    """

    def __init__(self, detail: list[Any] | dict[str, Any] | str) -> None:
        super().__init__(detail)
        self.detail = detail

    @property
    def results(self) -> list[Any] | None:
        """The server's result list, when the server executed the transaction."""
        return self.detail if isinstance(self.detail, list) else None

    @property
    def error(self) -> Any:
        """The first error: an RFC 7047 error object, or one of the strings above."""
        if isinstance(self.detail, list):
            return next((r for r in self.detail if isinstance(r, dict) and "error" in r),
                        None)
        return self.detail


class _UpdateError(Exception):
    """The server sent something the replica cannot be updated with."""


# ---------------------------------------------------------------- values


def _atom_value(atom: Any) -> Any:
    return str(atom) if isinstance(atom, uuid.UUID) else atom


def python_value(t: Type, datum: Datum) -> Any:
    """The Python value :class:`Row` gives for ``datum`` of column type ``t``.

    A scalar (``min`` 1, ``max`` 1) is its atom; an optional scalar (``min`` 0,
    ``max`` 1) its atom or None; any other set a ``frozenset`` of atoms; a map a new
    ``dict``.  Atoms are ``str``, ``int``, ``float`` or ``bool``; UUIDs (references
    included) are their 36-character lowercase string.
    """
    if t.value is not None:
        return {_atom_value(k): _atom_value(v) for k, v in datum}
    if t.is_scalar:
        return _atom_value(datum[0])
    if t.is_optional_scalar:
        return _atom_value(datum[0]) if datum else None
    return frozenset(_atom_value(a) for a in datum)


def _atom_json(is_uuid: bool, atom: Any) -> Any:
    if is_uuid:
        if isinstance(atom, uuid.UUID):
            return ["uuid", str(atom)]
        if isinstance(atom, str):
            return ["uuid", atom] if parse_uuid_string(atom) else ["named-uuid", atom]
    return atom


def value_to_json(t: Type, value: Any) -> Any:
    """The RFC 7047 <value> JSON (section 5.1) for a Python value of column type ``t``;
    the inverse of :func:`python_value`, for ``update``, ``mutate`` and ``insert`` ops.

    A map takes any mapping; a set any iterable of atoms except a string (an empty one
    clears it); an optional scalar an atom or None.  For UUID columns, a string that is
    a UUID becomes ``["uuid", s]`` and any other string ``["named-uuid", s]``, naming a
    row inserted earlier in the same transaction.  A mutation's argument is a <value>
    too, so this serves ``mutate`` ("insert"/"delete" elements) as well.

    :raises TypeError: a set given a string or a non-iterable, a map a non-mapping.
    :raises ovsdb.errors.OVSDBError: the value does not fit ``t`` (checked with
        :func:`ovsdb.data.datum_from_json`: types, element counts, constraints).
    """
    key_uuid = t.key.type == "uuid"
    if t.value is not None:
        if not isinstance(value, Mapping):
            raise TypeError(f"map column needs a mapping, not {type(value).__name__}")
        value_uuid = t.value.type == "uuid"
        pairs = [[_atom_json(key_uuid, k), _atom_json(value_uuid, v)]
                 for k, v in value.items()]
        json: Any = ["map", sorted(pairs, key=repr)]
    elif t.is_scalar:
        json = _atom_json(key_uuid, value)
    elif t.is_optional_scalar and not _is_collection(value):
        json = ["set", []] if value is None else _atom_json(key_uuid, value)
    else:
        if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
            raise TypeError(f"set column needs an iterable of atoms, not "
                            f"{type(value).__name__}")
        json = ["set", sorted((_atom_json(key_uuid, a) for a in value), key=repr)]
    # Named UUIDs only parse with a symbol table; the values it invents are discarded.
    datum_from_json(t, json, SymbolTable())
    return json


def _is_collection(value: Any) -> bool:
    return isinstance(value, (set, frozenset, list, tuple))


class Row:
    """One row of the replica: ``row[column]`` gives its value (see
    :func:`python_value`), ``row.get(column, default)`` the same or ``default`` for a
    column that is not monitored.

    A row is a snapshot: a change to it replaces the object in
    ``Idl.tables[table][uuid]``, so keep uuids, not rows, across batches of changes.
    """

    __slots__ = ("uuid", "table", "_types", "_data")

    def __init__(self, table: str, row_uuid: str, types: Mapping[str, Type],
                 data: dict[str, Datum]) -> None:
        self.uuid = row_uuid
        self.table = table
        self._types = types
        self._data = data

    def __getitem__(self, column: str) -> Any:
        """:raises KeyError: ``column`` is not monitored (or not in the schema)."""
        return python_value(self._types[column], self._data[column])

    def get(self, column: str, default: Any = None) -> Any:
        if column not in self._types:
            return default
        return self[column]

    def __contains__(self, column: object) -> bool:
        return column in self._types

    def __repr__(self) -> str:
        values = ", ".join(f"{c}={self[c]!r}" for c in sorted(self._types))
        return f"<Row {self.table} {self.uuid} {values}>"


# ---------------------------------------------------------------- updates


class _Batch:
    """The rows one update (or monitor reply) changes, staged so that a malformed update
    leaves the replica untouched.  ``replace``: the update is a full dump."""

    def __init__(self, tables: dict[str, dict[str, Row]], replace: bool) -> None:
        self.base = {} if replace else tables
        self.replace = replace
        self.staged: dict[tuple[str, str], Row | None] = {}

    def get(self, table: str, row_uuid: str) -> Row | None:
        key = (table, row_uuid)
        if key in self.staged:
            return self.staged[key]
        return self.base.get(table, {}).get(row_uuid)

    def put(self, table: str, row_uuid: str, row: Row | None) -> None:
        self.staged[(table, row_uuid)] = row


def _relaxed(t: Type) -> Type:
    """The type of an update2 diff of a set or map column: any number of elements (a
    diff names removed and added elements together)."""
    return Type(t.key, t.value, 0, UINT_MAX)


# ---------------------------------------------------------------- the IDL


class Idl(SessionHandler):
    """A replica of database ``db`` on the OVSDB server at ``remote``.

    :param remote: an active connection method, ``unix:PATH``, ``tcp:IP[:PORT]`` or
        ``ssl:IP[:PORT]`` (:func:`ovsdb.remotes.parse_remote`).
    :param tables: table name -> the columns to monitor (None: every column of the
        table); None monitors every table.  Tables and columns the server's schema lacks
        are skipped with a warning, as OVS does for an older database.
    :param lock: a lock name (RFC 7047 section 4.1.8) to request on every connection;
        with it, :meth:`transact` works only while the lock is held, and asserts it.
    :param reactor: the reactor (default the global one); all timers read its clock.
        ``ssl:`` also needs the global reactor running: Twisted's TLS layer schedules
        its writes there whatever reactor the connection was made with.
    :param min_backoff_ms, max_backoff_ms: reconnect pacing (ms, at least 1000).
    :param probe_interval_ms: inactivity probe (ms; 0 disables; never on ``unix:``).
    :param db: the database to replicate.
    :param ssl: key, certificate and CA files, required for ``ssl:``.
    :raises ValueError: ``remote`` is malformed or passive.
    :raises ovsdb.remotes.RemoteServiceError: ``ssl:`` without ``ssl``.

    Attributes, all read-only for callers:

    * ``schema`` - the server's :class:`ovsdb.schema.DatabaseSchema` (None until the
      first connection);
    * ``tables`` - table name -> row uuid string -> :class:`Row`; the table dicts stay
      the same objects for the IDL's life (a full resync empties and refills them);
    * ``is_connected`` - connected and the monitor reply applied;
    * ``has_lock``, ``is_lock_contended`` - the lock's state as the server last said;
    * ``change_seqno`` - incremented whenever the replica changes (an update applied, a
      monitor reply applied on (re)connection) or ``has_lock`` flips;
    * ``last_txn_id`` - the transaction id of the last update3 / monitor_cond_since
      reply applied (all zeros when unknown); sent on reconnection.
    """

    def __init__(self, remote: str, *, tables: dict[str, list[str] | None] | None = None,
                 lock: str | None = None, reactor: Any = None,
                 min_backoff_ms: int = reconnect.DEFAULT_MIN_BACKOFF,
                 max_backoff_ms: int = reconnect.DEFAULT_MAX_BACKOFF,
                 probe_interval_ms: int = reconnect.DEFAULT_PROBE_INTERVAL,
                 db: str = "Open_vSwitch", ssl: SslOptions | None = None) -> None:
        parsed = parse_remote(remote)
        if parsed.passive:
            raise ValueError(f"{remote!r}: the IDL needs an active connection method "
                             "(unix:, tcp: or ssl:)")
        if reactor is None:
            from twisted.internet import reactor as global_reactor

            reactor = global_reactor
        self.reactor = reactor
        self.db = db
        self.lock = lock
        self.schema: DatabaseSchema | None = None
        self.tables: dict[str, dict[str, Row]] = {t: {} for t in tables or {}}
        self.is_connected = False
        self.has_lock = False
        self.is_lock_contended = False
        self.change_seqno = 0
        self.last_txn_id = ZERO_TXN_ID
        self._requested = tables
        self._types: dict[str, dict[str, Type]] = {}
        self._schema_json: Any = None
        self._monitor_id = str(uuid.uuid4())
        self._notification: str | None = None  # what the accepted monitor sends
        self._proto: JsonRpcProtocol | None = None
        self._listeners: list[Callable[[], None]] = []
        self._service = RemoteService(
            parsed, lambda: JsonRpcProtocol(self, clock=reactor), ssl=ssl,
            probe_interval=probe_interval_ms, reactor=reactor,
            min_backoff=min_backoff_ms, max_backoff=max_backoff_ms)

    # ------------------------------------------------------------ public API

    def start(self) -> None:
        """Connect, and keep reconnecting (with backoff) until :meth:`stop`."""
        self._service.startService()

    def stop(self) -> defer.Deferred[None]:
        """Close the connection and stop reconnecting; fires once it is closed.
        Transactions still waiting fail with ``"connection lost"``."""
        return self._service.stopService()

    def add_listener(self, fn: Callable[[], None]) -> None:
        """Call ``fn()`` after each batch of changes to the replica, and whenever
        ``is_connected`` or ``has_lock`` changes.  Exceptions it raises are logged."""
        self._listeners.append(fn)

    def to_json(self, table: str, column: str, value: Any) -> Any:
        """:func:`value_to_json` for ``table``'s ``column`` in the server's schema.

        :raises KeyError: no schema yet, or no such table or column.
        """
        if self.schema is None:
            raise KeyError("no schema: the IDL has not connected yet")
        return value_to_json(self.schema.tables[table].columns[column].type, value)

    def transact(self, operations: list[dict[str, Any]]) -> defer.Deferred[list[Any]]:
        """Send RFC 7047 ``operations`` (section 5.2) as one transaction on ``db``.

        With a lock configured, an ``assert`` of it goes first (as OVS's IDL does) and
        its result is left out, so results match ``operations`` one to one.

        :returns: Deferred firing with the result list, or failing with
            :class:`TransactionError` when an operation or the commit failed, the server
            answered with an error, the lock is not held or the IDL is not connected.
        """
        proto = self._proto
        if proto is None or not self.is_connected:
            return defer.fail(TransactionError("not connected"))
        if self.lock is not None and not self.has_lock:
            return defer.fail(TransactionError("not locked"))
        prefix = [{"op": "assert", "lock": self.lock}] if self.lock is not None else []
        d = proto.request("transact", [self.db, *prefix, *operations])
        return d.addCallbacks(self._transact_done, self._transact_failed,
                              callbackArgs=(len(prefix),))

    # ----------------------------------------------------- SessionHandler

    def connection_made(self, session: JsonRpcProtocol) -> None:
        self._proto = session
        self._notification = None
        log.debug("{name}: connected, requesting schema", name=session.name)
        session.request("get_schema", [self.db]).addCallbacks(
            self._schema_received, self._schema_failed,
            callbackArgs=(session,), errbackArgs=(session,))
        if self.lock is not None:
            session.request("lock", [self.lock]).addCallbacks(
                self._lock_reply, self._lock_failed,
                callbackArgs=(session,), errbackArgs=(session,))

    def message_received(self, session: JsonRpcProtocol, msg: Message) -> None:
        if session is not self._proto:
            return  # a connection we already gave up on
        if msg.kind is MessageKind.REQUEST:
            super().message_received(session, msg)
        elif msg.kind is not MessageKind.NOTIFICATION:
            log.debug("{name}: ignoring unexpected {msg!r}", name=session.name, msg=msg)
        elif msg.method in ("update", "update2", "update3"):
            self._update_received(session, msg)
        elif msg.method in ("locked", "stolen"):
            if msg.params == [self.lock]:
                self.is_lock_contended = msg.method == "stolen"
                self._set_lock(msg.method == "locked")
        else:
            log.debug("{name}: ignoring notification {method}", name=session.name,
                      method=msg.method)

    def connection_lost(self, session: JsonRpcProtocol, reason: Failure) -> None:
        if session is self._proto:
            self._disconnected()

    # ------------------------------------------------------------ protocol

    def _schema_received(self, result: Any, session: JsonRpcProtocol) -> None:
        if session is not self._proto:
            return
        try:
            schema = DatabaseSchema.from_json(result)
        except OVSDBError as e:
            self._reconnect(session, f"bad schema for {self.db}: {e}")
            return
        if result != self._schema_json:
            if self._schema_json is not None:
                # Transaction ids of the old schema's contents mean nothing now.
                log.info("{name}: schema of {db} changed", name=session.name, db=self.db)
                self.last_txn_id = ZERO_TXN_ID
            self._schema_json = result
            self.schema = schema
            self._types = self._monitored_types(schema)
            for name in list(self.tables):
                if name not in self._types:
                    del self.tables[name]
            for name in self._types:
                self.tables.setdefault(name, {})
        self._send_monitor(session, 0)

    def _monitored_types(self, schema: DatabaseSchema) -> dict[str, dict[str, Type]]:
        requested = self._requested
        if requested is None:
            requested = dict.fromkeys(schema.tables)
        out: dict[str, dict[str, Type]] = {}
        for tname, columns in requested.items():
            ts = schema.tables.get(tname)
            if ts is None:
                log.warn("{db} database lacks {table} table (database needs upgrade?)",
                         db=self.db, table=tname)
                continue
            if columns is None:
                columns = [c for c in ts.columns if not c.startswith("_")]
            types = {}
            for cname in columns:
                col = ts.columns.get(cname)
                if col is None:
                    log.warn("{table} table in {db} database lacks {column} column "
                             "(database needs upgrade?)", table=tname, db=self.db,
                             column=cname)
                    continue
                types[cname] = col.type
            out[tname] = types
        return out

    def _send_monitor(self, session: JsonRpcProtocol, index: int) -> None:
        method, _ = _MONITOR_METHODS[index]
        conditional = method != "monitor"
        requests = {}
        for tname, types in self._types.items():
            request: dict[str, Any] = {"columns": sorted(types)}
            if conditional:
                request["where"] = [True]
            requests[tname] = [request]
        params: list[Any] = [self.db, self._monitor_id, requests]
        if method == "monitor_cond_since":
            params.append(self.last_txn_id)
        session.request(method, params).addCallbacks(
            self._monitor_reply, self._monitor_failed,
            callbackArgs=(session, index), errbackArgs=(session, index))

    def _monitor_failed(self, failure: Failure, session: JsonRpcProtocol,
                        index: int) -> None:
        if session is not self._proto or not failure.check(RemoteError):
            return  # the connection dropped; connection_lost handles it
        method = _MONITOR_METHODS[index][0]
        error = failure.value.error
        if error == "unknown method" and index + 1 < len(_MONITOR_METHODS):
            log.info("{name}: server lacks {method}, falling back to {next}",
                     name=session.name, method=method, next=_MONITOR_METHODS[index + 1][0])
            self._send_monitor(session, index + 1)
        else:
            self._reconnect(session, f"{method} failed: {error}")

    def _monitor_reply(self, result: Any, session: JsonRpcProtocol, index: int) -> None:
        if session is not self._proto:
            return
        method, notification = _MONITOR_METHODS[index]
        try:
            if method == "monitor_cond_since":
                if not (isinstance(result, list) and len(result) == 3
                        and isinstance(result[0], bool) and isinstance(result[1], str)
                        and parse_uuid_string(result[1])):
                    raise _UpdateError("monitor_cond_since reply is not "
                                       "[found, last-txn-id, updates]")
                found, txn_id, updates = result
                batch = self._parse(updates, notification, replace=not found)
            else:
                txn_id = None
                batch = self._parse(result, notification, replace=True)
        except _UpdateError as e:
            self._reconnect(session, f"error parsing {method} reply: {e}")
            return
        self._install(batch)
        if txn_id is not None:
            self.last_txn_id = txn_id
        self._notification = notification
        self.is_connected = True
        self.change_seqno += 1
        log.info("{name}: monitoring {db} with {method}{how}", name=session.name,
                 db=self.db, method=method,
                 how=" (changes since the last transaction seen)" if not batch.replace
                 else "")
        self._notify()

    def _update_received(self, session: JsonRpcProtocol, msg: Message) -> None:
        params = msg.params or []
        try:
            if msg.method != self._notification:
                raise _UpdateError(f"{msg.method} notification while monitoring with "
                                   f"{self._notification or 'nothing'}")
            if msg.method == "update3":
                if len(params) != 3 or not isinstance(params[1], str) \
                        or not parse_uuid_string(params[1]):
                    raise _UpdateError("update3 params are not [id, last-txn-id, updates]")
            elif len(params) != 2:
                raise _UpdateError(f"{msg.method} params are not [id, updates]")
            if params[0] != self._monitor_id:
                raise _UpdateError(f"update for unknown monitor {params[0]!r}")
            batch = self._parse(params[-1], msg.method, replace=False)
        except _UpdateError as e:
            self._reconnect(session, f"error parsing {msg.method}: {e}")
            return
        self._install(batch)
        if msg.method == "update3":
            self.last_txn_id = params[1]
        if batch.staged:
            self.change_seqno += 1
            self._notify()

    def _parse(self, updates: Any, notification: str, replace: bool) -> _Batch:
        """Stage <table-updates> (RFC 7047 4.1.6) or <table-updates2> (ovsdb-server(7))
        against the replica; raises :class:`_UpdateError` on anything malformed."""
        batch = _Batch(self.tables, replace)
        if not isinstance(updates, dict):
            raise _UpdateError("<table-updates> is not an object")
        for tname, table_update in updates.items():
            types = self._types.get(tname)
            if types is None:
                raise _UpdateError(f"<table-updates> includes unmonitored table {tname!r}")
            if not isinstance(table_update, dict):
                raise _UpdateError(f"<table-update> for {tname} is not an object")
            for uuid_text, row_update in table_update.items():
                u = parse_uuid_string(uuid_text) if isinstance(uuid_text, str) else None
                if u is None:
                    raise _UpdateError(f"<table-update> for {tname} has bad UUID "
                                       f"{uuid_text!r}")
                if not isinstance(row_update, dict):
                    raise _UpdateError(f"<row-update> for {tname} {u} is not an object")
                if notification == "update":
                    self._row_update(batch, tname, str(u), types, row_update)
                else:
                    self._row_update2(batch, tname, str(u), types, row_update)
        return batch

    def _row_update(self, batch: _Batch, tname: str, row_uuid: str,
                    types: dict[str, Type], update: dict[str, Any]) -> None:
        """RFC 7047 <row-update>: "old" and/or "new"."""
        if set(update) - {"old", "new"} or not update:
            raise _UpdateError(f"<row-update> for {tname} {row_uuid} must have "
                               '"old" and/or "new" only')
        old, new = update.get("old"), update.get("new")
        row = batch.get(tname, row_uuid)
        if new is None:
            if row is None:
                log.warn("cannot delete missing row {uuid} from table {table}",
                         uuid=row_uuid, table=tname)
            batch.put(tname, row_uuid, None)
            return
        if old is None and row is not None:
            log.warn("cannot add existing row {uuid} to table {table}",
                     uuid=row_uuid, table=tname)
        elif old is not None and row is None:
            log.warn("cannot modify missing row {uuid} in table {table}",
                     uuid=row_uuid, table=tname)
        # "new" carries every monitored column on insert and, from OVS, on modify too;
        # start from the current values so a server sending only changes works as well.
        base = row._data if row is not None and old is not None else None
        batch.put(tname, row_uuid, self._row(tname, row_uuid, types, new, base, diff=False))

    def _row_update2(self, batch: _Batch, tname: str, row_uuid: str,
                     types: dict[str, Type], update: dict[str, Any]) -> None:
        """ovsdb-server(7) <row-update2>: exactly one of initial/insert/delete/modify."""
        if len(update) != 1:
            raise _UpdateError(f"<row-update2> for {tname} {row_uuid} must have exactly "
                               "one member")
        ((op, body),) = update.items()
        row = batch.get(tname, row_uuid)
        if op == "delete":
            if row is None:
                log.warn("cannot delete missing row {uuid} from table {table}",
                         uuid=row_uuid, table=tname)
            batch.put(tname, row_uuid, None)
        elif op in ("initial", "insert"):
            if row is not None:
                log.warn("cannot add existing row {uuid} to table {table}",
                         uuid=row_uuid, table=tname)
            batch.put(tname, row_uuid, self._row(tname, row_uuid, types, body, None,
                                                 diff=False))
        elif op == "modify":
            if row is None:
                raise _UpdateError(f"modify of missing row {row_uuid} in table {tname}")
            batch.put(tname, row_uuid, self._row(tname, row_uuid, types, body, row._data,
                                                 diff=True))
        else:
            raise _UpdateError(f"<row-update2> for {tname} {row_uuid} has unknown "
                               f"member {op!r}")

    @staticmethod
    def _row(tname: str, row_uuid: str, types: dict[str, Type], row_json: Any,
             base: dict[str, Datum] | None, diff: bool) -> Row:
        """A new Row: ``base`` (or every column's default) with ``row_json``'s columns
        set, or for ``diff`` applied as update2 "modify" diffs to set and map columns."""
        if not isinstance(row_json, dict):
            raise _UpdateError(f"<row> for {tname} {row_uuid} is not an object")
        data = dict(base) if base is not None else {c: default_datum(t)
                                                     for c, t in types.items()}
        for cname, value in row_json.items():
            t = types.get(cname)
            if t is None:
                raise _UpdateError(f"<row> for {tname} {row_uuid} has unmonitored "
                                   f"column {cname!r}")
            try:
                # Constraints are the server's to enforce; the replica takes what is there.
                if diff and t.n_max > 1:
                    data[cname] = apply_diff(t, data[cname],
                                             datum_from_json(_relaxed(t), value, check=False))
                else:
                    data[cname] = datum_from_json(t, value, check=False)
            except OVSDBError as e:
                raise _UpdateError(f"column {cname} of {tname} {row_uuid}: {e}") from None
        return Row(tname, row_uuid, types, data)

    def _install(self, batch: _Batch) -> None:
        if batch.replace:
            for rows in self.tables.values():
                rows.clear()
        for (tname, row_uuid), row in batch.staged.items():
            rows = self.tables[tname]
            if row is None:
                rows.pop(row_uuid, None)
            else:
                rows[row_uuid] = row

    def _reconnect(self, session: JsonRpcProtocol, why: str) -> None:
        """Give up on ``session`` after a protocol problem; the service reconnects with
        backoff and, with the transaction id forgotten, the next reply is a full dump."""
        log.error("{name}: {why}; reconnecting", name=session.name, why=why)
        self.last_txn_id = ZERO_TXN_ID
        self._disconnected()
        session.close()

    def _disconnected(self) -> None:
        self._proto = None
        self._notification = None
        was_connected, self.is_connected = self.is_connected, False
        if self.has_lock:
            self._set_lock(False)
        elif was_connected:
            self._notify()

    # --------------------------------------------------------------- locks

    def _lock_reply(self, result: Any, session: JsonRpcProtocol) -> None:
        if session is not self._proto:
            return
        locked = isinstance(result, dict) and result.get("locked") is True
        self.is_lock_contended = not locked
        self._set_lock(locked)

    def _lock_failed(self, failure: Failure, session: JsonRpcProtocol) -> None:
        # Reconnecting would not help a server that refuses the lock; transact() keeps
        # failing with "not locked", which is what the caller needs to know.
        if session is self._proto and failure.check(RemoteError):
            log.error("{name}: lock {lock} refused: {error}", name=session.name,
                      lock=self.lock, error=failure.value.error)

    def _set_lock(self, locked: bool) -> None:
        if locked != self.has_lock:
            self.has_lock = locked
            self.change_seqno += 1
            self._notify()

    # -------------------------------------------------------- transactions

    @staticmethod
    def _transact_done(result: Any, skip: int) -> list[Any]:
        if not isinstance(result, list):
            raise TransactionError(f"malformed transact reply {result!r}")
        if skip and result and isinstance(result[0], dict) and "error" in result[0]:
            raise TransactionError(result[0])  # the lock assertion failed
        results = result[skip:]
        if any(isinstance(r, dict) and "error" in r for r in results):
            raise TransactionError(results)
        return results

    @staticmethod
    def _transact_failed(failure: Failure) -> None:
        if failure.check(RemoteError):
            raise TransactionError(failure.value.error)
        raise TransactionError("connection lost")

    # -------------------------------------------------------------- helpers

    def _schema_failed(self, failure: Failure, session: JsonRpcProtocol) -> None:
        # E.g. "unknown database": the server may gain it later (OVS retries too).
        if session is self._proto and failure.check(RemoteError):
            self._reconnect(session, f"get_schema failed: {failure.value.error}")

    def _notify(self) -> None:
        for fn in list(self._listeners):
            try:
                fn()
            except Exception:
                log.failure("IDL listener {fn!r} failed", fn=fn)
