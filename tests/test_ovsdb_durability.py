"""Storage: acknowledged transactions survive kill -9; corrupt tails are recovered;
compaction shrinks the log; OVS's ovsdb-tool reads the file (OVS log format)."""

from __future__ import annotations

import json
import time

import pytest
from conftest import SIMPLE_SCHEMA, VSWITCH_SCHEMA, run_tool
from ovsdb_client import Client


def _insert_ops(i):
    return [
        {"op": "insert", "table": "Parent", "row": {"name": f"r{i}", "number": i % 1000}},
        {"op": "update", "table": "Parent", "where": [["name", "==", "counter"]],
         "row": {"tags": ["map", [["last", str(i)]]]}},
    ]


def _names(remote):
    with Client(remote) as c:
        rows = c.transact("simple", {"op": "select", "table": "Parent", "where": [],
                                     "columns": ["name", "number", "tags"]})[0]["rows"]
    return {row["name"]: row for row in rows}


def _fill(remote, n, start=0):
    with Client(remote) as c:
        for i in range(start, start + n):
            res = c.transact("simple", *_insert_ops(i))
            assert "error" not in json.dumps(res), res


@pytest.fixture
def counter_server(ovsdb_server):
    srv = ovsdb_server(SIMPLE_SCHEMA)
    with Client(srv.remote) as c:
        c.transact("simple", {"op": "insert", "table": "Parent",
                              "row": {"name": "counter", "tags": ["map", [["last", "-1"]]]}})
    return srv


def test_acknowledged_transactions_survive_kill9(counter_server):
    """Every transaction the server acknowledged before SIGKILL is there after restart."""
    srv = counter_server
    acked: list[int] = []
    sent: list[int] = []
    c = Client(srv.remote)
    ids = {}
    window = 16
    i = 0
    # Pipelined writer: up to `window` requests in flight.
    while len(acked) < 300:
        while len(ids) < window:
            ids[c.send_request("transact", ["simple", *_insert_ops(i)])] = i
            sent.append(i)
            i += 1
        oldest = next(iter(ids))
        reply = c.wait_reply(oldest)
        assert reply["error"] is None and "error" not in json.dumps(reply["result"]), reply
        acked.append(ids.pop(oldest))
    # A last burst that is mid-flight when the server dies.
    for _ in range(40):
        ids[c.send_request("transact", ["simple", *_insert_ops(i)])] = i
        sent.append(i)
        i += 1
    srv.kill9()
    # Replies already delivered before the crash are acknowledgements too.
    try:
        while True:
            c._read_some(time.monotonic() + 2)
    except (ConnectionError, TimeoutError, OSError):
        pass
    for rid, seq in list(ids.items()):
        reply = c.replies.pop(json.dumps(rid), None)
        if reply is not None and reply.get("error") is None and \
                "error" not in json.dumps(reply["result"]):
            acked.append(seq)
    c.close()
    print(f"sent {len(sent)}, acknowledged {len(acked)}")

    srv.start()
    rows = _names(srv.remote)
    missing = [s for s in acked if f"r{s}" not in rows]
    assert not missing, f"{len(missing)} acknowledged transactions lost: {missing[:10]}"
    extra = set(rows) - {f"r{s}" for s in sent} - {"counter"}
    assert not extra
    for s in acked:
        assert rows[f"r{s}"]["number"] == s % 1000
    last = int(dict(rows["counter"]["tags"][1])["last"])
    assert last >= max(acked)
    # Atomicity: the counter update and the insert of the same transaction go together.
    assert f"r{last}" in rows
    assert all(f"r{s}" in rows for s in sent if s <= last)


def test_clean_restart_keeps_everything(counter_server):
    """A SIGTERM stop and restart keeps every committed row."""
    _fill(counter_server.remote, 50)
    counter_server.stop()
    counter_server.start()
    rows = _names(counter_server.remote)
    assert {f"r{i}" for i in range(50)} | {"counter"} == set(rows)


def _check_show_log(srv, expect_records_at_least):
    r = run_tool(["ovsdb-tool", "show-log", srv.db], env=srv.env)
    records = [line for line in r.stdout.splitlines() if line.startswith("record ")]
    assert len(records) >= expect_records_at_least, r.stdout
    assert records[0].startswith('record 0: "simple" schema, version="1.2.3"'), records[0]


def test_garbage_appended_to_log(counter_server):
    """Garbage after the last record: restart succeeds, data intact, log valid after a write."""
    srv = counter_server
    _fill(srv.remote, 20)
    srv.stop()
    with open(srv.db, "ab") as f:
        f.write(b"OVSDB JSON 50 0000000000000000000000000000000000000000\n{\"garb")
    srv.start()
    rows = _names(srv.remote)
    assert {f"r{i}" for i in range(20)} <= set(rows)
    _fill(srv.remote, 1, start=20)
    srv.stop()
    _check_show_log(srv, 22)
    srv.start()
    assert "r20" in _names(srv.remote)


def test_truncated_last_record(counter_server):
    """A half-written last record is dropped: earlier data intact, log valid after a write."""
    srv = counter_server
    _fill(srv.remote, 20)
    srv.stop()
    data = srv.db.read_bytes()
    last_header = data.rindex(b"OVSDB JSON ")
    srv.db.write_bytes(data[: last_header + (len(data) - last_header) // 2])
    srv.start()
    rows = _names(srv.remote)
    assert {f"r{i}" for i in range(19)} <= set(rows)
    assert "r19" not in rows
    _fill(srv.remote, 1, start=100)
    srv.stop()
    _check_show_log(srv, 21)
    srv.start()
    rows = _names(srv.remote)
    assert "r100" in rows and {f"r{i}" for i in range(19)} <= set(rows)


def test_corrupt_checksum_record(counter_server):
    """A last record whose SHA-1 does not match is treated as a torn write and dropped."""
    srv = counter_server
    _fill(srv.remote, 5)
    srv.stop()
    data = bytearray(srv.db.read_bytes())
    last_header = data.rindex(b"OVSDB JSON ")
    body = data.index(b"\n", last_header) + 1
    pos = data.index(b'"r4"', body)
    data[pos + 2] = ord("X")  # same length, wrong checksum
    srv.db.write_bytes(bytes(data))
    srv.start()
    rows = _names(srv.remote)
    assert {f"r{i}" for i in range(4)} <= set(rows)
    assert "r4" not in rows and "rX" not in rows
    _fill(srv.remote, 1, start=7)
    srv.stop()
    _check_show_log(srv, 6)


def test_compact_shrinks_and_survives_restart(counter_server):
    """ovsdb-server/compact via ovs-appctl shrinks the file; the data survives restart."""
    srv = counter_server
    _fill(srv.remote, 10)
    with Client(srv.remote) as c:
        for i in range(300):
            c.transact("simple", {"op": "update", "table": "Parent",
                                  "where": [["name", "==", "r0"]], "row": {"number": i}})
        c.transact("simple", {"op": "delete", "table": "Parent",
                              "where": [["name", "==", "r9"]]})
    before = srv.db.stat().st_size
    r = srv.appctl("ovsdb-server/compact")
    assert r.returncode == 0
    deadline = time.monotonic() + 10
    while srv.db.stat().st_size >= before and time.monotonic() < deadline:
        time.sleep(0.1)
    after = srv.db.stat().st_size
    assert after < before / 2, (before, after)
    rows = _names(srv.remote)
    assert rows["r0"]["number"] == 299
    _fill(srv.remote, 1, start=50)  # the compacted log must accept appends
    srv.stop()
    _check_show_log(srv, 2)
    srv.start()
    rows = _names(srv.remote)
    assert rows["r0"]["number"] == 299
    assert "r9" not in rows
    assert {f"r{i}" for i in range(9)} | {"r50", "counter"} == set(rows)


def test_ovsdb_tool_reads_our_db(ovsdb_server):
    """ovsdb-tool db-name/db-version/db-cksum/show-log read the server's database file."""
    srv = ovsdb_server(VSWITCH_SCHEMA)
    schema = json.loads(VSWITCH_SCHEMA.read_text())
    srv.vsctl("init")
    srv.vsctl("add-br", "br0")
    srv.stop()
    env = srv.env
    assert run_tool(["ovsdb-tool", "db-name", srv.db], env=env).stdout.strip() == "Open_vSwitch"
    assert run_tool(["ovsdb-tool", "db-version", srv.db], env=env).stdout.strip() == \
        schema["version"]
    assert run_tool(["ovsdb-tool", "db-cksum", srv.db], env=env).stdout.strip() == \
        schema["cksum"]
    log = run_tool(["ovsdb-tool", "-m", "show-log", srv.db], env=env).stdout
    assert "table Bridge insert row" in log
    assert 'name="br0"' in log or "br0" in log
    # And the reference tooling can query it offline.
    q = run_tool(["ovsdb-tool", "query", srv.db, json.dumps(
        ["Open_vSwitch", {"op": "select", "table": "Bridge", "where": [],
                          "columns": ["name"]}])], env=env).stdout
    assert json.loads(q)[0]["rows"] == [{"name": "br0"}]


def test_unixctl_exit_is_clean(ovsdb_server):
    """``ovs-appctl -t ovsdb-server exit`` (found via RUNDIR's default pidfile and
    ovsdb-server.<pid>.ctl) stops with status 0, removes its files, and keeps the data."""
    srv = ovsdb_server(SIMPLE_SCHEMA, default_paths=True)
    _fill(srv.remote, 5)
    assert srv.wait_ctl() == srv.rundir / f"ovsdb-server.{srv.pid}.ctl"
    assert srv.pidfile.read_text().strip() == str(srv.pid)
    r = run_tool(["ovs-appctl", "-t", "ovsdb-server", "exit"], env=srv.env)
    assert r.returncode == 0
    assert srv.proc.wait(15) == 0
    assert not srv.pidfile.exists()
    assert not srv.ctl.exists()
    assert not srv.sock.exists()
    srv.start()
    assert {f"r{i}" for i in range(5)} <= set(_names(srv.remote))
