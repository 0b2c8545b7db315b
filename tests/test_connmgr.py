"""The connection manager: management socket, active controllers, roles, async config.

Real peers: ovs-ofctl on the bridge's management socket; raw TCP listeners on 127.0.0.1
playing controllers (the switch connects out to them, as to an OpenFlow controller).
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
from helpers.ofswitch import recv_message

from ofproto.ofp.consts import OFP13
from ofproto.ofp.messages import FlowMod, Hello, RoleRequest

HELPER = Path(__file__).resolve().parent / "helpers" / "connmgr_daemon.py"
MASTER, SLAVE, EQUAL = 2, 3, 1


class Controller:
    """A TCP listener on 127.0.0.1 the switch connects to."""

    def __init__(self) -> None:
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(1)
        self.listener.settimeout(15)
        self.port = self.listener.getsockname()[1]
        self.sock: socket.socket | None = None

    def accept(self) -> None:
        self.sock, _ = self.listener.accept()
        self.sock.settimeout(5)
        assert isinstance(recv_message(self.sock), Hello)
        self.sock.sendall(Hello.with_versions({OFP13}).encode())

    def request(self, msg):
        self.sock.sendall(msg.encode())
        return recv_message(self.sock)

    def close(self) -> None:
        if self.sock:
            self.sock.close()
        self.listener.close()


@pytest.fixture
def bridge(tmp_path):
    controllers = [Controller(), Controller()]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    proc = subprocess.Popen([sys.executable, str(HELPER), str(tmp_path), "br0",
                             *(f"tcp:127.0.0.1:{c.port}" for c in controllers)],
                            stdout=subprocess.PIPE, text=True, env=env)
    assert proc.stdout.readline().strip() == "ready"
    for c in controllers:
        c.accept()
    yield tmp_path, proc, controllers
    os.kill(proc.pid, signal.SIGTERM)
    proc.wait(10)
    for c in controllers:
        c.close()


def test_management_socket_with_ovs_ofctl(bridge):
    rundir, proc, _ = bridge
    ofctl = shutil.which("ovs-ofctl")
    assert ofctl, "ovs-ofctl (openvswitch-common) is required"
    assert (rundir / "br0.mgmt").is_socket()
    env = dict(os.environ, OVS_RUNDIR=str(rundir))
    r = subprocess.run([ofctl, "-O", "OpenFlow13", "probe", "br0"], env=env,
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr


def test_roles_and_generation_ids(bridge):
    _, proc, (a, b) = bridge
    reply = a.request(RoleRequest(xid=1, role=MASTER, generation_id=10))
    assert (reply.role, reply.generation_id) == (MASTER, 10)
    # b becomes master: a is demoted to slave, and a stale generation is refused.
    assert b.request(RoleRequest(xid=2, role=MASTER, generation_id=11)).role == MASTER
    stale = b.request(RoleRequest(xid=3, role=MASTER, generation_id=9))
    assert (stale.type, stale.code) == (11, 0)          # ROLE_REQUEST_FAILED / STALE
    assert a.request(RoleRequest(xid=4, role=0)).role == SLAVE   # NOCHANGE reports it
    # A slave may not modify the switch; the master may.
    err = a.request(FlowMod(xid=5))
    assert (err.type, err.code) == (1, 10)              # BAD_REQUEST / IS_SLAVE
    b.sock.sendall(FlowMod(xid=6).encode())
    deadline = time.monotonic() + 5
    seen = []
    while "FlowMod 6" not in seen and time.monotonic() < deadline:
        seen.append(proc.stdout.readline().strip())
    assert "FlowMod 6" in seen and "FlowMod 5" not in seen


def test_fail_open_waits_three_probe_intervals(tmp_path):
    """OVS fails a standalone bridge open once no controller has been connected for
    three inactivity-probe intervals (each at least 5 s); without probes, at once."""
    from ofproto.connection import OFConnection
    from ofproto.connmgr import ChannelState, ConnectionManager

    now = [1000.0]

    class Switch:
        changes = 0

        def controller_status_changed(self) -> None:
            self.changes += 1

        def channel_up(self, conn) -> None:
            pass

    sw = Switch()
    mgr = ConnectionManager("br0", sw, str(tmp_path), clock=lambda: now[0])
    try:
        assert not mgr.fail_open_due()                      # no controller configured
        mgr.set_controllers(["unix:" + str(tmp_path / "nobody")], probe_interval=1000)
        now[0] += 14.9                                      # 3 x 5 s (1 s is raised to 5)
        assert not mgr.fail_open_due()
        now[0] += 0.2
        assert mgr.fail_open_due()
        # A controller connects: not due; it goes away: the delay starts over.
        conn = OFConnection(mgr, probe_interval=0)
        conn.version = OFP13
        mgr.channels[conn] = ChannelState(is_controller=True, target="x")
        mgr.channel_up(conn)
        assert not mgr.fail_open_due()
        now[0] += 100
        mgr.channel_down(conn, None)
        assert sw.changes == 2 and not mgr.fail_open_due()
        now[0] += 15.1
        assert mgr.fail_open_due()
        # Probes disabled: fail-open is due as soon as no controller is connected.
        mgr.set_controllers(["unix:" + str(tmp_path / "nobody")], probe_interval=0)
        assert mgr.fail_open_due()
    finally:
        mgr.stop()


def test_pssl_listener_many_requests(tmp_path):
    """A pssl: listener: TLS peers get their echo replies one request after another
    (the channel's busy poll and direct writes must leave a TLS socket to TLS)."""
    import ssl

    from test_jsonrpc import _make_pki

    pki = _make_pki(tmp_path)
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path),
               OF_SSL=f"{pki['server-key']},{pki['server-cert']},{pki['ca-cert']}")
    proc = subprocess.Popen([sys.executable, str(HELPER), str(tmp_path), "br0",
                             f"pssl:{port}:127.0.0.1"], stdout=subprocess.PIPE, text=True,
                            env=env)
    try:
        assert proc.stdout.readline().strip() == "ready"
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.load_verify_locations(str(pki["ca-cert"]))
        ctx.load_cert_chain(str(pki["client-cert"]), str(pki["client-key"]))
        deadline = time.monotonic() + 10
        while True:
            try:
                raw = socket.create_connection(("127.0.0.1", port), timeout=5)
                break
            except ConnectionRefusedError:
                assert time.monotonic() < deadline
                time.sleep(0.1)
        s = ctx.wrap_socket(raw)
        assert isinstance(recv_message(s), Hello)
        s.sendall(Hello.with_versions({OFP13}).encode())
        for xid in range(1, 101):
            s.sendall(struct.pack("!BBHI", OFP13, 2, 12, xid) + xid.to_bytes(4, "big"))
            reply = recv_message(s)
            assert (reply.xid, reply.data) == (xid, xid.to_bytes(4, "big"))
        s.close()
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        proc.wait(10)
