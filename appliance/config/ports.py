"""A board's port layout written as a port spec: "4fxo+4fxs", "8fxo+1e1".

The same grammar as the emulator's `BoardModel.from_ports` (drivers/emulator/model.py), read
here without importing the emulator (which pulls in scipy: 3 s for `config check`); a test
keeps both in step. Terms `<n>fxo`, `<n>fxs` (analog ports) and `<n>e1` (n E1 spans of 30
channels, timeslots 1-15 and 17-31) joined by "+"; ports are numbered from 0 in that order;
a board has 1 to 64 ports and at most 8 spans (the wire protocol's limits).
"""

import re
from dataclasses import dataclass

from appliance.config.model import PortKind

MAX_PORTS = 64
MAX_SPANS = 8
E1_CHANNELS = 30
_TERM = re.compile(r"^(\d*)(fxo|fxs|e1)$")


@dataclass(frozen=True)
class PortLayout:
    kinds: tuple[PortKind, ...]  # one per port
    spans: tuple[int, ...]  # E1 span indexes present
    model: str  # the model name the emulator reports for this layout ("VB-4FXO4FXS")


def parse_port_spec(spec):
    """The PortLayout of `spec`; ValueError saying what is allowed when it is not one."""
    kinds, spans, model = [], [], "VB-"
    for term in (t.strip().lower() for t in spec.split("+")):
        match = _TERM.match(term)
        if not match or match.group(1) == "0":
            raise ValueError(f"{term!r} is not a port group; write terms like 8fxo, 8fxs or "
                             "1e1 joined by '+', e.g. \"8fxo+8fxs\"")
        count, kind = int(match.group(1) or 1), PortKind(match.group(2))
        model += f"{count}{kind.name}"
        if kind is PortKind.E1:
            for _ in range(count):
                spans.append(len(spans))
                kinds += [PortKind.E1] * E1_CHANNELS
        else:
            kinds += [kind] * count
    if len(kinds) > MAX_PORTS:
        raise ValueError(f"{len(kinds)} ports; a board has at most {MAX_PORTS} (an E1 span "
                         "is 30): split them over several boards")
    if len(spans) > MAX_SPANS:
        raise ValueError(f"{len(spans)} E1 spans; a board has at most {MAX_SPANS}")
    return PortLayout(tuple(kinds), tuple(spans), model)
