"""Sans-I/O connect/reconnect/inactivity-probe state machine.

This is the timing brain shared by every long-lived connection in the
appliance: :mod:`ovsdb.jsonrpc` uses it (passive mode) to decide when to send
an inactivity "echo" probe and when to give up on a silent peer, and
:mod:`ovsdb.remotes` uses it (active mode) to pace reconnection attempts with
exponential backoff.  The OpenFlow controller connections in ``ofproto/`` are
meant to reuse it unchanged.

The model follows Open vSwitch's ``lib/reconnect.c`` /
``python/ovs/reconnect.py``: the FSM performs no I/O and reads no clock.  Every
method takes ``now`` (milliseconds, any monotonic origin) and the caller asks
:meth:`Reconnect.run` what to do and :meth:`Reconnect.timeout` when to ask
again.

States (``State``):

* ``VOID`` - disabled; ``run`` never asks for anything.
* ``LISTENING`` - passive, waiting for a peer; no deadline.
* ``BACKOFF`` - waiting ``backoff`` ms before the next attempt; then CONNECT.
* ``CONNECT_IN_PROGRESS`` - attempt underway; DISCONNECT if it takes longer
  than ``max(1000, backoff)`` ms.
* ``ACTIVE`` - connected and recently heard from; PROBE once
  ``probe_interval`` ms pass without activity (moving to ``IDLE``).
* ``IDLE`` - probe sent; DISCONNECT if another ``probe_interval`` ms pass
  without activity.
* ``RECONNECT`` - a forced reconnect was requested; DISCONNECT immediately.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import Any

from . import vlog

__all__ = [
    "Action",
    "CONNECT",
    "DISCONNECT",
    "PROBE",
    "Reconnect",
    "State",
    "DEFAULT_MIN_BACKOFF",
    "DEFAULT_MAX_BACKOFF",
    "DEFAULT_PROBE_INTERVAL",
]

log = vlog.logger("reconnect")

#: Default lower bound of the backoff between attempts, in ms (OVS default).
DEFAULT_MIN_BACKOFF = 1000
#: Default upper bound of the backoff between attempts, in ms (OVS default).
DEFAULT_MAX_BACKOFF = 8000
#: Default inactivity probe interval, in ms (OVS default).
DEFAULT_PROBE_INTERVAL = 5000
#: OVS never probes or times out a connection attempt faster than this (ms).
_MIN_INTERVAL = 1000


class Action(enum.Enum):
    """What :meth:`Reconnect.run` asks the caller to do."""

    CONNECT = "connect"
    DISCONNECT = "disconnect"
    PROBE = "probe"


CONNECT = Action.CONNECT
DISCONNECT = Action.DISCONNECT
PROBE = Action.PROBE


class State(enum.Enum):
    """FSM states; the value is the name OVS prints in logs and stats."""

    VOID = "VOID"
    LISTENING = "LISTENING"
    BACKOFF = "BACKOFF"
    CONNECT_IN_PROGRESS = "CONNECTING"
    ACTIVE = "ACTIVE"
    IDLE = "IDLE"
    RECONNECT = "RECONNECT"

    @property
    def is_connected(self) -> bool:
        return self in (State.ACTIVE, State.IDLE)


class Reconnect:
    """Connection lifecycle FSM with exponential backoff and keepalive probes.

    All times are integers in milliseconds supplied by the caller.  A new FSM
    starts in ``VOID`` (disabled); call :meth:`enable` for an active client,
    or :meth:`connected` directly for an already-accepted connection that only
    needs probing.

    :param now: current time, ms.
    :param name: used only in log messages (e.g. the remote's address).
    :param min_backoff: first backoff after a failure, ms (forced >= 1000).
    :param max_backoff: cap of the doubling backoff, ms (forced >= min).
    :param probe_interval: idle time before a probe, ms; 0 disables probing;
        non-zero values are raised to at least 1000 like OVS does.
    :param passive: True for a listener (backoff resets to 0 after a
        connection that was established at all).
    :param max_tries: ``None`` for unlimited attempts, else the number of
        attempts after which the FSM disables itself instead of backing off.
    """

    def __init__(
        self,
        now: int,
        *,
        name: str = "void",
        min_backoff: int = DEFAULT_MIN_BACKOFF,
        max_backoff: int = DEFAULT_MAX_BACKOFF,
        probe_interval: int = DEFAULT_PROBE_INTERVAL,
        passive: bool = False,
        max_tries: int | None = None,
    ) -> None:
        self.name = name
        self.min_backoff = DEFAULT_MIN_BACKOFF
        self.max_backoff = DEFAULT_MAX_BACKOFF
        self.set_backoff(min_backoff, max_backoff)
        self.probe_interval = 0
        self.set_probe_interval(probe_interval)
        self.passive = passive
        self.max_tries = max_tries

        self.state = State.VOID
        self.state_entered = now
        self.backoff = 0
        self.last_activity = now
        self.last_connected: int | None = None
        self.last_disconnected: int | None = None
        # None disables the "did we actually try to read?" guard below.
        self.last_receive_attempt: int | None = now
        self.creation_time = now
        self.n_attempted_connections = 0
        self.n_successful_connections = 0
        self.total_connected_duration = 0
        #: Incremented whenever the connected/disconnected status flips.
        self.seqno = 0

    # ----------------------------------------------------------- settings

    def set_backoff(self, min_backoff: int, max_backoff: int) -> None:
        """Set backoff bounds in ms; min is raised to 1000, max to min."""
        self.min_backoff = max(min_backoff, _MIN_INTERVAL)
        self.max_backoff = max(max_backoff, _MIN_INTERVAL) if max_backoff else DEFAULT_MAX_BACKOFF
        if self.min_backoff > self.max_backoff:
            self.max_backoff = self.min_backoff
        if getattr(self, "state", None) is State.BACKOFF and self.backoff > self.max_backoff:
            self.backoff = self.max_backoff

    def set_probe_interval(self, probe_interval: int) -> None:
        """Set the inactivity probe interval in ms (0 = never probe)."""
        self.probe_interval = max(_MIN_INTERVAL, probe_interval) if probe_interval else 0

    def set_passive(self, passive: bool, now: int) -> None:
        """Switch between active (connecting) and passive (listening) mode."""
        if self.passive == passive:
            return
        self.passive = passive
        restart = (
            passive and self.state in (State.CONNECT_IN_PROGRESS, State.RECONNECT)
        ) or (not passive and self.state is State.LISTENING and self._may_retry())
        if restart:
            self._transition(now, State.BACKOFF)
            self.backoff = 0

    # ---------------------------------------------------------- lifecycle

    def is_enabled(self) -> bool:
        return self.state is not State.VOID

    def is_connected(self) -> bool:
        """True between :meth:`connected` and the next disconnect/disable."""
        return self.state.is_connected

    def enable(self, now: int) -> None:
        """Start the FSM so that the next :meth:`run` returns CONNECT."""
        if self.state is State.VOID and self._may_retry():
            self._transition(now, State.BACKOFF)
            self.backoff = 0

    def disable(self, now: int) -> None:
        """Stop the FSM; :meth:`run` returns None until re-enabled."""
        if self.state is not State.VOID:
            self._transition(now, State.VOID)

    def force_reconnect(self, now: int) -> None:
        """Make the next :meth:`run` return DISCONNECT (then back off)."""
        if self.state in (State.CONNECT_IN_PROGRESS, State.ACTIVE, State.IDLE):
            self._transition(now, State.RECONNECT)

    def connecting(self, now: int) -> None:
        """Report that a connect (or listen) attempt has started."""
        if self.state is not State.CONNECT_IN_PROGRESS:
            log.debug("{name}: {what}...", name=self.name,
                      what="listening" if self.passive else "connecting")
            self._transition(now, State.CONNECT_IN_PROGRESS)

    def listening(self, now: int) -> None:
        """Report that a passive endpoint is now listening."""
        if self.state is not State.LISTENING:
            log.debug("{name}: listening...", name=self.name)
            self._transition(now, State.LISTENING)

    def listen_error(self, now: int, error: str | None = None) -> None:
        """Report that accepting failed; backs off only while listening."""
        if self.state is State.LISTENING:
            self.disconnected(now, error)

    def connected(self, now: int) -> None:
        """Report a successful connection; starts the probe timer."""
        if not self.state.is_connected:
            self.connecting(now)
            log.debug("{name}: connected", name=self.name)
            self._transition(now, State.ACTIVE)
            self.last_connected = now

    def connect_failed(self, now: int, error: str | None = None) -> None:
        """Report that a connection attempt failed; backs off."""
        self.connecting(now)
        self.disconnected(now, error)

    def disconnected(self, now: int, error: str | None = None) -> None:
        """Report that the connection (or attempt) ended.

        ``error`` is a human-readable reason used only for logging.  The FSM
        then backs off: a connection that stayed up at least as long as the
        current backoff resets it to ``min_backoff`` (0 when passive);
        otherwise the backoff doubles up to ``max_backoff``.
        """
        if self.state in (State.BACKOFF, State.VOID):
            return
        was_connected = self.state.is_connected
        if was_connected:
            log.info("{name}: connection dropped ({error})", name=self.name,
                     error=error or "no error")
            self.last_disconnected = now
        elif self.state is State.CONNECT_IN_PROGRESS and self.backoff < self.max_backoff:
            log.info("{name}: {kind} attempt failed ({error})", name=self.name,
                     kind="listen" if self.passive else "connection",
                     error=error or "timed out")

        if not self._may_retry():
            self._transition(now, State.VOID)
            return

        if was_connected and (
            self.passive or self.last_activity - (self.last_connected or 0) >= self.backoff
        ):
            # The connection was good for a while, so the next failure
            # should not inherit a long backoff from older trouble.
            self.backoff = 0 if self.passive else self.min_backoff
        elif self.backoff < self.min_backoff:
            self.backoff = self.min_backoff
        elif self.backoff < self.max_backoff / 2:
            self.backoff *= 2
            log.info("{name}: waiting {secs:.3g} seconds before reconnect",
                     name=self.name, secs=self.backoff / 1000.0)
        else:
            self.backoff = self.max_backoff
        self._transition(now, State.BACKOFF)

    def activity(self, now: int) -> None:
        """Report that the peer was heard from; resets the probe timer."""
        if self.state is not State.ACTIVE:
            self._transition(now, State.ACTIVE)
        self.last_activity = now

    def receive_attempted(self, now: int | None) -> None:
        """Record that the caller tried to read at ``now``.

        A probe or disconnect deadline only fires if a read attempt happened
        after it passed; this keeps a stalled event loop from blaming the
        peer for data that is already waiting in the socket.  Pass ``None``
        to switch this guard off.
        """
        self.last_receive_attempt = now

    def received(self, now: int) -> None:
        """Shorthand for "a read happened and returned data" at ``now``."""
        self.receive_attempted(now)
        self.activity(now)

    # ------------------------------------------------------------- timing

    def _deadline(self, now: int) -> int | None:
        st = self.state
        if st in (State.VOID, State.LISTENING):
            return None
        if st is State.BACKOFF:
            return self.state_entered + self.backoff
        if st is State.CONNECT_IN_PROGRESS:
            return self.state_entered + max(_MIN_INTERVAL, self.backoff)
        if st is State.RECONNECT:
            return self.state_entered
        # ACTIVE / IDLE
        if not self.probe_interval:
            return None
        if st is State.ACTIVE:
            base = max(self.last_activity, self.state_entered)
        else:
            base = self.state_entered
        expiry = base + self.probe_interval
        attempt = self.last_receive_attempt
        if now < expiry or attempt is None or attempt >= expiry:
            return expiry
        # Expired, but nobody has tried to read since: look again shortly.
        return now + 1

    def run(self, now: int) -> Action | None:
        """Return the action the caller should take now, or None.

        * CONNECT: start an attempt (call :meth:`connecting`, then
          :meth:`connected` or :meth:`connect_failed`); for a passive FSM,
          start listening.
        * DISCONNECT: abort the connection/attempt, then call
          :meth:`disconnected` (or :meth:`connect_failed`).
        * PROBE: send something that elicits a reply (an "echo" request).
        """
        deadline = self._deadline(now)
        if deadline is None or now < deadline:
            return None
        st = self.state
        if st is State.BACKOFF:
            return CONNECT
        if st is State.ACTIVE:
            log.debug("{name}: idle {ms} ms, sending inactivity probe", name=self.name,
                      ms=now - max(self.last_activity, self.state_entered))
            self._transition(now, State.IDLE)
            return PROBE
        if st is State.IDLE:
            log.error("{name}: no response to inactivity probe after {secs:.3g} seconds, "
                      "disconnecting", name=self.name, secs=(now - self.state_entered) / 1000.0)
            return DISCONNECT
        return DISCONNECT  # CONNECT_IN_PROGRESS timed out, or RECONNECT

    def timeout(self, now: int) -> int | None:
        """Milliseconds until :meth:`run` should be called again, or None."""
        deadline = self._deadline(now)
        if deadline is None:
            return None
        return max(0, deadline - now)

    # -------------------------------------------------------------- stats

    def last_connect_elapsed(self, now: int) -> int | None:
        """Ms since the last successful connection, None if never."""
        return None if self.last_connected is None else now - self.last_connected

    def last_disconnect_elapsed(self, now: int) -> int | None:
        """Ms since the last disconnection, None if never."""
        return None if self.last_disconnected is None else now - self.last_disconnected

    def _may_retry(self) -> bool:
        if self.max_tries is None:
            return True
        if self.max_tries > 0:
            self.max_tries -= 1
            return True
        return False

    def _transition(self, now: int, state: State) -> None:
        if self.state is State.CONNECT_IN_PROGRESS:
            self.n_attempted_connections += 1
            if state is State.ACTIVE:
                self.n_successful_connections += 1
        if self.state.is_connected != state.is_connected:
            if self.state.is_connected and self.last_connected is not None:
                self.total_connected_duration += now - self.last_connected
            self.seqno += 1
        log.debug("{name}: entering {state}", name=self.name, state=state.value)
        self.state = state
        self.state_entered = now


class InactivityProbe:
    """Runs a passive :class:`Reconnect`'s inactivity probing for one live connection.

    After ``probe_interval`` ms without :meth:`activity`, ``send_probe()`` is called
    (an echo request); after as long again, ``disconnect()``. Time comes from
    ``clock`` (an IReactorTime: the reactor, or ``task.Clock`` in tests). Shared by the
    JSON-RPC sessions (:mod:`ovsdb.jsonrpc`) and the OpenFlow channels (:mod:`ofproto`).
    """

    def __init__(self, clock: Any, probe_interval: int, send_probe: Callable[[], None],
                 disconnect: Callable[[], None], name: str = "unconnected") -> None:
        self.clock = clock
        self.send_probe = send_probe
        self.disconnect = disconnect
        self.fsm = Reconnect(self.now(), name=name, passive=True,
                             probe_interval=probe_interval)
        # The reactor reads whenever bytes are waiting, so the FSM's guard against a
        # poll loop that has not read yet does not apply.
        self.fsm.receive_attempted(None)
        self.n_probes_sent = 0
        self._timer: Any = None
        self._running = False

    def now(self) -> int:
        return int(self.clock.seconds() * 1000)

    @property
    def probe_interval(self) -> int:
        return self.fsm.probe_interval

    def set_probe_interval(self, ms: int) -> None:
        """Changes the interval (ms, 0 disables probing)."""
        self.fsm.set_probe_interval(ms)
        self._reschedule()

    def connected(self, name: str) -> None:
        """The connection is up: start watching it."""
        self.fsm.name = name
        self.fsm.connected(self.now())
        self._running = True
        self._reschedule()

    def activity(self) -> None:
        """Bytes arrived: the peer is alive."""
        self.fsm.activity(self.now())
        # A pending timer stays as it is (this runs for every chunk of input): when it
        # fires, the FSM sees the activity and the timer is set again from it.
        if self._timer is None and self.fsm.probe_interval:
            self._reschedule()

    def stop(self) -> None:
        """The connection is gone: no more timers."""
        self._running = False
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None

    def _reschedule(self) -> None:
        if not self._running:
            return
        wait = self.fsm.timeout(self.now())
        if wait is None:
            if self._timer is not None and self._timer.active():
                self._timer.cancel()
            self._timer = None
        elif self._timer is not None and self._timer.active():
            self._timer.reset(wait / 1000.0)
        else:
            self._timer = self.clock.callLater(wait / 1000.0, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        if not self._running:
            return
        now = self.now()
        action = self.fsm.run(now)
        if action is PROBE:
            self.n_probes_sent += 1
            self.send_probe()
        elif action is DISCONNECT:
            # The FSM has already logged why.
            self.fsm.disconnected(now, "inactivity probe")
            self._running = False
            self.disconnect()
            return
        self._reschedule()
