"""bench/ns_bench.py runs end to end in quick mode and reports what issue 3 asks.

No quality or timing thresholds here (tests/dsp/test_ns.py holds the quality targets; the
figures of a quick run mean nothing): only the report's structure, every peer in it, and
that the delays the bench removes are the right ones.
"""

import importlib.util
import os
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "ns_bench.py"
PEER_PACKAGES = "libspeexdsp-dev libwebrtc-audio-processing-dev"


def load_bench():
    spec = importlib.util.spec_from_file_location("ns_bench", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def peers_installed():
    return (Path("/usr/include/speex/speex_preprocess.h").exists()
            and any(Path("/usr/lib").glob("*/libwebrtc_audio_processing.so")))


@pytest.mark.needs_system
def test_quick_run_reports_every_suppressor_snr_and_target():
    if not peers_installed():
        message = f"the bench's peers are not installed (apt-get install {PEER_PACKAGES})"
        if os.environ.get("APPLIANCE_REQUIRE_SYSTEM") == "1":
            pytest.fail(message)
        pytest.skip(message)
    bench = load_bench()
    result = bench.run(quick=True)
    assert set(result["suppressors"]) == {"ours", "speexdsp", "webrtc"}
    assert result["delays"]["ours"] == 79
    # Peers' delays found by cross-correlation: speexdsp one 160-sample frame late,
    # WebRTC 48 samples (its overlap).
    assert result["delays"]["speexdsp"] == 160 and result["delays"]["webrtc"] == 48
    for name, s in result["suppressors"].items():
        assert set(s["pesq_gain"]) == {"0", "5", "10", "15"}
        assert set(s["per_noise"]) == set(result["noises"])
        assert s["channels_per_core"] > 0
    assert {"clean_drop_under_0_1", "channels_2x_speexdsp"} <= set(result["targets"])
    text = bench.markdown(result)
    for heading in ("## Noise suppression (issue 3)", "QUICK MODE", "| 15 dB |", "Targets:"):
        assert heading in text
