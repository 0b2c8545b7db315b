const char *vsw_dpdk_version(void);
