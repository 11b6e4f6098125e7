"""parse_flows: the [ivr] table into nodes, every mistake reported with its key path."""

import pytest

from appliance.ivr import (
    TICKS_PER_SECOND, BackNode, CollectNode, GotoNode, HangupNode, LookupNode, MenuNode,
    NodeType, PlayNode, QueueNode, ScheduleNode, TransferNode, VoicemailNode, parse_flows,
)

from .helpers import flows_of, issue_map, parse, readme_example


def test_readme_example_parses_cleanly():
    flows = flows_of(readme_example(), prompt_dirs=["/var/lib/appliance/prompts"])
    assert len(flows) == 13
    assert {n.type for n in flows.nodes.values()} == set(NodeType) - {NodeType.GOTO}
    main = flows["main"]
    assert isinstance(main, MenuNode)
    assert dict(main.options) == {"1": "sales", "2": "support", "3": "account", "0": "operator"}
    assert main.retry.no_input_prompts == ("sorry-no-input.wav",)
    assert main.retry.invalid_prompts == ("sorry-invalid.wav",)
    assert main.timeout_ticks == 5 * TICKS_PER_SECOND
    assert flows.prompt_paths("welcome.wav") == ["/var/lib/appliance/prompts/welcome.wav"]
    assert flows.prompt_paths("builtin:beep") == []


def test_each_node_type_with_its_settings_and_defaults():
    flows = flows_of("""
[ivr.p]
type = "play"
prompts = "a.wav"
next = "m"
[ivr.m]
type = "menu"
prompts = ["m1.wav", "m2.wav"]
options = { 1 = "c", "*" = "g", "#" = "b" }
timeout = 2.5
barge_in = false
fallback = "h"
no_input_limit = 2
invalid_limit = 4
no_input_fallback = "t"
max_failures = 5
[ivr.c]
type = "collect"
prompts = "c.wav"
digits = 4
terminator = ""
first_digit_timeout = 0.01
variable = "pin"
next = "s"
fallback = "h"
[ivr.s]
type = "schedule"
schedule = "office"
open = "l"
closed = "v"
[ivr.l]
type = "lookup"
found = "q"
[ivr.q]
type = "queue"
queue = "sales"
[ivr.v]
type = "voicemail"
mailbox = "general"
max_length = 30
beep = false
[ivr.t]
type = "transfer"
number = "+4930123456"
[ivr.h]
type = "hangup"
[ivr.g]
type = "goto"
to = "p"
[ivr.b]
type = "back"
fallback = "h"
""")
    assert flows["p"] == PlayNode("p", prompts=("a.wav",), next="m", barge_in=False)
    m = flows["m"]
    assert m.prompts == ("m1.wav", "m2.wav") and m.timeout_ticks == 125 and not m.barge_in
    assert (m.retry.no_input_limit, m.retry.invalid_limit, m.retry.max_failures) == (2, 4, 5)
    assert m.retry.no_input_fallback == "t" and m.retry.invalid_fallback == ""
    c = flows["c"]
    assert isinstance(c, CollectNode)
    assert (c.max_digits, c.min_digits, c.terminator) == (4, 4, "")
    assert c.first_digit_timeout_ticks == 1  # 10 ms rounds to at least one tick
    assert c.inter_digit_timeout_ticks == 3 * TICKS_PER_SECOND
    assert flows["s"] == ScheduleNode("s", schedule="office", open="l", closed="v", holiday="")
    lk = flows["l"]
    assert isinstance(lk, LookupNode) and lk.key == "caller" and lk.not_found == "q"
    assert flows["q"] == QueueNode("q", queue="sales", priority=0)
    assert flows["v"] == VoicemailNode("v", mailbox="general", prompts=(),
                                       max_length_ticks=30 * TICKS_PER_SECOND, beep=False)
    assert flows["t"] == TransferNode("t", number="+4930123456")
    assert flows["h"] == HangupNode("h", reason="ivr")
    assert flows["g"] == GotoNode("g", to="p")
    assert flows["b"] == BackNode("b", fallback="h")


# Each bad config: TOML, the key path of the issue, a fragment of its message.
BAD = [
    ("menu_option_to_missing_node",
     '[ivr.main]\ntype="menu"\nprompts="m.wav"\noptions={1="sales", 9="sales2"}\nfallback="sales"\n'
     '[ivr.sales]\ntype="queue"\nqueue="sales"\n',
     "ivr.main.options.9", "goes to 'sales2', which is not a node (did you mean 'sales'?)"),
    ("menu_option_not_a_digit",
     '[ivr.m]\ntype="menu"\nprompts="m.wav"\noptions={12="h"}\nfallback="h"\n[ivr.h]\ntype="hangup"\n',
     "ivr.m.options.12", "is not one DTMF digit"),
    ("menu_without_options",
     '[ivr.m]\ntype="menu"\nprompts="m.wav"\nfallback="h"\n[ivr.h]\ntype="hangup"\n',
     "ivr.m.options", "missing"),
    ("menu_empty_options",
     '[ivr.m]\ntype="menu"\nprompts="m.wav"\noptions={}\nfallback="h"\n[ivr.h]\ntype="hangup"\n',
     "ivr.m.options", "must be a table of digit = node"),
    ("menu_without_fallback",
     '[ivr.m]\ntype="menu"\nprompts="m.wav"\noptions={1="h"}\n[ivr.h]\ntype="hangup"\n',
     "ivr.m.fallback", "missing"),
    ("menu_without_prompts",
     '[ivr.m]\ntype="menu"\noptions={1="h"}\nfallback="h"\n[ivr.h]\ntype="hangup"\n',
     "ivr.m.prompts", "missing"),
    ("menu_empty_prompt_list",
     '[ivr.m]\ntype="menu"\nprompts=[]\noptions={1="h"}\nfallback="h"\n[ivr.h]\ntype="hangup"\n',
     "ivr.m.prompts", "non-empty list"),
    ("menu_timeout_zero",
     '[ivr.m]\ntype="menu"\nprompts="m.wav"\noptions={1="h"}\nfallback="h"\ntimeout=0\n'
     '[ivr.h]\ntype="hangup"\n',
     "ivr.m.timeout", "more than 0 and at most 60"),
    ("menu_timeout_string",
     '[ivr.m]\ntype="menu"\nprompts="m.wav"\noptions={1="h"}\nfallback="h"\ntimeout="5s"\n'
     '[ivr.h]\ntype="hangup"\n',
     "ivr.m.timeout", "number of seconds"),
    ("menu_limit_zero",
     '[ivr.m]\ntype="menu"\nprompts="m.wav"\noptions={1="h"}\nfallback="h"\nno_input_limit=0\n'
     '[ivr.h]\ntype="hangup"\n',
     "ivr.m.no_input_limit", "whole number from 1 to 20"),
    ("menu_invalid_limit_float",
     '[ivr.m]\ntype="menu"\nprompts="m.wav"\noptions={1="h"}\nfallback="h"\ninvalid_limit=2.5\n'
     '[ivr.h]\ntype="hangup"\n',
     "ivr.m.invalid_limit", "whole number"),
    ("menu_barge_in_not_bool",
     '[ivr.m]\ntype="menu"\nprompts="m.wav"\noptions={1="h"}\nfallback="h"\nbarge_in="yes"\n'
     '[ivr.h]\ntype="hangup"\n',
     "ivr.m.barge_in", "true or false"),
    ("menu_invalid_fallback_missing_node",
     '[ivr.m]\ntype="menu"\nprompts="m.wav"\noptions={1="h"}\nfallback="h"\n'
     'invalid_fallback="nowhere"\n[ivr.h]\ntype="hangup"\n',
     "ivr.m.invalid_fallback", "goes to 'nowhere', which is not a node"),
    ("unknown_setting",
     '[ivr.p]\ntype="play"\nprompts="a.wav"\nnext="h"\nbargein=true\n[ivr.h]\ntype="hangup"\n',
     "ivr.p.bargein", "is not a setting of a play node; allowed: barge_in"),
    ("missing_type",
     '[ivr.p]\nprompts="a.wav"\n', "ivr.p.type", "missing; one of play, menu"),
    ("unknown_type",
     '[ivr.p]\ntype="ivr-menu"\n', "ivr.p.type", "'ivr-menu' is not a node type"),
    ("node_not_a_table", 'ivr.p = "hello"\n', "ivr.p", "must be a table"),
    ("bad_node_name",
     '[ivr."main menu"]\ntype="hangup"\n', "ivr.main menu", "is not a valid node name"),
    ("play_without_next",
     '[ivr.p]\ntype="play"\nprompts="a.wav"\n', "ivr.p.next", "missing"),
    ("play_next_not_a_string",
     '[ivr.p]\ntype="play"\nprompts="a.wav"\nnext=3\n', "ivr.p.next", "must name a node"),
    ("prompt_not_a_string",
     '[ivr.p]\ntype="play"\nprompts=["a.wav", 7]\nnext="p"\n', "ivr.p.prompts.1",
     "must be a prompt file name"),
    ("prompt_escapes_directory",
     '[ivr.p]\ntype="play"\nprompts="../../etc/passwd"\nnext="p"\n', "ivr.p.prompts",
     "may not contain '..'"),
    ("unknown_builtin",
     '[ivr.p]\ntype="play"\nprompts="builtin:chime"\nnext="p"\n', "ivr.p.prompts",
     "is not a built-in prompt; there are: builtin:beep"),
    ("collect_without_digits",
     '[ivr.c]\ntype="collect"\nprompts="c.wav"\nvariable="x"\nnext="h"\nfallback="h"\n'
     '[ivr.h]\ntype="hangup"\n', "ivr.c.digits", "missing"),
    ("collect_too_many_digits",
     '[ivr.c]\ntype="collect"\nprompts="c.wav"\ndigits=40\nvariable="x"\nnext="h"\nfallback="h"\n'
     '[ivr.h]\ntype="hangup"\n', "ivr.c.digits", "from 1 to 32"),
    ("collect_min_over_max",
     '[ivr.c]\ntype="collect"\nprompts="c.wav"\ndigits=4\nmin_digits=6\nvariable="x"\nnext="h"\n'
     'fallback="h"\n[ivr.h]\ntype="hangup"\n', "ivr.c.min_digits", "6 is more than digits = 4"),
    ("collect_bad_terminator",
     '[ivr.c]\ntype="collect"\nprompts="c.wav"\ndigits=4\nterminator="0"\nvariable="x"\n'
     'next="h"\nfallback="h"\n[ivr.h]\ntype="hangup"\n', "ivr.c.terminator", "must be \"#\""),
    ("collect_without_variable",
     '[ivr.c]\ntype="collect"\nprompts="c.wav"\ndigits=4\nnext="h"\nfallback="h"\n'
     '[ivr.h]\ntype="hangup"\n', "ivr.c.variable", "missing"),
    ("collect_bad_variable_name",
     '[ivr.c]\ntype="collect"\nprompts="c.wav"\ndigits=4\nvariable="my var"\nnext="h"\n'
     'fallback="h"\n[ivr.h]\ntype="hangup"\n', "ivr.c.variable", "is not a valid variable name"),
    ("collect_inter_digit_timeout_too_long",
     '[ivr.c]\ntype="collect"\nprompts="c.wav"\ndigits=4\nvariable="x"\nnext="h"\nfallback="h"\n'
     'inter_digit_timeout=61\n[ivr.h]\ntype="hangup"\n', "ivr.c.inter_digit_timeout",
     "at most 60"),
    ("schedule_unknown",
     '[ivr.s]\ntype="schedule"\nschedule="ofice"\nopen="h"\nclosed="h"\n[ivr.h]\ntype="hangup"\n',
     "ivr.s.schedule", "'ofice' is not a configured schedule (did you mean 'office'?)"),
    ("schedule_without_closed",
     '[ivr.s]\ntype="schedule"\nschedule="office"\nopen="h"\n[ivr.h]\ntype="hangup"\n',
     "ivr.s.closed", "missing"),
    ("schedule_holiday_missing_node",
     '[ivr.s]\ntype="schedule"\nschedule="office"\nopen="h"\nclosed="h"\nholiday="xmas"\n'
     '[ivr.h]\ntype="hangup"\n', "ivr.s.holiday", "goes to 'xmas', which is not a node"),
    ("lookup_without_found",
     '[ivr.l]\ntype="lookup"\n', "ivr.l.found", "missing"),
    ("lookup_fields_not_a_table",
     '[ivr.l]\ntype="lookup"\nfound="l"\nfields=["name"]\n', "ivr.l.fields",
     "must be a table of variable"),
    ("lookup_field_not_a_string",
     '[ivr.l]\ntype="lookup"\nfound="l"\nfields={name=3}\n', "ivr.l.fields.name",
     "must name a record field"),
    ("queue_unknown",
     '[ivr.q]\ntype="queue"\nqueue="sale"\n', "ivr.q.queue",
     "'sale' is not a configured queue (did you mean 'sales'?)"),
    ("queue_without_name", '[ivr.q]\ntype="queue"\n', "ivr.q.queue", "missing"),
    ("queue_priority_out_of_range",
     '[ivr.q]\ntype="queue"\nqueue="sales"\npriority=10\n', "ivr.q.priority", "from 0 to 9"),
    ("voicemail_without_mailbox", '[ivr.v]\ntype="voicemail"\n', "ivr.v.mailbox", "missing"),
    ("voicemail_too_long",
     '[ivr.v]\ntype="voicemail"\nmailbox="m"\nmax_length=3600\n', "ivr.v.max_length",
     "at most 600"),
    ("voicemail_bad_mailbox",
     '[ivr.v]\ntype="voicemail"\nmailbox="a/b"\n', "ivr.v.mailbox", "is not a valid mailbox"),
    ("transfer_unknown_station",
     '[ivr.t]\ntype="transfer"\nstation="recepton"\n', "ivr.t.station",
     "'recepton' is not a configured station (did you mean 'reception'?)"),
    ("transfer_nothing", '[ivr.t]\ntype="transfer"\n', "ivr.t.station", "missing"),
    ("transfer_both",
     '[ivr.t]\ntype="transfer"\nstation="reception"\nnumber="123"\n', "ivr.t.number",
     "either station or number, not both"),
    ("transfer_number_not_dialable",
     '[ivr.t]\ntype="transfer"\nnumber="call-me"\n', "ivr.t.number",
     "'call-me' is not a dialable number"),
    ("goto_missing_target", '[ivr.g]\ntype="goto"\nto="nowhere"\n', "ivr.g.to",
     "goes to 'nowhere', which is not a node"),
    ("goto_without_to", '[ivr.g]\ntype="goto"\n', "ivr.g.to", "missing"),
    ("back_fallback_missing_node", '[ivr.b]\ntype="back"\nfallback="x"\n', "ivr.b.fallback",
     "goes to 'x', which is not a node"),
    ("hangup_reason_empty", '[ivr.h]\ntype="hangup"\nreason=""\n', "ivr.h.reason",
     "non-empty string"),
    ("description_not_a_string", '[ivr.h]\ntype="hangup"\ndescription=1\n',
     "ivr.h.description", "non-empty string"),
]


@pytest.mark.parametrize("text,path,fragment", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_config_names_the_key_path(text, path, fragment):
    flows, issues = parse(text)
    found = issue_map(issues)
    assert path in found, [str(i) for i in issues]
    assert fragment in found[path].message
    assert found[path].severity == "error"
    # The node with the mistake is left out, so nothing can run a half-parsed node.
    assert path.split(".")[1] not in flows.nodes


def test_no_queues_configured_says_so():
    _, issues = parse('[ivr.q]\ntype="queue"\nqueue="sales"\n', queues=())
    assert [str(i) for i in issues] == [
        "ivr.q.queue: 'sales' is not a configured queue (no queues are configured)"]


def test_dial_policy_is_the_callers():
    text = '[ivr.t]\ntype="transfer"\nnumber="0900123"\n'
    flows, issues = parse(text, dial_policy=lambda n: "is a premium number"
                          if n.startswith("0900") else None)
    assert [str(i) for i in issues] == ["ivr.t.number: '0900123' is a premium number"]
    flows, issues = parse(text)  # the default policy allows any plain number
    assert issues == [] and flows["t"].number == "0900123"


def test_schedules_unchecked_when_not_given():
    flows, issues = parse('[ivr.s]\ntype="schedule"\nschedule="any"\nopen="s"\nclosed="s"\n',
                          schedules=None)
    assert issues == [] and flows["s"].schedule == "any"


def test_every_issue_at_once_with_its_own_where():
    text = "\n".join(b[1] for b in BAD if b[0] in (
        "menu_option_to_missing_node", "queue_unknown", "goto_missing_target",
        "voicemail_too_long", "unknown_type"))
    flows, issues = parse(text, where="flows")
    paths = sorted(i.path for i in issues)
    assert paths == ["flows.g.to", "flows.main.options.9", "flows.p.type", "flows.q.queue",
                     "flows.v.max_length"]
    assert set(flows.nodes) == {"sales"}


def test_not_a_table_at_all():
    flows, issues = parse_flows(["main"])
    assert [str(i) for i in issues] == ["ivr: must be a table of IVR nodes"]
    assert len(flows) == 0


def test_bad_prompt_dir():
    _, issues = parse_flows({}, prompt_dirs=["/ok", ""])
    assert [str(i) for i in issues] == ["ivr.prompt_dirs.1: must be a directory name, not ''"]
