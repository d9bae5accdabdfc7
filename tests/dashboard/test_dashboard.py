"""The dashboard in a real headless Chromium, over a real HTTP server and an advancing fake run:
it goes live, follows the iteration, draws its charts and pauses the run from its button."""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from pathlib import Path

import pytest
from api.fakes import FakeCoordinator, elo_entry, loss_entry
from api.server import serving

from blobrl.api import create_app

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1400,1000",
]


def _binary(*names: str) -> str | None:
    return next((path for name in names if (path := shutil.which(name))), None)


class AdvancingRun(FakeCoordinator):
    """Plays on while running: games every tick, an iteration (losses, Elo) every few ticks,
    and a requested pause settles on the next tick."""

    def __init__(self) -> None:
        super().__init__()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._play, daemon=True)

    def __enter__(self) -> AdvancingRun:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(5)

    def _play(self) -> None:
        tick = 0
        while not self._stop.wait(0.25):
            self.settle()
            if self.state != "running":
                continue
            tick += 1
            self.games_played += 5
            self.emit("games", {"finished": 5, "games_played": self.games_played})
            if tick % 4 == 0:
                done = self.iteration
                self.iteration += 1
                loss, elo = loss_entry(done), elo_entry(done)
                self.history_data["loss"].append(loss)
                self.history_data["elo"].append(elo)
                self.emit("iteration", {"iteration": done, "metrics": loss})
                self.emit("evaluation", elo)


@pytest.fixture
def browser():
    chromium = _binary("chromium", "chromium-browser", "google-chrome")
    driver_path = _binary("chromedriver")
    if chromium is None or driver_path is None:
        pytest.skip("chromium and chromedriver are not installed (apt-get install chromium "
                    "chromium-driver)")  # fmt: skip
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="blobrl-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in [*CHROMIUM_FLAGS, f"--user-data-dir={profile}"]:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def wait_for(driver, script: str, timeout: float = 20.0, what: str = "condition", until=bool):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = driver.execute_script(script)
        if until(value):
            return value
        time.sleep(0.1)
    raise AssertionError(f"dashboard: timed out waiting for {what}")


POINTS = """
const traces = document.querySelectorAll('#{chart} .scatterlayer .trace');
let n = 0;
for (const t of traces) n += t.querySelectorAll('.points path').length;
const line = document.querySelector('#{chart} .scatterlayer .trace path.js-line');
return line && line.getAttribute('d') ? n : 0;
"""


def test_dashboard_follows_the_run_draws_charts_and_pauses(browser):
    with AdvancingRun() as run, serving(create_app(run)) as base:
        browser.get(base + "/")
        wait_for(browser, "return document.getElementById('connection').className"
                          ".includes('online')", what="the live feed")  # fmt: skip
        assert browser.execute_script("return document.getElementById('state').textContent") == (
            "running"
        )
        first = int(wait_for(browser, "return document.getElementById('iteration')"
                                      ".dataset.iteration", what="the iteration"))  # fmt: skip
        wait_for(
            browser,
            f"return Number(document.getElementById('iteration').dataset.iteration) > {first}",
            what="the iteration to advance",
        )
        # The charts draw the history and grow from the live events.
        loss_points = wait_for(browser, POINTS.replace("{chart}", "loss-chart"), what="loss")
        elo_points = wait_for(browser, POINTS.replace("{chart}", "elo-chart"), what="Elo")
        wait_for(
            browser,
            POINTS.replace("{chart}", "loss-chart"),
            what="the loss chart to grow",
            until=lambda n: n > loss_points,
        )
        assert elo_points >= 2

        browser.find_element("id", "btn-pause").click()
        wait_for(browser, "return document.getElementById('state').textContent === 'paused'",
                 what="the paused state")  # fmt: skip
        assert run.commands == ["pause"] and run.state == "paused"
        assert browser.find_element("id", "btn-resume").is_enabled()
        assert not browser.find_element("id", "btn-pause").is_enabled()
        ARTIFACTS.mkdir(exist_ok=True)
        assert browser.save_screenshot(str(ARTIFACTS / "dashboard.png"))

        # Space resumes.
        browser.find_element("css selector", "body").send_keys(" ")
        wait_for(browser, "return document.getElementById('state').textContent === 'running'",
                 what="Space to resume")  # fmt: skip
        assert run.commands == ["pause", "resume"]
