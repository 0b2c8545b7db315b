"""vswitchd's job: reconcile the OVSDB configuration into ofproto bridges and datapath ports.

Depends on :mod:`ovsdb` (as a client) and, later, :mod:`ofproto` and :mod:`dpdk_glue`.
"""
