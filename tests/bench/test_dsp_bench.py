"""bench/dsp_bench.py runs end to end in --quick mode and reports what issue 2 asks.

No timing thresholds here: the figures of a quick run on a shared machine mean nothing;
only the structure of the report and the correctness columns are checked.
"""

import importlib.util
import json
from pathlib import Path

import spandsp

BENCH = Path(__file__).resolve().parents[2] / "bench" / "dsp_bench.py"


def load_bench():
    spec = importlib.util.spec_from_file_location("dsp_bench", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_quick_run_reports_every_peer_and_item(tmp_path, capsys):
    spandsp.require()
    out_json, out_md = tmp_path / "r.json", tmp_path / "r.md"
    assert load_bench().main(["--quick", "--json", str(out_json), "--output", str(out_md)]) == 0
    printed = capsys.readouterr().out
    assert printed == out_md.read_text()
    for heading in ("## 1. G.711 throughput", "## 2. DTMF channels per core",
                    "## 3. DTMF conformance", "## Targets of issue 2", "QUICK MODE", "- Machine:", "- Command: `python bench/dsp_bench.py"):
        assert heading in printed
    result = json.loads(out_json.read_text())

    g711 = result["g711"]
    assert {(r["law"], r["direction"]) for r in g711} == {
        (law, d) for law in ("alaw", "ulaw") for d in ("encode", "decode")}
    for row in g711:
        for peer in ("ours", "audioop", "spandsp"):
            assert row[peer]["mb_per_s"] > 0
        assert row["ours"]["mismatches"] == 0
        expected_peers = (508, 127) if (row["law"], row["direction"]) == ("ulaw", "encode") \
            else (0, 0)
        assert (row["audioop"]["mismatches"], row["spandsp"]["mismatches"]) == expected_peers

    dtmf = result["dtmf"]
    names = [r["name"] for r in dtmf["rows"]]
    assert names == ["spandsp, own C loop", "spandsp from Python", "ours, dtmf_process_batch",
                     "ours, dtmf_process_batch, bare", "ours, ChannelBank chain",
                     "ours, ChannelBank chain + tones"]
    for row in dtmf["rows"]:
        assert row["channels_per_core"] > 0 and row["vs_spandsp_c"] > 0
        assert row["digits_found"] > 0
    # Ours finds every digit mixed into the channels (our own receiver's conformance).
    assert all(r["digits_found"] >= dtmf["digits_sent"] > 0 for r in dtmf["rows"][2:])
    assert dtmf["rows"][0]["vs_spandsp_c"] == 1.0

    items, timing = result["conformance"]
    assert [i["item"] for i in items] == [
        "all 16 digits", "frequency +-1.5%", "frequency +-3.5%",
        "normal twist 8 dB after G.711", "reverse twist 4 dB after G.711",
        "10 ms interruption", "40 ms tones, 40 ms pauses", "20 ms tones",
        "-36..0 dBm0 per tone"]
    for item in items:
        assert 0 <= item["spandsp"] <= item["trials"] and item["ours"] == item["trials"]
    assert timing["ours"]["start"]["max_abs_ms"] <= 10.0
    assert timing["spandsp"]["start"]["n"] > 0
