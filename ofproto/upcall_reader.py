"""Reads a dpif's upcalls from the reactor: an IReadDescriptor on its eventfd.

Used by :meth:`ofproto.bridge.OFBridge.attach` (and later vswitchd) so upcalls are
handled as they arrive without polling.
"""

from __future__ import annotations

from collections.abc import Callable

from twisted.internet.interfaces import IReadDescriptor
from zope.interface import implementer

from appliance.dpif import Dpif, Upcall

#: Upcalls handled per wake-up before yielding to other reactor work.
BATCH = 256


@implementer(IReadDescriptor)
class UpcallReader:
    """Calls ``handler(upcalls)`` whenever ``dpif.upcall_fd()`` becomes readable."""

    def __init__(self, dpif: Dpif, handler: Callable[[list[Upcall]], None]) -> None:
        self.dpif = dpif
        self.handler = handler

    def fileno(self) -> int:
        return self.dpif.upcall_fd()

    def doRead(self) -> None:  # noqa: N802 - Twisted API
        done = 0
        while done < BATCH:
            upcalls = self.dpif.recv_upcalls()
            if not upcalls:
                break
            self.handler(upcalls)
            done += len(upcalls)

    def connectionLost(self, reason: object) -> None:  # noqa: N802 - Twisted API
        pass

    def logPrefix(self) -> str:  # noqa: N802 - Twisted API
        return "upcalls"
