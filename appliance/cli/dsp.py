"""`appliance dsp ...`: signal tools for installers and test rigs.

Each command reads or writes one audio file (appliance.dsp.audiofile: 8 kHz int16 mono inside),
calls one DSP function and prints one line per event. Times are seconds from the start of the
file; levels are dBm0. Bad input is one line on stderr and exit 2 (appliance.cli.errors).
"""

import json
import math
from pathlib import Path

import click

from appliance.cli.errors import AppGroup
from appliance.dsp.audiofile import FORMATS, RATE, read_audio, write_audio
from appliance.dsp.callerid import CallerIdError, scan
from appliance.dsp.toneplan import ToneplanError, available_plans, load_plan
from appliance.dsp.tones import classify
from appliance.dtmf import detect, generate
from appliance.dtmf.digits import DIGITS

# The peak of a 0 dBm0 sine in 16-bit linear (G.711's 3.14 dBm0 full-scale sine = 32767).
_DBM0_PEAK = 22827.6


class _FiniteFloatRange(click.FloatRange):
    """click.FloatRange that also refuses nan and inf (which compare as 'in range')."""

    def convert(self, value, param, ctx):
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return number


def _channel_option(function):
    return click.option(
        "--channel", metavar="N|left|right", default=None,
        help="The channel of a stereo or multichannel file (0-based, or left/right).",
    )(function)


def _audio_in(function):
    """FILE and --channel: an audio file read by appliance.dsp.audiofile.read_audio."""
    return click.argument("file", type=click.Path(path_type=Path))(_channel_option(function))


def _json_option(function):
    return click.option("--json", "as_json", is_flag=True,
                        help="JSON lines instead of columns.")(function)


def _seconds(value):
    return None if value is None else round(float(value), 4)


@click.group(cls=AppGroup)
def dsp():
    """Digits, tones and codecs in recordings."""


@dsp.command()
@_audio_in
@_json_option
def dtmf(file, channel, as_json):
    """The DTMF digits in FILE: digit, start and end (seconds), one line each.

    FILE is WAV (PCM16, A-law, mu-law, float) or FLAC; other sample rates than 8 kHz are
    resampled.
    """
    samples = read_audio(file, channel=channel)
    for event in detect(samples, rate=RATE):
        if as_json:
            click.echo(json.dumps({"digit": event.digit, "start": _seconds(event.start),
                                   "end": _seconds(event.end)}))
        else:
            click.echo(f"{event.digit}  {event.start:.3f}  {event.end:.3f}")


@dsp.command()
@_audio_in
@_json_option
def callerid(file, channel, as_json):
    """The caller ID messages in FILE (Bell 202 / GR-30, V.23 / ETSI EN 300 659, or DTMF).

    One line each: time (seconds, when the message ended), format, message type, number,
    name, date and time. A message that arrived but cannot be accepted (bad checksum, cut
    short) is printed as `rejected` with the reason. Prints nothing when FILE holds no
    caller ID.
    """
    samples = read_audio(file, channel=channel)
    for seconds, result in scan(samples, rate=RATE):
        if isinstance(result, CallerIdError):
            if as_json:
                click.echo(json.dumps({"time": round(seconds, 3), "rejected": result.reason}))
            else:
                click.echo(f"{seconds:.3f}  rejected  {result.reason}")
            continue
        if as_json:
            click.echo(json.dumps({"time": round(seconds, 3), **result.to_dict()}))
            continue
        click.echo(f"{seconds:.3f}  {result.format}  {result.message_type}  "
                   f"{_callerid_field(result.number, result.number_absent)}  "
                   f"{_callerid_field(result.name, result.name_absent)}  "
                   f"{_callerid_when(result.when)}")


def _callerid_field(value, absent):
    """A number or name, else why it is absent, e.g. `(private)`, else `-`."""
    if value is not None:
        return value
    return f"({absent.name.lower()})" if absent else "-"


def _callerid_when(when):
    return "-" if when is None else (
        f"{when.month:02d}-{when.day:02d} {when.hour:02d}:{when.minute:02d}")


@dsp.command("gen-dtmf")
@click.argument("digits")
@click.option("-o", "--output", required=True, metavar="FILE",
              type=click.Path(dir_okay=False, path_type=Path), help="The file to write.")
@click.option("--level", "level_dbm0", type=_FiniteFloatRange(-60.0, 3.0), default=-10.0,
              show_default=True, metavar="DBM0", help="Low-group tone level in dBm0.")
@click.option("--on-ms", type=_FiniteFloatRange(1.0, 60000.0), default=100.0,
              show_default=True, help="How long each digit sounds.")
@click.option("--off-ms", type=_FiniteFloatRange(0.0, 60000.0), default=100.0,
              show_default=True, help="Silence after each digit.")
@click.option("--twist", "twist_db", type=_FiniteFloatRange(-20.0, 20.0), default=0.0,
              show_default=True, metavar="DB",
              help="High group minus low group, dB (negative = normal twist).")
@click.option("--format", "file_format", type=click.Choice(FORMATS), default="pcm16",
              show_default=True, help="Sample encoding (flac writes a .flac file).")
def gen_dtmf(digits, output, level_dbm0, on_ms, off_ms, twist_db, file_format):
    """Write DIGITS (0-9 * # A-D) as DTMF tones to an 8 kHz file."""
    digits = digits.upper()
    bad = sorted({c for c in digits if c not in DIGITS})
    if not digits or bad:
        verb = "is not a DTMF digit" if len(bad) == 1 else "are not DTMF digits"
        what = f"{''.join(bad)!r} {verb}" if bad else "no digits given"
        raise click.BadParameter(f"{what}; use only 0-9 * # A-D (quote * and #)",
                                 param_hint="DIGITS")
    high_dbm0 = level_dbm0 + twist_db
    if high_dbm0 > 3.0 or high_dbm0 < -60.0:
        raise click.BadParameter(
            f"the high group would be at {high_dbm0:.1f} dBm0; keep --level + --twist "
            "between -60 and 3 dBm0", param_hint="'--twist'")
    peak = _DBM0_PEAK * (10 ** (level_dbm0 / 20) + 10 ** (high_dbm0 / 20))
    if peak > 32767:
        headroom = 20 * math.log10(32767 / peak)
        raise click.BadParameter(
            f"the two tones together would clip (peak {peak:.0f} > 32767); lower --level to "
            f"{level_dbm0 + headroom:.1f} dBm0 or less (or reduce --twist)",
            param_hint="'--level'")
    samples = generate(digits, level_dbm0=level_dbm0, on_ms=on_ms, off_ms=off_ms,
                       twist_db=twist_db)
    write_audio(output, samples, rate=RATE, format=file_format)
    click.echo(f"wrote {output}: {len(digits)} digits, {samples.size / RATE:.3f} s, "
               f"{file_format}")


def _tone_plan(plan):
    """--plan: a shipped plan's name wins over a file of the same name."""
    source = plan if plan in available_plans() or not Path(plan).is_file() else Path(plan)
    try:
        return load_plan(source)
    except ToneplanError as exc:  # say which option the bad plan came from
        raise click.BadParameter(str(exc), param_hint="'--plan'") from None


@dsp.command()
@_audio_in
@click.option("--plan", default="cn", show_default=True, metavar="cn|us|etsi|PATH",
              help="Tone plan: a shipped one by name, or the path of a .toml plan file.")
@_json_option
def tones(file, channel, plan, as_json):
    """Call-progress tones in FILE over time: tone, start, detected, end (seconds).

    `detected` is when the tone was recognised; a tone still sounding when the file ends
    ends there.
    """
    tone_plan = _tone_plan(plan)
    samples = read_audio(file, channel=channel)
    for event in classify(samples, plan=tone_plan, rate=RATE):
        if as_json:
            click.echo(json.dumps({
                "tone": event.tone.name, "start": _seconds(event.start),
                "detected": _seconds(event.detected), "end": _seconds(event.end),
                "level_dbm0": round(float(event.level_dbm0), 1),
            }))
        else:
            end = "-" if event.end is None else f"{event.end:.3f}"
            click.echo(f"{event.tone.name}  {event.start:.3f}  {event.detected:.3f}  {end}")


@dsp.command()
@click.argument("source", metavar="IN", type=click.Path(path_type=Path))
@click.argument("target", metavar="OUT", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--to", "file_format", type=click.Choice(FORMATS), required=True,
              help="Encoding of OUT (8 kHz mono).")
@_channel_option
def transcode(source, target, file_format, channel):
    """Convert IN to an 8 kHz mono OUT in another encoding."""
    samples = read_audio(source, channel=channel)
    write_audio(target, samples, rate=RATE, format=file_format)
    click.echo(f"wrote {target}: {samples.size / RATE:.3f} s, {file_format}")
