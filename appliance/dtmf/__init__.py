"""DTMF detection and generation."""

from appliance.dtmf.generate import generate

__all__ = ["generate"]
