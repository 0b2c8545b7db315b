"""The table offload: a bridge's table 0 mirrored into the datapath answers misses.

Runs a real bridge over the userspace datapath with ``net_null`` ports; packets enter
through the datapath (executed with ``recirc(0)``, so a miss is a real miss).  The
property test is the offload's contract: every megaflow it installs gives every
packet it covers the actions ofproto's own translation (xlate, the reference) gives
that packet.  The other tests cover what decides whether it answers (punted rules,
mirrors, fields it cannot mirror, tagged packets), revalidation after rule and port
changes, rule counters, expiry, and that a closed bridge leaves nothing behind.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scapy.all import ARP, ICMP, IP, TCP, UDP, Dot1Q, Ether, raw

from appliance.dpif.odp import FIELD_BITS, FlowKey, Output, Recirc
from ofproto.bridge import OFBridge
from ofproto.ofp.actions import ActionOutput, InstructionApplyActions, InstructionGotoTable
from ofproto.ofp.consts import OFPFlowModCommand, OFPGroup, OFPPort, OFPTable
from ofproto.ofp.messages import FlowMod
from ofproto.ofp.oxm import Match, ipv4
from ofproto.xlate import MirrorConfig

MACS = ["00:00:00:00:00:0a", "00:00:00:00:00:0b", "00:00:00:00:00:0c"]
IPS = ["10.0.0.1", "10.0.0.2", "10.0.1.1"]
PORTS = [1, 2, 80]


class Bridge:
    """OFBridge br0 with ports 1..4 (net_null sinks) on the test datapath."""

    def __init__(self, dp, tmp) -> None:
        self.dp = dp
        self.br = OFBridge("br0", dp, datapath_id=1, rundir=str(tmp), fail_mode="secure")
        self.seq = random.getrandbits(32)
        for n in (1, 2, 3, 4):
            self.br.add_port(f"p{n}", "dpdk",
                             {"dpdk-devargs": f"net_null_off{self.seq}_{n},no-rx=1"}, ofport=n)

    def flow_mod(self, **kw) -> None:
        self.br.switch.pipeline.flow_mod(FlowMod(**kw))

    def add(self, priority: int, match: Match, *ports: int, table: int = 0) -> None:
        self.flow_mod(table_id=table, priority=priority, match=match, instructions=[
            InstructionApplyActions(actions=[ActionOutput(port=p) for p in ports])])

    def del_flows(self) -> None:
        self.flow_mod(command=OFPFlowModCommand.OFPFC_DELETE, table_id=OFPTable.OFPTT_ALL,
                      out_port=OFPPort.OFPP_ANY, out_group=OFPGroup.OFPG_ANY)

    def odp(self, ofport: int) -> int:
        return self.br.ports.odp_of(ofport)

    def receive(self, ofport: int, pkt: bytes) -> tuple[int, int]:
        """``pkt`` received on ``ofport``: (misses the offload answered, upcalls)."""
        before = self.br.offload.stats().handled
        self.dp.execute(pkt, self.odp(ofport), [Recirc(0)])
        upcalls = 0
        while ups := self.dp.recv_upcalls():
            upcalls += len(ups)
            self.br.handle_upcalls(ups)
        return self.br.offload.stats().handled - before, upcalls

    def offloaded_flows(self) -> list:
        """The datapath flows the offload installed (ofproto knows the others)."""
        return [f for f in self.dp.flow_dump() if f.ufid not in self.br.megaflows]

    def xlate_actions(self, key: FlowKey) -> list:
        return list(self.br.xlate(key, side_effects=False).actions)

    def close(self) -> None:
        """Removes the ports, then the bridge (as vswitchd deletes a bridge)."""
        for p in list(self.br.ports):
            self.br.del_port(p.ofport)
        self.br.close()


@pytest.fixture
def bridge(clean, tmp_path):
    b = Bridge(clean, tmp_path)
    yield b
    b.close()


def udp(src=0, dst=1, sip=0, dip=1, sport=0, dport=1) -> bytes:
    return raw(Ether(src=MACS[src], dst=MACS[dst]) / IP(src=IPS[sip], dst=IPS[dip])
               / UDP(sport=PORTS[sport], dport=PORTS[dport]) / b"payload")


# -- the contract ------------------------------------------------------------------------

_FIELDS = {
    "eth_src": lambda r: (int(MACS[r.randrange(3)].replace(":", ""), 16), None),
    "eth_dst": lambda r: (int(MACS[r.randrange(3)].replace(":", ""), 16), None),
    "ip_src": lambda r: (ipv4(IPS[r.randrange(3)]), r.choice([None, ipv4("255.255.255.0")])),
    "ip_dst": lambda r: (ipv4(IPS[r.randrange(3)]), None),
    "udp_src": lambda r: (PORTS[r.randrange(3)], None),
    "udp_dst": lambda r: (PORTS[r.randrange(3)], r.choice([None, 0xFFF0])),
    "tcp_dst": lambda r: (PORTS[r.randrange(3)], None),
    "icmp_type": lambda r: (r.choice([0, 8]), None),
    "arp_op": lambda r: (r.choice([1, 2]), None),
    "arp_tpa": lambda r: (ipv4(IPS[r.randrange(3)]), None),
}
# Families of fields with the prerequisites a rule on them carries (eth_type, ip_proto).
_FAMILIES = {"ip": (0x0800, None, ("ip_",)), "udp": (0x0800, 17, ("ip_", "udp_")),
             "tcp": (0x0800, 6, ("ip_", "tcp_")), "icmp": (0x0800, 1, ("ip_", "icmp_")),
             "arp": (0x0806, None, ("arp_",))}


def random_match(r: random.Random) -> Match:
    m = Match()
    if r.random() < 0.6:
        m["in_port"] = (r.randint(1, 3), None)
    prefixes: tuple[str, ...] = ("eth_",)
    family = r.choice([None, *_FAMILIES])
    if family is not None:
        eth_type, proto, more = _FAMILIES[family]
        m["eth_type"] = (eth_type, None)
        if proto is not None:
            m["nw_proto"] = (proto, None)
        prefixes += more
    names = [f for f in sorted(_FIELDS) if f.startswith(prefixes)]
    for f in r.sample(names, r.randint(0, min(3, len(names)))):
        value, mask = _FIELDS[f](r)
        m[f] = (value, mask) if mask is None else (value & mask, mask)
    return m


def random_packet(r: random.Random) -> bytes:
    eth = Ether(src=MACS[r.randrange(3)], dst=MACS[r.randrange(3)])
    kind = r.random()
    if kind < 0.15:
        return raw(eth / ARP(op=r.choice([1, 2]), psrc=IPS[r.randrange(3)],
                             pdst=IPS[r.randrange(3)]))
    ip = IP(src=IPS[r.randrange(3)], dst=IPS[r.randrange(3)])
    if kind < 0.3:
        return raw(eth / ip / ICMP(type=r.choice([0, 8])) / b"x")
    l4 = UDP if kind < 0.85 else TCP
    return raw(eth / ip / l4(sport=PORTS[r.randrange(3)], dport=PORTS[r.randrange(3)])
               / b"x")


def covered_keys(r: random.Random, key: FlowKey, mask: FlowKey, n: int) -> list[FlowKey]:
    """Keys agreeing with ``key`` on ``mask``, other packet-field bits random."""
    k, m = key.as_ints(), mask.as_ints()
    out = []
    for _ in range(n):
        v = {f: (k[f] & m[f]) | (r.getrandbits(FIELD_BITS[f]) & ~m[f])
             for f in ("eth_src", "eth_dst", "ipv4_src", "ipv4_dst", "tp_src", "tp_dst")}
        out.append(FlowKey.from_ints({**k, **v}))
    return out


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(seed=st.integers(0, 2**32 - 1))
def test_offloaded_megaflows_agree_with_xlate(clean, tmp_path, seed):
    r = random.Random(seed)
    b = Bridge(clean, tmp_path)
    try:
        for _ in range(r.randint(1, 12)):
            outs = r.sample([1, 2, 3, 4], r.randint(0, 2))
            b.add(r.choice([0, 10, 10, 20, 30]), random_match(r), *outs)
        for _ in range(15):
            b.receive(r.randint(1, 3), random_packet(r))
        flows = b.offloaded_flows()
        assert flows, "the offload answered nothing"
        for f in flows:
            want = [a for a in f.actions if isinstance(a, Output)]
            assert want == list(f.actions)
            assert b.xlate_actions(f.key) == want, f
            for k2 in covered_keys(r, f.key, f.mask, 4):
                assert b.xlate_actions(k2) == want, (f, k2)
    finally:
        b.close()
        assert not list(clean.flow_dump())


# -- when it answers ---------------------------------------------------------------------

def test_plain_rules_answered_in_the_datapath(bridge):
    bridge.add(10, Match(in_port=(1, None)), 2, 3)
    assert bridge.receive(1, udp()) == (1, 0)
    assert bridge.receive(1, udp(sport=1)) == (0, 0)   # a megaflow hit
    [f] = bridge.offloaded_flows()
    assert f.actions == [Output(bridge.odp(2)), Output(bridge.odp(3))]
    # Only what the lookup examined (in_port) and what every megaflow matches.
    m = f.mask
    assert m.in_port == 0xFFFFFFFF and m.eth_type == 0xFFFF and m.nw_frag == 0xFF
    assert m.eth_src == bytes(6) and m.tp_src == 0 and int(m.ipv4_src) == 0
    # A table miss drops: an empty action list.
    assert bridge.receive(2, udp()) == (1, 0)
    assert [f.actions for f in bridge.offloaded_flows() if f.key.in_port == bridge.odp(2)] \
        == [[]]
    # Output to the input port is skipped, as OpenFlow requires.
    bridge.add(10, Match(in_port=(3, None)), 3, 4)
    bridge.receive(3, udp())
    assert [f.actions for f in bridge.offloaded_flows() if f.key.in_port == bridge.odp(3)] \
        == [[Output(bridge.odp(4))]]


def test_what_goes_to_xlate(bridge):
    bridge.add(10, Match(in_port=(1, None)), 2)
    # NORMAL, goto_table: punted rules are upcalls as before.
    bridge.add(20, Match(in_port=(1, None), eth_src=(0x0B, None)), OFPPort.OFPP_NORMAL)
    assert bridge.receive(1, udp(src=1)) == (0, 1)
    bridge.flow_mod(priority=20, match=Match(in_port=(1, None), eth_src=(0x0C, None)),
                    instructions=[InstructionGotoTable(1)])
    bridge.add(0, Match(), 4, table=1)
    assert bridge.receive(1, udp(src=2)) == (0, 1)
    # A tagged frame (from a MAC of its own: xlate's megaflow for it need not match the
    # VLAN, as no rule reads it, and would cover the untagged frame below).
    assert bridge.receive(1, raw(Ether(src="00:00:00:00:00:0d", dst=MACS[1])
                                 / Dot1Q(vlan=5) / IP() / UDP())) == (0, 1)
    assert bridge.receive(1, udp()) == (1, 0)
    # Mirrors decide too: the offload steps aside and its megaflows go.
    bridge.br.set_mirrors([MirrorConfig(name="m", out_port=4, select_all=True)])
    assert bridge.offloaded_flows() == []
    assert bridge.receive(1, udp(sport=2)) == (0, 1)
    bridge.br.set_mirrors([])
    assert bridge.receive(1, udp(sport=2, dport=2)) == (1, 0)
    # A table-0 rule on a field it cannot mirror (a register) turns it off.
    bridge.flow_mod(priority=5, match=Match(reg0=(1, None)), instructions=[])
    assert bridge.offloaded_flows() == []
    assert bridge.receive(1, udp(sip=2)) == (0, 1)


def test_revalidation_follows_rule_and_port_changes(bridge):
    bridge.add(10, Match(in_port=(1, None)), 2)
    bridge.receive(1, udp())
    [old] = bridge.offloaded_flows()
    # A better rule for part of that traffic: the broad megaflow would now be wrong.
    bridge.add(20, Match(in_port=(1, None), eth_type=(0x0800, None), nw_proto=(17, None),
                         udp_dst=(PORTS[1], None)), 3)
    assert bridge.offloaded_flows() == []
    assert bridge.receive(1, udp(dport=1)) == (1, 0)
    assert bridge.receive(1, udp(dport=0)) == (1, 0)
    got = {f.key.tp_dst: f.actions for f in bridge.offloaded_flows()}
    assert got == {PORTS[1]: [Output(bridge.odp(3))], PORTS[0]: [Output(bridge.odp(2))]}
    assert old.ufid not in {f.ufid for f in bridge.offloaded_flows()}
    # Modifying a rule's actions in place changes its megaflows' actions.
    bridge.flow_mod(command=OFPFlowModCommand.OFPFC_MODIFY_STRICT, priority=20,
                    match=Match(in_port=(1, None), eth_type=(0x0800, None),
                                nw_proto=(17, None), udp_dst=(PORTS[1], None)),
                    instructions=[InstructionApplyActions(actions=[ActionOutput(port=4)])])
    assert [f.key.tp_dst for f in bridge.offloaded_flows()] == [PORTS[0]]
    bridge.receive(1, udp(dport=1))
    assert {f.key.tp_dst: f.actions for f in bridge.offloaded_flows()}[PORTS[1]] \
        == [Output(bridge.odp(4))]
    # A port leaving the bridge takes the megaflows received on it.
    bridge.br.del_port(1)
    assert bridge.offloaded_flows() == []
    # Deleting every rule: table-miss drops from then on.
    bridge.del_flows()
    assert bridge.receive(2, udp()) == (1, 0)
    assert [f.actions for f in bridge.offloaded_flows()] == [[]]


def test_counters_expiry_and_close(bridge, clean):
    bridge.add(10, Match(in_port=(1, None), eth_type=(0x0800, None),
                         ip_dst=(ipv4(IPS[1]), None)), 2)
    pkt = udp()
    bridge.receive(1, pkt)
    for _ in range(4):
        assert bridge.receive(1, pkt) == (0, 0)
    assert bridge.receive(2, pkt) == (1, 0)   # a table miss, answered too
    bridge.br.run_periodic()   # the sweep credits the rule: miss + 4 megaflow hits
    pipeline = bridge.br.switch.pipeline
    rule = next(r for r in pipeline.flow_stats() if r.priority == 10)
    assert (rule.packet_count, rule.byte_count) == (5, 5 * len(pkt))
    # Each answered miss was a table-0 lookup (dump-tables), as an upcall's would be.
    t0 = pipeline.table_stats()[0]
    assert (t0.lookup_count, t0.matched_count) == (2, 1)
    bridge.br.run_periodic()
    assert pipeline.table_stats()[0].lookup_count == 2   # counted once
    assert bridge.br.n_megaflows() == 2
    # Idle megaflows expire (here: any idle time).
    assert bridge.br.offload.sweep(0) == 2
    assert bridge.offloaded_flows() == [] and bridge.br.n_megaflows() == 0
    bridge.receive(1, pkt)
    assert bridge.br.offload.stats().n_flows == 1
    # Flows deleted behind its back (a datapath flush) are forgotten at the next sweep.
    clean.flow_flush()
    assert bridge.br.offload.sweep(10**9) == 0
    assert bridge.br.offload.stats().n_flows == 0
    bridge.receive(1, pkt)
    assert bridge.br.offload.stats().n_flows == 1
    bridge.close()
    assert list(clean.flow_dump()) == []
