/* The control side of the datapath core: EAL initialisation, ports, PMD threads, and
 * the commands through which the control thread reaches PMD-owned state.
 *
 * Everything here runs on the control thread (vsw.h's contract).  Commands are
 * synchronous: the control thread enqueues a command on a PMD's ring and waits for
 * the PMD to mark it done between two bursts, so PMDs never block on a lock and the
 * control thread waits at most one PMD iteration.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <rte_bus_vdev.h>
#include <rte_cycles.h>
#include <rte_dev.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_log.h>
#include <rte_malloc.h>
#include <rte_mempool.h>
#include <rte_pause.h>
#include <rte_version.h>

#include "vsw_dp.h"

struct vsw_dp vsw_dp;

/* OVS's shared mempool sizing: try 256k mbufs, halve on failure down to 16k (a
 * net_pcap replay port needs one mbuf per packet of its file). */
#define DEFAULT_MBUFS 262143
#define MIN_MBUFS 16383
#define UPCALL_POOL_SIZE 1023

static int
fail(char *err, size_t errlen, int error, const char *fmt, ...)
{
    if (err && errlen) {
        va_list args;
        va_start(args, fmt);
        vsnprintf(err, errlen, fmt, args);
        va_end(args);
    }
    return error < 0 ? error : -error;
}

const char *
vsw_dpdk_version(void)
{
    return rte_version();
}

int
vsw_initialized(void)
{
    return vsw_dp.initialized;
}

uint64_t
vsw_tsc_hz(void)
{
    return vsw_dp.tsc_hz;
}

uint64_t
vsw_now_ms(void)
{
    if (!vsw_dp.initialized) {
        return 0;
    }
    return (rte_get_tsc_cycles() - vsw_dp.start_tsc) * 1000 / vsw_dp.tsc_hz + 1;
}

int
vsw_init(int argc, char **argv, unsigned mbufs, char *err, size_t errlen)
{
    if (vsw_dp.initialized) {
        return fail(err, errlen, EALREADY, "DPDK is already initialised");
    }
    /* rte_eal_init() may permute argv; give it a copy. */
    char **args = calloc((size_t) argc + 1, sizeof *args);
    if (!args) {
        return fail(err, errlen, ENOMEM, "out of memory");
    }
    memcpy(args, argv, (size_t) argc * sizeof *args);
    /* DPDK explains init failures only in its log: capture it to tell the caller why. */
    char *log = NULL;
    size_t log_len = 0;
    FILE *capture = open_memstream(&log, &log_len);
    if (capture) {
        rte_openlog_stream(capture);
    }
    /* EAL pins the calling thread to the main lcore's CPU.  That thread is the
     * control plane (the reactor) and everything it forks: give it back the CPUs it
     * had, as OVS does for its main thread, so only PMDs own their cores. */
    cpu_set_t affinity;
    int have_affinity = !pthread_getaffinity_np(pthread_self(), sizeof affinity, &affinity);
    int ret = rte_eal_init(argc, args);
    int eal_errno = rte_errno;
    if (have_affinity) {
        pthread_setaffinity_np(pthread_self(), sizeof affinity, &affinity);
    }
    free(args);
    char reason[256] = "";
    if (capture) {
        rte_openlog_stream(NULL);
        fclose(capture);
        if (log) {
            fputs(log, stderr);   /* still logged, just later */
            for (char *line = strtok(log, "\n"); line; line = strtok(NULL, "\n")) {
                if (line[0]) {
                    snprintf(reason, sizeof reason, "%s", line);
                }
            }
            free(log);
        }
    }
    if (ret < 0) {
        int e = eal_errno ? eal_errno : EINVAL;
        return fail(err, errlen, e, "DPDK EAL initialisation failed: %s%s%s%s",
                    reason, reason[0] ? " (" : "", rte_strerror(e), reason[0] ? ")" : "");
    }

    vsw_dp.tsc_hz = rte_get_tsc_hz();
    vsw_dp.start_tsc = rte_get_tsc_cycles();
    for (unsigned n = mbufs ? mbufs : DEFAULT_MBUFS; !vsw_dp.mbuf_pool; n /= 2) {
        vsw_dp.mbuf_pool = rte_pktmbuf_pool_create("vsw_mbuf", n, 256, 0,
                                                   RTE_MBUF_DEFAULT_BUF_SIZE,
                                                   (int) rte_socket_id());
        if (mbufs || n / 2 < MIN_MBUFS) {
            break;
        }
    }
    if (!vsw_dp.mbuf_pool) {
        return fail(err, errlen, rte_errno, "cannot create the mbuf pool: %s",
                    rte_strerror(rte_errno));
    }
    vsw_dp.upcall_pool = rte_mempool_create("vsw_upcall", UPCALL_POOL_SIZE,
                                            sizeof(struct vsw_upcall), 32, 0,
                                            NULL, NULL, NULL, NULL,
                                            (int) rte_socket_id(), 0);
    if (!vsw_dp.upcall_pool) {
        return fail(err, errlen, rte_errno, "cannot create the upcall pool: %s",
                    rte_strerror(rte_errno));
    }
    vsw_dp.upcall_ring = rte_ring_create("vsw_upcalls", VSW_UPCALL_RING_SIZE,
                                         (int) rte_socket_id(), RING_F_SC_DEQ);
    if (!vsw_dp.upcall_ring) {
        return fail(err, errlen, rte_errno, "cannot create the upcall ring: %s",
                    rte_strerror(rte_errno));
    }
    vsw_dp.upcall_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (vsw_dp.upcall_efd < 0) {
        return fail(err, errlen, errno, "eventfd: %s", strerror(errno));
    }
    atomic_store(&vsw_dp.upcall_armed, true);
    vsw_dp.initialized = true;
    return 0;
}

static struct vsw_pmd *
pmd_create(unsigned id, unsigned lcore)
{
    struct vsw_pmd *pmd = rte_zmalloc("vsw_pmd", sizeof *pmd, RTE_CACHE_LINE_SIZE);
    if (!pmd) {
        return NULL;
    }
    char name[RTE_RING_NAMESIZE];
    snprintf(name, sizeof name, "vsw_cmd%u", id);
    pmd->id = id;
    pmd->lcore = lcore;
    pmd->stats.id = id;
    pmd->stats.lcore = lcore;
    pmd->cmd_ring = rte_ring_create(name, VSW_CMD_RING_SIZE, (int) rte_socket_id(),
                                    RING_F_SP_ENQ | RING_F_SC_DEQ);
    pmd->cls = vsw_cls_create();
    pmd->emc = vsw_emc_create(8192, 100);
    pmd->ufid_mask = 1023;
    pmd->ufid_buckets = calloc(pmd->ufid_mask + 1, sizeof *pmd->ufid_buckets);
    pmd->txbufs = calloc(VSW_MAX_PORTS, sizeof *pmd->txbufs);
    if (!pmd->cmd_ring || !pmd->cls || !pmd->emc || !pmd->ufid_buckets || !pmd->txbufs) {
        rte_ring_free(pmd->cmd_ring);
        if (pmd->cls) {
            vsw_cls_destroy(pmd->cls);
        }
        if (pmd->emc) {
            vsw_emc_destroy(pmd->emc);
        }
        free(pmd->ufid_buckets);
        free(pmd->txbufs);
        rte_free(pmd);
        return NULL;
    }
    return pmd;
}

int
vsw_start_pmds(const unsigned *lcores, unsigned n, char *err, size_t errlen)
{
    if (!vsw_dp.initialized) {
        return fail(err, errlen, ENODEV, "DPDK is not initialised");
    }
    for (unsigned i = 0; i < n; i++) {
        unsigned lcore = lcores[i];
        if (lcore >= RTE_MAX_LCORE || !rte_lcore_is_enabled(lcore)
            || lcore == rte_get_main_lcore()) {
            return fail(err, errlen, EINVAL,
                        "lcore %u is not an EAL worker lcore (check the lcore mask)", lcore);
        }
        if (rte_eal_get_lcore_state(lcore) != WAIT) {
            return fail(err, errlen, EBUSY, "lcore %u already runs a PMD", lcore);
        }
        struct vsw_pmd *pmd = pmd_create(vsw_dp.n_pmds, lcore);
        if (!pmd) {
            return fail(err, errlen, ENOMEM, "cannot allocate PMD for lcore %u", lcore);
        }
        vsw_dp.pmds[vsw_dp.n_pmds++] = pmd;
        int ret = rte_eal_remote_launch(vsw_pmd_main, pmd, lcore);
        if (ret) {
            vsw_dp.n_pmds--;
            return fail(err, errlen, ret, "cannot launch PMD on lcore %u", lcore);
        }
    }
    return 0;
}

void
vsw_set_pmd_sleep(unsigned max_us)
{
    atomic_store(&vsw_dp.pmd_sleep_max_us, max_us);
}

unsigned
vsw_n_pmds(void)
{
    return vsw_dp.n_pmds;
}

/* Runs 'cmd' on 'pmd' and waits for it. */
static int
pmd_command(struct vsw_pmd *pmd, struct vsw_cmd *cmd)
{
    atomic_store(&cmd->done, 0);
    while (rte_ring_enqueue(pmd->cmd_ring, cmd)) {
        rte_pause();
    }
    unsigned spins = 0;
    while (!atomic_load_explicit(&cmd->done, memory_order_acquire)) {
        if (++spins > 1000) {
            /* A PMD answers within one iteration; don't burn the control core. */
            usleep(5);
        } else {
            rte_pause();
        }
    }
    return cmd->result;
}

/* -- ports -- */

static void
device_name(const char *devargs, char *name, size_t size)
{
    size_t n = strcspn(devargs, ",");
    if (n >= size) {
        n = size - 1;
    }
    memcpy(name, devargs, n);
    name[n] = '\0';
}

static int
port_find_ethdev(const char *name, uint16_t *eth_port)
{
    if (!rte_eth_dev_get_port_by_name(name, eth_port)) {
        return 0;
    }
    /* PCI devices may be named in another form (0000:00:01.0 vs 00:01.0). */
    uint16_t id;
    RTE_ETH_FOREACH_DEV(id) {
        struct rte_eth_dev_info info;
        if (!rte_eth_dev_info_get(id, &info) && info.device
            && strstr(rte_dev_name(info.device), name)) {
            *eth_port = id;
            return 0;
        }
    }
    return -ENODEV;
}

static bool
port_has_driver(uint16_t eth_port, const char *driver)
{
    struct rte_eth_dev_info info;
    return !rte_eth_dev_info_get(eth_port, &info) && info.driver_name
           && !strcmp(info.driver_name, driver);
}

/* Kernel tap devices cost a read() system call per poll: OVS polls such ports from
 * its main thread, we poll them one PMD round in VSW_SLOW_RXQ_ROUNDS. */
static bool
port_is_slow(uint16_t eth_port)
{
    return port_has_driver(eth_port, "net_tap");
}

/* net_af_packet (DPDK 22.11) sets up each queue's receive ring on a socket open to
 * every protocol on every interface and only then binds it to its interface, so the
 * ring can hold frames that other interfaces carried meanwhile.  Taken as received on
 * the new port they would be forwarded twice and, worse, teach NORMAL that their
 * senders live behind this port.  Nothing polls the port yet: discard them. */
static void
port_discard_stale_rx(uint16_t eth_port, uint16_t n_rxq)
{
    if (!port_has_driver(eth_port, "net_af_packet")) {
        return;
    }
    struct rte_mbuf *pkts[32];
    for (uint16_t q = 0; q < n_rxq; q++) {
        uint16_t n;
        while ((n = rte_eth_rx_burst(eth_port, q, pkts, 32)) > 0) {
            rte_pktmbuf_free_bulk(pkts, n);
        }
    }
    rte_eth_stats_reset(eth_port);   /* they were never the port's traffic */
}

int
vsw_port_add(uint32_t port_no, const char *devargs, const struct vsw_port_config *cfg,
             char *err, size_t errlen)
{
    if (!vsw_dp.initialized) {
        return fail(err, errlen, ENODEV, "DPDK is not initialised");
    }
    if (port_no >= VSW_MAX_PORTS) {
        return fail(err, errlen, EINVAL, "port number %u out of range", port_no);
    }
    if (vsw_dp.ports[port_no]) {
        return fail(err, errlen, EEXIST, "port number %u is in use", port_no);
    }
    char name[64];
    device_name(devargs, name, sizeof name);
    uint16_t eth_port;
    if (!port_find_ethdev(name, &eth_port)) {
        for (unsigned i = 0; i < VSW_MAX_PORTS; i++) {
            if (vsw_dp.ports[i] && vsw_dp.ports[i]->eth_port == eth_port) {
                return fail(err, errlen, EEXIST, "device %s is already port %u", name, i);
            }
        }
    } else {
        int ret = rte_dev_probe(devargs);
        if (ret < 0) {
            return fail(err, errlen, ret, "cannot attach device \"%s\": %s", devargs,
                        rte_strerror(-ret));
        }
        if (port_find_ethdev(name, &eth_port)) {
            return fail(err, errlen, ENODEV, "\"%s\" attached but is not an ethdev", devargs);
        }
    }

    struct rte_eth_dev_info info;
    int ret = rte_eth_dev_info_get(eth_port, &info);
    if (ret) {
        return fail(err, errlen, ret, "%s: cannot get device info: %s", name,
                    rte_strerror(-ret));
    }
    uint16_t n_rxq = cfg && cfg->n_rxq ? cfg->n_rxq : 1;
    if (n_rxq > info.max_rx_queues) {
        n_rxq = info.max_rx_queues;
    }
    uint16_t n_txq = vsw_dp.n_pmds ? (uint16_t) vsw_dp.n_pmds : 1;
    if (n_txq > info.max_tx_queues) {
        n_txq = info.max_tx_queues;
    }
    if (n_txq > VSW_MAX_TXQ) {
        n_txq = VSW_MAX_TXQ;
    }
    uint16_t rx_desc = cfg && cfg->n_rxq_desc ? cfg->n_rxq_desc : 2048;
    uint16_t tx_desc = cfg && cfg->n_txq_desc ? cfg->n_txq_desc : 2048;
    rte_eth_dev_adjust_nb_rx_tx_desc(eth_port, &rx_desc, &tx_desc);

    struct rte_eth_conf conf;
    memset(&conf, 0, sizeof conf);
    ret = rte_eth_dev_configure(eth_port, n_rxq, n_txq, &conf);
    if (ret < 0) {
        goto detach_fail;
    }
    if (cfg && cfg->mtu) {
        ret = rte_eth_dev_set_mtu(eth_port, cfg->mtu);
        if (ret < 0) {
            goto detach_fail;
        }
    }
    int dev_socket = rte_eth_dev_socket_id(eth_port);
    unsigned socket = dev_socket < 0 ? (unsigned) SOCKET_ID_ANY : (unsigned) dev_socket;
    for (uint16_t q = 0; q < n_rxq; q++) {
        ret = rte_eth_rx_queue_setup(eth_port, q, rx_desc, socket, NULL, vsw_dp.mbuf_pool);
        if (ret < 0) {
            goto detach_fail;
        }
    }
    for (uint16_t q = 0; q < n_txq; q++) {
        ret = rte_eth_tx_queue_setup(eth_port, q, tx_desc, socket, NULL);
        if (ret < 0) {
            goto detach_fail;
        }
    }
    ret = rte_eth_dev_start(eth_port);
    if (ret < 0) {
        goto detach_fail;
    }
    /* A switch port must see every frame, as OVS's netdev-dpdk does. */
    rte_eth_promiscuous_enable(eth_port);
    port_discard_stale_rx(eth_port, n_rxq);

    struct vsw_port *port = rte_zmalloc("vsw_port", sizeof *port, RTE_CACHE_LINE_SIZE);
    if (!port) {
        rte_eth_dev_stop(eth_port);
        ret = -ENOMEM;
        goto detach_fail;
    }
    port->port_no = port_no;
    port->eth_port = eth_port;
    port->n_rxq = n_rxq;
    port->n_txq = n_txq;
    port->txq_shared = n_txq < (vsw_dp.n_pmds ? vsw_dp.n_pmds : 1);
    for (unsigned i = 0; i < VSW_MAX_TXQ; i++) {
        rte_spinlock_init(&port->txq_lock[i]);
    }
    snprintf(port->name, sizeof port->name, "%s", name);
    snprintf(port->devargs, sizeof port->devargs, "%s", devargs);
    /* Publish before any PMD can transmit to it. */
    __atomic_store_n(&vsw_dp.ports[port_no], port, __ATOMIC_RELEASE);

    for (uint16_t q = 0; q < n_rxq && vsw_dp.n_pmds; q++) {
        /* Round-robin over PMDs, by total rx queues, so ports spread out. */
        struct vsw_pmd *best = vsw_dp.pmds[0];
        for (unsigned i = 1; i < vsw_dp.n_pmds; i++) {
            if (vsw_dp.pmds[i]->n_rxqs < best->n_rxqs) {
                best = vsw_dp.pmds[i];
            }
        }
        struct vsw_cmd cmd = { .type = VSW_CMD_ADD_RXQ };
        cmd.u.rxq = (struct vsw_rxq) { .port_no = port_no, .eth_port = eth_port, .qid = q,
                                       .slow = port_is_slow(eth_port) };
        pmd_command(best, &cmd);
    }
    return 0;

detach_fail:
    {
        char msg[256];
        snprintf(msg, sizeof msg, "%s: cannot configure device: %s", name,
                 rte_strerror(ret < 0 ? -ret : ret));
        rte_eth_dev_close(eth_port);
        struct rte_eth_dev_info di;
        if (!rte_eth_dev_info_get(eth_port, &di) && di.device) {
            rte_dev_remove(di.device);
        }
        return fail(err, errlen, ret, "%s", msg);
    }
}

int
vsw_port_del(uint32_t port_no, char *err, size_t errlen)
{
    struct vsw_port *port = port_no < VSW_MAX_PORTS ? vsw_dp.ports[port_no] : NULL;
    if (!port) {
        return fail(err, errlen, ENOENT, "no port %u", port_no);
    }
    /* First make every PMD forget the port (rx queues and tx buffers); after that no
     * thread touches the device. */
    __atomic_store_n(&vsw_dp.ports[port_no], NULL, __ATOMIC_RELEASE);
    for (unsigned i = 0; i < vsw_dp.n_pmds; i++) {
        struct vsw_cmd cmd = { .type = VSW_CMD_DEL_PORT };
        cmd.u.port_no = port_no;
        pmd_command(vsw_dp.pmds[i], &cmd);
    }
    struct rte_eth_dev_info info;
    int have_info = !rte_eth_dev_info_get(port->eth_port, &info);
    rte_eth_dev_stop(port->eth_port);
    rte_eth_dev_close(port->eth_port);
    if (have_info && info.device) {
        rte_dev_remove(info.device);
    }
    rte_free(port);
    return 0;
}

int
vsw_port_info(uint32_t port_no, struct vsw_port_info *out)
{
    struct vsw_port *port = port_no < VSW_MAX_PORTS ? vsw_dp.ports[port_no] : NULL;
    if (!port) {
        return -ENOENT;
    }
    memset(out, 0, sizeof *out);
    out->port_no = port_no;
    out->eth_port = port->eth_port;
    out->n_rxq = port->n_rxq;
    out->n_txq = port->n_txq;
    rte_eth_dev_get_mtu(port->eth_port, &out->mtu);
    struct rte_ether_addr mac;
    if (!rte_eth_macaddr_get(port->eth_port, &mac)) {
        memcpy(out->mac, mac.addr_bytes, 6);
    }
    struct rte_eth_link link;
    if (!rte_eth_link_get_nowait(port->eth_port, &link)) {
        out->link_up = link.link_status == RTE_ETH_LINK_UP;
        out->link_speed = link.link_speed;
    }
    snprintf(out->name, sizeof out->name, "%s", port->name);
    struct rte_eth_dev_info info;
    if (!rte_eth_dev_info_get(port->eth_port, &info) && info.driver_name) {
        snprintf(out->driver, sizeof out->driver, "%s", info.driver_name);
    }
    return 0;
}

int
vsw_port_stats(uint32_t port_no, struct vsw_port_stats *out)
{
    struct vsw_port *port = port_no < VSW_MAX_PORTS ? vsw_dp.ports[port_no] : NULL;
    if (!port) {
        return -ENOENT;
    }
    struct rte_eth_stats s;
    int ret = rte_eth_stats_get(port->eth_port, &s);
    if (ret) {
        return ret;
    }
    out->rx_packets = s.ipackets;
    out->rx_bytes = s.ibytes;
    out->rx_dropped = s.imissed + s.rx_nombuf;
    out->rx_errors = s.ierrors;
    out->tx_packets = s.opackets;
    out->tx_bytes = s.obytes;
    out->tx_dropped = atomic_load(&port->tx_dropped);
    out->tx_errors = s.oerrors;
    /* Per-queue counters: DPDK keeps them for the first RTE_ETHDEV_QUEUE_STAT_CNTRS
     * queues, for drivers that fill them in (zeros otherwise). */
    _Static_assert(RTE_ETHDEV_QUEUE_STAT_CNTRS >= 16, "queue counters");
    out->n_rxq = port->n_rxq < 16 ? port->n_rxq : 16;
    out->n_txq = port->n_txq < 16 ? port->n_txq : 16;
    for (unsigned q = 0; q < 16; q++) {
        out->rxq_packets[q] = s.q_ipackets[q];
        out->rxq_bytes[q] = s.q_ibytes[q];
        out->txq_packets[q] = s.q_opackets[q];
        out->txq_bytes[q] = s.q_obytes[q];
    }
    return 0;
}

/* -- flows -- */

static int
for_pmds(int pmd, struct vsw_cmd *proto, struct vsw_flow_info *sum)
{
    if (!vsw_dp.n_pmds) {
        return -ENODEV;
    }
    if (pmd >= (int) vsw_dp.n_pmds) {
        return -EINVAL;
    }
    int found = 0;
    int first = pmd < 0 ? 0 : pmd;
    int last = pmd < 0 ? (int) vsw_dp.n_pmds - 1 : pmd;
    for (int i = first; i <= last; i++) {
        struct vsw_flow_info one;
        struct vsw_cmd cmd = *proto;
        if (sum) {
            cmd.u.one.info = &one;
        }
        if (pmd_command(vsw_dp.pmds[i], &cmd) == 0) {
            if (sum) {
                if (!found) {
                    *sum = one;
                    sum->pmd = pmd;
                } else {
                    sum->packets += one.packets;
                    sum->bytes += one.bytes;
                    sum->tcp_flags |= one.tcp_flags;
                    if (one.used_ms > sum->used_ms) {
                        sum->used_ms = one.used_ms;
                    }
                }
            }
            found++;
        }
    }
    return found ? 0 : -ENOENT;
}

int
vsw_flow_put(struct vsw_flow_put *puts, unsigned n)
{
    if (!vsw_dp.n_pmds) {
        return -ENODEV;
    }
    /* One command per PMD carrying the whole batch; each PMD skips puts aimed at
     * another PMD and reports results only for the first PMD it is meant for. */
    for (unsigned i = 0; i < n; i++) {
        puts[i].result = 1;   /* not yet answered */
    }
    for (unsigned i = 0; i < vsw_dp.n_pmds; i++) {
        struct vsw_cmd cmd = { .type = VSW_CMD_FLOW_PUT };
        cmd.u.put.puts = puts;
        cmd.u.put.n = n;
        pmd_command(vsw_dp.pmds[i], &cmd);
    }
    for (unsigned i = 0; i < n; i++) {
        if (puts[i].result == 1) {
            puts[i].result = -EINVAL;   /* named a PMD that does not exist */
        }
    }
    return 0;
}

int
vsw_flow_del(const uint8_t *ufid, int pmd, struct vsw_flow_info *info)
{
    struct vsw_cmd cmd = { .type = VSW_CMD_FLOW_DEL };
    cmd.u.one.ufid = ufid;
    struct vsw_flow_info tmp;
    return for_pmds(pmd, &cmd, info ? info : &tmp);
}

int
vsw_flow_get(const uint8_t *ufid, int pmd, struct vsw_flow_info *info)
{
    struct vsw_cmd cmd = { .type = VSW_CMD_FLOW_GET };
    cmd.u.one.ufid = ufid;
    return for_pmds(pmd, &cmd, info);
}

int
vsw_flow_dump(int pmd, struct vsw_flow_info *out, unsigned max, uint64_t *cursor)
{
    if (pmd < 0 || pmd >= (int) vsw_dp.n_pmds) {
        return -EINVAL;
    }
    struct vsw_cmd cmd = { .type = VSW_CMD_FLOW_DUMP };
    cmd.u.dump.out = out;
    cmd.u.dump.max = max;
    cmd.u.dump.cursor = *cursor;
    int n = pmd_command(vsw_dp.pmds[pmd], &cmd);
    *cursor = cmd.u.dump.cursor;
    return n;
}

int
vsw_flow_flush(void)
{
    for (unsigned i = 0; i < vsw_dp.n_pmds; i++) {
        struct vsw_cmd cmd = { .type = VSW_CMD_FLOW_FLUSH };
        pmd_command(vsw_dp.pmds[i], &cmd);
    }
    return 0;
}

int
vsw_execute_batch(int pmd, struct vsw_exec *execs, unsigned n)
{
    if (!vsw_dp.n_pmds) {
        return -ENODEV;
    }
    if (pmd >= (int) vsw_dp.n_pmds) {
        return -EINVAL;
    }
    struct vsw_cmd cmd = { .type = VSW_CMD_EXECUTE };
    cmd.u.exec.execs = execs;
    cmd.u.exec.n = n;
    return pmd_command(vsw_dp.pmds[pmd < 0 ? 0 : pmd], &cmd);
}

int
vsw_execute(int pmd, uint32_t in_port, const uint8_t *packet, uint32_t len,
            const uint8_t *actions, uint32_t actions_len)
{
    struct vsw_exec e = {
        .packet = packet, .actions = actions, .in_port = in_port, .len = len,
        .actions_len = actions_len,
    };
    int ret = vsw_execute_batch(pmd, &e, 1);
    return ret < 0 ? ret : e.result;
}

/* -- upcalls -- */

int
vsw_upcall_fd(void)
{
    return vsw_dp.initialized ? vsw_dp.upcall_efd : -1;
}

void
vsw_upcall_signal(void)
{
    uint64_t one = 1;
    if (write(vsw_dp.upcall_efd, &one, sizeof one) < 0) {
        /* The counter can only overflow after 2^64 writes; nothing to do. */
    }
}

int
vsw_upcall_recv(struct vsw_upcall *out, unsigned max)
{
    if (!vsw_dp.initialized) {
        return 0;
    }
    uint64_t ignored;
    if (read(vsw_dp.upcall_efd, &ignored, sizeof ignored) < 0) {
        /* EAGAIN: nothing signalled; the ring may still hold upcalls. */
    }
    void *ptrs[64];
    unsigned total = 0;
    /* Misses a table-0 offload answers are not returned, so 'max' alone does not
     * bound the work: the reactor gets control back after this many in any case. */
    unsigned budget = 4096;
    while (total < max && budget) {
        unsigned want = max - total < 64 ? max - total : 64;
        unsigned n = rte_ring_dequeue_burst(vsw_dp.upcall_ring, ptrs,
                                            want < budget ? want : budget, NULL);
        if (!n) {
            break;
        }
        budget -= n;
        bool taken[64];
        vsw_offload_take((struct vsw_upcall *const *) ptrs, n, taken);
        for (unsigned i = 0; i < n; i++) {
            struct vsw_upcall *u = ptrs[i];
            if (!taken[i]) {
                memcpy(&out[total++], u, offsetof(struct vsw_upcall, packet) + u->len);
            }
            rte_mempool_put(vsw_dp.upcall_pool, u);
        }
    }
    /* Leave the eventfd readable while upcalls remain (the caller may stop at 'max'),
     * and arm the PMDs' wake-up once the ring is empty.  Arming, then looking again,
     * closes the window in which a PMD enqueued after our last dequeue but found the
     * flag still clear. */
    if (rte_ring_empty(vsw_dp.upcall_ring)) {
        atomic_store(&vsw_dp.upcall_armed, true);
        if (rte_ring_empty(vsw_dp.upcall_ring)
            || !atomic_exchange(&vsw_dp.upcall_armed, false)) {
            return (int) total;
        }
    }
    vsw_upcall_signal();
    return (int) total;
}

/* -- statistics -- */

int
vsw_pmd_stats(struct vsw_pmd_stats *out, unsigned max)
{
    unsigned n = vsw_dp.n_pmds < max ? vsw_dp.n_pmds : max;
    for (unsigned i = 0; i < n; i++) {
        out[i] = vsw_dp.pmds[i]->stats;
        out[i].n_rxqs = vsw_dp.pmds[i]->n_rxqs;
        out[i].n_flows = vsw_dp.pmds[i]->n_flows;
    }
    return (int) n;
}

void
vsw_pmd_stats_clear(void)
{
    for (unsigned i = 0; i < vsw_dp.n_pmds; i++) {
        struct vsw_pmd_stats *s = &vsw_dp.pmds[i]->stats;
        /* Counters are plain u64s owned by the PMD; a racing increment may survive the
         * clear, which only matters for the one iteration in flight. */
        s->packets = s->emc_hits = s->megaflow_hits = s->misses = s->lost = 0;
        s->cycles_busy = s->cycles_idle = s->cycles_upcall = 0;
        for (unsigned q = 0; q < vsw_dp.pmds[i]->n_rxqs; q++) {
            vsw_dp.pmds[i]->rxqs[q].cycles = 0;
        }
    }
}

int
vsw_rxq_dump(struct vsw_rxq_info *out, unsigned max)
{
    /* A PMD's rx queue list changes only by commands this (control) thread sends and
     * waits for, so reading it here races with nothing but the cycle counters. */
    unsigned n = 0;
    for (unsigned i = 0; i < vsw_dp.n_pmds; i++) {
        const struct vsw_pmd *pmd = vsw_dp.pmds[i];
        for (unsigned q = 0; q < pmd->n_rxqs; q++, n++) {
            if (n < max) {
                out[n] = (struct vsw_rxq_info) {
                    .port_no = pmd->rxqs[q].port_no, .queue_id = pmd->rxqs[q].qid,
                    .pmd = pmd->id, .lcore = pmd->lcore, .cycles = pmd->rxqs[q].cycles,
                };
            }
        }
    }
    return (int) n;
}

int
vsw_mbufs_in_use(void)
{
    return vsw_dp.mbuf_pool ? (int) rte_mempool_in_use_count(vsw_dp.mbuf_pool) : -1;
}

void
vsw_shutdown(void)
{
    if (!vsw_dp.initialized) {
        return;
    }
    for (unsigned i = 0; i < VSW_MAX_PORTS; i++) {
        if (vsw_dp.ports[i]) {
            vsw_port_del(i, NULL, 0);
        }
    }
    for (unsigned i = 0; i < vsw_dp.n_pmds; i++) {
        atomic_store(&vsw_dp.pmds[i]->stop, true);
    }
    rte_eal_mp_wait_lcore();
    vsw_dp.n_pmds = 0;
    rte_eal_cleanup();
    vsw_dp.initialized = false;
}
