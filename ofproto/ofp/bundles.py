"""Bundle messages: OpenFlow 1.4 OFPT_BUNDLE_CONTROL / OFPT_BUNDLE_ADD_MESSAGE and the
ONF extension that carries the same bodies in OpenFlow 1.3 (EXT-230).

Spec: OpenFlow 1.4.1 section 7.3.9 ("Bundle messages", ``struct
ofp_bundle_ctrl_msg`` / ``struct ofp_bundle_add_msg``) and 6.8 (semantics); Open
vSwitch ``include/openflow/openflow-1.4.h`` (``struct ofp14_bundle_ctrl_msg``) and
``include/openvswitch/ofp-msgs.h``: ``OFPRAW_ONFT13_BUNDLE_CONTROL`` is an
OFPT_EXPERIMENTER with experimenter ``ONF_EXPERIMENTER_ID`` and exp_type 2300,
``OFPRAW_ONFT13_BUNDLE_ADD_MESSAGE`` exp_type 2301; the ONF bundle errors are
OFPET_EXPERIMENTER errors with exp_type ``2300 + OFPBFC_*`` (ofp-errors.h).

Relation to the other modules: the OF1.4/1.5 classes are registered in
:data:`ofproto.ofp.messages.MESSAGE_TYPES`; the OF1.3 ONF variants are not (the
registry decodes every experimenter message to
:class:`~ofproto.ofp.messages.Experimenter`), the switch upgrades them with
:func:`decode_onf_bundle`.  Both variants share the attributes the switch uses.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, ClassVar, Self

from . import messages as m
from .consts import OFP13, OFP14, OFP15, ONF_EXPERIMENTER_ID
from .consts import OFPType as T
from .errors import bad_len

__all__ = [
    "OFPBundleCtrlType", "OFPBundleFlags", "OFPBundleFailedCode",
    "ONFT_BUNDLE_CONTROL", "ONFT_BUNDLE_ADD_MESSAGE", "ONF_BUNDLE_ERROR_BASE",
    "BundleCtrl", "BundleAdd", "ONFBundleCtrl", "ONFBundleAdd", "decode_onf_bundle",
]

ONFT_BUNDLE_CONTROL = 2300
ONFT_BUNDLE_ADD_MESSAGE = 2301
#: ONF1.3 bundle errors: OFPET_EXPERIMENTER, exp_type 2300 + OFPBFC_* (ofp-errors.h).
ONF_BUNDLE_ERROR_BASE = 2300


class OFPBundleCtrlType(IntEnum):
    """ofp_bundle_ctrl_type (spec 1.4.1 7.3.9.1)."""

    OFPBCT_OPEN_REQUEST = 0
    OFPBCT_OPEN_REPLY = 1
    OFPBCT_CLOSE_REQUEST = 2
    OFPBCT_CLOSE_REPLY = 3
    OFPBCT_COMMIT_REQUEST = 4
    OFPBCT_COMMIT_REPLY = 5
    OFPBCT_DISCARD_REQUEST = 6
    OFPBCT_DISCARD_REPLY = 7


class OFPBundleFlags(IntEnum):
    """ofp_bundle_flags (spec 1.4.1 7.3.9.1)."""

    OFPBF_ATOMIC = 1 << 0
    OFPBF_ORDERED = 1 << 1


class OFPBundleFailedCode(IntEnum):
    """ofp_bundle_failed_code (spec 1.4.1 7.5.4.15), type OFPET_BUNDLE_FAILED (17)."""

    OFPBFC_UNKNOWN = 0
    OFPBFC_EPERM = 1
    OFPBFC_BAD_ID = 2
    OFPBFC_BUNDLE_EXIST = 3
    OFPBFC_BUNDLE_CLOSED = 4
    OFPBFC_OUT_OF_BUNDLES = 5
    OFPBFC_BAD_TYPE = 6
    OFPBFC_BAD_FLAGS = 7
    OFPBFC_MSG_BAD_LEN = 8
    OFPBFC_MSG_BAD_XID = 9
    OFPBFC_MSG_UNSUP = 10
    OFPBFC_MSG_CONFLICT = 11
    OFPBFC_MSG_TOO_MANY = 12
    OFPBFC_MSG_FAILED = 13
    OFPBFC_TIMEOUT = 14
    OFPBFC_BUNDLE_IN_PROGRESS = 15


_CTRL = struct.Struct("!IHH")    # bundle_id, type, flags
_ADD = struct.Struct("!I2xH")    # bundle_id, pad, flags
_EXP = struct.Struct("!II")      # experimenter, exp_type


# --- bodies shared by the OF1.4 and ONF variants ----------------------------------------


@dataclass(kw_only=True)
class _CtrlBody:
    bundle_id: int = 0
    type: int = 0
    flags: int = 0
    properties: bytes = b""   # ofp_bundle_prop_* TLVs, kept as received

    def _ctrl_bytes(self) -> bytes:
        return _CTRL.pack(self.bundle_id, self.type, self.flags) + self.properties

    @classmethod
    def _ctrl_fields(cls, body: bytes) -> dict[str, Any]:
        if len(body) < _CTRL.size:
            raise bad_len("bundle control message too short")
        bundle_id, type_, flags = _CTRL.unpack_from(body)
        return dict(bundle_id=bundle_id, type=type_, flags=flags,
                    properties=bytes(body[_CTRL.size:]))


@dataclass(kw_only=True)
class _AddBody:
    bundle_id: int = 0
    flags: int = 0
    message: bytes = b""      # the encapsulated message, header included
    properties: bytes = b""   # padding to 8 plus ofp_bundle_prop_* TLVs, as received

    def _add_bytes(self) -> bytes:
        return _ADD.pack(self.bundle_id, self.flags) + self.message + self.properties

    @classmethod
    def _add_fields(cls, body: bytes) -> dict[str, Any]:
        """Splits the body; an inner message whose length field is below 8 or runs
        past the end is kept whole in ``message`` (the switch answers
        OFPBFC_MSG_BAD_LEN, as OVS ``ofputil_decode_bundle_add``)."""
        if len(body) < _ADD.size:
            raise bad_len("bundle add message too short")
        bundle_id, flags = _ADD.unpack_from(body)
        inner = bytes(body[_ADD.size:])
        n = struct.unpack_from("!H", inner, 2)[0] if len(inner) >= 8 else 0
        if n < 8 or n > len(inner):
            n = len(inner)
        return dict(bundle_id=bundle_id, flags=flags, message=inner[:n],
                    properties=inner[n:])


# --- OpenFlow 1.4+ ------------------------------------------------------------------------


@m.register(OFP14, OFP15)
@dataclass(kw_only=True)
class BundleCtrl(_CtrlBody, m.Message):
    """OFPT_BUNDLE_CONTROL (spec 1.4.1 7.3.9.1, ``struct ofp14_bundle_ctrl_msg``)."""

    version: int = OFP14
    msg_type: ClassVar[int] = T.OFPT_BUNDLE_CONTROL

    def _encode_body(self) -> bytes:
        return self._ctrl_bytes()

    @classmethod
    def _decode_body(cls, version: int, xid: int, body: bytes) -> Self:
        return cls(version=version, xid=xid, **cls._ctrl_fields(body))


@m.register(OFP14, OFP15)
@dataclass(kw_only=True)
class BundleAdd(_AddBody, m.Message):
    """OFPT_BUNDLE_ADD_MESSAGE (spec 1.4.1 7.3.9.6, ``struct ofp_bundle_add_msg``):
    the inner message's xid must equal the outer one."""

    version: int = OFP14
    msg_type: ClassVar[int] = T.OFPT_BUNDLE_ADD_MESSAGE

    def _encode_body(self) -> bytes:
        return self._add_bytes()

    @classmethod
    def _decode_body(cls, version: int, xid: int, body: bytes) -> Self:
        return cls(version=version, xid=xid, **cls._add_fields(body))


# --- OpenFlow 1.3 ONF extension (experimenter messages) ------------------------------------


@dataclass(kw_only=True)
class ONFBundleCtrl(_CtrlBody, m.Message):
    """ONFT_BUNDLE_CONTROL: OFPT_EXPERIMENTER, ONF id, exp_type 2300, then the
    OF1.4 ``ofp14_bundle_ctrl_msg`` body (OVS ``OFPRAW_ONFT13_BUNDLE_CONTROL``)."""

    version: int = OFP13
    msg_type: ClassVar[int] = T.OFPT_EXPERIMENTER

    def _encode_body(self) -> bytes:
        return _EXP.pack(ONF_EXPERIMENTER_ID, ONFT_BUNDLE_CONTROL) + self._ctrl_bytes()


@dataclass(kw_only=True)
class ONFBundleAdd(_AddBody, m.Message):
    """ONFT_BUNDLE_ADD_MESSAGE: OFPT_EXPERIMENTER, ONF id, exp_type 2301, then the
    OF1.4 bundle-add body (OVS ``OFPRAW_ONFT13_BUNDLE_ADD_MESSAGE``)."""

    version: int = OFP13
    msg_type: ClassVar[int] = T.OFPT_EXPERIMENTER

    def _encode_body(self) -> bytes:
        return _EXP.pack(ONF_EXPERIMENTER_ID, ONFT_BUNDLE_ADD_MESSAGE) + self._add_bytes()


def decode_onf_bundle(msg: m.Message) -> ONFBundleCtrl | ONFBundleAdd | None:
    """The ONF bundle message inside an :class:`~ofproto.ofp.messages.Experimenter`,
    or None when ``msg`` is something else."""
    if not isinstance(msg, m.Experimenter) or msg.experimenter != ONF_EXPERIMENTER_ID:
        return None
    if msg.exp_type == ONFT_BUNDLE_CONTROL:
        return ONFBundleCtrl(version=msg.version, xid=msg.xid,
                             **ONFBundleCtrl._ctrl_fields(msg.data))
    if msg.exp_type == ONFT_BUNDLE_ADD_MESSAGE:
        return ONFBundleAdd(version=msg.version, xid=msg.xid,
                            **ONFBundleAdd._add_fields(msg.data))
    return None
