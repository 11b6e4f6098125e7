"""Log records to systemd's journal with structured fields, over its native protocol.

The native protocol (systemd.journal-fields(7), "Native Journal Protocol" in systemd's
docs): one datagram to ``/run/systemd/journal/socket`` per entry, each field a line
``KEY=value``; a value holding a newline (a traceback) is sent binary-safe as ``KEY``,
newline, its length as 64-bit little-endian, the bytes, newline. An entry too big for one
datagram goes in a sealed memfd whose descriptor is passed with SCM_RIGHTS.

Fields of every entry: ``MESSAGE`` (with the traceback, if any), ``PRIORITY`` (syslog
levels), ``SYSLOG_IDENTIFIER``, ``CODE_FILE``, ``CODE_LINE``, ``CODE_FUNC``, ``LOGGER``,
``THREAD_NAME``; and the box's own when the record carries them
(``log.warning(..., extra={"call_id": ..., "port": ...})``): ``CALL_ID``, ``PORT``,
``BOARD``, ``QUEUE``, ``AGENT``. So ``journalctl -u appliance CALL_ID=c42`` shows one call.

`under_journal()` says whether stderr is the journal already (``$JOURNAL_STREAM`` names
stderr's device and inode): then the records go to the journal natively instead.
"""

import array
import errno
import fcntl
import logging
import os
import socket
import struct

__all__ = ["JOURNAL_SOCKET", "JournalHandler", "under_journal", "journal_available",
           "encode_fields"]

JOURNAL_SOCKET = "/run/systemd/journal/socket"

# logging level -> syslog priority (what journalctl -p filters on)
_PRIORITIES = ((logging.CRITICAL, 2), (logging.ERROR, 3), (logging.WARNING, 4),
               (logging.INFO, 6))
# record attribute (logging's extra=) -> journal field
EXTRA_FIELDS = {"call_id": "CALL_ID", "port": "PORT", "board": "BOARD", "queue": "QUEUE",
                "agent": "AGENT"}
_SEALS = getattr(fcntl, "F_SEAL_SHRINK", 2) | getattr(fcntl, "F_SEAL_GROW", 4) | \
    getattr(fcntl, "F_SEAL_WRITE", 8) | getattr(fcntl, "F_SEAL_SEAL", 1)


def priority(levelno):
    for level, value in _PRIORITIES:
        if levelno >= level:
            return value
    return 7  # debug


def encode_fields(fields):
    """The native protocol's bytes for `fields` (an iterable of (NAME, value) pairs)."""
    out = bytearray()
    for name, value in fields:
        if not _valid_name(name):
            raise ValueError(f"journal field names are A-Z, 0-9 and _, not starting with _: "
                             f"{name!r}")
        data = value if isinstance(value, bytes) else str(value).encode("utf-8", "replace")
        key = name.encode("ascii")
        if b"\n" in data:
            out += key + b"\n" + struct.pack("<Q", len(data)) + data + b"\n"
        else:
            out += key + b"=" + data + b"\n"
    return bytes(out)


def _valid_name(name):
    return (0 < len(name) <= 64 and not name.startswith("_") and not name[0].isdigit()
            and all(c.isdigit() or c == "_" or "A" <= c <= "Z" for c in name))


def under_journal(environ=None, stream_fd=2):
    """Whether `stream_fd` (stderr) is connected to the journal: $JOURNAL_STREAM is
    "DEVICE:INODE" of the stream systemd gave the service."""
    environ = os.environ if environ is None else environ
    text = environ.get("JOURNAL_STREAM", "")
    device, _, inode = text.partition(":")
    if not (device.isdigit() and inode.isdigit()):
        return False
    try:
        info = os.fstat(stream_fd)
    except OSError:
        return False
    return (info.st_dev, info.st_ino) == (int(device), int(inode))


def journal_available(address=None):
    return os.path.exists(address or JOURNAL_SOCKET)


class JournalHandler(logging.Handler):
    """A logging handler writing each record to the journal socket at `address`."""

    def __init__(self, level=logging.NOTSET, *, address=None, identifier="appliance"):
        super().__init__(level)
        self.address = address or JOURNAL_SOCKET
        self.identifier = identifier
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)

    def fields(self, record):
        message = self.format(record)  # with the traceback, when there is one
        fields = [("MESSAGE", message), ("PRIORITY", priority(record.levelno)),
                  ("SYSLOG_IDENTIFIER", self.identifier), ("LOGGER", record.name),
                  ("CODE_FILE", record.pathname), ("CODE_LINE", record.lineno),
                  ("CODE_FUNC", record.funcName), ("THREAD_NAME", record.threadName)]
        for attribute, name in EXTRA_FIELDS.items():
            value = getattr(record, attribute, None)
            if value is not None:
                fields.append((name, value))
        return fields

    def emit(self, record):
        try:
            self.send(encode_fields(self.fields(record)))
        except (OSError, ValueError):  # logging's contract: never raise into the caller
            self.handleError(record)

    def send(self, data):
        try:
            self._socket.sendto(data, self.address)
        except OSError as exc:
            if exc.errno not in (errno.EMSGSIZE, errno.ENOBUFS):
                raise
            self._send_memfd(data)

    def _send_memfd(self, data):
        """An entry bigger than a datagram: in a sealed memfd, its descriptor passed."""
        fd = os.memfd_create("journal-entry", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            fcntl.fcntl(fd, fcntl.F_ADD_SEALS, _SEALS)
            rights = array.array("i", [fd])
            self._socket.sendmsg([], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, rights)], 0,
                                 self.address)
        finally:
            os.close(fd)

    def close(self):
        try:
            self._socket.close()
        finally:
            super().close()

