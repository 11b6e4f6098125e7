"""`appliance demo` as the README tells a newcomer to run it: the command is read out of
README.md's five-minute tour and run as a subprocess with HOME in a temporary folder; then
its output is held against what it wrote (the KPI table, the CDRs, the recordings).
"""

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile
from click.testing import CliRunner

from appliance.cli import main
from appliance.cli.demo import MARKER, fresh_folder
from appliance.cli.errors import UserError

README = Path(__file__).resolve().parents[2] / "README.md"
EVENT = re.compile(r"^\d\d:\d\d\.\d\d  call (\S+)  (\S+)")


def readme_demo_command():
    """The `appliance demo ...` line of the first sh block of the README's tour."""
    text = README.read_text(encoding="utf-8")
    tour = text.split("## A five-minute tour", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?)```", tour, re.S).group(1)
    (line,) = [line for line in block.splitlines() if line.startswith("appliance demo")]
    return shlex.split(line.split("#", 1)[0])


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("newcomer")
    args = readme_demo_command()
    assert args[:2] == ["appliance", "demo"]
    env = dict(os.environ, HOME=str(tmp / "home"))
    for name in ("APPLIANCE_CONFIG", "XDG_DATA_HOME"):
        env.pop(name, None)
    result = subprocess.run([sys.executable, "-m", "appliance", *args[1:]], cwd=tmp,
                            env=env, capture_output=True, text=True, timeout=300)
    return result, tmp / "home" / ".local" / "share" / "appliance" / "demo"


def block(output, title):
    """The lines after the line `title` up to the next empty line."""
    lines = output.splitlines()
    start = lines.index(title) + 1
    end = lines.index("", start) if "" in lines[start:] else len(lines)
    return lines[start:end]


def test_the_demo_runs_as_the_readme_writes_it(demo):
    result, folder = demo
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert (folder / MARKER).is_file() and (folder / "appliance.db").is_file()
    assert f"database  {folder / 'appliance.db'}" in result.stdout


def test_it_shows_the_calls_live_then_a_kpi_table_of_them(demo):
    result, _ = demo
    out = result.stdout
    events = [EVENT.match(line).groups() for line in out.splitlines() if EVENT.match(line)]
    queued = [call for call, what in events if what == "queued"]
    assert len(queued) >= 12
    assert "service level = answered within 20 s / offered (abandoned and overflowed " \
           "included)" in out
    lines = out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("interval")
                  and line.split()[1] == "queue")
    assert lines[header].split()[:6] == ["interval", "queue", "offered", "answered",
                                         "abandoned", "overflowed"]
    rows = [line.split() for line in lines[header + 1:lines.index("", header)]]
    assert {r[2] for r in rows} == {"sales", "support"}  # the run's one day
    assert sum(int(r[3]) for r in rows) == len(queued)
    assert all(r[7].endswith("%") for r in rows)  # the service level
    per_agent = [line.split() for line in lines if re.match(r"^\S+ \S+\s+100[123]\s", line)]
    assert {r[2] for r in per_agent} == {"1001", "1002", "1003"}


def test_it_lists_the_latest_cdrs_of_the_calls_it_showed(demo):
    result, _ = demo
    shown = {call for call, _ in (EVENT.match(line).groups()
                                  for line in result.stdout.splitlines()
                                  if EVENT.match(line))}
    cdrs = block(result.stdout, "latest calls (appliance cdr):")
    assert cdrs[0].split()[:3] == ["start", "call", "caller"]
    calls = [line.split()[2] for line in cdrs[1:]]
    assert len(calls) == 5 and set(calls) <= shown


def test_the_recordings_it_names_exist_and_play(demo):
    result, folder = demo
    lines = block(result.stdout, "recordings (appliance recordings list):")
    assert lines[0].split() == ["call", "time", "duration", "size", "path"]
    paths = [Path(line.split()[-1]) for line in lines[1:]]
    assert paths
    for path in paths:
        assert path.is_file() and folder in path.parents
        info = soundfile.info(str(path))
        assert info.format in ("WAV", "FLAC") and info.samplerate == 8000
        assert info.frames > 8000
    calls = [line.split()[0] for line in lines[1:]]
    play = [line.strip() for line in result.stdout.splitlines()
            if line.strip().startswith("appliance recordings play ")]
    assert play and play[0].split()[3] in calls


def test_the_demo_keeps_to_its_own_folder(tmp_path):
    """A folder with other data is refused; the demo's own is emptied for a new run."""
    other = tmp_path / "real-box"
    other.mkdir()
    (other / "appliance.db").write_bytes(b"a real box's")
    with pytest.raises(UserError, match="holds files the demo did not make"):
        fresh_folder(other)
    assert (other / "appliance.db").read_bytes() == b"a real box's"
    mine = fresh_folder(tmp_path / "demo")
    (mine / "recordings").mkdir()
    (mine / "appliance.db").write_bytes(b"last run")
    fresh_folder(mine)
    assert sorted(p.name for p in mine.iterdir()) == [MARKER]
    (mine / "notes.txt").write_text("mine")
    with pytest.raises(UserError, match="notes.txt"):
        fresh_folder(mine)
    result = CliRunner().invoke(main, ["demo", "--data-dir", str(other)])
    assert result.exit_code == 2 and "--data-dir" in result.output
