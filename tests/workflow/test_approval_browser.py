"""A person in a real browser: headless Chromium (Debian's package, driven through its chromedriver) opens the link
from the approval e-mail on the locally served page, reads it, types a name, clicks Approve, and the paused
workflow completes."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .approval_helpers import approval_mails, callback_calls, entered_states, status
from .helpers import data_source, outcome_for

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=390,844",  # a phone
)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not os.access(path, os.X_OK)]
    if missing:
        reason = f"{', '.join(missing)} not installed: apt-get install -y chromium chromium-driver (.ci/run does)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*FLAGS, f"--user-data-dir={tmp_path / 'profile'}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def test_a_person_approves_in_a_browser_and_the_workflow_completes(
    account, estate, make_stack, browser, tmp_path
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    # GIVEN approval mode, and a data source created without a key: the workflow waits and the e-mail went out
    stack = make_stack(Mode="approval")
    role = estate.kb_role()
    kb = estate.knowledge_base("payroll", role)
    ds = estate.data_source(kb["knowledgeBaseId"], "contracts")
    (mail,) = approval_mails(stack)
    execution = stack.deliveries[0].execution_arn

    # WHEN the person opens the link
    browser.get(mail.link)
    # THEN the page shows what will happen, decides nothing, and fits a phone screen
    assert browser.title == "Approve a KMS key change? - cmk-guard"
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en"
    assert browser.find_element(By.TAG_NAME, "h1").text == "Approve a KMS key change?"
    text = browser.find_element(By.TAG_NAME, "main").text
    for expected in (
        f"payroll ({kb['knowledgeBaseId']})",
        ds["dataSourceId"],
        "AWS_OWNED_KEY",
        f"alias/cmk-guard/kb/{kb['knowledgeBaseId']}",
        role,
        "Decide by",
    ):
        assert expected in text, expected
    assert browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")
    approve = browser.find_element(By.CSS_SELECTOR, "button[value=approve]")
    assert approve.value_of_css_property("background-color") == "rgba(29, 78, 216, 1)", "the page's own style applies"
    browser.save_screenshot(str(tmp_path / "approval-page.png"))
    assert callback_calls(account) == [] and status(stack, execution) == "RUNNING"

    # WHEN the person types a name and clicks Approve
    browser.find_element(By.ID, "name").send_keys("Dana Admin")
    browser.find_element(By.ID, "reason").send_keys("approved in the change meeting")
    approve.click()
    WebDriverWait(browser, 30).until(expected_conditions.text_to_be_present_in_element((By.TAG_NAME, "h1"), "Approved"))

    # THEN the paused workflow completes with the fix, and the decision names the person and the browser
    assert stack.wait(execution, timeout=90)["status"] == "SUCCEEDED"
    outcome = outcome_for(stack, ds["dataSourceId"])
    assert outcome["outcome"] == "REMEDIATED_VERIFIED"
    assert data_source(account.region, kb["knowledgeBaseId"], ds["dataSourceId"])[
        "serverSideEncryptionConfiguration"
    ] == {"kmsKeyArn": outcome["key"]["keyArn"]}
    who = outcome["approval"]["decidedBy"]
    assert who["name"] == "Dana Admin" and who["sourceIp"] == "127.0.0.1" and "Chrome" in who["userAgent"]
    assert outcome["approval"]["reason"] == "approved in the change meeting"
    assert entered_states(stack, execution).count("RequestApproval") == 1

    # AND going back and submitting again changes nothing
    browser.back()
    browser.refresh()
    assert browser.find_element(By.TAG_NAME, "h1").text == "Already decided"
    assert len(callback_calls(account)) == 1
