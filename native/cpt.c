/* cpt.c - see cpt.h. */
#include <math.h>
#include <string.h>

#include "cpt.h"
#include "level_internal.h"

#define SAMPLE_RATE 8000.0
#define PI 3.141592653589793
#define TWO_PI 6.283185307179586

/* A window's previous complex amplitude must carry at least this share of the current
 * one's power for the phase advance between them to measure frequency (at a tone's
 * onset the previous window holds little or none of it). */
#define PREV_POWER_SHARE 0.25

/* ---- derived tables ---------------------------------------------------------------- */

/* Power response of an n-sample rectangular window to a tone offset by df Hz. */
static double window_gain(double df, int32_t n)
{
    double x = PI * df / SAMPLE_RATE;
    if (fabs(x) < 1e-12)
        return 1.0;
    double g = sin(x * (double) n) / ((double) n * sin(x));
    return g * g;
}

/* Inverts the m x m complex matrix (a_re, a_im) in place (Gauss-Jordan with pivoting).
 * Returns 0, or -1 when it is singular. */
static int invert(int m, double a_re[CPT_MAX_COMPONENTS][CPT_MAX_COMPONENTS],
                  double a_im[CPT_MAX_COMPONENTS][CPT_MAX_COMPONENTS])
{
    double r_re[CPT_MAX_COMPONENTS][CPT_MAX_COMPONENTS] = {{0.0}};
    double r_im[CPT_MAX_COMPONENTS][CPT_MAX_COMPONENTS] = {{0.0}};
    for (int i = 0; i < m; i++)
        r_re[i][i] = 1.0;
    for (int c = 0; c < m; c++) {
        int p = c;
        double best = 0.0;
        for (int r = c; r < m; r++) {
            double mag = a_re[r][c] * a_re[r][c] + a_im[r][c] * a_im[r][c];
            if (mag > best) {
                best = mag;
                p = r;
            }
        }
        if (best < 1e-18)
            return -1;
        for (int j = 0; j < m; j++) {
            double t;
            t = a_re[c][j]; a_re[c][j] = a_re[p][j]; a_re[p][j] = t;
            t = a_im[c][j]; a_im[c][j] = a_im[p][j]; a_im[p][j] = t;
            t = r_re[c][j]; r_re[c][j] = r_re[p][j]; r_re[p][j] = t;
            t = r_im[c][j]; r_im[c][j] = r_im[p][j]; r_im[p][j] = t;
        }
        /* 1 / pivot */
        double inv_re = a_re[c][c] / best;
        double inv_im = -a_im[c][c] / best;
        for (int j = 0; j < m; j++) {
            double x_re = a_re[c][j], x_im = a_im[c][j];
            a_re[c][j] = x_re * inv_re - x_im * inv_im;
            a_im[c][j] = x_re * inv_im + x_im * inv_re;
            x_re = r_re[c][j];
            x_im = r_im[c][j];
            r_re[c][j] = x_re * inv_re - x_im * inv_im;
            r_im[c][j] = x_re * inv_im + x_im * inv_re;
        }
        for (int r = 0; r < m; r++) {
            if (r == c)
                continue;
            double f_re = a_re[r][c], f_im = a_im[r][c];
            for (int j = 0; j < m; j++) {
                a_re[r][j] -= f_re * a_re[c][j] - f_im * a_im[c][j];
                a_im[r][j] -= f_re * a_im[c][j] + f_im * a_re[c][j];
                r_re[r][j] -= f_re * r_re[c][j] - f_im * r_im[c][j];
                r_im[r][j] -= f_re * r_im[c][j] + f_im * r_re[c][j];
            }
        }
    }
    memcpy(a_re, r_re, sizeof r_re);
    memcpy(a_im, r_im, sizeof r_im);
    return 0;
}

static int validate(const cpt_config_t *c)
{
    if (c->freqs < 1 || c->freqs > CPT_MAX_FREQS)
        return CPT_ERR_FREQ;
    for (int k = 0; k < c->freqs; k++)
        if (!(c->freq_hz[k] > 0.0 && c->freq_hz[k] < SAMPLE_RATE / 2.0))
            return CPT_ERR_FREQ;
    if (c->signatures < 1 || c->signatures > CPT_MAX_SIGNATURES)
        return CPT_ERR_SIGNATURE;
    for (int s = 0; s < c->signatures; s++) {
        const cpt_signature_t *sig = &c->signature[s];
        if (sig->components < 1 || sig->components > CPT_MAX_COMPONENTS)
            return CPT_ERR_SIGNATURE;
        for (int i = 0; i < sig->components; i++) {
            if (sig->freq[i] < 0 || sig->freq[i] >= c->freqs)
                return CPT_ERR_SIGNATURE;
            for (int j = 0; j < i; j++)
                if (sig->freq[j] == sig->freq[i])
                    return CPT_ERR_SIGNATURE;
        }
    }
    if (c->tones < 1 || c->tones > CPT_MAX_TONES)
        return CPT_ERR_TONE;
    uint32_t all = c->signatures >= 32 ? 0xffffffffu : ((1u << c->signatures) - 1u);
    for (int t = 0; t < c->tones; t++) {
        const cpt_tone_t *tone = &c->tone[t];
        if (tone->elements < 1 || tone->elements > CPT_MAX_ELEMENTS)
            return CPT_ERR_TONE;
        int continuous = tone->elements == 1 && tone->element[0].max_samples == 0;
        if (!continuous && (tone->recognise_after < 1 || tone->recognise_after > CPT_HISTORY))
            return CPT_ERR_TONE;
        if (tone->element[0].signatures == 0)
            return CPT_ERR_ELEMENT; /* a tone starts with a tone-on element */
        for (int e = 0; e < tone->elements; e++) {
            const cpt_element_t *el = &tone->element[e];
            if ((el->signatures & ~all) != 0 || el->min_samples < 0 || el->max_samples < 0)
                return CPT_ERR_ELEMENT;
            if (el->max_samples == 0 && !continuous)
                return CPT_ERR_ELEMENT;
            if (el->max_samples != 0 && el->max_samples < el->min_samples)
                return CPT_ERR_ELEMENT;
        }
    }
    if (!(c->freq_tolerance >= 0.0 && c->freq_tolerance <= 0.05)
        || !(c->freq_margin_hz >= 0.0 && c->freq_margin_hz <= 20.0)
        || !(c->min_purity >= 0.5 && c->min_purity <= 1.0)
        || !(c->min_level_dbm0 >= -60.0 && c->min_level_dbm0 <= 0.0)
        || !(c->max_twist_db >= 0.0 && c->max_twist_db <= 20.0))
        return CPT_ERR_THRESHOLD;
    return 0;
}

int cpt_init(cpt_state_t *s, const cpt_config_t *config)
{
    int rc = validate(config);
    if (rc < 0)
        return rc;
    memset(s, 0, sizeof *s);
    s->config = *config;
    const cpt_config_t *c = &s->config;
    for (int k = 0; k < c->freqs; k++) {
        double w = TWO_PI * c->freq_hz[k] / SAMPLE_RATE;
        for (int n = 0; n < CPT_HOP; n++) {
            s->tab_re[n][k] = (float) cos(w * n);
            s->tab_im[n][k] = (float) -sin(w * n);
        }
        s->rot_re[k] = cos(w * CPT_HOP);
        s->rot_im[k] = -sin(w * CPT_HOP);
        s->tol_hz[k] = c->freq_hz[k] * c->freq_tolerance + c->freq_margin_hz;
    }
    for (int g = 0; g < c->signatures; g++) {
        const cpt_signature_t *sig = &c->signature[g];
        int m = sig->components;
        int32_t hops = m > 1 ? 2 : 1;
        int32_t n = hops * CPT_HOP;
        s->window_hops[g] = hops;
        /* Gram matrix of the components' complex exponentials over the window:
         * G[i][k] = sum_n e^{j (w_k - w_i) n}. */
        double g_re[CPT_MAX_COMPONENTS][CPT_MAX_COMPONENTS] = {{0.0}};
        double g_im[CPT_MAX_COMPONENTS][CPT_MAX_COMPONENTS] = {{0.0}};
        for (int i = 0; i < m; i++)
            for (int k = 0; k < m; k++) {
                double dw = TWO_PI * (c->freq_hz[sig->freq[k]] - c->freq_hz[sig->freq[i]])
                            / SAMPLE_RATE;
                for (int t = 0; t < n; t++) {
                    g_re[i][k] += cos(dw * t);
                    g_im[i][k] += sin(dw * t);
                }
            }
        if (invert(m, g_re, g_im) < 0)
            return CPT_ERR_SIGNATURE; /* components too close to tell apart */
        memcpy(s->ginv_re[g], g_re, sizeof g_re);
        memcpy(s->ginv_im[g], g_im, sizeof g_im);
        double worst = 1.0;
        for (int i = 0; i < m; i++) {
            double gain = window_gain(s->tol_hz[sig->freq[i]], n);
            if (gain < worst)
                worst = gain;
        }
        s->min_gain[g] = worst;
    }
    /* Groups: union of the signatures each element accepts. */
    for (int g = 0; g < c->signatures; g++)
        s->group[g] = g;
    for (int t = 0; t < c->tones; t++)
        for (int e = 0; e < c->tone[t].elements; e++) {
            uint32_t mask = c->tone[t].element[e].signatures;
            int32_t root = -1;
            for (int g = 0; g < c->signatures; g++) {
                if (!((mask >> g) & 1u))
                    continue;
                if (root < 0) {
                    root = s->group[g];
                    continue;
                }
                int32_t old = s->group[g];
                for (int h = 0; h < c->signatures; h++)
                    if (s->group[h] == old)
                        s->group[h] = root;
            }
        }
    for (int g = 0; g < c->signatures; g++)
        s->group_hops[g] = 0;
    for (int g = 0; g < c->signatures; g++)
        if (s->window_hops[g] > s->group_hops[s->group[g]])
            s->group_hops[s->group[g]] = s->window_hops[g];
    for (int t = 0; t < c->tones; t++)
        for (int e = 0; e < c->tone[t].elements; e++) {
            uint32_t mask = c->tone[t].element[e].signatures, groups = 0;
            for (int g = 0; g < c->signatures; g++)
                if ((mask >> g) & 1u)
                    groups |= 1u << s->group[g];
            s->group_mask[t][e] = groups;
        }
    s->min_power = level_power(c->min_level_dbm0);
    s->twist = pow(10.0, -c->max_twist_db / 10.0);
    cpt_reset(s);
    return 0;
}

void cpt_reset(cpt_state_t *s)
{
    memset(s->acc_re, 0, sizeof s->acc_re);
    memset(s->acc_im, 0, sizeof s->acc_im);
    s->acc_energy = 0;
    s->pos = 0;
    memset(s->zprev_re, 0, sizeof s->zprev_re);
    memset(s->zprev_im, 0, sizeof s->zprev_im);
    s->eprev = 0.0;
    memset(s->aprev_re, 0, sizeof s->aprev_re);
    memset(s->aprev_im, 0, sizeof s->aprev_im);
    memset(s->lag_re, 0, sizeof s->lag_re);
    memset(s->lag_im, 0, sizeof s->lag_im);
    s->hops = 0;
    s->cur_class = -1;
    s->cur_windows = 0;
    s->cur_start = 0;
    s->cur_last_window = -1;
    s->cur_power = 0.0;
    s->pend_class = -1;
    s->pend_count = 0;
    s->pend_first_window = 0;
    s->pend_power = 0.0;
    s->history_count = 0;
    s->active = -1;
    s->expect = 0;
    s->active_start = 0;
    s->last_on_end = 0;
    s->active_power = 0.0;
    s->active_windows = 0;
}

size_t cpt_max_events(size_t samples)
{
    return CPT_EVENTS_PER_HOP * (samples / CPT_HOP + 1);
}

/* ---- events ------------------------------------------------------------------------ */

typedef struct {
    cpt_event_t *events;
    size_t max;
    size_t count;
} sink_t;

/* Samples consumed since the stream start. */
static int64_t stream_position(const cpt_state_t *s)
{
    return s->hops * CPT_HOP + s->pos;
}

static double to_dbm0(double power_sum, int32_t windows)
{
    if (windows <= 0 || power_sum <= 0.0)
        return -99.0;
    return 10.0 * log10(power_sum / windows / level_power(0.0));
}

static void emit(const cpt_state_t *s, sink_t *out, int32_t kind, int64_t end)
{
    if (out->count >= out->max)
        return; /* cannot happen: callers check the capacity first */
    cpt_event_t *e = &out->events[out->count++];
    e->channel = 0;
    e->tone = s->active;
    e->kind = kind;
    e->reserved = 0;
    e->start_sample = s->active_start;
    e->detected_sample = s->active_detected;
    e->end_sample = end;
    e->level_dbm0 = to_dbm0(s->active_power, s->active_windows);
}

static void end_active(cpt_state_t *s, sink_t *out)
{
    emit(s, out, CPT_TONE_ENDED, s->last_on_end);
    s->active = -1;
}

/* ---- segments and cadence ---------------------------------------------------------- */

static int class_in(int32_t cls, uint32_t mask)
{
    if (mask == 0)
        return cls < 0;
    return cls >= 0 && ((mask >> cls) & 1u) != 0;
}

static int segment_matches(const cpt_segment_t *seg, const cpt_element_t *el, uint32_t groups)
{
    int64_t len = seg->end - seg->start;
    return class_in(seg->cls, groups) && len >= el->min_samples
           && (el->max_samples == 0 || len <= el->max_samples);
}

static int64_t window_samples(const cpt_state_t *s, int32_t cls)
{
    return (int64_t) s->group_hops[cls] * CPT_HOP;
}

/* Where a tone of class cls began, given its first on window. A window is "on" once the
 * tone covers about min_purity of it (purity of a partly covered window = the covered
 * share), so the edge lies min_purity * window before the window's end, give or take
 * half a hop. */
static int64_t on_start(const cpt_state_t *s, int32_t cls, int64_t first_window)
{
    int64_t cover = (int64_t) (s->config.min_purity * (double) window_samples(s, cls));
    return (first_window + 1) * CPT_HOP - cover - CPT_HOP / 2;
}

static int64_t on_end(const cpt_state_t *s, int32_t cls, int64_t last_window)
{
    int64_t w = window_samples(s, cls);
    int64_t cover = (int64_t) (s->config.min_purity * (double) w);
    return (last_window + 1) * CPT_HOP - w + cover + CPT_HOP / 2;
}

static void push_history(cpt_state_t *s, const cpt_segment_t *seg)
{
    if (s->history_count == CPT_HISTORY) {
        memmove(&s->history[0], &s->history[1], sizeof(cpt_segment_t) * (CPT_HISTORY - 1));
        s->history_count--;
    }
    s->history[s->history_count++] = *seg;
}

/* The segment `seg` has just completed and a segment of class new_class has begun. */
static void track_active(cpt_state_t *s, const cpt_segment_t *seg, int32_t new_class,
                         sink_t *out)
{
    const cpt_tone_t *tone = &s->config.tone[s->active];
    const cpt_element_t *el = &tone->element[s->expect];
    if (!segment_matches(seg, el, s->group_mask[s->active][s->expect])) {
        end_active(s, out);
        return;
    }
    if (el->signatures != 0) {
        s->last_on_end = seg->end;
        s->active_power += seg->power_sum;
        s->active_windows += seg->windows;
    }
    s->expect++;
    if (s->expect == tone->elements) {
        if (!tone->repeat) {
            end_active(s, out);
            return;
        }
        s->expect = 0;
    }
    if (!class_in(new_class, s->group_mask[s->active][s->expect]))
        end_active(s, out);
}

/* Tries each cadenced tone against the history, the newest segment having just ended. */
static void recognise_cadence(cpt_state_t *s, int32_t new_class, sink_t *out)
{
    const cpt_config_t *c = &s->config;
    for (int t = 0; t < c->tones; t++) {
        const cpt_tone_t *tone = &c->tone[t];
        if (tone->elements == 1 && tone->element[0].max_samples == 0)
            continue; /* continuous: recognised by duration, in step_tones */
        int r = tone->recognise_after;
        if (s->history_count < r)
            continue;
        const cpt_segment_t *first = &s->history[s->history_count - r];
        int ok = 1;
        double power = 0.0;
        int32_t windows = 0;
        int64_t last_on_end = first->end;
        for (int i = 0; i < r && ok; i++) {
            const cpt_segment_t *seg = &first[i];
            const cpt_element_t *el = &tone->element[i % tone->elements];
            ok = segment_matches(seg, el, s->group_mask[t][i % tone->elements]);
            if (ok && el->signatures != 0) {
                power += seg->power_sum;
                windows += seg->windows;
                last_on_end = seg->end;
            }
        }
        if (!ok)
            continue;
        int next = r % tone->elements;
        int complete = next == 0 && !tone->repeat;
        if (!complete && !class_in(new_class, s->group_mask[t][next]))
            continue;
        s->active = t;
        s->expect = next;
        s->active_start = first->start;
        s->active_detected = stream_position(s);
        s->last_on_end = last_on_end;
        s->active_power = power;
        s->active_windows = windows;
        emit(s, out, CPT_TONE_STARTED, -1);
        if (complete)
            end_active(s, out);
        return;
    }
}

/* Closes the current segment at `boundary` and starts one of class new_class. */
static void close_segment(cpt_state_t *s, int64_t boundary, int32_t new_class, sink_t *out)
{
    cpt_segment_t seg;
    seg.cls = s->cur_class;
    seg.windows = s->cur_windows;
    seg.start = s->cur_start;
    seg.end = boundary;
    seg.power_sum = s->cur_power;
    push_history(s, &seg);
    if (s->active >= 0)
        track_active(s, &seg, new_class, out);
    if (s->active < 0)
        recognise_cadence(s, new_class, out);
}

/* Length (lower bound) of the current segment so far. */
static int64_t current_length(const cpt_state_t *s)
{
    int64_t end = s->cur_class >= 0 ? on_end(s, s->cur_class, s->cur_last_window)
                                    : (s->cur_last_window + 1) * CPT_HOP - CPT_HOP;
    return end - s->cur_start;
}

/* Per window: a tone that overruns its element ends; a continuous tone is recognised. */
static void step_tones(cpt_state_t *s, sink_t *out)
{
    const cpt_config_t *c = &s->config;
    int64_t len = current_length(s);
    if (s->active >= 0) {
        const cpt_element_t *el = &c->tone[s->active].element[s->expect];
        if (el->max_samples > 0 && len > el->max_samples)
            end_active(s, out);
        return;
    }
    if (s->cur_class < 0)
        return;
    for (int t = 0; t < c->tones; t++) {
        const cpt_tone_t *tone = &c->tone[t];
        const cpt_element_t *el = &tone->element[0];
        if (tone->elements != 1 || el->max_samples != 0)
            continue;
        if (class_in(s->cur_class, s->group_mask[t][0]) && len >= el->min_samples) {
            s->active = t;
            s->expect = 0;
            s->active_start = s->cur_start;
            s->active_detected = stream_position(s);
            s->last_on_end = -1;
            s->active_power = s->cur_power;
            s->active_windows = s->cur_windows;
            emit(s, out, CPT_TONE_STARTED, -1);
            return;
        }
    }
}

/* Takes one window's class (signature or -1) and its tone power. */
static void segment_window(cpt_state_t *s, int32_t cls, double power, sink_t *out)
{
    int64_t w = s->hops - 1; /* this window's index */
    if (cls == s->cur_class) {
        s->pend_count = 0;
        s->cur_last_window = w;
        if (cls >= 0) {
            s->cur_power += power;
            s->cur_windows++;
        }
    } else {
        if (s->pend_count > 0 && cls == s->pend_class) {
            s->pend_count++;
            s->pend_power += power;
        } else {
            s->pend_class = cls;
            s->pend_count = 1;
            s->pend_first_window = w;
            s->pend_power = power;
        }
        if (s->pend_count >= CPT_CONFIRM) {
            int32_t old = s->cur_class;
            int64_t boundary;
            if (old >= 0 && cls >= 0)
                boundary = (on_end(s, old, s->cur_last_window)
                             + on_start(s, cls, s->pend_first_window)) / 2;
            else if (old >= 0)
                boundary = on_end(s, old, s->cur_last_window);
            else
                boundary = on_start(s, cls, s->pend_first_window);
            if (boundary < s->cur_start)
                boundary = s->cur_start;
            if (boundary > (w + 1) * CPT_HOP)
                boundary = (w + 1) * CPT_HOP;
            close_segment(s, boundary, cls, out);
            s->cur_class = cls;
            s->cur_start = boundary;
            s->cur_last_window = w;
            s->cur_power = cls >= 0 ? s->pend_power : 0.0;
            s->cur_windows = cls >= 0 ? s->pend_count : 0;
            s->pend_count = 0;
        }
    }
    step_tones(s, out);
}

/* ---- analysis ---------------------------------------------------------------------- */

static void end_of_hop(cpt_state_t *s, sink_t *out)
{
    const cpt_config_t *c = &s->config;
    double z_re[CPT_MAX_FREQS], z_im[CPT_MAX_FREQS];
    for (int k = 0; k < CPT_MAX_FREQS; k++) {
        z_re[k] = (double) s->acc_re[k];
        z_im[k] = (double) s->acc_im[k];
        s->acc_re[k] = 0.0f;
        s->acc_im[k] = 0.0f;
    }
    double e_hop = (double) s->acc_energy;
    s->acc_energy = 0;

    int32_t best = -1;
    double best_purity = 0.0, best_power = 0.0;
    for (int g = 0; g < c->signatures; g++) {
        const cpt_signature_t *sig = &c->signature[g];
        int m = sig->components;
        int two = s->window_hops[g] == 2;
        double n = (double) (s->window_hops[g] * CPT_HOP);
        double total = two ? e_hop + s->eprev : e_hop;
        double y_re[CPT_MAX_COMPONENTS], y_im[CPT_MAX_COMPONENTS];
        for (int i = 0; i < m; i++) {
            int k = sig->freq[i];
            if (two) {
                y_re[i] = s->zprev_re[k] + z_re[k] * s->rot_re[k] - z_im[k] * s->rot_im[k];
                y_im[i] = s->zprev_im[k] + z_re[k] * s->rot_im[k] + z_im[k] * s->rot_re[k];
            } else {
                y_re[i] = z_re[k];
                y_im[i] = z_im[k];
            }
        }
        /* a = G^-1 y: the components' complex amplitudes; fit energy = 2 Re(y^H a). */
        double a_re[CPT_MAX_COMPONENTS], a_im[CPT_MAX_COMPONENTS];
        double fit = 0.0;
        for (int i = 0; i < m; i++) {
            double r = 0.0, im = 0.0;
            for (int j = 0; j < m; j++) {
                r += s->ginv_re[g][i][j] * y_re[j] - s->ginv_im[g][i][j] * y_im[j];
                im += s->ginv_re[g][i][j] * y_im[j] + s->ginv_im[g][i][j] * y_re[j];
            }
            a_re[i] = r;
            a_im[i] = im;
            fit += 2.0 * (y_re[i] * r + y_im[i] * im);
        }
        double prev_re[CPT_MAX_COMPONENTS], prev_im[CPT_MAX_COMPONENTS];
        int slot = (int) (s->hops % CPT_FREQ_AVG);
        for (int i = 0; i < m; i++) {
            prev_re[i] = s->aprev_re[g][i];
            prev_im[i] = s->aprev_im[g][i];
            s->aprev_re[g][i] = a_re[i];
            s->aprev_im[g][i] = a_im[i];
            /* a * conj(prev) */
            s->lag_re[g][i][slot] = a_re[i] * prev_re[i] + a_im[i] * prev_im[i];
            s->lag_im[g][i][slot] = a_im[i] * prev_re[i] - a_re[i] * prev_im[i];
        }
        /* Cheap rejections first: even the largest correction cannot save these. */
        if (total <= 0.0 || fit <= 0.0)
            continue;
        double max_fit = fit / s->min_gain[g];
        if (max_fit < c->min_purity * total || max_fit / n < s->min_power)
            continue;
        /* Each component: frequency offset from the phase advance over one hop. */
        int ok = 1;
        double sum_p = 0.0, sum_pg = 0.0, p_max = 0.0, p_min = 1e300;
        for (int i = 0; i < m && ok; i++) {
            int k = sig->freq[i];
            double p = a_re[i] * a_re[i] + a_im[i] * a_im[i];
            double pp = prev_re[i] * prev_re[i] + prev_im[i] * prev_im[i];
            double gain = 1.0;
            if (pp >= PREV_POWER_SHARE * p) {
                /* sum of a * conj(prev), times e^{-j w hop} */
                double l_re = 0.0, l_im = 0.0;
                for (int j = 0; j < CPT_FREQ_AVG; j++) {
                    l_re += s->lag_re[g][i][j];
                    l_im += s->lag_im[g][i][j];
                }
                double t_re = l_re * s->rot_re[k] - l_im * s->rot_im[k];
                double t_im = l_re * s->rot_im[k] + l_im * s->rot_re[k];
                double df = atan2(t_im, t_re) * SAMPLE_RATE / (TWO_PI * CPT_HOP);
                if (fabs(df) > s->tol_hz[k]) {
                    /* The average still holds a phase jump of the last windows (a
                     * generator restarting its oscillator): the newest advance alone. */
                    double n_re = s->lag_re[g][i][slot], n_im = s->lag_im[g][i][slot];
                    double u_re = n_re * s->rot_re[k] - n_im * s->rot_im[k];
                    double u_im = n_re * s->rot_im[k] + n_im * s->rot_re[k];
                    df = atan2(u_im, u_re) * SAMPLE_RATE / (TWO_PI * CPT_HOP);
                    if (fabs(df) > s->tol_hz[k])
                        ok = 0;
                }
                gain = window_gain(df, s->window_hops[g] * CPT_HOP);
            }
            sum_p += p;
            sum_pg += p * gain;
            if (p > p_max)
                p_max = p;
            if (p < p_min)
                p_min = p;
        }
        if (!ok || sum_pg <= 0.0)
            continue;
        if (m > 1 && p_min < s->twist * p_max)
            continue;
        double energy = fit * sum_p / sum_pg;
        double purity = energy / total;
        double power = energy / n;
        if (purity >= c->min_purity && power >= s->min_power && purity > best_purity) {
            best = g;
            best_purity = purity;
            best_power = power;
        }
    }
    for (int k = 0; k < CPT_MAX_FREQS; k++) {
        s->zprev_re[k] = z_re[k];
        s->zprev_im[k] = z_im[k];
    }
    s->eprev = e_hop;
    s->hops++;
    segment_window(s, best >= 0 ? s->group[best] : -1, best_power, out);
}

static void run(cpt_state_t *s, const int16_t *x, size_t n, sink_t *out)
{
    size_t i = 0;
    while (i < n) {
        size_t take = (size_t) (CPT_HOP - s->pos);
        if (take > n - i)
            take = n - i;
        float acc_re[CPT_MAX_FREQS], acc_im[CPT_MAX_FREQS];
        memcpy(acc_re, s->acc_re, sizeof acc_re);
        memcpy(acc_im, s->acc_im, sizeof acc_im);
        int64_t energy = s->acc_energy;
        int32_t pos = s->pos;
        for (size_t t = 0; t < take; t++) {
            float v = (float) x[i + t];
            const float *cr = s->tab_re[pos + (int32_t) t];
            const float *ci = s->tab_im[pos + (int32_t) t];
            for (int k = 0; k < CPT_MAX_FREQS; k++) {
                acc_re[k] += v * cr[k];
                acc_im[k] += v * ci[k];
            }
            energy += (int64_t) x[i + t] * x[i + t];
        }
        memcpy(s->acc_re, acc_re, sizeof acc_re);
        memcpy(s->acc_im, acc_im, sizeof acc_im);
        s->acc_energy = energy;
        s->pos = pos + (int32_t) take;
        i += take;
        if (s->pos == CPT_HOP) {
            s->pos = 0;
            end_of_hop(s, out);
        }
    }
}

int cpt_process(cpt_state_t *s, const int16_t *samples, size_t samples_count,
                cpt_event_t *events, size_t max_events)
{
    if (max_events < cpt_max_events(samples_count))
        return CPT_ERR_EVENTS;
    sink_t out = {events, max_events, 0};
    run(s, samples, samples_count, &out);
    return (int) out.count;
}

int cpt_flush(cpt_state_t *s, cpt_event_t *events, size_t max_events)
{
    if (max_events < CPT_FLUSH_EVENTS)
        return CPT_ERR_EVENTS;
    sink_t out = {events, max_events, 0};
    /* The stream ends: the current segment ends with its last window of its class (a
     * pending change too short to confirm is dropped), and silence follows. */
    int64_t end = s->cur_class >= 0 ? on_end(s, s->cur_class, s->cur_last_window)
                                    : stream_position(s);
    if (end < s->cur_start)
        end = s->cur_start;
    close_segment(s, end, -1, &out);
    if (s->active >= 0)
        end_active(s, &out);
    cpt_reset(s);
    return (int) out.count;
}

int cpt_process_batch(cpt_state_t *states, size_t channels, const uint8_t *enabled,
                      const int16_t *samples, size_t frame, cpt_event_t *events,
                      size_t max_events)
{
    size_t on = 0;
    for (size_t ch = 0; ch < channels; ch++)
        if (enabled == NULL || enabled[ch])
            on++;
    if (max_events < on * cpt_max_events(frame))
        return CPT_ERR_EVENTS;
    sink_t out = {events, max_events, 0};
    for (size_t ch = 0; ch < channels; ch++) {
        if (enabled != NULL && !enabled[ch])
            continue;
        size_t first = out.count;
        run(&states[ch], samples + ch * frame, frame, &out);
        for (size_t e = first; e < out.count; e++)
            events[e].channel = (int32_t) ch;
    }
    return (int) out.count;
}
