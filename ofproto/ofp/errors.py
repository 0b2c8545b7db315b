"""Decode errors of the OpenFlow codec.

Every malformed input found by :mod:`ofproto.ofp.oxm`, :mod:`ofproto.ofp.actions` or
:mod:`ofproto.ofp.messages` raises :class:`OFPDecodeError`.  It carries the
OFPT_ERROR ``type``/``code`` pair (OpenFlow 1.3 numbering, spec 1.3.5 section A.4.4)
that the connection manager answers with; the flow table raises the same class for
semantic errors (bad prerequisites, unknown tables) so one handler builds the reply.
"""

from __future__ import annotations

from .consts import OFPBadRequestCode, OFPErrorType


class OFPDecodeError(Exception):
    """A message could not be decoded; answer with OFPT_ERROR(type, code).

    ``type``/``code`` use OpenFlow 1.3 numbering (spec 1.3.5 A.4.4); the
    connection manager translates to 1.0 numbers when the peer speaks 1.0
    (see :func:`error_to_of10`).
    """

    def __init__(self, type: int, code: int, message: str = "") -> None:  # noqa: A002
        super().__init__(message or f"OpenFlow error type={type} code={code}")
        self.type = int(type)
        self.code = int(code)
        self.message = message

    def __repr__(self) -> str:
        return f"OFPDecodeError({self.type}, {self.code}, {self.message!r})"


def bad_len(message: str) -> OFPDecodeError:
    """Shorthand for OFPET_BAD_REQUEST / OFPBRC_BAD_LEN."""
    return OFPDecodeError(OFPErrorType.OFPET_BAD_REQUEST, OFPBadRequestCode.OFPBRC_BAD_LEN, message)


# OpenFlow 1.0 has no BAD_INSTRUCTION/BAD_MATCH/... types and numbers FLOW_MOD,
# PORT_MOD and QUEUE_OP differently (spec 1.0.0 section 5.4.4).  Map 1.3 (type, code)
# pairs to the closest 1.0 pair, as OVS's ofp-errors table does.
_TO_OF10_TYPE = {0: 0, 1: 1, 2: 2, 5: 3, 7: 4, 9: 5}
_FLOW_MOD_TO_OF10 = {1: 0, 3: 1, 4: 2, 6: 4}


def error_to_of10(type: int, code: int) -> tuple[int, int]:  # noqa: A002
    """Translate an OpenFlow 1.3 (type, code) to OpenFlow 1.0 numbering.

    Types that do not exist in 1.0 become OFPET_BAD_REQUEST/OFPBRC_EPERM... as a
    last resort; matches become OFPET_BAD_REQUEST/OFPBRC_BAD_LEN for length
    problems and OFPET_FLOW_MOD_FAILED/OFPFMFC_UNSUPPORTED otherwise.
    """
    if type == 1 and code > 8:
        return 1, 5  # OFPBRC_EPERM
    if type == 2 and code > 8:
        return 2, 5  # OFPBAC_BAD_ARGUMENT
    if type == 5:
        return 3, _FLOW_MOD_TO_OF10.get(code, 5)
    if type in _TO_OF10_TYPE:
        return _TO_OF10_TYPE[type], code
    if type in (3, 4) and code == 1:
        return 1, 6
    return 3, 5
