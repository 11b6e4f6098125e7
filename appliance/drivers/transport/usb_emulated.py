"""An emulated USB voice board behind pyusb's own backend interface.

`EmulatedUsbBackend` is a `usb.backend.IBackend`: pass it as ``backend=`` to
``usb.core.find`` or to ``open_transport``, and pyusb's real code runs on it: enumeration
and matching, descriptor parsing, string descriptors through GET_DESCRIPTOR control
transfers, set_configuration, claim_interface, kernel-driver checks, bulk transfers with
timeouts. No libusb is needed, so CI exercises the same path a real board takes.

Each `EmulatedUsbDevice` presents real descriptors (device, one configuration, one
vendor-specific interface with a bulk OUT and a bulk IN endpoint, manufacturer / product /
serial strings in US English) and two FIFOs, `BytePipe`s of bounded size: what the host
writes to the OUT endpoint comes out of ``device.from_host``; what the board side writes
into ``device.to_host`` is what the host's bulk reads return. ``device.peer`` is the same
pair as a `Transport`, for an emulator written against transports.

The backend follows libusb's rules where pyusb leaves them to the backend: a transfer needs
an open handle, a set configuration and a claimed interface; claiming (or configuring)
while a kernel driver is bound fails with EBUSY; a device set ``accessible=False`` fails to
open with EACCES (no udev rule); after `EmulatedUsbDevice.unplug` every call fails with
ENODEV; a timeout of 0 waits forever. Errors carry libusb's codes and errnos, as pyusb's
libusb1 backend raises them.
"""

import errno
import itertools
import struct
import threading
from dataclasses import dataclass, field

import usb.backend
import usb.core

from appliance.drivers.transport.inprocess import PipeTransport
from appliance.drivers.transport.pipe import BytePipe, PipeClosed

# pid.codes' test PID for open-source hardware, the project's placeholder until a board has
# its own VID:PID.
DEFAULT_VID = 0x1209
DEFAULT_PID = 0x0001

# libusb error codes (libusb.h) with the errno pyusb's libusb1 backend pairs them with.
_LIBUSB = {
    "io": (-1, errno.EIO, "Input/Output Error"),
    "access": (-3, errno.EACCES, "Access denied (insufficient permissions)"),
    "no_device": (-4, errno.ENODEV, "No such device (it may have been disconnected)"),
    "not_found": (-5, errno.ENOENT, "Entity not found"),
    "busy": (-6, errno.EBUSY, "Resource busy"),
    "timeout": (-7, errno.ETIMEDOUT, "Operation timed out"),
    "pipe": (-9, errno.EPIPE, "Pipe error"),
}


def _error(kind):
    code, err, text = _LIBUSB[kind]
    cls = usb.core.USBTimeoutError if kind == "timeout" else usb.core.USBError
    return cls(text, code, err)


class _Descriptor:
    """A descriptor as pyusb wants it: fields as attributes."""

    def __init__(self, **fields):
        self.__dict__.update(fields)


DESC_DEVICE, DESC_CONFIG, DESC_STRING, DESC_INTERFACE, DESC_ENDPOINT = 1, 2, 3, 4, 5
LANGID_EN_US = 0x0409


@dataclass
class EmulatedUsbDevice:
    """One emulated board on the emulated bus."""

    serial_number: str = "EMU0001"
    vid: int = DEFAULT_VID
    pid: int = DEFAULT_PID
    manufacturer: str = "Call-centre appliance"
    product: str = "Emulated voice board"
    bcd_device: int = 0x0100
    max_packet: int = 512  # high-speed bulk
    fifo_bytes: int = 65536  # each direction's buffer on the board
    kernel_driver_bound: bool = False
    # Linux's USB core sets a configuration when the device enumerates; 0 is a device left
    # unconfigured (other OSes, or after SET_CONFIGURATION 0).
    initial_configuration: int = 1
    accessible: bool = True
    bus: int = 1
    address: int = field(default=0)
    from_host: BytePipe = field(init=False)
    to_host: BytePipe = field(init=False)

    INTERFACE = 0
    EP_OUT = 0x01
    EP_IN = 0x81
    CONFIGURATION = 1

    def __post_init__(self):
        self.from_host = BytePipe(self.fifo_bytes)
        self.to_host = BytePipe(self.fifo_bytes)
        self.plugged = True
        self.configuration = self.initial_configuration
        self.claimed = {}  # interface number -> the _Handle that claimed it
        self.open_handles = 0
        self.peer = PipeTransport(f"usb-emulated://{self.vid:04x}:{self.pid:04x}/"
                                  f"{self.serial_number}", self.from_host, self.to_host)

    def unplug(self):
        """Pull the cable: host calls fail with ENODEV, the board side reads EOF."""
        self.plugged = False
        self.from_host.close()
        self.to_host.close()

    # -- descriptors: the bytes a real device returns, and pyusb's parsed view of them ------

    def strings(self):
        return {1: self.manufacturer, 2: self.product, 3: self.serial_number}

    def device_descriptor_bytes(self):
        return struct.pack("<BBHBBBBHHHBBBB", 18, DESC_DEVICE, 0x0200, 0, 0, 0, 64,
                           self.vid, self.pid, self.bcd_device, 1, 2, 3, 1)

    def _interface_bytes(self):
        return struct.pack("<BBBBBBBBB", 9, DESC_INTERFACE, self.INTERFACE, 0, 2, 0xFF, 0, 0, 0)

    def _endpoint_bytes(self, address):
        return struct.pack("<BBBBHB", 7, DESC_ENDPOINT, address, 0x02, self.max_packet, 0)

    def configuration_descriptor_bytes(self):
        body = (self._interface_bytes() + self._endpoint_bytes(self.EP_OUT)
                + self._endpoint_bytes(self.EP_IN))
        # self-powered is not claimed: bus-powered, 100 mA (bMaxPower in 2 mA units)
        return struct.pack("<BBHBBBBB", 9, DESC_CONFIG, 9 + len(body), 1,
                           self.CONFIGURATION, 0, 0x80, 50) + body

    def string_descriptor_bytes(self, index):
        if index == 0:
            return struct.pack("<BBH", 4, DESC_STRING, LANGID_EN_US)
        text = self.strings()[index].encode("utf-16-le")
        return struct.pack("<BB", 2 + len(text), DESC_STRING) + text


def _parse(fmt, names, raw, **extra):
    return _Descriptor(**dict(zip(names, struct.unpack(fmt, raw))), **extra)


_DEVICE_FIELDS = ("bLength", "bDescriptorType", "bcdUSB", "bDeviceClass", "bDeviceSubClass",
                  "bDeviceProtocol", "bMaxPacketSize0", "idVendor", "idProduct", "bcdDevice",
                  "iManufacturer", "iProduct", "iSerialNumber", "bNumConfigurations")
_CONFIG_FIELDS = ("bLength", "bDescriptorType", "wTotalLength", "bNumInterfaces",
                  "bConfigurationValue", "iConfiguration", "bmAttributes", "bMaxPower")
_INTERFACE_FIELDS = ("bLength", "bDescriptorType", "bInterfaceNumber", "bAlternateSetting",
                     "bNumEndpoints", "bInterfaceClass", "bInterfaceSubClass",
                     "bInterfaceProtocol", "iInterface")
_ENDPOINT_FIELDS = ("bLength", "bDescriptorType", "bEndpointAddress", "bmAttributes",
                    "wMaxPacketSize", "bInterval")


class _Handle:
    def __init__(self, device):
        self.device = device
        self.open = True


class EmulatedUsbBackend(usb.backend.IBackend):
    """A USB bus of `EmulatedUsbDevice`s, as a pyusb backend."""

    def __init__(self, devices=()):
        super().__init__()
        self._lock = threading.Lock()
        self._devices = []
        self._addresses = itertools.count(2)
        for device in devices:
            self.attach(device)

    def attach(self, device):
        """Plug `device` into this bus; returns it."""
        with self._lock:
            if not device.address:
                device.address = next(self._addresses)
            self._devices.append(device)
        return device

    def detach(self, device):
        """Unplug `device` and remove it from the bus."""
        device.unplug()
        with self._lock:
            self._devices.remove(device)

    # -- enumeration and descriptors ---------------------------------------------------------

    def enumerate_devices(self):
        with self._lock:
            return [d for d in self._devices if d.plugged]

    def get_parent(self, dev):
        return None  # every device sits on the root hub

    def get_device_descriptor(self, dev):
        return _parse("<BBHBBBBHHHBBBB", _DEVICE_FIELDS, dev.device_descriptor_bytes(),
                      bus=dev.bus, address=dev.address, port_number=dev.address,
                      port_numbers=(dev.address,), speed=3)  # 3: LIBUSB_SPEED_HIGH

    def _config_bytes(self, dev, config):
        if config != 0:
            raise IndexError(f"configuration index {config} out of range")
        return dev.configuration_descriptor_bytes()

    def get_configuration_descriptor(self, dev, config):
        raw = self._config_bytes(dev, config)
        return _parse("<BBHBBBBB", _CONFIG_FIELDS, raw[:9], extra_descriptors=[])

    def get_interface_descriptor(self, dev, intf, alt, config):
        raw = self._config_bytes(dev, config)
        if intf != 0 or alt != 0:
            raise IndexError(f"interface {intf} alternate setting {alt} out of range")
        return _parse("<BBBBBBBBB", _INTERFACE_FIELDS, raw[9:18], extra_descriptors=[])

    def get_endpoint_descriptor(self, dev, ep, intf, alt, config):
        raw = self._config_bytes(dev, config)
        if intf != 0 or alt != 0 or ep not in (0, 1):
            raise IndexError(f"endpoint {ep} of interface {intf} out of range")
        start = 18 + 7 * ep
        return _parse("<BBBBHB", _ENDPOINT_FIELDS, raw[start:start + 7],
                      bRefresh=0, bSynchAddress=0, extra_descriptors=[])

    # -- handles and configuration -----------------------------------------------------------

    @staticmethod
    def _check(handle):
        if not handle.device.plugged:
            raise _error("no_device")
        if not handle.open:
            raise _error("io")
        return handle.device

    def open_device(self, dev):
        if not dev.plugged:
            raise _error("no_device")
        if not dev.accessible:
            raise _error("access")
        dev.open_handles += 1
        return _Handle(dev)

    def close_device(self, dev_handle):
        if dev_handle.open:
            dev_handle.open = False
            dev = dev_handle.device
            dev.open_handles -= 1
            # Closing the handle gives its interfaces back, as closing a usbfs fd does.
            for intf in [i for i, h in dev.claimed.items() if h is dev_handle]:
                del dev.claimed[intf]

    def set_configuration(self, dev_handle, config_value):
        dev = self._check(dev_handle)
        if config_value not in (0, dev.CONFIGURATION):
            raise _error("not_found")
        if dev.kernel_driver_bound or dev.claimed:
            raise _error("busy")
        dev.configuration = config_value

    def get_configuration(self, dev_handle):
        return self._check(dev_handle).configuration

    def set_interface_altsetting(self, dev_handle, intf, altsetting):
        dev = self._check(dev_handle)
        if dev.claimed.get(intf) is not dev_handle:
            raise _error("not_found")
        if altsetting != 0:
            raise _error("not_found")

    def claim_interface(self, dev_handle, intf):
        dev = self._check(dev_handle)
        if dev.configuration != dev.CONFIGURATION or intf != dev.INTERFACE:
            raise _error("not_found")
        owner = dev.claimed.get(intf)
        if dev.kernel_driver_bound or (owner is not None and owner is not dev_handle):
            raise _error("busy")  # a kernel driver or another handle (process) holds it
        dev.claimed[intf] = dev_handle

    def release_interface(self, dev_handle, intf):
        dev = self._check(dev_handle)
        if dev.claimed.get(intf) is not dev_handle:
            raise _error("not_found")
        del dev.claimed[intf]

    def is_kernel_driver_active(self, dev_handle, intf):
        return self._check(dev_handle).kernel_driver_bound

    def detach_kernel_driver(self, dev_handle, intf):
        dev = self._check(dev_handle)
        if not dev.kernel_driver_bound:
            raise _error("not_found")
        dev.kernel_driver_bound = False

    def attach_kernel_driver(self, dev_handle, intf):
        dev = self._check(dev_handle)
        if intf in dev.claimed:
            raise _error("busy")
        dev.kernel_driver_bound = True

    def clear_halt(self, dev_handle, ep):
        self._check(dev_handle)

    def reset_device(self, dev_handle):
        dev = self._check(dev_handle)
        dev.configuration = 0
        dev.claimed.clear()

    # -- transfers ---------------------------------------------------------------------------

    def _endpoint(self, dev_handle, ep, intf, direction_in):
        dev = self._check(dev_handle)
        if dev.claimed.get(intf) is not dev_handle:
            raise _error("not_found")  # libusb: interface not claimed
        if ep != (dev.EP_IN if direction_in else dev.EP_OUT):
            raise _error("not_found")
        return dev

    def bulk_write(self, dev_handle, ep, intf, data, timeout):
        dev = self._endpoint(dev_handle, ep, intf, direction_in=False)
        try:
            return dev.from_host.write(data.tobytes(), timeout=timeout / 1000 if timeout else None)
        except TimeoutError as exc:
            if exc.written:  # libusb reports a partial transfer with the timeout; pyusb
                return exc.written  # returns the count, as here
            raise _error("timeout") from None
        except PipeClosed:
            raise _error("no_device" if not dev.plugged else "pipe") from None

    def bulk_read(self, dev_handle, ep, intf, buff, timeout):
        dev = self._endpoint(dev_handle, ep, intf, direction_in=True)
        try:
            data = dev.to_host.read(len(buff) * buff.itemsize,
                                    timeout=timeout / 1000 if timeout else None)
        except TimeoutError:
            raise _error("timeout") from None
        if not data:  # the board side closed its end, or the cable was pulled
            raise _error("no_device" if not dev.plugged else "pipe")
        memoryview(buff).cast("B")[:len(data)] = data
        return len(data)

    def ctrl_transfer(self, dev_handle, bmRequestType, bRequest, wValue, wIndex, data, timeout):
        dev = self._check(dev_handle)
        direction_in = bool(bmRequestType & 0x80)
        kind = (bmRequestType >> 5) & 3
        if kind != 0:  # class and vendor requests: a voice board answers none
            raise _error("pipe")
        if bRequest == 0x06 and direction_in:  # GET_DESCRIPTOR
            desc_type, index = wValue >> 8, wValue & 0xFF
            if desc_type == DESC_DEVICE:
                raw = dev.device_descriptor_bytes()
            elif desc_type == DESC_CONFIG and index == 0:
                raw = dev.configuration_descriptor_bytes()
            elif desc_type == DESC_STRING and (
                    index == 0 or (index in dev.strings() and wIndex == LANGID_EN_US)):
                raw = dev.string_descriptor_bytes(index)
            else:
                raise _error("pipe")  # a real device stalls the request
            n = min(len(raw), len(data) * data.itemsize)
            memoryview(data).cast("B")[:n] = raw[:n]
            return n
        if bRequest == 0x08 and direction_in:  # GET_CONFIGURATION
            memoryview(data).cast("B")[:1] = bytes([dev.configuration])
            return 1
        if bRequest == 0x00 and direction_in:  # GET_STATUS: bus-powered, no remote wakeup
            memoryview(data).cast("B")[:2] = b"\0\0"
            return 2
        raise _error("pipe")


def emulated_bus(*devices):
    """An EmulatedUsbBackend with `devices` attached (one default board if none given)."""
    return EmulatedUsbBackend(devices or (EmulatedUsbDevice(),))


__all__ = ["EmulatedUsbBackend", "EmulatedUsbDevice", "emulated_bus"]
