"""The "ours" flow-setup arm of bench/openflow_bench.py, run as its own process (EAL
initialises once per process).

It brings up our datapath (EAL ``--no-huge -m 1024``, main lcore 0, one PMD on CPU 1,
busy polling), and per pipeline and run a fresh :class:`ofproto.bridge.OFBridge`
(fail_mode=secure) with three ports: ofport 1 (the source), 2 and 3 (``net_null``
sinks).  The OpenFlow table is programmed through the switch's pipeline (not timed), the
datapath flows are flushed, and then the N microflows of the pcap enter on port 1:

* ``inject`` (default): the frames are executed with ``recirc(0)`` as received on port 1
  in batches of ``batch`` frames (one synchronous ``vsw_execute_batch`` each, below the
  1,023-entry upcall pool, so no upcall is lost); after each batch the upcall ring is
  drained into ``bridge.handle_upcalls`` (xlate -> flow_put -> execute).  The batches'
  ``struct vsw_exec`` arrays (pointers to the frames, which are in memory, like frames
  waiting in an rx ring) are built before the clock starts.  The clock runs from the
  first injected frame to the last upcall handled; the time spent injecting is reported
  too, so it can be subtracted.  After ``timeout`` seconds no further batch starts: the
  run then covers fewer frames (``frames``).
* ``pcap``: port 1 is a ``net_pcap`` vdev replaying the file once (no infinite_rx), as
  OVS's arm does; upcalls are drained as fast as possible until the PMD has received
  all N frames and no upcall came for 1 s.  Upcalls beyond the ring's capacity are lost
  (counted), so fewer than N megaflows may be installed.

Megaflows installed = the datapath's flow count (``pmd_stats().n_flows``) afterwards.

Input: one JSON object on the command line (see ``main``).  Output: one JSON object on
stdout: ``{"normal": [run, ...], "exact": [...], "masks": {...}}``.
"""

from __future__ import annotations

import cProfile
import io
import json
import pstats
import struct
import sys
import time


def read_pcap(path: str) -> list[bytes]:
    frames = []
    with open(path, "rb") as f:
        data = f.read()
    off = 24
    while off + 16 <= len(data):
        incl = struct.unpack_from("<IIII", data, off)[2]
        frames.append(data[off + 16:off + 16 + incl])
        off += 16 + incl
    return frames


def exec_batches(dp, frames: list[bytes], in_port: int, actions: bytes,
                 batch: int) -> list[tuple[object, list[object]]]:
    """``frames`` as ``struct vsw_exec`` arrays of up to ``batch`` entries running
    ``actions`` (encoded) as received on datapath port ``in_port``: per array, the cdata
    and the buffers it points into (keep them alive while it is used)."""
    ffi = dp.ffi
    acts = ffi.from_buffer("uint8_t[]", actions)
    out = []
    for k in range(0, len(frames), batch):
        chunk = frames[k:k + batch]
        arr = ffi.new(f"struct vsw_exec[{len(chunk)}]")
        keep = []
        for c, pkt in zip(arr, chunk, strict=True):
            buf = ffi.from_buffer("uint8_t[]", pkt)
            keep.append(buf)
            c.packet, c.len, c.in_port = buf, len(pkt), in_port
            c.actions, c.actions_len = acts, len(actions)
        keep.append(acts)
        out.append((arr, keep))
    return out


def program(bridge, pipeline: str, exact_rules: int) -> None:
    """The OpenFlow table of ``pipeline`` (the same rules the OVS arm gets)."""
    from _datapath_arm import DST_IP, DST_PORT, flow_tuple

    from ofproto.ofp.actions import ActionOutput, InstructionApplyActions
    from ofproto.ofp.consts import OFPPort
    from ofproto.ofp.messages import FlowMod
    from ofproto.ofp.oxm import Match, ipv4

    pipe = bridge.switch.pipeline

    def add(priority: int, match: Match, port: int) -> None:
        pipe.flow_mod(FlowMod(priority=priority, match=match, instructions=[
            InstructionApplyActions(actions=[ActionOutput(port=port, max_len=0)])]))

    if pipeline == "normal":
        add(0, Match(), int(OFPPort.OFPP_NORMAL))
        return
    dst = ipv4(DST_IP)
    for i in range(exact_rules):
        src, sport = flow_tuple(i)
        add(100, Match(in_port=(1, None), eth_type=(0x0800, None), nw_proto=(17, None),
                       ip_src=(ipv4(src), None), ip_dst=(dst, None),
                       udp_src=(sport, None), udp_dst=(DST_PORT, None)), 2)
    add(0, Match(), 3)


def main() -> None:
    cfg = json.loads(sys.argv[1])
    sys.path.insert(0, cfg["bench_dir"])
    from appliance.dpif.netdev import NetdevDpif, eal_config, init_dpdk
    from appliance.dpif.odp import Recirc, encode_actions, format_key
    from ofproto.bridge import OFBridge

    init_dpdk(eal_config({
        "dpdk-lcore-mask": "0x1", "pmd-cpu-mask": "0x2",
        "dpdk-extra": f"--no-huge -m 1024 --no-pci --file-prefix={cfg['prefix']} "
                      "--log-level=lib.eal:error --log-level=pmd.net.pcap:error"}))
    dp = NetdevDpif(vhost_dir=cfg["workdir"])
    frames = read_pcap(cfg["pcap"])[:cfg["flows"]]
    n = len(frames)
    recirc = encode_actions([Recirc(0)])
    lib = dp.lib
    out: dict = {"masks": {}}
    seq = 0
    try:
        for pipeline in cfg["pipelines"]:
            runs = out.setdefault(pipeline, [])
            for _ in range(cfg["runs"]):
                seq += 1
                bridge = OFBridge("br0", dp, datapath_id=1, rundir=cfg["workdir"],
                                  fail_mode="secure")
                for ofport in (2, 3):
                    bridge.add_port(f"p{ofport}", "dpdk", {
                        "dpdk-devargs": f"net_null_of{seq}_{ofport},no-rx=1"}, ofport=ofport)
                if cfg["mode"] == "inject":
                    bridge.add_port("p1", "dpdk", {
                        "dpdk-devargs": f"net_null_of{seq}_1,no-rx=1"}, ofport=1)
                tp = time.monotonic()
                program(bridge, pipeline, cfg["exact_rules"])
                program_s = time.monotonic() - tp
                dp.flow_flush()
                s0 = {s.pmd: s for s in dp.pmd_stats()}
                handle_s = inject_s = 0.0
                prof = None
                if cfg.get("profile") and not runs:
                    prof = cProfile.Profile()
                    prof.enable()
                last_install = t0 = time.perf_counter()
                if cfg["mode"] == "inject":
                    batches = exec_batches(dp, frames, bridge.ports.odp_of(1), recirc,
                                           cfg["batch"])
                    done = 0
                    last_install = t0 = time.perf_counter()
                    for k, (arr, _keep) in zip(range(0, n, cfg["batch"]), batches,
                                              strict=True):
                        if time.perf_counter() - t0 > cfg["timeout"]:
                            break
                        ti = time.perf_counter()
                        ret = lib.vsw_execute_batch(-1, arr, len(arr))
                        bad = [c.result for c in arr if c.result < 0]
                        if ret < 0 or bad:
                            raise RuntimeError(f"vsw_execute_batch: {ret} {bad[:1]}")
                        th = time.perf_counter()
                        inject_s += th - ti
                        while True:
                            ups = dp.recv_upcalls()
                            if not ups:
                                break
                            bridge.handle_upcalls(ups)
                        handle_s += time.perf_counter() - th
                        done = min(n, k + cfg["batch"])
                    last_install = time.perf_counter()
                else:
                    done = n
                    bridge.add_port("p1", "dpdk", {
                        "dpdk-devargs": f"net_pcap_of{seq},rx_pcap={cfg['pcap']}"}, ofport=1)
                    t0 = last_install = time.perf_counter()
                    idle_since = None
                    while True:
                        ups = dp.recv_upcalls()
                        now = time.perf_counter()
                        if ups:
                            th = now
                            before = bridge.stats.flows_installed
                            bridge.handle_upcalls(ups)
                            now = time.perf_counter()
                            handle_s += now - th
                            if bridge.stats.flows_installed != before:
                                last_install = now
                            idle_since = None
                            continue
                        got = sum(s.packets - s0[s.pmd].packets for s in dp.pmd_stats())
                        if idle_since is None:
                            idle_since = now
                        if got >= n and now - idle_since >= 1.0:
                            break
                        if now - t0 > cfg["timeout"]:
                            break
                        time.sleep(0.0005)
                if prof is not None:
                    prof.disable()
                    text = io.StringIO()
                    pstats.Stats(prof, stream=text).sort_stats("tottime").print_stats(25)
                    pstats.Stats(prof, stream=text).sort_stats("cumulative").print_stats(25)
                    with open(f"{cfg['profile']}.{pipeline}.txt", "w") as f:
                        f.write(text.getvalue())
                s1 = dp.pmd_stats()
                d = {f: sum(getattr(s, f) - getattr(s0[s.pmd], f) for s in s1)
                     for f in ("packets", "misses", "lost")}
                flows = sum(s.n_flows for s in s1)
                elapsed = last_install - t0
                # Any megaflow, whether xlate or the table offload installed it.
                flow = next(iter(dp.flow_dump()), None)
                if pipeline not in out["masks"] and flow is not None:
                    out["masks"][pipeline] = format_key(flow.key, flow.mask)
                runs.append({"flows": flows, "elapsed_s": elapsed, "inject_s": inject_s,
                             "handle_s": handle_s, "program_s": program_s,
                             "upcalls": bridge.stats.upcalls,
                             "installed": bridge.stats.flows_installed,
                             "revalidated_away": bridge.stats.flows_revalidated_away,
                             "frames": done, **d})
                # Forget the megaflows first: del_port would revalidate all of them.
                bridge.megaflows.clear()
                dp.flow_flush()
                for ofport in (1, 2, 3):
                    bridge.del_port(ofport)
    finally:
        dp.close()
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
