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

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ovsdb import vlog

from .connection import OFConnection
from .flowtable import OFRule, Pipeline
from .ofp import consts, oxm
from .ofp import messages as m
from .ofp import messages14 as m14
from .ofp.consts import OFPBadRequestCode as BRC
from .ofp.consts import OFPErrorType as ET
from .ofp.consts import OFPFlowRemovedReason as RR
from .ofp.consts import OFPPort
from .ofp.errors import OFPDecodeError

log = vlog.logger("ofproto.switch")

VERSION = "0.1.0"
N_TABLES = 254
#: Largest multipart reply body we send in one message (OpenFlow caps at 64 KiB).
_MP_CHUNK = 60000
_OFPMPF_REPLY_MORE = 1
# OFPC_*: flow, table, port and group statistics (spec 1.3.5 A.3.1).
_CAPABILITIES = 0x1 | 0x2 | 0x4 | 0x8


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
        self.config_flags = 0
        self.miss_send_len = 128
        self._port_stats = port_stats

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

    def _port_status(self, reason: int, port: OFPort) -> None:
        if self.connmgr is not None:
            self.connmgr.send_async("port_status", reason,
                                    lambda conn: m.PortStatus(reason=reason,
                                                              desc=port.to_ofp()))

    # -- SwitchHandler --

    def channel_up(self, conn: OFConnection) -> None:
        pass

    def handle_message(self, conn: OFConnection, msg: m.Message, raw: bytes) -> None:
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
                    lambda conn, r=rule, why=reason:
                    self.pipeline.flow_removed(r, why, version=conn.version))

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

    def _port_desc(self, conn: OFConnection, msg: m.PortDescStatsRequest) -> None:
        ports = [p.to_ofp() for p in sorted(self.ports.values(), key=lambda p: p.port_no)]
        if conn.version >= consts.OFP14:
            ports14 = [m14.Port14(port_no=p.port_no, hw_addr=p.hw_addr, name=p.name,
                              config=p.config, state=p.state) for p in ports]
            conn.send(m14.PortDescStatsReply14(xid=msg.xid, body=ports14))
        else:
            conn.send(m.PortDescStatsReply(xid=msg.xid, body=ports))

    def _table_features(self, conn: OFConnection, msg: m.TableFeaturesStatsRequest) -> None:
        if msg.body:
            # Setting table features is not supported (spec 1.3.5 A.3.5.5).
            raise OFPDecodeError(ET.OFPET_TABLE_FEATURES_FAILED, 5,   # OFPTFFC_EPERM
                                 "table features are read-only")
        self._send_multipart(conn, msg, m.TableFeaturesStatsReply, _table_features())

    def _flow_mod(self, conn: OFConnection, msg: m.Message) -> None:
        result = self.pipeline.flow_mod(msg)   # type: ignore[arg-type]
        self.send_flow_removed(result.removed)

    def _flow_stats(self, conn: OFConnection, msg: m.FlowStatsRequest) -> None:
        rules = self.pipeline.flow_stats(msg.table_id, msg.match, msg.out_port,
                                         msg.out_group, msg.cookie, msg.cookie_mask)
        now = self.clock()
        entries = [self.pipeline.flow_stats_entry(r, now, version=conn.version)
                   for r in rules]
        self._send_multipart(conn, msg, m.FlowStatsReply, entries)

    def _aggregate(self, conn: OFConnection, msg: m.AggregateStatsRequest) -> None:
        agg = self.pipeline.aggregate(msg.table_id, msg.match, msg.out_port, msg.out_group,
                                      msg.cookie, msg.cookie_mask)
        conn.send(m.AggregateStatsReply(xid=msg.xid, packet_count=agg.packet_count,
                                        byte_count=agg.byte_count,
                                        flow_count=agg.flow_count))

    def _table_stats(self, conn: OFConnection, msg: m.TableStatsRequest) -> None:
        self._send_multipart(conn, msg, m.TableStatsReply, self.pipeline.table_stats())

    def _port_stats_reply(self, conn: OFConnection, msg: m.PortStatsRequest) -> None:
        wanted = sorted(self.ports) if msg.port_no in (OFPPort.OFPP_ANY, 0xFFFF) \
            else [msg.port_no]
        entries = []
        for port_no in wanted:
            if port_no not in self.ports:
                raise OFPDecodeError(ET.OFPET_BAD_REQUEST, BRC.OFPBRC_BAD_PORT,
                                     f"no port {port_no}")
            counters = self._port_stats(port_no) if self._port_stats else {}
            entries.append(m.PortStats(port_no=port_no, **counters))
        self._send_multipart(conn, msg, m.PortStatsReply, entries)

    def _group_mod(self, conn: OFConnection, msg: m.GroupMod) -> None:
        _, removed = self.pipeline.group_mod(msg)
        self.send_flow_removed(removed)

    def _meter_mod(self, conn: OFConnection, msg: m.MeterMod) -> None:
        _, removed = self.pipeline.meter_mod(msg)
        self.send_flow_removed(removed)

    def _group_desc(self, conn: OFConnection, msg: m.Message) -> None:
        self._send_multipart(conn, msg, m.GroupDescStatsReply,
                             self.pipeline.groups.desc(conn.version))

    def _group_stats(self, conn: OFConnection, msg: m.GroupStatsRequest) -> None:
        self._send_multipart(conn, msg, m.GroupStatsReply,
                             self.pipeline.groups.stats(msg.group_id))

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
        chunks: list[list[Any]] = [[]]
        size = 0
        for e in entries:
            n = len(e.encode())
            if chunks[-1] and size + n > _MP_CHUNK:
                chunks.append([])
                size = 0
            chunks[-1].append(e)
            size += n
        for i, chunk in enumerate(chunks):
            more = _OFPMPF_REPLY_MORE if i < len(chunks) - 1 else 0
            conn.send(reply_cls(xid=request.xid, flags=more, body=chunk))

    _HANDLERS: dict[type, Callable[[OFSwitch, OFConnection, Any], None]] = {
        m.FeaturesRequest: _features,
        m.GetConfigRequest: _get_config,
        m.SetConfig: _set_config,
        m.BarrierRequest: _barrier,
        m.BarrierRequest10: _barrier,
        m.DescStatsRequest: _desc,
        m.DescStatsRequest10: _desc,
        m.PortDescStatsRequest: _port_desc,
        m14.PortDescStatsRequest15: _port_desc,
        m.TableFeaturesStatsRequest: _table_features,
        m.FlowMod: _flow_mod,
        m.FlowMod10: _flow_mod,
        m.FlowStatsRequest: _flow_stats,
        m.AggregateStatsRequest: _aggregate,
        m.TableStatsRequest: _table_stats,
        m.PortStatsRequest: _port_stats_reply,
        m.GroupMod: _group_mod,
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
