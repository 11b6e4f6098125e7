/* cpt.h - call-progress tone detector: dial, ringback, busy, congestion, SIT from a tone plan.
 *
 * Standards: ITU-T E.180 (tone characteristics, SIT 950/1400/1800 Hz), Telcordia GR-506 /
 * ANSI T1.401 precise tones and the Telcordia SIT variants (913.8/985.2, 1370.6/1428.5,
 * 1776.7 Hz; 274 or 380 ms segments), GB/T 3380 (China: 450 Hz), ETSI TR 101 041.
 * The plan itself (frequencies, cadences, tolerances) is data: appliance/dsp/tone_plans/.
 *
 * Units: 8 kHz 16-bit linear samples; times in samples from the start of the stream
 * (int64, so a channel may run for years); levels in dBm0 (G.711: a 0 dBm0 sine has a
 * peak of 22827.6, see level_internal.h); frequencies in Hz.
 *
 * How it works. The signal is cut into hops of CPT_HOP samples (10 ms). For every frequency
 * of the plan the detector keeps the hop's DFT at that frequency (a table of the complex
 * exponential, so the per-sample cost is two multiply-adds per frequency). At the end of a
 * hop each *signature* (a set of 1..CPT_MAX_COMPONENTS frequencies that sound together) is
 * fitted by least squares to a window of one hop (single tones) or two hops (dual tones,
 * whose components may be only 40 Hz apart). The fit gives:
 *   - each component's frequency offset, from the phase advance of its complex amplitude
 *     between consecutive windows, summed over CPT_FREQ_AVG windows (precise to a fraction
 *     of a hertz at any usable SNR, so 440 Hz music is not taken for a 450 Hz tone);
 *   - the tone's energy, corrected for the window's response at that offset;
 *   - its purity, the share of the window's total energy the tone explains.
 * A window belongs to a signature when every component is within
 * freq_hz * freq_tolerance + freq_margin_hz, the components are within max_twist_db of each
 * other, purity >= min_purity and the tone power >= min_level_dbm0; otherwise it is "off".
 * Signatures that one element accepts as alternatives (a SIT segment's frequency variants)
 * count as one class. Runs of windows make tone-on / tone-off segments: a change must last
 * CPT_CONFIRM windows, so drop-outs up to 30 ms (and E.180's gaps of up to 30 ms between
 * SIT segments) are bridged; segment edges are placed to within about 5 ms.
 *
 * A tone is a cadence of elements (an element accepts one or more signatures, or silence,
 * for min..max samples). A cadenced tone is recognised when its last `recognise_after`
 * completed segments match its elements in order from the first, and the segment that has
 * just begun fits the next element; it then stays on while later segments keep matching.
 * A continuous tone (one element with max_samples 0) is recognised once it has lasted
 * min_samples. Events: CPT_TONE_STARTED when recognised (start = where its first segment
 * began) and CPT_TONE_ENDED when the cadence breaks or the stream is flushed
 * (end = where its last tone-on segment ended).
 */
#ifndef APPLIANCE_CPT_H
#define APPLIANCE_CPT_H

#include <stddef.h>
#include <stdint.h>

#define CPT_MAX_FREQS 12
#define CPT_MAX_COMPONENTS 3
#define CPT_MAX_SIGNATURES 16
#define CPT_MAX_TONES 8
#define CPT_MAX_ELEMENTS 8
#define CPT_HISTORY 8      /* completed segments remembered; recognise_after <= this */
#define CPT_HOP 80         /* samples per analysis hop (10 ms) */
#define CPT_CONFIRM 5      /* windows a new on/off state must last before it is taken */
#define CPT_FREQ_AVG 5     /* windows whose phase advances are summed for the frequency */
#define CPT_EVENTS_PER_HOP 4
#define CPT_FLUSH_EVENTS 4

/* cpt_event_t.kind */
#define CPT_TONE_STARTED 1
#define CPT_TONE_ENDED 2

#define CPT_ERR_FREQ (-1)      /* a frequency outside 0 < f < 4000 Hz, or freqs out of range */
#define CPT_ERR_SIGNATURE (-2) /* bad component count or frequency index */
#define CPT_ERR_TONE (-3)      /* bad tone count, element count or recognise_after */
#define CPT_ERR_ELEMENT (-4)   /* bad signature mask or duration limits */
#define CPT_ERR_THRESHOLD (-5) /* tolerance, purity, level or twist out of range */
#define CPT_ERR_EVENTS (-6)    /* the caller's event array is too small (nothing was done) */

typedef struct {
    int32_t components;               /* 1 .. CPT_MAX_COMPONENTS */
    int32_t freq[CPT_MAX_COMPONENTS]; /* indices into cpt_config_t.freq_hz */
} cpt_signature_t;

typedef struct {
    uint32_t signatures; /* bit s: signature s is accepted here; 0: silence (tone off) */
    int32_t min_samples; /* >= 0 */
    int32_t max_samples; /* >= min_samples; 0: no upper limit (continuous tones only) */
} cpt_element_t;

typedef struct {
    cpt_element_t element[CPT_MAX_ELEMENTS];
    int32_t elements;        /* 1 .. CPT_MAX_ELEMENTS; element 0 is a tone-on element */
    int32_t repeat;          /* nonzero: after the last element comes the first again */
    int32_t recognise_after; /* completed segments matched before STARTED, 1..CPT_HISTORY;
                                ignored for a continuous tone */
} cpt_tone_t;

typedef struct {
    double freq_hz[CPT_MAX_FREQS];
    int32_t freqs; /* 1 .. CPT_MAX_FREQS */
    cpt_signature_t signature[CPT_MAX_SIGNATURES];
    int32_t signatures; /* 1 .. CPT_MAX_SIGNATURES */
    cpt_tone_t tone[CPT_MAX_TONES];
    int32_t tones;         /* 1 .. CPT_MAX_TONES; event tone ids index this array */
    double freq_tolerance; /* fraction of each frequency, 0 .. 0.05 (e.g. 0.015) */
    double freq_margin_hz; /* added to the tolerance, 0 .. 20 Hz */
    double min_purity;     /* share of the window energy, 0.5 .. 1 (e.g. 0.8) */
    double min_level_dbm0; /* tone power (all components), -60 .. 0 (e.g. -35) */
    double max_twist_db;   /* dual tones: largest component minus weakest, 0 .. 20 */
} cpt_config_t;

typedef struct {
    int32_t channel;         /* batch: the channel's index; cpt_process: 0 */
    int32_t tone;            /* index into cpt_config_t.tone */
    int32_t kind;            /* CPT_TONE_STARTED or CPT_TONE_ENDED */
    int32_t reserved;        /* 0 */
    int64_t start_sample;    /* where the tone's first segment began */
    int64_t detected_sample; /* stream position when the tone was recognised */
    int64_t end_sample;      /* where its last tone-on segment ended; -1 while it goes on */
    double level_dbm0;       /* mean power of the tone-on segments so far */
} cpt_event_t;

typedef struct {
    int32_t cls; /* signature group, or -1 for off */
    int32_t windows;
    int64_t start;
    int64_t end;
    double power_sum; /* sum of the windows' tone power (linear) */
} cpt_segment_t;

typedef struct cpt_state_s {
    cpt_config_t config;
    /* Derived at init. */
    float tab_re[CPT_HOP][CPT_MAX_FREQS]; /* cos(w n), -sin(w n): e^{-j w n} over one hop */
    float tab_im[CPT_HOP][CPT_MAX_FREQS];
    double rot_re[CPT_MAX_FREQS]; /* e^{-j w CPT_HOP} */
    double rot_im[CPT_MAX_FREQS];
    double tol_hz[CPT_MAX_FREQS];
    double ginv_re[CPT_MAX_SIGNATURES][CPT_MAX_COMPONENTS][CPT_MAX_COMPONENTS];
    double ginv_im[CPT_MAX_SIGNATURES][CPT_MAX_COMPONENTS][CPT_MAX_COMPONENTS];
    int32_t window_hops[CPT_MAX_SIGNATURES];
    /* Signatures accepted by the same element (a SIT segment's variants) form one class
     * for segmentation, so a tone between two variants does not split its segment. */
    int32_t group[CPT_MAX_SIGNATURES];
    int32_t group_hops[CPT_MAX_SIGNATURES];
    uint32_t group_mask[CPT_MAX_TONES][CPT_MAX_ELEMENTS];
    double min_gain[CPT_MAX_SIGNATURES]; /* worst window power response within tolerance */
    double min_power;                    /* min_level_dbm0 as mean power */
    double twist;                        /* max_twist_db as a power ratio (< 1) */
    /* Current hop. */
    float acc_re[CPT_MAX_FREQS];
    float acc_im[CPT_MAX_FREQS];
    int64_t acc_energy;
    int32_t pos;
    /* Previous hop and window. */
    double zprev_re[CPT_MAX_FREQS];
    double zprev_im[CPT_MAX_FREQS];
    double eprev;
    double aprev_re[CPT_MAX_SIGNATURES][CPT_MAX_COMPONENTS];
    double aprev_im[CPT_MAX_SIGNATURES][CPT_MAX_COMPONENTS];
    /* The last CPT_FREQ_AVG phase-advance products a * conj(a_prev) per component: summed,
     * they average out the beat between close components (440 + 480 Hz beat every 25 ms,
     * 2.5 hops) and the leakage of the negative-frequency image. */
    double lag_re[CPT_MAX_SIGNATURES][CPT_MAX_COMPONENTS][CPT_FREQ_AVG];
    double lag_im[CPT_MAX_SIGNATURES][CPT_MAX_COMPONENTS][CPT_FREQ_AVG];
    int64_t hops; /* hops completed since the stream start */
    /* Segmentation. */
    int32_t cur_class;
    int32_t cur_windows;
    int64_t cur_start;
    int64_t cur_last_window;
    double cur_power;
    int32_t pend_class;
    int32_t pend_count;
    int64_t pend_first_window;
    double pend_power;
    cpt_segment_t history[CPT_HISTORY];
    int32_t history_count; /* up to CPT_HISTORY, oldest first */
    /* The tone being reported. */
    int32_t active; /* tone index, or -1 */
    int32_t expect; /* element the current segment should match */
    int64_t active_start;
    int64_t active_detected;
    int64_t last_on_end;
    double active_power;
    int32_t active_windows;
} cpt_state_t;

/* Validates config, derives the tables and starts a stream. Returns 0 or CPT_ERR_*. */
int cpt_init(cpt_state_t *s, const cpt_config_t *config);
/* Starts a new stream (sample 0) with the same config. */
void cpt_reset(cpt_state_t *s);
/* The largest number of events cpt_process can write for `samples` samples. */
size_t cpt_max_events(size_t samples);
/* Feeds samples; writes events (channel 0) and returns their count, or CPT_ERR_EVENTS
 * (with nothing done) when max_events < cpt_max_events(samples). */
int cpt_process(cpt_state_t *s, const int16_t *samples, size_t samples_count,
                cpt_event_t *events, size_t max_events);
/* Ends the stream: closes the current segment, reports what it completes and ends the
 * tone that is on. Then resets. Needs max_events >= CPT_FLUSH_EVENTS. */
int cpt_flush(cpt_state_t *s, cpt_event_t *events, size_t max_events);
/* One frame for each channel whose enabled[ch] is nonzero (enabled NULL: all); samples is
 * channels x frame, row-major. Disabled channels' states are untouched. Events carry the
 * channel index. Returns the number of events, or CPT_ERR_EVENTS (with nothing done) when
 * max_events < (enabled channels) * cpt_max_events(frame). */
int cpt_process_batch(cpt_state_t *states, size_t channels, const uint8_t *enabled,
                      const int16_t *samples, size_t frame, cpt_event_t *events,
                      size_t max_events);

#endif
