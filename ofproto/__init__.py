"""The OpenFlow switch: codec, connections, flow tables, NORMAL and xlate (a later step).

Instantiated per bridge by :mod:`appliance`; talks to the datapath only through a dpif.
"""
