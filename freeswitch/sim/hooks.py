"""Channel variables that run API commands: ``api_on_answer`` and ``api_hangup_hook``.

As FreeSWITCH 1.10 runs them:

* switch_channel_api_on (switch_channel.c), called by switch_channel_perform_mark_answered with
  ``api_on_answer`` once the answer is marked (after CHANNEL_ANSWER): every variable whose name
  starts with the prefix (``api_on_answer``, ``api_on_answer_1``, ...) is ``<command> <args>`` and is
  run, with no session, in the order the variables were set.
* api_hook (switch_core_state_machine.c), called by switch_core_session_hangup_state after the
  hangup state handlers (sofia's BYE) and before CS_REPORTING, so before CHANNEL_HANGUP_COMPLETE:
  ``api_hangup_hook`` is ``<command> <args>`` or ``<command>::<args>``.

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
