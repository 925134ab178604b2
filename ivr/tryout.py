"""``ivr try``: call an IVR app through the FreeSWITCH simulator and the real runtime, print a transcript.

Everything runs in this process on real loopback sockets: the simulator (its
inbound Event Socket and its outbound connection to the runtime, as
FreeSWITCH would make), the runtime's outbound-socket server, and the HTTP
requests to the developer's app. The caller's keys are pressed one ``--dtmf``
entry per digit prompt, shortly after the prompt starts (``uuid_recv_dtmf``:
as if the far end pressed them); ``--speak-seconds`` is how long the caller
talks when recorded (``sim_talk``); ``--say TEXT`` (once per record/recognize) what they say, spoken by
flite into the recording (``sim_speech``); ``--press-after`` is how long (simulated seconds) after a
digit prompt starts the caller presses.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
import uuid as uuidlib

import gevent
import gevent.event

from ivr.call_spec import CallSpec

#: Real seconds to wait for the call to end before giving up.
CALL_LIMIT = 600.0


def _parse_dtmf(text: str) -> list[str]:
    entries = [e.strip() for e in (text or "").split(",") if e.strip()]
    for entry in entries:
        if any(c.upper() not in "0123456789*#ABCD" for c in entry):
            raise ValueError(f"--dtmf entry {entry!r}: use digits 0-9 * # A-D, entries separated by commas")
    return entries


def try_app(cfg, args, out=None) -> int:
    """Run one simulated call against ``args.url``; returns the exit status (1 when the app erred)."""
    from greenswitch.esl import InboundESL

    from freeswitch.sim.core import SwitchConfig
    from freeswitch.sim.server import Simulator
    from ivr.runtime import build_runtime
    from ivr.server import IvrServer

    out = out or sys.stdout
    if not args.url.lower().startswith(("http://", "https://")):
        raise ValueError(f"{args.url!r} is not an http(s) URL")
    if args.speed <= 0:
        raise ValueError("--speed must be positive")
    entries = _parse_dtmf(args.dtmf)
    tmp = tempfile.mkdtemp(prefix="ivr-try-")
    settings = cfg.replace(recordings_dir=tmp)
    runtime = build_runtime(settings, report=False)
    started = time.monotonic()
    done = gevent.event.Event()
    state: dict = {}

    def line(text: str) -> None:
        print(f"[{time.monotonic() - started:7.3f}s] {text}", file=out, flush=True)

    server = IvrServer(runtime, "127.0.0.1:0").start()
    sim = Simulator(SwitchConfig(host="127.0.0.1", port=0, speed=args.speed, inbound_socket=server.address,
                                 recordings_dir=tmp, heartbeat=0))
    sim.start()
    esl = InboundESL(sim.address[0], sim.address[1], "ClueCon")
    try:
        esl.connect()
        call_uuid = str(uuidlib.uuid4())

        def observe(call, kind: str, text: str) -> None:
            line(f"{kind:<11} {text}")
            if kind == "instruction" and text.startswith("collect_digits") and entries:
                digits = entries.pop(0)

                def press():
                    line(f"{'caller':<11} presses {digits}")
                    esl.send(f"api uuid_recv_dtmf {call_uuid} {digits}")
                gevent.spawn_later(max(0.0, args.press_after) / args.speed, press)

        def finished(call) -> None:
            state["call"] = call
            done.set()

        runtime.observers.append(observe)
        runtime.on_finished.append(finished)
        spec = CallSpec(call_type="campaign", request_id="try-" + call_uuid[:8], app_url=args.url,
                        dialect=args.dialect, method=args.method, caller_id=args.called, called_number=args.caller)
        variables = [f"origination_uuid={call_uuid}", f"vaani_call={spec.encode()}",
                     f"origination_caller_id_number={args.called}", f"sim_talk={args.speak_seconds}"]
        if args.hangup_after is not None:
            variables.append(f"sim_hangup_after={args.hangup_after}")
        if getattr(args, "say", None):
            # The simulator's far end speaks real audio into each recording (docs/speech.md); quotes and commas
            # would end the originate variable.
            said = "|".join("say:" + " ".join(t.replace("'", " ").replace(",", " ").split()) for t in args.say)
            variables.append(f"sim_speech='{said}'")
        line(f"{'dial':<11} {args.caller} (the caller) from {args.called}, app {args.url} ({args.dialect})")
        reply = esl.send("api originate {" + ",".join(variables) + "}sofia/gateway/vaani_trunk/" + args.caller
                         + f" &socket('{server.address} async full')").data
        if not str(reply).startswith("+OK"):
            line(f"{'failed':<11} the simulated call was not answered: {str(reply).strip()}")
            return 1
        if not done.wait(CALL_LIMIT):
            line(f"{'failed':<11} the call did not end within {CALL_LIMIT:.0f}s")
            return 1
        facts = state["call"].facts
        line(f"{'result':<11} hangup cause {facts.hangup_cause}, status {facts.final_status}, "
             f"digits {facts.dtmf_inputs}, recordings {[r['url'] for r in facts.recordings]}, "
             f"dials {facts.dial_results}")
        for error in facts.app_errors:
            line(f"{'app error':<11} {error}")
        return 1 if facts.app_errors or facts.final_status == "error" else 0
    finally:
        try:
            esl.stop()
        except Exception:  # noqa: BLE001 - best effort on the way out
            pass
        sim.stop()
        server.stop(timeout=1)
        runtime.fetcher.close()
        if runtime.exec_config.speech is not None:
            runtime.exec_config.speech.close()
        shutil.rmtree(tmp, ignore_errors=True)
