"""Specs: built from the config with defaults, and bad values refused with the fix."""

from pathlib import Path

import pytest

from appliance.acd import Acd, AcdError, AgentSpec, Escalation, QueueSpec, specs_from_config
from appliance.config import load_config

SAMPLE = Path(__file__).resolve().parents[2] / "appliance" / "config" / "sample.toml"


def test_specs_from_the_sample_config():
    config = load_config(SAMPLE)
    queues, agents = specs_from_config(config)
    sales = queues["sales"]
    assert dict(sales.skills) == {"sales": 1}
    assert (sales.max_wait_s, sales.overflow) == (180, "queue:support")
    assert (sales.strategy, sales.priority, sales.wrap_up_s, sales.announce_s) == \
        ("longest_idle", 0, 0, 60)
    assert list(agents) == ["1001", "1002", "1003"]
    li = agents["1001"]
    assert (li.name, dict(li.skills), li.station, li.order, li.max_no_answer) == \
        ("Li Na", {"english": 5, "sales": 8}, "desk1", 0, 2)
    assert agents["1003"].order == 2
    acd = Acd(queues, agents)                        # usable as they are
    acd.login("1001", None, 0)
    assert acd.agent("1001")["station"] == "desk1"


def test_from_config_overrides():
    config = load_config(SAMPLE)
    q = QueueSpec.from_config(config.queues["support"], strategy="ring_all", wrap_up_s=15)
    assert (q.strategy, q.wrap_up_s, q.max_wait_s) == ("ring_all", 15, 300)
    a = AgentSpec.from_config(config.agents["1002"], order=7, max_no_answer=3)
    assert (a.order, a.max_no_answer) == (7, 3)


@pytest.mark.parametrize("kw, message", [
    ({"skills": {"sales": 11}}, "level 11; use 1-10"),
    ({"max_wait_s": -1}, "max_wait_s -1; give whole seconds"),
    ({"exit_digit": "x"}, "exit_digit 'x'; use one of"),
    ({"exit_digit": "9", "callback_digit": "9"}, "both '9'"),
    ({"overflow": "mars"}, "overflow 'mars'; use \"hangup\""),
    ({"overflow": "queue:"}, "overflow 'queue:'"),
    ({"ring_s": 0}, "ring_s and aht_s must be > 0"),
    ({"escalation": [(10, 0)]}, "min_level 0: use a level 1-10"),
    ({"escalation": [(-5, 3)]}, "after_s -5"),
])
def test_bad_queue_specs_are_refused(kw, message):
    with pytest.raises(AcdError, match=message.replace("(", r"\(")):
        QueueSpec("q", **kw)


def test_escalation_shapes():
    q = QueueSpec("q", escalation=[(30, "queue:other"), Escalation(10, min_level=3),
                                   (20, "third")])
    assert q.escalation == (Escalation(10, 3), Escalation(20, add_queue="third"),
                            Escalation(30, add_queue="other"))
    with pytest.raises(AcdError, match="one of the two"):
        Escalation(5, min_level=3, add_queue="x")


def test_bad_agent_specs_are_refused():
    with pytest.raises(AcdError, match="skill 'sales' level 0"):
        AgentSpec("a", skills={"sales": 0})
    with pytest.raises(AcdError, match="max_no_answer -1"):
        AgentSpec("a", max_no_answer=-1)
    with pytest.raises(AcdError, match="expected an AgentSpec"):
        Acd({}, {"a": {"skills": {}}})


def test_from_config_takes_the_queue_keys_the_config_has():
    from appliance.config.model import Queue
    q = Queue("s", ("sales",), 60, "hangup", None, strategy="ring_all", priority=3,
              wrap_up_s=7, ring_s=15, announce_s=0, exit_digit="0")
    spec = QueueSpec.from_config(q)
    assert (spec.strategy, spec.priority, spec.wrap_up_s, spec.ring_s, spec.announce_s,
            spec.exit_digit, spec.callback_digit) == ("ring_all", 3, 7, 15, 0, "0", None)
