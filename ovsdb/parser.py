"""Member-by-member validation of JSON objects, with OVS's error wording.

Used by :mod:`ovsdb.schema` (schemas) and :mod:`ovsdb.transaction` (operations): each
member is fetched with the JSON types it may have, and :meth:`Parser.finish` rejects
members nobody asked for, as ``lib/ovsdb-parser.c`` does, so clients see the same
``"syntax error"`` details from us as from ovsdb-server.
"""

from __future__ import annotations

import re
from typing import Any

from .errors import OVSDBError, syntax_error

ID_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")

# JSON kinds a member may have (bit flags, combined with |).
NULL, BOOLEAN, INTEGER, REAL, STRING, ARRAY, OBJECT = (1 << i for i in range(7))
NUMBER = INTEGER | REAL
ID = 1 << 7  # a string that is an <id> (RFC 7047 section 3.1)
OPTIONAL = 1 << 8


def is_id(value: Any) -> bool:
    """Whether ``value`` is an RFC 7047 ``<id>``: a letter or _ then letters, digits, _."""
    return isinstance(value, str) and ID_RE.match(value) is not None


def json_kind(value: Any) -> int:
    """The kind bit of a parsed JSON value."""
    if value is None:
        return NULL
    if isinstance(value, bool):
        return BOOLEAN
    if isinstance(value, int):
        return INTEGER
    if isinstance(value, float):
        return REAL
    if isinstance(value, str):
        return STRING
    if isinstance(value, list):
        return ARRAY
    if isinstance(value, dict):
        return OBJECT
    raise TypeError(f"not a JSON value: {value!r}")


class Parser:
    """Validates the members of one JSON object named ``name`` (for messages)."""

    def __init__(self, json: Any, name: str) -> None:
        self.name = name
        self.json = json if isinstance(json, dict) else None
        self.used: set[str] = set()
        self.error: OVSDBError | None = None
        if self.json is None:
            self.raise_error("Object expected.")

    def member(self, name: str, kinds: int) -> Any:
        """The member ``name`` if present with one of ``kinds``, else None (and an error
        is recorded unless it is absent and ``kinds`` includes OPTIONAL)."""
        if self.json is None:
            return None
        if name not in self.json:
            if not kinds & OPTIONAL:
                self.raise_error(f"Required '{name}' member is missing.")
            return None
        value = self.json[name]
        if json_kind(value) & kinds or (kinds & ID and is_id(value)):
            self.used.add(name)
            return value
        self.raise_error(f"Type mismatch for member '{name}'.")
        return None

    def raise_error(self, message: str) -> None:
        """Records the first error only, as OVS does."""
        if self.error is None:
            self.error = syntax_error(f"Parsing {self.name} failed: {message}", self.json)

    def put_error(self, error: OVSDBError) -> None:
        if self.error is None:
            self.error = error

    def check(self) -> None:
        """Raises the recorded error, if any."""
        if self.error is not None:
            raise self.error

    def finish(self) -> None:
        """Raises the recorded error, or one naming members that were not used."""
        if self.error is None and self.json is not None:
            unused = [k for k in self.json if k not in self.used]
            if len(unused) > 1:
                others = len(unused) - 1
                self.raise_error(
                    f"Member '{unused[0]}' and {others} other member"
                    f"{'s' if others > 1 else ''} are present but not allowed here."
                )
            elif unused:
                self.raise_error(f"Member '{unused[0]}' is present but not allowed here.")
        self.check()
