"""Raw JSON-RPC protocol behaviour: bad input, errors, locks, triggers, monitors, _Server.

Where RFC 7047 leaves room, Debian's ovsdb-server 3.1 is the spec: every assertion here
holds against it (``VSWITCH_TEST_OVSDB_SERVER=reference``).
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import time
import uuid

import pytest
from conftest import (
    REPO,
    SIMPLE_SCHEMA,
    VSWITCH_SCHEMA,
    only_ours,
    run_tool,
    twistd_path,
    wait_for_socket,
)
from ovsdb_client import Client, RpcError, apply_update2

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
ZERO_UUID = "00000000-0000-0000-0000-000000000000"


def _select(client, table="Parent", columns=None, db="simple"):
    op = {"op": "select", "table": table, "where": []}
    if columns is not None:
        op["columns"] = columns
    return client.transact(db, op)[0]["rows"]


def _error_name(error):
    """The RFC 7047 error name of a JSON-RPC ``error`` member (string or object)."""
    return error if isinstance(error, str) else error.get("error")


# -- connection-level robustness ---------------------------------------------------------

def test_malformed_json_closes_only_that_connection(simple_server):
    """Malformed JSON makes the server drop that connection; other clients keep working."""
    with Client(simple_server.remote) as good, Client(simple_server.remote) as bad:
        assert good.request("echo", ["before"]) == ["before"]
        bad.send_raw(b'{"method": "echo", "params": [1],, "id": 1]]]')
        assert bad.is_closed_by_server(5.0), "server kept a connection that sent garbage"
        assert good.request("echo", ["after"]) == ["after"]
    with Client(simple_server.remote) as fresh:
        assert "simple" in fresh.request("list_dbs", [])


def test_non_array_params_is_a_protocol_error(simple_server):
    """A request whose params is not an array is a JSON-RPC protocol error: connection closed."""
    with Client(simple_server.remote) as bad, Client(simple_server.remote) as good:
        bad.send({"method": "transact", "params": "simple", "id": 1})
        assert bad.is_closed_by_server(5.0)
        assert good.request("echo", []) == []


def test_half_sent_transaction_leaves_db_consistent(simple_server):
    """A client that dies mid-message commits nothing and disturbs nobody."""
    with Client(simple_server.remote) as other:
        other.transact("simple", {"op": "insert", "table": "Parent", "row": {"name": "keep"}})
        half = Client(simple_server.remote)
        msg = json.dumps({"method": "transact", "id": 7, "params": [
            "simple", {"op": "insert", "table": "Parent", "row": {"name": "half"}}]})
        half.send_raw(msg[: len(msg) // 2].encode())
        time.sleep(0.1)
        half.close()
        assert other.request("echo", ["alive"]) == ["alive"]
        names = sorted(r["name"] for r in _select(other, columns=["name"]))
        assert names == ["keep"]
    with Client(simple_server.remote) as fresh:
        assert [r["name"] for r in _select(fresh, columns=["name"])] == ["keep"]


def test_echo_returns_params(simple_server):
    """``echo`` replies with exactly its params."""
    with Client(simple_server.remote) as c:
        params = [1, "two", {"three": [3.5, None, True]}]
        assert c.request("echo", params) == params
        assert c.request("echo", []) == []


def test_reply_messages_from_client(simple_server):
    """A reply to the server's "echo" probe is accepted; a reply to an unknown id drops the
    sender (as Debian's server does) without disturbing others."""
    with Client(simple_server.remote) as c, Client(simple_server.remote) as stray:
        c.send({"result": [], "error": None, "id": "echo"})
        assert c.request("echo", ["still"]) == ["still"]
        stray.send({"result": [], "error": None, "id": "never-sent"})
        assert stray.is_closed_by_server(5.0)
        assert c.request("echo", ["alive"]) == ["alive"]


# -- method-level errors --------------------------------------------------------------

def test_unknown_method(simple_server):
    """An unknown method gets the exact JSON-RPC error string "unknown method"."""
    with Client(simple_server.remote) as c:
        reply = c.call("frobnicate", [1, 2])
        assert reply["error"] == "unknown method"
        assert reply.get("result") is None
        assert c.request("echo", [1]) == [1]


def test_list_dbs_and_get_schema_with_extra_params(simple_server):
    """list_dbs names the database and _Server; get_schema tolerates extra params."""
    with Client(simple_server.remote) as c:
        dbs = c.request("list_dbs", [])
        assert "simple" in dbs and "_Server" in dbs
        schema = c.request("get_schema", ["simple", "extra", {"ignored": True}])
        assert schema["name"] == "simple"
        assert schema["version"] == "1.2.3"
        assert set(schema["tables"]) == {"Parent", "Child"}
        assert set(schema["tables"]["Parent"]["columns"]) == {"name", "number", "children",
                                                              "tags"}
        assert schema["tables"]["Parent"].get("indexes") == [["name"]]
        assert schema["tables"]["Parent"].get("isRoot") is True


def test_unknown_database(simple_server):
    """get_schema, transact and monitor on a missing db answer error "unknown database"."""
    with Client(simple_server.remote) as c:
        for method, params in [
            ("get_schema", ["nope"]),
            ("transact", ["nope", {"op": "select", "table": "Parent", "where": []}]),
            ("monitor", ["nope", None, {"Parent": {}}]),
        ]:
            reply = c.call(method, params)
            assert reply.get("result") is None, method
            assert _error_name(reply["error"]) == "unknown database", (method, reply)


def test_transact_without_database_is_syntax_error(simple_server):
    """``transact`` with empty params is a "syntax error" JSON-RPC error."""
    with Client(simple_server.remote) as c:
        reply = c.call("transact", [])
        assert _error_name(reply["error"]) == "syntax error"


@pytest.mark.parametrize("op, error", [
    ({"op": "frobnicate", "table": "Parent"}, "syntax error"),
    ({"op": "select", "table": "NoSuchTable", "where": []}, "syntax error"),
    ({"op": "insert", "table": "Parent", "row": {"name": 5}}, "syntax error"),
    ({"op": "insert", "table": "Parent", "row": {"nosuchcolumn": 1}}, "unknown column"),
    ("not an object", "syntax error"),
    ({"op": "insert", "table": "Parent", "row": {"number": 5000}}, "constraint violation"),
    ({"op": "insert", "table": "Parent", "row": {"number": -1}}, "constraint violation"),
    ({"op": "insert", "table": "Parent",
      "row": {"children": ["uuid", "12345678-1234-1234-1234-123456789012"]}},
     "referential integrity violation"),
    ({"op": "abort"}, "aborted"),
    ({"op": "assert", "lock": "nobodyHoldsThis"}, "not owner"),
])
def test_invalid_operation_error_objects(simple_server, op, error):
    """A failing operation puts an RFC 7047 error object in the result array; nothing commits."""
    with Client(simple_server.remote) as c:
        ins = {"op": "insert", "table": "Parent", "row": {"name": "tmp"}}
        result = c.transact("simple", ins, op)
        assert isinstance(result, list)
        errors = [r for r in result if r is not None and "error" in r]
        assert errors, result
        assert errors[0]["error"] == error, result
        assert isinstance(errors[0].get("details", ""), str)
        assert _select(c) == []


def test_index_uniqueness_is_constraint_violation(simple_server):
    """Two rows with the same indexed name fail the whole transaction."""
    with Client(simple_server.remote) as c:
        row = {"op": "insert", "table": "Parent", "row": {"name": "dup"}}
        result = c.transact("simple", row, row)
        assert result[-1]["error"] == "constraint violation"
        assert len(result) == 3
        assert _select(c) == []
        c.transact("simple", row)
        result = c.transact("simple", row)
        assert result[-1]["error"] == "constraint violation"
        assert len(_select(c)) == 1


def test_garbage_collection_of_unreferenced_child(simple_server):
    """A non-root Child row disappears when its last reference goes away."""
    with Client(simple_server.remote) as c:
        res = c.transact("simple",
                         {"op": "insert", "table": "Child", "row": {"value": 1},
                          "uuid-name": "kid"},
                         {"op": "insert", "table": "Parent",
                          "row": {"name": "p", "children": ["named-uuid", "kid"]}})
        kid = res[0]["uuid"]
        assert [r["_uuid"] for r in _select(c, "Child")] == [kid]
        orphan = c.transact("simple", {"op": "insert", "table": "Child", "row": {"value": 2}})
        assert "uuid" in orphan[0]
        assert [r["value"] for r in _select(c, "Child")] == [1]
        c.transact("simple", {"op": "update", "table": "Parent", "where": [],
                              "row": {"children": ["set", []]}})
        assert _select(c, "Child") == []


# -- triggers: wait / cancel ----------------------------------------------------------

def _wait_op(until, rows, timeout):
    return {"op": "wait", "table": "Parent", "where": [], "columns": ["name"],
            "until": until, "rows": rows, "timeout": timeout}


def test_wait_times_out(simple_server):
    """An unsatisfied ``wait`` fails with "timed out" after about its timeout."""
    with Client(simple_server.remote) as c:
        c.transact("simple", {"op": "insert", "table": "Parent", "row": {"name": "a"}})
        t0 = time.monotonic()
        result = c.transact("simple", _wait_op("==", [], 300))
        elapsed = time.monotonic() - t0
        assert result[0]["error"] == "timed out"
        assert 0.25 <= elapsed < 5.0


def test_wait_completes_when_another_client_commits(simple_server):
    """A blocked ``wait`` completes as soon as another client makes it true."""
    with Client(simple_server.remote) as waiter, Client(simple_server.remote) as writer:
        rid = waiter.send_request("transact", ["simple", _wait_op("==", [{"name": "go"}],
                                                                   10000)])
        waiter.pump(0.2)
        assert json.dumps(rid) not in waiter.replies
        writer.transact("simple", {"op": "insert", "table": "Parent", "row": {"name": "go"}})
        reply = waiter.wait_reply(rid, timeout=5)
        assert reply["result"] == [{}]


def test_cancel_blocked_wait(simple_server):
    """``cancel`` of a blocked transact answers it with error "canceled".

    Debian's 3.1 server answers "canceled" only on db-change-aware sessions (it drops
    the trigger silently otherwise), so the session declares itself change-aware first.
    """
    with Client(simple_server.remote) as c:
        assert c.request("set_db_change_aware", [True]) == {}
        c.transact("simple", {"op": "insert", "table": "Parent", "row": {"name": "a"}})
        c.send_request("transact", ["simple", _wait_op("==", [], 20000)], id="wait-1")
        c.pump(0.2)
        assert json.dumps("wait-1") not in c.replies
        c.notify("cancel", ["wait-1"])
        reply = c.wait_reply("wait-1", timeout=5)
        assert _error_name(reply["error"]) == "canceled"
        assert c.request("echo", ["ok"]) == ["ok"]


# -- locks ----------------------------------------------------------------------------

def test_lock_steal_unlock(simple_server):
    """lock/steal/unlock with "locked" and "stolen" notifications between clients."""
    r = simple_server.remote
    with Client(r) as a, Client(r) as b, Client(r) as c:
        assert a.request("lock", ["L"]) == {"locked": True}
        assert b.request("lock", ["L"]) == {"locked": False}
        assert a.transact("simple", {"op": "assert", "lock": "L"}) == [{}]
        assert b.transact("simple", {"op": "assert", "lock": "L"})[0]["error"] == "not owner"

        assert c.request("steal", ["L"]) == {"locked": True}
        stolen = a.next_notification("stolen", timeout=5)
        assert stolen["params"] == ["L"]
        assert a.transact("simple", {"op": "assert", "lock": "L"})[0]["error"] == "not owner"
        assert c.transact("simple", {"op": "assert", "lock": "L"}) == [{}]

        # a gives up; when the thief releases, the lock goes to the waiting b.
        assert a.request("unlock", ["L"]) == {}
        assert c.request("unlock", ["L"]) == {}
        locked = b.next_notification("locked", timeout=5)
        assert locked["params"] == ["L"]
        assert b.transact("simple", {"op": "assert", "lock": "L"}) == [{}]
        a.pump(0.2)
        assert not [n for n in a.notifications if n["method"] == "locked"]


def test_stolen_owner_gets_lock_back(simple_server):
    """After "stolen", the former owner still waits: it gets "locked" when the thief unlocks.

    (The C IDL relies on this: it never re-sends "lock" after "stolen".)
    """
    r = simple_server.remote
    with Client(r) as a, Client(r) as c:
        assert a.request("lock", ["M"]) == {"locked": True}
        assert c.request("steal", ["M"]) == {"locked": True}
        assert a.next_notification("stolen", timeout=5)["params"] == ["M"]
        assert c.request("unlock", ["M"]) == {}
        assert a.next_notification("locked", timeout=5)["params"] == ["M"]


def test_lock_released_on_disconnect(simple_server):
    """A lock holder that disconnects hands the lock to the next waiter."""
    r = simple_server.remote
    with Client(r) as b:
        a = Client(r)
        assert a.request("lock", ["D"]) == {"locked": True}
        assert b.request("lock", ["D"]) == {"locked": False}
        a.close()
        assert b.next_notification("locked", timeout=5)["params"] == ["D"]


def test_lock_misuse_is_error(simple_server):
    """A second lock of the same name or unlock without lock are errors."""
    with Client(simple_server.remote) as a:
        assert a.request("lock", ["X"]) == {"locked": True}
        assert _error_name(a.call("lock", ["X"])["error"]) == "syntax error"
        assert _error_name(a.call("unlock", ["never-locked"])["error"]) == "syntax error"


# -- monitors -------------------------------------------------------------------------

def test_monitor_updates_and_own_txn_order(simple_server):
    """``monitor`` sends initial rows, then "update"s; own updates precede the transact reply."""
    with Client(simple_server.remote) as c:
        c.transact("simple", {"op": "insert", "table": "Parent",
                              "row": {"name": "first", "number": 1}})
        initial = c.request("monitor", ["simple", "mon", {"Parent": {"columns": ["name",
                                                                               "number"]}}])
        (row,) = initial["Parent"].values()
        assert row == {"new": {"name": "first", "number": 1}}

        order = []
        dispatch = c._dispatch

        def spy(msg):
            order.append(msg.get("method") or ("reply", msg.get("id")))
            dispatch(msg)

        c._dispatch = spy
        rid = c.send_request("transact", ["simple", {"op": "insert", "table": "Parent",
                                                     "row": {"name": "second", "number": 2}}])
        reply = c.wait_reply(rid)
        assert order.index("update") < order.index(("reply", rid)), order
        new_uuid = reply["result"][0]["uuid"][1]
        upd = c.next_notification("update")
        assert upd["params"][0] == "mon"
        assert upd["params"][1] == {"Parent": {new_uuid: {"new": {"name": "second",
                                                                  "number": 2}}}}

        c.transact("simple", {"op": "update", "table": "Parent",
                              "where": [["name", "==", "second"]], "row": {"number": 3}})
        upd = c.next_notification("update")
        assert upd["params"][1] == {"Parent": {new_uuid: {"old": {"number": 2},
                                                          "new": {"name": "second",
                                                                  "number": 3}}}}
        c.transact("simple", {"op": "delete", "table": "Parent",
                              "where": [["name", "==", "second"]]})
        upd = c.next_notification("update")
        assert upd["params"][1] == {"Parent": {new_uuid: {"old": {"name": "second",
                                                                  "number": 3}}}}


def test_monitor_errors(simple_server):
    """Bad tables, bad columns and duplicate monitor ids are errors; monitor_cancel works."""
    with Client(simple_server.remote) as c:
        assert c.call("monitor", ["simple", None, {"Nope": {}}])["error"] is not None
        bad_col = c.call("monitor", ["simple", None, {"Parent": {"columns": ["zzz"]}}])
        assert _error_name(bad_col["error"]) == "syntax error"
        assert c.request("monitor", ["simple", "m", {"Parent": {}}]) == {}
        dup = c.call("monitor", ["simple", "m", {"Parent": {}}])
        assert _error_name(dup["error"]) == "syntax error"
        assert c.request("monitor_cancel", ["m"]) == {}
        assert _error_name(c.call("monitor_cancel", ["m"])["error"]) == "unknown monitor"
        c.transact("simple", {"op": "insert", "table": "Parent", "row": {"name": "quiet"}})
        c.pump(0.3)
        assert not [n for n in c.notifications if n["method"] == "update"]


def test_monitor_cond_and_cond_change(simple_server):
    """monitor_cond filters rows by condition, sends update2, and monitor_cond_change refilters."""
    with Client(simple_server.remote) as c:
        big = c.transact("simple", {"op": "insert", "table": "Parent",
                                    "row": {"name": "big", "number": 10}})[0]["uuid"][1]
        small = c.transact("simple", {"op": "insert", "table": "Parent",
                                      "row": {"name": "small", "number": 1}})[0]["uuid"][1]
        initial = c.request("monitor_cond", ["simple", "mc", {"Parent": [
            {"columns": ["name", "number"], "where": [["number", ">", 5]]}]}])
        assert initial == {"Parent": {big: {"initial": {"name": "big", "number": 10}}}}

        c.transact("simple", {"op": "update", "table": "Parent",
                              "where": [["name", "==", "small"]], "row": {"number": 7}})
        upd = c.next_notification("update2")
        assert upd["params"] == ["mc", {"Parent": {small: {"insert": {"name": "small",
                                                                      "number": 7}}}}]
        c.transact("simple", {"op": "update", "table": "Parent",
                              "where": [["name", "==", "big"]], "row": {"number": 11}})
        upd = c.next_notification("update2")
        assert upd["params"] == ["mc", {"Parent": {big: {"modify": {"number": 11}}}}]

        assert c.request("monitor_cond_change",
                         ["mc", "mc", {"Parent": [{"where": [["name", "==", "big"]]}]}]) == {}
        upd = c.next_notification("update2")
        assert upd["params"] == ["mc", {"Parent": {small: {"delete": None}}}]


def test_monitor_cond_since(simple_server):
    """monitor_cond_since replies [found, last-txn-id, update2] and sends update3s.

    Resuming from the last txn-id must be coherent either way: if the server says
    ``found`` the reply holds just the missed changes, otherwise the full contents.
    """
    r = simple_server.remote
    with Client(r) as c:
        c.transact("simple", {"op": "insert", "table": "Parent", "row": {"name": "a"}})
        cond = {"Parent": [{"columns": ["name"]}]}
        found, last_id, initial = c.request("monitor_cond_since",
                                            ["simple", "s", cond, ZERO_UUID])
        assert isinstance(found, bool)
        assert UUID_RE.match(last_id)
        replica: dict = {}
        apply_update2(replica, initial)
        assert [row["name"] for row in replica["Parent"].values()] == ["a"]
        assert all("initial" in ru for ru in initial["Parent"].values())

        c.transact("simple", {"op": "insert", "table": "Parent", "row": {"name": "b"}})
        upd = c.next_notification("update3")
        mon_id, txn_id, update = upd["params"]
        assert mon_id == "s"
        assert UUID_RE.match(txn_id)
        apply_update2(replica, update)
        assert sorted(row["name"] for row in replica["Parent"].values()) == ["a", "b"]

    with Client(r) as writer:
        writer.transact("simple", {"op": "insert", "table": "Parent", "row": {"name": "c"}})
    with Client(r) as c2:
        found, last2, update = c2.request("monitor_cond_since", ["simple", "s", cond, txn_id])
        assert UUID_RE.match(last2)
        if found:
            names = [ru["insert"]["name"] for ru in update["Parent"].values()]
            assert names == ["c"], update
        else:
            names = sorted(ru["initial"]["name"] for ru in update["Parent"].values())
            assert names == ["a", "b", "c"], update


# -- _Server and session ----------------------------------------------------------------

def test_server_database(simple_server):
    """_Server.Database has one row per database with name/model/connected/leader/schema."""
    with Client(simple_server.remote) as c:
        rows = _select(c, "Database", ["name", "model", "connected", "leader", "schema"],
                       db="_Server")
        by_name = {row["name"]: row for row in rows}
        assert "simple" in by_name
        row = by_name["simple"]
        assert row["model"] == "standalone"
        assert row["connected"] is True
        assert row["leader"] is True
        assert json.loads(row["schema"])["name"] == "simple"
        assert set(json.loads(row["schema"])["tables"]) == set(SIMPLE_SCHEMA["tables"])
        server_schema = c.request("get_schema", ["_Server"])
        assert "Database" in server_schema["tables"]
        assert {"name", "model", "connected", "leader", "schema"} <= set(
            server_schema["tables"]["Database"]["columns"])


def test_server_database_is_read_only(simple_server):
    """Clients cannot write _Server."""
    with Client(simple_server.remote) as c:
        reply = c.call("transact", ["_Server", {"op": "delete", "table": "Database",
                                                "where": []}])
        failed = reply.get("error") is not None or any(
            r and "error" in r for r in reply["result"])
        assert failed, reply
        assert any(row["name"] == "simple" for row in _select(c, "Database", ["name"],
                                                              db="_Server"))


def test_server_id_and_change_aware(simple_server):
    """get_server_id is a stable UUID; set_db_change_aware answers {}."""
    with Client(simple_server.remote) as c, Client(simple_server.remote) as d:
        sid = c.request("get_server_id", [])
        assert UUID_RE.match(sid)
        assert c.request("get_server_id", []) == sid == d.request("get_server_id", [])
        assert uuid.UUID(sid) != uuid.UUID(int=0)
        assert c.request("set_db_change_aware", [True]) == {}
        assert c.request("set_db_change_aware", [False]) == {}


def test_rpc_error_helper_raises(simple_server):
    """Client.request raises RpcError for error replies (helper sanity)."""
    with Client(simple_server.remote) as c, pytest.raises(RpcError) as info:
        c.request("frobnicate", [])
    assert info.value.error == "unknown method"


# -- remotes ------------------------------------------------------------------------------

def _free_tcp_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_extra_ptcp_remote(ovsdb_server):
    """A ``ptcp:PORT:127.0.0.1`` remote serves the same database as the unix socket."""
    port = _free_tcp_port()
    srv = ovsdb_server(SIMPLE_SCHEMA, extra_remotes=[f"ptcp:{port}:127.0.0.1"])
    tcp = f"tcp:127.0.0.1:{port}"
    deadline = time.monotonic() + 10
    while True:
        try:
            c = Client(tcp)
            break
        except OSError:
            assert time.monotonic() < deadline, f"nothing listens on {tcp}"
            time.sleep(0.05)
    with c, Client(srv.remote) as u:
        u.transact("simple", {"op": "insert", "table": "Parent", "row": {"name": "via-unix"}})
        assert [r["name"] for r in _select(c, columns=["name"])] == ["via-unix"]
    r = run_tool(["ovsdb-client", "list-dbs", tcp], env=srv.env)
    assert "simple" in r.stdout.split()


def test_add_remote_via_unixctl(simple_server):
    """``ovsdb-server/add-remote punix:PATH`` starts serving on a new socket at once."""
    second = simple_server.rundir / "second.sock"
    r = simple_server.appctl("ovsdb-server/add-remote", f"punix:{second}")
    assert r.returncode == 0
    assert wait_for_socket(second, simple_server.proc, 10)
    with Client(f"unix:{second}") as c, Client(simple_server.remote) as first:
        assert c.request("echo", ["second"]) == ["second"]
        first.transact("simple", {"op": "insert", "table": "Parent", "row": {"name": "x"}})
        assert [row["name"] for row in _select(c, columns=["name"])] == ["x"]


# -- our command line (not applicable to Debian's server) -------------------------------

def _twistd(tmp_path, *args, timeout=30):
    return subprocess.run([twistd_path(), "-n", "--pidfile=", "ovsdb-server", *args],
                          capture_output=True, text=True, timeout=timeout, cwd=REPO,
                          env={"PATH": "/usr/bin:/bin", "OVS_RUNDIR": str(tmp_path),
                               "OVS_DBDIR": str(tmp_path), "OVS_LOGDIR": str(tmp_path)})


def _assert_one_line_failure(r):
    assert r.returncode != 0, (r.stdout, r.stderr)
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, r.stderr
    assert "Traceback" not in r.stderr


@only_ours
def test_bad_db_path_fails_cleanly(tmp_path):
    """A DB path in a missing directory: non-zero exit, one line on stderr."""
    r = _twistd(tmp_path, f"--schema={VSWITCH_SCHEMA}", f"--remote=punix:{tmp_path}/s",
                f"--rundir={tmp_path}", "/nonexistent/dir/db")
    _assert_one_line_failure(r)


@only_ours
@pytest.mark.parametrize("content", ['{"name": "x", "tables": ', "not json at all",
                                     '{"name": "x", "version": "1.0.0", "tables": 5}'])
def test_garbled_schema_fails_cleanly(tmp_path, content):
    """A garbled or invalid schema file: non-zero exit, one line on stderr, no db made."""
    schema = tmp_path / "bad.ovsschema"
    schema.write_text(content)
    r = _twistd(tmp_path, f"--schema={schema}", f"--remote=punix:{tmp_path}/s",
                f"--rundir={tmp_path}", str(tmp_path / "db"))
    _assert_one_line_failure(r)
    assert not (tmp_path / "db").exists() or (tmp_path / "db").stat().st_size == 0


@only_ours
def test_unreadable_schema_fails_cleanly(tmp_path):
    """A missing schema file: non-zero exit, one line on stderr."""
    r = _twistd(tmp_path, f"--schema={tmp_path}/missing.ovsschema",
                f"--remote=punix:{tmp_path}/s", f"--rundir={tmp_path}", str(tmp_path / "db"))
    _assert_one_line_failure(r)
