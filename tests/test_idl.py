"""ovsdb.idl.Idl against real OVSDB servers: ours (``twistd ovsdb-server``) and Debian's.

Each test drives a private, uninstalled EPollReactor (``reactor=`` is how the IDL takes
its reactor and clock) by iterating it until the condition under test holds, so no
global reactor is started in the pytest process.  Debian's ``ovs-vsctl`` is the other
writer.  Where a test needs to see or shape the conversation, the IDL connects through
:class:`Proxy`, an in-test JSON-RPC relay to the real server that records what passes,
can answer chosen methods with "unknown method" (a server lacking them), drop or refuse
connections (a network outage) and inject bytes (a broken server).
"""

from __future__ import annotations

import gc
import socket
import time
import uuid
from typing import Any

import pytest
from conftest import IS_REFERENCE, VSWITCH_SCHEMA, OvsdbServer, require_tool
from twisted.internet import endpoints
from twisted.internet.epollreactor import EPollReactor
from twisted.internet.protocol import Factory, Protocol
from twisted.logger import formatEvent, globalLogPublisher
from twisted.python.failure import Failure

from ovsdb.data import datum_from_json
from ovsdb.errors import OVSDBError
from ovsdb.idl import Idl, TransactionError, python_value, value_to_json
from ovsdb.jsonrpc import JsonRpcProtocol, Message, SessionHandler, StreamDecoder, encode_json
from ovsdb.remotes import RemoteServiceError, SslOptions
from ovsdb.schema import load_schema_file

ZERO = str(uuid.UUID(int=0))


# ------------------------------------------------------------------ harness


@pytest.fixture
def reactor():
    """A private reactor; connections and timers left at the end are torn down."""
    r = EPollReactor()
    yield r
    for call in r.getDelayedCalls():
        call.cancel()
    for selectable in r.removeAll():
        selectable.connectionLost(Failure(Exception("test over")))
    r.waker.connectionLost(None)
    r._poller.close()


def spin(reactor, cond, timeout: float = 15.0, what: str = "condition") -> None:
    """Iterate ``reactor`` until ``cond()`` is true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        reactor.iterate(0.02)


def wait(reactor, d, timeout: float = 15.0) -> Any:
    """The result of Deferred ``d``; raises its failure's exception."""
    out: list[Any] = []
    d.addBoth(out.append)
    spin(reactor, lambda: out, timeout, "a Deferred")
    if isinstance(out[0], Failure):
        out[0].raiseException()
    return out[0]


@pytest.fixture
def log_events():
    """Log events seen during the test; the test fails if anything logged a traceback
    (an exception escaping the IDL, an unhandled error in a Deferred)."""
    events: list[dict] = []
    globalLogPublisher.addObserver(events.append)
    yield events
    gc.collect()  # unhandled Deferred errors are reported when collected
    globalLogPublisher.removeObserver(events.append)
    failures = [formatEvent(e) + "\n" + e["log_failure"].getTraceback()
                for e in events if "log_failure" in e]
    assert not failures, "\n".join(failures)


def idl_errors(events: list[dict]) -> list[str]:
    return [formatEvent(e) for e in events
            if e.get("log_namespace") == "idl" and e["log_level"].name == "error"]


@pytest.fixture
def make_idl(reactor, log_events):
    """Factory for started IDLs on ``reactor``; each is stopped at teardown."""
    idls: list[Idl] = []

    def factory(remote: str, **kw) -> Idl:
        kw.setdefault("min_backoff_ms", 1000)
        kw.setdefault("max_backoff_ms", 2000)
        idl = Idl(remote, reactor=reactor, **kw)
        idl.start()
        idls.append(idl)
        return idl

    yield factory
    for idl in idls:
        wait(reactor, idl.stop())


@pytest.fixture
def vs(vswitch_server):
    require_tool("ovs-vsctl")
    vswitch_server.vsctl("init")
    return vswitch_server


def rows(idl: Idl, table: str, column: str = "name") -> list:
    return sorted(r[column] for r in idl.tables[table].values())


def by_name(idl: Idl, table: str, name: str):
    return next(r for r in idl.tables[table].values() if r["name"] == name)


def connected(reactor, idl: Idl) -> Idl:
    spin(reactor, lambda: idl.is_connected, what="the IDL's monitor reply")
    return idl


# -------------------------------------------------------------------- proxy


class _Upstream(SessionHandler):
    """The proxy's session with the real server: everything goes to the client."""

    def __init__(self, conn: _ProxyConn) -> None:
        self.conn = conn

    def message_received(self, session, msg):
        if msg.id is None:
            self.conn.notifications.append(msg)
        else:
            self.conn.replies[msg.id] = msg
        self.conn.transport.write(msg.encode())

    def connection_lost(self, session, reason):
        self.conn.transport.loseConnection()


class _ProxyConn(Protocol):
    """One client connection through the proxy."""

    def __init__(self, proxy: Proxy) -> None:
        self.proxy = proxy
        self.decoder = StreamDecoder()
        self.upstream: JsonRpcProtocol | None = None
        self.waiting: list[bytes] = []
        self.requests: list[tuple[str, Any, Any]] = []  # client's (method, params, id)
        self.replies: dict[Any, Message] = {}  # server's replies by request id
        self.notifications: list[Message] = []  # server's notifications
        self.client_replies: list[dict] = []  # client's answers to our requests

    def connectionMade(self):  # noqa: N802 - Twisted API
        self.proxy.conns.append(self)
        if self.proxy.hold:
            self.transport.loseConnection()
            return
        factory = Factory.forProtocol(lambda: JsonRpcProtocol(
            _Upstream(self), probe_interval=0, clock=self.proxy.reactor))
        d = endpoints.UNIXClientEndpoint(self.proxy.reactor, self.proxy.upstream).connect(
            factory)
        d.addCallbacks(self._up, lambda _: self.transport.loseConnection())

    def _up(self, proto: JsonRpcProtocol) -> None:
        self.upstream = proto
        for data in self.waiting:
            proto.transport.write(data)

    def dataReceived(self, data):  # noqa: N802 - Twisted API
        for value in self.decoder.feed(data):
            if "method" not in value:
                self.client_replies.append(value)
                continue
            method, msg_id = value["method"], value.get("id")
            if msg_id is not None:
                self.requests.append((method, value.get("params"), msg_id))
            if self.proxy.mute:
                continue
            if method == "echo":
                self.transport.write(Message.reply(value["params"], msg_id).encode())
            elif method in self.proxy.deny:
                self.transport.write(Message.error_reply("unknown method", msg_id).encode())
            elif self.upstream is not None:
                self.upstream.transport.write(encode_json(value))
            else:
                self.waiting.append(encode_json(value))

    def connectionLost(self, reason=None):  # noqa: N802 - Twisted API
        if self.upstream is not None:
            self.upstream.close()

    def reply_to(self, method: str) -> Any:
        """The server's reply message to this client's (last) ``method`` request."""
        ids = [i for m, _, i in self.requests if m == method]
        return self.replies.get(ids[-1]) if ids else None


class Proxy:
    """A JSON-RPC relay on ``tcp:127.0.0.1:PORT`` to a server's Unix socket.

    ``deny``: methods answered "unknown method" instead of relayed; ``hold``: new
    connections are closed at once; ``mute``: the client's messages are dropped
    unanswered (a hung server).  The proxy answers the client's echo probes itself.
    """

    def __init__(self, reactor, upstream: str) -> None:
        self.reactor = reactor
        self.upstream = upstream
        self.deny: set[str] = set()
        self.hold = False
        self.mute = False
        self.conns: list[_ProxyConn] = []
        self.port = reactor.listenTCP(0, Factory.forProtocol(lambda: _ProxyConn(self)),
                                      interface="127.0.0.1")
        self.remote = f"tcp:127.0.0.1:{self.port.getHost().port}"

    def live(self) -> list[_ProxyConn]:
        return [c for c in self.conns if c.transport.connected and c.upstream is not None]

    def requests(self, method: str) -> list[Any]:
        """Params of every ``method`` request from clients, oldest first."""
        return [p for c in self.conns for m, p, _ in c.requests if m == method]

    def drop(self) -> None:
        for c in self.conns:
            c.transport.loseConnection()

    def inject(self, data: bytes) -> None:
        for c in self.live():
            c.transport.write(data)


@pytest.fixture
def proxy(reactor, vs):
    p = Proxy(reactor, str(vs.sock))
    yield p
    p.drop()
    p.port.stopListening()


# ------------------------------------------------------------- conversions


def test_python_values_and_back():
    """Each column shape has one Python form, and to_json's <value> parses back to it."""
    schema = load_schema_file(str(VSWITCH_SCHEMA))
    col = {(t, c): cs.type for t, ts in schema.tables.items() for c, cs in ts.columns.items()}
    u1, u2 = str(uuid.uuid4()), str(uuid.uuid4())
    cases = [
        (("Bridge", "name"), "br0", "br0"),
        (("Bridge", "fail_mode"), None, ["set", []]),
        (("Bridge", "fail_mode"), "secure", "secure"),
        (("Bridge", "ports"), frozenset({u1, u2}),
         ["set", sorted([["uuid", u1], ["uuid", u2]], key=repr)]),
        (("Bridge", "ports"), frozenset(), ["set", []]),
        (("Bridge", "other_config"), {"a": "1", "b": "2"}, ["map", [["a", "1"], ["b", "2"]]]),
        (("Interface", "ofport"), 7, 7),
        (("Interface", "ofport"), None, ["set", []]),
        (("Port", "trunks"), frozenset({1, 2}), ["set", [1, 2]]),
        (("Bridge", "stp_enable"), True, True),
        (("Open_vSwitch", "bridges"), frozenset({u1}), ["set", [["uuid", u1]]]),
        (("Interface", "statistics"), {"rx_packets": 5}, ["map", [["rx_packets", 5]]]),
    ]
    for key, value, json in cases:
        t = col[key]
        assert value_to_json(t, value) == json, key
        assert python_value(t, datum_from_json(t, json)) == value, key
    # A string that is not a UUID names a row inserted in the same transaction.
    assert value_to_json(col["Bridge", "ports"], ["newport"]) == \
        ["set", [["named-uuid", "newport"]]]
    with pytest.raises(OVSDBError, match="syntax error"):
        value_to_json(col["Interface", "ofport"], "seven")
    with pytest.raises(OVSDBError, match="constraint violation"):
        value_to_json(col["Bridge", "fail_mode"], "sometimes")
    with pytest.raises(TypeError):
        value_to_json(col["Bridge", "ports"], u1)
    with pytest.raises(TypeError):
        value_to_json(col["Bridge", "other_config"], [("a", "b")])


def test_bad_remotes():
    with pytest.raises(ValueError, match="active connection method"):
        Idl("punix:/tmp/x.sock")
    with pytest.raises(ValueError, match="unknown connection method"):
        Idl("udp:1.2.3.4:5")


# --------------------------------------------------------- replica contents


def test_initial_contents(reactor, make_idl, vs, proxy):
    """The first connection asks monitor_cond_since with the zero txn id and [true]
    conditions, and the replica holds every table with Python-typed values."""
    vs.vsctl("add-br", "br0", "--", "add-port", "br0", "p1", "--",
             "set", "Interface", "p1", "type=internal", "ofport_request=5", "--",
             "set", "Bridge", "br0", "other_config:hwaddr=00:11:22:33:44:55",
             "fail_mode=secure")
    calls: list[int] = []
    idl = make_idl(proxy.remote)
    idl.add_listener(lambda: calls.append(idl.change_seqno))
    connected(reactor, idl)

    assert [m for m, _, _ in proxy.conns[0].requests] == ["get_schema", "monitor_cond_since"]
    db, mon_id, requests, last = proxy.requests("monitor_cond_since")[0]
    assert (db, last) == ("Open_vSwitch", ZERO)
    assert requests["Bridge"] == [{"columns": sorted(c for c in
                                                     idl.schema.tables["Bridge"].columns
                                                     if not c.startswith("_")),
                                   "where": [True]}]
    assert set(idl.tables) == set(idl.schema.tables)
    found, txn_id, _ = proxy.conns[0].reply_to("monitor_cond_since").result
    assert found is False and idl.last_txn_id == txn_id

    (root,) = idl.tables["Open_vSwitch"].values()
    br0 = by_name(idl, "Bridge", "br0")
    assert root["bridges"] == frozenset({br0.uuid}) and br0.table == "Bridge"
    assert br0["ports"] == frozenset(p.uuid for p in idl.tables["Port"].values())
    assert rows(idl, "Port") == ["br0", "p1"]
    assert br0["fail_mode"] == "secure" and br0["datapath_id"] is None
    assert br0["other_config"] == {"hwaddr": "00:11:22:33:44:55"}
    assert br0["stp_enable"] is False and br0["protocols"] == frozenset()
    p1 = by_name(idl, "Interface", "p1")
    assert (p1["type"], p1["ofport_request"], p1["ofport"]) == ("internal", 5, None)
    assert br0.get("no_such_column", "dflt") == "dflt" and "name" in br0
    assert idl.change_seqno >= 1 and calls and calls[-1] == idl.change_seqno


def test_subset_of_tables_and_columns(reactor, make_idl, vs, log_events):
    """Only the requested columns are monitored; a table or column the schema lacks is
    skipped with a warning instead of failing the monitor."""
    vs.vsctl("add-br", "br0", "--", "set", "Bridge", "br0", "external_ids:k=v")
    idl = connected(reactor, make_idl(vs.remote, tables={
        "Bridge": ["name", "external_ids", "no_such_column"], "Port": None,
        "No_Such_Table": None}))
    assert set(idl.tables) == {"Bridge", "Port"}
    br0 = by_name(idl, "Bridge", "br0")
    assert br0["external_ids"] == {"k": "v"}
    with pytest.raises(KeyError):
        br0["ports"]
    assert "ports" not in br0
    assert rows(idl, "Port") == ["br0"]
    warnings = [formatEvent(e) for e in log_events if e.get("log_namespace") == "idl"
                and e["log_level"].name == "warn"]
    assert any("lacks No_Such_Table table" in w for w in warnings), warnings
    assert any("lacks no_such_column column" in w for w in warnings), warnings


@pytest.mark.parametrize("deny, method, notification", [
    ((), "monitor_cond_since", "update3"),
    (("monitor_cond_since",), "monitor_cond", "update2"),
    (("monitor_cond_since", "monitor_cond"), "monitor", "update"),
], ids=["update3", "update2-fallback", "update-fallback"])
def test_changes_by_ovs_vsctl_appear(reactor, make_idl, vs, proxy, deny, method,
                                     notification):
    """Rows added, changed and deleted by ovs-vsctl reach the replica through each
    notification format; fallback happens only on "unknown method"."""
    proxy.deny = set(deny)
    idl = connected(reactor, make_idl(proxy.remote))
    sent = [m for m, _, _ in proxy.conns[0].requests if m.startswith("monitor")]
    assert sent == [*deny, method]
    for denied in deny:
        assert proxy.conns[0].reply_to(denied) is None  # answered by the "server" here
    assert idl.last_txn_id == ZERO or method == "monitor_cond_since"

    calls: list[int] = []
    idl.add_listener(lambda: calls.append(idl.change_seqno))

    def step(*args, until, what):
        seq = idl.change_seqno
        vs.vsctl(*args)
        spin(reactor, until, what=what)
        assert idl.change_seqno > seq and calls[-1] == idl.change_seqno

    step("add-br", "br0", until=lambda: rows(idl, "Bridge") == ["br0"], what="br0")
    step("add-port", "br0", "p1", until=lambda: rows(idl, "Port") == ["br0", "p1"],
         what="p1")
    br0 = by_name(idl, "Bridge", "br0")
    assert len(br0["ports"]) == 2
    # Map diffs: add, change, remove keys; optional scalar set and cleared.
    step("set", "Bridge", "br0", "other_config:a=1", "other_config:b=2",
         "fail_mode=secure",
         until=lambda: by_name(idl, "Bridge", "br0")["other_config"] == {"a": "1", "b": "2"},
         what="other_config")
    assert by_name(idl, "Bridge", "br0")["fail_mode"] == "secure"
    step("remove", "Bridge", "br0", "other_config", "a", "--", "set", "Bridge", "br0",
         "other_config:b=3", "--", "clear", "Bridge", "br0", "fail_mode",
         until=lambda: by_name(idl, "Bridge", "br0")["other_config"] == {"b": "3"},
         what="other_config change")
    assert by_name(idl, "Bridge", "br0")["fail_mode"] is None
    step("set", "Port", "p1", "trunks=1,2,3",
         until=lambda: by_name(idl, "Port", "p1")["trunks"] == frozenset({1, 2, 3}),
         what="trunks")
    step("set", "Port", "p1", "trunks=2,4",
         until=lambda: by_name(idl, "Port", "p1")["trunks"] == frozenset({2, 4}),
         what="trunks diff")
    step("del-port", "br0", "p1",
         until=lambda: rows(idl, "Port") == ["br0"] and rows(idl, "Interface") == ["br0"],
         what="p1 gone")
    assert by_name(idl, "Bridge", "br0")["ports"] == frozenset(idl.tables["Port"])
    notes = proxy.conns[0].notifications
    assert {n.method for n in notes} == {notification}
    if notification == "update3":
        assert idl.last_txn_id == notes[-1].params[1]


# ---------------------------------------------------------------- transact


def test_transact_writes_appear_to_ovs_vsctl(reactor, make_idl, vs):
    """Operations built with to_json commit, ovs-vsctl sees them, and so does the
    replica."""
    vs.vsctl("add-br", "br0")
    idl = connected(reactor, make_idl(vs.remote))
    (root,) = idl.tables["Open_vSwitch"].values()
    br0 = by_name(idl, "Bridge", "br0")
    ops = [
        {"op": "update", "table": "Bridge", "where": [["_uuid", "==", ["uuid", br0.uuid]]],
         "row": {"external_ids": idl.to_json("Bridge", "external_ids", {"owner": "idl"}),
                 "fail_mode": idl.to_json("Bridge", "fail_mode", "standalone")}},
        {"op": "insert", "table": "Interface", "uuid-name": "i1",
         "row": {"name": "br1", "type": "internal"}},
        {"op": "insert", "table": "Port", "uuid-name": "p1",
         "row": {"name": "br1", "interfaces": idl.to_json("Port", "interfaces", ["i1"])}},
        {"op": "insert", "table": "Bridge", "uuid-name": "b1",
         "row": {"name": "br1", "ports": idl.to_json("Bridge", "ports", ["p1"])}},
        {"op": "mutate", "table": "Open_vSwitch",
         "where": [["_uuid", "==", ["uuid", root.uuid]]],
         "mutations": [["bridges", "insert", idl.to_json("Open_vSwitch", "bridges", ["b1"])],
                       ["next_cfg", "+=", 1]]},
    ]
    results = wait(reactor, idl.transact(ops))
    assert results[0] == {"count": 1} and results[4] == {"count": 1}
    br1_uuid = results[3]["uuid"][1]

    assert vs.vsctl("get", "Bridge", "br0", "external_ids:owner").stdout.strip() == "idl"
    assert vs.vsctl("get", "Bridge", "br0", "fail_mode").stdout.strip() == "standalone"
    assert vs.vsctl("list-br").stdout.split() == ["br0", "br1"]
    assert vs.vsctl("get", "Bridge", "br1", "_uuid").stdout.strip() == br1_uuid
    assert vs.vsctl("get", "Interface", "br1", "type").stdout.strip() == "internal"
    spin(reactor, lambda: br1_uuid in idl.tables["Bridge"], what="br1 in the replica")
    assert idl.tables["Bridge"][br1_uuid]["name"] == "br1"
    assert idl.tables["Open_vSwitch"][root.uuid]["next_cfg"] == root["next_cfg"] + 1


def test_transact_failures(reactor, make_idl, vs):
    """A failed operation, a commit-time failure and a disconnected IDL all errback
    with TransactionError carrying the server's error object."""
    vs.vsctl("add-br", "br0")
    idl = Idl(vs.remote, reactor=reactor)
    with pytest.raises(TransactionError) as e:
        wait(reactor, idl.transact([{"op": "comment", "comment": "x"}]))
    assert e.value.error == "not connected" and e.value.results is None

    idl = connected(reactor, make_idl(vs.remote))
    (root,) = idl.tables["Open_vSwitch"].values()
    # Operation failure: an unknown column.
    with pytest.raises(TransactionError) as e:
        wait(reactor, idl.transact([
            {"op": "comment", "comment": "first"},
            {"op": "update", "table": "Bridge", "where": [], "row": {"nope": 1}}]))
    assert e.value.results[0] == {}
    assert e.value.error["error"] == "unknown column"
    # Commit failure: a second bridge named br0 breaks the Bridge name index.
    with pytest.raises(TransactionError) as e:
        wait(reactor, idl.transact([
            {"op": "insert", "table": "Bridge", "uuid-name": "dup", "row": {"name": "br0"}},
            {"op": "mutate", "table": "Open_vSwitch",
             "where": [["_uuid", "==", ["uuid", root.uuid]]],
             "mutations": [["bridges", "insert", ["named-uuid", "dup"]]]}]))
    assert e.value.error["error"] == "constraint violation"
    assert len(e.value.results) == 3  # one per operation plus the commit's error
    assert vs.vsctl("list-br").stdout.split() == ["br0"]

    wait(reactor, idl.stop())
    with pytest.raises(TransactionError) as e:
        wait(reactor, idl.transact([{"op": "comment", "comment": "x"}]))
    assert e.value.error == "not connected"


def test_transact_error_reply(reactor, make_idl, vs, proxy):
    """A JSON-RPC error reply to "transact" fails with its error member unchanged."""
    proxy.deny = {"transact"}
    idl = connected(reactor, make_idl(proxy.remote))
    with pytest.raises(TransactionError) as e:
        wait(reactor, idl.transact([{"op": "comment", "comment": "x"}]))
    assert e.value.error == "unknown method" and e.value.results is None
    assert proxy.requests("transact") == [["Open_vSwitch", {"op": "comment", "comment": "x"}]]


# --------------------------------------------------------------- reconnects


@pytest.mark.skipif(IS_REFERENCE, reason="Debian's standalone ovsdb-server keeps no "
                    "transaction history: monitor_cond_since never finds the id")
def test_reconnect_asks_for_changes_since_last_txn(reactor, make_idl, vs, proxy):
    """After a connection drop, the IDL sends its last txn id; the server still has it,
    answers found=true, and only the delta (br0 deleted, br1 added) is applied."""
    vs.vsctl("add-br", "br0", "--", "add-br", "brkeep")
    idl = connected(reactor, make_idl(proxy.remote))
    keep = by_name(idl, "Bridge", "brkeep")
    br0_uuid = by_name(idl, "Bridge", "br0").uuid
    last = idl.last_txn_id
    states: list[bool] = []
    idl.add_listener(lambda: states.append(idl.is_connected))

    proxy.hold = True
    proxy.drop()
    spin(reactor, lambda: not idl.is_connected, what="disconnect noticed")
    assert states == [False]
    with pytest.raises(TransactionError, match="not connected"):
        wait(reactor, idl.transact([]))
    vs.vsctl("del-br", "br0", "--", "add-br", "br1")
    proxy.hold = False
    seq = idl.change_seqno
    connected(reactor, idl)

    assert proxy.requests("monitor_cond_since")[-1][3] == last
    found, txn_id, updates = proxy.live()[0].reply_to("monitor_cond_since").result
    assert found is True and idl.last_txn_id == txn_id != last
    ops = {u: next(iter(change)) for u, change in updates["Bridge"].items()}
    assert ops.pop(br0_uuid) == "delete" and list(ops.values()) == ["insert"]
    assert keep.uuid not in updates["Bridge"]
    assert rows(idl, "Bridge") == ["br1", "brkeep"]
    assert rows(idl, "Port") == ["br1", "brkeep"]
    # Rows the delta did not touch are the very same objects.
    assert idl.tables["Bridge"][keep.uuid] is keep
    assert idl.change_seqno > seq and states[-1] is True


def test_server_restart_resyncs(reactor, make_idl, vs, proxy):
    """A restarted server has no history for the old txn id: found=false, and the full
    dump replaces the replica (rows deleted meanwhile disappear)."""
    vs.vsctl("add-br", "br0")
    idl = connected(reactor, make_idl(proxy.remote))
    last = idl.last_txn_id
    bridges = idl.tables["Bridge"]
    proxy.hold = True
    vs.restart()
    spin(reactor, lambda: not idl.is_connected, what="disconnect noticed")
    vs.vsctl("del-br", "br0", "--", "add-br", "br1")
    proxy.hold = False
    connected(reactor, idl)

    assert proxy.requests("monitor_cond_since")[-1][3] == last
    found, txn_id, _ = proxy.live()[0].reply_to("monitor_cond_since").result
    assert found is False and idl.last_txn_id == txn_id
    assert rows(idl, "Bridge") == ["br1"] and idl.tables["Bridge"] is bridges
    vs.vsctl("set", "Bridge", "br1", "external_ids:after=restart")
    spin(reactor, lambda: by_name(idl, "Bridge", "br1")["external_ids"] == {"after": "restart"},
         what="update after resync")


def test_backoff_on_injected_clock():
    """Refused attempts are retried with doubling backoff between min_backoff_ms and
    max_backoff_ms, timed by the injected reactor's clock."""
    from twisted.internet.error import ConnectionRefusedError
    from twisted.internet.testing import MemoryReactorClock

    clock = MemoryReactorClock()
    idl = Idl("unix:/nonexistent/db.sock", reactor=clock, min_backoff_ms=1000,
              max_backoff_ms=4000)
    idl.start()
    attempts = []
    while len(attempts) < 6:
        while len(clock.unixClients) > len(attempts):
            attempts.append(clock.seconds())
            _path, factory, *_ = clock.unixClients[-1]
            factory.clientConnectionFailed(None, Failure(ConnectionRefusedError()))
        # Jump to the next timer: the FSM's.
        clock.advance(min(c.getTime() for c in clock.getDelayedCalls()) - clock.seconds())
    assert attempts == [0, 1, 3, 7, 11, 15]
    assert not idl.is_connected
    idl.stop()
    made = len(clock.unixClients)
    clock.advance(60)
    assert len(clock.unixClients) == made  # stop() ends the retrying


def test_server_not_up_yet(reactor, make_idl, ovsdb_server):
    """start() before the server exists: the IDL keeps retrying with backoff and
    connects once the server listens."""
    srv = ovsdb_server(VSWITCH_SCHEMA, start=False)
    idl = make_idl(srv.remote)
    spin(reactor, lambda: idl._service.fsm.n_attempted_connections >= 2, timeout=10,
         what="two failed attempts")
    assert not idl.is_connected and idl.schema is None
    srv.start()
    srv.vsctl("init", "--", "add-br", "br0")
    connected(reactor, idl)
    spin(reactor, lambda: rows(idl, "Bridge") == ["br0"], what="br0")


# -------------------------------------------------------------------- locks


class _LockClient(SessionHandler):
    """A bare JSON-RPC client for steal/unlock, as another vswitchd would send them."""

    def __init__(self) -> None:
        self.notes: list[Message] = []

    def message_received(self, session, msg):
        self.notes.append(msg)


def test_lock_contended_stolen_and_reacquired(reactor, make_idl, vs, proxy):
    """The first IDL gets the lock, the second waits for it; a steal notifies the holder
    ("stolen"), an unlock hands it back ("locked"); transact asserts the lock."""
    a = connected(reactor, make_idl(vs.remote, lock="ovs_vswitchd"))
    spin(reactor, lambda: a.has_lock, what="a holds the lock")
    b = connected(reactor, make_idl(proxy.remote, lock="ovs_vswitchd"))
    spin(reactor, lambda: b.is_lock_contended, what="b contended")
    assert not b.has_lock and a.has_lock
    with pytest.raises(TransactionError, match="not locked"):
        wait(reactor, b.transact([]))
    assert wait(reactor, a.transact([{"op": "comment", "comment": "held"}])) == [{}]

    # Another client steals it: a is told, a's writes stop; unlock gives it back.
    thief = _LockClient()
    proto = wait(reactor, endpoints.UNIXClientEndpoint(reactor, str(vs.sock)).connect(
        Factory.forProtocol(lambda: JsonRpcProtocol(thief, probe_interval=0, clock=reactor))))
    seq = a.change_seqno
    calls: list[bool] = []
    a.add_listener(lambda: calls.append(a.has_lock))
    assert wait(reactor, proto.request("steal", ["ovs_vswitchd"])) == {"locked": True}
    spin(reactor, lambda: not a.has_lock, what="a's lock stolen")
    assert a.is_lock_contended and a.change_seqno > seq and calls == [False]
    with pytest.raises(TransactionError, match="not locked"):
        wait(reactor, a.transact([]))
    wait(reactor, proto.request("unlock", ["ovs_vswitchd"]))
    spin(reactor, lambda: a.has_lock, what="lock back to a")
    assert calls == [False, True]
    proto.close()

    # a goes away: b gets it.
    wait(reactor, a.stop())
    spin(reactor, lambda: b.has_lock, what="lock handed to b")
    # b's connection drops: it loses the lock, then asks again after reconnecting.
    proxy.drop()
    spin(reactor, lambda: not b.has_lock, what="b disconnected")
    spin(reactor, lambda: b.has_lock and b.is_connected, what="b relocked")
    assert proxy.requests("lock") == [["ovs_vswitchd"], ["ovs_vswitchd"]]
    assert wait(reactor, b.transact([{"op": "comment", "comment": "b"}])) == [{}]


# ------------------------------------------------------------- bad servers


# What a broken server might send, by kind of damage: (monitor id, a Bridge row's uuid)
# -> bytes.
GARBAGE = {
    "not-json": lambda mid, br: b"{\"method\": nonsense}",
    "not-jsonrpc": lambda mid, br: b'{"bogus": 1}',
    "unknown-table": lambda mid, br: encode_json(Message.notification(
        "update3", [mid, str(uuid.uuid4()), {"Nope": {}}]).to_json()),
    "bad-uuid": lambda mid, br: encode_json(Message.notification(
        "update3", [mid, str(uuid.uuid4()), {"Bridge": {"xyz": {"delete": None}}}]).to_json()),
    "wrong-type": lambda mid, br: encode_json(Message.notification(
        "update3", [mid, str(uuid.uuid4()),
                    {"Bridge": {br: {"modify": {"name": 42}}}}]).to_json()),
    "modify-missing-row": lambda mid, br: encode_json(Message.notification(
        "update3", [mid, str(uuid.uuid4()),
                    {"Bridge": {str(uuid.uuid4()): {"modify": {"name": "x"}}}}]).to_json()),
    "wrong-format": lambda mid, br: encode_json(Message.notification(
        "update", [mid, {"Bridge": {br: {"new": {"name": "x"}}}}]).to_json()),
    "bad-params": lambda mid, br: encode_json(Message.notification(
        "update3", [mid]).to_json()),
}


@pytest.mark.parametrize("kind", sorted(GARBAGE))
def test_garbage_from_server_reconnects(reactor, make_idl, vs, proxy, log_events, kind):
    """Malformed input never crashes the IDL or half-applies: it logs, reconnects and
    resyncs in full (the txn id is forgotten); the replica matches the server again."""
    vs.vsctl("add-br", "br0")
    idl = connected(reactor, make_idl(proxy.remote))
    br0 = by_name(idl, "Bridge", "br0")
    last = idl.last_txn_id
    proxy.inject(GARBAGE[kind](idl._monitor_id, br0.uuid))
    spin(reactor, lambda: not idl.is_connected, what="disconnect after garbage")
    assert by_name(idl, "Bridge", "br0")["name"] == "br0"  # nothing half-applied
    vs.vsctl("add-br", "br1")
    connected(reactor, idl)
    assert len(proxy.conns) == 2
    if kind.startswith("not-"):  # the stream broke, the replica is sound
        assert proxy.requests("monitor_cond_since")[-1][3] == last
    else:
        assert proxy.requests("monitor_cond_since")[-1][3] == ZERO
        assert any("reconnecting" in e for e in idl_errors(log_events)), idl_errors(log_events)
    spin(reactor, lambda: rows(idl, "Bridge") == ["br0", "br1"], what="resynced replica")


def test_echo_answered_and_probes_sent(reactor, make_idl, vs, proxy):
    """The IDL answers the server's echo requests, probes a silent server over TCP and
    drops it after two probe intervals, then reconnects."""
    idl = connected(reactor, make_idl(proxy.remote, probe_interval_ms=1000))
    conn = proxy.live()[0]
    proxy.inject(b'{"method":"echo","params":["hi",1],"id":"srv-echo"}')
    spin(reactor, lambda: conn.client_replies, what="echo reply")
    assert conn.client_replies == [{"result": ["hi", 1], "error": None, "id": "srv-echo"}]

    proxy.mute = True
    start = time.monotonic()
    spin(reactor, lambda: not idl.is_connected, timeout=10, what="probe timeout")
    assert time.monotonic() - start >= 1.5
    assert ("echo", [], "echo") in conn.requests  # OVS's probe: id "echo", no params
    proxy.mute = False
    connected(reactor, idl)
    assert len(proxy.conns) == 2


def test_ssl_remote(reactor, make_idl, tmp_path):
    """ssl:IP:PORT with SslOptions: the IDL replicates over mutual TLS; a client whose
    certificate the server's CA did not sign never gets connected."""
    from test_jsonrpc import _make_pki
    from twisted.internet import reactor as global_reactor
    from twisted.internet import task

    # Twisted's TLS layer (built by connectSSL, which takes no clock) flushes its writes
    # with callLater on the global reactor: run that reactor's due calls from ours.
    pump = task.LoopingCall(global_reactor.runUntilCurrent)
    pump.clock = reactor
    pump.start(0.01)
    pki = _make_pki(tmp_path)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    rundir = tmp_path / "tls"
    rundir.mkdir()
    srv = OvsdbServer(rundir, VSWITCH_SCHEMA, rundir / "conf.db", kind="ours",
                      extra_remotes=[f"pssl:{port}:127.0.0.1"],
                      extra_args=[f"--private-key={pki['server-key']}",
                                  f"--certificate={pki['server-cert']}",
                                  f"--ca-cert={pki['ca-cert']}"])
    srv.start()
    try:
        srv.vsctl("init", "--", "add-br", "br0")
        good = make_idl(f"ssl:127.0.0.1:{port}", ssl=SslOptions(
            str(pki["client-key"]), str(pki["client-cert"]), str(pki["ca-cert"])))
        rogue = make_idl(f"ssl:127.0.0.1:{port}", ssl=SslOptions(
            str(pki["rogue-key"]), str(pki["rogue-cert"]), str(pki["ca-cert"])))
        connected(reactor, good)
        assert rows(good, "Bridge") == ["br0"]
        srv.vsctl("add-br", "br1")
        spin(reactor, lambda: rows(good, "Bridge") == ["br0", "br1"], what="br1 over TLS")
        assert rogue._service.fsm.n_attempted_connections >= 1
        assert not rogue.is_connected and rogue.schema is None
    finally:
        srv.stop()
        pump.stop()
    with pytest.raises(RemoteServiceError, match="SslOptions"):
        Idl(f"ssl:127.0.0.1:{port}")


# ----------------------------------------------- Debian's ovsdb-server binary


def test_against_debian_ovsdb_server(reactor, make_idl, tmp_path):
    """Debian's ovsdb-server (ovsdb-tool-created database, private run dir, stopped by
    pid): contents, ovs-vsctl changes, transact, lock, and a restart resync."""
    require_tool("ovsdb-tool")
    rundir = tmp_path / "ref"
    rundir.mkdir()
    srv = OvsdbServer(rundir, VSWITCH_SCHEMA, rundir / "conf.db", kind="reference")
    srv.start()
    try:
        srv.vsctl("init", "--", "add-br", "br0", "--", "add-port", "br0", "p1")
        idl = connected(reactor, make_idl(srv.remote, lock="ovs_vswitchd"))
        spin(reactor, lambda: idl.has_lock, what="lock from Debian's server")
        assert rows(idl, "Port") == ["br0", "p1"]
        srv.vsctl("set", "Bridge", "br0", "other_config:x=y")
        spin(reactor, lambda: by_name(idl, "Bridge", "br0")["other_config"] == {"x": "y"},
             what="update from Debian's server")
        br0 = by_name(idl, "Bridge", "br0")
        wait(reactor, idl.transact([{
            "op": "update", "table": "Bridge", "where": [["_uuid", "==", ["uuid", br0.uuid]]],
            "row": {"external_ids": idl.to_json("Bridge", "external_ids", {"by": "idl"})}}]))
        assert srv.vsctl("get", "Bridge", "br0", "external_ids:by").stdout.strip() == "idl"

        srv.restart()
        spin(reactor, lambda: not idl.is_connected or not idl.has_lock, what="drop")
        srv.vsctl("del-port", "p1")
        connected(reactor, idl)
        spin(reactor, lambda: rows(idl, "Port") == ["br0"] and idl.has_lock,
             what="resync from Debian's server")
        assert by_name(idl, "Bridge", "br0")["external_ids"] == {"by": "idl"}
    finally:
        srv.stop()
