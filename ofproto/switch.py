"""The OpenFlow switch of one bridge: ports, pipeline, and the answers to requests.

:class:`OFSwitch` is the :class:`~ofproto.connmgr.SwitchHandler` behind a bridge's
:class:`~ofproto.connmgr.ConnectionManager`: it answers features, configuration,
description, port, table, flow, group and meter requests from the
:class:`~ofproto.flowtable.Pipeline`, applies flow, group and meter mods, and emits the
asynchronous messages they cause (flow-removed, port-status) through the connection
manager. The datapath side (xlate of misses, packet-out, revalidation) attaches to the
same object; vswitchd creates one per Bridge row.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import struct
import time
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ovsdb import vlog

from .connection import ERROR_DATA_LEN, OFConnection
from .flowtable import OFPError, OFRule, Pipeline, match_from_of10
from .ofp import actions as A
from .ofp import bundles as B
from .ofp import consts, oxm
from .ofp import messages as m
from .ofp import messages14 as m14
from .ofp import messages15 as m15
from .ofp import nicira as nx
from .ofp.consts import OFPBadRequestCode as BRC
from .ofp.consts import OFPErrorType as ET
from .ofp.consts import OFPFlowRemovedReason as RR
from .ofp.consts import OFPFlowWildcards10 as W10
from .ofp.consts import OFPPort, port_from_of10, port_to_of10
from .ofp.consts import OFPPortConfig as PC
from .ofp.consts import OFPPortModFailedCode as PMFC
from .ofp.errors import OFPDecodeError
from .ofp.structs import Encoded

log = vlog.logger("ofproto.switch")

VERSION = "0.1.0"
N_TABLES = 254
#: Largest multipart reply body we send in one message (OpenFlow caps at 64 KiB).
_MP_CHUNK = 60000
_OFPMPF_REPLY_MORE = 1
# OFPC_*: flow, table, port and group statistics (spec 1.3.5 A.3.1).
_CAPABILITIES = 0x1 | 0x2 | 0x4 | 0x8
# OFPPDPT_ETHERNET / OFPPSPT_ETHERNET property types (spec 1.4.1 7.2.1.1, 7.3.5.7).
_OFPPDPT_ETHERNET = 0
# Port config bits a port-mod may set, per version (spec 1.0.0 5.2.1; 1.3.5 A.2.1).
_PORT_CONFIG_OF13 = (PC.OFPPC_PORT_DOWN | PC.OFPPC_NO_RECV | PC.OFPPC_NO_FWD
                     | PC.OFPPC_NO_PACKET_IN)
_PORT_CONFIG_OF10 = (_PORT_CONFIG_OF13 | PC.OFPPC_NO_STP | PC.OFPPC_NO_RECV_STP
                     | PC.OFPPC_NO_FLOOD)
_OFPPS_LINK_DOWN = consts.OFPPortState.OFPPS_LINK_DOWN
_OFPPSPT_ETHERNET = 0
_PORT14_COUNTERS = ("rx_packets", "tx_packets", "rx_bytes", "tx_bytes", "rx_dropped",
                    "tx_dropped", "rx_errors", "tx_errors")
_PORT14_ETHERNET = ("rx_frame_err", "rx_over_err", "rx_crc_err", "collisions")
_VENDOR_MESSAGES = (m.Vendor10, m.Experimenter, m.VendorStatsRequest10)
# Messages that neither read nor change the flow tables beyond staging an add, so the
# adds staged before them can stay staged (Pipeline.flow_mod's ``defer``).
_KEEP_STAGED = frozenset({m.FlowMod, m.FlowMod10, m.BarrierRequest, m.BarrierRequest10})
_OFPT_FLOW_MOD = int(consts.OFPType.OFPT_FLOW_MOD)
# Barrier request and reply types: OpenFlow 1.3+ (index False) and 1.0 (True).
_BARRIERS = (int(consts.OFPType.OFPT_BARRIER_REQUEST),
             int(consts.OFPType10.OFPT_BARRIER_REQUEST))
_BARRIER_REPLIES = (bytes([consts.OFPType.OFPT_BARRIER_REPLY]),
                    bytes([consts.OFPType10.OFPT_BARRIER_REPLY]))


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Suspends the cyclic garbage collector over a burst of acyclic allocations (a
    flow stats reply builds and encodes objects for every selected rule): with many
    rules installed each collection walks all of them, and such a burst triggers
    several.  Reference counting frees the burst's objects anyway."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


@dataclass
class OFPort:
    """A switch port as OpenFlow describes it (spec 1.3.5 A.2.1)."""

    port_no: int
    name: str
    hw_addr: int = 0
    config: int = 0
    state: int = 0
    curr_speed: int = 10_000_000   # kbps
    max_speed: int = 10_000_000

    def to_ofp(self) -> m.Port:
        return m.Port(self.port_no, self.hw_addr, self.name, self.config, self.state,
                      0, 0, 0, 0, self.curr_speed, self.max_speed)

    def to_ofp14(self) -> m14.Port14:
        """``ofp_port`` for OpenFlow 1.4+ (spec 1.4.1 7.2.1) with one
        OFPPDPT_ETHERNET property carrying the features and speeds (7.2.1.1)."""
        eth = struct.pack("!4x6I", 0, 0, 0, 0, self.curr_speed, self.max_speed)
        return m14.Port14(port_no=self.port_no, hw_addr=self.hw_addr, name=self.name,
                          config=self.config, state=self.state,
                          properties=[m14.Prop(_OFPPDPT_ETHERNET, eth)])

    def status_msg(self, version: int, reason: int) -> m.Message:
        """OFPT_PORT_STATUS for this port in ``version`` (spec 1.3.5 A.4.3; 1.0.0 5.4.3;
        1.4.1 7.4.3)."""
        if version >= consts.OFP14:
            return m14.PortStatus14(version=version, reason=reason, desc=self.to_ofp14())
        if version == consts.OFP10:
            return m.PortStatus10(reason=reason, desc=_port10(self))
        return m.PortStatus(reason=reason, desc=self.to_ofp())


@dataclass
class _Bundle:
    """An open bundle (OpenFlow 1.4.1 section 6.8): its flags and the flow-mods added
    so far, each with its wire form (errors at commit quote it)."""

    bundle_id: int
    flags: int
    closed: bool = False
    entries: list[tuple[m.Message, bytes]] = field(default_factory=list)


@dataclass
class _ConnState:
    """Per-connection protocol state set by Nicira extensions (OVS
    ``ofconn``: flow format, flow_mod_table_id, packet-in format) and bundles."""

    flow_format: int = nx.NXFF_OPENFLOW10
    flow_mod_table_id: bool = False
    packet_in_format: int = nx.NXPIF_STANDARD
    bundles: dict[int, _Bundle] = field(default_factory=dict)


class OFSwitch:
    """One bridge's OpenFlow switch.

    :param name: the bridge name (dp_desc).
    :param datapath_id: 64-bit datapath id.
    :param clock: seconds, for timeouts and durations (time.monotonic).
    :param port_stats: optional callback port_no -> m.PortStats-like counters
        (the datapath's); zeros without it.
    """

    def __init__(self, name: str, datapath_id: int,
                 clock: Callable[[], float] = time.monotonic,
                 port_stats: Callable[[int], dict[str, int]] | None = None) -> None:
        self.name = name
        self.datapath_id = datapath_id
        self.clock = clock
        self.ports: dict[int, OFPort] = {}
        self.pipeline = Pipeline(n_tables=N_TABLES, clock=clock,
                                 valid_port=self._valid_port)
        self.connmgr: Any = None
        #: Called with the OFPort after a port-mod changed its config (the bridge
        #: applies it to forwarding).
        self.port_config_listener: Callable[[OFPort], None] | None = None
        self.config_flags = 0
        self.miss_send_len = 128
        self._port_stats = port_stats
        # OpenFlow 1.5 bucket ids of groups set over 1.5 (others: 0, 1, ...).
        self._bucket_ids: dict[int, list[int]] = {}
        self._conns: weakref.WeakKeyDictionary[OFConnection, _ConnState] = \
            weakref.WeakKeyDictionary()

    def conn_state(self, conn: OFConnection) -> _ConnState:
        """The Nicira/bundle state of ``conn`` (created on first use)."""
        st = self._conns.get(conn)
        if st is None:
            st = self._conns[conn] = _ConnState()
        return st

    # -- ports --

    def _valid_port(self, port_no: int) -> bool:
        """Flow actions may name existing ports and the reserved ones (spec 1.3.5 4.5)."""
        return port_no in self.ports or port_no >= OFPPort.OFPP_MAX

    def add_port(self, port: OFPort) -> None:
        self.ports[port.port_no] = port
        self._port_status(consts.OFPPortReason.OFPPR_ADD, port)

    def del_port(self, port_no: int) -> None:
        port = self.ports.pop(port_no, None)
        if port is not None:
            self._port_status(consts.OFPPortReason.OFPPR_DELETE, port)

    def _port_mod(self, conn: OFConnection,
                  msg: m.PortMod | m.PortMod10 | m14.PortMod14) -> None:
        """OFPT_PORT_MOD (spec 1.3.5 A.3.4.3; 1.0.0 5.3.3; 1.4.1 7.3.4.3): sets the
        port's ``config`` bits under ``mask`` and announces OFPPR_MODIFY.  Errors
        (OFPET_PORT_MOD_FAILED): BAD_PORT for an unknown port, BAD_HW_ADDR when
        ``hw_addr`` is not the port's, BAD_CONFIG for bits this version lacks.
        ``advertise`` is accepted and ignored: virtual ports negotiate nothing."""
        if msg.version == consts.OFP10:
            port_no, known = port_from_of10(msg.port_no), _PORT_CONFIG_OF10
        else:
            port_no, known = msg.port_no, _PORT_CONFIG_OF13
        port = self.ports.get(port_no)
        if port is None:
            raise OFPDecodeError(ET.OFPET_PORT_MOD_FAILED, PMFC.OFPPMFC_BAD_PORT,
                                 f"no port {port_no}")
        if msg.hw_addr != port.hw_addr:
            raise OFPDecodeError(ET.OFPET_PORT_MOD_FAILED, PMFC.OFPPMFC_BAD_HW_ADDR,
                                 f"port {port_no} has hw_addr {port.hw_addr:012x}")
        if msg.mask & ~known:
            raise OFPDecodeError(ET.OFPET_PORT_MOD_FAILED, PMFC.OFPPMFC_BAD_CONFIG,
                                 f"unknown config bits {msg.mask & ~known:#x}")
        config = (port.config & ~msg.mask) | (msg.config & msg.mask)
        if config == port.config:
            return
        port.config = config
        port.state = (port.state | _OFPPS_LINK_DOWN) if config & PC.OFPPC_PORT_DOWN \
            else (port.state & ~_OFPPS_LINK_DOWN)
        if self.port_config_listener is not None:
            self.port_config_listener(port)
        self._port_status(consts.OFPPortReason.OFPPR_MODIFY, port)

    def _port_status(self, reason: int, port: OFPort) -> None:
        if self.connmgr is not None:
            self.connmgr.send_async("port_status", reason,
                                    lambda conn: port.status_msg(conn.version, reason))

    # -- SwitchHandler --

    def channel_up(self, conn: OFConnection) -> None:
        self._conns[conn] = _ConnState()

    def controller_status_changed(self) -> None:
        pass   # without a datapath there is nothing to revalidate

    def commit_deferred(self) -> bool:
        """Inserts the flow adds staged by OpenFlow channels (see
        :meth:`ofproto.flowtable.Pipeline.commit_staged`); whether there were any."""
        return self.pipeline.commit_staged()

    def handle_message(self, conn: OFConnection, msg: m.Message, raw: bytes) -> None:
        if type(msg) not in _KEEP_STAGED:
            self.pipeline.commit_staged()   # what follows may read the tables
        # No handled type is a vendor message or has a raw handler, so the exact-type
        # probe can come first.
        handler = self._HANDLERS.get(type(msg))
        if handler is not None:
            handler(self, conn, msg)
            return
        if isinstance(msg, _VENDOR_MESSAGES):
            ext = nx.decode_nicira(msg) or B.decode_onf_bundle(msg)
            if ext is None:
                raise OFPDecodeError(ET.OFPET_BAD_REQUEST, BRC.OFPBRC_BAD_EXPERIMENTER,
                                     "unsupported vendor/experimenter message")
            msg = ext
        raw_handler = self._RAW_HANDLERS.get(type(msg))
        if raw_handler is not None:
            raw_handler(self, conn, msg, raw)
            return
        handler = self._HANDLERS.get(type(msg))
        if handler is None:
            raise OFPDecodeError(ET.OFPET_BAD_REQUEST, BRC.OFPBRC_BAD_TYPE,
                                 f"{type(msg).__name__} is not supported")
        handler(self, conn, msg)

    # -- flow removal --

    def send_flow_removed(self, removed: list[tuple[OFRule, int]]) -> None:
        """Sends OFPT_FLOW_REMOVED for removed rules that asked for it
        (OFPFF_SEND_FLOW_REM, spec 1.3.5 6.5)."""
        if self.connmgr is None:
            return
        for rule, reason in removed:
            if rule.flags & consts.OFPFlowModFlags.OFPFF_SEND_FLOW_REM:
                self.connmgr.send_async(
                    "flow_removed", min(reason, RR.OFPRR_DELETE),
                    lambda conn, r=rule, why=reason: self._flow_removed_msg(conn, r, why))

    def _flow_removed_msg(self, conn: OFConnection, rule: OFRule, reason: int) -> m.Message:
        """OFPT_FLOW_REMOVED in the connection's version and, for OpenFlow 1.0, its
        flow format: NXT_FLOW_REMOVED after NXT_SET_FLOW_FORMAT(nxm) (nicira-ext.h)."""
        if conn.version == consts.OFP15:
            return flow_removed15(self.pipeline.flow_removed(rule, reason,
                                                             version=conn.version),
                                  rule, self.clock())
        if conn.version != consts.OFP10:
            return self.pipeline.flow_removed(rule, reason, version=conn.version)
        sec, nsec = rule.duration(self.clock())
        reason = min(reason, int(RR.OFPRR_DELETE))
        if self.conn_state(conn).flow_format == nx.NXFF_NXM:
            return nx.NXFlowRemoved(
                cookie=rule.cookie, priority=rule.priority, reason=reason,
                table_id=rule.table_id + 1, duration_sec=sec, duration_nsec=nsec,
                idle_timeout=rule.idle_timeout, packet_count=rule.packet_count,
                byte_count=rule.byte_count, match=_nxm_match(rule.match))
        return m.FlowRemoved10(match=match_to_of10(rule.match), cookie=rule.cookie,
                               priority=rule.priority, reason=reason, duration_sec=sec,
                               duration_nsec=nsec, idle_timeout=rule.idle_timeout,
                               packet_count=rule.packet_count, byte_count=rule.byte_count)

    def expire(self) -> None:
        """Removes timed-out rules (call it periodically; see Pipeline.next_expiry)."""
        self.send_flow_removed(self.pipeline.expire())

    # -- handlers --

    def _features(self, conn: OFConnection, msg: m.FeaturesRequest) -> None:
        if conn.version == consts.OFP10:
            conn.send(m.FeaturesReply10(
                xid=msg.xid, datapath_id=self.datapath_id, n_buffers=0, n_tables=N_TABLES,
                capabilities=_CAPABILITIES & 0x7, actions=0xFFF,
                ports=[_port10(p) for p in self.ports.values()]))
            return
        conn.send(m.FeaturesReply(xid=msg.xid, datapath_id=self.datapath_id, n_buffers=0,
                                  n_tables=N_TABLES, capabilities=_CAPABILITIES))

    def _get_config(self, conn: OFConnection, msg: m.GetConfigRequest) -> None:
        conn.send(m.GetConfigReply(xid=msg.xid, flags=self.config_flags,
                                   miss_send_len=self.miss_send_len))

    def _set_config(self, conn: OFConnection, msg: m.SetConfig) -> None:
        self.config_flags = msg.flags
        self.miss_send_len = msg.miss_send_len

    def _barrier(self, conn: OFConnection, msg: m.Message) -> None:
        # Requests are executed in order as they arrive, so everything before the
        # barrier is done.
        reply = m.BarrierReply10 if conn.version == consts.OFP10 else m.BarrierReply
        conn.send(reply(xid=msg.xid))

    def _desc(self, conn: OFConnection, msg: m.Message) -> None:
        fields = dict(mfr_desc="vswitch-appliance", hw_desc="vswitch-appliance",
                      sw_desc=VERSION, serial_num="None", dp_desc=self.name)
        if conn.version == consts.OFP10:
            conn.send(m.DescStatsReply10(xid=msg.xid, **fields))
        else:
            conn.send(m.DescStatsReply(xid=msg.xid, **fields))

    def _port_desc(self, conn: OFConnection, msg: m.Message) -> None:
        """OFPMP_PORT_DESC (spec 1.3.5 A.3.5.7); OpenFlow 1.5 may ask for one port
        (spec 1.5.1 7.3.5.7: ``port_no``, OFPP_ANY for all)."""
        ports = sorted(self.ports.values(), key=lambda p: p.port_no)
        port_no = getattr(msg, "port_no", OFPPort.OFPP_ANY)
        if port_no != OFPPort.OFPP_ANY:
            ports = [p for p in ports if p.port_no == port_no]
        if conn.version >= consts.OFP14:
            self._send_multipart(conn, msg, m14.PortDescStatsReply14,
                                 [p.to_ofp14() for p in ports])
        else:
            self._send_multipart(conn, msg, m.PortDescStatsReply,
                                 [p.to_ofp() for p in ports])

    def _table_features(self, conn: OFConnection, msg: m.TableFeaturesStatsRequest) -> None:
        if msg.body:
            # Setting table features is not supported (spec 1.3.5 A.3.5.5).
            raise OFPDecodeError(ET.OFPET_TABLE_FEATURES_FAILED, 5,   # OFPTFFC_EPERM
                                 "table features are read-only")
        self._send_multipart(conn, msg, m.TableFeaturesStatsReply, _table_features())

    def take_raw(self, conn: OFConnection, raw: bytes) -> bool:
        """Acts on a message in wire form (header version = ``conn.version``) without
        decoding it, if it is a flow add laid out like one staged before
        (:meth:`Pipeline.stage_add`) or a barrier; whether it did."""
        mtype = raw[1]
        if mtype == _OFPT_FLOW_MOD:
            if raw[0] == consts.OFP10 and self.conn_state(conn).flow_mod_table_id:
                return False   # the command carries a table (NXT_FLOW_MOD_TABLE_ID)
            return self.pipeline.stage_add(raw)
        if mtype == _BARRIERS[raw[0] == consts.OFP10] and len(raw) == 8:
            conn.send_raw(raw[:1] + _BARRIER_REPLIES[raw[0] == consts.OFP10] + raw[2:])
            return True
        return False

    def _flow_mod(self, conn: OFConnection, msg: m.Message, raw: bytes) -> None:
        if isinstance(msg, m.FlowMod10) and self.conn_state(conn).flow_mod_table_id:
            # NXT_FLOW_MOD_TABLE_ID: the command's high byte is the table (nicira-ext.h).
            exact = not msg.match.wildcards & W10.OFPFW_ALL
            result = self.pipeline.flow_mod_nx(
                command=msg.command & 0xFF, table_id=msg.command >> 8,
                priority=0xFFFF if exact else msg.priority,
                match=match_from_of10(msg.match), new_cookie=msg.cookie,
                idle_timeout=msg.idle_timeout, hard_timeout=msg.hard_timeout,
                flags=msg.flags, out_port=port_from_of10(msg.out_port), actions=msg.actions)
        else:
            # A plain add is validated now (its errors precede the barrier reply) and
            # inserted after the replies are written (OFConnection.dataReceived).
            result = self.pipeline.flow_mod(msg, defer=True, raw=raw)  # type: ignore[arg-type]
        if result.deleted:
            self.send_flow_removed(result.removed)

    # -- Nicira extensions (OVS include/openflow/nicira-ext.h) --

    def _nx_set_flow_format(self, conn: OFConnection, msg: nx.NXSetFlowFormat) -> None:
        """NXT_SET_FLOW_FORMAT: OpenFlow 1.0 only ("NXT 1.0 (12)", ofp-msgs.h)."""
        if conn.version != consts.OFP10 or msg.format not in (nx.NXFF_OPENFLOW10,
                                                              nx.NXFF_NXM):
            raise OFPDecodeError(ET.OFPET_BAD_REQUEST, BRC.OFPBRC_EPERM,
                                 f"flow format {msg.format}")
        self.conn_state(conn).flow_format = msg.format

    def _nx_flow_mod_table_id(self, conn: OFConnection, msg: nx.NXFlowModTableId) -> None:
        self.conn_state(conn).flow_mod_table_id = bool(msg.set)

    def _nx_set_packet_in_format(self, conn: OFConnection,
                                 msg: nx.NXSetPacketInFormat) -> None:
        if msg.format not in (nx.NXPIF_STANDARD, nx.NXPIF_NXT_PACKET_IN,
                              nx.NXPIF_NXT_PACKET_IN2):
            raise OFPDecodeError(ET.OFPET_BAD_REQUEST, BRC.OFPBRC_EPERM,
                                 f"packet-in format {msg.format}")
        self.conn_state(conn).packet_in_format = msg.format

    def _nx_flow_mod(self, conn: OFConnection, msg: nx.NXFlowMod) -> None:
        """NXT_FLOW_MOD: OpenFlow 1.0 flow-mod semantics with an NXM match (OVS
        ``ofputil_decode_flow_mod``)."""
        tid = self.conn_state(conn).flow_mod_table_id
        result = self.pipeline.flow_mod_nx(
            command=msg.command & 0xFF if tid else msg.command,
            table_id=msg.command >> 8 if tid else 0xFF, priority=msg.priority,
            match=msg.match, new_cookie=msg.cookie, cookie=msg.match_cookie,
            cookie_mask=msg.match_cookie_mask, idle_timeout=msg.idle_timeout,
            hard_timeout=msg.hard_timeout, flags=msg.flags,
            out_port=port_from_of10(msg.out_port), actions=msg.actions)
        self.send_flow_removed(result.removed)

    def _nx_flow_stats(self, conn: OFConnection, msg: nx.NXFlowStatsRequest) -> None:
        """NXST_FLOW (``struct nx_flow_stats_request``) -> ``struct nx_flow_stats``."""
        rules = self.pipeline.flow_stats(msg.table_id, msg.match,
                                         port_from_of10(msg.out_port), cookie=msg.cookie,
                                         cookie_mask=msg.cookie_mask)
        now = self.clock()
        self._send_multipart(conn, msg, nx.NXFlowStatsReply,
                             [nx_flow_stats(r, now) for r in rules])

    def _nx_aggregate(self, conn: OFConnection, msg: nx.NXAggregateStatsRequest) -> None:
        agg = self.pipeline.aggregate(msg.table_id, msg.match, port_from_of10(msg.out_port),
                                      cookie=msg.cookie, cookie_mask=msg.cookie_mask)
        conn.send(nx.NXAggregateStatsReply(xid=msg.xid, packet_count=agg.packet_count,
                                           byte_count=agg.byte_count,
                                           flow_count=agg.flow_count))

    # -- OpenFlow 1.0 statistics (spec 1.0.0 5.3.5) --

    def _flow_stats10(self, conn: OFConnection, msg: m.FlowStatsRequest10) -> None:
        rules = self.pipeline.flow_stats(msg.table_id, match_from_of10(msg.match),
                                         port_from_of10(msg.out_port))
        now = self.clock()
        self._send_multipart(conn, msg, m.FlowStatsReply10,
                             [flow_stats10(r, now) for r in rules])

    def _aggregate10(self, conn: OFConnection, msg: m.AggregateStatsRequest10) -> None:
        agg = self.pipeline.aggregate(msg.table_id, match_from_of10(msg.match),
                                      port_from_of10(msg.out_port))
        conn.send(m.AggregateStatsReply10(xid=msg.xid, packet_count=agg.packet_count,
                                          byte_count=agg.byte_count,
                                          flow_count=agg.flow_count))

    def _table_stats10(self, conn: OFConnection, msg: m.TableStatsRequest10) -> None:
        entries = [m.TableStats10(table_id=t.table_id, name=f"table{t.table_id}",
                                  wildcards=int(W10.OFPFW_ALL), max_entries=1_000_000,
                                  active_count=t.active_count, lookup_count=t.lookup_count,
                                  matched_count=t.matched_count)
                   for t in self.pipeline.table_stats()]
        self._send_multipart(conn, msg, m.TableStatsReply10, entries)

    def _port_stats10(self, conn: OFConnection, msg: m.PortStatsRequest10) -> None:
        """OFPST_PORT: ``port_no`` OFPP_NONE (0xffff) asks for every port."""
        if msg.port_no == 0xFFFF:
            wanted = sorted(self.ports)
        elif port_from_of10(msg.port_no) in self.ports:
            wanted = [port_from_of10(msg.port_no)]
        else:
            raise OFPDecodeError(ET.OFPET_BAD_REQUEST, BRC.OFPBRC_BAD_PORT,
                                 f"no port {msg.port_no}")
        names = set(m.PortStats10._F)
        entries = []
        for port_no in wanted:
            counters = self._port_stats(port_no) if self._port_stats else {}
            entries.append(m.PortStats10(port_no=port_to_of10(port_no),
                                         **{k: v for k, v in counters.items() if k in names}))
        self._send_multipart(conn, msg, m.PortStatsReply10, entries)

    # -- bundles (OpenFlow 1.4.1 sections 6.8 and 7.3.9; ONF EXT-230 for 1.3) --

    def _bundle_error(self, conn: OFConnection, raw: bytes, code: int) -> None:
        """OFPET_BUNDLE_FAILED ``code`` — in OpenFlow 1.3 the ONF experimenter error
        (exp_type 2300 + code, OVS ofp-errors.h)."""
        if conn.version == consts.OFP13:
            xid = struct.unpack_from("!I", raw, 4)[0]
            conn.send(m.Error(xid=xid, type=0xFFFF, code=B.ONF_BUNDLE_ERROR_BASE + code,
                              experimenter=consts.ONF_EXPERIMENTER_ID,
                              data=bytes(raw[:ERROR_DATA_LEN])))
        else:
            conn.send_error(raw, ET.OFPET_BUNDLE_FAILED, code)

    def _bundle_ctrl(self, conn: OFConnection, msg: B.BundleCtrl | B.ONFBundleCtrl,
                     raw: bytes) -> None:
        T = B.OFPBundleCtrlType
        F = B.OFPBundleFailedCode
        bundles = self.conn_state(conn).bundles
        bundle = bundles.get(msg.bundle_id)
        code: int | None = None
        if msg.type == T.OFPBCT_OPEN_REQUEST:
            if bundle is not None:
                code = F.OFPBFC_BUNDLE_EXIST
            elif msg.flags & ~(B.OFPBundleFlags.OFPBF_ATOMIC | B.OFPBundleFlags.OFPBF_ORDERED):
                code = F.OFPBFC_BAD_FLAGS
            else:
                bundles[msg.bundle_id] = _Bundle(msg.bundle_id, msg.flags)
        elif msg.type in (T.OFPBCT_CLOSE_REQUEST, T.OFPBCT_COMMIT_REQUEST,
                          T.OFPBCT_DISCARD_REQUEST):
            if bundle is None:
                code = F.OFPBFC_BAD_ID
            elif msg.type == T.OFPBCT_DISCARD_REQUEST:
                del bundles[msg.bundle_id]
            elif bundle.flags != msg.flags:
                code = F.OFPBFC_BAD_FLAGS
            elif msg.type == T.OFPBCT_CLOSE_REQUEST:
                if bundle.closed:
                    code = F.OFPBFC_BUNDLE_CLOSED
                bundle.closed = True
            else:
                del bundles[msg.bundle_id]
                if not self._bundle_commit(conn, bundle, raw):
                    return
        else:
            code = F.OFPBFC_BAD_TYPE
        if code is not None:
            self._bundle_error(conn, raw, code)
            return
        conn.send(type(msg)(xid=msg.xid, bundle_id=msg.bundle_id, type=msg.type + 1,
                            flags=msg.flags))

    def _bundle_commit(self, conn: OFConnection, bundle: _Bundle, raw: bytes) -> bool:
        """Applies the bundle's flow-mods atomically (Pipeline.flow_mod_bundle).  On
        failure answers the failing message with its error and the commit request
        with OFPBFC_MSG_FAILED (spec 1.4.1 7.3.9.5); nothing is changed then."""
        if self.connmgr is not None and conn in getattr(self.connmgr, "channels", {}) \
                and self.connmgr.role_of(conn) == consts.OFPControllerRole.OFPCR_ROLE_SLAVE:
            conn.send_error(raw, ET.OFPET_BAD_REQUEST, BRC.OFPBRC_IS_SLAVE)
            return False
        try:
            results = self.pipeline.flow_mod_bundle(
                [e for e, _ in bundle.entries])   # type: ignore[misc]
        except OFPError as e:
            index = getattr(e, "index", None)
            if index is not None:
                conn.send_error(bundle.entries[index][1], e.type, e.code)
            self._bundle_error(conn, raw, B.OFPBundleFailedCode.OFPBFC_MSG_FAILED)
            return False
        for res in results:
            self.send_flow_removed(res.removed)
        return True

    def _bundle_add(self, conn: OFConnection, msg: B.BundleAdd | B.ONFBundleAdd,
                    raw: bytes) -> None:
        """OFPT_BUNDLE_ADD_MESSAGE: checks as OVS ``ofputil_decode_bundle_add`` and
        ``handle_bundle_add``; a message that fails is not added (the bundle stays
        open), so a later commit applies only what was accepted."""
        F = B.OFPBundleFailedCode
        inner = msg.message
        code: int | None = None
        if len(inner) < 8 or struct.unpack_from("!H", inner, 2)[0] != len(inner):
            code = F.OFPBFC_MSG_BAD_LEN
        elif inner[0] != conn.version:
            code = F.OFPBFC_MSG_UNSUP
        elif struct.unpack_from("!I", inner, 4)[0] != msg.xid:
            code = F.OFPBFC_MSG_BAD_XID
        if code is not None:
            self._bundle_error(conn, raw, code)
            return
        bundles = self.conn_state(conn).bundles
        bundle = bundles.get(msg.bundle_id)
        if bundle is None:
            bundle = bundles[msg.bundle_id] = _Bundle(msg.bundle_id, msg.flags)
        elif bundle.closed:
            self._bundle_error(conn, raw, F.OFPBFC_BUNDLE_CLOSED)
            return
        elif bundle.flags != msg.flags:
            self._bundle_error(conn, raw, F.OFPBFC_BAD_FLAGS)
            return
        try:
            decoded = m.decode_message(inner)
        except OFPDecodeError as e:
            conn.send_error(raw, e.type, e.code)
            return
        if not isinstance(decoded, m.FlowMod):
            self._bundle_error(conn, raw, F.OFPBFC_MSG_UNSUP)
            return
        try:
            self.pipeline.check_flow_mod(decoded)
        except OFPError as e:
            conn.send_error(raw, e.type, e.code)
            return
        bundle.entries.append((decoded, inner))

    def _flow_stats(self, conn: OFConnection, msg: m.FlowStatsRequest) -> None:
        """OFPMP_FLOW (spec 1.3.5 A.3.5.2); in OpenFlow 1.5 OFPMP_FLOW_DESC with the
        statistics as OXS fields (spec 1.5.1 7.3.5.2, OVS ``ofp15_flow_desc``)."""
        rules = self.pipeline.flow_stats(msg.table_id, msg.match, msg.out_port,
                                         msg.out_group, msg.cookie, msg.cookie_mask)
        now = self.clock()
        with _gc_paused():
            entries = [self.pipeline.flow_stats_entry(r, now, version=conn.version)
                       for r in rules]
            for e, r in zip(entries, rules, strict=True):
                e.instructions = instructions_for_version(instructions_to_of13(r),
                                                          conn.version)
            if conn.version >= consts.OFP15:
                descs = [flow_desc15(e, r, now) for e, r in zip(entries, rules, strict=True)]
                self._send_multipart(conn, msg, m15.FlowDescStatsReply15, descs)
                return
            self._send_multipart(conn, msg, m.FlowStatsReply, entries)

    def _flow_stats15(self, conn: OFConnection, msg: m15.FlowStatsRequest15) -> None:
        """OFPMP_FLOW_STATS (spec 1.5.1 7.3.5.3): match, priority and OXS statistics
        of each selected flow (reason OFPFSR_STATS_REQUEST = 0)."""
        rules = self.pipeline.flow_stats(msg.table_id, msg.match, msg.out_port,
                                         msg.out_group, msg.cookie, msg.cookie_mask)
        now = self.clock()
        entries = [m15.FlowStats15(table_id=r.table_id, reason=0, priority=r.priority,
                                   match=oxm.Match(r.match.items()),
                                   stats=_oxs_rule_stats(r, now)) for r in rules]
        self._send_multipart(conn, msg, m15.FlowStatsReply15, entries)

    def _aggregate(self, conn: OFConnection, msg: m.AggregateStatsRequest) -> None:
        agg = self.pipeline.aggregate(msg.table_id, msg.match, msg.out_port, msg.out_group,
                                      msg.cookie, msg.cookie_mask)
        if conn.version >= consts.OFP15:
            # spec 1.5.1 7.3.5.4: one ofp_stats (OVS: packets, bytes, flow count).
            conn.send(m15.AggregateStatsReply15(xid=msg.xid, stats=m15.OXSStats.make(
                packet_count=agg.packet_count, byte_count=agg.byte_count,
                flow_count=agg.flow_count)))
            return
        conn.send(m.AggregateStatsReply(xid=msg.xid, packet_count=agg.packet_count,
                                        byte_count=agg.byte_count,
                                        flow_count=agg.flow_count))

    def _table_stats(self, conn: OFConnection, msg: m.TableStatsRequest) -> None:
        self._send_multipart(conn, msg, m.TableStatsReply, self.pipeline.table_stats())

    def _port_stats_reply(self, conn: OFConnection, msg: m.PortStatsRequest) -> None:
        """OFPMP_PORT_STATS (spec 1.3.5 A.3.5.6); from OpenFlow 1.4 on the Ethernet
        error counters move into an OFPPSPT_ETHERNET property (spec 1.4.1 7.3.5.7)."""
        wanted = sorted(self.ports) if msg.port_no in (OFPPort.OFPP_ANY, 0xFFFF) \
            else [msg.port_no]
        entries: list[Any] = []
        for port_no in wanted:
            if port_no not in self.ports:
                raise OFPDecodeError(ET.OFPET_BAD_REQUEST, BRC.OFPBRC_BAD_PORT,
                                     f"no port {port_no}")
            counters = self._port_stats(port_no) if self._port_stats else {}
            if conn.version >= consts.OFP14:
                entries.append(port_stats14(port_no, counters))
            else:
                entries.append(m.PortStats(port_no=port_no, **counters))
        reply = m14.PortStatsReply14 if conn.version >= consts.OFP14 else m.PortStatsReply
        self._send_multipart(conn, msg, reply, entries)

    def _group_mod(self, conn: OFConnection, msg: m.GroupMod) -> None:
        _, removed = self.pipeline.group_mod(msg)
        # Groups set over OpenFlow 1.1-1.4 have bucket ids 0, 1, ... (as OVS assigns).
        if msg.command == consts.OFPGroupModCommand.OFPGC_DELETE \
                and msg.group_id == consts.OFPGroup.OFPG_ALL:
            self._bucket_ids.clear()
        else:
            self._bucket_ids.pop(msg.group_id, None)
        self.send_flow_removed(removed)

    def _group_mod15(self, conn: OFConnection, msg: m15.GroupMod15) -> None:
        """OFPT_GROUP_MOD for OpenFlow 1.5 (spec 1.5.1 7.3.4.2): buckets carry ids and
        properties; INSERT_BUCKET / REMOVE_BUCKET edit an existing group's bucket list
        (OVS ``copy_buckets_for_insert_bucket`` / ``_remove_bucket``) and are applied as
        a modify (the group's bucket counters restart).  OFPGC15_ADD_OR_MOD adds or
        modifies.  Bucket ids are kept here, the buckets themselves in the pipeline."""
        GC = consts.OFPGroupModCommand
        F = consts.OFPGroupModFailedCode
        gid, gtype, cmd = msg.group_id, msg.type, msg.command
        ids = [b.bucket_id for b in msg.buckets]
        if any(i > m15.OFPG15_BUCKET_MAX for i in ids) or len(set(ids)) != len(ids):
            raise OFPDecodeError(ET.OFPET_GROUP_MOD_FAILED, F.OFPGMFC_BAD_BUCKET,
                                 "bad or duplicate bucket id")
        cbid = msg.command_bucket_id
        special = (m15.OFPG15_BUCKET_FIRST, m15.OFPG15_BUCKET_LAST)
        if cmd in (m15.OFPGC15_INSERT_BUCKET, m15.OFPGC15_REMOVE_BUCKET):
            ok = cbid <= m15.OFPG15_BUCKET_MAX or cbid in special or (
                cmd == m15.OFPGC15_REMOVE_BUCKET and cbid == m15.OFPG15_BUCKET_ALL)
        else:
            ok = cbid == m15.OFPG15_BUCKET_ALL
        if not ok:
            raise OFPDecodeError(ET.OFPET_GROUP_MOD_FAILED, F.OFPGMFC_BAD_BUCKET,
                                 f"command bucket id {cbid:#x}")
        old = self.pipeline.groups.get(gid)
        if cmd == m15.OFPGC15_ADD_OR_MOD:
            cmd = GC.OFPGC_MODIFY if old is not None else GC.OFPGC_ADD
        if cmd in (m15.OFPGC15_INSERT_BUCKET, m15.OFPGC15_REMOVE_BUCKET):
            if old is None:
                raise OFPDecodeError(ET.OFPET_GROUP_MOD_FAILED, F.OFPGMFC_UNKNOWN_GROUP,
                                     f"group {gid}")
            old_ids = self.bucket_ids(gid)
            cur = list(zip(old_ids, old.buckets, strict=True))
            if cmd == m15.OFPGC15_INSERT_BUCKET:
                new = [(b.bucket_id, b.to_bucket(old.type)) for b in msg.buckets]
                pairs = _insert_buckets(cur, new, cbid)
            else:
                if msg.buckets:
                    raise OFPDecodeError(ET.OFPET_GROUP_MOD_FAILED, F.OFPGMFC_BAD_BUCKET,
                                         "remove-bucket carries buckets")
                pairs = _remove_buckets(cur, cbid)
            gm = m.GroupMod(version=msg.version, xid=msg.xid, command=GC.OFPGC_MODIFY,
                            type=old.type, group_id=gid, buckets=[b for _, b in pairs])
            ids = [i for i, _ in pairs]
        else:
            gm = m.GroupMod(version=msg.version, xid=msg.xid, command=cmd, type=gtype,
                            group_id=gid, buckets=[b.to_bucket(gtype) for b in msg.buckets])
        _, removed = self.pipeline.group_mod(gm)
        if gm.command == GC.OFPGC_DELETE:
            if gid == consts.OFPGroup.OFPG_ALL:
                self._bucket_ids.clear()
            else:
                self._bucket_ids.pop(gid, None)
        else:
            self._bucket_ids[gid] = ids
        self.send_flow_removed(removed)

    def bucket_ids(self, group_id: int) -> list[int]:
        """The OpenFlow 1.5 bucket ids of ``group_id``'s buckets, in order."""
        g = self.pipeline.groups.get(group_id)
        n = 0 if g is None else len(g.buckets)
        ids = self._bucket_ids.get(group_id)
        return ids if ids is not None and len(ids) == n else list(range(n))

    def _meter_mod(self, conn: OFConnection, msg: m.MeterMod) -> None:
        _, removed = self.pipeline.meter_mod(msg)
        self.send_flow_removed(removed)

    def _group_desc(self, conn: OFConnection, msg: m.Message) -> None:
        """OFPMP_GROUP_DESC (spec 1.3.5 A.3.5.10); OpenFlow 1.5 filters on
        ``group_id`` and its buckets carry ids and properties (spec 1.5.1 7.3.5.10)."""
        descs = self.pipeline.groups.desc(conn.version)
        if conn.version < consts.OFP15:
            self._send_multipart(conn, msg, m.GroupDescStatsReply, descs)
            return
        want = getattr(msg, "group_id", consts.OFPGroup.OFPG_ALL)
        out = []
        for d in descs:
            if want not in (consts.OFPGroup.OFPG_ALL, d.group_id):
                continue
            ids = self.bucket_ids(d.group_id)
            out.append(m15.GroupDesc15(
                type=d.type, group_id=d.group_id,
                buckets=[m15.Bucket15.from_bucket(b, i, d.type)
                         for i, b in zip(ids, d.buckets, strict=True)]))
        self._send_multipart(conn, msg, m15.GroupDescStatsReply15, out)

    def _group_stats(self, conn: OFConnection, msg: m.GroupStatsRequest) -> None:
        reply = m15.GroupStatsReply15 if conn.version >= consts.OFP15 else m.GroupStatsReply
        self._send_multipart(conn, msg, reply, self.pipeline.groups.stats(msg.group_id))

    def _table_desc(self, conn: OFConnection, msg: m14.TableDescStatsRequest14) -> None:
        """OFPMP_TABLE_DESC (spec 1.4.1 7.3.5.6): every table, config 0 (no eviction,
        no vacancy events), no properties."""
        self._send_multipart(conn, msg, m14.TableDescStatsReply14,
                             [m14.TableDesc14(table_id=t) for t in range(N_TABLES)])

    def _check_queue_port(self, port_no: int) -> None:
        if port_no != OFPPort.OFPP_ANY and port_no not in self.ports:
            raise OFPDecodeError(ET.OFPET_BAD_REQUEST, BRC.OFPBRC_BAD_PORT,
                                 f"no port {port_no}")

    def _queue_stats(self, conn: OFConnection, msg: m.QueueStatsRequest) -> None:
        """OFPMP_QUEUE(_STATS) (spec 1.3.5 A.3.5.8; 1.4.1 7.3.5.9): no port has
        queues configured, so the reply is empty (unknown ports are OFPBRC_BAD_PORT)."""
        self._check_queue_port(msg.port_no)
        reply = m14.QueueStatsReply14 if conn.version >= consts.OFP14 else m.QueueStatsReply
        self._send_multipart(conn, msg, reply, [])

    def _queue_desc(self, conn: OFConnection, msg: m14.QueueDescStatsRequest14) -> None:
        """OFPMP_QUEUE_DESC (spec 1.4.1 7.3.5.10): no queues, an empty reply."""
        self._check_queue_port(msg.port_no)
        self._send_multipart(conn, msg, m14.QueueDescStatsReply14, [])

    def _group_features(self, conn: OFConnection, msg: m.Message) -> None:
        conn.send(m.GroupFeaturesStatsReply(xid=msg.xid, **self.pipeline.groups.features()))

    def _meter_config(self, conn: OFConnection, msg: m.MeterConfigStatsRequest) -> None:
        self._send_multipart(conn, msg, m.MeterConfigStatsReply,
                             self.pipeline.meters.config(msg.meter_id))

    def _meter_stats(self, conn: OFConnection, msg: m.MeterStatsRequest) -> None:
        self._send_multipart(conn, msg, m.MeterStatsReply,
                             self.pipeline.meters.stats(msg.meter_id))

    def _meter_features(self, conn: OFConnection, msg: m.Message) -> None:
        conn.send(m.MeterFeaturesStatsReply(xid=msg.xid,
                                            body=[self.pipeline.meters.features()]))

    def _table_mod(self, conn: OFConnection, msg: m.Message) -> None:
        pass   # table config (eviction, vacancy) is accepted and has no effect yet

    def _send_multipart(self, conn: OFConnection, request: m.Message, reply_cls: Any,
                        entries: list[Any]) -> None:
        """Sends ``entries`` in as many replies as needed, all but the last flagged
        OFPMPF_REPLY_MORE (spec 1.3.5 7.3.5)."""
        chunks: list[list[bytes]] = [[]]
        size = 0
        for e in entries:
            data = e.encode()
            if chunks[-1] and size + len(data) > _MP_CHUNK:
                chunks.append([])
                size = 0
            chunks[-1].append(data)
            size += len(data)
        for i, chunk in enumerate(chunks):
            more = _OFPMPF_REPLY_MORE if i < len(chunks) - 1 else 0
            body = [Encoded(b"".join(chunk))] if chunk else []
            conn.send(reply_cls(xid=request.xid, flags=more, body=body))

    _RAW_HANDLERS: dict[type, Callable[[OFSwitch, OFConnection, Any, bytes], None]] = {
        m.FlowMod: _flow_mod,   # the wire form teaches the pipeline the add's layout
        m.FlowMod10: _flow_mod,
        B.BundleCtrl: _bundle_ctrl,
        B.ONFBundleCtrl: _bundle_ctrl,
        B.BundleAdd: _bundle_add,
        B.ONFBundleAdd: _bundle_add,
    }

    _HANDLERS: dict[type, Callable[[OFSwitch, OFConnection, Any], None]] = {
        nx.NXSetFlowFormat: _nx_set_flow_format,
        nx.NXFlowModTableId: _nx_flow_mod_table_id,
        nx.NXSetPacketInFormat: _nx_set_packet_in_format,
        nx.NXFlowMod: _nx_flow_mod,
        nx.NXFlowStatsRequest: _nx_flow_stats,
        nx.NXAggregateStatsRequest: _nx_aggregate,
        m.FlowStatsRequest10: _flow_stats10,
        m.AggregateStatsRequest10: _aggregate10,
        m.TableStatsRequest10: _table_stats10,
        m.PortStatsRequest10: _port_stats10,
        m.FeaturesRequest: _features,
        m.GetConfigRequest: _get_config,
        m.PortMod: _port_mod,
        m.PortMod10: _port_mod,
        m14.PortMod14: _port_mod,
        m.SetConfig: _set_config,
        m.BarrierRequest: _barrier,
        m.BarrierRequest10: _barrier,
        m.DescStatsRequest: _desc,
        m.DescStatsRequest10: _desc,
        m.PortDescStatsRequest: _port_desc,
        m14.PortDescStatsRequest15: _port_desc,
        m.TableFeaturesStatsRequest: _table_features,
        m.FlowStatsRequest: _flow_stats,
        m.AggregateStatsRequest: _aggregate,
        m.TableStatsRequest: _table_stats,
        m.PortStatsRequest: _port_stats_reply,
        m14.PortStatsRequest14: _port_stats_reply,
        m15.FlowDescStatsRequest15: _flow_stats,
        m15.FlowStatsRequest15: _flow_stats15,
        m15.AggregateStatsRequest15: _aggregate,
        m15.GroupMod15: _group_mod15,
        m15.GroupDescStatsRequest15: _group_desc,
        m15.GroupStatsRequest15: _group_stats,
        m.GroupMod: _group_mod,
        m14.TableDescStatsRequest14: _table_desc,
        m.QueueStatsRequest: _queue_stats,
        m14.QueueDescStatsRequest14: _queue_desc,
        m.MeterMod: _meter_mod,
        m.GroupDescStatsRequest: _group_desc,
        m.GroupStatsRequest: _group_stats,
        m.GroupFeaturesStatsRequest: _group_features,
        m.MeterConfigStatsRequest: _meter_config,
        m.MeterStatsRequest: _meter_stats,
        m.MeterFeaturesStatsRequest: _meter_features,
        m.TableMod: _table_mod,
    }


# What every table supports (spec 1.3.5 A.3.5.5): all instructions, the OF1.3 actions,
# and matching/wildcarding/setting every OXM basic field.
_INSTRUCTIONS = [1, 2, 3, 4, 5, 6]   # goto, write_metadata, write/apply/clear actions, meter
_ACTIONS = [0, 11, 12, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27]


def _oxm_headers(maskable_only: bool = False) -> list[int]:
    out = []
    for spec in oxm.FIELDS:
        wire = spec.oxm
        if wire is None or wire.oxm_class != 0x8000 or wire.experimenter is not None:
            continue
        if maskable_only and not spec.maskable:
            continue
        out.append(wire.oxm_class << 16 | wire.field << 9 | wire.width)
    return out


@functools.cache
def _table_features() -> list[m.TableFeatures]:
    P = consts.OFPTableFeaturePropType
    match = _oxm_headers()
    wildcards = _oxm_headers(maskable_only=True)
    tables = []
    for t in range(N_TABLES):
        later = list(range(t + 1, N_TABLES))
        props = [m.TableFeatureProp(P.OFPTFPT_INSTRUCTIONS, _INSTRUCTIONS),
                 m.TableFeatureProp(P.OFPTFPT_INSTRUCTIONS_MISS, _INSTRUCTIONS),
                 m.TableFeatureProp(P.OFPTFPT_NEXT_TABLES, later),
                 m.TableFeatureProp(P.OFPTFPT_NEXT_TABLES_MISS, later),
                 m.TableFeatureProp(P.OFPTFPT_WRITE_ACTIONS, _ACTIONS),
                 m.TableFeatureProp(P.OFPTFPT_WRITE_ACTIONS_MISS, _ACTIONS),
                 m.TableFeatureProp(P.OFPTFPT_APPLY_ACTIONS, _ACTIONS),
                 m.TableFeatureProp(P.OFPTFPT_APPLY_ACTIONS_MISS, _ACTIONS),
                 m.TableFeatureProp(P.OFPTFPT_MATCH, match),
                 m.TableFeatureProp(P.OFPTFPT_WILDCARDS, wildcards),
                 m.TableFeatureProp(P.OFPTFPT_WRITE_SETFIELD, match),
                 m.TableFeatureProp(P.OFPTFPT_WRITE_SETFIELD_MISS, match),
                 m.TableFeatureProp(P.OFPTFPT_APPLY_SETFIELD, match),
                 m.TableFeatureProp(P.OFPTFPT_APPLY_SETFIELD_MISS, match)]
        tables.append(m.TableFeatures(table_id=t, name=f"table{t}",
                                      metadata_match=(1 << 64) - 1,
                                      metadata_write=(1 << 64) - 1, config=0,
                                      max_entries=1_000_000, properties=props))
    return tables


def _port10(p: OFPort) -> m.PhyPort10:
    return m.PhyPort10(port_no=p.port_no if p.port_no < 0xFF00 else 0xFFFE,
                       hw_addr=p.hw_addr, name=p.name, config=p.config, state=p.state)


# --- rules in OpenFlow 1.0 / Nicira form (flow stats, flow removed) --------------------


def _prefix_len(mask: int | None) -> int | None:
    """CIDR prefix length of a 32-bit mask, or None if it is not a prefix."""
    if mask is None:
        return 32
    n = bin(mask).count("1")
    return n if mask == (0xFFFFFFFF << (32 - n)) & 0xFFFFFFFF else None


def match_to_of10(match: oxm.Match) -> m.Match10:
    """The OpenFlow 1.0 ``ofp_match`` closest to ``match`` (OVS
    ``ofputil_match_to_ofp10_match``): fields OF1.0 cannot express (registers, IPv6,
    masked MACs, non-CIDR masks...) are left wildcarded."""
    w = int(W10.OFPFW_ALL)
    f: dict[str, int] = {}
    for name, (v, mask) in match.items():
        exact = mask is None
        if name == "in_port" and exact:
            f["in_port"], w = port_to_of10(v), w & ~W10.OFPFW_IN_PORT
        elif name in ("eth_src", "eth_dst") and exact:
            key = "dl_src" if name == "eth_src" else "dl_dst"
            bit = W10.OFPFW_DL_SRC if name == "eth_src" else W10.OFPFW_DL_DST
            f[key], w = v, w & ~bit
        elif name == "vlan_vid" and exact:
            f["dl_vlan"] = v & 0xFFF if v & 0x1000 else 0xFFFF
            w &= ~W10.OFPFW_DL_VLAN
        elif name == "vlan_pcp":
            f["dl_vlan_pcp"], w = v, w & ~W10.OFPFW_DL_VLAN_PCP
        elif name == "vlan_tci":
            mk = 0xFFFF if mask is None else mask
            if not mk & 0x1000:
                continue
            if not v & 0x1000:
                f["dl_vlan"], w = 0xFFFF, w & ~W10.OFPFW_DL_VLAN
                continue
            if mk & 0xFFF == 0xFFF:
                f["dl_vlan"], w = v & 0xFFF, w & ~W10.OFPFW_DL_VLAN
            if mk & 0xE000 == 0xE000:
                f["dl_vlan_pcp"], w = v >> 13, w & ~W10.OFPFW_DL_VLAN_PCP
        elif name == "eth_type":
            f["dl_type"], w = v, w & ~W10.OFPFW_DL_TYPE
        elif name in ("ip_dscp", "nw_tos"):
            f["nw_tos"] = (v << 2) & 0xFC if name == "ip_dscp" else v & 0xFC
            w &= ~W10.OFPFW_NW_TOS
        elif name in ("nw_proto", "arp_op"):
            f["nw_proto"], w = v & 0xFF, w & ~W10.OFPFW_NW_PROTO
        elif name in ("ip_src", "arp_spa", "ip_dst", "arp_tpa"):
            plen = _prefix_len(mask)
            if plen is None:
                continue
            src = name in ("ip_src", "arp_spa")
            shift = W10.OFPFW_NW_SRC_SHIFT if src else W10.OFPFW_NW_DST_SHIFT
            f["nw_src" if src else "nw_dst"] = v
            w = (w & ~(0x3F << shift)) | (32 - plen) << shift
        elif name in ("tcp_src", "udp_src", "sctp_src", "icmp_type") and exact:
            f["tp_src"], w = v, w & ~W10.OFPFW_TP_SRC
        elif name in ("tcp_dst", "udp_dst", "sctp_dst", "icmp_code") and exact:
            f["tp_dst"], w = v, w & ~W10.OFPFW_TP_DST
    return m.Match10(wildcards=w, **f)


def _nxm_match(match: oxm.Match) -> oxm.Match:
    """``match`` for an nx_match: the OXM-only VLAN fields become NXM_OF_VLAN_TCI and
    OXM_OF_IP_DSCP becomes NXM_OF_IP_TOS (as OVS writes them in nx_put_raw)."""
    out = oxm.Match()
    tci = tci_mask = 0
    for name, (v, mask) in match.items():
        if name == "vlan_vid":
            mk = 0x1FFF if mask is None else mask & 0x1FFF
            tci, tci_mask = tci | (v & mk), tci_mask | mk
        elif name == "vlan_pcp":
            tci, tci_mask = tci | v << 13 | 0x1000, tci_mask | 0xF000
        elif name == "ip_dscp":
            out["nw_tos"] = (v << 2) & 0xFC
        else:
            out[name] = (v, mask)
    if tci_mask:
        out["vlan_tci"] = (tci, None if tci_mask == 0xFFFF else tci_mask)
    return out


_OF10_NATIVE = (A.ActionOutput10, A.ActionSetVlanVid10, A.ActionSetVlanPcp10,
                A.ActionStripVlan10, A.ActionSetDlSrc10, A.ActionSetDlDst10,
                A.ActionSetNwSrc10, A.ActionSetNwDst10, A.ActionSetNwTos10,
                A.ActionSetTpSrc10, A.ActionSetTpDst10, A.ActionEnqueue10, A.NXAction)
_SET_FIELD10: dict[str, Callable[[int], A.Action]] = {
    "vlan_vid": lambda v: A.ActionSetVlanVid10(v & 0xFFF),
    "vlan_pcp": A.ActionSetVlanPcp10,
    "eth_src": A.ActionSetDlSrc10,
    "eth_dst": A.ActionSetDlDst10,
    "ip_src": A.ActionSetNwSrc10,
    "ip_dst": A.ActionSetNwDst10,
    "ip_dscp": lambda v: A.ActionSetNwTos10((v << 2) & 0xFC),
    "tcp_src": A.ActionSetTpSrc10, "udp_src": A.ActionSetTpSrc10,
    "tcp_dst": A.ActionSetTpDst10, "udp_dst": A.ActionSetTpDst10,
}


def _action10(a: A.Action) -> A.Action | None:
    """One action in OpenFlow 1.0 / Nicira form (OVS ofp-actions.c encode_* for
    OFP10_VERSION), or None when OpenFlow 1.0 cannot carry it."""
    if isinstance(a, _OF10_NATIVE):
        return a
    if isinstance(a, A.ActionOutput):
        return A.ActionOutput10(a.port, a.max_len if a.port == OFPPort.OFPP_CONTROLLER else 0)
    if isinstance(a, A.ActionPopVlan):
        return A.ActionStripVlan10()
    if isinstance(a, A.ActionSetQueue):
        return A.NXActionSetQueue(a.queue_id)
    if isinstance(a, A.ActionDecNwTtl):
        return A.NXActionDecTtl()
    if isinstance(a, A.ActionPushMpls):
        return A.NXActionPushMpls(a.ethertype)
    if isinstance(a, A.ActionPopMpls):
        return A.NXActionPopMpls(a.ethertype)
    if isinstance(a, A.ActionSetMplsTtl):
        return A.NXActionSetMplsTtl(a.mpls_ttl)
    if isinstance(a, A.ActionDecMplsTtl):
        return A.NXActionDecMplsTtl()
    if isinstance(a, A.ActionSetField) and a.mask is None:
        conv = _SET_FIELD10.get(a.field)
        if conv is not None:
            return conv(a.value)
        return A.NXActionRegLoad(0, oxm.field_by_name(a.field).nbits, a.field, a.value)
    return None   # push_vlan (implied by set_vlan_vid in 1.0), group, experimenter...


def actions_to_of10(rule: OFRule) -> list[A.Action]:
    """The rule's apply-actions as OpenFlow 1.0/Nicira actions, goto_table as
    ``resubmit(,N)`` (OVS encode_GOTO_TABLE for OpenFlow 1.0)."""
    out: list[A.Action] = []
    for ins in rule.instructions:
        if isinstance(ins, A.InstructionApplyActions):
            out.extend(x for x in map(_action10, ins.actions) if x is not None)
        elif isinstance(ins, A.InstructionGotoTable):
            out.append(A.NXActionResubmitTable(int(OFPPort.OFPP_IN_PORT), ins.table_id))
    return out


def flow_stats10(rule: OFRule, now: float) -> m.FlowStats10:
    """``ofp_flow_stats`` for OFPST_FLOW (spec 1.0.0 5.3.5.2)."""
    sec, nsec = rule.duration(now)
    return m.FlowStats10(table_id=rule.table_id, match=match_to_of10(rule.match),
                         duration_sec=sec, duration_nsec=nsec, priority=rule.priority,
                         idle_timeout=rule.idle_timeout, hard_timeout=rule.hard_timeout,
                         cookie=rule.cookie, packet_count=rule.packet_count,
                         byte_count=rule.byte_count, actions=actions_to_of10(rule))


def _age(now: float, then: float) -> int:
    """nx_flow_stats idle_age/hard_age: seconds plus one, at most 65535."""
    return min(int(max(0.0, now - then)) + 1, 0xFFFF)


def nx_flow_stats(rule: OFRule, now: float) -> nx.NXFlowStats:
    """``struct nx_flow_stats`` for NXST_FLOW (nicira-ext.h)."""
    sec, nsec = rule.duration(now)
    return nx.NXFlowStats(table_id=rule.table_id, duration_sec=sec, duration_nsec=nsec,
                          priority=rule.priority, idle_timeout=rule.idle_timeout,
                          hard_timeout=rule.hard_timeout,
                          idle_age=_age(now, rule.last_used),
                          hard_age=_age(now, rule.modified), cookie=rule.cookie,
                          packet_count=rule.packet_count, byte_count=rule.byte_count,
                          match=_nxm_match(rule.match), actions=actions_to_of10(rule))


def _action13(a: A.Action, match: oxm.Match) -> list[A.Action]:
    """An OpenFlow 1.0 action of a flow added over OpenFlow 1.0, in OpenFlow 1.1+ form
    for a flow stats reply (OVS ofp-actions.c: set_vlan_vid, mod_dl_src... are
    set_field in 1.2+, strip_vlan is pop_vlan, enqueue is set_queue + output)."""
    if isinstance(a, A.ActionOutput10):
        return [A.ActionOutput(a.port, a.max_len)]
    if isinstance(a, A.ActionEnqueue10):
        return [A.ActionSetQueue(a.queue_id), A.ActionOutput(a.port, 0)]
    if isinstance(a, A.ActionStripVlan10):
        return [A.ActionPopVlan()]
    if isinstance(a, A.ActionSetVlanVid10):
        return [A.ActionSetField("vlan_vid", 0x1000 | a.vlan_vid & 0xFFF)]
    if isinstance(a, A.ActionSetVlanPcp10):
        return [A.ActionSetField("vlan_pcp", a.vlan_pcp & 7)]
    if isinstance(a, A.ActionSetDlSrc10 | A.ActionSetDlDst10):
        return [A.ActionSetField("eth_src" if isinstance(a, A.ActionSetDlSrc10)
                                 else "eth_dst", a.dl_addr)]
    if isinstance(a, A.ActionSetNwSrc10 | A.ActionSetNwDst10):
        return [A.ActionSetField("ip_src" if isinstance(a, A.ActionSetNwSrc10)
                                 else "ip_dst", a.nw_addr)]
    if isinstance(a, A.ActionSetNwTos10):
        return [A.ActionSetField("ip_dscp", a.nw_tos >> 2)]
    if isinstance(a, A.ActionSetTpSrc10 | A.ActionSetTpDst10):
        proto = {17: "udp", 132: "sctp"}.get(match.value("nw_proto") or 0, "tcp")
        side = "src" if isinstance(a, A.ActionSetTpSrc10) else "dst"
        return [A.ActionSetField(f"{proto}_{side}", a.tp_port)]
    return [a]


def instructions_to_of13(rule: OFRule) -> list[A.Instruction]:
    """The rule's instructions with actions from OpenFlow 1.0 flow-mods (which the
    pipeline keeps as received) converted for an OpenFlow 1.1+ flow stats reply."""
    out: list[A.Instruction] = []
    for ins in rule.instructions:
        if isinstance(ins, A.InstructionApplyActions | A.InstructionWriteActions) and any(
                isinstance(a, _OF10_NATIVE) and not isinstance(a, A.NXAction)
                for a in ins.actions):
            acts = [x for a in ins.actions for x in _action13(a, rule.match)]
            ins = type(ins)(acts)
        out.append(ins)
    return out


# --- OpenFlow 1.4/1.5 forms (port stats properties, OXS statistics, meter action) ------


def port_stats14(port_no: int, counters: dict[str, int]) -> m14.PortStats14:
    """``ofp_port_stats`` for OpenFlow 1.4+ (spec 1.4.1 7.3.5.7): eight counters and
    an OFPPSPT_ETHERNET property with the frame/overrun/CRC errors and collisions."""
    eth = struct.pack("!4x4Q", *(counters.get(k, 0) for k in _PORT14_ETHERNET))
    return m14.PortStats14(port_no=port_no, duration_sec=counters.get("duration_sec", 0),
                           duration_nsec=counters.get("duration_nsec", 0),
                           counters=tuple(counters.get(k, 0) for k in _PORT14_COUNTERS),
                           properties=[m14.Prop(_OFPPSPT_ETHERNET, eth)])


def _oxs_rule_stats(rule: OFRule, now: float) -> m15.OXSStats:
    """A rule's OXS statistics as OVS writes them for a flow (``oxs_put_stats``):
    duration, idle time (since the last packet, or creation), packets, bytes."""
    sec, nsec = rule.duration(now)
    idle = max(0.0, now - rule.last_used)
    return m15.OXSStats.make(duration=(sec, nsec), idle_time=(int(idle), 0),
                             packet_count=rule.packet_count, byte_count=rule.byte_count)


def flow_desc15(entry: m.FlowStats, rule: OFRule, now: float) -> m15.FlowDesc15:
    """``ofp_flow_desc`` (spec 1.5.1 7.3.5.2) from a 1.3-style flow stats entry."""
    return m15.FlowDesc15(table_id=entry.table_id, priority=entry.priority,
                          idle_timeout=entry.idle_timeout, hard_timeout=entry.hard_timeout,
                          flags=entry.flags, importance=entry.importance,
                          cookie=entry.cookie, match=entry.match,
                          stats=_oxs_rule_stats(rule, now),
                          instructions=entry.instructions)


def flow_removed15(fr: m.FlowRemoved, rule: OFRule, now: float) -> m15.FlowRemoved15:
    """OFPT_FLOW_REMOVED for OpenFlow 1.5 (spec 1.5.1 7.4.2) from the 1.4 form:
    the counters become OXS duration, idle time, packet and byte counts."""
    return m15.FlowRemoved15(
        table_id=fr.table_id, reason=fr.reason, priority=fr.priority,
        idle_timeout=fr.idle_timeout, hard_timeout=fr.hard_timeout, cookie=fr.cookie,
        match=fr.match, stats=m15.OXSStats.make(
            duration=(fr.duration_sec, fr.duration_nsec),
            idle_time=(int(max(0.0, now - rule.last_used)), 0),
            packet_count=fr.packet_count, byte_count=fr.byte_count))


def instructions_for_version(instructions: list[A.Instruction],
                             version: int) -> list[A.Instruction]:
    """Meter as OpenFlow ``version`` carries it (OVS ``encode_METER``): the OFPIT_METER
    instruction up to 1.4, the OFPAT_METER action (first in apply-actions) from 1.5
    (spec 1.5.1 5.12, 7.2.6.11)."""
    if version >= consts.OFP15:
        meters = [i for i in instructions if isinstance(i, A.InstructionMeter)]
        if not meters:
            return instructions
        rest = [i for i in instructions if not isinstance(i, A.InstructionMeter)]
        acts: list[A.Action] = [A.ActionMeter(i.meter_id) for i in meters]
        for n, ins in enumerate(rest):
            if isinstance(ins, A.InstructionApplyActions):
                rest[n] = A.InstructionApplyActions(acts + list(ins.actions))
                return rest
        return [A.InstructionApplyActions(acts), *rest]
    out: list[A.Instruction] = []
    meter: list[A.Instruction] = []
    for ins in instructions:
        if isinstance(ins, A.InstructionApplyActions) and any(
                isinstance(a, A.ActionMeter) for a in ins.actions):
            meter += [A.InstructionMeter(a.meter_id) for a in ins.actions
                      if isinstance(a, A.ActionMeter)]
            acts = [a for a in ins.actions if not isinstance(a, A.ActionMeter)]
            if acts:
                out.append(A.InstructionApplyActions(acts))
        else:
            out.append(ins)
    return meter[:1] + out if meter else out


def _insert_buckets(cur: list[tuple[int, m.Bucket]], new: list[tuple[int, m.Bucket]],
                    where: int) -> list[tuple[int, m.Bucket]]:
    """OFPGC15_INSERT_BUCKET (spec 1.5.1 7.3.4.2): ``new`` at the head (BUCKET_FIRST),
    the tail (BUCKET_LAST) or after the bucket with id ``where``."""
    F = consts.OFPGroupModFailedCode
    old_ids = [i for i, _ in cur]
    if where <= m15.OFPG15_BUCKET_MAX and where not in old_ids:
        raise OFPDecodeError(ET.OFPET_GROUP_MOD_FAILED, F.OFPGMFC_UNKNOWN_BUCKET,
                             f"bucket {where}")
    if set(old_ids) & {i for i, _ in new}:
        raise OFPDecodeError(ET.OFPET_GROUP_MOD_FAILED, F.OFPGMFC_BUCKET_EXISTS,
                             "duplicate bucket id")
    if where == m15.OFPG15_BUCKET_FIRST:
        return new + cur
    if where == m15.OFPG15_BUCKET_LAST:
        return cur + new
    n = old_ids.index(where) + 1
    return cur[:n] + new + cur[n:]


def _remove_buckets(cur: list[tuple[int, m.Bucket]],
                    which: int) -> list[tuple[int, m.Bucket]]:
    """OFPGC15_REMOVE_BUCKET (spec 1.5.1 7.3.4.2): all, the first, the last or the
    bucket with id ``which``."""
    if which == m15.OFPG15_BUCKET_ALL:
        return []
    if which == m15.OFPG15_BUCKET_FIRST:
        return cur[1:]
    if which == m15.OFPG15_BUCKET_LAST:
        return cur[:-1]
    if which not in [i for i, _ in cur]:
        raise OFPDecodeError(ET.OFPET_GROUP_MOD_FAILED,
                             consts.OFPGroupModFailedCode.OFPGMFC_UNKNOWN_BUCKET,
                             f"bucket {which}")
    return [(i, b) for i, b in cur if i != which]
