"""End to end: the whole appliance (``twistd -n vswitch``) configured with Debian's
ovs-vsctl/ovs-ofctl, switching traffic between hosts in network namespaces.

Each test starts a private appliance (tests/helpers/appliance.py: OVS_RUNDIR & co. in a
temporary directory, DPDK with its own --file-prefix) and hosts on veth pairs attached as
``system`` interfaces (net_af_packet), so nothing of the machine's own is touched.
"""

from __future__ import annotations

import itertools
import json
import os

import pytest
from helpers.appliance import Appliance
from helpers.tcp_transfer import expected_digest, transfer

from appliance.netns import Host

_seq = itertools.count()


@pytest.fixture
def appliance():
    a = Appliance()
    try:
        yield a.start()
    finally:
        status = a.stop()
        text = a.log_text()
        a.cleanup()
        # twistd ends a SIGTERM-stopped run by re-raising the signal, after a clean stop.
        assert status in (0, -15) and "Server Shut Down." in text, \
            f"appliance exited {status}\n{text[-3000:]}"
        assert "Traceback" not in text, text


@pytest.fixture
def hosts():
    made: list[Host] = []
    tag = f"{os.getpid() % 1000}{next(_seq)}"

    def make(n: int, subnet: str = "10.20.0") -> list[Host]:
        for i in range(1, n + 1):
            made.append(Host(f"vt{tag}h{i}", f"{subnet}.{i}"))
        return made[-n:]

    yield make
    for h in made:
        h.remove()


def add_bridge(a: Appliance, name: str = "br0", *extra: str) -> None:
    a.vsctl("add-br", name, "--", "set", "bridge", name, "datapath_type=netdev", *extra)


def vsctl_json(a: Appliance, table: str, *columns: str) -> list[dict]:
    out = json.loads(a.vsctl("--format=json", "--columns=" + ",".join(columns), "list",
                             table, wait=False))
    rows = []
    for data in out["data"]:
        rows.append(dict(zip(out["headings"], data, strict=True)))
    return rows


def iface_stats(a: Appliance, name: str) -> dict[str, int]:
    row = next(r for r in vsctl_json(a, "Interface", "name", "statistics") if r["name"] == name)
    return dict(row["statistics"][1])


def test_normal_ping_and_tcp_between_two_hosts(appliance, hosts):
    """Plain ovs-vsctl (it waits for cur_cfg), the default NORMAL flow, ping, and a
    100 MB TCP transfer checked byte for byte."""
    a = appliance
    add_bridge(a)
    h1, h2 = hosts(2)
    for h in (h1, h2):
        a.vsctl("add-port", "br0", h.name)
    assert a.get("Interface", h1.name, "ofport") == "1"
    assert a.get("Interface", h2.name, "ofport") == "2"
    assert a.get("Interface", "br0", "ofport") == "65534"
    assert a.get("Interface", h1.name, "link_state") == "up"
    assert a.get("Open_vSwitch", ".", "dpdk_initialized") == "true"
    cfg = a.get("Open_vSwitch", ".", "next_cfg")
    assert a.get("Open_vSwitch", ".", "cur_cfg") == cfg
    flows = a.ofctl("dump-flows", "br0")
    assert "priority=0 actions=NORMAL" in flows

    r = h1.ping(h2.address, count=5)
    assert r.returncode == 0, r.stdout + r.stderr
    assert " 0% packet loss" in r.stdout

    nbytes = 100 * 1024 * 1024
    got, digest, _ = transfer(h1, h2, nbytes)
    assert got == nbytes
    assert digest == expected_digest(nbytes, 7)

    # The datapath did the work: megaflows exist and the rule's counters grew.
    dp_flows = a.appctl("dpctl/dump-flows")
    assert "in_port(" in dp_flows and "actions:" in dp_flows
    stats = a.ofctl("dump-flows", "br0")
    n_packets = int(stats.split("n_packets=")[1].split(",")[0])
    assert n_packets > 1000
    # Statistics are written back (every 5 s).
    a.wait_until(lambda: iface_stats(a, h2.name).get("tx_bytes", 0) >= nbytes, timeout=20,
                 what="Interface statistics")
