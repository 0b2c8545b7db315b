"""Flow key extraction and hashing (dpdk_glue/src/flow.c) checked against scapy.

``expected()`` derives the key a frame should yield from scapy's dissection of it,
applying OVS's miniflow_extract() rules (lib/flow.c) for what counts as present: one
VLAN tag (vlan-limit=1), 802.3/SNAP, IPv4 only when the whole datagram is in the frame,
IPv6 extension headers, ARP, TCP/UDP/SCTP/ICMP/ICMPv6 and ND.  It never calls the C
code; the tests compare every byte of the C key (padding included) and the header
offsets against it, for hand-picked frames, frames cut at every length, frames built
from hypothesis-chosen field values, and random bytes.
"""

from __future__ import annotations

import random
import socket
import struct

import pytest
from dpdk_glue._vsw import ffi, lib
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scapy.layers.inet import ICMP, IP, TCP, UDP, IPOption_NOP, IPOption_RR
from scapy.layers.inet6 import (
    ICMPv6EchoReply,
    ICMPv6EchoRequest,
    ICMPv6ND_NA,
    ICMPv6ND_NS,
    ICMPv6NDOptDstLLAddr,
    ICMPv6NDOptMTU,
    ICMPv6NDOptSrcLLAddr,
    ICMPv6NDOptUnknown,
    ICMPv6Unknown,
    IPv6,
    IPv6ExtHdrDestOpt,
    IPv6ExtHdrFragment,
    IPv6ExtHdrHopByHop,
    IPv6ExtHdrRouting,
)
from scapy.layers.ipsec import AH
from scapy.layers.l2 import ARP, LLC, SNAP, Dot1Q, Dot3, Ether
from scapy.layers.sctp import SCTP
from scapy.packet import Raw
from scapy.utils import mac2str

OFS_NONE = 0xFFFF
FRAG_ANY, FRAG_LATER = 0x01, 0x02
KEY_SIZE = 128

FIELDS = {name: (f.offset, ffi.sizeof(f.type))
          for name, f in ffi.typeof("struct vsw_flow_key").fields}
PADDING = ("pad0", "pad1")

MAC_A, MAC_B = "02:00:00:00:00:0a", "02:00:00:00:00:0b"


# --- The C side -----------------------------------------------------------------------

def c_extract(frame: bytes, in_port: int = 0) -> tuple[bytes, tuple[int, int, int]]:
    """Runs vsw_flow_extract() on exactly 'frame' (no slack after it)."""
    key = ffi.new("struct vsw_flow_key *")
    ffi.buffer(key)[:] = b"\xa5" * KEY_SIZE      # every byte must be written
    off = ffi.new("struct vsw_hdr_offsets *")
    buf = ffi.from_buffer("uint8_t[]", frame)
    lib.vsw_flow_extract(buf, len(frame), in_port, key, off)
    return bytes(ffi.buffer(key)), (off.vlan, off.l3, off.l4)


def key_from_bytes(raw: bytes):
    key = ffi.new("struct vsw_flow_key *")
    ffi.buffer(key)[:] = raw
    return key


# --- The oracle -----------------------------------------------------------------------

def be16(v: int) -> bytes:
    return struct.pack(">H", v)


class Expected:
    """The key as named field bytes (packet fields in network order) plus offsets."""

    def __init__(self, in_port: int) -> None:
        self.fields = {name: bytes(size) for name, (_, size) in FIELDS.items()}
        self.fields["in_port"] = struct.pack("=I", in_port)
        self.vlan = self.l3 = self.l4 = OFS_NONE

    def __setitem__(self, name: str, value: bytes) -> None:
        assert len(value) == FIELDS[name][1], name
        self.fields[name] = value

    def __getitem__(self, name: str) -> bytes:
        return self.fields[name]

    def key(self) -> bytes:
        raw = bytearray(KEY_SIZE)
        for name, (offset, size) in FIELDS.items():
            raw[offset:offset + size] = self.fields[name]
        return bytes(raw)


def expected(frame: bytes, in_port: int = 0) -> Expected:
    e = Expected(in_port)
    n = len(frame)
    if n < 14:
        return e                        # OVS takes nothing from a runt header
    eth = Ether(frame[:14])             # a Dot3 when the type is a length
    e["eth_dst"], e["eth_src"] = mac2str(eth.dst), mac2str(eth.src)
    etype, off = eth.len if isinstance(eth, Dot3) else eth.type, 14
    if etype in (0x8100, 0x88A8) and n >= 18:
        tag = Dot1Q(frame[14:18])       # TCI and the EtherType after it
        e["vlan_tci"] = be16(tag.prio << 13 | tag.dei << 12 | tag.vlan | 0x1000)
        e.vlan = 12
        etype, off = tag.type, 18
    if etype < 0x600:
        etype = 0x05FF
        if n - off >= 8:
            llc, snap = LLC(frame[off:off + 3]), SNAP(frame[off + 3:off + 8])
            if ((llc.dsap, llc.ssap, llc.ctrl) == (0xAA, 0xAA, 3) and snap.OUI == 0
                    and snap.code >= 0x600):
                etype, off = snap.code, off + 8
    e["eth_type"] = be16(etype)
    if etype == 0x0800:
        _ipv4(e, frame, off)
    elif etype == 0x86DD:
        _ipv6(e, frame, off)
    elif etype in (0x0806, 0x8035):
        _arp(e, frame, off)
    return e


def _ipv4(e: Expected, frame: bytes, off: int) -> None:
    size = len(frame) - off
    if size < 20:
        return
    ip = IP(frame[off:off + 20])
    ihl, tot = ip.ihl * 4, ip.len
    if ihl < 20 or tot > size or ihl > tot:
        return
    e["ipv4_src"], e["ipv4_dst"] = socket.inet_aton(ip.src), socket.inet_aton(ip.dst)
    e["nw_tos"], e["nw_ttl"], e["nw_proto"] = bytes([ip.tos]), bytes([ip.ttl]), bytes([ip.proto])
    e.l3 = off
    if ip.flags.MF or ip.frag:
        e["nw_frag"] = bytes([FRAG_ANY | (FRAG_LATER if ip.frag else 0)])
        if ip.frag:
            return
    _l4(e, ip.proto, frame[off + ihl:off + tot], off + ihl)


EXT_HDRS = {0: IPv6ExtHdrHopByHop, 43: IPv6ExtHdrRouting, 60: IPv6ExtHdrDestOpt, 51: AH}


def _ipv6(e: Expected, frame: bytes, off: int) -> None:
    size = len(frame) - off
    if size < 40:
        return
    ip6 = IPv6(frame[off:off + 40])
    if ip6.plen + 40 > size:
        return
    e["ipv6_src"], e["ipv6_dst"] = (socket.inet_pton(socket.AF_INET6, ip6.src),
                                    socket.inet_pton(socket.AF_INET6, ip6.dst))
    e.l3 = off
    pos, end, nh, frag = off + 40, off + 40 + ip6.plen, ip6.nh, 0
    while nh in (0, 43, 44, 51, 60):
        if end - pos < 8:
            return                      # OVS keeps just the addresses
        if nh == 44:
            fh = IPv6ExtHdrFragment(frame[pos:pos + 8])
            nh, pos = fh.nh, pos + 8
            if fh.offset or fh.res2 or fh.m:
                frag = FRAG_ANY
                if fh.offset:
                    frag |= FRAG_LATER
                    nh = 44
                    break
            continue
        hdr = EXT_HDRS[nh](frame[pos:end])
        hlen = (hdr.payloadlen + 2) * 4 if nh == 51 else (hdr.len + 1) * 8
        nh = hdr.nh
        if hlen > end - pos:
            return
        pos += hlen
    e["ipv6_label"] = struct.pack(">I", ip6.fl)
    e["nw_tos"], e["nw_ttl"] = bytes([ip6.tc]), bytes([ip6.hlim])
    e["nw_proto"], e["nw_frag"] = bytes([nh]), bytes([frag])
    if not frag & FRAG_LATER:
        _l4(e, nh, frame[pos:end], pos)


def _arp(e: Expected, frame: bytes, off: int) -> None:
    if len(frame) - off < 28:
        return
    arp = ARP(frame[off:off + 28])
    if (arp.hwtype, arp.ptype, arp.hwlen, arp.plen) != (1, 0x0800, 6, 4):
        return
    if arp.op <= 0xFF:
        e["nw_proto"] = bytes([arp.op])
    e["ipv4_src"], e["ipv4_dst"] = socket.inet_aton(arp.psrc), socket.inet_aton(arp.pdst)
    e["arp_sha"], e["arp_tha"] = mac2str(arp.hwsrc), mac2str(arp.hwdst)
    e.l3 = off


def _l4(e: Expected, proto: int, seg: bytes, off: int) -> None:
    """'seg' is the IP payload (never Ethernet padding)."""
    if proto == 6 and len(seg) >= 20:
        tcp = TCP(seg[:20])
        if 20 <= tcp.dataofs * 4 <= len(seg):
            e["tp_src"], e["tp_dst"] = be16(tcp.sport), be16(tcp.dport)
            e["tcp_flags"] = be16(tcp.reserved << 9 | int(tcp.flags))
            e.l4 = off
    elif proto == 17 and len(seg) >= 8:
        udp = UDP(seg[:8])
        e["tp_src"], e["tp_dst"] = be16(udp.sport), be16(udp.dport)
        e.l4 = off
    elif proto == 132 and len(seg) >= 12:
        sctp = SCTP(seg[:12])
        e["tp_src"], e["tp_dst"] = be16(sctp.sport), be16(sctp.dport)
        e.l4 = off
    elif proto == 1 and len(seg) >= 8:
        # Zero-padded: some types have more fixed fields than the 8 bytes OVS needs.
        icmp = ICMP(seg[:8] + bytes(32))
        e["tp_src"], e["tp_dst"] = be16(icmp.type), be16(icmp.code)
        e.l4 = off
    elif proto == 58 and len(seg) >= 8:
        _icmpv6(e, seg, off)


def _icmpv6(e: Expected, seg: bytes, off: int) -> None:
    icmp6 = ICMPv6Unknown(seg[:8])
    e["tp_src"], e["tp_dst"] = be16(icmp6.type), be16(icmp6.code)
    e.l4 = off
    if icmp6.code != 0 or icmp6.type not in (135, 136) or len(seg) < 24:
        return
    # NS and NA both have the target at offset 8.
    e["nd_target"] = socket.inet_pton(socket.AF_INET6, ICMPv6ND_NS(seg[:24]).tgt)
    pos, lla = 24, {1: bytes(6), 2: bytes(6)}
    while len(seg) - pos >= 8:
        opt = ICMPv6NDOptUnknown(seg[pos:pos + 2])
        opt_len = opt.len * 8
        if not opt_len or opt_len > len(seg) - pos:
            break
        if opt.type in (1, 2) and opt_len == 8:
            if lla[opt.type] != bytes(6):
                # An address option twice: OVS treats the ND fields as absent.
                e["nd_target"] = bytes(16)
                return
            lla[opt.type] = mac2str(ICMPv6NDOptSrcLLAddr(seg[pos:pos + 8]).lladdr)
        pos += opt_len
    e["arp_sha"], e["arp_tha"] = lla[1], lla[2]


# --- Comparison -----------------------------------------------------------------------

def check(frame: bytes, in_port: int = 7) -> Expected:
    got, offsets = c_extract(frame, in_port)
    exp = expected(frame, in_port)
    for name, (offset, size) in FIELDS.items():
        assert got[offset:offset + size].hex() == exp[name].hex(), \
            f"{name} for {frame.hex()}"
    for name in PADDING:
        offset, size = FIELDS[name]
        assert got[offset:offset + size] == bytes(size)
    assert got == exp.key()
    assert offsets == (exp.vlan, exp.l3, exp.l4), f"offsets for {frame.hex()}"
    return exp


def field(raw: bytes, name: str) -> bytes:
    offset, size = FIELDS[name]
    return raw[offset:offset + size]


def eth(type_: int | None = None) -> Ether:
    return Ether(dst=MAC_A, src=MAC_B) if type_ is None else Ether(dst=MAC_A, src=MAC_B,
                                                                   type=type_)


def tagged_8023(payload, vlan: int = 9) -> bytes:
    """802.1Q followed by an 802.3 length (scapy would pick an EtherType itself)."""
    body = bytes(payload)
    return bytes(eth() / Dot1Q(vlan=vlan, type=len(body)) / body)


def ns(target: str = "fe80::1", *options) -> IPv6:
    pkt = IPv6(src="fe80::2", dst="ff02::1:ff00:1") / ICMPv6ND_NS(tgt=target)
    for opt in options:
        pkt = pkt / opt
    return pkt


V4 = IP(src="10.0.0.1", dst="10.0.0.2", tos=0xB8, ttl=33)
V6 = IPv6(src="2001:db8::1", dst="2001:db8::2", tc=0xB9, fl=0xABCDE, hlim=7)
SLL = ICMPv6NDOptSrcLLAddr(lladdr="00:11:22:33:44:55")
TLL = ICMPv6NDOptDstLLAddr(lladdr="66:77:88:99:aa:bb")

SAMPLES = {
    # IPv4 transports.
    "udp4": eth() / V4 / UDP(sport=1234, dport=53),
    "tcp4": eth() / V4 / TCP(sport=80, dport=4321, flags="SAFRPUECN", reserved=5),
    "tcp4_opts": eth() / V4 / TCP(options=[("MSS", 1460), ("SAckOK", b""),
                                            ("WScale", 7), ("NOP", None)]),
    "sctp4": eth() / V4 / SCTP(sport=2905, dport=2906),
    "icmp4": eth() / V4 / ICMP(type=3, code=13),
    "igmp4": eth() / IP(proto=2) / Raw(b"\x11\x64\xee\x9b\xe0\x00\x00\x01"),
    "gre4": eth() / IP(proto=47) / Raw(b"\x00" * 8),
    "ipv4_options": eth() / IP(options=[IPOption_RR(routers=["1.1.1.1"]), IPOption_NOP()])
                    / UDP(sport=1, dport=2),
    "ipv4_df": eth() / IP(flags="DF") / UDP(),
    "ipv4_frag_first": eth() / IP(flags="MF", proto=17) / UDP(sport=5, dport=6),
    "ipv4_frag_later": eth() / IP(frag=100, proto=17) / Raw(b"\x00\x05\x00\x06" * 4),
    "ipv4_frag_last": eth() / IP(frag=3, proto=6) / Raw(b"x" * 24),
    "ipv4_evil_bit": eth() / IP(flags="evil") / UDP(),
    # Padded to 60 bytes below: the padding must not be taken for a UDP header.
    "ipv4_padded": eth() / IP(proto=17) / Raw(b"\x00\x01\x00"),
    "ipv6_padded": eth() / IPv6(nh=6) / Raw(b"\x00\x01"),
    "ipv4_ihl_short": eth() / IP(ihl=4) / UDP(),
    "ipv4_len_short": eth() / IP(len=19) / UDP(),
    "ipv4_len_long": eth() / IP(len=200) / UDP(),
    "ipv4_udp_cut_by_len": eth() / IP(proto=17) / Raw(b"\x00\x01\x00"),
    "ipv4_tcp_opts_cut_by_len": eth() / IP(proto=6)
                                / Raw(bytes(TCP(options=[("MSS", 1)]))[:22]),
    "tcp_dataofs_short": eth() / IP() / TCP(dataofs=4),
    "tcp_dataofs_long": eth() / IP() / TCP(dataofs=15),
    "icmp_in_ipv6": eth() / IPv6(nh=1) / ICMP(type=8),
    "icmpv6_in_ipv4": eth() / IP(proto=58) / ICMPv6ND_NS(tgt="fe80::9") / SLL,
    # IPv6.
    "udp6": eth() / V6 / UDP(sport=546, dport=547),
    "tcp6": eth() / V6 / TCP(sport=22, dport=2222, flags="PA"),
    "sctp6": eth() / V6 / SCTP(sport=1, dport=2),
    "icmp6_echo": eth() / V6 / ICMPv6EchoRequest(),
    "icmp6_echo_reply": eth() / V6 / ICMPv6EchoReply(),
    "ipv6_ext_chain": eth() / V6 / IPv6ExtHdrHopByHop() / IPv6ExtHdrRouting(
        addresses=["2001:db8::9", "2001:db8::a"]) / IPv6ExtHdrDestOpt() / TCP(dport=9),
    "ipv6_ah": eth() / IPv6(nh=51) / AH(nh=17, payloadlen=2, spi=9, icv=b"abcd") / UDP(),
    "ipv6_ah_long": eth() / IPv6(nh=51) / AH(nh=6, payloadlen=4, icv=b"a" * 12) / TCP(),
    "ipv6_frag_first": eth() / V6 / IPv6ExtHdrFragment(m=1, id=5) / UDP(sport=7, dport=8),
    "ipv6_frag_later": eth() / V6 / IPv6ExtHdrFragment(offset=8, nh=17) / Raw(b"y" * 16),
    "ipv6_frag_atomic": eth() / V6 / IPv6ExtHdrFragment() / UDP(sport=7, dport=8),
    "ipv6_frag_res2": eth() / V6 / IPv6ExtHdrFragment(res2=1) / UDP(sport=7, dport=8),
    "ipv6_frag_in_chain": eth() / V6 / IPv6ExtHdrHopByHop() / IPv6ExtHdrFragment(m=1)
                          / IPv6ExtHdrDestOpt() / ICMPv6EchoRequest(),
    "ipv6_no_next": eth() / IPv6(nh=59) / Raw(b"z" * 8),
    "ipv6_esp": eth() / IPv6(nh=50) / Raw(b"z" * 16),
    "ipv6_ext_cut_by_plen": eth() / IPv6(nh=0, plen=6) / Raw(b"\x06\x00" + b"\x00" * 10),
    "ipv6_ext_len_past_end": eth() / IPv6(nh=60) / Raw(b"\x11\x04" + b"\x00" * 14),
    "ipv6_plen_long": eth() / IPv6(plen=100) / UDP(),
    "ipv6_short": eth(0x86DD) / Raw(b"\x60" + b"\x00" * 30),
    # Neighbour discovery.
    "nd_ns_sll": eth() / ns("fe80::1", SLL),
    "nd_na_tll": eth() / IPv6() / ICMPv6ND_NA(tgt="2001:db8::77", R=1, S=1, O=1) / TLL,
    "nd_ns_both": eth() / ns("fe80::3", ICMPv6NDOptMTU(), TLL, SLL),
    "nd_ns_no_opts": eth() / ns("fe80::4"),
    "nd_ns_dup_sll": eth() / ns("fe80::5", SLL, ICMPv6NDOptSrcLLAddr(lladdr="1:2:3:4:5:6")),
    "nd_ns_zero_then_sll": eth() / ns("fe80::5", ICMPv6NDOptSrcLLAddr(lladdr="0:0:0:0:0:0"),
                                      SLL),
    "nd_ns_opt_len0": eth() / ns("fe80::6", ICMPv6NDOptUnknown(type=1, len=0, data=b"ab"),
                                 SLL),
    "nd_ns_long_sll": eth() / ns("fe80::7", ICMPv6NDOptUnknown(type=1, len=2, data=b"a" * 14),
                                 TLL),
    # An option running past the payload length, then an SLL in the Ethernet padding.
    "nd_opt_past_plen": eth() / IPv6(plen=32) / ICMPv6ND_NS(tgt="fe80::9")
                        / ICMPv6NDOptUnknown(type=5, len=2, data=b"\x00" * 6)
                        / Raw(bytes(8)) / SLL,
    "nd_ns_code1": eth() / IPv6() / ICMPv6ND_NS(code=1, tgt="fe80::8") / SLL,
    "nd_ns_no_target": eth() / IPv6(nh=58) / Raw(b"\x87\x00\x00\x00\x00\x00\x00\x00\xfe\x80"),
    # ARP.
    "arp_request": eth() / ARP(op=1, hwsrc="00:00:5e:00:53:01", psrc="192.0.2.1",
                               pdst="192.0.2.2"),
    "arp_reply": eth() / ARP(op=2, hwsrc="00:00:5e:00:53:02", hwdst="00:00:5e:00:53:01",
                             psrc="192.0.2.2", pdst="192.0.2.1"),
    "arp_op_big": eth() / ARP(op=0x1234, psrc="1.2.3.4"),
    "arp_not_ether": eth() / ARP(hwtype=6, psrc="1.2.3.4"),
    "arp_short": eth(0x0806) / Raw(bytes(ARP())[:27]),
    "rarp": eth(0x8035) / ARP(op=3, psrc="5.6.7.8"),
    # VLANs.
    "vlan_udp4": eth() / Dot1Q(vlan=100, prio=5) / V4 / UDP(sport=9, dport=10),
    "vlan_dei": eth() / Dot1Q(vlan=4095, prio=7, dei=1) / V6 / TCP(),
    "vlan_vid0": eth() / Dot1Q(vlan=0) / ARP(),
    "vlan_8021ad": eth(0x88A8) / Dot1Q(vlan=200) / V4 / UDP(),
    "qinq": eth(0x88A8) / Dot1Q(vlan=200) / Dot1Q(vlan=300) / V4 / UDP(),
    "qinq_8100": eth() / Dot1Q(vlan=1) / Dot1Q(vlan=2) / IPv6() / UDP(),
    "vlan_cut_tag": eth(0x8100) / Raw(b"\x00\x05\x08"),
    # 802.3.
    "llc_stp": Ether(bytes(Dot3(dst="01:80:c2:00:00:00", src=MAC_B) /
                           LLC(dsap=0x42, ssap=0x42, ctrl=3) / Raw(b"\x00" * 35))),
    "snap_ipv4": Dot3(dst=MAC_A, src=MAC_B) / LLC() / SNAP() / V4 / UDP(sport=3, dport=4),
    "snap_arp": Dot3(dst=MAC_A, src=MAC_B) / LLC() / SNAP(code=0x0806) / ARP(op=2),
    "snap_cisco_oui": Dot3(dst=MAC_A, src=MAC_B) / LLC() / SNAP(OUI=0x0C, code=0x2000)
                      / Raw(b"\x00" * 20),
    "snap_other_oui": Dot3(dst=MAC_A, src=MAC_B) / LLC() / SNAP(OUI=0x000100) / V4 / UDP(),
    "snap_small_code": Dot3(dst=MAC_A, src=MAC_B) / LLC() / SNAP(code=0x0100) / IP(),
    "snap_vlan": tagged_8023(LLC() / SNAP() / V6 / UDP(sport=11, dport=12)),
    "llc_short": eth(0x0010) / Raw(b"\xaa\xaa\x03\x00\x00\x00\x08"),
    "len_05ff": eth(0x05FF) / V4 / UDP(),
    # Other EtherTypes.
    "lldp": eth(0x88CC) / Raw(b"\x02\x07\x04" + b"\x00" * 40),
    "mpls": eth(0x8847) / Raw(b"\x00\x01\x41\x40") / V4 / UDP(),
    "runt": Raw(b"\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x08"),
}


def sample_bytes(name: str) -> bytes:
    frame = bytes(SAMPLES[name])
    if name in ("ipv4_padded", "ipv6_padded"):
        frame = frame.ljust(60, b"\xff")    # Ethernet minimum-size padding
    return frame


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_sample(name: str) -> None:
    check(sample_bytes(name))


def test_in_port_and_metadata() -> None:
    frame = sample_bytes("udp4")
    for port in (0, 1, 0xFFFFFFFF):
        got, _ = c_extract(frame, port)
        key = key_from_bytes(got)
        assert (key.in_port, key.recirc_id, key.dp_hash, key.pkt_mark) == (port, 0, 0, 0)


# A few keys spelled out, so that a mistake shared by the oracle and the C code (both
# written from the same reading of OVS) would still show.
def test_spot_values() -> None:
    raw, offs = c_extract(sample_bytes("vlan_udp4"))
    k = key_from_bytes(raw)
    assert field(raw, "eth_type") == b"\x08\x00"
    assert field(raw, "vlan_tci") == be16(5 << 13 | 0x1000 | 100)
    assert field(raw, "ipv4_src") == bytes([10, 0, 0, 1])
    assert (k.nw_proto, k.nw_tos, k.nw_ttl, k.nw_frag) == (17, 0xB8, 33, 0)
    assert field(raw, "tp_src") + field(raw, "tp_dst") == be16(9) + be16(10)
    assert offs == (12, 18, 38)

    raw, offs = c_extract(sample_bytes("qinq"))
    assert field(raw, "eth_type") == b"\x81\x00"
    assert field(raw, "vlan_tci") == be16(0x1000 | 200)
    assert field(raw, "ipv4_src") == bytes(4)
    assert offs == (12, OFS_NONE, OFS_NONE)

    raw, offs = c_extract(sample_bytes("ipv4_frag_later"))
    k = key_from_bytes(raw)
    assert (k.nw_proto, k.nw_frag, k.tp_src) == (17, FRAG_ANY | FRAG_LATER, 0)
    assert offs == (OFS_NONE, 14, OFS_NONE)

    raw, _ = c_extract(sample_bytes("ipv6_frag_later"))
    k = key_from_bytes(raw)
    assert (k.nw_proto, k.nw_frag) == (44, FRAG_ANY | FRAG_LATER)

    raw, offs = c_extract(sample_bytes("ipv6_ext_chain"))
    k = key_from_bytes(raw)
    assert k.nw_proto == 6 and field(raw, "tp_dst") == be16(9)
    assert field(raw, "ipv6_label") == bytes([0, 0x0A, 0xBC, 0xDE]) and k.nw_tos == 0xB9
    assert offs[2] == 14 + 40 + 8 + 40 + 8

    raw, _ = c_extract(sample_bytes("tcp4"))
    assert field(raw, "tcp_flags") == be16(0xBFF)

    raw, _ = c_extract(sample_bytes("icmp4"))
    assert field(raw, "tp_src") + field(raw, "tp_dst") == b"\x00\x03\x00\x0d"

    raw, offs = c_extract(sample_bytes("nd_ns_both"))
    assert field(raw, "nd_target") == socket.inet_pton(socket.AF_INET6, "fe80::3")
    assert field(raw, "arp_sha") == bytes.fromhex("001122334455")
    assert field(raw, "arp_tha") == bytes.fromhex("66778899aabb")
    assert field(raw, "tp_src") == be16(135)
    raw, _ = c_extract(sample_bytes("nd_ns_dup_sll"))
    assert field(raw, "nd_target") == bytes(16) and field(raw, "arp_sha") == bytes(6)

    raw, offs = c_extract(sample_bytes("arp_reply"))
    k = key_from_bytes(raw)
    assert k.nw_proto == 2 and field(raw, "ipv4_src") == bytes([192, 0, 2, 2])
    assert field(raw, "arp_tha") == bytes.fromhex("00005e005301") and offs[1] == 14

    raw, offs = c_extract(sample_bytes("snap_ipv4"))
    assert field(raw, "eth_type") == b"\x08\x00" and offs == (OFS_NONE, 22, 42)
    raw, offs = c_extract(sample_bytes("llc_stp"))
    assert field(raw, "eth_type") == b"\x05\xff" and offs == (OFS_NONE,) * 3

    raw, offs = c_extract(sample_bytes("runt"))
    assert raw == bytes(KEY_SIZE) and offs == (OFS_NONE,) * 3   # in_port 0


TRUNCATED = ["vlan_udp4", "tcp4_opts", "ipv4_options", "ipv6_ext_chain", "ipv6_ah",
             "nd_ns_both", "nd_na_tll", "arp_reply", "snap_vlan", "qinq", "sctp6",
             "icmp4", "ipv6_frag_first"]


@pytest.mark.parametrize("name", TRUNCATED)
def test_truncated_at_every_length(name: str) -> None:
    frame = sample_bytes(name)
    full, _ = c_extract(frame)
    for n in range(len(frame) + 1):
        exp = check(frame[:n])
        if n >= 14:
            assert exp["eth_src"] == field(full, "eth_src")
        # Nothing past the cut is invented: a field is either absent or as in the
        # whole frame (the EtherType alone may name an unparsed tag or 802.3).
        got, _ = c_extract(frame[:n])
        for fname in FIELDS:
            if fname != "eth_type":
                assert field(got, fname) in (bytes(FIELDS[fname][1]), field(full, fname))


# IP lengths consistent with a transport header cut short: the IP fields stay and the
# transport fields go, as in OVS.
L4_HEADERS = {
    6: bytes(TCP(sport=1, dport=2, flags="S", options=[("MSS", 1460), ("NOP", None)])),
    17: bytes(UDP(sport=3, dport=4)),
    132: bytes(SCTP(sport=5, dport=6)),
    1: bytes(ICMP(type=8)),
    58: bytes(ICMPv6ND_NA(tgt="fe80::1") / TLL / SLL),
}


@pytest.mark.parametrize("proto", sorted(L4_HEADERS))
def test_transport_header_cut(proto: int) -> None:
    hdr = L4_HEADERS[proto]
    for n in range(len(hdr) + 1):
        check(bytes(eth() / IP(proto=proto) / Raw(hdr[:n])))
        check(bytes(eth() / IPv6(nh=proto) / Raw(hdr[:n])))
        check(bytes(eth() / IPv6() / IPv6ExtHdrDestOpt(nh=proto) / Raw(hdr[:n])))


# --- Hypothesis: random field values through scapy ------------------------------------

macs = st.binary(min_size=6, max_size=6).map(lambda b: ":".join(f"{x:02x}" for x in b))
ipv4s = st.integers(0, 2**32 - 1).map(lambda v: socket.inet_ntoa(struct.pack(">I", v)))
ipv6s = st.binary(min_size=16, max_size=16).map(
    lambda b: socket.inet_ntop(socket.AF_INET6, b))
ports = st.integers(0, 0xFFFF)
u8 = st.integers(0, 0xFF)


@st.composite
def transports(draw):
    kind = draw(st.sampled_from(["tcp", "udp", "sctp", "icmp", "icmp6", "nd", "raw"]))
    if kind == "tcp":
        opts = draw(st.sampled_from([[], [("MSS", 1400)], [("NOP", None)] * 3,
                                     [("WScale", 3), ("SAckOK", b"")]]))
        return 6, TCP(sport=draw(ports), dport=draw(ports), flags=draw(st.integers(0, 0x1FF)),
                      reserved=draw(st.integers(0, 7)), options=opts)
    if kind == "udp":
        return 17, UDP(sport=draw(ports), dport=draw(ports))
    if kind == "sctp":
        return 132, SCTP(sport=draw(ports), dport=draw(ports))
    if kind == "icmp":
        return 1, ICMP(type=draw(u8), code=draw(u8))
    if kind == "icmp6":
        return 58, ICMPv6EchoRequest(type=draw(u8), code=draw(st.integers(0, 2)))
    if kind == "nd":
        cls = draw(st.sampled_from([ICMPv6ND_NS, ICMPv6ND_NA]))
        pkt = cls(tgt=draw(ipv6s), code=draw(st.sampled_from([0, 0, 0, 1])))
        for _ in range(draw(st.integers(0, 3))):
            opt = draw(st.sampled_from(["sll", "tll", "mtu", "bad"]))
            if opt == "sll":
                pkt = pkt / ICMPv6NDOptSrcLLAddr(lladdr=draw(macs))
            elif opt == "tll":
                pkt = pkt / ICMPv6NDOptDstLLAddr(lladdr=draw(macs))
            elif opt == "mtu":
                pkt = pkt / ICMPv6NDOptMTU(mtu=draw(st.integers(0, 9000)))
            else:
                pkt = pkt / ICMPv6NDOptUnknown(type=draw(st.integers(1, 2)),
                                               len=draw(st.integers(0, 3)), data=b"\x01" * 6)
        return 58, pkt
    return draw(u8), Raw(draw(st.binary(max_size=40)))


EXT_NH = {"hbh": 0, "rt": 43, "dst": 60, "ah": 51, "frag": 44}


def make_ext(kind: str, param, nh: int):
    if kind == "hbh":
        return IPv6ExtHdrHopByHop(nh=nh)
    if kind == "dst":
        return IPv6ExtHdrDestOpt(nh=nh)
    if kind == "rt":
        return IPv6ExtHdrRouting(nh=nh, addresses=param)
    if kind == "ah":                    # 'param' 32-bit words of ICV
        return AH(nh=nh, payloadlen=param + 1, icv=bytes(4 * param))
    offset, m = param
    return IPv6ExtHdrFragment(nh=nh, offset=offset, m=m)


@st.composite
def ext_chain(draw, final_nh: int):
    """IPv6 extension headers ending in 'final_nh' (nh fields set explicitly)."""
    kinds = draw(st.lists(st.sampled_from(sorted(EXT_NH)), max_size=4))
    params = {"hbh": st.none(), "dst": st.none(), "rt": st.lists(ipv6s, max_size=2),
              "ah": st.sampled_from([1, 3]),
              "frag": st.tuples(st.integers(0, 3), st.integers(0, 1))}
    chain = None
    for i, kind in enumerate(kinds):
        nh = EXT_NH[kinds[i + 1]] if i + 1 < len(kinds) else final_nh
        hdr = make_ext(kind, draw(params[kind]), nh)
        chain = hdr if chain is None else chain / hdr
    return (EXT_NH[kinds[0]] if kinds else final_nh), chain


@st.composite
def frames(draw):
    l2 = Ether(dst=draw(macs), src=draw(macs))
    vlan_kind = draw(st.sampled_from(["none", "none", "8100", "88a8", "qinq"]))
    if vlan_kind != "none":
        tag = Dot1Q(prio=draw(st.integers(0, 7)), dei=draw(st.integers(0, 1)),
                    vlan=draw(st.integers(0, 4095)))
        l2 = l2 / tag
        l2[Ether].type = 0x88A8 if vlan_kind == "88a8" else 0x8100
        if vlan_kind == "qinq":
            l2 = l2 / Dot1Q(vlan=draw(st.integers(0, 4095)))
    l3 = draw(st.sampled_from(["ipv4", "ipv6", "arp", "other"]))
    if l3 == "ipv4":
        proto, l4 = draw(transports())
        opts = draw(st.sampled_from([[], [IPOption_NOP()] * 4,
                                     [IPOption_RR(routers=["1.2.3.4", "5.6.7.8"])]]))
        ip = IP(src=draw(ipv4s), dst=draw(ipv4s), tos=draw(u8), ttl=draw(u8), proto=proto,
                flags=draw(st.integers(0, 7)), frag=draw(st.sampled_from([0, 0, 1, 185])),
                options=opts)
        pkt = l2 / ip / l4
    elif l3 == "ipv6":
        proto, l4 = draw(transports())
        first, chain = draw(ext_chain(proto))
        ip6 = IPv6(src=draw(ipv6s), dst=draw(ipv6s), tc=draw(u8),
                   fl=draw(st.integers(0, 2**20 - 1)), hlim=draw(u8), nh=first)
        pkt = l2 / ip6 / chain / l4 if chain is not None else l2 / ip6 / l4
    elif l3 == "arp":
        pkt = l2 / ARP(op=draw(st.sampled_from([1, 2, 3, 4, 0x100, 0xFFFF])), hwsrc=draw(macs),
                       hwdst=draw(macs), psrc=draw(ipv4s), pdst=draw(ipv4s))
    else:
        pkt = l2 / Raw(draw(st.binary(max_size=60)))
        if vlan_kind == "none":
            pkt[Ether].type = draw(st.sampled_from([0x0000, 0x05DC, 0x05FF, 0x0600, 0x8847,
                                                    0x88CC, 0x0800, 0x86DD, 0x0806]))
    frame = bytes(pkt)
    if draw(st.booleans()):
        frame = frame.ljust(60, b"\x00")
    return frame


HYP = settings(max_examples=400, deadline=None,
               suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@HYP
@given(frames())
def test_random_frames(frame: bytes) -> None:
    check(frame)


@HYP
@given(frames(), st.integers(0, 2000))
def test_random_frames_cut(frame: bytes, n: int) -> None:
    check(frame[:n % (len(frame) + 1)])


@settings(max_examples=1000, deadline=None)
@given(st.binary(max_size=200), st.integers(0, 2**32 - 1))
def test_random_bytes(data: bytes, in_port: int) -> None:
    first = c_extract(data, in_port)
    assert c_extract(data, in_port) == first
    raw, offsets = first
    assert field(raw, "pad0") == bytes(2) and field(raw, "pad1") == bytes(12)
    assert all(o == OFS_NONE or o < max(len(data), 1) for o in offsets)


# Random bytes behind the EtherTypes we parse, so that they reach the deeper parsers.
@settings(max_examples=1500, deadline=None)
@given(st.sampled_from([b"\x08\x00", b"\x86\xdd", b"\x08\x06", b"\x81\x00\x00\x01\x86\xdd",
                        b"\x00\x30\xaa\xaa\x03\x00\x00\x00\x08\x00"]),
       st.sampled_from([b"", b"\x45\x00", b"\x60\x00\x00\x00\x00\x20\x00\x40",
                        b"\x60\x00\x00\x00\x00\x30\x3a\x40"]),
       st.binary(max_size=186))
def test_random_bytes_deep(ethertype: bytes, l3_start: bytes, rest: bytes) -> None:
    frame = bytes(12) + ethertype + l3_start + rest
    check(frame)
    assert c_extract(frame) == c_extract(frame)


# --- Hashes ---------------------------------------------------------------------------

def hash_of(raw: bytes) -> int:
    return lib.vsw_flow_hash(key_from_bytes(raw))


def hash_masked(raw: bytes, mask: bytes, words: list[int]) -> int:
    return lib.vsw_flow_hash_masked(key_from_bytes(raw), key_from_bytes(mask),
                                    ffi.new("uint8_t[]", words or [0]), len(words))


def test_hash_equal_keys() -> None:
    rng = random.Random(1)
    for name in SAMPLES:
        frame = sample_bytes(name)
        a, b = c_extract(frame, 3)[0], c_extract(bytes(bytearray(frame)), 3)[0]
        assert hash_of(a) == hash_of(b) == hash_of(bytes(a))
        words = sorted(rng.sample(range(16), rng.randint(0, 16)))
        mask = bytes(rng.getrandbits(8) for _ in range(KEY_SIZE))
        assert hash_masked(a, mask, words) == hash_masked(b, mask, words)


def test_hash_sensitive_to_every_bit() -> None:
    raw = c_extract(sample_bytes("tcp4"), 1)[0]
    base = hash_of(raw)
    full_mask = b"\xff" * KEY_SIZE
    mbase = hash_masked(raw, full_mask, list(range(16)))
    for bit in range(KEY_SIZE * 8):
        flipped = bytearray(raw)
        flipped[bit // 8] ^= 1 << (bit % 8)
        assert hash_of(bytes(flipped)) != base, bit
        assert hash_masked(bytes(flipped), full_mask, list(range(16))) != mbase, bit


def test_hash_masked_ignores_masked_out_bits() -> None:
    rng = random.Random(2)
    for _ in range(500):
        key = bytes(rng.getrandbits(8) for _ in range(KEY_SIZE))
        mask = bytes(rng.choice([0, 0xFF, rng.getrandbits(8)]) for _ in range(KEY_SIZE))
        words = sorted(rng.sample(range(16), rng.randint(1, 16)))
        h = hash_masked(key, mask, words)
        noise = bytearray(rng.getrandbits(8) for _ in range(KEY_SIZE))
        other = bytearray(key)
        for i in range(KEY_SIZE):
            if i // 8 not in words:
                other[i] = noise[i]     # a word not hashed at all
            else:
                other[i] = (key[i] & mask[i]) | (noise[i] & ~mask[i] & 0xFF)
        assert hash_masked(bytes(other), mask, words) == h
        # ... and the mask itself is what is hashed, not the raw key.
        masked = bytes(k & m for k, m in zip(key, mask, strict=True))
        assert hash_masked(masked, b"\xff" * KEY_SIZE, words) == h


def test_hash_masked_sees_unmasked_bits() -> None:
    raw = c_extract(sample_bytes("udp4"), 1)[0]
    mask = bytearray(KEY_SIZE)
    offset, size = FIELDS["tp_dst"]
    mask[offset:offset + size] = b"\xff\xff"
    words = [offset // 8]
    h = hash_masked(raw, bytes(mask), words)
    for port in range(1, 200):
        other = bytearray(raw)
        other[offset:offset + size] = be16(port)
        if be16(port) != field(raw, "tp_dst"):
            assert hash_masked(bytes(other), bytes(mask), words) != h


def test_hash_not_linear() -> None:
    # CRC alone is affine over GF(2): h(x)^h(y)^h(z) == h(x^y^z) for any keys, so
    # structured sets of flows would collide together.  The finalizer must break that.
    rng = random.Random(4)
    full, words = b"\xff" * KEY_SIZE, list(range(16))
    for _ in range(200):
        x, y, z = (rng.randbytes(KEY_SIZE) for _ in range(3))
        xyz = bytes(a ^ b ^ c for a, b, c in zip(x, y, z, strict=True))
        assert hash_of(x) ^ hash_of(y) ^ hash_of(z) != hash_of(xyz)
        assert (hash_masked(x, full, words) ^ hash_masked(y, full, words)
                ^ hash_masked(z, full, words)) != hash_masked(xyz, full, words)


def _spread(hashes: list[int], buckets: int = 1024) -> None:
    mean = len(hashes) / buckets
    for fold in (lambda h: h % buckets, lambda h: h >> 22):    # low and high bits
        counts = [0] * buckets
        for h in hashes:
            counts[fold(h)] += 1
        assert max(counts) < 3 * mean, max(counts)
    assert len(set(hashes)) > len(hashes) * 0.99


def test_hash_distribution_random_keys() -> None:
    rng = random.Random(3)
    _spread([hash_of(bytes(rng.getrandbits(8) for _ in range(KEY_SIZE)))
             for _ in range(10000)])


def test_hash_distribution_similar_flows() -> None:
    # Real keys differ in a few bits: sequential ports and addresses.
    template = bytes(eth() / V4 / UDP(sport=0, dport=0))
    keys = []
    for i in range(10000):
        frame = bytearray(template)
        frame[26:30] = struct.pack(">I", 0x0A000000 + i // 100)   # ipv4 src
        frame[34:36] = struct.pack(">H", 1024 + i % 100)          # udp sport
        keys.append(c_extract(bytes(frame), 1)[0])
    _spread([hash_of(k) for k in keys])
    words = [0, FIELDS["ipv4_src"][0] // 8, FIELDS["tp_src"][0] // 8]
    _spread([hash_masked(k, b"\xff" * KEY_SIZE, words) for k in keys])
