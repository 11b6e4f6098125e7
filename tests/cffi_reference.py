"""C references and harnesses for tests and benchmarks, compiled with cffi on first use.

spandsp, speexdsp and WebRTC are bound here and in bench/ only, never in the product. Each
binding is a small cffi extension built into build/<directory>/, named after a hash of all
that goes into it (cdef, source, build options, and the files it compiles or includes), so
an edit rebuilds it and an unchanged one is reused from one run to the next.
"""

import hashlib
import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "build"


def compiled(prefix, cdef, source, directory, depends=(), **set_source):
    """The cffi module (with .ffi and .lib) for `source`, compiled if not built yet.

    prefix: the module name's start; directory: under build/; depends: files whose contents
    count in the key (C sources compiled in, headers included); set_source: passed to
    FFI.set_source (libraries, sources, include_dirs, extra_compile_args, ...)."""
    digest = hashlib.sha256()
    for part in (cdef, source, repr(sorted(set_source.items()))):
        digest.update(part.encode())
    for path in depends:
        digest.update(Path(path).read_bytes())
    name = f"_{prefix}_{digest.hexdigest()[:12]}"
    build = BUILD / directory
    found = sorted(build.glob(f"{name}*.so")) if build.is_dir() else []
    if not found:
        from cffi import FFI

        ffi = FFI()
        ffi.cdef(cdef)
        ffi.set_source(name, source, **set_source)
        build.mkdir(parents=True, exist_ok=True)
        ffi.compile(tmpdir=str(build), verbose=False)
        found = sorted(build.glob(f"{name}*.so"))
    spec = importlib.util.spec_from_file_location(name, found[0])
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
