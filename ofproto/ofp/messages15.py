"""OpenFlow 1.5 layouts that differ from 1.3/1.4 (spec 1.5.1 section 7), and the 1.4
asynchronous messages OFPT_TABLE_STATUS / OFPT_REQUESTFORWARD.

Imported by :mod:`ofproto.ofp.messages14` at its end so the classes register in
:data:`~ofproto.ofp.messages.MESSAGE_TYPES`.  What is here:

* OXS statistics (spec 1.5.1 7.2.4, :class:`OXSStats`) as used by flow descriptions,
  flow statistics, aggregate statistics and flow-removed messages;
* flow desc / flow stats / aggregate multiparts and OFPT_FLOW_REMOVED for 1.5;
* groups with bucket ids and bucket properties (spec 1.5.1 7.3.4.2, 7.3.5.9/10);
* OFPT_TABLE_STATUS (1.4.1 7.4.5) and OFPT_REQUESTFORWARD (1.4.1 7.4.6).

Facts about the wire layouts follow OVS ``include/openflow/openflow-1.5.h``,
``lib/ox-stat.c`` and ``lib/ofp-group.c``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

from . import messages as m
from . import oxm
from .actions import (
    Action,
    Instruction,
    decode_actions,
    decode_instructions,
    encode_actions,
    encode_instructions,
)
from .consts import OFP14, OFP15, OFPBadInstructionCode, OFPBadMatchCode, OFPErrorType
from .consts import OFPMultipartType as MP
from .consts import OFPType as T
from .errors import OFPDecodeError, bad_len
from .messages14 import Prop, TableDesc14, _props_bytes, decode_props
from .structs import Fixed

# --- OXS (spec 1.5.1 7.2.4 "Flow Statistics"; OVS lib/ox-stat.c) --------------------

OFPXSC_OPENFLOW_BASIC = 0x8002
OFPXSC_EXPERIMENTER = 0xFFFF
#: OXS basic stat fields: name -> (oxs_field, payload bytes) (enum oxs_ofb_stat_fields).
OXS_FIELDS: dict[str, tuple[int, int]] = {
    "duration": (0, 8),
    "idle_time": (1, 8),
    "flow_count": (3, 4),
    "packet_count": (4, 8),
    "byte_count": (5, 8),
}
_OXS_BY_FIELD = {f: (name, size) for name, (f, size) in OXS_FIELDS.items()}
_U32 = struct.Struct("!I")


def _bad_oxs(msg: str) -> OFPDecodeError:
    return OFPDecodeError(OFPErrorType.OFPET_BAD_MATCH, OFPBadMatchCode.OFPBMC_BAD_LEN, msg)


def oxs_time(sec: int, nsec: int) -> int:
    """A duration/idle_time OXS value: seconds in the high 32 bits, ns in the low."""
    return (sec & 0xFFFFFFFF) << 32 | (nsec & 0xFFFFFFFF)


@dataclass
class OXSStats:
    """``struct ofp_stats`` (spec 1.5.1 7.2.4): an ordered list of OXS TLVs.

    ``fields`` maps the basic field names of :data:`OXS_FIELDS` to their values in
    wire order (``duration``/``idle_time`` are 64-bit: seconds << 32 | nanoseconds);
    ``other`` keeps TLVs of unknown class/field as (32-bit header, payload incl. any
    experimenter id), encoded after the known ones.
    """

    fields: dict[str, int] = field(default_factory=dict)
    other: list[tuple[int, bytes]] = field(default_factory=list)
    _H: ClassVar[struct.Struct] = struct.Struct("!HH")

    @classmethod
    def make(cls, *, duration: tuple[int, int] | None = None,
             idle_time: tuple[int, int] | None = None, packet_count: int | None = None,
             byte_count: int | None = None, flow_count: int | None = None) -> OXSStats:
        """Stats in OVS order (``oxs_put_stats``): duration, idle time, packets,
        bytes, flow count; ``None`` leaves a field out."""
        f: dict[str, int] = {}
        if duration is not None:
            f["duration"] = oxs_time(*duration)
        if idle_time is not None:
            f["idle_time"] = oxs_time(*idle_time)
        if packet_count is not None:
            f["packet_count"] = packet_count
        if byte_count is not None:
            f["byte_count"] = byte_count
        if flow_count is not None:
            f["flow_count"] = flow_count
        return cls(f)

    def get(self, name: str) -> int | None:
        return self.fields.get(name)

    @property
    def duration(self) -> tuple[int, int] | None:
        v = self.fields.get("duration")
        return None if v is None else (v >> 32, v & 0xFFFFFFFF)

    def encode(self) -> bytes:
        body = bytearray()
        for name, value in self.fields.items():
            fid, size = OXS_FIELDS[name]
            body += _U32.pack(OFPXSC_OPENFLOW_BASIC << 16 | fid << 9 | size)
            body += value.to_bytes(size, "big")
        for header, payload in self.other:
            body += _U32.pack(header) + payload
        length = 4 + len(body)
        return self._H.pack(0, length) + bytes(body) + bytes(-length % 8)

    @classmethod
    def decode(cls, data: bytes, offset: int) -> tuple[OXSStats, int]:
        """Decode the ofp_stats at ``offset``; returns (stats, offset after padding).
        Malformed TLVs raise OFPBMC_BAD_LEN (as OVS ``oxs_pull_stat``)."""
        if offset + 4 > len(data):
            raise _bad_oxs("ofp_stats truncated")
        _reserved, length = cls._H.unpack_from(data, offset)
        end = offset + length
        padded = offset + ((length + 7) & ~7)
        if length < 4 or padded > len(data):
            raise _bad_oxs("bad ofp_stats length")
        out = cls()
        p = offset + 4
        while p < end:
            if p + 4 > end:
                raise _bad_oxs("OXS header truncated")
            header = _U32.unpack_from(data, p)[0]
            cls_, fid, size = header >> 16, (header >> 9) & 0x7F, header & 0xFF
            if p + 4 + size > end:
                raise _bad_oxs("OXS payload truncated")
            payload = bytes(data[p + 4:p + 4 + size])
            known = _OXS_BY_FIELD.get(fid)
            if (cls_ == OFPXSC_OPENFLOW_BASIC and known is not None and known[1] == size
                    and not header & 0x100 and known[0] not in out.fields):
                out.fields[known[0]] = int.from_bytes(payload, "big")
            else:
                out.other.append((header, payload))
            p += 4 + size
        return out, padded


# --- flow desc / flow stats / aggregate (spec 1.5.1 7.3.5.2 - 7.3.5.4) ----------------


@m.register(OFP15)
@dataclass(kw_only=True)
class FlowDescStatsRequest15(m.FlowStatsRequest):
    """OFPMP_FLOW_DESC request (spec 1.5.1 7.3.5.2): the 1.3 flow stats request body."""

    version: int = OFP15


@m.register(OFP15)
@dataclass(kw_only=True)
class FlowStatsRequest15(m.FlowStatsRequest):
    """OFPMP_FLOW_STATS request (spec 1.5.1 7.3.5.3): same body as OFPMP_FLOW_DESC."""

    version: int = OFP15
    mp_type: ClassVar[int] = MP.OFPMP_FLOW_STATS


@m.register(OFP15)
@dataclass(kw_only=True)
class AggregateStatsRequest15(m.AggregateStatsRequest):
    """OFPMP_AGGREGATE_STATS request (spec 1.5.1 7.3.5.4): the 1.3 body."""

    version: int = OFP15


@dataclass
class FlowDesc15:
    """``struct ofp_flow_desc`` (spec 1.5.1 7.3.5.2; OVS ``ofp15_flow_desc``):
    24-byte header, match, OXS stats, instructions."""

    table_id: int = 0
    priority: int = 0
    idle_timeout: int = 0
    hard_timeout: int = 0
    flags: int = 0
    importance: int = 0
    cookie: int = 0
    match: oxm.Match = field(default_factory=oxm.Match)
    stats: OXSStats = field(default_factory=OXSStats)
    instructions: list[Instruction] = field(default_factory=list)
    _S: ClassVar[struct.Struct] = struct.Struct("!H2xBxHHHHHQ")

    def encode(self) -> bytes:
        tail = (oxm.encode_oxm(self.match) + self.stats.encode()
                + encode_instructions(OFP15, self.instructions))
        return self._S.pack(24 + len(tail), self.table_id, self.priority, self.idle_timeout,
                            self.hard_timeout, self.flags, self.importance,
                            self.cookie) + tail

    @classmethod
    def decode(cls, data: bytes, offset: int) -> tuple[FlowDesc15, int]:
        if offset + 24 > len(data):
            raise bad_len("flow desc truncated")
        length, tid, prio, idle, hard, flags, imp, cookie = cls._S.unpack_from(data, offset)
        end = offset + length
        if length < 24 or end > len(data):
            raise bad_len("bad flow desc length")
        view = data[:end]
        match, n = oxm.decode_oxm(view, offset + 24)
        stats, p = OXSStats.decode(view, offset + 24 + n)
        try:
            ins = decode_instructions(OFP15, view, p)
        except OFPDecodeError as e:
            # An instruction running past the entry is the entry's length that is
            # inconsistent (a reply is not answered with BAD_INSTRUCTION).
            if (e.type, e.code) == (OFPErrorType.OFPET_BAD_INSTRUCTION,
                                    OFPBadInstructionCode.OFPBIC_BAD_LEN):
                raise bad_len(f"flow desc: {e}") from e
            raise
        return cls(tid, prio, idle, hard, flags, imp, cookie, match, stats, ins), end


@m.register(OFP15)
@dataclass(kw_only=True)
class FlowDescStatsReply15(m._ListMP, m.MultipartReply):
    """OFPMP_FLOW_DESC reply: list of :class:`FlowDesc15`."""

    version: int = OFP15
    mp_type: ClassVar[int] = MP.OFPMP_FLOW
    _ENTRY: ClassVar[Any] = FlowDesc15


@dataclass
class FlowStats15:
    """``struct ofp_flow_stats`` for OFPMP_FLOW_STATS (spec 1.5.1 7.3.5.3):
    length, table_id, reason (OFPFSR_*), priority, match, OXS stats."""

    table_id: int = 0
    reason: int = 0
    priority: int = 0
    match: oxm.Match = field(default_factory=oxm.Match)
    stats: OXSStats = field(default_factory=OXSStats)
    _S: ClassVar[struct.Struct] = struct.Struct("!H2xBBH")

    def encode(self) -> bytes:
        tail = oxm.encode_oxm(self.match) + self.stats.encode()
        return self._S.pack(8 + len(tail), self.table_id, self.reason, self.priority) + tail

    @classmethod
    def decode(cls, data: bytes, offset: int) -> tuple[FlowStats15, int]:
        if offset + 8 > len(data):
            raise bad_len("flow stats truncated")
        length, tid, reason, prio = cls._S.unpack_from(data, offset)
        end = offset + length
        if length < 8 or end > len(data):
            raise bad_len("bad flow stats length")
        view = data[:end]
        match, n = oxm.decode_oxm(view, offset + 8)
        stats, p = OXSStats.decode(view, offset + 8 + n)
        if p != end:
            raise bad_len("flow stats length")
        return cls(tid, reason, prio, match, stats), end


@m.register(OFP15)
@dataclass(kw_only=True)
class FlowStatsReply15(m._ListMP, m.MultipartReply):
    """OFPMP_FLOW_STATS reply: list of :class:`FlowStats15`."""

    version: int = OFP15
    mp_type: ClassVar[int] = MP.OFPMP_FLOW_STATS
    _ENTRY: ClassVar[Any] = FlowStats15


@m.register(OFP15)
@dataclass(kw_only=True)
class AggregateStatsReply15(m.MultipartReply):
    """OFPMP_AGGREGATE_STATS reply (spec 1.5.1 7.3.5.4): one ``ofp_stats`` (OVS sends
    packet_count, byte_count and flow_count)."""

    version: int = OFP15
    stats: OXSStats = field(default_factory=OXSStats)
    mp_type: ClassVar[int] = MP.OFPMP_AGGREGATE

    def _encode_mp(self) -> bytes:
        return self.stats.encode()

    @classmethod
    def _decode_mp(cls, version: int, body: bytes) -> dict[str, Any]:
        stats, end = OXSStats.decode(body, 0)
        if end != len(body):
            raise bad_len("aggregate stats reply length")
        return {"stats": stats}


# --- flow removed (spec 1.5.1 7.4.2) ---------------------------------------------------


@m.register(OFP15)
@dataclass(kw_only=True)
class FlowRemoved15(m.Message):
    """OFPT_FLOW_REMOVED for 1.5 (spec 1.5.1 7.4.2; OVS ``ofp15_flow_removed``):
    table_id, reason, priority, timeouts, cookie, match, OXS stats."""

    version: int = OFP15
    table_id: int = 0
    reason: int = 0
    priority: int = 0
    idle_timeout: int = 0
    hard_timeout: int = 0
    cookie: int = 0
    match: oxm.Match = field(default_factory=oxm.Match)
    stats: OXSStats = field(default_factory=OXSStats)
    msg_type: ClassVar[int] = T.OFPT_FLOW_REMOVED
    _S: ClassVar[struct.Struct] = struct.Struct("!BBHHHQ")

    def _encode_body(self) -> bytes:
        return (self._S.pack(self.table_id, self.reason, self.priority, self.idle_timeout,
                             self.hard_timeout, self.cookie)
                + oxm.encode_oxm(self.match) + self.stats.encode())

    @classmethod
    def _decode_body(cls, version: int, xid: int, body: bytes) -> Self:
        if len(body) < 16:
            raise bad_len("flow_removed too short")
        tid, reason, prio, idle, hard, cookie = cls._S.unpack_from(body)
        match, n = oxm.decode_oxm(body, 16)
        stats, end = OXSStats.decode(body, 16 + n)
        if end != len(body):
            raise bad_len("flow_removed length")
        return cls(version=version, xid=xid, table_id=tid, reason=reason, priority=prio,
                   idle_timeout=idle, hard_timeout=hard, cookie=cookie, match=match,
                   stats=stats)


# --- groups (spec 1.5.1 7.3.4.2, 7.3.5.9, 7.3.5.10) -------------------------------------

OFPGC15_INSERT_BUCKET = 3
OFPGC15_REMOVE_BUCKET = 5
OFPGC15_ADD_OR_MOD = 0x8000
OFPG15_BUCKET_MAX = 0xFFFFFF00
OFPG15_BUCKET_FIRST = 0xFFFFFFFD
OFPG15_BUCKET_LAST = 0xFFFFFFFE
OFPG15_BUCKET_ALL = 0xFFFFFFFF
OFPGBPT15_WEIGHT = 0
OFPGBPT15_WATCH_PORT = 1
OFPGBPT15_WATCH_GROUP = 2
_OFPGT_SELECT = 1
_ANY = 0xFFFFFFFF


@dataclass
class Bucket15:
    """``struct ofp_bucket`` for 1.5 (spec 1.5.1 7.3.4.2): bucket_id, actions and
    properties (OFPGBPT_WEIGHT / WATCH_PORT / WATCH_GROUP kept as :class:`Prop`)."""

    bucket_id: int = 0
    actions: list[Action] = field(default_factory=list)
    properties: list[Prop] = field(default_factory=list)
    _S: ClassVar[struct.Struct] = struct.Struct("!HHI")

    def _prop(self, ptype: int) -> bytes | None:
        for p in self.properties:
            if p.type == ptype:
                return p.data
        return None

    def weight(self, group_type: int) -> int:
        """The weight property, or the 1.5 default (1 for select groups, else 0)."""
        d = self._prop(OFPGBPT15_WEIGHT)
        if d is None or len(d) < 2:
            return 1 if group_type == _OFPGT_SELECT else 0
        return int(struct.unpack_from("!H", d)[0])

    @property
    def watch_port(self) -> int:
        d = self._prop(OFPGBPT15_WATCH_PORT)
        return _ANY if d is None or len(d) < 4 else int(_U32.unpack_from(d)[0])

    @property
    def watch_group(self) -> int:
        d = self._prop(OFPGBPT15_WATCH_GROUP)
        return _ANY if d is None or len(d) < 4 else int(_U32.unpack_from(d)[0])

    def to_bucket(self, group_type: int) -> m.Bucket:
        """The 1.1-1.4 view of this bucket (bucket id dropped)."""
        return m.Bucket(self.weight(group_type), self.watch_port, self.watch_group,
                        list(self.actions))

    @classmethod
    def from_bucket(cls, b: m.Bucket, bucket_id: int, group_type: int) -> Bucket15:
        """A 1.5 bucket with the properties OVS writes (``ofputil_put_ofp15_bucket``):
        weight for select groups or when non-zero, watch port/group when set."""
        props = []
        if group_type == _OFPGT_SELECT or b.weight:
            props.append(Prop(OFPGBPT15_WEIGHT, struct.pack("!H2x", b.weight)))
        if b.watch_port != _ANY:
            props.append(Prop(OFPGBPT15_WATCH_PORT, _U32.pack(b.watch_port)))
        if b.watch_group != _ANY:
            props.append(Prop(OFPGBPT15_WATCH_GROUP, _U32.pack(b.watch_group)))
        return cls(bucket_id, list(b.actions), props)

    def encode(self) -> bytes:
        acts = encode_actions(OFP15, self.actions)
        props = _props_bytes(self.properties)
        return self._S.pack(8 + len(acts) + len(props), len(acts), self.bucket_id) \
            + acts + props

    @classmethod
    def decode(cls, data: bytes, offset: int) -> tuple[Bucket15, int]:
        if offset + 8 > len(data):
            raise bad_len("bucket truncated")
        blen, alen, bid = cls._S.unpack_from(data, offset)
        end = offset + blen
        if blen < 8 or end > len(data) or 8 + alen > blen:
            raise bad_len("bad bucket length")
        acts = decode_actions(OFP15, data[:end], offset + 8, alen)
        return cls(bid, acts, decode_props(data, offset + 8 + alen, end)), end


def _decode_buckets15(data: bytes, offset: int, end: int) -> list[Bucket15]:
    out = []
    view = data[:end]
    while offset < end:
        b, offset = Bucket15.decode(view, offset)
        out.append(b)
    return out


@m.register(OFP15)
@dataclass(kw_only=True)
class GroupMod15(m.Message):
    """OFPT_GROUP_MOD for 1.5 (spec 1.5.1 7.3.4.2; OVS ``ofp15_group_mod``):
    command (incl. INSERT_BUCKET/REMOVE_BUCKET), command_bucket_id, buckets, properties."""

    version: int = OFP15
    command: int = 0
    type: int = 0
    group_id: int = 0
    command_bucket_id: int = OFPG15_BUCKET_ALL
    buckets: list[Bucket15] = field(default_factory=list)
    properties: list[Prop] = field(default_factory=list)
    msg_type: ClassVar[int] = T.OFPT_GROUP_MOD
    _S: ClassVar[struct.Struct] = struct.Struct("!HBxIH2xI")

    def _encode_body(self) -> bytes:
        buckets = b"".join(b.encode() for b in self.buckets)
        return self._S.pack(self.command, self.type, self.group_id, len(buckets),
                            self.command_bucket_id) + buckets + _props_bytes(self.properties)

    @classmethod
    def _decode_body(cls, version: int, xid: int, body: bytes) -> Self:
        if len(body) < 16:
            raise bad_len("group_mod too short")
        cmd, gtype, gid, blen, cbid = cls._S.unpack_from(body)
        if 16 + blen > len(body):
            raise bad_len("group_mod bucket_array_len past the end")
        return cls(version=version, xid=xid, command=cmd, type=gtype, group_id=gid,
                   command_bucket_id=cbid, buckets=_decode_buckets15(body, 16, 16 + blen),
                   properties=decode_props(body, 16 + blen, len(body)))


@m.register(OFP15)
@dataclass(kw_only=True)
class GroupDescStatsRequest15(m._FixedMP, m.MultipartRequest, Fixed):
    """OFPMP_GROUP_DESC request for 1.5 (spec 1.5.1 7.3.5.10): group_id filter."""

    version: int = OFP15
    group_id: int = 0xFFFFFFFC
    mp_type: ClassVar[int] = MP.OFPMP_GROUP_DESC
    _S: ClassVar[struct.Struct] = struct.Struct("!I4x")
    _F: ClassVar[tuple[str, ...]] = ("group_id",)


@dataclass
class GroupDesc15:
    """``struct ofp_group_desc`` for 1.5 (spec 1.5.1 7.3.5.10; OVS
    ``ofp15_group_desc_stats``): type, group_id, buckets, group properties."""

    type: int = 0
    group_id: int = 0
    buckets: list[Bucket15] = field(default_factory=list)
    properties: list[Prop] = field(default_factory=list)
    _S: ClassVar[struct.Struct] = struct.Struct("!HBxIH6x")

    def encode(self) -> bytes:
        buckets = b"".join(b.encode() for b in self.buckets)
        props = _props_bytes(self.properties)
        return self._S.pack(16 + len(buckets) + len(props), self.type, self.group_id,
                            len(buckets)) + buckets + props

    @classmethod
    def decode(cls, data: bytes, offset: int) -> tuple[GroupDesc15, int]:
        if offset + 16 > len(data):
            raise bad_len("group desc truncated")
        length, gtype, gid, blen = cls._S.unpack_from(data, offset)
        end = offset + length
        if length < 16 + blen or end > len(data):
            raise bad_len("bad group desc length")
        buckets = _decode_buckets15(data, offset + 16, offset + 16 + blen)
        return cls(gtype, gid, buckets, decode_props(data, offset + 16 + blen, end)), end


@m.register(OFP15)
@dataclass(kw_only=True)
class GroupDescStatsReply15(m._ListMP, m.MultipartReply):
    """OFPMP_GROUP_DESC reply for 1.5: list of :class:`GroupDesc15`."""

    version: int = OFP15
    mp_type: ClassVar[int] = MP.OFPMP_GROUP_DESC
    _ENTRY: ClassVar[Any] = GroupDesc15


@m.register(OFP15)
@dataclass(kw_only=True)
class GroupStatsRequest15(m.GroupStatsRequest):
    """OFPMP_GROUP_STATS request for 1.5 (spec 1.5.1 7.3.5.9): the 1.3 body."""

    version: int = OFP15


@m.register(OFP15)
@dataclass(kw_only=True)
class GroupStatsReply15(m.GroupStatsReply):
    """OFPMP_GROUP_STATS reply for 1.5: the 1.3 ``ofp_group_stats`` entries."""

    version: int = OFP15


# --- OFPT_TABLE_STATUS / OFPT_REQUESTFORWARD (spec 1.4.1 7.4.5, 7.4.6) ----------------


@m.register(OFP14, OFP15)
@dataclass(kw_only=True)
class TableStatus14(m.Message):
    """OFPT_TABLE_STATUS (spec 1.4.1 7.4.5): reason (OFPTR_*) and a table desc."""

    version: int = OFP14
    reason: int = 0
    table: TableDesc14 = field(default_factory=TableDesc14)
    msg_type: ClassVar[int] = T.OFPT_TABLE_STATUS

    def _encode_body(self) -> bytes:
        return struct.pack("!B7x", self.reason) + self.table.encode()

    @classmethod
    def _decode_body(cls, version: int, xid: int, body: bytes) -> Self:
        if len(body) < 16:
            raise bad_len("table status too short")
        table, end = TableDesc14.decode(body, 8)
        if end != len(body):
            raise bad_len("table status length")
        return cls(version=version, xid=xid, reason=body[0], table=table)


@m.register(OFP14, OFP15)
@dataclass(kw_only=True)
class RequestForward14(m.Message):
    """OFPT_REQUESTFORWARD (spec 1.4.1 7.4.6): a group/meter mod another controller
    sent, carried whole (``request`` is its wire form, header included)."""

    version: int = OFP14
    request: bytes = b""
    msg_type: ClassVar[int] = T.OFPT_REQUESTFORWARD

    def _encode_body(self) -> bytes:
        return self.request

    @classmethod
    def _decode_body(cls, version: int, xid: int, body: bytes) -> Self:
        if len(body) < 8 or struct.unpack_from("!H", body, 2)[0] != len(body):
            raise bad_len("requestforward: inner message length")
        return cls(version=version, xid=xid, request=bytes(body))
