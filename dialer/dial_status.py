"""Seed 002's dial statuses: the one table from FreeSWITCH hangup causes to ``dial_status`` and ``call_status``.

Documented in docs/cdr.md. Read by the records (CDRs), the listener (attempt outcomes) and the reports.
"""

from __future__ import annotations


#: FreeSWITCH hangup causes (and originate ``-ERR`` causes) of calls that were NOT answered,
#: mapped to seed 002's ``dial_status``. An answered call is ``ANSWER`` whatever the cause.
DIAL_STATUS_BY_CAUSE: dict[str, str] = {
    # the called party is busy or declined
    "USER_BUSY": "BUSY",
    "CALL_REJECTED": "BUSY",
    # rang, nobody picked up
    "NO_ANSWER": "NOANSWER",
    "NO_USER_RESPONSE": "NOANSWER",
    "PROGRESS_TIMEOUT": "NOANSWER",
    "ALLOTTED_TIMEOUT": "NOANSWER",
    "RECOVERY_ON_TIMER_EXPIRE": "NOANSWER",
    # we gave up before an answer (stop/pause, uuid_kill, the originator went away)
    "ORIGINATOR_CANCEL": "CANCEL",
    "LOSE_RACE": "CANCEL",
    "PICKED_OFF": "CANCEL",
    "MANAGER_REQUEST": "CANCEL",
    "NORMAL_CLEARING": "CANCEL",
    "SYSTEM_SHUTDOWN": "CANCEL",
    # the number or the route does not exist or cannot be reached
    "UNALLOCATED_NUMBER": "CHANUNAVAIL",
    "NO_ROUTE_TRANSIT_NET": "CHANUNAVAIL",
    "NO_ROUTE_DESTINATION": "CHANUNAVAIL",
    "NUMBER_CHANGED": "CHANUNAVAIL",
    "DESTINATION_OUT_OF_ORDER": "CHANUNAVAIL",
    "INVALID_NUMBER_FORMAT": "CHANUNAVAIL",
    "SUBSCRIBER_ABSENT": "CHANUNAVAIL",
    "USER_NOT_REGISTERED": "CHANUNAVAIL",
    "INCOMPATIBLE_DESTINATION": "CHANUNAVAIL",
    "FACILITY_REJECTED": "CHANUNAVAIL",
    "FACILITY_NOT_SUBSCRIBED": "CHANUNAVAIL",
    "OUTGOING_CALL_BARRED": "CHANUNAVAIL",
    "INCOMING_CALL_BARRED": "CHANUNAVAIL",
    "BEARERCAPABILITY_NOTAVAIL": "CHANUNAVAIL",
    "BEARERCAPABILITY_NOTIMPL": "CHANUNAVAIL",
    "SERVICE_UNAVAILABLE": "CHANUNAVAIL",
    "SERVICE_NOT_IMPLEMENTED": "CHANUNAVAIL",
    "CHAN_NOT_IMPLEMENTED": "CHANUNAVAIL",
    "GATEWAY_DOWN": "CHANUNAVAIL",
    "INVALID_GATEWAY": "CHANUNAVAIL",
    "INVALID_PROFILE": "CHANUNAVAIL",
    "INVALID_URL": "CHANUNAVAIL",
    "MANDATORY_IE_MISSING": "CHANUNAVAIL",
    "MEDIA_TIMEOUT": "CHANUNAVAIL",
    "USER_CHALLENGE": "CHANUNAVAIL",
    # the network or our own switch has no capacity right now
    "NORMAL_CIRCUIT_CONGESTION": "CONGESTION",
    "SWITCH_CONGESTION": "CONGESTION",
    "NORMAL_TEMPORARY_FAILURE": "CONGESTION",
    "REQUESTED_CHAN_UNAVAIL": "CONGESTION",
    "NETWORK_OUT_OF_ORDER": "CONGESTION",
    "EXCHANGE_ROUTING_ERROR": "CONGESTION",
    "DESTINATION_CONGESTION": "CONGESTION",
    "CRASH": "CONGESTION",
}
#: A cause not in the table, on a call that was not answered.
DEFAULT_UNANSWERED_STATUS = "CHANUNAVAIL"
DIAL_STATUSES = ("ANSWER", "BUSY", "NOANSWER", "CANCEL", "CHANUNAVAIL", "CONGESTION", "DND")

#: seed 002 ``call_status`` (the Asterisk-style disposition) for each dial status.
CALL_STATUS_BY_DIAL_STATUS = {
    "ANSWER": "ANSWERED",
    "BUSY": "BUSY",
    "NOANSWER": "NO ANSWER",
    "CANCEL": "NO ANSWER",
    "CHANUNAVAIL": "FAILED",
    "CONGESTION": "CONGESTION",
    "DND": None,
}

#: ``call_direction`` and ``destination_context`` per call type, in seed 002's vocabulary.
CONTEXT_BY_CALL_TYPE = {
    "click2call": ("outbound-api", "click2call"),
    "callback": ("outbound-api", "click2call"),
    "otp": ("outbound-api", "local_call"),
    "konnect": ("outbound-api", "konnect_call"),
    "kairos": ("outbound-api", "kairos_flow"),
    "inbound": ("inbound", "inbound_ivr"),
}


def dial_status_for(cause: str | None, answered: bool) -> str:
    """Seed 002 ``dial_status`` of a call that ended with ``cause`` (see :data:`DIAL_STATUS_BY_CAUSE`)."""
    if answered:
        return "ANSWER"
    cause = (cause or "").strip().upper()
    if cause.startswith("-ERR"):
        cause = cause[4:].strip()
    return DIAL_STATUS_BY_CAUSE.get(cause, DEFAULT_UNANSWERED_STATUS)
