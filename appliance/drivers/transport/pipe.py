"""`BytePipe`: a one-way, bounded, thread-safe byte stream with blocking and asyncio ends.

It is the in-process wire: two of them make an in-process transport pair, and the emulated
USB device keeps one per bulk endpoint (its FIFO). Any thread may write and read with the
blocking calls; a coroutine may use `read_async` / `write_async` from its event loop. The
bytes come out exactly as they went in, in order; chunk boundaries are not kept (a stream,
like a serial line or a USB bulk pipe).

A writer waits while ``capacity`` bytes are unread, so a stalled reader costs bounded
memory. `close` ends the stream for both sides: readers first drain what is buffered, then
get EOF (``b""``) or the error given to `close`; writers get `PipeClosed` at once.
"""

import asyncio
import threading


class PipeClosed(Exception):
    """Writing to, or waiting on, a closed BytePipe."""


class BytePipe:
    def __init__(self, capacity=1 << 20):
        if capacity < 1:
            raise ValueError(f"BytePipe capacity must be at least 1 byte, not {capacity}")
        self.capacity = capacity
        self._buffer = bytearray()
        self._closed = False
        self._error = None
        self._cond = threading.Condition()
        self._waiters = []  # (loop, future) of coroutines waiting for any change

    # -- state -------------------------------------------------------------------------------

    @property
    def closed(self):
        return self._closed

    def __len__(self):
        with self._cond:
            return len(self._buffer)

    def close(self, error=None):
        """End the stream. Buffered bytes stay readable; after them readers get EOF, or
        `error` raised if one is given."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
            self._error = error
            self._changed()

    def _changed(self):
        # Called with the lock held: wake blocking callers and waiting coroutines.
        self._cond.notify_all()
        waiters, self._waiters = self._waiters, []
        for loop, future in waiters:
            loop.call_soon_threadsafe(_wake, future)

    def _take(self, max_bytes):
        # Lock held. Returns data, b"" at EOF, or None when nothing is there yet.
        if self._buffer:
            data = bytes(self._buffer[:max_bytes])
            del self._buffer[:max_bytes]
            self._changed()
            return data
        if self._closed:
            if self._error is not None:
                raise self._error
            return b""
        return None

    def _put(self, view):
        # Lock held. Accept as much of view as fits; returns the count.
        if self._closed:
            raise PipeClosed("write to a closed pipe")
        room = self.capacity - len(self._buffer)
        n = min(room, len(view))
        if n:
            self._buffer += view[:n]
            self._changed()
        return n

    # -- blocking ends -----------------------------------------------------------------------

    def read(self, max_bytes=65536, timeout=None):
        """Wait for at least one byte and return up to `max_bytes` of them; ``b""`` at EOF.
        Raises TimeoutError when `timeout` (seconds; None: forever) passes first."""
        with self._cond:
            data = self._take(max_bytes)
            if data is None:
                if not self._cond.wait_for(lambda: self._buffer or self._closed, timeout):
                    raise TimeoutError(f"no data within {timeout} s")
                data = self._take(max_bytes)
            return data

    def write(self, data, timeout=None):
        """Append all of `data`, waiting for room. Returns the count written. On timeout
        raises TimeoutError with ``.written`` set to the bytes accepted before it."""
        view = memoryview(bytes(data))
        written = 0
        with self._cond:
            while written < len(view):
                n = self._put(view[written:])
                written += n
                if n == 0 and not self._cond.wait_for(
                    lambda: self._closed or len(self._buffer) < self.capacity, timeout
                ):
                    error = TimeoutError(f"no room within {timeout} s")
                    error.written = written
                    raise error
        return written

    # -- asyncio ends ------------------------------------------------------------------------

    async def _wait_change(self):
        # Lock held on entry and on return; releases it while waiting.
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._waiters.append((loop, future))
        self._cond.release()
        try:
            await future
        finally:
            self._cond.acquire()
            try:
                self._waiters.remove((loop, future))
            except ValueError:
                pass

    async def read_async(self, max_bytes=65536):
        """Like `read` with no timeout, for a coroutine: cancelling it loses no bytes."""
        with self._cond:
            while True:
                data = self._take(max_bytes)
                if data is not None:
                    return data
                await self._wait_change()

    async def write_async(self, data):
        """Like `write` with no timeout, for a coroutine. If cancelled, the bytes written
        before the cancellation stay written (a stream cannot take them back)."""
        view = memoryview(bytes(data))
        written = 0
        with self._cond:
            while written < len(view):
                n = self._put(view[written:])
                written += n
                if n == 0:
                    await self._wait_change()
        return written


def _wake(future):
    if not future.done():
        future.set_result(None)
