"""Shared helpers for the IVR tests: flows from TOML text, a session driven in ticks."""

import re
import tomllib
from pathlib import Path

from appliance.ivr import IvrSession, parse_flows

README = Path(__file__).resolve().parents[2] / "appliance" / "ivr" / "README.md"
QUEUES = {"sales", "support"}
STATIONS = {"reception"}
SCHEDULES = {"office"}


def readme_example():
    return re.search(r"```toml\n(.*?)```", README.read_text(), re.S).group(1)


def parse(text, **kw):
    kw.setdefault("queues", QUEUES)
    kw.setdefault("stations", STATIONS)
    kw.setdefault("schedules", SCHEDULES)
    return parse_flows(tomllib.loads(text).get("ivr", {}), **kw)


def flows_of(text, **kw):
    flows, issues = parse(text, **kw)
    assert [str(i) for i in issues] == []
    return flows


def session(text, entry, call_info=None, **kw):
    s = IvrSession(flows_of(text), entry, call_info or {"caller": "5551234"}, **kw)
    return s


def issue_map(issues):
    return {i.path: i for i in issues}
