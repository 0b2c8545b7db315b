"""vswitchd's ovs-appctl commands (appliance.appctl) driven by Debian's ovs-appctl.

The pieces are the real ones: the userspace datapath of this process (the ``clean``
fixture), OFBridges with net_pcap/net_null ports and packets injected through the
datapath (tests/test_bridge_datapath.py's Harness), a UnixctlServer with the commands
registered, listening on a private socket.  The reactor runs in this thread: it is
iterated while ovs-appctl runs, so every command executes on the reactor thread as in
the daemon, and between commands the test drives the datapath with nothing running
concurrently.  Coverage samples are paced by a task.Clock the test advances.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from conftest import require_tool
from scapy.all import IP, UDP, Ether, raw, wrpcap
from test_bridge_datapath import A, B, C, Harness, frame
from twisted.internet import reactor, task

from appliance.appctl import register
from appliance.dpif import FlowPut
from appliance.dpif.odp import Megaflow, Output, format_key, parse_key
from ofproto.bridge import OFBridge
from ofproto.ofp.actions import ActionOutput, InstructionApplyActions
from ofproto.ofp.messages import FlowMod
from ofproto.ofp.oxm import Match
from ovsdb import vlog
from ovsdb.unixctl import UnixctlServer, UnixctlService

OFPP_LOCAL = 0xFFFFFFFE


@dataclass
class View:
    """What vswitchd gives appctl (appliance.appctl.SwitchView)."""

    bridges: dict[str, OFBridge] = field(default_factory=dict)
    dpif: Any = None
    exits: int = 0

    def exit(self) -> None:
        self.exits += 1


class Appctl:
    """A control socket serving ``view`` and a runner for ovs-appctl against it."""

    def __init__(self, view: View) -> None:
        self.view = view
        self.clock = task.Clock()
        self.dir = Path(tempfile.mkdtemp(prefix="appctl-", dir="/tmp"))
        self.path = str(self.dir / "ovs-vswitchd.ctl")
        self.server = UnixctlServer("ovs-vswitchd (vswitch-appliance) test")
        register(self.server, view, clock=self.clock)
        self.service = UnixctlService(self.path, self.server)
        self.service.startService()

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Runs ovs-appctl, iterating the reactor until it exits."""
        cmd = [require_tool("ovs-appctl"), "--timeout=20", "-t", self.path, *args]
        with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
            proc = subprocess.Popen(cmd, stdout=out, stderr=err, text=True)
            deadline = time.monotonic() + 30
            while proc.poll() is None:
                reactor.iterate(0.005)
                if time.monotonic() > deadline:
                    proc.kill()
                    proc.wait(5)
                    pytest.fail(f"ovs-appctl {' '.join(args)} hung")
            out.seek(0)
            err.seek(0)
            return subprocess.CompletedProcess(cmd, proc.returncode, out.read(), err.read())

    def ok(self, *args: str) -> str:
        r = self.run(*args)
        assert r.returncode == 0, f"{args}: {r.stderr}"
        return r.stdout

    def error(self, *args: str) -> str:
        """The error text of a command that must fail (ovs-appctl exits 2)."""
        r = self.run(*args)
        assert r.returncode == 2, f"{args} succeeded: {r.stdout}"
        return r.stderr

    def close(self) -> None:
        done: list[Any] = []
        self.service.stopService().addBoth(done.append)
        deadline = time.monotonic() + 10
        while not done and time.monotonic() < deadline:
            reactor.iterate(0.01)
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def env(clean, tmp_path):
    """Bridge br0 (ports p1..p3, standalone, empty table) on the datapath, served."""
    h = Harness(clean, tmp_path)
    ctl = Appctl(View({"br0": h.bridge}, clean))
    yield h, ctl
    ctl.close()


@pytest.fixture
def levels():
    """vlog levels are process-wide: put them back."""
    saved = {ns: vlog.get_level(ns) for ns in ["", *vlog.namespaces()]}
    yield
    for ns, level in saved.items():
        vlog.set_level(ns, level)


def _add_rule(bridge: OFBridge, match: Match, out_port: int, priority: int = 100) -> None:
    bridge.switch.pipeline.flow_mod(FlowMod(
        match=match, priority=priority,
        instructions=[InstructionApplyActions(actions=[ActionOutput(port=out_port)])]))


def test_list_commands_and_version(env):
    _h, ctl = env
    out = ctl.ok("list-commands")
    for name in ("dpif/show", "dpctl/show", "dpctl/dump-flows", "dpctl/del-flows",
                 "upcall/show", "dpif-netdev/pmd-stats-show", "dpif-netdev/pmd-stats-clear",
                 "dpif-netdev/pmd-rxq-show", "fdb/show", "fdb/flush", "fdb/add", "fdb/del",
                 "ofproto/trace", "vlog/list", "vlog/set", "vlog/reopen", "coverage/show",
                 "exit"):
        assert re.search(rf"^  {re.escape(name)} ", out, re.M), name
    # No flow limit here, so nothing sets one.
    assert "upcall/set-flow-limit" not in out
    assert ctl.ok("version").strip() == "ovs-vswitchd (vswitch-appliance) test"


def test_dpif_show_lists_bridges_and_ports(env, clean):
    h, ctl = env
    # A second bridge, listed first (by name), whose local port shows as 65534.
    br = OFBridge("a-br", clean, datapath_id=2, rundir=str(h.tmp))
    br.add_port("a-br", "dpdk", {"dpdk-devargs": "net_null_abr0,no-rx=1"}, ofport=OFPP_LOCAL)
    br.add_port("zz", "dpdk", {"dpdk-devargs": "net_null_abr1,no-rx=1"}, ofport=7)
    ctl.view.bridges["a-br"] = br
    assert h.receive(1, frame(A, B)) == 1                      # one miss
    out = ctl.ok("dpif/show").splitlines()
    m = re.fullmatch(r"netdev@ovs-netdev: hit:(\d+) missed:(\d+)", out[0])
    assert m and int(m.group(2)) >= 1
    ports = re.compile(r"    (\S+) (\d+)/(\d+): \((\w+): (.*)\)")
    assert out[1] == "  a-br:"
    a_local, a_zz = ports.fullmatch(out[2]), ports.fullmatch(out[3])
    assert a_local.groups()[:3] == ("a-br", "65534", str(br.ports.odp_of(OFPP_LOCAL)))
    assert a_zz.groups()[:3] == ("zz", "7", str(br.ports.odp_of(7)))
    assert out[4] == "  br0:"
    for line, n in zip(out[5:8], (1, 2, 3), strict=True):
        p = ports.fullmatch(line)
        assert p is not None, line
        assert p.groups()[:4] == (f"p{n}", str(n), str(h.odp(n)), "dpdk")
        config = dict(kv.split("=", 1) for kv in p.group(5).split(", "))
        assert config["dpdk-devargs"] == f"net_pcap_br{n},tx_pcap={h.files[n]}"
        assert config["configured_rx_queues"] == "1" and int(config["mtu"]) > 0
    assert len(out) == 8
    for p in list(br.ports):
        br.del_port(p.ofport)


def test_dump_flows_after_traffic(env, clean):
    h, ctl = env
    _add_rule(h.bridge, Match(in_port=(1, None)), 3)
    pkt = frame(A, C)
    assert h.receive(1, pkt) == 1                  # the miss installs the megaflow
    assert h.receive(1, pkt) == 0                  # ... which the next packet hits
    out = ctl.ok("dpctl/dump-flows").splitlines()
    cores = {s.pmd: s.core for s in clean.pmd_stats()}
    flows = list(clean.flow_dump())
    assert len(flows) == 1
    f = flows[0]
    assert out[0] == f"flow-dump from pmd on cpu core: {cores[f.pmd]}"
    assert len(out) == 2
    line = out[1]
    assert line.startswith(f"recirc_id(0),in_port({h.odp(1)}),")
    assert line.startswith(format_key(f.key, f.mask) + ", packets:")
    # The text reads back as the flow (key and actions; the terse mask omits zeros).
    parsed = Megaflow.parse(line)
    assert parsed.key == f.key and list(parsed.actions) == f.actions
    assert line.endswith(f", actions:{h.odp(3)}")
    stats = re.search(r", packets:(\d+), bytes:(\d+), used:(\d+\.\d{3})s, ", line)
    assert stats is not None, line
    assert (int(stats.group(1)), int(stats.group(2))) == (1, len(pkt))
    assert 0 <= float(stats.group(3)) < 60
    verbose = ctl.ok("dpctl/dump-flows", "-m", "netdev@ovs-netdev").splitlines()[1]
    ufid = f.ufid
    words = [int.from_bytes(ufid[i:i + 4], "little") for i in range(0, 16, 4)]
    assert verbose.startswith(f"ufid:{words[0]:08x}-{words[1] >> 16:04x}-"
                              f"{words[1] & 0xFFFF:04x}-{words[2] >> 16:04x}-"
                              f"{words[2] & 0xFFFF:04x}{words[3]:08x}, ")
    assert ", dp:ovs, actions:" in verbose and "skb_priority(0/0)" in verbose
    assert "no such datapath" in ctl.error("dpctl/dump-flows", "system@ovs-system")
    assert ctl.error("dpctl/dump-flows", "-x").startswith("Unrecognized option -x\n")


def test_dpctl_show_lookups_flows_and_ports(env, clean):
    h, ctl = env
    _add_rule(h.bridge, Match(in_port=(1, None)), 3)
    pkt = frame(A, C)
    assert h.receive(1, pkt) == 1                  # a miss: the megaflow is installed
    assert h.receive(1, pkt) == 0                  # ... and hit
    out = ctl.ok("dpctl/show").splitlines()
    pmds = clean.pmd_stats()
    hit = sum(s.emc_hits + s.megaflow_hits for s in pmds)
    assert hit >= 1
    assert out[:3] == ["netdev@ovs-netdev:",
                       f"  lookups: hit:{hit} missed:{sum(s.misses for s in pmds)} "
                       f"lost:{sum(s.lost for s in pmds)}",
                       f"  flows: {len(list(clean.flow_dump()))}"]
    assert out[2] == "  flows: 1"
    ports = re.compile(r"  port (\d+): (\S+) \(dpdk: (.*)\)")
    assert len(out) == 6
    for line, n in zip(out[3:], (1, 2, 3), strict=True):
        p = ports.fullmatch(line)
        assert p is not None, line
        assert p.groups()[:2] == (str(h.odp(n)), f"p{n}")
        config = dict(kv.split("=", 1) for kv in p.group(3).split(", "))
        assert config["dpdk-devargs"] == f"net_pcap_br{n},tx_pcap={h.files[n]}"
        assert config["configured_rx_queues"] == "1" and int(config["mtu"]) > 0
    assert ctl.ok("dpctl/show", "netdev@ovs-netdev").splitlines() == out
    # -s: the port counters under each port line (what the devices do not count: ?).
    out = ctl.ok("dpctl/show", "-s", "ovs-netdev").splitlines()
    assert len(out) == 3 + 3 * 5
    assert [ports.fullmatch(out[i]).group(2) for i in (3, 8, 13)] == ["p1", "p2", "p3"]
    s3 = clean.port_stats(h.odp(3))
    assert s3.tx_packets == 2
    assert out[14:18] == [
        f"    RX packets:{s3.rx_packets} errors:{s3.rx_errors} dropped:{s3.rx_dropped} "
        "overruns:? frame:?",
        f"    TX packets:2 errors:{s3.tx_errors} dropped:{s3.tx_dropped} aborted:? carrier:?",
        "    collisions:?",
        f"    RX bytes:{s3.rx_bytes}  TX bytes:{2 * len(pkt)}"]
    assert "no such datapath" in ctl.error("dpctl/show", "system@ovs-system")
    assert ctl.error("dpctl/show", "-x").startswith("Unrecognized option -x\n")


def test_dpctl_del_flows_credits_rules_and_empties_the_datapath(env, clean):
    h, ctl = env
    _add_rule(h.bridge, Match(in_port=(1, None)), 3)
    pkt = frame(A, C)
    assert h.receive(1, pkt) == 1                  # a miss the table offload answers
    assert h.receive(1, pkt) == 0                  # in the datapath's counters only
    rule = next(r for r in h.bridge.switch.pipeline.flow_stats() if r.priority == 100)
    assert h.bridge.n_megaflows() == 1
    # A datapath flow no bridge installed goes too.
    key, mask = parse_key(f"in_port({h.odp(2)}),eth(src={B},dst={A}),eth_type(0x0800)")
    assert clean.flow_put([FlowPut(bytes(range(16)), key, mask, [Output(h.odp(1))])]) == \
        [None]
    assert len(ctl.ok("dpctl/dump-flows").splitlines()) == 1 + 2
    assert ctl.ok("upcall/show") == ("netdev@ovs-netdev:\n  flows         : (current 2)\n"
                                     "  ufid enabled : true\n")
    assert ctl.ok("dpctl/del-flows") == ""
    assert rule.packet_count == 2 and rule.byte_count == 2 * len(pkt)
    assert h.bridge.n_megaflows() == 0 and list(clean.flow_dump()) == []
    assert ctl.ok("dpctl/dump-flows") == ""
    assert "  flows: 0" in ctl.ok("dpctl/show").splitlines()
    assert "(current 0)" in ctl.ok("upcall/show")
    # Traffic installs the flow again.
    assert h.receive(1, pkt) == 1
    assert h.bridge.n_megaflows() == 1 and len(list(clean.flow_dump())) == 1
    assert ctl.ok("dpctl/del-flows", "ovs-netdev") == "" and h.bridge.n_megaflows() == 0
    assert rule.packet_count == 3
    assert "no such datapath" in ctl.error("dpctl/del-flows", "system@ovs-system")
    assert h.outputs()[3] == [pkt, pkt, pkt]


def test_pmd_stats_show_and_clear(env, clean):
    h, ctl = env
    h.receive(1, frame(A, B))
    cores = sorted(s.core for s in clean.pmd_stats())
    out = ctl.ok("dpif-netdev/pmd-stats-show")
    assert re.findall(r"^pmd thread numa_id 0 core_id (\d+):$", out, re.M) == \
        [str(c) for c in cores]
    received = [int(n) for n in re.findall(r"^  packets received: (\d+)$", out, re.M)]
    misses = [int(n) for n in re.findall(r"^  miss with success upcall: (\d+)$", out, re.M)]
    assert sum(received) >= 1 and sum(misses) >= 1
    assert ctl.ok("dpif-netdev/pmd-stats-clear") == ""
    out = ctl.ok("dpif-netdev/pmd-stats-show", "ovs-netdev")
    assert re.findall(r"^  packets received: (\d+)$", out, re.M) == ["0"] * len(cores)
    assert ctl.error("dpif-netdev/pmd-stats-show", "nosuch") == \
        "please specify an existing datapath\novs-appctl: " \
        f"{ctl.path}: server returned an error\n"


def test_pmd_rxq_show_measures_a_busy_queue(env, clean, tmp_path):
    """A port that receives without pause (net_pcap, infinite_rx) whose packets a rule
    drops: its queue takes most of its PMD's cycles; the idle ports' take none."""
    h, ctl = env
    h.bridge.switch.pipeline.flow_mod(FlowMod(match=Match(in_port=(4, None)), priority=100,
                                              instructions=[]))
    src = tmp_path / "in.pcap"
    wrpcap(str(src), [Ether(src=A, dst=B) / IP() / UDP() / (b"x" * 18)])
    h.bridge.add_port("p4", "dpdk", {"dpdk-devargs": f"net_pcap_br4,rx_pcap={src},"
                                                     "infinite_rx=1"}, ofport=4)
    try:
        # The first packets miss: install the megaflow, drain what queued meanwhile.
        deadline = time.monotonic() + 10
        while not h.bridge.n_megaflows() and time.monotonic() < deadline:
            h.bridge.handle_upcalls(clean.recv_upcalls())
        assert h.bridge.n_megaflows()
        while clean.recv_upcalls():
            pass
        ctl.ok("dpif-netdev/pmd-stats-clear")
        time.sleep(0.5)
        out = ctl.ok("dpif-netdev/pmd-rxq-show")
    finally:
        h.bridge.del_port(4)
    lines = out.splitlines()
    assert lines[0] == "Displaying pmd usage % since the PMD statistics were last cleared"
    usage = {}
    for line in lines:
        m = re.fullmatch(r"  port: (\S+) +queue-id: +(\d+) \(enabled\)   pmd usage: +(\d+) %",
                         line)
        if m:
            usage[m.group(1)] = int(m.group(3))
            assert m.group(2) == "0"
    assert set(usage) == {"p1", "p2", "p3", "p4"}
    assert usage["p4"] >= 50, out
    assert usage["p1"] == usage["p2"] == usage["p3"] == 0
    assert re.search(r"^  overhead: +\d+ %$", out, re.M)
    core = clean.pmd_stats()[0].core
    assert f"core_id {core}:\n  isolated : false\n" in \
        ctl.ok("dpif-netdev/pmd-rxq-show", "-pmd", str(core))
    assert "core_id" not in ctl.ok("dpif-netdev/pmd-rxq-show", "-pmd", "999")


def test_fdb_show_and_flush(env):
    h, ctl = env
    assert h.receive(1, frame(A, B)) == 1
    assert h.receive(2, frame(B, A)) == 1
    out = ctl.ok("fdb/show", "br0").splitlines()
    assert out[0].lower() == " port  vlan  mac                age"
    entries = {}
    for line in out[1:]:
        m = re.fullmatch(r" *(\S+) +(\d+)  ([0-9a-f:]{17}) +(\d+|static)", line)
        assert m is not None, line
        entries[m.group(3)] = (m.group(1), int(m.group(2)), m.group(4))
    assert {mac: e[:2] for mac, e in entries.items()} == {A: ("1", 0), B: ("2", 0)}
    assert all(int(e[2]) <= 5 for e in entries.values())
    assert ctl.ok("fdb/flush", "br0") == "table successfully flushed\n"
    assert len(h.bridge.mac_learning) == 0
    assert ctl.ok("fdb/show", "br0").splitlines()[1:] == []
    assert "no such bridge" in ctl.error("fdb/show", "br9")
    assert "no such bridge" in ctl.error("fdb/flush", "br9")


def test_fdb_add_and_del_static_entries(env):
    h, ctl = env
    # C -> A floods while A is unknown; a static entry for A on p2 changes that megaflow.
    assert h.receive(3, frame(C, A)) == 1
    assert ctl.ok("fdb/add", "br0", "p2", "0", A) == ""
    assert h.bridge.mac_learning.lookup(A, 0) == 2
    assert h.receive(3, frame(C, A)) == 1          # the flood megaflow was revalidated away
    assert ctl.ok("dpctl/dump-flows").endswith(f", actions:{h.odp(2)}\n")
    # Learning does not move a static entry.
    assert h.receive(1, frame(A, B)) == 1
    out = ctl.ok("fdb/show", "br0").splitlines()
    assert f"    2     0  {A}  static" in out
    # Replacing an entry says what it replaces; the same static entry again says nothing.
    assert h.receive(2, frame(B, C)) == 1          # B learned on 2
    assert ctl.ok("fdb/add", "br0", "p3", "0", B) == \
        "Overriding already existing dynamic entry on 2\n"
    assert ctl.ok("fdb/add", "br0", "p3", "0", B) == ""
    assert ctl.ok("fdb/add", "br0", "p1", "0", B) == \
        "Overriding already existing static entry on 3\n"
    assert ctl.ok("fdb/add", "br0", "p1", "10", B) == ""   # another VLAN: another entry
    # fdb/flush keeps static entries (C was learned on 3).
    assert ctl.ok("fdb/flush", "br0") == "table successfully flushed\n"
    entries = sorted(line.split()[:3] for line in ctl.ok("fdb/show", "br0").splitlines()[1:])
    assert entries == sorted([["2", "0", A], ["1", "0", B], ["1", "10", B]])
    assert ctl.ok("fdb/del", "br0", "0", A) == ""
    assert h.bridge.mac_learning.lookup(A, 0) is None
    assert ctl.error("fdb/del", "br0", "0", A).startswith("could not find static mac entry\n")
    h.receive(3, frame(C, B))                      # a dynamic entry is not fdb/del's
    assert ctl.error("fdb/del", "br0", "0", C).startswith("could not find static mac entry\n")
    assert "no such bridge" in ctl.error("fdb/add", "br9", "p1", "0", A)
    assert "no such bridge" in ctl.error("fdb/del", "br9", "0", A)
    assert ctl.error("fdb/add", "br0", "p1", "0", "00:00:0a").startswith("bad MAC address\n")
    assert ctl.error("fdb/del", "br0", "0", "zz:00:00:00:00:0a").startswith("bad MAC address")
    assert "p9: no such port on br0" in ctl.error("fdb/add", "br0", "p9", "0", A)
    assert "4096: bad VLAN" in ctl.error("fdb/add", "br0", "p1", "4096", A)


def test_trace_shows_the_rule_and_datapath_actions(env):
    h, ctl = env
    h.del_flows()
    _add_rule(h.bridge, Match(eth_type=(0x0800, None), ip_proto=(17, None),
                              udp_dst=(2, None)), 3, priority=200)
    flow = "in_port=1,udp,dl_src=00:00:00:00:00:0a,nw_src=10.0.0.1,nw_dst=10.0.0.2,tp_dst=2"
    out = ctl.ok("ofproto/trace", "br0", flow)
    lines = out.splitlines()
    assert lines[0] == ("Flow: udp,in_port=1,vlan_tci=0x0000,dl_src=00:00:00:00:00:0a,"
                        "dl_dst=00:00:00:00:00:00,nw_src=10.0.0.1,nw_dst=10.0.0.2,nw_tos=0,"
                        "nw_ecn=0,nw_ttl=0,nw_frag=no,tp_src=0,tp_dst=2")
    assert lines[2:4] == ['bridge("br0")', "-------------"]
    assert re.match(r" ?0\. priority 200, cookie 0x0, .*udp_dst=2", lines[4]), out
    assert "Final flow: unchanged" in lines
    assert any(line.startswith("Megaflow: recirc_id(0),in_port(") for line in lines)
    assert lines[-1] == f"Datapath actions: {h.odp(3)}"
    # By port name, and a miss.
    out = ctl.ok("ofproto/trace", "br0", flow.replace("in_port=1", "in_port=p1")
                 .replace("tp_dst=2", "tp_dst=3"))
    assert "0. No match. drop" in out and out.endswith("Datapath actions: drop\n")
    # A packet: its headers, the flow's in_port.
    pkt = raw(Ether(src=A, dst=C) / IP(src="10.0.0.5", dst="10.0.0.6") / UDP(dport=2))
    out = ctl.ok("ofproto/trace", "br0", "in_port=1", pkt.hex())
    assert "nw_src=10.0.0.5,nw_dst=10.0.0.6,nw_tos=0,nw_ecn=0,nw_ttl=64" in out
    assert out.endswith(f"Datapath actions: {h.odp(3)}\n")
    # The datapath flow syntax: the bridge is the one owning the port.
    odp_flow = (f"in_port({h.odp(1)}),eth(src={A},dst={B}),eth_type(0x0800),"
                "ipv4(src=10.0.0.1,dst=10.0.0.2,proto=17,tos=0,ttl=64,frag=no),"
                "udp(src=1,dst=2)")
    out = ctl.ok("ofproto/trace", odp_flow)
    assert out.startswith("Flow: udp,in_port=1,") and \
        out.endswith(f"Datapath actions: {h.odp(3)}\n")


def test_trace_normal_learns_nothing(env):
    h, ctl = env
    out = ctl.ok("ofproto/trace", "br0", f"in_port=2,dl_src={B},dl_dst={A}")
    assert out.startswith(f"Flow: in_port=2,vlan_tci=0x0000,dl_src={B},dl_dst={A},"
                          "dl_type=0x0000\n")
    assert "NORMAL: no learned MAC for destination, flooding" in out
    assert out.endswith(f"Datapath actions: {h.odp(1)},{h.odp(3)}\n")   # flooded
    assert len(h.bridge.mac_learning) == 0
    # After real traffic taught it where A is, the trace forwards there only.
    h.receive(1, frame(A, B))
    out = ctl.ok("ofproto/trace", "br0", f"in_port=2,dl_src={B},dl_dst={A}")
    assert out.endswith(f"Datapath actions: {h.odp(1)}\n")


def test_trace_errors(env):
    _h, ctl = env
    assert "nosuch: unknown bridge" in ctl.error("ofproto/trace", "nosuch", "in_port=1")
    err = ctl.error("ofproto/trace", "br0", "in_port=1,foo=2")
    assert err.startswith("Bad openflow flow syntax: in_port=1,foo=2: unknown field foo\n")
    err = ctl.error("ofproto/trace", "br0", "tp_dst=80,tcp")
    assert "Bad openflow flow syntax: tp_dst=80,tcp: prerequisites not met for setting " \
           "tp_dst" in err
    assert "bad value for nw_src" in ctl.error("ofproto/trace", "br0", "ip,nw_src=1.2.3")
    assert "set multiple times" in ctl.error("ofproto/trace", "br0", "in_port=1,in_port=2")
    assert "unknown option" in ctl.error("ofproto/trace", "--bogus", "br0", "in_port=1")
    assert "Trailing garbage" in ctl.error("ofproto/trace", "br0", "in_port=1", "zz")
    assert "bridge name was omitted" in ctl.error("ofproto/trace", "in_port=1")


def test_vlog_set_changes_vlog_list(env, levels):
    _h, ctl = env

    def listed() -> dict[str, str]:
        lines = ctl.ok("vlog/list").splitlines()
        assert lines[:2] == ["                 level", "                 -----"]
        return dict(line.split() for line in lines[2:])

    before = listed()
    assert before["unixctl"] == "INFO" and before["ofproto.bridge"] == "INFO"
    assert ctl.ok("vlog/set", "unixctl:file:dbg") == ""
    after = listed()
    assert after["unixctl"] == "DBG" and after["ofproto.bridge"] == "INFO"
    ctl.ok("vlog/set", "ofproto:warn")                 # a parent namespace
    assert listed()["ofproto.bridge"] == "WARN"
    ctl.ok("vlog/set", "ANY:console:err")
    assert set(listed().values()) == {"ERR"}
    ctl.ok("vlog/set")                                 # no argument: everything dbg
    assert set(listed().values()) == {"DBG"}
    assert ctl.error("vlog/set", "nosuchmodule:dbg").startswith(
        'no destination, level, or module "nosuchmodule"\n')
    assert "multiple levels" in ctl.error("vlog/set", "unixctl:dbg:info")
    assert ctl.ok("vlog/reopen") == ""


def test_coverage_show(env):
    h, ctl = env                   # registered with the counters at zero: first sample
    assert h.receive(1, frame(A, B)) == 1
    assert h.receive(2, frame(B, A)) == 1
    ctl.clock.advance(5)           # the second sample
    out = ctl.ok("coverage/show").splitlines()
    assert re.fullmatch(r"Event coverage, avg rate over last: 5 seconds, last minute, "
                        r"last hour,  hash=[0-9a-f]{8}:", out[0])
    assert f"{'bridge_upcalls':<24}   0.4/sec     0.033/sec        0.0006/sec   total: 2" \
        in out
    totals = {m.group(1): int(m.group(2)) for m in
              (re.fullmatch(r"(\S+) +[\d.]+/sec +[\d.]+/sec +[\d.]+/sec   total: (\d+)", line)
               for line in out[1:-1]) if m}
    assert totals["bridge_flows_installed"] == h.bridge.stats.flows_installed
    assert totals["pmd_misses"] == sum(s.misses for s in h.dp.pmd_stats())
    # NORMAL is xlate's: the table offload left both misses to upcalls.
    assert totals["offload_punted"] == 2 and "offload_handled" not in totals
    assert "bridge_packet_ins" not in totals
    assert len(totals) == len(out) - 2
    assert int(re.fullmatch(r"(\d+) events never hit", out[-1]).group(1)) >= 1


def test_exit_calls_the_daemon(env):
    _h, ctl = env
    assert ctl.ok("exit") == "" and ctl.view.exits == 1
    assert ctl.ok("exit", "--cleanup") == "" and ctl.view.exits == 2
    assert "unknown option" in ctl.error("exit", "--bogus")
    assert ctl.view.exits == 2


def test_before_the_datapath_exists():
    """vswitchd before DPDK is initialised: no datapath, no bridges."""
    ctl = Appctl(View())
    try:
        assert ctl.ok("dpif/show") == ""
        assert ctl.ok("dpctl/show") == "" and ctl.ok("upcall/show") == ""
        assert "no datapaths exist" in ctl.error("dpctl/show", "ovs-netdev")
        assert "no datapaths exist" in ctl.error("dpctl/dump-flows")
        assert "no datapaths exist" in ctl.error("dpctl/del-flows")
        assert "please specify an existing datapath" in \
            ctl.error("dpif-netdev/pmd-rxq-show")
        assert "Cannot find the datapath" in ctl.error(
            "ofproto/trace", "in_port(1),eth(src=00:00:00:00:00:01,dst=00:00:00:00:00:02),"
            "eth_type(0x1234)")
        assert ctl.ok("fdb/flush") == "table successfully flushed\n"
    finally:
        ctl.close()
