"""In-process transports: two ends joined by a pair of `BytePipe`s.

`inprocess_pair()` gives two connected transports for unit tests. For code that opens a
URL, the side that plays the board (the emulator, a test) calls `listen_inprocess(name)`
and gets its end; ``open_transport("inprocess://name")`` then returns the other end, once.
Both ends are thread-safe, so the board side may also run in another thread, with the
blocking `BytePipe` calls (`PipeTransport.rx` / `.tx`).
"""

import threading

from appliance.drivers.transport.base import Transport
from appliance.drivers.transport.errors import TransportClosed, TransportError
from appliance.drivers.transport.pipe import BytePipe, PipeClosed

DEFAULT_CAPACITY = 1 << 20


class PipeTransport(Transport):
    """A transport that reads from `rx` and writes to `tx`."""

    def __init__(self, url, rx, tx, on_close=None):
        self.url = url
        self.rx = rx
        self.tx = tx
        self._closed = False
        self._on_close = on_close

    @property
    def closed(self):
        return self._closed

    async def _read(self, max_bytes):
        if self._closed:
            raise TransportClosed(self.url, "read on a closed transport")
        data = await self.rx.read_async(max_bytes)
        if not data:
            self._closed = True
            raise TransportClosed(self.url, "the peer closed the link")
        return data

    async def write(self, data):
        if self._closed:
            raise TransportClosed(self.url, "write on a closed transport")
        try:
            await self.tx.write_async(data)
        except PipeClosed:
            raise TransportClosed(self.url, "the peer closed the link") from None

    def close(self):
        if self._closed:
            return
        self._closed = True
        # Both directions end: the peer reads EOF after what we sent; our pending read wakes.
        self.tx.close()
        self.rx.close(TransportClosed(self.url, "closed on this side"))
        if self._on_close is not None:
            self._on_close()


def inprocess_pair(name="pair", capacity=DEFAULT_CAPACITY):
    """Two connected transports: what one writes the other reads."""
    a_to_b = BytePipe(capacity)
    b_to_a = BytePipe(capacity)
    url = f"inprocess://{name}"
    return PipeTransport(url, b_to_a, a_to_b), PipeTransport(url, a_to_b, b_to_a)


_lock = threading.Lock()
_listening = {}  # name -> host-side PipeTransport waiting for open_transport


def listen_inprocess(name, capacity=DEFAULT_CAPACITY):
    """Offer ``inprocess://name``; returns the board side's end. The host side's end is
    handed out by the next ``open_transport("inprocess://name")``."""
    if not name:
        raise ValueError("an in-process endpoint needs a name: inprocess://NAME")
    with _lock:
        if name in _listening:
            raise TransportError(f"inprocess://{name}", "already offered in this process; "
                                 "close it or pick another name")
        board_end, host_end = inprocess_pair(name, capacity)
        _listening[name] = host_end
        # Closing the board side before anyone connected withdraws the offer.
        board_end._on_close = lambda: _withdraw(name, host_end)
        return board_end


def _withdraw(name, host_end):
    with _lock:
        if _listening.get(name) is host_end:
            del _listening[name]


def connect_inprocess(url, name):
    with _lock:
        host_end = _listening.pop(name, None)
    if host_end is None:
        raise TransportError(url, "no in-process board offers this name; start the "
                             f"emulator in this process first (listen_inprocess({name!r}))")
    return host_end
