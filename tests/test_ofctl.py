"""Debian's ovs-ofctl against our OpenFlow switch (management socket, no datapath).

Each test runs ovs-ofctl commands as a user would (``ovs-ofctl -O OpenFlow13 add-flow
br0 ...`` with OVS_RUNDIR pointing at the switch's run directory) and parses its output.
"""

from __future__ import annotations

import re
import socket
from pathlib import Path

from helpers.ofswitch import recv_message, run_ofctl

from ofproto.ofp import actions as A
from ofproto.ofp import messages, oxm


def ofctl(rundir: Path, *args: str, proto: str = "OpenFlow13", check: bool = True):
    return run_ofctl(rundir, *args, proto=proto, check=check)


def flows(rundir: Path, *extra: str) -> list[str]:
    out = ofctl(rundir, "dump-flows", "br0", *extra).stdout
    return [re.sub(r"duration=[0-9.]+s, ", "", line.strip())
            for line in out.splitlines() if "actions=" in line]


def test_show_and_port_desc(br0):
    out = ofctl(br0, "show", "br0").stdout
    assert "dpid:0000000000000042" in out
    for i in (1, 2, 3):
        assert re.search(rf"\b{i}\(p{i}\): addr:02:00:00:00:00:0{i}", out), out
    desc = ofctl(br0, "dump-ports-desc", "br0").stdout
    assert desc.count("addr:") == 3


def test_add_dump_del_flows(br0):
    ofctl(br0, "add-flow", "br0", "priority=100,in_port=1,actions=output:2")
    ofctl(br0, "add-flow", "br0", "table=0,priority=50,tcp,tp_dst=80,actions=drop")
    ofctl(br0, "add-flow", "br0", "cookie=0x7,ip,nw_src=10.0.0.0/8,actions=output:3")
    got = flows(br0)
    assert any("priority=100,in_port=p1 actions=output:p2" in f or
               "priority=100,in_port=1 actions=output:2" in f for f in got), got
    assert any("tcp,tp_dst=80 actions=drop" in f for f in got), got
    assert any(f.startswith("cookie=0x7") and "nw_src=10.0.0.0/8" in f for f in got), got
    assert len(flows(br0, "--no-names")) == 3
    ofctl(br0, "del-flows", "br0", "tcp")
    assert len(flows(br0)) == 2
    ofctl(br0, "--strict", "del-flows", "br0", "priority=100,in_port=1")
    assert len(flows(br0)) == 1
    ofctl(br0, "del-flows", "br0")
    assert flows(br0) == []


def test_flows_from_file_aggregate_and_tables(br0, tmp_path):
    spec = tmp_path / "flows.txt"
    spec.write_text("".join(f"priority={i},udp,tp_src={i},actions=output:2\n"
                            for i in range(1, 201)))
    ofctl(br0, "add-flows", "br0", str(spec))
    assert len(flows(br0)) == 200
    agg = ofctl(br0, "dump-aggregate", "br0").stdout
    assert "flow_count=200" in agg
    tables = ofctl(br0, "dump-tables", "br0").stdout
    assert re.search(r"table 0:.*\n.*active=200", tables) or "active=200" in tables
    ofctl(br0, "mod-flows", "br0", "udp,tp_src=5,actions=output:3")
    assert any("tp_src=5 actions=output:3" in f or "tp_src=5 actions=output:p3" in f
               for f in flows(br0, "--no-names"))


def test_bulk_adds_read_by_layout_match_what_was_sent(br0, tmp_path):
    """add-flows of many flows in a few layouts (ofproto.addlayout reads all but the
    first of each from their wire form): every flow comes back as written."""
    lines, want = [], set()
    for i in range(1500):
        if i % 3 == 0:
            rule = (f"priority={100 + i % 7},udp,nw_src=10.0.{i >> 8}.{i & 255},tp_src={i}",
                    "output:2")
        elif i % 3 == 1:
            rule = (f"priority=9,ip,nw_dst=10.{i >> 8}.{i & 255}.0/24,nw_tos={i % 64 * 4}",
                    "output:3")
        else:
            rule = (f"priority=8,in_port={1 + i % 3},dl_dst=02:00:00:00:{i >> 8:02x}:"
                    f"{i & 255:02x}", "output:1")
        lines.append(f"cookie={i:#x},{rule[0]},actions={rule[1]}")
        want.add((f"{i:#x}",) + rule)
    spec = tmp_path / "flows.txt"
    spec.write_text("\n".join(lines) + "\n")
    ofctl(br0, "add-flows", "br0", str(spec))
    got = [re.match(r"cookie=(\S+), .*?(priority=\S*) actions=(\S+)$", f)
           for f in flows(br0, "--no-names")]
    assert {m.groups() for m in got if m} == want


def test_a_layout_that_no_longer_validates_gets_its_error(br0):
    ofctl(br0, "add-meter", "br0", "meter=1,kbps,band=type=drop,rate=1000")
    for prio in (1, 2):   # the second is read by the first's layout
        ofctl(br0, "add-flow", "br0", f"priority={prio},in_port=1,actions=meter:1,output:2")
    assert len(flows(br0)) == 2
    ofctl(br0, "del-meter", "br0", "meter=1")   # takes its flows along
    r = ofctl(br0, "add-flow", "br0", "priority=3,in_port=1,actions=meter:1,output:2",
              check=False)
    assert r.returncode != 0 and "OFPMMFC_UNKNOWN_METER" in r.stderr, r.stderr
    assert flows(br0) == []


def test_adds_answered_before_insertion_are_in_order(br0):
    """A plain add is validated before the barrier reply and inserted after it (the
    switch stages it); whatever the peer sends next, in the same write or later,
    sees it, and a bad add's error still precedes its barrier reply."""
    def add(xid: int, port: int, src: int) -> bytes:
        return messages.FlowMod(
            version=4, xid=xid, priority=7,
            match=oxm.Match({"eth_type": 0x800, "ip_src": src}),
            instructions=[A.InstructionApplyActions([A.ActionOutput(port)])]).encode()

    def barrier(xid: int) -> bytes:
        return messages.BarrierRequest(version=4, xid=xid).encode()

    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(10)
        sock.connect(str(br0 / "br0.mgmt"))
        sock.sendall(messages.Hello(version=4, xid=1).encode())
        assert isinstance(recv_message(sock), messages.Hello)
        sock.sendall(add(2, 2, 1) + barrier(3) + add(4, 99, 2) + barrier(5) + add(6, 3, 3)
                     + messages.FlowStatsRequest(version=4, xid=7).encode())
        got = [recv_message(sock) for _ in range(4)]
        assert [(type(x).__name__, x.xid) for x in got] == [
            ("BarrierReply", 3), ("Error", 4), ("BarrierReply", 5),
            ("FlowStatsReply", 7)], got
        assert sorted(e.match.value("ip_src") for e in got[3].body) == [1, 3]
        sock.sendall(add(8, 2, 4) + barrier(9))
        assert recv_message(sock).xid == 9
    assert len(flows(br0)) == 3     # from another connection, once the reply is out


def test_bad_flows_are_refused(br0):
    r = ofctl(br0, "add-flow", "br0", "in_port=1,actions=output:99", check=False)
    assert r.returncode != 0 and "OFPBAC_BAD_OUT_PORT" in r.stderr
    r = ofctl(br0, "add-flow", "br0", "table=0,actions=goto_table:0", check=False)
    assert r.returncode != 0
    assert flows(br0) == []


def test_groups_and_meters(br0):
    ofctl(br0, "add-group", "br0", "group_id=1,type=all,bucket=output:2,bucket=output:3")
    out = ofctl(br0, "dump-groups", "br0").stdout
    assert "group_id=1,type=all,bucket=actions=output:2,bucket=actions=output:3" in \
        out.replace("p2", "2").replace("p3", "3"), out
    ofctl(br0, "add-meter", "br0", "meter=1,kbps,band=type=drop,rate=1000")
    meters = ofctl(br0, "dump-meters", "br0").stdout
    assert "meter=1 kbps bands=" in meters and "rate=1000" in meters
    ofctl(br0, "add-flow", "br0", "in_port=1,actions=meter:1,group:1")
    assert len(flows(br0)) == 1


def test_openflow15_and_10_basics(br0):
    ofctl(br0, "add-flow", "br0", "priority=7,in_port=2,actions=output:1",
          proto="OpenFlow15")
    assert any("priority=7" in f for f in flows(br0))
    out = ofctl(br0, "show", "br0", proto="OpenFlow10").stdout
    assert "dpid:0000000000000042" in out
