"""spandsp's ADSI (caller ID) transmitter and receiver, bound with cffi for cross-checks and
the benchmark only (Debian libspandsp-dev; LGPL, never part of the product).

`load()` compiles a small harness against the system library on first use (cached in
build/spandsp-ref/adsi/, keyed by the harness source) and returns its module, or None when spandsp's
headers or library are missing. The harness keeps spandsp's callbacks in C:
  spandsp_adsi_tx(standard, msg, len, out, max) -> samples of one message
      (FSK: msg without checksum, spandsp's transmitter appends it; DTMF: the digits);
  spandsp_adsi_rx(standard, samples, n, msg, max) -> length of the first message received
      (as spandsp delivers it), or 0;
  spandsp_adsi_rx_channels(standard, samples, n, channels, frame) -> messages received by
      `channels` receivers each fed the whole signal frame by frame (the benchmark's loop).
Standards: ADSI_STANDARD_CLASS (Bell 202, GR-30), ADSI_STANDARD_CLIP (V.23, ETSI) and
ADSI_STANDARD_CLIP_DTMF (DTMF caller ID: the message is the digit string, e.g. b"A123C").
Like tests/spandsp.py (whose build folder and package name it shares), `require()` skips a
test when spandsp is missing, or fails it when APPLIANCE_REQUIRE_SYSTEM=1 (CI).
"""

import os
from pathlib import Path

import spandsp
from cffi_reference import compiled

ADSI_STANDARD_CLASS = 1
ADSI_STANDARD_CLIP = 2
ADSI_STANDARD_CLIP_DTMF = 5

_CDEF = """
int spandsp_adsi_tx(int standard, const uint8_t *msg, int len, int16_t *out, int max_out);
int spandsp_adsi_rx(int standard, const int16_t *samples, int n, uint8_t *msg, int max_msg);
long spandsp_adsi_rx_channels(int standard, const int16_t *samples, int n, int channels,
                              int frame);
"""

_SOURCE = r"""
#include <stdlib.h>
#include <string.h>
#include <spandsp.h>

typedef struct {
    uint8_t msg[512];
    int len;
    long count;
} sink_t;

static void sink_put(void *user_data, const uint8_t *msg, int len)
{
    sink_t *sink = (sink_t *) user_data;
    if (len <= 0)
        return;  /* spandsp reports carrier and status through negative lengths */
    if (sink->count == 0 && len <= (int) sizeof(sink->msg)) {
        memcpy(sink->msg, msg, (size_t) len);
        sink->len = len;
    }
    sink->count++;
}

int spandsp_adsi_tx(int standard, const uint8_t *msg, int len, int16_t *out, int max_out)
{
    adsi_tx_state_t *tx = adsi_tx_init(NULL, standard);
    int total = 0, got;
    if (tx == NULL)
        return -1;
    if (adsi_tx_put_message(tx, msg, len) != len) {
        adsi_tx_free(tx);
        return -2;
    }
    while (total < max_out && (got = adsi_tx(tx, out + total, max_out - total)) > 0)
        total += got;
    adsi_tx_free(tx);
    return total;
}

int spandsp_adsi_rx(int standard, const int16_t *samples, int n, uint8_t *msg, int max_msg)
{
    sink_t sink;
    adsi_rx_state_t *rx;
    memset(&sink, 0, sizeof(sink));
    rx = adsi_rx_init(NULL, standard, sink_put, &sink);
    if (rx == NULL)
        return -1;
    adsi_rx(rx, samples, n);
    adsi_rx_free(rx);
    if (sink.count == 0)
        return 0;
    if (sink.len > max_msg)
        return -2;
    memcpy(msg, sink.msg, (size_t) sink.len);
    return sink.len;
}

long spandsp_adsi_rx_channels(int standard, const int16_t *samples, int n, int channels,
                              int frame)
{
    adsi_rx_state_t **rx = calloc((size_t) channels, sizeof(*rx));
    sink_t *sinks = calloc((size_t) channels, sizeof(*sinks));
    long total = 0;
    int c, i;
    for (c = 0; c < channels; c++)
        rx[c] = adsi_rx_init(NULL, standard, sink_put, &sinks[c]);
    for (i = 0; i + frame <= n; i += frame)
        for (c = 0; c < channels; c++)
            adsi_rx(rx[c], samples + i, frame);
    for (c = 0; c < channels; c++) {
        total += sinks[c].count;
        adsi_rx_free(rx[c]);
    }
    free(rx);
    free(sinks);
    return total;
}
"""

_lib = None
_tried = False


def _available():
    return Path("/usr/include/spandsp/adsi.h").exists() and any(
        Path(d, "libspandsp.so").exists()
        for d in ("/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib"))


def load():
    """The harness's cffi lib, or None if spandsp is not installed."""
    global _lib, _tried
    if _tried:
        return _lib
    _tried = True
    if not _available():
        return None
    _lib = compiled("spandsp_adsi", _CDEF, _SOURCE, "spandsp-ref/adsi",
                    libraries=["spandsp", "m"], extra_compile_args=["-O3", "-std=gnu99", "-w"])
    return _lib


def require():
    """The harness's cffi module, or skip the test (fail it when APPLIANCE_REQUIRE_SYSTEM=1)."""
    import pytest

    module = load()
    if module is not None:
        return module
    message = f"spandsp's ADSI is not available (apt-get install {spandsp.APT_PACKAGE} gcc)"
    if os.environ.get("APPLIANCE_REQUIRE_SYSTEM") == "1":
        pytest.fail(message)
    pytest.skip(message)


def transmit(standard, message_without_checksum):
    """spandsp's transmitter's audio (int16 numpy) for one message."""
    import numpy as np

    module = load()
    out = np.zeros(8000 * 4, dtype=np.int16)
    msg = bytes(message_without_checksum)
    n = module.lib.spandsp_adsi_tx(standard, msg, len(msg),
                                   module.ffi.cast("int16_t *", module.ffi.from_buffer(out)),
                                   out.size)
    if n < 0:
        raise RuntimeError(f"spandsp adsi_tx failed ({n})")
    return out[:n].copy()


def receive(standard, samples):
    """The first message spandsp's receiver delivers (bytes), or None."""
    import numpy as np

    module = load()
    samples = np.ascontiguousarray(samples, dtype=np.int16)
    buf = module.ffi.new("uint8_t[]", 512)
    n = module.lib.spandsp_adsi_rx(standard,
                                   module.ffi.cast("int16_t *", module.ffi.from_buffer(samples)),
                                   samples.size, buf, 512)
    if n < 0:
        raise RuntimeError(f"spandsp adsi_rx failed ({n})")
    return bytes(module.ffi.buffer(buf, n)) if n else None
