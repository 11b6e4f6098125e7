"""The ACD's one small error tree."""


class AcdError(ValueError):
    """A request the ACD cannot carry out, with what to do instead (an unknown agent or
    queue, a login at a taken station, set ready while logged out, a bad spec)."""


class UnknownAgent(AcdError):
    pass


class UnknownQueue(AcdError):
    pass


class AgentStateError(AcdError):
    """The agent's status does not allow this request (e.g. set ready while logged out)."""
