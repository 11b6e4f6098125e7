"""The journal's native protocol as journald receives it: a datagram socket bound by the
test, each entry parsed back by a reader written from the protocol's description (plain
``KEY=value`` lines; ``KEY\\n`` + 64-bit little-endian length + bytes + ``\\n`` for a value
with a newline; an entry too big for a datagram as a sealed memfd passed with SCM_RIGHTS).
Then `appliance run --journal` with an engine command failing: the record arrives with its
traceback, its priority and the call's fields.
"""

import array
import fcntl
import logging
import os
import socket
import struct

import pytest
from click.testing import CliRunner

import appliance.engine.journal as journal
from appliance.cli import main
from appliance.config import sample_path
from appliance.engine.demo import scenario_path
from appliance.engine.engine import Engine
from appliance.engine.journal import JournalHandler, encode_fields, under_journal


def parse_entry(data):
    """{KEY: [values]} from the native protocol's bytes (a key may repeat)."""
    fields, pos = {}, 0
    while pos < len(data):
        end = data.index(b"\n", pos)
        line = data[pos:end]
        if b"=" in line:
            key, _, value = line.partition(b"=")
            pos = end + 1
        else:
            key = line
            (size,) = struct.unpack_from("<Q", data, end + 1)
            start = end + 1 + 8
            value = data[start:start + size]
            assert data[start + size:start + size + 1] == b"\n", "no newline after the value"
            pos = start + size + 1
        fields.setdefault(key.decode("ascii"), []).append(value.decode("utf-8"))
    return fields


@pytest.fixture
def journald(tmp_path):
    """A socket where journald would listen: (path, receive(memfd=False) -> {KEY: [values]});
    `memfd`: the entry must come as a passed memfd, else as the datagram itself."""
    path = tmp_path / "journal.socket"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(30.0)

    def receive(memfd=False):
        data, ancillary, _, _ = sock.recvmsg(1 << 20, socket.CMSG_SPACE(4))
        assert bool(ancillary) == memfd
        for level, kind, payload in ancillary:
            if (level, kind) == (socket.SOL_SOCKET, socket.SCM_RIGHTS):
                (fd,) = array.array("i", payload[:4])
                try:
                    seals = fcntl.fcntl(fd, fcntl.F_GET_SEALS)
                    assert seals & fcntl.F_SEAL_WRITE, "journald refuses an unsealed memfd"
                    data = os.pread(fd, os.fstat(fd).st_size, 0)
                finally:
                    os.close(fd)
        return parse_entry(data)
    yield str(path), receive
    sock.close()


@pytest.fixture
def logger(journald):
    handler = JournalHandler(address=journald[0])
    log = logging.getLogger("appliance.test_journal")
    log.addHandler(handler)
    log.setLevel(logging.DEBUG)
    log.propagate = False
    yield log
    log.removeHandler(handler)
    handler.close()


def test_plain_values_are_key_equals_value_lines():
    assert encode_fields([("MESSAGE", "hello"), ("PRIORITY", 4)]) == b"MESSAGE=hello\nPRIORITY=4\n"


def test_a_value_with_a_newline_is_sent_binary_safe():
    data = encode_fields([("MESSAGE", "two\nlines"), ("X", "=")])
    assert data == b"MESSAGE\n" + struct.pack("<Q", 9) + b"two\nlines\n" + b"X==\n"
    assert parse_entry(data) == {"MESSAGE": ["two\nlines"], "X": ["="]}


@pytest.mark.parametrize("name", ["message", "_PID", "1X", "A-B", "", "X" * 65])
def test_a_field_name_journald_would_refuse_is_an_error(name):
    with pytest.raises(ValueError):
        encode_fields([(name, "x")])


def test_a_record_arrives_with_priority_code_location_and_the_box_fields(journald, logger):
    _, receive = journald
    logger.warning("offer to %s timed out", "desk1",
                   extra={"call_id": "c7", "board": "main", "port": 4, "queue": "sales",
                          "agent": "1001"})
    entry = receive()
    assert entry["MESSAGE"] == ["offer to desk1 timed out"]
    assert entry["PRIORITY"] == ["4"]
    assert entry["SYSLOG_IDENTIFIER"] == ["appliance"]
    assert entry["LOGGER"] == ["appliance.test_journal"]
    assert entry["CODE_FILE"] == [__file__]
    assert entry["CODE_FUNC"] == [
        "test_a_record_arrives_with_priority_code_location_and_the_box_fields"]
    assert int(entry["CODE_LINE"][0]) > 0
    assert {k: entry[k] for k in ("CALL_ID", "BOARD", "PORT", "QUEUE", "AGENT")} == {
        "CALL_ID": ["c7"], "BOARD": ["main"], "PORT": ["4"], "QUEUE": ["sales"],
        "AGENT": ["1001"]}


@pytest.mark.parametrize("level, expected", [(logging.DEBUG, "7"), (logging.INFO, "6"),
                                             (logging.WARNING, "4"), (logging.ERROR, "3"),
                                             (logging.CRITICAL, "2")])
def test_logging_levels_become_syslog_priorities(journald, logger, level, expected):
    logger.log(level, "x")
    entry = journald[1]()
    assert entry["PRIORITY"] == [expected] and "CALL_ID" not in entry


def test_a_traceback_travels_whole_in_the_message(journald, logger):
    try:
        raise RuntimeError("board said no")
    except RuntimeError:
        logger.exception("command failed")
    message = journald[1]()["MESSAGE"][0]
    assert message.startswith("command failed\nTraceback (most recent call last):\n")
    assert message.endswith("RuntimeError: board said no")


def test_an_entry_bigger_than_a_datagram_goes_in_a_sealed_memfd(journald, logger):
    text = "x" * 400_000 + "\nend"  # over the AF_UNIX datagram limit (wmem_max)
    logger.error("%s", text)
    assert journald[1](memfd=True)["MESSAGE"] == [text]


def test_journal_stream_is_recognised_only_for_the_stream_it_names(tmp_path):
    with open(tmp_path / "stream", "w") as stream, open(tmp_path / "other", "w") as other:
        info = os.fstat(stream.fileno())
        named = {"JOURNAL_STREAM": f"{info.st_dev}:{info.st_ino}"}
        assert under_journal(named, stream.fileno())
        assert not under_journal(named, other.fileno())  # stderr redirected elsewhere
        assert not under_journal({}, stream.fileno())
        assert not under_journal({"JOURNAL_STREAM": "junk"}, stream.fileno())


# ---- appliance run --journal ---------------------------------------------------------------

def test_appliance_run_logs_a_failed_command_to_the_journal_with_its_call(
        journald, tmp_path, monkeypatch):
    path, receive = journald
    monkeypatch.setattr(journal, "JOURNAL_SOCKET", path)
    monkeypatch.delenv("APPLIANCE_CONFIG", raising=False)

    def broken(self, command):
        raise RuntimeError("disk on fire")
    monkeypatch.setattr(Engine, "_do_StartRecording", broken)
    config = tmp_path / "appliance.toml"
    config.write_text(sample_path().read_text().replace(
        'data_dir = "~/.local/share/appliance"', 'data_dir = "data"'))
    result = CliRunner().invoke(main, ["run", "--config", str(config), "--scenario",
                                       str(scenario_path()), "--virtual-clock", "--seconds",
                                       "40", "--journal"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    entry = receive()
    assert entry["PRIORITY"] == ["3"]
    assert entry["MESSAGE"][0].startswith("engine: StartRecording(")
    assert entry["MESSAGE"][0].endswith("RuntimeError: disk on fire")
    assert entry["CODE_FILE"][0].endswith(os.path.join("appliance", "engine", "engine.py"))
    assert entry["CALL_ID"][0] and entry["BOARD"] == ["main"]
    assert int(entry["PORT"][0]) in range(4)  # the caller's line, an FXO port
    assert "disk on fire" not in result.output  # not on stderr as well


def test_appliance_run_journal_without_a_journal_is_exit_2(tmp_path, monkeypatch):
    monkeypatch.setattr(journal, "JOURNAL_SOCKET", str(tmp_path / "none"))
    result = CliRunner().invoke(main, ["run", "--config", str(sample_path()), "--journal"])
    assert result.exit_code == 2
    assert "--journal: no journal socket at" in result.output
