"""The OpenFlow channel (ofproto/connection.py): version negotiation, echo, errors.

Peers: Debian's ``ovs-ofctl probe`` (hello + echo in each version) and raw sockets for
malformed input. The endpoint runs in its own process (tests/helpers/of_daemon.py).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers.ofswitch import recv_raw

from ofproto.connection import negotiate
from ofproto.ofp.messages import Hello

HELPER = Path(__file__).resolve().parent / "helpers" / "of_daemon.py"


def ofctl() -> str:
    path = shutil.which("ovs-ofctl")
    if path is None:
        pytest.fail("ovs-ofctl (openvswitch-common) is required")
    return path


class Endpoint:
    def __init__(self, tmp: Path, versions: str | None = None) -> None:
        self.sock = tmp / "of.sock"
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
        args = [sys.executable, str(HELPER), str(self.sock)] + ([versions] if versions else [])
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True, env=env)
        assert self.proc.stdout.readline().strip() == "ready"

    def lines(self, n: int, timeout: float = 5.0) -> list[str]:
        out = []
        deadline = time.monotonic() + timeout
        while len(out) < n and time.monotonic() < deadline:
            out.append(self.proc.stdout.readline().strip())
        return out

    def stop(self) -> None:
        os.kill(self.proc.pid, signal.SIGTERM)
        self.proc.wait(10)


@pytest.fixture
def endpoint(tmp_path):
    ep = Endpoint(tmp_path)
    yield ep
    ep.stop()


def raw_conn(ep: Endpoint) -> socket.socket:
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(5)
    s.connect(str(ep.sock))
    return s


def recv_msg(s: socket.socket) -> tuple[int, int, int, bytes]:
    data = recv_raw(s)
    version, mtype, _length, xid = struct.unpack("!BBHI", data[:8])
    return version, mtype, xid, data[8:]


def test_negotiation_rules():
    assert negotiate({1, 4, 5, 6}, Hello.with_versions({1, 4})) == 4
    assert negotiate({1, 4}, Hello.with_versions({2, 3})) is None
    assert negotiate({1, 4, 6}, Hello(version=5)) == 4      # no bitmap: min(ours, theirs)
    assert negotiate({1, 4}, Hello(version=1)) == 1
    assert negotiate({4, 6}, Hello(version=2)) is None


@pytest.mark.parametrize("proto", ["OpenFlow10", "OpenFlow13", "OpenFlow14", "OpenFlow15"])
def test_ovs_ofctl_probe(endpoint, proto):
    r = subprocess.run([ofctl(), "-O", proto, "probe", f"unix:{endpoint.sock}"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    version = {"OpenFlow10": 1, "OpenFlow13": 4, "OpenFlow14": 5, "OpenFlow15": 6}[proto]
    assert endpoint.lines(1) == [f"up {version}"]


def test_version_mismatch_fails_hello(tmp_path):
    ep = Endpoint(tmp_path, "4")
    try:
        r = subprocess.run([ofctl(), "-O", "OpenFlow10", "probe", f"unix:{ep.sock}"],
                           capture_output=True, text=True, timeout=30)
        assert r.returncode != 0
        s = raw_conn(ep)
        s.sendall(Hello.with_versions({1, 6}).encode())
        assert recv_msg(s)[1] == 0                 # our hello
        version, mtype, _, body = recv_msg(s)
        assert mtype == 1 and struct.unpack("!HH", body[:4]) == (0, 0)   # HELLO_FAILED
        assert b"peer supports none" in body
        with pytest.raises(EOFError):
            recv_msg(s)
    finally:
        ep.stop()


def test_bad_input_gets_errors(endpoint):
    s = raw_conn(endpoint)
    s.sendall(Hello.with_versions({4}).encode())
    assert recv_msg(s)[1] == 0
    assert endpoint.lines(1) == ["up 4"]
    # An unknown message type: OFPET_BAD_REQUEST / OFPBRC_BAD_TYPE, channel stays up.
    s.sendall(struct.pack("!BBHI", 4, 99, 8, 7))
    version, mtype, xid, body = recv_msg(s)
    assert (mtype, xid, struct.unpack("!HH", body[:4])) == (1, 7, (1, 1))
    # Echo still works, and a features request reaches the handler.
    s.sendall(struct.pack("!BBHI", 4, 2, 12, 8) + b"ping")
    assert recv_msg(s) == (4, 3, 8, b"ping")
    s.sendall(struct.pack("!BBHI", 4, 5, 8, 9))
    assert endpoint.lines(1) == ["4 FeaturesRequest 9"]
    # A length below the header size cannot be framed: error, then the channel closes.
    s.sendall(struct.pack("!BBHI", 4, 5, 4, 10))
    version, mtype, xid, body = recv_msg(s)
    assert (mtype, struct.unpack("!HH", body[:4])) == (1, (1, 6))      # BAD_LEN
    with pytest.raises(EOFError):
        recv_msg(s)


def test_first_message_must_be_hello(endpoint):
    s = raw_conn(endpoint)
    assert recv_msg(s)[1] == 0
    s.sendall(struct.pack("!BBHI", 4, 5, 8, 3))
    version, mtype, xid, body = recv_msg(s)
    assert mtype == 1 and struct.unpack("!HH", body[:4]) == (0, 0)


@pytest.mark.parametrize("wrapped", [False, True])
def test_busy_polled_requests(tmp_path, wrapped, monkeypatch):
    """After answering, the channel polls its socket for the next request
    (OFConnection.busy_poll_us), also behind a connection-tracking wrapper as the
    bridges' listeners have: requests sent one by one, a message split across two
    writes, and a close right after an answer are all handled as by the reactor."""
    if wrapped:
        monkeypatch.setenv("OF_DAEMON_WRAPPED", "1")
    endpoint = Endpoint(tmp_path)
    try:
        _busy_polled_requests(endpoint)
    finally:
        endpoint.stop()


def _busy_polled_requests(endpoint: Endpoint) -> None:
    s = raw_conn(endpoint)
    s.sendall(Hello.with_versions({4}).encode())
    assert recv_msg(s)[1] == 0
    assert endpoint.lines(1) == ["up 4"]
    for xid in range(1, 201):
        s.sendall(struct.pack("!BBHI", 4, 2, 12, xid) + xid.to_bytes(4, "big"))
        assert recv_msg(s) == (4, 3, xid, xid.to_bytes(4, "big"))
    echo = struct.pack("!BBHI", 4, 2, 16, 500) + b"splitmsg"
    s.sendall(echo[:6])
    time.sleep(0.0001)
    s.sendall(echo[6:])
    assert recv_msg(s) == (4, 3, 500, b"splitmsg")
    # A request the handler sees (not answered by the channel itself) after an answer.
    s.sendall(struct.pack("!BBHI", 4, 2, 8, 501) + struct.pack("!BBHI", 4, 5, 8, 502))
    assert recv_msg(s)[:3] == (4, 3, 501)
    assert endpoint.lines(1) == ["4 FeaturesRequest 502"]
    s.sendall(struct.pack("!BBHI", 4, 2, 8, 503))
    assert recv_msg(s)[:3] == (4, 3, 503)
    s.close()
    [down] = endpoint.lines(1)
    # The busy poll read many of the 200 echoes (without it: none; how many depends on
    # how quickly this client, sharing the machine, sends the next one).
    assert down.startswith("down ") and int(down[5:]) > 20, down


def test_busy_poll_follows_unanswered_input(tmp_path):
    """A message the peer expects no answer to (a flow-mod ahead of its barrier, which
    ovs-ofctl may write separately) is followed by the busy poll too."""
    endpoint = Endpoint(tmp_path)
    try:
        s = raw_conn(endpoint)
        s.sendall(Hello.with_versions({4}).encode())
        assert recv_msg(s)[1] == 0
        assert endpoint.lines(1) == ["up 4"]
        for xid in range(1, 101):
            s.sendall(struct.pack("!BBHI", 4, 5, 8, xid))   # handler prints, no reply
            time.sleep(0.00005)
        s.sendall(struct.pack("!BBHI", 4, 2, 8, 101))
        assert recv_msg(s)[:3] == (4, 3, 101)
        assert endpoint.lines(100) == [f"4 FeaturesRequest {x}" for x in range(1, 101)]
        s.close()
        [down] = endpoint.lines(1)
        assert down.startswith("down ") and int(down[5:]) > 10, down
    finally:
        endpoint.stop()
