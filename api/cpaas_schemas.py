"""Request schemas of the seed-002 CPaaS endpoints (``/api/...``), field names as the seed gives them."""

from __future__ import annotations

from typing import Any

from api.schemas import Field, ValidationError, all_of, s

RECORDING_OPTIONS = ("both", "agent", "customer", "off", "on")
ON_OFF = ("on", "off")
VOLUMES = ("silent", "x-soft", "soft", "medium", "loud", "x-loud")
RATES = ("x-slow", "slow", "medium", "fast", "x-fast")
PITCHES = ("x-low", "low", "medium", "high", "x-high")
TTS_ENGINE_TYPES = ("standard", "neural")
CAMPAIGN_TYPES = ("0", "1")
MODIFY_TYPES = ("0", "1", "2", "3")
DIAL_MODES = ("preview", "progressive", "predictive")
MACHINE_ACTIONS = ("hangup", "message")
DIAL_STATUSES = ("NOANSWER", "BUSY", "CANCEL", "CHANUNAVAIL", "CONGESTION", "FAILED")

ID = dict(max_length=64)
NAME = dict(max_length=128)


def _voice_fields() -> tuple[Field, ...]:
    return (
        Field("voice", default="Joanna", max_length=64, description="TTS voice id (e.g. Joanna, Matthew, Raveena)"),
        Field("volume", "enum", default="medium", choices=VOLUMES),
        Field("rate", "enum", default="medium", choices=RATES),
        Field("pitch", "enum", default="medium", choices=PITCHES),
        Field("language_code", default="en-US", max_length=35, description="BCP-47 language code"),
        Field("tts_engine_type", "enum", default="standard", choices=TTS_ENGINE_TYPES),
    )


CLICK2CALL = s(
    "click2call",
    Field("agent_number", "phone", required=True, description="the agent's number, dialed first"),
    Field("caller_id", "phone", required=True, description="caller id shown to both parties"),
    Field("destination_number", "phone", required=True, description="dialed once the agent answers"),
    Field("recording_option", "enum", default="off", choices=RECORDING_OPTIONS,
          description="both, agent, customer or off (on = both)"),
    Field("transcript", "enum", default="off", choices=ON_OFF,
          description="on: the call is recorded and transcribed after it ends; the CDR carries transcript"),
    example={"agent_number": "919979271234", "caller_id": "15168148111", "destination_number": "918000681234",
             "recording_option": "on", "transcript": "on"},
)

CALLBACK_CREATE = s(
    "callback_create",
    Field("agent_number", "phone", required=True),
    Field("caller_id", "phone", required=True),
    Field("destination_number", "phone", required=True),
    Field("recording_option", "enum", default="off", choices=RECORDING_OPTIONS),
    Field("time_zone", "timezone", required=True, description="IANA zone of scheduled_at, e.g. Asia/Kolkata"),
    Field("scheduled_at", "datetime", required=True, fmt="%Y-%m-%d %H:%M:%S", future=True, tz_field="time_zone"),
    example={"agent_number": "919979271234", "caller_id": "15168148111", "destination_number": "918000681234",
             "recording_option": "off", "time_zone": "Asia/Kolkata", "scheduled_at": "2030-11-07 19:00:00"},
)

CALLBACK_UPDATE = s(
    "callback_update",
    Field("request_id", required=True, **ID),
    Field("agent_number", "phone"),
    Field("caller_id", "phone"),
    Field("destination_number", "phone"),
    Field("recording_option", "enum", choices=RECORDING_OPTIONS),
    Field("time_zone", "timezone", description="default: the callback's time zone"),
    # Future-ness is checked by the view, in the callback's stored time zone.
    Field("scheduled_at", "datetime", fmt="%Y-%m-%d %H:%M:%S", tz_field="time_zone"),
)

CALLBACK_DELETE = s("callback_delete", Field("request_id", required=True, **ID))

OUTBOUND_CALL = s(
    "outbound_call",
    Field("customer_number", "phone", required=True),
    Field("otp", required=True, max_length=32, description="the one-time password to announce"),
    Field("announce_template_id", max_length=64,
          description="the account's announce template; default: 'Your one time password is {otp}'"),
    Field("repeat", "integer", default=1, minimum=1, maximum=10),
    Field("caller_id", "phone", required=True),
    *_voice_fields(),
    example={"customer_number": "919979271234", "otp": "1987", "repeat": "1", "caller_id": "15168148111",
             "voice": "Raveena", "volume": "soft", "rate": "slow", "pitch": "medium"},
)


def _template_has_otp(values: dict[str, Any]) -> None:
    if "{otp}" not in values.get("template_text", ""):
        raise ValidationError("template_text", "must contain the placeholder {otp}")


CREATE_ANNOUNCE_TEMPLATE = s(
    "create_announce_template",
    Field("template_name", required=True, **NAME),
    Field("template_text", required=True, max_length=1000, description="text with the {otp} placeholder"),
    check=_template_has_otp,
)

CREATE_CAMPAIGN_LIST = s("create_campaign_list", Field("list_name", required=True, **NAME))

CONTACT = s(
    "contact",
    Field("contact_name", max_length=128, allow_empty=True),
    Field("contact_number", "phone", required=True),
    Field("contact_fields", "mapping"),
)

ADD_CONTACT_TO_LIST = s(
    "add_contact_to_list",
    Field("list_id", required=True, **ID),
    Field("contacts", "list", required=True, min_items=1, max_items=10000, items=Field("contact", "object",
                                                                                          schema=CONTACT)),
)

IMPORT_BROADCAST_CSV = s(
    "import_broadcast_contacts_csv",
    Field("list_id", required=True, **ID),
    Field("csv_name", max_length=255, description="a CSV file in UPLOAD_DIR; or upload it as multipart 'file'"),
)

CREATE_DND_LIST = s("create_campaign_dnd_list", Field("dnd_list_name", required=True, **NAME))

DND_CONTACT = s(
    "dnd_contact",
    Field("dnd_contact_name", max_length=128, allow_empty=True),
    Field("dnd_contact_number", "phone", required=True),
)

ADD_DND_CONTACT = s(
    "add_dnd_contact_to_list",
    Field("dnd_list_id", required=True, **ID),
    Field("dnd_contacts", "list", required=True, min_items=1, max_items=10000,
          items=Field("dnd_contact", "object", schema=DND_CONTACT)),
)

IMPORT_DND_CSV = s(
    "import_dnd_contacts_csv",
    Field("dnd_list_id", required=True, **ID),
    Field("dnd_csv_name", max_length=255, description="a CSV file in UPLOAD_DIR; or upload it as multipart 'file'"),
)


def _campaign_check(v: dict[str, Any]) -> None:
    if v.get("dynamic_announcement") == "1" and not v.get("announcement_text"):
        raise ValidationError("announcement_text", "is required when dynamic_announcement is 1")
    if v.get("dynamic_announcement") == "0" and not v.get("recorded_filename") and v.get("campaign_type") == "0":
        raise ValidationError("recorded_filename", "is required when dynamic_announcement is 0")
    start, end = v.get("campaign_start_date"), v.get("campaign_end_date")
    if start and end and end <= start:
        raise ValidationError("campaign_end_date", "must be after campaign_start_date")
    fname = v.get("recorded_filename") or ""
    if "/" in fname or "\\" in fname or fname.startswith("."):
        raise ValidationError("recorded_filename", "must be a plain file name")


def _agent_check(v: dict[str, Any]) -> None:
    target = v.get("abandon_target")
    if target is not None and target <= 0:
        raise ValidationError("abandon_target", "must be more than 0 (and at most 0.03)")
    if v.get("machine_action") == "message" and not (v.get("announcement_text") or v.get("recorded_filename")):
        raise ValidationError("machine_action", "message needs the campaign's announcement_text or recorded_filename")


def _agent_fields() -> tuple[Field, ...]:
    # Live-agent campaigns (docs/agents.md); without dial_mode a campaign is unattended as before.
    return (
        Field("dial_mode", "enum", choices=DIAL_MODES,
              description="preview, progressive or predictive: calls are connected to live agents"),
        Field("agent_url", "url", description="screen-pop webhook POSTed the contact when an agent is connected"),
        Field("wrap_up_seconds", "integer", default=10, minimum=0, maximum=3600,
              description="after-call work before the agent is offered the next call"),
        Field("abandon_target", "number", default=0.03, minimum=0, maximum=0.03,
              description="abandonment rate the predictive controller stays under (0 < x <= 0.03)"),
        Field("amd", "boolean", default=False, description="answering-machine detection on answer"),
        Field("machine_action", "enum", default="hangup", choices=MACHINE_ACTIONS,
              description="on a machine: hang up, or leave the campaign's announcement after the beep"),
        Field("safe_harbour_text", max_length=1000, description="what an abandoned call hears (TTS)"),
        Field("safe_harbour_url", "url", description="what an abandoned call hears (an audio URL)"),
    )


def _end_in_future(v: dict[str, Any]) -> None:
    import datetime as dt

    end = v.get("campaign_end_date")
    if end and end <= dt.datetime.now(dt.timezone.utc):
        raise ValidationError("campaign_end_date", "must be in the future")


CREATE_CAMPAIGN = s(
    "create_campaign",
    Field("list_id", required=True, **ID),
    Field("dnd_list_id", **ID),
    Field("campaign_name", required=True, **NAME),
    Field("campaign_type", "enum", required=True, choices=CAMPAIGN_TYPES, description="0=only announce, 1=Survey (IVR)"),
    Field("campaign_caller_id", "phone", required=True),
    Field("dynamic_announcement", "enum", default="0", choices=("0", "1")),
    Field("recorded_filename", max_length=255, allow_empty=True),
    Field("announcement_text", max_length=4000, allow_empty=True),
    Field("ivr_app_url", "url", description="campaign type 1: the IVR app (KooKoo XML or KML) run after answer"),
    Field("ivr_fallback_url", "url"),
    Field("retry_attempts", "integer", minimum=0, maximum=10),
    Field("retry_on_statuses", max_length=200, description="comma-separated, e.g. NOANSWER,BUSY"),
    Field("repeat", "integer", minimum=1, maximum=10, description="times the announcement is played"),
    Field("repeat_count", "integer", minimum=1, maximum=10, description="same as repeat"),
    Field("max_retries", "integer", default=0, minimum=0, maximum=10),
    Field("retry_time", "integer", default=60, minimum=0, maximum=86400, description="seconds between retries"),
    Field("calls_per_minute", "integer", default=10, minimum=1, maximum=60000),
    *_voice_fields(),
    Field("time_zone", "timezone", default="UTC"),
    Field("campaign_start_date", "datetime", required=True, fmt="%Y-%m-%d %H:%M:%S", tz_field="time_zone"),
    Field("campaign_end_date", "datetime", required=True, fmt="%Y-%m-%d %H:%M:%S", tz_field="time_zone"),
    *_agent_fields(),
    check=all_of(_campaign_check, _end_in_future, _agent_check),
    example={"list_id": "LS608c393614", "campaign_name": "test_broadcast", "campaign_type": "0",
             "campaign_caller_id": "15168148111", "dynamic_announcement": "1", "recorded_filename": "",
             "announcement_text": "Dear {field1}, your due balance is {field3} INR",
             "campaign_start_date": "2030-09-25 14:05:00", "campaign_end_date": "2030-09-26 20:00:00",
             "time_zone": "Asia/Kolkata", "repeat": "2", "max_retries": "1", "retry_time": "60",
             "calls_per_minute": "10"},
)

CAMPAIGN_ID = s("campaign_id", Field("campaign_id", required=True, **ID))

CAMPAIGN_DETAILS = s("get_campaign_details", Field("campaign_id", **ID))


def _dates_ordered(v: dict[str, Any]) -> None:
    if v["end_call_date"] < v["start_call_date"]:
        raise ValidationError("end_call_date", "must not be before start_call_date")


CDR_BY_DATE = s(
    "get_cdr_by_date",
    Field("start_call_date", "date", required=True),
    Field("end_call_date", "date", required=True),
    Field("record_count", "integer", default=1000, minimum=1, maximum=10000),
    Field("offset", "integer", default=0, minimum=0),
    check=_dates_ordered,
)

CDR_BY_REQUEST = s("get_cdr_by_request_id", Field("request_id", required=True, **ID))

CDR_BY_CAMPAIGN = s(
    "get_cdr_by_campaign_id",
    Field("campaign_id", required=True, **ID),
    Field("record_count", "integer", default=1000, minimum=1, maximum=10000),
    Field("offset", "integer", default=0, minimum=0),
)


def _modify_check(v: dict[str, Any]) -> None:
    if v["modify_type"] in ("0", "1") and not v.get("transfer_to"):
        raise ValidationError("transfer_to", "is required for a transfer (modify_type 0 or 1)")
    target = v.get("transfer_to") or ""
    if target and not all(c.isalnum() or c in "+*#_-.@" for c in target):
        raise ValidationError("transfer_to", "must be an extension or a phone number")


MODIFY_CALL = s(
    "modify_call",
    Field("channel", required=True, max_length=128, description="the call's channel (its uniqueid / UUID)"),
    Field("modify_type", "enum", required=True, choices=MODIFY_TYPES,
          description="0=blind transfer, 1=attended transfer, 2=hangup, 3=start recording"),
    Field("transfer_to", max_length=64, description="SIP extension or number with country code"),
    check=_modify_check,
)
