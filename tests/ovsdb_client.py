"""A tiny raw JSON-RPC (RFC 7047) client for black-box tests of an OVSDB server.

Shared by the tests and by ``bench/ovsdb_bench.py``; it imports nothing from ``ovsdb/``.
OVSDB peers send JSON values back to back with no delimiter, so :class:`JsonFramer`
splits a byte stream into complete top-level values by tracking nesting and strings.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import json
import socket
import time


class JsonFramer:
    """Incrementally splits a byte stream into complete top-level JSON values."""

    def __init__(self):
        self._buf = bytearray()
        self._pos = 0  # scan position inside _buf
        self._depth = 0
        self._in_str = False
        self._esc = False
        self._start = None  # start of the current value, None between values

    def feed(self, data: bytes) -> list:
        """Add ``data``; return the list of values it completed (may be empty).

        Raises ``ValueError`` on bytes that cannot be JSON (a peer sending garbage).
        """
        self._buf += data
        out = []
        buf = self._buf
        i = self._pos
        n = len(buf)
        while i < n:
            c = buf[i]
            if self._start is None:
                if c in b" \t\r\n":
                    i += 1
                    continue
                if c not in b"{[":
                    raise ValueError(f"unexpected byte {chr(c)!r} outside a JSON value")
                self._start = i
                self._depth = 0
            if self._in_str:
                if self._esc:
                    self._esc = False
                elif c == 0x5C:  # backslash
                    self._esc = True
                elif c == 0x22:
                    self._in_str = False
            elif c == 0x22:
                self._in_str = True
            elif c in b"{[":
                self._depth += 1
            elif c in b"}]":
                self._depth -= 1
                if self._depth == 0:
                    out.append(json.loads(bytes(buf[self._start:i + 1]).decode()))
                    self._start = None
            i += 1
        if self._start is None:
            del buf[:i]
            self._pos = 0
        else:
            del buf[:self._start]
            self._pos = i - self._start
            self._start = 0
        return out


class RpcError(Exception):
    """A JSON-RPC reply whose ``error`` member is not null."""

    def __init__(self, error, reply):
        super().__init__(error)
        self.error = error
        self.reply = reply


class Client:
    """Blocking JSON-RPC client over ``unix:PATH`` (or a bare path) or ``tcp:IP:PORT``.

    Replies are matched by id; notifications and server requests are queued in
    ``self.notifications`` (``echo`` requests from the server are answered at once).
    """

    _ids = itertools.count(1)

    def __init__(self, remote: str, timeout: float = 10.0):
        self.path = remote[5:] if remote.startswith("unix:") else remote
        self.timeout = timeout
        if remote.startswith("tcp:"):
            host, _, port = remote[4:].rpartition(":")
            self.sock = socket.create_connection((host.strip("[]"), int(port)), timeout)
        else:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.settimeout(timeout)
            self.sock.connect(self.path)
        self.framer = JsonFramer()
        self.notifications: collections.deque = collections.deque()
        self.replies: dict = {}
        self.closed = False

    # -- low level -------------------------------------------------------------
    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send(self, obj) -> None:
        self.sock.sendall(json.dumps(obj).encode())

    def send_request(self, method: str, params, id=None):
        """Send a request without waiting; return its id."""
        if id is None:
            id = next(self._ids)
        self.send({"method": method, "params": params, "id": id})
        return id

    def notify(self, method: str, params) -> None:
        self.send({"method": method, "params": params, "id": None})

    def _read_some(self, deadline: float) -> None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"no message from {self.path} in time")
        self.sock.settimeout(remaining)
        try:
            data = self.sock.recv(1 << 16)
        except TimeoutError:
            raise TimeoutError(f"no message from {self.path} in time") from None
        if not data:
            self.closed = True
            raise ConnectionError("connection closed by server")
        for msg in self.framer.feed(data):
            self._dispatch(msg)

    def _dispatch(self, msg) -> None:
        if "method" in msg and msg.get("method") == "echo" and msg.get("id") is not None:
            self.send({"result": msg["params"], "error": None, "id": msg["id"]})
            return
        if "method" in msg:
            self.notifications.append(msg)
        else:
            self.replies[json.dumps(msg.get("id"))] = msg

    # -- high level ------------------------------------------------------------
    def wait_reply(self, id, timeout: float | None = None) -> dict:
        """Return the full reply message (``result``/``error``/``id``) for ``id``."""
        key = json.dumps(id)
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while key not in self.replies:
            self._read_some(deadline)
        return self.replies.pop(key)

    def call(self, method: str, params, timeout: float | None = None) -> dict:
        """Send a request and return its full reply message."""
        return self.wait_reply(self.send_request(method, params), timeout)

    def request(self, method: str, params, timeout: float | None = None):
        """Send a request and return its ``result``; raise :class:`RpcError` on error."""
        reply = self.call(method, params, timeout)
        if reply.get("error") is not None:
            raise RpcError(reply["error"], reply)
        return reply["result"]

    def transact(self, db: str, *ops, timeout: float | None = None) -> list:
        return self.request("transact", [db, *ops], timeout)

    def next_notification(self, method: str | None = None, timeout: float | None = None):
        """Pop the next queued notification (of ``method`` if given), reading as needed."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            for i, msg in enumerate(self.notifications):
                if method is None or msg["method"] == method:
                    del self.notifications[i]
                    return msg
            self._read_some(deadline)

    def pump(self, duration: float) -> None:
        """Read and queue whatever arrives during ``duration`` seconds."""
        deadline = time.monotonic() + duration
        try:
            while True:
                self._read_some(deadline)
        except TimeoutError:
            pass

    def is_closed_by_server(self, timeout: float = 5.0) -> bool:
        """True when the server closes (EOF or reset) within ``timeout``."""
        try:
            self.pump(timeout)
        except (ConnectionError, OSError):
            return True
        return False

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class AsyncClient:
    """asyncio JSON-RPC client over a unix socket, for many concurrent connections."""

    def __init__(self, reader, writer):
        self.reader = reader
        self.writer = writer
        self.framer = JsonFramer()
        self.pending: dict = {}
        self.ids = itertools.count(1)
        self.on_notification = None  # callable(msg) or None
        self.task = asyncio.get_running_loop().create_task(self._reader())

    @classmethod
    async def connect(cls, remote: str) -> AsyncClient:
        path = remote[5:] if remote.startswith("unix:") else remote
        reader, writer = await asyncio.open_unix_connection(path, limit=1 << 22)
        return cls(reader, writer)

    async def _reader(self) -> None:
        try:
            while True:
                data = await self.reader.read(1 << 16)
                if not data:
                    break
                for msg in self.framer.feed(data):
                    if msg.get("method") == "echo" and msg.get("id") is not None:
                        self.writer.write(json.dumps(
                            {"result": msg["params"], "error": None, "id": msg["id"]}).encode())
                    elif "method" in msg:
                        if self.on_notification is not None:
                            self.on_notification(msg)
                    else:
                        fut = self.pending.pop(msg.get("id"), None)
                        if fut is not None and not fut.done():
                            fut.set_result(msg)
        finally:
            for fut in self.pending.values():
                if not fut.done():
                    fut.set_exception(ConnectionError("connection closed"))

    def send_request(self, method: str, params) -> asyncio.Future:
        id = next(self.ids)
        fut = asyncio.get_running_loop().create_future()
        self.pending[id] = fut
        self.writer.write(json.dumps({"method": method, "params": params, "id": id}).encode())
        return fut

    async def request(self, method: str, params):
        reply = await self.send_request(method, params)
        if reply.get("error") is not None:
            raise RpcError(reply["error"], reply)
        return reply["result"]

    async def close(self) -> None:
        self.task.cancel()
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except (OSError, ConnectionError):
            pass


def apply_update(replica: dict, update: dict) -> None:
    """Apply an RFC 7047 ``update`` (old/new per row) to ``{table: {uuid: row}}``."""
    for table, rows in update.items():
        t = replica.setdefault(table, {})
        for uuid, ru in rows.items():
            if ru.get("new") is None:
                t.pop(uuid, None)
            else:
                row = dict(t.get(uuid, {}))
                row.update(ru["new"])
                t[uuid] = row


def apply_update2(replica: dict, update: dict) -> None:
    """Apply an ``update2`` (initial/insert/modify/delete) to ``{table: {uuid: row}}``.

    ``modify`` diffs are applied as RFC/OVS define them for the columns' types only
    loosely: scalars are replaced, sets toggle membership, maps toggle/replace keys.
    """
    for table, rows in update.items():
        t = replica.setdefault(table, {})
        for uuid, ru in rows.items():
            if "delete" in ru:
                t.pop(uuid, None)
            elif "initial" in ru or "insert" in ru:
                t[uuid] = dict(ru.get("initial", ru.get("insert")))
            elif "modify" in ru:
                row = t.setdefault(uuid, {})
                for col, diff in ru["modify"].items():
                    row[col] = _apply_diff(row.get(col), diff)


def _apply_diff(old, diff):
    if isinstance(diff, list) and diff and diff[0] == "set":
        cur = _as_set(old)
        for atom in diff[1]:
            key = json.dumps(atom)
            if key in cur:
                del cur[key]
            else:
                cur[key] = atom
        vals = list(cur.values())
        return vals[0] if len(vals) == 1 else ["set", vals]
    if isinstance(diff, list) and diff and diff[0] == "map":
        cur = {json.dumps(k): [k, v] for k, v in (old[1] if old else [])}
        for k, v in diff[1]:
            key = json.dumps(k)
            if key in cur and cur[key][1] == v:
                del cur[key]
            else:
                cur[key] = [k, v]
        return ["map", list(cur.values())]
    return diff


def _as_set(value) -> dict:
    if value is None:
        return {}
    if isinstance(value, list) and value and value[0] == "set":
        return {json.dumps(a): a for a in value[1]}
    return {json.dumps(value): value}
