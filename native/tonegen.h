/* tonegen.h - tone generator: DTMF digits and call-progress tones from a tone plan.
 *
 * A tone is a list of steps; each step sounds up to TONEGEN_MAX_FREQS sine components
 * (frequency in Hz, level in dBm0 per component, see level_internal.h) for on_samples,
 * then is silent for off_samples. A tone plays its steps once or repeats them forever
 * (a cadence). Samples are 8 kHz 16-bit linear; sums that exceed full scale saturate,
 * as a real line would clip. Oscillators are complex rotators, renormalised every
 * block, so long tones keep their level and frequency exactly.
 */
#ifndef APPLIANCE_TONEGEN_H
#define APPLIANCE_TONEGEN_H

#include <stddef.h>
#include <stdint.h>

#define TONEGEN_MAX_FREQS 4
#define TONEGEN_MAX_STEPS 8

#define TONEGEN_ERR_STEPS (-1)
#define TONEGEN_ERR_FREQ (-2)
#define TONEGEN_ERR_LEVEL (-3)
#define TONEGEN_ERR_DURATION (-4)

typedef struct {
    double freq_hz[TONEGEN_MAX_FREQS];    /* 0 = component unused; else 0 < f < 4000 */
    double level_dbm0[TONEGEN_MAX_FREQS]; /* per component, -90 .. +3.14 */
    int32_t on_samples;                   /* >= 0 */
    int32_t off_samples;                  /* >= 0 */
} tonegen_step_t;

typedef struct {
    tonegen_step_t step[TONEGEN_MAX_STEPS];
    int32_t steps;  /* 1 .. TONEGEN_MAX_STEPS */
    int32_t repeat; /* nonzero: start again after the last step, forever */
} tonegen_config_t;

typedef struct tonegen_state_s {
    tonegen_config_t config;
    double rot_re[TONEGEN_MAX_FREQS];  /* oscillator: current phasor */
    double rot_im[TONEGEN_MAX_FREQS];
    double step_re[TONEGEN_MAX_FREQS]; /* per-sample rotation */
    double step_im[TONEGEN_MAX_FREQS];
    double amplitude[TONEGEN_MAX_FREQS];
    int32_t step;     /* current step; == steps when a one-shot tone has ended */
    int32_t position; /* samples into the current step (on then off) */
} tonegen_state_t;

/* Validates config and starts the tone at its first step. Returns 0 or TONEGEN_ERR_*. */
int tonegen_init(tonegen_state_t *s, const tonegen_config_t *config);
/* Starts the tone again from its first step. */
void tonegen_reset(tonegen_state_t *s);
/* Writes the next `samples` samples. Returns how many of them belong to the tone: less
 * than `samples` only when a one-shot tone ended (the rest are written as silence). */
size_t tonegen_process(tonegen_state_t *s, int16_t *out, size_t samples);
/* One frame for each of `channels` generators: out is channels x frame, row-major. */
void tonegen_process_batch(tonegen_state_t *states, size_t channels, int16_t *out,
                           size_t frame);

#endif
