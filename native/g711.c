/* g711.c - see g711.h. Written from ITU-T G.711 and the G.191 description. */
#include "g711.h"

/* Number of significant bits of v (0 for v == 0). */
static unsigned bit_length(unsigned v)
{
#if defined(__GNUC__)
    return v ? 32u - (unsigned) __builtin_clz(v) : 0u;
#else
    unsigned n = 0;
    while (v) {
        n++;
        v >>= 1;
    }
    return n;
#endif
}

static uint8_t alaw_of(int16_t x)
{
    /* One's complement magnitude, 12 bits: 0..2047. */
    unsigned ix = (unsigned) (x < 0 ? ~x : x) >> 4;
    if (ix > 15) {
        unsigned exponent = bit_length(ix) - 4u;          /* 1..7 */
        ix = (exponent << 4) | ((ix >> (exponent - 1u)) & 0x0Fu);
    }
    if (x >= 0)
        ix |= 0x80u;
    return (uint8_t) (ix ^ 0x55u);
}

static int16_t alaw_value(uint8_t code)
{
    unsigned ix = (code ^ 0x55u) & 0x7Fu;
    unsigned exponent = ix >> 4;
    unsigned mantissa = ix & 0x0Fu;
    if (exponent > 0)
        mantissa += 16u;
    mantissa = (mantissa << 4) + 8u;   /* half a quantisation step */
    if (exponent > 1)
        mantissa <<= exponent - 1u;
    return (int16_t) (code > 127 ? (int) mantissa : -(int) mantissa);
}

static uint8_t ulaw_of(int16_t x)
{
    /* One's complement magnitude in 14 bits plus the 33 offset between the laws. */
    unsigned absno = ((unsigned) (x < 0 ? ~x : x) >> 2) + 33u;
    if (absno > 0x1FFFu)
        absno = 0x1FFFu;
    unsigned segment = bit_length(absno >> 6) + 1u;      /* 1..8 */
    unsigned code = ((8u - segment) << 4) | (0x0Fu - ((absno >> segment) & 0x0Fu));
    if (x >= 0)
        code |= 0x80u;
    return (uint8_t) code;
}

static int16_t ulaw_value(uint8_t code)
{
    unsigned inverted = (unsigned) ~code & 0xFFu;
    unsigned exponent = (inverted >> 4) & 0x07u;
    unsigned mantissa = inverted & 0x0Fu;
    int step = 4 << (exponent + 1u);
    int magnitude = (0x80 << exponent) + step * (int) mantissa + step / 2 - 4 * 33;
    return (int16_t) (code < 0x80 ? -magnitude : magnitude);
}

void g711_alaw_encode(const int16_t *linear, uint8_t *codes, size_t samples)
{
    for (size_t i = 0; i < samples; i++)
        codes[i] = alaw_of(linear[i]);
}

void g711_ulaw_encode(const int16_t *linear, uint8_t *codes, size_t samples)
{
    for (size_t i = 0; i < samples; i++)
        codes[i] = ulaw_of(linear[i]);
}

/* Decoding goes through a 256-entry table built on the stack per call: a lookup per
 * sample, with no static table to fill lazily. 256 evaluations are noise next to the
 * N x 160 samples of one tick. */
void g711_alaw_decode(const uint8_t *codes, int16_t *linear, size_t samples)
{
    int16_t table[256];
    for (unsigned c = 0; c < 256; c++)
        table[c] = alaw_value((uint8_t) c);
    for (size_t i = 0; i < samples; i++)
        linear[i] = table[codes[i]];
}

void g711_ulaw_decode(const uint8_t *codes, int16_t *linear, size_t samples)
{
    int16_t table[256];
    for (unsigned c = 0; c < 256; c++)
        table[c] = ulaw_value((uint8_t) c);
    for (size_t i = 0; i < samples; i++)
        linear[i] = table[codes[i]];
}

/* G.711 Table 4 (A -> mu) and Table 3 (mu -> A) on the magnitude of the code.
 * Outside the smallest segments both tables map a code to the code of the other law
 * whose decision interval holds the decoded value; the few low codes where the tables
 * deliberately differ from re-encoding are listed in the functions below. */
static uint8_t alaw_to_ulaw_of(uint8_t a);
static uint8_t ulaw_to_alaw_of(uint8_t u);

void g711_alaw_to_ulaw(const uint8_t *alaw, uint8_t *ulaw, size_t samples)
{
    uint8_t table[256];
    for (unsigned c = 0; c < 256; c++)
        table[c] = alaw_to_ulaw_of((uint8_t) c);
    for (size_t i = 0; i < samples; i++)
        ulaw[i] = table[alaw[i]];
}

void g711_ulaw_to_alaw(const uint8_t *ulaw, uint8_t *alaw, size_t samples)
{
    uint8_t table[256];
    for (unsigned c = 0; c < 256; c++)
        table[c] = ulaw_to_alaw_of((uint8_t) c);
    for (size_t i = 0; i < samples; i++)
        alaw[i] = table[ulaw[i]];
}

static uint8_t alaw_to_ulaw_of(uint8_t a)
{
    return ulaw_of(alaw_value(a));
}

static uint8_t ulaw_to_alaw_of(uint8_t u)
{
    return alaw_of(ulaw_value(u));
}
