"""vswitchd: the Open_vSwitch configuration in OVSDB made real (OVS's vswitchd/bridge.c).

:class:`Vswitchd` follows the database through an :class:`ovsdb.idl.Idl` (holding the
``ovs_vswitchd`` lock) and, after every change, reconciles what runs with what the
database says:

- DPDK's EAL is initialised once, from ``Open_vSwitch.other_config`` as it is at the first
  netdev bridge or when ``dpdk-init`` becomes true (later EAL option changes need a
  restart, as in OVS); then one userspace datapath (:class:`~appliance.dpif.netdev.
  NetdevDpif`, OVS's ``ovs-netdev``) serves every netdev bridge;
- each Bridge row becomes an :class:`ofproto.bridge.OFBridge` (fail_mode, protocols,
  other_config:datapath-id, controllers) with its local port (an ``internal`` tap named
  after the bridge, OpenFlow port LOCAL);
- each Interface of a Port becomes a datapath port and an OpenFlow port (type, options,
  ofport_request, mtu_request; the Port's tag, trunks and vlan_mode).

What happened is written back (:mod:`appliance.status`): ``ofport``/``error`` and link
state of each Interface, Bridge ``datapath_id``/``status``, Controller ``is_connected``/
``role``, the Open_vSwitch row's DPDK and version columns, and ``cur_cfg = next_cfg`` once a
configuration is applied, which is what ``ovs-vsctl`` (without ``--no-wait``) waits for.
A row that cannot be applied is reported in its status columns; everything else keeps
running.

Upcalls from the shared datapath are dispatched to the bridge owning the input port.
ovs-appctl commands live in :mod:`appliance.appctl`; twistd glue in :mod:`appliance.tap`.
"""

from __future__ import annotations

import hashlib
import shlex
from dataclasses import dataclass, field
from typing import Any

from appliance.dpif import DpifError, Upcall
from appliance.status import IFACE_TYPES, OFPP_LOCAL, status_operations
from ofproto.bridge import OFBridge
from ofproto.ofp import consts
from ofproto.xlate import MirrorConfig, PortConfig
from ovsdb import vlog

log = vlog.logger("vswitchd")

#: Seconds between Interface statistics write-backs (OVS: stats-update-interval).
STATS_INTERVAL = 5.0
_VERSION_NAMES = {"OpenFlow10": consts.OFP10, "OpenFlow13": consts.OFP13,
                  "OpenFlow14": consts.OFP14, "OpenFlow15": consts.OFP15}


class ConfigError(Exception):
    """A row that cannot be applied; the text goes to its error/status column."""


@dataclass
class IfaceState:
    """An Interface that is (or failed to be) part of a bridge."""

    uuid: str
    name: str
    #: What re-creates the port when it changes: (type, options, ofport_request).
    signature: tuple
    ofport: int | None = None
    odp_port: int | None = None
    error: str | None = None
    #: A patch interface's options:peer.
    patch_peer: str | None = None


@dataclass
class BridgeState:
    """A Bridge row and what runs for it."""

    uuid: str
    name: str
    ofbridge: OFBridge | None = None
    error: str | None = None
    ifaces: dict[str, IfaceState] = field(default_factory=dict)
    controllers: tuple[str, ...] = ()
    #: Mirror uuid -> why it is not applied.
    mirror_errors: dict[str, str] = field(default_factory=dict)


class _PatchLink:
    """A patch interface's way to its peer (:class:`ofproto.xlate.PatchLink`)."""

    def __init__(self, vs: Vswitchd, name: str, peer: str) -> None:
        self.vs, self.name, self.peer_name = vs, name, peer

    def peer(self, xin: Any) -> tuple[Any, int] | None:
        found = self.vs.patch_peer(self.name, self.peer_name)
        if found is None:
            return None
        bridge, ofport = found
        pxin = bridge.xlate_in(xin.key, xin.packet, None, side_effects=xin.allow_side_effects)
        pxin.want_trace = xin.want_trace
        return pxin, ofport


def bridge_mac(name: str, other_config: dict[str, str]) -> int:
    """The bridge's Ethernet address: other_config:hwaddr, else a locally administered
    address derived from the name (stable across restarts)."""
    hw = other_config.get("hwaddr")
    if hw:
        try:
            parts = [int(b, 16) for b in hw.split(":")]
            if len(parts) == 6 and all(0 <= b < 256 for b in parts):
                return int.from_bytes(bytes(parts), "big")
        except ValueError:
            pass
        log.warn("{br}: ignoring malformed other_config:hwaddr {hw!r}", br=name, hw=hw)
    digest = hashlib.sha256(name.encode()).digest()
    return int.from_bytes(bytes([0x02]) + digest[:5], "big")


def datapath_id(name: str, other_config: dict[str, str]) -> int:
    """other_config:datapath-id (exactly 16 hex digits, as OVS requires), else the
    bridge's MAC (vswitch.xml, Bridge other_config:datapath-id)."""
    dpid = other_config.get("datapath-id", "")
    if len(dpid) == 16:
        try:
            return int(dpid, 16)
        except ValueError:
            pass
    if dpid:
        log.warn("{br}: ignoring malformed other_config:datapath-id {d!r}", br=name, d=dpid)
    return bridge_mac(name, other_config)


def _optional(value: Any) -> Any:
    """An optional column's value whatever shape the IDL gives it."""
    if isinstance(value, list | tuple | set | frozenset):
        return next(iter(value), None)
    return value


def _mac_text(mac: bytes | int) -> str:
    if isinstance(mac, int):
        mac = mac.to_bytes(6, "big")
    return ":".join(f"{b:02x}" for b in bytes(mac))


class Vswitchd:
    """Keeps bridges, ports and the datapath in step with the database.

    :param idl: an :class:`ovsdb.idl.Idl` on the Open_vSwitch database, created with
        ``lock="ovs_vswitchd"``; this object adds itself as a listener.
    :param rundir: run directory (management sockets, vhost-user sockets).
    :param reactor: the Twisted reactor (calls are deferred to it, never blocking).
    """

    def __init__(self, idl: Any, rundir: str, reactor: Any) -> None:
        self.idl = idl
        self.rundir = rundir
        self.reactor = reactor
        self.dpif: Any = None
        self.dpdk_error: str | None = None
        self._bridges: dict[str, BridgeState] = {}
        self._odp_owner: dict[int, OFBridge] = {}
        self._scheduled: Any = None
        self._txn_in_flight = False
        self._txn_again = False
        self._stats_due = True
        self._loops: list[Any] = []
        self._reader: Any = None
        self._stopped = False
        self._cross_revalidating = False
        self._cfg_seen: int | None = None
        idl.add_listener(self._changed)

    # -- the view appctl and tests use --

    @property
    def bridges(self) -> dict[str, OFBridge]:
        """Running bridges by name."""
        return {n: b.ofbridge for n, b in self._bridges.items() if b.ofbridge is not None}

    def exit(self) -> Any:
        """``ovs-appctl exit``: stop the daemon (its services stop in order)."""
        self.reactor.callLater(0, self.reactor.stop)

    # -- lifecycle --

    def start(self) -> None:
        from twisted.internet import task

        self.idl.start()
        periodic = task.LoopingCall(self._run_periodic)
        periodic.clock = self.reactor
        periodic.start(1.0, now=False)
        stats = task.LoopingCall(self._stats_tick)
        stats.clock = self.reactor
        stats.start(STATS_INTERVAL, now=False)
        self._loops = [periodic, stats]

    def stop(self) -> Any:
        """Stops following the database, closes every bridge's channels, removes every
        port and shuts the datapath down (DPDK memory and hugepage files released).
        Returns a Deferred."""
        from twisted.internet import defer

        self._stopped = True
        for loop in self._loops:
            if loop.running:
                loop.stop()
        if self._scheduled is not None and self._scheduled.active():
            self._scheduled.cancel()
        waits = [defer.maybeDeferred(self.idl.stop)]
        for name in list(self._bridges):
            waits.append(self._del_bridge(name))
        d = defer.gatherResults(waits, consumeErrors=True)

        def shutdown(result: Any) -> Any:
            if self._reader is not None:
                self.reactor.removeReader(self._reader)
                self._reader = None
            if self.dpif is not None:
                self.dpif.close()
                self.dpif.lib.vsw_shutdown()
                self.dpif = None
            return result

        return d.addBoth(shutdown)

    # -- reconciliation --

    def _changed(self) -> None:
        if self._stopped or (self._scheduled is not None and self._scheduled.active()):
            return
        self._scheduled = self.reactor.callLater(0, self.reconcile)

    def _held(self) -> bool:
        return self.idl.is_connected and self.idl.has_lock

    def _root(self) -> Any:
        rows = list(self.idl.tables.get("Open_vSwitch", {}).values())
        return rows[0] if rows else None

    def reconcile(self) -> None:
        """Makes what runs match the database, then writes status back."""
        self._scheduled = None
        if self._stopped or not self._held():
            return
        root = self._root()
        if root is None:
            self._init_database()
            return
        tables = self.idl.tables
        wanted: dict[str, Any] = {}
        for uuid in sorted(root["bridges"] or ()):
            row = tables["Bridge"].get(uuid)
            if row is not None:
                wanted.setdefault(row["name"], row)
        for name in list(self._bridges):
            if name not in wanted or self._bridges[name].uuid != wanted[name].uuid:
                self._del_bridge(name)
        other_config = dict(root["other_config"] or {})
        if other_config.get("dpdk-init") == "true" or any(
                self._dp_type(row) == "netdev" for row in wanted.values()):
            self._init_dpdk(other_config)
        if self.dpif is not None:
            self.dpif.lib.vsw_set_pmd_sleep(int(other_config.get("pmd-maxsleep", "0") or 0))
        # A new configuration (ovs-vsctl bumps next_cfg) retries interfaces that failed,
        # as OVS's reconfiguration does; status writes alone do not.
        retry = root["next_cfg"] != self._cfg_seen
        self._cfg_seen = root["next_cfg"]
        # Removals first, everywhere: an interface moving between bridges must be gone
        # from the first before the second opens it.
        for name, row in wanted.items():
            st = self._bridges.get(name)
            if st is not None:
                self._remove_stale_ifaces(st, row, retry)
        for name, row in wanted.items():
            try:
                self._reconfigure_bridge(name, row)
            except Exception:   # one bridge must not stop the others
                log.failure("{br}: reconfiguration failed", br=name)
        self.write_status()

    def _init_database(self) -> None:
        """A new database gets its Open_vSwitch row (what ``ovs-vsctl init`` in OVS's
        start-up scripts does), so plain ovs-vsctl works on a fresh appliance."""
        if self._txn_in_flight:
            return
        self._txn_in_flight = True
        d = self.idl.transact([{"op": "insert", "table": "Open_vSwitch", "row": {}}])

        def done(result: Any) -> None:
            self._txn_in_flight = False

        d.addErrback(lambda f: log.warn("cannot create the Open_vSwitch row: {e}",
                                        e=f.getErrorMessage())).addBoth(done)

    @staticmethod
    def _dp_type(row: Any) -> str:
        return row["datapath_type"] or "netdev"

    def _init_dpdk(self, other_config: dict[str, str]) -> None:
        if self.dpif is not None or self.dpdk_error is not None:
            return
        from appliance.dpif.netdev import NetdevDpif, eal_config, init_dpdk

        try:
            cfg = eal_config(other_config)
            if not {"--in-memory", "--huge-unlink", "--no-huge"} & set(cfg.argv):
                # Hugepage files go away with the process (OVS leaves them behind).
                cfg.argv.append("--huge-unlink")
            log.info("initialising DPDK: {argv}", argv=shlex.join(cfg.argv))
            init_dpdk(cfg)
            self.dpif = NetdevDpif(vhost_dir=self.rundir)
        except DpifError as e:
            self.dpdk_error = str(e)
            log.error("DPDK initialisation failed: {e}", e=e)
            return
        from ofproto.upcall_reader import UpcallReader

        self._reader = UpcallReader(self.dpif, self._dispatch_upcalls)
        self.reactor.addReader(self._reader)

    def _dispatch_upcalls(self, upcalls: list[Upcall]) -> None:
        by_bridge: dict[OFBridge, list[Upcall]] = {}
        for up in upcalls:
            br = self._odp_owner.get(up.key.in_port)
            if br is not None:
                by_bridge.setdefault(br, []).append(up)
        for br, ups in by_bridge.items():
            br.handle_upcalls(ups)

    def _reconfigure_bridge(self, name: str, row: Any) -> None:
        st = self._bridges.get(name)
        if st is None:
            st = self._bridges[name] = BridgeState(row.uuid, name)
        other_config = dict(row["other_config"] or {})
        dp_type = self._dp_type(row)
        if dp_type != "netdev":
            st.error = (f"datapath type {dp_type!r} is not available: this appliance has only "
                        "the userspace (netdev) datapath")
        elif self.dpif is None:
            st.error = f"DPDK is not initialised: {self.dpdk_error}"
        else:
            st.error = None
        if st.error is not None:
            if st.ofbridge is not None:
                self._del_bridge(name)
                self._bridges[name] = st
            self._fail_ifaces(st, row, st.error)
            return
        br = st.ofbridge
        if br is None:
            br = OFBridge(name, self.dpif, datapath_id(name, other_config), self.rundir,
                          fail_mode=_optional(row["fail_mode"]) or "standalone",
                          schedule=lambda fn: self.reactor.callLater(0, fn))
            st.ofbridge = br
            br.revalidate_listeners.append(self._cross_revalidate)
            br.connmgr.start()
            log.info("{br}: created", br=name)
        br.switch.datapath_id = datapath_id(name, other_config)
        br.set_fail_mode(_optional(row["fail_mode"]) or "standalone")
        versions = [_VERSION_NAMES[p] for p in row["protocols"] or () if p in _VERSION_NAMES]
        br.connmgr.versions = frozenset(versions) if versions else frozenset(
            _VERSION_NAMES.values())
        self._reconfigure_controllers(st, row)
        self._reconfigure_ports(st, row, other_config)
        self._reconfigure_mirrors(st, row)

    def _reconfigure_controllers(self, st: BridgeState, row: Any) -> None:
        rows = [self.idl.tables["Controller"].get(u) for u in sorted(row["controller"] or ())]
        targets = tuple(sorted(r["target"] for r in rows if r is not None))
        if targets == st.controllers:
            return
        probe = 5000
        for r in rows:
            if r is not None and _optional(r["inactivity_probe"]) is not None:
                probe = int(_optional(r["inactivity_probe"]))
        try:
            st.ofbridge.set_controllers(targets, probe_interval=probe)
        except ValueError as e:
            log.warn("{br}: bad controller target: {e}", br=st.name, e=e)
            return
        st.controllers = targets

    def _port_ofports(self, st: BridgeState, port_uuids: Any) -> frozenset[int]:
        """OpenFlow numbers of the interfaces of Port rows ``port_uuids``."""
        out = set()
        for pu in port_uuids or ():
            port = self.idl.tables["Port"].get(pu)
            for iu in (port["interfaces"] or ()) if port is not None else ():
                iface = self.idl.tables["Interface"].get(iu)
                ist = st.ifaces.get(iface["name"]) if iface is not None else None
                if ist is not None and ist.ofport is not None:
                    out.add(ist.ofport)
        return frozenset(out)

    def _reconfigure_mirrors(self, st: BridgeState, row: Any) -> None:
        """Bridge.mirrors -> port mirrors; a mirror without a usable output port (or
        asking for an output VLAN, not supported) is reported in ``st.mirror_errors``."""
        mirrors = []
        st.mirror_errors = {}
        for mu in sorted(row["mirrors"] or ()):
            mrow = self.idl.tables["Mirror"].get(mu)
            if mrow is None:
                continue
            out = self._port_ofports(st, [mrow["output_port"]] if mrow["output_port"]
                                     else [])
            if _optional(mrow["output_vlan"]) is not None:
                st.mirror_errors[mu] = "output_vlan mirrors are not supported"
                continue
            if len(out) != 1:
                st.mirror_errors[mu] = "mirror needs an output_port with one interface"
                continue
            mirrors.append(MirrorConfig(
                mrow["name"], next(iter(out)),
                src=self._port_ofports(st, mrow["select_src_port"]),
                dst=self._port_ofports(st, mrow["select_dst_port"]),
                select_all=bool(mrow["select_all"]),
                vlans=frozenset(mrow["select_vlan"] or ())))
        for mu, err in st.mirror_errors.items():
            log.warn("{br}: mirror {m}: {e}", br=st.name, m=mu, e=err)
        st.ofbridge.set_mirrors(mirrors)

    def _wanted_ifaces(self, row: Any) -> dict[str, tuple[Any, Any]]:
        """Interface name -> (Interface row, Port row) for the bridge's ports."""
        tables = self.idl.tables
        out: dict[str, tuple[Any, Any]] = {}
        for pu in sorted(row["ports"] or ()):
            port = tables["Port"].get(pu)
            if port is None:
                continue
            for iu in sorted(port["interfaces"] or ()):
                iface = tables["Interface"].get(iu)
                if iface is not None:
                    out.setdefault(iface["name"], (iface, port))
        return out

    def _fail_ifaces(self, st: BridgeState, row: Any, error: str) -> None:
        st.ifaces = {name: IfaceState(iface.uuid, name, (), error=error)
                     for name, (iface, _port) in self._wanted_ifaces(row).items()}

    def _remove_stale_ifaces(self, st: BridgeState, row: Any, retry_failed: bool) -> None:
        """Removes interfaces the bridge no longer has or whose configuration changed
        (and, with ``retry_failed``, forgets failed ones so they are tried again)."""
        wanted = self._wanted_ifaces(row)
        for name, ist in list(st.ifaces.items()):
            entry = wanted.get(name)
            if entry is None or entry[0].uuid != ist.uuid or \
                    self._signature(st, entry[0], entry[1]) != ist.signature or \
                    (retry_failed and ist.ofport is None):
                self._remove_iface(st, ist)

    def _reconfigure_ports(self, st: BridgeState, row: Any, other_config: dict) -> None:
        br = st.ofbridge
        wanted = self._wanted_ifaces(row)
        for name, (iface, port) in wanted.items():
            ist = st.ifaces.get(name)
            if ist is None:
                ist = IfaceState(iface.uuid, name, self._signature(st, iface, port))
                st.ifaces[name] = ist
                try:
                    if len(port["interfaces"] or ()) > 1:
                        raise ConfigError("bonds are not supported yet")
                    self._add_iface(st, ist, iface, port, other_config)
                except (ConfigError, DpifError, ValueError) as e:
                    ist.error = str(e)
                    log.warn("{br}: could not add interface {i}: {e}", br=st.name, i=name, e=e)
                    continue
            if ist.ofport is not None:
                try:
                    self._apply_vlan(br, ist, port)
                except ValueError as e:
                    ist.error = str(e)

    def _signature(self, st: BridgeState, iface: Any, port: Any) -> tuple:
        return (self._iface_type(st, iface), tuple(sorted((iface["options"] or {}).items())),
                _optional(iface["ofport_request"]), _optional(iface["mtu_request"]))

    @staticmethod
    def _iface_type(st: BridgeState, iface: Any) -> str:
        t = iface["type"] or ""
        if t == "":
            # OVS: the interface named after its bridge is the bridge's local port.
            return "internal" if iface["name"] == st.name else "system"
        return t

    def _add_iface(self, st: BridgeState, ist: IfaceState, iface: Any, port: Any,
                   other_config: dict[str, str]) -> None:
        br = st.ofbridge
        itype = ist.signature[0]
        if itype not in IFACE_TYPES:
            raise ConfigError(f"could not open network device {ist.name} (No such device): "
                              f"interface type {itype!r} is not supported")
        options = dict(iface["options"] or {})
        mtu = _optional(iface["mtu_request"])
        if mtu is not None:
            options["mtu_request"] = str(mtu)
        if ist.name == st.name:
            ofport = OFPP_LOCAL
            if itype != "internal":
                raise ConfigError(f"{ist.name}: the bridge's own interface must be internal")
        else:
            ofport = _optional(iface["ofport_request"])
            if ofport is not None:
                ofport = int(ofport)
                if not 1 <= ofport < consts.OFPPort.OFPP_MAX or br.ports.get(ofport):
                    raise ConfigError(f"ofport_request {ofport} is not available")
        if itype == "patch":
            peer = options.get("peer")
            if not peer or peer == ist.name:
                raise ConfigError(f"{ist.name}: patch interface needs options:peer naming "
                                  "another patch interface")
            ist.patch_peer = peer
            # Known before the port exists: adding it revalidates the peer's bridge,
            # whose translations must already find this end.
            ist.ofport = ofport if ofport is not None else br.free_ofport()
            br.add_patch_port(ist.name, _PatchLink(self, ist.name, peer), ofport=ist.ofport)
            log.info("{br}: added patch interface {i} (peer {p}) on port {n}", br=st.name,
                     i=ist.name, p=peer, n=ist.ofport)
            return
        hw = bridge_mac(st.name, other_config) if ofport == OFPP_LOCAL else 0
        ofport = br.add_port(ist.name, itype, options, ofport=ofport, hw_addr=hw)
        ist.ofport = ofport
        ist.odp_port = br.ports.odp_of(ofport)
        self._odp_owner[ist.odp_port] = br
        log.info("{br}: added interface {i} on port {p}", br=st.name, i=ist.name, p=ofport)

    @staticmethod
    def _apply_vlan(br: OFBridge, ist: IfaceState, port: Any) -> None:
        cur = br.ports.get(ist.ofport)
        tag = _optional(port["tag"])
        new = PortConfig(cur.ofport, cur.odp_port, cur.name, tag=tag,
                         trunks=frozenset(port["trunks"] or ()),
                         vlan_mode=_optional(port["vlan_mode"]))
        if (new.tag, new.trunks, new.vlan_mode) != (cur.tag, cur.trunks, cur.vlan_mode):
            cur.tag, cur.trunks, cur.vlan_mode = new.tag, new.trunks, new.vlan_mode
            br.mac_learning.flush_port(cur.ofport)
            br.revalidate()

    def patch_peer(self, name: str, peer: str) -> tuple[OFBridge, int] | None:
        """The bridge and OpenFlow port of patch interface ``peer`` if it exists and
        points back at ``name``."""
        for st in self._bridges.values():
            ist = st.ifaces.get(peer)
            if ist is not None and ist.patch_peer == name and ist.ofport is not None \
                    and st.ofbridge is not None:
                return st.ofbridge, ist.ofport
        return None

    def _cross_revalidate(self, origin: OFBridge) -> None:
        """Megaflows that cross patch ports depend on every bridge they cross."""
        if self._cross_revalidating:
            return
        self._cross_revalidating = True
        try:
            for st in self._bridges.values():
                br = st.ofbridge
                if br is not None and br is not origin and \
                        any(i.patch_peer for i in st.ifaces.values()):
                    br.revalidate()
        finally:
            self._cross_revalidating = False

    def _remove_iface(self, st: BridgeState, ist: IfaceState) -> None:
        st.ifaces.pop(ist.name, None)
        if ist.ofport is None or st.ofbridge is None:
            return
        if ist.odp_port is not None:
            self._odp_owner.pop(ist.odp_port, None)
        try:
            st.ofbridge.del_port(ist.ofport)
        except DpifError as e:
            log.warn("{br}: removing {i}: {e}", br=st.name, i=ist.name, e=e)
        log.info("{br}: removed interface {i}", br=st.name, i=ist.name)

    def _del_bridge(self, name: str) -> Any:
        from twisted.internet import defer

        st = self._bridges.pop(name)
        if st.ofbridge is None:
            return defer.succeed(None)
        for ist in list(st.ifaces.values()):
            self._remove_iface(st, ist)
        st.ofbridge.close()
        log.info("{br}: deleted", br=name)
        return st.ofbridge.connmgr.stop()

    # -- periodic work --

    def _run_periodic(self) -> None:
        for st in self._bridges.values():
            if st.ofbridge is not None:
                try:
                    st.ofbridge.run_periodic()
                except Exception:
                    log.failure("{br}: periodic work failed", br=st.name)
        # Controller connection state changes without a database change.
        if self._held():
            self.write_status()

    def _stats_tick(self) -> None:
        self._stats_due = True
        if self._held():
            self.write_status()

    # -- write-back --

    def write_status(self) -> None:
        """Writes what differs between the replica and the running state in one
        transaction (none if nothing differs), so the updates it causes settle."""
        if self._txn_in_flight:
            self._txn_again = True
            return
        try:
            ops = status_operations(self, with_stats=self._stats_due)
        except Exception:   # never let a status bug stop reconfiguration
            log.failure("cannot compute the status to write back")
            return
        self._stats_due = False
        if not ops:
            return
        self._txn_in_flight = True
        d = self.idl.transact(ops)

        def done(result: Any) -> None:
            self._txn_in_flight = False
            if self._txn_again:
                self._txn_again = False
                self.write_status()

        def failed(failure: Any) -> None:
            log.warn("status write-back failed: {f}", f=failure.getErrorMessage())

        d.addErrback(failed).addBoth(done)

    def bridge_states(self) -> dict[str, BridgeState]:
        return self._bridges

