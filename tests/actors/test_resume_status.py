"""While a resume replays the game log, the status already shows where the run is: the
checkpoint's iteration and the games read so far, not iteration 1 with 0 games."""

from __future__ import annotations

import threading

import pytest

from blobrl.actors.compose import Resources, build
from blobrl.actors.journal import RunJournalFactory
from blobrl.remote import call_now

from .test_coordinator import tiny_config

pytestmark = pytest.mark.timeout(300)


def test_the_status_during_a_resume_shows_the_checkpoint_and_the_games_read(tmp_path):
    config = tiny_config(iterations=2)
    journal = RunJournalFactory(str(tmp_path), fsync_interval_s=0.2, keep_all=True)
    system = build(config, journal, remote=False, resources=Resources(2, 0), stop_after=1)
    first = call_now(system.coordinator, "run", timeout=300)
    system.shutdown()
    assert first.trained_iterations == 1 and first.games_played == 24

    system = build(config, journal, remote=False, resources=Resources(2, 0), resume=True)
    coordinator = system.coordinator.obj
    replaying, release = threading.Event(), threading.Event()
    replay_games = coordinator.journal.replay_games

    def slow_replay(on_game):
        def each(record):
            on_game(record)
            if record.game_id == 11:  # half the log read: hold it there
                replaying.set()
                release.wait(60)

        return replay_games(each)

    coordinator.journal.replay_games = slow_replay
    result: dict = {}
    thread = threading.Thread(
        target=lambda: result.update(status=call_now(system.coordinator, "run", timeout=300))
    )
    thread.start()
    try:
        assert replaying.wait(60)
        status = coordinator.status()
        assert status.trained_iterations == 1 and status.iteration == 2
        assert 0 < status.games_played <= 24
    finally:
        release.set()
        thread.join(300)
        system.shutdown()
    assert result["status"].trained_iterations == 2 and result["status"].games_played == 48
