"""cffi builder for the datapath core (out-of-line API mode).

``ffibuilder`` compiles every ``src/*.c`` file of dpdk_glue together with the module
glue into ``dpdk_glue._vsw``, against Debian's DPDK through pkg-config. What Python may
call is what ``include/vsw.h`` declares (cffi reads it preprocessed); setup.py lists this
builder in ``cffi_modules``, so a failed compile is a failed
install. Run it directly to build in place: ``python dpdk_glue/build_glue.py``.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from pathlib import Path

from cffi import FFI

HERE = Path(__file__).resolve().parent
_DEFINE_RE = re.compile(r"^#define (VSW_\w+) +(0x[0-9a-fA-F]+|\d+)\b", re.M)
# -Werror applies to our sources; the cffi-generated glue is compiled with the same
# flags and is clean under them.
# C11 with POSIX/GNU library declarations, which DPDK's headers use (strnlen).
CFLAGS = ["-std=c11", "-D_GNU_SOURCE", "-O3", "-g", "-Wall", "-Wextra", "-Werror",
          "-fno-strict-aliasing"]
if os.environ.get("VSW_SANITIZE"):
    CFLAGS += ["-fsanitize=address", "-fno-omit-frame-pointer", "-O1"]


def _cdefs() -> str:
    """The declarations of include/vsw.h (and the headers it includes) for cffi.

    Generated, so there is one copy of the API: the C preprocessor expands the public
    headers against empty standard headers (cffi knows the <stdint.h> types), static
    assertions are dropped, and integer #define constants are appended so Python can
    use them (lib.VSW_PUT_CREATE).
    """
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("stdint.h", "stddef.h"):
            Path(tmp, name).write_text("")
        out = subprocess.run(
            ["gcc", "-E", "-P", "-nostdinc", f"-I{tmp}", f"-I{HERE / 'include'}",
             "-D_Static_assert(cond,msg)=", "-"],
            input='#include "vsw.h"\n', capture_output=True, text=True, check=True).stdout
    decls = "\n".join(line for line in out.splitlines() if line.strip() != ";")
    defines = []
    for header in sorted((HERE / "include").glob("vsw*.h")):
        if header.name == "vsw_dp.h":   # internal to the core
            continue
        for m in _DEFINE_RE.finditer(header.read_text()):
            if not m.group(1).endswith("_H"):
                defines.append(f"#define {m.group(1)} {m.group(2)}")
    return decls + "\n" + "\n".join(defines) + "\n"


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
