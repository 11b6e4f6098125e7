"""`[agents.ID] role` and `supervises`: who may do what through the control socket and the
CTI (appliance.acd.permissions)."""

import pytest

from appliance.config import ConfigError, parse_config, sample_path

SAMPLE = sample_path().read_text(encoding="utf-8")
AGENT = '[agents.1003]\nname = "Sam Taylor"\n'


def _with(lines):
    assert AGENT in SAMPLE
    return SAMPLE.replace(AGENT, AGENT + lines, 1)


def _issues(text):
    with pytest.raises(ConfigError) as caught:
        parse_config(text, source="bad.toml")
    return [(i.path, i.message) for i in caught.value.issues if i.severity == "error"]


def test_agents_are_agents_unless_the_file_says_otherwise():
    config = parse_config(SAMPLE)
    assert {a.role for a in config.agents.values()} == {"agent"}
    assert all(a.supervises == () for a in config.agents.values())
    assert config.to_dict()["agents"]["1001"]["role"] == "agent"


def test_a_supervisor_names_the_queues_they_supervise():
    config = parse_config(_with('role = "supervisor"\nsupervises = ["support", "sales"]\n'))
    agent = config.agents["1003"]
    assert (agent.role, agent.supervises) == ("supervisor", ("support", "sales"))
    assert parse_config(_with('role = "admin"\n')).agents["1003"].role == "admin"


def test_a_role_that_does_not_exist_is_refused_with_the_choices():
    assert _issues(_with('role = "boss"\n')) == [
        ("agents.1003.role", "is 'boss'; allowed: 'agent', 'supervisor', 'admin'")]


def test_a_supervised_queue_must_exist():
    assert _issues(_with('role = "supervisor"\nsupervises = ["suport"]\n')) == [
        ("agents.1003.supervises", "names queue 'suport', which is not defined (did you "
         "mean 'support'?); queues: sales, support")]
    assert _issues(_with('role = "supervisor"\nsupervises = "support"\n'))[0][0] == \
        "agents.1003.supervises"


def test_supervises_without_the_supervisor_role_is_a_warning():
    config = parse_config(_with('supervises = ["support"]\n'))
    assert [(i.path, i.message) for i in config.warnings
            if i.path.startswith("agents")] == [
        ("agents.1003.supervises", "is ignored for role 'agent'; set role = \"supervisor\" "
         "or drop it")]
