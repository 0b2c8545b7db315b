"""One OpenFlow bridge over the userspace datapath in a process of its own, for tests
that drive it with a real controller.

    python bridge_daemon.py --reply-fd N --outdir DIR --rundir DIR [--ports 3]
        [--fail-mode secure|standalone] [--controller tcp:127.0.0.1:PORT]
        -- EAL ARGS...

Initialises DPDK (main lcore on the first usable CPU, one PMD on the next; the EAL
arguments, e.g. ``--no-huge -m 512 --no-pci --file-prefix=X``, come after ``--``),
creates bridge ``br0`` (an :class:`~ofproto.bridge.OFBridge`) with ports p1..pN, each a
net_pcap device writing what it transmits to ``DIR/pN.pcap``, points the bridge at the
controller, listens on ``<rundir>/br0.mgmt`` and runs the Twisted reactor with
:meth:`OFBridge.attach` feeding upcalls and housekeeping.

Commands: one JSON object per line on stdin; one JSON reply per line on fd N (DPDK
logs to stdout, so replies get a descriptor of their own). The first reply,
``{"ok": true, "ready": true, ...}``, is written once the reactor runs.

- ``{"op": "inject", "port": OFPORT, "hex": FRAME}``: the frame enters the datapath as
  if received on that OpenFlow port (executed with ``recirc(0)``, so it goes through
  the datapath's lookup: a miss becomes an upcall);
- ``{"op": "stats"}``: bridge counters (:class:`~ofproto.bridge.BridgeStats`),
  packet-outs received, PMD counters, the bridge's megaflows and the datapath's flows
  (text), the OpenFlow rules of table 0, per-port counters, whether a controller is
  connected;
- ``{"op": "flush_outputs"}``: removes every port (closing a net_pcap device flushes
  its file) and returns ``{"files": {OFPORT: path}}``;
- ``{"op": "quit"}``: closes the datapath, shuts DPDK down and exits 0.

Replies are ``{"ok": true, ...}`` or ``{"ok": false, "error": text}``. If DPDK cannot
start, the only reply is an error and the process exits 3.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import traceback
from typing import Any


def _jsonable(v: Any) -> Any:
    if isinstance(v, bytes | bytearray):
        return v.hex()
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_jsonable(x) for x in v]
    if isinstance(v, int | float | str | bool) or v is None:
        return v
    return str(v)


class Daemon:
    def __init__(self, args: argparse.Namespace, eal: list[str]) -> None:
        self.args = args
        self.eal = eal
        self.out = os.fdopen(args.reply_fd, "w", buffering=1)
        self.packet_outs = 0
        self.files: dict[int, str] = {}
        self.dp: Any = None
        self.bridge: Any = None

    def reply(self, **kw: Any) -> None:
        self.out.write(json.dumps(_jsonable(kw)) + "\n")
        self.out.flush()

    # -- start-up --

    def start_datapath(self) -> bool:
        from appliance.dpif import DpifError
        from appliance.dpif.netdev import NetdevDpif, eal_config, init_dpdk

        try:
            cfg = eal_config({"dpdk-extra": " ".join(self.eal)})
            init_dpdk(cfg)
            self.dp = NetdevDpif(vhost_dir=self.args.rundir)
        except DpifError as e:
            self.reply(ok=False, errno=e.name, error=str(e))
            return False
        self.dp.lib.vsw_set_pmd_sleep(self.args.pmd_sleep)
        self.pmd_cores = cfg.pmd_cores
        return True

    def start_bridge(self) -> None:
        from ofproto.bridge import OFBridge

        bridge = OFBridge("br0", self.dp, datapath_id=self.args.dpid, rundir=self.args.rundir,
                          fail_mode=self.args.fail_mode)
        for n in range(1, self.args.ports + 1):
            path = os.path.join(self.args.outdir, f"p{n}.pcap")
            self.files[n] = path
            bridge.add_port(f"p{n}", "dpdk",
                            {"dpdk-devargs": f"net_pcap_bd{n},tx_pcap={path}"}, ofport=n,
                            hw_addr=0x020000000000 + n)
        # Count the packet-outs the controller sends (the bridge keeps no counter).
        packet_out = bridge.packet_out

        def counted(conn: Any, msg: Any) -> None:
            self.packet_outs += 1
            packet_out(conn, msg)

        bridge.packet_out = counted
        self.bridge = bridge

    # -- commands --

    def handle(self, line: str) -> bool:
        """Runs one command line; False once the daemon should exit."""
        try:
            cmd = json.loads(line)
            op = cmd["op"]
            fn = getattr(self, f"op_{op}", None)
            if fn is None:
                self.reply(ok=False, error=f"unknown op {op!r}")
                return True
            return fn(cmd) is not False
        except Exception as e:   # report, keep serving
            self.reply(ok=False, error=f"{type(e).__name__}: {e}",
                       traceback=traceback.format_exc())
            return True

    def op_ping(self, cmd: dict) -> None:
        self.reply(ok=True)

    def op_inject(self, cmd: dict) -> None:
        from appliance.dpif.odp import Recirc

        odp = self.bridge.ports.odp_of(int(cmd["port"]))
        if odp is None:
            raise KeyError(f"no OpenFlow port {cmd['port']}")
        self.dp.execute(bytes.fromhex(cmd["hex"]), odp, [Recirc(0)])
        self.reply(ok=True)

    def op_stats(self, cmd: dict) -> None:
        from appliance.dpif.odp import Megaflow

        br = self.bridge
        rules = []
        for r in br.switch.pipeline.flow_stats(table_id=0):
            rules.append({
                "priority": r.priority,
                "match": {k: (list(v) if isinstance(v, tuple) else v)
                          for k, v in r.match.items()},
                "actions": [str(a) for a in r.actions()],
                "cookie": r.cookie,
                "packet_count": r.packet_count,
                "byte_count": r.byte_count,
            })
        dp_flows = []
        for f in self.dp.flow_dump():
            dp_flows.append({
                "flow": Megaflow(f.key, f.mask, tuple(f.actions)).format(),
                "packets": f.stats.packets,
                "ours": f.ufid in br.megaflows,
            })
        ports = {}
        for p in br.ports:
            s = self.dp.port_stats(p.odp_port)
            ports[p.ofport] = {"tx_packets": s.tx_packets, "rx_packets": s.rx_packets,
                               "tx_dropped": s.tx_dropped}
        offload = dataclasses.asdict(br.offload.stats()) if br.offload else None
        self.reply(ok=True, bridge=dataclasses.asdict(br.stats), offload=offload,
                   packet_outs=self.packet_outs,
                   pmds=[dataclasses.asdict(s) for s in self.dp.pmd_stats()],
                   megaflows=len(br.megaflows), dp_flows=dp_flows, rules=rules,
                   ports=ports, controller_connected=br.connmgr.controller_connected,
                   mac_table=len(br.mac_learning))

    def op_flush_outputs(self, cmd: dict) -> None:
        for p in list(self.bridge.ports):
            self.bridge.del_port(p.ofport)
        self.reply(ok=True, files=self.files)

    def op_quit(self, cmd: dict) -> bool:
        """Closes the OpenFlow channels and stops the reactor; :meth:`shutdown` (after
        the reactor returns) closes the datapath and writes the reply."""
        from twisted.internet import reactor

        self.quit_requested = True
        d = self.bridge.connmgr.stop()
        d.addBoth(lambda _: reactor.stop())
        return False

    def shutdown(self) -> None:
        try:
            self.dp.close()
            self.dp.lib.vsw_shutdown()
        except Exception:
            traceback.print_exc()
            error = traceback.format_exc()
        else:
            error = None
        if getattr(self, "quit_requested", False):
            try:
                if error:
                    self.reply(ok=False, error=error)
                else:
                    self.reply(ok=True)
            except OSError:
                pass


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reply-fd", type=int, required=True)
    parser.add_argument("--outdir", required=True)
    parser.add_argument("--rundir", required=True)
    parser.add_argument("--ports", type=int, default=3)
    parser.add_argument("--fail-mode", choices=("secure", "standalone"), default="secure")
    parser.add_argument("--controller", action="append", default=[])
    parser.add_argument("--dpid", type=lambda s: int(s, 0), default=0x1)
    parser.add_argument("--pmd-sleep", type=int, default=100)
    parser.add_argument("eal", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    eal = args.eal[1:] if args.eal[:1] == ["--"] else args.eal

    d = Daemon(args, eal)
    if not d.start_datapath():
        return 3

    from twisted.internet import reactor, stdio
    from twisted.logger import globalLogBeginner, textFileLogObserver
    from twisted.protocols.basic import LineReceiver

    globalLogBeginner.beginLoggingTo([textFileLogObserver(sys.stderr)],
                                     redirectStandardIO=False)
    d.start_bridge()

    class Commands(LineReceiver):
        delimiter = b"\n"

        def lineReceived(self, line: bytes) -> None:  # noqa: N802 - Twisted API
            if line.strip() and not d.handle(line.decode()):
                self.quitting = True   # quit: the reactor stops after the reply

        def connectionLost(self, reason: object) -> None:  # noqa: N802 - Twisted API
            # stdin closed (the test went away): shut down as on quit.
            if reactor.running and not getattr(self, "quitting", False):
                d.op_quit({})

    # Replies are written directly to the reply fd; stdio only reads stdin here.
    stdio.StandardIO(Commands(), stdin=0, stdout=os.dup(args.reply_fd))
    d.bridge.attach(reactor)
    d.bridge.connmgr.start()
    if args.controller:
        # No inactivity probes: the tests see fail-open at once (OVS fails open after
        # three probe intervals; 0 disables probing).
        d.bridge.set_controllers(args.controller, probe_interval=0)
    reactor.callWhenRunning(d.reply, ok=True, ready=True, pid=os.getpid(),
                            pmd_cores=d.pmd_cores, files=d.files,
                            mgmt=d.bridge.connmgr.mgmt_path)
    reactor.run()
    d.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
