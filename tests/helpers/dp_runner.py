"""The userspace datapath in a process of its own, driven over a pipe.

DPDK's EAL initialises once per process, so tests that need EAL options of their own
(hugepages for vhost-user, a private --file-prefix) run the datapath here:

    python dp_runner.py --reply-fd N [--pmd-sleep US] -- EAL ARGS...

It initialises the EAL through :func:`appliance.dpif.netdev.init_dpdk` (main lcore
the first usable CPU, one PMD on the next), then reads one JSON command per line on
stdin and writes one JSON reply per line to fd N (DPDK logs to stdout, so replies get
a pipe of their own). Commands: ``{"op": ...}`` with

- ``port_add`` name, type, options, port_no -> {"port_no"}
- ``port_del`` port_no
- ``flow_put`` in_port, actions (ODP text) -> {"ufid"}: a megaflow on in_port alone
- ``flow_get`` / ``flow_del`` ufid -> FlowStats fields
- ``port_stats`` port_no -> PortStats fields; ``port_info`` port_no -> link_up, driver
- ``upcalls`` -> queued upcalls (kind, in_port, len, first bytes), dequeued
- ``mbufs`` -> {"mbufs"}; ``pmd_stats``; ``ping``; ``quit``.

Replies are ``{"ok": true, ...}`` or ``{"ok": false, "errno": name, "error": text}``.
If EAL initialisation fails the first reply is an error and the process exits 3, so a
test can tell DPDK's message from a crash. :class:`DpRunner` is the test-side client.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

# -- the datapath side ------------------------------------------------------------------

def _serve(reply_fd: int, eal_args: list[str], pmd_sleep: int) -> int:
    from appliance.dpif import DpifError, FlowPut
    from appliance.dpif.netdev import NetdevDpif, eal_config, init_dpdk
    from appliance.dpif.odp import FlowKey, parse_actions

    out = os.fdopen(reply_fd, "w", buffering=1)

    def reply(**kw: Any) -> None:
        out.write(json.dumps(kw) + "\n")
        out.flush()

    def error(e: DpifError) -> None:
        reply(ok=False, errno=e.name, error=str(e))

    try:
        cfg = eal_config({"dpdk-extra": " ".join(eal_args)})
        init_dpdk(cfg)
        dp = NetdevDpif(vhost_dir=os.getcwd())
    except DpifError as e:
        error(e)
        return 3
    dp.lib.vsw_set_pmd_sleep(pmd_sleep)
    reply(ok=True, ready=True, pid=os.getpid(), pmd_cores=cfg.pmd_cores,
          mbufs=dp.mbufs_in_use())
    n_flows = 0
    for line in sys.stdin:
        if not line.strip():
            continue
        cmd = json.loads(line)
        op = cmd["op"]
        try:
            if op == "port_add":
                n = dp.port_add(cmd["name"], cmd["type"], cmd.get("options", {}),
                                cmd.get("port_no"))
                reply(ok=True, port_no=n)
            elif op == "port_del":
                dp.port_del(cmd["port_no"])
                reply(ok=True)
            elif op == "flow_put":
                n_flows += 1
                ufid = n_flows.to_bytes(16, "little")
                key = FlowKey(in_port=cmd["in_port"])
                mask = FlowKey.from_ints({"in_port": 0xFFFFFFFF, "recirc_id": 0xFFFFFFFF})
                res = dp.flow_put([FlowPut(ufid, key, mask & FlowKey.exact(),
                                           parse_actions(cmd["actions"]))])[0]
                if res is not None:
                    raise res
                reply(ok=True, ufid=ufid.hex())
            elif op == "flow_get":
                flow = dp.flow_get(bytes.fromhex(cmd["ufid"]))
                reply(ok=True, **dataclasses.asdict(flow.stats))
            elif op == "flow_del":
                stats = dp.flow_del(bytes.fromhex(cmd["ufid"]))
                reply(ok=True, **dataclasses.asdict(stats))
            elif op == "port_stats":
                reply(ok=True, **dataclasses.asdict(dp.port_stats(cmd["port_no"])))
            elif op == "port_info":
                info = dp.port_info(cmd["port_no"])
                reply(ok=True, link_up=info.link_up, driver=info.driver, n_rxq=info.n_rxq,
                      n_txq=info.n_txq)
            elif op == "upcalls":
                ups = dp.recv_upcalls()
                reply(ok=True, upcalls=[{"kind": u.kind, "in_port": u.key.in_port,
                                         "len": len(u.packet), "head": u.packet[:32].hex()}
                                        for u in ups])
            elif op == "mbufs":
                reply(ok=True, mbufs=dp.mbufs_in_use())
            elif op == "pmd_stats":
                reply(ok=True, pmds=[dataclasses.asdict(s) for s in dp.pmd_stats()])
            elif op == "ping":
                reply(ok=True)
            elif op == "quit":
                dp.close()
                dp.lib.vsw_shutdown()
                reply(ok=True)
                return 0
            else:
                reply(ok=False, errno="EINVAL", error=f"unknown op {op!r}")
        except DpifError as e:
            error(e)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reply-fd", type=int, required=True)
    parser.add_argument("--pmd-sleep", type=int, default=100)
    parser.add_argument("eal", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    eal = args.eal[1:] if args.eal[:1] == ["--"] else args.eal
    return _serve(args.reply_fd, eal, args.pmd_sleep)


# -- the test side ----------------------------------------------------------------------

def _import_path() -> str:
    """PYTHONPATH under which the runner imports appliance and dpdk_glue from where this
    process does: the source tree (python -m pytest, PYTHONPATH=.) or the installed
    project with its compiled extension (.venv/bin/pytest)."""
    paths = []
    for name in ("dpdk_glue", "appliance"):
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.origin:
            # Not resolved: an editable install's link tree holds symlinks.
            paths.append(str(Path(spec.origin).parent.parent))
    paths += [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    return os.pathsep.join(dict.fromkeys(paths))


class RunnerError(Exception):
    """A command failed in the runner: ``errno`` (a name such as "EINVAL") and text."""

    def __init__(self, reply: dict) -> None:
        super().__init__(f"{reply.get('errno')}: {reply.get('error')}")
        self.errno = reply.get("errno")
        self.error = reply.get("error", "")


class DpRunner:
    """A dp_runner.py process. ``eal_args`` go to the EAL (after the main-lcore/PMD
    list the runner derives from its CPU affinity); the runner's cwd (``workdir``) is
    also where dpdkvhostuser sockets are created. ``ready`` is the first reply."""

    def __init__(self, workdir: Path, eal_args: list[str], pmd_sleep: int = 100,
                 timeout: float = 60) -> None:
        self.workdir = Path(workdir)
        prefixes = [a.split("=", 1)[1] for a in eal_args if a.startswith("--file-prefix=")]
        self.prefix = prefixes[-1] if prefixes else None
        self.log_path = self.workdir / f"dp_runner-{time.monotonic_ns()}.log"
        rfd, wfd = os.pipe()
        env = dict(os.environ, PYTHONPATH=_import_path())
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, str(Path(__file__).resolve()), "--reply-fd", str(wfd),
                 "--pmd-sleep", str(pmd_sleep), "--", *eal_args],
                stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT, env=env,
                cwd=str(self.workdir), pass_fds=(wfd,), text=True, start_new_session=True)
        os.close(wfd)
        self._replies = os.fdopen(rfd, "r")
        try:
            self.ready = self._read(timeout)
        except BaseException:
            self.kill()
            raise

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def _read(self, timeout: float) -> dict:
        ready, _, _ = select.select([self._replies], [], [], timeout)
        line = self._replies.readline() if ready else ""
        if not line:
            status = self.proc.poll()
            raise RuntimeError(f"dp_runner gave no reply (exit status {status}, "
                               f"timeout {timeout}s); log:\n{self.log()[-4000:]}")
        return json.loads(line)

    def call(self, op: str, timeout: float = 30, **args: Any) -> dict:
        """Runs one command; raises RunnerError if it failed."""
        reply = self.request(op, timeout, **args)
        if not reply.get("ok"):
            raise RunnerError(reply)
        return reply

    def request(self, op: str, timeout: float = 30, **args: Any) -> dict:
        """Runs one command and returns the reply, failed or not."""
        if self.proc.poll() is not None:
            raise RuntimeError(f"dp_runner exited {self.proc.returncode}; log:\n"
                               f"{self.log()[-4000:]}")
        self.proc.stdin.write(json.dumps({"op": op, **args}) + "\n")
        self.proc.stdin.flush()
        return self._read(timeout)

    def port_add(self, name: str, type: str = "dpdk", options: dict | None = None,
                 port_no: int | None = None, **kw: Any) -> int:
        return self.call("port_add", name=name, type=type, options=options or {},
                         port_no=port_no, **kw)["port_no"]

    def stats(self, port_no: int) -> dict:
        return self.call("port_stats", port_no=port_no)

    def stop(self, timeout: float = 20) -> int:
        """Asks the runner to shut DPDK down and exit; SIGKILL (by pid) if it does not.
        Returns the exit status."""
        if self.proc.poll() is None:
            try:
                self.request("quit", timeout=timeout)
            except (RuntimeError, OSError, ValueError):
                pass
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self._close()
        return self.proc.returncode

    def _close(self) -> None:
        for f in (self.proc.stdin, self._replies):
            try:
                f.close()
            except OSError:
                pass
        if self.prefix:
            # EAL's runtime directory (shared config, mp socket) for our --file-prefix.
            shutil.rmtree(f"/var/run/dpdk/{self.prefix}", ignore_errors=True)

    def kill(self) -> None:
        """SIGKILL by pid (a runner that hangs)."""
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def wait_exit(self, timeout: float = 30) -> int:
        """Waits for a runner that exits by itself (failed start-up); its status."""
        try:
            self.proc.wait(timeout)
        finally:
            self.kill()
            self._close()
        return self.proc.returncode


def wait_until(predicate, timeout: float = 10, interval: float = 0.05):
    """Polls ``predicate`` until it returns something true; returns that, or the last
    (false) value after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


if __name__ == "__main__":
    sys.exit(main())
