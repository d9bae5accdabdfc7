"""A disk below checkpoint.min_free_disk_gb pauses the run with a message; with room again
the run resumes (in-process Coordinator, real journal, a patched free-space reading)."""

from __future__ import annotations

import logging
import threading
import time

from blobrl.actors.compose import Resources, build
from blobrl.actors.disk import DiskWatch
from blobrl.actors.journal import RunJournal
from blobrl.config import config_from_dict
from blobrl.remote import call_now
from blobrl.run.control import PAUSED, RUNNING, STOPPED


def wait_for(predicate, timeout: float = 60.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def tiny_config(min_free_disk_gb: float):
    # More games than it plays before the test stops it.
    phase = {"first": 1, "last": 1, "determinizations": 1, "simulations": 3,
             "games_per_iteration": 2000}  # fmt: skip
    return config_from_dict({
        "run": {"iterations": 1, "seed": 7},
        "schedule": {"phases": [phase]},
        "game_mix": [{"players": 4, "cards": 3, "weight": 1.0}],
        "network": {"hidden": 16, "blocks": 1},
        "learner": {"batch_size": 32, "steps_per_iteration": 2, "warmup_iterations": 1},
        "selfplay": {"actors": 1, "games_in_flight": 2},
        "replay": {"capacity": 4000, "min_positions_to_train": 10},
        "evaluation": {"arena_deals": 2, "gauntlet_every": 0},
        "checkpoint": {"min_free_disk_gb": min_free_disk_gb},
    })  # fmt: skip


def test_a_low_disk_pauses_the_run_and_room_again_resumes_it(tmp_path, caplog):
    free = {"gb": 100.0}
    journal = RunJournal(tmp_path / "run", fsync_interval_s=0.2, min_free_disk_gb=5)
    journal.store.free_disk_gb = lambda: free["gb"]  # type: ignore[method-assign]
    system = build(tiny_config(5), journal, remote=False, resources=Resources(1, 0))
    coordinator = system.coordinator.obj
    result: dict = {}
    thread = threading.Thread(
        target=lambda: result.update(status=call_now(system.coordinator, "run", timeout=300)),
        daemon=True,
    )
    caplog.set_level(logging.INFO, logger="blobrl.actors.coordinator")
    thread.start()
    try:
        assert wait_for(lambda: coordinator.games_played >= 2)
        free["gb"] = 1.5
        assert wait_for(lambda: coordinator.state == PAUSED, timeout=30)
        status = coordinator.status()
        assert status.notice is not None
        assert "only 1.50 GB free" in status.notice
        assert "checkpoint.min_free_disk_gb = 5" in status.notice
        assert any(
            r.levelno == logging.WARNING and "pausing the run" in r.getMessage()
            for r in caplog.records
        )
        held = coordinator.games_played
        refused = coordinator.control("resume")
        assert not refused.success and "GB free" in refused.message
        time.sleep(1.0)
        assert coordinator.games_played == held and coordinator.state == PAUSED

        free["gb"] = 50.0
        assert wait_for(lambda: coordinator.state == RUNNING, timeout=30)
        assert coordinator.status().notice is None
        assert any("disk space is back" in r.getMessage() for r in caplog.records)
        assert wait_for(lambda: coordinator.games_played > held)  # the held games go on
    finally:
        coordinator.control("stop")
        thread.join(120)
        system.shutdown()
    status = result["status"]
    assert status.state == STOPPED and status.error is None and status.games_played > held


def test_the_watch_is_quiet_without_a_limit_a_reading_or_a_readable_disk():
    assert DiskWatch(0.0, lambda: 0.0).low() is None  # min_free_disk_gb: 0 turns it off
    assert DiskWatch(1.0, lambda: None).low() is None

    def unreadable() -> float:
        raise OSError("gone")

    assert DiskWatch(1.0, unreadable).low() is None
    assert DiskWatch.of(object(), 1.0).low() is None  # a journal that cannot tell
    message = DiskWatch(2.0, lambda: 0.5, "/runs/x/checkpoints").low()
    assert message == (
        "only 0.50 GB free on /runs/x/checkpoints, under checkpoint.min_free_disk_gb = 2"
    )
