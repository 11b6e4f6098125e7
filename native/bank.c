/* bank.c - see bank.h. */
#include <string.h>

#include "bank.h"
#include "g711.h"

static int enabled(const uint8_t *flags, size_t ch)
{
    return flags != NULL && flags[ch] != 0;
}

/* The FSK receivers of the channels that listen for caller ID; returns the event count or
 * BANK_ERR_FSK_EVENTS. */
static int caller_id(size_t channels, size_t frame, const int16_t *linear,
                     const bank_stages_t *stages)
{
    size_t count = 0;
    for (size_t ch = 0; ch < channels; ch++) {
        if (!enabled(stages->fsk_enabled, ch))
            continue;
        int got = fsk_rx_process(&stages->fsk[ch], linear + ch * frame, frame,
                                 stages->fsk_events + count, stages->max_fsk_events - count);
        if (got < 0)
            return BANK_ERR_FSK_EVENTS;
        for (size_t k = 0; k < (size_t) got; k++)
            stages->fsk_events[count + k].channel = (int32_t) ch;
        count += (size_t) got;
    }
    return (int) count;
}

static void voice_path(size_t channels, size_t frame, const int16_t *linear,
                       const bank_stages_t *stages)
{
    for (size_t ch = 0; ch < channels; ch++) {
        const int16_t *in = linear + ch * frame;
        int16_t *out = stages->voice + ch * frame;
        memcpy(out, in, frame * sizeof *out);
        if (stages->ns != NULL && enabled(stages->ns_enabled, ch))
            ns_process(&stages->ns[ch], out, out, frame);
        if (stages->agc != NULL && enabled(stages->agc_enabled, ch))
            agc_process(&stages->agc[ch], out, out, frame);
    }
}

int bank_process(int32_t law, size_t channels, size_t frame, const uint8_t *codes,
                 int16_t *linear, const bank_stages_t *stages, bank_counts_t *counts)
{
    size_t samples = channels * frame;
    if (stages->voice_codes != NULL && (stages->voice == NULL || law == BANK_LAW_LINEAR))
        return BANK_ERR_VOICE;
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
    if (stages->ec != NULL && stages->tx != NULL) {
        for (size_t ch = 0; ch < channels; ch++)
            if (enabled(stages->ec_enabled, ch))
                ec_process(&stages->ec[ch], stages->tx + ch * frame, linear + ch * frame,
                           linear + ch * frame, frame);
    }
    int digits = dtmf_process_batch(stages->dtmf, channels, linear, frame, stages->dtmf_events,
                                    stages->max_dtmf_events);
    if (digits < 0)
        return BANK_ERR_DTMF_EVENTS;
    int tones = cpt_process_batch(stages->cpt, channels, stages->cpt_enabled, linear, frame,
                                  stages->cpt_events, stages->max_cpt_events);
    if (tones < 0)
        return BANK_ERR_CPT_EVENTS;
    int fsk_events = stages->fsk != NULL ? caller_id(channels, frame, linear, stages) : 0;
    if (fsk_events < 0)
        return fsk_events;
    if (stages->voice != NULL) {
        voice_path(channels, frame, linear, stages);
        if (stages->voice_codes != NULL) {
            if (law == BANK_LAW_ALAW)
                g711_alaw_encode(stages->voice, stages->voice_codes, samples);
            else
                g711_ulaw_encode(stages->voice, stages->voice_codes, samples);
        }
    }
    counts->dtmf = digits;
    counts->cpt = tones;
    counts->fsk = fsk_events;
    return 0;
}
