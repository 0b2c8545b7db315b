"""The "ours" arm of bench/datapath_bench.py, run as its own process (EAL initialises
once per process).

It initialises our datapath with the EAL options OVS-DPDK gets in DESIGN.md section 4,
adds the net_null sink (port 2), installs the megaflows OVS installs for the pipeline,
adds the net_pcap source (port 1) last, warms up, and measures transmitted packets and
PMD counters over the window.  Per pipeline and run the pcap port is re-added (a fresh
vdev name) after a flow flush, as the OVS arm does.

Input: one JSON object on the command line (see ``main``).  Output: one JSON object on
stdout, ``{"a": [run, ...], "c": [...], "masks": {...}}``; each run has mpps,
cyc_per_pkt, and the per-PMD counter deltas of the window.

Megaflows (what ofproto would install for the same OpenFlow tables):

* ``a`` (``in_port=1,actions=output:2``): one megaflow matching in_port and recirc_id;
* ``c`` (one exact ``udp,in_port,nw_src,nw_dst,tp_src,tp_dst`` rule per flow): one
  megaflow per flow with OVS's mask, written as ODP text and parsed by our own
  ``parse_key`` - ``recirc_id(0),in_port(1),eth_type(0x0800),ipv4(src,dst,proto,frag=no),
  udp(src,dst)``, i.e. in_port, recirc_id, eth_type, vlan_tci (implicitly untagged),
  ipv4 src/dst, nw_proto, nw_frag, tp_src/tp_dst.
"""

from __future__ import annotations

import json
import sys
import time
from ipaddress import IPv4Address

#: The 5-tuples of the benchmark pcaps (datapath_bench.flow_tuple() is the same).
DST_IP = "10.2.0.1"
DST_PORT = 5001


def flow_tuple(i: int) -> tuple[str, int]:
    """(source IPv4, UDP source port) of distinct flow ``i``: 1,024 ports per address."""
    return str(IPv4Address(0x0A010000 + (i >> 10))), 1024 + (i & 1023)


def megaflow_text(pipeline: str, i: int) -> str:
    """ODP text of the megaflow OVS installs for flow ``i`` of ``pipeline``."""
    if pipeline == "a":
        return "recirc_id(0),in_port(1)"
    src, sport = flow_tuple(i)
    return (f"recirc_id(0),in_port(1),packet_type(ns=0,id=0),eth_type(0x0800),"
            f"ipv4(src={src},dst={DST_IP},proto=17,frag=no),udp(src={sport},dst={DST_PORT})")


def megaflows(pipeline: str, n_flows: int):
    from appliance.dpif import FlowPut
    from appliance.dpif.odp import parse_actions, parse_key

    actions = parse_actions("2")
    count = 1 if pipeline == "a" else n_flows
    puts = []
    for i in range(count):
        key, mask = parse_key(megaflow_text(pipeline, i))
        puts.append(FlowPut((i + 1).to_bytes(16, "little"), key, mask, actions))
    return puts


def main() -> None:
    cfg = json.loads(sys.argv[1])
    from appliance.dpif.netdev import NetdevDpif, eal_config, init_dpdk
    from appliance.dpif.odp import format_key

    init_dpdk(eal_config({
        "dpdk-lcore-mask": "0x1", "pmd-cpu-mask": "0x2", "dpdk-socket-mem": "1024",
        "dpdk-extra": f"--no-pci --file-prefix={cfg['prefix']} --huge-unlink "
                      "--log-level=lib.eal:error"}), mbufs=cfg["mbufs"])
    dp = NetdevDpif(vhost_dir=cfg["workdir"])
    out: dict = {"masks": {}}
    seq = 0
    try:
        dp.port_add("p1", "dpdk", {"dpdk-devargs": "net_null_p1,no-rx=1"}, port_no=2)
        for pipeline in cfg["pipelines"]:
            runs = out.setdefault(pipeline, [])
            puts = megaflows(pipeline, cfg["flows"])
            out["masks"][pipeline] = format_key(puts[0].key, puts[0].mask)
            for _ in range(cfg["runs"]):
                dp.flow_flush()
                for k in range(0, len(puts), 4096):
                    errs = dp.flow_put(puts[k:k + 4096])
                    bad = [e for e in errs if e is not None]
                    if bad:
                        raise RuntimeError(f"flow_put: {bad[0]}")
                seq += 1
                dp.port_add("p0", "dpdk", {"dpdk-devargs":
                            f"net_pcap_p0_{seq},rx_pcap={cfg['pcap']},infinite_rx=1"},
                            port_no=1)
                try:
                    time.sleep(cfg["warmup"])
                    s0, tx0, t0 = dp.pmd_stats()[0], dp.port_stats(2).tx_packets, \
                        time.monotonic()
                    time.sleep(cfg["seconds"])
                    s1, tx1, t1 = dp.pmd_stats()[0], dp.port_stats(2).tx_packets, \
                        time.monotonic()
                finally:
                    dp.port_del(1)
                d = {f: getattr(s1, f) - getattr(s0, f)
                     for f in ("packets", "emc_hits", "megaflow_hits", "misses", "lost",
                               "cycles_busy", "cycles_idle", "cycles_upcall")}
                runs.append({
                    "mpps": (tx1 - tx0) / (t1 - t0) / 1e6,
                    "cyc_per_pkt": d["cycles_busy"] / d["packets"] if d["packets"] else None,
                    "tsc_hz": dp.lib.vsw_tsc_hz(),
                    "n_flows": s1.n_flows, **d})
    finally:
        dp.close()
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
