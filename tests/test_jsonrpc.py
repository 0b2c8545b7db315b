"""Tests for ovsdb.jsonrpc, ovsdb.reconnect and ovsdb.remotes.

Sans-I/O pieces are tested with an injected clock; everything touching the
network runs tests/helpers/rpc_daemon.py in a subprocess with a real reactor
and talks to it with real peers (ovsdb-client, raw sockets).
"""

from __future__ import annotations

import datetime
import json
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest
from helpers.daemon import Daemon, RawClient
from twisted.internet import task
from twisted.internet.testing import StringTransport

from ovsdb import reconnect
from ovsdb.jsonrpc import (
    JsonRpcError,
    JsonRpcProtocol,
    Message,
    MessageKind,
    RemoteError,
    SessionHandler,
    StreamDecoder,
)
from ovsdb.reconnect import Reconnect, State
from ovsdb.remotes import (
    Remote,
    RemoteService,
    RemoteServiceError,
    SslOptions,
    parse_remote,
)

OVSDB_CLIENT = shutil.which("ovsdb-client")
needs_ovsdb_client = pytest.mark.skipif(OVSDB_CLIENT is None, reason="ovsdb-client missing")


# --------------------------------------------------------------- Message


@pytest.mark.parametrize(
    "obj, kind",
    [
        ({"method": "echo", "params": [], "id": 0}, MessageKind.REQUEST),
        ({"method": "update", "params": [1], "id": None}, MessageKind.NOTIFICATION),
        ({"method": "update", "params": [1]}, MessageKind.NOTIFICATION),
        ({"result": [], "error": None, "id": "x"}, MessageKind.REPLY),
        ({"result": None, "error": {"error": "e"}, "id": 3}, MessageKind.ERROR),
    ],
)
def test_message_kinds(obj, kind):
    msg = Message.from_json(obj)
    assert msg.kind is kind
    assert Message.from_json(msg.to_json()) == msg


@pytest.mark.parametrize(
    "obj, text",
    [
        ([1, 2], "message is not a JSON object"),
        ({"method": 5, "params": [], "id": 1}, "method is not a JSON string"),
        ({"method": "x", "params": [], "id": 1, "extra": 1},
         'message has unexpected member "extra"'),
        ({"method": "x", "params": {}, "id": 1}, '"params" must be JSON array'),
        ({"method": "x", "id": 1}, 'request must have "params"'),
        ({"params": [], "id": 1}, 'request must have "method"'),
        ({"method": "x", "result": 1, "id": 1}, 'reply must not have "method"'),
        ({"result": 1, "error": "bad", "id": 1}, 'reply must not have "error"'),
        ({"result": 1}, 'reply must have "id"'),
        # OVS reads a null result as "absent", making this a method-less request.
        ({"result": None, "error": None, "id": 1}, 'request must have "method"'),
        ({}, 'notification must have "method"'),
    ],
)
def test_message_validation_matches_ovs(obj, text):
    with pytest.raises(JsonRpcError, match=text.replace("[", r"\[")):
        Message.from_json(obj)


def test_message_to_json_shapes():
    # Same members OVS emits (lib/jsonrpc.c jsonrpc_msg_to_json).
    assert Message.reply([1], 7).to_json() == {"result": [1], "error": None, "id": 7}
    assert Message.error_reply("bad", 7).to_json() == {"result": None, "error": "bad", "id": 7}
    assert Message.notification("n", []).to_json() == {"method": "n", "params": [], "id": None}
    assert Message.request("echo", ["é"], "echo").encode() == (
        '{"method":"echo","params":["é"],"id":"echo"}'.encode())


# ---------------------------------------------------------- StreamDecoder


def test_decoder_many_values_in_one_feed():
    data = b'{"a":1}{"b":[1,{"c":"}{]["}]}\n\t [2] {"d":"\\"\\\\"}  '
    assert StreamDecoder().feed(data) == [{"a": 1}, {"b": [1, {"c": "}{]["}]}, [2], {"d": '"\\'}]


def test_decoder_byte_by_byte_utf8_and_escapes():
    values = [{"s": "héllo \u2603 \\\" }", "n": [1.5, -2, True, None]}, {"e": "\\u00e9"}]
    data = b" ".join(json.dumps(v, ensure_ascii=False).encode() for v in values)
    dec = StreamDecoder()
    out = []
    for i in range(len(data)):
        out += dec.feed(data[i:i + 1])
        if i < len(data) - 1:
            assert len(out) <= 1
    assert out == values
    assert dec.buffered == 0


def test_decoder_large_message_in_64k_chunks_is_fast():
    rows = [{"op": "insert", "table": "Interface",
             "row": {"name": f"eth{i}", "options": ["map", [["k", "v\"}]"]]],
                     "ofport": ["set", [i, ["uuid", "0" * 36]]]}}
            for i in range(40000)]
    msg = {"method": "transact", "params": ["Open_vSwitch", *rows], "id": 1}
    data = json.dumps(msg).encode()
    assert len(data) > 5_000_000
    dec = StreamDecoder()
    start = time.perf_counter()
    out = []
    for i in range(0, len(data), 65536):
        out += dec.feed(data[i:i + 65536])
    elapsed = time.perf_counter() - start
    assert out == [msg]
    # A quadratic re-parse would take minutes; linear scanning takes ~1 s.
    assert elapsed < 10, elapsed


@pytest.mark.parametrize(
    "data, text",
    [
        (b"hello", "syntax error at top level"),
        (b'{"a":1} x', "syntax error at top level"),
        (b'"just a string"', "syntax error at top level"),
        (b'{"a":1,}', "syntax error"),
        (b'{"a":NaN}', "NaN is not valid JSON"),
        (b'{"a":"\xff"}', "invalid UTF-8"),
        # Mismatched brackets surface once the brackets balance by count.
        (b'{"a":[}}', "syntax error"),
    ],
)
def test_decoder_errors(data, text):
    dec = StreamDecoder()
    with pytest.raises(JsonRpcError, match=text):
        dec.feed(data)
    # Once out of sync the stream stays unusable.
    with pytest.raises(JsonRpcError):
        dec.feed(b"{}")


def test_decoder_size_cap():
    dec = StreamDecoder(max_size=1000)
    assert dec.feed(b'{"a":"' + b"x" * 900 + b'"}') == [{"a": "x" * 900}]
    dec.feed(b'{"a":"' + b"x" * 900)
    with pytest.raises(JsonRpcError, match="maximum size"):
        dec.feed(b"x" * 200)


# ------------------------------------------------------------ Reconnect FSM


def test_fsm_probe_then_disconnect():
    fsm = Reconnect(0, probe_interval=5000, passive=True)
    fsm.connected(0)
    assert fsm.state is State.ACTIVE
    assert fsm.timeout(0) == 5000
    assert fsm.run(4999) is None
    fsm.receive_attempted(5000)
    assert fsm.run(5000) is reconnect.PROBE
    assert fsm.state is State.IDLE
    assert fsm.timeout(5000) == 5000
    fsm.receive_attempted(10000)
    assert fsm.run(10000) is reconnect.DISCONNECT


def test_fsm_activity_resets_probe_timer():
    fsm = Reconnect(0, probe_interval=2000)
    fsm.connected(0)
    fsm.received(1500)
    assert fsm.timeout(1500) == 2000
    fsm.receive_attempted(3499)
    assert fsm.run(3499) is None
    fsm.receive_attempted(3500)
    assert fsm.run(3500) is reconnect.PROBE
    fsm.received(4000)  # the echo reply
    assert fsm.state is State.ACTIVE
    assert fsm.run(5999) is None


def test_fsm_waits_for_a_receive_attempt_before_timing_out():
    fsm = Reconnect(0, probe_interval=1000)
    fsm.connected(0)
    # Deadline passed but nobody tried to read since: poll again soon.
    assert fsm.timeout(5000) == 1
    assert fsm.run(5000) is None
    fsm.receive_attempted(5000)
    assert fsm.run(5000) is reconnect.PROBE


def test_fsm_probe_interval_zero_and_minimum():
    fsm = Reconnect(0, probe_interval=0)
    fsm.connected(0)
    assert fsm.timeout(0) is None and fsm.run(10**9) is None
    fsm.set_probe_interval(10)
    assert fsm.probe_interval == 1000


def test_fsm_exponential_backoff():
    fsm = Reconnect(0)
    fsm.enable(0)
    assert fsm.run(0) is reconnect.CONNECT
    now = 0
    waits = []
    for _ in range(6):
        fsm.connecting(now)
        fsm.connect_failed(now, "refused")
        assert fsm.state is State.BACKOFF
        waits.append(fsm.timeout(now))
        assert fsm.run(now + fsm.backoff - 1) is None
        now += fsm.backoff
        assert fsm.run(now) is reconnect.CONNECT
    assert waits == [1000, 2000, 4000, 8000, 8000, 8000]


def test_fsm_backoff_resets_after_a_good_connection():
    fsm = Reconnect(0, min_backoff=1000, max_backoff=8000)
    fsm.enable(0)
    for now in (0, 1000, 3000, 7000):
        fsm.connect_failed(now, "refused")
    assert fsm.backoff == 8000
    fsm.connected(15000)
    fsm.activity(30000)  # alive for longer than the backoff
    fsm.disconnected(30000, "eof")
    assert fsm.backoff == 1000
    # A connection that dies at once keeps growing the backoff instead.
    fsm.connected(31000)
    fsm.disconnected(31000, "eof")
    assert fsm.backoff == 2000


def test_fsm_connect_timeout_and_force_reconnect():
    fsm = Reconnect(0)
    fsm.enable(0)
    fsm.connecting(0)
    assert fsm.timeout(0) == 1000
    assert fsm.run(1000) is reconnect.DISCONNECT
    fsm.connect_failed(1000, "timeout")
    fsm.connected(5000)
    fsm.force_reconnect(6000)
    assert fsm.state is State.RECONNECT
    assert fsm.run(6000) is reconnect.DISCONNECT
    assert fsm.is_connected() is False


def test_fsm_max_tries_and_passive():
    fsm = Reconnect(0, max_tries=2)
    fsm.enable(0)
    fsm.connect_failed(0, "x")
    assert fsm.state is State.BACKOFF
    fsm.connect_failed(1000, "x")
    assert fsm.state is State.VOID and fsm.run(10**6) is None
    p = Reconnect(0, passive=True)
    p.enable(0)
    p.listening(0)
    assert p.timeout(0) is None
    p.connected(10)
    p.disconnected(20, "eof")
    assert p.backoff == 0  # listeners go straight back to listening
    assert p.seqno == 2 and p.n_successful_connections == 1


# ------------------------------------------------ JsonRpcProtocol (in memory)


class Recorder(SessionHandler):
    def __init__(self):
        self.messages: list[Message] = []
        self.lost = []

    def message_received(self, session, msg):
        self.messages.append(msg)

    def connection_lost(self, session, reason):
        self.lost.append(reason)


def _session(probe_interval=5000):
    clock = task.Clock()
    handler = Recorder()
    proto = JsonRpcProtocol(handler, probe_interval=probe_interval, clock=clock)
    transport = StringTransport()
    proto.makeConnection(transport)
    return clock, handler, proto, transport


def _sent(transport):
    data = transport.value()
    transport.clear()
    return StreamDecoder().feed(data)


def test_protocol_inactivity_probe_with_clock():
    clock, handler, proto, transport = _session(5000)
    clock.advance(4.9)
    assert _sent(transport) == []
    clock.advance(0.1)
    assert _sent(transport) == [{"method": "echo", "params": [], "id": "echo"}]
    # The peer answers: that is liveness, and the reply is not delivered.
    proto.dataReceived(b'{"result":[],"error":null,"id":"echo"}')
    assert handler.messages == []
    clock.advance(4.9)
    assert not transport.disconnecting
    clock.advance(0.1)
    assert _sent(transport)[0]["id"] == "echo"
    clock.advance(5.0)
    assert transport.disconnecting or transport.disconnected
    assert proto.n_probes_sent == 2


def test_protocol_probe_disabled_and_partial_data_counts():
    clock, _, proto, transport = _session(0)
    clock.advance(3600)
    assert transport.value() == b""
    clock, _, proto, transport = _session(1000)
    clock.advance(0.9)
    proto.dataReceived(b'{"method":"slow"')  # half a message is still activity
    clock.advance(0.9)
    assert transport.value() == b""
    clock.advance(0.1)
    assert _sent(transport) == [{"method": "echo", "params": [], "id": "echo"}]


def test_protocol_echo_request_and_request_matching():
    clock, handler, proto, transport = _session()
    proto.dataReceived(b'{"method":"echo","params":["x",{"y":1}],"id":42}')
    assert _sent(transport) == [{"result": ["x", {"y": 1}], "error": None, "id": 42}]
    results = []
    d1 = proto.request("get_schema", ["Open_vSwitch"])
    d1.addCallback(results.append)
    d2 = proto.request("transact", [])
    d2.addErrback(lambda f: results.append(f.trap(RemoteError) and f.value.error))
    sent = _sent(transport)
    assert [m["method"] for m in sent] == ["get_schema", "transact"]
    id1, id2 = sent[0]["id"], sent[1]["id"]
    assert id1 != id2
    proto.dataReceived(json.dumps({"result": None, "error": {"error": "nope"}, "id": id2})
                       .encode() + json.dumps({"result": {"s": 1}, "error": None, "id": id1})
                       .encode())
    assert results == [{"error": "nope"}, {"s": 1}]
    proto.dataReceived(b'{"result":1,"error":null,"id":999}')  # unsolicited
    assert [m.kind for m in handler.messages] == [MessageKind.REPLY]


def test_protocol_bad_messages():
    """Valid JSON that is not JSON-RPC ends the session, as in OVS's lib/jsonrpc.c."""
    _, handler, proto, transport = _session()
    proto.dataReceived(b'{"method":"ok","params":[],"id":7}')
    assert [m.method for m in handler.messages] == ["ok"]
    assert not transport.disconnecting
    proto.dataReceived(b'{"method":"x","params":{},"id":5}{"method":"never","params":[],"id":8}')
    assert _sent(transport) == []
    assert transport.disconnecting
    assert [m.method for m in handler.messages] == ["ok"]


def test_protocol_reply_shaped_garbage_disconnects():
    _, handler, proto, transport = _session()
    proto.dataReceived(b'{"result":1,"error":2,"id":6}')
    assert _sent(transport) == [] and transport.disconnecting
    assert handler.messages == []


def test_protocol_connection_lost_fails_pending_requests():
    _, handler, proto, transport = _session()
    failures = []
    proto.request("x", []).addErrback(failures.append)
    closed = []
    proto.when_closed().addCallback(closed.append)
    from twisted.internet.error import ConnectionDone
    from twisted.python.failure import Failure

    proto.connectionLost(Failure(ConnectionDone()))
    assert len(failures) == 1 and failures[0].check(ConnectionDone)
    assert len(handler.lost) == 1 and closed == [None]
    proto.send(Message.notification("late", []))  # silently dropped


# ------------------------------------------------------------ parse_remote


@pytest.mark.parametrize(
    "text, expected",
    [
        ("punix:/run/db.sock", Remote("unix", True, path="/run/db.sock")),
        ("unix:rel/db.sock", Remote("unix", False, path="rel/db.sock")),
        ("ptcp:6641", Remote("tcp", True, host="0.0.0.0", port=6641)),
        ("ptcp:0:127.0.0.1", Remote("tcp", True, host="127.0.0.1", port=0)),
        ("ptcp:", Remote("tcp", True, host="0.0.0.0", port=6640)),
        ("pssl:6640:[::1]", Remote("ssl", True, host="::1", port=6640)),
        ("tcp:127.0.0.1:6642", Remote("tcp", False, host="127.0.0.1", port=6642)),
        ("tcp:127.0.0.1", Remote("tcp", False, host="127.0.0.1", port=6640)),
        ("ssl:[::1]:6640", Remote("ssl", False, host="::1", port=6640)),
    ],
)
def test_parse_remote(text, expected):
    assert parse_remote(text) == expected
    assert parse_remote(str(expected)) == expected


@pytest.mark.parametrize(
    "text, text_re",
    [
        ("nothing", "must look like TYPE:ARGS"),
        ("udp:1.2.3.4:5", "unknown connection method"),
        ("punix:", "missing socket path"),
        ("tcp::6640", "missing host"),
        ("tcp:example.com:6640", "not a valid IP address"),
        ("tcp:::1:6640", "brackets"),
        ("tcp:[::1:6640", "missing"),
        ("tcp:127.0.0.1:0", "out of range"),
        ("tcp:127.0.0.1:70000", "out of range"),
        ("ptcp:abc", "not a valid port"),
        ("pssl:6640:::1", "brackets"),
    ],
)
def test_parse_remote_errors(text, text_re):
    with pytest.raises(ValueError, match=text_re):
        parse_remote(text)


def test_remote_service_start_errors(tmp_path):
    ssl = SslOptions(str(tmp_path / "no-key.pem"), str(tmp_path / "c.pem"),
                     str(tmp_path / "ca.pem"))
    with pytest.raises(RemoteServiceError, match="private key file .* does not exist"):
        RemoteService("pssl:0:127.0.0.1", JsonRpcProtocol, ssl=ssl).startService()
    with pytest.raises(RemoteServiceError, match="need SslOptions"):
        RemoteService("ssl:127.0.0.1:1", JsonRpcProtocol)
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    try:
        svc = RemoteService(f"ptcp:{busy.getsockname()[1]}:127.0.0.1", JsonRpcProtocol)
        with pytest.raises(RemoteServiceError, match="listen failed"):
            svc.startService()
        assert not svc.running and svc.bound_address is None
    finally:
        busy.close()
    not_socket = tmp_path / "plain-file"
    not_socket.write_text("x")
    with pytest.raises(RemoteServiceError, match="not a socket"):
        RemoteService(f"punix:{not_socket}", JsonRpcProtocol).startService()


# --------------------------------------------------- real daemon, real peers


@pytest.fixture
def daemon_factory(tmp_path):
    started: list[Daemon] = []

    def start(*args: str) -> Daemon:
        d = Daemon(tmp_path, *args)
        started.append(d)
        d.wait_ready()
        return d

    yield start
    for d in started:
        d.stop()


@pytest.fixture
def daemon(daemon_factory, tmp_path):
    sock = tmp_path / "db.sock"
    # A leftover socket from a "crashed" server must not block startup.
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(sock))
    stale.close()
    return daemon_factory("--remote", f"punix:{sock}", "--remote", "ptcp:0:127.0.0.1")


@needs_ovsdb_client
def test_ovsdb_client_list_dbs_unix_and_tcp(daemon, tmp_path):
    port = daemon.tcp_port("ptcp:0:127.0.0.1")
    for remote in (f"unix:{tmp_path / 'db.sock'}", f"tcp:127.0.0.1:{port}"):
        out = subprocess.run([OVSDB_CLIENT, "--timeout=10", "list-dbs", remote],
                             capture_output=True, text=True, timeout=20)
        assert out.returncode == 0, out.stderr
        assert out.stdout.split() == ["Open_vSwitch", "_Server"]


@needs_ovsdb_client
def test_ovsdb_client_unknown_method_gets_error(daemon, tmp_path):
    out = subprocess.run([OVSDB_CLIENT, "--timeout=10", "get-schema",
                          f"unix:{tmp_path / 'db.sock'}", "Open_vSwitch"],
                         capture_output=True, text=True, timeout=20)
    assert out.returncode != 0
    assert "unknown method" in out.stderr


def test_framing_many_in_one_write_and_byte_by_byte(daemon, tmp_path):
    c = RawClient.unix(str(tmp_path / "db.sock"))
    try:
        batch = "".join(json.dumps({"method": "reflect", "params": [i], "id": i})
                        + ("\n" if i % 2 else "") for i in range(50))
        c.send_raw(batch.encode())
        assert [c.recv()["result"] for _ in range(50)] == [[i] for i in range(50)]
        one = json.dumps({"method": "reflect", "params": ["é}{", [1, {"a": []}]],
                          "id": "x"}, ensure_ascii=False).encode()
        for i in range(len(one)):
            c.send_raw(one[i:i + 1])
            time.sleep(0.001)
        assert c.recv() == {"result": ["é}{", [1, {"a": []}]], "error": None, "id": "x"}
        assert c.call("echo", ["ping"], id=9) == {"result": ["ping"], "error": None, "id": 9}
    finally:
        c.close()


def test_five_megabyte_message(daemon):
    c = RawClient.tcp(daemon.tcp_port("ptcp:0:127.0.0.1"))
    try:
        payload = "0123456789abcdef\"\\" * (5 * 1024 * 1024 // 18)
        reply = c.call("size", [payload], id=1)
        assert reply == {"result": len(payload), "error": None, "id": 1}
    finally:
        c.close()


def test_garbage_drops_connection_and_daemon_keeps_serving(daemon, tmp_path):
    bad = RawClient.unix(str(tmp_path / "db.sock"))
    bad.send_raw(b'{"method":"reflect","params":[1],"id":1} this is not json')
    assert bad.recv()["result"] == [1]
    bad.expect_eof()
    bad.close()
    utf = RawClient.tcp(daemon.tcp_port("ptcp:0:127.0.0.1"))
    utf.send_raw(b'{"method":"reflect","params":["\xc3\x28"],"id":1}')
    utf.expect_eof()
    utf.close()
    good = RawClient.unix(str(tmp_path / "db.sock"))
    assert good.call("list_dbs", [])["result"] == ["Open_vSwitch", "_Server"]
    good.close()


def test_invalid_jsonrpc_drops_only_that_session(daemon, tmp_path):
    """A message that is JSON but not JSON-RPC ends that session (OVS behaviour); the
    daemon keeps serving everyone else."""
    for bad in ({"method": "list_dbs", "params": "oops", "id": 77},
                {"method": "list_dbs", "params": [], "id": 1, "junk": True},
                {"params": []}):
        c = RawClient.unix(str(tmp_path / "db.sock"))
        try:
            c.send(bad)
            with pytest.raises(EOFError):
                c.recv()
        finally:
            c.close()
    c = RawClient.unix(str(tmp_path / "db.sock"))
    try:
        assert c.call("list_dbs", [], id=2)["id"] == 2
    finally:
        c.close()


def test_server_notifications_and_requests(daemon, tmp_path):
    c = RawClient.unix(str(tmp_path / "db.sock"))
    try:
        c.send({"method": "notify_me", "params": ["hi"], "id": 1})
        assert c.recv() == {"method": "update", "params": ["hi"], "id": None}
        assert c.recv()["id"] == 1
        c.send({"method": "ask_back", "params": [6, 7], "id": 2})
        question = c.recv()
        assert question["method"] == "question" and question["params"] == [6, 7]
        c.send({"result": 42, "error": None, "id": question["id"]})
        assert c.recv() == {"result": {"answer": 42}, "error": None, "id": 2}
        c.send({"method": "ask_back", "params": [], "id": 3})
        question = c.recv()
        c.send({"result": None, "error": "no idea", "id": question["id"]})
        assert c.recv()["error"] == {"error": "peer failed", "details": "no idea"}
    finally:
        c.close()


def test_inactivity_probe_over_tcp(daemon_factory):
    d = daemon_factory("--remote", "ptcp:0:127.0.0.1", "--probe-interval", "1000")
    port = d.tcp_port("ptcp:0:127.0.0.1")
    silent = RawClient.tcp(port)
    lively = RawClient.tcp(port)
    answered = []

    def answer_probes():
        # Keep answering for ~3.5 s: well past two probe intervals.
        end = time.monotonic() + 3.5
        while time.monotonic() < end:
            try:
                probe = lively.recv(max(0.05, end - time.monotonic()))
            except TimeoutError:
                break
            assert probe["method"] == "echo" and probe["id"] == "echo"
            lively.send({"result": probe["params"], "error": None, "id": "echo"})
            answered.append(time.monotonic())

    worker = threading.Thread(target=answer_probes)
    worker.start()
    try:
        start = time.monotonic()
        assert silent.recv(5) == {"method": "echo", "params": [], "id": "echo"}
        assert 0.8 < time.monotonic() - start < 3
        silent.expect_eof(5)
        assert 1.8 < time.monotonic() - start < 5
        worker.join(10)
        assert len(answered) >= 2
        assert lively.call("list_dbs", [], id=5)["id"] == 5
    finally:
        worker.join(10)
        silent.close()
        lively.close()
    assert "no response to inactivity probe" in d.log()


def test_unix_remotes_are_not_probed(daemon_factory, tmp_path):
    d = daemon_factory("--remote", f"punix:{tmp_path / 'p.sock'}", "--probe-interval", "1000")
    c = RawClient.unix(d.info["remotes"][f"punix:{tmp_path / 'p.sock'}"])
    try:
        with pytest.raises(TimeoutError):
            c.recv(2.5)
        assert c.call("list_dbs", [])["id"] == 1
    finally:
        c.close()


def test_active_remote_reconnects_with_backoff(daemon_factory):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.settimeout(10)
    port = listener.getsockname()[1]
    try:
        daemon_factory("--remote", f"tcp:127.0.0.1:{port}")
        conn, _ = listener.accept()
        c = RawClient(conn)
        assert c.call("list_dbs", [], id=1)["result"] == ["Open_vSwitch", "_Server"]
        c.close()
        t0 = time.monotonic()
        conn2, _ = listener.accept()
        waited = time.monotonic() - t0
        assert 0.5 < waited < 5, waited  # min backoff is 1 s
        c2 = RawClient(conn2)
        assert c2.call("echo", [1], id=2)["result"] == [1]
        c2.close()
    finally:
        listener.close()


# ------------------------------------------------------------------ SSL/TLS


def _make_pki(directory: Path) -> dict[str, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)
    files: dict[str, Path] = {}

    def write_key(name, key):
        path = directory / f"{name}-privkey.pem"
        path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
        files[f"{name}-key"] = path

    def write_cert(name, cert):
        path = directory / f"{name}-cert.pem"
        path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        files[f"{name}-cert"] = path

    def make(cn, issuer_name, issuer_key, ca):
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
        builder = (x509.CertificateBuilder()
                   .subject_name(subject)
                   .issuer_name(issuer_name or subject)
                   .public_key(key.public_key())
                   .serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(days=1))
                   .not_valid_after(now + datetime.timedelta(days=30))
                   .add_extension(x509.BasicConstraints(ca=ca, path_length=None),
                                  critical=True))
        cert = builder.sign(issuer_key or key, hashes.SHA256())
        return key, cert

    ca_key, ca_cert = make("test CA", None, None, True)
    write_key("ca", ca_key)
    write_cert("ca", ca_cert)
    for name in ("server", "client"):
        key, cert = make(name, ca_cert.subject, ca_key, False)
        write_key(name, key)
        write_cert(name, cert)
    rogue_key, rogue_cert = make("rogue", None, None, False)
    write_key("rogue", rogue_key)
    write_cert("rogue", rogue_cert)
    return files


@needs_ovsdb_client
def test_ssl_listener_with_ovsdb_client(daemon_factory, tmp_path):
    pki = _make_pki(tmp_path)
    d = daemon_factory("--remote", "pssl:0:127.0.0.1",
                       "--private-key", str(pki["server-key"]),
                       "--certificate", str(pki["server-cert"]),
                       "--ca-cert", str(pki["ca-cert"]))
    port = d.tcp_port("pssl:0:127.0.0.1")

    def client(key, cert):
        return subprocess.run(
            [OVSDB_CLIENT, "--timeout=10", f"--private-key={pki[key]}",
             f"--certificate={pki[cert]}", f"--ca-cert={pki['ca-cert']}",
             "list-dbs", f"ssl:127.0.0.1:{port}"],
            capture_output=True, text=True, timeout=30)

    ok = client("client-key", "client-cert")
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.split() == ["Open_vSwitch", "_Server"]
    refused = client("rogue-key", "rogue-cert")
    assert refused.returncode != 0
    assert "Open_vSwitch" not in refused.stdout
    # And a TLS client presenting no certificate at all is refused too.
    import ssl as pyssl

    ctx = pyssl.SSLContext(pyssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(str(pki["ca-cert"]))
    ctx.check_hostname = False
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with ctx.wrap_socket(raw) as tls:
            with pytest.raises((pyssl.SSLError, ConnectionError, EOFError)):
                tls.sendall(b'{"method":"list_dbs","params":[],"id":1}')
                if not tls.recv(100):
                    raise EOFError
    # The listener survives the failed handshakes.
    assert client("client-key", "client-cert").returncode == 0


def test_ssl_active_remote(daemon_factory, tmp_path):
    """The server "connects out" over TLS to a listening manager."""
    import ssl as pyssl

    pki = _make_pki(tmp_path)
    ctx = pyssl.SSLContext(pyssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(pki["client-cert"]), str(pki["client-key"]))
    ctx.load_verify_locations(str(pki["ca-cert"]))
    ctx.verify_mode = pyssl.CERT_REQUIRED
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.settimeout(10)
    try:
        daemon_factory("--remote", f"ssl:127.0.0.1:{listener.getsockname()[1]}",
                       "--private-key", str(pki["server-key"]),
                       "--certificate", str(pki["server-cert"]),
                       "--ca-cert", str(pki["ca-cert"]))
        raw, _ = listener.accept()
        tls = ctx.wrap_socket(raw, server_side=True)
        peer = tls.getpeercert()
        assert dict(x[0] for x in peer["subject"])["commonName"] == "server"
        c = RawClient(tls)
        assert c.call("list_dbs", [], id=1)["result"] == ["Open_vSwitch", "_Server"]
        c.close()
    finally:
        listener.close()
