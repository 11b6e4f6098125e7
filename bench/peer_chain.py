"""The industry's receive chain, bound for bench/dsp_bench.py only: the peer of ChannelBank.

Per channel and 20 ms frame, in one C loop over a board: spandsp's A-law decoder,
speexdsp's echo canceller (speex_echo_cancellation, 64 ms tail), spandsp's DTMF receiver,
speexdsp's preprocessor (noise suppression and AGC in one call) and spandsp's A-law
encoder. Debian's libspandsp-dev and libspeexdsp-dev; compiled on first use into
build/peer-chain/ (keyed by a hash of the source). Nothing here is product code, and the C
only calls the libraries' public APIs.

`load()` returns (ffi, lib) or None when a library or the compiler is missing.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from cffi_reference import compiled  # noqa: E402

HEADERS = (Path("/usr/include/spandsp/dtmf.h"), Path("/usr/include/speex/speex_echo.h"))

CDEF = """
/* `channels` lines, `ticks` frames of 160 samples each, row-major [channels][ticks * 160]:
 * rx A-law codes in, tx linear (what the box sent), voice A-law codes out. Returns the
 * digits received, or -1 if a state could not be made. */
int64_t peer_chain_board(int channels, int64_t ticks, const uint8_t *rx, const int16_t *tx,
                         uint8_t *voice);
"""

SOURCE = r"""
#include <stdint.h>
#include <stdlib.h>
#include <spandsp.h>
#include <speex/speex_echo.h>
#include <speex/speex_preprocess.h>

#define FRAME 160

int64_t peer_chain_board(int channels, int64_t ticks, const uint8_t *rx, const int16_t *tx,
                         uint8_t *voice)
{
    SpeexEchoState **ec = calloc((size_t) channels, sizeof *ec);
    SpeexPreprocessState **pp = calloc((size_t) channels, sizeof *pp);
    dtmf_rx_state_t **dtmf = calloc((size_t) channels, sizeof *dtmf);
    g711_state_t *dec = g711_init(NULL, G711_ALAW), *enc = g711_init(NULL, G711_ALAW);
    int64_t received = -1, samples = ticks * FRAME;
    int rate = 8000, on = 1;
    char digits[MAX_DTMF_DIGITS + 1];
    int16_t line[FRAME], clean[FRAME];
    if (ec == NULL || pp == NULL || dtmf == NULL || dec == NULL || enc == NULL)
        goto done;
    for (int ch = 0; ch < channels; ch++) {
        ec[ch] = speex_echo_state_init(FRAME, 512);
        pp[ch] = speex_preprocess_state_init(FRAME, rate);
        dtmf[ch] = dtmf_rx_init(NULL, NULL, NULL);
        if (ec[ch] == NULL || pp[ch] == NULL || dtmf[ch] == NULL)
            goto done;
        speex_echo_ctl(ec[ch], SPEEX_ECHO_SET_SAMPLING_RATE, &rate);
        speex_preprocess_ctl(pp[ch], SPEEX_PREPROCESS_SET_DENOISE, &on);
        speex_preprocess_ctl(pp[ch], SPEEX_PREPROCESS_SET_AGC, &on);
    }
    received = 0;
    for (int64_t t = 0; t < ticks; t++) {
        for (int ch = 0; ch < channels; ch++) {
            int64_t at = (int64_t) ch * samples + t * FRAME;
            g711_decode(dec, line, rx + at, FRAME);
            speex_echo_cancellation(ec[ch], line, tx + at, clean);
            dtmf_rx(dtmf[ch], clean, FRAME);
            received += (int64_t) dtmf_rx_get(dtmf[ch], digits, MAX_DTMF_DIGITS);
            speex_preprocess_run(pp[ch], clean);
            g711_encode(enc, voice + at, clean, FRAME);
        }
    }
done:
    for (int ch = 0; ch < channels; ch++) {
        if (ec != NULL && ec[ch] != NULL)
            speex_echo_state_destroy(ec[ch]);
        if (pp != NULL && pp[ch] != NULL)
            speex_preprocess_state_destroy(pp[ch]);
        if (dtmf != NULL && dtmf[ch] != NULL)
            dtmf_rx_free(dtmf[ch]);
    }
    if (dec != NULL)
        g711_free(dec);
    if (enc != NULL)
        g711_free(enc);
    free(ec);
    free(pp);
    free(dtmf);
    return received;
}
"""

_loaded = None


def _build():
    module = compiled("peer_chain", CDEF, SOURCE, "peer-chain",
                      libraries=["spandsp", "speexdsp", "m"],
                      extra_compile_args=["-O3", "-std=gnu99", "-w"])
    return module.ffi, module.lib


def load():
    """(ffi, lib) of the peer chain, or None if it cannot be built here."""
    global _loaded
    if _loaded is None:
        _loaded = False
        if all(h.exists() for h in HEADERS):
            try:
                _loaded = _build()
            except Exception:  # noqa: BLE001 - no compiler or library: no peer
                _loaded = False
    return _loaded or None
