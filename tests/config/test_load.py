"""load_config: the shipped sample validates; each bad config gives its exact key path and
message, every problem at once."""

import datetime

import pytest

from appliance.config.load import SHIPPED_PROMPTS
from appliance.config import (
    ConfigError,
    Direction,
    PortKind,
    RecordingFormat,
    RecordingLayout,
    RecordingMode,
    load_config,
    parse_config,
    sample_path,
)

SAMPLE = sample_path().read_text(encoding="utf-8")


def _edit(*pairs):
    """The sample with each (old, new) replaced once; old must be in it."""
    text = SAMPLE
    for old, new in pairs:
        assert text.count(old) >= 1, old
        text = text.replace(old, new, 1)
    return text


def _errors(text):
    with pytest.raises(ConfigError) as caught:
        parse_config(text, source="bad.toml")
    return [(i.path, i.message) for i in caught.value.issues if i.severity == "error"]


def test_sample_config_validates_on_an_emulated_board():
    config = load_config(sample_path())
    assert config.warnings == ()
    board = config.boards["main"]
    assert board.emulated and board.url == "inprocess://main"
    assert board.port_kinds == (PortKind.FXO,) * 4 + (PortKind.FXS,) * 4
    assert config.country == "cn" and config.tone_plan == "cn"
    assert config.trunks["pstn"].ports == (0, 1, 2, 3)
    assert config.trunks["pstn"].direction is Direction.BOTH
    assert {s.port for s in config.stations.values()} == {4, 5, 6, 7}
    assert config.queues["sales"].overflow == "queue:support"
    assert config.agents["1001"].skills == (("english", 5), ("sales", 8))
    office = config.schedules["office"]
    assert office.hours[0] == ((9 * 60, 12 * 60), (13 * 60, 18 * 60))
    assert office.hours[6] == ()
    assert datetime.date(2026, 10, 1) in office.holidays
    assert config.recording.mode is RecordingMode.ALL
    assert config.recording.layout is RecordingLayout.STEREO
    assert config.recording.format is RecordingFormat.FLAC
    assert config.storage.recordings_dir == config.storage.data_dir / "recordings"
    assert set(config.ivr) == {"main", "menu", "sales", "support", "operator", "closed"}
    assert config.agents["1001"].station == "desk1"


def test_dial_policy_refusals_say_why():
    dial = load_config(sample_path()).dial
    assert dial.refusal("0044123456") == "starts with '00', which dial.deny refuses"
    assert dial.refusal("55512") == "matches no prefix of dial.allow (0, 1)"
    assert dial.refusal("01") == "has 2 digits; dial.min_digits / max_digits allow 3 to 15"
    assert dial.refusal("+4412345") == "is not digits only"
    text = SAMPLE.replace("trunk = \"pstn\"\n", "")
    assert parse_config(text).dial.refusal("0123456") == (
        "cannot be dialled: no outside transfers without dial.trunk; set it to an outbound "
        "trunk group")


def test_dial_policy_of_the_sample():
    dial = load_config(sample_path()).dial
    assert dial.allows("013800138000")
    assert not dial.allows("0044123456")  # "00" denied
    assert not dial.allows("09001234")  # "0900" denied
    assert not dial.allows("55512")  # no allowed prefix
    assert not dial.allows("01")  # shorter than min_digits
    assert not dial.allows("0" + "1" * 15)  # longer than max_digits
    assert not dial.allows("01a23")


BAD = [
    # (id, edits, key path, message)
    ("unknown-top-key", [("[site]", "qeues = 1\n[site]")], "qeues",
     "unknown key (did you mean 'queues'?); allowed here: site, skills, boards, trunks, "
     "stations, queues, agents, schedules, recording, storage, dial, ivr"),
    ("top-key-inside-a-table", [("name = \"sample call centre\"",
                                 "name = \"x\"\nskills = [\"sales\"]")],
     "site.skills", "unknown key here; 'skills' is a top-level key: move it above the first "
     "[table] (TOML puts a key after [site] into it)"),
    ("misspelt-key", [("max_wait_s = 180", "max_wait = 180")], "queues.sales.max_wait",
     "unknown key (did you mean 'max_wait_s'?); allowed here: skills, max_wait_s, overflow, "
     "schedule, strategy, priority, wrap_up_s, ring_s, announce_s, exit_digit, "
     "callback_digit, escalation"),
    ("unknown-strategy", [("max_wait_s = 180", "max_wait_s = 180\nstrategy = \"longest\"")],
     "queues.sales.strategy", "is 'longest' (did you mean 'longest_idle'?); allowed: "
     "'fewest_calls', 'least_talk_time', 'longest_idle', 'random', 'ring_all', 'round_robin', "
     "'skills_based', 'top_down'"),
    ("exit-digit", [("max_wait_s = 180", "max_wait_s = 180\nexit_digit = \"12\"")],
     "queues.sales.exit_digit", "is '12' (did you mean '2'?); allowed: '0', '1', '2', '3', "
     "'4', '5', '6', '7', '8', '9', '*', '#'"),
    ("wrong-type", [("max_wait_s = 180", "max_wait_s = \"180\"")], "queues.sales.max_wait_s",
     "is a string ('180'); expected an integer"),
    ("out-of-range", [("max_wait_s = 180", "max_wait_s = 90000")], "queues.sales.max_wait_s",
     "is 90000 s; allowed: from 0 to 86400 s"),
    ("bad-choice", [("layout = \"stereo\"", "layout = \"stero\"")], "recording.layout",
     "is 'stero' (did you mean 'stereo'?); allowed: 'mixed', 'stereo'"),
    ("bad-format", [("format = \"flac\"", "format = \"mp3\"")], "recording.format",
     "is 'mp3'; allowed: 'wav-pcm16', 'wav-alaw', 'wav-ulaw', 'flac'"),
    ("unknown-country", [("country = \"cn\"", "country = \"usa\"")], "site.country",
     "'usa' is not a usable country profile (did you mean 'us'?): no such profile; use one of "
     "cn, etsi, us or the path of a .toml profile file"),
    ("unknown-tone-plan", [("# tone_plan = \"cn\"", "tone_plan = \"xx\"")], "site.tone_plan",
     "'xx' is not a usable tone plan: no such plan; use one of cn, etsi, us or the path of a "
     ".toml plan file"),
    ("queue-missing-skill", [("skills = [\"support\"]", "skills = [\"suport\"]")],
     "queues.support.skills.0", "skill 'suport' is not defined (did you mean 'support'?); add "
     "it to skills = [...] at the top or use one of: sales, support, english"),
    ("agent-missing-skill", [("support = 9, english = 9", "support = 9, french = 9")],
     "agents.1003.skills.french", "skill 'french' is not defined; add it to skills = [...] at "
     "the top or use one of: sales, support, english"),
    ("skill-level-range", [("sales = 8", "sales = 11")], "agents.1001.skills.sales",
     "is 11; allowed: from 1 to 10"),
    ("pin-not-digits", [("pin = \"4821\"", "pin = \"48a1\"")], "agents.1001.pin",
     "is not a PIN; use 4-8 digits in quotes, e.g. pin = \"4821\""),
    ("pin-as-number", [("pin = \"4821\"", "pin = 4821")], "agents.1001.pin",
     "is an integer (4821); expected a string"),
    ("station-on-fxo-port", [("port = 7", "port = 2")], "stations.supervisor.port",
     "port 2 of board 'main' is FXO; a station needs an FXS port (its FXS ports are 4-7)"),
    ("station-port-off-board", [("port = 7", "port = 8")], "stations.supervisor.port",
     "port 8 is not on board 'main', whose ports are 0-7 (4fxo+4fxs)"),
    ("two-stations-one-port", [("port = 7", "port = 6")], "stations.supervisor.port",
     "port 6 of board 'main' already feeds station 'desk3'; one station per FXS port"),
    ("duplicate-extension", [("extension = \"109\"", "extension = \"103\"")],
     "stations.supervisor.extension",
     "103 is already the extension of station 'desk3'; give each station its own"),
    ("bad-extension", [("extension = \"109\"", "extension = \"1x9\"")],
     "stations.supervisor.extension", "'1x9' is not an extension; use 2-8 digits, e.g. \"101\""),
    ("trunk-on-missing-board", [("board = \"main\"\nports = [0, 1, 2, 3]",
                                 "board = \"mian\"\nports = [0, 1, 2, 3]")],
     "trunks.pstn.board", "names board 'mian', which is not defined (did you mean 'main'?); "
     "boards: main"),
    ("trunk-board-names-a-station", [("board = \"main\"\nports = [0, 1, 2, 3]",
                                      "board = \"desk1\"\nports = [0, 1, 2, 3]")],
     "trunks.pstn.board", "names board 'desk1', which is not defined; boards: main"),
    ("station-on-a-broken-board", [("ports = \"4fxo+4fxs\"", "ports = \"4fxo+4fxs+3e1\"")],
     "boards.main.ports", "98 ports; a board has at most 64 (an E1 span is 30): split them "
     "over several boards"),
    ("trunk-on-fxs-port", [("ports = [0, 1, 2, 3]", "ports = [0, 1, 2, 4]")],
     "trunks.pstn.ports.3",
     "port 4 of board 'main' is FXS; an FXO trunk needs an FXO port (its FXO ports are 0-3)"),
    ("trunk-span-missing", [("ports = [0, 1, 2, 3]", "spans = [0]")], "trunks.pstn.spans.0",
     "span 0 is not on board 'main', which has no E1 span"),
    ("trunk-ports-and-spans", [("ports = [0, 1, 2, 3]", "ports = [0]\nspans = [0]")],
     "trunks.pstn", "give ports (FXO port numbers) or spans (E1 span numbers), one of them"),
    ("trunk-missing-flow", [("flow = \"main\"", "flow = \"mian\"")], "trunks.pstn.flow",
     "names IVR node 'mian', which is not defined (did you mean 'main'?); IVR nodes: main, "
     "menu, sales, support, operator, closed"),
    ("bad-port-layout", [("ports = \"4fxo+4fxs\"", "ports = \"4fxo+4fsx\"")],
     "boards.main.ports", "'4fsx' is not a port group; write terms like 8fxo, 8fxs or 1e1 "
     "joined by '+', e.g. \"8fxo+8fxs\""),
    ("bad-board-url", [("url = \"inprocess://main\"", "url = \"emulator\""),
                       ("emulated = true", "emulated = false")],
     "boards.main.url", "'emulator' is not a board URL; use a device path (/dev/ttyACM0), "
     "socket://HOST:PORT, usb://VID:PID[/SERIAL] or inprocess://NAME"),
    ("emulated-not-inprocess", [("url = \"inprocess://main\"",
                                 "url = \"socket://127.0.0.1:5000\"")],
     "boards.main.url",
     "an emulated board is reached in-process; write url = \"inprocess://main\""),
    ("emulated-model-differs", [("emulated = true", "emulated = true\nmodel = \"VB-8FXS\"")],
     "boards.main.model", "is 'VB-8FXS', but an emulated 4fxo+4fxs board reports "
     "'VB-4FXO4FXS'; write that or leave model out"),
    ("two-boards-one-url", [("[trunks.pstn]", "[boards.second]\nurl = \"inprocess://main\"\n"
                             "ports = \"2fxo\"\n\n[trunks.pstn]")],
     "boards.second.url",
     "'inprocess://main' is already the URL of board 'main'; each board has its own link"),
    ("overflow-missing-queue", [("overflow = \"queue:support\"", "overflow = \"queue:suport\"")],
     "queues.sales.overflow", "names queue 'suport', which is not defined (did you mean "
     "'support'?); queues: sales, support"),
    ("overflow-to-itself", [("overflow = \"queue:support\"", "overflow = \"queue:sales\"")],
     "queues.sales.overflow",
     "overflows to its own queue; name another queue, 'voicemail' or 'hangup'"),
    ("overflow-bad-target", [("overflow = \"queue:support\"", "overflow = \"busy\"")],
     "queues.sales.overflow", "'busy' is not an overflow target; use \"hangup\", \"voicemail\", "
     "\"queue:NAME\", \"station:NAME\" or \"flow:NODE\""),
    ("queue-missing-schedule", [("schedule = \"office\"\n\n[queues.support]",
                                 "schedule = \"ofice\"\n\n[queues.support]")],
     "queues.sales.schedule", "names schedule 'ofice', which is not defined (did you mean "
     "'office'?); schedules: office"),
    ("bad-time-zone", [("Asia/Shanghai", "Asia/Shanghia")], "schedules.office.time_zone",
     "'Asia/Shanghia' is not a time zone (did you mean 'Asia/Shanghai'?); use an IANA name "
     "such as \"Asia/Shanghai\" or \"Europe/London\""),
    ("bad-hours", [("saturday = [\"10:00-14:00\"]", "saturday = [\"14:00-10:00\"]")],
     "schedules.office.saturday.0", "'14:00-10:00' is not a span of hours; write "
     "\"HH:MM-HH:MM\" with the start before the end, e.g. \"09:00-17:30\""),
    ("overlapping-hours", [("saturday = [\"10:00-14:00\"]",
                            "saturday = [\"10:00-14:00\", \"13:00-15:00\"]")],
     "schedules.office.saturday.1", "'13:00-15:00' overlaps another span of saturday; merge "
     "them"),
    ("bad-holiday", [("2027-01-01]", "\"2027-02-30\"]")], "schedules.office.holidays.2",
     "'2027-02-30' is not a date; write YYYY-MM-DD, e.g. 2026-10-01"),
    ("recording-queues-empty", [("mode = \"all\"", "mode = \"queues\"")], "recording.queues",
     "is missing or empty; with mode = \"queues\" list the queues whose calls are recorded"),
    ("dial-missing-trunk", [("trunk = \"pstn\"", "trunk = \"pstm\"")], "dial.trunk",
     "names trunk group 'pstm', which is not defined (did you mean 'pstn'?); trunk groups: "
     "pstn"),
    ("dial-inbound-trunk", [("direction = \"both\"", "direction = \"inbound\"")], "dial.trunk",
     "trunk group 'pstn' is inbound only; transfers go out on a group with direction "
     "\"outbound\" or \"both\""),
    ("dial-bad-prefix", [("deny = [\"00\", \"0900\"]", "deny = [\"00\", \"+44\"]")],
     "dial.deny.1", "'+44' is not a number prefix; use up to 16 digits (\"\" matches every "
     "number)"),
    ("dial-min-over-max", [("min_digits = 3", "min_digits = 16")], "dial.min_digits",
     "is 16, more than max_digits (15); make it at most max_digits"),
    ("ivr-node-not-a-table", [("# IVR (appliance.ivr)", "[ivr]\nhello = 3\n# IVR")],
     "ivr.hello", "must be a table (a node with a type)"),
    ("overflow-missing-station", [("overflow = \"voicemail\"", "overflow = \"station:desk9\"")],
     "queues.support.overflow", "names station 'desk9', which is not defined (did you mean "
     "'desk3'?); stations: desk1, desk2, desk3, supervisor"),
    ("agent-missing-station", [("station = \"desk3\"", "station = \"103\"")],
     "agents.1003.station", "names station '103', which is not defined; stations: desk1, "
     "desk2, desk3, supervisor"),
    ("ivr-option-to-missing-node", [("options = { 1 = \"sales\"", "options = { 1 = \"sals\"")],
     "ivr.menu.options.1", "goes to 'sals', which is not a node (did you mean 'sales'?)"),
    ("ivr-queue-not-configured", [("queue = \"support\"\n\n[ivr.operator]",
                                   "queue = \"suport\"\n\n[ivr.operator]")],
     "ivr.support.queue", "'suport' is not a configured queue (did you mean 'support'?)"),
    ("ivr-missing-prompt-file", [("prompts = \"builtin:beep\"", "prompts = \"no-such.wav\"")],
     "ivr.menu.prompts.0",
     f"prompt 'no-such.wav' not found (looked for ./no-such.wav, "
     f"{SHIPPED_PROMPTS}/no-such.wav)"),
    ("missing-required", [("name = \"Sam Taylor\"\n", "")], "agents.1003.name",
     "is missing; it is required"),
    # the ACD's keys: skill levels, callback digit, escalation, agent order and no-answer
    ("queue-skill-level-range", [("skills = [\"sales\"]", "skills = { sales = 0 }")],
     "queues.sales.skills.sales", "is 0; allowed: from 1 to 10"),
    ("queue-skill-level-missing-skill", [("skills = [\"sales\"]", "skills = { slaes = 3 }")],
     "queues.sales.skills.slaes", "skill 'slaes' is not defined (did you mean 'sales'?); add "
     "it to skills = [...] at the top or use one of: sales, support, english"),
    ("queue-skills-empty-table", [("skills = [\"sales\"]", "skills = {}")],
     "queues.sales.skills", "is empty; a queue needs at least one skill"),
    ("queue-skills-not-a-list", [("skills = [\"sales\"]", "skills = \"sales\"")],
     "queues.sales.skills", "is a string; expected an array of skills, e.g. [\"sales\"], or "
     "a table of skill = minimum level (1-10), e.g. { sales = 3, english = 5 }"),
    ("callback-digit", [("max_wait_s = 180", "max_wait_s = 180\ncallback_digit = \"x\"")],
     "queues.sales.callback_digit", "is 'x'; allowed: '0', '1', '2', '3', '4', '5', '6', "
     "'7', '8', '9', '*', '#'"),
    ("callback-digit-is-exit-digit",
     [("max_wait_s = 180", "max_wait_s = 180\nexit_digit = \"9\"\ncallback_digit = \"9\"")],
     "queues.sales.callback_digit",
     "is '9', the same as exit_digit; give the callback another digit"),
    ("callback-digit-without-dial-trunk",
     [("max_wait_s = 180", "max_wait_s = 180\ncallback_digit = \"5\""),
      ("trunk = \"pstn\"\n", "")],
     "queues.sales.callback_digit", "callbacks are dialled on dial.trunk, which is not set; "
     "set trunk in [dial] to an outbound trunk group or leave callback_digit out"),
    ("escalation-not-an-array", [("max_wait_s = 180", "max_wait_s = 180\nescalation = 60")],
     "queues.sales.escalation", "is an integer; expected an array of steps, e.g. escalation "
     "= [{ after_s = 60, min_level = 2 }, { after_s = 120, queue = \"support\" }]"),
    ("escalation-step-not-a-table",
     [("max_wait_s = 180", "max_wait_s = 180\nescalation = [60]")],
     "queues.sales.escalation.0", "is an integer; expected a table, e.g. escalation = "
     "[{ after_s = 60, min_level = 2 }, { after_s = 120, queue = \"support\" }]"),
    ("escalation-both", [("max_wait_s = 180", "max_wait_s = 180\nescalation = "
                          "[{ after_s = 60, min_level = 2, queue = \"support\" }]")],
     "queues.sales.escalation.0", "give min_level (widen the skill levels) or queue (add "
     "another queue's agents), one of the two"),
    ("escalation-neither", [("max_wait_s = 180",
                             "max_wait_s = 180\nescalation = [{ after_s = 60 }]")],
     "queues.sales.escalation.0", "give min_level (widen the skill levels) or queue (add "
     "another queue's agents), one of the two"),
    ("escalation-missing-after",
     [("max_wait_s = 180", "max_wait_s = 180\nescalation = [{ min_level = 2 }]")],
     "queues.sales.escalation.0.after_s", "is missing; it is required: the seconds a caller "
     "waits before this step, e.g. after_s = 60"),
    ("escalation-fractional-seconds",
     [("max_wait_s = 180", "max_wait_s = 180\nescalation = [{ after_s = 60.5, "
                           "min_level = 2 }]")],
     "queues.sales.escalation.0.after_s", "is 60.5; give whole seconds, e.g. after_s = 60"),
    ("escalation-negative-seconds",
     [("max_wait_s = 180", "max_wait_s = 180\nescalation = [{ after_s = -1, "
                           "min_level = 2 }]")],
     "queues.sales.escalation.0.after_s", "is -1 s; allowed: from 0 to 86400 s"),
    ("escalation-level-range",
     [("max_wait_s = 180", "max_wait_s = 180\nescalation = [{ after_s = 30, "
                           "min_level = 11 }]")],
     "queues.sales.escalation.0.min_level", "is 11; allowed: from 1 to 10"),
    ("escalation-unknown-key",
     [("max_wait_s = 180", "max_wait_s = 180\nescalation = [{ after_s = 30, level = 1 }]")],
     "queues.sales.escalation.0.level", "unknown key (did you mean 'min_level'?); allowed "
     "here: after_s, min_level, queue"),
    ("escalation-missing-queue",
     [("max_wait_s = 180", "max_wait_s = 180\nescalation = [{ after_s = 30, "
                           "queue = \"suport\" }]")],
     "queues.sales.escalation.0.queue", "names queue 'suport', which is not defined (did you "
     "mean 'support'?); queues: sales, support"),
    ("escalation-own-queue",
     [("max_wait_s = 180", "max_wait_s = 180\nescalation = [{ after_s = 30, "
                           "queue = \"sales\" }]")],
     "queues.sales.escalation.0.queue", "names its own queue; name another queue whose agents "
     "may take its callers, or use min_level"),
    ("agent-order-negative", [("pin = \"4821\"", "pin = \"4821\"\norder = -1")],
     "agents.1001.order", "is -1; allowed: from 0 to 9999"),
    ("agent-order-not-integer", [("pin = \"4821\"", "pin = \"4821\"\norder = \"first\"")],
     "agents.1001.order", "is a string ('first'); expected an integer"),
    ("agent-max-no-answer-range", [("pin = \"4821\"", "pin = \"4821\"\nmax_no_answer = 50")],
     "agents.1001.max_no_answer", "is 50; allowed: from 0 to 20"),
    ("agent-unknown-key", [("pin = \"4821\"", "pin = \"4821\"\nrank = 1")],
     "agents.1001.rank", "unknown key; allowed here: name, skills, pin, station, order, "
     "max_no_answer, role, supervises"),
]


@pytest.mark.parametrize("edits, path, message", [case[1:] for case in BAD],
                         ids=[case[0] for case in BAD])
def test_bad_config_names_key_path_and_fix(edits, path, message):
    assert _errors(_edit(*edits)) == [(path, message)]


def test_every_error_is_reported_at_once():
    text = _edit(("port = 7", "port = 2"), ("max_wait_s = 180", "max_wait_s = -5"),
                 ("format = \"flac\"", "format = \"ogg\""), ("pin = \"7305\"", "pin = \"7\""))
    paths = [path for path, _ in _errors(text)]
    assert paths == ["stations.supervisor.port", "queues.sales.max_wait_s",
                     "agents.1002.pin", "recording.format"]


def test_ivr_and_other_sections_reported_together():
    text = _edit(("options = { 1 = \"sales\"", "options = { 1 = \"sals\""),
                 ("format = \"flac\"", "format = \"ogg\""))
    assert [path for path, _ in _errors(text)] == ["recording.format", "ivr.menu.options.1"]


def test_ivr_transfer_to_an_outside_number_follows_the_dial_policy():
    text = _edit(("station = \"supervisor\"\n", "number = \"0044123456\"\n"))
    assert _errors(text) == [("ivr.operator.number",
                              "'0044123456' starts with '00', which dial.deny refuses")]
    assert parse_config(_edit(("station = \"supervisor\"\n", "number = \"013800138000\"\n")))


def test_toml_syntax_error_gives_line_and_column():
    text = SAMPLE.replace("max_wait_s = 180", "max_wait_s = = 180")
    line = text.splitlines().index("max_wait_s = = 180") + 1
    assert _errors(text) == [(f"line {line}, column 14",
                              "not valid TOML: Invalid value; fix the syntax there")]


def test_an_empty_file_says_what_to_add():
    assert _errors("") == [
        ("site", "is missing; it is required: add [site] with country = \"cn\" (or another "
         "country profile)"),
        ("boards", "is missing; it is required: add a board, e.g. [boards.main] with url = "
         "\"inprocess://main\", ports = \"4fxo+4fxs\" and emulated = true")]
    assert _errors("[site]\n[boards]\n") == [
        ("site.country", "is missing; it is required: a country profile: cn, etsi, us"),
        ("boards", "is empty; add a board, e.g. [boards.main] with url = \"inprocess://main\", "
         "ports = \"4fxo+4fxs\" and emulated = true")]


def test_missing_file_is_one_issue(tmp_path):
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "none.toml")
    assert [i.message for i in caught.value.issues] == [
        "cannot read the file (No such file or directory); give the path of the appliance's "
        ".toml config with --config"]
    assert caught.value.source == str(tmp_path / "none.toml")


def test_warnings_do_not_stop_the_config():
    text = _edit(("[agents.1003]\nname = \"Sam Taylor\"\nskills = { support = 9, english = 9 }",
                  "[agents.1003]\nname = \"Sam Taylor\"\nskills = { sales = 9 }"),
                 ("skills = { support = 7, sales = 3 }", "skills = { sales = 3 }"),
                 ("sales = 8, english = 5", "sales = 8"))
    config = parse_config(text)
    assert [(i.path, i.message) for i in config.warnings] == [
        ("queues.support.skills", "no agent has all of support; callers wait 300 s and "
         "overflow"),
        ("skills.2", "skill 'english' is used by no queue and no agent")]


def test_relative_storage_paths_are_from_the_files_folder(tmp_path):
    text = _edit(("data_dir = \"~/.local/share/appliance\"",
                  "data_dir = \"data\"\nrecordings_dir = \"/srv/rec\""))
    path = tmp_path / "appliance.toml"
    path.write_text(text, encoding="utf-8")
    storage = load_config(path).storage
    assert storage.data_dir == tmp_path / "data"
    assert str(storage.recordings_dir) == "/srv/rec"


def test_e1_trunk_on_a_span():
    text = _edit(("ports = \"4fxo+4fxs\"", "ports = \"4fxo+4fxs+1e1\""),
                 ("[stations.desk1]", "[trunks.e1]\nboard = \"main\"\nspans = [0]\n"
                                      "flow = \"main\"\n\n[stations.desk1]"))
    config = parse_config(text)
    assert config.trunks["e1"].kind is PortKind.E1 and config.trunks["e1"].spans == (0,)
    assert config.boards["main"].spans == (0,) and len(config.boards["main"].port_kinds) == 38


def test_sample_board_is_what_the_emulator_builds():
    from appliance.drivers.emulator.model import BoardModel, PortKind as EmulatedKind

    config = load_config(sample_path())
    board = config.boards["main"]
    model = BoardModel.from_ports(board.ports)
    assert set(model.ports_of(EmulatedKind.FXS)) == {s.port for s in config.stations.values()}
    assert set(model.ports_of(EmulatedKind.FXO)) == set(config.trunks["pstn"].ports)
    assert board.model is None or board.model == model.model


@pytest.mark.parametrize("spec", ["4fxo+4fxs", "1fxo", "fxs", "8fxo+1e1", "2e1+4fxs", "e1",
                                  " 2FXO + 2fxs ", "64fxs", "65fxs", "3e1", "9e1", "0fxo",
                                  "4fxo+", "fxo4", "", "2e1+5fxo"])
def test_port_spec_reads_as_the_emulator_does(spec):
    """appliance.config.ports mirrors BoardModel.from_ports without importing the emulator."""
    from appliance.config.ports import parse_port_spec
    from appliance.drivers.emulator.errors import EmulatorConfigError
    from appliance.drivers.emulator.model import BoardModel

    try:
        emulated = BoardModel.from_ports(spec)
    except EmulatorConfigError as exc:
        with pytest.raises(ValueError) as caught:
            parse_port_spec(spec)
        assert str(caught.value) == exc.problem
        return
    layout = parse_port_spec(spec)
    assert layout.kinds == tuple(PortKind(p.kind.name.lower()) for p in emulated.ports)
    assert layout.spans == emulated.spans
    assert layout.model == emulated.model


def test_acd_keys_reach_the_queue_and_agent_specs():
    """Skill minimum levels, the callback digit, escalation steps, agent order and
    max_no_answer from the file, as the ACD gets them (appliance.acd.specs_from_config)."""
    from appliance.acd import Escalation, specs_from_config
    from appliance.config import EscalationStep

    text = _edit(("skills = [\"sales\"]", "skills = { sales = 5, english = 3 }"),
                 ("max_wait_s = 180", "max_wait_s = 180\ncallback_digit = \"5\"\n"
                  "exit_digit = \"0\"\nescalation = [{ after_s = 120, queue = \"support\" }, "
                  "{ after_s = 60, min_level = 2 }]"),
                 ("pin = \"4821\"", "pin = \"4821\"\norder = 9\nmax_no_answer = 0"))
    config = parse_config(text)
    sales = config.queues["sales"]
    assert sales.skills == ("sales", "english")
    assert sales.skill_levels == (("sales", 5), ("english", 3))
    assert (sales.callback_digit, sales.exit_digit) == ("5", "0")
    assert sales.escalation == (EscalationStep(60, min_level=2),
                                EscalationStep(120, queue="support"))
    assert config.queues["support"].skill_levels == (("support", 1),)
    assert config.agents["1001"].order == 9 and config.agents["1001"].max_no_answer == 0
    assert config.agents["1002"].order is None and config.agents["1002"].max_no_answer == 2
    queues, agents = specs_from_config(config)
    assert dict(queues["sales"].skills) == {"sales": 5, "english": 3}
    assert queues["sales"].callback_digit == "5"
    assert queues["sales"].escalation == (Escalation(60, min_level=2),
                                          Escalation(120, add_queue="support"))
    assert (agents["1001"].order, agents["1001"].max_no_answer) == (9, 0)
    assert (agents["1002"].order, agents["1003"].order) == (1, 2)  # the file's order
    assert config.warnings == ()  # Li Na has sales 8, english 5


def test_skill_levels_no_agent_meets_is_a_warning():
    text = _edit(("skills = [\"sales\"]", "skills = { sales = 9 }"))
    assert [(i.path, i.message) for i in parse_config(text).warnings] == [
        ("queues.sales.skills", "no agent has all of sales at level 9; callers wait 180 s "
         "and overflow")]


def test_the_samples_commented_acd_keys_validate_when_uncommented():
    text = SAMPLE
    for key in ("# callback_digit = ", "# escalation = ", "# order = ", "# max_no_answer = "):
        assert key in text, key
        text = text.replace(key, key[2:])
    config = parse_config(text)
    assert config.queues["sales"].callback_digit == "5"
    assert [s.after_s for s in config.queues["sales"].escalation] == [60, 120]
    assert (config.agents["1001"].order, config.agents["1001"].max_no_answer) == (1, 2)


def test_skill_levels_met_only_after_an_escalation_step_is_no_warning():
    text = _edit(("skills = [\"sales\"]", "skills = { sales = 9 }"),
                 ("max_wait_s = 180", "max_wait_s = 180\nescalation = [{ after_s = 30, "
                  "min_level = 5 }]"))
    assert parse_config(text).warnings == ()
    text = _edit(("skills = [\"sales\"]", "skills = { sales = 10 }"),
                 ("max_wait_s = 180", "max_wait_s = 180\nescalation = [{ after_s = 30, "
                  "queue = \"support\" }]"))
    assert parse_config(text).warnings == ()
