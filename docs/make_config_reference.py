#!/usr/bin/env python3
"""Builds docs/config-reference.md from the configuration loader, so that it cannot drift.

Sources, all in appliance/config/ (and the IVR's README for the IVR nodes):
- load.py: which keys each table allows and requires (its `Reader.table(...)` calls), each
  key's type, default, range, choices and unit (its `Reader.get` / `get_list` calls and the
  loader's own reference and folder helpers), read from the code's syntax tree; constants
  the calls name (STRATEGIES, the enums) are evaluated in the loader's module, so a new
  choice shows up by itself. The one-line summary of each table comes from load.py's
  docstring ("File layout").
- model.py: the meaning of a key, from the comment on the field of the same name in the
  table's dataclass (Board, Queue, ...), and its type when the loader's calls do not say.
- sample.toml: the complete example at the end.
- appliance/ivr/README.md, section "The TOML shape": the IVR nodes.

Run ``python docs/make_config_reference.py`` after changing any of them (it rewrites the
file; ``--check`` exits 1 when the committed file is stale, which tests/docs checks too).
"""

import ast
import importlib
import inspect
import io
import re
import sys
import tokenize
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "docs" / "config-reference.md"

# _Builder method -> (the table it reads, the model dataclass of its entries)
SECTIONS = (
    ("build", "top level", "Config"),
    ("site", "[site]", None),
    ("board", "[boards.NAME]", "Board"),
    ("trunks", "[trunks.NAME]", "TrunkGroup"),
    ("stations", "[stations.NAME]", "Station"),
    ("queue", "[queues.NAME]", "Queue"),
    ("agents", "[agents.ID]", "Agent"),
    ("schedule", "[schedules.NAME]", "Schedule"),
    ("recording", "[recording]", "Recording"),
    ("storage", "[storage]", "Storage"),
    ("dial", "[dial]", "DialPolicy"),
)
_KINDS = {"str": "string", "int": "integer", "float": "number", "bool": "boolean"}
# Config fields that the [site] table sets
_SITE_FIELDS = {"name": "site", "country": "country", "tone_plan": "tone_plan"}


def _imports():
    sys.path.insert(0, str(ROOT))
    load = importlib.import_module("appliance.config.load")
    model = importlib.import_module("appliance.config.model")
    return load, model


class _Unknown:
    """A value the generator could not evaluate: shown as its source text."""

    def __init__(self, text):
        self.text = text


def _evaluate(node, namespace, loops=None):
    text = ast.unparse(node)
    if loops and isinstance(node, ast.Name) and node.id in loops:
        return loops[node.id]
    try:
        return eval(compile(ast.Expression(node), "<load.py>", "eval"),  # noqa: S307
                    dict(namespace))
    except Exception:  # a local name of the loader: show the code itself
        return _Unknown(text)


def _show(value):
    if isinstance(value, _Unknown):
        return f"`{value.text}`"
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'`"{value}"`'
    if isinstance(value, (tuple, list)):
        return "`[" + ", ".join(f'"{v}"' if isinstance(v, str) else str(v)
                                for v in value) + "]`"
    return f"`{value}`"


class _Method(ast.NodeVisitor):
    """The keys one _Builder method reads."""

    def __init__(self, namespace):
        self.namespace = namespace
        self.allowed = []
        self.required = []
        self.keys = {}
        self.loops = {}

    def visit_For(self, node):
        if isinstance(node.target, ast.Name):
            values = _evaluate(node.iter, self.namespace)
            if isinstance(values, (tuple, list)):
                self.loops[node.target.id] = values
        self.generic_visit(node)

    def _key(self, node):
        value = _evaluate(node, self.namespace, self.loops)
        if isinstance(value, str):
            return [value]
        if isinstance(value, (tuple, list)) and all(isinstance(v, str) for v in value):
            return list(value)
        return []

    def visit_BoolOp(self, node):
        """`helper("key", None) or <fallback>`: the fallback is the key's default."""
        first = node.values[0]
        if isinstance(node.op, ast.Or) and isinstance(first, ast.Call) and \
                isinstance(first.func, ast.Name) and len(first.args) == 2 and \
                isinstance(first.args[1], ast.Constant) and first.args[1].value is None:
            for key in self._key(first.args[0]):
                self.keys.setdefault(key, {"type": "folder path",
                                           "default": _Unknown(ast.unparse(node.values[1]))})
        self.generic_visit(node)

    def visit_Call(self, node):
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else \
            func.id if isinstance(func, ast.Name) else None
        owner = ast.unparse(func.value) if isinstance(func, ast.Attribute) else ""
        kwargs = {k.arg: k.value for k in node.keywords if k.arg}
        if owner in ("r", "self.r") and name == "table" and len(node.args) >= 3:
            allowed = _evaluate(node.args[2], self.namespace)
            if isinstance(allowed, (tuple, list)):
                self.allowed = list(allowed)
            if "required" in kwargs:
                required = _evaluate(kwargs["required"], self.namespace)
                if isinstance(required, (tuple, list)):
                    self.required = list(required)
        elif owner in ("r", "self.r") and name in ("get", "get_list") and len(node.args) >= 4:
            kind = ast.unparse(node.args[3])
            info = {"type": _KINDS.get(kind, kind)}
            if name == "get_list":
                info["type"] = f"array of {info['type']}s"
            loop = node.args[1].id if isinstance(node.args[1], ast.Name) and \
                node.args[1].id in self.loops else None
            for key in self._key(node.args[1]):
                # a default that depends on the loop's key is evaluated for each key
                namespace = dict(self.namespace, **({loop: key} if loop else {}))
                entry = dict(info)
                for option in ("default", "low", "high", "choices", "unit"):
                    if option in kwargs:
                        entry[option] = _evaluate(kwargs[option], namespace)
                self.keys.setdefault(key, entry)
        elif owner == "self" and name == "reference" and len(node.args) >= 5:
            what = _evaluate(node.args[4], self.namespace)
            info = {"type": f"name of a {what}" if isinstance(what, str) else "name"}
            if "default" in kwargs:
                info["default"] = _evaluate(kwargs["default"], self.namespace)
            for key in self._key(node.args[1]):
                self.keys.setdefault(key, info)
        elif isinstance(func, ast.Name) and node.args and len(node.args) == 2:
            # a helper local to the method, called as helper("key", default)
            for key in self._key(node.args[0]):
                default = _evaluate(node.args[1], self.namespace)
                self.keys.setdefault(key, {"type": "folder path", "default": default})
        self.generic_visit(node)


def _builder_methods(load):
    tree = ast.parse(inspect.getsource(load))
    builder = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "_Builder")
    return {n.name: n for n in builder.body if isinstance(n, ast.FunctionDef)}


def _field_comments(model):
    """{dataclass name: {field: (annotation, comment)}} from model.py's source."""
    source = inspect.getsource(model)
    comments = {}
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            comments[token.start[0]] = token.string.lstrip("#").strip()
    out = {}
    for node in ast.parse(source).body:
        if not isinstance(node, ast.ClassDef):
            continue
        fields = {}
        for item in node.body:
            if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                fields[item.target.id] = (ast.unparse(item.annotation),
                                          comments.get(item.lineno, ""))
        out[node.name] = fields
    return out


def _layout(load):
    """{'[site]': summary, ...} from load.py's docstring ("File layout")."""
    lines = (load.__doc__ or "").splitlines()
    out, current = {}, None
    for line in lines:
        match = re.match(r"^\s{4}(\[[a-z]+(?:\.[A-Z]+)?\]|skills)\s+(.*)$", line)
        if match:
            current = match.group(1)
            out[current] = match.group(2).strip()
        elif current and re.match(r"^\s{10,}\S", line):
            out[current] += " " + line.strip()
        else:
            current = None
    return out


def _sample_comments(text):
    """{(table, key): comment} from sample.toml's trailing comments (commented-out keys
    too); tables as the reference names them ([queues.sales] -> [queues.NAME])."""
    out, table = {}, "top level"
    for line in text.splitlines():
        header = re.match(r"^\[([a-z]+)(?:\.[^\]]+)?\]", line)
        if header:
            name = header.group(1)
            named = {"boards": "NAME", "trunks": "NAME", "stations": "NAME",
                     "queues": "NAME", "agents": "ID", "schedules": "NAME"}
            table = f"[{name}.{named[name]}]" if name in named else f"[{name}]"
            continue
        match = re.match(r"^#?\s*([a-z_]+)\s*=\s*[^#]*?\s#\s*(.+)$", line)
        if match:
            out[(table, match.group(1))] = match.group(2).strip()
    return out


def _allowed(info):
    parts = []
    if "choices" in info and isinstance(info["choices"], (tuple, list)):
        parts.append(" | ".join(f"`{c}`" for c in info["choices"]))
    low, high = info.get("low"), info.get("high")
    unit = info.get("unit") or ""
    unit = f" {unit}" if isinstance(unit, str) and unit else ""
    if low is not None and high is not None:
        parts.append(f"{_show(low).strip('`')} to {_show(high).strip('`')}{unit}")
    elif low is not None:
        parts.append(f">= {_show(low).strip('`')}{unit}")
    return "; ".join(parts)


def _cell(text):
    return str(text).replace("|", "\\|").replace("\n", " ")


def _ivr_shape():
    text = (ROOT / "appliance" / "ivr" / "README.md").read_text(encoding="utf-8")
    section = text.split("## The TOML shape", 1)[1]
    return section.split("\n## ", 1)[0].strip()


def build():
    """The text of docs/config-reference.md."""
    load, model = _imports()
    methods = _builder_methods(load)
    fields = _field_comments(model)
    layout = _layout(load)
    namespace = vars(load)
    sample = (ROOT / "appliance" / "config" / "sample.toml").read_text(encoding="utf-8")
    sample_notes = _sample_comments(sample)
    out = [
        "# Configuration reference",
        "",
        "<!-- Generated by docs/make_config_reference.py from appliance/config/load.py, "
        "model.py and sample.toml",
        "     (and appliance/ivr/README.md for the IVR nodes). Do not edit: change those and "
        "run",
        "     `python docs/make_config_reference.py`; tests/docs checks that this file is "
        "up to date. -->",
        "",
        f"The box reads one TOML file: `{load.DEFAULT_PATH}`, or the file `--config FILE` "
        "(or `$APPLIANCE_CONFIG`) names. `appliance config check` reports every problem "
        "at once, each with its dotted key path, what is allowed and the fix; "
        "`appliance config show` prints the effective configuration (defaults filled in, "
        "paths resolved). Names of boards, trunk groups, stations, queues, schedules and "
        "agents are their table keys (`[queues.sales]` is queue `sales`): 1-40 letters, "
        "digits, `_` or `-`. Times are seconds; relative storage paths are taken from "
        "the configuration file's folder.",
        "",
        "A key marked *required* must be given; every other key has the default shown. "
        "After a change, `appliance config diff NEW` says what applies to new calls and "
        "what needs a restart (boards, trunk groups, stations, storage and the site).",
        "",
    ]
    for method, title, dataclass in SECTIONS:
        visitor = _Method(namespace)
        visitor.visit(methods[method])
        keys = visitor.allowed if method != "build" else \
            [k for k in visitor.keys if k not in ("site", "boards")]
        described = fields.get(dataclass, {}) if dataclass else {}
        out.append(f"## {title}")
        out.append("")
        summary = layout.get(title if method != "build" else "skills")
        if summary and method != "build":
            out += [f"In short: {summary}.", ""]
        elif method == "build":
            out += ["Keys before the first `[table]`.", ""]
        out.append("| key | type | default | allowed | meaning |")
        out.append("|---|---|---|---|---|")
        for key in keys:
            info = visitor.keys.get(key, {})
            field = described.get(key) or (fields["Config"].get(_SITE_FIELDS[key])
                                          if method == "site" and key in _SITE_FIELDS
                                          else None)
            kind = info.get("type") or (_KINDS.get(field[0], f"`{field[0]}`") if field
                                        else "see below")
            if key in visitor.required:
                default = "*required*"
            elif "default" in info:
                default = _show(info["default"])
            else:
                default = "none"
            meaning = (field[1] if field else "") or (
                layout.get(key, "").split(": ", 1)[-1] if method == "build"
                else sample_notes.get((title, key), ""))
            out.append(f"| `{key}` | {_cell(kind)} | {_cell(default)} | "
                       f"{_cell(_allowed(info))} | {_cell(meaning)} |")
        out.append("")
    out += ["## [ivr.NODE]", "", "The IVR: one table per node (from appliance/ivr/README.md).",
            "", _ivr_shape(), ""]
    out += ["## A complete example", "",
            "The sample configuration shipped with the package "
            "(`appliance/config/sample.toml`; `appliance demo` runs it):", "",
            "```toml", sample.rstrip(), "```", ""]
    return "\n".join(out)


def main(argv):
    text = build()
    if "--check" in argv:
        current = OUTPUT.read_text(encoding="utf-8") if OUTPUT.exists() else ""
        if current != text:
            print(f"{OUTPUT} is out of date; run python docs/make_config_reference.py",
                  file=sys.stderr)
            return 1
        return 0
    OUTPUT.write_text(text, encoding="utf-8")
    print(OUTPUT)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
