"""OVSDB values: atoms and datums, their JSON forms and constraint checks.

RFC 7047 section 5.1 (<atom>, <set>, <map>, <value>). Representation, used by every
other module of :mod:`ovsdb`:

- an atom is an ``int`` (integer), ``float`` (real), ``bool``, ``str`` or ``uuid.UUID``;
- a datum is a tuple sorted by key: atoms for a scalar or set, ``(key, value)`` pairs
  for a map. Datums are immutable and compare and hash by value.

Named UUIDs (``["named-uuid", id]``) resolve through a :class:`SymbolTable` owned by the
transaction being executed.
"""

from __future__ import annotations

import random
import uuid
from typing import Any

from .errors import OVSDBError, constraint_violation, syntax_error
from .parser import is_id
from .types import INT64_MAX, INT64_MIN, BaseType, Type

Datum = tuple
_MISSING = object()
ZERO_UUID = uuid.UUID(int=0)
_ATOM_DEFAULTS: dict[str, Any] = {
    "integer": 0, "real": 0.0, "boolean": False, "string": "", "uuid": ZERO_UUID,
}


class Symbol:
    """A named-uuid: its UUID, and whether an insert in this transaction created it."""

    __slots__ = ("uuid", "created", "strong_ref", "weak_ref")

    def __init__(self, u: uuid.UUID) -> None:
        self.uuid = u
        self.created = False
        self.strong_ref = False
        self.weak_ref = False


class SymbolTable(dict[str, Symbol]):
    """uuid-name -> :class:`Symbol`, for one transaction (RFC 7047 section 5.2.1)."""

    def insert(self, name: str) -> Symbol:
        sym = self.get(name)
        if sym is None:
            sym = self[name] = Symbol(new_uuid())
        return sym


_UUID_V4_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
_UUID_V4_SET = (0x4000 << 64) | (0x8000 << 48)


def new_uuid() -> uuid.UUID:
    """A random (version 4) UUID for rows, versions and transactions.

    Drawn from the random module (seeded from the OS at start-up) rather than
    uuid.uuid4(), which reads /dev/urandom for every UUID: a commit needs several."""
    return uuid.UUID(int=(random.getrandbits(128) & _UUID_V4_CLEAR) | _UUID_V4_SET)


def default_atom(base: BaseType) -> Any:
    return _ATOM_DEFAULTS[base.type]


def default_datum(t: Type) -> Datum:
    """The value a column gets when an insert does not name it."""
    if t.n_min == 0:
        return ()
    if t.value is not None:
        return ((default_atom(t.key), default_atom(t.value)),)
    return (default_atom(t.key),)


def _expected(base: BaseType, json: Any) -> OVSDBError:
    return syntax_error(f"expected {base.type}", json)


def parse_uuid_string(s: str) -> uuid.UUID | None:
    """A UUID in RFC 4122 text form (36 characters), or None."""
    if len(s) != 36 or s[8] != "-" or s[13] != "-" or s[18] != "-" or s[23] != "-":
        return None
    try:
        return uuid.UUID(s)
    except ValueError:
        return None


def atom_from_json(base: BaseType, json: Any, symtab: SymbolTable | None = None,
                   check: bool = True) -> Any:
    """Parses an <atom> of type ``base``; with ``check``, also its constraints (refTable
    constraints are checked at commit time). Raises OVSDBError."""
    t = base.type
    if t == "integer":
        if type(json) is not int:
            raise _expected(base, json)
        if not INT64_MIN <= json <= INT64_MAX:
            raise syntax_error("integer out of range", json)
        atom: Any = json
    elif t == "real":
        if type(json) is int:
            atom = float(json)
        elif type(json) is float:
            atom = json
        else:
            raise _expected(base, json)
    elif t == "boolean":
        if type(json) is not bool:
            raise _expected(base, json)
        atom = json
    elif t == "string":
        if type(json) is not str:
            raise _expected(base, json)
        atom = json
    else:
        atom = _uuid_from_json(base, json, symtab)
    if check:
        check_atom(base, atom)
    return atom


def _uuid_from_json(base: BaseType, json: Any, symtab: SymbolTable | None) -> uuid.UUID:
    if isinstance(json, list) and len(json) == 2 and isinstance(json[0], str):
        tag, value = json
        if tag == "uuid" and isinstance(value, str):
            u = parse_uuid_string(value)
            if u is None:
                raise syntax_error(f'"{value}" is not a valid UUID', json)
            return u
        if tag == "named-uuid" and symtab is not None and isinstance(value, str):
            if not is_id(value):
                raise syntax_error("named-uuid string is not a valid <id>", json)
            sym = symtab.insert(value)
            if base.ref_type == "weak":
                sym.weak_ref = True
            else:
                sym.strong_ref = True
            return sym.uuid
    raise syntax_error('expected ["uuid", <string>]', json)


def check_atom(base: BaseType, atom: Any) -> None:
    """Raises OVSDBError("constraint violation") if ``atom`` breaks ``base``'s
    constraints, with OVS's wording (lib/ovsdb-data.c)."""
    if base.enum is not None and atom not in base.enum:
        allowed = ", ".join(atom_to_string(a) for a in base.enum)
        raise constraint_violation(
            f"{atom_to_string(atom)} is not one of the allowed values ({allowed})")
    t = base.type
    if t == "integer":
        lo, hi = base.min_integer, base.max_integer
        if not lo <= atom <= hi:
            if lo != INT64_MIN and hi != INT64_MAX:
                raise constraint_violation(
                    f"{atom} is not in the valid range {lo} to {hi} (inclusive)")
            if lo != INT64_MIN:
                raise constraint_violation(f"{atom} is less than minimum allowed value {lo}")
            raise constraint_violation(f"{atom} is greater than maximum allowed value {hi}")
    elif t == "real":
        lo, hi = base.min_real, base.max_real
        if not lo <= atom <= hi:
            a, lo_s, hi_s = (f"{x:.15g}" for x in (atom, lo, hi))
            if lo != -float("inf") and hi != float("inf"):
                raise constraint_violation(
                    f"{a} is not in the valid range {lo_s} to {hi_s} (inclusive)")
            if lo != -float("inf"):
                raise constraint_violation(f"{a} is less than minimum allowed value {lo_s}")
            raise constraint_violation(f"{a} is greater than maximum allowed value {hi_s}")
    elif t == "string":
        n = len(atom)
        if n < base.min_length:
            raise constraint_violation(
                f'"{atom}" length {n} is less than minimum allowed length {base.min_length}')
        if n > base.max_length:
            raise constraint_violation(
                f'"{atom}" length {n} is greater than maximum allowed length '
                f"{base.max_length}")


def atom_to_json(atom: Any) -> Any:
    if isinstance(atom, uuid.UUID):
        return ["uuid", str(atom)]
    return atom


def atom_to_string(atom: Any) -> str:
    """An atom in the syntax ovs-vsctl accepts (used in error details)."""
    if isinstance(atom, bool):
        return "true" if atom else "false"
    if isinstance(atom, str):
        if atom and is_id(atom) and atom not in ("true", "false"):
            return atom
        return '"' + atom.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return str(atom)


def datum_from_json(t: Type, json: Any, symtab: SymbolTable | None = None,
                    check: bool = True) -> Datum:
    """Parses a <value> of type ``t`` into a sorted datum.

    Raises OVSDBError: "syntax error" for malformed JSON or a wrong number of elements,
    "constraint violation" for constraint failures (with ``check``), and
    "ovsdb error" for duplicate set elements or map keys (as OVS does).
    """
    is_map = t.value is not None
    if is_map or (isinstance(json, list) and json and json[0] == "set"):
        cls = "map" if is_map else "set"
        if not (isinstance(json, list) and len(json) == 2 and json[0] == cls
                and isinstance(json[1], list)):
            raise syntax_error(f'expected ["{cls}", <array>]', json)
        inner = json[1]
        n = len(inner)
        if n < t.n_min or n > t.n_max:
            if t.n_min == 1 and t.n_max == 1:
                raise syntax_error(f"{cls} must have exactly one member but {n} are present",
                                   json)
            raise syntax_error(
                f"{cls} must have {t.n_min} to {t.n_max} members but {n} are present", json)
        if is_map:
            assert t.value is not None
            pairs = []
            for elem in inner:
                if not (isinstance(elem, list) and len(elem) == 2):
                    raise syntax_error("expected 2-element array", elem)
                pairs.append((atom_from_json(t.key, elem[0], symtab, check),
                              atom_from_json(t.value, elem[1], symtab, check)))
            pairs.sort(key=_pair_key)
            for i in range(1, len(pairs)):
                if pairs[i - 1][0] == pairs[i][0]:
                    raise OVSDBError("ovsdb error", "map contains duplicate key")
            return tuple(pairs)
        atoms = sorted(atom_from_json(t.key, elem, symtab, check) for elem in inner)
        for i in range(1, len(atoms)):
            if atoms[i - 1] == atoms[i]:
                raise OVSDBError("ovsdb error", "set contains duplicate")
        return tuple(atoms)
    if t.n_min > 1:  # a bare atom is a 1-element set
        raise syntax_error(f"set must have {t.n_min} to {t.n_max} members but 1 are present",
                           json)
    return (atom_from_json(t.key, json, symtab, check),)


def _pair_key(pair: tuple) -> Any:
    return pair[0]


def datum_to_json(t: Type, datum: Datum) -> Any:
    """The <value> JSON of ``datum``: a bare atom for one set element, as OVS prints."""
    if t.value is not None:
        return ["map", [[atom_to_json(k), atom_to_json(v)] for k, v in datum]]
    if len(datum) == 1:
        return atom_to_json(datum[0])
    return ["set", [atom_to_json(a) for a in datum]]


def check_datum(t: Type, datum: Datum) -> None:
    """Checks every atom's constraints (not the element count)."""
    if t.value is not None:
        for k, v in datum:
            check_atom(t.key, k)
            check_atom(t.value, v)
    else:
        for a in datum:
            check_atom(t.key, a)


def conforms(t: Type, datum: Datum) -> bool:
    """Whether ``datum`` has an allowed number of elements for ``t``."""
    return t.n_min <= len(datum) <= t.n_max


def datum_keys(t: Type, datum: Datum) -> tuple:
    """The keys of a map datum, or the atoms of a set."""
    if t.value is not None:
        return tuple(k for k, _ in datum)
    return datum


def datum_uuids(t: Type, datum: Datum, base_selector: str) -> list[uuid.UUID]:
    """The UUIDs in the key (``"key"``) or value (``"value"``) position of ``datum``."""
    if t.value is None:
        return list(datum) if base_selector == "key" else []
    idx = 0 if base_selector == "key" else 1
    return [p[idx] for p in datum]


def union(t: Type, a: Datum, b: Datum) -> Datum:
    """``a`` with the elements of ``b`` added; for maps, keys already in ``a`` keep
    their value (RFC 7047 section 5.1, "insert" mutator)."""
    if t.value is not None:
        merged = dict(a)
        for k, v in b:
            merged.setdefault(k, v)
        return tuple(sorted(merged.items(), key=_pair_key))
    return tuple(sorted(set(a).union(b)))


def subtract(t: Type, a: Datum, b: Datum, b_is_keys: bool) -> Datum:
    """``a`` without the elements of ``b`` ("delete" mutator): for a map, ``b`` is either
    a set of keys (``b_is_keys``) or a map whose matching pairs are removed."""
    if t.value is not None:
        if b_is_keys:
            drop = set(b)
            return tuple(p for p in a if p[0] not in drop)
        drop_pairs = set(b)
        return tuple(p for p in a if p not in drop_pairs)
    drop = set(b)
    return tuple(x for x in a if x not in drop)


def diff(t: Type, old: Datum, new: Datum) -> Datum:
    """The update2 "modify" diff of a set or map column (RFC 7047 extension in OVS's
    ovsdb-server(7)): for a set, the symmetric difference; for a map, removed pairs by
    old value and added or changed pairs by new value."""
    if t.value is not None:
        o, n = dict(old), dict(new)
        out = {}
        for k, v in o.items():
            if k not in n:
                out[k] = v
        for k, v in n.items():
            if o.get(k, _MISSING) != v:
                out[k] = v
        return tuple(sorted(out.items(), key=_pair_key))
    return tuple(sorted(set(old).symmetric_difference(new)))


def apply_diff(t: Type, old: Datum, d: Datum) -> Datum:
    """Inverse of :func:`diff`: the datum that ``d`` turns ``old`` into."""
    if t.value is not None:
        o = dict(old)
        for k, v in d:
            if o.get(k, _MISSING) == v:
                del o[k]
            else:
                o[k] = v
        return tuple(sorted(o.items(), key=_pair_key))
    return tuple(sorted(set(old).symmetric_difference(d)))


