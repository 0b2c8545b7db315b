"""Nicira (NX) extension messages that ovs-ofctl uses with OpenFlow 1.0.

Layouts follow Open vSwitch ``include/openflow/nicira-ext.h`` and
``include/openvswitch/ofp-msgs.h`` (``OFPRAW_NXT_*`` / ``OFPRAW_NXST_*``):

* An NXT message is ``OFPT_VENDOR`` (OF1.0) / ``OFPT_EXPERIMENTER`` (OF1.1+) — both
  type 4 — with vendor ``NX_VENDOR_ID`` (0x2320) and a 32-bit subtype
  (``struct nicira_header``), followed by the subtype's body.
* An NXST statistics message is ``OFPST_VENDOR`` (0xffff) with vendor 0x2320, a
  32-bit subtype and 4 bytes of padding (``struct nicira10_stats_msg``, 24 bytes
  with the ofp_header), followed by the body.

Relation to the other modules: these classes are **not** in
:data:`ofproto.ofp.messages.MESSAGE_TYPES` (the registry decodes type 4 to
:class:`~ofproto.ofp.messages.Vendor10` / :class:`~ofproto.ofp.messages.Experimenter`
and ``OFPST_VENDOR`` to :class:`~ofproto.ofp.messages.VendorStatsRequest10`); the
switch upgrades those with :func:`decode_nicira`.  They subclass
:class:`~ofproto.ofp.messages.Message`, so ``conn.send`` and ``encode`` work as for
any other message.  Matches are :class:`ofproto.ofp.oxm.Match` encoded as bare NXM
(``nx_match``, :func:`ofproto.ofp.oxm.encode_nxm`); ``NXM_NX_COOKIE[_W]`` in an
nx_match is not a flow field and is carried in ``cookie``/``cookie_mask``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

from . import messages as m
from . import oxm
from .actions import Action, decode_actions, encode_actions
from .consts import NX_VENDOR_ID, OFP10
from .consts import OFPBadMatchCode as BMC
from .consts import OFPBadRequestCode as BRC
from .consts import OFPErrorType as ET
from .consts import OFPStatsType10 as ST10
from .errors import OFPDecodeError, bad_len

__all__ = [
    "NXT_FLOW_MOD", "NXT_FLOW_REMOVED", "NXT_SET_FLOW_FORMAT", "NXT_FLOW_MOD_TABLE_ID",
    "NXT_SET_PACKET_IN_FORMAT", "NXST_FLOW", "NXST_AGGREGATE",
    "NXFF_OPENFLOW10", "NXFF_NXM", "NXPIF_STANDARD", "NXPIF_NXT_PACKET_IN",
    "NXPIF_NXT_PACKET_IN2",
    "NXMessage", "NXSetFlowFormat", "NXFlowModTableId", "NXSetPacketInFormat",
    "NXFlowMod", "NXFlowRemoved", "NXStatsRequest", "NXStatsReply",
    "NXFlowStatsRequest", "NXAggregateStatsRequest", "NXFlowStats", "NXFlowStatsReply",
    "NXAggregateStatsReply", "decode_nicira", "encode_nx_match", "decode_nx_match",
]

# NXT_* subtypes (nicira-ext.h / ofp-msgs.h "NXT 1.0+ (N)").
NXT_FLOW_MOD = 13
NXT_FLOW_REMOVED = 14
NXT_SET_FLOW_FORMAT = 12
NXT_FLOW_MOD_TABLE_ID = 15
NXT_SET_PACKET_IN_FORMAT = 16
# NXST_* subtypes ("NXST 1.0 (N)").
NXST_FLOW = 0
NXST_AGGREGATE = 1

# enum nx_flow_format.
NXFF_OPENFLOW10 = 0
NXFF_NXM = 2
# enum nx_packet_in_format.
NXPIF_STANDARD = 0
NXPIF_NXT_PACKET_IN = 1
NXPIF_NXT_PACKET_IN2 = 2

_NX_HDR = struct.Struct("!II")        # vendor, subtype
_NXST_HDR = struct.Struct("!II4x")    # vendor, subtype, pad
_COOKIE_FIELD = (0x0001, 30)          # NXM_NX_COOKIE: class NXM_1, field 30, 8 bytes
_ALL_ONES64 = (1 << 64) - 1


def _bad_subtype(what: str) -> OFPDecodeError:
    return OFPDecodeError(ET.OFPET_BAD_REQUEST, BRC.OFPBRC_BAD_EXP_TYPE, what)


# --- nx_match with NXM_NX_COOKIE ------------------------------------------------------


def encode_nx_match(match: oxm.Match, cookie: int = 0, cookie_mask: int = 0) -> bytes:
    """The unpadded ``nx_match`` for ``match`` plus, when ``cookie_mask`` is nonzero,
    ``NXM_NX_COOKIE`` / ``NXM_NX_COOKIE_W`` last (as OVS ``nx_put_raw`` orders it)."""
    out = oxm.encode_nxm(match)
    if cookie_mask:
        if cookie_mask == _ALL_ONES64:
            out += struct.pack("!IQ", 0x0001 << 16 | 30 << 9 | 8, cookie)
        else:
            out += struct.pack("!IQQ", 0x0001 << 16 | 30 << 9 | 1 << 8 | 16,
                               cookie & cookie_mask, cookie_mask)
    return out


def decode_nx_match(data: bytes, offset: int, match_len: int
                    ) -> tuple[oxm.Match, int, int, int]:
    """Decodes ``match_len`` bytes of nx_match at ``offset`` (OVS ``nx_pull_match``).

    Returns ``(match, cookie, cookie_mask, padded_len)``: ``NXM_NX_COOKIE[_W]`` is
    removed from the match (OVS treats it as a cookie filter, nicira-ext.h), the
    padding to 8 bytes must be zero.
    """
    end = offset + match_len
    padded = (match_len + 7) // 8 * 8
    if offset + padded > len(data):
        raise OFPDecodeError(ET.OFPET_BAD_REQUEST, BRC.OFPBRC_BAD_LEN, "nx_match truncated")
    rest = bytearray()
    cookie = cookie_mask = 0
    p = offset
    while p < end:
        if p + 4 > end:
            raise OFPDecodeError(ET.OFPET_BAD_MATCH, BMC.OFPBMC_BAD_LEN, "truncated NXM header")
        (header,) = struct.unpack_from("!I", data, p)
        length = header & 0xFF
        if p + 4 + length > end:
            raise OFPDecodeError(ET.OFPET_BAD_MATCH, BMC.OFPBMC_BAD_LEN, "NXM entry too long")
        if (header >> 16, (header >> 9) & 0x7F) == _COOKIE_FIELD:
            if header & 0x100:
                if length != 16:
                    raise OFPDecodeError(ET.OFPET_BAD_MATCH, BMC.OFPBMC_BAD_LEN, "cookie_w")
                cookie, cookie_mask = struct.unpack_from("!QQ", data, p + 4)
                cookie &= cookie_mask
            else:
                if length != 8:
                    raise OFPDecodeError(ET.OFPET_BAD_MATCH, BMC.OFPBMC_BAD_LEN, "cookie")
                (cookie,) = struct.unpack_from("!Q", data, p + 4)
                cookie_mask = _ALL_ONES64
        else:
            rest += data[p:p + 4 + length]
        p += 4 + length
    if any(data[end:offset + padded]):
        raise OFPDecodeError(ET.OFPET_BAD_MATCH, BMC.OFPBMC_BAD_LEN, "nx_match padding")
    match, _ = oxm.decode_nxm(bytes(rest))
    return match, cookie, cookie_mask, padded


def _pad8(b: bytes) -> bytes:
    return b + bytes(-len(b) % 8)


# --- NXT messages (OFPT_VENDOR / OFPT_EXPERIMENTER, type 4) ---------------------------


@dataclass(kw_only=True)
class NXMessage(m.Message):
    """An NXT message: ``struct nicira_header`` (vendor 0x2320, subtype) + body."""

    version: int = OFP10
    msg_type: ClassVar[int] = 4   # OFPT_VENDOR (1.0) == OFPT_EXPERIMENTER (1.1+)
    subtype: ClassVar[int]

    def _encode_nx(self) -> bytes:
        return b""

    @classmethod
    def _decode_nx(cls, version: int, body: bytes) -> dict[str, Any]:
        if body:
            raise bad_len(f"{cls.__name__} has no body")
        return {}

    def _encode_body(self) -> bytes:
        return _NX_HDR.pack(NX_VENDOR_ID, self.subtype) + self._encode_nx()

    @classmethod
    def from_body(cls, version: int, xid: int, body: bytes) -> Self:
        """Builds the message from the bytes after the subtype."""
        return cls(version=version, xid=xid, **cls._decode_nx(version, body))


@dataclass(kw_only=True)
class _NXU32(NXMessage):
    _S: ClassVar[struct.Struct] = struct.Struct("!I")
    _FIELD: ClassVar[str] = "format"

    def _encode_nx(self) -> bytes:
        return self._S.pack(getattr(self, self._FIELD))

    @classmethod
    def _decode_nx(cls, version: int, body: bytes) -> dict[str, Any]:
        if len(body) != cls._S.size:
            raise bad_len(f"{cls.__name__}: body length {len(body)}")
        return {cls._FIELD: cls._S.unpack(body)[0]}


@dataclass(kw_only=True)
class NXSetFlowFormat(_NXU32):
    """NXT_SET_FLOW_FORMAT (nicira-ext.h ``struct nx_set_flow_format``): the flow
    format of later flow-mods, flow-removed and flow stats on this connection
    (NXFF_OPENFLOW10 or NXFF_NXM)."""

    format: int = NXFF_OPENFLOW10
    subtype: ClassVar[int] = NXT_SET_FLOW_FORMAT


@dataclass(kw_only=True)
class NXSetPacketInFormat(_NXU32):
    """NXT_SET_PACKET_IN_FORMAT (``struct nx_set_packet_in_format``): NXPIF_*."""

    format: int = NXPIF_STANDARD
    subtype: ClassVar[int] = NXT_SET_PACKET_IN_FORMAT


@dataclass(kw_only=True)
class NXFlowModTableId(NXMessage):
    """NXT_FLOW_MOD_TABLE_ID (``struct nx_flow_mod_table_id``): when ``set``, the high
    byte of an OF1.0/NXT flow-mod's 16-bit ``command`` is the table id."""

    set: int = 0
    subtype: ClassVar[int] = NXT_FLOW_MOD_TABLE_ID
    _S: ClassVar[struct.Struct] = struct.Struct("!B7x")

    def _encode_nx(self) -> bytes:
        return self._S.pack(self.set)

    @classmethod
    def _decode_nx(cls, version: int, body: bytes) -> dict[str, Any]:
        if len(body) != cls._S.size:
            raise bad_len("nx_flow_mod_table_id length")
        return {"set": cls._S.unpack(body)[0]}


@dataclass(kw_only=True)
class NXFlowMod(NXMessage):
    """NXT_FLOW_MOD (``struct nx_flow_mod``, 32 bytes, then nx_match padded to 8,
    then OF1.0/Nicira actions).  ``command`` is the raw 16-bit field (with the
    flow_mod_table_id extension its high byte is the table); ``cookie`` is the new
    cookie, ``match_cookie``/``match_cookie_mask`` come from NXM_NX_COOKIE[_W]."""

    cookie: int = 0
    command: int = 0
    idle_timeout: int = 0
    hard_timeout: int = 0
    priority: int = 0x8000
    buffer_id: int = 0xFFFFFFFF
    out_port: int = 0xFFFF
    flags: int = 0
    match: oxm.Match = field(default_factory=oxm.Match)
    match_cookie: int = 0
    match_cookie_mask: int = 0
    actions: list[Action] = field(default_factory=list)
    subtype: ClassVar[int] = NXT_FLOW_MOD
    _S: ClassVar[struct.Struct] = struct.Struct("!QHHHHIHHH6x")

    def _encode_nx(self) -> bytes:
        nxm = encode_nx_match(self.match, self.match_cookie, self.match_cookie_mask)
        return (self._S.pack(self.cookie, self.command, self.idle_timeout,
                             self.hard_timeout, self.priority, self.buffer_id,
                             self.out_port, self.flags, len(nxm))
                + _pad8(nxm) + encode_actions(OFP10, self.actions))

    @classmethod
    def _decode_nx(cls, version: int, body: bytes) -> dict[str, Any]:
        if len(body) < cls._S.size:
            raise bad_len("nx_flow_mod too short")
        (cookie, command, idle, hard, priority, buffer_id, out_port, flags,
         match_len) = cls._S.unpack_from(body)
        match, mc, mcm, n = decode_nx_match(body, cls._S.size, match_len)
        return dict(cookie=cookie, command=command, idle_timeout=idle, hard_timeout=hard,
                    priority=priority, buffer_id=buffer_id, out_port=out_port,
                    flags=flags, match=match, match_cookie=mc, match_cookie_mask=mcm,
                    actions=decode_actions(OFP10, body, cls._S.size + n))


@dataclass(kw_only=True)
class NXFlowRemoved(NXMessage):
    """NXT_FLOW_REMOVED (``struct nx_flow_removed``, 40 bytes + nx_match); the
    table_id byte is the flow's table plus one (0 = unknown)."""

    cookie: int = 0
    priority: int = 0
    reason: int = 0
    table_id: int = 0
    duration_sec: int = 0
    duration_nsec: int = 0
    idle_timeout: int = 0
    packet_count: int = 0
    byte_count: int = 0
    match: oxm.Match = field(default_factory=oxm.Match)
    subtype: ClassVar[int] = NXT_FLOW_REMOVED
    _S: ClassVar[struct.Struct] = struct.Struct("!QHBBIIHHQQ")

    def _encode_nx(self) -> bytes:
        nxm = oxm.encode_nxm(self.match)
        return self._S.pack(self.cookie, self.priority, self.reason, self.table_id,
                            self.duration_sec, self.duration_nsec, self.idle_timeout,
                            len(nxm), self.packet_count, self.byte_count) + _pad8(nxm)

    @classmethod
    def _decode_nx(cls, version: int, body: bytes) -> dict[str, Any]:
        if len(body) < cls._S.size:
            raise bad_len("nx_flow_removed too short")
        (cookie, priority, reason, table_id, sec, nsec, idle, match_len, packets,
         nbytes) = cls._S.unpack_from(body)
        match, _c, _cm, n = decode_nx_match(body, cls._S.size, match_len)
        if cls._S.size + n != len(body):
            raise bad_len("nx_flow_removed length")
        return dict(cookie=cookie, priority=priority, reason=reason, table_id=table_id,
                    duration_sec=sec, duration_nsec=nsec, idle_timeout=idle,
                    packet_count=packets, byte_count=nbytes, match=match)


# --- NXST statistics (OFPST_VENDOR) --------------------------------------------------


@dataclass(kw_only=True)
class NXStatsRequest(m.StatsRequest10):
    """OFPST_VENDOR request with vendor 0x2320 (``struct nicira10_stats_msg``)."""

    mp_type: ClassVar[int] = ST10.OFPST_VENDOR
    subtype: ClassVar[int]

    def _encode_nxst(self) -> bytes:
        return b""

    @classmethod
    def _decode_nxst(cls, body: bytes) -> dict[str, Any]:
        if body:
            raise bad_len(f"{cls.__name__} has no body")
        return {}

    def _encode_mp(self) -> bytes:
        return _NXST_HDR.pack(NX_VENDOR_ID, self.subtype) + self._encode_nxst()

    @classmethod
    def from_body(cls, version: int, xid: int, flags: int, body: bytes) -> Self:
        """Builds the message from the bytes after the subtype and padding."""
        return cls(version=version, xid=xid, flags=flags, **cls._decode_nxst(body))


@dataclass(kw_only=True)
class NXStatsReply(m.StatsReply10):
    """OFPST_VENDOR reply with vendor 0x2320."""

    mp_type: ClassVar[int] = ST10.OFPST_VENDOR
    subtype: ClassVar[int]

    def _encode_nxst(self) -> bytes:
        return b""

    def _encode_mp(self) -> bytes:
        return _NXST_HDR.pack(NX_VENDOR_ID, self.subtype) + self._encode_nxst()

    @classmethod
    def decode_reply(cls, data: bytes) -> Self:
        """Decodes a whole NXST reply message (for tests and clients)."""
        version, _t, _l, xid = struct.unpack_from("!BBHI", data)
        _st, flags, vendor, subtype = struct.unpack_from("!HHII", data, 8)
        if vendor != NX_VENDOR_ID or subtype != cls.subtype:
            raise _bad_subtype(f"not {cls.__name__}")
        return cls(version=version, xid=xid, flags=flags, **cls._decode_nxst(data[24:]))

    @classmethod
    def _decode_nxst(cls, body: bytes) -> dict[str, Any]:
        raise NotImplementedError


@dataclass(kw_only=True)
class NXFlowStatsRequest(NXStatsRequest):
    """NXST_FLOW request (``struct nx_flow_stats_request`` + nx_match)."""

    out_port: int = 0xFFFF
    table_id: int = 0xFF
    match: oxm.Match = field(default_factory=oxm.Match)
    cookie: int = 0
    cookie_mask: int = 0
    subtype: ClassVar[int] = NXST_FLOW
    _S: ClassVar[struct.Struct] = struct.Struct("!HHB3x")

    def _encode_nxst(self) -> bytes:
        nxm = encode_nx_match(self.match, self.cookie, self.cookie_mask)
        return self._S.pack(self.out_port, len(nxm), self.table_id) + _pad8(nxm)

    @classmethod
    def _decode_nxst(cls, body: bytes) -> dict[str, Any]:
        if len(body) < cls._S.size:
            raise bad_len("nx_flow_stats_request too short")
        out_port, match_len, table_id = cls._S.unpack_from(body)
        match, cookie, cookie_mask, n = decode_nx_match(body, cls._S.size, match_len)
        if cls._S.size + n != len(body):
            raise bad_len("nx_flow_stats_request length")
        return dict(out_port=out_port, table_id=table_id, match=match, cookie=cookie,
                    cookie_mask=cookie_mask)


@dataclass(kw_only=True)
class NXAggregateStatsRequest(NXFlowStatsRequest):
    """NXST_AGGREGATE request (``struct nx_aggregate_stats_request``, same layout)."""

    subtype: ClassVar[int] = NXST_AGGREGATE


@dataclass
class NXFlowStats:
    """``struct nx_flow_stats`` (48 bytes) + nx_match + actions; ``idle_age`` and
    ``hard_age`` are seconds plus one (0 = unknown)."""

    table_id: int = 0
    duration_sec: int = 0
    duration_nsec: int = 0
    priority: int = 0
    idle_timeout: int = 0
    hard_timeout: int = 0
    idle_age: int = 0
    hard_age: int = 0
    cookie: int = 0
    packet_count: int = 0
    byte_count: int = 0
    match: oxm.Match = field(default_factory=oxm.Match)
    actions: list[Action] = field(default_factory=list)
    _S: ClassVar[struct.Struct] = struct.Struct("!HBxIIHHHHHHQQQ")

    def encode(self) -> bytes:
        raw = oxm.encode_nxm(self.match)
        nxm, match_len = _pad8(raw), len(raw)
        acts = encode_actions(OFP10, self.actions)
        length = self._S.size + len(nxm) + len(acts)
        return self._S.pack(length, self.table_id, self.duration_sec, self.duration_nsec,
                            self.priority, self.idle_timeout, self.hard_timeout,
                            match_len, self.idle_age, self.hard_age, self.cookie,
                            self.packet_count, self.byte_count) + nxm + acts

    @classmethod
    def decode(cls, data: bytes, offset: int = 0) -> tuple[NXFlowStats, int]:
        if offset + cls._S.size > len(data):
            raise bad_len("nx_flow_stats truncated")
        (length, table_id, sec, nsec, priority, idle, hard, match_len, idle_age, hard_age,
         cookie, packets, nbytes) = cls._S.unpack_from(data, offset)
        if length < cls._S.size or offset + length > len(data):
            raise bad_len("bad nx_flow_stats length")
        entry = data[:offset + length]
        match, _c, _cm, n = decode_nx_match(entry, offset + cls._S.size, match_len)
        p = offset + cls._S.size + n
        acts = decode_actions(OFP10, entry, p, offset + length - p)
        return cls(table_id, sec, nsec, priority, idle, hard, idle_age, hard_age, cookie,
                   packets, nbytes, match, acts), offset + length


@dataclass(kw_only=True)
class NXFlowStatsReply(NXStatsReply):
    """NXST_FLOW reply: a list of :class:`NXFlowStats`."""

    body: list[NXFlowStats] = field(default_factory=list)
    subtype: ClassVar[int] = NXST_FLOW

    def _encode_nxst(self) -> bytes:
        return b"".join(e.encode() for e in self.body)

    @classmethod
    def _decode_nxst(cls, body: bytes) -> dict[str, Any]:
        out = []
        p = 0
        while p < len(body):
            e, p = NXFlowStats.decode(body, p)
            out.append(e)
        return {"body": out}


@dataclass(kw_only=True)
class NXAggregateStatsReply(NXStatsReply):
    """NXST_AGGREGATE reply: ``struct ofp_aggregate_stats_reply`` (nicira-ext.h)."""

    packet_count: int = 0
    byte_count: int = 0
    flow_count: int = 0
    subtype: ClassVar[int] = NXST_AGGREGATE
    _S: ClassVar[struct.Struct] = struct.Struct("!QQI4x")

    def _encode_nxst(self) -> bytes:
        return self._S.pack(self.packet_count, self.byte_count, self.flow_count)

    @classmethod
    def _decode_nxst(cls, body: bytes) -> dict[str, Any]:
        if len(body) != cls._S.size:
            raise bad_len("nx aggregate reply length")
        p, b, f = cls._S.unpack(body)
        return dict(packet_count=p, byte_count=b, flow_count=f)


# --- upgrading registry messages -------------------------------------------------------

_NXT: dict[int, type[NXMessage]] = {
    c.subtype: c for c in (NXSetFlowFormat, NXSetPacketInFormat, NXFlowModTableId,
                           NXFlowMod, NXFlowRemoved)
}
_NXST: dict[int, type[NXStatsRequest]] = {
    c.subtype: c for c in (NXFlowStatsRequest, NXAggregateStatsRequest)
}


def decode_nicira(msg: m.Message) -> m.Message | None:
    """The NX message inside ``msg`` — an :class:`~ofproto.ofp.messages.Vendor10`,
    :class:`~ofproto.ofp.messages.Experimenter` or
    :class:`~ofproto.ofp.messages.VendorStatsRequest10` with vendor 0x2320 — or None
    when ``msg`` is not a Nicira message.  Raises OFPDecodeError
    (OFPBRC_BAD_EXP_TYPE / OFPBRC_BAD_SUBTYPE) for subtypes not modelled here and
    the usual length/match errors for malformed bodies."""
    if isinstance(msg, m.Vendor10):
        if msg.vendor != NX_VENDOR_ID:
            return None
        if len(msg.data) < 4:
            raise bad_len("nicira header too short")
        subtype, body = struct.unpack_from("!I", msg.data)[0], msg.data[4:]
    elif isinstance(msg, m.Experimenter):
        if msg.experimenter != NX_VENDOR_ID:
            return None
        subtype, body = msg.exp_type, msg.data
    elif isinstance(msg, m.VendorStatsRequest10):
        if msg.vendor != NX_VENDOR_ID:
            return None
        if len(msg.data) < 8:
            raise bad_len("nicira stats header too short")
        sub = struct.unpack_from("!I", msg.data)[0]
        scls = _NXST.get(sub)
        if scls is None:
            raise _bad_subtype(f"NXST subtype {sub} not supported")
        return scls.from_body(msg.version, msg.xid, msg.flags, msg.data[8:])
    else:
        return None
    cls = _NXT.get(subtype)
    if cls is None:
        raise _bad_subtype(f"NXT subtype {subtype} not supported")
    return cls.from_body(msg.version, msg.xid, body)
