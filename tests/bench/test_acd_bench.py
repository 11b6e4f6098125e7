"""bench/acd_bench.py runs end to end on a small centre and reports both routers.

No timing thresholds: only the report's structure is checked; the bench itself asserts that
the ACD and the naive router make the same decisions through the same cycles before it
times, and that a reload re-matches exactly the agents it freed.
"""

import importlib.util
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "acd_bench.py"


def load_bench():
    spec = importlib.util.spec_from_file_location("acd_bench", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_small_run_reports_the_acd_and_the_naive_router():
    bench = load_bench()
    result = bench.run(n_agents=30, n_skills=5, waiting=40, decisions=60, naive_decisions=20,
                       check=40, rounds=1, strategies=True)
    assert result["checked_decisions"] >= 40
    for key in ("acd_per_s", "naive_per_s", "ratio", "acd_us", "naive_us", "reload_ms"):
        assert result[key] > 0
    assert len(result["strategies"]) == 8
    text = bench.markdown(result)
    assert "| 30 | 5 | 40 |" in text and "| ring_all |" in text


def test_the_naive_router_is_a_real_peer():
    bench = load_bench()
    queues, agents = bench.centre(12, 4, seed=3)
    ours = bench.Load(bench.AcdRouter(queues, agents), queues, agents, 15)
    naive = bench.Load(bench.NaiveAdapter(queues, agents), queues, agents, 15)
    for _ in range(100):
        ours.cycle()
        naive.cycle()
    assert ours.decisions == naive.decisions and len(ours.decisions) > 100
