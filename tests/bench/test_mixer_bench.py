"""bench/mixer_bench.py runs end to end on a small load and reports both sides.

No timing thresholds: only the report's structure is checked; the bench itself asserts that
the mixer's audio equals the naive loop's before it times anything.
"""

import importlib.util
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "mixer_bench.py"


def load_bench():
    spec = importlib.util.spec_from_file_location("mixer_bench", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_small_run_reports_mixer_and_naive_loop():
    bench = load_bench()
    result = bench.run(n_conferences=4, size=3, ticks=3)
    assert (result["conferences"], result["size"], result["parties"]) == (4, 3, 12)
    for key in ("vectorised_us", "rebuilt_us", "naive_us", "ratio", "tick_share_pct"):
        assert result[key] > 0
    table = bench.markdown([result])
    assert "| 4 x 3 | 12 |" in table
