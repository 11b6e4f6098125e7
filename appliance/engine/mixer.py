"""Conference mixing on the host: every conference of the tick in one vectorised numpy pass.

A party is a row of the tick's linear audio array ``linear[parties, samples]`` (int16, 8 kHz,
160 samples per 20 ms tick). A conference is a set of parties, each in one mode:

- ``Mode.TALK``: hears every other talker of its conference (the N-1 mix: never its own
  voice) and is heard by all members;
- ``Mode.LISTEN``: a supervisor monitoring: hears every talker, is heard by none;
- ``Mode.WHISPER``: a supervisor coaching: hears every talker, is heard by one member only
  (``to``, the agent), on top of what that member hears already.

A party is in at most one conference at a time; joining its own conference again changes its
mode (monitor -> whisper -> barge-in). When a whispered-to member leaves, its whisperers fall
back to listen-only. A member alone in a conference hears silence.

Per tick (:meth:`ConferenceMixer.mix`), with T talkers and M members in all conferences:
one gather of the talkers' rows, one cumulative sum over them (int64, so no overflow),
per-conference sums as differences of that cumulative sum at the conference bounds, one
gather of each member's conference sum, minus its own row for talkers, plus whispers
(``np.add.at``), saturated to int16 (never wraparound). Python work per tick is constant;
the index arrays are rebuilt only when membership changes (join, leave, end), so that work
grows with the number of state changes, not samples. Numbers are exact integers throughout.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Hashable

import numpy as np

__all__ = ["ConferenceMixer", "Mix", "Mode"]

INT16_MIN = -32768
INT16_MAX = 32767


class Mode(str, enum.Enum):
    """How a member takes part in its conference."""

    TALK = "talk"
    LISTEN = "listen"
    WHISPER = "whisper"


@dataclass(frozen=True)
class Mix:
    """One tick's ear audio: ``audio[i]`` is what party ``rows[i]`` hears (int16)."""

    rows: np.ndarray  # int64 [members], ascending party rows
    audio: np.ndarray  # int16 [members, samples]


@dataclass(frozen=True)
class _Member:
    mode: Mode
    to: int | None


def _party(value, what="party") -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{what} must be a row index (int), got {value!r}")
    if value < 0:
        raise ValueError(f"{what} must be a row index >= 0, got {value}")
    return int(value)


class ConferenceMixer:
    """Conferences of parties (rows of the tick's audio), mixed N-1 all at once per tick."""

    def __init__(self):
        self._conferences: dict[Hashable, dict[int, _Member]] = {}
        self._conference_of: dict[int, Hashable] = {}
        self._plan = None  # index arrays for mix(); None when membership changed

    # ------------------------------------------------------------------ membership

    def join(self, conf_id: Hashable, party: int, mode: Mode | str = Mode.TALK,
             to: int | None = None) -> None:
        """Put ``party`` in conference ``conf_id`` (created on first join) in ``mode``.

        ``to`` names the member a whisperer is heard by (required for whisper, refused
        otherwise). Joining the party's own conference again changes its mode.
        """
        party = _party(party)
        try:
            mode = Mode(mode)
        except ValueError:
            raise ValueError(
                f"mode must be one of {[m.value for m in Mode]}, got {mode!r}") from None
        current = self._conference_of.get(party)
        if current is not None and current != conf_id:
            raise ValueError(
                f"party {party} is already in conference {current!r}; leave it first")
        members = self._conferences.get(conf_id, {})
        if mode is Mode.WHISPER:
            if to is None:
                raise ValueError("whisper needs `to`: the member the whisperer is heard by")
            to = _party(to, "to")
            if to == party:
                raise ValueError(f"party {party} cannot whisper to itself")
            if to not in members:
                raise ValueError(
                    f"party {to} (to) is not a member of conference {conf_id!r}; join it first")
        elif to is not None:
            raise ValueError(f"`to` is only for whisper, not {mode.value}")
        self._conferences.setdefault(conf_id, members)[party] = _Member(mode, to)
        self._conference_of[party] = conf_id
        self._plan = None

    def leave(self, party: int) -> None:
        """Take ``party`` out of its conference; its whisperers fall back to listen-only."""
        party = _party(party)
        conf_id = self._conference_of.pop(party, None)
        if conf_id is None:
            raise ValueError(f"party {party} is in no conference")
        members = self._conferences[conf_id]
        del members[party]
        for other, member in members.items():
            if member.to == party:
                members[other] = _Member(Mode.LISTEN, None)
        if not members:
            del self._conferences[conf_id]
        self._plan = None

    def end(self, conf_id: Hashable) -> None:
        """End conference ``conf_id``: every member leaves it."""
        members = self._conferences.pop(conf_id, None)
        if members is None:
            raise ValueError(f"no conference {conf_id!r}")
        for party in members:
            del self._conference_of[party]
        self._plan = None

    def members(self, conf_id: Hashable) -> dict[int, tuple[Mode, int | None]]:
        """{party: (mode, to)} of conference ``conf_id`` (empty if there is none)."""
        return {p: (m.mode, m.to) for p, m in self._conferences.get(conf_id, {}).items()}

    def conference_of(self, party: int) -> Hashable | None:
        """The conference ``party`` is in, or None."""
        return self._conference_of.get(party)

    @property
    def conferences(self) -> list[Hashable]:
        """Ids of the conferences with at least one member."""
        return list(self._conferences)

    # ------------------------------------------------------------------ the tick

    def _build(self):
        """Index arrays for mix(): work proportional to members, once per membership change."""
        rows = np.array(sorted(self._conference_of), dtype=np.int64)
        position = {int(p): i for i, p in enumerate(rows)}
        conf_index = {c: k for k, c in enumerate(self._conferences)}
        talkers, talker_conf, whisperers, targets = [], [], [], []
        for conf_id, members in self._conferences.items():
            for party, member in members.items():
                if member.mode is Mode.TALK:
                    talkers.append(party)
                    talker_conf.append(conf_index[conf_id])
                elif member.mode is Mode.WHISPER:
                    whisperers.append(party)
                    targets.append(position[member.to])
        # talkers grouped by conference (already, by construction); bounds per conference
        talker_conf = np.array(talker_conf, dtype=np.int64)
        counts = np.bincount(talker_conf, minlength=len(conf_index))
        ends = np.cumsum(counts)
        member_conf = np.array(
            [conf_index[self._conference_of[int(p)]] for p in rows], dtype=np.int64)
        talkers = np.array(talkers, dtype=np.int64)
        self._plan = (
            rows,
            talkers,
            ends - counts,  # start of each conference in the cumulative sum
            ends,
            member_conf,
            np.array([position[p] for p in talkers.tolist()], dtype=np.int64),
            np.array(whisperers, dtype=np.int64),
            np.array(targets, dtype=np.int64),
        )
        return self._plan

    def mix(self, linear: np.ndarray) -> Mix:
        """Each conference member's ear audio for this tick, from ``linear[parties, samples]``.

        ``linear`` is the tick's int16 audio, one row per party (any rows not in a
        conference are ignored). Returns :class:`Mix` with the members' rows in ascending
        order and their audio, saturated to int16.
        """
        if not isinstance(linear, np.ndarray) or linear.dtype != np.int16 or linear.ndim != 2:
            raise TypeError("linear must be an int16 numpy array [parties, samples]")
        plan = self._plan if self._plan is not None else self._build()
        rows, talkers, starts, ends, member_conf, talker_pos, whisperers, targets = plan
        samples = linear.shape[1]
        if rows.size and rows[-1] >= linear.shape[0]:
            raise ValueError(
                f"party {int(rows[-1])} is in a conference but linear has only "
                f"{linear.shape[0]} rows")
        if not rows.size:
            return Mix(rows, np.zeros((0, samples), dtype=np.int16))
        voice = linear[talkers].astype(np.int64)
        running = np.zeros((talkers.size + 1, samples), dtype=np.int64)
        np.cumsum(voice, axis=0, out=running[1:])
        conf_sum = running[ends] - running[starts]
        ear = conf_sum[member_conf]
        ear[talker_pos] -= voice  # N-1: never one's own voice
        if whisperers.size:
            np.add.at(ear, targets, linear[whisperers].astype(np.int64))
        np.clip(ear, INT16_MIN, INT16_MAX, out=ear)
        return Mix(rows, ear.astype(np.int16))
