"""The box's API for people: the operations the CLI (over the control socket) and, later,
the agent desktop and wallboard (HTTP and WebSocket) call on a running box."""
