"""API commands (``api``/``bgapi``): output texts as mod_commands writes them.

Besides FreeSWITCH's own commands the simulator adds ``sim_inbound`` (a caller
dials one of our numbers) and ``sim_status`` (counters for tests and benches).
"""

from __future__ import annotations

import json
import logging
import re
from typing import Callable

from freeswitch.sim import calls
from freeswitch.sim.channel import normalize_cause, Q850
from freeswitch.sim.core import VERSION, uptime_text
from freeswitch.sim.dialstring import parse_vars, separate_string

log = logging.getLogger("freeswitch.sim")

COMMANDS: dict[str, Callable] = {}


def command(*names: str):
    """Register an API command."""
    def deco(fn):
        for n in names:
            COMMANDS[n] = fn
        return fn
    return deco


def execute(switch, cmd: str, arg: str | None, conn=None) -> str:
    """Run one API command; an unknown one answers as switch_api_execute fails.

    switch_api_execute fires the API event once the command has returned (a blocking originate's
    API event comes after the call's answer).
    """
    fn = COMMANDS.get(cmd.lower()) if cmd else None
    try:
        if fn is None:
            return f"-ERR {cmd} Command not found!\n"
        try:
            return fn(switch, arg, conn)
        except Exception as exc:  # a simulator bug must not kill the connection
            log.exception("api %s %s failed", cmd, arg)
            return f"-ERR {exc}\n"
    finally:
        switch.fire("API", [("API-Command", cmd)] + ([("API-Command-Argument", arg)] if arg else []))


def _channel(switch, uuid: str | None):
    return switch.locate(uuid)


@command("status")
def api_status(switch, arg, conn) -> str:
    """The status report."""
    up = switch.uptime_us()
    text = uptime_text(up)
    return (
        f"UP {text}\n"
        f"FreeSWITCH (Version {VERSION}  64bit) is ready\n"
        f"{switch.sessions_since_startup} session(s) since startup\n"
        f"{len(switch.channels)} session(s) - peak {switch.peak_sessions}, last 5min {switch.peak_sessions} \n"
        f"{switch._sps_count_window} session(s) per Sec out of max {switch.sps_total}, peak {switch.sps_peak}, "
        f"last 5min {switch.sps_peak} \n"
        f"{switch.max_sessions} session(s) max\n"
        f"min idle cpu 0.00/99.00\n"
        f"Current Stack Size/Max 240K/8192K\n"
    )


@command("version")
def api_version(switch, arg, conn) -> str:
    """Version string."""
    return f"FreeSWITCH Version {VERSION}~64bit ( 64bit)\n"


@command("hostname")
def api_hostname(switch, arg, conn) -> str:
    """The host name."""
    return switch.config.hostname


@command("uptime")
def api_uptime(switch, arg, conn) -> str:
    """Seconds up."""
    return str(switch.uptime_us() // 1_000_000)


@command("create_uuid")
def api_create_uuid(switch, arg, conn) -> str:
    """A new UUID."""
    return switch.new_uuid()


@command("global_getvar")
def api_global_getvar(switch, arg, conn) -> str:
    """A global variable ('' when unset); all of them without an argument."""
    if not arg:
        return "".join(f"{k}={v}\n" for k, v in switch.global_vars.items())
    return switch.global_vars.get(arg.strip(), "")


@command("global_setvar")
def api_global_setvar(switch, arg, conn) -> str:
    """Set a global variable."""
    name, _, value = (arg or "").partition("=")
    if not name.strip():
        return "-USAGE: <var>=<value>\n"
    switch.global_vars[name.strip()] = value
    return "+OK"


@command("originate")
def api_originate(switch, arg, conn) -> str:
    """Originate a call (blocks until answered or failed)."""
    return calls.originate(switch, arg)


@command("uuid_kill")
def api_uuid_kill(switch, arg, conn) -> str:
    """``uuid_kill <uuid> [cause]``."""
    if not arg:
        return "-USAGE: <uuid> [cause]\n"
    uuid, _, cause = arg.partition(" ")
    ch = _channel(switch, uuid)
    if ch is None:
        return "-ERR No such channel!\n"
    ch.hangup(normalize_cause(cause, "NORMAL_CLEARING"))
    return "+OK\n"


@command("uuid_exists")
def api_uuid_exists(switch, arg, conn) -> str:
    """``true``/``false``."""
    return "true" if switch.locate(arg) is not None else "false"


@command("uuid_getvar")
def api_uuid_getvar(switch, arg, conn) -> str:
    """A channel variable, or ``_undef_``."""
    argv = separate_string(arg or "", " ", limit=4)
    if len(argv) < 2 or not argv[0]:
        return "-USAGE: <uuid> <var>\n"
    ch = _channel(switch, argv[0])
    if ch is None:
        return "-ERR No such channel!\n"
    value = _channel_var(ch, argv[1])
    return value if value is not None else "_undef_"


def _channel_var(ch, name: str) -> str | None:
    value = ch.get_var(name)
    if value is not None:
        return value
    # A few values FreeSWITCH computes rather than stores.
    computed = {
        "caller_id_number": ch.profile.caller_id_number, "caller_id_name": ch.profile.caller_id_name,
        "destination_number": ch.profile.destination_number, "channel_name": ch.name,
        "state": ch.state, "context": ch.profile.context,
    }
    return computed.get(name)


@command("uuid_setvar")
def api_uuid_setvar(switch, arg, conn) -> str:
    """``uuid_setvar <uuid> <var> [value]`` (no value: unset)."""
    argv = separate_string(arg or "", " ", limit=3)
    if len(argv) not in (2, 3) or not argv[0]:
        return "-USAGE: <uuid> <var> [value]\n"
    ch = _channel(switch, argv[0])
    if ch is None:
        return "-ERR No such channel!\n"
    if not argv[1]:
        return "-ERR No variable specified\n"
    ch.set_var(argv[1], argv[2] if len(argv) == 3 else None)
    return "+OK\n"


@command("uuid_setvar_multi")
def api_uuid_setvar_multi(switch, arg, conn) -> str:
    """``uuid_setvar_multi <uuid> a=1;b=2``."""
    usage = "-USAGE: <uuid> <var>=<value>;<var>=<value>...\n"
    uuid, _, rest = (arg or "").partition(" ")
    ch = _channel(switch, uuid)
    if not rest:
        return usage
    if ch is None:
        return "-ERR No such channel!\n" + usage  # mod_commands falls through to the usage line
    for piece in separate_string(rest, ";"):
        name, _, value = piece.partition("=")
        if name:
            ch.set_var(name, value if value else None)
    return "+OK\n"


@command("uuid_dump")
def api_uuid_dump(switch, arg, conn) -> str:
    """The channel's event headers, ``Name: value`` lines."""
    uuid = (arg or "").split(" ")[0]
    ch = _channel(switch, uuid)
    if ch is None:
        return "-ERR No such channel!\n"
    return "".join(f"{k}: {v}\n" for k, v in ch.event_headers(True))


@command("uuid_answer")
def api_uuid_answer(switch, arg, conn) -> str:
    """Answer a channel (mod_commands says ``-ERROR`` for a uuid it cannot locate, too)."""
    ch = _channel(switch, (arg or "").strip())
    if ch is None:
        return "-ERROR\n"
    ch.answer()
    calls.start_caller(ch)
    return "+OK\n"


@command("uuid_record")
def api_uuid_record(switch, arg, conn) -> str:
    """``uuid_record <uuid> [start|stop|mask|unmask] <path> [<limit>]``."""
    from freeswitch.sim.record import resolve_record_path, start_session_recording, stop_session_recording

    argv = separate_string(arg or "", " ", limit=5)
    usage = "-USAGE: <uuid> [start|stop|mask|unmask] <path> [<limit>] [<recording_vars>]\n"
    if len(argv) < 3 or not all(argv[:3]):
        return usage
    ch = _channel(switch, argv[0])
    if ch is None:
        return "-ERR Cannot locate session!\n"
    action = argv[1].lower()
    path = resolve_record_path(ch, argv[2]) if argv[2] != "all" else "all"
    if action == "start":
        if not ch.is_up:
            return "-ERR Cannot record session!\n"
        start_session_recording(ch, path)
        return "+OK Success\n"
    if action == "stop":
        if stop_session_recording(ch, None if path == "all" else path):
            return "+OK Success\n"
        return "-ERR Cannot stop record session!\n"
    if action in ("mask", "unmask"):
        return "+OK Success\n"
    return usage


@command("uuid_send_dtmf")
def api_uuid_send_dtmf(switch, arg, conn) -> str:
    """``uuid_send_dtmf <uuid> <digits>``: sent towards the far end (it hears them; no DTMF event)."""
    argv = separate_string(arg or "", " ", limit=2)
    if len(argv) < 2 or not argv[0] or not argv[1]:
        return "-USAGE: <uuid> <dtmf_data>\n"
    ch = _channel(switch, argv[0])
    if ch is None:
        return "-ERR Cannot locate session!\n"
    return f"+OK {argv[0]} sent DTMF {argv[1]}.\n"


@command("uuid_recv_dtmf")
def api_uuid_recv_dtmf(switch, arg, conn) -> str:
    """``uuid_recv_dtmf <uuid> <digits>``: as if the far end pressed them."""
    import gevent

    argv = separate_string(arg or "", " ", limit=2)
    if len(argv) < 2 or not argv[0] or not argv[1]:
        return "-USAGE: <uuid> <dtmf_data>\n"
    ch = _channel(switch, argv[0])
    if ch is None:
        return "-ERR Cannot locate session!\n"

    def press():
        # switch_channel_queue_dtmf_string: the digits come from an application (DTMF-Source APP).
        for d in argv[1]:
            if d.upper() in "0123456789*#ABCD":
                calls.press_dtmf(ch, d.upper(), source="APP")
                switch.clock.sleep(0.1)
    gevent.spawn(press)
    return f"+OK {argv[0]} received DTMF {argv[1]}.\n"


@command("uuid_break")
def api_uuid_break(switch, arg, conn) -> str:
    """``uuid_break <uuid> [all]``: stop the media application now."""
    if not arg:
        return "-USAGE: <uuid> [all]\n"
    uuid, _, flag = arg.partition(" ")
    ch = _channel(switch, uuid)
    if ch is None:
        return "-ERR No such channel!\n"
    if "all" in flag:
        while not ch.messages.empty():
            ch.messages.get_nowait()
    ch.break_evt.set()
    return "+OK\n"


@command("hupall")
def api_hupall(switch, arg, conn) -> str:
    """``hupall [cause] [var value]``."""
    argv = separate_string(arg or "", " ", limit=11)
    cause = "MANAGER_REQUEST"
    if argv and argv[0]:
        c = argv[0].strip().upper()
        if c.isdigit():
            cause = normalize_cause(c, "MANAGER_REQUEST")
        elif c in Q850 and c != "NONE":
            cause = c
    pairs = [(argv[i], argv[i + 1]) for i in range(1, len(argv) - 1, 2) if argv[i] and argv[i + 1]]
    for ch in list(switch.channels.values()):
        if all(ch.get_var(k) == v for k, v in pairs):
            ch.hangup(cause)
    if not pairs:
        return f"+OK hangup all channels with cause {cause}\n"
    dots = "..." if len(pairs) > 1 else ""
    return f"+OK hangup all channels matching [{pairs[0][0]}]=[{pairs[0][1]}]{dots} with cause: {cause}\n"


@command("fsctl")
def api_fsctl(switch, arg, conn) -> str:
    """``fsctl sps [N]``, ``fsctl max_sessions [N]``, ``fsctl pause|resume [inbound|outbound]``, ``hupall``."""
    argv = (arg or "").split()
    if not argv:
        return "-USAGE: [api_expansion [on|off]|recover|send_sighup|hupall|pause [inbound|outbound]|resume [inbound|outbound]|shutdown [cancel|elegant|asap|now|restart]|sps|sps_peak_reset|sync_clock|sync_clock_when_idle|reclaim_mem|max_sessions|min_dtmf_duration [num]|max_dtmf_duration [num]|default_dtmf_duration [num]|min_idle_cpu|loglevel [level]|debug_level [level]|mdns_resolve [enable|disable]]\n"
    what = argv[0].lower()
    value = _atoi(argv[1]) if len(argv) > 1 else 0
    if what == "sps":
        if value > 0:
            switch.sps_total = value
            switch._sps_left = value
        return f"+OK sessions per second: {switch.sps_total}\n"
    if what == "max_sessions":
        if value > 0:
            switch.max_sessions = value
        return f"+OK max sessions: {switch.max_sessions}\n"
    if what == "last_sps":
        return f"+OK last sessions per second: {switch._sps_count_window}\n"
    if what == "sps_peak_reset":
        switch.sps_peak = 0
        return "+OK\n"
    if what == "hupall":
        for ch in list(switch.channels.values()):
            ch.hangup("MANAGER_REQUEST")
        return "+OK\n"
    if what == "verbose_events":
        # switch_core_session_ctl(SCSC_VERBOSE_EVENTS): no argument reads the flag, an argument sets it.
        if len(argv) > 1:
            switch.verbose_events = _true(argv[1])
        return f"+OK verbose_events is {'on' if switch.verbose_events else 'off'} \n"
    if what in ("pause", "resume"):
        which = argv[1].lower() if len(argv) > 1 else "both"
        if which not in ("inbound", "outbound", "both"):
            which = "both"
        if which in ("inbound", "both"):
            switch.paused_inbound = what == "pause"
        if which in ("outbound", "both"):
            switch.paused_outbound = what == "pause"
        return "+OK\n"
    return "+OK\n"


def _true(text: str) -> bool:
    """switch_true: yes/on/true/t/enabled/active/allow, or a non-zero number."""
    v = (text or "").strip().lower()
    return v in ("yes", "on", "true", "t", "enabled", "active", "allow") or (v.lstrip("-").isdigit() and int(v) != 0)


def _atoi(text: str) -> int:
    try:
        return int(text)
    except (TypeError, ValueError):
        return 0


@command("echo")
def api_echo(switch, arg, conn) -> str:
    """Echo the argument."""
    return arg or ""


@command("eval")
def api_eval(switch, arg, conn) -> str:
    """The argument with ``${var}`` / ``$${var}`` expanded from the global variables (unset: empty)."""
    return re.sub(r"\$\$?\{([^}]*)\}", lambda m: switch.global_vars.get(m.group(1), ""), arg or "")


@command("sim_inbound")
def api_sim_inbound(switch, arg, conn) -> str:
    """``sim_inbound <caller> <called> [{var=val,...}]``: a caller dials one of our numbers."""
    argv = separate_string(arg or "", " ", limit=3)
    if len(argv) < 2 or not argv[0] or not argv[1]:
        return "-USAGE: <caller> <called> [{var=value,...}]\n"
    variables = []
    if len(argv) == 3 and argv[2]:
        text = argv[2].strip()
        if text.startswith("{") and text.endswith("}"):
            text = text[1:-1]
        variables = parse_vars(text)
    from freeswitch.sim.inbound import inbound_call

    return inbound_call(switch, argv[0], argv[1], variables)


@command("sim_status")
def api_sim_status(switch, arg, conn) -> str:
    """Simulator counters as JSON (channels, sessions since start-up, speed, listeners)."""
    return json.dumps({
        "channels": len(switch.channels),
        "sessions_since_startup": switch.sessions_since_startup,
        "peak_sessions": switch.peak_sessions,
        "speed": switch.clock.speed,
        "listeners": len(switch.listeners),
        "max_sessions": switch.max_sessions,
        "sps": switch.sps_total,
    }) + "\n"


# uuid_transfer, uuid_broadcast and uuid_bridge live with the transfers and bridges they start;
# importing them registers them in COMMANDS (they import `command` from here).
from freeswitch.sim import bridge as _bridge, show as _show, transfer as _transfer  # noqa: E402,F401
from freeswitch.sim import modules as _modules  # noqa: E402 - module_exists, load, unload

COMMANDS.update(_modules.COMMANDS)
