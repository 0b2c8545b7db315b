"""Database schemas (RFC 7047 section 3.2), parsed, checked and printed.

The first record of an OVSDB log (:mod:`ovsdb.storage`) and the reply to ``get_schema``.
:mod:`ovsdb.database` instantiates tables from a :class:`DatabaseSchema`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .errors import OVSDBError, syntax_error
from .parser import ARRAY, BOOLEAN, ID, INTEGER, OBJECT, OPTIONAL, STRING, Parser, is_id
from .types import UINT_MAX, BaseType, Type

VERSION_RE = re.compile(r"\d+\.\d+\.\d+\Z")
UUID_TYPE = Type(BaseType("uuid"))


@dataclass
class ColumnSchema:
    """A column: ``mutable`` False forbids update/mutate; ``ephemeral`` ones are not
    written to disk (RFC 7047 section 3.2)."""

    name: str
    type: Type
    mutable: bool = True
    ephemeral: bool = False

    @classmethod
    def from_json(cls, name: str, json: Any) -> ColumnSchema:
        p = Parser(json, f"schema for column {name}")
        type_json = p.member("type", STRING | OBJECT)
        ephemeral = p.member("ephemeral", BOOLEAN | OPTIONAL)
        mutable = p.member("mutable", BOOLEAN | OPTIONAL)
        p.finish()
        return cls(name, Type.from_json(type_json), mutable is not False, bool(ephemeral))

    def to_json(self) -> dict[str, Any]:
        obj: dict[str, Any] = {"type": self.type.to_json()}
        if self.ephemeral:
            obj["ephemeral"] = True
        if not self.mutable:
            obj["mutable"] = False
        return obj


@dataclass
class TableSchema:
    """A table: its columns (including the implicit ``_uuid`` and ``_version``),
    ``max_rows`` (UINT_MAX when unlimited), ``is_root`` as declared, and ``indexes``
    as tuples of column names."""

    name: str
    columns: dict[str, ColumnSchema]
    max_rows: int = UINT_MAX
    is_root: bool = False
    indexes: list[tuple[str, ...]] = field(default_factory=list)

    @classmethod
    def from_json(cls, name: str, json: Any) -> TableSchema:
        p = Parser(json, f"table schema for table {name}")
        columns_json = p.member("columns", OBJECT)
        max_rows = p.member("maxRows", INTEGER | OPTIONAL)
        is_root = p.member("isRoot", BOOLEAN | OPTIONAL)
        indexes_json = p.member("indexes", ARRAY | OPTIONAL)
        p.finish()
        if max_rows is not None and max_rows <= 0:
            raise syntax_error("maxRows must be at least 1", json)
        if not columns_json:
            raise syntax_error("table must have at least one column", json)
        columns = {
            "_uuid": ColumnSchema("_uuid", UUID_TYPE, mutable=False),
            "_version": ColumnSchema("_version", UUID_TYPE, mutable=False, ephemeral=True),
        }
        for cname, cjson in columns_json.items():
            if cname.startswith("_"):
                raise syntax_error("names beginning with \"_\" are reserved", json)
            if not is_id(cname):
                raise syntax_error("name must be a valid id", json)
            columns[cname] = ColumnSchema.from_json(cname, cjson)
        indexes = []
        for ijson in indexes_json or []:
            if not isinstance(ijson, list) or not ijson:
                raise syntax_error("index must have at least one column", ijson)
            names = []
            for cname in ijson:
                col = columns.get(cname) if isinstance(cname, str) else None
                if col is None:
                    raise syntax_error(f"{cname} is not a valid column name", ijson)
                if col.ephemeral:
                    raise syntax_error(f"ephemeral columns (such as {cname}) may not be "
                                       "indexed because they are not persistent", ijson)
                names.append(cname)
            indexes.append(tuple(names))
        return cls(name, columns, UINT_MAX if max_rows is None else max_rows,
                   bool(is_root), indexes)

    def to_json(self, default_is_root: bool) -> dict[str, Any]:
        obj: dict[str, Any] = {
            "columns": {n: c.to_json() for n, c in self.columns.items()
                        if not n.startswith("_")},
        }
        if self.max_rows != UINT_MAX:
            obj["maxRows"] = self.max_rows
        if self.is_root != default_is_root:
            obj["isRoot"] = self.is_root
        if self.indexes:
            obj["indexes"] = [list(i) for i in self.indexes]
        return obj

    def ref_columns(self, ref_type: str) -> dict[str, list[tuple[int, str]]]:
        """Column name -> (position, referenced table) pairs, for the columns holding
        references of ``ref_type`` ("strong" or "weak"); position 0 is the key, 1 a
        map's value. Computed once per table: commits consult it for every row."""
        cache = self.__dict__.setdefault("_ref_columns", {})
        if ref_type not in cache:
            cache[ref_type] = {
                name: targets for name, col in self.columns.items()
                if (targets := [(pos, base.ref_table)
                                for pos, base in enumerate((col.type.key, col.type.value))
                                if base is not None and base.ref_table
                                and base.ref_type == ref_type])}
        return cache[ref_type]

    def require_column(self, name: str, syntax: Any) -> ColumnSchema:
        """The column ``name``; raises OVSDBError("unknown column") naming ``syntax``."""
        col = self.columns.get(name)
        if col is None:
            raise OVSDBError("unknown column", f"No column {name} in table {self.name}.",
                             syntax)
        return col

    def parse_triple(self, json: Any, what: str) -> tuple[ColumnSchema, str, Any]:
        """Splits a ``[column, operator, argument]`` condition or mutation (``what``);
        raises OVSDBError("syntax error") or ("unknown column")."""
        if not (isinstance(json, list) and len(json) == 3 and isinstance(json[0], str)
                and isinstance(json[1], str)):
            raise syntax_error(f"Parse error in {what}.", json)
        return self.require_column(json[0], json), json[1], json[2]


@dataclass
class DatabaseSchema:
    """A database schema. ``uses_gc`` is False when no table is a root (RFC 7047
    predates isRoot; OVS then treats every table as a root)."""

    name: str
    version: str
    cksum: str | None
    tables: dict[str, TableSchema]

    @property
    def uses_gc(self) -> bool:
        return any(t.is_root for t in self.tables.values())

    def is_root(self, table: str) -> bool:
        return not self.uses_gc or self.tables[table].is_root

    @classmethod
    def from_json(cls, json: Any) -> DatabaseSchema:
        """Parses and checks a <database-schema>; raises OVSDBError."""
        p = Parser(json, "database schema")
        name = p.member("name", ID)
        version = p.member("version", STRING | OPTIONAL)
        cksum = p.member("cksum", STRING | OPTIONAL)
        tables_json = p.member("tables", OBJECT)
        p.finish()
        if version is not None and not VERSION_RE.match(version):
            raise syntax_error(f'schema version "{version}" not in format x.y.z', json)
        tables = {}
        for tname, tjson in tables_json.items():
            if tname.startswith("_"):
                raise syntax_error("names beginning with \"_\" are reserved", json)
            if not is_id(tname):
                raise syntax_error(f"{tname} is not a valid table name", json)
            tables[tname] = TableSchema.from_json(tname, tjson)
        for table in tables.values():
            for col in table.columns.values():
                for base in (col.type.key, col.type.value):
                    if base is not None and base.ref_table and base.ref_table not in tables:
                        raise syntax_error(
                            f"column {col.name} table {table.name} refers to undefined "
                            f"table {base.ref_table}", json)
        return cls(name, version or "", cksum, tables)

    def to_json(self) -> dict[str, Any]:
        default_is_root = not self.uses_gc
        obj: dict[str, Any] = {
            "name": self.name,
            "tables": {n: t.to_json(default_is_root) for n, t in self.tables.items()},
        }
        if self.version:
            obj["version"] = self.version
        if self.cksum:
            obj["cksum"] = self.cksum
        return obj


def load_schema_file(path: str) -> DatabaseSchema:
    """Reads a ``.ovsschema`` file; raises OSError, ValueError (bad JSON) or OVSDBError."""
    import json

    with open(path, encoding="utf-8") as f:
        return DatabaseSchema.from_json(json.load(f))


