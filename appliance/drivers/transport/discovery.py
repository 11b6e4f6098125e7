"""Which voice boards are plugged in: serial ports (pyserial's list_ports) and USB devices
(pyusb) whose VID:PID is a known board, each with the URL `open_transport` takes.

A board with a CDC-ACM interface shows up twice to the OS: as a tty (``/dev/ttyACM0``) and
as a USB device. It is listed once, as the tty (opening it needs no kernel driver detached).
A board on a plain UART has no VID:PID: ``all_serial=True`` lists every serial port too,
marked ``known=False``.

USB enumeration can fail where serial enumeration works (no libusb, no permission to read
a device's strings); those problems come back as `BoardsPresent.warnings`, each naming the
fix, and never hide the boards that were found.
"""

import enum
import errno
from dataclasses import dataclass

import usb.core
import usb.util
from serial.tools import list_ports

from appliance.drivers.transport.usb_bulk import _udev_hint
from appliance.drivers.transport.usb_emulated import DEFAULT_PID, DEFAULT_VID

# VID:PID of the voice boards this driver speaks to -> what they are.
KNOWN_BOARDS = {
    (DEFAULT_VID, DEFAULT_PID): "voice board (pid.codes test PID 1209:0001)",
}


class BoardLink(enum.Enum):
    SERIAL = "serial"
    USB = "usb"


@dataclass(frozen=True)
class PresentBoard:
    url: str  # what open_transport takes
    link: BoardLink
    vid: int | None
    pid: int | None
    serial_number: str | None
    description: str
    known: bool  # the VID:PID is a known voice board


@dataclass(frozen=True)
class BoardsPresent:
    """The boards found (iterable, like a list) and what could not be looked at."""

    boards: tuple[PresentBoard, ...]
    warnings: tuple[str, ...]

    def __iter__(self):
        return iter(self.boards)

    def __len__(self):
        return len(self.boards)


def boards_present(*, known=None, usb_backend=None, all_serial=False):
    """The boards present now: serial ports, then USB devices, each sorted by URL.

    `known` maps (vid, pid) to a description (default `KNOWN_BOARDS`); `usb_backend` is
    the pyusb backend (default libusb 1.0; e.g. an `EmulatedUsbBackend`); `all_serial`
    lists serial ports with no known VID:PID too.
    """
    known = KNOWN_BOARDS if known is None else known
    boards, warnings = [], []
    for port in sorted(list_ports.comports(), key=lambda p: p.device):
        ids = (port.vid, port.pid)
        if ids not in known and not all_serial:
            continue
        description = known.get(ids) or port.description
        boards.append(PresentBoard(port.device, BoardLink.SERIAL, port.vid, port.pid,
                                   port.serial_number, description, ids in known))
    as_tty = {(b.vid, b.pid, b.serial_number) for b in boards if b.vid is not None}
    boards += _usb_boards(known, usb_backend, as_tty, warnings)
    return BoardsPresent(tuple(boards), tuple(warnings))


def _usb_boards(known, backend, as_tty, warnings):
    try:
        devices = list(usb.core.find(find_all=True, backend=backend,
                                     custom_match=lambda d: (d.idVendor, d.idProduct) in known))
    except usb.core.NoBackendError:
        warnings.append("USB not scanned: no libusb backend; install Debian's libusb-1.0-0 "
                        "(apt-get install libusb-1.0-0) or pip install libusb-package")
        return []
    found = []
    for device in devices:
        vid, pid = device.idVendor, device.idProduct
        serial_number = _read_serial(device, warnings)
        usb.util.dispose_resources(device)
        if (vid, pid, serial_number) in as_tty:
            continue
        url = f"usb://{vid:04x}:{pid:04x}" + (f"/{serial_number}" if serial_number else "")
        found.append(PresentBoard(url, BoardLink.USB, vid, pid, serial_number,
                                  known[(vid, pid)], True))
    return sorted(found, key=lambda b: b.url)


def _read_serial(device, warnings):
    where = f"USB {device.idVendor:04x}:{device.idProduct:04x} (bus {device.bus} address " \
            f"{device.address})"
    try:
        return device.serial_number
    except ValueError:  # pyusb: no langid, i.e. the device could not be opened
        warnings.append(f"{where}: cannot read its serial number: "
                        f"{_udev_hint(device.idVendor, device.idProduct)}")
    except usb.core.USBError as exc:
        if exc.errno in (errno.EACCES, errno.EPERM):
            warnings.append(f"{where}: cannot read its serial number: "
                            f"{_udev_hint(device.idVendor, device.idProduct)}")
        else:
            warnings.append(f"{where}: cannot read its serial number ({exc})")
    return None
