"""JSON-RPC 1.0 over a byte stream, the way Open vSwitch speaks it.

RFC 7047 section 4 (and OVS ``lib/jsonrpc.c``) frame OVSDB traffic as JSON
objects written back to back on a stream, with optional whitespace between
them and no other delimiter.  This module provides:

* :class:`Message` - one JSON-RPC message, validated like
  ``jsonrpc_msg_from_json()`` in OVS.
* :class:`StreamDecoder` - sans-I/O splitter turning received bytes into JSON
  values without reparsing partial input.
* :class:`JsonRpcProtocol` - a Twisted protocol that answers "echo", sends
  inactivity probes (driven by :class:`ovsdb.reconnect.Reconnect`), matches
  replies to its own requests and hands everything else to a
  :class:`SessionHandler`.

``ovsdb/server.py`` builds OVSDB sessions as :class:`SessionHandler`
implementations on top of :class:`JsonRpcProtocol`; ``ovsdb/remotes.py``
accepts/opens the transports; ``ovsdb/unixctl.py`` reuses the protocol for the
``ovs-appctl`` control socket.
"""

from __future__ import annotations

import enum
import itertools
import json
import re
from collections.abc import Callable
from typing import Any

from twisted.internet import defer
from twisted.internet.interfaces import IReactorTime
from twisted.internet.protocol import Protocol, connectionDone
from twisted.python.failure import Failure

from ovsdb import reconnect, vlog

__all__ = [
    "DEFAULT_MAX_MESSAGE_SIZE",
    "JsonRpcError",
    "JsonRpcProtocol",
    "Message",
    "MessageKind",
    "RemoteError",
    "SessionHandler",
    "StreamDecoder",
    "encode_json",
]

log = vlog.logger("jsonrpc")

#: Largest single JSON value :class:`StreamDecoder` will buffer, in bytes.
DEFAULT_MAX_MESSAGE_SIZE = 64 * 1024 * 1024

#: The id OVS uses for its inactivity probes (lib/jsonrpc.c, RECONNECT_PROBE).
ECHO_ID = "echo"


class JsonRpcError(Exception):
    """Malformed JSON text, framing, or JSON-RPC message shape."""


class RemoteError(JsonRpcError):
    """The peer answered one of our requests with an error reply.

    ``error`` holds the reply's ``error`` member unchanged (OVSDB uses an
    object ``{"error": ..., "details": ...}``, unixctl a plain string).
    """

    def __init__(self, error: Any) -> None:
        super().__init__(error if isinstance(error, str) else json.dumps(error))
        self.error = error


class MessageKind(enum.StrEnum):
    REQUEST = "request"
    NOTIFICATION = "notification"
    REPLY = "reply"
    ERROR = "error"


# Which members each kind must (True) or must not (False) carry, in the
# order OVS checks them, so our error texts match jsonrpc_msg_is_valid().
_SHAPES: dict[MessageKind, tuple[bool, bool, bool, bool, bool]] = {
    #                         method params result error  id
    MessageKind.REQUEST: (True, True, False, False, True),
    MessageKind.NOTIFICATION: (True, True, False, False, False),
    MessageKind.REPLY: (False, False, True, False, True),
    MessageKind.ERROR: (False, False, False, True, True),
}
_MEMBERS = ("method", "params", "result", "error", "id")


def encode_json(obj: Any) -> bytes:
    """Serialize compactly as UTF-8, as OVS does (no spaces, raw non-ASCII).

    Lone surrogates (which ``json.loads`` happily produces from ``\\ud800``
    escapes) cannot be UTF-8 encoded, so such values fall back to ASCII
    escapes rather than failing to send.
    """
    try:
        return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(obj, separators=(",", ":"), ensure_ascii=True).encode("ascii")


class Message:
    """One JSON-RPC 1.0 message (RFC 7047 section 4.1; OVS lib/jsonrpc.c).

    ``kind`` is derived from which members are present, like OVS: non-null
    ``result`` -> reply, else non-null ``error`` -> error, else non-null
    ``id`` -> request, else notification.  A JSON ``null`` member counts as
    absent.  ``params`` is a list when present.
    """

    __slots__ = ("kind", "method", "params", "result", "error", "id")

    def __init__(
        self,
        kind: MessageKind | str,
        method: str | None = None,
        params: list[Any] | None = None,
        result: Any = None,
        error: Any = None,
        id: Any = None,  # noqa: A002 - the JSON-RPC member name
    ) -> None:
        self.kind = MessageKind(kind)
        self.method = method
        self.params = params
        self.result = result
        self.error = error
        self.id = id

    # Constructors -------------------------------------------------------

    @classmethod
    def request(cls, method: str, params: list[Any], id: Any) -> Message:  # noqa: A002
        return cls(MessageKind.REQUEST, method=method, params=params, id=id)

    @classmethod
    def notification(cls, method: str, params: list[Any]) -> Message:
        return cls(MessageKind.NOTIFICATION, method=method, params=params)

    @classmethod
    def reply(cls, result: Any, id: Any) -> Message:  # noqa: A002
        """A success reply.  OVS treats ``"result": null`` as absent, so an
        OVS peer rejects a reply whose result is None; send ``{}``/``""``."""
        return cls(MessageKind.REPLY, result=result, id=id)

    @classmethod
    def error_reply(cls, error: Any, id: Any) -> Message:  # noqa: A002
        return cls(MessageKind.ERROR, error=error, id=id)

    # Conversion ---------------------------------------------------------

    def validate(self) -> None:
        """Raise :class:`JsonRpcError` unless the members fit ``kind``."""
        if self.params is not None and not isinstance(self.params, list):
            raise JsonRpcError('"params" must be JSON array')
        values = (self.method, self.params, self.result, self.error, self.id)
        for name, value, required in zip(_MEMBERS, values, _SHAPES[self.kind], strict=True):
            if (value is not None) != required:
                raise JsonRpcError(
                    f'{self.kind} must{"" if required else " not"} have "{name}"'
                )

    def to_json(self) -> dict[str, Any]:
        """Return the wire object.

        Mirrors OVS: a reply always carries ``"error": null``, an error
        ``"result": null`` and a notification ``"id": null`` (RFC 7047 4.1).
        """
        obj: dict[str, Any] = {}
        if self.method is not None:
            obj["method"] = self.method
        if self.params is not None:
            obj["params"] = self.params
        if self.result is not None or self.kind is MessageKind.ERROR:
            obj["result"] = self.result
        if self.error is not None or self.kind is MessageKind.REPLY:
            obj["error"] = self.error
        if self.id is not None or self.kind is MessageKind.NOTIFICATION:
            obj["id"] = self.id
        return obj

    @classmethod
    def from_json(cls, obj: Any) -> Message:
        """Build and validate a message from a decoded JSON value.

        :raises JsonRpcError: with OVS's wording, e.g. ``message is not a
            JSON object``, ``method is not a JSON string``, ``message has
            unexpected member "x"``, ``request must have "params"``.
        """
        if not isinstance(obj, dict):
            raise JsonRpcError("message is not a JSON object")
        method = obj.get("method")
        if method is not None and not isinstance(method, str):
            raise JsonRpcError("method is not a JSON string")
        for key in obj:
            if key not in _MEMBERS:
                raise JsonRpcError(f'message has unexpected member "{key}"')
        params = obj.get("params")
        result = obj.get("result")
        error = obj.get("error")
        msg_id = obj.get("id")
        if result is not None:
            kind = MessageKind.REPLY
        elif error is not None:
            kind = MessageKind.ERROR
        elif msg_id is not None:
            kind = MessageKind.REQUEST
        else:
            kind = MessageKind.NOTIFICATION
        msg = cls(kind, method, params, result, error, msg_id)
        msg.validate()
        return msg

    def encode(self) -> bytes:
        return encode_json(self.to_json())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Message):
            return NotImplemented
        return self.to_json() == other.to_json() and self.kind == other.kind

    def __repr__(self) -> str:
        parts = [f"{k}={getattr(self, k)!r}" for k in _MEMBERS if getattr(self, k) is not None]
        return f"<Message {self.kind} {' '.join(parts)}>"


# ---------------------------------------------------------------- framing

# Between values only whitespace may appear (RFC 7159 insignificant space).
_WS = re.compile(rb"[ \t\r\n]*")

# Remainder of a string starting just after its opening quote (or where the
# previous chunk ended inside it).  Group 1 is the closing quote; when it is
# missing the string runs past the buffer end, and the match stops before a
# dangling backslash so the escape is seen whole next time.
_STRING_REST = re.compile(rb'[^"\\]*+(?:\\.[^"\\]*+)*+(")?', re.DOTALL)


def _balanced_pattern(levels: int) -> re.Pattern[bytes]:
    """Regex that skips text whose brackets balance within ``levels``.

    Only brackets outside strings decide where a value ends; everything else
    is validated later by ``json.loads``.  Matching whole balanced
    sub-structures in the C regex engine, instead of stepping through every
    bracket and string in Python, makes the scan several times faster on
    OVSDB-shaped data.  Possessive quantifiers keep a group that is cut off
    by the buffer end from triggering backtracking: it simply fails and the
    Python loop steps into it one bracket at a time.
    """
    string = rb'"[^"\\]*+(?:\\.[^"\\]*+)*+"'
    plain = rb'[^"{}\[\]]++'
    body = rb"(?:" + plain + rb"|" + string + rb")*+"
    for _ in range(levels):
        body = rb"(?:" + plain + rb"|" + string + rb"|[{\[]" + body + rb"[}\]])*+"
    return re.compile(body, re.DOTALL)


_BALANCED = _balanced_pattern(10)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


class StreamDecoder:
    """Split a byte stream into concatenated JSON values (sans-I/O).

    Each call to :meth:`feed` scans only the newly arrived bytes, tracking
    bracket depth and whether it is inside a string, so a large value that
    arrives in many chunks is scanned once and ``json.loads``-ed once.

    Top-level values must be objects or arrays (everything JSON-RPC sends);
    anything else between values is a framing error.  Errors inside a value
    (bad tokens, mismatched bracket kinds) are reported when its bracket
    count balances, or when it outgrows ``max_size``.

    :param max_size: largest value (bytes) to buffer before giving up.
    :raises JsonRpcError: on a syntax error, invalid UTF-8, or an oversized
        value; its ``values`` attribute lists the values completed before
        the error in the same call.  After an error the decoder is unusable
        (the stream has lost sync, as OVS also concludes).
    """

    def __init__(self, max_size: int = DEFAULT_MAX_MESSAGE_SIZE) -> None:
        self.max_size = max_size
        self._buf = bytearray()
        self._start = -1  # offset of the current value's first byte, -1: none
        self._pos = 0  # next byte to scan
        self._depth = 0
        self._in_string = False
        self._failed: JsonRpcError | None = None

    @property
    def buffered(self) -> int:
        """Bytes held for an incomplete value."""
        return len(self._buf) - max(self._start, 0) if self._start >= 0 else 0

    def feed(self, data: bytes) -> list[Any]:
        """Add ``data``; return every JSON value completed by it, in order."""
        if self._failed is not None:
            raise self._failed
        out: list[Any] = []
        try:
            self._feed(data, out)
        except JsonRpcError as e:
            self._failed = e
            self._buf.clear()
            # Values that were complete before the bad bytes are still good;
            # a caller may want to act on them before dropping the stream.
            e.values = out  # type: ignore[attr-defined]
            raise
        return out

    def _feed(self, data: bytes, out: list[Any]) -> None:
        buf = self._buf
        buf += data
        pos = self._pos
        end = len(buf)
        while pos < end:
            if self._start < 0:
                pos = _WS.match(buf, pos).end()
                if pos >= end:
                    break
                first = buf[pos]
                if first not in b"{[":
                    snippet = bytes(buf[pos:pos + 20])
                    raise JsonRpcError(f"syntax error at top level: unexpected {snippet!r}")
                self._start = pos
                self._depth = 1
                pos += 1
                continue
            if self._in_string:
                m = _STRING_REST.match(buf, pos)
                pos = m.end()
                if m.group(1) is None:
                    # Unterminated; rewind to a dangling backslash so the
                    # escape is seen whole once the next byte arrives.
                    break
                self._in_string = False
                continue
            pos = _BALANCED.match(buf, pos).end()
            if pos >= end:
                break
            ch = buf[pos]
            pos += 1
            if ch == 0x22:  # '"'
                self._in_string = True
            elif ch in (0x7B, 0x5B):  # '{' '['
                self._depth += 1
            else:
                self._depth -= 1
                if self._depth == 0:
                    out.append(self._decode(bytes(buf[self._start:pos])))
                    self._start = -1
        # Drop consumed bytes once per feed, not per value, to stay linear.
        keep_from = self._start if self._start >= 0 else pos
        if keep_from:
            del buf[:keep_from]
            pos -= keep_from
            if self._start >= 0:
                self._start = 0
        self._pos = pos
        if self._start >= 0 and len(buf) > self.max_size:
            raise JsonRpcError(
                f"message exceeds maximum size of {self.max_size} bytes"
            )

    @staticmethod
    def _decode(raw: bytes) -> Any:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise JsonRpcError(f"invalid UTF-8 in message: {e}") from None
        try:
            return json.loads(text, parse_constant=_reject_constant)
        except ValueError as e:
            raise JsonRpcError(f"syntax error: {e}") from None


# --------------------------------------------------------------- protocol


class SessionHandler:
    """Receives events from a :class:`JsonRpcProtocol` (subclass and override).

    All methods are called in the reactor thread; ``session`` is the
    :class:`JsonRpcProtocol` the event belongs to (use ``session.send()``,
    ``session.request()`` etc. on it).  The default implementations do
    nothing, except that an unanswered request gets an error reply
    ``"unknown method"`` the way ovsdb-server answers one.

    Not delivered to the handler: "echo" requests (answered by the protocol,
    RFC 7047 4.1.11), replies to the protocol's own echo probes, and replies
    to requests sent with :meth:`JsonRpcProtocol.request` (those fire its
    Deferred).
    """

    def connection_made(self, session: JsonRpcProtocol) -> None:
        """The transport is connected (after TLS setup started, if any)."""

    def message_received(self, session: JsonRpcProtocol, msg: Message) -> None:
        """A valid request, notification, or unsolicited reply arrived."""
        if msg.kind is MessageKind.REQUEST:
            session.send(Message.error_reply("unknown method", msg.id))

    def connection_lost(self, session: JsonRpcProtocol, reason: Failure) -> None:
        """The connection closed; ``reason`` says why.  Called once."""


class JsonRpcProtocol(Protocol):
    """A JSON-RPC session over one stream connection.

    :param handler: the :class:`SessionHandler` (or a duck-typed object with
        the same three methods) for this connection; may be set later via
        ``self.handler`` before the connection is made.
    :param probe_interval: inactivity probe in ms; 0 disables.  After this
        long without receiving any bytes an ``{"method":"echo","params":[],
        "id":"echo"}`` is sent; after another interval of silence the
        connection is dropped (OVS ``jsonrpc_session_run``).
    :param clock: ``IReactorTime`` for timers (``task.Clock`` in tests);
        defaults to the global reactor.
    :param max_message_size: passed to :class:`StreamDecoder`.
    """

    def __init__(
        self,
        handler: SessionHandler | None = None,
        *,
        probe_interval: int = reconnect.DEFAULT_PROBE_INTERVAL,
        clock: IReactorTime | None = None,
        max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
    ) -> None:
        if clock is None:
            from twisted.internet import reactor as clock  # type: ignore[assignment]
        self.handler = handler if handler is not None else SessionHandler()
        self.clock: IReactorTime = clock  # type: ignore[assignment]
        self.decoder = StreamDecoder(max_message_size)
        self.probe = reconnect.InactivityProbe(
            self.clock, probe_interval,
            lambda: self.send(Message.request("echo", [], ECHO_ID)), self._abort)
        self.name = "unconnected"
        self.connected = False
        self.bytes_received = 0
        self._ids = itertools.count(1)
        self._pending: dict[Any, defer.Deferred[Any]] = {}
        self._closed = False
        self._close_waiters: list[defer.Deferred[None]] = []

    # ------------------------------------------------------- public API

    @property
    def probe_interval(self) -> int:
        return self.probe.probe_interval

    @property
    def fsm(self) -> reconnect.Reconnect:
        return self.probe.fsm

    @property
    def n_probes_sent(self) -> int:
        return self.probe.n_probes_sent

    def set_probe_interval(self, ms: int) -> None:
        """Change the inactivity probe interval (ms, 0 disables)."""
        self.probe.set_probe_interval(ms)

    def send(self, msg: Message) -> None:
        """Queue ``msg`` for sending; silently dropped once disconnected."""
        if self.transport is None or self._closed:
            log.debug("{name}: dropping message on closed session: {msg!r}",
                      name=self.name, msg=msg)
            return
        self.transport.write(msg.encode())

    def request(self, method: str, params: list[Any]) -> defer.Deferred[Any]:
        """Send a request with a fresh integer id.

        :returns: Deferred firing with the reply's ``result``; fails with
            :class:`RemoteError` on an error reply or with the disconnect
            reason (usually ``ConnectionDone``/``ConnectionLost``) if the
            connection closes first.
        """
        msg_id = next(self._ids)
        d: defer.Deferred[Any] = defer.Deferred()
        if self._closed:
            from twisted.internet.error import ConnectionDone

            d.errback(ConnectionDone("session is closed"))
            return d
        self._pending[msg_id] = d
        self.send(Message.request(method, params, msg_id))
        return d

    def notify(self, method: str, params: list[Any]) -> None:
        """Send a notification (``"id": null``)."""
        self.send(Message.notification(method, params))

    def close(self) -> None:
        """Close gracefully (pending output is flushed first)."""
        if self.transport is not None and not self._closed:
            self.transport.loseConnection()

    def when_closed(self) -> defer.Deferred[None]:
        """Deferred that fires (with None) once the connection is lost."""
        d: defer.Deferred[None] = defer.Deferred()
        if self._closed:
            d.callback(None)
        else:
            self._close_waiters.append(d)
        return d

    # ------------------------------------------------- Twisted callbacks

    def connectionMade(self) -> None:  # noqa: N802 - Twisted API
        self.connected = True
        try:
            peer = self.transport.getPeer()  # type: ignore[union-attr]
            self.name = _describe_address(peer)
        except Exception:  # noqa: BLE001 - naming is best effort
            self.name = "unknown peer"
        self.probe.connected(self.name)
        self.handler.connection_made(self)

    def dataReceived(self, data: bytes) -> None:  # noqa: N802 - Twisted API
        if self._closed:
            return
        self.bytes_received += len(data)
        # Any bytes count as liveness, not just whole messages, so a slow
        # multi-megabyte transfer is not mistaken for a dead peer (OVS does
        # the same in jsonrpc_session_recv).
        self.probe.activity()
        error: JsonRpcError | None = None
        try:
            values = self.decoder.feed(data)
        except JsonRpcError as e:
            error = e
            values = getattr(e, "values", [])
        for value in values:
            if self._closed or isinstance(self.decoder, _DeadDecoder):
                return
            self._dispatch(value)
        if error is not None:
            self._protocol_violation(f"error parsing stream: {error}")

    def connectionLost(self, reason: Failure = connectionDone) -> None:  # noqa: N802
        if self._closed:
            return
        self._closed = True
        self.connected = False
        self.probe.stop()
        pending, self._pending = self._pending, {}
        for d in pending.values():
            d.errback(reason)
        try:
            self.handler.connection_lost(self, reason)
        finally:
            waiters, self._close_waiters = self._close_waiters, []
            for d in waiters:
                d.callback(None)

    # ------------------------------------------------------------ helpers

    def _dispatch(self, value: Any) -> None:
        try:
            msg = Message.from_json(value)
        except JsonRpcError as e:
            self._bad_message(value, e)
            return
        if msg.kind is MessageKind.REQUEST and msg.method == "echo":
            self.send(Message.reply(msg.params, msg.id))
            return
        if msg.kind in (MessageKind.REPLY, MessageKind.ERROR):
            if msg.id == ECHO_ID:
                return  # answer to our probe; its bytes already counted
            d = self._pending.pop(msg.id, None) if _hashable(msg.id) else None
            if d is not None:
                if msg.kind is MessageKind.REPLY:
                    d.callback(msg.result)
                else:
                    d.errback(RemoteError(msg.error))
                return
        try:
            self.handler.message_received(self, msg)
        except Exception:
            log.failure("{name}: handler failed on {msg!r}", name=self.name, msg=msg)

    def _bad_message(self, value: Any, error: JsonRpcError) -> None:
        # Valid JSON that is not a JSON-RPC message means the peer does not speak
        # the protocol: OVS (jsonrpc_parse_received_message) drops the session.
        self._protocol_violation(f"received bad JSON-RPC message: {error}")

    def _protocol_violation(self, text: str) -> None:
        log.warn("{name}: {text}; closing connection", name=self.name, text=text)
        if self.transport is not None:
            self.transport.loseConnection()
        # Further bytes can no longer be framed; ignore them until closed.
        self.probe.stop()
        self.decoder = _DeadDecoder()

    def _abort(self) -> None:
        if self.transport is not None:
            abort: Callable[[], None] | None = getattr(self.transport, "abortConnection", None)
            (abort or self.transport.loseConnection)()


class _DeadDecoder(StreamDecoder):
    """Stands in after a framing error; swallows input while we disconnect."""

    def feed(self, data: bytes) -> list[Any]:
        return []


def _hashable(value: Any) -> bool:
    return isinstance(value, (int, str, float, bool))


_unix_peers = itertools.count(1)


def _describe_address(addr: Any) -> str:
    """Name a peer for logs the way OVS does (``tcp:IP:PORT``, ``unix#N``)."""
    host = getattr(addr, "host", None)
    port = getattr(addr, "port", None)
    if host is not None and port is not None:
        kind = getattr(addr, "type", "TCP").lower()
        host_text = f"[{host}]" if ":" in host else host
        return f"{kind}:{host_text}:{port}"
    name = getattr(addr, "name", None)
    if name:
        return f"unix:{name.decode() if isinstance(name, bytes) else name}"
    # Accepted Unix connections have anonymous peers; OVS numbers them.
    return f"unix#{next(_unix_peers)}"
