/* bank.h - the receive chain of a whole board for one tick, in one call.
 *
 * The engine crosses the cffi boundary once per board per tick: bank_process takes the
 * tick's audio of every channel (G.711 codes or 16-bit linear, channels x frame samples,
 * row-major) and runs, for all channels, in line order:
 *   1. G.711 decoding into the caller's linear buffer (unless the audio is linear);
 *   2. the line echo canceller (ec.h) on the channels whose ec_enabled is set, when the
 *      tick's transmitted audio `tx` is given: `linear` becomes the line without the
 *      echo of what the box sent;
 *   3. the DTMF receiver (dtmf.h) on every channel;
 *   4. the call-progress tone detector (cpt.h) on the channels whose cpt_enabled is set,
 *      and the caller-ID FSK receiver (fsk.h) on those whose fsk_enabled is set (idle and
 *      ringing analog lines);
 *   5. the voice path, into `voice` (the audio for recordings and for the other party):
 *      noise suppression (ns.h) then AGC (agc.h), each where enabled, so that the AGC
 *      measures the speech and not the noise; a channel with neither is a copy;
 *   6. `voice` encoded back to G.711 in the bank's law into voice_codes (if not NULL).
 * Detection (3, 4) sees the line after echo cancelling but before the voice path, which
 * would delay it (NS adds 79 samples) and reshape its levels.
 * The bank keeps no state of its own: each stage's per-channel states and event arrays
 * belong to the caller and are named in bank_stages_t. Event counts of the tick come back
 * in *counts.
 */
#ifndef APPLIANCE_BANK_H
#define APPLIANCE_BANK_H

#include <stddef.h>
#include <stdint.h>

#include "agc.h"
#include "cpt.h"
#include "dtmf.h"
#include "ec.h"
#include "fsk.h"
#include "ns.h"

#define BANK_LAW_LINEAR 0 /* `linear` already holds the audio; codes is ignored */
#define BANK_LAW_ALAW 1
#define BANK_LAW_ULAW 2

#define BANK_ERR_LAW (-1)
#define BANK_ERR_DTMF_EVENTS (-2)
#define BANK_ERR_CPT_EVENTS (-3)
#define BANK_ERR_VOICE (-4) /* voice_codes given but no voice buffer, or a linear law */
#define BANK_ERR_FSK_EVENTS (-5)

typedef struct {
    dtmf_state_t *dtmf;          /* [channels] */
    dtmf_event_t *dtmf_events;
    size_t max_dtmf_events;
    cpt_state_t *cpt;            /* [channels] */
    const uint8_t *cpt_enabled;  /* [channels]: nonzero runs the tone detector */
    cpt_event_t *cpt_events;
    size_t max_cpt_events;
    fsk_rx_state_t *fsk;         /* [channels], or NULL: no caller-ID FSK receiver */
    const uint8_t *fsk_enabled;  /* [channels] */
    fsk_event_t *fsk_events;
    size_t max_fsk_events;
    ec_state_t *ec;              /* [channels], or NULL: no echo canceller */
    const uint8_t *ec_enabled;   /* [channels] */
    const int16_t *tx;           /* [channels x frame] sent this tick, or NULL: skip step 2 */
    ns_state_t *ns;              /* [channels], or NULL */
    const uint8_t *ns_enabled;   /* [channels] */
    agc_state_t *agc;            /* [channels], or NULL */
    const uint8_t *agc_enabled;  /* [channels] */
    int16_t *voice;              /* [channels x frame], or NULL: no voice path */
    uint8_t *voice_codes;        /* [channels x frame], or NULL */
} bank_stages_t;

typedef struct {
    int32_t dtmf; /* events written to dtmf_events */
    int32_t cpt;  /* events written to cpt_events */
    int32_t fsk;  /* events written to fsk_events */
} bank_counts_t;

/* Returns 0, or BANK_ERR_* (the events of a stage did not fit: size the arrays for the
 * worst case of one tick, as appliance/dsp/bank.py does). */
int bank_process(int32_t law, size_t channels, size_t frame, const uint8_t *codes,
                 int16_t *linear, const bank_stages_t *stages, bank_counts_t *counts);

#endif
