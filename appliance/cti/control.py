"""The control socket: the running box's operations (appliance.cti.api) on a local Unix socket,
for the `appliance` CLI (status, agents, calls, config apply, ...) and scripts.

One request per line, one answer per line, both JSON (api.py's docstring has the shapes).
The server runs in the box's event loop, so each operation runs between two ticks. Whatever
bytes a client sends, the answer is one line (an error for anything that is not a request:
`parse_request`), and the connection and the box go on; a line longer than `MAX_LINE`
bytes is answered with an error and the connection closed.

Who may connect is decided by the socket file's permissions: mode 0660, owned by the user
and group the box runs as (the service user; installers are put in its group), in the data
folder. Anyone who may connect is the box's operator and acts as an admin, unless the
request says ``"as": {"id": AGENT, "pin": PIN}``: then it acts as that agent or supervisor,
with the permissions of their `role` (appliance.acd.permissions).

Path: ``<storage.data_dir>/control.sock`` (`socket_path`), or what ``--socket`` names. A
stale socket (a crash left it) is replaced; a socket another box still answers on is
refused (`ControlError`); the file is removed at stop.
"""

import asyncio
import contextlib
import hmac
import json
import logging
import os
import pwd
import socket
import stat
import struct
from pathlib import Path

from appliance.acd.permissions import Actor

from . import api, history, live  # noqa: F401  (history, live: register the operations)

log = logging.getLogger("appliance.control")

SOCKET_NAME = "control.sock"
MODE = 0o660
MAX_LINE = 65536          # bytes in one request line
_SUN_PATH_MAX = 100       # below the kernel's 108 bytes for sockaddr_un.sun_path
_ENVELOPE = ("op", "args", "as")


class ControlError(Exception):
    """The control socket cannot be served: the message names the path and the fix."""


def socket_path(config):
    """Where the box of `config` serves its control socket."""
    return Path(config.storage.data_dir).expanduser() / SOCKET_NAME


def socket_path_of_file(config_path):
    """The control socket of the box that runs from the file `config_path`. When the file
    has errors now (the box still runs with what it read when it started), its
    ``[storage] data_dir`` alone is read, as the loader reads it (``~`` expanded, relative
    to the file's folder, default /var/lib/appliance); the ConfigError when even that
    cannot be read."""
    from appliance.config import ConfigError, load_config

    try:
        return socket_path(load_config(config_path))
    except ConfigError:
        data_dir = _raw_data_dir(Path(config_path))
        if data_dir is None:
            raise
        return data_dir / SOCKET_NAME


def _raw_data_dir(path):
    import tomllib

    try:
        storage = tomllib.loads(path.read_text(encoding="utf-8")).get("storage", {})
        text = storage.get("data_dir", "/var/lib/appliance")
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, AttributeError):
        return None
    if not isinstance(text, str) or not text.strip():
        return None
    folder = Path(os.path.expanduser(text))
    return folder if folder.is_absolute() else path.parent / folder


# ---- requests ---------------------------------------------------------------------------

def parse_request(line):
    """`line` (bytes, without or with its newline) -> (op, args, as_) or ApiError. `as_` is
    None or (id, pin)."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise api.ApiError(f"the request is not UTF-8 text (byte {exc.start})",
                           'send one JSON object per line: {"op": "status", "args": {}}') \
            from None
    try:
        request = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        where = f" at column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else ""
        raise api.ApiError(f"the request is not JSON{where}",
                           'send one JSON object per line: {"op": "status", "args": {}}') \
            from None
    if not isinstance(request, dict):
        raise api.ApiError(f"the request is a JSON {type(request).__name__}, not an object",
                           'send {"op": NAME, "args": {...}}')
    unknown = sorted(k for k in request if k not in _ENVELOPE)
    if unknown:
        raise api.ApiError("the request has unknown keys: " + ", ".join(map(repr, unknown)),
                           "a request has op, args and optionally as")
    op = request.get("op")
    if not isinstance(op, str) or not op:
        raise api.ApiError("the request has no op (a string)", "use one of "
                           + ", ".join(sorted(api.OPERATIONS)))
    args = request.get("args", {})
    if not isinstance(args, dict):
        raise api.ApiError(f"{op}: args is not an object", 'give {"args": {"name": value}}')
    who = request.get("as")
    if who is not None:
        if not (isinstance(who, dict) and set(who) == {"id", "pin"}
                and all(isinstance(v, str) for v in who.values())):
            raise api.ApiError('"as" must be {"id": AGENT ID, "pin": PIN} (strings)',
                               "give --as ID --pin PIN")
        who = (who["id"], who["pin"])
    return op, args, who


def actor_for(config, who, operator):
    """The Actor a request acts as: `who` (id, pin) checked against the config's agents,
    or the operator (an admin) when None."""
    if who is None:
        return api.operator_actor(operator)
    agent_id, pin = who
    agent = config.agents.get(agent_id)
    # compare_digest for every request, known id or not: no timing tells which ids exist
    good = hmac.compare_digest(pin.encode("utf-8", "surrogatepass"),
                               (agent.pin if agent else "\0").encode())
    if agent is None or not good:
        raise api.ApiError(f"--as {agent_id}: unknown agent or wrong PIN",
                           "give an agent id of the configuration's [agents.ID] and its pin")
    return Actor(agent.id, agent.role, frozenset(agent.supervises))


def _line(data):
    # ASCII: a name the client sent with a lone surrogate (JSON "\\ud800") is echoed back
    # escaped, not as bytes UTF-8 cannot hold
    return (json.dumps(data, allow_nan=False) + "\n").encode("ascii")


def error_line(exc):
    return _line({"ok": False, "error": exc.message, "hint": exc.hint})


async def answer(box, line, operator="operator"):
    """The answer to one request line: bytes of one line, or an async iterator of lines for
    a streaming operation."""
    try:
        op, args, who = parse_request(line)
        actor = actor_for(box.config, who, operator)
        result = await api.call(box, op, args, actor=actor)
    except api.ApiError as exc:
        return error_line(exc)
    except Exception as exc:  # an operation's bug must not take the box down: log it
        log.exception("control: request %r failed", line[:200])
        return error_line(api.ApiError(f"internal error: {type(exc).__name__}: {exc}",
                                       "this is a bug; the box's log has the details"))
    if hasattr(result, "__aiter__"):
        return _stream(result)
    try:
        return _line({"ok": True, "result": result})
    except (TypeError, ValueError) as exc:
        log.error("control: %s answered what JSON cannot hold: %s", op, exc)
        return error_line(api.ApiError(f"internal error: {op} answered what JSON cannot "
                                       "hold", "this is a bug; the box's log has it"))


async def _stream(items):
    try:
        async for item in items:
            yield _line({"ok": True, "item": item})
    except api.ApiError as exc:
        yield error_line(exc)
        return
    except Exception as exc:  # as in `answer`: log the bug, end the stream with an error
        log.exception("control: a stream failed")
        yield error_line(api.ApiError(f"internal error: {type(exc).__name__}: {exc}",
                                      "this is a bug; the box's log has the details"))
        return
    finally:
        if hasattr(items, "aclose"):
            await items.aclose()
    yield _line({"ok": True, "result": None})


# ---- the server -------------------------------------------------------------------------

class ControlServer:
    """The control socket of `box` at `path` (start/close in the box's event loop)."""

    def __init__(self, box, path):
        self.box = box
        self.path = Path(path)
        self.server = None
        self.requests = 0
        self._inode = None
        self._clients = set()

    def claim(self):
        """Before the box opens anything: refuse if another box serves this socket (it
        would otherwise close that box's live calls in the store); a stale one is removed."""
        folder = self.path.parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ControlError(f"control socket {self.path}: cannot make its folder "
                               f"({exc.strerror or exc}); {self._fix()}") from None
        self._replace_stale()

    def _fix(self):
        config = getattr(self.box, "config", None)
        if config is not None and self.path == socket_path(config):
            return (f"it is in storage.data_dir: set storage.data_dir in {config.source} to "
                    "a folder the box may write, or give --socket PATH")
        return "give --socket PATH in a folder the box may write"

    async def start(self):
        self.claim()  # again: time passed since the box's start began
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            with _short(self.path) as address:
                sock.bind(address)
            os.chmod(self.path, MODE)
            sock.listen(16)
            sock.setblocking(False)
        except OSError as exc:
            sock.close()
            raise ControlError(f"control socket {self.path}: cannot serve it "
                               f"({exc.strerror or exc}); {self._fix()}") from None
        self._inode = os.stat(self.path).st_ino
        self.server = await asyncio.start_unix_server(self._client, sock=sock,
                                                      limit=MAX_LINE)
        log.info("control socket at %s", self.path)
        return self

    def _replace_stale(self):
        try:
            info = os.lstat(self.path)
        except FileNotFoundError:
            return
        if not stat.S_ISSOCK(info.st_mode):
            raise ControlError(f"control socket {self.path}: a file that is not a socket is "
                               "in the way; move it away or give --socket PATH")
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        probe.settimeout(1.0)
        try:
            with _short(self.path) as address:
                probe.connect(address)
        except (ConnectionRefusedError, FileNotFoundError):
            # nobody listens: a socket a crash left behind
            log.warning("control socket %s: replacing a stale socket", self.path)
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
            return
        except OSError as exc:
            raise ControlError(f"control socket {self.path}: cannot check the socket there "
                               f"({exc.strerror or exc}); give --socket PATH") from None
        finally:
            probe.close()
        raise ControlError(f"control socket {self.path}: another box is running and serves "
                           "it; stop that one first (systemctl stop appliance) or give this "
                           "one another --socket PATH")

    async def close(self):
        if self.server is None:
            return
        self.server.close()
        for writer in list(self._clients):
            writer.close()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self.server.wait_closed(), 2.0)
        self.server = None
        # only our own file: a second box may have replaced it meanwhile
        with contextlib.suppress(FileNotFoundError):
            if os.stat(self.path).st_ino == self._inode:
                self.path.unlink()

    async def _client(self, reader, writer):
        self._clients.add(writer)
        operator = f"operator:{_peer_user(writer)}"
        try:
            while True:
                try:
                    line = await reader.readline()
                except (ValueError, asyncio.LimitOverrunError):
                    writer.write(error_line(api.ApiError(
                        f"the request line is longer than {MAX_LINE} bytes",
                        "send one JSON object per line")))
                    await writer.drain()
                    return
                if not line:
                    return
                if not line.strip():
                    continue
                self.requests += 1
                reply = await answer(self.box, line.rstrip(b"\r\n"), operator)
                if isinstance(reply, bytes):
                    writer.write(reply)
                    await writer.drain()
                    continue
                try:
                    async for chunk in reply:
                        writer.write(chunk)
                        await writer.drain()
                finally:
                    await reply.aclose()
        except (ConnectionError, BrokenPipeError):
            pass  # the client went away
        finally:
            self._clients.discard(writer)
            writer.close()


def _peer_user(writer):
    """The user name of the process at the other end (SO_PEERCRED), or its uid."""
    sock = writer.get_extra_info("socket")
    try:
        creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        uid = struct.unpack("3i", creds)[1]
    except (OSError, AttributeError):
        return "unknown"
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


@contextlib.contextmanager
def _short(path):
    """An address for `path` that fits sockaddr_un: the path itself, or for a long one the
    same file through /proc/self/fd of its folder (Linux)."""
    text = os.fsencode(path)
    if len(text) <= _SUN_PATH_MAX:
        yield str(path)
        return
    fd = os.open(Path(path).parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        yield f"/proc/self/fd/{fd}/{Path(path).name}"
    finally:
        os.close(fd)
