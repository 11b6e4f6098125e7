"""The whole box from a config: store, recordings, prompts, boards (emulated ones included),
the engine, live reload. What `appliance run` starts and what the end-to-end tests drive.

Start-up order: the store (calls a crash left open are closed with a reason; where the agents
were, from their last `agent_state` rows, so the engine logs them in again as they were), cut
recordings repaired, prompts loaded (every prompt the flows name, converted once), emulated
boards started, boards opened, then the engine. Shut-down: the engine stops taking events,
live calls are ended by closing the boards (their CDRs are closed on the next start if the
process dies first), the recording and store threads are flushed.
"""

import asyncio
import dataclasses
import logging
import time
from pathlib import Path

from appliance.config import ConfigError
from appliance.config.reload import plan_reload
from appliance.drivers.board import Board
from appliance.drivers.emulated_board import EmulatorRunner, emulated_board, serve_inprocess
from appliance.drivers.profiles import load_profile
from appliance.dsp.toneplan import load_plan
from appliance.recording import RecordingWriter, recover
from appliance.store import Store, StoreWriter

from .engine import Engine
from .prompts import PromptLibrary, default_prompt_dir
from .queueing import CALLBACK_PROMPTS

log = logging.getLogger("appliance.box")

INPROCESS = "inprocess://"
# Config fields a reload leaves alone until a restart (appliance.config.reload.RESTART).
RESTART_FIELDS = ("site", "country", "tone_plan", "boards", "trunks", "stations", "storage")


RECENT_MS = 2 * 86_400_000  # where an agent's last agent_state row is looked for first


def last_agent_states(store, agents, now_ms):
    """{agent id: the data of their last `agent_state` row} in the event log (status,
    state, reason, station) for each of `agents` that has one: where the agents were when
    the box stopped or crashed. The rows of the last RECENT_MS before `now_ms` first (every
    start logs the logged-in agents again, so nearly all are there); an agent missing there
    is looked up through the log's index by agent, not by reading the whole log."""
    last = {}
    for event in store.events(since=max(0, now_ms - RECENT_MS), kind="agent_state"):
        if event.agent in agents:
            last[event.agent] = event.data or {}
    for agent in agents:
        if agent not in last:
            rows = store.events(kind="agent_state", agent=agent)
            if rows:
                last[agent] = rows[-1].data or {}
    return last


def scenario_problem(config, scenario):
    """Why an emulator scenario cannot drive the config's first emulated board (there is
    none, or its ports differ), or None."""
    board = next((b for b in config.boards.values() if b.emulated), None)
    if board is None:
        return (f"the configuration {config.source} has no emulated board to play it on; "
                "add `emulated = true` to a board (with url = \"inprocess://NAME\") or "
                "drop the scenario")
    kinds = [p.kind.name.lower() for p in scenario.model.ports]
    if kinds == [k.value for k in board.port_kinds]:
        return None
    runs = []  # "fxo", "fxo", "fxs" -> "2fxo+1fxs"
    for kind in kinds:
        if runs and runs[-1][1] == kind:
            runs[-1][0] += 1
        else:
            runs.append([1, kind])
    return (f"its [board] has ports {'+'.join(f'{n}{k}' for n, k in runs) or 'none'}, but "
            f"boards.{board.name} in {config.source} has ports = {board.ports!r}; give the "
            f"scenario ports = {board.ports!r}")


def board_profile(config):
    """The country profile the boards run with: the config's country, with the config's
    tone plan (`site.tone_plan`, which defaults to the profile's own) for the tones the
    driver detects, such as the busy tone that ends a call."""
    profile = load_profile(config.country)
    if config.tone_plan == profile.tone_plan.name:
        return profile
    return dataclasses.replace(profile, tone_plan=load_plan(config.tone_plan))


class Box:
    """`config`: a validated Config; `scenario`: an emulator Scenario for the emulated board
    (the first board with ``emulated = true``; default: its ports with nobody calling), or
    `scenarios`: {board name: Scenario} for several;
    `virtual`: emulated boards tick as fast as the engine consumes (tests, simulations);
    `until_s`: stop after this much board time; `origin_ms`: the wall-clock time of the
    first tick (default: now); `services`: callables(box) -> an object with `claim()` (asked
    first thing, before the store opens: it raises to refuse the start, e.g. another box
    runs), async `start()` (once the engine exists) and `close()` (first at the stop): the
    control socket, appliance.cti.control, which sits above the engine."""

    def __init__(self, config, *, scenario=None, scenarios=None, virtual=False, until_s=None,
                 origin_ms=None, config_path=None, services=()):
        self.config = config
        self.config_path = config_path
        self.scenario = scenario
        self.scenarios = dict(scenarios or {})
        self.virtual = virtual
        self.until_s = until_s
        self.origin_ms = origin_ms
        self.sessions = {}   # emulated board name -> BoardSession (its .board has the report)
        self.runners = []
        self.boards = {}
        self.engine = None
        self.store = None
        self.recorder = None
        self.closed_on_start = []
        self.agents_on_start = {}  # agent id -> their last agent_state data before this start
        self.closed_on_stop = []
        self.service_makers = list(services)
        self.services = []

    @property
    def database(self):
        return Path(self.config.storage.data_dir) / "appliance.db"

    async def run(self):
        try:
            await self.start()
            await self.engine.run()
        finally:
            await self.close()

    async def start(self):
        self.services = [make(self) for make in self.service_makers]
        for service in self.services:
            service.claim()
        storage = self.config.storage
        for folder in (storage.data_dir, storage.recordings_dir):
            Path(folder).mkdir(parents=True, exist_ok=True)
        with Store.open(self.database) as store:
            self.closed_on_start = store.close_open_calls("the box stopped during the call")
            now_ms = self.origin_ms if self.origin_ms is not None else int(time.time() * 1000)
            self.agents_on_start = last_agent_states(store, list(self.config.agents), now_ms)
        recover(storage.recordings_dir)
        self.store = StoreWriter(self.database)
        self.recorder = RecordingWriter(on_error=self._recording_failed)
        prompts = PromptLibrary(self._prompt_dirs(), tone_plan=self.config.tone_plan)
        for problem in prompts.preload(self._prompt_names()):
            log.warning("%s", problem)
        # the hold music is synthesised now, before any board is open: made in the tick
        # of the first caller to queue, it took 0.14 s and made every AUDIO_TX late
        prompts.music()
        for name, board in self.config.boards.items():
            if board.emulated:
                await self._emulate(name, board)
        profile = board_profile(self.config)
        for name, board in self.config.boards.items():
            self.boards[name] = await Board.open(board.url, name=name, profile=profile)
        until = None if self.until_s is None else int(round(self.until_s * 50))
        self.engine = Engine(self.config, self.boards, store=self.store,
                             recorder=self.recorder, prompts=prompts,
                             origin_ms=self.origin_ms, lookup=self._lookup, until_tick=until,
                             agents=self.agents_on_start)
        for service in self.services:
            await service.start()

    def _prompt_dirs(self):
        # where `appliance config check` looked: prompts_dir (or the config's folder), then
        # the shipped set
        return list(self.config.ivr.prompt_dirs) or [str(default_prompt_dir())]

    def _prompt_names(self):
        names = {"builtin:beep", "leave-message.wav"}
        if any(q.callback_digit for q in self.config.queues.values()):
            names.update(CALLBACK_PROMPTS)
        for node in self.config.ivr.nodes.values():
            for _, prompt in node.prompt_refs():
                names.add(prompt)
        return sorted(names)

    async def _emulate(self, name, board):
        # the config check made sure an emulated board's URL is inprocess://NAME
        scenario = self.scenarios.get(name)
        if scenario is None and not self.sessions:
            scenario = self.scenario
        session = emulated_board(board.ports, scenario=scenario, virtual=self.virtual)
        runner = EmulatorRunner(session).start()
        self.runners.append(runner)
        self.sessions[name] = session
        await serve_inprocess(runner, board.url[len(INPROCESS):])

    def _lookup(self, number):
        with Store.open(self.database) as store:
            customer = store.customer_by_number(number)
        if customer is None:
            return None
        return {"number": customer.number, "name": customer.name,
                "account": customer.account, "vip": "1" if customer.vip else "0",
                "notes": customer.notes}

    def _recording_failed(self, call_id, exc):
        log.error("recording of call %s failed: %s", call_id, exc, extra={"call_id": call_id})

    def reload(self):
        """Re-read the config file: IVR, queue, agent, schedule, recording and dial changes
        apply to new calls; nothing changes when the new file is invalid. Returns the
        ReloadPlan, or the ConfigError."""
        text = Path(self.config_path).read_bytes()
        plan = plan_reload(self.config, text, source=str(self.config_path),
                           folder=Path(self.config_path).parent)
        if isinstance(plan, ConfigError):
            log.error("reload refused, nothing changed:\n%s", plan)
            return plan
        for change in plan.restart:
            log.warning("reload: %s", change)
        # what needs a restart (boards, trunks, stations, storage, country) stays as it
        # runs; the rest applies to new calls
        config = dataclasses.replace(
            plan.config, **{f: getattr(self.config, f) for f in RESTART_FIELDS})
        self.config = config
        self.engine.reload(config)
        return plan

    async def close(self):
        while self.services:  # first: no request reaches a box being taken down
            await self.services.pop().close()
        if self.engine is not None:
            self.engine.stop()
        for board in self.boards.values():
            await board.close()
        for runner in self.runners:
            await runner.stop()
        for session in self.sessions.values():
            session.board.finish()
        if self.recorder is not None:
            await asyncio.to_thread(self.recorder.close)
        if self.store is not None:
            await asyncio.to_thread(self.store.close)
            # calls still up at a clean stop get their CDR closed now, not at the next start
            with Store.open(self.database) as store:
                self.closed_on_stop = store.close_open_calls("the box stopped during the call")

    def report(self, board=None):
        """The emulator's report of an emulated board (what every simulated person did
        and heard), after `run`."""
        name = board or next(iter(self.sessions))
        return self.sessions[name].board.report()

