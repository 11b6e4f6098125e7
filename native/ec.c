/* ec.c - see ec.h. */
#include <math.h>
#include <string.h>

#include "ec.h"
#include "cpu_internal.h"
#include "level_internal.h"

/* Background step size, and its fraction while double talk is declared (0.8: with the
 * prewhitening only approximate, a full step adds more gradient noise than speed). */
#define STEP 0.8
#define STEP_DOUBLE_TALK (STEP / 16.0)
/* Once converged (ERLE over 20 dB): a smaller step leaves less gradient noise in the
 * coefficients, and less room to follow near-end speech that no detector caught. */
#define STEP_ARMED 0.5
/* Variable step: noise floor margin and the smallest fraction of the step. */
#define NOISE_MARGIN 1.0
#define STEP_MIN 0.05
#define NF_BLOCK 2000 /* noise floor minimum statistics: 250 ms blocks */
/* IPNLMS proportionality: -1 is NLMS, +1 fully proportionate. Until the filter first
 * reaches 20 dB ERLE, proportionate (0.5; measured over six corpus voices, 0.8 left
 * dispersive and undelayed paths short of 20 dB at 1 s, 0 slowed the delayed ones): the
 * hybrid's response is compact behind a bulk delay, and the taps that grow first take most of the step, so a delayed path
 * converges as fast as an undelayed one. Once converged, nearly NLMS: the dispersed tail
 * of the response (model D.8) and a changing path need the uniform part of the step. */
#define IPNLMS_ALPHA_CONVERGING 0.5
/* ... for at most this many windows of far-end signal (1.5 s): where line noise keeps the
 * ERLE from ever showing 20 dB, proportionate gains chase the noise in the small taps. */
#define CONVERGING_WINDOWS 188
#define IPNLMS_ALPHA (-0.5)
/* Two-path transfer: the candidate better than the foreground by 0.5 dB in a window (and
 * 6 dB under the rx); the background restored when the candidate was 3 dB worse in two
 * consecutive ones. */
#define COPY_RATIO 0.9
#define RESTORE_RATIO 2.0
/* ... and while near-end speech is declared, 6 dB better and 12 dB under the rx in eight
 * consecutive windows (a changed echo path). */
#define COPY_SOURCE hc
/* While the filter converges (the first 2 s of far-end signal, or until it cancels
 * 30 dB), copies judged in advance reach the output 8 to 16 ms after the background
 * learnt them: on speech, whose spectrum moves on every few tens of ms, that lag alone
 * cost 0.2 to 0.4 s of convergence. Then the foreground takes the background as it is
 * at the end of a window whose candidate was no worse than the foreground and whose a
 * priori errors were no worse than the candidate's (a background gone astray within the
 * window shows there); the next window judges that copy as the candidate. */
#define FAST_COPY_WINDOWS 250
#define ESCAPE_RATIO 0.25
/* While the correlation or residual detector (not Geigel) holds the copies back, a
 * candidate that cancels 10 dB better than the foreground on samples it never adapted
 * on, in two consecutive windows, is copied anyway: far-end speech bringing spectrum the
 * foreground has not learnt yet (a new pitch band) leaves a residual both detectors take
 * for the near end, and the background, even slowed, learns it within a few windows.
 * Near-end speech that the background picked up makes its snapshot cancel a few dB
 * better at most, nearly always: over the corpus voices' double talk (test 3's voice
 * pairs), 0.13 % of the held-back windows reached 10 dB, against 22 % of those that
 * missed 20 dB ERLE after 1 s of far-end speech on the strict grid (files 60 and 120).
 * Unlike the escape below, the filter stays armed. */
#define NEAR_COPY_RATIO 0.1
#define NEAR_COPY_WINDOWS 2
#define ESCAPE_WINDOWS 8
#define RESTORE_WINDOWS 2
/* Skip the update when the far end and its whitened history disagree this much. */
#define CROSS_MIN 0.5
/* Far-end prediction gain above which the far end counts as narrow-band (35 dB; speech
 * stays below it, sine components reach 50 dB over the white floor). */
#define TONE_GAIN 3162.0
/* Predictor: autocorrelation memory per window (0.6: about 20 ms; a whitening that
 * follows the far end's spectrum phoneme by phoneme converged faster on speech than the
 * 40 ms memory of 0.8), white-noise floor, bandwidth expansion. */
#define ACF_DECAY 0.6
#define ACF_NOISE_FLOOR 1e-2
#define TONE_NOISE_FLOOR 1e-5
#define LPC_EXPANSION 0.94
/* Double-talk detectors. */
#define GEIGEL_RATIO 0.5 /* 6 dB: the smallest ERL G.168 expects */
#define GEIGEL_HOLD 240  /* 30 ms */
#define NCC_THRESHOLD 0.97
#define NCC_HIGH_THRESHOLD 0.99
#define NEAR_HOLD 480    /* 60 ms NLP hangover after near-end speech */
/* The residual detector's margins over the measured residual echo: 5 dB turns the NLP
 * off (at 10 dB the NLP cut a caller's DTMF 14 dB under the echo in the prompt's loud
 * syllables); COPY_MARGIN blocks the copies of a mature filter. */
#define NLP_MARGIN 3.0
#define COPY_MARGIN 10.0
/* ... taken as no less than 30 dB under the echo: deeper than that, the residual follows
 * the far end's spectrum, not its level, and swings past any margin. */
#define RESIDUAL_FLOOR 1e-3
#define ARMED_RATIO 0.01 /* 20 dB ERLE */
#define MATURE_RATIO 1e-3 /* 30 dB ERLE */
#define ERLE_DECAY 0.97  /* per window: the ERLE is measured over about 270 ms */
#define DISARM_WINDOWS 250 /* 2 s */
/* Least-squares bootstrap (see ec.h), in windows of far-end signal: the first solution
 * after LS_FIRST_WINDOWS (0.19 s), then one every LS_SOLVE_WINDOWS (96 ms) up to
 * LS_LATE_WINDOWS (1/2 s) and every LS_LATE_SOLVE_WINDOWS (200 ms) after; the end at
 * LS_LAST_WINDOWS (3 s), after LS_TONE_WINDOWS of narrow-band far end, or from
 * LS_LATE_WINDOWS on once the foreground cancels LS_DONE_RATIO (50 dB) or down to the
 * line noise over the last windows (their memory: LS_DONE_DECAY per window). The support
 * starts LS_LEAD taps before the background's largest tap. Ridge: LS_RIDGE of the far
 * end's power, plus one (the rounding noise of 16-bit samples is 1/12), plus the last
 * fit's residual power over a tap prior of 1 / LS_PRIOR. */
#define LS_FIRST_WINDOWS 24
#define LS_SOLVE_WINDOWS 12
#define LS_LATE_WINDOWS 63
#define LS_LATE_SOLVE_WINDOWS 25
#define LS_LAST_WINDOWS 375
#define LS_LEAD 48
#define LS_TONE_WINDOWS 12
#define LS_RIDGE 1e-7
#define LS_DONE_RATIO 1e-5
#define LS_DONE_DECAY 0.8
#define LS_PRIOR 1e3

/* Smoothing of the short-term powers (per sample): about 8 ms. */
#define POWER_SMOOTHING (1.0 / 64.0)

static double clamp(double v, double lo, double hi)
{
    return v < lo ? lo : (v > hi ? hi : v);
}

int ec_init(ec_state_t *s, const ec_config_t *config)
{
    if (config->taps < EC_MIN_TAPS || config->taps > EC_MAX_TAPS || config->taps % EC_LANES != 0)
        return EC_ERR_TAPS;
    s->config = *config;
    ec_reset(s);
    return 0;
}

void ec_reset(ec_state_t *s)
{
    ec_config_t config = s->config;
    memset(s, 0, sizeof *s);
    s->config = config;
    s->prediction_gain = 1.0;
    s->noise_floor = level_power(-80.0);
    s->nf_block_min = 1e30;
    for (int b = 0; b < EC_NF_BLOCKS; b++)
        s->nf_min[b] = 1e30;
    s->nlp_gain = 1.0;
    s->noise_seed = 0x2545f491u;
    s->ls_on = 1;
}

/* The per-sample work: dot products and the update over the 512 taps, in EC_LANES = 8
 * lanes (lane k takes the taps i = k mod 8; lanes are summed pairwise, (0 + 1) + (2 + 3)
 * and so on). GCC and Clang get the lanes as vectors through their vector extension:
 * their auto-vectorizer will not reassociate a float sum under strict IEEE rules, and
 * interleaves hand-unrolled partial sums badly. Eight lanes are one AVX register (the
 * x86-64-v3 clone of ec_process, see cpu_internal.h) or two SSE/NEON ones. Other
 * compilers run the same arithmetic in scalars (also with EC_SCALAR defined). */
/* The filter loops are inlined into both clones of step(), so each gets its CPU's code. */
#if defined(__GNUC__)
#define HOT_INLINE static inline __attribute__((always_inline))
#else
#define HOT_INLINE static inline
#endif

#if defined(__GNUC__) && !defined(EC_SCALAR)
/* Unaligned, aliasing float vectors, used through macros only: a 32-byte vector passed
 * to or returned from a function would change its ABI between the two clones. */
typedef float lanes_t __attribute__((vector_size(4 * EC_LANES), aligned(4), may_alias));
typedef int32_t mask_t __attribute__((vector_size(4 * EC_LANES)));
#define load(p) (*(const lanes_t *) (const void *) (p))
#define store(p, v) (*(lanes_t *) (void *) (p) = (v))
#define splat(v) ((lanes_t) {0} + (v))
#define absolute(v) ((lanes_t) ((mask_t) (v) & 0x7fffffff))
#define total(v) ((((v)[0] + (v)[1]) + ((v)[2] + (v)[3])) + (((v)[4] + (v)[5]) + ((v)[6] + (v)[7])))
#else
typedef struct {
    float v[EC_LANES];
} lanes_t;

static inline lanes_t splat(float v)
{
    lanes_t r;
    for (int k = 0; k < EC_LANES; k++)
        r.v[k] = v;
    return r;
}

static inline float total(lanes_t v)
{
    return ((v.v[0] + v.v[1]) + (v.v[2] + v.v[3])) + ((v.v[4] + v.v[5]) + (v.v[6] + v.v[7]));
}
#endif

/* Dot product of `n` floats, n a multiple of EC_LANES. */
static float dot(const float *restrict a, const float *restrict b, int n)
{
    lanes_t acc = splat(0.0f);
    for (int i = 0; i < n; i += EC_LANES) {
#if defined(__GNUC__) && !defined(EC_SCALAR)
        acc += load(a + i) * load(b + i);
#else
        for (int k = 0; k < EC_LANES; k++)
            acc.v[k] += a[i + k] * b[i + k];
#endif
    }
    return total(acc);
}

/* All three filters over the same far-end history in one pass, with the two sums the
 * background's IPNLMS normalization needs: q = sum |hb| x xw and qw = sum |hb| xw^2. */
typedef struct {
    float yb, yf, yc, q, qw;
} filters_t;

HOT_INLINE filters_t filter_all(const float *restrict hb, const float *restrict hf,
                                const float *restrict hc, const float *restrict x,
                                const float *restrict xw, int n)
{
    lanes_t ab = splat(0.0f), af = ab, ac = ab, aq = ab, aw = ab;
    for (int i = 0; i < n; i += EC_LANES) {
#if defined(__GNUC__) && !defined(EC_SCALAR)
        lanes_t xk = load(x + i);
        lanes_t wk = load(xw + i);
        lanes_t hk = load(hb + i);
        lanes_t m = absolute(hk) * wk;
        ab += hk * xk;
        af += load(hf + i) * xk;
        ac += load(hc + i) * xk;
        aq += m * xk;
        aw += m * wk;
#else
        for (int k = 0; k < EC_LANES; k++) {
            float xk = x[i + k], wk = xw[i + k], hk = hb[i + k];
            float m = fabsf(hk) * wk;
            ab.v[k] += hk * xk;
            af.v[k] += hf[i + k] * xk;
            ac.v[k] += hc[i + k] * xk;
            aq.v[k] += m * xk;
            aw.v[k] += m * wk;
        }
#endif
    }
    filters_t r = {total(ab), total(af), total(ac), total(aq), total(aw)};
    return r;
}

/* IPNLMS update h += step * (a + b |h|) * x; returns the new sum of |h|. */
HOT_INLINE double update(float *restrict h, const float *restrict x, int n, float step, float a,
                         float b)
{
    lanes_t acc = splat(0.0f);
    for (int i = 0; i < n; i += EC_LANES) {
#if defined(__GNUC__) && !defined(EC_SCALAR)
        lanes_t v = load(h + i);
        v += splat(step) * (splat(a) + splat(b) * absolute(v)) * load(x + i);
        store(h + i, v);
        acc += absolute(v);
#else
        for (int k = 0; k < EC_LANES; k++) {
            float v = h[i + k];
            v += step * (a + b * fabsf(v)) * x[i + k];
            h[i + k] = v;
            acc.v[k] += fabsf(v);
        }
#endif
    }
    return (double) total(acc);
}

/* Levinson-Durbin: the order-EC_LPC_ORDER predictor of autocorrelation r (a[0] = 1);
 * returns the prediction gain r[0] / prediction error. */
static double levinson(const double *r, double *a)
{
    double err = r[0];
    a[0] = 1.0;
    for (int i = 1; i <= EC_LPC_ORDER; i++)
        a[i] = 0.0;
    for (int i = 1; i <= EC_LPC_ORDER; i++) {
        double acc = r[i];
        for (int j = 1; j < i; j++)
            acc += a[j] * r[i - j];
        double k = -acc / err;
        if (k >= 1.0 || k <= -1.0)
            break; /* numerically singular: keep the lower order */
        double prev[EC_LPC_ORDER + 1];
        memcpy(prev, a, sizeof prev);
        for (int j = 1; j < i; j++)
            a[j] = prev[j] + k * prev[i - j];
        a[i] = k;
        err *= 1.0 - k * k;
    }
    return r[0] / err;
}

/* Once per window: the far end's smoothed autocorrelation gives the whitening filter and
 * the tone flag. */
static void update_predictor(ec_state_t *s)
{
    double r[EC_LPC_ORDER + 1];
    double a[EC_LPC_ORDER + 1];
    for (int k = 0; k <= EC_LPC_ORDER; k++) {
        s->acf[k] = ACF_DECAY * s->acf[k] + s->acf_block[k];
        s->acf_block[k] = 0.0;
        r[k] = s->acf[k];
    }
    /* Tonality: the prediction gain with only a tiny white floor (and an absolute one,
     * so that silence is not "predicted"). */
    double r0 = r[0];
    r[0] = r0 * (1.0 + TONE_NOISE_FLOOR) + EC_WINDOW * level_power(-70.0);
    s->prediction_gain = levinson(r, a);
    s->tone = s->acf[0] > EC_WINDOW * level_power(-45.0) && s->prediction_gain > TONE_GAIN;
    /* Whitening: a white floor 20 dB down. Whitening harder steers the update into the
     * far end's spectral valleys, where the error cannot show what it does, and lets
     * the background filter wander there. */
    r[0] = r0 * (1.0 + ACF_NOISE_FLOOR) + EC_WINDOW * level_power(-70.0);
    levinson(r, a);
    double g = 1.0;
    for (int i = 0; i < EC_LPC_ORDER; i++) {
        g *= LPC_EXPANSION;
        s->lpc[i] = a[i + 1] * g;
    }
}

/* Least-squares bootstrap. From the reset on, the far end's autocorrelation r(k) (lags
 * under EC_LS_TAPS) and its cross-correlation p(k) with the rx (every lag of the tail)
 * are summed over every sample. The normal equations of the filter restricted to a
 * support of EC_LS_TAPS taps at delay d are then exact: R[i][j] = sum over t of
 * x(t-d-i) x(t-d-j) is r(j-i) summed up to d+i samples ago, which the recent history
 * gives (pre-windowed: the far end is zero before the reset). */
HOT_INLINE void ls_accumulate(ec_state_t *s, const float *restrict xv, float y, int taps,
                              int support)
{
    const float x0 = xv[0];
    float *restrict r = s->ls_rw;
    float *restrict pp = s->ls_pw;
    for (int k = 0; k < support; k++)
        r[k] += x0 * xv[k];
    /* Every lag until a solution is taken; then only its support's. */
    const int first = s->ls_fixed ? s->ls_d : 0;
    const int last = s->ls_fixed ? s->ls_d + support : taps;
    for (int k = first; k < last; k++)
        pp[k] += y * xv[k];
    s->ls_head = (s->ls_head + 1u) & (EC_LS_RING - 1u);
    s->ls_ring[s->ls_head] = x0;
}

/* Once per window: the window's float sums into the double totals. */
static void ls_flush(ec_state_t *s)
{
    const int taps = s->config.taps;
    const int n = taps < EC_LS_TAPS ? taps : EC_LS_TAPS;
    for (int k = 0; k < n; k++) {
        s->ls_r[k] += (double) s->ls_rw[k];
        s->ls_rw[k] = 0.0f;
    }
    for (int k = 0; k < taps; k++) {
        s->ls_p[k] += (double) s->ls_pw[k];
        s->ls_pw[k] = 0.0f;
    }
}

#if defined(__GNUC__) && !defined(EC_SCALAR)
typedef double dlanes_t __attribute__((vector_size(32), aligned(8), may_alias));
#endif

/* Dot product of n doubles in eight lanes (the solver's inner loop); the scalar version
 * adds in the same order. */
HOT_INLINE double ddot(const double *restrict a, const double *restrict b, int n)
{
    int k = 0;
#if defined(__GNUC__) && !defined(EC_SCALAR)
    dlanes_t acc0 = {0.0, 0.0, 0.0, 0.0}, acc1 = acc0;
    for (; k + 8 <= n; k += 8) {
        acc0 += *(const dlanes_t *) (const void *) (a + k) * *(const dlanes_t *) (const void *) (b + k);
        acc1 += *(const dlanes_t *) (const void *) (a + k + 4)
                * *(const dlanes_t *) (const void *) (b + k + 4);
    }
    acc0 += acc1;
    double sum = (acc0[0] + acc0[1]) + (acc0[2] + acc0[3]);
#else
    double acc[8] = {0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0};
    for (; k + 8 <= n; k += 8)
        for (int l = 0; l < 8; l++)
            acc[l] += a[k + l] * b[k + l];
    for (int l = 0; l < 4; l++)
        acc[l] += acc[l + 4];
    double sum = (acc[0] + acc[1]) + (acc[2] + acc[3]);
#endif
    for (; k < n; k++)
        sum += a[k] * b[k];
    return sum;
}

/* Solves the normal equations on the support (Cholesky, with a small ridge) and makes
 * the solution the next window's candidate; returns 0 if the system was singular. */
HOT_CLONES static int ls_solve(ec_state_t *s)
{
    const int taps = s->config.taps;
    const int n = taps < EC_LS_TAPS ? taps : EC_LS_TAPS;
    int d = s->ls_d;
    if (!s->ls_fixed) {
        int peak = 0;
        float best = 0.0f;
        for (int i = 0; i < taps; i++)
            if (fabsf(s->hb[i]) > best) {
                best = fabsf(s->hb[i]);
                peak = i;
            }
        if (best <= 0.0f)
            return 0;
        d = peak - LS_LEAD;
        if (d > taps - n)
            d = taps - n;
        if (d < 0)
            d = 0;
        s->ls_d = d;
    }
    /* hist[m] = x(T - m), newest first, over the span the corrections need. */
    double hist[EC_MAX_TAPS + 2 * EC_LS_TAPS];
    const int span = d + 2 * n;
    for (int m = 0; m < span; m++)
        hist[m] = (double) s->ls_ring[(s->ls_head - (uint32_t) m) & (EC_LS_RING - 1u)];
    /* R in packed upper rows: row i holds R[i][i..n-1] from offset i n - i (i - 1) / 2.
     * Row i is the autocorrelation summed up to d + i samples ago: c, corrected. */
    double c[EC_LS_TAPS];
    for (int k = 0; k < n; k++)
        c[k] = s->ls_r[k];
    double *a = s->ls_a;
    const double ridge = LS_RIDGE * s->ls_r[0] + 1.0 + LS_PRIOR * s->ls_noise;
    for (int m = 0; m < d + n; m++) {
        if (m >= d) {
            int i = m - d;
            double *row = &a[i * n - i * (i - 1) / 2];
            for (int k = 0; k < n - i; k++)
                row[k] = c[k];
            row[0] += ridge;
        }
        const double xm = hist[m];
        for (int k = 0; k < n; k++)
            c[k] -= xm * hist[m + k];
    }
    /* Cholesky R = U^T U, right-looking (each step a rank-one update of the rows below,
     * contiguous multiply-adds), in place. */
    for (int k = 0; k < n; k++) {
        double *uk = &a[k * n - k * (k - 1) / 2];
        if (!(uk[0] > 0.0))
            return 0;
        const double diag = sqrt(uk[0]);
        const double inv = 1.0 / diag;
        uk[0] = diag;
        for (int t = 1; t < n - k; t++)
            uk[t] *= inv;
        for (int i = k + 1; i < n; i++) {
            double *restrict ui = &a[i * n - i * (i - 1) / 2];
            const double *restrict src = &uk[i - k];
            const double f = src[0];
            for (int t = 0; t < n - i; t++)
                ui[t] -= f * src[t];
        }
    }
    /* U^T z = p (column sweeps), then U h = z. */
    double z[EC_LS_TAPS];
    for (int j = 0; j < n; j++)
        z[j] = s->ls_p[d + j];
    for (int k = 0; k < n; k++) {
        const double *uk = &a[k * n - k * (k - 1) / 2];
        z[k] /= uk[0];
        const double zk = z[k];
        for (int t = 1; t < n - k; t++)
            z[k + t] -= uk[t] * zk;
    }
    for (int j = n - 1; j >= 0; j--) {
        const double *uj = &a[j * n - j * (j - 1) / 2];
        z[j] = (z[j] - ddot(uj + 1, z + j + 1, n - 1 - j)) / uj[0];
    }
    memset(s->hc, 0, (size_t) taps * sizeof s->hc[0]);
    double fit = 0.0;
    for (int i = 0; i < n; i++) {
        s->hc[d + i] = (float) z[i];
        fit += z[i] * s->ls_p[d + i];
    }
    /* What the fit leaves of rx (sum y^2 - h.p), per sample: line noise, near-end speech
     * and the echo the support misses, which the next solution's ridge allows for. */
    s->ls_noise = fmax(s->ls_yy - fit, 0.0) / ((double) s->ls_samples + 1.0);
    return 1;
}

/* Two-path decision at the end of each window. The background is judged by a snapshot
 * taken at the start of the window (the candidate), on samples it never adapted on: the
 * background's own a priori error is no fair judge, because an NLMS step along the
 * prewhitened far end also predicts the next sample of whatever it adapted to, near-end
 * speech included. */
static void end_window(ec_state_t *s)
{
    const int taps = s->config.taps;
    int learning = s->win_near && !s->win_geigel && s->win_ec < NEAR_COPY_RATIO * s->win_ef;
    if (!learning)
        s->learn_windows = 0;
    int active = s->win_x > EC_WINDOW * level_power(-45.0) && !s->tone;
    int fast = s->active_windows < FAST_COPY_WINDOWS && !(s->sum_ef < MATURE_RATIO * s->sum_y)
               && !s->ls_done;
    int fresh = s->ls_fresh;
    s->ls_fresh = 0;
    if (fresh) {
        /* The candidate was a least-squares solution: it replaces the foreground and the
         * background if it cancelled no worse than the foreground (in line noise it is
         * the better estimate even where a window cannot show it), or, while a detector
         * other than Geigel declares the near end, 10 dB better (as the held-back copies
         * below: a young foreground's residual is what fires them). A worse one, from
         * sums that near-end speech went into, leaves both as they are; a window without
         * far-end signal judges nothing, and the next one judges it. */
        if (!active)
            s->ls_fresh = 1;
        else if ((s->win_near ? !s->win_geigel && s->win_ec < NEAR_COPY_RATIO * s->win_ef
                              : s->win_ec <= s->win_ef)
                 && s->win_ec < 0.25 * s->win_y) {
            s->ls_fixed = 1; /* its support stays: later sums need only its lags */
            memcpy(s->hf, s->hc, (size_t) taps * sizeof s->hf[0]);
            memcpy(s->hb, s->hc, (size_t) taps * sizeof s->hb[0]);
            double l1 = 0.0;
            for (int i = 0; i < taps; i++)
                l1 += fabs((double) s->hb[i]);
            s->hb_l1 = l1;
            s->converged = 1;
            s->worse_windows = 0;
            s->escape_windows = 0;
        }
    } else if (!active) {
        s->worse_windows = 0;
        s->escape_windows = 0;
    } else if (!s->win_near
               && (fast ? s->win_ec <= s->win_ef && s->win_eb <= s->win_ec
                        : s->win_ec < COPY_RATIO * s->win_ef)
               && s->win_ec < 0.25 * s->win_y) {
        s->worse_windows = 0;
        s->escape_windows = 0;
        memcpy(s->hf, fast ? s->hb : s->COPY_SOURCE, (size_t) taps * sizeof s->hf[0]);
        s->converged = 1;
    } else if (learning && s->win_ec < 0.0625 * s->win_y
               && ++s->learn_windows >= NEAR_COPY_WINDOWS) {
        memcpy(s->hf, s->hc, (size_t) taps * sizeof s->hf[0]);
        s->worse_windows = 0;
    } else if (s->win_near && s->win_ec < ESCAPE_RATIO * s->win_ef
               && s->win_ec < 0.0625 * s->win_y) {
        /* Near-end speech or a changed echo path: energy cannot tell them apart, but
         * only a new path lets a (slowed) filter cancel this much better for long. */
        s->worse_windows = 0;
        if (++s->escape_windows >= ESCAPE_WINDOWS) {
            memcpy(s->hf, s->hc, (size_t) taps * sizeof s->hf[0]);
            s->escape_windows = 0;
            s->armed = 0; /* a new path: converge again at the full step */
        }
    } else if (s->win_ec > RESTORE_RATIO * s->win_ef) {
        if (++s->worse_windows >= RESTORE_WINDOWS) {
            memcpy(s->hb, s->hf, (size_t) taps * sizeof s->hb[0]);
            double l1 = 0.0;
            for (int i = 0; i < taps; i++)
                l1 += fabs((double) s->hb[i]);
            s->hb_l1 = l1;
            s->worse_windows = 0;
        }
    } else {
        s->worse_windows = 0;
        s->escape_windows = 0;
    }
    if (active && s->active_windows < FAST_COPY_WINDOWS)
        s->active_windows++;
    /* The foreground's ERLE over recent windows of far-end single talk. */
    if (active && !s->win_near) {
        s->sum_ef = ERLE_DECAY * s->sum_ef + s->win_ef;
        s->sum_y = ERLE_DECAY * s->sum_y + s->win_y;
    }
    /* Armed at 20 dB; disarmed only after DISARM_WINDOWS active windows under 10 dB
     * (a new echo path), since near-end speech that slips past every detector raises
     * the residual just the same. */
    /* Line noise in the residual is no fault of the filter: allow for it. Where the echo
     * stands less than 20 dB over the noise, "cancelled down to the noise" is all that
     * can be seen, and it arms too (the NLP waits for the arming: G.168 test 9). */
    double noise = 2.0 * s->noise_floor * EC_WINDOW / (1.0 - ERLE_DECAY);
    if (s->converged && s->sum_y > 10.0 * noise
        && s->sum_ef < ARMED_RATIO * s->sum_y + noise) {
        s->armed = 1;
        s->disarm_windows = 0;
    } else if (active && s->sum_ef > 10.0 * ARMED_RATIO * s->sum_y + noise) {
        if (++s->disarm_windows >= DISARM_WINDOWS)
            s->armed = 0;
    }
    /* The bootstrap is done once the foreground cancels 50 dB or down to the line noise;
     * the fast copies end then too (they would hand the background's gradient noise
     * to the foreground). */
    if (active && !s->win_near) {
        s->ls_ef = LS_DONE_DECAY * s->ls_ef + s->win_ef;
        s->ls_y = LS_DONE_DECAY * s->ls_y + s->win_y;
    }
    if (s->ls_on && s->ls_windows >= LS_LATE_WINDOWS
        && s->ls_ef < LS_DONE_RATIO * s->ls_y
                          + 2.0 * s->noise_floor * EC_WINDOW / (1.0 - LS_DONE_DECAY))
        s->ls_done = 1;
    if (!s->ls_fresh)
        memcpy(s->hc, s->hb, (size_t) taps * sizeof s->hc[0]);
    if (s->ls_on) {
        ls_flush(s);
        if (active)
            s->ls_windows++;
        s->ls_tone_windows = s->tone ? s->ls_tone_windows + 1 : 0;
        if (s->ls_windows >= LS_LAST_WINDOWS || s->ls_tone_windows >= LS_TONE_WINDOWS
            || s->ls_done) {
            s->ls_on = 0;
        } else if (active && s->ls_windows >= LS_FIRST_WINDOWS
                   && ++s->ls_since >= (s->ls_windows < LS_LATE_WINDOWS ? LS_SOLVE_WINDOWS
                                                                        : LS_LATE_SOLVE_WINDOWS)) {
            s->ls_since = 0;
            s->ls_fresh = ls_solve(s);
        }
    }
    /* Exact window energy of the whitened history (the running sum drifts). */
    s->xw_energy = dot(&s->xw[s->pos], &s->xw[s->pos], taps);
    s->cross_energy = dot(&s->xw[s->pos], &s->x[s->pos], taps);
    s->win_ec = s->win_ef = s->win_eb = s->win_y = s->win_x = 0.0;
    s->win_near = 0;
    s->win_geigel = 0;
    s->win_fill = 0;
    update_predictor(s);
}

static uint32_t next_random(ec_state_t *s)
{
    s->noise_seed = s->noise_seed * 1664525u + 1013904223u;
    return s->noise_seed;
}

static int16_t saturate(double v)
{
    if (v >= 32767.0)
        return 32767;
    if (v <= -32768.0)
        return -32768;
    return (int16_t) lrint(v);
}

HOT_CLONES static int16_t step(ec_state_t *s, int16_t tx, int16_t rx)
{
    const int taps = s->config.taps;
    const float x = (float) tx;
    const double y = (double) rx;

    /* Far-end history: newest at pos. */
    int p = s->pos - 1;
    if (p < 0)
        p = taps - 1;
    s->pos = p;
    float leaving_w = s->xw[p + taps];
    float leaving = s->x[p + taps];
    s->x[p] = s->x[p + taps] = x;
    double xwn = x;
    for (int i = 1; i <= EC_LPC_ORDER; i++)
        xwn += s->lpc[i - 1] * s->x[p + i];
    float xw = (float) xwn;
    s->xw[p] = s->xw[p + taps] = xw;
    s->xw_energy += (double) xw * xw - (double) leaving_w * leaving_w;
    if (s->xw_energy < 0.0)
        s->xw_energy = 0.0;
    s->cross_energy += (double) xw * x - (double) leaving_w * leaving;
    for (int k = 0; k <= EC_LPC_ORDER; k++)
        s->acf_block[k] += (double) x * s->x[p + k];

    /* Geigel peak over the tail, in blocks. */
    const int blocks = (taps + EC_PEAK_BLOCK - 1) / EC_PEAK_BLOCK + 1;
    float ax = fabsf(x);
    if (ax > s->peak[s->peak_block])
        s->peak[s->peak_block] = ax;
    if (++s->peak_fill >= EC_PEAK_BLOCK) {
        s->peak_fill = 0;
        s->peak_block = (s->peak_block + 1) % blocks;
        s->peak[s->peak_block] = 0.0f;
    }
    float far_peak = 0.0f;
    for (int b = 0; b < blocks; b++)
        if (s->peak[b] > far_peak)
            far_peak = s->peak[b];

    /* Both filters. */
    const float *xv = &s->x[p];
    filters_t fr = filter_all(s->hb, s->hf, s->hc, xv, &s->xw[p], taps);
    double yb = fr.yb;
    double yf = fr.yf;
    double q = fr.q;
    double qw = fr.qw;
    double ec = y - fr.yc;
    double eb = y - yb;
    double ef = y - yf;

    if (s->ls_on) {
        ls_accumulate(s, xv, (float) rx, taps, taps < EC_LS_TAPS ? taps : EC_LS_TAPS);
        s->ls_yy += y * y;
        s->ls_samples++;
    }

    /* Short-term powers and correlation. */
    s->p_x += POWER_SMOOTHING * ((double) x * x - s->p_x);
    s->p_yhat += POWER_SMOOTHING * (yf * yf - s->p_yhat);
    s->p_ef += POWER_SMOOTHING * (ef * ef - s->p_ef);
    s->p_y += POWER_SMOOTHING * (y * y - s->p_y);
    s->c_yyhat += POWER_SMOOTHING * (y * yf - s->c_yyhat);
    double yd = y - s->y_prev, yfd = yf - s->yf_prev;
    s->y_prev = y;
    s->yf_prev = yf;
    s->p_yd += POWER_SMOOTHING * (yd * yd - s->p_yd);
    s->p_yfd += POWER_SMOOTHING * (yfd * yfd - s->p_yfd);
    s->c_yd += POWER_SMOOTHING * (yd * yfd - s->c_yd);

    /* Near-end detection. Geigel, on the residual (before convergence the rx itself):
     * louder than a 6 dB ERL echo of the far end's recent peak. */
    if (fabs(ef) > GEIGEL_RATIO * far_peak)
        s->geigel_hold = GEIGEL_HOLD;
    else if (s->geigel_hold > 0)
        s->geigel_hold--;
    /* Normalized cross-correlation of the rx with the echo estimate: below NCC_THRESHOLD
     * the rx holds something the echo path does not explain. Meaningful only once the
     * filter cancels ARMED_RATIO (20 dB): before that, unconverged echo looks the same
     * as near-end speech. It must be low on rx's first differences too (a high-pass,
     * 14 dB more at 1 kHz than at 200 Hz; threshold 0.99): the echo a young filter has
     * not learnt yet is where the far end brings new spectrum, most often its pitch
     * band, 100 to 300 Hz, and full band alone the detector took it for double talk and
     * held back the copies that would have learnt it, while a caller's speech fills the
     * band above too. (The differences alone missed callers and took line noise, which
     * they raise against speech, for the near end.) */
    int echo_expected = s->p_yhat > level_power(-60.0) && s->p_yhat > 4.0 * s->noise_floor;
    int armed = s->armed;
    int ncc_low = 0;
    if (armed && echo_expected) {
        double ncc = s->c_yyhat / sqrt(s->p_y * s->p_yhat + 1e-9);
        double ncc_high = s->c_yd / sqrt(s->p_yd * s->p_yfd + 1e-9);
        ncc_low = ncc < NCC_THRESHOLD && ncc_high < NCC_HIGH_THRESHOLD;
    }
    /* Residual detector: the residual 5 dB (NLP) or 10 dB (copies) over the residual
     * echo the foreground is measured to leave (its ERLE over recent windows of single talk). Once converged
     * this is the most sensitive detector: a caller's DTMF or speech 15 dB under the
     * echo still leaves the NCC near 0.98, but stands 20 dB over the residual echo. It
     * turns the NLP off, and blocks the two-path copies of a mature filter (see the
     * windows below); it never slows the background: an echo path change and a filter
     * still converging raise the residual just the same. */
    double residual_ratio = s->sum_y > 0.0 ? clamp(s->sum_ef / s->sum_y, RESIDUAL_FLOOR, 1.0) : 1.0;
    double residual_echo = residual_ratio * s->p_yhat;
    double noise = 2.0 * s->noise_floor;
    int residual_high = echo_expected && s->p_ef > NLP_MARGIN * residual_echo + noise;
    int residual_higher = echo_expected && s->p_ef > COPY_MARGIN * residual_echo + noise;
    if (s->geigel_hold > 0 || ncc_low)
        s->talk_hold = GEIGEL_HOLD;
    else if (s->talk_hold > 0)
        s->talk_hold--;
    int hold_back = armed && s->talk_hold > 0;
    /* The NLP stays off for the same reasons and for a high residual. */
    if (s->talk_hold > 0 || residual_high)
        s->near_hold = NEAR_HOLD;
    else if (s->near_hold > 0)
        s->near_hold--;
    if (s->talk_hold > 0 || residual_higher)
        s->copy_hold = NEAR_HOLD;
    else if (s->copy_hold > 0)
        s->copy_hold--;

    /* Background adaptation: the a priori error along the prewhitened far end. The
     * prediction error of the far end is uncorrelated with its past, so E[xw x'] is
     * triangular with equal eigenvalues: every mode of the filter converges alike. */
    if (s->p_x > level_power(-45.0) && !s->tone) {
        double mu = hold_back ? STEP_DOUBLE_TALK : armed ? STEP_ARMED : STEP;
        /* Nonparametric variable step (after Benesty et al., 2006): the part of the
         * error that is line noise teaches nothing, so the step shrinks as the error
         * nears the noise floor. The error is the foreground's: the background's own
         * a priori error flatters it (see end_window). */
        mu *= clamp(1.0 - sqrt(NOISE_MARGIN * s->noise_floor / (s->p_ef + 1e-9)), STEP_MIN, 1.0);
        /* IPNLMS: step_k = mu e g_k xw_k / sum_j g_j x_j xw_j, gains g_k = a + b |h_k|
         * summing to one. The denominator makes the a posteriori error exactly
         * (1 - mu) e; it is bounded below by sum g xw^2, which it equals on average,
         * because while the predictor changes the history mixes old and new whitening. */
        int converging = !armed && s->active_windows < CONVERGING_WINDOWS;
        double alpha = converging ? IPNLMS_ALPHA_CONVERGING : IPNLMS_ALPHA;
        double a = (1.0 - alpha) / (2.0 * taps);
        double b = (1.0 + alpha) / (2.0 * s->hb_l1 + 1e-6);
        double cross = a * s->cross_energy + b * q;
        double white = a * s->xw_energy + b * qw;
        if (cross > CROSS_MIN * white) {
            double g = mu * eb / (fmax(cross, white) + level_power(-60.0));
            s->hb_l1 = update(s->hb, &s->xw[p], taps, (float) g, (float) a, (float) b);
        }
    }

    /* Two-path windows. */
    s->win_ec += ec * ec;
    s->win_eb += eb * eb;
    s->win_ef += ef * ef;
    s->win_y += y * y;
    s->win_x += (double) x * x;
    /* A background that adapted on near-end signal no detector flagged (a caller's DTMF
     * under the echo) predicts it over the next window and would win the comparison:
     * once the foreground is known to cancel 30 dB, a high residual blocks the copies
     * too. (Not before: a filter still maturing leaves a high residual wherever the far
     * end brings new spectrum, and needs its copies then, near-end speech or not.) */
    s->win_geigel |= armed && s->geigel_hold > 0;
    s->win_near |= hold_back || (armed && s->copy_hold > 0 && s->sum_ef < MATURE_RATIO * s->sum_y);
    if (++s->win_fill >= EC_WINDOW)
        end_window(s);

    /* Noise floor of the residual by minimum statistics: the smallest short-term power
     * over the last 1 to 1.25 s (four finished blocks of 250 ms and the current one). */
    if (s->p_ef < s->nf_block_min)
        s->nf_block_min = s->p_ef;
    if (++s->nf_fill >= NF_BLOCK) {
        s->nf_fill = 0;
        s->nf_min[s->nf_next] = s->nf_block_min;
        s->nf_next = (s->nf_next + 1) % EC_NF_BLOCKS;
        s->nf_block_min = s->p_ef;
    }
    double floor = s->nf_block_min;
    for (int b = 0; b < EC_NF_BLOCKS; b++)
        if (s->nf_min[b] < floor)
            floor = s->nf_min[b];
    s->noise_floor = clamp(floor, level_power(-80.0), level_power(-10.0));

    if (!s->config.nlp)
        return saturate(ef);
    /* The NLP acts only on a filter known to cancel (armed): before that, a residual
     * is as likely to be the caller talking over unconverged echo as echo, and the
     * caller must never be muted. */
    int suppress = armed && echo_expected && s->near_hold == 0;
    if (suppress)
        s->nlp_gain = s->nlp_gain > 1.0 / 16.0 ? s->nlp_gain - 1.0 / 16.0 : 0.0;
    else
        s->nlp_gain = 1.0;
    double out = s->nlp_gain * ef;
    if (s->config.comfort_noise && s->nlp_gain < 1.0) {
        /* Uniform noise with the floor's power: variance A^2 / 3. */
        double amplitude = sqrt(3.0 * s->noise_floor);
        double u = (double) next_random(s) / 2147483648.0 - 1.0;
        out += (1.0 - s->nlp_gain) * amplitude * u;
    }
    return saturate(out);
}

void ec_process(ec_state_t *s, const int16_t *tx, const int16_t *rx, int16_t *out,
                size_t samples)
{
    for (size_t i = 0; i < samples; i++)
        out[i] = step(s, tx[i], rx[i]);
}

void ec_process_batch(ec_state_t *states, size_t channels, const int16_t *tx,
                      const int16_t *rx, int16_t *out, size_t frame)
{
    for (size_t c = 0; c < channels; c++)
        ec_process(&states[c], tx + c * frame, rx + c * frame, out + c * frame, frame);
}
