"""The expert's and the administrator's flows in headless Chromium, against ``copgate dist run``.

Debian's ``chromium`` and ``chromium-driver`` (scripts/setup.sh), driven by
selenium with the driver's path given, so nothing is downloaded. The
service runs in its own process over the test database on 127.0.0.1.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.utils import timezone
from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.select import Select
from selenium.webdriver.support.wait import WebDriverWait

from copgate.distributor.curation.models import Gateway, Proposal, ProposalState, Report
from copgate.lists.cache import ListCache
from tests.distributor.conftest import LiveService
from tests.distributor.helpers import make_categories

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
ARGS = (
    "--headless=new",
    "--no-sandbox",  # root in a container: the sandbox cannot start
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-proxy-server",
    "--lang=en",
)
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


@pytest.fixture
def browser() -> Iterator[WebDriver]:
    if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
        if os.environ.get("CI") == "true":
            pytest.fail("chromium and chromium-driver are not installed")
        pytest.skip("chromium and chromium-driver are not installed")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ARGS:
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def _sign_in(driver: WebDriver, base: str, name: str) -> None:
    driver.delete_all_cookies()
    driver.get(f"{base}/login/")
    driver.find_element(By.ID, "id_username").send_keys(name)
    driver.find_element(By.ID, "id_password").send_keys(f"pw-{name}")
    _submit(driver, "sign-in")
    assert driver.find_element(By.ID, "logout")


def _submit(driver: WebDriver, button: str) -> None:
    """Click a submit button and wait for the page it leads to."""
    old = driver.find_element(By.ID, button)
    old.click()
    WebDriverWait(driver, 30).until(_gone(old))


def _gone(element: WebElement) -> Callable[[WebDriver], bool]:
    """True once ``element``'s page was replaced.

    selenium's ``staleness_of`` knows only StaleElementReferenceException (a
    subclass of WebDriverException); chromedriver, asked while the old
    document is being torn down, may instead answer "Node with given id does
    not belong to the document", a plain WebDriverException, which failed a
    CI run. Either means the element's page is gone.
    """

    def check(_driver: WebDriver) -> bool:
        try:
            element.is_enabled()
        except WebDriverException:
            return True
        return False

    return check


def _no_alert(driver: WebDriver) -> None:
    try:
        alert = driver.switch_to.alert
    except NoAlertPresentException:
        return
    text = alert.text
    alert.dismiss()
    raise AssertionError(f"a script ran in the page: alert {text!r}")


def test_expert_proposes_and_administrator_approves_and_publishes(
    live_service: LiveService, browser: WebDriver, make_user: Callable[..., Any]
) -> None:
    categories = make_categories()
    make_user("erin", "expert", password=True)
    make_user("ada", "administrator", password=True)
    gateway = Gateway.objects.create(name="school-1", token_hash="1" * 64)
    for key, comment in (("a" * 32, HOSTILE), ("b" * 32, "maths lessons")):
        Report.objects.create(
            kind="site",
            name="games.example",
            category="games",
            comment=comment,
            created=timezone.now(),
            key=key,
            gateway=gateway,
        )
    base = live_service.url

    # The expert: the queue, the name's evidence, a proposal.
    _sign_in(browser, base, "erin")
    browser.get(f"{base}/review/")
    browser.find_element(By.LINK_TEXT, "games.example").click()
    evidence = browser.find_element(By.ID, "evidence").text
    assert "2 open reports" in evidence and "from 1 gateways" in evidence
    assert HOSTILE in browser.find_element(By.TAG_NAME, "body").text  # shown as text
    _no_alert(browser)
    Select(browser.find_element(By.ID, "id_category")).select_by_value(str(categories["games"].pk))
    browser.find_element(By.ID, "id_note").send_keys("a games portal, reported twice")
    _submit(browser, "send-proposal")
    assert browser.find_element(By.ID, "proposal-state").text == "open"
    proposal = Proposal.objects.get()
    assert not browser.find_elements(By.ID, "decision-form")  # an expert cannot decide

    # The administrator: approve, then publish.
    _sign_in(browser, base, "ada")
    browser.get(f"{base}/proposals/")
    browser.find_element(By.LINK_TEXT, f"#{proposal.pk}").click()
    Select(browser.find_element(By.ID, "id_decision")).select_by_value("approve")
    _submit(browser, "send-decision")
    assert browser.find_element(By.ID, "proposal-state").text == "approved"
    browser.get(f"{base}/publish/")
    _submit(browser, "publish-now")
    assert "Release 1 published" in browser.find_element(By.CLASS_NAME, "messages").text
    assert browser.find_element(By.ID, "published-release").text == "1"

    proposal.refresh_from_db()
    assert proposal.state == ProposalState.APPROVED and proposal.decided_by is not None
    tree = live_service.signing.tree
    manifest = tree.published()
    assert manifest is not None and manifest.release == 1
    with ListCache.open(tree.root / tree.cache_relpath(1)) as cache:
        assert cache.lookup("games.example").categories == {"games"}


def test_the_pages_switch_to_russian(
    live_service: LiveService, browser: WebDriver, make_user: Callable[..., Any]
) -> None:
    browser.get(f"{live_service.url}/report/")
    Select(browser.find_element(By.NAME, "language")).select_by_value("ru")
    switch = browser.find_element(By.CSS_SELECTOR, "form.inline button")
    switch.click()
    WebDriverWait(browser, 30).until(_gone(switch))
    assert browser.find_element(By.TAG_NAME, "h1").text == "Сообщить о сайте"
