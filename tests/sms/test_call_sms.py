"""KooKoo ``<sendsms>`` and KML ``<Sms>`` during a call go through the one SMS path to the SMSC.

The rig (simulator ↔ IVR runtime ↔ app server, tests/ivr/harness.py) and the SMS stack share Redis: the
runtime enqueues ``sms.jobs.send_from_call`` on ``<prefix>-sms`` and the SMS worker sends it over SMPP.
"""

from __future__ import annotations

import time

import pytest

from ivr.call_spec import CallSpec
from tests.ivr.harness import Rig
from tests.sms.conftest import free_number


@pytest.mark.parametrize("sms_stack", ["sqlite"], indirect=True)
def test_sendsms_and_kml_sms_are_sent_during_the_call(sms_stack, tmp_path, redis_url):
    st = sms_stack
    acct = st.api.account()
    rig = Rig(tmp_path, redis_url, st.cfg.key_prefix)
    try:
        kookoo_to, kml_to = free_number(), free_number()
        rig.app.route("/kookoo", lambda p: (f'<response><sendsms to="{kookoo_to[1:]}">Your OTP is 4711</sendsms>'
                                            '<playtext>Sent</playtext><hangup/></response>'))
        rig.app.route("/kml", lambda p: (f'<Response><Sms to="{kml_to[1:]}">Thanks for calling ✓</Sms>'
                                         '<Hangup/></Response>'))
        calls = [rig.call(CallSpec(call_type="campaign", account_id=acct.account_id, app_url=rig.app.url(path),
                                   caller_id="918000000000", dialect=dialect))
                 for path, dialect in (("/kookoo", "kookoo"), ("/kml", "kml"))]
        for uuid in calls:
            call = rig.wait(uuid)
            assert call.facts.app_errors == [], call.facts.app_errors
        deadline = time.monotonic() + 8
        while (not st.received_for(kookoo_to) or not st.received_for(kml_to)) and time.monotonic() < deadline:
            time.sleep(0.05)
        (otp,) = st.received_for(kookoo_to)
        assert otp.text == "Your OTP is 4711" and otp.source == "918000000000"
        (thanks,) = st.received_for(kml_to)
        assert thanks.text == "Thanks for calling ✓" and thanks.data_coding == 8
        from dialer.store.sms_models import SmsMessage
        import sqlalchemy as sa

        with st.api.session() as s:
            rows = s.scalars(sa.select(SmsMessage).where(SmsMessage.call_uuid.in_(calls))).all()
            assert sorted(r.origin for r in rows) == ["call", "call"]
            assert {r.account_id for r in rows} == {acct.account_id}
    finally:
        rig.stop()
