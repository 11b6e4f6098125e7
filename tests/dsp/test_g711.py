"""ITU-T G.711 coding, checked code by code against G.191 and G.711's own tables.

The references are written from the texts, not from native/g711.c:
  - G.191 (tests/g191.py, after the STL g711 module): A-law takes the 12-bit magnitude ix = x >> 4 of x, or of
    its one's complement ~x when x < 0; segment 0 for ix <= 15, otherwise halve ix until
    it is at most 31, counting the halvings, and drop its leading one. mu-law takes
    absno = (x >> 2) + 33 (one's complement again for x < 0), at most 0x1FFF; its segment
    is one more than the bit length of absno >> 6, the mantissa the four bits after the
    leading one, and the code the complement of both. Decoding returns the middle of the
    quantisation interval, left-justified in 16 bits.
  - G.711 Tables 1 and 2 give the decoder output values (A-law: 1..4032 units,
    mu-law: 0..8031 units); G.191's 16-bit output is those times 8 and 4.
  - G.711 Tables 3 and 4 (mu -> A, A -> mu): each code goes to the code of the other law
    whose decoder output value is nearest at the same absolute level, the scale being
    fixed by the laws' load capacities (A-law 4096 units at +3.14 dBm0, mu-law 8159 units
    at +3.17 dBm0); the sign is kept.
Cross-checks: spandsp (bit-exact for A-law and mu-law decoding; its mu-law encoder is
not) and CPython's audioop (bit-exact for A-law and decoding; not for mu-law encoding).
"""

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import spandsp
from appliance.dsp import g711
from g191 import (ALL_CODES, ALL_LINEAR, g191_ulaw_code_of_absno, g191_ulaw_compress,
                  reference)

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop  # deprecated since 3.11, gone in 3.13 (the audioop-lts port replaces it)

# --- G.711's own numbering: magnitude index 0..127 (0 = smallest), Tables 1 to 4 -----

def alaw_magnitude(code):
    return (code ^ 0x55) & 0x7F


def ulaw_magnitude(code):
    return 0x7F - (code & 0x7F)


def g711_alaw_output(magnitude):
    """Table 1: decoder output value, units of 1/4096 of the load capacity."""
    segment, step = magnitude >> 4, magnitude & 0x0F
    return 2 * step + 1 if segment == 0 else (2 * step + 33) << (segment - 1)


def g711_ulaw_output(magnitude):
    """Table 2: decoder output value, units of 1/8159 of the load capacity."""
    segment, step = magnitude >> 4, magnitude & 0x0F
    return ((2 * step + 33) << segment) - 33


def g711_tables():
    """Tables 4 (A -> mu) and 3 (mu -> A) as uint8[256] indexed by the code sent."""
    # One mu-law unit in A-law units: the same dBm0 at each law's load capacity.
    mu_to_a = 4096 * 10 ** (-3.14 / 20) / (8159 * 10 ** (-3.17 / 20))
    a_out = np.array([g711_alaw_output(m) for m in range(128)], dtype=float)
    u_out = np.array([g711_ulaw_output(m) for m in range(128)], dtype=float) * mu_to_a
    a_to_u = [int(np.argmin(np.abs(u_out - a_out[m]))) for m in range(128)]
    u_to_a = [int(np.argmin(np.abs(a_out - u_out[m]))) for m in range(128)]
    table4 = [(0x7F - a_to_u[alaw_magnitude(c)]) | (c & 0x80) for c in range(256)]
    table3 = [(u_to_a[ulaw_magnitude(c)] | (c & 0x80)) ^ 0x55 for c in range(256)]
    return np.array(table4, dtype=np.uint8), np.array(table3, dtype=np.uint8)


# --- encode and decode over every input ----------------------------------------------

@pytest.mark.parametrize("law", ["alaw", "ulaw"])
def test_g191_encoding_of_all_65536_linear_inputs(law):
    ours = g711.ENCODERS[law](ALL_LINEAR)
    expected = reference()[f"{law}_encode"]
    mismatched = ALL_LINEAR[ours != expected]
    assert mismatched.size == 0, f"{mismatched.size} inputs differ, first {mismatched[:8]}"


@pytest.mark.parametrize("law", ["alaw", "ulaw"])
def test_g191_decoding_of_all_256_codes(law):
    np.testing.assert_array_equal(g711.DECODERS[law](ALL_CODES), reference()[f"{law}_decode"])


def test_decoder_outputs_are_g711_tables_1_and_2():
    a = [g711_alaw_output(alaw_magnitude(c)) * 8 * (1 if c & 0x80 else -1) for c in range(256)]
    u = [g711_ulaw_output(ulaw_magnitude(c)) * 4 * (1 if c & 0x80 else -1) for c in range(256)]
    np.testing.assert_array_equal(g711.alaw_decode(ALL_CODES), a)
    np.testing.assert_array_equal(g711.ulaw_decode(ALL_CODES), u)


@pytest.mark.parametrize("law", ["alaw", "ulaw"])
def test_each_code_is_the_encoding_of_its_own_decoder_output(law):
    decoded = g711.DECODERS[law](ALL_CODES)
    recoded = g711.ENCODERS[law](decoded)
    # Every code comes back, except that mu-law's two zeros (0x7F = -0, 0xFF = +0)
    # both decode to 0, which encodes as +0.
    differs = ALL_CODES[recoded != ALL_CODES]
    assert differs.tolist() == ([0x7F] if law == "ulaw" else [])


@pytest.mark.parametrize("law", ["alaw", "ulaw"])
def test_negative_inputs_use_the_ones_complement(law):
    # G.191: -1 is the one's complement of 0, so it is the smallest negative code.
    codes = g711.ENCODERS[law](np.array([0, -1, 32767, -32768], dtype=np.int16))
    if law == "alaw":
        assert codes.tolist() == [0xD5, 0x55, 0xAA, 0x2A]
    else:
        assert codes.tolist() == [0xFF, 0x7F, 0x80, 0x00]


# --- cross-checks with spandsp and audioop --------------------------------------------

def ulaw_disagreement(magnitude_of_negative):
    """Negative inputs where a mu-law encoder that takes `magnitude_of_negative(x)`
    (in place of G.191's one's complement (-x - 1) >> 2) lands on another code."""
    out = []
    for x in range(-32768, 0):
        theirs = g191_ulaw_code_of_absno(min(magnitude_of_negative(x) + 33, 0x1FFF), True)
        if theirs != g191_ulaw_compress(x):
            out.append(x)
    return np.array(out, dtype=np.int16)


def test_spandsp_agrees_on_alaw_and_ulaw_decoding():
    spandsp.require()
    np.testing.assert_array_equal(spandsp.alaw_encode(ALL_LINEAR), g711.alaw_encode(ALL_LINEAR))
    np.testing.assert_array_equal(spandsp.alaw_decode(ALL_CODES), g711.alaw_decode(ALL_CODES))
    np.testing.assert_array_equal(spandsp.ulaw_decode(ALL_CODES), g711.ulaw_decode(ALL_CODES))
    for law in ("alaw", "ulaw"):  # its block API is the same coder
        coder = spandsp.BlockCoder(law)
        np.testing.assert_array_equal(coder.decode(ALL_CODES), g711.DECODERS[law](ALL_CODES))
    np.testing.assert_array_equal(spandsp.BlockCoder("alaw").encode(ALL_LINEAR),
                                  g711.alaw_encode(ALL_LINEAR))


def test_spandsp_ulaw_encoder_differs_from_g191_at_127_negative_thresholds():
    # spandsp quantises |x| >> 2 where G.191 quantises the one's complement (|x| - 1) >> 2:
    # the two differ only when |x| is a multiple of 4 sitting exactly on one of the 127
    # decision thresholds between the 128 magnitudes; there spandsp picks the code one
    # step further from zero.
    spandsp.require()
    theirs = spandsp.ulaw_encode(ALL_LINEAR)
    ours = g711.ulaw_encode(ALL_LINEAR)
    differing = ALL_LINEAR[theirs != ours]
    assert differing.size == 127
    assert (differing < 0).all() and (differing % 4 == 0).all()
    assert differing.min() == -31612 and differing.max() == -4
    np.testing.assert_array_equal(differing, ulaw_disagreement(lambda x: (-x) >> 2))
    mask = theirs != ours
    assert (ulaw_magnitude(theirs[mask]) == ulaw_magnitude(ours[mask]) + 1).all()


def test_audioop_agrees_on_alaw_and_on_decoding():
    linear = ALL_LINEAR.tobytes()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        alaw = np.frombuffer(audioop.lin2alaw(linear, 2), dtype=np.uint8)
        alaw_back = np.frombuffer(audioop.alaw2lin(ALL_CODES.tobytes(), 2), dtype=np.int16)
        ulaw_back = np.frombuffer(audioop.ulaw2lin(ALL_CODES.tobytes(), 2), dtype=np.int16)
    np.testing.assert_array_equal(alaw, g711.alaw_encode(ALL_LINEAR))
    np.testing.assert_array_equal(alaw_back, g711.alaw_decode(ALL_CODES))
    np.testing.assert_array_equal(ulaw_back, g711.ulaw_decode(ALL_CODES))


def test_audioop_ulaw_encoder_differs_from_g191_on_508_negative_inputs():
    # audioop shifts first (x >> 2 rounds toward minus infinity) and then negates, so it
    # quantises ceil(|x| / 4) where G.191 quantises (|x| - 1) >> 2: one more, for every
    # negative x. That changes the code only where the G.191 value sits just below one of
    # the 127 decision thresholds: 4 inputs per threshold, 508 in all, each given the
    # code one step further from zero.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        theirs = np.frombuffer(audioop.lin2ulaw(ALL_LINEAR.tobytes(), 2), dtype=np.uint8)
    ours = g711.ulaw_encode(ALL_LINEAR)
    differing = ALL_LINEAR[theirs != ours]
    assert differing.size == 508 == 4 * 127
    assert differing.min() == -31612 and differing.max() == -1
    np.testing.assert_array_equal(differing, ulaw_disagreement(lambda x: -(x >> 2)))
    mask = theirs != ours
    assert (ulaw_magnitude(theirs[mask]) == ulaw_magnitude(ours[mask]) + 1).all()


# --- transcoding: G.711 Tables 3 and 4 ---------------------------------------------

def test_alaw_to_ulaw_is_g711_table_4():
    table4, _ = g711_tables()
    np.testing.assert_array_equal(g711.alaw_to_ulaw(ALL_CODES), table4)


def test_ulaw_to_alaw_is_g711_table_3():
    _, table3 = g711_tables()
    np.testing.assert_array_equal(g711.ulaw_to_alaw(ALL_CODES), table3)


def test_spandsp_transcoding_tables_agree():
    spandsp.require()
    a_to_u, u_to_a = spandsp.transcode_tables()
    np.testing.assert_array_equal(g711.alaw_to_ulaw(ALL_CODES), a_to_u)
    np.testing.assert_array_equal(g711.ulaw_to_alaw(ALL_CODES), u_to_a)


def test_transcoding_is_not_decode_and_reencode():
    # Re-encoding G.191's 16-bit decoder output (which takes one A-law unit for two mu-law
    # units) misses the tables on A-law magnitudes 80..95 and mu-law magnitudes 48, 49, 64
    # and 81..95, both signs, and on negative mu-law codes of even magnitude 0..14, whose
    # one's complement falls into the A-law interval below (-0 would even turn positive).
    reencoded_u = g711.ulaw_encode(g711.alaw_decode(ALL_CODES))
    reencoded_a = g711.alaw_encode(g711.ulaw_decode(ALL_CODES))
    a_differ = ALL_CODES[g711.alaw_to_ulaw(ALL_CODES) != reencoded_u]
    u_differ = ALL_CODES[g711.ulaw_to_alaw(ALL_CODES) != reencoded_a]
    assert sorted({int(alaw_magnitude(c)) for c in a_differ}) == list(range(80, 96))
    assert a_differ.size == 2 * 16
    u_magnitudes = [48, 49, 64, *range(81, 96)]
    assert sorted(int(ulaw_magnitude(c)) for c in u_differ if c & 0x80) == u_magnitudes
    assert sorted(int(ulaw_magnitude(c)) for c in u_differ if not c & 0x80) == sorted(
        [*range(0, 16, 2), *u_magnitudes])
    assert g711.ulaw_to_alaw(np.array([0x7F, 0xFF], dtype=np.uint8)).tolist() == [0x55, 0xD5]


def test_transcoding_keeps_sign_and_order():
    for convert, source_mag, target_mag in (
        (g711.alaw_to_ulaw, alaw_magnitude, ulaw_magnitude),
        (g711.ulaw_to_alaw, ulaw_magnitude, alaw_magnitude),
    ):
        out = convert(ALL_CODES)
        assert ((out & 0x80) == (ALL_CODES & 0x80)).all()
        positive = sorted(range(128, 256), key=source_mag)
        assert np.all(np.diff(target_mag(out[positive]).astype(int)) >= 0)


def test_alaw_to_ulaw_to_alaw_returns_all_but_the_merged_codes():
    # Table 4 maps pairs of A-law magnitudes onto one mu-law magnitude where mu-law's
    # steps are coarser; every other A-law code survives the round trip.
    back = g711.ulaw_to_alaw(g711.alaw_to_ulaw(ALL_CODES))
    merged = len(ALL_CODES) - len(np.unique(g711.alaw_to_ulaw(ALL_CODES)))
    assert int((back != ALL_CODES).sum()) == merged


# --- properties over arrays of any shape -------------------------------------------

linear_arrays = hnp.arrays(np.int16, hnp.array_shapes(min_dims=0, max_dims=3, max_side=6))
code_arrays = hnp.arrays(np.uint8, hnp.array_shapes(min_dims=0, max_dims=3, max_side=6))


@pytest.mark.parametrize("law", ["alaw", "ulaw"])
@given(codes=code_arrays)
def test_decode_encode_decode_is_decode(law, codes):
    decode, encode = g711.DECODERS[law], g711.ENCODERS[law]
    once = decode(codes)
    np.testing.assert_array_equal(decode(encode(once)), once)


@pytest.mark.parametrize("law", ["alaw", "ulaw"])
@given(linear=linear_arrays)
def test_encoding_is_idempotent_through_decoding(law, linear):
    decode, encode = g711.DECODERS[law], g711.ENCODERS[law]
    codes = encode(linear)
    assert codes.shape == linear.shape and codes.dtype == np.uint8
    back = decode(codes)
    assert back.shape == linear.shape and back.dtype == np.int16
    # Quantising twice is quantising once: decode(encode(.)) is idempotent ...
    np.testing.assert_array_equal(decode(encode(back)), back)
    # ... and so are the codes, but for mu-law's negative zero (-1..-4 -> 0x7F), which
    # decodes to 0 and comes back as positive zero 0xFF.
    expected = np.where(codes == 0x7F, 0xFF, codes) if law == "ulaw" else codes
    np.testing.assert_array_equal(encode(back), expected)
    # Each sample is coded alone: the same as coding the flattened array.
    np.testing.assert_array_equal(codes.ravel(), encode(linear.ravel()))


@given(codes=code_arrays)
def test_transcoding_preserves_shape(codes):
    for convert in (g711.alaw_to_ulaw, g711.ulaw_to_alaw):
        out = convert(codes)
        assert out.shape == codes.shape and out.dtype == np.uint8


@given(linear=hnp.arrays(np.int16, st.integers(0, 64),
                         elements=st.integers(-32768, 32767)))
def test_non_contiguous_input_is_coded_like_a_copy(linear):
    strided = np.repeat(linear, 2)[::2]
    assert not strided.flags.c_contiguous or strided.size <= 1
    np.testing.assert_array_equal(g711.alaw_encode(strided), g711.alaw_encode(linear))


@pytest.mark.parametrize("function, dtype", [
    (g711.alaw_encode, np.uint8), (g711.ulaw_encode, np.int32),
    (g711.alaw_decode, np.int16), (g711.ulaw_to_alaw, np.int16),
])
def test_wrong_dtype_is_refused(function, dtype):
    with pytest.raises(TypeError, match="expected a"):
        function(np.zeros(4, dtype=dtype))


@pytest.mark.parametrize("law", ["alaw", "ulaw"])
def test_decoding_any_length_and_alignment(law):
    # The decoder stores four samples at a time: every start offset and remainder.
    codes = np.concatenate([ALL_CODES, ALL_CODES[::-1]])
    expected = reference()[f"{law}_decode"][codes]
    for start in range(8):
        for stop in range(codes.size - 7, codes.size + 1):
            np.testing.assert_array_equal(g711.DECODERS[law](codes[start:stop]),
                                          expected[start:stop])
