/* Table-0 offload: a bridge's OpenFlow table 0, mirrored into the core, answers the
 * datapath misses whose best rule only outputs to ports, without an upcall to Python.
 *
 * ofproto (ofproto/offload.py) loads every table-0 rule: its match as a (key, mask)
 * over struct vsw_flow_key, its rank, and either the datapath ports it outputs to or
 * "punt" (any other instructions: NORMAL, controller, goto_table, set-field...).  When
 * the control thread drains upcalls (vsw_upcall_recv), a miss received on a port
 * attached to an offload is looked up in the rules' classifier (vsw_ofc.h): if the
 * best rule outputs to ports (or no rule matches: table-miss drop), the core installs
 * the megaflow itself, masked with the bits the lookup examined, and executes the
 * packet; otherwise (punt, a VLAN tag, a fragment, recirculation) the upcall goes to
 * Python as before.  Only untagged, unfragmented packets are answered here, so a rule's
 * match means the same in key space as in OpenFlow.
 *
 * The offload keeps the megaflows it installed: vsw_offload_revalidate() re-looks them
 * up after rule changes and deletes those whose answer or mask changed, and
 * vsw_offload_sweep() reads their counters (credited to rules until drained with
 * vsw_offload_credits()) and expires idle ones.  Their UFIDs end with the offload's
 * 8-byte tag.
 *
 * Control thread only, like the rest of vsw.h.
 */
#ifndef VSW_OFFLOAD_H
#define VSW_OFFLOAD_H 1

#include <stdint.h>
#include "vsw_flow.h"

#define VSW_OFFLOAD_MAX_OUT 16
#define VSW_OFFLOAD_PUNT 0xffffffff    /* n_out of a rule Python must translate */

struct vsw_offload;

/* 'tag': the last 8 bytes of the UFIDs of its megaflows.  NULL on ENOMEM. */
struct vsw_offload *vsw_offload_create(uint64_t tag);
/* Detaches its ports and deletes its megaflows (their counters are lost). */
void vsw_offload_destroy(struct vsw_offload *);

/* Adds table-0 rule 'id' (ids are small integers chosen by the caller, reusable after
 * removal): 'outs[0..n_out)' are datapath ports, or n_out is VSW_OFFLOAD_PUNT.
 * 0, -EEXIST, -EINVAL (n_out above VSW_OFFLOAD_MAX_OUT), -ENOMEM.  A rule changed in
 * any way must be removed and added again (under a new id, so that megaflows of the
 * old one are found stale). */
int vsw_offload_rule_add(struct vsw_offload *, uint32_t id, uint32_t priority, uint64_t seq,
                         const struct vsw_flow_key *key, const struct vsw_flow_key *mask,
                         const uint32_t *outs, uint32_t n_out);
/* 0 or -ENOENT.  Credits not yet drained are dropped with the rule. */
int vsw_offload_rule_remove(struct vsw_offload *, uint32_t id);
void vsw_offload_rule_clear(struct vsw_offload *);

/* Misses received on 'port_no' are answered by this offload (a port has at most
 * one).  -EINVAL for a port number out of range. */
int vsw_offload_attach(struct vsw_offload *, uint32_t port_no);
/* Whatever offload 'port_no' was attached to, it is not any more. */
void vsw_offload_detach(uint32_t port_no);
/* While disabled (the initial state) every miss goes to Python. */
void vsw_offload_enable(struct vsw_offload *, int enabled);

/* Deletes the megaflows whose rule, mask or port attachment the current state would
 * not give (after rule, port or enable changes); returns how many. */
unsigned vsw_offload_revalidate(struct vsw_offload *);
/* Deletes every megaflow of the offload; returns how many. */
unsigned vsw_offload_flush(struct vsw_offload *);
/* Reads the counters of its megaflows (credited to their rules) and deletes those
 * idle for 'max_idle_ms' or more; returns how many it deleted. */
unsigned vsw_offload_sweep(struct vsw_offload *, uint64_t max_idle_ms);

struct vsw_offload_credit {
    uint32_t id;
    uint32_t pad;
    uint64_t packets, bytes;
};

/* Moves up to 'max' rules' pending credits into 'out' (and zeroes them); returns how
 * many.  Call until it returns less than 'max'. */
unsigned vsw_offload_credits(struct vsw_offload *, struct vsw_offload_credit *out,
                             unsigned max);

struct vsw_offload_stats {
    uint64_t handled;        /* misses answered by the offload (table-0 lookups) */
    uint64_t table_misses;   /* ... of which no rule matched (dropped) */
    uint64_t punted;         /* misses on attached ports handed to Python */
    uint64_t installed;      /* megaflows it installed */
    uint64_t revalidated;    /* ... deleted by vsw_offload_revalidate() */
    uint64_t expired;        /* ... deleted by vsw_offload_sweep() */
    uint32_t n_flows;        /* megaflows it holds now */
    uint32_t n_rules;
};

void vsw_offload_get_stats(const struct vsw_offload *, struct vsw_offload_stats *);

#endif
