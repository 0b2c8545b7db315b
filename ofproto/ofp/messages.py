"""OpenFlow messages: one class per message (per version family), decorator registry.

Spec: OpenFlow 1.3.5 section 7 / appendix A (message layouts), OpenFlow 1.0.0
section 5, OpenFlow 1.4.1/1.5.1 section 7 for the deltas that are modelled.

Relation to the other modules: the connection manager frames bytes with
:func:`split_messages`, turns each frame into an object with
:func:`Message.decode` (``decode_message``) and dispatches on the class; replies
are built as objects and sent with :meth:`Message.encode`.  The flow table
consumes :class:`FlowMod` (``match`` is an :class:`ofproto.ofp.oxm.Match`,
``instructions`` come from :mod:`ofproto.ofp.actions`).  Malformed input raises
:class:`ofproto.ofp.errors.OFPDecodeError`; messages whose type is unknown or not
modelled decode to :class:`Raw`, which keeps the bytes and names the error the
switch should answer with (:attr:`Raw.error`).

Naming: OpenFlow 1.3 classes have the plain spec name (``FlowMod``), OpenFlow
1.0 classes a ``10`` suffix (``FlowMod10``), 1.4/1.5-specific layouts a ``14``
or ``15`` suffix.  Where 1.4/1.5 did not change a layout the 1.3 class is
registered for those versions too.  The registry is :data:`MESSAGE_TYPES`,
keyed by ``(version, ofp_type, multipart_type or None)``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self, TypeVar

from . import oxm
from .actions import (
    Action,
    Instruction,
    decode_actions,
    decode_instructions,
    encode_actions,
    encode_instructions,
)
from .consts import OFP10, OFP13, OFP14, OFP15
from .consts import OFPBadRequestCode as BRC
from .consts import OFPErrorType as ET
from .consts import OFPMultipartType as MP
from .consts import OFPStatsType10 as ST10
from .consts import OFPType as T
from .consts import OFPType10 as T10
from .errors import bad_len
from .structs import Fixed, decode_list

__all__ = ["Message", "Raw", "MESSAGE_TYPES", "register", "decode_message", "split_messages"]

_HDR = struct.Struct("!BBHI")
_U16 = struct.Struct("!H")
_U32 = struct.Struct("!I")
_ALL_OXM_VERSIONS = (OFP13, OFP14, OFP15)

MESSAGE_TYPES: dict[tuple[int, int, int | None], type[Message]] = {}
"""The registry: (version, ofp_type, multipart type or None) -> class."""

_M = TypeVar("_M", bound="type[Message]")


def register(*versions: int) -> Any:
    """Class decorator: register a message class for ``versions`` (spec A.1 ofp_type).

    Multipart classes register under ``(version, type, mp_type)``.
    """

    def deco(cls: _M) -> _M:
        mp = getattr(cls, "mp_type", None)
        for v in versions:
            key = (int(v), int(cls.msg_type), None if mp is None else int(mp))
            assert key not in MESSAGE_TYPES, (key, cls, MESSAGE_TYPES.get(key))
            MESSAGE_TYPES[key] = cls
        return cls

    return deco


@dataclass(kw_only=True)
class Message:
    """Base of every message (spec 1.3.5 A.1 ``ofp_header``)."""

    version: int = OFP13
    xid: int = 0
    msg_type: ClassVar[int]
    # Whether the body starts with a multipart header naming the subclass to decode
    # (a class attribute: cheaper per message than an issubclass test).
    _multipart: ClassVar[bool] = False

    def _encode_body(self) -> bytes:
        return b""

    @classmethod
    def _decode_body(cls, version: int, xid: int, body: bytes) -> Self:
        if body:
            raise bad_len(f"{cls.__name__} has no body")
        return cls(version=version, xid=xid)

    def encode(self) -> bytes:
        """Serialise the whole message including the 8-byte header."""
        body = self._encode_body()
        return _HDR.pack(self.version, self.msg_type, 8 + len(body), self.xid) + body

    @staticmethod
    def decode(data: bytes | memoryview) -> Message:
        """Decode exactly one message (see :func:`decode_message`)."""
        return decode_message(data)


@dataclass(kw_only=True)
class Raw(Message):
    """A message we do not model: ``data`` is the whole message as received.

    ``error`` is the (type, code) the switch should answer with:
    OFPBRC_BAD_TYPE, OFPBRC_BAD_MULTIPART or OFPBRC_BAD_VERSION.
    """

    data: bytes = b""
    raw_type: int = 0
    error: tuple[int, int] = (ET.OFPET_BAD_REQUEST, BRC.OFPBRC_BAD_TYPE)
    msg_type: ClassVar[int] = -1

    def encode(self) -> bytes:
        return self.data


def split_messages(buffer: bytes | bytearray | memoryview) -> tuple[list[bytes], bytes]:
    """Split a stream buffer into whole messages using ofp_header.length (spec A.1).

    Returns ``(messages, rest)``; ``rest`` is an incomplete tail to keep.  A
    length field below 8 raises OFPDecodeError(OFPBRC_BAD_LEN) since the
    stream cannot be re-synchronised.
    """
    out = []
    p = 0
    n = len(buffer)
    while n - p >= 8:
        length = _U16.unpack_from(buffer, p + 2)[0]
        if length < 8:
            raise bad_len(f"ofp_header.length {length} < 8")
        if n - p < length:
            break
        out.append(bytes(buffer[p:p + length]))
        p += length
    return out, bytes(buffer[p:])


_KNOWN_VERSIONS = frozenset(int(v) for v in (OFP10, OFP13, OFP14, OFP15))


def decode_message(data: bytes | memoryview) -> Message:
    """Decode one complete message (header + body) through :data:`MESSAGE_TYPES`.

    Raises OFPDecodeError: OFPBRC_BAD_LEN if the buffer is shorter than the
    header or the length field disagrees with the buffer; body errors as
    raised by the message class.  Unknown (version, type[, multipart]) give
    :class:`Raw` (Hello is decoded for any version, as version negotiation needs).
    """
    data = bytes(data)
    if len(data) < 8:
        raise bad_len("message shorter than ofp_header")
    version, mtype, length, xid = _HDR.unpack_from(data)
    if length != len(data):
        raise bad_len(f"ofp_header.length {length} != {len(data)} bytes")
    if version not in _KNOWN_VERSIONS:
        if mtype == 0:
            return Hello._decode_body(version, xid, data[8:])
        return Raw(version=version, xid=xid, data=data, raw_type=mtype,
                   error=(ET.OFPET_BAD_REQUEST, BRC.OFPBRC_BAD_VERSION))
    cls = MESSAGE_TYPES.get((version, mtype, None))
    if cls is None:
        return Raw(version=version, xid=xid, data=data, raw_type=mtype)
    if cls._multipart:
        if len(data) < 8 + cls._MP.size:
            raise bad_len("multipart header truncated")
        mp_type = _U16.unpack_from(data, 8)[0]
        sub = MESSAGE_TYPES.get((version, mtype, mp_type))
        if sub is None:
            return Raw(version=version, xid=xid, data=data, raw_type=mtype,
                       error=(ET.OFPET_BAD_REQUEST, BRC.OFPBRC_BAD_MULTIPART))
        return sub._decode_body(version, xid, data[8:])
    return cls._decode_body(version, xid, data[8:])


# --- fixed-layout messages -------------------------------------------------------


@dataclass(kw_only=True)
class _FixedMessage(Message, Fixed):
    """A message whose body is one fixed struct (length must match exactly)."""

    def _encode_body(self) -> bytes:
        return self._pack_fixed()

    @classmethod
    def _decode_body(cls, version: int, xid: int, body: bytes) -> Self:
        if len(body) != cls._S.size:
            raise bad_len(f"{cls.__name__}: body {len(body)} != {cls._S.size}")
        return cls(version=version, xid=xid, **cls._unpack_fixed(body))


# --- Hello (spec 1.3.5 A.5.1) ------------------------------------------------------


@dataclass
class HelloElement:
    """One hello element; type 1 (OFPHET_VERSIONBITMAP) carries ``bitmaps``."""

    type: int = 1
    bitmaps: list[int] = field(default_factory=list)
    data: bytes = b""  # body of unknown element types

    def encode(self) -> bytes:
        body = b"".join(_U32.pack(b) for b in self.bitmaps) if self.type == 1 else self.data
        length = 4 + len(body)
        return struct.pack("!HH", self.type, length) + body + bytes(-length % 8)


@register(OFP10, OFP13, OFP14, OFP15)
@dataclass(kw_only=True)
class Hello(Message):
    """OFPT_HELLO (spec 1.3.5 A.5.1) with optional elements (version bitmap)."""

    elements: list[HelloElement] = field(default_factory=list)
    msg_type: ClassVar[int] = T.OFPT_HELLO

    @property
    def versions(self) -> set[int] | None:
        """Versions from the bitmap element, or None when there is none."""
        for e in self.elements:
            if e.type == 1:
                return {32 * i + b for i, w in enumerate(e.bitmaps) for b in range(32)
                        if w >> b & 1}
        return None

    @classmethod
    def with_versions(cls, versions: set[int], xid: int = 0) -> Hello:
        """Build a hello advertising ``versions`` (highest as header version)."""
        words = [0] * (max(versions) // 32 + 1)
        for v in versions:
            words[v // 32] |= 1 << (v % 32)
        return cls(version=max(versions), xid=xid, elements=[HelloElement(1, words)])

    def _encode_body(self) -> bytes:
        return b"".join(e.encode() for e in self.elements)

    @classmethod
    def _decode_body(cls, version: int, xid: int, body: bytes) -> Self:
        elems = []
        p = 0
        # Elements are only defined from 1.3 on; older/unknown tails are ignored per spec.
        while p + 4 <= len(body):
            etype, elen = struct.unpack_from("!HH", body, p)
            if elen < 4 or p + elen > len(body):
                raise bad_len("bad hello element length")
            payload = body[p + 4:p + elen]
            if etype == 1:
                if len(payload) % 4:
                    raise bad_len("version bitmap not a multiple of 4")
                elems.append(HelloElement(1, [w for (w,) in struct.iter_unpack("!I", payload)]))
            else:
                elems.append(HelloElement(etype, [], payload))
            p += (elen + 7) & ~7
        return cls(version=version, xid=xid, elements=elems)


# --- Error (spec 1.3.5 A.4.4) ------------------------------------------------------


@register(OFP10, OFP13, OFP14, OFP15)
@dataclass(kw_only=True)
class Error(Message):
    """OFPT_ERROR (spec 1.3.5 A.4.4), including OFPET_EXPERIMENTER errors.

    For type 0xFFFF ``code`` holds exp_type and ``experimenter`` is set.
    ``data`` is (usually) the start of the offending request.
    """

    type: int = 0
    code: int = 0
    data: bytes = b""
    experimenter: int | None = None
    msg_type: ClassVar[int] = T.OFPT_ERROR

    def _encode_body(self) -> bytes:
        if self.type == 0xFFFF and self.experimenter is not None:
            return struct.pack("!HHI", self.type, self.code, self.experimenter) + self.data
        return struct.pack("!HH", self.type, self.code) + self.data

    @classmethod
    def _decode_body(cls, version: int, xid: int, body: bytes) -> Self:
        if len(body) < 4:
            raise bad_len("error message too short")
        etype, code = struct.unpack_from("!HH", body)
        if etype == 0xFFFF and version != OFP10:
            if len(body) < 8:
                raise bad_len("experimenter error too short")
            return cls(version=version, xid=xid, type=etype, code=code,
                       experimenter=_U32.unpack_from(body, 4)[0], data=body[8:])
        return cls(version=version, xid=xid, type=etype, code=code, data=body[4:])


# --- Echo / Experimenter -----------------------------------------------------------


@register(OFP10, OFP13, OFP14, OFP15)
@dataclass(kw_only=True)
class EchoRequest(Message):
    """OFPT_ECHO_REQUEST (spec 1.3.5 A.5.2); arbitrary ``data``."""

    data: bytes = b""
    msg_type: ClassVar[int] = T.OFPT_ECHO_REQUEST

    def _encode_body(self) -> bytes:
        return self.data

    @classmethod
    def _decode_body(cls, version: int, xid: int, body: bytes) -> Self:
        return cls(version=version, xid=xid, data=body)


@register(OFP10, OFP13, OFP14, OFP15)
@dataclass(kw_only=True)
class EchoReply(EchoRequest):
    """OFPT_ECHO_REPLY (spec 1.3.5 A.5.3)."""

    msg_type: ClassVar[int] = T.OFPT_ECHO_REPLY


@register(OFP13, OFP14, OFP15)
@dataclass(kw_only=True)
class Experimenter(Message):
    """OFPT_EXPERIMENTER (spec 1.3.5 A.5.4): experimenter id, exp_type, data.

    Nicira NXT_* messages arrive here with experimenter 0x2320.
    """

    experimenter: int = 0
    exp_type: int = 0
    data: bytes = b""
    msg_type: ClassVar[int] = T.OFPT_EXPERIMENTER

    def _encode_body(self) -> bytes:
        return struct.pack("!II", self.experimenter, self.exp_type) + self.data

    @classmethod
    def _decode_body(cls, version: int, xid: int, body: bytes) -> Self:
        if len(body) < 8:
            raise bad_len("experimenter message too short")
        exp, etype = struct.unpack_from("!II", body)
        return cls(version=version, xid=xid, experimenter=exp, exp_type=etype, data=body[8:])


@register(OFP10)
@dataclass(kw_only=True)
class Vendor10(Message):
    """OFPT_VENDOR (spec 1.0.0 5.5.4): vendor id and data."""

    version: int = OFP10
    vendor: int = 0
    data: bytes = b""
    msg_type: ClassVar[int] = T10.OFPT_VENDOR

    def _encode_body(self) -> bytes:
        return _U32.pack(self.vendor) + self.data

    @classmethod
    def _decode_body(cls, version: int, xid: int, body: bytes) -> Self:
        if len(body) < 4:
            raise bad_len("vendor message too short")
        return cls(version=version, xid=xid, vendor=_U32.unpack_from(body)[0], data=body[4:])


# --- Features / config ---------------------------------------------------------------


@register(OFP10, OFP13, OFP14, OFP15)
@dataclass(kw_only=True)
class FeaturesRequest(Message):
    """OFPT_FEATURES_REQUEST (spec 1.3.5 A.3.1)."""

    msg_type: ClassVar[int] = T.OFPT_FEATURES_REQUEST


@register(OFP13, OFP14, OFP15)
@dataclass(kw_only=True)
class FeaturesReply(_FixedMessage):
    """OFPT_FEATURES_REPLY (spec 1.3.5 A.3.1); ports come from OFPMP_PORT_DESC."""

    datapath_id: int = 0
    n_buffers: int = 0
    n_tables: int = 0
    auxiliary_id: int = 0
    capabilities: int = 0
    reserved: int = 0
    msg_type: ClassVar[int] = T.OFPT_FEATURES_REPLY
    _S: ClassVar[struct.Struct] = struct.Struct("!QIBB2xII")
    _F: ClassVar[tuple[str, ...]] = ("datapath_id", "n_buffers", "n_tables", "auxiliary_id",
                                     "capabilities", "reserved")


@register(OFP10, OFP13, OFP14, OFP15)
@dataclass(kw_only=True)
class GetConfigRequest(Message):
    """OFPT_GET_CONFIG_REQUEST (spec 1.3.5 A.3.2)."""

    msg_type: ClassVar[int] = T.OFPT_GET_CONFIG_REQUEST


@register(OFP10, OFP13, OFP14, OFP15)
@dataclass(kw_only=True)
class GetConfigReply(_FixedMessage):
    """OFPT_GET_CONFIG_REPLY (spec 1.3.5 A.3.2): flags (OFPC_*) and miss_send_len."""

    flags: int = 0
    miss_send_len: int = 128
    msg_type: ClassVar[int] = T.OFPT_GET_CONFIG_REPLY
    _S: ClassVar[struct.Struct] = struct.Struct("!HH")
    _F: ClassVar[tuple[str, ...]] = ("flags", "miss_send_len")


@register(OFP10, OFP13, OFP14, OFP15)
@dataclass(kw_only=True)
class SetConfig(GetConfigReply):
    """OFPT_SET_CONFIG (spec 1.3.5 A.3.2)."""

    msg_type: ClassVar[int] = T.OFPT_SET_CONFIG


@register(OFP13, OFP14, OFP15)
@dataclass(kw_only=True)
class BarrierRequest(Message):
    """OFPT_BARRIER_REQUEST (spec 1.3.5 A.3.8)."""

    msg_type: ClassVar[int] = T.OFPT_BARRIER_REQUEST


@register(OFP13, OFP14, OFP15)
@dataclass(kw_only=True)
class BarrierReply(Message):
    """OFPT_BARRIER_REPLY (spec 1.3.5 A.3.8)."""

    msg_type: ClassVar[int] = T.OFPT_BARRIER_REPLY


@register(OFP10)
@dataclass(kw_only=True)
class BarrierRequest10(Message):
    """OFPT_BARRIER_REQUEST (spec 1.0.0 5.3.7)."""

    version: int = OFP10
    msg_type: ClassVar[int] = T10.OFPT_BARRIER_REQUEST


@register(OFP10)
@dataclass(kw_only=True)
class BarrierReply10(Message):
    """OFPT_BARRIER_REPLY (spec 1.0.0 5.3.7)."""

    version: int = OFP10
    msg_type: ClassVar[int] = T10.OFPT_BARRIER_REPLY


@register(OFP13, OFP14)
@dataclass(kw_only=True)
class RoleRequest(_FixedMessage):
    """OFPT_ROLE_REQUEST (spec 1.3.5 A.3.9): role (OFPCR_ROLE_*) and generation_id."""

    role: int = 0
    generation_id: int = 0
    msg_type: ClassVar[int] = T.OFPT_ROLE_REQUEST
    _S: ClassVar[struct.Struct] = struct.Struct("!I4xQ")
    _F: ClassVar[tuple[str, ...]] = ("role", "generation_id")


@register(OFP13, OFP14)
@dataclass(kw_only=True)
class RoleReply(RoleRequest):
    """OFPT_ROLE_REPLY (spec 1.3.5 A.3.9)."""

    msg_type: ClassVar[int] = T.OFPT_ROLE_REPLY


@register(OFP13)
@dataclass(kw_only=True)
class GetAsyncRequest(Message):
    """OFPT_GET_ASYNC_REQUEST (spec 1.3.5 A.3.10)."""

    msg_type: ClassVar[int] = T.OFPT_GET_ASYNC_REQUEST


@register(OFP13)
@dataclass(kw_only=True)
class GetAsyncReply(_FixedMessage):
    """OFPT_GET_ASYNC_REPLY (spec 1.3.5 A.3.10): [master, slave] masks."""

    packet_in_mask: tuple[int, int] = (0, 0)
    port_status_mask: tuple[int, int] = (0, 0)
    flow_removed_mask: tuple[int, int] = (0, 0)
    msg_type: ClassVar[int] = T.OFPT_GET_ASYNC_REPLY
    _S: ClassVar[struct.Struct] = struct.Struct("!6I")

    def _pack_fixed(self) -> bytes:
        return self._S.pack(*self.packet_in_mask, *self.port_status_mask,
                            *self.flow_removed_mask)

    @classmethod
    def _unpack_fixed(cls, data: bytes | memoryview, offset: int = 0) -> dict[str, Any]:
        v = cls._S.unpack_from(data, offset)
        return {"packet_in_mask": v[0:2], "port_status_mask": v[2:4],
                "flow_removed_mask": v[4:6]}


@register(OFP13)
@dataclass(kw_only=True)
class SetAsync(GetAsyncReply):
    """OFPT_SET_ASYNC (spec 1.3.5 A.3.10)."""

    msg_type: ClassVar[int] = T.OFPT_SET_ASYNC


@register(OFP13)
@dataclass(kw_only=True)
class TableMod(_FixedMessage):
    """OFPT_TABLE_MOD (spec 1.3.5 A.3.3)."""

    table_id: int = 0
    config: int = 0
    msg_type: ClassVar[int] = T.OFPT_TABLE_MOD
    _S: ClassVar[struct.Struct] = struct.Struct("!B3xI")
    _F: ClassVar[tuple[str, ...]] = ("table_id", "config")


@register(OFP13)
@dataclass(kw_only=True)
class PortMod(_FixedMessage):
    """OFPT_PORT_MOD (spec 1.3.5 A.3.4.3); ``hw_addr`` is a 48-bit int."""

    port_no: int = 0
    hw_addr: int = 0
    config: int = 0
    mask: int = 0
    advertise: int = 0
    msg_type: ClassVar[int] = T.OFPT_PORT_MOD
    _S: ClassVar[struct.Struct] = struct.Struct("!I4x6s2xIII4x")
    _F: ClassVar[tuple[str, ...]] = ("port_no", "hw_addr", "config", "mask", "advertise")
    _MAC: ClassVar[frozenset[str]] = frozenset({"hw_addr"})


@register(OFP13)
@dataclass(kw_only=True)
class QueueGetConfigRequest(_FixedMessage):
    """OFPT_QUEUE_GET_CONFIG_REQUEST (spec 1.3.5 A.3.6)."""

    port: int = 0
    msg_type: ClassVar[int] = T.OFPT_QUEUE_GET_CONFIG_REQUEST
    _S: ClassVar[struct.Struct] = struct.Struct("!I4x")
    _F: ClassVar[tuple[str, ...]] = ("port",)


@dataclass
class QueueProp:
    """A queue property (spec 1.3.5 A.2.2): ``property`` type and raw body after the pad."""

    property: int
    data: bytes = b""

    @property
    def rate(self) -> int:
        """min/max rate in 1/10 of a percent (OFPQT_MIN_RATE / OFPQT_MAX_RATE)."""
        return _U16.unpack_from(self.data)[0]

    def encode(self) -> bytes:
        return struct.pack("!HH4x", self.property, 8 + len(self.data)) + self.data

    @classmethod
    def decode(cls, data: bytes, offset: int) -> tuple[QueueProp, int]:
        if offset + 8 > len(data):
            raise bad_len("queue property truncated")
        ptype, plen = struct.unpack_from("!HH", data, offset)
        if plen < 8 or offset + plen > len(data):
            raise bad_len("bad queue property length")
        return cls(ptype, bytes(data[offset + 8:offset + plen])), offset + plen


@dataclass
class PacketQueue:
    """ofp_packet_queue (spec 1.3.5 A.2.2)."""

    queue_id: int
    port: int
    properties: list[QueueProp] = field(default_factory=list)
    _S: ClassVar[struct.Struct] = struct.Struct("!IIH6x")

    def encode(self) -> bytes:
        props = b"".join(p.encode() for p in self.properties)
        return self._S.pack(self.queue_id, self.port, 16 + len(props)) + props

    @classmethod
    def decode(cls, data: bytes, offset: int) -> tuple[PacketQueue, int]:
        if offset + 16 > len(data):
            raise bad_len("packet queue truncated")
        qid, port, qlen = cls._S.unpack_from(data, offset)
        if qlen < 16 or offset + qlen > len(data):
            raise bad_len("bad packet queue length")
        props = decode_list(QueueProp, data[:offset + qlen], offset + 16)
        return cls(qid, port, props), offset + qlen


@register(OFP13)
@dataclass(kw_only=True)
class QueueGetConfigReply(Message):
    """OFPT_QUEUE_GET_CONFIG_REPLY (spec 1.3.5 A.3.6)."""

    port: int = 0
    queues: list[PacketQueue] = field(default_factory=list)
    msg_type: ClassVar[int] = T.OFPT_QUEUE_GET_CONFIG_REPLY

    def _encode_body(self) -> bytes:
        return struct.pack("!I4x", self.port) + b"".join(q.encode() for q in self.queues)

    @classmethod
    def _decode_body(cls, version: int, xid: int, body: bytes) -> Self:
        if len(body) < 8:
            raise bad_len("queue config reply too short")
        return cls(version=version, xid=xid, port=_U32.unpack_from(body)[0],
                   queues=decode_list(PacketQueue, body, 8))


# --- ports ----------------------------------------------------------------------------


@dataclass
class Port(Fixed):
    """ofp_port for OpenFlow 1.1-1.3 (spec 1.3.5 A.2.1), 64 bytes."""

    port_no: int = 0
    hw_addr: int = 0
    name: str = ""
    config: int = 0
    state: int = 0
    curr: int = 0
    advertised: int = 0
    supported: int = 0
    peer: int = 0
    curr_speed: int = 0
    max_speed: int = 0
    _S: ClassVar[struct.Struct] = struct.Struct("!I4x6s2x16s8I")
    _F: ClassVar[tuple[str, ...]] = ("port_no", "hw_addr", "name", "config", "state", "curr",
                                     "advertised", "supported", "peer", "curr_speed",
                                     "max_speed")
    _MAC: ClassVar[frozenset[str]] = frozenset({"hw_addr"})
    _STR: ClassVar[frozenset[str]] = frozenset({"name"})



@dataclass
class PhyPort10(Fixed):
    """ofp_phy_port for OpenFlow 1.0 (spec 1.0.0 5.2.1), 48 bytes; 16-bit port_no."""

    port_no: int = 0
    hw_addr: int = 0
    name: str = ""
    config: int = 0
    state: int = 0
    curr: int = 0
    advertised: int = 0
    supported: int = 0
    peer: int = 0
    _S: ClassVar[struct.Struct] = struct.Struct("!H6s16s6I")
    _F: ClassVar[tuple[str, ...]] = ("port_no", "hw_addr", "name", "config", "state", "curr",
                                     "advertised", "supported", "peer")
    _MAC: ClassVar[frozenset[str]] = frozenset({"hw_addr"})
    _STR: ClassVar[frozenset[str]] = frozenset({"name"})



@register(OFP13)
@dataclass(kw_only=True)
class PortStatus(Message):
    """OFPT_PORT_STATUS (spec 1.3.5 A.4.3)."""

    reason: int = 0
    desc: Port = field(default_factory=Port)
    msg_type: ClassVar[int] = T.OFPT_PORT_STATUS

    def _encode_body(self) -> bytes:
        return struct.pack("!B7x", self.reason) + self.desc.encode()

    @classmethod
    def _decode_body(cls, version: int, xid: int, body: bytes) -> Self:
        if len(body) < 8:
            raise bad_len("port status too short")
        desc, end = Port.decode(body, 8)
        if end != len(body):
            raise bad_len("port status length")
        return cls(version=version, xid=xid, reason=body[0], desc=desc)


@register(OFP10)
@dataclass(kw_only=True)
class PortStatus10(Message):
    """OFPT_PORT_STATUS (spec 1.0.0 5.4.3)."""

    version: int = OFP10
    reason: int = 0
    desc: PhyPort10 = field(default_factory=PhyPort10)
    msg_type: ClassVar[int] = T10.OFPT_PORT_STATUS

    def _encode_body(self) -> bytes:
        return struct.pack("!B7x", self.reason) + self.desc.encode()

    @classmethod
    def _decode_body(cls, version: int, xid: int, body: bytes) -> Self:
        if len(body) != 56:
            raise bad_len("port status length")
        return cls(version=version, xid=xid, reason=body[0],
                   desc=PhyPort10.decode_fixed(body, 8)[0])


# --- PacketIn / PacketOut ------------------------------------------------------------


@register(OFP13, OFP14, OFP15)
@dataclass(kw_only=True)
class PacketIn(Message):
    """OFPT_PACKET_IN (spec 1.3.5 A.4.1); same layout in 1.4 and 1.5."""

    buffer_id: int = 0xFFFFFFFF
    total_len: int = 0
    reason: int = 0
    table_id: int = 0
    cookie: int = 0
    match: oxm.Match = field(default_factory=oxm.Match)
    data: bytes = b""
    msg_type: ClassVar[int] = T.OFPT_PACKET_IN
    _S: ClassVar[struct.Struct] = struct.Struct("!IHBBQ")

    def _encode_body(self) -> bytes:
        return (self._S.pack(self.buffer_id, self.total_len, self.reason, self.table_id,
                             self.cookie) + oxm.encode_oxm(self.match) + bytes(2) + self.data)

    @classmethod
    def _decode_body(cls, version: int, xid: int, body: bytes) -> Self:
        if len(body) < 16:
            raise bad_len("packet_in too short")
        buffer_id, total_len, reason, table_id, cookie = cls._S.unpack_from(body)
        match, n = oxm.decode_oxm(body, 16)
        p = 16 + n + 2
        if p > len(body):
            raise bad_len("packet_in too short")
        return cls(version=version, xid=xid, buffer_id=buffer_id, total_len=total_len,
                   reason=reason, table_id=table_id, cookie=cookie, match=match, data=body[p:])


@register(OFP10)
@dataclass(kw_only=True)
class PacketIn10(_FixedMessage):
    """OFPT_PACKET_IN (spec 1.0.0 5.4.1); ``in_port`` is the 16-bit OF1.0 number."""

    version: int = OFP10
    buffer_id: int = 0xFFFFFFFF
    total_len: int = 0
    in_port: int = 0
    reason: int = 0
    data: bytes = b""
    msg_type: ClassVar[int] = T10.OFPT_PACKET_IN
    _S: ClassVar[struct.Struct] = struct.Struct("!IHHBx")
    _F: ClassVar[tuple[str, ...]] = ("buffer_id", "total_len", "in_port", "reason")

    def _encode_body(self) -> bytes:
        return self._pack_fixed() + self.data

    @classmethod
    def _decode_body(cls, version: int, xid: int, body: bytes) -> Self:
        return cls(version=version, xid=xid, data=body[10:], **cls._unpack_fixed(body))


@register(OFP13, OFP14)
@dataclass(kw_only=True)
class PacketOut(Message):
    """OFPT_PACKET_OUT (spec 1.3.5 A.3.7)."""

    buffer_id: int = 0xFFFFFFFF
    in_port: int = 0xFFFFFFFD
    actions: list[Action] = field(default_factory=list)
    data: bytes = b""
    msg_type: ClassVar[int] = T.OFPT_PACKET_OUT
    _S: ClassVar[struct.Struct] = struct.Struct("!IIH6x")

    def _encode_body(self) -> bytes:
        acts = encode_actions(self.version, self.actions)
        return self._S.pack(self.buffer_id, self.in_port, len(acts)) + acts + self.data

    @classmethod
    def _decode_body(cls, version: int, xid: int, body: bytes) -> Self:
        if len(body) < 16:
            raise bad_len("packet_out too short")
        buffer_id, in_port, alen = cls._S.unpack_from(body)
        if 16 + alen > len(body):
            raise bad_len("packet_out actions_len past the end")
        actions = decode_actions(version, body, 16, alen)
        return cls(version=version, xid=xid, buffer_id=buffer_id, in_port=in_port,
                   actions=actions, data=body[16 + alen:])


@register(OFP15)
@dataclass(kw_only=True)
class PacketOut15(Message):
    """OFPT_PACKET_OUT for OpenFlow 1.5 (spec 1.5.1 7.3.7): a match replaces in_port."""

    version: int = OFP15
    buffer_id: int = 0xFFFFFFFF
    match: oxm.Match = field(default_factory=oxm.Match)
    actions: list[Action] = field(default_factory=list)
    data: bytes = b""
    msg_type: ClassVar[int] = T.OFPT_PACKET_OUT
    _S: ClassVar[struct.Struct] = struct.Struct("!IH2x")

    def _encode_body(self) -> bytes:
        acts = encode_actions(self.version, self.actions)
        return (self._S.pack(self.buffer_id, len(acts)) + oxm.encode_oxm(self.match) + acts
                + self.data)

    @classmethod
    def _decode_body(cls, version: int, xid: int, body: bytes) -> Self:
        if len(body) < 8:
            raise bad_len("packet_out too short")
        buffer_id, alen = cls._S.unpack_from(body)
        match, n = oxm.decode_oxm(body, 8)
        p = 8 + n
        if p + alen > len(body):
            raise bad_len("packet_out actions_len past the end")
        actions = decode_actions(version, body, p, alen)
        return cls(version=version, xid=xid, buffer_id=buffer_id, match=match, actions=actions,
                   data=body[p + alen:])


@register(OFP10)
@dataclass(kw_only=True)
class PacketOut10(Message):
    """OFPT_PACKET_OUT (spec 1.0.0 5.3.6); ``in_port`` is the 16-bit OF1.0 number."""

    version: int = OFP10
    buffer_id: int = 0xFFFFFFFF
    in_port: int = 0xFFFF
    actions: list[Action] = field(default_factory=list)
    data: bytes = b""
    msg_type: ClassVar[int] = T10.OFPT_PACKET_OUT
    _S: ClassVar[struct.Struct] = struct.Struct("!IHH")

    def _encode_body(self) -> bytes:
        acts = encode_actions(OFP10, self.actions)
        return self._S.pack(self.buffer_id, self.in_port, len(acts)) + acts + self.data

    @classmethod
    def _decode_body(cls, version: int, xid: int, body: bytes) -> Self:
        if len(body) < 8:
            raise bad_len("packet_out too short")
        buffer_id, in_port, alen = cls._S.unpack_from(body)
        if 8 + alen > len(body):
            raise bad_len("packet_out actions_len past the end")
        return cls(version=version, xid=xid, buffer_id=buffer_id, in_port=in_port,
                   actions=decode_actions(OFP10, body, 8, alen), data=body[8 + alen:])


# --- FlowMod / FlowRemoved ------------------------------------------------------------


@register(OFP13, OFP14, OFP15)
@dataclass(kw_only=True)
class FlowMod(Message):
    """OFPT_FLOW_MOD (spec 1.3.5 A.3.4.1); ``importance`` exists from 1.4 (pad in 1.3)."""

    cookie: int = 0
    cookie_mask: int = 0
    table_id: int = 0
    command: int = 0
    idle_timeout: int = 0
    hard_timeout: int = 0
    priority: int = 0x8000
    buffer_id: int = 0xFFFFFFFF
    out_port: int = 0xFFFFFFFF
    out_group: int = 0xFFFFFFFF
    flags: int = 0
    importance: int = 0
    match: oxm.Match = field(default_factory=oxm.Match)
    instructions: list[Instruction] = field(default_factory=list)
    msg_type: ClassVar[int] = T.OFPT_FLOW_MOD
    _S: ClassVar[struct.Struct] = struct.Struct("!QQBBHHHIIIHH")

    def _encode_body(self) -> bytes:
        return (self._S.pack(self.cookie, self.cookie_mask, self.table_id, self.command,
                             self.idle_timeout, self.hard_timeout, self.priority,
                             self.buffer_id, self.out_port, self.out_group, self.flags,
                             self.importance)
                + oxm.encode_oxm(self.match)
                + encode_instructions(self.version, self.instructions))

    @classmethod
    def _decode_body(cls, version: int, xid: int, body: bytes) -> Self:
        if len(body) < cls._S.size:
            raise bad_len("flow_mod too short")
        (cookie, cookie_mask, table_id, command, idle, hard, priority, buffer_id, out_port,
         out_group, flags, importance) = cls._S.unpack_from(body)
        match, n = oxm.decode_oxm(body, cls._S.size)
        p = cls._S.size + n
        return cls(version=version, xid=xid, cookie=cookie, cookie_mask=cookie_mask,
                   table_id=table_id, command=command, idle_timeout=idle, hard_timeout=hard,
                   priority=priority, buffer_id=buffer_id, out_port=out_port,
                   out_group=out_group, flags=flags, importance=importance, match=match,
                   instructions=decode_instructions(version, body, p))


@register(OFP13, OFP14)
@dataclass(kw_only=True)
class FlowRemoved(Message):
    """OFPT_FLOW_REMOVED (spec 1.3.5 A.4.2)."""

    cookie: int = 0
    priority: int = 0
    reason: int = 0
    table_id: int = 0
    duration_sec: int = 0
    duration_nsec: int = 0
    idle_timeout: int = 0
    hard_timeout: int = 0
    packet_count: int = 0
    byte_count: int = 0
    match: oxm.Match = field(default_factory=oxm.Match)
    msg_type: ClassVar[int] = T.OFPT_FLOW_REMOVED
    _S: ClassVar[struct.Struct] = struct.Struct("!QHBBIIHHQQ")
    _F: ClassVar[tuple[str, ...]] = ("cookie", "priority", "reason", "table_id",
                                     "duration_sec", "duration_nsec", "idle_timeout",
                                     "hard_timeout", "packet_count", "byte_count")

    def _encode_body(self) -> bytes:
        return (self._S.pack(*(getattr(self, f) for f in self._F))
                + oxm.encode_oxm(self.match))

    @classmethod
    def _decode_body(cls, version: int, xid: int, body: bytes) -> Self:
        if len(body) < cls._S.size:
            raise bad_len("flow_removed too short")
        kw = dict(zip(cls._F, cls._S.unpack_from(body), strict=True))
        match, n = oxm.decode_oxm(body, cls._S.size)
        if cls._S.size + n != len(body):
            raise bad_len("flow_removed length")
        return cls(version=version, xid=xid, match=match, **kw)


# --- OpenFlow 1.0 match (spec 1.0.0 5.2.3) -------------------------------------------


@dataclass
class Match10(Fixed):
    """The OpenFlow 1.0 ``ofp_match`` (40 bytes), kept field by field for exactness.

    ``wildcards`` is OFPFW_*; MACs are 48-bit ints.  :meth:`to_match` converts to
    an :class:`ofproto.ofp.oxm.Match` for the flow table (wildcarded fields
    omitted; nw_src/nw_dst become masked entries).
    """

    wildcards: int = 0x3FFFFF
    in_port: int = 0
    dl_src: int = 0
    dl_dst: int = 0
    dl_vlan: int = 0
    dl_vlan_pcp: int = 0
    dl_type: int = 0
    nw_tos: int = 0
    nw_proto: int = 0
    nw_src: int = 0
    nw_dst: int = 0
    tp_src: int = 0
    tp_dst: int = 0
    _S: ClassVar[struct.Struct] = struct.Struct("!IH6s6sHBxHBB2xIIHH")
    _F: ClassVar[tuple[str, ...]] = ("wildcards", "in_port", "dl_src", "dl_dst", "dl_vlan",
                                     "dl_vlan_pcp", "dl_type", "nw_tos", "nw_proto", "nw_src",
                                     "nw_dst", "tp_src", "tp_dst")
    _MAC: ClassVar[frozenset[str]] = frozenset({"dl_src", "dl_dst"})

    def to_match(self) -> oxm.Match:
        """Convert to a :class:`Match` (OVS semantics for OF1.0 wildcards)."""
        from .consts import OFPFlowWildcards10 as W
        from .consts import port_from_of10

        w = self.wildcards
        m = oxm.Match()
        if not w & W.OFPFW_IN_PORT:
            m["in_port"] = port_from_of10(self.in_port)
        if not w & W.OFPFW_DL_SRC:
            m["eth_src"] = self.dl_src
        if not w & W.OFPFW_DL_DST:
            m["eth_dst"] = self.dl_dst
        if not w & W.OFPFW_DL_VLAN:
            if self.dl_vlan == 0xFFFF:
                m["vlan_vid"] = 0
            else:
                m["vlan_vid"] = 0x1000 | self.dl_vlan
        if not w & W.OFPFW_DL_VLAN_PCP and self.dl_vlan != 0xFFFF:
            m["vlan_pcp"] = self.dl_vlan_pcp
        if not w & W.OFPFW_DL_TYPE:
            m["eth_type"] = self.dl_type
        if not w & W.OFPFW_NW_TOS:
            m["ip_dscp"] = self.nw_tos >> 2
        if not w & W.OFPFW_NW_PROTO:
            m["ip_proto"] = self.nw_proto
        for name, val, shift in (("ip_src", self.nw_src, 8), ("ip_dst", self.nw_dst, 14)):
            bits = min((w >> shift) & 0x3F, 32)
            if bits < 32:
                mask = (0xFFFFFFFF << bits) & 0xFFFFFFFF
                m[name] = (val & mask, None if bits == 0 else mask)
        if not w & W.OFPFW_TP_SRC:
            m["tp_src" if self.nw_proto != 17 else "udp_src"] = self.tp_src
        if not w & W.OFPFW_TP_DST:
            m["tp_dst" if self.nw_proto != 17 else "udp_dst"] = self.tp_dst
        return m


@register(OFP10)
@dataclass(kw_only=True)
class FlowMod10(Message):
    """OFPT_FLOW_MOD (spec 1.0.0 5.3.3); ``out_port`` is the 16-bit OF1.0 number."""

    version: int = OFP10
    match: Match10 = field(default_factory=Match10)
    cookie: int = 0
    command: int = 0
    idle_timeout: int = 0
    hard_timeout: int = 0
    priority: int = 0x8000
    buffer_id: int = 0xFFFFFFFF
    out_port: int = 0xFFFF
    flags: int = 0
    actions: list[Action] = field(default_factory=list)
    msg_type: ClassVar[int] = T10.OFPT_FLOW_MOD
    _S: ClassVar[struct.Struct] = struct.Struct("!QHHHHIHH")
    _F: ClassVar[tuple[str, ...]] = ("cookie", "command", "idle_timeout", "hard_timeout",
                                     "priority", "buffer_id", "out_port", "flags")

    def _encode_body(self) -> bytes:
        return (self.match.encode() + self._S.pack(*(getattr(self, f) for f in self._F))
                + encode_actions(OFP10, self.actions))

    @classmethod
    def _decode_body(cls, version: int, xid: int, body: bytes) -> Self:
        if len(body) < 64:
            raise bad_len("flow_mod too short")
        match, p = Match10.decode_fixed(body, 0)
        kw = dict(zip(cls._F, cls._S.unpack_from(body, p), strict=True))
        return cls(version=version, xid=xid, match=match,
                   actions=decode_actions(OFP10, body, 64), **kw)


@register(OFP10)
@dataclass(kw_only=True)
class FlowRemoved10(Message):
    """OFPT_FLOW_REMOVED (spec 1.0.0 5.4.2)."""

    version: int = OFP10
    match: Match10 = field(default_factory=Match10)
    cookie: int = 0
    priority: int = 0
    reason: int = 0
    duration_sec: int = 0
    duration_nsec: int = 0
    idle_timeout: int = 0
    packet_count: int = 0
    byte_count: int = 0
    msg_type: ClassVar[int] = T10.OFPT_FLOW_REMOVED
    _S: ClassVar[struct.Struct] = struct.Struct("!QHBxIIH2xQQ")
    _F: ClassVar[tuple[str, ...]] = ("cookie", "priority", "reason", "duration_sec",
                                     "duration_nsec", "idle_timeout", "packet_count",
                                     "byte_count")

    def _encode_body(self) -> bytes:
        return self.match.encode() + self._S.pack(*(getattr(self, f) for f in self._F))

    @classmethod
    def _decode_body(cls, version: int, xid: int, body: bytes) -> Self:
        if len(body) != 40 + cls._S.size:
            raise bad_len("flow_removed length")
        match, p = Match10.decode_fixed(body, 0)
        kw = dict(zip(cls._F, cls._S.unpack_from(body, p), strict=True))
        return cls(version=version, xid=xid, match=match, **kw)


@register(OFP10)
@dataclass(kw_only=True)
class FeaturesReply10(Message):
    """OFPT_FEATURES_REPLY (spec 1.0.0 5.3.1) with the port list."""

    version: int = OFP10
    datapath_id: int = 0
    n_buffers: int = 0
    n_tables: int = 0
    capabilities: int = 0
    actions: int = 0
    ports: list[PhyPort10] = field(default_factory=list)
    msg_type: ClassVar[int] = T10.OFPT_FEATURES_REPLY
    _S: ClassVar[struct.Struct] = struct.Struct("!QIB3xII")

    def _encode_body(self) -> bytes:
        return (self._S.pack(self.datapath_id, self.n_buffers, self.n_tables,
                             self.capabilities, self.actions)
                + b"".join(p.encode() for p in self.ports))

    @classmethod
    def _decode_body(cls, version: int, xid: int, body: bytes) -> Self:
        if len(body) < 24 or (len(body) - 24) % 48:
            raise bad_len("features reply length")
        dpid, nbuf, ntab, caps, acts = cls._S.unpack_from(body)
        return cls(version=version, xid=xid, datapath_id=dpid, n_buffers=nbuf, n_tables=ntab,
                   capabilities=caps, actions=acts, ports=decode_list(PhyPort10, body, 24))


@register(OFP10)
@dataclass(kw_only=True)
class PortMod10(_FixedMessage):
    """OFPT_PORT_MOD (spec 1.0.0 5.3.3)."""

    version: int = OFP10
    port_no: int = 0
    hw_addr: int = 0
    config: int = 0
    mask: int = 0
    advertise: int = 0
    msg_type: ClassVar[int] = T10.OFPT_PORT_MOD
    _S: ClassVar[struct.Struct] = struct.Struct("!H6sIII4x")
    _F: ClassVar[tuple[str, ...]] = ("port_no", "hw_addr", "config", "mask", "advertise")
    _MAC: ClassVar[frozenset[str]] = frozenset({"hw_addr"})


# --- GroupMod / MeterMod ----------------------------------------------------------


@dataclass
class Bucket:
    """ofp_bucket (spec 1.3.5 A.3.4.2)."""

    weight: int = 0
    watch_port: int = 0xFFFFFFFF
    watch_group: int = 0xFFFFFFFF
    actions: list[Action] = field(default_factory=list)
    _S: ClassVar[struct.Struct] = struct.Struct("!HHII4x")

    def encode(self, version: int = OFP13) -> bytes:
        acts = encode_actions(version, self.actions)
        return self._S.pack(16 + len(acts), self.weight, self.watch_port, self.watch_group) \
            + acts

    @classmethod
    def decode(cls, data: bytes, offset: int, version: int = OFP13) -> tuple[Bucket, int]:
        if offset + 16 > len(data):
            raise bad_len("bucket truncated")
        blen, weight, wp, wg = cls._S.unpack_from(data, offset)
        if blen < 16 or offset + blen > len(data):
            raise bad_len("bad bucket length")
        acts = decode_actions(version, data, offset + 16, blen - 16)
        return cls(weight, wp, wg, acts), offset + blen


def _decode_buckets(version: int, data: bytes, offset: int, end: int) -> list[Bucket]:
    out = []
    view = data[:end]
    while offset < end:
        b, offset = Bucket.decode(view, offset, version)
        out.append(b)
    return out


@register(OFP13, OFP14)
@dataclass(kw_only=True)
class GroupMod(Message):
    """OFPT_GROUP_MOD (spec 1.3.5 A.3.4.2)."""

    command: int = 0
    type: int = 0
    group_id: int = 0
    buckets: list[Bucket] = field(default_factory=list)
    msg_type: ClassVar[int] = T.OFPT_GROUP_MOD
    _S: ClassVar[struct.Struct] = struct.Struct("!HBxI")

    def _encode_body(self) -> bytes:
        return self._S.pack(self.command, self.type, self.group_id) + b"".join(
            b.encode(self.version) for b in self.buckets)

    @classmethod
    def _decode_body(cls, version: int, xid: int, body: bytes) -> Self:
        if len(body) < 8:
            raise bad_len("group_mod too short")
        cmd, gtype, gid = cls._S.unpack_from(body)
        return cls(version=version, xid=xid, command=cmd, type=gtype, group_id=gid,
                   buckets=_decode_buckets(version, body, 8, len(body)))


@dataclass
class MeterBand:
    """ofp_meter_band_header + body (spec 1.3.5 A.3.4.4).

    ``prec_level`` is used by OFPMBT_DSCP_REMARK, ``experimenter`` by
    OFPMBT_EXPERIMENTER; ``data`` keeps any trailing experimenter bytes.
    """

    type: int = 1
    rate: int = 0
    burst_size: int = 0
    prec_level: int = 0
    experimenter: int = 0
    data: bytes = b""
    _S: ClassVar[struct.Struct] = struct.Struct("!HHII")

    def encode(self) -> bytes:
        if self.type == 2:
            tail = struct.pack("!B3x", self.prec_level)
        elif self.type == 0xFFFF:
            tail = _U32.pack(self.experimenter) + self.data
        else:
            tail = bytes(4)
        return self._S.pack(self.type, 12 + len(tail), self.rate, self.burst_size) + tail

    @classmethod
    def decode(cls, data: bytes, offset: int) -> tuple[MeterBand, int]:
        if offset + 16 > len(data):
            raise bad_len("meter band truncated")
        btype, blen, rate, burst = cls._S.unpack_from(data, offset)
        if blen < 16 or offset + blen > len(data):
            raise bad_len("bad meter band length")
        band = cls(btype, rate, burst)
        if btype == 2:
            band.prec_level = data[offset + 12]
        elif btype == 0xFFFF:
            band.experimenter = _U32.unpack_from(data, offset + 12)[0]
            band.data = bytes(data[offset + 16:offset + blen])
        return band, offset + blen


@register(OFP13, OFP14, OFP15)
@dataclass(kw_only=True)
class MeterMod(Message):
    """OFPT_METER_MOD (spec 1.3.5 A.3.4.4)."""

    command: int = 0
    flags: int = 0
    meter_id: int = 0
    bands: list[MeterBand] = field(default_factory=list)
    msg_type: ClassVar[int] = T.OFPT_METER_MOD
    _S: ClassVar[struct.Struct] = struct.Struct("!HHI")

    def _encode_body(self) -> bytes:
        return self._S.pack(self.command, self.flags, self.meter_id) + b"".join(
            b.encode() for b in self.bands)

    @classmethod
    def _decode_body(cls, version: int, xid: int, body: bytes) -> Self:
        if len(body) < 8:
            raise bad_len("meter_mod too short")
        cmd, flags, mid = cls._S.unpack_from(body)
        return cls(version=version, xid=xid, command=cmd, flags=flags, meter_id=mid,
                   bands=decode_list(MeterBand, body, 8))


# --- multipart (spec 1.3.5 A.3.5) / OF1.0 stats (spec 1.0.0 5.3.5) ---------------------


@dataclass(kw_only=True)
class _MultipartBase(Message):
    """Common multipart header: type, flags, pad (1.0: type, flags)."""

    flags: int = 0
    mp_type: ClassVar[int]
    _MP: ClassVar[struct.Struct] = struct.Struct("!HH4x")
    _multipart: ClassVar[bool] = True

    def _encode_mp(self) -> bytes:
        return b""

    @classmethod
    def _decode_mp(cls, version: int, body: bytes) -> dict[str, Any]:
        if body:
            raise bad_len(f"{cls.__name__} has no body")
        return {}

    def _encode_body(self) -> bytes:
        return self._MP.pack(self.mp_type, self.flags) + self._encode_mp()

    @classmethod
    def _decode_body(cls, version: int, xid: int, body: bytes) -> Self:
        if len(body) < cls._MP.size:
            raise bad_len("multipart header truncated")
        _, flags = struct.unpack_from("!HH", body)
        return cls(version=version, xid=xid, flags=flags,
                   **cls._decode_mp(version, body[cls._MP.size:]))


@register(OFP13, OFP14, OFP15)
@dataclass(kw_only=True)
class MultipartRequest(_MultipartBase):
    """OFPT_MULTIPART_REQUEST (spec 1.3.5 A.3.5); subclasses per multipart type."""

    msg_type: ClassVar[int] = T.OFPT_MULTIPART_REQUEST


@register(OFP13, OFP14, OFP15)
@dataclass(kw_only=True)
class MultipartReply(_MultipartBase):
    """OFPT_MULTIPART_REPLY (spec 1.3.5 A.3.5); subclasses per multipart type."""

    msg_type: ClassVar[int] = T.OFPT_MULTIPART_REPLY


@register(OFP10)
@dataclass(kw_only=True)
class StatsRequest10(_MultipartBase):
    """OFPT_STATS_REQUEST (spec 1.0.0 5.3.5); subclasses per stats type."""

    version: int = OFP10
    msg_type: ClassVar[int] = T10.OFPT_STATS_REQUEST
    _MP: ClassVar[struct.Struct] = struct.Struct("!HH")


@register(OFP10)
@dataclass(kw_only=True)
class StatsReply10(_MultipartBase):
    """OFPT_STATS_REPLY (spec 1.0.0 5.3.5); subclasses per stats type."""

    version: int = OFP10
    msg_type: ClassVar[int] = T10.OFPT_STATS_REPLY
    _MP: ClassVar[struct.Struct] = struct.Struct("!HH")


@dataclass(kw_only=True)
class _FixedMP:
    """Multipart body = one fixed struct (mixin used with Fixed)."""

    def _encode_mp(self) -> bytes:
        return self._pack_fixed()  # type: ignore[attr-defined]

    @classmethod
    def _decode_mp(cls, version: int, body: bytes) -> dict[str, Any]:
        if len(body) != cls._S.size:  # type: ignore[attr-defined]
            raise bad_len(f"{cls.__name__}: body length {len(body)}")
        return cls._unpack_fixed(body)  # type: ignore[attr-defined,no-any-return]


@dataclass(kw_only=True)
class _ListMP:
    """Multipart body = a list of entries of ``_ENTRY`` (each with encode/decode)."""

    body: list[Any] = field(default_factory=list)
    _ENTRY: ClassVar[Any]

    def _encode_mp(self) -> bytes:
        return b"".join(e.encode() for e in self.body)

    @classmethod
    def _decode_mp(cls, version: int, body: bytes) -> dict[str, Any]:
        return {"body": decode_list(cls._ENTRY, body)}


# Desc (spec 1.3.5 A.3.5.1; 1.0.0 5.3.5)


@register(OFP13, OFP14, OFP15)
@dataclass(kw_only=True)
class DescStatsRequest(MultipartRequest):
    """OFPMP_DESC request."""

    mp_type: ClassVar[int] = MP.OFPMP_DESC


@register(OFP13, OFP14, OFP15)
@dataclass(kw_only=True)
class DescStatsReply(_FixedMP, MultipartReply, Fixed):
    """OFPMP_DESC reply: manufacturer, hardware, software, serial, datapath descriptions."""

    mfr_desc: str = ""
    hw_desc: str = ""
    sw_desc: str = ""
    serial_num: str = ""
    dp_desc: str = ""
    mp_type: ClassVar[int] = MP.OFPMP_DESC
    _S: ClassVar[struct.Struct] = struct.Struct("!256s256s256s32s256s")
    _F: ClassVar[tuple[str, ...]] = ("mfr_desc", "hw_desc", "sw_desc", "serial_num", "dp_desc")
    _STR: ClassVar[frozenset[str]] = frozenset(_F)


@register(OFP10)
@dataclass(kw_only=True)
class DescStatsRequest10(StatsRequest10):
    """OFPST_DESC request (spec 1.0.0 5.3.5.1)."""

    mp_type: ClassVar[int] = ST10.OFPST_DESC


@register(OFP10)
@dataclass(kw_only=True)
class DescStatsReply10(_FixedMP, StatsReply10, Fixed):
    """OFPST_DESC reply (spec 1.0.0 5.3.5.1)."""

    mfr_desc: str = ""
    hw_desc: str = ""
    sw_desc: str = ""
    serial_num: str = ""
    dp_desc: str = ""
    mp_type: ClassVar[int] = ST10.OFPST_DESC
    _S: ClassVar[struct.Struct] = DescStatsReply._S
    _F: ClassVar[tuple[str, ...]] = DescStatsReply._F
    _STR: ClassVar[frozenset[str]] = DescStatsReply._STR


# Flow / aggregate (spec 1.3.5 A.3.5.2, A.3.5.3)


@register(OFP13, OFP14)
@dataclass(kw_only=True)
class FlowStatsRequest(MultipartRequest):
    """OFPMP_FLOW request: table_id, out_port, out_group, cookie/mask, match."""

    table_id: int = 0xFF
    out_port: int = 0xFFFFFFFF
    out_group: int = 0xFFFFFFFF
    cookie: int = 0
    cookie_mask: int = 0
    match: oxm.Match = field(default_factory=oxm.Match)
    mp_type: ClassVar[int] = MP.OFPMP_FLOW
    _S: ClassVar[struct.Struct] = struct.Struct("!B3xII4xQQ")

    def _encode_mp(self) -> bytes:
        return self._S.pack(self.table_id, self.out_port, self.out_group, self.cookie,
                            self.cookie_mask) + oxm.encode_oxm(self.match)

    @classmethod
    def _decode_mp(cls, version: int, body: bytes) -> dict[str, Any]:
        if len(body) < cls._S.size:
            raise bad_len("flow stats request too short")
        t, op, og, c, cm = cls._S.unpack_from(body)
        match, n = oxm.decode_oxm(body, cls._S.size)
        if cls._S.size + n != len(body):
            raise bad_len("flow stats request length")
        return dict(table_id=t, out_port=op, out_group=og, cookie=c, cookie_mask=cm,
                    match=match)


@register(OFP13, OFP14)
@dataclass(kw_only=True)
class AggregateStatsRequest(FlowStatsRequest):
    """OFPMP_AGGREGATE request (same body as the flow stats request)."""

    mp_type: ClassVar[int] = MP.OFPMP_AGGREGATE


@dataclass
class FlowStats:
    """ofp_flow_stats (spec 1.3.5 A.3.5.2); ``importance`` is 1.4+ (pad in 1.3)."""

    table_id: int = 0
    duration_sec: int = 0
    duration_nsec: int = 0
    priority: int = 0
    idle_timeout: int = 0
    hard_timeout: int = 0
    flags: int = 0
    importance: int = 0
    cookie: int = 0
    packet_count: int = 0
    byte_count: int = 0
    match: oxm.Match = field(default_factory=oxm.Match)
    instructions: list[Instruction] = field(default_factory=list)
    version: int = OFP13
    _S: ClassVar[struct.Struct] = struct.Struct("!HBxIIHHHHH2xQQQ")

    def encode(self) -> bytes:
        tail = oxm.encode_oxm(self.match) + encode_instructions(self.version, self.instructions)
        return self._S.pack(self._S.size + len(tail), self.table_id, self.duration_sec,
                            self.duration_nsec, self.priority, self.idle_timeout,
                            self.hard_timeout, self.flags, self.importance, self.cookie,
                            self.packet_count, self.byte_count) + tail

    @classmethod
    def decode(cls, data: bytes, offset: int, version: int = OFP13) -> tuple[FlowStats, int]:
        if offset + cls._S.size > len(data):
            raise bad_len("flow stats truncated")
        (length, table_id, dsec, dnsec, prio, idle, hard, flags, imp, cookie, pc,
         bc) = cls._S.unpack_from(data, offset)
        end = offset + length
        if length < cls._S.size or end > len(data):
            raise bad_len("bad flow stats length")
        view = data[:end]
        match, n = oxm.decode_oxm(view, offset + cls._S.size)
        ins = decode_instructions(version, view, offset + cls._S.size + n)
        return cls(table_id, dsec, dnsec, prio, idle, hard, flags, imp, cookie, pc, bc, match,
                   ins, version), end


@register(OFP13, OFP14)
@dataclass(kw_only=True)
class FlowStatsReply(MultipartReply):
    """OFPMP_FLOW reply: a list of :class:`FlowStats`."""

    body: list[FlowStats] = field(default_factory=list)
    mp_type: ClassVar[int] = MP.OFPMP_FLOW

    def _encode_mp(self) -> bytes:
        return b"".join(e.encode() for e in self.body)

    @classmethod
    def _decode_mp(cls, version: int, body: bytes) -> dict[str, Any]:
        out, p = [], 0
        while p < len(body):
            e, p = FlowStats.decode(body, p, version)
            out.append(e)
        return {"body": out}


@register(OFP13, OFP14)
@dataclass(kw_only=True)
class AggregateStatsReply(_FixedMP, MultipartReply, Fixed):
    """OFPMP_AGGREGATE reply (spec 1.3.5 A.3.5.3)."""

    packet_count: int = 0
    byte_count: int = 0
    flow_count: int = 0
    mp_type: ClassVar[int] = MP.OFPMP_AGGREGATE
    _S: ClassVar[struct.Struct] = struct.Struct("!QQI4x")
    _F: ClassVar[tuple[str, ...]] = ("packet_count", "byte_count", "flow_count")


# Table stats (spec 1.3.5 A.3.5.4)


@register(OFP13, OFP14, OFP15)
@dataclass(kw_only=True)
class TableStatsRequest(MultipartRequest):
    """OFPMP_TABLE request."""

    mp_type: ClassVar[int] = MP.OFPMP_TABLE


@dataclass
class TableStats(Fixed):
    """ofp_table_stats (spec 1.3.5 A.3.5.4)."""

    table_id: int = 0
    active_count: int = 0
    lookup_count: int = 0
    matched_count: int = 0
    _S: ClassVar[struct.Struct] = struct.Struct("!B3xIQQ")
    _F: ClassVar[tuple[str, ...]] = ("table_id", "active_count", "lookup_count",
                                     "matched_count")



@register(OFP13, OFP14, OFP15)
@dataclass(kw_only=True)
class TableStatsReply(_ListMP, MultipartReply):
    """OFPMP_TABLE reply: list of :class:`TableStats`."""

    mp_type: ClassVar[int] = MP.OFPMP_TABLE
    _ENTRY: ClassVar[Any] = TableStats


# Port stats (spec 1.3.5 A.3.5.6)


@register(OFP13)
@dataclass(kw_only=True)
class PortStatsRequest(_FixedMP, MultipartRequest, Fixed):
    """OFPMP_PORT_STATS request."""

    port_no: int = 0xFFFFFFFF
    mp_type: ClassVar[int] = MP.OFPMP_PORT_STATS
    _S: ClassVar[struct.Struct] = struct.Struct("!I4x")
    _F: ClassVar[tuple[str, ...]] = ("port_no",)


_PORT_COUNTERS = ("rx_packets", "tx_packets", "rx_bytes", "tx_bytes", "rx_dropped",
                  "tx_dropped", "rx_errors", "tx_errors", "rx_frame_err", "rx_over_err",
                  "rx_crc_err", "collisions")


@dataclass
class PortStats(Fixed):
    """ofp_port_stats (spec 1.3.5 A.3.5.6)."""

    port_no: int = 0
    rx_packets: int = 0
    tx_packets: int = 0
    rx_bytes: int = 0
    tx_bytes: int = 0
    rx_dropped: int = 0
    tx_dropped: int = 0
    rx_errors: int = 0
    tx_errors: int = 0
    rx_frame_err: int = 0
    rx_over_err: int = 0
    rx_crc_err: int = 0
    collisions: int = 0
    duration_sec: int = 0
    duration_nsec: int = 0
    _S: ClassVar[struct.Struct] = struct.Struct("!I4x12QII")
    _F: ClassVar[tuple[str, ...]] = ("port_no", *_PORT_COUNTERS, "duration_sec",
                                     "duration_nsec")



@register(OFP13)
@dataclass(kw_only=True)
class PortStatsReply(_ListMP, MultipartReply):
    """OFPMP_PORT_STATS reply: list of :class:`PortStats`."""

    mp_type: ClassVar[int] = MP.OFPMP_PORT_STATS
    _ENTRY: ClassVar[Any] = PortStats


# Port desc (spec 1.3.5 A.3.5.7)


@register(OFP13, OFP14)
@dataclass(kw_only=True)
class PortDescStatsRequest(MultipartRequest):
    """OFPMP_PORT_DESC request."""

    mp_type: ClassVar[int] = MP.OFPMP_PORT_DESC


@register(OFP13)
@dataclass(kw_only=True)
class PortDescStatsReply(_ListMP, MultipartReply):
    """OFPMP_PORT_DESC reply: list of :class:`Port`."""

    mp_type: ClassVar[int] = MP.OFPMP_PORT_DESC
    _ENTRY: ClassVar[Any] = Port


# Queue stats (spec 1.3.5 A.3.5.8)


@register(OFP13, OFP14, OFP15)
@dataclass(kw_only=True)
class QueueStatsRequest(_FixedMP, MultipartRequest, Fixed):
    """OFPMP_QUEUE request."""

    port_no: int = 0xFFFFFFFF
    queue_id: int = 0xFFFFFFFF
    mp_type: ClassVar[int] = MP.OFPMP_QUEUE
    _S: ClassVar[struct.Struct] = struct.Struct("!II")
    _F: ClassVar[tuple[str, ...]] = ("port_no", "queue_id")


@dataclass
class QueueStats(Fixed):
    """ofp_queue_stats (spec 1.3.5 A.3.5.8)."""

    port_no: int = 0
    queue_id: int = 0
    tx_bytes: int = 0
    tx_packets: int = 0
    tx_errors: int = 0
    duration_sec: int = 0
    duration_nsec: int = 0
    _S: ClassVar[struct.Struct] = struct.Struct("!IIQQQII")
    _F: ClassVar[tuple[str, ...]] = ("port_no", "queue_id", "tx_bytes", "tx_packets",
                                     "tx_errors", "duration_sec", "duration_nsec")



@register(OFP13)
@dataclass(kw_only=True)
class QueueStatsReply(_ListMP, MultipartReply):
    """OFPMP_QUEUE reply: list of :class:`QueueStats`."""

    mp_type: ClassVar[int] = MP.OFPMP_QUEUE
    _ENTRY: ClassVar[Any] = QueueStats


# Groups (spec 1.3.5 A.3.5.9 - A.3.5.11)


@register(OFP13, OFP14)
@dataclass(kw_only=True)
class GroupStatsRequest(_FixedMP, MultipartRequest, Fixed):
    """OFPMP_GROUP request."""

    group_id: int = 0xFFFFFFFC
    mp_type: ClassVar[int] = MP.OFPMP_GROUP
    _S: ClassVar[struct.Struct] = struct.Struct("!I4x")
    _F: ClassVar[tuple[str, ...]] = ("group_id",)


@dataclass
class GroupStats:
    """ofp_group_stats (spec 1.3.5 A.3.5.9); ``bucket_stats`` are (packets, bytes)."""

    group_id: int = 0
    ref_count: int = 0
    packet_count: int = 0
    byte_count: int = 0
    duration_sec: int = 0
    duration_nsec: int = 0
    bucket_stats: list[tuple[int, int]] = field(default_factory=list)
    _S: ClassVar[struct.Struct] = struct.Struct("!H2xII4xQQII")

    def encode(self) -> bytes:
        tail = b"".join(struct.pack("!QQ", *b) for b in self.bucket_stats)
        return self._S.pack(40 + len(tail), self.group_id, self.ref_count, self.packet_count,
                            self.byte_count, self.duration_sec, self.duration_nsec) + tail

    @classmethod
    def decode(cls, data: bytes, offset: int) -> tuple[GroupStats, int]:
        if offset + 40 > len(data):
            raise bad_len("group stats truncated")
        length, gid, ref, pc, bc, ds, dn = cls._S.unpack_from(data, offset)
        if length < 40 or (length - 40) % 16 or offset + length > len(data):
            raise bad_len("bad group stats length")
        bs = [struct.unpack_from("!QQ", data, p) for p in range(offset + 40, offset + length, 16)]
        return cls(gid, ref, pc, bc, ds, dn, bs), offset + length


@register(OFP13, OFP14)
@dataclass(kw_only=True)
class GroupStatsReply(_ListMP, MultipartReply):
    """OFPMP_GROUP reply: list of :class:`GroupStats`."""

    mp_type: ClassVar[int] = MP.OFPMP_GROUP
    _ENTRY: ClassVar[Any] = GroupStats


@register(OFP13, OFP14)
@dataclass(kw_only=True)
class GroupDescStatsRequest(MultipartRequest):
    """OFPMP_GROUP_DESC request."""

    mp_type: ClassVar[int] = MP.OFPMP_GROUP_DESC


@dataclass
class GroupDesc:
    """ofp_group_desc (spec 1.3.5 A.3.5.10)."""

    type: int = 0
    group_id: int = 0
    buckets: list[Bucket] = field(default_factory=list)
    version: int = OFP13
    _S: ClassVar[struct.Struct] = struct.Struct("!HBxI")

    def encode(self) -> bytes:
        tail = b"".join(b.encode(self.version) for b in self.buckets)
        return self._S.pack(8 + len(tail), self.type, self.group_id) + tail

    @classmethod
    def decode(cls, data: bytes, offset: int, version: int = OFP13) -> tuple[GroupDesc, int]:
        if offset + 8 > len(data):
            raise bad_len("group desc truncated")
        length, gtype, gid = cls._S.unpack_from(data, offset)
        if length < 8 or offset + length > len(data):
            raise bad_len("bad group desc length")
        return cls(gtype, gid, _decode_buckets(version, data, offset + 8, offset + length),
                   version), offset + length


@register(OFP13, OFP14)
@dataclass(kw_only=True)
class GroupDescStatsReply(MultipartReply):
    """OFPMP_GROUP_DESC reply: list of :class:`GroupDesc`."""

    body: list[GroupDesc] = field(default_factory=list)
    mp_type: ClassVar[int] = MP.OFPMP_GROUP_DESC

    def _encode_mp(self) -> bytes:
        return b"".join(e.encode() for e in self.body)

    @classmethod
    def _decode_mp(cls, version: int, body: bytes) -> dict[str, Any]:
        out, p = [], 0
        while p < len(body):
            e, p = GroupDesc.decode(body, p, version)
            out.append(e)
        return {"body": out}


@register(OFP13, OFP14, OFP15)
@dataclass(kw_only=True)
class GroupFeaturesStatsRequest(MultipartRequest):
    """OFPMP_GROUP_FEATURES request."""

    mp_type: ClassVar[int] = MP.OFPMP_GROUP_FEATURES


@register(OFP13, OFP14, OFP15)
@dataclass(kw_only=True)
class GroupFeaturesStatsReply(MultipartReply):
    """OFPMP_GROUP_FEATURES reply (spec 1.3.5 A.3.5.11): per-type max groups/actions."""

    types: int = 0
    capabilities: int = 0
    max_groups: tuple[int, int, int, int] = (0, 0, 0, 0)
    actions: tuple[int, int, int, int] = (0, 0, 0, 0)
    mp_type: ClassVar[int] = MP.OFPMP_GROUP_FEATURES
    _S: ClassVar[struct.Struct] = struct.Struct("!10I")

    def _encode_mp(self) -> bytes:
        return self._S.pack(self.types, self.capabilities, *self.max_groups, *self.actions)

    @classmethod
    def _decode_mp(cls, version: int, body: bytes) -> dict[str, Any]:
        if len(body) != 40:
            raise bad_len("group features length")
        v = cls._S.unpack(body)
        return dict(types=v[0], capabilities=v[1], max_groups=v[2:6], actions=v[6:10])


# Meters (spec 1.3.5 A.3.5.12 - A.3.5.14)


@register(OFP13, OFP14, OFP15)
@dataclass(kw_only=True)
class MeterStatsRequest(_FixedMP, MultipartRequest, Fixed):
    """OFPMP_METER request."""

    meter_id: int = 0xFFFFFFFF
    mp_type: ClassVar[int] = MP.OFPMP_METER
    _S: ClassVar[struct.Struct] = struct.Struct("!I4x")
    _F: ClassVar[tuple[str, ...]] = ("meter_id",)


@register(OFP13, OFP14, OFP15)
@dataclass(kw_only=True)
class MeterConfigStatsRequest(MeterStatsRequest):
    """OFPMP_METER_CONFIG request (OF1.5: OFPMP_METER_DESC)."""

    mp_type: ClassVar[int] = MP.OFPMP_METER_CONFIG


@dataclass
class MeterStats:
    """ofp_meter_stats (spec 1.3.5 A.3.5.12); ``band_stats`` are (packets, bytes)."""

    meter_id: int = 0
    flow_count: int = 0
    packet_in_count: int = 0
    byte_in_count: int = 0
    duration_sec: int = 0
    duration_nsec: int = 0
    band_stats: list[tuple[int, int]] = field(default_factory=list)
    _S: ClassVar[struct.Struct] = struct.Struct("!IH6xIQQII")

    def encode(self) -> bytes:
        tail = b"".join(struct.pack("!QQ", *b) for b in self.band_stats)
        return self._S.pack(self.meter_id, 40 + len(tail), self.flow_count,
                            self.packet_in_count, self.byte_in_count, self.duration_sec,
                            self.duration_nsec) + tail

    @classmethod
    def decode(cls, data: bytes, offset: int) -> tuple[MeterStats, int]:
        if offset + 40 > len(data):
            raise bad_len("meter stats truncated")
        mid, length, fc, pc, bc, ds, dn = cls._S.unpack_from(data, offset)
        if length < 40 or (length - 40) % 16 or offset + length > len(data):
            raise bad_len("bad meter stats length")
        bs = [struct.unpack_from("!QQ", data, p) for p in range(offset + 40, offset + length, 16)]
        return cls(mid, fc, pc, bc, ds, dn, bs), offset + length


@register(OFP13, OFP14, OFP15)
@dataclass(kw_only=True)
class MeterStatsReply(_ListMP, MultipartReply):
    """OFPMP_METER reply: list of :class:`MeterStats`."""

    mp_type: ClassVar[int] = MP.OFPMP_METER
    _ENTRY: ClassVar[Any] = MeterStats


@dataclass
class MeterConfig:
    """ofp_meter_config (spec 1.3.5 A.3.5.13)."""

    flags: int = 0
    meter_id: int = 0
    bands: list[MeterBand] = field(default_factory=list)
    _S: ClassVar[struct.Struct] = struct.Struct("!HHI")

    def encode(self) -> bytes:
        tail = b"".join(b.encode() for b in self.bands)
        return self._S.pack(8 + len(tail), self.flags, self.meter_id) + tail

    @classmethod
    def decode(cls, data: bytes, offset: int) -> tuple[MeterConfig, int]:
        if offset + 8 > len(data):
            raise bad_len("meter config truncated")
        length, flags, mid = cls._S.unpack_from(data, offset)
        if length < 8 or offset + length > len(data):
            raise bad_len("bad meter config length")
        return cls(flags, mid, decode_list(MeterBand, data[:offset + length], offset + 8)), \
            offset + length


@register(OFP13, OFP14, OFP15)
@dataclass(kw_only=True)
class MeterConfigStatsReply(_ListMP, MultipartReply):
    """OFPMP_METER_CONFIG reply: list of :class:`MeterConfig`."""

    mp_type: ClassVar[int] = MP.OFPMP_METER_CONFIG
    _ENTRY: ClassVar[Any] = MeterConfig


@register(OFP13, OFP14, OFP15)
@dataclass(kw_only=True)
class MeterFeaturesStatsRequest(MultipartRequest):
    """OFPMP_METER_FEATURES request."""

    mp_type: ClassVar[int] = MP.OFPMP_METER_FEATURES


@dataclass
class MeterFeatures(Fixed):
    """ofp_meter_features (spec 1.3.5 A.3.5.14)."""

    max_meter: int = 0
    band_types: int = 0
    capabilities: int = 0
    max_bands: int = 0
    max_color: int = 0
    _S: ClassVar[struct.Struct] = struct.Struct("!IIIBB2x")
    _F: ClassVar[tuple[str, ...]] = ("max_meter", "band_types", "capabilities", "max_bands",
                                     "max_color")



@register(OFP13)
@dataclass(kw_only=True)
class MeterFeaturesStatsReply(_ListMP, MultipartReply):
    """OFPMP_METER_FEATURES reply (one :class:`MeterFeatures` in ``body``)."""

    mp_type: ClassVar[int] = MP.OFPMP_METER_FEATURES
    _ENTRY: ClassVar[Any] = MeterFeatures


# Table features (spec 1.3.5 A.3.5.5)


@dataclass
class TableFeatureProp:
    """ofp_table_feature_prop_* (spec 1.3.5 A.3.5.5).

    Typed view: for instruction/action properties ``ids`` are the type numbers
    (each element a 4-byte header), for next-tables the table ids, for
    match/wildcards/setfield the 32-bit OXM headers.  Properties that do not fit
    (experimenter, experimenter ids inside lists) keep ``data`` as raw bytes
    and ``ids`` is None.
    """

    type: int
    ids: list[int] | None = None
    data: bytes = b""

    _KIND: ClassVar[dict[int, str]] = {
        **dict.fromkeys((0, 1, 4, 5, 6, 7), "hdr"),
        **dict.fromkeys((2, 3), "u8"),
        **dict.fromkeys((8, 10, 12, 13, 14, 15), "oxm"),
    }

    def _body(self) -> bytes:
        if self.ids is None:
            return self.data
        kind = self._KIND[self.type]
        if kind == "u8":
            return bytes(self.ids)
        if kind == "hdr":
            return b"".join(struct.pack("!HH", i, 4) for i in self.ids)
        return b"".join(_U32.pack(i) for i in self.ids)

    def encode(self) -> bytes:
        body = self._body()
        length = 4 + len(body)
        return struct.pack("!HH", self.type, length) + body + bytes(-length % 8)

    @classmethod
    def decode(cls, data: bytes, offset: int) -> tuple[TableFeatureProp, int]:
        if offset + 4 > len(data):
            raise bad_len("table feature property truncated")
        ptype, plen = struct.unpack_from("!HH", data, offset)
        if plen < 4 or offset + plen > len(data):
            raise bad_len("bad table feature property length")
        body = bytes(data[offset + 4:offset + plen])
        end = offset + ((plen + 7) & ~7)
        kind = cls._KIND.get(ptype)
        ids: list[int] | None = None
        if kind == "u8":
            ids = list(body)
        elif kind == "hdr" and len(body) % 4 == 0:
            pairs = [struct.unpack_from("!HH", body, p) for p in range(0, len(body), 4)]
            if all(n == 4 for _, n in pairs):
                ids = [t for t, _ in pairs]
        elif kind == "oxm" and len(body) % 4 == 0:
            hdrs = [_U32.unpack_from(body, p)[0] for p in range(0, len(body), 4)]
            if not any(h >> 16 == 0xFFFF for h in hdrs):
                ids = hdrs
        prop = cls(ptype, ids, b"" if ids is not None else body)
        return prop, min(end, len(data))


@dataclass
class TableFeatures:
    """ofp_table_features (spec 1.3.5 A.3.5.5; 1.5.1 7.3.5.18).

    ``command`` and ``features`` exist from OpenFlow 1.5 on (pad bytes before).
    """

    table_id: int = 0
    name: str = ""
    metadata_match: int = 0
    metadata_write: int = 0
    config: int = 0
    max_entries: int = 0
    properties: list[TableFeatureProp] = field(default_factory=list)
    command: int = 0
    features: int = 0
    _S: ClassVar[struct.Struct] = struct.Struct("!HBBI32sQQII")

    def encode(self) -> bytes:
        tail = b"".join(p.encode() for p in self.properties)
        return self._S.pack(64 + len(tail), self.table_id, self.command, self.features,
                            self.name.encode(
            "utf-8", "surrogateescape"), self.metadata_match, self.metadata_write, self.config,
            self.max_entries) + tail

    @classmethod
    def decode(cls, data: bytes, offset: int) -> tuple[TableFeatures, int]:
        if offset + 64 > len(data):
            raise bad_len("table features truncated")
        length, tid, cmd, feats, name, mm, mw, cfg, me = cls._S.unpack_from(data, offset)
        if length < 64 or offset + length > len(data):
            raise bad_len("bad table features length")
        props = decode_list(TableFeatureProp, data[:offset + length], offset + 64)
        return cls(tid, name.split(b"\0", 1)[0].decode("utf-8", "surrogateescape"), mm, mw,
                   cfg, me, props, cmd, feats), offset + length


@register(OFP13, OFP14, OFP15)
@dataclass(kw_only=True)
class TableFeaturesStatsRequest(_ListMP, MultipartRequest):
    """OFPMP_TABLE_FEATURES request (empty body = query, else set)."""

    mp_type: ClassVar[int] = MP.OFPMP_TABLE_FEATURES
    _ENTRY: ClassVar[Any] = TableFeatures


@register(OFP13, OFP14, OFP15)
@dataclass(kw_only=True)
class TableFeaturesStatsReply(_ListMP, MultipartReply):
    """OFPMP_TABLE_FEATURES reply: list of :class:`TableFeatures`."""

    mp_type: ClassVar[int] = MP.OFPMP_TABLE_FEATURES
    _ENTRY: ClassVar[Any] = TableFeatures


# Experimenter multipart (spec 1.3.5 A.3.5.15)


@register(OFP13, OFP14, OFP15)
@dataclass(kw_only=True)
class ExperimenterStatsRequest(MultipartRequest):
    """OFPMP_EXPERIMENTER request: experimenter, exp_type, data."""

    experimenter: int = 0
    exp_type: int = 0
    data: bytes = b""
    mp_type: ClassVar[int] = MP.OFPMP_EXPERIMENTER

    def _encode_mp(self) -> bytes:
        return struct.pack("!II", self.experimenter, self.exp_type) + self.data

    @classmethod
    def _decode_mp(cls, version: int, body: bytes) -> dict[str, Any]:
        if len(body) < 8:
            raise bad_len("experimenter multipart too short")
        e, t = struct.unpack_from("!II", body)
        return dict(experimenter=e, exp_type=t, data=body[8:])


@register(OFP13, OFP14, OFP15)
@dataclass(kw_only=True)
class ExperimenterStatsReply(MultipartReply):
    """OFPMP_EXPERIMENTER reply."""

    experimenter: int = 0
    exp_type: int = 0
    data: bytes = b""
    mp_type: ClassVar[int] = MP.OFPMP_EXPERIMENTER
    _encode_mp = ExperimenterStatsRequest._encode_mp
    _decode_mp = ExperimenterStatsRequest._decode_mp


# --- OpenFlow 1.0 stats bodies (spec 1.0.0 5.3.5) ------------------------------------


@register(OFP10)
@dataclass(kw_only=True)
class FlowStatsRequest10(StatsRequest10):
    """OFPST_FLOW request: match, table_id, out_port."""

    match: Match10 = field(default_factory=Match10)
    table_id: int = 0xFF
    out_port: int = 0xFFFF
    mp_type: ClassVar[int] = ST10.OFPST_FLOW
    _S: ClassVar[struct.Struct] = struct.Struct("!BxH")

    def _encode_mp(self) -> bytes:
        return self.match.encode() + self._S.pack(self.table_id, self.out_port)

    @classmethod
    def _decode_mp(cls, version: int, body: bytes) -> dict[str, Any]:
        if len(body) != 44:
            raise bad_len("flow stats request length")
        t, op = cls._S.unpack_from(body, 40)
        return dict(match=Match10.decode_fixed(body)[0], table_id=t, out_port=op)


@register(OFP10)
@dataclass(kw_only=True)
class AggregateStatsRequest10(FlowStatsRequest10):
    """OFPST_AGGREGATE request."""

    mp_type: ClassVar[int] = ST10.OFPST_AGGREGATE


@dataclass
class FlowStats10:
    """ofp_flow_stats for OpenFlow 1.0 (spec 1.0.0 5.3.5.2)."""

    table_id: int = 0
    match: Match10 = field(default_factory=Match10)
    duration_sec: int = 0
    duration_nsec: int = 0
    priority: int = 0
    idle_timeout: int = 0
    hard_timeout: int = 0
    cookie: int = 0
    packet_count: int = 0
    byte_count: int = 0
    actions: list[Action] = field(default_factory=list)
    _S: ClassVar[struct.Struct] = struct.Struct("!IIHHH6xQQQ")

    def encode(self) -> bytes:
        acts = encode_actions(OFP10, self.actions)
        return (struct.pack("!HBx", 88 + len(acts), self.table_id) + self.match.encode()
                + self._S.pack(self.duration_sec, self.duration_nsec, self.priority,
                               self.idle_timeout, self.hard_timeout, self.cookie,
                               self.packet_count, self.byte_count) + acts)

    @classmethod
    def decode(cls, data: bytes, offset: int) -> tuple[FlowStats10, int]:
        if offset + 88 > len(data):
            raise bad_len("flow stats truncated")
        length, tid = struct.unpack_from("!HB", data, offset)
        if length < 88 or offset + length > len(data):
            raise bad_len("bad flow stats length")
        match, p = Match10.decode_fixed(data, offset + 4)
        v = cls._S.unpack_from(data, p)
        acts = decode_actions(OFP10, data, offset + 88, length - 88)
        return cls(tid, match, *v, actions=acts), offset + length


@register(OFP10)
@dataclass(kw_only=True)
class FlowStatsReply10(_ListMP, StatsReply10):
    """OFPST_FLOW reply: list of :class:`FlowStats10`."""

    mp_type: ClassVar[int] = ST10.OFPST_FLOW
    _ENTRY: ClassVar[Any] = FlowStats10


@register(OFP10)
@dataclass(kw_only=True)
class AggregateStatsReply10(_FixedMP, StatsReply10, Fixed):
    """OFPST_AGGREGATE reply (spec 1.0.0 5.3.5.3)."""

    packet_count: int = 0
    byte_count: int = 0
    flow_count: int = 0
    mp_type: ClassVar[int] = ST10.OFPST_AGGREGATE
    _S: ClassVar[struct.Struct] = AggregateStatsReply._S
    _F: ClassVar[tuple[str, ...]] = AggregateStatsReply._F


@register(OFP10)
@dataclass(kw_only=True)
class TableStatsRequest10(StatsRequest10):
    """OFPST_TABLE request."""

    mp_type: ClassVar[int] = ST10.OFPST_TABLE


@dataclass
class TableStats10(Fixed):
    """ofp_table_stats for OpenFlow 1.0 (spec 1.0.0 5.3.5.4)."""

    table_id: int = 0
    name: str = ""
    wildcards: int = 0
    max_entries: int = 0
    active_count: int = 0
    lookup_count: int = 0
    matched_count: int = 0
    _S: ClassVar[struct.Struct] = struct.Struct("!B3x32sIIIQQ")
    _F: ClassVar[tuple[str, ...]] = ("table_id", "name", "wildcards", "max_entries",
                                     "active_count", "lookup_count", "matched_count")
    _STR: ClassVar[frozenset[str]] = frozenset({"name"})



@register(OFP10)
@dataclass(kw_only=True)
class TableStatsReply10(_ListMP, StatsReply10):
    """OFPST_TABLE reply."""

    mp_type: ClassVar[int] = ST10.OFPST_TABLE
    _ENTRY: ClassVar[Any] = TableStats10


@register(OFP10)
@dataclass(kw_only=True)
class PortStatsRequest10(_FixedMP, StatsRequest10, Fixed):
    """OFPST_PORT request (16-bit port_no, OFPP_NONE = all)."""

    port_no: int = 0xFFFF
    mp_type: ClassVar[int] = ST10.OFPST_PORT
    _S: ClassVar[struct.Struct] = struct.Struct("!H6x")
    _F: ClassVar[tuple[str, ...]] = ("port_no",)


@dataclass
class PortStats10(Fixed):
    """ofp_port_stats for OpenFlow 1.0 (spec 1.0.0 5.3.5.5)."""

    port_no: int = 0
    rx_packets: int = 0
    tx_packets: int = 0
    rx_bytes: int = 0
    tx_bytes: int = 0
    rx_dropped: int = 0
    tx_dropped: int = 0
    rx_errors: int = 0
    tx_errors: int = 0
    rx_frame_err: int = 0
    rx_over_err: int = 0
    rx_crc_err: int = 0
    collisions: int = 0
    _S: ClassVar[struct.Struct] = struct.Struct("!H6x12Q")
    _F: ClassVar[tuple[str, ...]] = ("port_no", *_PORT_COUNTERS)



@register(OFP10)
@dataclass(kw_only=True)
class PortStatsReply10(_ListMP, StatsReply10):
    """OFPST_PORT reply."""

    mp_type: ClassVar[int] = ST10.OFPST_PORT
    _ENTRY: ClassVar[Any] = PortStats10


@register(OFP10)
@dataclass(kw_only=True)
class QueueStatsRequest10(_FixedMP, StatsRequest10, Fixed):
    """OFPST_QUEUE request."""

    port_no: int = 0xFFFC
    queue_id: int = 0xFFFFFFFF
    mp_type: ClassVar[int] = ST10.OFPST_QUEUE
    _S: ClassVar[struct.Struct] = struct.Struct("!H2xI")
    _F: ClassVar[tuple[str, ...]] = ("port_no", "queue_id")


@dataclass
class QueueStats10(Fixed):
    """ofp_queue_stats for OpenFlow 1.0 (spec 1.0.0 5.3.5.6)."""

    port_no: int = 0
    queue_id: int = 0
    tx_bytes: int = 0
    tx_packets: int = 0
    tx_errors: int = 0
    _S: ClassVar[struct.Struct] = struct.Struct("!H2xIQQQ")
    _F: ClassVar[tuple[str, ...]] = ("port_no", "queue_id", "tx_bytes", "tx_packets",
                                     "tx_errors")



@register(OFP10)
@dataclass(kw_only=True)
class QueueStatsReply10(_ListMP, StatsReply10):
    """OFPST_QUEUE reply."""

    mp_type: ClassVar[int] = ST10.OFPST_QUEUE
    _ENTRY: ClassVar[Any] = QueueStats10


@register(OFP10)
@dataclass(kw_only=True)
class VendorStatsRequest10(StatsRequest10):
    """OFPST_VENDOR request: vendor id + data."""

    vendor: int = 0
    data: bytes = b""
    mp_type: ClassVar[int] = ST10.OFPST_VENDOR

    def _encode_mp(self) -> bytes:
        return _U32.pack(self.vendor) + self.data

    @classmethod
    def _decode_mp(cls, version: int, body: bytes) -> dict[str, Any]:
        if len(body) < 4:
            raise bad_len("vendor stats too short")
        return dict(vendor=_U32.unpack_from(body)[0], data=body[4:])


@register(OFP10)
@dataclass(kw_only=True)
class VendorStatsReply10(StatsReply10):
    """OFPST_VENDOR reply."""

    vendor: int = 0
    data: bytes = b""
    mp_type: ClassVar[int] = ST10.OFPST_VENDOR
    _encode_mp = VendorStatsRequest10._encode_mp
    _decode_mp = VendorStatsRequest10._decode_mp


@register(OFP10)
@dataclass(kw_only=True)
class QueueGetConfigRequest10(_FixedMessage):
    """OFPT_QUEUE_GET_CONFIG_REQUEST (spec 1.0.0 5.3.4)."""

    version: int = OFP10
    port: int = 0
    msg_type: ClassVar[int] = T10.OFPT_QUEUE_GET_CONFIG_REQUEST
    _S: ClassVar[struct.Struct] = struct.Struct("!H2x")
    _F: ClassVar[tuple[str, ...]] = ("port",)


# The 1.4/1.5 layouts (and the 1.4 bundle messages) register themselves in
# MESSAGE_TYPES on import.
from . import bundles, messages14  # noqa: E402,F401
