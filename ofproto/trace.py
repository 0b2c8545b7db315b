"""``ovs-appctl ofproto/trace``: a flow written in ovs-ofctl's syntax, through a bridge's
pipeline, explained.

Where this sits: :mod:`appliance.appctl` hands the command's arguments here.
:func:`parse_flow` turns OVS's exact-flow syntax (lib/ofp-flow.c
``parse_ofp_exact_flow()``: ``in_port=1,tcp,nw_src=10.0.0.1,tp_dst=80``) into the
datapath :class:`~appliance.dpif.odp.FlowKey` a packet with those headers would have,
every unnamed field zero as in OVS.  :func:`trace` translates that key through the
bridge (:func:`ofproto.xlate.xlate` with ``want_trace``, no side effects: nothing is
learned) and lays the result out as OVS's ``ofproto_trace__()`` does: ``Flow:`` (OVS's
``flow_format()``, :func:`format_flow`), the bridge and table steps xlate recorded,
``Final flow:``, ``Megaflow:`` (here the datapath key and mask in ODP text: that is what
gets installed) and ``Datapath actions:``.

Field names are those of OVS's meta-flow (``dl_src``/``eth_src``, ``nw_src``/``ip_src``,
``tp_src``, ``icmp_type``, ``arp_op``, ``nd_target``, ``vlan_tci``, ``dl_vlan``,
``tcp_flags``...) plus the protocol shorthands of ``ofp_parse_protocol()``; fields must
come after the ones they depend on (``tcp,tp_dst=80``, not ``tp_dst=80,tcp``), as in
OVS.  One leniency: ``tp_src``/``tp_dst`` mean the port of whichever of TCP, UDP or SCTP
was named (OVS takes them for TCP only).  Pipeline fields (``metadata``, registers) and
fields the datapath key lacks (tunnels, conntrack, MPLS) are refused.
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING

from appliance.dpif import odp
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

from . import flow as oflow
from .flow import FIELD_STORAGE
from .ofp import oxm
from .ofp.consts import OFPPort
from .xlate import PortMap

if TYPE_CHECKING:
    from .bridge import OFBridge

__all__ = ["FlowSyntaxError", "ODPP_NONE", "format_flow", "format_port", "parse_flow", "trace"]

#: The datapath port number of "no datapath port" (OVS ODPP_NONE).
ODPP_NONE = 0xFFFFFFFF
OFPP_NONE = OFPPort.OFPP_ANY.value   # OVS's OFPP_NONE is OFPP_ANY

# ofp_parse_protocol() (lib/ofp-parse.c): name -> (dl_type, nw_proto).
_PROTOCOLS: dict[str, tuple[int, int]] = {
    "ip": (ETH_TYPE_IP, 0), "ipv4": (ETH_TYPE_IP, 0), "ip4": (ETH_TYPE_IP, 0),
    "arp": (ETH_TYPE_ARP, 0), "rarp": (ETH_TYPE_RARP, 0),
    "icmp": (ETH_TYPE_IP, IPPROTO_ICMP), "tcp": (ETH_TYPE_IP, IPPROTO_TCP),
    "udp": (ETH_TYPE_IP, IPPROTO_UDP), "sctp": (ETH_TYPE_IP, IPPROTO_SCTP),
    "ipv6": (ETH_TYPE_IPV6, 0), "ip6": (ETH_TYPE_IPV6, 0),
    "icmp6": (ETH_TYPE_IPV6, IPPROTO_ICMPV6), "tcp6": (ETH_TYPE_IPV6, IPPROTO_TCP),
    "udp6": (ETH_TYPE_IPV6, IPPROTO_UDP), "sctp6": (ETH_TYPE_IPV6, IPPROTO_SCTP),
}
_L4_NAMES = {IPPROTO_TCP: "tcp", IPPROTO_UDP: "udp", IPPROTO_SCTP: "sctp"}
# Fields that share a FlowKey member with others: set_field_bits() knows how they pack.
_PACKED = frozenset({"vlan_vid", "vlan_pcp", "ip_dscp", "nw_ecn", "nw_tos"})
# packet_format_tcp_flag_to_string() names, by bit.
_TCP_FLAGS = ("fin", "syn", "rst", "psh", "ack", "urg", "ece", "cwr", "ns")
_FRAG_VALUES = {"no": 0, "first": FRAG_ANY, "later": FRAG_ANY | FRAG_LATER}


class FlowSyntaxError(ValueError):
    """A flow string OVS would refuse; the message is OVS's wording (without the
    ``Bad openflow flow syntax:`` prefix ofproto/trace adds)."""


def format_port(ofport: int) -> str:
    """An OpenFlow port as OVS's ``ofputil_format_port()`` prints it without a port map
    (flows, ``fdb/show``): a reserved port's name (``LOCAL``), else the number."""
    try:
        reserved = OFPPort(ofport)
    except ValueError:
        return str(ofport)
    return str(ofport) if reserved is OFPPort.OFPP_MAX else reserved.name[5:]


def _parse_port(text: str, ports: PortMap) -> int:
    """An OpenFlow port given by number, by a bridge port's name or as a reserved name
    (``LOCAL``, ``CONTROLLER``...), as ``ofputil_port_from_string()`` accepts them."""
    for p in ports:
        if p.name == text:
            return p.ofport
    try:
        return int(text, 0)
    except ValueError:
        pass
    try:
        return OFPPort["OFPP_" + text.upper()].value
    except KeyError:
        raise ValueError(f"{text}: port is not valid") from None


def _parse_tcp_flags(text: str) -> int:
    """A number, or flag names joined by ``|`` or ``+`` (``syn|ack``, ``+syn+ack``)."""
    try:
        return int(text, 0)
    except ValueError:
        pass
    value = 0
    for word in text.replace("+", "|").split("|"):
        if not word:
            continue
        if word not in _TCP_FLAGS:
            raise ValueError(f"{word}: unknown TCP flag")
        value |= 1 << _TCP_FLAGS.index(word)
    return value


def _parse_value(name: str, storage: str, text: str) -> int:
    """``text`` as a value of OpenFlow field ``name`` stored in FlowKey member
    ``storage``: MAC and IP addresses in their usual text, numbers in decimal or
    0x-hex, ``ip_frag`` and ``tcp_flags`` by name too."""
    kind = type(getattr(odp.ZERO, storage))
    if kind is bytes:
        parts = text.split(":")
        if len(parts) != 6 or not all(len(p) in (1, 2) for p in parts):
            raise ValueError(f"{text}: invalid Ethernet address")
        value = int("".join(p.zfill(2) for p in parts), 16)
    elif kind is ipaddress.IPv4Address:
        value = int(ipaddress.IPv4Address(text))
    elif kind is ipaddress.IPv6Address:
        value = int(ipaddress.IPv6Address(text))
    elif name == "ip_frag" and text in _FRAG_VALUES:
        value = _FRAG_VALUES[text]
    elif name == "tcp_flags":
        value = _parse_tcp_flags(text)
    else:
        value = int(text, 0)
    if not 0 <= value < 1 << oxm.field_by_name(name).nbits:
        raise ValueError(f"{text}: value too large for {name}")
    return value


def _pairs(text: str) -> list[tuple[str, str | None]]:
    """``key[=value]`` pairs separated by commas or white space (OVS
    ``ofputil_parse_key_value()``; ``key:value`` is accepted too)."""
    out: list[tuple[str, str | None]] = []
    for token in text.replace(",", " ").split():
        cut = min((i for i in (token.find("="), token.find(":")) if i >= 0), default=-1)
        out.append((token, None) if cut < 0 else (token[:cut], token[cut + 1:]))
    return out


def parse_flow(text: str, ports: PortMap) -> tuple[FlowKey, int]:
    """Parses an exact flow in ovs-ofctl syntax for a bridge with ``ports``.

    Returns the datapath key (its ``in_port`` the datapath number of the OpenFlow
    in_port, or :data:`ODPP_NONE` if that port has none) and the OpenFlow in_port
    (OVS's OFPP_NONE, i.e. ``ANY``, when none is given).

    :raises FlowSyntaxError: with OVS's message (``FLOW: unknown field X``,
        ``FLOW: prerequisites not met for setting X``, ``FLOW: field X set multiple
        times``, ``FLOW: bad value for X (...)``, ...).
    """
    k = odp.ZERO.as_ints()
    seen: set[str] = set()
    in_ofport = OFPP_NONE
    for key, value_text in _pairs(text):
        if key in _PROTOCOLS and value_text is None:
            dl_type, nw_proto = _PROTOCOLS[key]
            if k["eth_type"]:
                raise FlowSyntaxError(f"{text}: Ethernet type set multiple times")
            k["eth_type"] = dl_type
            if nw_proto:
                if k["nw_proto"]:
                    raise FlowSyntaxError(f"{text}: network protocol set multiple times")
                k["nw_proto"] = nw_proto
            continue
        if value_text is None:
            raise FlowSyntaxError(f"{text}: field {key} missing value")
        name = _canonical(text, key, k)
        if name in seen:
            raise FlowSyntaxError(f"{text}: field {key} set multiple times")
        seen.add(name)
        try:
            if name == "in_port":
                in_ofport = _parse_port(value_text, ports)
                continue
            if name in ("dl_vlan", "dl_vlan_pcp"):
                _set_dl_vlan(k, name, value_text)
                continue
            if not oflow.field_is_active(name, k):
                raise FlowSyntaxError(f"{text}: prerequisites not met for setting {key}")
            storage = FIELD_STORAGE[name][0]
            value = _parse_value(name, storage, value_text)
        except ValueError as e:
            if isinstance(e, FlowSyntaxError):
                raise
            raise FlowSyntaxError(f"{text}: bad value for {key} ({e})") from None
        if name in _PACKED:
            for member, bits, mask in oflow.set_field_bits(name, value, None, k):
                k[member] = (k[member] & ~mask) | bits
        else:
            k[storage] = value
    if in_ofport != OFPP_NONE:
        port = ports.get(in_ofport)
        k["in_port"] = ODPP_NONE if port is None else port.odp_port
    else:
        k["in_port"] = ODPP_NONE
    return FlowKey.from_ints(k), in_ofport


def _canonical(text: str, key: str, k: dict[str, int]) -> str:
    """The field ``key`` names: an oxm canonical name, or OVS's ``dl_vlan``/
    ``dl_vlan_pcp``.  ``tp_src``/``tp_dst`` follow the L4 protocol already set."""
    if key in ("tp_src", "tp_dst"):
        return _L4_NAMES.get(k["nw_proto"], "tcp") + key[2:]
    if key in ("dl_vlan", "dl_vlan_pcp"):
        return key
    try:
        name = oflow.canonical_field(key)
    except KeyError:
        raise FlowSyntaxError(f"{text}: unknown field {key}") from None
    if name != "in_port" and name not in FIELD_STORAGE:
        # Known to OpenFlow but not part of a datapath key here (registers,
        # metadata, tunnels, conntrack, MPLS).
        raise FlowSyntaxError(f"{text}: field {key} cannot be traced: the datapath key "
                              "has no such field")
    return name


def _set_dl_vlan(k: dict[str, int], name: str, text: str) -> None:
    """OVS ``flow_set_dl_vlan()``/``flow_set_vlan_pcp()``: either one implies a tag;
    ``dl_vlan=0xffff`` (OFP10_VLAN_NONE) means untagged."""
    value = int(text, 0)
    tci = k["vlan_tci"]
    if name == "dl_vlan":
        if value == 0xFFFF:
            k["vlan_tci"] = 0
            return
        if value > 0xFFF:
            raise ValueError(f"{text}: VLAN ID out of range")
        k["vlan_tci"] = (tci & ~0xFFF) | value | VLAN_CFI
    else:
        if value > 7:
            raise ValueError(f"{text}: VLAN priority out of range")
        k["vlan_tci"] = (tci & 0x1FFF) | (value << 13) | VLAN_CFI


# --- OVS flow_format() ------------------------------------------------------------------

def _flags_text(flags: int) -> str:
    """OVS ``format_flags()`` over the TCP flag names: ``syn|ack``, ``0`` if none."""
    if not flags:
        return "0"
    names = [(_TCP_FLAGS[i] if i < len(_TCP_FLAGS) else f"0x{1 << i:x}")
             for i in range(12) if flags >> i & 1]
    return "|".join(names)


def format_flow(key: FlowKey, in_ofport: int) -> str:
    """``key`` as OVS's ``flow_format()`` prints a packet's flow (the ``Flow:`` line of
    ofproto/trace, lib/match.c ``match_format()`` order): zero metadata omitted, a
    protocol shorthand, ``in_port`` (OpenFlow, ``in_ofport``), VLAN, addresses, then the
    L3 and L4 fields the packet has, each shown even when zero."""
    k = key.as_ints()
    et, proto, frag = k["eth_type"], k["nw_proto"], k["nw_frag"]
    out: list[str] = []
    for name in ("pkt_mark", "recirc_id", "dp_hash"):
        if k[name]:
            out.append(f"{name}={k[name]:#x}")
    skip_type = skip_proto = False
    if et == ETH_TYPE_IP:
        short = {IPPROTO_ICMP: "icmp", IPPROTO_TCP: "tcp", IPPROTO_UDP: "udp",
                 IPPROTO_SCTP: "sctp"}.get(proto)
        out.append(short or "ip")
        skip_type, skip_proto = True, short is not None
    elif et == ETH_TYPE_IPV6:
        short = {IPPROTO_ICMPV6: "icmp6", IPPROTO_TCP: "tcp6", IPPROTO_UDP: "udp6",
                 IPPROTO_SCTP: "sctp6"}.get(proto)
        out.append(short or "ipv6")
        skip_type, skip_proto = True, short is not None
    elif et in (ETH_TYPE_ARP, ETH_TYPE_RARP):
        out.append("arp" if et == ETH_TYPE_ARP else "rarp")
        skip_type = True
    if in_ofport:
        out.append(f"in_port={format_port(in_ofport)}")
    tci = k["vlan_tci"]
    if tci & VLAN_CFI:
        out.append(f"dl_vlan={tci & 0xFFF},dl_vlan_pcp={tci >> 13}")
    else:
        out.append(f"vlan_tci={tci:#06x}")
    out.append(f"dl_src={oxm.format_value('eth_src', k['eth_src'])}")
    out.append(f"dl_dst={oxm.format_value('eth_dst', k['eth_dst'])}")
    if not skip_type:
        out.append(f"dl_type={et:#06x}")
    ip = et in (ETH_TYPE_IP, ETH_TYPE_IPV6)
    if et == ETH_TYPE_IPV6:
        out.append(f"ipv6_src={key.ipv6_src},ipv6_dst={key.ipv6_dst}")
        out.append(f"ipv6_label={k['ipv6_label']:#07x}")
    elif et in (ETH_TYPE_ARP, ETH_TYPE_RARP):
        out.append(f"arp_spa={key.ipv4_src},arp_tpa={key.ipv4_dst}")
        out.append(f"arp_op={proto}")
        out.append(f"arp_sha={oxm.format_value('arp_sha', k['arp_sha'])}")
        out.append(f"arp_tha={oxm.format_value('arp_tha', k['arp_tha'])}")
    elif et == ETH_TYPE_IP:
        out.append(f"nw_src={key.ipv4_src},nw_dst={key.ipv4_dst}")
    if ip:
        if not skip_proto:
            out.append(f"nw_proto={proto}")
        tos = k["nw_tos"]
        out.append(f"nw_tos={tos & 0xFC},nw_ecn={tos & 3},nw_ttl={k['nw_ttl']}")
        out.append("nw_frag=" + ("no" if not frag & FRAG_ANY else
                                 "later" if frag & FRAG_LATER else "first"))
        if not frag & FRAG_LATER and proto in (IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_TCP,
                                               IPPROTO_UDP, IPPROTO_SCTP):
            icmp = (et == ETH_TYPE_IP and proto == IPPROTO_ICMP) or \
                (et == ETH_TYPE_IPV6 and proto == IPPROTO_ICMPV6)
            names = ("icmp_type", "icmp_code") if icmp else ("tp_src", "tp_dst")
            out.append(f"{names[0]}={k['tp_src']},{names[1]}={k['tp_dst']}")
            if icmp and et == ETH_TYPE_IPV6 and \
                    k["tp_src"] in (ND_NEIGHBOR_SOLICIT, ND_NEIGHBOR_ADVERT):
                out.append(f"nd_target={key.nd_target}")
                out.append(f"nd_sll={oxm.format_value('nd_sll', k['arp_sha'])}")
                out.append(f"nd_tll={oxm.format_value('nd_tll', k['arp_tha'])}")
            if proto == IPPROTO_TCP:
                out.append(f"tcp_flags={_flags_text(k['tcp_flags'])}")
    return ",".join(out)


# --- the trace --------------------------------------------------------------------------

def trace(bridge: OFBridge, key: FlowKey, in_ofport: int | None = None,
          packet: bytes | None = None) -> str:
    """The ofproto/trace text for ``key`` entering ``bridge`` on OpenFlow port
    ``in_ofport`` (None: the port owning ``key.in_port``).

    Translates without side effects (no MAC learning, no counters).
    """
    if in_ofport is None:
        in_ofport = bridge.ports.ofport_of(key.in_port)
        in_ofport = OFPP_NONE if in_ofport is None else in_ofport
    res = bridge.xlate(key, packet, side_effects=False, want_trace=True,
                       in_ofport=in_ofport if bridge.ports.by_odp(key.in_port) is None
                       else None)
    lines = list(res.trace)
    # xlate describes the flow before and after in one style: equal texts, equal flows.
    initial = lines[0].removeprefix("Flow: ")
    lines[0] = f"Flow: {format_flow(key, in_ofport)}"
    for i, line in enumerate(lines):
        if line.startswith("Final flow: ") and line.removeprefix("Final flow: ") == initial:
            lines[i] = "Final flow: unchanged"
    return "\n".join(lines) + "\n"
