"""The board emulator: a virtual voice board simulated tick by tick, with a simulated
exchange behind its FXO lines, simulated callers and agents, and a report of what each of
them did and heard. See README.md in this folder for the scenario format and the seam where
the wire protocol plugs in."""

from appliance.drivers.emulator.board import LineReport, Report, TickResult, VirtualBoard
from appliance.drivers.emulator.clock import RealTimeClock, VirtualClock
from appliance.drivers.emulator.errors import EmulatorConfigError, EmulatorError
from appliance.drivers.emulator.events import (
    AbcdChanged, Ack, Alarm, AlarmsChanged, Completed, Connect, Disconnect, ErrorCode,
    HookChanged, HookFlash, LineReading, Listen, LoopCurrentDropped, LoopCurrentRestored,
    OffHook, OnHook, PolarityChanged, ReadLine, Rejected, Ring, RingStarted, RingStopped,
    SelectAudio, SetAbcd, SetGain, SetPolarity, StopRing,
)
from appliance.drivers.emulator.exchange import (
    CallerIdTiming, ClearSignal, ExchangeConfig, LineConfig,
)
from appliance.drivers.emulator.model import BoardModel, Law, PortKind, PortSpec, load_model
from appliance.drivers.emulator.people import (
    CalleeSpec, CallerReport, CallerSpec, Flash, HangUp, Outcome, Party, PhoneCall,
    PhoneReport, PhoneSpec, Press, Talk, Wait, WaitForAgent,
)
from appliance.drivers.emulator.ports import LineState, PortState
from appliance.drivers.emulator.scenario import (
    Scenario, load_scenario, parse_scenario, run_scenario,
)

__all__ = [
    "AbcdChanged", "Ack", "Alarm", "AlarmsChanged", "BoardModel", "CalleeSpec",
    "CallerIdTiming", "CallerReport", "CallerSpec", "ClearSignal", "Completed", "Connect",
    "Disconnect", "EmulatorConfigError", "EmulatorError", "ErrorCode", "ExchangeConfig",
    "Flash", "HangUp", "HookChanged", "HookFlash", "Law", "LineConfig", "LineReading",
    "LineReport", "LineState", "Listen", "LoopCurrentDropped", "LoopCurrentRestored", "OffHook",
    "OnHook", "Outcome", "Party", "PhoneCall", "PhoneReport", "PhoneSpec", "PolarityChanged",
    "PortKind", "PortSpec", "PortState", "Press", "ReadLine", "RealTimeClock", "Rejected",
    "Report", "Ring", "RingStarted", "RingStopped", "Scenario", "SelectAudio", "SetAbcd",
    "SetGain", "SetPolarity", "StopRing", "Talk", "TickResult", "VirtualBoard", "VirtualClock",
    "Wait", "WaitForAgent", "load_model", "load_scenario", "parse_scenario", "run_scenario",
]
