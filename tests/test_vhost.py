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
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest
from helpers.dp_runner import DpRunner, wait_until
from scapy.all import IP, UDP, Ether, raw, rdpcap, wrpcap

HUGE_DIR = Path("/dev/hugepages")
NR_HUGEPAGES = Path("/proc/sys/vm/nr_hugepages")
MEMORY_MB = 256                      # each of our datapath and testpmd
PAGES_NEEDED = 2 * MEMORY_MB // 2 + 64
PEER_MAC = "02:00:00:00:00:99"       # testpmd's --eth-peer: destination of its frames
SRC_MAC, DST_MAC = "02:00:00:00:00:01", "02:00:00:00:00:02"


def _meminfo(field: str) -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"{field} missing from /proc/meminfo")


@pytest.fixture(scope="module")
def hugepages():
    """Enough free 2 MB hugepages and a hugetlbfs at /dev/hugepages. Raises
    vm.nr_hugepages if too few are free (tests run as root) and puts the setting (and
    the mount, if it made it) back afterwards."""
    assert os.geteuid() == 0, "vhost tests need root (hugepages)"
    assert _meminfo("Hugepagesize") == 2048, "the tests assume 2 MB hugepages"
    mounted = False
    if not os.path.ismount(HUGE_DIR):
        HUGE_DIR.mkdir(exist_ok=True)
        subprocess.run(["mount", "-t", "hugetlbfs", "nodev", str(HUGE_DIR)], check=True)
        mounted = True
    original = int(NR_HUGEPAGES.read_text())
    free = _meminfo("HugePages_Free")
    if free < PAGES_NEEDED:
        NR_HUGEPAGES.write_text(str(original + PAGES_NEEDED - free))
        assert _meminfo("HugePages_Free") >= PAGES_NEEDED, (
            f"could not reserve {PAGES_NEEDED} hugepages (free: "
            f"{_meminfo('HugePages_Free')})")
    yield
    if int(NR_HUGEPAGES.read_text()) != original:
        NR_HUGEPAGES.write_text(str(original))
    if mounted:
        subprocess.run(["umount", str(HUGE_DIR)], check=False)


@pytest.fixture
def workdir():
    """A short directory (vhost-user socket paths must fit sun_path)."""
    d = Path(tempfile.mkdtemp(prefix="vhu-", dir="/tmp"))
    yield d
    shutil.rmtree(d, ignore_errors=True)


def _no_hugepage_files(prefix: str) -> list[Path]:
    """Hugepage files a process with --file-prefix ``prefix`` left behind (removed)."""
    left = list(HUGE_DIR.glob(f"{prefix}*"))
    for f in left:
        f.unlink(missing_ok=True)
    return left


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
    assert _no_hugepage_files(prefix) == []


class Testpmd:
    """An interactive dpdk-testpmd with one virtio-user port (port 0). With ``wait``
    false, call :meth:`wait_prompt` (0) before commands: a server-mode virtio-user
    blocks testpmd's start-up until its vhost-user client connects."""

    __test__ = False

    def __init__(self, workdir: Path, vdev: str, fwd: str, started: list[Testpmd],
                 wait: bool = True) -> None:
        exe = shutil.which("dpdk-testpmd")
        stdbuf = shutil.which("stdbuf")
        if not exe or not stdbuf:
            pytest.fail("dpdk-testpmd (Debian package dpdk) and stdbuf (coreutils) "
                        "are required")
        self.prefix = f"vswtp{os.getpid()}"
        # stdbuf: testpmd printf()s its command output, which a pipe would hold back
        # until exit; its prompt is written directly.
        self.cmdline = [
            stdbuf, "-oL", exe, "--lcores=0@0,1@0", "--main-lcore=0", "--no-pci", "--in-memory",
            # vhost-user maps the guest memory region by region (at most 8): one file
            # per memseg list instead of one per page.
            "--single-file-segments", "-m", str(MEMORY_MB), f"--file-prefix={self.prefix}",
            "--log-level=lib.eal:error", f"--vdev={vdev}", "--",
            "-i", "--nb-cores=1", "--rxq=1", "--txq=1", "--total-num-mbufs=4096",
            f"--eth-peer=0,{PEER_MAC}", f"--forward-mode={fwd}", "--no-lsc-interrupt"]
        self.proc = subprocess.Popen(self.cmdline, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, start_new_session=True)
        started.append(self)    # stopped at teardown even if start-up fails below
        self._out: list[str] = []
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        if wait:
            self.wait_prompt(0, timeout=60)

    def _read(self) -> None:
        while True:
            chunk = os.read(self.proc.stdout.fileno(), 4096).decode(errors="replace")
            if not chunk:
                return
            with self._lock:
                self._out.append(chunk)

    @property
    def output(self) -> str:
        with self._lock:
            return "".join(self._out)

    def wait_prompt(self, n_before: int, timeout: float = 30) -> str:
        """Waits for a prompt after the ``n_before``-th; returns the output since it."""
        def prompted():
            return self.output.count("testpmd> ") > n_before or self.proc.poll() is not None
        wait_until(prompted, timeout)
        out = self.output
        assert self.proc.poll() is None, f"testpmd exited {self.proc.returncode}:\n{out}"
        assert out.count("testpmd> ") > n_before, f"testpmd gave no prompt:\n{out[-3000:]}"
        return out

    def cmd(self, line: str, timeout: float = 30) -> str:
        """Runs an interactive command; returns what it printed."""
        before = self.output
        n = before.count("testpmd> ")
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        out = self.wait_prompt(n, timeout)
        return out[len(before):]

    def port_stats(self) -> dict[str, int]:
        text = self.cmd("show port stats 0")
        text = text[text.rindex("NIC statistics for port 0"):]
        return {k: int(v) for k, v in re.findall(r"([RT]X-[a-z]+):\s+(\d+)", text)}

    def stop(self) -> int:
        """quit, then SIGTERM/SIGKILL by pid; the hugepage files must be gone."""
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write("quit\n")
                self.proc.stdin.flush()
            except OSError:
                pass
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGTERM)
                try:
                    self.proc.wait(10)
                except subprocess.TimeoutExpired:
                    os.kill(self.proc.pid, signal.SIGKILL)
                    self.proc.wait(10)
        self._reader.join(10)
        shutil.rmtree(f"/var/run/dpdk/{self.prefix}", ignore_errors=True)
        assert _no_hugepage_files(self.prefix) == []
        return self.proc.returncode


@pytest.fixture
def testpmd(hugepages, workdir):
    started: list[Testpmd] = []

    def start(vdev: str, fwd: str = "rxonly", wait: bool = True) -> Testpmd:
        return Testpmd(workdir, vdev, fwd, started, wait)

    yield start
    for t in started:
        t.stop()


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
