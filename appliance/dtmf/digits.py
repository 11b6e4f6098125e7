"""The DTMF keypad: which two frequencies (ITU-T Q.23) each digit sends."""

LOW_GROUP_HZ = (697.0, 770.0, 852.0, 941.0)
HIGH_GROUP_HZ = (1209.0, 1336.0, 1477.0, 1633.0)
KEYPAD = ("123A", "456B", "789C", "*0#D")
DIGITS = "0123456789*#ABCD"


def frequencies(digit):
    """(low-group Hz, high-group Hz) of a digit."""
    for row, keys in enumerate(KEYPAD):
        col = keys.find(digit)
        if col >= 0:
            return LOW_GROUP_HZ[row], HIGH_GROUP_HZ[col]
    raise ValueError(f"{digit!r} is not a DTMF digit (use one of {DIGITS})")
