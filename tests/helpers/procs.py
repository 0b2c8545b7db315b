"""Stopping the processes tests start: always by pid, politely first."""

from __future__ import annotations

import os
import signal
import subprocess


def stop_pid(proc: subprocess.Popen, timeout: float = 10) -> int | None:
    """SIGTERM ``proc`` by its pid, SIGKILL (by pid) if it has not exited after
    ``timeout`` seconds; returns its exit status."""
    if proc.poll() is None:
        try:
            os.kill(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)
    return proc.returncode
