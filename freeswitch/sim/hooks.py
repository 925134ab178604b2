"""Channel variables that run commands: ``api_on_answer``, ``api_hangup_hook`` and ``execute_on_answer``.

As FreeSWITCH 1.10 runs them:

* switch_channel_api_on (switch_channel.c), called by switch_channel_perform_mark_answered with
  ``api_on_answer`` once the answer is marked (after CHANNEL_ANSWER): every variable whose name
  starts with the prefix (``api_on_answer``, ``api_on_answer_1``, ...) is ``<command> <args>`` and is
  run, with no session, in the order the variables were set.
* api_hook (switch_core_state_machine.c), called by switch_core_session_hangup_state after the
  hangup state handlers (sofia's BYE) and before CS_REPORTING, so before CHANNEL_HANGUP_COMPLETE:
  ``api_hangup_hook`` is ``<command> <args>`` or ``<command>::<args>``.
* switch_channel_execute_on (switch_channel.c), called by switch_channel_perform_mark_answered with
  ``execute_on_answer`` just before ``api_on_answer``: every variable whose name starts with the prefix is
  ``<application>[ |:]<args>`` run on the channel (switch_channel_execute_on_value), in the thread that
  marked the answer, or in the background for ``<application>::<args>``.

Also here, the ``verbose_events`` application (mod_dptools): it sets CF_VERBOSE_EVENTS on the channel, so that
every event of it carries the channel variables (DTMF, CHANNEL_STATE... included).

FreeSWITCH expands ``${variables}`` in the arguments first; the simulator takes them as they are.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from freeswitch.sim.channel import Channel

log = logging.getLogger("freeswitch.sim")


def _execute(channel: "Channel", cmd: str, arg: str, what: str) -> None:
    from freeswitch.sim.api import execute

    reply = execute(channel.switch, cmd, arg or None)
    log.debug("%s %s: %s(%s) -> %s", channel.uuid, what, cmd, arg, reply.strip())


def api_on(channel: "Channel", prefix: str) -> bool:
    """switch_channel_api_on: run every ``<prefix>*`` variable's command; False when there is none."""
    hooks = [(name, value) for name, value in list(channel.variables.items()) if name.lower().startswith(prefix)]
    for name, value in hooks:
        cmd, _, arg = value.partition(" ")  # do_api_on: the command ends at the first blank
        _execute(channel, cmd, arg, name)
    return bool(hooks)


def hangup_hook(channel: "Channel") -> None:
    """api_hook: run ``api_hangup_hook`` (in the hangup state, before CHANNEL_HANGUP_COMPLETE)."""
    text = channel.get_var("api_hangup_hook")
    if not text:
        return
    colon = text.find(":")
    if colon >= 0 and text[colon + 1:colon + 2] == ":":
        cmd, arg = text[:colon], text[colon + 2:]
    else:
        cmd, _, arg = text.partition(" ")
    _execute(channel, cmd, arg, "api_hangup_hook")


def execute_on(channel: "Channel", prefix: str) -> bool:
    """switch_channel_execute_on: run every ``<prefix>*`` variable's application; False when there is none."""
    import gevent

    from freeswitch.sim.apps import execute

    hooks = [value for name, value in list(channel.variables.items()) if name.lower().startswith(prefix)]
    for value in hooks:
        app, arg, background = value, "", False
        for i, c in enumerate(value):  # the application ends at a blank or a single ':' ('::' runs it async)
            if c == " " or (c == ":" and value[i + 1:i + 2] != ":"):
                app, arg = value[:i], value[i + 1:]
                break
            if c == ":":
                app, arg, background = value[:i], value[i + 2:], True
                break
        if background:
            channel.greenlets.append(gevent.spawn(execute, channel, app, arg))
        else:
            execute(channel, app, arg)
    return bool(hooks)


def app_verbose_events(channel: "Channel", arg: str) -> None:
    """``verbose_events``: CF_VERBOSE_EVENTS, every event of the channel carries its variables."""
    channel.verbose_events = True
