"""The board's end of a pty and of TCP, with the host on open_transport as for hardware."""

import asyncio
import socket

import pytest

from appliance.drivers.transport import TransportClosed, TransportError, open_transport
from appliance.drivers.transport.board_side import PtyBoard, TcpBoardServer

ALL_BYTES = bytes(range(256))


async def read_exactly(transport, n):
    data = bytearray()
    while len(data) < n:
        data += await asyncio.wait_for(transport.read(n - len(data)), 5)
    return bytes(data)


async def exchange(host, board, size):
    data = bytes(i * 11 % 256 for i in range(size))
    up = asyncio.ensure_future(read_exactly(board, size))
    await host.write(data)
    down = asyncio.ensure_future(read_exactly(host, size))
    await board.write(data[::-1])
    assert await up == data
    assert await down == data[::-1]


def test_pty_board_and_host_exchange_every_byte_value():
    async def main():
        board = PtyBoard()
        try:
            async with open_transport(board.path) as host:
                await host.write(ALL_BYTES)
                assert await read_exactly(board, 256) == ALL_BYTES
                await board.write(ALL_BYTES[::-1])
                assert await read_exactly(host, 256) == ALL_BYTES[::-1]
                await exchange(host, board, 200_000)  # far beyond the pty's buffer
        finally:
            board.close()

    asyncio.run(main())


def test_pty_host_may_close_and_reopen_while_the_board_runs():
    async def main():
        board = PtyBoard()
        try:
            for _ in range(3):
                async with open_transport(board.path) as host:
                    await exchange(host, board, 1000)
                assert not board.closed
        finally:
            board.close()

    asyncio.run(main())


def test_pty_board_closing_is_the_board_lost_for_the_host():
    async def main():
        board = PtyBoard()
        host = open_transport(board.path)
        pending = asyncio.ensure_future(host.read())
        await asyncio.sleep(0.01)
        board.close()
        with pytest.raises(TransportClosed, match="link lost"):
            await asyncio.wait_for(pending, 5)
        with pytest.raises(TransportError, match="no such device"):
            open_transport(board.path)

    asyncio.run(main())


def test_pty_board_close_wakes_its_own_reader():
    async def main():
        board = PtyBoard()
        pending = asyncio.ensure_future(board.read())
        await asyncio.sleep(0.01)
        board.close()
        with pytest.raises(TransportClosed):
            await asyncio.wait_for(pending, 5)
        board.close()  # idempotent

    asyncio.run(main())


def test_tcp_board_server_serves_one_host_after_another():
    async def main():
        async with await TcpBoardServer.start() as server:
            assert server.url == f"socket://127.0.0.1:{server.port}"
            for _ in range(2):
                host = await asyncio.to_thread(open_transport, server.url)
                board = await asyncio.wait_for(server.accept(), 5)
                await exchange(host, board, 300_000)
                host.close()
                with pytest.raises(TransportClosed, match="peer closed"):
                    await asyncio.wait_for(board.read(), 5)
                assert board.closed

    asyncio.run(main())


def test_tcp_board_closing_is_the_board_lost_for_the_host():
    async def main():
        async with await TcpBoardServer.start() as server:
            host = await asyncio.to_thread(open_transport, server.url)
            board = await asyncio.wait_for(server.accept(), 5)
            await board.write(b"last")
            board.close()
            assert await read_exactly(host, 4) == b"last"
            with pytest.raises(TransportClosed):
                await asyncio.wait_for(host.read(), 5)

    asyncio.run(main())


def test_tcp_board_server_close_wakes_accept_and_frees_the_port():
    async def main():
        server = await TcpBoardServer.start()
        pending = asyncio.ensure_future(server.accept())
        await asyncio.sleep(0.01)
        server.close()
        with pytest.raises(TransportClosed, match="board server is closed"):
            await asyncio.wait_for(pending, 5)
        with pytest.raises(TransportError, match="connection refused"):
            open_transport(server.url)

    asyncio.run(main())


def test_tcp_port_in_use_names_the_fix():
    holder = socket.create_server(("127.0.0.1", 0))
    port = holder.getsockname()[1]

    async def main():
        with pytest.raises(TransportError, match=rf"socket://127.0.0.1:{port}: cannot listen"):
            await TcpBoardServer.start(port=port)

    try:
        asyncio.run(main())
    finally:
        holder.close()
