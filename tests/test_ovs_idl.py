"""The PyPI ``ovs`` package's Python IDL (monitor_cond_since client) against the server."""

from __future__ import annotations

import time
import uuid

import ovs.db.idl
import ovs.poller
import pytest
from conftest import VSWITCH_SCHEMA, require_tool


@pytest.fixture
def vs(vswitch_server):
    require_tool("ovs-vsctl")
    vswitch_server.vsctl("init")
    return vswitch_server


class Recorder:
    """Wraps ``idl.send_request`` to record the JSON-RPC requests the IDL sends."""

    def __init__(self, idl):
        self.sent = []
        self._orig = idl.send_request
        idl.send_request = self

    def __call__(self, msg):
        self.sent.append((msg.method, msg.params))
        return self._orig(msg)

    def methods(self):
        return [m for m, _ in self.sent]


def make_idl(srv, tables=None):
    """An IDL on ``srv``; ``tables`` maps table -> columns (None: all tables, all columns)."""
    helper = ovs.db.idl.SchemaHelper(location=str(VSWITCH_SCHEMA))
    if tables is None:
        helper.register_all()
    else:
        for table, columns in tables.items():
            if columns is None:
                helper.register_table(table)
            else:
                helper.register_columns(table, columns)
    idl = ovs.db.idl.Idl(srv.remote, helper, probe_interval=0)
    return idl, Recorder(idl)


def run_until(idl, cond, timeout=15.0, what="condition"):
    """Run the IDL's main loop until ``cond()`` is true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        idl.run()
        if cond():
            return
        if time.monotonic() > deadline:
            pytest.fail(f"IDL never reached: {what} (state {idl.state})")
        poller = ovs.poller.Poller()
        idl.wait(poller)
        poller.timer_wait(100)
        poller.block()


def names(idl, table="Bridge"):
    return sorted(row.name for row in idl.tables[table].rows.values())


def test_initial_contents_via_monitor_cond_since(vs):
    """The IDL gets the initial contents through monitor_cond_since, with no fallback."""
    vs.vsctl("add-br", "br0", "--", "add-port", "br0", "p1", "--", "set", "Interface", "p1",
             "type=internal")
    idl, rec = make_idl(vs)
    try:
        run_until(idl, lambda: idl.has_ever_connected() and names(idl) == ["br0"],
                  what="initial contents")
        assert idl.state == idl.IDL_S_MONITORING
        methods = rec.methods()
        assert "monitor_cond_since" in methods, methods
        assert "monitor" not in methods, methods
        mcs = [p for m, p in rec.sent if m == "monitor_cond_since"][0]
        assert mcs[0] == "Open_vSwitch"
        assert mcs[3] == "00000000-0000-0000-0000-000000000000"
        uuid.UUID(idl.last_id)

        (root,) = idl.tables["Open_vSwitch"].rows.values()
        assert [b.name for b in root.bridges] == ["br0"]
        (br0,) = idl.tables["Bridge"].rows.values()
        assert sorted(p.name for p in br0.ports) == ["br0", "p1"]
        ifaces = {i.name: i for i in idl.tables["Interface"].rows.values()}
        assert ifaces["p1"].type == "internal"
        assert idl.change_seqno > 0
    finally:
        idl.close()


def test_registered_subset_of_columns(vs):
    """With only some columns registered, the replica holds exactly those."""
    vs.vsctl("add-br", "br0", "--", "set", "Bridge", "br0", "other_config:k=v")
    idl, _ = make_idl(vs, {"Open_vSwitch": ["bridges"], "Bridge": ["name", "other_config"]})
    try:
        run_until(idl, lambda: names(idl) == ["br0"], what="br0 in the replica")
        assert set(idl.tables) == {"Open_vSwitch", "Bridge"}
        (br0,) = idl.tables["Bridge"].rows.values()
        assert br0.other_config == {"k": "v"}
        with pytest.raises(AttributeError):
            br0.fail_mode  # noqa: B018 - not registered
    finally:
        idl.close()


def test_transaction_insert_bridge(vs):
    """A Bridge inserted through ovs.db.idl.Transaction commits and appears everywhere."""
    idl, _ = make_idl(vs)
    try:
        run_until(idl, lambda: len(idl.tables["Open_vSwitch"].rows) == 1, what="root row")
        seq = idl.change_seqno
        (root,) = idl.tables["Open_vSwitch"].rows.values()
        txn = ovs.db.idl.Transaction(idl)
        iface = txn.insert(idl.tables["Interface"])
        iface.name = "idlbr"
        iface.type = "internal"
        port = txn.insert(idl.tables["Port"])
        port.name = "idlbr"
        port.interfaces = [iface]
        br = txn.insert(idl.tables["Bridge"])
        br.name = "idlbr"
        br.ports = [port]
        br.external_ids = {"made-by": "idl"}
        root.addvalue("bridges", br.uuid)
        status = txn.commit_block()
        assert status == ovs.db.idl.Transaction.SUCCESS, txn.get_error()
        real_uuid = txn.get_insert_uuid(br.uuid)
        assert real_uuid is not None

        run_until(idl, lambda: real_uuid in idl.tables["Bridge"].rows, what="inserted bridge")
        assert idl.change_seqno > seq
        row = idl.tables["Bridge"].rows[real_uuid]
        assert row.name == "idlbr" and row.external_ids == {"made-by": "idl"}
        assert [p.name for p in row.ports] == ["idlbr"]
        assert vs.vsctl("list-br").stdout.split() == ["idlbr"]
        assert vs.vsctl("get", "Bridge", "idlbr", "_uuid").stdout.strip() == str(real_uuid)
        assert vs.vsctl("get", "Interface", "idlbr", "type").stdout.strip() == "internal"
    finally:
        idl.close()


def test_transaction_failure_reported(vs):
    """A transaction the server refuses (duplicate Bridge name index) reports ERROR."""
    vs.vsctl("add-br", "br0")
    idl, _ = make_idl(vs)
    try:
        run_until(idl, lambda: names(idl) == ["br0"], what="br0")
        (root,) = idl.tables["Open_vSwitch"].rows.values()
        txn = ovs.db.idl.Transaction(idl)
        dup = txn.insert(idl.tables["Bridge"])
        dup.name = "br0"
        root.addvalue("bridges", dup.uuid)
        status = txn.commit_block()
        assert status == ovs.db.idl.Transaction.ERROR, status
        assert "constraint violation" in txn.get_error()
        assert vs.vsctl("list-br").stdout.split() == ["br0"]
        assert len(vs.vsctl("--bare", "--columns=_uuid", "list", "Bridge").stdout.split()) == 1
    finally:
        idl.close()


def test_changes_by_other_client_show_up(vs):
    """Rows added, changed and deleted by ovs-vsctl reach the IDL; change_seqno grows."""
    idl, _ = make_idl(vs)
    try:
        run_until(idl, lambda: len(idl.tables["Open_vSwitch"].rows) == 1, what="root row")
        seq0 = idl.change_seqno
        vs.vsctl("add-br", "br9")
        run_until(idl, lambda: names(idl) == ["br9"], what="br9 added")
        seq1 = idl.change_seqno
        assert seq1 > seq0

        vs.vsctl("set", "Bridge", "br9", "other_config:color=blue")
        run_until(idl, lambda: next(iter(idl.tables["Bridge"].rows.values())).other_config
                  == {"color": "blue"}, what="other_config change")
        seq2 = idl.change_seqno
        assert seq2 > seq1

        vs.vsctl("del-br", "br9")
        run_until(idl, lambda: names(idl) == [] and names(idl, "Interface") == [],
                  what="br9 deleted")
        assert idl.change_seqno > seq2
        (root,) = idl.tables["Open_vSwitch"].rows.values()
        assert root.bridges == []
    finally:
        idl.close()


def test_resync_after_server_restart(vs):
    """After the server restarts, the IDL reconnects, re-monitors and sees new data."""
    vs.vsctl("add-br", "br0")
    idl, rec = make_idl(vs)
    try:
        run_until(idl, lambda: names(idl) == ["br0"], what="br0")
        n_before = rec.methods().count("monitor_cond_since")
        vs.stop()
        vs.start()
        vs.vsctl("add-br", "br1")
        run_until(idl, lambda: names(idl) == ["br0", "br1"], timeout=40, what="br1 after restart")
        assert rec.methods().count("monitor_cond_since") > n_before
        resumed = [p for m, p in rec.sent if m == "monitor_cond_since"][-1]
        uuid.UUID(resumed[3])
    finally:
        idl.close()


def test_idl_lock(vs):
    """IDL locks: one IDL holds the lock, a second sees it contended."""
    a, _ = make_idl(vs, {"Open_vSwitch": None})
    b, _ = make_idl(vs, {"Open_vSwitch": None})
    try:
        a.set_lock("ovs_vswitchd")
        run_until(a, lambda: a.has_lock, what="lock held")
        b.set_lock("ovs_vswitchd")
        run_until(b, lambda: b.is_lock_contended, what="lock contended")
        assert not b.has_lock
        a.close()
        run_until(b, lambda: b.has_lock, what="lock handed over")
    finally:
        a.close()
        b.close()
