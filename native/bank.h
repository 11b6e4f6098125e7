/* bank.h - the receive chain of a whole board for one tick, in one call.
 *
 * The engine crosses the cffi boundary once per board per tick: this function takes the
 * tick's audio of every channel (G.711 codes or 16-bit linear, channels x frame samples,
 * row-major) and runs, for all channels, G.711 decoding into the caller's linear buffer,
 * then the DTMF receiver (dtmf.h). Later parts add their stages here, in line order.
 * There is no state of its own: each stage keeps its per-channel state arrays, owned by
 * the caller. Events of every stage come back in the caller's arrays, with channel
 * indices, and their counts in *counts.
 */
#ifndef APPLIANCE_BANK_H
#define APPLIANCE_BANK_H

#include <stddef.h>
#include <stdint.h>

#include "dtmf.h"

#define BANK_LAW_LINEAR 0 /* `linear` already holds the audio; codes is ignored */
#define BANK_LAW_ALAW 1
#define BANK_LAW_ULAW 2

#define BANK_ERR_LAW (-1)
#define BANK_ERR_DTMF_EVENTS (-2)

typedef struct {
    int32_t dtmf; /* events written to dtmf_events */
} bank_counts_t;

/* Returns 0, or BANK_ERR_* (the events of a stage did not fit: size the arrays for the
 * worst case of one tick, see appliance/dsp/bank.py). */
int bank_process(int32_t law, size_t channels, size_t frame, const uint8_t *codes,
                 int16_t *linear, dtmf_state_t *dtmf, dtmf_event_t *dtmf_events,
                 size_t max_dtmf_events, bank_counts_t *counts);

#endif
