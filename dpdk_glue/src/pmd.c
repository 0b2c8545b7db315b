/* The poll-mode (PMD) thread: rx burst -> flow key -> EMC -> megaflow classifier ->
 * actions -> tx buffers, and the commands the control side sends it.
 *
 * The burst loop stays short (DPDK's skeleton/l2fwd shape): for each rx queue, one
 * burst of up to 32 packets is classified as a batch; packets are then grouped by
 * flow so each flow's counters are touched once per burst and the common one-output
 * case becomes a bulk move into the port's tx buffer.  Tx buffers drain once per loop
 * iteration, so a burst leaves as a burst.  Between iterations the PMD drains its
 * command ring: every change to its flow table happens here, on its own thread.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_branch_prediction.h>
#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_prefetch.h>
#include <rte_ring.h>

#include "vsw_dp.h"

/* -- the PMD's UFID table -- */

static uint32_t
ufid_hash(const uint8_t *ufid)
{
    uint32_t h;
    memcpy(&h, ufid, sizeof h);   /* UFIDs are random: any 32 bits will do */
    return h;
}

static struct vsw_dpflow *
ufid_find(struct vsw_pmd *pmd, const uint8_t *ufid)
{
    struct vsw_dpflow *f = pmd->ufid_buckets[ufid_hash(ufid) & pmd->ufid_mask];
    while (f && memcmp(f->ufid, ufid, 16)) {
        f = f->ufid_next;
    }
    return f;
}

static void
ufid_grow(struct vsw_pmd *pmd)
{
    uint32_t n = (pmd->ufid_mask + 1) * 2;
    struct vsw_dpflow **b = calloc(n, sizeof *b);
    if (!b) {
        return;   /* keep the old table: slower chains, still correct */
    }
    for (uint32_t i = 0; i <= pmd->ufid_mask; i++) {
        struct vsw_dpflow *f = pmd->ufid_buckets[i];
        while (f) {
            struct vsw_dpflow *next = f->ufid_next;
            uint32_t j = ufid_hash(f->ufid) & (n - 1);
            f->ufid_next = b[j];
            b[j] = f;
            f = next;
        }
    }
    free(pmd->ufid_buckets);
    pmd->ufid_buckets = b;
    pmd->ufid_mask = n - 1;
}

static void
ufid_insert(struct vsw_pmd *pmd, struct vsw_dpflow *f)
{
    if (pmd->n_flows >= pmd->ufid_mask) {
        ufid_grow(pmd);
    }
    uint32_t i = ufid_hash(f->ufid) & pmd->ufid_mask;
    f->ufid_next = pmd->ufid_buckets[i];
    pmd->ufid_buckets[i] = f;
    pmd->n_flows++;
}

static void
ufid_remove(struct vsw_pmd *pmd, struct vsw_dpflow *f)
{
    struct vsw_dpflow **p = &pmd->ufid_buckets[ufid_hash(f->ufid) & pmd->ufid_mask];
    while (*p != f) {
        p = &(*p)->ufid_next;
    }
    *p = f->ufid_next;
    pmd->n_flows--;
}

/* -- commands -- */

static uint64_t
tsc_to_ms(uint64_t tsc)
{
    return tsc ? (tsc - vsw_dp.start_tsc) * 1000 / vsw_dp.tsc_hz + 1 : 0;
}

static void
flow_info(const struct vsw_pmd *pmd, const struct vsw_dpflow *f, struct vsw_flow_info *info)
{
    memcpy(info->ufid, f->ufid, 16);
    info->key = f->key;
    info->mask = f->mask;
    info->packets = f->packets;
    info->bytes = f->bytes;
    info->used_ms = tsc_to_ms(f->used_tsc);
    info->created_ms = tsc_to_ms(f->created_tsc);
    info->tcp_flags = f->tcp_flags;
    info->pad = 0;
    info->pmd = (int32_t) pmd->id;
    info->actions_len = f->actions_len;
    memcpy(info->actions, f->actions,
           f->actions_len < VSW_FLOW_INFO_MAX_ACTIONS ? f->actions_len
                                                      : VSW_FLOW_INFO_MAX_ACTIONS);
}

static void
flow_free(struct vsw_dpflow *f)
{
    free(f->actions);
    free(f);
}

static inline bool
mac_mask_ok(const uint8_t *m)
{
    static const uint8_t zero[6], ones[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    return !memcmp(m, zero, 6) || !memcmp(m, ones, 6);
}

/* Whether 'f' is a simple flow (struct vsw_simple): recirc_id 0 and no other
 * metadata; a mask on nothing but in_port, whole Ethernet addresses, the whole
 * EtherType, VLAN TCI bits (the simple path decides untagged frames only) and
 * fragment bits (NORMAL's and plain rules' megaflows); one output action. */
static bool
flow_is_simple(const struct vsw_dpflow *f)
{
    const struct vsw_action *a = (const void *) f->actions;
    if (f->key.in_port >= VSW_MAX_PORTS || f->key.recirc_id || f->key.dp_hash
        || f->key.pkt_mark || f->actions_len != sizeof *a || a->type != VSW_ACTION_OUTPUT
        || (f->mask.eth_type && f->mask.eth_type != 0xffff)
        || !mac_mask_ok(f->mask.eth_src) || !mac_mask_ok(f->mask.eth_dst)) {
        return false;
    }
    struct vsw_flow_key rest = f->mask;
    rest.in_port = rest.recirc_id = rest.dp_hash = rest.pkt_mark = 0;
    memset(rest.eth_src, 0, 6);
    memset(rest.eth_dst, 0, 6);
    rest.eth_type = rest.vlan_tci = 0;
    rest.nw_frag = 0;
    const uint64_t *m = (const uint64_t *) &rest;
    for (unsigned i = 0; i < VSW_FLOW_KEY_WORDS; i++) {
        if (m[i]) {
            return false;
        }
    }
    return true;
}

static void
simple_update(struct vsw_pmd *pmd, struct vsw_dpflow *f, bool removing)
{
    if (f->key.in_port >= VSW_MAX_PORTS) {
        return;
    }
    struct vsw_simple *s = &pmd->simple[f->key.in_port];
    for (unsigned i = 0; i < s->n; i++) {
        if (s->flows[i] == f) {
            s->flows[i] = s->flows[--s->n];
            break;
        }
    }
    if (!removing && flow_is_simple(f) && s->n < VSW_SIMPLE_MAX) {
        s->flows[s->n++] = f;
    }
}

static void
flow_delete(struct vsw_pmd *pmd, struct vsw_dpflow *f)
{
    simple_update(pmd, f, true);
    vsw_cls_remove(pmd->cls, &f->key, &f->mask);
    vsw_emc_forget(pmd->emc, f);
    ufid_remove(pmd, f);
    flow_free(f);
}

static int
actions_valid(const uint8_t *actions, uint32_t len)
{
    uint32_t ofs = 0;
    while (ofs < len) {
        if (len - ofs < sizeof(struct vsw_action)) {
            return 0;
        }
        const struct vsw_action *a = (const void *) (actions + ofs);
        if (a->len < sizeof *a || a->len % VSW_ACTION_ALIGN || a->len > len - ofs) {
            return 0;
        }
        switch (a->type) {
        case VSW_ACTION_OUTPUT:
            if (a->arg >= VSW_MAX_PORTS) {
                return 0;
            }
            break;
        case VSW_ACTION_USERSPACE:
            if (a->arg > VSW_MAX_USERSPACE_COOKIE || a->arg > a->len - sizeof *a) {
                return 0;
            }
            break;
        case VSW_ACTION_SET_MASKED:
            if (a->len != sizeof *a + sizeof(struct vsw_set_masked)) {
                return 0;
            }
            break;
        case VSW_ACTION_CLONE:
        case VSW_ACTION_SAMPLE:
            if (!actions_valid(actions + ofs + sizeof *a, a->len - sizeof *a)) {
                return 0;
            }
            break;
        case VSW_ACTION_PUSH_VLAN:
        case VSW_ACTION_POP_VLAN:
        case VSW_ACTION_RECIRC:
        case VSW_ACTION_HASH:
        case VSW_ACTION_TRUNC:
        case VSW_ACTION_DROP:
            break;
        default:
            return 0;
        }
        ofs += a->len;
    }
    return 1;
}

static int
flow_put_one(struct vsw_pmd *pmd, const struct vsw_flow_put *put)
{
    if (put->mask.in_port != UINT32_MAX || !actions_valid(put->actions, put->actions_len)) {
        return -EINVAL;
    }
    uint8_t *actions = NULL;
    if (put->actions_len) {
        actions = malloc(put->actions_len);
        if (!actions) {
            return -ENOMEM;
        }
        memcpy(actions, put->actions, put->actions_len);
    }
    struct vsw_dpflow *f = ufid_find(pmd, put->ufid);
    if (f) {
        if (!(put->flags & VSW_PUT_MODIFY)) {
            free(actions);
            return -EEXIST;
        }
        /* The key and mask of a UFID never change: only its actions. */
        free(f->actions);
        f->actions = actions;
        f->actions_len = put->actions_len;
        simple_update(pmd, f, false);
        if (put->flags & VSW_PUT_ZERO_STATS) {
            f->packets = f->bytes = f->used_tsc = 0;
            f->created_tsc = rte_get_tsc_cycles();
            f->tcp_flags = 0;
        }
        return 0;
    }
    if (!(put->flags & VSW_PUT_CREATE)) {
        free(actions);
        return -ENOENT;
    }
    f = calloc(1, sizeof *f);
    if (!f) {
        free(actions);
        return -ENOMEM;
    }
    memcpy(f->ufid, put->ufid, 16);
    f->mask = put->mask;
    const uint64_t *k = (const uint64_t *) &put->key;
    const uint64_t *m = (const uint64_t *) &put->mask;
    uint64_t *fk = (uint64_t *) &f->key;
    for (unsigned i = 0; i < VSW_FLOW_KEY_WORDS; i++) {
        fk[i] = k[i] & m[i];
    }
    f->actions = actions;
    f->actions_len = put->actions_len;
    f->created_tsc = rte_get_tsc_cycles();
    int ret = vsw_cls_insert(pmd->cls, &f->key, &f->mask, f);
    if (ret) {
        flow_free(f);
        return ret;
    }
    ufid_insert(pmd, f);
    simple_update(pmd, f, false);
    return 0;
}

static void
flow_flush(struct vsw_pmd *pmd)
{
    vsw_emc_clear(pmd->emc);
    memset(pmd->simple, 0, sizeof pmd->simple);   /* the flows go away below */
    for (uint32_t i = 0; i <= pmd->ufid_mask; i++) {
        while (pmd->ufid_buckets[i]) {
            struct vsw_dpflow *f = pmd->ufid_buckets[i];
            vsw_cls_remove(pmd->cls, &f->key, &f->mask);
            pmd->ufid_buckets[i] = f->ufid_next;
            pmd->n_flows--;
            flow_free(f);
        }
    }
}

static int
flow_dump(struct vsw_pmd *pmd, struct vsw_cmd *cmd)
{
    /* The cursor is (bucket << 32 | index in chain): stable while the control thread
     * waits, since only this thread changes the table. */
    uint64_t bucket = cmd->u.dump.cursor >> 32;
    uint64_t skip = cmd->u.dump.cursor & UINT32_MAX;
    unsigned n = 0;
    for (; bucket <= pmd->ufid_mask && n < cmd->u.dump.max; bucket++, skip = 0) {
        uint64_t idx = 0;
        for (struct vsw_dpflow *f = pmd->ufid_buckets[bucket]; f; f = f->ufid_next, idx++) {
            if (idx < skip) {
                continue;
            }
            if (n == cmd->u.dump.max) {
                cmd->u.dump.cursor = bucket << 32 | idx;
                return (int) n;
            }
            flow_info(pmd, f, &cmd->u.dump.out[n++]);
        }
    }
    cmd->u.dump.cursor = bucket << 32;
    return (int) n;
}

static void
pmd_del_port(struct vsw_pmd *pmd, uint32_t port_no)
{
    /* The port is already unpublished, so flushing frees what was queued for it. */
    vsw_pmd_flush_tx(pmd);
    unsigned j = 0;
    for (unsigned i = 0; i < pmd->n_rxqs; i++) {
        if (pmd->rxqs[i].port_no != port_no) {
            pmd->rxqs[j++] = pmd->rxqs[i];
        }
    }
    pmd->n_rxqs = j;
}

static int
pmd_execute(struct vsw_pmd *pmd, const struct vsw_exec *e)
{
    if (!actions_valid(e->actions, e->actions_len)) {
        return -EINVAL;
    }
    if (e->len > UINT16_MAX) {
        return -EMSGSIZE;
    }
    struct rte_mbuf *m = rte_pktmbuf_alloc(vsw_dp.mbuf_pool);
    if (!m) {
        return -ENOMEM;
    }
    char *data = rte_pktmbuf_append(m, (uint16_t) e->len);
    if (!data) {
        rte_pktmbuf_free(m);
        return -EMSGSIZE;
    }
    memcpy(data, e->packet, e->len);
    struct vsw_flow_key key;
    vsw_flow_extract((const uint8_t *) data, e->len, e->in_port, &key, NULL);
    pmd->stats.packets++;
    vsw_actions_execute(pmd, m, &key, e->actions, e->actions_len, 0);
    return 0;
}

void
vsw_pmd_run_command(struct vsw_pmd *pmd, struct vsw_cmd *cmd)
{
    int result = 0;
    switch (cmd->type) {
    case VSW_CMD_ADD_RXQ:
        if (pmd->n_rxqs < VSW_MAX_RXQ_PER_PMD) {
            pmd->rxqs[pmd->n_rxqs++] = cmd->u.rxq;
        } else {
            result = -ENOSPC;
        }
        break;
    case VSW_CMD_DEL_PORT:
        pmd_del_port(pmd, cmd->u.port_no);
        break;
    case VSW_CMD_FLOW_PUT:
        for (unsigned i = 0; i < cmd->u.put.n; i++) {
            struct vsw_flow_put *put = &cmd->u.put.puts[i];
            if (put->pmd >= 0 && (unsigned) put->pmd != pmd->id) {
                continue;
            }
            int r = flow_put_one(pmd, put);
            if (put->result == 1) {
                put->result = r;
            }
        }
        break;
    case VSW_CMD_FLOW_DEL: {
        struct vsw_dpflow *f = ufid_find(pmd, cmd->u.one.ufid);
        if (!f) {
            result = -ENOENT;
        } else {
            if (cmd->u.one.info) {
                flow_info(pmd, f, cmd->u.one.info);
            }
            flow_delete(pmd, f);
        }
        break;
    }
    case VSW_CMD_FLOW_GET: {
        struct vsw_dpflow *f = ufid_find(pmd, cmd->u.one.ufid);
        if (!f) {
            result = -ENOENT;
        } else {
            flow_info(pmd, f, cmd->u.one.info);
        }
        break;
    }
    case VSW_CMD_FLOW_DUMP:
        result = flow_dump(pmd, cmd);
        break;
    case VSW_CMD_FLOW_FLUSH:
        flow_flush(pmd);
        break;
    case VSW_CMD_EXECUTE:
        for (unsigned i = 0; i < cmd->u.exec.n; i++) {
            cmd->u.exec.execs[i].result = pmd_execute(pmd, &cmd->u.exec.execs[i]);
        }
        vsw_pmd_flush_tx(pmd);
        break;
    case VSW_CMD_SYNC:
        break;
    }
    cmd->result = result;
    atomic_store_explicit(&cmd->done, 1, memory_order_release);
}

/* -- transmit -- */

static void
txbuf_flush(struct vsw_pmd *pmd, uint32_t port_no, struct vsw_txbuf *tb)
{
    struct vsw_port *port = __atomic_load_n(&vsw_dp.ports[port_no], __ATOMIC_ACQUIRE);
    uint16_t sent = 0;
    if (port) {
        uint16_t q = (uint16_t) (pmd->id % port->n_txq);
        if (port->txq_shared) {
            rte_spinlock_lock(&port->txq_lock[q]);
        }
        while (sent < tb->n) {
            uint16_t n = rte_eth_tx_burst(port->eth_port, q, tb->pkts + sent, tb->n - sent);
            if (!n) {
                break;   /* device full: drop the rest rather than stall the PMD */
            }
            sent += n;
        }
        if (port->txq_shared) {
            rte_spinlock_unlock(&port->txq_lock[q]);
        }
        if (sent < tb->n) {
            atomic_fetch_add(&port->tx_dropped, tb->n - sent);
        }
    }
    if (sent < tb->n) {
        rte_pktmbuf_free_bulk(tb->pkts + sent, tb->n - sent);
    }
    tb->n = 0;
}

void
vsw_pmd_flush_tx(struct vsw_pmd *pmd)
{
    for (unsigned i = 0; i < pmd->n_dirty; i++) {
        uint32_t p = pmd->dirty[i];
        if (pmd->txbufs[p].n) {
            txbuf_flush(pmd, p, &pmd->txbufs[p]);
        }
    }
    pmd->n_dirty = 0;
}

void
vsw_pmd_tx(struct vsw_pmd *pmd, uint32_t port_no, struct rte_mbuf *m)
{
    struct vsw_txbuf *tb = &pmd->txbufs[port_no];
    if (tb->n == 0) {
        /* Remember which buffers to drain, so a flush costs the ports used, not all. */
        pmd->dirty[pmd->n_dirty++] = (uint16_t) port_no;
    } else if (unlikely(tb->n == VSW_BURST)) {
        txbuf_flush(pmd, port_no, tb);
    }
    tb->pkts[tb->n++] = m;
}

/* -- upcalls -- */

bool
vsw_upcall(struct vsw_pmd *pmd, const struct rte_mbuf *m, const struct vsw_flow_key *key,
           uint32_t type, const uint8_t *cookie, uint32_t cookie_len)
{
    uint64_t start = rte_get_tsc_cycles();
    void *obj;
    if (rte_mempool_get(vsw_dp.upcall_pool, &obj)) {
        pmd->stats.lost++;
        atomic_fetch_add(&vsw_dp.upcalls_lost, 1);
        return false;
    }
    struct vsw_upcall *u = obj;
    u->type = type;
    u->pmd = pmd->id;
    u->orig_len = rte_pktmbuf_pkt_len(m);
    u->len = u->orig_len < VSW_UPCALL_MAX_PACKET ? u->orig_len : VSW_UPCALL_MAX_PACKET;
    u->cookie_len = cookie_len;
    u->pad = 0;
    u->key = *key;
    if (cookie_len) {
        memcpy(u->cookie, cookie, cookie_len);
    }
    /* rte_pktmbuf_read() copies only when the data spans segments; otherwise it
     * points into the mbuf. */
    const void *data = rte_pktmbuf_read(m, 0, u->len, u->packet);
    if (data != u->packet) {
        memcpy(u->packet, data, u->len);
    }
    if (rte_ring_enqueue(vsw_dp.upcall_ring, u)) {
        rte_mempool_put(vsw_dp.upcall_pool, u);
        pmd->stats.lost++;
        atomic_fetch_add(&vsw_dp.upcalls_lost, 1);
        return false;
    }
    /* Wake the control thread only if it said it is waiting (it found the ring
     * empty): one write per wake-up, not per upcall. */
    if (atomic_exchange(&vsw_dp.upcall_armed, false)) {
        vsw_upcall_signal();
    }
    pmd->stats.cycles_upcall += rte_get_tsc_cycles() - start;
    return true;
}

/* -- the fast path -- */

static inline void
flow_account(struct vsw_dpflow *f, const struct rte_mbuf *m, const struct vsw_flow_key *key,
             uint64_t now)
{
    f->packets++;
    f->bytes += rte_pktmbuf_pkt_len(m);
    f->used_tsc = now;
    f->tcp_flags |= rte_be_to_cpu_16(key->tcp_flags);
}

/* Runs a looked-up packet: fast single output, else the general action walker. */
static inline void
flow_run(struct vsw_pmd *pmd, struct vsw_dpflow *f, struct rte_mbuf *m,
         struct vsw_flow_key *key, unsigned depth)
{
    const struct vsw_action *a = (const void *) f->actions;
    if (likely(f->actions_len == sizeof *a && a->type == VSW_ACTION_OUTPUT)) {
        vsw_pmd_tx(pmd, a->arg, m);
        return;
    }
    vsw_actions_execute(pmd, m, key, f->actions, f->actions_len, depth);
}

void
vsw_pmd_process_one(struct vsw_pmd *pmd, struct rte_mbuf *m, struct vsw_flow_key *key,
                    unsigned depth)
{
    uint32_t hash = vsw_flow_hash(key);
    struct vsw_dpflow *f = vsw_emc_lookup(pmd->emc, key, hash);
    if (f) {
        pmd->stats.emc_hits++;
    } else {
        f = vsw_cls_lookup(pmd->cls, key);
        if (f) {
            pmd->stats.megaflow_hits++;
            vsw_emc_insert(pmd->emc, key, hash, f);
        }
    }
    if (!f) {
        if (vsw_upcall(pmd, m, key, VSW_UPCALL_MISS, NULL, 0)) {
            pmd->stats.misses++;
        }
        rte_pktmbuf_free(m);
        return;
    }
    flow_account(f, m, key, rte_get_tsc_cycles());
    flow_run(pmd, f, m, key, depth);
}

static inline bool
keys_equal(const struct vsw_flow_key *a, const struct vsw_flow_key *b)
{
    const uint64_t *x = (const uint64_t *) a, *y = (const uint64_t *) b;
    uint64_t diff = 0;
    for (unsigned i = 0; i < VSW_FLOW_KEY_WORDS; i++) {
        diff |= x[i] ^ y[i];
    }
    return !diff;
}

/* The EtherType, VLAN TCI and fragment bits of an untagged Ethernet frame, as
 * vsw_flow_extract() would set them; false for what needs the full extraction
 * (VLAN tags, 802.3 frames, IPv6, short or odd IPv4 headers). */
static inline bool
simple_fields(const uint8_t *d, uint32_t len, uint16_t *eth_type, uint8_t *frag)
{
    if (len < 14) {
        return false;
    }
    uint16_t et = (uint16_t) (d[12] << 8 | d[13]);
    *frag = 0;
    if (et == 0x0800) {
        if (len < 34 || d[14] >> 4 != 4 || (d[14] & 0x0f) < 5) {
            return false;
        }
        uint16_t fo = (uint16_t) (d[20] << 8 | d[21]);
        if (fo & 0x3fff) {
            *frag = VSW_FRAG_ANY | (fo & 0x1fff ? VSW_FRAG_LATER : 0);
        }
    } else if (et < 0x0600 || et == 0x8100 || et == 0x88a8 || et == 0x86dd) {
        return false;
    }
    *eth_type = rte_cpu_to_be_16(et);
    return true;
}

/* The simple flow of 's' that decides 'm', or NULL. */
static inline struct vsw_dpflow *
simple_lookup(const struct vsw_simple *s, const struct rte_mbuf *m)
{
    uint16_t eth_type = 0;
    uint8_t frag = 0;
    int parsed = -1;
    const uint8_t *d = rte_pktmbuf_mtod(m, const uint8_t *);
    uint32_t len = rte_pktmbuf_data_len(m);
    for (unsigned i = 0; i < s->n; i++) {
        struct vsw_dpflow *f = s->flows[i];
        if (f->mask.eth_dst[0] && (len < 12 || memcmp(d, f->key.eth_dst, 6))) {
            continue;
        }
        if (f->mask.eth_src[0] && (len < 12 || memcmp(d + 6, f->key.eth_src, 6))) {
            continue;
        }
        if (!f->mask.eth_type && !f->mask.vlan_tci && !f->mask.nw_frag) {
            return f;
        }
        if (parsed < 0) {
            parsed = simple_fields(d, len, &eth_type, &frag);
        }
        if (parsed && !((eth_type ^ f->key.eth_type) & f->mask.eth_type)
            && !(f->key.vlan_tci & f->mask.vlan_tci)
            && !((frag ^ f->key.nw_frag) & f->mask.nw_frag)) {
            return f;
        }
    }
    return NULL;
}

static void
process_burst(struct vsw_pmd *pmd, uint32_t in_port, struct rte_mbuf **pkts, unsigned n)
{
    const struct vsw_simple *simple = in_port < VSW_MAX_PORTS ? &pmd->simple[in_port] : NULL;
    struct rte_mbuf *rest[VSW_BURST];
    if (simple && simple->n) {
        unsigned n_rest = 0;
        uint64_t now = rte_get_tsc_cycles();
        /* Every frame's first line is read below: start all the misses at once. */
        for (unsigned i = 0; i < n; i++) {
            rte_prefetch0(rte_pktmbuf_mtod(pkts[i], void *));
        }
        for (unsigned i = 0; i < n; i++) {
            struct vsw_dpflow *f = simple_lookup(simple, pkts[i]);
            if (!f) {
                rest[n_rest++] = pkts[i];
                continue;
            }
            f->packets++;
            f->bytes += rte_pktmbuf_pkt_len(pkts[i]);
            f->used_tsc = now;
            vsw_pmd_tx(pmd, ((const struct vsw_action *) f->actions)->arg, pkts[i]);
        }
        pmd->stats.megaflow_hits += n - n_rest;
        if (!n_rest) {
            return;
        }
        pkts = rest;
        n = n_rest;
    }

    struct vsw_flow_key keys[VSW_BURST];
    uint32_t hashes[VSW_BURST];
    struct vsw_dpflow *flows[VSW_BURST];
    const struct vsw_flow_key *miss_keys[VSW_BURST];
    unsigned miss_idx[VSW_BURST];
    unsigned n_miss = 0;

    for (unsigned i = 0; i < n; i++) {
        if (i + 1 < n) {
            rte_prefetch0(rte_pktmbuf_mtod(pkts[i + 1], void *));
        }
        struct rte_mbuf *m = pkts[i];
        vsw_flow_extract(rte_pktmbuf_mtod(m, const uint8_t *), rte_pktmbuf_data_len(m),
                         in_port, &keys[i], NULL);
    }
    /* Hashing in a second pass keeps each key's stores retired before its loads (a
     * store-forwarding stall otherwise); prefetching every EMC set before the first
     * lookup overlaps the cache misses of a burst instead of paying them in turn. */
    /* A packet with the same key as the one before it (trains of one connection are
     * common) reuses its flow: one key compare instead of a hash and an EMC probe. */
    uint32_t same_as_prev = 0;
    for (unsigned i = 0; i < n; i++) {
        if (i && keys_equal(&keys[i], &keys[i - 1])) {
            same_as_prev |= 1u << i;
            hashes[i] = hashes[i - 1];
            continue;
        }
        hashes[i] = vsw_flow_hash(&keys[i]);
        vsw_emc_prefetch(pmd->emc, hashes[i]);
    }
    for (unsigned i = 0; i < n; i++) {
        flows[i] = same_as_prev >> i & 1 && flows[i - 1]
                   ? flows[i - 1] : vsw_emc_lookup(pmd->emc, &keys[i], hashes[i]);
        if (!flows[i]) {
            miss_keys[n_miss] = &keys[i];
            miss_idx[n_miss++] = i;
        }
    }
    pmd->stats.emc_hits += n - n_miss;
    if (n_miss) {
        void *found[VSW_BURST];
        vsw_cls_lookup_batch(pmd->cls, miss_keys, n_miss, found);
        for (unsigned j = 0; j < n_miss; j++) {
            unsigned i = miss_idx[j];
            flows[i] = found[j];
            if (found[j]) {
                pmd->stats.megaflow_hits++;
                vsw_emc_insert(pmd->emc, &keys[i], hashes[i], found[j]);
            }
        }
    }

    uint64_t now = rte_get_tsc_cycles();
    for (unsigned i = 0; i < n; i++) {
        struct vsw_dpflow *f = flows[i];
        if (unlikely(!f)) {
            if (vsw_upcall(pmd, pkts[i], &keys[i], VSW_UPCALL_MISS, NULL, 0)) {
                pmd->stats.misses++;
            }
            rte_pktmbuf_free(pkts[i]);
            continue;
        }
        flow_account(f, pkts[i], &keys[i], now);
        flow_run(pmd, f, pkts[i], &keys[i], 0);
    }
}

int
vsw_pmd_main(void *arg)
{
    struct vsw_pmd *pmd = arg;
    struct rte_mbuf *pkts[VSW_BURST];
    uint64_t prev = rte_get_tsc_cycles();
    unsigned sleep_us = 1;
    pmd->next_rank_tsc = prev + vsw_dp.tsc_hz;

    while (!atomic_load_explicit(&pmd->stop, memory_order_relaxed)) {
        unsigned received = 0;
        /* Cycles per rx queue: one TSC read per burst received, none per empty poll,
         * so the empty polls before a burst are charged to the queue it came from. */
        uint64_t mark = prev;
        bool slow_round = ++pmd->round % VSW_SLOW_RXQ_ROUNDS == 0;
        for (unsigned q = 0; q < pmd->n_rxqs; q++) {
            struct vsw_rxq *rxq = &pmd->rxqs[q];
            if (rxq->slow && !slow_round) {
                continue;
            }
            uint16_t n = rte_eth_rx_burst(rxq->eth_port, rxq->qid, pkts, VSW_BURST);
            if (n) {
                received += n;
                process_burst(pmd, rxq->port_no, pkts, n);
                uint64_t t = rte_get_tsc_cycles();
                rxq->cycles += t - mark;
                mark = t;
            }
        }
        vsw_pmd_flush_tx(pmd);
        pmd->stats.packets += received;

        void *cmds[8];
        unsigned n_cmds = rte_ring_dequeue_burst(pmd->cmd_ring, cmds, 8, NULL);
        for (unsigned i = 0; i < n_cmds; i++) {
            vsw_pmd_run_command(pmd, cmds[i]);
        }

        unsigned max_sleep = atomic_load_explicit(&vsw_dp.pmd_sleep_max_us,
                                                  memory_order_relaxed);
        if (received || n_cmds) {
            sleep_us = 1;
        } else if (max_sleep) {
            /* Back off exponentially while idle, so a quiet PMD costs little CPU and a
             * busy one never sleeps. */
            usleep(sleep_us);
            sleep_us = sleep_us * 2 > max_sleep ? max_sleep : sleep_us * 2;
        }
        uint64_t now = rte_get_tsc_cycles();
        if (received) {
            pmd->stats.cycles_busy += now - prev;
        } else {
            pmd->stats.cycles_idle += now - prev;
        }
        prev = now;
        if (unlikely(now >= pmd->next_rank_tsc)) {
            vsw_cls_rank(pmd->cls);
            pmd->next_rank_tsc = now + vsw_dp.tsc_hz;
        }
    }
    vsw_pmd_flush_tx(pmd);
    flow_flush(pmd);
    return 0;
}
