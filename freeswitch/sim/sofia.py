"""What mod_sofia does to a SIP channel that the core does not: its name, its profile variables, and the
variables that say how the SIP dialog ended.

* A call arriving on the profile is named ``sofia/<profile>/<from user>@<from host>``; its caller id name is
  the From header's display name, else its user part (as is ``Caller-Username``); ``endpoint_disposition``
  is ``DELAYED NEGOTIATION`` (inbound-late-negotiation) until ``answer``, which sends early media first
  (``EARLY MEDIA``, CHANNEL_PROGRESS_MEDIA) and then answers.
* A gateway leg (``sofia/gateway/<gw>/<number>``) is named ``sofia/<the gateway's profile>/<number>``
  (sofia_glue_set_name; the shipped configuration's gateway ``vaani_trunk`` is in profile ``vaani``);
  ``sip_profile_name`` is the word after ``sofia/`` in the dial string (``gateway``), ``sofia_profile_name``
  and ``recovery_profile_name`` the profile itself.
* A final response >= 300 from the far end (sofia_handle_sip_r_invite, then the terminated call state):
  ``sip_hangup_disposition=recv_refuse``, ``sip_invite_failure_status``/``_phrase``, ``sip_term_status``,
  ``proto_specific_hangup_cause=sip:<status>``, ``sip_term_cause`` (the Q.850 cause).
* A BYE from the far end (sofia_handle_sip_i_bye): ``sip_term_status=200``, ``proto_specific_hangup_cause
  =sip:200``, ``sip_term_cause``, ``sip_hangup_disposition=recv_bye``; a CANCEL of an inbound call:
  ``recv_cancel`` with ``sip_invite_failure_status=487`` (``CANCEL``).
* Our side ending it (sofia_on_hangup, in the channel's CS_HANGUP state, so not yet on CHANNEL_HANGUP):
  ``send_bye`` once answered; before the answer ``send_cancel`` (with ``sip_invite_failure_status=487``,
  ``CANCEL``) on an outbound leg, ``send_refuse`` on an inbound one.
"""

from __future__ import annotations

#: The profile the dial string's gateways belong to (sip_profiles/vaani.xml holds gateway vaani_trunk).
GATEWAY_PROFILE = "vaani"
#: The port of its URL (vars_vaani.xml's vaani_sip_port), for sofia_profile_url.
GATEWAY_PROFILE_PORT = 5090

#: The response a far end gives for each failure cause the scenarios use (the inverse of
#: sofia_glue_sip_cause_to_freeswitch, with the usual reason phrases).
FAILURE_RESPONSES = {
    "USER_BUSY": (486, "Busy Here"),
    "UNALLOCATED_NUMBER": (404, "Not Found"),
    "CALL_REJECTED": (603, "Decline"),
    "NO_USER_RESPONSE": (480, "Temporarily Unavailable"),
    "NORMAL_TEMPORARY_FAILURE": (503, "Service Unavailable"),
    "NORMAL_CIRCUIT_CONGESTION": (503, "Service Unavailable"),
    "NO_ROUTE_DESTINATION": (604, "Does Not Exist Anywhere"),
    "INVALID_NUMBER_FORMAT": (484, "Address Incomplete"),
    "NETWORK_OUT_OF_ORDER": (502, "Bad Gateway"),
    "RECOVERY_ON_TIMER_EXPIRE": (408, "Request Timeout"),
    "INCOMPATIBLE_DESTINATION": (488, "Not Acceptable Here"),
    "SERVICE_UNAVAILABLE": (405, "Method Not Allowed"),
    "NUMBER_CHANGED": (410, "Gone"),
}


def gateway_channel_name(number: str) -> str:
    """The name sofia gives a leg through one of the gateways (anything after ';' cut off)."""
    return f"sofia/{GATEWAY_PROFILE}/{number}".split(";", 1)[0]


def inbound_channel_name(caller: str, host: str = "127.0.0.1") -> str:
    """The name of a call that arrives on the profile: the From header's user@host."""
    return f"sofia/{GATEWAY_PROFILE}/{caller}@{host}"


def is_sofia(channel) -> bool:
    """A SIP leg (not loopback, not error/)."""
    return channel.name.startswith("sofia/")


def far_end_refused(channel, cause: str) -> None:
    """The far end answered the INVITE with a failure: the variables sofia sets before the hangup."""
    from freeswitch.sim.channel import Q850

    if not is_sofia(channel):
        return
    channel.set_var("sip_hangup_disposition", "recv_refuse")
    response = FAILURE_RESPONSES.get(cause)
    if response is None:
        return
    status, phrase = response
    channel.set_vars([("sip_invite_failure_status", str(status)), ("sip_invite_failure_phrase", phrase),
                      ("sip_term_status", str(status)), ("proto_specific_hangup_cause", f"sip:{status}"),
                      ("sip_term_cause", str(Q850.get(cause, 0)))])


def far_end_hung_up(channel) -> None:
    """A BYE (answered) or a CANCEL (an inbound call not answered yet) from the far end, before the hangup."""
    from freeswitch.sim.channel import Q850

    if not is_sofia(channel):
        return
    if channel.answered:
        channel.set_vars([("sip_term_status", "200"), ("proto_specific_hangup_cause", "sip:200"),
                          ("sip_term_cause", str(Q850["NORMAL_CLEARING"]))])
    elif channel.profile.direction == "inbound":
        channel.set_vars([("sip_hangup_disposition", "recv_cancel"), ("sip_invite_failure_status", "487"),
                          ("sip_invite_failure_phrase", "CANCEL")])
    else:
        channel.set_var("sip_hangup_disposition", "recv_refuse")


def after_far_end_hangup(channel) -> None:
    """sofia_handle_sip_i_bye notes the BYE last, after the hangup it caused (not on CHANNEL_HANGUP)."""
    if is_sofia(channel) and channel.answered and channel.get_var("sip_hangup_disposition") is None:
        channel.set_var("sip_hangup_disposition", "recv_bye")


def answer_inbound(channel) -> None:
    """sofia answering a call that arrived with late negotiation: media first (183), then the 200."""
    if is_sofia(channel) and channel.profile.direction == "inbound" and not channel.early and not channel.answered:
        channel.set_var("endpoint_disposition", "EARLY MEDIA")
        channel.pre_answer()


def on_hangup(channel) -> None:
    """sofia_on_hangup: what our side sends when it ends the dialog (nothing when the far end did)."""
    if not is_sofia(channel) or channel.get_var("sip_hangup_disposition") is not None:
        return
    if channel.answered:
        channel.set_var("sip_hangup_disposition", "send_bye")
    elif channel.profile.direction == "inbound":
        channel.set_var("sip_hangup_disposition", "send_refuse")
    else:
        channel.set_vars([("sip_hangup_disposition", "send_cancel"), ("sip_invite_failure_status", "487"),
                          ("sip_invite_failure_phrase", "CANCEL")])
