"""The one place where the CLI turns a user's mistake into one line on stderr and exit 2.

Every command group of `appliance` is an `AppGroup`, so every subcommand runs inside its
`invoke`. There, an error from USER_ERRORS (a bad file, a bad config) and click's own usage
errors (a bad option value, a missing argument) become `UserError`: click prints
``Error: <message>`` on stderr and exits 2. Anything else is a bug and keeps its traceback.
Later layers add their error classes (ConfigError, ...) to USER_ERRORS.
"""

import click

from appliance.config.issues import ConfigError
from appliance.drivers.transport.errors import TransportError
from appliance.dsp.audiofile import AudioFileError
from appliance.dsp.toneplan import ToneplanError

# The error classes whose message already names the place and the fix, for the user.
USER_ERRORS = (AudioFileError, ToneplanError, TransportError, ConfigError)

# click >= 8.2 signals "group called with no arguments: show the help" with a usage error;
# that one keeps click's own handling (the help text).
_KEEP_CLICK_HANDLING = tuple(
    cls for cls in (getattr(click.exceptions, "NoArgsIsHelpError", None),) if cls is not None
)


class UserError(click.ClickException):
    """A mistake in the user's input: shown as one line, exit code 2."""

    exit_code = 2


class AppGroup(click.Group):
    """A click group whose subcommands report user errors as one line and exit 2."""

    # Groups made with `@group.group()` are AppGroups too.
    group_class = type

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except UserError:
            raise
        except ConfigError as exc:
            raise UserError(config_error_text(exc)) from None
        except USER_ERRORS as exc:
            raise UserError(str(exc)) from None
        except click.UsageError as exc:
            if isinstance(exc, _KEEP_CLICK_HANDLING):
                raise
            raise UserError(_one_line(exc)) from None


def config_error_text(exc):
    """A ConfigError for the terminal: a head line naming the file and the count, then one
    line per issue (errors first), each ``<key path>: <what is wrong and the fix>``."""
    errors = [i for i in exc.issues if i.severity == "error"]
    warnings = [i for i in exc.issues if i.severity != "error"]
    head = f"{exc.source}: " if exc.source else ""
    lines = [f"{head}{len(errors)} error(s)" + (f", {len(warnings)} warning(s)" if warnings
                                                else "")]
    lines += [f"  {issue if issue.path else issue.message}" for issue in errors]
    lines += [f"  warning: {issue if issue.path else issue.message}" for issue in warnings]
    return "\n".join(lines)


def _one_line(exc):
    message = " ".join(exc.format_message().split())
    if exc.ctx is not None:
        message += f" (see '{exc.ctx.command_path} --help')"
    return message
