"""One OpenFlow channel: framing, version negotiation, echo and inactivity probes.

:class:`OFConnection` is the Twisted protocol under every OpenFlow peer of a bridge —
the ``<rundir>/<bridge>.mgmt`` socket ovs-ofctl uses, passive ``ptcp:``/``pssl:``
listeners, and active controllers (connected through :mod:`ovsdb.remotes`). It frames
messages by their 8-byte header, negotiates the version with HELLO (OpenFlow 1.3.5
section 6.3.1, version bitmaps), answers ECHO_REQUEST, probes an idle peer, and hands
every other message to its handler: the connection manager, which applies roles and
passes requests to the switch.  The handler is first offered the message in wire form
(``take_raw``: bulk flow adds and barriers are acted on without the codec); what it does
not take is decoded (:mod:`ofproto.ofp`) and handed over as a message.  After answering
a request on a plain (non-TLS) socket it polls that socket briefly for the peer's next
one, so that a request/reply peer such as ovs-ofctl is not slowed by a CPU wake-up per
message, and meanwhile lets the handler finish work it deferred past its replies (the
switch stages validated flow adds, so a barrier reply need not wait for their
insertion).

Malformed input gets OFPT_ERROR with the type and code the codec names
(``OFPDecodeError``); only unrecoverable framing (a length below 8) closes the channel.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterable
from typing import Any
from typing import Protocol as TypingProtocol

from twisted.internet import tcp, unix
from twisted.internet.protocol import Protocol, connectionDone
from twisted.protocols.policies import ProtocolWrapper
from twisted.python.failure import Failure

from ovsdb import reconnect, vlog

from .ofp import consts
from .ofp.consts import OFPBadRequestCode as BRC
from .ofp.consts import OFPErrorType as ET
from .ofp.consts import OFPHelloFailedCode as HFC
from .ofp.errors import OFPDecodeError, error_to_of10
from .ofp.messages import EchoReply, EchoRequest, Error, Hello, Message, Raw, decode_message

log = vlog.logger("ofproto.connection")

#: OpenFlow versions this switch speaks (wire version numbers).
SUPPORTED_VERSIONS = frozenset({consts.OFP10, consts.OFP13, consts.OFP14, consts.OFP15})
#: Most of the offending message echoed back in an error (OpenFlow 1.3.5 A.4.4: 64).
ERROR_DATA_LEN = 64
#: How long (µs) a channel polls its socket for the peer's next request after
#: answering one (see OFConnection.dataReceived); 0 disables.
BUSY_POLL_US = 500
#: Longest run (s) of busy-polled input handled before returning to the reactor.
BUSY_POLL_MAX_S = 0.02
_PLAIN_TRANSPORTS = (tcp.Server, tcp.Client, unix.Server, unix.Client)


class ChannelHandler(TypingProtocol):
    """What a connection reports to (the connection manager)."""

    def channel_up(self, conn: OFConnection) -> None:
        """Version negotiated: ``conn.version`` is set."""

    def message_received(self, conn: OFConnection, msg: Message, raw: bytes) -> None:
        """A decoded message other than HELLO and echo; ``raw`` is its wire form."""

    def take_raw(self, conn: OFConnection, raw: bytes) -> bool:
        """Offered every message of the negotiated version before it is decoded:
        whether the handler acted on it in wire form (the fast path of bulk flow adds;
        the message then goes no further)."""

    def commit_deferred(self) -> bool:
        """Completes work the handler left for after the replies were written (staged
        flow adds); whether there was any.  Called before the connection returns to
        the reactor, and while it waits for the peer's next request."""

    def channel_down(self, conn: OFConnection, reason: Failure) -> None:
        """The connection closed (called once, also if it never came up)."""


def negotiate(ours: Iterable[int], hello: Hello) -> int | None:
    """The version both sides speak (OpenFlow 1.3.5 section 6.3.1), or None.

    With a version bitmap in the peer's hello, the highest version in both bitmaps;
    without one, the peer is taken to speak every version up to its header's (as OVS
    does), so the answer is our highest version not above it.
    """
    theirs = hello.versions
    if theirs is None:
        theirs = set(range(1, hello.version + 1))
    common = set(ours) & theirs
    return max(common) if common else None


class OFConnection(Protocol):
    """An OpenFlow channel.

    :param handler: receives the channel's events (see :class:`ChannelHandler`).
    :param versions: versions we offer (a subset of SUPPORTED_VERSIONS; the bridge's
        ``protocols`` column).
    :param probe_interval: ms of silence before an echo probe; 0 disables (OVS's
        Controller inactivity_probe; unix management sockets are not probed).
    :param clock: an IReactorTime for the probe timers (default: the reactor).
    """

    def __init__(self, handler: ChannelHandler, versions: Iterable[int] = SUPPORTED_VERSIONS,
                 probe_interval: int = reconnect.DEFAULT_PROBE_INTERVAL,
                 clock: Any = None) -> None:
        if clock is None:
            from twisted.internet import reactor as clock
        self.handler = handler
        self.busy_poll_us = BUSY_POLL_US
        #: Chunks of input read by the busy poll rather than the reactor.
        self.busy_polled = 0
        self.versions = frozenset(versions) & SUPPORTED_VERSIONS
        self.version: int | None = None
        self.name = "unconnected"
        self.probe = reconnect.InactivityProbe(clock, probe_interval, self._send_probe,
                                               self._abort)
        self._buffer = bytearray()
        self._closed = False
        self._closing = False   # a framing error: ignore input until closed
        self._next_xid = 0x10000000   # ours; peers' requests carry their own
        # Replies produced while a chunk of input is handled, written together at its
        # end (None outside dataReceived).
        self._replies: list[bytes] | None = None

    # -- sending --

    def new_xid(self) -> int:
        self._next_xid = (self._next_xid + 1) & 0xFFFFFFFF
        return self._next_xid

    def send(self, msg: Message) -> None:
        """Sends ``msg`` in the negotiated version (dropped once closed)."""
        if self.version is not None and not isinstance(msg, Hello):
            msg.version = self.version
        self.send_raw(msg.encode())

    def send_raw(self, data: bytes) -> None:
        """Sends already encoded messages (in the negotiated version; dropped once
        closed)."""
        if self._closed or self.transport is None:
            return
        if self._replies is not None:
            self._replies.append(data)
        else:
            self._write(data)

    def _write(self, data: bytes) -> None:
        # A request/reply peer (ovs-ofctl: flow-mod, barrier, wait) waits for every
        # answer, so it goes out now rather than on the reactor's next turn.  A plain
        # socket with nothing queued takes it directly (what doWrite would do, without
        # registering for writability and unregistering again); what it does not
        # take, and other transports' output, goes through the transport, whose
        # doWrite (IWriteDescriptor) sends what it can at once.  A connection lost
        # meanwhile is noticed by the reactor, so errors are left to it.
        raw = self._raw_transport()
        if raw is not None and raw.connected and not raw.disconnecting \
                and not raw._tempDataBuffer and raw.offset == len(raw.dataBuffer):
            try:
                sent = raw.socket.send(data)
            except OSError:
                sent = 0
            if sent == len(data):
                return
            data = data[sent:]
        t = self.transport
        t.write(data)
        flush = getattr(t, "doWrite", None)
        if flush is not None and not t.disconnecting:
            flush()

    def send_error(self, request: bytes, etype: int, code: int, xid: int | None = None) -> None:
        """Answers ``request`` (its wire form) with OFPT_ERROR ``etype``/``code`` (1.3
        numbering, translated for OpenFlow 1.0 peers)."""
        version = self.version or consts.OFP13
        if version == consts.OFP10:
            etype, code = error_to_of10(etype, code)
        if xid is None:
            xid = int.from_bytes(request[4:8], "big") if len(request) >= 8 else 0
        self.send(Error(version=version, xid=xid, type=etype, code=code,
                        data=bytes(request[:ERROR_DATA_LEN])))

    def close(self) -> None:
        if self.transport is not None and not self._closed:
            self.transport.loseConnection()

    # -- Twisted --

    def connectionMade(self) -> None:  # noqa: N802 - Twisted API
        try:
            self.name = str(self.transport.getPeer())  # type: ignore[union-attr]
        except Exception:  # noqa: BLE001 - naming is best effort
            self.name = "peer"
        self.send(Hello.with_versions(set(self.versions)))
        self.probe.connected(self.name)

    def dataReceived(self, data: bytes) -> None:  # noqa: N802 - Twisted API
        try:
            self._chunk(data)
            self._busy_poll()
        finally:
            # Work deferred past the replies (staged flow adds) is done before anything
            # else the reactor serves could observe it.
            self._commit_deferred()

    def _commit_deferred(self) -> bool:
        try:
            return self.handler.commit_deferred()
        except Exception:  # a bug must not cost the connection
            log.failure("{peer}: deferred work failed", peer=self.name)
            return False

    def _busy_poll(self) -> None:
        """Reads and handles the peer's next input for a moment (see the module
        docstring), doing the handler's deferred work while none has arrived."""
        raw = self._raw_transport()
        if self.busy_poll_us <= 0 or raw is None:
            return
        sock = raw.socket
        # A request/reply peer (ovs-ofctl sends a flow-mod and a barrier, then waits for
        # the barrier reply before the next one) sends again within microseconds of our
        # answer.  Blocking in epoll would make every such message pay a wake-up of this
        # thread's CPU from idle, which on a VM costs several times the handling itself,
        # so the channel polls its socket for a moment after any input (a flow-mod may
        # arrive apart from its barrier), yielding the CPU to any runnable task (the
        # peer may share it), as a PMD polls its rxqs.
        window = self.busy_poll_us * 1e-6
        clock = time.perf_counter
        start = clock()
        deadline = start + window
        commit = self._commit_deferred
        while not self._closed and not self._closing:
            try:
                more = sock.recv(65536, socket.MSG_DONTWAIT)
            except BlockingIOError:
                if commit():
                    continue   # the peer's turn overlapped our deferred work
                if clock() > deadline:
                    return
                os.sched_yield()
                continue
            except OSError:
                return   # the reactor's next read reports it
            if not more:
                return   # end of stream: the reactor's next read sees it too
            self.busy_polled += 1
            self._chunk(more)
            now = clock()
            if now - start > BUSY_POLL_MAX_S:
                return   # let the reactor serve everything else
            deadline = now + window

    def _raw_transport(self) -> Any:
        """The plain socket transport under ours, or None (TLS, or not a socket)."""
        t = self.transport
        while type(t) is ProtocolWrapper:   # connection tracking (ovsdb.remotes)
            t = t.transport
        # Under TLS (startTLS, or TLSMemoryBIOProtocol, a ProtocolWrapper subclass) the
        # socket carries ciphertext.
        return t if type(t) in _PLAIN_TRANSPORTS and not t.TLS else None

    def _chunk(self, data: bytes) -> None:
        """Handles one chunk of input and writes its replies together."""
        if self._closed or self._closing:
            return
        self.probe.activity()
        if self._buffer:
            self._buffer += data
            data = bytes(self._buffer)
            self._buffer.clear()
        self._replies = []
        try:
            self._frame(data)
        finally:
            replies, self._replies = self._replies, None
            if replies and not self._closed and self.transport is not None:
                self._write(b"".join(replies))

    def _frame(self, data: bytes) -> None:
        """Handles every whole message in ``data``; keeps an incomplete tail."""
        p, end = 0, len(data)
        while end - p >= 8 and not self._closed and not self._closing:
            length = data[p + 2] << 8 | data[p + 3]
            if length < 8:
                log.warn("{peer}: OpenFlow message length {n} < 8; closing", peer=self.name,
                         n=length)
                self.send_error(data[p:p + 8], ET.OFPET_BAD_REQUEST, BRC.OFPBRC_BAD_LEN)
                self._closing = True
                self.close()   # after the error is flushed
                return
            if end - p < length:
                break
            self._received(data[p:p + length])
            p += length
        if p < end and not self._closing:
            self._buffer += data[p:]

    def connectionLost(self, reason: Failure = connectionDone) -> None:  # noqa: N802
        if self._closed:
            return
        self._closed = True
        self.probe.stop()
        self.handler.channel_down(self, reason)

    # -- receiving --

    def _received(self, raw: bytes) -> None:
        if raw[0] == self.version:
            try:
                if self.handler.take_raw(self, raw):
                    return
            except Exception:  # a bug costs the fast path, never the message
                log.failure("{peer}: fast path failed", peer=self.name)
        try:
            msg = decode_message(raw)
        except OFPDecodeError as e:
            log.info("{peer}: bad message: {e}", peer=self.name, e=e)
            self.send_error(raw, e.type, e.code)
            return
        if self.version is None:
            self._negotiate(msg, raw)
            return
        # Exact types (the codec has one class per message; EchoReply subclasses
        # EchoRequest): a few identity tests instead of isinstance chains per message.
        t = type(msg)
        if msg.version != self.version and t is not Hello and t is not Error:
            self.send_error(raw, ET.OFPET_BAD_REQUEST, BRC.OFPBRC_BAD_VERSION)
            return
        if t is EchoRequest:
            self.send(EchoReply(xid=msg.xid, data=msg.data))
        elif t is EchoReply or t is Hello:
            pass   # liveness was noted on receipt; a second hello carries nothing
        elif t is Raw:
            self.send_error(raw, *msg.error)
        else:
            try:
                self.handler.message_received(self, msg, raw)
            except OFPDecodeError as e:
                self.send_error(raw, e.type, e.code)
            except Exception:  # a bug must cost one message, never the switch
                log.failure("{peer}: handling {msg} failed", peer=self.name,
                            msg=type(msg).__name__)
                self.send_error(raw, ET.OFPET_BAD_REQUEST, BRC.OFPBRC_EPERM)

    def _negotiate(self, msg: Message, raw: bytes) -> None:
        if not isinstance(msg, Hello):
            # OpenFlow 1.3.5 6.3.1: the first message must be a hello.
            self.send_error(raw, ET.OFPET_HELLO_FAILED, HFC.OFPHFC_INCOMPATIBLE)
            self._closing = True
            self.close()
            return
        version = negotiate(self.versions, msg)
        if version is None:
            offered = ", ".join(f"0x{v:02x}" for v in sorted(self.versions))
            text = f"We support versions {offered}; peer supports none of them."
            self.send(Error(version=min(msg.version, max(self.versions)), xid=msg.xid,
                            type=ET.OFPET_HELLO_FAILED, code=HFC.OFPHFC_INCOMPATIBLE,
                            data=text.encode()))
            log.info("{peer}: version negotiation failed: {t}", peer=self.name, t=text)
            self.close()
            return
        self.version = version
        log.info("{peer}: negotiated OpenFlow version 0x{v:02x}", peer=self.name, v=version)
        self.handler.channel_up(self)

    def _send_probe(self) -> None:
        self.send(EchoRequest(xid=self.new_xid()))

    def _abort(self) -> None:
        if self.transport is not None:
            abort = getattr(self.transport, "abortConnection", None)
            (abort or self.transport.loseConnection)()
