"""Adding and removing ports while traffic flows.

The datapath runs in tests/helpers/dp_runner.py (its own EAL, --no-huge). A net_pcap
port replaying a file forever (infinite_rx) feeds a flow to a net_null sink; meanwhile
other ports (net_null, net_ring) come and go, one of them also an output of the
flow, and the sink itself is removed and added back. Traffic must keep flowing (the
sink's tx counter grows between any two samples while the sink exists), the source is
polled throughout, nothing crashes, and every mbuf is back in the pool once all ports
are gone.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

import pytest
from helpers.dp_runner import DpRunner, RunnerError, wait_until
from scapy.all import IP, UDP, Ether, wrpcap

SRC, SINK, EXTRA, OTHER = 1, 2, 3, 4


@pytest.fixture
def dp():
    workdir = Path(tempfile.mkdtemp(prefix="hotplug-", dir="/tmp"))
    runner = DpRunner(workdir, [
        "--no-huge", "-m", "512", "--no-pci", f"--file-prefix=vswhp{os.getpid()}",
        "--log-level=lib.eal:error", "--log-level=pmd.net.pcap:error"])
    assert runner.ready.get("ok"), f"datapath failed to start: {runner.ready}\n{runner.log()}"
    yield runner
    status = runner.stop()
    log = runner.log()
    shutil.rmtree(workdir, ignore_errors=True)
    assert status == 0, f"datapath exited {status}:\n{log[-4000:]}"


def _tx(dp: DpRunner, port: int) -> int:
    return dp.stats(port)["tx_packets"]


def _assert_flowing(dp: DpRunner, samples: int = 3, gap: float = 0.05) -> None:
    """The sink's tx counter grows between consecutive samples."""
    last = _tx(dp, SINK)
    for _ in range(samples):
        now = wait_until(lambda prev=last: (v := _tx(dp, SINK)) > prev and v, 5, 0.01)
        assert now, f"sink tx stuck at {last}\n{dp.log()[-3000:]}"
        last = now
        time.sleep(gap)


def test_ports_come_and_go_under_traffic(dp):
    base = dp.call("mbufs")["mbufs"]
    pcap = dp.workdir / "src.pcap"
    wrpcap(str(pcap), [Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
                       / IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=1000 + i, dport=53)
                       / (b"x" * 30) for i in range(16)])
    sink_devargs = {"dpdk-devargs": "net_null_sink,no-rx=1"}
    dp.port_add("sink", options=sink_devargs, port_no=SINK)
    # The flow also outputs to EXTRA, a port that is mostly absent or changing driver.
    flow = dp.call("flow_put", in_port=SRC, actions=f"{SINK},{EXTRA}")["ufid"]
    # A net_ring port loops what it sends back to itself, and a net_null port with rx
    # generates frames: drop them there.
    dp.call("flow_put", in_port=EXTRA, actions="drop")
    # Flows first, so that no frame misses (the source floods).
    dp.port_add("src", options={"dpdk-devargs": f"net_pcap_src,rx_pcap={pcap},infinite_rx=1"},
                port_no=SRC)
    _assert_flowing(dp)

    for i in range(6):
        # EXTRA alternates between a net_null and a net_ring device; OTHER is a port no
        # flow uses.
        kind = "net_ring" if i % 2 else "net_null"
        extra = dp.port_add(f"extra{i}", options={"dpdk-devargs": f"{kind}_x{i}"},
                            port_no=EXTRA)
        other = dp.port_add(f"other{i}", options={"dpdk-devargs": f"net_null_o{i},no-rx=1"},
                            port_no=OTHER)
        assert dp.call("port_info", port_no=extra)["driver"] == kind
        before = _tx(dp, extra)
        _assert_flowing(dp, samples=2)
        assert wait_until(lambda e=extra, b=before: _tx(dp, e) > b, 5), \
            f"no traffic reached {kind} port {extra}"
        dp.call("port_del", port_no=other)
        _assert_flowing(dp, samples=1)
        dp.call("port_del", port_no=extra)
        _assert_flowing(dp, samples=1)

    # A device that does not exist is refused and changes nothing.
    with pytest.raises(RunnerError) as e:
        dp.port_add("bad", options={"dpdk-devargs": "net_nosuchdriver_z"}, port_no=OTHER)
    assert "net_nosuchdriver_z" in e.value.error
    _assert_flowing(dp, samples=1)

    # The output port itself goes away and comes back, several times (the same device
    # name each time, as after a vswitchd interface flap).
    for _ in range(3):
        dp.call("port_del", port_no=SINK)
        with pytest.raises(RunnerError):
            dp.stats(SINK)
        # The source is still polled and the flow still hit while its output is absent.
        rx = dp.stats(SRC)["rx_packets"]
        hits = dp.call("flow_get", ufid=flow)["packets"]
        assert wait_until(lambda r=rx: dp.stats(SRC)["rx_packets"] > r, 5)
        assert wait_until(lambda h=hits: dp.call("flow_get", ufid=flow)["packets"] > h, 5)
        dp.port_add("sink", options=sink_devargs, port_no=SINK)
        _assert_flowing(dp)

    assert dp.stats(SRC)["rx_errors"] == 0
    # Every frame matched a flow, whatever port came or went.
    pmds = dp.call("pmd_stats")["pmds"]
    assert sum(p["packets"] for p in pmds) > 0
    assert [(p["misses"], p["lost"]) for p in pmds] == [(0, 0)] * len(pmds)
    assert dp.call("upcalls")["upcalls"] == []

    # Every port removed: each mbuf is back (infinite_rx holds its copies until close).
    dp.call("port_del", port_no=SRC)
    dp.call("port_del", port_no=SINK)
    assert wait_until(lambda: dp.call("mbufs")["mbufs"] == base, 5), \
        f"mbufs in use {dp.call('mbufs')['mbufs']}, baseline {base}"
    assert dp.call("ping")["ok"]
