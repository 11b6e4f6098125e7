"""`appliance config apply NEW`: validated first, the old file kept as FILE.prev, an atomic
replace, the running box reloads over its control socket; a refused reload puts the old
file back; with no box running, only the replace (and a note)."""

import json
import os
import stat

import pytest
from click.testing import CliRunner

from appliance.cli import main
from tests.cti.daemon import RunningBox


def _runner():
    try:
        return CliRunner(mix_stderr=False)
    except TypeError:
        return CliRunner()


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    running = RunningBox(tmp_path_factory.mktemp("apply"), board="ctl-apply")
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def appliance(monkeypatch, tmp_path):
    monkeypatch.delenv("APPLIANCE_CONFIG", raising=False)
    monkeypatch.delenv("APPLIANCE_SOCKET", raising=False)
    runner = _runner()

    def invoke(*args):
        return runner.invoke(main, [str(a) for a in args], prog_name="appliance",
                             catch_exceptions=False)
    return invoke


def max_wait(daemon, queue="sales"):
    return daemon.in_loop(lambda: daemon.box.config.queues[queue].max_wait_s)


def edited(daemon, tmp_path, old, new, name="new.toml"):
    text = daemon.config_path.read_text()
    assert old in text
    path = tmp_path / name
    path.write_text(text.replace(old, new))
    return path


def test_a_good_file_is_put_in_place_and_the_box_reloads_it(appliance, daemon, tmp_path):
    before = daemon.config_path.read_text()
    os.chmod(daemon.config_path, 0o640)
    new = edited(daemon, tmp_path, "max_wait_s = 900\noverflow = \"hangup\"\n\n"
                 "[queues.support]", "max_wait_s = 600\noverflow = \"hangup\"\n\n"
                 "[queues.support]")
    result = appliance("config", "apply", new, "--config", daemon.config_path)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"{daemon.config_path}: replaced (the previous file is box.toml.prev)",
        "queues.sales: changed; applies to new calls", "reloaded"]
    assert daemon.config_path.read_text() == new.read_text()
    assert daemon.config_path.with_name("box.toml.prev").read_text() == before
    assert stat.S_IMODE(os.stat(daemon.config_path).st_mode) == 0o640  # the old mode kept
    assert max_wait(daemon) == 600
    audit = [r for r in daemon.rows if r.kind == "audit" and r.data["action"] == "reload"]
    assert audit[-1].data["changes"] == 1
    # no temporary file left behind
    assert sorted(p.name for p in daemon.folder.iterdir() if p.name.startswith(".")) == []


def test_a_bad_file_changes_nothing_and_lists_every_error(appliance, daemon, tmp_path):
    before = daemon.config_path.read_text()
    prev = daemon.config_path.with_name("box.toml.prev")
    prev_before = prev.read_text() if prev.exists() else None
    new = edited(daemon, tmp_path, 'pin = "4821"', 'pin = "48"\nrole = "boss"')
    wait = max_wait(daemon)
    result = appliance("config", "apply", new, "--config", daemon.config_path)
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert lines[0] == f"Error: {new}: 2 error(s)"
    assert any(line.startswith("  agents.1001.pin: ") for line in lines)
    assert any(line.startswith("  agents.1001.role: is 'boss'") for line in lines)
    assert daemon.config_path.read_text() == before
    assert (prev.read_text() if prev.exists() else None) == prev_before
    assert max_wait(daemon) == wait


def test_a_refused_reload_puts_the_previous_file_back(appliance, daemon, tmp_path):
    # The box re-reads its own file; here it runs from another one, which is broken, so
    # it refuses whatever `apply` writes: the apply must roll back.
    broken = tmp_path / "running.toml"
    broken.write_text(daemon.config_path.read_text().replace('pin = "7305"', 'pin = "x"'))
    daemon.in_loop(lambda: setattr(daemon.box, "config_path", broken))
    try:
        before = daemon.config_path.read_text()
        new = edited(daemon, tmp_path, "max_wait_s = 900", "max_wait_s = 300")
        wait = max_wait(daemon, "support")
        result = appliance("config", "apply", new, "--config", daemon.config_path)
    finally:
        daemon.in_loop(lambda: setattr(daemon.box, "config_path", daemon.config_path))
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert lines[0] == (f"Error: {daemon.config_path}: the box at {daemon.socket} refused "
                        "the reload, so the previous file is back in place (box.toml.prev "
                        "holds it too); nothing changed")
    assert lines[1].startswith("  agents.1002.pin: ")
    assert daemon.config_path.read_text() == before
    assert max_wait(daemon, "support") == wait


def test_with_no_box_running_the_file_is_replaced_with_a_note(appliance, tmp_path, daemon):
    live = tmp_path / "appliance.toml"
    text = daemon.config_path.read_text().replace(str(daemon.data), str(tmp_path / "data"))
    live.write_text(text)
    new = tmp_path / "new.toml"
    new.write_text(text.replace("max_wait_s = 900", "max_wait_s = 120"))
    result = appliance("config", "apply", new, "--config", live, "--json")
    assert result.exit_code == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["reloaded"] is False and answer["previous"] == f"{live}.prev"
    assert live.read_text() == new.read_text()
    assert (tmp_path / "appliance.toml.prev").read_text() == text
    result = appliance("config", "apply", new, "--config", live)
    assert "note: no box is running at " in result.stdout
    assert "takes effect when it starts" in result.stdout


def test_a_file_that_cannot_be_read_is_exit_2(appliance, tmp_path):
    result = appliance("config", "apply", tmp_path / "missing.toml", "--config",
                       tmp_path / "a.toml")
    assert result.exit_code == 2 and "cannot read" in result.stderr
    assert not (tmp_path / "a.toml").exists()
