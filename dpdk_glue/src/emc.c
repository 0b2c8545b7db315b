/* Exact-match cache: whole flow key -> data, checked before the megaflow classifier.
 *
 * Layout: n_entries / 2 sets of 2 ways.  A key's set is hash & (n_sets - 1) and it may
 * sit in either way, which is the two-candidate-slot scheme of OVS's EMC but with both
 * candidates adjacent in memory, so a lookup touches one small region (the set header
 * and one key) rather than two random cache lines.  Each way stores the caller's
 * 32-bit hash, compared first, so a miss rarely reads a 128-byte key.
 *
 * Insertion is probabilistic (OVS's emc-insert-inv-prob): with many more flows than
 * entries, inserting every miss just thrashes the cache, while inserting one in N
 * lets long-lived heavy flows win the slots.  Replacement takes an empty way, else
 * the one written longer ago.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vsw_classifier.h"
#include "vsw_flow.h"

struct emc_set {
    uint32_t hash[2];
    void *data[2];              /* NULL: way empty */
    uint8_t newest;             /* way written last: the other one is evicted first */
    uint8_t pad[7];             /* keys start 32 bytes in, word-aligned */
    struct vsw_flow_key key[2];
};
_Static_assert(sizeof(struct emc_set) == 288, "emc_set layout");

struct vsw_emc {
    struct emc_set *sets;
    uint32_t set_mask;          /* n_sets - 1 */
    uint32_t rng;               /* xorshift32 state, never 0 */
    uint32_t insert_threshold;  /* insert when rng output <= this */
    bool insert_enabled;
};

struct vsw_emc *
vsw_emc_create(unsigned n_entries, unsigned insert_inv_prob)
{
    uint32_t n_sets = 1;
    /* Round up to a power of 2 (at least one 2-way set); cap keeps the size sane. */
    while (n_sets * 2 < n_entries && n_sets < (1u << 24)) {
        n_sets *= 2;
    }
    struct vsw_emc *emc = calloc(1, sizeof *emc);
    if (!emc) {
        return NULL;
    }
    /* Cache-line aligned so that a set's header and first key share lines
     * predictably. */
    size_t size = ((size_t) n_sets * sizeof *emc->sets + 63) & ~(size_t) 63;
    emc->sets = aligned_alloc(64, size);
    if (!emc->sets) {
        free(emc);
        return NULL;
    }
    memset(emc->sets, 0, size);
    emc->set_mask = n_sets - 1;
    /* Seeded from the address so that PMDs do not insert in lockstep. */
    uintptr_t a = (uintptr_t) emc;
    emc->rng = (uint32_t) (a ^ (a >> 32)) * 0x9e3779b1u | 1;
    emc->insert_enabled = insert_inv_prob != 0;
    emc->insert_threshold = insert_inv_prob ? UINT32_MAX / insert_inv_prob : 0;
    return emc;
}

void
vsw_emc_destroy(struct vsw_emc *emc)
{
    if (emc) {
        free(emc->sets);
        free(emc);
    }
}

/* Branch-free over all 16 words: the stored hash already matched, so the keys are
 * almost always equal and an early exit would only add mispredicted branches. */
static inline bool
key_equal(const struct vsw_flow_key *a, const struct vsw_flow_key *b)
{
    uint64_t diff = 0;
    for (unsigned i = 0; i < VSW_FLOW_KEY_WORDS; i++) {
        uint64_t x, y;
        memcpy(&x, (const char *) a + i * 8, 8);
        memcpy(&y, (const char *) b + i * 8, 8);
        diff |= x ^ y;
    }
    return !diff;
}

void *
vsw_emc_lookup(struct vsw_emc *emc, const struct vsw_flow_key *key, uint32_t hash)
{
    const struct emc_set *s = &emc->sets[hash & emc->set_mask];
    for (unsigned w = 0; w < 2; w++) {
        if (s->hash[w] == hash && s->data[w] && key_equal(&s->key[w], key)) {
            return s->data[w];
        }
    }
    return NULL;
}

void
vsw_emc_prefetch(const struct vsw_emc *emc, uint32_t hash)
{
    /* The set header and both keys span five cache lines; the header and the first
     * way's key are what a hit usually needs. */
    const char *s = (const char *) &emc->sets[hash & emc->set_mask];
    __builtin_prefetch(s);
    __builtin_prefetch(s + 64);
    __builtin_prefetch(s + 128);
}

static inline uint32_t
emc_random(struct vsw_emc *emc)
{
    uint32_t x = emc->rng;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    emc->rng = x;
    return x;
}

void
vsw_emc_insert(struct vsw_emc *emc, const struct vsw_flow_key *key, uint32_t hash,
               void *data)
{
    if (!emc->insert_enabled || !data || emc_random(emc) > emc->insert_threshold) {
        return;
    }
    struct emc_set *s = &emc->sets[hash & emc->set_mask];
    unsigned w;
    if (s->data[0] && s->hash[0] == hash && key_equal(&s->key[0], key)) {
        w = 0;                  /* already cached: refresh its data */
    } else if (s->data[1] && s->hash[1] == hash && key_equal(&s->key[1], key)) {
        w = 1;
    } else if (!s->data[0]) {
        w = 0;
    } else if (!s->data[1]) {
        w = 1;
    } else {
        w = !s->newest;
    }
    s->hash[w] = hash;
    s->data[w] = data;
    s->key[w] = *key;
    s->newest = (uint8_t) w;
}

void
vsw_emc_forget(struct vsw_emc *emc, const void *data)
{
    if (!data) {
        return;
    }
    for (uint32_t i = 0; i <= emc->set_mask; i++) {
        struct emc_set *s = &emc->sets[i];
        for (unsigned w = 0; w < 2; w++) {
            if (s->data[w] == data) {
                s->data[w] = NULL;
            }
        }
    }
}

void
vsw_emc_clear(struct vsw_emc *emc)
{
    for (uint32_t i = 0; i <= emc->set_mask; i++) {
        emc->sets[i].data[0] = NULL;
        emc->sets[i].data[1] = NULL;
    }
}
