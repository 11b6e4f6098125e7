"""The box: its boards run with the config's country profile and tone plan; where the agents
were at the last stop, read from the event log."""

from appliance.config import parse_config, sample_path
from appliance.dsp.toneplan import Tone
from appliance.engine.box import board_profile


def sample(site):
    path = sample_path()
    text = path.read_text().replace('country = "cn"', site, 1)
    return parse_config(text, source=str(path), folder=path.parent)


def test_the_boards_take_the_country_profile_as_it_is_by_default():
    profile = board_profile(sample('country = "cn"'))
    assert profile.name == "cn" and profile.tone_plan.name == "cn"


def test_a_tone_plan_in_the_config_replaces_the_profiles_for_the_tone_detectors():
    # a Chinese exchange's ringing and caller ID with North American call-progress tones:
    # the busy tone that ends a call is then 480+620 Hz, not 450 Hz
    profile = board_profile(sample('country = "cn"\ntone_plan = "us"'))
    assert profile.name == "cn" and profile.tone_plan.name == "us"
    assert Tone.BUSY in profile.disconnect_tones
    busy = profile.tone_plan.tones[Tone.BUSY]
    assert sorted(busy.elements[0].signatures[0]) == [480, 620]


def test_last_agent_states_reads_the_recent_log_then_each_missing_agent(tmp_path):
    """Where the agents were at the last stop: each agent's last agent_state row, whether
    it is recent or months old; agents without one are absent."""
    from appliance.engine.box import RECENT_MS, last_agent_states
    from appliance.store import Store

    now = 10 * RECENT_MS
    with Store.open(tmp_path / "a.db") as store:
        store.append_event(1_000, "agent_state", agent="gone",
                           data={"status": "not_ready", "state": "idle", "reason": "7",
                                 "station": "desk2"})
        store.append_event(2_000, "agent_state", agent="gone",
                           data={"status": "logged_out", "state": "idle", "reason": None})
        store.append_event(now - 1_000, "agent_state", agent="busy", call_id="c1",
                           data={"status": "ready", "state": "idle", "reason": None,
                                 "station": "desk1"})
        store.append_event(now - 500, "agent_state", agent="busy", call_id="c1",
                           data={"status": "ready", "state": "on_call", "reason": None,
                                 "station": "desk1"})
        store.append_event(now - 400, "agent_state", agent="other-box",
                           data={"status": "ready", "state": "idle", "reason": None})
        last = last_agent_states(store, ["busy", "gone", "never"], now)
    assert last == {"busy": {"status": "ready", "state": "on_call", "reason": None,
                             "station": "desk1"},
                    "gone": {"status": "logged_out", "state": "idle", "reason": None}}
