/* The datapath core's API to Python (cffi): coarse operations only.
 *
 * Every rte_* call stays behind this API.  The core's state is self-contained: PMD
 * threads never see Python objects, and everything between the reactor and the PMDs
 * crosses through the core's rings.
 */
#ifndef VSW_H
#define VSW_H 1

#include <stddef.h>
#include <stdint.h>

/* "DPDK 22.11.x": the version of DPDK the core runs on. */
const char *vsw_dpdk_version(void);

#endif
