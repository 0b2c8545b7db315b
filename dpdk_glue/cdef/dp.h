/* vsw.h for cffi: the datapath core's control API (struct vsw_flow_key is in flow.h). */
#define VSW_MAX_PORTS 1024
#define VSW_UPCALL_MAX_PACKET 9216
#define VSW_FLOW_INFO_MAX_ACTIONS 1024
#define VSW_PUT_CREATE 1
#define VSW_PUT_MODIFY 2
#define VSW_PUT_ZERO_STATS 4
#define VSW_UPCALL_MISS 0
#define VSW_UPCALL_ACTION 1

const char *vsw_dpdk_version(void);
int vsw_init(int argc, char **argv, unsigned mbufs, char *err, size_t errlen);
int vsw_initialized(void);
int vsw_start_pmds(const unsigned *lcores, unsigned n, char *err, size_t errlen);
unsigned vsw_n_pmds(void);
void vsw_set_pmd_sleep(unsigned max_us);
void vsw_shutdown(void);

struct vsw_port_config {
    uint16_t n_rxq;
    uint16_t n_rxq_desc;
    uint16_t n_txq_desc;
    uint16_t mtu;
};

struct vsw_port_info {
    uint32_t port_no;
    uint16_t eth_port;
    uint16_t n_rxq, n_txq;
    uint16_t mtu;
    uint8_t mac[6];
    uint8_t link_up;
    uint8_t pad;
    uint32_t link_speed;
    char name[64];
    char driver[64];
};

struct vsw_port_stats {
    uint64_t rx_packets, rx_bytes, rx_dropped, rx_errors;
    uint64_t tx_packets, tx_bytes, tx_dropped, tx_errors;
    uint32_t n_rxq, n_txq;              /* queues with counters below (at most 16) */
    uint64_t rxq_packets[16], rxq_bytes[16];
    uint64_t txq_packets[16], txq_bytes[16];
};

int vsw_port_add(uint32_t port_no, const char *devargs, const struct vsw_port_config *cfg,
                 char *err, size_t errlen);
int vsw_port_del(uint32_t port_no, char *err, size_t errlen);
int vsw_port_info(uint32_t port_no, struct vsw_port_info *info);
int vsw_port_stats(uint32_t port_no, struct vsw_port_stats *stats);

struct vsw_flow_put {
    uint8_t ufid[16];
    struct vsw_flow_key key;
    struct vsw_flow_key mask;
    const uint8_t *actions;
    uint32_t actions_len;
    uint32_t flags;
    int32_t pmd;
    int32_t result;
};

struct vsw_flow_info {
    uint8_t ufid[16];
    struct vsw_flow_key key;
    struct vsw_flow_key mask;
    uint64_t packets, bytes;
    uint64_t used_ms;
    uint64_t created_ms;
    uint16_t tcp_flags;
    uint16_t pad;
    int32_t pmd;
    uint32_t actions_len;
    uint8_t actions[1024];
};

int vsw_flow_put(struct vsw_flow_put *puts, unsigned n);
int vsw_flow_del(const uint8_t *ufid, int pmd, struct vsw_flow_info *info);
int vsw_flow_get(const uint8_t *ufid, int pmd, struct vsw_flow_info *info);
int vsw_flow_dump(int pmd, struct vsw_flow_info *out, unsigned max, uint64_t *cursor);
int vsw_flow_flush(void);
uint64_t vsw_now_ms(void);

int vsw_execute(int pmd, uint32_t in_port, const uint8_t *packet, uint32_t len,
                const uint8_t *actions, uint32_t actions_len);

struct vsw_upcall {
    uint32_t type;
    uint32_t pmd;
    uint32_t len;
    uint32_t orig_len;
    uint32_t cookie_len;
    uint32_t pad;
    struct vsw_flow_key key;
    uint8_t cookie[256];
    uint8_t packet[9216];
};

int vsw_upcall_fd(void);
int vsw_upcall_recv(struct vsw_upcall *out, unsigned max);

struct vsw_pmd_stats {
    uint32_t id, lcore;
    uint64_t packets;
    uint64_t emc_hits;
    uint64_t megaflow_hits;
    uint64_t misses;
    uint64_t lost;
    uint64_t cycles_busy;
    uint64_t cycles_idle;
    uint64_t cycles_upcall;
    uint64_t n_rxqs;
    uint64_t n_flows;
};

int vsw_pmd_stats(struct vsw_pmd_stats *out, unsigned max);
void vsw_pmd_stats_clear(void);
uint64_t vsw_tsc_hz(void);
int vsw_mbufs_in_use(void);
