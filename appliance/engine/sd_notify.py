"""systemd's service notification protocol (sd_notify(3)), written out: no libsystemd.

Under ``Type=notify`` systemd passes ``$NOTIFY_SOCKET``, the path of an AF_UNIX datagram
socket (an abstract-namespace name when it starts with ``@``); each notification is one
datagram of ``KEY=VALUE`` lines. With ``WatchdogSec=`` it also passes ``$WATCHDOG_USEC``
(and ``$WATCHDOG_PID``): the service must send ``WATCHDOG=1`` more often than that, or
systemd kills it and, with ``Restart=on-failure``, starts it again.

    notifier = Notifier.from_environ()      # a no-op when $NOTIFY_SOCKET is unset
    notifier.watch(engine)   # READY=1 at the first tick, then WATCHDOG=1 (rate-limited) and
                             # STATUS= from the tick loop
    notifier.reloading(); ...; notifier.ready()
    notifier.stopping()

The watchdog is pinged from the engine's tick (`tick`), at most every half of
``WATCHDOG_USEC`` (sd_watchdog_enabled(3)'s advice): a loop that stops ticking stops the
pings. The one exception: while the clock board is lost there are no ticks to ping from,
and a timer on the event loop pings instead (the loop is running: it re-opens the board),
so an unplugged board is the driver's to wait for, not a reason for systemd to restart.
The interval is measured on the host's monotonic clock (systemd's watchdog is wall time,
unlike the call logic's board ticks); the clock is a parameter for tests.

Sending never raises: a notification that cannot be delivered (systemd restarting, the
socket gone) is dropped and counted in `failures`, because the box's calls matter more.
"""

import asyncio
import os
import socket
import time

from .clock import TICK_MS

__all__ = ["Notifier"]


class Notifier:
    """Notifications to systemd at `address` (None: every call does nothing).

    `watchdog_usec`: systemd's watchdog timeout (None: no watchdog pings); `clock`: seconds,
    monotonic (default `time.monotonic`)."""

    def __init__(self, address=None, *, watchdog_usec=None, clock=time.monotonic):
        self.address = address
        self.watchdog_interval = None if not watchdog_usec else watchdog_usec / 2e6
        self.clock = clock
        self.sent = 0
        self.failures = 0
        self.pings = 0
        self._last_ping = None
        self._socket = None
        self._timer = None
        self.lost_pings = 0  # pings sent while the clock board was lost (no ticks)
        if address:
            self._target = ("\0" + address[1:]) if address.startswith("@") else address
            self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            self._socket.setblocking(False)

    @classmethod
    def from_environ(cls, environ=None, *, clock=time.monotonic, pid=None):
        """From $NOTIFY_SOCKET and $WATCHDOG_USEC. The watchdog is ours unless
        $WATCHDOG_PID names another process (as sd_watchdog_enabled(3) checks)."""
        environ = os.environ if environ is None else environ
        address = environ.get("NOTIFY_SOCKET") or None
        if address is not None and not (address.startswith("/") or address.startswith("@")):
            address = None  # not a socket we can reach (e.g. vsock: systemd 253's form)
        usec = _positive_int(environ.get("WATCHDOG_USEC"))
        watchdog_pid = _positive_int(environ.get("WATCHDOG_PID"))
        if watchdog_pid is not None and watchdog_pid != (os.getpid() if pid is None else pid):
            usec = None
        return cls(address, watchdog_usec=usec, clock=clock)

    @property
    def enabled(self):
        return self._socket is not None

    def notify(self, *lines):
        """Send one datagram of ``KEY=VALUE`` lines. Returns whether it was sent."""
        if self._socket is None or not lines:
            return False
        for line in lines:
            if "\n" in line or "=" not in line:
                raise ValueError(f"a notification line is KEY=VALUE with no newline: {line!r}")
        try:
            self._socket.sendto("\n".join(lines).encode("utf-8"), self._target)
        except OSError:  # systemd gone or restarting: never stop the box for this
            self.failures += 1
            return False
        self.sent += 1
        return True

    def ready(self, status=None):
        """The service is up (also: a reload is done)."""
        return self.notify("READY=1", *([_status(status)] if status else []))

    def status(self, text):
        """A one-line state for `systemctl status`."""
        return self.notify(_status(text))

    def reloading(self):
        """A reload starts; `ready()` ends it. systemd >= 253 wants the monotonic time."""
        usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        return self.notify("RELOADING=1", f"MONOTONIC_USEC={usec}")

    def stopping(self, status=None):
        return self.notify("STOPPING=1", *([_status(status)] if status else []))

    def tick(self):
        """Called on every engine tick: WATCHDOG=1 when half the watchdog timeout has
        passed since the last ping. Returns whether it pinged."""
        if self.watchdog_interval is None or self._socket is None:
            return False
        now = self.clock()
        if self._last_ping is not None and now - self._last_ping < self.watchdog_interval:
            return False
        self._last_ping = now
        if self.notify("WATCHDOG=1"):
            self.pings += 1
            return True
        return False

    def watch(self, engine, status_every_s=5.0):
        """READY=1 at `engine`'s first tick (the boards answer, the agents are logged in,
        calls can come), then WATCHDOG=1 from its ticks, and every `status_every_s` seconds
        what the box is doing (`engine_status`) when that changed."""
        due = [None, None]  # next status time, last text

        def hook():
            if due[1] is None:
                due[1] = engine_status(engine)
                due[0] = self.clock() + status_every_s
                self.ready(due[1])
                return
            self.tick()
            now = self.clock()
            if due[0] is not None and now < due[0]:
                return
            due[0] = now + status_every_s
            text = engine_status(engine)
            if text != due[1]:
                due[1] = text
                self.status(text)

        if self._socket is not None:
            engine.tick_hooks.append(hook)
            if self.watchdog_interval is not None:
                self._watch_lost_clock(engine, asyncio.get_running_loop())
        return hook

    def _watch_lost_clock(self, engine, loop):
        """While the clock board is lost (unplugged, re-opening) no tick comes, yet the loop
        is well: the driver's watchdog and re-open run on it. Then this timer on the loop
        pings, so that systemd does not restart a box that waits for its board; a loop that
        is stuck runs no timer either."""
        board = engine.boards[engine.clock_board]
        told = [False]  # the status says the board is lost

        def check():
            lost = not board.alive and not board.closed
            if lost and not told[0]:
                self.status(f"board {engine.clock_board} lost: waiting for it to come back")
            told[0] = lost
            if lost and self.tick():
                self.lost_pings += 1
            if self._socket is not None:
                self._timer = loop.call_later(self.watchdog_interval, check)
        self._timer = loop.call_later(self.watchdog_interval, check)

    def close(self):
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        sock, self._socket = self._socket, None
        if sock is not None:
            sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


def engine_status(engine):
    """One line: calls up, callers waiting, agents free and busy (the ACD's snapshot)."""
    switchboard = engine.switchboard
    snapshot = switchboard.acd.snapshot(switchboard.now * TICK_MS)
    agents = snapshot["totals"]["agents"]
    busy = sum(agents.get(k, 0) for k in ("reserved", "on_call", "wrap_up"))
    return (f"{len(switchboard.calls)} call(s) up, {snapshot['totals']['waiting']} caller(s) "
            f"waiting; agents: {agents.get('idle', 0)} ready, {busy} busy, "
            f"{agents.get('not_ready', 0)} not ready")


def _status(text):
    return "STATUS=" + " ".join(str(text).split())  # one line


def _positive_int(text):
    try:
        value = int(text)
    except (TypeError, ValueError):
        return None
    return value if value > 0 else None
