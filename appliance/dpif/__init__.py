"""The dpif provider interface: what ofproto and vswitchd ask of a datapath.

Modelled on OVS's lib/dpif-provider.h. A :class:`Dpif` is one datapath instance with
ports (numbered by the datapath), megaflows (identified by a UFID, matched by a key and
mask, carrying datapath actions), packet execution and upcalls. Keys, masks and actions
are :mod:`appliance.dpif.odp` objects, shared by every provider, so ``dpctl/dump-flows``
reads the same whatever the datapath.

Providers:

- :mod:`appliance.dpif.netdev`: the userspace datapath on DPDK (:mod:`dpdk_glue`);
- later, a netlink provider for the Linux kernel openvswitch module.

Contract common to all methods: they are called from the reactor thread, do not block
for longer than the datapath needs to acknowledge (microseconds for the userspace
datapath), and raise :class:`DpifError` with an errno and a one-line message on
failure; a failed call changes nothing.
"""

from __future__ import annotations

import abc
import errno
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from .odp import Action, FlowKey


class DpifError(Exception):
    """A datapath operation failed: ``errno`` (an errno.E* value) and a message."""

    def __init__(self, err: int, message: str) -> None:
        super().__init__(message)
        self.errno = err

    @property
    def name(self) -> str:
        return errno.errorcode.get(self.errno, str(self.errno))


@dataclass
class DpifPort:
    """A datapath port: its number, name, type ("dpdk", "dpdkvhostuser", ...) and the
    device arguments it was opened with."""

    port_no: int
    name: str
    type: str
    devargs: str = ""


@dataclass
class PortInfo:
    """What the device says about a port: MTU (bytes), Ethernet address (6 bytes), link
    state and speed (Mbps, 0 if unknown), driver name and queue counts."""

    port_no: int
    mtu: int
    mac: bytes
    link_up: bool
    link_speed: int
    driver: str
    n_rxq: int
    n_txq: int


@dataclass
class PortStats:
    """Counters of a port, in packets and bytes."""

    rx_packets: int = 0
    rx_bytes: int = 0
    rx_dropped: int = 0
    rx_errors: int = 0
    tx_packets: int = 0
    tx_bytes: int = 0
    tx_dropped: int = 0
    tx_errors: int = 0
    rxq_packets: list[int] = field(default_factory=list)  # per rx queue
    txq_packets: list[int] = field(default_factory=list)  # per tx queue


@dataclass
class FlowStats:
    """A megaflow's counters: packets, bytes, ``used`` (datapath clock, ms; 0 = never),
    the OR of the TCP flags seen, and when the flow was ``created`` (same clock)."""

    packets: int = 0
    bytes: int = 0
    used: int = 0
    tcp_flags: int = 0
    created: int = 0


@dataclass
class FlowPut:
    """One megaflow to install (``create``) or whose actions to replace (``modify``).

    ``pmd`` None means every PMD thread of a userspace datapath (ignored elsewhere).
    """

    ufid: bytes
    key: FlowKey
    mask: FlowKey
    actions: Sequence[Action]
    create: bool = True
    modify: bool = False
    zero_stats: bool = False
    pmd: int | None = None


@dataclass(slots=True)
class Execute:
    """One packet for :meth:`Dpif.execute_batch`: run ``actions`` on ``packet`` as if
    received on datapath port ``in_port``, on PMD ``pmd`` (None: any)."""

    packet: bytes
    in_port: int
    actions: Sequence[Action]
    pmd: int | None = None


@dataclass
class DpFlow:
    """A megaflow as the datapath reports it."""

    ufid: bytes
    key: FlowKey
    mask: FlowKey
    actions: list[Action]
    stats: FlowStats = field(default_factory=FlowStats)
    pmd: int | None = None


@dataclass
class Upcall:
    """A packet the datapath hands up: a ``"miss"`` (no megaflow matched) or an
    ``"action"`` (a userspace action ran, ``cookie`` its user data)."""

    kind: str
    packet: bytes
    key: FlowKey
    cookie: bytes = b""
    pmd: int | None = None


@dataclass
class PmdStats:
    """Per PMD thread, as ``dpif-netdev/pmd-stats-show`` reports them."""

    pmd: int
    core: int
    packets: int
    emc_hits: int
    megaflow_hits: int
    misses: int
    lost: int
    cycles_busy: int
    cycles_idle: int
    cycles_upcall: int
    n_rxqs: int
    n_flows: int


class Dpif(abc.ABC):
    """A datapath. See the module docstring for the contract shared by all methods."""

    #: "netdev" (userspace) or "system" (kernel), as Bridge.datapath_type says.
    type: str = ""

    # -- ports --

    @abc.abstractmethod
    def port_add(self, name: str, type: str, options: dict[str, str],
                 port_no: int | None = None) -> int:
        """Adds a port and returns its number (``port_no`` if given and free).
        EEXIST: name or number in use; EINVAL/ENODEV: bad type or options."""

    @abc.abstractmethod
    def port_del(self, port_no: int) -> None:
        """Removes a port. ENOENT: no such port."""

    @abc.abstractmethod
    def port_dump(self) -> list[DpifPort]:
        """Every port, by number."""

    @abc.abstractmethod
    def port_info(self, port_no: int) -> PortInfo:
        """The device's view of a port. Raises DpifError(ENOENT) for an unknown port."""

    @abc.abstractmethod
    def port_stats(self, port_no: int) -> PortStats:
        """A port's counters. ENOENT: no such port."""

    # -- flows --

    @abc.abstractmethod
    def flow_put(self, puts: Sequence[FlowPut]) -> list[DpifError | None]:
        """Installs or modifies megaflows in one batch; one result per put (None on
        success, else the error: EEXIST, ENOENT, EINVAL, ENOMEM)."""

    @abc.abstractmethod
    def flow_get(self, ufid: bytes) -> DpFlow:
        """A megaflow with counters summed over PMDs. ENOENT: unknown UFID."""

    @abc.abstractmethod
    def flow_del(self, ufid: bytes) -> FlowStats:
        """Deletes a megaflow, returning its final counters. ENOENT: unknown UFID."""

    @abc.abstractmethod
    def flow_dump(self) -> Iterator[DpFlow]:
        """Every megaflow (once per PMD that holds it, for the userspace datapath)."""

    @abc.abstractmethod
    def flow_flush(self) -> None:
        """Deletes every megaflow."""

    # -- packets --

    @abc.abstractmethod
    def execute(self, packet: bytes, in_port: int, actions: Sequence[Action],
                pmd: int | None = None) -> None:
        """Runs ``actions`` on ``packet`` as if received on ``in_port``."""

    def execute_batch(self, execs: Sequence[Execute]) -> list[DpifError | None]:
        """:meth:`execute` for each of ``execs``, in order; one result per packet (None
        or the error), so a failed packet does not stop the others.  Providers with a
        cheaper bulk path override this."""
        results: list[DpifError | None] = []
        for e in execs:
            try:
                self.execute(e.packet, e.in_port, e.actions, pmd=e.pmd)
            except DpifError as err:
                results.append(err)
            else:
                results.append(None)
        return results

    @abc.abstractmethod
    def flow_extract(self, packet: bytes, in_port: int) -> FlowKey:
        """The flow key this datapath would extract from ``packet`` received on datapath
        port ``in_port`` (what a packet-out is translated with)."""

    @abc.abstractmethod
    def upcall_fd(self) -> int:
        """A file descriptor that becomes readable when upcalls are waiting."""

    @abc.abstractmethod
    def recv_upcalls(self, max_upcalls: int = 64) -> list[Upcall]:
        """Up to ``max_upcalls`` waiting upcalls (none: an empty list)."""

    # -- statistics --

    @abc.abstractmethod
    def now_ms(self) -> int:
        """The datapath clock :class:`FlowStats` times are measured on (ms)."""

    def expire_idle(self, max_idle_ms: int) -> list[DpFlow]:
        """Deletes the megaflows idle for at least ``max_idle_ms`` (unused ones counted
        from their creation), as OVS's revalidators do; returns them with their final
        counters. Flows that vanish meanwhile are skipped."""
        now = self.now_ms()
        expired = []
        for flow in list(self.flow_dump()):
            last = flow.stats.used or flow.stats.created
            if now - last >= max_idle_ms:
                try:
                    flow.stats = self.flow_del(flow.ufid)
                except DpifError:
                    continue
                expired.append(flow)
        return expired

    def pmd_stats(self) -> list[PmdStats]:
        """Per-PMD counters; an empty list for datapaths without PMD threads."""
        return []

    def table_offload(self) -> TableOffload | None:
        """A new :class:`TableOffload`, or None if the datapath has none (then every
        miss is an upcall)."""
        return None

    @abc.abstractmethod
    def close(self) -> None:
        """Removes every port and releases the datapath."""


@dataclass
class OffloadStats:
    """Counters of a :class:`TableOffload`."""

    handled: int       # misses it answered (each a lookup in table 0)
    table_misses: int  # ... of which no rule matched
    punted: int        # misses on its ports it left to upcalls
    installed: int     # megaflows it installed
    revalidated: int   # ... deleted by revalidate()
    expired: int       # ... deleted by sweep()
    n_flows: int       # megaflows it holds now
    n_rules: int


class TableOffload(abc.ABC):
    """A datapath-side mirror of one bridge's OpenFlow table 0 that answers misses
    itself when the best rule only outputs to ports (OVS translates every miss in its
    PMD; ours cross to Python, which this avoids for the common case).

    The owner (:mod:`ofproto.offload`) loads each table-0 rule as a key/mask over the
    :class:`FlowKey` layout, its rank and either its output ports or None ("punt":
    the upcall goes to ofproto's xlate), attaches the bridge's ports, and enables it.
    Misses that are tagged, fragmented or recirculated always go to upcalls.  The
    offload keeps the megaflows it installs; after changes :meth:`revalidate` deletes
    the stale ones, and :meth:`sweep` reads their counters (credited to rules, see
    :meth:`credits`) and expires idle ones.
    """

    #: The most output ports a rule may have (more: load it as a punt).
    max_outputs: int

    @abc.abstractmethod
    def rule_add(self, rule_id: int, priority: int, seq: int, key: bytes, mask: bytes,
                 outs: Sequence[int] | None) -> None:
        """Adds rule ``rule_id`` (a small integer, reusable after removal; a changed rule
        comes back under a new id) matching the keys ``k`` with ``k & mask == key &
        mask`` (both in the layout of :meth:`FlowKey.to_bytes`).  Rank: higher
        ``priority``, then lower ``seq``.  ``outs``: datapath ports in order, or None to
        punt."""

    @abc.abstractmethod
    def rule_remove(self, rule_id: int) -> None:
        """Removes a rule (its undrained credits are dropped)."""

    @abc.abstractmethod
    def rule_clear(self) -> None:
        """Removes every rule."""

    @abc.abstractmethod
    def attach(self, port_no: int) -> None:
        """Misses received on datapath port ``port_no`` go through this offload."""

    @abc.abstractmethod
    def detach(self, port_no: int) -> None:
        """Undoes :meth:`attach`."""

    @abc.abstractmethod
    def enable(self, enabled: bool) -> None:
        """While disabled (initially) every miss is an upcall."""

    @abc.abstractmethod
    def revalidate(self) -> int:
        """Deletes its megaflows the current rules, ports and state would not give;
        returns how many."""

    @abc.abstractmethod
    def flush(self) -> int:
        """Deletes all its megaflows; returns how many."""

    @abc.abstractmethod
    def sweep(self, max_idle_ms: int) -> int:
        """Reads its megaflows' counters into the rules' credits and deletes those idle
        for ``max_idle_ms`` or more; returns how many it deleted."""

    @abc.abstractmethod
    def credits(self) -> list[tuple[int, int, int]]:
        """``(rule_id, packets, bytes)`` counted for rules since the last call."""

    @abc.abstractmethod
    def stats(self) -> OffloadStats:
        """Its counters."""

    @abc.abstractmethod
    def close(self) -> None:
        """Detaches its ports, deletes its megaflows and frees it."""
