/* Megaflow classifier and exact-match cache (dpdk_glue/include/vsw_classifier.h).
 * struct vsw_flow_key is declared in flow.h. */
struct vsw_cls;

struct vsw_cls *vsw_cls_create(void);
void vsw_cls_destroy(struct vsw_cls *);
int vsw_cls_insert(struct vsw_cls *, const struct vsw_flow_key *key,
                   const struct vsw_flow_key *mask, void *data);
void *vsw_cls_remove(struct vsw_cls *, const struct vsw_flow_key *key,
                     const struct vsw_flow_key *mask);
void *vsw_cls_lookup(struct vsw_cls *, const struct vsw_flow_key *key);
void vsw_cls_lookup_batch(struct vsw_cls *, const struct vsw_flow_key *const keys[],
                          unsigned n, void *results[]);
void vsw_cls_rank(struct vsw_cls *);
unsigned vsw_cls_n_rules(const struct vsw_cls *);
unsigned vsw_cls_n_subtables(const struct vsw_cls *);

struct vsw_emc;

struct vsw_emc *vsw_emc_create(unsigned n_entries, unsigned insert_inv_prob);
void vsw_emc_destroy(struct vsw_emc *);
void *vsw_emc_lookup(struct vsw_emc *, const struct vsw_flow_key *key, uint32_t hash);
void vsw_emc_insert(struct vsw_emc *, const struct vsw_flow_key *key, uint32_t hash,
                    void *data);
void vsw_emc_forget(struct vsw_emc *, const void *data);
void vsw_emc_clear(struct vsw_emc *);
