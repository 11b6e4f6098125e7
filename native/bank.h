/* bank.h - the receive chain of a whole board for one tick, in one call.
 *
 * The engine crosses the cffi boundary once per board per tick: bank_process takes the
 * tick's audio of every channel (G.711 codes or 16-bit linear, channels x frame samples,
 * row-major) and runs, for all channels, in line order:
 *   1. G.711 decoding into the caller's linear buffer (unless the audio is linear);
 *   2. the DTMF receiver (dtmf.h) on every channel;
 *   3. the call-progress tone detector (cpt.h) on the channels whose cpt_enabled is set.
 * Later parts add their stages here. The bank keeps no state of its own: each stage's
 * per-channel states and event arrays belong to the caller and are named in
 * bank_stages_t. Event counts of the tick come back in *counts.
 */
#ifndef APPLIANCE_BANK_H
#define APPLIANCE_BANK_H

#include <stddef.h>
#include <stdint.h>

#include "cpt.h"
#include "dtmf.h"

#define BANK_LAW_LINEAR 0 /* `linear` already holds the audio; codes is ignored */
#define BANK_LAW_ALAW 1
#define BANK_LAW_ULAW 2

#define BANK_ERR_LAW (-1)
#define BANK_ERR_DTMF_EVENTS (-2)
#define BANK_ERR_CPT_EVENTS (-3)

typedef struct {
    dtmf_state_t *dtmf;          /* [channels] */
    dtmf_event_t *dtmf_events;
    size_t max_dtmf_events;
    cpt_state_t *cpt;            /* [channels] */
    const uint8_t *cpt_enabled;  /* [channels]: nonzero runs the tone detector */
    cpt_event_t *cpt_events;
    size_t max_cpt_events;
} bank_stages_t;

typedef struct {
    int32_t dtmf; /* events written to dtmf_events */
    int32_t cpt;  /* events written to cpt_events */
} bank_counts_t;

/* Returns 0, or BANK_ERR_* (the events of a stage did not fit: size the arrays for the
 * worst case of one tick, as appliance/dsp/bank.py does). */
int bank_process(int32_t law, size_t channels, size_t frame, const uint8_t *codes,
                 int16_t *linear, const bank_stages_t *stages, bank_counts_t *counts);

#endif
