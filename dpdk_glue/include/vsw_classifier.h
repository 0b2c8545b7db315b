/* The megaflow classifier and the exact-match cache (EMC) of one PMD thread.
 *
 * Both are single-threaded: each PMD owns its own, and every insert, remove and
 * lookup runs on that PMD.  Neither calls into DPDK, so they build and test anywhere.
 *
 * Classifier: tuple-space search.  Rules are (key, mask) pairs carrying an opaque
 * 'data' pointer; rules with equal masks share a subtable (a hash table keyed by the
 * masked key over the mask's nonzero words).  A separate set of subtables is kept per
 * in_port (megaflows always match in_port exactly), and within one in_port subtables
 * are searched in order of recent hit count, re-ranked by vsw_cls_rank().  Megaflows
 * never overlap, so the first hit is the answer.
 *
 * EMC: a direct-mapped cache from whole keys to 'data', looked up before the
 * classifier.
 */
#ifndef VSW_CLASSIFIER_H
#define VSW_CLASSIFIER_H 1

#include <stdint.h>
#include "vsw_flow.h"

struct vsw_cls;

struct vsw_cls *vsw_cls_create(void);
void vsw_cls_destroy(struct vsw_cls *);

/* Adds a rule.  'key' need not be pre-masked.  Returns 0, -EEXIST if a rule with the
 * same masked key and mask exists, -EINVAL if the mask does not match in_port exactly,
 * -ENOMEM. */
int vsw_cls_insert(struct vsw_cls *, const struct vsw_flow_key *key,
                   const struct vsw_flow_key *mask, void *data);

/* Removes the rule with this key and mask; returns its data, or NULL if none. */
void *vsw_cls_remove(struct vsw_cls *, const struct vsw_flow_key *key,
                     const struct vsw_flow_key *mask);

/* The data of the rule matching 'key', or NULL. */
void *vsw_cls_lookup(struct vsw_cls *, const struct vsw_flow_key *key);

/* Looks up keys[0..n) (n <= 32), storing each rule's data or NULL in results[]. */
void vsw_cls_lookup_batch(struct vsw_cls *, const struct vsw_flow_key *const keys[],
                          unsigned n, void *results[]);

/* Re-sorts each in_port's subtables by the hits since the last call, then resets
 * the counts.  Call every second or so. */
void vsw_cls_rank(struct vsw_cls *);

unsigned vsw_cls_n_rules(const struct vsw_cls *);
unsigned vsw_cls_n_subtables(const struct vsw_cls *);

struct vsw_emc;

/* 'n_entries' is rounded up to a power of 2.  'insert_inv_prob' is N for inserting
 * one miss in N (1 = always; OVS's default is 100), 0 disables insertion. */
struct vsw_emc *vsw_emc_create(unsigned n_entries, unsigned insert_inv_prob);
void vsw_emc_destroy(struct vsw_emc *);
void *vsw_emc_lookup(struct vsw_emc *, const struct vsw_flow_key *key, uint32_t hash);
/* Starts loading the set 'hash' maps to, so a batch can overlap its cache misses. */
void vsw_emc_prefetch(const struct vsw_emc *, uint32_t hash);
/* Maybe inserts (see insert_inv_prob). */
void vsw_emc_insert(struct vsw_emc *, const struct vsw_flow_key *key, uint32_t hash,
                    void *data);
/* Drops every entry whose data is 'data' (a flow being deleted). */
void vsw_emc_forget(struct vsw_emc *, const void *data);
void vsw_emc_clear(struct vsw_emc *);

#endif
