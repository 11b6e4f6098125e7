"""`appliance dsp ...`: signal tools for installers and test rigs."""

import click


@click.group()
def dsp():
    """Digits, tones and codecs in recordings."""
