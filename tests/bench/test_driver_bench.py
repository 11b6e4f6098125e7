"""bench/driver_bench.py runs end to end in quick mode and reports what issue 4 asks: the
CPU share of one core and the boards per core for 4 boards x 32 ports at 50 ticks/s
through the real driver. No timing thresholds: the report's structure and its correctness
columns (every frame answered, every digit found) are checked."""

import importlib.util
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "driver_bench.py"


def load_bench():
    spec = importlib.util.spec_from_file_location("driver_bench", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_run_reports_share_and_headroom_with_every_frame_and_digit():
    bench = load_bench()
    result = bench.run(quick=True, seconds=1.0)
    assert (result["boards"], result["ports"], result["ticks_per_second"]) == (4, 32, 50)
    assert [row["dsp"] for row in result["rows"]] == [True, False]
    for row in result["rows"]:
        assert row["frames_ok"] == row["frames"] == 4 * 50
        assert row["frames_back"] == row["frames"]
        assert row["core_share"] > 0
        assert abs(row["boards_per_core"] * row["core_share"] - 4) < 1e-6
    with_dsp = result["rows"][0]
    assert with_dsp["digits_ok"] == with_dsp["digits"] == 4 * 16  # one per FXS port
    assert "| driver + host DSP" in bench.markdown(result)
