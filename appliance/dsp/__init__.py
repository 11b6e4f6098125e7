"""DSP for the appliance: thin numpy wrappers over the C core in ``native/``."""

from appliance.dsp import g711
from appliance.dsp.agc import Agc
from appliance.dsp.errors import DspError

__all__ = ["Agc", "DspError", "g711"]
