"""The dashboard of a real run in real headless Chromium: a running Coordinator on a real local
Ray, served by Ray Serve. It shows the iterations advancing, draws the charts, and its Pause
button really holds self-play."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from dashboard.test_dashboard import POINTS, browser, wait_for  # noqa: F401  (fixture)

from blobrl.actors.handles import call
from blobrl.api import start_api
from blobrl.config import ApiConfig

from .server import free_port, start_real_run

pytestmark = [pytest.mark.ray, pytest.mark.timeout(600)]

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def test_dashboard_of_a_real_run_advances_draws_and_pauses(tmp_path, ray_serve, browser):  # noqa: F811
    # Longer than the test: it pauses and stops the run itself.
    system, running = start_real_run(tmp_path, "dash-real", iterations=40, games_per_iteration=60)
    try:
        url = start_api("dash-real-coordinator", ApiConfig(port=free_port()))
        browser.get(url)
        wait_for(browser, "return document.getElementById('connection').className"
                          ".includes('online')", timeout=60, what="the live feed")  # fmt: skip
        wait_for(
            browser,
            "return Number(document.getElementById('iteration').dataset.iteration) >= 3",
            timeout=240,
            what="the run to reach iteration 3",
        )
        assert wait_for(browser, POINTS.replace("{chart}", "loss-chart"), timeout=60,
                        what="the loss chart") >= 2  # fmt: skip
        assert wait_for(browser, POINTS.replace("{chart}", "elo-chart"), timeout=120,
                        what="the Elo chart") >= 1  # fmt: skip

        browser.find_element("id", "btn-pause").click()
        wait_for(browser, "return document.getElementById('state').textContent === 'paused'",
                 timeout=60, what="the paused state")  # fmt: skip
        held = call(system.coordinator, "status").result(timeout=30).games_played
        time.sleep(2.0)
        assert call(system.coordinator, "status").result(timeout=30).games_played == held
        ARTIFACTS.mkdir(exist_ok=True)
        assert browser.save_screenshot(str(ARTIFACTS / "dashboard-real-run.png"))
        call(system.coordinator, "control", "stop").result(timeout=30)
        assert running.result(timeout=120).state == "stopped"
    finally:
        system.shutdown()
