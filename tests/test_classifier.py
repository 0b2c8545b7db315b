"""Megaflow classifier and exact-match cache (dpdk_glue/src/classifier.c, emc.c).

Runs against the real compiled code through cffi.  The classifier is checked against a
Python reference model (a list of rules; a key matches a rule when key & mask equals
the rule's masked key) with hypothesis-driven operation sequences.  Keys are handled as
16 64-bit words (the layout of struct vsw_flow_key, in_port being the low 32 bits of
word 0 on this little-endian target), so the tests do not depend on field names.
"""

from __future__ import annotations

import errno
import random
import struct

import pytest
from dpdk_glue._vsw import ffi, lib
from helpers.cobj import owned
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

WORDS = 16
ALL = (1 << 64) - 1
IN_PORT = 0xFFFFFFFF


class Key:
    """A struct vsw_flow_key built from 16 words; keeps its buffer alive."""

    __slots__ = ("buf", "ptr", "words")

    def __init__(self, words):
        self.words = tuple(words)
        assert len(self.words) == WORDS
        self.buf = ffi.new("uint64_t[16]", list(self.words))
        self.ptr = ffi.cast("struct vsw_flow_key *", self.buf)


def key_of(**w):
    """Words given as w0=..., w5=...; the rest zero."""
    words = [0] * WORDS
    for name, v in w.items():
        words[int(name[1:])] = v
    return Key(words)


def vp(n: int):
    return ffi.cast("void *", n)


def ival(p) -> int:
    return int(ffi.cast("uintptr_t", p))


def masked(words, mask):
    return tuple(a & b for a, b in zip(words, mask, strict=True))


# A small set of mask shapes so that rules share subtables.  All match in_port exactly
# (word 0 low half); some also recirc_id (word 0 high half).
MASKS = [
    {0: IN_PORT, 2: 0xFFFF},
    {0: ALL, 2: 0xFFFF},
    {0: IN_PORT, 5: 0xFF00FF00FF00FF00},
    {0: IN_PORT, 2: 0xFF, 5: ALL},
    {0: IN_PORT, 9: 0xFFFFFFFF, 15: 0xFFFF << 48},
    {i: ALL for i in range(WORDS)},
]
MASKS = [tuple(m.get(i, 0) for i in range(WORDS)) for m in MASKS]
# Small value pools for the matched words, so that hits, duplicates and would-be
# overlaps actually happen; 70000 exercises in_ports beyond the direct array.
PORTS = [1, 2, 3, 70000]
POOL = [0, 1, 0xFF, 0x1234_0000_00FF_0001, ALL]


class Model:
    """Reference classifier: a dict (masked key, mask) -> data."""

    def __init__(self):
        self.rules = {}

    @staticmethod
    def overlap(k1, m1, k2, m2) -> bool:
        # Some key matches both iff they agree on every bit both masks care about.
        return all((a ^ b) & x & y == 0 for a, b, x, y in zip(k1, k2, m1, m2, strict=True))

    def conflicts(self, key, mask) -> bool:
        mk = masked(key, mask)
        return any(
            (mk, mask) != ident and self.overlap(mk, mask, *ident) for ident in self.rules
        )

    def lookup(self, key):
        hits = [d for (mk, m), d in self.rules.items() if masked(key, m) == mk]
        assert len(hits) <= 1
        return hits[0] if hits else 0


# The words some mask looks at; the others only carry don't-care noise.
MATCHED = sorted({i for m in MASKS[:-1] for i in range(1, WORDS) if m[i]})


def key_words(data, rng):
    port = data.draw(st.sampled_from(PORTS))
    recirc = data.draw(st.sampled_from([0, 1]))
    # Don't-care noise from a hypothesis-provided Random: drawing all 16 words through
    # hypothesis would make each example several times slower for no extra coverage.
    words = [port | (recirc << 32)] + [rng.getrandbits(64) for _ in range(WORDS - 1)]
    for i in MATCHED:
        words[i] = data.draw(st.sampled_from(POOL))
    return words


@pytest.fixture
def cls():
    yield from owned(lib.vsw_cls_create, lib.vsw_cls_destroy)


def check_lookup(c, model, key, batch_keys=None):
    assert ival(lib.vsw_cls_lookup(c, key.ptr)) == model.lookup(key.words)


def check_batch(c, model, keys):
    n = len(keys)
    arr = ffi.new("struct vsw_flow_key *[32]", [k.ptr for k in keys])
    res = ffi.new("void *[32]", [vp(0xDEAD)] * 32)
    lib.vsw_cls_lookup_batch(c, arr, n, res)
    for i, k in enumerate(keys):
        assert ival(res[i]) == model.lookup(k.words), i
    # Entries past n are left alone.
    for i in range(n, 32):
        assert ival(res[i]) == 0xDEAD


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_random_operations_match_model(data):
    c = lib.vsw_cls_create()
    model = Model()
    rng = data.draw(st.randoms(use_true_random=False), label="rng")
    next_data = 1
    try:
        for _ in range(data.draw(st.integers(1, 80), label="n_ops")):
            op = data.draw(st.sampled_from(
                ["insert", "insert", "insert", "remove", "lookup", "batch", "rank"]))
            if op == "insert":
                words = key_words(data, rng)
                mask = data.draw(st.sampled_from(MASKS))
                ident = (masked(words, mask), mask)
                if ident in model.rules:
                    assert lib.vsw_cls_insert(c, Key(words).ptr, Key(mask).ptr,
                                              vp(next_data)) == -errno.EEXIST
                elif model.conflicts(words, mask):
                    continue  # megaflows never overlap
                else:
                    assert lib.vsw_cls_insert(c, Key(words).ptr, Key(mask).ptr,
                                              vp(next_data)) == 0
                    model.rules[ident] = next_data
                next_data += 1
            elif op == "remove":
                if model.rules and data.draw(st.booleans()):
                    mk, mask = data.draw(st.sampled_from(sorted(model.rules)))
                    # Unmasked bits of the key must not matter.
                    noise = [rng.getrandbits(64) for _ in range(WORDS)]
                    words = [a | (n & ~m) for a, n, m in zip(mk, noise, mask, strict=True)]
                    expect = model.rules.pop((mk, mask))
                else:
                    words = key_words(data, rng)
                    mask = data.draw(st.sampled_from(MASKS))
                    expect = model.rules.pop((masked(words, mask), mask), 0)
                assert ival(lib.vsw_cls_remove(c, Key(words).ptr, Key(mask).ptr)) == expect
            elif op == "lookup":
                check_lookup(c, model, Key(derived_key(data, rng, model)))
            elif op == "batch":
                n = data.draw(st.integers(0, 32))
                check_batch(c, model, [Key(derived_key(data, rng, model)) for _ in range(n)])
            else:
                lib.vsw_cls_rank(c)
            assert lib.vsw_cls_n_rules(c) == len(model.rules)
            assert lib.vsw_cls_n_subtables(c) == len(
                {(mk[0] & IN_PORT, m) for mk, m in model.rules})
    finally:
        lib.vsw_cls_destroy(c)


def derived_key(data, rng, model):
    """A key matching an existing rule (with random don't-care bits), or a random key."""
    if model.rules and data.draw(st.booleans()):
        mk, mask = data.draw(st.sampled_from(sorted(model.rules)))
        noise = [rng.getrandbits(64) for _ in range(WORDS)]
        return [a | (n & ~m) for a, n, m in zip(mk, noise, mask, strict=True)]
    return key_words(data, rng)


def test_einval_when_in_port_not_exact(cls):
    k = key_of(w0=1, w2=5)
    for m0 in (0, 0xFFFF, 0xFFFFFFFF << 32, 0xFFFFFFFE):
        assert lib.vsw_cls_insert(cls, k.ptr, key_of(w0=m0, w2=ALL).ptr, vp(1)) == -errno.EINVAL
    assert lib.vsw_cls_n_rules(cls) == 0
    assert lib.vsw_cls_n_subtables(cls) == 0


def test_eexist_on_same_masked_key(cls):
    mask = key_of(w0=IN_PORT, w2=0xFF)
    assert lib.vsw_cls_insert(cls, key_of(w0=1, w2=0x1234).ptr, mask.ptr, vp(1)) == 0
    # Differs only in bits the mask ignores: same rule.
    assert lib.vsw_cls_insert(cls, key_of(w0=1 | 7 << 32, w2=0x5634, w3=9).ptr, mask.ptr,
                              vp(2)) == -errno.EEXIST
    assert lib.vsw_cls_n_rules(cls) == 1
    assert ival(lib.vsw_cls_lookup(cls, key_of(w0=1, w2=0x34).ptr)) == 1
    # Same key under another mask is another rule (another subtable).
    assert lib.vsw_cls_insert(cls, key_of(w0=2, w2=0x1234).ptr, mask.ptr, vp(3)) == 0
    assert lib.vsw_cls_insert(cls, key_of(w0=1, w2=0x1234).ptr,
                              key_of(w0=IN_PORT, w2=0xFF00).ptr, vp(4)) == 0
    assert lib.vsw_cls_n_rules(cls) == 3
    assert lib.vsw_cls_n_subtables(cls) == 3


def test_subtables_freed_when_empty(cls):
    m1 = key_of(w0=IN_PORT, w2=ALL)
    m2 = key_of(w0=IN_PORT, w3=ALL)
    for i in range(50):
        assert lib.vsw_cls_insert(cls, key_of(w0=1, w2=i).ptr, m1.ptr, vp(i + 1)) == 0
        assert lib.vsw_cls_insert(cls, key_of(w0=2, w2=i).ptr, m1.ptr, vp(i + 101)) == 0
    assert lib.vsw_cls_insert(cls, key_of(w0=1, w3=1).ptr, m2.ptr, vp(1000)) == 0
    # Subtables are per in_port.
    assert lib.vsw_cls_n_subtables(cls) == 3
    assert ival(lib.vsw_cls_remove(cls, key_of(w0=1, w3=1).ptr, m2.ptr)) == 1000
    assert lib.vsw_cls_n_subtables(cls) == 2
    assert lib.vsw_cls_remove(cls, key_of(w0=1, w3=1).ptr, m2.ptr) == ffi.NULL
    for i in range(50):
        assert ival(lib.vsw_cls_remove(cls, key_of(w0=1, w2=i).ptr, m1.ptr)) == i + 1
    assert lib.vsw_cls_n_subtables(cls) == 1
    assert lib.vsw_cls_lookup(cls, key_of(w0=1, w2=3).ptr) == ffi.NULL
    assert ival(lib.vsw_cls_lookup(cls, key_of(w0=2, w2=3).ptr)) == 104
    for i in range(50):
        assert ival(lib.vsw_cls_remove(cls, key_of(w0=2, w2=i).ptr, m1.ptr)) == i + 101
    assert lib.vsw_cls_n_subtables(cls) == 0
    assert lib.vsw_cls_n_rules(cls) == 0
    # Usable again afterwards (port and subtable recreated).
    assert lib.vsw_cls_insert(cls, key_of(w0=1, w2=3).ptr, m1.ptr, vp(7)) == 0
    assert ival(lib.vsw_cls_lookup(cls, key_of(w0=1, w2=3).ptr)) == 7


def test_ranking_changes_order_not_results(cls):
    # One rule per mask on in_port 5, each mask a different single word; hit the last
    # inserted subtable a lot so that ranking moves it to the front.
    rules = []
    for w in range(1, 9):
        mask = [0] * WORDS
        mask[0] = IN_PORT
        mask[w] = ALL
        key = [0] * WORDS
        key[0] = 5
        key[w] = 0x100 + w
        # Other masked words are 0 in the key but the mask ignores them; keep the
        # rules disjoint by giving every rule a distinct nonzero value in word 15.
        mask[15] = 0xFF
        key[15] = w
        rules.append((Key(key), Key(mask), w))
        assert lib.vsw_cls_insert(cls, rules[-1][0].ptr, rules[-1][1].ptr, vp(w)) == 0
    probe = [(Key(k.words), d) for k, _, d in rules]
    miss = key_of(w0=5, w15=99)
    before = [ival(lib.vsw_cls_lookup(cls, k.ptr)) for k, _ in probe]
    for _ in range(100):
        lib.vsw_cls_lookup(cls, probe[-1][0].ptr)
    lib.vsw_cls_rank(cls)
    after = [ival(lib.vsw_cls_lookup(cls, k.ptr)) for k, _ in probe]
    assert before == after == [d for _, d in probe]
    assert lib.vsw_cls_lookup(cls, miss.ptr) == ffi.NULL
    for _ in range(3):
        lib.vsw_cls_rank(cls)
    keys = ffi.new("struct vsw_flow_key *[32]", [k.ptr for k, _ in probe] + [miss.ptr])
    res = ffi.new("void *[32]")
    lib.vsw_cls_lookup_batch(cls, keys, len(probe) + 1, res)
    assert [ival(res[i]) for i in range(len(probe) + 1)] == [d for _, d in probe] + [0]


def test_batch_mixed_ports(cls):
    mask = key_of(w0=IN_PORT, w2=ALL)
    for port in (0, 1, 65535, 65536, 0xFFFFFFFF):
        for v in range(4):
            assert lib.vsw_cls_insert(cls, key_of(w0=port, w2=v).ptr, mask.ptr,
                                      vp(port * 8 + v + 1)) == 0
    model = Model()
    for port in (0, 1, 65535, 65536, 0xFFFFFFFF):
        for v in range(4):
            model.rules[((port,) + (0,) + (v,) + (0,) * 13, mask.words)] = port * 8 + v + 1
    rnd = random.Random(7)
    for _ in range(50):
        keys = [key_of(w0=rnd.choice([0, 1, 2, 65535, 65536, 0xFFFFFFFF]), w2=rnd.randrange(6),
                       w7=rnd.getrandbits(64)) for _ in range(rnd.randrange(33))]
        check_batch(cls, model, keys)
        for k in keys:
            check_lookup(cls, model, k)


def _pack(words_list):
    return b"".join(struct.pack("<16Q", *w) for w in words_list)


def test_many_rules_growth(cls):
    """100k exact 5-tuple-ish rules in one subtable, plus a second subtable: tables grow,
    everything is found, removal shrinks and finally frees."""
    n = 100_000
    mask = [0] * WORDS
    mask[0] = IN_PORT
    mask[3] = 0xFFFF << 32           # eth_type
    mask[4] = ALL                    # ipv4 src/dst
    mask[9] = 0xFF                   # nw_proto
    mask[12] = 0xFFFFFFFF            # tp ports
    maskk = Key(mask)
    rnd = random.Random(1)
    words = []
    for i in range(n):
        w = [rnd.getrandbits(64) for _ in range(WORDS)]
        w[0] = (w[0] & ~IN_PORT) | 3
        w[4] = (0x0A000000 + i) | (rnd.getrandbits(32) << 32)
        words.append(w)
    buf = ffi.new("uint64_t[]", n * WORDS)
    ffi.buffer(buf)[:] = _pack(words)
    ptrs = [ffi.cast("struct vsw_flow_key *", buf + i * WORDS) for i in range(n)]
    for i, p in enumerate(ptrs):
        assert lib.vsw_cls_insert(cls, p, maskk.ptr, vp(i + 1)) == 0
    assert lib.vsw_cls_n_rules(cls) == n
    assert lib.vsw_cls_n_subtables(cls) == 1
    assert all(ival(lib.vsw_cls_lookup(cls, p)) == i + 1 for i, p in enumerate(ptrs))
    arr = ffi.new("struct vsw_flow_key *[32]")
    res = ffi.new("void *[32]")
    for base in range(0, n, 32 * 97):
        for j in range(32):
            arr[j] = ptrs[base + j]
        lib.vsw_cls_lookup_batch(cls, arr, 32, res)
        assert [ival(res[j]) for j in range(32)] == list(range(base + 1, base + 33))
    for i in range(0, n, 2):
        assert ival(lib.vsw_cls_remove(cls, ptrs[i], maskk.ptr)) == i + 1
    assert lib.vsw_cls_n_rules(cls) == n // 2
    for i in range(0, n, 7):
        assert ival(lib.vsw_cls_lookup(cls, ptrs[i])) == (0 if i % 2 == 0 else i + 1)
    for i in range(1, n, 2):
        assert ival(lib.vsw_cls_remove(cls, ptrs[i], maskk.ptr)) == i + 1
    assert lib.vsw_cls_n_rules(cls) == 0
    assert lib.vsw_cls_n_subtables(cls) == 0


# ---------------------------------------------------------------- EMC


@pytest.fixture
def emc_always():
    e = lib.vsw_emc_create(8192, 1)
    assert e != ffi.NULL
    yield e
    lib.vsw_emc_destroy(e)


def test_emc_hit_after_insert(emc_always):
    k = key_of(w0=1, w4=0x0A000001, w12=80)
    assert lib.vsw_emc_lookup(emc_always, k.ptr, 0x1234) == ffi.NULL
    lib.vsw_emc_insert(emc_always, k.ptr, 0x1234, vp(11))
    assert ival(lib.vsw_emc_lookup(emc_always, k.ptr, 0x1234)) == 11
    # The full key is compared, not just the hash; and the hash too.
    assert lib.vsw_emc_lookup(emc_always, key_of(w0=1, w4=0x0A000001, w12=81).ptr,
                              0x1234) == ffi.NULL
    assert lib.vsw_emc_lookup(emc_always, k.ptr, 0x1235) == ffi.NULL
    # Re-inserting the same key updates its data in place.
    lib.vsw_emc_insert(emc_always, k.ptr, 0x1234, vp(12))
    assert ival(lib.vsw_emc_lookup(emc_always, k.ptr, 0x1234)) == 12


def test_emc_never_inserts_with_zero():
    e = lib.vsw_emc_create(1024, 0)
    try:
        for i in range(2000):
            k = key_of(w0=1, w4=i)
            lib.vsw_emc_insert(e, k.ptr, i * 2654435761 & 0xFFFFFFFF, vp(i + 1))
            assert lib.vsw_emc_lookup(e, k.ptr, i * 2654435761 & 0xFFFFFFFF) == ffi.NULL
    finally:
        lib.vsw_emc_destroy(e)


def test_emc_probabilistic_insert():
    e = lib.vsw_emc_create(1 << 16, 100)
    try:
        keys = [(key_of(w0=1, w4=i), (i * 2654435761) & 0xFFFFFFFF) for i in range(20000)]
        for i, (k, h) in enumerate(keys):
            lib.vsw_emc_insert(e, k.ptr, h, vp(i + 1))
        hits = sum(lib.vsw_emc_lookup(e, k.ptr, h) != ffi.NULL for k, h in keys)
        assert 100 <= hits <= 320, hits   # ~200 expected
    finally:
        lib.vsw_emc_destroy(e)


def test_emc_same_index_collisions():
    e = lib.vsw_emc_create(8192, 1)
    try:
        n = 8192
        # Three keys whose hashes agree in the low bits (same set), then two keys with
        # an identical hash.
        a, b, c = (key_of(w0=1, w4=i) for i in (1, 2, 3))
        ha, hb, hc = 0x10005, 0x20005, 0x30005
        assert ha & (n - 1) == hb & (n - 1) == hc & (n - 1)
        lib.vsw_emc_insert(e, a.ptr, ha, vp(1))
        lib.vsw_emc_insert(e, b.ptr, hb, vp(2))
        assert ival(lib.vsw_emc_lookup(e, a.ptr, ha)) == 1
        assert ival(lib.vsw_emc_lookup(e, b.ptr, hb)) == 2
        # A third key evicts the older of the two.
        lib.vsw_emc_insert(e, c.ptr, hc, vp(3))
        assert lib.vsw_emc_lookup(e, a.ptr, ha) == ffi.NULL
        assert ival(lib.vsw_emc_lookup(e, b.ptr, hb)) == 2
        assert ival(lib.vsw_emc_lookup(e, c.ptr, hc)) == 3
        # Same full hash, different keys: told apart by the key compare.
        x, y = key_of(w0=2, w9=1), key_of(w0=2, w9=2)
        lib.vsw_emc_insert(e, x.ptr, 0x777, vp(10))
        lib.vsw_emc_insert(e, y.ptr, 0x777, vp(20))
        assert ival(lib.vsw_emc_lookup(e, x.ptr, 0x777)) == 10
        assert ival(lib.vsw_emc_lookup(e, y.ptr, 0x777)) == 20
        # Refreshing x makes y the older one.
        lib.vsw_emc_insert(e, x.ptr, 0x777, vp(11))
        z = key_of(w0=2, w9=3)
        lib.vsw_emc_insert(e, z.ptr, 0x777, vp(30))
        assert ival(lib.vsw_emc_lookup(e, x.ptr, 0x777)) == 11
        assert lib.vsw_emc_lookup(e, y.ptr, 0x777) == ffi.NULL
        assert ival(lib.vsw_emc_lookup(e, z.ptr, 0x777)) == 30
    finally:
        lib.vsw_emc_destroy(e)


def test_emc_forget_and_clear(emc_always):
    keys = [(key_of(w0=1, w4=i), (i * 2654435761) & 0xFFFFFFFF) for i in range(300)]
    for i, (k, h) in enumerate(keys):
        lib.vsw_emc_insert(emc_always, k.ptr, h, vp(i % 3 + 1))
    present = [ival(lib.vsw_emc_lookup(emc_always, k.ptr, h)) for k, h in keys]
    assert sum(p != 0 for p in present) > 250
    lib.vsw_emc_forget(emc_always, vp(2))
    for (k, h), before in zip(keys, present, strict=True):
        now = ival(lib.vsw_emc_lookup(emc_always, k.ptr, h))
        assert now == (0 if before == 2 else before)
    lib.vsw_emc_clear(emc_always)
    assert all(lib.vsw_emc_lookup(emc_always, k.ptr, h) == ffi.NULL for k, h in keys)
    # Usable after clear.
    lib.vsw_emc_insert(emc_always, keys[0][0].ptr, keys[0][1], vp(9))
    assert ival(lib.vsw_emc_lookup(emc_always, keys[0][0].ptr, keys[0][1])) == 9


def test_emc_tiny_sizes():
    for n in (0, 1, 2, 3, 5):
        e = lib.vsw_emc_create(n, 1)
        assert e != ffi.NULL
        k = key_of(w0=1, w4=n)
        lib.vsw_emc_insert(e, k.ptr, 0xFFFFFFFF, vp(5))
        assert ival(lib.vsw_emc_lookup(e, k.ptr, 0xFFFFFFFF)) == 5
        lib.vsw_emc_destroy(e)
