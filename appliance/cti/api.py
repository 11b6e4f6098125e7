"""Named operations on a running Box: one registry shared by every way in.

An operation is a function ``(box, **args) -> JSON-ready data`` (or a coroutine function),
registered with ``@operation("name")``. It runs in the box's event loop, between two ticks,
so it may read the engine and the ACD and call the switchboard, but must not block: slow
work (a database query over months of events) goes to a thread with ``asyncio.to_thread``.

A request the box refuses raises `ApiError`: `message` names the argument or the thing
that is wrong, `hint` the fix. `call` checks the operation's name and its arguments before
running it, so a typo in a request is refused with the names that exist.

On the control socket (appliance.cti.control) a request is one JSON line
``{"op": NAME, "args": {...}}`` and the answer one line ``{"ok": true, "result": ...}`` or
``{"ok": false, "error": MESSAGE, "hint": HINT}``.
"""

import inspect

OPERATIONS = {}  # name -> function(box, **args)


class ApiError(Exception):
    """A refused request: `message` says what is wrong, `hint` how to put it right."""

    def __init__(self, message, hint=""):
        super().__init__(message)
        self.message = message
        self.hint = hint


def operation(name):
    """Register the decorated function as operation `name`."""
    def register(function):
        if name in OPERATIONS:
            raise RuntimeError(f"operation {name!r} is registered twice")
        OPERATIONS[name] = function
        return function
    return register


async def call(box, name, args=None):
    """Run operation `name` with `args` (a dict) on `box`; returns its result."""
    function = OPERATIONS.get(name)
    if function is None:
        raise ApiError(f"no operation {name!r}",
                       "use one of " + ", ".join(sorted(OPERATIONS)))
    args = dict(args or {})
    parameters = inspect.signature(function).parameters
    accepted = [p for p in list(parameters)[1:]
                if parameters[p].kind is inspect.Parameter.KEYWORD_ONLY
                or parameters[p].kind is inspect.Parameter.POSITIONAL_OR_KEYWORD]
    unknown = sorted(set(args) - set(accepted))
    if unknown:
        raise ApiError(f"{name}: no argument {', '.join(unknown)}",
                       "it takes " + (", ".join(accepted) or "no arguments"))
    missing = [p for p in accepted if parameters[p].default is inspect.Parameter.empty
               and p not in args]
    if missing:
        raise ApiError(f"{name}: argument {', '.join(missing)} is missing",
                       "it takes " + ", ".join(accepted))
    result = function(box, **args)
    if inspect.isawaitable(result):
        result = await result
    return result
