"""Datapath flow keys <-> OpenFlow field dicts, and OpenFlow wildcards -> megaflow masks.

Where this sits: the datapath hands ofproto's upcall handler a packet's
:class:`~appliance.dpif.odp.FlowKey` (``struct vsw_flow_key``).  :mod:`ofproto.xlate`
runs that packet through the OpenFlow pipeline, whose tables
(:mod:`ofproto.classifier`) match on *OpenFlow* fields named as in
:data:`ofproto.ofp.oxm.FIELDS` (``eth_src``, ``ip_src``, ``tcp_dst``, ``reg3``...).  This
module converts between the two worlds:

* :func:`key_to_flow` builds the ``{oxm canonical name: int}`` dict a classifier lookup
  takes from a FlowKey (plus the pipeline-only fields ``metadata``/``reg*``, which start
  at 0 and which xlate updates as actions run);
* :func:`wc_to_mask` turns the wildcard dict the lookups filled in (``field -> bits
  examined``) into the datapath megaflow mask (a FlowKey), adding the fields every
  datapath megaflow must match (:func:`required_mask`);
* :func:`set_field_bits` maps an OpenFlow write (set_field / reg_load into a packet field)
  onto the FlowKey bits it changes, so xlate can later emit ``set(...)`` actions.

Field mapping (as OVS's ``struct flow`` shares members between protocols, the FlowKey
does too): ``tcp_src``/``udp_src``/``sctp_src``/``icmp_type``/``icmpv6_type`` all live in
``tp_src``; ``arp_spa``/``arp_tpa`` in ``ipv4_src``/``ipv4_dst``; ``arp_op`` in
``nw_proto``; ``arp_sha``/``nd_sll`` in ``arp_sha``; ``arp_tha``/``nd_tll`` in ``arp_tha``;
``ip_dscp``/``nw_ecn``/``nw_tos`` in ``nw_tos``; ``vlan_vid``/``vlan_pcp``/``vlan_tci`` in
``vlan_tci``.  An OpenFlow field is *active* only when its prerequisites hold for the
packet (OpenFlow 1.3.5 section 7.2.3.6, table 12); an inactive field reads as 0.  So
the OpenFlow value of a field is a function of the FlowKey bits of its storage *and* of
the context fields that decide activity (``eth_type``, ``nw_proto``, the ICMPv6 type for
ND, the VLAN CFI bit).

The megaflow invariant this module guarantees (and the xlate tests check): for an
OpenFlow wildcard dict ``wc`` and ``mask = wc_to_mask(wc, key)``, every key ``k2`` with
``k2 & mask == key & mask`` has ``key_to_flow(k2)[f] & wc[f] == key_to_flow(key)[f] &
wc[f]`` for every field ``f``.  Hence, if ``wc`` covers every bit the translation read,
``k2`` translates identically.  How:

* ``in_port``, ``recirc_id`` and ``eth_type`` are always exact (OVS ``xlate_wc_init()``
  in ofproto/ofproto-dpif-xlate.c: ``in_port``, ``dl_type``, ``recirc_id``), and so is
  ``nw_frag`` for IP packets (``FLOW_NW_FRAG_MASK``);
* an examined L4 field (active or not) un-wildcards ``nw_proto``, an ND field also the
  ICMPv6 type (``tp_src`` low byte): these decide activity;
* an examined field that is *inactive* contributes no bits of its storage (it read as
  0 whatever those bits are): a UDP packet checked against ``tcp_dst=80`` does not pin
  its ports (OVS achieves the same through prerequisite checks in the classifier);
* ICMP type/code masks are clipped to 8 bits, any VLAN TCI bit pulls in CFI, and L4
  ports of later fragments are wildcarded (OVS ``xlate_wc_finish()``);
* ``metadata`` and registers are not packet fields: they are dropped (OVS
  ``flow_wildcards_clear_non_packet_fields()``); their values are derived during
  translation from constants or from packet fields that the deriving action
  un-wildcards itself (``reg_move``).

Unlike OVS's ``struct flow`` the FlowKey holds a single VLAN tag and ``eth_type`` is the
inner EtherType, so tagged and untagged frames differ only in ``vlan_tci``'s CFI bit;
the VLAN TCI mask is therefore never cleared for untagged packets (OVS can do that
because its ODP key has an explicit ``encap()``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from appliance.dpif.odp import (
    ETH_TYPE_ARP,
    ETH_TYPE_IP,
    ETH_TYPE_IPV6,
    ETH_TYPE_RARP,
    FRAG_ANY,
    FRAG_LATER,
    IPPROTO_ICMP,
    IPPROTO_ICMPV6,
    IPPROTO_SCTP,
    IPPROTO_TCP,
    IPPROTO_UDP,
    ND_NEIGHBOR_ADVERT,
    ND_NEIGHBOR_SOLICIT,
    VLAN_CFI,
    FlowKey,
)
from ofproto.ofp import oxm

__all__ = [
    "OFPVID_PRESENT",
    "OFPP_NONE",
    "PACKET_FIELDS",
    "PIPELINE_FIELDS",
    "FLOW_FIELDS",
    "FLOW_FIELD_WIDTHS",
    "KEY_FIELDS",
    "canonical_field",
    "key_to_flow",
    "flow_from_ints",
    "wc_to_mask",
    "required_mask",
    "set_field_bits",
    "SetFieldError",
    "PrereqError",
    "UnsupportedSetField",
    "field_is_active",
    "field_context",
]

OFPVID_PRESENT = 0x1000
# What in_port reads as when the datapath port has no OpenFlow number (OVS OFPP_NONE,
# 32-bit form).
OFPP_NONE = 0xFFFFFFFF

IP_DSCP_MASK = 0xFC
IP_ECN_MASK = 0x03
VLAN_VID_MASK = 0x0FFF
VLAN_PCP_SHIFT = 13

# Key fields, in FlowKey order, with their widths (ints view, FlowKey.as_ints()).
KEY_FIELDS: dict[str, int] = {
    "in_port": 32, "recirc_id": 32, "dp_hash": 32, "pkt_mark": 32,
    "eth_dst": 48, "eth_src": 48, "eth_type": 16, "vlan_tci": 16,
    "ipv4_src": 32, "ipv4_dst": 32, "ipv6_src": 128, "ipv6_dst": 128, "ipv6_label": 20,
    "nw_proto": 8, "nw_tos": 8, "nw_ttl": 8, "nw_frag": 8,
    "arp_sha": 48, "arp_tha": 48, "tp_src": 16, "tp_dst": 16, "tcp_flags": 12,
    "nd_target": 128,
}

# OpenFlow packet fields this module derives from a FlowKey (oxm canonical names).
PACKET_FIELDS: tuple[str, ...] = (
    "in_port", "recirc_id", "dp_hash", "pkt_mark",
    "eth_src", "eth_dst", "eth_type", "vlan_vid", "vlan_pcp", "vlan_tci",
    "ip_dscp", "nw_ecn", "nw_tos", "nw_ttl", "ip_frag", "nw_proto",
    "ip_src", "ip_dst", "ipv6_src", "ipv6_dst", "ipv6_label",
    "tcp_src", "tcp_dst", "udp_src", "udp_dst", "sctp_src", "sctp_dst",
    "icmp_type", "icmp_code", "icmpv6_type", "icmpv6_code",
    "arp_op", "arp_spa", "arp_tpa", "arp_sha", "arp_tha",
    "nd_target", "nd_sll", "nd_tll", "tcp_flags",
)
# Pipeline fields: not in the packet, 0 when translation starts (OF1.3.5 7.2.3.7:
# metadata; OVS registers).  xreg/xxreg are views of the 32-bit registers.
PIPELINE_FIELDS: tuple[str, ...] = (
    "metadata", *(f"reg{i}" for i in range(16)), *(f"xreg{i}" for i in range(8)),
    *(f"xxreg{i}" for i in range(4)),
)
FLOW_FIELDS: tuple[str, ...] = PACKET_FIELDS + PIPELINE_FIELDS
FLOW_FIELD_WIDTHS: dict[str, int] = {n: oxm.field_by_name(n).nbits for n in FLOW_FIELDS}

_CANON: dict[str, str] = {}
for _spec in oxm.FIELDS:
    for _n in (_spec.name, *_spec.aliases):
        _CANON[_n] = _spec.name
del _spec, _n


def canonical_field(name: str) -> str:
    """The oxm canonical name for ``name`` or one of its aliases (``ip_proto`` ->
    ``nw_proto``, ``ipv4_src`` -> ``ip_src``, ``icmpv4_type`` -> ``icmp_type``, ...).
    KeyError if unknown."""
    return _CANON[name]


# --- context ---------------------------------------------------------------------------

_IP_TYPES = (ETH_TYPE_IP, ETH_TYPE_IPV6)
_ARP_TYPES = (ETH_TYPE_ARP, ETH_TYPE_RARP)
_L4_PROTO = {"tcp": IPPROTO_TCP, "udp": IPPROTO_UDP, "sctp": IPPROTO_SCTP}

#: OpenFlow packet field (canonical name) -> (FlowKey member holding it, kind of
#: context deciding whether it is active).  Kinds:
#:   "always"  no prerequisite;
#:   "ip"/"ipv4"/"ipv6"/"arp"  eth_type decides;
#:   "tcp"/"udp"/"sctp"/"icmp"/"icmpv6"  eth_type and nw_proto decide;
#:   "nd"/"nd_sll"/"nd_tll"  eth_type, nw_proto and the ICMPv6 type decide;
#:   "vlan"  special (CFI).
#: Fields not listed (metadata, registers, tunnels, conntrack) are not in the key.
FIELD_STORAGE: dict[str, tuple[str, str]] = {
    "in_port": ("in_port", "always"), "recirc_id": ("recirc_id", "always"),
    "dp_hash": ("dp_hash", "always"), "pkt_mark": ("pkt_mark", "always"),
    "eth_src": ("eth_src", "always"), "eth_dst": ("eth_dst", "always"),
    "eth_type": ("eth_type", "always"),
    "vlan_vid": ("vlan_tci", "vlan"), "vlan_pcp": ("vlan_tci", "vlan"),
    "vlan_tci": ("vlan_tci", "vlan"),
    "ip_dscp": ("nw_tos", "ip"), "nw_ecn": ("nw_tos", "ip"), "nw_tos": ("nw_tos", "ip"),
    "nw_ttl": ("nw_ttl", "ip"), "ip_frag": ("nw_frag", "ip"), "nw_proto": ("nw_proto", "ip"),
    "ip_src": ("ipv4_src", "ipv4"), "ip_dst": ("ipv4_dst", "ipv4"),
    "ipv6_src": ("ipv6_src", "ipv6"), "ipv6_dst": ("ipv6_dst", "ipv6"),
    "ipv6_label": ("ipv6_label", "ipv6"),
    "tcp_src": ("tp_src", "tcp"), "tcp_dst": ("tp_dst", "tcp"),
    "udp_src": ("tp_src", "udp"), "udp_dst": ("tp_dst", "udp"),
    "sctp_src": ("tp_src", "sctp"), "sctp_dst": ("tp_dst", "sctp"),
    "icmp_type": ("tp_src", "icmp"), "icmp_code": ("tp_dst", "icmp"),
    "icmpv6_type": ("tp_src", "icmpv6"), "icmpv6_code": ("tp_dst", "icmpv6"),
    "arp_op": ("nw_proto", "arp"), "arp_spa": ("ipv4_src", "arp"),
    "arp_tpa": ("ipv4_dst", "arp"), "arp_sha": ("arp_sha", "arp"),
    "arp_tha": ("arp_tha", "arp"),
    "nd_target": ("nd_target", "nd"), "nd_sll": ("arp_sha", "nd_sll"),
    "nd_tll": ("arp_tha", "nd_tll"),
    "tcp_flags": ("tcp_flags", "tcp"),
}


def _active(kind: str, k: Mapping[str, int]) -> bool:
    """Whether a field with context ``kind`` is present in key ints ``k``."""
    if kind == "always" or kind == "vlan":
        return True
    et = k["eth_type"]
    if kind == "ip":
        return et in _IP_TYPES
    if kind == "ipv4":
        return et == ETH_TYPE_IP
    if kind == "ipv6":
        return et == ETH_TYPE_IPV6
    if kind == "arp":
        return et in _ARP_TYPES
    if kind in _L4_PROTO:
        return et in _IP_TYPES and k["nw_proto"] == _L4_PROTO[kind]
    if kind == "icmp":
        return et == ETH_TYPE_IP and k["nw_proto"] == IPPROTO_ICMP
    if kind == "icmpv6":
        return et == ETH_TYPE_IPV6 and k["nw_proto"] == IPPROTO_ICMPV6
    icmp6 = et == ETH_TYPE_IPV6 and k["nw_proto"] == IPPROTO_ICMPV6
    t = k["tp_src"]
    if kind == "nd":
        return icmp6 and t in (ND_NEIGHBOR_SOLICIT, ND_NEIGHBOR_ADVERT)
    if kind == "nd_sll":
        return icmp6 and t == ND_NEIGHBOR_SOLICIT
    if kind == "nd_tll":
        return icmp6 and t == ND_NEIGHBOR_ADVERT
    raise AssertionError(kind)


def field_is_active(name: str, key: FlowKey | Mapping[str, int]) -> bool:
    """Whether OpenFlow packet field ``name`` is present in the packet (its
    prerequisites hold).  Pipeline fields are always present."""
    name = canonical_field(name)
    if name not in FIELD_STORAGE:
        return True
    k = key.as_ints() if isinstance(key, FlowKey) else key
    return _active(FIELD_STORAGE[name][1], k)


def field_context(name: str) -> dict[str, int]:
    """Key bits that decide whether ``name`` is active (the prerequisite fields in key
    space), as a key-field -> mask dict.  ``eth_type`` is listed although megaflows
    always match it exactly."""
    name = canonical_field(name)
    kind = FIELD_STORAGE.get(name, ("", "always"))[1]
    if kind in ("always",):
        return {}
    if kind == "vlan":
        return {"vlan_tci": VLAN_CFI}
    out = {"eth_type": 0xFFFF}
    if kind in ("tcp", "udp", "sctp", "icmp", "icmpv6", "nd", "nd_sll", "nd_tll"):
        out["nw_proto"] = 0xFF
    if kind in ("nd", "nd_sll", "nd_tll"):
        out["tp_src"] = 0xFF
    return out


# --- FlowKey -> OpenFlow dict ----------------------------------------------------------

# What flow_from_ints starts every packet with: the L3/L4 fields (overwritten for the
# packet's protocols) and the pipeline fields of a fresh translation.
_ZERO_L3_L4: dict[str, int] = dict.fromkeys((
    "ip_dscp", "nw_ecn", "nw_tos", "nw_ttl", "ip_frag", "nw_proto", "ip_src", "ip_dst",
    "ipv6_src", "ipv6_dst", "ipv6_label", "arp_op", "arp_spa", "arp_tpa", "arp_sha",
    "arp_tha", "tcp_src", "tcp_dst", "udp_src", "udp_dst", "sctp_src", "sctp_dst",
    "icmp_type", "icmp_code", "icmpv6_type", "icmpv6_code", "nd_target", "nd_sll", "nd_tll",
    "tcp_flags"), 0)
_REGS = tuple(f"reg{i}" for i in range(16))
_XREGS = tuple(f"xreg{i}" for i in range(8))
_XXREGS = tuple(f"xxreg{i}" for i in range(4))
_ZERO_PIPELINE: dict[str, int] = dict.fromkeys(("metadata", *_REGS, *_XREGS, *_XXREGS), 0)


def flow_from_ints(k: Mapping[str, int], in_port: int,
                   pipeline: Mapping[str, int] | None = None) -> dict[str, int]:
    """:func:`key_to_flow` over key ints (``FlowKey.as_ints()``) with the OpenFlow input
    port already mapped; ``pipeline`` supplies ``metadata`` and ``reg0``..``reg15``
    (missing ones are 0).  xlate calls this for every lookup."""
    et = k["eth_type"]
    proto = k["nw_proto"]
    tci = k["vlan_tci"]
    tagged = bool(tci & VLAN_CFI)
    f: dict[str, int] = {
        "in_port": in_port,
        "recirc_id": k["recirc_id"],
        "dp_hash": k["dp_hash"],
        "pkt_mark": k["pkt_mark"],
        "eth_src": k["eth_src"],
        "eth_dst": k["eth_dst"],
        "eth_type": et,
        "vlan_tci": tci,
        "vlan_vid": (tci & (VLAN_VID_MASK | VLAN_CFI)) if tagged else 0,
        "vlan_pcp": (tci >> VLAN_PCP_SHIFT) if tagged else 0,
    }
    f.update(_ZERO_L3_L4)
    if et == ETH_TYPE_IP or et == ETH_TYPE_IPV6:
        tos = k["nw_tos"]
        f["ip_dscp"] = tos >> 2
        f["nw_ecn"] = tos & IP_ECN_MASK
        f["nw_tos"] = tos & IP_DSCP_MASK
        f["nw_ttl"] = k["nw_ttl"]
        f["ip_frag"] = k["nw_frag"]
        f["nw_proto"] = proto
        if et == ETH_TYPE_IP:
            f["ip_src"] = k["ipv4_src"]
            f["ip_dst"] = k["ipv4_dst"]
        else:
            f["ipv6_src"] = k["ipv6_src"]
            f["ipv6_dst"] = k["ipv6_dst"]
            f["ipv6_label"] = k["ipv6_label"]
        sp, dp = k["tp_src"], k["tp_dst"]
        if proto == IPPROTO_TCP:
            f["tcp_src"], f["tcp_dst"] = sp, dp
            f["tcp_flags"] = k["tcp_flags"]
        elif proto == IPPROTO_UDP:
            f["udp_src"], f["udp_dst"] = sp, dp
        elif proto == IPPROTO_SCTP:
            f["sctp_src"], f["sctp_dst"] = sp, dp
        elif proto == IPPROTO_ICMP and et == ETH_TYPE_IP:
            f["icmp_type"], f["icmp_code"] = sp & 0xFF, dp & 0xFF
        elif proto == IPPROTO_ICMPV6 and et == ETH_TYPE_IPV6:
            f["icmpv6_type"], f["icmpv6_code"] = sp & 0xFF, dp & 0xFF
            if sp in (ND_NEIGHBOR_SOLICIT, ND_NEIGHBOR_ADVERT):
                f["nd_target"] = k["nd_target"]
                if sp == ND_NEIGHBOR_SOLICIT:
                    f["nd_sll"] = k["arp_sha"]
                else:
                    f["nd_tll"] = k["arp_tha"]
    elif et == ETH_TYPE_ARP or et == ETH_TYPE_RARP:
        f["arp_op"] = proto
        f["arp_spa"] = k["ipv4_src"]
        f["arp_tpa"] = k["ipv4_dst"]
        f["arp_sha"] = k["arp_sha"]
        f["arp_tha"] = k["arp_tha"]
    if not pipeline:
        f.update(_ZERO_PIPELINE)
        return f
    regs = [pipeline.get(name, 0) for name in _REGS]
    f["metadata"] = pipeline.get("metadata", 0)
    for i in range(16):
        f[_REGS[i]] = regs[i]
    for i in range(8):
        f[_XREGS[i]] = (regs[2 * i] << 32) | regs[2 * i + 1]
    for i in range(4):
        r = regs[4 * i:4 * i + 4]
        f[_XXREGS[i]] = (r[0] << 96) | (r[1] << 64) | (r[2] << 32) | r[3]
    return f


def key_to_flow(key: FlowKey, ofport_of: Callable[[int], int | None] | None = None,
                pipeline: Mapping[str, int] | None = None) -> dict[str, int]:
    """The OpenFlow field dict (oxm canonical names) a classifier matches ``key`` on.

    ``ofport_of`` maps the datapath input port to its OpenFlow port number (None: the
    numbers are the same); an unknown port reads as :data:`OFPP_NONE`.  Inactive
    fields (``tcp_dst`` of a UDP packet, ``ip_src`` of ARP...) are 0; ``vlan_vid`` is
    ``OFPVID_PRESENT | vid`` for tagged frames and 0 otherwise.  ``pipeline`` supplies
    ``metadata``/``reg*`` (default 0).
    """
    k = key.as_ints()
    if ofport_of is None:
        port = k["in_port"]
    else:
        mapped = ofport_of(k["in_port"])
        port = OFPP_NONE if mapped is None else mapped
    return flow_from_ints(k, port, pipeline)


# --- OpenFlow wildcards -> datapath mask ---------------------------------------------------

def required_mask(key: FlowKey | Mapping[str, int]) -> dict[str, int]:
    """Key bits every megaflow for ``key`` matches, as OVS ``xlate_wc_init()``:
    ``in_port``, ``recirc_id`` and ``eth_type`` exact; ``nw_frag`` for IP packets."""
    k = key.as_ints() if isinstance(key, FlowKey) else key
    m = {"in_port": 0xFFFFFFFF, "recirc_id": 0xFFFFFFFF, "eth_type": 0xFFFF}
    if k["eth_type"] in _IP_TYPES:
        m["nw_frag"] = FRAG_ANY | FRAG_LATER
    return m


# wc_to_mask results by everything they depend on (see wc_to_mask); bounded.
_MASKS: dict[tuple, FlowKey] = {}
_MASKS_MAX = 4096


def wc_to_mask(wc: Mapping[str, int], key: FlowKey,
               key_wc: Mapping[str, int] | None = None) -> FlowKey:
    """The datapath megaflow mask for translating ``key`` when the translation read the
    OpenFlow bits ``wc`` (field -> mask; aliases accepted; pipeline fields ignored)
    and the key bits ``key_wc`` (key field -> mask, for reads xlate does directly in
    key space).  See the module docstring for the rules."""
    # Of the key, the mask depends only on what decides the fields' activity and the
    # finishing rules: eth_type, nw_proto, the ICMPv6 type (ND) and the later-fragment
    # bit.  Megaflows of one pipeline shape share a few masks, so they are memoised
    # on exactly those inputs; _mask_from_wc must read nothing else of the key.
    et, proto = key.eth_type, key.nw_proto
    memo = (tuple(wc.items()), tuple(key_wc.items()) if key_wc else (), et, proto,
            key.tp_src if et == ETH_TYPE_IPV6 and proto == IPPROTO_ICMPV6 else 0,
            key.nw_frag & FRAG_LATER)
    mask = _MASKS.get(memo)
    if mask is None:
        mask = _mask_from_wc(wc, key.as_ints(), key_wc)
        if len(_MASKS) >= _MASKS_MAX:
            _MASKS.clear()
        _MASKS[memo] = mask
    return mask


def _mask_from_wc(wc: Mapping[str, int], k: Mapping[str, int],
                  key_wc: Mapping[str, int] | None) -> FlowKey:
    """:func:`wc_to_mask` over key ints ``k``, uncached."""
    m: dict[str, int] = dict.fromkeys(KEY_FIELDS, 0)

    def add(f: str, bits: int) -> None:
        m[f] |= bits

    for f, bits in required_mask(k).items():
        add(f, bits)
    if key_wc:
        for f, bits in key_wc.items():
            add(f, bits & ((1 << KEY_FIELDS[f]) - 1))
    for name, bits in wc.items():
        if not bits:
            continue
        name = _CANON.get(name, name)
        st = FIELD_STORAGE.get(name)
        if st is None:
            continue  # metadata, registers, tunnel... : not packet fields
        storage, kind = st
        for cf, cbits in _deciding_bits(kind, k):
            add(cf, cbits)
        if not _active(kind, k):
            continue  # read as 0 whatever its storage holds: context suffices
        if name == "in_port":
            add("in_port", 0xFFFFFFFF)
        elif name == "vlan_vid":
            add("vlan_tci", (bits & (VLAN_VID_MASK | VLAN_CFI)) | VLAN_CFI)
        elif name == "vlan_pcp":
            add("vlan_tci", ((bits & 7) << VLAN_PCP_SHIFT) | VLAN_CFI)
        elif name == "vlan_tci":
            add("vlan_tci", bits & 0xFFFF)
        elif name == "ip_dscp":
            add("nw_tos", (bits << 2) & IP_DSCP_MASK)
        elif name == "nw_ecn":
            add("nw_tos", bits & IP_ECN_MASK)
        elif name == "nw_tos":
            add("nw_tos", bits & IP_DSCP_MASK)
        elif name == "ip_frag":
            if bits & 3:
                add("nw_frag", FRAG_ANY | FRAG_LATER)
        elif kind in ("icmp", "icmpv6") or name == "arp_op":
            add(storage, bits & 0xFF)
        else:
            add(storage, bits & ((1 << KEY_FIELDS[storage]) - 1))
    # OVS xlate_wc_finish(): the CFI bit goes with any TCI bit; ICMP type/code are
    # 8 bits; later fragments have no L4 header.
    if m["vlan_tci"]:
        m["vlan_tci"] |= VLAN_CFI
    et, proto = k["eth_type"], k["nw_proto"]
    if (et == ETH_TYPE_IP and proto == IPPROTO_ICMP) or \
            (et == ETH_TYPE_IPV6 and proto == IPPROTO_ICMPV6):
        m["tp_src"] &= 0xFF
        m["tp_dst"] &= 0xFF
    if et in _IP_TYPES and k["nw_frag"] & FRAG_LATER:
        m["tp_src"] = m["tp_dst"] = 0
        m["tcp_flags"] = 0
    # ODP prerequisites: an L4 field in a megaflow needs its protocol.
    if et in _IP_TYPES and (m["tp_src"] or m["tp_dst"] or m["tcp_flags"] or m["nd_target"]):
        m["nw_proto"] = 0xFF
    if m["nd_target"] or (et == ETH_TYPE_IPV6 and (m["arp_sha"] or m["arp_tha"])):
        m["tp_src"] |= 0xFF
    return FlowKey.from_ints(m)


def _deciding_bits(kind: str, k: Mapping[str, int]) -> list[tuple[str, int]]:
    """The key bits that decided whether a field of context ``kind`` is active in
    ``k`` (eth_type is always exact in a megaflow, so it is not listed)."""
    if kind == "vlan":
        return [("vlan_tci", VLAN_CFI)]
    if kind in ("tcp", "udp", "sctp", "icmp", "icmpv6"):
        return [("nw_proto", 0xFF)] if k["eth_type"] in _IP_TYPES else []
    if kind in ("nd", "nd_sll", "nd_tll"):
        if k["eth_type"] != ETH_TYPE_IPV6:
            return []
        if k["nw_proto"] != IPPROTO_ICMPV6:
            return [("nw_proto", 0xFF)]
        return [("nw_proto", 0xFF), ("tp_src", 0xFF)]
    return []


# --- OpenFlow writes -> key bits --------------------------------------------------------------

class SetFieldError(Exception):
    """Base of set_field translation problems."""


class PrereqError(SetFieldError):
    """The packet lacks the field (OVS: "unmet prerequisites ..., set_field ignored")."""


class UnsupportedSetField(SetFieldError):
    """The field exists but the datapath cannot rewrite it (no ODP set for it)."""


# Which key fields the datapath's set actions can rewrite (vsw_actions.h / odp.py
# _SET_FIELDS): everything else is read-only for us.
_SETTABLE = frozenset({"eth_src", "eth_dst", "vlan_tci", "ipv4_src", "ipv4_dst", "ipv6_src",
                       "ipv6_dst", "ipv6_label", "nw_tos", "nw_ttl", "tp_src", "tp_dst",
                       "pkt_mark"})
_WRITABLE_OF = frozenset({
    "eth_src", "eth_dst", "vlan_vid", "vlan_pcp", "vlan_tci", "ip_dscp", "nw_ecn", "nw_tos",
    "nw_ttl", "ip_src", "ip_dst", "ipv6_src", "ipv6_dst", "ipv6_label", "tcp_src", "tcp_dst",
    "udp_src", "udp_dst", "sctp_src", "sctp_dst", "pkt_mark"})


def set_field_bits(name: str, value: int, mask: int | None,
                   k: Mapping[str, int]) -> list[tuple[str, int, int]]:
    """Key writes ``[(key field, value bits, mask bits)]`` implementing an OpenFlow write
    of ``value`` under ``mask`` (None = whole field) to packet field ``name``, for the
    packet whose current key ints are ``k``.

    ``vlan_vid`` writes set CFI (OpenFlow 1.2+ set-field on the VID implies a tag;
    OVS ``flow_set_vlan_vid()``), so on an untagged packet it amounts to a push.
    Raises :class:`PrereqError` if the field is absent from the packet (``tcp_src`` of a
    UDP packet, ``vlan_pcp`` of an untagged one) and :class:`UnsupportedSetField` for
    fields the datapath cannot rewrite (ARP, ND, ICMP, ``tcp_flags``, ...).
    """
    name = canonical_field(name)
    if name not in FIELD_STORAGE:
        raise UnsupportedSetField(f"{name} is not a packet field")
    storage, kind = FIELD_STORAGE[name]
    width = oxm.field_by_name(name).nbits
    full = (1 << width) - 1
    mask = full if mask is None else mask & full
    value &= mask
    if name not in _WRITABLE_OF or storage not in _SETTABLE:
        raise UnsupportedSetField(f"the datapath cannot rewrite {name}")
    if not _active(kind, k):
        raise PrereqError(f"unmet prerequisites for {name}")
    tci = k["vlan_tci"]
    if name == "vlan_vid":
        vm = mask & VLAN_VID_MASK
        return [("vlan_tci", (value & vm) | VLAN_CFI, vm | VLAN_CFI)]
    if name == "vlan_pcp":
        if not tci & VLAN_CFI:
            raise PrereqError("unmet prerequisites for vlan_pcp (no VLAN tag)")
        return [("vlan_tci", value << VLAN_PCP_SHIFT, mask << VLAN_PCP_SHIFT)]
    if name == "ip_dscp":
        return [("nw_tos", (value << 2) & IP_DSCP_MASK, (mask << 2) & IP_DSCP_MASK)]
    if name == "nw_ecn":
        return [("nw_tos", value & IP_ECN_MASK, mask & IP_ECN_MASK)]
    if name == "nw_tos":
        return [("nw_tos", value & IP_DSCP_MASK, mask & IP_DSCP_MASK)]
    return [(storage, value, mask)]


def describe(flow: Mapping[str, int], names: Iterable[str] | None = None) -> str:
    """Compact ``name=value`` text of the nonzero fields of an OpenFlow dict (trace)."""
    out = []
    for n in (names if names is not None else flow):
        v = flow.get(n, 0)
        if v:
            if n == "eth_type":
                out.append(f"eth_type={v:#06x}")
            else:
                out.append(f"{n}={oxm.format_value(n, v)}" if n in _CANON else f"{n}={v:#x}")
    return ",".join(out)


def mix32(x: int) -> int:
    """A 32-bit avalanche mix (MurmurHash3's fmix32), so that nearby inputs spread over
    all bits (select groups' bucket choice, xlate's flow hash)."""
    x &= 0xFFFFFFFF
    x ^= x >> 16
    x = (x * 0x85EBCA6B) & 0xFFFFFFFF
    x ^= x >> 13
    x = (x * 0xC2B2AE35) & 0xFFFFFFFF
    x ^= x >> 16
    return x
