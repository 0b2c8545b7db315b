/* Flow key extraction and hashing (include/vsw_flow.h, src/flow.c), for cffi. */
#define VSW_VLAN_CFI 0x1000
#define VSW_FRAG_ANY 0x01
#define VSW_FRAG_LATER 0x02
#define VSW_OFS_NONE 0xffff

struct vsw_flow_key {
    uint32_t in_port;
    uint32_t recirc_id;
    uint32_t dp_hash;
    uint32_t pkt_mark;
    uint8_t  eth_dst[6];
    uint8_t  eth_src[6];
    uint16_t eth_type;
    uint16_t vlan_tci;
    uint32_t ipv4_src;
    uint32_t ipv4_dst;
    uint8_t  ipv6_src[16];
    uint8_t  ipv6_dst[16];
    uint32_t ipv6_label;
    uint8_t  nw_proto;
    uint8_t  nw_tos;
    uint8_t  nw_ttl;
    uint8_t  nw_frag;
    uint8_t  arp_sha[6];
    uint8_t  arp_tha[6];
    uint16_t tp_src;
    uint16_t tp_dst;
    uint16_t tcp_flags;
    uint16_t pad0;
    uint8_t  nd_target[16];
    uint8_t  pad1[12];
};

struct vsw_hdr_offsets {
    uint16_t vlan;
    uint16_t l3;
    uint16_t l4;
    uint16_t pad;
};

void vsw_flow_extract(const uint8_t *data, uint32_t len, uint32_t in_port,
                      struct vsw_flow_key *key, struct vsw_hdr_offsets *off);
uint32_t vsw_flow_hash(const struct vsw_flow_key *key);
uint32_t vsw_flow_hash_masked(const struct vsw_flow_key *key,
                              const struct vsw_flow_key *mask,
                              const uint8_t *words, unsigned n_words);
