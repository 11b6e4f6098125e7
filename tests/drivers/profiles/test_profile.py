"""Country profiles: the shipped cn / us / etsi files, and the errors for bad files."""

from importlib import resources
from pathlib import Path

import pytest

from appliance.drivers.profiles import (
    CallerIdAlert,
    CallerIdStandard,
    CallerIdTiming,
    CountryProfile,
    LineImpedance,
    ProfileError,
    R2Variant,
    available_profiles,
    load_profile,
)
from appliance.dsp.toneplan import Tone, load_plan
from appliance.dsp.tones import classify

SHIPPED = ("cn", "etsi", "us")


def shipped_text(name):
    return (resources.files("appliance.drivers.profiles") / f"{name}.toml").read_text()


def test_shipped_profiles():
    assert tuple(available_profiles()) == SHIPPED


def test_cn_profile():
    p = load_profile("cn")
    assert isinstance(p, CountryProfile) and p.name == "cn"
    assert p.tone_plan.name == "cn"
    assert p.ringing.cadence_s == (1.0, 4.0) and p.ringing.frequency_hz == 25.0
    assert p.caller_id.standard is CallerIdStandard.BELL202
    assert p.caller_id.when is CallerIdTiming.AFTER_FIRST_RING
    assert p.caller_id.alert is CallerIdAlert.NONE
    assert p.disconnect_tones == (Tone.BUSY, Tone.CONGESTION)
    assert (p.hook_flash.min_ms, p.hook_flash.max_ms) == (100, 600)
    assert p.line_impedance is LineImpedance.CN
    assert "680 ohm || 100 nF" in p.line_impedance.description
    assert p.r2_variant is R2Variant.CN


def test_us_profile():
    p = load_profile("us")
    assert p.tone_plan.name == "us"
    assert p.ringing.cadence_s == (2.0, 4.0) and p.ringing.frequency_hz == 20.0
    assert p.caller_id.standard is CallerIdStandard.BELL202
    assert p.caller_id.when is CallerIdTiming.AFTER_FIRST_RING
    assert p.caller_id.start_after_ms == 500  # GR-30-CORE: at least 500 ms after the ring
    assert (p.hook_flash.min_ms, p.hook_flash.max_ms) == (300, 1100)
    assert p.line_impedance is LineImpedance.R600
    assert p.r2_variant is R2Variant.NONE


def test_etsi_profile():
    p = load_profile("etsi")
    assert p.tone_plan.name == "etsi"
    assert p.ringing.cadence_s == (1.0, 4.0) and p.ringing.frequency_hz == 25.0
    assert p.caller_id.standard is CallerIdStandard.V23
    assert p.caller_id.when is CallerIdTiming.BEFORE_FIRST_RING
    assert p.caller_id.alert is CallerIdAlert.LINE_REVERSAL_DT_AS
    assert p.caller_id.start_after_ms == 100  # after the DT-AS ends
    assert p.hook_flash.is_flash(80)  # the nominal timed-break recall
    assert p.line_impedance is LineImpedance.TBR21
    assert p.r2_variant is R2Variant.ITU


@pytest.mark.parametrize("name", SHIPPED)
def test_profile_references_the_dsp_plan_not_a_copy(name):
    profile = load_profile(name)
    assert profile.tone_plan == load_plan(name)
    assert "[tones.busy]" not in shipped_text(name)  # the tones live in the DSP's plan only


@pytest.mark.parametrize("name", SHIPPED)
def test_ringing_cadence_is_the_plans_ringback_cadence(name):
    # The caller hears ringback in step with the called line's ringing.
    profile = load_profile(name)
    ringback = profile.tone_plan.tones[Tone.RINGBACK]
    assert tuple(el.seconds[0] for el in ringback.elements) == profile.ringing.cadence_s


@pytest.mark.parametrize("name", SHIPPED)
def test_caller_id_between_rings_starts_in_the_first_silence(name):
    cid = load_profile(name).caller_id
    if cid.when is CallerIdTiming.AFTER_FIRST_RING:
        assert cid.alert is CallerIdAlert.NONE
        assert cid.start_after_ms < load_profile(name).ringing.first_silence_s * 1000


@pytest.mark.parametrize("name", SHIPPED)
def test_disconnect_tones_rendered_from_the_plan_are_detected(name):
    # What the profile calls a hang-up tone, the DSP's detector recognises on that plan.
    profile = load_profile(name)
    for tone in profile.disconnect_tones:
        audio = profile.tone_plan.render(tone, 4.0)
        detected = {event.tone for event in classify(audio, profile.tone_plan)}
        assert detected == {tone}, (name, tone, detected)


def test_ring_cadence_as_ms_pairs(tmp_path):
    assert load_profile("us").ringing.pairs_ms == ((2000, 4000),)
    path = tmp_path / "uk-like.toml"  # a double ring: 0.4 on, 0.2 off, 0.4 on, 2.0 off
    path.write_text(shipped_text("etsi").replace("cadence_s = [1.0, 4.0]",
                                                 "cadence_s = [0.4, 0.2, 0.4, 2.0]"))
    ringing = load_profile(path).ringing
    assert ringing.pairs_ms == ((400, 200), (400, 2000))
    assert ringing.period_s == pytest.approx(3.0) and ringing.first_silence_s == 0.2


def test_hook_flash_window_edges():
    flash = load_profile("us").hook_flash
    assert [flash.is_flash(ms) for ms in (60, 299, 300, 700, 1100, 1101, 5000)] == \
        [False, False, True, True, True, False, False]


def test_load_by_path_and_relative_plan_path(tmp_path):
    plan_dir = tmp_path / "plans"
    plan_dir.mkdir()
    plan_text = (resources.files("appliance.dsp") / "tone_plans" / "cn.toml").read_text()
    (plan_dir / "site.toml").write_text(plan_text.replace('name = "cn"', 'name = "site"'))
    path = tmp_path / "site-profile.toml"
    path.write_text(shipped_text("cn").replace('plan = "cn"', 'plan = "plans/site.toml"'))
    for given in (path, str(path)):
        profile = load_profile(given)
        assert profile.tone_plan.name == "site" and profile.source == str(path)
    assert load_profile(profile) is profile


def test_description_is_optional(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text(shipped_text("us").replace('description = "United States and Canada"\n', ""))
    assert load_profile(path).description == ""


# ---- bad files: (what to change in cn.toml, the key path named, what the message says) ----

BAD = [
    ('name = "cn"', 'name = ""', "profile.name", "non-empty string"),
    ('description = "China (mainland)"', "description = 3", "profile.description", "string"),
    ('plan = "cn"', 'plan = "xx"', "tones.plan", "no such plan; use one of cn, etsi, us"),
    ('plan = "cn"', 'plan = "plans/missing.toml"', "tones.plan", "cannot read the tone plan"),
    ('disconnect = ["busy", "congestion"]', 'disconnect = ["busy", "hangup"]',
     "tones.disconnect[1]", "'hangup' is not a tone of plan 'cn'; use one of dial, ringback"),
    ('disconnect = ["busy", "congestion"]', 'disconnect = ["busy", "busy"]',
     "tones.disconnect[1]", "listed twice"),
    ('disconnect = ["busy", "congestion"]', 'disconnect = "busy"', "tones.disconnect",
     "must be a list"),
    ("cadence_s = [1.0, 4.0]", "cadence_s = [1.0, 4.0, 1.0]", "ringing.cadence_s", "pairs"),
    ("cadence_s = [1.0, 4.0]", "cadence_s = []", "ringing.cadence_s", "pairs"),
    ("cadence_s = [1.0, 4.0]", "cadence_s = [1.0, 0.0]", "ringing.cadence_s[1]",
     "from 0.05 to 10 seconds"),
    ("cadence_s = [1.0, 4.0]", 'cadence_s = [1.0, "4"]', "ringing.cadence_s[1]", "number"),
    ("frequency_hz = 25.0", "frequency_hz = 400.0", "ringing.frequency_hz", "15 to 70 Hz"),
    ("frequency_hz = 25.0", "frequency_hz = nan", "ringing.frequency_hz", "15 to 70 Hz"),
    ('standard = "bell202"', 'standard = "fsk"', "caller_id.standard",
     "must be one of bell202, v23, dtmf, not 'fsk'"),
    ('when = "after_first_ring"', 'when = "between_rings"', "caller_id.when",
     "must be one of before_first_ring, after_first_ring, not 'between_rings'"),
    ('alert = "none"', 'alert = "dt_as"', "caller_id.alert",
     "must be none when caller ID is sent between the first and second ring"),
    ("start_after_ms = 500", "start_after_ms = 4000", "caller_id.start_after_ms",
     "starts after the second ring"),
    ("start_after_ms = 500", "start_after_ms = 500.5", "caller_id.start_after_ms",
     "whole number from 0 to 5000 ms"),
    ("start_after_ms = 500", "start_after_ms = true", "caller_id.start_after_ms",
     "whole number"),
    ("min_ms = 100", "min_ms = 5", "hook_flash.min_ms", "whole number from 20 to 2000 ms"),
    ("max_ms = 600", "max_ms = 100", "hook_flash.max_ms",
     "must be more than hook_flash.min_ms (100 ms)"),
    ('impedance = "cn"', 'impedance = "600"', "line.impedance",
     "must be one of 600r, 900r, 900c, tbr21, cn"),
    ('r2_variant = "cn"', 'r2_variant = "china"', "trunk.r2_variant", "must be one of none, itu"),
    ("[trunk]", "[trunks]", "trunks", "unknown key; allowed here: profile, tones"),
    ('r2_variant = "cn"', 'r2_variant = "cn"\nmfc = true', "trunk.mfc",
     "unknown key; allowed here: r2_variant"),
    ('impedance = "cn"', "", "line.impedance", "missing; add it"),
]


@pytest.mark.parametrize("old, new, key, message", BAD, ids=[b[2] + ":" + b[1][:20] for b in BAD])
def test_bad_profile_names_the_key_and_what_is_allowed(tmp_path, old, new, key, message):
    text = shipped_text("cn")
    assert old in text
    path = tmp_path / "bad.toml"
    path.write_text(text.replace(old, new, 1))
    with pytest.raises(ProfileError) as info:
        load_profile(path)
    error = info.value
    assert error.key == key
    assert str(error).startswith(f"{path}: {key}: ")
    assert message in str(error)


def test_section_that_is_not_a_table(tmp_path):
    path = tmp_path / "p.toml"
    text = shipped_text("cn").replace('[line]\nimpedance = "cn"\n', "")
    path.write_text('line = "600r"\n' + text)
    with pytest.raises(ProfileError, match=r": line: must be a table"):
        load_profile(path)


def test_missing_table(tmp_path):
    path = tmp_path / "p.toml"
    text = shipped_text("cn")
    path.write_text(text[:text.index("[trunk]")])
    with pytest.raises(ProfileError, match="trunk: missing; add the table"):
        load_profile(path)


def test_bad_plan_file_is_reported_through_tones_plan(tmp_path):
    (tmp_path / "broken.toml").write_text('[plan]\nname = "b"\n[tones.busy]\nlevel_dbm0 = 9.0\n')
    path = tmp_path / "p.toml"
    path.write_text(shipped_text("cn").replace('plan = "cn"', 'plan = "broken.toml"'))
    with pytest.raises(ProfileError) as info:
        load_profile(path)
    assert info.value.key == "tones.plan"
    assert "tones.busy.level_dbm0" in str(info.value)  # the plan's own key path


@pytest.mark.parametrize("content, message", [
    (b"\xff\xfe[profile]", "not UTF-8"),
    (b"[profile\nname = 1", "not valid TOML"),
])
def test_unreadable_text(tmp_path, content, message):
    path = tmp_path / "p.toml"
    path.write_bytes(content)
    with pytest.raises(ProfileError, match=message):
        load_profile(path)


def test_missing_file_and_unknown_name(tmp_path):
    with pytest.raises(ProfileError, match="cannot read the profile"):
        load_profile(tmp_path / "nope.toml")
    with pytest.raises(ProfileError, match="no such profile; use one of cn, etsi, us"):
        load_profile("mars")
    with pytest.raises(ProfileError, match="a shipped profile names a shipped plan"):
        from appliance.drivers.profiles.profile import _parse

        _parse(shipped_text("cn").replace('plan = "cn"', 'plan = "x.toml"').encode(), "cn.toml",
               None)


def test_profile_error_is_a_value_error():
    error = ProfileError(Path("a.toml"), "line.impedance", "bad")
    assert isinstance(error, ValueError)
    assert str(error) == "a.toml: line.impedance: bad"
