"""`appliance stats`, `cdr`, `recordings` as an installer runs them: click's CliRunner on a
database a real box run filled (the demo's callers on the sample's emulated board, 40 s of
board time), found through the configuration's storage.data_dir; subprocesses for the
sound card (PortAudio reads the ALSA configuration when it starts).
"""

import asyncio
import csv
import datetime
import io
import json
import os
import subprocess
import sys
import types
import zoneinfo
from pathlib import Path

import pytest
import soundfile
from click.testing import CliRunner

import appliance.cli.history as history_cli
from appliance.cli import main
from appliance.config import load_config, sample_path
from appliance.store import Store

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
ORIGIN = int(datetime.datetime(2026, 11, 23, 10, 0, tzinfo=SHANGHAI).timestamp() * 1000)
DAY = ["--from", "2026-11-23", "--to", "2026-11-24", "--tz", "Asia/Shanghai"]


def _runner():
    try:  # click < 8.2 mixes stderr into output unless told not to
        return CliRunner(mix_stderr=False)
    except TypeError:
        return CliRunner()


@pytest.fixture(scope="module")
def box(tmp_path_factory):
    """A configuration file (the sample, its data in the test's folder) and the database
    a 40 s run of the box with it filled."""
    from appliance.drivers.emulator import load_scenario
    from appliance.engine.box import Box
    from appliance.engine.demo import scenario_path

    folder = tmp_path_factory.mktemp("cli-history")
    text = Path(sample_path()).read_text(encoding="utf-8")
    text = text.replace('data_dir = "~/.local/share/appliance"', 'data_dir = "data"')
    config_path = folder / "appliance.toml"
    config_path.write_text(text, encoding="utf-8")
    config = load_config(config_path)
    run = Box(config, scenario=load_scenario(str(scenario_path())), virtual=True,
              until_s=40.0, origin_ms=ORIGIN, config_path=config_path)
    asyncio.run(run.run())
    with Store.open(run.database) as store:
        cdrs = store.cdrs()
        queued = store.events(kind="queued")
    return types.SimpleNamespace(config=config_path, data=folder / "data", cdrs=cdrs,
                                 queued=queued)


@pytest.fixture
def appliance(box, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("APPLIANCE_CONFIG", raising=False)
    runner = _runner()

    def invoke(*args, config=True):
        extra = ["--config", str(box.config)] if config else []
        return runner.invoke(main, [str(a) for a in args] + extra, prog_name="appliance",
                             catch_exceptions=False)
    return invoke


def one_error_line(result, *words):
    assert result.exit_code == 2, result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


# ---- stats --------------------------------------------------------------------------------

def test_stats_table_states_the_formula_and_has_a_row_per_queue(appliance, box):
    result = appliance("stats", *DAY, "--interval", "15m")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("KPIs  2026-11-23 00:00:00 to 2026-11-24 00:00:00 "
                               "Asia/Shanghai, per 15m, by queue")
    assert lines[1] == ("service level = answered within 20 s / offered (abandoned and "
                        "overflowed included)")
    rows = [line.split() for line in lines if line.startswith("2026-11-23 10:00:00")]
    offered = {}
    for event in box.queued:
        offered[event.queue] = offered.get(event.queue, 0) + 1
    assert {r[2]: int(r[3]) for r in rows} == offered
    assert "no activity not shown" in lines[-1]


def test_stats_csv_and_json_parse_and_agree(appliance, box):
    as_csv = appliance("stats", *DAY, "--interval", "60m", "--csv")
    as_json = appliance("stats", *DAY, "--interval", "60m", "--json")
    assert as_csv.exit_code == 0 and as_json.exit_code == 0
    table = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    report = json.loads(as_json.stdout)
    assert len(table) == len(report["rows"]) == 24 * 2  # every hour, both queues
    for row, record in zip(table, report["rows"]):
        assert (row["key"], int(row["offered"]), int(row["answered"])) == \
            (record["key"], record["offered"], record["answered"])
    assert sum(r["offered"] for r in report["rows"]) == len(box.queued)
    assert report["sl_formula"] == "offered" and report["zone"] == "Asia/Shanghai"


def test_stats_for_the_whole_centre(appliance, box):
    result = appliance("stats", *DAY, "--by", "centre", "--interval", "day", "--json")
    assert result.exit_code == 0, result.stderr
    (row,) = json.loads(result.stdout)["rows"]
    assert row["key"] == "centre" and row["offered"] == len(box.queued)


def test_a_configured_queue_without_calls_is_an_empty_table(appliance):
    result = appliance("stats", "--queue", "support", "--from", "2099-01-01", "--to",
                       "2099-01-02")
    assert result.exit_code == 0, result.stderr
    assert "no calls and no agent logged in in this range" in result.stdout


def test_stats_other_formula_per_agent(appliance):
    result = appliance("stats", *DAY, "--by", "agent", "--interval", "day",
                       "--sl-formula", "answered", "--target", "2.5", "--json")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["sl_definition"] == "answered within 2.5 s / answered"
    agents = {r["key"]: r for r in report["rows"]}
    assert {"1001", "1002", "1003"} <= set(agents)
    assert all(r["handled"] >= 1 for k, r in agents.items() if k is not None)


@pytest.mark.parametrize("args, words", [
    (["--interval", "17m"], ["--interval", "15m"]),
    (["--from", "soon"], ["--from", "2026-11-23"]),
    (["--from", "2026-11-24", "--to", "2026-11-23"], ["--to", "after the start"]),
    (["--queue", "billing", *DAY], ["--queue", "sales, support"]),
    (["--agent", "9999", *DAY], ["--agent", "1001"]),
    (["--tz", "Mars/Olympus"], ["--tz", "IANA"]),
    (["--sl-formula", "best"], ["--sl-formula"]),
    (["--csv", "--json"], ["--csv and --json"]),
    (["--target", "-3"], ["--target"]),
])
def test_stats_bad_options_exit_2_naming_the_option(appliance, args, words):
    one_error_line(appliance("stats", *args), *words)


def test_no_database_names_the_path_and_the_fix(appliance, tmp_path):
    result = appliance("stats", "--data-dir", tmp_path / "empty", config=False)
    one_error_line(result, str(tmp_path / "empty" / "appliance.db"), "no database there")
    bad = tmp_path / "bad.toml"
    bad.write_text("[site]\ncountry = 'xx'\n", encoding="utf-8")
    result = appliance("cdr", "--config", bad, config=False)
    assert result.exit_code == 2 and "site.country" in result.stderr


# ---- cdr ----------------------------------------------------------------------------------

def test_cdr_table_newest_first_and_search_by_number(appliance, box):
    result = appliance("cdr", "--tz", "Asia/Shanghai")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["start", "call", "caller", "name", "queue", "agent",
                                "disposition", "duration", "recorded"]
    newest = max(box.cdrs, key=lambda c: (c.start_ms, c.call_id))
    assert lines[1].split()[2] == newest.call_id
    caller = box.cdrs[0].caller_number
    spaced = f"{caller[:3]} {caller[3:7]}-{caller[7:]}"
    found = appliance("cdr", "--number", spaced, "--json")
    records = [json.loads(line) for line in found.stdout.splitlines()]
    assert records and {r["caller_number"] for r in records} == {caller}


def test_cdr_exports_parse_with_every_record(appliance, box, tmp_path):
    as_json = appliance("cdr", "--json")
    records = [json.loads(line) for line in as_json.stdout.splitlines()]
    assert sorted(r["call_id"] for r in records) == sorted(c.call_id for c in box.cdrs)
    out = tmp_path / "calls.csv"
    result = appliance("cdr", "--csv", "--output", out, "--disposition", "answered")
    assert result.exit_code == 0, result.stderr
    assert f"CDR(s) written to {out}" in result.stderr
    assert "exporting CDRs" in result.stderr  # the progress bar's label
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    answered = [c for c in box.cdrs if c.disposition == "answered"]
    assert len(rows) == len(answered) > 0
    assert {r["disposition"] for r in rows} == {"answered"}
    assert all(r["ivr_path"].startswith("main") for r in rows)


@pytest.mark.parametrize("args, words", [
    (["--number", " "], ["--number"]),
    (["--caller", "12ab"], ["--caller", "digits"]),
    (["--limit", "0"], ["--limit"]),
    (["--output", "x.csv"], ["--output", "--csv or --json"]),
    (["--csv", "--output", "/nonexistent/x.csv"], ["--output", "does not exist"]),
])
def test_cdr_bad_options_exit_2(appliance, args, words):
    one_error_line(appliance("cdr", *args), *words)


# ---- recordings ---------------------------------------------------------------------------

def test_recordings_list_gives_call_time_duration_size_path(appliance, box):
    result = appliance("recordings", "list", "--json", "--limit", "100")
    records = [json.loads(line) for line in result.stdout.splitlines()]
    recorded = {c.call_id: c.recording_path for c in box.cdrs if c.recording_path}
    assert {r["call_id"]: r["path"] for r in records} == recorded
    assert all(r["duration_s"] > 1 and r["size_bytes"] == os.path.getsize(r["path"])
               for r in records)
    text = appliance("recordings", "list", "--limit", "2").stdout.splitlines()
    assert text[0].split() == ["call", "time", "duration", "size", "path"]
    assert len(text) == 4
    assert text[-1] == f"play one with: appliance recordings play CALL --config {box.config}"


def test_export_copies_all_and_converts_one(appliance, box, tmp_path):
    recorded = [c for c in box.cdrs if c.recording_path]
    dest = tmp_path / "out"
    result = appliance("recordings", "export", "--all", dest)
    assert result.exit_code == 0, result.stderr
    assert "exporting recordings" in result.stderr
    for cdr in recorded:
        copy = dest / f"{cdr.call_id}{Path(cdr.recording_path).suffix}"
        assert copy.read_bytes() == Path(cdr.recording_path).read_bytes()
    one = recorded[0]
    result = appliance("recordings", "export", one.call_id, tmp_path / "alaw",
                       "--format", "alaw")
    assert result.exit_code == 0, result.stderr
    converted = tmp_path / "alaw" / f"{one.call_id}.wav"
    assert result.stdout.strip() == str(converted)
    original, alaw = soundfile.info(one.recording_path), soundfile.info(converted)
    assert (alaw.subtype, alaw.channels, alaw.frames) == \
        ("ALAW", original.channels, original.frames)
    again = appliance("recordings", "export", one.call_id, tmp_path / "alaw",
                      "--format", "alaw")
    one_error_line(again, str(converted), "never overwrite")


@pytest.mark.parametrize("args, words", [
    (["export", "nosuchcall", "dest"], ["CALL", "no call 'nosuchcall'"]),
    (["export", "dest"], ["CALL", "--all"]),
    (["export", "--all", "a", "dest"], ["--all", "only DEST"]),
    (["export", "--all", "dest", "--format", "mp3"], ["--format"]),
    (["play", "nosuchcall"], ["CALL", "recordings list"]),
])
def test_recordings_bad_arguments_exit_2(appliance, args, words):
    one_error_line(appliance("recordings", *args), *words)


def _play(box, call_id, alsa_conf, *args):
    env = dict(os.environ, ALSA_CONFIG_PATH=f"/usr/share/alsa/alsa.conf:{alsa_conf}")
    env.pop("APPLIANCE_CONFIG", None)
    return subprocess.run(
        [sys.executable, "-m", "appliance", "recordings", "play", call_id, "--config",
         str(box.config), *args], capture_output=True, text=True, env=env, timeout=60)


def test_play_without_a_sound_card_is_a_user_error_with_a_hint(box, tmp_path):
    """No ALSA device at all (or no PyAudio): one line, exit 2, what to do instead."""
    conf = tmp_path / "none.conf"
    conf.write_text("pcm.!default { type hw card 99 }\n", encoding="utf-8")
    call_id = next(c.call_id for c in box.cdrs if c.recording_path)
    result = _play(box, call_id, conf)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: recordings play: ")
    assert ("no sound card" in lines[0] or "PyAudio is not installed" in lines[0])
    assert "appliance recordings export" in lines[0]


def test_play_decodes_the_recording_onto_the_sound_card(box, tmp_path):
    """PortAudio playing to ALSA's null device: the whole path but the loudspeaker."""
    try:
        import pyaudio  # noqa: F401
    except ImportError:
        if os.environ.get("APPLIANCE_REQUIRE_SYSTEM") == "1":
            pytest.fail("PyAudio is not installed (pip install pyaudio; Debian: "
                        "portaudio19-dev)")
        pytest.skip("PyAudio is not installed")
    conf = tmp_path / "null.conf"
    conf.write_text("pcm.!default { type null }\n", encoding="utf-8")
    call_id = next(c.call_id for c in box.cdrs if c.recording_path)
    result = _play(box, call_id, conf, "--seconds", "0.3")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"playing  {call_id}  ")
    assert "(0.3 s, stereo: caller left, agent right)" in result.stdout


def test_history_reads_the_demo_folder_when_there_is_no_configuration(box, tmp_path,
                                                                     monkeypatch):
    """No --config and no /etc/appliance/appliance.toml: the demo's data."""
    monkeypatch.setattr(history_cli, "DEFAULT_PATH", tmp_path / "etc" / "appliance.toml")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "share"))
    demo = tmp_path / "share" / "appliance" / "demo"
    demo.mkdir(parents=True)
    (demo / "appliance.db").write_bytes((box.data / "appliance.db").read_bytes())
    assert history_cli.database_path(None, None) == demo / "appliance.db"
    monkeypatch.delenv("APPLIANCE_CONFIG", raising=False)
    result = _runner().invoke(main, ["cdr", "--json"], prog_name="appliance")
    assert result.exit_code == 0, result.stderr
    assert len(result.stdout.splitlines()) == len(box.cdrs)
