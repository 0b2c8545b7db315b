"""OpenFlow flow-table classifier that reports which packet bits it examined.

Design essay
============

Why un-wildcarding
------------------
An OpenFlow table answers one question: which is the highest-priority rule matching
this packet?  The answer gets cached in the datapath as a *megaflow*: a (values, mask)
pair such that every packet agreeing with the looked-up packet on the mask bits is
handled the same way, with no upcall.  The datapath only helps if the megaflow is
wide: a mask that pins TCP ports when no rule cared about them means a new upcall for
every new connection.  So :meth:`Classifier.lookup` returns the rule and also ORs into
a caller-supplied wildcard dict (``field -> mask``) every bit its decision depended on.
We start fully wildcarded; each step of the lookup that looks at a field (or at part of
one) has to "un-wildcard" those bits.

The rules are the same as OVS's (lib/classifier.h):

* an extra 1-bit in the mask is always safe, just wasteful (all ones is correct);
* a missing 1-bit is a bug: some packet covered by the megaflow would be classified
  differently from the packet that produced it;
* we want as many 0-bits as we can get cheaply.  Nobody knows how to get the widest
  correct mask cheaply, so we use the approximations below.

The invariant (what the tests check)
------------------------------------
For a lookup of ``flow`` that returned ``R`` and left mask ``wc``: *every* flow ``f2``
with ``f2[x] & wc[x] == flow[x] & wc[x]`` for every field ``x`` (missing fields count as
0) gets ``R`` from ``lookup(f2)`` as well.  And ``R`` is exactly what a brute-force scan
would return: the matching rule with the highest priority, ties broken by insertion
order (the earliest inserted wins; :meth:`Classifier.replace` keeps the replaced rule's
place).  OpenFlow leaves same-priority overlaps undefined and OVS picks whichever
subtable its priority vector yields first; we prefer a fully deterministic order so
that a newly added overlapping rule never silently steals traffic and so that the
brute force oracle is simple.  Internally each rule has a *rank* ``(priority, -seq)``
and ranks are unique, so "the best rule" is always well defined.

Why the mask is correct (sketch): every piece of the lookup below either reads bits
and ORs exactly those bits into ``wc``, or makes a decision (skip a subtable, stop the
scan) that depends only on data already proven to be the same for every flow that
agrees on ``wc``.  By induction over the subtables visited, such a flow takes exactly
the same path and reaches the same answer.

Techniques
----------
1. *Tuple space search.*  Rules are grouped by their mask: one subtable per distinct
   ``{field: mask}`` shape.  Within a subtable, a rule matches a packet iff the
   packet's bits under the subtable mask equal the rule's values, so a subtable lookup
   is a hash lookup, not a scan.  10k rules in 10 shapes cost 10 hash probes.  Rules
   with identical match but different priorities share one hash bucket, kept sorted by
   rank, and the bucket head is the subtable's answer.

2. *Priority-ordered subtables with early exit.*  Each subtable knows the best rank it
   holds (a lazily-pruned heap gives it in O(log n) per change).  Subtables are
   visited best-first; once the best match found so far outranks the next subtable's
   best rank, no later subtable can win and the scan stops.  This saves time *and*
   un-wildcarding: the skipped subtables' fields are never examined.  The decision
   only depends on the subtables' static maxima and on the answers obtained so far,
   which is why it is safe for the megaflow.

3. *Staged lookup.*  A subtable's mask is split into stages in header order:
   metadata (in_port, metadata, registers, tunnel and conntrack state), L2, L3, L4.
   Instead of one flat hash table, the subtable is a chain of hash tables keyed stage
   by stage (stage-1 values -> stage-2 values -> ... -> bucket), i.e. a hash index per
   stage prefix.  A miss at stage *k* proves that no rule in the subtable agrees with
   the packet on stages 1..k, so only those stages' mask bits are un-wildcarded.  The
   classic win: a rule for "TCP dst port 80" must not cause a UDP packet's ports to be
   un-wildcarded, because the L3 stage (ip_proto) already missed.  Staging costs a
   couple of extra dict probes; it does not speed lookups up.

4. *Field-level miss proofs with prefix tracking.*  When stage *k* misses we first try
   to prove the miss from a single field of that stage alone.  Each subtable keeps, per
   field, the set of values its rules require.  If the packet's value for field ``x``
   is not in that set, no rule of the subtable can match whatever the other fields
   hold, so ``x``'s bits suffice - not even stages 1..k-1 need to be un-wildcarded.
   When the subtable's mask on ``x`` is a prefix mask (CIDR, which includes exact
   matches) the value set also answers the trie question "how far down a binary trie
   of the rules' prefixes does the packet get?": only the leading bits up to and
   including the first bit where the packet leaves the trie are needed.  (The trie
   is implicit: the longest common prefix of the probe with any member is the longer
   of its common prefixes with its two neighbours in a sorted list, so a probe is one
   bisection and two XORs; the sorted list is a ``sortedcontainers.SortedList``, so
   insertion stays O(log n) with 100k rules, where a plain list's memmove did not.)  This is OVS's
   prefix tracking (ip src/dst tries) and its ports trie, generalised to every field:
   a packet to 192.168.1.1 against routes in 10.0.0.0/8 un-wildcards one bit of
   ipv4_dst, not eight, and not the rest of the subtable.  The tries are per subtable
   rather than classifier-global as in OVS: a subtable's trie holds a subset of the
   global one's prefixes, so the bits it needs are never more than what the global
   trie would un-wildcard for that subtable.  Among several fields that each prove the
   miss, the one adding the fewest new bits to ``wc`` is chosen.  Fields whose mask is
   not a prefix (e.g. ``vlan_tci/0x1fff``) use a plain value set and un-wildcard that
   field's whole mask.  If no single field proves the miss, stages 1..k are
   un-wildcarded as in (3).

A subtable hit un-wildcards the subtable's whole mask (every bit was compared).

What is not implemented: OVS's conjunctive matches, versioning and deferred
publication.  Mutations are not thread-safe against concurrent lookups (CPython,
single writer assumed by the caller).
"""

from __future__ import annotations

import heapq
import operator
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping, Sequence
from typing import Any

from sortedcontainers import SortedList

__all__ = [
    "Canon",
    "Classifier",
    "Rule",
    "Wildcards",
    "default_stage",
    "field_order",
    "normalize_match",
    "STAGE_METADATA",
    "STAGE_L2",
    "STAGE_L3",
    "STAGE_L4",
]

Wildcards = MutableMapping[str, int]
"""A megaflow mask under construction: field name -> mask of bits examined."""

Match = Mapping[str, "tuple[int, int] | int"]

Canon = tuple[tuple[str, int, int], ...]
"""A match in canonical form: ``(field, value, mask)`` triples, masks full width (no
-1), no all-zero masks, in :func:`field_order`.  Every method taking a match also takes
a Canon, as is: a caller that validated its match already (the flow table) builds one
with :meth:`Classifier.canon` or in the same order, and skips the re-validation."""

STAGE_METADATA, STAGE_L2, STAGE_L3, STAGE_L4 = 0, 1, 2, 3

# A Canon triple's (field, mask): map() with it runs in C, where a comprehension is a
# Python call of its own.
_FIELD_MASK = operator.itemgetter(0, 2)

_STAGE_PATTERNS: tuple[tuple[int, re.Pattern[str]], ...] = (
    (
        STAGE_METADATA,
        re.compile(
            r"^(in_port|in_phy_port|metadata|x{0,2}reg\d+|tun_.*|tunnel_.*|recirc_id|dp_hash"
            r"|conj_id|skb_priority|pkt_mark|ct_.*|actset_output|packet_type)$"
        ),
    ),
    (STAGE_L2, re.compile(r"^(eth_.*|dl_.*|vlan_.*|mpls_.*)$")),
    (STAGE_L3, re.compile(r"^(ip_.*|ipv4_.*|ipv6_.*|nw_.*|arp_.*)$")),
    (STAGE_L4, re.compile(r"^(tp_.*|tcp_.*|udp_.*|sctp_.*|icmp.*|nd_.*)$")),
)


def default_stage(name: str) -> int:
    """Lookup stage of an OpenFlow-style field name; unknown names are examined last."""
    for stage, pat in _STAGE_PATTERNS:
        if pat.match(name):
            return stage
    return STAGE_L4


def field_order(fields: Iterable[str], stage_of: Mapping[str, int]) -> dict[str, int]:
    """Position of each field in a :data:`Canon`: by stage, then universe order."""
    universe = list(fields)
    ranked = sorted(range(len(universe)), key=lambda i: (stage_of[universe[i]], i))
    return {universe[i]: n for n, i in enumerate(ranked)}


def normalize_match(match: Match) -> dict[str, tuple[int, int]]:
    """Return ``{field: (value, mask)}`` with fully wildcarded fields dropped.

    A bare int value means an exact match; its mask is filled in by the classifier
    (field width), so here it is kept as ``(value, -1)``.
    """
    out: dict[str, tuple[int, int]] = {}
    for name, vm in match.items():
        if isinstance(vm, int):
            value, mask = vm, -1
        else:
            value, mask = vm
        if mask == 0:
            if value:
                raise ValueError(f"{name}: value {value:#x} under an all-zero mask")
            continue
        if value < 0 or (mask != -1 and (mask < 0 or value & ~mask)):
            raise ValueError(f"{name}: value {value:#x} has bits outside mask {mask:#x}")
        out[name] = (value, mask)
    return out


class Rule:
    """A classifier rule: priority, ``{field: (value, mask)}`` match and a payload.

    The classifier owns the rule while it is inserted; do not mutate ``match`` or
    ``priority`` then.  ``payload`` is opaque (actions, counters, ...).
    """

    __slots__ = ("priority", "match", "payload", "_seq", "_key", "_canon")

    def __init__(self, priority: int, match: Match | Canon, payload: Any = None) -> None:
        self.priority = int(priority)
        self.match: dict[str, tuple[int, int]]
        self._canon: Canon | None
        if type(match) is tuple:
            self.match = {f: (v, m) for f, v, m in match}
            self._canon = match
        else:
            self.match = normalize_match(match)  # type: ignore[arg-type]
            self._canon = None
        self.payload = payload
        self._seq = -1  # insertion order; -1 while not in a classifier
        self._key: tuple | None = None  # (priority, canonical match) while inserted

    def matches(self, flow: Mapping[str, int]) -> bool:
        """Whether ``flow`` (missing fields = 0) satisfies this rule's match."""
        get = flow.get
        return all(get(f, 0) & m == v for f, (v, m) in self.match.items())

    def __repr__(self) -> str:
        fields = ",".join(f"{f}={v:#x}/{m:#x}" for f, (v, m) in sorted(self.match.items()))
        return f"Rule(priority={self.priority}, {fields or '*'}, payload={self.payload!r})"


def _prefix_len(mask: int, width: int) -> int | None:
    """Length of ``mask`` if it is a CIDR-style prefix of a ``width``-bit field."""
    n = mask.bit_length()
    if n != width:
        return None
    inv = ~mask & ((1 << width) - 1)
    if inv & (inv + 1):
        return None
    return width - inv.bit_length()


class _PrefixSet:
    """Multiset of ``plen``-bit prefixes of a ``width``-bit field, probed like a trie.

    Members live in a dict (counts) and in a sorted list of distinct prefixes (a
    SortedList: adding 100k rules one by one must not move the whole list each
    time).  The longest common prefix between a probe and *any* member is the longer
    of its common prefixes with its two neighbours in sorted order, so the walk down a
    binary trie is one bisection plus two XORs.  New prefixes wait in ``pending`` until
    the next probe or removal sorts them in together: a bulk load of rules then sorts
    once instead of once per rule.
    """

    __slots__ = ("shift", "plen", "counts", "sorted", "pending", "masks")

    def __init__(self, width: int, plen: int) -> None:
        self.shift = width - plen
        self.plen = plen
        self.counts: dict[int, int] = {}
        self.sorted = SortedList()
        self.pending: list[int] = []
        full = (1 << width) - 1
        # masks[d]: the probe first differs from the nearest member d bits from the
        # end of the prefix, so plen - d + 1 leading bits prove the miss.
        self.masks = [full ^ (full >> (plen - d + 1)) for d in range(plen + 1)]

    def add(self, value: int) -> None:
        k = value >> self.shift
        n = self.counts.get(k, 0)
        self.counts[k] = n + 1
        if not n:
            self.pending.append(k)

    def _sort_pending(self) -> None:
        self.sorted.update(self.pending)
        self.pending.clear()

    def discard(self, value: int) -> None:
        k = value >> self.shift
        n = self.counts[k] - 1
        if n:
            self.counts[k] = n
        else:
            del self.counts[k]
            if self.pending:
                self._sort_pending()
            self.sorted.remove(k)

    def miss_mask(self, value: int) -> int | None:
        """None if ``value``'s prefix is a member, else the leading-bits mask proving
        it is not: bits up to and including the first one where it leaves the trie."""
        k = value >> self.shift
        if k in self.counts:
            return None
        if self.pending:
            self._sort_pending()
        keys = self.sorted
        i = keys.bisect_left(k)
        # The smallest XOR with a neighbour has the fewest significant bits.
        if i == len(keys):
            x = keys[i - 1] ^ k
        elif i:
            x = min(keys[i] ^ k, keys[i - 1] ^ k)
        else:
            x = keys[0] ^ k
        # Common prefix with the trie plus the first bit where the probe leaves it.
        return self.masks[x.bit_length()]


class _ValueSet:
    """Multiset of masked values for a field whose mask is not a prefix."""

    __slots__ = ("counts", "mask")

    def __init__(self, mask: int) -> None:
        self.counts: dict[int, int] = {}
        self.mask = mask

    def add(self, value: int) -> None:
        self.counts[value] = self.counts.get(value, 0) + 1

    def discard(self, value: int) -> None:
        n = self.counts[value] - 1
        if n:
            self.counts[value] = n
        else:
            del self.counts[value]

    def miss_mask(self, value: int) -> int | None:
        return None if value in self.counts else self.mask


def _rank_key(rule: Rule) -> tuple[int, int]:
    """Sort key putting the best rule first: higher priority, then earlier insertion."""
    return (-rule.priority, rule._seq)


class _Subtable:
    """All rules sharing one mask, indexed stage by stage."""

    __slots__ = (
        "mask",
        "stages",
        "root",
        "rules",
        "heap",
        "max_pri",
        "max_seq",
        "fsets",
    )

    def __init__(
        self,
        mask: tuple[tuple[str, int], ...],
        stage_of: Mapping[str, int],
        widths: Mapping[str, int],
        prefix_fields: frozenset[str],
    ) -> None:
        self.mask = mask  # (field, mask) pairs in stage order
        groups: dict[int, list[tuple[str, int]]] = {}
        for f, m in mask:
            groups.setdefault(stage_of[f], []).append((f, m))
        # Each stage: (single field or None, its mask, all (field, mask) pairs).
        self.stages: tuple[tuple[str | None, int, tuple[tuple[str, int], ...]], ...] = tuple(
            (fm[0][0], fm[0][1], tuple(fm)) if len(fm) == 1 else (None, 0, tuple(fm))
            for _, fm in sorted(groups.items())
        )
        # Nested dicts, one level per stage; the last level maps to buckets (lists of
        # rules with identical match, best rank first).  With no stages, root is the
        # bucket itself.
        self.root: Any = {} if self.stages else []
        self.rules: dict[int, Rule] = {}  # seq -> rule
        self.heap: list[tuple[int, int]] = []  # (-priority, seq), lazily pruned
        self.max_pri = 0
        self.max_seq = 0
        self.fsets: dict[str, _PrefixSet | _ValueSet] = {}
        for f, m in mask:
            plen = _prefix_len(m, widths[f]) if f in prefix_fields else None
            self.fsets[f] = _PrefixSet(widths[f], plen) if plen else _ValueSet(m)

    def stage_keys(self, rule: Rule) -> list[Any]:
        match = rule.match
        keys: list[Any] = []
        for single, _m, fm in self.stages:
            if single is not None:
                keys.append(match[single][0])
            else:
                keys.append(tuple([match[f][0] for f, _ in fm]))
        return keys

    def add(self, rule: Rule) -> bool:
        """Insert; returns True if the subtable's best rank changed."""
        keys = self.stage_keys(rule)
        if keys:
            node = self.root
            for k in keys[:-1]:
                nxt = node.get(k)
                if nxt is None:
                    nxt = node[k] = {}
                node = nxt
            bucket = node.get(keys[-1])
            if bucket is None:
                bucket = node[keys[-1]] = []
        else:
            bucket = self.root
        bucket.append(rule)
        if len(bucket) > 1:
            bucket.sort(key=_rank_key)
        fsets = self.fsets
        for f, (v, _m) in rule.match.items():
            fsets[f].add(v)
        self.rules[rule._seq] = rule
        heapq.heappush(self.heap, (-rule.priority, rule._seq))
        # Sequence numbers only grow, so the newcomer ranks first only by priority.
        if len(self.rules) == 1 or rule.priority > self.max_pri:
            self.max_pri, self.max_seq = rule.priority, rule._seq
            return True
        return False

    def swap(self, old: Rule, new: Rule) -> None:
        """Put ``new`` (same match, priority and seq) where ``old`` was."""
        bucket = self._bucket(old)
        bucket[bucket.index(old)] = new
        self.rules[new._seq] = new

    def _bucket(self, rule: Rule) -> list[Rule]:
        keys = self.stage_keys(rule)
        node = self.root
        for k in keys:
            node = node[k]
        return node

    def discard(self, rule: Rule) -> bool:
        """Remove; returns True if the subtable's best rank changed."""
        keys = self.stage_keys(rule)
        path: list[tuple[dict, Any]] = []
        node = self.root
        for k in keys:
            path.append((node, k))
            node = node[k]
        node.remove(rule)
        if not node and path:
            for parent, k in reversed(path):
                del parent[k]
                if parent:
                    break
        for f, (v, _m) in rule.match.items():
            self.fsets[f].discard(v)
        del self.rules[rule._seq]
        if len(self.heap) > 2 * len(self.rules) + 16:
            self.heap = [(-r.priority, s) for s, r in self.rules.items()]
            heapq.heapify(self.heap)
        return self._refresh_max()

    def _refresh_max(self) -> bool:
        heap, rules = self.heap, self.rules
        while heap and heap[0][1] not in rules:
            heapq.heappop(heap)
        if not heap:
            return True
        neg_pri, seq = heap[0]
        if (-neg_pri, seq) == (self.max_pri, self.max_seq):
            return False
        self.max_pri, self.max_seq = -neg_pri, seq
        return True


class Classifier:
    """An OpenFlow flow table: rules over a fixed universe of named integer fields.

    ``fields`` is the universe, ``(name, bit width)`` pairs.  ``stage_of`` maps a field
    name to its lookup stage (default :func:`default_stage`: metadata, L2, L3, L4).
    ``prefix_fields`` limits prefix tracking (trie-narrowed miss proofs) to the given
    fields; ``None`` enables it for every field.
    """

    def __init__(
        self,
        fields: Sequence[tuple[str, int]],
        stage_of: Callable[[str], int] | Mapping[str, int] | None = None,
        prefix_fields: Iterable[str] | None = None,
    ) -> None:
        self._widths: dict[str, int] = {}
        for name, width in fields:
            if name in self._widths:
                raise ValueError(f"duplicate field {name!r}")
            if width <= 0:
                raise ValueError(f"field {name!r}: bad width {width}")
            self._widths[name] = int(width)
        if stage_of is None:
            stage_of = default_stage
        if callable(stage_of):
            fn = stage_of
            self._stage_of = {f: int(fn(f)) for f in self._widths}
        else:
            self._stage_of = {f: int(stage_of.get(f, STAGE_L4)) for f in self._widths}
        self._order_idx = field_order(self._widths, self._stage_of)
        self._prefix_fields = frozenset(self._widths if prefix_fields is None else prefix_fields)
        unknown = self._prefix_fields - self._widths.keys()
        if unknown:
            raise ValueError(f"unknown prefix fields: {sorted(unknown)}")
        self._subtables: dict[tuple[tuple[str, int], ...], _Subtable] = {}
        self._order: list[_Subtable] = []
        self._dirty = False
        self._by_key: dict[tuple, Rule] = {}  # (priority, canonical match) -> rule
        self._by_priority: dict[int, dict[int, Rule]] = {}  # priority -> seq -> rule
        self._seq = 0

    # ----------------------------------------------------------------- helpers

    @property
    def fields(self) -> dict[str, int]:
        """The field universe, name -> bit width."""
        return dict(self._widths)

    def canon(self, match: Match | Canon) -> Canon:
        """The validated canonical form of ``match`` (a Canon is returned as is).
        ValueError for a value outside its mask or wider than the field, KeyError for
        an unknown field."""
        if type(match) is tuple:
            return match
        return self._canon_normalized(normalize_match(match))  # type: ignore[arg-type]

    def _canon_normalized(self, match: dict[str, tuple[int, int]]
                          ) -> tuple[tuple[str, int, int], ...]:
        """:meth:`canon` of a match :func:`normalize_match` already checked (a Rule's)."""
        items = []
        for f, (v, m) in match.items():
            width = self._widths.get(f)
            if width is None:
                raise KeyError(f"unknown field {f!r}")
            full = (1 << width) - 1
            if m == -1:
                m = full
            if m & ~full or v & ~full:
                raise ValueError(f"{f}: {v:#x}/{m:#x} wider than {width} bits")
            items.append((f, v, m))
        items.sort(key=lambda t: self._order_idx[t[0]])
        return tuple(items)

    def _prepare(self, rule: Rule) -> tuple:
        canon = rule._canon
        if canon is None:
            canon = rule._canon = self._canon_normalized(rule.match)
            rule.match = {f: (v, m) for f, v, m in canon}
        return (rule.priority, canon)

    def _resort(self) -> None:
        self._order = sorted(self._subtables.values(), key=lambda s: (-s.max_pri, s.max_seq))
        self._dirty = False

    # ------------------------------------------------------------- mutation

    def insert(self, rule: Rule) -> None:
        """Add ``rule``; ValueError if a rule with the same match and priority exists."""
        if rule._key is not None:
            raise ValueError("rule is already in a classifier")
        key = self._prepare(rule)
        # One probe (hashing the key is not free) both tests and claims the key.
        if self._by_key.setdefault(key, rule) is not rule:
            raise ValueError(f"duplicate rule (same match and priority): {rule!r}")
        self._seq += 1
        rule._seq = self._seq
        self._link(rule, key)

    def _link(self, rule: Rule, key: tuple) -> None:
        """Index ``rule``, which already holds ``key`` in ``_by_key``."""
        rule._key = key
        same = self._by_priority.get(rule.priority)
        if same is None:
            same = self._by_priority[rule.priority] = {}
        same[rule._seq] = rule
        mask = tuple(map(_FIELD_MASK, key[1]))
        st = self._subtables.get(mask)
        if st is None:
            st = self._subtables[mask] = _Subtable(
                mask, self._stage_of, self._widths, self._prefix_fields
            )
        if st.add(rule):
            self._dirty = True

    def remove(self, rule: Rule) -> Rule:
        """Remove the rule with ``rule``'s match and priority and return it (KeyError
        if there is none)."""
        key = rule._key if rule._key is not None else self._prepare_lookup(rule)
        old = self._by_key.pop(key)
        prio = self._by_priority[old.priority]
        del prio[old._seq]
        if not prio:
            del self._by_priority[old.priority]
        mask = tuple(map(_FIELD_MASK, key[1]))
        st = self._subtables[mask]
        if st.discard(old):
            self._dirty = True
        if not st.rules:
            del self._subtables[mask]
            self._dirty = True
        old._key = None
        return old

    def _prepare_lookup(self, rule: Rule) -> tuple:
        if rule._canon is not None:
            return (rule.priority, rule._canon)
        return (rule.priority, self._canon_normalized(rule.match))

    def replace(self, rule: Rule) -> Rule | None:
        """Insert ``rule``, displacing the rule with the same match and priority.

        The new rule takes over the displaced rule's place in the tie-break order.
        Returns the displaced rule, or None if there was none (plain insert).
        """
        if rule._key is not None:
            raise ValueError("rule is already in a classifier")
        key = self._prepare(rule)
        old = self._by_key.setdefault(key, rule)
        if old is rule:
            self._seq += 1
            rule._seq = self._seq
            self._link(rule, key)
            return None
        rule._seq = old._seq
        rule._key = key
        self._by_key[key] = rule
        self._by_priority[rule.priority][rule._seq] = rule
        mask = tuple(map(_FIELD_MASK, key[1]))
        self._subtables[mask].swap(old, rule)
        old._key = None
        return old

    # -------------------------------------------------------------- queries

    def __len__(self) -> int:
        return len(self._by_key)

    def __iter__(self) -> Iterator[Rule]:
        return self.rules()

    def rules(self) -> Iterator[Rule]:
        """All rules, in tie-break order (insertion order; replace keeps the slot)."""
        # _by_key's insertion order is seq order: replace reassigns an existing key,
        # which keeps its position, and a re-inserted rule gets a fresh, larger seq.
        return iter(list(self._by_key.values()))

    @property
    def n_subtables(self) -> int:
        return len(self._subtables)

    def masks(self) -> list[dict[str, int]]:
        """The distinct masks (one per subtable), best subtable first."""
        if self._dirty:
            self._resort()
        return [dict(st.mask) for st in self._order]

    def find_exactly(self, match: Match | Canon, priority: int) -> Rule | None:
        """The rule with exactly this match and priority (OpenFlow strict match)."""
        return self._by_key.get((int(priority), match if type(match) is tuple
                                 else self.canon(match)))

    def iter_matching_strict(self, match: Match | Canon, priority: int) -> Iterator[Rule]:
        """Rules selected by a strict flow-mod / stats request: identical match and
        priority (zero or one rule)."""
        rule = self.find_exactly(match, priority)
        if rule is not None:
            yield rule

    def iter_matching_loose(self, match: Match | Canon) -> Iterator[Rule]:
        """Rules selected by a non-strict flow-mod / stats request (OF1.3 6.4):
        rules at least as specific as ``match``.  For every field bit ``match``
        constrains, the rule must constrain that bit too, to the same value; bits
        ``match`` wildcards are unrestricted.  Priority is ignored.  Yields in
        tie-break order."""
        crit = self.canon(match)
        if not crit:
            return self.rules()
        out: list[Rule] = []
        for st in self._subtables.values():
            smask = dict(st.mask)
            if any(cm & ~smask.get(f, 0) for f, _cv, cm in crit):
                continue  # the subtable wildcards a bit the criteria constrain
            for r in st.rules.values():
                rm = r.match
                if all(rm[f][0] & cm == cv for f, cv, cm in crit):
                    out.append(r)
        out.sort(key=lambda r: r._seq)
        return iter(out)

    def overlaps(self, match: Match | Canon, priority: int) -> bool:
        """OFPFF_CHECK_OVERLAP: is there a rule with the same priority that some
        packet matches together with ``match``?  (An identical rule counts.)"""
        crit = self.canon(match)
        for r in self._by_priority.get(int(priority), {}).values():
            rm = r.match
            if all(f not in rm or not ((rm[f][0] ^ cv) & rm[f][1] & cm) for f, cv, cm in crit):
                return True
        return False

    # --------------------------------------------------------------- lookup

    def lookup(self, flow: Mapping[str, int], wc: Wildcards | None = None) -> Rule | None:
        """The best rule matching ``flow`` (highest priority, then earliest inserted).

        If ``wc`` is given, every bit the lookup examined to reach its answer is ORed
        into it (``wc[field] |= mask``): any flow agreeing with ``flow`` on those bits
        gets the same answer.
        """
        if self._dirty:
            self._resort()
        get = flow.get
        best: Rule | None = None
        bpri = 0
        bseq = 0
        for st in self._order:
            if best is not None and (
                st.max_pri < bpri or (st.max_pri == bpri and st.max_seq > bseq)
            ):
                break  # nothing in this or any later subtable can outrank 'best'
            node = st.root
            depth = 0
            for single, m, fm in st.stages:
                if single is not None:
                    node = node.get(get(single, 0) & m)
                else:
                    node = node.get(tuple([get(f, 0) & fmask for f, fmask in fm]))
                if node is None:
                    break
                depth += 1
            else:
                r = node[0]
                if best is None or r.priority > bpri or (r.priority == bpri and r._seq < bseq):
                    best, bpri, bseq = r, r.priority, r._seq
                if wc is not None:
                    for f, fmask in st.mask:
                        wc[f] = wc.get(f, 0) | fmask
                continue
            if wc is not None:
                if single is not None:
                    # Single-field stage: the key that missed is that field's value.
                    bits = st.fsets[single].miss_mask(get(single, 0) & m)
                    if bits is not None:
                        wc[single] = wc.get(single, 0) | bits
                        continue
                self._unwildcard_miss(st, depth, get, wc)
        return best

    @staticmethod
    def _unwildcard_miss(
        st: _Subtable, depth: int, get: Callable[[str, int], int], wc: Wildcards
    ) -> None:
        """Record the bits proving that ``st`` has no rule for this flow, given that
        its stage ``depth`` lookup missed."""
        fsets = st.fsets
        best_f: str | None = None
        best_bits = 0
        best_cost = -1
        for f, m in st.stages[depth][2]:
            bits = fsets[f].miss_mask(get(f, 0) & m)
            if bits is None:
                continue
            cost = (bits & ~wc.get(f, 0)).bit_count()
            if best_cost < 0 or cost < best_cost:
                best_f, best_bits, best_cost = f, bits, cost
                if not cost:
                    break
        if best_f is not None:
            wc[best_f] = wc.get(best_f, 0) | best_bits
            return
        for i in range(depth + 1):
            for f, m in st.stages[i][2]:
                wc[f] = wc.get(f, 0) | m
