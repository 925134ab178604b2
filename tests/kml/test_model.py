"""The model's call-flow answers: which event each instruction produces and where the next request goes."""

from __future__ import annotations

import json

import pytest

import kml
from tests.kml.helpers import kmlapp, kookoo


def run_order(app: kml.App) -> tuple[list[str], kml.NextRequest]:
    """What a runtime does with ``app``: the instructions it runs, and the request it ends with."""
    ran = []
    for instr in app.instructions:
        ran.append(instr.kind)
        nxt = instr.next_request(app)
        if nxt is not None:
            return ran, nxt
    return ran, app.end_request()


def test_events_per_instruction():
    assert kml.CollectDigits.event == "GotDTMF"
    assert kml.Record.event == "Record"
    assert kml.Dial.event == "Dial"
    assert kml.Recognize.event == "Recognize"
    assert kml.Conference.event == "Conference"
    for cls in (kml.Speak, kml.Play, kml.Pause, kml.Hangup, kml.Reject, kml.GoTo, kml.SendSms):
        assert cls.event is None


def test_kookoo_event_goes_to_the_same_url():
    app = kookoo("<playtext>a</playtext><collectdtmf l='1'/>")
    assert run_order(app) == (["speak", "collect_digits"], kml.NextRequest("same_url", None, "GET", "GotDTMF"))
    for body, event in (("<record>f</record>", "Record"), ("<dial>1</dial>", "Dial"),
                        ("<recognize/>", "Recognize"), ("<conference>1</conference>", "Conference")):
        assert run_order(kookoo(body))[1] == kml.NextRequest("same_url", None, "GET", event)


def test_kookoo_gotourl_after_an_event_tag_redirects_that_event():
    app = kookoo("<collectdtmf/><gotourl>http://a.in/next</gotourl>")
    assert run_order(app) == (["collect_digits"], kml.NextRequest("gotourl", "http://a.in/next", "GET", "GotDTMF"))
    assert app.warnings == ()
    # Also when the gotourl comes first: it is the target of the event, not a jump.
    app = kookoo("<gotourl>http://a.in/next</gotourl><playtext>a</playtext><record>f</record>")
    assert run_order(app) == (["goto", "speak", "record"],
                              kml.NextRequest("gotourl", "http://a.in/next", "GET", "Record"))


def test_kookoo_gotourl_on_its_own_jumps_without_an_event():
    app = kookoo("<playtext>a</playtext><gotourl>http://a.in/next</gotourl><playtext>b</playtext>")
    assert run_order(app) == (["speak", "goto"], kml.NextRequest("gotourl", "http://a.in/next", "GET", None))


def test_kookoo_document_without_event_or_hangup_ends_the_call():
    assert run_order(kookoo("<playtext>bye</playtext>")) == (["speak"], kml.END)
    assert run_order(kookoo("<playtext>a</playtext><hangup/>")) == (["speak", "hangup"], kml.END)
    assert run_order(kookoo("<sendsms to='1'>x</sendsms>"))[1] == kml.END


def test_kookoo_tags_after_an_event_tag_are_kept_but_never_run():
    app = kml.parse(b"<response>\n<collectdtmf/>\n<playtext>late</playtext>\n<hangup/>\n</response>")
    assert [i.kind for i in app.instructions] == ["collect_digits", "speak", "hangup"]
    assert run_order(app)[0] == ["collect_digits"]
    assert [w.column for w in app.warnings] == [1, 1]
    assert [(w.line, w.message) for w in app.warnings] == [
        (3, "`playtext` after `collectdtmf` (line 2) never runs: the call moves on to your URL when `collectdtmf` ends"),
        (4, "`hangup` after `collectdtmf` (line 2) never runs: the call moves on to your URL when `collectdtmf` ends"),
    ]


def test_kookoo_tags_after_hangup_and_second_gotourl_warn():
    app = kml.parse(b"<response>\n<hangup/>\n<playtext>x</playtext>\n<gotourl>/a</gotourl>\n<gotourl>/b</gotourl>"
                    b"\n</response>")
    assert [(w.line, w.message) for w in app.warnings] == [
        (3, "`playtext` after `hangup` (line 2) never runs: the call ends there"),
        (5, "only the first `gotourl` is used; this one is ignored"),
    ]


def test_kml_action_is_where_the_event_goes():
    app = kmlapp('<Gather action="https://a.in/m" method="POST"/>')
    assert run_order(app)[1] == kml.NextRequest("action", "https://a.in/m", "POST", "GotDTMF")
    app = kmlapp('<Record action="/rec"/>')
    assert run_order(app)[1] == kml.NextRequest("action", "/rec", "GET", "Record")
    app = kmlapp('<Dial action="/dialed">1</Dial>')
    assert run_order(app)[1] == kml.NextRequest("action", "/dialed", "GET", "Dial")


def test_kml_without_action_gather_and_record_go_to_the_same_url_and_dial_carries_on():
    assert run_order(kmlapp("<Gather/>"))[1] == kml.NextRequest("same_url", None, "GET", "GotDTMF")
    assert run_order(kmlapp("<Record/>"))[1] == kml.NextRequest("same_url", None, "GET", "Record")
    assert run_order(kmlapp("<Dial>1</Dial><Say>after</Say>")) == (["dial", "speak"], kml.END)
    assert run_order(kmlapp("<Dial><Conference>r</Conference></Dial><Hangup/>")) == (["conference", "hangup"],
                                                                                   kml.END)


def test_kml_gather_without_input_falls_through_unless_action_on_empty():
    app = kmlapp('<Gather action="/m"><Say>Press 1</Say></Gather><Say>No input. Goodbye.</Say><Hangup/>')
    gather = app.instructions[0]
    assert gather.action_on_empty is False and app.warnings == ()
    app = kmlapp('<Gather action="/m" actionOnEmptyResult="true"/><Say>never</Say>')
    assert app.warnings[0].message == "`Say` after `Gather` (line 1) never runs: the call leaves this document there"
    assert app.warnings[0].column == 59
    app = kmlapp('<GetDigits action="/m" actionOnEmptyResult="true"/><Speak>never</Speak>')
    assert app.warnings[0].message == ("`Speak` after `GetDigits` (line 1) never runs: "
                                       "the call leaves this document there")


def test_kml_redirect_hangup_reject():
    assert run_order(kmlapp('<Redirect method="POST">/next</Redirect>'))[1] == kml.NextRequest(
        "action", "/next", "POST", None)
    assert run_order(kmlapp("<Hangup/><Say>x</Say>")) == (["hangup"], kml.END)
    assert run_order(kmlapp("<Reject/>")) == (["reject"], kml.END)


def test_event_parameter_tables_cover_every_event():
    for cls in kml.INSTRUCTION_TYPES:
        assert cls.event in kml.KML_EVENT_PARAMS
        if cls.event:
            assert cls.event in kml.KOOKOO_EVENT_PARAMS
    assert kml.KML_EVENT_PARAMS["GotDTMF"] == ("key_pressed",)  # seed 000's doc_url parameter


def test_to_dict_is_json_ready():
    app = kookoo("<collectdtmf l='2'><playtext>नमस्ते</playtext></collectdtmf>", ' sid="s1"')
    data = json.loads(json.dumps(app.to_dict(), ensure_ascii=False))
    assert data["dialect"] == "kookoo" and data["sid"] == "s1"
    cd = data["instructions"][0]
    assert cd["type"] == "collect_digits" and cd["max_digits"] == 2 and cd["line"] == 1
    assert cd["prompts"][0]["type"] == "speak" and cd["prompts"][0]["text"] == "नमस्ते"


def test_line_is_not_part_of_equality():
    assert kml.Speak("a", line=1) == kml.Speak("a", line=9)
    assert kml.Speak("a") != kml.Speak("b")


def test_kml_error_lists_issues_with_line_and_column():
    err = kml.KmlError([kml.ParseIssue(4, 3, "`collectdtmf` may not contain `record`"),
                        kml.ParseIssue(None, None, "whole document")])
    assert str(err) == "`collectdtmf` may not contain `record` (line 4, column 3); whole document"
    assert err.errors[0].to_dict() == {"line": 4, "column": 3, "message": "`collectdtmf` may not contain `record`"}
    assert isinstance(err, ValueError)


@pytest.mark.parametrize("doc,dialect", [
    (b"<Response><Say>x</Say></Response>", "kml"),
    (b"<response><Say>x</Say></response>", "kml"),  # a KML-only verb decides, whatever the root's case
    (b"<Response><playtext>x</playtext></Response>", "kookoo"),  # KooKoo's own docs capitalise the root
    (b"<RESPONSE><PlayText>x</PlayText></RESPONSE>", "kookoo"),
    (b"<Response><Dial>1</Dial><Hangup/></Response>", "kml"),
    (b"<Response><dial>1</dial></Response>", "kookoo"),
    (b"<response><Hangup/></response>", "kookoo"),
    (b"<Response/>", "kml"),
    (b"<response/>", "kookoo"),
    (b"<Response><Record/><gotourl>/x</gotourl></Response>", "kookoo"),
])
def test_dialect_detection(doc, dialect):
    assert kml.parse(doc).dialect == dialect
