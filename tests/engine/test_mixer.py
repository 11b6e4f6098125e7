"""ConferenceMixer: N-1 mixing, listen-only and whisper, many conferences, membership changes.

Every mix is checked against a naive reference written independently of the mixer: for each
member, the sum over the other members it hears, in Python ints, then saturated to int16.
"""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from appliance.engine.mixer import ConferenceMixer, Mix, Mode

SAMPLES = 160  # one 20 ms tick at 8 kHz


def reference(linear, conferences):
    """{party: int16 ear audio} from {conf: {party: (mode, to)}}, one member at a time."""
    ears = {}
    for members in conferences.values():
        for listener in members:
            total = np.zeros(linear.shape[1], dtype=object)
            for talker, (mode, to) in members.items():
                if talker == listener:
                    continue
                if mode == "talk" or (mode == "whisper" and to == listener):
                    total = total + linear[talker].astype(object)
            ears[listener] = np.array(
                [max(-32768, min(32767, int(v))) for v in total], dtype=np.int16)
    return ears


def as_dict(mix: Mix):
    assert mix.audio.dtype == np.int16
    assert mix.audio.shape == (mix.rows.size, SAMPLES)
    assert np.all(np.diff(mix.rows) > 0)
    return {int(p): a for p, a in zip(mix.rows, mix.audio)}


def assert_matches(mixer, linear, conferences):
    got = as_dict(mixer.mix(linear))
    want = reference(linear, conferences)
    assert sorted(got) == sorted(want)
    for party in want:
        np.testing.assert_array_equal(got[party], want[party], err_msg=f"party {party}")


def random_tick(rng, parties):
    return rng.integers(-32768, 32768, size=(parties, SAMPLES), dtype=np.int16)


# ------------------------------------------------------------------ three-way call

def test_three_party_each_hears_the_other_two_exactly():
    rng = np.random.default_rng(1)
    linear = rng.integers(-10000, 10000, size=(5, SAMPLES), dtype=np.int16)
    mixer = ConferenceMixer()
    for party in (4, 0, 2):
        mixer.join("call", party)
    mix = mixer.mix(linear)
    np.testing.assert_array_equal(mix.rows, [0, 2, 4])
    ears = as_dict(mix)
    wide = linear.astype(np.int32)
    np.testing.assert_array_equal(ears[0], wide[2] + wide[4])
    np.testing.assert_array_equal(ears[2], wide[0] + wide[4])
    np.testing.assert_array_equal(ears[4], wide[0] + wide[2])


def test_full_scale_saturates_instead_of_wrapping():
    linear = np.zeros((3, SAMPLES), dtype=np.int16)
    linear[:, 0::2] = 32767
    linear[:, 1::2] = -32768
    mixer = ConferenceMixer()
    for party in range(3):
        mixer.join(1, party)
    ears = as_dict(mixer.mix(linear))
    for party in range(3):
        assert np.all(ears[party][0::2] == 32767)
        assert np.all(ears[party][1::2] == -32768)
    # one loud, one opposite: the sum cancels exactly, nothing clipped on the way
    linear[0], linear[1] = 32767, -32767
    linear[2] = 5
    ears = as_dict(mixer.mix(linear))
    assert np.all(ears[2] == 0)
    assert np.all(ears[0] == -32762) and np.all(ears[1] == 32767)


def test_a_party_never_hears_itself():
    linear = np.zeros((4, SAMPLES), dtype=np.int16)
    linear[3] = 1234  # only party 3 speaks
    mixer = ConferenceMixer()
    for party in (1, 3):
        mixer.join("c", party)
    ears = as_dict(mixer.mix(linear))
    assert np.all(ears[3] == 0)
    assert np.all(ears[1] == 1234)


def test_a_member_alone_hears_silence():
    linear = np.full((2, SAMPLES), 999, dtype=np.int16)
    mixer = ConferenceMixer()
    mixer.join("c", 1)
    ears = as_dict(mixer.mix(linear))
    assert list(ears) == [1] and np.all(ears[1] == 0)


# ------------------------------------------------------------------ supervisor modes

def test_listen_only_hears_all_and_is_heard_by_none():
    linear = np.zeros((4, SAMPLES), dtype=np.int16)
    linear[0], linear[1], linear[3] = 100, 20, 7000  # 3 is the supervisor
    mixer = ConferenceMixer()
    mixer.join("c", 0)
    mixer.join("c", 1)
    mixer.join("c", 3, mode="listen")
    ears = as_dict(mixer.mix(linear))
    assert np.all(ears[0] == 20) and np.all(ears[1] == 100)
    assert np.all(ears[3] == 120)
    assert mixer.members("c")[3] == (Mode.LISTEN, None)


def test_whisper_heard_by_the_agent_only():
    linear = np.zeros((3, SAMPLES), dtype=np.int16)
    linear[0], linear[1], linear[2] = 100, 20, 3  # caller, agent, supervisor
    mixer = ConferenceMixer()
    mixer.join("c", 0)
    mixer.join("c", 1)
    mixer.join("c", 2, mode=Mode.WHISPER, to=1)
    ears = as_dict(mixer.mix(linear))
    assert np.all(ears[0] == 20)  # the caller does not hear the supervisor
    assert np.all(ears[1] == 103)  # the agent hears caller + supervisor
    assert np.all(ears[2] == 120)  # the supervisor hears both


def test_supervisor_monitor_whisper_barge_in():
    linear = np.zeros((3, SAMPLES), dtype=np.int16)
    linear[0], linear[1], linear[2] = 100, 20, 3
    mixer = ConferenceMixer()
    mixer.join("c", 0)
    mixer.join("c", 1)
    mixer.join("c", 2, "listen")
    assert [int(as_dict(mixer.mix(linear))[p][0]) for p in range(3)] == [20, 100, 120]
    mixer.join("c", 2, "whisper", to=1)
    assert [int(as_dict(mixer.mix(linear))[p][0]) for p in range(3)] == [20, 103, 120]
    mixer.join("c", 2, "talk")  # barge-in: a three-way call
    assert [int(as_dict(mixer.mix(linear))[p][0]) for p in range(3)] == [23, 103, 120]


def test_whisperer_falls_back_to_listen_when_the_agent_leaves():
    linear = np.zeros((4, SAMPLES), dtype=np.int16)
    linear[0], linear[1], linear[2], linear[3] = 100, 20, 3, 4000
    mixer = ConferenceMixer()
    for party in (0, 1, 3):
        mixer.join("c", party)
    mixer.join("c", 2, "whisper", to=1)
    mixer.leave(1)
    assert mixer.members("c")[2] == (Mode.LISTEN, None)
    ears = as_dict(mixer.mix(linear))
    assert np.all(ears[0] == 4000) and np.all(ears[3] == 100) and np.all(ears[2] == 4100)


# ------------------------------------------------------------------ many conferences

def test_many_conferences_at_once_equal_each_mixed_alone():
    rng = np.random.default_rng(7)
    linear = random_tick(rng, 130)
    parties = rng.permutation(130)[:120]
    mixer = ConferenceMixer()
    conferences = {}
    for k in range(40):
        trio = [int(p) for p in parties[3 * k:3 * k + 3]]
        conferences[k] = {p: ("talk", None) for p in trio}
        for p in trio:
            mixer.join(k, p)
    together = as_dict(mixer.mix(linear))
    assert len(together) == 120
    for k, members in conferences.items():
        alone = ConferenceMixer()
        for p in members:
            alone.join(k, p)
        for p, audio in as_dict(alone.mix(linear)).items():
            np.testing.assert_array_equal(together[p], audio)
    assert_matches(mixer, linear, conferences)


def test_conference_without_talkers_between_others():
    rng = np.random.default_rng(3)
    linear = random_tick(rng, 8)
    mixer = ConferenceMixer()
    conferences = {"a": {0: ("talk", None), 1: ("talk", None)},
                   "quiet": {2: ("listen", None)},
                   "b": {3: ("talk", None), 5: ("listen", None), 6: ("talk", None)}}
    for conf, members in conferences.items():
        for p, (mode, to) in members.items():
            mixer.join(conf, p, mode, to)
    assert_matches(mixer, linear, conferences)


def test_joins_and_leaves_between_ticks():
    rng = np.random.default_rng(11)
    mixer = ConferenceMixer()
    conferences = {}

    def join(conf, party, mode="talk", to=None):
        mixer.join(conf, party, mode, to)
        conferences.setdefault(conf, {})[party] = (mode, to)

    def leave(party):
        mixer.leave(party)
        for conf, members in list(conferences.items()):
            members.pop(party, None)
            if not members:
                del conferences[conf]

    join("a", 0)
    join("a", 1)
    assert_matches(mixer, random_tick(rng, 10), conferences)
    join("a", 2)  # three-way
    join("b", 5)
    join("b", 6)
    assert_matches(mixer, random_tick(rng, 10), conferences)
    leave(0)
    join("b", 0, "listen")
    assert_matches(mixer, random_tick(rng, 10), conferences)
    mixer.end("a")
    del conferences["a"]
    assert mixer.conference_of(1) is None and mixer.conferences == ["b"]
    assert_matches(mixer, random_tick(rng, 10), conferences)
    leave(5)
    leave(6)
    leave(0)
    mix = mixer.mix(random_tick(rng, 10))
    assert mix.rows.size == 0 and mix.audio.shape == (0, SAMPLES)


# ------------------------------------------------------------------ errors

def test_bad_membership_is_refused_with_a_clear_message():
    mixer = ConferenceMixer()
    mixer.join("a", 0)
    with pytest.raises(ValueError, match="already in conference 'a'"):
        mixer.join("b", 0)
    with pytest.raises(ValueError, match="mode must be one of"):
        mixer.join("a", 1, mode="shout")
    with pytest.raises(ValueError, match="whisper needs `to`"):
        mixer.join("a", 1, mode="whisper")
    with pytest.raises(ValueError, match="not a member of conference 'a'"):
        mixer.join("a", 1, mode="whisper", to=9)
    with pytest.raises(ValueError, match="cannot whisper to itself"):
        mixer.join("a", 0, mode="whisper", to=0)
    with pytest.raises(ValueError, match="only for whisper"):
        mixer.join("a", 1, to=0)
    with pytest.raises(ValueError, match="row index >= 0"):
        mixer.join("a", -1)
    with pytest.raises(TypeError, match="row index"):
        mixer.join("a", 1.0)
    with pytest.raises(ValueError, match="in no conference"):
        mixer.leave(7)
    with pytest.raises(ValueError, match="no conference 'z'"):
        mixer.end("z")
    mixer.join("a", 4)
    with pytest.raises(ValueError, match="party 4 .* only 3 rows"):
        mixer.mix(np.zeros((3, SAMPLES), dtype=np.int16))
    with pytest.raises(TypeError, match="int16"):
        mixer.mix(np.zeros((5, SAMPLES), dtype=np.int32))
    assert mixer.members("a") == {0: (Mode.TALK, None), 4: (Mode.TALK, None)}


# ------------------------------------------------------------------ property

@st.composite
def memberships(draw):
    parties = draw(st.integers(1, 24))
    rows = draw(st.permutations(range(parties)))
    used = draw(st.integers(0, parties))
    conferences = {}
    for party in rows[:used]:
        conf = draw(st.integers(0, 4))
        members = conferences.setdefault(conf, {})
        mode = draw(st.sampled_from(["talk", "talk", "listen", "whisper"]))
        if mode == "whisper" and members:
            to = draw(st.sampled_from(sorted(members)))
            members[party] = ("whisper", to)
        else:
            members[party] = ("listen" if mode == "whisper" else mode, None)
    return parties, conferences


@settings(max_examples=200, deadline=None)
@given(memberships(), st.integers(0, 2**32 - 1), st.sampled_from([1000, 20000, 32768]))
def test_mix_equals_naive_reference_over_random_memberships(membership, seed, scale):
    parties, conferences = membership
    rng = np.random.default_rng(seed)
    linear = rng.integers(-scale, scale, size=(parties, SAMPLES)).astype(np.int16)
    mixer = ConferenceMixer()
    for conf, members in conferences.items():
        for party, (mode, to) in members.items():
            mixer.join(conf, party, mode, to)
    assert_matches(mixer, linear, conferences)
    # the same membership built in reverse order mixes the same (no hidden order dependence)
    again = ConferenceMixer()
    for conf, members in reversed(list(conferences.items())):
        for party, (mode, to) in members.items():
            if mode != "whisper":
                again.join(conf, party, mode, to)
        for party, (mode, to) in members.items():
            if mode == "whisper":
                again.join(conf, party, mode, to)
    first, second = mixer.mix(linear), again.mix(linear)
    np.testing.assert_array_equal(first.rows, second.rows)
    np.testing.assert_array_equal(first.audio, second.audio)
