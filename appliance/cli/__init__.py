"""The ``appliance`` command."""

import click

from appliance.cli.errors import AppGroup


@click.group(cls=AppGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="appliance")
def main():
    """All-in-one call-centre appliance."""


from appliance.cli import dsp as _dsp  # noqa: E402  (registers `appliance dsp`)

main.add_command(_dsp.dsp)

from appliance.cli import boards as _boards  # noqa: E402  (`appliance boards`, `emulate`)

main.add_command(_boards.boards)
main.add_command(_boards.emulate)

from appliance.cli import config as _config  # noqa: E402  (registers `appliance config`)

main.add_command(_config.config)

from appliance.cli import run as _run  # noqa: E402  (registers `appliance run`)

main.add_command(_run.run)

from appliance.cli import plan as _plan  # noqa: E402  (registers `appliance plan`)

main.add_command(_plan.plan)

from appliance.cli import history as _history  # noqa: E402  (stats, cdr, recordings)

main.add_command(_history.stats)
main.add_command(_history.cdr)
main.add_command(_history.recordings)

from appliance.cli import demo as _demo  # noqa: E402  (registers `appliance demo`)

main.add_command(_demo.demo)

from appliance.cli import simulate as _simulate  # noqa: E402  (registers `appliance simulate`)

main.add_command(_simulate.simulate)

from appliance.cli import live as _live  # noqa: E402  (status, top, agents, queues, calls, monitor)

for _command in (_live.status, _live.top, _live.agents, _live.queues, _live.calls, _live.monitor):
    main.add_command(_command)
