"""bench/engine_bench.py runs end to end on a tiny layout (one board, 4 callers, a 5 s
window, a virtual clock) and reports what issue 5 asks: CPU share, tick overruns and
digit-to-action latency. No timing thresholds: the report's structure and its counts
(every caller answered and in the queue through the window, every digit detected and
acted on, the music heard, CDRs closed, recordings written) are checked."""

import importlib.util
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "engine_bench.py"


def load_bench():
    spec = importlib.util.spec_from_file_location("engine_bench", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_tiny_run_reports_share_overruns_and_digit_latency():
    bench = load_bench()
    result = bench.run(boards=1, lines=4, window_s=5.0, ramp_s=1.0, virtual=True,
                       cases=["ivr+recording", "idle"])
    full, idle = result["rows"]
    assert full["complete"] and idle["complete"]
    # every caller was answered, heard the menu, pressed, and waited in a queue throughout
    assert full["callers"] == full["answered"] == full["pressed"] == 4
    assert full["calls_up"] == [4, 4] and full["recordings_up"] == [4, 4]
    assert full["cdrs"] == full["cdrs_closed"] == 4
    assert full["recorded_frames"] > 4 * 5 * 50 and full["recording_drops"] == 0
    assert full["command_errors"] == 0 and full["host_lost"] == 0
    for key in ("detect_ms", "action_ms", "logged_ms", "heard_ms"):
        assert full[key]["n"] == 4, key
    assert full["heard_missing"] == 0
    # the stages follow one another: key-down, detection (the digit is reported when the
    # 100 ms key is released), the box's first frame of music, the caller's ear
    assert bench.KEY_MS <= full["detect_ms"]["median"] <= full["action_ms"]["median"] \
        < full["heard_ms"]["median"]
    if full["audio_late"] == 0:  # a frame is heard PLAYOUT_DELAY ticks after its tick
        assert full["heard_ms"]["median"] - full["action_ms"]["median"] == \
            bench.PLAYOUT_DELAY_TICKS * bench.TICK_MS
    assert full["audio_late"] == full["late_emulator_on_time"] + \
        full["late_while_emulator_behind"]
    for row in (full, idle):
        assert row["share"] > 0 and row["loop_share"] > 0
        assert 0 < row["driver_share"] + row["engine_share"] <= row["loop_share"]
        assert row["tick_ms"]["n"] == row["tick_cpu_ms"]["n"] == \
            round(row["board_s"] * bench.TICKS_PER_S)
        assert row["run_tick_cpu_ms"]["n"] >= row["tick_cpu_ms"]["n"]
    assert idle["calls_up"] == [0, 0] and idle["callers"] == 0
    text = bench.markdown(result)
    assert "| IVR + hold music + recording (stereo WAV) | 4-4 |" in text
    assert "Digit to action" in text
