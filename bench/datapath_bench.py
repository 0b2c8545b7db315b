#!/usr/bin/env python3
"""Datapath benchmark: dpdk-testpmd (the ceiling), Debian's OVS-DPDK 3.1, our datapath
driven directly ("ours") and our whole appliance ("appliance"), side by side in one run,
measured as DESIGN.md section 4 ("Reference numbers") did.

Method.  Every arm forwards 64-byte UDP frames (60 bytes in the pcap + 4 bytes of FCS
on a wire) replayed by ``net_pcap`` (``rx_pcap=FILE,infinite_rx=1``) into a
``net_null`` sink (``no-rx=1``), with one forwarding/PMD thread on core 1 and the main
thread on core 0, no PCI devices (vdevs only), its own ``--file-prefix`` and
``--huge-unlink``.  The pcap holds N distinct flows (1, 1k, 10k, 100k): UDP source port
1024..2047 and source address 10.1.0.0 + i/1024, to 10.2.0.1:5001, from MAC
00:00:00:00:00:01 to 00:00:00:00:00:02; the file is replayed in order, so consecutive
packets belong to different flows.

Pipelines (OpenFlow table 0): a ``in_port=1,actions=output:2``; b ``actions=NORMAL``
with the sink's MAC learned on port 2 first; c one exact
``udp,in_port=1,nw_src,nw_dst,tp_src,tp_dst,actions=output:2`` rule per flow (the 10k
exact-match table at 10k flows).

* testpmd: ``dpdk-testpmd --forward-mode=io --record-core-cycles``, driven through a
  pty; Mpps from the sink's TX-packets delta (``show port stats 1``), cycles/packet
  from ``show fwd stats all`` after ``clear fwd stats all`` at the start of the window.
  testpmd ignores flows and pipelines: the same figure stands in every row of a flow
  count.
* OVS and appliance: the same class (:class:`Switch`) drives both with the very same
  ``ovs-vsctl``/``ovs-ofctl``/``ovs-appctl`` commands; only the daemons differ.  OVS is
  Debian's ovsdb-server + ovs-vswitchd-dpdk (``--enable-dummy=override``); the appliance
  is ``twistd -n vswitch`` (our OVSDB server, vswitchd and datapath in one process).
  Both get private OVS_RUNDIR/DBDIR/LOGDIR/SYSCONFDIR, then ``ovs-vsctl --no-wait init``
  with the other_config of DESIGN.md (dpdk-init=true, dpdk-lcore-mask=0x1,
  pmd-cpu-mask=0x2, dpdk-socket-mem=1024, dpdk-extra=--no-pci --file-prefix=X
  --huge-unlink) plus pmd-maxsleep=0 (busy polling), before the first bridge; a bridge
  (named after the bench's pid: ours creates a host tap for it) with
  datapath_type=netdev and fail_mode=secure, the null port (ofport 2) first.  Per
  pipeline and run: ``ovs-ofctl del-flows`` + ``add-flows`` (timed), ``ovs-appctl
  dpctl/del-flows``; for b ``fdb/flush``, then ``ovs-ofctl -O OpenFlow13 packet-out``
  of a frame from 00:00:00:00:00:02 with in_port=2 and actions=NORMAL, checked with
  ``fdb/show``; add the pcap port (ofport 1) last; wait until the megaflows settled
  (``dpctl/show``'s flow count reaches the expected 1 or N and the PMD's miss counters
  stop moving; given up after --settle s, or after 30 s in which neither the flow count
  nor the successful upcalls moved: stalled); warm up; ``dpif-netdev/pmd-stats-clear``;
  measure: Mpps from ``ovs-ofctl dump-ports`` tx deltas of port 2, cycles/packet from
  ``pmd-stats-show`` ("avg processing cycles per packet"); then delete the pcap port.
  Setup time (add-flows, and pcap port -> settled) is reported in its own table.  One
  sample megaflow per pipeline (``dpctl/dump-flows``) and the rx queue usage
  (``pmd-rxq-show``) are printed.  An ovs-appctl command a switch does not have is
  reported with its answer; for ``dpctl/show`` the flow count then comes from the
  lines of ``dpctl/dump-flows``, ``dpctl/del-flows`` and ``upcall/show`` are skipped.
* ours: bench/_datapath_arm.py in its own process (EAL initialises once per process)
  with the same EAL options; it installs the megaflows OVS installs for the pipeline
  (a: one megaflow on in_port + recirc_id; c: one per flow with OVS's 5-tuple mask),
  adds the pcap port last, and measures the sink's tx_packets delta and the PMD's
  counters (cycles_busy / packets) over the window.  No NORMAL (b prints n/a).

Each measurement warms up (--warmup, 2 s) then measures --seconds (10; 3 with --quick);
cells are the median of --runs (3).  Cycles are TSC cycles (so time taken by other
processes on a shared core counts too).  The machine these run on is shared: compare
arms within one run, not across runs.

Hugepages: if fewer than --hugepages (2048) 2 MiB pages are free, nr_hugepages is raised
and hugetlbfs is mounted at /dev/hugepages if nothing is; the output says so.

usage: .venv/bin/python bench/datapath_bench.py [--arms testpmd,ovs,ours,appliance]
           [--flows 1,1k,10k,100k] [--pipelines a,b,c] [--runs N] [--seconds S]
           [--quick] [--settle S] [--json FILE] [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import pty
import re
import select
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from _datapath_arm import DST_IP, DST_PORT, flow_tuple  # noqa: E402

FLOW_COUNTS = {"1": 1, "1k": 1000, "10k": 10000, "100k": 100000}
PIPELINES = {"a": "a: in_port->output", "b": "b: NORMAL", "c": "c: exact 5-tuple"}
ARMS = ("testpmd", "ovs", "ours", "appliance")
OVS_DPDK = "/usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk"
OVS_SCHEMA = "/usr/share/openvswitch/vswitch.ovsschema"
EAL_EXTRA = "--no-pci --file-prefix={prefix} --huge-unlink"


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# -- traffic ---------------------------------------------------------------------------


def _ip_checksum(hdr: bytes) -> int:
    s = sum(struct.unpack(f"!{len(hdr) // 2}H", hdr))
    s = (s & 0xFFFF) + (s >> 16)
    s += s >> 16
    return ~s & 0xFFFF


def write_pcap(path: Path, n_flows: int) -> None:
    """One 60-byte UDP/IPv4 frame per flow (64 bytes with FCS), flows in order."""
    dst = int.from_bytes(bytes(map(int, DST_IP.split("."))), "big")
    eth = bytes.fromhex("000000000002" "000000000001" "0800")
    payload = bytes(18)
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for i in range(n_flows):
            src, sport = flow_tuple(i)
            udp = struct.pack("!HHHH", sport, DST_PORT, 8 + len(payload), 0) + payload
            srcn = int.from_bytes(bytes(map(int, src.split("."))), "big")
            ip = struct.pack("!BBHHHBBHII", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0, srcn, dst)
            ip = ip[:10] + struct.pack("!H", _ip_checksum(ip)) + ip[12:]
            frame = eth + ip + udp
            f.write(struct.pack("<IIII", 0, 0, len(frame), len(frame)) + frame)


def mbufs_for(n_flows: int) -> int:
    """net_pcap's infinite_rx keeps the whole file in mbufs of the rx pool, so the pool
    must hold the file plus the queues' working set."""
    return max(16383, n_flows + 32767)


# -- host setup ------------------------------------------------------------------------


def _meminfo(key: str) -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def ensure_hugepages(pages: int) -> list[str]:
    """Reserves 2 MiB hugepages and mounts hugetlbfs if needed; returns what was done."""
    notes = []
    free = _meminfo("HugePages_Free")
    if free < pages:
        total = _meminfo("HugePages_Total")
        want = total + pages - free
        Path("/proc/sys/vm/nr_hugepages").write_text(f"{want}\n")
        notes.append(f"hugepages: {free} free of {total}; set vm.nr_hugepages={want} "
                     f"(now {_meminfo('HugePages_Free')} free)")
    mounts = Path("/proc/mounts").read_text()
    if not any(line.split()[2] == "hugetlbfs" for line in mounts.splitlines()):
        os.makedirs("/dev/hugepages", exist_ok=True)
        subprocess.run(["mount", "-t", "hugetlbfs", "nodev", "/dev/hugepages"], check=True)
        notes.append("hugepages: mounted hugetlbfs at /dev/hugepages")
    if not notes:
        notes.append(f"hugepages: {free} x 2 MiB free, hugetlbfs mounted (nothing changed)")
    return notes


def ensure_ovs_dpdk() -> list[str]:
    """Installs Debian's openvswitch-switch-dpdk if missing, without starting its
    service (policy-rc.d returning 101 for the duration of the install)."""
    if os.access(OVS_DPDK, os.X_OK):
        return []
    policy = Path("/usr/sbin/policy-rc.d")
    created = not policy.exists()
    if created:
        policy.write_text("#!/bin/sh\nexit 101\n")
        policy.chmod(0o755)
    try:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-q"], check=False, capture_output=True, env=env)
        subprocess.run(["apt-get", "install", "-y", "-q", "openvswitch-switch-dpdk"],
                       check=True, capture_output=True, env=env)
    finally:
        if created:
            policy.unlink()
    return ["installed openvswitch-switch-dpdk with apt (service kept from starting)"]


def stop_pid(proc: subprocess.Popen, timeout: float = 10.0) -> None:
    """SIGTERM, then SIGKILL, to one process we started (by its pid)."""
    if proc.poll() is not None:
        return
    try:
        os.kill(proc.pid, signal.SIGTERM)
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(5)
    except ProcessLookupError:
        pass


def remove_dpdk_runtime(prefix: str) -> None:
    """EAL's runtime dir for our private file prefix (hugepage files are unlinked)."""
    shutil.rmtree(f"/var/run/dpdk/{prefix}", ignore_errors=True)


# -- testpmd -----------------------------------------------------------------------------


class Pty:
    """A child on a pseudo-terminal (testpmd's prompt needs line-buffered output)."""

    def __init__(self, argv: list[str], prompt: str) -> None:
        master, slave = pty.openpty()
        attrs = termios.tcgetattr(slave)
        attrs[3] &= ~termios.ECHO
        termios.tcsetattr(slave, termios.TCSANOW, attrs)
        self.proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave,
                                     start_new_session=True)
        os.close(slave)
        self.fd = master
        self.prompt = prompt
        self.transcript = ""

    def expect(self, timeout: float) -> str:
        buf = ""
        deadline = time.monotonic() + timeout
        while self.prompt not in buf:
            left = deadline - time.monotonic()
            if left <= 0 or self.proc.poll() is not None:
                self.transcript += buf
                raise RuntimeError(f"no prompt from {self.proc.args[0]}: "
                                   f"{self.transcript[-1500:]}")
            ready, _, _ = select.select([self.fd], [], [], left)
            if ready:
                try:
                    buf += os.read(self.fd, 65536).decode(errors="replace")
                except OSError:
                    continue
        self.transcript += buf
        return buf

    def cmd(self, line: str, timeout: float = 30.0) -> str:
        os.write(self.fd, line.encode() + b"\n")
        return self.expect(timeout)

    def close(self) -> None:
        try:
            if self.proc.poll() is None:
                os.write(self.fd, b"quit\n")
                self.proc.wait(15)
        except (OSError, subprocess.TimeoutExpired):
            pass
        stop_pid(self.proc)
        os.close(self.fd)


def _tx_packets(text: str) -> int:
    m = re.search(r"TX-packets:\s+(\d+)", text)
    if not m:
        raise RuntimeError(f"no TX-packets in {text!r}")
    return int(m.group(1))


def run_testpmd(pcap: Path, n_flows: int, args, prefix: str) -> list[dict]:
    argv = ["dpdk-testpmd", "-l", "0,1", "--main-lcore", "0", "--socket-mem", "1024",
            *EAL_EXTRA.format(prefix=prefix).split(),
            "--vdev", f"net_pcap0,rx_pcap={pcap},infinite_rx=1",
            "--vdev", "net_null0,no-rx=1", "--",
            "-i", "--forward-mode=io", "--record-core-cycles",
            f"--total-num-mbufs={mbufs_for(n_flows)}"]
    tp = Pty(argv, "testpmd> ")
    runs = []
    try:
        tp.expect(120)
        for _ in range(args.runs):
            tp.cmd("start")
            time.sleep(args.warmup)
            tp.cmd("clear fwd stats all")
            tx0, t0 = _tx_packets(tp.cmd("show port stats 1")), time.monotonic()
            time.sleep(args.seconds)
            tx1, t1 = _tx_packets(tp.cmd("show port stats 1")), time.monotonic()
            fwd = tp.cmd("show fwd stats all")
            tp.cmd("stop")
            m = re.search(r"CPU cycles/packet=([\d.]+)", fwd)
            runs.append({"mpps": (tx1 - tx0) / (t1 - t0) / 1e6,
                         "cyc_per_pkt": float(m.group(1)) if m else None})
    finally:
        tp.close()
        remove_dpdk_runtime(prefix)
    return runs


# -- the switches: OVS-DPDK and our appliance, driven by the same commands ---------------


class UnsupportedCommand(RuntimeError):
    """A switch answered that it does not know an ovs-appctl command."""


class Switch:
    """One switch in a private directory, driven only through Debian's ``ovs-vsctl``,
    ``ovs-ofctl`` and ``ovs-appctl`` (its own OVS_RUNDIR/DBDIR/LOGDIR/SYSCONFDIR, its
    database socket and vswitchd control socket).  Every configuration and measurement
    step of the benchmark lives here, so OVS-DPDK and our appliance get the very same
    commands; subclasses only start and stop the daemons.

    A command a switch does not know (ovs-appctl: ``"X" is not a valid command``) is
    recorded in :attr:`unsupported` with the switch's answer; where the bench needs what
    it gives, the step says what it uses instead (see :meth:`dp_flows`)."""

    def __init__(self, workdir: Path, prefix: str, bridge: str = "br0") -> None:
        self.dir = workdir
        self.prefix = prefix
        self.bridge = bridge
        self.env = {**os.environ, "OVS_RUNDIR": str(workdir), "OVS_DBDIR": str(workdir),
                    "OVS_LOGDIR": str(workdir), "OVS_SYSCONFDIR": str(workdir),
                    "OVS_PKGDATADIR": "/usr/share/openvswitch"}
        self.db_sock = workdir / "db.sock"
        self.ctl = workdir / "ovs-vswitchd.ctl"
        self.procs: list[subprocess.Popen] = []
        self.seq = 0
        self.unsupported: dict[str, str] = {}

    # -- the three tools --

    def _run(self, argv: list[str], timeout: float = 120) -> str:
        r = subprocess.run(argv, capture_output=True, text=True, env=self.env,
                           timeout=timeout)
        if r.returncode:
            err = r.stderr.strip()
            if argv[0] == "ovs-appctl" and "is not a valid command" in err:
                raise UnsupportedCommand(err)
            raise RuntimeError(f"{' '.join(argv[:4])}...: {err[-800:]}")
        return r.stdout

    def vsctl(self, *a: str, wait: bool = True) -> str:
        return self._run(["ovs-vsctl", f"--db=unix:{self.db_sock}", "--timeout=120",
                          *([] if wait else ["--no-wait"]), *a])

    def ofctl(self, *a: str) -> str:
        return self._run(["ovs-ofctl", *a], timeout=1200)

    def appctl(self, *a: str) -> str:
        return self._run(["ovs-appctl", "-t", str(self.ctl), "--timeout=120", *a])

    def optional_appctl(self, *a: str) -> str | None:
        """ovs-appctl; None (and the answer noted in :attr:`unsupported`) if the switch
        does not have the command."""
        try:
            return self.appctl(*a)
        except UnsupportedCommand as e:
            self.unsupported.setdefault(a[0], " ".join(str(e).split()))
            return None

    def _wait_for(self, path: Path, proc: subprocess.Popen, what: str) -> None:
        deadline = time.monotonic() + 120
        while not path.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{what} did not start; see {self.dir}")
            time.sleep(0.05)

    def stop(self) -> None:
        for proc in reversed(self.procs):
            stop_pid(proc, timeout=60)
        remove_dpdk_runtime(self.prefix)

    # -- configuration (DESIGN.md section 4) --

    def configure(self, other_config: list[str]) -> None:
        """``ovs-vsctl --no-wait init`` and the Open_vSwitch other_config (``key=value``
        strings), before the first bridge."""
        self.vsctl("init", "--", "set", "Open_vSwitch", ".",
                   *(f"other_config:{kv}" for kv in other_config), wait=False)

    def add_bridge(self) -> None:
        """The netdev bridge (fail_mode=secure: no default flow) and the net_null sink
        as OpenFlow port 2."""
        br = self.bridge
        self.vsctl("add-br", br, "--", "set", "Bridge", br, "datapath_type=netdev",
                   "fail_mode=secure")
        self.vsctl("add-port", br, "p1", "--", "set", "Interface", "p1", "type=dpdk",
                   "options:dpdk-devargs=net_null_p1,no-rx=1", "ofport_request=2")

    def add_pcap_port(self, pcap: Path) -> None:
        self.seq += 1
        self.vsctl("add-port", self.bridge, "p0", "--", "set", "Interface", "p0",
                   "type=dpdk", f"options:dpdk-devargs=net_pcap_p0_{self.seq},rx_pcap={pcap},"
                   "infinite_rx=1", "ofport_request=1")
        ofport = self.vsctl("get", "Interface", "p0", "ofport").strip()
        if ofport != "1":
            err = self.vsctl("get", "Interface", "p0", "error").strip()
            self.vsctl("del-port", self.bridge, "p0")
            raise RuntimeError(f"pcap port: ofport {ofport}, error {err}")

    def del_pcap_port(self) -> None:
        self.vsctl("del-port", self.bridge, "p0")

    def program(self, pipeline: str, n_flows: int) -> float:
        """Replaces the OpenFlow table with the pipeline's and flushes the datapath's
        flows; for NORMAL, teaches the bridge the sink's MAC first.  Returns the wall
        time of ``ovs-ofctl add-flows``."""
        self.ofctl("del-flows", self.bridge)
        rules = self.dir / "flows.txt"
        if pipeline == "a":
            rules.write_text("in_port=1,actions=output:2\n")
        elif pipeline == "b":
            rules.write_text("actions=NORMAL\n")
        else:
            with open(rules, "w") as f:
                for i in range(n_flows):
                    src, sport = flow_tuple(i)
                    f.write(f"udp,in_port=1,nw_src={src},nw_dst={DST_IP},tp_src={sport},"
                            f"tp_dst={DST_PORT},actions=output:2\n")
        t0 = time.monotonic()
        self.ofctl("add-flows", self.bridge, str(rules))
        took = time.monotonic() - t0
        self.optional_appctl("dpctl/del-flows")
        if pipeline == "b":
            self.learn_fdb()
        return took

    def learn_fdb(self) -> None:
        """The fdb entry of pipeline b: the sink's MAC (the pcap frames' destination,
        00:00:00:00:00:02) learned on port 2, by a packet-out of a frame from that MAC
        "received" on port 2 through NORMAL (OpenFlow 1.3; the pcap port is not there
        yet, so the broadcast goes to LOCAL only).  Checked with ``fdb/show``."""
        self.appctl("fdb/flush", self.bridge)
        frame = (bytes.fromhex("ffffffffffff" "000000000002" "0806") + bytes(46)).hex()
        self.ofctl("-O", "OpenFlow13", "packet-out", self.bridge,
                   f"in_port=2 packet={frame} actions=NORMAL")
        fdb = self.appctl("fdb/show", self.bridge)
        if not re.search(r"^\s*2\s+0\s+00:00:00:00:00:02\b", fdb, re.M):
            raise RuntimeError(f"fdb entry not learned: {fdb!r}")

    # -- measurement --

    def tx_packets(self, ofport: int = 2) -> int:
        out = self.ofctl("dump-ports", self.bridge, str(ofport))
        m = re.search(r"tx pkts=(\d+)", out)
        if not m:
            raise RuntimeError(f"no tx pkts in {out!r}")
        return int(m.group(1))

    def pmd_stats(self) -> dict[str, float]:
        """The counters of the PMD on core 1 from ``pmd-stats-show``: ``label: number``
        lines (OVS's labels; lines whose value does not start with a number, such as
        ours' extra ``megaflows: N, rx queues: ...`` line, are skipped)."""
        stats: dict[str, float] = {}
        section = ""
        for line in self.appctl("dpif-netdev/pmd-stats-show").splitlines():
            if not line.startswith(" "):
                section = line      # "pmd thread numa_id 0 core_id 1:" or "main thread:"
                continue
            if "core_id 1" not in section:
                continue
            key, sep, value = line.strip().partition(":")
            if sep and value.strip():
                try:
                    stats[key] = float(value.split()[0])
                except ValueError:
                    pass
        return stats

    def dp_flows(self) -> int:
        """Datapath flows: ``dpctl/show``'s ``flows: N``; for a switch without that
        command, the flow lines of ``dpctl/dump-flows``."""
        out = self.optional_appctl("dpctl/show")
        if out is not None:
            m = re.search(r"flows: (\d+)", out)
            return int(m.group(1)) if m else 0
        return sum(1 for ln in self.appctl("dpctl/dump-flows").splitlines()
                   if "actions:" in ln)

    def _upcalls(self) -> tuple[float, float]:
        """(successful, failed) upcalls of the PMD so far."""
        st = self.pmd_stats()
        return st.get("miss with success upcall", 0), st.get("miss with failed upcall", 0)

    def settle(self, expected: int, limit: float, stall: float = 30.0) -> dict:
        """Waits until the datapath holds ``expected`` megaflows and the PMD's miss
        counters stopped moving for a poll interval (at least 1 s): with 10k+ flows the
        upcall handlers need a while to install them all (OVS grows its flow limit
        gradually; ours translates misses in Python).  Gives up after ``limit`` s, or
        after ``stall`` s in which neither the flow count nor the successful upcalls
        moved (upcalls that only fail: nothing is being installed).  Returns how long
        it took, the flow count reached, and whether it settled or stalled."""
        t0 = last_change = time.monotonic()
        state = misses = None
        done = stalled = False
        while True:
            t = time.monotonic()
            flows, prev = self.dp_flows(), misses
            ok, failed = self._upcalls()
            misses = ok + failed
            done = flows >= expected and prev is not None and misses == prev
            if (flows, ok) != state:
                state, last_change = (flows, ok), t
            stalled = not done and t - last_change >= stall
            if done or stalled or t - t0 >= limit:
                break
            time.sleep(max(1.0, 2 * (time.monotonic() - t)))
        return {"settle_s": round(time.monotonic() - t0, 1), "dp_flows": flows,
                "settled": done, "stalled": stalled,
                "failed_upcalls_setup": failed}

    def sample_megaflow(self) -> str:
        """One datapath flow's key (an IPv4 one: ours also has flows for its local
        tap's traffic), and how many there are."""
        flows = [ln for ln in self.appctl("dpctl/dump-flows").splitlines()
                 if "actions:" in ln]
        ipv4 = [ln for ln in flows if "eth_type(0x0800)" in ln] or flows
        return f"{ipv4[0].split(', packets:')[0]}  ({len(flows)} flows)" if flows else ""

    def measure(self, pipeline: str, n_flows: int, pcap: Path, args) -> dict:
        """One run of one pipeline: program, add the pcap port, wait for the megaflows
        (setup), warm up, clear the PMD counters, measure; the pcap port is deleted
        again.  ``program_s`` is add-flows' wall time, ``settle_s`` from adding the
        pcap port until the megaflows settled."""
        program_s = self.program(pipeline, n_flows)
        self.add_pcap_port(pcap)
        try:
            settle = self.settle(n_flows if pipeline == "c" else 1, args.settle)
            if not settle["settled"]:
                log(f"  {pipeline}: {'stalled' if settle['stalled'] else 'not settled'} "
                    f"({settle['dp_flows']} datapath flows, "
                    f"{settle['failed_upcalls_setup']:.0f} failed upcalls) after "
                    f"{settle['settle_s']} s")
            time.sleep(args.warmup)
            self.appctl("dpif-netdev/pmd-stats-clear")
            tx0, t0 = self.tx_packets(), time.monotonic()
            time.sleep(args.seconds)
            tx1, t1 = self.tx_packets(), time.monotonic()
            st = self.pmd_stats()
            sample = self.sample_megaflow()
            rxq = self.optional_appctl("dpif-netdev/pmd-rxq-show") or ""
        finally:
            self.del_pcap_port()
        return {"mpps": (tx1 - tx0) / (t1 - t0) / 1e6,
                "cyc_per_pkt": st.get("avg processing cycles per packet"),
                "pmd": st, "program_s": round(program_s, 1), "megaflow": sample,
                "rxq_usage": re.findall(r"port: (\S+)\s+queue-id:\s*\d+.*?pmd usage:\s*"
                                        r"(\d+ %|NOT AVAIL)", rxq), **settle}


class PrivateOvs(Switch):
    """Debian's ovsdb-server and an ovs-vswitchd binary in a private directory,
    stopped by pid.  ``--enable-dummy=override`` keeps the bridges' internal ports off
    the host (they become dummies; dpdk ports are unaffected)."""

    def __init__(self, workdir: Path, prefix: str, binary: str = OVS_DPDK,
                 bridge: str = "br0") -> None:
        super().__init__(workdir, prefix, bridge)
        self.binary = binary

    def start_daemons(self, other_config: list[str]) -> subprocess.Popen:
        """Creates the database, starts ovsdb-server, :meth:`configure`s it, starts
        ovs-vswitchd; returns the latter."""
        db = self.dir / "conf.db"
        self._run(["ovsdb-tool", "create", str(db), OVS_SCHEMA])
        srv = subprocess.Popen(
            ["ovsdb-server", str(db), f"--remote=punix:{self.db_sock}",
             f"--pidfile={self.dir / 'ovsdb-server.pid'}",
             f"--unixctl={self.dir / 'ovsdb-server.ctl'}",
             f"--log-file={self.dir / 'ovsdb-server.log'}", "-vconsole:off"],
            env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.procs.append(srv)
        self._wait_for(self.db_sock, srv, "ovsdb-server")
        self.configure(other_config)
        vsd = subprocess.Popen(
            [self.binary, f"unix:{self.db_sock}", "--enable-dummy=override",
             f"--pidfile={self.dir / 'ovs-vswitchd.pid'}", f"--unixctl={self.ctl}",
             f"--log-file={self.dir / 'ovs-vswitchd.log'}", "-vconsole:off"],
            env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.procs.append(vsd)
        self._wait_for(self.ctl, vsd, "ovs-vswitchd")
        return vsd


def dpdk_other_config(prefix: str) -> list[str]:
    """DESIGN.md section 4's OVS-DPDK configuration."""
    extra = EAL_EXTRA.format(prefix=prefix)
    return ["dpdk-init=true", "dpdk-lcore-mask=0x1", "pmd-cpu-mask=0x2",
            "dpdk-socket-mem=1024", f'dpdk-extra="{extra}"']


#: What both switches of the end-to-end arms get: DESIGN.md's other_config, and busy
#: polling (pmd-maxsleep=0, OVS's default; ours sleeps when idle if it is set).
def bench_other_config(prefix: str) -> list[str]:
    return [*dpdk_other_config(prefix), "pmd-maxsleep=0"]


class OvsDpdk(PrivateOvs):
    """OVS-DPDK set up as DESIGN.md section 4 measured it."""

    def start(self) -> None:
        self.start_daemons(bench_other_config(self.prefix))
        self.add_bridge()


class Appliance(Switch):
    """Our whole appliance, ``twistd -n vswitch`` (OVSDB server + vswitchd + the DPDK
    datapath in one process), in a private directory: OVS_RUNDIR/DBDIR/LOGDIR/
    SYSCONFDIR as tests/helpers/appliance.py sets them, so it serves ``db.sock`` and
    ``ovs-vswitchd.PID.ctl`` there; then the same :meth:`configure` and
    :meth:`add_bridge` as OVS.  Its bridge's local port is a real tap named after the
    bridge (no dummy mode), hence a per-run bridge name."""

    def start(self) -> None:
        twistd = str(Path(sys.executable).parent / "twistd")
        with open(self.dir / "twistd.stderr", "w") as err:
            proc = subprocess.Popen(
                [twistd, "-n", "--pidfile=", f"--logfile={self.dir / 'vswitch.log'}",
                 "vswitch"], env=self.env, stdout=subprocess.DEVNULL, stderr=err)
        self.procs.append(proc)
        self.ctl = self.dir / f"ovs-vswitchd.{proc.pid}.ctl"
        self._wait_for(self.db_sock, proc, "twistd vswitch (db.sock)")
        self._wait_for(self.ctl, proc, "twistd vswitch (control socket)")
        self.configure(bench_other_config(self.prefix))
        self.add_bridge()


def run_switch(kind: str, pcap: Path, n_flows: int, pipelines: list[str], args,
               prefix: str, tmp: Path) -> dict:
    """The OVS or appliance arm for one flow count: every pipeline, --runs times."""
    workdir = Path(tempfile.mkdtemp(prefix=f"{kind}-", dir=tmp))
    bridge = f"vsb{os.getpid() % 100000}"
    sw = (OvsDpdk if kind == "ovs" else Appliance)(workdir, prefix, bridge=bridge)
    out: dict = {"megaflows": {}}
    try:
        t0 = time.monotonic()
        sw.start()
        out["start_s"] = round(time.monotonic() - t0, 1)
        for pipeline in pipelines:
            runs = out.setdefault(pipeline, [])
            for _ in range(args.runs):
                try:
                    r = sw.measure(pipeline, n_flows, pcap, args)
                except (RuntimeError, subprocess.SubprocessError) as e:
                    out.setdefault("errors", {})[pipeline] = str(e)
                    log(f"  {kind} {pipeline}: {e}")
                    break
                out["megaflows"].setdefault(pipeline, r.pop("megaflow"))
                runs.append(r)
            if pipeline not in out.setdefault("upcall_show", {}):
                text = sw.optional_appctl("upcall/show")
                if text is not None:
                    out["upcall_show"][pipeline] = text
            if "pcap port" in out.get("errors", {}).get(pipeline, ""):
                break           # the same pcap fails the same way for every pipeline
    finally:
        out["unsupported"] = sw.unsupported
        sw.stop()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    return out


# -- ours ------------------------------------------------------------------------------


def run_ours(pcap: Path, n_flows: int, pipelines: list[str], args, prefix: str,
             tmp: Path) -> dict:
    cfg = {"prefix": prefix, "mbufs": mbufs_for(n_flows), "workdir": str(tmp),
           "pipelines": pipelines, "flows": n_flows, "pcap": str(pcap), "runs": args.runs,
           "warmup": args.warmup, "seconds": args.seconds}
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, str(HERE / "_datapath_arm.py"), json.dumps(cfg)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env)
    budget = 120 + len(pipelines) * args.runs * (args.warmup + args.seconds + 60)
    try:
        stdout, stderr = proc.communicate(timeout=budget)
    finally:
        stop_pid(proc)
        remove_dpdk_runtime(prefix)
    if proc.returncode or not stdout.strip():
        raise RuntimeError(f"ours exited {proc.returncode}: {stderr.strip()[-1500:]}")
    return json.loads(stdout.strip().splitlines()[-1])


# -- report ----------------------------------------------------------------------------


def median_cell(runs: list[dict] | None) -> tuple[float, float | None, bool] | None:
    """(Mpps, cycles/packet, settled): medians of the runs; a cell any of whose runs
    measured before its megaflows settled is marked unsettled."""
    if not runs:
        return None
    cyc = [r["cyc_per_pkt"] for r in runs if r.get("cyc_per_pkt") is not None]
    return (statistics.median(r["mpps"] for r in runs),
            statistics.median(cyc) if cyc else None,
            all(r.get("settled", True) for r in runs))


def fmt_cell(cell) -> str:
    if cell is None:
        return "n/a"
    mpps, cyc, settled = cell
    text = f"{mpps:.2f} ({cyc:.0f})" if cyc is not None else f"{mpps:.2f} (?)"
    return text if settled else text + " *"


def _ratio(a, b) -> str:
    if not (a and b and b[0]) or not (a[2] and b[2]):
        return "n/a"
    return f"{a[0] / b[0]:.2f}"


def print_table(results: dict, flows: list[str], pipelines: list[str],
                arms: list[str]) -> None:
    """One row per flow count and pipeline: each arm's Mpps (cycles/packet), then
    ours/OVS (the direct arm) and appliance/OVS.  ``*``: measured although the
    megaflows had not settled (no ratio then)."""
    names = {"testpmd": "testpmd", "ovs": "OVS", "ours": "ours (direct)",
             "appliance": "appliance"}
    head = ["flows", "pipeline", *(f"{names[a]} Mpps (cyc/pkt)" for a in arms)]
    if "ovs" in arms:
        head += [f"{names[a]}/OVS" for a in ("ours", "appliance") if a in arms]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for fl in flows:
        r = results.get(fl, {})
        for p in pipelines:
            cells = {a: median_cell(r.get(a) if a == "testpmd" else
                                    (r.get(a) or {}).get(p)) for a in arms}
            row = [fl, PIPELINES[p], *(fmt_cell(cells[a]) for a in arms)]
            if "ovs" in arms:
                row += [_ratio(cells[a], cells["ovs"]) for a in ("ours", "appliance")
                        if a in arms]
            print("| " + " | ".join(row) + " |")


def print_setup(results: dict, flows: list[str], pipelines: list[str]) -> None:
    """How long the OVS and appliance arms took to get ready (medians of runs):
    ``add-flows`` wall time, and from adding the pcap port until the megaflows
    settled (the flow count reached and no new misses for a poll interval)."""
    print("\nSetup (median of runs): add-flows s / pcap port -> megaflows settled s "
          "(datapath flows; * = not settled within --settle)")
    print("| flows | pipeline | OVS | appliance |")
    print("|---|---|---|---|")
    for fl in flows:
        r = results.get(fl, {})
        for p in pipelines:
            cells = []
            for arm in ("ovs", "appliance"):
                runs = (r.get(arm) or {}).get(p) or []
                if not runs:
                    cells.append("n/a")
                    continue
                cells.append(
                    f"{statistics.median(x['program_s'] for x in runs):.1f} / "
                    f"{statistics.median(x['settle_s'] for x in runs):.1f} "
                    f"({statistics.median(x['dp_flows'] for x in runs):.0f}"
                    f"{'' if all(x['settled'] for x in runs) else ' *'})")
            print(f"| {fl} | {PIPELINES[p]} | {cells[0]} | {cells[1]} |")


def print_details(results: dict, flows: list[str], pipelines: list[str]) -> None:
    """Per-PMD counters of each cell (medians of runs): where the packets went."""
    print("\nPer-PMD counters over the measured window (median of runs):")
    for fl in flows:
        r = results.get(fl, {})
        for p in pipelines:
            for arm, label in (("ovs", "OVS "), ("appliance", "appl")):
                runs = (r.get(arm) or {}).get(p) or []
                if not runs:
                    continue

                def med(key, runs=runs):
                    return statistics.median(x["pmd"].get(key, 0) for x in runs)
                pk = med("packets received") or 1
                extra = ""
                if any("simple match hits" in x["pmd"] for x in runs):
                    extra = (f"  simple-match {med('simple match hits') / pk:6.1%}"
                             f"  smc {med('smc hits') / pk:5.1%}  subtable lookups/hit "
                             f"{med('avg. subtable lookups per megaflow hit'):.2f}")
                usage = " ".join(f"{port}:{u.replace(' ', '')}"
                                 for port, u in runs[-1].get("rxq_usage", []))
                print(f"  {fl:>4} {p} {label}: emc {med('emc hits') / pk:6.1%}"
                      f"  megaflow {med('megaflow hits') / pk:6.1%}{extra}"
                      f"  upcalls {med('miss with success upcall'):.0f}"
                      f"  failed {med('miss with failed upcall'):.0f}"
                      f"  idle {med('idle cycles'):.0f} cycles  rxq usage {usage}")
            ours_runs = (r.get("ours") or {}).get(p) or []
            if ours_runs:
                def medo(key, runs=ours_runs):
                    return statistics.median(x[key] for x in runs)
                pk = medo("packets") or 1
                print(f"  {fl:>4} {p} ours: emc {medo('emc_hits') / pk:6.1%}"
                      f"  megaflow {medo('megaflow_hits') / pk:6.1%}"
                      f"  misses {medo('misses'):.0f}  lost {medo('lost'):.0f}"
                      f"  idle cycles {medo('cycles_idle'):.0f}"
                      f"  megaflows installed {medo('n_flows'):.0f}")
    for fl in flows:
        r = results.get(fl, {})
        for arm, label in (("ovs", "OVS      "), ("appliance", "appliance")):
            for p, text in ((r.get(arm) or {}).get("megaflows") or {}).items():
                print(f"  {fl:>4} {p} {label} megaflow: {text}")
        for p, text in ((r.get("ours") or {}).get("masks") or {}).items():
            print(f"  {fl:>4} {p} ours      megaflow: {text}")


def print_problems(results: dict) -> int:
    """Errors of arms and pipelines, and ovs-appctl commands a switch did not have;
    returns the number of errors."""
    n = 0
    unsupported: dict[str, dict[str, str]] = {}
    for fl, r in results.items():
        for k, v in r.items():
            if k.endswith("_error"):
                n += 1
                print(f"# error {fl}/{k}: {v[:400]}")
            elif isinstance(v, dict):
                for p, e in (v.get("errors") or {}).items():
                    n += 1
                    print(f"# error {fl}/{k}/{p}: {e[:400]}")
                unsupported.setdefault(k, {}).update(v.get("unsupported") or {})
    for arm, cmds in unsupported.items():
        for cmd, answer in cmds.items():
            print(f"# {arm}: ovs-appctl {cmd} unsupported: {answer}")
    return n


# -- main ------------------------------------------------------------------------------


def _tree_state() -> str:
    """The commit the appliance ran from, and whether the tree had local changes (the
    appliance runs from the working tree)."""
    def git(*a: str) -> str:
        r = subprocess.run(["git", "-C", str(ROOT), *a], capture_output=True, text=True)
        return r.stdout.strip()
    dirty = git("status", "--porcelain", "--untracked-files=no")
    return git("rev-parse", "--short", "HEAD") + (" + local changes" if dirty else "")


def _csv(text: str, allowed, what: str) -> list[str]:
    items = [x.strip() for x in text.split(",") if x.strip()]
    bad = [x for x in items if x not in allowed]
    if bad or not items:
        raise argparse.ArgumentTypeError(f"{what}: choose from {', '.join(allowed)}")
    return items


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--arms", default=",".join(ARMS),
                    type=lambda s: _csv(s, ARMS, "--arms"))
    ap.add_argument("--flows", default=",".join(FLOW_COUNTS),
                    type=lambda s: _csv(s, FLOW_COUNTS, "--flows"))
    ap.add_argument("--pipelines", default="a,b,c",
                    type=lambda s: _csv(s, PIPELINES, "--pipelines"))
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--warmup", type=float, default=2.0)
    ap.add_argument("--settle", type=float, default=300.0,
                    help="OVS and appliance: after adding the pcap port, wait up to this "
                         "long for every megaflow to be installed (default 300 s)")
    ap.add_argument("--quick", action="store_true", help="3 s windows")
    ap.add_argument("--hugepages", type=int, default=2048,
                    help="2 MiB hugepages to have free (default 2048)")
    ap.add_argument("--json", type=Path, help="also write raw results here")
    ap.add_argument("--keep", action="store_true", help="keep OVS run dirs (logs)")
    args = ap.parse_args(argv)
    if args.quick:
        args.seconds = 3.0
    if os.geteuid() != 0:
        ap.error("needs root (hugepages, DPDK)")
    if len(os.sched_getaffinity(0)) < 2:
        ap.error("needs CPUs 0 and 1")

    notes = ensure_hugepages(args.hugepages)
    if "ovs" in args.arms:
        notes += ensure_ovs_dpdk()
    for n in notes:
        print(f"# {n}", flush=True)
    direct = [p for p in args.pipelines if p != "b"]     # ours has no NORMAL megaflow
    tag = f"vswbench{os.getpid()}"
    results: dict = {}
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="datapath-bench-") as tmpname:
        tmp = Path(tmpname)
        for fl in args.flows:
            n = FLOW_COUNTS[fl]
            pcap = tmp / f"flows{n}.pcap"
            write_pcap(pcap, n)
            cell = results.setdefault(fl, {})
            for arm in args.arms:
                log(f"[{time.monotonic() - started:6.0f}s] {fl} flows: {arm}")
                prefix = f"{tag}{arm}{fl}"
                try:
                    if arm == "testpmd":
                        cell[arm] = run_testpmd(pcap, n, args, prefix)
                    elif arm in ("ovs", "appliance"):
                        cell[arm] = run_switch(arm, pcap, n, args.pipelines, args,
                                               prefix, tmp)
                    elif arm == "ours" and direct:
                        cell[arm] = run_ours(pcap, n, direct, args, prefix, tmp)
                except (RuntimeError, OSError, subprocess.SubprocessError) as e:
                    log(f"  {arm} failed: {e}")
                    cell[f"{arm}_error"] = str(e)
    print(f"# {time.strftime('%Y-%m-%d %H:%M')}  {os.uname().nodename}  "
          f"{os.cpu_count()} CPUs  runs={args.runs} window={args.seconds:g}s "
          f"warmup={args.warmup:g}s; Mpps median of runs (cycles/packet)")
    print(f"# tree: {_tree_state()}")
    print_table(results, args.flows, args.pipelines, args.arms)
    if {"ovs", "appliance"} & set(args.arms):
        print_setup(results, args.flows, args.pipelines)
    print_details(results, args.flows, args.pipelines)
    errors = print_problems(results)
    if args.json:
        args.json.write_text(json.dumps({"notes": notes, "args": vars(args) | {
            "json": str(args.json)}, "results": results}, indent=1, default=str))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
