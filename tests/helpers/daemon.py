"""Start/stop tests/helpers/rpc_daemon.py and talk raw JSON-RPC to it."""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
DAEMON = Path(__file__).with_name("rpc_daemon.py")


class Daemon:
    """A running rpc_daemon.py; ``info`` is its READY record."""

    def __init__(self, tmp_path: Path, *args: str) -> None:
        self.stderr_path = tmp_path / f"daemon-{time.monotonic_ns()}.log"
        env = dict(os.environ, PYTHONPATH=str(REPO))
        self._stderr = open(self.stderr_path, "w")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, str(DAEMON), *args],
            stdout=subprocess.PIPE, stderr=self._stderr, env=env, cwd=str(tmp_path))
        self.info: dict[str, Any] = {}

    def wait_ready(self, timeout: float = 15.0) -> dict[str, Any]:
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        line = b""
        while not line.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or self.proc.poll() is not None:
                raise RuntimeError(f"daemon not ready: {self.log()}")
            r, _, _ = select.select([self.proc.stdout], [], [], left)
            if r:
                chunk = os.read(self.proc.stdout.fileno(), 1)
                if not chunk:
                    raise RuntimeError(f"daemon exited: {self.log()}")
                line += chunk
        assert line.startswith(b"READY "), line
        self.info = json.loads(line[6:])
        return self.info

    def log(self) -> str:
        if not self._stderr.closed:
            self._stderr.flush()
        return self.stderr_path.read_text()

    def tcp_port(self, remote: str) -> int:
        return self.info["remotes"][remote][1]

    def stop(self) -> int | None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self._stderr.close()
        return self.proc.returncode


class RawClient:
    """Blocking JSON-RPC peer on a plain socket, independent of ovsdb.jsonrpc."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.sock.settimeout(10)
        self.buf = ""
        self._dec = json.JSONDecoder()

    @classmethod
    def unix(cls, path: str) -> RawClient:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(path)
        return cls(s)

    @classmethod
    def tcp(cls, port: int) -> RawClient:
        return cls(socket.create_connection(("127.0.0.1", port), timeout=10))

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send(self, obj: Any) -> None:
        self.sock.sendall(json.dumps(obj).encode())

    def recv(self, timeout: float = 10.0) -> Any:
        """Next JSON value, or raises EOFError when the peer closed."""
        deadline = time.monotonic() + timeout
        while True:
            text = self.buf.lstrip()
            if text:
                try:
                    obj, end = self._dec.raw_decode(text)
                except json.JSONDecodeError:
                    pass
                else:
                    self.buf = text[end:]
                    return obj
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no message")
            self.sock.settimeout(left)
            data = self.sock.recv(1 << 20)
            if not data:
                raise EOFError("connection closed by peer")
            self.buf += data.decode()

    def call(self, method: str, params: list[Any], id: Any = 1) -> Any:  # noqa: A002
        self.send({"method": method, "params": params, "id": id})
        return self.recv()

    def expect_eof(self, timeout: float = 10.0) -> None:
        try:
            msg = self.recv(timeout)
        except (EOFError, ConnectionResetError):
            return
        raise AssertionError(f"expected EOF, got {msg!r}")

    def close(self) -> None:
        self.sock.close()
