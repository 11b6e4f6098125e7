"""Byte transports between the host and a voice board, opened from a URL.

==============================  ==========================================================
URL                             transport
==============================  ==========================================================
``/dev/ttyACM0``, ``/dev/pts/5`` a tty or pty through pyserial (``serial_for_url``)
``socket://HOST:PORT``          TCP through pyserial (e.g. the emulator on a port)
``loop://``                     pyserial's loopback: what is written is read back
``usb://VID:PID[/SERIAL]``      USB bulk endpoints through pyusb (``usb_backend=`` chooses
                                the backend, e.g. an `EmulatedUsbBackend`)
``inprocess://NAME``            the host end of an endpoint offered in this process with
                                `listen_inprocess` (see also `inprocess_pair`)
==============================  ==========================================================

Every transport moves bytes and nothing else (no framing: that is ``drivers/protocol``).
A URL that cannot be opened raises `TransportError` naming the URL and the fix.
`boards_present()` lists the serial and USB boards plugged in, each with its URL.
The board's side of a link (for the emulator and tests): `PtyBoard` (the host opens its
``.path``), `TcpBoardServer` (the host opens its ``.url``), `listen_inprocess`, and the
emulated USB device's ``.peer`` (`usb_emulated`).
"""

from urllib.parse import urlsplit

from appliance.drivers.transport.base import Transport
from appliance.drivers.transport.board_side import FdTransport, PtyBoard, TcpBoardServer
from appliance.drivers.transport.discovery import (
    BoardLink,
    BoardsPresent,
    PresentBoard,
    boards_present,
)
from appliance.drivers.transport.errors import TransportClosed, TransportError
from appliance.drivers.transport.inprocess import (
    PipeTransport,
    connect_inprocess,
    inprocess_pair,
    listen_inprocess,
)
from appliance.drivers.transport.pipe import BytePipe, PipeClosed

SCHEMES = ("socket", "loop", "usb", "inprocess")
USAGE = ("use a device path (/dev/ttyACM0, a pty), socket://HOST:PORT, loop://, "
         "usb://VID:PID[/SERIAL] or inprocess://NAME")


def open_transport(url, *, baudrate=None, usb_backend=None):
    """Open the board link named by `url` and return a `Transport`.

    `baudrate` applies to ttys (CDC-ACM boards ignore it); `usb_backend` is the pyusb backend
    for ``usb://`` URLs (default: libusb 1.0). Opening blocks (a TCP connect, USB
    enumeration): from an event loop, call it through ``asyncio.to_thread``.
    """
    if not isinstance(url, str) or not url:
        raise TransportError(repr(url), f"no URL given; {USAGE}")
    scheme = urlsplit(url).scheme if "://" in url else ""
    if scheme == "inprocess":
        name = url[len("inprocess://"):]
        if not name:
            raise TransportError(url, "no name: write inprocess://NAME")
        return connect_inprocess(url, name)
    if scheme == "usb":
        from appliance.drivers.transport.usb_bulk import open_usb

        return open_usb(url, backend=usb_backend)
    if scheme in ("", "socket", "loop"):
        if scheme == "" and not url.startswith("/"):
            raise TransportError(url, f"not a device path or URL; {USAGE}")
        from appliance.drivers.transport.serial_port import DEFAULT_BAUDRATE, open_serial

        return open_serial(url, baudrate=baudrate or DEFAULT_BAUDRATE)
    raise TransportError(url, f"unknown scheme {scheme!r}; {USAGE}")


__all__ = [
    "BoardLink",
    "BoardsPresent",
    "BytePipe",
    "FdTransport",
    "PipeClosed",
    "PipeTransport",
    "PresentBoard",
    "PtyBoard",
    "SCHEMES",
    "TcpBoardServer",
    "Transport",
    "TransportClosed",
    "TransportError",
    "boards_present",
    "inprocess_pair",
    "listen_inprocess",
    "open_transport",
]
