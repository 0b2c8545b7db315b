/* Executes datapath actions (vsw_actions.h) on one packet, on a PMD thread.
 *
 * The packet ('m') is consumed: the last output transmits it without a copy, every
 * earlier output, clone and sample works on a deep copy (rte_pktmbuf_copy), so no two
 * outputs ever share a buffer that a later action rewrites.  Header rewrites find the
 * headers again with vsw_flow_extract(), since earlier actions (push/pop VLAN) may
 * have moved them.  pmd.c's fast path skips this walker for the common single-output
 * flow.
 */
#include <string.h>

#include <rte_branch_prediction.h>
#include <rte_byteorder.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_random.h>
#include <rte_tcp.h>
#include <rte_udp.h>

#include "vsw_dp.h"

#define ETH_ADDRS_LEN 12
#define VLAN_HLEN 4

static struct rte_mbuf *
copy_packet(const struct rte_mbuf *m, uint32_t max_len)
{
    return rte_pktmbuf_copy(m, vsw_dp.mbuf_pool, 0, max_len ? max_len : UINT32_MAX);
}

static bool
push_vlan(struct rte_mbuf *m, uint32_t arg)
{
    /* Copies are linear, and received packets single-segment, so the Ethernet
     * addresses are in the first segment. */
    uint8_t *p = (uint8_t *) rte_pktmbuf_prepend(m, VLAN_HLEN);
    if (!p || rte_pktmbuf_data_len(m) < ETH_ADDRS_LEN + VLAN_HLEN) {
        return false;
    }
    memmove(p, p + VLAN_HLEN, ETH_ADDRS_LEN);
    uint16_t tpid = rte_cpu_to_be_16((uint16_t) (arg >> 16));
    uint16_t tci = rte_cpu_to_be_16((uint16_t) (arg & 0xffff & ~VSW_VLAN_CFI));
    memcpy(p + ETH_ADDRS_LEN, &tpid, 2);
    memcpy(p + ETH_ADDRS_LEN + 2, &tci, 2);
    return true;
}

static void
pop_vlan(struct rte_mbuf *m)
{
    if (rte_pktmbuf_data_len(m) < ETH_ADDRS_LEN + VLAN_HLEN + 2) {
        return;
    }
    uint8_t *p = rte_pktmbuf_mtod(m, uint8_t *);
    uint16_t tpid = (uint16_t) (p[12] << 8 | p[13]);
    if (tpid != 0x8100 && tpid != 0x88a8) {
        return;
    }
    memmove(p + VLAN_HLEN, p, ETH_ADDRS_LEN);
    rte_pktmbuf_adj(m, VLAN_HLEN);
}

/* Replaces the bits of 'dst' selected by 'mask' with those of 'src'; returns whether
 * any byte changed. */
static bool
apply_bytes(uint8_t *dst, const uint8_t *src, const uint8_t *mask, size_t n)
{
    bool changed = false;
    for (size_t i = 0; i < n; i++) {
        if (mask[i]) {
            uint8_t v = (uint8_t) ((dst[i] & ~mask[i]) | (src[i] & mask[i]));
            changed |= v != dst[i];
            dst[i] = v;
        }
    }
    return changed;
}

static void
fix_l4_checksum(uint8_t *l3, uint8_t *l4, uint8_t proto, bool ipv4, uint32_t l4_len)
{
    if (proto == IPPROTO_TCP && l4_len >= sizeof(struct rte_tcp_hdr)) {
        struct rte_tcp_hdr *tcp = (void *) l4;
        tcp->cksum = 0;
        tcp->cksum = ipv4 ? rte_ipv4_udptcp_cksum((void *) l3, tcp)
                          : rte_ipv6_udptcp_cksum((void *) l3, tcp);
    } else if (proto == IPPROTO_UDP && l4_len >= sizeof(struct rte_udp_hdr)) {
        struct rte_udp_hdr *udp = (void *) l4;
        if (ipv4 && !udp->dgram_cksum) {
            return;   /* checksum not used (IPv4 only) */
        }
        udp->dgram_cksum = 0;
        udp->dgram_cksum = ipv4 ? rte_ipv4_udptcp_cksum((void *) l3, udp)
                                : rte_ipv6_udptcp_cksum((void *) l3, udp);
    }
}

static void
set_masked(struct rte_mbuf *m, struct vsw_flow_key *key, const struct vsw_set_masked *sm)
{
    const struct vsw_flow_key *v = &sm->value, *k = &sm->mask;
    key->pkt_mark = (key->pkt_mark & ~k->pkt_mark) | (v->pkt_mark & k->pkt_mark);

    uint8_t *p = rte_pktmbuf_mtod(m, uint8_t *);
    uint32_t len = rte_pktmbuf_data_len(m);
    if (len < 14) {
        return;
    }
    apply_bytes(p, v->eth_dst, k->eth_dst, 6);
    apply_bytes(p + 6, v->eth_src, k->eth_src, 6);

    struct vsw_flow_key cur;
    struct vsw_hdr_offsets off;
    vsw_flow_extract(p, len, key->in_port, &cur, &off);
    if (off.l3 == VSW_OFS_NONE) {
        return;
    }
    uint8_t *l3 = p + off.l3;
    /* Only these transport headers start with ports (ICMP's type/code must stay). */
    bool ports = cur.nw_proto == IPPROTO_TCP || cur.nw_proto == IPPROTO_UDP
                 || cur.nw_proto == IPPROTO_SCTP;
    uint8_t *l4 = off.l4 != VSW_OFS_NONE && ports ? p + off.l4 : NULL;
    bool l3_changed = false, l4_changed = false;

    if (cur.eth_type == rte_cpu_to_be_16(0x0800)) {
        struct rte_ipv4_hdr *ip = (void *) l3;
        l3_changed |= apply_bytes((uint8_t *) &ip->src_addr, (const uint8_t *) &v->ipv4_src,
                                  (const uint8_t *) &k->ipv4_src, 4);
        l3_changed |= apply_bytes((uint8_t *) &ip->dst_addr, (const uint8_t *) &v->ipv4_dst,
                                  (const uint8_t *) &k->ipv4_dst, 4);
        l3_changed |= apply_bytes(&ip->type_of_service, &v->nw_tos, &k->nw_tos, 1);
        l3_changed |= apply_bytes(&ip->time_to_live, &v->nw_ttl, &k->nw_ttl, 1);
        if (l4) {
            l4_changed |= apply_bytes(l4, (const uint8_t *) &v->tp_src,
                                      (const uint8_t *) &k->tp_src, 2);
            l4_changed |= apply_bytes(l4 + 2, (const uint8_t *) &v->tp_dst,
                                      (const uint8_t *) &k->tp_dst, 2);
        }
        if (l3_changed) {
            ip->hdr_checksum = 0;
            ip->hdr_checksum = rte_ipv4_cksum(ip);
        }
        if (l4 && (l3_changed || l4_changed)) {
            /* The checksum covers the IP payload, not Ethernet padding after it. */
            uint32_t l4_len = rte_be_to_cpu_16(ip->total_length) - (off.l4 - off.l3);
            fix_l4_checksum(l3, l4, cur.nw_proto, true, l4_len);
        }
    } else if (cur.eth_type == rte_cpu_to_be_16(0x86dd)) {
        struct rte_ipv6_hdr *ip = (void *) l3;
        l3_changed |= apply_bytes(ip->src_addr, v->ipv6_src, k->ipv6_src, 16);
        l3_changed |= apply_bytes(ip->dst_addr, v->ipv6_dst, k->ipv6_dst, 16);
        l3_changed |= apply_bytes(&ip->hop_limits, &v->nw_ttl, &k->nw_ttl, 1);
        if (k->nw_tos || k->ipv6_label) {
            uint32_t vtc = rte_be_to_cpu_32(ip->vtc_flow);
            uint32_t tc = (vtc >> 20) & 0xff;
            tc = (tc & ~k->nw_tos) | (v->nw_tos & k->nw_tos);
            uint32_t label_mask = rte_be_to_cpu_32(k->ipv6_label) & 0xfffff;
            uint32_t label = (vtc & 0xfffff & ~label_mask)
                             | (rte_be_to_cpu_32(v->ipv6_label) & label_mask);
            ip->vtc_flow = rte_cpu_to_be_32((vtc & 0xf0000000u) | tc << 20 | label);
        }
        if (l4) {
            l4_changed |= apply_bytes(l4, (const uint8_t *) &v->tp_src,
                                      (const uint8_t *) &k->tp_src, 2);
            l4_changed |= apply_bytes(l4 + 2, (const uint8_t *) &v->tp_dst,
                                      (const uint8_t *) &k->tp_dst, 2);
        }
        if (l4 && (l3_changed || l4_changed)) {
            uint32_t l4_len = sizeof *ip + rte_be_to_cpu_16(ip->payload_len)
                              - (off.l4 - off.l3);
            fix_l4_checksum(l3, l4, cur.nw_proto, false, l4_len);
        }
    }
}

static uint32_t
l4_hash(const struct vsw_flow_key *key, uint32_t basis)
{
    /* Only the 5-tuple and in_port, so all packets of a connection hash alike. */
    struct vsw_flow_key t;
    memset(&t, 0, sizeof t);
    t.in_port = key->in_port;
    t.eth_type = key->eth_type;
    t.ipv4_src = key->ipv4_src;
    t.ipv4_dst = key->ipv4_dst;
    memcpy(t.ipv6_src, key->ipv6_src, 16);
    memcpy(t.ipv6_dst, key->ipv6_dst, 16);
    t.nw_proto = key->nw_proto;
    t.tp_src = key->tp_src;
    t.tp_dst = key->tp_dst;
    t.recirc_id = basis;
    return vsw_flow_hash(&t);
}

void
vsw_actions_execute(struct vsw_pmd *pmd, struct rte_mbuf *m, struct vsw_flow_key *key,
                    const uint8_t *actions, uint32_t actions_len, unsigned depth)
{
    uint32_t trunc = 0;
    uint32_t ofs = 0;
    while (ofs < actions_len && m) {
        const struct vsw_action *a = (const void *) (actions + ofs);
        const uint8_t *payload = actions + ofs + sizeof *a;
        uint32_t payload_len = a->len - (uint32_t) sizeof *a;
        bool last = ofs + a->len >= actions_len;
        ofs += a->len;

        switch ((enum vsw_action_type) a->type) {
        case VSW_ACTION_OUTPUT: {
            struct rte_mbuf *out = m;
            if (last) {
                m = NULL;
                if (trunc && rte_pktmbuf_pkt_len(out) > trunc) {
                    rte_pktmbuf_trim(out, (uint16_t) (rte_pktmbuf_pkt_len(out) - trunc));
                }
            } else {
                out = copy_packet(m, trunc);
            }
            if (out) {
                vsw_pmd_tx(pmd, a->arg, out);
            }
            break;
        }
        case VSW_ACTION_USERSPACE:
            vsw_upcall(pmd, m, key, VSW_UPCALL_ACTION, payload, a->arg);
            break;
        case VSW_ACTION_PUSH_VLAN:
            if (!push_vlan(m, a->arg)) {
                rte_pktmbuf_free(m);
                m = NULL;
            }
            break;
        case VSW_ACTION_POP_VLAN:
            pop_vlan(m);
            break;
        case VSW_ACTION_SET_MASKED:
            set_masked(m, key, (const struct vsw_set_masked *) payload);
            break;
        case VSW_ACTION_CLONE:
        case VSW_ACTION_SAMPLE: {
            if (a->type == VSW_ACTION_SAMPLE && a->arg != UINT32_MAX
                && (uint32_t) (rte_rand() >> 32) >= a->arg) {
                break;
            }
            if (depth >= VSW_MAX_RECIRC_DEPTH) {
                break;
            }
            struct rte_mbuf *copy = last ? m : copy_packet(m, 0);
            if (last) {
                m = NULL;
            }
            if (copy) {
                struct vsw_flow_key k2 = *key;
                vsw_actions_execute(pmd, copy, &k2, payload, payload_len, depth + 1);
            }
            break;
        }
        case VSW_ACTION_RECIRC: {
            if (depth >= VSW_MAX_RECIRC_DEPTH) {
                break;
            }
            struct rte_mbuf *r = last ? m : copy_packet(m, 0);
            if (last) {
                m = NULL;
            }
            if (r) {
                struct vsw_flow_key k2;
                vsw_flow_extract(rte_pktmbuf_mtod(r, const uint8_t *), rte_pktmbuf_data_len(r),
                                 key->in_port, &k2, NULL);
                k2.recirc_id = a->arg;
                k2.dp_hash = key->dp_hash;
                k2.pkt_mark = key->pkt_mark;
                vsw_pmd_process_one(pmd, r, &k2, depth + 1);
            }
            break;
        }
        case VSW_ACTION_HASH:
            key->dp_hash = l4_hash(key, a->arg);
            break;
        case VSW_ACTION_TRUNC:
            trunc = a->arg;
            break;
        case VSW_ACTION_DROP:
            ofs = actions_len;
            break;
        }
    }
    if (m) {
        rte_pktmbuf_free(m);
    }
}
