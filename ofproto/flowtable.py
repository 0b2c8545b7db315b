"""The switch's OpenFlow flow tables: flow-mod semantics, lookups, stats, expiry.

Relation to the other modules
-----------------------------
* :class:`Pipeline` owns tables ``0 .. n_tables-1``, each an
  :class:`ofproto.classifier.Classifier` over the OXM/NXM fields of
  :data:`ofproto.ofp.oxm.FIELDS`, plus the switch's :class:`ofproto.groups.GroupTable`
  and :class:`ofproto.meters.MeterTable` (flows reference groups and meters, and a
  group/meter deletion removes the flows that use it).  It knows nothing about
  connections or the datapath.
* The connection manager decodes ``OFPT_FLOW_MOD`` with :mod:`ofproto.ofp.messages`
  and calls :meth:`Pipeline.flow_mod` (or :meth:`Pipeline.flow_mod_batch` for an ONF
  bundle commit); an :class:`OFPError` becomes ``OFPT_ERROR(type, code)``.  The
  :class:`FlowModResult` lists what changed, so it can send ``OFPT_FLOW_REMOVED``
  (reason ``OFPRR_DELETE``) for deleted rules with ``OFPFF_SEND_FLOW_REM``.
  It answers flow/aggregate/table stats with :meth:`Pipeline.flow_stats`,
  :meth:`Pipeline.aggregate` and :meth:`Pipeline.table_stats`.
* xlate (the translation of a packet into datapath actions) calls
  :meth:`Pipeline.lookup`, which ORs the examined bits into the megaflow mask.
* The revalidator registers with :meth:`Pipeline.add_listener` and is called with the
  affected rules after every committed change; the datapath's flow statistics are
  pushed back with :meth:`Pipeline.credit`; a periodic timer calls
  :meth:`Pipeline.expire`.

Semantics (OpenFlow 1.3.5 section 6.4 "Flow Table Modification Messages", A.3.4.1),
with Open vSwitch's ``ofproto/ofproto.c`` and ``lib/ofp-flow.c`` as the reference
where the spec leaves room:

* ``OFPFC_ADD`` replaces a rule with identical match and priority; the duration is
  cleared, the counters are copied unless ``OFPFF_RESET_COUNTS`` (OF1.0 add always
  resets, as in OVS ``ofputil_decode_flow_mod_flags``).  ``OFPFF_CHECK_OVERLAP``
  refuses a rule that overlaps one of the same priority (an identical rule counts as
  overlapping, spec 6.4; OVS instead replaces it).
* ``OFPFC_MODIFY[_STRICT]`` replaces the instructions of the selected rules and keeps
  cookie, timeouts, flags, importance, duration and counters (counters cleared with
  ``OFPFF_RESET_COUNTS``).  When nothing matches, OpenFlow 1.2+ does nothing; OpenFlow
  1.0 adds the rule (OVS ``modify_may_add_flow``), and its modify also sets the cookie.
* ``OFPFC_DELETE[_STRICT]`` honours ``out_port``/``out_group`` (a rule qualifies if one
  of its output/group actions, in apply- or write-actions, names them) and the
  cookie/cookie_mask filter (also applied by modify).  ``table_id = OFPTT_ALL`` is
  accepted only by deletes (A.3.4.1; OVS rejects it for add/modify with
  ``OFPFMFC_BAD_TABLE_ID``).
* Validation happens before anything changes; a failing flow-mod, or a failing member
  of a batch, leaves every table exactly as before (rule order included).

Deferred adds: ``flow_mod(fm, defer=True)`` validates a plain ``OFPFC_ADD`` (everything
that could make it fail: match, flags, table, instructions against the current groups,
meters and ports) and stages it instead of inserting it; :meth:`Pipeline.commit_staged`
inserts the staged adds, in order, in one transaction.  Every other change commits the
staged adds first.  The connection that staged them commits them before it returns to
the reactor (see :mod:`ofproto.connection`), so nothing else (another channel, an
upcall, a timer) can observe the difference; what it buys is that ovs-ofctl's barrier
reply goes out before the insertion, which then overlaps ovs-ofctl's next turn.
"""

from __future__ import annotations

import itertools
import operator
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from ofproto.addlayout import AddLayouts
from ofproto.classifier import Canon, Classifier, Rule, default_stage, field_order
from ofproto.groups import GroupModResult, GroupTable
from ofproto.meters import MeterModResult, MeterTable
from ofproto.ofp import actions as A
from ofproto.ofp import messages, oxm
from ofproto.ofp.consts import OFP13, OFP14, OFPFlowWildcards10, OFPGroup, OFPPort, port_from_of10
from ofproto.ofp.consts import OFPBadActionCode as BAC
from ofproto.ofp.consts import OFPBadInstructionCode as BIC
from ofproto.ofp.consts import OFPBadMatchCode as BMC
from ofproto.ofp.consts import OFPBadRequestCode as BRC
from ofproto.ofp.consts import OFPErrorType as ET
from ofproto.ofp.consts import OFPFlowModCommand as FC
from ofproto.ofp.consts import OFPFlowModFailedCode as FMFC
from ofproto.ofp.consts import OFPFlowModFlags as FF
from ofproto.ofp.consts import OFPFlowRemovedReason as RR
from ofproto.ofp.consts import OFPMeterModFailedCode as MMFC
from ofproto.ofp.errors import OFPDecodeError
from ovsdb import vlog

__all__ = [
    "OFPError",
    "OFRule",
    "FlowModResult",
    "AggregateStats",
    "Pipeline",
    "OFPTT_ALL",
    "FLOW_FIELDS",
]

OFPError = OFPDecodeError
"""The one OpenFlow error class: ``type``/``code`` (OF1.3 numbering, spec A.4.4) and
``message``.  The codec raises it for malformed input, the flow/group/meter tables for
semantic errors, so one handler in the connection manager builds the OFPT_ERROR."""

OFPTT_ALL = 0xFF
OFPP_ANY = int(OFPPort.OFPP_ANY)
OFPG_ANY = int(OFPGroup.OFPG_ANY)
_COOKIE_ALL = 0xFFFFFFFFFFFFFFFF

FLOW_FIELDS: tuple[tuple[str, int], ...] = tuple((f.name, f.nbits) for f in oxm.FIELDS)
"""The classifier's field universe: canonical field name -> width in bits."""
_STAGES = {name: default_stage(name) for name, _ in FLOW_FIELDS}
# Per field, what _check_match needs: (all-ones mask, maskable, position in a Canon).
_ORDER = field_order((name for name, _ in FLOW_FIELDS), _STAGES)
_CHECK = {f.name: ((1 << f.nbits) - 1, f.maskable, _ORDER[f.name]) for f in oxm.FIELDS}

_FLAGS13 = int(FF.OFPFF_SEND_FLOW_REM | FF.OFPFF_CHECK_OVERLAP | FF.OFPFF_RESET_COUNTS
               | FF.OFPFF_NO_PKT_COUNTS | FF.OFPFF_NO_BYT_COUNTS)
_OF10_EMERG = 1 << 2
log = vlog.logger("ofproto.flowtable")

# Plain ints: IntFlag arithmetic costs microseconds per flow-mod.
_CHECK_OVERLAP = int(FF.OFPFF_CHECK_OVERLAP)
_RESET_COUNTS = int(FF.OFPFF_RESET_COUNTS)
_FLAGS10 = int(FF.OFPFF_SEND_FLOW_REM | FF.OFPFF_CHECK_OVERLAP) | _OF10_EMERG

# Reserved ports an output action may name (spec 1.3.5 section 4.5); OFPP_TABLE is
# accepted like OVS (ofpact_check_output_port), OFPP_ANY is not.
_RESERVED_OUT = frozenset(int(p) for p in (
    OFPPort.OFPP_IN_PORT, OFPPort.OFPP_TABLE, OFPPort.OFPP_NORMAL, OFPPort.OFPP_FLOOD,
    OFPPort.OFPP_ALL, OFPPort.OFPP_CONTROLLER, OFPPort.OFPP_LOCAL))
_OFPP_MAX = int(OFPPort.OFPP_MAX)

# Plain ints and prebuilt isinstance tuples: an enum member costs an attribute lookup
# and ``X | Y`` builds a new union object each time it is evaluated.
_ADD = int(FC.OFPFC_ADD)
_MODIFY_STRICT = int(FC.OFPFC_MODIFY_STRICT)
_DELETE_STRICT = int(FC.OFPFC_DELETE_STRICT)
_MODIFIES = frozenset({int(FC.OFPFC_MODIFY), _MODIFY_STRICT})
_DELETES = frozenset({int(FC.OFPFC_DELETE), _DELETE_STRICT})
_COMMANDS = frozenset(int(c) for c in FC)
_ACTION_LISTS = (A.InstructionApplyActions, A.InstructionWriteActions)
_OUTPUTS = (A.ActionOutput, A.ActionOutput10, A.ActionEnqueue10)
_MPLS_PUSH_POP = (A.ActionPushMpls, A.ActionPopMpls)


def _err(type_: int, code: int, message: str = "") -> OFPError:
    return OFPError(type_, code, message)


def _default_valid_port(port: int) -> bool:
    return 0 < port < _OFPP_MAX


# --------------------------------------------------------------------------- rules

# (group ids, meter ids) of a rule that names none, or is not installed.
_NO_REFS: tuple[frozenset[int], frozenset[int]] = (frozenset(), frozenset())


@dataclass(eq=False, slots=True)
class OFRule:
    """One flow entry (spec 1.3.5 section 5.2, "Flow Table").

    Identity matters: the pipeline hands out the installed object, xlate and the
    revalidator keep references, :meth:`Pipeline.credit` updates it.  An ADD that
    replaces an identical rule installs a new object; a MODIFY updates the rule in
    place.  Times are seconds from the pipeline's clock.
    """

    table_id: int
    priority: int
    match: oxm.Match
    cookie: int = 0
    idle_timeout: int = 0
    hard_timeout: int = 0
    flags: int = 0
    importance: int = 0
    instructions: list[A.Instruction] = field(default_factory=list)
    created: float = 0.0
    modified: float = 0.0
    last_used: float = 0.0
    packet_count: int = 0
    byte_count: int = 0
    # Internal: classifier rule, insertion ordinal (mirrors the classifier's
    # tie-break order), installed flag, and the (group ids, meter ids) the
    # instructions name, computed once per instruction list (None: not yet).
    _cr: Rule | None = field(default=None, repr=False)
    _order: int = field(default=0, repr=False)
    _installed: bool = field(default=False, repr=False)
    _refs: tuple[frozenset[int], frozenset[int]] | None = field(default=None, repr=False)

    # -- views of the instructions

    def actions(self) -> Iterator[A.Action]:
        """Every action of the apply-actions and write-actions instructions."""
        for ins in self.instructions:
            if isinstance(ins, _ACTION_LISTS):
                yield from ins.actions

    def has_output(self, port: int) -> bool:
        """``out_port`` filter (spec 1.3.5 A.3.4.1): OFPP_ANY, or an output action to
        ``port`` (OVS ``ofproto_rule_has_out_port``)."""
        if port == OFPP_ANY:
            return True
        for a in self.actions():
            if isinstance(a, _OUTPUTS) and a.port == port:
                return True
        return False

    def has_group(self, group_id: int) -> bool:
        """``out_group`` filter: OFPG_ANY, or a group action naming ``group_id``."""
        if group_id == OFPG_ANY:
            return True
        return group_id in self.group_ids()

    def group_ids(self) -> frozenset[int]:
        return self._ref_ids()[0]

    def meter_ids(self) -> frozenset[int]:
        return self._ref_ids()[1]

    def _ref_ids(self) -> tuple[frozenset[int], frozenset[int]]:
        refs = self._refs
        if refs is None:
            groups: set[int] = set()
            meters: set[int] = set()
            for ins in self.instructions:
                if isinstance(ins, A.InstructionMeter):
                    meters.add(ins.meter_id)
                elif isinstance(ins, _ACTION_LISTS):
                    for a in ins.actions:
                        if isinstance(a, A.ActionGroup):
                            groups.add(a.group_id)
                        elif isinstance(a, A.ActionMeter):
                            meters.add(a.meter_id)
            refs = self._refs = ((frozenset(groups), frozenset(meters))
                                 if groups or meters else _NO_REFS)
        return refs

    def goto_table(self) -> int | None:
        for i in self.instructions:
            if isinstance(i, A.InstructionGotoTable):
                return i.table_id
        return None

    def duration(self, now: float) -> tuple[int, int]:
        """(duration_sec, duration_nsec) for stats and flow-removed messages."""
        d = max(0.0, now - self.created)
        sec = int(d)
        return sec, int((d - sec) * 1e9)

    def _state(self) -> tuple[Any, ...]:
        return (self.cookie, list(self.instructions), self.modified, self.packet_count,
                self.byte_count, self.last_used)

    def _restore(self, s: tuple[Any, ...]) -> None:
        (self.cookie, self.instructions, self.modified, self.packet_count, self.byte_count,
         self.last_used) = s
        self._refs = None


@dataclass
class FlowModResult:
    """What one flow-mod changed.

    ``added``: new rules (an ADD replacing an identical rule lists the new object here
    and the pair in ``replaced``); ``modified``: rules whose instructions (and for
    OF1.0 cookie) were updated in place; ``deleted``: rules removed by a delete; the
    connection manager sends OFPT_FLOW_REMOVED with OFPRR_DELETE for those that have
    OFPFF_SEND_FLOW_REM (replaced rules get no flow-removed, as in OVS).
    """

    command: int
    added: list[OFRule] = field(default_factory=list)
    modified: list[OFRule] = field(default_factory=list)
    deleted: list[OFRule] = field(default_factory=list)
    replaced: list[tuple[OFRule, OFRule]] = field(default_factory=list)

    @property
    def removed(self) -> list[tuple[OFRule, int]]:
        """(rule, OFPRR_DELETE) for every deleted rule."""
        return [(r, int(RR.OFPRR_DELETE)) for r in self.deleted]

    def affected(self) -> list[OFRule]:
        out = list(self.added) + list(self.modified) + list(self.deleted)
        out += [old for old, _new in self.replaced]
        return out


@dataclass
class AggregateStats:
    """OFPMP_AGGREGATE reply body (spec 1.3.5 A.3.5.3)."""

    packet_count: int = 0
    byte_count: int = 0
    flow_count: int = 0


# ------------------------------------------------------------- normalised flow-mod


@dataclass(slots=True)
class _FM:
    command: int
    table_id: int
    priority: int
    match: oxm.Match
    cmatch: Canon
    new_cookie: int | None  # None: keep the rule's cookie (OF1.1+ modify)
    cookie: int
    cookie_mask: int
    idle_timeout: int
    hard_timeout: int
    flags: int
    importance: int
    out_port: int
    out_group: int
    instructions: list[A.Instruction]   # a private copy: an added rule takes it as is
    reset_counts: bool
    may_add: bool


def _prereqs_ok(name: str, d: dict[str, tuple[int, int | None]]) -> bool:
    """Whether field ``name``'s prerequisites (spec 1.3.5 7.2.3.6) hold in ``d``."""
    for pname, allowed, pmask in oxm.field_by_name(name).prereqs:
        e = d.get(oxm.field_by_name(pname).name)
        if e is None:
            return False
        if allowed and not ((e[1] is None or (e[1] & pmask) == pmask)
                            and (e[0] & pmask) in allowed):
            return False
    return True


_SECOND = operator.itemgetter(1)


def _check_match(match: oxm.Match) -> Canon:
    """Validate ``match`` (spec 1.3.5 7.2.3.5-7.2.3.6, A.4.4 OFPBMC_*) and return the
    classifier's canonical form (fields with an all-zero mask dropped)."""
    out = []
    for name, (v, m) in match.entries():
        full, maskable, pos = _CHECK[name]
        if m is None:
            if v < 0 or v > full:
                raise _err(ET.OFPET_BAD_MATCH, BMC.OFPBMC_BAD_VALUE, f"{name}: bad value {v:#x}")
            out.append((pos, (name, v, full)))
            continue
        if not maskable:
            raise _err(ET.OFPET_BAD_MATCH, BMC.OFPBMC_BAD_MASK, f"{name} is not maskable")
        if v < 0 or v > full:
            raise _err(ET.OFPET_BAD_MATCH, BMC.OFPBMC_BAD_VALUE, f"{name}: bad value {v:#x}")
        if m < 0 or m > full:
            raise _err(ET.OFPET_BAD_MATCH, BMC.OFPBMC_BAD_MASK, f"{name}: bad mask {m:#x}")
        if v & ~m:
            raise _err(ET.OFPET_BAD_MATCH, BMC.OFPBMC_BAD_WILDCARDS,
                       f"{name}: value {v:#x} has bits outside mask {m:#x}")
        if m:
            out.append((pos, (name, v, m)))
    oxm.check_prereqs(match)
    out.sort()   # positions are unique: only they are compared
    return tuple(map(_SECOND, out))


_ICMP_RENAME = {"tcp_src": "icmp_type", "tcp_dst": "icmp_code"}
_SCTP_RENAME = {"tcp_src": "sctp_src", "tcp_dst": "sctp_dst"}
_ARP_RENAME = {"ip_src": "arp_spa", "ip_dst": "arp_tpa", "nw_proto": "arp_op"}


def match_from_of10(m10: messages.Match10) -> oxm.Match:
    """OF1.0 ``ofp_match`` -> :class:`oxm.Match` with OVS's interpretation
    (``ofputil_match_from_ofp10_match`` + ``ofputil_normalize_match``): nw_src/nw_dst/
    nw_proto mean the ARP fields for ARP, tp_src/tp_dst mean ICMP type/code for ICMP,
    and fields whose prerequisites are not matched are ignored (spec 1.0.0 5.2.3)."""
    m = m10.to_match()
    items: list[tuple[str, tuple[int, int | None]]] = list(m.items())
    eth_type = m.value("eth_type")
    proto = m.value("nw_proto")
    renamed: list[tuple[str, tuple[int, int | None]]] = []
    for name, (v, mask) in items:
        if eth_type in (oxm.ETH_ARP, oxm.ETH_RARP) and name in _ARP_RENAME:
            name = _ARP_RENAME[name]
            if name == "arp_op":
                v &= 0xFF
        elif eth_type == oxm.ETH_IPV4 and proto == 1 and name in _ICMP_RENAME:
            name, v = _ICMP_RENAME[name], v & 0xFF
        elif proto == 132 and name in _SCTP_RENAME:
            name = _SCTP_RENAME[name]
        renamed.append((name, (v, mask)))
    d = dict(renamed)
    changed = True
    while changed:  # drop fields with unmet prerequisites until stable
        changed = False
        for name in list(d):
            if not _prereqs_ok(name, d):
                del d[name]
                changed = True
    return oxm.Match([(k, v) for k, v in renamed if k in d])


# ------------------------------------------------------------------- transactions


class _Txn:
    """Undo information for a batch of flow-mods (rolled back on any error)."""

    __slots__ = ("added", "removed", "mutated", "refs_before", "affected")

    def __init__(self) -> None:
        self.added: list[OFRule] = []
        self.removed: list[OFRule] = []
        self.mutated: list[tuple[OFRule, tuple[Any, ...]]] = []
        self.refs_before: dict[OFRule, tuple[frozenset[int], frozenset[int]]] = {}
        self.affected: dict[OFRule, None] = {}  # ordered set

    def note(self, rule: OFRule) -> None:
        if rule not in self.refs_before:
            self.refs_before[rule] = (
                (rule.group_ids(), rule.meter_ids()) if rule._installed else _NO_REFS)
        self.affected[rule] = None


# ----------------------------------------------------------------------- pipeline


Listener = Callable[[list[OFRule]], None]


class Pipeline:
    """OpenFlow tables 0..n_tables-1 plus the group and meter tables (spec 1.3.5
    section 5, "OpenFlow Tables").

    ``clock`` returns seconds (default :func:`time.monotonic`); ``valid_port(n)`` says
    whether a (non-reserved) port number may be named by an output action; ``groups``
    and ``meters`` default to empty tables sharing the clock and port check.
    """

    def __init__(
        self,
        n_tables: int = 255,
        clock: Callable[[], float] = time.monotonic,
        valid_port: Callable[[int], bool] | None = None,
        groups: GroupTable | None = None,
        meters: MeterTable | None = None,
    ) -> None:
        if not 1 <= n_tables <= 255:
            raise ValueError("n_tables must be in 1..255")
        self.n_tables = n_tables
        self.clock = clock
        self.valid_port = valid_port or _default_valid_port
        self.groups = groups if groups is not None else GroupTable(clock=clock,
                                                                   valid_port=self.valid_port)
        self.meters = meters if meters is not None else MeterTable(clock=clock)
        self._tables: dict[int, Classifier] = {}
        self._lookups = [0] * n_tables
        self._matched = [0] * n_tables
        self._listeners: list[Listener] = []
        # Validated adds awaiting commit_staged(), with when they were made.
        self._staged: list[tuple[_FM, float]] = []
        self._layouts = AddLayouts(_ORDER)
        self._orders = itertools.count(1)
        self._expirable: set[OFRule] = set()
        self._by_group: dict[int, set[OFRule]] = {}
        self._by_meter: dict[int, set[OFRule]] = {}

    # ------------------------------------------------------------------ basics

    def _table(self, table_id: int) -> Classifier:
        cls = self._tables.get(table_id)
        if cls is None:
            cls = self._tables[table_id] = Classifier(FLOW_FIELDS, _STAGES)
        return cls

    def add_listener(self, fn: Listener) -> None:
        """Call ``fn(rules)`` after every committed change with the affected rules
        (added, modified, deleted, replaced, expired, removed by group/meter delete)."""
        self._listeners.append(fn)

    def remove_listener(self, fn: Listener) -> None:
        self._listeners.remove(fn)

    def rules(self, table_id: int = OFPTT_ALL) -> list[OFRule]:
        """Installed rules of one table (or all), in classifier tie-break order."""
        self._settle()
        tids = range(self.n_tables) if table_id == OFPTT_ALL else (table_id,)
        out: list[OFRule] = []
        for t in tids:
            cls = self._tables.get(t)
            if cls is not None:
                out.extend(r.payload for r in cls.rules())
        return out

    def __len__(self) -> int:
        self._settle()
        return sum(len(c) for c in self._tables.values())

    def flows_using_group(self, group_id: int) -> set[OFRule]:
        self._settle()
        return set(self._by_group.get(group_id, ()))

    def flows_using_meter(self, meter_id: int) -> set[OFRule]:
        self._settle()
        return set(self._by_meter.get(meter_id, ()))

    # ------------------------------------------------------------------ lookup

    def lookup(self, table_id: int, flow: dict[str, int],
               wc: dict[str, int] | None = None) -> OFRule | None:
        """Highest-priority rule of ``table_id`` matching ``flow`` (canonical field
        names, missing = 0), ORing the examined bits into ``wc``.  Counts the lookup
        and match for table stats (spec 1.3.5 A.3.5.4)."""
        self._settle()
        self._lookups[table_id] += 1
        cls = self._tables.get(table_id)
        if cls is None:
            return None
        r = cls.lookup(flow, wc)
        if r is None:
            return None
        self._matched[table_id] += 1
        return r.payload

    def count_lookups(self, table_id: int, lookups: int, matched: int) -> None:
        """Adds lookups made on this table's behalf elsewhere (the datapath's table
        offload) to its table stats."""
        self._lookups[table_id] += lookups
        self._matched[table_id] += matched

    # ------------------------------------------------------------ translation

    def _normalise(self, fm: messages.FlowMod | messages.FlowMod10) -> _FM:
        if isinstance(fm, messages.FlowMod10):
            return self._normalise10(fm)
        cmd = fm.command
        if cmd not in _COMMANDS:
            raise _err(ET.OFPET_FLOW_MOD_FAILED, FMFC.OFPFMFC_BAD_COMMAND, f"command {cmd}")
        if fm.flags & ~_FLAGS13:
            raise _err(ET.OFPET_FLOW_MOD_FAILED, FMFC.OFPFMFC_BAD_FLAGS, f"flags {fm.flags:#x}")
        is_delete = cmd in _DELETES
        if fm.table_id == OFPTT_ALL:
            if not is_delete:
                raise _err(ET.OFPET_FLOW_MOD_FAILED, FMFC.OFPFMFC_BAD_TABLE_ID,
                           "OFPTT_ALL is only valid for deletes")
        elif fm.table_id >= self.n_tables:
            raise _err(ET.OFPET_FLOW_MOD_FAILED, FMFC.OFPFMFC_BAD_TABLE_ID,
                       f"table {fm.table_id}")
        cmatch = _check_match(fm.match)
        add = cmd == _ADD
        return _FM(
            command=cmd, table_id=fm.table_id, priority=fm.priority, match=fm.match,
            cmatch=cmatch,
            new_cookie=fm.cookie if add else None,
            cookie=0 if add else fm.cookie, cookie_mask=0 if add else fm.cookie_mask,
            idle_timeout=fm.idle_timeout, hard_timeout=fm.hard_timeout, flags=fm.flags,
            importance=fm.importance if add and fm.version >= OFP14 else 0,
            out_port=fm.out_port if is_delete else OFPP_ANY,
            out_group=fm.out_group if is_delete else OFPG_ANY,
            instructions=list(fm.instructions),
            reset_counts=bool(fm.flags & _RESET_COUNTS), may_add=False)

    def _normalise10(self, fm: messages.FlowMod10) -> _FM:
        cmd = fm.command
        if cmd not in _COMMANDS:
            raise _err(ET.OFPET_FLOW_MOD_FAILED, FMFC.OFPFMFC_BAD_COMMAND, f"command {cmd}")
        if fm.flags & ~_FLAGS10 or fm.flags & _OF10_EMERG:
            # Emergency flows are not supported (error_to_of10 -> OFPFMFC_UNSUPPORTED).
            raise _err(ET.OFPET_FLOW_MOD_FAILED, FMFC.OFPFMFC_BAD_FLAGS, f"flags {fm.flags:#x}")
        match = match_from_of10(fm.match)
        cmatch = _check_match(match)
        # OF1.0: an exact-match rule has the highest priority (OVS ofputil_decode_flow_mod).
        exact = not fm.match.wildcards & OFPFlowWildcards10.OFPFW_ALL
        add = cmd == _ADD
        is_delete = cmd in _DELETES
        return _FM(
            command=cmd, table_id=0 if add else OFPTT_ALL,
            priority=0xFFFF if exact else fm.priority, match=match, cmatch=cmatch,
            new_cookie=fm.cookie, cookie=0, cookie_mask=0,
            idle_timeout=fm.idle_timeout, hard_timeout=fm.hard_timeout, flags=fm.flags,
            importance=0,
            out_port=port_from_of10(fm.out_port) if is_delete else OFPP_ANY,
            out_group=OFPG_ANY,
            instructions=[A.InstructionApplyActions(list(fm.actions))] if fm.actions else [],
            reset_counts=add, may_add=cmd in _MODIFIES)

    # --------------------------------------------------------------- validation

    def _check_out_port(self, port: int) -> None:
        if port in _RESERVED_OUT:
            return
        if port < _OFPP_MAX and self.valid_port(port):
            return
        raise _err(ET.OFPET_BAD_ACTION, BAC.OFPBAC_BAD_OUT_PORT, f"output port {port:#x}")

    def check_actions(self, actions: Iterable[A.Action],
                      vmatch: dict[str, tuple[int, int | None]] | None = None) -> None:
        """Validate an action list (spec 1.3.5 A.4.4 OFPBAC_*): output ports,
        groups, meters, and set-field prerequisites against ``vmatch`` (the rule's
        match as modified by the earlier push/pop actions); ``vmatch`` is updated."""
        for a in actions:
            if isinstance(a, _OUTPUTS):
                self._check_out_port(a.port)
            elif isinstance(a, A.ActionGroup):
                if not self.groups.exists(a.group_id):
                    raise _err(ET.OFPET_BAD_ACTION, BAC.OFPBAC_BAD_OUT_GROUP,
                               f"unknown group {a.group_id}")
            elif isinstance(a, A.ActionMeter):
                if not self.meters.exists(a.meter_id):
                    raise _err(ET.OFPET_METER_MOD_FAILED, MMFC.OFPMMFC_UNKNOWN_METER,
                               f"unknown meter {a.meter_id}")
            elif vmatch is None:
                continue
            elif isinstance(a, A.ActionSetField):
                spec = oxm.field_by_name(a.field)
                if a.value < 0 or a.value >> spec.nbits:
                    raise _err(ET.OFPET_BAD_ACTION, BAC.OFPBAC_BAD_SET_ARGUMENT,
                               f"set_field {a.field}={a.value:#x}")
                if not _prereqs_ok(a.field, vmatch):
                    raise _err(ET.OFPET_BAD_ACTION, BAC.OFPBAC_MATCH_INCONSISTENT,
                               f"set_field {a.field}: prerequisites not matched")
            elif isinstance(a, A.ActionPushVlan):
                vmatch["vlan_vid"] = (0x1000, 0x1000)
            elif isinstance(a, A.ActionPopVlan):
                vmatch.pop("vlan_vid", None)
                vmatch.pop("vlan_pcp", None)
            elif isinstance(a, _MPLS_PUSH_POP):
                vmatch["eth_type"] = (a.ethertype, None)

    def check_instructions(self, instructions: Sequence[A.Instruction], table_id: int,
                           match: oxm.Match | None = None) -> None:
        """Validate a flow's instructions for ``table_id`` (spec 1.3.5 section 6.4 and
        A.4.4): one instruction per type, goto_table forward only, meters and groups
        must exist, output ports valid."""
        seen: set[int] = set()
        vmatch: dict[str, tuple[int, int | None]] | None = (
            match.to_dict() if match is not None else None)
        for ins in instructions:
            if ins.type in seen:
                raise _err(ET.OFPET_BAD_INSTRUCTION, BIC.OFPBIC_DUP_INST,
                           f"duplicate instruction type {ins.type}")
            seen.add(ins.type)
            # The common case first; the classes are disjoint, so the order is free.
            if isinstance(ins, _ACTION_LISTS):
                self.check_actions(ins.actions, vmatch)
            elif isinstance(ins, A.InstructionGotoTable):
                if ins.table_id <= table_id or ins.table_id >= self.n_tables:
                    raise _err(ET.OFPET_BAD_INSTRUCTION, BIC.OFPBIC_BAD_TABLE_ID,
                               f"goto_table {ins.table_id} from table {table_id}")
            elif isinstance(ins, A.InstructionMeter):
                if not self.meters.exists(ins.meter_id):
                    raise _err(ET.OFPET_METER_MOD_FAILED, MMFC.OFPMMFC_UNKNOWN_METER,
                               f"unknown meter {ins.meter_id}")
            elif isinstance(ins, A.InstructionExperimenter):
                raise _err(ET.OFPET_BAD_INSTRUCTION, BIC.OFPBIC_BAD_EXPERIMENTER,
                           f"experimenter {ins.experimenter:#x}")
            elif isinstance(ins, A.InstructionClearActions):
                if ins.actions:
                    raise _err(ET.OFPET_BAD_INSTRUCTION, BIC.OFPBIC_BAD_LEN,
                               "clear_actions carries actions")

    # -------------------------------------------------------------- primitives

    def _new_cr(self, rule: OFRule, cmatch: Canon) -> Rule:
        cr = Rule(rule.priority, cmatch, rule)
        rule._cr = cr
        return cr

    def _index_expiry(self, rule: OFRule) -> None:
        if rule._installed and (rule.idle_timeout or rule.hard_timeout):
            self._expirable.add(rule)
        else:
            self._expirable.discard(rule)

    def _unlink(self, txn: _Txn, rule: OFRule) -> None:
        txn.note(rule)
        assert rule._cr is not None
        self._tables[rule.table_id].remove(rule._cr)
        rule._installed = False
        self._index_expiry(rule)
        txn.removed.append(rule)

    def _mutate(self, txn: _Txn, rule: OFRule, **changes: Any) -> None:
        txn.note(rule)
        txn.mutated.append((rule, rule._state()))
        for k, v in changes.items():
            setattr(rule, k, v)
        rule._refs = None

    def _commit(self, txn: _Txn) -> None:
        for rule, before in txn.refs_before.items():
            after = rule._ref_ids() if rule._installed else _NO_REFS
            if before == after:
                continue
            (g0, m0), (g1, m1) = before, after
            for gid in g0 - g1:
                self._by_group[gid].discard(rule)
                if not self._by_group[gid]:
                    del self._by_group[gid]
                self.groups.flow_ref(gid, -1)
            for gid in g1 - g0:
                self._by_group.setdefault(gid, set()).add(rule)
                self.groups.flow_ref(gid, 1)
            for mid in m0 - m1:
                self._by_meter[mid].discard(rule)
                if not self._by_meter[mid]:
                    del self._by_meter[mid]
                self.meters.flow_ref(mid, -1)
            for mid in m1 - m0:
                self._by_meter.setdefault(mid, set()).add(rule)
                self.meters.flow_ref(mid, 1)
        affected = list(txn.affected)
        if affected:
            for fn in list(self._listeners):
                fn(affected)
        for rule in txn.removed:
            # Gone for good: without the link back from its classifier rule, a removed
            # rule is freed as soon as nobody holds it, not at the next full collection.
            rule._cr = None

    def _rollback(self, txn: _Txn) -> None:
        for rule, state in reversed(txn.mutated):
            rule._restore(state)
        added = set(txn.added)
        rebuild = {r.table_id for r in txn.removed}
        for rule in reversed(txn.added):
            if rule.table_id not in rebuild and rule._installed:
                assert rule._cr is not None
                self._tables[rule.table_id].remove(rule._cr)
                rule._installed = False
                self._index_expiry(rule)
        for tid in rebuild:
            # Re-inserting a removed rule into the classifier would give it a new
            # tie-break slot; rebuild the table in the original insertion order.
            present = [r for r in self.rules(tid) if r not in added]
            present += [r for r in txn.removed if r.table_id == tid and r not in added]
            present.sort(key=lambda r: r._order)
            cls = self._tables[tid] = Classifier(FLOW_FIELDS, _STAGES)
            for r in txn.added:
                if r.table_id == tid:
                    r._installed = False
                    self._index_expiry(r)
            for r in present:
                assert r._cr is not None
                cls.insert(self._new_cr(r, dict(r._cr.match)))
                r._installed = True
                self._index_expiry(r)

    def _settle(self) -> None:
        # Every reader and every other change sees the staged adds as inserted.
        if self._staged:
            self.commit_staged()

    def _transaction(self, fn: Callable[[_Txn], Any]) -> Any:
        self._settle()
        txn = _Txn()
        try:
            out = fn(txn)
        except BaseException:
            self._rollback(txn)
            raise
        self._commit(txn)
        return out

    # ---------------------------------------------------------------- flow-mod

    def flow_mod(self, fm: messages.FlowMod | messages.FlowMod10, *,
                 defer: bool = False, raw: bytes | None = None) -> FlowModResult:
        """Apply one OFPT_FLOW_MOD (OF1.3+ :class:`messages.FlowMod` or OF1.0
        :class:`messages.FlowMod10`).  Raises :class:`OFPError`; then nothing changed.

        With ``defer``, a plain add (no ``OFPFF_CHECK_OVERLAP``, whose answer depends on
        the adds before it) is only validated and staged, and its result lists no
        rules: it takes effect at the next :meth:`commit_staged` or other change.  A
        staged add given with its wire form ``raw`` teaches :meth:`stage_add` its
        layout."""
        n = self._normalise(fm)
        if defer and n.command == _ADD and not n.flags & _CHECK_OVERLAP:
            self.check_instructions(n.instructions, n.table_id, n.match)
            n.match = n.match.copy()   # the caller keeps fm
            self._staged.append((n, self.clock()))
            if raw is not None:
                self._layouts.learn(raw, n.priority, n.match, n.cmatch, n.instructions)
            return FlowModResult(_ADD)
        result: FlowModResult = self._transaction(lambda txn: self._apply(txn, n))
        return result

    def stage_add(self, raw: bytes) -> bool:
        """Stage an OFPT_FLOW_MOD (OpenFlow 1.0, or 1.3-1.5) given in wire form (header
        included), as ``flow_mod(decoded, defer=True)`` would, if it is a plain add laid
        out like one staged before (:mod:`ofproto.addlayout`) and valid.  False:
        nothing was done; decode it and call :meth:`flow_mod`, which also reports any
        error."""
        got = self._layouts.read(raw)
        if got is None:
            return False
        (table_id, priority, cookie, idle, hard, flags, importance, reset, match, cmatch,
         ins) = got
        instructions = list(ins)
        try:
            self.check_instructions(instructions, table_id, match)
        except OFPError:
            return False
        self._staged.append((_FM(
            command=_ADD, table_id=table_id, priority=priority, match=match, cmatch=cmatch,
            new_cookie=cookie, cookie=0, cookie_mask=0, idle_timeout=idle,
            hard_timeout=hard, flags=flags, importance=importance, out_port=OFPP_ANY,
            out_group=OFPG_ANY, instructions=instructions, reset_counts=reset,
            may_add=False), self.clock()))
        return True

    def commit_staged(self) -> bool:
        """Insert the adds staged by ``flow_mod(defer=True)``, in order, as one
        transaction (listeners are called once).  Returns whether there were any.

        They were validated against the state they now meet, so an error here is a
        bug: it is logged and the adds are then tried one by one."""
        staged, self._staged = self._staged, []
        if not staged:
            return False

        def run(txn: _Txn) -> None:
            for fm, when in staged:
                self._add(txn, fm, FlowModResult(_ADD), when, staged=True)

        try:
            self._transaction(run)
        except OFPError:
            log.failure("staged flow adds failed to commit; retrying one at a time")
            for fm, when in staged:
                try:
                    self._transaction(lambda txn, fm=fm, when=when: self._add(
                        txn, fm, FlowModResult(_ADD), when))
                except OFPError:
                    log.failure("staged flow add dropped")
        return True

    def flow_mod_batch(
        self, fms: Sequence[messages.FlowMod | messages.FlowMod10]
    ) -> list[FlowModResult]:
        """Apply several flow-mods atomically (ONF bundles, EXT-230 / OF1.4 section
        6.8): each sees the effect of the earlier ones; if any fails, the error is
        raised and every table is left exactly as before.  Listeners are called once,
        after the whole batch."""
        return self._transaction(lambda txn: [self._apply(txn, self._normalise(fm))
                                              for fm in fms])

    # -- helpers for the OpenFlow 1.0 Nicira extensions and bundles (ofproto.switch)

    def flow_mod_nx(self, *, command: int, table_id: int, priority: int, match: oxm.Match,
                    new_cookie: int, cookie: int = 0, cookie_mask: int = 0,
                    idle_timeout: int = 0, hard_timeout: int = 0, flags: int = 0,
                    out_port: int = OFPP_ANY, actions: Sequence[A.Action] = ()
                    ) -> FlowModResult:
        """An OpenFlow 1.0-style flow-mod with an OXM/NXM ``match``: NXT_FLOW_MOD
        (OVS nicira-ext.h ``struct nx_flow_mod``) or OFPT_FLOW_MOD under the
        flow_mod_table_id extension.  Semantics of OVS ``ofputil_decode_flow_mod`` /
        ``ofproto_flow_mod_init``: ``table_id`` 0xff means table 0 for an add and all
        tables otherwise; ``new_cookie`` is the cookie of added flows and, unless all
        ones, replaces the cookie of modified ones; ``cookie``/``cookie_mask`` (from
        NXM_NX_COOKIE) filter modify/delete; a modify that selects nothing adds the
        flow when ``new_cookie`` is not all ones and ``cookie_mask`` is 0; ``out_port``
        is 32-bit.  Raises :class:`OFPError`; then nothing changed."""
        if command not in _COMMANDS:
            raise _err(ET.OFPET_FLOW_MOD_FAILED, FMFC.OFPFMFC_BAD_COMMAND, f"command {command}")
        if flags & ~_FLAGS10 or flags & _OF10_EMERG:
            raise _err(ET.OFPET_FLOW_MOD_FAILED, FMFC.OFPFMFC_BAD_FLAGS, f"flags {flags:#x}")
        add = command == _ADD
        if add and cookie_mask:
            raise _err(ET.OFPET_BAD_REQUEST, BRC.OFPBRC_EPERM,
                       "an add may not match on the cookie")
        if table_id != OFPTT_ALL and table_id >= self.n_tables:
            raise _err(ET.OFPET_FLOW_MOD_FAILED, FMFC.OFPFMFC_BAD_TABLE_ID, f"table {table_id}")
        if add and table_id == OFPTT_ALL:
            table_id = 0
        is_delete = command in _DELETES
        fm = _FM(
            command=command, table_id=table_id, priority=priority, match=match,
            cmatch=_check_match(match), new_cookie=new_cookie,
            cookie=0 if add else cookie, cookie_mask=0 if add else cookie_mask,
            idle_timeout=idle_timeout, hard_timeout=hard_timeout, flags=flags,
            importance=0, out_port=out_port if is_delete else OFPP_ANY, out_group=OFPG_ANY,
            instructions=[A.InstructionApplyActions(list(actions))] if actions else [],
            reset_counts=add,
            may_add=(command in _MODIFIES
                     and new_cookie != _COOKIE_ALL and not cookie_mask))
        return self._transaction(lambda txn: self._apply(txn, fm))

    def check_flow_mod(self, fm: messages.FlowMod | messages.FlowMod10) -> None:
        """Validates ``fm`` (decode-level checks and its instructions against the
        current groups, meters and ports) without changing anything, as OVS does when
        a flow-mod is added to a bundle (OpenFlow 1.4.1 section 6.8.3: the switch may
        report errors at OFPT_BUNDLE_ADD_MESSAGE time).  Raises :class:`OFPError`."""
        n = self._normalise(fm)
        if n.command not in _DELETES:
            self.check_instructions(n.instructions, 0 if n.table_id == OFPTT_ALL
                                    else n.table_id, n.match)

    def flow_mod_bundle(
        self, fms: Sequence[messages.FlowMod | messages.FlowMod10]
    ) -> list[FlowModResult]:
        """:meth:`flow_mod_batch` for a bundle commit (OpenFlow 1.4.1 section 6.8.4):
        all or nothing; the raised :class:`OFPError` carries ``index``, the position
        in ``fms`` of the flow-mod that failed, so the switch can answer that message."""
        def run(txn: _Txn) -> list[FlowModResult]:
            out = []
            for i, fm in enumerate(fms):
                try:
                    out.append(self._apply(txn, self._normalise(fm)))
                except OFPError as e:
                    e.index = i  # type: ignore[attr-defined]
                    raise
            return out

        return self._transaction(run)

    def _apply(self, txn: _Txn, fm: _FM) -> FlowModResult:
        res = FlowModResult(fm.command)
        if fm.command == _ADD:
            self._add(txn, fm, res)
        elif fm.command in _MODIFIES:
            strict = fm.command == _MODIFY_STRICT
            rules = self._select(fm.table_id, fm.cmatch, fm.priority if strict else None,
                                 fm.cookie, fm.cookie_mask, OFPP_ANY, OFPG_ANY)
            if not rules:
                if fm.may_add:
                    add_fm = replace(fm, table_id=0 if fm.table_id == OFPTT_ALL
                                     else fm.table_id)
                    self._add(txn, add_fm, res)
                else:
                    # Still report bad instructions (OVS checks them at decode time).
                    self.check_instructions(fm.instructions, fm.table_id, fm.match)
                return res
            now = self.clock()
            checked: set[int] = set()
            for r in rules:
                if r.table_id not in checked:
                    self.check_instructions(fm.instructions, r.table_id, r.match)
                    checked.add(r.table_id)
            for r in rules:
                changes: dict[str, Any] = {"instructions": list(fm.instructions),
                                           "modified": now}
                if fm.new_cookie is not None and fm.new_cookie != _COOKIE_ALL:
                    changes["cookie"] = fm.new_cookie
                if fm.reset_counts:
                    changes["packet_count"] = 0
                    changes["byte_count"] = 0
                self._mutate(txn, r, **changes)
                res.modified.append(r)
        else:
            strict = fm.command == _DELETE_STRICT
            for r in self._select(fm.table_id, fm.cmatch, fm.priority if strict else None,
                                  fm.cookie, fm.cookie_mask, fm.out_port, fm.out_group):
                self._unlink(txn, r)
                res.deleted.append(r)
        return res

    def _add(self, txn: _Txn, fm: _FM, res: FlowModResult, now: float | None = None,
             staged: bool = False) -> None:
        """Adds ``fm``'s rule, in place of an identical one if there is one.  A
        ``staged`` add owns its match (flow_mod copied it)."""
        table = self._table(fm.table_id)
        # Staged adds were checked when staged, and nothing may have changed since (see
        # _settle); checking again costs little and keeps a bug from installing a rule
        # that names a port, group or meter that is gone.
        self.check_instructions(fm.instructions, fm.table_id, fm.match)
        if fm.flags & _CHECK_OVERLAP and table.overlaps(fm.cmatch, fm.priority):
            raise _err(ET.OFPET_FLOW_MOD_FAILED, FMFC.OFPFMFC_OVERLAP,
                       "overlapping rule with the same priority")
        if now is None:
            now = self.clock()
        rule = OFRule(
            table_id=fm.table_id, priority=fm.priority,
            match=fm.match if staged else fm.match.copy(),
            cookie=fm.new_cookie or 0, idle_timeout=fm.idle_timeout,
            hard_timeout=fm.hard_timeout, flags=fm.flags & _FLAGS13,
            importance=fm.importance, instructions=fm.instructions,
            created=now, modified=now, last_used=now)
        # One probe: inserted, or in the identical rule's place (and tie-break slot).
        old_cr = table.replace(self._new_cr(rule, fm.cmatch))
        if old_cr is None:
            txn.note(rule)
            rule._order = next(self._orders)
        else:
            old: OFRule = old_cr.payload
            txn.note(old)
            txn.note(rule)
            if not fm.reset_counts:
                rule.packet_count, rule.byte_count = old.packet_count, old.byte_count
            rule._order = old._order
            old._installed = False
            self._index_expiry(old)
            txn.removed.append(old)
            res.replaced.append((old, rule))
        rule._installed = True
        self._index_expiry(rule)
        txn.added.append(rule)
        res.added.append(rule)

    def _select(self, table_id: int, cmatch: Canon, priority: int | None,
                cookie: int, cookie_mask: int, out_port: int, out_group: int
                ) -> list[OFRule]:
        """Rules selected by a modify/delete/stats request (spec 1.3.5 6.4): strict
        (``priority`` given: identical match and priority) or loose (at least as
        specific as ``cmatch``), then the cookie, out_port and out_group filters."""
        tids = range(self.n_tables) if table_id == OFPTT_ALL else (table_id,)
        out: list[OFRule] = []
        for t in tids:
            cls = self._tables.get(t)
            if cls is None or not len(cls):
                continue
            if priority is None:
                crs: Iterable[Rule] = cls.iter_matching_loose(cmatch)
            else:
                crs = cls.iter_matching_strict(cmatch, priority)
            if not cookie_mask and out_port == OFPP_ANY and out_group == OFPG_ANY:
                out.extend([cr.payload for cr in crs])   # no filter (a dump-flows)
                continue
            for cr in crs:
                r: OFRule = cr.payload
                if ((r.cookie ^ cookie) & cookie_mask == 0 and r.has_output(out_port)
                        and r.has_group(out_group)):
                    out.append(r)
        return out

    # ------------------------------------------------------------------- stats

    def _stats_select(self, table_id: int, match: oxm.Match | None, out_port: int,
                      out_group: int, cookie: int, cookie_mask: int) -> list[OFRule]:
        self._settle()
        if table_id != OFPTT_ALL and table_id >= self.n_tables:
            raise _err(ET.OFPET_BAD_REQUEST, BRC.OFPBRC_BAD_TABLE_ID, f"table {table_id}")
        cmatch = _check_match(match if match is not None else oxm.Match())
        return self._select(table_id, cmatch, None, cookie, cookie_mask, out_port, out_group)

    def flow_stats(self, table_id: int = OFPTT_ALL, match: oxm.Match | None = None,
                   out_port: int = OFPP_ANY, out_group: int = OFPG_ANY, cookie: int = 0,
                   cookie_mask: int = 0) -> list[OFRule]:
        """Rules for an OFPMP_FLOW request (spec 1.3.5 A.3.5.2): non-strict match,
        out_port/out_group/cookie filters, ``table_id`` 0xff = all tables.  Bad table
        -> OFPET_BAD_REQUEST/OFPBRC_BAD_TABLE_ID (as OVS)."""
        return self._stats_select(table_id, match, out_port, out_group, cookie, cookie_mask)

    def aggregate(self, table_id: int = OFPTT_ALL, match: oxm.Match | None = None,
                  out_port: int = OFPP_ANY, out_group: int = OFPG_ANY, cookie: int = 0,
                  cookie_mask: int = 0) -> AggregateStats:
        """OFPMP_AGGREGATE (spec 1.3.5 A.3.5.3) over the same selection as flow_stats."""
        rules = self._stats_select(table_id, match, out_port, out_group, cookie, cookie_mask)
        return AggregateStats(sum(r.packet_count for r in rules),
                              sum(r.byte_count for r in rules), len(rules))

    def table_stats(self) -> list[messages.TableStats]:
        """OFPMP_TABLE (spec 1.3.5 A.3.5.4): one entry per table."""
        self._settle()
        out = []
        for t in range(self.n_tables):
            cls = self._tables.get(t)
            out.append(messages.TableStats(t, len(cls) if cls is not None else 0,
                                           self._lookups[t], self._matched[t]))
        return out

    def flow_stats_entry(self, rule: OFRule, now: float | None = None,
                         version: int = OFP13) -> messages.FlowStats:
        """The ofp_flow_stats for ``rule`` (spec 1.3.5 A.3.5.2)."""
        sec, nsec = rule.duration(self.clock() if now is None else now)
        return messages.FlowStats(rule.table_id, sec, nsec, rule.priority, rule.idle_timeout,
                                  rule.hard_timeout, rule.flags, rule.importance, rule.cookie,
                                  rule.packet_count, rule.byte_count,
                                  rule.match.copy(), list(rule.instructions),
                                  version)

    def flow_removed(self, rule: OFRule, reason: int, now: float | None = None,
                     version: int = OFP13) -> messages.FlowRemoved:
        """An OFPT_FLOW_REMOVED for ``rule`` (spec 1.3.5 A.4.2).  OF1.3 has no
        GROUP_DELETE/METER_DELETE reasons: they are sent as OFPRR_DELETE (as OVS)."""
        if version < OFP14 and reason > RR.OFPRR_DELETE:
            reason = int(RR.OFPRR_DELETE)
        sec, nsec = rule.duration(self.clock() if now is None else now)
        return messages.FlowRemoved(version=version, cookie=rule.cookie,
                                    priority=rule.priority, reason=reason,
                                    table_id=rule.table_id, duration_sec=sec,
                                    duration_nsec=nsec, idle_timeout=rule.idle_timeout,
                                    hard_timeout=rule.hard_timeout,
                                    packet_count=rule.packet_count,
                                    byte_count=rule.byte_count,
                                    match=rule.match.copy())

    # ------------------------------------------------------ datapath feedback

    def credit(self, rule: OFRule, packets: int, bytes: int,  # noqa: A002
               used: float | None = None) -> None:
        """Attribute datapath statistics to ``rule``; ``used`` (clock seconds) is when
        a packet last hit it (default: now), refreshing the idle timeout."""
        rule.packet_count += packets
        rule.byte_count += bytes
        if packets:
            t = self.clock() if used is None else used
            if t > rule.last_used:
                rule.last_used = t

    def expire(self, now: float | None = None) -> list[tuple[OFRule, int]]:
        """Remove rules whose hard timeout (since creation) or idle timeout (since the
        last packet, or creation) has passed (spec 1.3.5 section 5.5, "Flow Removal");
        a rule past both expires as OFPRR_HARD_TIMEOUT.  Returns (rule, reason)."""
        self._settle()
        t = self.clock() if now is None else now
        due: list[tuple[OFRule, int]] = []
        for r in self._expirable:
            if r.hard_timeout and t >= r.created + r.hard_timeout:
                due.append((r, int(RR.OFPRR_HARD_TIMEOUT)))
            elif r.idle_timeout and t >= r.last_used + r.idle_timeout:
                due.append((r, int(RR.OFPRR_IDLE_TIMEOUT)))
        if not due:
            return []
        due.sort(key=lambda e: (e[0].table_id, e[0]._order))

        def run(txn: _Txn) -> None:
            for r, _reason in due:
                self._unlink(txn, r)

        self._transaction(run)
        return due

    def next_expiry(self) -> float | None:
        """The earliest time at which :meth:`expire` could remove something."""
        self._settle()
        best: float | None = None
        for r in self._expirable:
            for t in (r.created + r.hard_timeout if r.hard_timeout else None,
                      r.last_used + r.idle_timeout if r.idle_timeout else None):
                if t is not None and (best is None or t < best):
                    best = t
        return best

    # ------------------------------------------------------ groups and meters

    def _remove_flows(self, rules: Iterable[OFRule], reason: int) -> list[tuple[OFRule, int]]:
        doomed = sorted({r for r in rules if r._installed},
                        key=lambda r: (r.table_id, r._order))
        if doomed:
            def run(txn: _Txn) -> None:
                for r in doomed:
                    self._unlink(txn, r)

            self._transaction(run)
        return [(r, reason) for r in doomed]

    def group_mod(self, gm: messages.GroupMod) -> tuple[GroupModResult, list[tuple[OFRule, int]]]:
        """Apply OFPT_GROUP_MOD to :attr:`groups` and delete the flows that forwarded to
        a deleted group (spec 1.3.5 section 6.5, reason OFPRR_GROUP_DELETE).  Flows
        using a modified group (directly or through chaining) are reported to the
        listeners for revalidation."""
        self._settle()
        res = self.groups.group_mod(gm)
        removed = self._remove_flows(
            itertools.chain.from_iterable(self._by_group.get(g, ()) for g in res.deleted),
            int(RR.OFPRR_GROUP_DELETE))
        if res.modified:
            users: set[OFRule] = set()
            for g in self.groups.referrers(res.modified):
                users.update(self._by_group.get(g, ()))
            if users:
                ordered = sorted(users, key=lambda r: (r.table_id, r._order))
                for fn in list(self._listeners):
                    fn(ordered)
        return res, removed

    def meter_mod(self, mm: messages.MeterMod) -> tuple[MeterModResult, list[tuple[OFRule, int]]]:
        """Apply OFPT_METER_MOD to :attr:`meters` and delete the flows that used a
        deleted meter (spec 1.3.5 section 6.6, reason OFPRR_METER_DELETE)."""
        self._settle()
        res = self.meters.meter_mod(mm)
        removed = self._remove_flows(
            itertools.chain.from_iterable(self._by_meter.get(m, ()) for m in res.deleted),
            int(RR.OFPRR_METER_DELETE))
        if res.modified:
            users = set(itertools.chain.from_iterable(
                self._by_meter.get(m, ()) for m in res.modified))
            if users:
                ordered = sorted(users, key=lambda r: (r.table_id, r._order))
                for fn in list(self._listeners):
                    fn(ordered)
        return res, removed
