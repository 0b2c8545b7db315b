"""OpenFlow table-0 classifier with un-wildcarding (dpdk_glue/src/ofc.c).

Runs against the real compiled code through cffi.  Keys, masks and wildcard masks are
handled as 1024-bit Python ints whose byte i is byte i of struct vsw_flow_key, so the
brute-force model is a few integer operations and the tests do not depend on field
names.  Checked for every lookup of key K returning R with wildcards wc:

(a) R is the brute-force answer: the best-ranked matching rule (higher priority, then
    lower seq), -1 if none;
(b) every key K2 with K2 & wc == K & wc has the same brute-force answer (several K2,
    with the bits outside wc taken from other interesting keys);
(c) a subtable that misses at some stage does not un-wildcard its later stages
    (targeted tests).
"""

from __future__ import annotations

import errno
import random
import time

import pytest
from dpdk_glue._vsw import ffi, lib
from helpers.cobj import owned
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

KEY_BYTES = 128
ALL = (1 << (8 * KEY_BYTES)) - 1

# Byte offsets in struct vsw_flow_key.
IN_PORT, RECIRC_ID = 0, 4
ETH_DST, ETH_TYPE = 16, 28
IPV4_DST, NW_PROTO, ARP_THA = 36, 76, 86
TP_SRC, TP_DST, ND_TARGET = 92, 94, 100

# Positions rules look at, a couple per stage (metadata [0,16), L2 [16,32), L3 [32,92),
# L4 [92,128)); word 11 (bytes 88..95) straddles L3 (arp_tha) and L4 (tp_src, tp_dst).
POSITIONS = [IN_PORT, RECIRC_ID, ETH_DST, ETH_TYPE + 1, IPV4_DST, NW_PROTO, ARP_THA + 4,
             TP_SRC, TP_DST + 1, ND_TARGET]
BYTE_MASKS = [0xFF, 0xFF, 0xF0, 0x0F, 0x81]
# Small value domain so that rules collide, overlap and share prefixes.
VALUES = [0x00, 0x01, 0x11, 0xF0]


def field(offset: int, value: int, width: int = 1) -> int:
    """'value' as a 'width'-byte network-order field at byte 'offset'."""
    return int.from_bytes(value.to_bytes(width, "big"), "little") << (8 * offset)


def bytes_mask(offset: int, width: int) -> int:
    return ((1 << (8 * width)) - 1) << (8 * offset)


class CKey:
    """A struct vsw_flow_key holding a 1024-bit int; keeps its buffer alive."""

    __slots__ = ("ptr",)

    def __init__(self, value: int = 0):
        self.ptr = ffi.new("struct vsw_flow_key *")
        ffi.memmove(self.ptr, value.to_bytes(KEY_BYTES, "little"), KEY_BYTES)

    def value(self) -> int:
        return int.from_bytes(ffi.buffer(self.ptr), "little")


class Model:
    """Brute force: id -> (priority, seq, masked key, mask)."""

    def __init__(self):
        self.rules: dict[int, tuple[int, int, int, int]] = {}

    def lookup(self, key: int) -> int:
        best = None
        for rid, (pri, seq, value, mask) in self.rules.items():
            if key & mask == value and (best is None or (-pri, seq) < best[0]):
                best = ((-pri, seq), rid)
        return -1 if best is None else best[1]

    def n_subtables(self) -> int:
        return len({mask for _p, _s, _v, mask in self.rules.values()})


@pytest.fixture
def ofc():
    yield from owned(lib.vsw_ofc_create, lib.vsw_ofc_destroy)


def lookup(c, key: int, wc_in: int = 0) -> tuple[int, int]:
    wc = CKey(wc_in)
    return lib.vsw_ofc_lookup(c, CKey(key).ptr, wc.ptr), wc.value()


def add(c, rid, pri, seq, key, mask) -> int:
    return lib.vsw_ofc_add(c, rid, pri, seq, CKey(key).ptr, CKey(mask).ptr)


# ---------------------------------------------------------------- random models

mask_shapes = st.lists(
    st.dictionaries(st.sampled_from(POSITIONS), st.sampled_from(BYTE_MASKS), max_size=4),
    min_size=1, max_size=6)


def shape_mask(shape: dict[int, int]) -> int:
    return sum(m << (8 * pos) for pos, m in shape.items())


def random_key(rng: random.Random) -> int:
    """Noise everywhere, small-domain values at the positions rules look at."""
    key = rng.getrandbits(8 * KEY_BYTES)
    for pos in POSITIONS:
        if rng.random() < 0.9:
            key = key & ~(0xFF << (8 * pos)) | rng.choice(VALUES) << (8 * pos)
    return key


def interesting_key(rng: random.Random, model: Model) -> int:
    """A random key, or one matching an existing rule (random bits elsewhere)."""
    if model.rules and rng.random() < 0.6:
        _p, _s, value, mask = model.rules[rng.choice(sorted(model.rules))]
        return value | random_key(rng) & ~mask
    return random_key(rng)


def check_lookup(c, model: Model, key: int, rng: random.Random) -> None:
    got, wc = lookup(c, key)
    want = model.lookup(key)
    assert got == want                                    # (a)
    for _ in range(4):                                    # (b)
        k2 = key & wc | interesting_key(rng, model) & ~wc
        assert model.lookup(k2) == want, hex(wc)
        assert lib.vsw_ofc_lookup(c, CKey(k2).ptr, ffi.NULL) == want


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(shapes=mask_shapes, ops=st.lists(
    st.tuples(st.sampled_from(["add", "add", "add", "remove", "lookup", "lookup"]),
              st.integers(0, 24),        # rule id
              st.integers(0, 3),         # priority
              st.integers(0, 5)),        # shape index (mod len(shapes))
    min_size=1, max_size=80),
    seed=st.integers(0, 2**32 - 1))
def test_random_operations_match_brute_force(shapes, ops, seed):
    rng = random.Random(seed)
    masks = [shape_mask(s) for s in shapes]
    c = lib.vsw_ofc_create()
    model = Model()
    # Unique seqs unrelated to the order of adds.
    seqs = rng.sample(range(10**6), len(ops))
    try:
        for (op, rid, pri, shape), seq in zip(ops, seqs, strict=True):
            if op == "add":
                mask = masks[shape % len(masks)]
                key = interesting_key(rng, model)   # unmasked: the C side masks it
                r = add(c, rid, pri, seq, key, mask)
                if rid in model.rules:
                    assert r == -errno.EEXIST
                else:
                    assert r == 0
                    model.rules[rid] = (pri, seq, key & mask, mask)
            elif op == "remove":
                r = lib.vsw_ofc_remove(c, rid)
                assert r == (0 if model.rules.pop(rid, None) else -errno.ENOENT)
            else:
                check_lookup(c, model, interesting_key(rng, model), rng)
            assert lib.vsw_ofc_n_rules(c) == len(model.rules)
            assert lib.vsw_ofc_n_subtables(c) == model.n_subtables()
        for _ in range(10):
            check_lookup(c, model, interesting_key(rng, model), rng)
        lib.vsw_ofc_clear(c)
        assert lib.vsw_ofc_n_rules(c) == lib.vsw_ofc_n_subtables(c) == 0
        assert lookup(c, random_key(rng)) == (-1, 0)
    finally:
        lib.vsw_ofc_destroy(c)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(shapes=mask_shapes, n=st.integers(1, 60), seed=st.integers(0, 2**32 - 1))
def test_same_choice_as_python_classifier(shapes, n, seed):
    """The reference: ofproto/classifier.py over one 8-bit field per byte position,
    staged like the key bytes, rules inserted in seq order."""
    from ofproto.classifier import Classifier, Rule

    def stage(pos):
        return 0 if pos < 16 else 1 if pos < 32 else 2 if pos < 92 else 3

    py = Classifier([(f"b{p}", 8) for p in POSITIONS], {f"b{p}": stage(p) for p in POSITIONS})
    rng = random.Random(seed)
    c = lib.vsw_ofc_create()
    model = Model()
    try:
        for seq in range(n):
            shape = shapes[rng.randrange(len(shapes))]
            pri = rng.randrange(4)
            key = interesting_key(rng, model)
            match = {f"b{p}": ((key >> (8 * p)) & m, m) for p, m in shape.items()}
            try:
                py.insert(Rule(pri, match, payload=seq))
            except ValueError:
                continue                # same match and priority: OpenFlow replaces
            assert add(c, seq, pri, seq, key, shape_mask(shape)) == 0
            model.rules[seq] = (pri, seq, key & shape_mask(shape), shape_mask(shape))
        for _ in range(30):
            key = interesting_key(rng, model)
            rule = py.lookup({f"b{p}": (key >> (8 * p)) & 0xFF for p in POSITIONS})
            assert lookup(c, key)[0] == (-1 if rule is None else rule.payload)
    finally:
        lib.vsw_ofc_destroy(c)


# ---------------------------------------------------------------- targeted tests

def test_errors_counts_and_clear(ofc):
    m_port = bytes_mask(IN_PORT, 4)
    m_ip = m_port | bytes_mask(IPV4_DST, 4)
    assert add(ofc, 7, 10, 1, field(IN_PORT, 1, 1), m_port) == 0
    assert add(ofc, 7, 20, 2, field(IN_PORT, 2, 1), m_ip) == -errno.EEXIST
    assert add(ofc, 8, 10, 3, field(IN_PORT, 2, 1), m_port) == 0
    assert add(ofc, 9, 10, 4, field(IN_PORT, 2, 1), m_ip) == 0
    assert (lib.vsw_ofc_n_rules(ofc), lib.vsw_ofc_n_subtables(ofc)) == (3, 2)
    assert lib.vsw_ofc_remove(ofc, 1234) == -errno.ENOENT
    assert lib.vsw_ofc_remove(ofc, 9) == 0
    assert lib.vsw_ofc_remove(ofc, 9) == -errno.ENOENT
    assert (lib.vsw_ofc_n_rules(ofc), lib.vsw_ofc_n_subtables(ofc)) == (2, 1)
    lib.vsw_ofc_clear(ofc)
    assert (lib.vsw_ofc_n_rules(ofc), lib.vsw_ofc_n_subtables(ofc)) == (0, 0)
    assert lookup(ofc, field(IN_PORT, 1, 1)) == (-1, 0)
    # Ids are free again after clear, and the classifier works as new.
    assert add(ofc, 7, 1, 1, field(IN_PORT, 1, 1), m_port) == 0
    assert lookup(ofc, field(IN_PORT, 1, 1)) == (7, m_port)


def test_rank_priority_then_lower_seq(ofc):
    m = bytes_mask(IN_PORT, 4)
    k = field(IN_PORT, 5, 1)
    assert add(ofc, 1, 10, 50, k, m) == 0
    assert add(ofc, 2, 10, 20, k, m) == 0     # same bucket, lower seq: wins
    assert add(ofc, 3, 9, 1, k, m) == 0
    assert lookup(ofc, k)[0] == 2
    assert add(ofc, 4, 11, 99, k, bytes_mask(IN_PORT, 1)) == 0   # other subtable
    assert lookup(ofc, k)[0] == 4
    for rid, then in ((4, 2), (2, 1), (1, 3), (3, -1)):
        assert lib.vsw_ofc_remove(ofc, rid) == 0
        assert lookup(ofc, k)[0] == then


def test_catch_all_rule(ofc):
    assert add(ofc, 1, 0, 1, ALL, 0) == 0     # all-zero mask: matches everything
    assert lookup(ofc, 0) == (1, 0)
    assert lookup(ofc, ALL) == (1, 0)
    m = bytes_mask(TP_DST, 2)
    assert add(ofc, 2, 5, 2, field(TP_DST, 80, 2), m) == 0
    assert lookup(ofc, field(TP_DST, 80, 2)) == (2, m)
    assert lookup(ofc, field(TP_DST, 81, 2)) == (1, m)


def test_stage_miss_leaves_later_stages_wildcarded(ofc):
    """(c): a rule on eth_type, nw_proto and tp_src; a UDP packet misses at L3, so
    neither tp_src nor tp_dst (nor arp_tha, sharing their word) is un-wildcarded."""
    m_l2 = bytes_mask(ETH_TYPE, 2)
    m_l3 = bytes_mask(NW_PROTO, 1)
    m_l4 = bytes_mask(TP_SRC, 2)
    tcp80 = field(ETH_TYPE, 0x0800, 2) | field(NW_PROTO, 6) | field(TP_SRC, 80, 2)
    assert add(ofc, 1, 100, 1, tcp80, m_l2 | m_l3 | m_l4) == 0

    udp80 = tcp80 & ~m_l3 | field(NW_PROTO, 17)
    rid, wc = lookup(ofc, udp80 | field(TP_DST, 53, 2) | field(ARP_THA, 0xABCDEF, 6))
    assert rid == -1
    assert wc == m_l2 | m_l3
    assert wc & (bytes_mask(TP_SRC, 4) | bytes_mask(ARP_THA, 6)) == 0

    ipv6 = tcp80 & ~m_l2 | field(ETH_TYPE, 0x86DD, 2)      # misses at L2 already
    assert lookup(ofc, ipv6) == (-1, m_l2)

    assert lookup(ofc, tcp80 | field(TP_DST, 53, 2)) == (1, m_l2 | m_l3 | m_l4)
    tcp81 = tcp80 & ~m_l4 | field(TP_SRC, 81, 2)             # misses at the last stage
    assert lookup(ofc, tcp81) == (-1, m_l2 | m_l3 | m_l4)

    # Another subtable that hits contributes its own bits only.
    m_port = bytes_mask(IN_PORT, 4)
    assert add(ofc, 2, 1, 2, 0, m_port) == 0
    assert lookup(ofc, udp80) == (2, m_port | m_l2 | m_l3)


def test_early_exit_does_not_unwildcard_skipped_subtables(ofc):
    m_port = bytes_mask(IN_PORT, 4)
    m_tp = bytes_mask(TP_SRC, 4)
    assert add(ofc, 1, 100, 1, field(IN_PORT, 1), m_port) == 0
    assert add(ofc, 2, 10, 2, field(TP_SRC, 80, 2), m_tp) == 0
    assert lookup(ofc, field(IN_PORT, 1) | field(TP_SRC, 80, 2)) == (1, m_port)
    # A miss in the better subtable: the worse one is visited.
    assert lookup(ofc, field(IN_PORT, 2) | field(TP_SRC, 80, 2)) == (2, m_port | m_tp)
    # Raising the worse subtable's best rank re-orders the scan (lazily).
    assert add(ofc, 3, 200, 3, field(TP_SRC, 81, 2), m_tp) == 0
    assert lookup(ofc, field(IN_PORT, 1) | field(TP_SRC, 80, 2)) == (1, m_port | m_tp)
    assert lib.vsw_ofc_remove(ofc, 3) == 0
    assert lookup(ofc, field(IN_PORT, 1) | field(TP_SRC, 80, 2)) == (1, m_port)


def test_wc_is_accumulated_and_may_be_null(ofc):
    m = bytes_mask(IN_PORT, 4)
    assert add(ofc, 1, 1, 1, field(IN_PORT, 3), m) == 0
    prior = bytes_mask(ND_TARGET, 16)
    assert lookup(ofc, field(IN_PORT, 3), prior) == (1, prior | m)
    assert lib.vsw_ofc_lookup(ofc, CKey(field(IN_PORT, 3)).ptr, ffi.NULL) == 1


def test_100k_rules_in_one_subtable(ofc):
    n = 100_000
    key = ffi.new("struct vsw_flow_key *")
    mask = ffi.new("struct vsw_flow_key *")
    mask.in_port = 0xFFFFFFFF
    mask.ipv4_dst = 0xFFFFFFFF
    mask.nw_proto = 0xFF
    mask.tp_dst = 0xFFFF
    key.in_port = 1
    key.nw_proto = 6
    key.tp_src = 0x1234        # not in the mask
    add_ = lib.vsw_ofc_add
    t0 = time.perf_counter()
    for i in range(n):
        key.ipv4_dst = i
        key.tp_dst = i & 0xFFFF
        assert add_(ofc, i, i % 7, i, key, mask) == 0
    elapsed = time.perf_counter() - t0
    assert elapsed < 2.0, elapsed
    assert (lib.vsw_ofc_n_rules(ofc), lib.vsw_ofc_n_subtables(ofc)) == (n, 1)

    wc = ffi.new("struct vsw_flow_key *")
    lookup_ = lib.vsw_ofc_lookup
    for i in range(0, n, 7):
        key.ipv4_dst = i
        key.tp_dst = i & 0xFFFF
        assert lookup_(ofc, key, wc) == i
    key.tp_dst = 0xFFFF                     # no rule has ipv4_dst 7 with this tp_dst
    key.ipv4_dst = 7
    assert lookup_(ofc, key, wc) == -1
    assert bytes(ffi.buffer(wc)) == bytes(ffi.buffer(mask))

    t0 = time.perf_counter()
    for i in range(n):
        assert lib.vsw_ofc_remove(ofc, i) == 0
    assert time.perf_counter() - t0 < 2.0
    assert (lib.vsw_ofc_n_rules(ofc), lib.vsw_ofc_n_subtables(ofc)) == (0, 0)
    key.ipv4_dst = 0
    key.tp_dst = 0
    assert lookup_(ofc, key, wc) == -1


def test_many_subtables_added_one_by_one(ofc):
    """Each rule in a subtable of its own, priorities rising, lookups in between:
    every add changes the best order."""
    rng = random.Random(1)
    model = Model()
    for i in range(300):
        shape = {p: 0xFF for p in rng.sample(POSITIONS, 3)}
        shape[POSITIONS[i % len(POSITIONS)]] = 0x0F
        mask = shape_mask(shape)
        key = random_key(rng)
        assert add(ofc, i, i // 3, i, key, mask) == 0
        model.rules[i] = (i // 3, i, key & mask, mask)
        check_lookup(ofc, model, interesting_key(rng, model), rng)
    assert lib.vsw_ofc_n_subtables(ofc) == model.n_subtables()
    for rid in rng.sample(sorted(model.rules), len(model.rules)):
        assert lib.vsw_ofc_remove(ofc, rid) == 0
        del model.rules[rid]
        check_lookup(ofc, model, interesting_key(rng, model), rng)
    assert lib.vsw_ofc_n_subtables(ofc) == 0
