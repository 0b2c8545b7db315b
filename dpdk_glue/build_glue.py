"""cffi builder for the datapath core (out-of-line API mode).

``ffibuilder`` compiles every ``src/*.c`` file of dpdk_glue together with the module
glue into ``dpdk_glue._vsw``, against Debian's DPDK through pkg-config. Each component
declares what Python may call in its own ``cdef/*.h`` (plain C declarations cffi can
parse); setup.py lists this builder in ``cffi_modules``, so a failed compile is a failed
install. Run it directly to build in place: ``python dpdk_glue/build_glue.py``.
"""

from __future__ import annotations

import os
from pathlib import Path

from cffi import FFI

HERE = Path(__file__).resolve().parent
# -Werror applies to our sources; the cffi-generated glue is compiled with the same
# flags and is clean under them.
# C11 with POSIX/GNU library declarations, which DPDK's headers use (strnlen).
CFLAGS = ["-std=c11", "-D_GNU_SOURCE", "-O3", "-g", "-Wall", "-Wextra", "-Werror",
          "-fno-strict-aliasing"]
if os.environ.get("VSW_SANITIZE"):
    CFLAGS += ["-fsanitize=address", "-fno-omit-frame-pointer", "-O1"]


def _cdefs() -> str:
    return "\n".join((p.read_text() for p in sorted((HERE / "cdef").glob("*.h"))))


def _sources() -> list[str]:
    return [str(p.relative_to(HERE.parent)) for p in sorted((HERE / "src").glob("*.c"))]


ffibuilder = FFI()
ffibuilder.cdef(_cdefs())
ffibuilder.set_source_pkgconfig(
    "dpdk_glue._vsw",
    ["libdpdk"],
    '#include "vsw.h"',
    sources=_sources(),
    include_dirs=[str(HERE / "include")],
    extra_compile_args=CFLAGS,
    extra_link_args=["-fsanitize=address"] if os.environ.get("VSW_SANITIZE") else [],
)

if __name__ == "__main__":
    os.chdir(HERE.parent)
    ffibuilder.compile(verbose=False)
