"""The call engine: the tick loop and what it does to audio each tick (conference mixing)."""
