"""bench/kpi_bench.py runs end to end on a small centre and reports both sides.

No timing thresholds: the report's structure, and the bench's own check that every figure
of the SQL-per-metric peer equals kpis.compute's, on a log whose totals are conserved.
"""

import importlib.util
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "kpi_bench.py"


def load_bench():
    spec = importlib.util.spec_from_file_location("kpi_bench", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_small_day_reports_ours_and_the_sql_peer_with_equal_figures(tmp_path):
    bench = load_bench()
    result = bench.run(calls=300, agents=5, rounds=1, folder=tmp_path)
    assert result["mismatches"] == 0, result["first_mismatches"]
    assert result["offered"] == 300
    assert result["answered"] + result["abandoned"] + result["overflowed"] == 300
    assert result["answered"] > 0 and result["intervals"] == 96
    assert 0 < result["service_level"] <= 1 and 0 < result["occupancy"] <= 1
    for key in ("ours_s", "peer_s", "peer_call_s", "peer_agent_s", "ratio", "call_ratio",
                "read_s", "compute_s"):
        assert result[key] > 0
    assert "USING INDEX events_time" in result["read_plan"]
    text = bench.markdown(result, bench.machine(), "python bench/kpi_bench.py --calls 300")
    assert "| peer / ours |" in text and "| all |" in text
