"""IVR apps on the real switch: KooKoo and KML via doc_url, RFC 2833 digits from sipp, a real recording."""

from __future__ import annotations

import audioop  # noqa: F401 - deprecated, still in 3.11/3.12: the simplest RMS of a PCM file
import io
import uuid
import wave

import pytest
import requests

from tests.e2e.harness import wait_for
from tests.ivr.appserver import AppServer


@pytest.fixture
def app():
    a = AppServer().start()
    yield a
    a.stop()


def _rms(wav_bytes: bytes) -> int:
    with wave.open(io.BytesIO(wav_bytes)) as w:
        frames = w.readframes(w.getnframes())
        return audioop.rms(frames, w.getsampwidth())


def _call(p, acct, number: str, doc_url: str, dialect: str = "auto") -> str:
    r = p.konnect("POST", "/Calls", acct, json={"id": uuid.uuid4().hex, "caller_id": "918000680000",
                                                "recipient": [number], "doc_url": doc_url, "dialect": dialect})
    assert r.status_code in (200, 201), r.text
    return r.text


def _recording_checked(p, url: str) -> int:
    name = url.rsplit("/recordings/", 1)[1]
    got = requests.get(f"{p.base}/recordings/{name}", timeout=10)
    assert got.status_code == 200 and got.headers["Content-Type"].startswith("audio/"), got.status_code
    rms = _rms(got.content)
    assert rms > 100, f"the recording {name} is silent (RMS {rms})"
    return rms


def test_kookoo_menu_digits_record_hangup(platform, app):
    p = platform

    def ivr(params):
        event = params.get("event")
        if event == "NewCall":
            return ('<response><collectdtmf l="1" o="8000"><playtext>For account balance, press 1.</playtext>'
                    '<playtext>For loans, press 2.</playtext></collectdtmf></response>')
        if event == "GotDTMF":
            return ('<response><playtext>Leave a message after the beep</playtext>'
                    '<record format="wav" silence="3" maxduration="8">msg</record></response>')
        if event == "Record":
            return "<response><playtext>Thank you, goodbye</playtext><hangup/></response>"
        return "<response/>"

    app.route("/kookoo", ivr)
    acct = p.account()
    _call(p, acct, "919920000101", app.url("/kookoo"))  # the far end presses 1 three seconds in
    wait_for(lambda: [r for r in app.requests_to("/kookoo") if r["params"].get("event") in ("Hangup", "Disconnect")],
             90, what="the app's final request")
    events = [r["params"] for r in app.requests_to("/kookoo")]
    names = [e.get("event") for e in events]
    assert names[0] == "NewCall" and names[-1] in ("Hangup", "Disconnect"), names
    got = next(e for e in events if e.get("event") == "GotDTMF")
    assert got["data"] == "1", events
    rec = next(e for e in events if e.get("event") == "Record")
    assert rec["data"].startswith("http") and int(rec["duration"]) >= 1, rec
    rms = _recording_checked(p, rec["data"])
    # FreeSWITCH itself saw the digit as RFC 2833.
    dtmf = [e for e in p.events.of("DTMF") if e.get("Unique-ID") == got["sid"]]
    assert dtmf and dtmf[0]["DTMF-Digit"] == "1" and dtmf[0].get("DTMF-Source") == "RTP", dtmf
    print(f"\nKooKoo: events {names}, recording RMS {rms}")


def test_kml_gather_record(platform, app):
    p = platform

    def doc(params):
        return ('<Response><Gather numDigits="1" timeout="8" action="/kml/menu">'
                '<Say>Press 2 to leave a message.</Say></Gather></Response>')

    def menu(params):
        assert params.get("key_pressed") == "2", params
        return ('<Response><Say>Speak after the beep.</Say>'
                '<Record maxLength="8" timeout="3" action="/kml/recorded"/></Response>')

    def recorded(params):
        return "<Response><Say>Thank you.</Say><Hangup/></Response>"

    app.route("/kml", doc)
    app.route("/kml/menu", menu)
    app.route("/kml/recorded", recorded)
    acct = p.account()
    _call(p, acct, "919920000102", app.url("/kml"))
    # The final request (call_status end) goes to the document the call was in: /kml/recorded.
    wait_for(lambda: [r for r in app.requests if r["params"].get("call_status") in ("end", "error")],
             90, what="the app's final request")
    menu_req = app.requests_to("/kml/menu")
    assert menu_req and menu_req[0]["params"]["key_pressed"] == "2"
    rec = app.requests_to("/kml/recorded")[0]["params"]
    assert rec.get("media_url", "").startswith("http"), rec
    rms = _recording_checked(p, rec["media_url"])
    final = [r["params"] for r in app.requests if r["params"].get("call_status") in ("end", "error")]
    assert final[-1]["call_status"] == "end", final
    print(f"\nKML: recording RMS {rms}, requests {[r['path'] for r in app.requests]}")


def test_application_failures_on_the_real_switch_are_app_errors(platform, app):
    """A 404 audio file in <playaudio> and as the only prompt of a menu: FreeSWITCH reports both failures
    (playback's FILE NOT FOUND, a play_and_get_digits that never set read_result); the CDR has both, and the
    app is not asked for the same silent menu again."""
    import sqlalchemy as sa

    from dialer.store import db
    from dialer.store.models import Cdr

    p = platform
    missing = app.url("/missing.wav")

    def ivr(params):
        if params.get("event") == "NewCall":
            return (f'<response><playaudio>{missing}</playaudio>'
                    f'<collectdtmf l="1" o="3000"><playaudio>{missing}</playaudio></collectdtmf>'
                    '<playtext>Goodbye</playtext><hangup/></response>')
        return "<response/>"

    app.route("/broken", ivr)
    acct = p.account()
    _call(p, acct, "919920000001", app.url("/broken"), dialect="kookoo")
    first = wait_for(lambda: app.requests_to("/broken"), 60, what="the first request")[0]["params"]
    uuid_ = first["sid"]

    def errors():
        with db.session_scope(p.db_url) as s:
            row = s.execute(sa.select(Cdr).where(Cdr.uniqueid == uuid_)).scalar()
            return list(row.app_errors) if row is not None and row.ivr_recorded else None

    errs = wait_for(errors, 60, what="the call's facts")
    assert any("FILE NOT FOUND" in e for e in errs), errs
    assert any("menu prompt could not be played" in e for e in errs), errs
    assert [r["params"].get("event") for r in app.requests_to("/broken")].count("GotDTMF") == 0
    print(f"\napp errors on the real switch: {errs}")
