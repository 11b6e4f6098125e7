"""The transport layer's error tree.

`TransportError` is raised when a URL cannot be opened (the message names the URL and the
fix) and when the link fails. `TransportClosed` is the link going away: the peer closed it,
the device was unplugged, or this side called ``close()``. The board layer treats both as
"board lost".
"""


class TransportError(OSError):
    """A transport URL cannot be opened, or its link failed. The message names the URL and,
    for user mistakes, the fix."""

    def __init__(self, url, problem):
        super().__init__(f"{url}: {problem}")
        self.url = url
        self.problem = problem


class TransportClosed(TransportError):
    """The link is gone: closed by the peer, unplugged, or closed on this side."""
