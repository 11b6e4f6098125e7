"""check_flows: what `appliance config check` reports about a parsed IVR graph."""

from appliance.ivr import check_flows

from .helpers import flows_of, readme_example

ALL_PROMPTS = lambda path: True  # noqa: E731


def test_readme_example_is_clean_with_its_prompts():
    flows = flows_of(readme_example(), prompt_dirs=["/p"])
    assert check_flows(flows, ALL_PROMPTS, entries=["start"]) == []
    assert check_flows(flows, ALL_PROMPTS) == []  # "start" is the only node nothing goes to


def test_missing_prompt_is_an_error_naming_where_it_looked():
    flows = flows_of(readme_example(), prompt_dirs=["/a", "/b"])
    present = {"/a/welcome.wav", "/b/main-menu.wav", "/a/sorry-no-input.wav",
               "/a/sorry-invalid.wav", "/a/support-menu.wav", "/a/enter-account.wav",
               "/a/closed.wav", "/a/leave-message.wav", "/a/holiday.wav"}
    issues = check_flows(flows, present.__contains__)
    assert [(str(i), i.severity) for i in issues] == [
        ("ivr.account.invalid_prompts.0: prompt 'account-invalid.wav' not found (looked for"
         " /a/account-invalid.wav, /b/account-invalid.wav)", "error")]


def test_builtin_prompts_are_never_missing():
    flows = flows_of('[ivr.p]\ntype="play"\nprompts="builtin:beep"\nnext="h"\n'
                     '[ivr.h]\ntype="hangup"\n')
    assert check_flows(flows, lambda p: False) == []


def test_unreachable_nodes_are_warnings():
    flows = flows_of("""
[ivr.main]
type = "menu"
prompts = "m.wav"
options = { 1 = "sales" }
fallback = "sales"
[ivr.sales]
type = "queue"
queue = "sales"
[ivr.orphan_a]
type = "goto"
to = "orphan_b"
[ivr.orphan_b]
type = "play"
prompts = "x.wav"
next = "orphan_a"
[ivr.old]
type = "hangup"
""")
    issues = check_flows(flows, ALL_PROMPTS, entries=["main"])
    unreachable = [(i.path, i.severity) for i in issues if "unreachable" in i.message]
    assert unreachable == [("ivr.orphan_a", "warning"), ("ivr.orphan_b", "warning"),
                           ("ivr.old", "warning")]
    # Without entries, a node nothing goes to is an entry; an island cycle still is not.
    issues = check_flows(flows, ALL_PROMPTS)
    assert [i.path for i in issues if "unreachable" in i.message] == ["ivr.orphan_a",
                                                                      "ivr.orphan_b"]


def test_entry_that_is_not_a_node():
    flows = flows_of('[ivr.h]\ntype="hangup"\n')
    assert [str(i) for i in check_flows(flows, ALL_PROMPTS, entries=["h", "main"])] == [
        "ivr.main: is used as an IVR entry but is not a node"]


def test_loop_that_spins_without_input_is_an_error():
    flows = flows_of("""
[ivr.start]
type = "schedule"
schedule = "office"
open = "a"
closed = "menu"
[ivr.a]
type = "goto"
to = "b"
[ivr.b]
type = "lookup"
found = "a"
not_found = "start"
[ivr.menu]
type = "menu"
prompts = "m.wav"
options = { 1 = "start" }
fallback = "start"
""")
    issues = check_flows(flows, ALL_PROMPTS, entries=["start"])
    assert [(str(i), i.severity) for i in issues] == [
        ("ivr.a: loops through a, b, start without waiting for input or playing anything:"
         " a call would spin forever", "error")]


def test_self_goto_is_a_spinning_loop():
    flows = flows_of('[ivr.g]\ntype="goto"\nto="g"\n')
    issues = check_flows(flows, ALL_PROMPTS, entries=["g"])
    assert [(i.path, i.severity) for i in issues] == [("ivr.g", "error")]


def test_loop_of_prompts_without_input_is_a_warning():
    flows = flows_of("""
[ivr.hold]
type = "play"
prompts = "please-hold.wav"
next = "again"
[ivr.again]
type = "goto"
to = "hold"
""")
    issues = check_flows(flows, ALL_PROMPTS, entries=["hold"])
    assert [(str(i), i.severity) for i in issues] == [
        ("ivr.again: loops through again, hold and none of them waits for input: the caller"
         " can never leave", "warning")]


def test_loop_through_a_menu_is_fine():
    flows = flows_of("""
[ivr.main]
type = "menu"
prompts = "m.wav"
options = { 1 = "info", 2 = "q" }
fallback = "main"
[ivr.info]
type = "play"
prompts = "i.wav"
next = "main"
[ivr.q]
type = "queue"
queue = "sales"
""")
    assert check_flows(flows, ALL_PROMPTS, entries=["main"]) == []


def test_back_before_any_menu_without_fallback_is_a_warning():
    text = """
[ivr.start]
type = "play"
prompts = "hello.wav"
barge_in = true
next = "up"
[ivr.up]
type = "back"
[ivr.main]
type = "menu"
prompts = "m.wav"
options = { 0 = "up2" }
fallback = "up"
[ivr.up2]
type = "back"
"""
    flows = flows_of(text)
    issues = check_flows(flows, ALL_PROMPTS, entries=["start", "main"])
    assert [(str(i), i.severity) for i in issues] == [
        ("ivr.up: a call can get here before any menu, with no menu to go back to, and is then"
         " hung up; give it a fallback", "warning"),
        ("ivr.up2: it is an option of the first menu a call enters, with no menu to go back"
         " to, and is then hung up; give it a fallback", "warning")]
    # Entered only from start (a play), main is still a first menu: 0 has nowhere to go.
    flows = flows_of(text.replace('type = "back"\n[ivr.main]',
                                  'type = "back"\nfallback = "main"\n[ivr.main]'))
    assert [i.path for i in check_flows(flows, ALL_PROMPTS, entries=["start"])] == ["ivr.up2"]
    # Under a main menu, the same menu's back is fine.
    flows = flows_of(text.replace('options = { 0 = "up2" }', 'options = { 0 = "up2", 1 = "sub" }')
                     + '[ivr.sub]\ntype="menu"\nprompts="s.wav"\noptions={ 0 = "up3" }\n'
                       'fallback="up3"\n[ivr.up3]\ntype="back"\n')
    assert "ivr.up3" not in [i.path for i in check_flows(flows, ALL_PROMPTS, entries=["main"])]
