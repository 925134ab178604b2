"""Transfers of live legs on the simulator, as FreeSWITCH 1.10 does them: uuid_transfer (inline and -bleg),
uuid_bridge, uuid_broadcast and att_xfer — who moves, who is hung up, the events and the reply texts."""

from __future__ import annotations

import json
import uuid as uuidlib

import pytest

from freeswitch.sim.process import SimulatorProcess
from tests.freeswitch.esl_client import RawClient, RawListener

SCENARIO = {"defaults": {"outcome": "answer", "ring": 0.5}, "rules": [{"match": "6099", "outcome": "busy"}]}


@pytest.fixture(scope="module")
def sim():
    with SimulatorProcess(speed=20, scenario=SCENARIO) as s:
        yield s


@pytest.fixture
def api(sim):
    c = RawClient(sim.host, sim.port)
    c.auth()
    yield c
    c.close()


class Watch:
    """An inbound connection that keeps every event it receives; :meth:`wait` looks at those first."""

    def __init__(self, sim):
        self.client = RawClient(sim.host, sim.port)
        self.client.auth()
        self.client.command("event plain CHANNEL_BRIDGE CHANNEL_UNBRIDGE CHANNEL_HANGUP CHANNEL_HANGUP_COMPLETE "
                            "CHANNEL_EXECUTE CUSTOM test::mark")
        self.seen = []

    def mark(self) -> None:
        """Read every event the switch fired before now (a marker event of our own comes after them)."""
        reply = self.client.command("sendevent CUSTOM\nEvent-Subclass: test::mark").headers["Reply-Text"]
        event_uuid = reply.split()[1]
        self.wait(lambda e: e.headers.get("Event-UUID") == event_uuid)

    def wait(self, until):
        """The first event (received so far or to come) for which ``until`` is true."""
        for event in self.seen:
            if until(event):
                return event
        got = [e for _, e in self.client.events(until)]
        self.seen += got
        return got[-1]


@pytest.fixture
def watch(sim):
    w = Watch(sim)
    yield w
    w.client.close()


def run(c: RawClient, text: str) -> str:
    return c.command(f"api {text}").text()


class SocketLeg:
    """A call to ``number`` run by our own listener over ``socket ... async full`` (as the IVR runtime runs calls)."""

    def __init__(self, api: RawClient, number: str, variables: str = ""):
        self.listener = RawListener()
        reply = run(api, f"originate {variables}sofia/gateway/gw/{number} &socket('{self.listener.address} async full')")
        assert reply.startswith("+OK"), reply
        self.uuid = reply.split()[1]
        self.conn = self.listener.accept()
        self.conn.command("connect")
        self.conn.command("myevents")

    def send(self, app: str, arg: str) -> str:
        """sendmsg execute; returns the Event-UUID its CHANNEL_EXECUTE_COMPLETE will carry."""
        event_uuid = str(uuidlib.uuid4())
        self.conn.command(f"sendmsg\ncall-command: execute\nexecute-app-name: {app}\nexecute-app-arg: {arg}\n"
                          f"Event-UUID: {event_uuid}")
        return event_uuid

    def bridge(self, number: str) -> tuple[str, str]:
        """Bridge a second leg; returns (its uuid, the bridge's Event-UUID)."""
        event_uuid = self.send("bridge", f"sofia/gateway/gw/{number}")
        got = self.conn.events(lambda e: e.name == "CHANNEL_BRIDGE")
        return got[-1][1].headers["Bridge-B-Unique-ID"], event_uuid

    def completed(self, event_uuid: str):
        """This leg's CHANNEL_EXECUTE_COMPLETE of that execute, and what came before it."""
        got = self.conn.events(lambda e: e.name == "CHANNEL_EXECUTE_COMPLETE"
                               and e.headers.get("Application-UUID") == event_uuid)
        return got[-1][1], [e for _, e in got]

    def close(self) -> None:
        self.conn.close()
        self.listener.close()


@pytest.fixture
def leg(api):
    legs = []

    def make(number: str, variables: str = "") -> SocketLeg:
        legs.append(SocketLeg(api, number, variables))
        return legs[-1]
    yield make
    for one in legs:
        run(api, f"uuid_kill {one.uuid}")
        one.close()


def bridged(api: RawClient, uuid: str) -> str | None:
    """The uuid ``show calls`` pairs with ``uuid``, or None."""
    rows = json.loads(run(api, "show calls as json")).get("rows", [])
    for row in rows:
        if row["uuid"] == uuid:
            return row.get("b_uuid") or None
        if row.get("b_uuid") == uuid:
            return row["uuid"]
    return None


def hangups(watch: Watch, *uuids: str) -> dict[str, dict]:
    """The CHANNEL_HANGUP_COMPLETE headers of every one of ``uuids``, by uuid."""
    return {u: watch.wait(lambda e: e.name == "CHANNEL_HANGUP_COMPLETE" and e.headers["Unique-ID"] == u).headers
            for u in uuids}


def bridge_event(watch: Watch, a: str, b: str | None = None, not_b: str | None = None) -> dict:
    """The CHANNEL_BRIDGE with ``a`` as its A leg (and ``b`` as its B leg, or any B leg but ``not_b``)."""
    return watch.wait(lambda e: e.name == "CHANNEL_BRIDGE" and e.headers["Bridge-A-Unique-ID"] == a
                      and (b is None or e.headers["Bridge-B-Unique-ID"] == b)
                      and e.headers["Bridge-B-Unique-ID"] != not_b).headers


def test_bleg_transfer_moves_the_bridged_leg_and_the_a_leg_goes_on(api, watch, leg):
    a = leg("6000")
    b, bridge_app = a.bridge("6001")
    assert run(api, f"uuid_getvar {a.uuid} bridge_to") == b and run(api, f"uuid_getvar {b} bridge_to") == a.uuid
    assert run(api, f"uuid_transfer {a.uuid} -bleg 'bridge:sofia/gateway/gw/6002' inline") == "+OK\n"
    done, seen = a.completed(bridge_app)
    # The A leg was not transferred: its bridge simply returns (its dialplan, here our socket, goes on).
    assert done.headers["Channel-State-Number"] == "4" and done.headers["Answer-State"] == "answered"
    assert "CHANNEL_UNBRIDGE" in [e.name for e in seen]
    c = bridge_event(watch, b)["Bridge-B-Unique-ID"]
    assert bridged(api, b) == c and run(api, f"uuid_getvar {c} bridge_to") == b
    assert run(api, f"uuid_getvar {b} transfer_source").endswith("/inline")
    assert ":bl_xfer:bridge:sofia/gateway/gw/6002/" in run(api, f"uuid_getvar {b} transfer_source")
    assert run(api, f"uuid_exists {a.uuid}") == "true"
    assert bridged(api, a.uuid) is None
    run(api, f"uuid_kill {c}")
    # The inline extension has run its one application: the moved leg hangs up after it.
    ended = hangups(watch, b, c)
    assert ended[b]["Hangup-Cause"] == "NORMAL_CLEARING"
    assert ended[b]["Caller-Destination-Number"] == "6001"  # inline gives the destination back


def test_hangup_after_bridge_hangs_up_the_a_leg_whose_partner_was_moved(api, watch, leg):
    a = leg("6010")
    a.send("set", "hangup_after_bridge=true")
    b, _ = a.bridge("6011")
    assert run(api, f"uuid_transfer {a.uuid} -bleg 'bridge:sofia/gateway/gw/6012' inline") == "+OK\n"
    ended = hangups(watch, a.uuid)
    assert ended[a.uuid]["Hangup-Cause"] == "NORMAL_CLEARING"
    c = bridge_event(watch, b)["Bridge-B-Unique-ID"]
    assert bridged(api, b) == c
    run(api, f"uuid_kill {c}")


def test_transferring_the_a_leg_hangs_up_its_b_leg_and_leaves_the_socket(api, watch, leg):
    a = leg("6020")
    a.send("set", "hangup_after_bridge=true")  # not applied: the A leg itself was transferred
    b, bridge_app = a.bridge("6021")
    assert run(api, f"uuid_transfer {a.uuid} 'bridge:sofia/gateway/gw/6022' inline") == "+OK\n"
    done, _ = a.completed(bridge_app)
    assert done.headers["Channel-State-Number"] == "2"  # on its way to CS_ROUTING
    assert done.headers["Channel-State"] == "CS_EXECUTE"
    names = [e.name for _, e in a.conn.events(lambda e: e.name == "CHANNEL_EXECUTE_COMPLETE"
                                              and e.headers.get("Application") == "socket")]
    assert "CHANNEL_UNPARK" in names
    assert hangups(watch, b)[b]["Hangup-Cause"] == "NORMAL_CLEARING"
    d = bridge_event(watch, a.uuid, not_b=b)["Bridge-B-Unique-ID"]
    # The socket is done with the call: closing it does not end it.
    a.close()
    assert bridged(api, a.uuid) == d and run(api, f"uuid_exists {a.uuid}") == "true"
    assert run(api, f"uuid_getvar {a.uuid} max_forwards") == "70"
    run(api, f"uuid_kill {d}")
    assert hangups(watch, a.uuid)[a.uuid]["variable_current_application"] == "bridge"


def test_bleg_without_a_partner_transfers_the_leg_itself(api, watch):
    a = run(api, "originate sofia/gateway/gw/6030 &park()").split()[1]
    assert run(api, f"uuid_getvar {a} bridge_to") == "_undef_"
    assert run(api, f"uuid_transfer {a} -bleg 'bridge:sofia/gateway/gw/6031' inline") == "+OK\n"
    event = bridge_event(watch, a)
    other = event["Bridge-B-Unique-ID"]
    assert event["Other-Leg-Destination-Number"] == "6031"
    run(api, f"uuid_kill {a}")
    hangups(watch, a, other)


def test_att_xfer_on_the_a_leg_hands_its_partner_to_the_target(api, watch, leg):
    agent = leg("6040")
    customer, bridge_app = agent.bridge("6041")
    assert run(api, f"uuid_broadcast {agent.uuid} att_xfer::sofia/gateway/gw/6042 aleg") == "+OK Message sent\n"
    target = bridge_event(watch, agent.uuid, not_b=customer)["Bridge-B-Unique-ID"]
    # Consulting: the agent talks to the target; the customer is still there, still the agent's.
    assert run(api, f"uuid_getvar {agent.uuid} soft_holding_uuid") == customer
    assert run(api, f"uuid_getvar {customer} bridge_to") == agent.uuid
    assert run(api, f"uuid_recv_dtmf {agent.uuid} *").startswith("+OK")  # attxfer_hangup_key
    hangup = watch.wait(lambda e: e.name == "CHANNEL_HANGUP" and e.headers["Unique-ID"] == agent.uuid)
    assert hangup.headers["Hangup-Cause"] == "NORMAL_CLEARING"
    bridge_event(watch, target, customer)
    assert bridged(api, customer) == target
    assert run(api, f"uuid_getvar {target} att_xfer_result") == "success"
    assert run(api, f"uuid_getvar {customer} transfer_source").endswith(f":uuid_br:{target}")
    # The agent's session waits in its bridge while the customer is the B leg of the new one.
    watch.mark()
    assert not [e for e in watch.seen if e.name == "CHANNEL_HANGUP_COMPLETE" and e.headers["Unique-ID"] == agent.uuid]
    run(api, f"uuid_kill {target}")
    ended = hangups(watch, customer, agent.uuid)
    assert ended[customer]["Hangup-Cause"] == "NORMAL_CLEARING"
    assert int(ended[agent.uuid]["variable_end_uepoch"]) < int(ended[customer]["variable_end_uepoch"])
    done, _ = agent.completed(bridge_app)
    assert done.headers["Channel-State-Number"] == "10"


def test_att_xfer_on_the_b_leg_leaves_the_socket_of_the_a_leg(api, watch, leg):
    customer = leg("6050")
    agent, bridge_app = customer.bridge("6051")
    assert run(api, f"uuid_broadcast {customer.uuid} att_xfer::sofia/gateway/gw/6052 bleg") == "+OK Message sent\n"
    target = bridge_event(watch, agent)["Bridge-B-Unique-ID"]
    run(api, f"uuid_kill {agent}")  # the agent hangs up: the transfer completes
    done, _ = customer.completed(bridge_app)
    assert done.headers["Channel-State-Number"] == "8"  # CS_HIBERNATE: uuid_bridge took it
    assert done.headers["variable_transfer_source"].endswith(f":uuid_br:{target}")
    bridge_event(watch, target, customer.uuid)
    customer.close()
    assert bridged(api, customer.uuid) == target
    run(api, f"uuid_kill {customer.uuid}")
    assert hangups(watch, target)[target]["Hangup-Cause"] == "NORMAL_CLEARING"


def test_att_xfer_cancelled_or_unanswered_keeps_the_call(api, watch, leg):
    agent = leg("6060")
    customer, bridge_app = agent.bridge("6061")
    assert run(api, f"uuid_broadcast {agent.uuid} att_xfer::sofia/gateway/gw/6099 aleg") == "+OK Message sent\n"
    watch.wait(lambda e: e.name == "CHANNEL_HANGUP_COMPLETE" and e.headers["Caller-Destination-Number"] == "6099")
    assert bridged(api, agent.uuid) == customer and run(api, f"uuid_getvar {agent.uuid} signal_bond") == customer
    assert run(api, f"uuid_broadcast {agent.uuid} att_xfer::sofia/gateway/gw/6062 aleg") == "+OK Message sent\n"
    target = bridge_event(watch, agent.uuid, not_b=customer)["Bridge-B-Unique-ID"]
    run(api, f"uuid_recv_dtmf {agent.uuid} #")  # attxfer_cancel_key: the target goes, the agent gets the customer
    assert hangups(watch, target)[target]["Hangup-Cause"] == "NORMAL_CLEARING"
    bridge_event(watch, agent.uuid, customer)
    assert run(api, f"uuid_getvar {agent.uuid} att_xfer_result") == "success"
    done, _ = agent.completed(bridge_app)
    assert done.headers["Channel-State-Number"] == "8"
    assert bridged(api, agent.uuid) == customer


def test_reply_texts(api, watch):
    a = run(api, "originate sofia/gateway/gw/6070 &park()").split()[1]
    assert run(api, "uuid_broadcast") == "-USAGE: <uuid> <path> [aleg|bleg|holdb|both]\n"
    assert run(api, f"uuid_broadcast {uuidlib.uuid4()} att_xfer::user/102") == "-ERR invalid uuid\n"
    assert run(api, "uuid_transfer") == "-USAGE: <uuid> [-bleg|-both] <dest-exten> [<dialplan>] [<context>]\n"
    assert run(api, f"uuid_transfer {uuidlib.uuid4()} -bleg 'bridge:user/102' inline") == "-ERR No such channel!\n"
    # max_forwards runs out: switch_ivr_session_transfer refuses and hangs the call up.
    assert run(api, f"uuid_setvar {a} max_forwards 1") == "+OK\n"
    assert run(api, f"uuid_transfer {a} 'bridge:user/102' inline") == "-ERR\n"
    assert hangups(watch, a)[a]["Hangup-Cause"] == "EXCHANGE_ROUTING_ERROR"


def test_dual_transfer_moves_a_leg_and_its_partner_each_to_its_own_extension(api, watch, leg):
    agent = leg("6080")
    customer, bridge_app = agent.bridge("6081")
    reply = run(api, f"uuid_dual_transfer {agent.uuid} 'set:moved=agent,park/inline' 'set:moved=customer,park/inline'")
    assert reply == "+OK\n"
    done, _ = agent.completed(bridge_app)
    # Both were transferred (no B leg hung up, no A leg going on with its dialplan): the agent leaves the socket.
    assert done.headers["Channel-State-Number"] == "2"
    watch.mark()
    assert not [e for e in watch.seen
                if e.name == "CHANNEL_HANGUP" and e.headers["Unique-ID"] in (agent.uuid, customer)]
    assert run(api, f"uuid_getvar {agent.uuid} moved") == "agent"
    assert run(api, f"uuid_getvar {customer} moved") == "customer"
    assert bridged(api, agent.uuid) is None and bridged(api, customer) is None
    source = run(api, f"uuid_getvar {customer} transfer_source")
    assert source.endswith(":bl_xfer:set:moved=customer,park/default/inline")
    run(api, f"uuid_kill {customer}")


def test_att_xfer_of_a_parked_party_lets_the_transferer_complete_at_once(api, watch, leg):
    # The click2call agent is the A leg of its bridge: taken out of it first (uuid_dual_transfer), it consults
    # with the customer parked, and hanging up hands the customer over without its session waiting for them.
    agent = leg("6083")
    customer, _ = agent.bridge("6084")
    exten = f"m:^:set:signal_bond={customer}^att_xfer:sofia/gateway/gw/6085^intercept:{customer}"
    assert run(api, f"uuid_dual_transfer {agent.uuid} '{exten}/inline' 'park/inline'") == "+OK\n"
    target = bridge_event(watch, agent.uuid, not_b=customer)["Bridge-B-Unique-ID"]
    assert run(api, f"uuid_getvar {agent.uuid} soft_holding_uuid") == customer and bridged(api, customer) is None
    run(api, f"uuid_recv_dtmf {agent.uuid} *")
    bridge_event(watch, target, customer)
    assert run(api, f"uuid_getvar {target} att_xfer_result") == "success"
    assert hangups(watch, agent.uuid)[agent.uuid]["Hangup-Cause"] == "NORMAL_CLEARING"
    assert bridged(api, customer) == target and run(api, f"uuid_exists {customer}") == "true"
    run(api, f"uuid_kill {target}")
    hangups(watch, customer)


def test_intercept_bridges_to_a_leg_and_hangs_up_its_partner(api, watch):
    a = run(api, "originate sofia/gateway/gw/6086 &bridge(sofia/gateway/gw/6087)").split()[1]
    b = bridge_event(watch, a)["Bridge-B-Unique-ID"]
    c = run(api, f"originate sofia/gateway/gw/6088 &intercept({b})").split()[1]
    bridge_event(watch, c, b)
    hangup = watch.wait(lambda e: e.name == "CHANNEL_HANGUP" and e.headers["Unique-ID"] == a)
    assert hangup.headers["Hangup-Cause"] == "PICKED_OFF"
    assert bridged(api, c) == b
    run(api, f"uuid_kill {c}")
    hangups(watch, b, a)


def test_api_on_answer_and_api_hangup_hook_run_their_commands(api, watch):
    parked = run(api, "originate sofia/gateway/gw/6090 &park()").split()[1]
    hooked = run(api, f"originate {{api_on_answer='uuid_setvar {parked} seen_answer yes',"
                      f"api_hangup_hook='uuid_kill {parked}'}}sofia/gateway/gw/6091 &park()").split()[1]
    assert run(api, f"uuid_getvar {parked} seen_answer") == "yes"
    run(api, f"uuid_kill {hooked}")
    # The hook runs in the hangup state, before the hooked leg's CHANNEL_HANGUP_COMPLETE.
    first = watch.wait(lambda e: e.name == "CHANNEL_HANGUP_COMPLETE" and e.headers["Unique-ID"] in (parked, hooked))
    hangup = watch.wait(lambda e: e.name == "CHANNEL_HANGUP" and e.headers["Unique-ID"] == parked)
    assert watch.seen.index(hangup) < watch.seen.index(first)
    assert hangups(watch, parked)[parked]["Hangup-Cause"] == "NORMAL_CLEARING"
    # uuid_setvar without a value unsets: a hook so removed does nothing.
    other = run(api, "originate sofia/gateway/gw/6092 &park()").split()[1]
    unhooked = run(api, f"originate {{api_hangup_hook='uuid_kill {other}'}}sofia/gateway/gw/6093 &park()").split()[1]
    assert run(api, f"uuid_setvar {unhooked} api_hangup_hook") == "+OK\n"
    run(api, f"uuid_kill {unhooked}")
    hangups(watch, unhooked)
    assert run(api, f"uuid_exists {other}") == "true"
    run(api, f"uuid_kill {other}")


def test_dual_transfer_reply_texts(api):
    usage = ("-USAGE: <uuid> <A-dest-exten>[/<A-dialplan>][/<A-context>] "
             "<B-dest-exten>[/<B-dialplan>][/<B-context>]\n")
    assert run(api, "uuid_dual_transfer") == usage
    assert run(api, f"uuid_dual_transfer {uuidlib.uuid4()} park/inline") == usage
    assert run(api, f"uuid_dual_transfer {uuidlib.uuid4()} park/inline park/inline") == "-ERR No such channel!\n"
