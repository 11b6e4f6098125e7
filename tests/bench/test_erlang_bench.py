"""bench/erlang_bench.py runs end to end on small sizes and its peers agree with ours.

No timing thresholds: the report's structure and its `same n` column are checked.
"""

import importlib.util
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "erlang_bench.py"


def load_bench():
    spec = importlib.util.spec_from_file_location("erlang_bench", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_small_run_solves_the_same_agents_as_both_peers():
    bench = load_bench()
    rows = bench.run(sizes=(1, 8), budget=60.0, rounds=1)
    assert [r["size"] for r in rows] == [1, 8]
    for r in rows:
        assert r["same_c"] and r["same_a"]
        assert r["naive_c_ms"] is not None and r["ctmc_a_ms"] is not None
        assert r["agents_c"] > r["load"] and r["agents_a"] >= 1
    table = bench.markdown(rows)
    assert table.count("| yes |") == 2 and "NO" not in table
