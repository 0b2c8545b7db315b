"""vhost-user ports for real: our datapath against DPDK's testpmd as the guest side.

The datapath runs in tests/helpers/dp_runner.py (its own EAL: hugepages, --in-memory,
a private --file-prefix). The peer is ``dpdk-testpmd`` in a process of its own, with a
virtio-user port (net_virtio_user, the same virtio driver a VM runs, speaking
vhost-user over the socket) and its own hugepages. Both directions are checked:

- testpmd -> us: ``start tx_first N`` makes testpmd send exactly N bursts of its txonly
  template (UDP 198.18.0.1 -> 198.18.0.2, our --eth-peer MAC as destination); our flow
  in_port(vhost) -> net_pcap tx port writes them to a file we read back;
- us -> testpmd: frames scapy wrote to a pcap enter a net_pcap rx port, our flow sends
  them to the vhost port, testpmd (rxonly, verbose) counts and prints them.

``dpdkvhostuser`` (we are the vhost-user server, testpmd connects) and
``dpdkvhostuserclient`` (testpmd's virtio-user is the server, ``server=1``; we connect)
are tested separately. Two CPUs are enough: testpmd's main and forwarding lcores share
CPU 0 (``--lcores``), our PMD runs on CPU 1.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest
from helpers.dp_runner import DpRunner, wait_until
from helpers.testpmd import MEMORY_MB, PEER_MAC, Testpmd, no_hugepage_files
from scapy.all import IP, UDP, Ether, raw, rdpcap, wrpcap

SRC_MAC, DST_MAC = "02:00:00:00:00:01", "02:00:00:00:00:02"


@pytest.fixture
def datapath(hugepages, workdir):
    """Our datapath in a subprocess on hugepages; stopped (by pid) after the test."""
    prefix = f"vswvh{os.getpid()}"
    runner = DpRunner(workdir, [
        "--in-memory", "-m", str(MEMORY_MB), "--no-pci", f"--file-prefix={prefix}",
        "--log-level=lib.eal:error", "--log-level=pmd.net.pcap:error"])
    assert runner.ready.get("ok"), f"datapath failed to start: {runner.ready}\n{runner.log()}"
    yield runner
    status = runner.stop()
    assert status == 0, f"datapath exited {status}:\n{runner.log()[-4000:]}"
    assert no_hugepage_files(prefix) == []


def _link_up(dp: DpRunner, port_no: int) -> bool:
    return dp.call("port_info", port_no=port_no)["link_up"]


def _assert_no_mbufs_held(dp: DpRunner) -> None:
    """With every port gone, the pool is back where it was before the first port."""
    base = dp.ready["mbufs"]
    assert wait_until(lambda: dp.call("mbufs")["mbufs"] == base, 5), \
        f"{dp.call('mbufs')['mbufs']} mbufs in use, {base} at start"


def _guest_frames(n: int) -> list[Ether]:
    return [Ether(src=SRC_MAC, dst=DST_MAC) / IP(src="10.1.0.1", dst="10.1.0.2")
            / UDP(sport=2000 + i, dport=4789) / (b"v" * (18 + i)) for i in range(n)]


def _check_both_directions(dp: DpRunner, tp: Testpmd, vhost_port: int, workdir: Path):
    """Traffic us -> testpmd (rxonly), then testpmd -> us (io, tx_first)."""
    assert wait_until(lambda: _link_up(dp, vhost_port), 20), (
        "vhost port link never came up (guest did not finish negotiation)\n"
        f"{dp.log()[-3000:]}\n{tp.output[-3000:]}")

    # -- us -> testpmd --
    tp.cmd("set verbose 1")
    tp.cmd("start")
    frames = _guest_frames(40)
    src = workdir / "to_guest.pcap"
    wrpcap(str(src), frames)
    dp.call("flow_put", in_port=3, actions=str(vhost_port))
    dp.port_add("rx3", options={"dpdk-devargs": f"net_pcap_rx3,rx_pcap={src}"}, port_no=3)
    got = wait_until(lambda: tp.port_stats().get("RX-packets", 0) >= len(frames), 20)
    stats = tp.port_stats()
    assert got and stats["RX-packets"] == len(frames), (stats, dp.stats(vhost_port))
    assert stats["RX-bytes"] == sum(len(f) for f in frames)
    assert dp.stats(vhost_port)["tx_packets"] == len(frames)
    assert dp.stats(3)["rx_packets"] == len(frames)
    # rxonly in verbose mode prints one line per frame: our MACs arrived unchanged.
    lines = re.findall(rf"src={SRC_MAC} - dst={DST_MAC}", tp.output, re.IGNORECASE)
    assert len(lines) == len(frames), tp.output[-3000:]
    tp.cmd("stop")
    dp.call("port_del", port_no=3)
    tp.cmd("set verbose 0")

    # -- testpmd -> us --
    out = workdir / "from_guest.pcap"
    dp.port_add("tx2", options={"dpdk-devargs": f"net_pcap_tx2,tx_pcap={out}"}, port_no=2)
    dp.call("flow_put", in_port=vhost_port, actions="2")
    bursts = 3
    tp.cmd("set fwd io")
    tp.cmd(f"start tx_first {bursts}")
    expected = 32 * bursts        # testpmd's default burst size
    wait_until(lambda: dp.stats(2)["tx_packets"] >= expected, 20)
    time.sleep(0.3)               # nothing more may come
    tp.cmd("stop")
    sent = tp.port_stats()["TX-packets"]
    assert sent == expected
    assert dp.stats(vhost_port)["rx_packets"] == expected
    assert dp.stats(2)["tx_packets"] == expected
    dp.call("port_del", port_no=2)            # closing the pcap port flushes the file
    pkts = rdpcap(str(out))
    assert len(pkts) == expected
    for p in pkts:
        assert p[Ether].dst == PEER_MAC
        assert (p[IP].src, p[IP].dst) == ("198.18.0.1", "198.18.0.2")
        assert p[UDP].sport == 9 and p[UDP].dport == 9
        assert len(raw(p)) == 64
    assert _link_up(dp, vhost_port)


def test_dpdkvhostuser_server(datapath, testpmd, workdir):
    """We own the socket (<vhost_dir>/vhu0); testpmd's virtio-user connects."""
    dp = datapath
    port = dp.port_add("vhu0", "dpdkvhostuser", port_no=1)
    sock = workdir / "vhu0"
    assert sock.is_socket()
    assert dp.call("port_info", port_no=port)["driver"] == "net_vhost"
    assert not _link_up(dp, port), "link up without a guest"
    tp = testpmd(f"net_virtio_user0,path={sock},queues=1")
    _check_both_directions(dp, tp, port, workdir)
    # The guest goes away (a VM shuts down): the link goes down, the port stays...
    assert tp.stop() == 0
    assert wait_until(lambda: not _link_up(dp, port), 10)
    rx = dp.stats(port)["rx_packets"]
    # ... and the next guest on the same socket gets traffic through again.
    out = workdir / "second.pcap"
    dp.port_add("tx2", options={"dpdk-devargs": f"net_pcap_tx2,tx_pcap={out}"}, port_no=2)
    tp2 = testpmd(f"net_virtio_user0,path={sock},queues=1", fwd="io")
    assert wait_until(lambda: _link_up(dp, port), 20), dp.log()[-3000:]
    tp2.cmd("start tx_first 1")
    assert wait_until(lambda: dp.stats(port)["rx_packets"] >= rx + 32, 20)
    tp2.cmd("stop")
    assert tp2.port_stats()["TX-packets"] == 32
    dp.call("port_del", port_no=2)
    assert len(rdpcap(str(out))) == 32
    assert tp2.stop() == 0
    dp.call("port_del", port_no=port)
    assert not sock.exists(), "vhost-user server socket left behind"
    _assert_no_mbufs_held(dp)


def test_dpdkvhostuserclient(datapath, testpmd, workdir):
    """testpmd's virtio-user is the server (server=1); our port connects to it."""
    dp = datapath
    sock = workdir / "tp.sock"
    tp = testpmd(f"net_virtio_user0,path={sock},server=1,queues=1", wait=False)
    assert wait_until(sock.is_socket, 30), tp.output[-3000:]
    port = dp.port_add("vhc0", "dpdkvhostuserclient", {"vhost-server-path": str(sock)},
                       port_no=1)
    tp.wait_prompt(0, timeout=60)       # testpmd finishes starting once we connected
    assert dp.call("port_info", port_no=port)["driver"] == "net_vhost"
    _check_both_directions(dp, tp, port, workdir)
    dp.call("port_del", port_no=port)
    assert sock.exists(), "our client port must not remove the server's socket"
    _assert_no_mbufs_held(dp)
