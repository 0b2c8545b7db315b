"""Plain flow adds read by their layout: the fast path of bulk loads such as
``ovs-ofctl add-flows``.

Relation to the other modules: :class:`ofproto.flowtable.Pipeline` owns one
:class:`AddLayouts`.  When the pipeline stages a plain ``OFPFC_ADD`` (OpenFlow 1.0, or
1.3-1.5) that the codec (:mod:`ofproto.ofp.messages`) decoded and the pipeline
validated, it passes the message's wire form to :meth:`AddLayouts.learn`;
:meth:`Pipeline.stage_add` then reads later flow-mods laid out the same way with
:meth:`AddLayouts.read`, without the codec.  The switch offers it every flow-mod before
decoding (``take_raw``).

A bulk load sends thousands of flow-mods that differ only in field values, cookie,
priority, timeouts and importance.  Whether such an add is valid, and what it means,
depends beyond those values only on its layout: version, length, table, command, buffer
id, flags, the OXM TLV headers in order, the values of the fields that the other fields'
prerequisites test (spec 1.3.5 7.2.3.6: ``eth_type`` under ``ip_proto``, ...), and the
bytes after the match (padding and instructions).  A layout is one ``struct`` that
unpacks the varying values and the TLV headers in a single call.  A message is read by
it only if its headers, tested prerequisite values and trailing bytes equal the learnt
message's, and every value passes the checks that stay per value (no bits beyond the
field, none outside the field's mask: spec A.4.4 ``OFPBMC_BAD_VALUE``,
``OFPBMC_BAD_MASK``, ``OFPBMC_BAD_WILDCARDS``).  Anything else reads as None and takes
the general way, which reports the error if there is one; so this path accepts only
what the general way accepts, with the same result (:meth:`AddLayouts.learn` checks
that on the learnt message itself).

OpenFlow 1.0's ``ofp_match`` (spec 1.0.0 5.2.3) is 40 fixed bytes that OVS interprets
(``match_from_of10``: wildcards, ARP and ICMP renames, dropped fields whose
prerequisites fail).  There the layout is the wildcards and every match byte except
those of the fields whose value passes unchanged into the match, which are the
Ethernet addresses, the IPv4 addresses (under the wildcards' prefix mask) and the
transport ports (when they mean ports, not ICMP type and code); those vary.

The instructions (OpenFlow 1.0: the actions) are decoded once per layout and shared by
its rules (nothing mutates an instruction in place); the pipeline checks them per
message against the current ports, groups and meters.
"""

from __future__ import annotations

import itertools
import operator
import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ofproto.ofp import actions as A
from ofproto.ofp import oxm
from ofproto.ofp.consts import OFPFlowModFlags, OFPFlowWildcards10

__all__ = ["AddLayouts", "ReadAdd"]

#: ofp_flow_mod (spec 1.3.5 A.3.4.1) up to its match's TLVs: cookie, idle_timeout,
#: hard_timeout, priority, importance (pad in 1.3); the rest is part of the layout.
_HEAD = "!8xQ10xHHH14xH4x"
_N_HEAD = 5
_MATCH_OFF = 48
_INT_FORMATS = {1: "B", 2: "H", 4: "I", 8: "Q"}
#: Layouts kept at most; a bulk load uses a handful.  Beyond it they are forgotten.
MAX_LAYOUTS = 256
_NONES = itertools.repeat(None)

Canon = tuple[tuple[str, int, int], ...]
#: What :meth:`AddLayouts.read` returns: table_id, priority, cookie, idle_timeout,
#: hard_timeout, flags, importance (0 before 1.4), reset_counts, match, its canonical
#: form, and the layout's instructions (shared: copy the list before keeping it).
ReadAdd = tuple[int, int, int, int, int, int, int, bool, oxm.Match, Canon,
                list[A.Instruction]]
_MATCH, _CMATCH, _PRIORITY = 8, 9, 1   # their places in a ReadAdd

#: OpenFlow 1.0 ofp_flow_mod (spec 1.0.0 5.3.3) up to its actions: ofp_match
#: (wildcards, in_port, dl_src, dl_dst, dl_vlan, dl_vlan_pcp, dl_type, nw_tos, nw_proto,
#: nw_src, nw_dst, tp_src, tp_dst), cookie, command, idle_timeout, hard_timeout,
#: priority, buffer_id, out_port, flags.
_S10 = struct.Struct("!8xIH6s6sHBxHBB2xIIHHQHHHHIHH")
_OF10_COOKIE = 13
_OF10_ACTIONS = 72
# Match fields whose value reaches the OXM match unchanged (masked by the wildcards'
# prefix for the IPv4 addresses): struct index -> the names it may take there.
_OF10_VARYING = {2: {"eth_src"}, 3: {"eth_dst"}, 9: {"ip_src", "arp_spa"},
                 10: {"ip_dst", "arp_tpa"}, 11: {"tcp_src", "udp_src", "sctp_src"},
                 12: {"tcp_dst", "udp_dst", "sctp_dst"}}
# Where those fields lie in ofp_match (offsets from its start, lengths).
_OF10_BYTES = {2: (6, 6), 3: (12, 6), 9: (28, 4), 10: (32, 4), 11: (36, 2), 12: (38, 2)}


_FULL = {w: (1 << 8 * w) - 1 for w in _INT_FORMATS}
_RESET_COUNTS = int(OFPFlowModFlags.OFPFF_RESET_COUNTS)
_OFPFW10_ALL = int(OFPFlowWildcards10.OFPFW_ALL)


def _getter(indices: list[int]) -> Callable[[tuple[Any, ...]], tuple[Any, ...]]:
    """A getter of ``indices`` that always returns a tuple (itemgetter of one index
    returns the item, and of none is an error)."""
    if not indices:
        return lambda _vals: ()
    if len(indices) == 1:
        i = indices[0]
        return lambda vals: (vals[i],)
    return operator.itemgetter(*indices)


def _readable(raw: bytes) -> bool:
    """Whether ``raw`` is long enough to hold what a layout reads before the match
    (OpenFlow 1.3+) or the actions (1.0)."""
    return len(raw) >= (_OF10_ACTIONS if raw[0] == 1 else _MATCH_OFF + 4)


def _key(raw: bytes) -> tuple[Any, ...]:
    if raw[0] == 1:
        # Length, wildcards, command, buffer id + out_port + flags.
        return (1, len(raw), raw[8:12], raw[56:58], raw[64:72])
    # Version, length, table + command, buffer id + out_port + out_group + flags, and
    # the ofp_match header: everything fixed that lies before the TLVs.
    return (raw[0], len(raw), raw[24:26], raw[32:46], raw[48:52])


@dataclass(slots=True, frozen=True)
class _Layout:
    """An OpenFlow 1.3-1.5 layout."""

    unpack: Callable[[bytes], tuple[Any, ...]]
    fixed: Callable[[tuple[Any, ...]], Any]   # TLV headers and tested prerequisites
    expect: Any
    match_end: int
    tail: bytes    # from match_end on: the match's padding and the instructions
    # Per TLV in wire order: (value index, mask index or 0, all-ones of the field,
    # whether value and mask are read as bytes).
    fields: tuple[tuple[int, int, int, bool], ...]
    names: tuple[str, ...]
    # The canonical (classifier) order: (wire-order index, name, all-ones).
    order: tuple[tuple[int, str, int], ...]
    # When every field is exact and fills its bytes (no value can be out of range):
    # getters of the values in wire order and in canonical order, and the canonical
    # names and masks; None otherwise.
    exact: tuple[Callable[[tuple[Any, ...]], tuple[int, ...]],
                 Callable[[tuple[Any, ...]], tuple[int, ...]],
                 tuple[str, ...], tuple[int, ...]] | None
    wires: Mapping[str, oxm.Wire]
    table_id: int
    flags: int
    importance: bool
    reset_counts: bool
    instructions: list[A.Instruction]

    def read(self, raw: bytes) -> ReadAdd | None:
        vals = self.unpack(raw)
        if self.fixed(vals) != self.expect or raw[self.match_end:] != self.tail:
            return None
        cookie, idle, hard, priority, importance = vals[:_N_HEAD]
        if not self.importance:
            importance = 0
        if self.exact is not None:
            wire_values, canon_values, names, fulls = self.exact
            match = oxm.Match.normalised(
                dict(zip(self.names, zip(wire_values(vals), _NONES, strict=False),
                         strict=True)), dict(self.wires))
            return (self.table_id, priority, cookie, idle, hard, self.flags, importance,
                    self.reset_counts, match,
                    tuple(zip(names, canon_values(vals), fulls, strict=True)),
                    self.instructions)
        ents = []
        for vi, mi, full, wide in self.fields:
            v = vals[vi]
            if wide:
                v = int.from_bytes(v, "big")
            if mi:
                m = vals[mi]
                if wide:
                    m = int.from_bytes(m, "big")
                if v > full or m > full or v & ~m:
                    return None
                ents.append((v, m))
            else:
                if v > full:
                    return None
                ents.append((v, None))
        match = oxm.Match.normalised(dict(zip(self.names, ents, strict=True)), dict(self.wires))
        return (self.table_id, priority, cookie, idle, hard, self.flags, importance,
                self.reset_counts, match, _canon(self.order, ents), self.instructions)


@dataclass(slots=True, frozen=True)
class _Layout10:
    """An OpenFlow 1.0 layout."""

    fixmask: int   # the ofp_match bits that must equal fixval's
    fixval: int
    tail: bytes    # the actions
    # Per match entry, in the general way's order: (name, struct index or -1, mask
    # (None: exact), the entry itself when fixed).
    entries: tuple[tuple[str, int, int | None, tuple[int, int | None] | None], ...]
    order: tuple[tuple[int, str, int], ...]
    wires: Mapping[str, oxm.Wire]
    exact: bool    # no wildcards: the priority is 0xffff (OVS)
    flags: int
    instructions: list[A.Instruction]

    def read(self, raw: bytes) -> ReadAdd | None:
        if int.from_bytes(raw[8:48], "big") & self.fixmask != self.fixval \
                or raw[_OF10_ACTIONS:] != self.tail:
            return None
        vals = _S10.unpack_from(raw)
        ents: list[tuple[int, int | None]] = []
        for _name, idx, mask, entry in self.entries:
            if entry is not None:
                ents.append(entry)
                continue
            v = vals[idx]
            if type(v) is bytes:
                v = int.from_bytes(v, "big")
            ents.append((v, None) if mask is None else (v & mask, mask))
        match = oxm.Match.normalised({e[0]: v for e, v in zip(self.entries, ents, strict=True)},
                              dict(self.wires))
        cookie, _cmd, idle, hard, priority = vals[_OF10_COOKIE:_OF10_COOKIE + 5]
        return (0, 0xFFFF if self.exact else priority, cookie, idle, hard, self.flags, 0,
                True, match, _canon(self.order, ents), self.instructions)


def _canon(order: tuple[tuple[int, str, int], ...],
           ents: list[tuple[int, int | None]]) -> Canon:
    """The classifier's canonical form of match entries ``ents`` (wire order) given
    their canonical ``order``: exact entries take the field's all-ones mask, entries
    with an all-zero mask are left out (as ``flowtable._check_match`` makes it)."""
    canon = []
    for k, name, full in order:
        v, m = ents[k]
        if m is None:
            canon.append((name, v, full))
        elif m:
            canon.append((name, v, m))
    return tuple(canon)


class AddLayouts:
    """The layouts of the plain adds a pipeline accepted (see the module docstring).

    :param order: canonical position of every field (the classifier's order, which
        a canonical match is sorted by).
    """

    def __init__(self, order: Mapping[str, int]) -> None:
        self._order = order
        self._layouts: dict[tuple[Any, ...], list[_Layout | _Layout10]] = {}

    def __len__(self) -> int:
        return sum(map(len, self._layouts.values()))

    def read(self, raw: bytes) -> ReadAdd | None:
        """``raw`` (one whole OFPT_FLOW_MOD: OpenFlow 1.0, or 1.3-1.5) read by a learnt
        layout, or None: no layout fits, or a value would fail validation."""
        if not _readable(raw):
            return None
        cands = self._layouts.get(_key(raw))
        if cands is not None:
            for lay in cands:
                got = lay.read(raw)
                if got is not None:
                    return got
        return None

    def learn(self, raw: bytes, priority: int, match: oxm.Match, cmatch: Canon,
              instructions: list[A.Instruction]) -> bool:
        """Remember the layout of ``raw``, a plain add the general way decoded into
        ``match`` and ``instructions`` and accepted with ``priority`` and canonical
        match ``cmatch``.  Returns whether it was learnt (False: already known, or not a
        layout this path reads, such as one with experimenter fields)."""
        if not _readable(raw) or self.read(raw) is not None:
            return False
        lay = (self._layout10(raw, match, instructions) if raw[0] == 1
               else self._layout(raw, instructions))
        if lay is None:
            return False
        key = _key(raw)
        self._layouts.setdefault(key, []).append(lay)
        got = self.read(raw)
        if got is None or got[_CMATCH] != cmatch or got[_PRIORITY] != priority \
                or list(got[_MATCH].entries()) != list(match.entries()):
            # Not what the general way made of it: never read this layout.
            self._layouts[key].remove(lay)
            if not self._layouts[key]:
                del self._layouts[key]
            return False
        if len(self) > MAX_LAYOUTS:
            self._layouts = {key: [lay]}
        return True

    def _layout(self, raw: bytes, instructions: list[A.Instruction]) -> _Layout | None:
        mlen = raw[50] << 8 | raw[51]
        end = _MATCH_OFF + mlen
        if raw[48:50] != b"\x00\x01" or mlen < 4 or end > len(raw):
            return None
        fmt = [_HEAD]
        idx = _N_HEAD
        headers: list[int] = []   # struct indices of the TLV headers
        fields = []
        names = []
        widths = []
        wires = {}
        by_name: dict[str, tuple[int, int]] = {}   # name -> (value index, mask index)
        p = _MATCH_OFF + 4
        while p < end:
            if p + 4 > end:
                return None
            hdr = int.from_bytes(raw[p:p + 4], "big")
            info = oxm.TLV_HEADERS.get(hdr)
            if info is None:
                return None
            name, wire, width, has_mask, _bits = info
            if name in by_name:
                return None
            p += 4 + (2 * width if has_mask else width)
            if p > end:
                return None
            code = _INT_FORMATS.get(width, f"{width}s")
            fmt.append("I" + code + (code if has_mask else ""))
            headers.append(idx)
            vi, mi = idx + 1, idx + 2 if has_mask else 0
            idx += 3 if has_mask else 2
            full = (1 << oxm.field_by_name(name).nbits) - 1
            fields.append((vi, mi, full, width not in _INT_FORMATS))
            names.append(name)
            widths.append(width)
            wires[name] = wire
            by_name[name] = (vi, mi)
        fixed = list(headers)
        for name in names:
            for pname, allowed, _pmask in oxm.field_by_name(name).prereqs:
                target = by_name.get(oxm.field_by_name(pname).name)
                if allowed and target is not None:
                    fixed += [i for i in target if i]
        unpack = struct.Struct("".join(fmt)).unpack_from
        getter = _getter(sorted(set(fixed)))
        order = tuple(sorted(((k, n, fields[k][2]) for k, n in enumerate(names)),
                             key=lambda e: self._order[e[1]]))
        exact = None
        if all(not mi and not wide and full == _FULL[width]
               for (_vi, mi, full, wide), width in zip(fields, widths, strict=True)):
            exact = (_getter([f[0] for f in fields]),
                     _getter([fields[k][0] for k, _n, _f in order]),
                     tuple(n for _k, n, _f in order), tuple(f for _k, _n, f in order))
        return _Layout(
            unpack=unpack, fixed=getter, expect=getter(unpack(raw)),
            match_end=end, tail=raw[end:], fields=tuple(fields), names=tuple(names),
            order=order, exact=exact, wires=wires, table_id=raw[24],
            flags=int.from_bytes(raw[44:46], "big"), importance=raw[0] >= 5,
            reset_counts=bool(raw[45] & _RESET_COUNTS), instructions=instructions)

    def _layout10(self, raw: bytes, match: oxm.Match,
                  instructions: list[A.Instruction]) -> _Layout10 | None:
        vals = _S10.unpack_from(raw)
        wildcards = vals[0]
        entries = []
        fixmask = (1 << 320) - 1   # ofp_match is 40 bytes
        for name, (v, m) in match.entries():
            idx = next((i for i, names in _OF10_VARYING.items() if name in names), -1)
            if idx >= 0:
                raw_v = vals[idx]
                if type(raw_v) is bytes:
                    raw_v = int.from_bytes(raw_v, "big")
                if (raw_v if m is None else raw_v & m) != v:
                    idx = -1   # not the value as sent (an ICMP code, say): keep it fixed
            if idx < 0:
                entries.append((name, -1, m, (v, m)))
                continue
            off, n = _OF10_BYTES[idx]
            fixmask ^= ((1 << 8 * n) - 1) << 8 * (40 - off - n)
            entries.append((name, idx, m, None))
        order = tuple(sorted(((k, e[0], (1 << oxm.field_by_name(e[0]).nbits) - 1)
                              for k, e in enumerate(entries)),
                             key=lambda e: self._order[e[1]]))
        return _Layout10(
            fixmask=fixmask, fixval=int.from_bytes(raw[8:48], "big") & fixmask,
            tail=raw[_OF10_ACTIONS:], entries=tuple(entries), order=order,
            wires=match.wires(), exact=not wildcards & _OFPFW10_ALL,
            flags=vals[-1], instructions=instructions)
