"""boards_present: serial ports from pyserial's list_ports, USB boards through pyusb."""

import asyncio

import pytest
import usb.backend.libusb1
from serial.tools import list_ports
from serial.tools.list_ports_common import ListPortInfo

from appliance.drivers.transport import open_transport
from appliance.drivers.transport.discovery import (
    KNOWN_BOARDS,
    BoardLink,
    boards_present,
)
from appliance.drivers.transport.usb_emulated import EmulatedUsbDevice, emulated_bus


def port(device, vid=None, pid=None, serial_number=None):
    info = ListPortInfo(device, skip_link_detection=True)
    info.vid, info.pid, info.serial_number = vid, pid, serial_number
    if vid is not None:
        info.apply_usb_info()
    return info


@pytest.fixture
def ports(monkeypatch):
    # The sysfs scan cannot be given a CDC-ACM board here: pyserial's own ListPortInfo
    # records stand in for what it returns.
    found = []
    monkeypatch.setattr(list_ports, "comports", lambda: list(found))
    return found


def test_this_machine_lists_only_known_boards_by_default():
    result = boards_present(usb_backend=emulated_bus(EmulatedUsbDevice(vid=0x1d6b)))
    assert all(board.known for board in result)
    assert {board.link for board in result} <= {BoardLink.SERIAL}  # no known USB board here


def test_known_usb_board_is_listed_with_a_url_that_opens():
    board = EmulatedUsbDevice(serial_number="VB0007")
    bus = emulated_bus(board, EmulatedUsbDevice(vid=0x1d6b, pid=0x0002, serial_number="HUB"))
    result = boards_present(usb_backend=bus)
    usb_boards = [b for b in result if b.link is BoardLink.USB]
    assert [b.url for b in usb_boards] == ["usb://1209:0001/VB0007"]
    assert usb_boards[0].description == KNOWN_BOARDS[(0x1209, 0x0001)]
    assert result.warnings == ()
    assert board.open_handles == 0  # the scan let go of the device

    async def main():
        async with open_transport(usb_boards[0].url, usb_backend=bus) as host:
            await host.write(b"hello")
            return await asyncio.wait_for(board.peer.read(), 5)

    assert asyncio.run(main()) == b"hello"


def test_unreadable_serial_number_is_a_warning_naming_the_fix():
    bus = emulated_bus(EmulatedUsbDevice(accessible=False))
    result = boards_present(usb_backend=bus)
    assert [b.url for b in result if b.link is BoardLink.USB] == ["usb://1209:0001"]
    assert len(result.warnings) == 1 and "udev rule" in result.warnings[0]


def test_serial_ports_with_a_known_vid_pid(ports):
    ports += [port("/dev/ttyACM1", 0x1209, 0x0001, "VB0002"), port("/dev/ttyS0"),
              port("/dev/ttyUSB0", 0x0403, 0x6001, "FT1"), port("/dev/ttyACM0", 0x1209, 0x0001,
                                                                "VB0001")]
    result = boards_present(usb_backend=emulated_bus(EmulatedUsbDevice(pid=0x0002)))
    assert [(b.url, b.serial_number, b.known) for b in result] == [
        ("/dev/ttyACM0", "VB0001", True), ("/dev/ttyACM1", "VB0002", True)]
    everything = boards_present(usb_backend=emulated_bus(), all_serial=True)
    assert [(b.url, b.known) for b in everything] == [
        ("/dev/ttyACM0", True), ("/dev/ttyACM1", True), ("/dev/ttyS0", False),
        ("/dev/ttyUSB0", False), ("usb://1209:0001/EMU0001", True)]


def test_cdc_acm_board_is_listed_once_as_its_tty(ports):
    ports.append(port("/dev/ttyACM0", 0x1209, 0x0001, "VB0001"))
    bus = emulated_bus(EmulatedUsbDevice(serial_number="VB0001"),
                       EmulatedUsbDevice(serial_number="VB0002"))
    assert [b.url for b in boards_present(usb_backend=bus)] == [
        "/dev/ttyACM0", "usb://1209:0001/VB0002"]


def test_other_known_ids(ports):
    ports.append(port("/dev/ttyACM0", 0x1209, 0x0001, "VB0001"))
    bus = emulated_bus(EmulatedUsbDevice(vid=0x1234, pid=0x5678, serial_number="X1"))
    result = boards_present(known={(0x1234, 0x5678): "test board"}, usb_backend=bus)
    assert [(b.url, b.description) for b in result] == [("usb://1234:5678/X1", "test board")]


def test_no_libusb_is_a_warning_not_an_error(ports):
    if usb.backend.libusb1.get_backend() is not None:
        pytest.skip("libusb is installed here: the default backend works")
    ports.append(port("/dev/ttyACM0", 0x1209, 0x0001, "VB0001"))
    result = boards_present()
    assert [b.url for b in result] == ["/dev/ttyACM0"]
    assert len(result.warnings) == 1 and "libusb-1.0-0" in result.warnings[0]
