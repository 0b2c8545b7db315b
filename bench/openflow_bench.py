#!/usr/bin/env python3
"""OpenFlow benchmark: Debian's OVS 3.1 and ours side by side in one run.

Metrics (``--metrics``, default all):

* ``add``: wall time of ``ovs-ofctl -O OpenFlow13 add-flows br0 FILE`` (``--protocol``
  chooses the version; ovs-ofctl's own default is OpenFlow10) with ``--flows``
  (100k) distinct rules ``priority=100+i%100,udp,nw_src=A_i,tp_src=P_i,actions=output:2``
  into an empty table (``del-flows`` first).  ovs-ofctl sends each flow-mod followed
  by a barrier and waits for the barrier reply before the next, so this is 100k round
  trips: the switch's latency per flow-mod, not its throughput.
* ``dump``: wall time of ``ovs-ofctl -O OpenFlow13 dump-flows br0`` of those rules, and
  a check that it printed exactly ``--flows`` flow lines.
* ``setup``: flow setups per second.  ``--setup-flows`` (100k) new microflows (distinct
  UDP 5-tuples, the pcap of bench/datapath_bench.py) enter port 1 of a bridge with three
  ports, through pipeline ``normal`` (``actions=NORMAL``) or ``exact`` (``--exact-rules``
  (10k) ``priority=100,udp,in_port=1,nw_src,nw_dst,tp_src,tp_dst,actions=output:2``
  rules covering the first 10k microflows, plus ``priority=0,actions=output:3``).  Each
  miss is translated and its megaflow installed: in OVS by an upcall in the PMD; in
  ours by the table offload while the control thread drains the upcall ring (table-0
  rules that only output, as in ``exact``), or else by an upcall to Python's xlate
  (``normal``).  Reported: microflows per second (N / time until the last of them was
  handled), megaflows installed per second, and the counts behind them (megaflows,
  upcalls, datapath misses, frames).

How each side runs:

* OVS, add/dump: ``ovsdb-server`` + Debian's plain ``ovs-vswitchd`` (no DPDK) with
  ``--enable-dummy=override`` (so no host interface is created), bridge br0
  ``datapath_type=netdev fail_mode=secure`` and two ``dummy`` ports (ofport 1, 2).
* ours, add/dump: ``tests/helpers/switch_daemon.py RUNDIR br0 3`` (the OpenFlow switch
  with no datapath).  With ``--profile`` one extra add-flows run is made with the daemon
  under cProfile (not timed) and its top functions are printed.
* OVS, setup: ``ovs-vswitchd-dpdk`` with DESIGN.md section 4's other_config (lcore 0,
  PMD on CPU 1, ``--no-pci --file-prefix --huge-unlink``), ``--enable-dummy=override``,
  sinks ``net_null`` (ofport 2, 3); per run: program the table, ``dpctl/del-flows``,
  ``fdb/flush``, ``upcall/set-flow-limit`` (see below), then add ``net_pcap`` port 1
  replaying the pcap **once** (no ``infinite_rx``).  OVS handles misses synchronously in
  the PMD.  ``dpctl/show`` and ``pmd-stats-show`` are polled every ~20 ms; the time is
  from the moment ``ovs-vsctl add-port`` returned to the last poll at which the flow
  count or the packet count changed.  OVS's upcall path refuses to install megaflows
  beyond its dynamic flow limit, which starts at 10,000 and grows by 1,000 per
  revalidator round (about 0.5 s): without raising it a one-shot replay installs only
  ~10k megaflows.  The bench raises it with ``ovs-appctl upcall/set-flow-limit
  200000`` (OVS's own test hook; other_config:flow-limit is 200000 by default) and
  sets ``max-idle`` to 10 min so no megaflow expires while measured.
* ours, setup: bench/_openflow_arm.py in its own process: our datapath (EAL
  ``--no-huge``, PMD on CPU 1) with an ``OFBridge`` and three ``net_null`` ports; the
  frames are injected as received on port 1 (``execute`` + ``recirc(0)``) in batches of
  ``--batch`` and the upcall ring drained after each batch (the table offload answers
  what it can; the rest go to ``bridge.handle_upcalls``) (``--ours-mode inject``,
  default).  ``--ours-mode pcap`` uses a one-shot ``net_pcap``
  port as OVS does, but our 1,023-entry upcall pool then drops most misses (counted as
  lost), so it shows the loss rather than a rate.  ``--setup-timeout`` caps a run
  (default 120 s); the rate is then over the frames handled so far.

Cells are medians of ``--runs`` (3).  The machine is shared: compare within one run.
Every process is stopped by pid; run dirs are private temporary directories; only vdevs
and Unix sockets are used.

usage: .venv/bin/python bench/openflow_bench.py [--metrics add,dump,setup]
           [--arms ovs,ours] [--pipelines normal,exact] [--runs N] [--flows N]
           [--setup-flows N] [--exact-rules N] [--profile] [--json FILE] [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import pstats
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from _datapath_arm import DST_IP, DST_PORT, flow_tuple  # noqa: E402
from datapath_bench import (  # noqa: E402
    OVS_DPDK,
    PrivateOvs,
    dpdk_other_config,
    ensure_hugepages,
    ensure_ovs_dpdk,
    remove_dpdk_runtime,
    stop_pid,
    write_pcap,
)

METRICS = ("add", "dump", "setup")
ARMS = ("ovs", "ours")
PIPELINES = ("normal", "exact")
FLOW_LIMIT = 200000


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def write_rules(path: Path, n: int) -> None:
    """``n`` distinct rules for the add/dump metrics."""
    with open(path, "w") as f:
        for i in range(n):
            f.write(f"priority={100 + i % 100},udp,nw_src=10.{1 + (i >> 16)}."
                    f"{(i >> 8) & 255}.{i & 255},tp_src={1024 + i % 50000},"
                    "actions=output:2\n")


def write_pipeline(path: Path, pipeline: str, exact_rules: int) -> None:
    """The OpenFlow table of a setup pipeline (what _openflow_arm.program installs)."""
    with open(path, "w") as f:
        if pipeline == "normal":
            f.write("priority=0,actions=NORMAL\n")
            return
        for i in range(exact_rules):
            src, sport = flow_tuple(i)
            f.write(f"priority=100,udp,in_port=1,nw_src={src},nw_dst={DST_IP},"
                    f"tp_src={sport},tp_dst={DST_PORT},actions=output:2\n")
        f.write("priority=0,actions=output:3\n")


def ofctl(env: dict, *a: str, timeout: float = 1800) -> tuple[float, str]:
    """Runs ovs-ofctl; returns (wall seconds, stdout)."""
    t0 = time.perf_counter()
    r = subprocess.run(["ovs-ofctl", *a], capture_output=True, text=True, env=env,
                       timeout=timeout)
    dt = time.perf_counter() - t0
    if r.returncode:
        raise RuntimeError(f"ovs-ofctl {' '.join(a[:3])}: {r.stderr.strip()[-500:]}")
    return dt, r.stdout


def count_flow_lines(text: str) -> int:
    return sum(1 for line in text.splitlines() if " actions=" in line)


# -- OVS ---------------------------------------------------------------------------------


class Ovs(PrivateOvs):
    """ovsdb-server + ovs-vswitchd (plain, or the DPDK build) in a private directory."""

    def __init__(self, workdir: Path, dpdk: bool, prefix: str) -> None:
        super().__init__(workdir, prefix, OVS_DPDK if dpdk else "ovs-vswitchd")
        self.dpdk = dpdk

    def start(self) -> None:
        cfg = [f"flow-limit={FLOW_LIMIT}", "max-idle=600000"]
        vsd = self.start_daemons(cfg + (dpdk_other_config(self.prefix) if self.dpdk else []))
        self.vsctl("add-br", "br0", "--", "set", "Bridge", "br0", "datapath_type=netdev",
                   "fail_mode=secure")
        if self.dpdk:
            for ofport in (2, 3):
                self.vsctl("add-port", "br0", f"p{ofport}", "--", "set", "Interface",
                           f"p{ofport}", "type=dpdk",
                           f"options:dpdk-devargs=net_null_p{ofport},no-rx=1",
                           f"ofport_request={ofport}")
        else:
            for ofport in (1, 2):
                self.vsctl("add-port", "br0", f"p{ofport}", "--", "set", "Interface",
                           f"p{ofport}", "type=dummy", f"ofport_request={ofport}")
        self._wait_for(self.dir / "br0.mgmt", vsd, "br0.mgmt")

    # -- setup measurement --

    def dp_flows(self) -> int:
        m = re.search(r"flows: (\d+)", self.appctl("dpctl/show"))
        return int(m.group(1)) if m else 0

    def pmd_counter(self, key: str) -> int:
        total = 0
        for line in self.appctl("dpif-netdev/pmd-stats-show").splitlines():
            k, sep, v = line.strip().partition(":")
            if sep and k == key and v.strip():
                total += int(float(v.split()[0]))
        return total

    def setup_run(self, pcap: Path, n: int, rules: Path, timeout: float) -> dict:
        ofctl(self.env, "del-flows", "br0")
        ofctl(self.env, "-O", "OpenFlow13", "add-flows", "br0", str(rules))
        self.appctl("dpctl/del-flows")
        self.appctl("fdb/flush", "br0")
        self.appctl("upcall/set-flow-limit", str(FLOW_LIMIT))
        self.appctl("dpif-netdev/pmd-stats-clear")
        self.seq += 1
        t0 = time.perf_counter()
        self.vsctl("add-port", "br0", "p1", "--", "set", "Interface", "p1", "type=dpdk",
                   f"options:dpdk-devargs=net_pcap_p1_{self.seq},rx_pcap={pcap}",
                   "ofport_request=1")
        t1 = last = time.perf_counter()
        try:
            state = (-1, -1)
            while True:
                pkts = self.pmd_counter("packets received")
                flows = self.dp_flows()
                now = time.perf_counter()
                if (pkts, flows) != state:
                    state, last = (pkts, flows), now
                elif pkts >= n and now - last > 1.0:
                    break
                if now - t1 > timeout:
                    break
                time.sleep(0.02)
            upcalls = self.pmd_counter("miss with success upcall")
            failed = self.pmd_counter("miss with failed upcall")
            sample = ""
            for line in self.appctl("dpctl/dump-flows").splitlines():
                if "actions:" in line:
                    sample = line.split(", packets:")[0]
                    break
        finally:
            self.vsctl("del-port", "br0", "p1")
        return {"elapsed_s": last - t1, "port_add_s": t1 - t0, "frames": state[0],
                "flows": state[1], "upcalls": upcalls, "failed_upcalls": failed,
                "mask": sample}


# -- ours ----------------------------------------------------------------------------------


class OurSwitch:
    """tests/helpers/switch_daemon.py in a private run dir (optionally under cProfile)."""

    def __init__(self, workdir: Path, profile: Path | None = None) -> None:
        self.dir = workdir
        self.env = {**os.environ, "OVS_RUNDIR": str(workdir), "PYTHONPATH": str(ROOT)}
        # -P: the daemon imports the project from PYTHONPATH, never from modules next
        # to the script in tests/helpers (which could shadow a package).
        argv = [sys.executable, "-P"]
        if profile is not None:
            argv += ["-m", "cProfile", "-o", str(profile)]
        argv += [str(ROOT / "tests" / "helpers" / "switch_daemon.py"), str(workdir), "br0",
                 "3"]
        self.log = open(workdir / "switch.log", "w")  # noqa: SIM115
        self.proc = subprocess.Popen(argv, env=self.env, stdout=subprocess.PIPE,
                                     stderr=self.log, text=True, cwd=str(workdir))
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if line.strip() != "ready":
            self.stop()
            raise RuntimeError(f"switch daemon not ready: {(workdir / 'switch.log').read_text()}")

    def stop(self) -> None:
        stop_pid(self.proc, timeout=60)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self.log.close()


def run_add_dump(env: dict, rules: Path, n: int, args, who: str) -> list[dict]:
    runs = []
    for r in range(args.runs):
        ofctl(env, "del-flows", "br0")
        out: dict = {}
        if "add" in args.metrics:
            out["add_s"], _ = ofctl(env, "-O", args.protocol, "add-flows", "br0", str(rules))
            log(f"  {who} add-flows run {r + 1}: {out['add_s']:.2f} s")
        if "dump" in args.metrics:
            if "add" not in args.metrics and r == 0:
                ofctl(env, "-O", args.protocol, "add-flows", "br0", str(rules))
            out["dump_s"], text = ofctl(env, "-O", args.protocol, "dump-flows", "br0")
            out["dump_lines"] = count_flow_lines(text)
            log(f"  {who} dump-flows run {r + 1}: {out['dump_s']:.2f} s, "
                f"{out['dump_lines']} flows")
        runs.append(out)
    return runs


def profile_ours(rules: Path, tmp: Path) -> str:
    """One add-flows of ``rules`` into the switch daemon under cProfile: top functions."""
    workdir = Path(tempfile.mkdtemp(prefix="ours-prof-", dir=tmp))
    prof = workdir / "switch.prof"
    sw = OurSwitch(workdir, profile=prof)
    try:
        ofctl(sw.env, "-O", "OpenFlow13", "add-flows", "br0", str(rules))
    finally:
        sw.stop()
    import io

    text = io.StringIO()
    st = pstats.Stats(str(prof), stream=text)
    st.strip_dirs().sort_stats("tottime").print_stats(25)
    st.sort_stats("cumulative").print_stats(30)
    return text.getvalue()


def run_ours_setup(pcap: Path, args, prefix: str, tmp: Path) -> dict:
    cfg = {"bench_dir": str(HERE), "prefix": prefix, "pcap": str(pcap),
           "flows": args.setup_flows, "exact_rules": args.exact_rules,
           "pipelines": args.pipelines, "runs": args.runs, "mode": args.ours_mode,
           "batch": args.batch, "workdir": str(tmp), "timeout": args.setup_timeout,
           "profile": str(tmp / "ours-setup-prof") if args.profile else None}
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, str(HERE / "_openflow_arm.py"), json.dumps(cfg)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env)
    budget = 120 + len(args.pipelines) * args.runs * (args.setup_timeout + 120)
    try:
        stdout, stderr = proc.communicate(timeout=budget)
    finally:
        stop_pid(proc)
        remove_dpdk_runtime(prefix)
    if proc.returncode or not stdout.strip():
        raise RuntimeError(f"ours exited {proc.returncode}: {stderr.strip()[-1500:]}")
    out = json.loads(stdout.strip().splitlines()[-1])
    if args.profile:
        out["profiles"] = {}
        for p in args.pipelines:
            f = tmp / f"ours-setup-prof.{p}.txt"
            if f.exists():
                out["profiles"][p] = f.read_text()
    return out


# -- report --------------------------------------------------------------------------------


def med(runs: list[dict] | None, key: str) -> float | None:
    vals = [r[key] for r in runs or [] if r.get(key) is not None]
    return statistics.median(vals) if vals else None


def setup_rates(runs: list[dict] | None) -> dict | None:
    if not runs:
        return None
    per = [{"micro": r["frames"] / r["elapsed_s"] if r["elapsed_s"] > 0 else None,
            "mega": r["flows"] / r["elapsed_s"] if r["elapsed_s"] > 0 else None,
            **r} for r in runs]
    return {k: med(per, k) for k in ("micro", "mega", "elapsed_s", "frames", "flows",
                                     "upcalls", "misses")}


def fmt(v: float | None, spec: str) -> str:
    return "n/a" if v is None else format(v, spec)


def print_table(results: dict, args) -> None:
    rows = []
    ovs, ours = results.get("ovs", {}), results.get("ours", {})
    n = args.flows

    def ratio(o, u):
        return f"{u / o:.2f}" if o and u is not None else "n/a"

    if "add" in args.metrics:
        o, u = med(ovs.get("addump"), "add_s"), med(ours.get("addump"), "add_s")
        rows.append([f"add-flows {n} (s)", fmt(o, ".2f"), fmt(u, ".2f"), ratio(o, u),
                     "≤ 1x OVS", "yes" if o and u is not None and u <= o else "no"])
    if "dump" in args.metrics:
        o, u = med(ovs.get("addump"), "dump_s"), med(ours.get("addump"), "dump_s")
        ol, ul = med(ovs.get("addump"), "dump_lines"), med(ours.get("addump"), "dump_lines")
        rows.append([f"dump-flows {n} (s)", fmt(o, ".2f"), fmt(u, ".2f"), ratio(o, u),
                     "-", ""])
        rows.append(["dump-flows lines", fmt(ol, ".0f"), fmt(ul, ".0f"), "",
                     f"= {n}", "yes" if ul == n else "no"])
    if "setup" in args.metrics:
        for p in args.pipelines:
            o = setup_rates(ovs.get("setup", {}).get(p))
            u = setup_rates(ours.get("setup", {}).get(p))
            om, um = (o or {}).get("micro"), (u or {}).get("micro")
            ok = "yes" if om and um is not None and um >= 0.5 * om else "no"
            rows.append([f"setup {p}: microflows/s", fmt(om, ",.0f"), fmt(um, ",.0f"),
                         ratio(om, um), "≥ 0.5x OVS", ok])
            og, ug = (o or {}).get("mega"), (u or {}).get("mega")
            rows.append([f"setup {p}: megaflows/s", fmt(og, ",.0f"), fmt(ug, ",.0f"),
                         ratio(og, ug), "", ""])
            # OVS upcalls every miss; ours answers some in the datapath (table offload).
            keys = ("flows", "upcalls", "misses", "frames")
            rows.append([f"setup {p}: megaflows / upcalls / misses / frames",
                         "/".join(fmt((o or {}).get(k), ".0f") for k in keys),
                         "/".join(fmt((u or {}).get(k), ".0f") for k in keys), "", "", ""])
    head = ["metric", "OVS", "ours", "ours/OVS", "target", "met"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for row in rows:
        print("| " + " | ".join(row) + " |")


def print_details(results: dict, args) -> None:
    for arm in ARMS:
        for p, runs in (results.get(arm, {}).get("setup") or {}).items():
            if not isinstance(runs, list):
                continue
            for r in runs:
                extra = {k: (round(v, 3) if isinstance(v, float) else v)
                         for k, v in r.items() if k != "mask"}
                print(f"# {arm} setup {p}: {extra}")
        masks = results.get(arm, {}).get("masks") or {}
        for p, text in masks.items():
            print(f"# {arm} {p} megaflow: {text}")
    for p, text in (results.get("ours", {}).get("setup_profiles") or {}).items():
        print(f"\n## cProfile of our setup path, pipeline {p} (first run)\n{text}")
    if results.get("ours", {}).get("add_profile"):
        print("\n## cProfile of the switch daemon during add-flows\n"
              + results["ours"]["add_profile"])


# -- main ------------------------------------------------------------------------------------


def _csv(text: str, allowed, what: str) -> list[str]:
    items = [x.strip() for x in text.split(",") if x.strip()]
    bad = [x for x in items if x not in allowed]
    if bad or not items:
        raise argparse.ArgumentTypeError(f"{what}: choose from {', '.join(allowed)}")
    return items


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--metrics", default=",".join(METRICS),
                    type=lambda s: _csv(s, METRICS, "--metrics"))
    ap.add_argument("--arms", default=",".join(ARMS), type=lambda s: _csv(s, ARMS, "--arms"))
    ap.add_argument("--pipelines", default=",".join(PIPELINES),
                    type=lambda s: _csv(s, PIPELINES, "--pipelines"))
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--flows", type=int, default=100000, help="rules for add/dump")
    ap.add_argument("--protocol", default="OpenFlow13",
                    choices=("OpenFlow10", "OpenFlow13", "OpenFlow14", "OpenFlow15"),
                    help="ovs-ofctl -O for add/dump (OpenFlow10 is ovs-ofctl's default)")
    ap.add_argument("--setup-flows", type=int, default=100000, help="new microflows")
    ap.add_argument("--exact-rules", type=int, default=10000)
    ap.add_argument("--batch", type=int, default=256,
                    help="ours: frames injected between upcall drains (< 1023)")
    ap.add_argument("--ours-mode", choices=("inject", "pcap"), default="inject")
    ap.add_argument("--setup-timeout", type=float, default=120.0)
    ap.add_argument("--profile", action="store_true",
                    help="profile ours (an extra add-flows run; the setup arm's first run)")
    ap.add_argument("--hugepages", type=int, default=1024)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--keep", action="store_true", help="keep run dirs (logs)")
    args = ap.parse_args(argv)
    if "setup" in args.metrics:
        if os.geteuid() != 0:
            ap.error("setup needs root (hugepages, DPDK)")
        if len(os.sched_getaffinity(0)) < 2:
            ap.error("setup needs CPUs 0 and 1")
    notes: list[str] = []
    if "setup" in args.metrics and "ovs" in args.arms:
        notes += ensure_hugepages(args.hugepages) + ensure_ovs_dpdk()
    for note in notes:
        print(f"# {note}", flush=True)
    results: dict = {arm: {} for arm in args.arms}
    errors: dict[str, str] = {}
    started = time.monotonic()
    tag = f"vswofb{os.getpid()}"
    tmp = Path(tempfile.mkdtemp(prefix="openflow-bench-"))
    try:
        rules = tmp / "rules.txt"
        write_rules(rules, args.flows)
        if {"add", "dump"} & set(args.metrics):
            for arm in args.arms:
                log(f"[{time.monotonic() - started:6.0f}s] add/dump: {arm}")
                workdir = Path(tempfile.mkdtemp(prefix=f"{arm}-", dir=tmp))
                try:
                    if arm == "ovs":
                        ovs = Ovs(workdir, dpdk=False, prefix="")
                        try:
                            ovs.start()
                            results[arm]["addump"] = run_add_dump(ovs.env, rules,
                                                                  args.flows, args, arm)
                        finally:
                            ovs.stop()
                    else:
                        sw = OurSwitch(workdir)
                        try:
                            results[arm]["addump"] = run_add_dump(sw.env, rules,
                                                                  args.flows, args, arm)
                        finally:
                            sw.stop()
                        if args.profile and "add" in args.metrics:
                            log(f"[{time.monotonic() - started:6.0f}s] profiling ours")
                            results[arm]["add_profile"] = profile_ours(rules, tmp)
                except (RuntimeError, OSError, subprocess.SubprocessError) as e:
                    log(f"  {arm} add/dump failed: {e}")
                    errors[f"{arm}/addump"] = str(e)
        if "setup" in args.metrics:
            pcap = tmp / "setup.pcap"
            write_pcap(pcap, args.setup_flows)
            for arm in args.arms:
                log(f"[{time.monotonic() - started:6.0f}s] setup: {arm}")
                prefix = f"{tag}{arm}"
                try:
                    if arm == "ovs":
                        workdir = Path(tempfile.mkdtemp(prefix="ovsdpdk-", dir=tmp))
                        ovs = Ovs(workdir, dpdk=True, prefix=prefix)
                        setup: dict = {}
                        try:
                            ovs.start()
                            for p in args.pipelines:
                                pipe = workdir / f"{p}.txt"
                                write_pipeline(pipe, p, args.exact_rules)
                                for r in range(args.runs):
                                    res = ovs.setup_run(pcap, args.setup_flows, pipe,
                                                        args.setup_timeout)
                                    log(f"  ovs {p} run {r + 1}: {res}")
                                    setup.setdefault(p, []).append(res)
                                    results[arm].setdefault("masks", {})[p] = res["mask"]
                        finally:
                            ovs.stop()
                        results[arm]["setup"] = setup
                    else:
                        out = run_ours_setup(pcap, args, prefix, tmp)
                        results[arm]["setup"] = {p: out[p] for p in args.pipelines if p in out}
                        results[arm]["masks"] = out.get("masks", {})
                        results[arm]["setup_profiles"] = out.get("profiles", {})
                        for p in args.pipelines:
                            for r in out.get(p, []):
                                log(f"  ours {p}: {r}")
                except (RuntimeError, OSError, subprocess.SubprocessError) as e:
                    log(f"  {arm} setup failed: {e}")
                    errors[f"{arm}/setup"] = str(e)
    finally:
        if args.keep:
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print(f"# {time.strftime('%Y-%m-%d %H:%M')}  {os.uname().nodename}  "
          f"{os.cpu_count()} CPUs  runs={args.runs}  flows={args.flows}  "
          f"setup-flows={args.setup_flows}  exact-rules={args.exact_rules}  "
          f"ours-mode={args.ours_mode}  batch={args.batch}")
    print_table(results, args)
    print_details(results, args)
    for k, v in errors.items():
        print(f"# error {k}: {v[:300]}")
    if args.json:
        args.json.write_text(json.dumps({"notes": notes, "args": {
            k: str(v) for k, v in vars(args).items()}, "results": results}, indent=1,
            default=str))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
