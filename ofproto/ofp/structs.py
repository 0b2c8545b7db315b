"""Small building blocks shared by the message classes: fixed-layout structs.

:class:`Fixed` gives a dataclass a precompiled :class:`struct.Struct` layout
(``_S``) and the names of its fields in order (``_F``); fields listed in
``_MAC`` are 48-bit ints on the Python side and 6 bytes on the wire, fields in
``_STR`` are NUL-padded strings.  :mod:`ofproto.ofp.messages` builds most of its
bodies (ports, stats entries, fixed messages) from it.
"""

from __future__ import annotations

import struct
from typing import Any, ClassVar, Self

from .errors import bad_len


def _to_str(b: bytes) -> str:
    return b.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")


def _from_str(s: str) -> bytes:
    return s.encode("utf-8", "surrogateescape")


class Fixed:
    """Mixin for dataclasses whose wire form is (or starts with) one fixed struct."""

    _S: ClassVar[struct.Struct] = struct.Struct("!")
    _F: ClassVar[tuple[str, ...]] = ()
    _MAC: ClassVar[frozenset[str]] = frozenset()
    _STR: ClassVar[frozenset[str]] = frozenset()

    def _pack_fixed(self) -> bytes:
        vals: list[Any] = []
        for f in self._F:
            v = getattr(self, f)
            if f in self._MAC:
                v = v.to_bytes(6, "big")
            elif f in self._STR:
                v = _from_str(v)
            vals.append(v)
        return self._S.pack(*vals)

    @classmethod
    def _unpack_fixed(cls, data: bytes | memoryview, offset: int = 0) -> dict[str, Any]:
        if offset + cls._S.size > len(data):
            raise bad_len(f"{cls.__name__}: need {cls._S.size} bytes")
        out = dict(zip(cls._F, cls._S.unpack_from(data, offset), strict=True))
        for f in cls._MAC:
            out[f] = int.from_bytes(out[f], "big")
        for f in cls._STR:
            out[f] = _to_str(out[f])
        return out

    @classmethod
    def decode_fixed(cls, data: bytes | memoryview, offset: int = 0) -> tuple[Self, int]:
        """Decode exactly the fixed struct at ``offset``; returns (obj, new offset)."""
        return cls(**cls._unpack_fixed(data, offset)), offset + cls._S.size

    @classmethod
    def decode(cls, data: bytes | memoryview, offset: int = 0) -> tuple[Self, int]:
        """List entries decode as their fixed struct (see :func:`decode_list`)."""
        return cls.decode_fixed(data, offset)

    def encode(self) -> bytes:
        return self._pack_fixed()


def decode_list(cls: Any, data: bytes | memoryview, offset: int = 0) -> list[Any]:
    """Decode consecutive ``cls.decode(data, offset) -> (obj, next)`` items to the end."""
    out = []
    end = len(data)
    while offset < end:
        obj, offset = cls.decode(data, offset)
        out.append(obj)
    return out


class Encoded:
    """Entries of a list body already in wire form (one or several, concatenated).
    Multipart replies encode their entries with ``encode()``, so this goes out as is:
    a sender that sized its chunks by encoding each entry once need not encode the
    entries again."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data

    def encode(self) -> bytes:
        return self.data
