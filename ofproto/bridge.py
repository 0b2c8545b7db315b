"""One bridge over a datapath: the glue between the OpenFlow switch and a dpif
(OVS's ofproto-dpif and its upcall handler).

An :class:`OFBridge` owns the bridge's :class:`~ofproto.switch.OFSwitch` (pipeline and
OpenFlow answers), its :class:`~ofproto.connmgr.ConnectionManager`, its ports (OpenFlow
number <-> datapath number) and its MAC learning table, and drives the datapath:

- when the datapath has a :class:`~appliance.dpif.TableOffload`, table 0 is mirrored
  into it (:mod:`ofproto.offload`) and the datapath answers the misses whose best rule
  only outputs to ports itself; the others arrive as upcalls;
- a miss upcall is translated (:func:`ofproto.xlate.xlate`), its megaflow installed with
  :meth:`Dpif.flow_put` and the packet executed; packet-ins go to the controllers;
- a userspace-action upcall carrying a controller cookie becomes a packet-in;
- OFPT_PACKET_OUT is translated and executed;
- after any change to the pipeline or the MAC table, every megaflow of the bridge is
  re-translated (revalidation) and deleted if its actions or mask would now differ;
- :meth:`run_periodic` credits rules with megaflow statistics, expires idle megaflows
  and timed-out rules, and ages the MAC table.

Nothing here touches the reactor: vswitchd (or a test) feeds upcalls and calls
:meth:`run_periodic`; :meth:`attach` does that on a Twisted reactor.
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from appliance.dpif import Dpif, DpifError, Execute, FlowPut, Upcall
from appliance.dpif.odp import FlowKey
from ovsdb import vlog

from .connection import OFConnection
from .connmgr import ConnectionManager
from .mac_learning import MacLearningTable
from .offload import Table0Offload
from .ofp import consts, oxm
from .ofp import messages as m
from .ofp.actions import ActionOutput, InstructionApplyActions
from .ofp.consts import OFPErrorType as ET
from .ofp.consts import OFPPortConfig as PC
from .ofp.errors import OFPDecodeError
from .switch import OFPort, OFSwitch
from .xlate import (
    ControllerCookie,
    MirrorConfig,
    PatchLink,
    PortConfig,
    PortMap,
    XlateIn,
    decode_controller_cookie,
)
from .xlate import xlate as run_xlate

log = vlog.logger("ofproto.bridge")

#: Megaflows unused this long are deleted (OVS's max-idle default: 10 s).
MAX_IDLE_MS = 10_000
_OFPR_FOR_OF13 = {3: 1, 4: 1, 5: 1}   # OVS-internal reasons -> OFPR_ACTION before 1.4
_UFID_MASK = (1 << 128) - 1


@dataclass
class Megaflow:
    """A megaflow this bridge installed: what it matches and which rules it stands for
    (their counters are credited from its statistics)."""

    key: FlowKey
    mask: FlowKey
    actions: list[Any]
    rules: list[Any]
    packets: int = 0
    bytes: int = 0


class _UpcallBatch:
    """What one drained batch of upcalls produced and has not yet handed to the
    datapath: megaflows to install, indexed by (PMD, mask) and masked key so later
    misses of the batch can find the megaflow that covers them, and packets to execute.

    Keys and masks are indexed as ints of their C layout (``FlowKey.to_bytes``), so
    covering a key is one AND and one dict probe per distinct mask."""

    def __init__(self) -> None:
        self.puts: list[tuple[FlowPut, Megaflow]] = []
        self.execs: list[Execute] = []
        self._index: dict[tuple[int | None, int], dict[int, Megaflow]] = {}

    def add(self, put: FlowPut, megaflow: Megaflow) -> None:
        self.puts.append((put, megaflow))
        mask = int.from_bytes(put.mask.to_bytes(), "little")
        key = int.from_bytes(put.key.to_bytes(), "little")
        self._index.setdefault((put.pmd, mask), {})[key] = megaflow

    def lookup(self, key: FlowKey, pmd: int | None) -> Megaflow | None:
        k = int.from_bytes(key.to_bytes(), "little")
        for (mf_pmd, mask), flows in self._index.items():
            if mf_pmd == pmd:
                mf = flows.get(k & mask)
                if mf is not None:
                    return mf
        return None

    def clear_megaflows(self) -> None:
        """Forgets the megaflows (just installed: revalidation may change them now);
        the packets to execute stay."""
        self.puts.clear()
        self._index.clear()


@dataclass
class BridgeStats:
    upcalls: int = 0
    packet_ins: int = 0
    flows_installed: int = 0
    #: Misses answered from a megaflow translated earlier in the same upcall batch.
    misses_coalesced: int = 0
    flows_revalidated_away: int = 0
    flows_expired: int = 0


class OFBridge:
    """One bridge over ``dpif``.

    :param fail_mode: "standalone" (act as a learning switch while no controller is
        connected) or "secure" (keep the flow table only).
    :param schedule: ``schedule(fn)`` runs ``fn`` soon (vswitchd: the reactor's
        ``callLater(0, fn)``).  With it, the revalidation a flow-table change needs
        runs once for all the changes made until then, as OVS's revalidators batch
        them; without it (None), after every change.
    """

    def __init__(self, name: str, dpif: Dpif, datapath_id: int, rundir: str,
                 fail_mode: str = "standalone",
                 clock: Callable[[], float] = time.monotonic,
                 schedule: Callable[[Callable[[], None]], Any] | None = None) -> None:
        self.name = name
        self.dpif = dpif
        self.fail_mode = fail_mode
        self.clock = clock
        self.switch = OFSwitch(name, datapath_id, clock=clock, port_stats=self._port_counters)
        # The bridge stands between the connection manager and the switch: it takes
        # the requests that need the datapath (packet-out) and passes on the rest.
        self.connmgr = ConnectionManager(name, self, rundir, clock=clock)
        self.switch.connmgr = self.connmgr
        self.ports = PortMap()
        self.mac_learning = MacLearningTable(clock=clock)
        self.megaflows: dict[bytes, Megaflow] = {}
        # Fail-open is due (standalone acts as NORMAL): see ConnectionManager.
        self._fail_open = False
        # UFIDs are a random 128-bit base plus a sequence number: unique per bridge
        # without a getrandom() call per megaflow, and unlikely to meet another
        # bridge's on the shared datapath.
        self._ufid_base = int.from_bytes(os.urandom(16), "little")
        self._ufid_seq = itertools.count()
        #: Port mirrors (set with :meth:`set_mirrors`).
        self.mirrors: tuple[MirrorConfig, ...] = ()
        self.stats = BridgeStats()
        #: Called after each revalidation (vswitchd revalidates bridges reached
        #: through patch ports, whose megaflows depend on this one's tables).
        self.revalidate_listeners: list[Callable[[OFBridge], None]] = []
        self._schedule = schedule
        self._revalidation_due = False
        table_offload = dpif.table_offload()
        #: Table 0 mirrored into the datapath, which then answers the misses it can
        #: (None if the datapath has no offload).
        self.offload = Table0Offload(table_offload, self.ports) \
            if table_offload is not None else None
        # The offload's (handled, table_misses) already counted in table 0's stats.
        self._offload_lookups = (0, 0)
        self.switch.pipeline.add_listener(self._tables_changed)
        self.switch.port_config_listener = self._port_config_changed
        self.flushed()

    # -- ports --

    def add_port(self, name: str, type: str, options: dict[str, str],
                 ofport: int | None = None, tag: int | None = None,
                 trunks: frozenset[int] = frozenset(), vlan_mode: str | None = None,
                 hw_addr: int = 0) -> int:
        """Adds an interface to the datapath and the bridge; returns its OpenFlow port
        number (``ofport`` if given). ``hw_addr`` 0 takes the device's address. Raises
        DpifError from the datapath."""
        odp_port = self.dpif.port_add(name, type, options)
        if not hw_addr:
            hw_addr = int.from_bytes(self.dpif.port_info(odp_port).mac, "big")
        if ofport is None:
            ofport = self.free_ofport()
        self.ports.add(PortConfig(ofport, odp_port, name, tag, trunks, vlan_mode))
        self.switch.add_port(OFPort(ofport, name, hw_addr=hw_addr))
        self.revalidate()
        return ofport

    def add_patch_port(self, name: str, link: PatchLink, ofport: int | None = None,
                       hw_addr: int = 0) -> int:
        """Adds a patch port (no datapath port: xlate continues in the peer bridge
        through ``link``); returns its OpenFlow port number."""
        if ofport is None:
            ofport = self.free_ofport()
        self.ports.add(PortConfig(ofport, -1, name, patch=link))
        self.switch.add_port(OFPort(ofport, name, hw_addr=hw_addr))
        self.revalidate()
        return ofport

    def free_ofport(self) -> int:
        """The lowest OpenFlow port number not in use."""
        used = {p.ofport for p in self.ports}
        return next(n for n in range(1, consts.OFPPort.OFPP_MAX) if n not in used)

    def del_port(self, ofport: int) -> None:
        port = self.ports.remove(ofport)
        self.switch.del_port(ofport)
        self.mac_learning.flush_port(ofport)
        if port.patch is None:
            if self.offload is not None:
                self.offload.detach(port.odp_port)
            self.dpif.port_del(port.odp_port)
        self.revalidate()

    def _port_config_changed(self, port: OFPort) -> None:
        """Applies a port-mod's OFPPC_* bits to forwarding (spec 1.3.5 A.2.1): PORT_DOWN
        stops both directions and fails fast-failover watches (NO_PACKET_IN is applied
        when a packet-in is about to be sent)."""
        p = self.ports.get(port.port_no)
        if p is None:
            return
        down = bool(port.config & PC.OFPPC_PORT_DOWN)
        p.no_recv = down or bool(port.config & PC.OFPPC_NO_RECV)
        p.no_fwd = down or bool(port.config & PC.OFPPC_NO_FWD)
        p.flood = not port.config & PC.OFPPC_NO_FLOOD
        p.live = not down
        self.revalidate()

    def _port_counters(self, ofport: int) -> dict[str, int]:
        odp = self.ports.odp_of(ofport)
        if odp is None:
            return {}
        s = self.dpif.port_stats(odp)
        return dict(rx_packets=s.rx_packets, tx_packets=s.tx_packets, rx_bytes=s.rx_bytes,
                    tx_bytes=s.tx_bytes, rx_dropped=s.rx_dropped, tx_dropped=s.tx_dropped,
                    rx_errors=s.rx_errors, tx_errors=s.tx_errors)

    # -- translation --

    def xlate_in(self, key: FlowKey, packet: bytes | None = None, actions: Any = None,
                 side_effects: bool = True) -> XlateIn:
        """The translation input for ``key`` on this bridge as it is now."""
        return XlateIn(key=key, pipeline=self.switch.pipeline, ports=self.ports,
                       groups=self.switch.pipeline.groups, mac_learning=self.mac_learning,
                       packet=packet, actions=actions, fail_mode=self.fail_mode,
                       has_controllers=self.connmgr.has_controllers,
                       controller_connected=self.connmgr.controller_connected,
                       fail_open_due=self._fail_open,
                       allow_side_effects=side_effects, bridge_name=self.name,
                       clock=self.clock, want_trace=False, mirrors=self.mirrors)

    def xlate(self, key: FlowKey, packet: bytes | None = None, actions: Any = None,
              side_effects: bool = True, in_ofport: int | None = None,
              want_trace: bool = False) -> Any:
        """Translates ``key`` (see :func:`ofproto.xlate.xlate`); ``in_ofport`` names the
        OpenFlow in_port when the datapath has no port for it; ``want_trace`` fills
        the result's trace (ofproto/trace)."""
        xin = self.xlate_in(key, packet, actions, side_effects)
        xin.in_ofport = in_ofport
        xin.want_trace = want_trace
        xin.received = actions is None
        return run_xlate(xin)

    # -- controllers and fail mode (OVS connmgr_set_controllers/_set_fail_mode) --

    def set_controllers(self, targets: Iterable[str], probe_interval: int = 5000) -> None:
        """Connects to exactly ``targets``. Going from no controller to some, or back,
        flushes the flow tables, as OVS does; then :meth:`flushed`. Raises ValueError
        for a malformed target, changing nothing."""
        had = self.connmgr.has_controllers
        self.connmgr.set_controllers(targets, probe_interval)
        if had != self.connmgr.has_controllers:
            self.flush_flows()

    def set_mirrors(self, mirrors: Iterable[MirrorConfig]) -> None:
        """Replaces the bridge's port mirrors; revalidates if they changed."""
        mirrors = tuple(mirrors)
        if mirrors != self.mirrors:
            self.mirrors = mirrors
            self.revalidate()

    def set_fail_mode(self, fail_mode: str) -> None:
        """"standalone" or "secure"; without controllers a change flushes the flow
        tables (OVS connmgr_set_fail_mode())."""
        if fail_mode == self.fail_mode:
            return
        self.fail_mode = fail_mode
        if not self.connmgr.has_controllers:
            self.flush_flows()
        else:
            self.revalidate()   # fail-open depends on the fail mode

    def flush_flows(self) -> None:
        """Deletes every flow, then :meth:`flushed`."""
        self.switch.pipeline.flow_mod(m.FlowMod(
            command=consts.OFPFlowModCommand.OFPFC_DELETE, table_id=consts.OFPTable.OFPTT_ALL,
            match=oxm.Match(), out_port=consts.OFPPort.OFPP_ANY,
            out_group=consts.OFPGroup.OFPG_ANY))
        self.flushed()

    def flushed(self) -> None:
        """After the tables were emptied: a standalone bridge without controllers gets
        the flow ``priority=0,actions=NORMAL`` (OVS connmgr_flushed()); a secure one
        passes no traffic until a controller says so."""
        if not self.connmgr.has_controllers and self.fail_mode == "standalone":
            self.switch.pipeline.flow_mod(m.FlowMod(
                command=consts.OFPFlowModCommand.OFPFC_ADD, match=oxm.Match(), priority=0,
                instructions=[InstructionApplyActions([_normal_action()])]))

    # -- upcalls --

    def handle_upcalls(self, upcalls: list[Upcall]) -> None:
        """Handle one drained batch of upcalls.

        The batch's megaflows go to the datapath in one :meth:`Dpif.flow_put` (one
        PMD round trip instead of one per miss), before anything that walks
        :attr:`megaflows` (revalidation) and before returning.  A miss that one of
        them already covers is not translated again: it gets that megaflow's actions,
        as it would have from the datapath had the megaflow been installed in time.
        The missed packets are executed last, in order, in one
        :meth:`Dpif.execute_batch`.
        """
        batch = _UpcallBatch()
        for up in upcalls:
            self.stats.upcalls += 1
            try:
                if up.kind == "miss":
                    self._handle_miss(up, batch)
                else:
                    self._handle_action(up)
            except Exception:   # one bad packet must not stop the bridge
                log.failure("{bridge}: upcall failed", bridge=self.name)
        self._install(batch)
        if batch.execs:
            for err in self.dpif.execute_batch(batch.execs):
                if err is not None:
                    log.warn("{bridge}: cannot execute upcall packet: {e}",
                             bridge=self.name, e=err)

    def _install(self, batch: _UpcallBatch) -> None:
        if not batch.puts:
            return
        errors = self.dpif.flow_put([put for put, _ in batch.puts])
        for (put, megaflow), err in zip(batch.puts, errors, strict=True):
            if err is None:
                self.megaflows[put.ufid] = megaflow
                self.stats.flows_installed += 1
            elif err.name != "EEXIST":
                log.warn("{bridge}: cannot install megaflow: {e}", bridge=self.name, e=err)
        batch.clear_megaflows()

    def _handle_miss(self, up: Upcall, batch: _UpcallBatch) -> None:
        mf = batch.lookup(up.key, up.pmd)
        if mf is not None:
            self.stats.misses_coalesced += 1
            actions, rules = mf.actions, mf.rules
        else:
            res = self.xlate(up.key, up.packet)
            actions, rules = res.actions, res.rules
            if res.error is None and not res.slow:
                key = up.key & res.mask
                ufid = ((self._ufid_base + next(self._ufid_seq)) & _UFID_MASK).to_bytes(
                    16, "little")
                batch.add(FlowPut(ufid, key, res.mask, res.actions, pmd=up.pmd),
                          Megaflow(key, res.mask, list(res.actions), list(res.rules)))
        if actions:
            # Its userspace (controller) actions come back as action upcalls, which
            # send the packet-ins (_handle_action): sending them here too doubled them.
            batch.execs.append(Execute(up.packet, up.key.in_port, actions, up.pmd))
        for rule in rules:
            self.switch.pipeline.credit(rule, 1, len(up.packet))
        if mf is None and any(u.changed for u in res.mac_updates):
            # A new or moved MAC can change what other megaflows (floods) should do,
            # the batch's own included, so they are installed before revalidating.
            self._install(batch)
            self.revalidate()

    def _handle_action(self, up: Upcall) -> None:
        try:
            cookie = decode_controller_cookie(up.cookie)
        except ValueError:
            log.info("{bridge}: userspace upcall with unknown cookie", bridge=self.name)
            return
        self._send_packet_in(cookie, up.packet, up.key)

    def _send_packet_in(self, cookie: ControllerCookie, packet: bytes, key: FlowKey) -> None:
        ofport = self.ports.ofport_of(key.in_port)
        port = self.switch.ports.get(ofport) if ofport is not None else None
        if port is not None and port.config & PC.OFPPC_NO_PACKET_IN:
            return   # OFPPC_NO_PACKET_IN (spec 1.3.5 A.2.1): none for this port's packets
        data = packet if cookie.max_len == consts.OFPCML_NO_BUFFER \
            else packet[:cookie.max_len]
        self.stats.packet_ins += 1

        def build(conn: OFConnection) -> m.Message:
            reason = cookie.reason
            if conn.version < consts.OFP14:
                reason = _OFPR_FOR_OF13.get(reason, reason)
            if conn.version == consts.OFP10:
                return m.PacketIn10(buffer_id=0xFFFFFFFF, total_len=len(packet),
                                    in_port=ofport or 0xFFFF, reason=reason, data=data)
            match = oxm.Match()
            match["in_port"] = (ofport if ofport is not None else
                                consts.OFPPort.OFPP_CONTROLLER, None)
            if cookie.metadata:
                match["metadata"] = (cookie.metadata, None)
            return m.PacketIn(buffer_id=0xFFFFFFFF, total_len=len(packet), reason=reason,
                              table_id=cookie.table_id, cookie=cookie.cookie,
                              match=match, data=data)

        self.connmgr.send_async("packet_in", min(cookie.reason, 1), build)

    # -- SwitchHandler --

    def channel_up(self, conn: OFConnection) -> None:
        self.switch.channel_up(conn)

    def controller_status_changed(self) -> None:
        # Fail-open (standalone, no controller) changes what every packet should get.
        self.revalidate()

    def commit_deferred(self) -> bool:
        return self.switch.commit_deferred()

    def take_raw(self, conn: OFConnection, raw: bytes) -> bool:
        return self.switch.take_raw(conn, raw)

    def handle_message(self, conn: OFConnection, msg: m.Message, raw: bytes) -> None:
        if isinstance(msg, m.PacketOut | m.PacketOut15 | m.PacketOut10):
            self.switch.commit_deferred()   # xlate reads the tables
            self.packet_out(conn, msg)
        else:
            self.switch.handle_message(conn, msg, raw)

    # -- packet-out --

    def packet_out(self, conn: OFConnection, msg: Any) -> None:
        """OFPT_PACKET_OUT (spec 1.3.5 A.3.7; 1.0.0 5.3.6): runs ``actions`` on ``data``
        as if it arrived on ``in_port``. Buffered packets do not exist here (n_buffers =
        0). OpenFlow 1.0's actions arrive with their ports already in the 32-bit space."""
        if msg.buffer_id != 0xFFFFFFFF:
            raise OFPDecodeError(ET.OFPET_BAD_REQUEST,
                                 consts.OFPBadRequestCode.OFPBRC_BUFFER_UNKNOWN, "no buffers")
        if isinstance(msg, m.PacketOut15):   # OpenFlow 1.5 carries in_port in a match
            in_port = msg.match.get("in_port", (consts.OFPPort.OFPP_CONTROLLER, None))[0]
        elif isinstance(msg, m.PacketOut10):   # a 16-bit OpenFlow 1.0 port number
            in_port = consts.port_from_of10(msg.in_port)
        else:
            in_port = msg.in_port
        odp_in = self.ports.odp_of(in_port)
        key = self.dpif.flow_extract(msg.data, odp_in if odp_in is not None else 0xFFFFFFFF)
        res = self.xlate(key, msg.data, actions=msg.actions,
                         in_ofport=in_port if odp_in is None else None)
        if res.actions:
            # Controller outputs come back as action upcalls (see _handle_miss).
            self.dpif.execute(msg.data, key.in_port, res.actions)

    # -- revalidation and housekeeping --

    def _tables_changed(self, rules: list[Any]) -> None:
        if self.offload is not None:
            self.offload.rules_changed(rules)
        if self._schedule is None:
            self.revalidate()
        elif not self._revalidation_due:
            # Revalidating translates every megaflow: once per change would make a
            # stream of flow-mods cost O(megaflows) each.
            self._revalidation_due = True
            self._schedule(self._due_revalidation)

    def _due_revalidation(self) -> None:
        if self._revalidation_due:   # not done meanwhile, nor the bridge closed
            self.revalidate()

    def revalidate(self) -> None:
        """Re-translates every megaflow of the bridge (without side effects) and deletes
        those whose actions or mask changed, so no datapath flow keeps behaviour the
        current tables would not produce.  The table offload is brought up to date
        and revalidates its own megaflows (in the datapath)."""
        self._revalidation_due = False
        fail_open = self.connmgr.fail_open_due()
        if fail_open != self._fail_open and self.fail_mode == "standalone":
            if fail_open:
                log.warn("{bridge}: no controller connected for three probe intervals: "
                         "failing open", bridge=self.name)
            else:
                log.info("{bridge}: no longer in fail-open mode", bridge=self.name)
        self._fail_open = fail_open
        if self.offload is not None:
            # Its answers depend on table 0 alone: not while mirrors or fail-open
            # also decide.
            fail_open = self.fail_mode == "standalone" and self._fail_open
            self.offload.sync(enabled=not self.mirrors and not fail_open)
        for ufid, mf in list(self.megaflows.items()):
            res = self.xlate(mf.key, side_effects=False)
            if res.error is None and not res.slow and res.mask == mf.mask \
                    and list(res.actions) == mf.actions:
                mf.rules = list(res.rules)
                continue
            self._delete_megaflow(ufid)
            self.stats.flows_revalidated_away += 1
        for fn in self.revalidate_listeners:
            fn(self)

    def flush_megaflows(self) -> None:
        """Deletes every megaflow of the bridge from the datapath, crediting their rules
        with the final counters (``dpctl/del-flows``); misses install them again."""
        for ufid in list(self.megaflows):
            self._delete_megaflow(ufid)
        if self.offload is not None:
            self.offload.flush()
            self._credit_offloaded()

    def n_megaflows(self) -> int:
        """Megaflows the bridge has in the datapath: those ofproto installed plus those
        its table offload installed."""
        n = len(self.megaflows)
        if self.offload is not None:
            n += self.offload.stats().n_flows
        return n

    def close(self) -> None:
        """Deletes the bridge's megaflows and frees its table offload (the bridge is
        being deleted; its ports were removed)."""
        self._revalidation_due = False
        self.flush_megaflows()
        if self.offload is not None:
            self.offload.close()
            self.offload = None

    def _credit_offloaded(self) -> None:
        pipeline = self.switch.pipeline
        for rule, packets, nbytes in self.offload.credits():
            pipeline.credit(rule, packets, nbytes)
        # Each miss the offload answered was a table-0 lookup, as an upcall's is.
        st = self.offload.stats()
        seen, missed = self._offload_lookups
        pipeline.count_lookups(0, st.handled - seen, st.handled - seen
                               - (st.table_misses - missed))
        self._offload_lookups = (st.handled, st.table_misses)

    def _delete_megaflow(self, ufid: bytes) -> None:
        mf = self.megaflows.pop(ufid, None)
        try:
            final = self.dpif.flow_del(ufid)
        except DpifError:
            return
        if mf is not None:
            self._credit(mf, final.packets, final.bytes)

    def _credit(self, mf: Megaflow, packets: int, nbytes: int) -> None:
        dp, db = packets - mf.packets, nbytes - mf.bytes
        if dp > 0:
            for rule in mf.rules:
                self.switch.pipeline.credit(rule, dp, db)
        mf.packets, mf.bytes = packets, nbytes

    def run_periodic(self) -> None:
        """Statistics, expiry and ageing (call about once a second)."""
        now_ms = self.dpif.now_ms()
        for flow in self.dpif.flow_dump():
            mf = self.megaflows.get(flow.ufid)
            if mf is None:
                continue
            self._credit(mf, flow.stats.packets, flow.stats.bytes)
            last = flow.stats.used or flow.stats.created
            if now_ms - last >= MAX_IDLE_MS:
                self._delete_megaflow(flow.ufid)
                self.stats.flows_expired += 1
        if self.offload is not None:
            self.stats.flows_expired += self.offload.sweep(MAX_IDLE_MS)
            self._credit_offloaded()
        self.switch.expire()
        if self.mac_learning.run() or self.connmgr.fail_open_due() != self._fail_open:
            self.revalidate()

    def attach(self, reactor: Any, period: float = 1.0) -> None:
        """Feeds this bridge from ``reactor``: upcalls as they come, housekeeping every
        ``period`` seconds (a single-bridge datapath; vswitchd dispatches by port)."""
        from twisted.internet import task

        from .upcall_reader import UpcallReader

        reader = UpcallReader(self.dpif, self.handle_upcalls)
        reactor.addReader(reader)
        task.LoopingCall(self.run_periodic).start(period, now=False)


def _normal_action() -> ActionOutput:
    return ActionOutput(port=consts.OFPPort.OFPP_NORMAL, max_len=0)


