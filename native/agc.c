/* agc.c - see agc.h. */
#include <math.h>

#include "agc.h"

#define FULL_SCALE 32768.0
#define SILENCE_DBFS (-100.0)   /* energy of digital silence, clamped */
#define UNKNOWN_FLOOR_DBFS 100.0 /* a sub-window with no block yet */
#define NO_LEVEL_DBFS (-200.0)
/* P.56 counts samples whose envelope is within 15.9 dB of the active level. The envelope
 * is a mean absolute value, about 2 dB under the RMS of a speech block, so a block counts
 * while its RMS is within this much of the current estimate. */
#define P56_BLOCK_MARGIN_DB 14.0
/* The mean of speech blocks in dB sits 0 to 6 dB (with the SNR) under their P.56 level. */
#define FAST_TO_P56_DB 3.0
/* Step detector: how far one block may pull the means (dB), which bounds step_db. */
#define STEP_CLAMP_DB 20.0
/* Speech blocks' energies vary: below this variance (dB^2) over the fast tracker's time
 * constant the gate's blocks are steady noise or tone, not speech (3 dB rms). */
#define STEADY_VAR_DB2 9.0
/* Fast tracker time constant in speech blocks. */
#define FAST_BLOCKS 10.0

void agc_config_default(agc_config_t *config, int32_t rate_hz)
{
    config->rate_hz = rate_hz;
    config->target_dbfs = -18.0;
    config->attack_ms = 20.0;
    config->release_ms = 150.0;
    config->max_gain_db = 30.0;
    config->min_gain_db = -20.0;
    config->gate_dbfs = -65.0;
    config->gate_margin_db = 8.0;
    config->noise_window_ms = 1600.0;
    config->hangover_ms = 200.0;
    config->acquire_ms = 300.0;
    config->track_ms = 600.0;
    config->step_db = 12.0;
    config->step_ms = 250.0;
    config->ceiling_dbfs = -1.0;
    config->limiter_release_ms = 50.0;
}

static int within(double value, double low, double high)
{
    return value >= low && value <= high; /* false for NaN */
}

/* A duration in 10 ms blocks, at least one. */
static int32_t blocks_of(double ms)
{
    double blocks = floor(ms / 10.0 + 0.5);
    return blocks < 1.0 ? 1 : (int32_t) blocks;
}

int agc_init(agc_state_t *s, const agc_config_t *config)
{
    if (config->rate_hz < 8000 || config->rate_hz > 48000 || config->rate_hz % 100 != 0)
        return AGC_ERR_RATE;
    if (!within(config->target_dbfs, -40.0, -3.0))
        return AGC_ERR_TARGET;
    if (!within(config->attack_ms, 1.0, 10000.0) || !within(config->release_ms, 1.0, 10000.0)
        || !within(config->noise_window_ms, 80.0, 20000.0)
        || !within(config->hangover_ms, 0.0, 2000.0)
        || !within(config->acquire_ms, 10.0, 5000.0)
        || !within(config->track_ms, 100.0, 60000.0)
        || !within(config->step_ms, 10.0, 5000.0)
        || !within(config->limiter_release_ms, 1.0, 1000.0))
        return AGC_ERR_TIME;
    if (!within(config->max_gain_db, 0.0, 60.0) || !within(config->min_gain_db, -60.0, 0.0))
        return AGC_ERR_GAIN;
    if (!within(config->gate_dbfs, -100.0, -20.0) || !within(config->gate_margin_db, 0.0, 40.0)
        || !within(config->step_db, 3.0, 40.0))
        return AGC_ERR_GATE;
    if (!within(config->ceiling_dbfs, -20.0, -0.01))
        return AGC_ERR_CEILING;
    s->config = *config;
    s->block = config->rate_hz / 100;
    int32_t window = blocks_of(config->noise_window_ms);
    s->subwindow_blocks = (window + AGC_FLOOR_SUBWINDOWS - 1) / AGC_FLOOR_SUBWINDOWS;
    s->level_forget = exp(-10.0 / config->track_ms);
    s->acquire_blocks = blocks_of(config->acquire_ms);
    s->hang_blocks = (int32_t) floor(config->hangover_ms / 10.0 + 0.5);
    s->step_blocks = blocks_of(config->step_ms);
    s->attack_coef = 1.0 - exp(-10.0 / config->attack_ms);
    s->release_coef = 1.0 - exp(-10.0 / config->release_ms);
    s->peak_decay = exp(-1000.0 / (config->limiter_release_ms * config->rate_hz));
    s->ceiling = FULL_SCALE * pow(10.0, config->ceiling_dbfs / 20.0);
    agc_reset(s);
    return 0;
}

void agc_reset(agc_state_t *s)
{
    s->position = 0;
    s->block_energy = 0.0;
    for (int i = 0; i < AGC_FLOOR_SUBWINDOWS; i++)
        s->floor_ring[i] = UNKNOWN_FLOOR_DBFS;
    s->subwindow_min = UNKNOWN_FLOOR_DBFS;
    s->subwindow_count = 0;
    s->floor_index = 0;
    s->level_sum = 0.0;
    s->level_weight = 0.0;
    s->level_dbfs = NO_LEVEL_DBFS;
    s->acquired_blocks = 0;
    s->hang = 0;
    s->fast_dbfs = 0.0;
    s->raw_dbfs = 0.0;
    s->raw_var = 0.0;
    s->fast_valid = 0;
    s->slow_sum = 0.0;
    s->slow_weight = 0.0;
    s->step_count = 0;
    double unity = 0.0;
    if (unity > s->config.max_gain_db)
        unity = s->config.max_gain_db;
    if (unity < s->config.min_gain_db)
        unity = s->config.min_gain_db;
    s->gain_db = unity;
    s->gain = pow(10.0, unity / 20.0);
    s->gain_step = 0.0;
    s->peak = 0.0;
    s->speech = 0;
    s->restarts = 0;
}

/* Noise floor: minimum of block energies over the last sub-windows. */
static double track_floor(agc_state_t *s, double energy_dbfs)
{
    if (energy_dbfs < s->subwindow_min)
        s->subwindow_min = energy_dbfs;
    double floor_dbfs = s->subwindow_min;
    for (int i = 0; i < AGC_FLOOR_SUBWINDOWS; i++)
        if (s->floor_ring[i] < floor_dbfs)
            floor_dbfs = s->floor_ring[i];
    if (++s->subwindow_count >= s->subwindow_blocks) {
        s->floor_ring[s->floor_index] = s->subwindow_min;
        s->floor_index = (s->floor_index + 1) % AGC_FLOOR_SUBWINDOWS;
        s->subwindow_min = UNKNOWN_FLOOR_DBFS;
        s->subwindow_count = 0;
    }
    return floor_dbfs;
}

static void restart_level(agc_state_t *s)
{
    s->level_sum = 0.0;
    s->level_weight = 0.0;
    s->level_dbfs = NO_LEVEL_DBFS;
    s->acquired_blocks = 0;
    s->step_count = 0;
    s->slow_sum = 0.0;
    s->slow_weight = 0.0;
    s->fast_dbfs = s->raw_dbfs; /* the clamp held the fast mean back: take the raw one */
    s->restarts++;
}

/* Detects a level step: a fast and a slow mean of the speech blocks' energies (dB) that
 * stay more than step_db apart for step_ms of speech. Both are means in dB over the same
 * blocks, so their bias against the P.56 level cancels. */
static void detect_step(agc_state_t *s, double energy_dbfs)
{
    if (!s->fast_valid) {
        s->raw_dbfs = energy_dbfs;
    } else {
        double deviation = energy_dbfs - s->raw_dbfs;
        s->raw_var += (deviation * deviation - s->raw_var) / FAST_BLOCKS;
        s->raw_dbfs += deviation / FAST_BLOCKS;
    }
    if (s->slow_weight > 0.0) {
        /* Soft and loud outliers count only so far: the means then follow the bulk of
         * the speech, not its quietest breaths, while a real step still moves the fast
         * mean by STEP_CLAMP_DB. */
        double slow = s->slow_sum / s->slow_weight;
        if (energy_dbfs < slow - STEP_CLAMP_DB)
            energy_dbfs = slow - STEP_CLAMP_DB;
        if (energy_dbfs > slow + STEP_CLAMP_DB)
            energy_dbfs = slow + STEP_CLAMP_DB;
    }
    if (!s->fast_valid) {
        s->fast_dbfs = energy_dbfs;
        s->fast_valid = 1;
    } else {
        s->fast_dbfs += (energy_dbfs - s->fast_dbfs) / FAST_BLOCKS;
    }
    s->slow_sum = s->slow_sum * s->level_forget + energy_dbfs;
    s->slow_weight = s->slow_weight * s->level_forget + 1.0;
    if (s->acquired_blocks < s->acquire_blocks) {
        s->step_count = 0;
        return;
    }
    double error = s->fast_dbfs - s->slow_sum / s->slow_weight;
    if (fabs(error) > s->config.step_db) {
        /* Only speech restarts the estimate: a step in steady line noise (the floor
         * tracker needs a window to follow it up) must not. */
        if (++s->step_count >= s->step_blocks && s->raw_var > STEADY_VAR_DB2)
            restart_level(s);
    } else {
        s->step_count = 0;
    }
}

/* Decisions at the end of a block; sets the gain ramp of the next block. */
static void end_block(agc_state_t *s)
{
    double power = s->block_energy / (double) s->block;
    s->block_energy = 0.0;
    double energy_dbfs = power > 0.0 ? 10.0 * log10(power / (FULL_SCALE * FULL_SCALE))
                                     : SILENCE_DBFS;
    if (energy_dbfs < SILENCE_DBFS)
        energy_dbfs = SILENCE_DBFS;

    double floor_dbfs = track_floor(s, energy_dbfs);
    int speech = energy_dbfs >= s->config.gate_dbfs
                 && energy_dbfs >= floor_dbfs + s->config.gate_margin_db;
    if (speech)
        detect_step(s, energy_dbfs);

    /* While acquiring (at start or after a step) the fast mean of the speech blocks
     * stands in for the level, so soft blocks do not drag the first estimate down. */
    double reference = s->level_weight > 0.0 ? s->level_dbfs : NO_LEVEL_DBFS;
    if (s->acquired_blocks < s->acquire_blocks && s->fast_dbfs + FAST_TO_P56_DB > reference)
        reference = s->fast_dbfs + FAST_TO_P56_DB;
    int acquiring = s->acquired_blocks < s->acquire_blocks;
    /* Steady energy over the gate (line noise that rose faster than the floor tracker
     * follows it, hum, a held tone) is not taken for speech: counted, it would pull the
     * level, and with it the P.56 threshold, down after it. */
    int counted = 0;
    if (speech && energy_dbfs >= reference - P56_BLOCK_MARGIN_DB
        && s->raw_var > STEADY_VAR_DB2) {
        counted = 1;
        s->hang = s->hang_blocks;
    } else if (s->hang > 0 && s->acquired_blocks >= s->acquire_blocks) {
        /* P.56 hangover; not while acquiring, where a few blocks of speech followed by
         * a pause would be averaged mostly over the pause. */
        counted = 1;
        s->hang--;
    }
    s->speech = counted;

    if (counted) {
        s->level_sum = s->level_sum * s->level_forget + power;
        s->level_weight = s->level_weight * s->level_forget + 1.0;
        double level = s->level_sum / s->level_weight;
        s->level_dbfs = level > 0.0 ? 10.0 * log10(level / (FULL_SCALE * FULL_SCALE))
                                    : SILENCE_DBFS;
        if (acquiring)
            s->acquired_blocks++;
        double want = s->config.target_dbfs - s->level_dbfs;
        if (want > s->config.max_gain_db)
            want = s->config.max_gain_db;
        if (want < s->config.min_gain_db)
            want = s->config.min_gain_db;
        double coef = (want < s->gain_db || acquiring) ? s->attack_coef : s->release_coef;
        s->gain_db += (want - s->gain_db) * coef;
    }
    /* Not speech: the gain stays where it is (frozen through pauses and noise). */
    double next = pow(10.0, s->gain_db / 20.0);
    s->gain_step = (next - s->gain) / (double) s->block;
}

void agc_process(agc_state_t *s, const int16_t *in, int16_t *out, size_t samples)
{
    const double ceiling = s->ceiling;
    const double decay = s->peak_decay;
    for (size_t i = 0; i < samples; i++) {
        double x = (double) in[i];
        double a = fabs(x);
        s->block_energy += x * x;
        double held = s->peak * decay;
        s->peak = a > held ? a : held;
        double g = s->gain;
        if (g * s->peak > ceiling)
            g = ceiling / s->peak; /* peak >= |x|, so |x * g| <= ceiling */
        out[i] = (int16_t) lrint(x * g);
        s->gain += s->gain_step;
        if (++s->position >= s->block) {
            s->position = 0;
            s->gain = pow(10.0, s->gain_db / 20.0); /* land exactly, no drift */
            end_block(s);
        }
    }
}

void agc_process_batch(agc_state_t *states, size_t channels, const int16_t *in,
                       int16_t *out, size_t frame)
{
    for (size_t c = 0; c < channels; c++)
        agc_process(&states[c], in + c * frame, out + c * frame, frame);
}

double agc_gain_db(const agc_state_t *s)
{
    return 20.0 * log10(s->gain);
}

double agc_level_dbfs(const agc_state_t *s)
{
    return s->level_weight > 0.0 ? s->level_dbfs : NO_LEVEL_DBFS;
}

int32_t agc_restarts(const agc_state_t *s)
{
    return s->restarts;
}
