"""The OpenFlow group table (spec 1.3.5 section 5.6 "Group Table", 6.5 "Group Table
Modification Messages", A.3.4.2, A.3.5.9-A.3.5.11).

Relation to the other modules: :class:`ofproto.flowtable.Pipeline` owns a
:class:`GroupTable`; the connection manager sends OFPT_GROUP_MOD through
``Pipeline.group_mod`` (which also deletes the flows that forwarded to a deleted
group) and answers group stats/desc/features from :meth:`GroupTable.stats`,
:meth:`GroupTable.desc` and :meth:`GroupTable.features`.  The pipeline validates
``ActionGroup`` with :meth:`GroupTable.exists` and reports flow references with
:meth:`GroupTable.flow_ref` (for ``ref_count``).  xlate picks buckets with
:meth:`GroupTable.select_bucket` (SELECT) and :meth:`GroupTable.live_bucket` (FAST
FAILOVER) and credits them with :meth:`GroupTable.credit`.

Validation follows OVS (``lib/ofp-group.c`` ``ofputil_check_group_mod`` and
``ofproto/ofproto.c`` ``init_group``/``add_group_start``/``modify_group_start``): an
INDIRECT group has exactly one bucket, only SELECT buckets may carry a weight, only
FAST_FAILOVER (and SELECT) buckets may watch, and every FAST_FAILOVER bucket must watch
something.  Chaining is supported with loop detection (OFPGMFC_LOOP) and chaining
checks: deleting a group another group forwards to fails with OFPGMFC_CHAINED_GROUP.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ofproto.flow import mix32
from ofproto.ofp import actions as A
from ofproto.ofp import messages
from ofproto.ofp.consts import OFP13, OFPGroup, OFPPort
from ofproto.ofp.consts import OFPActionType as AT
from ofproto.ofp.consts import OFPBadActionCode as BAC
from ofproto.ofp.consts import OFPErrorType as ET
from ofproto.ofp.consts import OFPGroupCapabilities as GFC
from ofproto.ofp.consts import OFPGroupModCommand as GC
from ofproto.ofp.consts import OFPGroupModFailedCode as GMFC
from ofproto.ofp.consts import OFPGroupType as GT
from ofproto.ofp.errors import OFPDecodeError as OFPError

__all__ = ["Group", "GroupModResult", "GroupTable", "OFPError"]

OFPG_MAX = int(OFPGroup.OFPG_MAX)
OFPG_ALL = int(OFPGroup.OFPG_ALL)
OFPG_ANY = int(OFPGroup.OFPG_ANY)
OFPP_ANY = int(OFPPort.OFPP_ANY)

_RESERVED_OUT = frozenset(int(p) for p in (
    OFPPort.OFPP_IN_PORT, OFPPort.OFPP_TABLE, OFPPort.OFPP_NORMAL, OFPPort.OFPP_FLOOD,
    OFPPort.OFPP_ALL, OFPPort.OFPP_CONTROLLER, OFPPort.OFPP_LOCAL))

# Actions usable in buckets (bitmap of OFPAT_* for group features, spec A.3.5.11).
_ACTIONS_BITMAP = sum(1 << int(t) for t in AT if int(t) < 32 and t not in (
    AT.OFPAT_COPY_FIELD, AT.OFPAT_METER))


def _err(code: int, message: str = "") -> OFPError:
    return OFPError(ET.OFPET_GROUP_MOD_FAILED, code, message)


@dataclass(eq=False)
class Group:
    """One group entry: id, type, buckets (codec :class:`messages.Bucket`) and
    counters (spec 1.3.5 section 5.6)."""

    group_id: int
    type: int
    buckets: list[messages.Bucket]
    created: float = 0.0
    packet_count: int = 0
    byte_count: int = 0
    bucket_stats: list[list[int]] = field(default_factory=list)  # [packets, bytes]
    flow_refs: int = 0

    def forwards_to(self) -> set[int]:
        """Groups named by the buckets' group actions (chaining)."""
        return {a.group_id for b in self.buckets for a in b.actions
                if isinstance(a, A.ActionGroup)}

    def watches(self) -> set[int]:
        return {b.watch_group for b in self.buckets if b.watch_group != OFPG_ANY}


@dataclass
class GroupModResult:
    """What a group-mod changed (group ids)."""

    command: int
    added: list[int] = field(default_factory=list)
    modified: list[int] = field(default_factory=list)
    deleted: list[int] = field(default_factory=list)


class GroupTable:
    """The switch's groups.  ``valid_port(n)`` validates output and watch ports;
    ``max_groups`` is per type (ALL, SELECT, INDIRECT, FF)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic,
                 valid_port: Callable[[int], bool] | None = None,
                 max_groups: tuple[int, int, int, int] = (0xFFFF,) * 4) -> None:
        self.clock = clock
        self.valid_port = valid_port or (lambda p: 0 < p < int(OFPPort.OFPP_MAX))
        self.max_groups = max_groups
        self._groups: dict[int, Group] = {}

    # ------------------------------------------------------------------ access

    def exists(self, group_id: int) -> bool:
        return group_id in self._groups

    __contains__ = exists

    def get(self, group_id: int) -> Group | None:
        return self._groups.get(group_id)

    def __len__(self) -> int:
        return len(self._groups)

    def __iter__(self) -> Iterator[Group]:
        return iter([self._groups[g] for g in sorted(self._groups)])

    def flow_ref(self, group_id: int, delta: int) -> None:
        """Called by the pipeline when flows start/stop forwarding to ``group_id``."""
        g = self._groups.get(group_id)
        if g is not None:
            g.flow_refs = max(0, g.flow_refs + delta)

    def ref_count(self, group_id: int) -> int:
        """Flows and groups directly forwarding to the group (spec A.3.5.9)."""
        g = self._groups.get(group_id)
        if g is None:
            return 0
        chained = sum(1 for o in self._groups.values() if group_id in o.forwards_to())
        return g.flow_refs + chained

    def referrers(self, group_ids: Iterable[int]) -> set[int]:
        """``group_ids`` plus every group that reaches one of them by chaining or
        watching (whose behaviour may change when they change)."""
        out = set(group_ids)
        changed = True
        while changed:
            changed = False
            for o in self._groups.values():
                if o.group_id not in out and (o.forwards_to() | o.watches()) & out:
                    out.add(o.group_id)
                    changed = True
        return out

    # --------------------------------------------------------------- group-mod

    def _reaches(self, start: Iterable[int], target: int, pending: Group) -> bool:
        """Whether following forwards/watches from ``start`` reaches ``target``,
        with ``pending`` standing in for the group being modified."""
        seen: set[int] = set()
        stack = list(start)
        while stack:
            gid = stack.pop()
            if gid == target:
                return True
            if gid in seen:
                continue
            seen.add(gid)
            g = pending if gid == pending.group_id else self._groups.get(gid)
            if g is not None:
                stack.extend(g.forwards_to() | g.watches())
        return False

    def _check_buckets(self, gm: messages.GroupMod) -> None:
        gtype, buckets = gm.type, gm.buckets
        if gtype == GT.OFPGT_INDIRECT and len(buckets) != 1:
            raise _err(GMFC.OFPGMFC_INVALID_GROUP, "indirect group needs exactly one bucket")
        for b in buckets:
            live = b.watch_port != OFPP_ANY or b.watch_group != OFPG_ANY
            if b.weight and gtype != GT.OFPGT_SELECT:
                raise _err(GMFC.OFPGMFC_INVALID_GROUP, "weight only valid for select groups")
            if gtype in (GT.OFPGT_ALL, GT.OFPGT_INDIRECT) and live:
                raise _err(GMFC.OFPGMFC_WATCH_UNSUPPORTED, "watch only valid for ff/select")
            if gtype == GT.OFPGT_FF and not live:
                raise _err(GMFC.OFPGMFC_INVALID_GROUP, "fast-failover bucket watches nothing")

    def _check_references(self, gm: messages.GroupMod) -> None:
        gid = gm.group_id
        pending = Group(gid, gm.type, list(gm.buckets))
        for b in gm.buckets:
            if b.watch_port != OFPP_ANY and not (
                    b.watch_port < int(OFPPort.OFPP_MAX) and self.valid_port(b.watch_port)):
                raise _err(GMFC.OFPGMFC_BAD_WATCH, f"watch port {b.watch_port:#x}")
            if b.watch_group != OFPG_ANY:
                if b.watch_group == gid:
                    raise _err(GMFC.OFPGMFC_LOOP, "group watches itself")
                if b.watch_group not in self._groups:
                    raise _err(GMFC.OFPGMFC_BAD_WATCH, f"watch group {b.watch_group}")
            for a in b.actions:
                if isinstance(a, A.ActionOutput | A.ActionOutput10):
                    if a.port not in _RESERVED_OUT and not (
                            a.port < int(OFPPort.OFPP_MAX) and self.valid_port(a.port)):
                        raise OFPError(ET.OFPET_BAD_ACTION, BAC.OFPBAC_BAD_OUT_PORT,
                                       f"output port {a.port:#x}")
                elif isinstance(a, A.ActionGroup):
                    if a.group_id == gid:
                        raise _err(GMFC.OFPGMFC_LOOP, "group forwards to itself")
                    if a.group_id not in self._groups:
                        raise OFPError(ET.OFPET_BAD_ACTION, BAC.OFPBAC_BAD_OUT_GROUP,
                                       f"unknown group {a.group_id}")
        if gid in self._groups and self._reaches(pending.forwards_to() | pending.watches(),
                                                 gid, pending):
            raise _err(GMFC.OFPGMFC_LOOP, "group chaining loop")

    def _count_type(self, gtype: int) -> int:
        return sum(1 for g in self._groups.values() if g.type == gtype)

    def group_mod(self, gm: messages.GroupMod) -> GroupModResult:
        """Apply OFPT_GROUP_MOD (spec 1.3.5 section 6.5).  Raises :class:`OFPError`
        (nothing changed): OFPGMFC_BAD_COMMAND, INVALID_GROUP (id > OFPG_MAX, bad
        bucket layout), BAD_TYPE, WATCH_UNSUPPORTED, BAD_WATCH, GROUP_EXISTS,
        UNKNOWN_GROUP (modify), OUT_OF_GROUPS, LOOP, CHAINED_GROUP (delete of a group
        another group forwards to); OFPBAC_BAD_OUT_PORT/BAD_OUT_GROUP for bucket
        actions.  Deleting an unknown group is not an error; OFPG_ALL deletes all."""
        cmd, gid = gm.command, gm.group_id
        res = GroupModResult(cmd)
        if cmd == GC.OFPGC_DELETE:
            if gid == OFPG_ALL:
                res.deleted = sorted(self._groups)
                self._groups.clear()
                return res
            if gid not in self._groups:
                return res
            users = sorted(o.group_id for o in self._groups.values()
                           if gid in o.forwards_to() and o.group_id != gid)
            if users:
                raise _err(GMFC.OFPGMFC_CHAINED_GROUP, f"groups {users} forward to {gid}")
            del self._groups[gid]
            res.deleted.append(gid)
            return res
        if cmd not in (GC.OFPGC_ADD, GC.OFPGC_MODIFY):
            raise _err(GMFC.OFPGMFC_BAD_COMMAND, f"command {cmd}")
        if gid > OFPG_MAX:
            raise _err(GMFC.OFPGMFC_INVALID_GROUP, f"group id {gid:#x}")
        if gm.type not in GT._value2member_map_:
            raise _err(GMFC.OFPGMFC_BAD_TYPE, f"type {gm.type}")
        self._check_buckets(gm)
        old = self._groups.get(gid)
        if cmd == GC.OFPGC_ADD:
            if old is not None:
                raise _err(GMFC.OFPGMFC_GROUP_EXISTS, f"group {gid}")
            if self._count_type(gm.type) >= self.max_groups[gm.type]:
                raise _err(GMFC.OFPGMFC_OUT_OF_GROUPS)
        else:
            if old is None:
                raise _err(GMFC.OFPGMFC_UNKNOWN_GROUP, f"group {gid}")
            if old.type != gm.type and self._count_type(gm.type) >= self.max_groups[gm.type]:
                raise _err(GMFC.OFPGMFC_OUT_OF_GROUPS)
        self._check_references(gm)
        buckets = list(gm.buckets)
        stats = [[0, 0] for _ in buckets]
        if old is None:
            self._groups[gid] = Group(gid, gm.type, buckets, self.clock(), bucket_stats=stats)
            res.added.append(gid)
        else:
            # Keep the group's counters, duration and flow references; the bucket list
            # is replaced, so are the bucket counters.
            old.type, old.buckets, old.bucket_stats = gm.type, buckets, stats
            res.modified.append(gid)
        return res

    # ------------------------------------------------------------------- stats

    def stats(self, group_id: int = OFPG_ALL, now: float | None = None
              ) -> list[messages.GroupStats]:
        """OFPMP_GROUP body (spec 1.3.5 A.3.5.9); an unknown id gives an empty list."""
        t = self.clock() if now is None else now
        ids = sorted(self._groups) if group_id == OFPG_ALL else (
            [group_id] if group_id in self._groups else [])
        out = []
        for gid in ids:
            g = self._groups[gid]
            d = max(0.0, t - g.created)
            out.append(messages.GroupStats(gid, self.ref_count(gid), g.packet_count,
                                           g.byte_count, int(d), int((d - int(d)) * 1e9),
                                           [(p, b) for p, b in g.bucket_stats]))
        return out

    def desc(self, version: int = OFP13) -> list[messages.GroupDesc]:
        """OFPMP_GROUP_DESC body (spec 1.3.5 A.3.5.10)."""
        return [messages.GroupDesc(g.type, g.group_id, list(g.buckets), version)
                for g in self]

    def features(self) -> dict[str, Any]:
        """OFPMP_GROUP_FEATURES fields (spec 1.3.5 A.3.5.11), for
        ``messages.GroupFeaturesStatsReply(**table.features())``."""
        return {
            "types": sum(1 << int(t) for t in GT),
            "capabilities": int(GFC.OFPGFC_SELECT_WEIGHT | GFC.OFPGFC_SELECT_LIVENESS
                                | GFC.OFPGFC_CHAINING | GFC.OFPGFC_CHAINING_CHECKS),
            "max_groups": tuple(self.max_groups),
            "actions": (_ACTIONS_BITMAP,) * 4,
        }

    def credit(self, group_id: int, bucket_index: int | None, packets: int,
               bytes: int) -> None:  # noqa: A002
        """Attribute datapath statistics to a group (and one of its buckets)."""
        g = self._groups.get(group_id)
        if g is None:
            return
        g.packet_count += packets
        g.byte_count += bytes
        if bucket_index is not None and 0 <= bucket_index < len(g.bucket_stats):
            g.bucket_stats[bucket_index][0] += packets
            g.bucket_stats[bucket_index][1] += bytes

    # ---------------------------------------------------------- bucket choice

    def _group(self, group: Group | int) -> Group | None:
        return group if isinstance(group, Group) else self._groups.get(group)

    def bucket_is_live(self, bucket: messages.Bucket, port_is_live: Callable[[int], bool],
                       _depth: int = 0) -> bool:
        """Liveness (spec 1.3.5 section 6.5): the watched port is up and the watched
        group has a live bucket."""
        if bucket.watch_port != OFPP_ANY and not port_is_live(bucket.watch_port):
            return False
        if bucket.watch_group != OFPG_ANY:
            return self.group_is_live(bucket.watch_group, port_is_live, _depth + 1)
        return True

    def group_is_live(self, group: Group | int, port_is_live: Callable[[int], bool],
                      _depth: int = 0) -> bool:
        g = self._group(group)
        if g is None or _depth > 32:
            return False
        return any(self.bucket_is_live(b, port_is_live, _depth) for b in g.buckets)

    def live_bucket(self, group: Group | int, port_is_live: Callable[[int], bool]
                    ) -> tuple[int, messages.Bucket] | None:
        """FAST_FAILOVER: the first live bucket as (index, bucket), or None."""
        g = self._group(group)
        if g is None:
            return None
        for i, b in enumerate(g.buckets):
            if self.bucket_is_live(b, port_is_live):
                return i, b
        return None

    def select_bucket(self, group: Group | int, flow_hash: int,
                      port_is_live: Callable[[int], bool] | None = None
                      ) -> tuple[int, messages.Bucket] | None:
        """SELECT: a bucket for ``flow_hash`` as (index, bucket), or None.

        Weighted rendezvous hashing over the live buckets with non-zero weight (the
        shape of OVS's default selection method, ``group_best_live_bucket``): score =
        mix(hash, bucket index) * weight, the best score wins.  The same hash always
        picks the same bucket; a bucket going down only moves its own flows.
        """
        g = self._group(group)
        if g is None:
            return None
        best: tuple[int, messages.Bucket] | None = None
        best_score = -1
        for i, b in enumerate(g.buckets):
            if not b.weight:
                continue
            if port_is_live is not None and not self.bucket_is_live(b, port_is_live):
                continue
            score = (mix32(flow_hash ^ mix32(i + 0x9E3779B9)) & 0xFFFF) * b.weight
            if score > best_score:
                best, best_score = (i, b), score
        return best
