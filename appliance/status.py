"""What vswitchd writes back to the Open_vSwitch database (vswitch.xml's status columns).

:func:`status_operations` compares the running state of a :class:`~appliance.vswitchd.
Vswitchd` with its IDL replica and returns the RFC 7047 ``update`` operations (section
5.2.2) that bring the database in line: only rows and columns that differ, so the
updates the write causes find nothing more to write.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from appliance import __version__
from appliance.dpif import DpifError
from ofproto.ofp.consts import OFPControllerRole, OFPPort

if TYPE_CHECKING:
    from appliance.vswitchd import BridgeState, Vswitchd

#: Interface types the userspace datapath takes (Open_vSwitch.iface_types).
IFACE_TYPES = ("dpdk", "dpdkvhostuser", "dpdkvhostuserclient", "internal", "patch",
               "system")
DATAPATH_TYPES = ("netdev", "system")
OFPP_LOCAL = int(OFPPort.OFPP_LOCAL)
#: How the database numbers the local port (OpenFlow 1.0's OFPP_LOCAL), as OVS does.
DB_OFPP_LOCAL = 0xFFFE
_ROLE_NAMES = {OFPControllerRole.OFPCR_ROLE_EQUAL: "other",
               OFPControllerRole.OFPCR_ROLE_MASTER: "master",
               OFPControllerRole.OFPCR_ROLE_SLAVE: "slave"}

_STAT_KEYS = ("rx_packets", "rx_bytes", "rx_dropped", "rx_errors",
              "tx_packets", "tx_bytes", "tx_dropped", "tx_errors")


def _update(ops: list[dict], idl: Any, row: Any, table: str, wanted: dict[str, Any]) -> None:
    changed = {}
    for col, value in wanted.items():
        if isinstance(value, set | frozenset | list | tuple):
            value = frozenset(value)   # the IDL's shape for set columns
        if row.get(col) != value:
            changed[col] = idl.to_json(table, col, value)
    if changed:
        ops.append({"op": "update", "table": table,
                    "where": [["_uuid", "==", ["uuid", row.uuid]]], "row": changed})


def _iface_columns(vs: Vswitchd, st: BridgeState, name: str,
                   with_stats: bool) -> dict[str, Any]:
    ist = st.ifaces[name]
    if ist.ofport is None:
        return {"ofport": -1, "error": ist.error or "not configured", "admin_state": None,
                "link_state": None}
    ofport = DB_OFPP_LOCAL if ist.ofport == OFPP_LOCAL else ist.ofport
    cols: dict[str, Any] = {"ofport": ofport, "error": ist.error}
    if ist.patch_peer is not None:
        up = vs.patch_peer(name, ist.patch_peer) is not None
        cols.update(admin_state="up", link_state="up" if up else "down",
                    status={"peer": ist.patch_peer})
        return cols
    try:
        info = vs.dpif.port_info(ist.odp_port)
    except DpifError:
        return cols
    cols.update(admin_state="up", link_state="up" if info.link_up else "down",
                link_speed=info.link_speed * 1_000_000 if info.link_speed else None,
                mtu=info.mtu, mac_in_use=":".join(f"{b:02x}" for b in info.mac),
                status={"driver_name": info.driver, "n_rxq": str(info.n_rxq),
                        "n_txq": str(info.n_txq)})
    if with_stats:
        s = vs.dpif.port_stats(ist.odp_port)
        cols["statistics"] = {k: getattr(s, k) for k in _STAT_KEYS}
    return cols


def status_operations(vs: Vswitchd, with_stats: bool) -> list[dict]:
    """The update operations for Open_vSwitch, Bridge, Interface and Controller rows
    (``statistics`` only when ``with_stats``); ``cur_cfg`` is set to ``next_cfg`` last
    seen, since every row of that configuration has been applied by now."""
    idl = vs.idl
    tables = idl.tables
    ops: list[dict] = []
    for st in vs.bridge_states().values():
        row = tables["Bridge"].get(st.uuid)
        if row is None:
            continue
        br = st.ofbridge
        _update(ops, idl, row, "Bridge", {
            "datapath_id": f"{br.switch.datapath_id:016x}" if br is not None else None,
            "status": {"error": st.error} if st.error else {},
        })
        for name, ist in st.ifaces.items():
            irow = tables["Interface"].get(ist.uuid)
            if irow is not None:
                _update(ops, idl, irow, "Interface", _iface_columns(vs, st, name, with_stats))
        for cu in row["controller"] or ():
            crow = tables["Controller"].get(cu)
            if crow is None:
                continue
            connected, role = (br.connmgr.controller_status(crow["target"])
                               if br is not None else (False, None))
            _update(ops, idl, crow, "Controller", {
                "is_connected": connected,
                "role": _ROLE_NAMES.get(role) if connected else None,
                "status": {"state": "ACTIVE" if connected else "BACKOFF"},
            })
    root = next(iter(tables.get("Open_vSwitch", {}).values()), None)
    if root is not None:
        wanted: dict[str, Any] = {
            "cur_cfg": root["next_cfg"],
            "dpdk_initialized": vs.dpif is not None,
            "datapath_types": set(DATAPATH_TYPES),
            "iface_types": set(IFACE_TYPES),
            "ovs_version": __version__,
        }
        if vs.dpif is not None:
            from appliance.dpif.netdev import dpdk_version

            wanted["dpdk_version"] = dpdk_version()
        if idl.schema is not None:
            wanted["db_version"] = idl.schema.version
        _update(ops, idl, root, "Open_vSwitch", wanted)
    return ops
