/* bank.c - see bank.h. */
#include "bank.h"
#include "g711.h"

int bank_process(int32_t law, size_t channels, size_t frame, const uint8_t *codes,
                 int16_t *linear, dtmf_state_t *dtmf, dtmf_event_t *dtmf_events,
                 size_t max_dtmf_events, bank_counts_t *counts)
{
    size_t samples = channels * frame;
    switch (law) {
    case BANK_LAW_LINEAR:
        break;
    case BANK_LAW_ALAW:
        g711_alaw_decode(codes, linear, samples);
        break;
    case BANK_LAW_ULAW:
        g711_ulaw_decode(codes, linear, samples);
        break;
    default:
        return BANK_ERR_LAW;
    }
    int found = dtmf_process_batch(dtmf, channels, linear, frame, dtmf_events, max_dtmf_events);
    if (found < 0)
        return BANK_ERR_DTMF_EVENTS;
    counts->dtmf = found;
    return 0;
}
