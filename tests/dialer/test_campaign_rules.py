"""Campaign rules without FreeSWITCH: date window, calling hours per time zone, call specs, the pause/stop gate."""

from datetime import datetime

import pytest
import redis

from dialer import campaigns
from dialer.store.models import Campaign, Contact
from ivr.call_spec import CallSpec


def _camp(**kw):
    base = dict(id="CM1", account_id="AC1", campaign_type=0, caller_id="15168148111", time_zone="UTC",
                dynamic_announcement=True, announcement_text="Dear {name}, due {field1}", repeat=2)
    base.update(kw)
    return Campaign(**base)


def test_date_window():
    c = _camp(start_at=datetime(2030, 1, 1, 9), end_at=datetime(2030, 1, 2, 9))
    assert not campaigns.in_date_window(c, datetime(2030, 1, 1, 8, 59))
    assert campaigns.in_date_window(c, datetime(2030, 1, 1, 9))
    assert not campaigns.in_date_window(c, datetime(2030, 1, 2, 9))


def test_calling_hours_in_the_contacts_own_zone():
    c = _camp(calling_hours_start="09:00", calling_hours_end="18:00", use_contact_time_zone=True,
              time_zone="America/New_York")
    # 04:00 UTC is 09:30 in India: an Indian number may be called, a London one (04:00) may not.
    now = datetime(2030, 3, 4, 4, 0)
    assert campaigns.next_opening(c, "+919979270000", now) is None
    opening = campaigns.next_opening(c, "+442071838750", now)
    assert opening == datetime(2030, 3, 4, 9, 0)  # 09:00 London = 09:00 UTC in March
    # A contact's explicit time zone wins over its number's.
    contact = Contact(number="+442071838750", time_zone="Asia/Kolkata")
    assert campaigns.next_opening(c, "+442071838750", now, contact) is None


def test_calling_hours_in_the_campaign_zone_and_across_midnight():
    c = _camp(calling_hours_start="20:00", calling_hours_end="02:00", time_zone="Asia/Kolkata")
    assert campaigns.next_opening(c, "+15551234567", datetime(2030, 1, 1, 15, 0)) is None  # 20:30 IST
    # 03:00 IST (21:30 UTC) is closed until 20:00 IST the same local day (14:30 UTC).
    assert campaigns.next_opening(c, "+15551234567", datetime(2030, 1, 1, 21, 30)) == datetime(2030, 1, 2, 14, 30)


def test_bad_calling_hours_and_zone_are_clear_errors():
    with pytest.raises(campaigns.CampaignError):
        campaigns.next_opening(_camp(calling_hours_start="9am", calling_hours_end="18:00"), "+15551234567",
                               datetime(2030, 1, 1))
    with pytest.raises(campaigns.CampaignError):
        campaigns.zone("Mars/Olympus")


def test_call_specs_for_both_types():
    contact = Contact(id=7, number="+15551234567", name="Asha", fields={"field1": "500"})
    spec = CallSpec.decode(campaigns.call_spec(_camp(), contact, contact.number, "A1").encode())
    assert spec.announcement.text == "Dear {name}, due {field1}" and spec.announcement.repeat == 2
    assert spec.fields == {"field1": "500", "name": "Asha"} and spec.attempt_id == "A1"
    rec = campaigns.call_spec(_camp(dynamic_announcement=False, recorded_filename="promo.wav"), contact,
                              contact.number, "A2")
    assert rec.announcement.media_url == "promo.wav" and rec.announcement.text is None
    ivr = campaigns.call_spec(_camp(campaign_type=1, doc_url="http://app/x.xml"), contact, contact.number, "A3")
    assert ivr.app_url == "http://app/x.xml" and ivr.announcement is None
    with pytest.raises(campaigns.CampaignError):
        campaigns.call_spec(_camp(campaign_type=1), contact, contact.number, "A4")


def test_gate_refuses_after_pause_returns(redis_url, key_prefix):
    ctl = campaigns.Control(redis.Redis.from_url(redis_url), key_prefix)
    assert ctl.gate("CM1", "u1")  # never set: running
    ctl.done("CM1", "u1")
    ctl.set_state("CM1", "paused")
    assert not ctl.gate("CM1", "u2")
    ctl.set_state("CM1", "running")
    assert ctl.gate("CM1", "u3")
    # A launch past the gate holds pause until it is done (or its lease runs out).
    import threading

    sent = threading.Event()

    def finish_launch():
        sent.set()
        ctl.done("CM1", "u3")

    threading.Timer(0.2, finish_launch).start()
    ctl.set_state("CM1", "stopped")
    assert sent.is_set()  # stop returned only after the launch in flight was sent
    assert not ctl.gate("CM1", "u4")


def test_gate_many_passes_all_or_none_and_marks_every_call_sent(redis_url, key_prefix):
    ctl = campaigns.Control(redis.Redis.from_url(redis_url), key_prefix)
    assert ctl.gate_many("CM2", ["g1", "g2", "g3"])
    assert all(ctl.was_sent(t) for t in ("g1", "g2", "g3"))
    ctl.done_many("CM2", ["g1", "g2", "g3"])
    ctl.set_state("CM2", "paused")  # returns at once: nothing in flight
    assert not ctl.gate_many("CM2", ["g4", "g5"])
    assert not ctl.was_sent("g4") and not ctl.was_sent("g5")
    assert ctl.gate_many(None, ["r1"]) and ctl.was_sent("r1")  # single requests have no campaign switch
