"""bench/sim_bench.py runs end to end on a small centre: event-driven in one process and in
two workers (the same result, the bench asserts it), with audio, and the reference run.

No timing thresholds: the report's structure, and that the audio run's callers ended as the
event-driven run's did.
"""

import importlib.util
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "sim_bench.py"


def load_bench():
    spec = importlib.util.spec_from_file_location("sim_bench", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_small_centre_event_driven_and_with_audio():
    bench = load_bench()
    result = bench.run(hours=0.5, audio_hours=0.02, reference_hours=2.0, agents=3)
    event, audio, ref = result["event"], result["audio"], result["reference"]
    assert event["calls"] > 100 and ref["calls"] > 200
    assert audio["calls"] >= 1 and audio["same_outcomes"]
    for key in ("per_wall_1", "per_cpu_1", "per_wall_2", "per_cpu_2"):
        assert event[key] > 0
    text = bench.markdown(result, "python bench/sim_bench.py")
    assert "| event-driven, 2 worker processes |" in text and "with audio" in text
    assert "Reference (issue 6)" in text
