"""os-ken (the OpenStack fork of Ryu, from PyPI) as a real OpenFlow 1.3 controller of our
bridge, with real packets through the userspace datapath.

A learning-switch application (tests/helpers/osken_simple_switch.py, the classic
simple-switch pattern) runs in os-ken; the bridge (tests/helpers/bridge_daemon.py:
an OFBridge over DPDK with net_pcap ports) connects to it as an active controller
(``tcp:127.0.0.1:PORT``). Frames are injected "as received on a port"; the controller
floods the first one, learns, installs flows and sends packet-outs; after that the
datapath forwards on its own, without packet-ins. What each port transmitted is read
back from its pcap file and compared byte for byte with the frames built here.

Everything runs on 127.0.0.1; every process is stopped by pid in teardown. A missing
os-ken fails the tests (never skips).
"""

from __future__ import annotations

import json
import os
import re
import select
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
from helpers.dp_runner import wait_until
from helpers.ofswitch import run_ofctl
from helpers.osken import OsKen, free_port, python_env
from helpers.procs import stop_pid
from scapy.all import IP, UDP, Ether, raw, rdpcap

HELPERS = Path(__file__).resolve().parent / "helpers"
REPO = HELPERS.parent.parent

A, B, C = "00:00:00:00:00:0a", "00:00:00:00:00:0b", "00:00:00:00:00:0c"
FLOOD = 0xFFFFFFFB
CONTROLLER = 0xFFFFFFFD


def frame(src: str, dst: str, sport: int = 1) -> bytes:
    return raw(Ether(src=src, dst=dst) / IP(src="10.0.0.1", dst="10.0.0.2")
               / UDP(sport=sport, dport=2) / (b"x" * 10))


# -- the bridge daemon ----------------------------------------------------------------------

class BridgeDaemon:
    """tests/helpers/bridge_daemon.py: bridge br0 over the datapath, ports 1..n."""

    def __init__(self, workdir: Path, controller: str | None, fail_mode: str = "secure",
                 n_ports: int = 3, timeout: float = 60) -> None:
        self.outdir = workdir / "out"
        self.outdir.mkdir(parents=True)
        self.rundir = Path(tempfile.mkdtemp(prefix="brd-", dir="/tmp"))  # short: mgmt socket
        self.prefix = f"vswosken{os.getpid()}_{time.monotonic_ns() % 10**6}"
        self.log_path = workdir / "bridge_daemon.log"
        eal = ["--no-huge", "-m", "512", "--no-pci", f"--file-prefix={self.prefix}",
               "--log-level=lib.eal:error", "--log-level=pmd.net.pcap:error"]
        rfd, wfd = os.pipe()
        args = [sys.executable, str(HELPERS / "bridge_daemon.py"), "--reply-fd", str(wfd),
                "--outdir", str(self.outdir), "--rundir", str(self.rundir),
                "--ports", str(n_ports), "--fail-mode", fail_mode]
        if controller:
            args += ["--controller", controller]
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [*args, "--", *eal], stdin=subprocess.PIPE, stdout=log,
                stderr=subprocess.STDOUT, env=python_env(), cwd=str(workdir), pass_fds=(wfd,),
                text=True, start_new_session=True)
        os.close(wfd)
        self._replies = os.fdopen(rfd, "r")
        try:
            self.ready = self._read(timeout)
        except BaseException:
            self.stop()
            raise
        if not self.ready.get("ready"):
            self.stop()
            pytest.fail(f"bridge daemon did not start: {self.ready}\n{self.log()[-4000:]}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def _read(self, timeout: float) -> dict:
        ready, _, _ = select.select([self._replies], [], [], timeout)
        line = self._replies.readline() if ready else ""
        if not line:
            raise RuntimeError(f"bridge daemon gave no reply (exit {self.proc.poll()}); "
                               f"log:\n{self.log()[-4000:]}")
        return json.loads(line)

    def call(self, op: str, timeout: float = 30, **args: Any) -> dict:
        if self.proc.poll() is not None:
            raise RuntimeError(f"bridge daemon exited {self.proc.returncode}; log:\n"
                               f"{self.log()[-4000:]}")
        self.proc.stdin.write(json.dumps({"op": op, **args}) + "\n")
        self.proc.stdin.flush()
        reply = self._read(timeout)
        if not reply.get("ok"):
            raise RuntimeError(f"{op} failed: {reply.get('error')}\n"
                               f"{reply.get('traceback', '')}")
        return reply

    def inject(self, port: int, pkt: bytes) -> None:
        self.call("inject", port=port, hex=pkt.hex())

    def stats(self) -> dict:
        return self.call("stats")

    def tx(self) -> dict[int, int]:
        return {int(p): s["tx_packets"] for p, s in self.stats()["ports"].items()}

    def outputs(self) -> dict[int, list[bytes]]:
        files = self.call("flush_outputs")["files"]
        out = {}
        for p, path in files.items():
            f = Path(path)
            out[int(p)] = [raw(x) for x in rdpcap(str(f))] if f.stat().st_size > 24 else []
        return out

    def stop(self, timeout: float = 20) -> int | None:
        if self.proc.poll() is None:
            try:
                self.call("quit", timeout=timeout)
            except (RuntimeError, OSError, ValueError):
                pass
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        stop_pid(self.proc)
        for f in (self.proc.stdin, self._replies):
            try:
                f.close()
            except OSError:
                pass
        shutil.rmtree(self.rundir, ignore_errors=True)
        shutil.rmtree(f"/var/run/dpdk/{self.prefix}", ignore_errors=True)
        return self.proc.returncode


# -- fixtures -------------------------------------------------------------------------------

@pytest.fixture
def osken(tmp_path):
    try:
        import os_ken  # noqa: F401
    except ImportError as e:
        pytest.fail(f"os-ken is required (pip install os-ken): {e}")
    started: list[OsKen] = []

    def start(port: int | None = None) -> OsKen:
        o = OsKen(tmp_path, port or free_port())
        started.append(o)
        return o

    yield start
    for o in started:
        o.stop()


@pytest.fixture
def bridge_daemon(tmp_path):
    cpus = sorted(os.sched_getaffinity(0))
    assert len(cpus) >= 2, "the datapath needs two CPUs (main lcore + one PMD)"
    started: list[BridgeDaemon] = []

    def start(controller: str | None, fail_mode: str = "secure") -> BridgeDaemon:
        d = BridgeDaemon(tmp_path / f"br{len(started)}", controller, fail_mode)
        started.append(d)
        return d

    yield start
    for d in started:
        d.stop()


# -- helpers --------------------------------------------------------------------------------

def table_miss_installed(st: dict) -> bool:
    return any(r["priority"] == 0 and not r["match"] for r in st["rules"])


def connect(osken, bridge_daemon, fail_mode: str):
    ctl = osken()
    br = bridge_daemon(f"tcp:127.0.0.1:{ctl.port}", fail_mode)
    st = wait_until(lambda: (lambda s: s if s["controller_connected"]
                             and table_miss_installed(s) else None)(br.stats()), 30)
    assert st, (f"the controller never installed the table-miss flow; bridge log:\n"
                f"{br.log()[-3000:]}\nos-ken log:\n{ctl.log()[-3000:]}")
    assert [e["dpid"] for e in ctl.events("features")] == [1]
    return ctl, br


def settle(br: BridgeDaemon, ctl: OsKen | None, tx: dict[int, int],
           packet_ins: int | None = None, timeout: float = 10) -> dict:
    """Waits until the ports' tx counters reach ``tx`` (and os-ken saw ``packet_ins``
    packet-ins), then a little longer so that anything extra would show; returns the
    bridge's stats."""
    def done() -> bool:
        cur = br.tx()
        if any(cur[p] < n for p, n in tx.items()):
            return False
        return packet_ins is None or ctl is None or len(ctl.events("packet_in")) >= packet_ins

    assert wait_until(done, timeout), (
        f"expected tx {tx}, packet-ins {packet_ins}; have tx {br.tx()}, "
        f"{br.stats()}\nos-ken log:\n{ctl.log()[-3000:] if ctl else ''}")
    time.sleep(0.3)
    st = br.stats()
    cur = {int(p): s["tx_packets"] for p, s in st["ports"].items()}
    assert {p: cur[p] for p in tx} == tx, f"extra output: {cur} (expected {tx})"
    if packet_ins is not None and ctl is not None:
        assert len(ctl.events("packet_in")) == packet_ins, ctl.events("packet_in")
    return st


# -- tests ----------------------------------------------------------------------------------

def misses(st: dict) -> int:
    """Misses the bridge handled: upcalls, plus those its table offload answered."""
    return st["bridge"]["upcalls"] + st["offload"]["handled"]


def installed(st: dict) -> int:
    """Megaflows the bridge installed, by xlate or by its table offload."""
    return st["bridge"]["flows_installed"] + st["offload"]["installed"]


def test_learning_switch_installs_flows_then_datapath_forwards(osken, bridge_daemon):
    ctl, br = connect(osken, bridge_daemon, "secure")
    st0 = br.stats()
    assert st0["bridge"]["packet_ins"] == 0 and st0["bridge"]["upcalls"] == 0
    # The table-miss flow: match all, priority 0, output:CONTROLLER, OFPCML_NO_BUFFER.
    assert [(r["priority"], r["match"], r["actions"]) for r in st0["rules"]] == \
        [(0, {}, [f"ActionOutput(port={CONTROLLER}, max_len=65535)"])], st0["rules"]

    ab, ba = frame(A, B, 1), frame(B, A, 1)

    # 1. A->B on port 1: table-miss -> packet-in; B unknown: packet-out FLOOD.
    br.inject(1, ab)
    st1 = settle(br, ctl, {1: 0, 2: 1, 3: 1}, packet_ins=1)
    pin = ctl.events("packet_in")[0]
    assert (pin["in_port"], pin["src"], pin["dst"]) == (1, A, B)
    assert bytes.fromhex(pin["data"]) == ab and pin["len"] == len(ab)
    assert pin["reason"] == 0 and pin["table_id"] == 0   # OFPR_NO_MATCH
    assert pin["buffer_id"] == 0xFFFFFFFF
    assert [e["out_port"] for e in ctl.events("packet_out")] == [FLOOD]
    assert st1["bridge"]["packet_ins"] == 1
    assert st1["packet_outs"] == 1

    # 2. B->A on port 2: A is known at 1 -> flow (2, A, B -> 1) and packet-out to 1.
    br.inject(2, ba)
    st2 = settle(br, ctl, {1: 1, 2: 1, 3: 1}, packet_ins=2)
    assert [(e["in_port"], e["src"], e["dst"], e["out_port"])
            for e in ctl.events("flow_mod")] == [(2, B, A, 1)]
    assert st2["bridge"]["packet_ins"] == 2 and st2["packet_outs"] == 2
    p1 = [r for r in st2["rules"] if r["priority"] == 1]
    assert len(p1) == 1, st2["rules"]
    assert p1[0]["match"]["in_port"][0] == 2

    # 3. A->B again: B is now known, but no flow matches A->B yet: one more packet-in;
    # the controller installs (1, B, A -> 2) and sends the packet out port 2.
    br.inject(1, ab)
    st3 = settle(br, ctl, {1: 1, 2: 2, 3: 1}, packet_ins=3)
    assert [(e["in_port"], e["src"], e["dst"], e["out_port"])
            for e in ctl.events("flow_mod")][1:] == [(1, A, B, 2)]
    assert len([r for r in st3["rules"] if r["priority"] == 1]) == 2
    assert st3["bridge"]["packet_ins"] == 3

    # 4. Now both directions have flows: the datapath forwards by itself. The first
    # packet of each direction misses the megaflow cache once (the controller's rule
    # only outputs, so the bridge's table offload answers the miss in the datapath: no
    # upcall, no packet-in); the rest are megaflow hits. (The first ones go alone:
    # packets queued behind an unhandled miss miss too.)
    later_ab = [frame(A, B, sport) for sport in range(10, 16)]
    later_ba = [frame(B, A, sport) for sport in range(20, 24)]
    up3, mi3, in3 = st3["bridge"]["upcalls"], misses(st3), installed(st3)
    br.inject(1, later_ab[0])
    br.inject(2, later_ba[0])
    st = settle(br, ctl, {1: 2, 2: 3, 3: 1}, packet_ins=3)
    assert misses(st) == mi3 + 2 and st["bridge"]["upcalls"] == up3, (st3, st)
    assert installed(st) == in3 + 2
    for pkt in later_ab[1:]:
        br.inject(1, pkt)
    for pkt in later_ba[1:]:
        br.inject(2, pkt)
    st4 = settle(br, ctl, {1: 1 + len(later_ba), 2: 2 + len(later_ab), 3: 1}, packet_ins=3)
    assert st4["bridge"]["packet_ins"] == 3, st4["bridge"]
    assert st4["packet_outs"] == 3
    assert misses(st4) == mi3 + 2, (st3, st4)
    # ... and a second round is pure megaflow hits.
    more = [frame(A, B, sport) for sport in range(30, 34)]
    for pkt in more:
        br.inject(1, pkt)
    st5 = settle(br, ctl, {1: 1 + len(later_ba), 2: 2 + len(later_ab) + len(more), 3: 1},
                 packet_ins=3)
    assert misses(st5) == misses(st4), (st4, st5)
    assert st5["bridge"]["packet_ins"] == 3
    hits = sum(p["megaflow_hits"] + p["emc_hits"] for p in st5["pmds"])
    assert hits >= len(more)
    forwarding = [f for f in st5["dp_flows"] if "userspace" not in f["flow"]]
    assert any(f["packets"] >= len(more) for f in forwarding), st5["dp_flows"]
    # The rules were credited with the datapath's counters (run_periodic, every 1 s).
    def counts() -> dict[int, int]:
        return {r["match"]["in_port"][0]: r["packet_count"]
                for r in br.stats()["rules"] if r["priority"] == 1}

    assert wait_until(lambda: counts()[1] >= len(later_ab) + len(more)
                      and counts()[2] >= len(later_ba), 5), counts()

    # 5. The controller goes away; secure fail mode keeps the flow table: known flows
    # still forward, an unknown one (C) is dropped (no packet-in can be delivered).
    ctl.stop()
    assert wait_until(lambda: not br.stats()["controller_connected"], 10)
    after_ab = [frame(A, B, sport) for sport in range(40, 43)]
    after_ba = [frame(B, A, 50)]
    for pkt in after_ab:
        br.inject(1, pkt)
    for pkt in after_ba:
        br.inject(2, pkt)
    br.inject(3, frame(C, A, 60))
    br.inject(1, frame(A, C, 61))
    n1, n2 = 1 + len(later_ba) + len(after_ba), 2 + len(later_ab) + len(more) + len(after_ab)
    st6 = settle(br, None, {1: n1, 2: n2, 3: 1})
    assert len(st6["rules"]) == 3        # the table is kept

    # 6. Exactly these frames, in this order, on each port.
    out = br.outputs()
    assert out[3] == [ab]
    assert out[1] == [ba, *later_ba, *after_ba]
    assert out[2] == [ab, ab, *later_ab, *more, *after_ab]


def test_standalone_fail_mode_normal_takes_over(osken, bridge_daemon):
    ctl, br = connect(osken, bridge_daemon, "standalone")
    ab, ba = frame(A, B, 1), frame(B, A, 1)
    br.inject(1, ab)
    settle(br, ctl, {1: 0, 2: 1, 3: 1}, packet_ins=1)
    br.inject(2, ba)
    settle(br, ctl, {1: 1, 2: 1, 3: 1}, packet_ins=2)
    br.inject(1, ab)
    settle(br, ctl, {1: 1, 2: 2, 3: 1}, packet_ins=3)
    br.inject(1, frame(A, B, 2))
    st = settle(br, ctl, {1: 1, 2: 3, 3: 1}, packet_ins=3)
    assert st["bridge"]["packet_ins"] == 3

    # The controller goes away: standalone -> fail-open, the bridge acts as a learning
    # switch (NORMAL), overriding the controller's flows (OVS's fail-open rule has a
    # priority above any OpenFlow rule). A frame from a new host C floods.
    ctl.stop()
    assert wait_until(lambda: not br.stats()["controller_connected"], 10)
    ca = frame(C, A, 70)
    br.inject(3, ca)
    settle(br, None, {1: 2, 2: 4, 3: 1})
    # NORMAL learned C on port 3: A->C goes to port 3 only.
    ac = frame(A, C, 71)
    br.inject(1, ac)
    settle(br, None, {1: 2, 2: 4, 3: 2})
    # A->B: NORMAL has not learned B (the controller's flows did the forwarding so far),
    # so it floods -- unless a megaflow from the controller's rule is still used.
    ab2 = frame(A, B, 72)
    br.inject(1, ab2)
    settle(br, None, {1: 2, 2: 5, 3: 3})
    out = br.outputs()
    assert out[1] == [ba, ca]
    assert out[2] == [ab, ab, frame(A, B, 2), ca, ab2]
    assert out[3] == [ab, ac, ab2]


def test_standalone_fail_open_applies_to_existing_megaflows(osken, bridge_daemon):
    ctl, br = connect(osken, bridge_daemon, "standalone")
    ab, ba = frame(A, B, 1), frame(B, A, 1)
    for port, pkt, tx, n in [(1, ab, {1: 0, 2: 1, 3: 1}, 1), (2, ba, {1: 1, 2: 1, 3: 1}, 2),
                             (1, ab, {1: 1, 2: 2, 3: 1}, 3)]:
        br.inject(port, pkt)
        settle(br, ctl, tx, packet_ins=n)
    br.inject(1, frame(A, B, 2))                 # a megaflow from rule (1, B, A -> 2)
    settle(br, ctl, {1: 1, 2: 3, 3: 1}, packet_ins=3)
    ctl.stop()
    assert wait_until(lambda: not br.stats()["controller_connected"], 10)
    # Fail-open: NORMAL, whose MAC table is empty, floods A->B to ports 2 and 3 (and
    # learns A). The controller-era megaflow would send it to port 2 only.
    ab2 = frame(A, B, 3)
    br.inject(1, ab2)
    wait_until(lambda: br.tx()[3] >= 2, 3)
    settle(br, None, {1: 1, 2: 4, 3: 2})


def test_ovs_ofctl_packet_out_and_port_stats(bridge_daemon):
    """ovs-ofctl packet-out runs actions through the datapath; dump-ports reads the
    datapath's port counters."""
    br = bridge_daemon(None, "secure")
    pkt = frame(A, B, 9)
    run_ofctl(br.rundir, "packet-out", "br0", "CONTROLLER", "output:2,output:3", pkt.hex(),
              proto="OpenFlow13")
    wait_until(lambda: br.tx().get(2) == 1 and br.tx().get(3) == 1)
    ports = run_ofctl(br.rundir, "dump-ports", "br0", "2", proto="OpenFlow13").stdout
    assert re.search(r"tx pkts=1\b", ports), ports
    out = br.outputs()
    assert out[2] == [pkt] and out[3] == [pkt] and out[1] == []
