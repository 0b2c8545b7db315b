"""Datapath flow keys, masks and actions: one Python vocabulary, OVS's ODP text, C binary.

Every dpif provider speaks this module's types: the userspace provider (over the C fast
path in ``dpdk_glue``) and, later, the netlink provider (over the kernel module).
``ovs-appctl dpctl/dump-flows`` and the ofproto layer print and parse flows with it.

Three forms of the same thing:

* Python objects: :class:`FlowKey` (a megaflow mask is a ``FlowKey`` too), :class:`Megaflow`
  and the action classes (:class:`Output`, :class:`Userspace`, :class:`PushVlan`, ...).
* OVS's ODP text, as ``lib/odp-util.c`` prints it for the userspace datapath:
  :func:`format_key` / :func:`parse_key` follow ``odp_flow_format()`` /
  ``format_odp_key_attr__()`` / ``parse_odp_key_mask_attr()``, and
  :func:`format_actions` / :func:`parse_actions` follow ``format_odp_actions()`` /
  ``parse_odp_action()``.
* The C binary: :meth:`FlowKey.to_bytes` is ``struct vsw_flow_key``
  (``dpdk_glue/include/vsw_flow.h``), :func:`encode_actions` is the record stream of
  ``dpdk_glue/include/vsw_actions.h``.  Change those headers and this module together.

Representation (``FlowKey`` fields use natural host values, whatever the C byte order):

* ports, ids, marks, EtherType, TCI, label, protocol numbers, TCP flags: ``int``;
* MAC addresses (``eth_src``, ``eth_dst``, ``arp_sha``, ``arp_tha``): 6-byte ``bytes``;
* IPv4 addresses (``ipv4_src``, ``ipv4_dst``): :class:`ipaddress.IPv4Address`;
  IPv6 addresses (``ipv6_src``, ``ipv6_dst``, ``nd_target``): :class:`ipaddress.IPv6Address`
  (masks use the same types: ``255.255.255.0``, ``::ffff``);
* ``vlan_tci`` includes :data:`VLAN_CFI` when a tag is present (0 = untagged), as in C;
* ICMP/ICMPv6 type and code live in ``tp_src``/``tp_dst`` (exact mask ``0xff``), the
  ARP opcode in ``nw_proto`` (exact mask ``0xff``), as in C and in OVS's ``struct flow``;
* ``nw_frag`` is a set of :data:`FRAG_ANY`/:data:`FRAG_LATER` bits; its mask is 0 or 3.

The key has no field for OVS's skb_priority, conntrack, tunnel or packet_type: the parser
accepts those attributes only when they are zero or wildcarded, and the printer emits them
as constants (``skb_priority(0)``, ``ct_state(0)``, ``packet_type(ns=0,id=0)``, ...) where
OVS's userspace datapath does.

Every malformed input raises :class:`ValueError` whose message names the offending
attribute, field or token.
"""

from __future__ import annotations

import dataclasses
import functools
import ipaddress
import re
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv6Address
from typing import Any

__all__ = [
    "VLAN_CFI", "FRAG_ANY", "FRAG_LATER", "FLOW_KEY_SIZE", "ETH_TYPE_802_3",
    "FlowKey", "Megaflow", "format_key", "parse_key",
    "Action", "Output", "Userspace", "PushVlan", "PopVlan", "Set", "SetMasked", "Clone",
    "Recirc", "Hash", "Sample", "Trunc", "Drop",
    "format_actions", "parse_actions", "encode_actions", "decode_actions",
    "ACTION_OUTPUT", "ACTION_USERSPACE", "ACTION_PUSH_VLAN", "ACTION_POP_VLAN",
    "ACTION_SET_MASKED", "ACTION_CLONE", "ACTION_RECIRC", "ACTION_HASH", "ACTION_SAMPLE",
    "ACTION_TRUNC", "ACTION_DROP", "MAX_ACTIONS_LEN", "MAX_USERSPACE_COOKIE",
]

# --- Constants mirrored from the C headers -----------------------------------------------

VLAN_CFI = 0x1000            # VSW_VLAN_CFI
FRAG_ANY = 0x01              # VSW_FRAG_ANY
FRAG_LATER = 0x02            # VSW_FRAG_LATER
FLOW_KEY_SIZE = 128          # VSW_FLOW_KEY_WORDS * 8
ETH_TYPE_802_3 = 0x05FF      # OVS's FLOW_DL_TYPE_NONE: 802.3 frame, no EtherType

ACTION_OUTPUT = 1
ACTION_USERSPACE = 2
ACTION_PUSH_VLAN = 3
ACTION_POP_VLAN = 4
ACTION_SET_MASKED = 5
ACTION_CLONE = 6
ACTION_RECIRC = 7
ACTION_HASH = 8
ACTION_SAMPLE = 9
ACTION_TRUNC = 10
ACTION_DROP = 11
ACTION_ALIGN = 8
MAX_ACTIONS_LEN = 65528
MAX_USERSPACE_COOKIE = 256

ETH_TYPE_IP = 0x0800
ETH_TYPE_ARP = 0x0806
ETH_TYPE_RARP = 0x8035
ETH_TYPE_VLAN = 0x8100
ETH_TYPE_IPV6 = 0x86DD
ETH_TYPE_MIN = 0x0600
IPPROTO_ICMP = 1
IPPROTO_TCP = 6
IPPROTO_UDP = 17
IPPROTO_ICMPV6 = 58
IPPROTO_SCTP = 132
ND_NEIGHBOR_SOLICIT = 135
ND_NEIGHBOR_ADVERT = 136

# --- FlowKey -------------------------------------------------------------------------------

_MAC0 = bytes(6)
_V4_0 = IPv4Address(0)
_V6_0 = IPv6Address(0)
_V6_ZERO_BYTES = bytes(16)

# (name, kind, bits) in C order.  kind: "u" int, "mac", "v4", "v6".
_FIELDS: tuple[tuple[str, str, int], ...] = (
    ("in_port", "u", 32), ("recirc_id", "u", 32), ("dp_hash", "u", 32),
    ("pkt_mark", "u", 32),
    ("eth_dst", "mac", 48), ("eth_src", "mac", 48), ("eth_type", "u", 16),
    ("vlan_tci", "u", 16),
    ("ipv4_src", "v4", 32), ("ipv4_dst", "v4", 32),
    ("ipv6_src", "v6", 128), ("ipv6_dst", "v6", 128), ("ipv6_label", "u", 20),
    ("nw_proto", "u", 8), ("nw_tos", "u", 8), ("nw_ttl", "u", 8), ("nw_frag", "u", 8),
    ("arp_sha", "mac", 48), ("arp_tha", "mac", 48),
    ("tp_src", "u", 16), ("tp_dst", "u", 16), ("tcp_flags", "u", 12),
    ("nd_target", "v6", 128),
)
_KIND = {name: kind for name, kind, _ in _FIELDS}
#: Width in bits of each FlowKey field (its values are below 1 << width).
FIELD_BITS: dict[str, int] = {name: bits for name, _, bits in _FIELDS}
_NAMES = tuple(name for name, _, _ in _FIELDS)

# Offsets and sizes of struct vsw_flow_key members, for tests and for anyone poking at
# raw keys.  The struct below must agree (checked at import).
FIELD_OFFSETS: dict[str, tuple[int, int]] = {
    "in_port": (0, 4), "recirc_id": (4, 4), "dp_hash": (8, 4), "pkt_mark": (12, 4),
    "eth_dst": (16, 6), "eth_src": (22, 6), "eth_type": (28, 2), "vlan_tci": (30, 2),
    "ipv4_src": (32, 4), "ipv4_dst": (36, 4), "ipv6_src": (40, 16), "ipv6_dst": (56, 16),
    "ipv6_label": (72, 4), "nw_proto": (76, 1), "nw_tos": (77, 1), "nw_ttl": (78, 1),
    "nw_frag": (79, 1), "arp_sha": (80, 6), "arp_tha": (86, 6), "tp_src": (92, 2),
    "tp_dst": (94, 2), "tcp_flags": (96, 2), "pad0": (98, 2), "nd_target": (100, 16),
    "pad1": (116, 12),
}

# Metadata is host order (x86-64 and arm64 hosts are little-endian; the C core asserts
# nothing else), packet fields are network order, so the key is two structs back to back.
_META = struct.Struct("<4I")
_PKT = struct.Struct(">6s6sHHII16s16sIBBBB6s6sHHHH16s")   # then 12 bytes of padding
assert _META.size + _PKT.size + 12 == FLOW_KEY_SIZE


def _unpack_key(data: bytes) -> tuple:
    """The 128-byte C key as (in_port, ..., tcp_flags, pad0, nd_target): ints for the
    integer fields, bytes for MACs and IPv6 addresses."""
    return _META.unpack_from(data, 0) + _PKT.unpack_from(data, 16)


def _pack_key(*values: Any) -> bytes:
    """Inverse of :func:`_unpack_key`; struct.error for a value that does not fit."""
    return _META.pack(*values[:4]) + _PKT.pack(*values[4:]) + _PAD1


_PAD1 = bytes(12)


def _to_mac(name: str, v: Any) -> bytes:
    if isinstance(v, (bytes, bytearray)):
        if len(v) != 6:
            raise ValueError(f"{name}: MAC address must be 6 bytes, got {len(v)}")
        return bytes(v)
    if isinstance(v, str):
        return _parse_mac(name, v)
    raise ValueError(f"{name}: expected 6 bytes or 'xx:xx:xx:xx:xx:xx', got {v!r}")


def _to_v4(name: str, v: Any) -> IPv4Address:
    if type(v) is IPv4Address:
        return v    # ipaddress would format and re-parse it
    try:
        return IPv4Address(v)
    except (ipaddress.AddressValueError, ValueError, TypeError) as e:
        raise ValueError(f"{name}: bad IPv4 address {v!r}") from e


def _to_v6(name: str, v: Any) -> IPv6Address:
    if type(v) is IPv6Address:
        return v    # ipaddress would format and re-parse it
    try:
        return IPv6Address(v)
    except (ipaddress.AddressValueError, ValueError, TypeError) as e:
        raise ValueError(f"{name}: bad IPv6 address {v!r}") from e


@dataclass(frozen=True)
class FlowKey:
    """A datapath flow key, or a megaflow mask over one (``struct vsw_flow_key``).

    Fields and value types are described in the module docstring; every field defaults
    to zero ("absent" for a key, "wildcarded" for a mask).  Construction normalizes MAC
    strings to bytes and ints/strings to ``ipaddress`` objects and raises
    :class:`ValueError` naming the field if a value does not fit its C width.
    """

    in_port: int = 0
    recirc_id: int = 0
    dp_hash: int = 0
    pkt_mark: int = 0
    eth_dst: bytes = _MAC0
    eth_src: bytes = _MAC0
    eth_type: int = 0
    vlan_tci: int = 0
    ipv4_src: IPv4Address = _V4_0
    ipv4_dst: IPv4Address = _V4_0
    ipv6_src: IPv6Address = _V6_0
    ipv6_dst: IPv6Address = _V6_0
    ipv6_label: int = 0
    nw_proto: int = 0
    nw_tos: int = 0
    nw_ttl: int = 0
    nw_frag: int = 0
    arp_sha: bytes = _MAC0
    arp_tha: bytes = _MAC0
    tp_src: int = 0
    tp_dst: int = 0
    tcp_flags: int = 0
    nd_target: IPv6Address = _V6_0

    def __post_init__(self) -> None:
        for name, kind, bits in _FIELDS:
            v = getattr(self, name)
            if kind == "u":
                if isinstance(v, bool) or not isinstance(v, int):
                    raise ValueError(f"{name}: expected int, got {v!r}")
                if not 0 <= v < (1 << bits):
                    raise ValueError(f"{name}: {v:#x} does not fit in {bits} bits")
            elif kind == "mac":
                object.__setattr__(self, name, _to_mac(name, v))
            elif kind == "v4":
                object.__setattr__(self, name, _to_v4(name, v))
            else:
                object.__setattr__(self, name, _to_v6(name, v))

    # -- constructors --------------------------------------------------------------

    @classmethod
    def exact(cls) -> FlowKey:
        """The all-ones mask (every bit of every field significant)."""
        return cls(**{name: _ones(name) for name, _, _ in _FIELDS})

    def replace(self, **changes: Any) -> FlowKey:
        """A copy with ``changes`` applied (``dataclasses.replace``)."""
        return dataclasses.replace(self, **changes)

    # -- bit operations ----------------------------------------------------------------

    def as_ints(self) -> dict[str, int]:
        """Every field as a non-negative int (MACs and addresses big-endian)."""
        (in_port, recirc_id, dp_hash, pkt_mark, eth_dst, eth_src, eth_type, vlan_tci, v4s,
         v4d, v6s, v6d, label, proto, tos, ttl, frag, sha, tha, tps, tpd, flags, _pad0,
         ndt) = _unpack_key(self.to_bytes())
        return {"in_port": in_port, "recirc_id": recirc_id, "dp_hash": dp_hash,
                "pkt_mark": pkt_mark, "eth_dst": _from_be(eth_dst),
                "eth_src": _from_be(eth_src), "eth_type": eth_type, "vlan_tci": vlan_tci,
                "ipv4_src": v4s, "ipv4_dst": v4d, "ipv6_src": _from_be(v6s),
                "ipv6_dst": _from_be(v6d), "ipv6_label": label, "nw_proto": proto,
                "nw_tos": tos, "nw_ttl": ttl, "nw_frag": frag, "arp_sha": _from_be(sha),
                "arp_tha": _from_be(tha), "tp_src": tps, "tp_dst": tpd, "tcp_flags": flags,
                "nd_target": _from_be(ndt)}

    @classmethod
    def from_ints(cls, values: dict[str, int]) -> FlowKey:
        """Inverse of :meth:`as_ints`; missing fields are zero.  ValueError naming the
        field for an unknown field or a value that does not fit."""
        raw = _pack_ints(values)
        if raw is not None:
            try:
                return cls.from_bytes(raw)
            except ValueError:
                pass   # the constructor names the field
        return cls(**{n: _from_int(n, v) for n, v in values.items()})

    def __and__(self, other: FlowKey) -> FlowKey:
        # Through the C layout: one big-int AND instead of one per field.
        a = int.from_bytes(self.to_bytes(), "little")
        b = int.from_bytes(other.to_bytes(), "little")
        return FlowKey.from_bytes((a & b).to_bytes(FLOW_KEY_SIZE, "little"))

    def is_zero(self) -> bool:
        return not any(self.to_bytes())

    # -- binary ------------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        """The 128-byte ``struct vsw_flow_key``: metadata little-endian (host order on the
        hosts we build for), packet fields big-endian, padding zero."""
        raw = self.__dict__.get("_raw")
        if raw is None:
            # Frozen, so the bytes never go stale; the upcall path asks for them several
            # times per key (masking, flow_put).
            raw = _pack_key(
                self.in_port, self.recirc_id, self.dp_hash, self.pkt_mark,
                self.eth_dst, self.eth_src, self.eth_type, self.vlan_tci,
                int(self.ipv4_src), int(self.ipv4_dst),
                self.ipv6_src.packed, self.ipv6_dst.packed, self.ipv6_label,
                self.nw_proto, self.nw_tos, self.nw_ttl, self.nw_frag,
                self.arp_sha, self.arp_tha, self.tp_src, self.tp_dst, self.tcp_flags, 0,
                self.nd_target.packed)
            self.__dict__["_raw"] = raw
        return raw

    @classmethod
    def from_bytes(cls, data: bytes) -> FlowKey:
        """Inverse of :meth:`to_bytes`.  Raises ValueError if ``data`` is not 128 bytes,
        or if ``ipv6_label``/``tcp_flags`` have bits beyond their width (padding is
        ignored, as the C side never reads it)."""
        if len(data) != FLOW_KEY_SIZE:
            raise ValueError(f"flow key: expected {FLOW_KEY_SIZE} bytes, got {len(data)}")
        (in_port, recirc_id, dp_hash, pkt_mark, eth_dst, eth_src, eth_type, vlan_tci, v4s,
         v4d, v6s, v6d, label, proto, tos, ttl, frag, sha, tha, tps, tpd, flags, pad0,
         ndt) = _unpack_key(data)
        if label >> 20 or flags >> 12:
            raise ValueError(f"flow key: ipv6_label {label:#x} or tcp_flags {flags:#x} "
                             "does not fit its width")
        # Every other value fits by construction, so the per-field checks of
        # __post_init__ (the upcall path's largest cost) are skipped.
        key = object.__new__(cls)
        d = key.__dict__
        d.update(zip(_NAMES, (
            in_port, recirc_id, dp_hash, pkt_mark, eth_dst, eth_src, eth_type, vlan_tci,
            _v4(v4s), _v4(v4d), _v6(v6s), _v6(v6d), label, proto, tos, ttl, frag, sha, tha,
            tps, tpd, flags, _v6(ndt)), strict=True))
        if not pad0 and data[116:] == _PAD1:
            d["_raw"] = bytes(data)
        return key


def _pack_ints(values: dict[str, int]) -> bytes | None:
    """The C layout of the key with these :meth:`FlowKey.as_ints` fields, packed
    directly (the fast way); None on any doubt about a value (wrong type, too wide,
    unknown name), for the validating constructor to explain."""
    if not (values.keys() <= _NAME_SET and all(type(v) is int for v in values.values())):
        return None
    g = values.get
    try:
        return _pack_key(
            g("in_port", 0), g("recirc_id", 0), g("dp_hash", 0), g("pkt_mark", 0),
            g("eth_dst", 0).to_bytes(6, "big"), g("eth_src", 0).to_bytes(6, "big"),
            g("eth_type", 0), g("vlan_tci", 0), g("ipv4_src", 0), g("ipv4_dst", 0),
            g("ipv6_src", 0).to_bytes(16, "big"), g("ipv6_dst", 0).to_bytes(16, "big"),
            g("ipv6_label", 0), g("nw_proto", 0), g("nw_tos", 0), g("nw_ttl", 0),
            g("nw_frag", 0), g("arp_sha", 0).to_bytes(6, "big"),
            g("arp_tha", 0).to_bytes(6, "big"), g("tp_src", 0), g("tp_dst", 0),
            g("tcp_flags", 0), 0, g("nd_target", 0).to_bytes(16, "big"))
    except (struct.error, OverflowError, ValueError):
        return None


def key_bytes(values: dict[str, int]) -> bytes:
    """``FlowKey.from_ints(values).to_bytes()`` without building the FlowKey (for
    callers that only hand the C layout on).  ValueError as from_ints."""
    raw = _pack_ints(values)
    if raw is None or (values.get("ipv6_label", 0) >> 20 or values.get("tcp_flags", 0) >> 12):
        return FlowKey.from_ints(values).to_bytes()
    return raw


def _v6(packed: bytes) -> IPv6Address:
    return _V6_0 if packed == _V6_ZERO_BYTES else IPv6Address(packed)


def _v4(value: int) -> IPv4Address:
    return _V4_0 if not value else IPv4Address(value)


_from_be = functools.partial(int.from_bytes, byteorder="big")
_NAME_SET = frozenset(_NAMES)


def _ones(name: str) -> Any:
    return _from_int(name, (1 << FIELD_BITS[name]) - 1)


def _as_int(name: str, v: Any) -> int:
    kind = _KIND[name]
    if kind == "mac":
        return int.from_bytes(v, "big")
    return int(v)


def _from_int(name: str, v: int) -> Any:
    kind = _KIND[name]
    if kind == "mac":
        return v.to_bytes(6, "big")
    if kind == "v4":
        return IPv4Address(v)
    if kind == "v6":
        return IPv6Address(v)
    return v


ZERO = FlowKey()


@dataclass(frozen=True)
class Megaflow:
    """A datapath flow: a key, its mask and (optionally) its actions.

    ``key`` should already be masked (``key & mask == key``) for the text form to
    round-trip, as the userspace datapath stores it; :meth:`masked` does that.
    """

    key: FlowKey
    mask: FlowKey = field(default_factory=FlowKey.exact)
    actions: tuple[Action, ...] = ()

    def masked(self) -> Megaflow:
        return Megaflow(self.key & self.mask, self.mask, self.actions)

    def format(self, *, verbose: bool = False) -> str:
        """``<key>, actions:<actions>`` as in ``dpctl/dump-flows`` (without stats)."""
        return (f"{format_key(self.key, self.mask, verbose=verbose)}, "
                f"actions:{format_actions(self.actions)}")

    @classmethod
    def parse(cls, text: str) -> Megaflow:
        """Inverse of :meth:`format`; ``packets:..., bytes:..., used:...`` are skipped."""
        m = re.search(r"(?:,\s*|\s+)actions:", text)
        if not m:
            raise ValueError("flow: missing 'actions:'")
        key_text = text[:m.start()]
        key_text = re.sub(r"(,\s*(packets|bytes|used|flags|dp|ufid):\S*)+\s*$", "", key_text)
        key, mask = parse_key(key_text)
        return cls(key, mask, tuple(parse_actions(text[m.end():].strip())))


# --- Text helpers -----------------------------------------------------------------------


def _split_top(text: str, what: str) -> list[str]:
    """Splits at commas outside parentheses; raises on unbalanced parentheses."""
    out: list[str] = []
    depth = 0
    start = 0
    for i, c in enumerate(text):
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth < 0:
                raise ValueError(f"{what}: unbalanced ')' in {text!r}")
        elif c == "," and depth == 0:
            out.append(text[start:i])
            start = i + 1
    if depth:
        raise ValueError(f"{what}: unbalanced '(' in {text!r}")
    out.append(text[start:])
    return out


_CALL_RE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:\((.*)\))?\s*$", re.S)


def _split_call(token: str, what: str) -> tuple[str, str | None]:
    """``name(args)`` -> (name, args); ``name`` -> (name, None)."""
    m = _CALL_RE.match(token)
    if not m:
        raise ValueError(f"{what}: malformed token {token.strip()!r}")
    name, args = m.group(1), m.group(2)
    if args is not None:
        # The regex is greedy; make sure the closing paren matches the opening one.
        _split_top(args, f"{what} {name}")
    return name, args


_OCTAL_RE = re.compile(r"0[0-7]+")


def _int(text: str, what: str) -> int:
    """Integer as C's ``%i`` reads it: decimal, 0x hex, leading-0 octal."""
    t = text.strip()
    try:
        if _OCTAL_RE.fullmatch(t):
            return int(t, 8)
        v = int(t, 0)
    except ValueError:
        raise ValueError(f"{what}: bad integer {text!r}") from None
    if v < 0:
        raise ValueError(f"{what}: negative value {text!r}")
    return v


def _parse_mac(what: str, text: str) -> bytes:
    parts = text.strip().split(":")
    if len(parts) != 6 or not all(re.fullmatch(r"[0-9A-Fa-f]{1,2}", p) for p in parts):
        raise ValueError(f"{what}: bad MAC address {text!r}")
    return bytes(int(p, 16) for p in parts)


def _fmt_mac(b: bytes) -> str:
    return ":".join(f"{x:02x}" for x in b)


def _fmt_hex(v: int) -> str:
    """C's ``%#x``: ``0`` for zero, else ``0x...``."""
    return f"{v:#x}" if v else "0"


def _split_mask(text: str) -> tuple[str, str | None]:
    if "/" in text:
        v, m = text.split("/", 1)
        return v, m
    return text, None


# --- Key formatting -----------------------------------------------------------------------

_FRAG_NAMES = {"no": 0, "first": FRAG_ANY, "later": FRAG_ANY | FRAG_LATER}

_TCP_FLAG_NAMES = ["fin", "syn", "rst", "psh", "ack", "urg", "ece", "cwr", "ns",
                   "[200]", "[400]", "[800]"]
_TCP_FLAGS_MASK = 0x0FFF


def _frag_name(v: int) -> str:
    if not v & FRAG_ANY:
        return "no"
    return "later" if v & FRAG_LATER else "first"


def _fmt_tcp_flags(v: int, m: int | None) -> str:
    # lib/flow.c format_flags() / format_flags_masked().
    if m is None or m & _TCP_FLAGS_MASK == _TCP_FLAGS_MASK:
        if not v:
            return "0"
        return "|".join(_TCP_FLAG_NAMES[i] for i in range(12) if v >> i & 1)
    m &= _TCP_FLAGS_MASK
    if not m:
        return "0/0"
    return "".join(("+" if v >> i & 1 else "-") + _TCP_FLAG_NAMES[i]
                   for i in range(12) if m >> i & 1)


class _Fmt:
    """Formats one attribute's ``name=value[/mask]`` list like format_u8u() & co.

    ``mask`` None means "no mask" (key-only or exact set action): every field printed,
    no masks.  Otherwise a field is printed when its mask is nonzero or ``verbose``, with
    ``/mask`` unless the mask is full.
    """

    def __init__(self, key: FlowKey, mask: FlowKey | None, verbose: bool) -> None:
        self.key, self.mask, self.verbose = key, mask, verbose
        self.parts: list[str] = []

    def add(self, name: str, value: str, m: int | None, full: int,
            mfmt: Any = _fmt_hex) -> None:
        if m is not None and not m and not self.verbose:
            return
        if m is None or m & full == full:
            self.parts.append(f"{name}={value}")
        else:
            self.parts.append(f"{name}={value}/{mfmt(m)}")

    def m(self, fname: str) -> int | None:
        return None if self.mask is None else _as_int(fname, getattr(self.mask, fname))

    def u8u(self, name: str, fname: str) -> None:
        self.add(name, str(getattr(self.key, fname) & 0xFF), self.m(fname), 0xFF)

    def u8x(self, name: str, fname: str) -> None:
        self.add(name, _fmt_hex(getattr(self.key, fname)), self.m(fname), 0xFF)

    def be16(self, name: str, fname: str) -> None:
        self.add(name, str(getattr(self.key, fname)), self.m(fname), 0xFFFF)

    def ipv4(self, name: str, fname: str) -> None:
        self.add(name, str(getattr(self.key, fname)), self.m(fname), 0xFFFFFFFF,
                 lambda m: str(IPv4Address(m)))

    def ipv6(self, name: str, fname: str) -> None:
        self.add(name, str(getattr(self.key, fname)), self.m(fname), (1 << 128) - 1,
                 lambda m: str(IPv6Address(m)))

    def eth(self, name: str, fname: str) -> None:
        self.add(name, _fmt_mac(getattr(self.key, fname)), self.m(fname), (1 << 48) - 1,
                 lambda m: _fmt_mac(m.to_bytes(6, "big")))

    def label(self) -> None:
        self.add("label", _fmt_hex(self.key.ipv6_label), self.m("ipv6_label"), 0xFFFFF)

    def frag(self) -> None:
        m = self.m("nw_frag")
        # format_frag(): printed only when the ODP mask (ANY bit) is set, even if verbose.
        if m is None or m & FRAG_ANY:
            self.parts.append(f"frag={_frag_name(self.key.nw_frag)}")

    def u8_in_be16(self, name: str, fname: str) -> None:
        # ICMP type/code: an 8-bit ODP field over the 16-bit tp_src/tp_dst.
        m = self.m(fname)
        self.add(name, str(getattr(self.key, fname) & 0xFF),
                 None if m is None else m & 0xFF, 0xFF)

    def arp_op(self) -> None:
        # get_arp_key(): an exact 8-bit nw_proto mask becomes an exact 16-bit op mask.
        m = self.m("nw_proto")
        if m is not None:
            m = 0xFFFF if m == 0xFF else m
        self.add("op", str(self.key.nw_proto), m, 0xFFFF)

    def text(self) -> str:
        return ",".join(self.parts)


def _attr_body(attr: str, key: FlowKey, mask: FlowKey | None, verbose: bool) -> str:
    """Fields of one ODP key attribute (eth, ipv4, ...), shared by keys and set actions."""
    f = _Fmt(key, mask, verbose)
    if attr == "eth":
        f.eth("src", "eth_src")
        f.eth("dst", "eth_dst")
    elif attr == "ipv4":
        f.ipv4("src", "ipv4_src")
        f.ipv4("dst", "ipv4_dst")
        f.u8u("proto", "nw_proto")
        f.u8x("tos", "nw_tos")
        f.u8u("ttl", "nw_ttl")
        f.frag()
    elif attr == "ipv6":
        f.ipv6("src", "ipv6_src")
        f.ipv6("dst", "ipv6_dst")
        f.label()
        f.u8u("proto", "nw_proto")
        f.u8x("tclass", "nw_tos")
        f.u8u("hlimit", "nw_ttl")
        f.frag()
    elif attr in ("tcp", "udp", "sctp"):
        f.be16("src", "tp_src")
        f.be16("dst", "tp_dst")
    elif attr in ("icmp", "icmpv6"):
        f.u8_in_be16("type", "tp_src")
        f.u8_in_be16("code", "tp_dst")
    elif attr == "arp":
        f.ipv4("sip", "ipv4_src")
        f.ipv4("tip", "ipv4_dst")
        f.arp_op()
        f.eth("sha", "arp_sha")
        f.eth("tha", "arp_tha")
    elif attr == "nd":
        f.ipv6("target", "nd_target")
        f.eth("sll", "arp_sha")
        f.eth("tll", "arp_tha")
    else:  # pragma: no cover - callers only pass the names above
        raise AssertionError(attr)
    return f.text()


def _fmt_vlan(tci: int, mask: int, verbose: bool) -> str:
    # format_vlan_tci().
    parts = []
    vid, vid_m = tci & 0xFFF, mask & 0xFFF
    pcp, pcp_m = tci >> 13, mask >> 13
    if verbose or vid or vid_m:
        parts.append(f"vid={vid}" + ("" if vid_m == 0xFFF else f"/{vid_m:#x}"))
    if verbose or pcp or pcp_m:
        parts.append(f"pcp={pcp}" + ("" if pcp_m == 7 else f"/{pcp_m:#x}"))
    if not tci & VLAN_CFI:
        parts.append("cfi=0")
    return ",".join(parts)


# Per-attribute field lists: which FlowKey fields an attribute's mask covers (for the
# "is this attribute wildcarded" test of odp_flow_format()).
_ATTR_FIELDS: dict[str, tuple[str, ...]] = {
    "eth": ("eth_src", "eth_dst"),
    "ipv4": ("ipv4_src", "ipv4_dst", "nw_proto", "nw_tos", "nw_ttl", "nw_frag"),
    "ipv6": ("ipv6_src", "ipv6_dst", "ipv6_label", "nw_proto", "nw_tos", "nw_ttl",
             "nw_frag"),
    "tcp": ("tp_src", "tp_dst"), "udp": ("tp_src", "tp_dst"), "sctp": ("tp_src", "tp_dst"),
    "icmp": ("tp_src", "tp_dst"), "icmpv6": ("tp_src", "tp_dst"),
    "arp": ("ipv4_src", "ipv4_dst", "nw_proto", "arp_sha", "arp_tha"),
    "nd": ("nd_target", "arp_sha", "arp_tha"),
}


def _attr_mask_zero(attr: str, mask: FlowKey) -> bool:
    if attr in ("icmp", "icmpv6"):
        return not (mask.tp_src & 0xFF or mask.tp_dst & 0xFF)
    if attr in ("ipv4", "ipv6"):
        # The ODP frag mask is all-or-nothing on the ANY bit (ovs_to_odp_frag()).
        others = [f for f in _ATTR_FIELDS[attr] if f != "nw_frag"]
        return not (any(_as_int(f, getattr(mask, f)) for f in others)
                    or mask.nw_frag & FRAG_ANY)
    return not any(_as_int(f, getattr(mask, f)) for f in _ATTR_FIELDS[attr])


def _l3_l4_attrs(key: FlowKey, mask: FlowKey | None) -> list[str]:
    """The attribute names after eth_type, in odp_flow_key_from_flow__() order."""
    et = key.eth_type
    out: list[str] = []
    if et == ETH_TYPE_IP:
        out.append("ipv4")
    elif et == ETH_TYPE_IPV6:
        out.append("ipv6")
    elif et in (ETH_TYPE_ARP, ETH_TYPE_RARP):
        out.append("arp")
    if et in (ETH_TYPE_IP, ETH_TYPE_IPV6) and not key.nw_frag & FRAG_LATER:
        p = key.nw_proto
        if p == IPPROTO_TCP:
            out.append("tcp")
            if key.tcp_flags or (mask is not None and mask.tcp_flags):
                out.append("tcp_flags")
        elif p == IPPROTO_UDP:
            out.append("udp")
        elif p == IPPROTO_SCTP:
            out.append("sctp")
        elif et == ETH_TYPE_IP and p == IPPROTO_ICMP:
            out.append("icmp")
        elif et == ETH_TYPE_IPV6 and p == IPPROTO_ICMPV6:
            out.append("icmpv6")
            # is_nd(); a mask carries nd only when the ICMPv6 type is exact.
            if (key.tp_dst == 0 and key.tp_src in (ND_NEIGHBOR_SOLICIT, ND_NEIGHBOR_ADVERT)
                    and (mask is None or mask.tp_src & 0xFF == 0xFF)):
                out.append("nd")
    return out


def _fmt_level(key: FlowKey, mask: FlowKey | None, verbose: bool, inner: bool) -> list[str]:
    """One odp_flow_format() level from eth_type on (the outer level or an encap())."""
    out: list[str] = []

    def emit(attr: str, body: str, wildcard: bool) -> None:
        if mask is None or verbose or not wildcard:
            out.append(f"{attr}({body})")

    if not inner and key.vlan_tci:
        out.append(f"eth_type(0x{ETH_TYPE_VLAN:04x})")
        vm = 0xFFFF if mask is None else mask.vlan_tci
        emit("vlan", _fmt_vlan(key.vlan_tci, vm, verbose or mask is None), not vm)
        inner_parts = _fmt_level(key, mask, verbose, True)
        out.append(f"encap({','.join(inner_parts)})")
        return out
    if key.eth_type < ETH_TYPE_MIN:
        if mask is not None and mask.eth_type:
            out.append(f"eth_type(0/0x{mask.eth_type:04x})")
        return out
    em = None if mask is None else mask.eth_type
    body = f"0x{key.eth_type:04x}"
    if em is not None and em != 0xFFFF:
        body += f"/0x{em:04x}"
    emit("eth_type", body, not em)
    for attr in _l3_l4_attrs(key, mask):
        if attr == "tcp_flags":
            tm = None if mask is None else mask.tcp_flags
            emit(attr, _fmt_tcp_flags(key.tcp_flags, tm),
                 tm is not None and not tm & _TCP_FLAGS_MASK)
        else:
            emit(attr, _attr_body(attr, key, mask, verbose or mask is None),
                 mask is not None and _attr_mask_zero(attr, mask))
    return out


def format_key(key: FlowKey, mask: FlowKey | None = None, *, verbose: bool = False,
               packet_type: bool = True) -> str:
    """ODP text for ``key`` (and ``mask``), as ``odp_flow_format()`` prints it.

    * ``mask`` None: the key alone, every attribute and field printed, as
      ``odp_flow_key_format()`` (e.g. the "flow_add" debug logs and ``test-odp
      parse-keys``): ``recirc_id(0),dp_hash(0),skb_priority(0),in_port(1),skb_mark(0),
      ct_state(0),ct_zone(0),ct_mark(0),ct_label(0),packet_type(ns=0,id=0),eth(...),...``.
    * with ``mask``, ``verbose`` False: ``dpctl/dump-flows``: wildcarded attributes and
      fields omitted, ``field=value/mask`` for partial masks:
      ``recirc_id(0),in_port(1),packet_type(ns=0,id=0),eth_type(0x0800),ipv4(frag=no)``.
    * with ``mask``, ``verbose`` True: ``dpctl/dump-flows -m``: every attribute, wildcarded
      ones as ``x/0``.

    ``packet_type`` False drops the ``packet_type()`` attribute (the kernel datapath's
    form); then a fully wildcarded Ethernet address pair prints as ``eth()``, as OVS does.
    Raises ValueError if ``mask.nw_frag`` is partial (neither 0 nor covering FRAG_ANY and
    FRAG_LATER: ODP frag is an enumeration) .
    """
    if mask is not None and mask.nw_frag & 3 not in (0, 3):
        raise ValueError(f"frag: partial mask {mask.nw_frag:#x} not supported")
    out: list[str] = []

    def u32(name: str, v: int, m: int | None) -> None:
        if m is None:
            out.append(f"{name}({_fmt_hex(v)})")
        elif m or verbose:
            out.append(f"{name}({_fmt_hex(v)}" + ("" if m == 0xFFFFFFFF else
                                                    f"/{_fmt_hex(m)}") + ")")

    def const(name: str) -> None:
        # Fields the key lacks: zero in a key, wildcarded in a megaflow.
        if mask is None:
            out.append(f"{name}(0)")
        elif verbose:
            out.append(f"{name}(0/0)")

    m = mask
    u32("recirc_id", key.recirc_id, None if m is None else m.recirc_id)
    u32("dp_hash", key.dp_hash, None if m is None else m.dp_hash)
    const("skb_priority")
    if m is None or m.in_port == 0xFFFFFFFF:
        out.append(f"in_port({key.in_port})")
    elif m.in_port or verbose:
        out.append(f"in_port({key.in_port}/{_fmt_hex(m.in_port)})")
    u32("skb_mark", key.pkt_mark, None if m is None else m.pkt_mark)
    for name in ("ct_state", "ct_zone", "ct_mark", "ct_label"):
        const(name)
    if packet_type:
        out.append("packet_type(ns=0,id=0)")
    eth_body = _attr_body("eth", key, m, verbose or m is None)
    if m is None or verbose or not _attr_mask_zero("eth", m):
        out.append(f"eth({eth_body})")
    elif not packet_type:
        out.append("eth()")
    out.extend(_fmt_level(key, m, verbose, False))
    return ",".join(out)


# --- Key parsing ------------------------------------------------------------------------------


class _KeyBuilder:
    def __init__(self) -> None:
        self.key: dict[str, int] = {}
        self.mask: dict[str, int] = {}

    def set(self, fname: str, value: int, mask: int, what: str) -> None:
        full = (1 << FIELD_BITS[fname]) - 1
        if value & ~full or mask & ~full:
            raise ValueError(f"{what}: value {value:#x}/{mask:#x} too wide for {fname}")
        self.key[fname] = value
        self.mask[fname] = mask

    def build(self) -> tuple[FlowKey, FlowKey]:
        return FlowKey.from_ints(self.key), FlowKey.from_ints(self.mask)


def _scan_num(text: str, what: str, full: int) -> tuple[int, int]:
    v, m = _split_mask(text)
    value = _int(v, what)
    mask = full if m is None else _int(m, what + " mask")
    if value > full or mask > full:
        raise ValueError(f"{what}: {text!r} out of range")
    return value, mask


def _scan_v4(text: str, what: str) -> tuple[int, int]:
    v, m = _split_mask(text)
    value = int(_to_v4(what, v.strip()))
    mask = 0xFFFFFFFF if m is None else int(_to_v4(what + " mask", m.strip()))
    return value, mask


def _scan_v6(text: str, what: str) -> tuple[int, int]:
    v, m = _split_mask(text)
    value = int(_to_v6(what, v.strip()))
    mask = (1 << 128) - 1 if m is None else int(_to_v6(what + " mask", m.strip()))
    return value, mask


def _scan_mac(text: str, what: str) -> tuple[int, int]:
    v, m = _split_mask(text)
    value = int.from_bytes(_parse_mac(what, v), "big")
    mask = (1 << 48) - 1 if m is None else int.from_bytes(_parse_mac(what + " mask", m), "big")
    return value, mask


def _scan_frag(text: str, what: str) -> tuple[int, int]:
    v, m = _split_mask(text)
    if m is not None:
        raise ValueError(f"{what}: partial mask not supported for frag")
    try:
        return _FRAG_NAMES[v.strip().lower()], FRAG_ANY | FRAG_LATER
    except KeyError:
        raise ValueError(f"{what}: expected no, first or later, got {v!r}") from None


# ODP field name -> (FlowKey field, scanner) per attribute.
_U8 = ("u", 0xFF)
_U16 = ("u", 0xFFFF)
_ATTR_SCAN: dict[str, dict[str, tuple[str, Any]]] = {
    "eth": {"src": ("eth_src", "mac"), "dst": ("eth_dst", "mac")},
    "ipv4": {"src": ("ipv4_src", "v4"), "dst": ("ipv4_dst", "v4"), "proto": ("nw_proto", _U8),
             "tos": ("nw_tos", _U8), "ttl": ("nw_ttl", _U8), "frag": ("nw_frag", "frag")},
    "ipv6": {"src": ("ipv6_src", "v6"), "dst": ("ipv6_dst", "v6"),
             "label": ("ipv6_label", ("u", 0xFFFFF)), "proto": ("nw_proto", _U8),
             "tclass": ("nw_tos", _U8), "hlimit": ("nw_ttl", _U8),
             "frag": ("nw_frag", "frag")},
    "tcp": {"src": ("tp_src", _U16), "dst": ("tp_dst", _U16)},
    "udp": {"src": ("tp_src", _U16), "dst": ("tp_dst", _U16)},
    "sctp": {"src": ("tp_src", _U16), "dst": ("tp_dst", _U16)},
    "icmp": {"type": ("tp_src", _U8), "code": ("tp_dst", _U8)},
    "icmpv6": {"type": ("tp_src", _U8), "code": ("tp_dst", _U8)},
    "arp": {"sip": ("ipv4_src", "v4"), "tip": ("ipv4_dst", "v4"), "op": ("nw_proto", "op"),
            "sha": ("arp_sha", "mac"), "tha": ("arp_tha", "mac")},
    "nd": {"target": ("nd_target", "v6"), "sll": ("arp_sha", "mac"),
           "tll": ("arp_tha", "mac")},
}


def _parse_fields(attr: str, body: str, b: _KeyBuilder) -> list[str]:
    """Parses ``name=value[/mask],...`` of ``attr`` into ``b``; returns the names seen."""
    table = _ATTR_SCAN[attr]
    seen: list[str] = []
    if not body.strip():
        return seen
    for item in _split_top(body, attr):
        name, eq, val = item.partition("=")
        name = name.strip()
        what = f"{attr}({name})"
        if not eq:
            raise ValueError(f"{attr}: expected name=value, got {item.strip()!r}")
        if name not in table:
            raise ValueError(f"{attr}: unknown field {name!r}")
        if name in seen:
            raise ValueError(f"{what}: given twice")
        seen.append(name)
        fname, kind = table[name]
        if kind == "mac":
            v, m = _scan_mac(val, what)
        elif kind == "v4":
            v, m = _scan_v4(val, what)
        elif kind == "v6":
            v, m = _scan_v6(val, what)
        elif kind == "frag":
            v, m = _scan_frag(val, what)
        elif kind == "op":
            v, m = _scan_num(val, what, 0xFFFF)
            if v > 0xFF:
                raise ValueError(f"{what}: opcode {v} does not fit the 8-bit key field")
            if m == 0xFFFF:
                m = 0xFF
            elif m > 0xFF:
                raise ValueError(f"{what}: mask {m:#x} covers bits the key lacks")
        else:
            v, m = _scan_num(val, what, kind[1])
        b.set(fname, v, m, what)
    return seen


def _parse_tcp_flags(body: str) -> tuple[int, int]:
    # lib/flow.c parse_flags(): "v/m" numbers, "+syn-ack" masked names, "syn|ack" exact.
    what = "tcp_flags"
    s = body.strip()
    if "/" in s:
        v, m = _split_mask(s)
        value, mask = _int(v, what), _int(m, what + " mask")
    elif s[:1] in ("+", "-"):
        value = mask = 0
        for sign, name in re.findall(r"([+-])([^+-]+)", s):
            if "".join(re.findall(r"[+-][^+-]+", s)) != s:
                raise ValueError(f"{what}: malformed {s!r}")
            if name not in _TCP_FLAG_NAMES:
                raise ValueError(f"{what}: unknown flag {name!r}")
            bit = 1 << _TCP_FLAG_NAMES.index(name)
            if mask & bit:
                raise ValueError(f"{what}: flag {name!r} given twice")
            mask |= bit
            if sign == "+":
                value |= bit
    else:
        value, mask = 0, _TCP_FLAGS_MASK
        for tok in s.split("|"):
            tok = tok.strip()
            if tok in _TCP_FLAG_NAMES:
                value |= 1 << _TCP_FLAG_NAMES.index(tok)
            else:
                value |= _int(tok, what)
    if value & ~_TCP_FLAGS_MASK or mask & ~_TCP_FLAGS_MASK:
        raise ValueError(f"{what}: {s!r} has bits beyond the 12 TCP flag bits")
    return value, mask


def _tolerate(name: str, body: str) -> None:
    """Accepts attributes the key lacks when they are zero or wildcarded."""
    def zero_or_wild(text: str, what: str) -> None:
        v, m = _split_mask(text.strip())
        try:
            vi = int(v, 0) if v.strip() not in ("", "0") else 0
            mi = None if m is None else int(m, 0)
        except ValueError:
            raise ValueError(f"{what}: bad value {text!r}") from None
        if vi and mi != 0:
            raise ValueError(f"{what}: {text.strip()!r} not supported (must be 0 or "
                             "wildcarded)")

    if name == "ct_state" and body.strip()[:1] in ("+", "-"):
        if "+" in body:
            raise ValueError(f"ct_state: {body!r} not supported (no conntrack)")
        return
    if name in ("skb_priority", "ct_state", "ct_zone", "ct_mark", "ct_label"):
        zero_or_wild(body, name)
        return
    # packet_type, ct_tuple4, ct_tuple6: name=value lists.
    if not body.strip():
        return
    for item in _split_top(body, name):
        fname, eq, val = item.partition("=")
        if not eq:
            raise ValueError(f"{name}: expected name=value, got {item.strip()!r}")
        v, m = _split_mask(val.strip())
        if m is not None and re.fullmatch(r"0|0\.0\.0\.0|::|0x0+", m.strip()):
            continue
        if not re.fullmatch(r"0|0x0+|0\.0\.0\.0|::", v.strip()):
            raise ValueError(f"{name}({fname.strip()}): {val.strip()!r} not supported "
                             "(must be 0 or wildcarded)")


_TOLERATED = {"skb_priority", "ct_state", "ct_zone", "ct_mark", "ct_label", "packet_type",
              "ct_tuple4", "ct_tuple6"}


def _parse_level(items: list[str], b: _KeyBuilder, inner: bool) -> None:
    """Parses attributes from eth_type on, and (outer level) the metadata ones."""
    outer_eth_type: tuple[int, int] | None = None
    saw_vlan = saw_encap = False
    l3 = None
    for item in items:
        if not item.strip():
            raise ValueError("key: empty attribute")
        name, body = _split_call(item, "key")
        if body is None:
            raise ValueError(f"key: attribute {name!r} needs parentheses")
        if not inner and name in ("recirc_id", "dp_hash", "skb_mark", "in_port"):
            fname = {"skb_mark": "pkt_mark"}.get(name, name)
            if fname in b.key:
                raise ValueError(f"{name}: given twice")
            v, m = _scan_num(body, name, 0xFFFFFFFF)
            b.set(fname, v, m, name)
        elif not inner and name in _TOLERATED:
            _tolerate(name, body)
        elif not inner and name == "eth":
            _parse_fields("eth", body, b)
        elif name == "eth_type":
            if outer_eth_type is not None:
                raise ValueError("eth_type: given twice")
            v, m = _scan_num(body, "eth_type", 0xFFFF)
            outer_eth_type = (v, m)
            if v == ETH_TYPE_VLAN and m == 0xFFFF and not inner:
                continue
            if v == 0 and m:
                # odp_flow_format()'s "eth_type(0/0xffff)": an 802.3 frame.
                v = ETH_TYPE_802_3
            b.set("eth_type", v, m, "eth_type")
            if m and not inner and "vlan_tci" not in b.key:
                # An exact outer EtherType means "no VLAN tag": our flat key carries that
                # as an exact match on vlan_tci == 0.
                b.set("vlan_tci", 0, 0xFFFF, "eth_type")
        elif name == "vlan" and not inner:
            if outer_eth_type != (ETH_TYPE_VLAN, 0xFFFF) or saw_vlan:
                raise ValueError("vlan: must follow eth_type(0x8100)")
            saw_vlan = True
            _parse_vlan(body, b)
        elif name == "encap" and not inner:
            if outer_eth_type != (ETH_TYPE_VLAN, 0xFFFF) or saw_encap:
                raise ValueError("encap: must follow eth_type(0x8100)")
            saw_encap = True
            if not saw_vlan:
                b.set("vlan_tci", VLAN_CFI, 0, "encap")
            _parse_level(_split_top(body, "encap") if body.strip() else [], b, True)
        elif name in ("ipv4", "ipv6", "arp"):
            if l3 is not None:
                raise ValueError(f"{name}: second L3 attribute after {l3}")
            l3 = name
            _parse_fields(name, body, b)
            et = {"ipv4": ETH_TYPE_IP, "ipv6": ETH_TYPE_IPV6}.get(name)
            if "eth_type" not in b.key and et:
                b.set("eth_type", et, 0, name)
        elif name in ("tcp", "udp", "sctp", "icmp", "icmpv6"):
            want = {"tcp": IPPROTO_TCP, "udp": IPPROTO_UDP, "sctp": IPPROTO_SCTP,
                    "icmp": IPPROTO_ICMP, "icmpv6": IPPROTO_ICMPV6}[name]
            if l3 not in ("ipv4", "ipv6"):
                raise ValueError(f"{name}: needs a preceding ipv4() or ipv6()")
            if b.key.get("nw_proto", want) != want:
                raise ValueError(f"{name}: does not match proto={b.key['nw_proto']}")
            if "nw_proto" not in b.key:
                b.set("nw_proto", want, 0, name)
            _parse_fields(name, body, b)
        elif name == "tcp_flags":
            v, m = _parse_tcp_flags(body)
            b.set("tcp_flags", v, m, name)
        elif name == "nd":
            _parse_fields("nd", body, b)
        else:
            where = "encap" if inner else "key"
            raise ValueError(f"{where}: unsupported attribute {name!r}")
    if not inner and outer_eth_type == (ETH_TYPE_VLAN, 0xFFFF) and not saw_encap:
        raise ValueError("eth_type(0x8100): missing encap()")


def _parse_vlan(body: str, b: _KeyBuilder) -> None:
    # SCAN_BEGIN_INIT("vlan(", ... {htons(VLAN_CFI)}, {htons(VLAN_CFI)}): CFI present and
    # exact unless "cfi=" says otherwise.
    tci, mask = VLAN_CFI, VLAN_CFI
    seen: set[str] = set()
    for item in _split_top(body, "vlan") if body.strip() else []:
        name, eq, val = item.partition("=")
        name = name.strip()
        if not eq or name not in ("vid", "pcp", "cfi") or name in seen:
            raise ValueError(f"vlan: bad field {item.strip()!r}")
        seen.add(name)
        bits, shift = {"vid": (12, 0), "pcp": (3, 13), "cfi": (1, 12)}[name]
        v, m = _scan_num(val, f"vlan({name})", (1 << bits) - 1)
        field_mask = ((1 << bits) - 1) << shift
        tci = (tci & ~field_mask) | (v << shift)
        mask = (mask & ~field_mask) | (m << shift)
    b.set("vlan_tci", tci, mask, "vlan")


def parse_key(text: str) -> tuple[FlowKey, FlowKey]:
    """Parses ODP key text (any form :func:`format_key` prints) into ``(key, mask)``.

    Fields given without ``/mask`` are exact; fields and attributes not given are
    wildcarded (mask 0, key 0).  Follows ``parse_odp_key_mask_attr()``; like OVS, a key
    given with no masks at all yields an all-exact mask over the fields mentioned.
    Attributes the key does not model (skb_priority, ct_*, packet_type, ct_tuple4/6) are
    accepted only when zero or wildcarded.  An outer EtherType other than 0x8100 with a
    nonzero mask also sets ``mask.vlan_tci = 0xffff`` (exactly untagged).

    Raises ValueError naming the attribute or field for anything malformed or unsupported.
    """
    if not isinstance(text, str):
        raise ValueError(f"key: expected str, got {type(text).__name__}")
    s = text.strip()
    if not s:
        raise ValueError("key: empty")
    b = _KeyBuilder()
    _parse_level(_split_top(s, "key"), b, False)
    return b.build()


# --- Actions --------------------------------------------------------------------------------


class Action:
    """Base class of datapath actions; see the subclasses."""

    __slots__ = ()


@dataclass(frozen=True)
class Output(Action):
    """Send to datapath port ``port`` (printed as the bare number)."""

    port: int

    def __post_init__(self) -> None:
        _check_u32("output", self.port)


@dataclass(frozen=True)
class Userspace(Action):
    """Send to userspace with ``cookie`` (OVS's userdata, at most 256 bytes).

    ``pid`` is the netlink port id in OVS's text (``userspace(pid=N,userdata(..))``); the
    C binary form does not carry it, so :func:`decode_actions` yields ``pid=0``.
    """

    cookie: bytes = b""
    pid: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "cookie", bytes(self.cookie))
        if len(self.cookie) > MAX_USERSPACE_COOKIE:
            raise ValueError(f"userspace: cookie of {len(self.cookie)} bytes exceeds "
                             f"{MAX_USERSPACE_COOKIE}")
        _check_u32("userspace(pid)", self.pid)


@dataclass(frozen=True)
class PushVlan(Action):
    """Push an 802.1Q tag: ``tpid`` (default 0x8100), 12-bit ``vid``, 3-bit ``pcp``.
    The pushed TCI always has CFI set (the C arg carries TCI without it)."""

    vid: int
    pcp: int = 0
    tpid: int = ETH_TYPE_VLAN

    def __post_init__(self) -> None:
        if not 0 <= self.vid <= 0xFFF:
            raise ValueError(f"push_vlan(vid): {self.vid} out of range 0..4095")
        if not 0 <= self.pcp <= 7:
            raise ValueError(f"push_vlan(pcp): {self.pcp} out of range 0..7")
        if not 0 <= self.tpid <= 0xFFFF:
            raise ValueError(f"push_vlan(tpid): {self.tpid:#x} out of range")


@dataclass(frozen=True)
class PopVlan(Action):
    """Pop the outermost 802.1Q tag."""


# Which FlowKey fields each settable ODP attribute covers, and which of those the C core
# can actually rewrite (vsw_actions.h: struct vsw_set_masked).
_SET_FIELDS: dict[str, tuple[str, ...]] = {
    "eth": ("eth_src", "eth_dst"),
    "ipv4": ("ipv4_src", "ipv4_dst", "nw_tos", "nw_ttl"),
    "ipv6": ("ipv6_src", "ipv6_dst", "ipv6_label", "nw_tos", "nw_ttl"),
    "tcp": ("tp_src", "tp_dst"), "udp": ("tp_src", "tp_dst"), "sctp": ("tp_src", "tp_dst"),
    "skb_mark": ("pkt_mark",),
}
# Context a set action's value key carries in fields under a zero mask, so the binary
# form (which the C core reads only under the mask) still says which header it names.
_SET_CONTEXT: dict[str, dict[str, int]] = {
    "eth": {}, "skb_mark": {},
    "ipv4": {"eth_type": ETH_TYPE_IP}, "ipv6": {"eth_type": ETH_TYPE_IPV6},
    "tcp": {"nw_proto": IPPROTO_TCP}, "udp": {"nw_proto": IPPROTO_UDP},
    "sctp": {"nw_proto": IPPROTO_SCTP},
}


def _set_mask(header: str) -> FlowKey:
    if header not in _SET_FIELDS:
        raise ValueError(f"set: unsupported header {header!r} (supported: "
                         f"{', '.join(_SET_FIELDS)})")
    return FlowKey.from_ints({f: (1 << FIELD_BITS[f]) - 1 for f in _SET_FIELDS[header]})


def _set_normalize(header: str, value: FlowKey, mask: FlowKey) -> FlowKey:
    if header not in _SET_FIELDS:
        raise ValueError(f"set: unsupported header {header!r} (supported: "
                         f"{', '.join(_SET_FIELDS)})")
    allowed = set(_SET_FIELDS[header])
    mi = mask.as_ints()
    for f, m in mi.items():
        if m and f not in allowed:
            raise ValueError(f"set({header}): field {f} cannot be set")
    # OVS keeps the unmasked value (set(ipv4(src=1.2.3.4/255.255.255.0)) prints 1.2.3.4);
    # so do we: the C core reads only the bits under the mask.
    extra = _SET_CONTEXT[header]
    return value.replace(**extra) if extra else value


def _infer_set_header(value: FlowKey, mask: FlowKey) -> str:
    mi = mask.as_ints()
    touched = {f for f, m in mi.items() if m}
    if not touched:
        raise ValueError("set_masked: empty mask")
    for header in ("eth", "skb_mark"):
        if touched <= set(_SET_FIELDS[header]):
            return header
    if touched <= {"tp_src", "tp_dst"}:
        names = {IPPROTO_TCP: "tcp", IPPROTO_UDP: "udp", IPPROTO_SCTP: "sctp"}
        if value.nw_proto not in names:
            raise ValueError(f"set_masked: transport ports with nw_proto {value.nw_proto}")
        return names[value.nw_proto]
    if touched <= set(_SET_FIELDS["ipv4"]) and value.eth_type != ETH_TYPE_IPV6:
        return "ipv4"
    if touched <= set(_SET_FIELDS["ipv6"]):
        return "ipv6"
    raise ValueError(f"set_masked: mask covers fields of several headers: "
                     f"{', '.join(sorted(touched))}")


@dataclass(frozen=True)
class SetMasked(Action):
    """Rewrite the bits of ``header``'s fields that ``mask`` selects with ``value``'s.

    ``header`` is the ODP key attribute named in the text (``eth``, ``ipv4``, ``ipv6``,
    ``tcp``, ``udp``, ``sctp``, ``skb_mark``); ``mask`` may only cover the fields the C
    core rewrites for it (vsw_actions.h).  ``value`` is kept unmasked, as OVS prints it;
    construction records the header in it under a zero mask (``eth_type`` for
    ipv4/ipv6, ``nw_proto`` for tcp/udp/sctp), which the C core ignores and
    :func:`decode_actions` reads back.
    OVS prints it as ``set(ipv4(src=1.2.3.4/255.255.255.0))``.
    """

    header: str
    value: FlowKey
    mask: FlowKey

    def __post_init__(self) -> None:
        object.__setattr__(self, "value",
                           _set_normalize(self.header, self.value, self.mask))
        if self.mask.is_zero():
            raise ValueError(f"set({self.header}): empty mask")


@dataclass(frozen=True)
class Set(Action):
    """Exact rewrite of every settable field of ``header`` (OVS_ACTION_ATTR_SET), printed
    with all of the attribute's fields: ``set(eth(src=..,dst=..))``.  For ipv4/ipv6 the
    printed ``proto`` and ``frag`` come from ``value`` but are not rewritten.  Encoded as
    a SET_MASKED record whose mask covers every settable field of the header."""

    header: str
    value: FlowKey

    def __post_init__(self) -> None:
        object.__setattr__(self, "value", _set_normalize(
            self.header, self.value, _set_mask(self.header)))

    @property
    def mask(self) -> FlowKey:
        return _set_mask(self.header)


@dataclass(frozen=True)
class Clone(Action):
    """Run ``actions`` on a copy of the packet."""

    actions: tuple[Action, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "actions", tuple(self.actions))


@dataclass(frozen=True)
class Recirc(Action):
    """Re-enter lookup with ``recirc_id = id``; printed ``recirc(0x1)``."""

    id: int

    def __post_init__(self) -> None:
        _check_u32("recirc", self.id)


@dataclass(frozen=True)
class Hash(Action):
    """Set dp_hash to an L4 5-tuple hash with ``basis``; printed ``hash(l4(0))``."""

    basis: int = 0

    def __post_init__(self) -> None:
        _check_u32("hash", self.basis)


@dataclass(frozen=True)
class Sample(Action):
    """Run ``actions`` with probability ``probability / 0xffffffff`` (0xffffffff always).

    OVS prints the percentage with one decimal (``sample(sample=50.0%,actions(1))``) and
    parses it back as ``floor(UINT32_MAX * pct / 100 + 0.5)``, so the text form keeps
    only about 1/1000 precision.
    """

    probability: int
    actions: tuple[Action, ...] = ()

    def __post_init__(self) -> None:
        _check_u32("sample(probability)", self.probability)
        object.__setattr__(self, "actions", tuple(self.actions))

    @classmethod
    def from_percent(cls, percent: float, actions: Iterable[Action] = ()) -> Sample:
        if not 0.0 <= percent <= 100.0:
            raise ValueError(f"sample: {percent}% out of range 0..100")
        return cls(int(0xFFFFFFFF * (percent / 100.0) + 0.5), tuple(actions))


@dataclass(frozen=True)
class Trunc(Action):
    """Truncate the packet to ``max_len`` bytes for the following outputs."""

    max_len: int

    def __post_init__(self) -> None:
        _check_u32("trunc", self.max_len)


@dataclass(frozen=True)
class Drop(Action):
    """Explicit drop (OVS_ACTION_ATTR_DROP); an empty action list drops too."""


def _check_u32(what: str, v: int) -> None:
    if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= 0xFFFFFFFF:
        raise ValueError(f"{what}: {v!r} is not a 32-bit unsigned integer")


# --- Action text ------------------------------------------------------------------------------


def _format_action(a: Action) -> str:
    if isinstance(a, Output):
        return str(a.port)
    if isinstance(a, Userspace):
        # format_odp_userspace_action(): no userdata attribute when the cookie is empty.
        ud = f",userdata({a.cookie.hex()})" if a.cookie else ""
        return f"userspace(pid={a.pid}{ud})"
    if isinstance(a, PushVlan):
        tpid = "" if a.tpid == ETH_TYPE_VLAN else f"tpid=0x{a.tpid:04x},"
        return f"push_vlan({tpid}vid={a.vid},pcp={a.pcp})"
    if isinstance(a, PopVlan):
        return "pop_vlan"
    if isinstance(a, Set):
        if a.header == "skb_mark":
            return f"set(skb_mark({_fmt_hex(a.value.pkt_mark)}))"
        return f"set({a.header}({_attr_body(a.header, a.value, None, True)}))"
    if isinstance(a, SetMasked):
        if a.header == "skb_mark":
            m = a.mask.pkt_mark
            ms = "" if m == 0xFFFFFFFF else f"/{_fmt_hex(m)}"
            return f"set(skb_mark({_fmt_hex(a.value.pkt_mark)}{ms}))"
        attr = a.header
        return f"set({attr}({_attr_body(attr, a.value, a.mask, False)}))"
    if isinstance(a, Clone):
        return f"clone({format_actions(a.actions)})"
    if isinstance(a, Recirc):
        return f"recirc({_fmt_hex(a.id)})"
    if isinstance(a, Hash):
        return f"hash(l4({a.basis}))"
    if isinstance(a, Sample):
        pct = 100.0 * a.probability / 0xFFFFFFFF
        return f"sample(sample={pct:.1f}%,actions({format_actions(a.actions)}))"
    if isinstance(a, Trunc):
        return f"trunc({a.max_len})"
    if isinstance(a, Drop):
        return "drop"
    raise ValueError(f"actions: not an action: {a!r}")


def format_actions(actions: Sequence[Action]) -> str:
    """ODP action text as ``format_odp_actions()`` prints it, without the ``actions:``
    prefix: ``2,push_vlan(vid=10,pcp=0),3``; an empty list is ``drop``."""
    if not actions:
        return "drop"
    return ",".join(_format_action(a) for a in actions)


_PUSH_VLAN_FIELDS = ("tpid", "vid", "pcp", "cfi")


def _parse_push_vlan(body: str) -> PushVlan:
    vals: dict[str, int] = {}
    order: list[str] = []
    for item in _split_top(body, "push_vlan"):
        name, eq, val = item.partition("=")
        name = name.strip()
        if not eq or name not in _PUSH_VLAN_FIELDS or name in vals:
            raise ValueError(f"push_vlan: bad field {item.strip()!r}")
        vals[name] = _int(val, f"push_vlan({name})")
        order.append(name)
    if order != [f for f in _PUSH_VLAN_FIELDS if f in vals] or "vid" not in vals \
            or "pcp" not in vals:
        raise ValueError(f"push_vlan: expected [tpid=,]vid=,pcp=[,cfi=], got {body!r}")
    if vals.get("cfi", 1) != 1:
        raise ValueError("push_vlan(cfi): only cfi=1 is supported (the datapath always "
                         "sets CFI)")
    return PushVlan(vid=vals["vid"], pcp=vals["pcp"], tpid=vals.get("tpid", ETH_TYPE_VLAN))


def _parse_userspace(body: str) -> Userspace:
    items = _split_top(body, "userspace")
    name, eq, val = items[0].partition("=")
    if name.strip() != "pid" or not eq:
        raise ValueError(f"userspace: expected pid=, got {items[0].strip()!r}")
    pid = _int(val, "userspace(pid)")
    if pid > 0xFFFFFFFF:
        raise ValueError(f"userspace(pid): {pid} out of range")
    cookie = b""
    for item in items[1:]:
        n, args = _split_call(item, "userspace")
        if n != "userdata" or args is None or cookie:
            raise ValueError(f"userspace: unsupported option {item.strip()!r}")
        hexs = args.strip()
        if not re.fullmatch(r"(?:[0-9A-Fa-f]{2})*", hexs):
            raise ValueError(f"userspace(userdata): bad hex {hexs!r}")
        cookie = bytes.fromhex(hexs)
    return Userspace(cookie=cookie, pid=pid)


def _parse_set(body: str) -> Action:
    name, inner = _split_call(body, "set")
    if inner is None:
        raise ValueError(f"set: expected set(<header>(...)), got {body!r}")
    if name == "skb_mark":
        v, m = _scan_num(inner, "set(skb_mark)", 0xFFFFFFFF)
        value = FlowKey(pkt_mark=v)
        if m == 0xFFFFFFFF:
            return Set("skb_mark", value)
        return SetMasked("skb_mark", value, FlowKey(pkt_mark=m))
    if name not in _SET_FIELDS:
        raise ValueError(f"set: unsupported header {name!r}")
    b = _KeyBuilder()
    seen = _parse_fields(name, inner, b)
    key, mask = b.build()
    everything = set(_ATTR_SCAN[name])
    full = set(seen) == everything and all(
        mask.as_ints()[_ATTR_SCAN[name][f][0]] == _full_field_mask(_ATTR_SCAN[name][f][0])
        for f in seen)
    if full:
        return Set(name, key)
    return SetMasked(name, key, mask)


def _full_field_mask(fname: str) -> int:
    if fname == "nw_frag":
        return FRAG_ANY | FRAG_LATER
    return (1 << FIELD_BITS[fname]) - 1


def _parse_action(token: str) -> Action:
    t = token.strip()
    if not t:
        raise ValueError("actions: empty action")
    if re.fullmatch(r"\d+", t):
        port = int(t)
        if port > 0xFFFFFFFF:
            raise ValueError(f"output: port {t} out of range")
        return Output(port)
    name, body = _split_call(t, "actions")
    if name == "pop_vlan" and body is None:
        return PopVlan()
    if name == "drop" and body is None:
        return Drop()
    if body is None:
        raise ValueError(f"actions: unknown action {t!r}")
    if name == "push_vlan":
        return _parse_push_vlan(body)
    if name == "userspace":
        return _parse_userspace(body)
    if name == "set":
        return _parse_set(body)
    if name == "clone":
        return Clone(tuple(_parse_list(body, nested=True)))
    if name == "recirc":
        return Recirc(_u32(body, "recirc"))
    if name == "trunc":
        return Trunc(_u32(body, "trunc"))
    if name == "hash":
        alg, arg = _split_call(body, "hash")
        if alg != "l4" or arg is None:
            raise ValueError(f"hash: unsupported algorithm {body.strip()!r} (only l4)")
        return Hash(_u32(arg, "hash"))
    if name == "sample":
        m = re.fullmatch(r"\s*sample=([0-9.]+)%\s*,\s*actions\((.*)\)\s*", body, re.S)
        if not m:
            raise ValueError(f"sample: expected sample=<pct>%,actions(...), got {body!r}")
        try:
            pct = float(m.group(1))
        except ValueError:
            raise ValueError(f"sample: bad percentage {m.group(1)!r}") from None
        if not 0.0 <= pct <= 100.0:
            raise ValueError(f"sample: {pct}% out of range")
        return Sample.from_percent(pct, _parse_list(m.group(2), nested=True))
    raise ValueError(f"actions: unsupported action {name!r}")


def _u32(text: str, what: str) -> int:
    v = _int(text, what)
    if v > 0xFFFFFFFF:
        raise ValueError(f"{what}: {text.strip()!r} out of range")
    return v


def _parse_list(text: str, nested: bool) -> list[Action]:
    s = text.strip()
    if s.lower() == "drop":
        # Top level: OVS's explicit drop action.  Nested: the printed form of an empty list.
        return [] if nested else [Drop()]
    if not s:
        if nested:
            return []
        raise ValueError("actions: empty")
    return [_parse_action(t) for t in _split_top(s, "actions")]


def parse_actions(text: str) -> list[Action]:
    """Parses ODP action text (with or without an ``actions:`` prefix) into actions.

    Accepts what :func:`format_actions` prints, and OVS's optional ``cfi=1`` in push_vlan.
    ``drop`` alone is ``[Drop()]`` (OVS's explicit drop); ``clone(drop)`` is an empty
    clone.  Raises ValueError naming the offending action or field.
    """
    if not isinstance(text, str):
        raise ValueError(f"actions: expected str, got {type(text).__name__}")
    s = text.strip()
    if s.startswith("actions:"):
        s = s[len("actions:"):]
    return _parse_list(s, nested=False)


# --- Action binary (vsw_actions.h) ------------------------------------------------------------

_HDR = struct.Struct("<HHI")   # struct vsw_action, host order
_SET_MASKED_LEN = _HDR.size + 2 * FLOW_KEY_SIZE


def _record(type_: int, arg: int, payload: bytes = b"") -> bytes:
    pad = -len(payload) % ACTION_ALIGN
    length = _HDR.size + len(payload) + pad
    if length > MAX_ACTIONS_LEN:
        raise ValueError(f"encode: record of {length} bytes exceeds {MAX_ACTIONS_LEN}")
    return _HDR.pack(type_, length, arg) + payload + bytes(pad)


def _encode_one(a: Action) -> bytes:
    if isinstance(a, Output):
        return _record(ACTION_OUTPUT, a.port)
    if isinstance(a, Userspace):
        return _record(ACTION_USERSPACE, len(a.cookie), a.cookie)
    if isinstance(a, PushVlan):
        return _record(ACTION_PUSH_VLAN, a.tpid << 16 | a.pcp << 13 | a.vid)
    if isinstance(a, PopVlan):
        return _record(ACTION_POP_VLAN, 0)
    if isinstance(a, (Set, SetMasked)):
        return _record(ACTION_SET_MASKED, 0, a.value.to_bytes() + a.mask.to_bytes())
    if isinstance(a, Clone):
        return _record(ACTION_CLONE, 0, encode_actions(a.actions))
    if isinstance(a, Recirc):
        return _record(ACTION_RECIRC, a.id)
    if isinstance(a, Hash):
        return _record(ACTION_HASH, a.basis)
    if isinstance(a, Sample):
        return _record(ACTION_SAMPLE, a.probability, encode_actions(a.actions))
    if isinstance(a, Trunc):
        return _record(ACTION_TRUNC, a.max_len)
    if isinstance(a, Drop):
        return _record(ACTION_DROP, 0)
    raise ValueError(f"encode: not an action: {a!r}")


def encode_actions(actions: Sequence[Action]) -> bytes:
    """The ``vsw_actions.h`` record stream for ``actions``: per action a little-endian
    ``struct vsw_action {u16 type; u16 len; u32 arg}`` plus payload, each record padded
    with zeros to 8 bytes.  Raises ValueError if the stream exceeds 65528 bytes."""
    out = b"".join(_encode_one(a) for a in actions)
    if len(out) > MAX_ACTIONS_LEN:
        raise ValueError(f"encode: {len(out)} bytes of actions exceed {MAX_ACTIONS_LEN}")
    return out


_NO_PAYLOAD = {ACTION_OUTPUT: "output", ACTION_PUSH_VLAN: "push_vlan",
               ACTION_POP_VLAN: "pop_vlan", ACTION_RECIRC: "recirc", ACTION_HASH: "hash",
               ACTION_TRUNC: "trunc", ACTION_DROP: "drop"}


def decode_actions(data: bytes) -> list[Action]:
    """Inverse of :func:`encode_actions`.  A SET_MASKED record decodes to :class:`Set`
    when its mask covers exactly every settable field of its header, else to
    :class:`SetMasked`; Userspace comes back with ``pid=0``.  Raises ValueError (naming
    the record's offset and type) on truncated or misaligned records, bad lengths,
    nonzero padding, unknown types or args out of range."""
    data = bytes(data)
    if len(data) > MAX_ACTIONS_LEN:
        raise ValueError(f"decode: {len(data)} bytes exceed {MAX_ACTIONS_LEN}")
    out: list[Action] = []
    off = 0
    while off < len(data):
        if len(data) - off < _HDR.size:
            raise ValueError(f"decode: truncated header at offset {off}")
        type_, length, arg = _HDR.unpack_from(data, off)
        what = f"decode: record type {type_} at offset {off}"
        if length < _HDR.size or length % ACTION_ALIGN:
            raise ValueError(f"{what}: bad len {length}")
        if off + length > len(data):
            raise ValueError(f"{what}: len {length} runs past the end")
        payload = data[off + _HDR.size:off + length]
        off += length
        if type_ in _NO_PAYLOAD:
            if payload:
                raise ValueError(f"{what} ({_NO_PAYLOAD[type_]}): unexpected payload")
            if type_ in (ACTION_POP_VLAN, ACTION_DROP) and arg:
                raise ValueError(f"{what} ({_NO_PAYLOAD[type_]}): nonzero arg {arg:#x}")
        if type_ == ACTION_OUTPUT:
            out.append(Output(arg))
        elif type_ == ACTION_USERSPACE:
            if arg > MAX_USERSPACE_COOKIE or arg > len(payload) or \
                    len(payload) != arg + (-arg % ACTION_ALIGN):
                raise ValueError(f"{what} (userspace): cookie length {arg} does not match "
                                 f"len {length}")
            if any(payload[arg:]):
                raise ValueError(f"{what} (userspace): nonzero padding")
            out.append(Userspace(cookie=payload[:arg]))
        elif type_ == ACTION_PUSH_VLAN:
            tci = arg & 0xFFFF
            if tci & VLAN_CFI:
                raise ValueError(f"{what} (push_vlan): TCI {tci:#x} has CFI set")
            out.append(PushVlan(vid=tci & 0xFFF, pcp=tci >> 13, tpid=arg >> 16))
        elif type_ == ACTION_POP_VLAN:
            out.append(PopVlan())
        elif type_ == ACTION_SET_MASKED:
            if length != _SET_MASKED_LEN:
                raise ValueError(f"{what} (set_masked): len {length}, expected "
                                 f"{_SET_MASKED_LEN}")
            value = FlowKey.from_bytes(payload[:FLOW_KEY_SIZE])
            mask = FlowKey.from_bytes(payload[FLOW_KEY_SIZE:])
            header = _infer_set_header(value, mask)
            if mask == _set_mask(header):
                out.append(Set(header, value))
            else:
                out.append(SetMasked(header, value, mask))
        elif type_ == ACTION_CLONE:
            out.append(Clone(tuple(decode_actions(payload))))
        elif type_ == ACTION_RECIRC:
            out.append(Recirc(arg))
        elif type_ == ACTION_HASH:
            out.append(Hash(arg))
        elif type_ == ACTION_SAMPLE:
            out.append(Sample(arg, tuple(decode_actions(payload))))
        elif type_ == ACTION_TRUNC:
            out.append(Trunc(arg))
        elif type_ == ACTION_DROP:
            out.append(Drop())
        else:
            raise ValueError(f"{what}: unknown action type")
    return out
