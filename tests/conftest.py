"""Shared fixtures for the OVSDB server tests.

The server under test is chosen by ``VSWITCH_TEST_OVSDB_SERVER``: ``reference`` runs
Debian's ``/usr/sbin/ovsdb-server`` (to validate the tests themselves); anything else
(the default) runs ours, ``twistd -n --pidfile= ovsdb-server ...`` from this venv.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from helpers.procs import stop_pid
from helpers.testpmd import hugepages, testpmd, workdir  # noqa: F401 - fixtures

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
SHARED = Path(__file__).resolve().parents[1].parent / "shared"
VSWITCH_SCHEMA = REPO / "ovsdb" / "schemas" / "vswitch.ovsschema"

if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))

SERVER_KIND = "reference" if os.environ.get("VSWITCH_TEST_OVSDB_SERVER") == "reference" else "ours"
IS_REFERENCE = SERVER_KIND == "reference"
REFERENCE_SERVER = "/usr/sbin/ovsdb-server"


def twistd_path() -> str:
    """The venv's twistd (next to the running interpreter, else under sys.prefix)."""
    for cand in (Path(sys.executable).parent / "twistd", Path(sys.prefix) / "bin" / "twistd"):
        if cand.exists():
            return str(cand)
    return str(Path(sys.prefix) / "bin" / "twistd")


def require_tool(name: str) -> str:
    """Return the path of peer tool ``name``; FAIL the test (never skip) if it is missing."""
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin:/usr/bin")
    if not path:
        pytest.fail(f"required peer tool {name!r} is not installed (openvswitch-common)")
    return path


only_ours = pytest.mark.skipif(
    IS_REFERENCE, reason="checks our server's own command line; not applicable to reference")


def run_tool(args, *, env=None, timeout=60, check=True, input=None) -> subprocess.CompletedProcess:
    """Run a peer tool (first element of ``args`` resolved with require_tool)."""
    cmd = [require_tool(args[0]), *map(str, args[1:])]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env,
                       input=input)
    if check and r.returncode != 0:
        pytest.fail(f"{' '.join(cmd)} exited {r.returncode}\nstdout: {r.stdout}\n"
                    f"stderr: {r.stderr}")
    return r


def _short_dir(preferred: Path) -> tuple[Path, Path | None]:
    """``preferred`` if a socket path inside it fits sun_path, else a short /tmp dir."""
    if len(str(preferred / "ovsdb-server.12345678.ctl")) < 100:
        preferred.mkdir(parents=True, exist_ok=True)
        return preferred, None
    short = Path(tempfile.mkdtemp(prefix="ovsdbt-", dir="/tmp"))
    preferred.parent.mkdir(parents=True, exist_ok=True)
    preferred.symlink_to(short)
    return short, short


def wait_for_socket(path: Path, proc: subprocess.Popen | None = None, timeout: float = 20.0):
    """Wait until ``path`` accepts a connection; fail if ``proc`` exits first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.settimeout(1.0)
                s.connect(str(path))
            return True
        except OSError:
            time.sleep(0.02)
    return False


class OvsdbServer:
    """One running OVSDB server process (ours or the reference) on a private run dir."""

    def __init__(self, rundir: Path, schema: Path, db: Path, extra_remotes=(), env=None,
                 kind: str = SERVER_KIND, default_paths: bool = False, extra_args=()):
        self.kind = kind
        self.extra_args = tuple(extra_args)  # more options, for our server only
        self.rundir = rundir
        self.schema = schema
        self.db = db
        self.sock = rundir / "db.sock"
        self.remote = f"unix:{self.sock}"
        self.ctl = rundir / "ovsdb-server.ctl"
        self.pidfile = rundir / "ovsdb-server.pid"
        # default_paths: give neither --unixctl nor a pidfile name, so the server must use
        # RUNDIR/ovsdb-server.pid and RUNDIR/ovsdb-server.<pid>.ctl (.ctl is set on start).
        self.default_paths = default_paths
        self.extra_remotes = tuple(extra_remotes)
        self.env = dict(os.environ)
        self.env.update(OVS_RUNDIR=str(rundir), OVS_DBDIR=str(rundir), OVS_LOGDIR=str(rundir))
        if env:
            self.env.update(env)
        self.proc: subprocess.Popen | None = None
        self.pid: int | None = None
        self.starts = 0

    # -- command lines -----------------------------------------------------------
    def command(self) -> list[str]:
        remotes = [f"--remote=punix:{self.sock}", *(f"--remote={r}" for r in self.extra_remotes)]
        if self.default_paths:
            # Debian's server writes no pidfile without --pidfile; a bare one means the default.
            common = [*remotes, *(["--pidfile"] if self.kind == "reference" else [])]
        else:
            common = [*remotes, f"--unixctl={self.ctl}", f"--pidfile={self.pidfile}"]
        if self.kind == "reference":
            return [REFERENCE_SERVER, "--no-chdir", f"--log-file={self.rundir}/ovsdb-server.log",
                    *common, str(self.db)]
        return [twistd_path(), "-n", "--pidfile=", "ovsdb-server", f"--schema={self.schema}",
                f"--rundir={self.rundir}", *common, *self.extra_args, str(self.db)]

    def start(self, timeout: float = 20.0) -> OvsdbServer:
        if self.kind == "reference" and not self.db.exists():
            run_tool(["ovsdb-tool", "create", self.db, self.schema], env=self.env)
        self.starts += 1
        out = open(self.rundir / f"server.out.{self.starts}", "wb")
        self.proc = subprocess.Popen(self.command(), stdout=out, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, env=self.env, cwd=self.rundir,
                                     start_new_session=True)
        out.close()
        self.pid = self.proc.pid
        if self.default_paths:
            self.ctl = self.rundir / f"ovsdb-server.{self.pid}.ctl"
        if not wait_for_socket(self.sock, self.proc, timeout):
            output = self.output()
            self.stop()
            pytest.fail(f"{self.kind} OVSDB server did not listen on {self.sock} "
                        f"(exit {self.proc.returncode}):\n{output}")
        return self

    # -- lifecycle ---------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM by pid, SIGKILL after ``timeout``; return the exit status."""
        if self.proc is None:
            return None
        return stop_pid(self.proc, timeout)

    def kill9(self) -> None:
        """Crash the server: SIGKILL by pid, no chance to clean up."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def restart(self, timeout: float = 20.0) -> OvsdbServer:
        self.stop()
        return self.start(timeout)

    def wait_ctl(self, timeout: float = 10.0) -> Path:
        """Wait for the unixctl socket; fail if it never appears."""
        if not wait_for_socket(self.ctl, self.proc, timeout):
            pytest.fail(f"unixctl socket {self.ctl} never accepted connections:\n{self.output()}")
        return self.ctl

    def appctl(self, *args, check=True, timeout=30) -> subprocess.CompletedProcess:
        self.wait_ctl()
        return run_tool(["ovs-appctl", "-t", self.ctl, *args], env=self.env, check=check,
                        timeout=timeout)

    def vsctl(self, *args, check=True, timeout=60) -> subprocess.CompletedProcess:
        return run_tool(["ovs-vsctl", "--no-wait", f"--db={self.remote}", "--timeout=30", *args],
                        env=self.env, check=check, timeout=timeout)

    def output(self) -> str:
        parts = []
        for p in sorted(self.rundir.glob("server.out.*")) + [self.rundir / "ovsdb-server.log"]:
            if p.exists():
                parts.append(f"--- {p.name}\n" + p.read_text(errors="replace")[-4000:])
        return "\n".join(parts)


@pytest.fixture
def ovsdb_server(tmp_path):
    """Factory: ``ovsdb_server(schema_path_or_dict, db_path=None, extra_remotes=(), env=None)``.

    Starts the selected server on ``punix:<rundir>/db.sock`` with OVS_RUNDIR, OVS_DBDIR and
    OVS_LOGDIR pointing into the test's tmp dir, and stops every server it started (by
    pid: SIGTERM, then SIGKILL) at teardown.
    """
    servers: list[OvsdbServer] = []
    cleanup: list[Path] = []

    def factory(schema, db_path=None, extra_remotes=(), env=None, start=True,
                default_paths=False):
        rundir, short = _short_dir(tmp_path / f"ovsdb{len(servers)}")
        if short is not None:
            cleanup.append(short)
        if isinstance(schema, dict):
            schema_path = rundir / "schema.ovsschema"
            schema_path.write_text(json.dumps(schema))
        else:
            schema_path = Path(schema)
        db = Path(db_path) if db_path is not None else rundir / "db"
        srv = OvsdbServer(rundir, schema_path, db, extra_remotes, env,
                          default_paths=default_paths)
        servers.append(srv)
        return srv.start() if start else srv

    yield factory
    for srv in servers:
        srv.stop()
    for d in cleanup:
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def vswitch_server(ovsdb_server):
    """A running server with an empty Open_vSwitch database (vswitch.ovsschema)."""
    return ovsdb_server(VSWITCH_SCHEMA)


# A small schema for raw protocol tests: a root table with a reference to a
# non-root child (garbage collected), an indexed name and a constrained integer.
SIMPLE_SCHEMA = {
    "name": "simple",
    "version": "1.2.3",
    "tables": {
        "Parent": {
            "columns": {
                "name": {"type": "string"},
                "number": {"type": {"key": {"type": "integer", "minInteger": 0,
                                            "maxInteger": 1000}}},
                "children": {"type": {"key": {"type": "uuid", "refTable": "Child"},
                                      "min": 0, "max": "unlimited"}},
                "tags": {"type": {"key": "string", "value": "string",
                                  "min": 0, "max": "unlimited"}},
            },
            "indexes": [["name"]],
            "isRoot": True,
        },
        "Child": {
            "columns": {"value": {"type": "integer"}},
            "isRoot": False,
        },
    },
}


@pytest.fixture
def simple_server(ovsdb_server):
    """A running server with the small ``simple`` test database."""
    return ovsdb_server(SIMPLE_SCHEMA)


# -- the userspace datapath, shared by the tests that run DPDK in this process ---------

@pytest.fixture(scope="session")
def dpif(tmp_path_factory):
    """The userspace datapath in this process (EAL initialises once per process):
    --no-huge, a private --file-prefix, one PMD on the second CPU, idle PMDs sleeping."""
    from appliance.dpif.netdev import NetdevDpif, eal_config, init_dpdk

    cpus = sorted(os.sched_getaffinity(0))
    assert len(cpus) >= 2, "the datapath tests need two CPUs (main lcore + one PMD)"
    extra = (f"--no-huge -m 512 --no-pci --file-prefix=vswtest{os.getpid()} "
             "--log-level=lib.eal:error --log-level=pmd.net.pcap:error")
    init_dpdk(eal_config({"dpdk-extra": extra}, cpus))
    dp = NetdevDpif(vhost_dir=str(tmp_path_factory.mktemp("vhost")))
    dp.lib.vsw_set_pmd_sleep(100)
    yield dp
    dp.close()
    # DPDK leaves its runtime directory behind; the session is over, remove it.
    shutil.rmtree(f"/var/run/dpdk/vswtest{os.getpid()}", ignore_errors=True)


@pytest.fixture
def clean(dpif):
    """Each test starts with no ports or flows and must not leak mbufs."""
    base = dpif.mbufs_in_use()
    yield dpif
    for port in list(dpif.ports):
        dpif.port_del(port)
    dpif.flow_flush()
    deadline = time.monotonic() + 2
    while dpif.mbufs_in_use() != base and time.monotonic() < deadline:
        time.sleep(0.05)
    assert dpif.mbufs_in_use() == base, "mbufs leaked"


@pytest.fixture
def br0(tmp_path):
    """An OpenFlow switch with ports p1..p3 and no datapath (tests/helpers/
    switch_daemon.py), managed through ``tmp_path/br0.mgmt``; yields its run dir."""
    helper = Path(__file__).resolve().parent / "helpers" / "switch_daemon.py"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    proc = subprocess.Popen([sys.executable, str(helper), str(tmp_path), "br0"],
                            stdout=subprocess.PIPE, text=True, env=env)
    assert proc.stdout.readline().strip() == "ready"
    yield tmp_path
    os.kill(proc.pid, signal.SIGTERM)
    proc.wait(10)
