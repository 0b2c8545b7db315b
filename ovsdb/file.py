"""A database kept in an OVS log file: :class:`~ovsdb.database.Database` plus
:class:`~ovsdb.storage.Log` (OVS's ovsdb/file.c job).

Opening replays the log (schema record, then one record per transaction); each commit
appends its record (fsync'd) before the server acknowledges it; the log is compacted
into one snapshot record when it has grown enough, as ovsdb-server does.
"""

from __future__ import annotations

import os
from typing import Any

from . import vlog
from .database import Database
from .errors import OVSDBError
from .schema import DatabaseSchema
from .storage import Log, LogError

log = vlog.logger("ovsdb.file")

#: Compact once the log is at least this big (bytes) ...
COMPACT_MIN_SIZE = 10 * 1024 * 1024
#: ... and at least this many times the size it had after the last compaction.
COMPACT_GROWTH = 4


class DatabaseFileError(Exception):
    """A database file that cannot be opened or created; str() is one line."""


class DatabaseFile:
    """A database and the log it lives in (one process may hold it: OVS's lock file).

    :param path: the log file.
    :param create_schema: when given and ``path`` does not exist (or is empty), the
        file is created with this schema (like ``ovsdb-tool create``).
    :raises DatabaseFileError: unreadable file, bad schema, or a record that does not
        fit the schema. A corrupt or truncated tail is cut off by :class:`Log` and only
        logged.
    """

    def __init__(self, path: str, create_schema: DatabaseSchema | None = None,
                 compact_min_size: int = COMPACT_MIN_SIZE) -> None:
        self.path = path
        self.compact_min_size = compact_min_size
        exists = os.path.exists(path) and os.path.getsize(path) > 0
        if not exists and create_schema is None:
            raise DatabaseFileError(f"{path}: database file does not exist")
        try:
            self.log = Log.open(path, create=not exists)
        except (LogError, OSError) as e:
            raise DatabaseFileError(str(e)) from e
        try:
            if not exists:
                assert create_schema is not None
                self.log.append(create_schema.to_json())
                records: list[Any] = [create_schema.to_json()]
            else:
                records = self.log.records()
            if not records:
                raise DatabaseFileError(f"{path}: database file contains no schema")
            try:
                schema = DatabaseSchema.from_json(records[0])
            except OVSDBError as e:
                raise DatabaseFileError(f"{path}: bad schema: {e}") from e
            self.db = Database(schema)
            for i, record in enumerate(records[1:], 2):
                try:
                    self.db.replay(record)
                except (OVSDBError, ValueError, TypeError) as e:
                    raise DatabaseFileError(f"{path}: record {i}: {e}") from e
            self.db.recount_refs()
        except BaseException:
            self.log.close()
            raise
        self._base_size = self.log.size

    def commit(self, record: dict[str, Any], sync: bool = True) -> None:
        """Appends a commit's record (fsync'd unless ``sync`` is False), then compacts
        if the log grew enough. Raises LogError or OSError on an I/O failure."""
        self.log.append(record, sync=sync)
        size = self.log.size
        if size >= self.compact_min_size and size >= COMPACT_GROWTH * self._base_size:
            self.compact()

    def compact(self) -> None:
        """Rewrites the log as the schema plus one record of the current contents."""
        snapshot = self.db.snapshot_record()
        snapshot["_comment"] = "compacting database online"
        self.log.replace([self.db.schema.to_json(), snapshot])
        self._base_size = self.log.size
        log.info("{path}: compacted to {size} bytes", path=self.path, size=self._base_size)

    def close(self) -> None:
        self.log.close()
