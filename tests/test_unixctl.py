"""Tests for ovsdb.unixctl against the real ovs-appctl.

tests/helpers/rpc_daemon.py runs a UnixctlServer/UnixctlService in a
subprocess with a real reactor; ovs-appctl (Debian's OVS tools) talks to it
either by socket path or, via the pidfile, by program name.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys

import pytest
from helpers.daemon import REPO, Daemon, RawClient

from ovsdb.unixctl import (
    UnixctlCommandError,
    UnixctlServer,
    default_path,
    pidfile_path,
    read_pidfile,
    remove_pidfile,
    write_pidfile,
)

APPCTL = shutil.which("ovs-appctl")
pytestmark = pytest.mark.skipif(APPCTL is None, reason="ovs-appctl missing")


def appctl(*args: str, rundir=None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if rundir is not None:
        env["OVS_RUNDIR"] = str(rundir)
    return subprocess.run([APPCTL, "--timeout=10", *args], capture_output=True, text=True,
                          env=env, timeout=30)


@pytest.fixture
def daemon(tmp_path):
    d = Daemon(tmp_path, "--rundir", str(tmp_path), "--program", "testd")
    try:
        d.wait_ready()
        yield d
    finally:
        d.stop()


def test_paths_and_pidfile_layout(daemon, tmp_path):
    pid = daemon.info["pid"]
    ctl = tmp_path / f"testd.{pid}.ctl"
    assert daemon.info["unixctl"] == str(ctl) == default_path("testd", str(tmp_path), pid)
    assert pidfile_path("testd", str(tmp_path)) == str(tmp_path / "testd.pid")
    assert (tmp_path / "testd.pid").read_text() == f"{pid}\n"
    assert read_pidfile(str(tmp_path / "testd.pid")) == pid
    assert oct(ctl.stat().st_mode & 0o777) == oct(0o770)


def test_list_commands_and_version(daemon):
    ctl = daemon.info["unixctl"]
    out = appctl("-t", ctl, "list-commands")
    assert out.returncode == 0, out.stderr
    assert out.stdout == (
        "The available commands are:\n"
        "  exit                    \n"
        "  list-commands           \n"
        "  test/echo-args          [ARG...]\n"
        "  test/fail               ARG\n"
        "  test/slow               \n"
        "  version                 \n"
    )
    out = appctl(f"--target={ctl}", "version")
    # The server ends every non-empty answer with a newline (OVS unixctl.c).
    assert (out.returncode, out.stdout) == (0, "testd (Open vSwitch) 3.1.0\n")


def test_target_by_program_name_uses_pidfile(daemon, tmp_path):
    out = appctl("-t", "testd", "version", rundir=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "testd (Open vSwitch) 3.1.0"
    missing = appctl("-t", "nosuchd", "version", rundir=tmp_path)
    assert missing.returncode != 0 and "nosuchd.pid" in missing.stderr


def test_commands_and_errors(daemon):
    ctl = daemon.info["unixctl"]
    out = appctl("-t", ctl, "test/echo-args", "a", "b c")
    assert (out.returncode, out.stdout) == (0, "a b c\n")
    out = appctl("-t", ctl, "test/echo-args")
    assert (out.returncode, out.stdout) == (0, "\n")
    out = appctl("-t", ctl, "test/hidden")
    assert (out.returncode, out.stdout) == (0, "hidden\n")
    out = appctl("-t", ctl, "test/slow")
    assert (out.returncode, out.stdout) == (0, "slow done\n")

    out = appctl("-t", ctl, "no-such-command")
    assert out.returncode == 2
    assert out.stderr.startswith(
        '"no-such-command" is not a valid command (use "list-commands" to see a list '
        'of valid commands)\novs-appctl: ')
    out = appctl("-t", ctl, "test/echo-args", "1", "2", "3", "4")
    assert out.returncode == 2
    assert '"test/echo-args" command takes at most 3 arguments' in out.stderr
    out = appctl("-t", ctl, "test/fail")
    assert out.returncode == 2
    assert '"test/fail" command requires at least 1 arguments' in out.stderr
    out = appctl("-t", ctl, "test/fail", "x")
    assert out.returncode == 2
    assert out.stderr == f"it failed: x\novs-appctl: {ctl}: server returned an error\n"


def test_requests_on_one_connection_are_answered_in_order(daemon):
    c = RawClient.unix(daemon.info["unixctl"])
    try:
        c.send_raw(b'{"method":"test/slow","params":[],"id":1}'
                   b'{"method":"test/echo-args","params":["quick"],"id":2}'
                   b'{"method":"test/echo-args","params":[1],"id":3}')
        assert c.recv() == {"result": "slow done\n", "error": None, "id": 1}
        assert c.recv() == {"result": "quick\n", "error": None, "id": 2}
        assert c.recv() == {"result": None, "id": 3,
                            "error": '"test/echo-args" command has non-string argument\n'}
        assert c.call("echo", ["x"], id=4)["result"] == ["x"]  # JSON-RPC echo still works
        # Anything but a request is a broken client, as in unixctl.c.
        c.send({"method": "version", "params": [], "id": None})
        c.expect_eof()
    finally:
        c.close()
    assert appctl("-t", daemon.info["unixctl"], "version").returncode == 0


def test_exit_removes_socket_and_pidfile(tmp_path):
    ctl = tmp_path / "explicit.ctl"
    # A stale socket left by a crashed daemon is replaced.
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(ctl))
    stale.close()
    d = Daemon(tmp_path, "--unixctl", str(ctl))
    try:
        d.wait_ready()
        assert appctl("-t", str(ctl), "version").returncode == 0
        assert appctl("-t", str(ctl), "exit").returncode == 0
        assert d.proc.wait(10) == 0
        assert not ctl.exists()
    finally:
        d.stop()
    rd = Daemon(tmp_path, "--rundir", str(tmp_path), "--program", "gone")
    try:
        info = rd.wait_ready()
    finally:
        assert rd.stop() is not None
    assert not (tmp_path / "gone.pid").exists()
    assert not os.path.exists(info["unixctl"])


def test_pidfile_lock_is_visible_to_other_processes(tmp_path):
    path = tmp_path / "me.pid"
    write_pidfile(str(path))
    try:
        assert read_pidfile(str(path)) == os.getpid()
        # Another process sees our fcntl lock, as ovs-appctl's read_pidfile
        # does.  (Reading the file here would drop the lock: POSIX locks die
        # with the first close() of any descriptor of the file.)
        code = ("import sys; from ovsdb.unixctl import read_pidfile; "
                "print(repr(open(sys.argv[1]).read()), read_pidfile(sys.argv[1]))")
        out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True,
                             text=True, env=dict(os.environ, PYTHONPATH=str(REPO)), timeout=30)
        assert out.stdout.split() == [repr(f"{os.getpid()}\n"), str(os.getpid())], out.stderr
    finally:
        remove_pidfile(str(path))
    assert not path.exists()
    # A pidfile nobody holds locked is stale.
    path.write_text("12345\n")
    with pytest.raises(ProcessLookupError, match="stale"):
        read_pidfile(str(path))


def test_server_execute_in_process():
    server = UnixctlServer("x (Open vSwitch) 1")

    def boom(conn, args):
        raise RuntimeError("kaput")

    def refuse(conn, args):
        raise UnixctlCommandError("refused " + args[0])

    server.register("boom", "", 0, 0, boom)
    server.register("refuse", "WHO", 1, 1, refuse)
    def nothing(conn, args):
        return None

    server.register("none", None, 0, 0, nothing)
    server.register("none", None, 0, 0, nothing)  # same callback again: no-op
    with pytest.raises(ValueError, match="already registered"):
        server.register("refuse", "", 0, 0, boom)
    with pytest.raises(ValueError):
        server.register("bad", "", 2, 1, boom)

    results = []
    for method, params in [("boom", []), ("refuse", ["you"]), ("none", []),
                           ("version", []), ("list-commands", []), ("refuse", ["me\n"])]:
        server.execute(None, method, params).addCallback(results.append)
    # Non-empty answers end with exactly one newline; empty ones stay empty.
    assert results[0] == (False, '"boom" command failed: kaput\n')
    assert results[1] == (False, "refused you\n")
    assert results[2] == (True, "")
    assert results[3] == (True, "x (Open vSwitch) 1\n")
    assert results[4][1].endswith("\n") and not results[4][1].endswith("\n\n")
    assert results[5] == (False, "refused me\n")          # already ended: not doubled
    assert "none" not in results[4][1] and "  boom" in results[4][1]
    assert server.commands()["none"] is None
