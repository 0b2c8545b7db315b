"""A learning switch for os-ken (OpenFlow 1.3), the classic "simple switch" pattern,
written for tests/test_osken_controller.py, plus a minimal launcher.

The application:

- on the switch's features reply, installs the table-miss flow entry (match all,
  priority 0, apply-actions output:CONTROLLER with max_len OFPCML_NO_BUFFER);
- on every packet-in, learns eth_src -> in_port per datapath; if eth_dst is known,
  installs a priority-1 flow (in_port, eth_dst, eth_src -> output) and sends the packet
  out that port; otherwise sends it out with FLOOD. Packet-outs always carry the data
  (the switch keeps no buffers).

Every event is logged as one line, ``EVENT <kind> <json>``, so a test can count
packet-ins and see which flows the controller asked for.

Launcher: os-ken 4.x dropped its CLI (``osken-manager``: "Remove CLI parts from
os-ken", upstream commit d8589788), so ``python osken_simple_switch.py
--ofp-listen-host 127.0.0.1 --ofp-tcp-listen-port PORT`` does what osken-manager did:
parse os-ken's configuration options, then load and run this application (os-ken adds
its OpenFlow controller service, os_ken.controller.ofp_handler, because the
application handles ofp_event events).
"""

from __future__ import annotations

import json
import logging
import os
import sys

from os_ken.base import app_manager
from os_ken.controller import ofp_event
from os_ken.controller.handler import CONFIG_DISPATCHER, MAIN_DISPATCHER, set_ev_cls
from os_ken.lib.packet import ethernet, packet
from os_ken.ofproto import ofproto_v1_3

LOG = logging.getLogger("osken_simple_switch")


def _event(kind: str, **fields) -> None:
    LOG.info("EVENT %s %s", kind, json.dumps(fields, sort_keys=True))


class LearningSwitch13(app_manager.OSKenApp):
    OFP_VERSIONS = [ofproto_v1_3.OFP_VERSION]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # datapath id -> {MAC text -> port}
        self.macs: dict[int, dict[str, int]] = {}

    def _flow(self, dp, priority: int, match, actions) -> None:
        ofp, parser = dp.ofproto, dp.ofproto_parser
        inst = [parser.OFPInstructionActions(ofp.OFPIT_APPLY_ACTIONS, actions)]
        dp.send_msg(parser.OFPFlowMod(datapath=dp, priority=priority, match=match,
                                      instructions=inst))

    @set_ev_cls(ofp_event.EventOFPSwitchFeatures, CONFIG_DISPATCHER)
    def on_features(self, ev) -> None:
        dp = ev.msg.datapath
        ofp, parser = dp.ofproto, dp.ofproto_parser
        self.macs.setdefault(dp.id, {})
        self._flow(dp, 0, parser.OFPMatch(),
                   [parser.OFPActionOutput(ofp.OFPP_CONTROLLER, ofp.OFPCML_NO_BUFFER)])
        _event("features", dpid=dp.id, n_buffers=ev.msg.n_buffers)

    @set_ev_cls(ofp_event.EventOFPPacketIn, MAIN_DISPATCHER)
    def on_packet_in(self, ev) -> None:
        msg = ev.msg
        dp = msg.datapath
        ofp, parser = dp.ofproto, dp.ofproto_parser
        in_port = msg.match["in_port"]
        eth = packet.Packet(msg.data).get_protocol(ethernet.ethernet)
        if eth is None:
            _event("packet_in", dpid=dp.id, in_port=in_port, len=len(msg.data),
                   eth=None, reason=msg.reason)
            return
        _event("packet_in", dpid=dp.id, in_port=in_port, src=eth.src, dst=eth.dst,
               len=len(msg.data), reason=msg.reason, table_id=msg.table_id,
               buffer_id=msg.buffer_id, data=msg.data.hex())
        table = self.macs.setdefault(dp.id, {})
        table[eth.src] = in_port
        out_port = table.get(eth.dst)
        if out_port is None:
            out_port = ofp.OFPP_FLOOD
        else:
            match = parser.OFPMatch(in_port=in_port, eth_dst=eth.dst, eth_src=eth.src)
            self._flow(dp, 1, match, [parser.OFPActionOutput(out_port)])
            _event("flow_mod", dpid=dp.id, in_port=in_port, src=eth.src, dst=eth.dst,
                   out_port=out_port)
        dp.send_msg(parser.OFPPacketOut(
            datapath=dp, buffer_id=ofp.OFP_NO_BUFFER, in_port=in_port,
            actions=[parser.OFPActionOutput(out_port)], data=msg.data))
        _event("packet_out", dpid=dp.id, in_port=in_port, out_port=out_port)


def main(argv: list[str] | None = None) -> None:
    from os_ken import cfg
    from os_ken import log as osken_log

    cfg.CONF(args=sys.argv[1:] if argv is None else argv, project="os_ken")
    osken_log.init_log()   # one stderr handler on the root logger
    logging.getLogger().setLevel(logging.INFO)
    module = os.path.splitext(os.path.abspath(__file__))[0]
    # Load by module name so os-ken finds the OSKenApp subclass defined here.
    sys.path.insert(0, os.path.dirname(module))
    _event("start", pid=os.getpid(), port=cfg.CONF.ofp_tcp_listen_port,
           host=cfg.CONF.ofp_listen_host)
    app_manager.AppManager.run_apps([os.path.basename(module)])


if __name__ == "__main__":
    main()
