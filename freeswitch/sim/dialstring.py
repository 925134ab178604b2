"""FreeSWITCH's argument splitting and originate dial-string grammar.

* :func:`separate_string` is ``switch_separate_string``: single quotes group,
  ``\\`` escapes, quotes are removed from the pieces. With a blank delimiter
  this is how ``originate``'s own arguments are split, which is why
  ``&socket(127.0.0.1:8084 async full)`` loses its arguments and
  ``&socket('127.0.0.1:8084 async full')`` keeps them.
* :func:`parse_originate_args` is the ``originate`` API's argument list.
* :func:`parse_dialstring` is ``switch_ivr_originate``'s dial string:
  ``{global vars}`` then groups separated by ``|`` (tried one after another),
  each a ``,``-separated list of legs rung at once, each leg ``[leg vars]`` then
  an endpoint (``sofia/gateway/<gw>/<number>``, ``sofia/<profile>/<uri>``,
  ``loopback/<ext>[/<context>]``, ``user/<id>[@<domain>]``, ``error/<cause>``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from freeswitch.sim.sofia import GATEWAY_PROFILE, gateway_channel_name

ESCAPE = "\\"
_UNESCAPE = {"n": "\n", "r": "\r", "t": "\t", "s": " "}

ORIGINATE_SYNTAX = ("<call url> <exten>|&<application_name>(<app_args>) [<dialplan>] [<context>] "
                    "[<cid_name>] [<cid_num>] [<timeout_sec>]")


class DialStringError(ValueError):
    """A dial string FreeSWITCH would refuse; ``cause`` is the hangup cause it reports."""

    def __init__(self, cause: str, message: str = ""):
        super().__init__(message or cause)
        self.cause = cause


# cleanup_separated_string's tokens: an escape pair (or a lone trailing backslash), a quote, a run of other text.
_CLEANUP_TOKEN = re.compile(r"\\[\s\S]?|'|[^\\']+")
# One piece of a blank-delimited string: escapes take the next character whatever it is, every quote
# toggles (an unterminated one runs to the end), an unquoted blank ends the piece.
_BLANK_PIECE = re.compile(r"(?:[^ '\\]+|\\[\s\S]?|'(?:[^'\\]+|\\[\s\S]?)*'?)+")
_CHAR_SPECIALS: dict[str, re.Pattern] = {}
_PAREN_SPECIALS: dict[tuple[str, str], re.Pattern] = {}
_BRACKET_COMMA = re.compile(r"(?<!\\),")


def _cleanup(piece: str, delim: str | None) -> str:
    """cleanup_separated_string: drop leading blanks, quote marks and escapes, trailing blanks.

    A quote opens only if another quote follows it (anywhere later, escaped or not) and closes at the
    next one; blanks inside quotes or produced by an escape are kept at the end, plain ones are not.
    """
    if "\\" not in piece and "'" not in piece:
        return piece.strip(" ")
    text = piece.lstrip(" ")
    last_quote = text.rfind("'")
    out: list[str] = []
    size = 0   # characters in out
    end = 0    # where the kept text ends (trailing plain blanks are dropped)
    inside = False
    for m in _CLEANUP_TOKEN.finditer(text):
        tok = m.group()
        first = tok[0]
        if first == "\\":
            if len(tok) == 1:            # a backslash that ends the piece is kept
                out.append(tok)
                size += 1
                end = size
                continue
            e = tok[1]
            if e in "'\"\\" or e == delim:
                out.append(e)
            elif e in _UNESCAPE:
                out.append(_UNESCAPE[e])
            else:                        # not an escape: both characters stay as they are
                out.append(tok)
                size += 2
                end = size if (e != " " or inside) else size - 1
                continue
            size += 1
            end = size
        elif first == "'":
            if inside or m.start() < last_quote:
                inside = not inside
                if inside:
                    end = size
            else:
                out.append(tok)
                size += 1
                end = size
        else:
            out.append(tok)
            size += len(tok)
            if inside:
                end = size
            else:
                kept = len(tok.rstrip(" "))
                if kept:
                    end = size - len(tok) + kept
    return "".join(out)[:end]


def separate_string(text: str, delim: str = " ", limit: int = 1024) -> list[str]:
    """switch_separate_string: split at ``delim`` outside single quotes; escapes and quotes are cleaned.

    ``^^<d>`` at the start makes ``<d>`` the delimiter. With a blank delimiter every quote toggles and runs
    of blanks are one separator; with another delimiter a quote opens only if another follows. As in
    FreeSWITCH (switch_utils.c), at most ``limit`` pieces: the last one holds the rest of the text, and a
    delimiter at the very end starts no empty piece.
    """
    if text.startswith("^^") and len(text) > 3:
        delim = text[2]
        text = text[3:]
    if not text or limit <= 0:
        return []
    if delim == " ":
        matches = list(_BLANK_PIECE.finditer(text))
        if not matches:  # only blanks: one empty piece
            return [""]
        if len(matches) > limit:
            return [_cleanup(m.group(), None) for m in matches[:limit - 1]] + \
                [_cleanup(text[matches[limit - 1].start():], None)]
        return [_cleanup(m.group(), None) for m in matches]
    if not isinstance(delim, str) or len(delim) != 1:
        return [_cleanup(text, delim)]  # a delimiter of other than one character never matches
    if "\\" not in text and "'" not in text:
        parts = text.split(delim, limit - 1)
        if len(parts) > 1 and parts[-1] == "" and len(parts) <= limit and text.endswith(delim):
            parts.pop()  # the delimiter at the very end split, and nothing follows it
        return [p.strip(" ") for p in parts]  # what _cleanup makes of a piece without either
    specials = _CHAR_SPECIALS.get(delim)
    if specials is None:
        specials = _CHAR_SPECIALS[delim] = re.compile(r"\\[\s\S]?|'|" + re.escape(delim))
    last_quote = text.rfind("'")
    pieces = []
    start = 0
    inside = False
    for m in specials.finditer(text):
        if len(pieces) == limit - 1:
            break  # the last piece takes the rest
        tok = m.group()
        if tok[0] == "\\":
            continue  # an escape hides the next character (a backslash delimiter never splits)
        pos = m.start()
        if tok == "'" and (inside or pos < last_quote):
            inside = not inside
        elif tok == delim and not inside:
            pieces.append(text[start:pos])
            start = pos + 1
    if start < len(text) or not pieces:
        pieces.append(text[start:])
    return [_cleanup(p, delim) for p in pieces]


def find_end_paren(text: str, start: int, open_ch: str, close_ch: str) -> int:
    """switch_find_end_paren: index of the bracket closing the one at ``start``; -1 when it is not closed.

    As FreeSWITCH 1.10 counts (switch_utils.c): leading blanks skipped, then nesting of ``open_ch`` /
    ``close_ch`` and nothing else — quotes are not special, so a variable value holding a brace breaks
    the block (the dialer refuses such values) while one holding a quote does not.
    """
    n = len(text)
    while start < n and text[start] == " ":
        start += 1
    if start >= n or text[start] != open_ch:
        return -1
    key = (open_ch, close_ch)
    pattern = _PAREN_SPECIALS.get(key)
    if pattern is None:
        chars = "".join(dict.fromkeys(c for c in key if len(c) == 1))
        pattern = _PAREN_SPECIALS[key] = re.compile("[" + re.escape(chars) + "]")
    search = pattern.search
    depth = 1
    m = search(text, start + 1)
    while m is not None:
        ch = m.group()
        if ch == open_ch and open_ch != close_ch:
            depth += 1
        elif ch == close_ch:
            depth -= 1
            if depth == 0:
                return m.start()
        m = search(text, m.start() + 1)
    return -1


def parse_vars(inner: str) -> list[tuple[str, str]]:
    """The inside of ``{...}``/``[...]``: ``name=value`` pairs separated by ``,`` (or ``^^<d>``)."""
    pairs = []
    for piece in separate_string(inner, ","):
        if not piece:
            continue
        name, eq, value = piece.partition("=")
        if eq and name.strip():
            pairs.append((name.strip(), value))
    return pairs


@dataclass
class OriginateArgs:
    """The ``originate`` API's arguments."""

    dialstring: str
    exten: str
    app_name: str | None = None
    app_arg: str | None = None
    dialplan: str = "XML"
    context: str = "default"
    cid_name: str | None = None
    cid_num: str | None = None
    timeout: int = 60


def parse_originate_args(arg: str | None) -> OriginateArgs:
    """Split ``originate``'s argument string as mod_commands does; ValueError carries the -USAGE text."""
    argv = separate_string(arg or "", " ", limit=10)
    if len(argv) < 2 or len(argv) > 7:
        raise ValueError(f"-USAGE: {ORIGINATE_SYNTAX}\n")
    argv = [None if a.lower() == "undef" else a for a in argv]
    argv += [None] * (7 - len(argv))
    dialstring, exten, dp, context, cid_name, cid_num, timeout = argv
    if exten is None:
        raise ValueError(f"-USAGE: {ORIGINATE_SYNTAX}\n")
    out = OriginateArgs(dialstring or "", exten, dialplan=dp or "XML", context=context or "default",
                        cid_name=cid_name, cid_num=cid_num)
    if timeout:
        out.timeout = _atoi(timeout) or 60
    if exten.startswith("&") and len(exten) > 1:
        # mod_commands: the application's arguments end at the FIRST ')'.
        app = exten[1:]
        close = app.find(")")
        if close >= 0:
            app = app[:close]
        name, paren, app_arg = app.partition("(")
        out.app_name = name
        out.app_arg = app_arg if paren else None
    return out


def _atoi(text: str) -> int:
    m = re.match(r"\s*([+-]?\d+)", text or "")
    return int(m.group(1)) if m else 0


@dataclass
class Leg:
    """One endpoint to ring, with its own ``[...]`` variables."""

    endpoint: str
    variables: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class DialString:
    """A parsed dial string: global variables and the groups of legs (tried in order)."""

    variables: list[tuple[str, str]]
    groups: list[list[Leg]]


_QUOTED_COMMA = "\x01"
_UNQUOTED_COMMA = "\x02"


def parse_dialstring(text: str) -> DialString:
    """Parse an originate dial string. Raises DialStringError for what FreeSWITCH refuses."""
    data = text.strip()
    global_vars: list[tuple[str, str]] = []
    while data.startswith("{"):
        end = find_end_paren(data, 0, "{", "}")
        if end < 0:
            raise DialStringError("INVALID_NUMBER_FORMAT", "unterminated {")
        global_vars += parse_vars(data[1:end])
        data = data[end + 1:].lstrip()
    if not data:
        raise DialStringError("INVALID_NUMBER_FORMAT", "empty dial string")
    groups = []
    for group in separate_string(data.replace(":_:", "|"), "|"):
        group = _protect_bracket_commas(group)
        legs = []
        for piece in separate_string(group, ","):
            piece = piece.replace(_QUOTED_COMMA, "\\,").replace(_UNQUOTED_COMMA, ",").strip()
            if not piece:
                continue
            leg_vars: list[tuple[str, str]] = []
            while piece.startswith("["):
                end = find_end_paren(piece, 0, "[", "]")
                if end < 0:
                    raise DialStringError("INVALID_NUMBER_FORMAT", "unterminated [")
                leg_vars += parse_vars(piece[1:end])
                piece = piece[end + 1:].lstrip()
            if not piece:
                raise DialStringError("INVALID_NUMBER_FORMAT", "a leg without an endpoint")
            legs.append(Leg(piece, leg_vars))
        if legs:
            groups.append(legs)
    if not groups:
        raise DialStringError("INVALID_NUMBER_FORMAT", "no legs")
    return DialString(global_vars, groups)


def _protect_bracket_commas(group: str) -> str:
    # switch_ivr_originate marks the commas inside [...] before splitting legs at ','.
    i = group.find("[")
    if i < 0:
        return group
    out = []
    copied = 0
    while i >= 0:
        end = find_end_paren(group, i, "[", "]")
        if end < 0:
            break
        out.append(group[copied:i + 1])
        out.append(_BRACKET_COMMA.sub(_UNQUOTED_COMMA, group[i + 1:end]))
        copied = end
        i = group.find("[", end + 1)
    out.append(group[copied:])
    return "".join(out)


@dataclass
class Endpoint:
    """A resolved endpoint: what channel it makes and which number the far end sees."""

    kind: str            # sofia, loopback, user, error
    number: str          # the called number/extension (scenario key)
    channel_name: str
    profile: str = ""
    gateway: str = ""
    uri: str = ""
    context: str = "default"
    dialplan: str = "XML"
    cause: str = ""      # for error/<cause>


def parse_endpoint(text: str, known_gateways: set[str] | None = None) -> Endpoint:
    """Resolve an endpoint string; unknown technologies fail as FreeSWITCH fails them."""
    tech, slash, rest = text.partition("/")
    tech = tech.lower()
    if not slash or not rest:
        raise DialStringError("CHAN_NOT_IMPLEMENTED", f"no such endpoint {text!r}")
    if tech == "sofia":
        profile, _, target = rest.partition("/")
        if profile == "gateway":
            gw, _, number = target.partition("/")
            if not gw or not number:
                raise DialStringError("INVALID_GATEWAY" if not gw else "INVALID_URL", text)
            if known_gateways is not None and gw not in known_gateways:
                raise DialStringError("INVALID_GATEWAY", text)
            user = number.split("@", 1)[0]
            if user.startswith("sip:"):
                user = user[4:]
            return Endpoint("sofia", user, gateway_channel_name(number), profile=GATEWAY_PROFILE, gateway=gw,
                            uri=f"sip:{number}" if "@" in number else f"sip:{number}@{gw}")
        if not profile or not target:
            raise DialStringError("INVALID_URL", text)
        uri = target[4:] if target.startswith("sip:") else target
        user = uri.split("@", 1)[0].split(";", 1)[0]
        return Endpoint("sofia", user, f"sofia/{profile}/{target}", profile=profile, uri=f"sip:{uri}")
    if tech == "loopback":
        parts = rest.split("/")
        ext = parts[0]
        context = parts[1] if len(parts) > 1 and parts[1] else "default"
        dialplan = parts[2] if len(parts) > 2 and parts[2] else "XML"
        return Endpoint("loopback", ext, f"loopback/{ext}-a", context=context, dialplan=dialplan)
    if tech == "user":
        user, _, domain = rest.partition("@")
        domain = domain or "127.0.0.1"
        return Endpoint("user", user, f"sofia/internal/{user}@{domain}", profile="internal", uri=f"sip:{user}@{domain}")
    if tech == "error":
        return Endpoint("error", rest, f"error/{rest}", cause=rest.upper())
    raise DialStringError("CHAN_NOT_IMPLEMENTED", f"no such endpoint {tech!r}")
