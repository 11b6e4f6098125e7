"""The sample configuration runs on the emulated board: the board its [boards.main] names is
built by the emulator from the same port spec, opened by the board driver at the sample's
URL, and its ports are what the config says (stations on FXS ports, the trunk on FXO)."""

import asyncio

from appliance.config import PortKind, load_config, sample_path
from appliance.drivers.board import Board, RingStarted
from appliance.drivers.emulated_board import EmulatorRunner, emulated_board, serve_inprocess

LIMIT_S = 60.0


def test_sample_config_opens_its_emulated_board():
    config = load_config(sample_path())
    board_config = config.boards["main"]
    station = config.stations["supervisor"]
    trunk_port = config.trunks["pstn"].ports[0]

    async def body():
        # a cable from the supervisor's FXS port to the trunk's first FXO port: ringing the
        # station rings the line, as a loopback test on site does
        session = emulated_board(board_config.ports, cables=[(station.port, trunk_port)],
                                 virtual=True)
        runner = EmulatorRunner(session).start()
        try:
            url = await serve_inprocess(runner, board_config.url[len("inprocess://"):])
            assert url == board_config.url
            board = await Board.open(url, profile=config.country)
            try:
                kinds = [p.kind.name.lower() for p in board.ports]
                await board.ports[station.port].ring(((100, 100),))
                for _ in range(2000):
                    event = await board.next_event(timeout=5.0)
                    if isinstance(event, RingStarted):
                        return board.capabilities, kinds, event
                raise AssertionError("the trunk port never rang")
            finally:
                await board.close()
        finally:
            await runner.stop()

    async def limited():
        async with asyncio.timeout(LIMIT_S):
            return await body()

    caps, kinds, ring = asyncio.run(limited())
    assert kinds == [k.value for k in board_config.port_kinds]
    assert board_config.model in (None, caps.model)
    assert caps.model == "VB-4FXO4FXS"
    assert all(board_config.port_kinds[s.port] is PortKind.FXS for s in config.stations.values())
    assert ring.port == trunk_port
