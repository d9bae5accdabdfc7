"""The run's typed records: what the Coordinator keeps, checkpoints and reports.

Each record has ``to_dict`` / ``from_dict``: the dicts are the formats users and programs rely
on (checkpoint payloads, ``/api/metrics``, ``/api/history``; docs/design.md), so a field named
here is a key there. ``from_dict`` accepts what older checkpoints wrote (missing keys default,
unknown keys are kept and written back).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any


def _known(cls: type, data: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    names = {f.name for f in fields(cls)} - {"extra"}
    return (
        {k: v for k, v in data.items() if k in names},
        {k: v for k, v in data.items() if k not in names},
    )


@dataclass(frozen=True)
class EloEntry:
    """One arena: the candidate of ``iteration`` against the best network of its time."""

    iteration: int
    elo: float | None = None  # the candidate's rating (random = 0), from every match so far
    ci95: float | None = None
    share: float = 0.0  # the arena's promotion statistic
    score_share: float | None = None  # the paired score share against the best
    elo_diff: float | None = None  # the Elo difference this arena alone implies
    elo_diff_ci95: float | None = None
    promoted: bool = False
    candidate_score: float | None = None  # mean points a hand
    best_score: float | None = None
    best_version: int = 0  # the iteration of the best network it played
    seconds: float | None = None  # the arena's wall time
    extra: dict[str, Any] = field(default_factory=dict)  # keys of older formats (elo_k32)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        return {**data.pop("extra"), **data}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EloEntry:
        known, extra = _known(cls, data)
        return cls(**known, extra=extra)

    def rated(self, elo: float | None, ci95: float | None) -> EloEntry:
        """The same entry with the rating now fitted (a new record: what was reported before
        keeps what it said then)."""
        return EloEntry(**{**self.__dict__, "elo": elo, "ci95": ci95})


@dataclass(frozen=True)
class RunCheckpoint:
    """The payload of an iteration checkpoint (blobrl.checkpoint stores it, versioned)."""

    learner_state: dict[str, Any]
    replay_rng: dict[str, Any] | None
    arenas_owed: list[int] | None  # arenas due and not yet played (None: an older checkpoint)
    weights_version: int
    elo_history: list[dict[str, Any]]
    loss_history: list[dict[str, Any]]
    gauntlet_history: list[dict[str, Any]]
    best_version: int
    best_elo: float | None
    rating_edges: list[dict[str, Any]]
    games_played: int
    config: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunCheckpoint:
        """A stored payload; ``arenas_owed`` None when the checkpoint predates the field."""
        return cls(
            learner_state=data["learner_state"],
            replay_rng=data.get("replay_rng"),
            arenas_owed=data.get("arenas_owed"),
            weights_version=int(data.get("weights_version", 0)),
            elo_history=list(data.get("elo_history", [])),
            loss_history=list(data.get("loss_history", [])),
            gauntlet_history=list(data.get("gauntlet_history", [])),
            best_version=int(data.get("best_version", 0)),
            best_elo=data.get("best_elo"),
            rating_edges=list(data.get("rating_edges", [])),
            games_played=int(data.get("games_played", 0)),
            config=dict(data.get("config") or {}),
        )


@dataclass(frozen=True)
class RunMetrics:
    """Training and throughput numbers (``/api/metrics``; NaN-free, JSON-ready)."""

    iteration: int  # last iteration trained
    policy_loss: float | None
    value_loss: float | None
    total_loss: float | None
    trick_loss: float | None
    policy_accuracy: float | None
    policy_entropy: float | None
    value_calibration_error: float | None
    learning_rate: float | None
    elo: float | None  # the last arena's candidate
    elo_ci95: float | None
    best_elo: float | None
    best_elo_ci95: float | None
    baselines: dict[str, dict[str, float | None]]  # fixed agents' ratings (random = 0)
    best_version: int
    games_played: int
    games_per_min: float
    buffer_positions: int
    selfplay_evaluations: int
    selfplay_eval_fraction: float | None
    inference_batch_size: float | None
    inference_evals_per_s: float | None
    inference_queue_wait_ms: float | None
    gpu_memory_bytes: int
    learner_steps_per_s: float | None
    replay_ratio: float | None  # configured: samples trained per position generated
    replay_ratio_last: float | None  # realised, last iteration
    replay_ratio_run: float | None  # realised, the whole run
    rollout_agreement: float | None  # the learned rollout rule's held-out agreement, last fit
    positions_generated: int
    samples_trained: int
    actors: int
    recoveries: dict[str, int]
    timestamp: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
