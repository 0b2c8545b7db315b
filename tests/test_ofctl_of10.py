"""Debian's ovs-ofctl with ``-O OpenFlow10`` against our switch, and the Nicira codec.

With OpenFlow 1.0 ovs-ofctl negotiates a flow format: it prefers NXM for dumps
(NXT_SET_FLOW_FORMAT + NXST_FLOW / NXST_AGGREGATE), uses NXT_FLOW_MOD for flows that
need fields beyond ``ofp_match`` (registers, IPv6, cookie masks) and
NXT_FLOW_MOD_TABLE_ID for flows in a table other than 0 (OVS utilities/ovs-ofctl.c,
lib/ofp-protocol.c).  ``-F openflow10`` forces the plain OpenFlow 1.0 messages.
The codec vectors are the byte strings of OVS tests/ofp-print.at.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from helpers.dp_runner import wait_until
from helpers.ofswitch import FakeConn, run_ofctl
from test_osken_controller import A, B, C, bridge_daemon, frame  # noqa: F401 - fixture

from ofproto.ofp import messages as M
from ofproto.ofp import nicira as NX
from ofproto.ofp import oxm
from ofproto.ofp.actions import NXActionRegLoad


def _hex(s: str) -> bytes:
    return bytes.fromhex(s.replace(" ", "").replace("\n", ""))


# --- codec: vectors from OVS tests/ofp-print.at -----------------------------------------

NXT_VECTORS = {
    # NXT_SET_FLOW_FORMAT (xid=0x2): format=nxm
    "set_flow_format": "01 04 00 14 00 00 00 02 00 00 23 20 00 00 00 0c 00 00 00 02",
    # NXT_SET_PACKET_IN_FORMAT (xid=0x2): format=nxt_packet_in
    "set_packet_in": "01 04 00 14 00 00 00 02 00 00 23 20 00 00 00 10 00 00 00 01",
    # NXT_FLOW_MOD_TABLE_ID (xid=0x1020304): enable
    "flow_mod_table_id": "01 04 00 18 01 02 03 04 00 00 23 20 00 00 00 0f "
                         "01 00 00 00 00 00 00 00",
    # NXT_FLOW_MOD (xid=0x2): ADD reg0=0x7b,tun_id=0x1c8 out_port:16
    #   actions=load:0x5->NXM_NX_REG0[]
    "flow_mod": """01 04 00 60 00 00 00 02 00 00 23 20 00 00 00 0d
        00 00 00 00 00 00 00 00 00 00 00 00 00 00 80 00
        ff ff ff ff 00 10 00 00 00 14 00 00 00 00 00 00
        00 01 20 08 00 00 00 00 00 00 01 c8 00 01 00 04
        00 00 00 7b 00 00 00 00 ff ff 00 18 00 00 23 20
        00 07 00 1f 00 01 00 04 00 00 00 00 00 00 00 05""",
    # NXT_FLOW_REMOVED (xid=0x0): priority=65535,arp,in_port=3,... reason=idle table_id=1
    "flow_removed": """01 04 00 78 00 00 00 00 00 00 23 20 00 00 00 0e
        00 00 00 00 00 00 00 00 ff ff 00 02 00 00 00 06
        01 6e 36 00 00 05 00 3c 00 00 00 00 00 00 00 01
        00 00 00 00 00 00 00 3c 00 00 00 02 00 03 00 00
        02 06 50 54 00 00 00 06 00 00 04 06 50 54 00 00
        00 05 00 00 06 02 08 06 00 00 08 02 00 00 00 00
        1e 02 00 02 00 00 20 04 c0 a8 00 01 00 00 22 04
        c0 a8 00 02 00 00 00 00""",
    # NXST_FLOW request (xid=0x4)
    "flow_stats_request": "01 10 00 20 00 00 00 04 ff ff 00 00 00 00 23 20 "
                          "00 00 00 00 00 00 00 00 ff ff 00 00 ff 00 00 00",
    # NXST_AGGREGATE request (xid=0x4)
    "aggregate_request": "01 10 00 20 00 00 00 04 ff ff 00 00 00 00 23 20 "
                         "00 00 00 01 00 00 00 00 ff ff 00 00 ff 00 00 00",
}


@pytest.mark.parametrize("name", sorted(NXT_VECTORS))
def test_nicira_vectors_round_trip(name: str) -> None:
    data = _hex(NXT_VECTORS[name])
    msg = NX.decode_nicira(M.decode_message(data))
    assert msg is not None
    assert msg.encode() == data


def test_nicira_decoded_fields() -> None:
    fm = NX.decode_nicira(M.decode_message(_hex(NXT_VECTORS["flow_mod"])))
    assert isinstance(fm, NX.NXFlowMod)
    assert fm.out_port == 16 and fm.priority == 0x8000 and fm.command == 0
    assert fm.match == oxm.Match(tun_id=0x1C8, reg0=0x7B)
    assert fm.actions == [NXActionRegLoad(0, 32, "reg0", 5)]
    fr = NX.decode_nicira(M.decode_message(_hex(NXT_VECTORS["flow_removed"])))
    assert isinstance(fr, NX.NXFlowRemoved)
    assert (fr.priority, fr.reason, fr.table_id, fr.idle_timeout) == (0xFFFF, 0, 2, 5)
    assert fr.match["arp_spa"] == (oxm.ipv4("192.168.0.1"), None)
    sff = NX.decode_nicira(M.decode_message(_hex(NXT_VECTORS["set_flow_format"])))
    assert isinstance(sff, NX.NXSetFlowFormat) and sff.format == NX.NXFF_NXM


def test_nxst_replies_round_trip() -> None:
    # NXST_AGGREGATE reply (xid=0x4): packet_count=7 byte_count=420 flow_count=7
    agg = _hex("01 11 00 30 00 00 00 04 ff ff 00 00 00 00 23 20 00 00 00 01 00 00 00 00"
               " 00 00 00 00 00 00 00 07 00 00 00 00 00 00 01 a4 00 00 00 07 00 00 00 00")
    r = NX.NXAggregateStatsReply.decode_reply(agg)
    assert (r.packet_count, r.byte_count, r.flow_count) == (7, 420, 7)
    assert r.encode() == agg
    # The first nx_flow_stats of ofp-print.at's "NXST_FLOW reply" (header length
    # adjusted to one entry): table 0, duration 1.048, priority 65535, idle 5,
    # arp..., actions=output:1.
    entry = _hex("""00 88 00 00 00 00 00 01
        02 dc 6c 00 ff ff 00 05 00 00 00 4c 00 00 00 00
        00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 01
        00 00 00 00 00 00 00 3c 00 00 00 02 00 03 00 00
        02 06 50 54 00 00 00 06 00 00 04 06 50 54 00 00
        00 05 00 00 06 02 08 00 00 00 08 02 00 00 00 00
        0a 01 00 00 00 0e 04 c0 a8 00 01 00 00 10 04 c0
        a8 00 02 00 00 0c 01 06 00 00 12 02 09 e7 00 00
        14 02 00 00 00 00 00 00 00 00 00 08 00 01 00 00""")
    msg = _hex("01 11 00 a0 00 00 00 04 ff ff 00 00 00 00 23 20"
               " 00 00 00 00 00 00 00 00") + entry
    reply = NX.NXFlowStatsReply.decode_reply(msg)
    (fs,) = reply.body
    assert (fs.table_id, fs.duration_sec, fs.priority, fs.idle_timeout) == (0, 1, 0xFFFF, 5)
    assert fs.match["tcp_src"] == (0x9E7, None) and fs.packet_count == 1
    assert reply.encode() == msg


def test_nx_match_cookie_is_a_filter() -> None:
    req = NX.NXFlowStatsRequest(xid=9, table_id=3, match=oxm.Match(reg0=5),
                                cookie=0x7, cookie_mask=0xFF)
    back = NX.decode_nicira(M.decode_message(req.encode()))
    assert isinstance(back, NX.NXFlowStatsRequest)
    assert (back.cookie, back.cookie_mask, back.table_id) == (0x7, 0xFF, 3)
    assert back.match == oxm.Match(reg0=5)


# --- ovs-ofctl -O OpenFlow10 -------------------------------------------------------------




def ofctl(rundir: Path, *args: str, proto: str = "OpenFlow10", check: bool = True):
    return run_ofctl(rundir, *args, proto=proto, check=check)


def sent(rundir: Path, *args: str) -> list[str]:
    """The messages ovs-ofctl sent (its vconn debug log)."""
    err = ofctl(rundir, "-vvconn:dbg", *args).stderr
    return re.findall(r"sent \(Success\): (\S+)", err)


def flows(rundir: Path, *extra: str, proto: str = "OpenFlow10") -> list[str]:
    out = ofctl(rundir, "dump-flows", "br0", *extra, proto=proto).stdout
    return [re.sub(r"duration=[0-9.]+s, ", "", line.strip())
            for line in out.splitlines() if "actions=" in line]


def by_priority(lines: list[str]) -> dict[int, str]:
    out = {}
    for line in lines:
        mt = re.search(r"priority=(\d+)", line)
        out[int(mt.group(1)) if mt else 0x8000] = line
    return out


def test_add_dump_del_flows(br0):
    ofctl(br0, "add-flow", "br0", "priority=100,in_port=1,actions=output:2")
    ofctl(br0, "add-flow", "br0", "priority=50,tcp,tp_dst=80,actions=drop")
    ofctl(br0, "add-flow", "br0", "cookie=0x7,priority=40,ip,nw_src=10.0.0.0/8,"
          "actions=mod_nw_tos:8,output:3")
    got = by_priority(flows(br0))
    assert re.search(r"priority=100,in_port=(1|p1) actions=output:(2|p2)$", got[100]), got
    assert got[50].endswith("priority=50,tcp,tp_dst=80 actions=drop")
    assert got[40].startswith("cookie=0x7,") and "table=0," in got[40]
    assert "n_packets=0, n_bytes=0" in got[40]
    assert re.search(r"priority=40,ip,nw_src=10\.0\.0\.0/8 actions=mod_nw_tos:8,"
                     r"output:(3|p3)$", got[40]), got
    plain = by_priority(flows(br0, "--no-names"))
    assert plain[100].endswith("priority=100,in_port=1 actions=output:2")
    assert plain[40].endswith("actions=mod_nw_tos:8,output:3")
    # Dumps use NXM (NXT_SET_FLOW_FORMAT + NXST_FLOW), as ovs-ofctl prefers it.
    msgs = sent(br0, "dump-flows", "br0")
    assert "NXT_SET_FLOW_FORMAT" in msgs and "NXST_FLOW" in msgs
    ofctl(br0, "del-flows", "br0", "tcp")
    assert sorted(by_priority(flows(br0))) == [40, 100]
    ofctl(br0, "--strict", "del-flows", "br0", "priority=100,in_port=1")
    assert sorted(by_priority(flows(br0))) == [40]
    ofctl(br0, "del-flows", "br0", "cookie=0x6/-1")       # no match: nothing deleted
    assert len(flows(br0)) == 1
    ofctl(br0, "del-flows", "br0", "cookie=0x7/-1")       # NXM cookie filter
    assert flows(br0) == []


def test_flows_from_file_mod_aggregate_tables_ports(br0, tmp_path):
    spec = tmp_path / "flows.txt"
    spec.write_text("".join(f"priority={i},udp,tp_src={i},actions=output:2\n"
                            for i in range(1, 801)))
    ofctl(br0, "add-flows", "br0", str(spec))
    got = flows(br0, "--no-names")      # > 64 KiB of nx_flow_stats: several replies
    assert len(got) == 800
    assert by_priority(got)[5].endswith("priority=5,udp,tp_src=5 actions=output:2")
    agg = ofctl(br0, "dump-aggregate", "br0").stdout
    assert re.search(r"NXST_AGGREGATE reply .*flow_count=800", agg), agg
    agg = ofctl(br0, "dump-aggregate", "br0", "udp,tp_src=7").stdout
    assert "flow_count=1" in agg
    tables = ofctl(br0, "dump-tables", "br0").stdout
    assert tables.startswith("OFPST_TABLE reply")
    assert re.search(r"table 0 [^\n]*:\n\s+active=800, lookup=0, matched=0", tables), tables
    assert re.search(r"table 1 [^\n]*:\n\s+active=0", tables)
    ofctl(br0, "mod-flows", "br0", "udp,tp_src=5,actions=output:3")
    got = by_priority(flows(br0, "--no-names"))
    assert got[5].endswith("priority=5,udp,tp_src=5 actions=output:3")
    assert got[6].endswith("actions=output:2")
    # A modify that matches nothing adds the flow (OpenFlow 1.0, OVS ofproto.c).
    ofctl(br0, "mod-flows", "br0", "priority=900,udp,tp_src=900,actions=output:1")
    assert by_priority(flows(br0, "--no-names"))[900].endswith("actions=output:1")
    ports = ofctl(br0, "dump-ports", "br0").stdout
    assert "OFPST_PORT reply" in ports and "3 ports" in ports
    assert re.findall(r"port\s+(\d+): rx pkts=0", ports) == ["1", "2", "3"]
    one = ofctl(br0, "dump-ports", "br0", "2").stdout
    assert "1 ports" in one and "port  2:" in one


def test_bulk_adds_read_by_layout_match_what_was_sent(br0, tmp_path):
    """ovs-ofctl's default add-flows (OFPT_FLOW_MOD 1.0 per flow) in three layouts:
    all but the first of each are read from their wire form (ofproto.addlayout), and
    every flow comes back as written."""
    lines, want = [], set()
    for i in range(900):
        if i % 3 == 0:
            rule = f"priority={i},udp,nw_src=10.0.{i >> 8}.{i & 255},tp_src={i}", "output:2"
        elif i % 3 == 1:
            rule = f"priority={i},arp,arp_spa=10.1.{i >> 8}.{i & 255}", "output:3"
        else:
            rule = f"priority={i},dl_dst=02:00:00:00:{i >> 8:02x}:{i & 255:02x}", "output:1"
        lines.append(f"cookie={i:#x},{rule[0]},actions={rule[1]}")
        want.add((f"{i:#x}",) + rule)
    spec = tmp_path / "flows.txt"
    spec.write_text("\n".join(lines) + "\n")
    assert "OFPT_FLOW_MOD" in sent(br0, "add-flows", "br0", str(spec))
    got = [re.match(r"cookie=(\S+), .*?(priority=\S*) actions=(\S+)$", f)
           for f in flows(br0, "--no-names")]
    assert {m.groups() for m in got if m} == want


def test_flows_that_need_nxm(br0):
    ofctl(br0, "add-flow", "br0", "priority=20,reg0=5,actions=output:1")
    ofctl(br0, "add-flow", "br0",
          "priority=30,ipv6,ipv6_src=fe80::1,actions=mod_dl_src:00:11:22:33:44:55,output:2")
    assert "NXT_FLOW_MOD" in sent(br0, "add-flow", "br0",
                                  "priority=31,tcp6,tp_dst=22,actions=output:3")
    got = by_priority(flows(br0, "--no-names"))
    assert got[20].endswith("priority=20,reg0=0x5 actions=output:1")
    assert got[30].endswith("priority=30,ipv6,ipv6_src=fe80::1 "
                            "actions=mod_dl_src:00:11:22:33:44:55,output:2")
    assert got[31].endswith("priority=31,tcp6,tp_dst=22 actions=output:3")
    assert len(flows(br0, "reg0=5")) == 1
    assert len(flows(br0, "ipv6")) == 2
    ofctl(br0, "del-flows", "br0", "ipv6,ipv6_src=fe80::1")
    assert sorted(by_priority(flows(br0))) == [20, 31]


def test_tables_other_than_zero(br0):
    msgs = sent(br0, "add-flow", "br0", "table=3,priority=9,udp,tp_src=53,actions=output:1")
    assert "NXT_FLOW_MOD_TABLE_ID" in msgs
    ofctl(br0, "add-flow", "br0", "table=4,priority=9,reg1=1,actions=resubmit(,5)")
    ofctl(br0, "add-flow", "br0", "priority=9,udp,tp_src=53,actions=output:2")
    got = flows(br0, "table=3", "--no-names")
    assert len(got) == 1 and "table=3," in got[0] and got[0].endswith("actions=output:1")
    assert flows(br0, "table=4", "--no-names")[0].endswith(
        "priority=9,reg1=0x1 actions=resubmit(,5)")
    # a loose modify without table applies to every table (OpenFlow 1.0)
    ofctl(br0, "mod-flows", "br0", "udp,tp_src=53,actions=output:3")
    assert all(f.endswith("actions=output:3") for f in flows(br0, "udp", "--no-names"))
    ofctl(br0, "del-flows", "br0", "table=3")
    assert flows(br0, "table=3") == [] and len(flows(br0)) == 2


def test_standard_openflow10_flow_format(br0):
    """``-F openflow10``: OFPT_FLOW_MOD, OFPST_FLOW and OFPST_AGGREGATE."""
    assert "OFPT_FLOW_MOD" in sent(br0, "-F", "openflow10", "add-flow", "br0",
                                   "priority=7,ip,nw_tos=16,nw_dst=192.168.0.0/16,"
                                   "actions=mod_nw_tos:8,output:1")
    ofctl(br0, "-F", "openflow10", "add-flow", "br0",
          "priority=2,dl_vlan=5,actions=strip_vlan,mod_vlan_pcp:3,output:3")
    ofctl(br0, "add-flow", "br0", "priority=3,reg0=1,actions=drop")     # NXM only
    out = ofctl(br0, "-F", "openflow10", "dump-flows", "br0", "--no-names").stdout
    assert out.startswith("OFPST_FLOW reply")
    got = by_priority([line.strip() for line in out.splitlines() if "actions=" in line])
    assert got[7].endswith("priority=7,ip,nw_dst=192.168.0.0/16,nw_tos=16 "
                           "actions=mod_nw_tos:8,output:1")
    assert got[2].endswith("priority=2,dl_vlan=5 actions=strip_vlan,mod_vlan_pcp:3,output:3")
    assert got[3].endswith("priority=3 actions=drop")    # reg0 has no ofp_match field
    agg = ofctl(br0, "-F", "openflow10", "dump-aggregate", "br0", "ip").stdout
    assert agg.startswith("OFPST_AGGREGATE reply") and "flow_count=1" in agg
    ofctl(br0, "-F", "openflow10", "--strict", "del-flows", "br0", "priority=2,dl_vlan=5")
    assert sorted(by_priority(flows(br0))) == [3, 7]


def test_flows_across_versions(br0):
    ofctl(br0, "add-flow", "br0", "priority=2,dl_vlan=5,actions=strip_vlan,"
          "mod_vlan_pcp:3,output:3")
    ofctl(br0, "add-flow", "br0", "priority=4,udp,actions=mod_tp_src:99,mod_nw_tos:8,"
          "mod_dl_dst:00:00:00:00:00:01,enqueue:2:7")
    ofctl(br0, "add-flow", "br0", "table=1,priority=3,ip,in_port=1,actions=push_vlan:0x8100,"
          "set_field:4101->vlan_vid,set_field:7->reg1,dec_ttl,goto_table:2",
          proto="OpenFlow13")
    of13 = by_priority(flows(br0, "--no-names", "--no-stats", proto="OpenFlow13"))
    assert of13[2] == "priority=2,dl_vlan=5 actions=pop_vlan,set_field:3->vlan_pcp,output:3"
    assert of13[4] == ("priority=4,udp actions=set_field:99->udp_src,set_field:2->ip_dscp,"
                       "set_field:00:00:00:00:00:01->eth_dst,set_queue:7,output:2")
    of10 = by_priority(flows(br0, "--no-names", "--no-stats"))
    assert of10[3] == ("table=1, priority=3,ip,in_port=1 actions=mod_vlan_vid:5,"
                       "load:0x7->NXM_NX_REG1[],dec_ttl,resubmit(,2)")
    assert of10[4].endswith("actions=mod_tp_src:99,mod_nw_tos:8,"
                            "mod_dl_dst:00:00:00:00:00:01,enqueue:2:7")


def test_bad_flows_are_refused(br0):
    r = ofctl(br0, "add-flow", "br0", "in_port=1,actions=output:99", check=False)
    assert r.returncode != 0 and "OFPBAC_BAD_OUT_PORT" in r.stderr
    r = ofctl(br0, "add-flow", "br0", "reg0=1,actions=output:99", check=False)
    assert r.returncode != 0 and "OFPBAC_BAD_OUT_PORT" in r.stderr
    assert flows(br0) == []


def test_packet_out_through_the_datapath(bridge_daemon):  # noqa: F811 - the fixture
    """OFPT_PACKET_OUT in OpenFlow 1.0 (ovs-ofctl's default protocol), in both of
    ovs-ofctl's syntaxes: the 16-bit in_port and output ports (1.0's ALL, CONTROLLER)
    reach the datapath as the right ports; each port's pcap holds exactly its frames."""
    br = bridge_daemon(None, "secure")
    to_2_and_back, to_all, from_controller = frame(A, B, 7), frame(A, C, 8), frame(B, C, 9)
    assert sent(br.rundir, "packet-out", "br0", "1", "output:2,in_port",
                to_2_and_back.hex()).count("OFPT_PACKET_OUT") == 1
    ofctl(br.rundir, "packet-out", "br0",
          f"in_port=2 packet={to_all.hex()} actions=all")
    ofctl(br.rundir, "packet-out", "br0", "CONTROLLER", "output:3", from_controller.hex())
    assert wait_until(lambda: br.tx() == {1: 2, 2: 1, 3: 2}), br.tx()
    out = br.outputs()
    assert out == {1: [to_2_and_back, to_all], 2: [to_2_and_back],
                   3: [to_all, from_controller]}




def test_flow_removed_follows_the_flow_format() -> None:
    """OpenFlow 1.0 peers get OFPT_FLOW_REMOVED (ofp_match) or, after
    NXT_SET_FLOW_FORMAT(nxm), NXT_FLOW_REMOVED (nicira-ext.h)."""
    from ofproto.ofp.consts import OFP10
    from ofproto.switch import OFPort, OFSwitch

    sw = OFSwitch("br0", 0x42, clock=lambda: 10.0)
    sw.add_port(OFPort(1, "p1"))
    std, nxm = FakeConn(OFP10), FakeConn(OFP10)
    for conn in (std, nxm):
        sw.channel_up(conn)   # type: ignore[arg-type]
    req = NX.NXSetFlowFormat(xid=1, format=NX.NXFF_NXM)
    raw = req.encode()
    sw.handle_message(nxm, M.decode_message(raw), raw)   # type: ignore[arg-type]
    fm = NX.NXFlowMod(xid=2, priority=7, flags=1, idle_timeout=5,
                      match=oxm.Match(eth_type=0x86DD, reg0=(4, 0xF)),
                      actions=[NXActionRegLoad(0, 32, "reg1", 1)])
    raw = fm.encode()
    sw.handle_message(nxm, M.decode_message(raw), raw)   # type: ignore[arg-type]
    (rule,) = sw.pipeline.rules()
    assert rule.table_id == 0 and rule.priority == 7 and rule.flags == 1
    nx_msg = sw._flow_removed_msg(nxm, rule, 0)          # type: ignore[arg-type]
    back = NX.decode_nicira(M.decode_message(nx_msg.encode()))
    assert isinstance(back, NX.NXFlowRemoved)
    assert back.match == oxm.Match(eth_type=0x86DD, reg0=(4, 0xF))
    assert (back.priority, back.table_id, back.idle_timeout) == (7, 1, 5)
    std_msg = sw._flow_removed_msg(std, rule, 0)         # type: ignore[arg-type]
    back10 = M.decode_message(std_msg.encode())
    assert isinstance(back10, M.FlowRemoved10) and back10.priority == 7
    assert back10.match.dl_type == 0x86DD
