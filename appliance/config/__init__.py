"""The box's configuration: one TOML file, validated as a whole before anything starts.

``load_config(path)`` returns a `Config` (frozen dataclasses, see `model`) or raises a
`ConfigError` holding every `ConfigIssue` (key path, what is allowed, the fix);
``plan_reload(old, new_text)`` says what a changed file would change, live or after a
restart; ``sample_path()`` is the sample configuration shipped with the package (it runs on
an emulated board).
"""

from importlib import resources

from appliance.config.issues import ConfigError, ConfigIssue, key_path
from appliance.config.load import DEFAULT_PATH, load_config, parse_config
from appliance.config.model import (
    Agent,
    Board,
    Config,
    DialPolicy,
    Direction,
    EscalationStep,
    PortKind,
    Queue,
    Recording,
    RecordingFormat,
    RecordingLayout,
    RecordingMode,
    Schedule,
    Station,
    Storage,
    TrunkGroup,
)
from appliance.config.reload import Change, ChangeKind, ReloadPlan, plan_reload


def sample_path():
    """The path of the sample configuration shipped in the package."""
    return resources.files(__package__) / "sample.toml"


__all__ = [
    "DEFAULT_PATH", "Agent", "Board", "Change", "ChangeKind", "Config", "ConfigError",
    "ConfigIssue", "DialPolicy", "Direction", "EscalationStep", "PortKind", "Queue", "Recording",
    "RecordingFormat", "RecordingLayout", "RecordingMode", "ReloadPlan", "Schedule",
    "Station", "Storage", "TrunkGroup", "key_path", "load_config", "parse_config",
    "plan_reload", "sample_path",
]
