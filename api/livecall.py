"""Live-call control for seed 002 ``modify_call``: ESL commands on the call's own FreeSWITCH node.

A short-lived inbound ESL connection is opened to the node the call runs on
(its ``host:port`` from the attempt; the password from FREESWITCH_NODES), one
``api`` command is sent, and the connection is closed. Control requests are
rare, so a dedicated connection costs little and cannot disturb the dialer's
event connection.

``modify_type``: 0 blind transfer (the other party of ``channel`` is sent to
``transfer_to``), 1 attended transfer (the agent consults ``transfer_to``
through ``att_xfer`` and completes by hanging up), 2 hangup, 3 start recording
into RECORDINGS_DIR.
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


def command_for(channel: str, modify_type: str, transfer_to: str | None) -> tuple[str, str, dict[str, Any]]:
    """(ESL api command, success message, extra answer fields) for one modify_call request."""
    if modify_type == "0":
        target = transfer_to or ""
        if re.fullmatch(r"\d{2,6}", target):
            return (f"uuid_transfer {channel} -bleg {target} XML default", "blind transferred successfully", {})
        return (f"uuid_transfer {channel} -bleg 'bridge:{dial_target(target)}' inline",
                "blind transferred successfully", {})
    if modify_type == "1":
        return (f"uuid_transfer {channel} -bleg 'att_xfer:{dial_target(transfer_to or '')}' inline",
                "attended transfer started successfully", {})
    if modify_type == "2":
        return f"uuid_kill {channel} NORMAL_CLEARING", "call hangup successfully", {}
    import os

    name = f"{channel}.wav"
    path = os.path.join(os.path.abspath(store.cfg().path(store.cfg().recordings_dir)), name)
    from api.recordings import recording_url

    return (f"uuid_record {channel} start {path}", "call recording started successfully",
            {"recording_name": name, "recording_url": recording_url(name)})


def modify(node: str | None, channel: str, modify_type: str, transfer_to: str | None) -> tuple[str, dict]:
    """Run the command on the call's node; (message, extra fields) or ApiError."""
    from freeswitch.inbound import ESLError, InboundClient

    if not re.fullmatch(r"[A-Za-z0-9\-]{8,64}", channel):
        raise ApiError("channel: must be the call's uniqueid (channel UUID)", field="channel")
    command, message, extra = command_for(channel, modify_type, transfer_to)
    host, port, password = _node_password(node)
    try:  # a node that refuses connections answers at once, instead of after the ESL wait
        socket.create_connection((host, port), timeout=ESL_TIMEOUT).close()
    except OSError as exc:
        raise ApiError(f"FreeSWITCH at {host}:{port} does not answer ({exc.strerror or exc})",
                       kind="unavailable") from None
    client = InboundClient(host, port, password, send_timeout=ESL_TIMEOUT, connect_timeout=ESL_TIMEOUT,
                           name=f"modify_call {host}:{port}")
    client.start()
    try:
        if not client.wait_connected(ESL_TIMEOUT):
            raise ApiError(f"FreeSWITCH at {host}:{port} does not answer", kind="unavailable")
        reply = client.api(command, timeout=ESL_TIMEOUT).strip()
    except ESLError as exc:
        raise ApiError(f"FreeSWITCH: {exc}", kind="unavailable") from None
    finally:
        client.stop()
    if reply.startswith("-ERR") or reply.startswith("-USAGE"):
        raise ApiError(f"FreeSWITCH refused: {reply[:200]}", kind="conflict", field="channel")
    return message, extra
