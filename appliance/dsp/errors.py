"""The DSP layer's error tree."""


class DspError(Exception):
    """A C function of the DSP core returned a negative code."""

    def __init__(self, code, what):
        super().__init__(f"{what} failed with DSP error {code}")
        self.code = code
