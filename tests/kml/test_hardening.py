"""Hostile and odd input: XXE, billion laughs, size and depth caps, encodings, BOM, comments, garbage."""

from __future__ import annotations

import pytest

import kml
from tests.kml.helpers import errors_of, messages

DOCTYPE_REFUSED = ("the document has a DOCTYPE or entity declaration; these are refused "
                   "(apps may not use DTDs or entities)")


def test_xxe_file_entity_is_refused(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    doc = (f'<?xml version="1.0"?>\n<!DOCTYPE response [<!ENTITY x SYSTEM "file://{secret}">]>\n'
           f"<response><playtext>&x;</playtext></response>").encode()
    (issue,) = errors_of(doc)
    assert issue.message == DOCTYPE_REFUSED and (issue.line, issue.column) == (2, 1)
    assert "TOP-SECRET" not in str(issue)


def test_billion_laughs_is_refused_quickly():
    lol = "".join(f'<!ENTITY lol{i} "{("&lol%d;" % (i - 1)) * 10}">' for i in range(1, 10))
    doc = f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY lol0 "lol">{lol}]><response><playtext>&lol9;</playtext></response>'
    assert messages(doc) == [DOCTYPE_REFUSED]


def test_external_dtd_and_network_are_refused():
    doc = b'<!DOCTYPE response SYSTEM "http://127.0.0.1:9/evil.dtd"><response/>'
    assert messages(doc) == [DOCTYPE_REFUSED]


def test_doctype_in_utf16_is_refused_after_parsing():
    doc = '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE r [<!ENTITY a "b">]><response><playtext>&a;</playtext></response>'
    assert messages(doc.encode("utf-16")) == [DOCTYPE_REFUSED]


def test_utf16_document_without_doctype_parses():
    doc = '<?xml version="1.0" encoding="UTF-16"?><response><playtext lang="HI">नमस्ते</playtext></response>'
    assert kml.parse(doc.encode("utf-16")).instructions[0].text == "नमस्ते"


def test_size_cap():
    doc = b"<response>" + b"<playtext>x</playtext>" * 60000 + b"</response>"
    assert len(doc) > kml.MAX_BYTES
    assert messages(doc) == [f"the document is {len(doc)} bytes; the limit is {kml.MAX_BYTES} bytes"]
    assert messages(b"<response/>", max_bytes=5) == ["the document is 11 bytes; the limit is 5 bytes"]


def test_depth_cap():
    deep = b"<response>" + b"<a>" * 20 + b"</a>" * 20 + b"</response>"
    (issue,) = errors_of(deep)
    assert issue.message == f"elements are nested more than {kml.MAX_DEPTH} levels deep"
    assert messages(b"<response><collectdtmf><playtext>x</playtext></collectdtmf></response>", max_depth=2) == [
        "elements are nested more than 2 levels deep"]
    # At the cap itself the document is judged by the grammar, not the depth rule.
    assert kml.parse(b"<response><collectdtmf><playtext>x</playtext></collectdtmf></response>", max_depth=3)


def test_very_deep_document_is_refused_not_crashing():
    deep = b"<response>" + b"<a>" * 5000 + b"</a>" * 5000 + b"</response>"
    (issue,) = errors_of(deep)
    assert "nested" in issue.message or "not well-formed" in issue.message


def test_malformed_xml_names_line_and_column():
    (issue,) = errors_of(b"<response>\n  <playtext>hi</playtxt>\n</response>")
    assert issue.message.startswith("the document is not well-formed XML: ")
    assert "playtext" in issue.message and issue.line == 2 and issue.column


def test_empty_and_whitespace_documents():
    expected = ["the document is empty: an app must answer with XML such as <response>...</response>"]
    for doc in (b"", b"   \n\t", b"\xef\xbb\xbf", ""):
        assert messages(doc) == expected


def test_html_error_page_is_not_an_app():
    (issue,) = errors_of(b"<html><body><h1>502 Bad Gateway</h1></body></html>")
    assert issue.message == "the root element must be `response` (KooKoo) or `Response` (KML), not `html`"
    (issue,) = errors_of(b"Internal Server Error")
    assert issue.message.startswith("the document is not well-formed XML")


def test_utf8_bom_whitespace_comments_and_processing_instructions():
    doc = ("\ufeff<?xml version='1.0' encoding='UTF-8'?>\n\n<!-- generated -->\n<response>\n  <!-- greet -->\n"
           "  <?php echo 1; ?>\n  <playtext>\n     Hello   \n  </playtext>\n\n</response>\n<!-- end -->\n").encode()
    app = kml.parse(doc)
    assert app.instructions == (kml.Speak("Hello", lang="EN", speed=2, quality="best"),)
    assert app.instructions[0].line == 7


def test_cdata_text_is_read():
    app = kml.parse(b"<response><playtext><![CDATA[Tom & Jerry <3]]></playtext></response>")
    assert app.instructions[0].text == "Tom & Jerry <3"


def test_str_input_with_encoding_declaration():
    app = kml.parse('<?xml version="1.0" encoding="ISO-8859-1"?><response><playtext>Café</playtext></response>')
    assert app.instructions[0].text == "Café"


def test_latin1_bytes_with_declaration():
    doc = '<?xml version="1.0" encoding="ISO-8859-1"?><response><playtext>Café</playtext></response>'.encode("latin-1")
    assert kml.parse(doc).instructions[0].text == "Café"


def test_unknown_dialect_and_wrong_type():
    assert messages(b"<response/>", "vxml") == ['unknown dialect "vxml" (use kookoo, kml, twiml, plivo)']
    with pytest.raises(TypeError):
        kml.parse(12345)


def test_namespaced_elements_are_read_by_local_name():
    app = kml.parse(b'<response xmlns="urn:x"><playtext>a</playtext></response>')
    assert app.dialect == "kookoo" and app.instructions[0].text == "a"


def test_str_input_with_bom_and_declaration():
    app = kml.parse('\ufeff<?xml version="1.0" encoding="UTF-8"?><response><playtext>नमस्ते</playtext></response>')
    assert app.instructions[0].text == "नमस्ते"


def test_bad_encodings_are_clear_errors():
    assert messages(b'<?xml version="1.0" encoding="klingon"?><response/>') == [
        "the document is not well-formed XML: Unsupported encoding: klingon"]
    assert messages(b"<response><playtext>\xff\xfe</playtext></response>") == [
        "the document is not well-formed XML: Invalid bytes in character encoding"]
    assert messages(b"<response>\x01</response>") == ["the document is not well-formed XML: PCDATA invalid Char value 1"]


def test_columns_point_at_the_right_element_on_a_crowded_line():
    doc = b"<response><playtext>a</playtext><playtext/><playtext speed='x'>b</playtext></response>"
    assert [(e.line, e.column) for e in errors_of(doc)] == [(1, 33), (1, 44)]


def test_columns_in_a_utf16_document():
    doc = '<response>\n  <playtext>नमस्ते</playtext><dial>x</dial>\n</response>'.encode("utf-16")
    (issue,) = errors_of(doc)
    assert (issue.line, issue.column) == (2, 30)


def test_doctype_after_declaration_and_comments_is_found_with_its_position():
    doc = b'<?xml version="1.0"?>\n<!-- a -> b -->\n<?pi x?>\n  <!DOCTYPE response [<!ENTITY a "b">]>\n<response/>'
    (issue,) = errors_of(doc)
    assert issue.message == DOCTYPE_REFUSED and (issue.line, issue.column) == (4, 3)


def test_doctype_like_text_inside_the_document_is_just_text():
    app = kml.parse(b"<response><playtext>Type &lt;!DOCTYPE to see</playtext><!-- <!DOCTYPE x> --></response>")
    assert app.instructions[0].text == "Type <!DOCTYPE to see"


def test_depth_cap_also_guards_subtrees_that_lenient_mode_skips():
    deep = b"<response><playtext>a</playtext><extra>" + b"<a>" * 20 + b"</a>" * 20 + b"</extra></response>"
    assert messages(deep, lenient=True) == [f"elements are nested more than {kml.MAX_DEPTH} levels deep"]
    shallow = b"<response><playtext>a</playtext><extra><a/></extra></response>"
    assert len(kml.parse(shallow, lenient=True).warnings) == 1


def test_unknown_attributes_differing_only_in_case_are_each_reported_not_a_traceback():
    # Found by a random comparison: KooKoo matches attribute names case-insensitively, and two unknown names
    # sharing one lower-case key raised KeyError out of the parser.
    assert [m for m in messages('<response><playtext a="1" A="2">hi</playtext></response>')
            if "no attribute" in m] == [
        "`playtext` has no attribute `a` (it takes lang, speed, quality, type)",
        "`playtext` has no attribute `A` (it takes lang, speed, quality, type)"]
    app = kml.parse('<response><playtext a="1" A="2">hi</playtext></response>', lenient=True)
    assert [i.text for i in app.instructions] == ["hi"]
