"""The build id of the C core: a hash of every file in native/ that goes into it.

Stamped into appliance.dsp._native by build_dsp.py and recomputed at import in a source
checkout, so a module built from older sources fails loudly instead of running stale.
"""

import hashlib
from pathlib import Path

NATIVE = Path(__file__).resolve().parent


def sources():
    """Every C file of the core, in a stable order."""
    return sorted(NATIVE.glob("*.c"))


def headers():
    """Public headers, in a stable order; ``*_internal.h`` stay out of the cdef."""
    return sorted(h for h in NATIVE.glob("*.h") if not h.name.endswith("_internal.h"))


def build_id():
    digest = hashlib.sha256()
    for path in sorted(NATIVE.glob("*.h")) + sources():
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]
