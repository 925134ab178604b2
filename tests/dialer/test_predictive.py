"""The dial-mode controller (dialer/predictive.py): pure decisions, no Redis, no clock."""

import pytest

from dialer import predictive as pc

LEARNED = pc.DialStats(answer_rate=0.3, ring_seconds=7.5, attempt_seconds=15.0, talk_seconds=120.0,
                       wrap_seconds=10.0, attempts=500, live=150)
CLEAN = pc.Abandonment(0, 1000, 0, 1000)


@pytest.mark.parametrize("ready,dialing,waiting", [(0, 0, 0), (3, 0, 0), (5, 2, 1), (2, 7, 0), (20, 0, 3)])
def test_progressive_never_dials_more_than_ready_agents(ready, dialing, waiting):
    d = pc.decide("progressive", pc.Agents(ready, (1.0, 2.0), 4), pc.Calls(dialing, waiting), LEARNED, CLEAN)
    assert 0 <= d.launch <= ready
    assert d.launch + dialing + waiting <= max(ready, dialing + waiting)
    assert d.reason == "progressive"


def test_predictive_dials_above_one_with_a_low_answer_rate():
    stats = pc.DialStats(answer_rate=0.15, ring_seconds=7.5, attempt_seconds=15.0, attempts=500, live=80)
    d = pc.decide("predictive", pc.Agents(10, (), 10), pc.Calls(0, 0), stats, CLEAN)
    assert d.reason == "predictive"
    assert d.launch > 10
    assert d.dial_level > 1.0


@pytest.mark.parametrize("abandoned", [30, 31, 100])
def test_falls_back_to_progressive_at_or_above_the_target(abandoned):
    for ab in (pc.Abandonment(abandoned, 1000, 0, 1000), pc.Abandonment(0, 1000, abandoned, 1000)):
        d = pc.decide("predictive", pc.Agents(10, (), 10), pc.Calls(2, 0), LEARNED, ab)
        assert d.reason == "guard" and d.launch == 8


def test_a_lower_target_is_honoured_and_above_three_percent_is_capped():
    ab = pc.Abandonment(20, 1000, 20, 1000)  # 2 %
    assert pc.decide("predictive", pc.Agents(10), pc.Calls(), LEARNED, ab, target=0.02).reason == "guard"
    assert pc.decide("predictive", pc.Agents(10), pc.Calls(), pc.DialStats(**{**LEARNED.__dict__}),
                     pc.Abandonment(40, 1000, 40, 1000), target=0.10).reason == "guard"


def test_new_campaign_learns_progressively():
    d = pc.decide("predictive", pc.Agents(10), pc.Calls(), pc.DialStats(answer_rate=0.3, attempts=20, live=6))
    assert d.reason == "learning" and d.launch == 10
    # enough attempts, but most still in flight: the finished ones are the short ones, still learning
    d = pc.decide("predictive", pc.Agents(10), pc.Calls(60), LEARNED.__class__(**{**LEARNED.__dict__,
                                                                                  "attempts": 120}))
    assert d.reason == "learning"


@pytest.mark.parametrize("mode", pc.MODES)
def test_never_negative(mode):
    d = pc.decide(mode, pc.Agents(0, (), 20), pc.Calls(50, 9), LEARNED, pc.Abandonment(1, 10, 1, 10))
    assert d.launch == 0
    d = pc.decide(mode, pc.Agents(5), pc.Calls(0, 0), LEARNED, CLEAN, limit=0)
    assert d.launch == 0


def test_preview_dials_only_accepted_contacts():
    assert pc.decide("preview", pc.Agents(10), pc.Calls(), LEARNED, accepted=0).launch == 0
    assert pc.decide("preview", pc.Agents(10), pc.Calls(), LEARNED, accepted=3).launch == 3
    assert pc.decide("preview", pc.Agents(10), pc.Calls(), LEARNED, accepted=3, limit=2).launch == 2


def test_fresh_calls_count_more_than_old_ones():
    young = pc.decide("predictive", pc.Agents(10, (), 10), pc.Calls(ages=[0.5] * 20), LEARNED, CLEAN)
    old = pc.decide("predictive", pc.Agents(10, (), 10), pc.Calls(ages=[22.0] * 20), LEARNED, CLEAN)
    assert old.launch > young.launch
    assert pc.live_chance(0.0, LEARNED) == pytest.approx(0.3)
    assert pc.live_chance(20.0, LEARNED) < 0.05


def test_abandonment_rate_and_rule_constants():
    assert pc.abandonment_rate(0, 0) == 0.0
    assert pc.abandonment_rate(3, 100) == pytest.approx(0.03)
    assert pc.FTC_WINDOW_SECONDS == 30 * 86400 and pc.OFCOM_WINDOW_SECONDS == 86400
    assert pc.REDIAL_BLOCK_SECONDS == 72 * 3600 and pc.CONNECT_SECONDS == 2.0
    with pytest.raises(ValueError):
        pc.decide("turbo", pc.Agents(), pc.Calls(), LEARNED)


def test_statistics_learn_a_running_mean_then_an_ewma():
    s = pc.DialStats()
    for i in range(10):
        s = pc.observe_attempt(s, i % 2 == 0, 8.0 if i % 2 == 0 else 25.0)
    assert s.attempts == 10 and s.live == 5
    assert s.answer_rate == pytest.approx(0.5) and s.ring_seconds == pytest.approx(8.0)
    assert s.attempt_seconds == pytest.approx(16.5)
    s = pc.observe_handle(s, 100.0, 10.0, 1)
    assert s.handle_seconds == pytest.approx(110.0)


def test_elapsed_talk_time_conditions_when_a_talker_is_free():
    from dialer import predictive_model as pm
    fresh, long = pm.talk_free_chance(1.0, 25.0, LEARNED), pm.talk_free_chance(200.0, 25.0, LEARNED)
    assert 0.0 <= fresh < long <= 1.0
    assert pm.talk_free_chance(None, 25.0, LEARNED) == pytest.approx(15.0 / 120.0)  # renewal without it
    assert pm.talk_free_chance(50.0, 9.0, LEARNED) == 0.0  # the wrap-up alone takes 10 s


def test_agents_without_elapsed_times_stay_as_before():
    assert pc.Agents(3, (), 2).talkers() == [None, None]
    assert pc.Agents(3, (), 3, talking_for=[5.0]).talkers() == [5.0, None, None]
    near_end = pc.decide("predictive", pc.Agents(2, (), 10, [400.0] * 10), pc.Calls(ages=[]), LEARNED, CLEAN)
    fresh = pc.decide("predictive", pc.Agents(2, (), 10, [1.0] * 10), pc.Calls(ages=[]), LEARNED, CLEAN)
    assert near_end.launch > fresh.launch >= 2


def test_talk_log_variance_is_learned():
    import random
    rng = random.Random(5)
    s = pc.DialStats()
    for i in range(1, 2001):
        s = pc.observe_handle(s, rng.lognormvariate(4.5, 0.4), 10.0, i)
    assert s.talk_log_var == pytest.approx(0.16, rel=0.35)
    s = pc.observe_handle(pc.DialStats(), 100.0, 10.0, 1)  # one sample moves the default only so far
    assert 0.2 < s.talk_log_var < pc.DialStats().talk_log_var


def test_feedback_starts_at_its_prior_and_lowers_the_budget_above_the_set_point():
    new, _ = pc.risk_budget(pc.Abandonment(), 0.03)
    assert new == pytest.approx(pc.RATIO * 0.03)
    clean, room = pc.risk_budget(pc.Abandonment(0, 2000, 0, 2000), 0.03)
    high, _ = pc.risk_budget(pc.Abandonment(55, 2000, 55, 2000), 0.03)  # 2.75 %: above the set point
    assert high < new < clean and room > 0
    d = pc.decide("predictive", pc.Agents(10, (), 10), pc.Calls(ages=[]), LEARNED, pc.Abandonment())
    assert d.reason == "predictive" and d.launch >= 10  # a new campaign is not starved by zero headroom
