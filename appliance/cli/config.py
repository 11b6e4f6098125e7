"""`appliance config ...`: check and show the box's configuration file.

- ``appliance config check [--config F] [--json]``: every problem of the file, each with its
  key path; exit 2 when there are errors, 0 when it is usable (warnings are printed).
- ``appliance config show [--config F] [--json]``: the effective configuration (defaults
  filled in, paths resolved), one ``key.path = value`` line each, or JSON.
- ``appliance config diff NEW [--config F] [--json]``: what putting NEW in place of F would
  change (appliance.config.plan_reload): each change, applied to new calls or needing a
  restart; exit 2 (and nothing to change) when NEW has errors.

The file is `/etc/appliance/appliance.toml` unless ``--config`` (or $APPLIANCE_CONFIG) names
another. Errors go through appliance.cli.errors (one line per issue on stderr, exit 2).
"""

import json

import click

from appliance.cli.errors import AppGroup
from pathlib import Path

from appliance.config import DEFAULT_PATH, ConfigError, load_config, plan_reload


def _config_option(function):
    return click.option(
        "--config", "config_path", type=click.Path(dir_okay=False), default=str(DEFAULT_PATH),
        envvar="APPLIANCE_CONFIG", show_default=True,
        help="The configuration file (TOML); $APPLIANCE_CONFIG also sets it.")(function)


def _json_option(function):
    return click.option("--json", "as_json", is_flag=True,
                        help="JSON instead of text.")(function)


def _issue_dict(issue):
    return {"path": issue.path, "message": issue.message, "severity": issue.severity}


@click.group(cls=AppGroup)
def config():
    """Check and show the configuration file."""


@config.command()
@_config_option
@_json_option
def check(config_path, as_json):
    """Validate the configuration: every error and warning with its key path.

    Exit code 0 when the box can start with it (warnings are printed), 2 when it has errors.
    """
    try:
        loaded = load_config(config_path)
    except ConfigError as exc:
        if not as_json:
            raise
        _echo_json({"file": config_path, "valid": False,
                    "errors": [_issue_dict(i) for i in exc.issues if i.severity == "error"],
                    "warnings": [_issue_dict(i) for i in exc.issues
                                 if i.severity != "error"]})
        raise click.exceptions.Exit(2) from None
    if as_json:
        _echo_json({"file": config_path, "valid": True, "errors": [],
                    "warnings": [_issue_dict(i) for i in loaded.warnings]})
        return
    for issue in loaded.warnings:
        click.echo(f"warning: {issue}", err=True)
    click.echo(f"{config_path}: valid ({len(loaded.boards)} board(s), {len(loaded.stations)} "
               f"station(s), {len(loaded.queues)} queue(s), {len(loaded.agents)} agent(s), "
               f"{len(loaded.warnings)} warning(s))")


@config.command()
@_config_option
@_json_option
def show(config_path, as_json):
    """Print the effective configuration: defaults filled in, paths resolved."""
    data = load_config(config_path).to_dict()
    if as_json:
        _echo_json(data)
        return
    for key, value in _flatten(data):
        click.echo(f"{key} = {json.dumps(value, ensure_ascii=False)}")


def _flatten(data, prefix=""):
    """(dotted key, value) for every leaf; lists of scalars stay whole."""
    for key, value in data.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict) and value:
            yield from _flatten(value, path)
        else:
            yield path, value


def _echo_json(data):
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


@config.command()
@click.argument("new", type=click.Path(dir_okay=False))
@_config_option
@_json_option
def diff(new, config_path, as_json):
    """What NEW would change in place of the current configuration.

    Each change is applied to new calls (IVR, queues, agents, schedules, recording, dial
    policy) or needs a restart (site, boards, trunks, stations, storage). Relative paths in
    NEW are read as if it were in the current file's folder. Exit code 2 when NEW has errors.
    """
    old = load_config(config_path)
    try:
        text = Path(new).read_bytes()
    except OSError as exc:
        raise click.BadParameter(f"cannot read {new!r} ({exc.strerror})",
                                 param_hint="NEW") from None
    plan = plan_reload(old, text, source=new, folder=Path(config_path).parent)
    if isinstance(plan, ConfigError):
        raise plan
    if as_json:
        _echo_json({"changes": [{"path": c.path, "change": c.kind.value,
                                 "restart": c.restart} for c in plan.changes],
                    "needs_restart": plan.needs_restart})
        return
    for change in plan.changes:
        click.echo(str(change))
    if not plan.changes:
        click.echo("no change")
