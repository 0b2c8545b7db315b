"""The userspace datapath's C core on DPDK, bound through cffi (built in a later step).

Nothing here is imported by :mod:`ovsdb`; :mod:`appliance.dpif` will be its only user.
"""
