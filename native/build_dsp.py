"""Build script for the C DSP core: compiles native/*.c into appliance.dsp._native.

cffi out-of-line API mode. The cdef is the headers themselves, lightly filtered:
comments and preprocessor lines other than integer ``#define``s are dropped, and every
``*_state_t`` struct is made partial (``...;``) so Python can allocate a state without
knowing its fields. Run by ``pip install`` through ``setup.py`` (cffi_modules).
"""

import hashlib
import os
import re
import sys
from pathlib import Path

from cffi import FFI

NATIVE = Path(__file__).resolve().parent
ROOT = NATIVE.parent

_COMMENT = re.compile(r"/\*.*?\*/|//[^\n]*", re.S)
_STATE_STRUCT = re.compile(r"typedef\s+struct\s*\w*\s*\{[^{}]*\}\s*(\w+_state_t)\s*;", re.S)
_INT_DEFINE = re.compile(r"^#define\s+\w+\s+\(?-?\d+\)?\s*$")


def sources():
    """Every C file of the core, in a stable order."""
    return sorted(NATIVE.glob("*.c"))


def headers():
    """Public headers, in a stable order; ``*_internal.h`` stay out of the cdef."""
    return sorted(h for h in NATIVE.glob("*.h") if not h.name.endswith("_internal.h"))


def build_id():
    """Hash of every source and header: stamped into the module, checked at import."""
    digest = hashlib.sha256()
    for path in headers() + sorted(NATIVE.glob("*_internal.h")) + sources():
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def cdef_of(header_text):
    text = _COMMENT.sub("", header_text)
    lines = [
        line
        for line in text.splitlines()
        if not line.lstrip().startswith("#") or _INT_DEFINE.match(line.strip())
    ]
    text = "\n".join(lines)
    return _STATE_STRUCT.sub(lambda m: "typedef struct { ...; } %s;" % m.group(1), text)


def _compile_args():
    args = ["-std=c99", "-O3", "-Wall", "-Wextra", "-Wconversion"]
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
