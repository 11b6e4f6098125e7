"""The control socket's server: every line gets one answer line whatever its bytes
(hypothesis), the socket file's life (mode 0660, a stale one replaced, a live one refused,
removed at the stop), long paths, the client's errors. The box here is one not started
yet (no engine, no database), so every operation refuses ("still starting", no database):
the server, not the operations, is under test."""

import asyncio
import json
import os
import socket
import stat
import threading
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from appliance.config import parse_config, sample_path
from appliance.cti import api
from appliance.cti.client import ClientError, Connection, NoDaemon, request
from appliance.cti.control import MAX_LINE, ControlError, ControlServer, answer, parse_request
from appliance.engine.box import Box


@pytest.fixture(scope="module")
def starting_box(tmp_path_factory):
    """A Box not started yet (no engine, no database), its data in a temporary folder."""
    data = tmp_path_factory.mktemp("starting")
    text = Path(sample_path()).read_text(encoding="utf-8").replace(
        'data_dir = "~/.local/share/appliance"', f'data_dir = "{data}"')
    return Box(parse_config(text, source="starting.toml"))


def one_line(reply):
    assert isinstance(reply, bytes) and reply.endswith(b"\n")
    assert reply.count(b"\n") == 1
    return json.loads(reply)


# ---- the parser -------------------------------------------------------------------------

@settings(max_examples=400, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=300))
def test_arbitrary_bytes_get_one_error_line(starting_box, data):
    line = data.replace(b"\n", b"")
    got = one_line(asyncio.run(answer(starting_box, line)))
    assert got["ok"] is False and got["error"] and "hint" in got
    assert not got["error"].startswith("internal error"), got


_text = st.text(st.characters(blacklist_categories=()), max_size=8)  # lone surrogates too
_json = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | _text,
                     lambda inner: st.lists(inner, max_size=3)
                     | st.dictionaries(_text, inner, max_size=3), max_leaves=8)
_requests = st.fixed_dictionaries(
    {}, optional={"op": st.sampled_from(sorted(api.OPERATIONS)) | _json,
                  "args": st.dictionaries(st.sampled_from(["agent", "call", "queue", "x"]),
                                          _json, max_size=3) | _json,
                  "as": st.fixed_dictionaries({"id": _text, "pin": _text}) | _json,
                  "extra": _json})


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(_requests)
def test_request_shaped_json_gets_one_line_never_a_crash(starting_box, request_):
    line = json.dumps(request_).encode()
    got = one_line(asyncio.run(answer(starting_box, line)))
    assert got["ok"] is False and isinstance(got["error"], str)
    assert not got["error"].startswith("internal error"), got  # refused, never a bug


def test_the_parser_names_what_is_wrong():
    cases = {b"\xff\xfe": "the request is not UTF-8 text (byte 0)",
             b"{op: 1}": "the request is not JSON at column 2",
             b"[1, 2]": "the request is a JSON list, not an object",
             b'{"op": "status", "verb": 1}': "the request has unknown keys: 'verb'",
             b'{"args": {}}': "the request has no op (a string)",
             b'{"op": "status", "args": [1]}': "status: args is not an object",
             b'{"op": "status", "as": {"id": 1001}}':
                 '"as" must be {"id": AGENT ID, "pin": PIN} (strings)'}
    for line, message in cases.items():
        with pytest.raises(api.ApiError) as caught:
            parse_request(line)
        assert caught.value.message == message and caught.value.hint
    assert parse_request(b'{"op": "status"}') == ("status", {}, None)
    assert parse_request(b'{"op": "x", "args": {"a": 1}, "as": {"id": "1", "pin": "2"}}') \
        == ("x", {"a": 1}, ("1", "2"))


def test_lone_surrogates_in_names_are_echoed_escaped(starting_box):
    for line in (rb'{"op": "\ud800"}', rb'{"op": "status", "as": {"id": "\udc80", '
                 rb'"pin": "\ud800"}}', rb'{"op": "agents.ready", "args": {"\udfff": 1}}'):
        got = one_line(asyncio.run(answer(starting_box, line)))
        assert got["ok"] is False and got["error"]


def test_unknown_operations_and_arguments_are_refused_by_name(starting_box):
    got = one_line(asyncio.run(answer(starting_box, b'{"op": "stauts"}')))
    assert got["error"] == "no operation 'stauts'" and "status" in got["hint"]
    got = one_line(asyncio.run(answer(starting_box,
                                      b'{"op": "agents.pause", "args": {"agent": "1"}}')))
    assert got["error"] == "agents.pause: argument reason is missing"
    # the actor comes from "as", never from the arguments
    got = one_line(asyncio.run(answer(
        starting_box, b'{"op": "agents.ready", "args": {"agent": "1", "actor": "x"}}')))
    assert got["error"] == "agents.ready: no argument actor"
    got = one_line(asyncio.run(answer(starting_box, b'{"op": "status"}')))
    assert got == {"ok": False, "error": "the box is still starting",
                   "hint": "try again in a moment"}


# ---- the server on a real socket --------------------------------------------------------

class Served:
    """A ControlServer for `box` at `path` in an event loop on a thread."""

    def __init__(self, box, path):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.server = self.run(ControlServer(box, path).start())

    def run(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(10)

    def close(self):
        self.run(self.server.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture
def served(starting_box, tmp_path):
    servers = []

    def serve(path=None):
        servers.append(Served(starting_box, path or tmp_path / "control.sock"))
        return servers[-1]
    yield serve
    for server in servers:
        if server.thread.is_alive():
            server.close()


def raw(path, data, lines):
    """Send `data` and read `lines` answer lines."""
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(10)
        sock.connect(str(path))
        sock.sendall(data)
        reader = sock.makefile("rb")
        return [json.loads(reader.readline()) for _ in range(lines)]


def test_each_line_on_the_socket_gets_its_answer_and_the_connection_goes_on(served, tmp_path):
    path = tmp_path / "control.sock"
    served()
    got = raw(path, b"\x00\x01garbage\n\n{}\r\n" + b'{"op": "status"}\n', 3)
    assert [g["ok"] for g in got] == [False, False, False]
    assert got[0]["error"] == "the request is not JSON at column 1"
    assert got[1]["error"] == "the request has no op (a string)"
    assert got[2]["error"] == "the box is still starting"


def test_a_line_over_the_limit_is_refused_and_the_server_goes_on(served, tmp_path):
    path = tmp_path / "control.sock"
    served()
    got = raw(path, b"x" * (MAX_LINE + 10) + b"\n", 1)
    assert got[0]["error"] == f"the request line is longer than {MAX_LINE} bytes"
    with pytest.raises(ClientError) as caught:
        request(path, "status")
    assert caught.value.message == "the box is still starting"


def test_the_socket_is_mode_0660_and_removed_at_the_stop(served, tmp_path):
    path = tmp_path / "control.sock"
    server = served()
    info = os.stat(path)
    assert stat.S_ISSOCK(info.st_mode) and stat.S_IMODE(info.st_mode) == 0o660
    server.close()
    assert not path.exists()


def test_a_stale_socket_is_replaced(served, tmp_path):
    path = tmp_path / "control.sock"
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(path))  # bound, never listening: what a crash leaves
    stale.close()
    assert path.exists()
    served()
    with pytest.raises(ClientError) as caught:
        request(path, "status")
    assert caught.value.message == "the box is still starting"


def test_a_second_box_on_the_same_socket_is_refused(served, starting_box, tmp_path):
    path = tmp_path / "control.sock"
    served()
    with pytest.raises(ControlError) as caught:
        asyncio.run(ControlServer(starting_box, path).start())
    assert str(caught.value) == (
        f"control socket {path}: another box is running and serves it; stop that one "
        "first (systemctl stop appliance) or give this one another --socket PATH")
    assert raw(path, b'{"op": "status"}\n', 1)[0]["error"] == "the box is still starting"


def test_a_file_in_the_way_is_refused(starting_box, tmp_path):
    path = tmp_path / "control.sock"
    path.write_text("not a socket")
    with pytest.raises(ControlError) as caught:
        asyncio.run(ControlServer(starting_box, path).start())
    assert "a file that is not a socket is in the way" in str(caught.value)
    assert path.read_text() == "not a socket"


def test_a_socket_path_longer_than_sun_path_works(served, tmp_path):
    folder = tmp_path / ("d" * 60) / ("e" * 60)
    path = folder / "control.sock"
    assert len(str(path)) > 108
    server = served(path)
    with pytest.raises(ClientError) as caught:
        request(path, "status")
    assert caught.value.message == "the box is still starting"
    server.close()
    assert not path.exists()


def test_no_daemon_is_a_clear_error_with_the_fix(tmp_path):
    with pytest.raises(NoDaemon) as caught:
        Connection(tmp_path / "control.sock")
    assert "no box is running at" in caught.value.message
    assert "systemctl start appliance" in caught.value.hint
    assert "appliance run" in caught.value.hint


@pytest.fixture(scope="module")
def module_server(starting_box, tmp_path_factory):
    server = Served(starting_box, tmp_path_factory.mktemp("fuzz") / "control.sock")
    yield server
    server.close()


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.binary(max_size=200).map(lambda b: b.replace(b"\n", b"")), min_size=1,
                max_size=5))
def test_on_the_socket_every_non_blank_line_gets_one_answer(module_server, lines):
    path = module_server.server.path
    wanted = [line for line in lines if line.strip()]
    got = raw(path, b"".join(line + b"\n" for line in lines), len(wanted))
    assert all(answer_["ok"] is False for answer_ in got)
    # and the server still answers a good request on a new connection
    assert raw(path, b'{"op": "status"}\n', 1)[0]["error"] == "the box is still starting"
