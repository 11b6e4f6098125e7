/* ns.h - streaming noise suppressor for 8 kHz narrowband telephone speech.
 *
 * What it is for: stationary and slowly varying noise on a line (mains hum and its
 * harmonics, hiss, fans, a steady crowd) under speech, without damaging clean speech.
 *
 * How:
 *   - Analysis: NS_FFT_SIZE-point (16 ms) asymmetric analysis window every NS_HOP samples
 *     (8 ms), real FFT written here (radix-2; twiddles computed by ns_init into the state).
 *   - Low-delay synthesis: the synthesis window covers only the last NS_SYNTH samples of
 *     each frame (the analysis window times the synthesis window is a flat-top window of
 *     NS_SYNTH samples whose NS_SYNTH - NS_HOP sample tapers overlap-add to one), so
 *     the whole analysis/synthesis chain reconstructs the input exactly when every gain
 *     is one, delayed by NS_DELAY = NS_SYNTH - 1 samples (79 samples = 9.9 ms at 8 kHz),
 *     whatever the caller's block size: out[n] depends on in[0..n] only and equals the
 *     filtered in[n - NS_DELAY].
 *   - Noise power spectral density per bin: minima controlled recursive averaging
 *     (MCRA): the time-smoothed periodogram's minimum over a sliding window of
 *     NS_MIN_WINDOWS sub-windows (noise_window_ms in all) decides where speech is
 *     present, and the noise estimate averages the periodogram recursively where it is
 *     absent. For speech to pass intact the estimate may rise at most 10 dB/s and never
 *     above 3 times the minimum, and it starts (first 200 ms) from the lowest
 *     periodogram seen rather than the mean, with each bin held to 4 times the lowest
 *     bin within 5 of it (noise spectra are smooth; a tone or voiced speech already
 *     there when the stream starts stands out of its neighbours and is not learned).
 *   - Gain: decision-directed a priori SNR xi, gain xi / (0.6 + xi) (a Wiener gain
 *     made gentler, close to Wiener^3/4), limited below by max_attenuation_db, then
 *     smoothed across frequency (1/4, 1/2, 1/4) against musical noise; bins far above
 *     the noise keep a gain of about one, so clean speech passes almost untouched.
 *     Noise alone comes out 9-25 dB quieter at the default 25 dB limit (hum the full
 *     limit; hiss and fans less, as the gain rises over their random peaks), never
 *     more than the limit.
 *   - Mains hum and its harmonics are stationary lines in the spectrum: the tracker
 *     learns them as noise like any other.
 *
 * Units: samples are 16-bit linear (any level up to full scale; output saturates);
 * times in samples or ms as named; attenuation in dB (positive = quieter).
 * Limits: rate 8000 only.
 */
#ifndef APPLIANCE_NS_H
#define APPLIANCE_NS_H

#include <stddef.h>
#include <stdint.h>

#define NS_FFT_SIZE 128        /* analysis frame and FFT length, samples */
#define NS_BINS 65             /* NS_FFT_SIZE / 2 + 1 */
#define NS_HOP 64              /* new samples per analysis frame */
#define NS_SYNTH 80            /* synthesis window length, samples */
#define NS_DELAY 79            /* added delay, samples: NS_SYNTH - 1 */
#define NS_MIN_WINDOWS 8       /* sub-windows of the noise-minimum search */

#define NS_ERR_RATE (-1)
#define NS_ERR_ATTENUATION (-2)
#define NS_ERR_NOISE_WINDOW (-3)

typedef struct {
    int32_t rate;               /* samples per second; only 8000 */
    double max_attenuation_db;  /* deepest cut of any bin, 0 .. 40 dB (default 25) */
    double noise_window_ms;     /* minimum search window, 256 .. 8000 ms (default 1024) */
} ns_config_t;

typedef struct ns_state_s {
    ns_config_t config;
    /* Constants computed by ns_init from the config. */
    float twiddle_re[NS_FFT_SIZE / 2];  /* exp(-2 pi i k / NS_FFT_SIZE), k < N/2 */
    float twiddle_im[NS_FFT_SIZE / 2];
    uint16_t bitrev[NS_FFT_SIZE / 2];   /* bit reversal for the N/2-point complex FFT */
    float window_analysis[NS_FFT_SIZE];
    float window_synthesis[NS_SYNTH];   /* applies to the frame's last NS_SYNTH samples */
    float gain_min;                     /* max_attenuation_db as an amplitude gain */
    int32_t subwindow_frames;           /* frames per minimum-search sub-window */
    /* Streaming buffers. */
    float frame[NS_FFT_SIZE];           /* the last NS_FFT_SIZE input samples */
    float overlap[NS_SYNTH - NS_HOP];   /* synthesis tail waiting for the next frame */
    int16_t ready[NS_HOP];              /* output samples of the last frame */
    int32_t fill;                       /* input samples collected towards the next frame */
    /* Per-bin estimator state. */
    float smoothed[NS_BINS];            /* time- and frequency-smoothed periodogram */
    float min_now[NS_BINS];             /* minimum in the current sub-window */
    float min_past[NS_BINS];            /* minimum over the stored sub-windows */
    float min_sub[NS_MIN_WINDOWS][NS_BINS];
    float presence[NS_BINS];            /* speech presence probability */
    float noise[NS_BINS];               /* noise power estimate */
    float clean_prev[NS_BINS];          /* last frame's estimated clean power */
    int32_t frames;                     /* frames analysed since reset (saturates) */
    int32_t subwindow_pos;              /* frames into the current sub-window */
    int32_t subwindow_index;            /* which min_sub row the current one goes to */
} ns_state_t;

/* Fills config with the defaults (8000 Hz, 25 dB, 1024 ms). */
void ns_default_config(ns_config_t *config);
/* Validates config and starts from silence. Returns 0 or NS_ERR_*. */
int ns_init(ns_state_t *s, const ns_config_t *config);
/* Forgets the signal (buffers and noise estimate); keeps the config. */
void ns_reset(ns_state_t *s);
/* Suppresses noise in `samples` samples: out[n] is in[n - NS_DELAY] cleaned, any block
 * size; in and out may be the same array. */
void ns_process(ns_state_t *s, const int16_t *in, int16_t *out, size_t samples);
/* One frame for each of `channels` suppressors: in and out are channels x frame,
 * row-major. */
void ns_process_batch(ns_state_t *states, size_t channels, const int16_t *in, int16_t *out,
                      size_t frame);

#endif
