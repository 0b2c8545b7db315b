"""In-memory OVSDB databases: tables of rows, their indexes and reference counts.

A :class:`Database` is built from a :class:`~ovsdb.schema.DatabaseSchema` and changed
only by committing a :class:`~ovsdb.transaction.Transaction` (which does the RFC 7047
integrity checks) or by replaying log records (:func:`Database.replay`). Every commit
yields a :class:`Change` list that :mod:`ovsdb.monitor` fans out to clients and
:meth:`Database.change_record` turns into an on-disk log record for :mod:`ovsdb.storage`.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

from .data import Datum, apply_diff, datum_from_json, datum_to_json, default_datum, new_uuid
from .errors import OVSDBError
from .schema import DatabaseSchema, TableSchema


class Row:
    """One row. ``fields`` maps every column name, including ``_uuid`` and ``_version``,
    to its datum; ``n_refs`` counts strong references from other rows (self-references
    excluded, as in OVS, so a row that only references itself is garbage)."""

    __slots__ = ("fields", "n_refs")

    def __init__(self, fields: dict[str, Datum], n_refs: int = 0) -> None:
        self.fields = fields
        self.n_refs = n_refs

    @property
    def uuid(self) -> uuid.UUID:
        return self.fields["_uuid"][0]

    def copy(self) -> Row:
        return Row(dict(self.fields), self.n_refs)

    def to_json(self, table: TableSchema, columns: list[str] | None = None) -> dict[str, Any]:
        cols = table.columns
        return {name: datum_to_json(cols[name].type, self.fields[name])
                for name in (columns if columns is not None else cols)}


def new_row(table: TableSchema, row_uuid: uuid.UUID) -> Row:
    """A row with every column at its default value."""
    fields = {name: default_datum(col.type) for name, col in table.columns.items()}
    fields["_uuid"] = (row_uuid,)
    fields["_version"] = (new_uuid(),)
    return Row(fields)


class Table:
    """A table's committed rows (by UUID, in insertion order) and unique indexes (each a
    dict from the tuple of index column datums to the row's UUID)."""

    def __init__(self, schema: TableSchema) -> None:
        self.schema = schema
        self.rows: dict[uuid.UUID, Row] = {}
        self.indexes: list[dict[tuple, uuid.UUID]] = [{} for _ in schema.indexes]

    def index_key(self, i: int, fields: dict[str, Datum]) -> tuple:
        return tuple(fields[c] for c in self.schema.indexes[i])


@dataclass
class Change:
    """One row changed by a commit: ``old`` None for an insert, ``new`` None for a
    delete; ``changed`` names the columns whose value differs."""

    table: str
    uuid: uuid.UUID
    old: Row | None
    new: Row | None
    changed: frozenset[str]


class Database:
    """A database: its schema and tables. ``txn_id`` is the UUID of the last commit
    (monitor_cond_since's last-txn-id; all zeros before the first)."""

    def __init__(self, schema: DatabaseSchema) -> None:
        self.schema = schema
        self.tables = {name: Table(ts) for name, ts in schema.tables.items()}
        self.txn_id = uuid.UUID(int=0)

    @property
    def name(self) -> str:
        return self.schema.name

    def apply(self, changes: list[Change], ref_counts: dict[tuple[str, uuid.UUID], int]) -> None:
        """Makes a checked commit visible: rows, indexes, and the new reference counts
        ``ref_counts`` ((table, uuid) -> n_refs) of rows still present."""
        for ch in changes:
            table = self.tables[ch.table]
            if ch.old is not None:
                for i in range(len(table.indexes)):
                    key = table.index_key(i, ch.old.fields)
                    if table.indexes[i].get(key) == ch.uuid:
                        del table.indexes[i][key]
            if ch.new is None:
                table.rows.pop(ch.uuid, None)
            else:
                table.rows[ch.uuid] = ch.new
        for ch in changes:
            if ch.new is not None:
                table = self.tables[ch.table]
                for i in range(len(table.indexes)):
                    table.indexes[i][table.index_key(i, ch.new.fields)] = ch.uuid
        for (tname, u), n in ref_counts.items():
            row = self.tables[tname].rows.get(u)
            if row is not None:
                row.n_refs = n

    # -- the on-disk representation (ovsdb/file.c's transaction records) --

    def change_record(self, changes: list[Change],
                      comment: str | None) -> dict[str, Any] | None:
        """The log record for a commit: ``{table: {uuid: row-or-null}}`` with inserts
        giving their non-default columns and modifications their changed columns;
        ``_version`` and ephemeral columns are not persisted, so a commit that only
        changed ephemeral columns has no record (None)."""
        record: dict[str, Any] = {}
        for ch in changes:
            ts = self.schema.tables[ch.table]
            if ch.new is None:
                value: Any = None
            else:
                value = {}
                for name, col in ts.columns.items():
                    if name.startswith("_") or col.ephemeral:
                        continue
                    datum = ch.new.fields[name]
                    if ch.old is None:
                        if datum == default_datum(col.type):
                            continue
                    elif name not in ch.changed:
                        continue
                    value[name] = datum_to_json(col.type, datum)
                if ch.old is not None and not value:
                    continue
            record.setdefault(ch.table, {})[str(ch.uuid)] = value
        if not record:
            return None
        record["_date"] = int(time.time() * 1000)
        if comment:
            record["_comment"] = comment
        return record

    def snapshot_record(self) -> dict[str, Any]:
        """One record holding every row: what compaction writes after the schema."""
        record: dict[str, Any] = {}
        for tname, table in self.tables.items():
            ts = table.schema
            rows = {}
            for u, row in table.rows.items():
                rows[str(u)] = {
                    name: datum_to_json(col.type, row.fields[name])
                    for name, col in ts.columns.items()
                    if not name.startswith("_") and not col.ephemeral
                    and row.fields[name] != default_datum(col.type)
                }
            if rows:
                record[tname] = rows
        record["_date"] = int(time.time() * 1000)
        return record

    def replay(self, record: Any) -> None:
        """Applies one transaction record read from the log. Raises OVSDBError for a
        record that does not fit the schema (the caller reports it)."""
        if not isinstance(record, dict):
            raise OVSDBError("syntax error", "transaction record is not an object")
        is_diff = record.get("_is_diff") is True
        for tname, rows in record.items():
            if tname.startswith("_"):
                continue
            table = self.tables.get(tname)
            if table is None or not isinstance(rows, dict):
                raise OVSDBError("syntax error", f"log record names unknown table {tname}")
            ts = table.schema
            for ustr, value in rows.items():
                u = uuid.UUID(ustr)
                old = table.rows.get(u)
                if value is None:
                    if old is not None:
                        self._unindex(table, old)
                        del table.rows[u]
                    continue
                row = old.copy() if old is not None else new_row(ts, u)
                if old is not None:
                    self._unindex(table, old)
                for cname, cjson in value.items():
                    col = ts.columns.get(cname)
                    if col is None:
                        raise OVSDBError("syntax error",
                                         f"log record names unknown column {tname}.{cname}")
                    if is_diff and old is not None and not col.type.is_scalar:
                        from dataclasses import replace

                        loose = replace(col.type, n_min=0, n_max=2**32 - 1)
                        d = datum_from_json(loose, cjson, check=False)
                        row.fields[cname] = apply_diff(col.type, row.fields[cname], d)
                    else:
                        row.fields[cname] = datum_from_json(col.type, cjson, check=False)
                row.fields["_version"] = (new_uuid(),)
                table.rows[u] = row
                for i in range(len(table.indexes)):
                    table.indexes[i][table.index_key(i, row.fields)] = u

    @staticmethod
    def _unindex(table: Table, row: Row) -> None:
        for i in range(len(table.indexes)):
            key = table.index_key(i, row.fields)
            if table.indexes[i].get(key) == row.uuid:
                del table.indexes[i][key]

    def recount_refs(self) -> None:
        """Recomputes every row's strong reference count (after replaying a log)."""
        counts: dict[tuple[str, uuid.UUID], int] = {}
        for table in self.tables.values():
            for cname, targets in table.schema.ref_columns("strong").items():
                t = table.schema.columns[cname].type
                for row in table.rows.values():
                    for ref_table, u in iter_refs(t, row.fields[cname], targets):
                        if u != row.uuid:
                            counts[(ref_table, u)] = counts.get((ref_table, u), 0) + 1
        for tname, table in self.tables.items():
            for u, row in table.rows.items():
                row.n_refs = counts.get((tname, u), 0)


def iter_refs(t: Any, datum: Datum, targets: list[tuple[int, str]]):
    """Yields (table, uuid) for each reference in ``datum`` at the given positions."""
    is_map = t.value is not None
    for pos, ref_table in targets:
        for elem in datum:
            yield ref_table, (elem[pos] if is_map else elem)
