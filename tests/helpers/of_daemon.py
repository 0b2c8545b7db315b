"""A bare OpenFlow endpoint for tests: OFConnection on a unix socket, no switch behind.

usage: of_daemon.py SOCKET [VERSIONS]   (VERSIONS: comma-separated wire versions)

Every message a peer sends after negotiation is logged to stdout as
``<version> <class name> <xid>``, so tests can see what got through the channel; a
closed channel as ``down <chunks read by the busy poll>``.  With OF_DAEMON_WRAPPED set
in the environment, connections are tracked through a WrappingFactory (as
ovsdb.remotes does).
"""

from __future__ import annotations

import os
import sys

from twisted.internet import reactor
from twisted.internet.protocol import Factory
from twisted.protocols.policies import WrappingFactory

from ofproto.connection import SUPPORTED_VERSIONS, OFConnection


class PrintingHandler:
    def channel_up(self, conn):
        print(f"up {conn.version}", flush=True)

    def message_received(self, conn, msg, raw):
        print(f"{msg.version} {type(msg).__name__} {msg.xid}", flush=True)

    def take_raw(self, conn, raw):
        return False

    def commit_deferred(self):
        return False

    def channel_down(self, conn, reason):
        print(f"down {conn.busy_polled}", flush=True)


def main() -> None:
    path = sys.argv[1]
    versions = ({int(v) for v in sys.argv[2].split(",")} if len(sys.argv) > 2
                else SUPPORTED_VERSIONS)
    factory = Factory.forProtocol(lambda: OFConnection(PrintingHandler(), versions,
                                                       probe_interval=0))
    if os.environ.get("OF_DAEMON_WRAPPED"):
        factory = WrappingFactory(factory)
    reactor.listenUNIX(path, factory)
    # Ready once the reactor runs (its SIGTERM handler installed).
    reactor.callWhenRunning(lambda: print("ready", flush=True))
    reactor.run()


if __name__ == "__main__":
    main()
