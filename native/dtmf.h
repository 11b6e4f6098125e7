/* dtmf.h - DTMF receiver (ITU-T Q.23 frequencies, Q.24 / ETSI ES 201 235-3 / Telcordia
 * GR-506 receiver criteria), streaming, one state per channel, 8 kHz 16-bit linear input.
 *
 * What it accepts and rejects (each item has a test named after it in tests/dtmf/):
 *   - all 16 digits; frequency deviation up to +-1.5% accepted, +-3.5% rejected;
 *   - high group up to 8 dB weaker than the low group (normal twist) and up to 4 dB
 *     stronger (reverse twist), also after a G.711 channel;
 *   - each tone from -36 dBm0 to 0 dBm0 (dBm0 as in level_internal.h);
 *   - tones and pauses of 40 ms accepted, tones of 20 ms or less rejected; a 10 ms
 *     interruption inside a tone is bridged (one digit, not two);
 *   - no digits from speech or music (talk-off), no digits from noise alone.
 *
 * How: a complex Goertzel (a single-bin DFT) per Q.23 frequency over sub-blocks of
 * DTMF_SUBBLOCK samples; a window of several sub-blocks is re-assembled each sub-block
 * with phase rotation, so decisions come every 4 ms from a window long enough to resolve
 * the frequency groups. A digit needs one strong tone per group, the other bins of each
 * group and the rest of the energy well below it, twist inside the limits, and a
 * frequency (from the phase advance between windows) within the accepted deviation.
 * Edges are placed where the tone's amplitude crosses half its steady value, so reported
 * times are within 10 ms of the true tone edges.
 *
 * Times are in samples from the start of the channel's stream (since init or reset).
 */
#ifndef APPLIANCE_DTMF_H
#define APPLIANCE_DTMF_H

#include <stddef.h>
#include <stdint.h>

#define DTMF_SUBBLOCK 32      /* samples per analysis step (4 ms) */
#define DTMF_SEGMENTS 2       /* independent Goertzel recurrences per sub-block */
#define DTMF_WINDOW_BLOCKS 4  /* sub-blocks per analysis window (16 ms) */
#define DTMF_HISTORY 16       /* decisions kept for edge placement */

#define DTMF_EVENT_ONSET 1  /* a digit's key went down: start known, end still -1 */
#define DTMF_EVENT_DIGIT 2  /* a digit completed: start and end known */

#define DTMF_ERR_RATE (-1)
#define DTMF_ERR_CONFIG (-2)
#define DTMF_ERR_EVENTS (-3)

typedef struct {
    int64_t start;   /* first sample of the tone */
    int64_t end;     /* one past its last sample; -1 for an onset */
    int32_t channel; /* index in a batch call; 0 from dtmf_process */
    int32_t kind;    /* DTMF_EVENT_ONSET or DTMF_EVENT_DIGIT */
    char digit;      /* one of 0123456789*#ABCD */
} dtmf_event_t;

typedef struct {
    int32_t rate;              /* samples per second; only 8000 */
    double min_level_dbm0;     /* weakest tone accepted (per tone) */
    double max_normal_twist_db;  /* high group weaker than low by up to this */
    double max_reverse_twist_db; /* high group stronger than low by up to this */
    double max_freq_error;     /* fraction: 0.025 = +-2.5% */
    int32_t min_tone_samples;  /* shorter tones are not digits */
    int32_t max_gap_samples;   /* a dropout up to this long is bridged */
} dtmf_config_t;

typedef struct dtmf_state_s {
    dtmf_config_t config;
    /* Constants per Q.23 frequency, computed by init: Goertzel coefficient, the factors
     * that turn a recurrence into the DFT of its sub-block or segment, the shift of each
     * segment to its sub-block's start, and one sub-block's phase advance. */
    float coef[8];
    double tail1_re[8], tail1_im[8];         /* e^(-j w (SUBBLOCK - 1)) */
    double tail_re[8], tail_im[8];           /* e^(-j w SUBBLOCK) */
    double seg_tail1_re[8], seg_tail1_im[8]; /* e^(-j w (SEGMENT - 1)) */
    double seg_tail2_re[8], seg_tail2_im[8]; /* e^(-j w SEGMENT) */
    double seg_shift_re[DTMF_SEGMENTS][8];   /* e^(-j w SEGMENT m) */
    double seg_shift_im[DTMF_SEGMENTS][8];
    double min_power;                        /* mean power of a tone at min_level_dbm0 */
    double min_twist, max_twist;             /* high/low power ratio limits */
    /* Goertzel recurrences of the sub-block being filled, one lane per Q.23 frequency. */
    float s1[8];
    float s2[8];
    float energy;             /* sum of squares of the sub-block so far */
    int32_t fill;             /* samples into the current sub-block */
    /* The last DTMF_WINDOW_BLOCKS sub-blocks' spectra, referred to absolute time so a
     * window's spectrum is their sum. */
    double block_re[DTMF_WINDOW_BLOCKS][8];
    double block_im[DTMF_WINDOW_BLOCKS][8];
    double block_energy[DTMF_WINDOW_BLOCKS];
    double rot_re[8];         /* e^(-j w n0) for the current sub-block's first sample n0 */
    double rot_im[8];
    int32_t blocks;           /* sub-blocks seen, saturating */
    int32_t head;             /* ring slot of the next sub-block */
    int64_t position;         /* samples consumed since init/reset */
    double prev_re[8];        /* previous window's spectrum, for the frequency estimate */
    double prev_im[8];
    /* Per-window bin powers of the last DTMF_HISTORY windows, for edge placement. */
    float power[DTMF_HISTORY][8];
    int64_t power_end[DTMF_HISTORY]; /* sample after each window's last one */
    int32_t power_head;
    int32_t power_count;
    /* Digit tracking */
    int32_t candidate;        /* digit index of the last valid windows, -1 if none */
    int32_t run;              /* consecutive valid windows with the candidate */
    int32_t current;          /* digit index being held, -1 if none */
    int32_t valid_windows;    /* valid windows seen while holding it */
    int32_t start_placed;     /* tone_start placed by its half-amplitude crossing */
    int32_t falling;          /* its amplitude dropped below half: a gap or the end */
    int32_t other;            /* consecutive valid windows of another digit */
    int64_t tone_start;       /* estimated first sample of the held digit */
    int64_t fall;             /* estimated end of the held digit when falling */
    double steady[2];         /* steady powers of its low and high tone */
    double last_ratio;        /* previous window's presence ratio */
} dtmf_state_t;

/* Fills config with the defaults that meet the criteria above. */
void dtmf_config_default(dtmf_config_t *config);
/* Validates config and starts the stream at sample 0. Returns 0 or DTMF_ERR_*. */
int dtmf_init(dtmf_state_t *s, const dtmf_config_t *config);
/* Forgets all audio: the next sample is sample 0 of a new stream. */
void dtmf_reset(dtmf_state_t *s);
/* Feeds `samples` samples; writes up to max_events events (onsets and completed digits,
 * in time order) and returns how many, or DTMF_ERR_EVENTS if more did not fit. */
int dtmf_process(dtmf_state_t *s, const int16_t *samples, size_t n, dtmf_event_t *events,
                 size_t max_events);
/* Ends the stream: a digit still sounding is completed at the last sample fed. */
int dtmf_flush(dtmf_state_t *s, dtmf_event_t *events, size_t max_events);
/* One frame for each of `channels` receivers: samples is channels x frame, row-major.
 * Events carry their channel index. Returns the event count or DTMF_ERR_EVENTS. */
int dtmf_process_batch(dtmf_state_t *states, size_t channels, const int16_t *samples,
                       size_t frame, dtmf_event_t *events, size_t max_events);

#endif
