"""An OpenFlow switch with no datapath, for tests: bridge BRIDGE with ports p1..pN.

usage: switch_daemon.py RUNDIR BRIDGE [N_PORTS]

Listens on RUNDIR/BRIDGE.mgmt (ovs-ofctl's default target for BRIDGE when OVS_RUNDIR is
RUNDIR) and expires timed-out flows every 100 ms.
"""

from __future__ import annotations

import sys

from twisted.internet import reactor, task

from ofproto.connmgr import ConnectionManager
from ofproto.switch import OFPort, OFSwitch
from ovsdb.tap import tune_gc


def main() -> None:
    rundir, bridge = sys.argv[1:3]
    n_ports = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    switch = OFSwitch(bridge, datapath_id=0x42)
    mgr = ConnectionManager(bridge, switch, rundir)
    switch.connmgr = mgr
    for i in range(1, n_ports + 1):
        switch.add_port(OFPort(i, f"p{i}", hw_addr=0x020000000000 + i))
    mgr.start()
    task.LoopingCall(switch.expire).start(0.1)
    tune_gc()   # as the twistd daemons do
    reactor.callWhenRunning(lambda: print("ready", flush=True))
    reactor.run()


if __name__ == "__main__":
    main()
