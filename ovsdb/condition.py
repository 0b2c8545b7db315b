"""Where-clauses: RFC 7047 section 5.1 <condition>s, and the ``true``/``false`` clauses
that OVS's monitor_cond adds (ovsdb-server(7), "monitor_cond").

Parsed against a table schema; evaluated by :mod:`ovsdb.transaction` (select, update,
mutate, delete, wait) and :mod:`ovsdb.monitor` (conditional monitoring).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from .data import Datum, SymbolTable, datum_from_json
from .errors import OVSDBError, syntax_error
from .schema import TableSchema
from .types import UINT_MAX

FUNCTIONS = ("<", "<=", "==", "!=", ">=", ">", "includes", "excludes")


@dataclass(frozen=True)
class Clause:
    """``column function arg``; ``column`` None means a constant ``function`` of
    "true" or "false"."""

    column: str | None
    function: str
    arg: Datum = ()

    def evaluate(self, fields: Mapping[str, Datum]) -> bool:
        f = self.function
        if self.column is None:
            return f == "true"
        value = fields[self.column]
        arg = self.arg
        if f == "==":
            return value == arg
        if f == "!=":
            return value != arg
        if f == "includes":
            return set(arg).issubset(value)
        if f == "excludes":
            return set(arg).isdisjoint(value)
        if not value:  # ordering on an empty optional scalar is always false
            return False
        a, b = value[0], arg[0]
        if f == "<":
            return a < b
        if f == "<=":
            return a <= b
        if f == ">":
            return a > b
        return a >= b

    def to_json(self, table: TableSchema) -> Any:
        from .data import datum_to_json

        if self.column is None:
            return self.function == "true"
        return [self.column, self.function,
                datum_to_json(table.columns[self.column].type, self.arg)]


def clause_from_json(table: TableSchema, json: Any, symtab: SymbolTable | None) -> Clause:
    """Parses one <condition>; raises OVSDBError."""
    if isinstance(json, bool):
        return Clause(None, "true" if json else "false")
    col, function, arg_json = table.parse_triple(json, "condition")
    name = col.name
    if function not in FUNCTIONS:
        raise OVSDBError("unknown function", f"No function named {function}.", json)
    t = col.type
    if function in ("<", "<=", ">", ">="):
        if not (t.is_scalar or t.is_optional_scalar) or t.key.type not in ("integer", "real"):
            raise syntax_error(
                f'Type mismatch: "{function}" operator may not be applied to column '
                f"{name} of type {t.to_english()}.", json)
        t = replace(t, n_min=1)
    elif function == "excludes" and not t.is_scalar:
        t = replace(t, n_min=0, n_max=UINT_MAX)
    elif function == "includes" and not t.is_scalar:
        t = replace(t, n_min=0)
    arg = datum_from_json(t, arg_json, symtab)
    return Clause(name, function, arg)


@dataclass(frozen=True)
class Condition:
    """A conjunction of clauses (a where clause). Empty means every row."""

    clauses: tuple[Clause, ...] = ()

    def evaluate(self, fields: Mapping[str, Datum]) -> bool:
        """Conjunction, as in a transaction's where clause."""
        return all(c.evaluate(fields) for c in self.clauses)

    def evaluate_any(self, fields: Mapping[str, Datum]) -> bool:
        """Disjunction, as in monitor_cond's where (an empty one matches every row)."""
        return not self.clauses or any(c.evaluate(fields) for c in self.clauses)

    def uuid_lookup(self) -> Any:
        """The UUID of a ``["_uuid", "==", ...]`` clause, letting a query use the row
        index instead of a scan; None if there is none."""
        for c in self.clauses:
            if c.column == "_uuid" and c.function == "==" and len(c.arg) == 1:
                return c.arg[0]
        return None



def condition_from_json(table: TableSchema, json: Any,
                        symtab: SymbolTable | None = None) -> Condition:
    """Parses a where clause (a JSON array of conditions); raises OVSDBError."""
    if not isinstance(json, list):
        raise syntax_error("Parse error in condition.", json)
    return Condition(tuple(clause_from_json(table, c, symtab) for c in json))
