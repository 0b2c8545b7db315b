"""The ``ovs-appctl`` control socket (OVS lib/unixctl.c), plus pidfiles.

Protocol: JSON-RPC (:mod:`ovsdb.jsonrpc`) over a Unix socket.  Each request's
``method`` is a command name and ``params`` a list of strings; the reply's
``result`` is the command's output text, or ``error`` an error text; either
ends with a newline unless empty (OVS ``unixctl_command_reply__()``).  A
connection handles one request at a time, in order.

``ovsdb/tap.py`` and later ``appliance/`` daemons create one
:class:`UnixctlServer`, register their commands on it and run a
:class:`UnixctlService` (a :class:`ovsdb.remotes.RemoteService` on
``punix:``) at :func:`default_path`.  So that ``ovs-appctl -t PROGRAM`` finds
them they also call :func:`write_pidfile` on :func:`pidfile_path`: ovs-appctl
(utilities/ovs-appctl.c) reads ``$OVS_RUNDIR/PROGRAM.pid`` and connects to
``$OVS_RUNDIR/PROGRAM.<pid>.ctl``; its ``read_pidfile()``
(lib/daemon-unix.c) only trusts a pidfile that is fcntl-write-locked by the
process whose pid (``"%ld\\n"``) it contains.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any

from twisted.internet import defer
from twisted.python.failure import Failure

from ovsdb.jsonrpc import JsonRpcProtocol, Message, MessageKind, SessionHandler
from ovsdb.remotes import RemoteService

from . import vlog

__all__ = [
    "UnixctlCallback",
    "UnixctlCommandError",
    "UnixctlConnection",
    "UnixctlServer",
    "UnixctlService",
    "default_path",
    "pidfile_path",
    "read_pidfile",
    "remove_pidfile",
    "write_pidfile",
]

log = vlog.logger("unixctl")


class UnixctlCommandError(Exception):
    """Raise from a command callback to answer with an error text."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


#: ``callback(conn, args) -> str | None | Deferred[str | None]``; ``args``
#: excludes the command name; None means empty output.
UnixctlCallback = Callable[["UnixctlConnection", list[str]], Any]


@dataclass(frozen=True)
class _Command:
    usage: str | None
    min_args: int
    max_args: int
    callback: UnixctlCallback


class UnixctlConnection(SessionHandler):
    """One ovs-appctl client connection; passed to command callbacks.

    ``session`` is the underlying :class:`JsonRpcProtocol`; ``server`` the
    owning :class:`UnixctlServer`.
    """

    def __init__(self, server: UnixctlServer) -> None:
        self.server = server
        self.session: JsonRpcProtocol | None = None
        self._queue: list[Message] = []
        self._busy = False
        self._closed = False

    def connection_made(self, session: JsonRpcProtocol) -> None:
        self.session = session

    def message_received(self, session: JsonRpcProtocol, msg: Message) -> None:
        if msg.kind is not MessageKind.REQUEST:
            # unixctl.c treats anything but a request as a broken client.
            log.warn("{name}: received unexpected {kind} message", name=session.name,
                     kind=str(msg.kind))
            session.close()
            return
        self._queue.append(msg)
        self._next()

    def connection_lost(self, session: JsonRpcProtocol, reason: Failure) -> None:
        self._closed = True
        self._queue.clear()

    def _next(self) -> None:
        if self._busy or not self._queue or self._closed:
            return
        msg = self._queue.pop(0)
        self._busy = True
        d = self.server.execute(self, msg.method or "", msg.params or [])
        d.addBoth(self._answer, msg.id)

    def _answer(self, outcome: tuple[bool, str], msg_id: Any) -> None:
        ok, text = outcome
        self._busy = False
        if self.session is not None and not self._closed:
            if ok:
                self.session.send(Message.reply(text, msg_id))
            else:
                self.session.send(Message.error_reply(text, msg_id))
        self._next()


class UnixctlServer:
    """Command registry and dispatcher for the control socket.

    :param version: text answered to ``version``; OVS daemons print
        ``"PROGRAM (Open vSwitch) X.Y.Z"``.

    Built-in commands: ``list-commands`` and ``version``.  Error texts match
    lib/unixctl.c so scripts parsing them keep working.
    """

    def __init__(self, version: str) -> None:
        self.version = version
        self._commands: dict[str, _Command] = {}
        self.register("list-commands", "", 0, 0, self._list_commands)
        self.register("version", "", 0, 0, lambda _conn, _args: self.version)

    def register(
        self,
        name: str,
        usage: str | None,
        min_args: int,
        max_args: int,
        callback: UnixctlCallback,
    ) -> None:
        """Register command ``name`` taking ``min_args..max_args`` string args.

        ``usage`` is shown by ``list-commands`` (``None`` hides the command).
        ``callback(conn, args)`` returns the output text (or None for none),
        or a Deferred of it, or raises :class:`UnixctlCommandError`.
        Registering the same name again with the same callback is a no-op.

        :raises ValueError: if ``name`` is taken by a different callback or
            the argument bounds are inconsistent.
        """
        if not 0 <= min_args <= max_args:
            raise ValueError(f"{name}: need 0 <= min_args <= max_args")
        existing = self._commands.get(name)
        if existing is not None:
            if existing.callback != callback:
                raise ValueError(f"unixctl command {name!r} is already registered")
            return
        self._commands[name] = _Command(usage, min_args, max_args, callback)

    def commands(self) -> dict[str, str | None]:
        """Mapping of command name to usage (None for hidden commands)."""
        return {name: cmd.usage for name, cmd in self._commands.items()}

    def protocol(self) -> JsonRpcProtocol:
        """Protocol factory for a listener (probes off: it is a Unix socket)."""
        return JsonRpcProtocol(UnixctlConnection(self), probe_interval=0)

    def execute(
        self, conn: UnixctlConnection | None, method: str, params: list[Any]
    ) -> defer.Deferred[tuple[bool, str]]:
        """Run one command; fires with ``(True, output)`` or ``(False, error)``.

        Never fails: callback exceptions become error answers (and are
        logged unless they are :class:`UnixctlCommandError`).  As OVS's
        ``unixctl_command_reply__()``, a non-empty answer, output or error,
        always ends with a newline (one is added if missing), so commands
        need not add their own.
        """
        return self._execute(conn, method, params).addCallback(_end_line)

    def _execute(
        self, conn: UnixctlConnection | None, method: str, params: list[Any]
    ) -> defer.Deferred[tuple[bool, str]]:
        cmd = self._commands.get(method)
        if cmd is None:
            return defer.succeed((False, f'"{method}" is not a valid command (use '
                                         '"list-commands" to see a list of valid commands)'))
        if len(params) < cmd.min_args:
            return defer.succeed(
                (False, f'"{method}" command requires at least {cmd.min_args} arguments'))
        if len(params) > cmd.max_args:
            return defer.succeed(
                (False, f'"{method}" command takes at most {cmd.max_args} arguments'))
        if not all(isinstance(p, str) for p in params):
            return defer.succeed((False, f'"{method}" command has non-string argument'))

        d = defer.maybeDeferred(cmd.callback, conn, list(params))

        def ok(result: Any) -> tuple[bool, str]:
            if result is None:
                return (True, "")
            if not isinstance(result, str):
                log.error("unixctl command {cmd!r} returned {type}, not str",
                          cmd=method, type=type(result).__name__)
                return (False, f'"{method}" command returned a non-text result')
            return (True, result)

        def failed(failure: Failure) -> tuple[bool, str]:
            if failure.check(UnixctlCommandError):
                return (False, failure.value.text)
            log.failure("unixctl command {cmd!r} failed", failure, cmd=method)
            return (False, f'"{method}" command failed: {failure.getErrorMessage()}')

        d.addCallbacks(ok, failed)
        return d

    def _list_commands(self, _conn: Any, _args: list[str]) -> str:
        lines = ["The available commands are:\n"]
        for name in sorted(self._commands):
            usage = self._commands[name].usage
            if usage is not None:
                lines.append(f"  {name:<23} {usage}\n")
        return "".join(lines)


def _end_line(outcome: tuple[bool, str]) -> tuple[bool, str]:
    ok, text = outcome
    return (ok, text + "\n") if text and not text.endswith("\n") else outcome


class UnixctlService(RemoteService):
    """Listen for ovs-appctl on Unix socket ``path`` (stale socket replaced,
    socket removed on stop)."""

    def __init__(self, path: str, server: UnixctlServer, *, reactor: Any = None) -> None:
        super().__init__("punix:" + path, server.protocol, probe_interval=0, reactor=reactor)
        self.server = server
        self.path = path


# -------------------------------------------------------------- file names


def default_path(program: str, rundir: str, pid: int) -> str:
    """Control socket path OVS daemons use: ``<rundir>/<program>.<pid>.ctl``."""
    return os.path.join(rundir, f"{program}.{pid}.ctl")


def pidfile_path(program: str, rundir: str) -> str:
    """Pidfile path ovs-appctl looks for: ``<rundir>/<program>.pid``."""
    return os.path.join(rundir, f"{program}.pid")


# Open files carrying our pidfile locks.  POSIX record locks belong to the
# process and vanish when *any* descriptor of the file is closed, so these
# stay open until remove_pidfile() and nothing else may open the pidfile.
_held_pidfiles: dict[str, IO[str]] = {}


def write_pidfile(path: str) -> None:
    """Create ``path`` holding ``"<pid>\\n"`` and keep it write-locked.

    Mirrors make_pidfile() in lib/daemon-unix.c: write a locked temporary
    file and rename it into place, so readers never see a partial file.

    :raises OSError: if the file cannot be created, or
        ``BlockingIOError`` if another process holds the lock.
    """
    path = os.path.abspath(path)
    if path in _held_pidfiles:
        return
    tmp = f"{path}.tmp{os.getpid()}"
    f = open(tmp, "w")  # noqa: SIM115 - must outlive this function
    try:
        fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        f.write(f"{os.getpid()}\n")
        f.flush()
        os.rename(tmp, path)
    except BaseException:
        f.close()
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _held_pidfiles[path] = f


def remove_pidfile(path: str) -> None:
    """Delete a pidfile made by :func:`write_pidfile` and drop its lock."""
    path = os.path.abspath(path)
    f = _held_pidfiles.pop(path, None)
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    if f is not None:
        f.close()


def read_pidfile(path: str) -> int:
    """Return the pid of the live process owning pidfile ``path``.

    Same rules as OVS read_pidfile(): the file must be write-locked by the
    process whose pid it contains.

    :raises OSError: if the file cannot be read; ``ProcessLookupError`` if
        it is stale (unlocked, or locked by some other process).
    """
    path = os.path.abspath(path)
    held = _held_pidfiles.get(path)
    if held is not None:
        # Opening our own locked file and closing it would drop the lock.
        return os.getpid()
    import struct

    with open(path, "r+") as f:
        # struct flock for F_GETLK: l_type, l_whence, l_start, l_len, l_pid.
        probe = struct.pack("hhqqi", fcntl.F_WRLCK, os.SEEK_SET, 0, 0, 0)
        got = fcntl.fcntl(f, fcntl.F_GETLK, probe + b"\0" * 16)
        l_type, _, _, _, l_pid = struct.unpack("hhqqi", got[: struct.calcsize("hhqqi")])
        text = f.readline()
    if l_type == fcntl.F_UNLCK:
        raise ProcessLookupError(f"{path}: pidfile is stale (not locked)")
    try:
        pid = int(text.strip())
    except ValueError:
        raise ProcessLookupError(f"{path}: pidfile does not contain a pid") from None
    if pid != l_pid:
        raise ProcessLookupError(f"{path}: stale pidfile for pid {pid} (locked by {l_pid})")
    return pid
