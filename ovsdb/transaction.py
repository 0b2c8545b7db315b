"""The RFC 7047 "transact" method: the ten operations and the commit-time checks.

:func:`execute` runs one transact request's operations (section 5.2) against a
:class:`~ovsdb.database.Database` inside a :class:`Transaction` that sees its own
changes; :meth:`Transaction.commit` then enforces what RFC 7047 leaves to commit time
(section 3.2 and 4.1.3), in OVS's order, with OVS's error wording:

1. drop rows whose columns did not really change;
2. strong references: count them, reject references to rows that do not exist and
   deletions of rows still referenced;
3. garbage collection: rows of non-root tables left with no strong reference go;
4. ``maxRows``;
5. weak references to rows that do not exist (any more) are removed silently, unless
   that leaves a column below its minimum size;
6. unique ``indexes``.

The server (:mod:`ovsdb.server`) persists the resulting changes before acknowledging and
hands them to the monitors.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from .condition import Condition, condition_from_json
from .data import (
    Datum,
    SymbolTable,
    atom_to_string,
    check_atom,
    conforms,
    datum_from_json,
    new_uuid,
    parse_uuid_string,
    subtract,
    union,
)
from .database import (
    Change,
    Database,
    Row,
    iter_refs,
    new_row,
)
from .errors import OVSDBError, syntax_error
from .parser import ARRAY, BOOLEAN, ID, INTEGER, OBJECT, OPTIONAL, STRING, Parser
from .schema import TableSchema
from .types import INT64_MAX, INT64_MIN, UINT_MAX

ZERO_UUID = uuid.UUID(int=0)


class TxnRow:
    """A row touched by a transaction: committed version ``old`` (None if inserted),
    working version ``new`` (None if deleted)."""

    __slots__ = ("old", "new", "changed")

    def __init__(self, old: Row | None, new: Row | None) -> None:
        self.old = old
        self.new = new
        self.changed: set[str] = set()


class Transaction:
    """A set of row changes against ``db``, visible to its own later operations."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.rows: dict[str, dict[uuid.UUID, TxnRow]] = {}
        self.comments: list[str] = []

    # -- the transaction's view of the database --

    def _txn_table(self, table: str) -> dict[uuid.UUID, TxnRow]:
        t = self.rows.get(table)
        if t is None:
            t = self.rows[table] = {}
        return t

    def get_row(self, table: str, u: uuid.UUID) -> Row | None:
        tr = self.rows.get(table, {}).get(u)
        if tr is not None:
            return tr.new
        return self.db.tables[table].rows.get(u)

    def iter_rows(self, table: str) -> Iterator[Row]:
        txn_rows = self.rows.get(table)
        committed = self.db.tables[table].rows
        if not txn_rows:
            yield from committed.values()
            return
        for u, row in committed.items():
            tr = txn_rows.get(u)
            if tr is None:
                yield row
            elif tr.new is not None:
                yield tr.new
        for tr in list(txn_rows.values()):
            if tr.old is None and tr.new is not None:
                yield tr.new

    def query(self, table: str, cond: Condition) -> list[Row]:
        """The rows of ``table`` that satisfy ``cond``, in a stable order."""
        u = cond.uuid_lookup()
        if u is not None:
            row = self.get_row(table, u)
            return [row] if row is not None and cond.evaluate(row.fields) else []
        return [row for row in self.iter_rows(table) if cond.evaluate(row.fields)]

    def may_create(self, table: str, u: uuid.UUID) -> bool:
        return u not in self.db.tables[table].rows and u not in self.rows.get(table, {})

    def insert(self, table: str, row: Row) -> None:
        self._txn_table(table)[row.uuid] = TxnRow(None, row)

    def modify(self, table: str, row: Row) -> Row:
        """A writable version of ``row`` (a row this transaction can see)."""
        t = self._txn_table(table)
        tr = t.get(row.uuid)
        if tr is None:
            tr = t[row.uuid] = TxnRow(row, row.copy())
        assert tr.new is not None
        return tr.new

    def delete(self, table: str, row: Row) -> None:
        t = self._txn_table(table)
        tr = t.get(row.uuid)
        if tr is None:
            t[row.uuid] = TxnRow(row, None)
        elif tr.old is None:
            del t[row.uuid]
        else:
            tr.new = None

    # -- commit --

    def commit(self) -> list[Change]:
        """Checks the transaction and applies it to the database.

        Returns the changes (empty for a no-op). Raises OVSDBError ("referential
        integrity violation" or "constraint violation") and leaves the database
        untouched when a check fails.
        """
        self._determine_changes()
        if not any(self.rows.values()):
            return []
        ref_counts = self._update_ref_counts()
        if self.db.schema.uses_gc:
            self._collect_garbage(ref_counts)
        self._check_max_rows()
        self._assess_weak_refs()
        self._check_indexes()
        changes = []
        for tname, rows in self.rows.items():
            for u, tr in rows.items():
                if tr.old is None and tr.new is None:
                    continue
                if tr.new is not None:
                    tr.new.fields["_version"] = (new_uuid(),)
                    tr.new.n_refs = ref_counts.get((tname, u), tr.new.n_refs)
                if tr.old is not None and tr.new is not None:
                    changed = tr.changed | {"_version"}
                else:
                    changed = set(self.db.schema.tables[tname].columns)
                changes.append(Change(tname, u, tr.old, tr.new, frozenset(changed)))
        if not changes:
            return []
        self.db.apply(changes, ref_counts)
        self.db.txn_id = new_uuid()
        return changes

    def _determine_changes(self) -> None:
        for tname, rows in self.rows.items():
            cols = self.db.schema.tables[tname].columns
            for u in list(rows):
                tr = rows[u]
                if tr.old is not None and tr.new is not None:
                    tr.changed = {c for c in cols if tr.old.fields[c] != tr.new.fields[c]}
                    tr.changed.discard("_version")
                    if not tr.changed:
                        del rows[u]
                elif tr.old is None and tr.new is None:
                    del rows[u]
                else:
                    tr.changed = set(cols)

    def _row_exists_in_txn(self, table: str, u: uuid.UUID) -> bool:
        """Whether a row is known at all: committed, or touched by this transaction."""
        return u in self.db.tables[table].rows or u in self.rows.get(table, {})

    def _current_refs(self, table: str, u: uuid.UUID, counts: dict) -> int:
        key = (table, u)
        if key in counts:
            return counts[key]
        tr = self.rows.get(table, {}).get(u)
        if tr is not None:
            return tr.old.n_refs if tr.old is not None else 0
        row = self.db.tables[table].rows.get(u)
        return row.n_refs if row is not None else 0

    def _update_ref_counts(self) -> dict[tuple[str, uuid.UUID], int]:
        counts: dict[tuple[str, uuid.UUID], int] = {}
        for tname, rows in list(self.rows.items()):
            ts = self.db.schema.tables[tname]
            strong = ts.ref_columns("strong")
            if not strong:
                continue
            for u, tr in list(rows.items()):
                for cname in tr.changed:
                    targets = strong.get(cname)
                    if targets is None:
                        continue
                    col = ts.columns[cname]
                    # A map can hold one reference under several keys: count
                    # references, not distinct targets.
                    old_l = list(iter_refs(col.type, tr.old.fields[cname], targets)) \
                        if tr.old is not None else []
                    new_l = list(iter_refs(col.type, tr.new.fields[cname], targets)) \
                        if tr.new is not None else []
                    for ref_table, ref in _multiset_minus(old_l, new_l):
                        if ref != u:
                            counts[(ref_table, ref)] = \
                                self._current_refs(ref_table, ref, counts) - 1
                    for ref_table, ref in _multiset_minus(new_l, old_l):
                        if ref == u:
                            continue
                        if not self._row_exists_in_txn(ref_table, ref):
                            raise OVSDBError(
                                "referential integrity violation",
                                f"Table {tname} column {cname} row {u} references "
                                f"nonexistent row {ref} in table {ref_table}.")
                        counts[(ref_table, ref)] = self._current_refs(ref_table, ref, counts) + 1
        for tname, rows in self.rows.items():
            for u, tr in rows.items():
                if tr.new is None and tr.old is not None:
                    n = self._current_refs(tname, u, counts)
                    if n:
                        raise OVSDBError(
                            "referential integrity violation",
                            f"cannot delete {tname} row {u} because of {n} remaining "
                            "reference(s)")
        return counts

    def _collect_garbage(self, counts: dict[tuple[str, uuid.UUID], int]) -> None:
        schema = self.db.schema
        candidates = [(t, u) for t, rows in self.rows.items() for u in rows]
        candidates.extend(k for k in counts if k[1] not in self.rows.get(k[0], {}))
        while candidates:
            tname, u = candidates.pop()
            if schema.is_root(tname):
                continue
            row = self.get_row(tname, u)
            if row is None or self._current_refs(tname, u, counts):
                continue
            self.delete(tname, row)
            tr = self.rows.get(tname, {}).get(u)
            if tr is not None:
                tr.changed = set(schema.tables[tname].columns)
            ts = schema.tables[tname]
            for cname, targets in ts.ref_columns("strong").items():
                for ref_table, ref in iter_refs(ts.columns[cname].type, row.fields[cname],
                                                targets):
                    if ref == u:
                        continue
                    counts[(ref_table, ref)] = self._current_refs(ref_table, ref, counts) - 1
                    if counts[(ref_table, ref)] == 0:
                        candidates.append((ref_table, ref))

    def _check_max_rows(self) -> None:
        for tname, rows in self.rows.items():
            ts = self.db.schema.tables[tname]
            if ts.max_rows == UINT_MAX or not rows:
                continue
            n = len(self.db.tables[tname].rows)
            for _u, tr in rows.items():
                if tr.old is None and tr.new is not None:
                    n += 1
                elif tr.old is not None and tr.new is None:
                    n -= 1
            if n > ts.max_rows:
                raise OVSDBError(
                    "constraint violation",
                    f'transaction causes "{tname}" table to contain {n} rows, greater than '
                    f"the schema-defined limit of {ts.max_rows} row(s)")

    def _assess_weak_refs(self) -> None:
        schema = self.db.schema
        deleted: dict[str, set[uuid.UUID]] = {}
        for tname, rows in self.rows.items():
            for u, tr in rows.items():
                if tr.new is None:
                    deleted.setdefault(tname, set()).add(u)
        for tname, ts in schema.tables.items():
            weak = ts.ref_columns("weak")
            if not weak:
                continue
            weak_cols = [(ts.columns[c], t) for c, t in weak.items()]
            scan_all = any(ref_table in deleted for _, ts_ in weak_cols for _, ref_table in ts_)
            txn_rows = self.rows.get(tname, {})
            if scan_all:
                rows = list(self.iter_rows(tname))
            else:
                rows = [tr.new for tr in txn_rows.values() if tr.new is not None]
            for row in rows:
                tr = txn_rows.get(row.uuid)
                for col, targets in weak_cols:
                    if not scan_all and tr is not None and col.name not in tr.changed:
                        continue
                    self._prune_weak(tname, row, col, targets)

    def _prune_weak(self, tname: str, row: Row, col: Any, targets: list) -> None:
        t = col.type
        datum = row.fields[col.name]
        is_map = t.value is not None
        keep = []
        zero = False
        for elem in datum:
            ok = True
            for pos, ref_table in targets:
                ref = elem[pos] if is_map else elem
                if self.get_row(ref_table, ref) is None:
                    ok = False
                    zero = zero or ref == ZERO_UUID
            if ok:
                keep.append(elem)
        if len(keep) == len(datum):
            return
        tr = self.rows.get(tname, {}).get(row.uuid)
        inserted = tr is not None and tr.old is None
        if len(keep) < t.n_min:
            if zero and inserted:
                raise OVSDBError(
                    "constraint violation",
                    f'Weak reference column "{col.name}" in "{tname}" row {row.uuid} '
                    "(inserted within this transaction) contained all-zeros UUID "
                    "(probably as the default value for this column) but deleting this "
                    "value caused a constraint volation because this column is not "
                    "allowed to be empty.")
            raise OVSDBError(
                "constraint violation",
                f"Deletion of {len(datum) - len(keep)} weak reference(s) to deleted (or "
                f'never-existing) rows from column "{col.name}" in "{tname}" row '
                f"{row.uuid} {'(inserted within this transaction) ' if inserted else ''}"
                "caused this column to become empty, but constraints on this column "
                "disallow an empty column.")
        writable = self.modify(tname, row)
        writable.fields[col.name] = tuple(keep)
        tr = self.rows[tname][row.uuid]
        if tr.old is not None:
            tr.changed = {c for c in tr.new.fields  # type: ignore[union-attr]
                          if c != "_version" and tr.old.fields[c] != tr.new.fields[c]}  # type: ignore[union-attr]

    def _check_indexes(self) -> None:
        for tname, rows in self.rows.items():
            table = self.db.tables[tname]
            ts = table.schema
            for i, columns in enumerate(ts.indexes):
                seen: dict[tuple, Row] = {}
                for _u, tr in rows.items():
                    if tr.new is None:
                        continue
                    key = table.index_key(i, tr.new.fields)
                    other = seen.get(key)
                    if other is None:
                        other_u = table.indexes[i].get(key)
                        if other_u is not None and other_u not in rows:
                            other = table.rows[other_u]
                    if other is not None:
                        raise self._duplicate_index_error(ts, columns, other, tr.new)
                    seen[key] = tr.new

    def _duplicate_index_error(self, ts: TableSchema, columns: tuple[str, ...],
                               a: Row, b: Row) -> OVSDBError:
        comparable = [n for n in sorted(ts.columns)
                      if ts.columns[n].type.key.type != "uuid"
                      and (ts.columns[n].type.value is None
                           or ts.columns[n].type.value.type != "uuid")]

        def sort_key(r: Row) -> list:
            return [(len(r.fields[c]), r.fields[c]) for c in comparable]

        if sort_key(a) < sort_key(b):
            a, b = b, a
        cols = " and ".join(f'"{c}"' for c in columns) if len(columns) <= 2 else \
            ", ".join(f'"{c}"' for c in columns[:-1]) + f', and "{columns[-1]}"'
        index_s = f"column{'s' if len(columns) > 1 else ''} {cols}"
        msg = (f'Transaction causes multiple rows in "{ts.name}" table to have identical '
               f"values ({_columns_to_string(ts, a, columns)}) for index on {index_s}.  "
               f"{self._describe_index_row(ts, columns, a, 'First')}  "
               f"{self._describe_index_row(ts, columns, b, 'Second')}")
        return OVSDBError("constraint violation", msg)

    def _describe_index_row(self, ts: TableSchema, columns: tuple[str, ...], row: Row,
                            title: str) -> str:
        s = f"{title} row, with UUID {row.uuid}, "
        tr = self.rows.get(ts.name, {}).get(row.uuid)
        if tr is None or not tr.changed:
            return s + ("existed in the database before this transaction and was not "
                        "modified by the transaction.")
        if tr.old is None:
            return s + "was inserted by this transaction."
        if all(tr.old.fields[c] == row.fields[c] for c in columns):
            return s + ("existed in the database before this transaction, which modified "
                        "some of the row's columns but not any columns in this index.")
        return s + ("had the following index values before the transaction: "
                    f"{_columns_to_string(ts, tr.old, columns)}.")


def _multiset_minus(a: list, b: list) -> list:
    """Elements of ``a`` not matched one-for-one by elements of ``b``."""
    if not b:
        return a
    remaining: dict[Any, int] = {}
    for x in b:
        remaining[x] = remaining.get(x, 0) + 1
    out = []
    for x in a:
        if remaining.get(x):
            remaining[x] -= 1
        else:
            out.append(x)
    return out


def _datum_to_string(t: Any, datum: Datum) -> str:
    """A datum in ovs-vsctl's syntax, as OVS's error details print values."""
    if t.value is not None:
        return "{" + ", ".join(f"{atom_to_string(k)}={atom_to_string(v)}"
                               for k, v in datum) + "}"
    if t.is_scalar or (len(datum) == 1 and t.n_max == 1):
        return atom_to_string(datum[0]) if datum else "[]"
    return "[" + ", ".join(atom_to_string(a) for a in datum) + "]"


def _columns_to_string(ts: TableSchema, row: Row, columns: tuple[str, ...]) -> str:
    parts = [_datum_to_string(ts.columns[c].type, row.fields[c]) for c in columns]
    if len(parts) <= 2:
        return " and ".join(parts)
    return ", ".join(parts[:-1]) + ", and " + parts[-1]


# -- operations (RFC 7047 section 5.2) --


class _WaitPending(Exception):
    """A "wait" is unsatisfied and may still become true before its timeout."""


@dataclass
class Execution:
    """State of one transact request being executed."""

    db: Database
    txn: Transaction
    symtab: SymbolTable = field(default_factory=SymbolTable)
    elapsed_ms: int = 0
    timeout_ms: float = math.inf
    durable: bool = False
    lock_owned: Callable[[str], bool] = lambda name: False

    def table(self, p: Parser, member: str = "table") -> TableSchema | None:
        name = p.member(member, ID)
        if name is None:
            return None
        ts = self.db.schema.tables.get(name)
        if ts is None:
            p.raise_error(f"No table named {name}.")
        return ts


def _parse_row(ts: TableSchema, json: Any, symtab: SymbolTable | None,
               row: dict[str, Datum] | None = None) -> dict[str, Datum]:
    """Parses a <row> into ``row`` (a fields dict), returning the columns it named."""
    if not isinstance(json, dict):
        raise syntax_error("row must be JSON object", json)
    out: dict[str, Datum] = {}
    for name, value in json.items():
        out[name] = datum_from_json(ts.require_column(name, json).type, value, symtab)
    if row is not None:
        row.update(out)
    return out


def _column_list(ts: TableSchema, json: Any) -> list[str]:
    if json is None:
        return list(ts.columns)
    names = []
    for name in json:
        if not isinstance(name, str) or name not in ts.columns:
            raise syntax_error(f"{name} is not a valid column name", json)
        if name in names:
            raise syntax_error(f"{name} appears twice in column list", json)
        names.append(name)
    return names


def _op_insert(x: Execution, p: Parser) -> dict[str, Any]:
    ts = x.table(p)
    uuid_json = p.member("uuid", STRING | OPTIONAL)
    uuid_name = p.member("uuid-name", ID | OPTIONAL)
    row_json = p.member("row", OBJECT)
    p.check()
    assert ts is not None
    row_uuid = None
    if uuid_json is not None:
        row_uuid = parse_uuid_string(uuid_json)
        if row_uuid is None:
            raise syntax_error("bad uuid", uuid_json)
        if not x.txn.may_create(ts.name, row_uuid):
            raise OVSDBError(
                "duplicate uuid",
                "This UUID would duplicate a UUID already present within the table or "
                "deleted within the same transaction.", uuid_json)
    if uuid_name is not None:
        sym = x.symtab.insert(uuid_name)
        if sym.created:
            raise OVSDBError("duplicate uuid-name",
                             'This "uuid-name" appeared on an earlier "insert" operation.',
                             uuid_name)
        if row_uuid is not None:
            sym.uuid = row_uuid
        else:
            row_uuid = sym.uuid
        sym.created = True
    if row_uuid is None:
        row_uuid = new_uuid()
    row = new_row(ts, row_uuid)
    _parse_row(ts, row_json, x.symtab, row.fields)
    row.fields["_uuid"] = (row_uuid,)
    for name, col in ts.columns.items():
        datum = row.fields[name]
        if len(datum) == 1 and not name.startswith("_"):
            # Defaults are not checked when parsed; a default can break a constraint.
            t = col.type
            if t.value is not None:
                check_atom(t.key, datum[0][0])
                check_atom(t.value, datum[0][1])
            else:
                check_atom(t.key, datum[0])
    x.txn.insert(ts.name, row)
    return {"uuid": ["uuid", str(row_uuid)]}


def _op_select(x: Execution, p: Parser) -> dict[str, Any]:
    ts = x.table(p)
    where = p.member("where", ARRAY)
    columns_json = p.member("columns", ARRAY | OPTIONAL)
    sort_json = p.member("sort", ARRAY | OPTIONAL)
    p.check()
    assert ts is not None
    cond = condition_from_json(ts, where, x.symtab)
    columns = _column_list(ts, columns_json)
    sort = _column_list(ts, sort_json) if sort_json is not None else []
    rows = x.txn.query(ts.name, cond)
    if "_uuid" not in columns:
        # RFC 7047 5.2.2: without _uuid, identical rows are returned once.
        seen = set()
        distinct = []
        for r in rows:
            key = tuple(r.fields[c] for c in columns)
            if key not in seen:
                seen.add(key)
                distinct.append(r)
        rows = distinct
    if sort:
        rows.sort(key=lambda r: [(len(r.fields[c]), r.fields[c]) for c in sort])
    return {"rows": [r.to_json(ts, columns) for r in rows]}


def _op_update(x: Execution, p: Parser) -> dict[str, Any]:
    ts = x.table(p)
    where = p.member("where", ARRAY)
    row_json = p.member("row", OBJECT)
    p.check()
    assert ts is not None
    values = _parse_row(ts, row_json, x.symtab)
    for name in values:
        if not ts.columns[name].mutable:
            raise OVSDBError("constraint violation",
                             f"Cannot update immutable column {name} in table {ts.name}.",
                             p.json)
    cond = condition_from_json(ts, where, x.symtab)
    rows = x.txn.query(ts.name, cond)
    for row in rows:
        if any(row.fields[c] != v for c, v in values.items()):
            x.txn.modify(ts.name, row).fields.update(values)
    return {"count": len(rows)}


@dataclass(frozen=True)
class _Mutation:
    column: str
    mutator: str
    arg: Datum
    arg_is_keys: bool  # "delete" from a map by a set of keys


_ARITH = ("+=", "-=", "*=", "/=", "%=")


def _parse_mutation(ts: TableSchema, json: Any, symtab: SymbolTable) -> _Mutation:
    col, mutator, arg_json = ts.parse_triple(json, "mutation")
    name = col.name
    if not col.mutable:
        raise OVSDBError("constraint violation",
                         f"Cannot mutate immutable column {name} in table {ts.name}.", json)
    t = col.type
    if mutator not in _ARITH and mutator not in ("insert", "delete"):
        raise OVSDBError("unknown mutator", f"No mutator named {mutator}.", json)

    def mismatch() -> OVSDBError:
        return syntax_error(f'Type mismatch: "{mutator}" operator may not be applied to '
                            f"column {name} of type {t.to_english()}.", json)

    if mutator in _ARITH:
        if not (t.is_scalar or t.is_set) or t.key.type not in ("integer", "real") or \
                (mutator == "%=" and t.key.type == "real"):
            raise mismatch()
        arg_t = replace(t, key=t.key.without_constraints(), n_min=1, n_max=1)
        return _Mutation(name, mutator, datum_from_json(arg_t, arg_json, symtab), False)
    if not (t.is_set or t.is_map):
        raise mismatch()
    arg_t = replace(t, n_min=0, n_max=UINT_MAX if mutator == "delete" else t.n_max)
    try:
        return _Mutation(name, mutator, datum_from_json(arg_t, arg_json, symtab), False)
    except OVSDBError:
        if not (t.is_map and mutator == "delete"):
            raise
    keys_t = replace(arg_t, value=None)
    return _Mutation(name, mutator, datum_from_json(keys_t, arg_json, symtab), True)


def _arith(mutator: str, a: Any, b: Any, is_int: bool) -> Any:
    if mutator == "+=":
        r = a + b
    elif mutator == "-=":
        r = a - b
    elif mutator == "*=":
        r = a * b
    elif b == 0:
        raise OVSDBError("domain error", "Division by zero.")
    elif is_int:
        # C semantics: truncate toward zero; the remainder takes the dividend's sign.
        q = abs(a) // abs(b)
        if (a < 0) != (b < 0):
            q = -q
        r = q if mutator == "/=" else a - q * b
    else:
        r = a / b
    if is_int:
        if not INT64_MIN <= r <= INT64_MAX:
            raise OVSDBError("range error", f'Result of "{mutator}" operation is out of range.')
    elif not math.isfinite(r):
        raise OVSDBError("range error", f'Result of "{mutator}" operation is out of range.')
    return r


def _apply_mutation(ts: TableSchema, fields: dict[str, Datum], m: _Mutation) -> None:
    t = ts.columns[m.column].type
    value = fields[m.column]
    if m.mutator in _ARITH:
        is_int = t.key.type == "integer"
        atoms = [_arith(m.mutator, a, m.arg[0], is_int) for a in value]
        for a in atoms:
            check_atom(t.key, a)
        new = tuple(sorted(atoms))
        if len(set(new)) != len(new):
            raise OVSDBError("constraint violation",
                             f'Result of "{m.mutator}" operation contains duplicates.')
    elif m.mutator == "insert":
        new = union(t, value, m.arg)
    else:
        new = subtract(t, value, m.arg, m.arg_is_keys)
    if m.mutator in ("insert", "delete") and not conforms(t, new):
        raise OVSDBError("constraint violation",
                         f"Attempted to store {len(new)} elements in {t.to_english()}.")
    fields[m.column] = new


def _op_mutate(x: Execution, p: Parser) -> dict[str, Any]:
    ts = x.table(p)
    where = p.member("where", ARRAY)
    mutations_json = p.member("mutations", ARRAY)
    p.check()
    assert ts is not None
    mutations = [_parse_mutation(ts, m, x.symtab) for m in mutations_json]
    cond = condition_from_json(ts, where, x.symtab)
    rows = x.txn.query(ts.name, cond)
    for row in rows:
        if mutations:
            fields = x.txn.modify(ts.name, row).fields
            for m in mutations:
                _apply_mutation(ts, fields, m)
    return {"count": len(rows)}


def _op_delete(x: Execution, p: Parser) -> dict[str, Any]:
    where = p.member("where", ARRAY)
    ts = x.table(p)
    p.check()
    assert ts is not None
    rows = x.txn.query(ts.name, condition_from_json(ts, where, x.symtab))
    for row in rows:
        x.txn.delete(ts.name, row)
    return {"count": len(rows)}


def _op_wait(x: Execution, p: Parser) -> dict[str, Any]:
    timeout = p.member("timeout", INTEGER | OPTIONAL)
    where = p.member("where", ARRAY)
    columns_json = p.member("columns", ARRAY | OPTIONAL)
    until = p.member("until", STRING)
    rows_json = p.member("rows", ARRAY)
    ts = x.table(p)
    p.check()
    assert ts is not None
    cond = condition_from_json(ts, where, x.symtab)
    columns = _column_list(ts, columns_json)
    if timeout is not None:
        if timeout < 0:
            raise syntax_error("timeout must be nonnegative", timeout)
        x.timeout_ms = min(x.timeout_ms, timeout)
    if until not in ("==", "!="):
        raise syntax_error('"until" must be "==" or "!="', until)
    expected = set()
    for rj in rows_json:
        row = new_row(ts, uuid.UUID(int=0))
        _parse_row(ts, rj, x.symtab, row.fields)
        expected.add(tuple(row.fields[c] for c in columns))
    actual = set()
    equal = True
    for row in x.txn.query(ts.name, cond):
        key = tuple(row.fields[c] for c in columns)
        if key not in expected:
            equal = False
            break
        actual.add(key)
    equal = equal and len(actual) == len(expected)
    if (until == "==") != equal:
        if timeout is not None and x.elapsed_ms >= timeout:
            if x.elapsed_ms:
                raise OVSDBError("timed out", f'"wait" timed out after {x.elapsed_ms} ms')
            raise OVSDBError("timed out", '"where" clause test failed')
        raise _WaitPending()
    return {}


def _op_commit(x: Execution, p: Parser) -> dict[str, Any]:
    durable = p.member("durable", BOOLEAN)
    if durable:
        x.durable = True
    return {}


def _op_abort(x: Execution, p: Parser) -> dict[str, Any]:
    raise OVSDBError("aborted", "aborted by request")


def _op_comment(x: Execution, p: Parser) -> dict[str, Any]:
    comment = p.member("comment", STRING)
    if comment is not None:
        x.txn.comments.append(comment)
    return {}


def _op_assert(x: Execution, p: Parser) -> dict[str, Any]:
    lock = p.member("lock", ID)
    if lock is None or x.lock_owned(lock):
        return {}
    raise OVSDBError("not owner", f"Asserted lock {lock} not held.")


_OPERATIONS: dict[str, tuple[Callable[[Execution, Parser], dict[str, Any]], bool]] = {
    # name: (executor, read-only)
    "insert": (_op_insert, False),
    "select": (_op_select, True),
    "update": (_op_update, False),
    "mutate": (_op_mutate, False),
    "delete": (_op_delete, False),
    "wait": (_op_wait, True),
    "commit": (_op_commit, True),
    "abort": (_op_abort, True),
    "comment": (_op_comment, True),
    "assert": (_op_assert, True),
}


@dataclass
class Result:
    """The outcome of :func:`execute`.

    ``results`` is the transact reply's array, or None while a "wait" is pending (retry
    after the next commit, or once ``timeout_ms`` has elapsed since the request
    arrived). ``changes`` are the committed row changes (empty for none), ``record``
    the log record to persist first (None if nothing changed).
    """

    results: list[Any] | None
    changes: list[Change] = field(default_factory=list)
    record: dict[str, Any] | None = None
    durable: bool = False
    timeout_ms: float = math.inf


def execute(db: Database, ops: list[Any], *, elapsed_ms: int = 0,
            lock_owned: Callable[[str], bool] = lambda name: False,
            read_only: bool = False) -> Result:
    """Executes and commits the operations ``ops`` (the transact params after the
    database name) against ``db`` (RFC 7047 section 4.1.3 and 5.2).

    A failing operation yields its error object in its slot, nulls after it, and nothing
    is committed; a failing commit appends its error after the operation results.
    """
    x = Execution(db, Transaction(db), elapsed_ms=elapsed_ms, lock_owned=lock_owned)
    results: list[Any] = []
    n = len(ops)
    failed = False
    for i, op_json in enumerate(ops, 1):
        p = Parser(op_json, f"ovsdb operation {i} of {n}")
        op = p.member("op", ID)
        result: dict[str, Any] | None = None
        error: OVSDBError | None = None
        if op is not None:
            entry = _OPERATIONS.get(op)
            if entry is None:
                p.raise_error(f'No operation "{op}"')
            else:
                executor, ro = entry
                try:
                    result = executor(x, p)
                except _WaitPending:
                    return Result(None, timeout_ms=x.timeout_ms)
                except OVSDBError as e:
                    error = e
                if error is None and not ro:
                    if read_only:
                        error = OVSDBError("not allowed", f"{op} operation not allowed when "
                                           "database server is in read only mode")
                    elif db.name.startswith("_"):
                        error = OVSDBError("not allowed", f"{op} operation not allowed on "
                                           f"table in reserved database {db.name}")
        try:
            p.finish()
        except OVSDBError as e:
            error = e
        if error is not None:
            results.append(error.to_json())
            failed = True
            break
        results.append(result)
    if failed:
        results.extend([None] * (n - len(results)))
        return Result(results)
    try:
        changes = x.txn.commit()
    except OVSDBError as e:
        results.append(e.to_json())
        return Result(results)
    record = db.change_record(changes, "\n".join(x.txn.comments) or None) if changes else None
    return Result(results, changes, record, x.durable)
