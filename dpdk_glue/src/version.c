/* The DPDK version the core was built against, for ovs-vsctl's dpdk_version. */
#include <rte_version.h>

#include "vsw.h"

const char *
vsw_dpdk_version(void)
{
    return rte_version();
}
