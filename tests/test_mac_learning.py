"""ofproto.mac_learning: the NORMAL action's MAC table (OVS lib/mac-learning.c semantics),
driven by a fake clock."""

from __future__ import annotations

import pytest

from ofproto.mac_learning import (
    MAC_DEFAULT_MAX,
    MAC_ENTRY_DEFAULT_IDLE_TIME,
    MacLearningTable,
    mac_from_str,
)


class Clock:
    def __init__(self, t: float = 1000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def mac(i: int) -> bytes:
    return bytes([2, 0, 0, 0, i >> 8, i & 0xFF])


@pytest.fixture
def clock() -> Clock:
    return Clock()


def test_defaults_and_normalization(clock: Clock) -> None:
    ml = MacLearningTable(clock=clock)
    assert ml.idle_time == MAC_ENTRY_DEFAULT_IDLE_TIME == 300
    assert ml.max_entries == MAC_DEFAULT_MAX == 2048
    assert MacLearningTable(idle_time=1, max_entries=1, clock=clock).idle_time == 15
    assert MacLearningTable(idle_time=99999, max_entries=1, clock=clock).max_entries == 10
    with pytest.raises(ValueError):
        MacLearningTable(eviction="random")


def test_learn_lookup_move(clock: Clock) -> None:
    ml = MacLearningTable(clock=clock)
    assert ml.learn(mac(1), 10, 1) is True
    assert ml.lookup(mac(1), 10) == 1
    assert ml.lookup(mac(1), 20) is None  # per VLAN
    assert ml.learn(mac(1), 10, 1) is False  # refresh only
    gen = ml.generation
    assert ml.learn(mac(1), 10, 2) is True  # moved
    assert ml.lookup(mac(1), 10) == 2 and ml.total_moved == 1
    assert ml.generation > gen
    assert ml.lookup("02:00:00:00:00:01", 10) == 2  # text form accepted


def test_multicast_and_flood_vlans(clock: Clock) -> None:
    ml = MacLearningTable(clock=clock)
    bcast = b"\xff" * 6
    assert ml.learn(bcast, 1, 1) is False and len(ml) == 0
    assert ml.learn(mac_from_str("01:00:5e:00:00:01"), 1, 1) is False
    assert ml.lookup(bcast, 1) is None
    ml.set_flood_vlans({5})
    assert ml.learn(mac(1), 5, 1) is False and ml.lookup(mac(1), 5) is None
    assert ml.learn(mac(1), 6, 1) is True


def test_aging_with_fake_clock(clock: Clock) -> None:
    ml = MacLearningTable(idle_time=60, clock=clock)
    ml.learn(mac(1), 1, 1)
    clock.t += 30
    ml.learn(mac(2), 1, 2)
    e = ml.entry(mac(1), 1)
    assert e is not None and ml.age(e) == 30
    assert ml.run() is True  # the learning itself needs revalidation
    assert ml.run() is False
    clock.t += 30  # mac(1) reaches its idle time
    assert ml.lookup(mac(1), 1) is None  # expired entries no longer answer
    assert ml.run() is True
    assert ml.entry(mac(1), 1) is None and ml.lookup(mac(2), 1) == 2
    assert ml.total_expired == 1
    assert ml.next_expiry() == pytest.approx(clock.t + 30)
    # refreshing keeps an entry alive
    clock.t += 29
    ml.learn(mac(2), 1, 2)
    clock.t += 59
    ml.run()
    assert ml.lookup(mac(2), 1) == 2
    # changing the idle time shifts expiries (OVS mac_learning_set_idle_time)
    ml.set_idle_time(30)
    ml.run()
    assert ml.lookup(mac(2), 1) is None


def test_max_entries_eviction_fair_and_lru(clock: Clock) -> None:
    ml = MacLearningTable(max_entries=10, clock=clock)
    # port 1 owns 8 entries, port 2 two; the table is full
    for i in range(8):
        ml.learn(mac(i), 1, 1)
        clock.t += 1
    ml.learn(mac(100), 1, 2)
    ml.learn(mac(101), 1, 2)
    assert len(ml) == 10
    ml.learn(mac(200), 1, 3)  # evicts port 1's least recently used entry (fair)
    assert len(ml) == 10 and ml.total_evicted == 1
    assert ml.entry(mac(0), 1) is None and ml.lookup(mac(100), 1) == 2

    lru = MacLearningTable(max_entries=10, clock=clock, eviction="lru")
    lru.learn(mac(100), 1, 2)  # oldest, on the small port
    for i in range(9):
        lru.learn(mac(i), 1, 1)
    lru.learn(mac(200), 1, 3)
    assert lru.entry(mac(100), 1) is None and lru.lookup(mac(0), 1) == 1
    # shrinking the limit trims on run()
    lru.set_max_entries(10)
    ml2 = MacLearningTable(max_entries=20, clock=clock)
    for i in range(15):
        ml2.learn(mac(i), 1, 1)
    ml2.set_max_entries(10)
    ml2.run()
    assert len(ml2) == 10 and ml2.entry(mac(0), 1) is None


def test_flush_and_flush_port_and_static(clock: Clock) -> None:
    ml = MacLearningTable(clock=clock)
    ml.learn(mac(1), 1, 1)
    ml.learn(mac(2), 1, 2)
    ml.learn(mac(3), 2, 2)
    ml.add_static(mac(9), 1, 3)
    assert ml.flush_port(2) == 2 and ml.lookup(mac(1), 1) == 1
    ml.learn(mac(1), 1, 5)  # static entries do not move but dynamic ones do
    assert ml.learn(mac(9), 1, 1) is False and ml.lookup(mac(9), 1) == 3
    clock.t += 10_000
    ml.run()
    assert ml.lookup(mac(9), 1) == 3  # static never ages
    ml.learn(mac(4), 1, 4)
    assert ml.flush() == 1 and ml.lookup(mac(9), 1) == 3 and ml.lookup(mac(4), 1) is None
    assert ml.del_static(mac(9), 1) is True and len(ml) == 0
    assert ml.del_static(mac(9), 1) is False


def test_revalidation_tags(clock: Clock) -> None:
    ml = MacLearningTable(clock=clock)
    ml.take_changed_tags()
    ml.learn(mac(1), 10, 1)
    ml.learn(mac(1), 10, 1)  # no change
    assert ml.take_changed_tags() == {MacLearningTable.tag(mac(1), 10)}
    assert ml.take_changed_tags() == set()
    ml.learn(mac(2), 10, 1)
    ml.expire(mac(2), 10)
    assert ml.take_changed_tags() == {MacLearningTable.tag(mac(2), 10)}
    assert MacLearningTable.tag(mac(1), 10) != MacLearningTable.tag(mac(1), 11)
    ml.set_flood_vlans({3})
    assert ml.take_changed_tags() is None  # everything


def test_fdb_show_format(clock: Clock) -> None:
    ml = MacLearningTable(clock=clock)
    ml.learn(mac_from_str("50:54:00:00:00:01"), 0, 1)
    clock.t += 7
    ml.learn(mac_from_str("50:54:00:00:00:02"), 10, 0xFFFFFFFE)
    ml.add_static(mac_from_str("50:54:00:00:00:03"), 20, 2)
    names = {0xFFFFFFFE: "LOCAL"}
    text = ml.format_fdb_show(lambda p: names.get(p, str(p)))
    assert text.splitlines() == [
        " Port  VLAN  MAC                Age",
        "    1     0  50:54:00:00:00:01    7",
        "LOCAL    10  50:54:00:00:00:02    0",
        "    2    20  50:54:00:00:00:03  static",
    ]
    assert ml.stats()["current"] == 3 and ml.stats()["static"] == 1
