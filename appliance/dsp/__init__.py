"""DSP for the appliance: thin numpy wrappers over the C core in ``native/``."""

from appliance.dsp import g711
from appliance.dsp.echo import EchoCanceller, EchoCancellerBank
from appliance.dsp.errors import DspError

__all__ = ["DspError", "EchoCanceller", "EchoCancellerBank", "g711"]
