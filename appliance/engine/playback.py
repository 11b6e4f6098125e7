"""Prompt playout for every port, one numpy gather per tick.

    playback.play((board, port), [welcome, menu], tag=play_id)
    audio, finished = playback.frame(keys)   # [len(keys), 160] int16, [(key, tag), ...]

How it stays cheap with 120+ ports playing: the clips a key plays are copied once, one
after another, into a single pool array, each sequence followed by a frame of zeros, so a
playout is just (start, length, position, loop) in per-slot arrays. A tick's frames are
then one gather of whole 160-sample rows from a sliding-window view of the pool (rows
start at start + position): a playout that ends inside the frame reads the zeros after
its sequence, an idle key the zeros at the pool's head. Only a loop that wraps inside the
frame is cut sample by sample (its rows, a few a tick). Python work per tick is constant,
plus one step per playout that ends; it never grows with samples. The same read-only
clips (a PromptLibrary's prompts, music, tones) played by many ports share one copy in
the pool; writable clips get a private copy, so changing them after `play` does not change
what is heard. Space of sequences no port plays any more is reclaimed when the pool would
otherwise grow.
"""

import numpy as np

FRAME = 160  # samples per 20 ms tick at 8 kHz


class _Sequence:
    """Clips laid end to end in the pool, from `start`, `length` samples, then FRAME zeros."""

    __slots__ = ("start", "length", "users", "clips")

    def __init__(self, start, length, clips):
        self.start, self.length, self.users = start, length, 0
        self.clips = clips  # a shared sequence keeps its clips, so their ids stay unique


class Playback:
    """What each key (a port) is playing, and its next frame, for any number of keys.

    Keys are any hashables; a key that never played is silent. Not thread-safe: the tick
    loop owns it.
    """

    def __init__(self, pool_samples=1 << 16):
        self._pool = np.zeros(max(int(pool_samples), 2 * FRAME), dtype=np.int16)
        self._windows = np.lib.stride_tricks.sliding_window_view(self._pool, FRAME)
        self._used = FRAME  # pool[:FRAME] = 0: where idle slots read
        self._shared = {}  # ids of read-only clips -> _Sequence
        self._slot_of = {}
        self._start = np.zeros(0, dtype=np.int64)
        self._length = np.zeros(0, dtype=np.int64)
        self._pos = np.zeros(0, dtype=np.int64)
        self._loop = np.zeros(0, dtype=bool)
        self._active = np.zeros(0, dtype=bool)
        self._keys, self._tags, self._sequences = [], [], []
        self._frame_keys, self._frame_slots = None, None
        self._offsets = np.arange(FRAME, dtype=np.int64)

    # ---- commands ---------------------------------------------------------------------

    def play(self, key, clips, *, loop=False, tag=None):
        """Play `clips` (1-D int16 arrays) one after another on `key`, replacing what it
        played (that one is not reported finished). loop=True repeats the whole sequence
        until stopped; otherwise `tag` comes back from `frame` when it ends."""
        clips = tuple(clips)
        for i, clip in enumerate(clips):
            if not isinstance(clip, np.ndarray) or clip.dtype != np.int16 or clip.ndim != 1:
                raise TypeError(f"clip {i} must be a 1-D int16 numpy array, not "
                                f"{getattr(clip, 'dtype', type(clip).__name__)} "
                                f"{getattr(clip, 'shape', '')}")
        if loop and sum(c.size for c in clips) == 0:
            raise ValueError("cannot loop an empty sequence: give at least one sample")
        self.stop(key)
        sequence = self._sequence(clips)
        sequence.users += 1
        slot = self._slot(key)
        self._start[slot] = sequence.start
        self._length[slot] = sequence.length
        self._pos[slot] = 0
        self._loop[slot] = loop
        self._active[slot] = True
        self._tags[slot] = tag
        self._sequences[slot] = sequence

    def stop(self, key):
        """Silence `key`; True if it was playing (a stopped playout is not reported)."""
        slot = self._slot_of.get(key)
        if slot is None or not self._active[slot]:
            return False
        self._release(slot)
        return True

    def playing(self, key):
        slot = self._slot_of.get(key)
        return slot is not None and bool(self._active[slot])

    @property
    def pool_samples(self):
        """Samples the pool holds now (sequences played, or kept to be shared)."""
        return self._pool.size

    def tag(self, key):
        """The tag of what `key` is playing (None when idle)."""
        slot = self._slot_of.get(key)
        return None if slot is None else self._tags[slot]

    # ---- the tick ---------------------------------------------------------------------

    def frame(self, keys):
        """This tick's 160 samples for each of `keys` (distinct), advancing each.

        Returns (audio int16 [len(keys), 160], finished): finished lists (key, tag) of the
        non-looping playouts that ended within this frame (their last samples are in it,
        padded with zeros). Keys not given do not advance."""
        keys = tuple(keys)
        if keys != self._frame_keys:
            self._frame_slots = np.array([self._slot(k) for k in keys], dtype=np.intp)
            self._frame_keys = keys
        slots = self._frame_slots
        active, loop = self._active[slots], self._loop[slots]
        pos, length, start = self._pos[slots], self._length[slots], self._start[slots]
        audio = self._windows[np.where(active, start + pos, 0)]
        wraps = np.flatnonzero(loop & (pos + FRAME > length))
        if wraps.size:  # a loop starting again inside this frame: sample by sample
            offsets = (pos[wraps, None] + self._offsets) % length[wraps, None]
            audio[wraps] = self._pool[start[wraps, None] + offsets]

        pos += FRAME
        looping = np.flatnonzero(loop)
        pos[looping] %= length[looping]
        self._pos[slots] = pos
        finished = []
        for row in np.flatnonzero(active & ~loop & (pos >= length)).tolist():
            slot = slots[row]
            finished.append((keys[row], self._tags[slot]))
            self._release(slot)
        return audio, finished

    # ---- slots and the pool -----------------------------------------------------------

    def _slot(self, key):
        slot = self._slot_of.get(key)
        if slot is not None:
            return slot
        slot = len(self._keys)
        if slot == self._start.size:
            grow = max(16, slot)
            self._start = np.concatenate([self._start, np.zeros(grow, dtype=np.int64)])
            self._length = np.concatenate([self._length, np.zeros(grow, dtype=np.int64)])
            self._pos = np.concatenate([self._pos, np.zeros(grow, dtype=np.int64)])
            self._loop = np.concatenate([self._loop, np.zeros(grow, dtype=bool)])
            self._active = np.concatenate([self._active, np.zeros(grow, dtype=bool)])
        self._slot_of[key] = slot
        self._keys.append(key)
        self._tags.append(None)
        self._sequences.append(None)
        return slot

    def _release(self, slot):
        self._sequences[slot].users -= 1
        self._sequences[slot] = None
        self._active[slot] = False
        self._loop[slot] = False
        self._start[slot] = 0
        self._length[slot] = 0
        self._tags[slot] = None

    def _sequence(self, clips):
        shared = all(not c.flags.writeable for c in clips)
        ident = tuple(id(c) for c in clips)
        if shared and ident in self._shared:
            return self._shared[ident]
        length = sum(c.size for c in clips)
        start = self._reserve(length + FRAME)
        at = start
        for clip in clips:
            self._pool[at:at + clip.size] = clip
            at += clip.size
        self._pool[at:at + FRAME] = 0
        sequence = _Sequence(start, length, clips if shared else ())
        if shared:
            self._shared[ident] = sequence
        return sequence

    def _reserve(self, samples):
        """Room for `samples` at the pool's end: reclaim unplayed sequences, or grow."""
        if self._used + samples > self._pool.size:
            live = [s for s in set(self._sequences) if s is not None]
            needed = FRAME + sum(s.length + FRAME for s in live) + samples
            self._compact(live, max(self._pool.size, 2 * needed))
        start = self._used
        self._used += samples
        return start

    def _compact(self, live, size):
        """Copy the sequences still played into a new pool of `size`; forget the rest."""
        pool = np.zeros(size, dtype=np.int16)
        at = FRAME
        for sequence in live:
            end = at + sequence.length + FRAME
            pool[at:end] = self._pool[sequence.start:sequence.start + sequence.length + FRAME]
            sequence.start = at
            at = end
        self._pool, self._used = pool, at
        self._windows = np.lib.stride_tricks.sliding_window_view(pool, FRAME)
        self._shared = {ident: s for ident, s in self._shared.items() if s.users > 0}
        for slot, sequence in enumerate(self._sequences):
            if sequence is not None:
                self._start[slot] = sequence.start
