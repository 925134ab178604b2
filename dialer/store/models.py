"""The durable store's tables: SQLAlchemy 2 models in the seeds' vocabulary.

Conventions, so that SQLite and PostgreSQL behave the same:

* Times are naive UTC ``datetime`` values (``utcnow()``); SQLite has no time
  zones, and converting at the edges (API input in the campaign's
  ``time_zone``, seed output as ``"Fri, 07 Jul 2023 06:08:16 GMT"``) keeps the
  store simple.
* Ids the seeds show as strings keep the seeds' shapes: ``LS…`` lists,
  ``DN…`` DND lists, ``CM…`` campaigns, ``AN…`` announce templates, a 10-hex
  ``request_id``; see :func:`new_id`. CDR ids are integers, as seed 002 shows.
* Secrets are stored as SHA-256 hex digests only (see ``dialer.store.accounts``).
* JSON columns hold lists and dicts (contact fields, call parameters,
  recordings); they are plain ``JSON`` on both databases.

Schema changes go through Alembic (``dialer/store/migrations``); never edit a
shipped revision.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Optional

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from dialer.store.base import NAMING, Base, BigId, new_id, new_uuid, utcnow  # noqa: F401 - the names models always had


# ---------------------------------------------------------------- accounts


class Account(Base):
    """A customer of the platform, with its credentials and limits.

    ``auth_hash`` is seed 002's ``auth`` header; ``api_token_hash`` is
    Konnect's ``Authorization`` token. Both are digests of secrets shown once.
    """

    __tablename__ = "accounts"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    auth_hash: Mapped[str] = mapped_column(String(64))
    api_token_hash: Mapped[str] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    #: ISO 3166 region used to read national-format numbers (None: config DEFAULT_REGION).
    default_region: Mapped[Optional[str]] = mapped_column(String(2))
    #: Kairos IP allow-list: addresses or CIDR networks; empty list refuses every Kairos request.
    ip_allowlist: Mapped[list[Any]] = mapped_column(default=list)
    #: Per-account HTTP fetch timeouts for IVR apps (None: config defaults).
    app_connect_timeout: Mapped[Optional[float]] = mapped_column(Float)
    app_read_timeout: Mapped[Optional[float]] = mapped_column(Float)
    #: Caps across all of the account's campaigns and requests (None: no account cap).
    max_calls_per_minute: Mapped[Optional[int]] = mapped_column(Integer)
    max_concurrent_calls: Mapped[Optional[int]] = mapped_column(Integer)
    #: Caller id used when a request gives none (Konnect "default caller_id").
    default_caller_id: Mapped[Optional[str]] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Flow(Base):
    """A Kairos outbound flow: an 8-character ``flow-id`` bound to an IVR app and a security id."""

    __tablename__ = "flows"

    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    app_url: Mapped[str] = mapped_column(Text)
    fallback_url: Mapped[Optional[str]] = mapped_column(Text)
    dialect: Mapped[str] = mapped_column(String(16), default="kookoo")
    method: Mapped[str] = mapped_column(String(8), default="GET")
    security_id_hash: Mapped[str] = mapped_column(String(64))
    callback_url: Mapped[Optional[str]] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AnnounceTemplate(Base):
    """An approved OTP announcement (seed 002 ``announce_template_id``); ``text`` holds ``{otp}``."""

    __tablename__ = "announce_templates"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    text: Mapped[str] = mapped_column(Text)
    approved: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# ---------------------------------------------------------------- contacts and DND


class ContactList(Base):
    """A campaign list (seed 002 ``create_campaign_list``): ``list_name`` unique per account."""

    __tablename__ = "contact_lists"
    __table_args__ = (UniqueConstraint("account_id", "name"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Contact(Base):
    """One contact of a list: E.164 number, name, free fields (field1..fieldN), region and time zone.

    A number appears once per list, so a campaign never dials a contact twice
    per attempt because the list held it twice.
    """

    __tablename__ = "contacts"
    __table_args__ = (UniqueConstraint("list_id", "number"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    list_id: Mapped[str] = mapped_column(ForeignKey("contact_lists.id", ondelete="CASCADE"), index=True)
    number: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200), default="")
    fields: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: Kairos alternate numbers of the same contact, tried in order after ``number``.
    alt_numbers: Mapped[list[Any]] = mapped_column(default=list)
    region: Mapped[Optional[str]] = mapped_column(String(2))
    time_zone: Mapped[Optional[str]] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DndList(Base):
    """A DND list. ``scope`` is ``campaign`` (used by campaigns naming it) or ``account`` (always applies)."""

    __tablename__ = "dnd_lists"
    __table_args__ = (UniqueConstraint("account_id", "name"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    scope: Mapped[str] = mapped_column(String(16), default="campaign")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DndNumber(Base):
    """A number that must not be called, in one DND list."""

    __tablename__ = "dnd_numbers"
    __table_args__ = (UniqueConstraint("dnd_list_id", "number"), Index("ix_dnd_numbers_number", "number"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    dnd_list_id: Mapped[str] = mapped_column(ForeignKey("dnd_lists.id", ondelete="CASCADE"))
    number: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# ---------------------------------------------------------------- campaigns and call requests

#: Campaign statuses and the numeric ``campaign_status`` that seed 002's get_campaign_details shows.
CAMPAIGN_STATUSES = {"scheduled": "0", "running": "1", "paused": "2", "stopped": "3", "completed": "4"}


class Campaign(Base):
    """A campaign (seed 002 ``create_campaign``); start/end are stored UTC, ``time_zone`` is the operator's."""

    __tablename__ = "campaigns"
    __table_args__ = (UniqueConstraint("account_id", "name"), Index("ix_campaigns_status", "status"))

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    #: 0 = announcement only, 1 = connect to an IVR app (doc_url).
    campaign_type: Mapped[int] = mapped_column(Integer, default=0)
    list_id: Mapped[str] = mapped_column(ForeignKey("contact_lists.id"))
    dnd_list_id: Mapped[Optional[str]] = mapped_column(ForeignKey("dnd_lists.id"))
    caller_id: Mapped[Optional[str]] = mapped_column(String(32))
    # announcement (type 0)
    dynamic_announcement: Mapped[bool] = mapped_column(Boolean, default=False)
    recorded_filename: Mapped[Optional[str]] = mapped_column(Text)
    announcement_text: Mapped[Optional[str]] = mapped_column(Text)
    repeat: Mapped[int] = mapped_column(Integer, default=1)
    voice: Mapped[Optional[str]] = mapped_column(String(64))
    volume: Mapped[Optional[str]] = mapped_column(String(16))
    rate: Mapped[Optional[str]] = mapped_column(String(16))
    pitch: Mapped[Optional[str]] = mapped_column(String(16))
    language_code: Mapped[Optional[str]] = mapped_column(String(16))
    tts_engine_type: Mapped[Optional[str]] = mapped_column(String(16))
    # IVR app (type 1)
    doc_url: Mapped[Optional[str]] = mapped_column(Text)
    fallback_url: Mapped[Optional[str]] = mapped_column(Text)
    dialect: Mapped[str] = mapped_column(String(16), default="kookoo")
    callback_url: Mapped[Optional[str]] = mapped_column(Text)
    # pacing and retries
    calls_per_minute: Mapped[int] = mapped_column(Integer, default=10)
    max_concurrent: Mapped[Optional[int]] = mapped_column(Integer)
    max_retries: Mapped[int] = mapped_column(Integer, default=0)
    retry_time: Mapped[int] = mapped_column(Integer, default=60)
    retry_on_statuses: Mapped[list[Any]] = mapped_column(default=lambda: ["NOANSWER", "BUSY"])
    # when
    start_at: Mapped[Optional[datetime]] = mapped_column()
    end_at: Mapped[Optional[datetime]] = mapped_column()
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC")
    #: Daily calling hours "HH:MM" in the contact's local time (None: any time within the window).
    calling_hours_start: Mapped[Optional[str]] = mapped_column(String(5))
    calling_hours_end: Mapped[Optional[str]] = mapped_column(String(5))
    #: Apply calling hours in each contact's own time zone (from its number) instead of ``time_zone``.
    use_contact_time_zone: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16), default="scheduled")
    # live agents (docs/agents.md); dial_mode None: an unattended campaign
    dial_mode: Mapped[Optional[str]] = mapped_column(String(16))  # preview | progressive | predictive
    agent_url: Mapped[Optional[str]] = mapped_column(Text)
    wrap_up_seconds: Mapped[int] = mapped_column(Integer, default=10, server_default="10")
    abandon_target: Mapped[float] = mapped_column(Float, default=0.03, server_default="0.03")
    amd: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    machine_action: Mapped[str] = mapped_column(String(16), default="hangup", server_default="hangup")
    safe_harbour_text: Mapped[Optional[str]] = mapped_column(Text)
    safe_harbour_url: Mapped[Optional[str]] = mapped_column(Text)
    # counters kept by the dialer (the CDRs remain the truth for statistics)
    total_contacts: Mapped[int] = mapped_column(Integer, default=0)
    dialed: Mapped[int] = mapped_column(Integer, default=0)
    answered: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    dnd: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


#: Kinds of single call requests.
REQUEST_KINDS = ("click2call", "callback", "otp", "konnect", "kairos", "campaign")


class CallRequest(Base):
    """One API submission (click2call, callback, OTP, Konnect ``Calls``, Kairos call).

    ``id`` is the ``request_id`` the API returns. ``idempotency_key`` is
    Konnect's ``id`` or Kairos's ``client-identifier``: unique per account and
    kind, so a retried submission finds the first row (and its ``result``).
    """

    __tablename__ = "call_requests"
    __table_args__ = (
        UniqueConstraint("account_id", "kind", "idempotency_key"),
        Index("ix_call_requests_status_scheduled", "status", "scheduled_at"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    #: The request's parameters as the API validated them (numbers in E.164).
    parameters: Mapped[dict[str, Any]] = mapped_column(default=dict)
    callback_url: Mapped[Optional[str]] = mapped_column(Text)
    scheduled_at: Mapped[Optional[datetime]] = mapped_column()
    time_zone: Mapped[Optional[str]] = mapped_column(String(64))
    idempotency_key: Mapped[Optional[str]] = mapped_column(String(200))
    #: The response the first submission got, replayed for a retried one.
    result: Mapped[Optional[dict[str, Any]]] = mapped_column()
    #: scheduled | queued | running | completed | cancelled | failed
    status: Mapped[str] = mapped_column(String(16), default="queued")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


#: Attempt states in order; ``completed`` and ``failed`` (and ``cancelled``) are final.
ATTEMPT_STATES = ("queued", "dialing", "ringing", "answered", "completed", "failed", "cancelled")


class Attempt(Base):
    """One dial of one number: claimed atomically by a dialer worker, then driven by channel events."""

    __tablename__ = "attempts"
    __table_args__ = (
        Index("ix_attempts_state_next", "state", "next_try_at"),
        Index("ix_attempts_campaign_state", "campaign_id", "state"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    request_id: Mapped[Optional[str]] = mapped_column(ForeignKey("call_requests.id", ondelete="CASCADE"), index=True)
    campaign_id: Mapped[Optional[str]] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    contact_id: Mapped[Optional[int]] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"))
    call_type: Mapped[str] = mapped_column(String(16))
    number: Mapped[str] = mapped_column(String(32))
    #: Konnect ``ref_id`` of this recipient (kept across retries of the same number).
    ref_id: Mapped[Optional[str]] = mapped_column(String(40), index=True)
    attempt_no: Mapped[int] = mapped_column(Integer, default=1)
    #: Position of ``number`` among the contact's alternate numbers (0 = main).
    number_index: Mapped[int] = mapped_column(Integer, default=0)
    state: Mapped[str] = mapped_column(String(16), default="queued")
    claimed_by: Mapped[Optional[str]] = mapped_column(String(100))
    claimed_at: Mapped[Optional[datetime]] = mapped_column()
    next_try_at: Mapped[Optional[datetime]] = mapped_column()
    fs_node: Mapped[Optional[str]] = mapped_column(String(100))
    origination_uuid: Mapped[Optional[str]] = mapped_column(String(36), unique=True)
    job_uuid: Mapped[Optional[str]] = mapped_column(String(36))
    dial_status: Mapped[Optional[str]] = mapped_column(String(16))
    hangup_cause: Mapped[Optional[str]] = mapped_column(String(64))
    error: Mapped[Optional[str]] = mapped_column(Text)
    answered_at: Mapped[Optional[datetime]] = mapped_column()
    ended_at: Mapped[Optional[datetime]] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


# ---------------------------------------------------------------- records


class Cdr(Base):
    """A call detail record with every field of seed 002's CDR samples, plus what the platform learns.

    ``uniqueid`` is the channel UUID (NULL for calls that never had a channel:
    DND contacts and refused originates); every write is an upsert on it.
    """

    __tablename__ = "cdrs"
    __table_args__ = (
        Index("ix_cdrs_account_date", "account_id", "call_date"),
        Index("ix_cdrs_campaign", "campaign_id"),
        Index("ix_cdrs_request", "request_id"),
        Index("ix_cdrs_campaign_abandoned", "campaign_id", "abandoned"),
        # "was this number's call abandoned in the last 72 hours": customer_number is the contact's number on
        # campaign calls (dialed_number is ours on inbound ones).
        Index("ix_cdrs_customer_date", "customer_number", "call_date"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    uniqueid: Mapped[Optional[str]] = mapped_column(String(64), unique=True)
    account_id: Mapped[str] = mapped_column(String(64))
    request_id: Mapped[Optional[str]] = mapped_column(String(40))
    attempt_id: Mapped[Optional[str]] = mapped_column(String(36), unique=True)
    #: Identity of a record without a channel, e.g. ``dnd:<campaign_id>:<number>``.
    record_key: Mapped[Optional[str]] = mapped_column(String(100), unique=True)
    campaign_id: Mapped[Optional[str]] = mapped_column(String(32))
    list_id: Mapped[Optional[str]] = mapped_column(String(32))
    contact_id: Mapped[Optional[int]] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"))
    call_type: Mapped[str] = mapped_column(String(16), default="")
    agent_number: Mapped[str] = mapped_column(String(32), default="")
    customer_number: Mapped[str] = mapped_column(String(32), default="")
    dialed_number: Mapped[str] = mapped_column(String(32), default="")
    caller_id: Mapped[str] = mapped_column(String(32), default="")
    call_direction: Mapped[str] = mapped_column(String(32), default="")
    destination_context: Mapped[str] = mapped_column(String(64), default="")
    #: When the record was made, as seed 002 shows it: the end of the call (the load time for DND records).
    call_date: Mapped[datetime] = mapped_column(default=utcnow)
    #: When the channel was created (the call's start; seed 000's ``call_start_time``).
    started_at: Mapped[Optional[datetime]] = mapped_column()
    answer: Mapped[Optional[datetime]] = mapped_column()
    end: Mapped[Optional[datetime]] = mapped_column()
    billsec: Mapped[Optional[float]] = mapped_column(Float)
    call_duration: Mapped[Optional[float]] = mapped_column(Float)
    call_status: Mapped[Optional[str]] = mapped_column(String(16))
    dial_status: Mapped[str] = mapped_column(String(16), default="")
    hangup_cause: Mapped[Optional[str]] = mapped_column(String(64))
    dtmf_inputs: Mapped[str] = mapped_column(Text, default="")
    recording_name: Mapped[str] = mapped_column(Text, default="")
    recordings: Mapped[list[Any]] = mapped_column(default=list)
    media_duration: Mapped[Optional[float]] = mapped_column(Float)
    dial_results: Mapped[list[Any]] = mapped_column(default=list)
    app_errors: Mapped[list[Any]] = mapped_column(default=list)
    #: The runtime's final status: end | error (None until the IVR half arrives).
    final_status: Mapped[Optional[str]] = mapped_column(String(16))
    is_dnd: Mapped[bool] = mapped_column(Boolean, default=False)
    fs_node: Mapped[Optional[str]] = mapped_column(String(100))
    #: Which halves have arrived: the ESL hangup event and the IVR runtime's facts.
    hangup_recorded: Mapped[bool] = mapped_column(Boolean, default=False)
    ivr_recorded: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Set once the status callback has been queued, so a duplicate never queues a second.
    callback_queued: Mapped[bool] = mapped_column(Boolean, default=False)
    # live agents (docs/agents.md, "CDR fields")
    agent_id: Mapped[Optional[str]] = mapped_column(String(32))
    queue_wait_ms: Mapped[Optional[int]] = mapped_column(Integer)
    talk_seconds: Mapped[Optional[float]] = mapped_column(Float)
    wrap_up_seconds: Mapped[Optional[float]] = mapped_column(Float)
    abandoned: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    amd_result: Mapped[str] = mapped_column(String(16), default="", server_default="")
    disposition: Mapped[str] = mapped_column(Text, default="", server_default="")
    # transcripts (docs/speech.md): the text of every transcribed recording, '' | pending | done | failed, and
    # per recording {name, url, text, confidence, engine, status, error} (dialer/transcripts.py)
    transcript: Mapped[str] = mapped_column(Text, default="", server_default="")
    transcript_status: Mapped[str] = mapped_column(String(16), default="", server_default="")
    transcripts: Mapped[Optional[list[Any]]] = mapped_column(nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class CallbackDelivery(Base):
    """One status callback to a customer's URL; delivered by an RQ job, every try logged."""

    __tablename__ = "callback_deliveries"
    __table_args__ = (Index("ix_callback_deliveries_status_next", "status", "next_try_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    account_id: Mapped[Optional[str]] = mapped_column(String(64), index=True)
    #: Makes queuing idempotent, e.g. ``status:<uniqueid>`` or ``accepted:<request_id>``.
    dedupe_key: Mapped[Optional[str]] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(16), default="status")
    request_id: Mapped[Optional[str]] = mapped_column(String(40))
    cdr_id: Mapped[Optional[int]] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"))
    url: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: pending | delivered | failed (gave up)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[Optional[str]] = mapped_column(Text)
    last_status_code: Mapped[Optional[int]] = mapped_column(Integer)
    next_try_at: Mapped[Optional[datetime]] = mapped_column()
    delivered_at: Mapped[Optional[datetime]] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CallbackTry(Base):
    """One HTTP attempt of a callback delivery: when, the answer or the error, how long it took."""

    __tablename__ = "callback_tries"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    delivery_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"),
        ForeignKey("callback_deliveries.id", ondelete="CASCADE"),
        index=True,
    )
    try_no: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    status_code: Mapped[Optional[int]] = mapped_column(Integer)
    error: Mapped[Optional[str]] = mapped_column(Text)
    elapsed_ms: Mapped[Optional[float]] = mapped_column(Float)


class InboundNumber(Base):
    """A number whose inbound calls run an IVR app (Konnect ``InboundPhoneNumbers``)."""

    __tablename__ = "inbound_numbers"

    number: Mapped[str] = mapped_column(String(32), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    app_url: Mapped[Optional[str]] = mapped_column(Text)
    fallback_url: Mapped[Optional[str]] = mapped_column(Text)
    dialect: Mapped[str] = mapped_column(String(16), default="auto")  # kookoo | kml | auto (detected)
    method: Mapped[str] = mapped_column(String(8), default="GET")
    callback_url: Mapped[Optional[str]] = mapped_column(Text)
    ref_id: Mapped[Optional[str]] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# The agent tables live in their own module (this one is long enough); importing it here registers them on
# Base.metadata wherever the models are loaded, and keeps ``models.Agent`` working.
from dialer.store.agent_models import Agent, AgentEvent  # noqa: F401
# The SMS tables (docs/sms.md), registered here for the same reason.
from dialer.store.sms_models import SmsBatch, SmsClick, SmsLink, SmsMessage, SmsPart  # noqa: F401,E402
# The billing and SnapCall tables (docs/billing.md), registered the same way. The feature modules import
# only dialer.store.base, so importing one of them first never meets a half-made models module.
import dialer.store.billing_models  # noqa: F401,E402
import dialer.store.snapcall_models  # noqa: F401,E402
