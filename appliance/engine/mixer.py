"""Conference mixing on the host: every conference of the tick in one sparse product.

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

Per tick (:meth:`ConferenceMixer.mix`) every conference is mixed by one sparse product,
``ear = hearing @ linear``: ``hearing[member, row]`` is 1 where the member hears that row
(the other talkers of its conference, and its whisperers), summed in int32 (exact: a member
would need 65536 voices to overflow; the matrix switches to int64 beyond that), then
saturated to int16 (never wraparound). Python work per tick is constant; the matrix is
rebuilt only when membership changes (join, leave, end), so that work grows with the number
of state changes, not samples. Its cost is one multiply-add per sample per voice heard:
sum over conferences of members x talkers, which is small for three-way calls and
supervisors; a 120-talker conference costs as much as 40 of 3 x 60.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Hashable

import numpy as np
import scipy.sparse

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
        """The hearing matrix for mix(): Python work once per membership change, not per tick."""
        rows = np.array(sorted(self._conference_of), dtype=np.int64)
        position = {int(p): i for i, p in enumerate(rows)}
        ears, voices = [], []  # one entry per (listener's position, party row it hears)
        for members in self._conferences.values():
            talkers = [p for p, m in members.items() if m.mode is Mode.TALK]
            for party, member in members.items():
                heard = [t for t in talkers if t != party]  # N-1: never one's own voice
                ears.extend([position[party]] * len(heard))
                voices.extend(heard)
                if member.mode is Mode.WHISPER:
                    ears.append(position[member.to])
                    voices.append(party)
        columns = int(rows[-1]) + 1 if rows.size else 0
        hearing = scipy.sparse.csr_matrix(
            (np.ones(len(ears), dtype=np.int32 if rows.size < 65536 else np.int64), (ears, voices)), shape=(rows.size, columns))
        self._plan = (rows, hearing)
        return self._plan

    def mix(self, linear: np.ndarray) -> Mix:
        """Each conference member's ear audio for this tick, from ``linear[parties, samples]``.

        ``linear`` is the tick's int16 audio, one row per party (rows not in a conference
        are ignored). Returns :class:`Mix`: the members' rows in ascending order and their
        audio, saturated to int16.
        """
        if not isinstance(linear, np.ndarray) or linear.dtype != np.int16 or linear.ndim != 2:
            raise TypeError("linear must be an int16 numpy array [parties, samples]")
        rows, hearing = self._plan if self._plan is not None else self._build()
        if not rows.size:
            return Mix(rows, np.zeros((0, linear.shape[1]), dtype=np.int16))
        if rows[-1] >= linear.shape[0]:
            raise ValueError(
                f"party {int(rows[-1])} is in a conference but linear has only "
                f"{linear.shape[0]} rows")
        ear = hearing @ linear[:hearing.shape[1]]  # int32 sums, exact (see above)
        np.clip(ear, INT16_MIN, INT16_MAX, out=ear)
        return Mix(rows, ear.astype(np.int16))
