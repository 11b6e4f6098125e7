/* tonegen.c - see tonegen.h. */
#include <math.h>

#include "level_internal.h"
#include "tonegen.h"

#define SAMPLE_RATE 8000.0
#define TWO_PI 6.283185307179586

static void start_step(tonegen_state_t *s)
{
    if (s->step >= s->config.steps)
        return;
    const tonegen_step_t *step = &s->config.step[s->step];
    for (int k = 0; k < TONEGEN_MAX_FREQS; k++) {
        double w = TWO_PI * step->freq_hz[k] / SAMPLE_RATE;
        s->rot_re[k] = 1.0;
        s->rot_im[k] = 0.0;
        s->step_re[k] = cos(w);
        s->step_im[k] = sin(w);
        s->amplitude[k] = step->freq_hz[k] > 0.0 ? level_peak(step->level_dbm0[k]) : 0.0;
    }
    s->position = 0;
}

int tonegen_init(tonegen_state_t *s, const tonegen_config_t *config)
{
    if (config->steps < 1 || config->steps > TONEGEN_MAX_STEPS)
        return TONEGEN_ERR_STEPS;
    int32_t total = 0;
    for (int i = 0; i < config->steps; i++) {
        const tonegen_step_t *step = &config->step[i];
        if (step->on_samples < 0 || step->off_samples < 0)
            return TONEGEN_ERR_DURATION;
        total += step->on_samples + step->off_samples;
        for (int k = 0; k < TONEGEN_MAX_FREQS; k++) {
            if (step->freq_hz[k] < 0.0 || step->freq_hz[k] >= SAMPLE_RATE / 2.0)
                return TONEGEN_ERR_FREQ;
            if (step->freq_hz[k] > 0.0
                && (step->level_dbm0[k] < -90.0 || step->level_dbm0[k] > 3.14))
                return TONEGEN_ERR_LEVEL;
        }
    }
    if (config->repeat && total == 0)
        return TONEGEN_ERR_DURATION; /* a repeating tone of no length never advances */
    s->config = *config;
    tonegen_reset(s);
    return 0;
}

void tonegen_reset(tonegen_state_t *s)
{
    s->step = 0;
    start_step(s);
}

static int16_t saturate(double v)
{
    if (v >= 32767.0)
        return 32767;
    if (v <= -32768.0)
        return -32768;
    return (int16_t) lrint(v);
}

size_t tonegen_process(tonegen_state_t *s, int16_t *out, size_t samples)
{
    size_t done = 0;
    while (done < samples && s->step < s->config.steps) {
        const tonegen_step_t *step = &s->config.step[s->step];
        if (s->position < step->on_samples) {
            size_t run = (size_t) (step->on_samples - s->position);
            if (run > samples - done)
                run = samples - done;
            for (size_t i = 0; i < run; i++) {
                double v = 0.0;
                for (int k = 0; k < TONEGEN_MAX_FREQS; k++) {
                    double re = s->rot_re[k];
                    double im = s->rot_im[k];
                    v += s->amplitude[k] * im;
                    s->rot_re[k] = re * s->step_re[k] - im * s->step_im[k];
                    s->rot_im[k] = re * s->step_im[k] + im * s->step_re[k];
                }
                out[done + i] = saturate(v);
            }
            /* Renormalise so rounding never drifts the level. */
            for (int k = 0; k < TONEGEN_MAX_FREQS; k++) {
                double norm = sqrt(s->rot_re[k] * s->rot_re[k] + s->rot_im[k] * s->rot_im[k]);
                s->rot_re[k] /= norm;
                s->rot_im[k] /= norm;
            }
            s->position += (int32_t) run;
            done += run;
            continue;
        }
        int32_t end = step->on_samples + step->off_samples;
        if (s->position < end) {
            size_t run = (size_t) (end - s->position);
            if (run > samples - done)
                run = samples - done;
            for (size_t i = 0; i < run; i++)
                out[done + i] = 0;
            s->position += (int32_t) run;
            done += run;
            continue;
        }
        s->step++;
        if (s->step >= s->config.steps && s->config.repeat)
            s->step = 0;
        start_step(s);
    }
    size_t sounded = done;
    for (; done < samples; done++)
        out[done] = 0;
    return sounded;
}

void tonegen_process_batch(tonegen_state_t *states, size_t channels, int16_t *out,
                           size_t frame)
{
    for (size_t c = 0; c < channels; c++)
        tonegen_process(&states[c], out + c * frame, frame);
}
