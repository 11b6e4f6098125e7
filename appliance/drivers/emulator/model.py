"""The board model: which ports a virtual board has, of which kind and sample law.

A model comes from flags (`BoardModel.from_ports("8fxo+8fxs")`) or from the ``[board]``
table of a TOML file (`load_model`, `parse_model`)::

    [board]
    model = "VB-8FXO8FXS"      # optional: derived from the ports
    serial = "EMU-0001"        # optional
    firmware = "1.0.0"         # optional, major.minor.patch
    law = "alaw"               # default law of every port: "alaw" or "ulaw"
    ports = "8fxo+8fxs"        # a port spec, or an array of tables:
    # ports = [{ kind = "fxo", count = 4, law = "ulaw" }, { kind = "e1", spans = 1 }]

A port spec joins terms with "+": ``<n>fxo``, ``<n>fxs`` (analog ports) and ``<n>e1`` (n E1
spans of 30 channels each, in timeslots 1-15 and 17-31; timeslot 16 carries the channels'
ABCD bits and is not a port). Ports are numbered from 0 in the order given; a board has 1
to 64 ports and at most 8 spans, as the wire protocol allows.
"""

import enum
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from appliance.drivers.emulator.errors import EmulatorConfigError, Reader

MAX_PORTS = 64
MAX_SPANS = 8
E1_TIMESLOTS = tuple(range(1, 16)) + tuple(range(17, 32))  # 30 channels; 16 is signalling


class PortKind(enum.IntEnum):
    """A port's kind; the values are the wire protocol's CAPABILITIES codes."""

    FXO = 1  # a line from the exchange
    FXS = 2  # feeds a station (an agent's phone)
    E1 = 3  # one channel of an E1 span


class Law(enum.IntEnum):
    """A port's G.711 law; the values are the wire protocol's CAPABILITIES codes."""

    ALAW = 1
    ULAW = 2

    @property
    def codec_name(self):
        """The name appliance.dsp.g711 and ChannelBank use: "alaw" or "ulaw"."""
        return self.name.lower()

    @property
    def idle_code(self):
        """The G.711 code of silence (what a port with no audio plays)."""
        return 0xD5 if self is Law.ALAW else 0xFF


@dataclass(frozen=True)
class PortSpec:
    kind: PortKind
    law: Law
    span: int | None = None  # E1 span index; None for analog ports
    timeslot: int = 0  # E1 timeslot 1-15, 17-31; 0 for analog ports


@dataclass(frozen=True)
class BoardModel:
    model: str
    serial: str
    firmware: tuple[int, int, int]
    ports: tuple[PortSpec, ...]

    @property
    def spans(self):
        """Span indexes present, ascending."""
        return tuple(sorted({p.span for p in self.ports if p.span is not None}))

    def ports_of(self, kind):
        return tuple(i for i, p in enumerate(self.ports) if p.kind is PortKind(kind))

    @classmethod
    def from_ports(cls, spec, law="alaw", model=None, serial="EMU-0001", firmware=(1, 0, 0)):
        """A model from a port spec such as "8fxo+8fxs" or "e1" (flags, not a file)."""
        return _build(Reader("board flags"), {"ports": spec, "law": law, "serial": serial,
                                          "firmware": ".".join(map(str, firmware)),
                                          **({"model": model} if model else {})}, "")


def load_model(path):
    """The model in the ``[board]`` table of the TOML file at `path`."""
    path = Path(path)
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise EmulatorConfigError(path, None, f"cannot read the board model ({exc.strerror}); "
                                  "give the path of a .toml file") from None
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise EmulatorConfigError(path, None, f"not valid TOML ({exc}); fix the syntax") \
            from None
    reader = Reader(path)
    reader.table(doc, "", tuple(doc), required=("board",))
    return parse_model(doc["board"], reader, "board")


def parse_model(doc, reader, key="board"):
    """A model from a parsed ``[board]`` table; errors name `key` within `reader`'s source."""
    return _build(reader, doc, key)


_TERM = re.compile(r"^(\d*)(fxo|fxs|e1)$")


def _build(reader, doc, key):
    reader.table(doc, key, ("model", "serial", "firmware", "law", "ports"), required=("ports",))
    join = reader.join
    law = _law(reader, doc.get("law", "alaw"), join(key, "law"))
    serial = reader.string(doc.get("serial", "EMU-0001"), join(key, "serial"))
    firmware_text = reader.string(doc.get("firmware", "1.0.0"), join(key, "firmware"))
    parts = firmware_text.split(".")
    if len(parts) != 3 or not all(p.isdigit() and int(p) < 256 for p in parts):
        reader.fail(join(key, "firmware"), f"must be major.minor.patch (each 0-255), "
                    f"e.g. \"1.0.0\", not {firmware_text!r}")
    groups = []  # (kind, count or spans, law)
    ports_key = join(key, "ports")
    value = doc["ports"]
    if isinstance(value, str):
        terms = [t.strip().lower() for t in value.split("+")]
        for term in terms:
            match = _TERM.match(term)
            if not match or match.group(1) == "0":
                reader.fail(ports_key, f"{term!r} is not a port group; write terms like 8fxo, "
                            "8fxs or 1e1 joined by '+', e.g. \"8fxo+8fxs\"")
            groups.append((match.group(2), int(match.group(1) or 1), law))
    else:
        for i, group in enumerate(reader.tables(value, ports_key)):
            gkey = join(ports_key, i)
            reader.table(group, gkey, ("kind", "count", "spans", "law"), required=("kind",))
            kind = reader.string(group["kind"], join(gkey, "kind"), ("fxo", "fxs", "e1"))
            if kind == "e1":
                if "count" in group:
                    reader.fail(join(gkey, "count"), "an E1 group counts spans: use spans = N")
                n = reader.integer(group.get("spans", 1), join(gkey, "spans"), 1, MAX_SPANS)
            else:
                if "spans" in group:
                    reader.fail(join(gkey, "spans"), "only for kind = \"e1\"; use count = N")
                if "count" not in group:
                    reader.fail(join(gkey, "count"), "missing; add the number of ports")
                n = reader.integer(group["count"], join(gkey, "count"), 1, MAX_PORTS)
            groups.append((kind, n, _law(reader, group.get("law", law.codec_name),
                                          join(gkey, "law"))))
    if not groups:
        reader.fail(ports_key, "no ports; give at least one group, e.g. \"8fxo+8fxs\"")
    ports, span = [], 0
    for kind, n, group_law in groups:
        if kind == "e1":
            for _ in range(n):
                ports += [PortSpec(PortKind.E1, group_law, span, ts) for ts in E1_TIMESLOTS]
                span += 1
        else:
            ports += [PortSpec(PortKind[kind.upper()], group_law)] * n
    if len(ports) > MAX_PORTS:
        reader.fail(ports_key, f"{len(ports)} ports; a board has at most {MAX_PORTS} "
                    "(an E1 span is 30): split them over several boards")
    if span > MAX_SPANS:
        reader.fail(ports_key, f"{span} E1 spans; a board has at most {MAX_SPANS}")
    model = doc.get("model")
    if model is None:
        model = "VB-" + "".join(f"{n}{kind.upper()}" for kind, n, _ in groups)
    model = reader.string(model, join(key, "model"))
    if not model or len(model.encode()) > 255 or len(serial.encode()) > 255:
        reader.fail(join(key, "model"), "model and serial must be 1 to 255 bytes of UTF-8")
    return BoardModel(model, serial, tuple(int(p) for p in parts), tuple(ports))


def _law(reader, value, key):
    return Law[reader.string(value, key, ("alaw", "ulaw")).upper()]
