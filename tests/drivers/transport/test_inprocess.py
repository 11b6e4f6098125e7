"""In-process transports: inprocess_pair, listen_inprocess + open_transport("inprocess://")."""

import asyncio
import threading

import pytest

from appliance.drivers.transport import (
    TransportClosed,
    TransportError,
    inprocess_pair,
    listen_inprocess,
    open_transport,
)

ALL_BYTES = bytes(range(256))


def test_pair_carries_every_byte_both_ways():
    async def main():
        host, board = inprocess_pair()
        await host.write(ALL_BYTES)
        await board.write(ALL_BYTES[::-1])
        got_board = await _read_exactly(board, 256)
        got_host = await _read_exactly(host, 256)
        return got_board, got_host

    got_board, got_host = asyncio.run(main())
    assert got_board == ALL_BYTES
    assert got_host == ALL_BYTES[::-1]


def test_close_ends_both_sides():
    async def main():
        host, board = inprocess_pair()
        await host.write(b"last")
        pending = asyncio.ensure_future(host.read())
        await asyncio.sleep(0)
        host.close()
        with pytest.raises(TransportClosed, match="closed on this side"):
            await pending
        assert host.closed
        # The board still reads what was sent before the close, then learns the link ended.
        assert await board.read() == b"last"
        with pytest.raises(TransportClosed, match="peer closed"):
            await board.read()
        with pytest.raises(TransportClosed):
            await host.write(b"x")
        host.close()  # idempotent

    asyncio.run(main())


def test_read_timeout_and_max_bytes():
    async def main():
        host, board = inprocess_pair()
        with pytest.raises(TimeoutError):
            await host.read(timeout=0.01)
        await board.write(b"abcdef")
        assert await host.read(4, timeout=5) == b"abcd"
        assert await host.read(timeout=5) == b"ef"
        with pytest.raises(ValueError, match="at least 1"):
            await host.read(0)

    asyncio.run(main())


def test_writer_sees_the_peer_close():
    async def main():
        host, board = inprocess_pair()
        board.close()
        with pytest.raises(TransportClosed, match="peer closed"):
            await host.write(b"x")

    asyncio.run(main())


def test_open_transport_connects_to_a_listener_once():
    async def main():
        board = listen_inprocess("board-a")
        try:
            async with open_transport("inprocess://board-a") as host:
                assert host.url == "inprocess://board-a"
                await host.write(b"hello")
                assert await board.read() == b"hello"
            with pytest.raises(TransportError, match="no in-process board"):
                open_transport("inprocess://board-a")
        finally:
            board.close()

    asyncio.run(main())


def test_board_side_may_run_in_a_thread():
    board = listen_inprocess("threaded")

    def echo():
        while data := board.rx.read(timeout=5):
            board.tx.write(data.upper())

    thread = threading.Thread(target=echo)
    thread.start()

    async def main():
        async with open_transport("inprocess://threaded") as host:
            await host.write(b"abc" * 1000)
            return await _read_exactly(host, 3000)

    try:
        assert asyncio.run(main()) == b"ABC" * 1000
    finally:
        thread.join(5)
        board.close()


def test_listen_twice_and_withdraw():
    board = listen_inprocess("twice")
    with pytest.raises(TransportError, match="already offered"):
        listen_inprocess("twice")
    board.close()  # withdraws the offer
    with pytest.raises(TransportError, match="no in-process board"):
        open_transport("inprocess://twice")
    listen_inprocess("twice").close()


def test_errors_name_the_url_and_fix():
    with pytest.raises(TransportError, match=r"inprocess://: no name"):
        open_transport("inprocess://")
    with pytest.raises(TransportError, match=r"inprocess://ghost: .*listen_inprocess\('ghost'\)"):
        open_transport("inprocess://ghost")
    with pytest.raises(ValueError):
        listen_inprocess("")


async def _read_exactly(transport, n):
    data = bytearray()
    while len(data) < n:
        data += await asyncio.wait_for(transport.read(n - len(data)), 5)
    return bytes(data)
