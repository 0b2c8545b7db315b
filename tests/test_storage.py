"""Tests for ovsdb.storage against Debian's Open vSwitch 3.1 tools.

Files made by ``ovsdb-tool`` and ``ovsdb-server`` are opened with ``Log``, and
files written by ``Log`` are read back with ``ovsdb-tool``; where OVS can be
made to write the same records, the bytes are compared.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from twisted.logger import LogLevel, formatEvent, globalLogPublisher

from ovsdb.storage import Log, LogError, serialize

OVSDB_TOOL = "/usr/bin/ovsdb-tool"
OVSDB_SERVER = "/usr/sbin/ovsdb-server"
OVSDB_CLIENT = "/usr/bin/ovsdb-client"
VSWITCH_SCHEMA = "/usr/share/openvswitch/vswitch.ovsschema"
OVS_UUID = "5e6a2e10-96a4-4bf1-9f6c-7f2b1c1a0e01"

# A small schema with one column of each atomic type, for making ovsdb-server
# write records whose formatting we compare with ours.
TEST_SCHEMA = {
    "name": "T",
    "version": "1.2.3",
    "tables": {
        "R": {
            "columns": {
                "i": {"type": "integer"},
                "r": {"type": "real"},
                "s": {"type": "string"},
                "b": {"type": "boolean"},
                "rs": {"type": {"key": "real", "min": 0, "max": "unlimited"}},
                "m": {"type": {"key": "string", "value": "string", "min": 0, "max": "unlimited"}},
            },
            "isRoot": True,
        }
    },
}

TRICKY_REALS = [
    0.1,
    0.30000000000000004,
    1 / 3,
    2.5,
    -2.5e-5,
    1e-300,
    1.5e300,
    1.5e308,
    2.5e-308,
    123456.789,
    1e15,
    1e16,
    123456789012345.6,
    3.141592653589793,
    100.0,
    -7.0,
]
# Default values ("" and 0) are left out: OVS omits them from insert records.
TRICKY_STRINGS = [
    'quote " backslash \\ slash / </script>',
    "".join(chr(c) for c in range(1, 32)),
    "del \x7f",
    "caf\u00e9 \u20ac \U0001f600 \u2028\u2029 \ufeff",
    "tab\tnewline\ncr\r",
]
TRICKY_INTEGERS = [-1, 1, 2**63 - 1, -(2**63), 1795329850753]


def tool(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [OVSDB_TOOL, *args], capture_output=True, text=True, check=check, timeout=60
    )


def frames(records: list[Any]) -> bytes:
    """What a log holding exactly ``records`` must contain, built independently of Log."""

    out = []
    for record in records:
        data = serialize(record) + b"\n"
        out.append(b"OVSDB JSON %d %s\n" % (len(data), hashlib.sha1(data).hexdigest().encode()))
        out.append(data)
    return b"".join(out)


def txn(next_cfg: int, comment: str) -> dict[str, Any]:
    """A transaction record as ovsdb-server writes for the vswitch schema."""
    return {
        "_date": 1700000000000 + next_cfg,
        "Open_vSwitch": {OVS_UUID: {"next_cfg": next_cfg}},
        "_comment": comment,
    }


def query_next_cfg(db: Path) -> int:
    """Replay ``db`` with OVS's own database code and return Open_vSwitch:next_cfg."""
    out = tool(
        "query",
        str(db),
        json.dumps(
            [
                "Open_vSwitch",
                {"op": "select", "table": "Open_vSwitch", "where": [], "columns": ["next_cfg"]},
            ]
        ),
    ).stdout
    rows = json.loads(out)[0]["rows"]
    assert len(rows) == 1
    return rows[0]["next_cfg"]


@pytest.fixture
def vswitch_db(tmp_path: Path) -> Path:
    db = tmp_path / "conf.db"
    tool("create", str(db), VSWITCH_SCHEMA)
    return db


@pytest.fixture
def warnings() -> Iterator[list[str]]:
    """Text of every warning ovsdb.storage logs while the test runs."""
    seen: list[str] = []

    def observer(event: dict[str, Any]) -> None:
        if event.get("log_namespace") == "ovsdb.storage" and event.get("log_level") in (
            LogLevel.warn,
            LogLevel.error,
        ):
            seen.append(formatEvent(event))

    globalLogPublisher.addObserver(observer)
    try:
        yield seen
    finally:
        globalLogPublisher.removeObserver(observer)


# ---------------------------------------------------------------------------
# Reading what OVS writes


def test_opens_database_made_by_ovsdb_tool(vswitch_db: Path, warnings: list[str]) -> None:
    with Log.open(str(vswitch_db)) as log:
        records = log.records()
        assert len(records) == 1
        schema = records[0]
        assert schema["name"] == "Open_vSwitch" == tool("db-name", str(vswitch_db)).stdout.strip()
        assert schema["version"] == tool("db-version", str(vswitch_db)).stdout.strip()
        assert schema["cksum"] == tool("db-cksum", str(vswitch_db)).stdout.strip()
        assert "Bridge" in schema["tables"] and "Interface" in schema["tables"]
        assert log.n_records == 1
        assert log.size == vswitch_db.stat().st_size
    assert warnings == []
    # OVS's lock file convention: .NAME.~lock~ beside the database.
    assert (vswitch_db.parent / ".conf.db.~lock~").exists()


def test_rewriting_ovsdb_tool_output_is_byte_identical(vswitch_db: Path, tmp_path: Path) -> None:
    # Records OVS wrote, parsed and written again, come out byte for byte:
    # header syntax, length and SHA-1 coverage, string escaping and member order.
    with Log.open(str(vswitch_db)) as log:
        records = log.records()
    ours = tmp_path / "ours.db"
    with Log.open(str(ours), create=True) as log:
        for record in records:
            log.append(record)
    assert ours.read_bytes() == vswitch_db.read_bytes()


def test_header_length_and_sha1_cover_trailing_newline(vswitch_db: Path) -> None:

    raw = vswitch_db.read_bytes()
    header, _, rest = raw.partition(b"\n")
    magic1, magic2, length, digest = header.split(b" ")
    assert (magic1, magic2) == (b"OVSDB", b"JSON")
    data = rest[: int(length)]
    assert len(rest) == int(length) and data.endswith(b"}\n") and data.count(b"\n") == 1
    assert hashlib.sha1(data).hexdigest().encode() == digest
    with Log.open(str(vswitch_db)) as log:
        assert serialize(log.records()[0]) + b"\n" == data


# ---------------------------------------------------------------------------
# OVS reading what we write


def test_ovsdb_tool_reads_log_we_create(tmp_path: Path) -> None:
    db = tmp_path / "fresh.db"
    schema = json.loads(Path(VSWITCH_SCHEMA).read_text())
    with Log.open(str(db), create=True) as log:
        assert log.records() == [] and log.n_records == 0 and log.size == 0
        log.append(schema)
        log.append(txn(1, "first"))
        log.append(txn(7, "second"))
        assert log.n_records == 3
        assert log.size == db.stat().st_size
    assert tool("db-name", str(db)).stdout.strip() == "Open_vSwitch"
    assert tool("db-version", str(db)).stdout.strip() == schema["version"]
    assert tool("db-cksum", str(db)).stdout.strip() == schema["cksum"]
    shown = tool("show-log", str(db)).stdout
    assert 'record 0: "Open_vSwitch" schema' in shown
    assert 'record 1: 2023-11-14 22:13:20.001 "first"' in shown
    assert 'record 2: 2023-11-14 22:13:20.007 "second"' in shown
    assert "record 3" not in shown
    assert query_next_cfg(db) == 7
    assert db.read_bytes() == frames([schema, txn(1, "first"), txn(7, "second")])


def test_appends_to_ovsdb_tool_database(vswitch_db: Path) -> None:
    before = vswitch_db.read_bytes()
    with Log.open(str(vswitch_db)) as log:
        log.append(txn(3, "added by us"))
        assert log.n_records == 2
    after = vswitch_db.read_bytes()
    assert after.startswith(before)
    shown = tool("show-log", "-m", str(vswitch_db)).stdout
    assert 'record 1: 2023-11-14 22:13:20.003 "added by us"' in shown
    assert "table Open_vSwitch insert row 5e6a2e10" in shown
    assert query_next_cfg(vswitch_db) == 3
    with Log.open(str(vswitch_db)) as log:
        assert log.records()[1] == txn(3, "added by us")


# ---------------------------------------------------------------------------
# Byte comparison with records written by a running ovsdb-server


@pytest.fixture(scope="module")
def server_db() -> Iterator[dict[str, Any]]:
    """A test-schema database that Debian's ovsdb-server has appended transactions to.

    Yields the database path and the values sent, so tests can compare how OVS
    wrote them with how serialize() writes them.
    """
    # A short private directory: unix socket names are limited to 108 bytes.
    workdir = Path(tempfile.mkdtemp(prefix="ovsdb-st-"))
    try:
        schema = workdir / "t.ovsschema"
        schema.write_text(json.dumps(TEST_SCHEMA))
        db = workdir / "t.db"
        tool("create", str(db), str(schema))
        pristine = db.read_bytes()
        sock = workdir / "db.sock"
        server = subprocess.Popen(
            [
                OVSDB_SERVER,
                f"--remote=punix:{sock}",
                f"--unixctl={workdir / 'ctl'}",
                "--log-file=" + str(workdir / "server.log"),
                str(db),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 10
            while not sock.exists():
                assert server.poll() is None, "ovsdb-server exited"
                assert time.monotonic() < deadline, "ovsdb-server did not start"
                time.sleep(0.02)

            # While ovsdb-server holds the database, Log.open must refuse it.
            with pytest.raises(LogError) as held:
                Log.open(str(db))
            lock_message = str(held.value)

            ops: list[dict[str, Any]] = []
            for value in TRICKY_REALS:
                ops.append({"op": "insert", "table": "R", "row": {"r": value}})
            for value in TRICKY_STRINGS:
                ops.append({"op": "insert", "table": "R", "row": {"s": value}})
            for value in TRICKY_INTEGERS:
                ops.append({"op": "insert", "table": "R", "row": {"i": value}})
            ops.append(
                {
                    "op": "insert",
                    "table": "R",
                    "row": {
                        "b": True,
                        "rs": ["set", [0.5, 1e20, 2.0]],
                        "m": ["map", [["k\u00e9y", "v\nal"], ["a", "b"]]],
                    },
                }
            )
            ops.append({"op": "comment", "comment": "first \u20ac \x01"})
            for txn_ops in (
                ["T", *ops],
                [
                    "T",
                    {
                        "op": "update",
                        "table": "R",
                        "where": [["i", "==", -1]],
                        "row": {"r": 0.25, "s": "upd"},
                    },
                ],
            ):
                subprocess.run(
                    [OVSDB_CLIENT, "transact", f"unix:{sock}", json.dumps(txn_ops)],
                    check=True,
                    capture_output=True,
                    timeout=30,
                )
        finally:
            server.terminate()
            server.wait(timeout=30)
        yield {
            "db": db,
            "pristine": pristine,
            "lock_message": lock_message,
            "server_pid": server.pid,
        }
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def test_ovsdb_server_lock_excludes_us(server_db: dict[str, Any]) -> None:
    message = server_db["lock_message"]
    assert str(server_db["db"]) in message
    assert "lock" in message and f"pid {server_db['server_pid']}" in message


def test_reads_and_rewrites_ovsdb_server_records_byte_for_byte(
    server_db: dict[str, Any], tmp_path: Path, warnings: list[str]
) -> None:
    db: Path = server_db["db"]
    raw = db.read_bytes()
    with Log.open(str(db)) as log:
        records = log.records()
        assert log.n_records == 3 == len(records)
    assert warnings == []
    assert raw.startswith(server_db["pristine"])
    assert records[1]["_comment"] == "first \u20ac \x01"
    assert records[2]["_is_diff"] is True
    copy = tmp_path / "copy.db"
    with Log.open(str(copy), create=True) as log:
        for record in records:
            log.append(record)
    assert copy.read_bytes() == raw


@pytest.mark.parametrize(
    ("column", "values"),
    [("r", TRICKY_REALS), ("s", TRICKY_STRINGS), ("i", TRICKY_INTEGERS)],
)
def test_serialize_formats_values_like_ovsdb_server(
    server_db: dict[str, Any], column: str, values: list[Any]
) -> None:
    # The values were sent to ovsdb-server as Python floats/strs/ints; OVS wrote
    # each one into the log in its own formatting ("%.15g" for reals, its escape
    # table for strings).  serialize() must produce exactly those bytes.
    insert_record = db_lines(server_db["db"])[3]
    for value in values:
        member = b'"%s":%s' % (column.encode(), serialize(value))
        assert member in insert_record, (value, member)


def db_lines(db: Path) -> list[bytes]:
    return db.read_bytes().split(b"\n")


def test_serialize_examples() -> None:
    assert serialize({"a": [1, 2.5, None, True, False], "b": {}}) == (
        b'{"a":[1,2.5,null,true,false],"b":{}}'
    )
    assert serialize([0.30000000000000004, 1e16, 1.0, -0.0, 1e-5]) == b"[0.3,1e+16,1,-0,1e-05]"
    assert serialize('\x01\x1f\b\t\n\f\r"\\/\x7f\u00e9') == (
        b'"\\u0001\\u001f\\b\\t\\n\\f\\r\\"\\\\/\x7f\xc3\xa9"'
    )
    assert serialize({"z": 1, "a": 2}) == b'{"z":1,"a":2}'  # the caller's order is kept
    # Values OVS's reader refuses (NUL, numbers strtod() flags ERANGE for, such
    # as subnormals and DBL_MAX once rounded to 15 digits) are refused here, so
    # that a bad value can never cut off the rest of the log.
    unreadable = (
        float("nan"),
        float("inf"),
        5e-324,
        2.2250738585072014e-308,  # DBL_MIN prints as 2.2250738585072e-308, subnormal
        1.7976931348623157e308,  # DBL_MAX prints as 1.79769313486232e+308, overflow
        2**63,
        -(2**63) - 1,
        "nul\x00",
        "\ud800",
    )
    for bad in unreadable:
        with pytest.raises(ValueError):
            serialize(bad)
    for bad_type in ({1, 2}, b"bytes", {1: "x"}, object()):
        with pytest.raises(TypeError):
            serialize(bad_type)


# ---------------------------------------------------------------------------
# Repairing damaged tails


def build_log(db: Path) -> tuple[list[Any], list[int]]:
    """Write a vswitch log of a schema and three transactions; return them and record ends."""
    schema = json.loads(Path(VSWITCH_SCHEMA).read_text())
    records = [schema, txn(1, "one"), txn(2, "two"), txn(3, "three")]
    ends = []
    with Log.open(str(db), create=True) as log:
        for record in records:
            log.append(record)
            ends.append(log.size)
    return records, ends


def header_len(raw: bytes, offset: int) -> int:
    return raw.index(b"\n", offset) + 1 - offset


def damage_cut_in_header(raw: bytes, ends: list[int]) -> bytes:
    return raw[: ends[2] + 20]


def damage_cut_in_body(raw: bytes, ends: list[int]) -> bytes:
    return raw[: ends[2] + header_len(raw, ends[2]) + 15]


def damage_cut_before_newline(raw: bytes, ends: list[int]) -> bytes:
    return raw[:-1]


def damage_sha1_in_header(raw: bytes, ends: list[int]) -> bytes:
    pos = ends[2] + header_len(raw, ends[2]) - 2  # last hex digit of the SHA-1
    flipped = b"0" if raw[pos : pos + 1] != b"0" else b"1"
    return raw[:pos] + flipped + raw[pos + 1 :]


def damage_flipped_body_byte(raw: bytes, ends: list[int]) -> bytes:
    pos = raw.index(b"three", ends[2])
    return raw[:pos] + b"T" + raw[pos + 1 :]


def damage_garbage_appended(raw: bytes, ends: list[int]) -> bytes:
    return raw + b"\x00\x17garbage that is not a header\n"


def damage_valid_frame_bad_json(raw: bytes, ends: list[int]) -> bytes:

    data = b'{"_date":1,"unterminated":\n'
    header = b"OVSDB JSON %d %s\n" % (len(data), hashlib.sha1(data).hexdigest().encode())
    return raw + header + data


def damage_valid_frame_not_object(raw: bytes, ends: list[int]) -> bytes:

    data = b"[1,2,3]\n"
    header = b"OVSDB JSON %d %s\n" % (len(data), hashlib.sha1(data).hexdigest().encode())
    return raw + header + data


def damage_valid_frame_subnormal_real(raw: bytes, ends: list[int]) -> bytes:
    # OVS's lexer refuses numbers strtod() flags with ERANGE, subnormals included.
    data = b'{"_date":1,"x":4.94065645841247e-324}\n'
    header = b"OVSDB JSON %d %s\n" % (len(data), hashlib.sha1(data).hexdigest().encode())
    return raw + header + data


def damage_other_magic_midway(raw: bytes, ends: list[int]) -> bytes:
    return raw[: ends[2]] + raw[ends[2] :].replace(b"OVSDB JSON", b"OVSDB CLUSTER", 1)


@pytest.mark.parametrize(
    ("damage", "n_good", "reason"),
    [
        (damage_cut_in_header, 3, "incomplete header line"),
        (damage_cut_in_body, 3, "cut short"),
        (damage_cut_before_newline, 3, "cut short"),
        (damage_sha1_in_header, 3, "SHA-1"),
        (damage_flipped_body_byte, 3, "SHA-1"),
        (damage_garbage_appended, 4, "bad header line"),
        (damage_valid_frame_bad_json, 4, "not valid JSON"),
        (damage_valid_frame_not_object, 4, "not a JSON object"),
        (damage_valid_frame_subnormal_real, 4, "outside valid range"),
        (damage_other_magic_midway, 3, "bad header line"),
    ],
)
def test_damaged_tail_is_cut_off_on_open(
    tmp_path: Path, warnings: list[str], damage: Any, n_good: int, reason: str
) -> None:
    db = tmp_path / "conf.db"
    records, ends = build_log(db)
    damaged = damage(db.read_bytes(), ends)
    db.write_bytes(damaged)
    good_end = ends[n_good - 1]
    # OVS itself stops at the damage too.
    assert tool("show-log", str(db), check=False).returncode != 0

    with Log.open(str(db)) as log:
        assert log.records() == records[:n_good]
        assert log.n_records == n_good
        assert log.size == good_end
        assert db.stat().st_size == good_end
        assert db.read_bytes() == damaged[:good_end]
        log.append(txn(9, "after repair"))

    assert len(warnings) == 1
    assert str(db) in warnings[0]
    assert f"offset {good_end}" in warnings[0]
    assert reason in warnings[0]

    shown = tool("show-log", str(db)).stdout
    assert f'record {n_good}: 2023-11-14 22:13:20.009 "after repair"' in shown
    assert f"record {n_good + 1}" not in shown
    assert query_next_cfg(db) == 9

    warnings.clear()
    with Log.open(str(db)) as log:
        assert log.records() == records[:n_good] + [txn(9, "after repair")]
    assert warnings == []


def test_cut_in_first_record_body_leaves_empty_log(tmp_path: Path, warnings: list[str]) -> None:
    db = tmp_path / "conf.db"
    _, ends = build_log(db)
    raw = db.read_bytes()
    db.write_bytes(raw[: header_len(raw, 0) + 100])
    with Log.open(str(db)) as log:
        assert log.records() == [] and log.size == 0
    assert db.stat().st_size == 0
    assert len(warnings) == 1 and "offset 0" in warnings[0]


# ---------------------------------------------------------------------------
# Compaction


def test_replace_compacts_atomically(vswitch_db: Path, tmp_path: Path) -> None:
    with Log.open(str(vswitch_db)) as log:
        for n in range(1, 6):
            log.append(txn(n, f"txn {n}"))
        schema = log.records()[0]
        assert log.n_records == 6
        inode_before = vswitch_db.stat().st_ino
        (tmp_path / "conf.db.tmp").write_bytes(b"stale temp file from a crash")

        snapshot = {
            "_date": 1700000000999,
            "Open_vSwitch": {OVS_UUID: {"next_cfg": 5}},
            "_comment": "compacted",
        }
        log.replace([schema, snapshot])

        assert log.n_records == 2
        assert vswitch_db.stat().st_ino != inode_before  # renamed into place, not rewritten
        assert not (tmp_path / "conf.db.tmp").exists()
        assert vswitch_db.read_bytes() == frames([schema, snapshot])
        assert log.size == vswitch_db.stat().st_size
        assert query_next_cfg(vswitch_db) == 5

        # Still locked under the same name, and appends go to the new file.
        with pytest.raises(LogError):
            Log.open(str(vswitch_db))
        log.append(txn(6, "after compaction"))
        assert log.n_records == 3
        assert log.size == vswitch_db.stat().st_size

    shown = tool("show-log", str(vswitch_db)).stdout
    assert (
        '"compacted"' in shown and 'record 2: 2023-11-14 22:13:20.006 "after compaction"' in shown
    )
    assert "record 3" not in shown
    assert query_next_cfg(vswitch_db) == 6


def test_replace_matches_ovsdb_tool_compact(vswitch_db: Path, tmp_path: Path) -> None:
    with Log.open(str(vswitch_db)) as log:
        for n in range(1, 4):
            log.append(txn(n, f"txn {n}"))
    ours = tmp_path / "ours.db"
    shutil.copyfile(vswitch_db, ours)

    # OVS compacts its copy; we replace ours with the records OVS chose.
    tool("compact", str(vswitch_db))
    with Log.open(str(vswitch_db)) as log:
        compacted = log.records()
    assert len(compacted) == 2
    with Log.open(str(ours)) as log:
        log.replace(compacted)
    assert ours.read_bytes() == vswitch_db.read_bytes()


def test_failed_replace_leaves_old_log_in_use(vswitch_db: Path, tmp_path: Path) -> None:
    original = vswitch_db.read_bytes()
    with Log.open(str(vswitch_db)) as log:
        schema = log.records()[0]
        with pytest.raises(ValueError):
            log.replace([schema, {"bad": float("nan")}])
        with pytest.raises(TypeError):
            log.replace([schema, ["not", "an", "object"]])
        assert vswitch_db.read_bytes() == original
        assert not (tmp_path / "conf.db.tmp").exists()
        assert log.n_records == 1
        log.append(txn(4, "still works"))
    assert query_next_cfg(vswitch_db) == 4


def test_bad_append_writes_nothing(vswitch_db: Path) -> None:
    original = vswitch_db.read_bytes()
    with Log.open(str(vswitch_db)) as log:
        with pytest.raises(TypeError):
            log.append([1, 2])  # type: ignore[arg-type]
        with pytest.raises(ValueError):
            log.append({"_comment": "nul \x00"})
        assert log.n_records == 1
    assert vswitch_db.read_bytes() == original


# ---------------------------------------------------------------------------
# Locking and open errors


def test_second_open_fails_while_locked(vswitch_db: Path, tmp_path: Path) -> None:
    first = Log.open(str(vswitch_db))
    try:
        with pytest.raises(LogError) as exc:
            Log.open(str(vswitch_db))
        assert str(vswitch_db) in str(exc.value) and "lock" in str(exc.value)
        assert "\n" not in str(exc.value)

        # The lock follows symlinks, as lib/lockfile.c's does.
        link = tmp_path / "link.db"
        link.symlink_to(vswitch_db)
        with pytest.raises(LogError):
            Log.open(str(link))

        # The failed attempts must not have dropped our fcntl lock: OVS's
        # writer still sees it held.
        result = tool("compact", str(vswitch_db), check=False)
        assert result.returncode != 0
        assert "lock" in result.stderr

        # Readers that do not lock are not excluded.
        with Log.open(str(vswitch_db), lock=False) as reader:
            assert reader.n_records == 1
    finally:
        first.close()
    first.close()  # closing twice is harmless

    with Log.open(str(vswitch_db)) as again:
        assert again.n_records == 1
    tool("compact", str(vswitch_db))  # OVS can take the lock once we let go


def test_missing_file_is_an_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.db"
    with pytest.raises(LogError) as exc:
        Log.open(str(missing))
    assert str(missing) in str(exc.value)
    assert not missing.exists()
    with pytest.raises(LogError):
        Log.open(str(tmp_path / "no-such-dir" / "x.db"))


def test_clustered_database_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "cluster.db"
    tool("create-cluster", str(db), VSWITCH_SCHEMA, "tcp:127.0.0.1:6641")
    original = db.read_bytes()
    assert original.startswith(b"OVSDB CLUSTER ")
    with pytest.raises(LogError) as exc:
        Log.open(str(db))
    assert str(db) in str(exc.value) and "OVSDB CLUSTER" in str(exc.value)
    assert db.read_bytes() == original
    # The lock taken during the failed open was released.
    with Log.open(str(db), magic="OVSDB CLUSTER") as log:
        assert log.n_records >= 1


@pytest.mark.parametrize(
    "content",
    [
        b"this is not a database\n",
        b'{"name": "Open_vSwitch"}\n',
        b"OVSDB JS",  # a file cut inside its very first header is not repaired either
        b"OVSDB JSON 12 notahexsha1\n{}\n",
    ],
)
def test_not_a_log_is_refused_and_left_alone(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "other.db"
    path.write_bytes(content)
    with pytest.raises(LogError) as exc:
        Log.open(str(path))
    assert str(path) in str(exc.value)
    assert path.read_bytes() == content


def test_bad_magic_argument() -> None:
    with pytest.raises(ValueError):
        Log.open("/nonexistent", magic="JSON")


# ---------------------------------------------------------------------------
# Scale (how fast it reads is bench/ovsdb_bench.py's business, not a test's)


def test_reading_100k_records(tmp_path: Path) -> None:
    db = tmp_path / "big.db"
    schema = json.loads(Path(VSWITCH_SCHEMA).read_text())
    records = [schema] + [
        {
            "_date": 1700000000000 + n,
            "Open_vSwitch": {
                OVS_UUID: {"next_cfg": n, "external_ids": ["map", [["key", f"value {n}"]]]}
            },
            "_comment": f"ovs-vsctl: add-br br{n}",
        }
        for n in range(100_000)
    ]
    db.write_bytes(frames(records))
    with Log.open(str(db)) as log:
        assert log.n_records == 100_001
        assert log.records()[-1] == records[-1]
    assert query_next_cfg(db) == 99_999
