/* Datapath flow keys: the fields a megaflow can match (OVS's datapath key fields).
 *
 * A key is a fixed 128-byte structure, 16 64-bit words, so that a megaflow mask is
 * the same structure and masking, hashing and comparing are word loops.  Multi-byte
 * packet fields are kept in network byte order, exactly as they sit in the packet,
 * so extraction is copying and a mask applies bit for bit to header bytes.
 *
 * Fields that a packet does not have are zero.  The Python side (appliance/dpif/odp.py)
 * mirrors this layout; change both together.
 */
#ifndef VSW_FLOW_H
#define VSW_FLOW_H 1

#include <stdint.h>

#define VSW_FLOW_KEY_WORDS 16

/* vlan_tci: the 802.1Q TCI of the outermost tag, with VSW_VLAN_CFI set when a tag is
 * present (OVS's convention, so "no tag" and "tag with VID 0" differ). */
#define VSW_VLAN_CFI 0x1000

/* nw_frag bits (OVS's FLOW_NW_FRAG_ANY / FLOW_NW_FRAG_LATER). */
#define VSW_FRAG_ANY   0x01   /* IPv4 MF or offset != 0; IPv6 fragment header */
#define VSW_FRAG_LATER 0x02   /* not the first fragment: no L4 header */

struct vsw_flow_key {
    /* Metadata (host byte order). */
    uint32_t in_port;       /* datapath port number */
    uint32_t recirc_id;     /* 0 until a recirc action */
    uint32_t dp_hash;       /* set by the hash action */
    uint32_t pkt_mark;      /* OVS skb_mark */
    /* Ethernet, 802.1Q (network byte order). */
    uint8_t  eth_dst[6];
    uint8_t  eth_src[6];
    uint16_t eth_type;      /* inner EtherType after the VLAN tag; 0x05ff for 802.3 */
    uint16_t vlan_tci;      /* with VSW_VLAN_CFI (htons'd) when tagged, else 0 */
    /* IPv4 (also ARP sender/target protocol addresses). */
    uint32_t ipv4_src;
    uint32_t ipv4_dst;
    /* IPv6. */
    uint8_t  ipv6_src[16];
    uint8_t  ipv6_dst[16];
    uint32_t ipv6_label;    /* low 20 bits, network byte order */
    uint8_t  nw_proto;      /* IP protocol; ARP opcode (low byte) */
    uint8_t  nw_tos;        /* DSCP and ECN */
    uint8_t  nw_ttl;        /* TTL / hop limit */
    uint8_t  nw_frag;       /* VSW_FRAG_* */
    /* ARP hardware addresses; ICMPv6 ND source/target link-layer addresses. */
    uint8_t  arp_sha[6];
    uint8_t  arp_tha[6];
    /* Transport (network byte order).  ICMP/ICMPv6: tp_src = type, tp_dst = code
     * (each in the low byte, as htons(type)). */
    uint16_t tp_src;
    uint16_t tp_dst;
    uint16_t tcp_flags;     /* low 12 bits of the TCP offset/flags word */
    uint16_t pad0;
    uint8_t  nd_target[16]; /* ICMPv6 neighbour solicitation/advertisement target */
    uint8_t  pad1[12];
};

_Static_assert(sizeof(struct vsw_flow_key) == VSW_FLOW_KEY_WORDS * 8,
               "flow key must be 16 words");

/* Offsets at which a packet's headers were found, for actions that rewrite them;
 * VSW_OFS_NONE where a header is absent. */
#define VSW_OFS_NONE 0xffff
struct vsw_hdr_offsets {
    uint16_t vlan;   /* first 802.1Q tag (its TPID) */
    uint16_t l3;     /* IPv4/IPv6/ARP header */
    uint16_t l4;     /* TCP/UDP/SCTP/ICMP/ICMPv6 header */
    uint16_t pad;
};

/* Parses an Ethernet frame of 'len' bytes into '*key' (every byte of it written), with
 * 'in_port' as the input port and zero metadata, and, if 'off' is nonnull, the header
 * offsets into '*off'.  Never reads beyond 'len': a frame truncated inside a header
 * yields the fields before that header (OVS's miniflow_extract() does the same). */
void vsw_flow_extract(const uint8_t *data, uint32_t len, uint32_t in_port,
                      struct vsw_flow_key *key, struct vsw_hdr_offsets *off);

/* A hash of a whole key (for the exact-match cache), or of 'key' & 'mask' over the
 * words 'words[0..n_words)' (for a megaflow subtable). */
uint32_t vsw_flow_hash(const struct vsw_flow_key *key);
uint32_t vsw_flow_hash_masked(const struct vsw_flow_key *key, const struct vsw_flow_key *mask,
                              const uint8_t *words, unsigned n_words);

#endif
