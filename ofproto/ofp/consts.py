"""OpenFlow protocol constants (OpenFlow 1.0, 1.3, 1.4 and 1.5 specifications).

This module holds only numbers: every other module of :mod:`ofproto.ofp` imports
from here (``oxm`` for match classes, ``actions`` for action/instruction types,
``messages`` for message and multipart types, ``errors`` for OFPT_ERROR codes).
The connection manager and the flow table use the same enums when they build
replies, so there is exactly one spelling of each number.

Names are the spec's names with the ``OFP`` prefix kept, grouped into
:class:`enum.IntEnum` classes.  Where OpenFlow 1.0 numbers differ from 1.3 the
1.0 enum carries a ``10`` suffix (``OFPType10``, ``OFPActionType10``...);
1.4/1.5 additions are members of the 1.3 enum when the number is compatible.
"""

from __future__ import annotations

from enum import IntEnum, IntFlag

# --- versions (spec section A.1 "OpenFlow Header") -----------------------------


class OFPVersion(IntEnum):
    """ofp_header.version values."""

    OFP10 = 1
    OFP11 = 2
    OFP12 = 3
    OFP13 = 4
    OFP14 = 5
    OFP15 = 6


OFP10 = OFPVersion.OFP10
OFP11 = OFPVersion.OFP11
OFP12 = OFPVersion.OFP12
OFP13 = OFPVersion.OFP13
OFP14 = OFPVersion.OFP14
OFP15 = OFPVersion.OFP15

OFP_HEADER_LEN = 8
OFP_NO_BUFFER = 0xFFFFFFFF
OFP_DEFAULT_PRIORITY = 0x8000
OFP_MAX_TABLE_NAME_LEN = 32
OFP_MAX_PORT_NAME_LEN = 16
DESC_STR_LEN = 256
SERIAL_NUM_LEN = 32
OFP_TCP_PORT = 6653

NX_VENDOR_ID = 0x00002320  # Nicira
ONF_EXPERIMENTER_ID = 0x4F4E4600  # "ONF\0"


class OFPType(IntEnum):
    """ofp_type for OpenFlow 1.3 (spec 1.3.5 section A.1), plus 1.4/1.5 additions."""

    OFPT_HELLO = 0
    OFPT_ERROR = 1
    OFPT_ECHO_REQUEST = 2
    OFPT_ECHO_REPLY = 3
    OFPT_EXPERIMENTER = 4
    OFPT_FEATURES_REQUEST = 5
    OFPT_FEATURES_REPLY = 6
    OFPT_GET_CONFIG_REQUEST = 7
    OFPT_GET_CONFIG_REPLY = 8
    OFPT_SET_CONFIG = 9
    OFPT_PACKET_IN = 10
    OFPT_FLOW_REMOVED = 11
    OFPT_PORT_STATUS = 12
    OFPT_PACKET_OUT = 13
    OFPT_FLOW_MOD = 14
    OFPT_GROUP_MOD = 15
    OFPT_PORT_MOD = 16
    OFPT_TABLE_MOD = 17
    OFPT_MULTIPART_REQUEST = 18
    OFPT_MULTIPART_REPLY = 19
    OFPT_BARRIER_REQUEST = 20
    OFPT_BARRIER_REPLY = 21
    OFPT_QUEUE_GET_CONFIG_REQUEST = 22  # removed in 1.4
    OFPT_QUEUE_GET_CONFIG_REPLY = 23  # removed in 1.4
    OFPT_ROLE_REQUEST = 24
    OFPT_ROLE_REPLY = 25
    OFPT_GET_ASYNC_REQUEST = 26
    OFPT_GET_ASYNC_REPLY = 27
    OFPT_SET_ASYNC = 28
    OFPT_METER_MOD = 29
    OFPT_ROLE_STATUS = 30  # 1.4
    OFPT_TABLE_STATUS = 31  # 1.4
    OFPT_REQUESTFORWARD = 32  # 1.4
    OFPT_BUNDLE_CONTROL = 33  # 1.4
    OFPT_BUNDLE_ADD_MESSAGE = 34  # 1.4
    OFPT_CONTROLLER_STATUS = 35  # 1.5


class OFPType10(IntEnum):
    """ofp_type for OpenFlow 1.0 (spec 1.0.0 section 5.1)."""

    OFPT_HELLO = 0
    OFPT_ERROR = 1
    OFPT_ECHO_REQUEST = 2
    OFPT_ECHO_REPLY = 3
    OFPT_VENDOR = 4
    OFPT_FEATURES_REQUEST = 5
    OFPT_FEATURES_REPLY = 6
    OFPT_GET_CONFIG_REQUEST = 7
    OFPT_GET_CONFIG_REPLY = 8
    OFPT_SET_CONFIG = 9
    OFPT_PACKET_IN = 10
    OFPT_FLOW_REMOVED = 11
    OFPT_PORT_STATUS = 12
    OFPT_PACKET_OUT = 13
    OFPT_FLOW_MOD = 14
    OFPT_PORT_MOD = 15
    OFPT_STATS_REQUEST = 16
    OFPT_STATS_REPLY = 17
    OFPT_BARRIER_REQUEST = 18
    OFPT_BARRIER_REPLY = 19
    OFPT_QUEUE_GET_CONFIG_REQUEST = 20
    OFPT_QUEUE_GET_CONFIG_REPLY = 21


class OFPHelloElemType(IntEnum):
    """Hello element types (spec 1.3.5 section A.5.1)."""

    OFPHET_VERSIONBITMAP = 1


class OFPMultipartType(IntEnum):
    """ofp_multipart_type (spec 1.3.5 section A.3.5); 1.4/1.5 additions noted."""

    OFPMP_DESC = 0
    OFPMP_FLOW = 1  # OF1.5: OFPMP_FLOW_DESC
    OFPMP_AGGREGATE = 2  # OF1.5: OFPMP_AGGREGATE_STATS
    OFPMP_TABLE = 3
    OFPMP_PORT_STATS = 4
    OFPMP_QUEUE = 5  # OF1.4+: OFPMP_QUEUE_STATS
    OFPMP_GROUP = 6  # OF1.5: OFPMP_GROUP_STATS
    OFPMP_GROUP_DESC = 7
    OFPMP_GROUP_FEATURES = 8
    OFPMP_METER = 9  # OF1.5: OFPMP_METER_STATS
    OFPMP_METER_CONFIG = 10  # OF1.5: OFPMP_METER_DESC
    OFPMP_METER_FEATURES = 11
    OFPMP_TABLE_FEATURES = 12
    OFPMP_PORT_DESC = 13
    OFPMP_TABLE_DESC = 14  # 1.4
    OFPMP_QUEUE_DESC = 15  # 1.4
    OFPMP_FLOW_MONITOR = 16  # 1.4
    OFPMP_FLOW_STATS = 17  # 1.5
    OFPMP_CONTROLLER_STATUS = 18  # 1.5
    OFPMP_BUNDLE_FEATURES = 19  # 1.5
    OFPMP_EXPERIMENTER = 0xFFFF


class OFPStatsType10(IntEnum):
    """ofp_stats_types for OpenFlow 1.0 (spec 1.0.0 section 5.3.5)."""

    OFPST_DESC = 0
    OFPST_FLOW = 1
    OFPST_AGGREGATE = 2
    OFPST_TABLE = 3
    OFPST_PORT = 4
    OFPST_QUEUE = 5
    OFPST_VENDOR = 0xFFFF


class OFPMultipartFlags(IntFlag):
    """ofp_multipart_request_flags / reply flags (spec 1.3.5 A.3.5)."""

    OFPMPF_REQ_MORE = 1 << 0  # same bit as OFPMPF_REPLY_MORE / OFPSF_REPLY_MORE


OFPMPF_REQ_MORE = 1
OFPMPF_REPLY_MORE = 1


# --- ports ---------------------------------------------------------------------


class OFPPort(IntEnum):
    """Reserved port numbers for OpenFlow 1.1+ (32-bit, spec 1.3.5 A.2.1)."""

    OFPP_MAX = 0xFFFFFF00
    OFPP_IN_PORT = 0xFFFFFFF8
    OFPP_TABLE = 0xFFFFFFF9
    OFPP_NORMAL = 0xFFFFFFFA
    OFPP_FLOOD = 0xFFFFFFFB
    OFPP_ALL = 0xFFFFFFFC
    OFPP_CONTROLLER = 0xFFFFFFFD
    OFPP_LOCAL = 0xFFFFFFFE
    OFPP_ANY = 0xFFFFFFFF


class OFPPort10(IntEnum):
    """Reserved port numbers for OpenFlow 1.0 (16-bit, spec 1.0.0 5.2.1)."""

    OFPP_MAX = 0xFF00
    OFPP_IN_PORT = 0xFFF8
    OFPP_TABLE = 0xFFF9
    OFPP_NORMAL = 0xFFFA
    OFPP_FLOOD = 0xFFFB
    OFPP_ALL = 0xFFFC
    OFPP_CONTROLLER = 0xFFFD
    OFPP_LOCAL = 0xFFFE
    OFPP_NONE = 0xFFFF


def port_to_of10(port: int) -> int:
    """Map a 32-bit OF1.1+ port to 16-bit OF1.0 (as OVS does: reserved ports shift)."""
    if port >= 0xFFFFFF00:
        return port - 0xFFFF0000
    return port


def port_from_of10(port: int) -> int:
    """Map a 16-bit OF1.0 port to the 32-bit OF1.1+ space."""
    if port >= 0xFF00:
        return port + 0xFFFF0000
    return port


class OFPPortConfig(IntFlag):
    """ofp_port_config (spec 1.3.5 A.2.1)."""

    OFPPC_PORT_DOWN = 1 << 0
    OFPPC_NO_STP = 1 << 1  # 1.0 only
    OFPPC_NO_RECV = 1 << 2
    OFPPC_NO_RECV_STP = 1 << 3  # 1.0 only
    OFPPC_NO_FLOOD = 1 << 4  # 1.0 only
    OFPPC_NO_FWD = 1 << 5
    OFPPC_NO_PACKET_IN = 1 << 6


class OFPPortState(IntFlag):
    """ofp_port_state (spec 1.3.5 A.2.1)."""

    OFPPS_LINK_DOWN = 1 << 0
    OFPPS_BLOCKED = 1 << 1
    OFPPS_LIVE = 1 << 2


class OFPPortFeatures(IntFlag):
    """ofp_port_features (spec 1.3.5 A.2.1); 1.0 stops at OFPPF_PAUSE_ASYM (1<<11)."""

    OFPPF_10MB_HD = 1 << 0
    OFPPF_10MB_FD = 1 << 1
    OFPPF_100MB_HD = 1 << 2
    OFPPF_100MB_FD = 1 << 3
    OFPPF_1GB_HD = 1 << 4
    OFPPF_1GB_FD = 1 << 5
    OFPPF_10GB_FD = 1 << 6
    OFPPF_40GB_FD = 1 << 7
    OFPPF_100GB_FD = 1 << 8
    OFPPF_1TB_FD = 1 << 9
    OFPPF_OTHER = 1 << 10
    OFPPF_COPPER = 1 << 11
    OFPPF_FIBER = 1 << 12
    OFPPF_AUTONEG = 1 << 13
    OFPPF_PAUSE = 1 << 14
    OFPPF_PAUSE_ASYM = 1 << 15


class OFPPortReason(IntEnum):
    """ofp_port_reason (spec 1.3.5 A.4.3)."""

    OFPPR_ADD = 0
    OFPPR_DELETE = 1
    OFPPR_MODIFY = 2


class OFPPortDescPropType(IntEnum):
    """ofp_port_desc_prop_type (spec 1.4.1 section 7.2.1.1)."""

    OFPPDPT_ETHERNET = 0
    OFPPDPT_OPTICAL = 1
    OFPPDPT_PIPELINE_INPUT = 2  # 1.5
    OFPPDPT_PIPELINE_OUTPUT = 3  # 1.5
    OFPPDPT_RECIRCULATE = 4  # 1.5
    OFPPDPT_EXPERIMENTER = 0xFFFF


# --- switch features / config ---------------------------------------------------


class OFPCapabilities(IntFlag):
    """ofp_capabilities (spec 1.3.5 A.3.1); bit 3 is OFPC_STP in 1.0 only."""

    OFPC_FLOW_STATS = 1 << 0
    OFPC_TABLE_STATS = 1 << 1
    OFPC_PORT_STATS = 1 << 2
    OFPC_GROUP_STATS = 1 << 3
    OFPC_IP_REASM = 1 << 5
    OFPC_QUEUE_STATS = 1 << 6
    OFPC_ARP_MATCH_IP = 1 << 7  # 1.0 only
    OFPC_PORT_BLOCKED = 1 << 8
    OFPC_BUNDLES = 1 << 9  # 1.5
    OFPC_FLOW_MONITORING = 1 << 10  # 1.5


OFPC_STP_10 = 1 << 3


class OFPConfigFlags(IntEnum):
    """ofp_config_flags (spec 1.3.5 A.3.2)."""

    OFPC_FRAG_NORMAL = 0
    OFPC_FRAG_DROP = 1
    OFPC_FRAG_REASM = 2
    OFPC_FRAG_MASK = 3
    OFPC_INVALID_TTL_TO_CONTROLLER = 4  # 1.1-1.2 only


OFPCML_MAX = 0xFFE5
OFPCML_NO_BUFFER = 0xFFFF


class OFPTableConfig(IntFlag):
    """ofp_table_config (spec 1.3.5 A.3.3; 1.4 adds eviction/vacancy)."""

    OFPTC_DEPRECATED_MASK = 3
    OFPTC_EVICTION = 1 << 2
    OFPTC_VACANCY_EVENTS = 1 << 3


class OFPTable(IntEnum):
    """ofp_table (spec 1.3.5 A.2.2)."""

    OFPTT_MAX = 0xFE
    OFPTT_ALL = 0xFF


# --- flows ----------------------------------------------------------------------


class OFPFlowModCommand(IntEnum):
    """ofp_flow_mod_command (spec 1.3.5 A.3.4.1)."""

    OFPFC_ADD = 0
    OFPFC_MODIFY = 1
    OFPFC_MODIFY_STRICT = 2
    OFPFC_DELETE = 3
    OFPFC_DELETE_STRICT = 4


class OFPFlowModFlags(IntFlag):
    """ofp_flow_mod_flags (spec 1.3.5 A.3.4.1)."""

    OFPFF_SEND_FLOW_REM = 1 << 0
    OFPFF_CHECK_OVERLAP = 1 << 1
    OFPFF_RESET_COUNTS = 1 << 2
    OFPFF_NO_PKT_COUNTS = 1 << 3
    OFPFF_NO_BYT_COUNTS = 1 << 4


OFPFF10_EMERG = 1 << 2  # OpenFlow 1.0 only


class OFPFlowRemovedReason(IntEnum):
    """ofp_flow_removed_reason (spec 1.3.5 A.4.2; 1.4/1.5 additions)."""

    OFPRR_IDLE_TIMEOUT = 0
    OFPRR_HARD_TIMEOUT = 1
    OFPRR_DELETE = 2
    OFPRR_GROUP_DELETE = 3
    OFPRR_METER_DELETE = 4
    OFPRR_EVICTION = 5


class OFPPacketInReason(IntEnum):
    """ofp_packet_in_reason (spec 1.3.5 A.4.1; 1.4 renames/extends)."""

    OFPR_NO_MATCH = 0  # 1.4+: OFPR_TABLE_MISS
    OFPR_ACTION = 1  # 1.4+: OFPR_APPLY_ACTION
    OFPR_INVALID_TTL = 2
    OFPR_ACTION_SET = 3
    OFPR_GROUP = 4
    OFPR_PACKET_OUT = 5


class OFPMatchType(IntEnum):
    """ofp_match_type (spec 1.3.5 A.2.3.1)."""

    OFPMT_STANDARD = 0
    OFPMT_OXM = 1


class OFPOxmClass(IntEnum):
    """ofp_oxm_class (spec 1.3.5 A.2.3.3)."""

    OFPXMC_NXM_0 = 0x0000
    OFPXMC_NXM_1 = 0x0001
    OFPXMC_OPENFLOW_BASIC = 0x8000
    OFPXMC_PACKET_REGS = 0x8001  # 1.5
    OFPXMC_EXPERIMENTER = 0xFFFF


class OFPVlanId(IntEnum):
    """ofp_vlan_id (spec 1.3.5 A.2.3.7)."""

    OFPVID_NONE = 0x0000
    OFPVID_PRESENT = 0x1000


OFP_VLAN_NONE_10 = 0xFFFF


class OFPIpv6ExtHdrFlags(IntFlag):
    """ofp_ipv6exthdr_flags (spec 1.3.5 A.2.3.7)."""

    OFPIEH_NONEXT = 1 << 0
    OFPIEH_ESP = 1 << 1
    OFPIEH_AUTH = 1 << 2
    OFPIEH_DEST = 1 << 3
    OFPIEH_FRAG = 1 << 4
    OFPIEH_ROUTER = 1 << 5
    OFPIEH_HOP = 1 << 6
    OFPIEH_UNREP = 1 << 7
    OFPIEH_UNSEQ = 1 << 8


class OFPFlowWildcards10(IntFlag):
    """ofp_flow_wildcards for the OpenFlow 1.0 ofp_match (spec 1.0.0 5.2.3)."""

    OFPFW_IN_PORT = 1 << 0
    OFPFW_DL_VLAN = 1 << 1
    OFPFW_DL_SRC = 1 << 2
    OFPFW_DL_DST = 1 << 3
    OFPFW_DL_TYPE = 1 << 4
    OFPFW_NW_PROTO = 1 << 5
    OFPFW_TP_SRC = 1 << 6
    OFPFW_TP_DST = 1 << 7
    OFPFW_NW_SRC_SHIFT = 8
    OFPFW_NW_SRC_MASK = 0x3F << 8
    OFPFW_NW_DST_SHIFT = 14
    OFPFW_NW_DST_MASK = 0x3F << 14
    OFPFW_DL_VLAN_PCP = 1 << 20
    OFPFW_NW_TOS = 1 << 21
    OFPFW_ALL = (1 << 22) - 1


# --- actions / instructions -----------------------------------------------------


class OFPActionType(IntEnum):
    """ofp_action_type for OpenFlow 1.1+ (spec 1.3.5 A.2.5)."""

    OFPAT_OUTPUT = 0
    OFPAT_COPY_TTL_OUT = 11
    OFPAT_COPY_TTL_IN = 12
    OFPAT_SET_MPLS_TTL = 15
    OFPAT_DEC_MPLS_TTL = 16
    OFPAT_PUSH_VLAN = 17
    OFPAT_POP_VLAN = 18
    OFPAT_PUSH_MPLS = 19
    OFPAT_POP_MPLS = 20
    OFPAT_SET_QUEUE = 21
    OFPAT_GROUP = 22
    OFPAT_SET_NW_TTL = 23
    OFPAT_DEC_NW_TTL = 24
    OFPAT_SET_FIELD = 25
    OFPAT_PUSH_PBB = 26
    OFPAT_POP_PBB = 27
    OFPAT_COPY_FIELD = 28  # 1.5
    OFPAT_METER = 29  # 1.5
    OFPAT_EXPERIMENTER = 0xFFFF


class OFPActionType10(IntEnum):
    """ofp_action_type for OpenFlow 1.0 (spec 1.0.0 5.2.4)."""

    OFPAT_OUTPUT = 0
    OFPAT_SET_VLAN_VID = 1
    OFPAT_SET_VLAN_PCP = 2
    OFPAT_STRIP_VLAN = 3
    OFPAT_SET_DL_SRC = 4
    OFPAT_SET_DL_DST = 5
    OFPAT_SET_NW_SRC = 6
    OFPAT_SET_NW_DST = 7
    OFPAT_SET_NW_TOS = 8
    OFPAT_SET_TP_SRC = 9
    OFPAT_SET_TP_DST = 10
    OFPAT_ENQUEUE = 11
    OFPAT_VENDOR = 0xFFFF


class NXActionSubtype(IntEnum):
    """Nicira vendor action subtypes (OVS include/openflow/nicira-ext.h, lib/ofp-actions.c)."""

    NXAST_RESUBMIT = 1
    NXAST_SET_TUNNEL = 2
    NXAST_SET_QUEUE = 4
    NXAST_POP_QUEUE = 5
    NXAST_REG_MOVE = 6
    NXAST_REG_LOAD = 7
    NXAST_NOTE = 8
    NXAST_SET_TUNNEL64 = 9
    NXAST_MULTIPATH = 10
    NXAST_BUNDLE = 12
    NXAST_BUNDLE_LOAD = 13
    NXAST_RESUBMIT_TABLE = 14
    NXAST_OUTPUT_REG = 15
    NXAST_LEARN = 16
    NXAST_EXIT = 17
    NXAST_DEC_TTL = 18
    NXAST_FIN_TIMEOUT = 19
    NXAST_CONTROLLER = 20
    NXAST_DEC_TTL_CNT_IDS = 21
    NXAST_WRITE_METADATA = 22
    NXAST_PUSH_MPLS = 23
    NXAST_POP_MPLS = 24
    NXAST_SET_MPLS_TTL = 25
    NXAST_DEC_MPLS_TTL = 26
    NXAST_STACK_PUSH = 27
    NXAST_STACK_POP = 28
    NXAST_SAMPLE = 29
    NXAST_SET_MPLS_LABEL = 30
    NXAST_SET_MPLS_TC = 31
    NXAST_OUTPUT_REG2 = 32
    NXAST_REG_LOAD2 = 33
    NXAST_CONJUNCTION = 34
    NXAST_CT = 35
    NXAST_NAT = 36
    NXAST_CONTROLLER2 = 37
    NXAST_SAMPLE2 = 38
    NXAST_OUTPUT_TRUNC = 39
    NXAST_DEC_NSH_TTL = 42
    NXAST_CT_CLEAR = 43
    NXAST_RESUBMIT_TABLE_CT = 44
    NXAST_LEARN2 = 45


class OFPInstructionType(IntEnum):
    """ofp_instruction_type (spec 1.3.5 A.2.4)."""

    OFPIT_GOTO_TABLE = 1
    OFPIT_WRITE_METADATA = 2
    OFPIT_WRITE_ACTIONS = 3
    OFPIT_APPLY_ACTIONS = 4
    OFPIT_CLEAR_ACTIONS = 5
    OFPIT_METER = 6  # deprecated in 1.5
    OFPIT_STAT_TRIGGER = 7  # 1.5
    OFPIT_EXPERIMENTER = 0xFFFF


# --- groups / meters ------------------------------------------------------------


class OFPGroupModCommand(IntEnum):
    """ofp_group_mod_command (spec 1.3.5 A.3.4.2; 1.5 adds bucket commands)."""

    OFPGC_ADD = 0
    OFPGC_MODIFY = 1
    OFPGC_DELETE = 2
    OFPGC_INSERT_BUCKET = 3  # 1.5
    OFPGC_REMOVE_BUCKET = 5  # 1.5


class OFPGroupType(IntEnum):
    """ofp_group_type (spec 1.3.5 A.3.4.2)."""

    OFPGT_ALL = 0
    OFPGT_SELECT = 1
    OFPGT_INDIRECT = 2
    OFPGT_FF = 3


class OFPGroup(IntEnum):
    """ofp_group (spec 1.3.5 A.3.4.2)."""

    OFPG_MAX = 0xFFFFFF00
    OFPG_ALL = 0xFFFFFFFC
    OFPG_ANY = 0xFFFFFFFF


class OFPGroupCapabilities(IntFlag):
    """ofp_group_capabilities (spec 1.3.5 A.3.5.13)."""

    OFPGFC_SELECT_WEIGHT = 1 << 0
    OFPGFC_SELECT_LIVENESS = 1 << 1
    OFPGFC_CHAINING = 1 << 2
    OFPGFC_CHAINING_CHECKS = 1 << 3


class OFPMeterModCommand(IntEnum):
    """ofp_meter_mod_command (spec 1.3.5 A.3.4.4)."""

    OFPMC_ADD = 0
    OFPMC_MODIFY = 1
    OFPMC_DELETE = 2


class OFPMeterFlags(IntFlag):
    """ofp_meter_flags (spec 1.3.5 A.3.4.4)."""

    OFPMF_KBPS = 1 << 0
    OFPMF_PKTPS = 1 << 1
    OFPMF_BURST = 1 << 2
    OFPMF_STATS = 1 << 3


class OFPMeter(IntEnum):
    """ofp_meter (spec 1.3.5 A.3.4.4)."""

    OFPM_MAX = 0xFFFF0000
    OFPM_SLOWPATH = 0xFFFFFFFD
    OFPM_CONTROLLER = 0xFFFFFFFE
    OFPM_ALL = 0xFFFFFFFF


class OFPMeterBandType(IntEnum):
    """ofp_meter_band_type (spec 1.3.5 A.3.4.4)."""

    OFPMBT_DROP = 1
    OFPMBT_DSCP_REMARK = 2
    OFPMBT_EXPERIMENTER = 0xFFFF


class OFPTableFeaturePropType(IntEnum):
    """ofp_table_feature_prop_type (spec 1.3.5 A.3.5.5)."""

    OFPTFPT_INSTRUCTIONS = 0
    OFPTFPT_INSTRUCTIONS_MISS = 1
    OFPTFPT_NEXT_TABLES = 2
    OFPTFPT_NEXT_TABLES_MISS = 3
    OFPTFPT_WRITE_ACTIONS = 4
    OFPTFPT_WRITE_ACTIONS_MISS = 5
    OFPTFPT_APPLY_ACTIONS = 6
    OFPTFPT_APPLY_ACTIONS_MISS = 7
    OFPTFPT_MATCH = 8
    OFPTFPT_WILDCARDS = 10
    OFPTFPT_WRITE_SETFIELD = 12
    OFPTFPT_WRITE_SETFIELD_MISS = 13
    OFPTFPT_APPLY_SETFIELD = 14
    OFPTFPT_APPLY_SETFIELD_MISS = 15
    OFPTFPT_TABLE_SYNC_FROM = 16  # 1.4
    OFPTFPT_WRITE_COPYFIELD = 18  # 1.5
    OFPTFPT_WRITE_COPYFIELD_MISS = 19  # 1.5
    OFPTFPT_APPLY_COPYFIELD = 20  # 1.5
    OFPTFPT_APPLY_COPYFIELD_MISS = 21  # 1.5
    OFPTFPT_PACKET_TYPES = 22  # 1.5
    OFPTFPT_EXPERIMENTER = 0xFFFE
    OFPTFPT_EXPERIMENTER_MISS = 0xFFFF


class OFPQueueProperties(IntEnum):
    """ofp_queue_properties (spec 1.3.5 A.2.2)."""

    OFPQT_MIN_RATE = 1
    OFPQT_MAX_RATE = 2
    OFPQT_EXPERIMENTER = 0xFFFF


OFPQ_ALL = 0xFFFFFFFF


class OFPControllerRole(IntEnum):
    """ofp_controller_role (spec 1.3.5 A.3.9)."""

    OFPCR_ROLE_NOCHANGE = 0
    OFPCR_ROLE_EQUAL = 1
    OFPCR_ROLE_MASTER = 2
    OFPCR_ROLE_SLAVE = 3


# --- errors (spec 1.3.5 section A.4.4) ------------------------------------------


class OFPErrorType(IntEnum):
    """ofp_error_type for OpenFlow 1.1+ (1.4/1.5 additions noted)."""

    OFPET_HELLO_FAILED = 0
    OFPET_BAD_REQUEST = 1
    OFPET_BAD_ACTION = 2
    OFPET_BAD_INSTRUCTION = 3
    OFPET_BAD_MATCH = 4
    OFPET_FLOW_MOD_FAILED = 5
    OFPET_GROUP_MOD_FAILED = 6
    OFPET_PORT_MOD_FAILED = 7
    OFPET_TABLE_MOD_FAILED = 8
    OFPET_QUEUE_OP_FAILED = 9
    OFPET_SWITCH_CONFIG_FAILED = 10
    OFPET_ROLE_REQUEST_FAILED = 11
    OFPET_METER_MOD_FAILED = 12
    OFPET_TABLE_FEATURES_FAILED = 13
    OFPET_BAD_PROPERTY = 14  # 1.4
    OFPET_ASYNC_CONFIG_FAILED = 15  # 1.4
    OFPET_FLOW_MONITOR_FAILED = 16  # 1.4
    OFPET_BUNDLE_FAILED = 17  # 1.4
    OFPET_EXPERIMENTER = 0xFFFF


class OFPErrorType10(IntEnum):
    """ofp_error_type for OpenFlow 1.0 (spec 1.0.0 5.4.4)."""

    OFPET_HELLO_FAILED = 0
    OFPET_BAD_REQUEST = 1
    OFPET_BAD_ACTION = 2
    OFPET_FLOW_MOD_FAILED = 3
    OFPET_PORT_MOD_FAILED = 4
    OFPET_QUEUE_OP_FAILED = 5


class OFPHelloFailedCode(IntEnum):
    OFPHFC_INCOMPATIBLE = 0
    OFPHFC_EPERM = 1


class OFPBadRequestCode(IntEnum):
    """ofp_bad_request_code; codes 0-8 are shared with 1.0 (1.0 has 0-8 only)."""

    OFPBRC_BAD_VERSION = 0
    OFPBRC_BAD_TYPE = 1
    OFPBRC_BAD_MULTIPART = 2  # 1.0: OFPBRC_BAD_STAT
    OFPBRC_BAD_EXPERIMENTER = 3  # 1.0: OFPBRC_BAD_VENDOR
    OFPBRC_BAD_EXP_TYPE = 4  # 1.0: OFPBRC_BAD_SUBTYPE
    OFPBRC_EPERM = 5
    OFPBRC_BAD_LEN = 6
    OFPBRC_BUFFER_EMPTY = 7
    OFPBRC_BUFFER_UNKNOWN = 8
    OFPBRC_BAD_TABLE_ID = 9
    OFPBRC_IS_SLAVE = 10
    OFPBRC_BAD_PORT = 11
    OFPBRC_BAD_PACKET = 12
    OFPBRC_MULTIPART_BUFFER_OVERFLOW = 13
    OFPBRC_MULTIPART_REQUEST_TIMEOUT = 14  # 1.4
    OFPBRC_MULTIPART_REPLY_TIMEOUT = 15  # 1.4
    OFPBRC_MULTIPART_BAD_SCHED = 16  # 1.5
    OFPBRC_PIPELINE_FIELDS_ONLY = 17  # 1.5
    OFPBRC_UNKNOWN = 18  # 1.5


class OFPBadActionCode(IntEnum):
    """ofp_bad_action_code; 1.0 has codes 0-8 with the same numbers."""

    OFPBAC_BAD_TYPE = 0
    OFPBAC_BAD_LEN = 1
    OFPBAC_BAD_EXPERIMENTER = 2
    OFPBAC_BAD_EXP_TYPE = 3
    OFPBAC_BAD_OUT_PORT = 4
    OFPBAC_BAD_ARGUMENT = 5
    OFPBAC_EPERM = 6
    OFPBAC_TOO_MANY = 7
    OFPBAC_BAD_QUEUE = 8
    OFPBAC_BAD_OUT_GROUP = 9
    OFPBAC_MATCH_INCONSISTENT = 10
    OFPBAC_UNSUPPORTED_ORDER = 11
    OFPBAC_BAD_TAG = 12
    OFPBAC_BAD_SET_TYPE = 13
    OFPBAC_BAD_SET_LEN = 14
    OFPBAC_BAD_SET_ARGUMENT = 15
    OFPBAC_BAD_SET_MASK = 16  # 1.4
    OFPBAC_BAD_METER = 17  # 1.5


class OFPBadInstructionCode(IntEnum):
    OFPBIC_UNKNOWN_INST = 0
    OFPBIC_UNSUP_INST = 1
    OFPBIC_BAD_TABLE_ID = 2
    OFPBIC_UNSUP_METADATA = 3
    OFPBIC_UNSUP_METADATA_MASK = 4
    OFPBIC_BAD_EXPERIMENTER = 5
    OFPBIC_BAD_EXP_TYPE = 6
    OFPBIC_BAD_LEN = 7
    OFPBIC_EPERM = 8
    OFPBIC_DUP_INST = 9  # 1.4


class OFPBadMatchCode(IntEnum):
    OFPBMC_BAD_TYPE = 0
    OFPBMC_BAD_LEN = 1
    OFPBMC_BAD_TAG = 2
    OFPBMC_BAD_DL_ADDR_MASK = 3
    OFPBMC_BAD_NW_ADDR_MASK = 4
    OFPBMC_BAD_WILDCARDS = 5
    OFPBMC_BAD_FIELD = 6
    OFPBMC_BAD_VALUE = 7
    OFPBMC_BAD_MASK = 8
    OFPBMC_BAD_PREREQ = 9
    OFPBMC_DUP_FIELD = 10
    OFPBMC_EPERM = 11


class OFPFlowModFailedCode(IntEnum):
    OFPFMFC_UNKNOWN = 0
    OFPFMFC_TABLE_FULL = 1
    OFPFMFC_BAD_TABLE_ID = 2
    OFPFMFC_OVERLAP = 3
    OFPFMFC_EPERM = 4
    OFPFMFC_BAD_TIMEOUT = 5
    OFPFMFC_BAD_COMMAND = 6
    OFPFMFC_BAD_FLAGS = 7
    OFPFMFC_CANT_SYNC = 8  # 1.4
    OFPFMFC_BAD_PRIORITY = 9  # 1.4
    OFPFMFC_IS_SYNC = 10  # 1.4


class OFPFlowModFailedCode10(IntEnum):
    """OpenFlow 1.0 ofp_flow_mod_failed_code (type OFPET_FLOW_MOD_FAILED = 3)."""

    OFPFMFC_ALL_TABLES_FULL = 0
    OFPFMFC_OVERLAP = 1
    OFPFMFC_EPERM = 2
    OFPFMFC_BAD_EMERG_TIMEOUT = 3
    OFPFMFC_BAD_COMMAND = 4
    OFPFMFC_UNSUPPORTED = 5


class OFPGroupModFailedCode(IntEnum):
    OFPGMFC_GROUP_EXISTS = 0
    OFPGMFC_INVALID_GROUP = 1
    OFPGMFC_WEIGHT_UNSUPPORTED = 2
    OFPGMFC_OUT_OF_GROUPS = 3
    OFPGMFC_OUT_OF_BUCKETS = 4
    OFPGMFC_CHAINING_UNSUPPORTED = 5
    OFPGMFC_WATCH_UNSUPPORTED = 6
    OFPGMFC_LOOP = 7
    OFPGMFC_UNKNOWN_GROUP = 8
    OFPGMFC_CHAINED_GROUP = 9
    OFPGMFC_BAD_TYPE = 10
    OFPGMFC_BAD_COMMAND = 11
    OFPGMFC_BAD_BUCKET = 12
    OFPGMFC_BAD_WATCH = 13
    OFPGMFC_EPERM = 14
    OFPGMFC_UNKNOWN_BUCKET = 15  # 1.5
    OFPGMFC_BUCKET_EXISTS = 16  # 1.5


class OFPPortModFailedCode(IntEnum):
    """Same numbers in 1.0 (type 4) for BAD_PORT/BAD_HW_ADDR."""

    OFPPMFC_BAD_PORT = 0
    OFPPMFC_BAD_HW_ADDR = 1
    OFPPMFC_BAD_CONFIG = 2
    OFPPMFC_BAD_ADVERTISE = 3
    OFPPMFC_EPERM = 4


class OFPTableModFailedCode(IntEnum):
    OFPTMFC_BAD_TABLE = 0
    OFPTMFC_BAD_CONFIG = 1
    OFPTMFC_EPERM = 2


class OFPQueueOpFailedCode(IntEnum):
    OFPQOFC_BAD_PORT = 0
    OFPQOFC_BAD_QUEUE = 1
    OFPQOFC_EPERM = 2


class OFPSwitchConfigFailedCode(IntEnum):
    OFPSCFC_BAD_FLAGS = 0
    OFPSCFC_BAD_LEN = 1
    OFPSCFC_EPERM = 2


class OFPRoleRequestFailedCode(IntEnum):
    OFPRRFC_STALE = 0
    OFPRRFC_UNSUP = 1
    OFPRRFC_BAD_ROLE = 2
    OFPRRFC_ID_UNSUP = 3  # 1.5
    OFPRRFC_ID_IN_USE = 4  # 1.5


class OFPMeterModFailedCode(IntEnum):
    OFPMMFC_UNKNOWN = 0
    OFPMMFC_METER_EXISTS = 1
    OFPMMFC_INVALID_METER = 2
    OFPMMFC_UNKNOWN_METER = 3
    OFPMMFC_BAD_COMMAND = 4
    OFPMMFC_BAD_FLAGS = 5
    OFPMMFC_BAD_RATE = 6
    OFPMMFC_BAD_BURST = 7
    OFPMMFC_BAD_BAND = 8
    OFPMMFC_BAD_BAND_VALUE = 9
    OFPMMFC_OUT_OF_METERS = 10
    OFPMMFC_OUT_OF_BANDS = 11


class OFPTableFeaturesFailedCode(IntEnum):
    OFPTFFC_BAD_TABLE = 0
    OFPTFFC_BAD_METADATA = 1
    OFPTFFC_BAD_TYPE = 2  # 1.3/1.4 only
    OFPTFFC_BAD_LEN = 3  # 1.3/1.4 only
    OFPTFFC_BAD_ARGUMENT = 4  # 1.3/1.4 only
    OFPTFFC_EPERM = 5
    OFPTFFC_BAD_CAPA = 6  # 1.5
    OFPTFFC_BAD_MAX_ENT = 7  # 1.5
    OFPTFFC_BAD_FEATURES = 8  # 1.5
    OFPTFFC_BAD_COMMAND = 9  # 1.5
    OFPTFFC_TOO_MANY = 10  # 1.5


class OFPBadPropertyCode(IntEnum):
    """ofp_bad_property_code (spec 1.4.1 section 7.5.4.14)."""

    OFPBPC_BAD_TYPE = 0
    OFPBPC_BAD_LEN = 1
    OFPBPC_BAD_VALUE = 2
    OFPBPC_TOO_MANY = 3
    OFPBPC_DUP_TYPE = 4
    OFPBPC_BAD_EXPERIMENTER = 5
    OFPBPC_BAD_EXP_TYPE = 6
    OFPBPC_BAD_EXP_VALUE = 7
    OFPBPC_EPERM = 8
