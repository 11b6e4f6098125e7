"""sd_notify(3) as systemd receives it: a real AF_UNIX datagram socket bound by the test.

- the Notifier alone: datagrams to a path and to an abstract-namespace name, a no-op without
  $NOTIFY_SOCKET, $WATCHDOG_PID naming another process, the watchdog's rate limit (half of
  WATCHDOG_USEC on an injected clock: no tick, no ping);
- `appliance run` as a subprocess with $NOTIFY_SOCKET and $WATCHDOG_USEC set, as systemd
  starts it: READY=1 with a STATUS=, WATCHDOG=1 pings from the tick loop, RELOADING=1 and
  READY=1 around a SIGHUP reload, STOPPING=1 at the end.
"""

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from appliance.config import sample_path
from appliance.engine.sd_notify import Notifier

SAMPLE = Path(sample_path()).read_text(encoding="utf-8")


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


@pytest.fixture
def systemd_socket(tmp_path):
    """A datagram socket where systemd would listen: (path, receive(timeout) -> [lines])."""
    path = tmp_path / "notify"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))

    def receive(timeout=30.0):
        sock.settimeout(timeout)
        return sock.recv(4096).decode("utf-8").split("\n")
    yield str(path), receive
    sock.close()


def test_notifications_arrive_as_one_datagram_of_key_value_lines(systemd_socket):
    path, receive = systemd_socket
    with Notifier.from_environ({"NOTIFY_SOCKET": path}) as notifier:
        assert notifier.enabled
        assert notifier.ready("2 calls up\nand more")
        assert receive() == ["READY=1", "STATUS=2 calls up and more"]
        notifier.status("quiet")
        assert receive() == ["STATUS=quiet"]
        notifier.reloading()
        lines = receive()
        assert lines[0] == "RELOADING=1" and lines[1].startswith("MONOTONIC_USEC=")
        assert int(lines[1].split("=")[1]) > 0
        notifier.stopping()
        assert receive() == ["STOPPING=1"]
        assert notifier.sent == 4 and notifier.failures == 0


def test_an_abstract_namespace_socket_is_reached_by_its_at_name():
    name = f"appliance-test-{os.getpid()}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + name)
    sock.settimeout(30.0)
    try:
        with Notifier.from_environ({"NOTIFY_SOCKET": "@" + name}) as notifier:
            notifier.ready()
        assert sock.recv(4096) == b"READY=1"
    finally:
        sock.close()


def test_without_notify_socket_every_call_is_a_no_op():
    notifier = Notifier.from_environ({"WATCHDOG_USEC": "1000000"})
    assert not notifier.enabled
    assert not notifier.ready("x") and not notifier.tick() and not notifier.stopping()
    assert notifier.sent == notifier.failures == 0


def test_a_lost_systemd_socket_counts_a_failure_and_never_raises(tmp_path):
    with Notifier(str(tmp_path / "gone")) as notifier:
        assert not notifier.ready()
        assert notifier.failures == 1


def test_a_line_that_is_not_key_value_is_refused(systemd_socket):
    with Notifier(systemd_socket[0]) as notifier:
        with pytest.raises(ValueError):
            notifier.notify("READY=1\nSTATUS=x")


@pytest.mark.parametrize("environ, interval", [
    ({"WATCHDOG_USEC": "10000000"}, 5.0),
    ({"WATCHDOG_USEC": "10000000", "WATCHDOG_PID": str(os.getpid())}, 5.0),
    ({"WATCHDOG_USEC": "10000000", "WATCHDOG_PID": str(os.getpid() + 1)}, None),
    ({"WATCHDOG_USEC": "0"}, None),
    ({"WATCHDOG_USEC": "ten"}, None),
    ({}, None),
])
def test_the_watchdog_is_ours_only_as_sd_watchdog_enabled_says(systemd_socket, environ,
                                                                  interval):
    notifier = Notifier.from_environ({"NOTIFY_SOCKET": systemd_socket[0], **environ})
    assert notifier.watchdog_interval == interval
    notifier.close()


def test_watchdog_pings_at_most_every_half_watchdog_usec_of_ticks(systemd_socket):
    path, receive = systemd_socket
    clock = FakeClock()
    notifier = Notifier.from_environ({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "10000000"},
                                     clock=clock)
    pinged = []
    for step in range(130):  # ticks every 0.1 s for 13 s
        clock.now = step / 10
        if notifier.tick():
            pinged.append(clock.now)
    assert pinged == [0.0, 5.0, 10.0]
    assert [receive() for _ in pinged] == [["WATCHDOG=1"]] * 3
    # a stuck loop does not tick: however long it hangs, nothing more is sent
    clock.now = 1000.0
    assert notifier.pings == 3
    assert notifier.tick() and notifier.pings == 4  # the loop is back: at once
    notifier.close()


# ---- `appliance run` under a would-be systemd ---------------------------------------------

def _config(tmp_path):
    path = tmp_path / "appliance.toml"
    path.write_text(SAMPLE.replace('data_dir = "~/.local/share/appliance"', 'data_dir = "data"'),
                    encoding="utf-8")
    return path


def _start(tmp_path, notify_path, *args, watchdog_usec):
    env = {**os.environ, "NOTIFY_SOCKET": notify_path, "WATCHDOG_USEC": str(watchdog_usec)}
    env.pop("APPLIANCE_CONFIG", None)
    env.pop("WATCHDOG_PID", None)
    return subprocess.Popen([sys.executable, "-m", "appliance", "run", "--config",
                             str(_config(tmp_path)), *args], cwd=tmp_path, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _until(receive, first_line):
    """Datagrams up to and including the first starting with `first_line`."""
    got = []
    while True:
        got.append(receive())
        if got[-1][0] == first_line:
            return got


def test_appliance_run_says_ready_pings_the_watchdog_and_says_stopping(tmp_path,
                                                                       systemd_socket):
    path, receive = systemd_socket
    seconds = 5
    proc = _start(tmp_path, path, "--virtual-clock", "--seconds", str(seconds),
                  watchdog_usec=1000)  # a ping at most every 0.5 ms of the host's time
    try:
        datagrams = _until(receive, "STOPPING=1")
        assert proc.wait(60) == 0, proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
    kinds = [d[0].split("=")[0] for d in datagrams]
    ready = kinds.index("READY")
    assert all(k == "STATUS" for k in kinds[:ready])  # nothing before READY but status
    assert datagrams[ready][1].startswith("STATUS=0 call(s) up, 0 caller(s) waiting; "
                                          "agents: 3 ready")
    pings = kinds.count("WATCHDOG")
    assert pings >= 1 and kinds.index("WATCHDOG") > ready
    assert pings <= seconds * 50  # never more than one per tick
    assert kinds[-1] == "STOPPING" and kinds.count("STOPPING") == 1
    assert all(d == ["WATCHDOG=1"] for d in datagrams if d[0] == "WATCHDOG=1")


def test_a_sighup_reload_is_reloading_then_ready(tmp_path, systemd_socket):
    path, receive = systemd_socket
    proc = _start(tmp_path, path, watchdog_usec=200_000)  # real time: a ping every 0.1 s
    try:
        _until(receive, "READY=1")
        _until(receive, "WATCHDOG=1")
        proc.send_signal(signal.SIGHUP)
        reload = _until(receive, "RELOADING=1")
        assert reload[-1][1].startswith("MONOTONIC_USEC=")
        assert _until(receive, "READY=1")[-1] == ["READY=1"]
        _until(receive, "WATCHDOG=1")  # still ticking after the reload
        proc.send_signal(signal.SIGTERM)
        _until(receive, "STOPPING=1")
        assert proc.wait(60) == 0, proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)


def test_a_lost_clock_board_keeps_the_watchdog_fed_from_the_loop(tmp_path, systemd_socket):
    # no ticks while the board is lost, but the loop runs (it re-opens the board): systemd
    # must not restart a box that waits for its board
    import asyncio

    from appliance.config import parse_config
    from appliance.engine.box import Box

    path, receive = systemd_socket
    config = parse_config(_config(tmp_path).read_text(), source="n.toml", folder=tmp_path)
    box = Box(config, virtual=True)
    notifier = Notifier.from_environ({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "100000"})

    async def main():
        async with asyncio.timeout(120):
            await box.start()
            notifier.watch(box.engine)
            engine = asyncio.create_task(box.engine.run())
            try:
                await asyncio.to_thread(_until, receive, "READY=1")
                box.runners[0].freeze()  # the board hangs: lost after the driver's 1 s
                lost = await asyncio.to_thread(_until, receive, "STATUS=board main lost: "
                                               "waiting for it to come back")
                ticks = box.engine.stats.ticks
                after = [await asyncio.to_thread(receive) for _ in range(3)]
                assert box.engine.stats.ticks == ticks  # no tick pinged these
                box.runners[0].thaw()
                return lost, after
            finally:
                box.engine.stop()
                await engine
                notifier.close()
                await box.close()
    lost, after = asyncio.run(main())
    assert after == [["WATCHDOG=1"]] * 3
    assert notifier.lost_pings >= 3
