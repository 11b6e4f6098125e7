"""Voice-board drivers: wire protocol, byte transports, country profiles, the Board/Port
interface the engine uses (``board``), the emulator and its wire side (``emulated_board``)."""
