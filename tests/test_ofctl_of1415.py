"""Debian's ovs-ofctl with ``-O OpenFlow14`` and ``-O OpenFlow15`` against the switch.

Same set-up as tests/test_ofctl.py (the ``br0`` fixture: ports p1..p3, no datapath).
OpenFlow 1.4 changes port stats/desc (properties, spec 1.4.1 7.2.1, 7.3.5.7);
OpenFlow 1.5 additionally carries flow statistics as OXS fields (spec 1.5.1 7.2.4,
7.3.5.2, 7.3.5.4, 7.4.2) and group buckets with ids and properties (7.3.4.2), and
makes ``meter`` an action (7.2.6.11).  Each test parses ovs-ofctl's output.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from helpers.ofswitch import FakeConn, run_ofctl

from ofproto.ofp import consts, decode_message
from ofproto.ofp import messages14 as m14
from ofproto.ofp import messages15 as m15
from ofproto.ofp.actions import ActionOutput, InstructionApplyActions
from ofproto.ofp.messages import FlowMod
from ofproto.ofp.oxm import Match
from ofproto.switch import OFPort, OFSwitch

PROTOS = ("OpenFlow14", "OpenFlow15")
TAG = {"OpenFlow14": "OF1.4", "OpenFlow15": "OF1.5"}


@pytest.fixture(params=PROTOS)
def proto(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def ofctl(rundir: Path, proto: str, *args: str, check: bool = True):
    return run_ofctl(rundir, *args, proto=proto, check=check)


_STAT = re.compile(r"(\w+)=([^,\s]+)")


def flow_lines(rundir: Path, proto: str, *extra: str) -> list[str]:
    out = ofctl(rundir, proto, "dump-flows", "br0", *extra).stdout
    return [line.strip() for line in out.splitlines() if "actions=" in line]


def parse_flow(line: str) -> tuple[dict[str, str], str, str]:
    """(stats fields, match, actions) of one dump-flows line: the stats are the
    ``key=value,`` items before the match (ofp-flow.c ofputil_flow_stats_format)."""
    head, actions = line.split(" actions=", 1)
    parts = head.split(", ")
    stats = dict(_STAT.match(p).groups() for p in parts[:-1])  # type: ignore[union-attr]
    return stats, parts[-1], actions


# --- flows ----------------------------------------------------------------------------


def test_add_dump_flows_stats_fields(br0, proto):
    ofctl(br0, proto, "add-flow", "br0",
          "cookie=0x9,table=1,priority=100,importance=7,idle_timeout=60,hard_timeout=90,"
          "in_port=1,tcp,tp_dst=80,actions=output:2")
    ofctl(br0, proto, "add-flow", "br0", "priority=50,ip,nw_src=10.0.0.0/8,actions=output:3")
    out = ofctl(br0, proto, "--no-names", "dump-flows", "br0").stdout
    assert out.startswith(f"OFPST_FLOW reply ({TAG[proto]})"), out
    lines = [x.strip() for x in out.splitlines() if "actions=" in x]
    assert len(lines) == 2, out
    by_prio = {parse_flow(x)[1].split(",")[0]: parse_flow(x) for x in lines}
    stats, match, actions = by_prio["priority=100"]
    assert stats["cookie"] == "0x9" and stats["table"] == "1"
    assert stats["n_packets"] == "0" and stats["n_bytes"] == "0"
    assert re.fullmatch(r"\d+\.\d+s", stats["duration"]), stats
    assert stats["idle_timeout"] == "60" and stats["hard_timeout"] == "90"
    assert stats["importance"] == "7"          # 1.4+ only
    # OF1.5 carries the idle time as an OXS field; OF1.4 has none.
    assert ("idle_age" in stats) == (proto == "OpenFlow15"), stats
    assert match == "priority=100,tcp,in_port=1,tp_dst=80"
    assert actions == "output:2"
    stats, match, actions = by_prio["priority=50"]
    assert stats["table"] == "0" and match == "priority=50,ip,nw_src=10.0.0.0/8"
    assert actions == "output:3"
    # with port and table names
    named = flow_lines(br0, proto, "--names")
    assert any("in_port=p1" in x and "actions=output:p2" in x for x in named), named
    assert any("table=table1" in x for x in named), named


def test_dump_flows_filters(br0, proto):
    for i in range(1, 4):
        ofctl(br0, proto, "add-flow", "br0",
              f"cookie={i:#x},priority={i},in_port={i},actions=drop")
    assert len(flow_lines(br0, proto, "in_port=2")) == 1
    assert len(flow_lines(br0, proto, "cookie=0x3/-1")) == 1
    assert flow_lines(br0, proto, "table=5") == []


def test_add_flows_file_aggregate_tables_mod_del(br0, proto, tmp_path):
    spec = tmp_path / "flows.txt"
    spec.write_text("".join(f"priority={i},udp,tp_src={i},actions=output:2\n"
                            for i in range(1, 61)))
    ofctl(br0, proto, "add-flows", "br0", str(spec))
    assert len(flow_lines(br0, proto)) == 60
    agg = ofctl(br0, proto, "dump-aggregate", "br0").stdout
    assert re.search(rf"OFPST_AGGREGATE reply \({TAG[proto]}\).*packet_count=0 "
                     r"byte_count=0 flow_count=60", agg), agg
    agg = ofctl(br0, proto, "dump-aggregate", "br0", "udp,tp_src=7").stdout
    assert "flow_count=1" in agg, agg
    tables = ofctl(br0, proto, "dump-tables", "br0").stdout
    assert tables.startswith(f"OFPST_TABLE reply ({TAG[proto]})")
    assert re.search(r"table 0:\s*\n\s*active=60, lookup=0, matched=0", tables), tables
    ofctl(br0, proto, "mod-flows", "br0", "udp,tp_src=5,actions=output:3")
    changed = [parse_flow(x) for x in flow_lines(br0, proto, "--no-names", "udp,tp_src=5")]
    assert [a for _, _, a in changed] == ["output:3"]
    ofctl(br0, proto, "--strict", "mod-flows", "br0", "priority=6,udp,tp_src=6,actions=drop")
    assert [parse_flow(x)[2] for x in flow_lines(br0, proto, "udp,tp_src=6")] == ["drop"]
    ofctl(br0, proto, "del-flows", "br0", "udp,tp_src=7")
    assert len(flow_lines(br0, proto)) == 59
    ofctl(br0, proto, "--strict", "del-flows", "br0", "priority=8,udp,tp_src=8")
    ofctl(br0, proto, "--strict", "del-flows", "br0", "priority=99,udp,tp_src=9")  # no match
    assert len(flow_lines(br0, proto)) == 58
    ofctl(br0, proto, "del-flows", "br0")
    assert flow_lines(br0, proto) == []
    assert "flow_count=0" in ofctl(br0, proto, "dump-aggregate", "br0").stdout


def test_bad_flow_refused(br0, proto):
    r = ofctl(br0, proto, "add-flow", "br0", "in_port=1,actions=output:99", check=False)
    assert r.returncode != 0 and "OFPBAC_BAD_OUT_PORT" in r.stderr
    assert flow_lines(br0, proto) == []


# --- ports ----------------------------------------------------------------------------


def test_dump_ports(br0, proto):
    out = ofctl(br0, proto, "dump-ports", "br0").stdout
    assert out.startswith(f"OFPST_PORT reply ({TAG[proto]})"), out
    assert "3 ports" in out.splitlines()[0]
    for i in (1, 2, 3):
        assert re.search(rf"port  {i}: rx pkts=0, bytes=0, drop=0, errs=0, frame=0, "
                         r"over=0, crc=0\n\s+tx pkts=0, bytes=0, drop=0, errs=0, coll=0",
                         out), out
    one = ofctl(br0, proto, "dump-ports", "br0", "2").stdout
    assert "1 ports" in one and "port  2:" in one and "port  1:" not in one
    r = ofctl(br0, proto, "dump-ports", "br0", "9", check=False)
    assert "OFPBRC_BAD_PORT" in r.stdout + r.stderr


def test_dump_ports_desc_and_show(br0, proto):
    desc = ofctl(br0, proto, "dump-ports-desc", "br0").stdout
    assert desc.startswith(f"OFPST_PORT_DESC reply ({TAG[proto]})"), desc
    for i in (1, 2, 3):
        assert re.search(rf"\b{i}\(p{i}\): addr:02:00:00:00:00:0{i}\n\s+config:\s+0\n"
                         r"\s+state:\s+0\n\s+speed: 10000 Mbps now, 10000 Mbps max", desc), desc
    show = ofctl(br0, proto, "show", "br0").stdout
    assert f"OFPT_FEATURES_REPLY ({TAG[proto]})" in show and "dpid:0000000000000042" in show
    assert show.count("addr:02:00:00:00:00:0") == 3


def test_queues_and_table_desc(br0, proto):
    assert "0 queues" in ofctl(br0, proto, "queue-stats", "br0").stdout
    assert "OFPST_QUEUE_DESC reply" in ofctl(br0, proto, "queue-get-config", "br0",
                                             "1").stdout
    out = ofctl(br0, proto, "dump-table-desc", "br0").stdout
    assert re.search(r"table 0:\s*\n\s*eviction=off", out), out


# --- groups and meters ------------------------------------------------------------------


def _groups(rundir: Path, proto: str, *extra: str) -> list[str]:
    out = ofctl(rundir, proto, "--no-names", "dump-groups", "br0", *extra).stdout
    assert out.startswith(f"OFPST_GROUP_DESC reply ({TAG[proto]})"), out
    return sorted(x.strip() for x in out.splitlines()[1:] if x.strip())


def test_groups(br0, proto):
    ofctl(br0, proto, "add-group", "br0", "group_id=1,type=all,bucket=output:2,bucket=output:3")
    ofctl(br0, proto, "add-group", "br0",
          "group_id=2,type=select,bucket=output:1,bucket=weight:5,output:2")
    ofctl(br0, proto, "add-group", "br0", "group_id=3,type=ff,bucket=watch_port:1,output:1")
    got = _groups(br0, proto)
    if proto == "OpenFlow15":
        assert got == [
            "group_id=1,type=all,bucket=bucket_id:0,actions=output:2,"
            "bucket=bucket_id:1,actions=output:3",
            "group_id=2,type=select,bucket=bucket_id:0,actions=output:1,"
            "bucket=bucket_id:1,weight:5,actions=output:2",
            "group_id=3,type=ff,bucket=bucket_id:0,watch_port:1,actions=output:1"], got
        assert _groups(br0, proto, "2") == [got[1]]
    else:
        assert got == [
            "group_id=1,type=all,bucket=actions=output:2,bucket=actions=output:3",
            "group_id=2,type=select,bucket=actions=output:1,bucket=weight:5,actions=output:2",
            "group_id=3,type=ff,bucket=watch_port:1,actions=output:1"], got
    stats = ofctl(br0, proto, "dump-group-stats", "br0").stdout
    assert stats.startswith(f"OFPST_GROUP reply ({TAG[proto]})"), stats
    assert re.search(r"group_id=2,duration=[0-9.]+s,ref_count=0,packet_count=0,byte_count=0,"
                     r"bucket0:packet_count=0,byte_count=0,bucket1:packet_count=0", stats)
    ofctl(br0, proto, "add-flow", "br0", "in_port=1,actions=group:1")
    assert "ref_count=1" in ofctl(br0, proto, "dump-group-stats", "br0", "group_id=1").stdout
    ofctl(br0, proto, "mod-group", "br0", "group_id=1,type=all,bucket=output:3")
    assert any(g.startswith("group_id=1,") and g.endswith("actions=output:3") and
               "output:2" not in g for g in _groups(br0, proto))
    r = ofctl(br0, proto, "add-group", "br0", "group_id=1,type=all,bucket=output:2",
              check=False)
    assert r.returncode != 0 and "OFPGMFC_GROUP_EXISTS" in r.stderr
    ofctl(br0, proto, "del-groups", "br0", "group_id=1")
    assert flow_lines(br0, proto) == []          # the flow using group 1 went with it
    assert len(_groups(br0, proto)) == 2
    ofctl(br0, proto, "del-groups", "br0")
    assert _groups(br0, proto) == []


def test_of15_insert_remove_buckets(br0):
    p = "OpenFlow15"
    ofctl(br0, p, "add-group", "br0",
          "group_id=5,type=all,bucket=bucket_id:10,output:1,bucket=bucket_id:20,output:2")
    ofctl(br0, p, "insert-buckets", "br0",
          "group_id=5,command_bucket_id=10,bucket=bucket_id:15,output:3")
    assert _groups(br0, p) == [
        "group_id=5,type=all,bucket=bucket_id:10,actions=output:1,"
        "bucket=bucket_id:15,actions=output:3,bucket=bucket_id:20,actions=output:2"]
    ofctl(br0, p, "insert-buckets", "br0",
          "group_id=5,command_bucket_id=first,bucket=bucket_id:1,output:2")
    ofctl(br0, p, "remove-buckets", "br0", "group_id=5,command_bucket_id=last")
    ofctl(br0, p, "remove-buckets", "br0", "group_id=5,command_bucket_id=10")
    assert _groups(br0, p) == ["group_id=5,type=all,bucket=bucket_id:1,actions=output:2,"
                               "bucket=bucket_id:15,actions=output:3"]
    r = ofctl(br0, p, "insert-buckets", "br0",
              "group_id=5,command_bucket_id=99,bucket=bucket_id:16,output:3", check=False)
    assert r.returncode != 0 and "OFPGMFC_UNKNOWN_BUCKET" in r.stderr
    r = ofctl(br0, p, "insert-buckets", "br0",
              "group_id=5,command_bucket_id=last,bucket=bucket_id:15,output:1", check=False)
    assert r.returncode != 0 and "OFPGMFC_BUCKET_EXISTS" in r.stderr
    # the group in OpenFlow 1.3 terms: the same buckets without ids
    out = run_ofctl(br0, "dump-groups", "br0", proto="OpenFlow13").stdout
    assert "group_id=5,type=all,bucket=actions=output:2,bucket=actions=output:3" in out


def test_meters(br0, proto):
    ofctl(br0, proto, "add-meter", "br0", "meter=1,kbps,band=type=drop,rate=1000")
    ofctl(br0, proto, "add-meter", "br0", "meter=2,pktps,burst,stats,band=type=drop,rate=50,"
          "burst_size=10")
    out = ofctl(br0, proto, "dump-meters", "br0").stdout
    assert out.startswith(f"OFPST_METER_CONFIG reply ({TAG[proto]})"), out
    assert re.search(r"meter=1 kbps bands=\s*\n\s*type=drop rate=1000", out), out
    assert re.search(r"meter=2 pktps burst stats bands=\s*\n\s*type=drop rate=50 "
                     r"burst_size=10", out), out
    ofctl(br0, proto, "add-group", "br0", "group_id=1,type=all,bucket=output:2")
    ofctl(br0, proto, "add-flow", "br0", "in_port=1,actions=meter:1,group:1")
    assert [parse_flow(x)[2] for x in flow_lines(br0, proto, "--no-names")] == [
        "meter:1,group:1"]
    stats = ofctl(br0, proto, "meter-stats", "br0", "meter=1").stdout
    assert re.search(r"meter:1 flow_count:1 packet_in_count:0 byte_in_count:0", stats), stats
    ofctl(br0, proto, "del-meter", "br0", "meter=1")
    assert flow_lines(br0, proto) == []           # the flow using meter 1 went with it
    assert "meter=1" not in ofctl(br0, proto, "dump-meters", "br0").stdout


def test_cross_version_meter_and_buckets(br0):
    """A meter set as an OF1.5 action reads back as the OF1.3 instruction and vice
    versa; groups set over OF1.3 have bucket ids 0, 1, ... in OF1.5."""
    ofctl(br0, "OpenFlow13", "add-meter", "br0", "meter=1,kbps,band=type=drop,rate=1000")
    ofctl(br0, "OpenFlow15", "add-flow", "br0", "priority=2,in_port=1,actions=meter:1,output:2")
    ofctl(br0, "OpenFlow13", "add-flow", "br0", "priority=3,in_port=2,actions=meter:1,output:1")
    for p in ("OpenFlow13", "OpenFlow14", "OpenFlow15"):
        acts = sorted(parse_flow(x)[2] for x in flow_lines(br0, p, "--no-names"))
        assert acts == ["meter:1,output:1", "meter:1,output:2"], (p, acts)
    ofctl(br0, "OpenFlow13", "add-group", "br0", "group_id=7,type=all,bucket=output:1,"
          "bucket=output:2")
    assert _groups(br0, "OpenFlow15") == [
        "group_id=7,type=all,bucket=bucket_id:0,actions=output:1,"
        "bucket=bucket_id:1,actions=output:2"]


# --- asynchronous messages, straight from the switch -------------------------------------


class _ConnMgr:
    """Sends every asynchronous message to the connections it holds."""

    def __init__(self, *conns: FakeConn) -> None:
        self.conns = conns

    def send_async(self, kind: str, reason: int, factory) -> None:
        for c in self.conns:
            c.send(factory(c))


def test_flow_removed_and_port_status_versions() -> None:
    now = [100.0]
    sw = OFSwitch("br0", 0x42, clock=lambda: now[0])
    c14, c15 = FakeConn(consts.OFP14), FakeConn(consts.OFP15)
    sw.connmgr = _ConnMgr(c14, c15)
    sw.add_port(OFPort(1, "p1", hw_addr=0x020000000001))
    sw.add_port(OFPort(2, "p2", hw_addr=0x020000000002))
    for c in (c14, c15):
        ps = [decode_message(x.encode()) for x in c.sent]
        assert [type(x) for x in ps] == [m14.PortStatus14] * 2
        assert ps[1].desc.name == "p2" and ps[1].reason == consts.OFPPortReason.OFPPR_ADD
        assert ps[1].desc.properties[0].type == 0          # OFPPDPT_ETHERNET
        c.sent.clear()
    fm = FlowMod(version=consts.OFP15, cookie=5, priority=3, idle_timeout=9,
                 flags=consts.OFPFlowModFlags.OFPFF_SEND_FLOW_REM, match=Match(in_port=1),
                 instructions=[InstructionApplyActions([ActionOutput(2)])])
    sw.handle_message(c15, fm, fm.encode())
    now[0] = 112.5
    sw.expire()
    fr15 = decode_message(c15.sent[-1].encode())
    assert isinstance(fr15, m15.FlowRemoved15)
    assert (fr15.cookie, fr15.priority, fr15.idle_timeout, fr15.reason) == (
        5, 3, 9, consts.OFPFlowRemovedReason.OFPRR_IDLE_TIMEOUT)
    assert fr15.match == Match(in_port=1)
    assert fr15.stats.duration == (12, 500_000_000)
    assert fr15.stats.get("packet_count") == 0 and fr15.stats.get("byte_count") == 0
    fr14 = decode_message(c14.sent[-1].encode())
    assert type(fr14).__name__ == "FlowRemoved" and fr14.version == consts.OFP14
    assert (fr14.duration_sec, fr14.cookie) == (12, 5)
    sw.del_port(2)
    assert isinstance(c15.sent[-1], m14.PortStatus14)
    assert c15.sent[-1].reason == consts.OFPPortReason.OFPPR_DELETE
