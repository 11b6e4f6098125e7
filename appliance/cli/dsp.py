"""`appliance dsp ...`: signal tools for installers and test rigs."""

import click


@click.group()
def dsp():
    """Digits, tones and codecs in recordings."""


# ---- `appliance dsp callerid FILE` (caller ID) ------------------------------------------
# A self-contained block: it reads FILE with appliance.dsp.audiofile.read_audio where that
# module exists, else with soundfile directly; a bad file is one line on stderr, exit 2.

import json  # noqa: E402,F811  (the block keeps its own imports)
from pathlib import Path  # noqa: E402,F811


class _CallerIdInputError(click.ClickException):
    """A file that cannot be read as audio: one line on stderr, exit 2."""

    exit_code = 2


def _callerid_read(file, channel):
    """FILE as (int16 samples, rate)."""
    try:
        from appliance.dsp.audiofile import read_audio
    except ImportError:
        return _callerid_read_soundfile(file, channel)
    try:
        return read_audio(file, channel=channel), 8000
    except ValueError as exc:  # AudioFileError names the file, the problem and the fix
        raise _CallerIdInputError(str(exc)) from None


def _callerid_read_soundfile(file, channel):
    import numpy as np
    import soundfile

    want = "give a WAV (PCM16, A-law, mu-law) or FLAC file"
    path = Path(file)
    if not path.exists():
        raise _CallerIdInputError(f"{file}: no such file; check the path")
    if path.is_dir():
        raise _CallerIdInputError(f"{file}: is a directory; {want}")
    try:
        audio, rate = soundfile.read(str(file), dtype="int16", always_2d=True)
    except (OSError, RuntimeError, TypeError, ValueError) as exc:
        problem = " ".join(str(exc).split()) or "not readable"
        raise _CallerIdInputError(f"{file}: not an audio file ({problem}); {want}") from None
    if audio.shape[0] == 0:
        raise _CallerIdInputError(f"{file}: holds no audio (0 samples); {want}")
    channels = audio.shape[1]
    if channel is None:
        if channels != 1:
            raise _CallerIdInputError(f"{file}: has {channels} channels; choose one with "
                                      f"--channel N (0-based) or left/right")
        index = 0
    else:
        index = {"left": 0, "right": 1}.get(str(channel).lower())
        if index is None:
            try:
                index = int(channel)
            except ValueError:
                index = -1
        if not 0 <= index < channels:
            raise _CallerIdInputError(f"{file}: no channel {channel!r} (it has {channels}); "
                                      f"use 0 to {channels - 1}, left or right")
    return np.ascontiguousarray(audio[:, index]), rate


@dsp.command("callerid")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--channel", metavar="N|left|right", default=None,
              help="The channel of a stereo or multichannel file (0-based, or left/right).")
@click.option("--json", "as_json", is_flag=True, help="JSON lines instead of columns.")
def callerid(file, channel, as_json):
    """The caller ID messages in FILE (Bell 202 / GR-30, V.23 / ETSI, or DTMF), one line
    each: time (seconds, when the message ended), format, message type, number, name, date
    and time. A message that arrived but cannot be accepted (bad checksum, cut short) is
    printed as `rejected` with the reason. Prints nothing when FILE holds no caller ID.
    """
    from appliance.dsp.callerid import CallerIdError, scan

    samples, rate = _callerid_read(file, channel)
    for seconds, result in scan(samples, rate=rate):
        if isinstance(result, CallerIdError):
            if as_json:
                click.echo(json.dumps({"time": round(seconds, 3), "rejected": result.reason}))
            else:
                click.echo(f"{seconds:.3f}  rejected  {result.reason}")
            continue
        if as_json:
            click.echo(json.dumps({"time": round(seconds, 3), **result.to_dict()}))
            continue
        number = result.number if result.number is not None else (
            f"({result.number_absent.name.lower()})" if result.number_absent else "-")
        name = result.name if result.name is not None else (
            f"({result.name_absent.name.lower()})" if result.name_absent else "-")
        when = "-" if result.when is None else (
            f"{result.when.month:02d}-{result.when.day:02d} "
            f"{result.when.hour:02d}:{result.when.minute:02d}")
        click.echo(f"{seconds:.3f}  {result.format}  {result.message_type}  {number}  "
                   f"{name!s}  {when}")
