"""Match fields: the OXM/NXM field registry, the :class:`Match` type and its codecs.

Spec: OpenFlow 1.3.5 section 7.2.3 ("Flow Match Structures", OXM TLVs, A.2.3),
1.5.1 section 7.2.3; Nicira NXM as in OVS ``include/openflow/nicira-ext.h`` and
``include/openvswitch/meta-flow.h`` (which this table follows for names, widths
and maskability).

Relation to the other modules: :mod:`ofproto.ofp.messages` calls
:func:`decode_ofp_match`/:func:`encode_ofp_match` for the ``ofp_match`` of
FlowMod/FlowStats/PacketIn..., :mod:`ofproto.ofp.actions` uses
:func:`decode_oxm_tlv`/:func:`encode_oxm_tlv` for OFPAT_SET_FIELD and
:func:`lookup_header` for NXAST_REG_LOAD/REG_MOVE; the flow table consumes
:class:`Match` and checks :attr:`FieldSpec.prereqs` via :func:`check_prereqs`.

Representation (decided here, keep it simple to compare):

* A :class:`Match` is an ordered mapping ``canonical field name -> (value, mask)``
  where ``mask`` is ``None`` for an exact match.  Keys given as aliases
  (``dl_src``, ``ipv4_src``, ``tunnel_id``...) are normalised to the canonical OVS
  name (``eth_src``, ``ip_src``, ``tun_id``).
* Values and masks are **ints** for every field: MAC addresses are 48-bit ints,
  IPv4 addresses 32-bit ints, IPv6 addresses 128-bit ints (big-endian network
  order).  Use :func:`mac`/:func:`ipv4`/:func:`ipv6` to build them from text and
  :func:`format_value` to print them.
* Decoding remembers which wire header each entry came with (NXM vs OXM for the
  same field), so decode+encode is byte-exact; equality ignores it.
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import ItemsView, Iterable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass, field

from .consts import NX_VENDOR_ID, ONF_EXPERIMENTER_ID, OFPMatchType, port_from_of10, port_to_of10
from .consts import OFPBadMatchCode as BMC
from .consts import OFPErrorType as ET
from .errors import OFPDecodeError

__all__ = [
    "FieldSpec",
    "Match",
    "FIELDS",
    "field_by_name",
    "lookup_header",
    "encode_oxm",
    "decode_oxm",
    "encode_nxm",
    "decode_nxm",
    "encode_ofp_match",
    "decode_ofp_match",
    "encode_oxm_tlv",
    "decode_oxm_tlv",
    "check_prereqs",
    "mac",
    "ipv4",
    "ipv6",
    "format_value",
]

_OXM = 0x8000
_NXM0 = 0x0000
_NXM1 = 0x0001
_PKT_REGS = 0x8001
_EXP = 0xFFFF

ETH_IPV4 = 0x0800
ETH_IPV6 = 0x86DD
ETH_ARP = 0x0806
ETH_RARP = 0x8035
ETH_MPLS = (0x8847, 0x8848)
ETH_PBB = 0x88E7

# A wire identity: (class, field number, experimenter id or None, exp_type or None).
WireKey = tuple[int, int, int | None, int | None]
# A prerequisite: (field name, allowed values, mask applied to the value first).
Prereq = tuple[str, tuple[int, ...], int]


@dataclass(frozen=True, slots=True)
class Wire:
    """One wire encoding of a field (OXM basic, NXM0/1, experimenter)."""

    oxm_class: int
    field: int
    width: int
    experimenter: int | None = None
    exp_type: int | None = None  # ONF EXT-256 style 16-bit type after the experimenter id
    of10_port: bool = False  # NXM_OF_IN_PORT: 16-bit OF1.0 port numbers

    @property
    def key(self) -> WireKey:
        return (self.oxm_class, self.field, self.experimenter, self.exp_type)

    @property
    def prefix_len(self) -> int:
        n = 4 if self.experimenter is not None else 0
        return n + (2 if self.exp_type is not None else 0)


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """A match field (spec 1.3.5 A.2.3.7 ``oxm_ofb_match_fields``; OVS meta-flow.h).

    ``name`` is the canonical name ovs-ofctl prints, ``aliases`` the other
    accepted names (spec OXM names, OpenFlow 1.0 names).  ``width`` is the value
    width in bytes, ``bits`` the number of significant low bits.  ``oxm`` and
    ``nxm`` are the wire encodings (either may be None).  ``prereqs`` lists
    (field, allowed values, mask) triples that must all hold in the same match.
    """

    name: str
    width: int
    maskable: bool
    oxm: Wire | None = None
    nxm: Wire | None = None
    aliases: tuple[str, ...] = ()
    bits: int = 0
    prereqs: tuple[Prereq, ...] = ()
    extra_wires: tuple[Wire, ...] = field(default=())

    @property
    def nbits(self) -> int:
        return self.bits or self.width * 8

    def wires(self) -> Iterator[Wire]:
        if self.oxm is not None:
            yield self.oxm
        if self.nxm is not None:
            yield self.nxm
        yield from self.extra_wires


# --- prerequisites (spec 1.3.5 section 7.2.3.6, table 12) -----------------------

_IP_ANY: tuple[Prereq, ...] = (("eth_type", (ETH_IPV4, ETH_IPV6), 0xFFFF),)
_IP4: tuple[Prereq, ...] = (("eth_type", (ETH_IPV4,), 0xFFFF),)
_IP6: tuple[Prereq, ...] = (("eth_type", (ETH_IPV6,), 0xFFFF),)
_ARP: tuple[Prereq, ...] = (("eth_type", (ETH_ARP, ETH_RARP), 0xFFFF),)
_MPLS: tuple[Prereq, ...] = (("eth_type", ETH_MPLS, 0xFFFF),)
_PBB: tuple[Prereq, ...] = (("eth_type", (ETH_PBB,), 0xFFFF),)
_TCP = _IP_ANY + (("ip_proto", (6,), 0xFF),)
_UDP = _IP_ANY + (("ip_proto", (17,), 0xFF),)
_SCTP = _IP_ANY + (("ip_proto", (132,), 0xFF),)
_ICMP4 = _IP4 + (("ip_proto", (1,), 0xFF),)
_ICMP6 = _IP6 + (("ip_proto", (58,), 0xFF),)
_ND = _ICMP6 + (("icmpv6_type", (135, 136), 0xFF),)
_ND_SOL = _ICMP6 + (("icmpv6_type", (135,), 0xFF),)
_ND_ADV = _ICMP6 + (("icmpv6_type", (136,), 0xFF),)
_VLAN = (("vlan_vid", (0x1000,), 0x1000),)


def _b(f: int, w: int) -> Wire:
    return Wire(_OXM, f, w)


def _n0(f: int, w: int, **kw: bool) -> Wire:
    return Wire(_NXM0, f, w, **kw)


def _n1(f: int, w: int) -> Wire:
    return Wire(_NXM1, f, w)


def _F(
    name: str,
    width: int,
    maskable: bool,
    oxm: Wire | None = None,
    nxm: Wire | None = None,
    aliases: tuple[str, ...] = (),
    bits: int = 0,
    prereqs: tuple[Prereq, ...] = (),
    extra: tuple[Wire, ...] = (),
) -> FieldSpec:
    return FieldSpec(name, width, maskable, oxm, nxm, aliases, bits, prereqs, extra)


_ONF_TCP_FLAGS = Wire(_EXP, 42, 2, ONF_EXPERIMENTER_ID)
_ONF_ACTSET_OUTPUT = Wire(_EXP, 43, 4, ONF_EXPERIMENTER_ID)
_ONF_PBB_UCA = Wire(_EXP, 0, 1, ONF_EXPERIMENTER_ID, 2560)  # ONF EXT-256 for OF1.3

FIELDS: tuple[FieldSpec, ...] = (
    # --- OpenFlow basic class (spec 1.3.5 A.2.3.7) ---
    _F("in_port", 4, False, _b(0, 4), _n0(0, 2, of10_port=True)),
    _F("in_phy_port", 4, False, _b(1, 4), prereqs=(("in_port", (), 0),)),
    _F("metadata", 8, True, _b(2, 8)),
    _F("eth_dst", 6, True, _b(3, 6), _n0(1, 6), ("dl_dst",)),
    _F("eth_src", 6, True, _b(4, 6), _n0(2, 6), ("dl_src",)),
    _F("eth_type", 2, False, _b(5, 2), _n0(3, 2), ("dl_type",)),
    _F("vlan_vid", 2, True, _b(6, 2), bits=13),
    _F("vlan_pcp", 1, False, _b(7, 1), bits=3, prereqs=_VLAN),
    _F("ip_dscp", 1, False, _b(8, 1), bits=6, prereqs=_IP_ANY),
    _F("nw_ecn", 1, False, _b(9, 1), _n1(28, 1), ("ip_ecn",), bits=2, prereqs=_IP_ANY),
    _F("nw_proto", 1, False, _b(10, 1), _n0(6, 1), ("ip_proto",), prereqs=_IP_ANY),
    _F("ip_src", 4, True, _b(11, 4), _n0(7, 4), ("nw_src", "ipv4_src"), prereqs=_IP4),
    _F("ip_dst", 4, True, _b(12, 4), _n0(8, 4), ("nw_dst", "ipv4_dst"), prereqs=_IP4),
    _F("tcp_src", 2, True, _b(13, 2), _n0(9, 2), ("tp_src",), prereqs=_TCP),
    _F("tcp_dst", 2, True, _b(14, 2), _n0(10, 2), ("tp_dst",), prereqs=_TCP),
    _F("udp_src", 2, True, _b(15, 2), _n0(11, 2), prereqs=_UDP),
    _F("udp_dst", 2, True, _b(16, 2), _n0(12, 2), prereqs=_UDP),
    _F("sctp_src", 2, True, _b(17, 2), prereqs=_SCTP),
    _F("sctp_dst", 2, True, _b(18, 2), prereqs=_SCTP),
    _F("icmp_type", 1, False, _b(19, 1), _n0(13, 1), ("icmpv4_type",), prereqs=_ICMP4),
    _F("icmp_code", 1, False, _b(20, 1), _n0(14, 1), ("icmpv4_code",), prereqs=_ICMP4),
    _F("arp_op", 2, False, _b(21, 2), _n0(15, 2), prereqs=_ARP),
    _F("arp_spa", 4, True, _b(22, 4), _n0(16, 4), prereqs=_ARP),
    _F("arp_tpa", 4, True, _b(23, 4), _n0(17, 4), prereqs=_ARP),
    _F("arp_sha", 6, True, _b(24, 6), _n1(17, 6), prereqs=_ARP),
    _F("arp_tha", 6, True, _b(25, 6), _n1(18, 6), prereqs=_ARP),
    _F("ipv6_src", 16, True, _b(26, 16), _n1(19, 16), prereqs=_IP6),
    _F("ipv6_dst", 16, True, _b(27, 16), _n1(20, 16), prereqs=_IP6),
    _F("ipv6_label", 4, True, _b(28, 4), _n1(27, 4), ("ipv6_flabel",), bits=20, prereqs=_IP6),
    _F("icmpv6_type", 1, False, _b(29, 1), _n1(21, 1), prereqs=_ICMP6),
    _F("icmpv6_code", 1, False, _b(30, 1), _n1(22, 1), prereqs=_ICMP6),
    _F("nd_target", 16, True, _b(31, 16), _n1(23, 16), ("ipv6_nd_target",), prereqs=_ND),
    _F("nd_sll", 6, True, _b(32, 6), _n1(24, 6), ("ipv6_nd_sll",), prereqs=_ND_SOL),
    _F("nd_tll", 6, True, _b(33, 6), _n1(25, 6), ("ipv6_nd_tll",), prereqs=_ND_ADV),
    _F("mpls_label", 4, False, _b(34, 4), bits=20, prereqs=_MPLS),
    _F("mpls_tc", 1, False, _b(35, 1), bits=3, prereqs=_MPLS),
    _F("mpls_bos", 1, False, _b(36, 1), bits=1, prereqs=_MPLS),
    _F("pbb_isid", 3, True, _b(37, 3), prereqs=_PBB),
    _F("tun_id", 8, True, _b(38, 8), _n1(16, 8), ("tunnel_id",)),
    _F("ipv6_exthdr", 2, True, _b(39, 2), bits=9, prereqs=_IP6),
    _F("pbb_uca", 1, False, _b(41, 1), bits=1, prereqs=_PBB, extra=(_ONF_PBB_UCA,)),
    _F("tcp_flags", 2, True, _b(42, 2), _n1(34, 2), bits=12, prereqs=_TCP,
       extra=(_ONF_TCP_FLAGS,)),
    _F("actset_output", 4, False, _b(43, 4), extra=(_ONF_ACTSET_OUTPUT,)),
    _F("packet_type", 4, False, _b(44, 4)),
    # --- Nicira extensions (OVS meta-flow.h) ---
    _F("vlan_tci", 2, True, nxm=_n0(4, 2)),
    _F("nw_tos", 1, False, nxm=_n0(5, 1), prereqs=_IP_ANY),
    _F("nw_ttl", 1, False, nxm=_n1(29, 1), prereqs=_IP_ANY),
    _F("ip_frag", 1, True, nxm=_n1(26, 1), aliases=("nw_frag",), bits=2, prereqs=_IP_ANY),
    _F("mpls_ttl", 1, False, nxm=_n1(30, 1), prereqs=_MPLS),
    _F("tun_src", 4, True, nxm=_n1(31, 4), aliases=("tun_ipv4_src",)),
    _F("tun_dst", 4, True, nxm=_n1(32, 4), aliases=("tun_ipv4_dst",)),
    _F("tun_ipv6_src", 16, True, nxm=_n1(109, 16)),
    _F("tun_ipv6_dst", 16, True, nxm=_n1(110, 16)),
    _F("tun_flags", 2, True, nxm=_n1(104, 2), bits=1),
    _F("tun_gbp_id", 2, True, nxm=_n1(38, 2)),
    _F("tun_gbp_flags", 1, True, nxm=_n1(39, 1)),
    _F("pkt_mark", 4, True, nxm=_n1(33, 4)),
    _F("dp_hash", 4, True, nxm=_n1(35, 4), extra=(Wire(_EXP, 0, 4, NX_VENDOR_ID),)),
    _F("recirc_id", 4, False, nxm=_n1(36, 4)),
    _F("conj_id", 4, False, nxm=_n1(37, 4)),
    _F("ct_state", 4, True, nxm=_n1(105, 4)),
    _F("ct_zone", 2, False, nxm=_n1(106, 2)),
    _F("ct_mark", 4, True, nxm=_n1(107, 4)),
    _F("ct_label", 16, True, nxm=_n1(108, 16)),
    _F("ct_nw_proto", 1, False, nxm=_n1(119, 1)),
    _F("ct_nw_src", 4, True, nxm=_n1(120, 4)),
    _F("ct_nw_dst", 4, True, nxm=_n1(121, 4)),
    _F("ct_ipv6_src", 16, True, nxm=_n1(122, 16)),
    _F("ct_ipv6_dst", 16, True, nxm=_n1(123, 16)),
    _F("ct_tp_src", 2, True, nxm=_n1(124, 2)),
    _F("ct_tp_dst", 2, True, nxm=_n1(125, 2)),
    *(_F(f"reg{i}", 4, True, nxm=_n1(i, 4)) for i in range(16)),
    *(_F(f"xreg{i}", 8, True, oxm=Wire(_PKT_REGS, i, 8)) for i in range(16)),
    *(_F(f"xxreg{i}", 16, True, nxm=_n1(111 + i, 16)) for i in range(4)),
)

_BY_NAME: dict[str, FieldSpec] = {}
_BY_WIRE: dict[WireKey, tuple[FieldSpec, Wire]] = {}
for _f in FIELDS:
    for _name in (_f.name, *_f.aliases):
        assert _name not in _BY_NAME, _name
        _BY_NAME[_name] = _f
    for _w in _f.wires():
        assert _w.key not in _BY_WIRE, _w
        _BY_WIRE[_w.key] = (_f, _w)
del _f, _name, _w


def field_by_name(name: str) -> FieldSpec:
    """Return the field for a canonical name or alias; KeyError if unknown."""
    return _BY_NAME[name]


def lookup_header(header: int, experimenter: int | None = None) -> tuple[FieldSpec, Wire]:
    """Resolve a 32-bit OXM/NXM header (mask bit and length ignored) to its field.

    Raises OFPDecodeError(OFPET_BAD_MATCH, OFPBMC_BAD_FIELD) for unknown fields.
    """
    cls = header >> 16
    fnum = (header >> 9) & 0x7F
    key = (cls, fnum, experimenter if cls == _EXP else None, None)
    try:
        return _BY_WIRE[key]
    except KeyError:
        raise OFPDecodeError(ET.OFPET_BAD_MATCH, BMC.OFPBMC_BAD_FIELD,
                             f"unknown match field class={cls:#x} field={fnum}") from None


def wire_header(wire: Wire, has_mask: bool = False) -> int:
    """The 32-bit OXM/NXM header for ``wire`` (length includes any experimenter prefix)."""
    length = wire.prefix_len + wire.width * (2 if has_mask else 1)
    return (wire.oxm_class << 16) | (wire.field << 9) | (int(has_mask) << 8) | length


# --- the Match type -------------------------------------------------------------

MatchValue = tuple[int, int | None]


class Match(MutableMapping[str, MatchValue]):
    """Ordered mapping ``field name -> (value, mask or None)`` (spec 1.3.5 7.2.3).

    Keys are normalised to canonical OVS names; ``Match(dl_src=(1, None))``,
    ``Match({'ipv4_src': (0x0a000001, None)})`` and ``m['eth_type'] = 0x800``
    (a bare int means exact match) all work.  Order is preserved so encoding
    keeps the wire order.
    """

    __slots__ = ("_d", "_wire")

    def __init__(self, items: Mapping[str, object] | Iterable[tuple[str, object]] = (),
                 **kw: object) -> None:
        self._d: dict[str, MatchValue] = {}
        self._wire: dict[str, Wire] = {}
        it = items.items() if isinstance(items, Mapping) else items
        for k, v in it:
            self[k] = v  # type: ignore[assignment]
        for k, v in kw.items():
            self[k] = v  # type: ignore[assignment]

    @staticmethod
    def _canon(name: str) -> str:
        try:
            return _BY_NAME[name].name
        except KeyError:
            raise KeyError(f"unknown match field {name!r}") from None

    def __getitem__(self, name: str) -> MatchValue:
        return self._d[self._canon(name)]

    def __setitem__(self, name: str, value: MatchValue | int) -> None:
        if isinstance(value, int):
            value = (value, None)
        v, m = value
        self._d[self._canon(name)] = (int(v), None if m is None else int(m))

    def __delitem__(self, name: str) -> None:
        c = self._canon(name)
        del self._d[c]
        self._wire.pop(c, None)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in _BY_NAME and _BY_NAME[name].name in self._d

    def __iter__(self) -> Iterator[str]:
        return iter(self._d)

    def __len__(self) -> int:
        return len(self._d)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Match):
            return self._d == other._d
        if isinstance(other, Mapping):
            try:
                return self._d == Match(other)._d
            except (KeyError, TypeError, ValueError):
                return False
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        parts = []
        for k, (v, m) in self._d.items():
            parts.append(f"{k}={format_value(k, v)}" + ("" if m is None else
                                                         f"/{format_value(k, m)}"))
        return f"Match({', '.join(parts)})"

    def value(self, name: str, default: int | None = None) -> int | None:
        """The value of ``name`` (ignoring any mask), or ``default``."""
        e = self._d.get(self._canon(name))
        return default if e is None else e[0]

    @classmethod
    def normalised(cls, d: dict[str, MatchValue], wires: dict[str, Wire]) -> Match:
        """A match over ``d`` and ``wires`` (canonical name -> the wire it encodes with)
        as they are, taking them over: the names must be canonical and the values
        normalised, since nothing is checked per item."""
        out = cls.__new__(cls)
        out._d = d
        out._wire = wires
        return out

    def copy(self) -> Match:
        """An independent copy that encodes with the same wire headers."""
        return Match.normalised(dict(self._d), dict(self._wire))

    def wires(self) -> dict[str, Wire]:
        """A copy of the wire each field encodes with, for the fields decoded or given
        one (the others take the default wire)."""
        return dict(self._wire)

    def entries(self) -> ItemsView[str, MatchValue]:
        """The ``(canonical name, (value, mask or None))`` pairs, read-only and cheaper
        than ``items()`` (no name normalisation per key)."""
        return self._d.items()

    def to_dict(self) -> dict[str, MatchValue]:
        """A plain ``{canonical name: (value, mask or None)}`` copy."""
        return dict(self._d)


# --- TLV codec ------------------------------------------------------------------

_HDR = struct.Struct("!I")
_EXPID = struct.Struct("!I")
_U16 = struct.Struct("!H")


def _int_from(data: bytes | memoryview) -> int:
    return int.from_bytes(data, "big")


def decode_oxm_tlv(data: bytes | memoryview, offset: int = 0, *,
                   bad_len: tuple[int, int] = (ET.OFPET_BAD_MATCH, BMC.OFPBMC_BAD_LEN),
                   ) -> tuple[FieldSpec, Wire, int, int | None, int]:
    """Decode one OXM/NXM TLV at ``offset`` (spec 1.3.5 7.2.3.2).

    Returns ``(field, wire, value, mask, new_offset)``.  Length problems raise
    OFPDecodeError(``bad_len``), unknown fields OFPBMC_BAD_FIELD, a mask on a
    non-maskable field OFPBMC_BAD_MASK, out-of-range values OFPBMC_BAD_VALUE.
    """
    end = len(data)
    if offset + 4 > end:
        raise OFPDecodeError(*bad_len, "truncated OXM header")
    (header,) = _HDR.unpack_from(data, offset)
    length = header & 0xFF
    has_mask = bool(header & 0x100)
    if offset + 4 + length > end:
        raise OFPDecodeError(*bad_len, "OXM TLV runs past the end of the match")
    p = offset + 4
    cls = header >> 16
    exp = None
    if cls == _EXP:
        if length < 4:
            raise OFPDecodeError(*bad_len, "experimenter OXM too short")
        (exp,) = _EXPID.unpack_from(data, p)
    spec_wire = _BY_WIRE.get((cls, (header >> 9) & 0x7F, exp, None))
    if spec_wire is None and exp is not None and length >= 6:
        (exp_type,) = _U16.unpack_from(data, p + 4)
        spec_wire = _BY_WIRE.get((cls, (header >> 9) & 0x7F, exp, exp_type))
    if spec_wire is None:
        lookup_header(header, exp)  # raises BAD_FIELD
        raise AssertionError  # pragma: no cover
    spec, wire = spec_wire
    p += wire.prefix_len
    w = wire.width
    if length != wire.prefix_len + w * (2 if has_mask else 1):
        raise OFPDecodeError(*bad_len, f"bad OXM length {length} for {spec.name}")
    value = _int_from(data[p:p + w])
    mask = _int_from(data[p + w:p + 2 * w]) if has_mask else None
    if has_mask and not spec.maskable:
        raise OFPDecodeError(ET.OFPET_BAD_MATCH, BMC.OFPBMC_BAD_MASK,
                             f"{spec.name} is not maskable")
    if wire.of10_port:
        value = port_from_of10(value)
    elif spec.bits and value >> spec.bits:
        raise OFPDecodeError(ET.OFPET_BAD_MATCH, BMC.OFPBMC_BAD_VALUE,
                             f"{spec.name} value {value:#x} out of range")
    return spec, wire, value, mask, offset + 4 + length


def encode_oxm_tlv(spec: FieldSpec, value: int, mask: int | None, wire: Wire | None = None,
                   *, prefer_nxm: bool = False) -> bytes:
    """Encode one OXM/NXM TLV (no padding).  ``wire`` picks the header explicitly."""
    if wire is None:
        wire = (spec.nxm or spec.oxm) if prefer_nxm else (spec.oxm or spec.nxm)
        if wire is None:
            wire = spec.extra_wires[0]
    w = wire.width
    if wire.of10_port:
        value = port_to_of10(value)
    out = bytearray(_HDR.pack(wire_header(wire, mask is not None)))
    if wire.experimenter is not None:
        out += _EXPID.pack(wire.experimenter)
    if wire.exp_type is not None:
        out += _U16.pack(wire.exp_type)
    out += value.to_bytes(w, "big")
    if mask is not None:
        out += mask.to_bytes(w, "big")
    return bytes(out)


def _fast_headers() -> dict[int, tuple[str, Wire, int, bool, int]]:
    """Full 32-bit TLV header -> (name, wire, value width, has mask, value bits) for
    every header :func:`decode_oxm_tlv` accepts without an experimenter prefix, port
    translation or a mask error: the whole header is a dict key, so its length is
    right by construction."""
    out = {}
    for spec in FIELDS:
        for wire in spec.wires():
            if wire.experimenter is not None or wire.of10_port:
                continue
            for has_mask in (False, True) if spec.maskable else (False,):
                out[wire_header(wire, has_mask)] = (spec.name, wire, wire.width, has_mask,
                                                    spec.bits)
    return out


TLV_HEADERS = _fast_headers()
"""Full 32-bit OXM/NXM TLV header -> ``(canonical name, wire, value width in bytes, has
mask, significant bits or 0)`` for every header decoded without an experimenter prefix or
port translation."""


def _decode_tlvs(data: bytes | memoryview, start: int, end: int,
                 bad_len: tuple[int, int]) -> Match:
    d: dict[str, MatchValue] = {}
    wires: dict[str, Wire] = {}
    fast = TLV_HEADERS
    unpack = _HDR.unpack_from
    from_bytes = int.from_bytes
    p = start
    view = data if end == len(data) else None
    while p < end:
        # Common fields in one dict probe; anything unusual or wrong (experimenter
        # fields, truncation, out-of-range values) takes the general decoder, which
        # also raises the right error.
        e = fast.get(unpack(data, p)[0]) if p + 4 <= end else None
        if e is not None:
            name, wire, w, has_mask, bits = e
            q = p + 4
            nxt = q + (w + w if has_mask else w)
            value = from_bytes(data[q:q + w], "big")
            if nxt > end or (bits and value >> bits):
                e = None
            else:
                mask = from_bytes(data[q + w:nxt], "big") if has_mask else None
                p = nxt
        if e is None:
            if view is None:
                view = data[:end]
            spec, wire, value, mask, p = decode_oxm_tlv(view, p, bad_len=bad_len)
            name = spec.name
        if name in d:
            raise OFPDecodeError(ET.OFPET_BAD_MATCH, BMC.OFPBMC_DUP_FIELD,
                                 f"duplicate field {name}")
        d[name] = (value, mask)
        wires[name] = wire
    return Match.normalised(d, wires)


def _default_wires(prefer_nxm: bool) -> dict[str, Wire]:
    """The wire :func:`encode_oxm_tlv` picks for each field when none is given."""
    out = {}
    for spec in FIELDS:
        wire = (spec.nxm or spec.oxm) if prefer_nxm else (spec.oxm or spec.nxm)
        out[spec.name] = wire if wire is not None else spec.extra_wires[0]
    return out


def _encode_headers(has_mask: bool) -> dict[int, tuple[bytes, int]]:
    """id(wire) -> (packed TLV header, value width) for the wires :func:`encode_oxm_tlv`
    writes as header + value (+ mask): no experimenter prefix, no port translation.
    Keyed by identity: the wires are the module's own, alive as long as it is."""
    return {id(w): (_HDR.pack(wire_header(w, has_mask)), w.width)
            for spec in FIELDS for w in spec.wires()
            if w.experimenter is None and not w.of10_port}


_WIRE_OXM = _default_wires(False)
_WIRE_NXM = _default_wires(True)
_ENC_EXACT = _encode_headers(False)
_ENC_MASKED = _encode_headers(True)


def _encode_tlvs(match: Mapping[str, MatchValue], prefer_nxm: bool) -> bytes:
    if not isinstance(match, Match):
        match = Match(match)
    wires = match._wire
    default = _WIRE_NXM if prefer_nxm else _WIRE_OXM
    parts = []
    for name, (v, m) in match._d.items():
        wire = wires.get(name) or default[name]
        hw = (_ENC_EXACT if m is None else _ENC_MASKED).get(id(wire))
        if hw is None:
            parts.append(encode_oxm_tlv(_BY_NAME[name], v, m, wire))
        elif m is None:
            parts.append(hw[0] + v.to_bytes(hw[1], "big"))
        else:
            parts.append(hw[0] + v.to_bytes(hw[1], "big") + m.to_bytes(hw[1], "big"))
    return b"".join(parts)


def encode_nxm(match: Mapping[str, MatchValue]) -> bytes:
    """Encode a bare NXM/OXM TLV sequence (NXT_FLOW_MOD ``nx_match``), unpadded.

    Fields with an NXM header use it; OXM-only fields fall back to their OXM
    header (as OVS does when it writes nx_match).
    """
    return _encode_tlvs(match, True)


def decode_nxm(data: bytes | memoryview, length: int | None = None) -> tuple[Match, int]:
    """Decode ``length`` bytes (default: all) of bare NXM/OXM TLVs.

    Returns ``(match, consumed)``; ``consumed`` is ``length`` (padding, if any,
    is the caller's business, as in nx_flow_mod).
    """
    end = len(data) if length is None else length
    if end > len(data):
        raise OFPDecodeError(ET.OFPET_BAD_MATCH, BMC.OFPBMC_BAD_LEN, "nx_match truncated")
    return _decode_tlvs(data, 0, end, _BAD_MATCH_LEN), end


_MATCH_HDR = struct.Struct("!HH")
# Plain values: enum members cost an attribute lookup per use.
_BAD_MATCH_LEN = (int(ET.OFPET_BAD_MATCH), int(BMC.OFPBMC_BAD_LEN))
_OFPMT_OXM = int(OFPMatchType.OFPMT_OXM)


def encode_oxm(match: Mapping[str, MatchValue]) -> bytes:
    """Encode an ``ofp_match`` of type OFPMT_OXM, padded to 8 (spec 1.3.5 A.2.3.1)."""
    body = _encode_tlvs(match, False)
    length = 4 + len(body)
    return _MATCH_HDR.pack(OFPMatchType.OFPMT_OXM, length) + body + bytes(-length % 8)


def decode_oxm(data: bytes | memoryview, offset: int = 0) -> tuple[Match, int]:
    """Decode an ``ofp_match`` (type OFPMT_OXM) at ``offset``.

    Returns ``(match, consumed)`` where ``consumed`` includes the padding to 8.
    Raises OFPDecodeError OFPBMC_BAD_TYPE for non-OXM match types and
    OFPBMC_BAD_LEN for length problems.
    """
    if offset + 4 > len(data):
        raise OFPDecodeError(ET.OFPET_BAD_MATCH, BMC.OFPBMC_BAD_LEN, "truncated ofp_match")
    mtype, length = _MATCH_HDR.unpack_from(data, offset)
    if mtype != _OFPMT_OXM:
        raise OFPDecodeError(ET.OFPET_BAD_MATCH, BMC.OFPBMC_BAD_TYPE,
                             f"unsupported match type {mtype}")
    padded = (length + 7) & ~7
    if length < 4 or offset + padded > len(data):
        raise OFPDecodeError(ET.OFPET_BAD_MATCH, BMC.OFPBMC_BAD_LEN, "bad ofp_match length")
    return _decode_tlvs(data, offset + 4, offset + length, _BAD_MATCH_LEN), padded


# Canonical field name -> its prerequisites as (name, canonical name, allowed values,
# mask): prereqs may name a field by an alias, resolved once here.
_PREREQS: dict[str, tuple[tuple[str, str, tuple[int, ...], int], ...]] = {
    f.name: tuple((p, _BY_NAME[p].name, allowed, pmask) for p, allowed, pmask in f.prereqs)
    for f in FIELDS}

# Names kept for callers that read better with the struct name.
encode_ofp_match = encode_oxm
decode_ofp_match = decode_oxm


def check_prereqs(match: Mapping[str, MatchValue]) -> None:
    """Check every field's prerequisites (spec 1.3.5 7.2.3.6).

    Raises OFPDecodeError(OFPET_BAD_MATCH, OFPBMC_BAD_PREREQ) on the first
    field whose prerequisite is missing or has another value.  A prerequisite
    with an empty value tuple only requires the field's presence.
    """
    if not isinstance(match, Match):
        match = Match(match)
    d = match._d
    for name in d:
        for pname, canon, allowed, pmask in _PREREQS[name]:
            e = d.get(canon)
            ok = e is not None and (not allowed or (
                (e[1] is None or (e[1] & pmask) == pmask) and (e[0] & pmask) in allowed))
            if not ok:
                raise OFPDecodeError(ET.OFPET_BAD_MATCH, BMC.OFPBMC_BAD_PREREQ,
                                     f"{name} requires {pname} in {allowed}")


# --- value helpers --------------------------------------------------------------

_MAC_FIELDS = {"eth_src", "eth_dst", "arp_sha", "arp_tha", "nd_sll", "nd_tll"}
_IP4_FIELDS = {"ip_src", "ip_dst", "arp_spa", "arp_tpa", "tun_src", "tun_dst",
               "ct_nw_src", "ct_nw_dst"}
_IP6_FIELDS = {"ipv6_src", "ipv6_dst", "nd_target", "tun_ipv6_src", "tun_ipv6_dst",
               "ct_ipv6_src", "ct_ipv6_dst"}


def mac(text: str) -> int:
    """``'aa:bb:cc:dd:ee:ff'`` -> int."""
    return int(text.replace(":", "").replace("-", ""), 16)


def ipv4(text: str) -> int:
    """``'10.0.0.1'`` -> int."""
    return int(ipaddress.IPv4Address(text))


def ipv6(text: str) -> int:
    """``'fe80::1'`` -> int."""
    return int(ipaddress.IPv6Address(text))


def format_value(name: str, value: int) -> str:
    """Render a value the way ovs-ofctl shows it (MAC/IP text, else decimal/hex)."""
    canon = _BY_NAME[name].name if name in _BY_NAME else name
    if canon in _MAC_FIELDS:
        return ":".join(f"{b:02x}" for b in value.to_bytes(6, "big"))
    if canon in _IP4_FIELDS:
        return str(ipaddress.IPv4Address(value))
    if canon in _IP6_FIELDS:
        return str(ipaddress.IPv6Address(value))
    return str(value) if value < 0x10000 else hex(value)
