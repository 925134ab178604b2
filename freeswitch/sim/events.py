"""Events as FreeSWITCH builds them: the common header block, then event-specific headers, then a body.

An :class:`SimEvent` is built once and serialized at most once per format
(plain, json, xml), however many listeners receive it.
"""

from __future__ import annotations

import itertools
import math
import time
from operator import itemgetter
from typing import Iterable
from xml.sax.saxutils import escape as _xml_escape

from freeswitch import wire

# Where FreeSWITCH 1.10.12 fires each event (the Event-Calling-* headers), as captured.
CALLING = {
    "API": ("switch_loadable_module.c", "switch_api_execute", "2954"),
    "BACKGROUND_JOB": ("mod_event_socket.c", "api_exec", "1572"),
    "CALL_UPDATE": ("switch_channel.c", "switch_channel_flip_cid", "3277"),
    "CHANNEL_ANSWER": ("switch_channel.c", "switch_channel_perform_mark_answered", "3846"),
    "CHANNEL_PROGRESS": ("switch_channel.c", "switch_channel_perform_mark_ring_ready_value", "3606"),
    "CHANNEL_PROGRESS_MEDIA": ("switch_channel.c", "switch_channel_perform_mark_pre_answered", "3703"),
    "CHANNEL_CALLSTATE": ("switch_channel.c", "switch_channel_perform_set_callstate", "301"),
    "CHANNEL_CREATE": ("switch_core_state_machine.c", "switch_core_session_run", "626"),
    "CHANNEL_DESTROY": ("switch_core_session.c", "switch_core_session_perform_destroy", "1584"),
    "CHANNEL_EXECUTE": ("switch_core_session.c", "switch_core_session_exec", "2944"),
    "CHANNEL_EXECUTE_COMPLETE": ("switch_core_session.c", "switch_core_session_exec", "2967"),
    "CHANNEL_HANGUP": ("switch_channel.c", "switch_channel_perform_hangup", "3445"),
    "CHANNEL_HANGUP_COMPLETE": ("switch_core_state_machine.c", "switch_core_session_reporting_state", "943"),
    "CHANNEL_ORIGINATE": ("switch_core_state_machine.c", "switch_core_session_run", "632"),
    "CHANNEL_OUTGOING": ("switch_core_session.c", "switch_core_session_outgoing_channel", "768"),
    "CHANNEL_PARK": ("switch_ivr.c", "switch_ivr_park", "1002"),
    "CHANNEL_UNPARK": ("switch_ivr.c", "switch_ivr_park", "1213"),
    "CHANNEL_STATE": ("switch_channel.c", "switch_channel_perform_set_running_state", "2408"),
    "CHANNEL_BRIDGE": ("switch_ivr_bridge.c", "audio_bridge_on_exchange_media", "382"),
    "CHANNEL_UNBRIDGE": ("switch_ivr_bridge.c", "audio_bridge_on_exchange_media", "513"),
    "CHANNEL_DATA": ("mod_event_socket.c", "parse_command", "2021"),
    "DTMF": ("switch_channel.c", "switch_channel_dequeue_dtmf", "677"),
    "HEARTBEAT": ("switch_core.c", "send_heartbeat", "95"),
    "PLAYBACK_START": ("switch_ivr_play_say.c", "switch_ivr_play_file", "1646"),
    "PLAYBACK_STOP": ("switch_ivr_play_say.c", "switch_ivr_play_file", "2020"),
    "RECORD_START": ("switch_ivr_async.c", "record_callback", "1291"),
    "RECORD_STOP": ("switch_ivr_async.c", "record_callback", "1435"),
    "CHANNEL_APPLICATION": ("switch_ivr.c", "switch_ivr_parse_event", "351"),
}
_DEFAULT_CALLING = ("switch_event.c", "switch_event_fire_detailed", "2040")

# Every event type FreeSWITCH 1.10 knows by name (switch_event.c EVENT_NAMES), for `event`/`nixevent`.
EVENT_NAMES = frozenset("""
CUSTOM CLONE CHANNEL_CREATE CHANNEL_DESTROY CHANNEL_STATE CHANNEL_CALLSTATE CHANNEL_ANSWER CHANNEL_HANGUP
CHANNEL_HANGUP_COMPLETE CHANNEL_EXECUTE CHANNEL_EXECUTE_COMPLETE CHANNEL_HOLD CHANNEL_UNHOLD CHANNEL_BRIDGE
CHANNEL_UNBRIDGE CHANNEL_PROGRESS CHANNEL_PROGRESS_MEDIA CHANNEL_OUTGOING CHANNEL_PARK CHANNEL_UNPARK
CHANNEL_APPLICATION CHANNEL_ORIGINATE CHANNEL_UUID API LOG INBOUND_CHAN OUTBOUND_CHAN STARTUP SHUTDOWN PUBLISH
UNPUBLISH TALK NOTALK SESSION_CRASH MODULE_LOAD MODULE_UNLOAD DTMF MESSAGE PRESENCE_IN NOTIFY_IN PRESENCE_OUT
PRESENCE_PROBE MESSAGE_WAITING MESSAGE_QUERY ROSTER CODEC BACKGROUND_JOB DETECTED_SPEECH DETECTED_TONE
PRIVATE_COMMAND HEARTBEAT TRAP ADD_SCHEDULE DEL_SCHEDULE EXE_SCHEDULE RE_SCHEDULE RELOADXML NOTIFY PHONE_FEATURE
PHONE_FEATURE_SUBSCRIBE SEND_MESSAGE RECV_MESSAGE REQUEST_PARAMS CHANNEL_DATA GENERAL COMMAND SESSION_HEARTBEAT
CLIENT_DISCONNECTED SERVER_DISCONNECTED SEND_INFO RECV_INFO RECV_RTCP_MESSAGE SEND_RTCP_MESSAGE CALL_SECURE NAT
RECORD_START RECORD_STOP PLAYBACK_START PLAYBACK_STOP CALL_UPDATE FAILURE SOCKET_DATA MEDIA_BUG_START
MEDIA_BUG_STOP CONFERENCE_DATA_QUERY CONFERENCE_DATA CALL_SETUP_REQ CALL_SETUP_RESULT CALL_DETAIL DEVICE_STATE
TEXT SHUTDOWN_REQUESTED ALL
""".split())

_sequence = itertools.count(1)


class Identity:
    """What every event says about the switch that fired it."""

    def __init__(self, core_uuid: str, hostname: str, ipv4: str = "127.0.0.1", ipv6: str = "::1"):
        self.core_uuid = core_uuid
        self.hostname = hostname
        self.ipv4 = ipv4
        self.ipv6 = ipv6


class SimEvent:
    """One fired event: ordered (name, value) headers, an optional body, cached serializations."""

    __slots__ = ("name", "headers", "body", "uuid", "_cache", "_names")

    def __init__(self, name: str, headers: list, body: str | None = None, uuid: str | None = None):
        self.name = name
        self.headers = headers  # not changed once the event is fired
        self.body = body
        self.uuid = uuid  # the channel it concerns (for myevents / session listeners)
        self._cache: dict[str, bytes] = {}
        self._names: str | None = None

    def get(self, name: str, default: str | None = None) -> str | None:
        """The first header called ``name`` (case-insensitive), or ``default``."""
        low = name.lower()
        names = self._names
        if names is None:
            # Every listener's filters ask for headers (often one near the end, a variable_*): the names,
            # lowercased once per event, one per line, make a lookup one find() instead of a loop in Python.
            names = "\n" + "\n".join(map(itemgetter(0), self.headers)).lower() + "\n"
            if names.count("\n") != len(self.headers) + 1:
                names = ""  # a name holding a line break (or no header at all): search one by one
            self._names = names
        if names and "\n" not in low:
            at = names.find("\n" + low + "\n")
            return default if at < 0 else self.headers[names.count("\n", 0, at)][1]
        for k, v in self.headers:
            if k.lower() == low:
                return v
        return default

    def frame(self, fmt: str) -> bytes:
        """The whole frame for a listener in ``fmt`` (plain, json or xml)."""
        cached = self._cache.get(fmt)
        if cached is None:
            if fmt == "json":
                payload = wire.serialize_event_json(self.headers, self.body)
            elif fmt == "xml":
                payload = serialize_event_xml(self.headers, self.body)
            else:
                payload = wire.serialize_event_plain(self.headers, self.body)
            cached = self._cache[fmt] = wire.event_frame(payload, fmt)
        return cached


def serialize_event_xml(headers: Iterable[tuple[str, str]], body: str | None = None) -> bytes:
    """An event as ``switch_event_xmlize`` + ``switch_xml_toxml`` write it (values URL-encoded)."""
    lines = ["<event>", "  <headers>"]
    for name, value in headers:
        lines.append(f"    <{name}>{wire.url_encode(value)}</{name}>")
    lines.append("  </headers>")
    if body:
        lines.append(f"  <Content-Length>{len(body.encode('utf-8'))}</Content-Length>")
        lines.append(f"  <body>{_xml_escape(body)}  </body>")
    lines.append("</event>")
    return ("\n".join(lines) + "\n").encode("utf-8")


_last_dates: tuple[int, str, str] = (-1, "", "")


def _date_texts(now: float) -> tuple[str, str]:
    """Event-Date-Local and Event-Date-GMT for ``now``: to the second, so the last second's are reused."""
    global _last_dates
    second = math.floor(now)  # localtime()/gmtime() round a float down to the second
    if _last_dates[0] != second:
        _last_dates = (second, time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(now)),
                       time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(now)))
    return _last_dates[1], _last_dates[2]


def date_headers(now: float) -> list[tuple[str, str]]:
    """Event-Date-Local / -GMT / -Timestamp for simulated time ``now``."""
    local, gmt = _date_texts(now)
    return [
        ("Event-Date-Local", local),
        ("Event-Date-GMT", gmt),
        ("Event-Date-Timestamp", str(int(now * 1_000_000))),
    ]


def common_headers(identity: Identity, name: str, now: float, subclass: str | None = None) -> list[tuple[str, str]]:
    """The block every FreeSWITCH event starts with, in FreeSWITCH's order."""
    calling = CALLING.get(name, _DEFAULT_CALLING)
    local, gmt = _date_texts(now)
    headers = [("Event-Name", name)]
    if subclass:
        headers.append(("Event-Subclass", subclass))
    headers += [
        ("Core-UUID", identity.core_uuid),
        ("FreeSWITCH-Hostname", identity.hostname),
        ("FreeSWITCH-Switchname", identity.hostname),
        ("FreeSWITCH-IPv4", identity.ipv4),
        ("FreeSWITCH-IPv6", identity.ipv6),
        ("Event-Date-Local", local),
        ("Event-Date-GMT", gmt),
        ("Event-Date-Timestamp", str(int(now * 1_000_000))),
        ("Event-Calling-File", calling[0]),
        ("Event-Calling-Function", calling[1]),
        ("Event-Calling-Line-Number", calling[2]),
        ("Event-Sequence", str(next(_sequence))),
    ]
    return headers
