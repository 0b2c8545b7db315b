"""``--remote=db:Open_vSwitch,Open_vSwitch,manager_options``: remotes kept in the database.

The server runs as twistd (the ``ovsdb_server`` fixture; ``VSWITCH_TEST_OVSDB_SERVER=
reference`` runs Debian's ovsdb-server instead, which these tests also pass) and is
driven by Debian's ``ovs-vsctl set-manager`` / ``del-manager``; ``ovsdb-client`` and
plain sockets are the peers that connect through the remotes it opens. Listeners use
port 0 and the tests learn the port from ``Manager.status:bound_port``, which the
server writes back every 2.5 s.
"""

from __future__ import annotations

import socket
import subprocess

import pytest
from conftest import IS_REFERENCE, VSWITCH_SCHEMA, only_ours, require_tool, run_tool
from helpers.daemon import RawClient
from helpers.dp_runner import wait_until
from helpers.procs import stop_pid
from test_jsonrpc import _make_pki
from test_ovs_vsctl import table

from ovsdb.database import Database
from ovsdb.db_remotes import (
    RemoteOptions,
    parse_db_column,
    query_db_remotes,
    query_db_string,
    status_transaction,
)
from ovsdb.schema import load_schema_file
from ovsdb.transaction import execute

MANAGERS = "db:Open_vSwitch,Open_vSwitch,manager_options"
#: Every status key ovsdb-server writes for a Manager row (ovsdb-server.c).
STATUS_KEYS = {"state", "sec_since_connect", "sec_since_disconnect", "last_error",
               "locks_held", "locks_waiting", "locks_lost", "n_connections", "bound_port"}


@pytest.fixture
def managed(ovsdb_server):
    """A server with the Manager remotes, ``ovs-vsctl init``-ed."""
    srv = ovsdb_server(VSWITCH_SCHEMA, extra_remotes=(MANAGERS,))
    srv.vsctl("init")
    return srv


def manager(srv, target: str) -> dict:
    rows = [r for r in table(srv, "Manager") if r["target"] == target]
    assert len(rows) == 1, rows
    return rows[0]


def bound_port(srv, target: str) -> int:
    """The port a passive manager target listens on, once the server reported it."""
    port = wait_until(lambda: manager(srv, target)["status"].get("bound_port"), timeout=15)
    assert port, f"no bound_port for {target}: {manager(srv, target)}\n{srv.output()}"
    return int(port)


def list_dbs(remote: str, *args: str) -> subprocess.CompletedProcess:
    return run_tool(["ovsdb-client", "--timeout=10", *args, "list-dbs", remote],
                    check=False, timeout=30)


def refused(remote: str) -> bool:
    r = list_dbs(remote)
    return r.returncode != 0 and "Connection refused" in r.stderr


def test_set_manager_opens_a_listener_and_del_manager_closes_it(managed):
    target = "ptcp:0:127.0.0.1"
    managed.vsctl("set-manager", target)
    port = bound_port(managed, target)
    r = list_dbs(f"tcp:127.0.0.1:{port}")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["Open_vSwitch", "_Server"]
    # list-remotes shows the spec, not what it resolved to (as OVS's does).
    remotes = managed.appctl("ovsdb-server/list-remotes").stdout.split()
    assert MANAGERS in remotes and target not in remotes

    managed.vsctl("del-manager")
    assert wait_until(lambda: refused(f"tcp:127.0.0.1:{port}"), timeout=10), \
        list_dbs(f"tcp:127.0.0.1:{port}")

    # The same address again, right after it was released: listening again.
    fixed = f"ptcp:{port}:127.0.0.1"
    managed.vsctl("set-manager", fixed)
    r = wait_until(lambda: list_dbs(f"tcp:127.0.0.1:{port}").returncode == 0, timeout=10)
    assert r, list_dbs(f"tcp:127.0.0.1:{port}").stderr
    assert bound_port(managed, fixed) == port


def test_a_bad_target_does_not_break_a_good_one(managed):
    good = "ptcp:0:127.0.0.1"
    managed.vsctl("set-manager", "bogus:1", "ptcp:99999", good)
    port = bound_port(managed, good)
    r = list_dbs(f"tcp:127.0.0.1:{port}")
    assert r.returncode == 0, r.stderr
    # More commits re-read the targets; the good listener stays, the bad ones stay down.
    for i in range(3):
        managed.vsctl("set", "Open_vSwitch", ".", f"external_ids:n={i}")
    assert list_dbs(f"tcp:127.0.0.1:{port}").returncode == 0
    assert manager(managed, "bogus:1")["is_connected"] is False
    if not IS_REFERENCE:
        log = managed.output()
        # Logged once per value, not once per re-read.
        assert log.count("'bogus:1': unknown connection method") == 1, log
        assert log.count("ptcp:99999: port 99999 out of range") == 1, log


def test_status_shows_connections_through_a_manager(managed):
    target = "ptcp:0:127.0.0.1"
    managed.vsctl("set-manager", target)
    port = bound_port(managed, target)
    assert manager(managed, target)["is_connected"] is False
    monitor = subprocess.Popen(
        [require_tool("ovsdb-client"), "monitor", f"tcp:127.0.0.1:{port}", "Open_vSwitch",
         "Manager"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    raw = None
    try:
        row = wait_until(lambda: (m := manager(managed, target))["is_connected"] and m,
                         timeout=15)
        assert row, manager(managed, target)
        assert set(row["status"]) <= STATUS_KEYS, row["status"]
        assert row["status"]["bound_port"] == str(port)
        assert "n_connections" not in row["status"]  # written only from two on, as OVS

        raw = RawClient.tcp(port)
        assert raw.call("list_dbs", [])["result"] == ["Open_vSwitch", "_Server"]
        assert wait_until(lambda: manager(managed, target)["status"].get("n_connections")
                          == "2", timeout=15), manager(managed, target)
    finally:
        if raw is not None:
            raw.close()
        stop_pid(monitor)
        monitor.stderr.close()
    assert wait_until(lambda: manager(managed, target)["is_connected"] is False,
                      timeout=15), manager(managed, target)


def test_an_active_manager_target_connects_out(managed):
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        listener.settimeout(15)
        port = listener.getsockname()[1]
        target = f"tcp:127.0.0.1:{port}"
        managed.vsctl("set-manager", target)
        conn, _ = listener.accept()
    peer = RawClient(conn)
    try:
        # The server is the OVSDB side of the connection: it answers our requests.
        assert peer.call("list_dbs", [], id="a") == {
            "id": "a", "result": ["Open_vSwitch", "_Server"], "error": None}
        row = wait_until(lambda: (m := manager(managed, target))["is_connected"] and m,
                         timeout=15)
        assert row, manager(managed, target)
        assert row["status"]["state"] == "ACTIVE"
        assert set(row["status"]) <= STATUS_KEYS, row["status"]
        assert int(row["status"]["sec_since_connect"]) >= 0

        # inactivity_probe set on the row applies to the open session: after 1 s of
        # silence the server probes with an echo request.
        managed.vsctl("set", "Manager", target, "inactivity_probe=1000")
        msg = peer.recv(timeout=10)
        assert msg["method"] == "echo" and msg["params"] == [], msg
        peer.send({"id": msg["id"], "result": [], "error": None})

        managed.vsctl("del-manager")
        peer.expect_eof(timeout=10)
    finally:
        peer.close()


def test_db_remote_of_a_string_column_at_run_time(managed):
    spec = "db:Open_vSwitch,Open_vSwitch,datapath_types"
    sock = managed.rundir / "extra.sock"
    managed.vsctl("set", "Open_vSwitch", ".", f'datapath_types="punix:{sock}"')
    assert list_dbs(f"unix:{sock}").returncode != 0  # a value, not yet a remote

    managed.appctl("ovsdb-server/add-remote", spec)
    assert spec in managed.appctl("ovsdb-server/list-remotes").stdout.split()
    assert wait_until(lambda: list_dbs(f"unix:{sock}").returncode == 0, timeout=10)

    managed.appctl("ovsdb-server/remove-remote", spec)
    assert spec not in managed.appctl("ovsdb-server/list-remotes").stdout.split()
    assert wait_until(lambda: list_dbs(f"unix:{sock}").returncode != 0, timeout=10)

    bad = managed.appctl("ovsdb-server/add-remote", "db:Nope,Open_vSwitch,x", check=False)
    assert bad.returncode != 0
    assert '"db:Nope,Open_vSwitch,x": no database named Nope' in bad.stderr


@only_ours
def test_a_db_remote_naming_no_column_stops_the_server(ovsdb_server):
    srv = ovsdb_server(VSWITCH_SCHEMA, start=False,
                       extra_remotes=("db:Open_vSwitch,Open_vSwitch,no_such_column",))
    r = subprocess.run(srv.command(), capture_output=True, text=True, timeout=60,
                       env=srv.env, cwd=srv.rundir)
    assert r.returncode == 1
    assert r.stderr.strip().splitlines()[-1] == (
        'ovsdb-server: "db:Open_vSwitch,Open_vSwitch,no_such_column": table '
        '"Open_vSwitch" has no column "no_such_column"')


@only_ours
def test_tls_files_from_the_ssl_table(ovsdb_server, tmp_path):
    pki = _make_pki(tmp_path)
    srv = ovsdb_server(VSWITCH_SCHEMA, start=False, extra_remotes=(MANAGERS,))
    srv.extra_args = ("--private-key=db:Open_vSwitch,SSL,private_key",
                      "--certificate=db:Open_vSwitch,SSL,certificate",
                      "--ca-cert=db:Open_vSwitch,SSL,ca_cert")
    srv.start()
    srv.vsctl("init")
    srv.vsctl("set-ssl", pki["server-key"], pki["server-cert"], pki["ca-cert"])
    target = "pssl:0:127.0.0.1"
    srv.vsctl("set-manager", target)
    port = bound_port(srv, target)

    def client(key: str, cert: str) -> subprocess.CompletedProcess:
        return list_dbs(f"ssl:127.0.0.1:{port}", f"--private-key={pki[key]}",
                        f"--certificate={pki[cert]}", f"--ca-cert={pki['ca-cert']}")

    ok = client("client-key", "client-cert")
    assert ok.returncode == 0, ok.stderr + srv.output()
    assert ok.stdout.split() == ["Open_vSwitch", "_Server"]
    assert client("rogue-key", "rogue-cert").returncode != 0


# -- the sans-I/O half: reading remotes and writing status on a Database --------------

def _vswitch_db():
    """An Open_vSwitch database with two managers (one with options), an SSL row and
    two string remotes."""
    db = Database(load_schema_file(str(VSWITCH_SCHEMA)))
    ops = [
        {"op": "insert", "table": "Manager", "uuid-name": "m1",
         "row": {"target": "ptcp:6640", "inactivity_probe": 3000, "max_backoff": 2000}},
        {"op": "insert", "table": "Manager", "uuid-name": "m2",
         "row": {"target": "tcp:10.0.0.1:6640"}},
        {"op": "insert", "table": "SSL", "uuid-name": "s",
         "row": {"private_key": "/k", "certificate": "/c", "ca_cert": "/ca"}},
        {"op": "insert", "table": "Open_vSwitch",
         "row": {"manager_options": ["set", [["named-uuid", "m1"], ["named-uuid", "m2"]]],
                 "ssl": ["named-uuid", "s"],
                 "datapath_types": ["set", ["punix:/a", "ptcp:1"]]}},
    ]
    assert all("error" not in r for r in execute(db, ops).results)
    return db


def test_query_db_remotes_reads_strings_and_manager_rows():
    dbs = {"Open_vSwitch": _vswitch_db()}
    assert query_db_remotes(dbs, MANAGERS) == {
        "ptcp:6640": RemoteOptions("ptcp:6640", probe_interval=3000, max_backoff=2000),
        "tcp:10.0.0.1:6640": RemoteOptions("tcp:10.0.0.1:6640"),
    }
    assert set(query_db_remotes(dbs, "db:Open_vSwitch,Open_vSwitch,datapath_types")) == {
        "punix:/a", "ptcp:1"}
    # A column of another type yields nothing (OVS: silently).
    assert query_db_remotes(dbs, "db:Open_vSwitch,Open_vSwitch,external_ids") == {}
    assert query_db_string(dbs, "db:Open_vSwitch,SSL,ca_cert") == "/ca"
    assert query_db_string(dbs, "/plain/path") == "/plain/path"
    with pytest.raises(ValueError, match='is not string or set of strings'):
        query_db_string(dbs, "db:Open_vSwitch,Open_vSwitch,ssl")
    for spec, error in (("db:Open_vSwitch,Manager", "invalid syntax"),
                        ("db:X,Manager,target", "no database named X"),
                        ("db:Open_vSwitch,Nope,target", "no table named Nope"),
                        ("db:Open_vSwitch,Manager,nope",
                         'table "Manager" has no column "nope"')):
        with pytest.raises(ValueError, match=error):
            query_db_remotes(dbs, spec)
    assert str(parse_db_column(MANAGERS)) == MANAGERS


def test_status_transaction_writes_ephemeral_status_only():
    db = _vswitch_db()
    status = {"ptcp:6640": (True, {"bound_port": "6640", "n_connections": "2"}),
              "tcp:10.0.0.1:6640": (False, {"state": "BACKOFF"})}
    txn = status_transaction(db, [MANAGERS, "db:Open_vSwitch,Open_vSwitch,datapath_types"],
                             status.__getitem__)
    changes = txn.commit()
    assert len(changes) == 2
    assert all(c.changed - {"_version"} <= {"is_connected", "status"} for c in changes)
    # Ephemeral columns: nothing to write to the log.
    assert db.change_record(changes, None) is None
    rows = {r.fields["target"][0]: r for r in db.tables["Manager"].rows.values()}
    assert rows["ptcp:6640"].fields["is_connected"] == (True,)
    assert dict(rows["ptcp:6640"].fields["status"]) == status["ptcp:6640"][1]
    assert dict(rows["tcp:10.0.0.1:6640"].fields["status"]) == {"state": "BACKOFF"}
    # The same status again changes nothing: no commit, no notification.
    assert status_transaction(db, [MANAGERS], status.__getitem__).commit() == []
