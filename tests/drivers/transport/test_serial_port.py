"""Serial transports through pyserial's serial_for_url: a real pty, TCP socket://, loop://."""

import asyncio
import errno
import os
import socket
import tty

import pytest
import serial

from appliance.drivers.transport import TransportClosed, TransportError, open_transport
from appliance.drivers.transport.serial_port import _open_error

ALL_BYTES = bytes(range(256))


async def read_exactly(transport, n):
    data = bytearray()
    while len(data) < n:
        data += await asyncio.wait_for(transport.read(n - len(data)), 5)
    return bytes(data)


def read_fd_exactly(fd, n):
    data = bytearray()
    while len(data) < n:
        chunk = os.read(fd, n - len(data))
        if not chunk:
            break
        data += chunk
    return bytes(data)


# ---- a pty: the board side is the master, the host opens the slave's path --------------


@pytest.fixture
def pty_pair():
    master, slave = os.openpty()
    tty.setraw(master)
    tty.setraw(slave)
    path = os.ttyname(slave)
    yield master, path
    for fd in (master, slave):
        try:
            os.close(fd)
        except OSError:
            pass


def test_pty_carries_every_byte_value_both_ways(pty_pair):
    master, path = pty_pair

    async def main():
        async with open_transport(path) as host:
            assert host.url == path
            await host.write(ALL_BYTES * 4)
            from_host = await asyncio.to_thread(read_fd_exactly, master, 1024)
            os.write(master, ALL_BYTES[::-1])
            return from_host, await read_exactly(host, 256)

    from_host, to_host = asyncio.run(main())
    assert from_host == ALL_BYTES * 4
    assert to_host == ALL_BYTES[::-1]


def test_pty_write_larger_than_the_kernel_buffer_waits_for_room(pty_pair):
    # A pty buffers a few KiB: a 256 KiB write must wait for the fd to become writable
    # again, many times, while the board side drains it.
    master, path = pty_pair
    data = bytes(i * 7 % 256 for i in range(256 * 1024))

    async def main():
        async with open_transport(path) as host:
            drained = asyncio.ensure_future(asyncio.to_thread(read_fd_exactly, master, len(data)))
            await asyncio.wait_for(host.write(data), 10)
            return await asyncio.wait_for(drained, 10)

    assert asyncio.run(main()) == data


def test_pty_cancelled_read_loses_no_bytes(pty_pair):
    master, path = pty_pair

    async def main():
        async with open_transport(path) as host:
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(host.read(), 0.01)
            with pytest.raises(TimeoutError):
                await host.read(timeout=0.01)
            os.write(master, b"after the cancel")
            return await read_exactly(host, 16)

    assert asyncio.run(main()) == b"after the cancel"


def test_pty_close_wakes_a_pending_read(pty_pair):
    _, path = pty_pair

    async def main():
        host = open_transport(path)
        pending = asyncio.ensure_future(host.read())
        await asyncio.sleep(0.01)
        host.close()
        with pytest.raises(TransportClosed):
            await asyncio.wait_for(pending, 5)
        assert host.closed
        with pytest.raises(TransportClosed):
            await host.write(b"x")

    asyncio.run(main())


def test_pty_board_gone_is_transport_closed(pty_pair):
    # The master closing is the board going away (the kernel returns EIO on the slave).
    master, path = pty_pair

    async def main():
        host = open_transport(path)
        pending = asyncio.ensure_future(host.read())
        await asyncio.sleep(0.01)
        os.close(master)
        with pytest.raises(TransportClosed, match="link lost"):
            await asyncio.wait_for(pending, 5)
        assert host.closed

    asyncio.run(main())


def test_pty_is_opened_exclusively(pty_pair):
    _, path = pty_pair
    first = open_transport(path)
    try:
        with pytest.raises(TransportError, match="in use by another process") as info:
            open_transport(path)
        assert info.value.url == path
    finally:
        first.close()
    open_transport(path).close()  # free again after close


def test_pty_bad_baudrate_names_the_url(pty_pair):
    _, path = pty_pair
    with pytest.raises(TransportError, match=rf"^{path}: cannot open: .*baudrate"):
        open_transport(path, baudrate=-5)


# ---- socket:// against a real listening socket ------------------------------------------


@pytest.fixture
def listener():
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    yield server
    server.close()


def test_socket_carries_every_byte_value_both_ways(listener):
    port = listener.getsockname()[1]

    async def main():
        async with open_transport(f"socket://127.0.0.1:{port}") as host:
            board, _ = listener.accept()
            with board:
                await host.write(ALL_BYTES)
                from_host = await asyncio.to_thread(read_fd_exactly, board.fileno(), 256)
                board.sendall(ALL_BYTES[::-1] * 2)
                return from_host, await read_exactly(host, 512)

    from_host, to_host = asyncio.run(main())
    assert from_host == ALL_BYTES
    assert to_host == ALL_BYTES[::-1] * 2


def test_socket_large_write_with_a_slow_reader(listener):
    port = listener.getsockname()[1]
    data = bytes(i * 13 % 256 for i in range(4 * 1024 * 1024))

    async def main():
        async with open_transport(f"socket://127.0.0.1:{port}") as host:
            board, _ = listener.accept()
            with board:
                drained = asyncio.ensure_future(
                    asyncio.to_thread(read_fd_exactly, board.fileno(), len(data)))
                await asyncio.wait_for(host.write(data), 20)
                return await asyncio.wait_for(drained, 20)

    assert asyncio.run(main()) == data


def test_socket_peer_close_is_transport_closed(listener):
    port = listener.getsockname()[1]

    async def main():
        host = open_transport(f"socket://127.0.0.1:{port}")
        board, _ = listener.accept()
        board.sendall(b"bye")
        board.close()
        assert await read_exactly(host, 3) == b"bye"
        with pytest.raises(TransportClosed, match="link lost"):
            await asyncio.wait_for(host.read(), 5)
        assert host.closed

    asyncio.run(main())


def test_socket_close_hangs_up_on_the_peer(listener):
    port = listener.getsockname()[1]

    async def main():
        host = open_transport(f"socket://127.0.0.1:{port}")
        board, _ = listener.accept()
        with board:
            pending = asyncio.ensure_future(host.read())
            await asyncio.sleep(0.01)
            host.close()  # returns at once; pyserial's close finishes in a thread
            with pytest.raises(TransportClosed):
                await asyncio.wait_for(pending, 5)
            board.settimeout(5)
            return await asyncio.to_thread(board.recv, 1)

    assert asyncio.run(main()) == b""  # the board sees the connection end


def test_socket_refused_names_the_fix():
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # bound, never listened: connecting is refused
    url = f"socket://127.0.0.1:{port}"
    with pytest.raises(TransportError, match="connection refused.*start the") as info:
        open_transport(url)
    assert info.value.url == url
    assert str(info.value).startswith(url)


@pytest.mark.parametrize("url", ["socket://localhost", "socket://:12", "socket://host:notaport",
                                 "socket://host:0", "socket://host:70000", "socket://h:1/x"])
def test_socket_bad_url(url):
    with pytest.raises(TransportError, match="socket://HOST:PORT") as info:
        open_transport(url)
    assert info.value.url == url


def test_socket_url_options_refused():
    with pytest.raises(TransportError, match=r"remove the '\?\.\.\.' part"):
        open_transport("socket://127.0.0.1:1?logging=debug")


# ---- loop:// ----------------------------------------------------------------------------


def test_loop_reads_back_what_was_written():
    async def main():
        async with open_transport("loop://") as host:
            await host.write(ALL_BYTES)
            return await read_exactly(host, 256)

    assert asyncio.run(main()) == ALL_BYTES


def test_loop_read_timeout_loses_nothing():
    async def main():
        async with open_transport("loop://") as host:
            with pytest.raises(TimeoutError):
                await host.read(timeout=0.01)
            await host.write(b"later")
            return await read_exactly(host, 5)

    assert asyncio.run(main()) == b"later"


def test_socket_read_timeout(listener):
    port = listener.getsockname()[1]

    async def main():
        async with open_transport(f"socket://127.0.0.1:{port}") as host:
            board, _ = listener.accept()
            with board:
                with pytest.raises(TimeoutError):
                    await host.read(timeout=0.01)
                board.sendall(b"late")
                return await host.read(4, timeout=5)

    assert asyncio.run(main()) == b"late"


def test_loop_close_wakes_a_pending_read():
    async def main():
        host = open_transport("loop://")
        pending = asyncio.ensure_future(host.read())
        await asyncio.sleep(0.01)
        host.close()
        with pytest.raises(TransportClosed):
            await asyncio.wait_for(pending, 5)
        with pytest.raises(TransportClosed):
            await host.write(b"x")

    asyncio.run(main())


# ---- device paths that cannot be opened ------------------------------------------------


def test_missing_device_names_the_fix(tmp_path):
    url = str(tmp_path / "ttyACM9")
    with pytest.raises(TransportError, match="no such device.*appliance boards list") as info:
        open_transport(url)
    assert info.value.url == url


def test_regular_file_is_not_a_serial_port(tmp_path):
    path = tmp_path / "not-a-tty"
    path.write_bytes(b"")
    with pytest.raises(TransportError, match="not a serial port"):
        open_transport(str(path))


def test_directory_is_not_a_serial_port(tmp_path):
    with pytest.raises(TransportError, match="not a serial port"):
        open_transport(str(tmp_path))


@pytest.mark.parametrize("code", [errno.EACCES, errno.EPERM])
def test_permission_denied_names_the_dialout_group(code):
    # Tests run as root here, so the kernel never refuses: the mapping is checked on the
    # exception pyserial raises for it.
    exc = serial.SerialException(code, "could not open port /dev/ttyACM0: [Errno 13] ...")
    error = _open_error("/dev/ttyACM0", exc)
    assert "dialout" in str(error) and error.url == "/dev/ttyACM0"
