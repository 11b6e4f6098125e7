/* bank.c - see bank.h. */
#include "bank.h"
#include "g711.h"

int bank_process(int32_t law, size_t channels, size_t frame, const uint8_t *codes,
                 int16_t *linear, const bank_stages_t *stages, bank_counts_t *counts)
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
    int digits = dtmf_process_batch(stages->dtmf, channels, linear, frame, stages->dtmf_events,
                                    stages->max_dtmf_events);
    if (digits < 0)
        return BANK_ERR_DTMF_EVENTS;
    int tones = cpt_process_batch(stages->cpt, channels, stages->cpt_enabled, linear, frame,
                                  stages->cpt_events, stages->max_cpt_events);
    if (tones < 0)
        return BANK_ERR_CPT_EVENTS;
    counts->dtmf = digits;
    counts->cpt = tones;
    return 0;
}
