"""The simulator's dial-string parsing against a frozen copy of its first, character-by-character version.

The parser in ``freeswitch.sim.dialstring`` is a port of FreeSWITCH's
``switch_separate_string`` / ``cleanup_separated_string`` /
``switch_find_end_paren``; it was rewritten with string methods and regular
expressions for speed. The reference below is the version it replaced,
frozen here verbatim (names prefixed ``ref_``), and every function must give
the same result (or the same error) for many generated strings: quotes,
backslashes, nested braces/brackets/parens, commas, ``^^`` separators, empty
parts, and the dialer's own originate commands.
"""

from __future__ import annotations

import random
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from freeswitch.sim import dialstring as ds

# ---------------------------------------------------------------------------
# The reference: the character-by-character implementation, frozen.
# ---------------------------------------------------------------------------

ESCAPE = "\\"
_UNESCAPE = {"n": "\n", "r": "\r", "t": "\t", "s": " "}


def ref_cleanup(piece, delim):
    i = 0
    n = len(piece)
    while i < n and piece[i] == " ":
        i += 1
    out = []
    end = 0
    inside = False
    while i < n:
        ch = piece[i]
        escaped = False
        if ch == ESCAPE and i + 1 < n:
            e = piece[i + 1]
            if e in ("'", '"', ESCAPE) or (delim and e == delim) or e in _UNESCAPE:
                out.append(_UNESCAPE.get(e, e) if e not in ("'", '"', ESCAPE) and e != delim else e)
                end = len(out)
                i += 2
                escaped = True
        if not escaped:
            if ch == "'" and (inside or "'" in piece[i + 1:]):
                inside = not inside
                if inside:
                    end = len(out)
            else:
                out.append(ch)
                if ch != " " or inside:
                    end = len(out)
            i += 1
    return "".join(out[:end])


def ref_separate_string(text, delim=" ", limit=1024):
    # A port of FreeSWITCH 1.10's switch_separate_string and its two tokenizers (switch_utils.c), state by
    # state, not of the old simulator code: that one dropped what lay past ``limit`` pieces (FreeSWITCH
    # keeps it in the last piece), ignored ``limit`` with other delimiters, and made an empty piece of a
    # delimiter at the very end. A piece is registered in START and ends where a delimiter is cut.
    if text.startswith("^^") and len(text) > 3:
        delim = text[2]
        text = text[3:]
    starts, stops = [], []
    i, n = 0, len(text)
    inside = False
    state = "start"
    if delim == " ":
        while i < n and len(starts) < limit:
            if state == "start":
                starts.append(i)
                stops.append(n)
                state = "skip_initial"
                continue
            ch = text[i]
            if state == "skip_initial":
                if ch == " ":
                    i += 1
                else:
                    state = "find"
            elif state == "find":
                if ch == ESCAPE:
                    i += 1
                elif ch == "'":
                    inside = not inside
                elif ch == " " and not inside:
                    stops[-1] = i
                    state = "skip_end"
                i += 1
            else:  # skip_end
                if ch == " ":
                    i += 1
                else:
                    state = "start"
        return [ref_cleanup(text[a:b], None) for a, b in zip(starts, stops)]
    while i < n and len(starts) < limit:
        if state == "start":
            starts.append(i)
            stops.append(n)
            state = "find"
            continue
        ch = text[i]
        if ch == ESCAPE:
            i += 1
        elif ch == "'" and (inside or "'" in text[i + 1:]):
            inside = not inside
        elif ch == delim and not inside:
            stops[-1] = i
            state = "start"
        i += 1
    return [ref_cleanup(text[a:b], delim) for a, b in zip(starts, stops)]


def ref_find_end_paren(text, start, open_ch, close_ch):
    # A line-by-line port of FreeSWITCH 1.10's switch_find_end_paren (switch_utils.c), not of the old
    # simulator code: that one treated quotes as special, which FreeSWITCH does not.
    i = start
    while i < len(text) and text[i] == " ":
        i += 1
    if i >= len(text) or text[i] != open_ch:
        return -1
    depth = 1
    i += 1
    while i < len(text):
        ch = text[i]
        if ch == open_ch and open_ch != close_ch:
            depth += 1
        elif ch == close_ch:
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return -1


def ref_parse_vars(inner):
    pairs = []
    for piece in ref_separate_string(inner, ","):
        if not piece:
            continue
        name, eq, value = piece.partition("=")
        if eq and name.strip():
            pairs.append((name.strip(), value))
    return pairs


def ref_parse_originate_args(arg):
    argv = ref_separate_string(arg or "", " ", limit=10)
    if len(argv) < 2 or len(argv) > 7:
        raise ValueError(f"-USAGE: {ds.ORIGINATE_SYNTAX}\n")
    argv = [None if a.lower() == "undef" else a for a in argv]
    argv += [None] * (7 - len(argv))
    dialstring, exten, dp, context, cid_name, cid_num, timeout = argv
    if exten is None:
        raise ValueError(f"-USAGE: {ds.ORIGINATE_SYNTAX}\n")
    out = ds.OriginateArgs(dialstring or "", exten, dialplan=dp or "XML", context=context or "default",
                           cid_name=cid_name, cid_num=cid_num)
    if timeout:
        out.timeout = ds._atoi(timeout) or 60
    if exten.startswith("&") and len(exten) > 1:
        app = exten[1:]
        close = app.find(")")
        if close >= 0:
            app = app[:close]
        name, paren, app_arg = app.partition("(")
        out.app_name = name
        out.app_arg = app_arg if paren else None
    return out


_QUOTED_COMMA = "\x01"
_UNQUOTED_COMMA = "\x02"


def ref_parse_dialstring(text):
    data = text.strip()
    global_vars = []
    while data.startswith("{"):
        end = ref_find_end_paren(data, 0, "{", "}")
        if end < 0:
            raise ds.DialStringError("INVALID_NUMBER_FORMAT", "unterminated {")
        global_vars += ref_parse_vars(data[1:end])
        data = data[end + 1:].lstrip()
    if not data:
        raise ds.DialStringError("INVALID_NUMBER_FORMAT", "empty dial string")
    groups = []
    for group in ref_separate_string(data.replace(":_:", "|"), "|"):
        group = ref_protect_bracket_commas(group)
        legs = []
        for piece in ref_separate_string(group, ","):
            piece = piece.replace(_QUOTED_COMMA, "\\,").replace(_UNQUOTED_COMMA, ",").strip()
            if not piece:
                continue
            leg_vars = []
            while piece.startswith("["):
                end = ref_find_end_paren(piece, 0, "[", "]")
                if end < 0:
                    raise ds.DialStringError("INVALID_NUMBER_FORMAT", "unterminated [")
                leg_vars += ref_parse_vars(piece[1:end])
                piece = piece[end + 1:].lstrip()
            if not piece:
                raise ds.DialStringError("INVALID_NUMBER_FORMAT", "a leg without an endpoint")
            legs.append(ds.Leg(piece, leg_vars))
        if legs:
            groups.append(legs)
    if not groups:
        raise ds.DialStringError("INVALID_NUMBER_FORMAT", "no legs")
    return ds.DialString(global_vars, groups)


def ref_protect_bracket_commas(group):
    out = list(group)
    i = 0
    while i < len(out):
        if out[i] == "[":
            end = ref_find_end_paren(group, i, "[", "]")
            if end < 0:
                break
            for j in range(i + 1, end):
                if out[j] == "," and out[j - 1] != "\\":
                    out[j] = _UNQUOTED_COMMA
            i = end
        i += 1
    return "".join(out)


# ---------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------

# Fragments weighted towards what the grammar treats specially.
FRAGMENTS = [
    "'", "'", '"', "\\", "\\", "\\'", "\\\\", "\\,", "\\n", "\\s", "\\t", "\\r", "\\q", "\\ ", "{", "}", "[", "]",
    "(", ")", ",", ",", " ", " ", "  ", "^^", "^^:", "^^;", "^^,", "^^'", "^^\\", "|", ":_:", "=", "a", "b", "n",
    "r", "t", "s", "x=1", "y='a b'", "&", "\t", "\n", "é", "☎", ";", ":", "_", "undef", "sofia/gateway/gw/123",
    "sofia/internal/1000@127.0.0.1", "user/1000", "loopback/9999/default", "error/USER_BUSY", "&park()",
    "&socket('127.0.0.1:8084 async full')", "{a=1,b=2}", "[leg=1]", "\x01", "\x02",
]
DELIMS = [" ", ",", "|", ";", ":", "=", "n", "'", "\\", "^"]
LIMITS = [1024, 1, 2, 3, 4, 10, 11]


def random_strings(count: int, seed: int) -> list[str]:
    """Concatenations of 0..24 fragments, deterministic for a seed."""
    rng = random.Random(seed)
    return ["".join(rng.choice(FRAGMENTS) for _ in range(rng.randint(0, 24))) for _ in range(count)]


def structured_dialstrings(count: int, seed: int) -> list[str]:
    """Dial strings shaped like real ones ({vars}[vars]endpoint,...|...) with awkward values."""
    rng = random.Random(seed)
    values = ["1", "", "'a b'", "'a,b'", "a\\,b", "'it\\'s'", "x y", "\\\\", "'{x}'", "[y]", "'", "p=q", " pad ",
              "é", "'a|b'", "^^:a=1:b=2"]
    endpoints = ["sofia/gateway/gw/+15551234567", "user/1000@example.com", "loopback/1234", "error/USER_BUSY",
                 "sofia/internal/sip:1000@127.0.0.1", "bogus", ""]

    def block(open_ch, close_ch):
        pairs = [f"v{i}={rng.choice(values)}" for i in range(rng.randint(0, 5))]
        sep = rng.choice([",", ",", ", ", " ,"])
        return open_ch + sep.join(pairs) + close_ch

    out = []
    for _ in range(count):
        text = "".join(block("{", "}") for _ in range(rng.randint(0, 2)))
        groups = []
        for _ in range(rng.randint(1, 3)):
            legs = []
            for _ in range(rng.randint(1, 3)):
                leg = "".join(block("[", "]") for _ in range(rng.randint(0, 2))) + rng.choice(endpoints)
                legs.append(leg)
            groups.append(",".join(legs))
        text += rng.choice(["|", ":_:"]).join(groups)
        out.append(text)
    return out


def dialer_commands(count: int, seed: int) -> list[str]:
    """The dialer's own originate arguments (what ``bgapi originate`` carries), built by dialer.originate."""
    from dialer.originate import Originate
    from ivr.call_spec import Announcement, CallSpec

    rng = random.Random(seed)
    names = ["Asha", "O'Brien", "Ravi, Jr.", "a b  c", "back\\slash", "ünïcödé", "50% off", "x=y;z", ""]
    out = []
    for i in range(count):
        fields = {"name": rng.choice(names), "field1": rng.choice(names)}
        spec = CallSpec(call_type="campaign", attempt_id=f"AT{i}", account_id="ACx", campaign_id="CMx",
                        caller_id="15168148111", called_number=f"+9199{i:08d}", fields=fields,
                        announcement=Announcement(text="Hello {field1}", repeat=1))
        extra = {}
        if i % 3 == 0:
            extra["sim_outcome"] = rng.choice(["answer", "busy", "no_answer"])
        if i % 4 == 0:  # only names the dialer can carry (quote_value refuses quotes, commas, backslashes)
            extra["origination_caller_id_name"] = rng.choice(["Asha", "a b  c", "ünïcödé", "50% off", "x=y;z"])
        orig = Originate(call_uuid=str(uuid.UUID(int=rng.getrandbits(128))), number=f"+9199{i:08d}",
                         gateway="vaani_trunk", caller_id=rng.choice(["15168148111", None]), spec=spec,
                         ivr_address="127.0.0.1:8084", originate_timeout=rng.choice([30, 45, 60]),
                         key_prefix="vaani", worker_id=rng.choice([None, "host-1:1234"]), extra_vars=extra)
        out.append(orig.command()[len("originate "):])
    return out


def _outcome(fn, *args):
    """A function's result, or its error as (type, message[, cause]) so errors compare too."""
    try:
        return ("ok", fn(*args))
    except ds.DialStringError as exc:
        return ("err", type(exc).__name__, str(exc), exc.cause)
    except Exception as exc:  # noqa: BLE001 - any error must be the same error
        return ("err", type(exc).__name__, str(exc))


RANDOM = random_strings(4000, 1)
STRUCTURED = structured_dialstrings(1500, 2)
DIALER = dialer_commands(300, 3)
ALL = RANDOM + STRUCTURED + DIALER


def _check_splitting(text: str) -> None:
    for delim in DELIMS:
        for limit in LIMITS:
            assert ds.separate_string(text, delim, limit) == ref_separate_string(text, delim, limit), \
                (text, delim, limit)
    for delim in (None, ",", ";", "n", "'", "\\", " "):
        assert ds._cleanup(text, delim) == ref_cleanup(text, delim), (text, delim)


def _check_brackets(text: str) -> None:
    for open_ch, close_ch in (("{", "}"), ("[", "]"), ("(", ")")):
        starts = {0, len(text)} | {i for i, c in enumerate(text) if c == open_ch}
        for start in starts:
            assert ds.find_end_paren(text, start, open_ch, close_ch) == \
                ref_find_end_paren(text, start, open_ch, close_ch), (text, start, open_ch)
    assert ds._protect_bracket_commas(text) == ref_protect_bracket_commas(text), text


def _check_grammar(text: str) -> None:
    assert _outcome(ds.parse_vars, text) == _outcome(ref_parse_vars, text), text
    assert _outcome(ds.parse_dialstring, text) == _outcome(ref_parse_dialstring, text), text
    assert _outcome(ds.parse_originate_args, text) == _outcome(ref_parse_originate_args, text), text


@pytest.mark.parametrize("chunk", range(8))
def test_splitting_matches_reference(chunk):
    for text in ALL[chunk::8]:
        _check_splitting(text)


@pytest.mark.parametrize("chunk", range(4))
def test_brackets_match_reference(chunk):
    for text in ALL[chunk::4]:
        _check_brackets(text)


@pytest.mark.parametrize("chunk", range(4))
def test_grammar_matches_reference(chunk):
    for text in ALL[chunk::4]:
        _check_grammar(text)


def test_dialer_commands_parse_as_before():
    for arg in DIALER:
        new, old = ds.parse_originate_args(arg), ref_parse_originate_args(arg)
        assert new == old
        assert new.app_name == "socket" and new.app_arg == "127.0.0.1:8084 async full"
        # (A value holding a quote can make the dial string unparsable: then both refuse it alike.)
        assert _outcome(ds.parse_dialstring, new.dialstring) == _outcome(ref_parse_dialstring, old.dialstring)


def test_edge_cases_match_reference():
    edges = ["", " ", "   ", "'", "''", "\\", "\\\\", "a\\", "'a", "a'", "' '", " ' ' ", "^^", "^^:", "^^:a",
             "^^:a:b", "^^ a b", "a  b   ", "  a", "x\\", "'a\\'", "\\' x", "a 'b c' d", "a'b c'd e", "'''",
             "{", "}", "{}", "{{}}", "{'}'}x", "{\"}\"}x", "[", "[,]x", "[a\\,b,c]x", "[[a,b]c,d]e,f", "x,[a,b]"]
    for text in edges:
        _check_splitting(text)
        _check_brackets(text)
        _check_grammar(text)


_alphabet = st.sampled_from(FRAGMENTS)


@settings(max_examples=400, deadline=None)
@given(st.lists(_alphabet, max_size=30).map("".join))
def test_property_splitting(text):
    _check_splitting(text)
    _check_brackets(text)
    _check_grammar(text)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8", categories=["L", "N", "P", "S", "Z", "Cc"]), max_size=40))
def test_property_any_text(text):
    _check_splitting(text)
    _check_brackets(text)
    _check_grammar(text)
