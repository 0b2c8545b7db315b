"""OVSDB column types (RFC 7047 section 3.2: <type>, <base-type>, <atomic-type>).

:mod:`ovsdb.schema` builds these from a schema's JSON; :mod:`ovsdb.data` uses them to
parse, check and print values. A type is immutable once built.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

from .errors import syntax_error
from .parser import ARRAY, BOOLEAN, ID, INTEGER, NUMBER, OBJECT, OPTIONAL, STRING, Parser

ATOMIC_TYPES = ("integer", "real", "boolean", "string", "uuid")
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
UINT_MAX = 2**32 - 1  # OVS's "unlimited" for n_max


# Per atomic type: the schema's bound members, their JSON kinds, the BaseType fields
# they set and the conversion to apply (RFC 7047 section 3.2, <base-type>).
_BOUNDS = {
    "integer": ("minInteger", "maxInteger", INTEGER, "min_integer", "max_integer", int),
    "real": ("minReal", "maxReal", NUMBER, "min_real", "max_real", float),
    "string": ("minLength", "maxLength", INTEGER, "min_length", "max_length", int),
}


@dataclass(frozen=True)
class BaseType:
    """An <atomic-type> with its optional constraints (RFC 7047 section 3.2).

    ``enum`` is a sorted tuple of allowed atoms or None. Integer and real bounds are
    inclusive; string lengths count Unicode characters. ``ref_table`` names the table a
    uuid refers to; ``ref_type`` is "strong" or "weak".
    """

    type: str
    enum: tuple | None = None
    min_integer: int = INT64_MIN
    max_integer: int = INT64_MAX
    min_real: float = -math.inf
    max_real: float = math.inf
    min_length: int = 0
    max_length: int = UINT_MAX
    ref_table: str | None = None
    ref_type: str = "strong"

    @property
    def has_constraints(self) -> bool:
        return self != BaseType(self.type)

    def without_constraints(self) -> BaseType:
        return BaseType(self.type)

    @classmethod
    def from_json(cls, json: Any) -> BaseType:
        """Parses a <base-type>; raises OVSDBError("syntax error") on bad input."""
        if isinstance(json, str):
            if json not in ATOMIC_TYPES:
                raise syntax_error(f'"{json}" is not an atomic-type', json)
            return cls(json)
        p = Parser(json, "ovsdb type")
        name = p.member("type", STRING)
        p.check()
        if name not in ATOMIC_TYPES:
            raise syntax_error(f'"{name}" is not an atomic-type', json)
        enum_json = p.member("enum", OPTIONAL | ARRAY | NUMBER | STRING | BOOLEAN)
        kw: dict[str, Any] = {}
        bounds = _BOUNDS.get(name)
        if bounds is not None:
            lo_name, hi_name, kinds, lo_field, hi_field, convert = bounds
            for member, fld in ((lo_name, lo_field), (hi_name, hi_field)):
                value = p.member(member, kinds | OPTIONAL)
                if value is not None:
                    kw[fld] = convert(value)
            defaults = cls(name)
            if kw.get(lo_field, getattr(defaults, lo_field)) > \
                    kw.get(hi_field, getattr(defaults, hi_field)):
                raise syntax_error(f"{lo_name} exceeds {hi_name}", json)
        if name == "uuid":
            ref_table = p.member("refTable", ID | OPTIONAL)
            if ref_table is not None:
                kw["ref_table"] = ref_table
                ref_type = p.member("refType", STRING | OPTIONAL)
                if ref_type is not None:
                    if ref_type not in ("strong", "weak"):
                        raise syntax_error('refType must be "strong" or "weak" (not '
                                           f'"{ref_type}")', json)
                    kw["ref_type"] = ref_type
        p.finish()
        base = cls(name, **kw)
        if enum_json is not None:
            from .data import datum_from_json  # data depends on types, not vice versa

            enum_type = Type(base, None, 1, UINT_MAX)
            base = replace(base, enum=datum_from_json(enum_type, enum_json))
        return base

    def to_json(self) -> Any:
        if not self.has_constraints:
            return self.type
        obj: dict[str, Any] = {"type": self.type}
        if self.enum is not None:
            from .data import datum_to_json

            obj["enum"] = datum_to_json(Type(self.without_constraints(), None, 0, UINT_MAX),
                                        self.enum)
        if self.min_integer != INT64_MIN:
            obj["minInteger"] = self.min_integer
        if self.max_integer != INT64_MAX:
            obj["maxInteger"] = self.max_integer
        if self.min_real != -math.inf:
            obj["minReal"] = self.min_real
        if self.max_real != math.inf:
            obj["maxReal"] = self.max_real
        if self.min_length != 0:
            obj["minLength"] = self.min_length
        if self.max_length != UINT_MAX:
            obj["maxLength"] = self.max_length
        if self.ref_table is not None:
            obj["refTable"] = self.ref_table
            if self.ref_type != "strong":
                obj["refType"] = self.ref_type
        return obj


@dataclass(frozen=True)
class Type:
    """A column's <type>: a key base type, an optional value base type (a map), and the
    allowed number of elements ``n_min``..``n_max`` (``n_max`` UINT_MAX = "unlimited")."""

    key: BaseType
    value: BaseType | None = None
    n_min: int = 1
    n_max: int = 1

    @property
    def is_scalar(self) -> bool:
        return self.n_min == 1 and self.n_max == 1 and self.value is None

    @property
    def is_optional_scalar(self) -> bool:
        return self.n_min == 0 and self.n_max == 1 and self.value is None

    @property
    def is_map(self) -> bool:
        return self.value is not None

    @property
    def is_set(self) -> bool:
        return self.value is None and not self.is_scalar

    @classmethod
    def from_json(cls, json: Any) -> Type:
        """Parses a <type>; raises OVSDBError("syntax error") on bad input."""
        if isinstance(json, str):
            return cls(BaseType.from_json(json))
        if not isinstance(json, dict):
            raise syntax_error("ovsdb type expected", json)
        p = Parser(json, "ovsdb type")
        key = p.member("key", STRING | OBJECT)
        value = p.member("value", STRING | OBJECT | OPTIONAL)
        n_min = p.member("min", INTEGER | OPTIONAL)
        n_max = p.member("max", INTEGER | STRING | OPTIONAL)
        p.finish()
        if n_min is None:
            n_min = 1
        if n_max is None:
            n_max = 1
        elif isinstance(n_max, str):
            if n_max != "unlimited":
                raise syntax_error('"max" must be integer or "unlimited"', json)
            n_max = UINT_MAX
        if n_min not in (0, 1) or n_max < 1 or n_min > n_max or n_max > UINT_MAX:
            raise syntax_error("ovsdb type fails constraint checks", json)
        t = cls(BaseType.from_json(key),
                BaseType.from_json(value) if value is not None else None, n_min, n_max)
        return t

    def to_json(self) -> Any:
        if self.is_scalar and not self.key.has_constraints:
            return self.key.type
        obj: dict[str, Any] = {"key": self.key.to_json()}
        if self.value is not None:
            obj["value"] = self.value.to_json()
        if self.n_min != 1:
            obj["min"] = self.n_min
        if self.n_max == UINT_MAX:
            obj["max"] = "unlimited"
        elif self.n_max != 1:
            obj["max"] = self.n_max
        return obj

    def to_english(self) -> str:
        """OVS's description of the type, used in error details (ovsdb_type_to_english)."""
        if self.is_scalar:
            return self.key.type
        s = "map" if self.is_map else "set"
        if self.n_max == UINT_MAX:
            s += f" of {self.n_min} or more" if self.n_min else " of"
        elif self.n_min:
            s += f" of {self.n_min} to {self.n_max}"
        else:
            s += f" of up to {self.n_max}"
        if self.is_map:
            assert self.value is not None
            return f"{s} ({self.key.type}, {self.value.type}) pairs"
        return f"{s} {self.key.type}s"

