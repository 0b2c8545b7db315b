"""The OVSDB server: RFC 7047 methods and OVS's extensions over JSON-RPC sessions.

Ties the layers together: each client connection is a
:class:`~ovsdb.jsonrpc.JsonRpcProtocol` whose handler is an :class:`OvsdbSession`; the
:class:`OvsdbServer` owns the databases (each a :class:`~ovsdb.file.DatabaseFile`, plus
the read-only ``_Server`` database), the locks and the pending ("triggered")
transactions. A commit is appended to its log (fsync'd), then fanned out to every
monitor, then acknowledged, so a client sees updates for its own transaction before the
transact reply (ovsdb-server(7)). :mod:`ovsdb.tap` wraps the server in twistd services.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

from twisted.internet.interfaces import IDelayedCall
from twisted.python.failure import Failure

from . import vlog
from .data import new_uuid, parse_uuid_string
from .database import Change, Database, new_row
from .errors import OVSDBError, syntax_error
from .file import DatabaseFile
from .jsonrpc import JsonRpcProtocol, Message, MessageKind, SessionHandler
from .monitor import History, Monitor, monitor_key, parse_requests
from .parser import is_id
from .schema import DatabaseSchema
from .transaction import Transaction, execute

log = vlog.logger("ovsdb.server")

SERVER_DB = "_Server"
#: The ``_Server`` database's schema (OVS ovsdb/_server.ovsschema, version 1.2.0).
SERVER_SCHEMA_JSON: dict[str, Any] = {
    "name": "_Server",
    "version": "1.2.0",
    "tables": {
        "Database": {
            "columns": {
                "name": {"type": "string"},
                "model": {"type": {"key": {"type": "string", "enum": [
                    "set", ["standalone", "clustered", "relay"]]}}},
                "connected": {"type": "boolean"},
                "leader": {"type": "boolean"},
                "schema": {"type": {"key": {"type": "string"}, "min": 0, "max": 1}},
                "cid": {"type": {"key": {"type": "uuid"}, "min": 0, "max": 1}},
                "sid": {"type": {"key": {"type": "uuid"}, "min": 0, "max": 1}},
                "index": {"type": {"key": {"type": "integer"}, "min": 0, "max": 1}},
            },
            "isRoot": True,
        },
    },
}

_NOTIFY_METHOD = {1: "update", 2: "update2", 3: "update3"}
_MONITOR_VERSION = {"monitor": 1, "monitor_cond": 2, "monitor_cond_since": 3}


class ServedDatabase:
    """A database the server serves: its data, its file (None for ``_Server``) and the
    recent commit history monitor_cond_since replays."""

    def __init__(self, db: Database, file: DatabaseFile | None) -> None:
        self.db = db
        self.file = file
        self.history = History()

    @property
    def name(self) -> str:
        return self.db.name


class _Trigger:
    """A transact waiting on a "wait" operation (RFC 7047 section 5.2.6)."""

    def __init__(self, session: OvsdbSession, msg: Message, served: ServedDatabase,
                 start_ms: int) -> None:
        self.session = session
        self.msg = msg
        self.served = served
        self.start_ms = start_ms
        self.timer: IDelayedCall | None = None


class OvsdbServer:
    """Databases, client sessions, locks and triggers of one ovsdb-server.

    :param clock: an IReactorTime (the reactor; ``task.Clock`` in tests).
    :param sync_always: fsync every commit before acknowledging it (else only
        durable ones).
    """

    def __init__(self, clock: Any = None, sync_always: bool = True) -> None:
        if clock is None:
            from twisted.internet import reactor as clock
        self.clock = clock
        # True: fsync every commit before acknowledging it. False: only commits
        # with a durable "commit" operation (RFC 7047 5.2.7), as ovsdb-server does.
        self.sync_always = sync_always
        self.server_id = new_uuid()
        self.dbs: dict[str, ServedDatabase] = {}
        self.sessions: set[OvsdbSession] = set()
        self.locks: dict[str, list[OvsdbSession]] = {}  # waiters; the first owns it
        self.triggers: list[_Trigger] = []
        #: Called with (served, changes) after every commit, in order (ovsdb/db_remotes.py
        #: re-reads the remotes configured in the database).
        self.commit_listeners: list[Callable[[ServedDatabase, list[Change]], None]] = []
        server_db = Database(DatabaseSchema.from_json(SERVER_SCHEMA_JSON))
        self.dbs[SERVER_DB] = ServedDatabase(server_db, None)

    # -- databases --

    def add_database(self, file: DatabaseFile) -> ServedDatabase:
        """Starts serving an opened database file. Raises ValueError if a database of
        that name is already served."""
        name = file.db.name
        if name in self.dbs:
            raise ValueError(f"{file.path}: a database named {name} is already served")
        served = self.dbs[name] = ServedDatabase(file.db, file)
        self._update_server_db()
        return served

    def close(self) -> None:
        """Closes every database file (releasing their locks)."""
        for served in self.dbs.values():
            if served.file is not None:
                served.file.close()

    def _update_server_db(self) -> None:
        served = self.dbs[SERVER_DB]
        txn = Transaction(served.db)
        existing = {row.fields["name"][0]: row for row in txn.iter_rows("Database")}
        ts = served.db.schema.tables["Database"]
        for name, sd in self.dbs.items():
            schema_text = json.dumps(sd.db.schema.to_json(), separators=(",", ":"))
            fields = {"name": (name,), "model": ("standalone",), "connected": (True,),
                      "leader": (True,), "schema": (schema_text,)}
            row = existing.pop(name, None)
            if row is None:
                row = new_row(ts, new_uuid())
                row.fields.update(fields)
                txn.insert("Database", row)
            elif any(row.fields[k] != v for k, v in fields.items()):
                txn.modify("Database", row).fields.update(fields)
        for row in existing.values():
            txn.delete("Database", row)
        changes = txn.commit()
        if changes:
            self._committed(served, changes)

    # -- sessions --

    def protocol(self) -> JsonRpcProtocol:
        """A new client connection (the factory RemoteService calls)."""
        return JsonRpcProtocol(OvsdbSession(self))

    def now_ms(self) -> int:
        return int(self.clock.seconds() * 1000)

    # -- transactions --

    def transact(self, session: OvsdbSession, msg: Message, served: ServedDatabase,
                 start_ms: int, first: bool = False) -> float | None:
        """Executes a transact request and replies; if a "wait" keeps it pending,
        returns the timeout (ms after ``start_ms``, math.inf for none) instead.
        ``first``: the first attempt, which has waited 0 ms (as in OVS, so a wait with
        timeout 0 fails its "where" test, whatever millisecond boundary the clock
        crossed since the request arrived)."""
        elapsed = 0 if first else self.now_ms() - start_ms
        result = execute(served.db, msg.params[1:], elapsed_ms=elapsed,
                         lock_owned=session.owns_lock,
                         read_only=served.file is None)
        if result.results is None:
            return result.timeout_ms
        if result.changes:
            assert served.file is not None
            try:
                if result.record is not None:
                    served.file.commit(result.record,
                                       sync=self.sync_always or result.durable)
            except OSError as e:
                log.error("{db}: cannot write transaction: {e}", db=served.name, e=e)
                result.results.append(OVSDBError("I/O error", str(e)).to_json())
            self._committed(served, result.changes)
        session.proto.send(Message.reply(result.results, msg.id))
        return None

    def commit(self, served: ServedDatabase, txn: Transaction) -> list[Change]:
        """Commits a transaction the server makes itself (e.g. Manager status, see
        ovsdb/db_remotes.py): logged if it changed a persistent column, then fanned out
        like a client's. Returns the changes; raises OVSDBError if a commit-time check
        fails (nothing changed then)."""
        changes = txn.commit()
        if changes:
            record = served.db.change_record(changes, None)
            if record is not None and served.file is not None:
                try:
                    served.file.commit(record, sync=self.sync_always)
                except OSError as e:
                    log.error("{db}: cannot write transaction: {e}", db=served.name, e=e)
            self._committed(served, changes)
        return changes

    def _committed(self, served: ServedDatabase, changes: list[Change]) -> None:
        served.history.add(served.db.txn_id, changes)
        for s in list(self.sessions):
            s.send_updates(served, changes)
        if any(t.served is served for t in self.triggers):
            self.clock.callLater(0, self._retry_triggers, served)
        for listener in list(self.commit_listeners):
            listener(served, changes)

    def add_trigger(self, session: OvsdbSession, msg: Message, served: ServedDatabase,
                    start_ms: int, timeout_ms: float) -> None:
        t = _Trigger(session, msg, served, start_ms)
        if timeout_ms != math.inf:
            delay = max(0.0, (start_ms + timeout_ms - self.now_ms()) / 1000.0)
            t.timer = self.clock.callLater(delay, self._trigger_timeout, t)
        self.triggers.append(t)

    def _retry_triggers(self, served: ServedDatabase) -> None:
        for t in [t for t in self.triggers if t.served is served]:
            if t in self.triggers and \
                    self.transact(t.session, t.msg, t.served, t.start_ms) is None:
                self._remove_trigger(t)

    def _trigger_timeout(self, t: _Trigger) -> None:
        t.timer = None
        if t not in self.triggers:
            return
        if self.transact(t.session, t.msg, t.served, t.start_ms) is None:
            self._remove_trigger(t)

    def _remove_trigger(self, t: _Trigger) -> None:
        if t in self.triggers:
            self.triggers.remove(t)
        if t.timer is not None and t.timer.active():
            t.timer.cancel()
        t.timer = None

    def cancel_trigger(self, session: OvsdbSession, request_id: Any,
                       reply: bool = True) -> None:
        for t in list(self.triggers):
            if t.session is session and (request_id is None or t.msg.id == request_id):
                self._remove_trigger(t)
                if reply:
                    session.proto.send(Message.error_reply("canceled", t.msg.id))

    # -- locks (RFC 7047 section 4.1.8 - 4.1.10) --

    def lock(self, session: OvsdbSession, name: str, steal: bool) -> bool:
        waiters = self.locks.setdefault(name, [])
        victim = waiters[0] if steal and waiters else None
        if steal:
            waiters.insert(0, session)
        else:
            waiters.append(session)
        if victim is not None:
            if victim.stole.get(name):
                waiters.remove(victim)
                victim.lock_names.discard(name)
            victim.proto.notify("stolen", [name])
        session.stole[name] = steal
        return waiters[0] is session

    def unlock(self, session: OvsdbSession, name: str) -> None:
        waiters = self.locks.get(name, [])
        was_owner = bool(waiters) and waiters[0] is session
        if session in waiters:
            waiters.remove(session)
        session.stole.pop(name, None)
        if not waiters:
            self.locks.pop(name, None)
        elif was_owner:
            waiters[0].proto.notify("locked", [name])


class OvsdbSession(SessionHandler):
    """One client's JSON-RPC session: its monitors, locks and pending transactions."""

    def __init__(self, server: OvsdbServer) -> None:
        self.server = server
        self.proto: JsonRpcProtocol = None  # type: ignore[assignment]
        self.monitors: dict[str, tuple[ServedDatabase, Monitor]] = {}
        self.lock_names: set[str] = set()
        self.stole: dict[str, bool] = {}
        self.db_change_aware = False

    def owns_lock(self, name: str) -> bool:
        waiters = self.server.locks.get(name)
        return bool(waiters) and waiters[0] is self

    # -- SessionHandler --

    def connection_made(self, session: JsonRpcProtocol) -> None:
        self.proto = session
        self.server.sessions.add(self)

    def connection_lost(self, session: JsonRpcProtocol, reason: Failure) -> None:
        self.server.sessions.discard(self)
        self.server.cancel_trigger(self, None, reply=False)
        for name in list(self.lock_names):
            self.server.unlock(self, name)
        self.lock_names.clear()
        self.monitors.clear()

    def message_received(self, session: JsonRpcProtocol, msg: Message) -> None:
        if msg.kind is MessageKind.NOTIFICATION:
            if msg.method == "cancel" and isinstance(msg.params, list) and \
                    len(msg.params) == 1:
                self.server.cancel_trigger(self, msg.params[0])
            return
        if msg.kind is not MessageKind.REQUEST:
            # The server sends no requests but echo probes (answered in the protocol),
            # so any other reply is from a confused peer: drop it, as ovsdb-server does.
            log.warn("{peer}: unexpected reply, closing session", peer=self.proto.name)
            self.proto.close()
            return
        handler = self._METHODS.get(msg.method or "")
        if handler is None:
            self.proto.send(Message.error_reply("unknown method", msg.id))
            return
        try:
            result = handler(self, msg)
        except OVSDBError as e:
            self.proto.send(Message.error_reply(e.to_json(), msg.id))
            return
        except Exception:  # a bug must cost one request, never the server
            log.failure("{method} request failed", method=msg.method)
            self.proto.send(Message.error_reply(
                OVSDBError("internal error", f"{msg.method} failed").to_json(), msg.id))
            return
        if result is not _NO_REPLY:
            self.proto.send(Message.reply(result, msg.id))

    # -- helpers --

    def _lookup_db(self, msg: Message) -> ServedDatabase:
        params = msg.params
        if not params or not isinstance(params[0], str):
            raise syntax_error(f"{msg.method} request params must begin with <db-name>",
                               params)
        served = self.server.dbs.get(params[0])
        if served is None:
            raise OVSDBError("unknown database",
                             f"{msg.method} request specifies unknown database {params[0]}",
                             params)
        return served

    def send_updates(self, served: ServedDatabase, changes: list[Change]) -> None:
        for db_served, mon in self.monitors.values():
            if db_served is not served:
                continue
            updates = mon.updates(changes)
            if updates is None:
                continue
            self._notify_monitor(mon, updates)

    def _notify_monitor(self, mon: Monitor, updates: dict[str, Any]) -> None:
        if mon.version == 3:
            params = [mon.monitor_id, str(mon.db.txn_id), updates]
        else:
            params = [mon.monitor_id, updates]
        self.proto.notify(_NOTIFY_METHOD[mon.version], params)

    # -- methods --

    def _list_dbs(self, msg: Message) -> Any:
        return sorted(self.server.dbs)

    def _get_schema(self, msg: Message) -> Any:
        return self._lookup_db(msg).db.schema.to_json()

    def _transact(self, msg: Message) -> Any:
        served = self._lookup_db(msg)
        start = self.server.now_ms()
        timeout = self.server.transact(self, msg, served, start, first=True)
        if timeout is not None:
            self.server.add_trigger(self, msg, served, start, timeout)
        return _NO_REPLY

    def _monitor(self, msg: Message) -> Any:
        served = self._lookup_db(msg)
        version = _MONITOR_VERSION[msg.method or ""]
        params = msg.params
        if (version == 1 and len(params) not in (2, 3)) or \
                (version == 2 and len(params) != 3) or (version == 3 and len(params) != 4):
            raise syntax_error("invalid parameters", params)
        monitor_id = params[1]
        requests = params[2] if len(params) > 2 else {}
        if not isinstance(requests, dict):
            raise syntax_error("monitor-requests must be object", requests)
        key = monitor_key(monitor_id)
        if key in self.monitors:
            raise syntax_error("duplicate monitor ID", monitor_id)
        mon = Monitor(served.db, monitor_id, parse_requests(served.db, requests, version),
                      version)
        found = False
        updates: Any = None
        if version == 3:
            last_id = params[3]
            if not isinstance(last_id, str):
                raise syntax_error("last-txn-id must be string", last_id)
            last = parse_uuid_string(last_id)
            if last is None:
                raise syntax_error("last-txn-id must be UUID format.", last_id)
            if last.int:
                if last == served.db.txn_id:
                    found, updates = True, {}
                else:
                    changes = served.history.since(last)
                    if changes is not None:
                        found, updates = True, mon.updates(changes) or {}
        if not found:
            updates = mon.initial()
        self.monitors[key] = (served, mon)
        if version == 3:
            return [found, str(served.db.txn_id), updates]
        return updates

    def _monitor_cond_change(self, msg: Message) -> Any:
        params = msg.params
        if len(params) != 3:
            raise syntax_error("invalid parameters", params)
        key = monitor_key(params[0])
        entry = self.monitors.get(key)
        if entry is None:
            raise syntax_error("unknown monitor session", params[0])
        served, mon = entry
        new_key = monitor_key(params[1])
        if new_key != key and new_key in self.monitors:
            raise syntax_error("duplicate monitor ID", params[1])
        updates = mon.change_conditions(params[2])
        if new_key != key:
            del self.monitors[key]
            mon.monitor_id = params[1]
            self.monitors[new_key] = (served, mon)
        if updates is not None:
            self._notify_monitor(mon, updates)
        return {}

    def _monitor_cancel(self, msg: Message) -> Any:
        params = msg.params
        if len(params) != 1:
            raise OVSDBError("invalid parameters")
        key = monitor_key(params[0])
        if key not in self.monitors:
            self.proto.send(Message.error_reply("unknown monitor", msg.id))
            return _NO_REPLY
        del self.monitors[key]
        return {}

    def _lock_name(self, msg: Message) -> str:
        params = msg.params
        if len(params) != 1 or not is_id(params[0]):
            raise syntax_error(f"{msg.method} request params must be <id>", params)
        return params[0]

    def _lock(self, msg: Message) -> Any:
        name = self._lock_name(msg)
        if name in self.lock_names:
            raise syntax_error(f'must issue "unlock" before new "{msg.method}"', msg.params)
        self.lock_names.add(name)
        return {"locked": self.server.lock(self, name, steal=msg.method == "steal")}

    def _unlock(self, msg: Message) -> Any:
        name = self._lock_name(msg)
        if name not in self.lock_names:
            raise syntax_error('unlock: "unlock" without "lock" or "steal"', msg.params)
        self.lock_names.discard(name)
        self.server.unlock(self, name)
        return {}

    def _set_db_change_aware(self, msg: Message) -> Any:
        params = msg.params
        if len(params) != 1 or not isinstance(params[0], bool):
            raise syntax_error("set_db_change_aware: true or false parameter expected",
                               params)
        self.db_change_aware = params[0]
        return {}

    def _get_server_id(self, msg: Message) -> Any:
        return str(self.server.server_id)

    def _echo(self, msg: Message) -> Any:
        return msg.params

    _METHODS: dict[str, Callable[[OvsdbSession, Message], Any]] = {
        "list_dbs": _list_dbs,
        "get_schema": _get_schema,
        "transact": _transact,
        "monitor": _monitor,
        "monitor_cond": _monitor,
        "monitor_cond_since": _monitor,
        "monitor_cond_change": _monitor_cond_change,
        "monitor_cancel": _monitor_cancel,
        "lock": _lock,
        "steal": _lock,
        "unlock": _unlock,
        "set_db_change_aware": _set_db_change_aware,
        "get_server_id": _get_server_id,
        "echo": _echo,
    }


_NO_REPLY = object()

