"""Any TOML document gives a Config or a ConfigError, never another exception: every value of
the sample replaced by values of other types, and tables dropped."""

import json
import os
import tomllib

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from appliance.config import Config, ConfigError, parse_config, sample_path

SAMPLE = tomllib.loads(sample_path().read_text(encoding="utf-8"))

_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-2**40, 2**40),
                     st.floats(allow_nan=True), st.text(max_size=12),
                     st.sampled_from(["main", "sales", "desk1", "fxs", "4fxo+4fxs", "queue:x",
                                      "station:desk1", "flow:menu", "09:00-10:00", "",
                                      "inprocess://main", "2026-13-01"]))
_VALUES = st.recursive(_SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=3)),
    max_leaves=8)


def _paths(doc, prefix=()):
    for key, value in doc.items():
        yield prefix + (key,)
        if isinstance(value, dict):
            yield from _paths(value, prefix + (key,))


PATHS = list(_paths(SAMPLE))


def _with(doc, path, value):
    doc = {k: (_copy(v)) for k, v in doc.items()}
    table = doc
    for key in path[:-1]:
        table = table[key]
    if value is _DROP:
        del table[path[-1]]
    else:
        table[path[-1]] = value
    return doc


def _copy(value):
    return {k: _copy(v) for k, v in value.items()} if isinstance(value, dict) else value


_DROP = object()


def _to_toml_free(doc):
    """parse_config takes text; the changed document goes in as TOML through a tiny writer."""
    lines = []
    _write(doc, (), lines)
    return "\n".join(lines)


def _toml_value(value):
    if value is None:
        return '""'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "nan" if value != value else ("inf" if value == float("inf") else
                                             "-inf" if value == float("-inf") else repr(value))
    if isinstance(value, (int,)):
        return str(value)
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}"
                               for k, v in value.items()) + "}"
    return f'"{value}"'  # dates


def _toml_key(key):
    return _toml_string(str(key))


def _toml_string(text):
    """A TOML basic string: JSON's escapes are TOML's (\\uXXXX, \\n, \\"), DEL aside."""
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def _write(doc, prefix, lines):
    tables = []
    for key, value in doc.items():
        if isinstance(value, dict) and value:
            tables.append((key, value))
        else:
            lines.append(f"{_toml_key(key)} = {_toml_value(value)}")
    for key, value in tables:
        lines.append("[" + ".".join(_toml_key(k) for k in prefix + (key,)) + "]")
        _write(value, prefix + (key,), lines)


def test_writer_round_trips_the_sample():
    written = parse_config(_to_toml_free(SAMPLE), source="sample")
    assert written == parse_config(sample_path().read_text(encoding="utf-8"), source="sample")


# CONFIG_FUZZ_EXAMPLES=4000 for a longer search (4000 ran clean in 141 s on 2 shared cores).
@settings(max_examples=int(os.environ.get("CONFIG_FUZZ_EXAMPLES", "300")), deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(PATHS), st.one_of(_VALUES, st.just(_DROP))),
                min_size=1, max_size=4))
def test_any_value_anywhere_gives_config_or_config_error(changes):
    doc = SAMPLE
    for path, value in changes:
        try:
            doc = _with(doc, path, value)
        except (KeyError, TypeError):
            continue  # an earlier change removed or replaced the table this path is in
    try:
        text = _to_toml_free(doc)
        tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return  # the tiny writer cannot express this document; not what is under test
    try:
        result = parse_config(text)
    except ConfigError as exc:
        assert exc.issues and all(i.severity in ("error", "warning") for i in exc.issues)
        assert any(i.severity == "error" for i in exc.issues)
    else:
        assert isinstance(result, Config)
