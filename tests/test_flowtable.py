"""Tests for ofproto.flowtable: OpenFlow 1.3 flow-mod semantics (spec 1.3.5 section 6.4)
and the OF1.0 mapping, stats, expiry, listeners, atomic batches."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ofproto.flowtable import OFPError, OFRule, Pipeline, match_from_of10
from ofproto.ofp import actions as A
from ofproto.ofp import decode_message, messages, oxm
from ofproto.ofp.consts import OFP10, OFP14, OFPPort
from ofproto.ofp.consts import OFPBadActionCode as BAC
from ofproto.ofp.consts import OFPBadInstructionCode as BIC
from ofproto.ofp.consts import OFPBadMatchCode as BMC
from ofproto.ofp.consts import OFPBadRequestCode as BRC
from ofproto.ofp.consts import OFPErrorType as ET
from ofproto.ofp.consts import OFPFlowModCommand as FC
from ofproto.ofp.consts import OFPFlowModFailedCode as FMFC
from ofproto.ofp.consts import OFPFlowModFlags as FF
from ofproto.ofp.consts import OFPFlowRemovedReason as RR
from ofproto.ofp.consts import OFPFlowWildcards10 as W
from ofproto.ofp.consts import OFPMeterModFailedCode as MMFC

GOLDEN = (Path(__file__).resolve().parents[1] / ".venv/lib/python3.11/site-packages/os_ken/"
          "tests/packet_data/of13")

ADD, MOD, MOD_S, DEL, DEL_S = (FC.OFPFC_ADD, FC.OFPFC_MODIFY, FC.OFPFC_MODIFY_STRICT,
                               FC.OFPFC_DELETE, FC.OFPFC_DELETE_STRICT)


class Clock:
    def __init__(self, t: float = 1000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def out(port: int) -> list[A.Instruction]:
    return [A.InstructionApplyActions([A.ActionOutput(port)])]


def fm(command: int = ADD, **kw: object) -> messages.FlowMod:
    match = kw.pop("match", None)
    if isinstance(match, dict):
        match = oxm.Match(match)
    return messages.FlowMod(command=command, match=match if match is not None else oxm.Match(),
                            **kw)  # type: ignore[arg-type]


IP = {"eth_type": 0x800}


def ipm(src: int | None = None, mask: int | None = None, **kw: object) -> dict:
    d: dict = dict(IP)
    if src is not None:
        d["ip_src"] = (src, mask)
    d.update(kw)
    return d


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def p(clock: Clock) -> Pipeline:
    return Pipeline(n_tables=8, clock=clock)


def snapshot(p: Pipeline) -> list[tuple]:
    return [(r.table_id, r.priority, repr(r.match), r.cookie, repr(r.instructions),
             r.packet_count, r.byte_count, r.idle_timeout, r.hard_timeout, r.flags)
            for r in p.rules()]


def expect_error(type_: int, code: int, func, *args):  # noqa: ANN001, ANN201
    with pytest.raises(OFPError) as ei:
        func(*args)
    assert (ei.value.type, ei.value.code) == (type_, code), ei.value
    return ei.value


# ------------------------------------------------------------------------ ADD


def test_add_and_lookup_unwildcards(p: Pipeline) -> None:
    res = p.flow_mod(fm(match=ipm(0x0A000000, 0xFF000000), priority=10, instructions=out(1)))
    assert len(res.added) == 1 and not res.replaced
    wc: dict[str, int] = {}
    r = p.lookup(0, {"eth_type": 0x800, "ip_src": 0x0A010203}, wc)
    assert r is res.added[0]
    assert wc["ip_src"] == 0xFF000000 and wc["eth_type"] == 0xFFFF
    assert p.lookup(0, {"eth_type": 0x800, "ip_src": 0x0B000000}) is None
    assert p.lookup(1, {}) is None


def test_add_identical_replaces_keeping_counters(p: Pipeline, clock: Clock) -> None:
    r1 = p.flow_mod(fm(match=ipm(1), priority=5, cookie=1, idle_timeout=3,
                       instructions=out(1))).added[0]
    p.credit(r1, 10, 1000)
    clock.t += 5
    res = p.flow_mod(fm(match=ipm(1), priority=5, cookie=2, hard_timeout=7,
                        instructions=out(2)))
    r2 = res.added[0]
    assert res.replaced == [(r1, r2)] and not res.deleted
    assert p.rules() == [r2]
    # Spec 6.4: counters copied unless RESET_COUNTS; duration cleared; new cookie etc.
    assert (r2.packet_count, r2.byte_count) == (10, 1000)
    assert r2.created == clock.t and r2.cookie == 2
    assert (r2.idle_timeout, r2.hard_timeout) == (0, 7)
    assert r2.instructions == out(2)
    assert p.lookup(0, {"eth_type": 0x800, "ip_src": 1}) is r2


def test_add_reset_counts(p: Pipeline) -> None:
    r1 = p.flow_mod(fm(match=ipm(1), instructions=out(1))).added[0]
    p.credit(r1, 3, 300)
    r2 = p.flow_mod(fm(match=ipm(1), flags=FF.OFPFF_RESET_COUNTS,
                       instructions=out(1))).added[0]
    assert (r2.packet_count, r2.byte_count) == (0, 0)
    assert r2.flags == FF.OFPFF_RESET_COUNTS


def test_deferred_add_is_validated_now_and_inserted_at_commit(clock: Clock) -> None:
    changes: list[list[OFRule]] = []
    p = Pipeline(n_tables=2, clock=clock, valid_port=lambda n: n in (1, 2))
    p.add_listener(changes.append)
    # Errors come from the flow-mod itself, before anything is staged.
    expect_error(ET.OFPET_BAD_ACTION, BAC.OFPBAC_BAD_OUT_PORT, lambda: p.flow_mod(
        fm(match=ipm(1), instructions=out(9)), defer=True))
    expect_error(ET.OFPET_FLOW_MOD_FAILED, FMFC.OFPFMFC_BAD_TABLE_ID, lambda: p.flow_mod(
        fm(match=ipm(1), table_id=5, instructions=out(1)), defer=True))
    res = p.flow_mod(fm(match=ipm(1), priority=5, instructions=out(1)), defer=True)
    assert res.added == [] and changes == []
    clock.t += 3
    p.flow_mod(fm(match=ipm(2), priority=5, instructions=out(2)), defer=True)
    assert p.commit_staged() and not p.commit_staged()
    assert len(changes) == 1 and len(changes[0]) == 2       # one transaction
    r1, r2 = p.rules()
    assert (r1.match.value("ip_src"), r2.match.value("ip_src")) == (1, 2)
    assert (r1.created, r2.created) == (1000.0, 1003.0)     # when each was sent


def test_deferred_adds_are_seen_by_every_reader_and_change(p: Pipeline) -> None:
    p.flow_mod(fm(match=ipm(1), priority=5, instructions=out(1)), defer=True)
    assert len(p) == 1                                      # a reader commits them
    p.flow_mod(fm(match=ipm(2), priority=5, instructions=out(1)), defer=True)
    assert p.lookup(0, {"eth_type": 0x800, "ip_src": 2}) is not None
    p.flow_mod(fm(match=ipm(3), priority=5, instructions=out(1)), defer=True)
    # A later change applies after them: this delete removes the staged add.
    res = p.flow_mod(fm(DEL_S, match=ipm(3), priority=5))
    assert [r.match.value("ip_src") for r in res.deleted] == [3]
    # A later add of the same match and priority replaces the staged one, in order.
    p.flow_mod(fm(match=ipm(4), priority=5, cookie=1, instructions=out(1)), defer=True)
    p.flow_mod(fm(match=ipm(4), priority=5, cookie=2, instructions=out(1)), defer=True)
    assert [r.cookie for r in p.flow_stats(match=oxm.Match(ipm(4)))] == [2]
    # check_overlap depends on the adds before it, so it is never deferred.
    p.flow_mod(fm(match=ipm(5), priority=5, instructions=out(1)), defer=True)
    expect_error(ET.OFPET_FLOW_MOD_FAILED, FMFC.OFPFMFC_OVERLAP, lambda: p.flow_mod(
        fm(match=ipm(5), priority=5, flags=FF.OFPFF_CHECK_OVERLAP, instructions=out(1)),
        defer=True))


def test_deferred_add_broken_by_a_bug_costs_only_itself(clock: Clock) -> None:
    ports = {1, 2}
    p = Pipeline(n_tables=1, clock=clock, valid_port=ports.__contains__)
    p.flow_mod(fm(match=ipm(1), instructions=out(1)), defer=True)
    p.flow_mod(fm(match=ipm(2), instructions=out(2)), defer=True)
    p.flow_mod(fm(match=ipm(3), instructions=out(1)), defer=True)
    ports.discard(2)   # what the connection's commit-before-return rules out
    assert p.commit_staged()
    assert sorted(r.match.value("ip_src") for r in p.rules()) == [1, 3]


def test_add_different_priority_is_separate(p: Pipeline) -> None:
    p.flow_mod(fm(match=ipm(1), priority=5))
    p.flow_mod(fm(match=ipm(1), priority=6))
    assert len(p.rules()) == 2
    assert p.lookup(0, {"eth_type": 0x800, "ip_src": 1}).priority == 6


def test_exact_mask_equals_no_mask(p: Pipeline) -> None:
    p.flow_mod(fm(match=ipm(1, 0xFFFFFFFF), priority=5))
    res = p.flow_mod(fm(match=ipm(1), priority=5))
    assert len(res.replaced) == 1 and len(p.rules()) == 1


def test_check_overlap(p: Pipeline) -> None:
    p.flow_mod(fm(match=ipm(0x0A000000, 0xFF000000), priority=5))
    expect_error(ET.OFPET_FLOW_MOD_FAILED, FMFC.OFPFMFC_OVERLAP, p.flow_mod,
                 fm(match=ipm(0x0A010000, 0xFFFF0000), priority=5,
                    flags=FF.OFPFF_CHECK_OVERLAP))
    # An identical rule overlaps too (spec 6.4).
    expect_error(ET.OFPET_FLOW_MOD_FAILED, FMFC.OFPFMFC_OVERLAP, p.flow_mod,
                 fm(match=ipm(0x0A000000, 0xFF000000), priority=5,
                    flags=FF.OFPFF_CHECK_OVERLAP))
    # Different priority or disjoint match: fine.
    p.flow_mod(fm(match=ipm(0x0A010000, 0xFFFF0000), priority=6, flags=FF.OFPFF_CHECK_OVERLAP))
    p.flow_mod(fm(match=ipm(0x0B000000, 0xFF000000), priority=5, flags=FF.OFPFF_CHECK_OVERLAP))
    assert len(p.rules()) == 3


# --------------------------------------------------------------------- MODIFY


def test_modify_loose_keeps_cookie_counters_timeouts(p: Pipeline, clock: Clock) -> None:
    a = p.flow_mod(fm(match=ipm(1), priority=5, cookie=0x11, idle_timeout=9,
                      flags=FF.OFPFF_SEND_FLOW_REM, instructions=out(1))).added[0]
    b = p.flow_mod(fm(match=ipm(2), priority=6, cookie=0x22, instructions=out(1))).added[0]
    c = p.flow_mod(fm(match={"eth_type": 0x806}, priority=7, instructions=out(1))).added[0]
    p.credit(a, 4, 400)
    clock.t += 2
    res = p.flow_mod(fm(MOD, match=IP, cookie=0x99, instructions=out(3),
                        idle_timeout=1, flags=0))
    assert res.modified == [a, b] and not res.added
    for r in (a, b):
        assert r.instructions == out(3) and r.modified == clock.t
    assert (a.cookie, b.cookie) == (0x11, 0x22)  # OF1.3 modify keeps cookies
    assert a.idle_timeout == 9 and a.flags == FF.OFPFF_SEND_FLOW_REM
    assert a.packet_count == 4 and a.created == 1000.0
    assert c.instructions == out(1)
    assert p.rules() == [a, b, c]  # modified in place


def test_modify_reset_counts(p: Pipeline) -> None:
    a = p.flow_mod(fm(match=ipm(1), instructions=out(1))).added[0]
    p.credit(a, 4, 400)
    p.flow_mod(fm(MOD, match=IP, flags=FF.OFPFF_RESET_COUNTS, instructions=out(2)))
    assert (a.packet_count, a.byte_count) == (0, 0)


def test_modify_strict(p: Pipeline) -> None:
    a = p.flow_mod(fm(match=ipm(1), priority=5, instructions=out(1))).added[0]
    b = p.flow_mod(fm(match=ipm(1), priority=6, instructions=out(1))).added[0]
    res = p.flow_mod(fm(MOD_S, match=ipm(1), priority=6, instructions=out(2)))
    assert res.modified == [b]
    assert a.instructions == out(1) and b.instructions == out(2)
    # Strict needs the identical match: a more general match selects nothing.
    assert not p.flow_mod(fm(MOD_S, match=IP, priority=6, instructions=out(3))).modified


def test_modify_nothing_matches_does_not_add_in_of13(p: Pipeline) -> None:
    res = p.flow_mod(fm(MOD, match=ipm(1), instructions=out(1)))
    assert not res.added and not res.modified and p.rules() == []
    res = p.flow_mod(fm(MOD_S, match=ipm(1), instructions=out(1)))
    assert not res.added and p.rules() == []


def test_modify_cookie_filter(p: Pipeline) -> None:
    a = p.flow_mod(fm(match=ipm(1), cookie=0x1234, instructions=out(1))).added[0]
    b = p.flow_mod(fm(match=ipm(2), cookie=0x1299, instructions=out(1))).added[0]
    res = p.flow_mod(fm(MOD, match=IP, cookie=0x1200, cookie_mask=0xFF00,
                        instructions=out(2)))
    assert res.modified == [a, b]
    res = p.flow_mod(fm(MOD, match=IP, cookie=0x0034, cookie_mask=0x00FF,
                        instructions=out(3)))
    assert res.modified == [a] and b.instructions == out(2)


def test_modify_and_add_reject_table_all(p: Pipeline) -> None:
    for cmd in (ADD, MOD, MOD_S):
        expect_error(ET.OFPET_FLOW_MOD_FAILED, FMFC.OFPFMFC_BAD_TABLE_ID, p.flow_mod,
                     fm(cmd, table_id=0xFF))


# --------------------------------------------------------------------- DELETE


def test_delete_loose_and_strict(p: Pipeline) -> None:
    a = p.flow_mod(fm(match=ipm(1), priority=5)).added[0]
    b = p.flow_mod(fm(match=ipm(1), priority=6)).added[0]
    c = p.flow_mod(fm(match=ipm(2), priority=5)).added[0]
    d = p.flow_mod(fm(match={}, priority=1)).added[0]
    res = p.flow_mod(fm(DEL_S, match=ipm(1), priority=6))
    assert res.deleted == [b] and res.removed == [(b, RR.OFPRR_DELETE)]
    # Loose: every rule at least as specific as the criteria, any priority.
    res = p.flow_mod(fm(DEL, match=IP))
    assert res.deleted == [a, c]
    assert p.rules() == [d]
    assert p.flow_mod(fm(DEL, match={})).deleted == [d]


def test_delete_loose_masks(p: Pipeline) -> None:
    a = p.flow_mod(fm(match=ipm(0x0A010000, 0xFFFF0000))).added[0]
    b = p.flow_mod(fm(match=ipm(0x0A000000, 0xFF000000))).added[0]
    p.flow_mod(fm(match=ipm(0x0B010000, 0xFFFF0000)))
    # 10.1/16 criteria: only rules at least that specific within 10.1/16.
    assert p.flow_mod(fm(DEL, match=ipm(0x0A010000, 0xFFFF0000))).deleted == [a]
    assert p.flow_mod(fm(DEL, match=ipm(0x0A000000, 0xFF000000))).deleted == [b]
    assert len(p.rules()) == 1


def test_delete_out_port_and_out_group(p: Pipeline) -> None:
    p.groups.group_mod(messages.GroupMod(command=0, type=0, group_id=7,
                                         buckets=[messages.Bucket(actions=[A.ActionOutput(1)])]))
    a = p.flow_mod(fm(match=ipm(1), instructions=out(1))).added[0]
    b = p.flow_mod(fm(match=ipm(2), instructions=[
        A.InstructionWriteActions([A.ActionOutput(2)])])).added[0]
    c = p.flow_mod(fm(match=ipm(3), instructions=[
        A.InstructionApplyActions([A.ActionGroup(7)])])).added[0]
    d = p.flow_mod(fm(match=ipm(4), instructions=[])).added[0]
    assert p.flow_stats(out_port=2) == [b]
    assert p.flow_stats(out_group=7) == [c]
    assert p.flow_mod(fm(DEL, table_id=0xFF, out_port=2)).deleted == [b]
    assert p.flow_mod(fm(DEL, table_id=0xFF, out_group=7)).deleted == [c]
    assert p.flow_mod(fm(DEL, table_id=0xFF, out_port=1, out_group=9)).deleted == []
    assert p.flow_mod(fm(DEL_S, match=ipm(1), out_port=9)).deleted == []
    assert p.flow_mod(fm(DEL_S, match=ipm(1), out_port=1)).deleted == [a]
    assert p.rules() == [d]


def test_out_port_ignored_by_modify(p: Pipeline) -> None:
    a = p.flow_mod(fm(match=ipm(1), instructions=out(1))).added[0]
    res = p.flow_mod(fm(MOD, match=IP, out_port=9, out_group=9, instructions=out(2)))
    assert res.modified == [a]


def test_delete_cookie_mask(p: Pipeline) -> None:
    a = p.flow_mod(fm(match=ipm(1), cookie=0xAB00)).added[0]
    b = p.flow_mod(fm(match=ipm(2), cookie=0xAC00)).added[0]
    assert p.flow_mod(fm(DEL, cookie=0xAB00, cookie_mask=0xFF00)).deleted == [a]
    assert p.flow_mod(fm(DEL, cookie=0xFFFF, cookie_mask=0)).deleted == [b]


def test_delete_table_all(p: Pipeline) -> None:
    rules = [p.flow_mod(fm(table_id=t, match=ipm(1))).added[0] for t in (0, 3, 7)]
    assert p.flow_mod(fm(DEL, table_id=3)).deleted == [rules[1]]
    assert p.flow_mod(fm(DEL, table_id=0xFF, match=ipm(1))).deleted == [rules[0], rules[2]]
    assert len(p) == 0


# ------------------------------------------------------------------ validation


@pytest.mark.parametrize("table_id", [8, 0xFE])
def test_bad_table_id(p: Pipeline, table_id: int) -> None:
    for cmd in (ADD, MOD, DEL, DEL_S):
        expect_error(ET.OFPET_FLOW_MOD_FAILED, FMFC.OFPFMFC_BAD_TABLE_ID, p.flow_mod,
                     fm(cmd, table_id=table_id))


def test_bad_command_and_flags(p: Pipeline) -> None:
    expect_error(ET.OFPET_FLOW_MOD_FAILED, FMFC.OFPFMFC_BAD_COMMAND, p.flow_mod, fm(9))
    expect_error(ET.OFPET_FLOW_MOD_FAILED, FMFC.OFPFMFC_BAD_FLAGS, p.flow_mod, fm(flags=0x40))


@pytest.mark.parametrize("match,code", [
    ({"ip_src": 1}, BMC.OFPBMC_BAD_PREREQ),
    ({"eth_type": 0x86DD, "ip_src": 1}, BMC.OFPBMC_BAD_PREREQ),
    ({"eth_type": 0x800, "tcp_dst": 80}, BMC.OFPBMC_BAD_PREREQ),
    ({"eth_type": 0x800, "nw_proto": 17, "tcp_dst": 80}, BMC.OFPBMC_BAD_PREREQ),
    ({"vlan_pcp": 3}, BMC.OFPBMC_BAD_PREREQ),
    ({"eth_type": (0x800, 0xFF00)}, BMC.OFPBMC_BAD_MASK),
    ({"eth_type": 0x800, "ip_src": (0x0A000001, 0xFF000000)}, BMC.OFPBMC_BAD_WILDCARDS),
    ({"vlan_vid": 0x2000}, BMC.OFPBMC_BAD_VALUE),
])
def test_bad_match(p: Pipeline, match: dict, code: int) -> None:
    expect_error(ET.OFPET_BAD_MATCH, code, p.flow_mod, fm(match=match))


def test_good_prereqs(p: Pipeline) -> None:
    p.flow_mod(fm(match={"eth_type": 0x800, "nw_proto": 6, "tcp_dst": 80}))
    p.flow_mod(fm(match={"eth_type": 0x86DD, "nw_proto": 17, "udp_dst": 53}))
    p.flow_mod(fm(match={"vlan_vid": (0x1000, 0x1000), "vlan_pcp": 3}))
    assert len(p) == 3


def test_goto_table_validation(p: Pipeline) -> None:
    for tid, goto in ((3, 3), (3, 1), (0, 8)):
        expect_error(ET.OFPET_BAD_INSTRUCTION, BIC.OFPBIC_BAD_TABLE_ID, p.flow_mod,
                     fm(table_id=tid, instructions=[A.InstructionGotoTable(goto)]))
    p.flow_mod(fm(table_id=3, instructions=[A.InstructionGotoTable(7)]))


def test_duplicate_instruction(p: Pipeline) -> None:
    expect_error(ET.OFPET_BAD_INSTRUCTION, BIC.OFPBIC_DUP_INST, p.flow_mod,
                 fm(instructions=out(1) + out(2)))


def test_bad_output_port_via_callback(clock: Clock) -> None:
    p = Pipeline(n_tables=2, clock=clock, valid_port=lambda n: n in (1, 2, 3))
    p.flow_mod(fm(instructions=out(3)))
    for port in (4, 0, OFPPort.OFPP_ANY):
        expect_error(ET.OFPET_BAD_ACTION, BAC.OFPBAC_BAD_OUT_PORT, p.flow_mod,
                     fm(match=ipm(1), instructions=out(port)))
    for port in (OFPPort.OFPP_CONTROLLER, OFPPort.OFPP_FLOOD, OFPPort.OFPP_IN_PORT,
                 OFPPort.OFPP_LOCAL, OFPPort.OFPP_NORMAL, OFPPort.OFPP_ALL):
        p.flow_mod(fm(match=ipm(port & 0xFF), instructions=out(port)))
    # Write-actions are checked as well.
    expect_error(ET.OFPET_BAD_ACTION, BAC.OFPBAC_BAD_OUT_PORT, p.flow_mod,
                 fm(instructions=[A.InstructionWriteActions([A.ActionOutput(9)])]))


def test_unknown_group_and_meter(p: Pipeline) -> None:
    expect_error(ET.OFPET_BAD_ACTION, BAC.OFPBAC_BAD_OUT_GROUP, p.flow_mod,
                 fm(instructions=[A.InstructionWriteActions([A.ActionGroup(5)])]))
    expect_error(ET.OFPET_METER_MOD_FAILED, MMFC.OFPMMFC_UNKNOWN_METER, p.flow_mod,
                 fm(instructions=[A.InstructionMeter(5)]))
    p.meters.meter_mod(messages.MeterMod(command=0, flags=1, meter_id=5,
                                         bands=[messages.MeterBand(1, 100)]))
    p.flow_mod(fm(instructions=[A.InstructionMeter(5)]))


def test_set_field_prerequisites(p: Pipeline) -> None:
    expect_error(ET.OFPET_BAD_ACTION, BAC.OFPBAC_MATCH_INCONSISTENT, p.flow_mod,
                 fm(instructions=[A.InstructionApplyActions([A.ActionSetField("ip_dst", 1)])]))
    p.flow_mod(fm(match=IP, instructions=[
        A.InstructionApplyActions([A.ActionSetField("ip_dst", 1)])]))
    # push_vlan makes vlan_pcp settable.
    p.flow_mod(fm(match=ipm(1), instructions=[A.InstructionApplyActions(
        [A.ActionPushVlan(0x8100), A.ActionSetField("vlan_pcp", 3)])]))
    expect_error(ET.OFPET_BAD_ACTION, BAC.OFPBAC_MATCH_INCONSISTENT, p.flow_mod,
                 fm(match=ipm(2), instructions=[
                     A.InstructionApplyActions([A.ActionSetField("vlan_pcp", 3)])]))


def test_modify_validates_instructions(p: Pipeline) -> None:
    a = p.flow_mod(fm(table_id=2, match=ipm(1), instructions=out(1))).added[0]
    expect_error(ET.OFPET_BAD_INSTRUCTION, BIC.OFPBIC_BAD_TABLE_ID, p.flow_mod,
                 fm(MOD, table_id=2, instructions=[A.InstructionGotoTable(1)]))
    assert a.instructions == out(1)


# ----------------------------------------------------------- atomic batches


def test_batch_all_or_nothing(p: Pipeline) -> None:
    a = p.flow_mod(fm(match=ipm(1), priority=5, instructions=out(1))).added[0]
    b = p.flow_mod(fm(match=ipm(1), priority=5 + 0, cookie=3, instructions=out(1),
                      table_id=1)).added[0]
    p.flow_mod(fm(match=ipm(2), priority=5, instructions=out(2)))
    p.credit(a, 2, 20)
    before = snapshot(p)
    calls: list[list[OFRule]] = []
    p.add_listener(calls.append)
    with pytest.raises(OFPError) as ei:
        p.flow_mod_batch([
            fm(match=ipm(3), priority=9, instructions=out(3)),            # add
            fm(match=ipm(1), priority=5, instructions=out(4)),            # replace a
            fm(MOD, match=IP, table_id=1, instructions=out(5)),           # modify b
            fm(DEL, match=ipm(2)),                                        # delete
            fm(match=ipm(7), priority=9, instructions=out(1)),
            fm(match=ipm(7), priority=9, flags=FF.OFPFF_CHECK_OVERLAP),   # fails
        ])
    assert ei.value.code == FMFC.OFPFMFC_OVERLAP
    assert snapshot(p) == before and not calls
    assert p.lookup(0, {"eth_type": 0x800, "ip_src": 1}) is a
    assert b.instructions == out(1) and b.cookie == 3
    assert a._installed and a.packet_count == 2
    # And it still works afterwards.
    res = p.flow_mod_batch([fm(match=ipm(3)), fm(DEL, match=ipm(2))])
    assert len(res) == 2 and len(res[1].deleted) == 1 and len(calls) == 1


def test_batch_sees_earlier_members(p: Pipeline) -> None:
    res = p.flow_mod_batch([fm(match=ipm(1), instructions=out(1)),
                            fm(MOD, match=IP, instructions=out(2)),
                            fm(match=ipm(2))])
    assert res[1].modified == res[0].added
    assert res[0].added[0].instructions == out(2)


def test_failed_single_flow_mod_keeps_tie_order(p: Pipeline) -> None:
    # Two overlapping same-priority rules: the earlier one wins the tie.
    a = p.flow_mod(fm(match=ipm(1), priority=5, instructions=out(1))).added[0]
    b = p.flow_mod(fm(match={"eth_type": 0x800, "ip_dst": 2}, priority=5)).added[0]
    flow = {"eth_type": 0x800, "ip_src": 1, "ip_dst": 2}
    assert p.lookup(0, flow) is a
    with pytest.raises(OFPError):
        p.flow_mod_batch([fm(DEL_S, match=ipm(1), priority=5), fm(9)])
    assert p.lookup(0, flow) is a and p.rules() == [a, b]


ops = st.lists(st.tuples(
    st.sampled_from([ADD, MOD, MOD_S, DEL, DEL_S]),
    st.integers(0, 3),              # ip_src value (0 = wildcard)
    st.integers(1, 3),              # priority
    st.integers(1, 3),              # output port
    st.booleans(),                  # check overlap
), min_size=1, max_size=8)


def _mk(op: tuple) -> messages.FlowMod:
    cmd, src, prio, port, ov = op
    match = ipm(src) if src else dict(IP)
    return fm(cmd, match=match, priority=prio, instructions=out(port),
              flags=FF.OFPFF_CHECK_OVERLAP if ov else 0)


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(setup=ops, batch=ops)
def test_batch_atomicity_property(setup: list, batch: list) -> None:
    p = Pipeline(n_tables=2, clock=Clock())
    for op in setup:
        try:
            p.flow_mod(_mk(op))
        except OFPError:
            pass
    before = snapshot(p)
    rules_before = p.rules()
    probe = [{"eth_type": 0x800, "ip_src": s} for s in range(5)]
    answers = [p.lookup(0, f) for f in probe]
    fms = [_mk(op) for op in batch] + [fm(9)]  # the last member always fails
    with pytest.raises(OFPError):
        p.flow_mod_batch(fms)
    assert snapshot(p) == before and p.rules() == rules_before
    assert [p.lookup(0, f) for f in probe] == answers
    # Applying the batch without the failing member equals applying one by one.
    p2 = Pipeline(n_tables=2, clock=Clock())
    for op in setup:
        try:
            p2.flow_mod(_mk(op))
        except OFPError:
            pass
    ok = True
    try:
        p.flow_mod_batch(fms[:-1])
    except OFPError:
        ok = False
        assert snapshot(p) == before
    if ok:
        for f in fms[:-1]:
            p2.flow_mod(f)
        assert snapshot(p) == snapshot(p2)


# ------------------------------------------------------------ stats, expiry


def test_flow_stats_and_aggregate(p: Pipeline, clock: Clock) -> None:
    a = p.flow_mod(fm(match=ipm(1), cookie=1, instructions=out(1))).added[0]
    b = p.flow_mod(fm(table_id=2, match=ipm(2), cookie=2, instructions=out(2))).added[0]
    p.credit(a, 1, 100)
    p.credit(b, 2, 50)
    assert p.flow_stats() == [a, b]
    assert p.flow_stats(table_id=2) == [b]
    assert p.flow_stats(match=oxm.Match(ipm(1))) == [a]
    assert p.flow_stats(cookie=2, cookie_mask=0xFF) == [b]
    agg = p.aggregate()
    assert (agg.packet_count, agg.byte_count, agg.flow_count) == (3, 150, 2)
    expect_error(ET.OFPET_BAD_REQUEST, BRC.OFPBRC_BAD_TABLE_ID, p.flow_stats, 9)
    clock.t += 1.5
    e = p.flow_stats_entry(a)
    assert (e.duration_sec, e.duration_nsec, e.packet_count, e.cookie) == (1, 500000000, 1, 1)
    # Round-trips through the codec.
    reply = messages.FlowStatsReply(body=[e])
    assert decode_message(reply.encode()).body[0] == e


def test_table_stats(p: Pipeline) -> None:
    p.flow_mod(fm(match=ipm(1)))
    p.lookup(0, {"eth_type": 0x800, "ip_src": 1})
    p.lookup(0, {"eth_type": 0x800, "ip_src": 2})
    p.lookup(3, {})
    ts = p.table_stats()
    assert len(ts) == 8
    assert (ts[0].active_count, ts[0].lookup_count, ts[0].matched_count) == (1, 2, 1)
    assert (ts[3].active_count, ts[3].lookup_count, ts[3].matched_count) == (0, 1, 0)


def test_expire_idle_and_hard(p: Pipeline, clock: Clock) -> None:
    idle = p.flow_mod(fm(match=ipm(1), idle_timeout=10)).added[0]
    hard = p.flow_mod(fm(match=ipm(2), hard_timeout=15)).added[0]
    both = p.flow_mod(fm(match=ipm(3), idle_timeout=5, hard_timeout=5)).added[0]
    keep = p.flow_mod(fm(match=ipm(4))).added[0]
    assert p.next_expiry() == 1005.0
    assert p.expire(1004.9) == []
    assert p.expire(1005.0) == [(both, RR.OFPRR_HARD_TIMEOUT)]
    p.credit(idle, 1, 60, used=1008.0)  # refreshes the idle timer
    p.credit(hard, 1, 60, used=1014.0)  # does not help a hard timeout
    assert p.expire(1015.0) == [(hard, RR.OFPRR_HARD_TIMEOUT)]
    assert p.expire(1017.9) == []
    clock.t = 1018.0
    assert p.expire() == [(idle, RR.OFPRR_IDLE_TIMEOUT)]
    assert p.rules() == [keep] and p.next_expiry() is None
    fr = p.flow_removed(idle, RR.OFPRR_IDLE_TIMEOUT)
    assert fr.reason == RR.OFPRR_IDLE_TIMEOUT and fr.packet_count == 1 and fr.duration_sec == 18


def test_listener_calls(p: Pipeline, clock: Clock) -> None:
    calls: list[list[OFRule]] = []
    p.add_listener(calls.append)
    a = p.flow_mod(fm(match=ipm(1), hard_timeout=1)).added[0]
    assert calls == [[a]]
    p.flow_mod(fm(MOD, match=IP, instructions=out(2)))
    assert calls[-1] == [a]
    b = p.flow_mod(fm(match=ipm(1), hard_timeout=1)).added[0]
    assert set(calls[-1]) == {a, b}
    p.flow_mod(fm(MOD, match=ipm(9), instructions=out(2)))  # no change, no call
    assert len(calls) == 3
    p.expire(clock.t + 1)
    assert calls[-1] == [b]
    try:
        p.flow_mod(fm(9))
    except OFPError:
        pass
    assert len(calls) == 4


# -------------------------------------------------------- groups and meters


def test_group_refs_and_group_delete_removes_flows(p: Pipeline) -> None:
    gm = messages.GroupMod(command=0, type=0, group_id=1,
                           buckets=[messages.Bucket(actions=[A.ActionOutput(1)])])
    p.group_mod(gm)
    a = p.flow_mod(fm(match=ipm(1), instructions=[
        A.InstructionApplyActions([A.ActionGroup(1), A.ActionGroup(1)])])).added[0]
    p.flow_mod(fm(match=ipm(2), instructions=out(1)))
    assert p.groups.stats(1)[0].ref_count == 1
    p.flow_mod(fm(match=ipm(3), instructions=[A.InstructionWriteActions([A.ActionGroup(1)])]))
    assert p.groups.stats(1)[0].ref_count == 2
    p.flow_mod(fm(DEL_S, match=ipm(3)))
    assert p.groups.stats(1)[0].ref_count == 1
    calls: list[list[OFRule]] = []
    p.add_listener(calls.append)
    p.group_mod(messages.GroupMod(command=1, type=0, group_id=1,
                                  buckets=[messages.Bucket(actions=[A.ActionOutput(2)])]))
    assert calls == [[a]]  # modified group: revalidate its users
    res, removed = p.group_mod(messages.GroupMod(command=2, group_id=1))
    assert res.deleted == [1] and removed == [(a, RR.OFPRR_GROUP_DELETE)]
    assert not a._installed and len(p) == 1
    # OF1.3 peers see OFPRR_DELETE.
    assert p.flow_removed(a, RR.OFPRR_GROUP_DELETE).reason == RR.OFPRR_DELETE
    assert p.flow_removed(a, RR.OFPRR_GROUP_DELETE, version=OFP14).reason == \
        RR.OFPRR_GROUP_DELETE


def test_meter_flow_count_and_meter_delete(p: Pipeline) -> None:
    p.meter_mod(messages.MeterMod(command=0, flags=1, meter_id=3,
                                  bands=[messages.MeterBand(1, 1000)]))
    a = p.flow_mod(fm(match=ipm(1), instructions=[A.InstructionMeter(3)] + out(1))).added[0]
    assert p.meters.stats(3)[0].flow_count == 1
    p.flow_mod(fm(MOD, match=ipm(1), instructions=out(1)))
    assert p.meters.stats(3)[0].flow_count == 0
    p.flow_mod(fm(MOD, match=ipm(1), instructions=[A.InstructionMeter(3)]))
    assert p.meters.stats(3)[0].flow_count == 1
    _res, removed = p.meter_mod(messages.MeterMod(command=2, meter_id=0xFFFFFFFF))
    assert removed == [(a, RR.OFPRR_METER_DELETE)] and len(p) == 0


def test_rolled_back_batch_does_not_touch_refs(p: Pipeline) -> None:
    p.group_mod(messages.GroupMod(command=0, type=0, group_id=1, buckets=[]))
    with pytest.raises(OFPError):
        p.flow_mod_batch([fm(instructions=[A.InstructionWriteActions([A.ActionGroup(1)])]),
                          fm(9)])
    assert p.groups.stats(1)[0].ref_count == 0 and p.flows_using_group(1) == set()


# ------------------------------------------------------------------- OF1.0


def fm10(command: int = ADD, match: messages.Match10 | None = None, **kw: object
         ) -> messages.FlowMod10:
    return messages.FlowMod10(command=command, match=match or messages.Match10(),
                              **kw)  # type: ignore[arg-type]


def m10(**kw: int) -> messages.Match10:
    wild = W.OFPFW_ALL
    for name, bit in (("in_port", W.OFPFW_IN_PORT), ("dl_type", W.OFPFW_DL_TYPE),
                      ("nw_proto", W.OFPFW_NW_PROTO), ("tp_src", W.OFPFW_TP_SRC),
                      ("tp_dst", W.OFPFW_TP_DST)):
        if name in kw:
            wild &= ~bit
    if "nw_src" in kw:
        wild &= ~(0x3F << 8)
    return messages.Match10(wildcards=int(wild), **kw)


def test_of10_modify_adds_and_sets_cookie(p: Pipeline) -> None:
    res = p.flow_mod(fm10(MOD, match=m10(dl_type=0x800, nw_src=0x0A000001), cookie=7,
                          priority=100, actions=[A.ActionOutput10(2)]))
    assert len(res.added) == 1 and not res.modified
    r = res.added[0]
    assert r.table_id == 0 and r.cookie == 7 and r.priority == 100
    assert r.match == oxm.Match(eth_type=0x800, ip_src=0x0A000001)
    assert r.has_output(2)
    p.credit(r, 5, 500)
    # OF1.0 modify updates instructions and the cookie, keeps counters.
    res = p.flow_mod(fm10(MOD, match=m10(dl_type=0x800), cookie=8,
                          actions=[A.ActionOutput10(3)]))
    assert res.modified == [r] and r.cookie == 8 and r.packet_count == 5
    assert r.instructions == [A.InstructionApplyActions([A.ActionOutput10(3)])]
    # OF1.0 add resets counters when replacing.
    r2 = p.flow_mod(fm10(ADD, match=m10(dl_type=0x800, nw_src=0x0A000001), priority=100,
                         actions=[A.ActionOutput10(3)])).added[0]
    assert r2.packet_count == 0


def test_of10_delete_all_tables_out_port_and_exact_priority(p: Pipeline) -> None:
    p.flow_mod(fm(table_id=4, match=ipm(1), instructions=out(3)))
    exact = messages.Match10(wildcards=0, dl_type=0x800, nw_proto=6, tp_src=1, tp_dst=2)
    r = p.flow_mod(fm10(ADD, match=exact, priority=5)).added[0]
    assert r.priority == 0xFFFF  # OF1.0 exact-match rules get the top priority
    assert p.flow_mod(fm10(DEL, out_port=3)).deleted[0].table_id == 4
    assert p.flow_mod(fm10(DEL, out_port=0xFFFF)).deleted == [r]


def test_of10_match_mapping() -> None:
    # tp_src means icmp_type for ICMP; tp_* without nw_proto are ignored.
    m = match_from_of10(m10(dl_type=0x800, nw_proto=1, tp_src=8, tp_dst=0))
    assert m == oxm.Match(eth_type=0x800, ip_proto=1, icmp_type=8, icmp_code=0)
    m = match_from_of10(m10(dl_type=0x800, tp_dst=80))
    assert m == oxm.Match(eth_type=0x800)
    m = match_from_of10(m10(dl_type=0x806, nw_proto=1, nw_src=0x0A000001))
    assert m == oxm.Match(eth_type=0x806, arp_op=1, arp_spa=0x0A000001)
    m = match_from_of10(m10(nw_src=0x0A000001, tp_dst=80))
    assert m == oxm.Match()


def test_of10_emergency_rejected(p: Pipeline) -> None:
    expect_error(ET.OFPET_FLOW_MOD_FAILED, FMFC.OFPFMFC_BAD_FLAGS, p.flow_mod,
                 fm10(ADD, flags=4))


def test_of10_wire_message(p: Pipeline) -> None:
    raw = fm10(ADD, match=m10(in_port=1, dl_type=0x800), priority=9,
               actions=[A.ActionOutput10(2)]).encode()
    msg = decode_message(raw)
    assert msg.version == OFP10
    r = p.flow_mod(msg).added[0]
    assert p.lookup(0, {"in_port": 1, "eth_type": 0x800}) is r


# ----------------------------------------------------- os-ken golden messages


def golden(name: str) -> messages.Message:
    return decode_message((GOLDEN / name).read_bytes())


@pytest.mark.skipif(not GOLDEN.exists(), reason="os-ken test data not installed")
def test_golden_flow_mods(p: Pipeline) -> None:
    # 4-3: table 0, in_port + eth_src, goto_table 1.
    r = p.flow_mod(golden("4-3-ofp_flow_mod.packet")).added[0]
    assert r.goto_table() == 1 and r.priority == 123
    # 4-46: meter 1 must exist first.
    m46 = golden("4-46-ofp_flow_mod.packet")
    expect_error(ET.OFPET_METER_MOD_FAILED, MMFC.OFPMMFC_UNKNOWN_METER, p.flow_mod, m46)
    p.meter_mod(messages.MeterMod(command=0, flags=1, meter_id=1,
                                  bands=[messages.MeterBand(1, 10)]))
    r46 = p.flow_mod(m46).added[0]
    assert r46.table_id == 1 and r46.meter_ids() == {1}
    # 4-60: every field at once, eth_type ARP with TCP ports: bad prerequisites.
    expect_error(ET.OFPET_BAD_MATCH, BMC.OFPBMC_BAD_PREREQ, p.flow_mod,
                 golden("4-60-ofp_flow_mod.packet"))
    # 4-2: write-actions reference group 99.
    m2 = golden("4-2-ofp_flow_mod.packet")
    expect_error(ET.OFPET_BAD_ACTION, BAC.OFPBAC_BAD_OUT_GROUP, p.flow_mod, m2)
    p.group_mod(messages.GroupMod(command=0, type=0, group_id=99, buckets=[]))
    # ... and then set pbb_uca without matching PBB.
    expect_error(ET.OFPET_BAD_ACTION, BAC.OFPBAC_MATCH_INCONSISTENT, p.flow_mod, m2)
    assert len(p) == 2


@pytest.mark.skipif(not GOLDEN.exists(), reason="os-ken test data not installed")
def test_golden_nicira_flow_mod() -> None:
    p = Pipeline(clock=Clock())
    msg = golden("libofproto-OFP13-flow_mod.packet")
    r = p.flow_mod(msg).added[0]
    assert r.table_id == 2 and r.cookie == msg.cookie and r.goto_table() == 100
    flow = {k: v for k, (v, _m) in msg.match.items()}
    assert p.lookup(2, flow) is r
    # A delete with the cookie as a filter finds it.
    assert p.flow_mod(fm(DEL, table_id=0xFF, cookie=msg.cookie,
                         cookie_mask=0xFFFFFFFFFFFFFFFF)).deleted == [r]
