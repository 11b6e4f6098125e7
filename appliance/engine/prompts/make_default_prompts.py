"""Regenerates the shipped default prompts (default/*.wav) with espeak-ng.

    apt-get install -y espeak-ng
    python appliance/engine/prompts/make_default_prompts.py

Each prompt is spoken by espeak-ng (US English, a female variant, 150 words a minute),
resampled to 8 kHz, trimmed to 0.1 s of silence before the speech and 0.25 s after it,
brought to an active speech level (ITU-T P.56) of LEVEL_DBOV with no peak above -1 dBFS,
and written as 8 kHz A-law WAV by the box's own G.711 encoder. Only this script needs
espeak-ng; the generated files are committed, so neither CI nor a box does.
"""

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from appliance.dsp.audiofile import read_audio, write_audio
from appliance.dsp.speech_level import measure

RATE = 8000
VOICE = "en-us+f3"
WORDS_PER_MINUTE = 150
LEVEL_DBOV = -20.0
PEAK_LIMIT = 29204  # -1 dBFS
LEAD_S, TAIL_S = 0.1, 0.25
SILENT = 100  # |sample| at or below this counts as silence when trimming (-50 dBFS)
FOLDER = Path(__file__).resolve().parent / "default"

PROMPTS = {
    "welcome": "Thank you for calling.",
    "main-menu": "For sales, press 1. For support, press 2. For the operator, press 0.",
    "invalid": "Sorry, that is not a valid choice.",
    "no-input": "Sorry, I did not hear your choice.",
    "please-hold": "Please hold, your call is important to us. "
                   "An agent will be with you shortly.",
    "closed": "We are closed now.",
    "leave-message": "Please leave a message after the tone. Press hash when you are done.",
    "goodbye": "Thank you for calling. Goodbye.",
    "transferring": "Please hold while I transfer your call.",
    "enter-account": "Please enter your account number, then press hash.",
    # queue announcements (appliance.engine: position and expected wait)
    "position-1": "You are next in line.",
    "position-2": "You are number two in line.",
    "position-3": "You are number three in line.",
    "position-4": "You are number four in line.",
    "position-5": "You are number five in line.",
    "position-6": "You are number six in line.",
    "position-7": "You are number seven in line.",
    "position-8": "You are number eight in line.",
    "position-9": "You are number nine in line.",
    "position-more": "There are more than nine callers ahead of you.",
    "wait-0": "Your expected wait is less than a minute.",
    "wait-1": "Your expected wait is about one minute.",
    "wait-2": "Your expected wait is about two minutes.",
    "wait-3": "Your expected wait is about three minutes.",
    "wait-4": "Your expected wait is about four minutes.",
    "wait-5": "Your expected wait is about five minutes.",
    "wait-6": "Your expected wait is about six minutes.",
    "wait-7": "Your expected wait is about seven minutes.",
    "wait-8": "Your expected wait is about eight minutes.",
    "wait-9": "Your expected wait is about nine minutes.",
    "wait-10": "Your expected wait is about ten minutes.",
    "wait-more": "Your expected wait is more than ten minutes.",
    # callbacks (appliance.engine: the caller who pressed the queue's callback digit, and
    # the agent whose phone rings to call them back)
    "callback-booked": "Thank you. We will call you back as soon as an agent is free. "
                       "Goodbye.",
    "callback-offer": "Callback. Connecting you to the customer.",
}


def speak(text, workdir):
    wav = Path(workdir) / "speech.wav"
    subprocess.run(["espeak-ng", "-v", VOICE, "-s", str(WORDS_PER_MINUTE), "-w", str(wav),
                    text], check=True)
    return read_audio(wav, RATE)


def trimmed(samples):
    loud = np.flatnonzero(np.abs(samples.astype(np.int32)) > SILENT)
    lead, tail = int(LEAD_S * RATE), int(TAIL_S * RATE)
    speech = samples[loud[0]:loud[-1] + 1]
    return np.concatenate([np.zeros(lead, np.int16), speech, np.zeros(tail, np.int16)])


def levelled(samples):
    x = samples.astype(np.float64)
    gain = 10.0 ** ((LEVEL_DBOV - measure(x).active_dbfs) / 20.0)
    gain = min(gain, PEAK_LIMIT / np.abs(x).max())
    return np.round(x * gain).astype(np.int16)


def main():
    if shutil.which("espeak-ng") is None:
        sys.exit("espeak-ng is not installed: apt-get install -y espeak-ng")
    FOLDER.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as workdir:
        for name, text in PROMPTS.items():
            audio = levelled(trimmed(speak(text, workdir)))
            write_audio(FOLDER / f"{name}.wav", audio, RATE, "alaw")
            print(f"{name}.wav  {audio.size / RATE:.2f} s  {text}")


if __name__ == "__main__":
    main()
