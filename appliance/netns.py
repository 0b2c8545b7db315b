"""Hosts in network namespaces, wired to the switch by veth pairs (pyroute2).

A :class:`Host` is a network namespace with one interface ``eth0`` whose veth peer stays
in the root namespace under the host's name, ready to be added to a bridge as a
``system`` interface (the userspace datapath opens it as ``net_af_packet``). Used by the
``bootstrap.sh run`` demonstration (:mod:`appliance.demo`), the end-to-end tests and the
benchmarks.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence

from pyroute2 import IPRoute, NetNS, netns


class Host:
    """Namespace ``name`` with ``eth0`` at ``address/prefixlen`` (IPv4 only), its veth
    peer ``name`` in the root namespace (up). Checksum offloads are turned off on both
    ends: frames cross the userspace datapath as plain packets, and a partial checksum
    left for hardware that never sees the frame would reach the other host unfinished.

    Raises pyroute2's NetlinkError (e.g. EEXIST) if the name is taken.
    """

    def __init__(self, name: str, address: str, prefixlen: int = 24,
                 mac: str | None = None) -> None:
        self.name = name
        self.address = address
        netns.create(name)
        try:
            with IPRoute() as ip:
                peer = {"ifname": "eth0", "net_ns_fd": name}
                if mac:
                    peer["address"] = mac
                ip.link("add", ifname=name, kind="veth", peer=peer)
                ip.link("set", index=ip.link_lookup(ifname=name)[0], state="up")
            with NetNS(name) as ns:
                idx = ns.link_lookup(ifname="eth0")[0]
                ns.addr("add", index=idx, address=address, prefixlen=prefixlen)
                ns.link("set", index=idx, state="up")
                ns.link("set", index=ns.link_lookup(ifname="lo")[0], state="up")
            # IPv6 stays off: router solicitations and MLD reports would be traffic
            # nobody asked for (floods, packet-ins) on a demonstration or test network.
            for cmd in (["ethtool", "-K", name, "tx", "off", "rx", "off"],
                        self.argv(["ethtool", "-K", "eth0", "tx", "off", "rx", "off"]),
                        ["sysctl", "-qw", f"net.ipv6.conf.{name}.disable_ipv6=1"],
                        self.argv(["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"])):
                subprocess.run(cmd, capture_output=True, check=True)
        except BaseException:
            self.remove()
            raise

    def argv(self, cmd: Sequence[str]) -> list[str]:
        """``cmd`` run inside the namespace."""
        return ["ip", "netns", "exec", self.name, *cmd]

    def run(self, cmd: Sequence[str], timeout: float = 60, check: bool = False,
            **kw) -> subprocess.CompletedProcess:
        return subprocess.run(self.argv(cmd), capture_output=True, text=True,
                              timeout=timeout, check=check, **kw)

    def ping(self, address: str, count: int = 3, timeout: float = 20) -> \
            subprocess.CompletedProcess:
        """``ping -c COUNT`` from the host (0.2 s apart, each waits up to 2 s)."""
        return self.run(["ping", "-c", str(count), "-i", "0.2", "-W", "2", address],
                        timeout=timeout)

    def mac(self) -> str:
        with NetNS(self.name) as ns:
            link = ns.get_links(ns.link_lookup(ifname="eth0")[0])[0]
            return link.get_attr("IFLA_ADDRESS")

    def remove(self) -> None:
        """Deletes the veth pair and the namespace (safe to repeat)."""
        with IPRoute() as ip:
            idx = ip.link_lookup(ifname=self.name)
            if idx:
                ip.link("del", index=idx[0])
        if self.name in netns.listnetns():
            netns.remove(self.name)
