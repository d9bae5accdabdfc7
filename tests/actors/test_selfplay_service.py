"""SelfPlayService: what the self-play actor reports while its loop is playing."""

from __future__ import annotations

import time

import numpy as np

from blobrl.actors.selfplay import SelfPlayService
from blobrl.mcts import SearchSettings, uniform_evaluator
from blobrl.selfplay import GameSpec


class SlowNetwork:
    """The uniform evaluator behind a fixed wait, as a network (or a round trip) would take."""

    def __init__(self, delay_s: float) -> None:
        self.delay_s = delay_s

    def __call__(self, features: np.ndarray):
        time.sleep(self.delay_s)
        return uniform_evaluator(features)


def test_status_reports_the_time_spent_waiting_for_the_network_while_the_loop_plays():
    svc = SelfPlayService(
        "selfplay-test",
        evaluator_factory=lambda: SlowNetwork(0.01),
        settings=SearchSettings(determinizations=2, simulations=6),
        games_in_flight=4,
        torch_threads=None,
    )
    svc.submit([GameSpec(4, 5, seed=s, game_id=s) for s in range(4)])
    deadline = time.monotonic() + 120
    while svc.status().games < 1:
        assert time.monotonic() < deadline, "no game finished"
        time.sleep(0.01)
    status = svc.status()  # the loop never ends by itself: it is still going
    svc.stop()
    assert status.alive and status.evaluations > 0
    # Much of the time is the 10 ms waits (a search step of 4 hands takes well under 1 ms; the
    # first ones also warm up the search). Before a play ended it used to read 0.
    assert 0.2 < status.eval_fraction < 1.0


def test_with_two_game_groups_a_pause_holds_every_game_and_resume_finishes_them():
    svc = SelfPlayService(
        "selfplay-groups",
        evaluator_factory=lambda: SlowNetwork(0.005),
        settings=SearchSettings(determinizations=1, simulations=4),
        games_in_flight=3,
        game_groups=2,
        torch_threads=None,
    )
    svc.submit([GameSpec(4, 3, seed=s, game_id=s) for s in range(12)])
    deadline = time.monotonic() + 120
    while svc.status().games < 2:
        assert time.monotonic() < deadline, "no game finished"
        time.sleep(0.01)
    svc.pause()
    while not svc.status().paused:
        assert time.monotonic() < deadline, "the pause never held"
        time.sleep(0.01)
    held = svc.status().games
    time.sleep(0.3)  # both groups' searches end meanwhile; no game may finish
    assert svc.status().games == held
    svc.resume()
    while svc.status().games < 12:
        assert time.monotonic() < deadline, "resume did not finish the games"
        time.sleep(0.01)
    status = svc.status()
    svc.stop()
    assert status.alive and status.error is None
    assert sorted(r.game_id for r in svc.collect()) == list(range(12))
    assert 0.0 < status.eval_fraction <= 1.0
