"""What a self-play actor reports about itself (its ``status`` answer)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SelfPlayStatus:
    """What a self-play actor reports to the Coordinator."""

    name: str
    games: int
    positions: int
    queued: int
    finished_waiting: int
    paused: bool
    weight_version: int
    eval_fraction: float
    evaluations: int
    alive: bool
    error: str | None
    node_id: str | None  # the Ray node this actor runs on (None outside Ray)
