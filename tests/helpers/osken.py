"""os-ken (PyPI) as a real OpenFlow 1.3 controller for tests: the learning switch of
tests/helpers/osken_simple_switch.py in a process of its own, listening on
127.0.0.1:PORT, with its events readable from its log."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from helpers.dp_runner import wait_until
from helpers.procs import stop_pid

HELPERS = Path(__file__).resolve().parent
REPO = HELPERS.parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listening(port: int) -> bool:
    """Whether something listens on 127.0.0.1:port (from /proc, without connecting:
    a probe connection would look like a switch to os-ken)."""
    want = f"0100007F:{port:04X}"
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            if fields[1] == want and fields[3] == "0A":
                return True
    return False


def python_env() -> dict[str, str]:
    paths = [str(REPO)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    return dict(os.environ, PYTHONPATH=os.pathsep.join(dict.fromkeys(paths)))


class OsKen:
    """os-ken running the learning switch on 127.0.0.1:``port``."""

    def __init__(self, workdir: Path, port: int) -> None:
        self.port = port
        self.log_path = workdir / f"osken-{port}.log"
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, str(HELPERS / "osken_simple_switch.py"),
                 "--ofp-listen-host", "127.0.0.1", "--ofp-tcp-listen-port", str(port)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                env=python_env(), cwd=str(workdir), start_new_session=True)
        if not wait_until(lambda: listening(port) or self.proc.poll() is not None, 30) \
                or self.proc.poll() is not None:
            self.stop()
            pytest.fail(f"os-ken did not listen on 127.0.0.1:{port} "
                        f"(exit {self.proc.returncode}):\n{self.log()[-4000:]}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def events(self, kind: str | None = None) -> list[dict[str, Any]]:
        out = []
        for m in re.finditer(r"EVENT (\w+) (\{.*\})$", self.log(), re.M):
            if kind is None or m.group(1) == kind:
                out.append(dict(json.loads(m.group(2)), kind=m.group(1)))
        return out

    def stop(self) -> None:
        stop_pid(self.proc)
