"""The dashboard end to end in headless Chromium (Debian's chromium via Playwright) against a
real `assay serve` process: the page loads, the leaderboard shows, a row is scored and
explained, a bad value shows the server's 422 message."""

import pandas as pd
import pytest

from tests.conftest import DATA
from tests.serve.conftest import live_server

TIMEOUT_MS = 180_000          # /explain of a fold ensemble on a loaded 2-core machine


@pytest.fixture(scope="module")
def server(binary_run):
    # training rows as SHAP background, as a deployment would pass them
    with live_server(binary_run.path, "--background", str(DATA / "titanic.csv.gz")) as url:
        yield url


def _fill(page, record):
    for name, value in record.items():
        sel = f'#fields [name="{name}"]'
        if page.locator(sel).count():
            page.fill(sel, "" if pd.isna(value) else str(value))


def test_dashboard_scores_and_explains_a_row(browser, server, binary_run, tmp_path):
    row = pd.read_csv(DATA / "titanic.csv.gz").drop(columns=["Survived"]).iloc[1].to_dict()
    page = browser.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto(server + "/")
        # the leaderboard, best row first
        page.wait_for_selector("#leaderboard tbody tr")
        first = page.locator("#leaderboard tbody tr").first.inner_text()
        assert binary_run.leaderboard()["model"].iloc[0] in first
        assert page.locator("#leaderboard tbody tr").count() == len(binary_run.leaderboard())
        assert "Survived" in page.inner_text("#title")
        # the form has one field per feature; score a real row
        assert page.locator("#fields .field").count() == len(binary_run.schema.feature_names)
        _fill(page, row)
        page.click("#score-button")
        page.wait_for_selector("#explanation svg rect.contribution")
        expected = binary_run.predict_frame(pd.DataFrame([row]))
        assert page.inner_text("#prediction") == f"Survived = {expected['prediction'].iloc[0]}"
        assert page.locator("#probabilities .prob").count() == 2
        bars = page.locator("#explanation svg rect.contribution")
        assert 1 <= bars.count() <= 12
        features = {bars.nth(i).get_attribute("data-feature") for i in range(bars.count())}
        assert features <= set(binary_run.schema.feature_names)
        assert "SHAP" in page.inner_text("#explanation-note")
        widths = [float(bars.nth(i).get_attribute("width")) for i in range(bars.count())]
        assert max(widths) > 10          # against a background, a real row has visible contributions
        assert errors == [], errors
        page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)
        # a bad value: the 422's message, naming the field, is shown and the field marked
        page.fill('#fields [name="Age"]', "very old")
        page.click("#score-button")
        page.wait_for_selector("#error:not([hidden])")
        message = page.inner_text("#error")
        assert "Age" in message and "valid number" in message
        assert page.locator('.field.bad[data-name="Age"]').count() == 1
        assert page.locator("#result").is_hidden()
    finally:
        page.close()
