"""bench/playback_bench.py runs end to end on a small load and reports both sides.

No timing thresholds: only the report's structure is checked; the bench itself asserts that
Playback's audio and finished reports equal the naive loop's, tick by tick, before it times.
"""

import importlib.util
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "playback_bench.py"


def load_bench():
    spec = importlib.util.spec_from_file_location("playback_bench", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_small_run_reports_playback_and_naive_loop():
    bench = load_bench()
    result = bench.run(ports=12, ticks=3, check_ticks=450)
    assert result["ports"] == 12 and result["checked_ticks"] == 450
    for key in ("vectorised_us", "naive_us", "ratio", "tick_share_pct", "pool_kib"):
        assert result[key] > 0
    assert "| 12 |" in bench.markdown([result])
