"""End to end, in virtual time: a VIP customer (the store's customers table, found by the
IVR's lookup) who calls last is put through first when the agent becomes free."""

from appliance.store import Store

from .rig import run_box

CONFIG = """
skills = ["sales"]
[site]
name = "e2e"
country = "cn"
[boards.main]
url = "inprocess://vip"
ports = "3fxo+1fxs"
emulated = true
[trunks.pstn]
board = "main"
ports = [0, 1, 2]
flow = "who"
[stations.desk1]
extension = "101"
board = "main"
port = 3
[queues.sales]
skills = ["sales"]
max_wait_s = 120
overflow = "hangup"
announce_s = 0
[agents.1001]
name = "Li Na"
skills = {{ sales = 8 }}
pin = "4821"
station = "desk1"
[storage]
data_dir = "{data}"
[ivr.who]
type = "lookup"
found = "sales"
[ivr.sales]
type = "queue"
queue = "sales"
"""

# Ann talks to the agent first; Bob (a known customer, not VIP) then Vera (VIP) wait. The
# agent hangs up on Ann: Vera is next although Bob came first.
SCENARIO = """
[board]
ports = "3fxo+1fxs"
[run]
seconds = 60.0
seed = 9
[[callers]]
name = "ann"
line = 0
at_s = 1.0
number = "13900000001"
actions = [{ wait_for_agent_s = 30.0 }, { talk_s = 2.0 }, { listen_s = 60.0 }]
[[callers]]
name = "bob"
line = 1
at_s = 4.0
number = "13900000002"
actions = [{ wait_for_agent_s = 50.0 }, { talk_s = 2.0 }, { listen_s = 60.0 }]
[[callers]]
name = "vera"
line = 2
at_s = 7.0
number = "13900000003"
actions = [{ wait_for_agent_s = 50.0 }, { talk_s = 2.0 }, { listen_s = 60.0 }]
[[phones]]
name = "li-na"
port = 3
answer_after_s = 1.0
actions = [{ listen_s = 12.0 }, { hang_up = true }]
"""


def test_a_vip_caller_is_put_through_before_callers_who_waited_longer(tmp_path):
    def customers(box):
        with Store.open(box.database) as store:
            store.upsert_customer("13900000002", name="Bob")
            store.upsert_customer("13900000003", name="Vera", vip=True)

    box = run_box(tmp_path, CONFIG.format(data=tmp_path), SCENARIO, before=customers)
    with Store.open(box.database) as store:
        cdrs = {c.caller_number: c for c in store.cdrs()}
        queued = {e.call_id: e.data["priority"] for e in store.events(kind="queued")}
        connected = [e.call_id for e in store.events(kind="connected")]
    ann, bob, vera = (cdrs[n] for n in ("13900000001", "13900000002", "13900000003"))
    assert (queued[ann.call_id], queued[bob.call_id], queued[vera.call_id]) == (0, 0, 10)
    assert connected == [ann.call_id, vera.call_id, bob.call_id]
    report = box.report()
    assert report.caller("vera").agent_at_s < report.caller("bob").agent_at_s
