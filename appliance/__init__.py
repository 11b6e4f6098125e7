"""All-in-one call-centre appliance: voice boards, DSP, IVR, ACD, CTI."""

__version__ = "0.1.0"
