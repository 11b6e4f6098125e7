"""`appliance simulate` through click's CliRunner, plus one subprocess run as a user types
it. Short runs: the figures' agreement with theory is tests/engine/test_simulation.py's."""

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

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
        return runner.invoke(main, ["simulate", *[str(a) for a in args]],
                             prog_name="appliance", catch_exceptions=False)
    return invoke


def _json(result):
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


REQUIRED_KEYS = {"agents", "service_level", "service_level_ci", "asa", "p_wait",
                 "abandon_rate", "occupancy", "offered", "answered", "abandoned", "blocked",
                 "target_seconds", "ci_method", "definitions", "formula"}
SHORT = ("--hours", 6, "--warmup-hours", 0.5, "--workers", 1)


def test_agents_json_has_the_kpis_and_their_definitions(run):
    report = _json(run("--calls-per-hour", 100, "--aht", 180, "--agents", 7,
                       "--patience", 60, "--trunks", 10, *SHORT, "--json"))
    assert REQUIRED_KEYS <= set(report)
    assert report["agents"] == 7 and report["target_seconds"] == 20.0
    assert report["offered"] == (report["answered"] + report["abandoned"]
                                 + report["blocked"] + report["other"])
    assert report["offered"] > 400
    low, high = report["service_level_ci"]
    assert 0 <= low <= high <= 1
    assert "warm-up" in report["ci_method"] and "batch means" in report["ci_method"]
    assert report["formula"]["model"] == "finite-patience"
    assert report["with_audio"] is False


def test_same_seed_same_output_other_seed_differs(run):
    args = ("--calls-per-hour", 90, "--aht", 200, "--agents", 6, *SHORT, "--json")
    first, again = run(*args, "--seed", 3), run(*args, "--seed", 3)
    other = run(*args, "--seed", 4)
    assert first.stdout == again.stdout
    assert first.stdout != other.stdout


def test_target_sl_sweeps_from_the_formula_to_the_fewest_agents(run):
    report = _json(run("--calls-per-hour", 120, "--aht", 180, "--target-sl", 0.8,
                       "--target-seconds", 20, "--patience", 120, *SHORT, "--json"))
    table = {row["agents"]: row for row in report["table"]}
    best = report["agents"]
    assert table[best]["service_level"] >= 0.8
    assert best - 1 in table and table[best - 1]["service_level"] < 0.8
    assert report["target_sl"] == 0.8


def test_text_output_with_the_sweep_table(run):
    result = run("--calls-per-hour", 100, "--aht", 180, "--target-sl", 0.8, *SHORT)
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "service level:" in out and "95% CI" in out and "formula (erlang-c)" in out
    assert "agents  service level" in out and "confidence intervals: batch means" in out


@pytest.mark.parametrize("args, words", [
    (("--agents", 5, "--target-sl", 0.8), "contradict"),
    ((), "give --agents"),
    (("--agents", 3), "cannot be carried"),
    (("--agents", 7, "--press", "1"), "--press needs --config"),
    (("--agents", 7, "--ring-delay", 100, "--wrap-up", 100), "no talk time"),
    (("--agents", 7, "--ring-delay", 400), "--ring-delay"),
    (("--agents", 7, "--target-sl", 80), "write 0.8"),
    (("--agents", 70, "--with-audio"), "at most 64"),
])
def test_bad_flags_exit_2_with_the_fix(run, args, words):
    result = run("--calls-per-hour", 100, "--aht", 180, *args)
    assert result.exit_code == 2
    assert words in result.stderr
    assert "Traceback" not in result.stderr


def test_non_positive_rates_exit_2(run):
    for flag in ("--calls-per-hour", "--aht"):
        args = {"--calls-per-hour": 100, "--aht": 180}
        args[flag] = 0
        result = run(*[x for kv in args.items() for x in kv], "--agents", 7)
        assert result.exit_code == 2 and flag in result.stderr


def test_config_runs_its_queues_and_rejects_agents(run, tmp_path):
    from importlib import resources

    path = tmp_path / "centre.toml"
    path.write_text(resources.files("appliance.config").joinpath("sample.toml").read_text())
    report = _json(run("--calls-per-hour", 30, "--aht", 120, "--config", path, "--press", 1,
                       "--hours", 1, "--warmup-hours", 0.25, "--replications", 1,
                       "--workers", 1, "--json"))
    assert report["agents"] == 3 and report["answered"] > 0 and report["formula"] is None
    result = run("--calls-per-hour", 30, "--aht", 120, "--config", path, "--agents", 3)
    assert result.exit_code == 2 and "--config and --agents" in result.stderr


def test_as_a_user_types_it_in_a_subprocess():
    proc = subprocess.run(
        [sys.executable, "-m", "appliance", "simulate", "--calls-per-hour", "100", "--aht",
         "180", "--agents", "7", "--hours", "4", "--warmup-hours", "0.5", "--json"],
        capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert REQUIRED_KEYS <= set(report) and report["replications"] == 2
    assert proc.stderr == ""  # no progress bar when stderr is not a terminal
    bad = subprocess.run([sys.executable, "-m", "appliance", "simulate", "--calls-per-hour",
                          "-5", "--aht", "180", "--agents", "7"],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "--calls-per-hour" in bad.stderr


def test_config_without_an_inbound_line_and_bad_digits_exit_2(run, tmp_path):
    from importlib import resources

    text = resources.files("appliance.config").joinpath("sample.toml").read_text()
    path = tmp_path / "centre.toml"
    path.write_text(text)
    result = run("--calls-per-hour", 30, "--aht", 120, "--config", path, "--press", "1x")
    assert result.exit_code == 2 and "DTMF digits" in result.stderr
    path.write_text(text.replace('direction = "both"', 'direction = "outbound"'))
    result = run("--calls-per-hour", 30, "--aht", 120, "--config", path)
    assert result.exit_code == 2 and "no inbound analog trunk group" in result.stderr
