"""What is wrong with a configuration: every problem with its key path, all at once.

Every part of the config (boards, stations, queues, IVR flows, ...) is checked by the
module that owns it; each returns a list of ConfigIssue instead of stopping at the first,
and the loader raises one ConfigError holding them all, so an installer fixes the whole file
in one go.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class ConfigIssue:
    """One problem: `path` is the dotted key path (`ivr.main.options.9`), `message` says
    what is wrong and what is allowed (`goes to 'sales2', which is not a node`)."""

    path: str
    message: str
    severity: str = "error"  # "error" stops the box; "warning" is reported by `config check`

    def __str__(self):
        return f"{self.path}: {self.message}"


class ConfigError(ValueError):
    """The config cannot be used. `issues` lists every error (and the warnings) found."""

    def __init__(self, issues, source=None):
        self.issues = list(issues)
        self.source = source
        errors = [i for i in self.issues if i.severity == "error"]
        head = f"{source}: " if source else ""
        super().__init__(head + f"{len(errors)} error(s): " + "; ".join(str(i) for i in errors))


def key_path(*parts):
    """Joins key path parts: key_path("ivr", "main", "options", 9) -> "ivr.main.options.9"."""
    return ".".join(str(p) for p in parts if p != "")
