"""What a call should do, and what it did: the contract between the dialer and the IVR runtime.

The dialer (or the API, for click2call and OTP) describes each outbound call as
a :class:`CallSpec` and puts it on the channel at originate time as the channel
variable ``vaani_call``. FreeSWITCH carries it to the IVR runtime, which reads
it from the ``connect`` reply (``variable_vaani_call``). Nothing else travels
between the two processes for a call's set-up, so a runtime on another host
needs no database access.

When the call ends the runtime reports a :class:`CallFacts` (what was pressed,
recorded, dialed; what failed) to the dialer as an RQ job, see
:data:`FACTS_JOB`.

The value is base64url-encoded JSON: an originate string treats ``,`` ``'``
``"`` ``{}`` ``[]`` and spaces specially, and base64url contains none of them.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any

def _plain(value: Any) -> Any:
    """``value`` as JSON-ready plain data (dataclasses to dicts, containers copied), like ``asdict``."""
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "__dataclass_fields__"):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    return value


#: Channel variable carrying the encoded CallSpec.
CALL_VAR = "vaani_call"
#: Plain channel variables the dialer also sets, so ESL event filters and CDRs can use them.
REQUEST_ID_VAR = "vaani_request_id"
ATTEMPT_ID_VAR = "vaani_attempt_id"
#: Dotted name of the RQ job the runtime enqueues with ``CallFacts.to_dict()`` when a call ends.
FACTS_JOB = "dialer.records.ivr_call_finished"
#: Suffix of the RQ queue that job goes to: ``f"{key_prefix}-records"``.
FACTS_QUEUE_SUFFIX = "records"

CALL_TYPES = ("campaign", "click2call", "callback", "otp", "konnect", "kairos", "inbound")
#: The dialect the app's document is in; ``auto``: detected from the first document (docs/ivr.md, "Which
#: parameters an app receives"). A value the runtime does not know is read as ``auto``.
DIALECT_AUTO = "auto"
DIALECTS = ("kookoo", "kml", "twiml", "plivo", DIALECT_AUTO)


class CallSpecError(ValueError):
    """A ``vaani_call`` value that cannot be decoded into a CallSpec."""


@dataclass
class Announcement:
    """A built-in announcement app: campaign type 0 or Konnect ``media_url``.

    Exactly one of ``media_url`` and ``text`` is set. ``text`` may hold
    ``{field}`` placeholders filled from ``CallSpec.fields``.
    """

    media_url: str | None = None
    text: str | None = None
    repeat: int = 1
    voice: str | None = None
    language: str | None = None


@dataclass
class Otp:
    """A built-in OTP app (seed 002 ``outbound_call``): ``text`` spoken ``repeat`` times."""

    text: str
    repeat: int = 1
    voice: str | None = None
    volume: str | None = None
    rate: str | None = None
    pitch: str | None = None
    language_code: str | None = None
    tts_engine_type: str | None = None


@dataclass
class ClickToCall:
    """A built-in click2call app: the answered leg is the agent; bridge to ``destination``."""

    destination: str
    caller_id: str | None = None
    recording_option: str = "off"  # both | agent | customer | off
    timeout: int = 45
    #: seed 002 ``transcript``: on → the call is recorded (both sides when recording_option is off) and
    #: transcribed after it ends (dialer/transcripts.py).
    transcript: str = "off"


#: What an agent campaign's call does on a machine (``AgentCall.machine_action``).
MACHINE_ACTIONS = ("hangup", "message")
#: Dial modes of agent campaigns (``AgentCall.mode``).
AGENT_MODES = ("preview", "progressive", "predictive")


@dataclass
class AgentCall:
    """A built-in agent-campaign call (:mod:`ivr.agent_call`): detect a machine, reach an agent, wrap up.

    The contact's fields (screen pop, safe-harbour placeholders) are
    ``CallSpec.fields``. Times are seconds. ``safe_harbour_text`` may hold
    ``{caller_id}`` and ``{field}`` placeholders; with neither it nor
    ``safe_harbour_url`` the runtime speaks a default naming the caller ID.
    """

    campaign_id: str
    mode: str = "progressive"
    amd: bool = False
    machine_action: str = "hangup"
    #: The message left on a machine after its beep (machine_action ``message``).
    message: Announcement | None = None
    safe_harbour_text: str | None = None
    safe_harbour_url: str | None = None
    #: How long a person may wait for an agent to be reserved (the 2-second rule).
    connect_wait: float = 2.0
    wrap_up_seconds: int = 10
    #: Screen-pop webhook, POSTed as JSON when an agent is reached.
    agent_url: str | None = None
    #: Preview mode: the agent who accepted the contact, already reserved for this call.
    reserved_agent_id: str | None = None
    #: Record the customer–agent conversation (both sides, stereo).
    record: bool = False

    def to_dict(self) -> dict[str, Any]:
        """Only what differs from the defaults: the spec rides in a channel variable."""
        out: dict[str, Any] = {}
        for f in fields(self):
            v = getattr(self, f.name)
            if f.name != "campaign_id" and (v is None or v == f.default):
                continue
            v = _plain(v)
            out[f.name] = {k: x for k, x in v.items() if x is not None} if isinstance(v, dict) else v
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "AgentCall":
        """Rebuild from :meth:`to_dict` output; unknown keys are ignored, ``message`` becomes an Announcement."""
        known = {f.name for f in fields(cls)}
        kwargs = {k: v for k, v in data.items() if k in known}
        if isinstance(kwargs.get("message"), dict):
            kwargs["message"] = _sub(Announcement, kwargs["message"])
        if "campaign_id" not in kwargs:
            raise CallSpecError("agent call has no campaign_id")
        return cls(**kwargs)


def _sub(kind, data: dict[str, Any]):
    """A nested dataclass from its dict, unknown keys ignored."""
    sub_known = {f.name for f in fields(kind)}
    try:
        return kind(**{k: v for k, v in data.items() if k in sub_known})
    except TypeError as exc:  # a required field missing
        raise CallSpecError(f"{kind.__name__}: {exc}") from None


@dataclass
class CallSpec:
    """Everything the IVR runtime needs to run one outbound call.

    Either ``app_url`` (a customer's KooKoo/KML app) or exactly one of the
    built-in apps (``announcement``, ``otp``, ``click2call``, ``agent``) is set.
    """

    call_type: str
    request_id: str | None = None
    attempt_id: str | None = None
    account_id: str | None = None
    campaign_id: str | None = None
    contact_id: str | None = None
    caller_id: str | None = None
    called_number: str | None = None
    #: Contact fields (name, field1..fieldN) and Kairos flow keys, for template substitution.
    fields: dict[str, str] = field(default_factory=dict)
    app_url: str | None = None
    fallback_url: str | None = None
    dialect: str = "kookoo"
    method: str = "GET"
    announcement: Announcement | None = None
    otp: Otp | None = None
    click2call: ClickToCall | None = None
    #: An agent campaign's call (ivr/agent_call.py runs it instead of the interpreter).
    agent: AgentCall | None = None
    #: Seconds; the runtime hangs up an app that runs longer (0: no limit).
    max_duration: int = 0
    #: Per-account app fetch timeouts in seconds (None: APP_CONNECT_TIMEOUT / APP_READ_TIMEOUT).
    app_connect_timeout: float | None = None
    app_read_timeout: float | None = None
    #: FreeSWITCH gateway for <dial> legs of this call (None: the runtime's IVR_DIAL_ENDPOINT).
    gateway: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict, dropping empty values to keep the channel variable short."""
        # Built field by field rather than with dataclasses.asdict, which deep-copies every value: the
        # dialer encodes one spec per originate, and asdict was a third of its per-call CPU.
        out = {}
        for f in fields(self):
            v = getattr(self, f.name)
            if v is None or v == {} or v == []:
                continue
            out[f.name] = v.to_dict() if isinstance(v, AgentCall) else _plain(v)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "CallSpec":
        """Rebuild a CallSpec from :meth:`to_dict` output; unknown keys are ignored."""
        known = {f.name for f in fields(cls)}
        kwargs = {k: v for k, v in data.items() if k in known}
        for key, kind in (("announcement", Announcement), ("otp", Otp), ("click2call", ClickToCall)):
            if isinstance(kwargs.get(key), dict):
                sub_known = {f.name for f in fields(kind)}
                kwargs[key] = kind(**{k: v for k, v in kwargs[key].items() if k in sub_known})
        if isinstance(kwargs.get("agent"), dict):
            kwargs["agent"] = AgentCall.from_dict(kwargs["agent"])
        elif kwargs.get("agent") is not None:
            raise CallSpecError("call spec's agent is not an object")
        if "call_type" not in kwargs:
            raise CallSpecError("call spec has no call_type")
        return cls(**kwargs)

    def encode(self) -> str:
        """The value for the ``vaani_call`` channel variable."""
        raw = json.dumps(self.to_dict(), separators=(",", ":"), ensure_ascii=False).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, value: str) -> "CallSpec":
        """Parse a ``vaani_call`` channel variable; raises CallSpecError when it is damaged."""
        try:
            padded = value + "=" * (-len(value) % 4)
            data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
            raise CallSpecError(f"vaani_call is not valid base64url JSON: {exc}") from None
        if not isinstance(data, dict):
            raise CallSpecError("vaani_call does not hold a JSON object")
        return cls.from_dict(data)


@dataclass
class CallFacts:
    """What happened on an answered call, reported by the runtime when the call ends.

    Times are Unix epochs (float seconds). ``final_status`` is Konnect's
    ``call_status`` vocabulary as the runtime saw it: ``end`` (app finished or
    caller hung up) or ``error`` (the app could not be fetched or run).
    """

    uuid: str
    call_type: str
    request_id: str | None = None
    attempt_id: str | None = None
    account_id: str | None = None
    campaign_id: str | None = None
    caller_id: str | None = None
    called_number: str | None = None
    direction: str = "outbound"
    answered_at: float | None = None
    ended_at: float | None = None
    hangup_cause: str | None = None
    dtmf_inputs: list[str] = field(default_factory=list)
    recordings: list[dict[str, Any]] = field(default_factory=list)  # {name, url, duration_ms}
    media_duration: float = 0.0
    dial_results: list[dict[str, Any]] = field(default_factory=list)  # {number, status, billsec}
    app_errors: list[str] = field(default_factory=list)
    final_status: str = "end"
    #: Agent campaigns (ivr/agent_call.py): the agent reached, when they were connected and parted,
    #: answer (or AMD verdict) to agent connected in ms, no agent in time (safe-harbour message played),
    #: the AMD verdict (human | machine | notsure | ''), the wrap-up the agent was given.
    agent_id: str | None = None
    agent_connected_at: float | None = None
    agent_ended_at: float | None = None
    queue_wait_ms: int | None = None
    abandoned: bool = False
    amd_result: str = ""
    wrap_up_seconds: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (the RQ job's argument)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "CallFacts":
        """Rebuild from :meth:`to_dict` output; unknown keys are ignored."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})
