"""Debian's ovs-vsctl (``--no-wait``) as a client of an Open_vSwitch database."""

from __future__ import annotations

import json
import re

import pytest
from conftest import require_tool

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


@pytest.fixture
def vs(vswitch_server):
    """The server, initialised with ``ovs-vsctl init``."""
    require_tool("ovs-vsctl")
    vswitch_server.vsctl("init")
    return vswitch_server


def out(srv, *args) -> str:
    return srv.vsctl(*args).stdout


def lines(srv, *args) -> list[str]:
    return out(srv, *args).split()


def _datum(value):
    """ovs-vsctl JSON output datum -> Python (uuids as strings, sets as lists, maps dicts)."""
    if isinstance(value, list) and value:
        kind = value[0]
        if kind in ("uuid", "named-uuid"):
            return value[1]
        if kind == "set":
            return [_datum(v) for v in value[1]]
        if kind == "map":
            return {_datum(k): _datum(v) for k, v in value[1]}
    return value


def as_list(value) -> list:
    """A set column's value as a list (ovs-vsctl prints one-element sets as the atom)."""
    return value if isinstance(value, list) else [value]


def table(srv, name, *columns) -> list[dict]:
    """``ovs-vsctl --format=json list TABLE`` parsed into dicts (columns as named)."""
    args = ["--format=json"]
    if columns:
        args.append("--columns=" + ",".join(columns))
    doc = json.loads(out(srv, *args, "list", name))
    return [dict(zip(doc["headings"], map(_datum, row), strict=True)) for row in doc["data"]]


def test_init_creates_root_row(vs):
    """``init`` leaves exactly one Open_vSwitch row, with no bridges yet."""
    rows = table(vs, "Open_vSwitch", "_uuid", "bridges", "next_cfg")
    assert len(rows) == 1
    assert UUID_RE.match(rows[0]["_uuid"])
    assert rows[0]["bridges"] == []
    vs.vsctl("init")
    assert len(table(vs, "Open_vSwitch")) == 1


def test_add_br_add_port_list(vs):
    """add-br/add-port create Bridge/Port/Interface rows that list-br/list-ports report."""
    vs.vsctl("add-br", "br0")
    vs.vsctl("add-br", "br1")
    vs.vsctl("add-port", "br0", "p1")
    vs.vsctl("add-port", "br0", "p2", "--", "add-port", "br1", "p3")
    assert lines(vs, "list-br") == ["br0", "br1"]
    assert lines(vs, "list-ports", "br0") == ["p1", "p2"]
    assert lines(vs, "list-ports", "br1") == ["p3"]
    assert lines(vs, "list-ifaces", "br0") == ["p1", "p2"]
    assert out(vs, "port-to-br", "p3").strip() == "br1"
    assert out(vs, "iface-to-br", "p2").strip() == "br0"
    assert vs.vsctl("br-exists", "br0").returncode == 0
    assert vs.vsctl("br-exists", "nope", check=False).returncode == 2

    bridges = {b["name"]: b for b in table(vs, "Bridge", "_uuid", "name", "ports")}
    ports = {p["_uuid"]: p for p in table(vs, "Port", "_uuid", "name", "interfaces")}
    ifaces = {i["_uuid"]: i for i in table(vs, "Interface", "_uuid", "name", "type")}
    br0_ports = as_list(bridges["br0"]["ports"])
    assert sorted(ports[u]["name"] for u in br0_ports) == ["br0", "p1", "p2"]
    assert [ports[u]["name"] for u in as_list(bridges["br1"]["ports"])].count("p3") == 1
    for p in ports.values():
        assert [ifaces[u]["name"] for u in as_list(p["interfaces"])] == [p["name"]]
    by_name = {i["name"]: i for i in ifaces.values()}
    assert by_name["br0"]["type"] == "internal"
    assert by_name["p1"]["type"] == ""
    root = table(vs, "Open_vSwitch", "bridges")[0]
    assert sorted(as_list(root["bridges"])) == sorted(b["_uuid"] for b in bridges.values())


def test_set_get_columns_and_keys(vs):
    """set/get on map keys and scalar columns round-trip exactly."""
    vs.vsctl("add-br", "br0", "--", "set", "Bridge", "br0",
             'other_config:hwaddr="00:11:22:33:44:55"', "other_config:disable-in-band=true")
    vs.vsctl("add-port", "br0", "vx", "--", "set", "Interface", "vx", "type=vxlan",
             "options:remote_ip=10.0.0.2", "options:key=5")
    assert out(vs, "get", "Bridge", "br0", "other_config:hwaddr").strip() == \
        '"00:11:22:33:44:55"'
    assert out(vs, "get", "Bridge", "br0", "other_config:disable-in-band").strip() == \
        '"true"'
    assert out(vs, "get", "Interface", "vx", "type").strip() == "vxlan"
    assert out(vs, "get", "Interface", "vx", "options").strip() == \
        '{key="5", remote_ip="10.0.0.2"}'
    (vx,) = [i for i in table(vs, "Interface", "name", "type", "options") if i["name"] == "vx"]
    assert vx["options"] == {"key": "5", "remote_ip": "10.0.0.2"}

    vs.vsctl("set", "Bridge", "br0", "stp_enable=true", "fail_mode=secure")
    assert out(vs, "get", "Bridge", "br0", "stp_enable").strip() == "true"
    assert out(vs, "get", "Bridge", "br0", "fail_mode").strip() == "secure"
    vs.vsctl("remove", "Bridge", "br0", "other_config", "hwaddr")
    assert table(vs, "Bridge", "other_config")[0]["other_config"] == {
        "disable-in-band": "true"}
    vs.vsctl("clear", "Bridge", "br0", "fail_mode")
    assert out(vs, "get", "Bridge", "br0", "fail_mode").strip() == "[]"
    vs.vsctl("set", "Interface", "vx", "ofport_request=7")
    assert out(vs, "get", "Interface", "vx", "ofport_request").strip() == "7"
    # A constraint violation (ofport_request range is 1..65279) is refused.
    bad = vs.vsctl("set", "Interface", "vx", "ofport_request=0", check=False)
    assert bad.returncode != 0
    assert out(vs, "get", "Interface", "vx", "ofport_request").strip() == "7"


def test_create_with_references(vs):
    """``--id=@x create`` rows referenced in the same transaction resolve to real rows."""
    vs.vsctl("add-br", "br0", "--", "add-port", "br0", "p1")
    ctl_uuid = out(vs, "--", "--id=@c", "create", "Controller",
                   'target="tcp:127.0.0.1:6653"', "--", "set", "Bridge", "br0",
                   "controller=@c").split()
    assert len(ctl_uuid) == 1 and UUID_RE.match(ctl_uuid[0])
    assert out(vs, "get-controller", "br0").strip() == "tcp:127.0.0.1:6653"
    assert table(vs, "Bridge", "controller")[0]["controller"] == ctl_uuid[0]
    assert [c["_uuid"] for c in table(vs, "Controller", "_uuid")] == ctl_uuid

    created = lines(vs, "--", "--id=@q", "create", "Queue", "other_config:min-rate=1000",
                    "--", "--id=@qos", "create", "QoS", "type=linux-htb", "queues:0=@q",
                    "--", "set", "Port", "p1", "qos=@qos")
    assert len(created) == 2
    queue_uuid, qos_uuid = created
    (qos,) = table(vs, "QoS", "_uuid", "type", "queues")
    assert qos == {"_uuid": qos_uuid, "type": "linux-htb", "queues": {0: queue_uuid}}
    (queue,) = table(vs, "Queue", "_uuid", "other_config")
    assert queue == {"_uuid": queue_uuid, "other_config": {"min-rate": "1000"}}
    p1 = [p for p in table(vs, "Port", "name", "qos") if p["name"] == "p1"][0]
    assert p1["qos"] == qos_uuid

    # QoS and Queue are root tables: unreferenced, they stay until destroyed.
    vs.vsctl("clear", "Port", "p1", "qos")
    assert [q["_uuid"] for q in table(vs, "QoS", "_uuid")] == [qos_uuid]
    vs.vsctl("destroy", "QoS", qos_uuid)
    assert table(vs, "QoS") == []
    assert [q["_uuid"] for q in table(vs, "Queue", "_uuid")] == [queue_uuid]
    # Controller is not a root table: dropping its only reference garbage-collects it.
    vs.vsctl("del-controller", "br0")
    assert table(vs, "Controller") == []


def test_show(vs):
    """``ovs-vsctl show`` renders bridges, controllers, ports and interface details."""
    vs.vsctl("add-br", "br0", "--", "add-port", "br0", "p1", "--", "set", "Interface", "p1",
             "type=internal", "--", "add-port", "br0", "vx", "--", "set", "Interface", "vx",
             "type=vxlan", "options:remote_ip=10.0.0.2")
    vs.vsctl("set-controller", "br0", "tcp:127.0.0.1:6653")
    text = out(vs, "show")
    root = table(vs, "Open_vSwitch", "_uuid")[0]["_uuid"]
    got = text.splitlines()
    assert got[0] == root
    assert "    Bridge br0" in got
    assert '        Controller "tcp:127.0.0.1:6653"' in got
    for port in ("br0", "p1", "vx"):
        assert f"        Port {port}" in got
        assert f"            Interface {port}" in got
    assert "                type: vxlan" in got
    assert '                options: {remote_ip="10.0.0.2"}' in got
    assert got.count("                type: internal") == 2


def test_del_br_garbage_collects(vs):
    """del-br removes the bridge and its Port/Interface rows (garbage collection)."""
    vs.vsctl("add-br", "br0", "--", "add-port", "br0", "a1", "--", "add-port", "br0", "a2")
    vs.vsctl("add-br", "br1", "--", "add-port", "br1", "b1")
    assert sorted(i["name"] for i in table(vs, "Interface", "name")) == [
        "a1", "a2", "b1", "br0", "br1"]
    vs.vsctl("del-br", "br0")
    assert lines(vs, "list-br") == ["br1"]
    assert sorted(i["name"] for i in table(vs, "Interface", "name")) == ["b1", "br1"]
    assert sorted(p["name"] for p in table(vs, "Port", "name")) == ["b1", "br1"]
    assert [b["name"] for b in table(vs, "Bridge", "name")] == ["br1"]
    names = re.findall(r"^name\s*: (\S+)$", out(vs, "list", "Interface"), re.M)
    assert sorted(names) == ["b1", "br1"]
    vs.vsctl("del-port", "br1", "b1")
    assert sorted(i["name"] for i in table(vs, "Interface", "name")) == ["br1"]


def test_errors_leave_db_unchanged(vs):
    """Failing commands (duplicate bridge, unknown port) change nothing."""
    vs.vsctl("add-br", "br0")
    r = vs.vsctl("add-br", "br0", check=False)
    assert r.returncode != 0 and "already exists" in r.stderr
    r = vs.vsctl("del-port", "br0", "nosuch", check=False)
    assert r.returncode != 0
    assert lines(vs, "list-br") == ["br0"]
    assert len(table(vs, "Interface")) == 1


def test_external_ids_and_find(vs):
    """br-set-external-id / find select rows by column values."""
    vs.vsctl("add-br", "br0", "--", "add-br", "br1")
    vs.vsctl("br-set-external-id", "br1", "owner", "tests")
    assert out(vs, "br-get-external-id", "br1", "owner").strip() == "tests"
    found = out(vs, "--bare", "--columns=name", "find", "Bridge",
                "external_ids:owner=tests").split()
    assert found == ["br1"]
