"""The HTML report in a real headless browser (Debian's chromium through chromedriver).

Checks what a lead would see: the page loads offline without console errors, every chart is
drawn, and a screenshot is not blank. Skipped locally without chromium; in CI (``CI`` set,
``.ci/run`` installs chromium and chromium-driver) a missing browser fails the test instead.
"""

from __future__ import annotations

import io
import os
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli import app

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
CHARTS = {
    "weekly",
    "hour-weekday",
    "trend-team",
    "trend-topic",
    "first-response",
    "cohorts",
    "life",
}


def browser_or_skip():
    """A headless chromium session, or a skip (a failure in CI) saying what is missing."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    try:
        from selenium import webdriver
    except ImportError:
        webdriver = None
    missing = [
        name
        for name, found in (
            ("chromium", chromium),
            ("chromedriver", driver),
            ("selenium", webdriver),
        )
        if not found
    ]
    if missing:
        reason = f"{', '.join(missing)} not installed (apt-get install chromium chromium-driver)"
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the browser test: {reason}")
        pytest.skip(reason)
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1100,900"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(options=options, service=webdriver.ChromeService(driver))


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("report") / "report.html"
    result = CliRunner().invoke(
        app,
        [
            "report",
            str(EXAMPLES / "support-history.csv"),
            "--users",
            str(EXAMPLES / "users.csv"),
            "--active-users",
            str(EXAMPLES / "active-users.csv"),
            "--timezone",
            "Europe/Berlin",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    return out


def test_report_loads_draws_every_chart_and_is_not_blank(report):
    from PIL import Image, ImageStat

    browser = browser_or_skip()
    try:
        browser.get(report.as_uri())
        assert browser.title.startswith("Support report")
        errors = [e for e in browser.get_log("browser") if e["level"] in ("SEVERE", "WARNING")]
        assert errors == []
        drawn = browser.execute_script(
            """
            return Array.from(document.querySelectorAll('figure.chart')).map(f => {
              const svg = f.querySelector('svg');
              const box = svg ? svg.getBoundingClientRect() : {width: 0, height: 0};
              const marks = svg ? svg.querySelectorAll('path, rect, text, use').length : 0;
              return [f.dataset.chart, marks, Math.round(box.width), Math.round(box.height)];
            });
            """
        )
        assert {name for name, *_ in drawn} == CHARTS
        for name, marks, width, height in drawn:
            assert marks > 20 and width > 300 and height > 100, (name, marks, width, height)
        requests = browser.execute_script(
            "return performance.getEntriesByType('resource').map(r => r.name)"
        )
        assert requests == []  # nothing fetched: the page is self-contained
        browser.execute_script("document.querySelector('figure.chart').scrollIntoView()")
        shot = Image.open(io.BytesIO(browser.get_screenshot_as_png())).convert("L")
        spread = ImageStat.Stat(shot).stddev[0]
        assert spread > 10, f"screenshot looks blank (grey-level spread {spread:.1f})"
        assert len(shot.getcolors(maxcolors=1 << 16) or range(1 << 16)) > 50
    finally:
        browser.quit()
