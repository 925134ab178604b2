"""TwiML ``Enqueue`` and ``Dial``/``Queue`` on FreeSWITCH's mod_fifo.

A queue is a fifo of the same name: ``Enqueue`` runs ``fifo <queue> in`` (the
caller waits, hearing the hold music, until an agent takes them or they hang
up), ``Dial``/``Queue`` runs ``fifo <queue> out nowait`` on the agent's call
(bridged to the longest-waiting caller, or back at once when nobody waits).
Twilio's ``QueueResult`` is derived from how the wait ended: ``bridged`` when
the caller was connected, ``hangup`` when they hung up waiting, ``error``
when the switch could not queue them.

A switch without mod_fifo would hang the call up on the unknown application
(switch_core_session_execute_application does, with DESTINATION_OUT_OF_ORDER):
so the runtime asks ``module_exists mod_fifo`` first, once per call, and
refuses the verb with that reason instead (an app error; the call carries on).
"""

from __future__ import annotations

import re

import gevent.event

import kml
from ivr.exec_base import event_time

_QUEUE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
MOH = "local_stream://moh"


def queue_name(name: str) -> str:
    """A queue name safe as a fifo argument; raises ValueError otherwise."""
    name = (name or "").strip()
    if not _QUEUE.match(name):
        raise ValueError(f"bad queue name {name!r} (1-64 letters, digits, '.', '-', '_')")
    return name


class FifoMissing(ValueError):
    """The switch has no mod_fifo loaded."""


def require_fifo(executor) -> None:
    """Raise :class:`FifoMissing` unless the call's switch has mod_fifo loaded (asked once per call)."""
    known = getattr(executor, "fifo_loaded", None)
    if known is None:
        try:
            known = executor.session.api("module_exists mod_fifo").strip() == "true"
        except Exception:  # noqa: BLE001 - an api the switch refuses means no module to rely on
            known = False
        executor.fifo_loaded = known
    if not known:
        raise FifoMissing("queues need FreeSWITCH's mod_fifo, which this switch has not loaded "
                          "(freeswitch/conf/README.md)")


def enqueue(executor, e: kml.Enqueue, media_arg) -> dict:
    """Wait in fifo ``e.queue``; returns QueueResult/QueueTime as ``queue_result``/``queue_time``.

    mod_fifo's ``fifo in`` returns as soon as a consumer takes the caller (``fifo_serviced_uuid`` set),
    before the consumer bridges to it: the bridge is the consumer's (CHANNEL_BRIDGE is fired on the
    consumer's channel, which this call's socket does not hear) and the caller, a B leg, is hung up
    when it ends. As Twilio does, the result of a bridged wait is reported once the bridge is over.
    """
    queue = queue_name(e.queue)
    require_fifo(executor)
    music = media_arg(e.hold_music) if e.hold_music else MOH
    executor.heard(f"waiting in queue {queue}")
    started = executor._started.get("fifo")
    done = executor.session.execute("fifo", f"{queue} in undef {music}")
    began = executor._started.get("fifo", started) or 0.0
    waited = max(0, round(_time(done) - began)) if began else 0
    serviced = done.headers.get("variable_fifo_serviced_uuid") or ""
    status = done.headers.get("variable_fifo_status") or ""
    if serviced and status != "ABORTED":
        outcome = "bridged"
        executor.heard(f"connected from queue {queue}")
        _wait_bridge_over(executor)
    elif executor.session.hung_up or status == "ABORTED":
        outcome = "hangup" if executor.session.hung_up else "leave"
    else:
        outcome = "error"  # fifo returned without queueing the caller (a usage error)
    executor.heard(f"left queue {queue}: {outcome}")
    return {"queue": queue, "queue_result": outcome, "queue_time": str(waited), "data": outcome,
            "duration": str(waited)}


def _wait_bridge_over(executor) -> None:
    # The caller stays in the consumer's bridge until one of them leaves; then it is hung up.
    over = gevent.event.Event()

    def on_event(event) -> None:
        if event.name in ("CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE"):
            over.set()

    # Not session.hung_up (nor closed): they are also set once the socket application has returned, and
    # mod_fifo's caller leaves it (CS_HIBERNATE) when it is taken — the socket itself stays, with the
    # channel's events. The bridge is over at the channel's hangup (or when the socket is gone).
    session = executor.session
    session.listeners.append(on_event)
    try:
        while session.hangup_cause is None and not getattr(session, "_gone", False):
            over.wait(0.5)
    finally:
        session.listeners.remove(on_event)


def dial_queue(executor, d: kml.DialQueue) -> dict:
    """Take the longest-waiting caller of fifo ``d.queue``; reported like a dial."""
    queue = queue_name(d.queue)
    require_fifo(executor)
    executor.heard(f"taking the next caller from queue {queue}")
    executor._bridged_at = None
    done = executor.session.execute("fifo", f"{queue} out nowait")
    answered = executor._bridged_at is not None
    seconds = max(0, round(_time(done) - executor._bridged_at)) if answered else 0
    status = "answered" if answered else "not_answered"
    return {"dial_status": status, "status": status, "dial_duration": str(seconds), "duration": str(seconds),
            "dial_cause": "" if answered else "NO_ANSWER",
            "dial_uuid": done.headers.get("variable_fifo_target") or done.headers.get("variable_bridge_uuid", ""),
            "message": "" if answered else "nobody waiting", "data": "", "media_url": "",
            "dial": {"number": f"queue:{queue}", "status": status, "billsec": seconds}}


def _time(event) -> float:
    return event_time(event)
