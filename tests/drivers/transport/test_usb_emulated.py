"""The emulated USB board seen through pyusb's own code (usb.core.find(backend=...))."""

import usb.core
import usb.util

from appliance.drivers.transport.usb_emulated import (
    DEFAULT_PID,
    DEFAULT_VID,
    EmulatedUsbBackend,
    EmulatedUsbDevice,
    emulated_bus,
)


def test_find_by_vid_pid_and_read_the_string_descriptors():
    bus = emulated_bus(EmulatedUsbDevice(serial_number="VB0042"),
                       EmulatedUsbDevice(vid=0x1d6b, pid=0x0002, serial_number="HUB"))
    devices = list(usb.core.find(find_all=True, backend=bus))
    assert len(devices) == 2
    dev = usb.core.find(idVendor=DEFAULT_VID, idProduct=DEFAULT_PID, backend=bus)
    # pyusb reads these with GET_DESCRIPTOR control transfers (language 0, then the string)
    assert dev.serial_number == "VB0042"
    assert dev.manufacturer == "Call-centre appliance"
    assert dev.product == "Emulated voice board"
    assert dev.bcdUSB == 0x0200 and dev.bNumConfigurations == 1
    usb.util.dispose_resources(dev)


def test_descriptors_parse_to_one_vendor_interface_with_two_bulk_endpoints():
    bus = emulated_bus()
    dev = usb.core.find(idVendor=DEFAULT_VID, backend=bus)
    cfg = dev[0]
    assert cfg.bConfigurationValue == 1 and cfg.bNumInterfaces == 1
    intf = cfg[(0, 0)]
    assert intf.bInterfaceClass == 0xFF and intf.bNumEndpoints == 2
    eps = {ep.bEndpointAddress: ep for ep in intf}
    assert set(eps) == {0x01, 0x81}
    for ep in eps.values():
        assert usb.util.endpoint_type(ep.bmAttributes) == usb.util.ENDPOINT_TYPE_BULK
        assert ep.wMaxPacketSize == 512
    # The raw configuration descriptor a GET_DESCRIPTOR returns agrees with the parsed view.
    raw = dev.ctrl_transfer(0x80, 0x06, 0x0200, 0, 255)
    assert len(raw) == cfg.wTotalLength == 9 + 9 + 7 + 7


def test_bulk_transfers_need_configuration_and_a_claimed_interface():
    device = EmulatedUsbDevice(initial_configuration=0)
    dev = usb.core.find(backend=emulated_bus(device))
    try:
        dev.write(0x01, b"x", timeout=100)
    except usb.core.USBError as exc:
        assert "Configuration not set" in str(exc)
    else:
        raise AssertionError("a transfer on an unconfigured device must fail")
    dev.set_configuration()
    assert device.configuration == 1 and device.claimed == {}
    dev.write(0x01, b"x", timeout=100)  # pyusb claims the interface implicitly
    assert 0 in device.claimed
    assert device.from_host.read(timeout=1) == b"x"
    device.to_host.write(b"from the board")
    assert bytes(dev.read(0x81, 512, timeout=100)) == b"from the board"
    usb.util.dispose_resources(dev)
    assert device.claimed == {} and device.open_handles == 0


def test_read_timeout_is_pyusb_timeout_error():
    dev = usb.core.find(backend=emulated_bus())
    try:
        dev.read(0x81, 512, timeout=10)
    except usb.core.USBTimeoutError as exc:
        assert exc.backend_error_code == -7
    else:
        raise AssertionError("a read with nothing to read must time out")
    finally:
        usb.util.dispose_resources(dev)


def test_write_timing_out_part_way_returns_the_count():
    # As pyusb's libusb1 backend does: a timeout after some bytes moved is not an error.
    device = EmulatedUsbDevice(fifo_bytes=1000)
    dev = usb.core.find(backend=emulated_bus(device))
    assert dev.write(0x01, bytes(1500), timeout=10) == 1000
    try:
        dev.write(0x01, b"more", timeout=10)
    except usb.core.USBTimeoutError:
        pass
    else:
        raise AssertionError("a write into a full FIFO must time out")
    usb.util.dispose_resources(dev)


def test_kernel_driver_blocks_claiming_until_detached():
    device = EmulatedUsbDevice(kernel_driver_bound=True)
    dev = usb.core.find(backend=emulated_bus(device))
    assert dev.is_kernel_driver_active(0)
    try:
        dev.set_configuration()
    except usb.core.USBError as exc:
        assert exc.errno == 16  # EBUSY
    else:
        raise AssertionError("configuring under a bound kernel driver must fail")
    dev.detach_kernel_driver(0)
    dev.set_configuration()
    usb.util.claim_interface(dev, 0)
    usb.util.dispose_resources(dev)


def test_second_handle_cannot_claim_a_claimed_interface():
    bus = emulated_bus()
    first = usb.core.find(backend=bus)
    first.set_configuration()
    usb.util.claim_interface(first, 0)
    second = usb.core.find(backend=bus)
    try:
        usb.util.claim_interface(second, 0)
    except usb.core.USBError as exc:
        assert exc.errno == 16  # EBUSY, as libusb says when another process holds it
    else:
        raise AssertionError("two handles claimed one interface")
    finally:
        usb.util.dispose_resources(first)
        usb.util.dispose_resources(second)


def test_unplugged_device_disappears_and_fails_with_enodev():
    device = EmulatedUsbDevice()
    bus = EmulatedUsbBackend([device])
    dev = usb.core.find(backend=bus)
    dev.set_configuration()
    device.unplug()
    try:
        dev.write(0x01, b"x", timeout=100)
    except usb.core.USBError as exc:
        assert exc.errno == 19  # ENODEV
    else:
        raise AssertionError("a write to an unplugged device must fail")
    assert usb.core.find(backend=bus) is None


def test_inaccessible_device_fails_with_eacces():
    dev = usb.core.find(backend=emulated_bus(EmulatedUsbDevice(accessible=False)))
    try:
        dev.set_configuration()
    except usb.core.USBError as exc:
        assert exc.errno == 13  # EACCES
    else:
        raise AssertionError("opening an inaccessible device must fail")
