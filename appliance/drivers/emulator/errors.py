"""The emulator's errors.

`EmulatorConfigError` is the edge for a board model or scenario file (or the flags that stand
for one): its message names the source, the key path (``callers[1].actions[0].press``) and
the fix, so the CLI can print it as one line. `EmulatorError` is misuse of the emulator's
Python API (a port that does not exist, a tick fed the wrong audio shape).
"""


class EmulatorError(Exception):
    """The emulator was used wrongly from Python (not a user's file)."""


class EmulatorConfigError(ValueError):
    """A board model or scenario (file or flags) is invalid: `source: key: problem; fix`."""

    def __init__(self, source, key, problem):
        where = f"{source}: {key}: " if key else f"{source}: "
        super().__init__(where + problem)
        self.source = source
        self.key = key
        self.problem = problem


class Reader:
    """Strict reading of a parsed TOML document, failing with the key path."""

    def __init__(self, source):
        self.source = str(source)

    def fail(self, key, problem):
        raise EmulatorConfigError(self.source, key, problem)

    @staticmethod
    def join(key, name):
        if isinstance(name, int):
            return f"{key}[{name}]"
        return f"{key}.{name}" if key else name

    def table(self, value, key, allowed, required=()):
        if not isinstance(value, dict):
            self.fail(key, f"must be a table, not {type(value).__name__}")
        for k in value:
            if k not in allowed:
                self.fail(self.join(key, k), f"unknown key; allowed here: {', '.join(allowed)}")
        for k in required:
            if k not in value:
                self.fail(self.join(key, k), "missing; add it")
        return value

    def tables(self, value, key):
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            self.fail(key, "must be an array of tables ([[...]] or [{...}, ...])")
        return value

    def number(self, value, key, low, high, unit=""):
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or value != value or not low <= value <= high:
            self.fail(key, f"must be a number from {low:g} to {high:g}{unit}, not {value!r}")
        return float(value)

    def integer(self, value, key, low, high):
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            self.fail(key, f"must be a whole number from {low} to {high}, not {value!r}")
        return value

    def string(self, value, key, choices=None):
        if not isinstance(value, str):
            self.fail(key, f"must be a string, not {value!r}")
        if choices is not None and value not in choices:
            self.fail(key, f"must be one of {', '.join(repr(c) for c in choices)}, not {value!r}")
        return value

    def boolean(self, value, key):
        if not isinstance(value, bool):
            self.fail(key, f"must be true or false, not {value!r}")
        return value
