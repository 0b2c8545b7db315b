/* OpenFlow table-0 classifier with un-wildcarding (vsw_ofc.h).
 *
 * Relation to the rest.  ofproto/classifier.py is the reference: this is its
 * techniques 1-3 (read its design essay) over struct vsw_flow_key instead of named
 * fields, and it must pick the same rule.  Its technique 4 (field-level miss proofs)
 * is left out, so a miss may un-wildcard more bits than the Python classifier would,
 * never fewer than needed.  The control thread consults it on datapath misses and
 * turns the reported bits into the mask of the megaflow it installs; unlike the PMDs'
 * megaflow classifier (classifier.c) its rules overlap and have priorities, which is
 * why the lookup cannot stop at the first hit and must track what it examined.
 *
 * 1. Tuple space search.  One subtable per distinct mask; a rule table inside maps the
 *    masked key to a bucket of the rules with that masked key, a list sorted by rank
 *    whose head is the subtable's answer.
 * 2. Subtables are visited best-first by the best rank they hold (an indexed heap per
 *    subtable keeps it under removals); once the best match so far outranks the next
 *    subtable's best rank, no later subtable can win and the scan stops without
 *    un-wildcarding anything for them.  The order is re-sorted lazily, at the first
 *    lookup after some subtable's best rank changed, so bulk adds cost no sorting.
 * 3. Staged lookup.  The key is split into stages in header order: metadata [0,16),
 *    L2 [16,32), L3 [32,92), L4 [92,128).  For each stage with mask bits but the last,
 *    a subtable keeps a counted set of its rules' keys masked up to the end of that
 *    stage; the last stage's set is the rule table.  A packet missing at stage s is
 *    proven to match no rule of the subtable by the bits of stages 0..s alone, so
 *    only those are un-wildcarded: a rule on TCP ports does not pin the ports of a UDP
 *    packet, whose ip_proto already missed.  A hit un-wildcards the whole mask.
 *
 * Why the mask is correct: each subtable visit reads the packet under some mask and
 * ORs exactly that mask into wc; the decisions between visits (order, early exit)
 * depend only on the rules and on answers already covered by wc.  So every key that
 * agrees with the packet under wc takes the same path to the same rule.
 *
 * Representation.  A subtable's mask is flattened into "entries" (a word index and
 * that word's mask bits within one stage), stage by stage; word 11 straddles L3 and
 * L4 and so may appear twice with disjoint bits.  A masked key is the sequence of
 * entry values and the stage-s prefix is its first stage_end[s] values, so one
 * running hash over the entries yields every stage's hash, and a rule stores its
 * values once for all stages.  Hash tables are open addressing with linear probing
 * and backward-shift deletion, as in classifier.c, keeping the full hash per slot.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vsw_flow.h"
#include "vsw_ofc.h"

#define OFC_N_STAGES  4
#define OFC_MAX_ENT   (VSW_FLOW_KEY_WORDS + 1)   /* word 11 is split between L3 and L4 */
#define OFC_MIN_SLOTS 8u

/* Where each stage ends, in key bytes. */
static const unsigned stage_bytes_end[OFC_N_STAGES] = { 16, 32, 92, 128 };

struct ofc_rule {
    struct ofc_rule *next;      /* in its bucket: the next worse rank */
    struct ofc_subtable *st;
    uint64_t seq;
    uint32_t id;
    uint32_t priority;
    uint32_t hash;              /* of all entry values: the rule table's */
    uint32_t heap_idx;          /* in st->heap */
    uint64_t words[];           /* key & mask, one per entry of st */
};

/* Slot of an open-addressing table; 'ptr' NULL is empty.  What 'ptr' points to
 * depends on the table: a rule (id map; rule table: the bucket head), a subtable
 * (mask map), or a copy of a stage prefix's values (stage sets, counted by 'count'). */
struct ofc_slot {
    uint32_t hash;
    uint32_t count;
    void *ptr;
};

struct ofc_hmap {
    struct ofc_slot *slots;
    uint32_t mask;              /* n_slots - 1 */
    uint32_t n;
};

struct ofc_subtable {
    /* Read by every lookup: keep together at the front. */
    uint32_t max_pri;           /* the best rank held: heap[0]'s */
    uint64_t max_seq;
    unsigned n_ent;
    unsigned n_stages;          /* stages with mask bits; at least 1 */
    uint8_t stage_end[OFC_N_STAGES];          /* entries [0, stage_end[s]) */
    uint8_t ent_word[OFC_MAX_ENT];
    uint64_t ent_mask[OFC_MAX_ENT];
    struct ofc_hmap sets[OFC_N_STAGES - 1];   /* stages 0..n_stages-2 */
    struct ofc_hmap rules;      /* the last stage: masked key -> bucket head */

    struct ofc_rule **heap;     /* max-heap by rank; also the list of rules */
    uint32_t n_rules, heap_cap;
    uint32_t mask_hash;
    struct vsw_flow_key mask;
};

struct vsw_ofc {
    struct ofc_subtable **order;   /* by best rank, when !dirty */
    unsigned n_subtables, cap_subtables;
    bool dirty;
    struct ofc_hmap by_mask;       /* subtables */
    struct ofc_hmap by_id;         /* rules */
    unsigned n_rules;
};

/* ------------------------------------------------------------------ helpers */

static inline uint64_t
key_word(const struct vsw_flow_key *key, unsigned i)
{
    uint64_t w;
    memcpy(&w, (const char *) key + i * 8, 8);
    return w;
}

static inline uint64_t
rotl64(uint64_t x, unsigned r)
{
    return (x << r) | (x >> (64 - r));
}

/* A running hash, so that the hash of every stage prefix falls out of one pass. */
#define OFC_HASH_BASIS 0x243f6a8885a308d3ULL

static inline uint64_t
hash_add(uint64_t h, uint64_t w)
{
    h ^= w * 0x87c37b91114253d5ULL;
    return rotl64(h, 31) * 0x4cf5ad432745937fULL;
}

/* MurmurHash3's 64-bit finalizer; 'n' keeps prefixes of different lengths apart. */
static inline uint32_t
hash_finish(uint64_t h, unsigned n)
{
    h ^= n;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return (uint32_t) h;
}

static inline uint32_t
hash_id(uint32_t id)
{
    return hash_finish(hash_add(OFC_HASH_BASIS, id), 1);
}

static uint32_t
hash_mask(const struct vsw_flow_key *mask)
{
    uint64_t h = OFC_HASH_BASIS;
    for (unsigned i = 0; i < VSW_FLOW_KEY_WORDS; i++) {
        h = hash_add(h, key_word(mask, i));
    }
    return hash_finish(h, VSW_FLOW_KEY_WORDS);
}

/* 'a' outranks 'b'. */
static inline bool
rank_better(uint32_t pri_a, uint64_t seq_a, uint32_t pri_b, uint64_t seq_b)
{
    return pri_a > pri_b || (pri_a == pri_b && seq_a < seq_b);
}

static inline bool
rule_better(const struct ofc_rule *a, const struct ofc_rule *b)
{
    return rank_better(a->priority, a->seq, b->priority, b->seq);
}

static inline bool
words_eq(const uint64_t *a, const uint64_t *b, unsigned n)
{
    uint64_t diff = 0;
    for (unsigned i = 0; i < n; i++) {
        diff |= a[i] ^ b[i];
    }
    return !diff;
}

/* ------------------------------------------------------------------ hmap */

static int
hmap_init(struct ofc_hmap *map)
{
    map->slots = calloc(OFC_MIN_SLOTS, sizeof *map->slots);
    if (!map->slots) {
        return -ENOMEM;
    }
    map->mask = OFC_MIN_SLOTS - 1;
    map->n = 0;
    return 0;
}

static void
hmap_destroy(struct ofc_hmap *map)
{
    free(map->slots);
    map->slots = NULL;
}

/* Puts a slot that is known to be absent; the table must have an empty slot. */
static void
slots_put(struct ofc_slot *slots, uint32_t m, uint32_t hash, uint32_t count, void *ptr)
{
    uint32_t i = hash & m;
    while (slots[i].ptr) {
        i = (i + 1) & m;
    }
    slots[i].hash = hash;
    slots[i].count = count;
    slots[i].ptr = ptr;
}

static int
hmap_resize(struct ofc_hmap *map, uint32_t n_slots)
{
    struct ofc_slot *ns = calloc(n_slots, sizeof *ns);
    if (!ns) {
        return -ENOMEM;
    }
    for (uint32_t i = 0; i <= map->mask; i++) {
        const struct ofc_slot *s = &map->slots[i];
        if (s->ptr) {
            slots_put(ns, n_slots - 1, s->hash, s->count, s->ptr);
        }
    }
    free(map->slots);
    map->slots = ns;
    map->mask = n_slots - 1;
    return 0;
}

/* Makes room for one more entry, so that the insertion that follows cannot fail:
 * the load factor stays at most 3/4, which also guarantees probes meet an empty slot. */
static int
hmap_reserve(struct ofc_hmap *map)
{
    if ((uint64_t) (map->n + 1) * 4 > (uint64_t) (map->mask + 1) * 3) {
        if (map->mask >= UINT32_MAX / 4) {
            return -ENOMEM;
        }
        return hmap_resize(map, (map->mask + 1) * 2);
    }
    return 0;
}

static void
hmap_put(struct ofc_hmap *map, uint32_t hash, uint32_t count, void *ptr)
{
    slots_put(map->slots, map->mask, hash, count, ptr);
    map->n++;
}

/* Backward-shift deletion: no tombstones, so probe lengths never degrade with churn. */
static void
hmap_delete_pos(struct ofc_hmap *map, uint32_t i)
{
    uint32_t m = map->mask;
    struct ofc_slot *s = map->slots;
    uint32_t j = i;
    for (;;) {
        j = (j + 1) & m;
        if (!s[j].ptr) {
            break;
        }
        uint32_t home = s[j].hash & m;
        /* s[j] may move into the hole at i only if i lies on its probe path. */
        if (((j - home) & m) >= ((j - i) & m)) {
            s[i] = s[j];
            i = j;
        }
    }
    s[i].ptr = NULL;
    s[i].hash = 0;
    s[i].count = 0;
    map->n--;
}

/* Best effort, so that a table emptied by churn does not keep its peak memory;
 * shrinking at 1/8 against growing at 3/4 avoids resize ping-pong. */
static void
hmap_maybe_shrink(struct ofc_hmap *map)
{
    if (map->mask + 1 > OFC_MIN_SLOTS && (uint64_t) map->n * 8 < (uint64_t) map->mask + 1) {
        hmap_resize(map, (map->mask + 1) / 2);
    }
}

/* Slot index of the member with these 'n' values, or -1.  A stage-set slot points at
 * its values; a rule-bucket slot ('buckets') at its head rule, which holds them. */
static inline long
slot_find(const struct ofc_hmap *map, uint32_t hash, const uint64_t *vals, unsigned n,
          bool buckets)
{
    uint32_t m = map->mask;
    for (uint32_t i = hash & m;; i = (i + 1) & m) {
        const struct ofc_slot *s = &map->slots[i];
        if (!s->ptr) {
            return -1;
        }
        if (s->hash == hash
            && words_eq(buckets ? ((const struct ofc_rule *) s->ptr)->words : s->ptr,
                        vals, n)) {
            return i;
        }
    }
}

static inline long
set_find(const struct ofc_hmap *map, uint32_t hash, const uint64_t *vals, unsigned n)
{
    return slot_find(map, hash, vals, n, false);
}

static inline long
bucket_find(const struct ofc_hmap *map, uint32_t hash, const uint64_t *vals, unsigned n)
{
    return slot_find(map, hash, vals, n, true);
}

static long
id_find(const struct ofc_hmap *map, uint32_t id)
{
    uint32_t hash = hash_id(id);
    uint32_t m = map->mask;
    for (uint32_t i = hash & m;; i = (i + 1) & m) {
        const struct ofc_slot *s = &map->slots[i];
        if (!s->ptr) {
            return -1;
        }
        if (s->hash == hash && ((const struct ofc_rule *) s->ptr)->id == id) {
            return i;
        }
    }
}

/* Slot index of exactly this pointer (which must be in 'map' under 'hash'). */
static uint32_t
ptr_find(const struct ofc_hmap *map, uint32_t hash, const void *ptr)
{
    uint32_t m = map->mask;
    uint32_t i = hash & m;
    while (map->slots[i].ptr != ptr) {
        i = (i + 1) & m;
    }
    return i;
}

/* ------------------------------------------------------------------ rank heap */

static inline void
heap_set(struct ofc_subtable *st, uint32_t i, struct ofc_rule *r)
{
    st->heap[i] = r;
    r->heap_idx = i;
}

static void
heap_sift_up(struct ofc_subtable *st, uint32_t i)
{
    struct ofc_rule *r = st->heap[i];
    while (i > 0) {
        uint32_t parent = (i - 1) / 2;
        if (!rule_better(r, st->heap[parent])) {
            break;
        }
        heap_set(st, i, st->heap[parent]);
        i = parent;
    }
    heap_set(st, i, r);
}

static void
heap_sift_down(struct ofc_subtable *st, uint32_t i)
{
    struct ofc_rule *r = st->heap[i];
    uint32_t n = st->n_rules;
    for (;;) {
        uint32_t c = 2 * i + 1;
        if (c >= n) {
            break;
        }
        if (c + 1 < n && rule_better(st->heap[c + 1], st->heap[c])) {
            c++;
        }
        if (!rule_better(st->heap[c], r)) {
            break;
        }
        heap_set(st, i, st->heap[c]);
        i = c;
    }
    heap_set(st, i, r);
}

static void
heap_remove(struct ofc_subtable *st, struct ofc_rule *r)
{
    uint32_t i = r->heap_idx;
    struct ofc_rule *last = st->heap[--st->n_rules];
    if (last != r) {
        heap_set(st, i, last);
        heap_sift_up(st, i);
        heap_sift_down(st, last->heap_idx);
    }
}

/* Refreshes the cached best rank; a change invalidates the subtable order. */
static void
st_update_max(struct vsw_ofc *ofc, struct ofc_subtable *st)
{
    if (!st->n_rules) {
        return;
    }
    const struct ofc_rule *top = st->heap[0];
    if (top->priority != st->max_pri || top->seq != st->max_seq) {
        st->max_pri = top->priority;
        st->max_seq = top->seq;
        ofc->dirty = true;
    }
}

/* ------------------------------------------------------------------ subtables */

static void
st_destroy(struct ofc_subtable *st)
{
    for (uint32_t i = 0; i < st->n_rules; i++) {
        free(st->heap[i]);
    }
    for (unsigned s = 0; s + 1 < st->n_stages; s++) {
        struct ofc_hmap *set = &st->sets[s];
        for (uint32_t i = 0; set->slots && i <= set->mask; i++) {
            free(set->slots[i].ptr);
        }
        hmap_destroy(set);
    }
    hmap_destroy(&st->rules);
    free(st->heap);
    free(st);
}

/* Splits 'mask' into entries stage by stage: each word's bits within one stage's byte
 * range (built bytewise, so independent of the host's byte order). */
static struct ofc_subtable *
st_create(const struct vsw_flow_key *mask, uint32_t mask_hash)
{
    struct ofc_subtable *st = calloc(1, sizeof *st);
    if (!st) {
        return NULL;
    }
    st->mask = *mask;
    st->mask_hash = mask_hash;
    const uint8_t *mb = (const uint8_t *) mask;
    unsigned begin = 0;
    for (unsigned s = 0; s < OFC_N_STAGES; s++) {
        unsigned end = stage_bytes_end[s];
        unsigned n_before = st->n_ent;
        for (unsigned w = begin / 8; w * 8 < end; w++) {
            uint8_t bytes[8] = { 0 };
            for (unsigned b = 0; b < 8; b++) {
                unsigned pos = w * 8 + b;
                if (pos >= begin && pos < end) {
                    bytes[b] = mb[pos];
                }
            }
            uint64_t m;
            memcpy(&m, bytes, 8);
            if (m) {
                st->ent_word[st->n_ent] = (uint8_t) w;
                st->ent_mask[st->n_ent] = m;
                st->n_ent++;
            }
        }
        if (st->n_ent > n_before) {
            st->stage_end[st->n_stages++] = (uint8_t) st->n_ent;
        }
        begin = end;
    }
    if (!st->n_stages) {
        /* All-zero mask: one stage of no entries, whose single bucket every key hits. */
        st->stage_end[st->n_stages++] = 0;
    }
    bool ok = !hmap_init(&st->rules);
    for (unsigned s = 0; s + 1 < st->n_stages; s++) {
        ok = !hmap_init(&st->sets[s]) && ok;
    }
    if (!ok) {
        st_destroy(st);
        return NULL;
    }
    return st;
}

static void
st_rule_values(const struct ofc_subtable *st, const struct vsw_flow_key *key,
               uint64_t *vals)
{
    for (unsigned i = 0; i < st->n_ent; i++) {
        vals[i] = key_word(key, st->ent_word[i]) & st->ent_mask[i];
    }
}

/* The hash of the stage prefixes of 'vals': hashes[s] for each stage s. */
static void
st_stage_hashes(const struct ofc_subtable *st, const uint64_t *vals, uint32_t *hashes)
{
    uint64_t h = OFC_HASH_BASIS;
    unsigned i = 0;
    for (unsigned s = 0; s < st->n_stages; s++) {
        for (; i < st->stage_end[s]; i++) {
            h = hash_add(h, vals[i]);
        }
        hashes[s] = hash_finish(h, i);
    }
}

static inline void
wc_or_entries(const struct ofc_subtable *st, unsigned n, uint64_t *wcw)
{
    for (unsigned i = 0; i < n; i++) {
        wcw[st->ent_word[i]] |= st->ent_mask[i];
    }
}

/* The subtable's candidate for 'key' (its bucket head), or NULL; ORs what it read
 * into 'wcw': the stages up to the one that missed, or the whole mask on a hit. */
static inline const struct ofc_rule *
st_lookup(const struct ofc_subtable *st, const struct vsw_flow_key *key, uint64_t *wcw)
{
    uint64_t vals[OFC_MAX_ENT];
    uint64_t h = OFC_HASH_BASIS;
    unsigned i = 0;
    unsigned last = st->n_stages - 1;

    for (unsigned s = 0; s < last; s++) {
        for (; i < st->stage_end[s]; i++) {
            vals[i] = key_word(key, st->ent_word[i]) & st->ent_mask[i];
            h = hash_add(h, vals[i]);
        }
        if (set_find(&st->sets[s], hash_finish(h, i), vals, i) < 0) {
            wc_or_entries(st, i, wcw);
            return NULL;
        }
    }
    for (; i < st->n_ent; i++) {
        vals[i] = key_word(key, st->ent_word[i]) & st->ent_mask[i];
        h = hash_add(h, vals[i]);
    }
    wc_or_entries(st, i, wcw);
    long pos = bucket_find(&st->rules, hash_finish(h, i), vals, i);
    return pos < 0 ? NULL : st->rules.slots[pos].ptr;
}

/* ------------------------------------------------------------------ classifier */

struct vsw_ofc *
vsw_ofc_create(void)
{
    struct vsw_ofc *ofc = calloc(1, sizeof *ofc);
    if (!ofc) {
        return NULL;
    }
    if (hmap_init(&ofc->by_mask) || hmap_init(&ofc->by_id)) {
        hmap_destroy(&ofc->by_mask);
        free(ofc);
        return NULL;
    }
    return ofc;
}

static void
destroy_subtables(struct vsw_ofc *ofc)
{
    for (unsigned i = 0; i < ofc->n_subtables; i++) {
        st_destroy(ofc->order[i]);
    }
    ofc->n_subtables = 0;
    ofc->n_rules = 0;
}

void
vsw_ofc_destroy(struct vsw_ofc *ofc)
{
    if (!ofc) {
        return;
    }
    destroy_subtables(ofc);
    free(ofc->order);
    hmap_destroy(&ofc->by_mask);
    hmap_destroy(&ofc->by_id);
    free(ofc);
}

void
vsw_ofc_clear(struct vsw_ofc *ofc)
{
    destroy_subtables(ofc);
    /* Back to minimal tables; if that allocation fails, keep the old ones emptied. */
    struct ofc_hmap maps[2];
    struct ofc_hmap *old[2] = { &ofc->by_mask, &ofc->by_id };
    for (unsigned k = 0; k < 2; k++) {
        if (!hmap_init(&maps[k])) {
            hmap_destroy(old[k]);
            *old[k] = maps[k];
        } else {
            memset(old[k]->slots, 0, (old[k]->mask + 1) * sizeof *old[k]->slots);
            old[k]->n = 0;
        }
    }
    ofc->dirty = false;
}

static struct ofc_subtable *
find_subtable(const struct vsw_ofc *ofc, const struct vsw_flow_key *mask, uint32_t hash)
{
    const struct ofc_hmap *map = &ofc->by_mask;
    for (uint32_t i = hash & map->mask;; i = (i + 1) & map->mask) {
        struct ofc_subtable *st = map->slots[i].ptr;
        if (!st) {
            return NULL;
        }
        if (map->slots[i].hash == hash && !memcmp(&st->mask, mask, sizeof *mask)) {
            return st;
        }
    }
}

/* Unlinks an (empty or new) subtable; the order of the others is kept, so it stays
 * sorted. */
static void
unlink_subtable(struct vsw_ofc *ofc, struct ofc_subtable *st)
{
    hmap_delete_pos(&ofc->by_mask, ptr_find(&ofc->by_mask, st->mask_hash, st));
    for (unsigned i = 0; i < ofc->n_subtables; i++) {
        if (ofc->order[i] == st) {
            memmove(&ofc->order[i], &ofc->order[i + 1],
                    (ofc->n_subtables - i - 1) * sizeof ofc->order[0]);
            ofc->n_subtables--;
            break;
        }
    }
    st_destroy(st);
    hmap_maybe_shrink(&ofc->by_mask);
}

/* Doubles the capacity of array v of elem-byte elements (8 to start with) and returns
 * it, or NULL, in which case v and *cap are unchanged.  Returning the array, rather
 * than storing it through a void **, keeps callers' typed pointers free of aliasing
 * casts. */
static void *
grow_array(void *v, unsigned *cap, size_t elem)
{
    unsigned n = *cap ? *cap * 2 : 8;
    void *p = realloc(v, n * elem);
    if (p) {
        *cap = n;
    }
    return p;
}

static struct ofc_subtable *
create_subtable(struct vsw_ofc *ofc, const struct vsw_flow_key *mask, uint32_t hash)
{
    if (ofc->n_subtables == ofc->cap_subtables) {
        struct ofc_subtable **order = grow_array(ofc->order, &ofc->cap_subtables,
                                                 sizeof *order);
        if (!order) {
            return NULL;
        }
        ofc->order = order;
    }
    if (hmap_reserve(&ofc->by_mask)) {
        return NULL;
    }
    struct ofc_subtable *st = st_create(mask, hash);
    if (!st) {
        return NULL;
    }
    hmap_put(&ofc->by_mask, hash, 0, st);
    /* Placed by the next re-sort, once it holds a rule. */
    ofc->order[ofc->n_subtables++] = st;
    ofc->dirty = true;
    return st;
}

int
vsw_ofc_add(struct vsw_ofc *ofc, uint32_t id, uint32_t priority, uint64_t seq,
            const struct vsw_flow_key *key, const struct vsw_flow_key *mask)
{
    if (id_find(&ofc->by_id, id) >= 0) {
        return -EEXIST;
    }
    if (hmap_reserve(&ofc->by_id)) {
        return -ENOMEM;
    }
    uint32_t mask_hash = hash_mask(mask);
    struct ofc_subtable *st = find_subtable(ofc, mask, mask_hash);
    bool new_st = false;
    if (!st) {
        st = create_subtable(ofc, mask, mask_hash);
        if (!st) {
            return -ENOMEM;
        }
        new_st = true;
    }

    /* Everything that can fail comes first, so a failure leaves no trace: room in
     * every table, the rule, and copies of the stage prefixes new to their sets. */
    uint64_t *new_pfx[OFC_N_STAGES - 1] = { NULL };
    long pfx_pos[OFC_N_STAGES - 1];
    uint32_t hashes[OFC_N_STAGES];
    unsigned last = st->n_stages - 1;
    struct ofc_rule *rule = NULL;

    if (st->n_rules == st->heap_cap) {
        struct ofc_rule **heap = grow_array(st->heap, &st->heap_cap, sizeof *heap);
        if (!heap) {
            goto fail;
        }
        st->heap = heap;
    }
    if (hmap_reserve(&st->rules)) {
        goto fail;
    }
    for (unsigned s = 0; s < last; s++) {
        if (hmap_reserve(&st->sets[s])) {
            goto fail;
        }
    }
    rule = malloc(sizeof *rule + st->n_ent * sizeof rule->words[0]);
    if (!rule) {
        goto fail;
    }
    st_rule_values(st, key, rule->words);
    st_stage_hashes(st, rule->words, hashes);
    for (unsigned s = 0; s < last; s++) {
        unsigned n = st->stage_end[s];
        pfx_pos[s] = set_find(&st->sets[s], hashes[s], rule->words, n);
        if (pfx_pos[s] < 0) {
            new_pfx[s] = malloc(n * sizeof(uint64_t));
            if (!new_pfx[s]) {
                goto fail;
            }
            memcpy(new_pfx[s], rule->words, n * sizeof(uint64_t));
        }
    }

    /* Commit: nothing below can fail. */
    rule->next = NULL;
    rule->st = st;
    rule->seq = seq;
    rule->id = id;
    rule->priority = priority;
    rule->hash = hashes[last];
    for (unsigned s = 0; s < last; s++) {
        if (new_pfx[s]) {
            hmap_put(&st->sets[s], hashes[s], 1, new_pfx[s]);
        } else {
            st->sets[s].slots[pfx_pos[s]].count++;
        }
    }
    long pos = bucket_find(&st->rules, rule->hash, rule->words, st->n_ent);
    if (pos < 0) {
        hmap_put(&st->rules, rule->hash, 0, rule);
    } else {
        struct ofc_rule *head = st->rules.slots[pos].ptr;
        if (rule_better(rule, head)) {
            rule->next = head;
            st->rules.slots[pos].ptr = rule;
        } else {
            struct ofc_rule *p = head;
            while (p->next && rule_better(p->next, rule)) {
                p = p->next;
            }
            rule->next = p->next;
            p->next = rule;
        }
    }
    heap_set(st, st->n_rules++, rule);
    heap_sift_up(st, rule->heap_idx);
    st_update_max(ofc, st);
    hmap_put(&ofc->by_id, hash_id(id), 0, rule);
    ofc->n_rules++;
    return 0;

fail:
    for (unsigned s = 0; s < last; s++) {
        free(new_pfx[s]);
    }
    free(rule);
    if (new_st) {
        unlink_subtable(ofc, st);
    }
    return -ENOMEM;
}

int
vsw_ofc_remove(struct vsw_ofc *ofc, uint32_t id)
{
    long id_pos = id_find(&ofc->by_id, id);
    if (id_pos < 0) {
        return -ENOENT;
    }
    struct ofc_rule *rule = ofc->by_id.slots[id_pos].ptr;
    struct ofc_subtable *st = rule->st;
    hmap_delete_pos(&ofc->by_id, (uint32_t) id_pos);
    hmap_maybe_shrink(&ofc->by_id);
    ofc->n_rules--;

    if (st->n_rules == 1) {
        unlink_subtable(ofc, st);    /* frees the rule */
        return 0;
    }

    long pos = bucket_find(&st->rules, rule->hash, rule->words, st->n_ent);
    struct ofc_rule *head = st->rules.slots[pos].ptr;
    if (head != rule) {
        struct ofc_rule *p = head;
        while (p->next != rule) {
            p = p->next;
        }
        p->next = rule->next;
    } else if (rule->next) {
        st->rules.slots[pos].ptr = rule->next;
    } else {
        hmap_delete_pos(&st->rules, (uint32_t) pos);
        hmap_maybe_shrink(&st->rules);
    }

    uint32_t hashes[OFC_N_STAGES];
    st_stage_hashes(st, rule->words, hashes);
    for (unsigned s = 0; s + 1 < st->n_stages; s++) {
        struct ofc_hmap *set = &st->sets[s];
        long p = set_find(set, hashes[s], rule->words, st->stage_end[s]);
        if (!--set->slots[p].count) {
            free(set->slots[p].ptr);
            hmap_delete_pos(set, (uint32_t) p);
            hmap_maybe_shrink(set);
        }
    }

    heap_remove(st, rule);
    st_update_max(ofc, st);
    free(rule);
    return 0;
}

static int
cmp_subtables(const void *a_, const void *b_)
{
    const struct ofc_subtable *a = *(const struct ofc_subtable *const *) a_;
    const struct ofc_subtable *b = *(const struct ofc_subtable *const *) b_;
    if (rank_better(a->max_pri, a->max_seq, b->max_pri, b->max_seq)) {
        return -1;
    }
    return rank_better(b->max_pri, b->max_seq, a->max_pri, a->max_seq);
}

int64_t
vsw_ofc_lookup(struct vsw_ofc *ofc, const struct vsw_flow_key *key, struct vsw_flow_key *wc)
{
    if (ofc->dirty) {
        qsort(ofc->order, ofc->n_subtables, sizeof ofc->order[0], cmp_subtables);
        ofc->dirty = false;
    }
    uint64_t wcw[VSW_FLOW_KEY_WORDS] = { 0 };
    const struct ofc_rule *best = NULL;
    for (unsigned i = 0; i < ofc->n_subtables; i++) {
        const struct ofc_subtable *st = ofc->order[i];
        /* The order is by best rank, so no later subtable can win either. */
        if (best && rank_better(best->priority, best->seq, st->max_pri, st->max_seq)) {
            break;
        }
        const struct ofc_rule *r = st_lookup(st, key, wcw);
        if (r && (!best || rule_better(r, best))) {
            best = r;
        }
    }
    if (wc) {
        for (unsigned i = 0; i < VSW_FLOW_KEY_WORDS; i++) {
            uint64_t w = key_word(wc, i) | wcw[i];
            memcpy((char *) wc + i * 8, &w, 8);
        }
    }
    return best ? (int64_t) best->id : -1;
}

unsigned
vsw_ofc_n_rules(const struct vsw_ofc *ofc)
{
    return ofc->n_rules;
}

unsigned
vsw_ofc_n_subtables(const struct vsw_ofc *ofc)
{
    return ofc->n_subtables;
}
