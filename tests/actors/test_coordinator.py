"""The Coordinator drives real services in-process (local handles, no Ray)."""

from __future__ import annotations

import threading
import time

import pytest

from blobrl.actors.compose import Resources, build
from blobrl.checkpoint import Progress
from blobrl.config import config_from_dict
from blobrl.evaluation import MatchEdge, RatingLedger, checkpoint_player
from blobrl.remote import call_now
from blobrl.run.control import STOPPED, TRANSITIONS

from .fakes import MemoryJournal


def tiny_config(iterations: int = 3, **sections):
    phases = [
        {
            "first": 1,
            "last": min(2, iterations),
            "determinizations": 1,
            "simulations": 3,
            "games_per_iteration": 24,
        }
    ]
    if iterations >= 3:
        phases.append(
            {
                "first": 3,
                "last": iterations,
                "determinizations": 2,
                "simulations": 3,
                "games_per_iteration": 16,
            }
        )
    data = {
        "run": {"iterations": iterations, "seed": 7},
        "schedule": {"phases": phases},
        "game_mix": [{"players": 4, "cards": 3, "weight": 0.5},
                     {"players": 3, "cards": 4, "weight": 0.5}],
        "network": {"hidden": 16, "blocks": 1},
        "learner": {"batch_size": 32, "steps_per_iteration": 2, "warmup_iterations": 1},
        "selfplay": {"actors": 2, "games_in_flight": 4},
        "replay": {"capacity": 4000, "min_positions_to_train": 10},
        "evaluation": {"arena_deals": 2, "gauntlet_every": 0},
    }  # fmt: skip
    data.update(sections)
    return config_from_dict(data)


def start(config, journal, **kwargs):
    system = build(config, journal, remote=False, resources=Resources(2, 0), **kwargs)
    result: dict = {}

    def run():
        result["status"] = call_now(system.coordinator, "run", timeout=300)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return system, thread, result


def coordinator(system):
    return system.coordinator.obj


def restart_learner(system, config):
    """Replace the learner with a fresh one, as Ray restarts a lost actor."""
    from blobrl.actors.learner import LearnerService

    system.learner.obj = LearnerService(
        config.network, config.learner, total_iterations=config.iterations,
        replay=system.replay, seed=config.run.seed,
    )  # fmt: skip
    return system.learner.obj


def run_with_a_restarted_learner(system, config, first):
    """Run the Coordinator to the end and check that the learner, restarted once along the way
    (``first`` is the one it replaced), was restored with the whole run's training: one schedule
    step and ``steps_per_iteration`` optimizer steps per iteration, not only what it did since
    it started. Returns the Coordinator."""
    coord = coordinator(system)
    status = coord.run()
    system.shutdown()
    assert status.error is None and status.trained_iterations == config.iterations
    assert coord.recoveries == {"learner": 1}
    learner = system.learner.obj
    assert learner is not first and learner.version == config.iterations
    assert learner.learner.scheduler.iteration == config.iterations + 1
    steps = {int(s["step"]) for s in learner.learner.optimizer.state_dict()["state"].values()}
    assert steps == {config.iterations * config.learner.steps_per_iteration}
    return coord


def wait_for(predicate, timeout=60.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_a_run_plays_every_game_of_every_iteration_exactly_once():
    config = tiny_config()
    journal = MemoryJournal()
    system, thread, result = start(config, journal)
    thread.join(300)
    system.shutdown()
    status = result["status"]
    assert status.state == STOPPED and status.error is None
    assert status.trained_iterations == 3 and status.weights_version == 3
    keys = [(g.iteration, g.game_id) for g in journal.games]
    assert len(keys) == len(set(keys)) == 24 + 24 + 16
    for it, total in ((1, 24), (2, 24), (3, 16)):
        assert sorted(i for t, i in keys if t == it) == list(range(total))
    # Each game's deal is the one the mix sampler assigns to its (iteration, index).
    sampler = config.game_mix_sampler()
    for g in journal.games:
        assert (g.num_players, g.num_cards) == sampler.draw(g.iteration, g.game_id)
        assert g.seed == sampler.deal_seed(g.iteration, g.game_id)
    # Phase 2 (iteration 3) searched with 2 worlds.
    assert {g.determinizations for g in journal.games if g.iteration == 3} == {2}
    # A checkpoint per iteration (0 = the initial weights) and the histories in the last one.
    assert sorted(journal.checkpoints) == [0, 1, 2, 3]
    assert len(journal.checkpoints[3]["loss_history"]) == 3
    assert status.buffer_positions == sum(g.num_positions for g in journal.games)


def test_every_transition_not_in_the_table_is_refused_with_the_state():
    config = tiny_config(iterations=1)
    system = build(config, MemoryJournal(), remote=False, resources=Resources(1, 0),
                   start_paused=True)  # fmt: skip
    coord = coordinator(system)
    try:
        states = ["idle", "running", "pausing", "paused", "stopping", "stopped"]
        for state in states:
            for command, allowed in TRANSITIONS.items():
                coord.state = state
                result = coord.control(command)
                assert result.success == (state in allowed), (state, command)
                if result.success:
                    assert result.state == allowed[state]
                else:
                    assert result.state == state and f"while {state}" in result.message
        coord.state = "running"
        assert not coord.control("explode").success
    finally:
        system.shutdown()


def test_stop_mid_run_then_resume_counts_no_game_twice():
    config = tiny_config(iterations=3)
    journal = MemoryJournal()
    system, thread, _ = start(config, journal)
    coord = coordinator(system)
    assert wait_for(lambda: coord.games_played >= 30)
    coord.control("stop")
    thread.join(60)
    system.shutdown()
    first = [(g.iteration, g.game_id) for g in journal.games]
    assert len(first) == len(set(first))
    trained = max(journal.checkpoints)

    system, thread, result = start(config, journal, resume=True)
    thread.join(300)
    system.shutdown()
    keys = [(g.iteration, g.game_id) for g in journal.games]
    assert len(keys) == len(set(keys)) == 64  # the logged games were not played again
    assert keys[: len(first)] == first
    assert result["status"].games_played == 64
    assert result["status"].trained_iterations == 3
    losses = journal.checkpoints[3]["loss_history"]
    assert [entry["iteration"] for entry in losses] == [1, 2, 3]
    assert trained >= 0


@pytest.mark.parametrize("stop_after", [1, 2])
def test_stop_after_ends_at_that_iteration(stop_after):
    config = tiny_config(iterations=3)
    journal = MemoryJournal()
    system, thread, result = start(config, journal, stop_after=stop_after)
    thread.join(300)
    system.shutdown()
    assert result["status"].trained_iterations == stop_after
    assert {g.iteration for g in journal.games} == set(range(1, stop_after + 1))


def test_a_diverging_learner_stops_the_run_with_its_last_good_checkpoint():
    from blobrl.learner import TrainingDiverged

    config = tiny_config(iterations=3)
    journal = MemoryJournal()
    system = build(config, journal, remote=False, resources=Resources(2, 0))
    learner = system.learner.obj
    real = learner.train_iteration

    def train(iteration, **kwargs):
        if iteration == 2:
            raise TrainingDiverged("20 bad steps in a row (loss is NaN)")
        return real(iteration, **kwargs)

    learner.train_iteration = train
    coord = coordinator(system)
    with pytest.raises(TrainingDiverged, match="20 bad steps"):
        coord.run()
    system.shutdown()
    assert coord.state == STOPPED
    assert "TrainingDiverged" in coord.error and "20 bad steps" in coord.error
    assert max(journal.checkpoints) == 1  # the last good iteration is what resume starts from
    assert isinstance(journal.events[-1], Progress)


@pytest.mark.parametrize("when", ["right after training", "between iterations"])
def test_a_restarted_learner_continues_from_the_last_checkpoint(when):
    """Ray restarts a lost learner with fresh weights; the Coordinator must never take those
    for the trained ones: it loads the last checkpoint and trains the iteration again."""
    config = tiny_config(iterations=3)
    journal = MemoryJournal()
    system = build(config, journal, remote=False, resources=Resources(2, 0))
    first = system.learner.obj
    real = first.train_iteration

    def train(iteration, **kwargs):
        if iteration == 2 and system.learner.obj is first:
            if when == "right after training":
                metrics = real(iteration, **kwargs)
                restart_learner(system, config)  # lost before its weights were fetched
                return metrics
            return restart_learner(system, config).train_iteration(iteration, **kwargs)
        return real(iteration, **kwargs)

    first.train_iteration = train
    coord = run_with_a_restarted_learner(system, config, first)
    assert [h["iteration"] for h in coord.history()["loss"]] == [1, 2, 3]


def test_the_gauntlet_runs_on_schedule_and_its_history_is_checkpointed():
    config = tiny_config(
        iterations=3,
        evaluation={"arena_deals": 2, "gauntlet_every": 2, "gauntlet_deals": 4,
                    "gauntlet_ismcts": [4]},
    )  # fmt: skip
    journal = MemoryJournal()
    system, thread, result = start(config, journal)
    thread.join(300)
    system.shutdown()
    assert result["status"].error is None
    history = journal.checkpoints[3]["gauntlet_history"]
    assert [entry["iteration"] for entry in history] == [2, 3]  # every 2nd and the last
    opponents = {m["opponent"] for m in history[0]["matches"]}
    assert opponents == {"random", "heuristic", "ismcts:4"}


def test_arenas_and_gauntlets_rate_every_network_against_random():
    config = tiny_config(
        iterations=3,
        evaluation={"arena_deals": 4, "gauntlet_every": 2, "gauntlet_deals": 3,
                    "gauntlet_ismcts": [4]},
    )  # fmt: skip
    journal = MemoryJournal()
    system, thread, result = start(config, journal)
    thread.join(300)
    system.shutdown()
    assert result["status"].error is None
    coord = coordinator(system)
    payload = journal.checkpoints[3]
    edges = [MatchEdge.from_dict(e) for e in payload["rating_edges"]]
    arenas = [e for e in edges if e.kind == "arena"]
    # One arena per entry of the Elo history (an arena overtaken by a newer one is skipped).
    elo = coord.history()["elo"]
    assert [e.a for e in arenas] == [checkpoint_player(h["iteration"]) for h in elo]
    assert {"iter_1", "iter_3"} <= {e.a for e in arenas}
    assert all(e.b == checkpoint_player(h["best_version"])
               for e, h in zip(arenas, coord.history()["elo"], strict=True))  # fmt: skip
    # Gauntlets of iterations 2 and 3: random and heuristic at 5x7 and 4x3, ismcts at 5x7.
    gauntlet = sorted((e.a, e.b, e.players) for e in edges if e.kind == "gauntlet")
    assert len(gauntlet) == 10 and ("iter_2", "ismcts:4", 5) in gauntlet
    # Every candidate is chained to random, through its arena and the gauntlets.
    refit = RatingLedger(edges, players=["heuristic", "ismcts:4"])
    for entry in coord.history()["elo"]:
        rating = refit.get(checkpoint_player(entry["iteration"]))
        assert entry["elo"] == pytest.approx(rating.elo) and rating.elo is not None
        assert entry["ci95"] == pytest.approx(rating.ci95) and entry["ci95"] > 0
        assert {"promoted", "share", "score_share", "elo_diff"} <= set(entry)
    view = coord.promotion.rating_view()
    assert view["baselines"]["random"] == {"elo": 0.0, "ci95": 0.0}
    assert view["baselines"]["heuristic"]["elo"] == pytest.approx(refit.get("heuristic").elo)
    assert view["baselines"]["ismcts:4"]["ci95"] > 0
    best = refit.get(checkpoint_player(coord.best_version))
    assert view["best_elo"] == pytest.approx(best.elo)
    assert payload["best_elo"] == pytest.approx(best.elo)


def test_training_reuses_each_position_as_often_as_the_replay_ratio_says():
    from blobrl.api.models import LossPoint, MetricsResponse

    config = tiny_config(
        iterations=3,
        learner={"batch_size": 16, "replay_ratio": 1.5, "warmup_iterations": 1},
    )
    journal = MemoryJournal()
    system, thread, result = start(config, journal)
    thread.join(300)
    coord = coordinator(system)
    metrics = MetricsResponse.model_validate(coord.metrics())
    system.shutdown()
    assert result["status"].error is None
    generated = sum(g.num_positions for g in journal.games)
    history = [LossPoint.model_validate(entry) for entry in coord.history()["loss"]]
    for point, it in zip(history, (1, 2, 3), strict=True):
        # Each iteration trains on what its own games generated, within a batch.
        assert point.positions == sum(g.num_positions for g in journal.games if g.iteration == it)
        assert point.samples == 16 * point.steps
        assert abs(point.samples - 1.5 * point.positions) <= 16
    assert metrics.replay_ratio == 1.5
    assert metrics.positions_generated == generated
    assert metrics.samples_trained == sum(p.samples for p in history)
    assert metrics.replay_ratio_run == pytest.approx(1.5, rel=0.10)
    assert metrics.replay_ratio_last == pytest.approx(history[-1].samples / history[-1].positions)


def test_no_iteration_trains_before_the_buffer_holds_min_positions_to_train():
    config = tiny_config(iterations=2, replay={"capacity": 4000, "min_positions_to_train": 4000})
    journal = MemoryJournal()
    system, thread, result = start(config, journal)
    thread.join(300)
    system.shutdown()
    status = result["status"]
    assert sum(g.num_positions for g in journal.games) < 4000
    # Self-play and the schedule go on; the iterations train nothing, and say so.
    assert status.error is None and status.trained_iterations == 2 and status.games_played == 48
    losses = journal.checkpoints[2]["loss_history"]
    assert [(entry["steps"], entry["samples"]) for entry in losses] == [(0, 0), (0, 0)]
    assert all(entry["positions"] > 0 for entry in losses)


def test_an_arena_that_keeps_failing_is_given_up_and_the_run_goes_on():
    """An evaluator whose arena always raises: each arena is tried ARENA_ATTEMPTS times, then
    given up (the best model stays), and the run still ends with every iteration trained."""
    from blobrl.run import ARENA_ATTEMPTS

    config = tiny_config(iterations=3)
    journal = MemoryJournal()
    system = build(config, journal, remote=False, resources=Resources(2, 0))
    evaluator = system.evaluator.obj
    attempts: list[int] = []

    def broken_arena(*args, iteration, **kwargs):
        attempts.append(iteration)
        raise RuntimeError("evaluator bug")

    evaluator.arena = broken_arena
    status = call_now(system.coordinator, "run", timeout=300)
    coord = coordinator(system)
    system.shutdown()
    assert status.state == STOPPED and status.error is None
    assert status.trained_iterations == 3
    assert attempts and set(attempts) <= {1, 2, 3}
    for iteration in set(attempts):
        assert attempts.count(iteration) <= ARENA_ATTEMPTS
    assert attempts.count(attempts[0]) == ARENA_ATTEMPTS  # retried, then given up
    assert coord.best_version == 0 and coord.recoveries["evaluator"] < len(attempts)
