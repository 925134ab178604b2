"""Live-call control for seed 002 ``modify_call``: ESL commands on the call's own FreeSWITCH node.

A short-lived inbound ESL connection is opened to the node the call runs on
(its ``host:port`` from the attempt; the password from FREESWITCH_NODES), the
commands are sent, and the connection is closed. Control requests are rare, so a
dedicated connection costs little and cannot disturb the dialer's event
connection.

``channel`` is the call's uniqueid: the leg the dialer originated, which the IVR
runtime drives over ``socket ... async full``. For click2call (and callback) that
leg is the agent's and the customer is the party its ``<dial>`` bridged; for
every other call it is the customer's, and the other party (if any) is whoever
the app's ``<dial>`` bridged. The partner is read from the leg's ``bridge_to``.

``modify_type``:

* 0, blind transfer: the customer is moved to ``transfer_to`` —
  ``uuid_transfer <customer> 'bridge:<target>' inline``. FreeSWITCH ends the
  customer's bridge: a partner that was the bridge's B leg (the agent of an IVR
  ``<dial>``) is hung up, a partner that was the A leg (the click2call agent)
  carries on with its app, which ends. A customer in the IVR with nobody bridged
  is moved too. The IVR runtime lets go of a leg that leaves its socket.
* 1, attended transfer: the agent consults ``transfer_to`` while the customer
  waits; the agent hanging up (or pressing ``*``) bridges the customer to the
  target; ``#`` (or the target hanging up, or not answering) takes the agent
  back to the customer. FreeSWITCH's ``att_xfer`` does it, run on the agent:

  - when the agent is its bridge's B leg (an IVR call's ``<dial>``):
    ``uuid_broadcast <agent> 'att_xfer::<target>' aleg``, inside that bridge;
  - when the agent is the A leg (click2call, callback: the agent's leg runs the
    ``bridge``), not inside it: switch_ivr_multi_threaded_bridge, once an A leg's
    side of a bridge is over, waits while its B leg is in CS_EXCHANGE_MEDIA, and
    the customer att_xfer hands to the target is, as the B leg of that new
    bridge — the agent's session (its CHANNEL_HANGUP_COMPLETE, the CDR, the IVR
    runtime's facts) would wait for the customer's whole call with the target.
    So ``uuid_dual_transfer`` first takes both out of the bridge: the customer
    to ``park``, the agent to an inline extension that runs ``att_xfer`` with the
    customer as its held party (``signal_bond``), then — the target did not
    answer — ``intercept`` of the customer. Before that the agent gets
    ``api_hangup_hook=uuid_kill <customer>``, which the target's answer removes
    (its ``api_on_answer``), so that an agent hanging up while the target still
    rings does not leave the customer parked (see :func:`attended_commands`).

* 2, hangup (``uuid_kill``); 3, start recording into RECORDINGS_DIR (``uuid_record``).

A transfer needs a customer to move (and, for 1, an agent bridged to it):
otherwise the answer is 409. A channel FreeSWITCH no longer has is 404.
"""

from __future__ import annotations

import re
import socket
from typing import Any

from api import store
from api.errors import ApiError
from dialer.numbers import dial_number

ESL_TIMEOUT = 5.0


def _node_password(node: str | None) -> tuple[str, int, str]:
    from freeswitch.inbound import parse_node

    entries = [parse_node(p) for p in store.cfg().freeswitch_nodes.split(",") if p.strip()]
    for entry in entries:
        if node is None or f"{entry['host']}:{entry['port']}" == node:
            return entry["host"], entry["port"], entry["password"]
    raise ApiError(f"the call's FreeSWITCH node {node!r} is not configured", kind="unavailable")


def dial_target(transfer_to: str) -> str:
    """A dial string for ``transfer_to``: short digits are SIP users, numbers go via IVR_DIAL_ENDPOINT.

    A number is written as the carrier wants it (DIALER_NUMBER_FORMAT), like every other dial string.
    """
    if re.fullmatch(r"\d{2,6}", transfer_to):
        return f"user/{transfer_to}"
    cfg = store.cfg()
    endpoint = cfg.ivr_dial_endpoint or "loopback/{number}/default"
    number = dial_number(transfer_to, cfg.dialer_number_format, cfg.default_region)
    return endpoint.replace("{number}", number) if "{number}" in endpoint else f"{endpoint}{number}"


#: Call types whose originated leg is the agent's (the customer is the party its <dial> bridged).
AGENT_FIRST = frozenset({"click2call", "callback"})

#: How mod_commands says that a uuid names no channel (uuid_getvar/transfer/kill, uuid_broadcast, uuid_record).
_NO_CHANNEL = ("no such channel", "invalid uuid", "cannot locate session", "no such session")


def _inline(app: str, target: str) -> str:
    """An inline extension running ``app`` with ``target``; ``m:^:`` when the target holds the ``,`` separator."""
    return f"m:^:{app}:{target}" if "," in target else f"{app}:{target}"


def transfer_commands(call_type: str, channel: str, partner: str | None, modify_type: str, target: str,
                     consulting: bool = False) -> list[str]:
    """The ESL commands of a blind (``"0"``) or attended (``"1"``) transfer; ApiError (409) when it cannot be done.

    ``partner`` is the uuid bridged to ``channel`` (its ``bridge_to``), or None; ``consulting``: the
    agent is in an attended transfer already (then its partner is the target it consults, and the
    customer is on hold until that transfer completes or is cancelled).
    """
    if consulting:
        raise ApiError(f"channel {channel!r}: an attended transfer of this call is in progress; it completes when "
                       f"the agent hangs up", kind="conflict", field="channel")
    customer, agent = (partner, channel) if call_type in AGENT_FIRST else (channel, partner)
    if modify_type == "0":
        if customer is None:
            raise ApiError(f"channel {channel!r}: the customer is not connected yet, there is nobody to transfer",
                           kind="conflict", field="channel")
        return [f"uuid_transfer {customer} '{_inline('bridge', target)}' inline"]
    if customer is None or agent is None:
        raise ApiError(f"channel {channel!r}: an attended transfer needs the call connected to a second party, "
                       f"and it has none", kind="conflict", field="channel")
    if call_type in AGENT_FIRST:
        return attended_commands(agent, customer, target)
    return [f"uuid_broadcast {agent} 'att_xfer::{target}' aleg"]


def attended_commands(agent: str, customer: str, target: str) -> list[str]:
    """An attended transfer by an agent that is the A leg of its bridge with the customer (see the module doc).

    1. ``api_hangup_hook=uuid_kill <customer>`` on the agent: an agent who hangs up before the target
       answers takes the waiting customer along (FreeSWITCH would have hung the customer up with the
       bridge). Set before anything moves, so that no moment is without it.
    2. ``uuid_dual_transfer``: the customer (the agent's partner) to ``park``, the agent to ``att_xfer``
       with the customer as its held party. The target's ``api_on_answer`` removes the hook: from then on
       the agent hanging up is what hands the customer over. If the target does not answer, the agent
       takes the customer back (``intercept``); ``#`` or the target hanging up bridges them back already.

    The agent leaves its socket here (the IVR runtime lets go of it); the customer is on nobody's
    bridge while parked, so no session waits on its state.
    """
    unhook = f"api_on_answer=uuid_setvar {agent} api_hangup_hook"
    consult = f"{{{unhook},{target[1:]}" if target.startswith("{") else f"{{{unhook}}}{target}"
    agent_exten = (f"m:^:set:signal_bond={customer}^att_xfer:{consult}^unset:api_hangup_hook"
                   f"^intercept:{customer}")
    return [f"uuid_setvar {agent} api_hangup_hook uuid_kill {customer}",
            f"uuid_dual_transfer {agent} '{agent_exten}/inline' 'park/inline'"]


def command_for(channel: str, modify_type: str) -> tuple[str, str, dict[str, Any]]:
    """(ESL api command, success message, extra answer fields) for a hangup (``"2"``) or recording (``"3"``)."""
    if modify_type == "2":
        return f"uuid_kill {channel} NORMAL_CLEARING", "call hangup successfully", {}
    import os

    name = f"{channel}.wav"
    path = os.path.join(os.path.abspath(store.cfg().path(store.cfg().recordings_dir)), name)
    from api.recordings import recording_url

    return (f"uuid_record {channel} start {path}", "call recording started successfully",
            {"recording_name": name, "recording_url": recording_url(name)})


TRANSFER_MESSAGES = {"0": "blind transferred successfully", "1": "attended transfer started successfully"}


class _Node:
    """One short-lived inbound ESL connection; FreeSWITCH's ``-ERR``/``-USAGE`` answers become ApiErrors."""

    def __init__(self, node: str | None, channel: str):
        from freeswitch.inbound import InboundClient

        self.channel = channel
        host, port, password = _node_password(node)
        self.where = f"{host}:{port}"
        try:  # a node that refuses connections answers at once, instead of after the ESL wait
            socket.create_connection((host, port), timeout=ESL_TIMEOUT).close()
        except OSError as exc:
            raise ApiError(f"FreeSWITCH at {self.where} does not answer ({exc.strerror or exc})",
                           kind="unavailable") from None
        self.client = InboundClient(host, port, password, send_timeout=ESL_TIMEOUT, connect_timeout=ESL_TIMEOUT,
                                    name=f"modify_call {self.where}")

    def __enter__(self) -> "_Node":
        self.client.start()
        if not self.client.wait_connected(ESL_TIMEOUT):
            self.client.stop()
            raise ApiError(f"FreeSWITCH at {self.where} does not answer", kind="unavailable")
        return self

    def __exit__(self, *exc) -> None:
        self.client.stop()

    def api(self, command: str) -> str:
        """The command's answer; ApiError for a refusal (404 when the channel is gone)."""
        from freeswitch.inbound import ESLError

        try:
            reply = self.client.api(command, timeout=ESL_TIMEOUT).strip()
        except ESLError as exc:
            raise ApiError(f"FreeSWITCH: {exc}", kind="unavailable") from None
        if reply.startswith("-ERR") or reply.startswith("-USAGE"):
            if any(text in reply.lower() for text in _NO_CHANNEL):
                raise ApiError(f"channel {self.channel!r}: FreeSWITCH has no such channel (the call has ended)",
                               kind="not_found", field="channel")
            raise ApiError(f"FreeSWITCH refused: {reply[:200]}", kind="conflict", field="channel")
        return reply

    def var(self, uuid: str, name: str, *, gone_ok: bool = False) -> str | None:
        """A channel variable (None when unset; with ``gone_ok`` also when ``uuid`` is no channel)."""
        try:
            value = self.api(f"uuid_getvar {uuid} {name}")
        except ApiError as exc:
            if gone_ok and exc.kind == "not_found":
                return None
            raise
        return None if value in ("", "_undef_") else value


def modify(node: str | None, channel: str, modify_type: str, transfer_to: str | None,
           call_type: str = "") -> tuple[str, dict]:
    """Carry out one modify_call on the call's node; (message, extra answer fields) or ApiError.

    ``call_type`` is the attempt's: it says whose leg ``channel`` is (see :data:`AGENT_FIRST`).
    """
    if not re.fullmatch(r"[A-Za-z0-9\-]{8,64}", channel):
        raise ApiError("channel: must be the call's uniqueid (channel UUID)", field="channel")
    with _Node(node, channel) as esl:
        if modify_type in TRANSFER_MESSAGES:
            target = dial_target(transfer_to or "")
            partner = esl.var(channel, "bridge_to")
            agent = channel if call_type in AGENT_FIRST else partner
            # att_xfer marks the transferer with the party it holds (soft_holding_uuid) while it consults.
            consulting = agent is not None and esl.var(agent, "soft_holding_uuid", gone_ok=True) is not None
            commands = transfer_commands(call_type, channel, partner, modify_type, target, consulting)
            done = 0
            try:
                for command in commands:
                    esl.api(command)
                    done += 1
            except ApiError:
                if done:
                    # The agent's hook is on but it was not transferred: it must not take the customer along.
                    try:
                        esl.api(f"uuid_setvar {agent} api_hangup_hook")
                    except ApiError:
                        pass
                raise
            return TRANSFER_MESSAGES[modify_type], {}
        command, message, extra = command_for(channel, modify_type)
        esl.api(command)
        return message, extra
