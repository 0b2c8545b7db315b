"""C objects of the datapath core for tests that drive it directly through cffi."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from dpdk_glue._vsw import ffi


def owned(create: Callable[[], Any], destroy: Callable[[Any], None]) -> Iterator[Any]:
    """Yields the object ``create()`` returns (checked non-NULL), destroyed afterwards;
    for pytest fixtures: ``yield from owned(lib.vsw_cls_create, lib.vsw_cls_destroy)``."""
    obj = create()
    assert obj != ffi.NULL
    yield obj
    destroy(obj)
