"""A bridge over the real userspace datapath: misses go up, get translated through the
OpenFlow pipeline (or NORMAL), come back as megaflows, and later packets stay in the
datapath. Revalidation keeps megaflows in line with table and MAC-table changes.

Packets enter "on a port" through the datapath itself: executing them with a
``recirc(0)`` action sends them back through lookup with that in_port, exactly as if
received (a miss becomes an upcall). Ports are net_pcap tx files read back with scapy.
"""

from __future__ import annotations

import time
from pathlib import Path

from helpers.ofswitch import FakeConn
from scapy.all import IP, TCP, UDP, Ether, raw, rdpcap

from appliance.dpif.odp import Recirc
from ofproto.bridge import OFBridge
from ofproto.connmgr import ChannelState
from ofproto.ofp.actions import ActionOutput, InstructionApplyActions, InstructionGotoTable
from ofproto.ofp.consts import OFP13, OFPFlowModCommand, OFPGroup, OFPPort, OFPTable
from ofproto.ofp.consts import OFPPortConfig as PC
from ofproto.ofp.messages import FlowMod, PacketIn, PortMod, decode_message
from ofproto.ofp.oxm import Match

A, B, C = "00:00:00:00:00:0a", "00:00:00:00:00:0b", "00:00:00:00:00:0c"


def frame(src: str, dst: str, sport: int = 1) -> bytes:
    return raw(Ether(src=src, dst=dst) / IP(src="10.0.0.1", dst="10.0.0.2")
               / UDP(sport=sport, dport=2) / (b"x" * 10))


class Harness:
    def __init__(self, dp, tmp: Path, schedule=None) -> None:
        self.dp = dp
        self.tmp = tmp
        self.bridge = OFBridge("br0", dp, datapath_id=1, rundir=str(tmp), schedule=schedule)
        self.files = {}
        for n in (1, 2, 3):
            self.files[n] = tmp / f"p{n}.pcap"
            self.bridge.add_port(f"p{n}", "dpdk",
                                 {"dpdk-devargs": f"net_pcap_br{n},tx_pcap={self.files[n]}"},
                                 ofport=n)

    def del_flows(self) -> None:
        """``ovs-ofctl del-flows``: the bridge starts with OVS's priority-0 NORMAL flow."""
        self.bridge.switch.pipeline.flow_mod(FlowMod(
            command=OFPFlowModCommand.OFPFC_DELETE, table_id=OFPTable.OFPTT_ALL,
            out_port=OFPPort.OFPP_ANY, out_group=OFPGroup.OFPG_ANY))

    def rule(self, priority: int):
        return next(r for r in self.bridge.switch.pipeline.flow_stats()
                    if r.priority == priority)

    def odp(self, ofport: int) -> int:
        return self.bridge.ports.odp_of(ofport)

    def receive(self, ofport: int, pkt: bytes) -> int:
        """Hands ``pkt`` to the datapath as received on ``ofport``; processes the misses
        that causes (the execute is synchronous, so they are queued when it returns);
        returns how many there were: answered by the bridge's table offload or handed
        to ofproto as upcalls."""
        before = self.misses()
        self.dp.execute(pkt, self.odp(ofport), [Recirc(0)])
        while ups := self.dp.recv_upcalls():
            self.bridge.handle_upcalls(ups)
        return self.misses() - before

    def misses(self) -> int:
        return sum(s.misses for s in self.dp.pmd_stats())

    def outputs(self) -> dict[int, list[bytes]]:
        for n in (1, 2, 3):
            self.bridge.del_port(n)   # closing the pcap port flushes its file
        return {n: [raw(p) for p in rdpcap(str(f))] if f.stat().st_size > 24 else []
                for n, f in self.files.items()}


def test_normal_learns_floods_then_forwards(clean, tmp_path):
    h = Harness(clean, tmp_path)
    ab, ba = frame(A, B), frame(B, A)
    assert h.receive(1, ab) == 1                  # unknown B: flood to 2 and 3
    assert h.receive(2, ba) == 1                  # A was learned on 1: to 1 only
    assert h.bridge.mac_learning.lookup(bytes.fromhex("00000000000a"), 0) == 1
    # B is now known: the flooding megaflow was revalidated away, so this one is a
    # miss again and goes to port 2 only; a repeat stays in the datapath.
    assert h.receive(1, ab) == 1
    assert h.receive(1, frame(A, B, sport=1)) == 0
    assert h.bridge.stats.flows_revalidated_away >= 1
    out = h.outputs()
    assert out[1] == [ba]
    assert out[2] == [ab, ab, ab]
    assert out[3] == [ab]


def test_openflow_rules_and_revalidation(clean, tmp_path):
    h = Harness(clean, tmp_path)
    pkt = frame(A, C)
    h.receive(1, pkt)                             # NORMAL floods (empty table)
    fm = FlowMod(match=Match(in_port=(1, None)), priority=100,
                 instructions=[InstructionApplyActions(actions=[ActionOutput(port=3)])])
    h.bridge.switch.pipeline.flow_mod(fm)         # revalidates the flood megaflow away
    assert h.receive(1, pkt) == 1
    assert h.receive(1, pkt) == 0                 # now a megaflow on in_port only
    flows = list(clean.flow_dump())
    assert len(flows) == 1
    mask = flows[0].mask
    assert mask.in_port == 0xFFFFFFFF and mask.eth_src == bytes(6) and mask.tp_src == 0
    h.bridge.run_periodic()                       # credits the rule from the megaflow
    assert h.rule(100).packet_count == 2
    out = h.outputs()
    assert out[3] == [pkt, pkt, pkt] and out[2] == [pkt]


def test_scheduled_revalidation_runs_once_for_many_changes(clean, tmp_path):
    """With a scheduler (vswitchd's reactor), flow-table changes are revalidated once,
    when the scheduled call runs, however many were made before it."""
    due: list = []
    h = Harness(clean, tmp_path, schedule=due.append)
    pkt = frame(A, C)
    h.receive(1, pkt)                             # NORMAL floods (empty table)
    while due:                                    # what setting up the bridge left
        due.pop()()
    assert len(list(clean.flow_dump())) == 1
    for prio in (100, 101, 102):
        h.bridge.switch.pipeline.flow_mod(FlowMod(
            match=Match(in_port=(1, None)), priority=prio,
            instructions=[InstructionApplyActions(actions=[ActionOutput(port=3)])]))
    assert len(due) == 1                          # one revalidation for the three
    assert len(list(clean.flow_dump())) == 1      # the flood megaflow, until it runs
    reval_before = h.bridge.stats.flows_revalidated_away
    due.pop()()
    assert list(clean.flow_dump()) == []          # the packet now takes the rules
    assert h.bridge.stats.flows_revalidated_away == reval_before + 1
    h.bridge.switch.pipeline.flow_mod(FlowMod(
        match=Match(in_port=(2, None)), priority=5,
        instructions=[InstructionApplyActions(actions=[ActionOutput(port=1)])]))
    h.bridge.revalidate()                         # done meanwhile: the call is a no-op
    assert len(due) == 1
    h.receive(1, pkt)
    due.pop()()
    assert len(list(clean.flow_dump())) == 1      # still valid: not deleted again
    h.bridge.close()


def test_l4_rule_megaflow_is_narrow(clean, tmp_path):
    """A UDP-port rule: its megaflow matches the transport port (and what the port
    depends on), but a packet the rule does not match gets a megaflow without ports."""
    h = Harness(clean, tmp_path)
    h.del_flows()
    fm = FlowMod(match=Match(eth_type=(0x0800, None), ip_proto=(17, None),
                             udp_dst=(2, None)),
                 priority=200,
                 instructions=[InstructionApplyActions(actions=[ActionOutput(port=3)])])
    h.bridge.switch.pipeline.flow_mod(fm)
    udp = frame(A, C)
    assert h.receive(1, udp) == 1
    tcp = raw(Ether(src=A, dst=C) / IP(src="10.0.0.1", dst="10.0.0.2") / TCP(dport=2))
    assert h.receive(1, tcp) == 1                 # misses the rule: table miss, drop
    flows = list(clean.flow_dump())
    assert len(flows) == 2
    hit = [f for f in flows if f.actions]
    miss = [f for f in flows if not f.actions]
    assert len(hit) == 1 and hit[0].mask.tp_dst == 0xFFFF and hit[0].mask.nw_proto == 0xFF
    # The TCP packet was told apart by (some bits of) nw_proto alone: no ports.
    assert len(miss) == 1 and miss[0].mask.tp_dst == 0 and miss[0].mask.tp_src == 0
    assert miss[0].mask.nw_proto != 0
    out = h.outputs()
    assert out[3] == [udp] and out[1] == out[2] == []


def _port_mod(h: Harness, ofport: int, config: int, mask: int) -> None:
    msg = PortMod(version=OFP13, xid=1, port_no=ofport, config=config, mask=mask,
                  hw_addr=h.bridge.switch.ports[ofport].hw_addr)
    data = msg.encode()
    h.bridge.switch.handle_message(FakeConn(OFP13), decode_message(data), data)


def test_port_mod_config_changes_forwarding(clean, tmp_path):
    h = Harness(clean, tmp_path)
    ab = frame(A, B)
    assert h.receive(1, ab) == 1                  # flood to 2 and 3
    _port_mod(h, 3, PC.OFPPC_NO_FWD, PC.OFPPC_NO_FWD)
    assert list(clean.flow_dump()) == []          # the flood megaflow was revalidated
    assert h.receive(1, ab) == 1                  # now floods to 2 only
    _port_mod(h, 1, PC.OFPPC_PORT_DOWN, PC.OFPPC_PORT_DOWN)
    assert list(clean.flow_dump()) == []          # revalidated away again
    assert h.receive(1, ab) == 1                  # received on a down port: dropped
    assert [f.actions for f in clean.flow_dump()] == [[]]
    _port_mod(h, 3, 0, PC.OFPPC_NO_FWD)
    _port_mod(h, 1, 0, PC.OFPPC_PORT_DOWN)
    assert h.receive(1, ab) == 1                  # back to flooding to both
    out = h.outputs()
    assert out[2] == [ab, ab, ab]
    assert out[3] == [ab, ab]
    assert out[1] == []


def test_misses_of_one_batch_share_a_translation(clean, tmp_path):
    h = Harness(clean, tmp_path)
    # Through table 1, so that table 0 alone does not decide and the misses are
    # upcalls (the table offload answers plain outputs itself: tests/test_offload.py).
    h.bridge.switch.pipeline.flow_mod(FlowMod(
        match=Match(in_port=(1, None)), priority=50, instructions=[InstructionGotoTable(1)]))
    h.bridge.switch.pipeline.flow_mod(FlowMod(
        table_id=1, match=Match(in_port=(1, None)), priority=100,
        instructions=[InstructionApplyActions(actions=[ActionOutput(port=3)])]))
    pkts = [frame(A, C, sport=s) for s in range(1, 6)]
    for pkt in pkts:   # all five miss: nothing is installed until the batch is handled
        clean.execute(pkt, h.odp(1), [Recirc(0)])
    ups: list = []
    deadline = time.monotonic() + 2
    while len(ups) < len(pkts) and time.monotonic() < deadline:
        ups += clean.recv_upcalls()
        time.sleep(0.01)
    assert len(ups) == len(pkts)
    h.bridge.handle_upcalls(ups)
    # One translation and one megaflow per PMD; every packet forwarded and counted.
    assert h.bridge.stats.flows_installed == len({u.pmd for u in ups})
    assert h.bridge.stats.misses_coalesced == len(pkts) - h.bridge.stats.flows_installed
    assert h.rule(100).packet_count == len(pkts)
    assert h.outputs()[3] == pkts


def test_no_packet_in_port_config(clean, tmp_path):
    """OFPPC_NO_PACKET_IN (``ovs-ofctl mod-port br0 1 no-packet-in``): packets received
    on the port reach no controller; other ports' still do."""
    h = Harness(clean, tmp_path)
    h.del_flows()
    h.bridge.switch.pipeline.flow_mod(FlowMod(priority=1, match=Match(), instructions=[
        InstructionApplyActions(actions=[ActionOutput(port=OFPPort.OFPP_CONTROLLER,
                                                      max_len=0xFFFF)])]))
    ctl = FakeConn(OFP13)
    h.bridge.connmgr.channels[ctl] = ChannelState(is_controller=True)

    def packet_ins() -> list[int]:
        return [m.match["in_port"][0] for m in ctl.sent if isinstance(m, PacketIn)]

    h.receive(1, frame(A, B))
    h.receive(2, frame(B, A))
    assert packet_ins() == [1, 2]
    _port_mod(h, 1, PC.OFPPC_NO_PACKET_IN, PC.OFPPC_NO_PACKET_IN)
    h.receive(1, frame(A, B, sport=5))
    h.receive(2, frame(B, A, sport=5))
    assert packet_ins() == [1, 2, 2]
    _port_mod(h, 1, 0, PC.OFPPC_NO_PACKET_IN)
    h.receive(1, frame(A, B, sport=6))
    assert packet_ins() == [1, 2, 2, 1]
    h.outputs()
