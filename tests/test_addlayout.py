"""Tests for ofproto.addlayout through Pipeline.stage_add: a flow add read by a learnt
layout is staged exactly as the general way (codec + Pipeline.flow_mod) stages it, and
anything the general way would refuse or read differently is left to it."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ofproto.addlayout import MAX_LAYOUTS
from ofproto.flowtable import OFPError, Pipeline
from ofproto.ofp import actions as A
from ofproto.ofp import decode_message, messages, oxm
from ofproto.ofp.consts import OFP13, OFP14, OFP15
from ofproto.ofp.consts import OFPFlowModCommand as FC
from ofproto.ofp.consts import OFPFlowModFlags as FF

PORTS = (1, 2, 3)
# Fields with OXM wires of every width, maskable or not, with and without prerequisites.
FIELDS = ("in_port", "metadata", "eth_dst", "eth_src", "eth_type", "vlan_vid", "vlan_pcp",
          "ip_dscp", "ip_proto", "ipv4_src", "ipv4_dst", "ipv6_src", "ipv6_flabel",
          "tcp_src", "udp_dst", "icmpv6_type", "nd_target", "mpls_label", "pbb_isid")
INSTRUCTIONS = (
    [A.InstructionApplyActions([A.ActionOutput(port=2)])],
    [A.InstructionApplyActions([A.ActionOutput(port=99)])],        # no such port
    [A.InstructionWriteActions([A.ActionOutput(port=1)]), A.InstructionGotoTable(5)],
    [A.InstructionGotoTable(0)],                                     # not forward
    [],
)


def pipeline() -> Pipeline:
    return Pipeline(clock=lambda: 1000.0, valid_port=lambda n: n in PORTS)


def flow_mod(version: int, match: list, ins: list, **kw: object) -> bytes:
    fm = messages.FlowMod(version=version, xid=7, command=FC.OFPFC_ADD,
                          match=oxm.Match(match), instructions=ins, **kw)
    return fm.encode()


def general(p: Pipeline, raw: bytes, learn: bool = False) -> tuple[int, int] | None:
    """The general way: the OFPT_ERROR type and code it answers ``raw`` with, or None."""
    try:
        p.flow_mod(decode_message(raw), defer=True,  # type: ignore[arg-type]
                   raw=raw if learn else None)
    except OFPError as e:
        return e.type, e.code
    return None


def agree(fast: Pipeline, slow: Pipeline, raw: bytes) -> None:
    """``fast.stage_add`` stages ``raw`` only if the general way accepts it on ``slow``;
    otherwise the general way gives ``fast`` the same answer."""
    err = general(slow, raw)
    if fast.stage_add(raw):
        assert err is None, f"staged what the general way refuses: {err}"
    else:
        assert general(fast, raw) == err


def rules(p: Pipeline) -> list[tuple]:
    p.commit_staged()
    return sorted((r.table_id, r.priority, r.cookie, r.idle_timeout, r.hard_timeout,
                   r.flags, r.importance, tuple(r.match.entries()), r._cr.match,
                   tuple(r.instructions), r.created) for r in p.rules())


@st.composite
def layouts(draw):
    """(version, [(field, has_mask)], instructions index, table, flags)."""
    names = draw(st.lists(st.sampled_from(FIELDS), unique=True, max_size=6))
    fields = [(n, oxm.field_by_name(n).maskable and draw(st.booleans())) for n in names]
    return (draw(st.sampled_from((OFP13, OFP14, OFP15))), fields,
            draw(st.integers(0, len(INSTRUCTIONS) - 1)), draw(st.sampled_from((0, 3))),
            draw(st.sampled_from((0, int(FF.OFPFF_SEND_FLOW_REM)))))


def values(draw, fields: list) -> list:
    """Match entries for ``fields``: mostly what a field can hold, some bits beyond it,
    prerequisite fields often at their usual values."""
    out = []
    for name, has_mask in fields:
        spec = oxm.field_by_name(name)
        top = (1 << 8 * spec.width) - 1
        usual = {"eth_type": (0x800, 0x86DD, 0x8847, 0x88E7), "ip_proto": (6, 17, 58),
                 "icmpv6_type": (135, 136), "vlan_vid": (0x1000 | 5,)}.get(name, ())
        val = st.integers(0, (1 << spec.nbits) - 1) | st.integers(0, top)
        if usual:
            val = st.sampled_from(usual) | val
        v = draw(val)
        m = draw(st.integers(0, top) | st.just((1 << spec.nbits) - 1)) if has_mask else None
        if m is not None and draw(st.booleans()):
            v &= m
        out.append((name, (v, m)))
    return out


@settings(max_examples=400, deadline=None)
@given(layout=layouts(), data=st.data())
def test_stage_add_agrees_with_the_general_way(layout, data) -> None:
    version, fields, ins, table, flags = layout
    kw = {"table_id": table, "flags": flags}
    first = flow_mod(version, values(data.draw, fields), INSTRUCTIONS[ins],
                     priority=10, cookie=1, **kw)
    fast, slow = pipeline(), pipeline()
    err = general(fast, first, learn=True)
    assert general(slow, first) == err
    for _ in range(3):
        raw = flow_mod(version, values(data.draw, fields), INSTRUCTIONS[ins],
                       priority=data.draw(st.integers(0, 0xFFFF)),
                       cookie=data.draw(st.integers(0, (1 << 64) - 1)),
                       idle_timeout=data.draw(st.integers(0, 0xFFFF)),
                       importance=data.draw(st.integers(0, 0xFFFF)), **kw)
        agree(fast, slow, raw)
    assert rules(fast) == rules(slow)


def test_bulk_adds_take_the_fast_path_and_values_beyond_a_field_do_not() -> None:
    p, ref = pipeline(), pipeline()
    ins = [A.InstructionApplyActions([A.ActionOutput(port=2)])]

    def add(i: int, dscp: int = 10) -> bytes:
        src = (0x0A000000 + (i << 8), 0xFFFFFF00 if i % 2 else None)
        return flow_mod(OFP13, [("eth_type", (0x800, None)), ("ip_proto", (17, None)),
                                ("ipv4_src", src), ("ip_dscp", (dscp, None)),
                                ("udp_src", (1000 + i, None))], ins, priority=100 + i)

    assert not p.stage_add(add(0))                    # nothing learnt yet
    assert general(p, add(0), learn=True) is None
    assert general(p, add(1), learn=True) is None     # the masked layout
    staged = [p.stage_add(add(i)) for i in range(2, 200)]
    assert all(staged)
    assert not p.stage_add(add(200, dscp=64))         # 7 bits in a 6-bit field
    assert general(p, add(200, dscp=64)) is not None
    masked = flow_mod(OFP13, [("eth_type", (0x800, None)), ("ip_proto", (17, None)),
                              ("ipv4_src", (0x0A0000FF, 0xFFFFFF00)),
                              ("ip_dscp", (1, None)), ("udp_src", (1, None))], ins)
    assert not p.stage_add(masked)                    # value bits outside the mask
    tcp = flow_mod(OFP13, [("eth_type", (0x800, None)), ("ip_proto", (6, None)),
                           ("ipv4_src", (1, None)), ("ip_dscp", (1, None)),
                           ("udp_src", (1, None))], ins)
    assert not p.stage_add(tcp)                       # udp_src needs ip_proto 17
    gone = flow_mod(OFP13, [("eth_type", (0x800, None)), ("ip_proto", (17, None)),
                            ("ipv4_src", (1, None)), ("ip_dscp", (1, None)),
                            ("udp_src", (1, None))],
                    [A.InstructionApplyActions([A.ActionOutput(port=99)])])
    assert not p.stage_add(gone)                      # another layout (instructions)
    for i in range(200):
        assert general(ref, add(i)) is None
    assert len(p) == 200 and rules(p) == rules(ref)


def test_an_unknown_port_in_a_learnt_layout_is_left_to_the_general_way() -> None:
    ports = {1, 2, 3}
    p = Pipeline(clock=lambda: 1000.0, valid_port=lambda n: n in ports)
    raw = flow_mod(OFP13, [("in_port", (1, None))],
                   [A.InstructionApplyActions([A.ActionOutput(port=3)])])
    assert general(p, raw, learn=True) is None
    assert p.stage_add(raw)
    ports.discard(3)                                  # the port went away
    assert not p.stage_add(raw)
    assert general(p, raw) is not None


def test_the_number_of_layouts_is_bounded() -> None:
    p = pipeline()
    ins = [A.InstructionApplyActions([A.ActionOutput(port=2)])]
    for n in range(MAX_LAYOUTS + 5):
        # A different instruction list (max_len) per message: a new layout each.
        raw = flow_mod(OFP14, [("eth_type", (0x800, None))],
                       [A.InstructionApplyActions([A.ActionOutput(port=2, max_len=n)])])
        assert general(p, raw, learn=True) is None
        assert p._layouts and len(p._layouts) <= MAX_LAYOUTS
    raw = flow_mod(OFP14, [("eth_type", (0x800, None))], ins, priority=5)
    assert general(p, raw, learn=True) is None and p.stage_add(raw)


# -- OpenFlow 1.0 ---------------------------------------------------------------------

OF10_ACTIONS = ([A.ActionOutput10(port=2)], [A.ActionOutput10(port=99)], [],
                [A.ActionSetNwTos10(nw_tos=8), A.ActionOutput10(port=1)])
# The ofp_match fields as (name, bits) and their usual values.
OF10_FIELDS = (("in_port", 16), ("dl_src", 48), ("dl_dst", 48), ("dl_vlan", 16),
               ("dl_vlan_pcp", 8), ("dl_type", 16), ("nw_tos", 8), ("nw_proto", 8),
               ("nw_src", 32), ("nw_dst", 32), ("tp_src", 16), ("tp_dst", 16))
OF10_USUAL = {"dl_type": (0x800, 0x806, 0x86DD), "nw_proto": (1, 6, 17, 132),
              "dl_vlan": (0xFFFF, 5), "in_port": (1, 2)}


# ofp_match wildcard bits (spec 1.0.0 5.2.3) of the single-bit fields.
OF10_WILDCARD_BITS = {"in_port": 0, "dl_vlan": 1, "dl_src": 2, "dl_dst": 3, "dl_type": 4,
                      "nw_proto": 5, "tp_src": 6, "tp_dst": 7, "dl_vlan_pcp": 20,
                      "nw_tos": 21}


def flow_mod10(wildcards: int, values: dict, actions: list, *, tidy: bool = False,
               **kw: object) -> bytes:
    """OFPT_FLOW_MOD (1.0) ADD; ``tidy``: zero the wildcarded fields, as ovs-ofctl
    does."""
    if tidy:
        values = {k: 0 if (k in OF10_WILDCARD_BITS and wildcards >> OF10_WILDCARD_BITS[k] & 1)
                  or (k == "nw_src" and (wildcards >> 8 & 0x3F) >= 32)
                  or (k == "nw_dst" and (wildcards >> 14 & 0x3F) >= 32) else v
                  for k, v in values.items()}
    match = messages.Match10(wildcards=wildcards, **values)
    return messages.FlowMod10(xid=9, command=FC.OFPFC_ADD, match=match, actions=actions,
                              **kw).encode()


def values10(draw) -> dict:
    """ofp_match values: mostly valid ones (a VLAN id below 4096 or none, a PCP below 8),
    sometimes anything the field's bytes hold."""
    out = {}
    valid = {"dl_vlan": st.sampled_from((0xFFFF, 5)) | st.integers(0, 0xFFF),
             "dl_vlan_pcp": st.integers(0, 7)}
    for name, bits in OF10_FIELDS:
        val = valid.get(name, st.integers(0, (1 << bits) - 1))
        if name in OF10_USUAL:
            val = st.sampled_from(OF10_USUAL[name]) | val
        if draw(st.integers(0, 9)) == 0:
            val = st.integers(0, (1 << bits) - 1)
        out[name] = draw(val)
    return out


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_openflow10_stage_add_agrees_with_the_general_way(data) -> None:
    wildcards = data.draw(st.integers(0, 0x3FFFFF) | st.sampled_from((0, 0x3820F0, 0x3FFFFF)))
    actions = OF10_ACTIONS[data.draw(st.integers(0, len(OF10_ACTIONS) - 1))]
    flags = data.draw(st.sampled_from((0, 1)))
    first = values10(data.draw)
    fast, slow = pipeline(), pipeline()
    raw = flow_mod10(wildcards, first, actions, priority=3, flags=flags, tidy=True)
    assert general(fast, raw, learn=True) == general(slow, raw)
    for _ in range(3):
        # Mostly the first message with other addresses and ports; sometimes other
        # fields change too.
        others = data.draw(st.integers(0, 3)) == 0
        vals = dict(first)
        vals.update({k: v for k, v in values10(data.draw).items()
                     if k in ("dl_src", "dl_dst", "nw_src", "nw_dst", "tp_src", "tp_dst")
                     or others and data.draw(st.booleans())})
        raw = flow_mod10(wildcards, vals, actions, flags=flags, tidy=not others,
                         priority=data.draw(st.integers(0, 0xFFFF)),
                         cookie=data.draw(st.integers(0, (1 << 64) - 1)))
        agree(fast, slow, raw)
    assert rules(fast) == rules(slow)


def test_openflow10_bulk_adds_take_the_fast_path() -> None:
    p, ref = pipeline(), pipeline()
    udp = {"dl_type": 0x800, "nw_proto": 17}
    wildcards = 0x3FFFFF & ~(0x10 | 0x20 | 0x40) & ~(0x3F << 8)   # type, proto, tp_src, nw_src

    def add(i: int) -> bytes:
        return flow_mod10(wildcards, {**udp, "nw_src": 0x0A000000 + i, "tp_src": 1000 + i},
                          [A.ActionOutput10(port=2)], priority=100 + i % 50, cookie=i)

    assert general(p, add(0), learn=True) is None
    assert all(p.stage_add(add(i)) for i in range(1, 300))
    icmp = flow_mod10(wildcards, {"dl_type": 0x800, "nw_proto": 1, "nw_src": 1,
                                  "tp_src": 3}, [A.ActionOutput10(port=2)])
    assert not p.stage_add(icmp)                      # tp_src is the ICMP type there
    for i in range(300):
        assert general(ref, add(i)) is None
    assert rules(p) == rules(ref)
