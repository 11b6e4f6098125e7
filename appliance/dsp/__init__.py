"""DSP for the appliance: thin numpy wrappers over the C core in ``native/``."""

from appliance.dsp import g711
from appliance.dsp.errors import DspError
from appliance.dsp.ns import NoiseSuppressor

__all__ = ["DspError", "NoiseSuppressor", "g711"]
