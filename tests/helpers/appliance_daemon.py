"""The whole appliance (``twistd -n vswitch``) in a private directory, for end-to-end tests.

:class:`Appliance` starts it with OVS_RUNDIR, OVS_DBDIR, OVS_LOGDIR and OVS_SYSCONFDIR
pointing into one temporary directory, so Debian's ``ovs-vsctl``, ``ovs-ofctl`` and
``ovs-appctl`` run through :meth:`vsctl`/:meth:`ofctl`/:meth:`appctl` find it with no
arguments, exactly as on a default installation. DPDK gets a private ``--file-prefix``,
no hugepages and no PCI scan (``other_config:dpdk-extra``, set before the first bridge),
and PMDs that sleep when idle (``pmd-maxsleep``) so a 2-core machine stays usable.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from helpers.procs import stop_pid


def _twistd() -> str:
    return str(Path(sys.executable).parent / "twistd")


class Appliance:
    def __init__(self, name: str = "vswt", eal_extra: str = "--no-huge -m 512",
                 pmd_maxsleep: int = 100) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix=f"{name}-", dir="/tmp"))
        self.prefix = self.dir.name
        self.eal_extra = f"--no-pci --file-prefix={self.prefix} {eal_extra}"
        self.pmd_maxsleep = pmd_maxsleep
        self.env = dict(os.environ, OVS_RUNDIR=str(self.dir / "run"),
                        OVS_DBDIR=str(self.dir / "db"), OVS_LOGDIR=str(self.dir / "log"),
                        OVS_SYSCONFDIR=str(self.dir / "etc"))
        for d in ("run", "db", "log", "etc"):
            (self.dir / d).mkdir()
        self.proc: subprocess.Popen | None = None

    @property
    def rundir(self) -> Path:
        return self.dir / "run"

    @property
    def log(self) -> Path:
        return self.dir / "log" / "vswitch.log"

    def start(self, configure_dpdk: bool = True) -> Appliance:
        self.proc = subprocess.Popen(
            [_twistd(), "-n", "--pidfile=", f"--logfile={self.log}", "vswitch"],
            env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while not (self.rundir / "ovs-vswitchd.pid").exists() or \
                not (self.rundir / "db.sock").exists():
            if self.proc.poll() is not None:
                raise AssertionError(f"appliance exited {self.proc.returncode}: "
                                     f"{self.proc.stderr.read().decode()}\n{self.log_text()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"appliance did not start\n{self.log_text()}")
            time.sleep(0.1)
        if configure_dpdk:
            self.vsctl("set", "Open_vSwitch", ".",
                       f'other_config:dpdk-extra="{self.eal_extra}"',
                       f"other_config:pmd-maxsleep={self.pmd_maxsleep}", wait=False)
        return self

    def log_text(self) -> str:
        try:
            return self.log.read_text()
        except OSError:
            return ""

    def _run(self, args: list[str], check: bool, timeout: float,
             input: str | None = None) -> subprocess.CompletedProcess:
        r = subprocess.run(args, env=self.env, capture_output=True, text=True,
                           timeout=timeout, input=input)
        if check and r.returncode != 0:
            raise AssertionError(f"{' '.join(args)} exited {r.returncode}: {r.stderr}"
                                 f"\n--- appliance log tail ---\n{self.log_text()[-4000:]}")
        return r

    def vsctl(self, *args: str, wait: bool = True, check: bool = True,
              timeout: float = 60) -> str:
        """ovs-vsctl; without ``wait=False`` it waits for vswitchd to apply the change
        (cur_cfg), as a user's plain ovs-vsctl does."""
        argv = ["ovs-vsctl", f"--timeout={int(timeout)}"] + ([] if wait else ["--no-wait"])
        return self._run(argv + list(args), check, timeout + 5).stdout

    def ofctl(self, *args: str, check: bool = True, timeout: float = 60,
              input: str | None = None) -> str:
        return self._run(["ovs-ofctl", *args], check, timeout, input).stdout

    def appctl(self, *args: str, check: bool = True, timeout: float = 60) -> str:
        return self._run(["ovs-appctl", f"--timeout={int(timeout)}", *args], check,
                         timeout + 5).stdout

    def get(self, table: str, record: str, column: str) -> str:
        return self.vsctl("get", table, record, column, wait=False).strip()

    def wait_until(self, predicate, timeout: float = 30, what: str = "condition") -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}\n{self.log_text()[-4000:]}")
            time.sleep(0.2)

    def stop(self) -> int | None:
        """SIGTERM by pid and wait; returns the exit status."""
        if self.proc is None:
            return None
        proc, self.proc = self.proc, None
        status = stop_pid(proc, timeout=60)
        if proc.stderr is not None:
            proc.stderr.close()
        return status

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
        # DPDK's runtime directory for the private --file-prefix.
        shutil.rmtree(Path("/var/run/dpdk") / self.prefix, ignore_errors=True)
