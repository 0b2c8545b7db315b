"""The userspace datapath (OVS's dpif-netdev) as a :class:`~appliance.dpif.Dpif`, on the
DPDK core in :mod:`dpdk_glue`.

DPDK's EAL is initialised once per process (:func:`init_dpdk`), from the Open_vSwitch
table's other_config keys OVS uses (dpdk-lcore-mask, pmd-cpu-mask, dpdk-socket-mem,
dpdk-socket-limit, dpdk-hugepage-dir, dpdk-extra), so one configuration drives OVS-DPDK
and this datapath alike. PMD threads are EAL worker lcores, one per core of
pmd-cpu-mask.

Interface types map to DPDK devices:

- ``dpdk``: ``options:dpdk-devargs`` as given (a PCI address or any vdev string);
- ``dpdkvhostuser``: a vhost-user server socket ``<vhost_dir>/<name>`` (net_vhost);
- ``dpdkvhostuserclient``: a vhost-user client of ``options:vhost-server-path``;
- ``system``: an existing kernel interface, through net_af_packet;
- ``internal``: a kernel tap interface named after the port (net_tap).
"""

from __future__ import annotations

import errno
import itertools
import os
import re
import shlex
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from . import (
    DpFlow,
    Dpif,
    DpifError,
    DpifPort,
    Execute,
    FlowPut,
    FlowStats,
    OffloadStats,
    PmdStats,
    PortInfo,
    PortStats,
    TableOffload,
    Upcall,
)
from .odp import Action, FlowKey, decode_actions, encode_actions

# Upcalls moved per recv_upcalls() call.  A drained batch is handled with one flow_put
# and one execute_batch (a PMD round trip each), so larger batches mean fewer round
# trips per miss; each entry is a struct vsw_upcall of about 9.5 KB.
_UPCALL_BATCH = 256
#: Encoded action lists kept for reuse (flow_put and execute_batch see the same few
#: lists over and over: one per megaflow shape).
_BLOB_CACHE_SIZE = 4096


def _glue():
    # Imported lazily so that code paths without a userspace datapath (the OVSDB
    # server, unit tests of other layers) never load DPDK.
    from dpdk_glue._vsw import ffi, lib

    return ffi, lib


_MASK_RE = re.compile(r"(0[xX])?[0-9a-fA-F]+")


def _parse_mask(text: str, what: str) -> list[int]:
    """CPU numbers set in a hex mask string ("0x6" or "6")."""
    if not _MASK_RE.fullmatch(text):
        raise DpifError(errno.EINVAL, f"{what}: {text!r} is not a hexadecimal mask")
    value = int(text, 16)
    return [cpu for cpu in range(value.bit_length()) if value >> cpu & 1]


@dataclass
class EalConfig:
    """EAL arguments and the lcores PMD threads run on."""

    argv: list[str]
    pmd_cores: list[int]


def eal_config(other_config: dict[str, str], cpus: Sequence[int] | None = None) -> EalConfig:
    """Translates Open_vSwitch other_config into EAL arguments, as OVS does
    (vswitchd/vswitch.xml, "DPDK Configuration").

    The main lcore is the lowest CPU of dpdk-lcore-mask (default: the lowest CPU this
    process may run on); PMDs run on pmd-cpu-mask (default: the lowest other CPU).
    Raises DpifError(EINVAL) for a malformed mask or a PMD mask without usable cores.
    """
    if cpus is None:
        cpus = sorted(os.sched_getaffinity(0))
    if "dpdk-lcore-mask" in other_config:
        lcores = _parse_mask(other_config["dpdk-lcore-mask"], "dpdk-lcore-mask")
        if not lcores:
            raise DpifError(errno.EINVAL, "dpdk-lcore-mask selects no CPU")
        main = lcores[0]
    else:
        main = cpus[0]
    if "pmd-cpu-mask" in other_config:
        pmds = [c for c in _parse_mask(other_config["pmd-cpu-mask"], "pmd-cpu-mask")
                if c != main]
    else:
        pmds = [c for c in cpus if c != main][:1]
    if not pmds:
        raise DpifError(errno.EINVAL, "no CPU for PMD threads: set pmd-cpu-mask to CPUs "
                        f"other than the main lcore {main}")
    unusable = [c for c in [main, *pmds] if c not in cpus]
    if unusable:
        raise DpifError(errno.EINVAL, f"CPU(s) {', '.join(map(str, unusable))} in "
                        "dpdk-lcore-mask/pmd-cpu-mask are not available to this process "
                        f"(usable: {', '.join(map(str, cpus))})")
    argv = ["vswitchd", "-l", ",".join(str(c) for c in [main, *pmds]),
            "--main-lcore", str(main)]
    for key, option in (("dpdk-socket-mem", "--socket-mem"),
                        ("dpdk-socket-limit", "--socket-limit"),
                        ("dpdk-hugepage-dir", "--huge-dir")):
        if other_config.get(key):
            argv += [option, other_config[key]]
    argv += shlex.split(other_config.get("dpdk-extra", ""))
    return EalConfig(argv, pmds)


def init_dpdk(config: EalConfig, mbufs: int = 0) -> None:
    """Initialises the EAL and starts the PMD threads; once per process (later calls
    with the core already up do nothing, as EAL options need a restart in OVS too).
    Raises DpifError with DPDK's explanation on failure."""
    ffi, lib = _glue()
    if lib.vsw_initialized():
        return
    args = [ffi.new("char[]", a.encode()) for a in config.argv]
    argv = ffi.new("char *[]", args)
    err = ffi.new("char[512]")
    ret = lib.vsw_init(len(args), argv, mbufs, err, len(err))
    if ret < 0:
        raise DpifError(-ret, ffi.string(err).decode(errors="replace"))
    lcores = ffi.new("unsigned[]", config.pmd_cores)
    ret = lib.vsw_start_pmds(lcores, len(config.pmd_cores), err, len(err))
    if ret < 0:
        raise DpifError(-ret, ffi.string(err).decode(errors="replace"))


def dpdk_version() -> str:
    ffi, lib = _glue()
    return ffi.string(lib.vsw_dpdk_version()).decode()


def _pct(part: int, whole: int) -> str:
    return f"{100.0 * part / whole:.2f}%" if whole else "0.00%"


class NetdevDpif(Dpif):
    """The userspace datapath. ``init_dpdk`` must have run.

    :param vhost_dir: where dpdkvhostuser sockets are created (the run directory).
    """

    type = "netdev"

    def __init__(self, vhost_dir: str = "/var/run/openvswitch") -> None:
        self.ffi, self.lib = _glue()
        if not self.lib.vsw_initialized():
            raise DpifError(errno.ENODEV, "DPDK is not initialised")
        self.vhost_dir = vhost_dir
        # Virtual device names are never reused: DPDK keeps a device whose probe failed
        # (e.g. af_packet on an interface that did not exist yet) under its name, and a
        # second probe of that name fails even once the interface exists.
        self._vdev_seq = itertools.count()
        self.ports: dict[int, DpifPort] = {}
        self._upcalls = self.ffi.new(f"struct vsw_upcall[{_UPCALL_BATCH}]")
        self._err = self.ffi.new("char[512]")
        self._blobs: dict[tuple[Action, ...], tuple[object, int]] = {}

    def _blob(self, actions: Sequence[Action]) -> tuple[object, int]:
        """``actions`` in the C binary form: a ``uint8_t[]`` cdata (never empty, so it
        is a valid pointer) and its length in bytes.  Raises ValueError from
        :func:`encode_actions`."""
        key = tuple(actions)
        hit = self._blobs.get(key)
        if hit is None:
            blob = encode_actions(key)
            if len(self._blobs) >= _BLOB_CACHE_SIZE:
                self._blobs.clear()
            hit = self._blobs[key] = (self.ffi.new("uint8_t[]", blob or b"\0"), len(blob))
        return hit

    def _error(self, ret: int) -> DpifError:
        return DpifError(-ret, self.ffi.string(self._err).decode(errors="replace"))

    # -- ports --

    def _devargs(self, name: str, type: str, options: dict[str, str]) -> str:
        if type == "dpdk":
            devargs = options.get("dpdk-devargs")
            if not devargs:
                raise DpifError(errno.EINVAL, f"{name}: options:dpdk-devargs is required")
            return devargs
        if type == "dpdkvhostuser":
            return (f"net_vhost{next(self._vdev_seq)},"
                    f"iface={os.path.join(self.vhost_dir, name)},client=0")
        if type == "dpdkvhostuserclient":
            path = options.get("vhost-server-path")
            if not path:
                raise DpifError(errno.EINVAL, f"{name}: options:vhost-server-path is required")
            # DPDK's vhost client would retry connecting forever to a socket that can
            # never appear: a missing directory is a configuration error now.
            parent = os.path.dirname(os.path.abspath(path))
            if not os.path.isdir(parent):
                raise DpifError(errno.ENOENT, f"{name}: vhost-server-path {path}: directory "
                                f"{parent} does not exist")
            return f"net_vhost{next(self._vdev_seq)},iface={path},client=1"
        if type == "system":
            return f"net_af_packet{next(self._vdev_seq)},iface={name}"
        if type == "internal":
            return f"net_tap{next(self._vdev_seq)},iface={name}"
        raise DpifError(errno.EINVAL, f"{name}: interface type {type!r} is not supported "
                        "by the userspace datapath")

    def port_add(self, name: str, type: str, options: dict[str, str],
                 port_no: int | None = None) -> int:
        if any(p.name == name for p in self.ports.values()):
            raise DpifError(errno.EEXIST, f"{name}: port exists")
        if port_no is None:
            port_no = next(n for n in range(1, 1024) if n not in self.ports)
        elif port_no in self.ports:
            raise DpifError(errno.EEXIST, f"port number {port_no} is in use")
        devargs = self._devargs(name, type, options)
        cfg = self.ffi.new("struct vsw_port_config *")
        for key, field in (("n_rxq", "n_rxq"), ("n_rxq_desc", "n_rxq_desc"),
                           ("n_txq_desc", "n_txq_desc"), ("mtu_request", "mtu")):
            if options.get(key):
                try:
                    setattr(cfg, field, int(options[key]))
                except (ValueError, OverflowError):
                    raise DpifError(errno.EINVAL,
                                    f"{name}: bad {key} {options[key]!r}") from None
        ret = self.lib.vsw_port_add(port_no, devargs.encode(), cfg, self._err, len(self._err))
        if ret < 0:
            raise self._error(ret)
        self.ports[port_no] = DpifPort(port_no, name, type, devargs)
        return port_no

    def port_del(self, port_no: int) -> None:
        ret = self.lib.vsw_port_del(port_no, self._err, len(self._err))
        if ret < 0:
            raise self._error(ret)
        self.ports.pop(port_no, None)

    def port_dump(self) -> list[DpifPort]:
        return [self.ports[n] for n in sorted(self.ports)]

    def port_info(self, port_no: int) -> PortInfo:
        info = self.ffi.new("struct vsw_port_info *")
        ret = self.lib.vsw_port_info(port_no, info)
        if ret < 0:
            raise DpifError(-ret, f"port {port_no}: {os.strerror(-ret)}")
        return PortInfo(port_no, info.mtu, bytes(info.mac), bool(info.link_up),
                        info.link_speed, self.ffi.string(info.driver).decode(),
                        info.n_rxq, info.n_txq)

    def port_stats(self, port_no: int) -> PortStats:
        s = self.ffi.new("struct vsw_port_stats *")
        ret = self.lib.vsw_port_stats(port_no, s)
        if ret < 0:
            raise DpifError(-ret, f"port {port_no}: {os.strerror(-ret)}")
        return PortStats(s.rx_packets, s.rx_bytes, s.rx_dropped, s.rx_errors,
                         s.tx_packets, s.tx_bytes, s.tx_dropped, s.tx_errors,
                         list(s.rxq_packets[0:s.n_rxq]), list(s.txq_packets[0:s.n_txq]))

    # -- flows --

    def _ufid(self, ufid: bytes) -> bytes:
        if len(ufid) != 16:
            raise DpifError(errno.EINVAL, f"UFID must be 16 bytes, not {len(ufid)}")
        return ufid

    def flow_put(self, puts: Sequence[FlowPut]) -> list[DpifError | None]:
        if not puts:
            return []
        ffi = self.ffi
        arr = ffi.new(f"struct vsw_flow_put[{len(puts)}]")
        keep = []   # the action buffers must outlive the call
        for i, p in enumerate(puts):
            c = arr[i]
            c.ufid = self._ufid(p.ufid)
            ffi.memmove(ffi.addressof(c, "key"), p.key.to_bytes(), 128)
            ffi.memmove(ffi.addressof(c, "mask"), p.mask.to_bytes(), 128)
            buf, c.actions_len = self._blob(p.actions)
            keep.append(buf)
            c.actions = buf
            c.flags = ((self.lib.VSW_PUT_CREATE if p.create else 0)
                       | (self.lib.VSW_PUT_MODIFY if p.modify else 0)
                       | (self.lib.VSW_PUT_ZERO_STATS if p.zero_stats else 0))
            c.pmd = -1 if p.pmd is None else p.pmd
        ret = self.lib.vsw_flow_put(arr, len(puts))
        if ret < 0:
            raise DpifError(-ret, f"flow put: {os.strerror(-ret)}")
        return [None if arr[i].result == 0 else
                DpifError(-arr[i].result, f"flow put: {os.strerror(-arr[i].result)}")
                for i in range(len(puts))]

    def _flow(self, info) -> DpFlow:
        ffi = self.ffi
        n = min(info.actions_len, self.lib.VSW_FLOW_INFO_MAX_ACTIONS)
        return DpFlow(
            ufid=bytes(ffi.buffer(info.ufid, 16)),
            key=FlowKey.from_bytes(bytes(ffi.buffer(ffi.addressof(info, "key"), 128))),
            mask=FlowKey.from_bytes(bytes(ffi.buffer(ffi.addressof(info, "mask"), 128))),
            actions=decode_actions(bytes(ffi.buffer(info.actions, n))),
            stats=FlowStats(info.packets, info.bytes, info.used_ms, info.tcp_flags,
                            info.created_ms),
            pmd=info.pmd if info.pmd >= 0 else None)

    def flow_get(self, ufid: bytes) -> DpFlow:
        info = self.ffi.new("struct vsw_flow_info *")
        ret = self.lib.vsw_flow_get(self._ufid(ufid), -1, info)
        if ret < 0:
            raise DpifError(-ret, f"flow {ufid.hex()}: {os.strerror(-ret)}")
        return self._flow(info)

    def flow_del(self, ufid: bytes) -> FlowStats:
        info = self.ffi.new("struct vsw_flow_info *")
        ret = self.lib.vsw_flow_del(self._ufid(ufid), -1, info)
        if ret < 0:
            raise DpifError(-ret, f"flow {ufid.hex()}: {os.strerror(-ret)}")
        return FlowStats(info.packets, info.bytes, info.used_ms, info.tcp_flags,
                         info.created_ms)

    def flow_dump(self) -> Iterator[DpFlow]:
        batch = 256
        out = self.ffi.new(f"struct vsw_flow_info[{batch}]")
        cursor = self.ffi.new("uint64_t *")
        for pmd in range(self.lib.vsw_n_pmds()):
            cursor[0] = 0
            while True:
                n = self.lib.vsw_flow_dump(pmd, out, batch, cursor)
                if n <= 0:
                    break
                flows = [self._flow(out[i]) for i in range(n)]
                yield from flows

    def flow_flush(self) -> None:
        self.lib.vsw_flow_flush()

    def now_ms(self) -> int:
        return self.lib.vsw_now_ms()

    # -- packets --

    def execute(self, packet: bytes, in_port: int, actions: Sequence[Action],
                pmd: int | None = None) -> None:
        blob = encode_actions(actions)
        ret = self.lib.vsw_execute(-1 if pmd is None else pmd, in_port, packet, len(packet),
                                   blob, len(blob))
        if ret < 0:
            raise DpifError(-ret, f"execute: {os.strerror(-ret)}")

    def execute_batch(self, execs: Sequence[Execute]) -> list[DpifError | None]:
        """One PMD round trip per PMD named (``vsw_execute_batch``) instead of one per
        packet; packets for the same PMD run in order."""
        ffi, lib = self.ffi, self.lib
        by_pmd: dict[int, list[int]] = {}
        for i, e in enumerate(execs):
            by_pmd.setdefault(-1 if e.pmd is None else e.pmd, []).append(i)
        results: list[DpifError | None] = [None] * len(execs)
        for pmd, idxs in by_pmd.items():
            arr = ffi.new(f"struct vsw_exec[{len(idxs)}]")
            keep = []   # packet and action buffers must outlive the call
            for c, i in zip(arr, idxs, strict=True):
                e = execs[i]
                buf, c.actions_len = self._blob(e.actions)
                pkt = ffi.from_buffer("uint8_t[]", e.packet)
                keep += (buf, pkt)
                c.actions = buf
                c.packet = pkt
                c.len = len(e.packet)
                c.in_port = e.in_port
            ret = lib.vsw_execute_batch(pmd, arr, len(idxs))
            if ret < 0:
                err = DpifError(-ret, f"execute: {os.strerror(-ret)}")
                for i in idxs:
                    results[i] = err
                continue
            for c, i in zip(arr, idxs, strict=True):
                if c.result < 0:
                    results[i] = DpifError(-c.result, f"execute: {os.strerror(-c.result)}")
        return results

    def flow_extract(self, packet: bytes, in_port: int) -> FlowKey:
        key = self.ffi.new("struct vsw_flow_key *")
        self.lib.vsw_flow_extract(packet, len(packet), in_port, key, self.ffi.NULL)
        return FlowKey.from_bytes(bytes(self.ffi.buffer(key)))

    def upcall_fd(self) -> int:
        return self.lib.vsw_upcall_fd()

    def recv_upcalls(self, max_upcalls: int = _UPCALL_BATCH) -> list[Upcall]:
        ffi = self.ffi
        n = self.lib.vsw_upcall_recv(self._upcalls, min(max_upcalls, _UPCALL_BATCH))
        out = []
        for i in range(n):
            u = self._upcalls[i]
            out.append(Upcall(
                kind="miss" if u.type == self.lib.VSW_UPCALL_MISS else "action",
                packet=bytes(ffi.buffer(u.packet, u.len)),
                key=FlowKey.from_bytes(bytes(ffi.buffer(ffi.addressof(u, "key"), 128))),
                cookie=bytes(ffi.buffer(u.cookie, u.cookie_len)),
                pmd=u.pmd))
        return out

    # -- statistics --

    def pmd_stats(self) -> list[PmdStats]:
        arr = self.ffi.new("struct vsw_pmd_stats[128]")
        n = self.lib.vsw_pmd_stats(arr, 128)
        return [PmdStats(s.id, s.lcore, s.packets, s.emc_hits, s.megaflow_hits, s.misses,
                         s.lost, s.cycles_busy, s.cycles_idle, s.cycles_upcall, s.n_rxqs,
                         s.n_flows) for s in (arr[i] for i in range(n))]

    def format_pmd_stats(self) -> str:
        """``ovs-appctl dpif-netdev/pmd-stats-show`` text (OVS's labels, for the
        counters this datapath keeps)."""
        hz = self.lib.vsw_tsc_hz() or 1
        lines = []
        for s in self.pmd_stats():
            total = s.cycles_busy + s.cycles_idle
            hits = s.emc_hits + s.megaflow_hits
            lines += [
                f"pmd thread numa_id 0 core_id {s.core}:",
                f"  packets received: {s.packets}",
                f"  emc hits: {s.emc_hits}",
                f"  megaflow hits: {s.megaflow_hits}",
                f"  miss with success upcall: {s.misses}",
                f"  miss with failed upcall: {s.lost}",
                f"  idle cycles: {s.cycles_idle} ({_pct(s.cycles_idle, total)})",
                f"  processing cycles: {s.cycles_busy} ({_pct(s.cycles_busy, total)})",
                f"  avg processing cycles per packet: "
                f"{s.cycles_busy / s.packets if s.packets else 0:.2f} "
                f"({s.cycles_busy}/{s.packets})",
                f"  avg upcall cycles per miss: "
                f"{s.cycles_upcall / s.misses if s.misses else 0:.2f}",
                f"  megaflows: {s.n_flows}, rx queues: {s.n_rxqs}, "
                f"hit rate: {_pct(hits, s.packets)}, TSC {hz / 1e9:.2f} GHz",
            ]
        return "\n".join(lines) + ("\n" if lines else "")

    def pmd_stats_clear(self) -> None:
        self.lib.vsw_pmd_stats_clear()

    def format_pmd_rxqs(self, core: int | None = None) -> str:
        """``ovs-appctl dpif-netdev/pmd-rxq-show`` text: per PMD thread (every one, or
        the one on lcore ``core``), its rx queues by port name and queue id with the
        share of the PMD's cycles their bursts took (``pmd usage``), then the busy
        cycles no queue accounts for (``overhead``: transmit flushes, commands).
        Shares are of the cycles since start or the last :meth:`pmd_stats_clear`
        (OVS: of the last minute's), hence the first line."""
        total = self.lib.vsw_rxq_dump(self.ffi.NULL, 0)
        rxqs = self.ffi.new(f"struct vsw_rxq_info[{max(total, 1)}]")
        n = min(self.lib.vsw_rxq_dump(rxqs, total), total)
        lines = ["Displaying pmd usage % since the PMD statistics were last cleared"]
        for s in sorted(self.pmd_stats(), key=lambda s: s.core):
            if core is not None and s.core != core:
                continue
            lines += [f"pmd thread numa_id 0 core_id {s.core}:", "  isolated : false"]
            cycles = s.cycles_busy + s.cycles_idle
            mine = sorted(((self.ports[q.port_no].name if q.port_no in self.ports
                            else str(q.port_no)), q.queue_id, q.cycles)
                          for q in (rxqs[i] for i in range(n)) if q.pmd == s.pmd)
            for name, queue_id, rxq_cycles in mine:
                usage = f"{rxq_cycles * 100 // cycles:2d} %" if cycles else "NOT AVAIL"
                lines.append(f"  port: {name:<16}  queue-id: {queue_id:2d} (enabled)   "
                             f"pmd usage: {usage}")
            if mine:
                overhead = max(0, s.cycles_busy - sum(q[2] for q in mine))
                lines.append("  overhead: " + (f"{overhead * 100 // cycles:2d} %" if cycles
                                               else "NOT AVAIL"))
        return "\n".join(lines) + "\n"

    def table_offload(self) -> NetdevTableOffload:
        return NetdevTableOffload(self.ffi, self.lib)

    def mbufs_in_use(self) -> int:
        """mbufs allocated from the packet pool (a leak check's baseline)."""
        return self.lib.vsw_mbufs_in_use()

    def close(self) -> None:
        for port_no in list(self.ports):
            self.port_del(port_no)
        self.flow_flush()


class NetdevTableOffload(TableOffload):
    """:class:`TableOffload` of the userspace datapath (``dpdk_glue/src/offload.c``):
    misses are answered by the control thread while it drains upcalls."""

    _CREDITS = 1024

    def __init__(self, ffi, lib) -> None:
        self.ffi, self.lib = ffi, lib
        # The UFIDs of its megaflows start with this tag (unlikely to meet ofproto's
        # random UFID bases).
        self._off = lib.vsw_offload_create(int.from_bytes(os.urandom(8), "little"))
        if self._off == ffi.NULL:
            raise DpifError(errno.ENOMEM, "cannot allocate a table offload")
        self._attached: set[int] = set()
        self.max_outputs = lib.VSW_OFFLOAD_MAX_OUT
        self._outs = ffi.new(f"uint32_t[{self.max_outputs}]")
        self._credits = ffi.new(f"struct vsw_offload_credit[{self._CREDITS}]")

    def _check(self, ret: int, what: str) -> None:
        if ret < 0:
            raise DpifError(-ret, f"table offload: {what}: {os.strerror(-ret)}")

    def rule_add(self, rule_id: int, priority: int, seq: int, key: bytes, mask: bytes,
                 outs: Sequence[int] | None) -> None:
        if outs is None:
            n = self.lib.VSW_OFFLOAD_PUNT
        else:
            n = len(outs)
            if n > self.max_outputs:
                raise DpifError(errno.EINVAL, f"table offload: {n} outputs")
            self._outs[0:n] = list(outs)
        k = self.ffi.from_buffer("struct vsw_flow_key *", key)
        m = self.ffi.from_buffer("struct vsw_flow_key *", mask)
        self._check(self.lib.vsw_offload_rule_add(self._off, rule_id, priority, seq, k, m,
                                                  self._outs, n), f"rule {rule_id}")

    def rule_remove(self, rule_id: int) -> None:
        self._check(self.lib.vsw_offload_rule_remove(self._off, rule_id), f"rule {rule_id}")

    def rule_clear(self) -> None:
        self.lib.vsw_offload_rule_clear(self._off)

    def attach(self, port_no: int) -> None:
        self._check(self.lib.vsw_offload_attach(self._off, port_no), f"port {port_no}")
        self._attached.add(port_no)

    def detach(self, port_no: int) -> None:
        if port_no in self._attached:
            self._attached.discard(port_no)
            self.lib.vsw_offload_detach(port_no)

    def enable(self, enabled: bool) -> None:
        self.lib.vsw_offload_enable(self._off, int(enabled))

    def revalidate(self) -> int:
        return self.lib.vsw_offload_revalidate(self._off)

    def flush(self) -> int:
        return self.lib.vsw_offload_flush(self._off)

    def sweep(self, max_idle_ms: int) -> int:
        return self.lib.vsw_offload_sweep(self._off, max_idle_ms)

    def credits(self) -> list[tuple[int, int, int]]:
        out: list[tuple[int, int, int]] = []
        while True:
            n = self.lib.vsw_offload_credits(self._off, self._credits, self._CREDITS)
            out += [(c.id, c.packets, c.bytes) for c in self._credits[0:n]]
            if n < self._CREDITS:
                return out

    def stats(self) -> OffloadStats:
        st = self.ffi.new("struct vsw_offload_stats *")
        self.lib.vsw_offload_get_stats(self._off, st)
        return OffloadStats(handled=st.handled, table_misses=st.table_misses,
                            punted=st.punted, installed=st.installed,
                            revalidated=st.revalidated, expired=st.expired,
                            n_flows=st.n_flows, n_rules=st.n_rules)

    def close(self) -> None:
        if self._off != self.ffi.NULL:
            self._attached.clear()
            self.lib.vsw_offload_destroy(self._off)
            self._off = self.ffi.NULL
