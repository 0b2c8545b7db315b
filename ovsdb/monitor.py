"""Monitors: RFC 7047 "monitor" (section 4.1.5) and OVS's "monitor_cond" and
"monitor_cond_since" (ovsdb-server(7)).

A :class:`Monitor` belongs to one client session of :mod:`ovsdb.server`. It turns the
database's contents into the initial reply and each commit's
:class:`~ovsdb.database.Change` list into the table-updates (version 1, "update") or
table-updates2 (versions 2 and 3, "update2"/"update3") a client asked for, filtering by
its columns, its select flags and, for monitor_cond, its where clauses (a row is sent
when any clause matches).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .condition import Condition, condition_from_json
from .data import datum_to_json, default_datum, diff
from .database import Change, Database, Row
from .errors import json_text, syntax_error
from .parser import ARRAY, BOOLEAN, OBJECT, OPTIONAL, Parser
from .schema import TableSchema

SELECT_KINDS = ("initial", "insert", "delete", "modify")


@dataclass
class MonitorTable:
    """What a monitor watches in one table: ``columns`` (ordered), for each column the
    change kinds it is sent for, and an optional monitor_cond condition."""

    schema: TableSchema
    columns: list[str] = field(default_factory=list)
    column_select: dict[str, frozenset[str]] = field(default_factory=dict)
    select: frozenset[str] = frozenset()
    condition: Condition | None = None


    def matches(self, row: Row | None) -> bool:
        if row is None:
            return False
        return self.condition is None or self.condition.evaluate_any(row.fields)


def _parse_select(json: Any) -> frozenset[str]:
    if json is None:
        return frozenset(SELECT_KINDS)
    p = Parser(json, "table selection")
    out = set()
    for kind in SELECT_KINDS:
        v = p.member(kind, BOOLEAN | OPTIONAL)
        if v is None or v:
            out.add(kind)
    p.finish()
    return frozenset(out)


def parse_requests(db: Database, requests: Any, version: int) -> dict[str, MonitorTable]:
    """Parses <monitor-requests> (a table name -> request or array of requests object);
    monitor_cond requests (``version`` >= 2) may carry a "where". Raises OVSDBError."""
    if not isinstance(requests, dict):
        raise syntax_error("monitor-requests must be an object", requests)
    tables: dict[str, MonitorTable] = {}
    for tname, reqs in requests.items():
        ts = db.schema.tables.get(tname)
        if ts is None:
            raise syntax_error(f"no table named {tname}", requests)
        mt = MonitorTable(ts)
        for req in reqs if isinstance(reqs, list) else [reqs]:
            p = Parser(req, "table monitor request")
            columns = p.member("columns", ARRAY | OPTIONAL)
            select = _parse_select(p.member("select", OBJECT | OPTIONAL))
            mt.select |= select
            where = p.member("where", ARRAY | OPTIONAL) if version >= 2 else None
            p.finish()
            if columns is None:
                names = [c for c in ts.columns if c != "_uuid"]
            else:
                names = []
                for c in columns:
                    if not isinstance(c, str) or c not in ts.columns:
                        raise syntax_error(f"{c} is not a valid column name", columns)
                    names.append(c)
            for c in names:
                if c in mt.column_select:
                    mt.column_select[c] |= select
                else:
                    mt.columns.append(c)
                    mt.column_select[c] = select
            if where is not None:
                mt.condition = condition_from_json(ts, where)
        tables[tname] = mt
    return tables


class Monitor:
    """One client's monitor of one database.

    ``version`` is 1 for "monitor", 2 for "monitor_cond", 3 for "monitor_cond_since".
    """

    def __init__(self, db: Database, monitor_id: Any, tables: dict[str, MonitorTable],
                 version: int) -> None:
        self.db = db
        self.monitor_id = monitor_id
        self.tables = tables
        self.version = version

    def initial(self) -> dict[str, Any]:
        """The table-updates(2) of every row the monitor selects for "initial"."""
        out: dict[str, Any] = {}
        for tname, mt in self.tables.items():
            if "initial" not in mt.select:
                continue
            rows = {}
            for u, row in self.db.tables[tname].rows.items():
                if mt.matches(row):
                    rows[str(u)] = self._row_update(mt, "initial", None, row, frozenset())
            if rows:
                out[tname] = rows
        return out

    def updates(self, changes: Iterable[Change]) -> dict[str, Any] | None:
        """The table-updates(2) for one commit's changes, or None if nothing shows."""
        out: dict[str, Any] = {}
        for ch in changes:
            mt = self.tables.get(ch.table)
            if mt is None:
                continue
            update = self._change_update(mt, ch.old, ch.new, ch.changed)
            if update is not None:
                out.setdefault(ch.table, {})[str(ch.uuid)] = update
        return out or None

    def _change_update(self, mt: MonitorTable, old: Row | None, new: Row | None,
                       changed: frozenset[str]) -> dict[str, Any] | None:
        if old is None:
            kind = "insert"
        elif new is None:
            kind = "delete"
        else:
            kind = "modify"
        if mt.condition is not None:
            old_in, new_in = mt.matches(old), mt.matches(new)
            if kind == "insert" and not new_in:
                return None
            if kind == "delete" and not old_in:
                return None
            if kind == "modify":
                if not old_in and not new_in:
                    return None
                kind = "insert" if not old_in else "delete" if not new_in else "modify"
        if kind not in mt.select:
            return None
        if kind == "modify" and not any(
                c in changed and kind in mt.column_select[c] for c in mt.columns):
            return None  # nothing this client watches changed
        return self._row_update(mt, kind, old, new, changed)

    def _row_update(self, mt: MonitorTable, kind: str, old: Row | None, new: Row | None,
                    changed: frozenset[str]) -> dict[str, Any]:
        cols = mt.schema.columns
        selected = [c for c in mt.columns if kind in mt.column_select[c]]
        if self.version == 1:
            update: dict[str, Any] = {}
            if kind in ("delete", "modify"):
                assert old is not None
                update["old"] = {c: datum_to_json(cols[c].type, old.fields[c])
                                 for c in selected if kind == "delete" or c in changed}
            if kind != "delete":
                assert new is not None
                update["new"] = {c: datum_to_json(cols[c].type, new.fields[c])
                                 for c in selected}
            return update
        if kind == "delete":
            return {"delete": None}
        assert new is not None
        if kind == "modify":
            assert old is not None
            body = {}
            for c in selected:
                if c not in changed:
                    continue
                t = cols[c].type
                d = diff(t, old.fields[c], new.fields[c]) if t.n_max > 1 else new.fields[c]
                body[c] = datum_to_json(t, d)
            return {"modify": body}
        return {kind: {c: datum_to_json(cols[c].type, new.fields[c]) for c in selected
                       if new.fields[c] != default_datum(cols[c].type)}}

    def change_conditions(self, requests: Any) -> dict[str, Any] | None:
        """monitor_cond_change: installs new where clauses (a table -> [request] object)
        and returns the updates for rows that enter ("insert") or leave ("delete") the
        monitored set, or None. Raises OVSDBError; on error nothing changes."""
        if not isinstance(requests, dict):
            raise syntax_error("monitor-cond-change requests must be an object", requests)
        new_conds: dict[str, Condition | None] = {}
        for tname, reqs in requests.items():
            mt = self.tables.get(tname)
            if mt is None:
                raise syntax_error(f"no table named {tname} in monitor", requests)
            where = None
            for req in reqs if isinstance(reqs, list) else [reqs]:
                p = Parser(req, "table monitor request")
                p.member("columns", ARRAY | OPTIONAL)
                where = p.member("where", ARRAY | OPTIONAL)
                p.finish()
            new_conds[tname] = condition_from_json(mt.schema, where) \
                if where is not None else None
        out: dict[str, Any] = {}
        for tname, cond in new_conds.items():
            mt = self.tables[tname]
            old_mt = MonitorTable(mt.schema, mt.columns, mt.column_select, mt.select,
                                  mt.condition)
            mt.condition = cond
            for u, row in self.db.tables[tname].rows.items():
                was, now = old_mt.matches(row), mt.matches(row)
                if was == now:
                    continue
                kind = "insert" if now else "delete"
                if kind not in mt.select:
                    continue
                out.setdefault(tname, {})[str(u)] = self._row_update(
                    mt, kind, row if was else None, row if now else None, frozenset())
        return out or None


class History:
    """The last ``size`` commits of a database, for monitor_cond_since (OVS keeps a
    bounded history too, so a client that is too far behind gets a full resync)."""

    def __init__(self, size: int = 100) -> None:
        self.entries: deque[tuple[Any, list[Change]]] = deque(maxlen=size)

    def add(self, txn_id: Any, changes: list[Change]) -> None:
        self.entries.append((txn_id, changes))

    def since(self, txn_id: Any) -> list[Change] | None:
        """The changes committed after ``txn_id``, merged per row; None when
        ``txn_id`` is not in the history."""
        ids = [e[0] for e in self.entries]
        if txn_id not in ids:
            return None
        merged: dict[tuple[str, Any], Change] = {}
        for _, changes in list(self.entries)[ids.index(txn_id) + 1:]:
            for ch in changes:
                key = (ch.table, ch.uuid)
                prev = merged.get(key)
                if prev is None:
                    merged[key] = ch
                    continue
                old, new = prev.old, ch.new
                if old is None and new is None:
                    del merged[key]
                    continue
                changed = frozenset(
                    c for c in (new or old).fields  # type: ignore[union-attr]
                    if old is None or new is None or old.fields[c] != new.fields[c])
                merged[key] = Change(ch.table, ch.uuid, old, new, changed)
        return list(merged.values())


def monitor_key(value: Any) -> str:
    """Monitor ids are any JSON; a session keys its monitors by their canonical text."""
    return json_text(value)


