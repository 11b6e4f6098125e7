"""Reading a parsed TOML document while collecting every problem instead of stopping.

`Reader` walks the document section by section: each getter returns the value (or a default
when it is missing or wrong) and adds a `ConfigIssue` with the key path, what is allowed and
the fix. The loader raises one ConfigError at the end holding them all.
"""

import difflib
import math

from appliance.config.issues import ConfigIssue, key_path

_MISSING = object()

_TYPE_NAMES = {
    str: "a string", int: "an integer", float: "a number", bool: "true or false",
    list: "an array", dict: "a table",
}


def type_name(value):
    """How TOML calls the type of `value` (for "is a string, not an integer")."""
    if isinstance(value, bool):
        return "a boolean"
    for cls in (int, float, str, list, dict):
        if isinstance(value, cls):
            return _TYPE_NAMES[cls].replace("true or false", "a boolean")
    return f"a {type(value).__name__}"


def did_you_mean(word, choices):
    """" (did you mean 'queues'?)" when `word` is close to one of `choices`, else ""."""
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


class Reader:
    def __init__(self):
        self.issues = []

    # ---- recording problems -----------------------------------------------------------

    def error(self, path, message):
        self.issues.append(ConfigIssue(path, message, "error"))

    def warning(self, path, message):
        self.issues.append(ConfigIssue(path, message, "warning"))

    @property
    def errors(self):
        return [i for i in self.issues if i.severity == "error"]

    # ---- tables -----------------------------------------------------------------------

    def table(self, value, path, allowed, required=(), top=(), hints=None):
        """`value` as a dict with only `allowed` keys (each unknown key is an issue, with a
        did-you-mean; a key of `top`, the file's top-level keys, is told to move up); a
        missing required key is an issue (with `hints[key]`, the fix, when given). Returns
        {} when not a table."""
        if not isinstance(value, dict):
            self.error(path, f"is {type_name(value)}; expected a table"
                       + (f" with keys {', '.join(allowed)}" if allowed else ""))
            return {}
        for key in value:
            if key not in allowed and key in top and path:
                self.error(key_path(path, key),
                           f"unknown key here; {key!r} is a top-level key: move it above "
                           f"the first [table] (TOML puts a key after [{path}] into it)")
            elif key not in allowed:
                self.error(key_path(path, key),
                           f"unknown key{did_you_mean(key, allowed)}; allowed here: "
                           + ", ".join(allowed))
        for key in required:
            if key not in value:
                hint = (hints or {}).get(key)
                self.error(key_path(path, key), "is missing; it is required"
                           + (f": {hint}" if hint else ""))
        return value

    def named_tables(self, value, path, what):
        """A table of named entries (`[queues.sales]`, `[queues.support]`): {name: table}.
        Each entry must itself be a table."""
        if value is _MISSING or value is None:
            return {}
        if not isinstance(value, dict):
            self.error(path, f"is {type_name(value)}; expected a table of {what}, "
                       f"e.g. [{path}.NAME]")
            return {}
        out = {}
        for name, entry in value.items():
            if not isinstance(entry, dict):
                self.error(key_path(path, name), f"is {type_name(entry)}; expected a table "
                           f"describing one of the {what}")
                continue
            out[name] = entry
        return out

    # ---- scalars ----------------------------------------------------------------------

    def get(self, table, key, path, kind, default=_MISSING, *, low=None, high=None,
            choices=None, unit=""):
        """table[key] checked for type (`kind`: str, int, float, bool), range [low, high]
        and `choices`. Missing: `default`, or an issue when there is no default."""
        where = key_path(path, key)
        if key not in table:
            if default is _MISSING:
                self.error(where, "is missing; it is required")
                return None
            return default
        value = table[key]
        return self.check(value, where, kind, default=default, low=low, high=high,
                          choices=choices, unit=unit)

    def check(self, value, where, kind, *, default=None, low=None, high=None, choices=None,
              unit=""):
        fallback = None if default is _MISSING else default
        ok = isinstance(value, kind) and not (kind in (int, float) and isinstance(value, bool))
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value, ok = float(value), True
        if not ok:
            self.error(where, f"is {type_name(value)} ({_show(value)}); expected "
                       f"{_TYPE_NAMES[kind]}")
            return fallback
        if kind is float and not math.isfinite(value):
            self.error(where, f"is {value}; expected a finite number")
            return fallback
        if choices is not None and value not in choices:
            self.error(where, f"is {value!r}{did_you_mean(value, choices)}; allowed: "
                       + ", ".join(repr(c) for c in choices))
            return fallback
        if (low is not None and value < low) or (high is not None and value > high):
            suffix = f" {unit}" if unit else ""
            if high is None:
                allowed = f"at least {low}{suffix}"
            elif low is None:
                allowed = f"at most {high}{suffix}"
            else:
                allowed = f"from {low} to {high}{suffix}"
            self.error(where, f"is {value}{suffix}; allowed: {allowed}")
            return fallback
        return value

    def get_list(self, table, key, path, kind, default=_MISSING, *, unique=True, **limits):
        """An array whose items are all `kind` (each checked like `get`); items that are
        wrong are left out (with an issue each); repeated items are an issue."""
        where = key_path(path, key)
        if key not in table:
            if default is _MISSING:
                self.error(where, "is missing; it is required")
                return ()
            return default
        value = table[key]
        if not isinstance(value, list):
            self.error(where, f"is {type_name(value)} ({_show(value)}); expected an array of "
                       f"{_TYPE_NAMES[kind].split(' ', 1)[1]}s, e.g. [...]")
            return ()
        out = []
        for index, item in enumerate(value):
            checked = self.check(item, key_path(where, index), kind, **limits)
            if checked is None:
                continue
            if unique and checked in out:
                self.error(key_path(where, index), f"{checked!r} is listed twice; list it "
                           "once")
                continue
            out.append(checked)
        return tuple(out)


def _show(value):
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
