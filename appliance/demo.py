"""``bootstrap.sh run``: start the appliance and switch real traffic between two hosts.

    python -m appliance.demo [--hosts N] [twistd vswitch options...]

Starts ``twistd -n vswitch`` (the whole appliance on its built-in defaults: run
directory $OVS_RUNDIR or /var/run/openvswitch, database $OVS_DBDIR/conf.db, log
$OVS_LOGDIR/vswitch.log), creates bridge br0 (whose default flow is actions=NORMAL) through
plain ``ovs-vsctl``, attaches N hosts in network namespaces (:class:`appliance.netns.Host`,
veth pairs added as ``system`` interfaces), pings between them, prints ``ovs-vsctl
show``, ``ovs-ofctl dump-flows br0`` and ``ovs-appctl dpctl/dump-flows``, then keeps
serving until Ctrl-C, which removes the hosts and their ports and stops the appliance.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time

from appliance.netns import Host
from ovsdb import tap as ovsdb_tap

BRIDGE = "br0"


def _log_dir() -> str:
    return os.environ.get("OVS_LOGDIR", "/var/log/openvswitch")


def _tool(*args: str, check: bool = True) -> str:
    r = subprocess.run(args, capture_output=True, text=True, timeout=60)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(args)}: {r.stderr.strip() or r.returncode}")
    return r.stdout


def _wait_for(path: str, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        if proc.poll() is not None:
            raise RuntimeError(f"the appliance exited ({proc.returncode}); see its log")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{path} did not appear within {timeout:.0f} s")
        time.sleep(0.2)


def _section(title: str, text: str) -> None:
    print(f"\n== {title}\n{text.rstrip()}", flush=True)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=2)
    args, extra = parser.parse_known_args(argv)
    rundir = ovsdb_tap.default_rundir()
    os.makedirs(rundir, exist_ok=True)
    os.makedirs(_log_dir(), exist_ok=True)
    log = os.path.join(_log_dir(), "vswitch.log")
    twistd = os.path.join(os.path.dirname(sys.executable), "twistd")
    # A session of its own: Ctrl-C reaches only this script, which removes the hosts'
    # ports while the appliance still runs, then stops it.
    appliance = subprocess.Popen([twistd, "-n", "--pidfile=", f"--logfile={log}", "vswitch",
                                  *extra], start_new_session=True)
    hosts: list[Host] = []
    try:
        print(f"vswitch-appliance: starting (pid {appliance.pid}, log {log})", flush=True)
        _wait_for(os.path.join(rundir, "db.sock"), appliance)
        _wait_for(os.path.join(rundir, "ovs-vswitchd.pid"), appliance)
        _tool("ovs-vsctl", "--timeout=120", "--may-exist", "add-br", BRIDGE, "--", "set",
              "bridge", BRIDGE, "datapath_type=netdev")
        for n in range(1, args.hosts + 1):
            name = f"vsw-h{n}"
            hosts.append(Host(name, f"10.10.0.{n}"))
            # Replaces a port an earlier run may have left in the database (its
            # interface failed while the host did not exist).
            _tool("ovs-vsctl", "--timeout=120", "--if-exists", "del-port", BRIDGE, name,
                  "--", "add-port", BRIDGE, name)
        for h in hosts[1:]:
            r = hosts[0].ping(h.address)
            _section(f"ping {hosts[0].name} ({hosts[0].address}) -> {h.name} ({h.address})",
                     r.stdout + r.stderr)
        _section("ovs-vsctl show", _tool("ovs-vsctl", "show"))
        _section(f"ovs-ofctl dump-flows {BRIDGE}", _tool("ovs-ofctl", "dump-flows", BRIDGE))
        _section("ovs-appctl dpctl/dump-flows", _tool("ovs-appctl", "dpctl/dump-flows"))
        print("\nThe appliance keeps serving: try ovs-vsctl, ovs-ofctl and ovs-appctl, or "
              f"'ip netns exec {hosts[0].name} ping {hosts[-1].address}'. "
              "Ctrl-C stops it.", flush=True)
        signal.signal(signal.SIGTERM, _interrupt)
        appliance.wait()
        return appliance.returncode
    except KeyboardInterrupt:
        return 0
    finally:
        for h in hosts:
            _tool("ovs-vsctl", "--timeout=30", "--if-exists", "del-port", BRIDGE, h.name,
                  check=False)
            h.remove()
        if appliance.poll() is None:
            appliance.send_signal(signal.SIGTERM)
            try:
                appliance.wait(timeout=30)
            except subprocess.TimeoutExpired:
                appliance.kill()
                appliance.wait()


if __name__ == "__main__":
    sys.exit(main())
