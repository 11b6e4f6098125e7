"""Serial transports through pyserial's ``serial_for_url``: a tty (``/dev/ttyACM0``), a pty
path, ``socket://host:port`` and ``loop://``.

asyncio integration, and why:
- A port with a file descriptor (ttys, ptys, ``socket://``) is watched with
  ``loop.add_reader`` / ``add_writer`` and read and written through pyserial with zero
  timeouts, only when the fd is ready. No thread per board, the kernel's buffer is the only
  buffer (no unbounded queue in Python), cancelling a read loses nothing (bytes stay in the
  kernel), and ``close`` needs no thread to be woken.
  pyserial's non-blocking ``write`` busy-loops on a full buffer, so it is only called once
  the fd reports writable.
- ``loop://`` has no fd (it is a queue inside pyserial). It gets one reader thread blocked
  in pyserial's ``read``, feeding a bounded `BytePipe`; writes run in a worker thread.
  pyserial's ``close`` wakes that reader.

Opening blocks (``socket://`` connects with pyserial's 5 s timeout): from an event loop,
open in a thread (``await asyncio.to_thread(open_transport, url)``).
"""

import asyncio
import errno
import re
import select
import termios
import threading

import serial

from appliance.drivers.transport.base import Transport
from appliance.drivers.transport.errors import TransportClosed, TransportError
from appliance.drivers.transport.fdwait import FdWaiter
from appliance.drivers.transport.pipe import BytePipe, PipeClosed

DEFAULT_BAUDRATE = 115200  # CDC-ACM boards ignore it; real UARTs need it to match
WRITE_CHUNK = 65536
_SOCKET_URL = re.compile(r"socket://(\[[0-9A-Fa-f:.]+\]|[^:/?#\[\]]+):([0-9]{1,5})")


def open_serial(url, baudrate=DEFAULT_BAUDRATE):
    """Open `url` through ``serial_for_url`` and return a SerialTransport."""
    if "?" in url and url.startswith(("socket:", "loop:")):
        # pyserial's URL options only switch on its logging (with logging.basicConfig).
        raise TransportError(url, "URL options are not supported; remove the '?...' part")
    if url.startswith("socket:"):
        # pyserial would take an empty host as localhost and say little about the rest.
        match = _SOCKET_URL.fullmatch(url)
        if match is None or not 0 < int(match.group(2)) < 65536:
            raise TransportError(url, "bad URL: write socket://HOST:PORT with PORT from 1 "
                                 "to 65535 (e.g. socket://127.0.0.1:7000)")
    try:
        port = serial.serial_for_url(url, baudrate=baudrate, timeout=0, write_timeout=0,
                                     exclusive=not url.startswith(("socket:", "loop:")))
    except serial.SerialException as exc:
        raise _open_error(url, exc) from None
    except ValueError as exc:  # pyserial's answer to a malformed URL or setting
        raise TransportError(url, f"cannot open: {exc}") from None
    if url.startswith("loop:"):
        return _ThreadedSerialTransport(url, port)
    return _FdSerialTransport(url, port)


def _open_error(url, exc):
    # pyserial's posix open sets errno; socket:// wraps the OSError in __context__.
    code = exc.errno
    cause = exc.__context__
    if code is None and isinstance(cause, OSError):
        code = cause.errno
    elif code is None and isinstance(cause, termios.error) and cause.args:
        code = cause.args[0]  # "Could not configure port": tcgetattr on a non-tty
    if url.startswith("socket:"):
        if code == errno.ECONNREFUSED:
            return TransportError(url, "connection refused: nothing listens there; start the "
                                  "emulator or board server on that port first")
        if "form" in str(exc) or code is None and "socket://" in str(exc):
            return TransportError(url, "bad URL: write socket://HOST:PORT")
        return TransportError(url, f"cannot connect ({exc}); check host and port")
    if code == errno.ENOENT:
        return TransportError(url, "no such device: is the board plugged in and powered? "
                              "`appliance boards list` shows the boards present")
    if code in (errno.EACCES, errno.EPERM):
        return TransportError(url, "permission denied: add the user to the 'dialout' group "
                              "(usermod -aG dialout USER, then log in again) or install a "
                              "udev rule giving the device MODE=\"0660\", GROUP=\"dialout\"")
    if code in (errno.EBUSY, errno.EAGAIN, errno.EWOULDBLOCK) or "lock" in str(exc).lower():
        return TransportError(url, "the port is in use by another process (it is opened "
                              "exclusively); stop the other program first")
    if code in (errno.ENOTTY, errno.EINVAL, errno.EISDIR):
        return TransportError(url, "not a serial port (no terminal settings); use a tty, a "
                              "pty, socket://HOST:PORT or loop://")
    return TransportError(url, f"cannot open: {exc}")


class _SerialBase(Transport):
    def __init__(self, url, port):
        self.url = url
        self.port = port
        self._closed = False

    @property
    def closed(self):
        return self._closed

    def _gone(self, exc):
        self.close()
        return TransportClosed(self.url, f"link lost ({exc})")

    def close(self):
        if self._closed:
            return
        self._closed = True
        if self.url.startswith("socket:"):
            # pyserial's socket close shuts the socket down and closes it, then sleeps 0.3 s
            # "to give the server some time": on the event loop's thread that would stall
            # every other board for 15 ticks. The sleep runs in a thread of its own.
            threading.Thread(target=self.port.close, name=f"close {self.url}",
                             daemon=True).start()
        else:
            self.port.close()


class _FdSerialTransport(_SerialBase):
    """A port with a file descriptor, driven by the event loop's selector."""

    def __init__(self, url, port):
        super().__init__(url, port)
        self._fd = port.fileno()
        self._waiter = FdWaiter(self._fd)

    async def _read(self, max_bytes):
        while True:
            if self._closed:
                raise TransportClosed(self.url, "read on a closed transport")
            try:
                data = self.port.read(max_bytes)  # timeout 0: what is there now
            except (serial.SerialException, OSError) as exc:
                raise self._gone(exc) from None
            if data:
                return data
            await self._waiter.readable()

    async def write(self, data):
        view = memoryview(bytes(data))
        while view:
            if self._closed:
                raise TransportClosed(self.url, "write on a closed transport")
            _, writable, _ = select.select([], [self._fd], [], 0)
            if not writable:
                await self._waiter.writable()
                continue
            try:
                n = self.port.write(view[:WRITE_CHUNK])
            except (serial.SerialException, OSError) as exc:
                raise self._gone(exc) from None
            view = view[n:]

    def close(self):
        if self._closed:
            return
        self._waiter.cancel()  # stop watching the fd before it is closed (it may be reused)
        super().close()


class _ThreadedSerialTransport(_SerialBase):
    """A port with no file descriptor (``loop://``): one reader thread, worker writes."""

    def __init__(self, url, port, capacity=1 << 20):
        super().__init__(url, port)
        port.timeout = None  # the reader thread blocks until a byte arrives or close
        port.write_timeout = None
        self._inbox = BytePipe(capacity)
        self._thread = threading.Thread(target=self._pump, name=f"reader {url}", daemon=True)
        self._thread.start()

    def _pump(self):
        try:
            while True:
                first = self.port.read(1)
                if not first:  # pyserial's close wakes the read with nothing
                    break
                more = self.port.in_waiting
                self._inbox.write(first + (self.port.read(more) if more else b""))
        except PipeClosed:
            return
        except (serial.SerialException, OSError) as exc:
            self._inbox.close(TransportClosed(self.url, f"link lost ({exc})"))
            return
        self._inbox.close(TransportClosed(self.url, "closed on this side"))

    async def _read(self, max_bytes):
        if self._closed and not len(self._inbox):
            raise TransportClosed(self.url, "read on a closed transport")
        data = await self._inbox.read_async(max_bytes)
        if not data:
            raise TransportClosed(self.url, "the link ended")
        return data

    async def write(self, data):
        if self._closed:
            raise TransportClosed(self.url, "write on a closed transport")
        try:
            await asyncio.to_thread(self.port.write, bytes(data))
        except (serial.SerialException, OSError) as exc:
            raise self._gone(exc) from None

    def close(self):
        if self._closed:
            return
        super().close()
        self._inbox.close(TransportClosed(self.url, "closed on this side"))
        self._thread.join(timeout=1.0)

