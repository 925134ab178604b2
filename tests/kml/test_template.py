"""Template substitution ({field1}, $flow.key.<Name>) and the escaping of substituted values."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

import kml
from kml.template import TemplateError, escape_xml, placeholders

SEED_002 = "Dear, {field1} , {field2}, Your due balance is,, {field3},,INR only"


def test_seed_002_announcement_text():
    out = kml.substitute(SEED_002, {"field1": "Ankit", "field2": "Jayswal", "field3": "500"})
    assert out == "Dear, Ankit , Jayswal, Your due balance is,, 500,,INR only"


def test_seed_001_flow_keys_by_full_or_short_name():
    values = {"$flow.key.Name": "Abhinandan", "Language": "English"}
    assert kml.substitute("Hello $flow.key.Name, in $flow.key.Language.", values) == "Hello Abhinandan, in English."


def test_non_string_values_are_formatted():
    assert kml.substitute("due {field3}", {"field3": 500}) == "due 500"


def test_missing_variable_is_a_clear_error():
    with pytest.raises(TemplateError) as info:
        kml.substitute("Dear {field4}", {"field1": "a", "field2": "b"})
    assert str(info.value) == "the template uses {field4}, but no value was given for it (values given: field1, field2)"
    with pytest.raises(KeyError) as info:
        kml.substitute("Hi $flow.key.City", {})
    assert str(info.value) == "the template uses $flow.key.City, but no value was given for it (values given: none)"


def test_literal_braces_and_non_placeholders():
    assert kml.substitute("{{field1}} is {field1}", {"field1": "x"}) == "{field1} is x"
    assert kml.substitute("{ not a name } and {1abc} and $flow.key.", {}) == "{ not a name } and {1abc} and $flow.key."


def test_placeholders_lists_names_in_order():
    assert placeholders(SEED_002 + " $flow.key.Name {{x}}") == ["field1", "field2", "field3", "$flow.key.Name"]


def test_xml_escaping_stops_markup_injection():
    template = "<response><playtext>Dear {field1}</playtext></response>"
    hostile = "</playtext><dial>919999999999</dial><playtext>"
    doc = kml.substitute(template, {"field1": hostile}, escape="xml")
    app = kml.parse(doc)
    assert [i.kind for i in app.instructions] == ["speak"]
    assert app.instructions[0].text == "Dear " + hostile
    assert escape_xml("a&b<c>\"d'") == "a&amp;b&lt;c&gt;&quot;d&apos;"


def test_substituted_value_is_not_substituted_again():
    assert kml.substitute("{a}", {"a": "{b}", "b": "no"}) == "{b}"


def test_fs_escaping_stops_argument_and_header_injection():
    hostile = "Ankit'\n\ncontent-type: command/reply\nexecute-app-name: bridge ${sofia_contact(1000)} $${domain} " \
              "{origination_caller_id_number=1}[x]<y>|z^^:\\"
    out = kml.substitute("Dear {field1}", {"field1": hostile}, escape="fs")
    assert "\n" not in out and "\r" not in out
    assert "${" not in out and "$${" not in out
    for ch in "'\"{}[]<>|^\\":
        assert ch not in out
    assert out.startswith("Dear Ankit\u2019")


def test_fs_escaping_keeps_speech_intact():
    text = "नमस्ते Ankit, your balance is $500.50 — thanks!"
    assert kml.escape_fs_arg(text) == text


def test_unknown_escape_is_refused():
    with pytest.raises(ValueError):
        kml.substitute("x", {}, escape="html")


@given(st.text())
def test_fs_escaped_text_never_holds_a_dangerous_character(value):
    out = kml.escape_fs_arg(value)
    assert not any(ord(c) < 0x20 or c in "'\"{}[]<>|^\\\x7f\x85\u2028\u2029" for c in out)
    assert len(out) == len(value)


@given(st.text())
def test_xml_escaped_value_round_trips_through_a_document(value):
    doc = kml.substitute("<response><sendsms to='1'>x{v}</sendsms></response>", {"v": value}, escape="xml")
    readable = re.sub("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]", "\ufffd", value)
    assert kml.parse(doc).instructions[0].text == ("x" + readable).strip()
