"""The dashboard in a real headless Chromium (selenium), on the whole stack: API, dialer engine, IVR runtime, simulator.

One browser session and one running campaign serve the module; the tests run in order, as an operator
would: sign in, watch the campaign's progress move without reloading (and make the screenshots in
docs/img/), hang up a live call, stop the campaign, export its CDRs, and then a second account finds
none of it, by URL guessing neither. Skipped only where Chromium or its driver is missing (`make test`
installs them on Debian: the Makefile's browser-tools).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import shutil
import tempfile
import time
import uuid

import pytest

from api.dashboard.data import CSV_FIELDS
from dialer.store.models import Attempt, Campaign
from tests.api.conftest import _cleanup_redis, _start
from tests.conftest import free_port
from tests.dialer.engine_helpers import Sim, wait_for

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER),
    reason="dashboard browser tests need Debian's chromium and chromium-driver "
           "(apt-get install chromium chromium-driver; `make test` does it)")

IMG_DIR = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "img")
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--window-size=1280,1000")
#: The simulator's speed: a ring of 1 s lasts 0.25 s, the long announcement below 25 s.
SPEED = 4
LONG_TEXT = ("This is a long message from Sahakari Bank about your account, your statements and the new "
             "branch hours, which we will now read to you slowly and completely, so please stay on the line "
             "until the end of this message. ") * 6  # ~1,400 characters: 100 s of speech, 25 s at SPEED
#: The campaign's contacts: the first hears a long message (the call to hang up), two are DND, some fail.
LONG_NUMBER = "+919979271000"
NUMBERS = [LONG_NUMBER, "+919979271001", "+919979272486", "+919979272503"] + [
    f"+9199792710{i:02d}" for i in range(2, 60)]  # ...486 is busy, ...503 congested (the default scenario)
DND = ["+919979271003", "+919979271007"]


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """API (SQLite), simulator, IVR runtime and dialer engine; the API's FREESWITCH_NODES is the simulator."""
    from dialer.engine import Dialer, EngineOptions
    from ivr.runtime import build_runtime
    from ivr.server import IvrServer

    tmp = tmp_path_factory.mktemp("dash")
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    prefix = f"test-{uuid.uuid4().hex[:12]}"
    sim = Sim(free_port(), speed=SPEED)
    node = f"127.0.0.1:{sim.port}:ClueCon:10000:5000"
    api, server = _start(f"sqlite:///{tmp / 'vaani.db'}", str(tmp), redis_url, prefix, {"FREESWITCH_NODES": node})
    runtime = build_runtime(api.cfg)
    ivr = IvrServer(runtime, "127.0.0.1:0").start()
    cfg = api.cfg.replace(ivr_listen=ivr.address, dialer_gateway_cps=0)
    dialer = Dialer(cfg, options=EngineOptions(foreign_delay=0.3, recovery_grace=1.0)).start()
    yield api
    dialer.stop()
    ivr.stop(timeout=1)
    runtime.fetcher.close()
    server.stop(timeout=1)
    sim.stop()
    from dialer.store import db

    db.dispose(api.cfg.sqlalchemy_url)
    _cleanup_redis(redis_url, prefix)


@pytest.fixture(scope="module")
def browser():
    """One headless Chromium for the module, downloading into its own directory."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile, downloads = tempfile.mkdtemp(prefix="chromium-"), tempfile.mkdtemp(prefix="downloads-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.add_experimental_option("prefs", {"download.default_directory": downloads,
                                              "download.prompt_for_download": False})
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.set_page_load_timeout(20)
    driver.downloads = downloads
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)
    shutil.rmtree(downloads, ignore_errors=True)


@pytest.fixture(scope="module")
def accounts(stack):
    """The operator's account and a second one."""
    return stack.account(), stack.account()


@pytest.fixture(scope="module")
def campaign(stack, accounts):
    """The first account's campaign over NUMBERS (2 DND), at 120 calls a minute, created through the API."""
    acct = accounts[0]
    list_id = stack.cpaas("POST", "/api/create_campaign_list", acct, json={"list_name": "dash"}).json()[
        "response"]["list_id"]
    contacts = [{"contact_name": f"c{i}", "contact_number": n.lstrip("+"),
                 "contact_fields": {"field1": LONG_TEXT if n == LONG_NUMBER else str(i)}}
                for i, n in enumerate(NUMBERS)]
    r = stack.cpaas("POST", "/api/add_contact_to_list", acct, json={"list_id": list_id, "contacts": contacts})
    assert r.status_code == 200, r.text
    dnd_id = stack.cpaas("POST", "/api/create_campaign_dnd_list", acct, json={"dnd_list_name": "dash-dnd"}).json()[
        "response"]["dnd_list_id"]
    stack.cpaas("POST", "/api/add_dnd_contact_to_list", acct, json={
        "dnd_list_id": dnd_id, "dnd_contacts": [{"dnd_contact_number": n.lstrip("+")} for n in DND]})
    start = dt.datetime.utcnow() - dt.timedelta(minutes=1)
    r = stack.cpaas("POST", "/api/create_campaign", acct, json={
        "list_id": list_id, "dnd_list_id": dnd_id, "campaign_name": "Diwali offers", "campaign_type": "0",
        "campaign_caller_id": "15168148111", "dynamic_announcement": "1", "recorded_filename": "",
        "announcement_text": "Hello {field1}", "campaign_start_date": start.strftime("%Y-%m-%d %H:%M:%S"),
        "campaign_end_date": (start + dt.timedelta(days=1)).strftime("%Y-%m-%d %H:%M:%S"), "time_zone": "UTC",
        "repeat": "1", "max_retries": "0", "retry_time": "60", "calls_per_minute": "120"})
    assert r.status_code == 200, r.text
    return r.json()["response"]["campaign_id"]


def _by_id(driver, element_id: str, timeout: float = 10.0):
    from selenium.webdriver.common.by import By

    return wait_for(lambda: (driver.find_elements(By.ID, element_id) or [None])[0], timeout=timeout)


def _sign_in(driver, base: str, acct) -> None:
    from selenium.webdriver.common.by import By

    driver.get(base + "/dashboard/")
    assert "/dashboard/login" in driver.current_url  # not signed in yet: sent to the sign-in form
    driver.find_element(By.ID, "account").send_keys(acct.account_id)
    driver.find_element(By.ID, "auth").send_keys(acct.auth)
    driver.find_element(By.ID, "sign-in").click()
    assert _by_id(driver, "signed-in-as").text == acct.account_id


def _count(driver, name: str, scope: str = "#campaign-summary") -> int:
    # Read in the page, in one go: live updates replace these elements every second or so.
    return int(driver.execute_script("return document.querySelector(arguments[0]).textContent",
                                     f'{scope} [data-count="{name}"]'))


def _text(driver, css: str) -> str:
    return driver.execute_script("const e = document.querySelector(arguments[0]); return e && e.textContent.trim()",
                                 css)


def _click(driver, css: str) -> None:
    """Click what ``css`` finds, again if a live update replaced it between finding and clicking."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By

    for _ in range(20):
        try:
            driver.find_element(By.CSS_SELECTOR, css).click()
            return
        except StaleElementReferenceException:
            time.sleep(0.05)
    raise AssertionError(f"{css} kept being replaced")


def _screenshot(driver, name: str) -> None:
    os.makedirs(IMG_DIR, exist_ok=True)
    assert driver.save_screenshot(os.path.join(IMG_DIR, name))


def test_sign_in_with_the_account_credentials(stack, browser, accounts):
    from selenium.webdriver.common.by import By

    acct = accounts[0]
    browser.get(stack.url("/dashboard/login"))
    browser.find_element(By.ID, "account").send_keys(acct.account_id)
    browser.find_element(By.ID, "auth").send_keys("not-the-secret")
    browser.find_element(By.ID, "sign-in").click()
    assert "Unknown account or wrong auth secret" in _by_id(browser, "login-error").text
    _sign_in(browser, stack.url(""), acct)  # which first finds itself sent to the sign-in form again
    cookie = browser.get_cookie("vaani_dashboard")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and cookie["path"] == "/dashboard"
    # The session cookie is not readable by the page's scripts.
    assert "vaani_dashboard" not in browser.execute_script("return document.cookie")


def test_campaign_progress_moves_while_the_simulator_runs_it(stack, browser, campaign):
    from selenium.webdriver.common.by import By

    browser.get(stack.url("/dashboard/"))
    row = f'tr[data-campaign="{campaign}"]'
    wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, row), timeout=5)
    browser.execute_script("window.__notReloaded = true")
    first = _count(browser, "dialed", row)
    # The live stream moves the list's bar, without a reload.
    wait_for(lambda: _count(browser, "dialed", row) >= first + 4 and _count(browser, "answered", row) >= 2,
             timeout=15, every=0.2)
    assert browser.execute_script("return window.__notReloaded === true")
    _screenshot(browser, "dashboard-campaigns.png")

    _click(browser, f"{row} a")
    assert _by_id(browser, "campaign-name").text.startswith("Diwali offers")
    assert _by_id(browser, "rate-chart").find_elements(By.TAG_NAME, "canvas")  # uPlot drew the chart
    browser.execute_script("window.__notReloaded = true")
    answered, updates = _count(browser, "answered"), int(browser.find_element(By.TAG_NAME, "body")
                                                         .get_attribute("data-updates") or 0)
    wait_for(lambda: _count(browser, "answered") >= answered + 3, timeout=15, every=0.2)
    assert int(browser.find_element(By.TAG_NAME, "body").get_attribute("data-updates")) > updates
    assert browser.execute_script("return window.__notReloaded === true")
    # The chart follows the achieved rate: calls dialled in the trailing minute, under the 120 cap.
    wait_for(lambda: int(browser.find_element(By.ID, "rate-chart").get_attribute("data-now") or 0) >= 5,
             timeout=10, every=0.2)
    assert int(_text(browser, "#c-rate")) <= 120
    assert _text(browser, "#c-status") == "running"
    assert browser.find_elements(By.CSS_SELECTOR, "#outcome-rows tr[data-status='ANSWER']")
    _screenshot(browser, "dashboard-campaign.png")


def test_hang_up_a_live_call_from_the_page(stack, browser, campaign):
    from selenium.webdriver.common.by import By

    browser.get(stack.url("/dashboard/calls"))
    number = LONG_NUMBER.lstrip("+")
    # The long announcement keeps its call on the air for 25 s: its row is there, with its buttons.
    channel = wait_for(lambda: browser.execute_script("""
        const row = [...document.querySelectorAll('#call-rows tr.call')]
            .find(r => r.cells[0].textContent.trim() === arguments[0]);
        return row && row.dataset.channel;""", number), timeout=10)
    # The counters by kind are get_live_call_statistics' (the dialer's answered channels): the long call is one.
    assert int(_text(browser, "#live_calls_campaign")) >= 1 and _text(browser, "#live_calls_otp") == "0"
    _screenshot(browser, "dashboard-calls.png")
    hung_up_at = time.monotonic()
    _click(browser, f'#call-rows tr[data-channel="{channel}"] button.hangup')
    assert "Hangup: call hangup successfully" in wait_for(
        lambda: browser.find_elements(By.CSS_SELECTOR, ".flash.ok"), timeout=5)[0].text
    with stack.session() as s:
        attempt = s.query(Attempt).filter_by(origination_uuid=channel).one()
        assert attempt.account_id and attempt.campaign_id == campaign
    # The call ends at once (its announcement had many seconds to go) and leaves the page by itself.
    wait_for(lambda: _attempt_state(stack, channel) == "completed", timeout=5)
    assert time.monotonic() - hung_up_at < 5
    wait_for(lambda: not browser.find_elements(By.CSS_SELECTOR, f'#call-rows tr[data-channel="{channel}"]'),
             timeout=5)


def _attempt_state(stack, channel: str) -> str:
    with stack.session() as s:
        return s.query(Attempt.state).filter_by(origination_uuid=channel).scalar()


def test_stop_the_campaign_from_the_page(stack, browser, campaign):
    from selenium.webdriver.common.by import By

    browser.get(stack.url(f"/dashboard/campaigns/{campaign}"))
    assert _by_id(browser, "c-status") and _text(browser, "#c-status") == "running"
    _click(browser, "#campaign-stop")
    browser.switch_to.alert.accept()  # "Stop campaign Diwali offers? Nothing more will be dialled."
    assert f"Campaign {campaign} is stopped" in wait_for(
        lambda: browser.find_elements(By.CSS_SELECTOR, ".flash.ok"), timeout=5)[0].text
    assert _text(browser, "#c-status") == "stopped"
    assert browser.execute_script("return document.getElementById('campaign-stop').disabled")
    with stack.session() as s:
        assert s.get(Campaign, campaign).status == "stopped"
        states = {state for (state,) in s.query(Attempt.state).filter_by(campaign_id=campaign)}
    assert "queued" not in states and "cancelled" in states  # the rest of the list was cancelled
    dialled = _dialled(stack, campaign)
    time.sleep(1.0)
    assert _dialled(stack, campaign) <= dialled  # and nothing more is dialled


def _dialled(stack, campaign: str) -> set[str]:
    with stack.session() as s:
        return {a for (a,) in s.query(Attempt.id).filter(Attempt.campaign_id == campaign,
                                                         Attempt.state.notin_(("queued", "cancelled")))}


def test_export_the_campaigns_cdrs_as_csv(stack, browser, accounts, campaign):
    from selenium.webdriver.common.by import By

    acct = accounts[0]
    wait_for(lambda: not _live(stack, campaign), timeout=10)  # every call of the campaign has its CDR
    api_rows = stack.cpaas("POST", "/api/get_cdr_by_campaign_id", acct,
                           json={"campaign_id": campaign}).json()["response"]["result"]
    browser.get(stack.url(f"/dashboard/cdrs?campaign_id={campaign}"))
    assert _by_id(browser, "cdr-count").text.startswith(f"{len(api_rows)} CDRs")
    _by_id(browser, "cdr-export").click()
    path = os.path.join(browser.downloads, f"cdrs-{acct.account_id}.csv")
    wait_for(lambda: os.path.exists(path) and os.path.getsize(path) > 0, timeout=10)
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(io.StringIO(fh.read())))
    assert sorted(int(r["id"]) for r in rows) == sorted(c["id"] for c in api_rows)
    by_id = {int(r["id"]): r for r in rows}
    for c in api_rows:
        r = by_id[c["id"]]
        assert (r["dial_status"], r["customer_number"], r["is_dnd"], r["uniqueid"], r["request_id"]) == (
            c["dial_status"], c["customer_number"], c["is_dnd"], c["uniqueid"], campaign)
    statuses = sorted(r["dial_status"] for r in rows)
    assert statuses.count("DND") == 2 and "ANSWER" in statuses and "BUSY" in statuses
    assert {r["customer_number"] for r in rows if r["is_dnd"] == "1"} == {n.lstrip("+") for n in DND}
    long_call = [r for r in rows if r["customer_number"] == LONG_NUMBER.lstrip("+")][0]
    assert long_call["dial_status"] == "ANSWER" and float(long_call["billsec"]) < 60  # cut short by the hangup


def _live(stack, campaign: str) -> int:
    with stack.session() as s:
        return s.query(Attempt).filter(Attempt.campaign_id == campaign,
                                       Attempt.state.in_(("dialing", "ringing", "answered"))).count()


def test_a_second_account_sees_none_of_it_by_url_guessing_neither(stack, browser, accounts, campaign):
    from selenium.webdriver.common.by import By

    first, second = accounts
    _by_id(browser, "sign-out").click()
    assert "/dashboard/login" in browser.current_url
    _sign_in(browser, stack.url(""), second)
    assert campaign not in browser.page_source and "Diwali offers" not in browser.page_source
    browser.get(stack.url(f"/dashboard/campaigns/{campaign}"))
    assert _by_id(browser, "error-message") and browser.find_element(By.TAG_NAME, "h1").text.startswith("404")
    assert "Diwali" not in browser.page_source
    browser.get(stack.url(f"/dashboard/cdrs?campaign_id={campaign}"))
    assert _by_id(browser, "cdr-count").text.startswith("0 CDRs")
    # What the page's own scripts could fetch with this session: nothing of the first account's.
    fetched = browser.execute_async_script("""
        const done = arguments[arguments.length - 1], id = arguments[0];
        const csrf = document.querySelector('input[name=csrf]').value;
        Promise.all([
          fetch('/dashboard/cdrs.csv?campaign_id=' + id).then(r => r.text()),
          fetch('/dashboard/events/campaigns/' + id).then(r => r.status),
          fetch('/dashboard/campaigns/' + id + '/stop', {method: 'POST', body: new URLSearchParams({csrf})})
            .then(r => r.status),
        ]).then(done);""", campaign)
    csv_text, events_status, stop_status = fetched
    assert csv_text.strip().splitlines() == [",".join(CSV_FIELDS)]
    assert events_status == 404 and stop_status == 404
    with stack.session() as s:
        assert s.get(Campaign, campaign).account_id == first.account_id
