/* OpenFlow table-0 classifier over datapath flow keys, with un-wildcarding.
 *
 * The control thread consults it on a datapath miss: it answers "which is the best
 * rule matching this key?" and reports which key bits that answer depended on, so the
 * caller can install a megaflow whose mask is exactly those bits.  It makes the same
 * rule choice as ofproto/classifier.py (tuple space search, priority-ordered
 * subtables with early exit, staged lookup: that file's techniques 1-3).
 *
 * Rules are (id, priority, seq, key, mask).  A key k matches a rule iff
 * (k & mask) == (key & mask) over all 128 bytes.  Rank: the higher priority wins; for
 * equal priorities the lower seq wins.  The caller gives every rule a seq no other
 * rule in the classifier has (OpenFlow's insertion order, say), so the best rule is
 * always unique.
 *
 * Single-threaded: every call on one classifier from one thread.  No DPDK calls.
 */
#ifndef VSW_OFC_H
#define VSW_OFC_H 1

#include <stdint.h>
#include "vsw_flow.h"

struct vsw_ofc;

/* A new empty classifier, or NULL on ENOMEM. */
struct vsw_ofc *vsw_ofc_create(void);
/* Frees it and its rules.  NULL is a no-op. */
void vsw_ofc_destroy(struct vsw_ofc *);

/* Adds rule 'id'.  0, -EEXIST (id in use), -ENOMEM (the classifier is unchanged).
 * 'key' need not be pre-masked.  Rules may share key, mask and priority (their seqs
 * break the tie); 'seq' must differ from every other rule's. */
int vsw_ofc_add(struct vsw_ofc *, uint32_t id, uint32_t priority, uint64_t seq,
                const struct vsw_flow_key *key, const struct vsw_flow_key *mask);

/* Removes rule 'id'.  0 or -ENOENT. */
int vsw_ofc_remove(struct vsw_ofc *, uint32_t id);

/* Removes every rule. */
void vsw_ofc_clear(struct vsw_ofc *);

unsigned vsw_ofc_n_rules(const struct vsw_ofc *);
/* The number of distinct masks among the rules. */
unsigned vsw_ofc_n_subtables(const struct vsw_ofc *);

/* The id of the best rule matching 'key', or -1 if none.  ORs into '*wc' every key bit
 * the decision depended on (see the invariant).
 *
 * Invariant: every key k2 with (k2 & *wc) == (key & *wc) has the same answer, with
 * '*wc' taken after the call.  Bits already in '*wc' are kept (the caller may
 * accumulate over several lookups); 'wc' may be NULL.  Not const: the subtable order
 * is brought up to date lazily here. */
int64_t vsw_ofc_lookup(struct vsw_ofc *, const struct vsw_flow_key *key, struct vsw_flow_key *wc);

#endif
