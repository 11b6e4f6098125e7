"""`appliance config ...`: check and show the box's configuration file.

- ``appliance config check [--config F] [--json]``: every problem of the file, each with its
  key path; exit 2 when there are errors, 0 when it is usable (warnings are printed).
- ``appliance config show [--config F] [--json]``: the effective configuration (defaults
  filled in, paths resolved), one ``key.path = value`` line each, or JSON.
- ``appliance config diff NEW [--config F] [--json]``: what putting NEW in place of F would
  change (appliance.config.plan_reload): each change, applied to new calls or needing a
  restart; exit 2 (and nothing to change) when NEW has errors.

- ``appliance config apply NEW [--config F] [--socket S] [--json]``: put NEW in place of F
  and have the running box reload it: NEW is validated first (every error, exit 2, nothing
  changed); F's old text is kept as F.prev; F is replaced atomically (a temporary file in
  its folder, then a rename); the box re-reads it over its control socket; if the box
  refuses, the old text goes back in place and the command says so (exit 2). With no box
  running, the file is replaced and the command says it takes effect at the next start.

The file is `/etc/appliance/appliance.toml` unless ``--config`` (or $APPLIANCE_CONFIG) names
another. Errors go through appliance.cli.errors (one line per issue on stderr, exit 2).
"""

import contextlib
import json

import click

from appliance.cli.errors import AppGroup, UserError
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


@config.command()
@click.argument("new", type=click.Path(dir_okay=False))
@_config_option
@click.option("--socket", type=click.Path(dir_okay=False), default=None,
              envvar="APPLIANCE_SOCKET",
              help="The running box's control socket. Default: control.sock in the "
                   "storage.data_dir of the current configuration.")
@_json_option
def apply(new, config_path, socket, as_json):
    """Validate NEW, put it in place of the configuration file and reload the box.

    The current file is kept as FILE.prev. If the running box refuses the reload, the
    current file is put back and nothing changes (exit code 2). Changes to boards, trunks,
    stations, storage and the site need a restart; the rest applies to new calls.
    """
    from appliance.cli.live import resolve_socket
    from appliance.config import parse_config

    live = Path(config_path)
    try:
        text = Path(new).read_bytes()
    except OSError as exc:
        raise click.BadParameter(f"cannot read {new!r} ({exc.strerror})",
                                 param_hint="NEW") from None
    # relative paths in NEW mean what they will mean once it is the live file
    parse_config(text, source=new, folder=live.parent)  # a ConfigError: every issue, exit 2
    try:
        old = live.read_bytes()
    except FileNotFoundError:
        old = None
    except OSError as exc:
        raise click.BadParameter(f"cannot read {live} ({exc.strerror})",
                                 param_hint="'--config'") from None
    try:
        where = resolve_socket(config_path if old is not None else new, socket)
    except ConfigError:  # the current file is broken: the box runs (if at all) from it
        where = resolve_socket(new, socket)
    if old is not None:
        _replace(live.with_name(live.name + ".prev"), old, like=live)
    _replace(live, text, like=live if old is not None else None)
    outcome = _reload(where)
    if outcome is not None and not outcome["applied"]:
        if old is not None:
            _replace(live, old, like=live)
            back = f"the previous file is back in place ({live.name}.prev holds it too)"
        else:
            live.unlink()
            back = f"{live} is removed again"
        issues = "".join(f"\n  {e['path']}: {e['message']}" if e["path"] else
                         f"\n  {e['message']}" for e in outcome["errors"])
        raise UserError(f"{live}: the box at {where} refused the reload, so {back}; "
                        f"nothing changed{issues}")
    if as_json:
        _echo_json({"file": str(live), "previous": str(live) + ".prev" if old is not None
                    else None, "socket": str(where), "reloaded": outcome is not None,
                    "changes": outcome["changes"] if outcome else None})
        return
    click.echo(f"{live}: replaced" + (f" (the previous file is {live.name}.prev)"
                                       if old is not None else ""))
    if outcome is None:
        click.echo(f"note: no box is running at {where}; the file takes effect when it "
                   "starts (systemctl start appliance, or appliance run)")
        return
    for change in outcome["changes"]:
        click.echo(f"{change['path']}: {change['change']}; "
                   + ("needs a restart" if change["restart"] else "applies to new calls"))
    click.echo("reloaded" + ("" if outcome["changes"] else ": no change"))


def _replace(path, data, like=None):
    """Write `data` to `path` atomically: a temporary file in its folder, flushed to disk,
    with the mode of `like`, renamed over `path`."""
    import os
    import tempfile

    folder = path.parent
    try:
        fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=folder)
    except OSError as exc:
        raise UserError(f"cannot write in {folder} ({exc.strerror}); run as a user who may "
                        "(sudo)") from None
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        if like is not None and like.exists():
            info = like.stat()
            os.chmod(temp, info.st_mode & 0o7777)
            try:
                os.chown(temp, info.st_uid, info.st_gid)
            except PermissionError:
                pass  # not root: the file stays ours, with the mode of the old one
        else:
            os.chmod(temp, 0o644)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise
    directory = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def _reload(where):
    """The box's reload answer ({applied, changes | errors}), or None when no box runs."""
    from appliance.cti.client import ClientError, NoDaemon, request

    try:
        return request(where, "reload")
    except NoDaemon:
        return None
    except ClientError as exc:
        raise UserError(f"the file is in place, but the box did not reload it: {exc}") \
            from None
