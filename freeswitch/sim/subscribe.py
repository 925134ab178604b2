"""What an Event Socket connection subscribes to: the ``event``, ``filter`` and ``log`` commands' parsing and
reply texts, as mod_event_socket's parse_command has them."""

from __future__ import annotations

FORMATS = {"plain", "json", "xml"}


def filter_command(listener, rest: str) -> str:
    """``filter <header> <value>``, ``filter delete <header> [<value>]|all``: the reply text."""
    rest = rest.lstrip(" ")
    name, _, value = rest.partition(" ")
    if name.lower() == "delete" and value:
        hname, _, hval = value.partition(" ")
        if hname.lower() == "all":
            listener.filters.clear()
        else:
            listener.filters = [(k, v) for k, v in listener.filters
                                if not (k.lower() == hname.lower() and (not hval or v == hval))]
        return f"+OK filter deleted. [{hname}][{hval}]"
    if value:
        if name.lower() == "add":
            name, _, value = value.partition(" ")
        listener.filters.append((name, value))
        return f"+OK filter added. [{name}]=[{value}]"
    return "-ERR invalid syntax"


def event_command(listener, cmd: str) -> str:
    """``event [plain|json|xml] <names...>|ALL``: the reply text."""
    rest = cmd[5:]
    words = rest[rest.index(" "):].split() if " " in rest else []
    if words and words[0].lower() in FORMATS:
        listener.fmt = words[0].lower()
        words = words[1:]
    if not listener.subscribe(words):
        return "-ERR no keywords supplied"
    return f"+OK event listener enabled {listener.fmt}"


#: switch_log_str2level's names (any case), DISABLE being -1.
LOG_LEVELS = ("disable", "console", "alert", "crit", "err", "warning", "notice", "info", "debug")


def log_level(text: str) -> int | None:
    """The level a ``log`` command names (switch_log_str2level), or None (``-ERR invalid log level``)."""
    if text.isdigit():
        x = int(text)
        return 63 if x > 64 else x
    low = text.lower()
    return LOG_LEVELS.index(low) - 1 if low in LOG_LEVELS else None
