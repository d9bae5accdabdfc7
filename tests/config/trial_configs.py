"""Writing small configs for the tests."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

MINIMAL: dict[str, Any] = {
    "run": {"iterations": 500, "seed": 7},
    "schedule": {
        "phases": [
            {
                "first": 1,
                "last": 50,
                "determinizations": 1,
                "simulations": 15,
                "games_per_iteration": 5000,
            },
            {
                "first": 51,
                "last": 150,
                "determinizations": 2,
                "simulations": 25,
                "games_per_iteration": 8000,
            },
            {
                "first": 151,
                "last": 500,
                "determinizations": 3,
                "simulations": 35,
                "games_per_iteration": 10000,
            },
        ]
    },
    "game_mix": [
        {"players": 5, "cards": 7, "weight": 0.5},
        {"players": 4, "cards": 6, "weight": 0.3},
        {"players": 3, "cards": 10, "weight": 0.2},
    ],
}


def minimal() -> dict[str, Any]:
    return copy.deepcopy(MINIMAL)


def write(tmp_path: Path, data: Any, name: str = "trial.yaml") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data), encoding="utf-8")
    return path
