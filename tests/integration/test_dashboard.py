"""The dashboard in headless Chromium, against a worker fed with synthetic traffic.

Chromium and chromedriver are Debian's (``make browser`` installs them); the screenshot
is saved under ``test-artifacts/`` (git-ignored).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from pathlib import Path

import orjson
import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from streams.finops.ledger import Ledger
from streams.finops.showback import Period, showback
from streams.settings import WorkerSettings
from streams.topics import ensure_topics
from tests.support.finops_traffic import recent_events, usage_messages
from tests.support.ground_truth import produce
from tests.support.worker_process import WorkerProcess

PARTITIONS = 2
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMEDRIVER = "/usr/bin/chromedriver"


@pytest.fixture
def browser() -> Iterator[webdriver.Chrome]:
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                 "--window-size=1400,1800"):  # fmt: skip
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def _shown(total_usd: str) -> set[str]:
    """How the page may print an exact amount rounded to the cent."""
    amount = Decimal(total_usd)
    return {f"${amount.quantize(Decimal('0.01'), rounding=r):,.2f}"
            for r in (ROUND_HALF_EVEN, ROUND_HALF_UP)}  # fmt: skip


async def _month_calls(worker: WorkerProcess, period: str) -> int:
    try:
        return int(worker.get(f"/v1/reports/spend?period={period}")["total"]["calls"])
    except OSError:
        return -1


async def _wait_calls(worker: WorkerProcess, period: str, calls: int) -> None:
    deadline = time.monotonic() + 300
    while await _month_calls(worker, period) != calls:
        if time.monotonic() > deadline:
            pytest.fail(f"worker never reached {calls} calls\n{worker.log_tail()}")
        await asyncio.sleep(0.5)


async def test_dashboard_shows_teams_and_totals_and_updates_live(
    kafka_bootstrap: str,
    names: Callable[[str], str],
    spawn_worker: Callable[..., WorkerProcess],
    browser: webdriver.Chrome,
) -> None:
    prefix = names("sw") + "."
    settings = WorkerSettings(bootstrap=kafka_bootstrap, topic_prefix=prefix, partitions=PARTITIONS)
    await ensure_topics(settings)
    events = recent_events(days=1.0, rate=0.05, seed=21)
    month = max(e["timestamp"][:7] for e in events)
    first_part = [e for e in events if e["timestamp"][:13] < events[-1]["timestamp"][:13]]
    await produce(kafka_bootstrap, prefix + "usage", usage_messages(first_part, PARTITIONS))
    worker = spawn_worker(app_id=names("app"), topic_prefix=prefix, partitions=PARTITIONS)
    ledger = Ledger.from_jsonl([orjson.dumps(e) for e in first_part])
    expected = showback(ledger, Period.parse(month), ["team"])
    await _wait_calls(worker, month, expected["total"]["calls"])

    browser.get(worker.url + "/dashboard?budget=team=search:100")
    wait = WebDriverWait(browser, 60)
    wait.until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-loaded"))
    total = browser.find_element(By.ID, "month-total").text
    assert total in _shown(expected["total"]["cost_usd"])
    teams = {r["team"] for r in expected["rows"]} | {"unattributed"}
    assert len(teams) >= 6
    budget_rows = browser.find_elements(By.CSS_SELECTOR, "#budgets tbody tr")
    assert {r.get_attribute("data-key") for r in budget_rows} == teams
    search = browser.find_element(By.CSS_SELECTOR, '#budgets tr[data-key="search"]')
    assert "$100.00" in search.text
    labels = browser.execute_script(
        "return Chart.getChart('spend-chart').data.datasets.map(d => d.label)"
    )
    assert set(labels) == teams
    keys = showback(ledger, Period.parse(month), ["api_key_id"])["rows"]
    top = browser.find_element(By.CSS_SELECTOR, "#top-keys tbody tr")
    assert top.get_attribute("data-key") == keys[0]["api_key_id"]
    assert "No active or recent alerts" in browser.find_element(By.ID, "alerts").text
    ARTIFACTS.mkdir(exist_ok=True)
    assert browser.save_screenshot(str(ARTIFACTS / "dashboard.png"))

    # Live: more traffic arrives, and the page shows the new total without a reload.
    rest = events[len(first_part) :]
    await produce(kafka_bootstrap, prefix + "usage", usage_messages(rest, PARTITIONS))
    everything = showback(Ledger.from_jsonl([orjson.dumps(e) for e in events]),
                          Period.parse(month), ["team"])  # fmt: skip
    assert everything["total"]["cost_usd"] != expected["total"]["cost_usd"]
    shown = _shown(everything["total"]["cost_usd"])
    WebDriverWait(browser, 120).until(lambda d: d.find_element(By.ID, "month-total").text in shown)
    assert browser.save_screenshot(str(ARTIFACTS / "dashboard-updated.png"))
