"""TensorBoard event files hold the numbers of the metrics, read back with tensorboard's own
reader: from records of the run's own types, and after a real tiny run (in-process)."""

from __future__ import annotations

import logging
import sys
import threading
from dataclasses import asdict
from pathlib import Path

import pytest

from blobrl.actors.compose import Resources, build
from blobrl.actors.journal import RunJournal
from blobrl.config import config_from_dict
from blobrl.evaluation.gauntlet import GauntletMatch, GauntletResult
from blobrl.learner import CurvePoint, IterationMetrics
from blobrl.remote import call_now
from blobrl.telemetry.tensorboard import MISSING_PACKAGE, TensorBoardFactory, TensorBoardLog

# The reader of the `tensorboard` package (the dev and tb extras).
EventAccumulator = pytest.importorskip(
    "tensorboard.backend.event_processing.event_accumulator"
).EventAccumulator


def scalars(log_dir: Path) -> dict[str, list[tuple[int, float]]]:
    """Every scalar series under ``log_dir``: tag -> [(step, value)]."""
    events = EventAccumulator(str(log_dir), size_guidance={"scalars": 0})
    events.Reload()
    return {
        tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]
    }


def loss_entry(iteration: int) -> dict:
    """A loss history entry as the Coordinator keeps it: ``{"iteration", **asdict(metrics)}``."""
    metrics = IterationMetrics(
        iteration=iteration, steps=4, skipped_steps=0, policy_loss=1.5 - 0.1 * iteration,
        value_loss=0.25, total_loss=1.9, policy_accuracy=0.4, policy_entropy=1.1,
        value_error=0.2, grad_norm=0.8, lr=1e-3 * iteration, trick_loss=0.75, positions=100,
        samples=250, positions_total=100 * iteration, samples_total=250 * iteration,
        curve=(CurvePoint(step=4 * iteration - 2, policy_loss=1.6, value_loss=0.3,
                          total_loss=2.0, trick_loss=0.8, lr=1e-3),
               CurvePoint(step=4 * iteration, policy_loss=1.4, value_loss=0.2,
                          total_loss=1.8, trick_loss=float("nan"), lr=1e-3)),
    )  # fmt: skip
    return {"iteration": iteration, **asdict(metrics)}


def test_records_become_scalars_per_iteration_and_per_training_step(tmp_path):
    board = TensorBoardLog.open(tmp_path)
    assert board.active
    for it in (1, 2):
        board.iteration(loss_entry(it), games_played=30 * it, games_per_min=120.0,
                        buffer_positions=100 * it, learner_steps_per_s=None)  # fmt: skip
    board.arena(
        {"iteration": 2, "elo": 180.0, "ci95": 40.0, "share": 0.6, "score_share": 0.58,
         "elo_diff": 55.0, "promoted": True},
        rating={"best_elo": 180.0, "best_elo_ci95": 40.0},
    )  # fmt: skip
    match = GauntletMatch(
        opponent="ismcts:1000", players=5, cards=7, deals=10, score=4.0, score_ci95=1.0,
        opponent_score=3.0, opponent_ci95=1.0, diff=1.0, diff_ci95=0.5, exact_rate=0.4,
        opponent_exact_rate=0.3, share=0.55, share_se=0.02,
    )  # fmt: skip
    board.gauntlet(GauntletResult(2, (match,), 3.0).to_dict(), elo=175.0, elo_ci95=35.0)
    board.close()

    got = scalars(tmp_path)
    assert got["losses/policy_loss"] == [(1, pytest.approx(1.4)), (2, pytest.approx(1.3))]
    assert got["losses/trick_loss"] == [(1, 0.75), (2, 0.75)]
    assert got["learner/learning_rate"] == [(1, pytest.approx(1e-3)), (2, pytest.approx(2e-3))]
    assert got["learner/replay_ratio_last"] == [(1, 2.5), (2, 2.5)]
    assert got["selfplay/games_per_min"] == [(1, 120.0), (2, 120.0)]
    assert got["replay/buffer_positions"] == [(1, 100.0), (2, 200.0)]
    assert "learner/steps_per_s" not in got  # not measured: nothing written
    # The learning curve at the learner's steps; a NaN (no trick head there) is left out.
    assert [s for s, _ in got["train_step/policy_loss"]] == [2, 4, 6, 8]
    assert [s for s, _ in got["train_step/trick_loss"]] == [2, 6]
    assert got["eval/elo"] == [(2, 180.0)] and got["eval/elo_ci95"] == [(2, 40.0)]
    assert got["eval/promoted"] == [(2, 1.0)]
    assert got["gauntlet/elo"] == [(2, 175.0)]
    assert got["gauntlet/ismcts_1000_5x7/diff"] == [(2, 1.0)]


def test_without_the_package_one_warning_and_no_files(tmp_path, monkeypatch, caplog):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # import fails
    with caplog.at_level(logging.WARNING):
        board = TensorBoardLog.open(tmp_path / "tb")
    assert not board.active
    board.iteration(loss_entry(1), games_played=1, games_per_min=1.0, buffer_positions=1)
    board.close()
    assert not (tmp_path / "tb").exists()
    assert [r.getMessage() for r in caplog.records] == [MISSING_PACKAGE]
    assert "pip install 'blobrl[tb]'" in MISSING_PACKAGE


def test_a_real_run_writes_its_losses_and_rating(tmp_path):
    phase = {"first": 1, "last": 2, "determinizations": 1, "simulations": 3,
             "games_per_iteration": 16}  # fmt: skip
    config = config_from_dict({
        "run": {"iterations": 2, "seed": 7},
        "schedule": {"phases": [phase]},
        "game_mix": [{"players": 4, "cards": 3, "weight": 1.0}],
        "network": {"hidden": 16, "blocks": 1, "value_head": "tricks"},
        "learner": {"batch_size": 32, "steps_per_iteration": 2, "warmup_iterations": 1},
        "selfplay": {"actors": 1, "games_in_flight": 8},
        "replay": {"capacity": 4000, "min_positions_to_train": 10},
        "evaluation": {"arena_deals": 2, "gauntlet_every": 1, "gauntlet_deals": 3,
                       "gauntlet_ismcts": []},
        "checkpoint": {"min_free_disk_gb": 0},
    })  # fmt: skip
    journal = RunJournal(tmp_path / "run", fsync_interval_s=0.2)
    system = build(
        config, journal, remote=False, resources=Resources(1, 0),
        tensorboard=TensorBoardFactory(str(tmp_path / "tb")),
    )  # fmt: skip
    result: dict = {}
    thread = threading.Thread(
        target=lambda: result.update(status=call_now(system.coordinator, "run", timeout=300)),
        daemon=True,
    )
    thread.start()
    thread.join(300)
    system.shutdown()
    assert result["status"].error is None and result["status"].trained_iterations == 2
    coordinator = system.coordinator.obj

    got = scalars(tmp_path / "tb")
    losses = coordinator.history()["loss"]
    assert got["losses/policy_loss"] == [
        (e["iteration"], pytest.approx(e["policy_loss"], rel=1e-6)) for e in losses
    ]
    assert [s for s, _ in got["losses/trick_loss"]] == [1, 2]
    assert [s for s, _ in got["learner/learning_rate"]] == [1, 2]
    assert [s for s, _ in got["selfplay/games_played"]] == [1, 2]
    assert got["train_step/total_loss"]  # the learning curve within the iterations
    # The gauntlets rate each network against random: the rating and its interval.
    assert [s for s, _ in got["gauntlet/elo"]] == [1, 2]
    assert [s for s, _ in got["gauntlet/elo_ci95"]] == [1, 2]
    assert {s for s, _ in got["eval/arena_share"]} <= {1, 2} and got["eval/arena_share"]
    assert any(tag.startswith("gauntlet/random_") for tag in got)
