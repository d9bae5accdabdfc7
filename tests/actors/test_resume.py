"""Interrupt a run at exact moments and resume it from its run directory (real game log and
checkpoints on disk): nothing finished is lost or counted twice, the replay buffer holds exactly
the logged games, the learning rate continues its curve and the Elo history is kept."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from blobrl.actors.compose import Resources, build
from blobrl.actors.journal import RunJournalFactory
from blobrl.checkpoint import CheckpointStore, iter_log
from blobrl.config import lr_schedule

from .test_coordinator import (
    coordinator,
    restart_learner,
    run_with_a_restarted_learner,
    start,
    tiny_config,
    wait_for,
)

pytestmark = pytest.mark.timeout(300)


def logged(run_dir) -> list[tuple[int, int, int]]:
    out = []
    for entry in iter_log(run_dir / "games.log", meta_only=True):
        if entry.is_game:
            m = entry.data["meta"]
            out.append((m["iteration"], m["game_id"], m["positions"]))
    return out


def journal_for(run_dir):
    return RunJournalFactory(str(run_dir), fsync_interval_s=0.2, keep_all=True)


class Gate:
    """Blocks a service method until released; records that it was reached."""

    def __init__(self, obj, method: str):
        self.reached = threading.Event()
        self.release = threading.Event()
        original = getattr(obj, method)

        def gated(*args, **kwargs):
            self.reached.set()
            self.release.wait(120)
            return original(*args, **kwargs)

        setattr(obj, method, gated)


def stop_and_wait(system, thread) -> None:
    coordinator(system).control("stop")
    thread.join(120)
    assert not thread.is_alive()


def check_resumed_run(run_dir, config, before):
    """Resume to the end and check the invariants against what was logged before."""
    system, thread, result = start(config, journal_for(run_dir), resume=True)
    coord = coordinator(system)
    assert wait_for(lambda: coord.games_played >= len(before), timeout=60)
    thread.join(300)
    replay = system.replay.obj
    system.shutdown()
    status = result["status"]
    assert status.error is None and status.trained_iterations == config.iterations
    after = logged(run_dir)
    keys = [(it, gid) for it, gid, _ in after]
    assert after[: len(before)] == before  # nothing recorded was lost or rewritten
    assert len(keys) == len(set(keys)) == 24 + 24 + 16  # nothing counted twice
    assert status.games_played == len(keys)
    # The buffer holds exactly the logged games (its capacity exceeds the whole run).
    assert len(replay.buffer) == sum(p for _, _, p in after)
    # The learning rate followed the curve through the interruption.
    latest = CheckpointStore(run_dir).load()
    curve = lr_schedule(config)
    lrs = [entry["lr"] for entry in latest.payload["loss_history"]]
    assert [entry["iteration"] for entry in latest.payload["loss_history"]] == [1, 2, 3]
    assert lrs == pytest.approx([curve.lr_at(i) for i in (1, 2, 3)])
    return latest


def run_one_iteration_and_stop(run_dir, config) -> None:
    """Start a run in ``run_dir`` and stop it once iteration 1 is trained."""
    system, thread, _ = start(config, journal_for(run_dir))
    coord = coordinator(system)
    assert wait_for(lambda: coord.trained >= 1, timeout=120)
    stop_and_wait(system, thread)
    system.shutdown()


def test_interrupt_at_an_iteration_boundary(tmp_path):
    config = tiny_config(3)
    run_one_iteration_and_stop(tmp_path, config)
    before = logged(tmp_path)
    elo_before = CheckpointStore(tmp_path).load().payload["elo_history"]
    latest = check_resumed_run(tmp_path, config, before)
    assert latest.payload["elo_history"][: len(elo_before)] == elo_before


def interrupt_inside(tmp_path, config, service: str, method: str) -> list:
    """Run until ``service.method`` is entered, stop the run there, and return what was
    logged."""
    system = build(config, journal_for(tmp_path), remote=False, resources=Resources(2, 0))
    gate = Gate(getattr(system, service).obj, method)
    thread = threading.Thread(target=system.coordinator.obj.run, daemon=True)
    thread.start()
    assert gate.reached.wait(120)
    stop_and_wait(system, thread)
    gate.release.set()
    system.shutdown()
    return logged(tmp_path)


def test_interrupt_mid_training(tmp_path):
    config = tiny_config(3)
    # Iteration 1's games are in and training has begun.
    before = interrupt_inside(tmp_path, config, "learner", "train_iteration")
    assert len([g for g in before if g[0] == 1]) == 24
    assert CheckpointStore(tmp_path).iterations() == [0]  # the interrupted training is redone
    check_resumed_run(tmp_path, config, before)


def test_interrupt_mid_evaluation(tmp_path):
    config = tiny_config(3)
    before = interrupt_inside(tmp_path, config, "evaluator", "arena")
    elo_before = CheckpointStore(tmp_path).load().payload["elo_history"]
    latest = check_resumed_run(tmp_path, config, before)
    assert latest.payload["elo_history"][: len(elo_before)] == elo_before


def test_several_interrupt_resume_cycles(tmp_path):
    config = tiny_config(3)
    seen: list[int] = []
    before: list = []
    total = 24 + 24 + 16
    for cycle in range(3):
        system, thread, _ = start(config, journal_for(tmp_path), resume=cycle > 0)
        coord = coordinator(system)
        # Games finishing while the stop is processed are logged too, so a cycle can overshoot
        # its target; never aim past the end of the run, and accept a run that got there.
        target = min(len(before) + 8, total - 4)
        assert wait_for(
            lambda coord=coord, t=target, th=thread: coord.games_played >= t or not th.is_alive(),
            timeout=120,
        )
        time.sleep(0.2 * cycle)
        stop_and_wait(system, thread)
        system.shutdown()
        now = logged(tmp_path)
        assert now[: len(before)] == before
        seen.append(len(now))
        before = now
    assert seen == sorted(seen)  # games completed never went backwards
    check_resumed_run(tmp_path, config, before)


def test_a_torn_last_record_is_dropped_and_the_run_resumes_exactly(tmp_path, caplog):
    config = tiny_config(3)
    system, thread, _ = start(config, journal_for(tmp_path))
    coord = coordinator(system)
    assert wait_for(lambda: coord.games_played >= 30, timeout=120)
    stop_and_wait(system, thread)
    system.shutdown()
    before = logged(tmp_path)
    log_path = tmp_path / "games.log"
    size = log_path.stat().st_size
    # Append half of a record, as a crash in the middle of a write would leave it.
    data = log_path.read_bytes()
    log_path.write_bytes(data + data[-40:-20])
    assert log_path.stat().st_size == size + 20
    with caplog.at_level("WARNING"):
        check_resumed_run(tmp_path, config, before)
    assert any("games.log" in r.getMessage() for r in caplog.records if r.levelname == "WARNING")


def test_a_learner_restarted_as_a_resume_starts_gets_the_checkpoint_again(tmp_path):
    """Ray may restart the learner after the resume loaded the checkpoint into it and before
    the first weights are fetched: the Coordinator loads the checkpoint into the new learner
    (instead of failing the launch, or publishing its fresh weights) and the run goes on."""
    config = tiny_config(3)
    run_one_iteration_and_stop(tmp_path, config)
    assert CheckpointStore(tmp_path).load().iteration >= 1

    system = build(
        config, journal_for(tmp_path), remote=False, resources=Resources(2, 0), resume=True
    )
    first = system.learner.obj
    load_state = first.load_state

    def load_then_restart(state):
        version = load_state(state)
        restart_learner(system, config)
        return version

    first.load_state = load_then_restart
    run_with_a_restarted_learner(system, config, first)


def test_the_replay_sampler_goes_on_from_its_checkpointed_state(tmp_path):
    config = tiny_config(3)
    run_one_iteration_and_stop(tmp_path, config)
    checkpoint = CheckpointStore(tmp_path).load()
    saved = checkpoint.payload["replay_rng"]
    fresh = np.random.default_rng(config.run.seed).bit_generator.state
    assert checkpoint.iteration >= 1 and saved["bit_generator"] == "PCG64"
    assert saved != fresh  # the state after training sampled from it, not the seed's

    system = build(
        config, journal_for(tmp_path), remote=False, resources=Resources(2, 0), resume=True
    )
    replay = system.replay.obj
    set_state = replay.set_rng_state
    restored: list[dict] = []

    def recorded(state):
        restored.append(state)
        set_state(state)

    replay.set_rng_state = recorded
    status = coordinator(system).run()
    system.shutdown()
    assert status.error is None and status.trained_iterations == 3
    assert restored == [saved]


def test_a_replay_sampler_set_to_a_state_draws_what_it_drew_from_there():
    from blobrl.actors.replay import ReplayService
    from blobrl.mcts import SearchSettings, uniform_evaluator
    from blobrl.selfplay import GameSpec, SelfPlayWorker

    games = SelfPlayWorker(uniform_evaluator, settings=SearchSettings(1, 2), games_in_flight=4)
    records = games.play([GameSpec(4, 3, seed=i, game_id=i) for i in range(4)])
    first, second = ReplayService(10_000, seed=1), ReplayService(10_000, seed=2)
    for service in (first, second):
        service.add_games(records)
    first.sample(16)
    second.set_rng_state(first.rng_state())
    a, b = first.sample(32), second.sample(32)
    assert (a.features == b.features).all() and (a.policy_target == b.policy_target).all()
