"""A small synchronous client of the control socket (appliance.cti.control), for the CLI and
scripts: ``request(path, op, **args)`` -> the result, ``stream(path, op, **args)`` -> the
items of a streaming operation. A refusal raises `ClientError` (message, hint); no box
listening raises `NoDaemon`.
"""

import json
import socket

from .control import MAX_LINE, _short


class ClientError(Exception):
    """The box refused the request (or could not be asked): `message`, `hint`."""

    def __init__(self, message, hint=""):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self):
        return f"{self.message}; {self.hint}" if self.hint else self.message


class NoDaemon(ClientError):
    """Nothing listens on the control socket."""


class Connection:
    """One connection to the control socket at `path`; `actor` is None (the operator) or
    (agent id, PIN)."""

    def __init__(self, path, *, actor=None, timeout=10.0):
        self.path = str(path)
        self.actor = actor
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        try:
            with _short(self.path) as address:
                self.sock.connect(address)
        except (FileNotFoundError, ConnectionRefusedError, NotADirectoryError):
            self.sock.close()
            raise NoDaemon(f"no box is running at {self.path} (nothing listens on its "
                           "control socket)",
                           "start it with `systemctl start appliance` or `appliance run`, or "
                           "give --socket PATH / --config FILE of the box you mean") from None
        except PermissionError:
            self.sock.close()
            raise ClientError(f"{self.path}: permission denied",
                              "the control socket admits the box's user and group; run as "
                              "a member of that group (or with sudo)") from None
        except OSError as exc:
            self.sock.close()
            raise ClientError(f"cannot connect to {self.path} ({exc.strerror or exc})",
                              "check the path (--socket)") from None
        self.file = self.sock.makefile("rb")

    def close(self):
        self.file.close()
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, op, args):
        request = {"op": op, "args": args}
        if self.actor is not None:
            request["as"] = {"id": self.actor[0], "pin": self.actor[1]}
        self.sock.sendall((json.dumps(request) + "\n").encode("utf-8"))

    def receive(self):
        """The next answer line, decoded; ClientError for an error answer."""
        try:
            line = self.file.readline(MAX_LINE * 64)
        except TimeoutError:
            raise ClientError(f"the box at {self.path} did not answer in time",
                              "it may be overloaded; try again") from None
        if not line:
            raise ClientError(f"the box at {self.path} closed the connection",
                              "it may have stopped; check `systemctl status appliance`")
        answer = json.loads(line)
        if not answer.get("ok"):
            raise ClientError(answer.get("error", "refused"), answer.get("hint", ""))
        return answer

    def request(self, op, **args):
        self.send(op, args)
        return self.receive()["result"]

    def stream(self, op, **args):
        """Yield each item of a streaming operation's answer."""
        self.send(op, args)
        while True:
            answer = self.receive()
            if "item" not in answer:
                return
            yield answer["item"]


def request(path, op, *, actor=None, timeout=10.0, **args):
    """Run operation `op` with `args` on the box at `path`; its result."""
    with Connection(path, actor=actor, timeout=timeout) as connection:
        return connection.request(op, **args)


def stream(path, op, *, actor=None, timeout=10.0, **args):
    """Yield the items of streaming operation `op`."""
    with Connection(path, actor=actor, timeout=timeout) as connection:
        yield from connection.stream(op, **args)
