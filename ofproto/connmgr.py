"""The connection manager of one bridge: its OpenFlow channels and their roles.

Owns the bridge's management socket ``punix:<rundir>/<bridge>.mgmt`` (what ovs-ofctl
talks to by default), passive listeners (``ptcp:``, ``pssl:``, ``punix:``) and active
controller connections (``tcp:``, ``ssl:``, ``unix:``, reconnecting with backoff through
:class:`ovsdb.remotes.RemoteService`). Each channel is an
:class:`~ofproto.connection.OFConnection`; this module applies what OpenFlow says about
several controllers (OpenFlow 1.3.5 section 6.3.6): roles with generation ids, which
asynchronous messages each role receives (SET_ASYNC, A.3.10), and that a slave may not
change the switch. Everything else goes to the switch (:class:`SwitchHandler`).

Whether a controller is connected decides the fail mode's behaviour (standalone: fall
back to NORMAL; secure: keep the flow table), which the switch asks through
:attr:`ConnectionManager.controller_connected`; :meth:`ConnectionManager.fail_open_due`
says when a standalone bridge should fail open: once no controller has been connected
for three inactivity-probe intervals (OVS ofproto/fail-open.c: one to send a probe, one
for its answer, one to reconnect).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from twisted.python.failure import Failure

from ovsdb import vlog
from ovsdb.remotes import RemoteService, SslOptions, parse_remote

from .connection import SUPPORTED_VERSIONS, OFConnection
from .ofp import consts
from .ofp.consts import OFPBadRequestCode as BRC
from .ofp.consts import OFPControllerRole as Role
from .ofp.consts import OFPErrorType as ET
from .ofp.consts import OFPRoleRequestFailedCode as RRFC
from .ofp.messages import (
    GetAsyncReply,
    GetAsyncRequest,
    Message,
    RoleReply,
    RoleRequest,
    SetAsync,
)

log = vlog.logger("ofproto.connmgr")

OPENFLOW_PORT = 6653

# Default asynchronous-message masks (OpenFlow 1.3.5 A.3.10), [master/equal, slave].
_ALL_PACKET_IN = (1 << consts.OFPPacketInReason.OFPR_NO_MATCH
                  | 1 << consts.OFPPacketInReason.OFPR_ACTION)
_ALL_PORT_STATUS = 0b111
_ALL_FLOW_REMOVED = 0b1111
DEFAULT_ASYNC = {
    "packet_in": (_ALL_PACKET_IN, 0),
    "port_status": (_ALL_PORT_STATUS, _ALL_PORT_STATUS),
    "flow_removed": (_ALL_FLOW_REMOVED, 0),
}

# Messages a slave may not send (OpenFlow 1.3.5 6.3.6): they change the switch.
_STATE_CHANGING = {
    consts.OFPType.OFPT_FLOW_MOD, consts.OFPType.OFPT_GROUP_MOD,
    consts.OFPType.OFPT_PORT_MOD, consts.OFPType.OFPT_TABLE_MOD,
    consts.OFPType.OFPT_METER_MOD, consts.OFPType.OFPT_PACKET_OUT,
}


class SwitchHandler(Protocol):
    """What the connection manager needs from the switch (ofproto)."""

    def handle_message(self, conn: OFConnection, msg: Message, raw: bytes) -> None:
        """Executes a request (replies through ``conn.send``). May raise
        OFPDecodeError, which becomes an OFPT_ERROR reply."""

    def channel_up(self, conn: OFConnection) -> None:
        """A channel finished version negotiation."""

    def take_raw(self, conn: OFConnection, raw: bytes) -> bool:
        """Acts on a message in wire form without decoding it (flow adds, barriers);
        whether it did (``ofproto.connection.ChannelHandler.take_raw``)."""

    def commit_deferred(self) -> bool:
        """Completes the work requests left for after their replies (staged flow
        adds); whether there was any."""

    def controller_status_changed(self) -> None:
        """A controller connected or went away (the fail mode may now apply)."""


@dataclass
class ChannelState:
    """Per-channel OpenFlow state: role, async masks, and whether it is a controller
    (from the Controller table) or a management client."""

    role: int = Role.OFPCR_ROLE_EQUAL
    async_masks: dict[str, tuple[int, int]] = field(default_factory=lambda: dict(DEFAULT_ASYNC))
    is_controller: bool = False
    #: The Controller target or listener this channel came from.
    target: str = ""


class ConnectionManager:
    """The OpenFlow channels of bridge ``bridge``.

    :param switch: the bridge's :class:`SwitchHandler`.
    :param rundir: where ``<bridge>.mgmt`` is created.
    :param versions: OpenFlow versions offered (the Bridge's ``protocols``).
    :param clock: seconds, for the fail-open delay (default: time.monotonic).
    """

    def __init__(self, bridge: str, switch: SwitchHandler, rundir: str,
                 versions: Iterable[int] = SUPPORTED_VERSIONS,
                 ssl: SslOptions | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.bridge = bridge
        self.switch = switch
        self.rundir = rundir
        self.versions = frozenset(versions)
        self.ssl = ssl
        self.channels: dict[OFConnection, ChannelState] = {}
        self.generation_id: int | None = None
        self._services: dict[str, RemoteService] = {}
        self._controller_targets: set[str] = set()
        self._clock = clock
        self._probe_interval = 0          # ms, as given to set_controllers
        # Since when no controller has been connected (while some are configured).
        self._disconnected_since = clock()

    # -- lifecycle --

    @property
    def mgmt_path(self) -> str:
        return os.path.join(self.rundir, f"{self.bridge}.mgmt")

    def start(self) -> None:
        """Listens on the management socket. Raises RemoteServiceError if it can't."""
        self._start(f"punix:{self.mgmt_path}", controller=False)

    def stop(self) -> Any:
        """Closes every listener and connection; returns a Deferred."""
        from twisted.internet import defer

        services, self._services = self._services, {}
        return defer.gatherResults([defer.maybeDeferred(s.stopService)
                                    for s in services.values()])

    def set_controllers(self, targets: Iterable[str], probe_interval: int = 5000) -> None:
        """Makes the controller connections exactly ``targets`` (OVS's Controller
        table ``target`` syntax; the OpenFlow port 6653 is the default). Raises
        ValueError for a malformed target, before changing anything."""
        wanted = []
        for t in targets:
            wanted.append(_with_default_port(t))
        for t in wanted:
            parse_remote(t)
        if wanted and not self._controller_targets:
            self._disconnected_since = self._clock()
        self._probe_interval = probe_interval
        for t in list(self._controller_targets):
            if t not in wanted:
                self._controller_targets.discard(t)
                svc = self._services.pop(t, None)
                if svc is not None:
                    svc.stopService()
        for t in wanted:
            if t not in self._controller_targets:
                self._controller_targets.add(t)
                self._start(t, controller=True, probe_interval=probe_interval)

    def _start(self, target: str, controller: bool, probe_interval: int = 0) -> None:
        def protocol() -> OFConnection:
            conn = OFConnection(self, self.versions,
                                probe_interval=probe_interval if controller else 0)
            self.channels[conn] = ChannelState(is_controller=controller, target=target)
            return conn

        svc = RemoteService(target, protocol, ssl=self.ssl)
        svc.startService()
        self._services[target] = svc

    # -- queries --

    @property
    def has_controllers(self) -> bool:
        """Whether any controller is configured (connected or not)."""
        return bool(self._controller_targets)

    @property
    def controller_connected(self) -> bool:
        """Whether any controller (not a management client) has a live channel."""
        return any(st.is_controller and conn.version is not None
                   for conn, st in self.channels.items())

    def fail_open_due(self) -> bool:
        """Whether a standalone bridge should be in fail-open now: controllers are
        configured, none is connected, and none has been for three times the probe
        interval (at least 5 s each, as OVS's rconn; 0 disables probes, and then
        fail-open is immediate)."""
        if not self._controller_targets or self.controller_connected:
            return False
        probe_s = max(5.0, self._probe_interval / 1000) if self._probe_interval else 0.0
        return self._clock() - self._disconnected_since >= 3 * probe_s

    def controller_status(self, target: str) -> tuple[bool, int | None]:
        """(connected, role) of the controller ``target`` as given to
        :meth:`set_controllers`: connected if one of its channels finished HELLO; role
        is that channel's OFPCR_ROLE_* (None when not connected)."""
        target = _with_default_port(target)
        for conn, st in self.channels.items():
            if st.target == target and conn.version is not None:
                return True, st.role
        return False, None

    def role_of(self, conn: OFConnection) -> int:
        return self.channels[conn].role

    # -- ChannelHandler --

    def channel_up(self, conn: OFConnection) -> None:
        self.switch.channel_up(conn)
        state = self.channels.get(conn)
        if state is not None and state.is_controller:
            self.switch.controller_status_changed()

    def channel_down(self, conn: OFConnection, reason: Failure) -> None:
        state = self.channels.pop(conn, None)
        if state is not None and state.is_controller and conn.version is not None:
            if not self.controller_connected:
                self._disconnected_since = self._clock()
            self.switch.controller_status_changed()

    def commit_deferred(self) -> bool:
        return self.switch.commit_deferred()

    def take_raw(self, conn: OFConnection, raw: bytes) -> bool:
        if raw[1] in _STATE_CHANGING:
            state = self.channels.get(conn)
            if state is not None and state.role == Role.OFPCR_ROLE_SLAVE:
                return False   # message_received answers OFPBRC_IS_SLAVE
        return self.switch.take_raw(conn, raw)

    def message_received(self, conn: OFConnection, msg: Message, raw: bytes) -> None:
        state = self.channels.get(conn)
        if state is None:   # created once: this runs for every message
            state = self.channels[conn] = ChannelState()
        if isinstance(msg, RoleRequest) and not isinstance(msg, RoleReply):
            self._role_request(conn, state, msg, raw)
        elif isinstance(msg, GetAsyncRequest):
            masks = state.async_masks
            conn.send(GetAsyncReply(xid=msg.xid, packet_in_mask=masks["packet_in"],
                                    port_status_mask=masks["port_status"],
                                    flow_removed_mask=masks["flow_removed"]))
        elif isinstance(msg, SetAsync):
            state.async_masks = {"packet_in": tuple(msg.packet_in_mask),
                                 "port_status": tuple(msg.port_status_mask),
                                 "flow_removed": tuple(msg.flow_removed_mask)}
        elif state.role == Role.OFPCR_ROLE_SLAVE and raw[1] in _STATE_CHANGING:
            conn.send_error(raw, ET.OFPET_BAD_REQUEST, BRC.OFPBRC_IS_SLAVE)
        else:
            self.switch.handle_message(conn, msg, raw)

    def _role_request(self, conn: OFConnection, state: ChannelState, msg: RoleRequest,
                      raw: bytes) -> None:
        role = msg.role
        if role not in (Role.OFPCR_ROLE_NOCHANGE, Role.OFPCR_ROLE_EQUAL,
                        Role.OFPCR_ROLE_MASTER, Role.OFPCR_ROLE_SLAVE):
            conn.send_error(raw, ET.OFPET_ROLE_REQUEST_FAILED, RRFC.OFPRRFC_BAD_ROLE)
            return
        if role in (Role.OFPCR_ROLE_MASTER, Role.OFPCR_ROLE_SLAVE):
            # Generation ids compare as a wrapping 64-bit sequence (6.3.6).
            gen = msg.generation_id
            if self.generation_id is not None and \
                    (gen - self.generation_id) % (1 << 64) >= 1 << 63:
                conn.send_error(raw, ET.OFPET_ROLE_REQUEST_FAILED, RRFC.OFPRRFC_STALE)
                return
            self.generation_id = gen
        if role == Role.OFPCR_ROLE_MASTER:
            for other, st in self.channels.items():
                if other is not conn and st.role == Role.OFPCR_ROLE_MASTER:
                    st.role = Role.OFPCR_ROLE_SLAVE
        if role != Role.OFPCR_ROLE_NOCHANGE:
            state.role = role
        conn.send(RoleReply(xid=msg.xid, role=state.role,
                            generation_id=self.generation_id or 0))

    # -- asynchronous messages --

    def send_async(self, kind: str, reason: int, msg_factory: Any) -> None:
        """Sends an asynchronous message (``kind``: packet_in, port_status or
        flow_removed) to every channel whose role and async masks want ``reason``.
        ``msg_factory(conn)`` builds the message in that channel's version."""
        for conn, st in list(self.channels.items()):
            if conn.version is None:
                continue
            slave = st.role == Role.OFPCR_ROLE_SLAVE
            if kind == "packet_in" and not st.is_controller:
                continue   # management clients (ovs-ofctl) get no packet-ins
            if st.async_masks[kind][1 if slave else 0] >> reason & 1:
                conn.send(msg_factory(conn))


def _with_default_port(target: str) -> str:
    """``tcp:IP`` / ``ssl:IP`` / ``ptcp:`` without a port get OpenFlow's 6653."""
    kind, _, rest = target.partition(":")
    if kind in ("tcp", "ssl"):
        host = rest
        if host.startswith("["):
            if "]:" not in host:
                return f"{target}:{OPENFLOW_PORT}"
        elif ":" not in host:
            return f"{target}:{OPENFLOW_PORT}"
    if kind in ("ptcp", "pssl") and (not rest or rest.startswith(":")):
        return f"{kind}:{OPENFLOW_PORT}{rest}"
    return target
