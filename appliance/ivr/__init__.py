"""The IVR as pure logic: flows parsed from the config (`parse_flows`), checked
(`check_flows`), and run per call by `IvrSession`, fed events and returning actions.
No I/O and no clock: time is the engine's tick (20 ms). See README.md for the TOML shape."""

from .check import check_flows
from .flows import (
    BUILTIN_PREFIX, BUILTIN_PROMPTS, TICK_MS, TICKS_PER_SECOND, BackNode, CollectNode, Flows,
    GotoNode, HangupNode, LookupNode, MenuNode, Node, NodeType, PlayNode, QueueNode, Retry,
    ScheduleNode, TransferNode, VoicemailNode, default_dial_policy, parse_flows,
)
from .session import (
    TERMINAL_ACTIONS, Beep, CallerHungUp, DigitReceived, Event, Hangup, IvrSession,
    LookupAnswered, LookUpCustomer, Play, PromptFinished, Queue, RecordingFinished,
    StartRecording, State, StopPlayback, StopRecording, TickElapsed, Transfer,
)

__all__ = [
    "BUILTIN_PREFIX", "BUILTIN_PROMPTS", "TICK_MS", "TICKS_PER_SECOND", "BackNode",
    "CollectNode", "Flows", "GotoNode", "HangupNode", "LookupNode", "MenuNode", "Node",
    "NodeType", "PlayNode", "QueueNode", "Retry", "ScheduleNode", "TransferNode",
    "VoicemailNode", "default_dial_policy", "parse_flows", "check_flows", "TERMINAL_ACTIONS",
    "Beep", "Event", "Hangup", "IvrSession", "LookUpCustomer", "Play", "Queue",
    "StartRecording", "State", "StopPlayback", "StopRecording", "Transfer", "CallerHungUp",
    "DigitReceived", "LookupAnswered", "PromptFinished", "RecordingFinished", "TickElapsed",
]
