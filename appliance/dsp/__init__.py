"""DSP for the appliance: thin numpy wrappers over the C core in ``native/``."""

from appliance.dsp import g711
from appliance.dsp.agc import Agc
from appliance.dsp.echo import EchoCanceller, EchoCancellerBank
from appliance.dsp.errors import DspError
from appliance.dsp.ns import NoiseSuppressor

__all__ = [
    "Agc", "ChannelBank", "DspError", "EchoCanceller", "EchoCancellerBank", "NoiseSuppressor",
    "g711",
]


def __getattr__(name):
    # The bank chains the DTMF receiver of appliance.dtmf, which itself imports this
    # package's binding: load it on first use so either package can be imported first.
    if name == "ChannelBank":
        from appliance.dsp.bank import ChannelBank

        return ChannelBank
    raise AttributeError(f"module 'appliance.dsp' has no attribute {name!r}")
