"""The simulator's loaded modules: ``module_exists``, ``load`` and ``unload`` (mod_commands), per switch.

The simulator answers as a FreeSWITCH that has loaded the modules Vaani's configuration loads
(freeswitch/conf/README.md). ``unload <module>`` takes a module's applications away from that switch
(executing one then hangs the call up, as an unknown application does: appcore.execute) until
``load <module>`` brings them back — how a test shows a switch without mod_fifo.
"""

from __future__ import annotations

from freeswitch.sim.dialstring import separate_string

#: This module's API commands; api.py adds them to its own (this module imports nothing of api.py: no circle).
COMMANDS: dict = {}


def command(name: str):
    """Register an API command of this module under ``name``."""
    def deco(fn):
        COMMANDS[name] = fn
        return fn
    return deco

LOADED = ("mod_event_socket", "mod_sofia", "mod_loopback", "mod_commands", "mod_dptools", "mod_dialplan_xml",
          "mod_sndfile", "mod_native_file", "mod_tone_stream", "mod_local_stream", "mod_http_cache", "mod_flite",
          "mod_say_en", "mod_avmd", "mod_conference", "mod_fifo", "mod_db", "mod_hash", "mod_expr",
          "mod_console", "mod_logfile")
# The applications a module can take away (the others the simulator keeps: unloading them is refused).
APPLICATIONS = {"mod_fifo": ("fifo",), "mod_conference": ("conference",), "mod_avmd": ("avmd_start", "avmd_stop")}


def unloaded(switch) -> set[str]:
    """The modules unloaded on ``switch``."""
    return switch.__dict__.setdefault("sim_unloaded_modules", set())


def _apps_gone(switch) -> None:
    # What appcore.execute looks up (a plain set on the switch: appcore imports nothing of this module).
    switch.__dict__["sim_unloaded_apps"] = {a for m in unloaded(switch) for a in APPLICATIONS.get(m, ())}


@command("module_exists")
def api_module_exists(switch, arg, conn) -> str:
    """``module_exists <mod>``: ``true`` or ``false`` (no newline, as mod_commands writes it)."""
    name = (arg or "").strip()
    if not name:
        return ""
    return "true" if name in LOADED and name not in unloaded(switch) else "false"


@command("unload")
def api_unload(switch, arg, conn) -> str:
    """``unload [-f] <mod>``: ``+OK``, or ``-ERR [No such module!]`` / ``-ERR [Module is not unloadable]``."""
    argv = [a for a in separate_string(arg or "", " ") if a and a not in ("-f",)]
    if not argv:
        return "-USAGE: [-f] <mod_name>\n"
    name = argv[0]
    if name not in LOADED or name in unloaded(switch):
        return "-ERR [No such module!]\n"
    if name not in APPLICATIONS:
        return "-ERR [Module is not unloadable]\n"
    unloaded(switch).add(name)
    _apps_gone(switch)
    return "+OK\n"


@command("load")
def api_load(switch, arg, conn) -> str:
    """``load <mod>``: ``+OK``, or ``-ERR [Module already loaded]``."""
    name = (arg or "").strip()
    if not name:
        return "-USAGE: <mod_name>\n"
    if name in LOADED and name not in unloaded(switch):
        return "-ERR [Module already loaded]\n"
    if name not in LOADED:
        return f"-ERR [{name} cannot be loaded by the simulator]\n"
    unloaded(switch).discard(name)
    _apps_gone(switch)
    return "+OK\n"
