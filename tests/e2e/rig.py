"""Running the whole box on an emulated board in virtual time, for the end-to-end tests."""

import asyncio

import numpy as np

from appliance.config import parse_config
from appliance.drivers.emulator import parse_scenario
from appliance.engine.box import Box

LIMIT_S = 240.0
ORIGIN_MS = 1_795_420_800_000  # 2026-11-23T08:00:00Z, a Monday (16:00 in Shanghai)


def run_box(tmp_path, config_text, scenario_text, *, before=None, origin_ms=ORIGIN_MS):
    """Run `config_text` (its data_dir is `tmp_path`) against the scenario until the
    scenario's end; `before(box)` runs after the store exists, before the boards start."""
    config = parse_config(config_text, source="e2e.toml", folder=tmp_path)
    scenario = parse_scenario(scenario_text, "e2e-scenario.toml")
    box = Box(config, scenario=scenario, virtual=True, until_s=scenario.seconds,
              origin_ms=origin_ms)

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
