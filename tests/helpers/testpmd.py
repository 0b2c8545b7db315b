"""DPDK's testpmd as a vhost-user guest, and the hugepages it needs, for tests.

Fixtures (registered in tests/conftest.py): ``hugepages`` (enough free 2 MB pages and a
hugetlbfs at /dev/hugepages, restored afterwards), ``workdir`` (a short directory:
vhost-user socket paths must fit sun_path) and ``testpmd`` (starts :class:`Testpmd`
instances, all stopped by pid at teardown). Used by tests/test_vhost.py (the datapath
alone) and tests/test_vswitchd.py (the whole appliance).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
from pathlib import Path

import pytest
from helpers.dp_runner import wait_until

HUGE_DIR = Path("/dev/hugepages")
NR_HUGEPAGES = Path("/proc/sys/vm/nr_hugepages")
MEMORY_MB = 256                      # each of our datapath and testpmd
PAGES_NEEDED = 2 * MEMORY_MB // 2 + 64
PEER_MAC = "02:00:00:00:00:99"       # testpmd's --eth-peer: destination of its frames


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


def no_hugepage_files(prefix: str) -> list[Path]:
    """Hugepage files a process with --file-prefix ``prefix`` left behind (removed)."""
    left = list(HUGE_DIR.glob(f"{prefix}*"))
    for f in left:
        f.unlink(missing_ok=True)
    return left


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
        assert no_hugepage_files(self.prefix) == []
        return self.proc.returncode


@pytest.fixture
def testpmd(hugepages, workdir):
    started: list[Testpmd] = []

    def start(vdev: str, fwd: str = "rxonly", wait: bool = True) -> Testpmd:
        return Testpmd(workdir, vdev, fwd, started, wait)

    yield start
    for t in started:
        t.stop()
