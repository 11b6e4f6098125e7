"""docs/config-reference.md is generated from the config loader (docs/make_config_reference.py)
and committed: it must be what the generator makes from today's code, and name every key
the sample configuration uses, in the table it belongs to."""

import importlib.util
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _generator():
    spec = importlib.util.spec_from_file_location(
        "make_config_reference", ROOT / "docs" / "make_config_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_committed_reference_is_up_to_date():
    built = _generator().build()
    committed = (ROOT / "docs" / "config-reference.md").read_text(encoding="utf-8")
    assert committed == built, ("docs/config-reference.md is stale: run "
                                "python docs/make_config_reference.py and commit it")


def _sections(text):
    """{'[queues.NAME]': {keys}} from the reference's tables."""
    out = {}
    for part in re.split(r"^## ", text, flags=re.M)[1:]:
        title = part.splitlines()[0].strip()
        out[title] = set(re.findall(r"^\| `([a-z_]+)` \|", part, flags=re.M))
    return out


def test_every_key_of_the_sample_is_in_its_table():
    sections = _sections((ROOT / "docs" / "config-reference.md").read_text(encoding="utf-8"))
    sample = tomllib.loads((ROOT / "appliance" / "config" / "sample.toml")
                           .read_text(encoding="utf-8"))
    named = {"boards": "NAME", "trunks": "NAME", "stations": "NAME", "queues": "NAME",
             "agents": "ID", "schedules": "NAME"}
    for table, value in sample.items():
        if table == "ivr":
            continue
        if not isinstance(value, dict):
            assert table in sections["top level"]
        elif table in named:
            for entry in value.values():
                assert set(entry) <= sections[f"[{table}.{named[table]}]"], table
        else:
            assert set(value) <= sections[f"[{table}]"], table


def test_a_new_choice_in_the_code_shows_up_in_the_reference():
    """Choices are evaluated from the loader's module, not copied: every routing strategy
    of appliance.acd.strategies is listed for queues.NAME.strategy."""
    from appliance.acd.strategies import STRATEGIES

    line = next(line for line in _generator().build().splitlines()
                if line.startswith("| `strategy` |"))
    for name in STRATEGIES:
        assert f"`{name}`" in line


def test_the_scenario_example_in_the_docs_loads():
    """docs/scenarios.md's example is a scenario the emulator accepts as written."""
    from appliance.drivers.emulator import parse_scenario

    text = (ROOT / "docs" / "scenarios.md").read_text(encoding="utf-8")
    example = re.search(r"## Example\n\n```toml\n(.*?)```", text, re.S).group(1)
    scenario = parse_scenario(example, "docs/scenarios.md")
    assert scenario.seconds == 60.0 and len(scenario.model.ports) == 4


def test_the_docs_link_to_files_that_exist():
    for page in sorted((ROOT / "docs").glob("*.md")) + [ROOT / "README.md"]:
        text = page.read_text(encoding="utf-8")
        for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", text):
            assert (page.parent / target).exists(), f"{page.name}: link to {target}"
