"""USB transport through pyusb: ``usb://VID:PID[/SERIAL]`` (VID and PID in hex).

Opening follows the USB steps in order: find the device by VID/PID (and the serial
number string, when given or when several boards match), pick the first interface of the
first configuration with one bulk IN and one bulk OUT endpoint (from the descriptors),
detach the kernel driver from it where one is bound (re-attached on close), set the
configuration unless it is already active, claim the interface.

pyusb's transfers block (libusb's synchronous API), so one reader thread per board polls
the bulk IN endpoint with a short timeout (so that `close` is noticed) and feeds a bounded
`BytePipe`; writes run in a worker thread with a timeout per transfer. The backend is
libusb 1.0 by default (Debian ``libusb-1.0-0``); pass ``backend=`` for another one, e.g.
the in-process emulated device (`appliance.drivers.transport.usb_emulated`).

A read or write that times out part-way keeps its bytes: libusb reports the partial count
with the timeout and pyusb's libusb1 backend returns it (the emulated backend does the
same), so a poll timeout never loses data. A board should still end each bulk IN transfer
with a short or zero-length packet, or its bytes wait in the host controller until the
read's buffer fills or the poll times out.
"""

import asyncio
import errno
import re
import threading

import usb.core
import usb.util

from appliance.drivers.transport.base import Transport
from appliance.drivers.transport.errors import TransportClosed, TransportError
from appliance.drivers.transport.pipe import BytePipe, PipeClosed

_URL = re.compile(r"usb://([0-9a-fA-F]{4}):([0-9a-fA-F]{4})(?:/([^/?#]+))?")
READ_POLL_MS = 100  # how long a bulk read waits before the reader looks at close()
WRITE_TIMEOUT_MS = 1000  # a board that takes no bytes for this long is stuck
READ_SIZE = 16384


def parse_usb_url(url):
    """``usb://VID:PID[/SERIAL]`` -> (vid, pid, serial or None)."""
    match = _URL.fullmatch(url)
    if match is None:
        raise TransportError(url, "bad USB URL: write usb://VID:PID or usb://VID:PID/SERIAL "
                             "with VID and PID as 4 hex digits (e.g. usb://1209:0001/VB0001)")
    vid, pid, serial_number = match.groups()
    return int(vid, 16), int(pid, 16), serial_number


def _udev_hint(vid, pid):
    return ("permission denied: install a udev rule such as "
            f'SUBSYSTEM=="usb", ATTR{{idVendor}}=="{vid:04x}", ATTR{{idProduct}}=="{pid:04x}", '
            'MODE="0660", GROUP="plugdev" in /etc/udev/rules.d/70-voiceboard.rules, run '
            "`udevadm control --reload && udevadm trigger`, and add the user to 'plugdev'")


def open_usb(url, backend=None, *, read_poll_ms=READ_POLL_MS, write_timeout_ms=WRITE_TIMEOUT_MS):
    vid, pid, wanted_serial = parse_usb_url(url)
    try:
        devices = list(usb.core.find(find_all=True, idVendor=vid, idProduct=pid,
                                     backend=backend))
    except usb.core.NoBackendError:
        raise TransportError(url, "no libusb backend: install Debian's libusb-1.0-0 (apt-get "
                             "install libusb-1.0-0) or pip install libusb-package") from None
    if not devices:
        raise TransportError(url, f"no USB device {vid:04x}:{pid:04x}: is the board plugged "
                             "in? `appliance boards list` shows the boards present")
    if wanted_serial is not None or len(devices) > 1:
        serials = [_serial_number(url, dev, vid, pid) for dev in devices]
        if wanted_serial is None:
            raise TransportError(url, f"{len(devices)} boards match; name one with "
                                 f"usb://{vid:04x}:{pid:04x}/SERIAL (serials: "
                                 f"{', '.join(map(str, serials))})")
        devices = [dev for dev, s in zip(devices, serials) if s == wanted_serial]
        if not devices:
            raise TransportError(url, f"no board with serial {wanted_serial!r} among the "
                                 f"{vid:04x}:{pid:04x} devices present (serials: "
                                 f"{', '.join(map(str, serials))})")
    device = devices[0]
    try:
        return UsbTransport(url, device, read_poll_ms=read_poll_ms,
                            write_timeout_ms=write_timeout_ms)
    except usb.core.USBError as exc:
        usb.util.dispose_resources(device)
        raise _usb_error(url, exc, vid, pid) from None


def _serial_number(url, device, vid, pid):
    try:
        return device.serial_number
    except usb.core.USBError as exc:
        raise _usb_error(url, exc, vid, pid) from None
    except ValueError:  # pyusb: "The device has no langid (permission issue, ...)"
        raise TransportError(url, _udev_hint(vid, pid)) from None


def _usb_error(url, exc, vid, pid):
    if exc.errno in (errno.EACCES, errno.EPERM):
        return TransportError(url, _udev_hint(vid, pid))
    if exc.errno == errno.EBUSY:
        return TransportError(url, "the interface is busy: another process has claimed the "
                              "board, or a kernel driver holds it and cannot be detached")
    if exc.errno == errno.ENODEV:
        return TransportClosed(url, "the board was unplugged")
    return TransportError(url, f"USB error: {exc}")


def find_bulk_interface(configuration):
    """The first interface (alternate setting 0) of `configuration` with a bulk IN and a
    bulk OUT endpoint: (interface, ep_in, ep_out), or None."""
    for interface in configuration:
        if interface.bAlternateSetting != 0:
            continue
        ep_in = ep_out = None
        for endpoint in interface:
            if usb.util.endpoint_type(endpoint.bmAttributes) != usb.util.ENDPOINT_TYPE_BULK:
                continue
            if usb.util.endpoint_direction(endpoint.bEndpointAddress) == usb.util.ENDPOINT_IN:
                ep_in = ep_in or endpoint
            else:
                ep_out = ep_out or endpoint
        if ep_in is not None and ep_out is not None:
            return interface, ep_in, ep_out
    return None


class UsbTransport(Transport):
    def __init__(self, url, device, *, read_poll_ms=READ_POLL_MS,
                 write_timeout_ms=WRITE_TIMEOUT_MS, capacity=1 << 20):
        self.url = url
        self.device = device
        self.read_poll_ms = read_poll_ms
        self.write_timeout_ms = write_timeout_ms
        self._closed = False
        self._detached = False
        configuration = device[0]
        found = find_bulk_interface(configuration)
        if found is None:
            raise TransportError(url, "the device has no interface with bulk IN and OUT "
                                 "endpoints: it is not a voice board")
        interface, ep_in, ep_out = found
        self.interface_number = interface.bInterfaceNumber
        self.ep_in = ep_in.bEndpointAddress
        self.ep_out = ep_out.bEndpointAddress
        self.max_packet = ep_in.wMaxPacketSize

        try:
            if device.is_kernel_driver_active(self.interface_number):
                device.detach_kernel_driver(self.interface_number)
                self._detached = True
        except NotImplementedError:  # backends/OSes with no kernel-driver notion
            pass
        try:
            try:
                active = device.get_active_configuration()
            except usb.core.USBError:  # "Configuration not set"
                active = None
            if active is None or \
                    active.bConfigurationValue != configuration.bConfigurationValue:
                device.set_configuration(configuration.bConfigurationValue)
            usb.util.claim_interface(device, self.interface_number)
        except usb.core.USBError:
            self._give_back_kernel_driver()  # leave the device as it was found
            raise

        self._inbox = BytePipe(capacity)
        self._thread = threading.Thread(target=self._pump, name=f"reader {url}", daemon=True)
        self._thread.start()

    @property
    def closed(self):
        return self._closed

    def _pump(self):
        size = max(READ_SIZE - READ_SIZE % self.max_packet, self.max_packet)
        while not self._closed:
            try:
                data = self.device.read(self.ep_in, size, timeout=self.read_poll_ms)
            except usb.core.USBTimeoutError:
                continue
            except usb.core.USBError as exc:
                if not self._closed:
                    self._inbox.close(_link_error(self.url, exc))
                return
            try:
                if data:
                    self._inbox.write(data.tobytes())
            except PipeClosed:
                return

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
        await asyncio.to_thread(self._write_all, bytes(data))

    def _write_all(self, data):
        view = memoryview(data)
        while view:
            try:
                n = self.device.write(self.ep_out, bytes(view), timeout=self.write_timeout_ms)
            except usb.core.USBTimeoutError:
                raise TransportError(self.url, f"bulk write timed out after "
                                     f"{self.write_timeout_ms} ms: the board stopped taking "
                                     "data") from None
            except usb.core.USBError as exc:
                raise _link_error(self.url, exc) from None
            view = view[n:]

    def close(self):
        if self._closed:
            return
        self._closed = True
        self._inbox.close(TransportClosed(self.url, "closed on this side"))
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=(self.read_poll_ms + 1000) / 1000)
        try:
            usb.util.release_interface(self.device, self.interface_number)
        except usb.core.USBError:
            pass  # unplugged or already gone: nothing left to give back
        self._give_back_kernel_driver()
        usb.util.dispose_resources(self.device)

    def _give_back_kernel_driver(self):
        if not self._detached:
            return
        try:
            self.device.attach_kernel_driver(self.interface_number)
            self._detached = False
        except (usb.core.USBError, NotImplementedError):
            pass  # unplugged: the kernel binds its driver again when the board comes back


def _link_error(url, exc):
    if exc.errno == errno.ENODEV:
        return TransportClosed(url, "the board was unplugged")
    return TransportClosed(url, f"USB link failed: {exc}")
