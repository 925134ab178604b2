"""What the call's parts share: the apology-and-hangup that ends a call whose app cannot run, transcript text, timestamps."""

from __future__ import annotations

from freeswitch.outbound import CallGone, CommandError


def _fatal(call, reason: str | None) -> CallGone:
    """Apologise and hang up cleanly (the app could not be run); returns the exception that ends the call."""
    if reason:
        call._error(reason)
    call.final_status = "error"
    call.runtime.metrics.count("calls_apologised")
    if not call.session.hung_up:
        try:
            call._ensure_answered()
            call.notify("heard", f"speech: {call.runtime.apology}")
            from ivr import tts

            cfg = call.runtime.exec_config
            call.session.execute("speak", tts.speak_arg(call.runtime.apology, engine=cfg.tts_engine,
                                                        voice_map=cfg.voice_map))
        except (CallGone, CommandError):
            pass
        call.ended_by_platform = True
        call.session.hangup("NORMAL_CLEARING")
    return CallGone("NORMAL_CLEARING")


def _describe(instr) -> str:
    """One transcript line for an instruction: its kind and the fields that say something."""
    data = instr.to_dict()
    kind = data.pop("type")
    parts = []
    for key, value in data.items():
        if key == "line" or value in (None, "", (), [], False):
            continue
        if key == "prompts":
            value = "[" + "; ".join(f"{p['type']} {p.get('text') or p.get('url') or p.get('length_ms', '')!r}"
                                   for p in value) + "]"
            parts.append(f"prompts={value}")
        else:
            parts.append(f"{key}={value!r}")
    return kind + " " + ", ".join(parts)


def _fmt_params(params: dict) -> str:
    return "&".join(f"{k}={v}" for k, v in params.items() if v != "") or "(no parameters)"


def _us(value: str | None) -> float | None:
    """A FreeSWITCH microsecond timestamp header as epoch seconds (None when absent or 0)."""
    try:
        n = int(value or 0)
    except ValueError:
        return None
    return n / 1e6 if n > 0 else None
