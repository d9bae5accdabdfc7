"""The play page in a real headless Chromium against a real checkpoint over a real HTTP server:
a person deals, bids and plays a hand to its end by clicking, and a click the rules refuse is
answered with the engine's reason while nothing changes."""

from __future__ import annotations

import httpx
import pytest
from api.fakes import FakeCoordinator
from api.server import serving
from api.test_play import write_run

from blobrl.api import create_app

from .test_dashboard import ARTIFACTS, browser, wait_for  # noqa: F401 (browser: a fixture)

pytest.importorskip("selenium.webdriver", reason="selenium is not installed")

BODY = "return document.body.dataset"


def idle(driver) -> None:
    wait_for(driver, "return document.body.dataset.busy !== 'true'", timeout=60,
             what="the model's moves")  # fmt: skip


def data(driver, key: str) -> str | None:
    return driver.execute_script(f"{BODY}[{key!r}]")


def text(driver, element_id: str) -> str:
    return driver.execute_script(f"return document.getElementById({element_id!r}).textContent")


def server_state(driver, base: str) -> dict:
    """The page's session as the server holds it."""
    session = driver.execute_script("return sessionStorage.getItem('blobrl.playSession')")
    return httpx.get(f"{base}/api/play/sessions/{session}").json()


def click(driver, selector: str) -> None:
    driver.find_element("css selector", selector).click()


def test_a_person_plays_a_hand_to_its_end_by_clicking(browser, tmp_path):  # noqa: F811
    from selenium.webdriver.support.ui import Select

    app = create_app(FakeCoordinator(), run_dir=write_run(tmp_path))  # the default network
    with serving(app) as base:
        browser.get(base + "/play")
        listed = "return document.querySelector('#checkpoint option[value=\"best_model.pt\"]')"
        wait_for(browser, listed, what="the checkpoint list")
        options = browser.execute_script(
            "return [...document.querySelectorAll('#checkpoint option')].map(o => o.value)"
        )
        assert options == ["best_model.pt", "iter_000002.pt", "iter_000001.pt"]
        Select(browser.find_element("id", "players")).select_by_value("4")
        Select(browser.find_element("id", "cards")).select_by_value("4")
        browser.find_element("id", "seed").send_keys("3")
        click(browser, "#deal")
        wait_for(browser, f"{BODY}.phase === 'bidding'", what="the deal")
        idle(browser)
        browser.find_element("id", "view-toggle").click()
        assert len(browser.find_elements("css selector", "#hand button")) == 4
        suits = browser.execute_script(
            "return [...document.querySelectorAll('#hand button')].map(b => b.className)"
        )
        assert all("playing-card" in s for s in suits)

        # A card while bidding: refused by the server with the engine's reason, nothing changes.
        before = server_state(browser, base)
        click(browser, "#hand button")
        idle(browser)
        wait_for(browser, "return document.getElementById('message').textContent"
                          ".includes('cards are played only after everyone has bid')",
                 what="the refusal")  # fmt: skip
        assert "Not allowed: illegal action" in text(browser, "message")
        assert data(browser, "refusals") == "1"
        assert server_state(browser, base) == before
        assert len(browser.find_elements("css selector", "#hand button")) == 4

        # The model's view of the person's bid.
        wait_for(browser, "return document.querySelectorAll('#view-policy .bar-row').length > 0",
                 what="the model's view")  # fmt: skip
        assert len(browser.find_elements("css selector", "#view-tricks .bar-row")) == 5

        shot = False
        refused_follow = False
        for _ in range(4 + 1):  # the bid and four cards
            if data(browser, "finished") == "true":
                break
            moves = data(browser, "moves")
            if data(browser, "phase") == "bidding":
                click(browser, "#bids button[data-legal='true']")
            else:
                off = browser.find_elements("css selector", "#hand button[data-legal='false']")
                if off and not refused_follow:  # a card that does not follow the led suit
                    before = server_state(browser, base)
                    off[0].click()
                    idle(browser)
                    assert "must follow" in text(browser, "message")
                    assert server_state(browser, base) == before and data(browser, "moves") == moves
                    refused_follow = True
                if not shot and server_state(browser, base)["tricks"]:
                    ARTIFACTS.mkdir(exist_ok=True)
                    assert browser.save_screenshot(str(ARTIFACTS / "play.png"))
                    shot = True
                click(browser, "#hand button[data-legal='true']")
            idle(browser)
            assert data(browser, "moves") != moves, text(browser, "message")
            assert text(browser, "message") == ""

        wait_for(browser, f"{BODY}.finished === 'true'", what="the end of the hand")
        final = server_state(browser, base)
        assert final["finished"] and len(final["tricks"]) == 4
        assert browser.find_element("id", "result").is_displayed()
        shown = browser.execute_script("return JSON.parse(document.getElementById('scores')"
                                       ".dataset.scores)")  # fmt: skip
        assert shown == final["scores"]
        for seat in final["seats"]:
            assert f"{seat['name']} {seat['score']}" in text(browser, "scores")
        rows = browser.find_elements("css selector", "#seats tbody tr")
        assert [r.text.split()[-3:] for r in rows] == [
            [str(s["bid"]), str(s["tricks"]), str(s["score"])] for s in final["seats"]
        ]
        assert len(browser.find_elements("css selector", "#log li")) == 4 + 16
        assert shot

        # A new hand starts over; the finished session is let go on the server.
        finished = final["session_id"]
        click(browser, "#again")
        wait_for(browser, f"{BODY}.finished === 'false'", what="a new hand")
        idle(browser)
        assert server_state(browser, base)["session_id"] != finished
        wait_for(browser, "return true", what="the old session to go",
                 until=lambda _: finished not in app.state.play)  # fmt: skip


def test_a_full_game_is_played_round_after_round(browser, tmp_path):  # noqa: F811
    from selenium.webdriver.support.ui import Select

    app = create_app(FakeCoordinator(), run_dir=write_run(tmp_path))
    with serving(app) as base:
        browser.get(base + "/play")
        wait_for(browser, "return document.getElementById('deal').disabled === false",
                 what="the checkpoint list")  # fmt: skip
        Select(browser.find_element("id", "players")).select_by_value("3")
        Select(browser.find_element("id", "cards")).select_by_value("2")
        Select(browser.find_element("id", "mode")).select_by_value("game")
        Select(browser.find_element("id", "search")).select_by_value("raw")
        click(browser, "#deal")
        wait_for(browser, f"{BODY}.phase === 'bidding'", what="the deal")
        for round_number, cards in enumerate((2, 1, 2), start=1):
            idle(browser)
            assert text(browser, "round") == f"{round_number} of 3 ({cards} cards)"
            for _ in range(cards + 1):  # the bid and every card
                if data(browser, "finished") == "true":
                    break
                moves = data(browser, "moves")
                selector = "#bids" if data(browser, "phase") == "bidding" else "#hand"
                click(browser, f"{selector} button[data-legal='true']")
                idle(browser)
                assert data(browser, "moves") != moves, text(browser, "message")
            assert data(browser, "finished") == "true"
            state = server_state(browser, base)
            assert [s["total"] for s in state["seats"]] == state["game"]["totals"]
            if round_number < 3:
                assert browser.find_element("id", "next-round").is_displayed()
                click(browser, "#next-round")
                wait_for(browser, f"{BODY}.finished === 'false'", what="the next round")
        assert state["game"]["over"] and len(state["game"]["results"]) == 3
        assert text(browser, "result-title") == "Game over"
        assert "winner:" in text(browser, "scores")
        assert not browser.find_element("id", "next-round").is_displayed()
