/* The datapath core's API to Python (cffi reads it preprocessed, see build_glue.py): coarse
 * operations only.  Every rte_* call stays behind it.
 *
 * Threads: call these from one control thread (the reactor).  The core's state is
 * self-contained: PMD threads never see Python objects, and all traffic between the
 * control thread and the PMDs crosses the core's rings (commands down, upcalls up), so
 * the core could later run in a process of its own.
 *
 * Errors: functions return 0 or a negative errno value; those taking 'err' also write
 * a one-line explanation there (NUL-terminated, truncated to 'errlen').
 */
#ifndef VSW_H
#define VSW_H 1

#include <stddef.h>
#include <stdint.h>

#include "vsw_actions.h"
#include "vsw_classifier.h"
#include "vsw_flow.h"
#include "vsw_ofc.h"
#include "vsw_offload.h"

#define VSW_MAX_PORTS 1024            /* datapath port numbers are 0..VSW_MAX_PORTS-1 */
#define VSW_UPCALL_MAX_PACKET 9216    /* longer packets are truncated in upcalls */
#define VSW_FLOW_INFO_MAX_ACTIONS 1024

/* "DPDK 22.11.x": the version of DPDK the core runs on. */
const char *vsw_dpdk_version(void);

/* Initialises DPDK's EAL with 'argv' (argv[0] is the program name), then the core:
 * mbuf and upcall pools, the upcall ring and its eventfd.  Once per process;
 * -EALREADY after a success.  'mbufs' is the mbuf pool size (0: a default). */
int vsw_init(int argc, char **argv, unsigned mbufs, char *err, size_t errlen);
int vsw_initialized(void);

/* Starts one PMD thread on each EAL worker lcore in 'lcores'. */
int vsw_start_pmds(const unsigned *lcores, unsigned n, char *err, size_t errlen);
unsigned vsw_n_pmds(void);

/* Lets idle PMDs sleep up to 'max_us' microseconds between polls (0: never, the
 * default: lowest latency).  Like OVS's pmd-maxsleep: saves a busy-polled core on
 * quiet links at the price of latency after an idle period. */
void vsw_set_pmd_sleep(unsigned max_us);

/* Stops PMDs, removes ports, releases DPDK (rte_eal_cleanup). */
void vsw_shutdown(void);

/* Ports. */
struct vsw_port_config {
    uint16_t n_rxq;          /* 0: 1 */
    uint16_t n_rxq_desc;     /* 0: 2048 */
    uint16_t n_txq_desc;     /* 0: 2048 */
    uint16_t mtu;            /* 0: leave the device's */
};

struct vsw_port_info {
    uint32_t port_no;
    uint16_t eth_port;
    uint16_t n_rxq, n_txq;
    uint16_t mtu;
    uint8_t mac[6];
    uint8_t link_up;
    uint8_t pad;
    uint32_t link_speed;     /* Mbps */
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

/* Probes 'devargs' (a PCI address or a vdev string such as
 * "net_pcap0,rx_pcap=in.pcap,tx_pcap=out.pcap"), configures and starts it, and
 * polls its rx queues on the PMDs (round-robin).  -EEXIST if 'port_no' is in use,
 * -EINVAL/-ENODEV for devargs DPDK rejects (the running ports are untouched). */
int vsw_port_add(uint32_t port_no, const char *devargs, const struct vsw_port_config *cfg,
                 char *err, size_t errlen);
/* Stops polling, then stops, closes and detaches the device.  -ENOENT if unknown. */
int vsw_port_del(uint32_t port_no, char *err, size_t errlen);
int vsw_port_info(uint32_t port_no, struct vsw_port_info *info);
int vsw_port_stats(uint32_t port_no, struct vsw_port_stats *stats);

/* Flows.  A megaflow is put on every PMD ('pmd' < 0) or one; each PMD keeps its own
 * copy and counters (as OVS's dpif-netdev does).  The mask must match in_port
 * exactly. */
#define VSW_PUT_CREATE 1      /* may create */
#define VSW_PUT_MODIFY 2      /* may replace the actions of an existing flow */
#define VSW_PUT_ZERO_STATS 4  /* on modify, zero the counters */

struct vsw_flow_put {
    uint8_t ufid[16];
    struct vsw_flow_key key;
    struct vsw_flow_key mask;
    const uint8_t *actions;
    uint32_t actions_len;
    uint32_t flags;
    int32_t pmd;
    int32_t result;          /* out: 0, -EEXIST, -ENOENT, -EINVAL, -ENOMEM (first PMD's) */
};

struct vsw_flow_info {
    uint8_t ufid[16];
    struct vsw_flow_key key;
    struct vsw_flow_key mask;
    uint64_t packets, bytes;
    uint64_t used_ms;        /* vsw_now_ms() clock; 0: never used */
    uint64_t created_ms;     /* same clock: when the flow was put (first PMD's) */
    uint16_t tcp_flags;
    uint16_t pad;
    int32_t pmd;
    uint32_t actions_len;    /* may exceed VSW_FLOW_INFO_MAX_ACTIONS: then truncated */
    uint8_t actions[VSW_FLOW_INFO_MAX_ACTIONS];
};

int vsw_flow_put(struct vsw_flow_put *puts, unsigned n);
/* Deletes by UFID on every PMD (pmd < 0) or one; 'info' (may be NULL) receives the
 * final counters summed over PMDs.  -ENOENT if no PMD had it. */
int vsw_flow_del(const uint8_t *ufid, int pmd, struct vsw_flow_info *info);
/* Counters summed over PMDs. */
int vsw_flow_get(const uint8_t *ufid, int pmd, struct vsw_flow_info *info);
/* Fills up to 'max' entries of one PMD's flows from '*cursor' (start at 0) and
 * advances it; returns the number filled, 0 at the end. */
int vsw_flow_dump(int pmd, struct vsw_flow_info *out, unsigned max, uint64_t *cursor);
int vsw_flow_flush(void);
uint64_t vsw_now_ms(void);

/* Sends 'packet' (received on 'in_port') through 'actions' on PMD 'pmd' (< 0: the
 * first), waiting until it has been processed.  Outputs are transmitted at once. */
int vsw_execute(int pmd, uint32_t in_port, const uint8_t *packet, uint32_t len,
                const uint8_t *actions, uint32_t actions_len);

/* One packet of vsw_execute_batch(): the arguments of vsw_execute() and its result. */
struct vsw_exec {
    const uint8_t *packet;
    const uint8_t *actions;
    uint32_t in_port;
    uint32_t len;
    uint32_t actions_len;
    int32_t result;          /* out: 0, -EINVAL, -ENOMEM or -EMSGSIZE, as vsw_execute() */
};

/* vsw_execute() for each of 'execs' in order, on PMD 'pmd' (< 0: the first), in one
 * round trip to the PMD: a failed packet does not stop the others.  Outputs are
 * transmitted when the batch is done (or whenever a port's burst buffer fills).
 * Returns 0, or -ENODEV/-EINVAL (no PMD, bad 'pmd') with no packet run. */
int vsw_execute_batch(int pmd, struct vsw_exec *execs, unsigned n);

/* Upcalls: a miss, or a userspace action. */
#define VSW_UPCALL_MISS 0
#define VSW_UPCALL_ACTION 1

struct vsw_upcall {
    uint32_t type;
    uint32_t pmd;
    uint32_t len;            /* bytes in 'packet' */
    uint32_t orig_len;       /* the packet's length before truncation */
    uint32_t cookie_len;
    uint32_t pad;
    struct vsw_flow_key key;
    uint8_t cookie[VSW_MAX_USERSPACE_COOKIE];
    uint8_t packet[VSW_UPCALL_MAX_PACKET];
};

/* An eventfd that becomes readable when upcalls are queued (read it to re-arm). */
int vsw_upcall_fd(void);
/* Moves up to 'max' queued upcalls into 'out'; returns how many. */
int vsw_upcall_recv(struct vsw_upcall *out, unsigned max);

struct vsw_pmd_stats {
    uint32_t id, lcore;
    uint64_t packets;        /* received from ports, plus executed */
    uint64_t emc_hits;
    uint64_t megaflow_hits;
    uint64_t misses;         /* upcalls queued for misses */
    uint64_t lost;           /* misses and userspace actions dropped (ring or pool full) */
    uint64_t cycles_busy;    /* TSC cycles in iterations that received packets */
    uint64_t cycles_idle;
    uint64_t cycles_upcall;  /* part of busy spent queuing upcalls */
    uint64_t n_rxqs;
    uint64_t n_flows;
};

int vsw_pmd_stats(struct vsw_pmd_stats *out, unsigned max);
void vsw_pmd_stats_clear(void);

/* An rx queue and the PMD thread that polls it (dpif-netdev/pmd-rxq-show). */
struct vsw_rxq_info {
    uint32_t port_no;
    uint16_t queue_id;
    uint16_t pad;
    uint32_t pmd;            /* the PMD's id (vsw_pmd_stats' 'id') */
    uint32_t lcore;          /* ... and lcore */
    uint64_t cycles;         /* TSC cycles its bursts took, since start or the last
                              * vsw_pmd_stats_clear(); the PMD's other busy cycles
                              * (transmit flushes, commands) belong to no queue */
};

/* Fills up to 'max' entries ('out' may be NULL if 'max' is 0) with the polled rx
 * queues, PMD by PMD in polling order; returns how many there are in all. */
int vsw_rxq_dump(struct vsw_rxq_info *out, unsigned max);
uint64_t vsw_tsc_hz(void);
/* mbufs currently allocated (for leak checks); -1 before vsw_init. */
int vsw_mbufs_in_use(void);

#endif
