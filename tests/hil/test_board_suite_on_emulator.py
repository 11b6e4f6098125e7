"""CI runs the board suite (hil-tests/) against the emulator over a pty, as it would run
against real hardware: the emulator serves a pty from a thread of this process (what
`appliance emulate` does; its own test is in tests/cli), and `pytest hil-tests --board
URL` runs in another process, on a virtual clock: CI has no wall-clock checks (the suite's
50 ticks/s check is for real boards; the emulator's real-time pacing is tested with a fake
monotonic clock in tests/drivers/emulator)."""

import asyncio
import contextlib
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from appliance.drivers.emulated_board import EmulatorRunner, emulated_board, serve_pty

ROOT = Path(__file__).resolve().parents[2]
CABLES = ("2:0", "3:1")


@contextlib.contextmanager
def _emulator(virtual):
    """An emulated 2FXO+2FXS board with its cables on a pty, served by a thread."""
    started = threading.Event()
    box = {}

    async def serve():
        session = emulated_board("2fxo+2fxs", virtual=virtual,
                                 cables=[tuple(map(int, c.split(":"))) for c in CABLES])
        runner = EmulatorRunner(session).start()
        box["url"] = (await serve_pty(runner)).path
        box["stop"] = asyncio.Event()
        box["loop"] = asyncio.get_running_loop()
        started.set()
        await box["stop"].wait()
        await runner.stop()

    thread = threading.Thread(target=asyncio.run, args=(serve(),), daemon=True)
    thread.start()
    assert started.wait(30), "the emulator did not start"
    try:
        yield box["url"]
    finally:
        box["loop"].call_soon_threadsafe(box["stop"].set)
        thread.join(30)


def _suite(url, *args):
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "hil-tests",
         "--board", url, "--loopback", ",".join(CABLES), *args],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=600)


def test_board_suite_passes_against_the_emulator_over_a_pty():
    with _emulator(virtual=True) as url:
        result = _suite(url, "--virtual-clock")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "11 passed" in result.stdout and "skipped" not in result.stdout


def test_board_suite_is_skipped_without_a_board():
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "hil-tests"],
        capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert result.returncode == 0 and "11 skipped" in result.stdout, result.stdout[-2000:]
