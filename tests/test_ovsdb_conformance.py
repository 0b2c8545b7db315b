"""OVS's own OVSDB test vectors (v3.1.0), replayed with the real ovsdb-client.

The runner ``shared/conformance/ovsdb/run_cases.py`` is loaded by path and used as is,
except for its built-in port of OVS's ``tests/ovsdb-monitor-sort.py``: that port drops
the blank line separating monitor updates (so even Debian's ovsdb-server fails 15 of 21
monitor vectors with it) and sorts the ``old``/``new`` lines of one row update apart.
``_monitor_sort`` below re-implements the original's rules and replaces it. Its
``stop()`` is also wrapped to SIGKILL a server that ignores SIGTERM, so none leaks.
"""

from __future__ import annotations

import argparse
import difflib
import importlib.util
import json
import os
import re
import shlex
import signal
import subprocess
import tempfile

import pytest
from conftest import IS_REFERENCE, REFERENCE_SERVER, SHARED, require_tool, twistd_path

CONFORMANCE = SHARED / "conformance" / "ovsdb"


def _load_runner():
    spec = importlib.util.spec_from_file_location("ovsdb_run_cases", CONFORMANCE / "run_cases.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


_UUID_AT_START = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
                            r"[0-9a-fA-F]{12}")


def _monitor_sort(text: str) -> str:
    """Sort each blank-line separated group of monitor CSV output for reproducibility.

    Blank lines are kept; a line starting with ',' (the ``new`` half of a row update)
    stays glued to the line before it; lines starting with a UUID sort after the
    others and are ordered by what follows the UUID (as OVS's script does).
    """
    out: list[str] = []
    group: list[str] = []

    def key(record: str):
        if _UUID_AT_START.match(record):
            return (1, record[36:])
        return (0, record)

    def flush():
        out.extend(sorted(group, key=key))
        group.clear()

    for line in text.splitlines(True):
        if line.strip() == "":
            flush()
            out.append(line)
        elif line.startswith(",") and group:
            group[-1] += line
        else:
            group.append(line)
    flush()
    return "".join(out)


def _stop(proc):
    """The runner's stop(), plus SIGKILL when SIGTERM is not obeyed within 5 s."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=5)
            return
        except subprocess.TimeoutExpired:
            continue


RUNNER = _load_runner()
RUNNER.monitor_sort = _monitor_sort
RUNNER.stop = _stop

EXEC_CASES = json.loads((CONFORMANCE / "exec_v310.json").read_text())
MON_CASES = json.loads((CONFORMANCE / "mon_v310.json").read_text())


def _runner_args() -> argparse.Namespace:
    if IS_REFERENCE:
        server_cmd = (f"exec {REFERENCE_SERVER} --no-chdir --remote=punix:{{sock}} "
                      "--unixctl={dir}/server.ctl {db}")
        prepare = "ovsdb-tool create {db} {schema}"
    else:
        server_cmd = (f"exec {shlex.quote(twistd_path())} -n --pidfile= ovsdb-server "
                      "--schema {schema} --remote punix:{sock} --rundir {dir} {dir}/db")
        prepare = ""
    return argparse.Namespace(server_cmd=server_cmd, prepare=prepare, k="", v=False,
                              settle=0.3, monitor_sort="")


def _case_id(prefix: str, i: int, case: dict) -> str:
    return f"{prefix}{i:02d}-" + re.sub(r"[^A-Za-z0-9]+", "_", case["title"]).strip("_")


def _check(fn, case):
    require_tool("ovsdb-client")
    require_tool("ovs-appctl")
    require_tool("ovsdb-tool")
    with tempfile.TemporaryDirectory(prefix="ovsdbcase") as d:
        ok, got, expected = fn(_runner_args(), case, d)
    if not ok:
        diff = "".join(difflib.unified_diff(expected.splitlines(True), got.splitlines(True),
                                            "expected", "got"))
        pytest.fail(f"{case['title']!r}: client output differs\n{diff}")
    assert got == expected


@pytest.mark.parametrize("case", EXEC_CASES,
                         ids=[_case_id("exec", i, c) for i, c in enumerate(EXEC_CASES)])
def test_execution_vector(case):
    """The server answers each transaction of an ovsdb-execution.at case byte for byte."""
    _check(RUNNER.run_execution, case)


@pytest.mark.parametrize("case", MON_CASES,
                         ids=[_case_id("mon", i, c) for i, c in enumerate(MON_CASES)])
def test_monitor_vector(case):
    """ovsdb-client monitor/monitor-cond prints exactly the ovsdb-monitor.at output."""
    _check(RUNNER.run_monitor, case)


def test_vector_counts():
    """The v3.1.0 vector files hold the expected 29 execution and 21 monitor cases."""
    assert len(EXEC_CASES) == 29
    assert len(MON_CASES) == 21
    assert all(c["kind"] == "execution" for c in EXEC_CASES)
    assert {c["kind"] for c in MON_CASES} <= {"monitor", "monitor_cond"}
