"""vswitchd's ``ovs-appctl`` commands, with OVS 3.1's names, arguments and output.

Where this sits: vswitchd (:mod:`appliance.vswitchd`) creates the control socket's
:class:`~ovsdb.unixctl.UnixctlServer` and calls :func:`register` with a view of itself
(:class:`SwitchView`: its bridges, the shared userspace datapath, a way to exit).  Every
command reads that view when it runs, so bridges and the datapath may come and go.
Commands and where OVS defines them:

- ``dpif/show`` (ofproto/ofproto-dpif.c), ``dpctl/show``, ``dpctl/dump-flows``,
  ``dpctl/del-flows`` (lib/dpctl.c), ``upcall/show`` (ofproto/ofproto-dpif-upcall.c),
  ``dpif-netdev/pmd-stats-show``, ``pmd-stats-clear``, ``pmd-rxq-show``
  (lib/dpif-netdev.c): the datapath (:class:`~appliance.dpif.netdev.NetdevDpif`);
- ``fdb/show``, ``fdb/flush``, ``fdb/add``, ``fdb/del``, ``ofproto/trace``
  (ofproto-dpif.c, ofproto-dpif-trace.c): the bridges (:class:`~ofproto.bridge.OFBridge`,
  :mod:`ofproto.trace`);
- ``vlog/list``, ``vlog/set``, ``vlog/reopen`` (lib/vlog.c): :mod:`ovsdb.vlog`;
- ``coverage/show`` (lib/coverage.c): the bridges' and PMDs' event counters;
- ``exit`` (vswitchd/ovs-vswitchd.c).

Where this differs from OVS, the output says what is true here rather than imitate:
``pmd-rxq-show`` measures usage since the PMD counters were last cleared (OVS: the last
minute); ``vlog/list`` has one column, because every destination is the one twistd log;
the ``Megaflow:`` of a trace is the datapath key and mask in ODP text; ``upcall/show``
gives the flow count and UFIDs only (there are no revalidator threads, no flow limit);
``dpctl/show -s`` prints ``?`` for the counters the devices do not keep.  Errors are
answered as errors (ovs-appctl exits 2), with OVS's wording where OVS has one.
"""

from __future__ import annotations

import dataclasses
import struct
import zlib
from collections import deque
from typing import TYPE_CHECKING, Any, Protocol

from ofproto.mac_learning import mac_from_str
from ofproto.trace import FlowSyntaxError, format_port, parse_flow, trace
from ovsdb import vlog
from ovsdb.unixctl import UnixctlCommandError, UnixctlServer

if TYPE_CHECKING:
    from appliance.dpif import DpFlow, PortStats
    from appliance.dpif.netdev import NetdevDpif
    from ofproto.bridge import OFBridge

__all__ = ["CoverageHistory", "SwitchView", "register", "register_vlog"]

log = vlog.logger("appctl")

#: The userspace datapath's names: ``dpif_name()`` and the datapath's own name.
DPIF_NAME = "netdev@ovs-netdev"
DP_NAMES = (DPIF_NAME, "ovs-netdev")
OFPP_LOCAL = 0xFFFFFFFE
#: Seconds between coverage samples (OVS COVERAGE_RUN_INTERVAL).
COVERAGE_INTERVAL = 5
_PMD_COUNTERS = ("packets", "emc_hits", "megaflow_hits", "misses", "lost")
# OVS level names (lib/vlog-levels.h) <-> Twisted's; "off" has no Twisted equivalent.
_OVS_LEVELS = {"emer": "critical", "err": "error", "warn": "warn", "info": "info",
               "dbg": "debug"}
_LEVEL_NAMES = {tw: ovs.upper() for ovs, tw in _OVS_LEVELS.items()}
_DESTINATIONS = ("console", "syslog", "file")


class SwitchView(Protocol):
    """What the commands need of vswitchd.

    ``bridges``: running bridges by name (insertion order).  ``dpif``: the userspace
    datapath, None until DPDK is initialised.  ``exit()``: stop the daemon cleanly; it
    is called after the command's (empty) answer is queued, and may return a Deferred.
    """

    @property
    def bridges(self) -> dict[str, OFBridge]: ...

    @property
    def dpif(self) -> NetdevDpif | None: ...

    def exit(self) -> Any: ...


def register(unixctl: UnixctlServer, switch: SwitchView, *, clock: Any = None) -> None:
    """Registers vswitchd's commands (and :func:`register_vlog`'s) on ``unixctl``.

    ``clock`` (an ``IReactorTime``, default the global reactor) paces the coverage
    samples every :data:`COVERAGE_INTERVAL` seconds.
    """
    from twisted.internet import task

    cmds = _Commands(switch)
    u = unixctl.register
    u("dpif/show", "", 0, 0, cmds.dpif_show)
    u("dpctl/show", "[-s] [dp]", 0, 2, cmds.dpctl_show)
    u("dpctl/dump-flows", "[-m] [dp]", 0, 2, cmds.dump_flows)
    u("dpctl/del-flows", "[dp]", 0, 1, cmds.del_flows)
    u("upcall/show", "", 0, 0, cmds.upcall_show)
    u("dpif-netdev/pmd-stats-show", "[dp]", 0, 1, cmds.pmd_stats_show)
    u("dpif-netdev/pmd-stats-clear", "[dp]", 0, 1, cmds.pmd_stats_clear)
    u("dpif-netdev/pmd-rxq-show", "[-pmd core] [dp]", 0, 3, cmds.pmd_rxq_show)
    u("fdb/show", "bridge", 1, 1, cmds.fdb_show)
    u("fdb/flush", "[bridge]", 0, 1, cmds.fdb_flush)
    u("fdb/add", "bridge port vlan mac", 4, 4, cmds.fdb_add)
    u("fdb/del", "bridge vlan mac", 3, 3, cmds.fdb_del)
    u("ofproto/trace", "{[dp_name] odp_flow | bridge br_flow} [packet]", 1, 3,
      cmds.trace)
    u("coverage/show", "", 0, 0, cmds.coverage_show)
    u("exit", "[--cleanup]", 0, 1, cmds.exit)
    register_vlog(unixctl)
    sampler = task.LoopingCall(cmds.sample_coverage)
    if clock is None:
        from twisted.internet import reactor as clock
    sampler.clock = clock
    sampler.start(COVERAGE_INTERVAL, now=True)


def register_vlog(unixctl: UnixctlServer) -> None:
    """``vlog/list``, ``vlog/set`` and ``vlog/reopen`` over :mod:`ovsdb.vlog` (any
    daemon of the appliance may register them)."""
    unixctl.register("vlog/list", "", 0, 0, _vlog_list)
    unixctl.register("vlog/set", "{spec | module[:destination][:level]}", 0, 2**31,
                     _vlog_set)
    # The twistd log is reopened by twistd itself (SIGUSR1); nothing to do here.
    unixctl.register("vlog/reopen", "", 0, 0, lambda _conn, _args: None)


# --- vlog ----------------------------------------------------------------------------

def _vlog_list(_conn: Any, _args: list[str]) -> str:
    """OVS prints a column per destination; here every destination is the one twistd
    log, so there is one column: the level of each namespace (``a.b`` inherits
    ``a``'s unless set itself)."""
    lines = ["                 level", "                 -----"]
    for ns in vlog.namespaces():
        lines.append(f"{ns:<16}  {_LEVEL_NAMES[vlog.get_level(ns)]:>4}")
    return "\n".join(lines)


def _known_module(word: str) -> bool:
    return any(ns == word or ns.startswith(word + ".") for ns in vlog.namespaces())


def _vlog_set(_conn: Any, args: list[str]) -> None:
    """``module[:destination][:level]`` words in any order, as OVS's
    ``vlog_set_levels_from_string()``: ``ANY`` or no module means all, no level means
    ``dbg``.  Destinations are accepted and all mean the one log."""
    if not args:
        _set_levels(None, "dbg")
    for spec in args:
        module: str | None = None
        level: str | None = None
        destination: str | None = None
        for word in spec.replace(",", " ").replace(":", " ").split():
            low = word.lower()
            if low == "any":
                continue
            if low in ("pattern", "facility"):
                raise UnixctlCommandError(f"{word}: log patterns and syslog facilities "
                                          "are twistd's, not settable here")
            if low in _DESTINATIONS:
                if destination is not None:
                    raise UnixctlCommandError("cannot specify multiple destinations")
                destination = low
            elif low in _OVS_LEVELS or low == "off":
                if level is not None:
                    raise UnixctlCommandError("cannot specify multiple levels")
                level = low
            elif _known_module(word):
                if module is not None:
                    raise UnixctlCommandError("cannot specify multiple modules")
                module = word
            else:
                raise UnixctlCommandError(f'no destination, level, or module "{word}"')
        if level == "off":
            raise UnixctlCommandError("level off is not supported: the lowest is emer")
        _set_levels(module, level or "dbg")


def _set_levels(module: str | None, level: str) -> None:
    twisted_level = _OVS_LEVELS[level]
    if module is not None:
        vlog.set_level(module, twisted_level)
        return
    vlog.set_level("", twisted_level)   # the default, for namespaces yet to come
    for ns in vlog.namespaces():
        vlog.set_level(ns, twisted_level)


# --- coverage ------------------------------------------------------------------------

class CoverageHistory:
    """Event counters sampled every :data:`COVERAGE_INTERVAL` seconds, for OVS's
    ``coverage/show`` rates (last interval, last minute, last hour).

    Sans-I/O: :meth:`sample` takes the current totals.  A rate is the growth of a total
    between samples over the window (the last interval, 12, 720) divided by the
    window's length; before a window has filled it reaches back to the first sample (as
    OVS's arrays start at zero).  A total that shrank (counters cleared) counts as
    growth from zero.  ``total:`` is the current value, as in OVS.
    """

    _HOUR = 3600 // COVERAGE_INTERVAL

    def __init__(self) -> None:
        self._samples: deque[dict[str, int]] = deque(maxlen=self._HOUR + 1)

    def sample(self, totals: dict[str, int]) -> None:
        self._samples.append(dict(totals))

    def _growth(self, name: str, intervals: int) -> int:
        if not self._samples:
            return 0
        last = self._samples[-1].get(name, 0)
        past = self._samples[max(0, len(self._samples) - 1 - intervals)].get(name, 0)
        return last - past if last >= past else last

    def format(self, totals: dict[str, int]) -> str:
        """The ``coverage/show`` text for the current ``totals``."""
        hit = sorted((n for n, v in totals.items() if v), key=lambda n: (-totals[n], n))
        digest = zlib.crc32(",".join(hit).encode())
        lines = [f"Event coverage, avg rate over last: {COVERAGE_INTERVAL} seconds, last "
                 f"minute, last hour,  hash={digest:08x}:"]
        for name in sorted(hit):
            t = totals[name]
            lines.append(
                f"{name:<24} {self._growth(name, 1) / COVERAGE_INTERVAL:5.1f}/sec "
                f"{self._growth(name, 60 // COVERAGE_INTERVAL) / 60:9.3f}/sec "
                f"{self._growth(name, self._HOUR) / 3600:13.4f}/sec   total: {t}")
        lines.append(f"{len(totals) - len(hit)} events never hit")
        return "\n".join(lines)


# --- the commands --------------------------------------------------------------------

def _format_ufid(ufid: bytes) -> str:
    """OVS ``odp_format_ufid()``: the 16 bytes as a UUID of four host-order words."""
    a, b, c, d = struct.unpack("<4I", ufid)
    return f"ufid:{a:08x}-{b >> 16:04x}-{b & 0xFFFF:04x}-{c >> 16:04x}-{c & 0xFFFF:04x}{d:08x}"


def _format_tcp_flags(flags: int) -> str:
    """OVS ``packet_format_tcp_flags()``: one letter per flag."""
    letters = [(0x002, "S"), (0x001, "F"), (0x008, "P"), (0x004, "R"), (0x020, "U"),
               (0x010, "."), (0x040, "E"), (0x080, "C"), (0x100, "N"), (0x200, "[200]"),
               (0x400, "[400]"), (0x800, "[800]")]
    return "".join(s for bit, s in letters if flags & bit) or "none"


class _Commands:
    def __init__(self, switch: SwitchView) -> None:
        self.switch = switch
        self.coverage = CoverageHistory()

    # -- lookups --

    def _bridge(self, name: str) -> OFBridge:
        bridge = self.switch.bridges.get(name)
        if bridge is None:
            raise UnixctlCommandError("no such bridge")
        return bridge

    def _dpif(self, dp: str | None = None) -> NetdevDpif:
        """The datapath, checking an optional datapath name argument."""
        dpif = self.switch.dpif
        if dpif is None:
            raise UnixctlCommandError("no datapaths exist")
        if dp is not None and dp not in DP_NAMES:
            raise UnixctlCommandError(f"{dp}: no such datapath (this one is {DPIF_NAME})")
        return dpif

    def _pmd_dpif(self, dp: str | None) -> NetdevDpif:
        if self.switch.dpif is None or (dp is not None and dp not in DP_NAMES):
            raise UnixctlCommandError("please specify an existing datapath")
        return self.switch.dpif

    # -- datapath --

    def dpif_show(self, _conn: Any, _args: list[str]) -> str:
        """``netdev@ovs-netdev: hit:H missed:M``, then every bridge (by name) and its
        ports (by name): ``NAME OFPORT/ODPPORT: (TYPE: key=value, ...)``."""
        dpif = self.switch.dpif
        if dpif is None:
            return ""
        pmds = dpif.pmd_stats()
        hit = sum(s.emc_hits + s.megaflow_hits for s in pmds)
        missed = sum(s.misses + s.lost for s in pmds)
        lines = [f"{DPIF_NAME}: hit:{hit} missed:{missed}"]
        dp_ports = {p.port_no: p for p in dpif.port_dump()}
        for name in sorted(self.switch.bridges):
            lines.append(f"  {name}:")
            for p in sorted(self.switch.bridges[name].ports, key=lambda p: p.name):
                ofport = 65534 if p.ofport == OFPP_LOCAL else p.ofport
                lines.append(f"    {p.name} {ofport}/{p.odp_port}: "
                             f"({self._port_config(dpif, dp_ports.get(p.odp_port))})")
        return "\n".join(lines)

    @staticmethod
    def _port_config(dpif: NetdevDpif, port: Any) -> str:
        """``TYPE: key=value, ...`` (OVS ``netdev_get_config()``, keys sorted): queue
        counts and MTU from the device, plus the DPDK device arguments."""
        if port is None:
            return "none"
        config = {"dpdk-devargs": port.devargs} if port.type == "dpdk" else {}
        try:
            info = dpif.port_info(port.port_no)
        except Exception as e:   # a device that went away still gets its line
            log.info("port {port}: no device information: {e}", port=port.name, e=e)
        else:
            config.update({"configured_rx_queues": str(info.n_rxq),
                           "configured_tx_queues": str(info.n_txq), "mtu": str(info.mtu)})
        if not config:
            return port.type
        return port.type + ": " + ", ".join(f"{k}={config[k]}" for k in sorted(config))

    @staticmethod
    def _dp_stats(dpif: NetdevDpif) -> tuple[int, int, int, int]:
        """OVS ``dpif_get_dp_stats()`` of the userspace datapath, summed over PMDs:
        hits (exact-match cache and megaflows), misses upcalled, misses lost, flows."""
        pmds = dpif.pmd_stats()
        return (sum(s.emc_hits + s.megaflow_hits for s in pmds), sum(s.misses for s in pmds),
                sum(s.lost for s in pmds), sum(s.n_flows for s in pmds))

    def dpctl_show(self, _conn: Any, args: list[str]) -> str:
        """OVS ``show_dpif()``: the datapath's lookups and flow count, then every port by
        number, ``port N: NAME (TYPE: key=value, ...)`` (``system`` ports without the
        parenthesis, as OVS); ``-s`` adds each port's counters."""
        stats, dp = _dpctl_args(args, "-s", "--statistics")
        if dp is None and self.switch.dpif is None:
            return ""            # no datapath to show, as OVS with none
        dpif = self._dpif(dp)
        hit, missed, lost, flows = self._dp_stats(dpif)
        lines = [f"{DPIF_NAME}:", f"  lookups: hit:{hit} missed:{missed} lost:{lost}",
                 f"  flows: {flows}"]
        for port in dpif.port_dump():
            line = f"  port {port.port_no}: {port.name}"
            if port.type != "system":
                line += f" ({self._port_config(dpif, port)})"
            lines.append(line)
            if stats:
                lines += _format_port_stats(dpif.port_stats(port.port_no))
        return "\n".join(lines)

    def del_flows(self, _conn: Any, args: list[str]) -> str:
        """Deletes every datapath flow: each bridge's own first (their rules are
        credited with the final counters, their megaflow tables emptied), then any
        the bridges did not install.  Traffic installs them again as it misses."""
        dpif = self._dpif(args[0] if args else None)
        for bridge in self.switch.bridges.values():
            bridge.flush_megaflows()
        dpif.flow_flush()
        return ""

    def upcall_show(self, _conn: Any, _args: list[str]) -> str:
        """OVS's first lines of ``upcall/show``: the datapath's flow count and that
        flows are identified by UFID.  There is no flow limit and there are no
        revalidator threads (bridges revalidate in the reactor), so OVS's ``avg``,
        ``max``, ``limit``, ``dump duration`` and per-revalidator lines have no
        counterpart."""
        dpif = self.switch.dpif
        if dpif is None:
            return ""
        flows = self._dp_stats(dpif)[3]
        return f"{DPIF_NAME}:\n  flows         : (current {flows})\n  ufid enabled : true"

    def dump_flows(self, _conn: Any, args: list[str]) -> str:
        """Every megaflow, per PMD under OVS's ``flow-dump from pmd on cpu core: N``
        title: ``KEY, packets:P, bytes:B, used:Ts|never[, flags:F], actions:A``; with
        ``-m`` the UFID first, every key attribute, and ``dp:ovs``."""
        from appliance.dpif.odp import format_actions, format_key

        verbose, dp = _dpctl_args(args, "-m", "--more")
        dpif = self._dpif(dp)
        cores = {s.pmd: s.core for s in dpif.pmd_stats()}
        now = dpif.now_ms()
        by_pmd: dict[int | None, list[DpFlow]] = {}
        for flow in dpif.flow_dump():
            by_pmd.setdefault(flow.pmd, []).append(flow)
        lines = []
        for pmd, flows in by_pmd.items():
            lines.append("flow-dump from the main thread:" if pmd is None else
                         f"flow-dump from pmd on cpu core: {cores.get(pmd, pmd)}")
            for f in flows:
                s = f.stats
                used = f"{(now - s.used) / 1000:.3f}s" if s.used else "never"
                text = (f"{format_key(f.key, f.mask, verbose=verbose)}, packets:{s.packets}"
                        f", bytes:{s.bytes}, used:{used}")
                if s.tcp_flags:
                    text += f", flags:{_format_tcp_flags(s.tcp_flags)}"
                if verbose:
                    text = f"{_format_ufid(f.ufid)}, {text}, dp:ovs"
                lines.append(f"{text}, actions:{format_actions(f.actions)}")
        return "\n".join(lines)

    def pmd_stats_show(self, _conn: Any, args: list[str]) -> str:
        return self._pmd_dpif(args[0] if args else None).format_pmd_stats()

    def pmd_stats_clear(self, _conn: Any, args: list[str]) -> str:
        self._pmd_dpif(args[0] if args else None).pmd_stats_clear()
        return ""

    def pmd_rxq_show(self, _conn: Any, args: list[str]) -> str:
        core = None
        dp = None
        rest = list(args)
        while rest:
            arg = rest.pop(0)
            if arg == "-pmd" and rest:
                try:
                    core = int(rest.pop(0))
                except ValueError:
                    raise UnixctlCommandError("-pmd: core id must be a number") from None
            else:
                dp = arg
        return self._pmd_dpif(dp).format_pmd_rxqs(core)

    # -- bridges --

    def fdb_show(self, _conn: Any, args: list[str]) -> str:
        return self._bridge(args[0]).mac_learning.format_fdb_show(format_port)

    def fdb_flush(self, _conn: Any, args: list[str]) -> str:
        bridges = [self._bridge(args[0])] if args else list(self.switch.bridges.values())
        for bridge in bridges:
            if bridge.mac_learning.flush():
                # Megaflows forwarding to learned ports would outlive the entries.
                bridge.revalidate()
        return "table successfully flushed"

    def fdb_add(self, _conn: Any, args: list[str]) -> str:
        """A static entry: MAC on VLAN goes to PORT (a port name) until ``fdb/del``;
        learning does not move it, ``fdb/flush`` keeps it.  Says so when it replaces
        another entry (by OpenFlow port number, as OVS)."""
        bridge = self._bridge(args[0])
        ofport = next((p.ofport for p in bridge.ports if p.name == args[1]), None)
        if ofport is None:
            raise UnixctlCommandError(f"{args[1]}: no such port on {args[0]}")
        vlan, mac = _vlan_mac(args[2], args[3])
        old = bridge.mac_learning.entry(mac, vlan)
        # The entry itself becomes the static one: what it was is read first.
        replaced = None if old is None or (old.port == ofport and old.is_static) else \
            f"{'static' if old.is_static else 'dynamic'} entry on {format_port(old.port)}"
        bridge.mac_learning.add_static(mac, vlan, ofport)
        bridge.revalidate()     # floods to MAC now forward, forwards elsewhere move
        return "" if replaced is None else f"Overriding already existing {replaced}"

    def fdb_del(self, _conn: Any, args: list[str]) -> str:
        bridge = self._bridge(args[0])
        vlan, mac = _vlan_mac(args[1], args[2])
        if not bridge.mac_learning.del_static(mac, vlan):
            raise UnixctlCommandError("could not find static mac entry")
        bridge.revalidate()
        return ""

    def trace(self, _conn: Any, args: list[str]) -> str:
        """``ofproto/trace BRIDGE FLOW [PACKET]`` (FLOW in ovs-ofctl syntax) or
        ``ofproto/trace [DP] ODP_FLOW [PACKET]``; PACKET is an Ethernet frame in hex
        whose headers replace the flow's (the flow then gives in_port and metadata)."""
        from appliance.dpif.odp import parse_key

        for arg in args:
            if arg.startswith("-"):
                raise UnixctlCommandError(f"{arg}: unknown option")
        args = list(args)
        packet = None
        if len(args) > 1:
            try:
                packet = _eth_from_hex(args[-1])
            except ValueError as e:
                if len(args) > 2:
                    raise UnixctlCommandError(str(e)) from None
            else:
                args.pop()
        try:
            key, _mask = parse_key(args[-1])
        except ValueError as odp_error:
            if len(args) != 2:
                raise UnixctlCommandError(
                    f"{odp_error} (or the bridge name was omitted)") from None
            bridge = self.switch.bridges.get(args[0])
            if bridge is None:
                raise UnixctlCommandError(f"{args[0]}: unknown bridge") from None
            try:
                key, in_ofport = parse_flow(args[-1], bridge.ports)
            except FlowSyntaxError as e:
                raise UnixctlCommandError(f"Bad openflow flow syntax: {e}") from None
        else:
            if self.switch.dpif is None or (len(args) == 2 and args[0] not in DP_NAMES):
                raise UnixctlCommandError("Cannot find the datapath")
            bridge = next((b for b in self.switch.bridges.values()
                           if b.ports.by_odp(key.in_port) is not None), None)
            if bridge is None:
                raise UnixctlCommandError(f"no OpenFlow port for datapath port {key.in_port}")
            in_ofport = bridge.ports.ofport_of(key.in_port)
        if packet is not None:
            meta = {"recirc_id": key.recirc_id, "dp_hash": key.dp_hash,
                    "pkt_mark": key.pkt_mark}
            key = bridge.dpif.flow_extract(packet, key.in_port).replace(**meta)
        return trace(bridge, key, in_ofport, packet)

    # -- coverage --

    def _coverage_totals(self) -> dict[str, int]:
        """Event counters: each bridge counter (:class:`~ofproto.bridge.BridgeStats`)
        summed over bridges as ``bridge_<name>``, each table-offload counter
        (:class:`~appliance.dpif.OffloadStats`) as ``offload_<name>``, each PMD counter
        summed over PMDs as ``pmd_<name>``."""
        totals: dict[str, int] = {}
        for bridge in self.switch.bridges.values():
            counters = [("bridge", bridge.stats)]
            if bridge.offload is not None:
                counters.append(("offload", bridge.offload.stats()))
            for prefix, stats in counters:
                for f in dataclasses.fields(stats):
                    name = f"{prefix}_{f.name}"
                    totals[name] = totals.get(name, 0) + getattr(stats, f.name)
        dpif = self.switch.dpif
        pmds = dpif.pmd_stats() if dpif is not None else []
        for counter in _PMD_COUNTERS:
            totals[f"pmd_{counter}"] = sum(getattr(s, counter) for s in pmds)
        return totals

    def sample_coverage(self) -> None:
        self.coverage.sample(self._coverage_totals())

    def coverage_show(self, _conn: Any, _args: list[str]) -> str:
        return self.coverage.format(self._coverage_totals())

    # -- exit --

    def exit(self, _conn: Any, args: list[str]) -> str:
        if args and args[0] != "--cleanup":
            raise UnixctlCommandError(f"{args[0]}: unknown option")
        from twisted.internet import defer

        d = defer.maybeDeferred(self.switch.exit)
        d.addErrback(lambda f: log.failure("exit failed", f))
        return ""


def _eth_from_hex(text: str) -> bytes:
    """OVS ``eth_from_hex()``: an Ethernet frame written in hex."""
    try:
        data = bytes.fromhex(text)
    except ValueError:
        raise ValueError("Trailing garbage in packet data") from None
    if len(data) < 14:
        raise ValueError("Packet data too short for Ethernet")
    return data


def _dpctl_args(args: list[str], *option: str) -> tuple[bool, str | None]:
    """A ``dpctl/`` command's words: whether ``option`` (its spellings) is given, and
    the datapath name if one is; another option is an error, worded as OVS's."""
    given = False
    dp = None
    for arg in args:
        if arg in option:
            given = True
        elif arg.startswith("-"):
            raise UnixctlCommandError(f"Unrecognized option {arg}")
        else:
            dp = arg
    return given, dp


def _vlan_mac(vlan: str, mac: str) -> tuple[int, bytes]:
    """``fdb/add``/``fdb/del``'s VLAN (0..4095) and MAC (``xx:xx:xx:xx:xx:xx``)."""
    try:
        address = mac_from_str(mac)
    except ValueError:
        raise UnixctlCommandError("bad MAC address") from None
    if not vlan.isdigit() or int(vlan) > 4095:
        raise UnixctlCommandError(f"{vlan}: bad VLAN (0 to 4095)")
    return int(vlan), address


def _human_size(n: int) -> str:
    """OVS ``print_human_size()``: `` (1.5 KiB)`` and up, nothing below 1 KiB."""
    for shift, unit in ((40, "TiB"), (30, "GiB"), (20, "MiB"), (10, "KiB")):
        if n >= 1 << shift:
            return f" ({n / (1 << shift):.1f} {unit})"
    return ""


def _format_port_stats(s: PortStats) -> list[str]:
    """``dpctl/show -s``'s lines for one port (OVS ``show_dpif()``); ``?`` for the
    counters the datapath does not keep, as OVS prints them."""
    return [f"    RX packets:{s.rx_packets} errors:{s.rx_errors} dropped:{s.rx_dropped} "
            "overruns:? frame:?",
            f"    TX packets:{s.tx_packets} errors:{s.tx_errors} dropped:{s.tx_dropped} "
            "aborted:? carrier:?",
            "    collisions:?",
            f"    RX bytes:{s.rx_bytes}{_human_size(s.rx_bytes)}  "
            f"TX bytes:{s.tx_bytes}{_human_size(s.tx_bytes)}"]
