"""OVSDB connection methods ("remotes") and the Twisted services behind them.

Parses the connection-method strings of ovsdb(7) ("Connection Methods") and
turns one into a running listener or an outgoing, self-reconnecting
connection.  ``ovsdb/server.py`` creates one :class:`RemoteService` per
``--remote`` option with a factory producing
:class:`ovsdb.jsonrpc.JsonRpcProtocol` sessions; ``ovsdb/unixctl.py`` uses one
for the ``ovs-appctl`` socket.  Active remotes pace their reconnection
attempts with :class:`ovsdb.reconnect.Reconnect`.

Facts taken from Open vSwitch: the default port of TCP-based methods is 6640
and may be omitted; passive methods listen on IPv4 ``0.0.0.0`` unless an
address is given; IPv6 addresses go in brackets; Unix sockets are created
with mode 0770 (lib/socket-util-unix.c) and never get inactivity probes
(stream-unix.c sets ``needs_probes`` false); SSL peers must present a
certificate signed by the CA (lib/stream-ssl.c: ``SSL_VERIFY_PEER |
SSL_VERIFY_FAIL_IF_NO_PEER_CERT``, TLS 1.2 minimum).
"""

from __future__ import annotations

import ipaddress
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from twisted.application.service import Service
from twisted.internet import defer, endpoints
from twisted.internet.interfaces import IDelayedCall, IListeningPort, IReactorTime
from twisted.internet.protocol import Factory, Protocol
from twisted.protocols.policies import ProtocolWrapper, WrappingFactory
from twisted.python.failure import Failure

from ovsdb import reconnect, vlog

__all__ = [
    "DEFAULT_PORT",
    "Remote",
    "RemoteService",
    "RemoteServiceError",
    "SslOptions",
    "make_ssl_context",
    "parse_remote",
]

log = vlog.logger("remotes")

#: IANA-assigned OVSDB port, used when a TCP-based method omits it.
DEFAULT_PORT = 6640
_UNIX_SOCKET_MODE = 0o770
_KINDS = {"unix", "tcp", "ssl"}


#: Pending connections a listener queues. Twisted's default (50) is too small for
#: a burst of clients (hundreds of vswitchd/OVN controllers reconnecting at once).
LISTEN_BACKLOG = 1024


@dataclass(frozen=True)
class Remote:
    """A parsed connection method.

    ``kind`` is ``"unix"``, ``"tcp"`` or ``"ssl"``; ``passive`` is True for
    the ``p``-prefixed listeners.  ``host`` is an IP literal without
    brackets (``"0.0.0.0"`` for passive methods without one) and ``port`` an
    int for TCP-based kinds; ``path`` is set only for unix.
    """

    kind: str
    passive: bool
    host: str | None = None
    port: int | None = None
    path: str | None = None

    def __str__(self) -> str:
        prefix = ("p" if self.passive else "") + self.kind
        if self.kind == "unix":
            return f"{prefix}:{self.path}"
        host = f"[{self.host}]" if self.host and ":" in self.host else self.host
        if self.passive:
            return f"{prefix}:{self.port}:{host}"
        return f"{prefix}:{host}:{self.port}"


def _parse_ip(text: str, remote: str) -> str:
    if text.startswith("["):
        if not text.endswith("]"):
            raise ValueError(f"{remote}: missing ']' after IPv6 address")
        inner = text[1:-1]
        try:
            return str(ipaddress.IPv6Address(inner))
        except ValueError:
            raise ValueError(f"{remote}: {inner!r} is not a valid IPv6 address") from None
    try:
        addr = ipaddress.ip_address(text)
    except ValueError:
        raise ValueError(f"{remote}: {text!r} is not a valid IP address") from None
    if addr.version == 6:
        raise ValueError(f"{remote}: IPv6 addresses must be written in brackets, e.g. [::1]")
    return str(addr)


def _parse_port(text: str, remote: str, *, passive: bool) -> int:
    if text == "":
        return DEFAULT_PORT
    if not text.isdigit():
        raise ValueError(f"{remote}: {text!r} is not a valid port number")
    port = int(text)
    low = 0 if passive else 1
    if not low <= port <= 65535:
        raise ValueError(f"{remote}: port {port} out of range {low}..65535")
    return port


def _split_host_port(text: str, remote: str) -> tuple[str, str]:
    """Split "HOST[:PORT]" where HOST may be a bracketed IPv6 address."""
    if text.startswith("["):
        close = text.find("]")
        if close < 0:
            raise ValueError(f"{remote}: missing ']' after IPv6 address")
        host, rest = text[: close + 1], text[close + 1 :]
        if rest and not rest.startswith(":"):
            raise ValueError(f"{remote}: unexpected {rest!r} after address")
        return host, rest[1:]
    if text.count(":") > 1:
        raise ValueError(f"{remote}: IPv6 addresses must be written in brackets, e.g. [::1]")
    host, _, port = text.partition(":")
    return host, port


def parse_remote(text: str) -> Remote:
    """Parse an ovsdb(7) connection method.

    Accepted forms: ``punix:PATH``, ``ptcp:[PORT][:IP]``, ``pssl:[PORT][:IP]``,
    ``unix:PATH``, ``tcp:IP[:PORT]``, ``ssl:IP[:PORT]`` (IPv6 as ``[addr]``,
    omitted ports default to 6640, ``ptcp:0`` picks a free port).  Host names
    are not accepted (OVS only resolves them when built with unbound).

    :raises ValueError: naming the remote and what is wrong with it.
    """
    if not isinstance(text, str) or ":" not in text:
        raise ValueError(f"{text!r}: connection method must look like TYPE:ARGS "
                         "(e.g. punix:/path, ptcp:6640, tcp:127.0.0.1:6640)")
    method, _, rest = text.partition(":")
    passive = method.startswith("p") and method[1:] in _KINDS
    kind = method[1:] if passive else method
    if kind not in _KINDS:
        raise ValueError(f"{text!r}: unknown connection method {method!r} "
                         "(expected unix, tcp, ssl, punix, ptcp or pssl)")
    if kind == "unix":
        if not rest:
            raise ValueError(f"{text!r}: missing socket path")
        return Remote(kind, passive, path=rest)
    if passive:
        port_text, _, host_text = rest.partition(":")
        port = _parse_port(port_text, text, passive=True)
        host = _parse_ip(host_text, text) if host_text else "0.0.0.0"
        return Remote(kind, True, host=host, port=port)
    host_text, port_text = _split_host_port(rest, text)
    if not host_text:
        raise ValueError(f"{text!r}: missing host address")
    return Remote(kind, False, host=_parse_ip(host_text, text),
                  port=_parse_port(port_text, text, passive=False))


@dataclass(frozen=True)
class SslOptions:
    """PEM file paths for ssl/pssl remotes (ovsdb-server's ``--private-key``,
    ``--certificate``, ``--ca-cert``).  Peers must present a certificate
    signed by ``ca_cert``; there is no bootstrap-CA mode."""

    private_key: str
    certificate: str
    ca_cert: str


class RemoteServiceError(Exception):
    """A remote could not be started (bad TLS files, address in use, ...)."""


def make_ssl_context(options: SslOptions, *, server: bool) -> Any:
    """Build a pyOpenSSL ``SSL.Context`` the way OVS configures its own.

    Mutual authentication is mandatory in both directions and TLS 1.2 is
    the floor; both sides use the same settings, as in lib/stream-ssl.c.
    ``server`` only changes the wording of errors.

    :raises RemoteServiceError: if a file is missing or the key does not
        match the certificate.
    """
    from OpenSSL import SSL

    for label, path in (("private key", options.private_key),
                        ("certificate", options.certificate),
                        ("CA certificate", options.ca_cert)):
        if not os.path.isfile(path):
            raise RemoteServiceError(f"{label} file {path!r} does not exist")
    try:
        ctx = SSL.Context(SSL.TLS_METHOD)
        ctx.set_min_proto_version(SSL.TLS1_2_VERSION)
        ctx.set_options(SSL.OP_NO_TICKET)
        ctx.use_privatekey_file(options.private_key)
        ctx.use_certificate_chain_file(options.certificate)
        ctx.check_privatekey()
        ctx.load_verify_locations(options.ca_cert)
    except SSL.Error as e:
        side = "server" if server else "client"
        raise RemoteServiceError(f"cannot set up SSL/TLS {side} context: {e}") from None

    def verify(_conn: Any, _cert: Any, _errno: int, _depth: int, ok: int) -> bool:
        return bool(ok)

    ctx.set_verify(SSL.VERIFY_PEER | SSL.VERIFY_FAIL_IF_NO_PEER_CERT, verify)
    return ctx


class _ContextFactory:
    """Old-style Twisted context factory handing out one prepared context."""

    def __init__(self, ctx: Any) -> None:
        self._ctx = ctx

    def getContext(self) -> Any:  # noqa: N802 - Twisted API
        return self._ctx


class _ProtocolFactory(Factory):
    noisy = False

    def __init__(self, build: Callable[[], Protocol], probe_interval: int | None) -> None:
        self._build = build
        self._probe_interval = probe_interval

    def buildProtocol(self, addr: Any) -> Protocol:  # noqa: N802 - Twisted API
        proto = self._build()
        proto.factory = self
        if self._probe_interval is not None and hasattr(proto, "set_probe_interval"):
            proto.set_probe_interval(self._probe_interval)
        return proto


class _TrackingFactory(WrappingFactory):
    """Remembers live connections so the service can close and await them."""

    noisy = False

    def __init__(self, wrapped: Factory, on_lost: Callable[[ProtocolWrapper], None]) -> None:
        super().__init__(wrapped)
        self._on_lost = on_lost

    def unregisterProtocol(self, p: ProtocolWrapper) -> None:  # noqa: N802 - Twisted API
        super().unregisterProtocol(p)
        self._on_lost(p)


class RemoteService(Service):
    """Listen on, or keep connecting to, one OVSDB remote.

    :param remote: connection method string (see :func:`parse_remote`) or a
        :class:`Remote`.
    :param protocol_factory: zero-argument callable returning a fresh
        protocol per connection, normally a
        :class:`ovsdb.jsonrpc.JsonRpcProtocol` wired to a session handler.
    :param ssl: required for ``ssl:``/``pssl:``.
    :param probe_interval: inactivity probe (ms) set on each protocol that
        has ``set_probe_interval``; ``None`` keeps the protocol's default.
        Ignored for Unix sockets, which are never probed (like OVS).
    :param reactor: reactor to use (default: the global one).
    :param min_backoff, max_backoff: reconnect pacing for active remotes, ms.

    Passive remotes listen when started; :attr:`bound_address` then gives
    the real ``(host, port)`` (for ``ptcp:0``) or the socket path.  A stale
    Unix socket file is removed before listening, and the socket is removed
    again on stop.  Active remotes connect, and reconnect with exponential
    backoff whenever the connection fails or drops.

    :meth:`startService` raises :class:`RemoteServiceError` when the remote
    cannot be set up at all (missing TLS files, address in use);
    :meth:`stopService` closes the listener and all connections and returns
    a Deferred that fires once they are gone.
    """

    def __init__(
        self,
        remote: str | Remote,
        protocol_factory: Callable[[], Protocol],
        *,
        ssl: SslOptions | None = None,
        probe_interval: int | None = None,
        reactor: Any = None,
        min_backoff: int = reconnect.DEFAULT_MIN_BACKOFF,
        max_backoff: int = reconnect.DEFAULT_MAX_BACKOFF,
    ) -> None:
        self.remote = remote if isinstance(remote, Remote) else parse_remote(remote)
        if self.remote.kind == "ssl" and ssl is None:
            raise RemoteServiceError(f"{self.remote}: SSL/TLS remotes need SslOptions "
                                     "(private key, certificate, CA certificate)")
        if reactor is None:
            from twisted.internet import reactor as global_reactor

            reactor = global_reactor
        self.reactor = reactor
        self.ssl = ssl
        if self.remote.kind == "unix":
            # OVS never probes Unix sockets (stream-unix.c: needs_probes is
            # false): the kernel reports a dead peer reliably.
            probe_interval = 0
        self.setName(str(self.remote))
        self._factory = _TrackingFactory(_ProtocolFactory(protocol_factory, probe_interval),
                                         self._connection_lost)
        self._port: IListeningPort | None = None
        self._close_waiters: dict[ProtocolWrapper, list[defer.Deferred[None]]] = {}
        # Active-mode state.
        self._fsm = reconnect.Reconnect(self._now(), name=str(self.remote),
                                        min_backoff=min_backoff, max_backoff=max_backoff,
                                        probe_interval=0)
        self._attempt: defer.Deferred[Any] | None = None
        self._active_conn: ProtocolWrapper | None = None
        self._timer: IDelayedCall | None = None
        self._stopping = False

    # ------------------------------------------------------------ queries

    def listening_port(self) -> IListeningPort | None:
        """The Twisted listening port of a started passive remote."""
        return self._port

    @property
    def bound_address(self) -> tuple[str, int] | str | None:
        """``(host, port)`` or the Unix socket path actually bound, else None."""
        if self._port is None:
            return None
        addr = self._port.getHost()
        if self.remote.kind == "unix":
            name = addr.name
            return name.decode() if isinstance(name, bytes) else name
        return (addr.host, addr.port)

    def connections(self) -> list[Protocol]:
        """Protocols of the currently open connections."""
        return [w.wrappedProtocol for w in list(self._factory.protocols)]

    @property
    def fsm(self) -> reconnect.Reconnect:
        """Reconnect FSM (meaningful for active remotes)."""
        return self._fsm

    # ---------------------------------------------------------- lifecycle

    def startService(self) -> None:  # noqa: N802 - Twisted API
        self._stopping = False
        context = (make_ssl_context(self.ssl, server=self.remote.passive)
                   if self.remote.kind == "ssl" and self.ssl is not None else None)
        if self.remote.passive:
            self._listen(context)
        else:
            self._client_endpoint = self._make_client_endpoint(context)
            self._fsm.enable(self._now())
            self._run_fsm()
        super().startService()

    def stopService(self) -> defer.Deferred[None]:  # noqa: N802 - Twisted API
        super().stopService()
        self._stopping = True
        self._cancel_timer()
        self._fsm.disable(self._now())
        waits: list[defer.Deferred[Any]] = []
        if self._attempt is not None:
            self._attempt.cancel()
            self._attempt = None
        if self._port is not None:
            port, self._port = self._port, None
            waits.append(defer.maybeDeferred(port.stopListening))
        for wrapper in list(self._factory.protocols):
            waits.append(self._close(wrapper))
        d = defer.DeferredList(waits, consumeErrors=True)
        d.addCallback(lambda _: self._remove_socket_file())
        return d

    # ------------------------------------------------------------ passive

    def _listen(self, context: Any) -> None:
        r = self.remote
        if r.kind == "unix":
            assert r.path is not None
            self._remove_stale_socket(r.path)
            endpoint: Any = endpoints.UNIXServerEndpoint(self.reactor, r.path,
                                                         backlog=LISTEN_BACKLOG,
                                                         mode=_UNIX_SOCKET_MODE)
        elif r.kind == "tcp":
            endpoint = endpoints.TCP4ServerEndpoint(self.reactor, r.port, backlog=LISTEN_BACKLOG,
                                                    interface=r.host)
        else:
            endpoint = endpoints.SSL4ServerEndpoint(self.reactor, r.port,
                                                    _ContextFactory(context),
                                                    backlog=LISTEN_BACKLOG,
                                                    interface=r.host)
        outcome: list[Any] = []
        d = endpoint.listen(self._factory)
        d.addBoth(outcome.append)
        if not outcome:
            # Not expected for these endpoints, but never hang silently.
            d.addErrback(lambda f: log.failure("{remote}: listen failed", f, remote=str(r)))
            d.addCallback(self._set_port)
            return
        result = outcome[0]
        if isinstance(result, Failure):
            raise RemoteServiceError(f"{r}: listen failed: {result.getErrorMessage()}")
        self._set_port(result)

    def _set_port(self, port: IListeningPort) -> IListeningPort:
        self._port = port
        log.info("{remote}: listening on {addr}", remote=str(self.remote),
                 addr=self.bound_address)
        return port

    @staticmethod
    def _remove_stale_socket(path: str) -> None:
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            return
        if not stat.S_ISSOCK(st.st_mode):
            raise RemoteServiceError(f"punix:{path}: exists and is not a socket")
        # Like OVS, assume a leftover socket belongs to a dead process.
        os.unlink(path)

    def _remove_socket_file(self) -> None:
        path = self.remote.path
        if self.remote.kind == "unix" and self.remote.passive and path:
            try:
                if stat.S_ISSOCK(os.lstat(path).st_mode):
                    os.unlink(path)
            except FileNotFoundError:
                pass

    # ------------------------------------------------------------- active

    def _make_client_endpoint(self, context: Any) -> Any:
        r = self.remote
        if r.kind == "unix":
            return endpoints.UNIXClientEndpoint(self.reactor, r.path)
        assert r.host is not None and r.port is not None
        if r.kind == "tcp":
            if ":" in r.host:
                return endpoints.TCP6ClientEndpoint(self.reactor, r.host, r.port)
            return endpoints.TCP4ClientEndpoint(self.reactor, r.host, r.port)
        return endpoints.SSL4ClientEndpoint(self.reactor, r.host, r.port,
                                            _ContextFactory(context))

    def _run_fsm(self) -> None:
        self._timer = None
        if self._stopping:
            return
        now = self._now()
        action = self._fsm.run(now)
        if action is reconnect.CONNECT:
            self._start_attempt(now)
        elif action is reconnect.DISCONNECT:
            if self._attempt is not None:
                self._attempt.cancel()  # errback path reports the failure
            elif self._active_conn is not None:
                self._close(self._active_conn)
        self._schedule()

    def _schedule(self) -> None:
        if self._stopping:
            return
        self._cancel_timer()
        wait = self._fsm.timeout(self._now())
        if wait is not None:
            self._timer = self.reactor.callLater(wait / 1000.0, self._run_fsm)

    def _start_attempt(self, now: int) -> None:
        self._fsm.connecting(now)
        d = self._client_endpoint.connect(self._factory)
        self._attempt = d
        d.addCallbacks(self._attempt_succeeded, self._attempt_failed)

    def _attempt_succeeded(self, proto: Any) -> None:
        self._attempt = None
        # The endpoint hands back what the factory built: our wrapper.
        wrapper = proto if isinstance(proto, ProtocolWrapper) else None
        if self._stopping:
            if wrapper is not None:
                self._close(wrapper)
            return
        self._active_conn = wrapper
        self._fsm.connected(self._now())
        self._schedule()

    def _attempt_failed(self, failure: Failure) -> None:
        self._attempt = None
        if self._stopping:
            return
        # The FSM logs the failure (rate-limited by its backoff state).
        self._fsm.connect_failed(self._now(), failure.getErrorMessage())
        self._schedule()

    # ------------------------------------------------------------ helpers

    def _connection_lost(self, wrapper: ProtocolWrapper) -> None:
        for d in self._close_waiters.pop(wrapper, []):
            d.callback(None)
        if wrapper is not self._active_conn:
            return
        self._active_conn = None
        if self._stopping:
            return
        now = self._now()
        # Treat a connection that carried data as healthy for its whole life,
        # so the backoff restarts from the minimum (OVS counts each receive).
        if getattr(wrapper.wrappedProtocol, "bytes_received", 0):
            self._fsm.activity(now)
        self._fsm.disconnected(now, "connection closed")
        self._schedule()

    def _close(self, wrapper: ProtocolWrapper) -> defer.Deferred[None]:
        d: defer.Deferred[None] = defer.Deferred()
        if wrapper not in self._factory.protocols:
            d.callback(None)
            return d
        self._close_waiters.setdefault(wrapper, []).append(d)
        wrapper.loseConnection()
        # A TLS peer that never answers close_notify must not hang shutdown.
        abort = self.reactor.callLater(5.0, self._abort, wrapper)
        d.addBoth(lambda r: (abort.cancel() if abort.active() else None, r)[1])
        return d

    @staticmethod
    def _abort(wrapper: ProtocolWrapper) -> None:
        transport = wrapper.transport
        if transport is not None and hasattr(transport, "abortConnection"):
            transport.abortConnection()

    def _cancel_timer(self) -> None:
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None

    def _now(self) -> int:
        clock: IReactorTime = self.reactor
        return int(clock.seconds() * 1000)
