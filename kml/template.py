"""Template substitution for apps and built-in prompts, and escaping of substituted values.

Two placeholder styles, one function:

* ``{field1}``, ``{name}`` — campaign contact fields (seed 002 ``announcement_text``:
  ``"Dear, {field1} , {field2}, Your due balance is,, {field3},,INR only"``);
* ``$flow.key.<Name>`` — Kairos flow keys (seed 001 ``keys[].name``, e.g.
  ``$flow.key.Language``); looked up as ``"$flow.key.Language"`` first, then ``"Language"``.

``{{`` and ``}}`` stand for literal braces. A brace pair around anything that
is not a name (``{ hello }``) is left as it is. A placeholder without a value
raises :class:`TemplateError` naming it and the names that do exist.

Values are inserted as they are unless ``escape`` says how the result is used:
``"xml"`` (into an XML/KML/SSML document: ``& < > " '`` become entities, so a
contact named ``</playtext><dial>`` is just text) or ``"fs"`` (into a
FreeSWITCH application argument, see :func:`escape_fs_arg`).
"""

from __future__ import annotations

import re
from typing import Callable, Mapping

_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}|\$flow\.key\.([A-Za-z0-9_]+)")
_XML = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;", "\r": "&#13;"})
# Characters XML 1.0 cannot hold at all: one of them would make the whole document unreadable.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
# Control characters would end an ESL header line (header injection); the rest of
# these change how FreeSWITCH reads an argument: ${...} and $${...} expand
# variables, {..} [..] <..> prefix channel variables, ' and " quote, \ escapes,
# | separates speak's engine|voice|text, ^^ changes the separator.
_FS = {i: " " for i in range(0x20)}
_FS.update({0x7F: " ", 0x85: " ", 0x2028: " ", 0x2029: " "})
_FS.update({ord("{"): "(", ord("}"): ")", ord("["): "(", ord("]"): ")", ord("<"): "(", ord(">"): ")",
            ord("'"): "\u2019", ord('"'): "\u201d", ord("\\"): "/", ord("|"): " ", ord("^"): " "})


class TemplateError(KeyError):
    """A placeholder has no value (or the template/values are not text)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "template error"


def escape_xml(value: str) -> str:
    """``value`` safe as XML text or attribute content.

    ``& < > " '`` become entities, a carriage return becomes ``&#13;`` (XML would
    otherwise turn it into a line feed), and characters XML cannot hold become
    U+FFFD.
    """
    return _NOT_XML.sub("\ufffd", value).translate(_XML)


def escape_fs_arg(value: str) -> str:
    """``value`` made safe inside a FreeSWITCH application argument (e.g. TTS text for ``speak``).

    Line breaks and other control characters become spaces (they would inject
    ESL headers); ``{}``, ``[]`` and ``<>`` become parentheses, so no
    ``${var}``/``$${var}`` expansion or ``{var=value}`` prefix can form (a
    lone ``$`` is harmless and kept); quotes become typographic quotes; ``\\`` becomes ``/``; ``|``
    and ``^`` become spaces. Letters of every script, digits, commas and
    full stops (which shape TTS prosody) are kept. The result is meant to be
    spoken or displayed, never dialled: validate numbers separately.
    """
    if not isinstance(value, str):
        value = str(value)
    return value.translate(_FS)


_ESCAPES: dict[str | None, Callable[[str], str]] = {None: lambda v: v, "xml": escape_xml, "fs": escape_fs_arg}


def placeholders(template: str) -> list[str]:
    """The placeholder names a template uses, in order (``$flow.key.X`` kept whole)."""
    out = []
    for m in _PLACEHOLDER.finditer(template):
        if m.group(1):
            out.append(m.group(1))
        elif m.group(2):
            out.append("$flow.key." + m.group(2))
    return out


def substitute(template: str, values: Mapping[str, object], *, escape: str | None = None) -> str:
    """Fill every placeholder of ``template`` from ``values``; raises TemplateError for a missing one."""
    if escape not in _ESCAPES:
        raise ValueError(f"escape must be None, 'xml' or 'fs', not {escape!r}")
    if not isinstance(template, str):
        raise TemplateError(f"a template must be text, not {type(template).__name__}")
    esc = _ESCAPES[escape]

    def fill(m: re.Match) -> str:
        whole = m.group(0)
        if whole == "{{":
            return "{"
        if whole == "}}":
            return "}"
        if m.group(1):
            name = m.group(1)
            value = values.get(name)
        else:
            name = whole
            value = values.get(whole)
            if value is None:
                value = values.get(m.group(2))
        if value is None:
            known = ", ".join(sorted(map(str, values))) or "none"
            raise TemplateError(f"the template uses {'{' + name + '}' if m.group(1) else name}, "
                                f"but no value was given for it (values given: {known})")
        return esc(value if isinstance(value, str) else str(value))

    return _PLACEHOLDER.sub(fill, template)
