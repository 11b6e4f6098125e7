"""The emulator behind the wire: a `VirtualBoard` (``drivers/emulator``) that speaks
voiceboard-v1 (``drivers/protocol``) over any transport (``drivers/transport``).

- `BoardSession`: the board's end of the protocol, sans-I/O (``session.py``);
- `EmulatorRunner` and the listeners `serve_pty`, `serve_tcp`, `serve_inprocess`,
  `serve_usb`: the session on a link, in real time or on a virtual clock (``runner.py``);
- `lay_cable`: an FXS port cabled to an FXO port, the loopback of a test bench
  (``cable.py``).

`emulated_board(...)` builds the usual stack in one call.
"""

from appliance.drivers.emulated_board.cable import (
    CabledFxo, CabledFxs, lay_cable, parse_cables,
)
from appliance.drivers.emulated_board.runner import (
    EmulatorRunner, serve_inprocess, serve_pty, serve_tcp, serve_usb,
)
from appliance.drivers.emulated_board.session import BoardSession, SessionStats, capabilities_of


def emulated_board(model="2fxo+2fxs", *, scenario=None, cables=(), virtual=False, seed=0,
                   serial=None):
    """A `BoardSession` on a new `VirtualBoard`: from `scenario` (an emulator Scenario)
    or from `model` (a BoardModel or a port spec such as "8fxo+8fxs"), with `cables`
    ((fxs, fxo) pairs) laid. Wrap it in an `EmulatorRunner` to put it on a link."""
    from appliance.drivers.emulator import BoardModel, VirtualBoard

    if scenario is not None:
        board = scenario.build()
    else:
        if isinstance(model, str):
            model = BoardModel.from_ports(model, **({"serial": serial} if serial else {}))
        board = VirtualBoard(model, seed=seed)
    for fxs, fxo in cables:
        lay_cable(board, fxs, fxo)
    return BoardSession(board, virtual=virtual)


__all__ = [
    "BoardSession", "CabledFxo", "CabledFxs", "EmulatorRunner", "SessionStats",
    "capabilities_of", "emulated_board", "lay_cable", "parse_cables", "serve_inprocess",
    "serve_pty", "serve_tcp", "serve_usb",
]
