"""Seed 002's CPaaS endpoints under ``/api``: click2call, callbacks, OTP calls, the campaign manager.

Every answer uses the seed's envelope ``{"response": {..., "success": "true"}}``;
errors use the same envelope with ``"success": "false"``, a ``message`` and the
offending ``field`` (see api.errors). Every lookup is scoped to the calling
account: another account's ids answer 404, exactly like ids that do not exist.
CDR, statistics and live-call endpoints are in :mod:`api.cpaas_records`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, jsonify
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from api import cpaas_schemas as S
from api import store
from api.auth import cpaas_account
from api.endpoints import endpoint
from api.errors import ApiError, cpaas_body
from dialer.store.models import (
    AnnounceTemplate,
    CallRequest,
    Campaign,
    Contact,
    ContactList,
    DndList,
    new_id,
)

bp = Blueprint("cpaas", __name__)
#: The seed also documents ``http://localhost/stop_campaign`` without ``/api``.
root_bp = Blueprint("cpaas_root", __name__)

PREFIX = "/api"
DEFAULT_OTP_TEXT = "Your one time password is {otp}"


def ok(**payload: Any):
    """A seed-002 success answer."""
    return jsonify(cpaas_body(payload))


def utc_naive(value: dt.datetime) -> dt.datetime:
    """An aware datetime as the store keeps it: naive UTC."""
    return value.astimezone(dt.timezone.utc).replace(tzinfo=None)


def submit(request_id: str) -> None:
    """Hand a stored call request to the dialer; a refusal becomes a readable 4xx."""
    from dialer import submit as dialer_submit

    try:
        dialer_submit.submit_call_request(request_id, cfg=store.cfg())
    except dialer_submit.SubmitError as exc:
        raise ApiError(str(exc), kind="conflict") from None


def new_request(account_id: str, kind: str, parameters: dict[str, Any], **columns: Any) -> str:
    """Write a call_requests row and return its request_id."""
    request_id = new_id()
    with store.session() as s:
        s.add(CallRequest(id=request_id, account_id=account_id, kind=kind, parameters=parameters, **columns))
    return request_id


def _jsonable(values: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in values.items():
        if k == "recording_option" and v == "on":
            v = "both"  # the seed's callback and curl examples say "on": both sides
        if isinstance(v, dt.datetime):
            v = v.isoformat()
        elif hasattr(v, "key") and k == "time_zone":  # ZoneInfo
            v = v.key
        out[k] = v
    return out


# ------------------------------------------------------------------ click2call and callbacks


@endpoint(bp, "POST", "/click2call", dialect="cpaas", auth=cpaas_account, schema=S.CLICK2CALL, blueprint_prefix=PREFIX,
          summary="Call the agent, then bridge the destination number")
def click2call(data: dict[str, Any]):
    """Seed 002 click2call: agent first, then destination, bridged."""
    account = cpaas_account()
    params = _jsonable(data)
    params["numbers"] = [data["agent_number"]]
    request_id = new_request(account.id, "click2call", params, status="queued")
    submit(request_id)
    return ok(request_id=request_id)


@endpoint(bp, "POST", "/callback", dialect="cpaas", auth=cpaas_account, schema=S.CALLBACK_CREATE, blueprint_prefix=PREFIX,
          summary="Schedule a click2call at scheduled_at in time_zone")
def callback_create(data: dict[str, Any]):
    """Create a scheduled callback."""
    account = cpaas_account()
    params = _jsonable(data)
    params["numbers"] = [data["agent_number"]]
    request_id = new_request(account.id, "callback", params, status="scheduled",
                             scheduled_at=utc_naive(data["scheduled_at"]), time_zone=data["time_zone"].key)
    submit(request_id)
    return ok(request_id=request_id)


def _own_request(s, account_id: str, request_id: str, kinds: tuple[str, ...]) -> CallRequest:
    row = s.get(CallRequest, request_id)
    if row is None or row.account_id != account_id or row.kind not in kinds:
        raise ApiError(f"request_id {request_id!r} not found", kind="not_found", field="request_id")
    return row


@endpoint(bp, "PATCH", "/callback", dialect="cpaas", auth=cpaas_account, schema=S.CALLBACK_UPDATE, blueprint_prefix=PREFIX,
          summary="Change a scheduled callback")
def callback_update(data: dict[str, Any]):
    """Update a callback that has not started yet."""
    account = cpaas_account()
    from dialer import submit as dialer_submit

    with store.session(immediate=True) as s:
        row = _own_request(s, account.id, data["request_id"], ("callback",))
        if row.status not in ("scheduled", "queued"):
            raise ApiError(f"callback is {row.status}: it can no longer be changed", kind="conflict")
        params = dict(row.parameters or {})
        for name in ("agent_number", "caller_id", "destination_number", "recording_option"):
            if name in data:
                params[name] = _jsonable({name: data[name]})[name]
        params["numbers"] = [params.get("agent_number")]
        moved = False
        if "time_zone" in data:
            params["time_zone"] = row.time_zone = data["time_zone"].key
        if "scheduled_at" in data:
            import zoneinfo

            tz = zoneinfo.ZoneInfo(row.time_zone or "UTC")
            when = data["scheduled_at"].replace(tzinfo=tz)
            if when <= dt.datetime.now(dt.timezone.utc):
                raise ApiError("scheduled_at: must be in the future", field="scheduled_at")
            row.scheduled_at = utc_naive(when)
            params["scheduled_at"] = when.isoformat()
            moved = True
        row.parameters = params
    if moved:
        try:
            dialer_submit.reschedule_call_request(row.id, cfg=store.cfg())
        except dialer_submit.SubmitError as exc:
            raise ApiError(str(exc), kind="conflict") from None
    return ok(message="callback data modified successfully", request_id=row.id)


@endpoint(bp, "DELETE", "/callback", dialect="cpaas", auth=cpaas_account, schema=S.CALLBACK_DELETE, blueprint_prefix=PREFIX,
          summary="Delete a scheduled callback")
def callback_delete(data: dict[str, Any]):
    """Cancel a callback that has not started yet."""
    account = cpaas_account()
    from dialer import submit as dialer_submit

    with store.session() as s:
        row = _own_request(s, account.id, data["request_id"], ("callback",))
        if row.status == "cancelled":
            raise ApiError("callback request already deleted", kind="not_found", field="request_id")
        if row.status not in ("scheduled", "queued"):
            raise ApiError(f"callback is {row.status}: it can no longer be deleted", kind="conflict")
    try:
        dialer_submit.cancel_call_request(row.id, cfg=store.cfg())
    except dialer_submit.SubmitError as exc:
        raise ApiError(str(exc), kind="conflict") from None
    with store.session() as s:
        s.get(CallRequest, row.id).status = "cancelled"
    return ok(message="callback request deleted successfully", request_id=row.id)


# ------------------------------------------------------------------ OTP


@endpoint(bp, "POST", "/outbound_call", dialect="cpaas", auth=cpaas_account, schema=S.OUTBOUND_CALL, blueprint_prefix=PREFIX,
          summary="Call a customer and announce an OTP")
def outbound_call(data: dict[str, Any]):
    """Seed 002 OTP call: the template's text with {otp}, spoken ``repeat`` times."""
    account = cpaas_account()
    text = DEFAULT_OTP_TEXT
    template_id = data.get("announce_template_id")
    if template_id:
        with store.session() as s:
            tpl = s.get(AnnounceTemplate, template_id)
            if tpl is None or tpl.account_id != account.id:
                raise ApiError(f"announce_template_id {template_id!r} not found", kind="not_found",
                               field="announce_template_id")
            if not tpl.approved:
                raise ApiError("announce template is not approved", field="announce_template_id")
            text = tpl.text
    # The OTP is spoken digit by digit: "1 9 8 7", not "one thousand nine hundred".
    spoken = " ".join(data["otp"]) if data["otp"].isdigit() else data["otp"]
    params = _jsonable(data)
    params.update(numbers=[data["customer_number"]], text=text.replace("{otp}", spoken))
    request_id = new_request(account.id, "otp", params, status="queued")
    submit(request_id)
    return ok(request_id=request_id)


@endpoint(bp, "POST", "/create_announce_template", dialect="cpaas", auth=cpaas_account, schema=S.CREATE_ANNOUNCE_TEMPLATE,
          blueprint_prefix=PREFIX, summary="Create an OTP announce template (text with {otp})")
def create_announce_template(data: dict[str, Any]):
    """Our addition: an account manages its own OTP templates."""
    account = cpaas_account()
    template_id = new_id("AN")
    with store.session() as s:
        s.add(AnnounceTemplate(id=template_id, account_id=account.id, name=data["template_name"],
                               text=data["template_text"], approved=True))
    return ok(announce_template_id=template_id)


@endpoint(bp, "GET", "/get_announce_templates", dialect="cpaas", auth=cpaas_account, blueprint_prefix=PREFIX,
          summary="List the account's OTP announce templates")
def get_announce_templates(data: dict[str, Any]):
    """Our addition: the account's templates."""
    account = cpaas_account()
    with store.session() as s:
        rows = s.scalars(select(AnnounceTemplate).where(AnnounceTemplate.account_id == account.id)
                         .order_by(AnnounceTemplate.created_at)).all()
        result = [{"announce_template_id": t.id, "template_name": t.name, "template_text": t.text,
                   "approved": "1" if t.approved else "0"} for t in rows]
    return ok(message="templates found" if result else "no templates found", result=result)


# ------------------------------------------------------------------ lists and DND lists


def _create_named(model, account_id: str, name: str, prefix: str, field: str) -> str:
    new = new_id(prefix)
    try:
        with store.session() as s:
            s.add(model(id=new, account_id=account_id, name=name))
    except IntegrityError:
        raise ApiError(f"{field} {name!r} already exists", kind="conflict", field=field) from None
    return new


@endpoint(bp, "POST", "/create_campaign_list", dialect="cpaas", auth=cpaas_account, schema=S.CREATE_CAMPAIGN_LIST,
          blueprint_prefix=PREFIX, summary="Create a contact list")
def create_campaign_list(data: dict[str, Any]):
    """A list of contacts to dial in campaigns; list_name is unique per account."""
    account = cpaas_account()
    return ok(list_id=_create_named(ContactList, account.id, data["list_name"], "LS", "list_name"))


@endpoint(bp, "POST", "/create_campaign_dnd_list", dialect="cpaas", auth=cpaas_account, schema=S.CREATE_DND_LIST,
          blueprint_prefix=PREFIX, summary="Create a DND list")
def create_campaign_dnd_list(data: dict[str, Any]):
    """A list of numbers never to dial; dnd_list_name is unique per account."""
    account = cpaas_account()
    return ok(dnd_list_id=_create_named(DndList, account.id, data["dnd_list_name"], "DN", "dnd_list_name"))


def own_list(s, model, account_id: str, list_id: str, field: str):
    """The account's list (contact or DND) with this id, or 404 naming ``field``."""
    row = s.get(model, list_id)
    if row is None or row.account_id != account_id:
        raise ApiError(f"{field} {list_id!r} not found", kind="not_found", field=field)
    return row


@endpoint(bp, "POST", "/add_contact_to_list", dialect="cpaas", auth=cpaas_account, schema=S.ADD_CONTACT_TO_LIST,
          blueprint_prefix=PREFIX, summary="Add contacts (number, name, fields) to a list")
def add_contact_to_list(data: dict[str, Any]):
    """Add or update contacts; a number already in the list is updated, not duplicated."""
    from api import contacts

    account = cpaas_account()
    with store.session() as s:
        own_list(s, ContactList, account.id, data["list_id"], "list_id")
    rows = [(c["contact_number"], c.get("contact_name", ""), c.get("contact_fields") or {})
            for c in data["contacts"]]
    count = contacts.save_contacts(data["list_id"], rows)
    return ok(message=f"({count}) contacts imported successfully")


@endpoint(bp, "POST", "/add_dnd_contact_to_list", dialect="cpaas", auth=cpaas_account, schema=S.ADD_DND_CONTACT,
          blueprint_prefix=PREFIX, summary="Add numbers to a DND list")
def add_dnd_contact_to_list(data: dict[str, Any]):
    """Add DND numbers; a number already in the list is kept once."""
    from api import contacts

    account = cpaas_account()
    with store.session() as s:
        own_list(s, DndList, account.id, data["dnd_list_id"], "dnd_list_id")
    rows = [(c["dnd_contact_number"], c.get("dnd_contact_name", "")) for c in data["dnd_contacts"]]
    count = contacts.save_dnd_numbers(data["dnd_list_id"], rows)
    return ok(message=f"({count}) DND contacts imported successfully")


def _csv_answer(result, what: str):
    payload: dict[str, Any] = {"message": f"({result.imported}) {what} imported successfully",
                               "imported": result.imported, "rejected": result.rejected}
    if result.errors:
        payload["errors"] = result.errors
    if result.imported == 0 and result.rejected:
        raise ApiError(f"no valid rows: ({result.rejected}) rejected", extra={"rejected": result.rejected,
                                                                              "errors": result.errors})
    return ok(**payload)


@endpoint(bp, "POST", "/import_broadcast_contacts_csv", dialect="cpaas", auth=cpaas_account, schema=S.IMPORT_BROADCAST_CSV,
          blueprint_prefix=PREFIX, multipart=True,
          summary="Import contacts from a CSV (uploaded, or csv_name in UPLOAD_DIR)")
def import_broadcast_contacts_csv(data: dict[str, Any]):
    """Stream a CSV into a list: bad rows are reported by line, good rows kept."""
    from api import contacts

    return _import_csv(data, ContactList, "list_id", "csv_name", contacts.import_contacts_csv, "contacts")


@endpoint(bp, "POST", "/import_dnd_contacts_csv", dialect="cpaas", auth=cpaas_account, schema=S.IMPORT_DND_CSV,
          blueprint_prefix=PREFIX, multipart=True,
          summary="Import DND numbers from a CSV (uploaded, or dnd_csv_name in UPLOAD_DIR)")
def import_dnd_contacts_csv(data: dict[str, Any]):
    """Stream a CSV into a DND list: bad rows are reported by line, good rows kept."""
    from api import contacts

    return _import_csv(data, DndList, "dnd_list_id", "dnd_csv_name", contacts.import_dnd_csv, "DND contacts")


def _import_csv(data: dict[str, Any], model, list_field: str, name_field: str, importer, noun: str):
    """The account's own list checked first, then the CSV (uploaded or named) streamed into it."""
    from api import contacts

    account = cpaas_account()
    with store.session() as s:
        own_list(s, model, account.id, data[list_field], list_field)
    with contacts.open_csv(data.get(name_field), name_field) as fh:
        result = importer(data[list_field], fh)
    return _csv_answer(result, noun)


# ------------------------------------------------------------------ campaigns


@endpoint(bp, "POST", "/create_campaign", dialect="cpaas", auth=cpaas_account, schema=S.CREATE_CAMPAIGN, blueprint_prefix=PREFIX,
          summary="Create and schedule a campaign over a list")
def create_campaign(data: dict[str, Any]):
    """Create the campaign row, then let the dialer load its contacts and schedule it."""
    from dialer import submit as dialer_submit

    account = cpaas_account()
    campaign_id = new_id("CM")
    statuses = [x.strip().upper() for x in (data.get("retry_on_statuses") or "NOANSWER,BUSY").split(",")
                if x.strip()]
    for st in statuses:
        if st not in S.DIAL_STATUSES:
            raise ApiError(f"retry_on_statuses: {st!r} is not one of {', '.join(S.DIAL_STATUSES)}",
                           field="retry_on_statuses")
    if data["campaign_type"] == "1" and not data.get("ivr_app_url") and not data.get("announcement_text") \
            and not data.get("recorded_filename"):
        raise ApiError("ivr_app_url: campaign_type 1 needs an IVR app URL (or an announcement)",
                       field="ivr_app_url")
    try:
        with store.session() as s:
            own_list(s, ContactList, account.id, data["list_id"], "list_id")
            # Contacts are loaded when the campaign is created: an empty list would dial nobody, ever.
            if s.scalar(select(Contact.id).where(Contact.list_id == data["list_id"]).limit(1)) is None:
                raise ApiError("list_id: the list has no contacts; add contacts before creating the campaign",
                               field="list_id")
            if data.get("dnd_list_id"):
                own_list(s, DndList, account.id, data["dnd_list_id"], "dnd_list_id")
            s.add(Campaign(
                id=campaign_id, account_id=account.id, name=data["campaign_name"],
                campaign_type=int(data["campaign_type"]), list_id=data["list_id"],
                dnd_list_id=data.get("dnd_list_id"), caller_id=data["campaign_caller_id"],
                dynamic_announcement=data["dynamic_announcement"] == "1",
                recorded_filename=data.get("recorded_filename") or None,
                announcement_text=data.get("announcement_text") or None,
                repeat=data.get("repeat") or data.get("repeat_count") or 1,
                voice=data["voice"], volume=data["volume"], rate=data["rate"], pitch=data["pitch"],
                language_code=data["language_code"], tts_engine_type=data["tts_engine_type"],
                doc_url=data.get("ivr_app_url"), fallback_url=data.get("ivr_fallback_url"),
                calls_per_minute=data["calls_per_minute"],
                max_retries=data.get("retry_attempts", data["max_retries"]),
                retry_time=data["retry_time"], retry_on_statuses=statuses,
                start_at=utc_naive(data["campaign_start_date"]), end_at=utc_naive(data["campaign_end_date"]),
                time_zone=data["time_zone"].key, status="scheduled",
                dial_mode=data.get("dial_mode"), agent_url=data.get("agent_url"),
                wrap_up_seconds=data["wrap_up_seconds"], abandon_target=data["abandon_target"],
                amd=data["amd"], machine_action=data["machine_action"],
                safe_harbour_text=data.get("safe_harbour_text"), safe_harbour_url=data.get("safe_harbour_url"),
            ))
    except IntegrityError:
        raise ApiError(f"campaign_name {data['campaign_name']!r} already exists", kind="conflict",
                       field="campaign_name") from None
    try:
        dialer_submit.start_campaign(campaign_id, cfg=store.cfg())
    except dialer_submit.SubmitError as exc:
        raise ApiError(str(exc), kind="conflict") from None
    return ok(campaign_id=campaign_id)


def own_campaign(s, account_id: str, campaign_id: str) -> Campaign:
    """The account's campaign, or 404."""
    row = s.get(Campaign, campaign_id)
    if row is None or row.account_id != account_id:
        raise ApiError(f"campaign_id {campaign_id!r} not found", kind="not_found", field="campaign_id")
    return row


def _stop_campaign(data: dict[str, Any]):
    from dialer import submit as dialer_submit

    account = cpaas_account()
    with store.session() as s:
        row = own_campaign(s, account.id, data["campaign_id"])
        if row.status in ("stopped", "completed"):
            raise ApiError(f"campaign is already {row.status}", kind="conflict", field="campaign_id")
    try:
        dialer_submit.stop_campaign(data["campaign_id"], cfg=store.cfg())
    except dialer_submit.SubmitError as exc:
        raise ApiError(str(exc), kind="conflict") from None
    return ok(message="campaign stopped successfully")


@endpoint(bp, "POST", "/stop_campaign", dialect="cpaas", auth=cpaas_account, schema=S.CAMPAIGN_ID, blueprint_prefix=PREFIX,
          summary="Stop a campaign: nothing more is dialed")
def stop_campaign(data: dict[str, Any]):
    """Stop a campaign."""
    return _stop_campaign(data)


@endpoint(root_bp, "POST", "/stop_campaign", dialect="cpaas", auth=cpaas_account, schema=S.CAMPAIGN_ID,
          summary="Stop a campaign (the seed's path without /api)")
def stop_campaign_root(data: dict[str, Any]):
    """The seed documents this URL too."""
    return _stop_campaign(data)


def http_date(value: dt.datetime | None) -> str:
    """A stored naive-UTC time as seed 002 shows it: ``Wed, 12 Jul 2023 20:00:00 GMT``."""
    if value is None:
        return "Thu, 01 Jan 1970 00:00:00 GMT"
    return value.replace(tzinfo=dt.timezone.utc).strftime("%a, %d %b %Y %H:%M:%S GMT")


def campaign_json(c: Campaign) -> dict[str, Any]:
    """One campaign as get_campaign_details shows it."""
    from dialer.store.models import CAMPAIGN_STATUSES

    return {
        "calls_per_minute": str(c.calls_per_minute),
        "campaign_caller_id": (c.caller_id or "").lstrip("+"),
        "campaign_end_date": http_date(c.end_at),
        "campaign_id": c.id,
        "campaign_name": c.name,
        "campaign_start_date": http_date(c.start_at),
        "campaign_status": CAMPAIGN_STATUSES.get(c.status, "0"),
        "campaign_type": str(c.campaign_type),
        "max_retries": str(c.max_retries),
        "repeat_announcement_count": str(c.repeat),
        "retry_time": str(c.retry_time),
        # ours: live-agent campaigns (docs/agents.md), strings like the seed's fields
        "dial_mode": c.dial_mode,
        "agent_url": c.agent_url,
        "wrap_up_seconds": str(c.wrap_up_seconds),
        "abandon_target": f"{c.abandon_target:g}",
        "amd": "1" if c.amd else "0",
        "machine_action": c.machine_action,
        "safe_harbour_text": c.safe_harbour_text,
        "safe_harbour_url": c.safe_harbour_url,
    }


@endpoint(bp, "GET", "/get_campaign_details", dialect="cpaas", auth=cpaas_account, schema=S.CAMPAIGN_DETAILS, source="query",
          blueprint_prefix=PREFIX, summary="The account's campaigns (optionally one campaign_id)")
def get_campaign_details(data: dict[str, Any]):
    """Every campaign of the account, newest first."""
    account = cpaas_account()
    with store.session() as s:
        q = select(Campaign).where(Campaign.account_id == account.id)
        if data.get("campaign_id"):
            q = q.where(Campaign.id == data["campaign_id"])
        rows = s.scalars(q.order_by(Campaign.created_at.desc())).all()
        result = [campaign_json(c) for c in rows]
    return ok(message="campaign found" if result else "campaign not found", result=result)
