"""Build script for the C DSP core: compiles native/*.c into appliance.dsp._native.

cffi out-of-line API mode. The cdef is the headers themselves, lightly filtered:
comments and preprocessor lines are dropped, ``#define NAME value`` becomes
``#define NAME ...`` unless the value is an integer, and every
``*_state_t`` struct is made partial (``...;``) so Python can allocate a state without
knowing its fields. Run by ``pip install`` through ``setup.py`` (cffi_modules).
"""

import os
import re
import sys
from pathlib import Path

from cffi import FFI

sys.path.insert(0, str(Path(__file__).resolve().parent))
from build_id import NATIVE, build_id, headers, sources  # noqa: E402

ROOT = NATIVE.parent

_COMMENT = re.compile(r"/\*.*?\*/|//[^\n]*", re.S)
_STATE_STRUCT = re.compile(r"typedef\s+struct\s*\w*\s*\{[^{}]*\}\s*(\w+_state_t)\s*;", re.S)
_DEFINE = re.compile(r"^[ \t]*#define[ \t]+(\w+)[ \t]+(\S.*?)[ \t]*$", re.M)
_INTEGER = re.compile(r"^\(?\s*(\d+)\s*\)?$")


def _define(match):
    """Non-negative integers stay literal (array sizes need them); the compiler
    supplies the rest (cffi parses no negative or computed values)."""
    name, value = match.groups()
    number = _INTEGER.match(value)
    return "#define %s %s" % (name, number.group(1) if number else "...")





def cdef_of(header_text):
    text = _COMMENT.sub("", header_text)
    text = _DEFINE.sub(_define, text)
    text = "\n".join(
        line for line in text.splitlines()
        if not line.lstrip().startswith("#") or _DEFINE.match(line)
    )
    return _STATE_STRUCT.sub(lambda m: "typedef struct { ...; } %s;" % m.group(1), text)


def _compile_args():
    # -std=c99 alone turns off a*b+c contraction; allow it, so the AVX2/FMA versions of the
    # hot loops (cpu_internal.h) use fused multiply-adds. Baseline x86-64 has no FMA, so
    # its code is unchanged.
    args = ["-std=c99", "-O3", "-ffp-contract=fast", "-Wall", "-Wextra", "-Wconversion"]
    # Portable by default; native tuning only on request (never -ffast-math: see NOTES).
    if os.environ.get("APPLIANCE_NATIVE_TUNE"):
        args.append("-march=native")
    return args


ffibuilder = FFI()
_BUILD_ID = build_id()
ffibuilder.cdef(
    "\n".join(cdef_of(h.read_text()) for h in headers())
    + "\nconst char *dsp_build_id(void);\n"
)
ffibuilder.set_source(
    "appliance.dsp._native",
    "\n".join('#include "%s"' % h.name for h in headers())
    + '\nconst char *dsp_build_id(void) { return "%s"; }\n' % _BUILD_ID,
    sources=[os.path.relpath(s, ROOT) for s in sources()],
    include_dirs=[os.path.relpath(NATIVE, ROOT)],
    extra_compile_args=_compile_args(),
    libraries=["m"] if sys.platform != "win32" else [],
)

if __name__ == "__main__":
    ffibuilder.compile(tmpdir=str(ROOT / "build"), verbose=True)
