"""Tests for the OpenFlow codec (ofproto.ofp): golden round trips and malformed input.

Golden vectors are os-ken's binary messages (packet_data/of1*/) with their parsed
JSON (tests/unit/ofproto/json/of1*/); every file must decode to a modelled
message and re-encode byte for byte, unless listed in EXPECTED_UNSUPPORTED
(decodes to Raw) or MALFORMED_GOLDEN (the file itself is inconsistent).
"""

from __future__ import annotations

import base64
import ipaddress
import json
import struct
from pathlib import Path

import pytest

os_ken = pytest.importorskip("os_ken")

from ofproto.ofp import (  # noqa: E402
    Match,
    OFPDecodeError,
    Raw,
    decode_message,
    decode_nxm,
    decode_oxm,
    encode_nxm,
    encode_oxm,
    oxm,  # noqa: E402
    split_messages,
)
from ofproto.ofp import actions as A  # noqa: E402
from ofproto.ofp import messages as M  # noqa: E402
from ofproto.ofp.consts import (  # noqa: E402
    OFPBadActionCode,
    OFPBadInstructionCode,
    OFPBadMatchCode,
    OFPBadRequestCode,
    OFPErrorType,
)

OSKEN = Path(os_ken.__file__).parent
PACKETS = OSKEN / "tests" / "packet_data"
JSONS = OSKEN / "tests" / "unit" / "ofproto" / "json"
VERSIONS = ("of10", "of13", "of14", "of15")

_BUNDLE = "bundles not modelled yet"
_MON = "flow monitor not needed (brief)"
EXPECTED_UNSUPPORTED: dict[str, str] = {
    "of14/5-66-ofp_flow_monitor_request.packet": _MON,
    "of14/5-67-ofp_flow_monitor_reply.packet": _MON,
    "of15/libofproto-OFP15-bundle_features_reply.packet": _BUNDLE,
    "of15/libofproto-OFP15-bundle_features_request.packet": _BUNDLE,
    "of15/libofproto-OFP15-controller_status.packet": "controller status not modelled yet",
    "of15/libofproto-OFP15-controller_status_reply.packet": "controller status not modelled",
    "of15/libofproto-OFP15-controller_status_request.packet": "controller status not modelled",
    "of15/libofproto-OFP15-flow_monitor_reply.packet": _MON,
    "of15/libofproto-OFP15-flow_monitor_request.packet": _MON,
}

# Golden files that are themselves malformed: decoding must fail with BAD_LEN.
MALFORMED_GOLDEN: dict[str, str] = {
    "of13/libofproto-OFP13-flow_mod.truncated64": "empty file (truncation test vector)",
    "of15/libofproto-OFP15-meter_features_reply.packet": "header length 32, file 40 bytes",
    "of15/libofproto-OFP15-flow_desc_reply.packet": "goto_table instruction length 0x808 (json: 8)",
}


def _golden_files() -> list[str]:
    out = []
    for v in VERSIONS:
        for p in sorted((PACKETS / v).iterdir()):
            if p.is_file():
                out.append(f"{v}/{p.name}")
    return out


GOLDEN = _golden_files()


def test_unsupported_lists_are_current() -> None:
    for name in (*EXPECTED_UNSUPPORTED, *MALFORMED_GOLDEN):
        assert name in GOLDEN, name


@pytest.mark.parametrize("name", GOLDEN)
def test_golden_round_trip(name: str) -> None:
    data = (PACKETS / name).read_bytes()
    if name in MALFORMED_GOLDEN:
        with pytest.raises(OFPDecodeError) as ei:
            decode_message(data)
        assert (ei.value.type, ei.value.code) == (OFPErrorType.OFPET_BAD_REQUEST,
                                                  OFPBadRequestCode.OFPBRC_BAD_LEN)
        return
    msg = decode_message(data)
    if name in EXPECTED_UNSUPPORTED:
        assert isinstance(msg, Raw), f"{name} is supported now: drop it from the list"
        assert msg.error[0] == OFPErrorType.OFPET_BAD_REQUEST
    else:
        assert not isinstance(msg, Raw), name
        assert msg.version == data[0]
        assert msg.xid == struct.unpack_from("!I", data, 4)[0]
    assert msg.encode() == data
    # decoding the re-encoded bytes gives an equal object
    if not isinstance(msg, Raw):
        assert decode_message(msg.encode()) == msg


# --- comparison with os-ken's parsed JSON -------------------------------------------


def _json_for(name: str) -> dict | None:
    path = JSONS / (name + ".json")
    if not path.exists():
        return None
    doc = json.loads(path.read_text())
    ((_cls, body),) = doc.items()
    return body


def _norm_value(v: object) -> int:
    if isinstance(v, int):
        return v
    assert isinstance(v, str)
    if len(v) == 17 and v.count(":") == 5:
        return oxm.mac(v)
    if "." in v and ":" not in v:
        return oxm.ipv4(v)
    return int(ipaddress.IPv6Address(v))


def _json_match(j: dict) -> list[tuple[str, int, int | None]]:
    ((_c, body),) = j.items()
    fields = body.get("oxm_fields", body.get("fields", []))
    out = []
    for f in fields:
        ((_t, tlv),) = f.items()
        mask = tlv.get("mask")
        out.append((oxm.field_by_name(tlv["field"]).name, _norm_value(tlv["value"]),
                    None if mask is None else _norm_value(mask)))
    return out


_SCALARS = ("buffer_id", "cookie", "cookie_mask", "command", "flags", "hard_timeout",
            "idle_timeout", "priority", "table_id", "out_port", "out_group", "reason",
            "total_len", "datapath_id", "n_buffers", "n_tables", "capabilities",
            "miss_send_len", "role", "generation_id", "group_id", "meter_id", "in_port",
            "port_no", "config", "mask", "advertise", "duration_sec", "duration_nsec",
            "packet_count", "byte_count", "experimenter", "exp_type", "code")


JSON_CASES = [n for n in GOLDEN if n.startswith(("of13/", "of10/"))
              and n not in MALFORMED_GOLDEN and n not in EXPECTED_UNSUPPORTED
              and _json_for(n) is not None]


@pytest.mark.parametrize("name", JSON_CASES)
def test_fields_match_os_ken_json(name: str) -> None:
    j = _json_for(name)
    assert j is not None
    msg = decode_message((PACKETS / name).read_bytes())
    checked = 0
    for key in _SCALARS:
        if key in j and isinstance(j[key], int) and hasattr(msg, key):
            mine = getattr(msg, key)
            if isinstance(mine, int):
                assert mine == j[key], key
                checked += 1
    if "xid" in j:
        assert msg.xid == j["xid"]
    if "data" in j and isinstance(j["data"], str) and hasattr(msg, "data"):
        assert msg.data == base64.b64decode(j["data"])
    if "match" in j and isinstance(msg.match, Match):
        got = [(k, v, m) for k, (v, m) in msg.match.items()]
        assert got == _json_match(j["match"])
    if "instructions" in j:
        assert [next(iter(i.values()))["type"] for i in j["instructions"]] == [
            ins.type for ins in msg.instructions]
        for ji, ins in zip(j["instructions"], msg.instructions, strict=True):
            ((_c, body),) = ji.items()
            if "actions" in body:
                jt = [next(iter(a.values()))["type"] for a in body["actions"]]
                assert jt == [a.type for a in ins.actions]
    if "actions" in j and isinstance(getattr(msg, "actions", None), list):
        jt = [next(iter(a.values())).get("type") for a in j["actions"]]
        assert len(jt) == len(msg.actions)
        for t, a in zip(jt, msg.actions, strict=True):
            assert t is None or t == a.type
    assert checked >= 0


def test_flow_mod_json_details() -> None:
    name = "of13/4-2-ofp_flow_mod.packet"
    msg = decode_message((PACKETS / name).read_bytes())
    assert isinstance(msg, M.FlowMod)
    assert msg.table_id == 1 and msg.priority == 123
    assert msg.match == Match(eth_dst=oxm.mac("f2:0b:a4:7d:f8:ea"))
    apply = msg.instructions[0]
    assert isinstance(apply, A.InstructionWriteActions)
    assert apply.actions[0] == A.ActionSetField("vlan_vid", 258)
    assert apply.actions[-1] == A.ActionOutput(6, 0xFFFF)
    assert isinstance(apply.actions[14], A.ActionExperimenter)
    assert apply.actions[14].experimenter == 101
    second = msg.instructions[1].actions
    assert second == [A.ActionSetField("eth_src", 0x010203040506), A.ActionSetField("pbb_uca", 1)]


def test_nicira_actions_decoded() -> None:
    msg = decode_message((PACKETS / "of13/ovs-ofctl-of13-action_resubmit.packet").read_bytes())
    acts = msg.instructions[0].actions
    assert acts == [A.NXActionResubmitTable(in_port=1234, table_id=99)]
    assert msg.match["tun_src"] == (oxm.ipv4("192.168.2.3"), None)
    msg = decode_message(
        (PACKETS / "of13/ovs-ofctl-of13-match_load_nx_register.packet").read_bytes())
    assert msg.match["reg0"] == (0x1234, None)
    load = msg.instructions[0].actions[0]
    assert isinstance(load, A.NXActionRegLoad) and load.dst == "reg0"
    msg = decode_message((PACKETS / "of10/ovs-ofctl-of10-action_push_mpls.packet").read_bytes())
    assert isinstance(msg, M.FlowMod10)
    assert msg.actions == [A.NXActionPushMpls(0x8847)]
    assert msg.match.to_match()["eth_type"] == (0x0800, None)


# --- Match / OXM / NXM ----------------------------------------------------------


def test_match_aliases_and_round_trip() -> None:
    m = Match(dl_src=0x0A0B0C0D0E0F, dl_type=0x0800, nw_src=(0x0A000000, 0xFF000000),
              nw_proto=6, tp_dst=80, reg3=(5, 0xF))
    assert list(m) == ["eth_src", "eth_type", "ip_src", "nw_proto", "tcp_dst", "reg3"]
    assert m["ipv4_src"] == (0x0A000000, 0xFF000000)
    data = encode_oxm(m)
    assert len(data) % 8 == 0
    back, n = decode_oxm(data)
    assert back == m and n == len(data)
    raw = encode_nxm(m)
    back, n = decode_nxm(raw)
    assert back == m and n == len(raw)
    assert raw[:4] == struct.pack("!I", 0x00000406)  # NXM_OF_ETH_SRC header
    oxm.check_prereqs(m)


def test_prereqs() -> None:
    with pytest.raises(OFPDecodeError) as ei:
        oxm.check_prereqs(Match(tcp_src=80, eth_type=0x0800))
    assert ei.value.code == OFPBadMatchCode.OFPBMC_BAD_PREREQ
    oxm.check_prereqs(Match(eth_type=0x86DD, ip_proto=58, icmpv6_type=135, nd_sll=1))
    with pytest.raises(OFPDecodeError):
        oxm.check_prereqs(Match(vlan_pcp=3, vlan_vid=0))
    oxm.check_prereqs(Match(vlan_pcp=3, vlan_vid=0x1005))


def _oxm_err(data: bytes) -> tuple[int, int]:
    with pytest.raises(OFPDecodeError) as ei:
        decode_oxm(data)
    return ei.value.type, ei.value.code


def test_bad_oxm() -> None:
    BM = OFPErrorType.OFPET_BAD_MATCH
    # eth_type TLV claiming 3 bytes
    tlv = struct.pack("!I", 0x80000A03) + b"\x08\x00\x00"
    assert _oxm_err(struct.pack("!HH", 1, 4 + len(tlv)) + tlv + bytes(1)) == (
        BM, OFPBadMatchCode.OFPBMC_BAD_LEN)
    # TLV running past the match
    tlv = struct.pack("!I", 0x80000A02) + b"\x08"
    assert _oxm_err(struct.pack("!HH", 1, 4 + len(tlv)) + tlv + bytes(7))[1] == \
        OFPBadMatchCode.OFPBMC_BAD_LEN
    # unknown field
    tlv = struct.pack("!I", 0x8000FE02) + b"\x00\x00"
    assert _oxm_err(struct.pack("!HH", 1, 10) + tlv + bytes(6))[1] == \
        OFPBadMatchCode.OFPBMC_BAD_FIELD
    # duplicate field
    tlv = struct.pack("!I", 0x80000A02) + b"\x08\x00"
    assert _oxm_err(struct.pack("!HH", 1, 16) + tlv * 2)[1] == OFPBadMatchCode.OFPBMC_DUP_FIELD
    # mask on a non-maskable field
    tlv = struct.pack("!I", 0x80000B04) + b"\x08\x00\xff\xff"
    assert _oxm_err(struct.pack("!HH", 1, 12) + tlv + bytes(4))[1] == \
        OFPBadMatchCode.OFPBMC_BAD_MASK
    # standard (non-OXM) match type
    assert _oxm_err(struct.pack("!HH", 0, 88) + bytes(84))[1] == OFPBadMatchCode.OFPBMC_BAD_TYPE


# --- malformed messages -----------------------------------------------------------


def _err(data: bytes) -> tuple[int, int]:
    with pytest.raises(OFPDecodeError) as ei:
        decode_message(data)
    return ei.value.type, ei.value.code


BAD_LEN = (OFPErrorType.OFPET_BAD_REQUEST, OFPBadRequestCode.OFPBRC_BAD_LEN)


def _flow_mod_with_actions(actions: bytes) -> bytes:
    ins = struct.pack("!HH4x", 4, 8 + len(actions)) + actions
    body = struct.pack("!QQBBHHHIIIH2x", 0, 0, 0, 0, 0, 0, 1, 0xFFFFFFFF, 0xFFFFFFFF,
                       0xFFFFFFFF, 0) + encode_oxm(Match()) + ins
    return struct.pack("!BBHI", 4, 14, 8 + len(body), 7) + body


def test_truncated_header() -> None:
    assert _err(b"\x04\x00\x00") == BAD_LEN


def test_length_field_lies() -> None:
    assert _err(struct.pack("!BBHI", 4, 2, 20, 1) + b"abc") == BAD_LEN
    assert _err(struct.pack("!BBHI", 4, 2, 8, 1) + b"abc") == BAD_LEN
    assert _err(struct.pack("!BBHI", 4, 9, 8, 1)) == BAD_LEN  # set_config without body


def test_unknown_action_type() -> None:
    data = _flow_mod_with_actions(struct.pack("!HH4x", 99, 8))
    assert _err(data) == (OFPErrorType.OFPET_BAD_ACTION, OFPBadActionCode.OFPBAC_BAD_TYPE)


def test_bad_action_length() -> None:
    data = _flow_mod_with_actions(struct.pack("!HHIH6x", 0, 12, 1, 0))[:-4]
    with pytest.raises(OFPDecodeError) as ei:
        decode_message(data[:2] + struct.pack("!H", len(data)) + data[4:])
    assert ei.value.type in (OFPErrorType.OFPET_BAD_ACTION, OFPErrorType.OFPET_BAD_INSTRUCTION)
    bad = _flow_mod_with_actions(struct.pack("!HHI", 0, 8, 1))  # output needs 16 bytes
    assert _err(bad) == (OFPErrorType.OFPET_BAD_ACTION, OFPBadActionCode.OFPBAC_BAD_LEN)


def test_bad_set_field() -> None:
    tlv = struct.pack("!I", 0x8000FE02) + b"\x00\x00"
    act = struct.pack("!HH", 25, 16) + tlv + bytes(6)
    assert _err(_flow_mod_with_actions(act)) == (OFPErrorType.OFPET_BAD_ACTION,
                                                 OFPBadActionCode.OFPBAC_BAD_SET_TYPE)


def test_unknown_instruction() -> None:
    body = struct.pack("!QQBBHHHIIIH2x", 0, 0, 0, 0, 0, 0, 1, 0xFFFFFFFF, 0xFFFFFFFF,
                       0xFFFFFFFF, 0) + encode_oxm(Match()) + struct.pack("!HH4x", 77, 8)
    data = struct.pack("!BBHI", 4, 14, 8 + len(body), 7) + body
    assert _err(data) == (OFPErrorType.OFPET_BAD_INSTRUCTION,
                          OFPBadInstructionCode.OFPBIC_UNKNOWN_INST)


def test_unknown_message_and_multipart_are_raw() -> None:
    data = struct.pack("!BBHI", 4, 200, 12, 5) + b"abcd"
    m = decode_message(data)
    assert isinstance(m, Raw) and m.encode() == data
    assert m.error == (OFPErrorType.OFPET_BAD_REQUEST, OFPBadRequestCode.OFPBRC_BAD_TYPE)
    data = struct.pack("!BBHIHH4x", 4, 18, 16, 5, 0x7777, 0)
    m = decode_message(data)
    assert isinstance(m, Raw)
    assert m.error == (OFPErrorType.OFPET_BAD_REQUEST, OFPBadRequestCode.OFPBRC_BAD_MULTIPART)
    data = struct.pack("!BBHI", 9, 2, 8, 5)
    m = decode_message(data)
    assert isinstance(m, Raw)
    assert m.error[1] == OFPBadRequestCode.OFPBRC_BAD_VERSION


def test_split_messages() -> None:
    a = M.EchoRequest(xid=1, data=b"hi").encode()
    b = M.BarrierRequest(xid=2).encode()
    msgs, rest = split_messages(a + b + b[:5])
    assert msgs == [a, b] and rest == b[:5]
    msgs, rest = split_messages(a[:7])
    assert msgs == [] and rest == a[:7]
    with pytest.raises(OFPDecodeError):
        split_messages(struct.pack("!BBHI", 4, 0, 4, 0))


def test_hello_versions() -> None:
    h = M.Hello.with_versions({1, 4}, xid=3)
    back = decode_message(h.encode())
    assert isinstance(back, M.Hello) and back.versions == {1, 4} and back.version == 4


def test_build_flow_mod() -> None:
    fm = M.FlowMod(xid=9, table_id=0, priority=100,
                   match=Match(in_port=1, eth_type=0x0800),
                   instructions=[A.InstructionApplyActions([A.ActionOutput(2)]),
                                 A.InstructionGotoTable(1)])
    back = decode_message(fm.encode())
    assert back == fm
