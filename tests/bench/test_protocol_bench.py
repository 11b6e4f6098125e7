"""bench/protocol_bench.py runs end to end in quick mode and reports what issue 4 asks: the
CPU share of one core and the boards per core for 4 boards x 32 ports at 50 ticks/s.

No timing thresholds: only the report's structure and its correctness column are checked.
"""

import importlib.util
import json
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "protocol_bench.py"


def load_bench():
    spec = importlib.util.spec_from_file_location("protocol_bench", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_run_reports_share_and_headroom_with_every_frame_intact():
    result = load_bench().run(quick=True)
    assert (result["boards"], result["ports"], result["ticks_per_second"]) == (4, 32, 50)
    assert result["frame_bytes"] == 12 + 12 + 32 * 160
    names = [row["name"] for row in result["rows"]]
    assert any(n.startswith("host:") for n in names) and any(n.startswith("board") for n in names)
    for row in result["rows"]:
        assert row["frames_ok"] == row["frames"] == 4 * 50
        assert row["core_share"] > 0
        assert abs(row["boards_per_core"] * row["core_share"] - 4) < 1e-6


def test_main_writes_markdown_and_json(tmp_path, capsys):
    out_md, out_json = tmp_path / "r.md", tmp_path / "r.json"
    assert load_bench().main(["--quick", "--output", str(out_md), "--json", str(out_json)]) == 0
    printed = capsys.readouterr().out
    assert printed == out_md.read_text()
    for text in ("QUICK MODE", "boards per core", "share of one core", "- Command: `python "
                 "bench/protocol_bench.py --quick"):
        assert text in printed
    assert len(json.loads(out_json.read_text())["rows"]) == 3
