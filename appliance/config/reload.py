"""What a changed config file means for a running box, as a pure function.

`plan_reload(old, new_text)` parses and validates the new text; if it is invalid the
answer is the ConfigError (returned, not raised) and nothing is to be applied. Otherwise the
`ReloadPlan` lists each change with its key path and whether it applies to new calls while
live calls keep what they started with (IVR flows, queues, agents, skills, schedules,
recording, the dial policy), or needs a restart of the box (boards, trunk groups, stations,
the country and tone plan, storage paths: the ports and files calls are running on).
"""

import enum
from collections.abc import Mapping
from dataclasses import dataclass

from appliance.config.issues import ConfigError, key_path
from appliance.config.load import parse_config

# Config sections by what a reload can do with them.
LIVE = ("ivr", "skills", "queues", "agents", "schedules", "recording", "dial")
RESTART = ("site", "boards", "trunks", "stations", "storage")


class ChangeKind(enum.Enum):
    ADDED = "added"
    REMOVED = "removed"
    CHANGED = "changed"


@dataclass(frozen=True)
class Change:
    path: str  # "queues.sales", "boards.main", "recording"
    kind: ChangeKind
    restart: bool  # True: applies only after a restart of the box

    def __str__(self):
        when = "needs a restart" if self.restart else "applies to new calls"
        return f"{self.path}: {self.kind.value}; {when}"


@dataclass(frozen=True)
class ReloadPlan:
    config: object  # the new, validated Config
    changes: tuple[Change, ...]

    @property
    def live(self):
        """Changes applied to new calls at once (live calls keep what they have)."""
        return tuple(c for c in self.changes if not c.restart)

    @property
    def restart(self):
        """Changes that wait for a restart of the box."""
        return tuple(c for c in self.changes if c.restart)

    @property
    def needs_restart(self):
        return any(c.restart for c in self.changes)


def plan_reload(old, new_text, *, source=None, folder=None):
    """The plan to go from Config `old` to the config in `new_text` (TOML text), or the
    ConfigError listing every problem of `new_text` (then nothing is to be applied).
    Relative storage paths in `new_text` are taken from `folder` (default: the folder of
    `old.source`)."""
    from pathlib import Path

    if folder is None:
        folder = Path(old.source).parent
    try:
        new = parse_config(new_text, source=source or old.source, folder=folder)
    except ConfigError as exc:
        return exc
    changes = []
    for section in RESTART + LIVE:
        restart = section in RESTART
        before, after = _section(old, section), _section(new, section)
        if isinstance(before, Mapping):
            for name in before:
                if name not in after:
                    changes.append(Change(key_path(section, name), ChangeKind.REMOVED, restart))
                elif after[name] != before[name]:
                    changes.append(Change(key_path(section, name), ChangeKind.CHANGED, restart))
            for name in after:
                if name not in before:
                    changes.append(Change(key_path(section, name), ChangeKind.ADDED, restart))
        elif before != after:
            changes.append(Change(section, ChangeKind.CHANGED, restart))
    return ReloadPlan(new, tuple(changes))


def _section(config, section):
    if section == "site":
        return (config.site, config.country, config.tone_plan)
    if section == "ivr":  # appliance.ivr's Flows keep their nodes in .nodes
        return getattr(config.ivr, "nodes", config.ivr)
    return getattr(config, section)
