"""`appliance config ...`: check and show the box's configuration file.

- ``appliance config check [--config F] [--json]``: every problem of the file, each with its
  key path; exit 2 when there are errors, 0 when it is usable (warnings are printed).
- ``appliance config show [--config F] [--json]``: the effective configuration (defaults
  filled in, paths resolved), one ``key.path = value`` line each, or JSON.

The file is `/etc/appliance/appliance.toml` unless ``--config`` (or $APPLIANCE_CONFIG) names
another. Errors go through appliance.cli.errors (one line per issue on stderr, exit 2).
"""

import json

import click

from appliance.cli.errors import AppGroup
from appliance.config import DEFAULT_PATH, ConfigError, load_config


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
