"""Response models of the control API: they make /openapi.json the exact contract.

Floats the run reports can be NaN or infinite (a skipped training step, no rate yet); JSON has
neither, so every such field is ``float | None`` and non-finite values become None.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from blobrl.data import RunState
from blobrl.telemetry.names import finite_or_none

Finite = Annotated[float | None, BeforeValidator(finite_or_none)]
State = RunState  # the one vocabulary (blobrl.data)


class _Model(BaseModel):
    # Fields the coordinator adds later are dropped, so the schema stays what it says.
    model_config = ConfigDict(extra="ignore")


class StatusResponse(_Model):
    state: State
    iteration: int = Field(description="iteration now being played (1-based)")
    iterations: int = Field(description="last iteration of this run")
    games_played: int = Field(description="finished games of the whole run")
    games_total: int
    progress: float = Field(description="games_played / games_total, 0..1")
    iteration_games: int = Field(description="finished games of the current iteration")
    iteration_games_total: int
    games_per_min: float
    eta_s: Finite = Field(description="seconds left at the current rate; null before a rate")
    phase: int = Field(description="schedule phase now played (1-based)")
    determinizations: int
    simulations: int
    weights_version: int
    trained_iterations: int
    buffer_positions: int
    lr: Finite = Field(description="learning rate of the last training iteration")
    actors: int = Field(description="self-play actors")
    timestamp: float = Field(description="Unix time of this answer")
    error: str | None = None
    notice: str | None = Field(
        None, description="why the run paused itself (e.g. low disk); null otherwise"
    )


class RatingView(_Model):
    elo: Finite = Field(description="Elo relative to random (0); null: not connected to it")
    ci95: Finite = Field(None, description="half-width of the 95% interval")


class MetricsResponse(_Model):
    iteration: int = Field(description="last trained iteration")
    policy_loss: Finite = None
    value_loss: Finite = None
    total_loss: Finite = None
    trick_loss: Finite = Field(None, description="cross-entropy of the trick-count head")
    policy_accuracy: Finite = Field(None, description="top-1 agreement with the search policy")
    policy_entropy: Finite = None
    value_calibration_error: Finite = Field(None, description="mean |value - outcome|")
    learning_rate: Finite = None
    elo: Finite = Field(
        None,
        description="rating (Elo, random = 0) of the last evaluated candidate; null until a "
        "gauntlet connects it to random",
    )
    elo_ci95: Finite = Field(None, description="half-width of the 95% interval of elo")
    best_elo: Finite = Field(None, description="rating of the best network so far")
    best_elo_ci95: Finite = None
    baselines: dict[str, RatingView] = Field(
        default_factory=dict,
        description="ratings of the fixed agents: random (0 by definition), heuristic, "
        "ismcts:SIMS (null until a gauntlet places them)",
    )
    best_version: int = 0
    games_played: int = 0
    games_per_min: Finite = None
    buffer_positions: int = 0
    selfplay_evaluations: int | None = None
    selfplay_eval_fraction: Finite = None
    inference_batch_size: Finite = Field(None, description="mean rows per network call")
    inference_evals_per_s: Finite = None
    inference_queue_wait_ms: Finite = None
    gpu_memory_bytes: int | None = None
    learner_steps_per_s: Finite = None
    replay_ratio: Finite = Field(
        None,
        description="configured learner.replay_ratio: samples trained per position generated "
        "(null with a fixed learner.steps_per_iteration)",
    )
    replay_ratio_last: Finite = Field(
        None, description="samples trained / positions generated, last trained iteration"
    )
    replay_ratio_run: Finite = Field(
        None, description="samples trained / positions generated, whole run so far"
    )
    rollout_agreement: Finite = Field(
        None,
        description="search.rollout: learned: share of held-out self-play card decisions where "
        "the network's rollout rule plays the search's most visited card (last fit; null "
        "without a learned rollout)",
    )
    positions_generated: int = Field(0, description="self-play positions of trained iterations")
    samples_trained: int = Field(0, description="positions sampled by the learner")
    actors: int = 0
    timestamp: float


class PhaseView(_Model):
    index: int = Field(description="1-based index of the schedule phase")
    first: int
    last: int
    determinizations: int
    simulations: int
    games_per_iteration: int
    root: str = Field(description="root selection of the search (puct or gumbel)")


class ConfigResponse(_Model):
    config: dict[str, Any] = Field(description="the resolved config (api.token redacted)")
    phase: PhaseView
    iteration: int
    learning_rate: Finite


class EloPoint(_Model):
    iteration: int
    elo: Finite = Field(
        description="the candidate's rating from all matches so far (Elo, random = 0); null "
        "until a gauntlet connects it to random"
    )
    ci95: Finite = Field(None, description="half-width of the 95% interval of elo")
    share: Finite = Field(
        description="candidate's share of the arena deals won (ties half), 0..1; promotes"
    )
    score_share: Finite = Field(
        None, description="candidate's paired score share against the best, 0..1"
    )
    elo_diff: Finite = Field(None, description="Elo over the best implied by this arena alone")
    elo_diff_ci95: Finite = None
    promoted: bool
    candidate_score: Finite = None
    best_score: Finite = None
    best_version: int | None = None
    seconds: Finite = Field(None, description="wall time of the arena, s")


class LossPoint(_Model):
    iteration: int
    steps: int | None = None
    skipped_steps: int | None = None
    policy_loss: Finite = None
    value_loss: Finite = None
    total_loss: Finite = None
    trick_loss: Finite = None
    policy_accuracy: Finite = None
    policy_entropy: Finite = None
    value_error: Finite = None
    grad_norm: Finite = None
    lr: Finite = None
    positions: int | None = Field(None, description="positions the iteration's games generated")
    samples: int | None = Field(None, description="positions sampled to train the iteration")
    positions_total: int | None = None
    samples_total: int | None = None
    train_started: Finite = Field(None, description="Unix time the iteration's training began")
    train_seconds: Finite = Field(None, description="wall time of the iteration's training, s")
    buffer_positions: int | None = Field(None, description="replay buffer size when it trained")


class StepPoint(_Model):
    iteration: int
    step: int = Field(description="optimizer steps of the run at the end of this stretch")
    policy_loss: Finite = None
    value_loss: Finite = None
    total_loss: Finite = None
    trick_loss: Finite = Field(None, description="trick-count head (null without one)")
    lr: Finite = None


class GauntletMatchView(_Model):
    opponent: str = Field(description="random, heuristic or ismcts:SIMS")
    players: int
    cards: int
    deals: int
    score: Finite = Field(description="the network's mean points per hand")
    score_ci95: Finite = None
    opponent_score: Finite = None
    opponent_ci95: Finite = None
    diff: Finite = None
    diff_ci95: Finite = None
    exact_rate: Finite = Field(None, description="share of the network's bids made exactly")
    opponent_exact_rate: Finite = None
    share: Finite = Field(None, description="the network's paired score share, 0..1")
    share_se: Finite = None
    verdict: str | None = None


class GauntletPoint(_Model):
    iteration: int
    seconds: Finite = Field(None, description="wall time of the gauntlet, s")
    matches: list[GauntletMatchView]


class ThroughputPoint(_Model):
    iteration: int
    time: Finite = Field(description="Unix time the iteration's games were all in")
    games: int = Field(description="games of the iteration (the schedule's)")
    selfplay_seconds: Finite = Field(
        description="time since the previous iteration's games were in (null for the first "
        "trained here; across a stop and resume it includes the time stopped)"
    )
    games_per_min: Finite
    train_seconds: Finite
    arena_seconds: Finite = None
    gauntlet_seconds: Finite = None
    buffer_positions: int | None = None
    replay_ratio: Finite = Field(None, description="samples / positions of this iteration")
    replay_ratio_run: Finite = Field(None, description="samples / positions, run so far")


class ControlResponse(_Model):
    success: bool
    message: str = Field(description="what happened, or why the command was refused")
    state: State = Field(description="the run's state after the command")


class ErrorResponse(BaseModel):
    detail: str


class Update(BaseModel):
    """One WebSocket message: ``status`` (the snapshot sent on connect), ``state``, ``phase``,
    ``games``, ``iteration``, ``evaluation`` or ``error``."""

    type: str
    data: dict[str, Any]
    timestamp: float
