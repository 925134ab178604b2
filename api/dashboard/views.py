"""The dashboard's pages and actions (routes on :data:`api.dashboard.bp`).

Pages are rendered server-side from :mod:`api.dashboard.data`; the parts that change while a page is
open are partial templates, which :mod:`api.dashboard.stream` re-renders and sends as server-sent events.
Actions are plain form POSTs (with the session's CSRF token) that redirect back with a message:
start/pause/stop call :mod:`dialer.submit` as the seed's stop_campaign does, hangup and transfer call
:func:`api.livecall.modify` as modify_call does.
"""

from __future__ import annotations

from flask import Response, abort, flash, redirect, render_template, request, stream_with_context, url_for
from werkzeug.exceptions import HTTPException

from api import store
from api.dashboard import bp, data, signin
from api.errors import ApiError

#: Campaign actions: the dialer.submit function and the statuses it may be pressed in.
ACTIONS = {"start": ("resume_campaign", ("paused",)), "pause": ("pause_campaign", ("scheduled", "running")),
           "stop": ("stop_campaign", ("scheduled", "running", "paused"))}


@bp.app_template_global()
def csrf_token() -> str:
    """The CSRF token every form of the dashboard carries."""
    return signin.csrf_token()


@bp.errorhandler(data.NotFound)
def _not_found(exc: data.NotFound):
    return render_template("dashboard/error.html", status=404, message=str(exc),
                           account=signin.current_account()), 404


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException):
    return render_template("dashboard/error.html", status=exc.code, message=exc.description,
                           account=signin.current_account()), exc.code


@bp.after_request
def _headers(resp: Response) -> Response:
    # Pages with an account's data are never cached, nor framed by another site (the static files may be).
    if request.endpoint != "dashboard.static":
        resp.headers.setdefault("Cache-Control", "no-store")
    resp.headers.setdefault("X-Frame-Options", "DENY")
    resp.headers.setdefault("X-Content-Type-Options", "nosniff")
    resp.headers.setdefault("Content-Security-Policy", "default-src 'self'; style-src 'self' 'unsafe-inline'; "
                                                       "frame-ancestors 'none'")
    return resp


def _back(default: str) -> Response:
    return redirect(signin.safe_next(request.form.get("next"), default))


# ------------------------------------------------------------------ sign-in


@bp.route("/login", methods=["GET", "POST"])
def login():
    """The sign-in form: the account id and its seed-002 ``auth`` secret."""
    error, status = None, 200
    if request.method == "POST":
        # The form's token too: another site must not sign a browser in to an account of its choosing.
        signin.check_csrf()
        account = signin.sign_in(request.form.get("account", ""), request.form.get("auth", ""))
        if account is not None:
            return redirect(signin.safe_next(request.args.get("next")))
        error, status = "Unknown account or wrong auth secret.", 401
    signin.start_anonymous()
    return render_template("dashboard/login.html", error=error, account=None,
                           account_value=request.form.get("account", "")), status


@bp.post("/logout")
@signin.signed_in
def logout(account):
    """Sign out (a POST with the CSRF token, so another site cannot sign anyone out)."""
    signin.sign_out()
    return redirect(url_for("dashboard.login"))


# ------------------------------------------------------------------ campaigns


@bp.get("/")
@signin.signed_in
def campaigns(account):
    """The account's campaigns with their progress bars."""
    return render_template("dashboard/campaigns.html", account=account, campaigns=data.campaigns(account.id),
                           stream=url_for("dashboard.campaigns_events"))


@bp.get("/campaigns/<campaign_id>")
@signin.signed_in
def campaign(account, campaign_id: str):
    """One campaign live: progress, achieved rate vs calls_per_minute, outcomes, live calls, agents."""
    view = data.campaign_live(account.id, campaign_id)
    return render_template("dashboard/campaign.html", account=account, c=view, actions=ACTIONS,
                           stream=url_for("dashboard.campaign_events", campaign_id=campaign_id))


@bp.post("/campaigns/<campaign_id>/<action>")
@signin.signed_in
def campaign_action(account, campaign_id: str, action: str):
    """Start (resume), pause or stop a campaign of the account."""
    from dialer import submit

    if action not in ACTIONS:
        abort(404)
    with store.session() as s:
        status = data.own_campaign(s, account.id, campaign_id).status
    function, allowed = ACTIONS[action]
    if status not in allowed:
        flash(f"The campaign is {status}: it cannot {action}.", "error")
    else:
        try:
            new = getattr(submit, function)(campaign_id, cfg=store.cfg())
            flash(f"Campaign {campaign_id} is {new}.", "ok")
        except submit.SubmitError as exc:
            flash(str(exc), "error")
    return _back(url_for("dashboard.campaign", campaign_id=campaign_id))


# ------------------------------------------------------------------ live calls


@bp.get("/calls")
@signin.signed_in
def calls(account):
    """The account's live calls, with hangup and transfer buttons."""
    return render_template("dashboard/calls.html", account=account, calls=data.live_calls(account.id),
                           counts=data.live_counts(account.id), stream=url_for("dashboard.calls_events"))


def _modify(account, channel: str, modify_type: str, transfer_to: str | None, done: str) -> Response:
    from api import livecall

    node, call_type, live = data.account_call(account.id, channel)
    if not live:
        flash(f"{done}: the call has ended already.", "error")
        return _back(url_for("dashboard.calls"))
    try:
        message, _ = livecall.modify(node, channel, modify_type, transfer_to, call_type)
        flash(f"{done}: {message}.", "ok")
    except ApiError as exc:
        flash(f"{done} failed: {exc.message}", "error")
    return _back(url_for("dashboard.calls"))


@bp.post("/calls/<channel>/hangup")
@signin.signed_in
def hangup(account, channel: str):
    """Hang up a live call of the account (modify_call 2)."""
    return _modify(account, channel, "2", None, "Hangup")


@bp.post("/calls/<channel>/transfer")
@signin.signed_in
def transfer(account, channel: str):
    """Transfer a live call of the account: blind (modify_call 0) or attended (1) to ``transfer_to``."""
    target = (request.form.get("transfer_to") or "").strip()
    kind = "1" if request.form.get("kind") == "attended" else "0"
    if not target or len(target) > 64 or not all(ch.isalnum() or ch in "+-_.@/" for ch in target):
        flash("Transfer: give a number or a SIP user to transfer to.", "error")
        return _back(url_for("dashboard.calls"))
    return _modify(account, channel, kind, target, "Transfer")


# ------------------------------------------------------------------ CDRs


@bp.get("/cdrs")
@signin.signed_in
def cdrs(account):
    """CDR search (dates, campaign, number, dial status), paged, with a CSV export of the same search."""
    f, errors = data.parse_filter(request.args)
    try:
        page = max(1, min(int(request.args.get("page", "1")), 100000))
    except ValueError:
        page = 1
    rows, count = data.search_cdrs(account.id, f, page)
    pages = max(1, -(-count // data.CDR_PAGE))
    return render_template("dashboard/cdrs.html", account=account, f=f, errors=errors, rows=rows, count=count,
                           page=page, pages=pages, statuses=data.DIAL_STATUSES,
                           campaigns=data.campaigns(account.id))


@bp.get("/cdrs.csv")
@signin.signed_in
def cdrs_csv(account):
    """Every CDR of the search as CSV (streamed)."""
    f, errors = data.parse_filter(request.args)
    if errors:
        abort(400, "; ".join(errors))
    return Response(stream_with_context(data.cdr_csv(account.id, f)), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="cdrs-{account.id}.csv"'})


from api.dashboard import stream  # noqa: E402,F401  (the event-stream routes)
