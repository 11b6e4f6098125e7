"""`appliance config check | show`: exit 0 for a usable file (warnings printed), exit 2 and
one line per issue for a bad one; through click's runner and as a subprocess."""

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from appliance.cli import main
from appliance.config import sample_path

SAMPLE = sample_path().read_text(encoding="utf-8")
BAD = SAMPLE.replace("port = 7", "port = 2").replace("max_wait_s = 180", "max_wait = 180")
WARN = (SAMPLE.replace("skills = { support = 9, english = 9 }", "skills = { support = 9 }")
        .replace("sales = 8, english = 5", "sales = 8"))


@pytest.fixture
def runner():
    return CliRunner()


def _file(tmp_path, text, name="appliance.toml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_check_sample_is_valid(runner):
    result = runner.invoke(main, ["config", "check", "--config", str(sample_path())])
    assert result.exit_code == 0, result.output
    assert result.output == (f"{sample_path()}: valid (1 board(s), 4 station(s), 2 queue(s), "
                             "3 agent(s), 0 warning(s))\n")


def test_check_bad_config_lists_every_error_and_exits_2(runner, tmp_path):
    path = _file(tmp_path, BAD)
    result = runner.invoke(main, ["config", "check", "--config", path])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"Error: {path}: 2 error(s)",
        "  stations.supervisor.port: port 2 of board 'main' is FXO; a station needs an FXS "
        "port (its FXS ports are 4-7)",
        "  queues.sales.max_wait: unknown key (did you mean 'max_wait_s'?); allowed here: "
        "skills, max_wait_s, overflow, schedule, strategy, priority, wrap_up_s, ring_s, "
        "announce_s, exit_digit, callback_digit, escalation",
    ]


def test_check_prints_warnings_and_exits_0(runner, tmp_path):
    path = _file(tmp_path, WARN)
    result = runner.invoke(main, ["config", "check", "--config", path])
    assert result.exit_code == 0
    assert result.stderr == ("warning: skills.2: skill 'english' is used by no queue and no "
                             "agent\n")
    assert result.stdout.endswith("1 warning(s))\n")


def test_check_json(runner, tmp_path):
    result = runner.invoke(main, ["config", "check", "--json", "--config", _file(tmp_path, BAD)])
    assert result.exit_code == 2
    data = json.loads(result.stdout)
    assert data["valid"] is False and data["warnings"] == []
    assert [e["path"] for e in data["errors"]] == ["stations.supervisor.port",
                                                   "queues.sales.max_wait"]
    result = runner.invoke(main, ["config", "check", "--json", "--config",
                                  _file(tmp_path, WARN, "warn.toml")])
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["valid"] is True and [w["path"] for w in data["warnings"]] == ["skills.2"]


def test_check_missing_file_exits_2(runner, tmp_path):
    missing = str(tmp_path / "nope.toml")
    result = runner.invoke(main, ["config", "check", "--config", missing])
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"Error: {missing}: 1 error(s)",
        "  cannot read the file (No such file or directory); give the path of the "
        "appliance's .toml config with --config"]


def test_config_from_environment(runner, tmp_path):
    result = runner.invoke(main, ["config", "check"], env={"APPLIANCE_CONFIG": str(sample_path())})
    assert result.exit_code == 0 and "valid" in result.stdout


def test_show_prints_the_effective_config(runner):
    result = runner.invoke(main, ["config", "show", "--config", str(sample_path())])
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert 'boards.main.url = "inprocess://main"' in lines
    assert 'queues.support.max_wait_s = 300' in lines
    assert 'recording.format = "flac"' in lines
    assert 'schedules.office.holidays = ["2026-10-01", "2026-10-02", "2027-01-01"]' in lines
    assert any(line.startswith("storage.recordings_dir = ") and line.endswith('/recordings"')
               for line in lines)


def test_show_json_round_trips(runner):
    result = runner.invoke(main, ["config", "show", "--json", "--config", str(sample_path())])
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["stations"]["desk1"] == {"name": "desk1", "extension": "101", "board": "main",
                                         "port": 4}
    assert data["agents"]["1002"]["skills"] == [["sales", 3], ["support", 7]]
    assert data["dial"]["deny"] == ["00", "0900"]


def test_show_bad_config_exits_2(runner, tmp_path):
    result = runner.invoke(main, ["config", "show", "--config", _file(tmp_path, BAD)])
    assert result.exit_code == 2 and "stations.supervisor.port" in result.stderr


def _run(*args):
    return subprocess.run([sys.executable, "-m", "appliance", *args], capture_output=True,
                          text=True, check=False, timeout=120)


def test_config_check_subprocess_exit_codes(tmp_path):
    good = _run("config", "check", "--config", str(sample_path()))
    assert (good.returncode, good.stderr) == (0, "")
    bad = _run("config", "check", "--config", _file(tmp_path, BAD))
    assert bad.returncode == 2
    assert "Traceback" not in bad.stderr
    assert len(bad.stderr.splitlines()) == 3
    warn = _run("config", "check", "--config", _file(tmp_path, WARN, "warn.toml"))
    assert warn.returncode == 0 and warn.stderr.startswith("warning: skills.2: ")


def test_diff_lists_live_and_restart_changes(runner, tmp_path):
    new = _file(tmp_path, SAMPLE.replace("max_wait_s = 180", "max_wait_s = 100")
                .replace("\"4fxo+4fxs\"", "\"4fxo+8fxs\""), "new.toml")
    result = runner.invoke(main, ["config", "diff", new, "--config", str(sample_path())])
    assert result.exit_code == 0
    assert result.stdout.splitlines() == ["boards.main: changed; needs a restart",
                                          "queues.sales: changed; applies to new calls"]
    result = runner.invoke(main, ["config", "diff", "--json", new, "--config",
                                  str(sample_path())])
    assert json.loads(result.stdout) == {
        "changes": [{"path": "boards.main", "change": "changed", "restart": True},
                    {"path": "queues.sales", "change": "changed", "restart": False}],
        "needs_restart": True}


def test_diff_same_file_is_no_change(runner):
    result = runner.invoke(main, ["config", "diff", str(sample_path()), "--config",
                                  str(sample_path())])
    assert (result.exit_code, result.stdout) == (0, "no change\n")


def test_diff_to_invalid_file_exits_2(runner, tmp_path):
    new = _file(tmp_path, BAD, "new.toml")
    result = runner.invoke(main, ["config", "diff", new, "--config", str(sample_path())])
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.splitlines()[0] == f"Error: {new}: 2 error(s)"
    result = runner.invoke(main, ["config", "diff", str(tmp_path / "none.toml"), "--config",
                                  str(sample_path())])
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: Invalid value for NEW: cannot read ")
