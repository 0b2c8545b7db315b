"""Translation: one packet's trip through the OpenFlow pipeline -> datapath actions + mask.

Where this sits: when the datapath misses, ofproto's upcall handler calls :func:`xlate`
with the packet's :class:`~appliance.dpif.odp.FlowKey`; it installs the result as a
megaflow (``dpif.flow_put(key & mask, mask, actions)``) and executes the actions on the
packet.  The revalidator re-runs :func:`xlate` (with ``allow_side_effects=False``) for
installed megaflows when tables, groups, ports or the MAC table change, and replaces or
deletes flows whose actions or masks changed.  ``ofproto/trace`` prints
:attr:`XlateResult.trace`.  Packet-out runs the same code with ``actions=`` instead of a
table-0 lookup.  Inputs come from: the flow tables (``ofproto.flowtable.Pipeline``,
through the :class:`PipelineLike` protocol, which :mod:`ofproto.classifier` lookups
implement with un-wildcarding), the group table (:class:`GroupTableLike`), the port
map (:class:`PortMap`), the MAC learning table (:mod:`ofproto.mac_learning`);
:mod:`ofproto.flow` converts keys to OpenFlow fields and wildcards to masks.

What it does, and where the rules come from:

* Pipeline (OpenFlow 1.3.5 section 5.1, 5.9, 5.10): lookup in table 0; a rule's
  instructions run in the spec order (meter, apply-actions, clear-actions,
  write-actions, write-metadata, goto-table) whatever order they were given in;
  apply-actions act on the packet now; write-actions fill the action set, which runs
  once, at the end of the pipeline, in the spec's order (OVS
  ``ofpacts_execute_action_set()``: pop VLAN, push VLAN, dec TTL, the set-fields in
  order, then group, else output; nothing runs unless it has an output or a group).
  Table miss (no rule): drop (OF1.3), or packet-in with reason ``OFPR_NO_MATCH`` when
  the caller passes ``miss_to_controller`` (OF1.0).  goto_table must go forward.
* Output (OVS ``xlate_output_action()``): to a port (not the input port, which is
  skipped unless named as ``IN_PORT``); ``IN_PORT``; ``TABLE`` (packet-out only:
  resubmits to table 0); ``NORMAL`` (learning switch, below); ``FLOOD`` (all ports but
  the input and no-flood ones), ``ALL`` (all but the input); ``CONTROLLER`` (a
  datapath ``userspace`` action whose cookie is a :class:`ControllerCookie`);
  ``LOCAL``.  Before each output the pending header changes are committed as
  ``set(...)`` (masked) and ``push_vlan``/``pop_vlan`` datapath actions (OVS
  ``commit_odp_actions()``: Ethernet, VLAN, L3, L4, skb_mark).
* Groups (OF1.3.5 5.6.1): ALL runs every bucket, INDIRECT its bucket, SELECT one bucket
  chosen by a hash of the flow (OVS's default selection method: symmetric L4 hash
  over MACs, VID, EtherType, IP addresses, IP protocol and TCP/SCTP ports, weighted
  like ``group_best_live_bucket()``), FF the first live bucket (watch port / watch
  group).  A bucket is an action set applied to a copy of the packet: if its actions
  change headers they are wrapped in ``clone(...)``, so the actions after the group
  see the packet as it was (OVS restores the flow after each bucket).
* Nicira resubmit (``resubmit(port,table)``) re-looks up the packet as it is now, with
  the in_port overridden for the lookup, and returns; translation depth is limited
  to 64 (OVS ``MAX_DEPTH``) and the number of resubmits to 4096 (``MAX_RESUBMITS``).
  A resubmit that misses does nothing.  reg_load/reg_move/write_metadata act on
  translation state (registers, metadata) or, with a packet field as destination, on
  the packet as set_field does.
* NORMAL (OVS ``xlate_normal()``): input VLAN checks and translation per port VLAN
  mode (access, trunk, native-tagged, native-untagged; ``input_vid_is_valid()``,
  ``xvlan_input_translate()``), reserved-multicast drop unless ``forward_bpdu``,
  source learning, destination lookup; forwarding to the learned port or flooding to
  every other port that carries the VLAN and is floodable (split horizon: never back
  to the input port), tagging per output port (``xvlan_output_translate()``).

The megaflow mask (OVS ``xlate_wc_init()``/``xlate_wc_finish()`` and the
``wc`` argument threaded through xlate): start from ``in_port``, ``recirc_id``,
``eth_type`` (and ``nw_frag`` for IP) exact; OR in every bit any classifier lookup
examined (each lookup gets the shared wildcard dict), plus the bits actions read:
NORMAL reads ``eth_src``, ``eth_dst`` and VID+CFI; a SELECT group's hash reads its
fields; ``reg_move`` and ``output_reg`` read their source; prerequisite checks of
set_field read ``nw_proto``/CFI; any VLAN change pins the whole TCI (OVS does the same
when it pops).  Field writes do *not* read the field: set actions carry exactly the
written bits (``set(ipv4(dst=10.0.0.1))`` with mask = the written bits), so a megaflow
for "set ip_dst, output" does not match on ip_dst at all (OVS un-wildcards written
fields because it only emits sets that change something).  Finally :func:`ofproto.flow.
wc_to_mask` maps the OpenFlow bits to FlowKey bits.  Correctness property (tested with
hypothesis): every key that agrees with the translated key under the mask gets the
same datapath actions.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from appliance.dpif import odp
from appliance.dpif.odp import (
    ETH_TYPE_IP,
    ETH_TYPE_IPV6,
    ETH_TYPE_VLAN,
    FRAG_LATER,
    IPPROTO_SCTP,
    IPPROTO_TCP,
    IPPROTO_UDP,
    VLAN_CFI,
    FlowKey,
)
from ofproto import flow as oflow
from ofproto.mac_learning import MacLearningTable
from ofproto.ofp import actions as ofa
from ofproto.ofp import oxm
from ofproto.ofp.consts import OFPGroupType, OFPPacketInReason, OFPPort

__all__ = [
    "PipelineLike",
    "RuleLike",
    "GroupTableLike",
    "GroupLike",
    "BucketLike",
    "PortConfig",
    "PortMap",
    "ControllerCookie",
    "MacLearnUpdate",
    "XlateIn",
    "XlateResult",
    "xlate",
    "encode_controller_cookie",
    "decode_controller_cookie",
    "flow_hash_symmetric_l4",
    "format_of_action",
    "MAX_DEPTH",
    "MAX_RESUBMITS",
    "VLAN_ACCESS",
    "VLAN_TRUNK",
    "VLAN_NATIVE_TAGGED",
    "VLAN_NATIVE_UNTAGGED",
]

MAX_DEPTH = 64
MAX_RESUBMITS = MAX_DEPTH * MAX_DEPTH
MAX_LIVENESS_RECURSION = 32

OFPP_IN_PORT = OFPPort.OFPP_IN_PORT.value
OFPP_TABLE = OFPPort.OFPP_TABLE.value
OFPP_NORMAL = OFPPort.OFPP_NORMAL.value
OFPP_FLOOD = OFPPort.OFPP_FLOOD.value
OFPP_ALL = OFPPort.OFPP_ALL.value
OFPP_CONTROLLER = OFPPort.OFPP_CONTROLLER.value
OFPP_LOCAL = OFPPort.OFPP_LOCAL.value
OFPP_ANY = OFPPort.OFPP_ANY.value
OFPG_ANY = 0xFFFFFFFF
OFPCML_NO_BUFFER = 0xFFFF
NO_COOKIE = 0xFFFFFFFFFFFFFFFF  # OF1.3.5 A.4.1: packet-in not caused by a flow entry

VLAN_ACCESS = "access"
VLAN_TRUNK = "trunk"
VLAN_NATIVE_TAGGED = "native-tagged"
VLAN_NATIVE_UNTAGGED = "native-untagged"
_VLAN_MODES = (VLAN_ACCESS, VLAN_TRUNK, VLAN_NATIVE_TAGGED, VLAN_NATIVE_UNTAGGED)


# --- what xlate needs from the rest of ofproto ---------------------------------------------

@runtime_checkable
class RuleLike(Protocol):
    """A flow entry as the flow table returns it.  ``instructions`` is a list of
    :mod:`ofproto.ofp.actions` ``Instruction*`` objects (a plain list of ``Action*``
    objects is accepted as OF1.0-style apply-actions).  An optional ``match`` attribute
    (a mapping) lets xlate recognise a table-miss flow entry (priority 0, empty match)
    for the packet-in reason and is printed in traces."""

    instructions: Sequence[Any]
    table_id: int
    priority: int
    cookie: int


class PipelineLike(Protocol):
    """The flow tables (``ofproto.flowtable.Pipeline``).  ``lookup`` must OR into
    ``wc`` (``field -> mask``, oxm canonical names) every bit it examined, as
    :meth:`ofproto.classifier.Classifier.lookup` does."""

    def lookup(self, table_id: int, flow: dict[str, int],
               wc: dict[str, int] | None) -> RuleLike | None: ...


class BucketLike(Protocol):
    actions: Sequence[Any]
    weight: int
    watch_port: int
    watch_group: int


class GroupLike(Protocol):
    """A group: ``type`` (OFPGT_*; ``group_type`` is accepted too) and buckets."""

    type: int
    buckets: Sequence[BucketLike]


class GroupTableLike(Protocol):
    """The group table (``ofproto.groups.GroupTable``): ``get(group_id)``; a plain
    ``dict`` works too."""

    def get(self, group_id: int) -> GroupLike | None: ...


# --- ports ---------------------------------------------------------------------------------

@dataclass
class PortConfig:
    """One bridge port as xlate sees it.

    ``vlan_mode`` None means OVS's default: access if ``tag`` is set, else trunk
    (vswitchd/bridge.c ``port_configure()``).  ``trunks`` empty means all VLANs.  In
    native modes the native VLAN (``tag``) is always trunked and VLAN 0 never is
    (ofproto-dpif.c ``bundle_set()``).  ``flood`` False is OpenFlow's OFPPC_NO_FLOOD
    (and OVS's "no-flood" for NORMAL), ``no_fwd`` OFPPC_NO_FWD, ``no_recv``
    OFPPC_NO_RECV (received packets are dropped before table 0); ``live`` is the
    liveness fast-failover groups watch (link up and not OFPPC_PORT_DOWN).  A patch
    port has no datapath port (``odp_port`` -1) but a ``patch`` link to its peer.
    """

    ofport: int
    odp_port: int
    name: str = ""
    tag: int | None = None
    trunks: frozenset[int] = frozenset()
    vlan_mode: str | None = None
    flood: bool = True
    no_fwd: bool = False
    no_recv: bool = False
    live: bool = True
    patch: PatchLink | None = None

    def __post_init__(self) -> None:
        self.trunks = frozenset(self.trunks)
        if self.vlan_mode is not None and self.vlan_mode not in _VLAN_MODES:
            raise ValueError(f"port {self.name or self.ofport}: unknown vlan_mode "
                             f"{self.vlan_mode!r}")
        if self.mode != VLAN_TRUNK and self.tag is None:
            raise ValueError(f"port {self.name or self.ofport}: vlan_mode {self.mode} "
                             f"needs a tag")

    @property
    def mode(self) -> str:
        if self.vlan_mode is not None:
            return self.vlan_mode
        return VLAN_ACCESS if self.tag is not None else VLAN_TRUNK

    @property
    def vlan(self) -> int:
        """The port's own VLAN (OVS ``bundle->vlan``): -1 for trunks."""
        return -1 if self.mode == VLAN_TRUNK else int(self.tag or 0)

    def trunks_vlan(self, vid: int) -> bool:
        """OVS ``xbundle_trunks_vlan()``."""
        mode = self.mode
        if mode == VLAN_ACCESS:
            return False
        trunks = self.trunks
        if mode in (VLAN_NATIVE_TAGGED, VLAN_NATIVE_UNTAGGED) and self.vlan != 0:
            if vid == self.vlan:
                return True
            if vid == 0:
                return False
        return not trunks or vid in trunks

    def includes_vlan(self, vid: int) -> bool:
        """OVS ``xbundle_includes_vlan()``."""
        if self.mode == VLAN_ACCESS:
            return vid == self.vlan
        return self.trunks_vlan(vid)


class PatchLink(Protocol):
    """Where a patch port leads (OVS's patch interfaces, options:peer)."""

    def peer(self, xin: XlateIn) -> tuple[XlateIn, int] | None:
        """The translation input of the peer bridge for the packet of ``xin`` (same key
        and packet, same side-effect and trace settings) and the peer port's OpenFlow
        number; None while the peer does not exist."""


@dataclass(frozen=True)
class MirrorConfig:
    """A port mirror (vswitch.xml, Mirror table; OVS ofproto-dpif-mirror.c): packets
    received on ``src`` ports, sent to ``dst`` ports, or all of them (``select_all``),
    limited to VLANs ``vlans`` unless empty, are copied to ``out_port`` as they were
    received.  A copy never goes back out of the port it came in on, nor twice out of
    a port the pipeline already sends the packet to."""

    name: str
    out_port: int
    src: frozenset[int] = frozenset()
    dst: frozenset[int] = frozenset()
    select_all: bool = False
    vlans: frozenset[int] = frozenset()


class PortMap:
    """The bridge's ports: OpenFlow number <-> datapath number, names, VLAN config.

    The bridge's local port has OpenFlow number ``OFPP_LOCAL`` (0xfffffffe); patch
    ports have no datapath number."""

    def __init__(self, ports: Iterable[PortConfig] = ()) -> None:
        self._by_of: dict[int, PortConfig] = {}
        self._by_odp: dict[int, PortConfig] = {}
        for p in ports:
            self.add(p)

    def add(self, p: PortConfig) -> None:
        if p.ofport in self._by_of or (p.patch is None and p.odp_port in self._by_odp):
            raise ValueError(f"duplicate port {p.ofport}/{p.odp_port}")
        self._by_of[p.ofport] = p
        if p.patch is None:
            self._by_odp[p.odp_port] = p

    def remove(self, ofport: int) -> PortConfig:
        p = self._by_of.pop(ofport)
        if p.patch is None:
            del self._by_odp[p.odp_port]
        return p

    def get(self, ofport: int) -> PortConfig | None:
        return self._by_of.get(ofport)

    def by_odp(self, odp_port: int) -> PortConfig | None:
        return self._by_odp.get(odp_port)

    def ofport_of(self, odp_port: int) -> int | None:
        p = self._by_odp.get(odp_port)
        return None if p is None else p.ofport

    def odp_of(self, ofport: int) -> int | None:
        p = self._by_of.get(ofport)
        return None if p is None else p.odp_port

    def name_of(self, ofport: Hashable) -> str:
        p = self._by_of.get(ofport) if isinstance(ofport, int) else None
        if p is not None and p.name:
            return p.name
        if ofport == OFPP_LOCAL:
            return "LOCAL"
        return str(ofport)

    def __iter__(self) -> Iterator[PortConfig]:
        """Ports in OpenFlow number order (the flood order)."""
        return iter(sorted(self._by_of.values(), key=lambda p: p.ofport))

    def __len__(self) -> int:
        return len(self._by_of)


# --- the controller cookie -------------------------------------------------------------------

USER_ACTION_COOKIE_CONTROLLER = 1
_CC_HDR = struct.Struct("!BBBBHHQQHH")  # 28 bytes


@dataclass(frozen=True)
class ControllerCookie:
    """What a ``userspace`` action's cookie tells the upcall handler about a packet-in.

    Byte format (big-endian, 28 bytes + 4 per nonzero register; at most 92 bytes, well
    under the datapath's 256-byte userdata limit)::

        0  u8   type = 1 (USER_ACTION_COOKIE_CONTROLLER)
        1  u8   reason (OFPR_NO_MATCH=0, OFPR_ACTION=1, OFPR_INVALID_TTL=2,
                OFPR_ACTION_SET=3, OFPR_GROUP=4, OFPR_PACKET_OUT=5: OVS's internal
                reasons; the connection manager maps 3..5 to OFPR_ACTION for OF < 1.4)
        2  u8   table_id of the rule (or of the table that missed)
        3  u8   flags (0; reserved)
        4  u16  max_len (bytes of packet to send; 0xffff = OFPCML_NO_BUFFER, whole)
        6  u16  controller_id (0 = every controller)
        8  u64  cookie of the rule (0xffffffffffffffff if no rule: table miss)
       16  u64  metadata at the time of the action (OF1.3 packet-in match)
       24  u16  register bitmap: bit i set = reg<i> follows
       26  u16  0
       28  u32 * popcount(bitmap): the nonzero registers, lowest index first

    Everything in it is a function of the megaflow's masked key, so the cookie is the
    same for every packet of the megaflow.  :func:`decode_controller_cookie` is the
    inverse of :meth:`encode`.
    """

    reason: int
    table_id: int
    cookie: int = NO_COOKIE
    max_len: int = OFPCML_NO_BUFFER
    controller_id: int = 0
    metadata: int = 0
    regs: tuple[int, ...] = (0,) * 16
    flags: int = 0

    def encode(self) -> bytes:
        regs = tuple(self.regs) + (0,) * (16 - len(self.regs))
        bitmap = 0
        tail = b""
        for i, r in enumerate(regs):
            if r:
                bitmap |= 1 << i
                tail += struct.pack("!I", r)
        return _CC_HDR.pack(USER_ACTION_COOKIE_CONTROLLER, self.reason, self.table_id,
                            self.flags, self.max_len, self.controller_id, self.cookie,
                            self.metadata, bitmap, 0) + tail


def encode_controller_cookie(c: ControllerCookie) -> bytes:
    return c.encode()


def decode_controller_cookie(data: bytes) -> ControllerCookie:
    """Inverse of :meth:`ControllerCookie.encode`; ValueError if ``data`` is not a
    controller cookie (wrong type, short, length disagreeing with the bitmap)."""
    data = bytes(data)
    if len(data) < _CC_HDR.size:
        raise ValueError(f"controller cookie: {len(data)} bytes, need {_CC_HDR.size}")
    (typ, reason, table_id, flags, max_len, controller_id, cookie, metadata, bitmap,
     pad) = _CC_HDR.unpack_from(data)
    if typ != USER_ACTION_COOKIE_CONTROLLER:
        raise ValueError(f"controller cookie: type {typ}, expected "
                         f"{USER_ACTION_COOKIE_CONTROLLER}")
    n = bin(bitmap).count("1")
    if len(data) != _CC_HDR.size + 4 * n or pad:
        raise ValueError(f"controller cookie: {len(data)} bytes for {n} registers")
    regs = [0] * 16
    off = _CC_HDR.size
    for i in range(16):
        if bitmap >> i & 1:
            (regs[i],) = struct.unpack_from("!I", data, off)
            off += 4
    return ControllerCookie(reason, table_id, cookie, max_len, controller_id, metadata,
                            tuple(regs), flags)


# --- inputs and results -------------------------------------------------------------------------

@dataclass
class XlateIn:
    """Everything one translation needs.

    ``actions`` (packet-out) replaces the table-0 lookup by these OpenFlow actions.
    ``allow_side_effects`` False (revalidation, tracing without learning) keeps NORMAL
    from updating the MAC table.  Fail mode: with ``fail_mode="standalone"`` and
    controllers configured but none connected (for long enough: ``fail_open_due``),
    the bridge is in *fail-open* and acts as a learning switch (OVS's fail-open flow,
    priority 0xf0f0f0, overrides every OpenFlow rule: ofproto/fail-open.c).
    """

    key: FlowKey
    pipeline: PipelineLike | None
    ports: PortMap
    groups: GroupTableLike | Mapping[int, GroupLike] | None = None
    mac_learning: MacLearningTable | None = None
    packet: bytes | None = None
    actions: Sequence[Any] | None = None
    miss_to_controller: bool = False
    fail_mode: str = "secure"
    has_controllers: bool = False
    controller_connected: bool = False
    #: Whether the controllers have been unreachable long enough for fail-open
    #: (:meth:`ofproto.connmgr.ConnectionManager.fail_open_due`).
    fail_open_due: bool = True
    allow_side_effects: bool = True
    forward_bpdu: bool = False
    bridge_name: str = "br0"
    upcall_pid: int = 0
    clock: Callable[[], float] | None = None
    #: The OpenFlow in_port when the datapath has no port for it: a packet-out's
    #: OFPP_CONTROLLER, OFPP_LOCAL or OFPP_NONE (spec 1.3.5 A.3.7).
    in_ofport: int | None = None
    #: Build :attr:`XlateResult.trace` (ofproto/trace); upcalls and revalidation skip it.
    want_trace: bool = True
    #: False for a packet-out: it was not received, so OFPPC_NO_RECV does not apply
    #: (as in OVS's ``xlate_actions()``).
    received: bool = True
    #: The bridge's port mirrors (applied to received packets).
    mirrors: Sequence[MirrorConfig] = ()

    @property
    def fail_open(self) -> bool:
        return (self.fail_mode == "standalone" and self.has_controllers
                and not self.controller_connected and self.fail_open_due)


@dataclass(frozen=True)
class MacLearnUpdate:
    mac: bytes
    vlan: int
    port: int
    changed: bool  # new entry or moved (revalidation needed)


@dataclass
class XlateResult:
    """What a translation produced.

    ``actions``: datapath actions (empty = drop).  ``mask``: the megaflow mask.
    ``wc``/``key_wc``: the OpenFlow-space and key-space reads behind the mask.
    ``rules``: every rule hit, in order (credit each with the packet's stats).
    ``groups``: (group_id, bucket index or None for all) used.  ``packet_ins``: one
    :class:`ControllerCookie` per controller output, in action order.
    ``mac_updates``: learning done (empty without side effects).  ``mac_tags``: MAC
    table tags the result depends on.  ``trace``: human-readable steps for
    ``ofproto/trace``.  ``slow``: reasons the datapath cannot run the translation
    exactly (the flow should be slow-pathed).  ``error``: translation aborted (e.g.
    recursion too deep); actions are then empty (drop).
    """

    actions: list[odp.Action]
    mask: FlowKey
    wc: dict[str, int]
    key_wc: dict[str, int]
    rules: list[Any]
    groups: list[tuple[int, int | None]]
    packet_ins: list[ControllerCookie]
    mac_updates: list[MacLearnUpdate]
    mac_tags: set[int]
    trace: list[str]
    slow: set[str]
    error: str | None = None

    def megaflow(self, key: FlowKey) -> odp.Megaflow:
        return odp.Megaflow(key & self.mask, self.mask, tuple(self.actions))


# --- helpers -------------------------------------------------------------------------------------

def _crc_hash(data: bytes, basis: int) -> int:
    return oflow.mix32(zlib.crc32(data, basis & 0xFFFFFFFF))


def flow_hash_symmetric_l4(k: Mapping[str, int], basis: int = 0) -> int:
    """OVS ``flow_hash_symmetric_l4()`` over key ints (same fields, our own hash
    function): XOR of the MACs, the VID, the EtherType, for IPv4/IPv6 the XOR of the
    addresses and the protocol, for TCP/SCTP the XOR of the ports.  Symmetric: both
    directions of a connection hash alike."""
    tci = k["vlan_tci"]
    vid = tci & 0xFFF if tci & VLAN_CFI else 0
    et = k["eth_type"]
    addr = proto = port = 0
    if et == ETH_TYPE_IP:
        addr = k["ipv4_src"] ^ k["ipv4_dst"]
    elif et == ETH_TYPE_IPV6:
        addr = k["ipv6_src"] ^ k["ipv6_dst"]
    if et in (ETH_TYPE_IP, ETH_TYPE_IPV6):
        proto = k["nw_proto"]
        if proto in (IPPROTO_TCP, IPPROTO_SCTP):
            port = k["tp_src"] ^ k["tp_dst"]
    data = (addr.to_bytes(16, "big") + struct.pack("!HHH", et, vid, port)
            + (k["eth_src"] ^ k["eth_dst"]).to_bytes(6, "big") + bytes([proto]))
    return _crc_hash(data, basis)


def _hash_int(x: int, basis: int) -> int:
    return _crc_hash(struct.pack("!I", x & 0xFFFFFFFF), basis)


def _fmt_port(p: int) -> str:
    names = {OFPP_IN_PORT: "IN_PORT", OFPP_TABLE: "TABLE", OFPP_NORMAL: "NORMAL",
             OFPP_FLOOD: "FLOOD", OFPP_ALL: "ALL", OFPP_CONTROLLER: "CONTROLLER",
             OFPP_LOCAL: "LOCAL", OFPP_ANY: "ANY"}
    return names.get(p, str(p))


def _fmt_val(f: str, v: int) -> str:
    try:
        return oxm.format_value(f, v)
    except (KeyError, ValueError):
        return hex(v)


def format_of_action(a: Any) -> str:
    """``ovs-ofctl``-like text for one OpenFlow action or instruction (for traces)."""
    if isinstance(a, (ofa.ActionOutput, ofa.ActionOutput10)):
        if a.port == OFPP_CONTROLLER:
            return f"CONTROLLER:{a.max_len}"
        return f"output:{_fmt_port(a.port)}"
    if isinstance(a, ofa.ActionSetField):
        m = "" if a.mask is None else f"/{a.mask:#x}"
        return f"set_field:{_fmt_val(a.field, a.value)}{m}->{a.field}"
    if isinstance(a, ofa.ActionPushVlan):
        return f"push_vlan:{a.ethertype:#06x}"
    if isinstance(a, (ofa.ActionPopVlan, ofa.ActionStripVlan10)):
        return "pop_vlan"
    if isinstance(a, ofa.ActionGroup):
        return f"group:{a.group_id}"
    if isinstance(a, ofa.NXActionResubmitTable):
        port = "" if a.in_port == OFPP_IN_PORT else _fmt_port(a.in_port)
        table = "" if a.table_id == 255 else str(a.table_id)
        return f"resubmit({port},{table})"
    if isinstance(a, ofa.NXActionResubmit):
        return f"resubmit:{_fmt_port(a.in_port)}"
    if isinstance(a, ofa.NXActionRegLoad):
        return f"load:{a.value:#x}->{a.dst}[{a.ofs}..{a.ofs + a.n_bits - 1}]"
    if isinstance(a, ofa.NXActionRegMove):
        return (f"move:{a.src}[{a.src_ofs}..{a.src_ofs + a.n_bits - 1}]->"
                f"{a.dst}[{a.dst_ofs}..{a.dst_ofs + a.n_bits - 1}]")
    if isinstance(a, ofa.InstructionGotoTable):
        return f"goto_table:{a.table_id}"
    if isinstance(a, ofa.InstructionWriteMetadata):
        return f"write_metadata:{a.metadata:#x}/{a.metadata_mask:#x}"
    if isinstance(a, ofa.InstructionClearActions):
        return "clear_actions"
    if isinstance(a, ofa.InstructionWriteActions):
        return f"write_actions({','.join(format_of_action(x) for x in a.actions)})"
    if isinstance(a, ofa.InstructionApplyActions):
        return ",".join(format_of_action(x) for x in a.actions) or "drop"
    if isinstance(a, (ofa.ActionDecNwTtl, ofa.NXActionDecTtl)):
        return "dec_ttl"
    if isinstance(a, ofa.ActionSetNwTtl):
        return f"set_nw_ttl:{a.nw_ttl}"
    return type(a).__name__


def _instructions_text(instructions: Sequence[Any]) -> str:
    return ",".join(format_of_action(i) for i in instructions) or "drop"


def _match_text(rule: Any) -> str:
    """``, field=value[/mask],...`` of the rule's optional ``match`` (for traces)."""
    match = getattr(rule, "match", None)
    if not match:
        return ""
    try:
        return ", " + ",".join(
            f"{f}={_fmt_val(f, vm[0] if isinstance(vm, tuple) else vm)}"
            + (f"/{vm[1]:#x}" if isinstance(vm, tuple) and vm[1] not in (None, -1)
               else "")
            for f, vm in match.items())
    except (TypeError, AttributeError, IndexError):
        return f", {match!r}"


# Spec order of instructions (OF1.3.5 5.9).
_INSTR_ORDER: dict[type, int] = {
    ofa.InstructionMeter: 0, ofa.InstructionApplyActions: 1,
    ofa.InstructionClearActions: 2, ofa.InstructionWriteActions: 3,
    ofa.InstructionWriteMetadata: 4, ofa.InstructionGotoTable: 5,
}

class _Abort(Exception):
    pass


@dataclass
class _State:
    """The mutable packet/pipeline state that group buckets roll back."""

    cur: dict[str, int]
    known: dict[str, int]
    base: dict[str, int]
    base_known: dict[str, int]
    pipe: dict[str, int]
    in_port: int
    vlan_tpid: int

    def copy(self) -> _State:
        return _State(dict(self.cur), dict(self.known), dict(self.base),
                      dict(self.base_known), dict(self.pipe), self.in_port, self.vlan_tpid)


class _Xlator:
    def __init__(self, xin: XlateIn) -> None:
        self.xin = xin
        self.ports = xin.ports
        self.orig = xin.key.as_ints()
        #: The receiving port's config (None for an unknown or packet-out-only port).
        self.in_port_cfg = xin.ports.by_odp(self.orig["in_port"])
        in_of = xin.in_ofport if xin.in_ofport is not None \
            else None if self.in_port_cfg is None else self.in_port_cfg.ofport
        self.in_port_known = in_of is not None
        zero = dict.fromkeys(self.orig, 0)
        self.st = _State(dict(self.orig), dict(zero), dict(self.orig), dict(zero), {},
                         oflow.OFPP_NONE if in_of is None else in_of, ETH_TYPE_VLAN)
        self.wc: dict[str, int] = {}
        self.key_wc: dict[str, int] = {}
        self.out: list[odp.Action] = []
        self.rules: list[Any] = []
        self.groups: list[tuple[int, int | None]] = []
        self.packet_ins: list[ControllerCookie] = []
        self.mac_updates: list[MacLearnUpdate] = []
        self.mac_tags: set[int] = set()
        self.trace: list[str] = []
        self.slow: set[str] = set()
        self.error: str | None = None
        self.depth = 0
        self.resubmits = 0
        self.table_id = 0
        self.rule: Any = None
        self.exit = False
        self.action_set_slots: dict[str, Any] = {}
        self.action_set_sets: list[Any] = []
        self.in_action_set = False
        self.in_group = False
        self._flow_cache: dict[str, int] | None = None
        #: OpenFlow ports the packet went out of (what dst mirrors select on).
        self.outputs: list[int] = []

    # --- small utilities ------------------------------------------------------------

    def t(self, text: str) -> None:
        if self.xin.want_trace:
            self.trace.append("    " * self.depth + text)

    def read(self, name: str, bits: int) -> None:
        """Un-wildcard OpenFlow bits ``bits`` of ``name`` (the translation read them)."""
        self.wc[name] = self.wc.get(name, 0) | bits

    def of_flow(self) -> dict[str, int]:
        if self._flow_cache is None:
            self._flow_cache = oflow.flow_from_ints(self.st.cur, self.st.in_port,
                                                    self.st.pipe)
        return self._flow_cache

    def dirty(self) -> None:
        self._flow_cache = None

    # --- pipeline ---------------------------------------------------------------------

    def run(self, table0: tuple[Any] | None = None) -> None:
        """Translates the packet.  ``table0``: the answer (a 1-tuple: rule or None) of
        the table-0 lookup the caller already made for it, with this translator's
        wildcards and flow (see :func:`xlate`)."""
        xin = self.xin
        if xin.want_trace:
            self.trace.append(
                f"Flow: {oflow.describe(self.of_flow(), oflow.PACKET_FIELDS)}")
            self.trace.append("")
            self.trace.append(f'bridge("{xin.bridge_name}")')
            self.trace.append("-" * (len(xin.bridge_name) + 10))
        if not self.in_port_known:
            self.t(f"no OpenFlow port for datapath port {self.orig['in_port']}, dropping")
            return
        if xin.received and self.in_port_no_recv():
            return
        if xin.actions is not None:
            self.t("packet-out actions: " + ",".join(format_of_action(a)
                                                      for a in xin.actions))
            self.do_actions(list(xin.actions))
        elif xin.fail_open:
            self.t("fail-open: no controller connected, acting as a normal switch")
            self.normal()
        elif xin.pipeline is None:
            self.t("no flow tables, dropping")
        else:
            self.table(0, None, honor_miss=True, looked_up=table0)
        self.run_action_set()
        if xin.mirrors and xin.received:
            self.mirror()

    def mirror(self) -> None:
        """Copies for the mirrors that select this packet, as it was received."""
        in_port = self.in_port_cfg.ofport if self.in_port_cfg is not None else None
        tci = self.orig["vlan_tci"]
        vid = tci & 0xFFF if tci & VLAN_CFI else 0
        for mr in self.xin.mirrors:
            if not (mr.select_all or in_port in mr.src
                    or any(p in mr.dst for p in self.outputs)):
                continue
            if mr.vlans:
                self.read("vlan_tci", 0x0FFF | VLAN_CFI)
                if vid not in mr.vlans:
                    continue
            if mr.out_port == in_port or mr.out_port in self.outputs:
                continue
            self.t(f"mirror {mr.name}: copy to port {self.ports.name_of(mr.out_port)}")
            self.st.cur = dict(self.orig)
            self.st.pipe = {}
            self.dirty()
            self.compose_output(mr.out_port, allow_in_port=False)

    def in_port_no_recv(self) -> bool:
        p = self.in_port_cfg
        if p is None or not p.no_recv:
            return False
        self.t(f"port {p.name or p.ofport} has OFPPC_NO_RECV set, dropping")
        return True

    def table(self, table_id: int, in_port: int | None, honor_miss: bool,
              looked_up: tuple[Any] | None = None) -> None:
        """Look ``table_id`` up (unless ``looked_up`` holds the answer already) and run
        the rule (OVS ``xlate_table_action()``)."""
        if self.depth >= MAX_DEPTH:
            raise _Abort(f"over max translation depth {MAX_DEPTH}")
        if self.resubmits >= MAX_RESUBMITS:
            raise _Abort(f"over {MAX_RESUBMITS} resubmit actions")
        if looked_up is not None:
            (rule,) = looked_up
        else:
            flow = self.of_flow()
            if in_port is not None and in_port != flow["in_port"]:
                flow = dict(flow)
                flow["in_port"] = in_port
            assert self.xin.pipeline is not None
            rule = self.xin.pipeline.lookup(table_id, flow, self.wc)
        if rule is None:
            if honor_miss and self.xin.miss_to_controller:
                self.t(f"{table_id}. No match: sending to controller (table-miss)")
                self.controller(OFPPacketInReason.OFPR_NO_MATCH, OFPCML_NO_BUFFER,
                                table_id=table_id, cookie=NO_COOKIE)
            else:
                self.t(f"{table_id}. No match." + (" drop" if honor_miss else ""))
            return
        self.rules.append(rule)
        self.resubmits += 1
        if self.xin.want_trace:
            self.t(f"{table_id}. priority {rule.priority}, cookie {rule.cookie:#x}"
                   f"{_match_text(rule)}")
        old_rule, old_table = self.rule, self.table_id
        self.rule, self.table_id = rule, table_id
        self.depth += 1
        try:
            if self.xin.want_trace:
                self.t(_instructions_text(rule.instructions))
            self.do_instructions(rule.instructions)
        finally:
            self.depth -= 1
            self.rule, self.table_id = old_rule, old_table

    def do_instructions(self, instructions: Sequence[Any]) -> None:
        if instructions and not isinstance(instructions[0], ofa.Instruction):
            self.do_actions(list(instructions))  # OF1.0 style action list
            return
        ordered = sorted(instructions, key=lambda i: _INSTR_ORDER.get(type(i), 6))
        for ins in ordered:
            if self.exit:
                return
            if isinstance(ins, ofa.InstructionApplyActions):
                self.do_actions(ins.actions)
            elif isinstance(ins, ofa.InstructionClearActions):
                self.action_set_slots.clear()
                self.action_set_sets.clear()
            elif isinstance(ins, ofa.InstructionWriteActions):
                self.write_actions(ins.actions)
            elif isinstance(ins, ofa.InstructionWriteMetadata):
                md = self.st.pipe.get("metadata", 0)
                m = ins.metadata_mask
                self.st.pipe["metadata"] = (md & ~m) | (ins.metadata & m)
                self.dirty()
            elif isinstance(ins, ofa.InstructionGotoTable):
                if ins.table_id <= self.table_id:
                    self.t(f"goto_table:{ins.table_id} does not go forward, ignored")
                    self.error = self.error or "goto_table backwards"
                    continue
                self.table(ins.table_id, None, honor_miss=True)
            elif isinstance(ins, ofa.InstructionMeter):
                self.t(f"meter:{ins.meter_id} (not implemented, ignored)")
            else:
                self.t(f"unsupported instruction {type(ins).__name__}, ignored")

    # --- action set ------------------------------------------------------------------

    _SLOT_OF = {
        ofa.ActionPopVlan: "pop_vlan", ofa.ActionStripVlan10: "pop_vlan",
        ofa.ActionPushVlan: "push_vlan", ofa.ActionDecNwTtl: "dec_ttl",
        ofa.NXActionDecTtl: "dec_ttl", ofa.ActionGroup: "group",
        ofa.ActionOutput: "output", ofa.ActionOutput10: "output",
        ofa.ActionSetQueue: "queue",
    }

    def write_actions(self, actions: Sequence[Any]) -> None:
        for a in actions:
            slot = self._SLOT_OF.get(type(a))
            if slot is not None:
                self.action_set_slots[slot] = a
            elif isinstance(a, ofa.ActionSetField):
                self.action_set_sets[:] = [
                    x for x in self.action_set_sets
                    if not (isinstance(x, ofa.ActionSetField) and x.field == a.field)]
                self.action_set_sets.append(a)
            elif isinstance(a, (ofa.NXActionRegLoad, ofa.NXActionRegMove, ofa.ActionSetNwTtl,
                                ofa.ActionSetVlanVid10, ofa.ActionSetVlanPcp10,
                                ofa._DlAddr10, ofa._NwAddr10, ofa.ActionSetNwTos10,
                                ofa._TpPort10)):
                self.action_set_sets.append(a)
            else:
                self.t(f"{type(a).__name__} is not allowed in an action set, ignored")

    @staticmethod
    def action_set_order(slots: Mapping[str, Any], sets: Sequence[Any]) -> list[Any]:
        """OF1.3.5 5.10 / OVS ofpacts_execute_action_set(): nothing unless there is an
        output or a group; group wins over output."""
        final = slots.get("group") or slots.get("output")
        if final is None:
            return []
        out = [slots[s] for s in ("pop_vlan", "push_vlan", "dec_ttl") if s in slots]
        out.extend(sets)
        if "queue" in slots:
            out.append(slots["queue"])
        out.append(final)
        return out

    def run_action_set(self) -> None:
        acts = self.action_set_order(self.action_set_slots, self.action_set_sets)
        self.action_set_slots = {}
        self.action_set_sets = []
        if not acts:
            return
        self.exit = False
        self.t("action set: " + ",".join(format_of_action(a) for a in acts))
        self.in_action_set = True
        self.depth += 1
        try:
            self.do_actions(acts)
        finally:
            self.depth -= 1
            self.in_action_set = False

    # --- actions -------------------------------------------------------------------------

    def do_actions(self, actions: Sequence[Any]) -> None:
        for a in actions:
            if self.exit:
                return
            self.do_action(a)

    def do_action(self, a: Any) -> None:
        if isinstance(a, (ofa.ActionOutput, ofa.ActionOutput10)):
            self.output(a.port, a.max_len)
        elif isinstance(a, ofa.ActionSetField):
            self.set_field(a.field, a.value, a.mask)
        elif isinstance(a, ofa.ActionPushVlan):
            self.push_vlan(a.ethertype)
        elif isinstance(a, (ofa.ActionPopVlan, ofa.ActionStripVlan10)):
            self.pop_vlan()
        elif isinstance(a, ofa.ActionGroup):
            self.group(a.group_id)
        elif isinstance(a, ofa.NXActionResubmitTable):
            port = self.st.in_port if a.in_port == OFPP_IN_PORT else a.in_port
            table = self.table_id if a.table_id == 255 else a.table_id
            self.resubmit(port, table)
        elif isinstance(a, ofa.NXActionResubmit):
            port = self.st.in_port if a.in_port == OFPP_IN_PORT else a.in_port
            self.resubmit(port, self.table_id)
        elif isinstance(a, ofa.NXActionRegLoad):
            mask = ((1 << a.n_bits) - 1) << a.ofs
            self.write_field(a.dst, (a.value << a.ofs) & mask, mask)
        elif isinstance(a, ofa.NXActionRegMove):
            self.reg_move(a)
        elif isinstance(a, ofa.NXActionOutputReg):
            name = oflow.canonical_field(a.src)
            mask = ((1 << a.n_bits) - 1) << a.ofs
            self.read(name, mask)
            port = (self.of_flow().get(name, 0) & mask) >> a.ofs
            self.t(f"output port is {port}")
            self.output(port, a.max_len)
        elif isinstance(a, (ofa.ActionDecNwTtl, ofa.NXActionDecTtl)):
            self.dec_ttl()
        elif isinstance(a, ofa.ActionSetNwTtl):
            self.set_field("nw_ttl", a.nw_ttl, None)
        elif isinstance(a, ofa.ActionSetVlanVid10):
            self.set_field("vlan_vid", a.vlan_vid | oflow.OFPVID_PRESENT, None)
        elif isinstance(a, ofa.ActionSetVlanPcp10):
            if not self.st.cur["vlan_tci"] & VLAN_CFI:
                self.push_vlan(ETH_TYPE_VLAN)
            self.set_field("vlan_pcp", a.vlan_pcp, None)
        elif isinstance(a, ofa.ActionSetDlSrc10):
            self.set_field("eth_src", a.dl_addr, None)
        elif isinstance(a, ofa.ActionSetDlDst10):
            self.set_field("eth_dst", a.dl_addr, None)
        elif isinstance(a, ofa.ActionSetNwSrc10):
            self.set_field("ip_src", a.nw_addr, None)
        elif isinstance(a, ofa.ActionSetNwDst10):
            self.set_field("ip_dst", a.nw_addr, None)
        elif isinstance(a, ofa.ActionSetNwTos10):
            self.set_field("nw_tos", a.nw_tos, None)
        elif isinstance(a, (ofa.ActionSetTpSrc10, ofa.ActionSetTpDst10)):
            self.set_tp10(a)
        elif isinstance(a, ofa.NXActionExit):
            self.t("exit")
            self.exit = True
        elif isinstance(a, (ofa.NXActionNote, ofa.ActionSetQueue, ofa.NXActionSetQueue,
                            ofa.NXActionPopQueue)):
            pass  # no datapath effect (no QoS queues in our datapath)
        else:
            self.t(f"unsupported action {type(a).__name__}, ignored")
            self.slow.add(f"unsupported action {type(a).__name__}")

    # --- field writes ------------------------------------------------------------------

    def write_field(self, name: str, value: int, mask: int) -> None:
        """reg_load / reg_move destination: pipeline state or a packet field."""
        name = oflow.canonical_field(name)
        pipe = self.st.pipe
        if name == "metadata" or name.startswith("reg"):
            pipe[name] = (pipe.get(name, 0) & ~mask) | (value & mask)
            self.dirty()
        elif name.startswith("xxreg"):
            i = int(name[5:])
            for j in range(4):
                r = f"reg{4 * i + j}"
                sh = 32 * (3 - j)
                m = (mask >> sh) & 0xFFFFFFFF
                if m:
                    pipe[r] = (pipe.get(r, 0) & ~m) | ((value >> sh) & m)
            self.dirty()
        elif name.startswith("xreg"):
            i = int(name[4:])
            for j, sh in ((0, 32), (1, 0)):
                r = f"reg{2 * i + j}"
                m = (mask >> sh) & 0xFFFFFFFF
                if m:
                    pipe[r] = (pipe.get(r, 0) & ~m) | ((value >> sh) & m)
            self.dirty()
        else:
            self.set_field(name, value, mask)

    def reg_move(self, a: ofa.NXActionRegMove) -> None:
        src = oflow.canonical_field(a.src)
        nmask = (1 << a.n_bits) - 1
        if src not in ("metadata",) and not src.startswith(("reg", "xreg", "xxreg")) \
                and not oflow.field_is_active(src, self.st.cur):
            # OVS nxm_execute_reg_move(): source prerequisites unmet -> no-op.
            for cf, cbits in oflow.field_context(src).items():
                self.key_wc[cf] = self.key_wc.get(cf, 0) | cbits
            self.t(f"move: {src} not present in packet, ignored")
            return
        self.read(src, nmask << a.src_ofs)
        v = (self.of_flow().get(src, 0) >> a.src_ofs) & nmask
        self.write_field(a.dst, v << a.dst_ofs, nmask << a.dst_ofs)

    def set_field(self, name: str, value: int, mask: int | None) -> None:
        name = oflow.canonical_field(name)
        if name in ("metadata",) or name.startswith(("reg", "xreg", "xxreg")):
            width = oxm.field_by_name(name).nbits
            self.write_field(name, value, ((1 << width) - 1) if mask is None else mask)
            return
        if name == "in_port":
            self.st.in_port = value
            self.dirty()
            return
        is_vlan = name in ("vlan_vid", "vlan_pcp", "vlan_tci")
        # Prerequisite checks read the context (OVS mf_are_prereqs_ok(..., wc)).
        for cf, cbits in oflow.field_context(name).items():
            self.key_wc[cf] = self.key_wc.get(cf, 0) | cbits
        try:
            writes = oflow.set_field_bits(name, value, mask, self.st.cur)
        except oflow.PrereqError as e:
            self.t(f"{e}, set_field ignored")
            return
        except oflow.UnsupportedSetField as e:
            self.t(f"{e}: set_field ignored")
            self.slow.add(f"set_field {name}")
            return
        if is_vlan:
            self.key_wc["vlan_tci"] = 0xFFFF
        for kf, v, m in writes:
            self.st.cur[kf] = (self.st.cur[kf] & ~m) | (v & m)
            self.st.known[kf] |= m
        self.dirty()

    def set_tp10(self, a: Any) -> None:
        proto = self.st.cur["nw_proto"]
        self.key_wc["nw_proto"] = self.key_wc.get("nw_proto", 0) | 0xFF
        which = "src" if isinstance(a, ofa.ActionSetTpSrc10) else "dst"
        l4 = {IPPROTO_TCP: "tcp", IPPROTO_UDP: "udp", IPPROTO_SCTP: "sctp"}.get(proto)
        if l4 is None or self.st.cur["eth_type"] not in (ETH_TYPE_IP, ETH_TYPE_IPV6):
            self.t(f"set_tp_{which}: no TCP/UDP/SCTP header, ignored")
            return
        self.set_field(f"{l4}_{which}", a.tp_port, None)

    def push_vlan(self, tpid: int) -> None:
        self.key_wc["vlan_tci"] = 0xFFFF
        tci = self.st.cur["vlan_tci"]
        if tci & VLAN_CFI:
            # QinQ: the key (like the datapath's, vlan-limit=1) holds one tag.  Push
            # the copy of the outer tag now (OF1.3.5 5.12: new tag copies the outer
            # one's fields); the inner tag is not tracked further.
            self.commit()
            self.out.append(odp.PushVlan(vid=tci & 0xFFF, pcp=tci >> 13, tpid=tpid))
            self.t("push_vlan on a tagged packet: inner tag not tracked (vlan-limit=1)")
            self.slow.add("push_vlan on tagged packet")
            return
        self.st.cur["vlan_tci"] = VLAN_CFI
        self.st.vlan_tpid = tpid
        self.dirty()

    def pop_vlan(self) -> None:
        self.key_wc["vlan_tci"] = 0xFFFF
        if self.st.cur["vlan_tci"] & VLAN_CFI:
            self.st.cur["vlan_tci"] = 0
            self.dirty()
        else:
            self.t("pop_vlan: packet has no VLAN tag")

    def dec_ttl(self) -> None:
        cur = self.st.cur
        if cur["eth_type"] not in (ETH_TYPE_IP, ETH_TYPE_IPV6):
            self.t("dec_ttl: not IP, ignored")
            return
        self.read("nw_ttl", 0xFF)
        ttl = cur["nw_ttl"]
        if ttl <= 1:
            # OVS compose_dec_ttl(): send to controllers that asked for invalid-TTL
            # packet-ins; we stop the translation (the packet is dropped).
            self.t("dec_ttl: TTL exceeded, dropping")
            self.exit = True
            return
        self.set_field("nw_ttl", ttl - 1, None)

    # --- commit (OVS commit_odp_actions) ---------------------------------------------------

    def _headers(self) -> list[tuple[str, tuple[str, ...]]]:
        cur = self.st.cur
        et = cur["eth_type"]
        hs: list[tuple[str, tuple[str, ...]]] = [("eth", ("eth_src", "eth_dst"))]
        if et == ETH_TYPE_IP:
            hs.append(("ipv4", ("ipv4_src", "ipv4_dst", "nw_tos", "nw_ttl")))
        elif et == ETH_TYPE_IPV6:
            hs.append(("ipv6", ("ipv6_src", "ipv6_dst", "ipv6_label", "nw_tos", "nw_ttl")))
        if et in (ETH_TYPE_IP, ETH_TYPE_IPV6) and not cur["nw_frag"] & FRAG_LATER:
            l4 = {IPPROTO_TCP: "tcp", IPPROTO_UDP: "udp", IPPROTO_SCTP: "sctp"}
            if cur["nw_proto"] in l4:
                hs.append((l4[cur["nw_proto"]], ("tp_src", "tp_dst")))
        hs.append(("skb_mark", ("pkt_mark",)))
        return hs

    def _commit_header(self, header: str, fields: tuple[str, ...]) -> None:
        st = self.st
        vals: dict[str, int] = {}
        masks: dict[str, int] = {}
        for f in fields:
            kc, kb = st.known[f], st.base_known[f]
            cv, bv = st.cur[f], st.base[f]
            need = ((cv ^ bv) & kc & kb) | (kc & ~kb) | (kb & ~kc)
            if not need:
                continue
            only_base = kb & ~kc
            if only_base:  # back to the packet's own bits: emitting them reads them
                self.key_wc[f] = self.key_wc.get(f, 0) | only_base
            vals[f] = cv & need
            masks[f] = need
            st.base[f] = (bv & ~need) | (cv & need)
            st.base_known[f] = (kb & ~need) | (kc & need)
        if masks:
            self.out.append(odp.SetMasked(header, FlowKey.from_ints(vals),
                                          FlowKey.from_ints(masks)))

    def commit(self) -> None:
        hs = self._headers()
        self._commit_header(*hs[0])
        st = self.st
        cur_tci, base_tci = st.cur["vlan_tci"], st.base["vlan_tci"]
        if cur_tci != base_tci:
            self.key_wc["vlan_tci"] = 0xFFFF
            if base_tci & VLAN_CFI:
                self.out.append(odp.PopVlan())
            if cur_tci & VLAN_CFI:
                self.out.append(odp.PushVlan(vid=cur_tci & 0xFFF, pcp=cur_tci >> 13,
                                             tpid=st.vlan_tpid))
            st.base["vlan_tci"] = cur_tci
        for h in hs[1:]:
            self._commit_header(*h)

    # --- outputs -------------------------------------------------------------------------

    def output(self, port: int, max_len: int = OFPCML_NO_BUFFER) -> None:
        st = self.st
        if port == OFPP_IN_PORT:
            self.compose_output(st.in_port, allow_in_port=True)
        elif port == OFPP_TABLE:
            if self.xin.actions is None:
                self.t("output:TABLE outside packet-out, ignored")
                return
            self.table(0, st.in_port, honor_miss=True)
        elif port == OFPP_NORMAL:
            self.normal()
        elif port == OFPP_FLOOD:
            self.flood(all_ports=False)
        elif port == OFPP_ALL:
            self.flood(all_ports=True)
        elif port == OFPP_CONTROLLER:
            reason = (OFPPacketInReason.OFPR_PACKET_OUT if self.xin.actions is not None
                      and self.rule is None else
                      OFPPacketInReason.OFPR_GROUP if self.in_group else
                      OFPPacketInReason.OFPR_ACTION_SET if self.in_action_set else
                      OFPPacketInReason.OFPR_ACTION)
            rule = self.rule
            if rule is not None and rule.priority == 0 and \
                    getattr(rule, "match", None) is not None and not rule.match:
                reason = OFPPacketInReason.OFPR_NO_MATCH  # table-miss flow entry
            self.controller(reason, max_len)
        elif port == OFPP_ANY:
            pass
        else:
            self.compose_output(port, allow_in_port=False)

    def compose_output(self, ofport: int, allow_in_port: bool) -> None:
        if ofport == self.st.in_port and not allow_in_port:
            self.t("skipping output to input port")
            return
        p = self.ports.get(ofport)
        if p is None:
            self.t(f"output to nonexistent port {_fmt_port(ofport)}, skipped")
            return
        if p.no_fwd:
            self.t(f"port {p.name or ofport} has OFPPC_NO_FWD set, skipping output")
            return
        if p.patch is not None:
            self.patch_output(p)
            return
        self.commit()
        self.outputs.append(ofport)
        self.out.append(odp.Output(p.odp_port))
        self.t(f"-> output to {p.name or _fmt_port(ofport)} (datapath port {p.odp_port})")

    def patch_output(self, p: PortConfig) -> None:
        """Output to a patch port: the packet goes on through the peer bridge's tables
        from the peer port, with registers, metadata and action set cleared, and comes
        back unchanged for the actions that follow (OVS ``patch_port_output()``).
        What the peer does to the headers happens on a copy (a datapath clone)."""
        peer = p.patch.peer(self.xin)
        if peer is None:
            self.t(f"-> output to patch port {p.name or p.ofport}: no peer, dropped")
            return
        if self.depth >= MAX_DEPTH:
            raise _Abort(f"over max translation depth {MAX_DEPTH}")
        pxin, pofport = peer
        self.t(f"-> output to patch port {p.name or p.ofport}")
        saved_st = self.st.copy()
        saved = (self.xin, self.ports, self.out, self.rule, self.table_id,
                 self.action_set_slots, self.action_set_sets, self.exit, self.outputs)
        self.xin, self.ports, self.out, self.outputs = pxin, pxin.ports, [], []
        self.rule, self.table_id, self.exit = None, 0, False
        self.action_set_slots, self.action_set_sets = {}, []
        self.st.in_port, self.st.pipe = pofport, {}
        self.dirty()
        self.depth += 1
        self.t("")
        self.t(f'bridge("{pxin.bridge_name}")')
        self.t("-" * (len(pxin.bridge_name) + 10))
        try:
            if pxin.fail_open:
                self.t("fail-open: no controller connected, acting as a normal switch")
                self.normal()
            elif pxin.pipeline is not None:
                self.table(0, None, honor_miss=True)
            self.run_action_set()
        finally:
            self.depth -= 1
            inner = self.out
            (self.xin, self.ports, self.out, self.rule, self.table_id,
             self.action_set_slots, self.action_set_sets, self.exit, self.outputs) = saved
        if all(isinstance(x, (odp.Output, odp.Userspace)) for x in inner):
            self.out.extend(inner)
        else:
            self.out.append(odp.Clone(tuple(inner)))
        self.st = saved_st
        self.dirty()

    def flood(self, all_ports: bool) -> None:
        """OVS flood_packets(): every port but the input; FLOOD skips no-flood ports."""
        for p in self.ports:
            if p.ofport == self.st.in_port:
                continue
            if all_ports or p.flood:
                self.compose_output(p.ofport, allow_in_port=False)

    def controller(self, reason: int, max_len: int, *, table_id: int | None = None,
                   cookie: int | None = None) -> None:
        self.commit()
        rule = self.rule
        pipe = self.st.pipe
        cc = ControllerCookie(
            reason=int(reason),
            table_id=self.table_id if table_id is None else table_id,
            cookie=(cookie if cookie is not None else
                    rule.cookie if rule is not None else NO_COOKIE),
            max_len=max_len & 0xFFFF,
            metadata=pipe.get("metadata", 0),
            regs=tuple(pipe.get(f"reg{i}", 0) for i in range(16)))
        self.packet_ins.append(cc)
        self.out.append(odp.Userspace(cookie=cc.encode(), pid=self.xin.upcall_pid))
        if not self.xin.controller_connected:
            self.t("-> CONTROLLER (no controller connected: the packet-in will be dropped)")
        else:
            self.t(f"-> CONTROLLER (reason {OFPPacketInReason(cc.reason).name})")

    # --- resubmit and groups --------------------------------------------------------------

    def resubmit(self, in_port: int, table_id: int) -> None:
        if self.xin.pipeline is None:
            return
        self.t(f"resubmit(in_port={_fmt_port(in_port)}, table={table_id})")
        self.table(table_id, in_port, honor_miss=False)

    def _group_lookup(self, gid: int) -> GroupLike | None:
        groups = self.xin.groups
        if groups is None:
            return None
        getter = getattr(groups, "get", None) or getattr(groups, "lookup", None)
        if getter is None:
            return None
        return getter(gid)

    @staticmethod
    def _gtype(g: Any) -> int:
        t = getattr(g, "type", None)
        if t is None:
            t = getattr(g, "group_type", None)
        return int(t)

    def _port_live(self, ofport: int) -> bool:
        p = self.ports.get(ofport)
        return p is not None and p.live

    def _bucket_live(self, b: Any, depth: int = 0) -> bool:
        wp = getattr(b, "watch_port", OFPP_ANY)
        wg = getattr(b, "watch_group", OFPG_ANY)
        if wp not in (OFPP_ANY, None) and not self._port_live(wp):
            return False
        if wg not in (OFPG_ANY, None):
            if depth >= MAX_LIVENESS_RECURSION:
                return False
            g = self._group_lookup(wg)
            if g is None or not any(self._bucket_live(x, depth + 1) for x in g.buckets):
                return False
        return True

    def group(self, gid: int) -> None:
        g = self._group_lookup(gid)
        if g is None:
            self.t(f"group:{gid}: no such group")
            return
        if self.depth >= MAX_DEPTH:
            raise _Abort(f"over max translation depth {MAX_DEPTH}")
        gtype = self._gtype(g)
        buckets = list(g.buckets)
        self.t(f"group:{gid} ({OFPGroupType(gtype).name.removeprefix('OFPGT_')})")
        # Pending header changes apply to every bucket: commit once, before the copies.
        self.commit()
        if gtype in (OFPGroupType.OFPGT_ALL, OFPGroupType.OFPGT_INDIRECT):
            chosen = list(enumerate(buckets))
            if gtype == OFPGroupType.OFPGT_INDIRECT:
                chosen = chosen[:1]
            self.groups.append((gid, None if gtype == OFPGroupType.OFPGT_ALL else 0))
        elif gtype == OFPGroupType.OFPGT_SELECT:
            i = self.select_bucket(buckets)
            self.groups.append((gid, i))
            chosen = [] if i is None else [(i, buckets[i])]
        elif gtype == OFPGroupType.OFPGT_FF:
            i = next((j for j, b in enumerate(buckets) if self._bucket_live(b)), None)
            self.groups.append((gid, i))
            chosen = [] if i is None else [(i, buckets[i])]
        else:
            self.t(f"group:{gid}: unknown type {gtype}")
            return
        if not chosen:
            self.t("no live bucket")
        self.depth += 1
        try:
            for i, b in chosen:
                self.bucket(i, b)
        finally:
            self.depth -= 1

    def select_bucket(self, buckets: Sequence[Any]) -> int | None:
        """OVS pick_default_select_group(): symmetric L4 hash of the flow, then the
        live bucket with the best (hash(bucket id) & 0xffff) * weight score."""
        cur = self.st.cur
        self.read("eth_src", (1 << 48) - 1)
        self.read("eth_dst", (1 << 48) - 1)
        self.read("vlan_tci", 0x0FFF | VLAN_CFI)
        et = cur["eth_type"]
        if et == ETH_TYPE_IP:
            self.read("ip_src", 0xFFFFFFFF)
            self.read("ip_dst", 0xFFFFFFFF)
        elif et == ETH_TYPE_IPV6:
            self.read("ipv6_src", (1 << 128) - 1)
            self.read("ipv6_dst", (1 << 128) - 1)
        if et in (ETH_TYPE_IP, ETH_TYPE_IPV6):
            self.read("nw_proto", 0xFF)
            if cur["nw_proto"] == IPPROTO_TCP:
                self.read("tcp_src", 0xFFFF)
                self.read("tcp_dst", 0xFFFF)
            elif cur["nw_proto"] == IPPROTO_SCTP:
                self.read("sctp_src", 0xFFFF)
                self.read("sctp_dst", 0xFFFF)
        h = flow_hash_symmetric_l4(cur)
        best, best_score = None, 0
        for i, b in enumerate(buckets):
            if not self._bucket_live(b):
                continue
            score = (_hash_int(i, h) & 0xFFFF) * int(getattr(b, "weight", 1) or 0)
            if score >= best_score:
                best, best_score = i, score
        self.t(f"select: hash {h:#010x} -> bucket {best}")
        return best

    def bucket(self, index: int, b: Any) -> None:
        """Runs a bucket (an action set) on a copy of the packet and pipeline state."""
        self.t(f"bucket {index}")
        saved = self.st.copy()
        saved_out = self.out
        saved_group, saved_exit = self.in_group, self.exit
        self.out = []
        self.in_group = True
        acts = self.action_set_order_bucket(b.actions)
        try:
            self.depth += 1
            self.do_actions(acts)
        finally:
            self.depth -= 1
            inner = self.out
            self.out = saved_out
            self.in_group, self.exit = saved_group, saved_exit
        if all(isinstance(x, (odp.Output, odp.Userspace)) for x in inner):
            self.out.extend(inner)  # no header change: no copy needed
        else:
            self.out.append(odp.Clone(tuple(inner)))
        # Either way the packet after the group is the one before it (OVS restores
        # the flow after each bucket); inside a clone the datapath copy was changed.
        self.st = saved
        self.dirty()

    def action_set_order_bucket(self, actions: Sequence[Any]) -> list[Any]:
        slots: dict[str, Any] = {}
        sets: list[Any] = []
        for a in actions:
            slot = self._SLOT_OF.get(type(a))
            if slot is not None:
                slots[slot] = a
            else:
                sets.append(a)
        # A bucket without output/group (e.g. resubmit only) still runs its actions.
        final = slots.pop("group", None) or slots.pop("output", None)
        out = [slots[s] for s in ("pop_vlan", "push_vlan", "dec_ttl") if s in slots]
        out.extend(sets)
        if final is not None:
            out.append(final)
        return out

    # --- NORMAL ------------------------------------------------------------------------------

    def normal(self) -> None:
        """OVS xlate_normal() without bonds, mirrors, STP and multicast snooping."""
        st = self.st
        cur = st.cur
        self.read("eth_src", (1 << 48) - 1)
        self.read("eth_dst", (1 << 48) - 1)
        self.read("vlan_tci", 0x0FFF | VLAN_CFI)
        in_port = self.ports.get(st.in_port)
        if in_port is None:
            self.t("NORMAL: no input bundle, dropping")
            return
        if any(mr.out_port == in_port.ofport for mr in self.xin.mirrors):
            # A mirror's output port is reserved for the copies (vswitch.xml).
            self.t("NORMAL: input port is a mirror output port, dropping")
            return
        tci = cur["vlan_tci"]
        in_vid = tci & 0xFFF if tci & VLAN_CFI else 0
        in_pcp = tci >> 13 if tci & VLAN_CFI else 0
        mode = in_port.mode
        # input_vid_is_valid()
        if mode == VLAN_ACCESS and in_vid:
            self.t(f"NORMAL: dropping VLAN {in_vid} tagged packet received on port "
                   f"{in_port.name or in_port.ofport} configured as VLAN {in_port.vlan} "
                   f"access port")
            return
        if mode != VLAN_ACCESS and not (mode != VLAN_TRUNK and not in_vid) \
                and not in_port.trunks_vlan(in_vid):
            self.t(f"NORMAL: dropping VLAN {in_vid} packet received on port "
                   f"{in_port.name or in_port.ofport} not configured for trunking "
                   f"VLAN {in_vid}")
            return
        # xvlan_input_translate()
        if mode == VLAN_ACCESS or (mode in (VLAN_NATIVE_TAGGED, VLAN_NATIVE_UNTAGGED)
                                   and not in_vid):
            vlan = in_port.vlan
        else:
            vlan = in_vid
        dst = cur["eth_dst"].to_bytes(6, "big")
        src = cur["eth_src"].to_bytes(6, "big")
        # is_admissible(): reserved multicast (01:80:c2:00:00:0x) unless forward_bpdu.
        if not self.xin.forward_bpdu and dst[:5] == b"\x01\x80\xc2\x00\x00" \
                and dst[5] & 0xF0 == 0:
            self.t("NORMAL: packet has reserved destination MAC, dropping")
            return
        ml = self.xin.mac_learning
        if ml is not None and self.xin.allow_side_effects and ml.may_learn(src, vlan):
            changed = ml.learn(src, vlan, in_port.ofport)
            self.mac_updates.append(MacLearnUpdate(src, vlan, in_port.ofport, changed))
            if changed:
                self.t(f"NORMAL: learned that {_fmt_val('eth_src', cur['eth_src'])} is on "
                       f"port {in_port.name or in_port.ofport} in VLAN {vlan}")
        out_port = None
        if ml is not None:
            self.mac_tags.add(ml.tag(dst, vlan))
            out_port = ml.lookup(dst, vlan)
        if out_port is not None:
            p = self.ports.get(out_port) if isinstance(out_port, int) else None
            if p is None:
                self.t("NORMAL: learned port is unknown, dropping")
            elif p.ofport == in_port.ofport:
                self.t("NORMAL: learned port is input port, dropping")
            else:
                self.t("NORMAL: forwarding to learned port")
                self.output_normal(p, vlan, in_pcp)
            return
        self.t("NORMAL: no learned MAC for destination, flooding")
        mirror_outs = {mr.out_port for mr in self.xin.mirrors}
        for p in self.ports:
            if p.ofport != in_port.ofport and p.includes_vlan(vlan) and p.flood \
                    and p.ofport not in mirror_outs:
                self.output_normal(p, vlan, in_pcp)

    def output_normal(self, p: PortConfig, vlan: int, pcp: int) -> None:
        """OVS output_normal() / xvlan_output_translate()."""
        mode = p.mode
        vid = 0 if mode == VLAN_ACCESS or (mode == VLAN_NATIVE_UNTAGGED and vlan == p.vlan) \
            else vlan
        out_pcp = 0 if mode == VLAN_ACCESS or (mode == VLAN_NATIVE_UNTAGGED
                                                and vlan == p.vlan) else pcp
        tci = (vid | out_pcp << 13 | VLAN_CFI) if (vid or out_pcp) else 0
        st = self.st
        saved = st.cur["vlan_tci"]
        st.cur["vlan_tci"] = tci
        try:
            self.compose_output(p.ofport, allow_in_port=False)
        finally:
            st.cur["vlan_tci"] = saved


_OUTPUT_TYPES = (ofa.ActionOutput, ofa.ActionOutput10)
OFPP_MAX = OFPPort.OFPP_MAX.value


def plain_outputs(rule: Any) -> list[int] | None:
    """The ports ``rule`` outputs to, in order, if all it does is output to ports by
    number (apply-actions only, or an OF1.0 action list; no reserved ports); else
    None.  An empty list is a drop."""
    ins = rule.instructions
    if ins and not isinstance(ins[0], ofa.Instruction):
        actions: list[Any] = list(ins)
    else:
        actions = []
        for i in ins:
            if type(i) is not ofa.InstructionApplyActions:
                return None
            actions += i.actions
    outs = []
    for a in actions:
        if type(a) not in _OUTPUT_TYPES or a.port > OFPP_MAX:
            return None
        outs.append(a.port)
    return outs


def _xlate_simple(xin: XlateIn) -> XlateResult | tuple[dict[str, int], dict[str, int],
                                                       tuple[Any]] | None:
    """The upcall path's common case without the general machinery: a received packet
    from a known port, no trace, packet-out, fail-open or mirrors, whose table-0 rule
    only outputs to plain ports (or that misses, without miss-to-controller).  Gives
    the same result as :class:`_Xlator` (which it is checked against in the tests).

    Returns the result; or, when the looked-up rule turns out not to be that simple,
    (OpenFlow flow, wildcards, (rule,)) for the general translator to go on from
    (the lookup counts in table statistics, so it must not be repeated); or None
    when nothing was looked up."""
    if xin.want_trace or xin.actions is not None or xin.mirrors or xin.pipeline is None \
            or not xin.received or xin.fail_open:
        return None
    key = xin.key
    if xin.in_ofport is not None:
        return None
    port = xin.ports.by_odp(key.in_port)
    if port is None or port.no_recv:
        return None
    in_of = port.ofport
    flow = oflow.flow_from_ints(key.as_ints(), in_of)
    wc: dict[str, int] = {}
    rule = xin.pipeline.lookup(0, flow, wc)
    if rule is None:
        if xin.miss_to_controller:
            return flow, wc, (rule,)
        outs: list[int] = []
        rules = []
    else:
        outs = plain_outputs(rule)
        if outs is None:
            return flow, wc, (rule,)
        rules = [rule]
    actions: list[odp.Action] = []
    for ofport in outs:
        if ofport == in_of:
            continue   # never back out of the input port (compose_output)
        p = xin.ports.get(ofport)
        if p is None or p.no_fwd:
            continue
        if p.patch is not None:
            return flow, wc, (rule,)
        actions.append(odp.Output(p.odp_port))
    return XlateResult(actions=actions, mask=oflow.wc_to_mask(wc, key), wc=wc, key_wc={},
                       rules=rules, groups=[], packet_ins=[], mac_updates=[],
                       mac_tags=set(), trace=[], slow=set())


def xlate(xin: XlateIn) -> XlateResult:
    """Translates ``xin.key`` through the pipeline; see the module docstring."""
    simple = _xlate_simple(xin)
    if isinstance(simple, XlateResult):
        return simple
    x = _Xlator(xin)
    table0 = None
    if simple is not None:
        x._flow_cache, x.wc, table0 = simple
    try:
        x.run(table0)
    except _Abort as e:
        x.error = str(e)
        x.trace.append(f"translation aborted: {e}")
        x.out = []
    actions = x.out
    mask = oflow.wc_to_mask(x.wc, xin.key, x.key_wc)
    if xin.want_trace:
        x.trace.append("")
        x.trace.append(f"Final flow: {oflow.describe(x.of_flow(), oflow.PACKET_FIELDS)}")
        try:
            x.trace.append(f"Megaflow: {odp.format_key(xin.key & mask, mask)}")
        except ValueError:
            x.trace.append(f"Megaflow mask: {mask}")
        x.trace.append(f"Datapath actions: {odp.format_actions(actions)}")
    return XlateResult(actions=actions, mask=mask, wc=x.wc, key_wc=x.key_wc, rules=x.rules,
                       groups=x.groups, packet_ins=x.packet_ins, mac_updates=x.mac_updates,
                       mac_tags=x.mac_tags, trace=x.trace, slow=x.slow, error=x.error)
