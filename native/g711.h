/* g711.h - ITU-T G.711 A-law and mu-law companding.
 *
 * Bit-exact with the ITU-T G.191 software tools (STL g711.c) on 16-bit linear PCM:
 *   - A-law uses the 13 most significant bits of the input (input >> 3 in G.711's
 *     12-bit-plus-sign scale); mu-law uses the 14 most significant bits.
 *   - Negative inputs are taken as their one's complement before quantising, as G.191
 *     does; this is why -1 encodes as the smallest negative code, not as zero.
 *   - Decoded values sit in the middle of the quantisation interval and are returned
 *     left-justified in 16 bits (A-law peak +-32256, mu-law peak +-32124).
 * Transcoding follows G.711 Tables 3 (mu -> A) and 4 (A -> mu), which are not the same as
 * decoding and re-encoding (see g711.c); the sign is kept, negative zero included.
 *
 * G.711 is stateless, so this module has no state struct; every function is a block
 * function: const input, caller's output, length in samples. Safe from any thread.
 * A full-scale sine (+3.14 dBm0 for A-law, +3.17 dBm0 for mu-law) has peak 32767.
 */
#ifndef APPLIANCE_G711_H
#define APPLIANCE_G711_H

#include <stddef.h>
#include <stdint.h>

void g711_alaw_encode(const int16_t *linear, uint8_t *codes, size_t samples);
void g711_alaw_decode(const uint8_t *codes, int16_t *linear, size_t samples);
void g711_ulaw_encode(const int16_t *linear, uint8_t *codes, size_t samples);
void g711_ulaw_decode(const uint8_t *codes, int16_t *linear, size_t samples);
void g711_alaw_to_ulaw(const uint8_t *alaw, uint8_t *ulaw, size_t samples);
void g711_ulaw_to_alaw(const uint8_t *ulaw, uint8_t *alaw, size_t samples);

#endif
