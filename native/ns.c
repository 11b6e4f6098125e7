/* ns.c - see ns.h. */
#include <math.h>
#include <string.h>

#include "ns.h"

#define SAMPLE_RATE 8000
#define HALF (NS_FFT_SIZE / 2)      /* points of the complex FFT behind the real one */
#define TAPER (NS_SYNTH - NS_HOP)   /* overlapping taper of the synthesis window */
#define FRAME_MS (1000.0 * NS_HOP / SAMPLE_RATE)
#define PI 3.14159265358979323846

/* Estimator constants, per frame of NS_HOP samples (8 ms). */
static const float alpha_smooth = 0.7f;    /* periodogram smoothing (~27 ms) */
static const float alpha_presence = 0.45f; /* speech presence smoothing */
static const float alpha_noise = 0.975f;   /* noise averaging where speech is absent */
static const float presence_ratio = 8.0f;  /* smoothed/minimum above this: speech */
static const float alpha_dd = 0.98f;       /* decision-directed a priori SNR weight */
static const float gain_kappa = 0.6f;      /* gain xi / (kappa + xi) */
static const float noise_floor = 1.0f;     /* power floor (int16 units), keeps ratios finite */
static const float power_epsilon = 1e-3f;  /* added to every bin's power */
static const int32_t startup_frames = 25;  /* ~200 ms of start-up noise estimate */
static const float min_bias = 3.0f;        /* noise at most this times the minimum (the
                                            * mean is 2.3 times it on stationary noise) */
static const float noise_rise = 1.0186f;   /* noise rises at most 10 dB/s (per frame) */
static const int local_bins = 5;           /* start-up: neighbours each side for the floor */
static const float local_ratio = 4.0f;     /* start-up noise at most this times the floor */

/* max(a, b) without a branch, so the loops using it vectorise (SSE2 has no blend). */
static inline float max_f(float a, float b)
{
    return 0.5f * (a + b + fabsf(a - b));
}

void ns_default_config(ns_config_t *config)
{
    config->rate = SAMPLE_RATE;
    config->max_attenuation_db = 25.0;
    config->noise_window_ms = 1024.0;
}

static void make_windows(ns_state_t *s)
{
    /* Analysis: sqrt-Hann rise over the first N - TAPER samples, sqrt-Hann fall over
     * the last TAPER. Synthesis: the product must be the flat-top window of NS_SYNTH
     * samples with sin^2 / cos^2 tapers of TAPER samples, which overlap-adds to one at
     * a hop of NS_HOP = NS_SYNTH - TAPER. The inverse FFT's 1/HALF scale is folded in. */
    const int rise = NS_FFT_SIZE - TAPER;
    for (int n = 0; n < NS_FFT_SIZE; n++) {
        double w;
        if (n < rise)
            w = sin(0.5 * PI * (n + 0.5) / rise);
        else
            w = cos(0.5 * PI * (n - rise + 0.5) / TAPER);
        s->window_analysis[n] = (float) w;
    }
    for (int j = 0; j < NS_SYNTH; j++) {
        int n = NS_FFT_SIZE - NS_SYNTH + j;
        double product;
        if (j < TAPER) {
            double v = sin(0.5 * PI * (j + 0.5) / TAPER);
            product = v * v;
        } else if (n < rise) {
            product = 1.0;
        } else {
            double v = cos(0.5 * PI * (n - rise + 0.5) / TAPER);
            product = v * v;
        }
        s->window_synthesis[j] = (float) (product / s->window_analysis[n] / HALF);
    }
}

static void make_fft_tables(ns_state_t *s)
{
    for (int k = 0; k < HALF; k++) {
        s->twiddle_re[k] = (float) cos(2.0 * PI * k / NS_FFT_SIZE);
        s->twiddle_im[k] = (float) -sin(2.0 * PI * k / NS_FFT_SIZE);
    }
    int bits = 0;
    while ((1 << bits) < HALF)
        bits++;
    for (int k = 0; k < HALF; k++) {
        int r = 0;
        for (int b = 0; b < bits; b++)
            if (k & (1 << b))
                r |= 1 << (bits - 1 - b);
        s->bitrev[k] = (uint16_t) r;
    }
}

int ns_init(ns_state_t *s, const ns_config_t *config)
{
    if (config->rate != SAMPLE_RATE)
        return NS_ERR_RATE;
    if (!(config->max_attenuation_db >= 0.0 && config->max_attenuation_db <= 40.0))
        return NS_ERR_ATTENUATION;
    if (!(config->noise_window_ms >= 256.0 && config->noise_window_ms <= 8000.0))
        return NS_ERR_NOISE_WINDOW;
    s->config = *config;
    make_windows(s);
    make_fft_tables(s);
    s->gain_min = (float) pow(10.0, -config->max_attenuation_db / 20.0);
    int32_t sub = (int32_t) lrint(config->noise_window_ms / FRAME_MS / NS_MIN_WINDOWS);
    s->subwindow_frames = sub < 1 ? 1 : sub;
    ns_reset(s);
    return 0;
}

void ns_reset(ns_state_t *s)
{
    memset(s->frame, 0, sizeof s->frame);
    memset(s->overlap, 0, sizeof s->overlap);
    memset(s->ready, 0, sizeof s->ready);
    s->fill = 0;
    memset(s->smoothed, 0, sizeof s->smoothed);
    memset(s->min_now, 0, sizeof s->min_now);
    memset(s->min_past, 0, sizeof s->min_past);
    memset(s->min_sub, 0, sizeof s->min_sub);
    memset(s->presence, 0, sizeof s->presence);
    memset(s->noise, 0, sizeof s->noise);
    memset(s->clean_prev, 0, sizeof s->clean_prev);
    s->frames = 0;
    s->subwindow_pos = 0;
    s->subwindow_index = 0;
}

/* In-place complex FFT of HALF points (forward, unscaled), radix-2 decimation in time;
 * the input is already in bit-reversed order. The first two stages need no
 * multiplications and run together as radix-4 butterflies. */
static void fft_complex(const ns_state_t *s, float *re, float *im)
{
    for (int b = 0; b < HALF; b += 4) {
        float b0r = re[b] + re[b + 1], b0i = im[b] + im[b + 1];
        float b1r = re[b] - re[b + 1], b1i = im[b] - im[b + 1];
        float b2r = re[b + 2] + re[b + 3], b2i = im[b + 2] + im[b + 3];
        float b3r = re[b + 2] - re[b + 3], b3i = im[b + 2] - im[b + 3];
        re[b] = b0r + b2r;
        im[b] = b0i + b2i;
        re[b + 2] = b0r - b2r;
        im[b + 2] = b0i - b2i;
        /* b3 times -i */
        re[b + 1] = b1r + b3i;
        im[b + 1] = b1i - b3r;
        re[b + 3] = b1r - b3i;
        im[b + 3] = b1i + b3r;
    }
    for (int len = 8; len <= HALF; len <<= 1) {
        int half = len >> 1;
        int stride = NS_FFT_SIZE / len; /* twiddle index step in the size-N table */
        for (int base = 0; base < HALF; base += len) {
            float *ar = re + base, *ai = im + base, *br = ar + half, *bi = ai + half;
            for (int j = 0; j < half; j++) {
                float wr = s->twiddle_re[j * stride];
                float wi = s->twiddle_im[j * stride];
                float tr = br[j] * wr - bi[j] * wi;
                float ti = br[j] * wi + bi[j] * wr;
                br[j] = ar[j] - tr;
                bi[j] = ai[j] - ti;
                ar[j] += tr;
                ai[j] += ti;
            }
        }
    }
}

/* Real FFT of x[NS_FFT_SIZE] into bins 0..HALF (xr, xi of NS_BINS each). */
static void fft_real(const ns_state_t *s, const float *x, float *xr, float *xi)
{
    /* z[n] = x[2n] + i x[2n+1], loaded in bit-reversed order. */
    float zr[HALF], zi[HALF];
    for (int k = 0; k < HALF; k++) {
        int n = s->bitrev[k];
        zr[k] = x[2 * n];
        zi[k] = x[2 * n + 1];
    }
    fft_complex(s, zr, zi);
    xr[0] = zr[0] + zi[0];
    xi[0] = 0.0f;
    xr[HALF] = zr[0] - zi[0];
    xi[HALF] = 0.0f;
    for (int k = 1; k < HALF; k++) {
        /* Even part E = (Z[k] + conj Z[H-k]) / 2, odd part O = (Z[k] - conj Z[H-k]) / 2i;
         * X[k] = E + W^k O. */
        float ar = zr[k], ai = zi[k], br = zr[HALF - k], bi = -zi[HALF - k];
        float er = 0.5f * (ar + br), ei = 0.5f * (ai + bi);
        float or_ = 0.5f * (ai - bi), oi = -0.5f * (ar - br);
        float wr = s->twiddle_re[k], wi = s->twiddle_im[k];
        xr[k] = er + or_ * wr - oi * wi;
        xi[k] = ei + or_ * wi + oi * wr;
    }
}

/* Inverse of fft_real, times HALF (the synthesis window holds the 1/HALF). */
static void ifft_real(const ns_state_t *s, const float *xr, const float *xi, float *x)
{
    float zr[HALF], zi[HALF];
    for (int k = 0; k < HALF; k++) {
        /* Z[k] = E + i O with E = (X[k] + conj X[H-k]) / 2, O = (X[k] - conj X[H-k]) W^-k / 2,
         * conjugated so the forward FFT computes the inverse, stored bit-reversed. */
        float ar = xr[k], ai = xi[k], br = xr[HALF - k], bi = -xi[HALF - k];
        float er = 0.5f * (ar + br), ei = 0.5f * (ai + bi);
        float dr = 0.5f * (ar - br), di = 0.5f * (ai - bi);
        float wr = s->twiddle_re[k], wi = -s->twiddle_im[k];
        float or_ = dr * wr - di * wi, oi = dr * wi + di * wr;
        int r = s->bitrev[k];
        zr[r] = er - oi;
        zi[r] = -(ei + or_);
    }
    fft_complex(s, zr, zi);
    for (int n = 0; n < HALF; n++) {
        x[2 * n] = zr[n];
        x[2 * n + 1] = -zi[n];
    }
}

static void update_minimum(ns_state_t *s)
{
    for (int k = 0; k < NS_BINS; k++)
        if (s->smoothed[k] < s->min_now[k])
            s->min_now[k] = s->smoothed[k];
    if (++s->subwindow_pos < s->subwindow_frames)
        return;
    /* Sub-window done: store its minimum, forget the oldest, start a new one. */
    s->subwindow_pos = 0;
    memcpy(s->min_sub[s->subwindow_index], s->min_now, sizeof s->min_now);
    s->subwindow_index = (s->subwindow_index + 1) % NS_MIN_WINDOWS;
    memcpy(s->min_past, s->min_sub[0], sizeof s->min_past);
    for (int w = 1; w < NS_MIN_WINDOWS; w++)
        for (int k = 0; k < NS_BINS; k++)
            if (s->min_sub[w][k] < s->min_past[k])
                s->min_past[k] = s->min_sub[w][k];
    memcpy(s->min_now, s->smoothed, sizeof s->min_now);
}

/* Start-up noise estimate from one smoothed spectrum f: each bin at most local_ratio
 * times the lowest bin within local_bins of it. Noise has a smooth spectrum and passes
 * as it is; a tone (a key already pressed as the stream starts) or a voiced harmonic
 * stands far out of its neighbours and is not taken for noise. */
static void startup_estimate(const float *f, float *out)
{
    for (int k = 0; k < NS_BINS; k++) {
        float lowest = f[k];
        for (int j = k - local_bins; j <= k + local_bins; j++) {
            int i = j < 0 ? -j : j > NS_BINS - 1 ? 2 * (NS_BINS - 1) - j : j;
            if (f[i] < lowest)
                lowest = f[i];
        }
        out[k] = f[k] < local_ratio * lowest ? f[k] : local_ratio * lowest;
    }
}

/* Noise estimate and gains for one frame's spectrum; scales xr, xi in place. */
static void suppress(ns_state_t *s, float *xr, float *xi)
{
    float power[NS_BINS];
    /* The small constant keeps every recursive average of a digitally silent line
     * far above the denormal range (where float arithmetic is very slow). */
    for (int k = 0; k < NS_BINS; k++)
        power[k] = xr[k] * xr[k] + xi[k] * xi[k] + power_epsilon;

    /* Time smoothing of the frequency-smoothed periodogram. */
    float smoothed_freq[NS_BINS];
    for (int k = 0; k < NS_BINS; k++) {
        float left = power[k > 0 ? k - 1 : k + 1];
        float right = power[k < NS_BINS - 1 ? k + 1 : k - 1];
        smoothed_freq[k] = 0.25f * left + 0.5f * power[k] + 0.25f * right;
        s->smoothed[k] = alpha_smooth * s->smoothed[k] + (1.0f - alpha_smooth) * smoothed_freq[k];
    }

    const int32_t full = NS_FFT_SIZE / NS_HOP; /* frames until the buffer holds signal */
    if (s->frames < full) {
        /* Still zeros in the frame: start every estimate from this frame. */
        float estimate[NS_BINS];
        startup_estimate(smoothed_freq, estimate);
        for (int k = 0; k < NS_BINS; k++) {
            s->smoothed[k] = power[k];
            s->min_now[k] = s->min_past[k] = power[k];
            s->noise[k] = estimate[k] > noise_floor ? estimate[k] : noise_floor;
        }
        for (int w = 0; w < NS_MIN_WINDOWS; w++)
            memcpy(s->min_sub[w], power, sizeof power);
    } else if (s->frames < full + startup_frames) {
        /* The first ~200 ms: speech or noise, nothing tells yet. Take the lowest
         * frequency-smoothed periodogram seen, with its peaks cut to the local floor:
         * some dB under a stationary noise (the tracker then closes the gap), and well
         * under speech or a tone that is there from the start. */
        update_minimum(s);
        float estimate[NS_BINS];
        startup_estimate(smoothed_freq, estimate);
        for (int k = 0; k < NS_BINS; k++)
            if (s->frames == full || estimate[k] < s->noise[k])
                s->noise[k] = estimate[k];
    } else {
        update_minimum(s);
        for (int k = 0; k < NS_BINS; k++) {
            float minimum = s->min_now[k] < s->min_past[k] ? s->min_now[k] : s->min_past[k];
            float present = s->smoothed[k] > presence_ratio * minimum ? 1.0f : 0.0f;
            s->presence[k] = alpha_presence * s->presence[k] + (1.0f - alpha_presence) * present;
            float a = alpha_noise + (1.0f - alpha_noise) * s->presence[k];
            float rise_max = noise_rise * s->noise[k];
            s->noise[k] = a * s->noise[k] + (1.0f - a) * power[k];
            if (s->noise[k] > rise_max)
                s->noise[k] = rise_max;
            /* Speech mistaken for noise (at the start, or in a long stretch of speech)
             * cannot hold the estimate above the biased minimum. */
            if (s->noise[k] > min_bias * minimum)
                s->noise[k] = min_bias * minimum;
        }
    }
    if (s->frames < INT32_MAX)
        s->frames++;

    /* Decision-directed a priori SNR; gain xi / (kappa + xi): the Wiener gain with the
     * SNR scaled by 1 / kappa, about the Wiener gain to the power 3/4, so as deep in the
     * noise but gentler on weak speech. Branch-free so it vectorises. */
    const float gain_min = s->gain_min;
    const float snr_min = gain_min * gain_min;
    float gain[NS_BINS];
    for (int k = 0; k < NS_BINS; k++) {
        float inverse = 1.0f / max_f(s->noise[k], noise_floor);
        float post = power[k] * inverse;                   /* a posteriori SNR */
        float ml = max_f(post - 1.0f, 0.0f);
        float prio = alpha_dd * s->clean_prev[k] * inverse + (1.0f - alpha_dd) * ml;
        prio = max_f(prio, snr_min);
        float g = max_f(prio / (gain_kappa + prio), gain_min);
        s->clean_prev[k] = g * g * power[k];
        gain[k] = g;
    }
    /* Gains smoothed across frequency (1/4, 1/2, 1/4; mirrored at the ends): isolated
     * bins let through or cut by the noise's random peaks are what makes musical noise. */
    float smooth[NS_BINS];
    smooth[0] = 0.5f * (gain[0] + gain[1]);
    for (int k = 1; k < NS_BINS - 1; k++)
        smooth[k] = 0.25f * (gain[k - 1] + gain[k + 1]) + 0.5f * gain[k];
    smooth[NS_BINS - 1] = 0.5f * (gain[NS_BINS - 2] + gain[NS_BINS - 1]);
    for (int k = 0; k < NS_BINS; k++) {
        xr[k] *= smooth[k];
        xi[k] *= smooth[k];
    }
}

/* Rounds to nearest (halves away from zero) and saturates; no libm call, so it
 * vectorises. */
static int16_t saturate(float v)
{
    v = v < 32767.0f ? v : 32767.0f;
    v = v > -32768.0f ? v : -32768.0f;
    return (int16_t) (v + (v >= 0.0f ? 0.5f : -0.5f));
}

/* One analysis/synthesis frame: s->frame holds the last NS_FFT_SIZE input samples. */
static void run_frame(ns_state_t *s)
{
    float x[NS_FFT_SIZE], xr[NS_BINS], xi[NS_BINS];
    for (int n = 0; n < NS_FFT_SIZE; n++)
        x[n] = s->frame[n] * s->window_analysis[n];
    fft_real(s, x, xr, xi);
    suppress(s, xr, xi);
    ifft_real(s, xr, xi, x);
    const float *tail = x + NS_FFT_SIZE - NS_SYNTH;
    for (int j = 0; j < NS_HOP; j++) {
        float v = tail[j] * s->window_synthesis[j];
        if (j < TAPER)
            v += s->overlap[j];
        s->ready[j] = saturate(v);
    }
    for (int j = 0; j < TAPER; j++)
        s->overlap[j] = tail[NS_HOP + j] * s->window_synthesis[NS_HOP + j];
}

void ns_process(ns_state_t *s, const int16_t *in, int16_t *out, size_t samples)
{
    /* Each input sample enters the newest hop of the frame. The sample that completes a
     * hop runs a frame and takes the frame's first ready sample; the next hop's first
     * NS_HOP - 1 samples take the rest: out[n] = cleaned in[n - NS_DELAY]. */
    float *hop = s->frame + NS_FFT_SIZE - NS_HOP;
    size_t i = 0;
    while (i < samples) {
        size_t run = (size_t) (NS_HOP - s->fill);
        if (run > samples - i)
            run = samples - i;
        for (size_t j = 0; j < run; j++) {
            int32_t pos = s->fill + (int32_t) j;
            hop[pos] = (float) in[i + j]; /* read before write: out may alias in */
            if (pos < NS_HOP - 1)
                out[i + j] = s->ready[pos + 1];
        }
        s->fill += (int32_t) run;
        i += run;
        if (s->fill == NS_HOP) {
            run_frame(s);
            out[i - 1] = s->ready[0];
            memmove(s->frame, s->frame + NS_HOP, (NS_FFT_SIZE - NS_HOP) * sizeof(float));
            s->fill = 0;
        }
    }
}

void ns_process_batch(ns_state_t *states, size_t channels, const int16_t *in, int16_t *out,
                      size_t frame)
{
    for (size_t c = 0; c < channels; c++)
        ns_process(&states[c], in + c * frame, out + c * frame, frame);
}
