"""The upcall path's simple translation (``ofproto.xlate._xlate_simple``) against the
general translator: same actions, mask and rules, one table-0 lookup either way, and
the megaflow property for its results.

Tracing (``want_trace=True``, XlateIn's default) always takes the general translator,
so comparing a translation with and without a trace compares the two."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_xlate import (
    PROPERTY_GROUPS,
    FakePipeline,
    _match,
    apply,
    match_items,
    mix,
    out,
    packets,
    ports3,
    rule_sets,
    sf,
)

from ofproto.ofp import actions as ofa
from ofproto.xlate import PortConfig, PortMap, XlateIn, xlate

PLAIN_PORTS = [1, 2, 3, 4, 5, 0xFFFFFF00]


@st.composite
def plain_rule_sets(draw: st.DrawFn) -> FakePipeline:
    """Table 0 of rules that mostly only output to ports (what the simple path takes),
    some with another action or instruction (what it hands to the general one)."""
    pipe = FakePipeline()
    used: set[tuple[int, tuple]] = set()
    for _ in range(draw(st.integers(0, 6))):
        match = _match(draw(st.lists(match_items, max_size=3, unique_by=lambda t: t[0])))
        prio = draw(st.integers(0, 4))
        ident = (prio, tuple(sorted(match.items())))
        if ident in used:
            continue
        used.add(ident)
        acts = [out(p) for p in draw(st.lists(st.sampled_from(PLAIN_PORTS), max_size=3))]
        kind = draw(st.sampled_from(["apply", "apply", "of10", "set", "write", "normal"]))
        if kind == "of10":
            instrs: list = acts
        elif kind == "set":
            instrs = [apply(sf("ip_dst", 0x0A000001), *acts)]
        elif kind == "write":
            instrs = [apply(*acts), ofa.InstructionWriteActions([out(2)])]
        elif kind == "normal":
            instrs = [apply(*acts, out(0xFFFFFFFA))]
        else:
            instrs = [apply(*acts)]
        pipe.add(0, prio, match, instrs)
    return pipe


def port_maps() -> st.SearchStrategy[PortMap]:
    def build(no_fwd: bool, no_recv: bool) -> PortMap:
        return PortMap([PortConfig(1, 11, "p1", no_recv=no_recv), PortConfig(2, 12, "p2"),
                        PortConfig(3, 13, "p3", no_fwd=no_fwd), PortConfig(4, 14, "p4")])
    return st.builds(build, st.booleans(), st.booleans())


def _both(pipe: FakePipeline, key, ports: PortMap, **kw):
    before = pipe.lookups
    fast = xlate(XlateIn(key, pipe, ports, want_trace=False, **kw))
    mid = pipe.lookups
    full = xlate(XlateIn(key, pipe, ports, want_trace=True, **kw))
    assert mid - before == pipe.lookups - mid   # the same lookups, none repeated
    return fast, full


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(plain_rule_sets(), rule_sets()), packets(), port_maps(), st.booleans())
def test_simple_path_same_as_general(pipe, key, ports, miss_to_controller) -> None:
    fast, full = _both(pipe, key, ports, groups=PROPERTY_GROUPS,
                       miss_to_controller=miss_to_controller)
    assert fast.actions == full.actions
    assert fast.mask == full.mask
    assert fast.rules == full.rules
    assert (fast.error, fast.slow, fast.packet_ins) == (full.error, full.slow, full.packet_ins)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plain_rule_sets(), packets(), st.lists(packets(), min_size=1, max_size=6))
def test_simple_path_megaflow_property(pipe, pkt, others) -> None:
    ports = ports3()
    r = xlate(XlateIn(pkt, pipe, ports, want_trace=False))
    for o in others:
        q = mix(pkt, o, r.mask)
        if (q & r.mask) != (pkt & r.mask):
            continue
        assert xlate(XlateIn(q, pipe, ports, want_trace=False)).actions == r.actions
