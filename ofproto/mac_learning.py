"""The MAC learning table behind OpenFlow's NORMAL action (OVS ``lib/mac-learning.c``).

Where this sits: each bridge owns one :class:`MacLearningTable`.  :mod:`ofproto.xlate`
learns the source of every packet that reaches ``output:NORMAL`` (when side effects
are allowed, i.e. for upcalls, not for revalidation or tracing) and looks the
destination up to choose between forwarding and flooding.  Megaflows installed from
such translations depend on the table's contents, so every change that can alter a
lookup answer (new entry, move, expiry, flush) bumps :attr:`MacLearningTable.generation`
and records the entry's :meth:`tag <MacLearningTable.tag>` in the changed-tag set; the
revalidator calls :meth:`MacLearningTable.run` periodically (ageing) and re-runs xlate
for the megaflows whose recorded tags changed (or all of them when
:meth:`take_changed_tags` returns ``None``, meaning "too many to track").  The
``fdb/show`` appctl command prints :meth:`MacLearningTable.format_fdb_show`.

Semantics follow OVS (lib/mac-learning.h, lib/mac-learning.c):

* key ``(vlan, mac)`` -> port (an opaque hashable; xlate stores OpenFlow port numbers);
* multicast source addresses are never learned, multicast destinations never looked
  up (:meth:`may_learn`, :meth:`lookup`); VLANs in ``flood_vlans`` do not learn;
* entries expire ``idle_time`` seconds (default 300, clamped to 15..3600 as OVS
  ``normalize_idle_time()``) after they were last learned; ``age`` is
  ``idle_time - (expires - now)``; static entries never expire and print ``static``;
* when the table is full (``max_entries``, default 2048 here as the brief asks; OVS's
  MAC_DEFAULT_MAX is 8192; clamped to 10..1,000,000) a new entry evicts one: by
  default OVS's *fair* policy (the least recently used entry of the port owning the
  most entries, OVS ``evict_mac_entry_fairly()``), or plain LRU with
  ``eviction="lru"``;
* gratuitous ARP locking for bonds (``MAC_GRAT_ARP_LOCK_TIME`` = 5 s): an entry learned
  from a gratuitous ARP on a non-bond port is locked against moves by gratuitous ARPs
  arriving on bond ports.

Time comes from an injected ``clock`` (seconds, float; default ``time.monotonic``), so
tests can age entries without sleeping.  Not thread-safe: the owner serializes access
(one handler thread per bridge, as ofproto's upcall handler does).
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass

__all__ = [
    "MAC_ENTRY_DEFAULT_IDLE_TIME",
    "MAC_DEFAULT_MAX",
    "MAC_GRAT_ARP_LOCK_TIME",
    "MacEntry",
    "MacLearningTable",
    "mac_to_str",
    "mac_from_str",
]

MAC_ENTRY_DEFAULT_IDLE_TIME = 300
MAC_DEFAULT_MAX = 2048
MAC_GRAT_ARP_LOCK_TIME = 5
STATIC = "static"

Mac = bytes  # 6 bytes


def mac_to_str(mac: bytes) -> str:
    return ":".join(f"{b:02x}" for b in mac)


def mac_from_str(text: str) -> bytes:
    parts = text.split(":")
    if len(parts) != 6:
        raise ValueError(f"bad MAC address {text!r}")
    return bytes(int(p, 16) for p in parts)


def _norm_mac(mac: bytes | str | int) -> bytes:
    if isinstance(mac, str):
        return mac_from_str(mac)
    if isinstance(mac, int):
        return mac.to_bytes(6, "big")
    mac = bytes(mac)
    if len(mac) != 6:
        raise ValueError(f"MAC address must be 6 bytes, got {len(mac)}")
    return mac


def is_multicast(mac: bytes) -> bool:
    return bool(mac[0] & 1)


@dataclass
class MacEntry:
    """One learned (or static) address.  ``expires`` is in clock seconds (None for a
    static entry); ``grat_arp_lock`` is when the gratuitous-ARP lock ends."""

    mac: bytes
    vlan: int
    port: Hashable
    expires: float | None
    grat_arp_lock: float = float("-inf")

    @property
    def is_static(self) -> bool:
        return self.expires is None


class MacLearningTable:
    """A bridge's MAC learning table (see the module docstring)."""

    def __init__(self, idle_time: int = MAC_ENTRY_DEFAULT_IDLE_TIME,
                 max_entries: int = MAC_DEFAULT_MAX,
                 clock: Callable[[], float] = time.monotonic,
                 eviction: str = "fair") -> None:
        if eviction not in ("fair", "lru"):
            raise ValueError(f"eviction must be 'fair' or 'lru', not {eviction!r}")
        self.clock = clock
        self.idle_time = self._normalize_idle(idle_time)
        self.max_entries = self._normalize_max(max_entries)
        self.eviction = eviction
        self.flood_vlans: frozenset[int] = frozenset()
        # (vlan, mac) -> entry, least recently used first.
        self._lru: OrderedDict[tuple[int, bytes], MacEntry] = OrderedDict()
        # port -> (vlan, mac) keys of that port's dynamic entries, LRU first.
        self._by_port: dict[Hashable, OrderedDict[tuple[int, bytes], None]] = {}
        self.generation = 0
        self.need_revalidate = False
        self._changed: set[int] | None = set()
        self.total_learned = 0
        self.total_expired = 0
        self.total_evicted = 0
        self.total_moved = 0

    # --- configuration ------------------------------------------------------------

    @staticmethod
    def _normalize_idle(idle_time: int) -> int:
        return 15 if idle_time < 15 else 3600 if idle_time > 3600 else int(idle_time)

    @staticmethod
    def _normalize_max(n: int) -> int:
        return 10 if n < 10 else 1_000_000 if n > 1_000_000 else int(n)

    def set_idle_time(self, idle_time: int) -> None:
        """Changes the ageing time, shifting existing expiries (OVS
        ``mac_learning_set_idle_time()``)."""
        idle_time = self._normalize_idle(idle_time)
        delta = idle_time - self.idle_time
        if delta:
            for e in self._lru.values():
                if e.expires is not None:
                    e.expires += delta
            self.idle_time = idle_time

    def set_max_entries(self, n: int) -> None:
        """Changes the size limit; :meth:`run` trims an overfull table."""
        self.max_entries = self._normalize_max(n)

    def set_flood_vlans(self, vlans: frozenset[int] | set[int]) -> None:
        """VLANs that never learn (every lookup floods).  Returns nothing; a change
        needs revalidation."""
        vlans = frozenset(vlans)
        if vlans != self.flood_vlans:
            self.flood_vlans = vlans
            self._changed_all()
            if vlans:
                self.flush()

    # --- tags / revalidation ---------------------------------------------------------

    @staticmethod
    def tag(mac: bytes | str | int, vlan: int) -> int:
        """A stable 64-bit tag for (mac, vlan); xlate records the tags of the entries
        a translation looked up, so the revalidator can pick the megaflows that a
        change may affect."""
        m = _norm_mac(mac)
        return int.from_bytes(hashlib.blake2b(m + vlan.to_bytes(2, "big"),
                                              digest_size=8).digest(), "big")

    def _changed_tag(self, mac: bytes, vlan: int) -> None:
        self.need_revalidate = True
        self.generation += 1
        if self._changed is not None:
            self._changed.add(self.tag(mac, vlan))
            if len(self._changed) > 4096:
                self._changed = None

    def _changed_all(self) -> None:
        self.need_revalidate = True
        self.generation += 1
        self._changed = None

    def take_changed_tags(self) -> set[int] | None:
        """Tags of entries changed since the last call (None: revalidate everything)
        and resets the set."""
        out = self._changed
        self._changed = set()
        return out

    # --- queries ---------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._lru)

    def may_learn(self, mac: bytes | str | int, vlan: int) -> bool:
        """OVS ``mac_learning_may_learn()``: not multicast, VLAN not flood-only."""
        return vlan not in self.flood_vlans and not is_multicast(_norm_mac(mac))

    def entry(self, mac: bytes | str | int, vlan: int) -> MacEntry | None:
        """The entry for (mac, vlan), expired or not (no side effects)."""
        return self._lru.get((vlan, _norm_mac(mac)))

    def lookup(self, mac: bytes | str | int, vlan: int) -> Hashable | None:
        """The port ``mac`` was learned on in ``vlan``, or None (multicast destination,
        flood VLAN, unknown or already expired address).  No side effects."""
        m = _norm_mac(mac)
        if is_multicast(m) or vlan in self.flood_vlans:
            return None
        e = self._lru.get((vlan, m))
        if e is None:
            return None
        if e.expires is not None and self.clock() >= e.expires:
            return None
        return e.port

    def age(self, e: MacEntry) -> int | str:
        """Seconds since ``e`` was last learned (OVS ``mac_entry_age()``) or
        ``'static'``."""
        if e.expires is None:
            return STATIC
        return int(self.idle_time - (e.expires - self.clock()))

    def entries(self) -> Iterator[MacEntry]:
        """All entries, least recently used first (the ``fdb/show`` order)."""
        return iter(list(self._lru.values()))

    def port_entries(self, port: Hashable) -> list[MacEntry]:
        return [e for e in self._lru.values() if e.port == port]

    # --- updates -----------------------------------------------------------------

    def learn(self, mac: bytes | str | int, vlan: int, port: Hashable, *,
              is_gratuitous_arp: bool = False, is_bond: bool = False) -> bool:
        """A packet from ``mac`` arrived on ``port`` in ``vlan`` (OVS
        ``mac_learning_update()``): inserts or refreshes the entry and records a move.
        Returns True if the table's answer for (mac, vlan) changed (new entry or
        moved), which is when megaflows need revalidation."""
        m = _norm_mac(mac)
        if port is None or not self.may_learn(m, vlan):
            return False
        key = (vlan, m)
        e = self._lru.get(key)
        if e is not None and e.is_static:
            return False
        now = self.clock()
        if e is None:
            if len(self._lru) >= self.max_entries:
                self._evict_one()
            e = MacEntry(m, vlan, None, now + self.idle_time)
            self._lru[key] = e
            self.total_learned += 1
        else:
            self._lru.move_to_end(key)
            e.expires = now + self.idle_time
            if e.port is not None and e.port in self._by_port:
                self._by_port[e.port].move_to_end(key)
        if is_gratuitous_arp:
            if not is_bond:
                e.grat_arp_lock = now + MAC_GRAT_ARP_LOCK_TIME
            elif now < e.grat_arp_lock:
                return False
        if e.port != port:
            if e.port is not None:
                self.total_moved += 1
            self._set_port(e, port)
            self._changed_tag(m, vlan)
            return True
        return False

    def add_static(self, mac: bytes | str | int, vlan: int, port: Hashable) -> bool:
        """Adds (or converts to) a static entry (OVS ``fdb/add``)."""
        m = _norm_mac(mac)
        key = (vlan, m)
        e = self._lru.get(key)
        if e is None:
            if len(self._lru) >= self.max_entries:
                self._evict_one()
            e = MacEntry(m, vlan, None, None)
            self._lru[key] = e
        else:
            self._lru.move_to_end(key)
        e.expires = None
        self._set_port(e, port)
        self._changed_tag(m, vlan)
        return True

    def del_static(self, mac: bytes | str | int, vlan: int) -> bool:
        """Removes a static entry (OVS ``fdb/del``); False if there is none."""
        e = self._lru.get((vlan, _norm_mac(mac)))
        if e is None or not e.is_static:
            return False
        self._expire(e)
        return True

    def _set_port(self, e: MacEntry, port: Hashable) -> None:
        key = (e.vlan, e.mac)
        if e.port is not None:
            lst = self._by_port.get(e.port)
            if lst is not None:
                lst.pop(key, None)
                if not lst:
                    del self._by_port[e.port]
        e.port = port
        if port is not None and not e.is_static:
            self._by_port.setdefault(port, OrderedDict())[key] = None

    def _expire(self, e: MacEntry) -> None:
        self._set_port(e, None)
        del self._lru[(e.vlan, e.mac)]
        self._changed_tag(e.mac, e.vlan)

    def _oldest_dynamic(self) -> MacEntry | None:
        for e in self._lru.values():
            if not e.is_static:
                return e
        return None

    def _evict_one(self) -> None:
        victim: MacEntry | None = None
        if self.eviction == "fair" and self._by_port:
            port = max(self._by_port, key=lambda p: len(self._by_port[p]))
            vlan, m = next(iter(self._by_port[port]))
            victim = self._lru[(vlan, m)]
        else:
            victim = self._oldest_dynamic()
        if victim is not None:
            self.total_evicted += 1
            self._expire(victim)

    def expire(self, mac: bytes | str | int, vlan: int) -> bool:
        """Removes the entry for (mac, vlan), static or not."""
        e = self._lru.get((vlan, _norm_mac(mac)))
        if e is None:
            return False
        self._expire(e)
        return True

    def flush(self) -> int:
        """Removes every dynamic entry (OVS ``mac_learning_flush()``: statics stay);
        returns how many."""
        victims = [e for e in self._lru.values() if not e.is_static]
        for e in victims:
            self._expire(e)
        return len(victims)

    def flush_port(self, port: Hashable) -> int:
        """Removes the entries learned on ``port`` (port deleted, or its VLAN
        configuration changed); returns how many."""
        victims = [e for e in self._lru.values() if e.port == port]
        for e in victims:
            self._expire(e)
        return len(victims)

    def flush_vlan(self, vlan: int) -> int:
        victims = [e for e in self._lru.values() if e.vlan == vlan and not e.is_static]
        for e in victims:
            self._expire(e)
        return len(victims)

    def run(self) -> bool:
        """Periodic work (OVS ``mac_learning_run()``): expires idle entries and trims an
        overfull table.  Returns True if something changed since the last call that may
        require megaflow revalidation, and clears that flag."""
        now = self.clock()
        while True:
            e = self._oldest_dynamic()
            if e is None:
                break
            if len(self._lru) > self.max_entries:
                self.total_evicted += 1
                self._expire(e)
            elif e.expires is not None and now >= e.expires:
                self.total_expired += 1
                self._expire(e)
            else:
                break
        need = self.need_revalidate
        self.need_revalidate = False
        return need

    def next_expiry(self) -> float | None:
        """When :meth:`run` next has work (OVS ``mac_learning_wait()``), or None."""
        e = self._oldest_dynamic()
        return None if e is None else e.expires

    # --- output ----------------------------------------------------------------

    def format_fdb_show(self, port_name: Callable[[Hashable], str] | None = None) -> str:
        """The ``ovs-appctl fdb/show BRIDGE`` text (ofproto-dpif.c
        ``ofproto_unixctl_fdb_show()``): a header, then per entry, LRU first, the port
        (name via ``port_name``, else the number), VLAN, MAC and age or ``static``."""
        lines = [" Port  VLAN  MAC                Age"]
        for e in self._lru.values():
            name = port_name(e.port) if port_name else str(e.port)
            age = self.age(e)
            age_s = "static" if age == STATIC else f"{age:3d}"
            lines.append(f"{name:>5}  {e.vlan:4d}  {mac_to_str(e.mac)}  {age_s}")
        return "\n".join(lines) + "\n"

    def stats(self) -> dict[str, int]:
        """``fdb/stats-show`` counters."""
        return {
            "current": len(self._lru),
            "static": sum(1 for e in self._lru.values() if e.is_static),
            "max": self.max_entries,
            "learned": self.total_learned,
            "expired": self.total_expired,
            "evicted": self.total_evicted,
            "moved": self.total_moved,
        }
