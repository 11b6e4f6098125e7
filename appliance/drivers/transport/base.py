"""The common interface of every byte transport."""

import abc
import asyncio


class Transport(abc.ABC):
    """A bidirectional byte stream to one board: bytes in, bytes out, nothing else.

    No framing: `read` returns whatever bytes have arrived (at least one), with no relation
    to the chunks the peer wrote. Use from one event loop; `read` and `write` may run
    concurrently with each other (one reader task, one writer task). Cancelling a `read`
    loses no bytes. `close` is synchronous, idempotent, and wakes a pending `read` with
    `TransportClosed`.
    """

    url: str

    async def read(self, max_bytes=65536, timeout=None) -> bytes:
        """Wait for bytes and return 1..max_bytes of them. Raises TransportClosed when the
        link is gone (peer closed, unplugged, closed here) and nothing is left to read, and
        TimeoutError when `timeout` seconds (None: no limit) pass with no byte; the bytes
        that arrive later are read by the next call."""
        if max_bytes < 1:
            raise ValueError(f"max_bytes must be at least 1, not {max_bytes}")
        if timeout is None:
            return await self._read(max_bytes)
        async with asyncio.timeout(timeout):
            return await self._read(max_bytes)

    @abc.abstractmethod
    async def _read(self, max_bytes) -> bytes:
        """`read` without the timeout: cancelling it must lose no bytes."""

    @abc.abstractmethod
    async def write(self, data) -> None:
        """Send all of `data` (bytes-like). Returns when the OS / device / peer pipe has
        taken every byte. Raises TransportClosed when the link is gone."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release the device. Idempotent."""

    @property
    @abc.abstractmethod
    def closed(self) -> bool:
        """True once `close` was called or the link was found gone."""

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc_info):
        self.close()

    def __repr__(self):
        state = "closed" if self.closed else "open"
        return f"<{type(self).__name__} {self.url} {state}>"
