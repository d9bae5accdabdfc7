"""``--preview-schedule``: the curriculum of a config as a table."""

from __future__ import annotations

from typing import cast

import torch

from blobrl.config.schema import Config
from blobrl.learner import WarmupCosineScheduler


class _NoOptimizer:
    def __init__(self) -> None:
        self.param_groups: list[dict[str, float]] = []


def lr_schedule(config: Config) -> WarmupCosineScheduler:
    """The learner's schedule for ``config``, to read ``lr_at``.

    It drives an optimizer with no parameter groups: building a real torch optimizer costs
    seconds on first use, and only the curve is wanted here."""
    return WarmupCosineScheduler(
        cast(torch.optim.Optimizer, _NoOptimizer()),
        lr_max=config.learner.lr_max,
        lr_min=config.learner.lr_min,
        warmup=config.learner.warmup_iterations,
        total=config.run.iterations,
    )


def render_schedule(config: Config) -> str:
    """Phases, iterations, determinizations x simulations, games per iteration and the
    learning rate at each phase's first and last iteration, then the totals."""
    lr = lr_schedule(config).lr_at
    header = (
        "phase",
        "iterations",
        "det x sims",
        "sims/decision",
        "games/iter",
        "games",
        "lr first",
        "lr last",
    )
    rows = []
    for i, p in enumerate(config.schedule.phases, start=1):
        extra = ", ".join(f"{k}={v}" for k, v in p.search.items())
        rows.append(
            (
                str(i),
                f"{p.first}-{p.last}",
                f"{p.determinizations} x {p.simulations}" + (f" ({extra})" if extra else ""),
                str(p.simulations_per_decision),
                f"{p.games_per_iteration:,}",
                f"{p.total_games:,}",
                f"{lr(p.first):.3g}",
                f"{lr(p.last):.3g}",
            )
        )
    phases = config.schedule.phases
    total = config.total_games
    # The mean simulations a decision, to one decimal in integers: a config's counts may be
    # larger than a float holds, and the preview still shows them.
    tenths = (20 * sum(p.total_games * p.simulations_per_decision for p in phases) + total) // (
        2 * total
    )
    rows.append(
        (
            "total",
            f"1-{config.run.iterations}",
            "",
            f"{tenths // 10}.{tenths % 10} mean",
            "",
            f"{total:,}",
            "",
            "",
        )
    )
    widths = [max(len(r[c]) for r in [header, *rows]) for c in range(len(header))]

    def line(cells: tuple[str, ...]) -> str:
        return "  ".join(
            cell.ljust(w) if c in (0, 1, 2) else cell.rjust(w)
            for c, (cell, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    learner = config.learner
    title = (
        f"schedule of {config.run.name}: {config.run.iterations} iterations in "
        f"{len(phases)} phases; lr warmup 0 -> {learner.lr_max:g} over "
        f"{learner.warmup_iterations} iterations, cosine to {learner.lr_min:g} at "
        f"iteration {config.run.iterations}"
    )
    rule = "-" * len(line(header))
    mix = ", ".join(f"{e.players}x{e.cards} {e.weight:.1%}" for e in config.game_mix)
    body = [line(r) for r in rows]
    return "\n".join(
        [title, "", line(header), rule, *body[:-1], rule, body[-1], "", f"game mix: {mix}"]
    )
