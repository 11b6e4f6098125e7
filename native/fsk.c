/* fsk.c - 1200 baud FSK receiver and transmitter for caller ID (see fsk.h). */
#include "fsk.h"

#include <math.h>

#include "cpu_internal.h"
#include "level_internal.h"

#define FSK_CENTER_HZ 1700.0
#define FSK_BAUD 1200.0
#define FSK_LPF_HZ 1100.0
#define FSK_HPF_HZ 300.0
#define FSK_PI 3.14159265358979323846

/* The mixer: exp(-j 2 pi 1700 t / 8000), which repeats every 80 samples (1700 / 8000 =
 * 17 / 80); entries are cos and -sin of 2 pi 17 k / 80. */
#define FSK_MIX_PERIOD 80
static const double fsk_mix_re[FSK_MIX_PERIOD] = {
    1, 0.23344536385590547, -0.89100652418836779, -0.64944804833018344,
    0.58778525229247292, 0.92387953251128674, -0.15643446504023142, -0.99691733373312807,
    -0.30901699437494784, 0.85264016435409218, 0.70710678118654724, -0.52249856471594947,
    -0.9510565162951532, 0.078459095727846484, 0.98768834059513799, 0.38268343236509089,
    -0.8090169943749469, -0.76040596560002893, 0.45399049973954675, 0.97236992039767656,
    -7.3540706012500023e-16, -0.97236992039767767, -0.45399049973954542, 0.76040596560002982,
    0.80901699437494612, -0.382683432365089, -0.98768834059513722, -0.078459095727845013,
    0.95105651629515475, 0.52249856471594824, -0.7071067811865458, -0.8526401643540914,
    0.30901699437494584, 0.99691733373312785, 0.15643446504022473, -0.92387953251128796,
    -0.58778525229247325, 0.64944804833018654, 0.89100652418836757, -0.23344536385590992,
    -1, -0.23344536385590015, 0.89100652418837212, 0.64944804833018432,
    -0.58778525229247558, -0.92387953251128407, 0.15643446504022762, 0.99691733373312807,
    0.30901699437494307, -0.85264016435408929, -0.70710678118654868, 0.5224985647159508,
    0.95105651629515164, -0.078459095727855033, -0.98768834059513766, -0.38268343236508628,
    0.809016994374952, 0.7604059656000326, -0.45399049973954808, -0.97236992039767534,
    -4.8992061772260007e-15, 0.97236992039767633, 0.45399049973954414, -0.76040596560002627,
    -0.80901699437494934, 0.38268343236509034, 0.98768834059513699, 0.078459095727836464,
    -0.95105651629515742, -0.52249856471594702, 0.7071067811865519, 0.85264016435408696,
    -0.30901699437494723, -0.99691733373312763, -0.15643446504022326, 0.92387953251128574,
    0.58778525229247203, -0.64944804833018765, -0.89100652418836368, 0.23344536385590445,
};
static const double fsk_mix_im[FSK_MIX_PERIOD] = {
    -0, -0.97236992039767656, -0.45399049973954686, 0.76040596560003115,
    0.80901699437494756, -0.38268343236508995, -0.98768834059513766, -0.078459095727843986,
    0.95105651629515342, 0.52249856471594891, -0.70710678118654779, -0.85264016435409185,
    0.30901699437494851, 0.99691733373312785, 0.15643446504022895, -0.92387953251128629,
    -0.5877852522924738, 0.64944804833018599, 0.8910065241883679, -0.23344536385590575,
    -1, -0.23344536385590087, 0.89100652418836856, 0.64944804833018488,
    -0.58778525229247502, -0.92387953251128707, 0.15643446504023392, 0.99691733373312796,
    0.30901699437494373, -0.85264016435409262, -0.70710678118654924, 0.52249856471595013,
    0.95105651629515409, -0.07845909572784722, -0.98768834059513866, -0.38268343236508695,
    0.80901699437494734, 0.76040596560002849, -0.45399049973954742, -0.97236992039767556,
    1.4708141202500005e-15, 0.97236992039767789, 0.45399049973953848, -0.76040596560003038,
    -0.80901699437494567, 0.38268343236509622, 0.98768834059513821, 0.078459095727844291,
    -0.95105651629515497, -0.52249856471595368, 0.70710678118654635, 0.85264016435409107,
    -0.30901699437495328, -0.99691733373312719, -0.15643446504023101, 0.92387953251128818,
    0.58778525229246692, -0.64944804833018177, -0.89100652418836723, 0.23344536385591064,
    1, 0.23344536385590633, -0.89100652418836923, -0.64944804833018921,
    0.58778525229247047, 0.92387953251128652, -0.15643446504023537, -0.99691733373312863,
    -0.30901699437493557, 0.8526401643540934, 0.70710678118654324, -0.52249856471595746,
    -0.95105651629515364, 0.078459095727848677, 0.98768834059513888, 0.38268343236509217,
    -0.80901699437494823, -0.76040596560002749, 0.45399049973955502, 0.97236992039767689,
};

/* Quality factors of the second-order sections of a 4th-order Butterworth low-pass:
 * 1 / (2 cos(theta)) for theta = pi/8, 3 pi/8. (A 6th order measured no better in noise,
 * twist or offset, and cost 12 % more.) */
static const double fsk_butterworth_q[FSK_LPF_SECTIONS] = {
    0.54119610014619698, 1.30656296487637652
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

/* Keeps the discriminator's normalisation finite on exact silence (0 / tiny = 0). */
static const double fsk_tiny = 1e-300;
/* Samples per front-end block (its outputs live on the stack). */
#define FSK_BLOCK 64

enum { FSK_PHASE_IDLE = 0, FSK_PHASE_HUNT = 1, FSK_PHASE_DATA = 2 };

static void fsk_mark_clear(fsk_rx_state_t *s)
{
    s->mark_re = 0.0;
    s->mark_im = 0.0;
    s->mark_pow = 0.0;
}

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

    s->mix_index = 0;
    s->hpf[0] = s->hpf[1] = 0.0;
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
    w = 2.0 * FSK_PI * FSK_HPF_HZ / (double) config->rate;
    c = cos(w);
    sn = sin(w);
    {
        double alpha = sn / (2.0 * 0.70710678118654752);
        double a0 = 1.0 + alpha;
        s->hpf_b[0] = (1.0 + c) / 2.0 / a0;
        s->hpf_b[1] = -(1.0 + c) / a0;
        s->hpf_b[2] = (1.0 + c) / 2.0 / a0;
        s->hpf_a[0] = -2.0 * c / a0;
        s->hpf_a[1] = (1.0 - alpha) / a0;
    }
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

/* The signal path for a block of samples, with its state in locals so it stays in
 * registers: mixer, low-pass, discriminator. Writes the normalised discriminator (soft,
 * > 0 above 1700 Hz: space), the phase advance (dre, dim) and the in-band power. Built for
 * two CPU levels (cpu_internal.h): the filters use fused multiply-adds where the CPU has them. */
HOT_CLONES static void fsk_front_end(fsk_rx_state_t *s, const int16_t *samples, size_t n,
                                     double *soft, double *adv_re, double *adv_im,
                                     double *power)
{
    int32_t mix = s->mix_index;
    const double hb0 = s->hpf_b[0], hb1 = s->hpf_b[1], hb2 = s->hpf_b[2];
    const double ha0 = s->hpf_a[0], ha1 = s->hpf_a[1];
    double h0 = s->hpf[0], h1 = s->hpf[1];
    double li[FSK_LPF_SECTIONS][2], lq[FSK_LPF_SECTIONS][2];
    double b[FSK_LPF_SECTIONS][3], a[FSK_LPF_SECTIONS][2];
    double z1_re = s->z_re[0], z1_im = s->z_im[0], z2_re = s->z_re[1], z2_im = s->z_im[1];
    size_t i;
    int k;

    for (k = 0; k < FSK_LPF_SECTIONS; k++) {
        li[k][0] = s->lpf_i[k][0];
        li[k][1] = s->lpf_i[k][1];
        lq[k][0] = s->lpf_q[k][0];
        lq[k][1] = s->lpf_q[k][1];
        b[k][0] = s->lpf_b[k][0];
        b[k][1] = s->lpf_b[k][1];
        b[k][2] = s->lpf_b[k][2];
        a[k][0] = s->lpf_a[k][0];
        a[k][1] = s->lpf_a[k][1];
    }
    for (i = 0; i < n; i++) {
        double in = (double) samples[i];
        double x = hb0 * in + h0;
        double re, im;
        h0 = (hb1 * in + h1) - ha0 * x;
        h1 = hb2 * in - ha1 * x;
        re = x * fsk_mix_re[mix];
        im = x * fsk_mix_im[mix];
        double dre, dim;

        mix = (mix + 1 == FSK_MIX_PERIOD) ? 0 : mix + 1;
        for (k = 0; k < FSK_LPF_SECTIONS; k++) {
            double yi = b[k][0] * re + li[k][0];
            double yq = b[k][0] * im + lq[k][0];
            /* (b1 x + s1) first: only one multiply and one subtract wait for y. */
            li[k][0] = (b[k][1] * re + li[k][1]) - a[k][0] * yi;
            lq[k][0] = (b[k][1] * im + lq[k][1]) - a[k][0] * yq;
            li[k][1] = b[k][2] * re - a[k][1] * yi;
            lq[k][1] = b[k][2] * im - a[k][1] * yq;
            re = yi;
            im = yq;
        }
        /* Phase advance over two samples: z[t] * conj(z[t - 2]). */
        dre = re * z2_re + im * z2_im;
        dim = im * z2_re - re * z2_im;
        z2_re = z1_re;
        z2_im = z1_im;
        z1_re = re;
        z1_im = im;
        adv_re[i] = dre;
        adv_im[i] = dim;
        power[i] = re * re + im * im;
    }
    /* Normalise in a loop of its own, which the compiler vectorises (division is slow). */
    for (i = 0; i < n; i++)
        soft[i] = adv_im[i] / (fabs(adv_re[i]) + fabs(adv_im[i]) + fsk_tiny);
    s->mix_index = mix;
    s->hpf[0] = h0;
    s->hpf[1] = h1;
    for (k = 0; k < FSK_LPF_SECTIONS; k++) {
        s->lpf_i[k][0] = li[k][0];
        s->lpf_i[k][1] = li[k][1];
        s->lpf_q[k][0] = lq[k][0];
        s->lpf_q[k][1] = lq[k][1];
    }
    s->z_re[0] = z1_re;
    s->z_im[0] = z1_im;
    s->z_re[1] = z2_re;
    s->z_im[1] = z2_im;
}

int fsk_rx_process(fsk_rx_state_t *s, const int16_t *samples, size_t n, fsk_event_t *events,
                   size_t max_events)
{
    const double spb = s->samples_per_bit;
    double soft[FSK_BLOCK], adv_re[FSK_BLOCK], adv_im[FSK_BLOCK], power[FSK_BLOCK];
    size_t count = 0;
    size_t done, i;
    int full = 0;

    for (done = 0; done < n; done += FSK_BLOCK) {
        size_t block = (n - done < FSK_BLOCK) ? n - done : FSK_BLOCK;
        /* The per-sample state in locals (registers); written back around the rare calls
         * that read it. */
        double slow = s->power, fast = s->fast_power, level = s->carrier_power;
        double mark_re = s->mark_re, mark_im = s->mark_im, mark_pow = s->mark_pow;
        double prev_soft = s->prev_soft, center = s->bit_center;
        int64_t t = s->position;

        fsk_front_end(s, samples + done, block, soft, adv_re, adv_im, power);
        for (i = 0; i < block; i++, t++) {
            double x = soft[i];

            s->soft[t & (FSK_HISTORY - 1)] = x;
            slow += fsk_power_alpha * (power[i] - slow);
            fast += fsk_fast_power_alpha * (power[i] - fast);
            if (s->carrier) {
                level += fsk_carrier_alpha * (slow - level);
                if (fast < s->power_off || fast < level * fsk_carrier_drop) {
                    s->carrier = 0;
                    s->phase = FSK_PHASE_IDLE;
                    s->uart_bits = -1;
                    full |= fsk_emit(events, max_events, &count, t, FSK_EVENT_CARRIER_OFF, 0,
                                     0);
                }
            } else if (slow >= s->power_on && fast >= s->power_on) {
                s->carrier = 1;
                level = slow;
                s->phase = FSK_PHASE_HUNT;
                s->alt_run = 0;
                s->mark_run = 0;
                s->prev_bit = 1;
                mark_re = mark_im = mark_pow = 0.0;
                /* The bit clock starts here; the hunt's first transitions align it. */
                center = (double) t + spb / 2.0;
                full |= fsk_emit(events, max_events, &count, t, FSK_EVENT_CARRIER_ON, 0, 0);
            } else {
                /* No carrier: no bits to decide, so the bit clock and the mark sums rest
                 * (a third of the work on an idle line). */
                prev_soft = x;
                continue;
            }
            mark_re += adv_re[i];
            mark_im += adv_im[i];
            mark_pow += power[i];

            /* Transitions steer the bit clock; in data, a mark-to-space edge while waiting
             * for a character is its start bit's leading edge. */
            if ((x >= 0.0) != (prev_soft >= 0.0) && t > 0) {
                double edge = (double) (t - 1) + prev_soft / (prev_soft - x);
                if (x >= 0.0)
                    s->last_fall = edge;
                if (s->phase == FSK_PHASE_DATA && s->uart_bits < 0 && x >= 0.0) {
                    center = edge + spb / 2.0;
                    s->uart_bits = 0;
                } else {
                    double error = edge - (center - spb / 2.0);
                    error -= spb * floor(error / spb + 0.5);
                    if (fabs(error) < fsk_clock_max_error * spb)
                        center += error * ((s->phase == FSK_PHASE_DATA)
                                           ? fsk_clock_gain_data : fsk_clock_gain_hunt);
                }
            }
            prev_soft = x;

            /* Decide a bit once its whole integration window has been seen. */
            if ((double) t >= center + fsk_half_window) {
                int64_t from = (int64_t) ceil(center - fsk_half_window);
                double sum = 0.0;
                int64_t j;

                if (from < t - (FSK_HISTORY - 1))
                    from = t - (FSK_HISTORY - 1);
                for (j = from; j <= t; j++)
                    sum += s->soft[j & (FSK_HISTORY - 1)];
                if (s->phase != FSK_PHASE_IDLE) {
                    s->mark_re = mark_re;
                    s->mark_im = mark_im;
                    s->mark_pow = mark_pow;
                    full |= fsk_bit(s, sum < 0.0, t, events, max_events, &count);
                    mark_re = s->mark_re;
                    mark_im = s->mark_im;
                    mark_pow = s->mark_pow;
                }
                if (s->phase == FSK_PHASE_DATA && s->uart_bits < 0 && s->last_fall > center) {
                    /* The next start bit began before this stop bit was decided. */
                    center = s->last_fall + spb / 2.0;
                    s->uart_bits = 0;
                } else {
                    center += spb;
                }
            }
        }
        s->power = slow;
        s->fast_power = fast;
        s->carrier_power = level;
        s->mark_re = mark_re;
        s->mark_im = mark_im;
        s->mark_pow = mark_pow;
        s->prev_soft = prev_soft;
        s->bit_center = center;
        s->position = t;
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
