"""The box's boards run with the config's country profile and its tone plan."""

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
