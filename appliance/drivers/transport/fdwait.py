"""`FdWaiter`: wait on the running event loop until a file descriptor is readable or
writable, with no thread. Used by every transport that owns an fd (ttys, ptys, sockets).

`cancel` stops watching the fd and wakes whoever waits; call it before the fd is closed
(a closed fd number may be reused at once by another file). Use from the loop's thread.
"""

import asyncio


class FdWaiter:
    def __init__(self, fd):
        self.fd = fd
        self._waiting = {}  # "read" / "write" -> (future, remove function)

    async def readable(self):
        loop = asyncio.get_running_loop()
        await self._wait("read", loop.add_reader, loop.remove_reader)

    async def writable(self):
        loop = asyncio.get_running_loop()
        await self._wait("write", loop.add_writer, loop.remove_writer)

    async def _wait(self, kind, add, remove):
        if kind in self._waiting:
            raise RuntimeError(f"two tasks wait to {kind} fd {self.fd}; use one {kind}er task")
        future = asyncio.get_running_loop().create_future()
        self._waiting[kind] = (future, remove)
        add(self.fd, _wake, future)
        try:
            await future
        finally:
            if self._waiting.get(kind, (None,))[0] is future:
                del self._waiting[kind]
                remove(self.fd)

    def cancel(self):
        """Stop watching the fd and wake the waiting tasks (they return normally)."""
        waiting, self._waiting = self._waiting, {}
        for future, remove in waiting.values():
            remove(self.fd)
            _wake(future)


def _wake(future):
    if not future.done():
        future.set_result(None)
