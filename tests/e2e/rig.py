"""Running the whole box on an emulated board in virtual time, for the end-to-end tests."""

import asyncio

import numpy as np

from appliance.config import parse_config
from appliance.drivers.emulator import parse_scenario
from appliance.engine.box import Box

LIMIT_S = 240.0
ORIGIN_MS = 1_795_420_800_000  # 2026-11-23T08:00:00Z, a Monday (16:00 in Shanghai)


def run_box(tmp_path, config_text, scenario_text, *, before=None, origin_ms=ORIGIN_MS):
    """Run `config_text` (its data_dir is `tmp_path`) against the scenario (or {board name:
    scenario} for several emulated boards) until the scenario's end; `before(box)` runs after the store exists, before the boards start."""
    config = parse_config(config_text, source="e2e.toml", folder=tmp_path)
    texts = scenario_text if isinstance(scenario_text, dict) else {None: scenario_text}
    scenarios = {board: parse_scenario(text, f"{board or 'e2e'}-scenario.toml")
                 for board, text in texts.items()}
    seconds = max(s.seconds for s in scenarios.values())
    box = Box(config, scenario=scenarios.pop(None, None), scenarios=scenarios, virtual=True,
              until_s=seconds, origin_ms=origin_ms)

    async def limited():
        async with asyncio.timeout(LIMIT_S):
            if before is not None:
                before(box)
            await box.run()

    asyncio.run(limited())
    stats = box.engine.stats
    assert (stats.event_errors, stats.command_errors) == (0, 0), "the engine logged errors"
    return box


def rms_db(x):
    """Level of int16 audio in dB (re 1 LSB RMS): speech at -20 dBm0 is about 70."""
    x = np.asarray(x, dtype=np.float64)
    return 10 * np.log10(np.mean(x * x) + 1e-9)


def level(audio, start_s, at_s, seconds):
    """`rms_db` of `seconds` of `audio` (which starts at board time `start_s`) from `at_s`."""
    begin = int((at_s - start_s) * 8000)
    return rms_db(audio[begin:begin + int(seconds * 8000)])
