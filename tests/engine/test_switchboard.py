"""The switchboard fed board events by hand: every hang-up kind, the ringing cases, queues,
hold and transfers, glare, reload. Commands are checked as the board would receive them."""

import pytest

from appliance.config import parse_config
from appliance.drivers.board import events as ev
from appliance.dsp.toneplan import Tone
from appliance.engine import commands as cmd
from appliance.engine.call import CallState
from appliance.engine.clock import ScheduleClock, TickCalendar, ticks
from appliance.engine.endpoints import LineState, StationState
from appliance.engine.queueing import CALLBACK_ANSWER_S, CALLBACK_VOICE_S, VIP_PRIORITY
from appliance.engine.switchboard import (
    FAULTY_LINE_S, GLARE_GUARD_S, RING_GONE_S, SILENCE_CLEAR_S, STUCK_RING_S, Switchboard,
)

OFFER_S = 20.0  # the ACD's ring time per offer (QueueSpec.ring_s)

B = "main"
LINE, LINE2, DESK1, DESK2 = (B, 0), (B, 1), (B, 2), (B, 3)

CONFIG = """
skills = ["sales"]
[site]
name = "unit"
country = "cn"
[boards.main]
url = "inprocess://unit"
ports = "2fxo+2fxs"
emulated = true
[trunks.pstn]
board = "main"
ports = [0, 1]
flow = "menu"
[stations.desk1]
extension = "101"
board = "main"
port = 2
[stations.desk2]
extension = "102"
board = "main"
port = 3
[queues.sales]
skills = ["sales"]
max_wait_s = {max_wait}
overflow = "{overflow}"
wrap_up_s = {wrap_up}
exit_digit = "0"
{queue_extra}
[agents.1001]
name = "A"
skills = {{ sales = 5 }}
pin = "1111"
station = "desk1"
[agents.1002]
name = "B"
skills = {{ sales = 5 }}
pin = "2222"
station = "desk2"
[recording]
mode = "{recording}"
[storage]
data_dir = "/tmp/unused"
[dial]
trunk = "pstn"
allow = ["0", "1", "5"]
min_digits = 3
[ivr.menu]
type = "menu"
prompts = "builtin:beep"
options = {{ 1 = "sales", 2 = "out", 3 = "desk", 4 = "who", 5 = "sales_first", 9 = "bye" }}
timeout = 5
fallback = "bye"
[ivr.sales]
type = "queue"
queue = "sales"
[ivr.who]
type = "lookup"
found = "sales"
[ivr.sales_first]
type = "queue"
queue = "sales"
priority = 3
[ivr.out]
type = "transfer"
number = "5550100"
[ivr.desk]
type = "transfer"
station = "desk2"
[ivr.bye]
type = "hangup"
reason = "{bye}"
"""


def config(max_wait=60, overflow="hangup", recording="off", bye="menu said bye", wrap_up=0,
           queue_extra=""):
    return parse_config(CONFIG.format(max_wait=max_wait, overflow=overflow, wrap_up=wrap_up,
                                      recording=recording, bye=bye, queue_extra=queue_extra),
                        source="unit.toml")


class Rig:
    def __init__(self, **options):
        self.config = config(**options)
        self.voice = {}
        calendar = TickCalendar(0)
        self.sb = Switchboard(self.config, schedules={
            n: ScheduleClock(s, calendar) for n, s in self.config.schedules.items()},
            last_voice=self.voice.get)
        self.now = 0
        self.out = self.sb.start(0)  # the agents log in at their stations

    def send(self, cls, port, **fields):
        event = cls(B, port[1], **fields, tick=self.now) if cls is not ev.CallEnded \
            else cls(B, port[1], **fields)
        got = self.sb.handle(event, self.now)
        self.out += got
        return got

    def run(self, seconds):
        got = []
        for _ in range(ticks(seconds)):
            self.now += 1
            got += self.sb.tick(self.now)
        self.out += got
        return got

    def finish_playout(self, port):
        """The last tagged Play to `port` ends by itself."""
        play = [c for c in self.out if isinstance(c, cmd.Play) and c.port == port and c.tag]
        got = self.sb.playout_finished(port, play[-1].tag, self.now)
        self.out += got
        return got

    def inbound(self, number="5551234"):
        """A call rings, caller ID comes between the rings, the box answers."""
        self.send(ev.RingStarted, LINE)
        self.run(1.0)
        self.send(ev.RingStopped, LINE)
        self.run(0.5)
        got = self.send(ev.CallerIdReceived, LINE, number=number, name=None, format="bell202")
        assert cmd.Seize(LINE) in got
        return self.sb.lines[LINE].call

    def queued(self):
        call = self.inbound()
        self.finish_playout(LINE)
        self.send(ev.DigitDetected, LINE, digit="1")
        assert call.state in (CallState.QUEUED, CallState.ALERTING)
        return call

    def connected(self, station=DESK1):
        call = self.queued()
        assert cmd.Ring(station) in self.out
        self.send(ev.HookChanged, station, off_hook=True)
        assert call.state is CallState.CONNECTED
        assert cmd.Connect(LINE, station) in self.out
        return call


def closes(commands):
    return [c for c in commands if isinstance(c, cmd.CdrClose)]


# ---- ringing and answering -----------------------------------------------------------------

def test_answers_as_soon_as_caller_id_has_come_between_the_rings():
    rig = Rig()
    call = rig.inbound("13800138000")
    assert call.caller == "13800138000"
    assert cmd.DetectTones(LINE, True) in rig.out  # busy tone can end the call from now on
    update = next(c for c in rig.out if isinstance(c, cmd.CdrUpdate) and "answer_tick" in c.fields)
    assert update.fields["caller_number"] == "13800138000"
    assert call.state is CallState.IVR
    assert any(isinstance(c, cmd.Play) and c.port == LINE for c in rig.out)


def test_without_caller_id_answers_at_the_second_ring():
    rig = Rig()
    rig.send(ev.RingStarted, LINE)
    rig.run(1.0)
    assert cmd.Seize(LINE) not in rig.send(ev.RingStopped, LINE)
    rig.run(4.0)
    assert cmd.Seize(LINE) in rig.send(ev.RingStarted, LINE)


def test_caller_id_sent_before_the_first_ring_is_kept_for_the_call():
    rig = Rig()
    rig.send(ev.CallerIdReceived, LINE, number="0201234567", name="ETSI", format="v23")
    rig.run(0.8)
    rig.send(ev.RingStarted, LINE)
    rig.run(0.8)
    assert cmd.Seize(LINE) in rig.send(ev.RingStopped, LINE)
    assert rig.sb.lines[LINE].call.caller == "0201234567"


def test_a_caller_who_gives_up_while_ringing_gets_an_abandoned_cdr():
    rig = Rig()
    rig.send(ev.RingStarted, LINE)
    rig.run(1.0)
    rig.send(ev.RingStopped, LINE)
    got = rig.run(RING_GONE_S + 0.1)
    assert closes(got)[0].disposition == "abandoned"
    assert cmd.Seize(LINE) not in rig.out
    assert rig.sb.lines[LINE].state is LineState.IDLE


def test_a_ring_that_never_stops_is_answered_and_a_line_that_rings_on_is_left_alone():
    rig = Rig()
    rig.send(ev.RingStarted, LINE)
    got = rig.run(STUCK_RING_S + 0.1)
    assert cmd.Seize(LINE) in got  # answering trips the ring
    got = rig.send(ev.RingStarted, LINE)  # ...but it rings on: the line is faulty
    assert cmd.Release(LINE) in got
    assert closes(got)[0].disposition == "failed"
    assert rig.sb.lines[LINE].state is LineState.FAULTY
    assert rig.send(ev.RingStarted, LINE) == []  # ignored while faulty
    rig.run(FAULTY_LINE_S + 0.1)
    assert rig.sb.lines[LINE].state is LineState.IDLE


# ---- hang-up kinds -------------------------------------------------------------------------

@pytest.mark.parametrize("signal, fields, cause", [
    (ev.LoopCurrentDropped, {}, "loop current drop"),
    (ev.PolarityReversed, {"polarity": 1}, "polarity reversal"),
    (ev.ToneDetected, {"tone": Tone.BUSY}, "busy tone"),
    (ev.ToneDetected, {"tone": Tone.CONGESTION}, "congestion tone"),
])
def test_far_end_clear_ends_a_connected_call(signal, fields, cause):
    rig = Rig()
    call = rig.connected()
    rig.run(3.0)
    got = rig.send(signal, LINE, **fields)
    assert cmd.Release(LINE) in got and cmd.Disconnect(LINE) in got
    close = closes(got)[0]
    assert (close.disposition, close.cause) == ("answered", f"far end: {cause}")
    # the agent hears busy tone until it hangs up, then is free again
    assert cmd.Play(DESK1, ("tone:busy",), loop=True) in got
    assert rig.sb.stations[DESK1].state is StationState.CLEARED
    rig.send(ev.HookChanged, DESK1, off_hook=False)
    assert rig.sb.stations[DESK1].free
    assert call.ended and rig.sb.lines[LINE].state is LineState.IDLE


def test_dial_tone_on_the_line_is_not_a_clear():
    rig = Rig()
    call = rig.connected()
    assert closes(rig.send(ev.ToneDetected, LINE, tone=Tone.DIAL)) == []
    assert not call.ended


def test_silence_on_the_line_ends_the_call_as_the_last_resort():
    rig = Rig()
    call = rig.connected()
    rig.voice[LINE] = rig.now  # the caller spoke at the connect, then nothing
    got = rig.run(SILENCE_CLEAR_S - 6)
    assert not closes(got)
    got = rig.run(12)
    assert closes(got)[0].cause == "far end: silence"
    assert call.ended


def test_silence_clock_restarts_with_every_word():
    rig = Rig()
    call = rig.connected()
    for _ in range(4):
        rig.run(SILENCE_CLEAR_S / 2)
        rig.voice[LINE] = rig.now
    assert not call.ended


def test_the_agent_hanging_up_releases_the_line():
    rig = Rig()
    call = rig.connected()
    got = rig.send(ev.HookChanged, DESK1, off_hook=False)
    assert cmd.Release(LINE) in got
    assert closes(got)[0].cause == "agent hung up"
    assert rig.sb.stations[DESK1].free and call.ended


def test_a_caller_who_hangs_up_in_the_queue_is_abandoned_and_the_station_stops_ringing():
    rig = Rig()
    call = rig.queued()
    got = rig.send(ev.ToneDetected, LINE, tone=Tone.BUSY)
    assert cmd.StopRing(DESK1) in got
    assert closes(got)[0].disposition == "abandoned"
    assert rig.sb.stations[DESK1].free and call.ended


def test_a_board_lost_ends_its_calls_without_commands_to_it():
    rig = Rig()
    call = rig.connected()
    got = rig.send(ev.CallEnded, LINE, reason="board lost")
    assert closes(got)[0].disposition == "interrupted"
    assert not [c for c in got if isinstance(c, (cmd.Release, cmd.Disconnect, cmd.Seize))]
    assert call.ended


# ---- queues ----------------------------------------------------------------------------------

def test_queue_offers_the_longest_idle_station_then_the_next_when_it_rings_out():
    rig = Rig()
    rig.run(1.0)
    rig.sb.acd.set_not_ready("1001", "coffee", rig.now * 20)
    rig.sb.acd.set_ready("1001", rig.now * 20)  # Wang (1002) has been idle longer now
    call = rig.queued()
    assert cmd.Ring(DESK2) in rig.out and cmd.Ring(DESK1) not in rig.out
    got = rig.run(OFFER_S + 0.1)
    assert cmd.StopRing(DESK2) in got and cmd.Ring(DESK1) in got
    assert call.b is rig.sb.stations[DESK1]
    rig.send(ev.HookChanged, DESK1, off_hook=True)
    assert call.agent == "1001"


def test_a_call_waits_with_music_while_every_station_is_busy():
    rig = Rig()
    first = rig.connected(DESK1)
    rig.send(ev.RingStarted, LINE2)
    rig.run(0.5)
    rig.send(ev.RingStopped, LINE2)
    rig.send(ev.CallerIdReceived, LINE2, number="777", name=None, format="bell202")
    second = rig.sb.lines[LINE2].call
    rig.finish_playout(LINE2)
    rig.send(ev.DigitDetected, LINE2, digit="1")
    assert second.state is CallState.ALERTING and second.b.key == DESK2
    rig.send(ev.HookChanged, DESK2, off_hook=False)  # nothing: it was not off-hook
    rig.run(OFFER_S + 0.1)  # desk2 lets it ring out; desk1 is busy: the caller waits
    assert second.state is CallState.QUEUED
    assert cmd.Play(LINE2, ("music",), loop=True) in rig.out
    rig.send(ev.HookChanged, DESK1, off_hook=False)  # desk1's call ends: it is offered
    assert first.ended and second.state is CallState.ALERTING and second.b.key == DESK1


def test_max_wait_overflows_to_voicemail_which_records_after_the_beep():
    rig = Rig(max_wait=10, overflow="voicemail")
    for agent in ("1001", "1002"):  # logged in, but nobody ready
        rig.sb.acd.set_not_ready(agent, "lunch", 0)
    call = rig.queued()
    got = rig.run(10.1)
    assert any(isinstance(c, cmd.LogEvent) and c.kind == "overflow" for c in got)
    assert cmd.Play(LINE, ("leave-message.wav",), tag=("ivr", call.id, 1)) in got
    rig.finish_playout(LINE)  # the greeting, then the beep
    got = rig.finish_playout(LINE)
    start = next(c for c in got if isinstance(c, cmd.StartRecording))
    assert start.mailbox == "sales" and start.a == LINE
    rig.run(3.0)
    got = rig.send(ev.DigitDetected, LINE, digit="#")
    stop = next(c for c in got if isinstance(c, cmd.StopRecording))
    assert stop.mailbox == "sales" and stop.caller == "5551234"
    assert abs(stop.length_ticks - ticks(3.0)) <= 1
    assert closes(got)[0].disposition == "voicemail"


def test_recording_policy_all_records_from_the_answer():
    rig = Rig(recording="all")
    call = rig.inbound()
    assert cmd.StartRecording(call.id, call.id, LINE) in rig.out
    rig.send(ev.LoopCurrentDropped, LINE)
    assert cmd.StopRecording(call.id) in rig.out


# ---- hold and transfers ------------------------------------------------------------------------

def test_flash_holds_the_caller_with_music_and_flash_again_brings_them_back():
    rig = Rig()
    call = rig.connected()
    got = rig.send(ev.FlashDetected, DESK1, duration_ms=300)
    assert cmd.Disconnect(LINE) in got and cmd.Play(LINE, ("music",), loop=True) in got
    assert cmd.Play(DESK1, ("tone:dial",), loop=True) in got
    assert call.state is CallState.HELD
    got = rig.send(ev.FlashDetected, DESK1, duration_ms=300)
    assert cmd.Connect(LINE, DESK1) in got and cmd.StopPlay(LINE) in got
    assert call.state is CallState.CONNECTED


def test_blind_transfer_hangs_up_while_the_extension_rings():
    rig = Rig()
    call = rig.connected(DESK1)
    rig.send(ev.FlashDetected, DESK1, duration_ms=300)
    for digit in "102":
        rig.send(ev.DigitDetected, DESK1, digit=digit)
    assert cmd.Ring(DESK2) in rig.out
    rig.send(ev.HookChanged, DESK1, off_hook=False)  # blind: gone before the answer
    assert not call.ended and rig.sb.stations[DESK1].free
    got = rig.send(ev.HookChanged, DESK2, off_hook=True)
    assert cmd.Connect(LINE, DESK2) in got and call.b.key == DESK2
    assert call.agent == "1002" and call.transferred_from == "desk1"


def test_attended_transfer_talks_to_the_extension_first():
    rig = Rig()
    call = rig.connected(DESK1)
    rig.send(ev.FlashDetected, DESK1, duration_ms=300)
    for digit in "102":
        rig.send(ev.DigitDetected, DESK1, digit=digit)
    got = rig.send(ev.HookChanged, DESK2, off_hook=True)
    assert cmd.Connect(DESK1, DESK2) in got  # the consultation
    assert call.state is CallState.HELD
    got = rig.send(ev.HookChanged, DESK1, off_hook=False)
    assert cmd.Connect(LINE, DESK2) in got
    assert any(isinstance(c, cmd.LogEvent) and c.kind == "transferred" and c.data["attended"]
               for c in got)
    assert call.state is CallState.CONNECTED and call.b.key == DESK2


def test_flash_during_a_consultation_drops_it_and_returns_to_the_caller():
    rig = Rig()
    call = rig.connected(DESK1)
    rig.send(ev.FlashDetected, DESK1, duration_ms=300)
    for digit in "102":
        rig.send(ev.DigitDetected, DESK1, digit=digit)
    got = rig.send(ev.FlashDetected, DESK1, duration_ms=300)
    assert cmd.StopRing(DESK2) in got and cmd.Connect(LINE, DESK1) in got
    assert rig.sb.stations[DESK2].free and call.state is CallState.CONNECTED


# ---- dialling out and glare ----------------------------------------------------------------------

def test_a_station_dials_out_on_a_free_line():
    rig = Rig()
    rig.send(ev.HookChanged, DESK1, off_hook=True)
    assert cmd.Play(DESK1, ("tone:dial",), loop=True) in rig.out
    for digit in "5550100":
        rig.send(ev.DigitDetected, DESK1, digit=digit)
    got = rig.run(4.1)  # the number is complete after the pause
    assert cmd.Seize(LINE) in got
    got = rig.send(ev.ToneDetected, LINE, tone=Tone.DIAL)
    dial = next(c for c in got if isinstance(c, cmd.Play))
    assert dial.port == LINE and dial.prompts == ("dtmf:5550100",)
    got = rig.finish_playout(LINE)
    assert cmd.Connect(DESK1, LINE) in got


def test_a_number_the_dial_policy_refuses_gets_busy_tone():
    rig = Rig()
    rig.send(ev.HookChanged, DESK1, off_hook=True)
    for digit in "9001":
        rig.send(ev.DigitDetected, DESK1, digit=digit)
    got = rig.run(4.1)
    assert cmd.Play(DESK1, ("tone:busy",), loop=True) in got
    assert cmd.Seize(LINE) not in got


def test_glare_the_inbound_call_takes_the_line_and_the_dial_moves_to_another():
    rig = Rig()
    rig.send(ev.HookChanged, DESK1, off_hook=True)
    for digit in "5550100#":
        rig.send(ev.DigitDetected, DESK1, digit=digit)
    assert cmd.Seize(LINE) in rig.out
    got = rig.send(ev.RingStarted, LINE)  # the exchange rang it as we took it
    assert cmd.Seize(LINE2) in got
    inbound = rig.sb.lines[LINE].call
    assert inbound.direction == "inbound" and inbound.state is CallState.IVR
    assert rig.sb.lines[LINE2].call.a is rig.sb.stations[DESK1]


def test_a_line_that_rang_just_now_is_not_taken_to_dial_out():
    rig = Rig()
    rig.send(ev.RingStarted, LINE2)  # an unanswered ring: outbound-guarded for a while
    rig.send(ev.HookChanged, DESK1, off_hook=True)
    for digit in "5550100#":
        rig.send(ev.DigitDetected, DESK1, digit=digit)
    assert cmd.Seize(LINE) in rig.out and cmd.Seize(LINE2) not in rig.out


# ---- internal calls and reload ---------------------------------------------------------------------

def test_extension_to_extension_call():
    rig = Rig()
    rig.send(ev.HookChanged, DESK1, off_hook=True)
    for digit in "102":
        rig.send(ev.DigitDetected, DESK1, digit=digit)
    assert cmd.Ring(DESK2) in rig.out
    got = rig.send(ev.HookChanged, DESK2, off_hook=True)
    assert cmd.Connect(DESK1, DESK2) in got
    got = rig.send(ev.HookChanged, DESK2, off_hook=False)
    assert cmd.Play(DESK1, ("tone:busy",), loop=True) in got
    assert closes(got)[0].disposition == "answered"


def test_reload_applies_to_new_calls_and_live_calls_keep_their_flows():
    rig = Rig()
    live = rig.inbound()
    rig.sb.apply(config(bye="new reason"), rig.sb.schedules)
    rig.send(ev.DigitDetected, LINE, digit="9")
    assert closes(rig.out)[0].cause == "menu said bye"  # the old flows
    assert live.ended
    rig.run(1.0)
    rig.send(ev.RingStarted, LINE)
    rig.send(ev.CallerIdReceived, LINE, number="1", name=None, format="bell202")
    rig.send(ev.RingStopped, LINE)
    rig.send(ev.DigitDetected, LINE, digit="9")
    assert closes(rig.out)[-1].cause == "new reason"


# ---- conferences -------------------------------------------------------------------------------

def consulting(rig):
    call = rig.connected(DESK1)
    rig.send(ev.FlashDetected, DESK1, duration_ms=300)
    for digit in "102":
        rig.send(ev.DigitDetected, DESK1, digit=digit)
    rig.send(ev.HookChanged, DESK2, off_hook=True)
    return call


def test_flash_while_the_consultation_talks_makes_a_three_way_call():
    rig = Rig()
    call = consulting(rig)
    got = rig.send(ev.FlashDetected, DESK1, duration_ms=300)
    joined = {c.port for c in got if isinstance(c, cmd.JoinConference)}
    assert joined == {LINE, DESK1, DESK2}
    assert cmd.Disconnect(LINE) in got and cmd.Disconnect(DESK1) in got
    # the agent leaves: the caller and the colleague go on, back on the board's switch
    got = rig.send(ev.HookChanged, DESK1, off_hook=False)
    assert cmd.LeaveConference(DESK1) in got and cmd.Connect(LINE, DESK2) in got
    assert not call.ended and call.b.key == DESK2 and call.agent == "1002"
    assert call.conference is None
    got = rig.send(ev.LoopCurrentDropped, LINE)
    assert closes(got)[0].disposition == "answered"
    assert rig.sb.stations[DESK2].state is StationState.CLEARED


def test_a_caller_who_leaves_a_three_way_call_ends_it_for_everyone():
    rig = Rig()
    call = consulting(rig)
    rig.send(ev.FlashDetected, DESK1, duration_ms=300)
    got = rig.send(ev.ToneDetected, LINE, tone=Tone.BUSY)
    left = {c.port for c in got if isinstance(c, cmd.LeaveConference)}
    assert left == {LINE, DESK1, DESK2}
    assert cmd.Play(DESK1, ("tone:busy",), loop=True) in got
    assert cmd.Play(DESK2, ("tone:busy",), loop=True) in got
    assert call.ended


@pytest.mark.parametrize("mode", ["listen", "whisper", "talk"])
def test_a_supervisor_joins_a_call(mode):
    rig = Rig()
    call = rig.connected(DESK1)
    with pytest.raises(ValueError, match="off-hook with dial tone"):
        rig.sb.supervise(call.id, "desk2", mode, rig.now)
    rig.send(ev.HookChanged, DESK2, off_hook=True)  # the supervisor lifts the handset
    got = rig.sb.supervise(call.id, "desk2", mode, rig.now)
    assert cmd.JoinConference(call.id, DESK2, mode, DESK1 if mode == "whisper" else None) in got
    assert cmd.JoinConference(call.id, LINE) in got
    assert cmd.JoinConference(call.id, DESK1) in got
    # the supervisor hangs up: the call is back on the switch, untouched
    got = rig.sb.handle(ev.HookChanged(B, DESK2[1], False, rig.now), rig.now)
    assert cmd.Connect(LINE, DESK1) in got and not call.ended and call.b.key == DESK1


def test_barge_in_supervisor_takes_over_when_the_agent_hangs_up():
    rig = Rig()
    call = rig.connected(DESK1)
    rig.send(ev.HookChanged, DESK2, off_hook=True)
    rig.out += rig.sb.supervise(call.id, "desk2", "talk", rig.now)
    got = rig.send(ev.HookChanged, DESK1, off_hook=False)
    assert cmd.Connect(LINE, DESK2) in got and call.b.key == DESK2 and not call.ended


def test_recording_on_demand():
    rig = Rig()
    call = rig.connected(DESK1)
    assert rig.sb.record(call.id, rig.now) == [cmd.StartRecording(call.id, call.id, LINE)]
    assert rig.sb.record(call.id, rig.now) == []  # already recording


def test_ivr_transfer_to_an_outside_number_dials_on_another_line_and_bridges():
    rig = Rig()
    call = rig.inbound()
    got = rig.send(ev.DigitDetected, LINE, digit="2")
    assert cmd.Seize(LINE2) in got
    got = rig.run(2.1)  # no dial tone heard: dial anyway after 2 s
    assert cmd.Play(LINE2, ("dtmf:5550100",), tag=("dial", call.id, None)) in got
    got = rig.finish_playout(LINE2)
    assert cmd.Connect(LINE, LINE2) in got
    got = rig.send(ev.ToneDetected, LINE2, tone=Tone.BUSY)  # the far end hangs up
    assert cmd.Release(LINE) in got and cmd.Release(LINE2) in got
    assert rig.sb.lines[LINE].state is rig.sb.lines[LINE2].state is LineState.IDLE


def test_ivr_transfer_to_a_station_rings_it_with_ringback_to_the_caller():
    rig = Rig()
    call = rig.inbound()
    got = rig.send(ev.DigitDetected, LINE, digit="3")
    assert cmd.Ring(DESK2) in got and cmd.Play(LINE, ("tone:ringback",), loop=True) in got
    rig.send(ev.HookChanged, DESK2, off_hook=True)
    assert call.state is CallState.CONNECTED and call.agent == "1002"


def test_ivr_transfer_to_a_busy_station_gives_busy_tone_then_ends():
    rig = Rig()
    rig.sb.stations[DESK2].state = StationState.TALKING
    call = rig.inbound()
    got = rig.send(ev.DigitDetected, LINE, digit="3")
    assert any(isinstance(c, cmd.Play) and c.prompts == ("tone:busy",) for c in got)
    got = rig.finish_playout(LINE)
    assert closes(got)[0].cause == "station busy" and call.ended


# ---- agents at their phones ------------------------------------------------------------------

def dial(rig, station, digits):
    rig.send(ev.HookChanged, station, off_hook=True)
    got = []
    for digit in digits:
        got += rig.send(ev.DigitDetected, station, digit=digit)
    rig.send(ev.HookChanged, station, off_hook=False)
    return got


def agent_states(commands, agent):
    return [c.data for c in commands if isinstance(c, cmd.LogEvent)
            and c.kind == "agent_state" and c.agent == agent]


def test_agents_log_in_at_their_stations_when_the_box_starts():
    rig = Rig()
    assert agent_states(rig.out, "1001")[-1] == {"status": "ready", "state": "idle",
                                                 "reason": None, "station": "desk1"}
    assert rig.sb.acd.agent_at("desk2") == "1002"


def test_agents_come_back_where_the_event_log_left_them():
    """At start the last agent_state row of each agent (crash or stop) decides: logged in
    at that station again, ready or not ready with the reason (on a call then: the status
    they had set), or still logged out; agents the log does not know: their usual
    station."""
    config_ = config()
    sb = Switchboard(config_, schedules={})
    out = sb.start(0, agents={
        "1001": {"status": "logged_out", "state": "idle", "reason": None},
        "1002": {"status": "not_ready", "state": "on_call", "reason": "12",
                 "station": "desk1"}})
    assert sb.acd.agent_at("desk1") == "1002" and sb.acd.agent_at("desk2") is None
    agent = sb.acd.agent("1002")
    assert (agent["status"].value, agent["state"].value, agent["reason"]) == \
        ("not_ready", "idle", "12")
    assert sb.acd.agent("1001")["status"].value == "logged_out"
    assert agent_states(out, "1002")[-1] == {"status": "not_ready", "state": "idle",
                                             "reason": "12", "station": "desk1"}
    sb = Switchboard(config_, schedules={})
    sb.start(0, agents={"1002": {"status": "ready", "state": "wrap_up", "reason": None,
                                 "station": "desk9"}})  # a station gone: the usual one
    assert (sb.acd.agent_at("desk1"), sb.acd.agent_at("desk2")) == ("1001", "1002")
    assert sb.acd.agent("1002")["state"].value == "idle"


def test_pause_ready_logout_and_login_with_a_pin_from_the_phone():
    rig = Rig()
    got = dial(rig, DESK1, "*4#")
    assert cmd.Play(DESK1, ("builtin:beep",)) in got
    assert agent_states(got, "1001")[-1]["status"] == "not_ready"
    call = rig.queued()  # a caller now goes to the only ready agent, at desk2
    assert call.b.key == DESK2
    got = dial(rig, DESK1, "*412#")  # a reason code
    assert agent_states(got, "1001")[-1] == {"status": "not_ready", "state": "idle",
                                             "reason": "12", "station": "desk1"}
    assert agent_states(dial(rig, DESK1, "*3#"), "1001")[-1]["status"] == "ready"
    assert agent_states(dial(rig, DESK1, "*2#"), "1001")[-1]["status"] == "logged_out"
    assert rig.sb.acd.agent_at("desk1") is None
    got = dial(rig, DESK1, "*11001*0000#")  # wrong PIN
    assert cmd.Play(DESK1, ("tone:congestion",), loop=True) in got
    assert rig.sb.acd.agent_at("desk1") is None
    got = dial(rig, DESK1, "*11001*1111#")
    assert cmd.Play(DESK1, ("builtin:beep",)) in got and rig.sb.acd.agent_at("desk1") == "1001"


def test_wrap_up_keeps_the_agent_from_the_next_call_until_it_ends():
    rig = Rig(wrap_up=30)
    rig.sb.acd.set_not_ready("1002", "lunch", 0)
    first = rig.connected(DESK1)
    got = rig.send(ev.HookChanged, DESK1, off_hook=False)  # agent ends the call: wrap-up
    assert any(isinstance(c, cmd.LogEvent) and c.kind == "wrapup_started" for c in got)
    assert first.ended
    rig.send(ev.RingStarted, LINE2)
    rig.send(ev.CallerIdReceived, LINE2, number="9", name=None, format="bell202")
    rig.send(ev.RingStopped, LINE2)
    second = rig.sb.lines[LINE2].call
    rig.finish_playout(LINE2)
    rig.send(ev.DigitDetected, LINE2, digit="1")
    assert second.state is CallState.QUEUED  # Li is wrapping up
    got = rig.run(30.1)
    assert any(isinstance(c, cmd.LogEvent) and c.kind == "wrapup_ended" for c in got)
    assert cmd.Ring(DESK1) in got and second.state is CallState.ALERTING


def test_a_waiting_caller_who_presses_the_exit_digit_leaves_to_the_overflow():
    rig = Rig(overflow="voicemail")
    for agent in ("1001", "1002"):
        rig.sb.acd.set_not_ready(agent, "lunch", 0)
    call = rig.queued()
    got = rig.send(ev.DigitDetected, LINE, digit="0")
    overflow = next(c for c in got if isinstance(c, cmd.LogEvent) and c.kind == "overflow")
    assert overflow.data == {"why": "exit digit", "to": "voicemail"}
    assert call.ivr is not None  # now in the voicemail flow


def test_the_first_announcement_tells_the_place_in_line():
    rig = Rig()
    for agent in ("1001", "1002"):
        rig.sb.acd.set_not_ready(agent, "lunch", 0)
    call = rig.queued()
    play = [c for c in rig.out if isinstance(c, cmd.Play) and c.port == LINE][-1]
    assert play.prompts[0] == "position-1.wav" and play.tag == ("announced", call.id, None)
    got = rig.sb.playout_finished(LINE, play.tag, rig.now)
    assert cmd.Play(LINE, ("music",), loop=True) in got  # back to the music


# ---- callbacks -------------------------------------------------------------------------------

CALLER = "5551234"  # the caller ID Rig.inbound gives: the number called back


def logs(commands, kind):
    return [c for c in commands if isinstance(c, cmd.LogEvent) and c.kind == kind]


def booked_callback(rig):
    """Both agents on a break; a caller waits, presses 5 (the callback digit), hears the
    confirmation and the box hangs up. Returns the ACD's call id."""
    rig.sb.acd.set_not_ready("1001", "break", 0)
    rig.sb.acd.set_not_ready("1002", "break", 0)
    call = rig.queued()
    assert call.state is CallState.QUEUED
    got = rig.send(ev.DigitDetected, LINE, digit="5")
    assert cmd.Play(LINE, ("callback-booked.wav",), tag=("end", call.id, "callback booked")) \
        in got
    assert logs(got, "callback_requested")[0].data["number"] == CALLER
    got = rig.finish_playout(LINE)
    (close,) = closes(got)
    assert (close.call_id, close.disposition) == (call.id, "callback")
    assert cmd.Release(LINE) in got and call.ended
    assert rig.sb.acd.waiting("sales")[0][4] == CALLER  # the place is kept
    rig.run(GLARE_GUARD_S)  # the line may be taken to dial out again
    return call.id


def callback_rings(rig, acd_id):
    """Li Na (1001) becomes ready: her phone rings for the callback."""
    got = rig.sb.acd.set_ready("1001", rig.now * 20)
    out = []
    rig.sb._acd(got, out)
    rig.out += out
    assert cmd.Ring(DESK1) in out
    (row,) = logs(out, "callback")
    assert row.data == {"callback_of": acd_id, "number": CALLER, "station": "desk1"}
    (opened,) = [c for c in out if isinstance(c, cmd.CdrOpen)]
    assert opened.direction == "outbound" and opened.fields["called"] == CALLER
    assert rig.sb.acd.agent("1001")["state"].value == "reserved"
    return rig.sb.calls[row.call_id]


def dialled(rig, callback):
    """The agent answers: a prompt for them, a line seized, the number dialled, the agent
    switched to the line."""
    got = rig.send(ev.HookChanged, DESK1, off_hook=True)
    assert cmd.Play(DESK1, ("callback-offer.wav",)) in got
    (seize,) = [c for c in got if isinstance(c, cmd.Seize)]
    line = seize.port
    got = rig.send(ev.ToneDetected, line, tone=Tone.DIAL)
    assert cmd.Play(line, (f"dtmf:{CALLER}",), tag=("dial", callback.id, None)) in got
    got = rig.finish_playout(line)
    assert cmd.Connect(DESK1, line) in got  # the agent hears ringback through the switch
    assert rig.sb.acd.agent("1001")["state"].value == "reserved"  # not answered yet
    return line


def test_callback_booked_confirms_releases_the_line_and_keeps_the_place():
    rig = Rig(queue_extra='callback_digit = "5"')
    acd_id = booked_callback(rig)
    assert rig.sb.acd.snapshot(rig.now * 20)["queues"]["sales"]["callbacks"] == 1
    assert acd_id not in rig.sb.calls


def test_callback_dialled_and_connected_when_the_far_end_answers():
    rig = Rig(queue_extra='callback_digit = "5"')
    acd_id = booked_callback(rig)
    callback = callback_rings(rig, acd_id)
    line = dialled(rig, callback)
    rig.run(8.0)  # ringback
    got = rig.send(ev.PolarityReversed, line, polarity=1)  # answer supervision
    assert cmd.CdrUpdate(callback.id, {"answer_tick": rig.now}) in got
    (connected,) = logs(got, "connected")
    assert (connected.call_id, connected.agent, connected.queue) == \
        (callback.id, "1001", "sales")
    assert rig.sb.acd.agent("1001")["state"].value == "on_call"
    assert rig.sb.acd.waiting("sales") == []
    rig.run(30.0)
    got = rig.send(ev.HookChanged, DESK1, off_hook=False)  # the agent ends the call
    (close,) = closes(got)
    assert (close.call_id, close.disposition) == (callback.id, "answered")
    assert cmd.Release(line) in got
    agent = rig.sb.acd.agent("1001")
    assert (agent["state"].value, agent["calls"]) == ("idle", 1)


def test_callback_answer_known_from_the_end_of_the_ringback():
    """A line without answer polarity: the ringback heard on it stopped."""
    rig = Rig(queue_extra='callback_digit = "5"')
    callback = callback_rings(rig, booked_callback(rig))
    line = dialled(rig, callback)
    rig.send(ev.ToneDetected, line, tone=Tone.RINGBACK)
    rig.run(6.0)
    got = rig.send(ev.ToneEnded, line, tone=Tone.RINGBACK)
    assert logs(got, "connected") and rig.sb.acd.agent("1001")["state"].value == "on_call"
    got = rig.send(ev.ToneDetected, line, tone=Tone.BUSY)  # the customer hangs up
    assert closes(got)[0].disposition == "answered"


def test_callback_the_agent_does_not_answer_fails_without_blame():
    rig = Rig(queue_extra='callback_digit = "5"')
    acd_id = booked_callback(rig)
    callback = callback_rings(rig, acd_id)
    got = rig.run(OFFER_S + 0.1)
    assert cmd.StopRing(DESK1) in got
    (close,) = closes(got)
    assert (close.call_id, close.disposition, close.cause) == \
        (callback.id, "no answer", "agent did not answer")
    (failed,) = logs(got, "callback_failed")
    assert failed.call_id == acd_id and failed.data["why"] == "agent did not answer"
    agent = rig.sb.acd.agent("1001")
    assert (agent["status"].value, agent["state"].value, agent["unanswered"]) == \
        ("ready", "idle", 0)
    assert rig.sb.acd.waiting("sales") == []  # the callback is dropped
    assert rig.sb.stations[DESK1].state is StationState.IDLE


def test_callback_with_no_free_line_gives_congestion_and_fails():
    rig = Rig(queue_extra='callback_digit = "5"')
    callback = callback_rings(rig, booked_callback(rig))
    for key in (LINE, LINE2):  # both lines busy with other calls
        rig.sb.lines[key].state = LineState.IN_CALL
    got = rig.send(ev.HookChanged, DESK1, off_hook=True)
    assert cmd.Play(DESK1, ("tone:congestion",), loop=True) in got
    assert not [c for c in got if isinstance(c, cmd.Seize)]
    (close,) = closes(got)
    assert (close.call_id, close.disposition, close.cause) == \
        (callback.id, "failed", "no free line to dial out")
    assert logs(got, "callback_failed")[0].data["why"] == "no free line to dial out"
    assert rig.sb.acd.agent("1001")["unanswered"] == 0
    got = rig.send(ev.HookChanged, DESK1, off_hook=False)
    assert rig.sb.stations[DESK1].state is StationState.IDLE


@pytest.mark.parametrize("tone, disposition", [(Tone.BUSY, "busy"),
                                               (Tone.CONGESTION, "failed"),
                                               (Tone.SIT, "failed")])
def test_callback_far_end_busy_or_congestion_fails(tone, disposition):
    rig = Rig(queue_extra='callback_digit = "5"')
    acd_id = booked_callback(rig)
    callback = callback_rings(rig, acd_id)
    line = dialled(rig, callback)
    got = rig.send(ev.ToneDetected, line, tone=tone)
    (close,) = closes(got)
    assert (close.call_id, close.disposition) == (callback.id, disposition)
    assert cmd.Release(line) in got and cmd.Play(DESK1, ("tone:busy",), loop=True) in got
    (failed,) = logs(got, "callback_failed")
    assert (failed.call_id, failed.agent) == (acd_id, "1001")
    assert rig.sb.acd.agent("1001")["unanswered"] == 0
    assert rig.sb.acd.waiting("sales") == []


def test_callback_far_end_that_never_answers_fails():
    rig = Rig(queue_extra='callback_digit = "5"')
    callback = callback_rings(rig, booked_callback(rig))
    line = dialled(rig, callback)
    rig.send(ev.ToneDetected, line, tone=Tone.RINGBACK)  # it rings on and on
    got = []
    for _ in range(ticks(62.0)):
        rig.now += 1
        rig.voice[line] = rig.now
        got += rig.sb.tick(rig.now)
    (close,) = closes(got)
    assert (close.disposition, close.cause) == ("no answer", "far end did not answer")
    assert logs(got, "callback_failed")


def test_callback_digit_without_a_number_is_refused():
    rig = Rig(queue_extra='callback_digit = "5"')
    rig.sb.acd.set_not_ready("1001", "break", 0)
    rig.sb.acd.set_not_ready("1002", "break", 0)
    rig.send(ev.RingStarted, LINE)
    rig.run(1.0)
    rig.send(ev.RingStopped, LINE)
    rig.run(0.5)
    rig.send(ev.RingStarted, LINE)  # no caller ID: answered at the second ring
    call = rig.sb.lines[LINE].call
    rig.finish_playout(LINE)
    rig.send(ev.DigitDetected, LINE, digit="1")
    got = rig.send(ev.DigitDetected, LINE, digit="5")
    assert logs(got, "callback_refused")[0].data == {"why": "no number to call back"}
    assert call.state is CallState.QUEUED and not closes(got)
    assert cmd.Play(LINE, ("invalid.wav",), tag=("announced", call.id, None)) in got
    got = rig.finish_playout(LINE)
    assert cmd.Play(LINE, ("music",), loop=True) in got  # waiting on


def test_callback_to_a_number_the_dial_policy_refuses_is_refused():
    rig = Rig(queue_extra='callback_digit = "5"')
    rig.sb.acd.set_not_ready("1001", "break", 0)
    rig.sb.acd.set_not_ready("1002", "break", 0)
    call = queued_via(rig, LINE, "9991234", "1")
    got = rig.send(ev.DigitDetected, LINE, digit="5")
    assert logs(got, "callback_refused")[0].data == {
        "why": "9991234 matches no prefix of dial.allow (0, 1, 5)"}
    assert cmd.Play(LINE, ("invalid.wav",), tag=("announced", call.id, None)) in got
    assert call.state is CallState.QUEUED
    assert rig.sb.acd.waiting("sales")[0][4] is None  # still a live caller, no callback


# ---- caller priority: the IVR's and a VIP's -------------------------------------------------

def queued_via(rig, line, number, digit):
    """A call on `line` answered, through the menu by `digit`; returns it."""
    rig.send(ev.RingStarted, line)
    rig.run(1.0)
    rig.send(ev.RingStopped, line)
    rig.run(0.5)
    rig.send(ev.CallerIdReceived, line, number=number, name=None, format="bell202")
    call = rig.sb.lines[line].call
    rig.finish_playout(line)
    rig.send(ev.DigitDetected, line, digit=digit)
    return call


def test_a_vip_customer_found_by_the_lookup_waits_ahead_of_earlier_callers():
    rig = Rig()
    rig.sb.acd.set_not_ready("1001", "break", 0)
    rig.sb.acd.set_not_ready("1002", "break", 0)
    plain = queued_via(rig, LINE, "5551234", "1")
    vip = queued_via(rig, LINE2, "13800138000", "4")
    (look,) = [c for c in rig.out if isinstance(c, cmd.LookUp)]
    assert look.value == "13800138000"
    got = rig.sb.lookup_answered(vip.id, {"number": "13800138000", "name": "Zhang San",
                                          "vip": "1"}, look.request_id, rig.now)
    (queued,) = logs(got, "queued")
    assert queued.data["priority"] == VIP_PRIORITY and vip.priority == VIP_PRIORITY
    assert [(c[0], c[2]) for c in rig.sb.acd.waiting("sales")] == \
        [(vip.id, VIP_PRIORITY), (plain.id, 0)]
    out = []
    rig.sb._acd(rig.sb.acd.set_ready("1001", rig.now * 20), out)
    assert cmd.Ring(DESK1) in out and rig.sb.stations[DESK1].call is vip


def test_a_customer_who_is_not_vip_keeps_the_ivr_priority():
    rig = Rig()
    rig.sb.acd.set_not_ready("1001", "break", 0)
    rig.sb.acd.set_not_ready("1002", "break", 0)
    first = queued_via(rig, LINE, "5551234", "4")
    (look,) = [c for c in rig.out if isinstance(c, cmd.LookUp)]
    rig.out += rig.sb.lookup_answered(first.id, {"number": "5551234", "vip": "0"},
                                      look.request_id, rig.now)
    second = queued_via(rig, LINE2, "5559999", "5")  # the IVR's queue node: priority 3
    assert [(c[0], c[2]) for c in rig.sb.acd.waiting("sales")] == \
        [(second.id, 3), (first.id, 0)]
    assert logs(rig.out, "queued")[-1].data["priority"] == 3


def test_callback_recorded_from_the_far_ends_answer_with_the_customer_on_the_left():
    rig = Rig(queue_extra='callback_digit = "5"', recording="all")
    callback = callback_rings(rig, booked_callback(rig))
    line = dialled(rig, callback)
    assert not [c for c in rig.out if isinstance(c, cmd.StartRecording)
                and c.call_id == callback.id]
    got = rig.send(ev.PolarityReversed, line, polarity=1)
    assert cmd.StartRecording(callback.id, callback.id, line) in got
    got = rig.send(ev.LoopCurrentDropped, line)
    assert cmd.StopRecording(callback.id) in got


def test_an_agent_who_keys_ready_gets_the_waiting_call_once_the_phone_is_down():
    """*3# while a caller waits: the offer rings when the agent hangs up (it does not
    fail as "station busy" against the agent)."""
    rig = Rig()
    rig.sb.acd.set_not_ready("1001", "break", 0)
    rig.sb.acd.set_not_ready("1002", "break", 0)
    call = rig.queued()
    rig.send(ev.HookChanged, DESK1, off_hook=True)
    got = []
    for digit in "*3#":
        got += rig.send(ev.DigitDetected, DESK1, digit=digit)
    assert not logs(got, "offer_failed") and cmd.Ring(DESK1) not in got
    assert rig.sb.acd.agent("1001")["offer"] == call.id
    got = rig.send(ev.HookChanged, DESK1, off_hook=False)
    assert cmd.Ring(DESK1) in got and call.state is CallState.ALERTING
    rig.send(ev.HookChanged, DESK1, off_hook=True)
    assert call.state is CallState.CONNECTED and call.agent == "1001"


def test_an_offer_held_for_an_off_hook_phone_is_dropped_when_it_times_out():
    rig = Rig()
    rig.sb.acd.set_not_ready("1001", "break", 0)
    rig.sb.acd.set_not_ready("1002", "break", 0)
    call = rig.queued()
    rig.send(ev.HookChanged, DESK1, off_hook=True)
    for digit in "*3#":
        rig.send(ev.DigitDetected, DESK1, digit=digit)
    got = rig.run(OFFER_S + 0.1)  # the agent stays off-hook: the ACD's ring time runs out
    assert logs(got, "offer_failed")[0].data["why"] == "no answer"
    got = rig.send(ev.HookChanged, DESK1, off_hook=False)
    assert cmd.Ring(DESK1) not in got and call.state is CallState.QUEUED


def test_a_callback_for_an_agent_still_off_hook_rings_once_they_hang_up():
    rig = Rig(queue_extra='callback_digit = "5"')
    acd_id = booked_callback(rig)
    rig.send(ev.HookChanged, DESK1, off_hook=True)
    got = []
    for digit in "*3#":
        got += rig.send(ev.DigitDetected, DESK1, digit=digit)
    assert not logs(got, "callback_failed") and not logs(got, "callback")
    got = rig.send(ev.HookChanged, DESK1, off_hook=False)
    assert cmd.Ring(DESK1) in got
    assert logs(got, "callback")[0].data["callback_of"] == acd_id


def test_callback_answered_before_any_ringback_is_known_from_the_far_ends_voice():
    """No answer polarity and the callee answered before the ringback was recognised:
    sound from the line CALLBACK_VOICE_S after the dial is the answer."""
    rig = Rig(queue_extra='callback_digit = "5"')
    callback = callback_rings(rig, booked_callback(rig))
    line = dialled(rig, callback)
    dial_end = rig.now
    got = rig.run(3.0)  # silence on the line: nothing known yet
    got = []
    for _ in range(ticks(2.0)):  # the callee says hello, then listens
        rig.now += 1
        rig.voice[line] = rig.now
        got += rig.sb.tick(rig.now)
    assert not logs(got, "connected")
    got = rig.run(CALLBACK_VOICE_S)
    (connected,) = logs(got, "connected")
    assert not closes(got)
    # known once no ringback came in CALLBACK_VOICE_S (checked every second)
    assert ticks(CALLBACK_VOICE_S) <= connected.tick - dial_end <= ticks(CALLBACK_VOICE_S + 1.0)
    assert rig.sb.acd.agent("1001")["state"].value == "on_call"
    got = rig.run(CALLBACK_ANSWER_S)  # answered: the 60 s limit no longer applies
    assert not [c for c in closes(got) if c.disposition == "no answer"]


def test_callback_to_a_silent_line_without_ringback_is_not_taken_as_answered():
    rig = Rig(queue_extra='callback_digit = "5"')
    callback = callback_rings(rig, booked_callback(rig))
    dialled(rig, callback)
    got = rig.run(CALLBACK_ANSWER_S + 1.0)
    assert not logs(got, "connected")
    assert [(c.disposition, c.cause) for c in closes(got)] == \
        [("no answer", "far end did not answer")]
