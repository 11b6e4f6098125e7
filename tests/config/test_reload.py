"""plan_reload: what a changed file applies to new calls, what waits for a restart, and
nothing at all from an invalid file."""

from appliance.config.load import SHIPPED_PROMPTS
from appliance.config import (
    Change,
    ChangeKind,
    ConfigError,
    ReloadPlan,
    load_config,
    plan_reload,
    sample_path,
)

SAMPLE = sample_path().read_text(encoding="utf-8")


def _old():
    return load_config(sample_path())


def test_same_text_changes_nothing():
    plan = plan_reload(_old(), SAMPLE)
    assert isinstance(plan, ReloadPlan)
    assert plan.changes == () and not plan.needs_restart
    assert plan.config == _old()


def test_queue_agent_schedule_and_ivr_changes_apply_to_new_calls():
    text = (SAMPLE.replace("max_wait_s = 180", "max_wait_s = 120")
            .replace("pin = \"4821\"", "pin = \"9999\"")
            .replace("saturday = [\"10:00-14:00\"]", "saturday = []")
            .replace("timeout = 5", "timeout = 7")
            + "\n[agents.1004]\nname = \"New\"\npin = \"1234\"\nskills = { sales = 1 }\n")
    plan = plan_reload(_old(), text)
    assert plan.changes == (
        Change("ivr.menu", ChangeKind.CHANGED, False),
        Change("queues.sales", ChangeKind.CHANGED, False),
        Change("agents.1001", ChangeKind.CHANGED, False),
        Change("agents.1004", ChangeKind.ADDED, False),
        Change("schedules.office", ChangeKind.CHANGED, False),
    )
    assert not plan.needs_restart and plan.restart == ()
    assert plan.config.queues["sales"].max_wait_s == 120
    assert str(plan.changes[3]) == "agents.1004: added; applies to new calls"


def test_board_and_port_changes_need_a_restart():
    text = (SAMPLE.replace("ports = \"4fxo+4fxs\"", "ports = \"4fxo+8fxs\"")
            .replace("[stations.supervisor]", "[stations.boss]")
            .replace("station = \"supervisor\"", "station = \"boss\"")
            .replace("ports = [0, 1, 2, 3]", "ports = [0, 1]")
            .replace("country = \"cn\"", "country = \"etsi\"")
            .replace("[queues.support]\nskills = [\"support\"]",
                     "[queues.support]\nskills = [\"support\", \"english\"]"))
    plan = plan_reload(_old(), text)
    assert [str(c) for c in plan.restart] == [
        "site: changed; needs a restart",
        "boards.main: changed; needs a restart",
        "trunks.pstn: changed; needs a restart",
        "stations.supervisor: removed; needs a restart",
        "stations.boss: added; needs a restart",
    ]
    assert [str(c) for c in plan.live] == ["ivr.operator: changed; applies to new calls",
                                           "queues.support: changed; applies to new calls"]
    assert plan.needs_restart


def test_invalid_new_file_plans_nothing():
    old = _old()
    text = SAMPLE.replace("max_wait_s = 180", "max_wait_s = -1").replace("port = 7", "port = 1")
    result = plan_reload(old, text)
    assert isinstance(result, ConfigError)
    assert [i.path for i in result.issues] == ["stations.supervisor.port",
                                               "queues.sales.max_wait_s"]
    assert old == load_config(sample_path())  # the running config is untouched


def test_missing_prompt_file_plans_nothing(tmp_path):
    old = _old()
    text = SAMPLE.replace("prompts = \"builtin:beep\"", "prompts = \"our-welcome.wav\"")
    result = plan_reload(old, text, folder=tmp_path)
    assert isinstance(result, ConfigError)
    assert [(i.path, i.message) for i in result.issues] == [
        ("ivr.menu.prompts.0", f"prompt 'our-welcome.wav' not found (looked for "
         f"{tmp_path}/our-welcome.wav, {SHIPPED_PROMPTS}/our-welcome.wav)")]
    (tmp_path / "our-welcome.wav").write_bytes(b"RIFF")
    plan = plan_reload(old, text, folder=tmp_path)
    assert [str(c) for c in plan.changes] == ["ivr.menu: changed; applies to new calls"]


def test_syntax_error_in_new_file_plans_nothing():
    result = plan_reload(_old(), SAMPLE + "\n[queues\n")
    assert isinstance(result, ConfigError)
    assert result.issues[0].path.startswith("line ")
