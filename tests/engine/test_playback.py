"""Playback: exact samples across clip boundaries, loops, stop, replace, finished reports,
keys that are not asked for, and random command sequences against a naive reference.

The reference keeps each key's clips concatenated with a cursor and cuts one frame at a
time in Python, so it shares no code or idea (pool, gather, clamping) with Playback.
"""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from appliance.engine.playback import FRAME, Playback


def clip(n, first=1):
    """n distinct non-zero samples (so a sample out of place or a padding 0 shows)."""
    return ((np.arange(n) % 30000) + first).astype(np.int16)


def read_only(array):
    array = array.copy()
    array.setflags(write=False)
    return array


def frames(playback, keys, count):
    """`count` ticks: the audio of each key concatenated, and every finished report."""
    audio, finished = [], []
    for _ in range(count):
        block, done = playback.frame(keys)
        audio.append(block)
        finished += done
    return np.concatenate(audio, axis=1), finished


class Reference:
    """One key at a time: its whole sequence as one array and a cursor."""

    def __init__(self):
        self.state = {}

    def play(self, key, clips, loop, tag):
        data = np.concatenate([c.copy() for c in clips]) if clips else np.zeros(0, np.int16)
        self.state[key] = [data, 0, loop, tag]

    def stop(self, key):
        return self.state.pop(key, None) is not None

    def frame(self, keys):
        out = np.zeros((len(keys), FRAME), dtype=np.int16)
        finished = []
        for row, key in enumerate(keys):
            if key not in self.state:
                continue
            data, pos, loop, tag = self.state[key]
            for i in range(FRAME):
                if loop:
                    out[row, i] = data[(pos + i) % data.size]
                elif pos + i < data.size:
                    out[row, i] = data[pos + i]
            if loop:
                self.state[key][1] = (pos + FRAME) % data.size
            elif pos + FRAME >= data.size:
                finished.append((key, tag))
                del self.state[key]
            else:
                self.state[key][1] = pos + FRAME
        return out, finished


def test_clips_play_back_to_back_and_the_tail_is_padded_with_silence():
    clips = [clip(100, 1), clip(250, 1000), clip(7, 5000), clip(0), clip(300, 9000)]
    playback = Playback()
    playback.play("a", clips, tag="menu")
    audio, finished = frames(playback, ["a"], 5)
    whole = np.concatenate(clips)  # 657 samples: 4 frames and 17 samples
    assert np.array_equal(audio[0, :whole.size], whole)
    assert not audio[0, whole.size:].any()
    assert finished == [("a", "menu")]  # once, in the frame holding the last sample


def test_finished_is_reported_in_the_frame_of_the_last_sample():
    for length, frame_of_end in [(1, 0), (159, 0), (160, 0), (161, 1), (320, 1), (321, 2)]:
        playback = Playback()
        playback.play("a", [clip(length)], tag=length)
        reports = [playback.frame(["a"])[1] for _ in range(4)]
        assert reports[frame_of_end] == [("a", length)], length
        assert sum(len(r) for r in reports) == 1
        assert not playback.playing("a") and playback.tag("a") is None


def test_empty_sequence_finishes_at_the_next_frame():
    playback = Playback()
    playback.play("a", [], tag=1)
    audio, finished = playback.frame(["a"])
    assert not audio.any() and finished == [("a", 1)]


@pytest.mark.parametrize("lengths", [[37], [160], [100, 90], [500], [3, 0, 2]])
def test_loop_repeats_the_whole_sequence(lengths):
    clips = [clip(n, 100 * i + 1) for i, n in enumerate(lengths)]
    playback = Playback()
    playback.play("moh", clips, loop=True, tag="hold")
    audio, finished = frames(playback, ["moh"], 12)
    assert np.array_equal(audio[0], np.resize(np.concatenate(clips), 12 * FRAME))
    assert finished == [] and playback.playing("moh") and playback.tag("moh") == "hold"


def test_stop_silences_at_once_and_reports_nothing():
    playback = Playback()
    playback.play("a", [clip(1000)], tag=1)
    playback.frame(["a"])
    assert playback.stop("a") is True
    assert playback.stop("a") is False and playback.stop("never") is False
    audio, finished = frames(playback, ["a"], 3)
    assert not audio.any() and finished == []
    assert not playback.playing("a") and playback.tag("a") is None


def test_play_replaces_what_the_key_played_without_reporting_it():
    playback = Playback()
    playback.play("a", [clip(1000, 1)], tag="old")
    playback.frame(["a"])
    playback.play("a", [clip(200, 20000)], tag="new")
    audio, finished = frames(playback, ["a"], 3)
    assert np.array_equal(audio[0, :200], clip(200, 20000)) and not audio[0, 200:].any()
    assert finished == [("a", "new")]


def test_keys_not_asked_for_do_not_advance():
    playback = Playback()
    playback.play("a", [clip(400)], tag=1)
    playback.play("b", [clip(400, 5000)], tag=2)
    for _ in range(5):
        playback.frame(["b", "c"])
    audio, _ = playback.frame(["c", "a"])
    assert not audio[0].any()
    assert np.array_equal(audio[1], clip(400)[:FRAME])


def test_each_key_gets_its_own_row_in_the_order_asked():
    playback = Playback()
    for k in range(5):
        playback.play(k, [clip(FRAME, 1000 * k + 1)])
    audio, finished = playback.frame([3, 0, 4])
    for row, k in enumerate([3, 0, 4]):
        assert np.array_equal(audio[row], clip(FRAME, 1000 * k + 1))
    assert [k for k, _ in finished] == [3, 0, 4]
    assert playback.frame([])[0].shape == (0, FRAME)


def test_one_read_only_clip_played_on_many_ports_is_held_once():
    music = read_only(clip(40_000))
    playback = Playback(pool_samples=1000)
    for port in range(200):
        playback.play(port, [music], loop=True)
    assert playback.pool_samples < 3 * music.size
    audio, _ = playback.frame(range(200))
    assert (audio == music[:FRAME]).all()


def test_a_writable_clip_changed_after_play_does_not_change_the_playout():
    samples = clip(FRAME)
    playback = Playback()
    playback.play("a", [samples])
    samples[:] = 0
    assert np.array_equal(playback.frame(["a"])[0][0], clip(FRAME))


def test_bad_clips_are_refused():
    playback = Playback()
    with pytest.raises(TypeError, match="int16"):
        playback.play("a", [np.zeros(10, dtype=np.float32)])
    with pytest.raises(TypeError, match="1-D"):
        playback.play("a", [np.zeros((2, 10), dtype=np.int16)])
    with pytest.raises(ValueError, match="empty"):
        playback.play("a", [clip(0)], loop=True)
    assert not playback.playing("a")


SHARED = [read_only(clip(n, 7000 + n)) for n in (5, 170, 333)]
lengths = st.integers(0, 420)
clip_lists = st.lists(st.one_of(lengths.map(lambda n: clip(n, n + 3)), st.sampled_from(SHARED)),
                      max_size=4)
commands = st.lists(st.one_of(
    st.tuples(st.just("play"), st.integers(0, 5), clip_lists, st.booleans(), st.integers()),
    st.tuples(st.just("stop"), st.integers(0, 6)),
    st.tuples(st.just("frame"), st.permutations(range(7)).flatmap(
        lambda keys: st.integers(0, 7).map(lambda n: keys[:n]))),
), max_size=60)


@settings(max_examples=300, deadline=None)
@given(commands=commands, pool=st.sampled_from([1, 64, 1 << 16]))
def test_random_commands_match_the_reference(commands, pool):
    playback, reference = Playback(pool_samples=pool), Reference()
    for command in commands:
        if command[0] == "play":
            _, key, clips, loop, tag = command
            if loop and sum(c.size for c in clips) == 0:
                continue
            playback.play(key, clips, loop=loop, tag=tag)
            reference.play(key, clips, loop, tag)
        elif command[0] == "stop":
            assert playback.stop(command[1]) == reference.stop(command[1])
        else:
            keys = command[1]
            got, got_finished = playback.frame(keys)
            want, want_finished = reference.frame(keys)
            assert np.array_equal(got, want)
            assert got_finished == want_finished
        for key in range(7):
            assert playback.playing(key) == (key in reference.state)
            assert playback.tag(key) == (reference.state[key][3] if key in reference.state
                                         else None)
