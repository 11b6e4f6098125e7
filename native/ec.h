/* ec.h - line echo canceller for analog (FXO) lines, in the style of ITU-T G.168.
 *
 * The box sends `tx` to the line; the hybrid returns part of it, delayed and filtered,
 * mixed into `rx` with whatever the caller says. The canceller removes that echo from rx.
 * (In G.168's words tx is Rin, the "far end" of the canceller, and rx is Sin, whose
 * speech is the "near end": the caller's voice and the caller's DTMF.)
 *
 * Limits and units
 *   - 8 kHz 16-bit linear samples; one call processes any number of samples (streaming:
 *     the result never depends on how the stream is cut into calls).
 *   - Echo paths up to `taps` samples long, pure delay plus dispersion: at most
 *     EC_MAX_TAPS = 512 samples = 64 ms (G.168's echo path delay capacity).
 *   - Echo return loss (ERL) of 6 dB or more, as G.168 assumes.
 *   - Far-end signals below about -45 dBm0 do not drive adaptation.
 *
 * Structure
 *   - Two adaptive FIR filters of `taps` coefficients (two-path structure): a background
 *     filter adapts on every sample of far-end signal; the foreground filter, which makes
 *     the output, takes a copy of the background only when that copy, frozen for an 8 ms
 *     window of far-end signal (so judged on samples it never adapted on), cancelled
 *     better than the foreground over it. A background filter damaged by double talk
 *     therefore never reaches the output, and is restored from the foreground once it
 *     is seen to be worse. Only while the filter converges (the first 2 s of far-end
 *     signal, or until it cancels 30 dB) does the foreground take the background as it
 *     stands at the end of each window in which the last copy held up, and its a priori
 *     errors did too: 8 ms sooner, which on speech speeds convergence by 0.2 to 0.4 s.
 *   - The background filter adapts by IPNLMS (improved proportionate NLMS: a tap's step
 *     grows with its magnitude, so the few large taps of a sparse, delayed hybrid response
 *     converge first; proportionate for the first 1.5 s of far-end signal or
 *     until 20 dB ERLE, nearly NLMS after), along a prewhitened far end: a running 8th-order linear predictor of the
 *     far-end speech gives its prediction error, which steers the update (the error
 *     itself stays the true one), removing most of speech's eigenvalue spread.
 *   - The same predictor flags narrow-band far-end signals (tones, DTMF, one or two sine
 *     components: prediction gain above 35 dB): adaptation stops while they last, so a tone
 *     sent to the line never makes the filter diverge (G.168 test 6).
 *   - Double-talk detection: Geigel (rx peak above half the far-end peak over the tail,
 *     i.e. above a 6 dB ERL echo) and a normalized cross-correlation detector (rx against
 *     the foreground echo estimate: below 0.97 the rx holds something the echo path does
 *     not explain, and below 0.99 on their first differences, so that echo of a low band
 *     the filter has not learnt yet is not taken for the near end). Either one slows
 *     the background's adaptation 16-fold, blocks the foreground's copies and turns the
 *     non-linear processor off. A third, the residual
 *     over the residual echo the filter is measured to leave, turns the NLP off at 5 dB
 *     and, once the filter cancels 30 dB, blocks the copies at 10 dB: a caller's DTMF
 *     15 dB under the echo escapes the other two. A copy held back by the correlation or
 *     residual detector (Geigel quiet) still goes through when the candidate cancels 10 dB
 *     better than the foreground in two consecutive windows: far-end speech bringing
 *     spectrum the foreground has not learnt yet fires both detectors while the
 *     background learns it; near-end speech rarely lets a frozen snapshot of the
 *     background win by that much, and hardly ever twice in a row.
 *   - Least-squares bootstrap (the start of a call): for its first 3 s of far-end
 *     signal at most, the canceller also sums the far end's autocorrelation (lags under
 *     EC_LS_TAPS = 160) and its cross-correlation with rx (every lag of the tail). From
 *     these and the last 672 far-end samples the normal equations of a filter on a
 *     160-tap support, placed 48 taps before the background's largest tap,
 *     are exact (pre-windowed least squares over everything since the reset). They are
 *     solved by Cholesky after 24 windows of far-end signal, then every 12 windows (96 ms)
 *     up to 1/2 s and every 25 (200 ms) after, with a ridge that allows for what the last
 *     fit left of rx (line noise, near-end speech, echo off the support) over a tap prior
 *     of 1e-3. Each solution is the next active window's candidate: it replaces the
 *     foreground and the background if it cancelled no worse than the foreground (10 dB
 *     better while the correlation or residual detector declares the near end), and
 *     is dropped otherwise, so sums that a caller's early speech went into never undo
 *     what the NLMS learnt. Once a solution is taken its support stays, and the
 *     cross-correlation is summed over its 160 lags only. On speech an NLMS filter, however whitened, learns the bands
 *     the talker excites weakly far slower than the talker reveals them; least squares
 *     has them from the first fraction of a second: on the G.168 paths the foreground
 *     cancels 50 to 60 dB within 0.4 to 0.6 s of far-end speech, where the NLMS alone
 *     had windows under 20 dB after 2 to 5 s. The bootstrap ends (and with it the fast
 *     copies) once the last ~40 ms of windows cancel 50 dB or down to the line noise
 *     (from 1/2 s of far-end signal on), after 12 consecutive windows of narrow-band far
 *     end (the sums would hold little else), or after 3 s; the NLMS background then
 *     tracks as before.
 *   - Non-linear processor (optional): replaces the residual by comfort noise at the
 *     tracked background-noise level only while the residual is explained as echo: the
 *     filter armed (measured 20 dB ERLE, or cancelled down to the line noise), far end
 *     active, no double talk, and the residual at most 5 dB above the residual echo the
 *     filter is known to leave. Near-end speech, and DTMF from the caller, are never
 *     muted, not even before convergence; a 60 ms hangover keeps the NLP off through the
 *     gaps of near-end speech.
 *
 * No allocation: all state, the three 512-tap filters, the delay lines, the bootstrap's sums
 * and its solver's workspace (the packed Cholesky factor, 100 KB), lives in ec_state_t
 * (about 130 KB).
 */
#ifndef APPLIANCE_EC_H
#define APPLIANCE_EC_H

#include <stddef.h>
#include <stdint.h>

#define EC_MAX_TAPS 512
#define EC_MIN_TAPS 32
#define EC_LANES 8 /* taps are a multiple of this (the filters' vector width) */
#define EC_LPC_ORDER 8
#define EC_WINDOW 64
#define EC_PEAK_BLOCK 16
#define EC_PEAK_BLOCKS 33
#define EC_NF_BLOCKS 4
#define EC_LS_TAPS 160 /* least-squares bootstrap: support length */
#define EC_LS_RING 1024 /* its far-end history (a power of two >= EC_MAX_TAPS + EC_LS_TAPS) */

#define EC_ERR_TAPS (-1)

typedef struct {
    int32_t taps;          /* echo path capacity in samples: EC_MIN_TAPS .. EC_MAX_TAPS,
                            * a multiple of EC_LANES */
    int32_t nlp;           /* nonzero: non-linear processor on (residual echo suppressed) */
    int32_t comfort_noise; /* nonzero: the NLP fills what it removes with comfort noise */
} ec_config_t;

typedef struct ec_state_s {
    ec_config_t config;
    /* Far-end history, newest first from `pos`: x[pos + k] is tx k samples ago. Each
     * sample is written twice (pos and pos + taps) so the window is always contiguous. */
    float x[2 * EC_MAX_TAPS];
    float xw[2 * EC_MAX_TAPS];   /* the same history, prewhitened */
    float hb[EC_MAX_TAPS];       /* background filter (adapting) */
    float hc[EC_MAX_TAPS];       /* candidate: the background at the window's start */
    float hf[EC_MAX_TAPS];       /* foreground filter (makes the output) */
    int32_t pos;
    double xw_energy;            /* sum of xw^2 over the window */
    double cross_energy;         /* sum of x xw over the window */
    double hb_l1;                /* sum of |hb| (IPNLMS gains) */
    /* Linear predictor of the far end: autocorrelation, coefficients, tonality. */
    double acf_block[EC_LPC_ORDER + 1];
    double acf[EC_LPC_ORDER + 1];
    double lpc[EC_LPC_ORDER];    /* whitening filter A(z) = 1 + sum lpc[i] z^-(i+1) */
    double prediction_gain;      /* far-end power / prediction error power */
    int32_t tone;                /* nonzero: the far end is narrow-band */
    /* Geigel detector: peak |tx| per block of EC_PEAK_BLOCK samples over the tail. */
    float peak[EC_PEAK_BLOCKS];
    int32_t peak_block;
    int32_t peak_fill;
    int32_t geigel_hold;          /* samples of Geigel detection left to declare */
    int32_t talk_hold;            /* samples of double talk (Geigel or NCC) left */
    /* Smoothed powers (per sample), correlation and the two-path window sums. */
    double p_x, p_y, p_yhat, p_ef, c_yyhat;
    /* The same on first differences of rx and of the echo estimate (a high-pass). */
    double y_prev, yf_prev, p_yd, p_yfd, c_yd;
    double win_ec, win_ef, win_eb, win_y, win_x; /* candidate, foreground, background */
    int32_t win_fill;
    int32_t win_near;            /* double talk or near-end speech in this window */
    int32_t win_geigel;          /* ... declared by the Geigel detector */
    int32_t worse_windows, escape_windows, learn_windows;
    int32_t converged;           /* foreground has taken at least one copy */
    double sum_ef, sum_y;        /* residual and rx energy over recent windows */
    int32_t armed;               /* ERLE reached 20 dB: the detectors can be trusted */
    int32_t active_windows;      /* windows of far-end signal since the reset (saturating) */
    int32_t disarm_windows;
    /* NLP and comfort noise. */
    double noise_floor;          /* tracked background noise power of the residual */
    double nf_min[EC_NF_BLOCKS];  /* its minimum statistics: block minima */
    double nf_block_min;
    int32_t nf_next, nf_fill;
    double nlp_gain;             /* 1 passes the residual, 0 is all comfort noise */
    int32_t near_hold;           /* samples of NLP hangover left after near-end speech */
    int32_t copy_hold;           /* the same for blocking a mature filter's copies */
    uint32_t noise_seed;
    int32_t sample_count;
    /* Least-squares bootstrap: the far end's autocorrelation and its cross-correlation
     * with the rx since the reset, the far end's recent history, and the solver's
     * workspace (the packed Cholesky factor). */
    double ls_r[EC_LS_TAPS];
    double ls_p[EC_MAX_TAPS];
    float ls_rw[EC_LS_TAPS];      /* the same two over the current window */
    float ls_pw[EC_MAX_TAPS];
    float ls_ring[EC_LS_RING];
    double ls_a[EC_LS_TAPS * (EC_LS_TAPS + 1) / 2];
    uint32_t ls_head;            /* ls_ring index of the newest far-end sample */
    int32_t ls_on;               /* nonzero while the bootstrap gathers and solves */
    int32_t ls_done;             /* it stopped with the echo cancelled */
    double ls_ef, ls_y;          /* residual and rx energy over the last few windows */
    double ls_yy;                /* sum of rx^2 since the reset */
    double ls_noise;             /* the last fit's residual power (per sample) */
    int32_t ls_samples;          /* samples summed */
    int32_t ls_windows;          /* windows of far-end signal it has seen */
    int32_t ls_since;            /* windows since its last solution */
    int32_t ls_fresh;            /* the candidate of this window is a new solution */
    int32_t ls_d;                /* the support's first tap */
    int32_t ls_fixed;            /* a solution was taken: its support stays */
    int32_t ls_tone_windows;     /* consecutive windows of narrow-band far end */
} ec_state_t;

/* Validates config and starts with empty filters. Returns 0 or EC_ERR_*. */
int ec_init(ec_state_t *s, const ec_config_t *config);
/* Forgets the echo path and all history (a new call on the line). */
void ec_reset(ec_state_t *s);
/* Cancels the echo of tx in rx: out[i] is rx[i] with the echo removed. tx and rx are the
 * same `samples` instants (tx[i] sent when rx[i] arrived); out may alias rx. */
void ec_process(ec_state_t *s, const int16_t *tx, const int16_t *rx, int16_t *out,
                size_t samples);
/* One frame for each of `channels` cancellers: tx, rx and out are channels x frame,
 * row-major. */
void ec_process_batch(ec_state_t *states, size_t channels, const int16_t *tx,
                      const int16_t *rx, int16_t *out, size_t frame);

#endif
