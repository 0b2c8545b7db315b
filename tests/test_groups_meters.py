"""Tests for ofproto.groups and ofproto.meters (OpenFlow 1.3.5 sections 5.6-5.7, 6.5-6.6)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ofproto.groups import GroupTable, OFPError
from ofproto.meters import MeterTable
from ofproto.ofp import actions as A
from ofproto.ofp import decode_message, messages
from ofproto.ofp.consts import OFPBadActionCode as BAC
from ofproto.ofp.consts import OFPErrorType as ET
from ofproto.ofp.consts import OFPGroupModFailedCode as GMFC
from ofproto.ofp.consts import OFPMeterModFailedCode as MMFC

GOLDEN = (Path(__file__).resolve().parents[1] / ".venv/lib/python3.11/site-packages/os_ken/"
          "tests/packet_data/of13")

ALL, SELECT, INDIRECT, FF = 0, 1, 2, 3
G_ADD, G_MOD, G_DEL = 0, 1, 2
ANY = 0xFFFFFFFF


class Clock:
    def __init__(self, t: float = 100.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def bucket(*acts: A.Action, weight: int = 0, watch_port: int = ANY,
           watch_group: int = ANY) -> messages.Bucket:
    return messages.Bucket(weight, watch_port, watch_group, list(acts))


def gm(command: int, gid: int, gtype: int = ALL, *buckets: messages.Bucket
       ) -> messages.GroupMod:
    return messages.GroupMod(command=command, type=gtype, group_id=gid, buckets=list(buckets))


def gerr(code: int, table: GroupTable, msg: messages.GroupMod, type_: int = 6) -> None:
    before = [(g.group_id, g.type, list(g.buckets)) for g in table]
    with pytest.raises(OFPError) as ei:
        table.group_mod(msg)
    assert (ei.value.type, ei.value.code) == (type_, code), ei.value
    assert [(g.group_id, g.type, list(g.buckets)) for g in table] == before


@pytest.fixture
def gt() -> GroupTable:
    return GroupTable(clock=Clock(), valid_port=lambda p: 1 <= p <= 10)


# ------------------------------------------------------------------- groups


def test_group_add_modify_delete(gt: GroupTable) -> None:
    res = gt.group_mod(gm(G_ADD, 1, ALL, bucket(A.ActionOutput(1)), bucket(A.ActionOutput(2))))
    assert res.added == [1] and gt.exists(1)
    gerr(GMFC.OFPGMFC_GROUP_EXISTS, gt, gm(G_ADD, 1, ALL))
    res = gt.group_mod(gm(G_MOD, 1, SELECT, bucket(A.ActionOutput(3), weight=5)))
    assert res.modified == [1]
    g = gt.get(1)
    assert g is not None and g.type == SELECT and len(g.buckets) == 1
    gerr(GMFC.OFPGMFC_UNKNOWN_GROUP, gt, gm(G_MOD, 2, ALL))
    assert gt.group_mod(gm(G_DEL, 2)).deleted == []  # unknown: no error
    assert gt.group_mod(gm(G_DEL, 1)).deleted == [1] and len(gt) == 0


def test_group_delete_all(gt: GroupTable) -> None:
    for i in (3, 1, 2):
        gt.group_mod(gm(G_ADD, i))
    gt.group_mod(gm(G_ADD, 4, ALL, bucket(A.ActionGroup(3))))
    assert gt.group_mod(gm(G_DEL, 0xFFFFFFFC)).deleted == [1, 2, 3, 4] and len(gt) == 0


@pytest.mark.parametrize("msg,code", [
    (gm(G_ADD, 0xFFFFFF01), GMFC.OFPGMFC_INVALID_GROUP),
    (gm(G_ADD, 0xFFFFFFFC), GMFC.OFPGMFC_INVALID_GROUP),
    (gm(G_ADD, 1, 7), GMFC.OFPGMFC_BAD_TYPE),
    (gm(9, 1), GMFC.OFPGMFC_BAD_COMMAND),
    (gm(G_ADD, 1, INDIRECT), GMFC.OFPGMFC_INVALID_GROUP),
    (gm(G_ADD, 1, INDIRECT, bucket(), bucket()), GMFC.OFPGMFC_INVALID_GROUP),
    (gm(G_ADD, 1, ALL, bucket(weight=2)), GMFC.OFPGMFC_INVALID_GROUP),
    (gm(G_ADD, 1, ALL, bucket(watch_port=1)), GMFC.OFPGMFC_WATCH_UNSUPPORTED),
    (gm(G_ADD, 1, INDIRECT, bucket(watch_group=2)), GMFC.OFPGMFC_WATCH_UNSUPPORTED),
    (gm(G_ADD, 1, FF, bucket(A.ActionOutput(1))), GMFC.OFPGMFC_INVALID_GROUP),
    (gm(G_ADD, 1, FF, bucket(watch_port=11)), GMFC.OFPGMFC_BAD_WATCH),
    (gm(G_ADD, 1, FF, bucket(watch_group=55)), GMFC.OFPGMFC_BAD_WATCH),
    (gm(G_ADD, 1, ALL, bucket(A.ActionGroup(1))), GMFC.OFPGMFC_LOOP),
])
def test_group_errors(gt: GroupTable, msg: messages.GroupMod, code: int) -> None:
    gerr(code, gt, msg)


def test_group_action_errors(gt: GroupTable) -> None:
    gerr(BAC.OFPBAC_BAD_OUT_PORT, gt, gm(G_ADD, 1, ALL, bucket(A.ActionOutput(11))),
         ET.OFPET_BAD_ACTION)
    gerr(BAC.OFPBAC_BAD_OUT_GROUP, gt, gm(G_ADD, 1, ALL, bucket(A.ActionGroup(2))),
         ET.OFPET_BAD_ACTION)


def test_group_out_of_groups() -> None:
    t = GroupTable(clock=Clock(), max_groups=(1, 1, 1, 1))
    t.group_mod(gm(G_ADD, 1))
    gerr(GMFC.OFPGMFC_OUT_OF_GROUPS, t, gm(G_ADD, 2))
    t.group_mod(gm(G_ADD, 2, SELECT))
    gerr(GMFC.OFPGMFC_OUT_OF_GROUPS, t, gm(G_MOD, 2, ALL))


def test_group_chaining_loop_and_chained_delete(gt: GroupTable) -> None:
    gt.group_mod(gm(G_ADD, 1, ALL, bucket(A.ActionOutput(1))))
    gt.group_mod(gm(G_ADD, 2, ALL, bucket(A.ActionGroup(1))))
    gt.group_mod(gm(G_ADD, 3, INDIRECT, bucket(A.ActionGroup(2))))
    # 1 -> 3 would close the loop 3 -> 2 -> 1 -> 3.
    gerr(GMFC.OFPGMFC_LOOP, gt, gm(G_MOD, 1, ALL, bucket(A.ActionGroup(3))))
    # Watching also counts as a reference for loops.
    gerr(GMFC.OFPGMFC_LOOP, gt, gm(G_MOD, 1, FF, bucket(watch_group=3)))
    gerr(GMFC.OFPGMFC_CHAINED_GROUP, gt, gm(G_DEL, 1))
    assert gt.ref_count(1) == 1 and gt.ref_count(3) == 0
    assert gt.referrers([1]) == {1, 2, 3}
    gt.group_mod(gm(G_DEL, 3))
    gt.group_mod(gm(G_DEL, 2))
    gt.group_mod(gm(G_DEL, 1))
    assert len(gt) == 0


def test_group_stats_desc_features(gt: GroupTable) -> None:
    gt.group_mod(gm(G_ADD, 5, SELECT, bucket(A.ActionOutput(1), weight=1),
                    bucket(A.ActionOutput(2), weight=1)))
    gt.flow_ref(5, 2)
    gt.flow_ref(5, -1)
    gt.credit(5, 1, 3, 300)
    gt.clock.t += 2.25  # type: ignore[attr-defined]
    (s,) = gt.stats()
    assert (s.group_id, s.ref_count, s.packet_count, s.byte_count) == (5, 1, 3, 300)
    assert (s.duration_sec, s.duration_nsec) == (2, 250000000)
    assert s.bucket_stats == [(0, 0), (3, 300)]
    assert gt.stats(6) == []
    (d,) = gt.desc()
    assert (d.type, d.group_id, len(d.buckets)) == (SELECT, 5, 2)
    # Replies encode and decode.
    for reply in (messages.GroupStatsReply(body=gt.stats()),
                  messages.GroupDescStatsReply(body=gt.desc()),
                  messages.GroupFeaturesStatsReply(**gt.features())):
        assert decode_message(reply.encode()) == reply
    f = gt.features()
    assert f["types"] == 0b1111 and f["capabilities"] == 0b1111
    assert f["actions"][0] & 1 and f["actions"][0] & (1 << 22)


def test_fast_failover_live_bucket(gt: GroupTable) -> None:
    gt.group_mod(gm(G_ADD, 1, FF, bucket(A.ActionOutput(1), watch_port=1)))
    gt.group_mod(gm(G_ADD, 2, FF, bucket(A.ActionOutput(2), watch_port=2),
                    bucket(A.ActionOutput(3), watch_group=1),
                    bucket(A.ActionOutput(4), watch_port=4)))
    up = {1, 2, 4}
    assert gt.live_bucket(2, up.__contains__)[0] == 0
    up.discard(2)
    assert gt.live_bucket(2, up.__contains__)[0] == 1
    up.discard(1)  # group 1 dead -> its watcher bucket dead
    assert gt.live_bucket(2, up.__contains__)[0] == 2
    up.clear()
    assert gt.live_bucket(2, up.__contains__) is None
    assert gt.live_bucket(99, up.__contains__) is None


def test_select_bucket_weights_and_liveness(gt: GroupTable) -> None:
    gt.group_mod(gm(G_ADD, 1, SELECT, bucket(A.ActionOutput(1), weight=1),
                    bucket(A.ActionOutput(2), weight=3),
                    bucket(A.ActionOutput(3), weight=0)))
    picks = Counter(gt.select_bucket(1, h)[0] for h in range(4000))
    assert picks[2] == 0
    assert 0.6 < picks[1] / 4000 < 0.9  # weight 3 of 4 (HRW skews towards heavy)
    assert all(gt.select_bucket(1, h) == gt.select_bucket(1, h) for h in range(50))
    # Liveness: a dead bucket's flows move, the others stay.
    gt.group_mod(gm(G_MOD, 1, SELECT, bucket(A.ActionOutput(1), weight=1, watch_port=1),
                    bucket(A.ActionOutput(2), weight=1, watch_port=2)))
    before = {h: gt.select_bucket(1, h, lambda p: True)[0] for h in range(500)}
    after = {h: gt.select_bucket(1, h, lambda p: p != 1)[0] for h in range(500)}
    assert set(after.values()) == {1}
    assert all(after[h] == before[h] for h in before if before[h] == 1)
    assert gt.select_bucket(1, 0, lambda p: False) is None


@pytest.mark.skipif(not GOLDEN.exists(), reason="os-ken test data not installed")
def test_golden_group_mod(gt: GroupTable) -> None:
    msg = decode_message((GOLDEN / "4-21-ofp_group_mod.packet").read_bytes())
    # An ALL group whose bucket has weight 1 (and watches port 1 / group 1).
    gerr(GMFC.OFPGMFC_INVALID_GROUP, gt, msg)
    msg.buckets[0].weight = 0
    gerr(GMFC.OFPGMFC_WATCH_UNSUPPORTED, gt, msg)
    msg.buckets[0].watch_port = msg.buckets[0].watch_group = ANY
    assert gt.group_mod(msg).added == [1]


# ------------------------------------------------------------------- meters


def mm(command: int, mid: int, flags: int = 1, *bands: messages.MeterBand
       ) -> messages.MeterMod:
    return messages.MeterMod(command=command, flags=flags, meter_id=mid, bands=list(bands))


DROP = 1
REMARK = 2


def merr(code: int, table: MeterTable, msg: messages.MeterMod) -> None:
    before = [(m.meter_id, m.flags, list(m.bands)) for m in table]
    with pytest.raises(OFPError) as ei:
        table.meter_mod(msg)
    assert (ei.value.type, ei.value.code) == (ET.OFPET_METER_MOD_FAILED, code), ei.value
    assert [(m.meter_id, m.flags, list(m.bands)) for m in table] == before


@pytest.fixture
def mt() -> MeterTable:
    return MeterTable(clock=Clock(), max_meters=4, max_bands=2)


def test_meter_add_modify_delete(mt: MeterTable) -> None:
    assert mt.meter_mod(mm(0, 1, 1, messages.MeterBand(DROP, 100))).added == [1]
    merr(MMFC.OFPMMFC_METER_EXISTS, mt, mm(0, 1, 1, messages.MeterBand(DROP, 100)))
    res = mt.meter_mod(mm(1, 1, 2 | 4, messages.MeterBand(REMARK, 5, 10, prec_level=1)))
    assert res.modified == [1]
    m = mt.get(1)
    assert m is not None and m.flags == 6 and m.bands[0].prec_level == 1
    merr(MMFC.OFPMMFC_UNKNOWN_METER, mt, mm(1, 2, 1))
    assert mt.meter_mod(mm(2, 2)).deleted == []
    assert mt.meter_mod(mm(2, 1)).deleted == [1] and len(mt) == 0
    for i in (1, 2, 3):
        mt.meter_mod(mm(0, i))
    mt.meter_mod(mm(0, 1000))
    merr(MMFC.OFPMMFC_OUT_OF_METERS, mt, mm(0, 1001))  # max_meters=4
    assert mt.meter_mod(mm(2, 0xFFFFFFFF)).deleted == [1, 2, 3, 1000] and len(mt) == 0


def test_meter_out_of_meters() -> None:
    t = MeterTable(clock=Clock(), max_meters=1)
    t.meter_mod(mm(0, 1))
    merr(MMFC.OFPMMFC_OUT_OF_METERS, t, mm(0, 2))
    assert t.meter_mod(mm(2, 0xFFFFFFFF)).deleted == [1]


@pytest.mark.parametrize("msg,code", [
    (mm(5, 1), MMFC.OFPMMFC_BAD_COMMAND),
    (mm(0, 1, 3), MMFC.OFPMMFC_BAD_FLAGS),
    (mm(0, 1, 0x10), MMFC.OFPMMFC_BAD_FLAGS),
    (mm(0, 0), MMFC.OFPMMFC_INVALID_METER),
    (mm(0, 0xFFFF0001), MMFC.OFPMMFC_INVALID_METER),
    (mm(0, 0xFFFFFFFF), MMFC.OFPMMFC_INVALID_METER),
    (mm(0, 1, 1, *[messages.MeterBand(DROP, 1)] * 3), MMFC.OFPMMFC_OUT_OF_BANDS),
    (mm(0, 1, 1, messages.MeterBand(0xFFFF, 10, experimenter=9)), MMFC.OFPMMFC_BAD_BAND),
    (mm(0, 1, 1, messages.MeterBand(DROP, 0)), MMFC.OFPMMFC_BAD_RATE),
])
def test_meter_errors(mt: MeterTable, msg: messages.MeterMod, code: int) -> None:
    merr(code, mt, msg)


def test_virtual_meters_allowed(mt: MeterTable) -> None:
    mt.meter_mod(mm(0, 0xFFFFFFFE, 2, messages.MeterBand(DROP, 100)))
    mt.meter_mod(mm(0, 0xFFFFFFFD, 2, messages.MeterBand(DROP, 100)))
    assert len(mt) == 2


def test_meter_config_stats_features(mt: MeterTable) -> None:
    mt.meter_mod(mm(0, 7, 2 | 8, messages.MeterBand(DROP, 10)))
    mt.flow_ref(7, 1)
    m = mt.get(7)
    assert m is not None
    m.admit(100.0, 15, 1500)
    mt.clock.t = 101.5  # type: ignore[attr-defined]
    (s,) = mt.stats()
    assert (s.meter_id, s.flow_count, s.packet_in_count, s.byte_in_count) == (7, 1, 15, 1500)
    assert (s.duration_sec, s.duration_nsec) == (1, 500000000)
    assert s.band_stats == [(5, 500)]
    (c,) = mt.config(7)
    assert (c.meter_id, c.flags, c.bands) == (7, 10, [messages.MeterBand(DROP, 10)])
    assert mt.config(8) == [] and mt.stats(8) == []
    f = mt.features()
    assert (f.max_meter, f.band_types, f.max_bands) == (4, 0b110, 2)
    for reply in (messages.MeterStatsReply(body=mt.stats()),
                  messages.MeterConfigStatsReply(body=mt.config()),
                  messages.MeterFeaturesStatsReply(body=[f])):
        assert decode_message(reply.encode()) == reply


@pytest.mark.skipif(not GOLDEN.exists(), reason="os-ken test data not installed")
def test_golden_meter_mods(mt: MeterTable) -> None:
    ok = decode_message((GOLDEN / "libofproto-OFP13-meter_mod.packet").read_bytes())
    mt.meter_mod(ok)
    m = mt.get(100)
    assert m is not None and [b.type for b in m.bands] == [DROP, REMARK]
    bad = decode_message((GOLDEN / "4-45-ofp_meter_mod.packet").read_bytes())
    t = MeterTable(clock=Clock())
    merr(MMFC.OFPMMFC_BAD_BAND, t, bad)  # experimenter band


# ------------------------------------------------------------- token bucket


def test_token_bucket_pktps_drop() -> None:
    t = MeterTable(clock=Clock())
    t.meter_mod(mm(0, 1, 2, messages.MeterBand(DROP, 10)))  # 10 pkt/s, bucket 10
    m = t.get(1)
    assert m is not None
    assert m.admit(0.0, 25, 2500) == 10 and m.last_dropped == 15
    assert m.admit(0.5, 10, 1000) == 5  # half a second refills 5
    assert m.admit(10.0, 30, 3000) == 10  # capped at the bucket size


def test_token_bucket_burst_and_kbps() -> None:
    t = MeterTable(clock=Clock())
    # 8 kbit/s = 1000 B/s; burst 16 kbit = 2000 B.
    t.meter_mod(mm(0, 1, 1 | 4, messages.MeterBand(DROP, 8, 16)))
    m = t.get(1)
    assert m is not None
    assert m.admit(0.0, 4, 4000) == 2  # 1000-byte packets: 2000 B of burst
    assert m.admit(1.0, 2, 2000) == 1


def test_token_bucket_remark_and_highest_band() -> None:
    t = MeterTable(clock=Clock())
    t.meter_mod(mm(0, 1, 2, messages.MeterBand(REMARK, 5, prec_level=1),
                   messages.MeterBand(DROP, 8)))
    m = t.get(1)
    assert m is not None
    # 10 packets: first 5 conform to both; 6-8 exceed only the 5 pkt/s remark band;
    # 9-10 exceed both -> the band with the highest rate (drop at 8) applies.
    assert m.admit(0.0, 10, 1000) == 8
    assert (m.last_remarked, m.last_dropped) == (3, 2)
    assert m.band_stats == [[3, 300], [2, 200]]


@given(rate=st.integers(1, 1000), n=st.lists(st.integers(0, 50), max_size=20))
def test_token_bucket_never_exceeds_rate(rate: int, n: list[int]) -> None:
    t = MeterTable(clock=Clock())
    t.meter_mod(mm(0, 1, 2, messages.MeterBand(DROP, rate)))
    m = t.get(1)
    assert m is not None
    total = 0
    for i, k in enumerate(n):
        got = m.admit(i * 0.1, k, k * 100)
        assert 0 <= got <= k
        total += got
    # Admitted <= initial bucket + refill over the elapsed time.
    assert total <= rate + rate * 0.1 * max(0, len(n) - 1) + 1e-6
