/* Flow key extraction and flow key hashing (vsw_flow.h).
 *
 * The PMD loop (pmd.c) calls vsw_flow_extract() on every received packet and then
 * looks the key up in the EMC with vsw_flow_hash() and in the megaflow subtables,
 * which hash with vsw_flow_hash_masked() (classifier.c); actions.c extracts again to
 * find headers to rewrite.  Parsing follows OVS's
 * miniflow_extract() (lib/flow.c) field for field, including its handling of short and
 * malformed headers, so that a megaflow installed by ofproto means what it would mean
 * in OVS.  tests/test_flow_extract.py checks the result against scapy's dissection.
 *
 * Choices where the key cannot hold everything OVS's miniflow can:
 *  - VLAN: one tag, like OVS with its default other_config:vlan-limit=1.  Behind a
 *    second tag eth_type is that tag's TPID (0x8100 or 0x88a8) and nothing further is
 *    parsed: the inner frame is payload.
 *  - No MPLS, NSH, IGMP group or ND reserved/option-type fields: those packets yield
 *    their L2 (MPLS, NSH) or L3 (IGMP) fields only.
 *  - Offsets: l3/l4 are set only when that header's fields were extracted, so an action
 *    rewriting a header through them can rely on the whole header being in the frame.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "vsw_flow.h"

#define LIKELY(x)   __builtin_expect(!!(x), 1)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)

/* Constants in network byte order, to compare against fields loaded as they are. */
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define BE16(x) ((uint16_t) (x))
#define BE32(x) ((uint32_t) (x))
#else
#define BE16(x) ((uint16_t) __builtin_bswap16(x))
#define BE32(x) ((uint32_t) __builtin_bswap32(x))
#endif

#define ETH_HEADER_LEN   14
#define VLAN_HEADER_LEN  4
#define LLC_SNAP_LEN     8
#define ETH_TYPE_MIN     0x0600
#define DL_TYPE_NONE     0x05ff   /* OVS's FLOW_DL_TYPE_NONE: 802.3 without SNAP */
#define ETH_TYPE_IP      0x0800
#define ETH_TYPE_ARP     0x0806
#define ETH_TYPE_RARP    0x8035
#define ETH_TYPE_VLAN    0x8100
#define ETH_TYPE_VLAN_AD 0x88a8
#define ETH_TYPE_IPV6    0x86dd

#define IP_HEADER_LEN    20
#define IPV6_HEADER_LEN  40
#define ARP_ETH_LEN      28
#define TCP_HEADER_LEN   20
#define UDP_HEADER_LEN   8
#define SCTP_HEADER_LEN  12
#define ICMP_HEADER_LEN  8
#define ICMP6_HEADER_LEN 8        /* type, code, checksum and the 4-byte data word */
#define ND_OPT_LEN_UNIT  8

#define IPPROTO_HOPOPTS_  0
#define IPPROTO_ICMP_     1
#define IPPROTO_TCP_      6
#define IPPROTO_UDP_      17
#define IPPROTO_ROUTING_  43
#define IPPROTO_FRAGMENT_ 44
#define IPPROTO_AH_       51
#define IPPROTO_ICMPV6_   58
#define IPPROTO_DSTOPTS_  60
#define IPPROTO_SCTP_     132

#define IPV6_EXT_HDRS ((1ULL << IPPROTO_HOPOPTS_) | (1ULL << IPPROTO_ROUTING_) \
                       | (1ULL << IPPROTO_FRAGMENT_) | (1ULL << IPPROTO_AH_)    \
                       | (1ULL << IPPROTO_DSTOPTS_))

#define ND_NEIGHBOR_SOLICIT 135
#define ND_NEIGHBOR_ADVERT  136
#define ND_OPT_SOURCE_LINKADDR 1
#define ND_OPT_TARGET_LINKADDR 2

/* Adjacent key fields that sit adjacently in the packet too are copied in one go. */
_Static_assert(offsetof(struct vsw_flow_key, eth_src)
               == offsetof(struct vsw_flow_key, eth_dst) + 6, "eth_dst, eth_src");
_Static_assert(offsetof(struct vsw_flow_key, ipv4_dst)
               == offsetof(struct vsw_flow_key, ipv4_src) + 4, "ipv4_src, ipv4_dst");
_Static_assert(offsetof(struct vsw_flow_key, ipv6_dst)
               == offsetof(struct vsw_flow_key, ipv6_src) + 16, "ipv6_src, ipv6_dst");
_Static_assert(offsetof(struct vsw_flow_key, tp_dst)
               == offsetof(struct vsw_flow_key, tp_src) + 2, "tp_src, tp_dst");

#define KEY_AT(key, field) ((uint8_t *) (key) + offsetof(struct vsw_flow_key, field))

/* Packet headers are not aligned (the IP header follows a 14-byte Ethernet header);
 * fixed-size memcpy compiles to a plain unaligned load. */
static inline uint16_t
load16(const uint8_t *p)
{
    uint16_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline uint32_t
load32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline uint16_t
ntoh16(uint16_t v)
{
    return BE16(v);
}

static inline uint32_t
ntoh32(uint32_t v)
{
    return BE32(v);
}

/* Zeroes the key and sets in_port with eight 16-byte stores.  GCC turns memset() of
 * the key, or a loop, into "rep stos" under the corei7 tuning, and its start-up cost
 * alone was half of our per-packet budget. */
typedef uint32_t vsw_v4u32 __attribute__((vector_size(16)));

static inline void
key_init(struct vsw_flow_key *key, uint32_t in_port)
{
    const vsw_v4u32 first = { in_port, 0, 0, 0 }, zero = { 0, 0, 0, 0 };
    uint8_t *p = (uint8_t *) key;

    _Static_assert(offsetof(struct vsw_flow_key, in_port) == 0, "in_port first");
    memcpy(p, &first, 16);
    memcpy(p + 16, &zero, 16);
    memcpy(p + 32, &zero, 16);
    memcpy(p + 48, &zero, 16);
    memcpy(p + 64, &zero, 16);
    memcpy(p + 80, &zero, 16);
    memcpy(p + 96, &zero, 16);
    memcpy(p + 112, &zero, 16);
}

static inline bool
eth_addr_is_zero(const uint8_t *ea)
{
    return !(load32(ea) | load16(ea + 4));
}

/* Transport headers.  'l4' has 'size' bytes, already trimmed to the IP payload length
 * so that Ethernet padding is never taken for header bytes.  OVS dispatches on the
 * protocol number alone (ICMP inside IPv6 is parsed as ICMP), and so do we. */
static inline void
parse_l4(const uint8_t *l4, uint32_t size, uint8_t proto, uint32_t l4_ofs,
         struct vsw_flow_key *key, struct vsw_hdr_offsets *ofs)
{
    if (LIKELY(proto == IPPROTO_TCP_)) {
        if (LIKELY(size >= TCP_HEADER_LEN)) {
            uint32_t hlen = (uint32_t) (l4[12] >> 4) * 4;
            /* OVS wants the options too: a header cut inside them is no header. */
            if (LIKELY(hlen >= TCP_HEADER_LEN && size >= hlen)) {
                memcpy(KEY_AT(key, tp_src), l4, 4);
                key->tcp_flags = load16(l4 + 12) & BE16(0x0fff);
                ofs->l4 = (uint16_t) l4_ofs;
            }
        }
    } else if (LIKELY(proto == IPPROTO_UDP_)) {
        if (LIKELY(size >= UDP_HEADER_LEN)) {
            memcpy(KEY_AT(key, tp_src), l4, 4);
            ofs->l4 = (uint16_t) l4_ofs;
        }
    } else if (proto == IPPROTO_SCTP_) {
        if (LIKELY(size >= SCTP_HEADER_LEN)) {
            memcpy(KEY_AT(key, tp_src), l4, 4);
            ofs->l4 = (uint16_t) l4_ofs;
        }
    } else if (proto == IPPROTO_ICMP_) {
        if (LIKELY(size >= ICMP_HEADER_LEN)) {
            key->tp_src = BE16((uint16_t) l4[0]);
            key->tp_dst = BE16((uint16_t) l4[1]);
            ofs->l4 = (uint16_t) l4_ofs;
        }
    } else if (proto == IPPROTO_ICMPV6_) {
        if (UNLIKELY(size < ICMP6_HEADER_LEN)) {
            return;
        }
        uint8_t type = l4[0], code = l4[1];
        key->tp_src = BE16((uint16_t) type);
        key->tp_dst = BE16((uint16_t) code);
        ofs->l4 = (uint16_t) l4_ofs;
        if (code != 0 || (type != ND_NEIGHBOR_SOLICIT && type != ND_NEIGHBOR_ADVERT)) {
            return;
        }

        /* Neighbour discovery: target, then TLV options in units of 8 bytes. */
        uint32_t pos = ICMP6_HEADER_LEN;
        if (size - pos < 16) {
            return;
        }
        memcpy(key->nd_target, l4 + pos, 16);
        pos += 16;
        while (size - pos >= ND_OPT_LEN_UNIT) {
            uint8_t opt_type = l4[pos];
            uint32_t opt_len = (uint32_t) l4[pos + 1] * ND_OPT_LEN_UNIT;
            if (!opt_len || opt_len > size - pos) {
                break;          /* malformed: keep what we have, as OVS does */
            }
            if (opt_len == ND_OPT_LEN_UNIT
                && (opt_type == ND_OPT_SOURCE_LINKADDR
                    || opt_type == ND_OPT_TARGET_LINKADDR)) {
                uint8_t *lla = opt_type == ND_OPT_SOURCE_LINKADDR ? key->arp_sha
                                                                  : key->arp_tha;
                if (UNLIKELY(!eth_addr_is_zero(lla))) {
                    /* The same option twice makes the packet invalid ND for OVS:
                     * it then matches on neither target nor addresses. */
                    memset(key->nd_target, 0, sizeof key->nd_target);
                    memset(key->arp_sha, 0, sizeof key->arp_sha);
                    memset(key->arp_tha, 0, sizeof key->arp_tha);
                    return;
                }
                memcpy(lla, l4 + pos + 2, 6);
            }
            pos += opt_len;
        }
    }
}

/* IPv6 extension headers, from 'pos' up to 'end' (the payload length's end).  Returns
 * false if a header runs past 'end'; OVS then keeps the addresses only. */
static inline bool
parse_ipv6_ext_hdrs(const uint8_t *data, uint32_t *posp, uint32_t end, uint8_t *protop,
                    uint8_t *fragp)
{
    uint32_t pos = *posp;
    uint8_t proto = *protop;

    while (UNLIKELY(proto < 64 && ((1ULL << proto) & IPV6_EXT_HDRS))) {
        /* Every extension header is at least 8 bytes; what we read lies in those. */
        if (end - pos < 8) {
            return false;
        }
        const uint8_t *eh = data + pos;
        uint32_t hlen;
        if (proto == IPPROTO_FRAGMENT_) {
            uint16_t offlg = load16(eh + 2);
            proto = eh[0];
            pos += 8;
            /* Offset 0 without M (an atomic fragment) is not a fragment for OVS. */
            if (offlg != 0) {
                *fragp = VSW_FRAG_ANY;
                if (offlg & BE16(0xfff8)) {
                    /* Only the first fragment carries the upper-layer header. */
                    *fragp |= VSW_FRAG_LATER;
                    proto = IPPROTO_FRAGMENT_;
                    break;
                }
            }
            continue;
        }
        hlen = proto == IPPROTO_AH_ ? ((uint32_t) eh[1] + 2) * 4
                                    : ((uint32_t) eh[1] + 1) * 8;
        proto = eh[0];
        if (hlen > end - pos) {
            return false;
        }
        pos += hlen;
    }
    *posp = pos;
    *protop = proto;
    return true;
}

static inline void
parse_l3(const uint8_t *data, uint32_t len, uint32_t pos, uint16_t dl_type,
         struct vsw_flow_key *key, struct vsw_hdr_offsets *ofs)
{
    uint32_t size = len - pos;
    const uint8_t *nh = data + pos;

    if (LIKELY(dl_type == BE16(ETH_TYPE_IP))) {
        if (UNLIKELY(size < IP_HEADER_LEN)) {
            return;
        }
        uint32_t ihl = (uint32_t) (nh[0] & 0x0f) * 4;
        uint32_t tot_len = ntoh16(load16(nh + 2));
        /* OVS's ipv4_sanity_check(): the whole datagram must be there, so a frame
         * cut anywhere before the end of the IP payload yields no L3 fields. */
        if (UNLIKELY(ihl < IP_HEADER_LEN || tot_len > size || ihl > tot_len
                     || size - tot_len > UINT16_MAX)) {
            return;
        }
        memcpy(KEY_AT(key, ipv4_src), nh + 12, 8);
        key->nw_tos = nh[1];
        key->nw_ttl = nh[8];
        key->nw_proto = nh[9];
        ofs->l3 = (uint16_t) pos;

        uint16_t frag_off = load16(nh + 6);
        if (UNLIKELY(frag_off & BE16(0x3fff))) {        /* MF or offset */
            key->nw_frag = VSW_FRAG_ANY;
            if (frag_off & BE16(0x1fff)) {
                key->nw_frag = VSW_FRAG_ANY | VSW_FRAG_LATER;
                return;
            }
        }
        parse_l4(nh + ihl, tot_len - ihl, nh[9], pos + ihl, key, ofs);
    } else if (dl_type == BE16(ETH_TYPE_IPV6)) {
        if (UNLIKELY(size < IPV6_HEADER_LEN)) {
            return;
        }
        uint32_t plen = ntoh16(load16(nh + 4));
        if (UNLIKELY(plen + IPV6_HEADER_LEN > size
                     || size - (plen + IPV6_HEADER_LEN) > UINT16_MAX)) {
            return;
        }
        memcpy(KEY_AT(key, ipv6_src), nh + 8, 32);
        ofs->l3 = (uint16_t) pos;

        uint32_t l4_pos = pos + IPV6_HEADER_LEN;
        uint32_t end = l4_pos + plen;
        uint8_t proto = nh[6];
        uint8_t frag = 0;
        if (UNLIKELY(!parse_ipv6_ext_hdrs(data, &l4_pos, end, &proto, &frag))) {
            return;
        }
        uint32_t vtc_flow = load32(nh);
        key->ipv6_label = vtc_flow & BE32(0x000fffff);
        key->nw_tos = (uint8_t) (ntoh32(vtc_flow) >> 20);
        key->nw_ttl = nh[7];
        key->nw_proto = proto;
        key->nw_frag = frag;
        if (UNLIKELY(frag & VSW_FRAG_LATER)) {
            return;
        }
        parse_l4(data + l4_pos, end - l4_pos, proto, l4_pos, key, ofs);
    } else if (dl_type == BE16(ETH_TYPE_ARP) || dl_type == BE16(ETH_TYPE_RARP)) {
        /* Only Ethernet/IPv4 ARP has the layout the key describes. */
        if (UNLIKELY(size < ARP_ETH_LEN)
            || load16(nh) != BE16(1) || load16(nh + 2) != BE16(ETH_TYPE_IP)
            || nh[4] != 6 || nh[5] != 4) {
            return;
        }
        uint16_t op = load16(nh + 6);
        /* The key has room for the opcode's low byte only; OVS leaves larger ones 0. */
        if (LIKELY(ntoh16(op) <= 0xff)) {
            key->nw_proto = (uint8_t) ntoh16(op);
        }
        memcpy(key->arp_sha, nh + 8, 6);
        memcpy(&key->ipv4_src, nh + 14, 4);
        memcpy(key->arp_tha, nh + 18, 6);
        memcpy(&key->ipv4_dst, nh + 24, 4);
        ofs->l3 = (uint16_t) pos;
    }
}

void
vsw_flow_extract(const uint8_t *data, uint32_t len, uint32_t in_port,
                 struct vsw_flow_key *key, struct vsw_hdr_offsets *off)
{
    struct vsw_hdr_offsets ofs = { VSW_OFS_NONE, VSW_OFS_NONE, VSW_OFS_NONE, 0 };

    /* Zero first: absent fields and the padding must be 0, the key being compared and
     * hashed as words. */
    key_init(key, in_port);

    /* OVS extracts nothing, not even the addresses, from a runt Ethernet header. */
    if (LIKELY(len >= ETH_HEADER_LEN)) {
        memcpy(KEY_AT(key, eth_dst), data, 12);

        uint32_t pos = 12;
        uint16_t type = load16(data + pos);
        /* A tag counts only if the EtherType after it is in the frame too. */
        if (UNLIKELY(type == BE16(ETH_TYPE_VLAN) || type == BE16(ETH_TYPE_VLAN_AD))
            && LIKELY(len >= ETH_HEADER_LEN + VLAN_HEADER_LEN)) {
            key->vlan_tci = load16(data + 14) | BE16(VSW_VLAN_CFI);
            ofs.vlan = 12;
            pos += VLAN_HEADER_LEN;
            type = load16(data + pos);
        }
        pos += 2;

        if (UNLIKELY(ntoh16(type) < ETH_TYPE_MIN)) {
            /* 802.3 length field.  Only LLC+SNAP with an Ethernet OUI carries an
             * EtherType; anything else is OVS's "no EtherType", 0x05ff. */
            const uint8_t *llc = data + pos;
            type = BE16(DL_TYPE_NONE);
            if (len - pos >= LLC_SNAP_LEN
                && llc[0] == 0xaa && llc[1] == 0xaa && llc[2] == 0x03
                && llc[3] == 0 && llc[4] == 0 && llc[5] == 0
                && ntoh16(load16(llc + 6)) >= ETH_TYPE_MIN) {
                type = load16(llc + 6);
                pos += LLC_SNAP_LEN;
            }
        }
        key->eth_type = type;

        parse_l3(data, len, pos, type, key, &ofs);
    }

    if (off) {
        *off = ofs;
    }
}

/* Hashing.  CRC32C is one instruction per 64-bit word on SSE4.2 but only linear, so
 * independent lanes (for throughput) are combined and then put through a multiplying
 * finalizer, whose output bits all depend on all input bits (the EMC indexes by the
 * low bits, the subtables by whatever their size needs). */

static inline uint64_t
key_word(const struct vsw_flow_key *key, unsigned i)
{
    uint64_t w;
    memcpy(&w, (const uint8_t *) key + (size_t) i * 8, sizeof w);
    return w;
}

#if defined(__SSE4_2__)
static inline uint32_t
hash_step(uint32_t h, uint64_t w)
{
    return (uint32_t) __builtin_ia32_crc32di(h, w);
}
#else
/* Portable stand-in for builds without SSE4.2 (not the appliance's). */
static inline uint32_t
hash_step(uint32_t h, uint64_t w)
{
    uint64_t x = (w ^ ((uint64_t) h << 32 | h)) * 0x9e3779b97f4a7c15ULL;
    return (uint32_t) (x >> 32) ^ (uint32_t) x;
}
#endif

/* MurmurHash3's 64-bit finalizer. */
static inline uint64_t
fmix64(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

static inline uint32_t
hash_finish(uint32_t a, uint32_t b, uint32_t c, uint32_t d)
{
    uint64_t x = (uint64_t) a << 32 | b;
    uint64_t y = (uint64_t) c << 32 | d;
    return (uint32_t) (fmix64(x ^ (y * 0x9e3779b97f4a7c15ULL)) >> 32);
}

/* Hashing a key straight after extracting it costs a store-forwarding stall (about 13
 * cycles measured): these 8-byte loads span the narrower stores of the fields.  A PMD
 * loop that extracts a burst before hashing it does not pay it. */
uint32_t
vsw_flow_hash(const struct vsw_flow_key *key)
{
    uint32_t a = 0x01234567, b = 0x89abcdef, c = 0xfedcba98, d = 0x76543210;

    for (unsigned i = 0; i < VSW_FLOW_KEY_WORDS; i += 4) {
        a = hash_step(a, key_word(key, i));
        b = hash_step(b, key_word(key, i + 1));
        c = hash_step(c, key_word(key, i + 2));
        d = hash_step(d, key_word(key, i + 3));
    }
    return hash_finish(a, b, c, d);
}

uint32_t
vsw_flow_hash_masked(const struct vsw_flow_key *key, const struct vsw_flow_key *mask,
                     const uint8_t *words, unsigned n_words)
{
    uint32_t a = 0x01234567, b = 0x89abcdef;
    unsigned i;

    /* Word indexes are reduced mod 16 so that a bad list cannot read outside the
     * keys; it costs one AND per word. */
    for (i = 0; i + 1 < n_words; i += 2) {
        unsigned w0 = words[i] & (VSW_FLOW_KEY_WORDS - 1);
        unsigned w1 = words[i + 1] & (VSW_FLOW_KEY_WORDS - 1);
        a = hash_step(a, key_word(key, w0) & key_word(mask, w0));
        b = hash_step(b, key_word(key, w1) & key_word(mask, w1));
    }
    if (i < n_words) {
        unsigned w0 = words[i] & (VSW_FLOW_KEY_WORDS - 1);
        a = hash_step(a, key_word(key, w0) & key_word(mask, w0));
    }
    return hash_finish(a, b, 0, n_words);
}
