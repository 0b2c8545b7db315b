"""Bundles: OpenFlow 1.4 OFPT_BUNDLE_CONTROL / OFPT_BUNDLE_ADD_MESSAGE and the ONF
extension for OpenFlow 1.3 (EXT-230), through Debian's ``ovs-ofctl --bundle`` and
directly against :class:`ofproto.switch.OFSwitch`.

Semantics checked (OpenFlow 1.4.1 sections 6.8 and 7.3.9): a bundle is per
connection; a message that fails when added is answered with an error and not added;
the commit applies everything atomically or nothing, answering the failing message
with its error and the commit with OFPBFC_MSG_FAILED.
"""

from __future__ import annotations

import re
import struct
from pathlib import Path

import pytest
from helpers.ofswitch import FakeConn, run_ofctl

from ofproto.ofp import actions as A
from ofproto.ofp import bundles as B
from ofproto.ofp import messages as M
from ofproto.ofp import oxm
from ofproto.ofp.consts import OFP13, OFP14, ONF_EXPERIMENTER_ID
from ofproto.ofp.consts import OFPErrorType as ET
from ofproto.switch import OFPort, OFSwitch

BFC = B.OFPBundleFailedCode
BCT = B.OFPBundleCtrlType


def _hex(s: str) -> bytes:
    return bytes.fromhex(s.replace(" ", "").replace("\n", ""))


# --- codec: vectors from OVS tests/ofp-print.at -----------------------------------------


@pytest.mark.parametrize("ctype", range(8))
def test_bundle_control_vectors(ctype: int) -> None:
    # "OFPT_BUNDLE_CONTROL - OPEN_REQUEST ... DISCARD_REPLY": bundle_id=0x1 flags=atomic
    data = _hex(f"05 21 00 10 00 00 00 00 00 00 00 01 00 {ctype:02x} 00 01")
    msg = M.decode_message(data)
    assert isinstance(msg, B.BundleCtrl)
    assert (msg.bundle_id, msg.type, msg.flags) == (1, ctype, B.OFPBundleFlags.OFPBF_ATOMIC)
    assert msg.encode() == data


def test_bundle_add_vector() -> None:
    # "OFPT_BUNDLE_ADD_MESSAGE - FLOW_MOD": ADD table:1 priority=65535,arp,in_port=1,...
    data = _hex("""05 22 00 a0 00 00 00 02 00 00 00 01 00 00 00 01
        05 0e 00 90 00 00 00 02 00 00 00 00 00 00 00 00
        00 00 00 00 00 00 00 00 01 00 00 00 00 00 ff ff
        ff ff ff ff ff ff ff ff ff ff ff ff 00 00 00 00
        00 01 00 42 80 00 00 04 00 00 00 01 80 00 08 06
        50 54 00 00 00 06 80 00 06 06 50 54 00 00 00 05
        80 00 0a 02 08 06 80 00 0c 02 00 00 80 00 2a 02
        00 02 80 00 2c 04 c0 a8 00 02 80 00 2e 04 c0 a8
        00 01 00 00 00 00 00 00 00 04 00 18 00 00 00 00
        00 00 00 10 00 00 00 03 00 00 00 00 00 00 00 00""")
    msg = M.decode_message(data)
    assert isinstance(msg, B.BundleAdd)
    assert (msg.bundle_id, msg.flags, msg.xid) == (1, 1, 2)
    inner = M.decode_message(msg.message)
    assert isinstance(inner, M.FlowMod) and inner.table_id == 1 and inner.priority == 0xFFFF
    assert inner.match["arp_op"] == (2, None)
    assert msg.encode() == data


def test_onf_bundle_round_trip() -> None:
    ctrl = B.ONFBundleCtrl(xid=7, bundle_id=3, type=BCT.OFPBCT_COMMIT_REQUEST, flags=1)
    raw = ctrl.encode()
    assert raw[:8] == struct.pack("!BBHI", OFP13, 4, 24, 7)
    assert struct.unpack_from("!II", raw, 8) == (ONF_EXPERIMENTER_ID, B.ONFT_BUNDLE_CONTROL)
    assert B.decode_onf_bundle(M.decode_message(raw)) == ctrl
    fm = M.FlowMod(version=OFP13, xid=8, priority=5, match=oxm.Match(in_port=1))
    add = B.ONFBundleAdd(xid=8, bundle_id=3, flags=1, message=fm.encode())
    back = B.decode_onf_bundle(M.decode_message(add.encode()))
    assert back == add and M.decode_message(back.message) == fm


# --- the switch directly ------------------------------------------------------------------




@pytest.fixture
def switch() -> OFSwitch:
    sw = OFSwitch("br0", 0x42, clock=lambda: 100.0)
    for i in (1, 2, 3):
        sw.add_port(OFPort(i, f"p{i}"))
    return sw


def _fm(version: int, xid: int, priority: int, port: int, out: int, flags: int = 0
        ) -> M.FlowMod:
    return M.FlowMod(version=version, xid=xid, priority=priority, flags=flags,
                     match=oxm.Match(in_port=port),
                     instructions=[A.InstructionApplyActions([A.ActionOutput(out)])])


def _ctrl(version: int, xid: int, ctype: int, bundle_id: int = 1, flags: int = 1
          ) -> M.Message:
    if version == OFP13:
        return B.ONFBundleCtrl(version=OFP13, xid=xid, bundle_id=bundle_id, type=ctype,
                               flags=flags)
    return B.BundleCtrl(version=version, xid=xid, bundle_id=bundle_id, type=ctype,
                        flags=flags)


def _add(version: int, inner: M.Message, bundle_id: int = 1, flags: int = 1) -> M.Message:
    cls = B.ONFBundleAdd if version == OFP13 else B.BundleAdd
    return cls(version=version, xid=inner.xid, bundle_id=bundle_id, flags=flags,
               message=inner.encode())


def _send(sw: OFSwitch, conn: FakeConn, msg: M.Message) -> None:
    raw = msg.encode()
    sw.handle_message(conn, M.decode_message(raw), raw)   # type: ignore[arg-type]


def _bundle_errors(conn: FakeConn) -> list[tuple[int, int]]:
    """(xid, OFPBFC code) of the bundle errors, in either encoding."""
    out = []
    for e in conn.sent:
        if isinstance(e, M.Error) and e.type == ET.OFPET_BUNDLE_FAILED:
            out.append((e.xid, e.code))
        elif isinstance(e, M.Error) and e.type == 0xFFFF:
            assert e.experimenter == ONF_EXPERIMENTER_ID
            out.append((e.xid, e.code - B.ONF_BUNDLE_ERROR_BASE))
    return out


@pytest.mark.parametrize("version", [OFP13, OFP14])
def test_commit_is_atomic(switch: OFSwitch, version: int) -> None:
    conn = FakeConn(version)
    _send(switch, conn, _ctrl(version, 1, BCT.OFPBCT_OPEN_REQUEST))
    reply = conn.sent[-1]
    assert isinstance(reply, B.ONFBundleCtrl if version == OFP13 else B.BundleCtrl)
    assert (reply.xid, reply.type, reply.bundle_id) == (1, BCT.OFPBCT_OPEN_REPLY, 1)
    _send(switch, conn, _add(version, _fm(version, 2, 5, 1, 2)))
    _send(switch, conn, _add(version, _fm(version, 3, 6, 2, 1)))
    # overlaps the first flow of the bundle: only the commit can tell
    _send(switch, conn, _add(version, _fm(version, 4, 5, 1, 3, flags=2)))  # CHECK_OVERLAP
    assert len(switch.pipeline) == 0 and conn.errors() == []
    _send(switch, conn, _ctrl(version, 5, BCT.OFPBCT_COMMIT_REQUEST))
    assert conn.errors()[0] == (4, ET.OFPET_FLOW_MOD_FAILED, 3)   # OFPFMFC_OVERLAP
    assert _bundle_errors(conn) == [(5, BFC.OFPBFC_MSG_FAILED)]
    assert len(switch.pipeline) == 0
    # the bundle is gone after a failed commit
    _send(switch, conn, _ctrl(version, 6, BCT.OFPBCT_COMMIT_REQUEST))
    assert _bundle_errors(conn)[-1] == (6, BFC.OFPBFC_BAD_ID)
    # a good bundle, opened implicitly by its first message
    conn.sent.clear()
    _send(switch, conn, _add(version, _fm(version, 7, 5, 1, 2), bundle_id=9))
    _send(switch, conn, _add(version, _fm(version, 8, 6, 2, 1), bundle_id=9))
    _send(switch, conn, _ctrl(version, 10, BCT.OFPBCT_COMMIT_REQUEST, bundle_id=9))
    assert conn.errors() == []
    assert conn.sent[-1].type == BCT.OFPBCT_COMMIT_REPLY
    assert sorted(r.priority for r in switch.pipeline.rules()) == [5, 6]


@pytest.mark.parametrize("version", [OFP13, OFP14])
def test_bundle_control_errors(switch: OFSwitch, version: int) -> None:
    conn = FakeConn(version)
    _send(switch, conn, _ctrl(version, 1, BCT.OFPBCT_OPEN_REQUEST))
    _send(switch, conn, _ctrl(version, 2, BCT.OFPBCT_OPEN_REQUEST))
    _send(switch, conn, _ctrl(version, 3, BCT.OFPBCT_CLOSE_REQUEST, flags=2))
    _send(switch, conn, _ctrl(version, 4, BCT.OFPBCT_CLOSE_REQUEST, bundle_id=77))
    _send(switch, conn, _ctrl(version, 5, 9))
    _send(switch, conn, _ctrl(version, 6, BCT.OFPBCT_CLOSE_REQUEST))
    _send(switch, conn, _add(version, _fm(version, 7, 5, 1, 2)))
    fm = _fm(version, 8, 5, 1, 2)
    bad_xid = (B.ONFBundleAdd if version == OFP13 else B.BundleAdd)(
        version=version, xid=99, bundle_id=5, flags=1, message=fm.encode())
    _send(switch, conn, bad_xid)
    _send(switch, conn, _add(version, M.EchoRequest(version=version, xid=11), bundle_id=5))
    assert _bundle_errors(conn) == [
        (2, BFC.OFPBFC_BUNDLE_EXIST), (3, BFC.OFPBFC_BAD_FLAGS), (4, BFC.OFPBFC_BAD_ID),
        (5, BFC.OFPBFC_BAD_TYPE), (7, BFC.OFPBFC_BUNDLE_CLOSED),
        (99, BFC.OFPBFC_MSG_BAD_XID), (11, BFC.OFPBFC_MSG_UNSUP)]
    replies = [m.type for m in conn.sent if not isinstance(m, M.Error)]
    assert replies == [BCT.OFPBCT_OPEN_REPLY, BCT.OFPBCT_CLOSE_REPLY]
    # a bad flow is refused when added, the bundle stays usable
    conn.sent.clear()
    _send(switch, conn, _add(version, _fm(version, 12, 5, 1, 99), bundle_id=5))
    assert conn.errors() == [(12, ET.OFPET_BAD_ACTION, 4)]          # OFPBAC_BAD_OUT_PORT
    _send(switch, conn, _add(version, _fm(version, 13, 5, 1, 2), bundle_id=5))
    _send(switch, conn, _ctrl(version, 14, BCT.OFPBCT_DISCARD_REQUEST, bundle_id=5))
    assert conn.sent[-1].type == BCT.OFPBCT_DISCARD_REPLY
    assert len(switch.pipeline) == 0
    # bundles are per connection
    other = FakeConn(version)
    _send(switch, other, _ctrl(version, 15, BCT.OFPBCT_COMMIT_REQUEST))
    assert _bundle_errors(other) == [(15, BFC.OFPBFC_BAD_ID)]


# --- ovs-ofctl --bundle ---------------------------------------------------------------------




def ofctl(rundir: Path, *args: str, proto: str, check: bool = True):
    return run_ofctl(rundir, *args, proto=proto, check=check)


def flows(rundir: Path, proto: str) -> list[str]:
    out = ofctl(rundir, "dump-flows", "br0", "--no-names", "--no-stats", proto=proto).stdout
    return sorted(line.strip() for line in out.splitlines() if "actions=" in line)


PROTOS = {"OpenFlow14": "OFPT_BUNDLE_CONTROL", "OpenFlow13": "ONFT_BUNDLE_CONTROL"}


@pytest.mark.parametrize("proto", sorted(PROTOS))
def test_bundle_add_flows(br0, tmp_path, proto):
    spec = tmp_path / "flows.txt"
    spec.write_text("priority=11,in_port=1,actions=output:2\n"
                    "priority=12,in_port=2,actions=output:1\n"
                    "table=2,priority=13,tcp,tp_dst=80,actions=output:3\n")
    r = ofctl(br0, "-vvconn:dbg", "--bundle", "add-flows", "br0", str(spec), proto=proto)
    sent = re.findall(r"sent \(Success\): (\S+)", r.stderr)
    assert sent.count(PROTOS[proto]) == 2           # open and commit
    assert sent.count(PROTOS[proto].replace("CONTROL", "ADD_MESSAGE")) == 3
    assert "OFPT_FLOW_MOD" not in sent              # every flow went through the bundle
    assert flows(br0, proto) == [
        "priority=11,in_port=1 actions=output:2",
        "priority=12,in_port=2 actions=output:1",
        "table=2, priority=13,tcp,tp_dst=80 actions=output:3"]
    # --bundle with other flow commands
    ofctl(br0, "--bundle", "del-flows", "br0", "in_port=1", proto=proto)
    ofctl(br0, "--bundle", "mod-flows", "br0", "in_port=2,actions=output:3", proto=proto)
    assert flows(br0, proto)[0] == "priority=12,in_port=2 actions=output:3"
    assert len(flows(br0, proto)) == 2


@pytest.mark.parametrize("proto", sorted(PROTOS))
def test_bundle_with_a_bad_flow_commits_nothing(br0, tmp_path, proto):
    ofctl(br0, "add-flow", "br0", "priority=1,actions=drop", proto=proto)
    spec = tmp_path / "flows.txt"
    spec.write_text("priority=21,in_port=1,actions=output:3\n"
                    "priority=22,in_port=2,actions=output:99\n"
                    "priority=23,in_port=3,actions=output:1\n")
    r = ofctl(br0, "--bundle", "add-flows", "br0", str(spec), proto=proto, check=False)
    assert r.returncode != 0
    assert re.search(r"Error OFPBAC_BAD_OUT_PORT for: OFPT_FLOW_MOD .*priority=22", r.stderr)
    assert flows(br0, proto) == ["priority=1 actions=drop"]


@pytest.mark.parametrize("proto", sorted(PROTOS))
def test_bundle_failing_at_commit(br0, tmp_path, proto):
    """The second flow overlaps the first of the same bundle: only the commit finds
    out; ovs-ofctl reports the flow's error and the commit's OFPBFC_MSG_FAILED."""
    spec = tmp_path / "flows.txt"
    spec.write_text("priority=5,in_port=3,actions=output:2\n"
                    "check_overlap,priority=5,in_port=3,actions=output:1\n")
    r = ofctl(br0, "--bundle", "add-flows", "br0", str(spec), proto=proto, check=False)
    assert r.returncode != 0
    assert re.search(r"Error OFPFMFC_OVERLAP for: OFPT_FLOW_MOD .*check_overlap", r.stderr)
    assert re.search(r"Error OFPBFC_MSG_FAILED for: (OFPT|ONFT)_BUNDLE_CONTROL", r.stderr)
    assert flows(br0, proto) == []
