"""OpenFlow 1.4/1.5 layouts that differ from 1.3 (spec 1.4.1 / 1.5.1 section 7).

Imported by :mod:`ofproto.ofp.messages` at the end so these classes register in
the same :data:`~ofproto.ofp.messages.MESSAGE_TYPES` registry.  Ports and port
statistics carry TLV properties from 1.4 on; properties are kept as
:class:`Prop` (type + raw body) with typed accessors for the Ethernet ones.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

from . import messages as m
from .consts import OFP14, OFP15
from .consts import OFPMultipartType as MP
from .consts import OFPType as T
from .errors import bad_len
from .structs import Fixed

_PROP = struct.Struct("!HH")


@dataclass
class Prop:
    """A generic OpenFlow 1.4+ property TLV (spec 1.4.1 7.1.4): type and body.

    ``data`` excludes the 4-byte header and the padding to 8.
    """

    type: int
    data: bytes = b""

    def encode(self) -> bytes:
        length = 4 + len(self.data)
        return _PROP.pack(self.type, length) + self.data + bytes(-length % 8)

    @classmethod
    def decode(cls, data: bytes, offset: int) -> tuple[Prop, int]:
        if offset + 4 > len(data):
            raise bad_len("property truncated")
        ptype, plen = _PROP.unpack_from(data, offset)
        if plen < 4 or offset + plen > len(data):
            raise bad_len("bad property length")
        return cls(ptype, bytes(data[offset + 4:offset + plen])), \
            min(offset + ((plen + 7) & ~7), len(data))


def decode_props(data: bytes, offset: int, end: int) -> list[Prop]:
    """Decode properties in ``data[offset:end]``."""
    out = []
    view = data[:end]
    while offset < end:
        p, offset = Prop.decode(view, offset)
        out.append(p)
    return out


def _props_bytes(props: list[Prop]) -> bytes:
    return b"".join(p.encode() for p in props)


@dataclass
class Port14(Fixed):
    """ofp_port for OpenFlow 1.4+ (spec 1.4.1 7.2.1) with properties.

    OFPPDPT_ETHERNET properties hold curr/advertised/supported/peer/speeds.
    """

    port_no: int = 0
    hw_addr: int = 0
    name: str = ""
    config: int = 0
    state: int = 0
    properties: list[Prop] = field(default_factory=list)
    _S: ClassVar[struct.Struct] = struct.Struct("!IH2x6s2x16sII")
    _F: ClassVar[tuple[str, ...]] = ("port_no", "length", "hw_addr", "name", "config", "state")
    _MAC: ClassVar[frozenset[str]] = frozenset({"hw_addr"})
    _STR: ClassVar[frozenset[str]] = frozenset({"name"})

    @property
    def length(self) -> int:
        return 40 + len(_props_bytes(self.properties))

    def encode(self) -> bytes:
        return self._pack_fixed() + _props_bytes(self.properties)

    @classmethod
    def decode(cls, data: bytes, offset: int = 0) -> tuple[Self, int]:
        kw = cls._unpack_fixed(data, offset)
        length = kw.pop("length")
        if length < 40 or offset + length > len(data):
            raise bad_len("bad port length")
        return cls(**kw, properties=decode_props(data, offset + 40, offset + length)), \
            offset + length


@m.register(OFP14, OFP15)
@dataclass(kw_only=True)
class PortStatus14(m.Message):
    """OFPT_PORT_STATUS for 1.4+ (spec 1.4.1 7.4.3)."""

    version: int = OFP14
    reason: int = 0
    desc: Port14 = field(default_factory=Port14)
    msg_type: ClassVar[int] = T.OFPT_PORT_STATUS

    def _encode_body(self) -> bytes:
        return struct.pack("!B7x", self.reason) + self.desc.encode()

    @classmethod
    def _decode_body(cls, version: int, xid: int, body: bytes) -> Self:
        if len(body) < 8:
            raise bad_len("port status too short")
        desc, end = Port14.decode(body, 8)
        if end != len(body):
            raise bad_len("port status length")
        return cls(version=version, xid=xid, reason=body[0], desc=desc)


@m.register(OFP14, OFP15)
@dataclass(kw_only=True)
class PortDescStatsReply14(m._ListMP, m.MultipartReply):
    """OFPMP_PORT_DESC reply for 1.4+: list of :class:`Port14`."""

    version: int = OFP14
    mp_type: ClassVar[int] = MP.OFPMP_PORT_DESC
    _ENTRY: ClassVar[Any] = Port14


@m.register(OFP15)
@dataclass(kw_only=True)
class PortDescStatsRequest15(m._FixedMP, m.MultipartRequest, Fixed):
    """OFPMP_PORT_DESC request for 1.5 (spec 1.5.1 7.3.5.7): port_no filter."""

    version: int = OFP15
    port_no: int = 0xFFFFFFFF
    mp_type: ClassVar[int] = MP.OFPMP_PORT_DESC
    _S: ClassVar[struct.Struct] = struct.Struct("!I4x")
    _F: ClassVar[tuple[str, ...]] = ("port_no",)


@m.register(OFP14, OFP15)
@dataclass(kw_only=True)
class PortStatsRequest14(m.PortStatsRequest):
    """OFPMP_PORT_STATS request for 1.4+ (same body as 1.3)."""

    version: int = OFP14


@dataclass
class PortStats14:
    """ofp_port_stats for 1.4+ (spec 1.4.1 7.3.5.7): counters + properties."""

    port_no: int = 0
    duration_sec: int = 0
    duration_nsec: int = 0
    counters: tuple[int, ...] = (0,) * 8
    properties: list[Prop] = field(default_factory=list)
    _S: ClassVar[struct.Struct] = struct.Struct("!H2xIII8Q")

    def encode(self) -> bytes:
        props = _props_bytes(self.properties)
        return self._S.pack(80 + len(props), self.port_no, self.duration_sec,
                            self.duration_nsec, *self.counters) + props

    @classmethod
    def decode(cls, data: bytes, offset: int) -> tuple[PortStats14, int]:
        if offset + 80 > len(data):
            raise bad_len("port stats truncated")
        length, port_no, ds, dn, *counters = cls._S.unpack_from(data, offset)
        if length < 80 or offset + length > len(data):
            raise bad_len("bad port stats length")
        return cls(port_no, ds, dn, tuple(counters),
                   decode_props(data, offset + 80, offset + length)), offset + length


@m.register(OFP14, OFP15)
@dataclass(kw_only=True)
class PortStatsReply14(m._ListMP, m.MultipartReply):
    """OFPMP_PORT_STATS reply for 1.4+."""

    version: int = OFP14
    mp_type: ClassVar[int] = MP.OFPMP_PORT_STATS
    _ENTRY: ClassVar[Any] = PortStats14


@dataclass
class QueueStats14:
    """ofp_queue_stats for 1.4+ (spec 1.4.1 7.3.5.9) with properties."""

    port_no: int = 0
    queue_id: int = 0
    tx_bytes: int = 0
    tx_packets: int = 0
    tx_errors: int = 0
    duration_sec: int = 0
    duration_nsec: int = 0
    properties: list[Prop] = field(default_factory=list)
    _S: ClassVar[struct.Struct] = struct.Struct("!H6xIIQQQII")

    def encode(self) -> bytes:
        props = _props_bytes(self.properties)
        return self._S.pack(48 + len(props), self.port_no, self.queue_id, self.tx_bytes,
                            self.tx_packets, self.tx_errors, self.duration_sec,
                            self.duration_nsec) + props

    @classmethod
    def decode(cls, data: bytes, offset: int) -> tuple[QueueStats14, int]:
        if offset + 48 > len(data):
            raise bad_len("queue stats truncated")
        length, *v = cls._S.unpack_from(data, offset)
        if length < 48 or offset + length > len(data):
            raise bad_len("bad queue stats length")
        return cls(*v, properties=decode_props(data, offset + 48, offset + length)), \
            offset + length


@m.register(OFP14, OFP15)
@dataclass(kw_only=True)
class QueueStatsReply14(m._ListMP, m.MultipartReply):
    """OFPMP_QUEUE_STATS reply for 1.4+."""

    version: int = OFP14
    mp_type: ClassVar[int] = MP.OFPMP_QUEUE
    _ENTRY: ClassVar[Any] = QueueStats14


@m.register(OFP14, OFP15)
@dataclass(kw_only=True)
class PortMod14(m.Message):
    """OFPT_PORT_MOD for 1.4+ (spec 1.4.1 7.3.4.3): advertise moves into properties."""

    version: int = OFP14
    port_no: int = 0
    hw_addr: int = 0
    config: int = 0
    mask: int = 0
    properties: list[Prop] = field(default_factory=list)
    msg_type: ClassVar[int] = T.OFPT_PORT_MOD
    _S: ClassVar[struct.Struct] = struct.Struct("!I4x6s2xII")

    def _encode_body(self) -> bytes:
        return self._S.pack(self.port_no, self.hw_addr.to_bytes(6, "big"), self.config,
                            self.mask) + _props_bytes(self.properties)

    @classmethod
    def _decode_body(cls, version: int, xid: int, body: bytes) -> Self:
        if len(body) < 24:
            raise bad_len("port_mod too short")
        port_no, hw, config, mask = cls._S.unpack_from(body)
        return cls(version=version, xid=xid, port_no=port_no,
                   hw_addr=int.from_bytes(hw, "big"), config=config, mask=mask,
                   properties=decode_props(body, 24, len(body)))


@dataclass(kw_only=True)
class _AsyncProps(m.Message):
    """OFPT_GET_ASYNC_REPLY / OFPT_SET_ASYNC for 1.4+ (spec 1.4.1 7.3.10): properties."""

    version: int = OFP14
    properties: list[Prop] = field(default_factory=list)

    def _encode_body(self) -> bytes:
        return _props_bytes(self.properties)

    @classmethod
    def _decode_body(cls, version: int, xid: int, body: bytes) -> Self:
        return cls(version=version, xid=xid, properties=decode_props(body, 0, len(body)))


@m.register(OFP14, OFP15)
@dataclass(kw_only=True)
class GetAsyncRequest14(_AsyncProps):
    """OFPT_GET_ASYNC_REQUEST for 1.4+ (body is ignored/empty)."""

    msg_type: ClassVar[int] = T.OFPT_GET_ASYNC_REQUEST


@m.register(OFP14, OFP15)
@dataclass(kw_only=True)
class GetAsyncReply14(_AsyncProps):
    """OFPT_GET_ASYNC_REPLY for 1.4+."""

    msg_type: ClassVar[int] = T.OFPT_GET_ASYNC_REPLY


@m.register(OFP14, OFP15)
@dataclass(kw_only=True)
class SetAsync14(_AsyncProps):
    """OFPT_SET_ASYNC for 1.4+."""

    msg_type: ClassVar[int] = T.OFPT_SET_ASYNC


@m.register(OFP14, OFP15)
@dataclass(kw_only=True)
class RoleStatus14(m.Message):
    """OFPT_ROLE_STATUS (spec 1.4.1 7.4.4): role, reason, generation_id, properties."""

    version: int = OFP14
    role: int = 0
    reason: int = 0
    generation_id: int = 0
    properties: list[Prop] = field(default_factory=list)
    msg_type: ClassVar[int] = T.OFPT_ROLE_STATUS
    _S: ClassVar[struct.Struct] = struct.Struct("!IB3xQ")

    def _encode_body(self) -> bytes:
        return self._S.pack(self.role, self.reason, self.generation_id) + _props_bytes(
            self.properties)

    @classmethod
    def _decode_body(cls, version: int, xid: int, body: bytes) -> Self:
        if len(body) < 16:
            raise bad_len("role status too short")
        role, reason, gen = cls._S.unpack_from(body)
        return cls(version=version, xid=xid, role=role, reason=reason, generation_id=gen,
                   properties=decode_props(body, 16, len(body)))


@m.register(OFP14, OFP15)
@dataclass(kw_only=True)
class TableDescStatsRequest14(m.MultipartRequest):
    """OFPMP_TABLE_DESC request (spec 1.4.1 7.3.5.6)."""

    version: int = OFP14
    mp_type: ClassVar[int] = MP.OFPMP_TABLE_DESC


@dataclass
class TableDesc14:
    """ofp_table_desc (spec 1.4.1 7.3.5.6)."""

    table_id: int = 0
    config: int = 0
    properties: list[Prop] = field(default_factory=list)
    _S: ClassVar[struct.Struct] = struct.Struct("!HBxI")

    def encode(self) -> bytes:
        props = _props_bytes(self.properties)
        return self._S.pack(8 + len(props), self.table_id, self.config) + props

    @classmethod
    def decode(cls, data: bytes, offset: int) -> tuple[TableDesc14, int]:
        if offset + 8 > len(data):
            raise bad_len("table desc truncated")
        length, tid, cfg = cls._S.unpack_from(data, offset)
        if length < 8 or offset + length > len(data):
            raise bad_len("bad table desc length")
        return cls(tid, cfg, decode_props(data, offset + 8, offset + length)), offset + length


@m.register(OFP14, OFP15)
@dataclass(kw_only=True)
class TableDescStatsReply14(m._ListMP, m.MultipartReply):
    """OFPMP_TABLE_DESC reply."""

    version: int = OFP14
    mp_type: ClassVar[int] = MP.OFPMP_TABLE_DESC
    _ENTRY: ClassVar[Any] = TableDesc14


@m.register(OFP14, OFP15)
@dataclass(kw_only=True)
class QueueDescStatsRequest14(m._FixedMP, m.MultipartRequest, Fixed):
    """OFPMP_QUEUE_DESC request (spec 1.4.1 7.3.5.10)."""

    version: int = OFP14
    port_no: int = 0xFFFFFFFF
    queue_id: int = 0xFFFFFFFF
    mp_type: ClassVar[int] = MP.OFPMP_QUEUE_DESC
    _S: ClassVar[struct.Struct] = struct.Struct("!II")
    _F: ClassVar[tuple[str, ...]] = ("port_no", "queue_id")


@dataclass
class QueueDesc14:
    """ofp_queue_desc (spec 1.4.1 7.3.5.10)."""

    port_no: int = 0
    queue_id: int = 0
    properties: list[Prop] = field(default_factory=list)
    _S: ClassVar[struct.Struct] = struct.Struct("!IIH6x")

    def encode(self) -> bytes:
        props = _props_bytes(self.properties)
        return self._S.pack(self.port_no, self.queue_id, 16 + len(props)) + props

    @classmethod
    def decode(cls, data: bytes, offset: int) -> tuple[QueueDesc14, int]:
        if offset + 16 > len(data):
            raise bad_len("queue desc truncated")
        port_no, qid, length = cls._S.unpack_from(data, offset)
        if length < 16 or offset + length > len(data):
            raise bad_len("bad queue desc length")
        return cls(port_no, qid, decode_props(data, offset + 16, offset + length)), \
            offset + length


@m.register(OFP14, OFP15)
@dataclass(kw_only=True)
class QueueDescStatsReply14(m._ListMP, m.MultipartReply):
    """OFPMP_QUEUE_DESC reply."""

    version: int = OFP14
    mp_type: ClassVar[int] = MP.OFPMP_QUEUE_DESC
    _ENTRY: ClassVar[Any] = QueueDesc14


@m.register(OFP14)
@dataclass(kw_only=True)
class MeterFeaturesStatsReply14(m.MeterFeaturesStatsReply):
    """OFPMP_METER_FEATURES reply for 1.4 (same layout as 1.3)."""

    version: int = OFP14


@m.register(OFP15)
@dataclass(kw_only=True)
class MeterFeaturesStatsReply15(m._ListMP, m.MultipartReply):
    """OFPMP_METER_FEATURES reply for 1.5 (spec 1.5.1 7.3.5.17): adds features bits."""

    version: int = OFP15
    mp_type: ClassVar[int] = MP.OFPMP_METER_FEATURES
    _ENTRY: ClassVar[Any] = None  # set below


@dataclass
class MeterFeatures15(Fixed):
    """ofp_meter_features for 1.5 (adds ``features``)."""

    max_meter: int = 0
    band_types: int = 0
    capabilities: int = 0
    max_bands: int = 0
    max_color: int = 0
    features: int = 0
    _S: ClassVar[struct.Struct] = struct.Struct("!IIIBB2xI4x")
    _F: ClassVar[tuple[str, ...]] = ("max_meter", "band_types", "capabilities", "max_bands",
                                     "max_color", "features")



MeterFeaturesStatsReply15._ENTRY = MeterFeatures15


@m.register(OFP14, OFP15)
@dataclass(kw_only=True)
class TableMod14(m.Message):
    """OFPT_TABLE_MOD for 1.4+ (spec 1.4.1 7.3.3): table_id, config, properties."""

    version: int = OFP14
    table_id: int = 0
    config: int = 0
    properties: list[Prop] = field(default_factory=list)
    msg_type: ClassVar[int] = T.OFPT_TABLE_MOD
    _S: ClassVar[struct.Struct] = struct.Struct("!B3xI")

    def _encode_body(self) -> bytes:
        return self._S.pack(self.table_id, self.config) + _props_bytes(self.properties)

    @classmethod
    def _decode_body(cls, version: int, xid: int, body: bytes) -> Self:
        if len(body) < 8:
            raise bad_len("table_mod too short")
        tid, cfg = cls._S.unpack_from(body)
        return cls(version=version, xid=xid, table_id=tid, config=cfg,
                   properties=decode_props(body, 8, len(body)))


@m.register(OFP15)
@dataclass(kw_only=True)
class RoleRequest15(m._FixedMessage):
    """OFPT_ROLE_REQUEST for 1.5 (spec 1.5.1 7.3.9): adds ``short_id``."""

    version: int = OFP15
    role: int = 0
    short_id: int = 0
    generation_id: int = 0
    msg_type: ClassVar[int] = T.OFPT_ROLE_REQUEST
    _S: ClassVar[struct.Struct] = struct.Struct("!IH2xQ")
    _F: ClassVar[tuple[str, ...]] = ("role", "short_id", "generation_id")


@m.register(OFP15)
@dataclass(kw_only=True)
class RoleReply15(RoleRequest15):
    """OFPT_ROLE_REPLY for 1.5."""

    msg_type: ClassVar[int] = T.OFPT_ROLE_REPLY


# The OpenFlow 1.5 layouts (OXS statistics, 1.5 groups) and OFPT_TABLE_STATUS /
# OFPT_REQUESTFORWARD register themselves on import.
from . import messages15  # noqa: E402,F401
