#!/usr/bin/env python3
"""OVSDB server benchmark: Debian's ovsdb-server and ours, side by side in one run.

Each server runs on its own tmp database made from ovsdb/schemas/vswitch.ovsschema:

  (a) one ``ovs-vsctl --no-wait`` invocation adding 1,000 ports to br0 (one transaction)
  (b) 10,000 small transact calls, sequential request/reply on one raw socket
  (c) one transaction fanned out to 100 monitoring clients: time from sending the
      transact until all 100 have received the update

Prints the median of N runs (default 3) for each server and the ratio ours/reference.

usage: .venv/bin/python bench/ovsdb_bench.py [--only ours|reference] [--runs N]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1] / "tests"
sys.path.insert(0, str(TESTS))

from conftest import VSWITCH_SCHEMA, OvsdbServer  # noqa: E402  (one copy of the launcher)
from ovsdb_client import AsyncClient, Client  # noqa: E402

#: Arms: Debian's server; ours as shipped (fsync before every acknowledgement); ours
#: with --sync=durable, which fsyncs only durable commits as ovsdb-server does.
ARMS = {"reference": ("reference", ()),
        "ours": ("ours", ()),
        "ours-durable": ("ours", ("--sync=durable",))}
KINDS = tuple(ARMS)


def bench_add_ports(srv: OvsdbServer, n_ports: int) -> float:
    """(a) seconds for one ovs-vsctl invocation with ``n_ports`` add-port commands."""
    vsctl = [shutil.which("ovs-vsctl"), "--no-wait", f"--db={srv.remote}", "--timeout=600"]
    subprocess.run([*vsctl, "init", "--", "add-br", "br0"], check=True, capture_output=True,
                   env=srv.env)
    args = []
    for i in range(n_ports):
        args += ["--", "add-port", "br0", f"p{i}"]
    t0 = time.perf_counter()
    r = subprocess.run([*vsctl, *args], capture_output=True, text=True, env=srv.env)
    elapsed = time.perf_counter() - t0
    if r.returncode != 0:
        raise RuntimeError(f"ovs-vsctl failed: {r.stderr.strip()[:200]}")
    count = subprocess.run([*vsctl, "list-ports", "br0"], check=True, capture_output=True,
                           text=True, env=srv.env).stdout.split()
    if len(count) != n_ports:
        raise RuntimeError(f"expected {n_ports} ports, found {len(count)}")
    return elapsed


def bench_small_transactions(srv: OvsdbServer, n_txns: int) -> float:
    """(b) seconds for ``n_txns`` sequential small write transactions on one socket."""
    with Client(srv.remote, timeout=60) as c:
        c.transact("Open_vSwitch", {"op": "select", "table": "Open_vSwitch", "where": []})
        t0 = time.perf_counter()
        for i in range(n_txns):
            res = c.transact("Open_vSwitch", {
                "op": "update", "table": "Open_vSwitch", "where": [],
                "row": {"external_ids": ["map", [["bench", str(i)]]]}})
            if res != [{"count": 1}]:
                raise RuntimeError(f"transaction {i} failed: {res}")
        return time.perf_counter() - t0


async def _fanout(remote: str, n_clients: int) -> float:
    received = asyncio.Event()
    pending = set(range(n_clients))
    marker = f"fanout-{time.monotonic_ns()}"
    clients = []
    try:
        for k in range(n_clients):
            c = await AsyncClient.connect(remote)

            def on_note(msg, k=k):
                if msg["method"] == "update" and marker in str(msg["params"][1]):
                    pending.discard(k)
                    if not pending:
                        received.set()

            c.on_notification = on_note
            clients.append(c)
        await asyncio.gather(*[
            c.request("monitor", ["Open_vSwitch", f"m{k}",
                                  {"Open_vSwitch": {"columns": ["external_ids"]}}])
            for k, c in enumerate(clients)])
        writer = await AsyncClient.connect(remote)
        clients.append(writer)
        t0 = time.perf_counter()
        fut = writer.send_request("transact", ["Open_vSwitch", {
            "op": "update", "table": "Open_vSwitch", "where": [],
            "row": {"external_ids": ["map", [["fanout", marker]]]}}])
        await asyncio.wait_for(received.wait(), 60)
        elapsed = time.perf_counter() - t0
        reply = await fut
        if reply.get("error") is not None:
            raise RuntimeError(f"transact failed: {reply}")
        return elapsed
    finally:
        await asyncio.gather(*[c.close() for c in clients], return_exceptions=True)


def bench_fanout(srv: OvsdbServer, n_clients: int) -> float:
    """(c) seconds from sending one transact until ``n_clients`` monitors have the update."""
    return asyncio.run(_fanout(srv.remote, n_clients))


def one_run(kind: str, args, results: dict) -> None:
    rundir = Path(tempfile.mkdtemp(prefix=f"ovsdb-bench-{kind[:3]}-", dir="/tmp"))
    server_kind, extra = ARMS[kind]
    srv = OvsdbServer(rundir, VSWITCH_SCHEMA, rundir / "db", kind=server_kind,
                      extra_args=extra)
    try:
        srv.start(timeout=60)
        for name, fn, n in (("a", bench_add_ports, args.ports),
                            ("b", bench_small_transactions, args.txns),
                            ("c", bench_fanout, args.monitors)):
            try:
                results[kind][name].append(fn(srv, n))
            except Exception as exc:  # keep going: report the failure in the table
                results[kind].setdefault("errors", {})[name] = f"{type(exc).__name__}: {exc}"
                if not srv.running:
                    srv.start(timeout=60)
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt):
            raise
        results[kind].setdefault("errors", {})["start"] = f"{type(exc).__name__}: {exc}"
    finally:
        srv.stop()
        shutil.rmtree(rundir, ignore_errors=True)


def fmt(values):
    return f"{statistics.median(values):9.3f} s" if values else "      n/a  "


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", choices=KINDS, help="benchmark just one server (debugging)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--ports", type=int, default=1000)
    ap.add_argument("--txns", type=int, default=10000)
    ap.add_argument("--monitors", type=int, default=100)
    args = ap.parse_args()
    kinds = (args.only,) if args.only else KINDS
    for tool in ("ovs-vsctl", "ovsdb-tool"):
        if not shutil.which(tool):
            print(f"missing peer tool {tool} (openvswitch-common)", file=sys.stderr)
            return 2
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 4 * args.monitors + 64:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4 * args.monitors + 64), hard))

    results = {k: {"a": [], "b": [], "c": []} for k in kinds}
    for run in range(args.runs):
        for kind in kinds:  # interleaved, so both see the same machine conditions
            print(f"run {run + 1}/{args.runs}: {kind} ...", file=sys.stderr, flush=True)
            one_run(kind, args, results)

    labels = {"a": f"(a) {args.ports} add-port, one ovs-vsctl txn",
              "b": f"(b) {args.txns} sequential small transacts",
              "c": f"(c) 1 txn fanned out to {args.monitors} monitors"}
    title = f"benchmark (median of {args.runs})"
    ours = [k for k in kinds if k != "reference"]
    with_ref = "reference" in kinds
    header = f"{title:<44}" + "".join(f"{k:>14}" for k in kinds)
    if with_ref:
        header += "".join(f"{k + '/ref':>18}" for k in ours)
    print(header)
    print("-" * len(header))
    for key, label in labels.items():
        line = f"{label:<44}" + "".join(f"{fmt(results[k][key]):>14}" for k in kinds)
        if with_ref:
            ref = results["reference"][key]
            for k in ours:
                mine = results[k][key]
                ratio = f"{statistics.median(mine) / statistics.median(ref):.2f}" \
                    if ref and mine else "n/a"
                line += f"{ratio:>18}"
        print(line)
    failed = False
    for kind in kinds:
        for key, err in results[kind].get("errors", {}).items():
            failed = True
            print(f"{kind} ({key}) failed: {err}")
    return 1 if failed else 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    sys.exit(main())
