"""`appliance plan` through click's CliRunner, plus one subprocess run as a user types it."""

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from appliance.acd.erlang import Traffic, agents_for_service_level, evaluate, erlang_b
from appliance.cli import main


def _runner():
    try:  # click < 8.2 mixes stderr into output unless told not to
        return CliRunner(mix_stderr=False)
    except TypeError:
        return CliRunner()


@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runner = _runner()

    def invoke(*args):
        return runner.invoke(main, ["plan", *[str(a) for a in args]], prog_name="appliance",
                             catch_exceptions=False)
    return invoke


def _json(result):
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


REQUIRED_KEYS = {"agents", "service_level", "asa", "p_wait", "abandon_rate", "occupancy",
                 "offered", "answered", "abandoned", "blocked", "target_seconds", "model"}


def test_erlang_c_worked_example_solves_to_14_agents_with_a_table(run):
    result = run("--calls-per-hour", 200, "--aht", 180, "--target-sl", 0.8,
                 "--target-seconds", 20, "--shrinkage", 0.3)
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "model: Erlang C (M/M/n)" in out
    assert "agents: 14 answering, 20 scheduled with 30% shrinkage" in out
    assert "service level: 88.8% answered within 20 s" in out
    table = [line.split() for line in out.splitlines() if line[:1] in (" ", "*")
             and line.split()[-1].endswith("%")]
    assert [row[0] for row in table] == ["13", "*", "15"]
    assert "limits:" in out and "log-normal" in out
    assert "definitions: service level = answered within the target / all offered" in out
    assert result.stderr == ""


def test_json_has_the_issue_keys_and_agrees_with_the_library(run):
    doc = _json(run("--calls-per-hour", 200, "--aht", 180, "--target-sl", 0.8, "--json"))
    assert REQUIRED_KEYS <= doc.keys()
    traffic = Traffic(200, 180)
    assert doc["agents"] == agents_for_service_level(traffic, 0.8, 20) == 14
    perf = evaluate(traffic, 14, 20)
    assert doc["service_level"] == perf.service_level
    assert doc["asa"] == perf.asa and doc["p_wait"] == perf.p_wait
    assert doc["model"] == "erlang-c" and doc["target_seconds"] == 20
    assert [row["agents"] for row in doc["table"]] == [13, 14, 15]
    assert doc["table"][0]["service_level"] < 0.8 <= doc["table"][1]["service_level"]


@pytest.mark.parametrize("flags, model", [
    ((), "erlang-c"), (("--patience", 90), "erlang-a"), (("--trunks", 18), "finite"),
    (("--patience", 90, "--trunks", 18), "finite-patience")])
def test_the_model_follows_the_flags_and_totals_follow_hours(run, flags, model):
    doc = _json(run("--calls-per-hour", 200, "--aht", 180, "--agents", 12, "--hours", 8,
                    *flags, "--json"))
    assert doc["model"] == model
    assert doc["offered"] == pytest.approx(1600)
    assert doc["answered"] + doc["abandoned"] + doc["blocked"] == pytest.approx(1600)
    assert doc["occupancy"] == pytest.approx(10 * doc["answered"] / 1600 / 12)
    assert doc["service_level"] <= doc["answered"] / 1600 + 1e-12


def test_finite_trunks_equal_to_agents_block_as_erlang_b(run):
    doc = _json(run("--calls-per-hour", 200, "--aht", 180, "--agents", 12, "--trunks", 12,
                    "--json"))
    assert doc["blocking_rate"] == pytest.approx(erlang_b(12, 10.0), rel=1e-12)
    assert doc["p_wait"] == 0


def test_erlang_a_carries_an_overload_and_says_so(run):
    result = run("--calls-per-hour", 300, "--aht", 180, "--agents", 12, "--patience", 60)
    assert result.exit_code == 0, result.stderr
    assert "model: Erlang A (Palm, exponential patience) (M/M/n+M)" in result.stdout
    assert "note: " in result.stdout and "abandon" in result.stdout
    assert "abandoned within 20 s: " in result.stdout
    doc = _json(run("--calls-per-hour", 300, "--aht", 180, "--agents", 12, "--patience", 60,
                    "--json"))
    perf = evaluate(Traffic(300, 180, 60), 12, 20)
    assert doc["abandon_within_target_rate"] == perf.p_abandon_within_target > 0
    assert doc["service_level_excluding_short_abandons"] == pytest.approx(
        doc["service_level"] / (1 - doc["abandon_within_target_rate"]))


def test_abandon_and_asa_targets(run):
    doc = _json(run("--calls-per-hour", 200, "--aht", 180, "--patience", 120,
                    "--target-abandon", 0.02, "--target-asa", 5, "--json"))
    assert doc["abandon_rate"] <= 0.02 and doc["asa"] <= 5
    below = doc["table"][0]
    assert below["abandon_rate"] > 0.02 or below["asa"] > 5


def test_first_row_of_the_table_may_be_overloaded(run):
    # 10.5 Erlangs: 11 agents is the least Erlang C can carry; with 0.05 in 20 s, 11 meet it.
    doc = _json(run("--calls-per-hour", 210, "--aht", 180, "--target-sl", 0.05, "--json"))
    assert doc["agents"] == 11
    assert doc["table"][0] == {"agents": 10, "overloaded": True}
    result = run("--calls-per-hour", 210, "--aht", 180, "--target-sl", 0.05)
    assert "10  overloaded" in result.stdout


@pytest.mark.parametrize("args, flag", [
    (("--aht", 180, "--agents", 3), "--calls-per-hour"),
    (("--calls-per-hour", 200, "--agents", 3), "--aht"),
    (("--calls-per-hour", -5, "--aht", 180, "--agents", 3), "--calls-per-hour"),
    (("--calls-per-hour", 200, "--aht", 0, "--agents", 3), "--aht"),
    (("--calls-per-hour", 200, "--aht", "nan", "--agents", 3), "--aht"),
    (("--calls-per-hour", "inf", "--aht", 180, "--agents", 3), "--calls-per-hour"),
    (("--calls-per-hour", 200, "--aht", 180, "--agents", 0), "--agents"),
    (("--calls-per-hour", 200, "--aht", 180), "--agents"),
    (("--calls-per-hour", 200, "--aht", 180, "--agents", 14, "--target-sl", 0.8), "--agents"),
    (("--calls-per-hour", 200, "--aht", 180, "--target-sl", 80), "--target-sl"),
    (("--calls-per-hour", 200, "--aht", 180, "--target-sl", 0.8, "--target-seconds", -1),
     "--target-seconds"),
    (("--calls-per-hour", 200, "--aht", 180, "--agents", 10), "--agents"),   # overloaded
    (("--calls-per-hour", 200, "--aht", 180, "--agents", 14, "--patience", -3), "--patience"),
    (("--calls-per-hour", 200, "--aht", 180, "--agents", 14, "--trunks", 0), "--trunks"),
    (("--calls-per-hour", 200, "--aht", 180, "--agents", 14, "--shrinkage", 1), "--shrinkage"),
    (("--calls-per-hour", 200, "--aht", 180, "--agents", 14, "--hours", 0), "--hours"),
    (("--calls-per-hour", 200, "--aht", 180, "--target-abandon", 0.05), "--patience"),
    (("--calls-per-hour", 200, "--aht", 180, "--target-sl", 0.9, "--trunks", 11), "--trunks"),
])
def test_bad_flags_are_one_line_naming_the_flag_and_exit_2(run, args, flag):
    result = run(*args)
    assert result.exit_code == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ")
    assert flag in lines[0]
    assert "Traceback" not in result.stderr


def test_overload_message_gives_the_fix(run):
    result = run("--calls-per-hour", 200, "--aht", 180, "--agents", 10)
    assert "--agents 11 or more, or --patience" in result.stderr


def test_help_states_definitions_and_limits(run):
    result = run("--help")
    assert result.exit_code == 0
    text = " ".join(result.stdout.split())
    assert "Limits:" in text and "not exponential" in text
    assert "all offered calls" in text


def test_plan_as_a_user_runs_it():
    done = subprocess.run(
        [sys.executable, "-m", "appliance", "plan", "--calls-per-hour", "200", "--aht", "180",
         "--target-sl", "0.8", "--target-seconds", "20", "--patience", "120", "--json"],
        capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["model"] == "erlang-a" and doc["service_level"] >= 0.8
    assert doc["agents"] == agents_for_service_level(Traffic(200, 180, 120), 0.8, 20)
    bad = subprocess.run([sys.executable, "-m", "appliance", "plan", "--calls-per-hour", "200",
                          "--aht", "180", "--agents", "9"],
                         capture_output=True, text=True, timeout=120, check=False)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "--agents 9" in bad.stderr
