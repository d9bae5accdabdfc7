"""The agent protocol and the simplest agent."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from blobrl.game import BlobState


@runtime_checkable
class Agent(Protocol):
    """Chooses the action of the seat to act.

    ``act`` receives the real state but may use only what that seat may know (RULES.md,
    Information): its own hand and the public facts. Agents that gain from batching (search,
    networks) also offer ``act_batch(states) -> list[int]``; :func:`act_many` uses it when present.
    """

    def act(self, state: BlobState) -> int: ...


def act_many(agent: Agent, states: Sequence[BlobState]) -> list[int]:
    """One action per state: the agent's ``act_batch`` when it has one, else ``act`` in turn."""
    batch = getattr(agent, "act_batch", None)
    if batch is not None:
        return [int(a) for a in batch(states)]
    return [int(agent.act(s)) for s in states]


class RandomAgent:
    """Uniform over the legal actions, from its own seeded generator."""

    name = "random"

    def __init__(self, seed: int | None = 0) -> None:
        self.rng = np.random.default_rng(seed)

    def act(self, state: BlobState) -> int:
        legal = state.legal_actions()  # depends on own hand and public facts only
        return int(legal[self.rng.integers(len(legal))])
