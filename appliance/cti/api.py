"""Named operations on a running Box: one registry shared by every way in.

An operation is a function ``(box, **args) -> JSON-ready data`` (or a coroutine function),
registered with ``@operation("name")``. It runs in the box's event loop, between two ticks,
so it may read the engine and the ACD and call the switchboard, but must not block: slow
work (a database query over months of events) goes to a thread with ``asyncio.to_thread``.

Who asks is the `actor` (an `appliance.acd.permissions.Actor`) `call` is given: an operation
that takes a keyword argument named ``actor`` gets it there (never from the request's
arguments), and decides with `appliance.acd.permissions.may`; `call` without an actor is the
box's operator, an admin.

A request the box refuses raises `ApiError`: `message` names the argument or the thing
that is wrong, `hint` the fix. `call` checks the operation's name and its arguments before
running it, so a typo in a request is refused with the names that exist.

On the control socket (appliance.cti.control) a request is one JSON line
``{"op": NAME, "args": {...}}`` (optionally ``"as": {"id": ID, "pin": PIN}`` to act as that
agent or supervisor) and the answer one line ``{"ok": true, "result": ...}`` or
``{"ok": false, "error": MESSAGE, "hint": HINT}``. An operation whose result is an async
iterator streams: one line ``{"ok": true, "item": ...}`` per item, then the end line
``{"ok": true, "result": null}`` (or an error line).
"""

import inspect

OPERATIONS = {}  # name -> function(box, **args)
ACTOR = "actor"  # the keyword an operation takes who asks by


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


def operator_actor(name="operator"):
    """The box's operator (anyone the control socket's file permissions let in): an admin."""
    from appliance.acd.permissions import Actor, Role

    return Actor(name, Role.ADMIN)


async def call(box, name, args=None, actor=None):
    """Run operation `name` with `args` (a dict) on `box` for `actor` (default: the
    operator, an admin); returns its result."""
    function = OPERATIONS.get(name)
    if function is None:
        raise ApiError(f"no operation {name!r}",
                       "use one of " + ", ".join(sorted(OPERATIONS)))
    args = dict(args or {})
    parameters = inspect.signature(function).parameters
    accepted = [p for p in list(parameters)[1:]
                if p != ACTOR and (parameters[p].kind is inspect.Parameter.KEYWORD_ONLY
                                   or parameters[p].kind is
                                   inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    unknown = sorted(set(args) - set(accepted))
    if unknown:
        raise ApiError(f"{name}: no argument {', '.join(unknown)}",
                       "it takes " + (", ".join(accepted) or "no arguments"))
    missing = [p for p in accepted if parameters[p].default is inspect.Parameter.empty
               and p not in args]
    if missing:
        raise ApiError(f"{name}: argument {', '.join(missing)} is missing",
                       "it takes " + ", ".join(accepted))
    if ACTOR in parameters:
        args[ACTOR] = actor if actor is not None else operator_actor()
    result = function(box, **args)
    if inspect.isawaitable(result):
        result = await result
    return result
