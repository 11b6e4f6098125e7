"""The box's API for people: the operations the CLI (over the control socket) and, later,
the agent desktop and wallboard (HTTP and WebSocket) call on a running box."""

# Modules whose operations register themselves in api.OPERATIONS when imported: importing
# the package is enough for a server (the control socket) to answer them.
from appliance.cti import history  # noqa: E402,F401
