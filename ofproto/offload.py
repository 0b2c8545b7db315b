"""Keeps a bridge's OpenFlow table 0 mirrored into the datapath's table offload.

Where this sits: :class:`~ofproto.bridge.OFBridge` owns one :class:`Table0Offload` when
its datapath offers a :class:`~appliance.dpif.TableOffload` (the userspace one does).
The offload answers misses whose best table-0 rule only outputs to ports (or that
miss the table: drop) without an upcall; everything else still reaches
:mod:`ofproto.xlate` through upcalls.  This module translates each table-0 rule into
what the datapath needs:

* its match as a (key, mask) in the datapath's :class:`~appliance.dpif.odp.FlowKey`
  layout.
  The fields are those whose OpenFlow value is their key storage as is
  (:data:`ofproto.flow.FIELD_STORAGE`); the offload only answers untagged,
  unfragmented packets, on which such a match means the same in both spaces, because
  a rule carries its prerequisites (eth_type, ip_proto) as fields of its own.  A rule
  on any other field (registers, metadata, tunnels, VLAN PCP, ND...) cannot be
  mirrored, and while one is in table 0 the offload is disabled;
* its rank (priority, then the classifier's insertion order, as
  :mod:`ofproto.classifier` breaks ties);
* its datapath outputs, when all it does is output to plain ports (as in
  :func:`ofproto.xlate.plain_outputs`; ports with OFPPC_NO_FWD dropped, as xlate does),
  or "punt" for anything else (NORMAL, controller, goto_table, groups, set-field, a
  patch port...).

It is enabled only while the bridge's translation of a miss depends on nothing but
table 0: no mirrors and not in fail-open.  Rules are synchronised incrementally from
the pipeline's change notifications (a changed rule is re-added under a new id, so
its old megaflows are found stale by the datapath's revalidation); a change of the
ports reloads every rule.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from appliance.dpif import OffloadStats, TableOffload
from appliance.dpif.odp import FIELD_BITS, key_bytes

from . import flow as oflow
from .xlate import PortMap, plain_outputs

_PORT_FIELD = "in_port"
# OpenFlow fields whose value is their FlowKey storage unchanged; VLAN: the offload
# sees only untagged packets, whose vlan_vid/vlan_tci read 0 in both spaces.
_DIRECT = frozenset(
    name for name, (_storage, kind) in oflow.FIELD_STORAGE.items()
    if kind in ("always", "ip", "ipv4", "ipv6", "arp", "tcp", "udp", "sctp", "icmp",
                "icmpv6", "vlan")
) - {"recirc_id", "dp_hash", "pkt_mark", "ip_dscp", "nw_ecn", "nw_tos", "vlan_pcp",
     "tcp_flags", "ip_frag", _PORT_FIELD}


class _Unsupported(Exception):
    """A rule whose match cannot be mirrored."""


class Table0Offload:
    """One bridge's table 0 in ``dp`` (see the module docstring).

    :param dp: the datapath's offload (owned: :meth:`close` frees it).
    :param ports: the bridge's ports (read at every :meth:`sync`).
    """

    def __init__(self, dp: TableOffload, ports: PortMap) -> None:
        self._dp = dp
        self.ports = ports
        # id(OFRule) -> offload rule id for the mirrored rules.
        self._ids: dict[int, int] = {}
        self._by_cid: dict[int, Any] = {}
        self._free: list[int] = []
        # Ids of rules removed since the last revalidation: reusable only once the
        # megaflows that name them are gone.
        self._released: list[int] = []
        self._next_cid = 0
        self._unsupported: set[int] = set()   # id(OFRule) of rules that cannot be
        self._rules: dict[int, Any] = {}      # ... mirrored; every table-0 rule by id
        self._ports_sig: tuple | None = None
        self._pending: list[tuple[Any, int, int]] = []
        self._enabled = False

    # -- rules --

    def rules_changed(self, rules: Iterable[Any]) -> None:
        """Mirrors the changes of these OFRules (added, modified, deleted...)."""
        for rule in rules:
            if rule.table_id == 0:
                self._drop(rule)
                if rule._installed:
                    self._load(rule)

    def _drop(self, rule: Any) -> None:
        key = id(rule)
        self._rules.pop(key, None)
        self._unsupported.discard(key)
        cid = self._ids.pop(key, None)
        if cid is not None:
            self._dp.rule_remove(cid)
            del self._by_cid[cid]
            self._released.append(cid)

    def _load(self, rule: Any) -> None:
        key = id(rule)
        self._rules[key] = rule
        try:
            compiled = self._compile(rule)
        except _Unsupported:
            self._unsupported.add(key)
            return
        if compiled is None:
            return   # matches no packet the datapath can receive on this bridge
        dkey, mask, outs = compiled
        cid = self._free.pop() if self._free else self._new_cid()
        self._dp.rule_add(cid, rule.priority, rule._cr._seq, dkey, mask, outs)
        self._ids[key] = cid
        self._by_cid[cid] = rule

    def _new_cid(self) -> int:
        self._next_cid += 1
        return self._next_cid - 1

    def _compile(self, rule: Any) -> tuple[bytes, bytes, list[int] | None] | None:
        k: dict[str, int] = {}
        m: dict[str, int] = {}
        for name, (value, mask) in rule._cr.match.items():
            if name == _PORT_FIELD:
                port = self.ports.get(value)
                if mask != 0xFFFFFFFF:
                    raise _Unsupported(name)
                if port is None or port.patch is not None:
                    return None
                k["in_port"], m["in_port"] = port.odp_port, 0xFFFFFFFF
                continue
            if name not in _DIRECT:
                raise _Unsupported(name)
            storage = oflow.FIELD_STORAGE[name][0]
            full = (1 << FIELD_BITS[storage]) - 1
            if value & ~full:
                return None   # wider than the key field: no packet has that value
            k[storage] = (k.get(storage, 0) & ~mask) | value
            m[storage] = m.get(storage, 0) | (mask & full)
        return key_bytes(k), key_bytes(m), self._outputs(rule)

    def _outputs(self, rule: Any) -> list[int] | None:
        ofports = plain_outputs(rule)
        if ofports is None:
            return None
        outs = []
        for ofport in ofports:
            p = self.ports.get(ofport)
            if p is None or p.no_fwd:
                continue
            if p.patch is not None:
                return None
            outs.append(p.odp_port)
        return outs if len(outs) <= self._dp.max_outputs else None

    # -- state --

    def sync(self, enabled: bool) -> None:
        """Brings ports and the enabled state up to date (call after any change of
        the bridge), then deletes the megaflows that went stale."""
        sig = tuple((p.ofport, p.odp_port, p.no_fwd, p.no_recv, p.patch is not None)
                    for p in self.ports)
        if sig != self._ports_sig:
            self._reload(sig)
        enabled = enabled and not self._unsupported
        if enabled != self._enabled:
            self._enabled = enabled
            self._dp.enable(enabled)
        self._dp.revalidate()
        self._free += self._released
        self._released.clear()

    def _reload(self, sig: tuple) -> None:
        self._ports_sig = sig
        rules = list(self._rules.values())
        # Rule ids start over, so no megaflow may outlive its rule's id; their last
        # counters are kept for the next credits().
        self._dp.flush()
        self._pending += self.credits()
        self._dp.rule_clear()
        self._ids.clear()
        self._by_cid.clear()
        self._free.clear()
        self._released.clear()
        self._next_cid = 0
        self._unsupported.clear()
        self._rules.clear()
        for rule in rules:
            self._load(rule)
        wanted = {p.odp_port for p in self.ports if p.patch is None and not p.no_recv}
        for odp in {p.odp_port for p in self.ports if p.patch is None} - wanted:
            self._dp.detach(odp)
        for odp in wanted:
            self._dp.attach(odp)

    def detach(self, odp_port: int) -> None:
        """A port leaves the bridge (before the datapath deletes it)."""
        self._dp.detach(odp_port)

    # -- counters --

    def credits(self) -> list[tuple[Any, int, int]]:
        """(OFRule, packets, bytes) the datapath counted for mirrored rules."""
        by_cid = self._by_cid
        out, self._pending = self._pending, []
        return out + [(by_cid[cid], p, b) for cid, p, b in self._dp.credits() if cid in by_cid]

    def flush(self) -> int:
        """Deletes the megaflows it installed; returns how many (their final
        counters are collected by the next :meth:`credits`)."""
        return self._dp.flush()

    def sweep(self, max_idle_ms: int) -> int:
        """Deletes its megaflows idle for ``max_idle_ms`` or more (see
        :meth:`appliance.dpif.TableOffload.sweep`); returns how many."""
        return self._dp.sweep(max_idle_ms)

    def stats(self) -> OffloadStats:
        """The datapath's counters for it (misses handled and punted, megaflows)."""
        return self._dp.stats()

    def close(self) -> None:
        self._dp.close()
