/* agc.h - automatic gain control to a target active speech level (ITU-T P.56).
 *
 * Brings speech at any input level in the supported range to target_dbfs, measured as the
 * active speech level of ITU-T P.56 method B, within about 1 s of speech, and again within
 * about 1 s after a large step (30 dB) in the input level.
 *
 * Levels are dBFS: 10*log10(mean square / 32768^2), so a full-scale square wave is 0 dBFS
 * and a full-scale sine -3.01 dBFS (a 0 dBm0 sine is -6.15 dBFS). Times are in ms in the
 * config and in samples inside. Samples are 16-bit linear at rate_hz (8000 .. 48000, a
 * multiple of 100).
 *
 * How it works, per analysis block of 10 ms (the output of a block uses the gain decided
 * from the blocks before it: no look-ahead, no added delay):
 * - Noise floor: the minimum block energy over the last noise_window_ms (minimum
 *   statistics over sub-windows), so it follows a falling floor at once and a rising one
 *   within one window.
 * - Speech gate: a block is speech when its energy is at least gate_dbfs and at least
 *   gate_margin_db above the noise floor, and the energies of the recent speech blocks
 *   vary as speech does (more than 3 dB rms): steady noise that rose faster than the floor
 *   follows, hum or a held tone is not speech. The gain is frozen in blocks that are
 *   neither speech nor in the hangover after speech, so pauses, silence and line noise are
 *   never pumped up.
 * - Level: a running P.56-style estimate: the power of blocks that are speech and no more
 *   than the P.56 margin below the current estimate, plus the hangover_ms of blocks after
 *   them (P.56 counts those as active too), averaged with equal weights at first and then
 *   exponentially with time constant track_ms of active speech. The first acquire_ms of
 *   active speech therefore set the level (and the gain) directly.
 * - Level steps: a fast tracker of the speech blocks' level; when it stays more than
 *   step_db away from the estimate for step_ms of speech, the estimate restarts and the
 *   next acquire_ms of speech set the gain directly again.
 * Limits: tones are handled as speech while their level varies, so a DTMF string much
 * louder than the talker (10 dB and more) moves the gain toward its own level; a step up
 * in line noise moves the gain by a few dB (under 3 dB for 15 dB) before the gate sees it
 * is steady.
 * - Gain: target_dbfs - level, within [min_gain_db, max_gain_db], reached with time
 *   constant attack_ms when it falls and release_ms when it rises (attack_ms both ways
 *   while acquiring), ramped linearly sample by sample.
 * - Limiter: a peak envelope (instant attack, limiter_release_ms decay) caps the gain so
 *   that no output sample exceeds ceiling_dbfs (peak, re 32768): the output never clips.
 *
 * The result does not depend on how the input is cut into calls: process(a) then
 * process(b) equals process(a + b).
 */
#ifndef APPLIANCE_AGC_H
#define APPLIANCE_AGC_H

#include <stddef.h>
#include <stdint.h>

#define AGC_FLOOR_SUBWINDOWS 8

#define AGC_ERR_RATE (-1)
#define AGC_ERR_TARGET (-2)
#define AGC_ERR_TIME (-3)
#define AGC_ERR_GAIN (-4)
#define AGC_ERR_GATE (-5)
#define AGC_ERR_CEILING (-6)

typedef struct {
    int32_t rate_hz;           /* 8000 .. 48000, multiple of 100 */
    double target_dbfs;        /* active speech level wanted, -40 .. -3 */
    double attack_ms;          /* gain-decrease time constant, 1 .. 10000 */
    double release_ms;         /* gain-increase time constant, 1 .. 10000 */
    double max_gain_db;        /* 0 .. 60 */
    double min_gain_db;        /* -60 .. 0 */
    double gate_dbfs;          /* blocks quieter than this are never speech, -100 .. -20 */
    double gate_margin_db;     /* speech must be this far above the noise floor, 0 .. 40 */
    double noise_window_ms;    /* noise-floor minimum window, 80 .. 20000 */
    double hangover_ms;        /* P.56 hangover (200), 0 .. 2000 */
    double acquire_ms;         /* speech that sets the gain directly, 10 .. 5000 */
    double track_ms;           /* level time constant after acquisition, 100 .. 60000 */
    double step_db;            /* level error that means a step, 3 .. 40 */
    double step_ms;            /* how long of speech the error must last, 10 .. 5000 */
    double ceiling_dbfs;       /* output peak limit re 32768, -20 .. -0.01 */
    double limiter_release_ms; /* limiter envelope decay time constant, 1 .. 1000 */
} agc_config_t;

typedef struct agc_state_s {
    agc_config_t config;
    int32_t block;            /* samples per 10 ms analysis block */
    int32_t position;         /* samples into the current block */
    double block_energy;      /* sum of squares of the current block so far */
    /* noise floor (dBFS): minimum statistics */
    double floor_ring[AGC_FLOOR_SUBWINDOWS];
    double subwindow_min;
    int32_t subwindow_blocks; /* blocks per sub-window */
    int32_t subwindow_count;
    int32_t floor_index;
    /* level estimate: weighted sums of active block powers */
    double level_sum;
    double level_weight;
    double level_forget;      /* per-block forgetting factor */
    double level_dbfs;        /* current estimate; valid when level_weight > 0 */
    int32_t acquired_blocks;  /* active blocks since start or restart */
    int32_t acquire_blocks;
    int32_t hang;             /* hangover blocks left */
    int32_t hang_blocks;
    /* step detector */
    double fast_dbfs;         /* fast mean of speech block energies (dB) */
    double raw_dbfs;          /* the same without the clamp */
    double raw_var;           /* variance of speech block energies about raw_dbfs (dB^2) */
    int32_t fast_valid;
    double slow_sum;          /* slow mean of the same, as weighted sums */
    double slow_weight;
    int32_t step_count;
    int32_t step_blocks;
    /* gain */
    double gain_db;           /* gain reached at the end of the current block */
    double gain;              /* linear gain of the next sample (before the limiter) */
    double gain_step;         /* per-sample increment of gain over the current block */
    double attack_coef;       /* per-block smoothing coefficients */
    double release_coef;
    /* limiter */
    double peak;
    double peak_decay;
    double ceiling;
    int32_t speech;           /* last block was speech (or hangover) */
    int32_t restarts;         /* level restarts so far (steps detected) */
} agc_state_t;

/* Fills config with the defaults for rate_hz (target -18 dBFS, attack 20 ms, release
 * 150 ms, gain -20 .. +30 dB, gate -65 dBFS and 8 dB over the floor, ...). */
void agc_config_default(agc_config_t *config, int32_t rate_hz);
/* Validates config and resets. Returns 0 or AGC_ERR_*. */
int agc_init(agc_state_t *s, const agc_config_t *config);
/* Back to the state after init: unity gain, no level, no noise floor. */
void agc_reset(agc_state_t *s);
/* Gains `samples` samples of in into out (in == out allowed). */
void agc_process(agc_state_t *s, const int16_t *in, int16_t *out, size_t samples);
/* One frame for each of `channels` AGCs: in and out are channels x frame, row-major. */
void agc_process_batch(agc_state_t *states, size_t channels, const int16_t *in,
                       int16_t *out, size_t frame);
/* The smoothed gain now (dB, before the limiter). */
double agc_gain_db(const agc_state_t *s);
/* The current active speech level estimate of the input (dBFS); -200 before any speech. */
double agc_level_dbfs(const agc_state_t *s);
/* How many level steps were detected so far (each restarts the level estimate). */
int32_t agc_restarts(const agc_state_t *s);

#endif
