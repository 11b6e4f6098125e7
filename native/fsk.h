/* fsk.h - 1200 baud FSK for caller ID: ITU-T V.23 (mark 1300 Hz, space 2100 Hz) and
 * Bell 202 (mark 1200 Hz, space 2200 Hz), receiver and transmitter, 8 kHz 16-bit linear.
 *
 * Receiver (fsk_rx_*): streaming, one state per channel. Both standards share the centre
 * frequency 1700 Hz, so one receiver takes either without being told which: the line is
 * high-passed at 300 Hz (2nd-order Butterworth, against mains hum and ringing that leak
 * into the audio path: hum 35 dB above a -40 dBm0 burst is tested), mixed down by
 * 1700 Hz, low-pass filtered (4th-order Butterworth at 1100 Hz, so the band kept is about
 * 600-2800 Hz), and a limiter-discriminator (the phase advance over 2 samples, normalised
 * so that the amplitude drops out) says mark (below the centre) or space (above it).
 * Because the decision does not depend on amplitude, a twist of +-6 dB between mark and
 * space costs nothing; frequency offsets of +-1.5 % move the tones by at most 33 Hz
 * against a deviation of +-400 Hz.
 * Bits are decided by integrating the discriminator over the middle of each bit
 * (1200 baud = 6 2/3 samples), on a bit clock that follows the line's transitions; the
 * clock starts when the carrier comes on (an idle line costs only the filters).
 *
 * Each channel steps through:
 *   idle    -> carrier: in-band power reaches min_level_dbm0 (off 3 dB below it, or
 *              15 dB below the carrier's own level, so it ends within a few bits);
 *   hunt    -> counts alternating bits (channel seizure, FSK_EVENT_SEIZURE once
 *              seizure_min_bits alternate in a row) and mark bits (FSK_EVENT_MARK once
 *              mark_min_bits marks in a row that are one steady tone between 1100 and
 *              1400 Hz; the event carries the measured mark frequency, 1300 Hz for V.23
 *              and 1200 Hz for Bell 202, so the caller knows the standard);
 *   data    -> asynchronous characters: a start bit (space), 8 data bits LSB first, a stop
 *              bit (mark); each character is an FSK_EVENT_BYTE (framing error flagged when
 *              the stop bit is a space). Data ends when the carrier goes away. Idle marks
 *              between characters repeat FSK_EVENT_MARK every mark_min_bits, so a next
 *              message on a carrier that never dropped (a noisy line) is found again.
 * No bytes are reported before a mark signal, so speech and noise cost the caller nothing.
 * Specified range: -40 dBm0 to -5 dBm0 per signal (dBm0 as in level_internal.h); the
 * default carrier threshold is -48 dBm0.
 *
 * Transmitter (fsk_tx_*): continuous-phase FSK from a bit array (one bit per byte, 0 or 1;
 * 1 = mark), with mark and space frequencies and levels set separately (so tests and the
 * board emulator can add frequency offset and twist). Bit edges fall on the exact
 * 1200 baud grid (fractional sample positions carried from call to call).
 *
 * Times are in samples from the start of the channel's stream (since init or reset).
 */
#ifndef APPLIANCE_FSK_H
#define APPLIANCE_FSK_H

#include <stddef.h>
#include <stdint.h>

#define FSK_V23 1
#define FSK_BELL202 2

#define FSK_EVENT_CARRIER_ON 1  /* value: 0 */
#define FSK_EVENT_CARRIER_OFF 2 /* value: 0 */
#define FSK_EVENT_SEIZURE 3     /* value: alternating bits counted (seizure_min_bits) */
#define FSK_EVENT_MARK 4        /* value: mark bits counted; extra: mark frequency in Hz.
                                 * Repeated every mark_min_bits while marks go on. */
#define FSK_EVENT_BYTE 5        /* value: the byte 0..255; extra: FSK_FRAMING_ERROR or 0 */

#define FSK_FRAMING_ERROR 1

#define FSK_ERR_RATE (-1)
#define FSK_ERR_CONFIG (-2)
#define FSK_ERR_EVENTS (-3)

#define FSK_LPF_SECTIONS 2
#define FSK_HISTORY 16

typedef struct {
    int64_t position; /* sample where the event was decided */
    int32_t channel;  /* index in a batch call; 0 from fsk_rx_process */
    int32_t kind;     /* FSK_EVENT_* */
    int32_t value;
    int32_t extra;
} fsk_event_t;

typedef struct {
    int32_t rate;             /* samples per second; only 8000 */
    double min_level_dbm0;    /* carrier on at this in-band level, off 3 dB below */
    int32_t seizure_min_bits; /* alternating bits before FSK_EVENT_SEIZURE, >= 8 */
    int32_t mark_min_bits;    /* mark bits before FSK_EVENT_MARK and data, >= 8 */
} fsk_rx_config_t;

typedef struct fsk_rx_state_s {
    fsk_rx_config_t config;
    double hpf_b[3];          /* high-pass at 300 Hz (hum, ringing), direct form II T */
    double hpf_a[2];
    double hpf[2];
    int32_t mix_index;        /* mixer: position in its 80-sample period */
    /* Low-pass biquads (direct form II transposed), one set each for I and Q */
    double lpf_b[FSK_LPF_SECTIONS][3];
    double lpf_a[FSK_LPF_SECTIONS][2];
    double lpf_i[FSK_LPF_SECTIONS][2];
    double lpf_q[FSK_LPF_SECTIONS][2];
    double z_re[2];           /* baseband, the last two samples */
    double z_im[2];
    /* Carrier */
    double power;             /* smoothed in-band power (carrier on) */
    double fast_power;        /* the same, faster (carrier off) */
    double carrier_power;     /* the carrier's level while it lasts */
    double power_on;
    double power_off;
    int32_t carrier;
    /* Discriminator history and bit clock */
    double soft[FSK_HISTORY]; /* normalised discriminator, ring indexed by position */
    double prev_soft;
    double last_fall;         /* time of the last mark-to-space transition */
    double bit_center;        /* sample time of the next bit's centre */
    double samples_per_bit;
    int32_t phase;            /* 0 idle, 1 hunt, 2 data */
    int32_t prev_bit;
    int32_t alt_run;
    int32_t mark_run;
    double mark_re;           /* phase-advance sums over the current mark run */
    double mark_im;
    double mark_pow;          /* in-band power summed over the same samples */
    /* Asynchronous character */
    int32_t uart_bits;        /* -1 waiting for a start bit, 0 start bit due, 1..8 data, 9 stop */
    int32_t uart_byte;
    int64_t position;         /* samples consumed since init/reset */
} fsk_rx_state_t;

/* Fills config with the defaults (8000, -48 dBm0, 40 seizure bits, 40 mark bits). */
void fsk_rx_config_default(fsk_rx_config_t *config);
/* Validates config and starts the stream at sample 0. Returns 0 or FSK_ERR_*. */
int fsk_rx_init(fsk_rx_state_t *s, const fsk_rx_config_t *config);
/* Forgets all audio: the next sample is sample 0 of a new stream. */
void fsk_rx_reset(fsk_rx_state_t *s);
/* Feeds n samples; writes up to max_events events in time order and returns how many, or
 * FSK_ERR_EVENTS if more did not fit (the audio is consumed all the same). */
int fsk_rx_process(fsk_rx_state_t *s, const int16_t *samples, size_t n, fsk_event_t *events,
                   size_t max_events);
/* One frame for each of `channels` receivers: samples is channels x frame, row-major.
 * Events carry their channel index. Returns the event count or FSK_ERR_EVENTS. */
int fsk_rx_process_batch(fsk_rx_state_t *states, size_t channels, const int16_t *samples,
                         size_t frame, fsk_event_t *events, size_t max_events);

typedef struct {
    int32_t rate;             /* only 8000 */
    double baud;              /* 1200 for both standards; 600 .. 2400 accepted */
    double mark_hz;           /* 1300 V.23, 1200 Bell 202; 0 < f < rate / 2 */
    double space_hz;          /* 2100 V.23, 2200 Bell 202 */
    double mark_level_dbm0;   /* -90 .. +3 */
    double space_level_dbm0;
} fsk_tx_config_t;

typedef struct fsk_tx_state_s {
    fsk_tx_config_t config;
    double phase_re;          /* current phasor, continuous across bits and calls */
    double phase_im;
    double mark_re;           /* per-sample rotations */
    double mark_im;
    double space_re;
    double space_im;
    double mark_amp;
    double space_amp;
    double bit_time;          /* samples left in the current bit (fractional) */
} fsk_tx_state_t;

/* Fills config for FSK_V23 or FSK_BELL202 at level_dbm0 (no twist, no offset).
 * Returns 0 or FSK_ERR_CONFIG for an unknown standard. */
int fsk_tx_config_standard(fsk_tx_config_t *config, int standard, double level_dbm0);
/* Validates config; the phasor starts at phase 0. Returns 0 or FSK_ERR_*. */
int fsk_tx_init(fsk_tx_state_t *s, const fsk_tx_config_t *config);
void fsk_tx_reset(fsk_tx_state_t *s);
/* Samples needed for n_bits bits from a fresh state: ceil(n_bits * rate / baud). */
size_t fsk_tx_samples(const fsk_tx_config_t *config, size_t n_bits);
/* Modulates n_bits bits (each 0 = space or 1 = mark) into out, which holds max_out
 * samples. Returns the samples written, or FSK_ERR_EVENTS if out is too small. The bits
 * of the next call continue the same phase and bit grid. */
int fsk_tx_process(fsk_tx_state_t *s, const uint8_t *bits, size_t n_bits, int16_t *out,
                   size_t max_out);
/* One frame of a constant bit per channel (the idle mark, or a test pattern):
 * bits[c] for channel c, out is channels x frame. */
void fsk_tx_process_batch(fsk_tx_state_t *states, size_t channels, const uint8_t *bits,
                          int16_t *out, size_t frame);

#endif
