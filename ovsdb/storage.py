"""OVSDB's on-disk append-only log for standalone databases.

This module knows the file format of Open vSwitch's ``ovsdb/log.c`` and nothing
about what the records mean.  The database layer in :mod:`ovsdb` turns the
records into tables (the first record of a standalone database is its schema,
every later one a committed transaction), and the server calls
:meth:`Log.append` for a transaction before it acknowledges the ``transact``
that made it, so an acknowledged transaction is on disk.

File format (``ovsdb/log.c``, ``ovsdb(5)``), a sequence of records each made of
two lines::

    OVSDB JSON <length> <sha1>\\n
    <json>\\n

``<length>`` is the decimal byte count and ``<sha1>`` the 40-hex-digit SHA-1 of
the data line *including* its trailing newline.  ``<json>`` is one JSON object
written without any newline (:func:`serialize`).  Clustered databases use the
same framing with the magic ``OVSDB CLUSTER``; they are not supported here.

Files are byte-compatible with OVS both ways: logs made by ``ovsdb-tool
create`` or ``ovsdb-server`` open here, and ``ovsdb-tool show-log``,
``db-name``, ``db-version``, ``db-cksum`` and ``ovsdb-server`` read the logs
written here.  The lock file is OVS's too (``lib/lockfile.c``), so this module
and OVS's tools exclude each other.
"""

from __future__ import annotations

import errno
import fcntl
import gc
import hashlib
import json
import json.scanner
import math
import os
import re
import struct
import sys
import threading
from typing import Any

from . import vlog

__all__ = ["Log", "LogError", "serialize"]

log = vlog.logger("ovsdb.storage")

#: The magic of a standalone database log (``OVSDB_MAGIC`` in ovsdb/log.h).
STANDALONE_MAGIC = "OVSDB JSON"
#: The magic of a clustered database log (``RAFT_MAGIC`` in ovsdb/raft.h).
CLUSTER_MAGIC = "OVSDB CLUSTER"

# ovsdb/log.c reads each header with fgets() into a 128-byte buffer, so a
# longer header line never parses there; refusing it here too keeps both
# implementations agreeing on where the good part of a log ends.
_MAX_HEADER = 127

_HEADER_RE = re.compile(rb"OVSDB ([^ \n]+) ([0-9]+) ([0-9a-fA-F]{40})\n")

_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1

_DBL_MIN = sys.float_info.min
_DBL_MAX = sys.float_info.max
# Reals whose magnitude is strictly inside this range stay normal doubles after
# rounding to 15 digits; only those outside need to be checked.
_SAFE_REAL_MIN = 1e-307
_SAFE_REAL_MAX = 1e308

# OVS's json.c keeps printable characters, including DEL and every non-ASCII
# character, as they are (UTF-8) and escapes only these.
_ESCAPE_RE = re.compile(r'[\x00-\x1f"\\]')
_ESCAPES = {chr(c): f"\\u{c:04x}" for c in range(0x20)}
_ESCAPES.update(
    {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}
)


class LogError(Exception):
    """Unrecoverable problem opening, reading or writing a log.

    Raised for a missing file (without ``create``), a file that is not an OVSDB
    log or has another magic, a lock held by another opener, or an I/O error.
    ``str()`` is a one-line message that starts with the file's name.
    """


# --------------------------------------------------------------------------
# Serialization


def serialize(value: Any) -> bytes:
    """Return ``value`` as the UTF-8 JSON text OVS writes for it.

    Matches ``json_to_ds(json, 0, ...)`` in OVS's ``lib/json.c``, which is what
    ``ovsdb/log.c`` uses for record bodies (the log adds a ``\\n`` after it):

    * no whitespace at all;
    * object members in the mapping's own order.  OVS itself writes them in
      hash-table order, which ``json.c`` documents as indeterminate and no
      reader depends on; keeping the caller's order means a record parsed from
      an OVS log is written back byte for byte;
    * integers in decimal; reals as C's ``%.15g`` (``DBL_DIG`` digits, so
      ``0.1`` stays ``0.1``, ``1e16`` is ``1e+16``, ``1.0`` is ``1`` and OVS
      reads that back as an integer);
    * strings escape ``"``, ``\\`` and U+0000..U+001F (``\\b \\t \\n \\f \\r``
      short forms, otherwise ``\\u00xx`` in lower case); everything else,
      including U+007F and non-ASCII characters, is written raw in UTF-8.

    ``value`` may be built from ``dict`` (``str`` keys), ``list``/``tuple``,
    ``str``, ``int``, ``float``, ``bool`` and ``None``.

    Raises ``TypeError`` for other types and ``ValueError`` for values that OVS
    could not read back: integers outside the signed 64-bit range; NaN,
    infinite or subnormal reals, or those that overflow once rounded to 15
    digits (``sys.float_info.max``); strings containing U+0000 or unpaired
    surrogates.
    """
    parts: list[str] = []
    _serialize_into(value, parts)
    return "".join(parts).encode("utf-8")


def _readable_real(value: float) -> bool:
    """Whether OVS's lexer accepts a number with this value (lib/util.c str_to_double).

    strtod() reports ERANGE for overflow and also for subnormal results, and
    OVS refuses both, so only zero and normal finite doubles survive.
    """
    return value == 0 or _DBL_MIN <= abs(value) <= _DBL_MAX


def _escape_char(match: re.Match[str]) -> str:
    return _ESCAPES[match.group()]


def _serialize_string(s: str, parts: list[str]) -> None:
    if "\x00" in s:
        # OVS's parser refuses NUL in strings, so such a record would end the
        # readable part of the log.
        raise ValueError("strings in OVSDB logs may not contain U+0000")
    parts.append('"')
    parts.append(_ESCAPE_RE.sub(_escape_char, s))
    parts.append('"')


def _serialize_into(value: Any, parts: list[str]) -> None:
    # bool before int: bool is a subclass of int.
    if value is None:
        parts.append("null")
    elif value is True:
        parts.append("true")
    elif value is False:
        parts.append("false")
    elif isinstance(value, str):
        _serialize_string(value, parts)
    elif isinstance(value, int):
        if not _INT64_MIN <= value <= _INT64_MAX:
            raise ValueError(f"integer {value} is outside OVSDB's 64-bit range")
        parts.append(str(int(value)))
    elif isinstance(value, float):
        text = format(value, ".15g")
        if value != 0 and not _SAFE_REAL_MIN < abs(value) < _SAFE_REAL_MAX:
            # Near the ends of the double range, rounding to 15 digits can
            # give a number OVS's reader refuses: DBL_MAX becomes
            # 1.79769313486232e+308, which overflows.
            if not (math.isfinite(value) and _readable_real(float(text))):
                raise ValueError(f"real {value!r} cannot be written so that OVS reads it back")
        parts.append(text)
    elif isinstance(value, dict):
        parts.append("{")
        first = True
        for key, member in value.items():
            if not isinstance(key, str):
                raise TypeError(f"JSON object member names must be str, not {type(key).__name__}")
            if not first:
                parts.append(",")
            first = False
            _serialize_string(key, parts)
            parts.append(":")
            _serialize_into(member, parts)
        parts.append("}")
    elif isinstance(value, list | tuple):
        parts.append("[")
        for i, element in enumerate(value):
            if i:
                parts.append(",")
            _serialize_into(element, parts)
        parts.append("]")
    else:
        raise TypeError(f"cannot serialize {type(value).__name__} as OVSDB JSON")


def _frame(record: Any, magic: str) -> bytes:
    """One complete log record (header line and data line) for ``record``."""
    if not isinstance(record, dict):
        # ovsdb/log.c refuses to read back any record that is not an object.
        raise TypeError(f"log records must be JSON objects (dict), not {type(record).__name__}")
    data = serialize(record) + b"\n"
    digest = hashlib.sha1(data).hexdigest()
    return b"%s %d %s\n%s" % (magic.encode("ascii"), len(data), digest.encode("ascii"), data)


# --------------------------------------------------------------------------
# Parsing


def _parse_real(text: str) -> float:
    # Python's float() rounds exactly as OVS's strtod-based lexer does.  OVS
    # would also type an integral real such as "1e+16" as an integer, but
    # keeping it a float lets a record read from an OVS log be written back
    # byte for byte; the database layer accepts either in a real column.
    value = float(text)
    if not _readable_real(value):
        raise ValueError(f"number {text} outside valid range")
    return value + 0.0  # OVS suppresses negative zero


def _reject_constant(text: str) -> Any:
    raise ValueError(f"invalid keyword {text}")


# Integers keep Python's unbounded int: OVS writes only 64-bit ones ("%lld")
# and a parse_int hook would cost a Python call for every number read.  The
# scanner is called directly because the json.loads wrappers around it cost
# more than the scanning of a typical record.
_scan_value = json.scanner.make_scanner(
    json.JSONDecoder(parse_float=_parse_real, parse_constant=_reject_constant)
)
_JSON_WHITESPACE = " \t\n\r"


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any("\x00" in k or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def _parse_body(body: bytes) -> Any:
    """Parse one record's data line as OVS's json_parser would accept it."""
    text = body.decode("utf-8")  # strict: OVS rejects invalid UTF-8 too
    start = 0
    if text[:1] in _JSON_WHITESPACE:  # text[:1] == "" is also "in" it
        start = len(text) - len(text.lstrip(_JSON_WHITESPACE))
    try:
        value, end = _scan_value(text, start)
    except StopIteration:
        raise ValueError(f"syntax error at character {start}") from None
    if text[end:] != "\n" and text[end:].strip(_JSON_WHITESPACE):
        raise ValueError(f"trailing garbage at character {end}")
    if "\\u0000" in text and _has_nul(value):
        raise ValueError("null bytes not supported in quoted strings")
    return value


# --------------------------------------------------------------------------
# Locking (lib/lockfile.c)

# fcntl() locks belong to the process, so a second lock attempt from this
# process would succeed and closing its descriptor would silently drop the
# first lock.  Like lockfile.c, remember which lock files (by device and
# inode) this process holds and never touch them a second time.
_held_locks: dict[tuple[int, int], str] = {}
_held_locks_guard = threading.Lock()


def _lock_name(path: str) -> str:
    """``.NAME.~lock~`` beside the file ``path`` refers to (after symlinks)."""
    directory, base = os.path.split(os.path.realpath(path))
    return os.path.join(directory, f".{base}.~lock~")


def _lock_holder(fd: int) -> int:
    """The pid holding a conflicting lock on ``fd``, or 0 if unknown."""
    if sys.platform != "linux":
        return 0
    # struct flock on Linux with a 64-bit off_t: short, short, off_t, off_t, pid_t.
    fmt = "hhqqi"
    size = struct.calcsize(fmt)
    size += -size % 8
    request = struct.pack(fmt, fcntl.F_WRLCK, os.SEEK_SET, 0, 0, 0).ljust(size, b"\0")
    try:
        reply = fcntl.fcntl(fd, fcntl.F_GETLK, request)
    except OSError:
        return 0
    l_type, _, _, _, pid = struct.unpack_from(fmt, reply)
    return pid if l_type != fcntl.F_UNLCK else 0


class _LockFile:
    """An exclusive lock on OVS's lock file for one database file."""

    def __init__(self, name: str, fd: int, key: tuple[int, int]) -> None:
        self.name = name
        self._fd = fd
        self._key = key

    @classmethod
    def acquire(cls, path: str, display: str) -> _LockFile:
        name = _lock_name(path)
        with _held_locks_guard:
            try:
                st = os.stat(name)
            except FileNotFoundError:
                pass
            except OSError as e:
                raise LogError(f"{display}: failed to lock lockfile {name}: {e.strerror}") from e
            else:
                if (st.st_dev, st.st_ino) in _held_locks:
                    raise LogError(
                        f"{display}: failed to lock lockfile {name}: already locked by this process"
                    )
            try:
                fd = os.open(name, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            except OSError as e:
                raise LogError(f"{display}: failed to lock lockfile {name}: {e.strerror}") from e
            try:
                st = os.fstat(fd)
                fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as e:
                pid = _lock_holder(fd) if e.errno in (errno.EACCES, errno.EAGAIN) else 0
                os.close(fd)
                reason = f"already locked by pid {pid}" if pid else (e.strerror or str(e))
                raise LogError(f"{display}: failed to lock lockfile {name}: {reason}") from e
            key = (st.st_dev, st.st_ino)
            _held_locks[key] = name
            return cls(name, fd, key)

    def release(self) -> None:
        with _held_locks_guard:
            if self._fd >= 0:
                _held_locks.pop(self._key, None)
                os.close(self._fd)  # closing drops the fcntl lock
                self._fd = -1


# --------------------------------------------------------------------------
# File helpers


def _read_all(fd: int) -> bytes:
    chunks = []
    while True:
        chunk = os.read(fd, 1 << 22)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def _write_all(fd: int, data: bytes, offset: int) -> None:
    view = memoryview(data)
    while view:
        n = os.pwrite(fd, view, offset)
        view = view[n:]
        offset += n


def _fsync_dir(path: str) -> None:
    """Make a creation or rename of ``path`` durable by syncing its directory."""
    dfd = os.open(os.path.dirname(path) or ".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def _magic_word(magic: str) -> bytes:
    """``"OVSDB JSON"`` -> ``b"JSON"``, the part that varies between kinds of logs."""
    lead, _, word = magic.partition(" ")
    if lead != "OVSDB" or not word or " " in word or "|" in word or not word.isascii():
        raise ValueError(f"bad log magic {magic!r}: expected 'OVSDB <WORD>'")
    return word.encode("ascii")


class _Scan:
    """Result of validating a log's contents."""

    def __init__(self) -> None:
        self.records: list[Any] = []
        self.good_end = 0  # offset just past the last good record
        self.error: str | None = None  # why reading stopped before end of file


def _scan(data: bytes, word: bytes) -> _Scan:
    # Reading builds one container per JSON object and array; with the cyclic
    # collector running, its generations fill up again and again and it walks
    # the ever longer list of records, which more than doubles the time taken.
    # Nothing made here can form a cycle.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _scan_records(data, word)
    finally:
        if was_enabled:
            gc.enable()


def _scan_records(data: bytes, word: bytes) -> _Scan:
    scan = _Scan()
    records = scan.records
    end = len(data)
    pos = 0
    find = data.find
    match = _HEADER_RE.match
    sha1 = hashlib.sha1
    while pos < end:
        newline = find(b"\n", pos, pos + _MAX_HEADER)
        if newline < 0:
            scan.error = (
                "incomplete header line" if end - pos < _MAX_HEADER else "header line too long"
            )
            break
        header = match(data, pos, newline + 1)
        if header is None or header.group(1) != word:
            line = data[pos:newline].decode("ascii", "backslashreplace")
            scan.error = f'bad header line "{line}"'
            break
        length = int(header.group(2))
        if length == 0:
            scan.error = "header line gives a zero length"
            break
        body_start = newline + 1
        body_end = body_start + length
        if body_end > end:
            scan.error = (
                f"record of {length} bytes at offset {body_start} is cut short "
                f"({end - body_start} bytes present)"
            )
            break
        body = data[body_start:body_end]
        actual = sha1(body).hexdigest()
        expected = header.group(3).decode("ascii").lower()
        if actual != expected:
            scan.error = (
                f"{length} bytes starting at offset {body_start} have SHA-1 hash "
                f"{actual} but should have hash {expected}"
            )
            break
        try:
            value = _parse_body(body)
        except ValueError as e:
            scan.error = f"{length} bytes starting at offset {body_start} are not valid JSON ({e})"
            break
        if not isinstance(value, dict):
            scan.error = f"{length} bytes starting at offset {body_start} are not a JSON object"
            break
        records.append(value)
        pos = body_end
    scan.good_end = pos
    return scan


def _check_first_header(data: bytes, word: bytes, display: str) -> None:
    """Refuse files that are not OVSDB logs of the expected kind (like ovsdb_log_open)."""
    newline = data.find(b"\n", 0, _MAX_HEADER)
    header = _HEADER_RE.match(data, 0, newline + 1) if newline >= 0 else None
    if header is None:
        # Even a cut-off first header is refused rather than repaired: a file
        # that does not start like a log may be anything, and truncating it
        # would destroy it.
        raise LogError(f"{display}: unexpected file format (not an OVSDB log)")
    actual = header.group(1)
    if actual != word:
        kind = actual.decode("ascii", "backslashreplace")
        extra = (
            " (clustered databases are not supported)"
            if b"OVSDB " + actual == CLUSTER_MAGIC.encode()
            else ""
        )
        raise LogError(
            f"{display}: cannot identify file type: magic is 'OVSDB {kind}', "
            f"expected 'OVSDB {word.decode()}'{extra}"
        )


# --------------------------------------------------------------------------
# The log


class Log:
    """An open OVSDB log file (``ovsdb/log.c``'s format).

    Each record is ``OVSDB JSON <len> <sha1>\\n<json>\\n`` where ``<len>`` and
    ``<sha1>`` cover ``<json>\\n``.  Open with :meth:`open`; the records found
    then are in :meth:`records`; :meth:`append` adds one durably;
    :meth:`replace` compacts; :meth:`close` releases the lock.

    ``path`` is the name the log was opened with (used in messages).
    Not thread-safe: one Log is meant to be driven from the reactor thread.
    """

    path: str

    def __init__(
        self,
        path: str,
        abs_path: str,
        fd: int,
        magic: str,
        lock: _LockFile | None,
        records: list[Any],
        end: int,
    ) -> None:
        # Use Log.open(); this only assembles an already-validated log.
        self.path = path
        self._abs_path = abs_path
        self._fd = fd
        self._magic = magic
        self._lock = lock
        self._records = records
        self._end = end
        self._n_records = len(records)

    @classmethod
    def open(
        cls,
        path: str,
        *,
        create: bool = False,
        magic: str = STANDALONE_MAGIC,
        lock: bool = True,
    ) -> Log:
        """Open the log at ``path``, read and validate every record, and return it.

        ``create``: create the file (mode 0660 before umask) if it does not
        exist; an existing file is opened as it is.  An empty file is a valid
        log with no records.

        ``magic``: the ``OVSDB <WORD>`` every header must start with; only
        ``"OVSDB JSON"`` (standalone) logs are written by this project.

        ``lock``: hold OVS's lock file ``.NAME.~lock~`` beside the file
        (``lib/lockfile.c``: an fcntl write lock, never waited for) until
        :meth:`close`, so that neither another Log in this process nor an
        ovsdb-server or ovsdb-tool can open the same database for writing.

        A bad tail -- a cut or malformed header line, data shorter than its
        header says, a SHA-1 mismatch, data that is not a JSON object -- is
        what a crash in the middle of a write leaves behind.  It is cut off:
        the file is truncated just past the last good record (everything from
        the first bad record on is dropped, as ``ovsdb/log.c`` stops reading
        there too), and a warning naming the file, the offset and the reason
        is logged through :mod:`twisted.logger`.

        Raises :class:`LogError` if the file is missing (and not ``create``),
        cannot be read, does not start with an OVSDB header line (refused, not
        repaired), has another magic (e.g. ``OVSDB CLUSTER``), or is locked.
        Raises ``ValueError`` for a malformed ``magic`` argument.
        """
        word = _magic_word(magic)
        abs_path = os.path.abspath(path)
        lockfile = _LockFile.acquire(abs_path, path) if lock else None
        fd = -1
        try:
            flags = os.O_RDWR | os.O_CLOEXEC | (os.O_CREAT if create else 0)
            try:
                fd = os.open(abs_path, flags, 0o660)
            except OSError as e:
                op = "create or open" if create else "open"
                raise LogError(f"{path}: {op} failed: {e.strerror}") from e
            try:
                data = _read_all(fd)
            except OSError as e:
                raise LogError(f"{path}: read error: {e.strerror}") from e

            if not data:
                if create:
                    try:
                        _fsync_dir(abs_path)
                    except OSError as e:
                        raise LogError(f"{path}: fsync of directory failed: {e.strerror}") from e
                return cls(path, abs_path, fd, magic, lockfile, [], 0)

            _check_first_header(data, word, path)
            scan = _scan(data, word)
            if scan.error is not None:
                cls._cut_tail(path, fd, data, scan)
            return cls(path, abs_path, fd, magic, lockfile, scan.records, scan.good_end)
        except BaseException:
            if fd >= 0:
                os.close(fd)
            if lockfile is not None:
                lockfile.release()
            raise

    @staticmethod
    def _cut_tail(path: str, fd: int, data: bytes, scan: _Scan) -> None:
        log.warn(
            "{path}: discarding {discarded} bytes at offset {offset} after "
            "{count} good records: {reason}",
            path=path,
            offset=scan.good_end,
            discarded=len(data) - scan.good_end,
            count=len(scan.records),
            reason=scan.error,
        )
        try:
            os.ftruncate(fd, scan.good_end)
            os.fsync(fd)
        except OSError as e:
            raise LogError(
                f"{path}: cannot truncate to length {scan.good_end}: {e.strerror}"
            ) from e

    def _check_open(self) -> None:
        if self._fd < 0:
            raise ValueError(f"{self.path}: log is closed")

    def records(self) -> list[Any]:
        """The parsed JSON objects (``dict``) of every good record read at open.

        For a standalone database the first is the schema and the rest are
        transactions.  The list is the log's own, not a copy, and it is not
        updated by :meth:`append` or :meth:`replace`; the caller may consume it
        and then ``clear()`` it to free the memory.
        """
        return self._records

    def append(self, record: dict[str, Any], *, sync: bool = True) -> None:
        """Write ``record`` (a JSON object, see :func:`serialize`) at the end.

        With ``sync`` (the default) returns only after the data has reached the
        disk (fdatasync), so a transaction may be acknowledged once this returns;
        without it the record is in the page cache, which survives the process
        being killed but not the machine losing power.  ``TypeError`` or
        ``ValueError`` for a record that cannot be serialized (nothing is
        written); :class:`LogError` on an I/O error, after cutting off any
        partly written data.
        """
        self._check_open()
        frame = _frame(record, self._magic)
        try:
            _write_all(self._fd, frame, self._end)
            if sync:
                os.fdatasync(self._fd)
        except OSError as e:
            try:
                os.ftruncate(self._fd, self._end)
            except OSError:
                pass  # nothing better to do; the next open cuts the tail anyway
            raise LogError(f"{self.path}: write failed: {e.strerror}") from e
        self._end += len(frame)
        self._n_records += 1

    def replace(self, records: list[dict[str, Any]]) -> None:
        """Atomically make ``records`` the whole contents of the log (compaction).

        Writes them to ``NAME.tmp`` beside the file (after following symlinks,
        as ``ovsdb_log_replace`` does), fsyncs it, renames it over the log and
        fsyncs the directory; later appends go to the new file.  A crash at any
        point leaves either the old or the new log.  On error the temporary
        file is removed, the old log stays in use, and :class:`LogError` (I/O)
        or ``TypeError``/``ValueError`` (unserializable record) is raised.
        """
        self._check_open()
        data = b"".join([_frame(r, self._magic) for r in records])
        target = os.path.realpath(self._abs_path)
        tmp = target + ".tmp"
        try:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
            new_fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o660)
        except OSError as e:
            raise LogError(f"{self.path}: cannot create {tmp}: {e.strerror}") from e
        try:
            _write_all(new_fd, data, 0)
            os.fsync(new_fd)
            os.rename(tmp, target)
        except OSError as e:
            os.close(new_fd)
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise LogError(f"{self.path}: replacing log failed: {e.strerror}") from e
        old_fd, self._fd = self._fd, new_fd
        self._end = len(data)
        self._n_records = len(records)
        os.close(old_fd)
        try:
            _fsync_dir(target)
        except OSError as e:
            raise LogError(f"{self.path}: fsync of directory failed: {e.strerror}") from e

    @property
    def size(self) -> int:
        """Current length of the log file in bytes."""
        self._check_open()
        return os.fstat(self._fd).st_size

    @property
    def n_records(self) -> int:
        """Number of records in the file now: read at open or written by :meth:`replace`,
        plus those appended since."""
        return self._n_records

    def close(self) -> None:
        """Close the file and release the lock.  Calling it again does nothing."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def __enter__(self) -> Log:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
