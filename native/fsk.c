/* fsk.c - 1200 baud FSK receiver and transmitter for caller ID (see fsk.h). */
#include "fsk.h"

#include <math.h>

#include "level_internal.h"

#define FSK_CENTER_HZ 1700.0
#define FSK_BAUD 1200.0
#define FSK_LPF_HZ 1100.0
#define FSK_PI 3.14159265358979323846

/* Quality factors of the second-order sections of a 6th-order Butterworth low-pass:
 * 1 / (2 cos(theta)) for theta = pi/12, 3 pi/12, 5 pi/12. */
static const double fsk_butterworth_q[FSK_LPF_SECTIONS] = {
    0.51763809020504152, 0.70710678118654752, 1.93185165257813657
};

/* Integration window for a bit decision: this many samples either side of the centre. */
static const double fsk_half_window = 2.4;
/* Bit clock: fraction of a measured edge error taken per transition, and the largest error
 * (in bits) still taken as an edge rather than noise. */
static const double fsk_clock_gain_hunt = 0.4;
static const double fsk_clock_gain_data = 0.15;
static const double fsk_clock_max_error = 0.4;
/* A mark signal is a steady tone: |sum of phase advances| / sum of power over the run
 * (1 for a clean tone, about S / (S + N) in noise), at a V.23 or Bell 202 mark frequency
 * (1200 or 1300 Hz, +-5 % and more). */
static const double fsk_mark_min_coherence = 0.5;
static const double fsk_mark_min_hz = 1100.0;
static const double fsk_mark_max_hz = 1400.0;
/* Power smoothing, one-pole: 32 samples (4 ms) to turn the carrier on; 8 samples to see
 * it go (within a few bits, before the silence after a message can fake a character);
 * 128 samples for the carrier's own level while it lasts. The carrier is off below the
 * absolute threshold or 15 dB under its own level. */
static const double fsk_power_alpha = 1.0 / 32.0;
static const double fsk_fast_power_alpha = 1.0 / 8.0;
static const double fsk_carrier_alpha = 1.0 / 128.0;
static const double fsk_carrier_drop = 0.0316;

static void fsk_mark_clear(fsk_rx_state_t *s);

enum { FSK_PHASE_IDLE = 0, FSK_PHASE_HUNT = 1, FSK_PHASE_DATA = 2 };

void fsk_rx_config_default(fsk_rx_config_t *config)
{
    config->rate = 8000;
    config->min_level_dbm0 = -48.0;
    config->seizure_min_bits = 40;
    config->mark_min_bits = 40;
}

static void fsk_rx_clear(fsk_rx_state_t *s)
{
    int k;

    s->osc_re = 1.0;
    s->osc_im = 0.0;
    for (k = 0; k < FSK_LPF_SECTIONS; k++) {
        s->lpf_i[k][0] = s->lpf_i[k][1] = 0.0;
        s->lpf_q[k][0] = s->lpf_q[k][1] = 0.0;
    }
    s->z_re[0] = s->z_re[1] = 0.0;
    s->z_im[0] = s->z_im[1] = 0.0;
    s->power = 0.0;
    s->fast_power = 0.0;
    s->carrier_power = 0.0;
    s->carrier = 0;
    for (k = 0; k < FSK_HISTORY; k++)
        s->soft[k] = 0.0;
    s->prev_soft = 0.0;
    s->last_fall = -1.0;
    s->bit_center = s->samples_per_bit / 2.0;
    s->phase = FSK_PHASE_IDLE;
    s->prev_bit = 1;
    s->alt_run = 0;
    s->mark_run = 0;
    fsk_mark_clear(s);
    s->uart_bits = -1;
    s->uart_byte = 0;
    s->position = 0;
}

int fsk_rx_init(fsk_rx_state_t *s, const fsk_rx_config_t *config)
{
    double w, c, sn, power;
    int k;

    if (config->rate != 8000)
        return FSK_ERR_RATE;
    if (!(config->min_level_dbm0 >= -70.0 && config->min_level_dbm0 <= -10.0)
        || config->seizure_min_bits < 8 || config->mark_min_bits < 8
        || config->seizure_min_bits > 100000 || config->mark_min_bits > 100000)
        return FSK_ERR_CONFIG;
    s->config = *config;
    w = 2.0 * FSK_PI * FSK_CENTER_HZ / (double) config->rate;
    s->osc_step_re = cos(w);
    s->osc_step_im = -sin(w);
    w = 2.0 * FSK_PI * FSK_LPF_HZ / (double) config->rate;
    c = cos(w);
    sn = sin(w);
    for (k = 0; k < FSK_LPF_SECTIONS; k++) {
        double alpha = sn / (2.0 * fsk_butterworth_q[k]);
        double a0 = 1.0 + alpha;
        s->lpf_b[k][0] = (1.0 - c) / 2.0 / a0;
        s->lpf_b[k][1] = (1.0 - c) / a0;
        s->lpf_b[k][2] = (1.0 - c) / 2.0 / a0;
        s->lpf_a[k][0] = -2.0 * c / a0;
        s->lpf_a[k][1] = (1.0 - alpha) / a0;
    }
    /* A sine of peak A mixes down to a phasor of magnitude A / 2. */
    power = level_peak(config->min_level_dbm0) / 2.0;
    s->power_on = power * power;
    s->power_off = s->power_on / 2.0;
    s->samples_per_bit = (double) config->rate / FSK_BAUD;
    fsk_rx_clear(s);
    return 0;
}

void fsk_rx_reset(fsk_rx_state_t *s)
{
    fsk_rx_clear(s);
}

static int fsk_emit(fsk_event_t *events, size_t max_events, size_t *count, int64_t position,
                    int32_t kind, int32_t value, int32_t extra)
{
    if (*count >= max_events)
        return -1;
    events[*count].position = position;
    events[*count].channel = 0;
    events[*count].kind = kind;
    events[*count].value = value;
    events[*count].extra = extra;
    (*count)++;
    return 0;
}

/* The mark run so far as a steady tone: its frequency in Hz, or 0 when the phase advance
 * wanders (speech, noise) or the tone is not a V.23 or Bell 202 mark. */
static int32_t fsk_mark_hz(const fsk_rx_state_t *s)
{
    double advance, hz, coherence;

    if (s->mark_pow <= 0.0)
        return 0;
    coherence = hypot(s->mark_re, s->mark_im) / s->mark_pow;
    advance = atan2(s->mark_im, s->mark_re);
    hz = FSK_CENTER_HZ + advance * (double) s->config.rate / (4.0 * FSK_PI);
    if (coherence < fsk_mark_min_coherence || hz < fsk_mark_min_hz || hz > fsk_mark_max_hz)
        return 0;
    return (int32_t) lround(hz);
}

static void fsk_mark_clear(fsk_rx_state_t *s)
{
    s->mark_re = 0.0;
    s->mark_im = 0.0;
    s->mark_pow = 0.0;
}

/* One decided bit, in the hunt or data phase. Returns -1 when the event array is full. */
static int fsk_bit(fsk_rx_state_t *s, int bit, int64_t at, fsk_event_t *events,
                   size_t max_events, size_t *count)
{
    int full = 0;

    if (s->phase == FSK_PHASE_HUNT) {
        s->alt_run = (bit != s->prev_bit) ? s->alt_run + 1 : 0;
        if (s->alt_run == s->config.seizure_min_bits)
            full |= fsk_emit(events, max_events, count, at, FSK_EVENT_SEIZURE, s->alt_run, 0);
        s->mark_run = bit ? s->mark_run + 1 : 0;
        if (s->mark_run >= s->config.mark_min_bits) {
            int32_t hz = fsk_mark_hz(s);
            if (hz > 0) {
                full |= fsk_emit(events, max_events, count, at, FSK_EVENT_MARK, s->mark_run,
                                 hz);
                s->phase = FSK_PHASE_DATA;
                s->uart_bits = -1;
            } else {
                s->mark_run = 0; /* not a mark tone: judge the next stretch afresh */
                fsk_mark_clear(s);
            }
        }
    } else if (s->phase == FSK_PHASE_DATA && s->uart_bits < 0) {
        /* Idle between characters: a long enough mark run is a new mark signal (the next
         * message, when the carrier never dropped in between). */
        s->mark_run = bit ? s->mark_run + 1 : 0;
        if (s->mark_run > 0 && s->mark_run % s->config.mark_min_bits == 0) {
            int32_t hz = fsk_mark_hz(s);
            if (hz > 0)
                full |= fsk_emit(events, max_events, count, at, FSK_EVENT_MARK, s->mark_run,
                                 hz);
        }
    } else if (s->phase == FSK_PHASE_DATA) {
        s->mark_run = 0;
        if (s->uart_bits == 0) {
            if (bit) {
                s->uart_bits = -1; /* no start bit after all: a noise edge */
            } else {
                s->uart_bits = 1;
                s->uart_byte = 0;
            }
        } else if (s->uart_bits <= 8) {
            s->uart_byte |= bit << (s->uart_bits - 1);
            s->uart_bits++;
        } else {
            full |= fsk_emit(events, max_events, count, at, FSK_EVENT_BYTE, s->uart_byte,
                             bit ? 0 : FSK_FRAMING_ERROR);
            s->uart_bits = -1;
        }
    }
    if (!bit)
        fsk_mark_clear(s);
    s->prev_bit = bit;
    return full;
}

int fsk_rx_process(fsk_rx_state_t *s, const int16_t *samples, size_t n, fsk_event_t *events,
                   size_t max_events)
{
    const double spb = s->samples_per_bit;
    size_t count = 0;
    size_t i;
    int full = 0;
    int k;

    for (i = 0; i < n; i++) {
        double x = (double) samples[i];
        double re = x * s->osc_re;
        double im = x * s->osc_im;
        double ore, oim, g, dre, dim, mag, soft, power;
        int64_t t = s->position;

        /* Advance and renormalise the mixer's phasor. */
        ore = s->osc_re * s->osc_step_re - s->osc_im * s->osc_step_im;
        oim = s->osc_re * s->osc_step_im + s->osc_im * s->osc_step_re;
        g = 1.5 - 0.5 * (ore * ore + oim * oim);
        s->osc_re = ore * g;
        s->osc_im = oim * g;

        for (k = 0; k < FSK_LPF_SECTIONS; k++) {
            const double *b = s->lpf_b[k];
            const double *a = s->lpf_a[k];
            double yi = b[0] * re + s->lpf_i[k][0];
            double yq = b[0] * im + s->lpf_q[k][0];
            s->lpf_i[k][0] = b[1] * re - a[0] * yi + s->lpf_i[k][1];
            s->lpf_q[k][0] = b[1] * im - a[0] * yq + s->lpf_q[k][1];
            s->lpf_i[k][1] = b[2] * re - a[1] * yi;
            s->lpf_q[k][1] = b[2] * im - a[1] * yq;
            re = yi;
            im = yq;
        }

        /* Phase advance over two samples: z[t] * conj(z[t - 2]). */
        dre = re * s->z_re[1] + im * s->z_im[1];
        dim = im * s->z_re[1] - re * s->z_im[1];
        s->z_re[1] = s->z_re[0];
        s->z_im[1] = s->z_im[0];
        s->z_re[0] = re;
        s->z_im[0] = im;
        mag = fabs(dre) + fabs(dim);
        soft = (mag > 0.0) ? dim / mag : 0.0; /* > 0: above 1700 Hz (space) */
        s->soft[t & (FSK_HISTORY - 1)] = soft;

        power = re * re + im * im;
        s->power += fsk_power_alpha * (power - s->power);
        s->fast_power += fsk_fast_power_alpha * (power - s->fast_power);
        if (s->carrier)
            s->carrier_power += fsk_carrier_alpha * (s->power - s->carrier_power);
        if (!s->carrier && s->power >= s->power_on && s->fast_power >= s->power_on) {
            s->carrier = 1;
            s->carrier_power = s->power;
            s->phase = FSK_PHASE_HUNT;
            s->alt_run = 0;
            s->mark_run = 0;
            fsk_mark_clear(s);
            s->prev_bit = 1;
            full |= fsk_emit(events, max_events, &count, t, FSK_EVENT_CARRIER_ON, 0, 0);
        } else if (s->carrier && (s->fast_power < s->power_off
                                  || s->fast_power < s->carrier_power * fsk_carrier_drop)) {
            s->carrier = 0;
            s->phase = FSK_PHASE_IDLE;
            s->uart_bits = -1;
            full |= fsk_emit(events, max_events, &count, t, FSK_EVENT_CARRIER_OFF, 0, 0);
        }
        if (s->phase != FSK_PHASE_IDLE) {
            s->mark_re += dre;
            s->mark_im += dim;
            s->mark_pow += re * re + im * im;
        }

        /* Transitions steer the bit clock; in data, a mark-to-space edge while waiting
         * for a character is its start bit's leading edge. */
        if ((soft >= 0.0) != (s->prev_soft >= 0.0) && t > 0) {
            double edge = (double) (t - 1) + s->prev_soft / (s->prev_soft - soft);
            if (soft >= 0.0)
                s->last_fall = edge;
            if (s->phase == FSK_PHASE_DATA && s->uart_bits < 0 && soft >= 0.0) {
                s->bit_center = edge + spb / 2.0;
                s->uart_bits = 0;
            } else {
                double boundary = s->bit_center - spb / 2.0;
                double error = edge - boundary;
                error -= spb * floor(error / spb + 0.5);
                if (fabs(error) < fsk_clock_max_error * spb)
                    s->bit_center += error * ((s->phase == FSK_PHASE_DATA)
                                              ? fsk_clock_gain_data : fsk_clock_gain_hunt);
            }
        }
        s->prev_soft = soft;

        /* Decide a bit once its whole integration window has been seen. */
        if ((double) t >= s->bit_center + fsk_half_window) {
            int64_t from = (int64_t) ceil(s->bit_center - fsk_half_window);
            double sum = 0.0;
            int64_t j;

            if (from < t - (FSK_HISTORY - 1))
                from = t - (FSK_HISTORY - 1);
            for (j = from; j <= t; j++)
                sum += s->soft[j & (FSK_HISTORY - 1)];
            if (s->phase != FSK_PHASE_IDLE)
                full |= fsk_bit(s, sum < 0.0, t, events, max_events, &count);
            if (s->phase == FSK_PHASE_DATA && s->uart_bits < 0
                && s->last_fall > s->bit_center) {
                /* The next start bit began before this stop bit was decided. */
                s->bit_center = s->last_fall + spb / 2.0;
                s->uart_bits = 0;
            } else {
                s->bit_center += spb;
            }
        }
        s->position = t + 1;
    }
    if (full)
        return FSK_ERR_EVENTS;
    return (int) count;
}

int fsk_rx_process_batch(fsk_rx_state_t *states, size_t channels, const int16_t *samples,
                         size_t frame, fsk_event_t *events, size_t max_events)
{
    size_t count = 0;
    size_t c;
    int overflow = 0;

    for (c = 0; c < channels; c++) {
        int got = fsk_rx_process(&states[c], samples + c * frame, frame, events + count,
                                 max_events - count);
        size_t k;

        if (got < 0) {
            overflow = 1;
            got = (int) (max_events - count);
        }
        for (k = 0; k < (size_t) got; k++)
            events[count + k].channel = (int32_t) c;
        count += (size_t) got;
    }
    if (overflow)
        return FSK_ERR_EVENTS;
    return (int) count;
}

/* ---- Transmitter ---- */

int fsk_tx_config_standard(fsk_tx_config_t *config, int standard, double level_dbm0)
{
    config->rate = 8000;
    config->baud = FSK_BAUD;
    config->mark_level_dbm0 = level_dbm0;
    config->space_level_dbm0 = level_dbm0;
    if (standard == FSK_V23) {
        config->mark_hz = 1300.0;
        config->space_hz = 2100.0;
    } else if (standard == FSK_BELL202) {
        config->mark_hz = 1200.0;
        config->space_hz = 2200.0;
    } else {
        return FSK_ERR_CONFIG;
    }
    return 0;
}

int fsk_tx_init(fsk_tx_state_t *s, const fsk_tx_config_t *config)
{
    double nyquist = (double) config->rate / 2.0;
    double w;

    if (config->rate != 8000)
        return FSK_ERR_RATE;
    if (!(config->baud >= 600.0 && config->baud <= 2400.0)
        || !(config->mark_hz > 0.0 && config->mark_hz < nyquist)
        || !(config->space_hz > 0.0 && config->space_hz < nyquist)
        || !(config->mark_level_dbm0 >= -90.0 && config->mark_level_dbm0 <= 3.0)
        || !(config->space_level_dbm0 >= -90.0 && config->space_level_dbm0 <= 3.0))
        return FSK_ERR_CONFIG;
    s->config = *config;
    w = 2.0 * FSK_PI * config->mark_hz / (double) config->rate;
    s->mark_re = cos(w);
    s->mark_im = sin(w);
    w = 2.0 * FSK_PI * config->space_hz / (double) config->rate;
    s->space_re = cos(w);
    s->space_im = sin(w);
    s->mark_amp = level_peak(config->mark_level_dbm0);
    s->space_amp = level_peak(config->space_level_dbm0);
    fsk_tx_reset(s);
    return 0;
}

void fsk_tx_reset(fsk_tx_state_t *s)
{
    s->phase_re = 1.0;
    s->phase_im = 0.0;
    s->bit_time = 0.0;
}

size_t fsk_tx_samples(const fsk_tx_config_t *config, size_t n_bits)
{
    return (size_t) ceil((double) n_bits * (double) config->rate / config->baud - 1e-9);
}

static int16_t fsk_tx_sample(fsk_tx_state_t *s, int bit)
{
    double sr = bit ? s->mark_re : s->space_re;
    double si = bit ? s->mark_im : s->space_im;
    double amp = bit ? s->mark_amp : s->space_amp;
    double re = s->phase_re * sr - s->phase_im * si;
    double im = s->phase_re * si + s->phase_im * sr;
    double g = 1.5 - 0.5 * (re * re + im * im);
    double y;

    s->phase_re = re * g;
    s->phase_im = im * g;
    y = floor(amp * s->phase_im + 0.5);
    if (y > 32767.0)
        y = 32767.0;
    if (y < -32768.0)
        y = -32768.0;
    return (int16_t) y;
}

int fsk_tx_process(fsk_tx_state_t *s, const uint8_t *bits, size_t n_bits, int16_t *out,
                   size_t max_out)
{
    const double spb = (double) s->config.rate / s->config.baud;
    size_t written = 0;
    size_t i;

    for (i = 0; i < n_bits; i++) {
        int bit = bits[i] ? 1 : 0;

        s->bit_time += spb;
        while (s->bit_time > 1e-9) {
            if (written >= max_out)
                return FSK_ERR_EVENTS;
            out[written++] = fsk_tx_sample(s, bit);
            s->bit_time -= 1.0;
        }
    }
    return (int) written;
}

void fsk_tx_process_batch(fsk_tx_state_t *states, size_t channels, const uint8_t *bits,
                          int16_t *out, size_t frame)
{
    size_t c, i;

    for (c = 0; c < channels; c++) {
        int bit = bits[c] ? 1 : 0;
        for (i = 0; i < frame; i++)
            out[c * frame + i] = fsk_tx_sample(&states[c], bit);
    }
}
