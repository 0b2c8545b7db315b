"""A host on a VLAN trunk, played by scapy (the test kernel has no 8021q module).

    python vlan_responder.py IFACE IP VLAN SECONDS

Answers ARP requests for IP and ICMP echo requests to IP that arrive tagged with VLAN,
tagged the same way, from IFACE's own MAC, for SECONDS; prints one line per answer
("arp VLAN" / "icmp VLAN") and counts untagged or wrongly tagged frames for IP
("wrong N") at the end, so a test checks the tags the switch put on the wire.
"""

from __future__ import annotations

import sys

from scapy.all import ARP, ICMP, IP, Dot1Q, Ether, conf, get_if_hwaddr, sendp, sniff


def main() -> None:
    iface, ip, vlan, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    mac = get_if_hwaddr(iface)
    conf.verb = 0
    wrong = 0

    def answer(p) -> None:
        nonlocal wrong
        tagged = p.haslayer(Dot1Q)
        vid = p[Dot1Q].vlan if tagged else None
        for_us = (p.haslayer(ARP) and p[ARP].op == 1 and p[ARP].pdst == ip) or \
            (p.haslayer(IP) and p[IP].dst == ip and p.haslayer(ICMP) and p[ICMP].type == 8)
        if not for_us:
            return
        if vid != vlan:
            wrong += 1
            return
        if p.haslayer(ARP):
            a = p[ARP]
            reply = Ether(src=mac, dst=p[Ether].src) / Dot1Q(vlan=vlan) / ARP(
                op=2, hwsrc=mac, psrc=ip, hwdst=a.hwsrc, pdst=a.psrc)
            print(f"arp {vid}", flush=True)
        else:
            req = p[IP]
            icmp = p[ICMP]
            reply = Ether(src=mac, dst=p[Ether].src) / Dot1Q(vlan=vlan) / IP(
                src=ip, dst=req.src) / ICMP(type=0, id=icmp.id, seq=icmp.seq) / \
                bytes(icmp.payload)
            print(f"icmp {vid}", flush=True)
        sendp(reply, iface=iface)

    print("ready", flush=True)
    sniff(iface=iface, prn=answer, store=False, timeout=seconds)
    print(f"wrong {wrong}", flush=True)


if __name__ == "__main__":
    main()
