/* dtmf.c - see dtmf.h. */
#include <math.h>

#include "dtmf.h"
#include "level_internal.h"

#define SAMPLE_RATE 8000
#define TWO_PI 6.283185307179586
#define PI 3.141592653589793
#define WINDOW (DTMF_SUBBLOCK * DTMF_WINDOW_BLOCKS) /* samples per analysis window */
#define SEGMENT (DTMF_SUBBLOCK / DTMF_SEGMENTS)      /* samples per segment of a sub-block */
/* Sub-blocks after which every DTMF frequency (an integer number of Hz) has turned a whole
 * number of cycles: the absolute phase reference returns exactly to 1 there. */
#define PHASE_PERIOD_BLOCKS (SAMPLE_RATE / DTMF_SUBBLOCK)

#define CONFIRM_WINDOWS 3  /* consecutive valid windows that start tracking a digit */
#define MIN_VALID_WINDOWS 4 /* valid windows a digit needs in all */
#define HALF 0.5           /* edges are where the amplitude crosses half its steady value */
#define PLATEAU 1.06       /* growth below this between windows: the window is full */
/* A group's strongest bin must beat the others by 8 dB. */
#define GROUP_PURITY 0.158
/* The two tones must hold this share of the window's power: speech and music spread
 * their power over more than two precise frequencies. */
#define MIN_TONE_SHARE 0.85

static const double dtmf_hz[8] = {697.0, 770.0, 852.0, 941.0, 1209.0, 1336.0, 1477.0, 1633.0};
static const char dtmf_keys[17] = "123A456B789C*0#D";

void dtmf_config_default(dtmf_config_t *config)
{
    config->rate = SAMPLE_RATE;
    config->min_level_dbm0 = -46.0;
    config->max_normal_twist_db = 9.5;
    config->max_reverse_twist_db = 6.0;
    config->max_freq_error = 0.025;
    config->min_tone_samples = 240;  /* 30 ms: between the 20 ms rejected and 40 ms kept */
    config->max_gap_samples = 200;   /* 25 ms: a 10 ms dropout is bridged, a 40 ms pause is not */
}

int dtmf_init(dtmf_state_t *s, const dtmf_config_t *config)
{
    if (config->rate != SAMPLE_RATE)
        return DTMF_ERR_RATE;
    if (config->min_level_dbm0 > 0.0 || config->min_level_dbm0 < -60.0
        || config->max_normal_twist_db < 0.0 || config->max_reverse_twist_db < 0.0
        || config->max_freq_error <= 0.0 || config->max_freq_error > 0.05
        || config->min_tone_samples < 0 || config->max_gap_samples < 0)
        return DTMF_ERR_CONFIG;
    s->config = *config;
    for (int k = 0; k < 8; k++) {
        double w = TWO_PI * dtmf_hz[k] / SAMPLE_RATE;
        s->coef[k] = (float) (2.0 * cos(w));
        s->tail1_re[k] = cos(w * (DTMF_SUBBLOCK - 1));
        s->tail1_im[k] = -sin(w * (DTMF_SUBBLOCK - 1));
        s->tail_re[k] = cos(w * DTMF_SUBBLOCK);
        s->tail_im[k] = -sin(w * DTMF_SUBBLOCK);
        s->seg_tail1_re[k] = cos(w * (SEGMENT - 1));
        s->seg_tail1_im[k] = -sin(w * (SEGMENT - 1));
        s->seg_tail2_re[k] = cos(w * SEGMENT);
        s->seg_tail2_im[k] = -sin(w * SEGMENT);
        for (int m = 0; m < DTMF_SEGMENTS; m++) {
            s->seg_shift_re[m][k] = cos(w * SEGMENT * m);
            s->seg_shift_im[m][k] = -sin(w * SEGMENT * m);
        }
    }
    s->min_power = level_power(config->min_level_dbm0);
    s->min_twist = pow(10.0, -config->max_normal_twist_db / 10.0);
    s->max_twist = pow(10.0, config->max_reverse_twist_db / 10.0);
    dtmf_reset(s);
    return 0;
}

void dtmf_reset(dtmf_state_t *s)
{
    for (int k = 0; k < 8; k++) {
        s->s1[k] = 0.0f;
        s->s2[k] = 0.0f;
        s->rot_re[k] = 1.0;
        s->rot_im[k] = 0.0;
        s->prev_re[k] = 0.0;
        s->prev_im[k] = 0.0;
        for (int b = 0; b < DTMF_WINDOW_BLOCKS; b++) {
            s->block_re[b][k] = 0.0;
            s->block_im[b][k] = 0.0;
        }
    }
    for (int b = 0; b < DTMF_WINDOW_BLOCKS; b++)
        s->block_energy[b] = 0.0;
    s->energy = 0.0f;
    s->fill = 0;
    s->blocks = 0;
    s->head = 0;
    s->position = 0;
    s->power_head = 0;
    s->power_count = 0;
    s->candidate = -1;
    s->run = 0;
    s->current = -1;
    s->valid_windows = 0;
    s->start_placed = 0;
    s->falling = 0;
    s->other = 0;
    s->tone_start = 0;
    s->fall = 0;
    s->steady[0] = s->steady[1] = 0.0;
    s->last_ratio = 0.0;
}

/* Appends an event if there is room; counts it either way so overflow can be reported. */
typedef struct {
    dtmf_event_t *events;
    size_t max;
    size_t count;
    int32_t channel;
} sink_t;

static void emit(sink_t *sink, int32_t kind, int32_t digit, int64_t start, int64_t end)
{
    if (sink->count < sink->max) {
        dtmf_event_t *e = &sink->events[sink->count];
        e->start = start;
        e->end = end;
        e->channel = sink->channel;
        e->kind = kind;
        e->digit = dtmf_keys[digit];
    }
    sink->count++;
}

/* Dirichlet kernel of a WINDOW-sample rectangular window, offset `bins` bins from centre:
 * how much a tone that far off a Goertzel frequency is attenuated. */
static double window_response(double bins)
{
    if (fabs(bins) < 1e-9)
        return 1.0;
    return sin(PI * bins) / (WINDOW * sin(PI * bins / WINDOW));
}

/* The digit this window holds by the receiver's criteria, or -1. */
static int32_t classify(const dtmf_state_t *s, const double *re, const double *im,
                        double window_energy)
{
    double power[8];
    for (int k = 0; k < 8; k++)
        power[k] = re[k] * re[k] + im[k] * im[k];
    int tone[2];
    double tone_power[2];
    for (int g = 0; g < 2; g++) {
        int best = 4 * g;
        for (int k = 4 * g + 1; k < 4 * g + 4; k++)
            if (power[k] > power[best])
                best = k;
        if (power[best] <= 0.0)
            return -1;
        for (int k = 4 * g; k < 4 * g + 4; k++)
            if (k != best && power[k] > GROUP_PURITY * power[best])
                return -1;
        /* Frequency from the phase advance over one sub-block between windows. */
        double prev = s->prev_re[best] * s->prev_re[best] + s->prev_im[best] * s->prev_im[best];
        if (prev <= 0.0)
            return -1;
        double cross_re = re[best] * s->prev_re[best] + im[best] * s->prev_im[best];
        double cross_im = im[best] * s->prev_re[best] - re[best] * s->prev_im[best];
        double offset_hz = atan2(cross_im, cross_re) * SAMPLE_RATE / (TWO_PI * DTMF_SUBBLOCK);
        if (fabs(offset_hz) > s->config.max_freq_error * dtmf_hz[best])
            return -1;
        double response = window_response(offset_hz * WINDOW / SAMPLE_RATE);
        /* Mean power of a sine whose window DFT has this magnitude. */
        tone_power[g] = 2.0 * power[best] / (response * response * WINDOW * WINDOW);
        tone[g] = best;
    }
    if (tone_power[0] < s->min_power || tone_power[1] < s->min_power)
        return -1;
    double twist = tone_power[1] / tone_power[0];
    if (twist < s->min_twist || twist > s->max_twist)
        return -1;
    if (tone_power[0] + tone_power[1] < MIN_TONE_SHARE * window_energy / WINDOW)
        return -1;
    return (tone[0] * 4) + (tone[1] - 4);
}

static int low_bin(int32_t digit) { return digit / 4; }
static int high_bin(int32_t digit) { return 4 + digit % 4; }

/* How much of the held digit's steady amplitude history entry `i` shows (the lesser of
 * its two tones). */
static double presence(const dtmf_state_t *s, int i, int32_t digit)
{
    double lo = s->power[i][low_bin(digit)] / s->steady[0];
    double hi = s->power[i][high_bin(digit)] / s->steady[1];
    return sqrt(lo < hi ? lo : hi);
}

/* Where a presence going from r0 at c0 to r1 at c1 crossed HALF. */
static int64_t crossing(int64_t c0, double r0, int64_t c1, double r1)
{
    if (r1 == r0)
        return c1;
    double t = (HALF - r0) / (r1 - r0);
    if (t < 0.0)
        t = 0.0;
    if (t > 1.0)
        t = 1.0;
    return c0 + (int64_t) llround(t * (double) (c1 - c0));
}

static int64_t centre(int64_t window_end) { return window_end - WINDOW / 2; }

/* The held digit's first sample: its rising half-amplitude crossing, found in history. */
static int64_t find_start(const dtmf_state_t *s)
{
    int newest = (s->power_head + DTMF_HISTORY - 1) % DTMF_HISTORY;
    int later = newest;
    double later_ratio = presence(s, newest, s->current);
    for (int n = 1; n < s->power_count; n++) {
        int i = (newest + DTMF_HISTORY - n) % DTMF_HISTORY;
        double r = presence(s, i, s->current);
        if (r < HALF)
            return crossing(centre(s->power_end[i]), r, centre(s->power_end[later]), later_ratio);
        later = i;
        later_ratio = r;
    }
    /* Sounding since before the history (or the stream) began: the oldest window shows
     * how much of it was tone, and a rectangular window's amplitude grows linearly. */
    double covered = later_ratio < 1.0 ? later_ratio : 1.0;
    int64_t start = s->power_end[later] - (int64_t) llround(covered * WINDOW);
    return start > 0 ? start : 0;
}

static void end_digit(dtmf_state_t *s, int64_t end, sink_t *sink)
{
    if (end - s->tone_start >= s->config.min_tone_samples
        && s->valid_windows >= MIN_VALID_WINDOWS)
        emit(sink, DTMF_EVENT_DIGIT, s->current, s->tone_start, end);
    s->current = -1;
    s->falling = 0;
    s->other = 0;
    s->candidate = -1;
    s->run = 0;
}

static void follow_candidate(dtmf_state_t *s, int32_t digit)
{
    if (digit >= 0 && digit == s->candidate) {
        s->run++;
    } else {
        s->candidate = digit;
        s->run = digit >= 0 ? 1 : 0;
    }
}

/* Key down: start holding the candidate and report its onset at once (a prompt should
 * stop while the key is still down). If the window is not yet full of tone, the start is
 * extrapolated from the amplitude's linear ramp; it is placed again, by the half-amplitude
 * crossing, once the amplitude levels off. */
static void hold(dtmf_state_t *s, int slot, sink_t *sink)
{
    int previous = (slot + DTMF_HISTORY - 1) % DTMF_HISTORY;
    s->current = s->candidate;
    s->valid_windows = s->run;
    s->start_placed = 0;
    s->falling = 0;
    s->other = 0;
    int lo = low_bin(s->current), hi = high_bin(s->current);
    s->steady[0] = s->power[slot][lo];
    s->steady[1] = s->power[slot][hi];
    s->last_ratio = 1.0;
    double now = sqrt(s->power[slot][lo]) + sqrt(s->power[slot][hi]);
    double before = sqrt(s->power[previous][lo]) + sqrt(s->power[previous][hi]);
    double since = now > before ? now / (now - before) * DTMF_SUBBLOCK : (double) WINDOW;
    if (since < WINDOW)
        s->tone_start = s->position - (int64_t) llround(since);
    else
        s->tone_start = find_start(s);
    emit(sink, DTMF_EVENT_ONSET, s->current, s->tone_start, -1);
}

/* One analysis window ending at s->position: decide, then move the digit tracker. */
static void analyse(dtmf_state_t *s, sink_t *sink)
{
    double re[8], im[8], window_energy = 0.0;
    for (int k = 0; k < 8; k++) {
        re[k] = 0.0;
        im[k] = 0.0;
    }
    for (int b = 0; b < DTMF_WINDOW_BLOCKS; b++) {
        for (int k = 0; k < 8; k++) {
            re[k] += s->block_re[b][k];
            im[k] += s->block_im[b][k];
        }
        window_energy += s->block_energy[b];
    }
    int32_t digit = classify(s, re, im, window_energy);
    for (int k = 0; k < 8; k++) {
        s->prev_re[k] = re[k];
        s->prev_im[k] = im[k];
    }
    int slot = s->power_head;
    int previous_slot = (slot + DTMF_HISTORY - 1) % DTMF_HISTORY;
    for (int k = 0; k < 8; k++)
        s->power[slot][k] = (float) (re[k] * re[k] + im[k] * im[k]);
    s->power_end[slot] = s->position;
    s->power_head = (slot + 1) % DTMF_HISTORY;
    if (s->power_count < DTMF_HISTORY)
        s->power_count++;
    int64_t now = centre(s->position);

    if (s->current < 0) {
        follow_candidate(s, digit);
        if (s->run >= CONFIRM_WINDOWS)
            hold(s, slot, sink);
        return;
    }

    int lo = low_bin(s->current), hi = high_bin(s->current);
    if (digit == s->current) {
        s->valid_windows++;
        if (s->power[slot][lo] > s->steady[0])
            s->steady[0] = s->power[slot][lo];
        if (s->power[slot][hi] > s->steady[1])
            s->steady[1] = s->power[slot][hi];
        /* The window is full of tone once the amplitude stops growing: now the steady
         * amplitude is known, so the start can be placed at its half-amplitude crossing. */
        if (!s->start_placed
            && s->power[slot][lo] < PLATEAU * PLATEAU * s->power[previous_slot][lo]
            && s->power[slot][hi] < PLATEAU * PLATEAU * s->power[previous_slot][hi]) {
            s->tone_start = find_start(s);
            s->start_placed = 1;
        }
    }
    double ratio = presence(s, slot, s->current);
    int64_t before = centre(s->power_end[previous_slot]);
    if (!s->falling && ratio < HALF) {
        s->falling = 1;
        s->fall = crossing(before, s->last_ratio, now, ratio);
    } else if (s->falling && ratio >= HALF) {
        /* The tone is back: a dropout short enough to bridge (longer ones ended below). */
        s->falling = 0;
    }
    s->last_ratio = ratio;

    if (digit >= 0 && digit != s->current) {
        s->other++;
        if (s->other >= CONFIRM_WINDOWS) {
            /* Another digit took over without a pause. */
            int run = s->other;
            end_digit(s, s->falling ? s->fall : now, sink);
            s->candidate = digit;
            s->run = run;
            hold(s, slot, sink);
            return;
        }
    } else {
        s->other = 0;
    }
    if (s->falling && now - s->fall > s->config.max_gap_samples) {
        end_digit(s, s->fall, sink);
        follow_candidate(s, digit);
    }
}

/* Closes a sub-block given its spectrum relative to its own first sample: referred to
 * absolute time, it joins the ring, and a full ring is a window to analyse. */
static void close_block(dtmf_state_t *s, const double *x_re, const double *x_im,
                        double energy, sink_t *sink)
{
    for (int k = 0; k < 8; k++) {
        s->block_re[s->head][k] = x_re[k] * s->rot_re[k] - x_im[k] * s->rot_im[k];
        s->block_im[s->head][k] = x_re[k] * s->rot_im[k] + x_im[k] * s->rot_re[k];
    }
    s->block_energy[s->head] = energy;
    s->head = (s->head + 1) % DTMF_WINDOW_BLOCKS;
    if (s->blocks < DTMF_WINDOW_BLOCKS + 1)
        s->blocks++;
    /* Advance the phase reference by one sub-block, exactly every PHASE_PERIOD_BLOCKS. */
    if ((s->position / DTMF_SUBBLOCK) % PHASE_PERIOD_BLOCKS == 0) {
        for (int k = 0; k < 8; k++) {
            s->rot_re[k] = 1.0;
            s->rot_im[k] = 0.0;
        }
    } else {
        for (int k = 0; k < 8; k++) {
            double c = s->tail_re[k], sn = s->tail_im[k];
            double r = s->rot_re[k] * c - s->rot_im[k] * sn;
            s->rot_im[k] = s->rot_re[k] * sn + s->rot_im[k] * c;
            s->rot_re[k] = r;
        }
    }
    if (s->blocks >= DTMF_WINDOW_BLOCKS)
        analyse(s, sink);
}

/* A whole sub-block at once. One Goertzel recurrence is a chain of dependent multiply-adds
 * that leaves the CPU waiting on each result; running DTMF_SEGMENTS independent ones over
 * the sub-block's segments, side by side, keeps it busy. Their spectra are then shifted to
 * the sub-block's first sample and summed. */
static void whole_block(dtmf_state_t *s, const int16_t *samples, sink_t *sink)
{
    float s1[DTMF_SEGMENTS][8], s2[DTMF_SEGMENTS][8], coef[8], x[DTMF_SUBBLOCK];
    for (int j = 0; j < DTMF_SUBBLOCK; j++)
        x[j] = (float) samples[j];
    for (int k = 0; k < 8; k++)
        coef[k] = s->coef[k];
    for (int m = 0; m < DTMF_SEGMENTS; m++) {
        for (int k = 0; k < 8; k++) {
            /* the first two steps of the recurrence from rest */
            s2[m][k] = x[m * SEGMENT];
            s1[m][k] = x[m * SEGMENT + 1] + coef[k] * x[m * SEGMENT];
        }
    }
    for (int j = 2; j < SEGMENT; j++) {
        for (int m = 0; m < DTMF_SEGMENTS; m++) {
            for (int k = 0; k < 8; k++) {
                /* (x - s2) first: only the multiply-add waits for the previous step */
                float s0 = (x[m * SEGMENT + j] - s2[m][k]) + coef[k] * s1[m][k];
                s2[m][k] = s1[m][k];
                s1[m][k] = s0;
            }
        }
    }
    /* in integers, exact and free to vectorise (a float sum would be one long chain) */
    int64_t energy = 0;
    for (int j = 0; j < DTMF_SUBBLOCK; j++)
        energy += (int32_t) samples[j] * (int32_t) samples[j];
    double x_re[8], x_im[8];
    for (int k = 0; k < 8; k++) {
        x_re[k] = 0.0;
        x_im[k] = 0.0;
        for (int m = 0; m < DTMF_SEGMENTS; m++) {
            double y_re = s1[m][k] * s->seg_tail1_re[k] - s2[m][k] * s->seg_tail2_re[k];
            double y_im = s1[m][k] * s->seg_tail1_im[k] - s2[m][k] * s->seg_tail2_im[k];
            x_re[k] += y_re * s->seg_shift_re[m][k] - y_im * s->seg_shift_im[m][k];
            x_im[k] += y_re * s->seg_shift_im[m][k] + y_im * s->seg_shift_re[m][k];
        }
    }
    s->position += DTMF_SUBBLOCK;
    close_block(s, x_re, x_im, (double) energy, sink);
}

/* Samples one at a time into the sub-block being filled (the stream's chunks need not
 * line up with sub-blocks). */
static size_t partial_block(dtmf_state_t *s, const int16_t *samples, size_t n, sink_t *sink)
{
    size_t take = (size_t) (DTMF_SUBBLOCK - s->fill);
    if (take > n)
        take = n;
    for (size_t j = 0; j < take; j++) {
        float x = (float) samples[j];
        s->energy += x * x;
        for (int k = 0; k < 8; k++) {
            float s0 = (x - s->s2[k]) + s->coef[k] * s->s1[k];
            s->s2[k] = s->s1[k];
            s->s1[k] = s0;
        }
    }
    s->fill += (int32_t) take;
    s->position += (int64_t) take;
    if (s->fill == DTMF_SUBBLOCK) {
        double x_re[8], x_im[8];
        for (int k = 0; k < 8; k++) {
            x_re[k] = s->s1[k] * s->tail1_re[k] - s->s2[k] * s->tail_re[k];
            x_im[k] = s->s1[k] * s->tail1_im[k] - s->s2[k] * s->tail_im[k];
            s->s1[k] = 0.0f;
            s->s2[k] = 0.0f;
        }
        double energy = s->energy;
        s->energy = 0.0f;
        s->fill = 0;
        close_block(s, x_re, x_im, energy, sink);
    }
    return take;
}

static void run_samples(dtmf_state_t *s, const int16_t *samples, size_t n, sink_t *sink)
{
    size_t i = 0;
    while (i < n) {
        if (s->fill == 0 && n - i >= DTMF_SUBBLOCK) {
            whole_block(s, samples + i, sink);
            i += DTMF_SUBBLOCK;
        } else {
            i += partial_block(s, samples + i, n - i, sink);
        }
    }
}

static int finish(const sink_t *sink)
{
    return sink->count > sink->max ? DTMF_ERR_EVENTS : (int) sink->count;
}

int dtmf_process(dtmf_state_t *s, const int16_t *samples, size_t n, dtmf_event_t *events,
                 size_t max_events)
{
    sink_t sink = {events, max_events, 0, 0};
    run_samples(s, samples, n, &sink);
    return finish(&sink);
}

int dtmf_flush(dtmf_state_t *s, dtmf_event_t *events, size_t max_events)
{
    sink_t sink = {events, max_events, 0, 0};
    if (s->current >= 0)
        end_digit(s, s->falling ? s->fall : s->position, &sink);
    s->candidate = -1;
    s->run = 0;
    return finish(&sink);
}

int dtmf_process_batch(dtmf_state_t *states, size_t channels, const int16_t *samples,
                       size_t frame, dtmf_event_t *events, size_t max_events)
{
    sink_t sink = {events, max_events, 0, 0};
    for (size_t ch = 0; ch < channels; ch++) {
        sink.channel = (int32_t) ch;
        run_samples(&states[ch], samples + ch * frame, frame, &sink);
    }
    return finish(&sink);
}
