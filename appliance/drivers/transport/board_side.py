"""The board's end of a link, for the emulator and for tests: a pty and a TCP server.

The host opens the other end with `open_transport`, exactly as it opens real hardware:

- `PtyBoard()`: a pseudo-terminal. The board reads and writes the master side; the host
  opens ``board.path`` (``/dev/pts/N``) through pyserial. The board end keeps a slave fd of
  its own open, so the host may close and re-open the port while the board runs on, as a
  board on a UART never learns that the host closed its port. When the board end closes,
  the host's reads fail: the board is gone.
- `TcpBoardServer`: listens on a TCP port (``await TcpBoardServer.start(host, port)``); the
  host opens ``server.url`` (``socket://HOST:PORT``), and each connection comes out of
  ``await server.accept()`` as a transport. One host at a time is the board's business.

Both are `FdTransport`s: non-blocking reads and writes on the fd, waiting on the event
loop's selector (no thread, the kernel's buffer is the only buffer).
"""

import os
import socket
import tty

from appliance.drivers.transport.base import Transport
from appliance.drivers.transport.errors import TransportClosed, TransportError
from appliance.drivers.transport.fdwait import FdWaiter

WRITE_CHUNK = 65536


class FdTransport(Transport):
    """A transport on a non-blocking file descriptor it owns (a pty master, a socket)."""

    def __init__(self, url, fd, *, owner=None):
        os.set_blocking(fd, False)
        self.url = url
        self._fd = fd
        self._owner = owner  # the object whose close() closes fd (a socket), or None
        self._waiter = FdWaiter(fd)
        self._closed = False

    @property
    def closed(self):
        return self._closed

    def _gone(self, problem):
        self.close()
        return TransportClosed(self.url, problem)

    async def _read(self, max_bytes):
        while True:
            if self._closed:
                raise TransportClosed(self.url, "read on a closed transport")
            try:
                data = os.read(self._fd, max_bytes)
            except BlockingIOError:
                await self._waiter.readable()
                continue
            except OSError as exc:
                raise self._gone(f"link lost ({exc.strerror})") from None
            if not data:
                raise self._gone("the peer closed the link")
            return data

    async def write(self, data):
        view = memoryview(bytes(data))
        while view:
            if self._closed:
                raise TransportClosed(self.url, "write on a closed transport")
            try:
                n = os.write(self._fd, view[:WRITE_CHUNK])
            except BlockingIOError:
                await self._waiter.writable()
                continue
            except OSError as exc:
                raise self._gone(f"link lost ({exc.strerror})") from None
            view = view[n:]

    def close(self):
        if self._closed:
            return
        self._closed = True
        self._waiter.cancel()  # before the fd number can be reused
        if self._owner is not None:
            self._owner.close()
        else:
            os.close(self._fd)


class PtyBoard(FdTransport):
    """The board end of a new pty; the host opens `path`."""

    def __init__(self):
        master, keeper = os.openpty()
        tty.setraw(keeper)  # pyserial sets raw mode too when it opens; raw from the start
        self.path = os.ttyname(keeper)
        self._keeper = keeper
        super().__init__(self.path, master)

    def close(self):
        if self._closed:
            return
        super().close()
        os.close(self._keeper)


class TcpBoardServer:
    """A listening TCP socket whose connections are board-end transports."""

    def __init__(self, listener):
        self._listener = listener
        self._waiter = FdWaiter(listener.fileno())
        host, port = listener.getsockname()[:2]
        self.host, self.port = host, port
        self.url = f"socket://{host}:{port}"  # what the host opens
        self._closed = False

    @classmethod
    async def start(cls, host="127.0.0.1", port=0):
        """Listen on host:port (port 0: a free port, see `.port`)."""
        try:
            listener = socket.create_server((host, port))
        except OSError as exc:
            raise TransportError(f"socket://{host}:{port}",
                                 f"cannot listen ({exc.strerror}); pick another port, or stop "
                                 "the program that holds this one") from None
        listener.setblocking(False)
        return cls(listener)

    async def accept(self):
        """Wait for the next host connection and return its transport."""
        while True:
            if self._closed:
                raise TransportClosed(self.url, "the board server is closed")
            try:
                conn, _ = self._listener.accept()
            except BlockingIOError:
                await self._waiter.readable()
                continue
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return FdTransport(self.url, conn.fileno(), owner=conn)

    def close(self):
        """Stop listening (connections already accepted stay open)."""
        if self._closed:
            return
        self._closed = True
        self._waiter.cancel()
        self._listener.close()

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc_info):
        self.close()
