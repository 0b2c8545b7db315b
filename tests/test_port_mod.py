"""OFPT_PORT_MOD: Debian's ``ovs-ofctl mod-port`` in OpenFlow 1.0, 1.3 and 1.4 against
the switch's management socket, and the errors of OpenFlow 1.3.5 A.4.4
(OFPET_PORT_MOD_FAILED) sent straight to :class:`ofproto.switch.OFSwitch`.  What the
config bits do to forwarding is in ``test_bridge_datapath.py``."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from helpers.ofswitch import FakeConn, run_ofctl

from ofproto.ofp import messages as M
from ofproto.ofp.consts import OFP13, OFPPortModFailedCode
from ofproto.ofp.consts import OFPErrorType as ET
from ofproto.ofp.errors import OFPDecodeError
from ofproto.switch import OFPort, OFSwitch


def port_block(rundir: Path, port: int, proto: str) -> str:
    """The lines ``ovs-ofctl show`` prints for ``port``."""
    out = run_ofctl(rundir, "show", "br0", proto=proto).stdout
    m = re.search(rf"^ {port}\(p{port}\):.*?(?=^ \S|\Z)", out, re.M | re.S)
    assert m, out
    return m.group(0)


def config_of(block: str) -> str:
    return re.search(r"config:\s+(.*)", block).group(1).strip()


@pytest.mark.parametrize("proto", ["OpenFlow13", "OpenFlow10", "OpenFlow14"])
def test_mod_port_sets_and_clears_config(br0, proto):
    run_ofctl(br0, "mod-port", "br0", "p1", "down", proto=proto)
    block = port_block(br0, 1, proto)
    assert config_of(block) == "PORT_DOWN"
    assert re.search(r"state:\s+LINK_DOWN", block), block
    run_ofctl(br0, "mod-port", "br0", "p1", "no-forward", proto=proto)
    assert config_of(port_block(br0, 1, proto)) == "PORT_DOWN NO_FWD"
    run_ofctl(br0, "mod-port", "br0", "p1", "up", proto=proto)
    run_ofctl(br0, "mod-port", "br0", "p1", "forward", proto=proto)
    block = port_block(br0, 1, proto)
    assert config_of(block) == "0"
    assert not re.search(r"state:\s+LINK_DOWN", block), block
    assert config_of(port_block(br0, 2, proto)) == "0"   # the others are untouched


def test_mod_port_no_flood_is_openflow10(br0):
    run_ofctl(br0, "mod-port", "br0", "p3", "no-flood", proto="OpenFlow10")
    assert config_of(port_block(br0, 3, "OpenFlow10")) == "NO_FLOOD"


@pytest.fixture
def switch() -> OFSwitch:
    sw = OFSwitch("br0", 0x42, clock=lambda: 100.0)
    for i in (1, 2):
        sw.add_port(OFPort(i, f"p{i}", hw_addr=0x020000000000 + i))
    return sw


@pytest.mark.parametrize("fields, code", [
    (dict(port_no=9, hw_addr=0x020000000009), OFPPortModFailedCode.OFPPMFC_BAD_PORT),
    (dict(port_no=1, hw_addr=0x020000000002), OFPPortModFailedCode.OFPPMFC_BAD_HW_ADDR),
    # OFPPC_NO_FLOOD (1 << 4) exists only in OpenFlow 1.0.
    (dict(port_no=1, hw_addr=0x020000000001, config=0x10, mask=0x10),
     OFPPortModFailedCode.OFPPMFC_BAD_CONFIG),
])
def test_bad_port_mod_is_refused_and_changes_nothing(switch, fields, code):
    msg = M.PortMod(version=OFP13, xid=7, **({"config": 1, "mask": 1} | fields))
    raw = msg.encode()
    with pytest.raises(OFPDecodeError) as e:
        switch.handle_message(FakeConn(OFP13), M.decode_message(raw), raw)
    assert (e.value.type, e.value.code) == (ET.OFPET_PORT_MOD_FAILED, code)
    assert [p.config for p in switch.ports.values()] == [0, 0]


def test_port_mod_reaches_the_listener_once(switch):
    seen = []
    switch.port_config_listener = lambda port: seen.append((port.port_no, port.config))
    msg = M.PortMod(version=OFP13, xid=1, port_no=2, hw_addr=0x020000000002,
                    config=0x20, mask=0x20)
    for _ in range(2):   # the second changes nothing, so it is not announced again
        raw = msg.encode()
        switch.handle_message(FakeConn(OFP13), M.decode_message(raw), raw)
    assert seen == [(2, 0x20)]
