"""Configs and fakes for the run pieces, which are tested without Ray and without threads."""

from __future__ import annotations

from blobrl.config import config_from_dict


def run_config(iterations: int = 4, *, games: tuple[int, int] = (6, 4), **sections):
    """Two phases: iterations 1-2 with ``games[0]`` games each, the rest with ``games[1]``."""
    phases = [
        {"first": 1, "last": min(2, iterations), "determinizations": 1, "simulations": 3,
         "games_per_iteration": games[0]},
    ]  # fmt: skip
    if iterations >= 3:
        phases.append(
            {"first": 3, "last": iterations, "determinizations": 2, "simulations": 3,
             "games_per_iteration": games[1]}
        )  # fmt: skip
    data = {
        "run": {"iterations": iterations, "seed": 3},
        "schedule": {"phases": phases},
        "game_mix": [{"players": 4, "cards": 3, "weight": 0.5},
                     {"players": 3, "cards": 4, "weight": 0.5}],
        "network": {"hidden": 16, "blocks": 1},
        "learner": {"batch_size": 8, "steps_per_iteration": 1, "warmup_iterations": 1},
        "selfplay": {"actors": 1, "games_in_flight": 2},
        "replay": {"capacity": 1000, "min_positions_to_train": 1},
        "evaluation": {"arena_deals": 2, "gauntlet_every": 0},
    }  # fmt: skip
    data.update(sections)
    return config_from_dict(data)
