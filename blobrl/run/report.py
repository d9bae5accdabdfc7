"""What the run reports: status, metrics, the config view, and the lines and events it logs.
Pure functions of the run's pieces (no actor calls but the InferenceServer's stats)."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from blobrl.config import Config
from blobrl.config.sections import Phase
from blobrl.learner import realized_ratio
from blobrl.remote import Remote
from blobrl.run.control import CoordinatorStatus
from blobrl.run.ledger import GameLedger
from blobrl.run.ports import InferencePort
from blobrl.run.records import RunMetrics
from blobrl.selfplay import SelfPlayStatus
from blobrl.telemetry.names import finite_or_none

log = logging.getLogger(__name__)


def games_per_min(rate: Sequence[tuple[float, int]]) -> float:
    """Games a minute over ``rate``, (monotonic time, games played) samples, oldest first."""
    if len(rate) < 2:
        return 0.0
    (t0, g0), (t1, g1) = rate[0], rate[-1]
    return (g1 - g0) / (t1 - t0) * 60.0 if t1 > t0 else 0.0


def phase_view(phase: Phase, index: int) -> dict[str, Any]:
    """A schedule phase (``index`` from 0) as the ``phase`` event and the config view say it."""
    return {
        "phase": index + 1,
        "first": phase.first,
        "last": phase.last,
        "determinizations": phase.determinizations,
        "simulations": phase.simulations,
        "games_per_iteration": phase.games_per_iteration,
    }


def config_view(config: Config, iteration: int, lr: float) -> dict[str, Any]:
    """The resolved config and where the run is in its schedule (``iteration``)."""
    index = config.schedule.index_at(iteration)
    view = phase_view(config.schedule.phases[index], index)
    view["index"] = view.pop("phase")
    return {
        "config": config.to_dict(),
        "phase": {**view, "root": config.search_at(iteration).root},
        "iteration": iteration,
        "learning_rate": lr,
    }


def mix_line(counts: dict[tuple[int, int], int], sampler: Any) -> str:
    """The deals played in an iteration against the configured mix, for the log."""
    total = sum(counts.values()) or 1
    return ", ".join(
        f"{n}x{c} {100 * counts.get((n, c), 0) / total:.1f}% (target {100 * w:.1f}%)"
        for (n, c), w in zip(sampler.deals, sampler.probabilities, strict=True)
    )


def mix_event(iteration: int, counts: dict[tuple[int, int], int]) -> dict[str, Any]:
    return {
        "iteration": iteration,
        "counts": {f"{n}x{c}": k for (n, c), k in sorted(counts.items())},
    }


def gauntlet_lines(iteration: int, result: dict[str, Any]) -> list[str]:
    return [
        f"gauntlet iteration {iteration} vs {m['opponent']} at {m['players']}x{m['cards']}: "
        f"{m['score']:.2f} vs {m['opponent_score']:.2f} per hand "
        f"({m['diff']:+.2f} +- {m['diff_ci95'] or 0.0:.2f})"
        for m in result.get("matches", [])
    ]


def arena_line(entry: dict[str, Any]) -> str:
    rating = "none yet" if entry["elo"] is None else f"{entry['elo']:.0f} +- {entry['ci95']:.0f}"
    return (
        f"arena iteration {entry['iteration']}: share {entry['share']:.3f}, score share "
        f"{entry['score_share']:.3f} ({entry['elo_diff']:+.0f} +- {entry['elo_diff_ci95']:.0f} "
        f"Elo against iteration {entry['best_version']}), rating {rating}"
        + (" (promoted)" if entry["promoted"] else "")
    )


def inference_stats(server: Remote[InferencePort] | None) -> dict[str, Any]:
    """The InferenceServer's numbers (empty without one, or when it does not answer soon)."""
    if server is None:
        return {}
    try:
        stats = server.call(InferencePort.stats).result(timeout=2)
    except Exception:
        return {}
    return {k: finite_or_none(v) if isinstance(v, float) else v for k, v in asdict(stats).items()}


def metrics(
    *,
    config: Config,
    loss: dict[str, Any],
    arena: dict[str, Any],
    rating: dict[str, Any],
    selfplay: list[SelfPlayStatus],
    inference: dict[str, Any],
    trained: int,
    best_version: int,
    games_played: int,
    games_per_min: float,
    buffer_positions: int,
    learner_steps_per_s: float | None,
    actors: int,
    recoveries: dict[str, int],
) -> RunMetrics:
    """``loss``: the last loss history entry; ``arena``: the last arena's; ``rating``: the
    ratings view (:meth:`blobrl.run.RunHistory.rating_view`)."""
    positions, samples = int(loss.get("positions_total", 0)), int(loss.get("samples_total", 0))
    sp = selfplay
    return RunMetrics(
        iteration=trained,
        policy_loss=finite_or_none(loss.get("policy_loss")),
        value_loss=finite_or_none(loss.get("value_loss")),
        total_loss=finite_or_none(loss.get("total_loss")),
        trick_loss=finite_or_none(loss.get("trick_loss")),
        policy_accuracy=finite_or_none(loss.get("policy_accuracy")),
        policy_entropy=finite_or_none(loss.get("policy_entropy")),
        value_calibration_error=finite_or_none(loss.get("value_error")),
        learning_rate=finite_or_none(loss.get("lr")),
        elo=finite_or_none(arena.get("elo")),
        elo_ci95=finite_or_none(arena.get("ci95")),
        best_elo=rating["best_elo"],
        best_elo_ci95=rating["best_elo_ci95"],
        baselines=rating["baselines"],
        best_version=best_version,
        games_played=games_played,
        games_per_min=games_per_min,
        buffer_positions=buffer_positions,
        selfplay_evaluations=sum(x.evaluations for x in sp),
        selfplay_eval_fraction=sum(x.eval_fraction for x in sp) / len(sp) if sp else None,
        inference_batch_size=inference.get("mean_batch_rows"),
        inference_evals_per_s=inference.get("evals_per_s"),
        inference_queue_wait_ms=inference.get("mean_queue_wait_ms"),
        gpu_memory_bytes=inference.get("gpu_memory_bytes", 0),
        learner_steps_per_s=learner_steps_per_s,
        replay_ratio=config.learner.replay_ratio,
        replay_ratio_last=realized_ratio(loss.get("samples", 0), loss.get("positions", 0)),
        replay_ratio_run=realized_ratio(samples, positions),
        rollout_agreement=finite_or_none(loss.get("rollout_agreement")),
        positions_generated=positions,
        samples_trained=samples,
        actors=actors,
        recoveries=dict(recoveries),
        timestamp=time.time(),
    )


def status(
    ledger: GameLedger,
    *,
    state: str,
    games_per_min: float,
    phase_index: int,
    weights_version: int,
    buffer_positions: int,
    lr: float,
    actors: int,
    error: str | None,
    notice: str | None,
) -> CoordinatorStatus:
    config, last = ledger.config, ledger.last_iteration
    it = min(ledger.iteration, last)
    phase = config.phase_at(it)
    total = ledger.games_total
    left = total - ledger.games_played
    return CoordinatorStatus(
        state=state,
        iteration=ledger.iteration,
        iterations=last,
        games_played=ledger.games_played,
        games_total=total,
        progress=ledger.games_played / total if total else 1.0,
        iteration_games=ledger.games_in(it),
        iteration_games_total=phase.games_per_iteration,
        games_per_min=games_per_min,
        eta_s=left / games_per_min * 60.0 if games_per_min > 0 else None,
        phase=max(phase_index, 0) + 1,
        determinizations=phase.determinizations,
        simulations=phase.simulations,
        weights_version=weights_version,
        trained_iterations=ledger.trained,
        buffer_positions=buffer_positions,
        lr=lr,
        actors=actors,
        timestamp=time.time(),
        error=error,
        notice=notice,
    )
