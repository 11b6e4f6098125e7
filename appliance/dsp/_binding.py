"""The cffi binding to the C core, with the checks every call across it needs.

Loads ``appliance.dsp._native`` and refuses a stale build: in a source checkout the
build id stamped into the module must match the hash of ``native/``.
"""

import importlib.util
from pathlib import Path

import numpy as np

from appliance.dsp.errors import DspError

try:
    from appliance.dsp._native import ffi, lib
except ImportError as exc:  # pragma: no cover - only on a broken install
    raise ImportError(
        "appliance.dsp._native is not built: run `pip install -e .` in the project root"
    ) from exc

_NATIVE_DIR = Path(__file__).resolve().parents[2] / "native"


def _check_build():
    build_id_script = _NATIVE_DIR / "build_id.py"
    if not build_id_script.exists():
        return  # installed package: the sources are not here to compare with
    spec = importlib.util.spec_from_file_location("_appliance_native_build_id", build_id_script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    built = ffi.string(lib.dsp_build_id()).decode()
    if built != module.build_id():
        raise ImportError(
            "appliance.dsp._native is stale (built from other native/ sources): "
            "re-run `pip install -e .`"
        )


_check_build()


_DTYPES = {t: np.dtype(t) for t in (np.int16, np.uint8, np.int32, np.uint32, np.float32, np.float64)}
_CTYPES = {
    np.dtype(np.int16): "int16_t[]",
    np.dtype(np.uint8): "uint8_t[]",
    np.dtype(np.int32): "int32_t[]",
    np.dtype(np.uint32): "uint32_t[]",
    np.dtype(np.float32): "float[]",
    np.dtype(np.float64): "double[]",
}


def c_array(array, dtype, shape=None, name="array", writable=False):
    """A cffi pointer to a numpy array, after checking dtype, shape and contiguity.

    Returns a typed array over the array's own memory (no copy). Called on every tick,
    so it does the checks and nothing else.
    """
    if not isinstance(array, np.ndarray):
        raise TypeError(f"{name} must be a numpy array, not {type(array).__name__}")
    if array.dtype != _DTYPES.get(dtype, dtype):
        raise TypeError(f"{name} must have dtype {np.dtype(dtype)}, not {array.dtype}")
    if shape is not None and array.shape != tuple(shape):
        raise ValueError(f"{name} must have shape {tuple(shape)}, not {array.shape}")
    if not array.flags.c_contiguous:
        raise ValueError(f"{name} must be C-contiguous")
    if writable and not array.flags.writeable:
        raise ValueError(f"{name} must be writable")
    return ffi.from_buffer(_CTYPES[array.dtype], array, require_writable=writable)


def check(code, what):
    """Turn a negative C return code into a DspError."""
    if code < 0:
        raise DspError(code, what)
    return code
