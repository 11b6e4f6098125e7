"""Voice-board drivers: wire protocol, byte transports, country profiles, emulator."""
