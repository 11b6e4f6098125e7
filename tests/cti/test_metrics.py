"""Prometheus metrics over real HTTP, from a box on the emulated board.

- the demo's scenario in virtual time, stopped at 12 s of board time (four calls up, three
  agents on calls, a caller waiting for sales): the scrape says so, and parses as the text
  exposition format (a strict reader here: HELP and TYPE before samples, counters named
  _total, cumulative histogram buckets ending at +Inf = _count);
- the same scenario for 60 s: ticks, tick-duration histogram and recordings written
  against what the run did and what is on disk;
- `appliance run --metrics 127.0.0.1:0` as a subprocess, the demo's callers on a virtual
  clock, scraped while it runs: calls and busy agents show up, counters only go up; HEAD,
  404 and 405; a bad or busy address is exit 2.
"""

import asyncio
import math
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import pytest
from click.testing import CliRunner

from appliance.cli import main
from appliance.config import parse_config, sample_path
from appliance.cti.metrics import CONTENT_TYPE, parse_address, start_metrics
from appliance.drivers.emulator import load_scenario
from appliance.engine.box import Box
from appliance.engine.call import CallState
from appliance.engine.demo import scenario_path

ORIGIN_MS = 1_795_420_800_000  # a Monday, 16:00 in Shanghai: the sample's office hours
SAMPLE = sample_path().read_text(encoding="utf-8").replace(
    'data_dir = "~/.local/share/appliance"', 'data_dir = "data"')

_SAMPLE_LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
_LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*(?:,|$)')


def always_open(text):
    """The sample with its office open every hour of every day, holidays included."""
    for day in ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday"):
        text = re.sub(rf"(?m)^{day} = .*$", f'{day} = ["00:00-24:00"]', text)
    text = re.sub(r"(?m)^holidays = .*$", 'sunday = ["00:00-24:00"]', text)
    assert text.count('"00:00-24:00"') == 7
    return text


def parse_exposition(text):
    """{name: {"type": ..., "samples": {(sample name, ((label, value), ...)): float}}},
    checking the format as Prometheus reads it."""
    assert text.endswith("\n")
    families, current, current_name = {}, None, None
    for line in text.splitlines():
        if line.startswith("# HELP "):
            name = line.split(" ", 3)[2]
            assert name not in families, f"{name} twice"
            current = families[name] = {"help": line.split(" ", 3)[3], "samples": {}}
            current_name = name
            continue
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            assert current is families.get(name) and "type" not in current, line
            assert kind in ("counter", "gauge", "histogram"), line
            current["type"] = kind
            if kind == "counter":
                assert name.endswith("_total"), name
            continue
        match = _SAMPLE_LINE.match(line)
        assert match, f"not a sample line: {line!r}"
        sample, labels_text, value = match.groups()
        base = re.sub(r"_(bucket|sum|count)$", "", sample) \
            if current["type"] == "histogram" else sample
        assert base == current_name, f"{line!r} outside its family {current_name}"
        labels, pos = [], 0
        while labels_text and pos < len(labels_text):
            label = _LABEL.match(labels_text, pos)
            assert label, f"bad labels in {line!r}"
            labels.append(label.groups())
            pos = label.end()
        number = float(value)  # also +Inf, NaN
        key = (sample, tuple(labels))
        assert key not in current["samples"], f"{line} twice"
        current["samples"][key] = number
    for name, family in families.items():
        if family["type"] == "histogram":
            buckets = [(float(dict(k[1])["le"]), v) for k, v in family["samples"].items()
                       if k[0] == f"{name}_bucket"]
            assert buckets == sorted(buckets) and buckets[-1][0] == math.inf
            assert all(a[1] <= b[1] for a, b in zip(buckets, buckets[1:]))
            assert buckets[-1][1] == family["samples"][(f"{name}_count", ())]
    return families


def value(families, name, **labels):
    family = families[re.sub(r"_(bucket|sum|count)$", "", name)
                      if name not in families else name]
    return family["samples"][(name, tuple(labels.items()))]


def by_label(families, name, label):
    return {dict(k[1])[label]: v for k, v in families[name]["samples"].items()}


def fetch(url, method="GET"):
    request = urllib.request.Request(url, method=method)
    with urllib.request.urlopen(request, timeout=30) as answer:
        return answer.status, answer.headers, answer.read().decode("utf-8")


def run_box(tmp_path, seconds, scrape):
    """The sample config and the demo scenario in virtual time until `seconds` of board
    time; then, with the engine stopped and the boards still open, `scrape(box, url)` in a
    thread while the loop serves it. Returns (box, what scrape returned)."""
    config = parse_config(SAMPLE, source="metrics.toml", folder=tmp_path)
    box = Box(config, scenario=load_scenario(scenario_path()), virtual=True, until_s=seconds,
              origin_ms=ORIGIN_MS)

    async def main():
        async with asyncio.timeout(240):
            await box.start()
            server = await start_metrics(box, "127.0.0.1", 0)
            url = "http://127.0.0.1:%d/metrics" % server.sockets[0].getsockname()[1]
            try:
                await box.engine.run()
                return await asyncio.to_thread(scrape, box, url)
            finally:
                server.close()
                await box.close()
    return box, asyncio.run(main())


def test_a_scrape_shows_the_calls_queues_and_agents_of_the_moment(tmp_path):
    def scrape(box, url):
        status, headers, body = fetch(url)
        assert status == 200 and headers["Content-Type"] == CONTENT_TYPE
        sb = box.engine.switchboard
        return parse_exposition(body), len(sb.calls), \
            sum(c.state is CallState.CONNECTED for c in sb.calls.values()), \
            len(box.engine.recordings), box.engine.stats.ticks

    box, (families, calls, connected, recording, ticks) = run_box(tmp_path, 12.0, scrape)
    # the demo at 12 s: four lines busy, the three agents talking, one caller for sales
    assert value(families, "appliance_calls_up") == calls == 4
    assert by_label(families, "appliance_calls", "state")["connected"] == connected == 3
    assert sum(by_label(families, "appliance_calls", "state").values()) == calls
    assert by_label(families, "appliance_queue_callers_waiting", "queue") == {
        "sales": 1, "support": 0}
    oldest = by_label(families, "appliance_queue_oldest_wait_seconds", "queue")
    assert oldest["support"] == 0 and 0 < oldest["sales"] < 12
    assert by_label(families, "appliance_agents", "state") == {
        "logged_out": 0, "not_ready": 0, "idle": 0, "reserved": 0, "on_call": 3,
        "wrap_up": 0}
    assert value(families, "appliance_recordings_active") == recording == 4
    assert value(families, "appliance_engine_ticks_total") == ticks and 590 < ticks <= 600
    assert value(families, "appliance_board_up", board="main") == 1
    assert value(families, "appliance_engine_command_errors_total") == 0


def test_at_the_end_ticks_and_recordings_written_match_the_run(tmp_path):
    def scrape(box, url):
        return parse_exposition(fetch(url)[2])

    box, families = run_box(tmp_path, 60.0, scrape)
    ticks = value(families, "appliance_engine_ticks_total")
    assert 2990 < ticks <= 3000  # 60 s of 20 ms ticks (the first come before the engine)
    # one histogram observation per audio tick of the one board
    assert value(families, "appliance_engine_tick_duration_seconds_count") == ticks
    total = value(families, "appliance_engine_tick_duration_seconds_sum")
    longest = value(families, "appliance_engine_tick_duration_max_seconds")
    assert 0 < longest <= total
    written = value(families, "appliance_recordings_written_total")
    active = value(families, "appliance_recordings_active")
    files = list((tmp_path / "data" / "recordings").rglob("*.flac"))  # after box.close
    assert written > 0 and written + active == len(files)
    assert active <= value(families, "appliance_calls_up")  # the calls still up, answered


# ---- appliance run --metrics --------------------------------------------------------------

def test_appliance_run_serves_metrics_while_it_runs(tmp_path):
    # the demo's callers on a virtual clock, scraped as fast as the test can while the box
    # runs: the calls show up as they come, and the counters only go up
    config = tmp_path / "appliance.toml"
    config.write_text(always_open(SAMPLE))  # the box's clock starts now, whatever the hour
    proc = subprocess.Popen([sys.executable, "-m", "appliance", "run", "--config", str(config),
                             "--scenario", str(scenario_path()), "--virtual-clock",
                             "--seconds", "100000", "--metrics", "127.0.0.1:0"],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        for line in proc.stdout:
            if line.startswith("metrics  "):
                url = line.split()[1]
                break
        else:
            raise AssertionError(proc.stderr.read())
        threading.Thread(target=proc.stdout.read, daemon=True).start()  # keep it flowing
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/metrics", url)
        ticks, most_calls, most_on_call = [], 0, 0
        while not ticks or ticks[-1] < 3000:  # 60 s of board time: three waves of callers
            time.sleep(0.01)  # pacing only: the box has the loop (and a core) to itself
            families = parse_exposition(fetch(url)[2])
            ticks.append(value(families, "appliance_engine_ticks_total"))
            most_calls = max(most_calls, value(families, "appliance_calls_up"))
            most_on_call = max(most_on_call,
                               by_label(families, "appliance_agents", "state")["on_call"])
        assert ticks == sorted(ticks) and len(set(ticks)) > 1
        assert most_calls >= 1 and most_on_call >= 1
        assert value(families, "appliance_recordings_written_total") >= 1
        status, headers, body = fetch(url, "HEAD")
        assert status == 200 and body == "" and int(headers["Content-Length"]) > 0
        with pytest.raises(urllib.error.HTTPError) as missing:
            fetch(url.replace("/metrics", "/"))
        assert missing.value.code == 404
        with pytest.raises(urllib.error.HTTPError) as refused:
            fetch(url, "POST")
        assert refused.value.code == 405 and refused.value.headers["Allow"] == "GET, HEAD"
        proc.terminate()
        assert proc.wait(60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)


@pytest.mark.parametrize("text, expected", [
    ("127.0.0.1:9464", ("127.0.0.1", 9464)), (":9464", ("127.0.0.1", 9464)),
    ("[::1]:9464", ("::1", 9464)), ("0.0.0.0:0", ("0.0.0.0", 0)),
])
def test_metrics_addresses(text, expected):
    assert parse_address(text) == expected


@pytest.mark.parametrize("text", ["9464", "localhost:http", "::1:9464", "host:70000", ""])
def test_a_bad_metrics_address_is_exit_2(tmp_path, text):
    result = CliRunner().invoke(main, ["run", "--config", str(sample_path()), "--metrics",
                                       text])
    assert result.exit_code == 2 and "--metrics" in result.output


def test_a_metrics_port_in_use_is_exit_2_and_nothing_left_running(tmp_path):
    config = tmp_path / "appliance.toml"
    config.write_text(SAMPLE)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(main, ["run", "--config", str(config), "--virtual-clock",
                                           "--seconds", "1", "--metrics", f"127.0.0.1:{port}"])
    assert result.exit_code == 2
    assert f"--metrics 127.0.0.1:{port}: cannot listen there" in result.output
    assert "Traceback" not in result.output


def test_a_failing_render_is_a_500_and_the_server_keeps_serving(monkeypatch, caplog):
    import appliance.cti.metrics as metrics

    class Started:
        engine = object()

    calls = []

    def render(box):
        calls.append(box)
        if len(calls) == 1:
            raise RuntimeError("a bug")
        return "appliance_up 1\n"
    monkeypatch.setattr(metrics, "render", render)

    async def main():
        server = await start_metrics(Started(), "127.0.0.1", 0)
        url = "http://127.0.0.1:%d/metrics" % server.sockets[0].getsockname()[1]
        try:
            with pytest.raises(urllib.error.HTTPError) as failed:
                await asyncio.to_thread(fetch, url)
            return failed.value.code, await asyncio.to_thread(fetch, url)
        finally:
            server.close()
    code, (status, _, body) = asyncio.run(main())
    assert code == 500 and (status, body) == (200, "appliance_up 1\n")
    assert "metrics: rendering failed" in caplog.text
