"""DTMF detection and generation."""

from appliance.dtmf.detector import DtmfDetector, DtmfEvent, DtmfOnset, detect
from appliance.dtmf.generate import generate

__all__ = ["DtmfDetector", "DtmfEvent", "DtmfOnset", "detect", "generate"]
