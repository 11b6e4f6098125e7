"""bench/transport_bench.py runs end to end in --quick mode over every link.

No timing thresholds: only that every link carried its frames and the report has its rows.
"""

import importlib.util
import json
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "transport_bench.py"


def load_bench():
    spec = importlib.util.spec_from_file_location("transport_bench", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_quick_run_reports_every_link(tmp_path, capsys):
    bench = load_bench()
    out = tmp_path / "r.json"
    assert bench.main(["--quick", "--boards", "2", "--ports", "8", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    rows = json.loads(out.read_text())
    assert [r["link"] for r in rows] == list(bench.LINKS)
    for row in rows:
        assert row["frame_bytes"] == 16 + 8 * 160 and row["boards"] == 2
        assert row["cpu_s"] > 0 and row["boards_per_core"] > 0
        assert f"| {row['link']} | 2 x 8 | {row['frame_bytes']} |" in printed
    assert "QUICK MODE" in printed
