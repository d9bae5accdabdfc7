"""Duplicate matches between agent specs, played by several processes and combined.

Each process loads both agents from their specs and plays its share of the deals (every
``workers``-th deal); :func:`~blobrl.evaluation.match.combine` makes one result of the shares.
Agents that decide from the situation alone (``ismcts``, information-set model agents, the
heuristic) give exactly the one-process result.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor

from blobrl.evaluation.engine import Deal
from blobrl.evaluation.match import DuplicateResult, combine, play_duplicate


def play_specs(
    agent_spec: str,
    opponents_spec: str,
    deals: Sequence[Deal],
    *,
    seed: int = 0,
    trump_mode: str = "rotation",
    scoring: str = "blob",
    threads: int = 1,
) -> DuplicateResult:
    """Load both agents (seeds ``seed`` and ``seed + 1``) and play ``deals``."""
    import torch

    from blobrl.agents import load

    torch.set_num_threads(threads)
    return play_duplicate(
        load(agent_spec, seed=seed),
        load(opponents_spec, seed=seed + 1),
        deals,
        trump_mode=trump_mode,
        scoring=scoring,
    )


def _share(args: tuple) -> DuplicateResult:
    agent_spec, opponents_spec, deals, kwargs = args
    return play_specs(agent_spec, opponents_spec, deals, **kwargs)


def play_parallel(
    agent_spec: str,
    opponents_spec: str,
    deals: Sequence[Deal],
    *,
    workers: int,
    pool: ProcessPoolExecutor | None = None,
    **kwargs: object,
) -> DuplicateResult:
    """``play_specs`` over ``workers`` processes (``pool``, or a new one of spawned
    processes); one process plays in this one."""
    workers = max(1, min(workers, len(deals)))
    if workers == 1:
        return play_specs(agent_spec, opponents_spec, deals, **kwargs)  # type: ignore[arg-type]
    jobs = [(agent_spec, opponents_spec, list(deals[w::workers]), kwargs) for w in range(workers)]
    if pool is not None:
        return combine(list(pool.map(_share, jobs)))
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context) as own:
        return combine(list(own.map(_share, jobs)))
