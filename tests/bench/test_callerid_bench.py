"""bench/callerid_bench.py runs end to end in quick mode and reports every side.

No timing thresholds: a quick run's figures on a shared machine mean nothing; only the
structure of the result and its correctness columns (every message received) are checked.
"""

import importlib.util
import json
from pathlib import Path

import spandsp_adsi

BENCH = Path(__file__).resolve().parents[2] / "bench" / "callerid_bench.py"


def load_bench():
    spec = importlib.util.spec_from_file_location("callerid_bench", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_quick_run_receives_every_message_on_every_side():
    spandsp_adsi.require()
    bench = load_bench()
    result = bench.run(quick=True)
    assert result["meta"]["quick"] is True
    rows = result["rows"]
    assert {(r["format"], r["side"]) for r in rows} == {
        (f, s) for f in ("bell202", "v23") for s in bench.SIDES}
    for row in rows:
        assert "skipped" not in row, row
        assert row["expected"] > 0 and row["all_received"], row
        assert row["channels_per_core"] > 0
    for fmt in ("bell202", "v23"):
        assert set(result["summary"][fmt]) == {*bench.SIDES, "ours_vs_spandsp"}
    table = bench.markdown(result)
    assert "QUICK MODE" in table and table.count("\n| bell202 |") == 3
    json.dumps(result)


def test_command_line_json(capsys):
    spandsp_adsi.require()
    assert load_bench().main(["--quick", "--channels", "4", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["params"]["channels"] == 4 and len(result["rows"]) == 6
