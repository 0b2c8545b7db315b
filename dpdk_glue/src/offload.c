/* Table-0 offload (see vsw_offload.h): misses answered in C from a mirror of a
 * bridge's table 0.
 *
 * Why here and not in Python: a miss handed to Python costs about a hundred
 * microseconds of interpreter time (decoding the key, the OpenFlow lookup, building
 * the megaflow), where OVS translates in its PMD in about ten.  Tables whose rules
 * just output to ports are the common case worth answering without the round trip;
 * everything else still goes to ofproto's xlate, which stays the reference: the
 * lookup (ofc.c) makes the same rule choice as ofproto/classifier.py, and the
 * megaflow mask is the bits it examined plus the fields every megaflow matches
 * (OVS xlate_wc_init(): in_port, recirc_id, eth_type, IP fragment bits) plus the
 * VLAN TCI, as only untagged packets are answered.
 *
 * Megaflows are installed through vsw_flow_put() and packets executed through
 * vsw_execute_batch(), once per drained batch, like Python does.  The offload
 * remembers each megaflow in a slot; the slot number and a generation count are in
 * its UFID, so the sweep finds a dumped flow's slot without a search.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "vsw.h"
#include "vsw_dp.h"
#include "vsw_ofc.h"
#include "vsw_offload.h"

#define MISS_ID UINT32_MAX     /* the rule id of a table-miss megaflow */

struct off_rule {
    bool used;
    uint32_t n_out;
    uint32_t out[VSW_OFFLOAD_MAX_OUT];
    uint64_t packets, bytes;   /* credits not yet drained */
};

struct off_flow {
    bool live;
    bool idle;                 /* found idle by the current sweep */
    uint32_t gen;
    uint32_t seen;             /* the last sweep whose dump had it */
    uint32_t rule_id;
    int32_t pmd;
    struct vsw_flow_key key;   /* masked */
    struct vsw_flow_key mask;
    uint64_t packets, bytes;   /* counters already credited */
};

struct vsw_offload {
    uint64_t tag;
    bool enabled;
    struct vsw_ofc *ofc;
    struct off_rule *rules;    /* indexed by id */
    uint32_t n_rules_alloc;
    uint32_t n_rules;
    struct off_flow *flows;    /* slots */
    uint32_t n_flows_alloc;
    uint32_t *free_slots;      /* stack of free slot numbers */
    uint32_t n_free;
    uint32_t n_slots_used;     /* slots ever handed out (the rest never used) */
    uint32_t sweeps;
    struct vsw_offload_stats stats;
};

/* Which offload answers misses from each datapath port. */
static struct vsw_offload *port_offload[VSW_MAX_PORTS];

struct vsw_offload *
vsw_offload_create(uint64_t tag)
{
    struct vsw_offload *off = calloc(1, sizeof *off);
    if (!off) {
        return NULL;
    }
    off->ofc = vsw_ofc_create();
    if (!off->ofc) {
        free(off);
        return NULL;
    }
    off->tag = tag;
    return off;
}

void
vsw_offload_destroy(struct vsw_offload *off)
{
    if (!off) {
        return;
    }
    for (unsigned i = 0; i < VSW_MAX_PORTS; i++) {
        if (port_offload[i] == off) {
            port_offload[i] = NULL;
        }
    }
    vsw_offload_flush(off);
    vsw_ofc_destroy(off->ofc);
    free(off->rules);
    free(off->flows);
    free(off->free_slots);
    free(off);
}

/* -- rules -- */

static struct off_rule *
rule_get(const struct vsw_offload *off, uint32_t id)
{
    return id < off->n_rules_alloc && off->rules[id].used ? &off->rules[id] : NULL;
}

int
vsw_offload_rule_add(struct vsw_offload *off, uint32_t id, uint32_t priority, uint64_t seq,
                     const struct vsw_flow_key *key, const struct vsw_flow_key *mask,
                     const uint32_t *outs, uint32_t n_out)
{
    if (id == MISS_ID || (n_out != VSW_OFFLOAD_PUNT && n_out > VSW_OFFLOAD_MAX_OUT)) {
        return -EINVAL;
    }
    if (rule_get(off, id)) {
        return -EEXIST;
    }
    if (id >= off->n_rules_alloc) {
        uint32_t n = off->n_rules_alloc ? off->n_rules_alloc : 64;
        while (n <= id) {
            n *= 2;
        }
        struct off_rule *r = realloc(off->rules, n * sizeof *r);
        if (!r) {
            return -ENOMEM;
        }
        memset(r + off->n_rules_alloc, 0, (n - off->n_rules_alloc) * sizeof *r);
        off->rules = r;
        off->n_rules_alloc = n;
    }
    int err = vsw_ofc_add(off->ofc, id, priority, seq, key, mask);
    if (err) {
        return err;
    }
    struct off_rule *r = &off->rules[id];
    memset(r, 0, sizeof *r);
    r->used = true;
    r->n_out = n_out;
    if (n_out != VSW_OFFLOAD_PUNT) {
        memcpy(r->out, outs, n_out * sizeof *outs);
    }
    off->n_rules++;
    return 0;
}

int
vsw_offload_rule_remove(struct vsw_offload *off, uint32_t id)
{
    struct off_rule *r = rule_get(off, id);
    if (!r) {
        return -ENOENT;
    }
    vsw_ofc_remove(off->ofc, id);
    r->used = false;
    off->n_rules--;
    return 0;
}

void
vsw_offload_rule_clear(struct vsw_offload *off)
{
    vsw_ofc_clear(off->ofc);
    if (off->rules) {
        memset(off->rules, 0, off->n_rules_alloc * sizeof *off->rules);
    }
    off->n_rules = 0;
}

/* -- ports -- */

int
vsw_offload_attach(struct vsw_offload *off, uint32_t port_no)
{
    if (port_no >= VSW_MAX_PORTS) {
        return -EINVAL;
    }
    port_offload[port_no] = off;
    return 0;
}

void
vsw_offload_detach(uint32_t port_no)
{
    if (port_no < VSW_MAX_PORTS) {
        port_offload[port_no] = NULL;
    }
}

void
vsw_offload_enable(struct vsw_offload *off, int enabled)
{
    off->enabled = enabled != 0;
}

/* -- deciding -- */

static bool
is_ip(const struct vsw_flow_key *k)
{
    return k->eth_type == RTE_BE16(0x0800) || k->eth_type == RTE_BE16(0x86dd);
}

/* What the offload answers for 'key' received on an attached port: the rule id
 * (MISS_ID: table-miss drop) and the megaflow mask in '*mask'; false if Python must
 * (punt, or a packet this mirror cannot speak for). */
static bool
decide(struct vsw_offload *off, const struct vsw_flow_key *key, uint32_t *rule_id,
       struct vsw_flow_key *mask)
{
    if (!off->enabled || key->recirc_id || key->vlan_tci || key->nw_frag
        || key->dp_hash || key->pkt_mark) {
        return false;
    }
    memset(mask, 0, sizeof *mask);
    int64_t id = vsw_ofc_lookup(off->ofc, key, mask);
    if (id >= 0) {
        const struct off_rule *r = rule_get(off, (uint32_t) id);
        if (!r || r->n_out == VSW_OFFLOAD_PUNT) {
            return false;
        }
        *rule_id = (uint32_t) id;
    } else {
        *rule_id = MISS_ID;
    }
    /* dp_hash and pkt_mark stay wildcarded: no mirrored rule can match them. */
    mask->in_port = UINT32_MAX;
    mask->recirc_id = UINT32_MAX;
    mask->eth_type = UINT16_MAX;
    mask->vlan_tci = UINT16_MAX;
    if (is_ip(key)) {
        mask->nw_frag = UINT8_MAX;
    }
    return true;
}

static uint32_t
encode_actions(const struct off_rule *r, uint32_t in_port, uint8_t *buf)
{
    uint32_t len = 0;
    if (!r) {
        return 0;      /* table miss: drop */
    }
    for (uint32_t i = 0; i < r->n_out; i++) {
        if (r->out[i] == in_port) {
            continue;  /* never back out of the input port (OpenFlow: use IN_PORT) */
        }
        struct vsw_action a = { .type = VSW_ACTION_OUTPUT, .len = sizeof a,
                                .arg = r->out[i] };
        memcpy(buf + len, &a, sizeof a);
        len += sizeof a;
    }
    return len;
}

static void
make_ufid(const struct vsw_offload *off, uint32_t slot, uint32_t gen, uint8_t ufid[16])
{
    /* The PMDs hash UFIDs by their first 32 bits: the slot goes there, the tag last. */
    memcpy(ufid, &slot, 4);
    memcpy(ufid + 4, &gen, 4);
    memcpy(ufid + 8, &off->tag, 8);
}

static struct off_flow *
flow_of_ufid(const struct vsw_offload *off, const uint8_t ufid[16])
{
    uint32_t slot, gen;
    if (memcmp(ufid + 8, &off->tag, 8)) {
        return NULL;
    }
    memcpy(&slot, ufid, 4);
    memcpy(&gen, ufid + 4, 4);
    if (slot >= off->n_slots_used || !off->flows[slot].live || off->flows[slot].gen != gen) {
        return NULL;
    }
    return &off->flows[slot];
}

static int
slot_alloc(struct vsw_offload *off, uint32_t *slot)
{
    if (off->n_free) {
        *slot = off->free_slots[--off->n_free];
        return 0;
    }
    if (off->n_slots_used == off->n_flows_alloc) {
        uint32_t n = off->n_flows_alloc ? off->n_flows_alloc * 2 : 1024;
        struct off_flow *f = realloc(off->flows, n * sizeof *f);
        if (!f) {
            return -ENOMEM;
        }
        off->flows = f;
        uint32_t *s = realloc(off->free_slots, n * sizeof *s);
        if (!s) {
            return -ENOMEM;
        }
        off->free_slots = s;
        memset(f + off->n_flows_alloc, 0, (n - off->n_flows_alloc) * sizeof *f);
        off->n_flows_alloc = n;
    }
    *slot = off->n_slots_used++;
    return 0;
}

static void
slot_free(struct vsw_offload *off, struct off_flow *f)
{
    f->live = false;
    f->gen++;
    off->free_slots[off->n_free++] = (uint32_t) (f - off->flows);
    off->stats.n_flows--;
}

static void
credit(struct vsw_offload *off, uint32_t rule_id, uint64_t packets, uint64_t bytes)
{
    struct off_rule *r = rule_id == MISS_ID ? NULL : rule_get(off, rule_id);
    if (r) {
        r->packets += packets;
        r->bytes += bytes;
    }
}

/* Deletes 'f' from the datapath, crediting what it counted since the last sweep. */
static void
flow_delete(struct vsw_offload *off, struct off_flow *f)
{
    uint8_t ufid[16];
    struct vsw_flow_info info;
    make_ufid(off, (uint32_t) (f - off->flows), f->gen, ufid);
    if (!vsw_flow_del(ufid, f->pmd, &info) && info.packets > f->packets) {
        credit(off, f->rule_id, info.packets - f->packets, info.bytes - f->bytes);
    }
    slot_free(off, f);
}

/* One drained batch: up to VSW_OFFLOAD_BATCH answered misses. */
#define VSW_OFFLOAD_BATCH 64
struct off_batch {
    unsigned n;
    struct vsw_flow_put puts[VSW_OFFLOAD_BATCH];
    uint32_t slots[VSW_OFFLOAD_BATCH];
    struct vsw_offload *offs[VSW_OFFLOAD_BATCH];
    struct vsw_exec execs[VSW_OFFLOAD_BATCH];
    int32_t pmds[VSW_OFFLOAD_BATCH];
    uint8_t actions[VSW_OFFLOAD_BATCH][VSW_OFFLOAD_MAX_OUT * sizeof(struct vsw_action)];
};

static void
batch_flush(struct off_batch *b)
{
    if (!b->n) {
        return;
    }
    vsw_flow_put(b->puts, b->n);
    for (unsigned i = 0; i < b->n; i++) {
        struct vsw_offload *off = b->offs[i];
        struct off_flow *f = &off->flows[b->slots[i]];
        if (b->puts[i].result == 0) {
            off->stats.installed++;
        } else {
            /* -EEXIST: an identical megaflow (an earlier miss of this batch, or one
             * Python installed) answers already. */
            slot_free(off, f);
        }
    }
    /* Executed per PMD, in order within each. */
    for (unsigned i = 0; i < b->n; i++) {
        if (b->pmds[i] < 0) {
            continue;
        }
        int32_t pmd = b->pmds[i];
        struct vsw_exec execs[VSW_OFFLOAD_BATCH];
        unsigned n = 0;
        for (unsigned j = i; j < b->n; j++) {
            if (b->pmds[j] == pmd) {
                execs[n++] = b->execs[j];
                b->pmds[j] = -1;
            }
        }
        vsw_execute_batch(pmd, execs, n);
    }
    b->n = 0;
}

/* Answers the miss 'u' into 'b' if an enabled offload speaks for its port. */
static bool
take(struct off_batch *b, const struct vsw_upcall *u)
{
    uint32_t in_port = u->key.in_port;
    struct vsw_offload *off = in_port < VSW_MAX_PORTS ? port_offload[in_port] : NULL;
    if (!off || u->type != VSW_UPCALL_MISS || u->len != u->orig_len) {
        return false;
    }
    uint32_t rule_id;
    struct vsw_flow_key mask;
    if (!decide(off, &u->key, &rule_id, &mask)) {
        off->stats.punted++;
        return false;
    }
    uint32_t slot;
    if (slot_alloc(off, &slot)) {
        return false;
    }
    unsigned i = b->n++;
    const struct off_rule *r = rule_id == MISS_ID ? NULL : rule_get(off, rule_id);
    struct off_flow *f = &off->flows[slot];
    f->live = true;
    f->rule_id = rule_id;
    f->pmd = (int32_t) u->pmd;
    f->packets = f->bytes = 0;
    f->mask = mask;
    const uint64_t *kw = (const uint64_t *) &u->key;
    const uint64_t *mw = (const uint64_t *) &mask;
    uint64_t *fw = (uint64_t *) &f->key;
    for (unsigned w = 0; w < VSW_FLOW_KEY_WORDS; w++) {
        fw[w] = kw[w] & mw[w];
    }
    off->stats.n_flows++;
    off->stats.handled++;
    off->stats.table_misses += rule_id == MISS_ID;
    credit(off, rule_id, 1, u->len);

    uint32_t alen = encode_actions(r, in_port, b->actions[i]);
    struct vsw_flow_put *p = &b->puts[i];
    memset(p, 0, sizeof *p);
    make_ufid(off, slot, f->gen, p->ufid);
    p->key = f->key;
    p->mask = mask;
    p->actions = b->actions[i];
    p->actions_len = alen;
    p->flags = VSW_PUT_CREATE;
    p->pmd = (int32_t) u->pmd;
    b->slots[i] = slot;
    b->offs[i] = off;
    b->pmds[i] = (int32_t) u->pmd;
    b->execs[i] = (struct vsw_exec) { .packet = u->packet, .actions = b->actions[i],
                                      .in_port = in_port, .len = u->len,
                                      .actions_len = alen };
    return true;
}

unsigned
vsw_offload_take(struct vsw_upcall *const *ups, unsigned n, bool *taken)
{
    static struct off_batch batch;   /* control thread only; too large for the stack */
    unsigned n_taken = 0;
    for (unsigned i = 0; i < n; i++) {
        taken[i] = take(&batch, ups[i]);
        n_taken += taken[i];
        if (batch.n == VSW_OFFLOAD_BATCH) {
            batch_flush(&batch);
        }
    }
    batch_flush(&batch);
    return n_taken;
}

/* -- revalidation, sweeping -- */

static bool
still_valid(struct vsw_offload *off, const struct off_flow *f)
{
    uint32_t in_port = f->key.in_port;
    if (in_port >= VSW_MAX_PORTS || port_offload[in_port] != off) {
        return false;
    }
    uint32_t rule_id;
    struct vsw_flow_key mask;
    if (!decide(off, &f->key, &rule_id, &mask) || rule_id != f->rule_id) {
        return false;
    }
    const uint64_t *nw = (const uint64_t *) &mask;
    const uint64_t *ow = (const uint64_t *) &f->mask;
    for (unsigned w = 0; w < VSW_FLOW_KEY_WORDS; w++) {
        if (nw[w] & ~ow[w]) {
            return false;   /* the answer now depends on bits the megaflow ignores */
        }
    }
    return true;
}

unsigned
vsw_offload_revalidate(struct vsw_offload *off)
{
    unsigned n = 0;
    for (uint32_t s = 0; s < off->n_slots_used; s++) {
        struct off_flow *f = &off->flows[s];
        if (f->live && !still_valid(off, f)) {
            flow_delete(off, f);
            n++;
        }
    }
    off->stats.revalidated += n;
    return n;
}

unsigned
vsw_offload_flush(struct vsw_offload *off)
{
    unsigned n = 0;
    for (uint32_t s = 0; s < off->n_slots_used; s++) {
        if (off->flows[s].live) {
            flow_delete(off, &off->flows[s]);
            n++;
        }
    }
    return n;
}

unsigned
vsw_offload_sweep(struct vsw_offload *off, uint64_t max_idle_ms)
{
    if (!off->stats.n_flows) {
        return 0;
    }
    static struct vsw_flow_info infos[256];
    uint64_t now = vsw_now_ms();
    uint32_t sweep = ++off->sweeps;
    /* Deleting waits for the end of the dumps, which a deletion would disturb. */
    for (unsigned pmd = 0; pmd < vsw_n_pmds(); pmd++) {
        uint64_t cursor = 0;
        int n;
        while ((n = vsw_flow_dump((int) pmd, infos, 256, &cursor)) > 0) {
            for (int i = 0; i < n; i++) {
                struct off_flow *f = flow_of_ufid(off, infos[i].ufid);
                if (!f) {
                    continue;
                }
                f->seen = sweep;
                if (infos[i].packets > f->packets) {
                    credit(off, f->rule_id, infos[i].packets - f->packets,
                           infos[i].bytes - f->bytes);
                    f->packets = infos[i].packets;
                    f->bytes = infos[i].bytes;
                }
                uint64_t last = infos[i].used_ms ? infos[i].used_ms : infos[i].created_ms;
                f->idle = now >= last && now - last >= max_idle_ms;
            }
        }
    }
    unsigned n_expired = 0;
    for (uint32_t s = 0; s < off->n_slots_used; s++) {
        struct off_flow *f = &off->flows[s];
        if (!f->live) {
            continue;
        }
        if (f->seen != sweep) {
            slot_free(off, f);    /* deleted behind its back (vsw_flow_flush) */
        } else if (f->idle) {
            flow_delete(off, f);
            n_expired++;
        }
    }
    off->stats.expired += n_expired;
    return n_expired;
}

unsigned
vsw_offload_credits(struct vsw_offload *off, struct vsw_offload_credit *out, unsigned max)
{
    unsigned n = 0;
    for (uint32_t id = 0; id < off->n_rules_alloc && n < max; id++) {
        struct off_rule *r = &off->rules[id];
        if (r->used && r->packets) {
            out[n++] = (struct vsw_offload_credit) { .id = id, .packets = r->packets,
                                                     .bytes = r->bytes };
            r->packets = r->bytes = 0;
        }
    }
    return n;
}

void
vsw_offload_get_stats(const struct vsw_offload *off, struct vsw_offload_stats *out)
{
    *out = off->stats;
    out->n_rules = off->n_rules;
}
