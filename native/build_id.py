"""The build id of the C core: a hash of every file in native/ that goes into it.

Stamped into appliance.dsp._native by build_dsp.py and recomputed at import in a source
checkout, so a module built from older sources fails loudly instead of running stale.
"""

import hashlib
import re
from pathlib import Path

NATIVE = Path(__file__).resolve().parent


def sources():
    """Every C file of the core, in a stable order."""
    return sorted(NATIVE.glob("*.c"))


_INCLUDE = re.compile(r'^\s*#include\s+"([^"]+)"', re.M)


def headers():
    """Public headers, each after the headers it includes (the cdef needs its types
    declared first), otherwise by name; ``*_internal.h`` stay out of the cdef."""
    public = {h.name: h for h in sorted(NATIVE.glob("*.h")) if not h.name.endswith("_internal.h")}
    ordered, placed = [], set()

    def place(name):
        if name in placed or name not in public:
            return
        placed.add(name)
        for included in _INCLUDE.findall(public[name].read_text()):
            place(included)
        ordered.append(public[name])

    for name in public:
        place(name)
    return ordered


def build_id():
    digest = hashlib.sha256()
    for path in sorted(NATIVE.glob("*.h")) + sources():
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]
