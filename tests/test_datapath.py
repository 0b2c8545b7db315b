"""The userspace datapath end to end on real DPDK virtual devices.

Packets built with scapy enter through net_pcap ports (or ``execute``) and leave
through net_pcap ports whose files scapy reads back; expected output is computed with
scapy from the input. DPDK runs in this process (--no-huge, its own --file-prefix), one
PMD thread on the second CPU; idle PMDs sleep so the rest of the suite keeps its CPU.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from scapy.all import ARP, IP, TCP, UDP, Dot1Q, Ether, IPv6, raw, rdpcap, wrpcap

from appliance.dpif import DpifError, Execute, FlowPut
from appliance.dpif.netdev import NetdevDpif
from appliance.dpif.odp import FlowKey, format_actions, parse_actions

MAC1, MAC2 = "00:00:00:00:00:01", "00:00:00:00:00:02"


_ufid_counter = [0]


def ufid() -> bytes:
    _ufid_counter[0] += 1
    return _ufid_counter[0].to_bytes(16, "little")


def in_port_flow(in_port: int, actions: str, **key_fields) -> FlowPut:
    """A megaflow matching in_port and recirc_id 0 (as every OVS megaflow matches
    recirc_id), and exactly the given key fields."""
    key = FlowKey(in_port=in_port, **key_fields)
    mask = FlowKey.from_ints({"in_port": 0xFFFFFFFF, "recirc_id": 0xFFFFFFFF,
                              **{f: (1 << 128) - 1 for f in key_fields}}) & FlowKey.exact()
    return FlowPut(ufid(), key, mask, parse_actions(actions))


def run_pcap(dp: NetdevDpif, tmp: Path, packets, flows, out_ports=(2,), wait=0.5):
    """Installs ``flows``, plays ``packets`` into port 1 from a pcap file, and returns
    what each of ``out_ports`` transmitted (read back from their pcap files)."""
    assert all(r is None for r in dp.flow_put(flows))
    outs = {}
    for p in out_ports:
        outs[p] = tmp / f"out{p}.pcap"
        dp.port_add(f"tx{p}", "dpdk", {"dpdk-devargs": f"net_pcap_tx{p},tx_pcap={outs[p]}"},
                    port_no=p)
    src = tmp / "in.pcap"
    wrpcap(str(src), packets)
    dp.port_add("rx1", "dpdk", {"dpdk-devargs": f"net_pcap_rx1,rx_pcap={src}"}, port_no=1)
    time.sleep(wait)
    for p in [1, *out_ports]:
        dp.port_del(p)   # closing a pcap port flushes its file
    return {p: [raw(x) for x in rdpcap(str(f))] if f.stat().st_size > 24 else []
            for p, f in outs.items()}


def udp_packets(n=8):
    return [Ether(src=MAC1, dst=MAC2) / IP(src="10.0.0.1", dst="10.0.0.2")
            / UDP(sport=1000 + i, dport=53) / (b"p" * 20) for i in range(n)]


def test_ports_and_bad_devargs(clean, tmp_path):
    dp = clean
    n = dp.port_add("null0", "dpdk", {"dpdk-devargs": "net_null_t0,no-rx=1"})
    info = dp.port_info(n)
    assert info.n_rxq == 1 and info.driver == "net_null"
    with pytest.raises(DpifError) as e:
        dp.port_add("bad", "dpdk", {"dpdk-devargs": "net_nosuchdriver0,x=1"})
    assert "net_nosuchdriver0" in str(e.value)
    with pytest.raises(DpifError) as e:
        dp.port_add("null0", "dpdk", {"dpdk-devargs": "net_null_t1"})
    assert e.value.name == "EEXIST"
    with pytest.raises(DpifError):
        dp.port_add("nodevargs", "dpdk", {})
    with pytest.raises(DpifError) as e:
        dp.port_del(999)
    assert e.value.name == "ENOENT"
    assert [p.name for p in dp.port_dump()] == ["null0"]


def test_miss_upcalls_carry_key_and_packet(clean, tmp_path):
    dp = clean
    pkts = udp_packets(4)
    out = run_pcap(dp, tmp_path, pkts, [], out_ports=())
    assert out == {}
    ups = []
    deadline = time.monotonic() + 2
    while len(ups) < 4 and time.monotonic() < deadline:
        ups += dp.recv_upcalls()
    assert len(ups) == 4
    for u, p in zip(ups, pkts, strict=True):
        assert u.kind == "miss" and u.packet == raw(p)
        assert u.key.in_port == 1 and u.key.eth_type == 0x0800
        assert str(u.key.ipv4_src) == "10.0.0.1" and u.key.nw_proto == 17
        assert u.key.tp_src == p[UDP].sport and u.key.tp_dst == 53
    stats = dp.pmd_stats()[0]
    assert stats.misses >= 4


def test_output_forwarding_and_flow_stats(clean, tmp_path):
    dp = clean
    pkts = udp_packets(16)
    flow = in_port_flow(1, "2")
    out = run_pcap(dp, tmp_path, pkts, [flow])
    assert out[2] == [raw(p) for p in pkts]
    # The flow stays installed after its ports went away; its counters are the packets.
    got = dp.flow_get(flow.ufid)
    assert got.stats.packets == 16 and got.stats.bytes == sum(len(p) for p in pkts)
    assert got.stats.used > 0
    assert format_actions(got.actions) == format_actions(flow.actions) == "2"
    dumped = [f for f in dp.flow_dump() if f.ufid == flow.ufid]
    assert len(dumped) == 1 and dumped[0].mask.in_port == 0xFFFFFFFF
    final = dp.flow_del(flow.ufid)
    assert final.packets == 16
    with pytest.raises(DpifError):
        dp.flow_get(flow.ufid)


def test_megaflow_selects_by_masked_fields(clean, tmp_path):
    dp = clean
    pkts = udp_packets(6)
    # Even source ports to port 2, odd ones to port 3: a mask on tp_src's low bit.
    even = FlowPut(ufid(), FlowKey(in_port=1, eth_type=0x0800, tp_src=0),
                   FlowKey(in_port=0xFFFFFFFF, eth_type=0xFFFF, tp_src=1), parse_actions("2"))
    odd = FlowPut(ufid(), FlowKey(in_port=1, eth_type=0x0800, tp_src=1),
                  FlowKey(in_port=0xFFFFFFFF, eth_type=0xFFFF, tp_src=1), parse_actions("3"))
    out = run_pcap(dp, tmp_path, pkts, [even, odd], out_ports=(2, 3))
    assert out[2] == [raw(p) for p in pkts if p[UDP].sport % 2 == 0]
    assert out[3] == [raw(p) for p in pkts if p[UDP].sport % 2 == 1]


def test_vlan_push_pop_and_set(clean, tmp_path):
    dp = clean
    pkts = udp_packets(3)
    flow = in_port_flow(1, "push_vlan(vid=10,pcp=3),2,pop_vlan,"
                           "set(eth(src=00:00:00:00:00:aa,dst=00:00:00:00:00:bb)),"
                           "set(ipv4(src=192.168.1.1,dst=192.168.1.2,tos=0,ttl=9)),"
                           "set(udp(src=7,dst=8)),3")
    out = run_pcap(dp, tmp_path, pkts, [flow], out_ports=(2, 3))
    for p, tagged, rewritten in zip(pkts, out[2], out[3], strict=True):
        t = Ether(tagged)
        assert t[Dot1Q].vlan == 10 and t[Dot1Q].prio == 3 and t[Dot1Q].type == 0x0800
        assert raw(t[IP]) == raw(p[IP])
        r = Ether(rewritten)
        assert r.src == "00:00:00:00:00:aa" and r.dst == "00:00:00:00:00:bb"
        assert (r[IP].src, r[IP].dst, r[IP].ttl) == ("192.168.1.1", "192.168.1.2", 9)
        assert (r[UDP].sport, r[UDP].dport) == (7, 8)
        assert r[UDP].load == p[UDP].load
        # Checksums are right: scapy recomputes them from the rewritten fields.
        expect = r.copy()
        del expect[IP].chksum
        del expect[UDP].chksum
        assert raw(Ether(raw(expect))) == rewritten


def test_set_tcp_ipv6_and_masked(clean, tmp_path):
    dp = clean
    pkts = [Ether(src=MAC1, dst=MAC2) / IPv6(src="2001:db8::1", dst="2001:db8::2", hlim=64)
            / TCP(sport=1234, dport=80, flags="S") / b"hello"]
    flow = in_port_flow(1, "set(ipv6(dst=2001:db8::99,hlimit=5)),set(tcp(src=4321,dst=8080)),"
                           "set(eth(src=00:00:00:00:00:01/ff:ff:ff:ff:ff:00)),2")
    out = run_pcap(dp, tmp_path, pkts, [flow])
    r = Ether(out[2][0])
    assert r[IPv6].dst == "2001:db8::99" and r[IPv6].hlim == 5
    assert (r[TCP].sport, r[TCP].dport) == (4321, 8080)
    expect = r.copy()
    del expect[TCP].chksum
    assert raw(Ether(raw(expect))) == out[2][0]


def test_clone_trunc_drop_userspace(clean, tmp_path):
    dp = clean
    pkts = udp_packets(2)
    flow = in_port_flow(1, "clone(set(eth(src=00:00:00:00:00:cc,dst=00:00:00:00:00:dd)),3),"
                           "userspace(pid=0,userdata(0102030405060708)),trunc(20),2")
    out = run_pcap(dp, tmp_path, pkts, [flow], out_ports=(2, 3))
    assert out[2] == [raw(p)[:20] for p in pkts]
    assert [Ether(x).src for x in out[3]] == ["00:00:00:00:00:cc"] * 2
    ups = dp.recv_upcalls()
    assert [u.kind for u in ups] == ["action", "action"]
    assert all(u.cookie == bytes.fromhex("0102030405060708") for u in ups)
    assert [u.packet for u in ups] == [raw(p) for p in pkts]
    # An explicit drop transmits nothing.
    dp.flow_flush()
    dropped = in_port_flow(1, "drop")
    assert run_pcap(dp, tmp_path, pkts, [dropped]) == {2: []}


def test_recirc_and_hash(clean, tmp_path):
    dp = clean
    pkts = udp_packets(2)
    first = in_port_flow(1, "hash(l4(0)),recirc(0x5)")
    second = FlowPut(ufid(), FlowKey(in_port=1, recirc_id=5),
                     FlowKey(in_port=0xFFFFFFFF, recirc_id=0xFFFFFFFF), parse_actions("2"))
    out = run_pcap(dp, tmp_path, pkts, [first, second])
    assert out[2] == [raw(p) for p in pkts]
    assert dp.flow_get(second.ufid).stats.packets == 2


def test_execute_from_python(clean, tmp_path):
    dp = clean
    out = tmp_path / "exec.pcap"
    dp.port_add("tx2", "dpdk", {"dpdk-devargs": f"net_pcap_ex2,tx_pcap={out}"}, port_no=2)
    arp = Ether(src=MAC1, dst="ff:ff:ff:ff:ff:ff") / ARP(psrc="10.0.0.1", pdst="10.0.0.2")
    dp.execute(raw(arp), 7, parse_actions("push_vlan(vid=5,pcp=0),2"))
    dp.port_del(2)
    got = [Ether(raw(x)) for x in rdpcap(str(out))]
    assert len(got) == 1 and got[0][Dot1Q].vlan == 5 and got[0][ARP].pdst == "10.0.0.2"


def test_execute_batch_from_python(clean, tmp_path):
    dp = clean
    out = tmp_path / "batch.pcap"
    dp.port_add("tx2", "dpdk", {"dpdk-devargs": f"net_pcap_eb2,tx_pcap={out}"}, port_no=2)
    pkts = [Ether(src=MAC1, dst=MAC2) / IP(src="10.0.0.1", dst=f"10.0.0.{i}") / UDP()
            for i in (2, 3)]
    results = dp.execute_batch([
        Execute(raw(pkts[0]), 7, parse_actions("2")),
        Execute(bytes(70000), 7, parse_actions("2")),   # longer than an mbuf can hold
        Execute(raw(pkts[1]), 7, parse_actions("push_vlan(vid=5,pcp=0),2"), pmd=0)])
    dp.port_del(2)
    assert results[0] is None and results[2] is None
    assert results[1] is not None and results[1].name == "EMSGSIZE"
    got = [Ether(raw(x)) for x in rdpcap(str(out))]
    assert [g[IP].dst for g in got] == ["10.0.0.2", "10.0.0.3"]
    assert Dot1Q not in got[0] and got[1][Dot1Q].vlan == 5


def test_bad_flows_are_rejected(clean):
    dp = clean
    good = in_port_flow(1, "2")
    assert dp.flow_put([good]) == [None]
    dup = FlowPut(good.ufid, good.key, good.mask, good.actions)
    err = dp.flow_put([dup])[0]
    assert err is not None and err.name == "EEXIST"
    modify = FlowPut(good.ufid, good.key, good.mask, parse_actions("3"), create=False,
                     modify=True)
    assert dp.flow_put([modify]) == [None]
    assert format_actions(dp.flow_get(good.ufid).actions) == "3"
    wildcard_port = FlowPut(ufid(), FlowKey(), FlowKey(), parse_actions("2"))
    err = dp.flow_put([wildcard_port])[0]
    assert err is not None and err.name == "EINVAL"
    missing = FlowPut(ufid(), good.key, good.mask, good.actions, create=False, modify=True)
    assert dp.flow_put([missing])[0].name == "ENOENT"
    with pytest.raises(DpifError):
        dp.flow_del(b"\xff" * 16)


def test_idle_flows_expire_and_pmd_stats_text(clean, tmp_path):
    dp = clean
    pkts = udp_packets(3)
    busy = in_port_flow(1, "2")
    idle = in_port_flow(5, "2")
    run_pcap(dp, tmp_path, pkts, [busy, idle])
    time.sleep(0.05)
    assert dp.expire_idle(60_000) == []
    expired = dp.expire_idle(0)
    assert {f.ufid for f in expired} == {busy.ufid, idle.ufid}
    assert {f.ufid: f.stats.packets for f in expired} == {busy.ufid: 3, idle.ufid: 0}
    assert list(dp.flow_dump()) == []
    text = dp.format_pmd_stats()
    assert text.startswith("pmd thread numa_id 0 core_id ")
    assert "  megaflow hits: " in text and "  emc hits: " in text


def test_port_and_queue_counters(clean, tmp_path):
    dp = clean
    pkts = udp_packets(5)
    assert dp.flow_put([in_port_flow(1, "2")]) == [None]
    out = tmp_path / "q.pcap"
    src = tmp_path / "q_in.pcap"
    wrpcap(str(src), pkts)
    dp.port_add("tx2", "dpdk", {"dpdk-devargs": f"net_pcap_q2,tx_pcap={out}"}, port_no=2)
    dp.port_add("rx1", "dpdk", {"dpdk-devargs": f"net_pcap_q1,rx_pcap={src}"}, port_no=1)
    deadline = time.monotonic() + 2
    while dp.port_stats(2).tx_packets < 5 and time.monotonic() < deadline:
        time.sleep(0.05)
    rx, tx = dp.port_stats(1), dp.port_stats(2)
    assert rx.rx_packets == 5 and rx.rx_bytes == sum(len(p) for p in pkts)
    assert tx.tx_packets == 5 and sum(tx.txq_packets) == 5
    assert rx.rxq_packets == [5]


def test_full_upcall_queue_drops_and_counts(clean, tmp_path):
    """More misses than the upcall pool holds: the excess is dropped and counted as lost,
    and every mbuf comes back (the clean fixture checks)."""
    dp = clean
    before = dp.pmd_stats()[0]
    pkts = udp_packets(1500)
    run_pcap(dp, tmp_path, pkts, [], out_ports=(), wait=1.0)
    after = dp.pmd_stats()[0]
    lost = after.lost - before.lost
    queued = after.misses - before.misses
    assert lost > 0 and queued + lost == 1500
    got = []
    while True:
        batch = dp.recv_upcalls()
        if not batch:
            break
        got += batch
    assert len(got) == queued


def test_simple_match_on_ethertype_vlan_and_fragments(clean, tmp_path):
    """OVS's "simple match" megaflow shape (in_port, eth_type, vlan_tci, frag bits; one
    output) takes the fast path; whatever it does not decide (a fragment, VLAN-tagged
    or IPv6 frames, ARP with no flow) goes through the full lookup or misses."""
    dp = clean
    ip = FlowPut(ufid(), FlowKey(in_port=1, eth_type=0x0800, vlan_tci=0, nw_frag=0),
                 FlowKey(in_port=0xFFFFFFFF, recirc_id=0xFFFFFFFF, eth_type=0xFFFF,
                         vlan_tci=0xFFFF, nw_frag=0xFF), parse_actions("2"))
    frag = FlowPut(ufid(), FlowKey(in_port=1, eth_type=0x0800, vlan_tci=0, nw_frag=1),
                   FlowKey(in_port=0xFFFFFFFF, recirc_id=0xFFFFFFFF, eth_type=0xFFFF,
                           vlan_tci=0xFFFF, nw_frag=0xFF), parse_actions("3"))
    v6 = FlowPut(ufid(), FlowKey(in_port=1, eth_type=0x86DD),
                 FlowKey(in_port=0xFFFFFFFF, recirc_id=0xFFFFFFFF, eth_type=0xFFFF),
                 parse_actions("3"))
    tagged = Ether(src=MAC1, dst=MAC2) / Dot1Q(vlan=5) / IP(src="10.0.0.1", dst="10.0.0.2") \
        / UDP(sport=9, dport=9)
    first_frag = Ether(src=MAC1, dst=MAC2) / IP(src="10.0.0.1", dst="10.0.0.2", flags="MF") \
        / UDP(sport=9, dport=9) / (b"f" * 16)
    v6pkt = Ether(src=MAC1, dst=MAC2) / IPv6(src="2001:db8::1", dst="2001:db8::2") / UDP()
    arp = Ether(src=MAC1, dst="ff:ff:ff:ff:ff:ff") / ARP(psrc="10.0.0.1", pdst="10.0.0.2")
    plain = udp_packets(4)
    pkts = [*plain, first_frag, tagged, v6pkt, arp]
    out = run_pcap(dp, tmp_path, pkts, [ip, frag, v6], out_ports=(2, 3))
    assert out[2] == [raw(p) for p in plain]
    assert out[3] == [raw(first_frag), raw(v6pkt)]
    ups = []
    deadline = time.monotonic() + 2
    while len(ups) < 2 and time.monotonic() < deadline:
        ups += dp.recv_upcalls()
    assert sorted(u.packet for u in ups) == sorted([raw(tagged), raw(arp)])
    flows = {f.ufid: f.stats.packets for f in dp.flow_dump()}
    assert (flows[ip.ufid], flows[frag.ufid], flows[v6.ufid]) == (4, 1, 1)


def test_simple_match_on_ethernet_addresses(clean, tmp_path):
    """NORMAL's megaflow shape (Ethernet addresses, EtherType, fragment bits) also takes
    the simple path; another source address misses."""
    dp = clean
    mask = FlowKey(in_port=0xFFFFFFFF, recirc_id=0xFFFFFFFF, eth_src="ff:ff:ff:ff:ff:ff",
                   eth_dst="ff:ff:ff:ff:ff:ff", eth_type=0xFFFF, vlan_tci=0x1FFF,
                   nw_frag=0xFF)
    l2 = FlowPut(ufid(), FlowKey(in_port=1, eth_src=MAC1, eth_dst=MAC2, eth_type=0x0800),
                 mask, parse_actions("2"))
    plain = udp_packets(3)
    other = Ether(src="00:00:00:00:00:07", dst=MAC2) / IP(src="10.0.0.7", dst="10.0.0.2") \
        / UDP(sport=7, dport=7)
    tagged = Ether(src=MAC1, dst=MAC2) / Dot1Q(vlan=3) / IP(src="10.0.0.1", dst="10.0.0.2") \
        / UDP(sport=8, dport=8)
    out = run_pcap(dp, tmp_path, [*plain, other, tagged], [l2], out_ports=(2,))
    assert out[2] == [raw(p) for p in plain]
    ups = []
    deadline = time.monotonic() + 2
    while len(ups) < 2 and time.monotonic() < deadline:
        ups += dp.recv_upcalls()
    assert [u.packet for u in ups] == [raw(other), raw(tagged)]
    assert next(f for f in dp.flow_dump() if f.ufid == l2.ufid).stats.packets == 3


def test_new_af_packet_port_receives_only_its_own_frames(clean):
    """net_af_packet binds each queue's socket to its interface only after setting up
    its ring, so frames other interfaces carry meanwhile can sit in the new port's
    ring; they must not be taken as received on it (NORMAL would learn their senders
    behind it)."""
    import subprocess
    import sys

    from appliance.netns import Host

    dp = clean
    tag = f"vtd{time.monotonic_ns() % 100000}"
    busy, quiet = Host(f"{tag}a", "10.77.0.1"), Host(f"{tag}b", "10.77.1.1")
    # Frames sent out of the busy interface as fast as a raw socket can.
    blaster = subprocess.Popen([sys.executable, "-c", (
        "import socket\n"
        "s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)\n"
        f"s.bind(({busy.name!r}, 0))\n"
        "f = bytes.fromhex('020000000001020000000002' '0800') + bytes(46)\n"
        "while True:\n"
        "    s.send(f)\n")])
    try:
        time.sleep(0.2)
        for _ in range(8):
            n = dp.port_add(quiet.name, "system", {})
            time.sleep(0.05)
            # Nothing runs on the quiet host (IPv6 is off): no frame is its own.
            assert dp.port_stats(n).rx_packets == 0
            dp.port_del(n)
    finally:
        blaster.kill()
        blaster.wait()
        busy.remove()
        quiet.remove()
