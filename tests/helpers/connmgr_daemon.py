"""A bridge's connection manager with a stand-in switch, for tests.

usage: connmgr_daemon.py RUNDIR BRIDGE [CONTROLLER-TARGET]...

With OF_SSL=KEY,CERT,CA in the environment, ssl:/pssl: targets use those PEM files.

The stand-in switch answers FEATURES_REQUEST (datapath id 0x42) and logs every other
message it is handed as ``<class name> <xid>`` on stdout, so tests see what the
connection manager let through.
"""

from __future__ import annotations

import os
import sys

from twisted.internet import reactor

from ofproto.connmgr import ConnectionManager
from ofproto.ofp.messages import FeaturesReply, FeaturesRequest
from ovsdb.remotes import SslOptions


class StandInSwitch:
    def channel_up(self, conn):
        print(f"up {conn.version}", flush=True)

    def take_raw(self, conn, raw):
        return False

    def commit_deferred(self):
        return False

    def controller_status_changed(self):
        print("controllers changed", flush=True)

    def handle_message(self, conn, msg, raw):
        if isinstance(msg, FeaturesRequest):
            conn.send(FeaturesReply(xid=msg.xid, datapath_id=0x42, n_tables=254))
        print(f"{type(msg).__name__} {msg.xid}", flush=True)


def main() -> None:
    rundir, bridge, *controllers = sys.argv[1:]
    ssl = SslOptions(*os.environ["OF_SSL"].split(",")) if os.environ.get("OF_SSL") else None
    mgr = ConnectionManager(bridge, StandInSwitch(), rundir, ssl=ssl)
    mgr.start()
    mgr.set_controllers(controllers, probe_interval=1000)
    # Ready once the reactor runs (its SIGTERM handler installed).
    reactor.callWhenRunning(lambda: print("ready", flush=True))
    reactor.run()


if __name__ == "__main__":
    main()
