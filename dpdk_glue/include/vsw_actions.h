/* Datapath actions, encoded as a stream of 8-byte-aligned records.
 *
 * Each record is a struct vsw_action header followed by its payload; 'len' counts the
 * header and the payload, padded to a multiple of 8.  Nested lists (clone, sample) are
 * the payload of their record.  An empty list drops the packet.  appliance/dpif/odp.py
 * encodes OVS's ODP action text ("2,push_vlan(vid=10,pcp=0),set(...)") into this form.
 */
#ifndef VSW_ACTIONS_H
#define VSW_ACTIONS_H 1

#include <stdint.h>
#include "vsw_flow.h"

enum vsw_action_type {
    VSW_ACTION_OUTPUT = 1,     /* arg: datapath port */
    VSW_ACTION_USERSPACE = 2,  /* arg: cookie length; payload: the cookie bytes */
    VSW_ACTION_PUSH_VLAN = 3,  /* arg: TPID << 16 | TCI (host order; TCI without CFI) */
    VSW_ACTION_POP_VLAN = 4,   /* no arg */
    VSW_ACTION_SET_MASKED = 5, /* payload: struct vsw_set_masked */
    VSW_ACTION_CLONE = 6,      /* payload: nested actions, run on a copy */
    VSW_ACTION_RECIRC = 7,     /* arg: recirc_id; the packet re-enters lookup */
    VSW_ACTION_HASH = 8,       /* arg: basis; sets dp_hash to an L4 5-tuple hash */
    VSW_ACTION_SAMPLE = 9,     /* arg: probability (UINT32_MAX = always); payload: nested */
    VSW_ACTION_TRUNC = 10,     /* arg: max length in bytes for the following outputs */
    VSW_ACTION_DROP = 11,      /* explicit drop: no arg */
};

struct vsw_action {
    uint16_t type;   /* enum vsw_action_type */
    uint16_t len;    /* bytes, header included, multiple of 8 */
    uint32_t arg;
};

/* Rewrites header fields: every key field whose mask bits are set takes those bits
 * from 'value'.  Supported fields: eth_src, eth_dst, ipv4_src, ipv4_dst, nw_tos,
 * nw_ttl (IPv4 and IPv6), ipv6_src, ipv6_dst, ipv6_label, tp_src, tp_dst (TCP, UDP,
 * SCTP), pkt_mark.  Checksums (IPv4 header, TCP/UDP) are updated. */
struct vsw_set_masked {
    struct vsw_flow_key value;
    struct vsw_flow_key mask;
};

#define VSW_ACTION_ALIGN 8
#define VSW_MAX_ACTIONS_LEN 65528
#define VSW_MAX_USERSPACE_COOKIE 256

#endif
