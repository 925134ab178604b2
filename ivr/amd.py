"""Answering-machine detection on an answered call, with FreeSWITCH's own applications.

:func:`detect` runs ``wait_for_silence`` (switch_ivr_wait_for_silence, mod_dptools) and reads its verdict
from the channel variables it leaves; :func:`wait_for_beep` runs mod_avmd (``avmd_start``, the CUSTOM
``avmd::beep`` event, ``avmd_stop``) so that a message is left after a machine's beep rather than over its
greeting. docs/agents.md ("Connecting a call") says why these numbers.

switch_ivr_wait_for_silence reads 20 ms frames; a frame whose mean absolute sample value reaches ``thresh``
is speech and counts towards ``listening``. Once more than ``listen_hits`` speech frames have been heard,
every quiet frame counts ``silence_hits`` down (a speech frame starts it again); at zero it reads 25 more
frames and returns with ``wait_for_silence_timeout=false``. If ``timeout_ms`` passes first it returns with
``wait_for_silence_timeout=true``. Either way ``wait_for_silence_listenhits`` is the number of speech frames.
"""

from __future__ import annotations

import logging

import gevent
import gevent.event

from freeswitch.outbound import CallGone, CommandError, OutboundSession

log = logging.getLogger(__name__)

#: Mean absolute sample value from which a frame is speech: Asterisk's app_amd ``silence_threshold`` (256),
#: which measures the same quantity; line noise and comfort noise stay well below it.
THRESH = 256
#: Quiet frames after the greeting that make it a person: 40 × 20 ms = 800 ms, Asterisk's
#: ``after_greeting_silence``. A person says "hello?" and waits for an answer; a recorded greeting's pauses
#: between words and phrases are shorter, so its silence count keeps starting again.
SILENCE_HITS = 40
#: Speech frames needed before silence counts at all: 5 × 20 ms = 100 ms, Asterisk's ``min_word_length``
#: (a click or a breath is not a greeting).
LISTEN_HITS = 5
#: The verdict by 3.5 s after the answer: a person who said "hello?" (~0.5 s) from about 1 s after the answer
#: is recognised at ~1 s + 0.5 s + 0.8 s + 0.5 s (the function's 25-frame tail) ≈ 2.8 s; speech still going on
#: at 3.5 s is a machine's greeting. Every second spent here is a second the person waits for an agent.
TIMEOUT_MS = 3500
#: The application's argument: ``<thresh> <silence_hits> <listen_hits> <timeout_ms>``.
WAIT_FOR_SILENCE_ARG = f"{THRESH} {SILENCE_HITS} {LISTEN_HITS} {TIMEOUT_MS}"

HUMAN, MACHINE, NOTSURE = "human", "machine", "notsure"

#: How long a machine's greeting may take before its beep; with no beep by then the message is left anyway
#: (a mailbox without a detectable beep is still recording).
BEEP_TIMEOUT = 30.0
BEEP_EVENT = "avmd::beep"


def verdict(timed_out: str | None, listen_hits: str | None) -> str:
    """``human``, ``machine`` or ``notsure`` from ``wait_for_silence``'s variables.

    Silence after a short greeting: a person. Still speaking at the timeout: a machine. Nothing said at all
    (no more than :data:`LISTEN_HITS` speech frames): not sure — a person waiting for us to speak, or a
    machine that has not started; it goes to an agent like a person, since hanging up on a person is what
    the abandonment rules count.
    """
    try:
        hits = int(listen_hits or 0)
    except ValueError:
        hits = 0
    if (timed_out or "").strip().lower() == "false":
        return HUMAN
    if (timed_out or "").strip().lower() == "true" and hits > LISTEN_HITS:
        return MACHINE
    return NOTSURE


def detect(session: OutboundSession) -> tuple[str, str]:
    """Run ``wait_for_silence`` on the answered channel; ``(verdict, detail)`` for the facts and logs.

    A failure of the application (a switch without it) is ``notsure``, with the reason as the detail:
    the call goes on to an agent. Raises CallGone when the call hangs up meanwhile.
    """
    try:
        done = session.execute("wait_for_silence", WAIT_FOR_SILENCE_ARG)
    except CommandError as exc:
        return NOTSURE, f"wait_for_silence failed: {exc}"
    timed_out = done.headers.get("variable_wait_for_silence_timeout")
    hits = done.headers.get("variable_wait_for_silence_listenhits")
    if timed_out is None:
        response = done.headers.get("Application-Response") or ""
        return NOTSURE, f"wait_for_silence left no verdict ({response or 'no response'})"
    return verdict(timed_out, hits), f"timeout={timed_out} listenhits={hits}"


def wait_for_beep(session: OutboundSession, hung_up: gevent.event.Event, timeout: float = BEEP_TIMEOUT) -> str:
    """Start mod_avmd and wait for its ``avmd::beep`` (or ``timeout`` seconds); ``beep`` or ``timeout``.

    The socket subscribes to the CUSTOM subclass first (an outbound socket under ``myevents`` gets only its
    own channel's events, mod_event_socket's uuid check), and the session delivers every event while it
    waits (it skips those it does not act on otherwise). Raises CallGone when the call hangs up.
    """
    beeped = gevent.event.Event()

    def on_event(event) -> None:
        if event.name == "CUSTOM" and event.headers.get("Event-Subclass") == BEEP_EVENT:
            beeped.set()

    session.listeners.append(on_event)
    previous = session.all_events
    session.all_events = True
    try:
        session.command(f"event plain CUSTOM {BEEP_EVENT}")
        session.execute("avmd_start")
        gevent.wait([beeped, hung_up], count=1, timeout=timeout)
        if session.hung_up:
            raise CallGone(session.hangup_cause)
        try:
            session.execute("avmd_stop")
        except CommandError as exc:  # it stops with the channel anyway
            log.info("call %s: avmd_stop: %s", session.uuid, exc)
        return "beep" if beeped.is_set() else "timeout"
    finally:
        session.all_events = previous
        try:
            session.listeners.remove(on_event)
        except ValueError:
            pass
