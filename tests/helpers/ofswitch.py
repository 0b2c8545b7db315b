"""Shared by the tests that drive the OpenFlow switch: ovs-ofctl against a switch
daemon's management socket, reading messages off a raw OpenFlow socket, and a stand-in
for an OFConnection."""

from __future__ import annotations

import os
import shutil
import socket
import struct
import subprocess
from pathlib import Path

from ofproto.ofp.messages import Message, decode_message


def run_ofctl(rundir: Path, *args: str, proto: str, check: bool = True):
    """Runs Debian's ``ovs-ofctl -O proto args`` against the switch whose management
    socket is in ``rundir``; fails the test if it exits non-zero (with ``check``)."""
    exe = shutil.which("ovs-ofctl")
    assert exe, "ovs-ofctl (openvswitch-common) is required"
    r = subprocess.run([exe, "-O", proto, *args], capture_output=True, text=True,
                       timeout=60, env=dict(os.environ, OVS_RUNDIR=str(rundir)))
    if check:
        assert r.returncode == 0, f"ovs-ofctl {' '.join(args)}: {r.stderr}"
    return r


def _recv_until(s: socket.socket, data: bytes, n: int) -> bytes:
    """``data`` extended from ``s`` to ``n`` bytes (EOFError if the peer closed)."""
    while len(data) < n:
        chunk = s.recv(n - len(data))
        if not chunk:
            raise EOFError
        data += chunk
    return data


def recv_raw(s: socket.socket) -> bytes:
    """The next OpenFlow message on ``s``, header included (EOFError if the peer
    closed)."""
    header = _recv_until(s, b"", 8)
    return _recv_until(s, header, struct.unpack("!H", header[2:4])[0])


def recv_message(s: socket.socket) -> Message:
    """The next OpenFlow message on ``s``, decoded (EOFError if the peer closed)."""
    return decode_message(recv_raw(s))


class FakeConn:
    """What the switch needs of an OFConnection when tests call it directly: a
    version, ``send`` and ``send_error``, collecting everything in ``sent``."""

    def __init__(self, version: int) -> None:
        self.version = version
        self.sent: list = []

    def send(self, msg) -> None:
        msg.version = self.version
        self.sent.append(msg)

    def send_error(self, request: bytes, etype: int, code: int) -> None:
        from ofproto.ofp.messages import Error

        xid = struct.unpack_from("!I", request, 4)[0]
        self.sent.append(Error(version=self.version, xid=xid, type=etype, code=code,
                               data=request[:64]))

    def errors(self) -> list[tuple[int, int, int]]:
        """(xid, type, code) of every error sent."""
        from ofproto.ofp.messages import Error

        return [(e.xid, e.type, e.code) for e in self.sent if isinstance(e, Error)]
