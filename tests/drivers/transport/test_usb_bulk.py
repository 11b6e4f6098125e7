"""usb://VID:PID[/SERIAL] through pyusb, on the emulated board (the real pyusb code path)."""

import asyncio
import errno

import pytest
import usb.backend.libusb1
import usb.core

from appliance.drivers.transport import TransportClosed, TransportError, open_transport
from appliance.drivers.transport.usb_bulk import UsbTransport, open_usb, parse_usb_url
from appliance.drivers.transport.usb_emulated import (
    EmulatedUsbBackend,
    EmulatedUsbDevice,
    emulated_bus,
)

ALL_BYTES = bytes(range(256))
URL = "usb://1209:0001"


async def read_exactly(transport, n):
    data = bytearray()
    while len(data) < n:
        data += await asyncio.wait_for(transport.read(n - len(data)), 5)
    return bytes(data)


def test_every_byte_value_both_ways():
    device = EmulatedUsbDevice()
    bus = emulated_bus(device)

    async def main():
        async with open_transport(URL, usb_backend=bus) as host:
            assert isinstance(host, UsbTransport)
            assert (host.ep_in, host.ep_out, host.interface_number) == (0x81, 0x01, 0)
            await host.write(ALL_BYTES * 3)
            from_host = await read_exactly(device.peer, 768)
            await device.peer.write(ALL_BYTES[::-1])
            return from_host, await read_exactly(host, 256)

    from_host, to_host = asyncio.run(main())
    assert from_host == ALL_BYTES * 3
    assert to_host == ALL_BYTES[::-1]
    assert device.claimed == {} and device.open_handles == 0  # released on close


def test_megabyte_each_way_through_small_fifos():
    device = EmulatedUsbDevice(fifo_bytes=4096)
    data = bytes(i * 31 % 256 for i in range(1 << 20))

    async def main():
        async with open_transport(URL, usb_backend=emulated_bus(device)) as host:
            up = asyncio.ensure_future(read_exactly(device.peer, len(data)))
            await asyncio.wait_for(host.write(data), 20)
            down = asyncio.ensure_future(device.peer.write(data[::-1]))
            got = await read_exactly(host, len(data))
            await down
            return await up, got

    up, down = asyncio.run(main())
    assert up == data and down == data[::-1]


def test_unconfigured_device_is_configured_on_open():
    device = EmulatedUsbDevice(initial_configuration=0)
    host = open_transport(URL, usb_backend=emulated_bus(device))
    assert device.configuration == 1 and 0 in device.claimed
    host.close()


def test_kernel_driver_is_detached_and_given_back():
    device = EmulatedUsbDevice(kernel_driver_bound=True)
    host = open_transport(URL, usb_backend=emulated_bus(device))
    assert not device.kernel_driver_bound and 0 in device.claimed
    host.close()
    assert device.kernel_driver_bound and device.claimed == {}


class LosingRaceBackend(EmulatedUsbBackend):
    """Another process claims the interface between our detach and our claim."""

    def claim_interface(self, dev_handle, intf):
        raise usb.core.USBError("Resource busy", -6, errno.EBUSY)


def test_failed_claim_gives_the_kernel_driver_back():
    device = EmulatedUsbDevice(kernel_driver_bound=True)
    with pytest.raises(TransportError, match="busy"):
        open_transport(URL, usb_backend=LosingRaceBackend([device]))
    assert device.kernel_driver_bound and device.open_handles == 0


def test_serial_number_picks_one_of_several_boards():
    a, b = EmulatedUsbDevice(serial_number="VB0001"), EmulatedUsbDevice(serial_number="VB0002")
    bus = emulated_bus(a, b)
    with pytest.raises(TransportError, match=r"2 boards match.*usb://1209:0001/SERIAL.*VB0001, "
                       r"VB0002"):
        open_transport(URL, usb_backend=bus)

    async def main():
        async with open_transport(URL + "/VB0002", usb_backend=bus) as host:
            await host.write(b"to b")
            return await read_exactly(b.peer, 4)

    assert asyncio.run(main()) == b"to b"
    assert len(a.from_host) == 0
    with pytest.raises(TransportError, match=r"no board with serial 'VB0003'.*VB0001, VB0002"):
        open_transport(URL + "/VB0003", usb_backend=bus)


def test_board_in_use_is_busy():
    bus = emulated_bus()
    first = open_transport(URL, usb_backend=bus)
    try:
        with pytest.raises(TransportError, match="busy: another process has claimed"):
            open_transport(URL, usb_backend=bus)
    finally:
        first.close()
    open_transport(URL, usb_backend=bus).close()


def test_no_such_device_names_the_fix():
    bus = emulated_bus(EmulatedUsbDevice(pid=0x0002))
    with pytest.raises(TransportError, match="no USB device 1209:0001.*appliance boards list"):
        open_transport(URL, usb_backend=bus)


def test_permission_denied_names_the_udev_rule():
    bus = emulated_bus(EmulatedUsbDevice(accessible=False))
    for url in (URL, URL + "/EMU0001"):  # failing at open, and at reading the serial string
        with pytest.raises(TransportError, match=r'udev rule.*ATTR\{idVendor\}=="1209"') as info:
            open_transport(url, usb_backend=bus)
        assert info.value.url == url


def test_unplug_while_reading_is_transport_closed():
    device = EmulatedUsbDevice()

    async def main():
        host = open_transport(URL, usb_backend=emulated_bus(device))
        pending = asyncio.ensure_future(host.read())
        await asyncio.sleep(0.01)
        device.unplug()
        with pytest.raises(TransportClosed, match="unplugged"):
            await asyncio.wait_for(pending, 5)
        with pytest.raises(TransportClosed):
            await host.write(b"x")
        host.close()

    asyncio.run(main())


def test_read_timeout_then_the_bytes_that_come_later():
    device = EmulatedUsbDevice()

    async def main():
        async with open_transport(URL, usb_backend=emulated_bus(device)) as host:
            with pytest.raises(TimeoutError):
                await host.read(timeout=0.01)
            await device.peer.write(b"late")
            return await read_exactly(host, 4)

    assert asyncio.run(main()) == b"late"


def test_board_that_stops_taking_data_is_a_write_error():
    device = EmulatedUsbDevice(fifo_bytes=1000)

    async def main():
        host = open_usb(URL, emulated_bus(device), write_timeout_ms=10)
        try:
            with pytest.raises(TransportError, match="stopped taking data"):
                await host.write(bytes(5000))
        finally:
            host.close()
        return len(device.from_host)

    assert asyncio.run(main()) == 1000  # what fitted was delivered


def test_close_wakes_a_pending_read():
    async def main():
        host = open_transport(URL, usb_backend=emulated_bus())
        pending = asyncio.ensure_future(host.read())
        await asyncio.sleep(0.01)
        host.close()
        with pytest.raises(TransportClosed, match="closed on this side"):
            await asyncio.wait_for(pending, 5)
        assert host.closed

    asyncio.run(main())


def test_parse_usb_url():
    assert parse_usb_url("usb://1209:0001") == (0x1209, 0x0001, None)
    assert parse_usb_url("usb://ABCD:ef01/VB-7") == (0xABCD, 0xEF01, "VB-7")


@pytest.mark.parametrize("url", ["usb://1209", "usb://12:0001", "usb://xyzw:0001",
                                 "usb://1209:0001/a/b", "usb://1209:0001/"])
def test_bad_usb_url(url):
    with pytest.raises(TransportError, match="bad USB URL.*usb://VID:PID") as info:
        open_transport(url, usb_backend=emulated_bus())
    assert info.value.url == url


def test_default_backend_without_libusb_or_board_is_a_clear_error():
    if usb.backend.libusb1.get_backend() is None:
        match = "no libusb backend: install Debian's libusb-1.0-0"
    else:
        match = "no USB device 1209:00ff"  # no board uses this id
    with pytest.raises(TransportError, match=match):
        open_transport("usb://1209:00ff")
