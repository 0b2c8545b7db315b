"""Actions and instructions: OpenFlow 1.1+ (1.3), OpenFlow 1.0 and Nicira extensions.

Spec: OpenFlow 1.3.5 sections 7.2.4 (instructions, A.2.4) and 7.2.5 (actions,
A.2.5); OpenFlow 1.0.0 section 5.2.4; Nicira vendor actions as in OVS
``include/openflow/nicira-ext.h`` / ``lib/ofp-actions.c``.

Relation to the other modules: :mod:`ofproto.ofp.messages` calls
:func:`decode_actions`/:func:`encode_actions` (PacketOut, OF1.0 FlowMod, group
buckets) and :func:`decode_instructions`/:func:`encode_instructions` (OF1.1+
FlowMod/FlowStats); set-field and register actions use :mod:`ofproto.ofp.oxm`.
The flow table and xlate consume these objects directly.

Every action is a dataclass with ``encode(version) -> bytes``; decoding goes
through per-family registries filled by the ``@_of13``/``@_of10``/``@_nx``
decorators.  Experimenter/vendor actions that are not modelled here (NXAST_LEARN,
NXAST_CT, ...) decode to :class:`NXActionUnknown` / :class:`ActionExperimenter`
keeping their bytes, so re-encoding is exact; xlate rejects what it cannot run.
"""

from __future__ import annotations

import dataclasses
import struct
from dataclasses import dataclass, field
from typing import ClassVar, Self, TypeVar

from . import oxm
from .consts import NX_VENDOR_ID, OFP10, port_from_of10, port_to_of10
from .consts import NXActionSubtype as NXAST
from .consts import OFPActionType as AT
from .consts import OFPActionType10 as AT10
from .consts import OFPBadActionCode as BAC
from .consts import OFPBadInstructionCode as BIC
from .consts import OFPBadMatchCode as BMC
from .consts import OFPErrorType as ET
from .consts import OFPInstructionType as IT
from .errors import OFPDecodeError

_ACT_HDR = struct.Struct("!HH")
_EXP_HDR = struct.Struct("!HHI")
_NX_HDR = struct.Struct("!HHIH")


def _bad_action_len(msg: str) -> OFPDecodeError:
    return OFPDecodeError(ET.OFPET_BAD_ACTION, BAC.OFPBAC_BAD_LEN, msg)


class Action:
    """Base of all actions.  ``encode(version)`` returns the full TLV, padded to 8."""

    type: ClassVar[int]
    _body: ClassVar[struct.Struct] = struct.Struct("!4x")
    _fields: ClassVar[tuple[str, ...]] = ()

    def _values(self, version: int) -> tuple[object, ...]:
        return tuple(getattr(self, f) for f in self._fields)

    def _encode_body(self, version: int) -> bytes:
        return self._body.pack(*self._values(version))

    @classmethod
    def _decode_body(cls, version: int, body: bytes) -> Self:
        if len(body) != cls._body.size:
            raise _bad_action_len(f"{cls.__name__}: body length {len(body)}")
        return cls(**dict(zip(cls._fields, cls._body.unpack(body), strict=True)))

    def encode(self, version: int) -> bytes:
        body = self._encode_body(version)
        length = 4 + len(body)
        pad = -length % 8
        return _ACT_HDR.pack(self.type, length + pad) + body + bytes(pad)


_A = TypeVar("_A", bound="type[Action]")
_N = TypeVar("_N", bound="type[NXAction]")
_I = TypeVar("_I", bound="type[Instruction]")

_OF13_ACTIONS: dict[int, type[Action]] = {}
_OF10_ACTIONS: dict[int, type[Action]] = {}
_NX_ACTIONS: dict[int, type[NXAction]] = {}


def _of13(cls: _A) -> _A:
    _OF13_ACTIONS[cls.type] = cls
    return cls


def _of10(cls: _A) -> _A:
    _OF10_ACTIONS[cls.type] = cls
    return cls


# --- OpenFlow 1.1+ actions (spec 1.3.5 A.2.5) ------------------------------------


@_of13
@dataclass
class ActionOutput(Action):
    """OFPAT_OUTPUT (spec 1.3.5 A.2.5): output to ``port``; ``max_len`` bytes to controller."""

    port: int
    max_len: int = 0xFFE5
    type: ClassVar[int] = AT.OFPAT_OUTPUT
    _body: ClassVar[struct.Struct] = struct.Struct("!IH6x")
    _fields: ClassVar[tuple[str, ...]] = ("port", "max_len")


@dataclass
class _NoArg(Action):
    pass


@_of13
@dataclass
class ActionCopyTtlOut(_NoArg):
    """OFPAT_COPY_TTL_OUT (spec 1.3.5 A.2.5)."""

    type: ClassVar[int] = AT.OFPAT_COPY_TTL_OUT


@_of13
@dataclass
class ActionCopyTtlIn(_NoArg):
    """OFPAT_COPY_TTL_IN (spec 1.3.5 A.2.5)."""

    type: ClassVar[int] = AT.OFPAT_COPY_TTL_IN


@_of13
@dataclass
class ActionDecMplsTtl(_NoArg):
    """OFPAT_DEC_MPLS_TTL (spec 1.3.5 A.2.5)."""

    type: ClassVar[int] = AT.OFPAT_DEC_MPLS_TTL


@_of13
@dataclass
class ActionPopVlan(_NoArg):
    """OFPAT_POP_VLAN (spec 1.3.5 A.2.5)."""

    type: ClassVar[int] = AT.OFPAT_POP_VLAN


@_of13
@dataclass
class ActionDecNwTtl(_NoArg):
    """OFPAT_DEC_NW_TTL (spec 1.3.5 A.2.5)."""

    type: ClassVar[int] = AT.OFPAT_DEC_NW_TTL


@_of13
@dataclass
class ActionPopPbb(_NoArg):
    """OFPAT_POP_PBB (spec 1.3.5 A.2.5)."""

    type: ClassVar[int] = AT.OFPAT_POP_PBB


_TTL = struct.Struct("!B3x")
_ETHERTYPE = struct.Struct("!H2x")
_U32 = struct.Struct("!I")


@_of13
@dataclass
class ActionSetMplsTtl(Action):
    """OFPAT_SET_MPLS_TTL (spec 1.3.5 A.2.5)."""

    mpls_ttl: int
    type: ClassVar[int] = AT.OFPAT_SET_MPLS_TTL
    _body: ClassVar[struct.Struct] = _TTL
    _fields: ClassVar[tuple[str, ...]] = ("mpls_ttl",)


@_of13
@dataclass
class ActionSetNwTtl(Action):
    """OFPAT_SET_NW_TTL (spec 1.3.5 A.2.5)."""

    nw_ttl: int
    type: ClassVar[int] = AT.OFPAT_SET_NW_TTL
    _body: ClassVar[struct.Struct] = _TTL
    _fields: ClassVar[tuple[str, ...]] = ("nw_ttl",)


@dataclass
class _EtherTypeAction(Action):
    ethertype: int
    _body: ClassVar[struct.Struct] = _ETHERTYPE
    _fields: ClassVar[tuple[str, ...]] = ("ethertype",)


@_of13
@dataclass
class ActionPushVlan(_EtherTypeAction):
    """OFPAT_PUSH_VLAN (spec 1.3.5 A.2.5)."""

    type: ClassVar[int] = AT.OFPAT_PUSH_VLAN


@_of13
@dataclass
class ActionPushMpls(_EtherTypeAction):
    """OFPAT_PUSH_MPLS (spec 1.3.5 A.2.5)."""

    type: ClassVar[int] = AT.OFPAT_PUSH_MPLS


@_of13
@dataclass
class ActionPopMpls(_EtherTypeAction):
    """OFPAT_POP_MPLS (spec 1.3.5 A.2.5): ``ethertype`` of the payload."""

    type: ClassVar[int] = AT.OFPAT_POP_MPLS


@_of13
@dataclass
class ActionPushPbb(_EtherTypeAction):
    """OFPAT_PUSH_PBB (spec 1.3.5 A.2.5)."""

    type: ClassVar[int] = AT.OFPAT_PUSH_PBB


@_of13
@dataclass
class ActionSetQueue(Action):
    """OFPAT_SET_QUEUE (spec 1.3.5 A.2.5)."""

    queue_id: int
    type: ClassVar[int] = AT.OFPAT_SET_QUEUE
    _body: ClassVar[struct.Struct] = _U32
    _fields: ClassVar[tuple[str, ...]] = ("queue_id",)


@_of13
@dataclass
class ActionGroup(Action):
    """OFPAT_GROUP (spec 1.3.5 A.2.5)."""

    group_id: int
    type: ClassVar[int] = AT.OFPAT_GROUP
    _body: ClassVar[struct.Struct] = _U32
    _fields: ClassVar[tuple[str, ...]] = ("group_id",)


@_of13
@dataclass
class ActionMeter(Action):
    """OFPAT_METER (spec 1.5.1 7.2.6.11, OpenFlow 1.5 only)."""

    meter_id: int
    type: ClassVar[int] = AT.OFPAT_METER
    _body: ClassVar[struct.Struct] = _U32
    _fields: ClassVar[tuple[str, ...]] = ("meter_id",)


_SETFIELD_ERRS = {
    BMC.OFPBMC_BAD_FIELD: BAC.OFPBAC_BAD_SET_TYPE,
    BMC.OFPBMC_BAD_LEN: BAC.OFPBAC_BAD_SET_LEN,
    BMC.OFPBMC_BAD_VALUE: BAC.OFPBAC_BAD_SET_ARGUMENT,
    BMC.OFPBMC_BAD_MASK: BAC.OFPBAC_BAD_SET_ARGUMENT,
}


@_of13
@dataclass
class ActionSetField(Action):
    """OFPAT_SET_FIELD (spec 1.3.5 A.2.5): set ``field`` (canonical name) to ``value``.

    ``mask`` is only legal in OpenFlow 1.5.  Problems in the embedded OXM are
    reported as OFPBAC_BAD_SET_TYPE / _LEN / _ARGUMENT.
    """

    field: str
    value: int
    mask: int | None = None
    wire: oxm.Wire | None = field(default=None, compare=False, repr=False)
    type: ClassVar[int] = AT.OFPAT_SET_FIELD

    def __post_init__(self) -> None:
        self.field = oxm.field_by_name(self.field).name

    def _encode_body(self, version: int) -> bytes:
        return oxm.encode_oxm_tlv(oxm.field_by_name(self.field), self.value, self.mask, self.wire)

    @classmethod
    def _decode_body(cls, version: int, body: bytes) -> Self:
        try:
            spec, wire, value, mask, end = oxm.decode_oxm_tlv(body, 0)
        except OFPDecodeError as e:
            code = _SETFIELD_ERRS.get(BMC(e.code), BAC.OFPBAC_BAD_SET_ARGUMENT)
            raise OFPDecodeError(ET.OFPET_BAD_ACTION, code, e.message) from None
        if any(body[end:]):
            raise OFPDecodeError(ET.OFPET_BAD_ACTION, BAC.OFPBAC_BAD_SET_LEN, "set_field pad")
        return cls(spec.name, value, mask, wire)


@dataclass
class ActionExperimenter(Action):
    """OFPAT_EXPERIMENTER (spec 1.3.5 A.2.5) for an experimenter we do not model.

    ``data`` is everything after the experimenter id, including padding.
    """

    experimenter: int
    data: bytes = b""
    type: ClassVar[int] = AT.OFPAT_EXPERIMENTER

    def _encode_body(self, version: int) -> bytes:
        return _U32.pack(self.experimenter) + self.data

    @classmethod
    def _decode_body(cls, version: int, body: bytes) -> Self:
        return cls(_U32.unpack_from(body)[0], bytes(body[4:]))


# --- OpenFlow 1.0 actions (spec 1.0.0 5.2.4) -------------------------------------


@_of10
@dataclass
class ActionOutput10(Action):
    """OpenFlow 1.0 OFPAT_OUTPUT (spec 1.0.0 5.2.4); ``port`` is 32-bit-mapped."""

    port: int
    max_len: int = 0
    type: ClassVar[int] = AT10.OFPAT_OUTPUT
    _body: ClassVar[struct.Struct] = struct.Struct("!HH")
    _fields: ClassVar[tuple[str, ...]] = ("port", "max_len")

    def _values(self, version: int) -> tuple[object, ...]:
        return (port_to_of10(self.port), self.max_len)

    @classmethod
    def _decode_body(cls, version: int, body: bytes) -> Self:
        a = super()._decode_body(version, body)
        a.port = port_from_of10(a.port)
        return a


@_of10
@dataclass
class ActionSetVlanVid10(Action):
    """OFPAT_SET_VLAN_VID (spec 1.0.0 5.2.4)."""

    vlan_vid: int
    type: ClassVar[int] = AT10.OFPAT_SET_VLAN_VID
    _body: ClassVar[struct.Struct] = struct.Struct("!H2x")
    _fields: ClassVar[tuple[str, ...]] = ("vlan_vid",)


@_of10
@dataclass
class ActionSetVlanPcp10(Action):
    """OFPAT_SET_VLAN_PCP (spec 1.0.0 5.2.4)."""

    vlan_pcp: int
    type: ClassVar[int] = AT10.OFPAT_SET_VLAN_PCP
    _body: ClassVar[struct.Struct] = _TTL
    _fields: ClassVar[tuple[str, ...]] = ("vlan_pcp",)


@_of10
@dataclass
class ActionStripVlan10(_NoArg):
    """OFPAT_STRIP_VLAN (spec 1.0.0 5.2.4)."""

    type: ClassVar[int] = AT10.OFPAT_STRIP_VLAN


_DL_ADDR = struct.Struct("!6s6x")


@dataclass
class _DlAddr10(Action):
    dl_addr: int
    _body: ClassVar[struct.Struct] = _DL_ADDR

    def _encode_body(self, version: int) -> bytes:
        return _DL_ADDR.pack(self.dl_addr.to_bytes(6, "big"))

    @classmethod
    def _decode_body(cls, version: int, body: bytes) -> Self:
        if len(body) != 12:
            raise _bad_action_len(cls.__name__)
        return cls(int.from_bytes(body[:6], "big"))


@_of10
@dataclass
class ActionSetDlSrc10(_DlAddr10):
    """OFPAT_SET_DL_SRC (spec 1.0.0 5.2.4); ``dl_addr`` is a 48-bit int."""

    type: ClassVar[int] = AT10.OFPAT_SET_DL_SRC


@_of10
@dataclass
class ActionSetDlDst10(_DlAddr10):
    """OFPAT_SET_DL_DST (spec 1.0.0 5.2.4); ``dl_addr`` is a 48-bit int."""

    type: ClassVar[int] = AT10.OFPAT_SET_DL_DST


@dataclass
class _NwAddr10(Action):
    nw_addr: int
    _body: ClassVar[struct.Struct] = _U32
    _fields: ClassVar[tuple[str, ...]] = ("nw_addr",)


@_of10
@dataclass
class ActionSetNwSrc10(_NwAddr10):
    """OFPAT_SET_NW_SRC (spec 1.0.0 5.2.4)."""

    type: ClassVar[int] = AT10.OFPAT_SET_NW_SRC


@_of10
@dataclass
class ActionSetNwDst10(_NwAddr10):
    """OFPAT_SET_NW_DST (spec 1.0.0 5.2.4)."""

    type: ClassVar[int] = AT10.OFPAT_SET_NW_DST


@_of10
@dataclass
class ActionSetNwTos10(Action):
    """OFPAT_SET_NW_TOS (spec 1.0.0 5.2.4)."""

    nw_tos: int
    type: ClassVar[int] = AT10.OFPAT_SET_NW_TOS
    _body: ClassVar[struct.Struct] = _TTL
    _fields: ClassVar[tuple[str, ...]] = ("nw_tos",)


@dataclass
class _TpPort10(Action):
    tp_port: int
    _body: ClassVar[struct.Struct] = _ETHERTYPE
    _fields: ClassVar[tuple[str, ...]] = ("tp_port",)


@_of10
@dataclass
class ActionSetTpSrc10(_TpPort10):
    """OFPAT_SET_TP_SRC (spec 1.0.0 5.2.4)."""

    type: ClassVar[int] = AT10.OFPAT_SET_TP_SRC


@_of10
@dataclass
class ActionSetTpDst10(_TpPort10):
    """OFPAT_SET_TP_DST (spec 1.0.0 5.2.4)."""

    type: ClassVar[int] = AT10.OFPAT_SET_TP_DST


@_of10
@dataclass
class ActionEnqueue10(Action):
    """OFPAT_ENQUEUE (spec 1.0.0 5.2.4)."""

    port: int
    queue_id: int
    type: ClassVar[int] = AT10.OFPAT_ENQUEUE
    _body: ClassVar[struct.Struct] = struct.Struct("!H6xI")
    _fields: ClassVar[tuple[str, ...]] = ("port", "queue_id")

    def _values(self, version: int) -> tuple[object, ...]:
        return (port_to_of10(self.port), self.queue_id)

    @classmethod
    def _decode_body(cls, version: int, body: bytes) -> Self:
        a = super()._decode_body(version, body)
        a.port = port_from_of10(a.port)
        return a


# --- Nicira vendor actions (OVS nicira-ext.h) --------------------------------------


class NXAction(Action):
    """A Nicira vendor action: OFPAT_EXPERIMENTER/OFPAT_VENDOR, vendor 0x2320, subtype."""

    type: ClassVar[int] = 0xFFFF
    subtype: ClassVar[int]
    _body: ClassVar[struct.Struct] = struct.Struct("!6x")

    def encode(self, version: int) -> bytes:
        body = self._encode_body(version)
        length = 10 + len(body)
        pad = -length % 8
        return _NX_HDR.pack(0xFFFF, length + pad, NX_VENDOR_ID, self.subtype) + body + bytes(pad)


def _nx(cls: _N) -> _N:
    _NX_ACTIONS[cls.subtype] = cls
    return cls


@_nx
@dataclass
class NXActionResubmit(NXAction):
    """NXAST_RESUBMIT: resubmit to the current table with ``in_port`` (32-bit mapped)."""

    in_port: int = 0xFFFFFFF8
    subtype: ClassVar[int] = NXAST.NXAST_RESUBMIT
    _body: ClassVar[struct.Struct] = struct.Struct("!H4x")
    _fields: ClassVar[tuple[str, ...]] = ("in_port",)

    def _values(self, version: int) -> tuple[object, ...]:
        return (port_to_of10(self.in_port),)

    @classmethod
    def _decode_body(cls, version: int, body: bytes) -> Self:
        a = super()._decode_body(version, body)
        a.in_port = port_from_of10(a.in_port)
        return a


@_nx
@dataclass
class NXActionResubmitTable(NXAction):
    """NXAST_RESUBMIT_TABLE: resubmit(in_port, table); table 255 = current table."""

    in_port: int = 0xFFFFFFF8
    table_id: int = 0xFF
    subtype: ClassVar[int] = NXAST.NXAST_RESUBMIT_TABLE
    _body: ClassVar[struct.Struct] = struct.Struct("!HB3x")
    _fields: ClassVar[tuple[str, ...]] = ("in_port", "table_id")

    def _values(self, version: int) -> tuple[object, ...]:
        return (port_to_of10(self.in_port), self.table_id)

    @classmethod
    def _decode_body(cls, version: int, body: bytes) -> Self:
        a = super()._decode_body(version, body)
        a.in_port = port_from_of10(a.in_port)
        return a


@_nx
@dataclass
class NXActionSetTunnel(NXAction):
    """NXAST_SET_TUNNEL: set the 32-bit tunnel id."""

    tun_id: int
    subtype: ClassVar[int] = NXAST.NXAST_SET_TUNNEL
    _body: ClassVar[struct.Struct] = struct.Struct("!2xI")
    _fields: ClassVar[tuple[str, ...]] = ("tun_id",)


@_nx
@dataclass
class NXActionSetTunnel64(NXAction):
    """NXAST_SET_TUNNEL64: set the 64-bit tunnel id."""

    tun_id: int
    subtype: ClassVar[int] = NXAST.NXAST_SET_TUNNEL64
    _body: ClassVar[struct.Struct] = struct.Struct("!6xQ")
    _fields: ClassVar[tuple[str, ...]] = ("tun_id",)


def _field_from_header(header: int, exp: int | None = None) -> tuple[str, oxm.Wire]:
    try:
        spec, wire = oxm.lookup_header(header, exp)
    except OFPDecodeError:
        raise OFPDecodeError(ET.OFPET_BAD_ACTION, BAC.OFPBAC_BAD_ARGUMENT,
                             f"unknown field header {header:#x}") from None
    return spec.name, wire


@_nx
@dataclass
class NXActionRegLoad(NXAction):
    """NXAST_REG_LOAD: load ``value`` into bits [ofs, ofs+n_bits) of field ``dst``."""

    ofs: int
    n_bits: int
    dst: str
    value: int
    dst_wire: oxm.Wire | None = field(default=None, compare=False, repr=False)
    subtype: ClassVar[int] = NXAST.NXAST_REG_LOAD
    _body: ClassVar[struct.Struct] = struct.Struct("!HIQ")

    def _encode_body(self, version: int) -> bytes:
        spec = oxm.field_by_name(self.dst)
        wire = self.dst_wire or spec.nxm or spec.oxm
        assert wire is not None
        return self._body.pack((self.ofs << 6) | (self.n_bits - 1),
                               oxm.wire_header(wire), self.value)

    @classmethod
    def _decode_body(cls, version: int, body: bytes) -> Self:
        if len(body) != cls._body.size:
            raise _bad_action_len("reg_load")
        ofs_nbits, header, value = cls._body.unpack(body)
        name, wire = _field_from_header(header)
        return cls(ofs_nbits >> 6, (ofs_nbits & 0x3F) + 1, name, value, wire)


@_nx
@dataclass
class NXActionRegMove(NXAction):
    """NXAST_REG_MOVE: copy ``n_bits`` from ``src``[src_ofs:] to ``dst``[dst_ofs:]."""

    n_bits: int
    src_ofs: int
    dst_ofs: int
    src: str
    dst: str
    src_wire: oxm.Wire | None = field(default=None, compare=False, repr=False)
    dst_wire: oxm.Wire | None = field(default=None, compare=False, repr=False)
    subtype: ClassVar[int] = NXAST.NXAST_REG_MOVE
    _body: ClassVar[struct.Struct] = struct.Struct("!HHHII")

    def _encode_body(self, version: int) -> bytes:
        ws = []
        for name, w in ((self.src, self.src_wire), (self.dst, self.dst_wire)):
            spec = oxm.field_by_name(name)
            w = w or spec.nxm or spec.oxm
            assert w is not None
            ws.append(oxm.wire_header(w))
        return self._body.pack(self.n_bits, self.src_ofs, self.dst_ofs, *ws)

    @classmethod
    def _decode_body(cls, version: int, body: bytes) -> Self:
        if len(body) != cls._body.size:
            raise _bad_action_len("reg_move")
        n_bits, src_ofs, dst_ofs, src_h, dst_h = cls._body.unpack(body)
        src, sw = _field_from_header(src_h)
        dst, dw = _field_from_header(dst_h)
        return cls(n_bits, src_ofs, dst_ofs, src, dst, sw, dw)


@_nx
@dataclass
class NXActionOutputReg(NXAction):
    """NXAST_OUTPUT_REG: output to the port in bits [ofs, ofs+n_bits) of ``src``."""

    ofs: int
    n_bits: int
    src: str
    max_len: int = 0
    src_wire: oxm.Wire | None = field(default=None, compare=False, repr=False)
    subtype: ClassVar[int] = NXAST.NXAST_OUTPUT_REG
    _body: ClassVar[struct.Struct] = struct.Struct("!HIH6x")

    def _encode_body(self, version: int) -> bytes:
        spec = oxm.field_by_name(self.src)
        w = self.src_wire or spec.nxm or spec.oxm
        assert w is not None
        return self._body.pack((self.ofs << 6) | (self.n_bits - 1), oxm.wire_header(w),
                               self.max_len)

    @classmethod
    def _decode_body(cls, version: int, body: bytes) -> Self:
        if len(body) != cls._body.size:
            raise _bad_action_len("output_reg")
        ofs_nbits, header, max_len = cls._body.unpack(body)
        name, wire = _field_from_header(header)
        return cls(ofs_nbits >> 6, (ofs_nbits & 0x3F) + 1, name, max_len, wire)


@_nx
@dataclass
class NXActionNote(NXAction):
    """NXAST_NOTE: opaque bytes (``note`` keeps trailing zero padding as sent)."""

    note: bytes = b""
    subtype: ClassVar[int] = NXAST.NXAST_NOTE

    def _encode_body(self, version: int) -> bytes:
        return self.note

    @classmethod
    def _decode_body(cls, version: int, body: bytes) -> Self:
        return cls(bytes(body))


@dataclass
class _NXNoArg(NXAction):
    pass


@_nx
@dataclass
class NXActionPopQueue(_NXNoArg):
    """NXAST_POP_QUEUE."""

    subtype: ClassVar[int] = NXAST.NXAST_POP_QUEUE


@_nx
@dataclass
class NXActionExit(_NXNoArg):
    """NXAST_EXIT."""

    subtype: ClassVar[int] = NXAST.NXAST_EXIT


@_nx
@dataclass
class NXActionDecTtl(_NXNoArg):
    """NXAST_DEC_TTL (dec_ttl without controller ids)."""

    subtype: ClassVar[int] = NXAST.NXAST_DEC_TTL


@_nx
@dataclass
class NXActionDecMplsTtl(_NXNoArg):
    """NXAST_DEC_MPLS_TTL."""

    subtype: ClassVar[int] = NXAST.NXAST_DEC_MPLS_TTL


@_nx
@dataclass
class NXActionCtClear(_NXNoArg):
    """NXAST_CT_CLEAR."""

    subtype: ClassVar[int] = NXAST.NXAST_CT_CLEAR


@_nx
@dataclass
class NXActionSetQueue(NXAction):
    """NXAST_SET_QUEUE."""

    queue_id: int
    subtype: ClassVar[int] = NXAST.NXAST_SET_QUEUE
    _body: ClassVar[struct.Struct] = struct.Struct("!2xI")
    _fields: ClassVar[tuple[str, ...]] = ("queue_id",)


@dataclass
class _NXEtherType(NXAction):
    ethertype: int
    _body: ClassVar[struct.Struct] = struct.Struct("!H4x")
    _fields: ClassVar[tuple[str, ...]] = ("ethertype",)


@_nx
@dataclass
class NXActionPushMpls(_NXEtherType):
    """NXAST_PUSH_MPLS."""

    subtype: ClassVar[int] = NXAST.NXAST_PUSH_MPLS


@_nx
@dataclass
class NXActionPopMpls(_NXEtherType):
    """NXAST_POP_MPLS."""

    subtype: ClassVar[int] = NXAST.NXAST_POP_MPLS


@_nx
@dataclass
class NXActionSetMplsTtl(NXAction):
    """NXAST_SET_MPLS_TTL."""

    ttl: int
    subtype: ClassVar[int] = NXAST.NXAST_SET_MPLS_TTL
    _body: ClassVar[struct.Struct] = struct.Struct("!B5x")
    _fields: ClassVar[tuple[str, ...]] = ("ttl",)


@_nx
@dataclass
class NXActionSetMplsTc(NXAction):
    """NXAST_SET_MPLS_TC."""

    tc: int
    subtype: ClassVar[int] = NXAST.NXAST_SET_MPLS_TC
    _body: ClassVar[struct.Struct] = struct.Struct("!B5x")
    _fields: ClassVar[tuple[str, ...]] = ("tc",)


@_nx
@dataclass
class NXActionSetMplsLabel(NXAction):
    """NXAST_SET_MPLS_LABEL."""

    label: int
    subtype: ClassVar[int] = NXAST.NXAST_SET_MPLS_LABEL
    _body: ClassVar[struct.Struct] = struct.Struct("!2xI")
    _fields: ClassVar[tuple[str, ...]] = ("label",)


@_nx
@dataclass
class NXActionConjunction(NXAction):
    """NXAST_CONJUNCTION: conjunction(id, clause/n_clauses); clause is 0-based here."""

    clause: int
    n_clauses: int
    id: int
    subtype: ClassVar[int] = NXAST.NXAST_CONJUNCTION
    _body: ClassVar[struct.Struct] = struct.Struct("!BBI")
    _fields: ClassVar[tuple[str, ...]] = ("clause", "n_clauses", "id")


@dataclass
class NXActionUnknown(NXAction):
    """A Nicira action we do not model (learn, ct, controller2...): subtype + raw body."""

    nx_subtype: int = 0
    body: bytes = b""
    subtype: ClassVar[int] = 0

    def encode(self, version: int) -> bytes:
        length = 10 + len(self.body)
        pad = -length % 8
        return (_NX_HDR.pack(0xFFFF, length + pad, NX_VENDOR_ID, self.nx_subtype)
                + self.body + bytes(pad))


# --- action list codec --------------------------------------------------------------


def decode_action(version: int, data: bytes | memoryview, offset: int = 0
                  ) -> tuple[Action, int]:
    """Decode one action at ``offset``; returns ``(action, new_offset)``.

    Errors (spec 1.3.5 A.4.4): OFPBAC_BAD_LEN for length problems (len < 8, not
    a multiple of 8, past the end), OFPBAC_BAD_TYPE for unknown types.
    """
    if offset + 4 > len(data):
        raise _bad_action_len("truncated action header")
    atype, length = _ACT_HDR.unpack_from(data, offset)
    if length < 8 or length % 8 or offset + length > len(data):
        raise _bad_action_len(f"bad action length {length}")
    end = offset + length
    if atype == 0xFFFF:
        (vendor,) = _U32.unpack_from(data, offset + 4)
        if vendor == NX_VENDOR_ID:
            if length < 16:
                raise _bad_action_len("short Nicira action")
            (sub,) = struct.unpack_from("!H", data, offset + 8)
            ncls = _NX_ACTIONS.get(sub)
            body = bytes(data[offset + 10:end])
            if ncls is None:
                return NXActionUnknown(sub, body), end
            if cls_has_fixed_body(ncls):
                body = _strip_pad(body, ncls._body.size)
            return ncls._decode_body(version, body), end
        if version == OFP10:
            raise OFPDecodeError(ET.OFPET_BAD_ACTION, BAC.OFPBAC_BAD_EXPERIMENTER,
                                 f"unknown vendor {vendor:#x}")
        return ActionExperimenter._decode_body(version, bytes(data[offset + 4:end])), end
    table = _OF10_ACTIONS if version == OFP10 else _OF13_ACTIONS
    acls = table.get(atype)
    if acls is None:
        raise OFPDecodeError(ET.OFPET_BAD_ACTION, BAC.OFPBAC_BAD_TYPE, f"unknown action {atype}")
    body = bytes(data[offset + 4:end])
    if acls is not ActionSetField:
        body = _strip_pad(body, acls._body.size)
    return acls._decode_body(version, body), end


def cls_has_fixed_body(cls: type[Action]) -> bool:
    """True when the action's body is exactly ``cls._body`` (plus zero padding)."""
    return cls not in (NXActionNote, NXActionUnknown)


def _strip_pad(body: bytes, size: int) -> bytes:
    if len(body) < size or len(body) - size >= 8:
        raise _bad_action_len(f"action body {len(body)} for struct of {size}")
    return body[:size]


def _plain_actions(table: dict[int, type[Action]]) -> dict[int, tuple[type[Action], int]]:
    """type -> (class, body size) for the actions :meth:`Action._decode_body` builds
    from exactly their struct, whose fields come first and in struct order: those
    :func:`decode_actions` builds in place, positionally, without copying the body."""
    out = {}
    for atype, cls in table.items():
        fields = dataclasses.fields(cls)  # type: ignore[arg-type]
        n = len(cls._fields)
        if (cls._decode_body.__func__ is Action._decode_body.__func__  # type: ignore[attr-defined]
                and tuple(f.name for f in fields[:n]) == cls._fields
                and len(cls._body.unpack(bytes(cls._body.size))) == n
                and all(f.init for f in fields)
                and all(f.default is not dataclasses.MISSING
                        or f.default_factory is not dataclasses.MISSING for f in fields[n:])):
            out[atype] = (cls, cls._body.size)
    return out


_PLAIN_OF13 = _plain_actions(_OF13_ACTIONS)
_PLAIN_OF10 = _plain_actions(_OF10_ACTIONS)


def decode_actions(version: int, data: bytes | memoryview, offset: int = 0,
                   length: int | None = None) -> list[Action]:
    """Decode an action list occupying ``length`` bytes from ``offset`` (spec 1.3.5 A.2.5)."""
    end = len(data) if length is None else offset + length
    if end > len(data):
        raise _bad_action_len("action list runs past the message")
    plain = _PLAIN_OF10 if version == OFP10 else _PLAIN_OF13
    view = data if end == len(data) else None
    out = []
    p = offset
    while p < end:
        # Plain actions of a valid length (decode_action's checks and _strip_pad's)
        # are built here; everything else, errors included, goes to decode_action.
        if p + 4 <= end:
            atype, alen = _ACT_HDR.unpack_from(data, p)
            e = plain.get(atype)
            if (e is not None and alen >= 8 and not alen % 8 and p + alen <= end
                    and 0 <= alen - 4 - e[1] < 8):
                acls = e[0]
                out.append(acls(*acls._body.unpack_from(data, p + 4)))
                p += alen
                continue
        if view is None:
            view = data[:end]
        a, p = decode_action(version, view, p)
        out.append(a)
    return out


def encode_actions(version: int, actions: list[Action]) -> bytes:
    """Encode an action list."""
    return b"".join(a.encode(version) for a in actions)


# --- instructions (spec 1.3.5 A.2.4) ------------------------------------------------

_INSTRUCTIONS: dict[int, type[Instruction]] = {}
_INS_HDR = struct.Struct("!HH")


def _bad_ins_len(msg: str) -> OFPDecodeError:
    return OFPDecodeError(ET.OFPET_BAD_INSTRUCTION, BIC.OFPBIC_BAD_LEN, msg)


class Instruction:
    """Base of instructions; ``encode(version)`` returns the whole TLV."""

    type: ClassVar[int]

    def _encode_body(self, version: int) -> bytes:
        raise NotImplementedError

    @classmethod
    def _decode_body(cls, version: int, body: bytes) -> Self:
        raise NotImplementedError

    def encode(self, version: int) -> bytes:
        body = self._encode_body(version)
        return _INS_HDR.pack(self.type, 4 + len(body)) + body


def _ins(cls: _I) -> _I:
    _INSTRUCTIONS[cls.type] = cls
    return cls


@_ins
@dataclass
class InstructionGotoTable(Instruction):
    """OFPIT_GOTO_TABLE (spec 1.3.5 A.2.4)."""

    table_id: int
    type: ClassVar[int] = IT.OFPIT_GOTO_TABLE
    _S: ClassVar[struct.Struct] = struct.Struct("!B3x")

    def _encode_body(self, version: int) -> bytes:
        return self._S.pack(self.table_id)

    @classmethod
    def _decode_body(cls, version: int, body: bytes) -> Self:
        if len(body) != 4:
            raise _bad_ins_len("goto_table")
        return cls(body[0])


@_ins
@dataclass
class InstructionWriteMetadata(Instruction):
    """OFPIT_WRITE_METADATA (spec 1.3.5 A.2.4)."""

    metadata: int
    metadata_mask: int = 0xFFFFFFFFFFFFFFFF
    type: ClassVar[int] = IT.OFPIT_WRITE_METADATA
    _S: ClassVar[struct.Struct] = struct.Struct("!4xQQ")

    def _encode_body(self, version: int) -> bytes:
        return self._S.pack(self.metadata, self.metadata_mask)

    @classmethod
    def _decode_body(cls, version: int, body: bytes) -> Self:
        if len(body) != cls._S.size:
            raise _bad_ins_len("write_metadata")
        return cls(*cls._S.unpack(body))


@dataclass
class _ActionsInstruction(Instruction):
    actions: list[Action] = field(default_factory=list)

    def _encode_body(self, version: int) -> bytes:
        return bytes(4) + encode_actions(version, self.actions)

    @classmethod
    def _decode_body(cls, version: int, body: bytes) -> Self:
        if len(body) < 4:
            raise _bad_ins_len(cls.__name__)
        return cls(decode_actions(version, body, 4))


@_ins
@dataclass
class InstructionWriteActions(_ActionsInstruction):
    """OFPIT_WRITE_ACTIONS (spec 1.3.5 A.2.4)."""

    type: ClassVar[int] = IT.OFPIT_WRITE_ACTIONS


@_ins
@dataclass
class InstructionApplyActions(_ActionsInstruction):
    """OFPIT_APPLY_ACTIONS (spec 1.3.5 A.2.4)."""

    type: ClassVar[int] = IT.OFPIT_APPLY_ACTIONS


@_ins
@dataclass
class InstructionClearActions(_ActionsInstruction):
    """OFPIT_CLEAR_ACTIONS (spec 1.3.5 A.2.4); carries no actions."""

    type: ClassVar[int] = IT.OFPIT_CLEAR_ACTIONS


@_ins
@dataclass
class InstructionMeter(Instruction):
    """OFPIT_METER (spec 1.3.5 A.2.4)."""

    meter_id: int
    type: ClassVar[int] = IT.OFPIT_METER

    def _encode_body(self, version: int) -> bytes:
        return _U32.pack(self.meter_id)

    @classmethod
    def _decode_body(cls, version: int, body: bytes) -> Self:
        if len(body) != 4:
            raise _bad_ins_len("meter")
        return cls(_U32.unpack(body)[0])


@_ins
@dataclass
class InstructionExperimenter(Instruction):
    """OFPIT_EXPERIMENTER (spec 1.3.5 A.2.4): kept as raw bytes."""

    experimenter: int
    data: bytes = b""
    type: ClassVar[int] = IT.OFPIT_EXPERIMENTER

    def _encode_body(self, version: int) -> bytes:
        return _U32.pack(self.experimenter) + self.data

    @classmethod
    def _decode_body(cls, version: int, body: bytes) -> Self:
        if len(body) < 4:
            raise _bad_ins_len("experimenter")
        return cls(_U32.unpack_from(body)[0], bytes(body[4:]))


def decode_instructions(version: int, data: bytes | memoryview, offset: int = 0,
                        length: int | None = None) -> list[Instruction]:
    """Decode an instruction list (spec 1.3.5 A.2.4).

    OFPBIC_BAD_LEN on length problems, OFPBIC_UNKNOWN_INST on unknown types.
    """
    end = len(data) if length is None else offset + length
    if end > len(data):
        raise _bad_ins_len("instructions run past the message")
    out = []
    p = offset
    while p < end:
        if p + 4 > end:
            raise _bad_ins_len("truncated instruction header")
        itype, ilen = _INS_HDR.unpack_from(data, p)
        if ilen < 8 or ilen % 8 or p + ilen > end:
            raise _bad_ins_len(f"bad instruction length {ilen}")
        icls = _INSTRUCTIONS.get(itype)
        if icls is None:
            raise OFPDecodeError(ET.OFPET_BAD_INSTRUCTION, BIC.OFPBIC_UNKNOWN_INST,
                                 f"unknown instruction {itype}")
        if issubclass(icls, _ActionsInstruction):
            # Its actions are decoded in place (ilen >= 8 covers the 4-byte pad).
            out.append(icls(decode_actions(version, data, p + 8, ilen - 8)))
        else:
            out.append(icls._decode_body(version, bytes(data[p + 4:p + ilen])))
        p += ilen
    return out


def encode_instructions(version: int, instructions: list[Instruction]) -> bytes:
    """Encode an instruction list."""
    return b"".join(i.encode(version) for i in instructions)
