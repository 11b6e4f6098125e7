"""BytePipe: the in-process wire (a bounded one-way byte stream, blocking and asyncio ends)."""

import asyncio
import threading

import pytest

from appliance.drivers.transport import BytePipe, PipeClosed

ALL_BYTES = bytes(range(256))


def test_stream_keeps_order_not_chunks():
    pipe = BytePipe()
    pipe.write(b"abc")
    pipe.write(b"def")
    assert pipe.read(4) == b"abcd"
    assert pipe.read() == b"ef"


def test_every_byte_value_passes():
    pipe = BytePipe()
    pipe.write(ALL_BYTES * 4)
    assert pipe.read(4096) == ALL_BYTES * 4


def test_capacity_bounds_memory_and_blocks_the_writer():
    pipe = BytePipe(capacity=100)
    with pytest.raises(TimeoutError) as info:
        pipe.write(bytes(250), timeout=0.01)
    assert info.value.written == 100  # took what fitted, then waited for room
    assert len(pipe) == 100


def test_blocking_writer_resumes_when_the_reader_drains():
    pipe = BytePipe(capacity=64)
    data = bytes(i % 251 for i in range(10_000))
    writer = threading.Thread(target=pipe.write, args=(data,))
    writer.start()
    received = bytearray()
    while len(received) < len(data):
        chunk = pipe.read(1000, timeout=5)
        assert len(chunk) <= 64
        received += chunk
    writer.join(5)
    assert bytes(received) == data


def test_read_times_out_when_nothing_arrives():
    with pytest.raises(TimeoutError):
        BytePipe().read(timeout=0.01)


def test_close_drains_then_eof_or_the_given_error():
    pipe = BytePipe()
    pipe.write(b"xy")
    pipe.close()
    assert pipe.read() == b"xy"
    assert pipe.read() == b""
    with pytest.raises(PipeClosed):
        pipe.write(b"z")
    failed = BytePipe()
    failed.close(ConnectionResetError("gone"))
    with pytest.raises(ConnectionResetError):
        failed.read()


def test_close_wakes_a_blocked_writer():
    pipe = BytePipe(capacity=4)
    errors = []

    def write():
        try:
            pipe.write(bytes(10))
        except PipeClosed as exc:
            errors.append(exc)

    writer = threading.Thread(target=write)
    writer.start()
    while len(pipe) < 4:
        pass
    pipe.close()
    writer.join(5)
    assert len(errors) == 1


def test_bad_capacity():
    with pytest.raises(ValueError, match="at least 1 byte"):
        BytePipe(capacity=0)


def test_async_read_waits_for_a_thread_writer():
    pipe = BytePipe()

    async def main():
        reader = asyncio.ensure_future(pipe.read_async())
        await asyncio.sleep(0)
        assert not reader.done()
        threading.Thread(target=pipe.write, args=(b"hello",)).start()
        return await asyncio.wait_for(reader, 5)

    assert asyncio.run(main()) == b"hello"


def test_cancelled_async_read_loses_no_bytes():
    pipe = BytePipe()

    async def main():
        reader = asyncio.ensure_future(pipe.read_async())
        await asyncio.sleep(0)
        reader.cancel()
        with pytest.raises(asyncio.CancelledError):
            await reader
        pipe.write(b"kept")
        return await pipe.read_async()

    assert asyncio.run(main()) == b"kept"


def test_async_writer_waits_for_room():
    pipe = BytePipe(capacity=10)

    async def main():
        writer = asyncio.ensure_future(pipe.write_async(bytes(range(25))))
        for _ in range(5):
            await asyncio.sleep(0)
        assert not writer.done() and len(pipe) == 10
        received = bytearray()
        while len(received) < 25:
            received += await pipe.read_async(7)
        assert await writer == 25
        return bytes(received)

    assert asyncio.run(main()) == bytes(range(25))
