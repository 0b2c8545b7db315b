"""Builds the datapath core (cffi extension dpdk_glue._vsw); metadata lives in setup.cfg."""

from setuptools import setup

setup(cffi_modules=["dpdk_glue/build_glue.py:ffibuilder"])
