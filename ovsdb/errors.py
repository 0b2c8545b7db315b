"""RFC 7047 error objects, shared by every layer of :mod:`ovsdb`.

The schema, data, transaction and server modules raise :class:`OVSDBError`; the server
turns it into the ``{"error": ..., "details": ...}`` object of RFC 7047 section 3.1 and
4.1.3. The ``error`` strings are the RFC's (and OVS's) exactly, because clients such as
ovs-vsctl and the OVS IDLs compare them.
"""

from __future__ import annotations

import json
from typing import Any


class OVSDBError(Exception):
    """An RFC 7047 error: ``error`` is the fixed tag, ``details`` free text.

    ``syntax`` optionally carries the JSON that failed to parse (OVS adds it as the
    ``"syntax"`` member), already serialized as compact text.
    """

    def __init__(self, error: str, details: str | None = None, syntax: Any = None) -> None:
        super().__init__(f"{error}: {details}" if details else error)
        self.error = error
        self.details = details
        self.syntax = syntax

    def to_json(self) -> dict[str, Any]:
        """The RFC 7047 error object for this error."""
        obj: dict[str, Any] = {"error": self.error}
        if self.details is not None:
            obj["details"] = self.details
        if self.syntax is not None:
            obj["syntax"] = json_text(self.syntax)
        return obj


def json_text(value: Any) -> str:
    """``value`` as OVS prints it in messages: compact JSON with sorted object members."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def syntax_error(details: str, syntax: Any = None) -> OVSDBError:
    """A ``"syntax error"`` (RFC 7047 section 5.2.1: malformed operation or value)."""
    return OVSDBError("syntax error", details, syntax)


def constraint_violation(details: str, syntax: Any = None) -> OVSDBError:
    """A ``"constraint violation"`` (RFC 7047 section 5.2.1)."""
    return OVSDBError("constraint violation", details, syntax)
