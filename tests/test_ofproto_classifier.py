"""OpenFlow classifier (ofproto/classifier.py): lookup and megaflow un-wildcarding.

The classifier is checked against a brute-force model (an ordered list of rules; the
best match is the highest priority, ties to the earliest inserted, with replace keeping
the replaced rule's slot).  The central property is the megaflow invariant: after
``r = lookup(flow, wc)``, every flow that agrees with ``flow`` on the bits in ``wc`` must
also get ``r`` - checked by randomising only the wildcarded bits.  Narrowness is pinned
by regression tests for each technique (priority early exit, staged lookup, prefix
tracking / field-level miss proofs).
"""

from __future__ import annotations

import random
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ofproto.classifier import Classifier, Rule, default_stage

# A small universe with narrow fields so that random values collide often.
SMALL = [
    ("in_port", 3),
    ("metadata", 6),
    ("reg0", 4),
    ("eth_dst", 6),
    ("eth_type", 3),
    ("vlan_tci", 5),
    ("ip_proto", 3),
    ("ipv4_src", 8),
    ("ipv4_dst", 8),
    ("tp_src", 4),
    ("tp_dst", 4),
]
WIDTH = dict(SMALL)


def full(f: str) -> int:
    return (1 << WIDTH[f]) - 1


# Mask shapes: rules drawn from these share subtables.  Prefix masks, exact masks,
# non-prefix masks, multi-stage shapes and a catch-all.
SHAPES: list[dict[str, int]] = [
    {},
    {"in_port": full("in_port")},
    {"in_port": full("in_port"), "eth_type": full("eth_type")},
    {"eth_type": full("eth_type"), "ip_proto": full("ip_proto"), "tp_dst": full("tp_dst")},
    {"eth_type": full("eth_type"), "ipv4_dst": 0b11111000},
    {"eth_type": full("eth_type"), "ipv4_dst": 0b11100000},
    {"ipv4_src": 0b11110000, "ipv4_dst": full("ipv4_dst")},
    {"vlan_tci": 0b10110},
    {"metadata": 0b110011, "reg0": full("reg0")},
    {"in_port": full("in_port"), "eth_dst": full("eth_dst"), "tp_src": full("tp_src")},
    {
        "eth_type": full("eth_type"),
        "ip_proto": full("ip_proto"),
        "tp_src": 0b1100,
        "tp_dst": full("tp_dst"),
    },
    {"reg0": 0b1000, "ipv4_dst": 0b10000000, "tp_dst": 0b0011},
]


# ----------------------------------------------------------------- reference model


class Model:
    """Brute-force reference: list of live rules in tie-break order."""

    def __init__(self) -> None:
        self.rules: list[Rule] = []

    def key(self, r: Rule):
        return (r.priority, tuple(sorted(r.match.items())))

    def insert(self, r: Rule) -> None:
        self.rules.append(r)

    def replace(self, r: Rule) -> None:
        for i, old in enumerate(self.rules):
            if self.key(old) == self.key(r):
                self.rules[i] = r
                return
        self.rules.append(r)

    def remove(self, r: Rule) -> None:
        self.rules = [x for x in self.rules if self.key(x) != self.key(r)]

    def lookup(self, flow):
        best = None
        for r in self.rules:
            if matches(r, flow) and (best is None or r.priority > best.priority):
                best = r
        return best


def matches(r: Rule, flow) -> bool:
    return all(flow.get(f, 0) & m == v for f, (v, m) in r.match.items())


def variant(flow, wc, rng: random.Random, widths=WIDTH):
    """A flow agreeing with ``flow`` on ``wc``'s bits, random elsewhere."""
    out = {}
    for f, w in widths.items():
        keep = wc.get(f, 0)
        out[f] = (flow.get(f, 0) & keep) | (rng.getrandbits(w) & ~keep)
    return out


def check_megaflow(cls: Classifier, model: Model, flow, rng: random.Random, n=12, wc0=None):
    wc = dict(wc0 or {})
    got = cls.lookup(flow, wc)
    assert got is model.lookup(flow)
    assert cls.lookup(flow) is got  # without wc: same answer
    # Never un-wildcard a bit that no rule's mask contains (beyond what was given).
    used: dict[str, int] = {}
    for r in model.rules:
        for f, (_v, m) in r.match.items():
            used[f] = used.get(f, 0) | m
    for f, m in wc.items():
        assert f in WIDTH and 0 <= m <= full(f), (f, m)
        assert m & ~used.get(f, 0) & ~(wc0 or {}).get(f, 0) == 0, (f, m)
    for _ in range(n):
        f2 = variant(flow, wc, rng)
        assert model.lookup(f2) is got, (flow, f2, wc, got)
        assert cls.lookup(f2) is got
    return got, wc


# ----------------------------------------------------------------- strategies


@st.composite
def rule_specs(draw):
    shape = SHAPES[draw(st.integers(0, len(SHAPES) - 1))]
    match = {}
    for f, m in shape.items():
        match[f] = (draw(st.integers(0, full(f))) & m, m)
    return draw(st.integers(0, 4)), match


@st.composite
def flows_for(draw, specs):
    """Random flows, usually derived from a rule so that matches happen."""
    rnd = {f: draw(st.integers(0, full(f))) for f in WIDTH}
    if specs and draw(st.integers(0, 3)):
        _pri, match = specs[draw(st.integers(0, len(specs) - 1))]
        for f, (v, m) in match.items():
            rnd[f] = v | (rnd[f] & ~m)
    if draw(st.booleans()):  # sparse flow: drop some fields (missing = 0)
        for f in list(rnd):
            if draw(st.booleans()):
                del rnd[f]
    return rnd


def build(specs):
    cls, model = Classifier(SMALL), Model()
    for i, (pri, match) in enumerate(specs):
        r = Rule(pri, match, payload=i)
        if cls.find_exactly(match, pri) is not None:
            continue
        cls.insert(r)
        model.insert(r)
    return cls, model


# ------------------------------------------------------- (a) + (b): properties

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(st.data())
def test_lookup_matches_brute_force_and_megaflow_property(data):
    specs = data.draw(st.lists(rule_specs(), max_size=40))
    cls, model = build(specs)
    rng = random.Random(data.draw(st.integers(0, 2**32)))
    for _ in range(8):
        flow = data.draw(flows_for(specs))
        check_megaflow(cls, model, flow, rng)


@SETTINGS
@given(st.data())
def test_megaflow_property_with_prefilled_wildcards(data):
    """wc accumulates across tables in xlate; a non-empty starting mask must only
    ever grow, and the property must hold for the final mask."""
    specs = data.draw(st.lists(rule_specs(), max_size=30))
    cls, model = build(specs)
    rng = random.Random(data.draw(st.integers(0, 2**32)))
    for _ in range(5):
        flow = data.draw(flows_for(specs))
        wc0 = {f: data.draw(st.integers(0, full(f))) for f in WIDTH if data.draw(st.booleans())}
        _, wc = check_megaflow(cls, model, flow, rng, wc0=wc0)
        for f, m in wc0.items():
            assert wc[f] & m == m


@SETTINGS
@given(st.data())
def test_random_insert_remove_replace_sequences(data):
    cls, model = Classifier(SMALL), Model()
    specs: list = []
    rng = random.Random(data.draw(st.integers(0, 2**32)))
    for step in range(data.draw(st.integers(1, 60))):
        op = data.draw(st.sampled_from(["insert", "insert", "remove", "replace", "lookup"]))
        if op == "insert" or (op in ("remove", "replace") and not model.rules):
            pri, match = data.draw(rule_specs())
            specs.append((pri, match))
            if cls.find_exactly(match, pri) is None:
                r = Rule(pri, match, payload=("i", step))
                cls.insert(r)
                model.insert(r)
        elif op == "remove":
            victim = model.rules[data.draw(st.integers(0, len(model.rules) - 1))]
            assert cls.remove(Rule(victim.priority, victim.match)) is victim
            model.remove(victim)
        elif op == "replace":
            victim = model.rules[data.draw(st.integers(0, len(model.rules) - 1))]
            new = Rule(victim.priority, victim.match, payload=("r", step))
            assert cls.replace(new) is victim
            model.replace(new)
        else:
            check_megaflow(cls, model, data.draw(flows_for(specs)), rng, n=6)
        assert len(cls) == len(model.rules)
        masks = {tuple(sorted((f, m) for f, (_v, m) in r.match.items())) for r in model.rules}
        assert cls.n_subtables == len(masks)
        assert list(cls.rules()) == model.rules
    for _ in range(4):
        check_megaflow(cls, model, data.draw(flows_for(specs)), rng, n=6)


# ------------------------------------------------------------- (c) narrowness

OF_FIELDS = [
    ("in_port", 32),
    ("metadata", 64),
    *[(f"reg{i}", 32) for i in range(16)],
    ("eth_src", 48),
    ("eth_dst", 48),
    ("eth_type", 16),
    ("vlan_tci", 16),
    ("ip_proto", 8),
    ("ipv4_src", 32),
    ("ipv4_dst", 32),
    ("ipv6_src", 128),
    ("ipv6_dst", 128),
    ("tp_src", 16),
    ("tp_dst", 16),
]
TCP = {"eth_type": 0x0800, "ip_proto": 6}
UDP = {"eth_type": 0x0800, "ip_proto": 17}


def ip(s: str) -> int:
    a, b, c, d = (int(x) for x in s.split("."))
    return (a << 24) | (b << 16) | (c << 8) | d


def nonzero(wc):
    return {f: m for f, m in wc.items() if m}


def test_default_stages():
    assert default_stage("in_port") == default_stage("reg7") == default_stage("metadata") == 0
    assert default_stage("eth_type") == default_stage("vlan_tci") == 1
    assert default_stage("ip_proto") == default_stage("ipv6_dst") == 2
    assert default_stage("tp_dst") == default_stage("icmp_type") == 3
    assert default_stage("something_new") == 3


def test_in_port_only_rules_unwildcard_only_in_port():
    cls = Classifier(OF_FIELDS)
    for port in range(1, 9):
        cls.insert(Rule(10, {"in_port": port}, port))
    pkt = {"in_port": 3, "eth_type": 0x800, "ip_proto": 6, "tp_dst": 80, "ipv4_dst": 1}
    wc: dict[str, int] = {}
    assert cls.lookup(pkt, wc).payload == 3
    assert set(nonzero(wc)) == {"in_port"}
    assert wc["in_port"] == 0xFFFFFFFF  # a hit compares the whole subtable mask
    wc = {}
    assert cls.lookup({**pkt, "in_port": 100}, wc) is None
    assert set(nonzero(wc)) == {"in_port"}


def test_staged_lookup_udp_does_not_unwildcard_ports():
    cls = Classifier(OF_FIELDS)
    cls.insert(Rule(100, {**TCP, "tp_dst": 80}, "web"))
    cls.insert(Rule(0, {}, "default"))
    wc: dict[str, int] = {}
    udp = {"in_port": 1, **UDP, "tp_src": 5353, "tp_dst": 80, "ipv4_dst": ip("10.0.0.1")}
    assert cls.lookup(udp, wc).payload == "default"
    assert not wc.get("tp_dst") and not wc.get("tp_src")
    assert wc.get("ip_proto")  # the L3 stage is what proved the miss
    # And a TCP packet to another port: L4 stage misses, ports trie narrows tp_dst.
    wc = {}
    assert cls.lookup({**udp, **TCP, "tp_dst": 443}, wc).payload == "default"
    assert wc["tp_dst"] and wc["tp_dst"] != 0xFFFF
    assert not wc.get("tp_src")
    # The hit un-wildcards the whole TCP subtable mask.
    wc = {}
    assert cls.lookup({**udp, **TCP}, wc).payload == "web"
    assert nonzero(wc) == {"eth_type": 0xFFFF, "ip_proto": 0xFF, "tp_dst": 0xFFFF}


def test_stage_miss_without_single_field_proof_unwildcards_stages_so_far():
    """Both values of each field exist, only the combination is missing: the miss at
    the L2 stage un-wildcards metadata and L2 stages, not L3/L4."""
    cls = Classifier(OF_FIELDS)
    cls.insert(Rule(10, {"in_port": 1, "eth_type": 0x800, "tp_dst": 80}, "a"))
    cls.insert(Rule(10, {"in_port": 2, "eth_type": 0x806, "tp_dst": 80}, "b"))
    wc: dict[str, int] = {}
    assert cls.lookup({"in_port": 1, "eth_type": 0x806, "tp_dst": 80}, wc) is None
    assert nonzero(wc) == {"in_port": 0xFFFFFFFF, "eth_type": 0xFFFF}


def test_higher_priority_match_skips_lower_subtables():
    cls = Classifier(OF_FIELDS)
    cls.insert(Rule(100, {"in_port": 1}, "port1"))
    cls.insert(Rule(50, {**TCP, "tp_dst": 22}, "ssh"))
    cls.insert(Rule(10, {"ipv4_dst": (ip("10.0.0.0"), 0xFF000000)}, "net10"))
    pkt = {"in_port": 1, **TCP, "tp_dst": 22, "ipv4_dst": ip("10.1.1.1")}
    wc: dict[str, int] = {}
    assert cls.lookup(pkt, wc).payload == "port1"
    assert set(nonzero(wc)) == {"in_port"}
    # Same priority tie: the earliest inserted wins, and the scan still stops early.
    cls.insert(Rule(100, {"ipv4_dst": ip("10.1.1.1")}, "late-tie"))
    wc = {}
    assert cls.lookup(pkt, wc).payload == "port1"
    assert set(nonzero(wc)) == {"in_port"}
    wc = {}
    assert cls.lookup({**pkt, "in_port": 2}, wc).payload == "late-tie"
    assert "tp_dst" not in nonzero(wc)


def test_prefix_tracking_unwildcards_only_needed_prefix_bits():
    cls = Classifier(OF_FIELDS)
    for i in range(16):
        cls.insert(Rule(24, {"eth_type": 0x800, "ipv4_dst": (ip(f"10.{i}.0.0"), 0xFFFF0000)}, i))
    cls.insert(Rule(0, {}, "default"))
    wc: dict[str, int] = {}
    assert cls.lookup({"eth_type": 0x800, "ipv4_dst": ip("192.168.1.1")}, wc).payload == "default"
    assert nonzero(wc) == {"ipv4_dst": 0x80000000}  # first bit already leaves 10/8
    wc = {}
    assert cls.lookup({"eth_type": 0x800, "ipv4_dst": ip("10.200.0.1")}, wc).payload == "default"
    # 10.0-15 share 10.0000xxxx; 200 = 11001000 leaves at its first bit: 8+1 bits.
    assert nonzero(wc) == {"ipv4_dst": 0xFF800000}
    wc = {}
    assert cls.lookup({"eth_type": 0x800, "ipv4_dst": ip("10.3.9.9")}, wc).payload == 3
    assert nonzero(wc) == {"eth_type": 0xFFFF, "ipv4_dst": 0xFFFF0000}


def test_ipv6_prefix_tracking():
    cls = Classifier(OF_FIELDS)
    net = 0x20010DB8 << 96
    cls.insert(Rule(5, {"eth_type": 0x86DD, "ipv6_dst": (net, ((1 << 32) - 1) << 96)}, "doc"))
    wc: dict[str, int] = {}
    assert cls.lookup({"eth_type": 0x86DD, "ipv6_dst": 0xFE80 << 112}, wc) is None
    assert nonzero(wc) == {"ipv6_dst": 1 << 127}
    wc = {}
    assert cls.lookup({"eth_type": 0x86DD, "ipv6_dst": net | 1}, wc).payload == "doc"


def test_non_prefix_mask_field_uses_its_whole_mask():
    cls = Classifier(OF_FIELDS)
    cls.insert(Rule(5, {"vlan_tci": (0x1005, 0x1FFF)}, "vlan5"))
    wc: dict[str, int] = {}
    assert cls.lookup({"vlan_tci": 0x1006}, wc) is None
    assert nonzero(wc) == {"vlan_tci": 0x1FFF}


def test_prefix_tracking_can_be_disabled():
    cls = Classifier(OF_FIELDS, prefix_fields=())
    cls.insert(Rule(5, {"ipv4_dst": (ip("10.0.0.0"), 0xFF000000)}, "n"))
    wc: dict[str, int] = {}
    assert cls.lookup({"ipv4_dst": ip("192.168.0.1")}, wc) is None
    assert nonzero(wc) == {"ipv4_dst": 0xFF000000}
    with pytest.raises(ValueError):
        Classifier(OF_FIELDS, prefix_fields=["nope"])


def test_cheapest_proof_prefers_already_unwildcarded_bits():
    cls = Classifier(OF_FIELDS)
    cls.insert(Rule(5, {"ip_proto": 6, "ipv4_src": ip("1.1.1.1")}, "x"))
    wc = {"ipv4_src": 0xFFFFFFFF}
    assert cls.lookup({"ip_proto": 17, "ipv4_src": ip("2.2.2.2")}, wc) is None
    assert nonzero(wc) == {"ipv4_src": 0xFFFFFFFF}


def test_custom_stage_map():
    stage = {"a": 0, "b": 1}
    cls = Classifier([("a", 8), ("b", 8)], stage_of=stage)
    cls.insert(Rule(1, {"a": 1, "b": 2}, "x"))
    cls.insert(Rule(1, {"a": 2, "b": 1}, "y"))
    wc: dict[str, int] = {}
    assert cls.lookup({"a": 1, "b": 1}, wc) is None
    assert nonzero(wc) == {"a": 0xFF, "b": 0xFF}
    wc = {}
    assert cls.lookup({"a": 3, "b": 1}, wc) is None
    assert set(nonzero(wc)) == {"a"}


# -------------------------------------------------- (d) overlap, loose, strict

TINY = [("in_port", 2), ("eth_type", 3), ("tp_dst", 2)]
TINY_PACKETS = [
    {"in_port": a, "eth_type": b, "tp_dst": c} for a in range(4) for b in range(8) for c in range(4)
]


@st.composite
def tiny_matches(draw):
    match = {}
    for f, w in TINY:
        m = draw(st.integers(0, (1 << w) - 1))
        if m:
            match[f] = (draw(st.integers(0, (1 << w) - 1)) & m, m)
    return match


def packets_of(match):
    r = Rule(0, match)
    return {i for i, p in enumerate(TINY_PACKETS) if matches(r, p)}


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 2), tiny_matches()), max_size=12),
    tiny_matches(),
    st.integers(0, 2),
)
def test_overlap_and_loose_match_are_semantic(rules, crit, pri):
    cls = Classifier(TINY)
    for p, m in rules:
        if cls.find_exactly(m, p) is None:
            cls.insert(Rule(p, m))
    cset = packets_of(crit)
    expect_overlap = any(r.priority == pri and packets_of(r.match) & cset for r in cls.rules())
    assert cls.overlaps(crit, pri) == expect_overlap
    expect_loose = [r for r in cls.rules() if packets_of(r.match) <= cset]
    assert list(cls.iter_matching_loose(crit)) == expect_loose
    strict = list(cls.iter_matching_strict(crit, pri))
    assert strict == [r for r in cls.rules() if r.priority == pri and packets_of(r.match) == cset]


def test_overlap_examples():
    cls = Classifier(OF_FIELDS)
    cls.insert(Rule(10, {"in_port": 1}))
    cls.insert(Rule(20, {"ipv4_dst": (ip("10.0.0.0"), 0xFF000000)}))
    assert cls.overlaps({"eth_type": 0x800}, 10)  # disjoint fields: packet matches both
    assert not cls.overlaps({"in_port": 2}, 10)
    assert not cls.overlaps({"in_port": 1}, 11)  # different priority never overlaps
    assert cls.overlaps({"ipv4_dst": (ip("10.1.0.0"), 0xFFFF0000)}, 20)
    assert not cls.overlaps({"ipv4_dst": (ip("11.1.0.0"), 0xFFFF0000)}, 20)
    assert cls.overlaps({"in_port": 1}, 10)  # identical rule counts


def test_loose_and_strict_examples():
    cls = Classifier(OF_FIELDS)
    a = Rule(10, {**TCP, "tp_dst": 80}, "a")
    b = Rule(20, {**TCP, "tp_dst": 443}, "b")
    c = Rule(30, {"eth_type": 0x800}, "c")
    d = Rule(5, {"ipv4_dst": (ip("10.1.0.0"), 0xFFFF0000)}, "d")
    for r in (a, b, c, d):
        cls.insert(r)
    assert list(cls.iter_matching_loose({})) == [a, b, c, d]
    assert list(cls.iter_matching_loose(TCP)) == [a, b]
    assert list(cls.iter_matching_loose({"eth_type": 0x800})) == [a, b, c]
    assert list(cls.iter_matching_loose({"ipv4_dst": (ip("10.0.0.0"), 0xFF000000)})) == [d]
    assert list(cls.iter_matching_loose({"ipv4_dst": ip("10.1.2.3")})) == []
    assert list(cls.iter_matching_strict({**TCP, "tp_dst": 80}, 10)) == [a]
    assert list(cls.iter_matching_strict({**TCP, "tp_dst": 80}, 11)) == []
    assert list(cls.iter_matching_strict(TCP, 10)) == []
    assert cls.find_exactly({"eth_type": (0x800, 0xFFFF)}, 30) is c


# --------------------------------------------------------- (e) bookkeeping


def test_insert_remove_replace_bookkeeping():
    cls = Classifier(OF_FIELDS)
    assert len(cls) == 0 and cls.n_subtables == 0 and cls.lookup({}) is None
    r1 = Rule(10, {"in_port": 1}, "r1")
    r2 = Rule(10, {"in_port": 2}, "r2")
    r3 = Rule(20, {**TCP}, "r3")
    for r in (r1, r2, r3):
        cls.insert(r)
    assert len(cls) == 3 and cls.n_subtables == 2
    assert cls.masks()[0] == {"eth_type": 0xFFFF, "ip_proto": 0xFF}
    with pytest.raises(ValueError):
        cls.insert(Rule(10, {"in_port": 1}, "dup"))
    with pytest.raises(ValueError):
        cls.insert(r1)  # already inserted
    # Same match, other priority is a distinct rule sharing the hash bucket.
    r1b = Rule(15, {"in_port": 1}, "r1b")
    cls.insert(r1b)
    assert cls.lookup({"in_port": 1}) is r1b
    assert cls.remove(r1b) is r1b and cls.lookup({"in_port": 1}) is r1
    # replace keeps the slot and returns the displaced rule.
    new1 = Rule(10, {"in_port": (1, 0xFFFFFFFF)}, "new1")
    assert cls.replace(new1) is r1
    assert cls.find_exactly({"in_port": 1}, 10) is new1
    assert list(cls.rules()) == [new1, r2, r3]
    assert cls.lookup({"in_port": 1}) is new1
    assert cls.replace(Rule(1, {"in_port": 9}, "fresh")) is None and len(cls) == 4
    # remove by an equal (not identical) rule; missing rule raises KeyError.
    assert cls.remove(Rule(20, TCP)) is r3
    assert cls.n_subtables == 1
    with pytest.raises(KeyError):
        cls.remove(Rule(20, TCP))
    for r in list(cls.rules()):
        cls.remove(r)
    assert len(cls) == 0 and cls.n_subtables == 0 and cls.masks() == []
    assert cls.lookup({"in_port": 1}, {}) is None
    # A removed rule can be inserted again.
    cls.insert(r3)
    assert cls.lookup({**TCP}) is r3


def test_validation():
    cls = Classifier(OF_FIELDS)
    with pytest.raises(ValueError):
        Rule(1, {"in_port": (3, 1)})  # value outside mask
    with pytest.raises(KeyError):
        cls.insert(Rule(1, {"nope": 1}))
    with pytest.raises(ValueError):
        cls.insert(Rule(1, {"ip_proto": 0x1FF}))  # wider than the field
    with pytest.raises(ValueError):
        Classifier([("a", 8), ("a", 8)])
    r = Rule(1, {"in_port": (0, 0)})  # fully wildcarded field is dropped
    assert r.match == {}


def test_same_priority_tie_break_is_insertion_order_across_subtables():
    cls = Classifier(OF_FIELDS)
    first = Rule(7, {"ip_proto": 6}, "first")
    second = Rule(7, {"in_port": 1}, "second")
    cls.insert(first)
    cls.insert(second)
    pkt = {"in_port": 1, "ip_proto": 6}
    assert cls.lookup(pkt) is first
    wc: dict[str, int] = {}
    assert cls.lookup(pkt, wc) is first
    cls.remove(first)
    assert cls.lookup(pkt) is second
    cls.insert(first)  # re-inserted: now later than 'second'
    assert cls.lookup(pkt) is second


# ------------------------------------------------------------------- (f) timing


def test_timing_10k_rules_10_masks(capsys):
    rng = random.Random(1)
    shapes = [
        {"in_port": 0xFFFFFFFF},
        {"in_port": 0xFFFFFFFF, "eth_dst": (1 << 48) - 1},
        {"eth_type": 0xFFFF, "ipv4_dst": 0xFFFFFF00},
        {"eth_type": 0xFFFF, "ipv4_dst": 0xFFFF0000},
        {"eth_type": 0xFFFF, "ipv4_src": 0xFFFFFFFF, "ipv4_dst": 0xFFFFFFFF},
        {"eth_type": 0xFFFF, "ip_proto": 0xFF, "tp_dst": 0xFFFF},
        {"eth_type": 0xFFFF, "ip_proto": 0xFF, "ipv4_dst": 0xFFFFFFFF, "tp_dst": 0xFFFF},
        {"metadata": 0xFFFF, "reg0": 0xFFFFFFFF},
        {"vlan_tci": 0x1FFF, "eth_dst": (1 << 48) - 1},
        {"eth_type": 0xFFFF, "ipv6_dst": ((1 << 64) - 1) << 64},
    ]
    cls = Classifier(OF_FIELDS)
    widths = dict(OF_FIELDS)
    rules = []
    t0 = time.perf_counter()
    while len(cls) < 10_000:
        shape = shapes[len(cls) % len(shapes)]
        match = {f: (rng.getrandbits(widths[f]) & m, m) for f, m in shape.items()}
        if "eth_type" in match:
            match["eth_type"] = (0x86DD if "ipv6_dst" in match else 0x0800, 0xFFFF)
        if "ip_proto" in match:
            match["ip_proto"] = (rng.choice((6, 17)), 0xFF)
        pri = rng.randrange(100)
        if cls.find_exactly(match, pri) is None:
            r = Rule(pri, match, len(rules))
            cls.insert(r)
            rules.append(r)
    t_insert = (time.perf_counter() - t0) / len(rules)
    assert cls.n_subtables == 10
    flows = []
    for i in range(2000):
        flow = {f: rng.getrandbits(w) for f, w in OF_FIELDS}
        if i % 2:
            for f, (v, m) in rules[rng.randrange(len(rules))].match.items():
                flow[f] = v | (flow[f] & ~m)
        flows.append(flow)
    t0 = time.perf_counter()
    for flow in flows:
        cls.lookup(flow, {})
    t_wc = (time.perf_counter() - t0) / len(flows)
    t0 = time.perf_counter()
    for flow in flows:
        cls.lookup(flow)
    t_nowc = (time.perf_counter() - t0) / len(flows)
    sample = rules[:500]
    t0 = time.perf_counter()
    for r in sample:
        cls.remove(r)
    t_remove = (time.perf_counter() - t0) / len(sample)
    with capsys.disabled():
        print(
            f"\nclassifier 10k rules/10 masks: lookup+wc {t_wc * 1e6:.1f} us, "
            f"lookup {t_nowc * 1e6:.1f} us, insert {t_insert * 1e6:.1f} us, "
            f"remove {t_remove * 1e6:.1f} us"
        )
    assert t_wc < 1e-3  # sanity only; the target is well under 50 us
