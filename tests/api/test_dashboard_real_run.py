"""The dashboard of a real run in real headless Chromium: a running Coordinator on a real local
Ray, served by Ray Serve. It shows the iterations advancing, fills the strength, throughput and
learning charts and the numbers beside them, and its Pause button really holds self-play."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from dashboard.test_dashboard import POINTS, browser, wait_for  # noqa: F401  (fixture)

from blobrl.api import start_api
from blobrl.config import ApiConfig
from blobrl.remote import call

from .server import start_real_run

pytestmark = [pytest.mark.ray, pytest.mark.timeout(600)]

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
# A gauntlet after every iteration, small enough to keep up: 2 deals a size, a cheap search.
EVALUATION = {
    "arena_deals": 2,
    "gauntlet_every": 1,
    "gauntlet_deals": 2,
    "gauntlet_ismcts": [8],
    "search": {"determinizations": 1, "simulations": 4},
}
# Data points drawn in a chart: markers of its line traces and its bars.
MARKS = """
const chart = document.getElementById('{chart}');
return chart.querySelectorAll('.scatterlayer .trace .points path, .barlayer .point').length;
"""
# The numbers beside a chart: label -> latest value (empty when none yet).
STATS = """
const dl = document.getElementById('{stats}');
const out = {};
for (const dt of dl.querySelectorAll('dt')) {
  out[dt.textContent] = dt.nextElementSibling.dataset.value;
}
return out;
"""


def test_dashboard_of_a_real_run_advances_draws_and_pauses(tmp_path, serve_port, browser):  # noqa: F811
    # Longer than the test: it pauses and stops the run itself.
    system, running = start_real_run(
        tmp_path, "dash-real", iterations=40, games_per_iteration=60, evaluation=EVALUATION
    )
    try:
        url = start_api("dash-real-coordinator", ApiConfig(port=serve_port))
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
        # Strength: the gauntlet against random, the heuristic and ismcts:8, and the rating.
        for chart in ("gauntlet-chart", "exact-chart"):
            wait_for(browser, MARKS.replace("{chart}", chart), timeout=120, what=chart)
        wait_for(
            browser,
            STATS.replace("{stats}", "elo-stats"),
            timeout=60,
            what="the rating beside its chart",
            until=lambda s: s.get("Rating"),
        )
        gauntlet = browser.execute_script(STATS.replace("{stats}", "gauntlet-stats"))
        assert {"random 5x7", "heuristic 5x7", "ismcts:8 5x7"} <= set(gauntlet)
        assert all(gauntlet[k] for k in ("random 5x7", "heuristic 5x7", "ismcts:8 5x7"))
        # Throughput and learning: games/min needs two trained iterations.
        for chart in ("rate-chart", "time-chart", "buffer-chart", "steps-chart"):
            wait_for(browser, MARKS.replace("{chart}", chart), timeout=120, what=chart)
        rate = browser.execute_script(STATS.replace("{stats}", "rate-stats"))
        assert float(rate["Last iteration"]) > 0
        times = browser.execute_script(STATS.replace("{stats}", "time-stats"))
        assert float(times["training"]) > 0 and float(times["gauntlet"]) > 0
        buffer = browser.execute_script(STATS.replace("{stats}", "buffer-stats"))
        assert int(buffer["Buffer"]) > 0 and float(buffer["Reuse (iteration)"]) > 0
        steps = browser.execute_script(STATS.replace("{stats}", "steps-stats"))
        assert float(steps["tricks"]) > 0 and float(steps["learning rate"]) > 0
        # Integer axes read as integers: no label twice (as "0 1 1 2 2" did).
        ticks = browser.execute_script(
            "return [...document.querySelectorAll('#loss-chart .xtick text')]"
            ".map((t) => t.textContent)"
        )
        assert ticks and len(ticks) == len(set(ticks)), ticks

        browser.find_element("id", "btn-pause").click()
        wait_for(browser, "return document.getElementById('state').textContent === 'paused'",
                 timeout=60, what="the paused state")  # fmt: skip
        held = call(system.coordinator, "status").result(timeout=30).games_played
        time.sleep(2.0)
        assert call(system.coordinator, "status").result(timeout=30).games_played == held
        ARTIFACTS.mkdir(exist_ok=True)
        assert browser.save_screenshot(str(ARTIFACTS / "dashboard-real-run.png"))
        for _ in range(2):  # the whole page (docs/dashboard.png); the charts follow the window
            height = browser.execute_script(
                "return document.documentElement.scrollHeight + window.outerHeight"
                " - window.innerHeight"
            )
            browser.set_window_size(1400, height + 16)
            time.sleep(1.0)
        assert browser.save_screenshot(str(ARTIFACTS / "dashboard-full.png"))
        call(system.coordinator, "control", "stop").result(timeout=30)
        assert running.result(timeout=120).state == "stopped"
    finally:
        system.shutdown()
