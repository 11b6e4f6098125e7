"""spandsp (Debian libspandsp-dev), bound for cross-checks and benchmarks only.

The product's DSP is ours; spandsp is a reference here: its G.711 (A-law encode/decode and
mu-law decode are bit-exact with G.191; its mu-law encoder is not), G.711's transcoding
Tables 3 and 4, and its DTMF receiver as the peer of ours in bench/dsp_bench.py.

cffi API mode: spandsp's G.711 coders are inline functions in its header, and the
benchmark needs the DTMF receiver driven by a C loop over channels and frames, so a small
extension is compiled on first use into build/spandsp-ref/ (keyed by a hash of its
source, so an edit rebuilds it). Nothing here is product code; nothing is copied from
spandsp: the C below only calls its public API.

`load()` returns (ffi, lib) or None when libspandsp-dev or a C compiler is missing;
`require()` turns that into a skip, or a failure when APPLIANCE_REQUIRE_SYSTEM=1 (CI).
"""

import os
import sys
from pathlib import Path

import numpy as np

from cffi_reference import compiled

HEADER = Path("/usr/include/spandsp/dtmf.h")
APT_PACKAGE = "libspandsp-dev"

CDEF = """
typedef struct g711_state_s g711_state_t;
typedef struct dtmf_rx_state_s dtmf_rx_state_t;
typedef void (*digits_rx_callback_t)(void *user_data, const char *digits, int len);
#define G711_ALAW ...
#define G711_ULAW ...

g711_state_t *g711_init(g711_state_t *s, int mode);
int g711_free(g711_state_t *s);
int g711_encode(g711_state_t *s, uint8_t g711_data[], const int16_t amp[], int len);
int g711_decode(g711_state_t *s, int16_t amp[], const uint8_t g711_data[], int g711_bytes);
uint8_t alaw_to_ulaw(uint8_t alaw);
uint8_t ulaw_to_alaw(uint8_t ulaw);

/* spandsp's inline per-sample coders, through a loop of ours in C */
void ref_linear_to_alaw(const int16_t *linear, uint8_t *codes, int n);
void ref_linear_to_ulaw(const int16_t *linear, uint8_t *codes, int n);
void ref_alaw_to_linear(const uint8_t *codes, int16_t *linear, int n);
void ref_ulaw_to_linear(const uint8_t *codes, int16_t *linear, int n);

dtmf_rx_state_t *dtmf_rx_init(dtmf_rx_state_t *s, digits_rx_callback_t callback,
                              void *user_data);
int dtmf_rx_free(dtmf_rx_state_t *s);
int dtmf_rx(dtmf_rx_state_t *s, const int16_t amp[], int samples);
size_t dtmf_rx_get(dtmf_rx_state_t *s, char *digits, int max);
void dtmf_rx_parms(dtmf_rx_state_t *s, int filter_dialtone, int twist, int reverse_twist,
                   int threshold);

typedef struct {
    int64_t position;  /* samples fed when spandsp reported the edge */
    int32_t channel;
    int32_t code;      /* the digit's ASCII code at key down, 0 at key up */
} ref_edge_t;

/* `channels` receivers over `channels` x `samples` audio (row-major), fed `frame`
 * samples per channel per step: the whole board loop in C. Returns digits received. */
int64_t ref_dtmf_board(dtmf_rx_state_t **states, int channels, const int16_t *audio,
                       int64_t samples, int frame);
/* One receiver fed `chunk` samples at a time, its key down/up edges recorded with the
 * sample count at the end of the chunk in which spandsp reported them. Returns the
 * edges written (at most max_edges); the digits go to digits (NUL-terminated). */
int ref_dtmf_edges(const int16_t *audio, int64_t samples, int chunk, int twist,
                   int reverse_twist, ref_edge_t *edges, int max_edges, char *digits,
                   int max_digits);
"""

SOURCE = r"""
#include <stdint.h>
#include <stdlib.h>
#include <spandsp.h>

typedef struct {
    int64_t position;
    int32_t channel;
    int32_t code;
} ref_edge_t;

void ref_linear_to_alaw(const int16_t *linear, uint8_t *codes, int n)
{
    for (int i = 0; i < n; i++)
        codes[i] = linear_to_alaw(linear[i]);
}

void ref_linear_to_ulaw(const int16_t *linear, uint8_t *codes, int n)
{
    for (int i = 0; i < n; i++)
        codes[i] = linear_to_ulaw(linear[i]);
}

void ref_alaw_to_linear(const uint8_t *codes, int16_t *linear, int n)
{
    for (int i = 0; i < n; i++)
        linear[i] = alaw_to_linear(codes[i]);
}

void ref_ulaw_to_linear(const uint8_t *codes, int16_t *linear, int n)
{
    for (int i = 0; i < n; i++)
        linear[i] = ulaw_to_linear(codes[i]);
}

int64_t ref_dtmf_board(dtmf_rx_state_t **states, int channels, const int16_t *audio,
                       int64_t samples, int frame)
{
    char digits[MAX_DTMF_DIGITS + 1];
    int64_t received = 0;
    for (int64_t offset = 0; offset + frame <= samples; offset += frame) {
        for (int ch = 0; ch < channels; ch++) {
            dtmf_rx(states[ch], audio + (int64_t) ch * samples + offset, frame);
            received += (int64_t) dtmf_rx_get(states[ch], digits, MAX_DTMF_DIGITS);
        }
    }
    return received;
}

typedef struct {
    ref_edge_t *edges;
    int max_edges;
    int count;
    int64_t position;
} edge_log_t;

static void log_edge(void *user_data, int code, int level, int delay)
{
    edge_log_t *log = (edge_log_t *) user_data;
    (void) level;
    (void) delay;
    if (log->count < log->max_edges) {
        log->edges[log->count].position = log->position;
        log->edges[log->count].channel = 0;
        log->edges[log->count].code = code;
    }
    log->count++;
}

int ref_dtmf_edges(const int16_t *audio, int64_t samples, int chunk, int twist,
                   int reverse_twist, ref_edge_t *edges, int max_edges, char *digits,
                   int max_digits)
{
    edge_log_t log = {edges, max_edges, 0, 0};
    dtmf_rx_state_t *s = dtmf_rx_init(NULL, NULL, NULL);
    int got = 0;
    if (s == NULL)
        return -1;
    if (twist >= 0 || reverse_twist >= 0)
        dtmf_rx_parms(s, -1, twist, reverse_twist, -99);
    dtmf_rx_set_realtime_callback(s, log_edge, &log);
    for (int64_t offset = 0; offset < samples; offset += chunk) {
        int n = (int) (samples - offset < chunk ? samples - offset : chunk);
        log.position = offset + n;
        dtmf_rx(s, audio + offset, n);
        got += (int) dtmf_rx_get(s, digits + got, max_digits - 1 - got);
    }
    digits[got] = '\0';
    dtmf_rx_free(s);
    return log.count < max_edges ? log.count : max_edges;
}
"""

_loaded = None


def _build():
    # Same optimisation as our extension gets (Python's -O3 plus native/build_dsp.py's).
    module = compiled("spandsp_ref", CDEF, SOURCE, "spandsp-ref", libraries=["spandsp", "m"],
                      extra_compile_args=["-O3", "-std=gnu99", "-w"])
    return module.ffi, module.lib


def load():
    """(ffi, lib) of the spandsp reference, or None if it cannot be built here."""
    global _loaded
    if _loaded is None:
        if not HEADER.exists():
            _loaded = False
        else:
            try:
                _loaded = _build()
            except Exception as exc:  # a missing compiler or library: reported by require()
                print(f"spandsp reference could not be built: {exc}", file=sys.stderr)
                _loaded = False
    return _loaded or None


def require():
    """(ffi, lib), or skip the test (fail it when APPLIANCE_REQUIRE_SYSTEM=1)."""
    import pytest

    loaded = load()
    if loaded:
        return loaded
    message = f"spandsp reference is not available (apt-get install {APT_PACKAGE} gcc)"
    if os.environ.get("APPLIANCE_REQUIRE_SYSTEM") == "1":
        pytest.fail(message)
    pytest.skip(message)


def _block(function, data, out_dtype):
    ffi, _ = load()
    data = np.ascontiguousarray(data)
    out = np.empty(data.shape, dtype=out_dtype)
    in_type = "int16_t *" if data.dtype == np.int16 else "uint8_t *"
    out_type = "int16_t *" if out.dtype == np.int16 else "uint8_t *"
    function(ffi.cast(in_type, ffi.from_buffer(data)),
             ffi.cast(out_type, ffi.from_buffer(out, require_writable=True)), data.size)
    return out


def alaw_encode(linear):
    return _block(load()[1].ref_linear_to_alaw, np.asarray(linear, np.int16), np.uint8)


def ulaw_encode(linear):
    return _block(load()[1].ref_linear_to_ulaw, np.asarray(linear, np.int16), np.uint8)


def alaw_decode(codes):
    return _block(load()[1].ref_alaw_to_linear, np.asarray(codes, np.uint8), np.int16)


def ulaw_decode(codes):
    return _block(load()[1].ref_ulaw_to_linear, np.asarray(codes, np.uint8), np.int16)


def transcode_tables():
    """(alaw_to_ulaw, ulaw_to_alaw) as uint8[256] arrays indexed by the code sent."""
    _, lib = load()
    return (np.array([lib.alaw_to_ulaw(c) for c in range(256)], dtype=np.uint8),
            np.array([lib.ulaw_to_alaw(c) for c in range(256)], dtype=np.uint8))


class BlockCoder:
    """spandsp's own block API (g711_encode/g711_decode) for one law."""

    def __init__(self, law):
        self.ffi, self.lib = load()
        mode = {"alaw": self.lib.G711_ALAW, "ulaw": self.lib.G711_ULAW}[law]
        self._state = self.ffi.gc(self.lib.g711_init(self.ffi.NULL, mode), self.lib.g711_free)

    def encode(self, linear):
        out = np.empty(linear.shape, dtype=np.uint8)
        self.lib.g711_encode(self._state, self.ffi.from_buffer("uint8_t[]", out, True),
                             self.ffi.from_buffer("int16_t[]", linear), linear.size)
        return out

    def decode(self, codes):
        out = np.empty(codes.shape, dtype=np.int16)
        self.lib.g711_decode(self._state, self.ffi.from_buffer("int16_t[]", out, True),
                             self.ffi.from_buffer("uint8_t[]", codes), codes.size)
        return out


class DtmfReceivers:
    """`channels` spandsp DTMF receivers with spandsp's defaults."""

    def __init__(self, channels):
        self.ffi, self.lib = load()
        self.channels = channels
        self._states = [self.ffi.gc(self.lib.dtmf_rx_init(self.ffi.NULL, self.ffi.NULL,
                                                          self.ffi.NULL),
                                    self.lib.dtmf_rx_free)
                        for _ in range(channels)]
        self._array = self.ffi.new("dtmf_rx_state_t *[]", self._states)
        self._digits = self.ffi.new("char[]", 129)

    def run_in_c(self, audio, frame):
        """The whole board loop in C over int16 [channels, samples]; digits received."""
        audio = np.ascontiguousarray(audio, dtype=np.int16)
        assert audio.shape[0] == self.channels
        return self.lib.ref_dtmf_board(self._array, self.channels,
                                       self.ffi.from_buffer("int16_t[]", audio),
                                       audio.shape[1], frame)

    def feed(self, channel, samples):
        """One channel, one frame, from Python (as the box would have to call it)."""
        state = self._states[channel]
        self.lib.dtmf_rx(state, self.ffi.from_buffer("int16_t[]", samples), samples.size)
        n = self.lib.dtmf_rx_get(state, self._digits, 128)
        return self.ffi.unpack(self._digits, n).decode() if n else ""


def dtmf_edges(audio, chunk=8, twist=-1, reverse_twist=-1):
    """spandsp's key edges on one int16 stream, from its realtime callback.

    Returns [(position_samples, digit or None)]: None marks a key up. Positions are the
    sample count at the end of the `chunk` in which spandsp reported the edge. (With a
    realtime callback set, spandsp does not also queue the digits for dtmf_rx_get.)
    """
    ffi, lib = load()
    audio = np.ascontiguousarray(audio, dtype=np.int16)
    max_edges = 4 * (audio.size // 320 + 4)
    edges = ffi.new("ref_edge_t[]", max_edges)
    digits = ffi.new("char[]", 4096)
    count = lib.ref_dtmf_edges(ffi.from_buffer("int16_t[]", audio), audio.size, chunk,
                               twist, reverse_twist, edges, max_edges, digits, 4096)
    if count < 0:
        raise RuntimeError("dtmf_rx_init failed")
    out = [(edges[i].position, chr(edges[i].code) if edges[i].code else None)
           for i in range(count)]
    return out
