/* Internal state of the datapath core, shared by dp.c (control: EAL, ports, PMD
 * threads, commands), pmd.c (the poll loop) and actions.c (action execution).
 *
 * Ownership: the control side (the Python reactor thread, through vsw.h) owns the
 * port table and creates PMDs; each PMD thread alone owns its classifier, EMC, flow
 * table, rx queue list and tx buffers.  The control side changes PMD-owned state only
 * by sending a command through the PMD's command ring and waiting for it to be done,
 * so nothing on the fast path takes a lock.
 */
#ifndef VSW_DP_H
#define VSW_DP_H 1

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <rte_mbuf.h>
#include <rte_ring.h>
#include <rte_spinlock.h>

#include "vsw.h"
#include "vsw_actions.h"
#include "vsw_classifier.h"
#include "vsw_flow.h"

#define VSW_BURST 32
#define VSW_MAX_RXQ_PER_PMD 64
#define VSW_MAX_TXQ 64
#define VSW_CMD_RING_SIZE 1024
#define VSW_UPCALL_RING_SIZE 4096
#define VSW_MAX_RECIRC_DEPTH 6

struct vsw_port {
    uint32_t port_no;
    uint16_t eth_port;            /* DPDK ethdev port id */
    uint16_t n_rxq, n_txq;
    bool txq_shared;              /* fewer tx queues than PMDs: lock them */
    rte_spinlock_t txq_lock[VSW_MAX_TXQ];
    char name[64];                /* the device name DPDK probed */
    char devargs[256];
    /* Software counters of packets the datapath dropped on tx (device full). */
    atomic_uint_fast64_t tx_dropped;
};

/* A megaflow as one PMD holds it. */
struct vsw_dpflow {
    uint8_t ufid[16];
    struct vsw_flow_key key;      /* masked */
    struct vsw_flow_key mask;
    uint8_t *actions;             /* owned; replaced (and freed) on modify */
    uint32_t actions_len;
    uint64_t packets, bytes;
    uint64_t used_tsc;            /* 0: never */
    uint64_t created_tsc;
    uint16_t tcp_flags;
    struct vsw_dpflow *ufid_next; /* chain in the PMD's ufid table */
};

struct vsw_rxq {
    uint32_t port_no;
    uint16_t eth_port;
    uint16_t qid;
    bool slow;                    /* polled once in VSW_SLOW_RXQ_ROUNDS rounds */
    uint64_t cycles;              /* written by the PMD: see vsw_rxq_info */
};

#define VSW_SLOW_RXQ_ROUNDS 64

/* OVS's "simple match", widened to Ethernet addresses: flows that decide untagged
 * packets by in_port plus at most the Ethernet addresses, the EtherType, the VLAN TCI
 * (untagged) and the IP fragment bits, and only output them. */
#define VSW_SIMPLE_MAX 8
struct vsw_simple {
    unsigned n;
    struct vsw_dpflow *flows[VSW_SIMPLE_MAX];
};

struct vsw_txbuf {
    uint16_t n;
    struct rte_mbuf *pkts[VSW_BURST];
};

struct vsw_pmd {
    unsigned id;
    unsigned lcore;
    atomic_bool stop;
    struct rte_ring *cmd_ring;    /* control -> PMD: struct vsw_cmd * */

    /* Owned by the PMD thread. */
    struct vsw_cls *cls;
    struct vsw_emc *emc;
    struct vsw_dpflow **ufid_buckets;
    uint32_t ufid_mask;           /* n_buckets - 1 */
    uint32_t n_flows;
    struct vsw_rxq rxqs[VSW_MAX_RXQ_PER_PMD];
    unsigned n_rxqs;
    struct vsw_txbuf *txbufs;     /* indexed by port_no */
    uint16_t dirty[VSW_MAX_PORTS]; /* ports whose txbuf holds packets */
    /* Per in_port, the simple flows (struct vsw_simple): packets they decide skip
     * key extraction, the EMC and the classifier. */
    struct vsw_simple simple[VSW_MAX_PORTS];
    unsigned round;               /* poll rounds, for slow rx queues */
    unsigned n_dirty;
    uint64_t next_rank_tsc;

    /* Counters, written by the PMD, read by anyone. */
    struct vsw_pmd_stats stats;
};

/* A request from the control side to one PMD.  The sender fills it in, enqueues it
 * and waits for 'done'; the PMD writes 'result' (and outputs) then sets 'done'. */
enum vsw_cmd_type {
    VSW_CMD_ADD_RXQ,
    VSW_CMD_DEL_PORT,
    VSW_CMD_FLOW_PUT,
    VSW_CMD_FLOW_DEL,
    VSW_CMD_FLOW_GET,
    VSW_CMD_FLOW_DUMP,
    VSW_CMD_FLOW_FLUSH,
    VSW_CMD_EXECUTE,
    VSW_CMD_SYNC,
};

struct vsw_cmd {
    enum vsw_cmd_type type;
    atomic_int done;
    int result;
    union {
        struct vsw_rxq rxq;
        uint32_t port_no;
        struct {
            struct vsw_flow_put *puts;
            unsigned n;
        } put;
        struct {
            const uint8_t *ufid;
            struct vsw_flow_info *info;    /* may be NULL (del) */
        } one;
        struct {
            struct vsw_flow_info *out;
            unsigned max;
            uint64_t cursor;               /* in: where to start; out: where to go on */
        } dump;
        struct {
            struct vsw_exec *execs;
            unsigned n;
        } exec;
    } u;
};

struct vsw_dp {
    bool initialized;
    struct rte_mempool *mbuf_pool;
    struct rte_mempool *upcall_pool;
    struct rte_ring *upcall_ring;  /* PMDs -> control: struct vsw_upcall * */
    int upcall_efd;
    /* Set by the control thread when it found the upcall ring empty: the next
     * enqueue must wake it (whoever clears it writes the eventfd). */
    atomic_bool upcall_armed;
    atomic_uint_fast64_t upcalls_lost;
    atomic_uint pmd_sleep_max_us;
    unsigned n_pmds;
    struct vsw_pmd *pmds[RTE_MAX_LCORE];
    struct vsw_port *ports[VSW_MAX_PORTS];
    uint64_t tsc_hz;
    uint64_t start_tsc;
};

extern struct vsw_dp vsw_dp;

/* dp.c: makes the upcall eventfd readable (wakes the control thread). */
void vsw_upcall_signal(void);

/* offload.c: answers the misses among 'ups[0..n)' that a table-0 offload speaks for
 * (vsw_offload.h): installs their megaflows and executes their packets before
 * returning; sets taken[i] for those, which the caller must not hand to Python. */
unsigned vsw_offload_take(struct vsw_upcall *const *ups, unsigned n, bool *taken);

/* pmd.c */
int vsw_pmd_main(void *pmd);
void vsw_pmd_run_command(struct vsw_pmd *, struct vsw_cmd *);
void vsw_pmd_flush_tx(struct vsw_pmd *);
/* Queues 'm' for transmission on 'port_no' (consumed). */
void vsw_pmd_tx(struct vsw_pmd *, uint32_t port_no, struct rte_mbuf *m);

/* actions.c: runs 'actions' on 'm' (consumed) received on 'key->in_port'. */
void vsw_actions_execute(struct vsw_pmd *, struct rte_mbuf *m, struct vsw_flow_key *key,
                         const uint8_t *actions, uint32_t actions_len, unsigned depth);
/* Queues an upcall of 'm' (not consumed); returns false if it was lost. */
bool vsw_upcall(struct vsw_pmd *, const struct rte_mbuf *m, const struct vsw_flow_key *key,
                uint32_t type, const uint8_t *cookie, uint32_t cookie_len);
/* The lookup-and-execute path for one packet (used by recirc and execute). */
void vsw_pmd_process_one(struct vsw_pmd *, struct rte_mbuf *m, struct vsw_flow_key *key,
                         unsigned depth);

#endif
