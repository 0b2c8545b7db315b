"""OpenFlow codec: bytes <-> message objects for OpenFlow 1.0 and 1.3 (1.4/1.5 deltas).

Modules: :mod:`.consts` (numbers), :mod:`.errors` (:class:`OFPDecodeError`),
:mod:`.oxm` (match fields, :class:`Match`), :mod:`.actions` (actions and
instructions), :mod:`.messages` / :mod:`.messages14` (message classes and the
``MESSAGE_TYPES`` registry).  The connection manager uses :func:`split_messages`
and :func:`decode_message`; the flow table consumes :class:`FlowMod` and
:class:`Match`.
"""

from . import actions, consts, messages, oxm
from .errors import OFPDecodeError
from .messages import MESSAGE_TYPES, Message, Raw, decode_message, split_messages
from .oxm import Match, decode_nxm, decode_oxm, encode_nxm, encode_oxm

__all__ = [
    "actions",
    "consts",
    "messages",
    "oxm",
    "OFPDecodeError",
    "MESSAGE_TYPES",
    "Message",
    "Raw",
    "decode_message",
    "split_messages",
    "Match",
    "encode_oxm",
    "decode_oxm",
    "encode_nxm",
    "decode_nxm",
]
